/* What every admin API handler uses: the reply (JSON, errors, headers), paging, the
 * request body (api_call.h); q and sort are parsed by query.h. */
#include "dockhand/api_call.h"

#include "dockhand/api_parse.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "dockhand/db.h"
#include "dockhand/log.h"
#include "dockhand/store_err.h"

void api_header(struct api_call *c, const char *name, const char *value)
{
    if (c->nheaders == API_MAX_HEADERS)
        return;
    c->headers[c->nheaders][0] = strdup(name);
    c->headers[c->nheaders][1] = strdup(value);
    c->nheaders++;
}

void api_changed(struct api_call *c, enum change_kind kind, int64_t id)
{
    if (c->nchanges < API_MAX_CHANGES)
        c->changes[c->nchanges] = (struct change){kind, id};
    c->nchanges++;
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
        /* A 503's text is ours and tells the client to try again; a 500's may be internal. */
        if (status != 503)
            snprintf(msg, sizeof(msg), "internal server error");
    }
    api_json(c, status, json_pack("{s:[{s:s, s:s}]}", "errors", "code", code, "message", msg));
}

void api_store_error(struct api_call *c, const struct store_err *err)
{
    /* The store's classes as HTTP statuses: the one place they meet. */
    switch (err->status) {
    case STORE_NOT_FOUND:
        api_error(c, 404, "NOT_FOUND", "%s", err->msg);
        break;
    case STORE_CONFLICT:
        api_error(c, 409, "CONFLICT", "%s", err->msg);
        break;
    case STORE_INVALID:
        api_error(c, 400, "BAD_REQUEST", "%s", err->msg);
        break;
    default:
        /* A statement or lock timeout, or a lost connection: the database is stalled or
         * away, not broken, and the same request may succeed in a moment. */
        if (c->db && db_unavailable(c->db))
            api_error(c, 503, "UNAVAILABLE", "the database did not answer in time");
        else
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

bool api_body_object(struct api_call *c, json_t **out)
{
    char why[API_WHY_LEN];
    if (api_parse_body(c->body, c->body_len, out, why) < 0) {
        api_error(c, 400, "BAD_REQUEST", "%s", why);
        return false;
    }
    return true;
}

static void wipe_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

void api_call_deinit(struct api_call *c)
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

bool api_query(struct api_call *c, struct query *q, bool *given)
{
    const char *qs = form_get(&c->query, "q");
    char why[QUERY_ERR_LEN];
    *given = qs != NULL;
    if (!qs)
        return true;
    int rc = query_parse(q, qs, strlen(qs), why);
    if (rc == DH_ERR_NOMEM) {
        api_error(c, 500, "INTERNAL", "out of memory");
        return false;
    }
    if (rc < 0) {
        api_error(c, 400, "BAD_REQUEST", "q: %s", why);
        return false;
    }
    return true;
}
