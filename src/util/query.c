/* Harbor's q and sort grammars (query.h). The input is copied once and cut in place:
 * every piece is delimited before it is decoded, so a decoded "," or "]" is data, never
 * syntax, and decoding only shrinks a piece. */
#include "dockhand/query.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/encoding.h"

static int failf(char err[QUERY_ERR_LEN], int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int failf(char err[QUERY_ERR_LEN], int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, QUERY_ERR_LEN, fmt, ap);
    va_end(ap);
    return rc;
}

static bool key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

/* Decodes the piece [p, end) in place and NUL-terminates it. */
static int decode(char *p, char *end, char err[QUERY_ERR_LEN])
{
    size_t out = 0;
    if (pct_decode(p, (size_t)(end - p), false, p, &out) < 0 || !utf8_valid(p, out))
        return failf(err, DH_ERR_INVALID, "malformed value");
    if (out > QUERY_MAX_VALUE)
        return failf(err, DH_ERR_TOOBIG, "a value is longer than %d bytes", QUERY_MAX_VALUE);
    p[out] = '\0';
    return 0;
}

/* Drops blanks around [*p, *end). */
static void trim(char **p, char **end)
{
    while (*p < *end && **p == ' ')
        (*p)++;
    while (*end > *p && (*end)[-1] == ' ')
        (*end)--;
}

/* The bracketed value at open (a '[' or '{'): its closing bracket, or an error for a
 * bracket inside it or none at all. Commas inside are data: a range of times may hold
 * none, but a set of names might. */
static int bracket_end(char *open, char *end, char **close, char err[QUERY_ERR_LEN])
{
    char want = *open == '[' ? ']' : '}';
    for (char *c = open + 1; c < end; c++) {
        if (*c == want) {
            if (c + 1 < end && c[1] != ',')
                return failf(err, DH_ERR_INVALID, "expected , after %c", want);
            *close = c;
            return 0;
        }
        if (*c == '[' || *c == ']' || *c == '{' || *c == '}')
            return failf(err, DH_ERR_INVALID, "brackets do not nest in a value");
    }
    return failf(err, DH_ERR_INVALID, *open == '[' ? "unclosed [range]" : "unclosed {set}");
}

static int range_parse(struct query_term *t, char *p, char *close, char err[QUERY_ERR_LEN])
{
    char *tilde = memchr(p, '~', (size_t)(close - p));
    if (!tilde || memchr(tilde + 1, '~', (size_t)(close - tilde - 1)))
        return failf(err, DH_ERR_INVALID, "a range is [from~to] with one ~");
    char *a = p, *a_end = tilde, *b = tilde + 1, *b_end = close;
    trim(&a, &a_end);
    trim(&b, &b_end);
    int rc = decode(a, a_end, err);
    if (rc == 0)
        rc = decode(b, b_end, err);
    t->kind = QUERY_RANGE;
    t->n = 2;
    t->v[0] = a;
    t->v[1] = b;
    return rc;
}

static int set_parse(struct query_term *t, char *p, char *close, char err[QUERY_ERR_LEN])
{
    t->kind = QUERY_SET;
    t->n = 0;
    while (p < close) {
        if (*p == ' ') {
            p++;
            continue;
        }
        char *e = p;
        while (e < close && *e != ' ')
            e++;
        if (t->n == QUERY_MAX_SET)
            return failf(err, DH_ERR_TOOBIG, "a {set} holds at most %d values", QUERY_MAX_SET);
        int rc = decode(p, e, err);
        if (rc < 0)
            return rc;
        t->v[t->n++] = p;
        p = e + 1;
    }
    if (t->n == 0)
        return failf(err, DH_ERR_INVALID, "a {set} needs a value");
    return 0;
}

