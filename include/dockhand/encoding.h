/* Byte encodings: base64, base64url, base32, hex, percent-decoding, UTF-8 checks.
 * Pure functions; no allocation unless the name says so. */
#pragma once
#include "dockhand/common.h"

/* Capacity needed to decode len characters of base64/base64url (plus a NUL). */
#define B64_DECODED_CAP(len) (((len) / 4 + 1) * 3 + 1)
/* Capacity needed to encode len bytes as base64/base64url, with the NUL. */
#define B64_ENCODED_CAP(len) ((((len) + 2) / 3) * 4 + 1)

/* Standard base64 (RFC 4648 §4), padding optional but correct if present; no
 * whitespace accepted. Writes at most B64_DECODED_CAP(len) bytes to out, sets *outlen,
 * NUL-terminates. Returns 0, or DH_ERR_INVALID on any bad character or length, or
 * non-zero unused bits in the last character (a non-canonical spelling). */
int b64_decode(const char *in, size_t len, unsigned char *out, size_t *outlen) DH_MUST_CHECK;

/* base64url without padding (RFC 7515). out needs B64_ENCODED_CAP(len) bytes; returns
 * the encoded length (NUL written after it). */
size_t b64url_encode(const void *in, size_t len, char *out);

/* base64url decode, padding not allowed. Same contract as b64_decode. */
int b64url_decode(const char *in, size_t len, unsigned char *out, size_t *outlen) DH_MUST_CHECK;

/* Standard base64 with padding; out needs B64_ENCODED_CAP(len). Returns length. */
size_t b64_encode(const void *in, size_t len, char *out);

/* RFC 4648 base32, upper case, no padding. out needs (len*8+4)/5 + 1 bytes. */
size_t base32_encode(const void *in, size_t len, char *out);

/* The value of one hex digit (either case), or -1. */
int hex_value(unsigned char c);

/* Lower-case hex; out needs 2*len+1 bytes. */
void hex_encode(const void *in, size_t len, char *out);

/* Percent-decoding of a URL query/form component: %XX (either case) and, when
 * plus_is_space, '+' as a space. out needs len+1 bytes; NUL-terminated, *outlen set.
 * Returns DH_ERR_INVALID on a malformed escape, or on a decoded NUL byte. */
int pct_decode(const char *in, size_t len, bool plus_is_space, char *out,
               size_t *outlen) DH_MUST_CHECK;

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, ≤ U+10FFFF). */
bool utf8_valid(const char *s, size_t len);

/* Constant-time equality of two equal-length buffers. */
bool ct_equal(const void *a, const void *b, size_t len);

#define BASIC_MAX_HEADER 8192 /* bytes of an Authorization header value */

/* Parses an Authorization header value "Basic <base64>" (scheme case-insensitive,
 * spaces around the token allowed). On success *buf is a heap buffer holding the user
 * name and, after a NUL that replaced the first ':', the secret (which may hold more
 * ':' and must be treated as length-delimited). *user = *buf. The caller wipes and frees
 * *buf. Returns 0; DH_ERR_NOTFOUND when the scheme is not Basic; DH_ERR_INVALID for bad
 * base64 or no ':'; DH_ERR_TOOBIG over BASIC_MAX_HEADER; DH_ERR_NOMEM. */
int basic_decode(const char *header, char **buf, size_t *user_len, const char **secret,
                 size_t *secret_len) DH_MUST_CHECK;
