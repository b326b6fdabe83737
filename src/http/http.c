/* The request context and the one way to answer a request (http.h). */
#include "dockhand/http.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "dockhand/log.h"

#define LISTEN_BACKLOG 1024

static bool rid_acceptable(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= REQUEST_ID_MAX || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                     (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return n > 0;
}

void http_ctx_init(struct http_ctx *ctx, struct worker *w, struct evhttp_request *req)
{
    ctx->w = w;
    ctx->req = req;
    ctx->note = NULL;
    ctx->probe = false;
    ctx->forwarded = false;
    ctx->route = w->route;
    clock_gettime(CLOCK_MONOTONIC, &ctx->start);
    const char *given = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Request-Id");
    if (given && rid_acceptable(given)) {
        snprintf(ctx->rid, sizeof(ctx->rid), "%s", given);
    } else {
        /* "<worker prefix>-<request number in hex>", by hand: once per request */
        static const char hex[] = "0123456789abcdef";
        char num[16], *p = num + sizeof(num);
        uint64_t n = ++w->reqno;
        do {
            *--p = hex[n & 15];
            n >>= 4;
        } while (n);
        size_t plen = strlen(w->rid_prefix), nlen = (size_t)(num + sizeof(num) - p);
        memcpy(ctx->rid, w->rid_prefix, plen);
        ctx->rid[plen] = '-';
        memcpy(ctx->rid + plen + 1, p, nlen);
        ctx->rid[plen + 1 + nlen] = '\0';
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "X-Request-Id", ctx->rid);
    atomic_fetch_add(&w->inflight, 1);
}

static const char *method_name(enum evhttp_cmd_type m)
{
    switch (m) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    default:
        return "OTHER";
    }
}

/* The reply is written out (evhttp's completion callback): only now may the drain at
 * SIGTERM let the loop end; ending it after evhttp_send_reply alone lost replies still
 * waiting for the socket, whose requests had run (tokens issued and audited). */
static void reply_written(struct evhttp_request *req, void *arg)
{
    struct worker *w = arg;
    /* It replaces the connection tracker's own callback (one per request): tell it too. */
    if (w->conns)
        conns_request_done(w->conns, req);
    atomic_fetch_sub(&w->inflight, 1);
}

void http_reply(struct http_ctx *ctx, int code, const char *content_type, const char *body,
                size_t len)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(ctx->req);
    struct evbuffer *out = evbuffer_new();
    struct timespec end;

    evhttp_add_header(h, "Content-Type", content_type ? content_type : "application/json");
    /* A handler may have chosen its own caching (the web page's files: no-cache + ETag). */
    if (!evhttp_find_header(h, "Cache-Control"))
        evhttp_add_header(h, "Cache-Control", "no-store");
    if (!evhttp_find_header(h, "X-Content-Type-Options"))
        evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    if (out && len)
        evbuffer_add(out, body, len);

    clock_gettime(CLOCK_MONOTONIC, &end);
    long long us = ((long long)end.tv_sec - ctx->start.tv_sec) * 1000000 +
                   (end.tv_nsec - ctx->start.tv_nsec) / 1000;
    if (us < 0)
        us = 0;
    if (ctx->w->st->metrics_on)
        metric_hist_observe(&ctx->w->m.duration[ctx->route], (uint64_t)us * 1000);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ctx->req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    /* The query is not logged: it may carry account names clients consider private. */
    /* A client named by a trusted proxy's X-Forwarded-For is on the line, with the proxy. */
    char fwd[2 * HTTP_ADDR_MAX + 24] = "";
    if (ctx->forwarded)
        snprintf(fwd, sizeof(fwd), " (client %s via %s)", ctx->client, ctx->via);
    log_at(ctx->probe && code == 200 ? LOG_DEBUG : LOG_INFO, ctx->rid,
           "%s %.200s %d %lld.%02lldms%s%.600s%s",
           method_name(evhttp_request_get_command(ctx->req)), path ? path : "-", code, us / 1000,
           us % 1000 / 10, ctx->note ? " " : "", ctx->note ? ctx->note : "", fwd);

    /* Stopping: each connection closes after its reply, so none brings a new request. */
    if (ctx->w->stopping)
        evhttp_add_header(h, "Connection", "close");
    /* Without a connection (the client left) evhttp drops the reply: nothing to wait for.
     * A write that fails later never completes: the drain's limit bounds that wait. */
    if (evhttp_request_get_connection(ctx->req))
        evhttp_request_set_on_complete_cb(ctx->req, reply_written, ctx->w);
    else
        atomic_fetch_sub(&ctx->w->inflight, 1);
    evhttp_send_reply(ctx->req, code, NULL, out);
    evbuffer_free(out);
}

