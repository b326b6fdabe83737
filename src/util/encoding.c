#include "dockhand/encoding.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

static const char b64_std_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char base32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static size_t b64_encode_with(const char *alphabet, bool pad, const void *in, size_t len, char *out)
{
    const unsigned char *p = in;
    size_t o = 0, i = 0;

    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        if (pad) {
            out[o++] = '=';
            out[o++] = '=';
        }
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        if (pad)
            out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

size_t b64_encode(const void *in, size_t len, char *out)
{
    return b64_encode_with(b64_std_alphabet, true, in, len, out);
}

size_t b64url_encode(const void *in, size_t len, char *out)
{
    return b64_encode_with(b64_url_alphabet, false, in, len, out);
}

static int b64_value(bool url, unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

static int b64_decode_with(bool url, const char *in, size_t len, unsigned char *out, size_t *outlen)
{
    size_t o = 0, i, n = len;
    uint32_t acc = 0;
    unsigned bits = 0;

    if (!url && len % 4 == 0 && len > 0 && in[len - 1] == '=') {
        n = len - 1;
        if (in[n - 1] == '=')
            --n;
    }
    /* One leftover character carries only 6 bits: never a valid encoding. (Stripping at
     * most two '=' from a multiple of 4 leaves 2 or 3 over, so padding is right here.) */
    if (n % 4 == 1)
        return DH_ERR_INVALID;

    for (i = 0; i < n; ++i) {
        int v = b64_value(url, (unsigned char)in[i]);
        if (v < 0)
            return DH_ERR_INVALID;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* Non-zero leftover bits mean a second spelling of the same bytes; refusing them keeps
     * one encoding per value (tokens and credentials compare as strings elsewhere). */
    if (acc != 0)
        return DH_ERR_INVALID;
    out[o] = '\0';
    *outlen = o;
    return 0;
}

int b64_decode(const char *in, size_t len, unsigned char *out, size_t *outlen)
{
    return b64_decode_with(false, in, len, out, outlen);
}

int b64url_decode(const char *in, size_t len, unsigned char *out, size_t *outlen)
{
    return b64_decode_with(true, in, len, out, outlen);
}

size_t base32_encode(const void *in, size_t len, char *out)
{
    const unsigned char *p = in;
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;

    for (size_t i = 0; i < len; ++i) {
        acc = acc << 8 | p[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[o++] = base32_alphabet[acc >> bits & 31];
        }
        acc &= (1u << bits) - 1;
    }
    if (bits > 0)
        out[o++] = base32_alphabet[acc << (5 - bits) & 31];
    out[o] = '\0';
    return o;
}

void hex_encode(const void *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = in;

    for (size_t i = 0; i < len; ++i) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * len] = '\0';
}

int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int pct_decode(const char *in, size_t len, bool plus_is_space, char *out, size_t *outlen)
{
    size_t o = 0;

    for (size_t i = 0; i < len; ++i) {
        unsigned char c = (unsigned char)in[i];
        if (c == '%') {
            int hi, lo;
            if (len - i < 3)
                return DH_ERR_INVALID;
            hi = hex_value((unsigned char)in[i + 1]);
            lo = hex_value((unsigned char)in[i + 2]);
            if (hi < 0 || lo < 0)
                return DH_ERR_INVALID;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        /* A NUL would silently truncate every C string made from the result. */
        if (c == '\0')
            return DH_ERR_INVALID;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    *outlen = o;
    return 0;
}

bool utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        unsigned char c = p[i];
        size_t need;
        unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */

        if (c < 0x80) {
            ++i;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0; /* overlong */
            else if (c == 0xED)
                hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90; /* overlong */
            else if (c == 0xF4)
                hi = 0x8F; /* above U+10FFFF */
        } else {
            return false; /* continuation byte, C0/C1 overlong lead, or F5..FF */
        }
        if (len - i <= need)
            return false;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= need; ++k)
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
        i += need + 1;
    }
    return true;
}

bool ct_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

int basic_decode(const char *header, char **buf, size_t *user_len, const char **secret,
                 size_t *secret_len)
{
    size_t hlen = strlen(header);
    *buf = NULL;
    if (hlen > BASIC_MAX_HEADER)
        return DH_ERR_TOOBIG;
    if (strncasecmp(header, "Basic ", 6) != 0)
        return DH_ERR_NOTFOUND;
    const char *b64 = header + 6;
    while (*b64 == ' ')
        b64++;
    size_t blen = strlen(b64);
    while (blen && b64[blen - 1] == ' ')
        blen--;
    unsigned char *raw = malloc(B64_DECODED_CAP(blen));
    size_t rawlen = 0;
    if (!raw)
        return DH_ERR_NOMEM;
    unsigned char *colon = NULL;
    if (b64_decode(b64, blen, raw, &rawlen) < 0 || !(colon = memchr(raw, ':', rawlen))) {
        OPENSSL_cleanse(raw, rawlen);
        free(raw);
        return DH_ERR_INVALID;
    }
    *colon = '\0';
    *buf = (char *)raw;
    *user_len = (size_t)(colon - raw);
    *secret = (const char *)colon + 1;
    *secret_len = rawlen - *user_len - 1;
    return 0;
}
