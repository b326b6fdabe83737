/* The scope grammar of the Docker Registry v2 token protocol (docs/design.md §3.6). */
#include "dockhand/scope.h"

#include <stdlib.h>
#include <string.h>

#include "dockhand/encoding.h"

/* One scope cut into spans of the caller's buffer; nothing is allocated until the
 * scope turns out to name a resource the list does not hold yet. */
struct scope_span {
    const char *type, *cls, *name;
    size_t type_len, cls_len, name_len; /* cls_len == 0: no class */
    unsigned requested;
};

static unsigned scope_action_bit(const char *w, size_t n)
{
    if (n == 4 && memcmp(w, "pull", 4) == 0)
        return ACT_PULL;
    if (n == 4 && memcmp(w, "push", 4) == 0)
        return ACT_PUSH;
    if (n == 6 && memcmp(w, "delete", 6) == 0)
        return ACT_DELETE;
    if (n == 1 && w[0] == '*')
        return ACT_STAR;
    return 0; /* unknown words are dropped, never granted */
}

static unsigned scope_parse_actions(const char *s, size_t n)
{
    unsigned bits = 0;
    size_t start = 0;

    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == ',') {
            bits |= scope_action_bit(s + start, i - start);
            start = i + 1;
        }
    }
    return bits;
}

/* Splits "type[(class)]" into its parts. */
static int scope_parse_type(const char *s, size_t n, struct scope_span *sp)
{
    const char *open = memchr(s, '(', n);
    const char *close = memchr(s, ')', n);

    if (!open) {
        if (close)
            return DH_ERR_INVALID;
        sp->type = s;
        sp->type_len = n;
        sp->cls = NULL;
        sp->cls_len = 0;
    } else {
        /* The only ')' must be the last byte, after the '(' and not right after it. */
        if (!close || close != s + n - 1 || close < open)
            return DH_ERR_INVALID;
        if (memchr(open + 1, '(', (size_t)(close - open - 1)))
            return DH_ERR_INVALID;
        sp->type = s;
        sp->type_len = (size_t)(open - s);
        sp->cls = open + 1;
        sp->cls_len = (size_t)(close - open - 1);
    }
    if (sp->type_len == 0 || (sp->cls && sp->cls_len == 0))
        return DH_ERR_INVALID;
    if (sp->type_len > SCOPE_MAX_TYPE || sp->cls_len > SCOPE_MAX_TYPE)
        return DH_ERR_TOOBIG;
    return 0;
}

/* Parses one scope (no spaces inside) into spans of s. */
static int scope_parse_one(const char *s, size_t n, struct scope_span *sp)
{
    const char *first, *last = NULL;
    int r;

    if (n > SCOPE_MAX_LEN)
        return DH_ERR_TOOBIG;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return DH_ERR_INVALID; /* NUL included: the input is length-delimited */
        if (c == ':')
            last = s + i;
    }
    if (!utf8_valid(s, n))
        return DH_ERR_INVALID;

    first = memchr(s, ':', n);
    if (!first || first == last)
        return DH_ERR_INVALID;

    r = scope_parse_type(s, (size_t)(first - s), sp);
    if (r < 0)
        return r;

    sp->name = first + 1;
    sp->name_len = (size_t)(last - first - 1);
    if (sp->name_len == 0)
        return DH_ERR_INVALID;
    if (sp->name_len > SCOPE_MAX_NAME)
        return DH_ERR_TOOBIG;

    sp->requested = scope_parse_actions(last + 1, (size_t)(s + n - last - 1));
    return 0;
}

static bool scope_str_is(const char *str, const char *s, size_t n)
{
    return strlen(str) == n && memcmp(str, s, n) == 0;
}

static bool scope_item_matches(const struct scope_item *it, const struct scope_span *sp)
{
    if (!scope_str_is(it->type, sp->type, sp->type_len))
        return false;
    if (!scope_str_is(it->name, sp->name, sp->name_len))
        return false;
    if (!it->cls)
        return sp->cls_len == 0;
    return sp->cls_len != 0 && scope_str_is(it->cls, sp->cls, sp->cls_len);
}

static void scope_item_deinit(struct scope_item *it)
{
    free(it->type);
    free(it->cls);
    free(it->name);
    memset(it, 0, sizeof(*it));
}

