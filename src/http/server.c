#include "dockhand/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/rand.h>

#include "dockhand/api.h"
#include "dockhand/audit_writer.h"
#include "dockhand/changes.h"
#include "dockhand/conns.h"
#include "dockhand/credcache.h"
#include "dockhand/db.h"
#include "dockhand/encoding.h"
#include "dockhand/hashpool.h"
#include "dockhand/oidc_keys.h"
#include "dockhand/keys.h"
#include "dockhand/limits.h"
#include "dockhand/log.h"
#include "dockhand/metrics_http.h"
#include "dockhand/pgasync.h"
#include "dockhand/realm.h"
#include "dockhand/ratelimit.h"
#include "dockhand/robotcache.h"
#include "dockhand/robotdir.h"
#include "dockhand/tls.h"
#include "dockhand/web.h"
#include "dockhand/workpool.h"

#define DRAIN_LIMIT_MS 10000 /* longest wait for in-flight requests on shutdown */

#define ADMIN_CACHE_SIZE 1024 /* verified administrator logins kept */

/* ---- small endpoints ------------------------------------------------------------------ */

/* Liveness: this worker's loop turned to answer, nothing else is asked (a database outage
 * must not get a healthy process restarted). notify_sync: the highest "sync:<n>"
 * notification processed (README "HTTP endpoints"). */
static void handle_health(struct worker *w, struct evhttp_request *req)
{
    struct http_ctx ctx;
    char body[64];
    http_ctx_init(&ctx, w, req);
    ctx.probe = true;
    int n = snprintf(body, sizeof(body), "{\"status\":\"ok\",\"notify_sync\":%" PRId64 "}",
                     atomic_load(&w->st->notify_sync));
    http_reply(&ctx, 200, NULL, body, (size_t)n);
}

/* Readiness: the database answers (through this worker's pool, as tokens are served), its
 * schema is the one this binary needs (or a newer one that keeps it working), and a
 * signing key is loaded. 503 names what fails. */
struct ready_req {
    struct http_ctx http;
};

static void ready_reply(struct http_ctx *ctx, bool db_ok, int schema, bool schema_ok)
{
    const struct keyring *ring = atomic_load(&ctx->w->st->ring);
    size_t keys = ring ? ring->n : 0;
    int want = db_schema_expected();
    schema_ok = db_ok && schema_ok;
    char failing[64] = "", body[256];
    if (!db_ok)
        strcat(failing, "\"database\"");
    if (db_ok && !schema_ok)
        strcat(failing, "\"schema\"");
    if (keys == 0)
        strcat(failing, *failing ? ",\"keys\"" : "\"keys\"");
    bool ready = db_ok && schema_ok && keys > 0;
    int n;
    if (ready)
        n = snprintf(body, sizeof(body), "{\"status\":\"ready\",\"schema\":%d,\"keys\":%zu}",
                     schema, keys);
    else if (db_ok)
        n = snprintf(body, sizeof(body),
                     "{\"status\":\"not ready\",\"failing\":[%s],\"schema\":%d,"
                     "\"schema_wanted\":%d,\"keys\":%zu}",
                     failing, schema, want, keys);
    else
        n = snprintf(body, sizeof(body),
                     "{\"status\":\"not ready\",\"failing\":[%s],\"database\":\"unavailable\","
                     "\"keys\":%zu}",
                     failing, keys);
    http_reply(ctx, ready ? 200 : 503, NULL, body, (size_t)n);
}

static void ready_done(PGresult *res, void *arg)
{
    struct ready_req *r = arg;
    int schema = res ? db_schema_version_of(res) : 0;
    ready_reply(&r->http, res != NULL, schema, res && db_schema_usable_of(res, schema));
    free(r);
}

static void handle_ready(struct worker *w, struct evhttp_request *req)
{
    struct ready_req *r = calloc(1, sizeof(*r));
    if (!r) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    http_ctx_init(&r->http, w, req);
    r->http.probe = true;
    if (pgpool_query(w->pool, DB_SCHEMA_SQL, 0, NULL, ready_done, r) < 0) {
        ready_reply(&r->http, false, 0, false); /* the pool's queue is full: not ready */
        free(r);
    }
}

