/* Robots: validation and every statement that writes the robots and robot_permissions
 * tables (robots.h). */
#include "dockhand/robots.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dockhand/access.h"
#include "dockhand/cidr.h"
#include "dockhand/db.h"
#include "dockhand/names.h"
#include "dockhand/robotdir.h"
#include "dockhand/settings.h"
#include "dockhand/store_util.h"

#define ROBOT_COLUMNS                                                                              \
    "r.id, r.name, dockhand_robot_full_name(r.name, r.legacy),"                                    \
    " r.description, r.level, coalesce(r.project_id, 0), r.duration, r.expires_at,"                \
    " r.disabled, r.legacy, " STORE_TS_SQL("r.creation_time") ", " STORE_TS_SQL(                   \
        "r.update_time") ", " STORE_TS_SQL("r.last_used")

void robot_deinit(struct robot *r)
{
    if (!r)
        return;
    free(r->name);
    free(r->full_name);
    free(r->description);
    free(r->level);
    free(r->creation_time);
    free(r->update_time);
    free(r->last_used);
    for (size_t i = 0; i < r->nperms; i++) {
        for (size_t j = 0; j < r->perms[i].naccess; j++) {
            free(r->perms[i].access[j].resource);
            free(r->perms[i].access[j].action);
        }
        free(r->perms[i].access);
        free(r->perms[i].kind);
        free(r->perms[i].namespace_);
    }
    free(r->perms);
    memset(r, 0, sizeof(*r));
}

void robot_list_free(struct robot *list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        robot_deinit(&list[i]);
    free(list);
}

static void robots_free(void *list, size_t n)
{
    robot_list_free(list, n);
}

static int robot_from_row(const PGresult *res, int row, void *elem)
{
    struct robot *r = elem;
    memset(r, 0, sizeof(*r));
    r->id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
    r->name = strdup(PQgetvalue(res, row, 1));
    r->full_name = strdup(PQgetvalue(res, row, 2));
    r->description = strdup(PQgetvalue(res, row, 3));
    r->level = strdup(PQgetvalue(res, row, 4));
    r->project_id = strtoll(PQgetvalue(res, row, 5), NULL, 10);
    r->duration = atoi(PQgetvalue(res, row, 6));
    r->expires_at = strtoll(PQgetvalue(res, row, 7), NULL, 10);
    r->disabled = PQgetvalue(res, row, 8)[0] == 't';
    r->legacy = PQgetvalue(res, row, 9)[0] == 't';
    r->creation_time = store_dup_or_null(res, row, 10);
    r->update_time = store_dup_or_null(res, row, 11);
    r->last_used = store_dup_or_null(res, row, 12);
    if (!r->name || !r->full_name || !r->description || !r->level || !r->creation_time ||
        !r->update_time)
        return DH_ERR_NOMEM;
    return 0;
}

/* Fills r's permissions from rows [from, to) of res (robot_id, kind, ns, resource, action),
 * grouped by (kind, namespace). */
static int robot_perms_from_rows(struct robot *r, const PGresult *res, int from, int to)
{
    int n = to - from;
    r->perms = calloc((size_t)n + 1, sizeof(*r->perms));
    if (!r->perms)
        return DH_ERR_NOMEM;
    for (int i = from; i < to; i++) {
        const char *kind = PQgetvalue(res, i, 1), *ns = PQgetvalue(res, i, 2);
        struct robot_permission *pm = r->nperms ? &r->perms[r->nperms - 1] : NULL;
        if (!pm || strcmp(pm->kind, kind) != 0 || strcmp(pm->namespace_, ns) != 0) {
            pm = &r->perms[r->nperms++];
            pm->kind = strdup(kind);
            pm->namespace_ = strdup(ns);
            pm->access = calloc((size_t)n, sizeof(*pm->access));
            if (!pm->kind || !pm->namespace_ || !pm->access)
                return DH_ERR_NOMEM;
        }
        struct robot_access *a = &pm->access[pm->naccess++];
        a->resource = strdup(PQgetvalue(res, i, 3));
        a->action = strdup(PQgetvalue(res, i, 4));
        if (!a->resource || !a->action)
            return DH_ERR_NOMEM;
    }
    return 0;
}

struct id_index {
    int64_t id;
    size_t at;
};

static int id_index_cmp(const void *a, const void *b)
{
    int64_t x = ((const struct id_index *)a)->id, y = ((const struct id_index *)b)->id;
    return x < y ? -1 : x > y;
}

/* Loads the permissions of every robot of list in one query. */
static int robots_load_perms(PGconn *db, struct robot *list, size_t n)
{
    if (n == 0)
        return 0;
    struct id_index *idx = calloc(n, sizeof(*idx));
    int64_t *idv = malloc(n * sizeof(*idv));
    char *ids = NULL;
    PGresult *res = NULL;
    int rc = 0;
    if (idx && idv) {
        for (size_t i = 0; i < n; i++) {
            idx[i].id = idv[i] = list[i].id;
            idx[i].at = i;
        }
        ids = db_bigint_array(idv, n);
    }
    free(idv);
    if (!idx || !ids) {
        rc = DH_ERR_NOMEM;
        goto out;
    }
    qsort(idx, n, sizeof(*idx), id_index_cmp);

    const char *p[] = {ids};
    res = db_exec(db, PGRES_TUPLES_OK,
                  /* The project's name looked up per row, not joined: with 10,000
                   * projects a join hashed them all for a page's 200 rows (5 ms). */
                  "SELECT rp.robot_id, rp.kind,"
                  " CASE WHEN rp.kind = 'system' THEN '/' WHEN rp.all_projects THEN '*'"
                  " ELSE (SELECT p.name FROM projects p WHERE p.id = rp.project_id) END AS ns,"
                  " rp.resource, rp.action FROM robot_permissions rp"
                  " WHERE rp.robot_id = ANY ($1::bigint[]) ORDER BY 1, 2, 3, 4, 5",
                  1, p);
    if (!res) {
        rc = DH_ERR_DB;
        goto out;
    }
    int rows = PQntuples(res);
    for (int from = 0, to; rc == 0 && from < rows; from = to) {
        struct id_index key = {.id = strtoll(PQgetvalue(res, from, 0), NULL, 10)};
        for (to = from + 1;
             to < rows && strcmp(PQgetvalue(res, to, 0), PQgetvalue(res, from, 0)) == 0; to++)
            ;
        struct id_index *hit = bsearch(&key, idx, n, sizeof(*idx), id_index_cmp);
        if (hit)
            rc = robot_perms_from_rows(&list[hit->at], res, from, to);
    }
    /* Robots without a single permission still get an (empty) array. */
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (!list[i].perms && !(list[i].perms = calloc(1, sizeof(*list[i].perms))))
            rc = DH_ERR_NOMEM;
out:
    PQclear(res);
    free(ids);
    free(idx);
    return rc;
}

