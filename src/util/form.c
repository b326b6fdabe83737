#include "dockhand/form.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "dockhand/encoding.h"

static int form_decode(const char *in, size_t len, char **cursor)
{
    size_t n;
    int r = pct_decode(in, len, true, *cursor, &n);

    if (r < 0)
        return r;
    if (!utf8_valid(*cursor, n))
        return DH_ERR_INVALID;
    *cursor += n + 1;
    return 0;
}

int form_parse(const char *s, size_t len, struct form *f)
{
    struct form_pair *pairs = NULL;
    size_t npairs = 0, i, start;
    char *strings;
    int r = 0;

    f->pairs = NULL;
    f->n = 0;
    f->size = 0;
    if (len > FORM_MAX_INPUT)
        return DH_ERR_TOOBIG;

    for (i = 0, start = 0; i <= len; ++i) {
        if (i == len || s[i] == '&') {
            if (i > start && ++npairs > FORM_MAX_PAIRS)
                return DH_ERR_TOOBIG;
            start = i + 1;
        }
    }
    if (npairs == 0)
        return 0;

    /* One block: the pair array, then every decoded string. Decoding never lengthens a
     * component, so a pair needs at most its raw length plus two NULs. */
    size_t size = npairs * sizeof(*pairs) + len + 2 * npairs;
    pairs = malloc(size);
    if (!pairs)
        return DH_ERR_NOMEM;
    strings = (char *)(pairs + npairs);

    npairs = 0;
    for (i = 0, start = 0; i <= len; ++i) {
        const char *comp = s + start, *eq;
        size_t clen = i - start;

        if (i < len && s[i] != '&')
            continue;
        start = i + 1;
        if (clen == 0)
            continue;
        eq = memchr(comp, '=', clen);
        pairs[npairs].key = strings;
        r = form_decode(comp, eq ? (size_t)(eq - comp) : clen, &strings);
        if (r < 0)
            goto out;
        pairs[npairs].value = strings;
        if (eq)
            r = form_decode(eq + 1, clen - (size_t)(eq - comp) - 1, &strings);
        else
            *strings++ = '\0';
        if (r < 0)
            goto out;
        ++npairs;
    }
    f->pairs = pairs;
    f->n = npairs;
    f->size = size;
    pairs = NULL;
out:
    if (pairs) {
        OPENSSL_cleanse(pairs, size);
        free(pairs);
    }
    return r;
}

const char *form_get(const struct form *f, const char *key)
{
    for (size_t i = 0; i < f->n; ++i)
        if (strcmp(f->pairs[i].key, key) == 0)
            return f->pairs[i].value;
    return NULL;
}

void form_deinit(struct form *f)
{
    /* The strings live in the same block as the pair array; passwords and refresh
     * tokens arrive in forms, so the block is wiped. */
    if (f->pairs) {
        OPENSSL_cleanse(f->pairs, f->size);
        free(f->pairs);
    }
    f->pairs = NULL;
    f->n = 0;
    f->size = 0;
}