static char *scope_dup(const char *s, size_t n)
{
    char *p = malloc(n + 1);

    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static int scope_item_init(struct scope_item *it, const struct scope_span *sp)
{
    memset(it, 0, sizeof(*it));
    it->type = scope_dup(sp->type, sp->type_len);
    it->name = scope_dup(sp->name, sp->name_len);
    if (sp->cls_len)
        it->cls = scope_dup(sp->cls, sp->cls_len);
    if (!it->type || !it->name || (sp->cls_len && !it->cls)) {
        scope_item_deinit(it);
        return DH_ERR_NOMEM;
    }
    it->requested = sp->requested;
    return 0;
}

int scope_list_add(struct scope_list *l, const char *value, size_t len)
{
    /* Everything this call would change is staged here and applied only at the end,
     * so that a failure leaves l exactly as it was. */
    struct scope_item fresh[SCOPE_MAX_ITEMS];
    unsigned merge[SCOPE_MAX_ITEMS] = {0};
    size_t nfresh = 0, i = 0;
    int r = 0;

    if (!value && len)
        return DH_ERR_INVALID;
    if (l->n > SCOPE_MAX_ITEMS)
        return DH_ERR_TOOBIG;

    while (i < len) {
        struct scope_span sp;
        size_t start, k;
        bool found = false;

        if (value[i] == ' ') {
            i++;
            continue;
        }
        start = i;
        while (i < len && value[i] != ' ')
            i++;

        r = scope_parse_one(value + start, i - start, &sp);
        if (r < 0)
            goto out;

        for (k = 0; k < l->n && !found; k++) {
            if (scope_item_matches(&l->items[k], &sp)) {
                merge[k] |= sp.requested;
                found = true;
            }
        }
        for (k = 0; k < nfresh && !found; k++) {
            if (scope_item_matches(&fresh[k], &sp)) {
                fresh[k].requested |= sp.requested;
                found = true;
            }
        }
        if (found)
            continue;

        if (l->n + nfresh >= SCOPE_MAX_ITEMS) {
            r = DH_ERR_TOOBIG;
            goto out;
        }
        r = scope_item_init(&fresh[nfresh], &sp);
        if (r < 0)
            goto out;
        nfresh++;
    }

    if (l->n + nfresh > l->cap) {
        size_t cap = l->cap ? l->cap : 8;
        struct scope_item *items;

        while (cap < l->n + nfresh)
            cap *= 2;
        items = realloc(l->items, cap * sizeof(*items));
        if (!items) {
            r = DH_ERR_NOMEM;
            goto out;
        }
        l->items = items;
        l->cap = cap;
    }
    for (i = 0; i < l->n; i++)
        l->items[i].requested |= merge[i];
    if (nfresh)
        memcpy(l->items + l->n, fresh, nfresh * sizeof(*fresh));
    l->n += nfresh;
    nfresh = 0; /* now owned by l */
    r = 0;

out:
    for (i = 0; i < nfresh; i++)
        scope_item_deinit(&fresh[i]);
    return r;
}

void scope_list_deinit(struct scope_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        scope_item_deinit(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof(*l));
}

size_t scope_actions_format(unsigned bits, char *out)
{
    static const struct {
        unsigned bit;
        const char *word;
    } order[] = {
        {ACT_PULL, "pull"},
        {ACT_PUSH, "push"},
        {ACT_DELETE, "delete"},
        {ACT_STAR, "*"},
    };
    size_t n = 0;

    for (size_t i = 0; i < DH_ARRAY_SIZE(order); i++) {
        size_t w;

        if (!(bits & order[i].bit))
            continue;
        if (n)
            out[n++] = ',';
        w = strlen(order[i].word);
        memcpy(out + n, order[i].word, w);
        n += w;
    }
    out[n] = '\0';
    return n;
}

bool scope_repo_project(const char *name, char *out, size_t outcap)
{
    const char *slash;
    size_t n;

    if (!name || !out)
        return false;
    slash = strchr(name, '/');
    if (!slash || slash == name)
        return false;
    n = (size_t)(slash - name);
    if (n + 1 > outcap)
        return false;
    memcpy(out, name, n);
    out[n] = '\0';
    return true;
}
