/* The admin REST API (Harbor v2.0 compatible subset, DESIGN §5). Requests are parsed
 * on the worker's loop and handed to a small pool of API threads, each with its own
 * blocking database connection; the reply goes back to the worker's loop. Only
 * administrators authenticate; robots get 403. */
#pragma once
#include <event2/http.h>
#include <jansson.h>
#include <libpq-fe.h>
#include "dockhand/common.h"
#include "dockhand/form.h"

#define API_MAX_BODY (256 * 1024) /* bytes of a JSON request body (413 above) */
#define API_PAGE_SIZE_DEFAULT 10
#define API_PAGE_SIZE_MAX 100
#define API_QUEUE_MAX 1024 /* waiting API requests before 503 */
#define API_MAX_HEADERS 8  /* response headers a handler may set */

struct server_state;
struct worker;
struct apipool;

/* One API request as a handler sees it, and the response it fills in. */
struct api_call {
    /* request */
    enum evhttp_cmd_type method;
    char *path;        /* e.g. "/api/v2.0/robots/3" (percent-escapes kept) */
    struct form query; /* decoded query parameters */
    char *body;        /* NUL-terminated; may be empty */
    size_t body_len;
    char *authorization; /* header value or NULL; wiped on free */
    char *session;       /* the dockhand_session cookie's value or NULL; wiped on free */
    char *csrf;          /* the X-Harbor-CSRF-Token header or NULL; wiped on free */
    char *content_type;  /* the Content-Type header or NULL */
    bool browser;        /* a session cookie or a browser's fetch(): no Basic challenge */
    char client_ip[64];
    char rid[72];
    /* the authenticated administrator */
    char admin[256];
    PGconn *db;
    struct server_state *st;
    /* response */
    int status;
    char *resp_body; /* JSON text, heap */
    char *headers[API_MAX_HEADERS][2];
    int nheaders;
};

/* Starts threads API threads. */
struct apipool *apipool_new(struct server_state *st, int threads);
/* Finishes queued calls and stops the threads. Accepts NULL. */
void apipool_free(struct apipool *ap);

/* Takes an /api/ request from the worker's loop. */
void api_handle(struct worker *w, struct evhttp_request *req);

/* For handlers: the reply. api_json takes a reference to body (steals it). */
void api_json(struct api_call *c, int status, json_t *body);
void api_error(struct api_call *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void api_header(struct api_call *c, const char *name, const char *value);

/* Routes: each handles the call from its API thread (api_robots.c, api_projects.c,
 * api_system.c). rest is the path after the collection, "" or "/<id>". */
void api_robots(struct api_call *c, const char *rest);
void api_projects(struct api_call *c, const char *rest);
void api_configurations(struct api_call *c, const char *rest);
void api_permissions(struct api_call *c, const char *rest);
void api_audit_logs(struct api_call *c, const char *rest);

/* The one 401 body of the API and the web page's sign-in and session endpoints. */
#define API_UNAUTHORIZED_MESSAGE "administrator credentials required"

/* 401 UNAUTHORIZED, with the Basic challenge unless the request came from a browser. */
void api_unauthorized(struct api_call *c);

enum api_login {
    API_LOGIN_ADMIN,    /* an administrator: c->admin and *admin_id set */
    API_LOGIN_ROBOT,    /* a working robot's credentials: the caller answers 403 */
    API_LOGIN_REFUSED,  /* bad credentials, counted for the limits: the caller answers 401 */
    API_LOGIN_ANSWERED, /* the reply is set (400 malformed, 429 limited, 503) */
};

/* Checks a name and password as the API's Basic authentication does, on an API
 * thread: the failed-login limits per account and per address (429), an
 * administrator's password (600,000-iteration PBKDF2, verified logins cached), else a
 * robot's credentials, else a dummy verification of the same cost. */
enum api_login api_login_check(struct api_call *c, const char *user, size_t ulen,
                               const char *secret, size_t slen, int64_t *admin_id);

/* The web page's /c/login, /c/session and /c/log_out (api_session.c); rest is the
 * path after "/c". */
void api_session(struct api_call *c, const char *rest);

/* Answers a service failure with its status and message. */
struct svc_err;
void api_svc_error(struct api_call *c, const struct svc_err *err);

/* Paging parameters page (≥1, default 1) and page_size (1..API_PAGE_SIZE_MAX, default
 * API_PAGE_SIZE_DEFAULT). Returns false after answering 400. */
bool api_paging(struct api_call *c, int64_t *page, int64_t *page_size);

/* Sets X-Total-Count and Link (prev/next, keeping the other query parameters). */
void api_page_headers(struct api_call *c, int64_t total, int64_t page, int64_t page_size);

/* Percent-decodes one q value in place (Harbor unescapes q values after splitting).
 * False after answering 400. */
bool api_q_unescape(struct api_call *c, char *value);

/* The request body as a JSON object; false after answering 400. */
bool api_body_object(struct api_call *c, json_t **out);
