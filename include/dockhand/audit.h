/* The audit log: who did what, when, from where (docs/design.md §5 "Audit log").
 * Administrative changes are written in the caller's transaction (audit_write); token
 * issuance and refused logins go through the batching writer thread (audit_writer.h) so
 * the token path never waits. This module holds the records themselves, reading them and
 * pruning them. */
#pragma once
#include <libpq-fe.h>
#include <stdint.h>
#include "dockhand/common.h"
#include "dockhand/store_err.h"

struct audit_entry {
    const char *username;      /* administrator or robot login name; "" anonymous */
    const char *operation;     /* "create", "update", "delete", "refresh_secret",
                                  "issue_token", "login_failed", … */
    const char *resource_type; /* "robot", "project", "configuration", "token", "admin" */
    const char *resource;      /* e.g. the robot's full name or the project's name */
    const char *client_ip;     /* or NULL */
    const char *request_id;    /* or NULL */
    const char *detail;        /* JSON text (granted access, jti, changed fields) or NULL;
                                  never a secret */
    int64_t robot_id;          /* issue_token: the robot whose last_used to update; else 0 */
};

/* The text columns of a record, in the order of the INSERTs after op_time. */
enum audit_field {
    AUDIT_F_USERNAME,
    AUDIT_F_OPERATION,
    AUDIT_F_RESOURCE_TYPE,
    AUDIT_F_RESOURCE,
    AUDIT_F_CLIENT_IP,
    AUDIT_F_REQUEST_ID,
    AUDIT_F_DETAIL,
    AUDIT_F_COUNT,
};

/* An entry made ready to store: every string cut to its column's limit at a character
 * boundary (a detail too long for its column replaced by {"truncated": true}, since cut
 * JSON is no JSON), invalid UTF-8 bytes made '?', NOT NULL columns "" for NULL; stamped
 * with the time it was made. One allocation: free() it. */
struct audit_rec {
    struct audit_rec *next; /* for the writer's queue */
    int64_t usec;           /* op_time: Unix microseconds */
    int64_t mono_ms;        /* when it was made (clock_mono_ms) */
    int64_t robot_id;
    bool row;                     /* false: only robot_id's last_used to move, no audit row */
    const char *f[AUDIT_F_COUNT]; /* NULL: SQL NULL (client_ip, request_id, detail) */
    char buf[];
};

/* A new record of e (row true); NULL when memory ran out. */
struct audit_rec *audit_rec_new(const struct audit_entry *e);

/* Writes one record with db (inside the caller's transaction when one is open).
 * Returns 0, DH_ERR_NOMEM or DH_ERR_DB. */
int audit_write(PGconn *db, const struct audit_entry *e) DH_MUST_CHECK;

struct audit_filter {
    const char *operation;     /* exact, or NULL */
    const char *resource;      /* substring, or NULL */
    const char *resource_type; /* exact, or NULL */
    const char *username;      /* exact, or NULL */
    int64_t from, to;          /* op_time range in Unix seconds; 0: open */
    int64_t page, page_size;
};

/* One stored record, as audit_list reads it. */
struct audit_record {
    int64_t id;
    char *username;
    char *resource;
    char *resource_type;
    char *operation;
    char *op_time;    /* RFC 3339, UTC, milliseconds */
    char *client_ip;  /* or NULL */
    char *request_id; /* or NULL */
    char *detail;     /* JSON text, or NULL */
};

/* Deletes the records older than before (Unix seconds) and records that it did
 * (operation "prune", type "audit"), in one transaction. *deleted gets the count. The
 * log is partitioned by day (sql/008_audit_partitions.sql): partitions wholly before
 * the time are dropped, the one that straddles it and the DEFAULT partition lose their
 * older rows by DELETE. The drops hold an exclusive lock on audit_log to the commit (a
 * few milliseconds, after the counting and deleting). */
int audit_prune(PGconn *db, int64_t before, int64_t *deleted, struct store_err *err) DH_MUST_CHECK;

/* A page of records matching f, newest first, into *out (*n of them; free with
 * audit_records_free), and the count of all matches in *total. Refuses (invalid) a page
 * or page size out of range, a filter that is not UTF-8 or over its length, times outside
 * 1970-9999. */
int audit_list(PGconn *db, const struct audit_filter *f, struct audit_record **out, size_t *n,
               int64_t *total, struct store_err *err) DH_MUST_CHECK;

/* Frees the n records of list; accepts NULL. */
void audit_records_free(struct audit_record *list, size_t n);
