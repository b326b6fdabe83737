/* The audit writer thread (audit_writer.h): a queue of records, written in batches with
 * COPY on the thread's own connection, retried while the database is away, and the
 * robots' last_used moved at most once a minute each (robots.c does the UPDATE). */
#include "dockhand/audit_writer.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dockhand/clock.h"
#include "dockhand/db.h"
#include "dockhand/log.h"
#include "dockhand/robots.h"
#include "dockhand/store_util.h"

#define AUDIT_BACKOFF_MIN_MS 100     /* first wait after a failed connection or write */
#define AUDIT_BACKOFF_MAX_MS 5000    /* longest wait between attempts */
#define AUDIT_SHUTDOWN_GRACE_MS 5000 /* how long audit_writer_free retries an unreachable DB */
#define AUDIT_COLUMNS 8              /* op_time and the seven text fields */
#define AUDIT_TRIM_AFTER 10000       /* a backlog this long, once written, gives its memory back */
#define LAST_USED_EVERY_MS 60000     /* a robot's last_used moves at most this often */
#define LAST_USED_SLOTS 16384        /* robots whose last move is remembered (direct-mapped) */
#define AHEAD_EVERY_MS 3600000       /* how often the audit log's partitions are made ahead */
#define AHEAD_RETRY_MS 60000         /* the next try after that failed */

static void rec_list_free(struct audit_rec *r)
{
    while (r) {
        struct audit_rec *next = r->next;
        free(r);
        r = next;
    }
}

/* ---- the batching writer ------------------------------------------------------------ */

struct audit_writer {
    pthread_mutex_t mu;
    pthread_cond_t wake; /* to the thread: first record, a full batch, or stop */
    struct audit_rec *head, *tail;
    size_t n;         /* records queued (read without the lock by push) */
    uint64_t dropped; /* read without the lock by audit_writer_stats */
    uint64_t written; /* rows, and failed write attempts: the thread's, read relaxed */
    uint64_t write_errors;
    bool stop;
    pthread_t thread;
    char *conninfo;
    int flush_ms;
    PGconn *conn; /* the thread's */
    int backoff_ms;
    bool down_logged;
    int64_t ahead_at; /* clock_mono_ms when the partitions are next made ahead; 0: now */
    /* When the writer last moved a robot's last_used: one robot per slot, a newcomer
     * takes the slot (the one it pushed out is then only moved again sooner). */
    struct {
        int64_t robot_id;
        int64_t at_ms;
    } touched[LAST_USED_SLOTS];
};

static size_t touched_slot(int64_t id)
{
    return (size_t)(((uint64_t)id * 0x9E3779B97F4A7C15ull) >> 32) % LAST_USED_SLOTS;
}

/* When an attempt fails: retry later (the database is away) or give the records up
 * (the database refused them). */
enum write_result { WRITE_OK, WRITE_RETRY, WRITE_REFUSED };

static void drop_count(struct audit_writer *w, uint64_t k, const char *why)
{
    uint64_t before = __atomic_fetch_add(&w->dropped, k, __ATOMIC_RELAXED);
    /* Log the first drop and then at every power of two: bounded, still visible. */
    for (uint64_t d = before + 1; d <= before + k; d++) {
        if ((d & (d - 1)) == 0) {
            log_warn("audit: %" PRIu64 " record(s) dropped so far (%s)", before + k, why);
            break;
        }
    }
}

static void push(struct audit_writer *w, const struct audit_entry *e, bool row);

void audit_writer_push(struct audit_writer *w, const struct audit_entry *e)
{
    if (w && e)
        push(w, e, true);
}

void audit_writer_used(struct audit_writer *w, int64_t robot_id)
{
    if (!w || robot_id <= 0)
        return;
    /* Claimed here, so that the tokens after this one do not queue the same move: two
     * workers racing may both queue it, which only moves last_used twice. */
    size_t s = touched_slot(robot_id);
    int64_t now = (int64_t)clock_mono_ms();
    if (__atomic_load_n(&w->touched[s].robot_id, __ATOMIC_RELAXED) == robot_id &&
        now - __atomic_load_n(&w->touched[s].at_ms, __ATOMIC_RELAXED) < LAST_USED_EVERY_MS)
        return;
    __atomic_store_n(&w->touched[s].robot_id, robot_id, __ATOMIC_RELAXED);
    __atomic_store_n(&w->touched[s].at_ms, now, __ATOMIC_RELAXED);
    struct audit_entry e = {.operation = "", .resource_type = "", .robot_id = robot_id};
    push(w, &e, false);
}

