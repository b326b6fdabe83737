/* The web page's static files, from the table embed.py compiles into the binary. */
#include "dockhand/web.h"

#include <stdio.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "dockhand/http.h"

#define WEB_PREFIX "/ui/"

const struct web_asset *web_asset_find(const char *path)
{
    if (!path || !*path || strchr(path, '%') || strchr(path, '\\'))
        return NULL;
    /* Every segment non-empty and neither "." nor "..". */
    for (const char *seg = path;;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return NULL;
        if (!end)
            break;
        seg = end + 1;
    }
    for (const struct web_asset *a = web_assets; a->path; a++)
        if (strcmp(a->path, path) == 0)
            return a;
    return NULL;
}

bool web_etag_matches(const char *if_none_match, const char *etag)
{
    const char *p = if_none_match;
    size_t elen = strlen(etag);
    if (!p)
        return false;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            return false;
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (*p != '"')
            return false; /* malformed: match nothing, send the file */
        const char *close = strchr(p + 1, '"');
        if (!close)
            return false;
        size_t n = (size_t)(close - p) + 1;
        if (n == elen && memcmp(p, etag, n) == 0)
            return true;
        p = close + 1;
    }
}

void web_security_headers(struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Security-Policy", WEB_CSP);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    evhttp_add_header(h, "X-Frame-Options", "DENY");
}

void web_handle(struct worker *w, struct evhttp_request *req)
{
    struct http_ctx ctx;
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    const struct web_asset *a = NULL;

    http_ctx_init(&ctx, w, req);
    web_security_headers(req);
    if (path && strcmp(path, "/") == 0)
        a = web_asset_find("index.html");
    else if (path && strncmp(path, WEB_PREFIX, strlen(WEB_PREFIX)) == 0)
        a = web_asset_find(path + strlen(WEB_PREFIX));
    if (!a) {
        http_error(&ctx, 404, "NOT_FOUND", "no such file");
        return;
    }
    if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
        evhttp_add_header(out, "Allow", "GET, HEAD");
        http_error(&ctx, 405, "METHOD_NOT_ALLOWED", "only GET and HEAD are allowed here");
        return;
    }
    evhttp_add_header(out, "Cache-Control", "no-cache");
    evhttp_add_header(out, "ETag", a->etag);
    const char *inm = evhttp_find_header(evhttp_request_get_input_headers(req), "If-None-Match");
    if (web_etag_matches(inm, a->etag)) {
        http_reply(&ctx, 304, a->content_type, NULL, 0);
        return;
    }
    if (m == EVHTTP_REQ_HEAD) {
        /* evhttp sends no body for HEAD and does not count one: say what GET would send. */
        char len[32];
        snprintf(len, sizeof(len), "%zu", a->len);
        evhttp_add_header(out, "Content-Length", len);
        http_reply(&ctx, 200, a->content_type, NULL, 0);
        return;
    }
    http_reply(&ctx, 200, a->content_type, (const char *)a->data, a->len);
}