static int robot_fetch(PGconn *db, const char *where, const char *param, struct robot *out,
                       struct store_err *err)
{
    char sql[1024];
    snprintf(sql, sizeof(sql), "SELECT " ROBOT_COLUMNS " FROM robots r WHERE %s", where);
    const char *p[] = {param};
    PGresult *res = db_exec(db, PGRES_TUPLES_OK, sql, 1, p);
    if (!res)
        return store_internal(err);
    if (PQntuples(res) == 0) {
        PQclear(res);
        return store_fail(err, STORE_NOT_FOUND, "robot not found");
    }
    int rc = robot_from_row(res, 0, out);
    PQclear(res);
    if (rc == 0)
        rc = robots_load_perms(db, out, 1);
    if (rc < 0) {
        robot_deinit(out);
        return store_internal(err);
    }
    return 0;
}

int robot_get(PGconn *db, int64_t id, struct robot *out, struct store_err *err)
{
    char idbuf[STORE_ID_TEXT];
    store_id_text(idbuf, id);
    return robot_fetch(db, "r.id = $1", idbuf, out, err);
}

int robot_find(PGconn *db, const char *ref, struct robot *out, struct store_err *err)
{
    if (!store_text_ok(ref, LOGIN_MAX_LEN))
        return store_fail(err, STORE_INVALID, "invalid robot reference");
    if (store_all_digits(ref))
        return robot_get(db, strtoll(ref, NULL, 10), out, err);
    return robot_fetch(db,
                       "r.name = $1 OR dockhand_robot_full_name(r.name, r.legacy) = $1"
                       " ORDER BY r.name = $1 DESC LIMIT 1",
                       ref, out, err);
}

/* Checks one permission list against the rules for level; resolves nothing yet. */
static int perms_validate(const char *level, const struct robot_permission *perms, size_t n,
                          struct store_err *err)
{
    bool project_level = strcmp(level, "project") == 0;
    if (n == 0)
        return store_fail(err, STORE_INVALID, "permissions must not be empty");
    if (n > ROBOT_MAX_PERMS)
        return store_fail(err, STORE_INVALID, "at most %d permission entries", ROBOT_MAX_PERMS);
    if (project_level && n != 1)
        return store_fail(err, STORE_INVALID,
                          "a project robot has permissions on exactly one project");
    for (size_t i = 0; i < n; i++) {
        const struct robot_permission *p = &perms[i];
        bool system = p->kind && strcmp(p->kind, "system") == 0;
        if (!p->kind || (!system && strcmp(p->kind, "project") != 0))
            return store_fail(err, STORE_INVALID, "permission kind must be project or system");
        if (!p->namespace_ || !*p->namespace_)
            return store_fail(err, STORE_INVALID, "permission namespace must not be empty");
        if (system && (project_level || strcmp(p->namespace_, "/") != 0))
            return store_fail(err, STORE_INVALID,
                              "system permissions belong to system robots, namespace \"/\"");
        if (!system && strcmp(p->namespace_, "*") == 0 && project_level)
            return store_fail(err, STORE_INVALID, "a project robot cannot cover all projects");
        if (!system && strcmp(p->namespace_, "*") != 0 && !name_valid(p->namespace_))
            return store_fail(err, STORE_INVALID, "invalid project name in permissions");
        if (p->naccess == 0)
            return store_fail(err, STORE_INVALID, "permission access must not be empty");
        if (p->naccess > ROBOT_MAX_ACCESS)
            return store_fail(err, STORE_INVALID, "at most %d access entries per namespace",
                              ROBOT_MAX_ACCESS);
        for (size_t j = 0; j < p->naccess; j++) {
            const struct robot_access *a = &p->access[j];
            if (!a->resource || !a->action || !access_perm_known(a->resource, a->action, system))
                return store_fail(err, STORE_INVALID, "unknown permission %.40s:%.40s",
                                  a->resource ? a->resource : "", a->action ? a->action : "");
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(perms[k].kind, p->kind) == 0 &&
                strcmp(perms[k].namespace_, p->namespace_) == 0)
                return store_fail(err, STORE_INVALID, "namespace %.60s listed twice",
                                  p->namespace_);
    }
    return 0;
}

/* Inserts perms for robot id (inside the caller's transaction). Returns 0, or fails
 * with 404 for an unknown project. */
