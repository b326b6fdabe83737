/* What every HTTP handler shares: the process-wide state, the worker thread a request
 * runs on, the request context, and the one way to answer (reply, error, access log).
 * The server (server.c) owns the listener, the worker threads and the route table; the
 * handlers (realm, api, web) depend on this module, never on the server. */
#pragma once
#include <event2/event.h>
#include <event2/http.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include "dockhand/common.h"
#include "dockhand/config.h"
#include "dockhand/conns.h"
#include "dockhand/metrics.h"

#define HTTP_MAX_HEADERS 16384      /* bytes of request headers (evhttp answers 4xx above) */
#define HTTP_MAX_BODY (1024 * 1024) /* bytes buffered of any body; handlers limit lower */
#define HTTP_TIMEOUT_S 30           /* idle keep-alive and slow-client limit */
#define REQUEST_ID_MAX 64           /* a client's X-Request-Id longer than this is replaced */
#define HTTP_ADDR_MAX 64            /* bytes of a client address's text, NUL included */
#define HTTP_XFF_MAX 32             /* X-Forwarded-For hops looked at, right to left */

/* What the metrics count per worker (README "Metrics"): label values are these fixed sets. */
enum route_group {
    ROUTE_TOKEN,
    ROUTE_API,
    ROUTE_WEB,
    ROUTE_KEYS,
    ROUTE_HEALTH,
    ROUTE_OTHER,
    ROUTE_GROUPS
};
enum token_grant {
    GRANT_NONE,
    GRANT_BASIC,
    GRANT_PASSWORD,
    GRANT_REFRESH,
    GRANT_EXCHANGE, /* RFC 8693 token exchange of an identity token */
    GRANT_KINDS
};
enum token_outcome {
    TOKEN_GRANTED,   /* everything asked for (or a login without scopes) */
    TOKEN_PARTIAL,   /* some of it */
    TOKEN_EMPTY,     /* scopes asked, nothing granted */
    TOKEN_ANONYMOUS, /* no credentials: a token for public projects */
    TOKEN_BAD_CREDENTIALS,
    TOKEN_THROTTLED,
    TOKEN_BAD_REQUEST,
    TOKEN_DB_UNAVAILABLE,
    TOKEN_ERROR,
    TOKEN_OUTCOMES
};
enum verify_result { VERIFY_MATCH, VERIFY_MISMATCH, VERIFY_MALFORMED, VERIFY_RESULTS };
/* Identity tokens tried against a robot's federation rules */
enum identity_result { IDENTITY_ACCEPTED, IDENTITY_REFUSED, IDENTITY_RESULTS };

/* Written by the worker's own thread only (metric_add), summed at scrape time. */
struct worker_metrics {
    metric_t tokens[GRANT_KINDS][TOKEN_OUTCOMES];
    struct metric_hist duration[ROUTE_GROUPS];
    metric_t verifications[VERIFY_RESULTS];
    metric_t identities[IDENTITY_RESULTS];
};

struct keyring;
struct ratelimit;
struct credcache;
struct robotcache;
struct robotdir;
struct pgpool;
struct audit_writer;
struct workpool;
struct tls;
struct oidc_keys;
struct realm_park;

/* Process-wide state, read-only after start except where atomic or locked inside. */
struct server_state {
    const struct config *cfg;
    _Atomic(struct keyring *) ring; /* swapped on SIGHUP; old rings live until exit */
    struct keyring *old_rings[64];
    int nold;
    char *realm;     /* the Basic realm / token endpoint URL */
    struct tls *tls; /* NULL: plain HTTP; else HTTPS, the certificate reloaded on SIGHUP */
    struct ratelimit *rl;
    struct credcache *cc;        /* verified robot credentials */
    struct credcache *admin_cc;  /* verified administrator credentials */
    struct robotcache *rcache;   /* robots and their project access */
    struct robotdir *rdir;       /* every robot's name, for the admin API's lists */
    _Atomic int64_t notify_sync; /* the highest 'sync:<n>' notification processed */
    struct workpool *hp;
    struct workpool *ap;
    struct oidc_keys *oidc; /* identity token issuers' keys */
    struct audit_writer *aw;
    bool metrics_on;        /* DOCKHAND_METRICS_LISTEN is not "off": count */
    struct worker *workers; /* for the metrics listener's sums */
    int nworkers;
    metric_t notify_messages;  /* notifications received (the listener thread writes it) */
    struct conns_shared conns; /* client connections: the cap, the deadlines, the counts */
};

