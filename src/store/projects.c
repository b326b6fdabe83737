/* Projects (projects.h). */
#include "dockhand/projects.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/db.h"
#include "dockhand/names.h"
#include "dockhand/store_util.h"

#define PROJECT_COLUMNS                                                                            \
    "p.id, p.name, p.public, " STORE_TS_SQL("p.creation_time") ", " STORE_TS_SQL(                  \
        "p.update_time") ", (SELECT count(*) FROM robots r WHERE r.project_id = p.id)"

void project_deinit(struct project *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->creation_time);
    free(p->update_time);
    memset(p, 0, sizeof(*p));
}

void project_list_free(struct project *list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        project_deinit(&list[i]);
    free(list);
}

static void projects_free(void *list, size_t n)
{
    project_list_free(list, n);
}

static int project_from_row(const PGresult *res, int row, void *elem)
{
    struct project *p = elem;
    memset(p, 0, sizeof(*p));
    p->id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
    p->name = strdup(PQgetvalue(res, row, 1));
    p->public_ = PQgetvalue(res, row, 2)[0] == 't';
    p->creation_time = strdup(PQgetvalue(res, row, 3));
    p->update_time = strdup(PQgetvalue(res, row, 4));
    p->robot_count = strtoll(PQgetvalue(res, row, 5), NULL, 10);
    return p->name && p->creation_time && p->update_time ? 0 : DH_ERR_NOMEM;
}

int project_create(PGconn *db, const char *name, bool public_, struct project *out,
                   struct store_err *err)
{
    if (!name || !name_valid(name))
        return store_fail(err, STORE_INVALID,
                          "invalid project name: use 1-255 of a-z 0-9 and . _ - between them");
    const char *p[] = {name, public_ ? "t" : "f"};
    int created = store_rows(db,
                             "INSERT INTO projects (name, public) VALUES ($1, $2)"
                             " ON CONFLICT (name) DO NOTHING RETURNING id",
                             2, p);
    if (created < 0)
        return store_internal(err);
    if (!created)
        return store_fail(err, STORE_CONFLICT, "project %s already exists", name);
    return out ? project_get(db, name, out, err) : 0;
}

int project_get(PGconn *db, const char *ref, struct project *out, struct store_err *err)
{
    if (!store_text_ok(ref, NAME_MAX_LEN))
        return store_fail(err, STORE_INVALID, "invalid project reference");
    const char *p[] = {ref};
    PGresult *res = db_exec(
        db, PGRES_TUPLES_OK,
        store_all_digits(ref) ? "SELECT " PROJECT_COLUMNS " FROM projects p WHERE p.id = $1::bigint"
                              : "SELECT " PROJECT_COLUMNS " FROM projects p WHERE p.name = $1",
        1, p);
    if (!res)
        return store_internal(err);
    if (PQntuples(res) == 0) {
        PQclear(res);
        return store_fail(err, STORE_NOT_FOUND, "project not found");
    }
    int rc = project_from_row(res, 0, out);
    PQclear(res);
    return rc < 0 ? store_internal(err) : 0;
}

int project_list(PGconn *db, const char *name_part, int64_t page, int64_t page_size,
                 struct project **out, size_t *n, int64_t *total, struct store_err *err)
{
    char limbuf[24], offbuf[24];
    if (page < 1)
        page = 1;
    snprintf(limbuf, sizeof(limbuf), "%" PRId64, page_size > 0 ? page_size : INT64_MAX / 2);
    snprintf(offbuf, sizeof(offbuf), "%" PRId64, page_size > 0 ? (page - 1) * page_size : 0);
    const char *p[] = {name_part, limbuf, offbuf};
    PGresult *res = db_exec(db, PGRES_TUPLES_OK,
                            "SELECT " PROJECT_COLUMNS ", count(*) OVER () FROM projects p"
                            " WHERE $1::text IS NULL OR strpos(p.name, $1) > 0"
                            " ORDER BY p.name LIMIT $2::bigint OFFSET $3::bigint",
                            3, p);
    *out = NULL;
    *n = 0;
    *total = 0;
    if (!res)
        return store_internal(err);
    int rows = PQntuples(res);
    void *list;
    int rc = store_list_read(res, sizeof(**out), project_from_row, projects_free, &list, n);
    *out = list;
    if (rows > 0)
        *total = strtoll(PQgetvalue(res, 0, 6), NULL, 10);
    PQclear(res);
    if (rc < 0)
        return store_internal(err);
    if (rows == 0 && page > 1) {
        /* Past the last page: still report the total. */
        PGresult *cr = db_exec(db, PGRES_TUPLES_OK,
                               "SELECT count(*) FROM projects p"
                               " WHERE $1::text IS NULL OR strpos(p.name, $1) > 0",
                               1, p);
        if (cr)
            *total = strtoll(PQgetvalue(cr, 0, 0), NULL, 10);
        PQclear(cr);
    }
    return 0;
}

int project_delete(PGconn *db, const char *ref, struct store_err *err)
{
    struct project p;
    int rc = project_get(db, ref, &p, err);
    if (rc < 0)
        return rc;
    char idbuf[STORE_ID_TEXT];
    store_id_text(idbuf, p.id);
    project_deinit(&p);
    const char *params[] = {idbuf};
    /* Project robots and every permission on the project go with it (ON DELETE CASCADE). */
    int found = store_rows(db, "DELETE FROM projects WHERE id = $1 RETURNING id", 1, params);
    if (found < 0)
        return store_internal(err);
    return found ? 0 : store_fail(err, STORE_NOT_FOUND, "project not found");
}

int project_ensure(PGconn *db, const char *name, bool public_, int64_t *id, bool *created)
{
    const char *p[] = {name, public_ ? "t" : "f"};
    PGresult *res = db_exec(db, PGRES_TUPLES_OK,
                            "WITH ins AS (INSERT INTO projects (name, public)"
                            " VALUES ($1, $2::boolean) ON CONFLICT (name) DO NOTHING"
                            " RETURNING id)"
                            " SELECT id, true FROM ins"
                            " UNION ALL SELECT id, false FROM projects WHERE name = $1",
                            2, p);
    if (res && PQntuples(res) == 0) {
        /* Another session created it after this statement's snapshot was taken. */
        PQclear(res);
        res = db_exec(db, PGRES_TUPLES_OK, "SELECT id, false FROM projects WHERE name = $1", 1, p);
    }
    if (!res || PQntuples(res) != 1) {
        PQclear(res);
        return DH_ERR_DB;
    }
    *id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    *created = PQgetvalue(res, 0, 1)[0] == 't';
    PQclear(res);
    return 0;
}
