/* What the token tests check a JWS with, independently of dockhand's verifier: the
 * segments split by hand and OpenSSL's EVP_DigestVerify, as the registry does. Only
 * dockhand's base64url decoder is used (it has its own unit test). */
#pragma once
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include "dockhand/encoding.h"

/* Segment i (0..2) of a token, base64url-decoded and NUL-terminated (malloc'd); NULL when
 * the segment is absent or does not decode. */
static inline char *jwt_check_part(const char *tok, int i, size_t *n)
{
    const char *start = tok, *end;

    for (int k = 0; k < i; ++k) {
        start = strchr(start, '.');
        if (!start)
            return NULL;
        ++start;
    }
    end = strchr(start, '.');
    if (!end)
        end = start + strlen(start);
    size_t len = (size_t)(end - start);
    unsigned char *out = malloc(B64_DECODED_CAP(len) + 1);
    if (out && b64url_decode(start, len, out, n) != 0) {
        free(out);
        return NULL;
    }
    if (out)
        out[*n] = '\0';
    return (char *)out;
}

/* True when tok's signature verifies with pub for alg ("ES256", "ES384" or "RS256"):
 * R‖S turned into DER for ECDSA, then EVP_DigestVerify over "header.payload". */
static inline bool jwt_check_openssl(const char *tok, EVP_PKEY *pub, const char *alg)
{
    const char *d1 = tok ? strchr(tok, '.') : NULL, *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    size_t width = strcmp(alg, "ES256") == 0 ? 32 : strcmp(alg, "ES384") == 0 ? 48 : 0;
    unsigned char *sig = NULL, *der = NULL;
    size_t sig_len = 0, der_len = 0;
    EVP_MD_CTX *ctx = NULL;
    bool ok = false;

    if (!d2 || !pub || !(sig = (unsigned char *)jwt_check_part(tok, 2, &sig_len)))
        goto out;
    if (width) {
        if (sig_len != 2 * width)
            goto out;
        ECDSA_SIG *es = ECDSA_SIG_new();
        if (!es || ECDSA_SIG_set0(es, BN_bin2bn(sig, (int)width, NULL),
                                  BN_bin2bn(sig + width, (int)width, NULL)) != 1) {
            ECDSA_SIG_free(es);
            goto out;
        }
        int n = i2d_ECDSA_SIG(es, &der);
        ECDSA_SIG_free(es);
        if (n <= 0)
            goto out;
        der_len = (size_t)n;
    }
    ctx = EVP_MD_CTX_new();
    ok = ctx &&
         EVP_DigestVerifyInit(ctx, NULL, width == 48 ? EVP_sha384() : EVP_sha256(), NULL, pub) ==
             1 &&
         EVP_DigestVerify(ctx, der ? der : sig, der ? der_len : sig_len, (const unsigned char *)tok,
                          (size_t)(d2 - tok)) == 1;
out:
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    free(sig);
    return ok;
}
