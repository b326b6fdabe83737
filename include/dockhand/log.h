/* Leveled logging to stderr, text or JSON lines. The level test is inside the macro,
 * so arguments are not evaluated when the level is off. Never pass secrets. */
#pragma once
#include <stdarg.h>
#include "dockhand/common.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

#define LOG_MSG_MAX 2048    /* a message's bytes, the rest cut off */
#define LOG_BATCH_MAX 16384 /* lines a thread holds back before it writes them */

extern enum log_level log_min_level;

/* Sets level ("debug".."error") and format ("text" | "json"). Returns DH_ERR_INVALID
 * for unknown words. */
int log_configure(const char *level, const char *format) DH_MUST_CHECK;

/* Writes one line; rid is the request id or NULL. */
void log_write(enum log_level level, const char *rid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Holding lines back, per thread: after log_batch_start, info and debug lines are kept
 * (up to LOG_BATCH_MAX bytes) until log_batch_flush; arm(arg) is called when the first
 * line of a batch is kept, so that the caller can arrange the flush (a worker: an event
 * that runs at the end of its loop's pass, before the loop waits again). Warnings and
 * errors are written at once, after what was kept. log_batch_stop flushes and ends it. */
void log_batch_start(void (*arm)(void *), void *arg);
void log_batch_flush(void);
void log_batch_stop(void);

#define log_at(lvl, rid, ...)                                                                      \
    do {                                                                                           \
        if ((lvl) >= log_min_level)                                                                \
            log_write((lvl), (rid), __VA_ARGS__);                                                  \
    } while (0)
#define log_debug(...) log_at(LOG_DEBUG, NULL, __VA_ARGS__)
#define log_info(...) log_at(LOG_INFO, NULL, __VA_ARGS__)
#define log_warn(...) log_at(LOG_WARN, NULL, __VA_ARGS__)
#define log_error(...) log_at(LOG_ERROR, NULL, __VA_ARGS__)
