#include "dockhand/db.h"

#include <inttypes.h>
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

PGconn *db_connect(const char *url)
{
    PGconn *db = PQconnectdb(url);
    if (db)
        PQsetNoticeProcessor(db, db_notice_to_log, NULL);
    if (!db || PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "dockhand: cannot connect to the database: %s",
                db ? PQerrorMessage(db) : "out of memory\n");
        PQfinish(db);
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

int db_schema_version(PGconn *db)
{
    PGresult *r = PQexec(db, "SELECT version FROM schema_migrations");
    int v = 0, newest = 0, rows;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        /* 42P01: the table does not exist yet, so nothing was ever applied. */
        v = strcmp(db_sqlstate(r), "42P01") == 0 ? 0 : DH_ERR_DB;
        PQclear(r);
        return v;
    }
    rows = PQntuples(r);
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
    PQclear(r);
    return v;
}

int db_migrate(PGconn *db, bool verbose)
{
    if (db_simple(db, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                      " version integer PRIMARY KEY,"
                      " name text NOT NULL,"
                      " applied_at timestamptz NOT NULL DEFAULT now())") < 0)
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
        const char *p2[] = {vbuf, migrations[i].name};
        r = db_exec(db, PGRES_COMMAND_OK,
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2, p2);
        if (!r)
            goto fail;
        PQclear(r);
        if (db_commit(db) < 0)
            return DH_ERR_DB;
        if (verbose)
            printf("applied %s\n", migrations[i].name);
    }
    return 0;
fail:
    db_rollback(db);
    return DH_ERR_DB;
}
