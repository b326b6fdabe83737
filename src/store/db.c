#include "dockhand/db.h"

#include <inttypes.h>
#include <libpq-events.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/embed.h"
#include "dockhand/log.h"

/* Arbitrary constant for pg_advisory_xact_lock: "dockhand" in ASCII. */
#define MIGRATE_LOCK_KEY "7234316232706246756"

/* A migration's version is the number its file name starts with ("003_sessions.sql" is
 * 3), not its place in the list: a number may be reserved for a change that lands later,
 * and a database keeps its numbering when it does. -1 for a name without one. */
static int migration_version(const char *name)
{
    int v = 0, digits = 0;
    for (; name[digits] >= '0' && name[digits] <= '9' && digits < 6; digits++)
        v = v * 10 + (name[digits] - '0');
    return digits && name[digits] == '_' && v > 0 ? v : -1;
}

int db_schema_expected(void)
{
    int v = 0;
    for (int i = 0; migrations[i].name; i++)
        if (migration_version(migrations[i].name) > v)
            v = migration_version(migrations[i].name);
    return v;
}

void db_notice_to_log(void *arg, const char *message)
{
    size_t len = strlen(message);
    while (len && (message[len - 1] == '\n' || message[len - 1] == ' '))
        len--;
    log_warn("database: %.*s", (int)len, message);
}

/* ---- opening a connection ------------------------------------------------------------- */

static const struct {
    const char *app;     /* fallback_application_name */
    const char *options; /* server options appended to the URL's */
} roles[] = {
    [DB_ROLE_CLI] = {"dockhand-cli", NULL},
    /* Statements are prepared once per connection, and PostgreSQL's default (a custom plan
     * for each of the first executions, and whenever it judges one cheaper) planned the
     * token lookup at every call, three times the cost of running it. */
    [DB_ROLE_WORKER] = {"dockhand-worker", "-c plan_cache_mode=force_generic_plan"},
    [DB_ROLE_API] = {"dockhand-api", NULL}, /* timeouts: built in db_params_init */
    [DB_ROLE_LISTEN] = {"dockhand-listen", NULL},
    [DB_ROLE_AUDIT] = {"dockhand-audit", NULL},
};

/* The server options the URL gives (or PGOPTIONS when it gives none, as libpq would use
 * it): our explicit "options" keyword would otherwise hide them. NULL for none. */
static char *given_options(const char *url)
{
    char *out = NULL;
    /* Only a connection string parses; a bare database name has no options. */
    PQconninfoOption *opts = PQconninfoParse(url, NULL);
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, "options") == 0 && o->val && *o->val)
            out = strdup(o->val);
    PQconninfoFree(opts);
    if (!out && getenv("PGOPTIONS") && *getenv("PGOPTIONS"))
        out = strdup(getenv("PGOPTIONS"));
    return out;
}

int db_params_init(struct db_params *p, const char *url, enum db_role role, int lock_timeout_ms)
{
    char own[160] = "";
    int n = 0;

    memset(p, 0, sizeof(*p));
    if (roles[role].options)
        snprintf(own, sizeof(own), "%s", roles[role].options);
    if (role == DB_ROLE_API) {
        int lock = lock_timeout_ms > 0 ? lock_timeout_ms : DB_API_STATEMENT_TIMEOUT_MS;
        /* A lock wait is part of a statement: never let it outlast the statement. */
        int stmt = lock > DB_API_STATEMENT_TIMEOUT_MS ? lock : DB_API_STATEMENT_TIMEOUT_MS;
        snprintf(own, sizeof(own), "-c statement_timeout=%d -c lock_timeout=%d", stmt, lock);
    }
    char *given = given_options(url);
    size_t len = (given ? strlen(given) + 1 : 0) + strlen(own) + 1;
    p->options = malloc(len);
    if (!p->options) {
        free(given);
        return DH_ERR_NOMEM;
    }
    snprintf(p->options, len, "%s%s%s", given ? given : "", given && *own ? " " : "", own);
    free(given);

    snprintf(p->num[0], sizeof(p->num[0]), "%d", DB_CONNECT_TIMEOUT_S);
    snprintf(p->num[1], sizeof(p->num[1]), "%d", DB_KEEPALIVES_IDLE_S);
    snprintf(p->num[2], sizeof(p->num[2]), "%d", DB_KEEPALIVES_INTERVAL_S);
    snprintf(p->num[3], sizeof(p->num[3]), "%d", DB_KEEPALIVES_COUNT);
    snprintf(p->num[4], sizeof(p->num[4]), "%d", DB_TCP_USER_TIMEOUT_MS);
#define PARAM(k, v) (p->keys[n] = (k), p->values[n] = (v), n++)
    /* Our defaults first: libpq processes the keywords in order and the URL, expanded
     * where "dbname" stands, overrides what precedes it. */
    PARAM("connect_timeout", p->num[0]);
    PARAM("keepalives", "1");
    PARAM("keepalives_idle", p->num[1]);
    PARAM("keepalives_interval", p->num[2]);
    PARAM("keepalives_count", p->num[3]);
    PARAM("tcp_user_timeout", p->num[4]);
    PARAM("fallback_application_name", roles[role].app);
    PARAM("dbname", url);
    /* After the URL: the URL's own options are already part of this value. An empty
     * value counts as unset, so PGOPTIONS still applies when nobody gives any. */
    PARAM("options", p->options);
#undef PARAM
    p->keys[n] = p->values[n] = NULL;
    return 0;
}

