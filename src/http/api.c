/* The admin API's plumbing: hand-off to API threads, authentication, routing and the
 * small helpers every handler uses. */
#include "dockhand/api.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>

#include "dockhand/admin.h"
#include "dockhand/credcache.h"
#include "dockhand/robotcache.h"
#include "dockhand/robotdir.h"
#include "dockhand/db.h"
#include "dockhand/encoding.h"
#include "dockhand/log.h"
#include "dockhand/names.h"
#include "dockhand/ratelimit.h"
#include "dockhand/secret.h"
#include "dockhand/server.h"
#include "dockhand/session.h"

#define API_PREFIX "/api/v2.0"

struct api_job {
    STAILQ_ENTRY(api_job) link;
    struct api_call call;
    struct http_ctx http;
    struct event *done; /* runs on the worker's loop */
};

struct apipool {
    struct server_state *st;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    STAILQ_HEAD(, api_job) jobs;
    int queued;
    bool stopping;
    int nthreads;
    pthread_t *threads;
};

/* ---- helpers for handlers ------------------------------------------------------------ */

void api_header(struct api_call *c, const char *name, const char *value)
{
    if (c->nheaders == API_MAX_HEADERS)
        return;
    c->headers[c->nheaders][0] = strdup(name);
    c->headers[c->nheaders][1] = strdup(value);
    c->nheaders++;
}

void api_json(struct api_call *c, int status, json_t *body)
{
    free(c->resp_body);
    c->resp_body = body ? json_dumps(body, JSON_COMPACT) : NULL;
    c->status = status;
    if (body && !c->resp_body) {
        c->status = 500;
        c->resp_body = strdup("{\"errors\":[{\"code\":\"INTERNAL\",\"message\":\"internal server "
                              "error\"}]}");
    }
    json_decref(body);
}

void api_error(struct api_call *c, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (status >= 500) {
        log_at(LOG_ERROR, c->rid, "%s", msg);
        snprintf(msg, sizeof(msg), "internal server error");
    }
    api_json(c, status, json_pack("{s:[{s:s, s:s}]}", "errors", "code", code, "message", msg));
}

void api_svc_error(struct api_call *c, const struct svc_err *err)
{
    switch (err->status) {
    case SVC_NOT_FOUND:
        api_error(c, 404, "NOT_FOUND", "%s", err->msg);
        break;
    case SVC_CONFLICT:
        api_error(c, 409, "CONFLICT", "%s", err->msg);
        break;
    case SVC_BAD_REQUEST:
        api_error(c, 400, "BAD_REQUEST", "%s", err->msg);
        break;
    default:
        api_error(c, 500, "INTERNAL", "%s", err->msg);
    }
}

static bool parse_positive(const char *s, int64_t *out)
{
    char *end;
    if (!s || !*s || strlen(s) > 12)
        return false;
    long long v = strtoll(s, &end, 10);
    if (*end || v < 1)
        return false;
    *out = v;
    return true;
}

bool api_paging(struct api_call *c, int64_t *page, int64_t *page_size)
{
    const char *p = form_get(&c->query, "page"), *ps = form_get(&c->query, "page_size");
    *page = 1;
    *page_size = API_PAGE_SIZE_DEFAULT;
    if (p && !parse_positive(p, page)) {
        api_error(c, 400, "BAD_REQUEST", "page must be a positive integer");
        return false;
    }
    if (ps && (!parse_positive(ps, page_size) || *page_size > API_PAGE_SIZE_MAX)) {
        api_error(c, 400, "BAD_REQUEST", "page_size must be an integer from 1 to %d",
                  API_PAGE_SIZE_MAX);
        return false;
    }
    return true;
}

/* Appends s percent-encoded for a query component. */
static void url_append(char *out, size_t cap, size_t *len, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s && *len + 4 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            out[(*len)++] = (char)ch;
        } else {
            out[(*len)++] = '%';
            out[(*len)++] = hex[ch >> 4];
            out[(*len)++] = hex[ch & 15];
        }
    }
    out[*len] = '\0';
}