static int perms_insert(PGconn *db, const char *idbuf, const struct robot_permission *perms,
                        size_t n, struct store_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const struct robot_permission *p = &perms[i];
        for (size_t j = 0; j < p->naccess; j++) {
            const char *params[] = {idbuf, p->kind, p->namespace_, p->access[j].resource,
                                    p->access[j].action};
            int inserted = store_rows(
                db,
                "INSERT INTO robot_permissions (robot_id, kind, project_id, all_projects,"
                " resource, action)"
                " SELECT $1, $2, p.id, $2 = 'project' AND $3 = '*', $4, $5"
                " FROM (SELECT NULL::bigint AS id WHERE $2 = 'system' OR $3 = '*'"
                "       UNION ALL SELECT id FROM projects WHERE $2 = 'project' AND name = $3) p"
                " ON CONFLICT DO NOTHING RETURNING 1",
                5, params);
            if (inserted < 0)
                return store_internal(err);
            if (!inserted && j == 0 && strcmp(p->kind, "project") == 0 &&
                strcmp(p->namespace_, "*") != 0)
                return store_fail(err, STORE_NOT_FOUND, "project %.100s not found", p->namespace_);
        }
    }
    return 0;
}

static int duration_check(int64_t value, struct store_err *err)
{
    if (value != -1 && (value < 1 || value > ROBOT_DURATION_MAX))
        return store_fail(err, STORE_INVALID, "duration must be -1 (never expires) or 1 to %d days",
                          ROBOT_DURATION_MAX);
    return 0;
}

static int duration_resolve(PGconn *db, bool set, int64_t value, int64_t *out,
                            struct store_err *err)
{
    if (!set) {
        char *v = NULL;
        int rc = settings_get(db, "robot_token_duration", &v, err);
        if (rc < 0)
            return rc;
        value = strtoll(v, NULL, 10);
        free(v);
    }
    if (duration_check(value, err) < 0)
        return DH_ERR_INVALID;
    *out = value;
    return 0;
}

int robot_spec_check(const struct robot_spec *spec, struct store_err *err)
{
    if (!spec->name || !name_valid(spec->name))
        return store_fail(err, STORE_INVALID,
                          "invalid robot name: use 1-255 of a-z 0-9 and . _ - between them");
    if (!spec->level || (strcmp(spec->level, "system") != 0 && strcmp(spec->level, "project") != 0))
        return store_fail(err, STORE_INVALID, "level must be system or project");
    if (spec->description && !store_text_ok(spec->description, ROBOT_DESCRIPTION_MAX))
        return store_fail(err, STORE_INVALID, "description must be UTF-8 text of at most %d bytes",
                          ROBOT_DESCRIPTION_MAX);
    if (spec->duration_set && duration_check(spec->duration, err) < 0)
        return DH_ERR_INVALID;
    return perms_validate(spec->level, spec->perms, spec->nperms, err);
}

int robot_create(PGconn *db, const struct robot_spec *spec, struct robot *out,
                 char secret[SECRET_GEN_LEN + 1], struct store_err *err)
{
    char *hash = NULL, *stored = NULL;
    int64_t duration;
    int rc;
    bool project_level;

    memset(out, 0, sizeof(*out));
    secret[0] = '\0';
    rc = robot_spec_check(spec, err);
    if (rc < 0)
        return rc;
    project_level = strcmp(spec->level, "project") == 0;
    rc = duration_resolve(db, spec->duration_set, spec->duration, &duration, err);
    if (rc < 0)
        return rc;

    stored = project_level ? name_project_robot(spec->perms[0].namespace_, spec->name)
                           : strdup(spec->name);
    if (!stored)
        return store_internal(err);
    if (strlen(stored) > NAME_MAX_LEN) {
        rc = store_fail(err, STORE_INVALID, "robot name too long");
        goto out;
    }
    if (secret_generate(secret) < 0 ||
        secret_hash(secret, SECRET_GEN_LEN, SECRET_ITER_GENERATED, &hash) < 0) {
        rc = store_internal(err);
        goto out;
    }

    if (db_begin(db) < 0) {
        rc = store_internal(err);
        goto out;
    }
    char durbuf[24], pidbuf[24] = "";
    snprintf(durbuf, sizeof(durbuf), "%" PRId64, duration);
    if (project_level) {
        const char *pp[] = {spec->perms[0].namespace_};
        PGresult *pr =
            db_exec(db, PGRES_TUPLES_OK, "SELECT id FROM projects WHERE name = $1", 1, pp);
        bool found = pr && PQntuples(pr) > 0;
        if (found)
            snprintf(pidbuf, sizeof(pidbuf), "%s", PQgetvalue(pr, 0, 0));
        PQclear(pr);
        if (!found) {
            db_rollback(db);
            rc = pr ? store_fail(err, STORE_NOT_FOUND, "project %.100s not found",
                                 spec->perms[0].namespace_)
                    : store_internal(err);
            goto out;
        }
    }
    const char *params[] = {stored,
                            spec->description ? spec->description : "",
                            spec->level,
                            project_level ? pidbuf : NULL,
                            hash,
                            durbuf,
                            spec->disabled ? "true" : "false"};
    PGresult *res =
        db_exec(db, PGRES_TUPLES_OK,
                "INSERT INTO robots (name, description, level, project_id, secret_hash, duration,"
                " expires_at, disabled)"
                " VALUES ($1, $2, $3, $4::bigint, $5, $6::integer,"
                "  CASE WHEN $6::integer = -1 THEN -1"
                "  ELSE extract(epoch FROM now())::bigint + $6::bigint * 86400 END, $7::boolean)"
                " ON CONFLICT (name) DO NOTHING RETURNING id",
                7, params);
    if (!res || PQntuples(res) == 0) {
        rc = res ? store_fail(err, STORE_CONFLICT, "a robot named %.100s already exists", stored)
                 : store_internal(err);
        PQclear(res);
        db_rollback(db);
        goto out;
    }
    char idbuf[24];
    snprintf(idbuf, sizeof(idbuf), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    rc = perms_insert(db, idbuf, spec->perms, spec->nperms, err);
    if (rc < 0) {
        db_rollback(db);
        goto out;
    }
    if (db_commit(db) < 0) {
        rc = store_internal(err);
        goto out;
    }
    rc = robot_get(db, strtoll(idbuf, NULL, 10), out, err);
out:
    if (rc < 0)
        secret[0] = '\0';
    free(hash);
    free(stored);
    return rc;
}

/* The robots of a query's result (cleared here), with their permissions. */
static int robots_read(PGconn *db, PGresult *res, struct robot **out, size_t *n)
{
    void *read;
    int rc = store_list_read(res, sizeof(struct robot), robot_from_row, robots_free, &read, n);
    struct robot *list = read;
    PQclear(res);
    if (rc == 0)
        rc = robots_load_perms(db, list, *n);
    if (rc < 0) {
        robot_list_free(list, *n);
        *n = 0;
        *out = NULL;
        return rc;
    }
    *out = list;
    return 0;
}

/* The robots of ids, in order, with their permissions (a robot deleted meanwhile is
 * left out). */
static int robots_by_ids(PGconn *db, const int64_t *ids, size_t nids, const char *orderby,
                         struct robot **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (nids == 0)
        return 0;
    char *lit = db_bigint_array(ids, nids);
    if (!lit)
        return DH_ERR_NOMEM;
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "SELECT " ROBOT_COLUMNS " FROM robots r WHERE r.id = ANY ($1::bigint[]) ORDER BY %s",
             orderby);
    const char *p[] = {lit};
    PGresult *res = db_exec(db, PGRES_TUPLES_OK, sql, 1, p);
    free(lit);
    return res ? robots_read(db, res, out, n) : DH_ERR_DB;
}

