/* Client connections of the public listener (README "How it runs", "Connections"): how many
 * are open (DOCKHAND_MAX_CONNECTIONS per instance), what each is doing, and the deadlines
 * that close the ones that do nothing or crawl:
 *   idle     no request under way (new, or kept alive after a reply): DOCKHAND_IDLE_TIMEOUT;
 *   headers  from a request's first byte to the end of its headers: DOCKHAND_HEADER_TIMEOUT;
 *   body     from the end of the headers to the end of the body: DOCKHAND_BODY_TIMEOUT;
 *   busy     handed to a handler: no deadline here (the handlers have their own).
 * The deadlines are for the whole phase, not per read: one byte a second does not extend
 * them. At the cap, the connection idle longest is closed to make room; when none is idle,
 * the worker stops accepting until a connection closes. accept() failing for want of
 * descriptors (EMFILE, ENFILE, ENOBUFS, ENOMEM) pauses accepting for CONNS_FD_PAUSE_MS.
 * Both are logged at most once a second, with counts, and counted in the metrics.
 *
 * One struct conns per worker, used on that worker's loop only; struct conns_shared is
 * the instance's, shared by the workers (atomics). */
#pragma once
#include <event2/http.h>
#include <event2/listener.h>
#include <stdatomic.h>
#include "dockhand/common.h"
#include "dockhand/metrics.h"

#define CONNS_FD_PAUSE_MS 100      /* accepting paused after accept() ran out of descriptors */
#define CONNS_FD_RESERVE 256       /* descriptors kept back from the automatic cap (database, */
                                   /* keys, log, metrics scrapes), plus the workers' pools */
#define CONNS_MIN 16               /* the automatic cap's floor */
#define CONNS_CLOSE_BATCH 64       /* connections a deadline closes in one loop pass, at most */
#define CONNS_LOG_INTERVAL_MS 1000 /* at most one line a second for each condition */

enum conns_close_reason {
    CONNS_CLOSED_IDLE,    /* DOCKHAND_IDLE_TIMEOUT */
    CONNS_CLOSED_HEADERS, /* DOCKHAND_HEADER_TIMEOUT */
    CONNS_CLOSED_BODY,    /* DOCKHAND_BODY_TIMEOUT */
    CONNS_CLOSED_EVICTED, /* idle, closed to make room at the cap */
    CONNS_CLOSE_REASONS
};

enum conns_pause_cause { CONNS_PAUSE_CAP, CONNS_PAUSE_FDS, CONNS_PAUSE_CAUSES };

struct conns;

/* The instance's connection accounting. */
struct conns_shared {
    atomic_int open; /* connections accepted and not yet closed, all workers */
    int max;         /* the cap */
    int idle_ms, header_ms, body_ms;
    metric_t accepted;
    metric_t closed[CONNS_CLOSE_REASONS];
    metric_t paused[CONNS_PAUSE_CAUSES];
    atomic_int npaused; /* workers not accepting because of the cap */
    struct conns *workers[256];
    atomic_int nworkers;
    /* rate limit of the log lines, per cause: the last line's time and counts then */
    _Atomic uint64_t log_ms[CONNS_PAUSE_CAUSES];
    _Atomic uint64_t logged_paused[CONNS_PAUSE_CAUSES];
    _Atomic uint64_t logged_evicted;
};

/* Raises the soft RLIMIT_NOFILE to the hard one (logged) and returns the soft limit now
 * (0 when unknown). */
long conns_raise_fd_limit(void);

/* The cap for a setting (0: automatic, the descriptor limit less CONNS_FD_RESERVE and the
 * workers' database connections, at least CONNS_MIN) and the descriptor limit; a setting
 * above what the limit leaves is kept, with a warning. */
int conns_cap(int setting, long fd_limit, int reserved);

/* Fills sh (zeroed by the caller) with the cap and the deadlines, in seconds. */
void conns_shared_init(struct conns_shared *sh, int max, int idle_s, int header_s, int body_s);

/* The accounting of one worker's evhttp, bound to its listener (bound). Sets the evhttp's
 * bufferevent callback: make_bev (with make_arg) makes each connection's bufferevent,
 * or a plain socket one when NULL. NULL when out of memory. */
struct conns *conns_new(struct conns_shared *sh, struct event_base *base, struct evhttp *http,
                        struct evhttp_bound_socket *bound,
                        struct bufferevent *(*make_bev)(struct event_base *, void *),
                        void *make_arg);

/* A request of this worker reaches its handler: its connection is busy until the reply
 * is sent. Call from the evhttp's request callback. */
void conns_request_busy(struct conns *c, struct evhttp_request *req);

/* req's reply is written: its connection is idle again (or reads the next request). A
 * request has one completion callback: conns_request_busy sets one that does this, and a
 * reply that sets its own (http_reply, which counts requests in flight for the drain) must
 * call this from it. */
void conns_request_done(struct conns *c, struct evhttp_request *req);

/* The listener is about to be freed (shutdown): never touch it again. */
void conns_stop_accepting(struct conns *c);

/* Frees c after its evhttp has been freed (which closed its connections). NULL is fine. */
void conns_free(struct conns *c);

/* Another listener (the metrics one): accept() out of descriptors pauses it for
 * CONNS_FD_PAUSE_MS instead of spinning; counted and logged with sh's. The guard lives
 * until conns_guard_free, which is called before the listener is freed. */
struct conns_guard;
struct conns_guard *conns_guard_new(struct conns_shared *sh, struct event_base *base,
                                    struct evhttp *http, struct evhttp_bound_socket *bound);
void conns_guard_free(struct conns_guard *g);
