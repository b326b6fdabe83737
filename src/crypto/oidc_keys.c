#include "dockhand/oidc_keys.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "dockhand/clock.h"
#include "dockhand/log.h"
#include "dockhand/oidc.h"
#include "dockhand/workpool.h"

#define HTTP_HEAD_MAX 16384 /* bytes of a response's status line and headers */
#define URL_MAX 2048

/* ---- a blocking HTTPS GET with one deadline, on non-blocking sockets ------------------ */

struct url {
    char host[256];
    char port[8];
    char path[URL_MAX];
};

static int url_parse(const char *u, struct url *out)
{
    if (strncmp(u, "https://", 8) != 0 || strlen(u) >= URL_MAX)
        return -1;
    const char *h = u + 8, *end = h + strcspn(h, "/?#");
    const char *hend = end, *colon = NULL;
    if (*h == '[') { /* [v6]:port */
        const char *rb = memchr(h, ']', (size_t)(end - h));
        if (!rb)
            return -1;
        colon = rb[1] == ':' ? rb + 1 : NULL;
        hend = rb;
        h++;
    } else {
        colon = memchr(h, ':', (size_t)(end - h));
        if (colon)
            hend = colon;
    }
    if (hend <= h || (size_t)(hend - h) >= sizeof(out->host) || memchr(h, '@', (size_t)(end - h)))
        return -1;
    memcpy(out->host, h, (size_t)(hend - h));
    out->host[hend - h] = '\0';
    if (colon) {
        size_t pl = (size_t)(end - colon - 1);
        if (pl == 0 || pl >= sizeof(out->port) || strspn(colon + 1, "0123456789") < pl)
            return -1;
        memcpy(out->port, colon + 1, pl);
        out->port[pl] = '\0';
    } else {
        strcpy(out->port, "443");
    }
    snprintf(out->path, sizeof(out->path), "%s", *end == '/' ? end : "/");
    if (strpbrk(out->path, " \r\n#"))
        return -1;
    for (const char *c = out->host; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr(".-:", *c))
            return -1;
    return 0;
}

static int remaining(uint64_t deadline)
{
    uint64_t now = clock_mono_ms();
    return now >= deadline ? 0 : (int)(deadline - now);
}

static int wait_fd(int fd, short ev, uint64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = ev};
    int ms = remaining(deadline);
    if (ms == 0)
        return -1;
    return poll(&p, 1, ms) == 1 ? 0 : -1;
}

/* The host's addresses within the deadline. getaddrinfo blocks as long as the resolver's
 * own timeouts say (5 s a try, twice, for each name server, by default): a name server
 * that does not answer would hold a fetcher thread, and the logins waiting for it, far
 * past DOCKHAND_OIDC_TIMEOUT_MS. glibc's asynchronous form is waited for with gai_suspend
 * until the deadline; a lookup still under way then is cancelled or, when glibc is running
 * it already and cannot, left to finish in glibc's thread and freed by a later call (the
 * `strays`, reachable from here until then). */
struct lookup {
    struct gaicb cb;
    struct addrinfo hints;
    struct lookup *next;
    char name[]; /* the host, NUL, the port, NUL */
};

static pthread_mutex_t strays_mu = PTHREAD_MUTEX_INITIALIZER;
static struct lookup *strays;

static void lookup_free(struct lookup *l)
{
    if (l->cb.ar_result)
        freeaddrinfo(l->cb.ar_result);
    free(l);
}

/* Frees the strays that have finished; adds l (NULL: none) to them. */
static void strays_sweep(struct lookup *l)
{
    pthread_mutex_lock(&strays_mu);
    for (struct lookup **p = &strays; *p;) {
        struct lookup *x = *p;
        if (gai_error(&x->cb) == EAI_INPROGRESS) {
            p = &x->next;
        } else {
            *p = x->next;
            lookup_free(x);
        }
    }
    if (l) {
        l->next = strays;
        strays = l;
    }
    pthread_mutex_unlock(&strays_mu);
}