static void push(struct audit_writer *w, const struct audit_entry *e, bool row)
{
    if (__atomic_load_n(&w->n, __ATOMIC_RELAXED) >= AUDIT_QUEUE_MAX) {
        drop_count(w, 1, "queue full");
        return;
    }
    struct audit_rec *r = audit_rec_new(e);
    if (!r) {
        drop_count(w, 1, "out of memory");
        return;
    }
    r->row = row;
    pthread_mutex_lock(&w->mu);
    if (w->n >= AUDIT_QUEUE_MAX) {
        pthread_mutex_unlock(&w->mu);
        free(r);
        drop_count(w, 1, "queue full");
        return;
    }
    if (w->tail)
        w->tail->next = r;
    else
        w->head = r;
    w->tail = r;
    size_t n = w->n + 1;
    __atomic_store_n(&w->n, n, __ATOMIC_RELAXED);
    /* The thread sleeps on an empty queue, and with a partial batch until its flush
     * time: wake it only when that changes. */
    if (n == 1 || n == AUDIT_BATCH_MAX)
        pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
}

void audit_writer_stats(struct audit_writer *w, struct audit_writer_stats *s)
{
    pthread_mutex_lock(&w->mu);
    s->queued = w->n;
    pthread_mutex_unlock(&w->mu);
    s->written = __atomic_load_n(&w->written, __ATOMIC_RELAXED);
    s->dropped = __atomic_load_n(&w->dropped, __ATOMIC_RELAXED);
    s->write_errors = __atomic_load_n(&w->write_errors, __ATOMIC_RELAXED);
}

static void deadline_at(struct timespec *ts, int64_t ms)
{
    ts->tv_sec = (time_t)(ms / 1000);
    ts->tv_nsec = (long)(ms % 1000) * 1000000;
}

/* Connects when there is no usable connection. */
static bool writer_connect(struct audit_writer *w)
{
    /* One the server closed while the writer waited (a restart, a failover) is replaced
     * before the batch is sent, instead of failing it once and waiting a back-off. */
    if (db_usable(w->conn))
        return true;
    PQfinish(w->conn);
    char msg[256];
    w->conn = db_open(w->conninfo, DB_ROLE_AUDIT, 0, msg, sizeof(msg));
    if (!w->conn) {
        if (!w->down_logged) {
            log_warn("audit: cannot connect to the database, records wait in memory: %s", msg);
            w->down_logged = true;
        }
        return false;
    }
    w->ahead_at = 0; /* a new connection (maybe a new primary, a restored database) */
    return true;
}

/* The audit log's daily partitions, made ahead (dockhand_audit_partitions_ahead in
 * sql/008_audit_partitions.sql): at every new connection and then every AHEAD_EVERY_MS,
 * so that the days to come have their partitions however long ago `migrate` ran. A
 * failure is logged and tried again sooner; rows whose day has no partition meanwhile go
 * to the DEFAULT partition, never lost. The call is a few catalog look-ups when nothing
 * is missing. */
static void partitions_ahead(struct audit_writer *w)
{
    bool connected = writer_connect(w);
    int64_t now = (int64_t)clock_mono_ms();
    w->ahead_at = now + AHEAD_RETRY_MS;
    if (!connected)
        return;
    PGresult *res = PQexec(w->conn, "SELECT dockhand_audit_partitions_ahead()");
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        w->ahead_at = now + AHEAD_EVERY_MS;
        int made = atoi(PQgetvalue(res, 0, 0));
        if (made > 0)
            log_info("audit: made %d daily partition(s) of the audit log ahead", made);
    } else {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(w->conn));
        msg[strcspn(msg, "\n")] = '\0';
        log_warn("audit: making the audit log's partitions ahead failed: %s", msg);
        if (PQstatus(w->conn) != CONNECTION_OK) {
            PQfinish(w->conn);
            w->conn = NULL;
        }
    }
    PQclear(res);
}

/* Whether a failed statement is worth retrying on the same or a new connection. */
static bool failure_transient(struct audit_writer *w, const PGresult *res)
{
    if (PQstatus(w->conn) != CONNECTION_OK)
        return true;
    const char *st = db_sqlstate(res);
    /* connection exception, operator intervention (shutdown), insufficient resources,
     * transaction rollback (deadlock, serialization), a read-only server (a standby
     * after a failover), or no SQLSTATE at all */
    return !*st || strncmp(st, "08", 2) == 0 || strncmp(st, "57", 2) == 0 ||
           strncmp(st, "53", 2) == 0 || strncmp(st, "40", 2) == 0 || strcmp(st, "25006") == 0;
}

