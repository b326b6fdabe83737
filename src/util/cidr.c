/* IPv4 and IPv6 networks (cidr.h). */
#include "dockhand/cidr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* The address text in s[0..len) (no prefix): family 4 or 6 into out->addr. */
static int parse_addr(const char *s, size_t len, struct cidr *out)
{
    char buf[CIDR_TEXT_MAX + 1];
    if (len == 0 || len > CIDR_TEXT_MAX)
        return DH_ERR_INVALID;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (strlen(buf) != len) /* a NUL inside */
        return DH_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    if (memchr(buf, ':', len)) {
        if (inet_pton(AF_INET6, buf, out->addr) != 1)
            return DH_ERR_INVALID;
        out->family = 6;
        out->prefix = 128;
    } else {
        if (inet_pton(AF_INET, buf, out->addr) != 1)
            return DH_ERR_INVALID;
        out->family = 4;
        out->prefix = 32;
    }
    return 0;
}

/* Whether a and b agree on their first bits bits. */
static bool same_prefix(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, whole) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

static bool host_bits_clear(const struct cidr *c)
{
    unsigned total = c->family == 4 ? 32 : 128;
    for (unsigned bit = c->prefix; bit < total; bit++)
        if (c->addr[bit / 8] & (0x80 >> (bit % 8)))
            return false;
    return true;
}

int cidr_parse(const char *s, size_t len, struct cidr *out)
{
    if (!s || len > CIDR_TEXT_MAX)
        return DH_ERR_INVALID;
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t)(slash - s) : len;
    if (parse_addr(s, alen, out) < 0)
        return DH_ERR_INVALID;
    if (slash) {
        const char *p = slash + 1, *end = s + len;
        unsigned v = 0, max = out->family == 4 ? 32 : 128;
        if (p == end || end - p > 3)
            return DH_ERR_INVALID;
        for (; p < end; p++) {
            if (*p < '0' || *p > '9')
                return DH_ERR_INVALID;
            v = v * 10 + (unsigned)(*p - '0');
        }
        if (v > max)
            return DH_ERR_INVALID;
        out->prefix = (uint8_t)v;
    }
    return host_bits_clear(out) ? 0 : DH_ERR_INVALID;
}

int cidr_addr_parse(const char *s, struct cidr *out)
{
    if (!s || parse_addr(s, strlen(s), out) < 0)
        return DH_ERR_INVALID;
    if (out->family == 6 && memcmp(out->addr, v4_mapped, sizeof(v4_mapped)) == 0) {
        memmove(out->addr, out->addr + 12, 4);
        memset(out->addr + 4, 0, 12);
        out->family = 4;
        out->prefix = 32;
    }
    return 0;
}

bool cidr_contains(const struct cidr *net, const struct cidr *addr)
{
    return net->family == addr->family && addr->prefix >= net->prefix &&
           same_prefix(net->addr, addr->addr, net->prefix);
}

bool cidr_list_contains(const struct cidr *list, size_t n, const struct cidr *addr)
{
    for (size_t i = 0; i < n; i++)
        if (cidr_contains(&list[i], addr))
            return true;
    return false;
}

static bool is_sep(char c)
{
    return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int cidr_list_parse(const char *text, struct cidr **out, size_t *n, size_t *bad)
{
    struct cidr items[CIDR_LIST_MAX];
    size_t count = 0;
    *out = NULL;
    *n = 0;
    for (const char *p = text ? text : ""; *p;) {
        if (is_sep(*p)) {
            p++;
            continue;
        }
        const char *start = p;
        while (*p && !is_sep(*p))
            p++;
        if (count == CIDR_LIST_MAX)
            return DH_ERR_TOOBIG;
        if (cidr_parse(start, (size_t)(p - start), &items[count]) < 0) {
            if (bad)
                *bad = count;
            return DH_ERR_INVALID;
        }
        count++;
    }
    if (count == 0)
        return 0;
    *out = malloc(count * sizeof(**out));
    if (!*out)
        return DH_ERR_NOMEM;
    memcpy(*out, items, count * sizeof(**out));
    *n = count;
    return 0;
}

char *cidr_format(const struct cidr *net, char *out, size_t cap)
{
    char addr[INET6_ADDRSTRLEN];
    if (!inet_ntop(net->family == 4 ? AF_INET : AF_INET6, net->addr, addr, sizeof(addr)))
        addr[0] = '\0';
    snprintf(out, cap, "%s/%u", addr, (unsigned)net->prefix);
    return out;
}

char *cidr_addr_format(const struct cidr *addr, char *out, size_t cap)
{
    char text[INET6_ADDRSTRLEN];
    if (!inet_ntop(addr->family == 4 ? AF_INET : AF_INET6, addr->addr, text, sizeof(text)))
        text[0] = '\0';
    snprintf(out, cap, "%s", text);
    return out;
}