static struct addrinfo *resolve(const struct url *u, uint64_t deadline, const char **why)
{
    size_t hl = strlen(u->host), pl = strlen(u->port);
    struct lookup *l = calloc(1, sizeof(*l) + hl + pl + 2);
    *why = "cannot resolve the host";
    if (!l)
        return NULL;
    memcpy(l->name, u->host, hl + 1);
    memcpy(l->name + hl + 1, u->port, pl + 1);
    l->hints.ai_family = AF_UNSPEC;
    l->hints.ai_socktype = SOCK_STREAM;
    l->cb.ar_name = l->name;
    l->cb.ar_service = l->name + hl + 1;
    l->cb.ar_request = &l->hints;
    struct gaicb *list[1] = {&l->cb};
    strays_sweep(NULL);
    if (getaddrinfo_a(GAI_NOWAIT, list, 1, NULL) != 0) {
        free(l);
        return NULL;
    }
    int rc, ms;
    while ((rc = gai_error(&l->cb)) == EAI_INPROGRESS && (ms = remaining(deadline)) > 0) {
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
        gai_suspend((const struct gaicb *const *)list, 1, &ts);
    }
    if (rc == EAI_INPROGRESS) {
        *why = "timed out resolving the host";
        if (gai_cancel(&l->cb) == EAI_NOTCANCELED)
            strays_sweep(l);
        else
            lookup_free(l);
        return NULL;
    }
    struct addrinfo *res = rc == 0 ? l->cb.ar_result : NULL;
    if (res)
        l->cb.ar_result = NULL;
    lookup_free(l);
    return res;
}

static int tcp_connect(const struct url *u, uint64_t deadline, const char **why)
{
    struct addrinfo *res, *ai;
    int fd = -1;
    if (!(res = resolve(u, deadline, why)))
        return -1;
    *why = "cannot connect";
    for (ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        int err = 0;
        socklen_t el = sizeof(err);
        if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline) == 0 &&
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0)
            break;
        if (remaining(deadline) == 0)
            *why = "timed out connecting";
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* Runs an SSL call until it is done, waiting for the socket within the deadline. */
#define SSL_RETRY(ssl, fd, deadline, call, result)                                                 \
    for (;;) {                                                                                     \
        result = (call);                                                                           \
        if (result > 0)                                                                            \
            break;                                                                                 \
        int e_ = SSL_get_error(ssl, result);                                                       \
        if (e_ == SSL_ERROR_WANT_READ && wait_fd(fd, POLLIN, deadline) == 0)                       \
            continue;                                                                              \
        if (e_ == SSL_ERROR_WANT_WRITE && wait_fd(fd, POLLOUT, deadline) == 0)                     \
            continue;                                                                              \
        if (e_ == SSL_ERROR_ZERO_RETURN || (e_ == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))     \
            result = 0; /* end of stream */                                                        \
        else                                                                                       \
            result = remaining(deadline) == 0 ? -2 : -1;                                           \
        break;                                                                                     \
    }

/* Decodes a chunked body in place. Returns its length or -1. */
static long dechunk(char *b, size_t len)
{
    size_t in = 0, out = 0;
    for (;;) {
        char *end;
        if (in >= len)
            return -1;
        unsigned long n = strtoul(b + in, &end, 16);
        char *eol = memchr(b + in, '\n', len - in);
        if (end == b + in || !eol)
            return -1;
        in = (size_t)(eol - b) + 1;
        if (n == 0)
            return (long)out;
        if (n > len - in)
            return -1;
        memmove(b + out, b + in, n);
        out += n;
        in += n;
        if (in + 2 > len || b[in] != '\r' || b[in + 1] != '\n')
            return -1;
        in += 2;
    }
}

/* The value of header name in head (NUL-terminated, lines ending \r\n), or NULL. */
static const char *header_find(const char *head, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
        const char *h = l + 2;
        if (strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
            const char *v = h + nl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            const char *e = strstr(v, "\r\n");
            *vlen = e ? (size_t)(e - v) : strlen(v);
            return v;
        }
    }
    return NULL;
}

static long cache_max_age(const char *head)
{
    size_t vl;
    const char *v = header_find(head, "Cache-Control", &vl);
    if (!v)
        return -1;
    char buf[256];
    snprintf(buf, sizeof(buf), "%.*s", (int)(vl < 255 ? vl : 255), v);
    for (char *p = buf; (p = strcasestr(p, "max-age")) != NULL; p++) {
        char *q = p + 7;
        while (*q == ' ')
            q++;
        if (*q != '=')
            continue;
        q++;
        if (*q == '"')
            q++;
        if (!isdigit((unsigned char)*q))
            return -1;
        long n = strtol(q, NULL, 10);
        return n < 0 ? -1 : n;
    }
    return -1;
}

static SSL_CTX *client_ctx(const char *ca_file)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    /* Many servers close without close_notify; Content-Length or the last chunk tells a
     * whole answer from a cut one (and a cut JSON document does not parse). */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    int ok = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                     : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        SSL_CTX_free(ctx);
        ERR_clear_error();
        return NULL;
    }
    return ctx;
}

