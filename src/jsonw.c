#include "dockhand/jsonw.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/encoding.h"

#define JSONW_FIRST_CAP 1024

void jsonw_init(struct jsonw *w)
{
    memset(w, 0, sizeof(*w));
}

void jsonw_deinit(struct jsonw *w)
{
    free(w->buf);
    memset(w, 0, sizeof(*w));
}

static bool reserve(struct jsonw *w, size_t more)
{
    if (w->failed)
        return false;
    if (w->len + more + 1 <= w->cap)
        return true;
    size_t cap = w->cap ? w->cap : JSONW_FIRST_CAP;
    while (cap < w->len + more + 1)
        cap *= 2;
    char *b = realloc(w->buf, cap);
    if (!b) {
        w->failed = true;
        return false;
    }
    w->buf = b;
    w->cap = cap;
    return true;
}

void jsonw_rawn(struct jsonw *w, const char *text, size_t len)
{
    if (!reserve(w, len))
        return;
    memcpy(w->buf + w->len, text, len);
    w->len += len;
    w->buf[w->len] = '\0';
}

void jsonw_raw(struct jsonw *w, const char *text)
{
    jsonw_rawn(w, text, strlen(text));
}

void jsonw_str(struct jsonw *w, const char *s)
{
    size_t n = strlen(s);
    if (!utf8_valid(s, n)) {
        w->failed = true;
        return;
    }
    if (!reserve(w, n * 6 + 2)) /* every byte escaped as \u00XX at worst */
        return;
    static const char hex[] = "0123456789abcdef";
    char *o = w->buf + w->len;
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        } else if (c == '\t') {
            *o++ = '\\';
            *o++ = 't';
        } else if (c < 0x20) {
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            o += 6;
        } else {
            *o++ = (char)c;
        }
    }
    *o++ = '"';
    *o = '\0';
    w->len = (size_t)(o - w->buf);
}

void jsonw_key(struct jsonw *w, bool comma, const char *key)
{
    if (comma)
        jsonw_rawn(w, ",", 1);
    jsonw_str(w, key);
    jsonw_rawn(w, ":", 1);
}

void jsonw_int(struct jsonw *w, int64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%" PRId64, v);
    jsonw_rawn(w, num, (size_t)n);
}

const char *jsonw_text(const struct jsonw *w)
{
    if (w->failed)
        return NULL;
    return w->buf ? w->buf : "";
}
