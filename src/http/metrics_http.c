#include "dockhand/metrics_http.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "dockhand/audit_writer.h"
#include "dockhand/oidc_keys.h"
#include "dockhand/changes.h"
#include "dockhand/conns.h"
#include "dockhand/credcache.h"
#include "dockhand/http.h"
#include "dockhand/keys.h"
#include "dockhand/log.h"
#include "dockhand/metrics.h"
#include "dockhand/pgasync.h"
#include "dockhand/ratelimit.h"
#include "dockhand/robotcache.h"
#include "dockhand/robotdir.h"
#include "dockhand/workpool.h"

struct metrics_server {
    struct server_state *st;
    struct event_base *base;
    struct evhttp *http;
    pthread_t thread;
    bool started;
    struct conns_guard *guard; /* accept() out of descriptors pauses instead of spinning */
};

static const char *const route_names[ROUTE_GROUPS] = {"token", "api",    "web",
                                                      "keys",  "health", "other"};
static const char *const grant_names[GRANT_KINDS] = {"none", "basic", "password", "refresh",
                                                     "token_exchange"};
static const char *const outcome_names[TOKEN_OUTCOMES] = {
    "granted",   "partial",     "empty",          "anonymous", "bad_credentials",
    "throttled", "bad_request", "db_unavailable", "error"};
static const char *const verify_names[VERIFY_RESULTS] = {"match", "mismatch", "malformed"};
static const char *const identity_names[IDENTITY_RESULTS] = {"accepted", "refused"};

static void render_tokens(struct server_state *st, struct jsonw *o)
{
    char labels[96];
    metric_family(o, "dockhand_token_requests_total", "counter",
                  "Token requests answered, by grant type and outcome.");
    for (int g = 0; g < GRANT_KINDS; g++) {
        for (int k = 0; k < TOKEN_OUTCOMES; k++) {
            uint64_t sum = 0;
            for (int i = 0; i < st->nworkers; i++)
                sum += metric_get(&st->workers[i].m.tokens[g][k]);
            snprintf(labels, sizeof(labels), "grant=\"%s\",outcome=\"%s\"", grant_names[g],
                     outcome_names[k]);
            metric_u64(o, "dockhand_token_requests_total", labels, sum);
        }
    }
    metric_family(o, "dockhand_secret_verifications_total", "counter",
                  "Secrets checked against their stored hash on the hashing pool, by result.");
    for (int r = 0; r < VERIFY_RESULTS; r++) {
        uint64_t sum = 0;
        for (int i = 0; i < st->nworkers; i++)
            sum += metric_get(&st->workers[i].m.verifications[r]);
        snprintf(labels, sizeof(labels), "result=\"%s\"", verify_names[r]);
        metric_u64(o, "dockhand_secret_verifications_total", labels, sum);
    }
    metric_family(o, "dockhand_identity_logins_total", "counter",
                  "Identity tokens tried against a robot's federation rules, by result.");
    for (int r = 0; r < IDENTITY_RESULTS; r++) {
        uint64_t sum = 0;
        for (int i = 0; i < st->nworkers; i++)
            sum += metric_get(&st->workers[i].m.identities[r]);
        snprintf(labels, sizeof(labels), "result=\"%s\"", identity_names[r]);
        metric_u64(o, "dockhand_identity_logins_total", labels, sum);
    }
    struct oidc_keys_stats ks = {0};
    if (st->oidc)
        oidc_keys_stats(st->oidc, &ks);
    metric_family(o, "dockhand_oidc_key_fetches_total", "counter",
                  "Fetches of an identity issuer's keys (discovery and JWKS), by result.");
    metric_u64(o, "dockhand_oidc_key_fetches_total", "result=\"ok\"", ks.fetches_ok);
    metric_u64(o, "dockhand_oidc_key_fetches_total", "result=\"error\"", ks.fetches_failed);
    metric_single(o, "dockhand_oidc_refetches_refused_total", "counter",
                  "Unknown kids not refetched because the issuer's refetch interval was not over.",
                  ks.refetches_refused);
    metric_single(o, "dockhand_oidc_issuers", "gauge", "Identity issuers whose keys are held.",
                  ks.issuers);
    metric_family(o, "dockhand_http_request_duration_seconds", "histogram",
                  "Time from a request's start to its reply, by route group.");
    for (int r = 0; r < ROUTE_GROUPS; r++) {
        struct metric_hist_sum h = {0};
        for (int i = 0; i < st->nworkers; i++)
            metric_hist_sum_add(&h, &st->workers[i].m.duration[r]);
        snprintf(labels, sizeof(labels), "route=\"%s\"", route_names[r]);
        metric_hist_write(o, "dockhand_http_request_duration_seconds", labels, &h);
    }
}

