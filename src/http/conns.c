#include "dockhand/conns.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "dockhand/clock.h"
#include "dockhand/log.h"

/* How libevent 2.1 is used here (it has no per-connection hook of its own for a server):
 * the bufferevent callback sees each accepted connection first, before its
 * evhttp_connection exists; a reference on the bufferevent keeps it readable until the
 * worker's "adopt" event, later in the same loop pass, finds the evhttp_connection (the
 * bufferevent's callback argument) and sets its close callback, which fires exactly once
 * when the evhttp frees it (or cleared callbacks say it is already gone). A callback on
 * the input buffer sees every read, so a phase's deadline starts at its first byte. */

enum conn_state { CONN_NEW, CONN_IDLE, CONN_HEADERS, CONN_BODY, CONN_BUSY };

struct conn {
    struct conns *c;
    struct bufferevent *bev;
    struct evhttp_connection *evcon; /* NULL until adopted */
    struct evbuffer_cb_entry *input_cb;
    struct event *timer;
    enum conn_state state;
    struct conn *prev, *next; /* the idle list (adopted, idle) or the adopt list (new) */
    struct conn *hnext;       /* the bufferevent → connection table */
};

struct conn_list {
    struct conn *head, *tail;
};

struct conns_guard {
    struct conns_shared *sh;
    struct conns *owner; /* NULL: a listener without connection accounting */
    struct evhttp *http;
    struct evconnlistener *lev;
    struct event *retry_ev;
    bool paused_fds;
};

struct conns {
    struct conns_shared *sh;
    struct event_base *base;
    struct evhttp *http;
    struct conns_guard guard;
    struct bufferevent *(*make_bev)(struct event_base *, void *);
    void *make_arg;
    struct event *adopt_ev;
    struct event *resume_ev;     /* activated by any worker when a connection closes */
    const struct timeval *tv[4]; /* the common timeouts: idle, headers, body */
    struct conn_list idle;       /* oldest first */
    struct conn_list fresh;      /* waiting for the adopt event */
    struct conn **table;
    size_t table_mask;
    bool paused_cap;
    struct timeval pass; /* the loop pass of the last deadline (its cached time) */
    int pass_closes;     /* connections closed by deadlines in that pass */
};

/* ---- the listeners' guards: accept() errors ----------------------------------------- */

/* The listener's error callback gets the evhttp as its argument (evhttp_bind_listener):
 * the guards are found by it. */
static pthread_mutex_t guards_mu = PTHREAD_MUTEX_INITIALIZER;
static struct conns_guard *guards[260];

static void guard_register(struct conns_guard *g)
{
    pthread_mutex_lock(&guards_mu);
    for (size_t i = 0; i < DH_ARRAY_SIZE(guards); i++) {
        if (!guards[i]) {
            guards[i] = g;
            break;
        }
    }
    pthread_mutex_unlock(&guards_mu);
}

static void guard_unregister(struct conns_guard *g)
{
    pthread_mutex_lock(&guards_mu);
    for (size_t i = 0; i < DH_ARRAY_SIZE(guards); i++)
        if (guards[i] == g)
            guards[i] = NULL;
    pthread_mutex_unlock(&guards_mu);
}

static struct conns_guard *guard_find(void *http)
{
    struct conns_guard *g = NULL;
    pthread_mutex_lock(&guards_mu);
    for (size_t i = 0; i < DH_ARRAY_SIZE(guards) && !g; i++)
        if (guards[i] && guards[i]->http == http)
            g = guards[i];
    pthread_mutex_unlock(&guards_mu);
    return g;
}

/* One line a second at most for cause; true when this call may write it (and then *since
 * holds the pauses counted since the last line). */
static bool log_due(struct conns_shared *sh, enum conns_pause_cause cause, uint64_t *since)
{
    uint64_t now = clock_mono_ms(), last = atomic_load(&sh->log_ms[cause]);
    if (last && now - last < CONNS_LOG_INTERVAL_MS)
        return false;
    if (!atomic_compare_exchange_strong(&sh->log_ms[cause], &last, now))
        return false;
    uint64_t total = metric_get(&sh->paused[cause]);
    *since = total - atomic_exchange(&sh->logged_paused[cause], total);
    return true;
}

static bool evict_idle(struct conns *c);

static void guard_retry(evutil_socket_t fd, short what, void *arg)
{
    struct conns_guard *g = arg;
    g->paused_fds = false;
    if (g->lev && !(g->owner && g->owner->paused_cap))
        evconnlistener_enable(g->lev);
}

