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

/* ---- opening a connection -------------------------------------------------------------
 * Every connection dockhand opens is made from the database URL plus these defaults, by
 * db_params_init, whether it blocks (db_connect) or not (pgasync's PQconnectStartParams).
 * Keywords given in the URL win over the defaults (libpq expands the URL after them); the
 * URL's server options (or PGOPTIONS) are kept and the role's options appended to them,
 * so where both set the same parameter the role's value is the one that applies. */

/* Seconds libpq waits for a connection to open (libpq's minimum is 2). The pool does not
 * rely on it: its own deadline (DOCKHAND_DB_TIMEOUT_MS) covers connecting too. */
#define DB_CONNECT_TIMEOUT_S 5
/* TCP keepalives and the send timeout: a connection whose peer vanished without a word (a
 * network partition, a host gone) is noticed within about 15 s (5 + 3 * 3 s idle, or 15 s
 * of unacknowledged data) instead of the kernel's two hours. Unix sockets ignore them. */
#define DB_KEEPALIVES_IDLE_S 5
#define DB_KEEPALIVES_INTERVAL_S 3
#define DB_KEEPALIVES_COUNT 3
#define DB_TCP_USER_TIMEOUT_MS 15000
/* The admin API's threads: a statement runs at most this long (a runaway query frees its
 * thread; the API has only a few), and waits for a lock at most the timeout given to
 * db_params_init (DOCKHAND_DB_TIMEOUT_MS), so that a stalled transaction holding a lock
 * costs a request a 503 instead of hanging the thread. */
#define DB_API_STATEMENT_TIMEOUT_MS 30000

/* Who opens the connection: names it in pg_stat_activity (application_name
 * "dockhand-<role>" unless the URL names one) and picks the role's server options. */
enum db_role {
    DB_ROLE_CLI,    /* dockhand-cli: the command line and start-up checks; no timeouts */
    DB_ROLE_WORKER, /* dockhand-worker: the token path's non-blocking pool; generic plans */
    DB_ROLE_API,    /* dockhand-api: admin API threads; statement and lock timeouts */
    DB_ROLE_LISTEN, /* dockhand-listen: the LISTEN connection for cache invalidation */
    DB_ROLE_AUDIT,  /* dockhand-audit: the audit writer thread */
};

#define DB_PARAMS_MAX 12

/* Keywords and values for PQconnectdbParams / PQconnectStartParams (expand_dbname 1).
 * keys/values point into the struct itself: initialise it in place, do not copy it. */
struct db_params {
    const char *keys[DB_PARAMS_MAX + 1];
    const char *values[DB_PARAMS_MAX + 1];
    char *options; /* the server options, malloc'd */
    char num[6][16];
};

/* Fills p for url (a postgresql:// URL, a key=value string or a bare database name) and
 * role. lock_timeout_ms is the API role's lock timeout (0: its statement timeout); other
 * roles ignore it. Returns 0 or DH_ERR_NOMEM. */
int db_params_init(struct db_params *p, const char *url, enum db_role role,
                   int lock_timeout_ms) DH_MUST_CHECK;
void db_params_deinit(struct db_params *p);

/* Connects (blocking) with db_params_init's parameters, and installs db_notice_to_log.
 * On failure returns NULL and, when why is not NULL, libpq's reason (no password) in
 * why[0..why_len) without a trailing newline. */
PGconn *db_open(const char *url, enum db_role role, int lock_timeout_ms, char *why, size_t why_len);

/* Whether a connection kept between uses (an API thread's, the audit writer's) can take
 * the next statement: open, idle, and not closed by the server while it waited. It reads
 * what arrived meanwhile and sends nothing, so a connection found dead here is certain
 * never to have seen the statement: the caller opens a new one and sends it there. A
 * connection that dies after this check fails its statement (never re-sent: it may have
 * run). */
bool db_usable(PGconn *db);

/* db_open for the command line: NULL with a message (no password) on stderr. */
PGconn *db_connect(const char *url, enum db_role role);

/* Whether the last statement that db_exec (or db_begin/db_commit) ran on db failed because
 * the database did not answer in time or at all: a statement or lock timeout, a server
 * shutting down, a lost connection. Such a failure is worth a 503 ("try again"), not a
 * 500. Only for connections made by db_open. */
bool db_unavailable(PGconn *db);

/* Applies every migration newer than the database's, each in its own transaction,
 * serialised with an advisory lock so concurrent migrators are safe. Prints what it
 * applied when verbose. Returns 0 or DH_ERR_DB. */
int db_migrate(PGconn *db, bool verbose) DH_MUST_CHECK;

/* The database's schema version: 0 when never migrated; the number of the last of this
 * binary's migrations up to which every one is applied (so a lower-numbered migration
 * that arrived later keeps it below db_schema_expected() until applied); or the newest
 * applied number when that is above this binary's. DH_ERR_DB on failure. */
int db_schema_version(PGconn *db) DH_MUST_CHECK;

/* The query db_schema_version runs, for a caller that runs it another way (the readiness
 * check, on the event loop's pool), and the version its result means (as above). The
 * second column is each migration's oldest_binary (NULL before it was recorded; to_jsonb
 * reads it from a table that does not have the column yet, too). */
#define DB_SCHEMA_SQL "SELECT version, to_jsonb(m)->>'oldest_binary' FROM schema_migrations m"
int db_schema_version_of(const PGresult *rows);

/* Whether this binary may serve a database whose schema is `version` (from rows, as
 * above): its own version, or a newer one each of whose newer migrations declares that
 * binaries of this binary's schema keep working (a line "-- oldest-binary-schema: N" in
 * the migration, N at most this binary's: README "Upgrades"). An older schema never. */
bool db_schema_usable_of(const PGresult *rows, int version);

/* db_schema_version and db_schema_usable_of in one query: the version (DH_ERR_DB on
 * failure) and *usable. */
int db_schema_check(PGconn *db, bool *usable) DH_MUST_CHECK;

/* The oldest binary schema a migration's text declares ("-- oldest-binary-schema: N" at
 * the start of a line), or its own version when it declares none. */
int db_migration_oldest_binary(const char *sql, int version);

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