/* One term at *pp (not at a ','); leaves *pp after the term. */
static int term_parse(struct query_term *t, char **pp, char *end, char err[QUERY_ERR_LEN])
{
    char *p = *pp, *key = p;
    while (p < end && *p != '=' && *p != ',')
        p++;
    if (p == end || *p == ',')
        return failf(err, DH_ERR_INVALID, "expected key=value, key=~value or key=[from~to]");
    if (p == key)
        return failf(err, DH_ERR_INVALID, "a key is empty");
    if (p - key > QUERY_MAX_KEY)
        return failf(err, DH_ERR_TOOBIG, "a key is longer than %d bytes", QUERY_MAX_KEY);
    for (char *c = key; c < p; c++)
        if (!key_char(*c))
            return failf(err, DH_ERR_INVALID, "a key is letters, digits, _, . and -");
    *p++ = '\0';
    t->key = key;

    int rc;
    if (p < end && (*p == '[' || *p == '{')) {
        char *close = NULL;
        rc = bracket_end(p, end, &close, err);
        if (rc < 0)
            return rc;
        rc = *p == '[' ? range_parse(t, p + 1, close, err) : set_parse(t, p + 1, close, err);
        *pp = close + 1;
        return rc;
    }
    if (p < end && *p == '(')
        return failf(err, DH_ERR_INVALID, "(and lists) are not supported");
    t->kind = QUERY_EXACT;
    if (p < end && *p == '~') {
        t->kind = QUERY_FUZZY;
        p++;
    }
    char *e = memchr(p, ',', (size_t)(end - p));
    if (!e)
        e = end;
    t->n = 1;
    t->v[0] = p;
    /* Past the ',' now: decoding may write its NUL over it. */
    *pp = e < end ? e + 1 : e;
    return decode(p, e, err);
}

int query_parse(struct query *q, const char *s, size_t len, char err[QUERY_ERR_LEN])
{
    memset(q, 0, sizeof(*q));
    err[0] = '\0';
    if (len > QUERY_MAX_LEN)
        return failf(err, DH_ERR_TOOBIG, "longer than %d bytes", QUERY_MAX_LEN);
    q->buf = malloc(len + 1);
    if (!q->buf)
        return failf(err, DH_ERR_NOMEM, "out of memory");
    if (len)
        memcpy(q->buf, s, len);
    q->buf[len] = '\0';
    char *p = q->buf, *end = q->buf + len;
    while (p < end) {
        if (*p == ',') {
            p++;
            continue;
        }
        int rc = q->n == QUERY_MAX_TERMS
                     ? failf(err, DH_ERR_TOOBIG, "at most %d terms", QUERY_MAX_TERMS)
                     : term_parse(&q->t[q->n], &p, end, err);
        if (rc < 0) {
            query_deinit(q); /* a failed parse holds nothing */
            return rc;
        }
        q->n++;
    }
    return 0;
}

void query_deinit(struct query *q)
{
    if (!q)
        return;
    free(q->buf);
    memset(q, 0, sizeof(*q));
}

/* "what (one of a, b, c)" into err, as far as it fits: the columns, not the input, so
 * the sentence is safe to show whatever bytes were sent. */
static int sort_fail(char err[QUERY_ERR_LEN], int rc, const char *what, const char *const *cols,
                     size_t ncols)
{
    size_t n = (size_t)snprintf(err, QUERY_ERR_LEN, "%s (one of ", what);
    for (size_t i = 0; i < ncols && n < QUERY_ERR_LEN; i++)
        n += (size_t)snprintf(err + n, QUERY_ERR_LEN - n, "%s%s", i ? ", " : "", cols[i]);
    if (n < QUERY_ERR_LEN)
        snprintf(err + n, QUERY_ERR_LEN - n, ")");
    return rc;
}

int query_sort_parse(struct query_sort *out, const char *s, size_t len, const char *const *cols,
                     size_t ncols, char err[QUERY_ERR_LEN])
{
    memset(out, 0, sizeof(*out));
    err[0] = '\0';
    if (len == 0)
        return 0;
    const char *p = s, *end = s + len;
    for (;;) {
        const char *e = memchr(p, ',', (size_t)(end - p));
        if (!e)
            e = end;
        bool desc = p < e && *p == '-';
        const char *name = p + desc;
        size_t n = (size_t)(e - name), col = ncols;
        for (size_t i = 0; i < ncols; i++)
            if (strlen(cols[i]) == n && memcmp(cols[i], name, n) == 0)
                col = i;
        if (col == ncols)
            return sort_fail(err, DH_ERR_INVALID, n ? "an unknown column" : "an empty column", cols,
                             ncols);
        for (size_t i = 0; i < out->n; i++)
            if (out->k[i].col == col)
                return sort_fail(err, DH_ERR_INVALID, "a column named twice", cols, ncols);
        if (out->n == QUERY_MAX_SORT)
            return failf(err, DH_ERR_TOOBIG, "at most %d columns", QUERY_MAX_SORT);
        out->k[out->n].col = col;
        out->k[out->n].desc = desc;
        out->n++;
        if (e == end)
            return 0;
        p = e + 1;
    }
}
