#include "dockhand/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "dockhand/encoding.h"

enum log_level log_min_level = LOG_INFO;
static bool log_json;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere to report it */
        p += w;
        n -= (size_t)w;
    }
}

int log_configure(const char *level, const char *format)
{
    int found = -1;
    for (size_t i = 0; i < DH_ARRAY_SIZE(level_names); i++)
        if (level && strcmp(level, level_names[i]) == 0)
            found = (int)i;
    if (found < 0)
        return DH_ERR_INVALID;
    if (format && strcmp(format, "json") == 0)
        log_json = true;
    else if (format && strcmp(format, "text") == 0)
        log_json = false;
    else
        return DH_ERR_INVALID;
    log_min_level = (enum log_level)found;
    return 0;
}

/* A thread may hold its lines back until a point of its choosing (a worker: the end of
 * its event loop's pass), so that a busy worker writes the access lines of a pass with one
 * write(2) instead of one per request. Warnings and errors are written at once, with
 * what was held before them. */
struct log_batch {
    size_t len;
    void (*arm)(void *);
    void *arg;
    char buf[LOG_BATCH_MAX];
};
static __thread struct log_batch *batch; /* allocated by the threads that batch */

void log_batch_start(void (*arm)(void *), void *arg)
{
    if (!batch)
        batch = malloc(sizeof(*batch));
    if (!batch)
        return; /* no memory: lines are written one by one */
    batch->len = 0;
    batch->arm = arm;
    batch->arg = arg;
}

void log_batch_flush(void)
{
    if (batch && batch->len)
        write_all(STDERR_FILENO, batch->buf, batch->len);
    if (batch)
        batch->len = 0;
}

void log_batch_stop(void)
{
    log_batch_flush();
    free(batch);
    batch = NULL;
}

static void emit(enum log_level level, const char *line, size_t n)
{
    if (!batch) {
        write_all(STDERR_FILENO, line, n);
        return;
    }
    if (batch->len + n > sizeof(batch->buf))
        log_batch_flush();
    if (n > sizeof(batch->buf) || level >= LOG_WARN) {
        log_batch_flush();
        write_all(STDERR_FILENO, line, n);
        return;
    }
    if (batch->len == 0 && batch->arm)
        batch->arm(batch->arg);
    memcpy(batch->buf + batch->len, line, n);
    batch->len += n;
}

/* "2026-11-29T01:02:03.456Z": the date and time to the second formatted once a second per
 * thread (strftime and gmtime_r showed in the warm path's profile: one line per token). */
static size_t timestamp(char out[32])
{
    static __thread time_t ts_sec = -1;
    static __thread char ts_prefix[24];
    static __thread size_t ts_len;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    if (tv.tv_sec != ts_sec) {
        struct tm tm;
        gmtime_r(&tv.tv_sec, &tm);
        ts_len = strftime(ts_prefix, sizeof(ts_prefix), "%Y-%m-%dT%H:%M:%S", &tm);
        ts_sec = tv.tv_sec;
    }
    int ms = (int)(tv.tv_usec / 1000);
    memcpy(out, ts_prefix, ts_len);
    out[ts_len] = '.';
    out[ts_len + 1] = (char)('0' + ms / 100);
    out[ts_len + 2] = (char)('0' + ms / 10 % 10);
    out[ts_len + 3] = (char)('0' + ms % 10);
    out[ts_len + 4] = 'Z';
    out[ts_len + 5] = '\0';
    return ts_len + 5;
}

void log_write(enum log_level level, const char *rid, const char *fmt, ...)
{
    /* Text: "<time> <level> [<rid>] <message>\n", formatted in place, the message last. */
    char line[LOG_MSG_MAX + 192];
    char ts[32];
    size_t ts_len = timestamp(ts), o = 0;
    va_list ap;

    if (!log_json) {
        const char *lv = level_names[level];
        size_t lv_len = strlen(lv);
        memcpy(line, ts, ts_len);
        o = ts_len;
        line[o++] = ' ';
        memcpy(line + o, lv, lv_len);
        o += lv_len;
        while (o < ts_len + 6)
            line[o++] = ' '; /* levels padded to 5 */
        line[o++] = ' ';
        if (rid) {
            size_t r = strnlen(rid, 128);
            line[o++] = '[';
            memcpy(line + o, rid, r);
            o += r;
            line[o++] = ']';
            line[o++] = ' ';
        }
    }
    char *msg = line + o;
    va_start(ap, fmt);
    int k = vsnprintf(msg, LOG_MSG_MAX, fmt, ap);
    va_end(ap);
    size_t len = k < 0 ? 0 : (size_t)k < LOG_MSG_MAX ? (size_t)k : LOG_MSG_MAX - 1;
    /* One event, one line: control characters (libpq's multi-line messages, or
     * anything a client managed to get into a message) become spaces. */
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
            msg[i] = ' ';
    while (len && msg[len - 1] == ' ')
        len--;
    msg[len] = '\0';

    if (log_json) {
        /* JSON strings are UTF-8: a byte that starts no valid sequence (a client's raw
         * path, say) becomes '?', or jansson would refuse the whole line. */
        for (size_t i = 0; i < len;) {
            unsigned char c = (unsigned char)msg[i];
            size_t n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
            if (n == 1 || (n && i + n <= len && utf8_valid(msg + i, n))) {
                i += n;
            } else {
                msg[i++] = '?';
            }
        }
        json_t *obj =
            json_pack("{s:s, s:s, s:s}", "time", ts, "level", level_names[level], "msg", msg);
        if (obj && rid)
            json_object_set_new(obj, "request_id", json_string(rid));
        char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
        if (text) {
            size_t n = strlen(text);
            char *nl = realloc(text, n + 2);
            if (nl) {
                text = nl;
                memcpy(text + n, "\n", 2);
                emit(level, text, n + 1);
            }
        }
        free(text);
        json_decref(obj);
    } else {
        msg[len] = '\n';
        emit(level, line, (size_t)(msg - line) + len + 1);
    }
}
