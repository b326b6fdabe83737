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

void log_write(enum log_level level, const char *rid, const char *fmt, ...)
{
    char msg[2048];
    char ts[40];
    struct timeval tv;
    struct tm tm;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* One event, one line: control characters (libpq's multi-line messages, or
     * anything a client managed to get into a message) become spaces. */
    size_t len = strlen(msg);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
            msg[i] = ' ';
    while (len && msg[len - 1] == ' ')
        msg[--len] = '\0';
    /* The date and time to the second, formatted once a second per thread (strftime and
     * gmtime_r showed in the warm path's profile: one line per token). */
    static __thread time_t ts_sec = -1;
    static __thread char ts_prefix[32];
    static __thread size_t ts_len;
    gettimeofday(&tv, NULL);
    if (tv.tv_sec != ts_sec) {
        gmtime_r(&tv.tv_sec, &tm);
        ts_len = strftime(ts_prefix, sizeof(ts_prefix), "%Y-%m-%dT%H:%M:%S", &tm);
        ts_sec = tv.tv_sec;
    }
    memcpy(ts, ts_prefix, ts_len);
    snprintf(ts + ts_len, sizeof(ts) - ts_len, ".%03dZ", (int)(tv.tv_usec / 1000));

    if (log_json) {
        json_t *o =
            json_pack("{s:s, s:s, s:s}", "time", ts, "level", level_names[level], "msg", msg);
        if (o && rid)
            json_object_set_new(o, "request_id", json_string(rid));
        char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (line)
            fprintf(stderr, "%s\n", line);
        free(line);
        json_decref(o);
    } else {
        /* One write(2) per line, bypassing stdio's locking and formatting. */
        char line[sizeof(msg) + 256];
        int k = rid ? snprintf(line, sizeof(line), "%s %-5s [%.128s] %s\n", ts, level_names[level],
                               rid, msg)
                    : snprintf(line, sizeof(line), "%s %-5s %s\n", ts, level_names[level], msg);
        if (k > 0)
            write_all(STDERR_FILENO, line, (size_t)k < sizeof(line) ? (size_t)k : sizeof(line) - 1);
    }
}
