/* The admin API's plumbing: the hand-off of each request to an API thread (a workpool
 * whose threads each keep a blocking database connection), routing, and the reply on
 * the worker's loop. Handlers are in api_robots.c, api_projects.c, api_system.c and
 * api_session.c; their helpers in api_call.c; authentication in api_auth.c. */
#include "dockhand/api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>

#include "dockhand/api_auth.h"
#include "dockhand/api_call.h"
#include "dockhand/api_projects.h"
#include "dockhand/api_robots.h"
#include "dockhand/api_session.h"
#include "dockhand/api_system.h"
#include "dockhand/changes.h"
#include "dockhand/db.h"
#include "dockhand/http.h"
#include "dockhand/log.h"
#include "dockhand/session.h"
#include "dockhand/workpool.h"

#define API_PREFIX "/api/v2.0"

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

/* The changes the handler made are seen by this instance's token realm and robot lists
 * before the answer leaves. Other instances learn of them through the NOTIFY of the same
 * transaction. */
static void apply_changes(struct api_call *c)
{
    const struct change_targets t = {c->st->rcache, c->st->rdir};
    if (c->nchanges > API_MAX_CHANGES) {
        change_apply(&t, &(struct change){CHANGE_EVERYTHING, 0});
        return;
    }
    for (int i = 0; i < c->nchanges; i++)
        change_apply(&t, &c->changes[i]);
}

static void api_run(struct api_call *c, PGconn **db)
{
    /* A connection the server closed while this thread waited (a PostgreSQL restart or
     * failover minutes ago) is replaced before the request's first statement, so the
     * request runs on a new one instead of failing with the old. */
    if (!db_usable(*db)) {
        if (*db)
            log_info("admin API: the database connection was closed; opening a new one");
        PQfinish(*db);
        *db = db_open(c->st->cfg->database_url, DB_ROLE_API, c->st->cfg->db_timeout_ms, NULL, 0);
        if (!*db) {
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
    /* Also after a failed answer: a handler records what it writes before it writes, and
     * a change that did not happen costs only a cache miss. */
    apply_changes(c);
    /* A failed transaction must not leak into the next call on this connection. */
    if (PQtransactionStatus(c->db) != PQTRANS_IDLE)
        db_rollback(c->db);
}

/* ---- the thread pool ----------------------------------------------------------------- */

struct api_job {
    struct workpool_job job; /* first: the pool hands it back */
    struct api_call call;
    struct http_ctx http;
};

static void job_free(struct api_job *j)
{
    api_call_deinit(&j->call);
    workpool_job_deinit(&j->job);
    free(j);
}

/* On an API thread; *thread_state is the thread's database connection. */
static void job_run(struct workpool_job *job, void **thread_state)
{
    struct api_job *j = (struct api_job *)job;
    PGconn *db = *thread_state;
    api_run(&j->call, &db);
    *thread_state = db;
}

/* On the worker's loop. */
static void job_done(struct workpool_job *job)
{
    struct api_job *j = (struct api_job *)job;
    struct evkeyvalq *h = evhttp_request_get_output_headers(j->http.req);
    for (int i = 0; i < j->call.nheaders; i++)
        if (j->call.headers[i][0] && j->call.headers[i][1])
            evhttp_add_header(h, j->call.headers[i][0], j->call.headers[i][1]);
    const char *body = j->call.resp_body ? j->call.resp_body : "";
    bool head = j->call.method == EVHTTP_REQ_HEAD;
    http_reply(&j->http, j->call.status, NULL, head ? "" : body, head ? 0 : strlen(body));
    job_free(j);
}

static void thread_end(void *thread_state)
{
    PQfinish(thread_state);
}

struct workpool *apipool_new(int threads)
{
    return workpool_new(threads, API_QUEUE_MAX, thread_end);
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
    http_client_address(&j->http, c->client_ip, sizeof(c->client_ip));

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
    if (!c->body || (auth && !c->authorization) || (csrf && !c->csrf) ||
        (ctype && !c->content_type) || (cookie && !c->session)) {
        http_error(&j->http, 500, "INTERNAL", "internal server error");
        job_free(j);
        return;
    }
    evbuffer_copyout(in, c->body, blen);
    c->body[blen] = '\0';
    c->body_len = blen;

    switch (workpool_submit(w->st->ap, w->base, &j->job, job_run, job_done)) {
    case 0:
        break;
    case DH_ERR_TOOBIG:
        http_error(&j->http, 503, "UNAVAILABLE", "too many requests in progress; try again");
        job_free(j);
        break;
    default:
        http_error(&j->http, 500, "INTERNAL", "internal server error");
        job_free(j);
    }
}
