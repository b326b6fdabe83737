/* libFuzzer driver for the byte encodings of encoding.h that take outside input:
 * percent-decoding (query strings, form bodies), the UTF-8 check, base64url (JWTs) and hex
 * digits, each against an independent reference written here. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/encoding.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Unicode's table 3-7 of well-formed UTF-8 byte sequences, read literally. */
static bool utf8_reference(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t b = s[i];
        size_t n;
        uint8_t lo = 0x80, hi = 0xBF;
        if (b <= 0x7F) {
            i++;
            continue;
        } else if (b >= 0xC2 && b <= 0xDF) {
            n = 1;
        } else if (b == 0xE0) {
            n = 2, lo = 0xA0;
        } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
            n = 2;
        } else if (b == 0xED) {
            n = 2, hi = 0x9F;
        } else if (b == 0xF0) {
            n = 3, lo = 0x90;
        } else if (b >= 0xF1 && b <= 0xF3) {
            n = 3;
        } else if (b == 0xF4) {
            n = 3, hi = 0x8F;
        } else {
            return false;
        }
        if (len - i - 1 < n || s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= n; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return false;
        i += n + 1;
    }
    return true;
}

static int hex_ref(uint8_t c)
{
    static const char digits[] = "0123456789abcdef0123456789ABCDEF";
    const char *p = c ? memchr(digits, c, sizeof(digits) - 1) : NULL;
    return p ? (int)((p - digits) % 16) : -1;
}

/* Percent-decoding as a component of a query: %XX, '+' as space when asked; a bad
 * escape or a decoded NUL refuses the whole input. Returns the length or -1. */
static long pct_reference(const uint8_t *in, size_t len, bool plus, uint8_t *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = in[i];
        if (c == '%') {
            if (len - i < 3 || hex_ref(in[i + 1]) < 0 || hex_ref(in[i + 2]) < 0)
                return -1;
            c = (uint8_t)(hex_ref(in[i + 1]) * 16 + hex_ref(in[i + 2]));
            i += 2;
        } else if (c == '+' && plus) {
            c = ' ';
        }
        if (c == 0)
            return -1;
        out[o++] = c;
    }
    return (long)o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char *out = malloc(size + 1), *again = malloc(3 * size + 1), *back = malloc(3 * size + 1);
    uint8_t *ref = malloc(size + 1);
    unsigned char *b64 = malloc(B64_DECODED_CAP(size));
    char *b64again = malloc(B64_ENCODED_CAP(size));
    size_t n = 0;

    if (!out || !again || !back || !ref || !b64 || !b64again)
        abort();
    if (utf8_valid(s, size) != utf8_reference(data, size))
        __builtin_trap();
    for (int plus = 0; plus < 2; plus++) {
        int rc = pct_decode(s, size, plus, out, &n);
        long want = pct_reference(data, size, plus, ref);
        if ((rc == 0) != (want >= 0) || (rc != 0 && rc != DH_ERR_INVALID))
            __builtin_trap();
        if (rc != 0)
            continue;
        /* What the reference gives, NUL-terminated, never longer than the input. */
        if (n != (size_t)want || n > size || out[n] != '\0' || memcmp(out, ref, n) != 0 ||
            memchr(out, '\0', n))
            __builtin_trap();
        /* Every byte escaped again decodes back to the same bytes. */
        static const char hexd[] = "0123456789ABCDEF";
        size_t m = 0, n2 = 0;
        for (size_t i = 0; i < n; i++) {
            again[m++] = '%';
            again[m++] = hexd[(unsigned char)out[i] >> 4];
            again[m++] = hexd[(unsigned char)out[i] & 15];
        }
        if (pct_decode(again, m, plus, back, &n2) != 0 || n2 != n || memcmp(back, out, n) != 0)
            __builtin_trap();
    }
    /* base64url without padding is canonical: what decodes encodes back to the input. */
    if (b64url_decode(s, size, b64, &n) == 0 &&
        (b64url_encode(b64, n, b64again) != size || memcmp(b64again, s, size) != 0))
        __builtin_trap();
    for (size_t i = 0; i < size && i < 64; i++)
        if (hex_value(data[i]) != hex_ref(data[i]))
            __builtin_trap();
    free(out);
    free(again);
    free(back);
    free(ref);
    free(b64);
    free(b64again);
    return 0;
}