static void usec_text(int64_t usec, char out[40])
{
    time_t sec = (time_t)(usec / 1000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out + n, 40 - n, ".%06d+00", (int)(usec % 1000000));
}

#define AUDIT_INSERT_COLUMNS                                                                       \
    "audit_log (op_time, username, operation, resource_type, resource, client_ip, request_id,"     \
    " detail)"

/* What a failed or successful statement means for the records it carried; a failure
 * that is worth retrying drops the connection (a new one may reach a new primary). */
static enum write_result write_outcome(struct audit_writer *w, PGresult *res, int k)
{
    if (PQresultStatus(res) == PGRES_COMMAND_OK) {
        if (w->down_logged)
            log_info("audit: writing to the database again");
        w->down_logged = false;
        return WRITE_OK;
    }
    enum write_result result = failure_transient(w, res) ? WRITE_RETRY : WRITE_REFUSED;
    char msg[256];
    snprintf(msg, sizeof(msg), "%s", res ? PQresultErrorMessage(res) : PQerrorMessage(w->conn));
    msg[strcspn(msg, "\n")] = '\0';
    if (result == WRITE_REFUSED || !w->down_logged)
        log_warn("audit: writing %d record(s) failed: %s", k, msg);
    if (result == WRITE_RETRY) {
        w->down_logged = true;
        if (strncmp(db_sqlstate(res), "40", 2) != 0) { /* a deadlock needs no new connection */
            PQfinish(w->conn);
            w->conn = NULL;
        }
    }
    return result;
}

/* One INSERT of the record r: the fallback when the database refuses a batch. */
static enum write_result insert_one(struct audit_writer *w, const struct audit_rec *r)
{
    if (!r->row)
        return WRITE_OK;
    char t[40];
    usec_text(r->usec, t);
    const char *params[AUDIT_COLUMNS] = {t,       r->f[0], r->f[1], r->f[2],
                                         r->f[3], r->f[4], r->f[5], r->f[6]};
    PGresult *res = PQexecParams(w->conn,
                                 "INSERT INTO " AUDIT_INSERT_COLUMNS
                                 " VALUES ($1::timestamptz, $2, $3, $4, $5, $6, $7, $8::jsonb)",
                                 AUDIT_COLUMNS, NULL, params, NULL, NULL, 0);
    enum write_result result = write_outcome(w, res, 1);
    PQclear(res);
    return result;
}

/* Appends s to out in COPY's text format (NULL as \N); returns the bytes written. */
static size_t copy_field(char *out, const char *s)
{
    size_t n = 0;
    if (!s) {
        memcpy(out, "\\N", 2);
        return 2;
    }
    for (; *s; s++) {
        char c = *s;
        const char *esc = c == '\\'   ? "\\\\"
                          : c == '\n' ? "\\n"
                          : c == '\r' ? "\\r"
                          : c == '\t' ? "\\t"
                                      : NULL;
        if (esc) {
            out[n++] = esc[0];
            out[n++] = esc[1];
        } else {
            out[n++] = c;
        }
    }
    return n;
}

/* One COPY of the k records from r. */
static enum write_result copy_rows(struct audit_writer *w, struct audit_rec *r, int k)
{
    size_t cap = 1, len = 0;
    struct audit_rec *x = r;
    int rows = 0;
    for (int i = 0; i < k; i++, x = x->next) {
        rows += x->row;
        cap += 40 + AUDIT_COLUMNS;
        for (int f = 0; f < AUDIT_F_COUNT; f++)
            cap += x->f[f] ? 2 * strlen(x->f[f]) : 2;
    }
    if (rows == 0)
        return WRITE_OK; /* only last_used to move */
    char *buf = malloc(cap);
    if (!buf)
        return WRITE_RETRY;
    for (int i = 0; i < k; i++, r = r->next) {
        if (!r->row)
            continue;
        char t[40];
        usec_text(r->usec, t);
        len += copy_field(buf + len, t);
        for (int f = 0; f < AUDIT_F_COUNT; f++) {
            buf[len++] = '\t';
            len += copy_field(buf + len, r->f[f]);
        }
        buf[len++] = '\n';
    }

    PGresult *res = PQexec(w->conn, "COPY " AUDIT_INSERT_COLUMNS " FROM STDIN");
    if (PQresultStatus(res) == PGRES_COPY_IN) {
        PQclear(res);
        /* A failed send leaves res NULL: the connection is dropped and the batch retried. */
        res = NULL;
        if (PQputCopyData(w->conn, buf, (int)len) == 1 && PQputCopyEnd(w->conn, NULL) == 1) {
            res = PQgetResult(w->conn);
            PGresult *more;
            while ((more = PQgetResult(w->conn)) != NULL)
                PQclear(more);
        }
    }
    free(buf);
    enum write_result result = write_outcome(w, res, k);
    PQclear(res);
    return result;
}