static void handle_keys(struct worker *w, struct evhttp_request *req, bool pem)
{
    struct http_ctx ctx;
    struct keyring *ring = atomic_load(&w->st->ring);
    http_ctx_init(&ctx, w, req);
    if (pem)
        http_reply(&ctx, 200, "application/x-pem-file", ring->certs_pem, strlen(ring->certs_pem));
    else
        http_reply(&ctx, 200, NULL, ring->jwks_json, strlen(ring->jwks_json));
}

/* The route table, first match wins. Handlers depend on http.h only; the server is the
 * one place that knows them all. */
static void handle_healthz(struct worker *w, struct evhttp_request *req);
static void handle_readyz(struct worker *w, struct evhttp_request *req);
static void handle_certs_pem(struct worker *w, struct evhttp_request *req);
static void handle_jwks(struct worker *w, struct evhttp_request *req);

static const struct server_route routes[] = {
    {"/service/token", false, realm_handle, ROUTE_TOKEN},
    {"/token", false, realm_handle, ROUTE_TOKEN},
    {"/token/", false, realm_handle, ROUTE_TOKEN},
    {"/api/v2.0", false, api_handle, ROUTE_API},
    {"/api/v2.0/", true, api_handle, ROUTE_API},
    {"/c/limits", false, limits_handle, ROUTE_API},
    {"/c/", true, api_handle, ROUTE_API},
    {"/", false, web_handle, ROUTE_WEB},
    {"/ui", false, web_handle, ROUTE_WEB},
    {"/ui/", true, web_handle, ROUTE_WEB},
    {"/keys/certs.pem", false, handle_certs_pem, ROUTE_KEYS},
    {"/keys/jwks.json", false, handle_jwks, ROUTE_KEYS},
    {"/healthz", false, handle_healthz, ROUTE_HEALTH},
    {"/readyz", false, handle_readyz, ROUTE_HEALTH},
};

/* The small endpoints answer GET and HEAD only. */
static bool get_only(struct worker *w, struct evhttp_request *req)
{
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    if (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD)
        return true;
    struct http_ctx ctx;
    http_ctx_init(&ctx, w, req);
    http_error(&ctx, 404, "NOT_FOUND", "no such endpoint");
    return false;
}

static void handle_healthz(struct worker *w, struct evhttp_request *req)
{
    if (get_only(w, req))
        handle_health(w, req);
}

static void handle_readyz(struct worker *w, struct evhttp_request *req)
{
    if (get_only(w, req))
        handle_ready(w, req);
}

static void handle_certs_pem(struct worker *w, struct evhttp_request *req)
{
    if (get_only(w, req))
        handle_keys(w, req, true);
}

static void handle_jwks(struct worker *w, struct evhttp_request *req)
{
    if (get_only(w, req))
        handle_keys(w, req, false);
}

static void route(struct evhttp_request *req, void *arg)
{
    struct worker *w = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;

    if (!path)
        path = "";
    conns_request_busy(w->conns, req);
    for (size_t i = 0; i < DH_ARRAY_SIZE(routes); i++) {
        const struct server_route *r = &routes[i];
        if (r->prefix ? strncmp(path, r->path, strlen(r->path)) == 0 : strcmp(path, r->path) == 0) {
            w->route = r->group;
            r->handle(w, req);
            return;
        }
    }
    struct http_ctx ctx;
    w->route = ROUTE_OTHER;
    http_ctx_init(&ctx, w, req);
    http_error(&ctx, 404, "NOT_FOUND", "no such endpoint");
}

/* ---- workers -------------------------------------------------------------------------- */

static void drain_check(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    const int step_ms = 20;
    if (atomic_load(&w->inflight) == 0) {
        event_base_loopbreak(w->base);
        return;
    }
    struct timeval tv = {0, step_ms * 1000};
    event_add(w->drain_ev, &tv);
}

