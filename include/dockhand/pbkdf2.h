/* PBKDF2-HMAC-SHA256 (RFC 8018 §5.2), what secret.c hashes secrets with. */
#ifndef DOCKHAND_PBKDF2_H
#define DOCKHAND_PBKDF2_H

#include <stddef.h>

/* Derives out_len bytes from pass and salt with `iterations` rounds (at least 1) into out.
 * The same bytes as OpenSSL's PKCS5_PBKDF2_HMAC with EVP_sha256(), in about half the time
 * and with no allocation (pbkdf2.c says why). Returns 0, or DH_ERR_INVALID for 0
 * iterations or an empty out. */
int pbkdf2_sha256(const void *pass, size_t pass_len, const void *salt, size_t salt_len,
                  unsigned iterations, unsigned char *out, size_t out_len);

#endif
