/* The audit writer: a thread with its own connection that writes the records of the
 * token path (issued tokens, refused logins) in batches with COPY, so that no token waits
 * for the database, and moves the robots' last_used (through robots.h). Records wait in
 * memory while the database is away or slower than the tokens, up to a bound; what
 * happens to a record beyond it is the operator's choice (README "The audit log"): the
 * request waits for room (block), the record goes to a local spill file that the writer
 * replays (spill), or it is dropped and counted (drop). */
#pragma once
#include <stdint.h>
#include "dockhand/audit.h"

#define AUDIT_QUEUE_MAX 100000 /* default bound of the records waiting in memory */
#define AUDIT_BATCH_MAX 5000   /* records per COPY */
#define AUDIT_FLUSH_MS 200     /* default: longest a record waits before it is written */

/* What a record that finds the queue full becomes (DOCKHAND_AUDIT_OVERFLOW). */
enum audit_overflow {
    AUDIT_OVERFLOW_BLOCK, /* audit_writer_offer refuses it: the caller waits and tries again */
    AUDIT_OVERFLOW_SPILL, /* appended to the spill file, replayed when the writer catches up */
    AUDIT_OVERFLOW_DROP,  /* dropped and counted */
};

struct audit_writer_opts {
    const char *conninfo;
    int flush_ms;                 /* longest a record waits; 0: AUDIT_FLUSH_MS */
    int queue_max;                /* records waiting in memory; 0: AUDIT_QUEUE_MAX */
    enum audit_overflow overflow; /* beyond queue_max */
    const char *spill_path;       /* the spill file (spill only) */
    int64_t spill_max;            /* its largest size in bytes; more records are dropped */
};

struct audit_writer;

/* Starts the writer thread with its own connection. Under spill, opens (or makes) the
 * spill file first and replays what an earlier run left in it. NULL when the thread
 * cannot start or the spill file cannot be used (logged). */
struct audit_writer *audit_writer_new(const struct audit_writer_opts *o);

/* Copies e into the queue; never blocks. Under block, a record that finds the queue
 * full is dropped and counted: callers that must not lose it use audit_writer_offer.
 * Thread-safe. */
void audit_writer_push(struct audit_writer *w, const struct audit_entry *e);

/* Queues r (from audit_rec_new) and takes it: true. Under block with the queue full:
 * false, r is still the caller's (wait, offer it again, or free it). Under spill and
 * drop it is always taken (queued, spilled or dropped). Never blocks. Thread-safe. */
bool audit_writer_offer(struct audit_writer *w, struct audit_rec *r);

/* The overflow policy w was started with. */
enum audit_overflow audit_writer_overflow(const struct audit_writer *w);

/* Under block: a request waited for room (waited), or gave up and was answered 503
 * (timed_out). For the metrics and the log. Thread-safe. */
void audit_writer_blocked(struct audit_writer *w, uint64_t waited, uint64_t timed_out);

/* A robot got a token that is not recorded (DOCKHAND_AUDIT_TOKENS=0): its last_used still
 * moves, at most once a minute, without an audit row. Never blocks. Thread-safe. */
void audit_writer_used(struct audit_writer *w, int64_t robot_id);

/* For the metrics: records waiting, rows written, records dropped, failed writes (a batch
 * that failed and was retried counts once per attempt); records spilled and replayed,
 * the spill file's unreplayed bytes; requests that waited for room and that gave up. */
struct audit_writer_stats {
    uint64_t queued, written, dropped, write_errors;
    uint64_t spilled, replayed, spill_bytes;
    uint64_t blocked, block_timeouts;
};
void audit_writer_stats(struct audit_writer *w, struct audit_writer_stats *s);

/* Writes everything queued, stops the thread and frees w. Under spill, what the
 * database cannot take within the shutdown grace goes to the spill file. Accepts NULL. */
void audit_writer_free(struct audit_writer *w);
