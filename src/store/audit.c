/* The audit log's records: shaping one for storage, writing one in the caller's
 * transaction, reading a page, pruning (audit.h). The batching writer thread is
 * audit_writer.c. */
#include "dockhand/audit.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dockhand/clock.h"
#include "dockhand/db.h"
#include "dockhand/encoding.h"
#include "dockhand/store_util.h"

#define AUDIT_PAGE_SIZE_DEFAULT 10    /* audit_list, like the API's other lists */
#define AUDIT_PAGE_SIZE_MAX 100       /* audit_list */
#define AUDIT_FILTER_MAX 1024         /* bytes of one filter string */
#define AUDIT_TIME_MAX 253402300799LL /* 9999-12-31T23:59:59Z */
#define AUDIT_DETAIL_TRUNCATED "{\"truncated\": true}"

/* Longest stored value of each field (bytes); longer values are cut at a character
 * boundary, except detail, which is replaced (cut JSON is no JSON). */
static const size_t field_max[AUDIT_F_COUNT] = {1024, 128, 128, 8192, 256, 256, 65536};

/* Invalid UTF-8 (a login name as a client sent it) would fail the whole INSERT:
 * such bytes become '?'. */
static void field_fix(char *s, size_t len)
{
    if (utf8_valid(s, len))
        return;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            s[i] = '?';
}

struct audit_rec *audit_rec_new(const struct audit_entry *e)
{
    const char *in[AUDIT_F_COUNT] = {e->username,  e->operation,  e->resource_type, e->resource,
                                     e->client_ip, e->request_id, e->detail};
    size_t len[AUDIT_F_COUNT], total = 0;

    /* NOT NULL columns take "" for NULL. */
    for (int i = 0; i < AUDIT_F_CLIENT_IP; i++)
        if (!in[i])
            in[i] = "";
    if (in[AUDIT_F_DETAIL] &&
        strnlen(in[AUDIT_F_DETAIL], field_max[AUDIT_F_DETAIL] + 1) > field_max[AUDIT_F_DETAIL])
        in[AUDIT_F_DETAIL] = AUDIT_DETAIL_TRUNCATED;
    for (int i = 0; i < AUDIT_F_COUNT; i++) {
        len[i] = in[i] ? store_utf8_prefix(in[i], field_max[i]) : 0;
        total += in[i] ? len[i] + 1 : 0;
    }
    struct audit_rec *r = malloc(sizeof(*r) + total);
    if (!r)
        return NULL;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    r->next = NULL;
    r->usec = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
    r->mono_ms = (int64_t)clock_mono_ms();
    r->robot_id = e->robot_id;
    r->row = true;
    char *p = r->buf;
    for (int i = 0; i < AUDIT_F_COUNT; i++) {
        if (!in[i]) {
            r->f[i] = NULL;
            continue;
        }
        memcpy(p, in[i], len[i]);
        p[len[i]] = '\0';
        field_fix(p, len[i]);
        r->f[i] = p;
        p += len[i] + 1;
    }
    return r;
}

/* ---- one record, in the caller's transaction ---------------------------------------- */

int audit_write(PGconn *db, const struct audit_entry *e)
{
    struct audit_rec *r = audit_rec_new(e);
    if (!r)
        return DH_ERR_NOMEM;
    PGresult *res = db_exec(db, PGRES_COMMAND_OK,
                            "INSERT INTO audit_log (username, operation, resource_type, resource,"
                            " client_ip, request_id, detail)"
                            " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)",
                            AUDIT_F_COUNT, r->f);
    free(r);
    if (!res)
        return DH_ERR_DB;
    PQclear(res);
    return 0;
}

/* ---- reading --------------------------------------------------------------------- */

static bool filter_ok(const char *s)
{
    return !s || (strlen(s) <= AUDIT_FILTER_MAX && utf8_valid(s, strlen(s)));
}

static void records_free(void *list, size_t n)
{
    audit_records_free(list, n);
}

void audit_records_free(struct audit_record *list, size_t n)
{
    for (size_t i = 0; list && i < n; i++) {
        free(list[i].username);
        free(list[i].resource);
        free(list[i].resource_type);
        free(list[i].operation);
        free(list[i].op_time);
        free(list[i].client_ip);
        free(list[i].request_id);
        free(list[i].detail);
    }
    free(list);
}

/* Row i of an audit_list result into r; DH_ERR_NOMEM when a copy failed. */
static int record_from_row(const PGresult *res, int i, void *elem)
{
    struct audit_record *r = elem;
    r->id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
    r->username = strdup(PQgetvalue(res, i, 1));
    r->resource = strdup(PQgetvalue(res, i, 2));
    r->resource_type = strdup(PQgetvalue(res, i, 3));
    r->operation = strdup(PQgetvalue(res, i, 4));
    r->op_time = strdup(PQgetvalue(res, i, 5));
    r->client_ip = store_dup_or_null(res, i, 6);
    r->request_id = store_dup_or_null(res, i, 7);
    r->detail = store_dup_or_null(res, i, 8);
    if (!r->username || !r->resource || !r->resource_type || !r->operation || !r->op_time ||
        (!r->client_ip && !PQgetisnull(res, i, 6)) || (!r->request_id && !PQgetisnull(res, i, 7)) ||
        (!r->detail && !PQgetisnull(res, i, 8)))
        return DH_ERR_NOMEM;
    return 0;
}

