/* The audit writer thread (audit_writer.h): a queue of records, written in batches with
 * COPY on the thread's own connection, retried while the database is away, and the
 * robots' last_used moved at most once a minute each (robots.c does the UPDATE). Beyond
 * the queue's bound, the overflow policy: the caller waits (block), the record goes to
 * the spill file (spill), or it is dropped (drop).
 *
 * The spill file: a header line "dockhand-audit-spill 1 <id>\n", then one line a record
 * in COPY's text format, appended (O_APPEND) by the threads that find the queue full. The
 * writer replays it in chunks of whole lines: each chunk's COPY and the new replay offset
 * of the file <id> (table audit_spill_replay, sql/010_audit_writer.sql) commit in one
 * transaction, so a crash at any point replays nothing twice and loses nothing. Replayed
 * to its end, the file is emptied and takes a new id (the old id's row is then deleted:
 * a crash between leaves a row that names no file). */
#include "dockhand/audit_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

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
#define INDEX_LOCK_KEY "7234316232706246758" /* migrate's lock key + 2: one index builder */
#define REPORT_EVERY_MS 1000                 /* overflow counts are logged at most this often */
#define SPILL_MAGIC "dockhand-audit-spill 1 "
#define SPILL_ID_LEN 32           /* hex digits of a spill file's id */
#define SPILL_CHUNK_MAX (4 << 20) /* bytes of the spill file replayed in one transaction */
#define SPILL_LINE_MAX (1 << 20)  /* a record's line is far shorter (audit.c's limits) */

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
    size_t queue_max; /* the bound of n beyond which the overflow policy applies */
    enum audit_overflow overflow;
    uint64_t dropped; /* read without the lock by audit_writer_stats */
    uint64_t written; /* rows, and failed write attempts: the thread's, read relaxed */
    uint64_t write_errors;
    uint64_t spilled, replayed, blocked, block_timeouts; /* relaxed atomics */
    const char *drop_why; /* the last reason a record was dropped (a constant) */
    /* What the log last said of the overflow counts, and when (the thread's). */
    uint64_t said_dropped, said_spilled, said_blocked, said_timeouts;
    int64_t said_at;
    bool stop;
    pthread_t thread;
    char *conninfo;
    int flush_ms;
    PGconn *conn; /* the thread's */
    int backoff_ms;
    bool down_logged;
    int64_t ahead_at; /* clock_mono_ms when the partitions are next made ahead; 0: now */
    /* The spill file (spill_fd -1: none). spill_size, the id and the file itself change
     * under spill_mu; replay_off is the thread's (read relaxed by the stats). */
    pthread_mutex_t spill_mu;
    int spill_fd;
    char *spill_path;
    int64_t spill_max;
    int64_t spill_size; /* bytes in the file, header included */
    int64_t spill_hdr;  /* bytes of the header */
    int64_t replay_off; /* where the next replay starts; spill_size: all replayed */
    /* The flusher thread (spill_flusher): the file's changes reach the disk within
     * SPILL_SYNC_MS, whatever the writer thread is waiting for. Under spill_mu. */
    uint64_t spill_writes; /* appends and rotations so far */
    pthread_cond_t spill_wake;
    pthread_t spill_thread;
    bool spill_thread_on, spill_stop;
    char spill_id[SPILL_ID_LEN + 1];
    char spill_old_id[SPILL_ID_LEN + 1]; /* an emptied file's id whose row is to delete */
    bool replay_one;                     /* the last chunk was refused: one line at a time */
    /* A cold partition's username index being built (sql/010_audit_writer.sql), on a
     * connection of its own so that the COPYs never wait for it: idx_step 1 drops an
     * invalid one, 2 creates it; 0: nothing under way. */
    PGconn *idx_conn;
    int idx_step;
    bool idx_invalid;
    char idx_part[64];
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

/* Counted here, logged with counts by the thread (overflow_report). */
static void drop_count(struct audit_writer *w, uint64_t k, const char *why)
{
    __atomic_store_n(&w->drop_why, why, __ATOMIC_RELAXED);
    __atomic_fetch_add(&w->dropped, k, __ATOMIC_RELAXED);
}

/* The overflow counts that changed since the log last said them, at most once every
 * REPORT_EVERY_MS (always when final): each line gives the change and the total, so that
 * the log and the metrics agree. */