static void page_link(struct api_call *c, int64_t page, int64_t page_size, const char *rel,
                      char *out, size_t cap, size_t *len)
{
    int n = snprintf(out + *len, cap - *len, "%s<%s?page=%" PRId64 "&page_size=%" PRId64,
                     *len ? ", " : "", c->path, page, page_size);
    if (n < 0 || (size_t)n >= cap - *len)
        return;
    *len += (size_t)n;
    for (size_t i = 0; i < c->query.n; i++) {
        const char *k = c->query.pairs[i].key;
        if (strcmp(k, "page") == 0 || strcmp(k, "page_size") == 0)
            continue;
        if (*len + 2 < cap)
            out[(*len)++] = '&';
        url_append(out, cap, len, k);
        if (*len + 2 < cap)
            out[(*len)++] = '=';
        url_append(out, cap, len, c->query.pairs[i].value);
    }
    n = snprintf(out + *len, cap - *len, ">; rel=\"%s\"", rel);
    if (n > 0 && (size_t)n < cap - *len)
        *len += (size_t)n;
}

void api_page_headers(struct api_call *c, int64_t total, int64_t page, int64_t page_size)
{
    char buf[32], link[4096];
    size_t len = 0;
    snprintf(buf, sizeof(buf), "%" PRId64, total);
    api_header(c, "X-Total-Count", buf);
    link[0] = '\0';
    if (page > 1)
        page_link(c, page - 1, page_size, "prev", link, sizeof(link), &len);
    if (page * page_size < total)
        page_link(c, page + 1, page_size, "next", link, sizeof(link), &len);
    if (len)
        api_header(c, "Link", link);
}

bool api_q_unescape(struct api_call *c, char *value)
{
    size_t len = strlen(value), out = 0;
    if (pct_decode(value, len, false, value, &out) < 0 || !utf8_valid(value, out)) {
        api_error(c, 400, "BAD_REQUEST", "q: malformed value");
        return false;
    }
    value[out] = '\0';
    return true;
}

bool api_body_object(struct api_call *c, json_t **out)
{
    json_error_t e;
    *out = NULL;
    if (c->body_len == 0) {
        api_error(c, 400, "BAD_REQUEST", "a JSON body is required");
        return false;
    }
    json_t *j = json_loadb(c->body, c->body_len, JSON_REJECT_DUPLICATES, &e);
    if (!j) {
        /* Not e.text: it quotes the input, which may hold a secret. */
        api_error(c, 400, "BAD_REQUEST", "malformed JSON at line %d column %d", e.line, e.column);
        return false;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        api_error(c, 400, "BAD_REQUEST", "the body must be a JSON object");
        return false;
    }
    *out = j;
    return true;
}

/* ---- authentication ------------------------------------------------------------------ */

static const char robot_sql[] = "SELECT robot_id, secret_hash, cred_version, disabled, expires_at"
                                " FROM dockhand_token_lookup($1, NULL, '{}')";

/* Whether user/secret are a working robot's credentials (for 403 instead of 401). */
static bool robot_authenticates(struct api_call *c, const char *user, const char *secret,
                                size_t slen)
{
    const char *p[] = {user};
    PGresult *r = db_exec(c->db, PGRES_TUPLES_OK, robot_sql, 1, p);
    bool ok = false;
    if (r && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
        int64_t id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        int version = atoi(PQgetvalue(r, 0, 2));
        int64_t exp = strtoll(PQgetvalue(r, 0, 4), NULL, 10);
        bool live = PQgetvalue(r, 0, 3)[0] != 't' && (exp == -1 || exp > time(NULL));
        unsigned char key[CREDCACHE_KEY_LEN];
        credcache_key(user, secret, slen, key);
        if (credcache_check(c->st->cc, key, id, version))
            ok = live;
        else
            ok = secret_verify(secret, slen, PQgetvalue(r, 0, 1)) == 1 && live;
    }
    PQclear(r);
    return ok;
}