void db_params_deinit(struct db_params *p)
{
    if (!p)
        return;
    free(p->options);
    p->options = NULL;
}

/* What db_exec remembers of a connection's last statement, kept with the connection
 * (libpq instance data) so that a caller far from the failed statement can tell "the
 * database did not answer in time" from a fault. */
struct db_note {
    char sqlstate[6];
};

static int db_event(PGEventId id, void *info, void *arg)
{
    (void)arg;
    if (id == PGEVT_CONNDESTROY) {
        PGEventConnDestroy *e = info;
        free(PQinstanceData(e->conn, db_event));
    }
    return 1;
}

static void note_result(PGconn *db, const PGresult *res, bool ok)
{
    struct db_note *note = db ? PQinstanceData(db, db_event) : NULL;
    if (!note)
        return;
    const char *st = ok ? "" : db_sqlstate(res);
    /* No SQLSTATE and the connection gone: libpq lost it (08006, connection failure). */
    if (!ok && !*st && PQstatus(db) != CONNECTION_OK)
        st = "08006";
    snprintf(note->sqlstate, sizeof(note->sqlstate), "%s", st);
}

bool db_unavailable(PGconn *db)
{
    const struct db_note *note = db ? PQinstanceData(db, db_event) : NULL;
    if (!note)
        return db && PQstatus(db) != CONNECTION_OK;
    const char *s = note->sqlstate;
    /* 57014 query_canceled (statement_timeout), 55P03 lock_not_available (lock_timeout),
     * 57P01-57P03 the server shutting down or starting, class 08 the connection. */
    return strcmp(s, "57014") == 0 || strcmp(s, "55P03") == 0 || strncmp(s, "57P0", 4) == 0 ||
           strncmp(s, "08", 2) == 0;
}

PGconn *db_open(const char *url, enum db_role role, int lock_timeout_ms, char *why, size_t why_len)
{
    struct db_params p;
    PGconn *db = NULL;
    struct db_note *note = NULL;

    if (why && why_len)
        snprintf(why, why_len, "out of memory");
    if (db_params_init(&p, url, role, lock_timeout_ms) < 0)
        return NULL;
    db = PQconnectdbParams(p.keys, p.values, 1);
    db_params_deinit(&p);
    if (!db)
        return NULL;
    if (PQstatus(db) != CONNECTION_OK) {
        if (why && why_len) {
            snprintf(why, why_len, "%s", PQerrorMessage(db));
            why[strcspn(why, "\n")] = '\0';
        }
        PQfinish(db);
        return NULL;
    }
    PQsetNoticeProcessor(db, db_notice_to_log, NULL);
    note = calloc(1, sizeof(*note));
    if (!note || !PQregisterEventProc(db, db_event, "dockhand", NULL) ||
        !PQsetInstanceData(db, db_event, note)) {
        free(note);
        PQfinish(db);
        return NULL;
    }
    return db;
}