static void accept_error(struct evconnlistener *lev, void *arg)
{
    int err = errno;
    struct conns_guard *g = guard_find(arg);
    if (!g) {
        /* Not ours (cannot happen): stop the spin for good rather than fill the log. */
        evconnlistener_disable(lev);
        log_error("accept: %s; listener stopped", strerror(err));
        return;
    }
    struct conns_shared *sh = g->sh;
    /* A descriptor of an idle connection is one the next accept() can use. */
    if ((err == EMFILE || err == ENFILE) && g->owner && evict_idle(g->owner))
        return;
    evconnlistener_disable(lev);
    g->paused_fds = true;
    struct timeval tv = {0, CONNS_FD_PAUSE_MS * 1000};
    evtimer_add(g->retry_ev, &tv);
    metric_add_shared(&sh->paused[CONNS_PAUSE_FDS], 1);
    uint64_t since;
    if (log_due(sh, CONNS_PAUSE_FDS, &since))
        log_warn("connections: accept() failed (%s) with %d open: accepting paused %d ms, "
                 "%" PRIu64 " time(s) since the last line",
                 strerror(err), atomic_load(&sh->open), CONNS_FD_PAUSE_MS, since);
}

static int guard_init(struct conns_guard *g, struct conns_shared *sh, struct conns *owner,
                      struct event_base *base, struct evhttp *http,
                      struct evhttp_bound_socket *bound)
{
    g->sh = sh;
    g->owner = owner;
    g->http = http;
    g->lev = evhttp_bound_socket_get_listener(bound);
    g->retry_ev = evtimer_new(base, guard_retry, g);
    if (!g->retry_ev || !g->lev)
        return DH_ERR_NOMEM;
    guard_register(g);
    evconnlistener_set_error_cb(g->lev, accept_error);
    return 0;
}

static void guard_deinit(struct conns_guard *g)
{
    guard_unregister(g);
    if (g->retry_ev)
        event_free(g->retry_ev);
    g->retry_ev = NULL;
    g->lev = NULL;
}

struct conns_guard *conns_guard_new(struct conns_shared *sh, struct event_base *base,
                                    struct evhttp *http, struct evhttp_bound_socket *bound)
{
    struct conns_guard *g = calloc(1, sizeof(*g));
    if (g && guard_init(g, sh, NULL, base, http, bound) < 0) {
        conns_guard_free(g);
        return NULL;
    }
    return g;
}

void conns_guard_free(struct conns_guard *g)
{
    if (!g)
        return;
    guard_deinit(g);
    free(g);
}

/* ---- limits --------------------------------------------------------------------------- */

long conns_raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 0;
    rlim_t was = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        /* An unlimited hard limit is not a soft limit the kernel takes (fs.nr_open caps it). */
        if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1 << 20))
            rl.rlim_cur = 1 << 20;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
            log_warn("descriptors: cannot raise the soft limit from %llu to %llu: %s",
                     (unsigned long long)was, (unsigned long long)rl.rlim_cur, strerror(errno));
            rl.rlim_cur = was;
        }
    }
    if (rl.rlim_cur != was)
        log_info("descriptors: soft limit raised from %llu to %llu (the hard limit)",
                 (unsigned long long)was, (unsigned long long)rl.rlim_cur);
    else
        log_info("descriptors: limit %llu (hard limit %llu)", (unsigned long long)rl.rlim_cur,
                 (unsigned long long)rl.rlim_max);
    return rl.rlim_cur == RLIM_INFINITY ? (1L << 20) : (long)rl.rlim_cur;
}

int conns_cap(int setting, long fd_limit, int reserved)
{
    long room = fd_limit > 0 ? fd_limit - CONNS_FD_RESERVE - reserved : 0;
    if (room < CONNS_MIN)
        room = CONNS_MIN;
    if (room > 10000000)
        room = 10000000;
    if (setting == 0)
        return (int)room;
    if (fd_limit > 0 && setting > room)
        log_warn("DOCKHAND_MAX_CONNECTIONS=%d is above the %ld connections the descriptor limit "
                 "(%ld) leaves room for: accept() will run out of descriptors first (accepting "
                 "then pauses %d ms at a time)",
                 setting, room, fd_limit, CONNS_FD_PAUSE_MS);
    return setting;
}

void conns_shared_init(struct conns_shared *sh, int max, int idle_s, int header_s, int body_s)
{
    sh->max = max;
    sh->idle_ms = idle_s * 1000;
    sh->header_ms = header_s * 1000;
    sh->body_ms = body_s * 1000;
}

/* ---- connections ---------------------------------------------------------------------- */

