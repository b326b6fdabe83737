#include "dockhand/pgasync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "dockhand/db.h"
#include "dockhand/log.h"
#include "dockhand/metrics.h"

#define PGPOOL_BACKOFF_MS 250 /* after a failed connect, before the next try */

struct pgquery {
    TAILQ_ENTRY(pgquery) link;
    char *sql;
    int nparams;
    char *params[PGPOOL_MAX_PARAMS];
    pgpool_cb cb;
    void *arg;
    struct timespec deadline;
    bool retried; /* sent once on a connection that turned out to be dead */
    int stmt;     /* index of the pool's prepared statement for sql, or -1 */
};
TAILQ_HEAD(pgquery_list, pgquery);

enum pgconn_state { PC_DOWN, PC_CONNECTING, PC_IDLE, PC_BUSY };

struct pgconn {
    struct pgpool *pool;
    PGconn *conn;
    enum pgconn_state state;
    struct event *ev;      /* socket readiness + deadline */
    struct pgquery *query; /* in flight (PC_BUSY) */
    unsigned prepared;     /* bit i: statement i is prepared on this connection */
    bool preparing;        /* the statement of query is being prepared */
    PGresult *result;      /* first result of the query in flight */
    struct timespec retry_at;
    bool was_up; /* opened before: the next open is a reconnect */
};

struct pgpool {
    struct event_base *base;
    struct db_params params; /* the URL plus db.c's defaults for the worker role */
    int size;
    int timeout_ms;
    struct pgconn *conns;
    struct pgquery_list waiting;
    int nwaiting;
    struct event *kick; /* runs dispatch from the loop, never from pgpool_query's caller */
    /* Every distinct statement is prepared once per connection (planning the token
     * lookup costs several times its execution). */
    char *stmts[PGPOOL_MAX_STMTS];
    int nstmts;
    /* For the metrics: written on the pool's loop only (metric_add), read by the scraper. */
    struct {
        metric_t open, busy, waiting, queries, errors, reconnects, wait_ns;
    } m;
};

/* Every state change goes through here, so the open and busy gauges stay true. */
static void conn_set(struct pgconn *c, enum pgconn_state to)
{
    struct pgpool *pool = c->pool;
    bool open_before = c->state == PC_IDLE || c->state == PC_BUSY;
    bool open_after = to == PC_IDLE || to == PC_BUSY;
    if (open_before != open_after)
        atomic_store_explicit(&pool->m.open,
                              metric_get(&pool->m.open) + (open_after ? 1 : (uint64_t)-1),
                              memory_order_relaxed);
    if ((c->state == PC_BUSY) != (to == PC_BUSY))
        atomic_store_explicit(&pool->m.busy,
                              metric_get(&pool->m.busy) + (to == PC_BUSY ? 1 : (uint64_t)-1),
                              memory_order_relaxed);
    if (open_after)
        c->was_up = true;
    c->state = to;
}

static void waiting_changed(struct pgpool *pool)
{
    atomic_store_explicit(&pool->m.waiting, (uint64_t)pool->nwaiting, memory_order_relaxed);
}

static void conn_arm(struct pgconn *c, short what);
static void conn_send(struct pgconn *c, struct pgquery *q);
static void dispatch(struct pgpool *pool);

static void ts_now(struct timespec *ts)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
}

static long ms_until(const struct timespec *t)
{
    struct timespec now;
    ts_now(&now);
    return (t->tv_sec - now.tv_sec) * 1000 + (t->tv_nsec - now.tv_nsec) / 1000000;
}

static void ts_add_ms(struct timespec *t, long ms)
{
    t->tv_sec += ms / 1000;
    t->tv_nsec += (ms % 1000) * 1000000;
    if (t->tv_nsec >= 1000000000) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000;
    }
}

static void query_finish(struct pgpool *pool, struct pgquery *q, PGresult *res)
{
    if (!res)
        metric_add(&pool->m.errors, 1);
    q->cb(res, q->arg);
    PQclear(res);
    free(q->sql);
    for (int i = 0; i < q->nparams; i++)
        free(q->params[i]);
    free(q);
}

/* Closes c. Its query in flight fails, or when requeue is set and the query was not
 * retried yet, goes back to the head of the queue: a pooled connection can die
 * unnoticed (a database restart), and the statements sent here are reads. */
