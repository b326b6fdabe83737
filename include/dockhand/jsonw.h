/* A JSON text writer for the token realm's hot path: the token's claims and the reply
 * are written straight into one growing buffer, without building a jansson tree and
 * serialising it (that round trip was a sixth of a warm token's time). The caller
 * writes the punctuation; strings are escaped here. */
#pragma once
#include <stdint.h>
#include "dockhand/common.h"

struct jsonw {
    char *buf;
    size_t len, cap;
    bool failed; /* out of memory, or a string that was not UTF-8 */
};

void jsonw_init(struct jsonw *w);
void jsonw_deinit(struct jsonw *w);

/* Appends text as it is. */
void jsonw_raw(struct jsonw *w, const char *text);
void jsonw_rawn(struct jsonw *w, const char *text, size_t len);
/* Appends s as a JSON string (quoted, escaped); s must be valid UTF-8. */
void jsonw_str(struct jsonw *w, const char *s);
/* Appends "key": (with a leading comma when comma is true). */
void jsonw_key(struct jsonw *w, bool comma, const char *key);
void jsonw_int(struct jsonw *w, int64_t v);

/* The text so far (NUL-terminated), or NULL when anything failed. */
const char *jsonw_text(const struct jsonw *w);