static void list_push(struct conn_list *l, struct conn *x)
{
    x->next = NULL;
    x->prev = l->tail;
    if (l->tail)
        l->tail->next = x;
    else
        l->head = x;
    l->tail = x;
}

static void list_remove(struct conn_list *l, struct conn *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        l->head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    else
        l->tail = x->prev;
    x->prev = x->next = NULL;
}

static size_t slot_of(const struct conns *c, const struct bufferevent *bev)
{
    uintptr_t p = (uintptr_t)bev;
    return (size_t)((p >> 4) ^ (p >> 16)) & c->table_mask;
}

static void table_remove(struct conns *c, struct conn *x)
{
    struct conn **pp = &c->table[slot_of(c, x->bev)];
    while (*pp && *pp != x)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = x->hnext;
}

static struct conn *table_find(struct conns *c, const struct bufferevent *bev)
{
    struct conn *x = c->table[slot_of(c, bev)];
    while (x && x->bev != bev)
        x = x->hnext;
    return x;
}

/* Leaves whatever list x is on for state s, with s's deadline. */
static void conn_enter(struct conn *x, enum conn_state s)
{
    struct conns *c = x->c;
    if (x->state == CONN_IDLE && x->evcon)
        list_remove(&c->idle, x);
    x->state = s;
    evtimer_del(x->timer);
    if (s == CONN_IDLE || s == CONN_HEADERS || s == CONN_BODY)
        evtimer_add(x->timer, c->tv[s - CONN_IDLE]);
    if (s == CONN_IDLE && x->evcon)
        list_push(&c->idle, x);
}

/* A worker paused at the cap may accept again. */
static void wake_paused(struct conns_shared *sh)
{
    if (atomic_load(&sh->npaused) == 0)
        return;
    int n = atomic_load(&sh->nworkers);
    for (int i = 0; i < n; i++)
        if (sh->workers[i] && sh->workers[i]->resume_ev)
            event_active(sh->workers[i]->resume_ev, EV_TIMEOUT, 0);
}

static void conn_free(struct conn *x)
{
    struct conns *c = x->c;
    if (x->state == CONN_IDLE && x->evcon)
        list_remove(&c->idle, x);
    table_remove(c, x);
    if (x->input_cb)
        evbuffer_remove_cb_entry(bufferevent_get_input(x->bev), x->input_cb);
    if (x->timer)
        event_free(x->timer);
    free(x);
    atomic_fetch_sub(&c->sh->open, 1);
    wake_paused(c->sh);
}

/* evhttp frees the connection (exactly once, after adopt set this). */
static void conn_closed(struct evhttp_connection *evcon, void *arg)
{
    conn_free(arg);
}

static void conn_close(struct conn *x, enum conns_close_reason why)
{
    metric_add_shared(&x->c->sh->closed[why], 1);
    evhttp_connection_free(x->evcon); /* calls conn_closed */
}

static void conn_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct conn *x = arg;
    struct conns *c = x->c;
    static const enum conns_close_reason why[] = {CONNS_CLOSED_IDLE, CONNS_CLOSED_HEADERS,
                                                  CONNS_CLOSED_BODY};
    if (!x->evcon || x->state < CONN_IDLE || x->state > CONN_BODY)
        return; /* not adopted yet (cannot be: adopt runs in the pass that accepted it) */
    /* Thousands of connections opened together expire together: close at most
     * CONNS_CLOSE_BATCH a pass, the rest a millisecond later, so that the requests of the
     * clients that behave are read in between. */
    struct timeval now;
    event_base_gettimeofday_cached(c->base, &now);
    if (now.tv_sec != c->pass.tv_sec || now.tv_usec != c->pass.tv_usec) {
        c->pass = now;
        c->pass_closes = 0;
    }
    if (++c->pass_closes > CONNS_CLOSE_BATCH) {
        struct timeval later = {0, 1000};
        evtimer_add(x->timer, &later);
        return;
    }
    conn_close(x, why[x->state - CONN_IDLE]);
}

/* The end of the headers is an empty line: "\n\r\n" or "\n\n" in what arrived, with the
 * two bytes before it; or the buffer starts with one (evhttp has taken every complete line
 * before, so the front is the start of a line). */
static bool headers_ended(struct evbuffer *in, size_t added)
{
    size_t len = evbuffer_get_length(in);
    unsigned char head[2];
    if (evbuffer_copyout(in, head, 2) >= 1 &&
        (head[0] == '\n' || (len >= 2 && head[0] == '\r' && head[1] == '\n')))
        return true;
    struct evbuffer_ptr from;
    size_t start = len > added + 2 ? len - added - 2 : 0;
    if (evbuffer_ptr_set(in, &from, start, EVBUFFER_PTR_SET) < 0)
        return false;
    return evbuffer_search(in, "\n\r\n", 3, &from).pos >= 0 ||
           evbuffer_search(in, "\n\n", 2, &from).pos >= 0;
}

