/* Blocking database access for the CLI and for administration work that runs off the
 * event loops: connecting, migrations, and small helpers around PQexecParams. */
#pragma once
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>
#include "dockhand/common.h"

/* The schema version this binary expects: the number of its last migration (the number
 * a migration's file name starts with, e.g. 3 for "003_sessions.sql"). */
int db_schema_expected(void);

/* A libpq notice processor that writes notices (and the server's messages about a
 * closing connection) through the log instead of raw to stderr. Install it with
 * PQsetNoticeProcessor(conn, db_notice_to_log, NULL). */
void db_notice_to_log(void *arg, const char *message);

/* Connects (blocking). Returns NULL with a message (no password) on stderr. */
PGconn *db_connect(const char *url);

/* Applies every migration newer than the database's, each in its own transaction,
 * serialised with an advisory lock so concurrent migrators are safe. Prints what it
 * applied when verbose. Returns 0 or DH_ERR_DB. */
int db_migrate(PGconn *db, bool verbose) DH_MUST_CHECK;

/* The database's schema version: 0 when never migrated; the number of the last of this
 * binary's migrations up to which every one is applied (so a lower-numbered migration
 * that arrived later keeps it below db_schema_expected() until applied); or the newest
 * applied number when that is above this binary's. DH_ERR_DB on failure. */
int db_schema_version(PGconn *db) DH_MUST_CHECK;

/* PQexecParams with text parameters; returns the result or NULL on failure (logged).
 * ok is the expected status (PGRES_COMMAND_OK or PGRES_TUPLES_OK). */
PGresult *db_exec(PGconn *db, ExecStatusType ok, const char *sql, int n, const char *const *params);

/* ids as a PostgreSQL array literal "{1,2,3}" for a bigint[] parameter (malloc'd; NULL
 * when out of memory). */
char *db_bigint_array(const int64_t *ids, size_t n);

/* Names who acts on this connection, for the audit triggers (session settings
 * dockhand.actor, dockhand.client_ip, dockhand.request_id; NULL clears one).
 * Returns 0 or DH_ERR_DB. */
int db_set_actor(PGconn *db, const char *actor, const char *client_ip,
                 const char *request_id) DH_MUST_CHECK;

/* BEGIN / COMMIT / ROLLBACK; return 0 or DH_ERR_DB. */
int db_begin(PGconn *db) DH_MUST_CHECK;
int db_commit(PGconn *db) DH_MUST_CHECK;
void db_rollback(PGconn *db);

/* The SQLSTATE of a failed result ("23505" unique violation …) or "". */
const char *db_sqlstate(const PGresult *res);
