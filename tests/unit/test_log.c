/* The log writer: the text line's exact shape, JSON lines, and lines held back per
 * thread (log_batch_*) — kept until flushed, in order, none lost or split, warnings and
 * errors written at once. stderr is pointed at a file and read back. */
#include "check.h"

#include <ctype.h>
#include <fcntl.h>
#include <unistd.h>

#include <jansson.h>

#include "dockhand/log.h"

static char path[4096];
static int log_fd = -1;

/* What the writer has written so far (a fresh string; the caller frees it). */
static char *written(void)
{
    off_t n = lseek(log_fd, 0, SEEK_END);
    char *buf = calloc(1, (size_t)n + 1);
    if (buf && pread(log_fd, buf, (size_t)n, 0) != n)
        buf[0] = '\0';
    return buf;
}

static void clear(void)
{
    if (ftruncate(log_fd, 0) != 0)
        perror("ftruncate");
    lseek(log_fd, 0, SEEK_SET);
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* "2026-11-29T01:02:03.456Z" */
static bool timestamp_ok(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    for (size_t i = 0; shape[i]; i++)
        if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
            return false;
    return true;
}

static void test_text(void)
{
    clear();
    log_write(LOG_INFO, "rid-1", "hello %d", 42);
    char *w = written();
    CHECK(w && strlen(w) > 25 && timestamp_ok(w) && w[24] == ' ');
    CHECK(w && strcmp(w + 25, "info  [rid-1] hello 42\n") == 0); /* newline: not CHECK_STR (TAP) */
    free(w);

    clear();
    log_write(LOG_ERROR, NULL, "no rid");
    log_write(LOG_WARN, NULL, "warned");
    log_write(LOG_DEBUG, "r", "dbg");
    w = written();
    CHECK(w && strstr(w, "Z error no rid\n") && strstr(w, "Z warn  warned\n") &&
          strstr(w, "Z debug [r] dbg\n"));
    CHECK(w && count_lines(w) == 3);
    free(w);

    /* Control characters become spaces, trailing spaces go: one event, one line. */
    clear();
    log_write(LOG_INFO, NULL, "a\nb\tc\x7f\r\n  ");
    w = written();
    CHECK(w && strcmp(w + 25, "info  a b c\n") == 0);
    free(w);

    /* A long message is cut at LOG_MSG_MAX - 1 bytes, a long request id at 128. */
    char big[LOG_MSG_MAX * 2], rid[300];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memset(rid, 'r', sizeof(rid) - 1);
    rid[sizeof(rid) - 1] = '\0';
    clear();
    log_write(LOG_INFO, rid, "%s", big);
    w = written();
    size_t want = 25 + strlen("info  [") + 128 + strlen("] ") + (LOG_MSG_MAX - 1) + 1;
    CHECK(w && strlen(w) == want && count_lines(w) == 1);
    free(w);

    /* Below the level: not written. */
    CHECK(log_configure("info", "text") == 0);
    clear();
    log_debug("hidden %s", "debug");
    w = written();
    CHECK_STR(w, "");
    free(w);
}

static void test_json(void)
{
    CHECK(log_configure("info", "json") == 0);
    clear();
    log_write(LOG_WARN, "rid-2", "quote \" and\nnewline");
    log_write(LOG_INFO, NULL, "plain");
    char *w = written();
    CHECK(w && count_lines(w) == 2);
    char *nl = w ? strchr(w, '\n') : NULL;
    json_t *a = nl ? json_loadb(w, (size_t)(nl - w), 0, NULL) : NULL;
    json_t *b = nl ? json_loads(nl + 1, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
    CHECK_STR(json_string_value(json_object_get(a, "level")), "warn");
    CHECK_STR(json_string_value(json_object_get(a, "msg")), "quote \" and newline");
    CHECK_STR(json_string_value(json_object_get(a, "request_id")), "rid-2");
    const char *t = json_string_value(json_object_get(a, "time"));
    CHECK(t && strlen(t) == 24 && timestamp_ok(t));
    CHECK_STR(json_string_value(json_object_get(b, "msg")), "plain");
    CHECK(b && json_object_get(b, "request_id") == NULL);
    json_decref(a);
    json_decref(b);
    free(w);

    /* Bytes that are not UTF-8 become '?'; the line is still written, valid text kept. */
    clear();
    log_write(LOG_INFO, NULL, "caf\xc3\xa9 \xff\xfe end \xe2\x82");
    w = written();
    a = w ? json_loads(w, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
    CHECK_STR(json_string_value(json_object_get(a, "msg")), "caf\xc3\xa9 ?? end ??");
    json_decref(a);
    free(w);
    CHECK(log_configure("info", "text") == 0);
}

static int armed;
static void arm(void *arg)
{
    ++*(int *)arg;
}

static void test_batch(void)
{
    armed = 0;
    clear();
    log_batch_start(arm, &armed);
    log_write(LOG_INFO, "a", "one");
    log_write(LOG_INFO, "a", "two");
    log_write(LOG_DEBUG, "a", "three");
    char *w = written();
    CHECK_STR(w, "");  /* held back */
    CHECK(armed == 1); /* once per batch */
    free(w);
    log_batch_flush();
    w = written();
    CHECK(w && count_lines(w) == 3);
    CHECK(w && strstr(w, "one\n") < strstr(w, "two\n") &&
          strstr(w, "two\n") < strstr(w, "three\n"));
    free(w);

    /* A warning goes out at once, after what was held before it. */
    clear();
    log_write(LOG_INFO, NULL, "before");
    CHECK(armed == 2);
    log_write(LOG_WARN, NULL, "the warning");
    w = written();
    CHECK(w && count_lines(w) == 2 && strstr(w, "before\n") &&
          strstr(w, "before\n") < strstr(w, "the warning\n"));
    free(w);
    log_write(LOG_ERROR, NULL, "the error");
    w = written();
    CHECK(w && count_lines(w) == 3);
    free(w);

    /* More than the batch holds: written as it fills, nothing lost or split. */
    clear();
    log_batch_flush();
    int lines = 0;
    size_t bytes = 0;
    char msg[200];
    memset(msg, 'm', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    while (bytes < 3 * LOG_BATCH_MAX) {
        log_write(LOG_INFO, "fill", "%05d %s", lines, msg);
        bytes += 25 + 13 + 6 + sizeof(msg);
        lines++;
    }
    w = written();
    size_t early = w ? count_lines(w) : 0;
    CHECK(early > 0 && early < (size_t)lines); /* some written, the rest held */
    CHECK(w && w[strlen(w) - 1] == '\n');      /* whole lines only */
    free(w);
    log_batch_stop();
    w = written();
    CHECK(w && count_lines(w) == (size_t)lines);
    bool in_order = w != NULL;
    const char *p = w;
    for (int i = 0; in_order && i < lines; i++) {
        char tag[16];
        snprintf(tag, sizeof(tag), "] %05d m", i);
        const char *q = strstr(p, tag);
        in_order = q != NULL;
        p = q ? q + 1 : p;
    }
    CHECK(in_order);
    free(w);

    /* After stop: written directly again. */
    clear();
    armed = 0;
    log_write(LOG_INFO, NULL, "direct");
    w = written();
    CHECK(w && strstr(w, "direct\n") && armed == 0);
    free(w);
}

int main(void)
{
    const char *dir = getenv("TESTS_TMPDIR");
    snprintf(path, sizeof(path), "%s/test_log.%d.txt", dir ? dir : "/tmp", (int)getpid());
    log_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0600);
    if (log_fd < 0 || fflush(stdout) != 0) {
        perror("test_log: open");
        return 1;
    }
    int saved = dup(STDERR_FILENO);
    dup2(log_fd, STDERR_FILENO);
    CHECK(log_configure("debug", "text") == 0);
    test_text();
    test_json();
    test_batch();
    dup2(saved, STDERR_FILENO);
    close(log_fd);
    unlink(path);
    return check_done();
}