static void conn_down(struct pgconn *c, bool backoff, bool requeue)
{
    if (c->ev) {
        event_free(c->ev);
        c->ev = NULL;
    }
    PQfinish(c->conn);
    c->conn = NULL;
    PQclear(c->result);
    c->result = NULL;
    conn_set(c, PC_DOWN);
    c->prepared = 0;
    c->preparing = false;
    ts_now(&c->retry_at);
    if (backoff)
        ts_add_ms(&c->retry_at, PGPOOL_BACKOFF_MS);
    if (c->query) {
        struct pgquery *q = c->query;
        c->query = NULL;
        if (requeue && !q->retried) {
            q->retried = true;
            TAILQ_INSERT_HEAD(&c->pool->waiting, q, link);
            c->pool->nwaiting++;
            waiting_changed(c->pool);
        } else {
            query_finish(c->pool, q, NULL);
        }
    }
}

/* True when some connection is up or on its way up, so waiting queries may wait. */
static bool pool_has_hope(struct pgpool *pool)
{
    for (int i = 0; i < pool->size; i++)
        if (pool->conns[i].state != PC_DOWN)
            return true;
    return false;
}

static void fail_waiting(struct pgpool *pool)
{
    struct pgquery *q;
    while ((q = TAILQ_FIRST(&pool->waiting))) {
        TAILQ_REMOVE(&pool->waiting, q, link);
        pool->nwaiting--;
        waiting_changed(pool);
        query_finish(pool, q, NULL);
    }
}

static void conn_event(evutil_socket_t fd, short what, void *arg);

/* The connection broke under a query: retry it elsewhere once, or fail. */
static void conn_lost(struct pgconn *c)
{
    struct pgpool *pool = c->pool;
    log_warn("database: %s", c->conn ? PQerrorMessage(c->conn) : "connection lost");
    conn_down(c, true, true);
    if (!pool_has_hope(pool))
        fail_waiting(pool);
    dispatch(pool);
}

/* An idle connection: watched so that one the server closed is dropped at once. */
static void conn_idle(struct pgconn *c)
{
    if (c->ev)
        event_free(c->ev);
    conn_set(c, PC_IDLE);
    c->ev = event_new(c->pool->base, PQsocket(c->conn), EV_READ | EV_PERSIST, conn_event, c);
    if (!c->ev || event_add(c->ev, NULL) < 0)
        conn_down(c, true, false);
}

static void conn_event(evutil_socket_t fd, short what, void *arg)
{
    struct pgconn *c = arg;
    struct pgpool *pool = c->pool;

    if (what & EV_TIMEOUT) {
        log_warn("database: no answer within %d ms; resetting the connection", pool->timeout_ms);
        conn_down(c, true, false);
        if (!pool_has_hope(pool))
            fail_waiting(pool);
        dispatch(pool);
        return;
    }

    if (c->state == PC_IDLE) {
        if (!PQconsumeInput(c->conn) || PQstatus(c->conn) != CONNECTION_OK) {
            log_info("database: an idle connection was closed by the server");
            conn_down(c, false, false);
            dispatch(pool);
        }
        return;
    }

    if (c->state == PC_CONNECTING) {
        switch (PQconnectPoll(c->conn)) {
        case PGRES_POLLING_READING:
            conn_arm(c, EV_READ);
            return;
        case PGRES_POLLING_WRITING:
            conn_arm(c, EV_WRITE);
            return;
        case PGRES_POLLING_OK:
            if (PQsetnonblocking(c->conn, 1) != 0) {
                conn_down(c, true, false);
                break;
            }
            conn_idle(c);
            break;
        default:
            log_warn("database: connection failed: %s", PQerrorMessage(c->conn));
            conn_down(c, true, false);
            if (!pool_has_hope(pool))
                fail_waiting(pool);
            break;
        }
        dispatch(pool);
        return;
    }

    /* PC_BUSY: flush what is left to send, then read. */
    if (what & EV_WRITE) {
        int f = PQflush(c->conn);
        if (f < 0) {
            conn_lost(c);
            return;
        }
        if (f == 1) {
            conn_arm(c, EV_READ | EV_WRITE);
            return;
        }
    }
    if (!PQconsumeInput(c->conn)) {
        conn_lost(c);
        return;
    }
    while (!PQisBusy(c->conn)) {
        PGresult *r = PQgetResult(c->conn);
        if (!r && c->preparing) {
            /* The statement is prepared: now send the query itself. */
            struct pgquery *q = c->query;
            bool ok = PQresultStatus(c->result) == PGRES_COMMAND_OK;
            if (!ok)
                log_error("database: %s", PQresultErrorMessage(c->result));
            PQclear(c->result);
            c->result = NULL;
            c->preparing = false;
            if (ok) {
                c->prepared |= 1u << q->stmt;
                conn_send(c, q);
                if (c->state == PC_DOWN) { /* the query went back to the queue */
                    if (!pool_has_hope(pool))
                        fail_waiting(pool);
                    dispatch(pool);
                }
                return;
            }
            c->query = NULL;
            conn_idle(c);
            query_finish(pool, q, NULL);
            dispatch(pool);
            return;
        }
        if (!r) {
            /* The query is complete. */
            struct pgquery *q = c->query;
            PGresult *res = c->result;
            c->query = NULL;
            c->result = NULL;
            if (PQstatus(c->conn) == CONNECTION_OK)
                conn_idle(c);
            else
                conn_down(c, true, false);
            ExecStatusType st = PQresultStatus(res);
            if (res && st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
                log_error("database: %s", PQresultErrorMessage(res));
                PQclear(res);
                res = NULL;
            }
            query_finish(pool, q, res);
            dispatch(pool);
            return;
        }
        if (!c->result)
            c->result = r;
        else
            PQclear(r);
    }
    conn_arm(c, EV_READ);
}