static int https_get(SSL_CTX *ctx, const char *url, int timeout_ms, size_t max, char **body,
                     size_t *blen, long *max_age, const char **why)
{
    struct url u;
    uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
    SSL *ssl = NULL;
    char *buf = NULL;
    size_t cap = HTTP_HEAD_MAX + max + 64, len = 0;
    int fd = -1, r, ret = DH_ERR_INVALID;

    *body = NULL;
    *max_age = -1;
    if (url_parse(url, &u) < 0) {
        *why = "not an https:// URL";
        return DH_ERR_INVALID;
    }
    fd = tcp_connect(&u, deadline, why);
    if (fd < 0)
        return DH_ERR_INVALID;
    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, u.host, ip) == 1 || inet_pton(AF_INET6, u.host, ip) == 1;
    ssl = SSL_new(ctx);
    buf = malloc(cap + 1);
    if (!ssl || !buf || SSL_set_fd(ssl, fd) != 1) {
        *why = "out of memory";
        goto out;
    }
    if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), u.host) != 1
              : (SSL_set_tlsext_host_name(ssl, u.host) != 1 || SSL_set1_host(ssl, u.host) != 1)) {
        *why = "bad host name";
        goto out;
    }
    SSL_RETRY(ssl, fd, deadline, SSL_connect(ssl), r);
    if (r <= 0) {
        long v = SSL_get_verify_result(ssl);
        *why = r == -2          ? "timed out in the TLS handshake"
               : v != X509_V_OK ? "certificate not trusted or not for this host"
                                : "TLS handshake failed";
        goto out;
    }
    char req[URL_MAX + 512];
    int rl = snprintf(req, sizeof(req),
                      "GET %s HTTP/1.1\r\nHost: %s%s%s\r\nAccept: application/json\r\n"
                      "User-Agent: dockhand\r\nConnection: close\r\n\r\n",
                      u.path, u.host, strcmp(u.port, "443") ? ":" : "",
                      strcmp(u.port, "443") ? u.port : "");
    SSL_RETRY(ssl, fd, deadline, SSL_write(ssl, req, rl), r);
    if (r <= 0) {
        *why = "cannot send the request";
        goto out;
    }
    for (;;) {
        if (len == cap) {
            *why = "answer too large";
            goto out;
        }
        if (remaining(deadline) == 0) { /* a server that trickles never runs out of data */
            *why = "timed out reading the answer";
            goto out;
        }
        SSL_RETRY(ssl, fd, deadline, SSL_read(ssl, buf + len, (int)(cap - len)), r);
        if (r == 0)
            break;
        if (r < 0) {
            *why = r == -2 ? "timed out reading the answer" : "connection failed while reading";
            goto out;
        }
        len += (size_t)r;
    }
    buf[len] = '\0';
    char *sep = strstr(buf, "\r\n\r\n");
    if (!sep || sep - buf > HTTP_HEAD_MAX) {
        *why = "malformed HTTP answer";
        goto out;
    }
    sep[2] = '\0'; /* the head ends with its last \r\n */
    if (strncmp(buf, "HTTP/1.", 7) != 0 || strncmp(buf + 8, " 200", 4) != 0) {
        *why = "HTTP status is not 200";
        goto out;
    }
    char *b = sep + 4;
    size_t bl = len - (size_t)(b - buf), vl;
    const char *te = header_find(buf, "Transfer-Encoding", &vl);
    if (te && vl >= 7 && strncasecmp(te + vl - 7, "chunked", 7) == 0) {
        long n = dechunk(b, bl);
        if (n < 0) {
            *why = "malformed chunked answer";
            goto out;
        }
        bl = (size_t)n;
    } else {
        const char *cl = header_find(buf, "Content-Length", &vl);
        if (cl) {
            unsigned long n = strtoul(cl, NULL, 10);
            if (n > bl) {
                *why = "answer cut short";
                goto out;
            }
            bl = n;
        }
    }
    if (bl > max) {
        *why = "answer too large";
        goto out;
    }
    *max_age = cache_max_age(buf);
    *body = malloc(bl + 1);
    if (!*body) {
        *why = "out of memory";
        goto out;
    }
    memcpy(*body, b, bl);
    (*body)[bl] = '\0';
    *blen = bl;
    ret = 0;
