/* One admin API request as its handler sees it, and what every handler uses to answer
 * it: JSON replies, errors, headers, paging and the body. Handlers run on an
 * API thread (api.h) with a blocking database connection in c->db. */
#pragma once
#include <event2/http.h>
#include <jansson.h>
#include <libpq-fe.h>
#include "dockhand/changes.h"
#include "dockhand/common.h"
#include "dockhand/form.h"
#include "dockhand/query.h"

#define API_MAX_BODY (256 * 1024) /* bytes of a JSON request body (413 above) */
#define API_PAGE_SIZE_DEFAULT 10
#define API_PAGE_SIZE_MAX 100
#define API_MAX_HEADERS 8 /* response headers a handler may set */
#define API_MAX_CHANGES 4 /* changes a call records; more: everything is dropped */

struct server_state;

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
    /* what the call committed, for this instance's caches (changes.h) */
    struct change changes[API_MAX_CHANGES];
    int nchanges; /* may exceed API_MAX_CHANGES: then everything is dropped */
};

/* For handlers: the reply. api_json takes a reference to body (steals it). */
void api_json(struct api_call *c, int status, json_t *body);
void api_error(struct api_call *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void api_header(struct api_call *c, const char *name, const char *value);

/* Answers a store failure (store_err.h) with its HTTP status and message: invalid 400,
 * not found 404, conflict 409, internal 503 when the database did not answer in time,
 * else 500 (the message logged, not sent). */
struct store_err;
void api_store_error(struct api_call *c, const struct store_err *err);

/* Paging parameters page (≥1, default 1) and page_size (1..API_PAGE_SIZE_MAX, default
 * API_PAGE_SIZE_DEFAULT). Returns false after answering 400. */
bool api_paging(struct api_call *c, int64_t *page, int64_t *page_size);

/* Sets X-Total-Count and Link (prev/next, keeping the other query parameters). */
void api_page_headers(struct api_call *c, int64_t total, int64_t page, int64_t page_size);

/* The request body as a JSON object; false after answering 400. */
bool api_body_object(struct api_call *c, json_t **out);

/* Frees what the call holds, wiping what may carry a secret (Authorization, the session
 * cookie, the CSRF header, the body). */
void api_call_deinit(struct api_call *c);

/* Records a committed change; api.c drops what it makes stale before the answer
 * leaves (changes.h). */
void api_changed(struct api_call *c, enum change_kind kind, int64_t id);

/* Parses the q parameter (query.h) into *q when there is one (*given set). False after
 * answering 400 (malformed, with why) or 500. */
bool api_query(struct api_call *c, struct query *q, bool *given);