static void worker_stop(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    w->stopping = true;
    if (w->bound) {
        conns_stop_accepting(w->conns);
        evhttp_del_accept_socket(w->http, w->bound);
        w->bound = NULL;
    }
    /* Finish what is in flight, within DRAIN_LIMIT_MS. */
    struct timeval limit = {DRAIN_LIMIT_MS / 1000, 0};
    event_base_loopexit(w->base, &limit);
    drain_check(-1, 0, w);
}

static void log_flush_cb(evutil_socket_t fd, short what, void *arg)
{
    log_batch_flush();
}

/* The first line held back in a pass activates log_ev: it runs after the pass's other
 * callbacks, before the loop waits for the network again, so a line is written before
 * the reply it describes leaves (evhttp writes replies when the socket is next ready). */
static void log_arm(void *arg)
{
    struct worker *w = arg;
    event_active(w->log_ev, EV_TIMEOUT, 1);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    log_batch_start(log_arm, w);
    event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
    log_batch_stop();
    return NULL;
}

static int worker_init(struct worker *w, struct server_state *st, int id, int listen_fd)
{
    unsigned char r[4];
    w->st = st;
    w->id = id;
    atomic_init(&w->inflight, 0);
    if (RAND_bytes(r, sizeof(r)) != 1)
        return DH_ERR_CRYPTO;
    hex_encode(r, sizeof(r), w->rid_prefix);
    w->base = event_base_new();
    if (!w->base)
        return DH_ERR_NOMEM;
    w->http = evhttp_new(w->base);
    w->pool = pgpool_new(w->base, st->cfg->database_url, st->cfg->db_pool, st->cfg->db_timeout_ms);
    w->stop_ev = event_new(w->base, -1, 0, worker_stop, w);
    w->drain_ev = evtimer_new(w->base, drain_check, w);
    w->log_ev = event_new(w->base, -1, 0, log_flush_cb, w);
    if (!w->http || !w->pool || !w->stop_ev || !w->drain_ev || !w->log_ev)
        return DH_ERR_NOMEM;
    evhttp_set_max_headers_size(w->http, HTTP_MAX_HEADERS);
    /* Above every endpoint's own limit, so that the handlers answer 413 with a JSON body
     * themselves; evhttp cuts off (with its own 413 page) only what is larger still. */
    evhttp_set_max_body_size(w->http, HTTP_MAX_BODY);
    /* evhttp's own timeout is per read or write: the conns module's phase deadlines
     * decide when a reading connection is closed, this one only a client that does not
     * read its reply. */
    int longest = HTTP_TIMEOUT_S;
    if (longest < st->cfg->idle_timeout)
        longest = st->cfg->idle_timeout;
    if (longest < st->cfg->header_timeout)
        longest = st->cfg->header_timeout;
    if (longest < st->cfg->body_timeout)
        longest = st->cfg->body_timeout;
    evhttp_set_timeout(w->http, longest);
    evhttp_set_allowed_methods(w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
                                            EVHTTP_REQ_OPTIONS);
    evhttp_set_gencb(w->http, route, w);
    int fd = dup(listen_fd);
    if (fd < 0)
        return -errno;
    w->bound = evhttp_accept_socket_with_handle(w->http, fd);
    if (!w->bound) {
        close(fd);
        return DH_ERR_INVALID;
    }
    w->conns = conns_new(&st->conns, w->base, w->http, w->bound,
                         st->tls ? tls_bufferevent_new : NULL, st->tls);
    if (!w->conns)
        return DH_ERR_NOMEM;
    return 0;
}

static void worker_deinit(struct worker *w)
{
    /* The parked token requests and the pool first: failing them replies to requests
     * that the evhttp still owns. */
    realm_worker_deinit(w);
    pgpool_free(w->pool);
    if (w->http)
        evhttp_free(w->http); /* closes its connections: before the conns that count them */
    conns_free(w->conns);
    if (w->stop_ev)
        event_free(w->stop_ev);
    if (w->drain_ev)
        event_free(w->drain_ev);
    if (w->log_ev)
        event_free(w->log_ev);
    if (w->base)
        event_base_free(w->base);
}