int audit_list(PGconn *db, const struct audit_filter *f, struct audit_record **out, size_t *n,
               int64_t *total, struct store_err *err)
{
    int64_t page = f->page ? f->page : 1;
    int64_t page_size = f->page_size ? f->page_size : AUDIT_PAGE_SIZE_DEFAULT;
    *out = NULL;
    *n = 0;
    *total = 0;
    if (page < 1 || page > INT64_MAX / AUDIT_PAGE_SIZE_MAX)
        return store_fail(err, STORE_INVALID, "page must be a number from 1");
    if (page_size < 1 || page_size > AUDIT_PAGE_SIZE_MAX)
        return store_fail(err, STORE_INVALID, "page_size must be 1 to %d", AUDIT_PAGE_SIZE_MAX);
    if (!filter_ok(f->operation) || !filter_ok(f->resource) || !filter_ok(f->resource_type) ||
        !filter_ok(f->username))
        return store_fail(err, STORE_INVALID, "filters must be UTF-8 text of at most %d bytes",
                          AUDIT_FILTER_MAX);
    if (f->from < 0 || f->to < 0 || f->from > AUDIT_TIME_MAX || f->to > AUDIT_TIME_MAX)
        return store_fail(err, STORE_INVALID, "times must lie between 1970 and 9999");

    /* Only the filters given, so that each can use its index. */
    char where[512] = "TRUE", frombuf[24], tobuf[24], limbuf[24], offbuf[24];
    const char *params[8];
    int np = 0;
    size_t wl = strlen(where);
#define FILTER(cond, value)                                                                        \
    do {                                                                                           \
        params[np++] = (value);                                                                    \
        wl += (size_t)snprintf(where + wl, sizeof(where) - wl, cond, np);                          \
    } while (0)
    if (f->operation)
        FILTER(" AND operation = $%d", f->operation);
    if (f->resource_type)
        FILTER(" AND resource_type = $%d", f->resource_type);
    if (f->resource)
        FILTER(" AND strpos(resource, $%d) > 0", f->resource);
    if (f->username)
        FILTER(" AND username = $%d", f->username);
    if (f->from) {
        snprintf(frombuf, sizeof(frombuf), "%" PRId64, f->from);
        FILTER(" AND op_time >= to_timestamp($%d::bigint)", frombuf);
    }
    if (f->to) {
        /* Up to the end of that second. */
        snprintf(tobuf, sizeof(tobuf), "%" PRId64, f->to + 1);
        FILTER(" AND op_time < to_timestamp($%d::bigint)", tobuf);
    }
#undef FILTER

    char sql[1024];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit_log WHERE %s", where);
    PGresult *res = db_exec(db, PGRES_TUPLES_OK, sql, np, params);
    if (!res)
        return store_internal(err);
    *total = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);

    snprintf(limbuf, sizeof(limbuf), "%" PRId64, page_size);
    snprintf(offbuf, sizeof(offbuf), "%" PRId64, (page - 1) * page_size);
    params[np] = limbuf;
    params[np + 1] = offbuf;
    snprintf(sql, sizeof(sql),
             "SELECT id, username, resource, resource_type, operation, " STORE_TS_SQL(
                 "op_time") ", client_ip, request_id, detail FROM audit_log WHERE %s"
                            " ORDER BY op_time DESC, id DESC LIMIT $%d::bigint OFFSET $%d::bigint",
             where, np + 1, np + 2);
    res = db_exec(db, PGRES_TUPLES_OK, sql, np + 2, params);
    if (!res)
        return store_internal(err);
    void *list;
    int rc = store_list_read(res, sizeof(**out), record_from_row, records_free, &list, n);
    *out = list;
    PQclear(res);
    return rc < 0 ? store_internal(err) : 0;
}

int audit_prune(PGconn *db, int64_t before, int64_t *deleted, struct store_err *err)
{
    char bbuf[24];
    snprintf(bbuf, sizeof(bbuf), "%" PRId64, before);
    const char *p[] = {bbuf};
    *deleted = 0;
    /* Drops the partitions wholly before the time, deletes the older rows of the one that
     * straddles it and of the DEFAULT partition, and records the prune: one statement,
     * one transaction (sql/008_audit_partitions.sql). */
    PGresult *r =
        db_exec(db, PGRES_TUPLES_OK, "SELECT dockhand_audit_prune(to_timestamp($1))", 1, p);
    if (!r)
        return store_internal(err);
    *deleted = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
}