static void overflow_report(struct audit_writer *w, bool final)
{
    int64_t now = (int64_t)clock_mono_ms();
    if (!final && now - w->said_at < REPORT_EVERY_MS)
        return;
    uint64_t d = __atomic_load_n(&w->dropped, __ATOMIC_RELAXED);
    uint64_t s = __atomic_load_n(&w->spilled, __ATOMIC_RELAXED);
    uint64_t b = __atomic_load_n(&w->blocked, __ATOMIC_RELAXED);
    uint64_t t = __atomic_load_n(&w->block_timeouts, __ATOMIC_RELAXED);
    if (d == w->said_dropped && s == w->said_spilled && b == w->said_blocked &&
        t == w->said_timeouts)
        return;
    double secs = w->said_at ? (double)(now - w->said_at) / 1000.0 : 0.0;
    if (d != w->said_dropped)
        log_warn("audit: %" PRIu64 " record(s) dropped in the last %.1f s (%s), %" PRIu64
                 " dropped in all",
                 d - w->said_dropped, secs, __atomic_load_n(&w->drop_why, __ATOMIC_RELAXED), d);
    if (s != w->said_spilled)
        log_warn("audit: queue full (%zu records): %" PRIu64
                 " record(s) spilled to %s in the last %.1f s, %" PRIu64 " spilled in all",
                 w->queue_max, s - w->said_spilled, w->spill_path, secs, s);
    if (b != w->said_blocked || t != w->said_timeouts)
        log_warn("audit: queue full (%zu records): %" PRIu64
                 " token request(s) waited for room in the last %.1f s, %" PRIu64
                 " of them answered 503; %" PRIu64 " waited, %" PRIu64 " answered 503 in all",
                 w->queue_max, b - w->said_blocked, secs, t - w->said_timeouts, b, t);
    w->said_dropped = d;
    w->said_spilled = s;
    w->said_blocked = b;
    w->said_timeouts = t;
    w->said_at = now;
}

/* ---- the spill file ------------------------------------------------------------------ */

static size_t rec_line_cap(const struct audit_rec *r)
{
    size_t cap = 40 + AUDIT_COLUMNS + 1;
    for (int f = 0; f < AUDIT_F_COUNT; f++)
        cap += r->f[f] ? 2 * strlen(r->f[f]) : 2;
    return cap;
}

static size_t rec_line(const struct audit_rec *r, char *out);

/* A new id for the (empty) spill file, and its header written. Under spill_mu. */
static int spill_new_header(struct audit_writer *w)
{
    unsigned char raw[SPILL_ID_LEN / 2];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return -1;
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(w->spill_id + 2 * i, 3, "%02x", raw[i]);
    char hdr[64];
    int n = snprintf(hdr, sizeof(hdr), SPILL_MAGIC "%s\n", w->spill_id);
    if (write(w->spill_fd, hdr, (size_t)n) != n)
        return -1;
    w->spill_hdr = w->spill_size = n;
    w->spill_writes++;
    return 0;
}

/* Opens the spill file: an empty or new one gets a header; one an earlier run left is
 * kept for replay (its id from the header; a last line cut short, by a crash of the
 * machine, is cut off). Refuses a file that is not a spill file, or that another
 * instance holds (flock). */