/* ---- LISTEN/NOTIFY -------------------------------------------------------------------- */

struct notifier {
    struct server_state *st;
    pthread_t thread;
    atomic_bool stop;
};

/* Applies one notification from the database's triggers (changes.h). */
static void notify_apply(struct server_state *st, const char *payload)
{
    struct change ch;
    if (change_parse(payload, &ch) < 0) {
        log_warn("notification ignored: %.80s", payload);
        return;
    }
    if (ch.kind == CHANGE_SYNC) {
        /* A barrier: notifications arrive in commit order, so every change committed
         * before this one has reached the caches (GET /healthz reports it). */
        int64_t seen = atomic_load(&st->notify_sync);
        while (ch.id > seen && !atomic_compare_exchange_weak(&st->notify_sync, &seen, ch.id))
            ;
    } else {
        change_apply(&(struct change_targets){st->rcache, st->rdir}, &ch);
    }
    log_debug("notify %s", payload);
}

static void *notifier_main(void *arg)
{
    struct notifier *n = arg;
    PGconn *db = NULL;
    while (!atomic_load(&n->stop)) {
        if (!db || PQstatus(db) != CONNECTION_OK) {
            /* db_open's keepalives: a connection that died silently (a network partition)
             * is noticed within about 15 s, then replaced, and the cache emptied; the TTL
             * is only the last resort. */
            PQfinish(db);
            db = db_open(n->st->cfg->database_url, DB_ROLE_LISTEN, 0, NULL, 0);
            PGresult *r = db ? PQexec(db, "LISTEN dockhand") : NULL;
            bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
            if (!ok) {
                PQfinish(db);
                db = NULL;
                for (int i = 0; i < 10 && !atomic_load(&n->stop); i++)
                    usleep(100 * 1000);
                continue;
            }
            /* Notifications sent while no connection listened are lost: start over. */
            change_apply(&(struct change_targets){n->st->rcache, n->st->rdir},
                         &(struct change){CHANGE_EVERYTHING, 0});
        }
        struct pollfd pfd = {PQsocket(db), POLLIN, 0};
        if (poll(&pfd, 1, 200) > 0) {
            if (!PQconsumeInput(db))
                continue;
            PGnotify *nt;
            while ((nt = PQnotifies(db))) {
                metric_add(&n->st->notify_messages, 1);
                notify_apply(n->st, nt->extra);
                PQfreemem(nt);
            }
        }
    }
    PQfinish(db);
    return NULL;
}

/* ---- the main thread ------------------------------------------------------------------ */

struct main_loop {
    struct event_base *base;
    struct server_state *st;
};

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct main_loop *ml = arg;
    if (sig == SIGHUP) {
        struct keyring *ring = NULL;
        if (ml->st->tls && tls_reload(ml->st->tls) < 0) {
            /* logged; new connections keep getting the certificate already in use */
        }
        /* Also the way to make changes that bypassed the triggers seen before the TTL. */
        change_apply(&(struct change_targets){ml->st->rcache, ml->st->rdir},
                     &(struct change){CHANGE_EVERYTHING, 0});
        if (keyring_load(ml->st->cfg->keys_dir, ml->st->cfg->kid_format, &ring) < 0) {
            log_error("SIGHUP: keys in %s not reloaded; still signing with the old ones",
                      ml->st->cfg->keys_dir);
            return;
        }
        if (ml->st->nold == (int)DH_ARRAY_SIZE(ml->st->old_rings)) {
            log_error("SIGHUP: too many reloads; restart the process to reload keys again");
            keyring_free(ring);
            return;
        }
        /* Workers may hold the old ring for the request at hand: keep it until exit. */
        ml->st->old_rings[ml->st->nold++] = atomic_exchange(&ml->st->ring, ring);
        log_info("SIGHUP: %zu key(s) loaded; signing with %s (kid %s)", ring->n, ring->keys[0].name,
                 ring->keys[0].kid);
        return;
    }
    log_info("signal %d: finishing in-flight requests, then exiting", (int)sig);
    event_base_loopbreak(ml->base);
}