enum api_login api_login_check(struct api_call *c, const char *user, size_t ulen,
                               const char *secret, size_t slen, int64_t *admin_id)
{
    char acct[LOGIN_MAX_LEN + 8], ipkey[80];
    int retry = 0;
    time_t now = time(NULL);
    const struct config *cfg = c->st->cfg;

    if (ulen > LOGIN_MAX_LEN || !utf8_valid(user, ulen) || slen > SECRET_MAX_LEN ||
        memchr(secret, '\0', slen)) {
        api_error(c, 400, "BAD_REQUEST", "malformed credentials");
        return API_LOGIN_ANSWERED;
    }
    snprintf(acct, sizeof(acct), "a:%s", user);
    snprintf(ipkey, sizeof(ipkey), "i:%s", c->client_ip);
    if (ratelimit_blocked(c->st->rl, acct, cfg->fail_limit_account, now, &retry) ||
        ratelimit_blocked(c->st->rl, ipkey, cfg->fail_limit_address, now, &retry)) {
        char rbuf[16];
        snprintf(rbuf, sizeof(rbuf), "%d", retry);
        api_header(c, "Retry-After", rbuf);
        api_error(c, 429, "TOO_MANY_REQUESTS", "too many failed logins; try again later");
        return API_LOGIN_ANSWERED;
    }

    int64_t id = 0;
    char *hash = NULL;
    int version = 0;
    int found = admin_lookup(c->db, user, &id, &hash, &version);
    if (found < 0) {
        api_error(c, 503, "UNAVAILABLE", "the database is unavailable");
        return API_LOGIN_ANSWERED;
    }
    if (found) {
        unsigned char key[CREDCACHE_KEY_LEN];
        credcache_key(user, secret, slen, key);
        bool ok = credcache_check(c->st->admin_cc, key, id, version) ||
                  secret_verify(secret, slen, hash) == 1;
        free(hash);
        if (ok) {
            credcache_put(c->st->admin_cc, key, id, version);
            ratelimit_clear(c->st->rl, acct);
            snprintf(c->admin, sizeof(c->admin), "%s", user);
            *admin_id = id;
            return API_LOGIN_ADMIN;
        }
    } else if (robot_authenticates(c, user, secret, slen)) {
        return API_LOGIN_ROBOT;
    } else {
        /* Same cost as a real administrator's check. */
        if (secret_verify(secret, slen, secret_dummy_hash_manual()) < 0)
            log_at(LOG_DEBUG, c->rid, "dummy verification failed");
    }
    ratelimit_fail(c->st->rl, acct, now);
    ratelimit_fail(c->st->rl, ipkey, now);
    return API_LOGIN_REFUSED;
}

void api_unauthorized(struct api_call *c)
{
    /* A browser would answer the Basic challenge with its own password dialog: the web
     * page's requests (a session cookie, or a fetch() from a page) get none. */
    if (!c->browser)
        api_header(c, "WWW-Authenticate", "Basic realm=\"dockhand administration\"");
    api_error(c, 401, "UNAUTHORIZED", API_UNAUTHORIZED_MESSAGE);
}

/* A request without Authorization that carries a session cookie: the session's
 * administrator, and for anything but GET/HEAD the session's CSRF token. */
static int api_authenticate_session(struct api_call *c)
{
    const struct config *cfg = c->st->cfg;
    int live = session_lookup(c->db, c->session, cfg->session_idle, cfg->session_max, c->admin,
                              sizeof(c->admin));
    if (live < 0) {
        api_error(c, 503, "UNAVAILABLE", "the database is unavailable");
        return -1;
    }
    if (live == 0) {
        c->admin[0] = '\0';
        api_unauthorized(c);
        return -1;
    }
    if (c->method != EVHTTP_REQ_GET && c->method != EVHTTP_REQ_HEAD &&
        !session_csrf_check(c->session, c->csrf)) {
        api_error(c, 403, "FORBIDDEN", "CSRF token invalid");
        return -1;
    }
    return 0;
}

/* 0 when an administrator authenticated (c->admin set); otherwise the reply is set.
 * HTTP Basic wins over a session cookie when both are present. */