/* last_used of the robots that got tokens in the k records from r, each at most once a
 * LAST_USED_EVERY_MS: updating a robot's row for every token would rewrite the hot robots
 * thousands of times a second (dead rows, vacuum, and index-only scans of the robot list
 * turned into heap reads). A failure is only logged: the next token tries again. */
static void touch_robots(struct audit_writer *w, struct audit_rec *r, int k)
{
    int64_t *ids = malloc(sizeof(*ids) * (size_t)k);
    size_t n = 0;
    if (!ids)
        return;
    for (int i = 0; i < k; i++, r = r->next) {
        if (r->robot_id <= 0)
            continue;
        if (!r->row) { /* audit_writer_used has claimed the slot already */
            ids[n++] = r->robot_id;
            continue;
        }
        if (strcmp(r->f[AUDIT_F_OPERATION], "issue_token") != 0)
            continue;
        size_t s = touched_slot(r->robot_id);
        if (__atomic_load_n(&w->touched[s].robot_id, __ATOMIC_RELAXED) == r->robot_id &&
            r->mono_ms - __atomic_load_n(&w->touched[s].at_ms, __ATOMIC_RELAXED) <
                LAST_USED_EVERY_MS)
            continue;
        __atomic_store_n(&w->touched[s].robot_id, r->robot_id, __ATOMIC_RELAXED);
        __atomic_store_n(&w->touched[s].at_ms, r->mono_ms, __ATOMIC_RELAXED);
        ids[n++] = r->robot_id;
    }
    if (n == 0) {
        free(ids);
        return;
    }
    /* Sorted and distinct (two robots sharing a slot can both be here twice). */
    qsort(ids, n, sizeof(*ids), store_id_cmp);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        if (distinct == 0 || ids[i] != ids[distinct - 1])
            ids[distinct++] = ids[i];
    n = distinct;
    char why[256];
    if (robots_touch_last_used(w->conn, ids, n, why, sizeof(why)) < 0) {
        log_warn("audit: updating robots' last use failed: %s", why);
        for (size_t i = 0; i < n; i++) /* the next token tries again */
            __atomic_store_n(&w->touched[touched_slot(ids[i])].robot_id, 0, __ATOMIC_RELAXED);
    }
    free(ids);
}

/* Writes the k records from r. Returns how many were dealt with (written, or refused
 * by the database and dropped); the rest are to be retried. */
static int write_batch(struct audit_writer *w, struct audit_rec *r, int k)
{
    if (!writer_connect(w))
        return 0;
    if ((int64_t)clock_mono_ms() >= w->ahead_at) {
        partitions_ahead(w);
        if (!writer_connect(w))
            return 0;
    }
    enum write_result res = copy_rows(w, r, k);
    if (res == WRITE_OK) {
        uint64_t rows = 0;
        struct audit_rec *x = r;
        for (int i = 0; i < k; i++, x = x->next)
            rows += x->row; /* a last_used mark is not a row */
        __atomic_fetch_add(&w->written, rows, __ATOMIC_RELAXED);
        touch_robots(w, r, k);
        return k;
    }
    __atomic_fetch_add(&w->write_errors, 1, __ATOMIC_RELAXED);
    if (res == WRITE_RETRY)
        return 0;
    /* One record the database refuses must not hold up the others: one by one, the
     * refused ones dropped. */
    int done = 0;
    for (struct audit_rec *x = r; done < k; x = x->next) {
        res = insert_one(w, x);
        if (res == WRITE_RETRY)
            break;
        if (res == WRITE_OK) {
            __atomic_fetch_add(&w->written, (uint64_t)x->row, __ATOMIC_RELAXED);
            touch_robots(w, x, 1);
        } else {
            __atomic_fetch_add(&w->write_errors, 1, __ATOMIC_RELAXED);
            drop_count(w, 1, "refused by the database");
        }
        done++;
    }
    return done;
}