int robot_list(PGconn *db, const struct robot_filter *f, struct robot **out, size_t *n,
               int64_t *total, struct store_err *err)
{
    static const char *const sortable[] = {"name", "creation_time", "expires_at", "update_time",
                                           "id"};
    char sql[2048], pagebuf[24], offbuf[24], pidbuf[24];
    const char *params[6];
    int np = 0;

    *out = NULL;
    *n = 0;
    *total = 0;
    const char *order = "r.name";
    bool desc = false;
    if (f->sort && *f->sort) {
        const char *s = f->sort;
        if (*s == '-') {
            desc = true;
            s++;
        }
        order = NULL;
        for (size_t i = 0; i < DH_ARRAY_SIZE(sortable); i++)
            if (strcmp(s, sortable[i]) == 0)
                order = sortable[i];
        if (!order)
            return store_fail(
                err, STORE_INVALID,
                "sort must be one of name, creation_time, expires_at, update_time, id");
    }

    /* The filter, shared by the page query and the count past the last page. */
    char where[512];
    size_t wlen = (size_t)snprintf(where, sizeof(where), "true");
    if (f->name_part) {
        params[np++] = f->name_part;
        wlen += (size_t)snprintf(where + wlen, sizeof(where) - wlen, " AND strpos(r.name, $%d) > 0",
                                 np);
    }
    if (f->name_exact) {
        params[np++] = f->name_exact;
        wlen += (size_t)snprintf(where + wlen, sizeof(where) - wlen, " AND r.name = $%d", np);
    }
    if (f->level) {
        params[np++] = f->level;
        wlen += (size_t)snprintf(where + wlen, sizeof(where) - wlen, " AND r.level = $%d", np);
    }
    if (f->project_id) {
        snprintf(pidbuf, sizeof(pidbuf), "%" PRId64, f->project_id);
        params[np++] = pidbuf;
        wlen += (size_t)snprintf(where + wlen, sizeof(where) - wlen, " AND r.project_id = $%d", np);
    }
    int nfilter = np;
    /* The page alone: a window count over every match made each page cost a full scan
     * and a sort of all matches (68 ms at 100,000 robots). The page's ids are chosen
     * first, from the (name, id) index alone when sorted by name (sql/004), and only its
     * rows are read. The total comes from the page when it is not full, else from a
     * count. */
    /* Names sort bytewise, as the robot directory does, whatever the database's collation
     * (sql/005's index). */
    bool by_name = strcmp(order, "r.name") == 0 || strcmp(order, "name") == 0;
    char orderby[64];
    snprintf(orderby, sizeof(orderby), "%s%s%s%s, r.id", strchr(order, '.') ? "" : "r.", order,
             by_name ? " COLLATE \"C\"" : "", desc ? " DESC" : "");
    if (f->page_size > 0 && by_name && f->dir) {
        struct robotdir_query dq = {.name_part = f->name_part,
                                    .name_exact = f->name_exact,
                                    .level = f->level,
                                    .project_id = f->project_id,
                                    .desc = desc,
                                    .offset = ((f->page > 0 ? f->page : 1) - 1) * f->page_size,
                                    .limit = f->page_size};
        int64_t *ids = NULL;
        size_t nids = 0;
        int dr = robotdir_page(f->dir, db, &dq, &ids, &nids, total);
        if (dr < 0)
            return store_internal(err);
        if (dr == 1) {
            int rc = robots_by_ids(db, ids, nids, orderby, out, n);
            free(ids);
            return rc < 0 ? store_internal(err) : 0;
        }
    }
    if (f->page_size > 0) {
        int64_t page = f->page > 0 ? f->page : 1;
        snprintf(pagebuf, sizeof(pagebuf), "%" PRId64, f->page_size);
        snprintf(offbuf, sizeof(offbuf), "%" PRId64, (page - 1) * f->page_size);
        params[np++] = pagebuf;
        params[np++] = offbuf;
        snprintf(sql, sizeof(sql),
                 "SELECT " ROBOT_COLUMNS " FROM robots r WHERE r.id IN (SELECT r.id FROM robots r"
                 " WHERE %s ORDER BY %s LIMIT $%d OFFSET $%d) ORDER BY %s",
                 where, orderby, np - 1, np, orderby);
    } else {
        snprintf(sql, sizeof(sql), "SELECT " ROBOT_COLUMNS " FROM robots r WHERE %s ORDER BY %s",
                 where, orderby);
    }
    PGresult *res = db_exec(db, PGRES_TUPLES_OK, sql, np, params);
    if (!res)
        return store_internal(err);
    int64_t rows = PQntuples(res);
    struct robot *list = NULL;
    if (robots_read(db, res, &list, n) < 0)
        return store_internal(err);
    int64_t offset = f->page_size > 0 ? ((f->page > 0 ? f->page : 1) - 1) * f->page_size : 0;
    bool counted =
        f->page_size <= 0 || (rows > 0 && rows < f->page_size) || (rows == 0 && offset == 0);
    if (counted)
        *total = offset + rows;
    if (!counted) { /* a full page, or past the last one */
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM robots r WHERE %s", where);
        PGresult *c = db_exec(db, PGRES_TUPLES_OK, sql, nfilter, params);
        if (!c) {
            robot_list_free(list, *n);
            *n = 0;
            return store_internal(err);
        }
        *total = strtoll(PQgetvalue(c, 0, 0), NULL, 10);
        PQclear(c);
    }
    *out = list;
    return 0;
}