static int api_authenticate(struct api_call *c)
{
    char *buf = NULL;
    size_t ulen = 0, slen = 0;
    const char *secret = NULL;
    int64_t id = 0;
    int rc = -1;

    if (!c->authorization && c->session)
        return api_authenticate_session(c);
    if (!c->authorization) {
        api_unauthorized(c);
        return -1;
    }
    switch (basic_decode(c->authorization, &buf, &ulen, &secret, &slen)) {
    case 0:
        break;
    case DH_ERR_NOMEM:
        api_error(c, 500, "INTERNAL", "out of memory");
        return -1;
    case DH_ERR_NOTFOUND:
        api_unauthorized(c);
        return -1;
    default:
        api_error(c, 400, "BAD_REQUEST", "malformed Authorization header");
        return -1;
    }
    switch (api_login_check(c, buf, ulen, secret, slen, &id)) {
    case API_LOGIN_ADMIN:
        rc = 0;
        break;
    case API_LOGIN_ROBOT:
        api_error(c, 403, "FORBIDDEN", "robot accounts cannot use the administration API");
        break;
    case API_LOGIN_REFUSED:
        api_unauthorized(c);
        break;
    case API_LOGIN_ANSWERED:
        break;
    }
    OPENSSL_cleanse(buf, ulen + 1 + slen);
    free(buf);
    return rc;
}

/* ---- routing -------------------------------------------------------------------------- */

static void api_route(struct api_call *c)
{
    static const struct {
        const char *name;
        void (*fn)(struct api_call *, const char *);
    } routes[] = {
        {"/robots", api_robots},
        {"/projects", api_projects},
        {"/configurations", api_configurations},
        {"/permissions", api_permissions},
        {"/audit-logs", api_audit_logs},
    };
    const char *p = c->path + strlen(API_PREFIX);
    for (size_t i = 0; i < DH_ARRAY_SIZE(routes); i++) {
        size_t n = strlen(routes[i].name);
        if (strncmp(p, routes[i].name, n) == 0 && (p[n] == '\0' || p[n] == '/')) {
            routes[i].fn(c, p + n);
            return;
        }
    }
    api_error(c, 404, "NOT_FOUND", "no such endpoint");
}

/* A change made here is seen by this instance's token realm before the answer leaves:
 * the robot it names is dropped from the cache, anything else empties it. Other
 * instances learn of it through the NOTIFY of the same transaction. */
static void forget_changed(struct api_call *c)
{
    if (strncmp(c->path, API_PREFIX, strlen(API_PREFIX)) != 0)
        return; /* the web page's sign-in and sign-out change no robot */
    const char *p = c->path + strlen(API_PREFIX);
    char *end = NULL;
    if (strncmp(p, "/robots/", 8) == 0 && p[8] >= '1' && p[8] <= '9') {
        long long id = strtoll(p + 8, &end, 10);
        if (*end == '\0') {
            robotcache_forget_robot(c->st->rcache, id);
            robotdir_changed(c->st->rdir, id);
            return;
        }
    }
    if (strcmp(p, "/robots") != 0) /* a new robot was in no cache; robots_create lists it */
        robotcache_clear(c->st->rcache);
    if (c->method == EVHTTP_REQ_DELETE && strncmp(p, "/projects/", 10) == 0)
        robotdir_invalidate(c->st->rdir); /* a project's deletion takes its robots along */
}

