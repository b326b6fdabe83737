/* `dockhand probe [PATH]`: the container image's health check (docker/Dockerfile). GET PATH
 * (default /readyz) of this instance, at the address of DOCKHAND_LISTEN (0.0.0.0 and [::]
 * become loopback), over HTTPS when DOCKHAND_TLS_CERT is set — the instance's own port, so
 * its certificate is not checked: the probe asks whether this process answers, it sends no
 * secret. Exit 0 on a 200, 1 otherwise (refused, timed out, another status), with one line
 * on stderr saying which. All within PROBE_TIMEOUT_MS. */
#include "dockhand/cli.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "dockhand/clock.h"

#define PROBE_TIMEOUT_MS 3000
#define PROBE_HOST_MAX 256

/* host and port of DOCKHAND_LISTEN, a wildcard made loopback. */
static int probe_target(const char *listen, char *host, size_t cap, const char **port)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || (size_t)(colon - listen) >= cap)
        return -1;
    size_t n = (size_t)(colon - listen);
    memcpy(host, listen, n);
    host[n] = '\0';
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    if (!*host || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0)
        snprintf(host, cap, "127.0.0.1");
    else if (strcmp(host, "::") == 0)
        snprintf(host, cap, "::1");
    *port = colon + 1;
    return 0;
}

static int wait_io(int fd, short ev, uint64_t deadline)
{
    uint64_t now = clock_mono_ms();
    struct pollfd p = {.fd = fd, .events = ev};
    return now < deadline && poll(&p, 1, (int)(deadline - now)) == 1 ? 0 : -1;
}

static int probe_connect(const char *host, const char *port, uint64_t deadline)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int err = 0;
        socklen_t len = sizeof(err);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
            (errno == EINPROGRESS && wait_io(fd, POLLOUT, deadline) == 0 &&
             getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0))
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* Sends req and reads up to cap - 1 bytes of the answer's start, over ssl or fd. */
static int probe_exchange(int fd, SSL *ssl, const char *req, char *buf, size_t cap,
                          uint64_t deadline)
{
    size_t sent = 0, len = strlen(req), got = 0;
    while (sent < len) {
        int n = ssl ? SSL_write(ssl, req + sent, (int)(len - sent))
                    : (int)send(fd, req + sent, len - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
            continue;
        }
        bool want_read = ssl && SSL_get_error(ssl, n) == SSL_ERROR_WANT_READ;
        if ((ssl ? !want_read && SSL_get_error(ssl, n) != SSL_ERROR_WANT_WRITE : errno != EAGAIN) ||
            wait_io(fd, want_read ? POLLIN : POLLOUT, deadline) < 0)
            return -1;
    }
    while (got < cap - 1 && !memchr(buf, '\n', got)) {
        int n = ssl ? SSL_read(ssl, buf + got, (int)(cap - 1 - got))
                    : (int)recv(fd, buf + got, cap - 1 - got, 0);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n == 0 && !ssl)
            break;
        bool want_write = ssl && SSL_get_error(ssl, n) == SSL_ERROR_WANT_WRITE;
        if ((ssl ? !want_write && SSL_get_error(ssl, n) != SSL_ERROR_WANT_READ : errno != EAGAIN) ||
            wait_io(fd, want_write ? POLLOUT : POLLIN, deadline) < 0)
            break;
    }
    buf[got] = '\0';
    return 0;
}

int cli_probe(const struct config *cfg, const char *path)
{
    char host[PROBE_HOST_MAX], req[1024], buf[256];
    const char *port;
    uint64_t deadline = clock_mono_ms() + PROBE_TIMEOUT_MS;
    if (!path)
        path = "/readyz";
    if (path[0] != '/' || strcspn(path, " \r\n") != strlen(path) || strlen(path) > 512) {
        fprintf(stderr, "dockhand probe: PATH must start with / and hold no space or line end\n");
        return 2;
    }
    if (probe_target(cfg->listen, host, sizeof(host), &port) < 0) {
        fprintf(stderr, "dockhand probe: DOCKHAND_LISTEN=%s is not host:port\n", cfg->listen);
        return 1;
    }
    int fd = probe_connect(host, port, deadline);
    if (fd < 0) {
        fprintf(stderr, "dockhand probe: cannot connect to %s port %s\n", host, port);
        return 1;
    }
    SSL_CTX *ctx = NULL;
    SSL *ssl = NULL;
    int rc = 1;
    if (cfg->tls_cert) {
        ctx = SSL_CTX_new(TLS_client_method());
        ssl = ctx ? SSL_new(ctx) : NULL;
        if (!ssl || SSL_set_fd(ssl, fd) != 1) {
            fprintf(stderr, "dockhand probe: cannot set up TLS\n");
            goto out;
        }
        SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
        int r;
        while ((r = SSL_connect(ssl)) != 1) {
            int e = SSL_get_error(ssl, r);
            if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) ||
                wait_io(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline) < 0) {
                fprintf(stderr, "dockhand probe: TLS handshake with %s port %s failed\n", host,
                        port);
                goto out;
            }
        }
    }
    snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: dockhand-probe\r\n\r\n",
             path, cfg->listen);
    if (probe_exchange(fd, ssl, req, buf, sizeof(buf), deadline) < 0 || !buf[0]) {
        fprintf(stderr, "dockhand probe: no answer from %s port %s\n", host, port);
        goto out;
    }
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1 || status != 200) {
        fprintf(stderr, "dockhand probe: %s answered %d\n", path, status);
        goto out;
    }
    rc = 0;
out:
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    close(fd);
    return rc;
}