void http_error(struct http_ctx *ctx, int status, const char *code, const char *message)
{
    json_t *o = json_pack("{s:[{s:s, s:s}]}", "errors", "code", code, "message", message);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (text)
        http_reply(ctx, status, NULL, text, strlen(text));
    else /* no memory, or code/message not UTF-8 */
        http_reply(ctx, 500, NULL, HTTP_ERROR_FALLBACK, sizeof(HTTP_ERROR_FALLBACK) - 1);
    free(text);
    json_decref(o);
}

/* One X-Forwarded-For entry, s[0..len) without the blanks around it, as an address:
 * "a.b.c.d", "x:y::z", "[x:y::z]", "a.b.c.d:port", "[x:y::z]:port" (a port is dropped). */
static bool xff_entry(const char *s, size_t len, struct cidr *addr)
{
    char buf[HTTP_ADDR_MAX];
    while (len && (*s == ' ' || *s == '\t'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0 || len >= sizeof(buf))
        return false;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close || (close + 1 != s + len && close[1] != ':'))
            return false;
        len = (size_t)(close - s - 1);
        s++;
    } else {
        const char *colon = memchr(s, ':', len);
        if (colon && !memchr(colon + 1, ':', len - (size_t)(colon + 1 - s)))
            len = (size_t)(colon - s); /* a.b.c.d:port */
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    return cidr_addr_parse(buf, addr) == 0;
}

bool http_forwarded_client(const char *peer, const char *hdr, const struct cidr *proxies, size_t n,
                           char *out, size_t cap)
{
    struct cidr addr, hop;
    snprintf(out, cap, "%s", peer);
    if (n == 0 || !hdr || cidr_addr_parse(peer, &addr) < 0 ||
        !cidr_list_contains(proxies, n, &addr))
        return false;
    bool found = false;
    const char *end = hdr + strlen(hdr);
    for (int hops = 0; end > hdr && hops < HTTP_XFF_MAX; hops++) {
        const char *start = end;
        while (start > hdr && start[-1] != ',')
            start--;
        if (!xff_entry(start, (size_t)(end - start), &hop))
            break; /* the trusted hop that handed this over is the client */
        found = true;
        addr = hop;
        if (!cidr_list_contains(proxies, n, &hop))
            break;
        end = start > hdr ? start - 1 : hdr;
    }
    if (found)
        cidr_addr_format(&addr, out, cap);
    return found;
}

void http_client_address(struct http_ctx *ctx, char *out, size_t cap)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(ctx->req);
    const struct config *cfg = ctx->w->st->cfg;
    const char *addr = NULL;
    ev_uint16_t port = 0;
    if (conn)
        evhttp_connection_get_peer(conn, (char **)&addr, &port);
    snprintf(ctx->via, sizeof(ctx->via), "%s", addr ? addr : "unknown");
    ctx->forwarded = false;
    if (cfg->nproxies) {
        /* Every X-Forwarded-For line, in order, as one list. */
        struct evkeyvalq *h = evhttp_request_get_input_headers(ctx->req);
        char joined[2048];
        size_t len = 0;
        bool any = false;
        for (struct evkeyval *kv = h->tqh_first; kv; kv = kv->next.tqe_next) {
            if (strcasecmp(kv->key, "X-Forwarded-For") != 0)
                continue;
            size_t l = strlen(kv->value);
            if (len + l + 2 > sizeof(joined)) {
                len = 0; /* the right-most hops are what counts: keep the newest lines */
                if (l + 1 > sizeof(joined))
                    continue;
            }
            if (len)
                joined[len++] = ',';
            memcpy(joined + len, kv->value, l);
            len += l;
            any = true;
        }
        joined[len] = '\0';
        if (any)
            ctx->forwarded = http_forwarded_client(ctx->via, joined, cfg->proxies, cfg->nproxies,
                                                   ctx->client, sizeof(ctx->client));
    }
    if (!ctx->forwarded)
        snprintf(ctx->client, sizeof(ctx->client), "%s", ctx->via);
    snprintf(out, cap, "%s", ctx->client);
}

int http_listen_socket(const char *hostport, const char *setting)
{
    char host[256];
    const char *colon = strrchr(hostport, ':');
    if (!colon || colon == hostport || (size_t)(colon - hostport) >= sizeof(host)) {
        log_error("%s must be host:port, got %s", setting, hostport);
        return -1;
    }
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = '\0';
    char *h = host;
    if (h[0] == '[' && h[strlen(h) - 1] == ']') {
        h[strlen(h) - 1] = '\0';
        h++;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(*h ? h : NULL, colon + 1, &hints, &ai);
    if (rc != 0) {
        log_error("cannot resolve %s: %s", hostport, gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    /* TCP_NODELAY is inherited by accepted connections: without it, a reply larger than
     * a segment (an API page) waited for the client's delayed ACK, 40 ms. */
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
        log_error("%s: cannot listen on %s: %s", setting, hostport, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}
