/* Harbor's list filters: the `q` and `sort` query parameters of the admin API (v2.0).
 * Pure; knows nothing of HTTP: each parser returns an error code and a sentence for a
 * person, and the handler decides the reply (a 400 with "q: <text>" or "sort: <text>").
 *
 * q (after the query string's own decoding):
 *   q     = [term] *("," [term])        empty terms are skipped ("a=1,,b=2," is two)
 *   term  = key "=" value
 *   key   = 1*QUERY_MAX_KEY of ALPHA / DIGIT / "_" / "." / "-", taken as written
 *   value = "~" text                     fuzzy (substring); text may be empty
 *         / "[" text "~" text "]"        range; one "~", either bound may be empty (open);
 *                                        blanks around a bound are dropped
 *         / "{" text *(1*" " text) "}"   set of one to QUERY_MAX_SET values
 *         / text                         exact (may be empty)
 *   Exact and fuzzy text runs to the next ","; only its first byte picks the kind, so
 *   "a~b" is exact. Range and set text runs to the closing bracket (commas included); a
 *   bracket inside it is a nesting error, and a "," or the end must follow it. Harbor's
 *   "(and list)" is refused: no endpoint has a use for it. Every value is then
 *   percent-decoded (%XX, no '+') and must be UTF-8 without NUL, so "%2C" is a comma
 *   inside a value and "%7E" a tilde.
 *
 * sort:
 *   sort  = [column *("," column)]       column = ["-"] name, "-" for descending
 *   Each name must be one of the caller's columns, at most once. */
#pragma once
#include "dockhand/common.h"

#define QUERY_MAX_LEN 4096   /* bytes of q as received */
#define QUERY_MAX_TERMS 16   /* terms in one q */
#define QUERY_MAX_KEY 64     /* bytes of a key */
#define QUERY_MAX_VALUE 1024 /* bytes of one value after decoding (a range bound, a set member) */
#define QUERY_MAX_SET 16     /* values in one {set} */
#define QUERY_MAX_SORT 8     /* columns in one sort */
#define QUERY_ERR_LEN 128    /* room for an error sentence, NUL included */

enum query_kind {
    QUERY_EXACT, /* k=v: v[0] */
    QUERY_FUZZY, /* k=~v: v[0] */
    QUERY_RANGE, /* k=[a~b]: v[0] from, v[1] to; "" when open */
    QUERY_SET,   /* k={a b c}: v[0..n) */
};

struct query_term {
    const char *key;
    enum query_kind kind;
    size_t n; /* values: 1 exact or fuzzy, 2 range, 1..QUERY_MAX_SET set */
    const char *v[QUERY_MAX_SET];
};

struct query {
    char *buf; /* owns the decoded keys and values the terms point into */
    size_t n;  /* terms, in the order given (a repeated key appears twice) */
    struct query_term t[QUERY_MAX_TERMS];
};

/* Parses q from s[0..len) (length-delimited; a NUL inside is malformed) into *q, which
 * the caller releases with query_deinit (a failure leaves *q empty; deinit is then a
 * no-op). q is overwritten, not freed: deinit a used one first. Returns 0; DH_ERR_INVALID
 * for a syntax, nesting, key or encoding error; DH_ERR_TOOBIG over a QUERY_MAX_* bound;
 * DH_ERR_NOMEM. On failure err holds a sentence without the parameter's name. */
int query_parse(struct query *q, const char *s, size_t len, char err[QUERY_ERR_LEN]) DH_MUST_CHECK;

/* Frees what query_parse allocated; q is zeroed and reusable. Accepts a zeroed query. */
void query_deinit(struct query *q);

struct query_sort_key {
    size_t col; /* index into the caller's columns */
    bool desc;
};

struct query_sort {
    size_t n;
    struct query_sort_key k[QUERY_MAX_SORT];
};

/* Parses sort from s[0..len) against the ncols names in cols (compared exactly). An empty
 * sort gives n = 0 (the caller's default order). Returns 0; DH_ERR_INVALID (an empty or
 * unknown column, a column named twice) or DH_ERR_TOOBIG (over QUERY_MAX_SORT columns),
 * with a sentence in err that lists the columns; never echoes the input. */
int query_sort_parse(struct query_sort *out, const char *s, size_t len, const char *const *cols,
                     size_t ncols, char err[QUERY_ERR_LEN]) DH_MUST_CHECK;
