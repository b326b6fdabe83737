/* Projects: validation plus SQL, on a blocking connection. Every function that can be
 * refused says why in a struct store_err. */
#pragma once
#include <libpq-fe.h>
#include <stdint.h>
#include "dockhand/common.h"
#include "dockhand/store_err.h"

struct project {
    int64_t id;
    char *name;
    bool public_;
    char *creation_time;
    char *update_time;
    int64_t robot_count;
};

int project_create(PGconn *db, const char *name, bool public_, struct project *out,
                   struct store_err *err) DH_MUST_CHECK;
/* ref: id (digits) or name. */
int project_get(PGconn *db, const char *ref, struct project *out,
                struct store_err *err) DH_MUST_CHECK;
int project_list(PGconn *db, const char *name_part, int64_t page, int64_t page_size,
                 struct project **out, size_t *n, int64_t *total,
                 struct store_err *err) DH_MUST_CHECK;
/* Deletes the project, its project robots and every permission on it. */
int project_delete(PGconn *db, const char *ref, struct store_err *err) DH_MUST_CHECK;
void project_deinit(struct project *p);
void project_list_free(struct project *list, size_t n);

/* The id of project name in *id, the project created (public or private as public_) when
 * there is none, *created telling which; in the caller's transaction, for the Harbor
 * import. name is not checked (the caller has). Returns 0 or DH_ERR_DB. */
int project_ensure(PGconn *db, const char *name, bool public_, int64_t *id,
                   bool *created) DH_MUST_CHECK;
