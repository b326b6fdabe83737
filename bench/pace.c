/* An open-loop HTTP/1.1 load generator for the benchmark's latency row.
 *
 *   pace --port P --rate R --seconds D --requests FILE [--connections C] [--warmup W]
 *
 * Request i is *due* at start + i/R (a fixed schedule, a timerfd with nanosecond
 * deadlines), whatever happened to the ones before it. It goes out on an idle
 * keep-alive connection as soon as one is free; its latency is measured from the time
 * it was due, not the time it was written, so a stalled server is charged for every
 * request that waited behind the stall (no coordinated omission, as in wrk2).
 * FILE holds one request per line, "<path>\t<Authorization value>", used in turn.
 * Requests due in the first W seconds are sent but not recorded.
 *
 * Prints one JSON object: due, sent, done, recorded, errors, non200, rate (achieved,
 * responses/s), and p50/p90/p99/p999/max latencies in microseconds. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#define PACE_MAX_CONNS 1024
#define PACE_BUF 65536
#define PACE_MAX_LINE 16384

struct conn {
    int fd;
    bool busy;
    double due;     /* when its request was due */
    bool record;    /* inside the measured window */
    size_t out_len; /* bytes of the request not yet written */
    size_t out_off;
    char *out;     /* the request being written (points into the request table) */
    size_t in_len; /* bytes read of the response */
    char in[PACE_BUF];
};

struct pace {
    const char *host;
    int port;
    double rate, seconds, warmup;
    int nconns;
    char **reqs;
    size_t *req_lens;
    size_t nreqs;
    struct conn *conns;
    int ep;
    /* requests due but not yet sent: a ring of due times */
    double *queue;
    size_t qhead, qlen, qcap;
    unsigned long due_n, sent, done, errors, non200;
    double *lat; /* microseconds, recorded ones */
    size_t nlat, latcap;
    size_t next_req;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int conn_open(struct pace *p, struct conn *c)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p->port)};
    int one = 1;

    if (inet_pton(AF_INET, p->host, &sa.sin_addr) != 1)
        return -1;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0)
        return -1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* Connect blocking (loopback: immediate), then switch to non-blocking. */
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(p->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    c->busy = false;
    c->in_len = 0;
    return 0;
}

static void conn_close(struct pace *p, struct conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(p->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->busy = false;
}

static void want_write(struct pace *p, struct conn *c, bool on)
{
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(p->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_flush(struct pace *p, struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0 && errno == EAGAIN) {
            want_write(p, c, true);
            return;
        }
        if (n <= 0) {
            p->errors++;
            conn_close(p, c);
            conn_open(p, c);
            return;
        }
        c->out_off += (size_t)n;
    }
    want_write(p, c, false);
}

static void conn_send(struct pace *p, struct conn *c, double due, bool rec)
{
    size_t i = p->next_req++ % p->nreqs;
    c->busy = true;
    c->due = due;
    c->out = p->reqs[i];
    c->out_len = p->req_lens[i];
    c->out_off = 0;
    c->in_len = 0;
    c->record = rec;
    p->sent++;
    conn_flush(p, c);
}

static struct conn *idle_conn(struct pace *p)
{
    for (int i = 0; i < p->nconns; i++) {
        struct conn *c = &p->conns[i];
        if (c->fd < 0 && conn_open(p, c) < 0)
            continue;
        if (!c->busy)
            return c;
    }
    return NULL;
}

static void dispatch(struct pace *p, double start)
{
    while (p->qlen) {
        struct conn *c = idle_conn(p);
        if (!c)
            return;
        double due = p->queue[p->qhead];
        p->qhead = (p->qhead + 1) % p->qcap;
        p->qlen--;
        conn_send(p, c, due, due - start >= p->warmup);
    }
}

static void enqueue(struct pace *p, double due)
{
    if (p->qlen == p->qcap) {
        size_t ncap = p->qcap * 2;
        double *nq = malloc(ncap * sizeof(*nq));
        if (!nq) {
            fprintf(stderr, "pace: out of memory\n");
            exit(1);
        }
        for (size_t i = 0; i < p->qlen; i++)
            nq[i] = p->queue[(p->qhead + i) % p->qcap];
        free(p->queue);
        p->queue = nq;
        p->qhead = 0;
        p->qcap = ncap;
    }
    p->queue[(p->qhead + p->qlen) % p->qcap] = due;
    p->qlen++;
}

/* The response's total length once its head is complete, else 0; -1 when malformed. */
static long response_length(const char *buf, size_t len, int *status, bool *close_after)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end)
        return len >= PACE_BUF ? -1 : 0;
    size_t head = (size_t)(end - buf) + 4;
    long body = -1;
    if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0)
        return -1;
    *status = atoi(buf + 9);
    *close_after = false;
    /* Header lines between the status line and the blank line. */
    for (const char *l = memchr(buf, '\n', head); l && l < end;) {
        const char *eol;
        l++;
        eol = memchr(l, '\n', (size_t)(end + 2 - l));
        if (!eol)
            break;
        size_t ll = (size_t)(eol - l);
        if (ll > 15 && strncasecmp(l, "Content-Length:", 15) == 0)
            body = atol(l + 15);
        else if (ll > 11 && strncasecmp(l, "Connection:", 11) == 0 && memmem(l, ll, "close", 5))
            *close_after = true;
        l = eol;
    }
    if (body < 0 || head + (size_t)body > PACE_BUF)
        return -1;
    return (long)(head + (size_t)body);
}

