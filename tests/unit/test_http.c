/* Unit tests for src/http/http.c: replies and errors go out through a real evhttp
 * server and client on the loopback, on one event loop. The error fallback used to be
 * sent with a length of 72 for its 66 bytes: the client got 6 bytes from past the end. */
#include "check.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "dockhand/cidr.h"
#include "dockhand/http.h"
#include "dockhand/log.h"

/* What the server's handler does for each path. */
static void serve(struct evhttp_request *req, void *arg)
{
    struct worker *w = arg;
    struct http_ctx ctx;
    const char *path = evhttp_request_get_uri(req);
    http_ctx_init(&ctx, w, req);
    if (strcmp(path, "/ok") == 0)
        http_reply(&ctx, 200, "text/plain", "hello", 5);
    else if (strcmp(path, "/error") == 0)
        http_error(&ctx, 404, "NOT_FOUND", "no such thing");
    else /* a message that is not UTF-8: jansson refuses it, the fallback goes out */
        http_error(&ctx, 400, "BAD_REQUEST", "bad \xff byte");
}

struct answer {
    struct event_base *base;
    int code;
    char body[256];
    size_t len;
    char rid[80];
};

static void got(struct evhttp_request *req, void *arg)
{
    struct answer *a = arg;
    if (req) {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        a->code = evhttp_request_get_response_code(req);
        a->len = evbuffer_get_length(in);
        if (a->len >= sizeof(a->body))
            a->len = sizeof(a->body) - 1;
        evbuffer_remove(in, a->body, a->len);
        a->body[a->len] = '\0';
        const char *rid = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Request-Id");
        snprintf(a->rid, sizeof(a->rid), "%s", rid ? rid : "");
    }
    event_base_loopexit(a->base, NULL);
}

static void fetch(struct event_base *base, int port, const char *path, struct answer *a)
{
    memset(a, 0, sizeof(*a));
    a->base = base;
    struct evhttp_connection *conn = evhttp_connection_base_new(base, NULL, "127.0.0.1", port);
    struct evhttp_request *req = evhttp_request_new(got, a);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "localhost");
    evhttp_make_request(conn, req, EVHTTP_REQ_GET, path);
    event_base_dispatch(base);
    evhttp_connection_free(conn);
}

/* X-Forwarded-For: believed only from a trusted peer; the right-most untrusted hop. */
static void test_forwarded(void)
{
    struct cidr *px = NULL;
    size_t n = 0, bad;
    char out[HTTP_ADDR_MAX];
    CHECK(cidr_list_parse("10.0.0.0/8, ::1", &px, &n, &bad) == 0 && n == 2);
    /* an untrusted peer: the header is ignored */
    CHECK(!http_forwarded_client("192.0.2.1", "203.0.113.5", px, n, out, sizeof(out)));
    CHECK_STR(out, "192.0.2.1");
    /* no proxies configured: ignored */
    CHECK(!http_forwarded_client("10.0.0.1", "203.0.113.5", px, 0, out, sizeof(out)));
    CHECK_STR(out, "10.0.0.1");
    /* a trusted peer: its header's right-most entry */
    CHECK(http_forwarded_client("10.0.0.1", "203.0.113.5", px, n, out, sizeof(out)));
    CHECK_STR(out, "203.0.113.5");
    /* a forged left part is not believed: the right-most untrusted wins */
    CHECK(http_forwarded_client("10.0.0.1", "1.1.1.1, 203.0.113.5, 10.2.3.4", px, n, out,
                                sizeof(out)));
    CHECK_STR(out, "203.0.113.5");
    /* every hop trusted: the left-most */
    CHECK(http_forwarded_client("10.0.0.1", "10.9.9.9,10.2.3.4", px, n, out, sizeof(out)));
    CHECK_STR(out, "10.9.9.9");
    /* a malformed entry stops at the trusted hop that handed it over */
    CHECK(
        http_forwarded_client("10.0.0.1", "203.0.113.5, junk, 10.2.3.4", px, n, out, sizeof(out)));
    CHECK_STR(out, "10.2.3.4");
    CHECK(!http_forwarded_client("10.0.0.1", "junk", px, n, out, sizeof(out)));
    CHECK_STR(out, "10.0.0.1");
    CHECK(!http_forwarded_client("10.0.0.1", "", px, n, out, sizeof(out)));
    /* IPv6, brackets and ports; a v4-mapped peer is its IPv4 address */
    CHECK(http_forwarded_client("::1", "[2001:db8::7]:443", px, n, out, sizeof(out)));
    CHECK_STR(out, "2001:db8::7");
    CHECK(http_forwarded_client("::ffff:10.0.0.1", "198.51.100.2:5555", px, n, out, sizeof(out)));
    CHECK_STR(out, "198.51.100.2");
    CHECK(http_forwarded_client("::1", "::ffff:198.51.100.2", px, n, out, sizeof(out)));
    CHECK_STR(out, "198.51.100.2");
    CHECK(!http_forwarded_client("unknown", "198.51.100.2", px, n, out, sizeof(out)));
    free(px);
}

int main(void)
{
    test_forwarded();
    struct event_base *base = event_base_new();
    struct evhttp *http = evhttp_new(base);
    struct server_state st = {.metrics_on = true};
    struct worker w = {.st = &st, .route = ROUTE_API};
    struct answer a;

    log_min_level = LOG_ERROR; /* the access lines are not what is tested */
    snprintf(w.rid_prefix, sizeof(w.rid_prefix), "t");
    w.base = base;
    evhttp_set_gencb(http, serve, &w);
    struct evhttp_bound_socket *bound = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    CHECK(bound != NULL);
    struct sockaddr_in sin;
    socklen_t slen = sizeof(sin);
    getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&sin, &slen);
    int port = ntohs(sin.sin_port);

    fetch(base, port, "/ok", &a);
    CHECK(a.code == 200);
    CHECK_STR(a.body, "hello");
    CHECK_STR(a.rid, "t-1");

    fetch(base, port, "/error", &a);
    CHECK(a.code == 404);
    CHECK_STR(a.body, "{\"errors\":[{\"code\":\"NOT_FOUND\",\"message\":\"no such thing\"}]}");
    CHECK_STR(a.rid, "t-2");

    fetch(base, port, "/fallback", &a);
    CHECK(a.code == 500);
    /* exactly the fallback's bytes: nothing from past its end */
    CHECK(a.len == strlen(HTTP_ERROR_FALLBACK));
    CHECK_STR(a.body, HTTP_ERROR_FALLBACK);
    json_error_t e;
    json_t *j = json_loadb(a.body, a.len, 0, &e);
    CHECK(j != NULL);
    json_decref(j);

    CHECK(atomic_load(&w.inflight) == 0); /* every reply ended its request */

    /* Every reply is in its route group's duration histogram, and only there. */
    struct metric_hist_sum h = {0}, other = {0};
    metric_hist_sum_add(&h, &w.m.duration[ROUTE_API]);
    metric_hist_sum_add(&other, &w.m.duration[ROUTE_TOKEN]);
    uint64_t n = 0;
    for (int i = 0; i <= METRIC_BUCKETS; i++)
        n += h.bucket[i] + other.bucket[i] * 1000;
    CHECK(n == 3);
    CHECK(h.sum_ns > 0);

    evhttp_free(http);
    event_base_free(base);
    return check_done();
}