struct worker {
    struct server_state *st;
    int id;
    pthread_t thread;
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    struct conns *conns; /* this worker's client connections */
    struct pgpool *pool;
    struct event *stop_ev;
    struct event *drain_ev;
    struct event *log_ev; /* writes the access lines held back during a loop pass */
    /* Requests whose reply is not yet written out (counted from http_ctx_init to the
     * end of the reply's write), for the drain at SIGTERM. */
    atomic_int inflight;
    bool stopping; /* SIGTERM: replies say "Connection: close" (the worker's thread only) */
    uint64_t reqno;
    char rid_prefix[12];
    enum route_group route;  /* the group of the request being routed (http_ctx_init reads it) */
    struct realm_park *park; /* token requests waiting for room in the audit queue (realm.c) */
    struct worker_metrics m;
};

/* A request in progress: its id and start time, for the access log. */
struct http_ctx {
    struct worker *w;
    struct evhttp_request *req;
    char rid[REQUEST_ID_MAX + 1];
    struct timespec start;
    const char *note; /* appended to the access log line when set (valid until the reply) */
    bool probe;       /* a health probe: a 200 is logged at debug level, not info */
    /* Set by http_client_address when the client's address came from a trusted proxy's
     * X-Forwarded-For: both go on the access log line. */
    bool forwarded;
    char client[HTTP_ADDR_MAX];
    char via[HTTP_ADDR_MAX];
    enum route_group route;
};

/* A listening socket (non-blocking, close-on-exec, TCP_NODELAY inherited by accepted
 * connections) on hostport ("host:port", "[v6]:port", ":port"); setting names it in the
 * log when it fails. Returns the fd, or -1 (logged). */
int http_listen_socket(const char *hostport, const char *setting);

/* Starts a request: sets the request id (echoed or generated) and counts it in flight. */
void http_ctx_init(struct http_ctx *ctx, struct worker *w, struct evhttp_request *req);

/* Sends the one reply of ctx's request (body copied; content_type may be NULL for
 * JSON), logs it, and ends the request. */
void http_reply(struct http_ctx *ctx, int code, const char *content_type, const char *body,
                size_t len);

/* The body sent when an error's own body cannot be made. */
#define HTTP_ERROR_FALLBACK                                                                        \
    "{\"errors\":[{\"code\":\"INTERNAL\",\"message\":\"internal server error\"}]}"

/* {"errors":[{"code":code,"message":message}]} with status; 500 and
 * HTTP_ERROR_FALLBACK when that body cannot be made (no memory, or code or message not
 * UTF-8). */
void http_error(struct http_ctx *ctx, int status, const char *code, const char *message);

/* The client's address into out (at most HTTP_ADDR_MAX bytes are written): the TCP peer;
 * or, when the peer is one of DOCKHAND_TRUSTED_PROXIES and the request carries
 * X-Forwarded-For, the right-most address of that header (all its lines, in order) that
 * is not itself a trusted proxy — every trusted hop is skipped, and a malformed entry
 * stops the walk at the hop that handed it over. Every other peer's header is ignored.
 * The realm, the admin API, the rate limiter, the audit log and the access log all use
 * this one answer. */
void http_client_address(struct http_ctx *ctx, char *out, size_t cap);

/* The address of X-Forwarded-For's text hdr (the lines of the header joined by ", ") that
 * names the client of a request whose TCP peer is peer, with proxies[0..n) trusted;
 * written to out. Returns true when it came from the header (peer is a trusted proxy and
 * the header named someone). Pure: the unit tests call it. */
bool http_forwarded_client(const char *peer, const char *hdr, const struct cidr *proxies, size_t n,
                           char *out, size_t cap);

/* A handler: takes the request on its worker's loop and answers it exactly once,
 * now or later (http_reply / http_error). */
typedef void http_handler_fn(struct worker *w, struct evhttp_request *req);