int robot_change_check(const struct robot *cur, const struct robot_change *ch,
                       struct store_err *err)
{
    if (ch->description && !store_text_ok(ch->description, ROBOT_DESCRIPTION_MAX))
        return store_fail(err, STORE_INVALID, "description must be UTF-8 text of at most %d bytes",
                          ROBOT_DESCRIPTION_MAX);
    if (ch->duration_set && duration_check(ch->duration, err) < 0)
        return DH_ERR_INVALID;
    if (ch->perms_set) {
        int rc = perms_validate(cur->level, ch->perms, ch->nperms, err);
        if (rc < 0)
            return rc;
        if (strcmp(cur->level, "project") == 0) {
            /* A project robot stays on its own project. */
            const char *proj_end = strchr(cur->name, '+');
            size_t plen = proj_end ? (size_t)(proj_end - cur->name) : 0;
            if (strlen(ch->perms[0].namespace_) != plen ||
                strncmp(ch->perms[0].namespace_, cur->name, plen) != 0)
                return store_fail(err, STORE_INVALID, "a project robot cannot change its project");
        }
    }
    return 0;
}

int robot_update(PGconn *db, int64_t id, const struct robot_change *ch, struct store_err *err)
{
    struct robot cur;
    int rc = robot_get(db, id, &cur, err);
    if (rc < 0)
        return rc;
    char idbuf[STORE_ID_TEXT], durbuf[24];
    store_id_text(idbuf, id);

    rc = robot_change_check(&cur, ch, err);
    if (rc < 0)
        goto out;
    int64_t duration = ch->duration_set ? ch->duration : cur.duration;
    snprintf(durbuf, sizeof(durbuf), "%" PRId64, duration);

    if (db_begin(db) < 0) {
        rc = store_internal(err);
        goto out;
    }
    const char *params[] = {
        idbuf,
        ch->description,
        durbuf,
        ch->disabled_set ? (ch->disabled ? "t" : "f") : NULL,
    };
    /* Disabling bumps cred_version: refresh tokens die with it and stay dead. */
    PGresult *res = db_exec(
        db, PGRES_COMMAND_OK,
        "UPDATE robots SET description = coalesce($2, description),"
        " duration = $3::integer,"
        " expires_at = CASE WHEN $3::integer = -1 THEN -1"
        "   ELSE extract(epoch FROM creation_time)::bigint + $3::bigint * 86400 END,"
        " cred_version = cred_version + CASE WHEN $4::boolean AND NOT disabled THEN 1 ELSE 0 END,"
        " disabled = coalesce($4::boolean, disabled),"
        " update_time = now()"
        " WHERE id = $1",
        4, params);
    if (!res) {
        db_rollback(db);
        rc = store_internal(err);
        goto out;
    }
    PQclear(res);
    if (ch->perms_set) {
        const char *p1[] = {idbuf};
        res = db_exec(db, PGRES_COMMAND_OK, "DELETE FROM robot_permissions WHERE robot_id = $1", 1,
                      p1);
        if (!res) {
            db_rollback(db);
            rc = store_internal(err);
            goto out;
        }
        PQclear(res);
        rc = perms_insert(db, idbuf, ch->perms, ch->nperms, err);
        if (rc < 0) {
            db_rollback(db);
            goto out;
        }
    }
    rc = db_commit(db) < 0 ? store_internal(err) : 0;
out:
    robot_deinit(&cur);
    return rc;
}

int robot_delete(PGconn *db, int64_t id, struct store_err *err)
{
    char idbuf[STORE_ID_TEXT];
    store_id_text(idbuf, id);
    const char *p[] = {idbuf};
    int found = store_rows(db, "DELETE FROM robots WHERE id = $1 RETURNING id", 1, p);
    if (found < 0)
        return store_internal(err);
    return found ? 0 : store_fail(err, STORE_NOT_FOUND, "robot not found");
}

int robot_refresh_secret(PGconn *db, int64_t id, const char *manual, size_t manual_len,
                         char secret_out[SECRET_GEN_LEN + 1], struct store_err *err)
{
    char *hash = NULL;
    int rc;

    secret_out[0] = '\0';
    if (manual) {
        const char *why = secret_policy_check(manual, manual_len);
        if (why)
            return store_fail(err, STORE_INVALID, "%s", why);
        rc = secret_hash(manual, manual_len, secret_slow_iterations(), &hash);
    } else {
        rc = secret_generate(secret_out);
        if (rc == 0)
            rc = secret_hash(secret_out, SECRET_GEN_LEN, SECRET_ITER_GENERATED, &hash);
    }
    if (rc < 0) {
        secret_out[0] = '\0';
        return store_internal(err);
    }
    char idbuf[STORE_ID_TEXT];
    store_id_text(idbuf, id);
    const char *p[] = {idbuf, hash};
    int found = store_rows(db,
                           "UPDATE robots SET secret_hash = $2, cred_version = cred_version + 1,"
                           " update_time = now() WHERE id = $1 RETURNING id",
                           2, p);
    free(hash);
    if (found < 0) {
        secret_out[0] = '\0';
        return store_internal(err);
    }
    if (!found) {
        secret_out[0] = '\0';
        return store_fail(err, STORE_NOT_FOUND, "robot not found");
    }
    return 0;
}