static void api_run(struct api_call *c, PGconn **db)
{
    if (!*db || PQstatus(*db) != CONNECTION_OK) {
        PQfinish(*db);
        *db = PQconnectdb(c->st->cfg->database_url);
        if (*db)
            PQsetNoticeProcessor(*db, db_notice_to_log, NULL);
        if (!*db || PQstatus(*db) != CONNECTION_OK) {
            api_error(c, 503, "UNAVAILABLE", "the database is unavailable");
            return;
        }
    }
    c->db = *db;
    if (strncmp(c->path, "/c/", 3) == 0) {
        /* The web page's sign-in, session and sign-out: no authentication first. */
        api_session(c, c->path + 2);
        goto out;
    }
    if (api_authenticate(c) < 0)
        return;
    if (db_set_actor(c->db, c->admin, c->client_ip, c->rid) < 0) {
        api_error(c, 503, "UNAVAILABLE", "the database is unavailable");
        return;
    }
    api_route(c);
out:
    if (!c->status)
        api_error(c, 500, "INTERNAL", "handler gave no answer");
    if (c->method != EVHTTP_REQ_GET && c->method != EVHTTP_REQ_HEAD && c->status < 300)
        forget_changed(c);
    /* A failed transaction must not leak into the next call on this connection. */
    if (PQtransactionStatus(c->db) != PQTRANS_IDLE)
        db_rollback(c->db);
}

/* ---- the thread pool ----------------------------------------------------------------- */

static void wipe_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

static void call_deinit(struct api_call *c)
{
    free(c->path);
    wipe_free(c->session);
    wipe_free(c->csrf);
    free(c->content_type);
    form_deinit(&c->query);
    /* Bodies carry passwords (the web page's sign-in form) and manual secrets. */
    if (c->body) {
        OPENSSL_cleanse(c->body, c->body_len);
        free(c->body);
    }
    if (c->authorization) {
        OPENSSL_cleanse(c->authorization, strlen(c->authorization));
        free(c->authorization);
    }
    free(c->resp_body);
    for (int i = 0; i < c->nheaders; i++) {
        free(c->headers[i][0]);
        free(c->headers[i][1]);
    }
}

static void job_free(struct api_job *j)
{
    call_deinit(&j->call);
    if (j->done)
        event_free(j->done);
    free(j);
}

static void job_done(evutil_socket_t fd, short what, void *arg)
{
    struct api_job *j = arg;
    struct evkeyvalq *h = evhttp_request_get_output_headers(j->http.req);
    for (int i = 0; i < j->call.nheaders; i++)
        if (j->call.headers[i][0] && j->call.headers[i][1])
            evhttp_add_header(h, j->call.headers[i][0], j->call.headers[i][1]);
    const char *body = j->call.resp_body ? j->call.resp_body : "";
    bool head = j->call.method == EVHTTP_REQ_HEAD;
    http_reply(&j->http, j->call.status, NULL, head ? "" : body, head ? 0 : strlen(body));
    job_free(j);
}

static void *api_thread(void *arg)
{
    struct apipool *ap = arg;
    PGconn *db = NULL;
    for (;;) {
        pthread_mutex_lock(&ap->lock);
        while (STAILQ_EMPTY(&ap->jobs) && !ap->stopping)
            pthread_cond_wait(&ap->cond, &ap->lock);
        struct api_job *j = STAILQ_FIRST(&ap->jobs);
        if (!j) {
            pthread_mutex_unlock(&ap->lock);
            break;
        }
        STAILQ_REMOVE_HEAD(&ap->jobs, link);
        ap->queued--;
        pthread_mutex_unlock(&ap->lock);
        api_run(&j->call, &db);
        event_active(j->done, 0, 0);
    }
    PQfinish(db);
    return NULL;
}

struct apipool *apipool_new(struct server_state *st, int threads)
{
    struct apipool *ap = calloc(1, sizeof(*ap));
    if (!ap)
        return NULL;
    ap->st = st;
    pthread_mutex_init(&ap->lock, NULL);
    pthread_cond_init(&ap->cond, NULL);
    STAILQ_INIT(&ap->jobs);
    ap->threads = calloc((size_t)threads, sizeof(pthread_t));
    for (int i = 0; ap->threads && i < threads; i++) {
        if (pthread_create(&ap->threads[i], NULL, api_thread, ap) != 0)
            break;
        ap->nthreads++;
    }
    if (ap->nthreads == 0) {
        apipool_free(ap);
        return NULL;
    }
    return ap;
}

