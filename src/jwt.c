#include "dockhand/jwt.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "dockhand/encoding.h"

#define JWT_HEADER_MAX 256 /* {"typ":"JWT","alg":"ES256","kid":<≤ 63 chars>} fits easily */
#define JWT_SIG_MAX 1024   /* an RSA-8192 signature; ECDSA DER is far shorter */

static const EVP_MD *jwt_md(enum key_alg alg)
{
    return alg == KEY_ES384 ? EVP_sha384() : EVP_sha256();
}

/* Bytes of R (and of S) in a JWS ECDSA signature; 0 for RSA. */
static size_t ecdsa_width(enum key_alg alg)
{
    switch (alg) {
    case KEY_ES256:
        return 32;
    case KEY_ES384:
        return 48;
    case KEY_RS256:
        break;
    }
    return 0;
}

static int ecdsa_der_to_raw(const unsigned char *der, size_t der_len, size_t width,
                            unsigned char *raw)
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    const BIGNUM *r, *s;
    int ret = DH_ERR_CRYPTO;

    if (!sig)
        return ret;
    ECDSA_SIG_get0(sig, &r, &s);
    if (BN_bn2binpad(r, raw, (int)width) == (int)width &&
        BN_bn2binpad(s, raw + width, (int)width) == (int)width)
        ret = 0;
    ECDSA_SIG_free(sig);
    return ret;
}

int jwt_sign(const struct sign_key *key, const char *claims, size_t claims_len, char **out)
{
    char header[JWT_HEADER_MAX];
    unsigned char sig[JWT_SIG_MAX + 16], raw[2 * 48];
    const unsigned char *final_sig = sig;
    size_t sig_len = sizeof(sig), width = ecdsa_width(key->alg), cap, o;
    EVP_MD_CTX *ctx = NULL;
    char *tok = NULL;
    int r = DH_ERR_CRYPTO, n;

    *out = NULL;
    n = snprintf(header, sizeof(header), "{\"typ\":\"JWT\",\"alg\":\"%s\",\"kid\":\"%s\"}",
                 key_alg_name(key->alg), key->kid);
    if (n < 0 || (size_t)n >= sizeof(header))
        return DH_ERR_CRYPTO;
    if (claims_len > JWT_MAX_LEN)
        return DH_ERR_NOMEM;
    cap = B64_ENCODED_CAP((size_t)n) + B64_ENCODED_CAP(claims_len) + B64_ENCODED_CAP(JWT_SIG_MAX);
    tok = malloc(cap);
    if (!tok)
        return DH_ERR_NOMEM;
    o = b64url_encode(header, (size_t)n, tok);
    tok[o++] = '.';
    o += b64url_encode(claims, claims_len, tok + o);

    ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestSignInit(ctx, NULL, jwt_md(key->alg), NULL, key->pkey) != 1 ||
        EVP_DigestSign(ctx, sig, &sig_len, (const unsigned char *)tok, o) != 1)
        goto out;
    if (width) {
        if (ecdsa_der_to_raw(sig, sig_len, width, raw) < 0)
            goto out;
        final_sig = raw;
        sig_len = 2 * width;
    }
    tok[o++] = '.';
    b64url_encode(final_sig, sig_len, tok + o);
    *out = tok;
    tok = NULL;
    r = 0;
out:
    EVP_MD_CTX_free(ctx);
    free(tok);
    ERR_clear_error();
    return r;
}

/* Decodes one base64url segment and parses it as a JSON object (duplicate members refused,
 * so no two readers can disagree on a value). */
static json_t *segment_object(const char *seg, size_t len)
{
    unsigned char *buf = malloc(B64_DECODED_CAP(len));
    json_t *obj = NULL;
    size_t n;

    if (!buf)
        return NULL;
    if (len > 0 && b64url_decode(seg, len, buf, &n) == 0)
        obj = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
    free(buf);
    if (obj && !json_is_object(obj)) {
        json_decref(obj);
        obj = NULL;
    }
    return obj;
}

/* The key named by the header, when the header is one we sign ourselves would accept. */
static const struct sign_key *header_key(const struct keyring *ring, json_t *header)
{
    json_t *alg = json_object_get(header, "alg");
    json_t *kid = json_object_get(header, "kid");
    json_t *typ = json_object_get(header, "typ");
    const struct sign_key *key;

    if (!json_is_string(alg) || !json_is_string(kid))
        return NULL;
    if (typ && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") != 0))
        return NULL;
    /* No extension is understood, so none may be marked critical (RFC 7515 §4.1.11). */
    if (json_object_get(header, "crit"))
        return NULL;
    key = keyring_find(ring, json_string_value(kid));
    if (!key || strcmp(json_string_value(alg), key_alg_name(key->alg)) != 0)
        return NULL;
    return key;
}

static int raw_to_ecdsa_der(const unsigned char *raw, size_t width, unsigned char **der,
                            size_t *der_len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, (int)width, NULL);
    BIGNUM *s = BN_bin2bn(raw + width, (int)width, NULL);
    int n, ret = DH_ERR_INVALID;

    if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1)
        goto out;
    r = s = NULL; /* owned by sig now */
    n = i2d_ECDSA_SIG(sig, der);
    if (n <= 0)
        goto out;
    *der_len = (size_t)n;
    ret = 0;
out:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return ret;
}

int jwt_verify(const struct keyring *ring, const char *token, size_t len, json_t **claims)
{
    const char *dot1, *dot2, *sig64;
    size_t sig64_len, sig_len, der_len = 0, width;
    unsigned char sig[B64_DECODED_CAP(B64_ENCODED_CAP(JWT_SIG_MAX))];
    unsigned char *der = NULL;
    const struct sign_key *key;
    json_t *header = NULL, *payload = NULL;
    EVP_MD_CTX *ctx = NULL;
    int r = DH_ERR_INVALID;

    *claims = NULL;
    if (!ring || !token || len == 0 || len > JWT_MAX_LEN)
        return DH_ERR_INVALID;
    dot1 = memchr(token, '.', len);
    if (!dot1)
        return DH_ERR_INVALID;
    dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token));
    if (!dot2)
        return DH_ERR_INVALID;
    sig64 = dot2 + 1;
    sig64_len = len - (size_t)(sig64 - token);
    if (sig64_len == 0 || sig64_len > B64_ENCODED_CAP(JWT_SIG_MAX))
        return DH_ERR_INVALID;

    header = segment_object(token, (size_t)(dot1 - token));
    if (!header)
        goto out;
    key = header_key(ring, header);
    if (!key)
        goto out;

    /* A third '.' or any other stray byte makes the signature fail to decode. */
    if (b64url_decode(sig64, sig64_len, sig, &sig_len) < 0)
        goto out;
    width = ecdsa_width(key->alg);
    if (width) {
        if (sig_len != 2 * width || raw_to_ecdsa_der(sig, width, &der, &der_len) < 0)
            goto out;
    } else if (sig_len != (size_t)EVP_PKEY_get_size(key->pkey)) {
        goto out;
    }

    ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestVerifyInit(ctx, NULL, jwt_md(key->alg), NULL, key->pkey) != 1 ||
        EVP_DigestVerify(ctx, der ? der : sig, der ? der_len : sig_len,
                         (const unsigned char *)token, (size_t)(dot2 - token)) != 1)
        goto out;

    payload = segment_object(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (!payload)
        goto out;
    *claims = payload;
    r = 0;
out:
    OPENSSL_free(der);
    EVP_MD_CTX_free(ctx);
    json_decref(header);
    ERR_clear_error();
    return r;
}
