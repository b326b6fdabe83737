/* A small pool of non-blocking libpq connections driven by one event_base (docs/design.md §2.1).
 * One query in flight per connection, a FIFO of waiting queries, a deadline on every
 * wait, lazy (re)connection with a short back-off. No call blocks the loop. */
#pragma once
#include <event2/event.h>
#include <libpq-fe.h>
#include "dockhand/common.h"

#define PGPOOL_MAX_QUEUE 4096 /* waiting queries per pool before refusing */
#define PGPOOL_MAX_PARAMS 8
#define PGPOOL_MAX_STMTS 16 /* distinct statements prepared per connection; more run unprepared */

struct pgpool;

/* Called exactly once per query on the pool's loop: res is the query's result with
 * status PGRES_TUPLES_OK or PGRES_COMMAND_OK, or NULL when the database failed, was
 * unreachable or the deadline passed. The pool clears res after the call. */
typedef void (*pgpool_cb)(PGresult *res, void *arg);

/* A pool of size connections to conninfo; none is opened until needed. */
struct pgpool *pgpool_new(struct event_base *base, const char *conninfo, int size, int timeout_ms);

/* Fails every waiting query (their callbacks run) and closes the connections. */
void pgpool_free(struct pgpool *pool);

/* Queues sql with text params (copied). Each distinct sql is prepared once per
 * connection, the first time it runs there. Returns 0 (cb will run later, never inside
 * this call) or DH_ERR_TOOBIG when the queue is full (cb will not run). */
int pgpool_query(struct pgpool *pool, const char *sql, int nparams, const char *const *params,
                 pgpool_cb cb, void *arg) DH_MUST_CHECK;

/* For the metrics, added into *sum (any thread; the pool's loop writes them): connections
 * open and running a query, queries waiting for one, queries sent, queries that failed
 * (no answer, lost connection, an SQL error, deadline), connections opened again after
 * one was up, nanoseconds queries waited for a connection, connections allowed. */
struct pgpool_stats {
    uint64_t open, busy, waiting, queries, errors, reconnects, wait_ns, size;
};
void pgpool_stats_add(struct pgpool *pool, struct pgpool_stats *sum);