/* Waits for what on the connection's current socket (which may change while
 * connecting), with the pool's deadline. */
static void conn_arm(struct pgconn *c, short what)
{
    struct timeval tv = {c->pool->timeout_ms / 1000, (c->pool->timeout_ms % 1000) * 1000};
    if (c->ev)
        event_free(c->ev);
    c->ev = event_new(c->pool->base, PQsocket(c->conn), what, conn_event, c);
    if (!c->ev || event_add(c->ev, &tv) < 0) {
        log_error("database: cannot watch the connection");
        conn_down(c, true, false);
    }
}

static void conn_start(struct pgconn *c)
{
    if (c->was_up)
        metric_add(&c->pool->m.reconnects, 1);
    c->conn = PQconnectStartParams(c->pool->params.keys, c->pool->params.values, 1);
    if (!c->conn || PQstatus(c->conn) == CONNECTION_BAD) {
        log_warn("database: cannot start a connection: %s",
                 c->conn ? PQerrorMessage(c->conn) : "out of memory");
        conn_down(c, true, false);
        return;
    }
    PQsetNoticeProcessor(c->conn, db_notice_to_log, NULL);
    conn_set(c, PC_CONNECTING);
    conn_arm(c, EV_WRITE);
}

static void conn_send(struct pgconn *c, struct pgquery *q)
{
    const char *const *params = (const char *const *)q->params;
    char name[16];
    int ok;

    c->query = q;
    conn_set(c, PC_BUSY);
    if (!q->retried) {
        /* How long it waited for a connection: from queueing (deadline - timeout) to now. */
        struct timespec now;
        ts_now(&now);
        int64_t waited = ((int64_t)now.tv_sec - q->deadline.tv_sec) * 1000000000 +
                         (now.tv_nsec - q->deadline.tv_nsec) +
                         (int64_t)c->pool->timeout_ms * 1000000;
        metric_add(&c->pool->m.queries, 1);
        metric_add(&c->pool->m.wait_ns, waited > 0 ? (uint64_t)waited : 0);
    }
    snprintf(name, sizeof(name), "dh_%d", q->stmt);
    if (q->stmt < 0) {
        ok = PQsendQueryParams(c->conn, q->sql, q->nparams, NULL, params, NULL, NULL, 0);
    } else if (!(c->prepared & (1u << q->stmt))) {
        c->preparing = true;
        ok = PQsendPrepare(c->conn, name, q->sql, q->nparams, NULL);
    } else {
        ok = PQsendQueryPrepared(c->conn, name, q->nparams, params, NULL, NULL, 0);
    }
    if (!ok) {
        /* dispatch goes on with the requeued query. */
        log_warn("database: %s", PQerrorMessage(c->conn));
        conn_down(c, true, true);
        return;
    }
    conn_arm(c, EV_READ | EV_WRITE);
}