void apipool_free(struct apipool *ap)
{
    if (!ap)
        return;
    pthread_mutex_lock(&ap->lock);
    ap->stopping = true;
    pthread_cond_broadcast(&ap->cond);
    pthread_mutex_unlock(&ap->lock);
    for (int i = 0; i < ap->nthreads; i++)
        pthread_join(ap->threads[i], NULL);
    free(ap->threads);
    pthread_mutex_destroy(&ap->lock);
    pthread_cond_destroy(&ap->cond);
    free(ap);
}

void api_handle(struct worker *w, struct evhttp_request *req)
{
    struct api_job *j = calloc(1, sizeof(*j));
    if (!j) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    http_ctx_init(&j->http, w, req);
    struct api_call *c = &j->call;
    c->st = w->st;
    c->method = evhttp_request_get_command(req);
    snprintf(c->rid, sizeof(c->rid), "%s", j->http.rid);
    http_client_address(req, c->client_ip, sizeof(c->client_ip));

    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t blen = evbuffer_get_length(in);
    struct evkeyvalq *in_h = evhttp_request_get_input_headers(req);
    const char *auth = evhttp_find_header(in_h, "Authorization");
    const char *csrf = evhttp_find_header(in_h, SESSION_CSRF_HEADER);
    const char *ctype = evhttp_find_header(in_h, "Content-Type");
    const char *fetch_mode = evhttp_find_header(in_h, "Sec-Fetch-Mode");
    char token[SESSION_TOKEN_LEN + 1];
    bool cookie = false;
    switch (session_cookie_get(evhttp_find_header(in_h, "Cookie"), SESSION_COOKIE, token,
                               sizeof(token))) {
    case 0:
        cookie = true;
        c->session = strdup(token);
        break;
    case DH_ERR_TOOBIG:
        /* Not a token of ours: a session that cannot be found. */
        cookie = true;
        c->session = strdup("");
        break;
    default:
        break;
    }
    OPENSSL_cleanse(token, sizeof(token));
    /* A script that sends Basic credentials gets the challenge, whatever else it sends. */
    c->browser = !auth && (cookie || (fetch_mode && strcmp(fetch_mode, "navigate") != 0));

    c->path = strdup(path ? path : "");
    /* A trailing slash names the same resource. */
    size_t plen = c->path ? strlen(c->path) : 0;
    if (plen > 1 && c->path[plen - 1] == '/')
        c->path[plen - 1] = '\0';
    if (!c->path) {
        http_error(&j->http, 500, "INTERNAL", "internal server error");
        job_free(j);
        return;
    }
    if (blen > API_MAX_BODY) {
        http_error(&j->http, 413, "PAYLOAD_TOO_LARGE", "request body too large");
        job_free(j);
        return;
    }
    if (query && form_parse(query, strlen(query), &c->query) < 0) {
        http_error(&j->http, 400, "BAD_REQUEST", "malformed query string");
        job_free(j);
        return;
    }
    c->body = malloc(blen + 1);
    c->authorization = auth ? strdup(auth) : NULL;
    c->csrf = csrf ? strdup(csrf) : NULL;
    c->content_type = ctype ? strdup(ctype) : NULL;
    j->done = event_new(w->base, -1, 0, job_done, j);
    if (!c->body || (auth && !c->authorization) || (csrf && !c->csrf) ||
        (ctype && !c->content_type) || (cookie && !c->session) || !j->done) {
        http_error(&j->http, 500, "INTERNAL", "internal server error");
        job_free(j);
        return;
    }
    evbuffer_copyout(in, c->body, blen);
    c->body[blen] = '\0';
    c->body_len = blen;

    struct apipool *ap = w->st->ap;
    pthread_mutex_lock(&ap->lock);
    if (ap->queued >= API_QUEUE_MAX) {
        pthread_mutex_unlock(&ap->lock);
        http_error(&j->http, 503, "UNAVAILABLE", "too many requests in progress; try again");
        job_free(j);
        return;
    }
    STAILQ_INSERT_TAIL(&ap->jobs, j, link);
    ap->queued++;
    pthread_cond_signal(&ap->cond);
    pthread_mutex_unlock(&ap->lock);
}