bool db_usable(PGconn *db)
{
    if (!db || PQstatus(db) != CONNECTION_OK || PQsocket(db) < 0)
        return false;
    /* An idle connection has nothing to read unless the server spoke first: a server that
     * shut down (a restart, a failover) sent its termination notice and closed the socket.
     * Read and parse what has arrived (PQnotifies parses; the notice goes to the notice
     * processor) until the socket is quiet: the end of the stream, read after the notice,
     * makes the connection CONNECTION_BAD. libpq's socket is non-blocking, so this waits
     * for nothing and sends nothing. A few rounds: a live server has no more to say. */
    for (int round = 0; round < 4; round++) {
        struct pollfd pfd = {PQsocket(db), POLLIN, 0};
        if (poll(&pfd, 1, 0) <= 0)
            break;
        if (!PQconsumeInput(db) || PQstatus(db) != CONNECTION_OK)
            return false;
        PGnotify *n; /* none LISTENs on these connections: nothing to keep */
        while ((n = PQnotifies(db)))
            PQfreemem(n);
    }
    return PQstatus(db) == CONNECTION_OK && PQtransactionStatus(db) == PQTRANS_IDLE;
}

PGconn *db_connect(const char *url, enum db_role role)
{
    char why[512];
    PGconn *db = db_open(url, role, 0, why, sizeof(why));
    if (!db) {
        fprintf(stderr, "dockhand: cannot connect to the database: %s\n", why);
        return NULL;
    }
    PGresult *r = PQexec(db, "SET client_min_messages = warning");
    PQclear(r);
    return db;
}

char *db_bigint_array(const int64_t *ids, size_t n)
{
    char *lit = malloc(n * 21 + 3); /* a sign, 19 digits and a comma each, braces, NUL */
    if (!lit)
        return NULL;
    size_t len = 0;
    lit[len++] = '{';
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(lit + len, "%s%" PRId64, i ? "," : "", ids[i]);
    lit[len++] = '}';
    lit[len] = '\0';
    return lit;
}

PGresult *db_exec(PGconn *db, ExecStatusType ok, const char *sql, int n, const char *const *params)
{
    PGresult *res = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
    note_result(db, res, PQresultStatus(res) == ok);
    if (PQresultStatus(res) != ok) {
        const char *state = db_sqlstate(res);
        /* Constraint violations are expected answers for callers; others are faults. */
        if (strncmp(state, "23", 2) != 0)
            log_error("database: %s", PQresultErrorMessage(res));
        PQclear(res);
        return NULL;
    }
    return res;
}