static void dispatch(struct pgpool *pool)
{
    struct pgquery *q;

    /* Drop waiting queries whose deadline passed. */
    while ((q = TAILQ_FIRST(&pool->waiting)) && ms_until(&q->deadline) <= 0) {
        TAILQ_REMOVE(&pool->waiting, q, link);
        pool->nwaiting--;
        waiting_changed(pool);
        query_finish(pool, q, NULL);
    }
    for (int i = 0; i < pool->size && !TAILQ_EMPTY(&pool->waiting); i++) {
        struct pgconn *c = &pool->conns[i];
        if (c->state == PC_IDLE) {
            q = TAILQ_FIRST(&pool->waiting);
            TAILQ_REMOVE(&pool->waiting, q, link);
            pool->nwaiting--;
            waiting_changed(pool);
            conn_send(c, q);
        }
    }
    if (TAILQ_EMPTY(&pool->waiting))
        return;
    /* Open one more connection when all are busy or down. */
    int connecting = 0;
    for (int i = 0; i < pool->size; i++)
        connecting += pool->conns[i].state == PC_CONNECTING;
    if (connecting == 0) {
        for (int i = 0; i < pool->size; i++) {
            struct pgconn *c = &pool->conns[i];
            if (c->state == PC_DOWN && ms_until(&c->retry_at) <= 0) {
                conn_start(c); /* on failure c is down again: the check below sees it */
                break;
            }
        }
    }
    if (!pool_has_hope(pool))
        fail_waiting(pool);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
    dispatch(arg);
}

struct pgpool *pgpool_new(struct event_base *base, const char *conninfo, int size, int timeout_ms)
{
    struct pgpool *pool = calloc(1, sizeof(*pool));
    if (!pool)
        return NULL;
    pool->base = base;
    pool->size = size;
    pool->timeout_ms = timeout_ms;
    pool->conns = calloc((size_t)size, sizeof(*pool->conns));
    pool->kick = event_new(base, -1, 0, kick_cb, pool);
    TAILQ_INIT(&pool->waiting);
    if (db_params_init(&pool->params, conninfo, DB_ROLE_WORKER, 0) < 0 || !pool->conns ||
        !pool->kick) {
        pgpool_free(pool);
        return NULL;
    }
    for (int i = 0; i < size; i++)
        pool->conns[i].pool = pool;
    return pool;
}

void pgpool_free(struct pgpool *pool)
{
    if (!pool)
        return;
    fail_waiting(pool);
    for (int i = 0; pool->conns && i < pool->size; i++)
        conn_down(&pool->conns[i], false, false);
    if (pool->kick)
        event_free(pool->kick);
    for (int i = 0; i < pool->nstmts; i++)
        free(pool->stmts[i]);
    free(pool->conns);
    db_params_deinit(&pool->params);
    free(pool);
}

int pgpool_query(struct pgpool *pool, const char *sql, int nparams, const char *const *params,
                 pgpool_cb cb, void *arg)
{
    if (pool->nwaiting >= PGPOOL_MAX_QUEUE || nparams > PGPOOL_MAX_PARAMS)
        return DH_ERR_TOOBIG;
    struct pgquery *q = calloc(1, sizeof(*q));
    if (!q)
        return DH_ERR_NOMEM;
    q->sql = strdup(sql);
    q->nparams = nparams;
    q->cb = cb;
    q->arg = arg;
    bool ok = q->sql != NULL;
    for (int i = 0; i < nparams; i++) {
        if (params[i]) {
            q->params[i] = strdup(params[i]);
            ok = ok && q->params[i];
        }
    }
    if (!ok) {
        free(q->sql);
        for (int i = 0; i < nparams; i++)
            free(q->params[i]);
        free(q);
        return DH_ERR_NOMEM;
    }
    q->stmt = -1;
    for (int i = 0; i < pool->nstmts && q->stmt < 0; i++)
        if (strcmp(pool->stmts[i], sql) == 0)
            q->stmt = i;
    if (q->stmt < 0 && pool->nstmts < PGPOOL_MAX_STMTS) {
        pool->stmts[pool->nstmts] = strdup(sql);
        if (pool->stmts[pool->nstmts])
            q->stmt = pool->nstmts++;
    }
    ts_now(&q->deadline);
    ts_add_ms(&q->deadline, pool->timeout_ms);
    TAILQ_INSERT_TAIL(&pool->waiting, q, link);
    pool->nwaiting++;
    waiting_changed(pool);
    event_active(pool->kick, 0, 0);
    return 0;
}

void pgpool_stats_add(struct pgpool *pool, struct pgpool_stats *sum)
{
    sum->open += metric_get(&pool->m.open);
    sum->busy += metric_get(&pool->m.busy);
    sum->waiting += metric_get(&pool->m.waiting);
    sum->queries += metric_get(&pool->m.queries);
    sum->errors += metric_get(&pool->m.errors);
    sum->reconnects += metric_get(&pool->m.reconnects);
    sum->wait_ns += metric_get(&pool->m.wait_ns);
    sum->size += (uint64_t)pool->size;
}
