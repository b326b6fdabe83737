/* The audit writer: a thread with its own connection that writes the records of the
 * token path (issued tokens, refused logins) in batches, so that no token waits for the
 * database, and moves the robots' last_used (through robots.h). Records wait in memory
 * while the database is away. */
#pragma once
#include <stdint.h>
#include "dockhand/audit.h"

#define AUDIT_QUEUE_MAX 100000 /* records waiting for the writer; more are counted as dropped */
#define AUDIT_BATCH_MAX 1000   /* records per INSERT */
#define AUDIT_FLUSH_MS 200     /* default: longest a record waits before it is written */

struct audit_writer;

/* Starts the writer thread with its own connection to conninfo; a record waits at most
 * flush_ms before it is written. NULL when the thread cannot start. */
struct audit_writer *audit_writer_new(const char *conninfo, int flush_ms);

/* Copies e into the queue; never blocks. Thread-safe. */
void audit_writer_push(struct audit_writer *w, const struct audit_entry *e);

/* A robot got a token that is not recorded (DOCKHAND_AUDIT_TOKENS=0): its last_used still
 * moves, at most once a minute, without an audit row. Never blocks. Thread-safe. */
void audit_writer_used(struct audit_writer *w, int64_t robot_id);

/* For the metrics: records waiting, rows written, records dropped, failed writes (a batch
 * that failed and was retried counts once per attempt). */
struct audit_writer_stats {
    uint64_t queued, written, dropped, write_errors;
};
void audit_writer_stats(struct audit_writer *w, struct audit_writer_stats *s);

/* Writes everything queued, stops the thread and frees w. Accepts NULL. */
void audit_writer_free(struct audit_writer *w);