static void cache_family(struct jsonw *o, const char *suffix, const char *type, const char *help,
                         const char *const *names, const struct cache_stats *s, int n, int field)
{
    char name[96], labels[64];
    snprintf(name, sizeof(name), "dockhand_cache_%s", suffix);
    metric_family(o, name, type, help);
    for (int i = 0; i < n; i++) {
        const uint64_t v[] = {s[i].hits, s[i].misses, s[i].evictions, s[i].entries};
        snprintf(labels, sizeof(labels), "cache=\"%s\"", names[i]);
        metric_u64(o, name, labels, v[field]);
    }
}

static void render_caches(struct server_state *st, struct jsonw *o)
{
    static const char *const names[] = {"robot", "credential", "robot_directory"};
    struct cache_stats s[3];
    robotcache_stats(st->rcache, &s[0]);
    credcache_stats(st->cc, &s[1]);
    robotdir_stats(st->rdir, &s[2]);
    cache_family(o, "hits_total", "counter", "Cache lookups answered from memory.", names, s, 3, 0);
    cache_family(o, "misses_total", "counter", "Cache lookups that went to the database.", names, s,
                 3, 1);
    cache_family(o, "evictions_total", "counter",
                 "Entries pushed out by newer ones (the robot directory never evicts).", names, s,
                 2, 2);
    cache_family(o, "entries", "gauge", "Entries held now.", names, s, 3, 3);

    static const struct {
        enum change_kind kind;
        const char *cause;
    } causes[] = {{CHANGE_ROBOT, "robot"},
                  {CHANGE_PROJECT, "project"},
                  {CHANGE_PROJECT_GONE, "project_deleted"},
                  {CHANGE_SETTINGS, "settings"},
                  {CHANGE_EVERYTHING, "everything"}};
    char labels[64];
    metric_family(o, "dockhand_cache_invalidations_total", "counter",
                  "Changes that dropped cached answers, by what changed (everything: a listener "
                  "reconnect or SIGHUP).");
    for (size_t i = 0; i < DH_ARRAY_SIZE(causes); i++) {
        snprintf(labels, sizeof(labels), "cause=\"%s\"", causes[i].cause);
        metric_u64(o, "dockhand_cache_invalidations_total", labels, change_applied(causes[i].kind));
    }
    metric_single(o, "dockhand_notify_messages_total", "counter",
                  "Notifications received from PostgreSQL (LISTEN dockhand).",
                  metric_get(&st->notify_messages));
}

static void render_db(struct server_state *st, struct jsonw *o)
{
    struct pgpool_stats p = {0};
    for (int i = 0; i < st->nworkers; i++)
        pgpool_stats_add(st->workers[i].pool, &p);
    metric_family(o, "dockhand_db_connections", "gauge",
                  "Workers' database connections, by state (open includes in_use).");
    metric_u64(o, "dockhand_db_connections", "state=\"open\"", p.open);
    metric_u64(o, "dockhand_db_connections", "state=\"in_use\"", p.busy);
    metric_u64(o, "dockhand_db_connections", "state=\"max\"", p.size);
    metric_single(o, "dockhand_db_queued_queries", "gauge",
                  "Queries waiting for a worker's database connection.", p.waiting);
    metric_single(o, "dockhand_db_queries_total", "counter", "Queries sent by the workers.",
                  p.queries);
    metric_single(o, "dockhand_db_query_errors_total", "counter",
                  "Worker queries that failed: no answer, lost connection, SQL error or deadline.",
                  p.errors);
    metric_single(o, "dockhand_db_reconnects_total", "counter",
                  "Worker connections opened again after being up.", p.reconnects);
    metric_family(o, "dockhand_db_wait_seconds_total", "counter",
                  "Time worker queries waited for a database connection.");
    metric_f64(o, "dockhand_db_wait_seconds_total", NULL, (double)p.wait_ns / 1e9);
}

