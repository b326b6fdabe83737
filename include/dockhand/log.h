/* Leveled logging to stderr, text or JSON lines. The level test is inside the macro,
 * so arguments are not evaluated when the level is off. Never pass secrets. */
#pragma once
#include <stdarg.h>
#include "dockhand/common.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

extern enum log_level log_min_level;

/* Sets level ("debug".."error") and format ("text" | "json"). Returns DH_ERR_INVALID
 * for unknown words. */
int log_configure(const char *level, const char *format) DH_MUST_CHECK;

/* Writes one line; rid is the request id or NULL. */
void log_write(enum log_level level, const char *rid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_at(lvl, rid, ...)                                                                      \
    do {                                                                                           \
        if ((lvl) >= log_min_level)                                                                \
            log_write((lvl), (rid), __VA_ARGS__);                                                  \
    } while (0)
#define log_debug(...) log_at(LOG_DEBUG, NULL, __VA_ARGS__)
#define log_info(...) log_at(LOG_INFO, NULL, __VA_ARGS__)
#define log_warn(...) log_at(LOG_WARN, NULL, __VA_ARGS__)
#define log_error(...) log_at(LOG_ERROR, NULL, __VA_ARGS__)