int robots_touch_last_used(PGconn *db, const int64_t *ids, size_t n, char *why, size_t why_len)
{
    if (n == 0)
        return 0;
    char *lit = db_bigint_array(ids, n);
    if (!lit) {
        snprintf(why, why_len, "out of memory");
        return DH_ERR_NOMEM;
    }
    const char *p[] = {lit};
    /* Not db_exec: the writer logs the failure itself, once, with its own words. */
    PGresult *res =
        PQexecParams(db, "UPDATE robots SET last_used = now() WHERE id = ANY ($1::bigint[])", 1,
                     NULL, p, NULL, NULL, 0);
    free(lit);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        snprintf(why, why_len, "%s", PQresultErrorMessage(res));
        why[strcspn(why, "\n")] = '\0';
        rc = DH_ERR_DB;
    }
    PQclear(res);
    return rc;
}

/* ---- the Harbor import -------------------------------------------------------------- */

int robot_import_find(PGconn *db, const char *name, const char *secret_hash, bool *same_secret,
                      char *login, size_t login_cap)
{
    const char *p[] = {name, secret_hash};
    PGresult *res = db_exec(db, PGRES_TUPLES_OK,
                            "SELECT secret_hash = $2, dockhand_robot_full_name(name, legacy)"
                            " FROM robots WHERE name = $1",
                            2, p);
    if (!res)
        return DH_ERR_DB;
    int found = PQntuples(res) > 0;
    if (found) {
        *same_secret = PQgetvalue(res, 0, 0)[0] == 't';
        snprintf(login, login_cap, "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return found;
}

int robot_import_insert(PGconn *db, const struct robot_import *r, int64_t *id, char *login,
                        size_t login_cap)
{
    char pid[STORE_ID_TEXT], dur[24], exp[24], created[24];
    store_id_text(pid, r->project_id);
    snprintf(dur, sizeof(dur), "%" PRId64, r->duration);
    snprintf(exp, sizeof(exp), "%" PRId64, r->expires_at);
    snprintf(created, sizeof(created), "%" PRId64, r->creation);
    const char *p[] = {r->name,
                       r->description,
                       r->level,
                       r->project_id ? pid : NULL,
                       r->secret_hash,
                       dur,
                       exp,
                       r->disabled ? "t" : "f",
                       r->legacy ? "t" : "f",
                       r->has_creation ? created : NULL};
    PGresult *res =
        db_exec(db, PGRES_TUPLES_OK,
                "INSERT INTO robots (name, description, level, project_id, secret_hash,"
                " duration, expires_at, disabled, legacy, creation_time)"
                " VALUES ($1, $2, $3, $4::bigint, $5, $6::integer, $7::bigint,"
                "  $8::boolean, $9::boolean, coalesce(to_timestamp($10::bigint), now()))"
                " ON CONFLICT (name) DO NOTHING"
                " RETURNING id, dockhand_robot_full_name(name, legacy)",
                10, p);
    if (!res)
        return DH_ERR_DB;
    int inserted = PQntuples(res) > 0;
    if (inserted) {
        *id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        snprintf(login, login_cap, "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return inserted;
}

int robot_import_grant(PGconn *db, int64_t robot_id, const char *kind, int64_t project_id,
                       bool all_projects, const char *resource, const char *action)
{
    char id[STORE_ID_TEXT], pid[STORE_ID_TEXT];
    store_id_text(id, robot_id);
    store_id_text(pid, project_id);
    const char *p[] = {id,       kind,  project_id ? pid : NULL, all_projects ? "t" : "f",
                       resource, action};
    PGresult *res = db_exec(db, PGRES_COMMAND_OK,
                            "INSERT INTO robot_permissions (robot_id, kind, project_id,"
                            " all_projects, resource, action)"
                            " VALUES ($1, $2, $3::bigint, $4::boolean, $5, $6)"
                            " ON CONFLICT DO NOTHING",
                            6, p);
    if (!res)
        return DH_ERR_DB;
    PQclear(res);
    return 0;
}

/* ---- federation rules and networks ------------------------------------------------------ */

void robot_federation_free(struct robot_fed_rule *rules, size_t n)
{
    for (size_t i = 0; rules && i < n; i++) {
        free(rules[i].issuer);
        free(rules[i].audience);
        free(rules[i].subject);
        for (size_t k = 0; k < rules[i].nclaims; k++) {
            free(rules[i].claims[k].name);
            free(rules[i].claims[k].value);
        }
        free(rules[i].claims);
    }
    free(rules);
}

/* UTF-8 text of 1..max bytes without any control character. */
static bool fed_text_ok(const char *s, size_t max)
{
    if (!s || !*s || !store_text_ok(s, max))
        return false;
    return !strpbrk(s, "\t\n");
}

/* https://host[:port][/path]: a host, no userinfo, query, fragment or blanks. */
static bool issuer_ok(const char *s)
{
    if (!fed_text_ok(s, ROBOT_FED_ISSUER_MAX) || strncmp(s, "https://", 8) != 0)
        return false;
    const char *host = s + 8, *end = host + strcspn(host, "/");
    if (end == host || *host == ':' || memchr(host, '@', (size_t)(end - host)))
        return false;
    return !strpbrk(s, "?# \\");
}

int robot_federation_check(const struct robot_fed_rule *rules, size_t n, struct store_err *err)
{
    if (n > ROBOT_MAX_FEDERATION)
        return store_fail(err, STORE_INVALID, "at most %d federation rules per robot",
                          ROBOT_MAX_FEDERATION);
    for (size_t i = 0; i < n; i++) {
        const struct robot_fed_rule *r = &rules[i];
        if (!issuer_ok(r->issuer))
            return store_fail(err, STORE_INVALID,
                              "rules[%zu].issuer must be an https:// URL with a host and no "
                              "userinfo, query or fragment, at most %d bytes",
                              i, ROBOT_FED_ISSUER_MAX);
        if (r->audience && !fed_text_ok(r->audience, ROBOT_FED_AUDIENCE_MAX))
            return store_fail(err, STORE_INVALID,
                              "rules[%zu].audience must be 1 to %d bytes of text without control "
                              "characters (omit it for the service's name)",
                              i, ROBOT_FED_AUDIENCE_MAX);
        if (!fed_text_ok(r->subject, ROBOT_FED_SUBJECT_MAX))
            return store_fail(err, STORE_INVALID,
                              "rules[%zu].subject must be 1 to %d bytes of text without control "
                              "characters",
                              i, ROBOT_FED_SUBJECT_MAX);
        if (r->nclaims > ROBOT_FED_MAX_CLAIMS)
            return store_fail(err, STORE_INVALID, "rules[%zu].claims: at most %d claims", i,
                              ROBOT_FED_MAX_CLAIMS);
        for (size_t k = 0; k < r->nclaims; k++) {
            const struct robot_claim *c = &r->claims[k];
            if (!fed_text_ok(c->name, ROBOT_FED_CLAIM_NAME_MAX))
                return store_fail(err, STORE_INVALID,
                                  "rules[%zu].claims: a claim name must be 1 to %d bytes of text "
                                  "without control characters",
                                  i, ROBOT_FED_CLAIM_NAME_MAX);
            if (!fed_text_ok(c->value, ROBOT_FED_CLAIM_VALUE_MAX))
                return store_fail(err, STORE_INVALID,
                                  "rules[%zu].claims[\"%.128s\"] must be a string of 1 to %d "
                                  "bytes without control characters",
                                  i, c->name, ROBOT_FED_CLAIM_VALUE_MAX);
            for (size_t j = 0; j < k; j++)
                if (strcmp(r->claims[j].name, c->name) == 0)
                    return store_fail(err, STORE_INVALID,
                                      "rules[%zu].claims: \"%.128s\" is given twice", i, c->name);
        }
    }
    return 0;
}

/* The robot's row locked for the transaction: 1, 0 when there is none, DH_ERR_DB. */
static int robot_lock(PGconn *db, const char *idbuf)
{
    const char *p[] = {idbuf};
    return store_rows(db, "SELECT id FROM robots WHERE id = $1 FOR UPDATE", 1, p);
}

static char *claims_json(const struct robot_fed_rule *r)
{
    json_t *o = json_object();
    for (size_t k = 0; o && k < r->nclaims; k++)
        if (json_object_set_new(o, r->claims[k].name, json_string(r->claims[k].value)) < 0) {
            json_decref(o);
            return NULL;
        }
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

int robot_federation_set(PGconn *db, int64_t id, const struct robot_fed_rule *rules, size_t n,
                         struct store_err *err)
{
    char idbuf[STORE_ID_TEXT], pos[24];
    int rc = robot_federation_check(rules, n, err);
    if (rc < 0)
        return rc;
    store_id_text(idbuf, id);
    if (db_begin(db) < 0)
        return store_internal(err);
    int found = robot_lock(db, idbuf);
    if (found <= 0) {
        db_rollback(db);
        return found < 0 ? store_internal(err)
                         : store_fail(err, STORE_NOT_FOUND, "robot not found");
    }
    const char *p1[] = {idbuf};
    PGresult *res =
        db_exec(db, PGRES_COMMAND_OK, "DELETE FROM robot_federation WHERE robot_id = $1", 1, p1);
    if (!res)
        goto fail;
    PQclear(res);
    for (size_t i = 0; i < n; i++) {
        char *claims = claims_json(&rules[i]);
        if (!claims)
            goto fail;
        snprintf(pos, sizeof(pos), "%zu", i);
        const char *p[] = {idbuf, pos, rules[i].issuer, rules[i].audience, rules[i].subject,
                           claims};
        res = db_exec(db, PGRES_COMMAND_OK,
                      "INSERT INTO robot_federation (robot_id, position, issuer, audience,"
                      " subject, claims) VALUES ($1, $2::integer, $3, $4, $5, $6::jsonb)",
                      6, p);
        free(claims);
        if (!res)
            goto fail;
        PQclear(res);
    }
    /* The bump is what the robots triggers audit and announce. */
    res = db_exec(db, PGRES_COMMAND_OK,
                  "UPDATE robots SET federation_version = federation_version + 1,"
                  " update_time = now() WHERE id = $1",
                  1, p1);
    if (!res)
        goto fail;
    PQclear(res);
    return db_commit(db) < 0 ? store_internal(err) : 0;
fail:
    db_rollback(db);
    return store_internal(err);
}

static int fed_rule_from_row(const PGresult *res, int row, void *elem)
{
    struct robot_fed_rule *r = elem;
    memset(r, 0, sizeof(*r));
    r->issuer = strdup(PQgetvalue(res, row, 0));
    r->audience = store_dup_or_null(res, row, 1);
    r->subject = strdup(PQgetvalue(res, row, 2));
    if (!r->issuer || !r->subject || (!r->audience && !PQgetisnull(res, row, 1)))
        return DH_ERR_NOMEM;
    json_t *claims = json_loads(PQgetvalue(res, row, 3), 0, NULL);
    if (!json_is_object(claims)) {
        json_decref(claims);
        return DH_ERR_DB;
    }
    r->claims = calloc(json_object_size(claims) + 1, sizeof(*r->claims));
    const char *name;
    json_t *v;
    json_object_foreach(claims, name, v)
    {
        if (!r->claims)
            break;
        struct robot_claim *c = &r->claims[r->nclaims++];
        c->name = strdup(name);
        c->value = strdup(json_is_string(v) ? json_string_value(v) : "");
        if (!c->name || !c->value) {
            json_decref(claims);
            return DH_ERR_NOMEM;
        }
    }
    json_decref(claims);
    return r->claims ? 0 : DH_ERR_NOMEM;
}

static void fed_rules_free(void *list, size_t n)
{
    robot_federation_free(list, n);
}

int robot_federation_get(PGconn *db, int64_t id, struct robot_fed_rule **out, size_t *n,
                         struct store_err *err)
{
    char idbuf[STORE_ID_TEXT];
    *out = NULL;
    *n = 0;
    store_id_text(idbuf, id);
    const char *p[] = {idbuf};
    PGresult *res = db_exec(db, PGRES_TUPLES_OK,
                            "SELECT f.issuer, f.audience, f.subject, f.claims::text,"
                            " r.id IS NOT NULL FROM (SELECT $1::bigint AS id) q"
                            " LEFT JOIN robots r ON r.id = q.id"
                            " LEFT JOIN robot_federation f ON f.robot_id = r.id"
                            " ORDER BY f.position",
                            1, p);
    if (!res)
        return store_internal(err);
    if (PQntuples(res) < 1 || PQgetvalue(res, 0, 4)[0] != 't') {
        PQclear(res);
        return store_fail(err, STORE_NOT_FOUND, "robot not found");
    }
    int rc = 0;
    if (!PQgetisnull(res, 0, 0))
        rc =
            store_list_read(res, sizeof(**out), fed_rule_from_row, fed_rules_free, (void **)out, n);
    PQclear(res);
    return rc < 0 ? store_internal(err) : 0;
}

void robot_networks_free(char **list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        free(list[i]);
    free(list);
}

/* A text[] of cidr output ("{10.0.0.0/8,::1/128}": nothing quoted) into a list. */
static int networks_from_text(const char *text, char ***out, size_t *n)
{
    size_t len = strlen(text), cap = 1;
    *out = NULL;
    *n = 0;
    for (size_t i = 0; i < len; i++)
        cap += text[i] == ',';
    char **list = calloc(cap + 1, sizeof(*list));
    if (!list)
        return DH_ERR_NOMEM;
    const char *p = text + (len && text[0] == '{'),
               *end = text + len - (len && text[len - 1] == '}');
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        list[*n] = strndup(p, (size_t)(stop - p));
        if (!list[(*n)++]) {
            robot_networks_free(list, *n);
            *n = 0;
            return DH_ERR_NOMEM;
        }
        p = comma ? comma + 1 : end;
    }
    *out = list;
    return 0;
}

int robot_networks_set(PGconn *db, int64_t id, const char *const *cidrs, size_t n, char ***out,
                       size_t *nout, struct store_err *err)
{
    struct cidr nets[ROBOT_MAX_NETWORKS];
    char idbuf[STORE_ID_TEXT];
    if (n > ROBOT_MAX_NETWORKS)
        return store_fail(err, STORE_INVALID, "at most %d networks per robot", ROBOT_MAX_NETWORKS);
    /* Each normalized ("a.b.c.d/n"), so the array literal needs no quoting. */
    char *lit = malloc(n * CIDR_TEXT_MAX + 3);
    if (!lit)
        return store_internal(err);
    size_t len = 0;
    lit[len++] = '{';
    for (size_t i = 0; i < n; i++) {
        if (!cidrs[i] || cidr_parse(cidrs[i], strlen(cidrs[i]), &nets[i]) < 0) {
            free(lit);
            return store_fail(err, STORE_INVALID,
                              "networks[%zu] must be an IPv4 or IPv6 network (a.b.c.d/n, "
                              "x:y::/n) or address, without host bits set under the prefix",
                              i);
        }
        for (size_t j = 0; j < i; j++)
            if (memcmp(&nets[i], &nets[j], sizeof(nets[i])) == 0) {
                free(lit);
                return store_fail(err, STORE_INVALID, "networks[%zu] repeats networks[%zu]", i, j);
            }
        char text[CIDR_TEXT_MAX];
        cidr_format(&nets[i], text, sizeof(text));
        len += (size_t)sprintf(lit + len, "%s%s", i ? "," : "", text);
    }
    lit[len++] = '}';
    lit[len] = '\0';
    store_id_text(idbuf, id);
    const char *p[] = {idbuf, lit};
    PGresult *res = db_exec(db, PGRES_TUPLES_OK,
                            "UPDATE robots SET networks = $2::cidr[], update_time = now()"
                            " WHERE id = $1 RETURNING networks::text[]",
                            2, p);
    free(lit);
    if (!res)
        return store_internal(err);
    int rc = 0;
    if (PQntuples(res) != 1)
        rc = store_fail(err, STORE_NOT_FOUND, "robot not found");
    else if (out && networks_from_text(PQgetvalue(res, 0, 0), out, nout) < 0)
        rc = store_internal(err);
    PQclear(res);
    return rc;
}

int robot_networks_get(PGconn *db, int64_t id, char ***out, size_t *n, struct store_err *err)
{
    char idbuf[STORE_ID_TEXT];
    store_id_text(idbuf, id);
    const char *p[] = {idbuf};
    PGresult *res =
        db_exec(db, PGRES_TUPLES_OK, "SELECT networks::text[] FROM robots WHERE id = $1", 1, p);
    if (!res)
        return store_internal(err);
    int rc = 0;
    if (PQntuples(res) != 1)
        rc = store_fail(err, STORE_NOT_FOUND, "robot not found");
    else if (networks_from_text(PQgetvalue(res, 0, 0), out, n) < 0)
        rc = store_internal(err);
    PQclear(res);
    return rc;
}