static void render_pools(struct server_state *st, struct jsonw *o)
{
    metric_single(o, "dockhand_hash_queue_depth", "gauge",
                  "Secret verifications waiting for a hashing thread.",
                  (uint64_t)workpool_queued(st->hp));
    metric_single(o, "dockhand_api_queue_depth", "gauge",
                  "Admin API requests waiting for an API thread.",
                  (uint64_t)workpool_queued(st->ap));
    metric_single(o, "dockhand_ratelimit_entries", "gauge",
                  "Failed-login windows held (accounts and addresses).",
                  ratelimit_entries(st->rl, time(NULL)));
    metric_single(o, "dockhand_ratelimit_capacity", "gauge",
                  "Failed-login windows the table holds.", RATELIMIT_SLOTS);

    struct audit_writer_stats a;
    audit_writer_stats(st->aw, &a);
    metric_single(o, "dockhand_audit_queue_depth", "gauge", "Audit records waiting to be written.",
                  a.queued);
    metric_single(o, "dockhand_audit_rows_written_total", "counter", "Audit rows written.",
                  a.written);
    metric_single(o, "dockhand_audit_rows_dropped_total", "counter",
                  "Audit records given up (queue full, refused, or unwritten at exit).", a.dropped);
    metric_single(o, "dockhand_audit_write_errors_total", "counter",
                  "Failed audit write attempts (a batch retried counts each time).",
                  a.write_errors);
    metric_single(o, "dockhand_audit_records_spilled_total", "counter",
                  "Audit records that found the queue full and went to the spill file.", a.spilled);
    metric_single(o, "dockhand_audit_records_replayed_total", "counter",
                  "Audit records replayed from the spill file into the database.", a.replayed);
    metric_single(o, "dockhand_audit_spill_bytes", "gauge",
                  "Bytes of the spill file not yet replayed.", a.spill_bytes);
    metric_single(o, "dockhand_audit_blocked_requests_total", "counter",
                  "Token requests that waited for room in the audit queue (overflow block).",
                  a.blocked);
    metric_single(o, "dockhand_audit_block_timeouts_total", "counter",
                  "Token requests answered 503 after waiting for room in the audit queue.",
                  a.block_timeouts);
}

static void render_keys(struct server_state *st, struct jsonw *o)
{
    const struct keyring *ring = atomic_load(&st->ring);
    metric_single(o, "dockhand_signing_keys", "gauge", "Signing keys loaded.", ring ? ring->n : 0);
    if (ring && ring->n) {
        metric_family(o, "dockhand_signing_key_age_seconds", "gauge",
                      "Age of the key that signs (its certificate's notBefore).");
        double age = difftime(time(NULL), ring->keys[0].not_before);
        metric_f64(o, "dockhand_signing_key_age_seconds", NULL, age > 0 ? age : 0);
    }
    char labels[160];
    snprintf(labels, sizeof(labels), "version=\"%s\",revision=\"%s\"", DOCKHAND_VERSION,
             dockhand_revision);
    metric_family(o, "dockhand_build_info", "gauge", "The version and commit built; always 1.");
    metric_u64(o, "dockhand_build_info", labels, 1);
}