out:
    SSL_free(ssl);
    if (fd >= 0)
        close(fd);
    free(buf);
    ERR_clear_error();
    return ret;
}

int oidc_https_get(const char *url, const char *ca_file, int timeout_ms, size_t max, char **body,
                   size_t *len, long *max_age, const char **why)
{
    SSL_CTX *ctx = client_ctx(ca_file);
    if (!ctx) {
        *why = "cannot load the CA file";
        return DH_ERR_INVALID;
    }
    int r = https_get(ctx, url, timeout_ms, max, body, len, max_age, why);
    SSL_CTX_free(ctx);
    return r;
}

/* ---- the key cache ------------------------------------------------------------------- */

struct jwk_entry {
    char *kid;
    char alg[16]; /* "" when the JWK names none */
    EVP_PKEY *pkey;
};

struct waiter {
    struct waiter *next;
    struct event *ev;
    char kid[OIDC_KID_MAX + 1];
    EVP_PKEY *key;
    char alg[16];
    const char *why;
    oidc_keys_cb cb;
    void *arg;
};

struct issuer {
    char *url;
    struct jwk_entry keys[OIDC_KEYS_MAX];
    size_t nkeys;
    bool have_keys;
    uint64_t fresh_until; /* ms */
    uint64_t last_fetch;  /* ms, when the last fetch started, then when it ended; 0: never */
    const char *error;    /* why the last fetch failed; NULL when it worked */
    bool fetching;
    struct waiter *waiters;
    size_t nwaiters;
};

struct oidc_keys {
    pthread_mutex_t lock;
    struct issuer *issuers[OIDC_ISSUERS_MAX];
    size_t n;
    struct workpool *pool;
    SSL_CTX *ssl;
    int timeout_ms;
    int refetch_s;
    _Atomic uint64_t fetches_ok, fetches_failed, refused;
};

struct fetch_job {
    struct workpool_job job; /* first */
    struct oidc_keys *k;
    struct issuer *e;
};

static void keys_clear(struct jwk_entry *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(keys[i].kid);
        EVP_PKEY_free(keys[i].pkey);
    }
}

/* The key for kid (a token without kid: the set's only key). Caller holds the lock. */
static const struct jwk_entry *key_find(const struct issuer *e, const char *kid)
{
    if (!*kid)
        return e->nkeys == 1 ? &e->keys[0] : NULL;
    for (size_t i = 0; i < e->nkeys; i++)
        if (e->keys[i].kid && strcmp(e->keys[i].kid, kid) == 0)
            return &e->keys[i];
    return NULL;
}

/* Parses a JWKS into keys; returns how many, or -1 when it is not a JWKS. */
static int jwks_parse(const char *text, size_t len, struct jwk_entry *keys)
{
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *arr = json_object_get(doc, "keys");
    size_t i, n = 0;
    json_t *jwk;
    if (!json_is_array(arr)) {
        json_decref(doc);
        return -1;
    }
    json_array_foreach(arr, i, jwk)
    {
        if (n == OIDC_KEYS_MAX)
            break;
        json_t *kid = json_object_get(jwk, "kid"), *alg = json_object_get(jwk, "alg");
        if ((kid && (!json_is_string(kid) || strlen(json_string_value(kid)) > OIDC_KID_MAX)) ||
            (alg && (!json_is_string(alg) || strlen(json_string_value(alg)) >= 16)))
            continue;
        EVP_PKEY *pk = oidc_jwk_key(jwk);
        if (!pk)
            continue; /* an encryption key, an HMAC key, a curve we do not take */
        keys[n].kid = strdup(kid ? json_string_value(kid) : "");
        snprintf(keys[n].alg, sizeof(keys[n].alg), "%s", alg ? json_string_value(alg) : "");
        keys[n].pkey = pk;
        if (!keys[n].kid) {
            EVP_PKEY_free(pk);
            continue;
        }
        n++;
    }
    json_decref(doc);
    return (int)n;
}