static void record(struct pace *p, double us)
{
    if (p->nlat == p->latcap) {
        size_t ncap = p->latcap ? p->latcap * 2 : 65536;
        double *nl = realloc(p->lat, ncap * sizeof(*nl));
        if (!nl) {
            fprintf(stderr, "pace: out of memory\n");
            exit(1);
        }
        p->lat = nl;
        p->latcap = ncap;
    }
    p->lat[p->nlat++] = us;
}

static void conn_read(struct pace *p, struct conn *c)
{
    for (;;) {
        ssize_t n = read(c->fd, c->in + c->in_len, PACE_BUF - c->in_len);
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            if (c->busy)
                p->errors++;
            conn_close(p, c);
            return;
        }
        c->in_len += (size_t)n;
        int status = 0;
        bool close_after = false;
        long total = response_length(c->in, c->in_len, &status, &close_after);
        if (total < 0 || !c->busy) {
            p->errors++;
            conn_close(p, c);
            return;
        }
        if (total == 0 || c->in_len < (size_t)total)
            continue;
        double t = now_s();
        p->done++;
        if (status != 200)
            p->non200++;
        if (c->record)
            record(p, (t - c->due) * 1e6);
        c->busy = false;
        c->in_len = 0;
        if (close_after)
            conn_close(p, c);
        return;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile of the sorted v by nearest rank: the ceil(q*n)-th smallest. */
static double pct(const double *v, size_t n, double q)
{
    if (!n)
        return 0;
    double rank = q * (double)n;
    size_t i = (size_t)rank;
    if ((double)i < rank)
        i++;
    if (i > n)
        i = n;
    return v[i ? i - 1 : 0];
}

static int load_requests(struct pace *p, const char *file, const char *host)
{
    FILE *f = fopen(file, "r");
    char *line = malloc(PACE_MAX_LINE);
    size_t cap = 0;

    if (!f || !line) {
        fprintf(stderr, "pace: cannot read %s\n", file);
        free(line);
        if (f)
            fclose(f);
        return -1;
    }
    while (fgets(line, PACE_MAX_LINE, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = '\0';
        if (p->nreqs == cap) {
            cap = cap ? cap * 2 : 1024;
            p->reqs = realloc(p->reqs, cap * sizeof(*p->reqs));
            p->req_lens = realloc(p->req_lens, cap * sizeof(*p->req_lens));
            if (!p->reqs || !p->req_lens)
                goto fail;
        }
        size_t need = strlen(line) + strlen(tab + 1) + strlen(host) + 128;
        char *r = malloc(need);
        if (!r)
            goto fail;
        int len = snprintf(r, need,
                           "GET %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: %s\r\n"
                           "User-Agent: dockhand-bench-pace\r\n\r\n",
                           line, host, p->port, tab + 1);
        p->reqs[p->nreqs] = r;
        p->req_lens[p->nreqs] = (size_t)len;
        p->nreqs++;
    }
    free(line);
    fclose(f);
    if (!p->nreqs) {
        fprintf(stderr, "pace: no requests in %s\n", file);
        return -1;
    }
    return 0;
fail:
    free(line);
    fclose(f);
    fprintf(stderr, "pace: out of memory\n");
    return -1;
}

int main(int argc, char **argv)
{
    struct pace p = {.host = "127.0.0.1", .port = 0, .rate = 0, .seconds = 10, .nconns = 32};
    const char *file = NULL;

    /* Options come in pairs: --name value. */
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "pace: %s needs a value\n", a);
            return 2;
        }
        if (strcmp(a, "--port") == 0)
            p.port = atoi(v);
        else if (strcmp(a, "--rate") == 0)
            p.rate = atof(v);
        else if (strcmp(a, "--seconds") == 0)
            p.seconds = atof(v);
        else if (strcmp(a, "--warmup") == 0)
            p.warmup = atof(v);
        else if (strcmp(a, "--connections") == 0)
            p.nconns = atoi(v);
        else if (strcmp(a, "--requests") == 0)
            file = v;
        else {
            fprintf(stderr, "usage: pace --port P --rate R --seconds D --requests FILE "
                            "[--connections C] [--warmup W]\n");
            return 2;
        }
    }
    if (p.port <= 0 || p.rate <= 0 || p.seconds <= 0 || !file || p.nconns < 1 ||
        p.nconns > PACE_MAX_CONNS) {
        fprintf(stderr, "pace: --port, --rate, --seconds and --requests are required\n");
        return 2;
    }
    if (load_requests(&p, file, p.host) < 0)
        return 1;
    p.ep = epoll_create1(0);
    p.conns = calloc((size_t)p.nconns, sizeof(*p.conns));
    p.qcap = 1024;
    p.queue = malloc(p.qcap * sizeof(*p.queue));
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    if (p.ep < 0 || !p.conns || !p.queue || tfd < 0) {
        fprintf(stderr, "pace: setup failed: %s\n", strerror(errno));
        return 1;
    }
    for (int i = 0; i < p.nconns; i++) {
        p.conns[i].fd = -1;
        if (conn_open(&p, &p.conns[i]) < 0) {
            fprintf(stderr, "pace: cannot connect to %s:%d\n", p.host, p.port);
            return 1;
        }
    }
    struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(p.ep, EPOLL_CTL_ADD, tfd, &tev);

    double interval = 1.0 / p.rate, start = now_s() + 0.01;
    unsigned long total = (unsigned long)(p.seconds * p.rate);
    double last_due = start + (double)(total - 1) * interval;
    /* Wait at most this long for the stragglers after the last request was due. */
    double drain_until = last_due + 5.0;

    for (;;) {
        double t = now_s();
        while (p.due_n < total && start + (double)p.due_n * interval <= t) {
            enqueue(&p, start + (double)p.due_n * interval);
            p.due_n++;
        }
        dispatch(&p, start);
        bool busy = p.qlen > 0;
        for (int i = 0; i < p.nconns && !busy; i++)
            busy = p.conns[i].busy;
        if (p.due_n == total && !busy)
            break;
        if (t > drain_until) {
            p.errors += p.qlen;
            for (int i = 0; i < p.nconns; i++)
                p.errors += p.conns[i].busy;
            break;
        }
        if (p.due_n < total) {
            double next = start + (double)p.due_n * interval;
            struct itimerspec its = {0};
            its.it_value.tv_sec = (time_t)next;
            its.it_value.tv_nsec = (long)((next - (double)(time_t)next) * 1e9);
            if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
                its.it_value.tv_nsec = 1;
            timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
        }
        struct epoll_event evs[64];
        int n = epoll_wait(p.ep, evs, 64, 100);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (!c) {
                uint64_t expirations;
                if (read(tfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
                    break;
                continue;
            }
            if (c->fd < 0)
                continue;
            if (evs[i].events & EPOLLOUT)
                conn_flush(&p, c);
            if (c->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                conn_read(&p, c);
        }
    }
    double elapsed = now_s() - start;

    qsort(p.lat, p.nlat, sizeof(*p.lat), cmp_double);
    printf("{\"due\": %lu, \"sent\": %lu, \"done\": %lu, \"recorded\": %zu, \"errors\": %lu, "
           "\"non200\": %lu, \"rate\": %.1f, \"target_rate\": %.1f, \"p50_us\": %.1f, "
           "\"p90_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f, \"max_us\": %.1f}\n",
           p.due_n, p.sent, p.done, p.nlat, p.errors, p.non200,
           elapsed > 0 ? (double)p.done / elapsed : 0, p.rate, pct(p.lat, p.nlat, 0.50),
           pct(p.lat, p.nlat, 0.90), pct(p.lat, p.nlat, 0.99), pct(p.lat, p.nlat, 0.999),
           p.nlat ? p.lat[p.nlat - 1] : 0);
    for (int i = 0; i < p.nconns; i++)
        conn_close(&p, &p.conns[i]);
    for (size_t i = 0; i < p.nreqs; i++)
        free(p.reqs[i]);
    free(p.reqs);
    free(p.req_lens);
    free(p.conns);
    free(p.queue);
    free(p.lat);
    close(tfd);
    close(p.ep);
    return 0;
}