static void render_conns(struct server_state *st, struct jsonw *o)
{
    static const char *const reasons[CONNS_CLOSE_REASONS] = {"idle_timeout", "header_timeout",
                                                             "body_timeout", "evicted"};
    static const char *const causes[CONNS_PAUSE_CAUSES] = {"connection_cap", "descriptors"};
    const struct conns_shared *c = &st->conns;
    char labels[64];
    int open = atomic_load(&((struct conns_shared *)c)->open);
    metric_single(o, "dockhand_connections_open", "gauge", "Client connections open now.",
                  open > 0 ? (uint64_t)open : 0);
    metric_single(o, "dockhand_connections_max", "gauge",
                  "The cap on open client connections (DOCKHAND_MAX_CONNECTIONS).",
                  (uint64_t)c->max);
    metric_single(o, "dockhand_connections_accepted_total", "counter",
                  "Client connections accepted.", metric_get(&c->accepted));
    metric_family(o, "dockhand_connections_closed_total", "counter",
                  "Client connections closed by the server before the client closed them, by "
                  "reason (a deadline, or idle and closed to make room at the cap).");
    for (int i = 0; i < CONNS_CLOSE_REASONS; i++) {
        snprintf(labels, sizeof(labels), "reason=\"%s\"", reasons[i]);
        metric_u64(o, "dockhand_connections_closed_total", labels, metric_get(&c->closed[i]));
    }
    metric_family(o, "dockhand_accept_paused_total", "counter",
                  "Times a listener stopped accepting: at the connection cap with none idle, or "
                  "accept() out of descriptors (then for 100 ms).");
    for (int i = 0; i < CONNS_PAUSE_CAUSES; i++) {
        snprintf(labels, sizeof(labels), "reason=\"%s\"", causes[i]);
        metric_u64(o, "dockhand_accept_paused_total", labels, metric_get(&c->paused[i]));
    }
}

void metrics_render(struct server_state *st, struct jsonw *o)
{
    render_tokens(st, o);
    render_conns(st, o);
    render_caches(st, o);
    render_db(st, o);
    render_pools(st, o);
    render_keys(st, o);
    metrics_process(o);
}

static void handle(struct evhttp_request *req, void *arg)
{
    struct metrics_server *ms = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    if (!path || strcmp(path, "/metrics") != 0) {
        evhttp_send_error(req, 404, "only /metrics here");
        return;
    }
    if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
        evhttp_send_error(req, 405, "GET /metrics");
        return;
    }
    struct jsonw o;
    jsonw_init(&o);
    metrics_render(ms->st, &o);
    const char *text = jsonw_text(&o);
    struct evbuffer *out = evbuffer_new();
    if (!text || !out) {
        evhttp_send_error(req, 500, NULL);
    } else {
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        evhttp_add_header(h, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        evhttp_add_header(h, "Cache-Control", "no-store");
        if (m == EVHTTP_REQ_GET)
            evbuffer_add(out, text, o.len);
        evhttp_send_reply(req, 200, "OK", out);
    }
    if (out)
        evbuffer_free(out);
    jsonw_deinit(&o);
}

static void *metrics_main(void *arg)
{
    struct metrics_server *ms = arg;
    event_base_dispatch(ms->base);
    return NULL;
}

struct metrics_server *metrics_server_start(struct server_state *st, const char *listen)
{
    struct metrics_server *ms = calloc(1, sizeof(*ms));
    int fd = http_listen_socket(listen, "DOCKHAND_METRICS_LISTEN");
    if (!ms || fd < 0)
        goto fail;
    ms->st = st;
    ms->base = event_base_new();
    ms->http = ms->base ? evhttp_new(ms->base) : NULL;
    struct evhttp_bound_socket *bound =
        ms->http ? evhttp_accept_socket_with_handle(ms->http, fd) : NULL;
    if (!bound)
        goto fail;
    fd = -1; /* the evhttp owns it now */
    if (!(ms->guard = conns_guard_new(&st->conns, ms->base, ms->http, bound)))
        goto fail;
    evhttp_set_timeout(ms->http, HTTP_TIMEOUT_S);
    evhttp_set_gencb(ms->http, handle, ms);
    if (pthread_create(&ms->thread, NULL, metrics_main, ms) != 0)
        goto fail;
    ms->started = true;
    log_info("metrics on http://%s/metrics", listen);
    return ms;
fail:
    if (fd >= 0) {
        log_error("cannot start the metrics listener on %s", listen);
        close(fd);
    } else if (ms && ms->base) {
        log_error("cannot start the metrics listener on %s", listen);
    }
    metrics_server_stop(ms);
    return NULL;
}

void metrics_server_stop(struct metrics_server *ms)
{
    if (!ms)
        return;
    if (ms->started) {
        event_base_loopbreak(ms->base);
        pthread_join(ms->thread, NULL);
    }
    conns_guard_free(ms->guard);
    if (ms->http)
        evhttp_free(ms->http);
    if (ms->base)
        event_base_free(ms->base);
    free(ms);
}