static void input_changed(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
    struct conn *x = arg;
    if (info->n_added == 0)
        return;
    if (x->state == CONN_NEW || x->state == CONN_IDLE)
        conn_enter(x, CONN_HEADERS);
    if (x->state == CONN_HEADERS && headers_ended(in, info->n_added))
        conn_enter(x, CONN_BODY);
}

static struct bufferevent *conn_bev(struct event_base *base, void *arg)
{
    struct conns *c = arg;
    struct bufferevent *bev =
        c->make_bev ? c->make_bev(base, c->make_arg) : bufferevent_socket_new(base, -1, 0);
    struct conn *x = bev ? calloc(1, sizeof(*x)) : NULL;
    struct conns_shared *sh = c->sh;
    int open = atomic_fetch_add(&sh->open, 1) + 1;
    metric_add_shared(&sh->accepted, 1);
    if (x) {
        x->c = c;
        x->bev = bev;
        x->timer = evtimer_new(base, conn_deadline, x);
        x->input_cb = evbuffer_add_cb(bufferevent_get_input(bev), input_changed, x);
    }
    if (!x || !x->timer || !x->input_cb) {
        /* Out of memory: the connection is served without deadlines of its own (evhttp's
         * per-read timeout still applies) and not counted. */
        atomic_fetch_sub(&sh->open, 1);
        if (x) {
            if (x->input_cb)
                evbuffer_remove_cb_entry(bufferevent_get_input(bev), x->input_cb);
            if (x->timer)
                event_free(x->timer);
            free(x);
        }
        return bev;
    }
    x->state = CONN_NEW;
    bufferevent_incref(bev);
    list_push(&c->fresh, x);
    size_t s = slot_of(c, bev);
    x->hnext = c->table[s];
    c->table[s] = x;
    event_active(c->adopt_ev, EV_TIMEOUT, 0);

    if (open >= sh->max) {
        /* The one just accepted is the last allowed: make room for the next (also for
         * what other workers accepted past the cap meanwhile), or stop. */
        bool room = false;
        while (atomic_load(&sh->open) >= sh->max && evict_idle(c))
            room = true;
        if (!room && c->guard.lev && !c->paused_cap) {
            c->paused_cap = true;
            atomic_fetch_add(&sh->npaused, 1);
            evconnlistener_disable(c->guard.lev);
            metric_add_shared(&sh->paused[CONNS_PAUSE_CAP], 1);
            int n = atomic_load(&sh->nworkers);
            for (int i = 0; i < n; i++)
                if (sh->workers[i] && sh->workers[i] != c)
                    event_active(sh->workers[i]->resume_ev, EV_TIMEOUT, 0);
        }
        uint64_t since;
        if (log_due(sh, CONNS_PAUSE_CAP, &since)) {
            uint64_t ev = metric_get(&sh->closed[CONNS_CLOSED_EVICTED]);
            log_warn("connections: at the cap of %d (DOCKHAND_MAX_CONNECTIONS) with %d open: "
                     "%" PRIu64 " idle connection(s) closed to make room and accepting paused "
                     "%" PRIu64 " time(s) since the last line",
                     sh->max, atomic_load(&sh->open), ev - atomic_exchange(&sh->logged_evicted, ev),
                     since);
        }
    }
    return bev;
}

static void resume(evutil_socket_t fd, short what, void *arg);

static void adopt(evutil_socket_t fd, short what, void *arg)
{
    struct conns *c = arg;
    struct conn *x;
    while ((x = c->fresh.head)) {
        list_remove(&c->fresh, x);
        struct bufferevent *bev = x->bev;
        void *evcon = NULL;
        bufferevent_getcb(bev, NULL, NULL, NULL, &evcon);
        if (!evcon) {
            conn_free(x); /* evhttp gave up on it already */
        } else {
            x->evcon = evcon;
            evhttp_connection_set_closecb(x->evcon, conn_closed, x);
            enum conn_state s = x->state;
            x->state = CONN_NEW;
            conn_enter(x, s == CONN_NEW ? CONN_IDLE : s);
        }
        bufferevent_decref(bev);
    }
    /* Connections paused for may be idle now: room to make. */
    if (c->paused_cap)
        resume(-1, 0, c);
}

