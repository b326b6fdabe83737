/* Importing robots exported from a Harbor database (the README gives the psql query
 * that produces the JSON this reads). */
#pragma once
#include <jansson.h>
#include <libpq-fe.h>
#include "dockhand/store_err.h"

#define HARBOR_IMPORT_MAX_BYTES (64 * 1024 * 1024) /* largest export file */
#define HARBOR_IMPORT_MAX_ROBOTS 100000

struct harbor_import_report {
    size_t robots_created;   /* new robots */
    size_t robots_unchanged; /* already imported with the same content */
    size_t projects_created; /* projects that did not exist yet */
    size_t robots_skipped;   /* legacy robots with no credential dockhand can verify */
    /* (resource, action) pairs of the created robots that were not stored: dockhand
     * does not grant them, or their project no longer exists in Harbor */
    size_t permissions_skipped;
    /* {"robots": [{"row", "harbor_id", "harbor_name", "name" (login name), "status"
     * ("created" | "unchanged" | "skipped"), "legacy", "permissions_skipped",
     * "reason" (skipped only)}], "skipped_permissions": {"resource:action": count},
     * "permissions_on_missing_projects": count}; NULL after a failure (or when memory
     * ran out for it after the import). Owned by the report (harbor_import_report_deinit).
     * Never holds a secret, salt or hash. */
    json_t *details;
};

/* Imports every robot of the export in one transaction: all or nothing. A bad row
 * fails the whole file with 400 and a message naming the row; a robot whose stored
 * name dockhand already holds with another secret fails it with 409. Re-importing the
 * same file changes nothing. Hashes are kept as Harbor stored them (PBKDF2-SHA256,
 * 4,096 iterations, 16 bytes, ASCII salt) so old secrets keep working; robots created
 * by Harbor 2.1 or older (stored name "robot$<name>") are marked legacy (they keep the
 * "robot$" prefix); those without a usable secret are skipped and reported. Fills
 * *report (also on failure: zero counts, details NULL). */
int harbor_import(PGconn *db, const char *json_text, size_t len,
                  struct harbor_import_report *report, struct store_err *err) DH_MUST_CHECK;

/* What the first pass of an import found (harbor_import_check). */
struct harbor_import_check {
    size_t rows;         /* robots in the export */
    size_t to_store;     /* rows the second pass would create or find unchanged */
    size_t skipped;      /* rows skipped (no credential dockhand can verify) */
    size_t legacy;       /* of to_store: robot$ names kept as legacy */
    size_t inconsistent; /* of to_store: rows the first pass left incomplete (a bug if not 0) */
};

/* harbor_import's first pass alone, with no database: parses the export and checks every
 * row and the duplicates, with the same errors. Fills *out (zeroed on failure). */
int harbor_import_check(const char *json_text, size_t len, struct harbor_import_check *out,
                        struct store_err *err) DH_MUST_CHECK;

/* Frees report->details; accepts NULL. */
void harbor_import_report_deinit(struct harbor_import_report *report);
