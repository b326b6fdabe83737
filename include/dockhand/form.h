/* application/x-www-form-urlencoded and URL query strings, decoded into pairs.
 * Used for the token realm's GET query and POST body. */
#pragma once
#include "dockhand/common.h"

#define FORM_MAX_PAIRS 256         /* more pairs than this: DH_ERR_TOOBIG */
#define FORM_MAX_INPUT (64 * 1024) /* longer input than this: DH_ERR_TOOBIG */

struct form_pair {
    char *key;   /* decoded, NUL-terminated, valid UTF-8 */
    char *value; /* decoded, NUL-terminated, valid UTF-8 */
};

struct form {
    struct form_pair *pairs;
    size_t n;
    size_t size; /* bytes of the block behind pairs (wiped on deinit: forms carry secrets) */
};

/* Parses "a=b&c=d" (empty components skipped; a key without '=' has value "").
 * Keys and values are percent-decoded with '+' as space. Fails with DH_ERR_INVALID
 * on bad escapes, decoded NUL or invalid UTF-8, DH_ERR_TOOBIG over the limits,
 * DH_ERR_NOMEM. On failure *f is left empty (nothing to free). */
int form_parse(const char *s, size_t len, struct form *f) DH_MUST_CHECK;

/* The first value of key, or NULL. */
const char *form_get(const struct form *f, const char *key);

/* Frees the pairs; accepts a zeroed form. */
void form_deinit(struct form *f);
