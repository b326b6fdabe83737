/* The audit log: who did what, when, from where (docs/design.md §5 "Audit log").
 * Administrative changes are written in the caller's transaction; token issuance and
 * refused logins go through a batching writer thread so the token path never waits. */
#pragma once
#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>
#include "dockhand/store_err.h"

#define AUDIT_QUEUE_MAX 100000 /* records waiting for the writer; more are counted as dropped */
#define AUDIT_BATCH_MAX 1000   /* records per INSERT */
#define AUDIT_FLUSH_MS 200     /* default: longest a record waits before it is written */

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

/* Writes one record with db (inside the caller's transaction when one is open). */
int audit_write(PGconn *db, const struct audit_entry *e) DH_MUST_CHECK;

struct audit_writer;

/* Starts the writer thread with its own connection to conninfo; a record waits at most
 * flush_ms before it is written. */
struct audit_writer *audit_writer_new(const char *conninfo, int flush_ms);

/* Copies e into the queue; never blocks. Thread-safe. */
void audit_writer_push(struct audit_writer *w, const struct audit_entry *e);

/* A robot got a token that is not recorded (DOCKHAND_AUDIT_TOKENS=0): its last_used still
 * moves, at most once a minute, without an audit row. Never blocks. Thread-safe. */
void audit_writer_used(struct audit_writer *w, int64_t robot_id);

/* Records dropped because the queue was full (also logged). */
uint64_t audit_writer_dropped(struct audit_writer *w);

/* Writes everything queued, stops the thread and frees w. Accepts NULL. */
void audit_writer_free(struct audit_writer *w);

struct audit_filter {
    const char *operation;     /* exact, or NULL */
    const char *resource;      /* substring, or NULL */
    const char *resource_type; /* exact, or NULL */
    const char *username;      /* exact, or NULL */
    int64_t from, to;          /* op_time range in Unix seconds; 0: open */
    int64_t page, page_size;
};

/* Deletes the records older than before (Unix seconds) and records that it did
 * (operation "prune", type "audit"), in one transaction. *deleted gets the count. */
int audit_prune(PGconn *db, int64_t before, int64_t *deleted, struct store_err *err) DH_MUST_CHECK;

/* A page of records, newest first, as Harbor's AuditLog objects (id, username,
 * resource, resource_type, operation, op_time) plus client_ip, request_id, detail. */
int audit_list(PGconn *db, const struct audit_filter *f, json_t **items, int64_t *total,
               struct store_err *err) DH_MUST_CHECK;