/* Discovery, then the JWKS. Returns the number of keys (>= 1) or -1 with why. */
static int fetch_keys(struct oidc_keys *k, const char *issuer, struct jwk_entry *keys,
                      long *max_age, const char **why)
{
    char url[URL_MAX + 64], *body = NULL;
    size_t len;
    long ignored;
    uint64_t start = clock_mono_ms();
    size_t il = strlen(issuer);
    snprintf(url, sizeof(url), "%.*s/.well-known/openid-configuration",
             (int)(il && issuer[il - 1] == '/' ? il - 1 : il), issuer);
    if (https_get(k->ssl, url, k->timeout_ms, OIDC_DISCOVERY_MAX, &body, &len, &ignored, why) < 0)
        return -1;
    json_t *doc = json_loadb(body, len, 0, NULL);
    free(body);
    const char *iss = json_string_value(json_object_get(doc, "issuer"));
    const char *juri = json_string_value(json_object_get(doc, "jwks_uri"));
    int n = -1;
    if (!iss || strcmp(iss, issuer) != 0) {
        *why = "the discovery document names another issuer";
    } else if (!juri || strncmp(juri, "https://", 8) != 0 || strlen(juri) >= URL_MAX) {
        *why = "the discovery document has no https jwks_uri";
    } else {
        int left = k->timeout_ms - (int)(clock_mono_ms() - start);
        if (left <= 0) {
            *why = "timed out";
        } else if (https_get(k->ssl, juri, left, OIDC_JWKS_MAX, &body, &len, max_age, why) == 0) {
            n = jwks_parse(body, len, keys);
            if (n <= 0) {
                *why = n < 0 ? "malformed JWKS" : "no usable key in the JWKS";
                n = -1;
            }
            free(body);
        }
    }
    json_decref(doc);
    return n;
}

static void waiter_fire(evutil_socket_t fd, short what, void *arg)
{
    struct waiter *w = arg;
    (void)fd;
    (void)what;
    event_free(w->ev);
    w->cb(w->key, w->alg[0] ? w->alg : NULL, w->why, w->arg);
    free(w);
}

/* Fills a waiter's answer from e (lock held). */
static void waiter_answer(struct issuer *e, struct waiter *w)
{
    const struct jwk_entry *j = e->have_keys ? key_find(e, w->kid) : NULL;
    w->key = NULL;
    w->why = NULL;
    if (j && EVP_PKEY_up_ref(j->pkey) == 1) {
        w->key = j->pkey;
        snprintf(w->alg, sizeof(w->alg), "%s", j->alg);
    } else {
        w->why = e->error ? e->error : "no key with this kid in the issuer's JWKS";
    }
}

static void fetch_run(struct workpool_job *job, void **state)
{
    struct fetch_job *f = (struct fetch_job *)job;
    struct oidc_keys *k = f->k;
    struct issuer *e = f->e;
    struct jwk_entry keys[OIDC_KEYS_MAX];
    long max_age = -1;
    const char *why = NULL;
    (void)state;

    int n = fetch_keys(k, e->url, keys, &max_age, &why);
    if (n > 0) {
        atomic_fetch_add(&k->fetches_ok, 1);
        log_info("oidc: fetched %d key(s) of %s", n, e->url);
    } else {
        atomic_fetch_add(&k->fetches_failed, 1);
        log_warn("oidc: cannot fetch the keys of %s: %s", e->url, why);
    }
    long ttl = max_age < 0 ? OIDC_KEYS_TTL_DEFAULT : max_age;
    if (ttl < OIDC_KEYS_TTL_MIN)
        ttl = OIDC_KEYS_TTL_MIN;
    if (ttl > OIDC_KEYS_TTL_MAX)
        ttl = OIDC_KEYS_TTL_MAX;

    pthread_mutex_lock(&k->lock);
    if (n > 0) {
        keys_clear(e->keys, e->nkeys);
        memcpy(e->keys, keys, (size_t)n * sizeof(keys[0]));
        e->nkeys = (size_t)n;
        e->have_keys = true;
        e->fresh_until = clock_mono_ms() + (uint64_t)ttl * 1000;
        e->error = NULL;
    } else {
        e->error = why;
    }
    e->fetching = false;
    e->last_fetch = clock_mono_ms(); /* the interval runs from the end: a slow fetch counts */
    struct waiter *ws = e->waiters;
    e->waiters = NULL;
    e->nwaiters = 0;
    for (struct waiter *w = ws; w; w = w->next)
        waiter_answer(e, w);
    pthread_mutex_unlock(&k->lock);
    while (ws) {
        struct waiter *next = ws->next;
        event_active(ws->ev, 0, 0); /* ws belongs to its loop from here */
        ws = next;
    }
}

static void fetch_done(struct workpool_job *job)
{
    workpool_job_deinit(job);
    free(job);
}