static void *writer_main(void *arg)
{
    struct audit_writer *w = arg;
    int64_t give_up_at = 0; /* after stop: when to stop retrying an unreachable database */
    size_t peak = 0;        /* the longest queue since the last trim */

    pthread_mutex_lock(&w->mu);
    for (;;) {
        struct timespec ts;
        /* Idle: wait for a record, or until the partitions are due (at the start, then
         * hourly). */
        while (!w->head && !w->stop) {
            if ((int64_t)clock_mono_ms() >= w->ahead_at) {
                pthread_mutex_unlock(&w->mu);
                partitions_ahead(w);
                pthread_mutex_lock(&w->mu);
                continue;
            }
            deadline_at(&ts, w->ahead_at);
            pthread_cond_timedwait(&w->wake, &w->mu, &ts);
        }
        if (!w->head)
            break;
        /* A partial batch waits until its oldest record is flush_ms old. */
        deadline_at(&ts, w->head->mono_ms + w->flush_ms);
        while (w->n < AUDIT_BATCH_MAX && !w->stop &&
               pthread_cond_timedwait(&w->wake, &w->mu, &ts) != ETIMEDOUT)
            ;

        if (w->n > peak)
            peak = w->n;
        /* Take up to a batch off the queue; push keeps appending meanwhile. */
        struct audit_rec *batch = w->head, *last = w->head;
        int k = 1;
        while (k < AUDIT_BATCH_MAX && last->next) {
            last = last->next;
            k++;
        }
        w->head = last->next;
        if (!w->head)
            w->tail = NULL;
        last->next = NULL;
        __atomic_store_n(&w->n, w->n - (size_t)k, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&w->mu);

        int done = write_batch(w, batch, k);
        struct audit_rec *rest = batch;
        for (int i = 0; i < done; i++) {
            struct audit_rec *next = rest->next;
            free(rest);
            rest = next;
        }

        pthread_mutex_lock(&w->mu);
        if (!rest) {
            w->backoff_ms = 0;
            if (!w->head && peak >= AUDIT_TRIM_AFTER) {
                /* A backlog (the database slower than the tokens for a while) left
                 * tens of MB free in the workers' malloc arenas: return it. */
                peak = 0;
                pthread_mutex_unlock(&w->mu);
                malloc_trim(0);
                pthread_mutex_lock(&w->mu);
            }
            continue;
        }
        /* Back at the head, oldest first; the queue may briefly exceed its bound. */
        last->next = w->head;
        w->head = rest;
        if (!w->tail)
            w->tail = last;
        __atomic_store_n(&w->n, w->n + (size_t)(k - done), __ATOMIC_RELAXED);

        int64_t now = (int64_t)clock_mono_ms();
        if (w->stop) {
            if (!give_up_at)
                give_up_at = now + AUDIT_SHUTDOWN_GRACE_MS;
            if (now >= give_up_at) {
                size_t lost = w->n;
                rec_list_free(w->head);
                w->head = w->tail = NULL;
                __atomic_store_n(&w->n, 0, __ATOMIC_RELAXED);
                log_error("audit: database unreachable at shutdown, %zu record(s) lost", lost);
                drop_count(w, lost, "database unreachable at shutdown");
                break;
            }
        }
        w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : AUDIT_BACKOFF_MIN_MS;
        if (w->backoff_ms > AUDIT_BACKOFF_MAX_MS)
            w->backoff_ms = AUDIT_BACKOFF_MAX_MS;
        int64_t until = now + w->backoff_ms;
        if (give_up_at && until > give_up_at)
            until = give_up_at;
        deadline_at(&ts, until);
        /* A stop wakes us early; then we try once more at once and within the grace. */
        bool was_stopping = w->stop;
        while (pthread_cond_timedwait(&w->wake, &w->mu, &ts) != ETIMEDOUT &&
               w->stop == was_stopping)
            ;
    }
    pthread_mutex_unlock(&w->mu);
    PQfinish(w->conn);
    w->conn = NULL;
    return NULL;
}

struct audit_writer *audit_writer_new(const char *conninfo, int flush_ms)
{
    struct audit_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->conninfo = strdup(conninfo ? conninfo : "");
    w->flush_ms = flush_ms > 0 ? flush_ms : AUDIT_FLUSH_MS;
    pthread_condattr_t ca;
    bool cond_ok = false, mu_ok = pthread_mutex_init(&w->mu, NULL) == 0;
    if (pthread_condattr_init(&ca) == 0) {
        cond_ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
                  pthread_cond_init(&w->wake, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (!w->conninfo || !mu_ok || !cond_ok ||
        pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        if (mu_ok)
            pthread_mutex_destroy(&w->mu);
        if (cond_ok)
            pthread_cond_destroy(&w->wake);
        free(w->conninfo);
        free(w);
        return NULL;
    }
    return w;
}

void audit_writer_free(struct audit_writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    rec_list_free(w->head); /* pushed after the thread's last look: a caller's late push */
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->wake);
    free(w->conninfo);
    free(w);
}
