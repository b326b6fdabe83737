#include "dockhand/jwt.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "dockhand/encoding.h"

#define JWT_SIG_MAX 1024 /* an RSA-8192 signature; ECDSA DER is far shorter */

static const EVP_MD *jwt_md(enum key_alg alg)
{
    return alg == KEY_ES384 ? EVP_sha384() : EVP_sha256();
}

/* ---- signing contexts, one set per thread ---------------------------------------------
 *
 * EVP_DigestSignInit looks the signature and digest algorithms up in the provider tables
 * and builds a new context for every token: a fifth of a signature's cost in the warm
 * path's profile. Each thread instead keeps, per key, an EVP_PKEY_CTX made ready for
 * signing once (EVP_PKEY_sign can be called on it again and again), and one digest
 * context over explicitly fetched digests; the token is hashed, then its digest signed.
 * Keys are never freed while threads sign (an old ring stays until exit), so a key's
 * address names it; a thread's contexts are freed when it ends. */

#define SIGN_CTX_PER_THREAD 4 /* keys a thread signs with at once (a reload adds one) */

struct sign_tls {
    struct {
        const EVP_PKEY *pkey;
        EVP_PKEY_CTX *ctx;
    } key[SIGN_CTX_PER_THREAD];
    size_t next; /* the slot a new key takes */
    EVP_MD_CTX *md;
};

static pthread_key_t sign_tls_key;
static pthread_once_t sign_once = PTHREAD_ONCE_INIT;
static bool sign_tls_ok;
static EVP_MD *md_sha256, *md_sha384;

static void sign_tls_free(void *arg)
{
    struct sign_tls *t = arg;
    for (size_t i = 0; i < SIGN_CTX_PER_THREAD; i++)
        EVP_PKEY_CTX_free(t->key[i].ctx);
    EVP_MD_CTX_free(t->md);
    free(t);
}

static void sign_init_once(void)
{
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    md_sha384 = EVP_MD_fetch(NULL, "SHA384", NULL);
    sign_tls_ok = md_sha256 && md_sha384 && pthread_key_create(&sign_tls_key, sign_tls_free) == 0;
}

/* This thread's context for signing with key, made on first use; NULL on failure. */
static EVP_PKEY_CTX *sign_ctx(const struct sign_key *key, EVP_MD_CTX **md_ctx, const EVP_MD **md)
{
    pthread_once(&sign_once, sign_init_once);
    if (!sign_tls_ok)
        return NULL;
    struct sign_tls *t = pthread_getspecific(sign_tls_key);
    if (!t) {
        t = calloc(1, sizeof(*t));
        if (!t || !(t->md = EVP_MD_CTX_new()) || pthread_setspecific(sign_tls_key, t) != 0) {
            if (t)
                EVP_MD_CTX_free(t->md);
            free(t);
            return NULL;
        }
    }
    *md_ctx = t->md;
    *md = key->alg == KEY_ES384 ? md_sha384 : md_sha256;
    for (size_t i = 0; i < SIGN_CTX_PER_THREAD; i++)
        if (t->key[i].pkey == key->pkey)
            return t->key[i].ctx;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
    if (!ctx || EVP_PKEY_sign_init(ctx) != 1 ||
        (key->alg == KEY_RS256 && (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
                                   EVP_PKEY_CTX_set_signature_md(ctx, *md) != 1))) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    size_t slot = t->next++ % SIGN_CTX_PER_THREAD;
    EVP_PKEY_CTX_free(t->key[slot].ctx);
    t->key[slot].pkey = key->pkey;
    t->key[slot].ctx = ctx;
    return ctx;
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
    unsigned char sig[JWT_SIG_MAX + 16], raw[2 * 48];
    const unsigned char *final_sig = sig;
    size_t sig_len = sizeof(sig), width = ecdsa_width(key->alg), cap, o;
    char *tok = NULL;
    int r = DH_ERR_CRYPTO;

    *out = NULL;
    if (claims_len > JWT_MAX_LEN)
        return DH_ERR_NOMEM;
    if (key->jws_header_len == 0)
        return DH_ERR_CRYPTO; /* not a key from keyring_load */
    cap = key->jws_header_len + 1 + B64_ENCODED_CAP(claims_len) + B64_ENCODED_CAP(JWT_SIG_MAX);
    tok = malloc(cap);
    if (!tok)
        return DH_ERR_NOMEM;
    memcpy(tok, key->jws_header, key->jws_header_len);
    o = key->jws_header_len;
    tok[o++] = '.';
    o += b64url_encode(claims, claims_len, tok + o);

    EVP_MD_CTX *md_ctx = NULL;
    const EVP_MD *md = NULL;
    EVP_PKEY_CTX *ctx = sign_ctx(key, &md_ctx, &md);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    if (!ctx || EVP_DigestInit_ex2(md_ctx, md, NULL) != 1 ||
        EVP_DigestUpdate(md_ctx, tok, o) != 1 ||
        EVP_DigestFinal_ex(md_ctx, digest, &digest_len) != 1 ||
        EVP_PKEY_sign(ctx, sig, &sig_len, digest, digest_len) != 1)
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
    free(tok);
    ERR_clear_error();
    return r;
}

json_t *jwt_segment_object(const char *seg, size_t len)
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

    header = jwt_segment_object(token, (size_t)(dot1 - token));
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

    payload = jwt_segment_object(dot1 + 1, (size_t)(dot2 - dot1 - 1));
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
