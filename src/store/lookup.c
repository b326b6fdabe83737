#include "dockhand/lookup.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dockhand/access.h"
#include "dockhand/cidr.h"
#include "dockhand/db.h"
#include "dockhand/store_util.h"

static const char lookup_sql[] =
    "SELECT robot_id, full_name, secret_hash, cred_version, disabled, expires_at, catalog,"
    " token_minutes, projects, networks, federation"
    " FROM dockhand_token_lookup($1, $2::bigint, $3::text[])";

enum {
    COL_ID,
    COL_NAME,
    COL_HASH,
    COL_VERSION,
    COL_DISABLED,
    COL_EXPIRES,
    COL_CATALOG,
    COL_MINUTES,
    COL_PROJECTS,
    COL_NETWORKS,
    COL_FEDERATION,
    NCOLS
};

int lookup_start(struct pgpool *pool, const char *login, int64_t robot_id,
                 const char *const *projects, size_t n, pgpool_cb cb, void *arg)
{
    /* A text[] literal: {a,b}. Project names in scopes are [a-z0-9._-]: nothing to quote. */
    size_t cap = 3;
    for (size_t i = 0; i < n; i++)
        cap += strlen(projects[i]) + 1;
    char *list = malloc(cap), idbuf[STORE_ID_TEXT];
    if (!list)
        return DH_ERR_NOMEM;
    size_t len = 0;
    list[len++] = '{';
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(projects[i]);
        if (i)
            list[len++] = ',';
        memcpy(list + len, projects[i], l);
        len += l;
    }
    list[len++] = '}';
    list[len] = '\0';

    const char *params[3] = {login, NULL, list};
    if (robot_id > 0) {
        params[1] = store_id_text(idbuf, robot_id);
    }
    int rc = pgpool_query(pool, lookup_sql, 3, params, cb, arg); /* params are copied */
    free(list);
    return rc;
}

/* The caller's access to one project row of the lookup: [name, public, ["res:act", …]]. */
static unsigned row_access(json_t *row)
{
    json_t *list = json_array_get(row, 2);
    struct perm perms[64];
    char buf[64][80];
    size_t n = 0, i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        const char *s = json_string_value(v);
        const char *colon = s ? strchr(s, ':') : NULL;
        if (!colon || n == DH_ARRAY_SIZE(perms) || strlen(s) >= sizeof(buf[0]))
            continue;
        memcpy(buf[n], s, strlen(s) + 1);
        buf[n][colon - s] = '\0';
        perms[n].resource = buf[n];
        perms[n].action = buf[n] + (colon - s) + 1;
        n++;
    }
    return access_effective(perms, n) | access_public(json_is_true(json_array_get(row, 1)));
}

/* bits[k] from the lookup's rows; a project without a row does not exist. */
static int project_access(const char *text, const char *const *projects, size_t n, unsigned *bits)
{
    json_t *rows = json_loads(text, 0, NULL);
    if (!json_is_array(rows)) {
        json_decref(rows);
        return DH_ERR_DB;
    }
    for (size_t k = 0; k < n; k++) {
        size_t i;
        json_t *row;
        bits[k] = 0;
        json_array_foreach(rows, i, row)
        {
            const char *name = json_string_value(json_array_get(row, 0));
            if (name && strcmp(name, projects[k]) == 0) {
                bits[k] = row_access(row);
                break;
            }
        }
    }
    json_decref(rows);
    return 0;
}

int lookup_read(const PGresult *res, const char *const *projects, size_t n, bool *found,
                struct rc_robot *r, unsigned *bits)
{
    memset(r, 0, sizeof(*r));
    *found = false;
    if (!res || PQntuples(res) != 1 || PQnfields(res) != NCOLS)
        return DH_ERR_DB;
    r->token_minutes = atoi(PQgetvalue(res, 0, COL_MINUTES));
    r->expires_at = -1;
    if (n && project_access(PQgetvalue(res, 0, COL_PROJECTS), projects, n, bits) < 0)
        return DH_ERR_DB;
    if (PQgetisnull(res, 0, COL_ID))
        return 0;
    r->id = strtoll(PQgetvalue(res, 0, COL_ID), NULL, 10);
    r->full_name = strdup(PQgetvalue(res, 0, COL_NAME));
    r->secret_hash = strdup(PQgetvalue(res, 0, COL_HASH));
    r->cred_version = atoi(PQgetvalue(res, 0, COL_VERSION));
    r->disabled = PQgetvalue(res, 0, COL_DISABLED)[0] == 't';
    r->expires_at = strtoll(PQgetvalue(res, 0, COL_EXPIRES), NULL, 10);
    r->catalog = PQgetvalue(res, 0, COL_CATALOG)[0] == 't';
    /* "[]" (no rules) is kept as NULL: most robots have none */
    const char *fed = PQgetvalue(res, 0, COL_FEDERATION);
    if (!PQgetisnull(res, 0, COL_FEDERATION) && strcmp(fed, "[]") != 0 &&
        !(r->federation = strdup(fed))) {
        rc_robot_deinit(r);
        return DH_ERR_NOMEM;
    }
    if (!r->full_name || !r->secret_hash) {
        rc_robot_deinit(r);
        return DH_ERR_NOMEM;
    }
    /* networks is a text[] of PostgreSQL's cidr output, "{10.0.0.0/8,::1/128}": no item
     * needs quoting, so the braces and commas are the whole syntax. */
    const char *nets = PQgetvalue(res, 0, COL_NETWORKS);
    size_t nlen = strlen(nets);
    if (nlen > 2) {
        char *list = strndup(nets + 1, nlen - 2);
        int rc = list ? cidr_list_parse(list, &r->networks, &r->nnetworks, NULL) : DH_ERR_NOMEM;
        free(list);
        if (rc < 0) {
            rc_robot_deinit(r);
            return rc == DH_ERR_NOMEM ? rc : DH_ERR_DB;
        }
    }
    *found = true;
    return 0;
}

int lookup_login(PGconn *db, const char *login, struct rc_robot *r)
{
    const char *params[3] = {login, NULL, "{}"};
    PGresult *res = db_exec(db, PGRES_TUPLES_OK, lookup_sql, 3, params);
    bool found = false;
    int rc = lookup_read(res, NULL, 0, &found, r, NULL);
    PQclear(res);
    return rc < 0 ? rc : found;
}