/* Bytes the kernel holds for the connection that evhttp has not read yet. */
static bool input_waiting(struct conn *x)
{
    int n = 0;
    evutil_socket_t fd = bufferevent_getfd(x->bev);
    return fd >= 0 && ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

/* Closes the connection idle longest; false when none is. A connection whose request has
 * arrived unread (accepted in the same pass, or a keep-alive client's next request) is not
 * idle: it waits for its headers instead, and the next one is tried. */
static bool evict_idle(struct conns *c)
{
    struct conn *x;
    while ((x = c->idle.head)) {
        if (!input_waiting(x)) {
            conn_close(x, CONNS_CLOSED_EVICTED);
            return true;
        }
        conn_enter(x, CONN_HEADERS);
    }
    return false;
}

/* A worker stops accepting when the instance is at the cap and it has no idle connection
 * to close for room; it starts again when either changes. */
static void resume(evutil_socket_t fd, short what, void *arg)
{
    struct conns *c = arg;
    struct conns_shared *sh = c->sh;
    if (!c->guard.lev)
        return;
    if (c->paused_cap)
        while (atomic_load(&sh->open) >= sh->max && evict_idle(c))
            ;
    bool pause = atomic_load(&sh->open) >= sh->max && !c->idle.head;
    if (pause && !c->paused_cap) {
        c->paused_cap = true;
        atomic_fetch_add(&sh->npaused, 1);
        evconnlistener_disable(c->guard.lev);
    } else if (!pause && c->paused_cap) {
        c->paused_cap = false;
        atomic_fetch_sub(&sh->npaused, 1);
        if (!c->guard.paused_fds)
            evconnlistener_enable(c->guard.lev);
    }
}

static void request_done(struct evhttp_request *req, void *arg)
{
    struct conn *x = arg;
    struct evbuffer *in = bufferevent_get_input(x->bev);
    /* A pipelined request already read starts its header phase now. */
    conn_enter(x, evbuffer_get_length(in) ? CONN_HEADERS : CONN_IDLE);
}

void conns_request_done(struct conns *c, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    struct conn *x = bev ? table_find(c, bev) : NULL;
    if (x)
        request_done(req, x);
}

void conns_request_busy(struct conns *c, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    struct conn *x = bev ? table_find(c, bev) : NULL;
    if (!x)
        return;
    conn_enter(x, CONN_BUSY);
    evhttp_request_set_on_complete_cb(req, request_done, x);
}

struct conns *conns_new(struct conns_shared *sh, struct event_base *base, struct evhttp *http,
                        struct evhttp_bound_socket *bound,
                        struct bufferevent *(*make_bev)(struct event_base *, void *),
                        void *make_arg)
{
    struct conns *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->sh = sh;
    c->base = base;
    c->http = http;
    c->make_bev = make_bev;
    c->make_arg = make_arg;
    size_t n = 4096;
    while (n < (size_t)sh->max && n < 65536)
        n *= 2;
    c->table = calloc(n, sizeof(*c->table));
    c->table_mask = n - 1;
    c->adopt_ev = event_new(base, -1, 0, adopt, c);
    c->resume_ev = event_new(base, -1, 0, resume, c);
    const int ms[3] = {sh->idle_ms, sh->header_ms, sh->body_ms};
    for (int i = 0; i < 3; i++) {
        struct timeval tv = {ms[i] / 1000, (ms[i] % 1000) * 1000};
        c->tv[i] = event_base_init_common_timeout(base, &tv);
    }
    int id = atomic_load(&sh->nworkers);
    if (!c->table || !c->adopt_ev || !c->resume_ev || !c->tv[0] || !c->tv[1] || !c->tv[2] ||
        id >= (int)DH_ARRAY_SIZE(sh->workers) ||
        guard_init(&c->guard, sh, c, base, http, bound) < 0) {
        conns_free(c);
        return NULL;
    }
    sh->workers[id] = c;
    atomic_store(&sh->nworkers, id + 1);
    evhttp_set_bevcb(http, conn_bev, c);
    return c;
}

void conns_stop_accepting(struct conns *c)
{
    if (!c)
        return;
    guard_deinit(&c->guard);
}

void conns_free(struct conns *c)
{
    if (!c)
        return;
    guard_deinit(&c->guard);
    adopt(-1, 0, c); /* what the evhttp freed meanwhile */
    /* Connections the evhttp still held were closed (and freed here) by evhttp_free. */
    int n = atomic_load(&c->sh->nworkers);
    for (int i = 0; i < n; i++)
        if (c->sh->workers[i] == c)
            c->sh->workers[i] = NULL;
    if (c->adopt_ev)
        event_free(c->adopt_ev);
    if (c->resume_ev)
        event_free(c->resume_ev);
    free(c->table);
    free(c);
}
