#include "dockhand/jsonw.h"

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

/* Bytes a JSON string cannot hold as they are: the quote, the backslash, controls. */
static inline bool plain(unsigned char c)
{
    return c >= 0x20 && c != '"' && c != '\\';
}

/* Writes [lead]"s"[trail] (lead and trail: a byte or 0) in one reservation. One scan
 * counts the escapes and notes bytes above ASCII; only those strings are checked for
 * UTF-8. */
static void put_string(struct jsonw *w, char lead, const char *s, char trail)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = 0, extra = 0;
    unsigned char high = 0;
    for (; u[n]; n++) {
        high |= u[n];
        if (!plain(u[n]))
            extra += (u[n] == '"' || u[n] == '\\' || u[n] == '\n' || u[n] == '\t') ? 1 : 5;
    }
    if ((high & 0x80) && !utf8_valid(s, n)) {
        w->failed = true;
        return;
    }
    if (!reserve(w, n + extra + 4))
        return;
    char *o = w->buf + w->len;
    if (lead)
        *o++ = lead;
    *o++ = '"';
    if (!extra) {
        memcpy(o, s, n);
        o += n;
    } else {
        static const char hex[] = "0123456789abcdef";
        for (size_t i = 0; i < n; i++) {
            unsigned char c = u[i];
            if (plain(c)) {
                *o++ = (char)c;
            } else if (c == '"' || c == '\\') {
                *o++ = '\\';
                *o++ = (char)c;
            } else if (c == '\n') {
                *o++ = '\\';
                *o++ = 'n';
            } else if (c == '\t') {
                *o++ = '\\';
                *o++ = 't';
            } else {
                memcpy(o, "\\u00", 4);
                o[4] = hex[c >> 4];
                o[5] = hex[c & 15];
                o += 6;
            }
        }
    }
    *o++ = '"';
    if (trail)
        *o++ = trail;
    *o = '\0';
    w->len = (size_t)(o - w->buf);
}

void jsonw_str(struct jsonw *w, const char *s)
{
    put_string(w, 0, s, 0);
}

void jsonw_key(struct jsonw *w, bool comma, const char *key)
{
    put_string(w, comma ? ',' : 0, key, ':');
}

void jsonw_int(struct jsonw *w, int64_t v)
{
    /* By hand: snprintf was a tenth of the token path's own instructions (callgrind). */
    char num[24], *p = num + sizeof(num);
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + m % 10);
        m /= 10;
    } while (m);
    if (v < 0)
        *--p = '-';
    jsonw_rawn(w, p, (size_t)(num + sizeof(num) - p));
}

const char *jsonw_text(const struct jsonw *w)
{
    if (w->failed)
        return NULL;
    return w->buf ? w->buf : "";
}