static int spill_open(struct audit_writer *w)
{
    w->spill_fd = open(w->spill_path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (w->spill_fd < 0) {
        log_error("audit: cannot open the spill file %s: %s", w->spill_path, strerror(errno));
        return -1;
    }
    if (flock(w->spill_fd, LOCK_EX | LOCK_NB) < 0) {
        log_error("audit: the spill file %s is in use by another process (each instance needs "
                  "its own)",
                  w->spill_path);
        return -1;
    }
    struct stat sb;
    if (fstat(w->spill_fd, &sb) < 0)
        return -1;
    if (sb.st_size == 0) {
        if (spill_new_header(w) < 0) {
            log_error("audit: cannot write the spill file %s: %s", w->spill_path, strerror(errno));
            return -1;
        }
        w->replay_off = w->spill_size;
        return 0;
    }
    char hdr[64];
    ssize_t got = pread(w->spill_fd, hdr, sizeof(hdr) - 1, 0);
    size_t magic = strlen(SPILL_MAGIC);
    if (got < (ssize_t)(magic + SPILL_ID_LEN + 1) || memcmp(hdr, SPILL_MAGIC, magic) != 0 ||
        hdr[magic + SPILL_ID_LEN] != '\n' ||
        strspn(hdr + magic, "0123456789abcdef") != SPILL_ID_LEN) {
        log_error("audit: %s is not a dockhand audit spill file: refusing to use it",
                  w->spill_path);
        return -1;
    }
    memcpy(w->spill_id, hdr + magic, SPILL_ID_LEN);
    w->spill_id[SPILL_ID_LEN] = '\0';
    w->spill_hdr = (int64_t)(magic + SPILL_ID_LEN + 1);
    /* Whole lines only: look back from the end for the last newline. */
    int64_t end = (int64_t)sb.st_size;
    char buf[4096];
    while (end > w->spill_hdr) {
        int64_t from = end - (int64_t)sizeof(buf);
        if (from < w->spill_hdr)
            from = w->spill_hdr;
        ssize_t k = pread(w->spill_fd, buf, (size_t)(end - from), from);
        if (k != end - from)
            return -1;
        char *nl = memrchr(buf, '\n', (size_t)k);
        if (nl) {
            end = from + (nl - buf) + 1;
            break;
        }
        end = from;
    }
    if (end < (int64_t)sb.st_size) {
        log_warn("audit: the spill file %s ended in a partial record (%" PRId64 " bytes): cut off",
                 w->spill_path, (int64_t)sb.st_size - end);
        if (ftruncate(w->spill_fd, end) < 0)
            return -1;
    }
    w->spill_size = end;
    w->replay_off = w->spill_hdr; /* the database knows how far it got */
    if (end > w->spill_hdr)
        log_info("audit: the spill file %s holds %" PRId64
                 " bytes of records from an earlier run: replaying them",
                 w->spill_path, end - w->spill_hdr);
    return 0;
}

/* Appends r to the spill file and frees it; dropped (counted) when the file is full or
 * cannot be written. */
static void spill_append(struct audit_writer *w, struct audit_rec *r)
{
    char *line = malloc(rec_line_cap(r));
    if (!line) {
        free(r);
        drop_count(w, 1, "out of memory");
        return;
    }
    size_t len = rec_line(r, line);
    free(r);
    const char *why = NULL;
    pthread_mutex_lock(&w->spill_mu);
    if (w->spill_hdr == 0 && spill_new_header(w) < 0) {
        why = "spill file write failed";
    } else if (w->spill_size + (int64_t)len > w->spill_max) {
        why = "queue and spill file full";
    } else {
        ssize_t put = write(w->spill_fd, line, len);
        if (put == (ssize_t)len) {
            w->spill_size += (int64_t)len;
            w->spill_writes++;
        } else {
            why = "spill file write failed";
            if (put > 0 && ftruncate(w->spill_fd, w->spill_size) < 0)
                log_error("audit: cannot cut a partial record off the spill file: %s",
                          strerror(errno));
        }
    }
    pthread_mutex_unlock(&w->spill_mu);
    free(line);
    if (why)
        drop_count(w, 1, why);
    else
        __atomic_fetch_add(&w->spilled, 1, __ATOMIC_RELAXED);
}

static int64_t spill_size(struct audit_writer *w)
{
    pthread_mutex_lock(&w->spill_mu);
    int64_t n = w->spill_size;
    pthread_mutex_unlock(&w->spill_mu);
    return n;
}

static bool enqueue(struct audit_writer *w, struct audit_rec *r);

void audit_writer_push(struct audit_writer *w, const struct audit_entry *e)
{
    if (!w || !e)
        return;
    struct audit_rec *r = audit_rec_new(e);
    if (!r) {
        drop_count(w, 1, "out of memory");
        return;
    }
    if (!audit_writer_offer(w, r)) {
        free(r);
        drop_count(w, 1, "queue full");
    }
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
    struct audit_rec *r = audit_rec_new(&e);
    if (!r)
        return;
    r->row = false;
    /* Not a record: a full queue only means last_used moves with a later token. */
    if (!enqueue(w, r))
        free(r);
}

bool audit_writer_offer(struct audit_writer *w, struct audit_rec *r)
{
    if (enqueue(w, r))
        return true;
    switch (w->overflow) {
    case AUDIT_OVERFLOW_BLOCK:
        return false;
    case AUDIT_OVERFLOW_SPILL:
        spill_append(w, r);
        return true;
    case AUDIT_OVERFLOW_DROP:
        break;
    }
    free(r);
    drop_count(w, 1, "queue full");
    return true;
}

enum audit_overflow audit_writer_overflow(const struct audit_writer *w)
{
    return w->overflow;
}

void audit_writer_blocked(struct audit_writer *w, uint64_t waited, uint64_t timed_out)
{
    __atomic_fetch_add(&w->blocked, waited, __ATOMIC_RELAXED);
    __atomic_fetch_add(&w->block_timeouts, timed_out, __ATOMIC_RELAXED);
}

/* Appends r to the queue: false (r not taken) when the queue is full. */
static bool enqueue(struct audit_writer *w, struct audit_rec *r)
{
    if (__atomic_load_n(&w->n, __ATOMIC_RELAXED) >= w->queue_max)
        return false;
    pthread_mutex_lock(&w->mu);
    if (w->n >= w->queue_max) {
        pthread_mutex_unlock(&w->mu);
        return false;
    }
    r->next = NULL;
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
    return true;
}

void audit_writer_stats(struct audit_writer *w, struct audit_writer_stats *s)
{
    pthread_mutex_lock(&w->mu);
    s->queued = w->n;
    pthread_mutex_unlock(&w->mu);
    s->written = __atomic_load_n(&w->written, __ATOMIC_RELAXED);
    s->dropped = __atomic_load_n(&w->dropped, __ATOMIC_RELAXED);
    s->write_errors = __atomic_load_n(&w->write_errors, __ATOMIC_RELAXED);
    s->spilled = __atomic_load_n(&w->spilled, __ATOMIC_RELAXED);
    s->replayed = __atomic_load_n(&w->replayed, __ATOMIC_RELAXED);
    s->blocked = __atomic_load_n(&w->blocked, __ATOMIC_RELAXED);
    s->block_timeouts = __atomic_load_n(&w->block_timeouts, __ATOMIC_RELAXED);
    s->spill_bytes = 0;
    if (w->spill_fd >= 0) {
        int64_t left = spill_size(w) - __atomic_load_n(&w->replay_off, __ATOMIC_RELAXED);
        s->spill_bytes = left > 0 ? (uint64_t)left : 0;
    }
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
static void index_start(struct audit_writer *w);

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
        PQclear(res);
        res = NULL;
        index_start(w);
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

/* ---- username indexes of the cold partitions ------------------------------------------ */

static void index_end(struct audit_writer *w, const char *why)
{
    if (why)
        log_warn("audit: indexing the audit log's partition %s failed: %s", w->idx_part, why);
    PQfinish(w->idx_conn); /* the session's advisory lock goes with it */
    w->idx_conn = NULL;
    w->idx_step = 0;
}

/* Sends the statement of the current step (without waiting). */
static void index_send(struct audit_writer *w)
{
    char sql[256];
    char *ident = PQescapeIdentifier(w->idx_conn, w->idx_part, strlen(w->idx_part));
    char name[80];
    snprintf(name, sizeof(name), "%s_username", w->idx_part);
    char *iname = PQescapeIdentifier(w->idx_conn, name, strlen(name));
    if (!ident || !iname) {
        PQfreemem(ident);
        PQfreemem(iname);
        index_end(w, "out of memory");
        return;
    }
    if (w->idx_step == 1)
        snprintf(sql, sizeof(sql), "DROP INDEX CONCURRENTLY IF EXISTS %s", iname);
    else
        snprintf(sql, sizeof(sql),
                 "CREATE INDEX CONCURRENTLY IF NOT EXISTS %s ON %s (username, op_time DESC, id "
                 "DESC)",
                 iname, ident);
    PQfreemem(ident);
    PQfreemem(iname);
    if (PQsendQuery(w->idx_conn, sql) != 1)
        index_end(w, PQerrorMessage(w->idx_conn));
}

/* Looks for a cold partition without its username index (on the writer's connection, a
 * catalog query) and starts building it on a new connection, unless another instance
 * holds the builder's lock. */
static void index_start(struct audit_writer *w)
{
    if (w->idx_conn)
        return;
    PGresult *res = PQexec(w->conn, "SELECT part, invalid FROM dockhand_audit_cold_unindexed()");
    bool found = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
    if (found) {
        snprintf(w->idx_part, sizeof(w->idx_part), "%s", PQgetvalue(res, 0, 0));
        w->idx_invalid = PQgetvalue(res, 0, 1)[0] == 't';
    }
    PQclear(res);
    if (!found)
        return;
    char msg[256];
    w->idx_conn = db_open(w->conninfo, DB_ROLE_AUDIT, 0, msg, sizeof(msg));
    if (!w->idx_conn)
        return;
    res = PQexec(w->idx_conn, "SELECT pg_try_advisory_lock(" INDEX_LOCK_KEY ")");
    bool locked = PQresultStatus(res) == PGRES_TUPLES_OK && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (!locked) {
        index_end(w, NULL); /* another instance builds it */
        return;
    }
    log_info("audit: indexing the audit log's partition %s by username (its day is over)",
             w->idx_part);
    w->idx_step = w->idx_invalid ? 1 : 2;
    index_send(w);
}

/* Moves the build on when its statement has finished; never waits. */
static void index_poll(struct audit_writer *w)
{
    if (!w->idx_conn)
        return;
    if (PQconsumeInput(w->idx_conn) != 1) {
        index_end(w, PQerrorMessage(w->idx_conn));
        return;
    }
    if (PQisBusy(w->idx_conn))
        return;
    PGresult *res;
    bool ok = true;
    char why[256] = "";
    while ((res = PQgetResult(w->idx_conn)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            ok = false;
            snprintf(why, sizeof(why), "%s", PQresultErrorMessage(res));
            why[strcspn(why, "\n")] = '\0';
        }
        PQclear(res);
    }
    if (!ok) {
        index_end(w, why);
        return;
    }
    if (w->idx_step == 1) {
        w->idx_step = 2;
        index_send(w);
        return;
    }
    log_info("audit: the audit log's partition %s is indexed by username", w->idx_part);
    index_end(w, NULL);
    w->ahead_at = 0; /* another one may be missing: look again */
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

/* r as one line of COPY's text format into out (rec_line_cap bytes); its length. */
static size_t rec_line(const struct audit_rec *r, char *out)
{
    char t[40];
    usec_text(r->usec, t);
    size_t len = copy_field(out, t);
    for (int f = 0; f < AUDIT_F_COUNT; f++) {
        out[len++] = '\t';
        len += copy_field(out + len, r->f[f]);
    }
    out[len++] = '\n';
    return len;
}

/* One COPY of len bytes of COPY text lines on the thread's connection: the result, or
 * NULL when sending failed. */
static PGresult *copy_text(struct audit_writer *w, const char *buf, size_t len)
{
    PGresult *res = PQexec(w->conn, "COPY " AUDIT_INSERT_COLUMNS " FROM STDIN");
    if (PQresultStatus(res) != PGRES_COPY_IN)
        return res;
    PQclear(res);
    /* A failed send leaves res NULL: the connection is dropped and the batch retried. */
    res = NULL;
    if (PQputCopyData(w->conn, buf, (int)len) == 1 && PQputCopyEnd(w->conn, NULL) == 1) {
        res = PQgetResult(w->conn);
        PGresult *more;
        while ((more = PQgetResult(w->conn)) != NULL)
            PQclear(more);
    }
    return res;
}

/* One COPY of the k records from r. */
static enum write_result copy_rows(struct audit_writer *w, struct audit_rec *r, int k)
{
    size_t cap = 1, len = 0;
    struct audit_rec *x = r;
    int rows = 0;
    for (int i = 0; i < k; i++, x = x->next) {
        rows += x->row;
        cap += rec_line_cap(x);
    }
    if (rows == 0)
        return WRITE_OK; /* only last_used to move */
    char *buf = malloc(cap);
    if (!buf)
        return WRITE_RETRY;
    for (int i = 0; i < k; i++, r = r->next)
        if (r->row)
            len += rec_line(r, buf + len);
    PGresult *res = copy_text(w, buf, len);
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

/* ---- replaying the spill file ---------------------------------------------------------- */

#define SPILL_REPLAY_RETRY_MS 1000 /* after a failed replay */
#define SPILL_SYNC_MS 1000         /* appended records reach the disk at most this much later */

/* A statement of the replay's transaction on the thread's connection. */
static PGresult *replay_exec(struct audit_writer *w, const char *sql, int n,
                             const char *const *params)
{
    return PQexecParams(w->conn, sql, n, NULL, params, NULL, NULL, 0);
}

static enum write_result replay_fail(struct audit_writer *w, PGresult *res, int lines)
{
    enum write_result r = write_outcome(w, res, lines);
    PQclear(res);
    if (w->conn && PQtransactionStatus(w->conn) != PQTRANS_IDLE)
        PQclear(PQexec(w->conn, "ROLLBACK"));
    return r;
}

/* The replay offset of the file w->spill_id becomes end, in the open transaction. */
static PGresult *replay_mark(struct audit_writer *w, int64_t end)
{
    char endtext[24];
    snprintf(endtext, sizeof(endtext), "%" PRId64, end);
    const char *p[2] = {w->spill_id, endtext};
    return replay_exec(w,
                       "INSERT INTO audit_spill_replay (file_id, replayed) VALUES ($1, $2)"
                       " ON CONFLICT (file_id) DO UPDATE SET replayed = EXCLUDED.replayed,"
                       " updated_at = now()",
                       2, p);
}

/* Replayed to its end: the file is emptied and takes a new id; the old id's row goes. */
static void spill_rotate(struct audit_writer *w)
{
    pthread_mutex_lock(&w->spill_mu);
    if (w->replay_off >= w->spill_size && w->spill_size > w->spill_hdr) {
        char old[SPILL_ID_LEN + 1];
        memcpy(old, w->spill_id, sizeof(old));
        if (ftruncate(w->spill_fd, 0) < 0 || spill_new_header(w) < 0) {
            /* Appends find no header (spill_hdr 0) and make one first. */
            log_error("audit: cannot empty the spill file %s: %s", w->spill_path, strerror(errno));
            w->spill_hdr = w->spill_size = 0;
        } else {
            memcpy(w->spill_old_id, old, sizeof(old));
        }
        w->spill_writes++;
        __atomic_store_n(&w->replay_off, w->spill_size, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&w->spill_mu);
    if (w->spill_old_id[0] && writer_connect(w)) {
        const char *p[1] = {w->spill_old_id};
        PGresult *res = replay_exec(w, "DELETE FROM audit_spill_replay WHERE file_id = $1", 1, p);
        if (PQresultStatus(res) == PGRES_COMMAND_OK)
            w->spill_old_id[0] = '\0';
        PQclear(res);
    }
}

/* A process crash loses nothing of the spill file (the kernel has it); a machine crash
 * loses at most the last SPILL_SYNC_MS of it: this thread flushes the file to the disk
 * that often while it changes, and once more at the end. Not the writer thread, which may
 * wait long on the database; not the workers, whose loops must not wait on the disk. */
static void *spill_flusher(void *arg)
{
    struct audit_writer *w = arg;
    uint64_t synced = 0;
    bool failed = false, last = false;
    pthread_mutex_lock(&w->spill_mu);
    while (!last) {
        last = w->spill_stop;
        if (!last) {
            struct timespec ts;
            deadline_at(&ts, (int64_t)clock_mono_ms() + SPILL_SYNC_MS);
            pthread_cond_timedwait(&w->spill_wake, &w->spill_mu, &ts);
        }
        uint64_t writes = w->spill_writes;
        if (writes == synced)
            continue;
        pthread_mutex_unlock(&w->spill_mu);
        if (fdatasync(w->spill_fd) == 0) {
            synced = writes;
            failed = false;
        } else if (!failed) {
            failed = true;
            log_error("audit: cannot flush the spill file %s to the disk: %s (retried every %d "
                      "ms)",
                      w->spill_path, strerror(errno), SPILL_SYNC_MS);
        }
        pthread_mutex_lock(&w->spill_mu);
    }
    pthread_mutex_unlock(&w->spill_mu);
    return NULL;
}

static bool spill_pending(struct audit_writer *w)
{
    return w->spill_fd >= 0 && (__atomic_load_n(&w->replay_off, __ATOMIC_RELAXED) < spill_size(w) ||
                                w->spill_old_id[0]);
}

/* Replays one chunk of whole lines of the spill file in one transaction with its new
 * offset. WRITE_OK: progress (or nothing to do); WRITE_RETRY: the database failed. */
static enum write_result spill_replay(struct audit_writer *w)
{
    pthread_mutex_lock(&w->spill_mu);
    int64_t size = w->spill_size, off = w->replay_off;
    pthread_mutex_unlock(&w->spill_mu);
    if (off >= size) {
        spill_rotate(w);
        return WRITE_OK;
    }
    if (!writer_connect(w))
        return WRITE_RETRY;
    size_t want = (size_t)(size - off);
    if (want > SPILL_CHUNK_MAX)
        want = SPILL_CHUNK_MAX;
    char *buf = malloc(want);
    if (!buf)
        return WRITE_RETRY;
    ssize_t got = pread(w->spill_fd, buf, want, off);
    if (got <= 0) {
        log_error("audit: cannot read the spill file %s: %s", w->spill_path,
                  got < 0 ? strerror(errno) : "end of file");
        free(buf);
        return WRITE_RETRY;
    }
    const char *nl =
        w->replay_one ? memchr(buf, '\n', (size_t)got) : memrchr(buf, '\n', (size_t)got);
    size_t len = nl ? (size_t)(nl - buf) + 1 : (size_t)got; /* no newline: not a record */
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += buf[i] == '\n';
    int64_t end = off + (int64_t)len;

    enum write_result result = WRITE_OK;
    PGresult *res = PQexec(w->conn, "BEGIN");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        result = replay_fail(w, res, lines);
        goto out;
    }
    PQclear(res);
    const char *p[1] = {w->spill_id};
    res = replay_exec(w, "SELECT replayed FROM audit_spill_replay WHERE file_id = $1 FOR UPDATE", 1,
                      p);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        result = replay_fail(w, res, lines);
        goto out;
    }
    int64_t done = PQntuples(res) == 1 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    if (done > off) {
        /* Replayed already (a run that stopped before it emptied the file). */
        PQclear(PQexec(w->conn, "COMMIT"));
        if (done > size) {
            log_warn("audit: the spill file %s is shorter than its replayed part: treated as "
                     "replayed",
                     w->spill_path);
            done = size;
        }
        __atomic_store_n(&w->replay_off, done, __ATOMIC_RELAXED);
        goto out;
    }
    if (nl) {
        res = copy_text(w, buf, len);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            result = replay_fail(w, res, lines);
            if (result != WRITE_REFUSED)
                goto out;
            if (lines > 1) { /* find the refused record: one line at a time */
                w->replay_one = true;
                result = WRITE_OK;
                goto out;
            }
            /* This one record is refused: passed over, counted, in a transaction. */
            res = PQexec(w->conn, "BEGIN");
            PQclear(res);
        } else {
            PQclear(res);
        }
    }
    bool refused = !nl || result == WRITE_REFUSED;
    res = replay_mark(w, end);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        result = replay_fail(w, res, lines);
        goto out;
    }
    PQclear(res);
    res = PQexec(w->conn, "COMMIT");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        result = replay_fail(w, res, lines);
        goto out;
    }
    PQclear(res);
    result = WRITE_OK;
    __atomic_store_n(&w->replay_off, end, __ATOMIC_RELAXED);
    if (refused) {
        drop_count(w, nl ? 1 : 0, "refused by the database");
        log_warn("audit: a record of the spill file %s was refused by the database: passed "
                 "over",
                 w->spill_path);
    } else {
        __atomic_fetch_add(&w->replayed, (uint64_t)lines, __ATOMIC_RELAXED);
        __atomic_fetch_add(&w->written, (uint64_t)lines, __ATOMIC_RELAXED);
        w->replay_one = false;
    }
    if (end >= size)
        spill_rotate(w);
out:
    free(buf);
    return result;
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

/* Records the database could not take before the shutdown grace ended: to the spill
 * file (spill), or counted as dropped. Under the lock. */
static void give_up_queue(struct audit_writer *w)
{
    size_t lost = 0, spilled = 0;
    struct audit_rec *r = w->head;
    w->head = w->tail = NULL;
    __atomic_store_n(&w->n, 0, __ATOMIC_RELAXED);
    while (r) {
        struct audit_rec *next = r->next;
        if (!r->row) {
            free(r);
        } else if (w->spill_fd >= 0) {
            spill_append(w, r);
            spilled++;
        } else {
            free(r);
            lost++;
        }
        r = next;
    }
    if (spilled)
        log_error("audit: database unreachable at shutdown, %zu record(s) left in the spill file "
                  "%s for the next start",
                  spilled, w->spill_path);
    if (lost) {
        log_error("audit: database unreachable at shutdown, %zu record(s) lost", lost);
        drop_count(w, lost, "database unreachable at shutdown");
    }
}

static void *writer_main(void *arg)
{
    struct audit_writer *w = arg;
    int64_t give_up_at = 0; /* after stop: when to stop retrying an unreachable database */
    int64_t replay_at = 0;  /* when the spill file may next be replayed */
    size_t peak = 0;        /* the longest queue since the last trim */

    pthread_mutex_lock(&w->mu);
    for (;;) {
        struct timespec ts;
        /* Idle: wait for a record, or until the partitions are due (at the start, then
         * hourly), the spill file is to be replayed, or the overflow counts reported. */
        while (!w->head && !w->stop) {
            int64_t now = (int64_t)clock_mono_ms();
            if (now >= w->ahead_at || (now >= replay_at && spill_pending(w))) {
                pthread_mutex_unlock(&w->mu);
                if (now >= w->ahead_at)
                    partitions_ahead(w);
                else if (spill_replay(w) == WRITE_RETRY)
                    replay_at = now + SPILL_REPLAY_RETRY_MS;
                pthread_mutex_lock(&w->mu);
                continue;
            }
            pthread_mutex_unlock(&w->mu);
            overflow_report(w, false);
            index_poll(w);
            pthread_mutex_lock(&w->mu);
            int64_t until = now + REPORT_EVERY_MS;
            if (w->ahead_at < until)
                until = w->ahead_at;
            deadline_at(&ts, until);
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
        overflow_report(w, false);
        index_poll(w);
        /* Caught up (the queue under half its bound): a chunk of the spill file. */
        int64_t now = (int64_t)clock_mono_ms();
        if (!rest && !w->stop && now >= replay_at &&
            __atomic_load_n(&w->n, __ATOMIC_RELAXED) < w->queue_max / 2 && spill_pending(w) &&
            spill_replay(w) == WRITE_RETRY)
            replay_at = now + SPILL_REPLAY_RETRY_MS;

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

        now = (int64_t)clock_mono_ms();
        if (w->stop) {
            if (!give_up_at)
                give_up_at = now + AUDIT_SHUTDOWN_GRACE_MS;
            if (now >= give_up_at) {
                give_up_queue(w);
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
               w->stop == was_stopping) {
            pthread_mutex_unlock(&w->mu);
            overflow_report(w, false);
            pthread_mutex_lock(&w->mu);
        }
    }
    pthread_mutex_unlock(&w->mu);
    overflow_report(w, true);
    if (w->idx_conn) { /* an interrupted build leaves an invalid index: dropped next time */
        PGcancel *c = PQgetCancel(w->idx_conn);
        char buf[256];
        if (c) {
            PQcancel(c, buf, sizeof(buf));
            PQfreeCancel(c);
        }
        index_end(w, NULL);
    }
    PQfinish(w->conn);
    w->conn = NULL;
    return NULL;
}

static void writer_free(struct audit_writer *w)
{
    if (w->spill_thread_on) {
        pthread_mutex_lock(&w->spill_mu);
        w->spill_stop = true;
        pthread_cond_signal(&w->spill_wake);
        pthread_mutex_unlock(&w->spill_mu);
        pthread_join(w->spill_thread, NULL);
        pthread_cond_destroy(&w->spill_wake);
    }
    if (w->spill_fd >= 0)
        close(w->spill_fd); /* the flock goes with it */
    pthread_mutex_destroy(&w->spill_mu);
    free(w->spill_path);
    free(w->conninfo);
    free(w);
}

struct audit_writer *audit_writer_new(const struct audit_writer_opts *o)
{
    struct audit_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->spill_fd = -1;
    if (pthread_mutex_init(&w->spill_mu, NULL) != 0) {
        free(w);
        return NULL;
    }
    w->conninfo = strdup(o->conninfo ? o->conninfo : "");
    w->flush_ms = o->flush_ms > 0 ? o->flush_ms : AUDIT_FLUSH_MS;
    w->queue_max = o->queue_max > 0 ? (size_t)o->queue_max : AUDIT_QUEUE_MAX;
    w->overflow = o->overflow;
    w->drop_why = "queue full";
    if (!w->conninfo) {
        writer_free(w);
        return NULL;
    }
    if (w->overflow == AUDIT_OVERFLOW_SPILL) {
        w->spill_path = o->spill_path ? strdup(o->spill_path) : NULL;
        w->spill_max = o->spill_max;
        if (!w->spill_path || spill_open(w) < 0) {
            if (!o->spill_path)
                log_error("audit: DOCKHAND_AUDIT_OVERFLOW=spill needs DOCKHAND_AUDIT_SPILL, the "
                          "spill file's path");
            writer_free(w);
            return NULL;
        }
    }
    pthread_condattr_t ca;
    if (w->spill_fd >= 0) {
        bool ok = false;
        if (pthread_condattr_init(&ca) == 0) {
            ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
                 pthread_cond_init(&w->spill_wake, &ca) == 0;
            pthread_condattr_destroy(&ca);
        }
        if (ok && pthread_create(&w->spill_thread, NULL, spill_flusher, w) != 0) {
            pthread_cond_destroy(&w->spill_wake);
            ok = false;
        }
        if (!ok) {
            writer_free(w);
            return NULL;
        }
        w->spill_thread_on = true;
    }
    bool cond_ok = false, mu_ok = pthread_mutex_init(&w->mu, NULL) == 0;
    if (pthread_condattr_init(&ca) == 0) {
        cond_ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
                  pthread_cond_init(&w->wake, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (!mu_ok || !cond_ok || pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        if (mu_ok)
            pthread_mutex_destroy(&w->mu);
        if (cond_ok)
            pthread_cond_destroy(&w->wake);
        writer_free(w);
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
    writer_free(w);
}