const char *db_sqlstate(const PGresult *res)
{
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

int db_set_actor(PGconn *db, const char *actor, const char *client_ip, const char *request_id)
{
    const char *p[] = {actor ? actor : "", client_ip ? client_ip : "",
                       request_id ? request_id : ""};
    PGresult *r = db_exec(db, PGRES_TUPLES_OK,
                          "SELECT set_config('dockhand.actor', $1, false),"
                          " set_config('dockhand.client_ip', $2, false),"
                          " set_config('dockhand.request_id', $3, false)",
                          3, p);
    if (!r)
        return DH_ERR_DB;
    PQclear(r);
    return 0;
}

static int db_simple(PGconn *db, const char *sql)
{
    PGresult *r = PQexec(db, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : DH_ERR_DB;
    note_result(db, r, rc == 0);
    if (rc)
        log_error("database: %s: %s", sql, PQerrorMessage(db));
    PQclear(r);
    return rc;
}

int db_begin(PGconn *db)
{
    return db_simple(db, "BEGIN");
}

int db_commit(PGconn *db)
{
    return db_simple(db, "COMMIT");
}

void db_rollback(PGconn *db)
{
    PGresult *r = PQexec(db, "ROLLBACK");
    PQclear(r);
}

int db_schema_check(PGconn *db, bool *usable)
{
    PGresult *r = PQexec(db, DB_SCHEMA_SQL);
    int v;
    *usable = false;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        /* 42P01: the table does not exist yet, so nothing was ever applied. */
        v = strcmp(db_sqlstate(r), "42P01") == 0 ? 0 : DH_ERR_DB;
    } else {
        v = db_schema_version_of(r);
        *usable = db_schema_usable_of(r, v);
    }
    PQclear(r);
    return v;
}

int db_schema_version(PGconn *db)
{
    bool usable;
    return db_schema_check(db, &usable);
}

bool db_schema_usable_of(const PGresult *r, int version)
{
    int want = db_schema_expected();
    if (version < want)
        return false;
    for (int j = 0; j < PQntuples(r); j++) {
        int v = atoi(PQgetvalue(r, j, 0));
        int oldest = PQnfields(r) > 1 && !PQgetisnull(r, j, 1) ? atoi(PQgetvalue(r, j, 1)) : v;
        if (v > want && oldest > want)
            return false;
    }
    return true;
}

int db_migration_oldest_binary(const char *sql, int version)
{
    static const char tag[] = "-- oldest-binary-schema:";
    for (const char *p = sql; (p = strstr(p, tag)); p += sizeof(tag) - 1) {
        if (p != sql && p[-1] != '\n')
            continue;
        const char *q = p + sizeof(tag) - 1;
        q += strspn(q, " \t");
        if (*q < '0' || *q > '9')
            continue;
        char *end;
        long n = strtol(q, &end, 10);
        if (n > 0 && n <= version && (*end == '\n' || *end == '\0' || *end == ' '))
            return (int)n;
    }
    return version;
}

int db_schema_version_of(const PGresult *r)
{
    int v = 0, newest = 0, rows = PQntuples(r);
    for (int j = 0; j < rows; j++)
        if (atoi(PQgetvalue(r, j, 0)) > newest)
            newest = atoi(PQgetvalue(r, j, 0));
    if (newest > db_schema_expected()) {
        v = newest; /* a newer binary migrated it */
    } else {
        /* The last of our migrations up to which every one is applied: a migration
         * numbered below one already applied (a reserved number that landed later)
         * keeps the schema "old" until it is applied too. */
        for (int i = 0; migrations[i].name; i++) {
            int want = migration_version(migrations[i].name);
            bool applied = false;
            for (int j = 0; j < rows && !applied; j++)
                applied = atoi(PQgetvalue(r, j, 0)) == want;
            if (!applied)
                break;
            v = want;
        }
    }
    return v;
}

int db_migrate(PGconn *db, bool verbose)
{
    /* Under the lock too: two migrates of a fresh database would both try to create
     * the table, and one would fail (a duplicate in pg_type). */
    if (db_begin(db) < 0)
        return DH_ERR_DB;
    if (db_simple(db, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")") < 0 ||
        db_simple(db, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                      " version integer PRIMARY KEY,"
                      " name text NOT NULL,"
                      " applied_at timestamptz NOT NULL DEFAULT now())") < 0 ||
        db_simple(db, "ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS oldest_binary"
                      " integer") < 0)
        goto fail;
    if (db_commit(db) < 0)
        return DH_ERR_DB;

    for (int i = 0; migrations[i].name; i++) {
        int version = migration_version(migrations[i].name);
        char vbuf[16];
        if (version < 1 || (i > 0 && version <= migration_version(migrations[i - 1].name))) {
            fprintf(stderr, "dockhand: migration %s: names must start with increasing numbers\n",
                    migrations[i].name);
            return DH_ERR_INVALID;
        }
        snprintf(vbuf, sizeof(vbuf), "%d", version);

        if (db_begin(db) < 0)
            return DH_ERR_DB;
        if (db_simple(db, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")") < 0)
            goto fail;
        const char *p1[] = {vbuf};
        PGresult *r = db_exec(db, PGRES_TUPLES_OK,
                              "SELECT 1 FROM schema_migrations WHERE version = $1", 1, p1);
        if (!r)
            goto fail;
        bool applied = PQntuples(r) > 0;
        PQclear(r);
        if (applied) {
            db_rollback(db);
            continue;
        }
        r = PQexec(db, (const char *)migrations[i].data);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stderr, "dockhand: migration %s failed: %s", migrations[i].name,
                    PQerrorMessage(db));
            PQclear(r);
            goto fail;
        }
        PQclear(r);
        char obuf[16];
        snprintf(obuf, sizeof(obuf), "%d",
                 db_migration_oldest_binary((const char *)migrations[i].data, version));
        const char *p2[] = {vbuf, migrations[i].name, obuf};
        r = db_exec(db, PGRES_COMMAND_OK,
                    "INSERT INTO schema_migrations (version, name, oldest_binary)"
                    " VALUES ($1, $2, $3)",
                    3, p2);
        if (!r)
            goto fail;
        PQclear(r);
        if (db_commit(db) < 0)
            return DH_ERR_DB;
        if (verbose)
            printf("applied %s\n", migrations[i].name);
    }
    /* The audit log's daily partitions, made ahead (the audit writers make them too). */
    if (db_simple(db, "SELECT dockhand_audit_partitions_ahead()") < 0)
        return DH_ERR_DB;
    return 0;
fail:
    db_rollback(db);
    return DH_ERR_DB;
}
