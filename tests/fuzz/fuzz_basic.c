/* libFuzzer driver: the Basic credentials path, b64_decode then a split at the first ':'. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/encoding.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *out = malloc(B64_DECODED_CAP(size));
    char *enc = NULL, *colon;
    size_t n;

    if (!out || b64_decode((const char *)data, size, out, &n) != 0)
        goto out;
    colon = memchr(out, ':', n);
    if (colon) {
        size_t user_len = (size_t)(colon - (char *)out);
        (void)utf8_valid((const char *)out, user_len);
        (void)utf8_valid(colon + 1, n - user_len - 1);
    }
    /* Decoding is canonical: encoding again gives back the input, padded. */
    enc = malloc(B64_ENCODED_CAP(n));
    if (enc && size % 4 == 0 && (b64_encode(out, n, enc) != size || memcmp(enc, data, size) != 0))
        __builtin_trap();
out:
    free(enc);
    free(out);
    return 0;
}