struct oidc_keys *oidc_keys_new(const struct oidc_keys_config *cfg)
{
    struct oidc_keys *k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    pthread_mutex_init(&k->lock, NULL);
    k->timeout_ms = cfg->timeout_ms;
    k->refetch_s = cfg->refetch_s;
    k->ssl = client_ctx(cfg->ca_file);
    if (!k->ssl) {
        log_error("oidc: cannot load the CA certificates%s%s", cfg->ca_file ? " of " : "",
                  cfg->ca_file ? cfg->ca_file : "");
        oidc_keys_free(k);
        return NULL;
    }
    k->pool = workpool_new(OIDC_FETCH_THREADS, OIDC_ISSUERS_MAX, NULL);
    if (!k->pool) {
        oidc_keys_free(k);
        return NULL;
    }
    return k;
}

void oidc_keys_free(struct oidc_keys *k)
{
    if (!k)
        return;
    workpool_free(k->pool);
    for (size_t i = 0; i < k->n; i++) {
        keys_clear(k->issuers[i]->keys, k->issuers[i]->nkeys);
        free(k->issuers[i]->url);
        free(k->issuers[i]);
    }
    SSL_CTX_free(k->ssl);
    pthread_mutex_destroy(&k->lock);
    free(k);
}

static struct issuer *issuer_get(struct oidc_keys *k, const char *url)
{
    for (size_t i = 0; i < k->n; i++)
        if (strcmp(k->issuers[i]->url, url) == 0)
            return k->issuers[i];
    if (k->n == OIDC_ISSUERS_MAX)
        return NULL;
    struct issuer *e = calloc(1, sizeof(*e));
    if (!e || !(e->url = strdup(url))) {
        free(e);
        return NULL;
    }
    k->issuers[k->n++] = e;
    return e;
}

int oidc_keys_get(struct oidc_keys *k, struct event_base *base, const char *issuer, const char *kid,
                  oidc_keys_cb cb, void *arg)
{
    struct waiter *w = calloc(1, sizeof(*w));
    if (!w)
        return DH_ERR_NOMEM;
    snprintf(w->kid, sizeof(w->kid), "%s", kid);
    w->cb = cb;
    w->arg = arg;
    uint64_t now = clock_mono_ms(), interval = (uint64_t)k->refetch_s * 1000;

    pthread_mutex_lock(&k->lock);
    struct issuer *e = issuer_get(k, issuer);
    bool fresh = e && e->have_keys && now < e->fresh_until;
    bool due = e && (e->last_fetch == 0 || now - e->last_fetch >= interval ||
                     (e->have_keys && !fresh && !e->error));
    if (!e)
        w->why = "too many issuers";
    else if (fresh && key_find(e, w->kid))
        waiter_answer(e, w);
    else if (e->fetching && e->nwaiters >= OIDC_WAITERS_MAX)
        w->why = "too many logins waiting for this issuer";
    else if (e->fetching || due) {
        w->ev = event_new(base, -1, 0, waiter_fire, w);
        struct fetch_job *f = e->fetching ? NULL : calloc(1, sizeof(*f));
        if (!w->ev || (!e->fetching && !f)) {
            if (w->ev)
                event_free(w->ev);
            free(f);
            pthread_mutex_unlock(&k->lock);
            free(w);
            return DH_ERR_NOMEM;
        }
        if (!e->fetching) {
            f->k = k;
            f->e = e;
            if (workpool_submit(k->pool, base, &f->job, fetch_run, fetch_done) < 0) {
                free(f);
                event_free(w->ev);
                w->ev = NULL;
                w->why = "too many key fetches waiting";
                goto answer;
            }
            e->fetching = true;
            e->last_fetch = now;
        }
        w->next = e->waiters;
        e->waiters = w;
        e->nwaiters++;
        pthread_mutex_unlock(&k->lock);
        return 0;
    } else if (fresh) {
        atomic_fetch_add(&k->refused, 1);
        w->why = "unknown kid, and the issuer's keys were fetched less than the refetch "
                 "interval ago";
    } else {
        w->why = e->error ? e->error : "no keys";
    }
answer:
    pthread_mutex_unlock(&k->lock);
    cb(w->key, w->alg[0] ? w->alg : NULL, w->why, arg);
    free(w);
    return 0;
}

void oidc_keys_stats(struct oidc_keys *k, struct oidc_keys_stats *s)
{
    s->fetches_ok = atomic_load(&k->fetches_ok);
    s->fetches_failed = atomic_load(&k->fetches_failed);
    s->refetches_refused = atomic_load(&k->refused);
    pthread_mutex_lock(&k->lock);
    s->issuers = k->n;
    pthread_mutex_unlock(&k->lock);
}
