/* Administrator accounts: the only ones allowed on the admin API and the web page.
 * No default account or password exists; `dockhand admin create` makes the first. */
#pragma once
#include <libpq-fe.h>
#include <stdint.h>
#include "dockhand/secret.h"
#include "dockhand/store_err.h"

struct admin {
    int64_t id;
    char *name;
    char *creation_time; /* RFC 3339 */
    char *update_time;
};

/* Creates an administrator. name follows name_valid(); password is checked with
 * secret_policy_check(), or when NULL a random one is generated into generated (shown
 * once by the caller). 409 for a duplicate name. */
int admin_create(PGconn *db, const char *name, const char *password, size_t password_len,
                 char generated[SECRET_GEN_LEN + 1], struct store_err *err) DH_MUST_CHECK;

/* Sets a new password (or a generated one when password is NULL); bumps the
 * credential version so cached logins of the old password die at once. 404 unknown. */
int admin_passwd(PGconn *db, const char *name, const char *password, size_t password_len,
                 char generated[SECRET_GEN_LEN + 1], struct store_err *err) DH_MUST_CHECK;

/* Deletes an administrator; 404 unknown. */
int admin_delete(PGconn *db, const char *name, struct store_err *err) DH_MUST_CHECK;

/* All administrators by name. */
int admin_list(PGconn *db, struct admin **out, size_t *n, struct store_err *err) DH_MUST_CHECK;
void admin_list_free(struct admin *list, size_t n);

/* The stored hash and credential version of name, for verification by the caller
 * (which caches verified logins). Returns 1 found (*hash heap-allocated), 0 unknown,
 * DH_ERR_DB. */
int admin_lookup(PGconn *db, const char *name, int64_t *id, char **hash,
                 int *version) DH_MUST_CHECK;