int server_run(const struct config *cfg)
{
    struct server_state st = {.cfg = cfg, .metrics_on = strcmp(cfg->metrics_listen, "off") != 0};
    struct worker *workers = NULL;
    struct notifier nt = {.st = &st};
    struct keyring *ring = NULL;
    int exit_code = 1, listen_fd = -1, started = 0;
    bool notifier_started = false;
    struct metrics_server *ms = NULL;
    char realm[1024];

    PGconn *db = db_connect(cfg->database_url, DB_ROLE_CLI);
    if (!db)
        return 1;
    bool usable;
    int have = db_schema_check(db, &usable), want = db_schema_expected();
    PQfinish(db);
    if (have < 0)
        return 1;
    if (have < want) {
        log_error("database schema is at version %d, this binary needs %d: run `dockhand migrate`",
                  have, want);
        return 1;
    }
    if (!usable) {
        log_error("database schema is at version %d, newer than this binary's %d and not usable "
                  "by it: run the newer release",
                  have, want);
        return 1;
    }
    if (have > want)
        log_info("database schema is at version %d, newer than this binary's %d; its newer "
                 "migrations keep binaries of schema %d working",
                 have, want, want);
    int rc = keyring_load(cfg->keys_dir, cfg->kid_format, &ring);
    if (rc < 0) {
        log_error("no usable signing keys in %s (run `dockhand keygen`)", cfg->keys_dir);
        return 1;
    }
    atomic_init(&st.ring, ring);
    if (cfg->realm)
        snprintf(realm, sizeof(realm), "%s", cfg->realm);
    else
        snprintf(realm, sizeof(realm), "%s://%s/service/token", cfg->tls_cert ? "https" : "http",
                 cfg->listen);
    st.realm = realm;
    if (cfg->tls_cert && tls_new(cfg->tls_cert, cfg->tls_key, &st.tls) < 0)
        goto out; /* the reason is logged */

    if (evthread_use_pthreads() < 0) {
        log_error("libevent without thread support");
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    {
        long fds = conns_raise_fd_limit();
        int max = conns_cap(cfg->max_connections, fds, cfg->workers * cfg->db_pool);
        conns_shared_init(&st.conns, max, cfg->idle_timeout, cfg->header_timeout,
                          cfg->body_timeout);
        log_info("connections: at most %d open (DOCKHAND_MAX_CONNECTIONS%s); closed after %d s "
                 "idle, %d s for headers, %d s for a body",
                 max, cfg->max_connections ? "" : "=0: from the descriptor limit",
                 cfg->idle_timeout, cfg->header_timeout, cfg->body_timeout);
    }
    st.rl = ratelimit_new(cfg->fail_window);
    st.cc = credcache_new((size_t)cfg->cred_cache_size);
    st.hp = hashpool_new(cfg->hash_threads);
    st.admin_cc = credcache_new(ADMIN_CACHE_SIZE);
    st.rcache = robotcache_new((size_t)cfg->robot_cache_size, cfg->cache_ttl_ms);
    st.rdir = robotdir_new((size_t)cfg->robot_list_cache_size, cfg->cache_ttl_ms);
    st.aw = audit_writer_new(
        &(struct audit_writer_opts){.conninfo = cfg->database_url,
                                    .flush_ms = cfg->audit_flush_ms,
                                    .queue_max = cfg->audit_queue_max,
                                    .overflow = (enum audit_overflow)cfg->audit_overflow,
                                    .spill_path = cfg->audit_spill,
                                    .spill_max = (int64_t)cfg->audit_spill_max_mb << 20});
    st.ap = apipool_new(cfg->api_threads);
    const struct oidc_keys_config okc = {.ca_file = cfg->oidc_ca_file,
                                         .timeout_ms = cfg->oidc_timeout_ms,
                                         .refetch_s = cfg->oidc_refetch_interval};
    st.oidc = oidc_keys_new(&okc);
    if (!st.rl || !st.cc || !st.hp || !st.admin_cc || !st.rcache || !st.rdir || !st.aw || !st.ap ||
        !st.oidc)
        goto out;
    listen_fd = http_listen_socket(cfg->listen, "DOCKHAND_LISTEN");
    if (listen_fd < 0)
        goto out;

    workers = calloc((size_t)cfg->workers, sizeof(*workers));
    if (!workers)
        goto out;
    for (int i = 0; i < cfg->workers; i++) {
        if (worker_init(&workers[i], &st, i, listen_fd) < 0) {
            log_error("cannot start worker %d", i);
            goto stop;
        }
    }
    st.workers = workers;
    st.nworkers = cfg->workers;
    if (st.metrics_on && !(ms = metrics_server_start(&st, cfg->metrics_listen)))
        goto stop;
    for (started = 0; started < cfg->workers; started++)
        if (pthread_create(&workers[started].thread, NULL, worker_main, &workers[started]) != 0)
            goto stop;
    atomic_init(&nt.stop, false);
    notifier_started = pthread_create(&nt.thread, NULL, notifier_main, &nt) == 0;

    struct main_loop ml = {.base = event_base_new(), .st = &st};
    struct event *sigs[3] = {NULL, NULL, NULL};
    int signums[3] = {SIGTERM, SIGINT, SIGHUP};
    if (!ml.base) {
        /* Without it no signal would ever be seen: refuse to run rather than exit 0. */
        log_error("cannot make the main event loop");
        goto stop;
    }
    for (int i = 0; i < 3; i++) {
        sigs[i] = evsignal_new(ml.base, signums[i], on_signal, &ml);
        if (!sigs[i] || event_add(sigs[i], NULL) < 0) {
            log_error("cannot watch signal %d", signums[i]);
            for (int k = 0; k <= i; k++)
                if (sigs[k])
                    event_free(sigs[k]);
            event_base_free(ml.base);
            goto stop;
        }
    }
    log_info("dockhand serving on %s with %d workers; service %s, issuer %s, realm %s; signing "
             "with %s (%s, kid %s)",
             cfg->listen, cfg->workers, cfg->service, cfg->issuer, realm, ring->keys[0].name,
             key_alg_name(ring->keys[0].alg), ring->keys[0].kid);
    if (st.tls) {
        char desc[512];
        tls_describe(st.tls, desc, sizeof(desc));
        log_info("HTTPS (TLS 1.2 and 1.3) with the certificate %s: %s", cfg->tls_cert, desc);
    }
    event_base_dispatch(ml.base);
    for (int i = 0; i < 3; i++)
        event_free(sigs[i]);
    event_base_free(ml.base);
    exit_code = 0;

stop:
    for (int i = 0; i < started; i++)
        event_active(workers[i].stop_ev, 0, 0);
    for (int i = 0; i < started; i++)
        pthread_join(workers[i].thread, NULL);
    if (notifier_started) {
        atomic_store(&nt.stop, true);
        pthread_join(nt.thread, NULL);
    }
out:
    /* Threads that hand work back to the workers stop before the workers' loops are
     * freed; the audit writer last, writing what the requests queued. The metrics
     * listener reads all of them: it stops first. */
    metrics_server_stop(ms);
    workpool_free(st.hp);
    workpool_free(st.ap);
    oidc_keys_free(st.oidc);
    audit_writer_free(st.aw);
    for (int i = 0; workers && i < cfg->workers; i++)
        worker_deinit(&workers[i]);
    free(workers);
    if (listen_fd >= 0)
        close(listen_fd);
    credcache_free(st.cc);
    credcache_free(st.admin_cc);
    robotcache_free(st.rcache);
    robotdir_free(st.rdir);
    ratelimit_free(st.rl);
    for (int i = 0; i < st.nold; i++)
        keyring_free(st.old_rings[i]);
    keyring_free(atomic_load(&st.ring));
    tls_free(st.tls);
    if (exit_code == 0)
        log_info("dockhand stopped");
    return exit_code;
}
