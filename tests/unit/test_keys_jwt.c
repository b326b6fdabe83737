/* Unit tests for src/keys.c and src/jwt.c. Keys are generated into a temporary directory
 * and removed at the end; tokens are checked with OpenSSL directly and with libjwt. */
#include "check.h"
#include "jwt_check.h"

#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jwt.h> /* libjwt, as an independent verifier */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "dockhand/encoding.h"
#include "dockhand/jwt.h"
#include "dockhand/keys.h"

static char tmp_root[2048];

static const char claims_json[] =
    "{\"iss\":\"dockhand\",\"sub\":\"robot$ci\",\"aud\":\"dockhand-registry\","
    "\"exp\":1900000000,\"nbf\":1700000000,\"iat\":1700000000,\"jti\":\"abc\","
    "\"access\":[{\"type\":\"repository\",\"name\":\"library/app\",\"actions\":[\"pull\"]}]}";

/* ---- helpers ---------------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Paths in the test tree are short; a truncated one is a broken test, not a result. */
static void path_of(char *out, size_t cap, const char *dir, const char *name, const char *ext)
{
    int n = snprintf(out, cap, "%s/%s%s", dir, name, ext);

    if (n < 0 || (size_t)n >= cap)
        abort();
}

static void path_in(char *out, size_t cap, const char *sub)
{
    path_of(out, cap, tmp_root, sub, "");
}

static void mkdir_in(char *out, size_t cap, const char *sub)
{
    path_in(out, cap, sub);
    if (mkdir(out, 0700) != 0) {
        perror(out);
        exit(2);
    }
}

static EVP_PKEY *cert_pubkey(const char *path)
{
    FILE *f = fopen(path, "r");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    EVP_PKEY *k = x ? X509_get_pubkey(x) : NULL;

    X509_free(x);
    if (f)
        fclose(f);
    return k;
}

/* The kid by the pipeline the registry's operators would use:
 * openssl x509 -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary,
 * first 30 bytes, base32, groups of four. */
static bool pipeline_kid(const char *crt, char out[60])
{
    char cmd[8192], b32[64];
    unsigned char md[64];
    size_t n, o = 0;
    FILE *p;

    snprintf(cmd, sizeof(cmd),
             "openssl x509 -pubkey -noout -in '%s' | openssl pkey -pubin -outform DER | "
             "openssl dgst -sha256 -binary",
             crt);
    p = popen(cmd, "r");
    if (!p)
        return false;
    n = fread(md, 1, sizeof(md), p);
    if (pclose(p) != 0 || n != 32)
        return false;
    base32_encode(md, 30, b32);
    for (size_t i = 0; i < 48; i += 4) {
        if (i)
            out[o++] = ':';
        memcpy(out + o, b32 + i, 4);
        o += 4;
    }
    out[o] = '\0';
    return true;
}

static bool kid_shape_ok(const char *kid)
{
    if (strlen(kid) != 59)
        return false;
    for (size_t i = 0; i < 59; ++i) {
        char c = kid[i];
        if (i % 5 == 4 ? c != ':' : !((c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7')))
            return false;
    }
    return true;
}

static unsigned char *b64url_dec(const char *s, size_t len, size_t *n)
{
    unsigned char *out = malloc(B64_DECODED_CAP(len));

    if (out && b64url_decode(s, len, out, n) != 0) {
        free(out);
        out = NULL;
    }
    return out;
}

static char *b64url_enc(const void *p, size_t len)
{
    char *out = malloc(B64_ENCODED_CAP(len));

    if (!out)
        abort();
    b64url_encode(p, len, out);
    return out;
}

static size_t count_char(const char *s, char c)
{
    size_t n = 0;

    for (; *s; ++s)
        n += *s == c;
    return n;
}

/* libjwt 1.10 verifies the token with the certificate's public key. */
static bool libjwt_verifies(const char *tok, EVP_PKEY *pub)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem;
    long len;
    jwt_t *j = NULL;
    bool ok = false;

    if (!bio || PEM_write_bio_PUBKEY(bio, pub) != 1)
        goto out;
    len = BIO_get_mem_data(bio, &pem);
    if (jwt_decode(&j, tok, (const unsigned char *)pem, (int)len) != 0)
        goto out;
    ok = jwt_get_grant(j, "sub") && strcmp(jwt_get_grant(j, "sub"), "robot$ci") == 0;
out:
    jwt_free(j);
    BIO_free(bio);
    return ok;
}

/* Signs header.payload (JSON texts) with key directly through OpenSSL, so that each
 * rejection test below breaks exactly one thing while the signature stays valid. */
static char *forge(const struct sign_key *k, const char *header, const char *payload)
{
    char *h = b64url_enc(header, strlen(header)), *p = b64url_enc(payload, strlen(payload));
    size_t width = k->alg == KEY_ES256 ? 32 : k->alg == KEY_ES384 ? 48 : 0;
    size_t tbs_len = strlen(h) + 1 + strlen(p), sig_len = 2048;
    char *tok = malloc(tbs_len + 4096), *s;
    unsigned char sig[2048], raw[96];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    if (!tok || !ctx)
        abort();
    snprintf(tok, tbs_len + 1, "%s.%s", h, p);
    if (EVP_DigestSignInit(ctx, NULL, width == 48 ? EVP_sha384() : EVP_sha256(), NULL, k->pkey) !=
            1 ||
        EVP_DigestSign(ctx, sig, &sig_len, (unsigned char *)tok, tbs_len) != 1)
        abort();
    if (width) {
        const unsigned char *q = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)sig_len);
        if (!es)
            abort();
        BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, (int)width);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + width, (int)width);
        ECDSA_SIG_free(es);
        s = b64url_enc(raw, 2 * width);
    } else {
        s = b64url_enc(sig, sig_len);
    }
    snprintf(tok + tbs_len, 4096, ".%s", s);
    free(s);
    free(h);
    free(p);
    EVP_MD_CTX_free(ctx);
    return tok;
}

/* Replaces part i of tok by the raw (already encoded) text part. */
static char *with_part(const char *tok, int i, const char *part)
{
    const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
    size_t cap = strlen(tok) + strlen(part) + 4;
    char *out = malloc(cap);

    if (!out)
        abort();
    if (i == 0)
        snprintf(out, cap, "%s%s", part, d1);
    else if (i == 1)
        snprintf(out, cap, "%.*s.%s%s", (int)(d1 - tok), tok, part, d2);
    else
        snprintf(out, cap, "%.*s.%s", (int)(d2 - tok), tok, part);
    return out;
}

static bool verify_ok(const struct keyring *ring, const char *tok)
{
    json_t *c = NULL;
    int r = jwt_verify(ring, tok, strlen(tok), &c);
    bool ok = r == 0 && json_is_object(c);

    json_decref(c);
    return ok;
}

static bool verify_invalid(const struct keyring *ring, const char *tok, size_t len)
{
    json_t *c = (json_t *)0x1;
    int r = jwt_verify(ring, tok, len, &c);

    return r == DH_ERR_INVALID && c == NULL;
}

/* A self-signed certificate for pkey with notBefore offset seconds from now. */
static X509 *test_cert(EVP_PKEY *pkey, long offset, const EVP_MD *md)
{
    X509 *x = X509_new();
    X509_NAME *nm;

    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 42);
    X509_gmtime_adj(X509_getm_notBefore(x), offset);
    X509_gmtime_adj(X509_getm_notAfter(x), offset + 30L * 86400);
    nm = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"test", -1, -1, 0);
    X509_set_issuer_name(x, nm);
    X509_set_pubkey(x, pkey);
    if (X509_sign(x, pkey, md) <= 0)
        abort();
    return x;
}

/* Writes dir/name.key and dir/name.crt; pass is non-NULL for an encrypted key. */
static void write_pair(const char *dir, const char *name, EVP_PKEY *pkey, X509 *cert,
                       const char *pass)
{
    char path[4096];
    FILE *f;

    path_of(path, sizeof(path), dir, name, ".key");
    f = fopen(path, "w");
    if (!f || PEM_write_PrivateKey(f, pkey, pass ? EVP_aes_256_cbc() : NULL, (unsigned char *)pass,
                                   pass ? (int)strlen(pass) : 0, NULL, NULL) != 1)
        abort();
    fclose(f);
    path_of(path, sizeof(path), dir, name, ".crt");
    f = fopen(path, "w");
    if (!f || PEM_write_X509(f, cert) != 1)
        abort();
    fclose(f);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (!f)
        abort();
    fputs(text, f);
    fclose(f);
}

static bool jwks_member_is(json_t *jwk, const char *member, const char *want)
{
    json_t *v = json_object_get(jwk, member);

    return json_is_string(v) && strcmp(json_string_value(v), want) == 0;
}

/* Rebuilds the public key from a JWK's numbers. */
static EVP_PKEY *jwk_to_pkey(json_t *jwk)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pk = NULL;
    unsigned char *a = NULL, *b = NULL, point[1 + 2 * 48];
    BIGNUM *bn_a = NULL, *bn_b = NULL;
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *sa, *sb;
    size_t alen = 0, blen = 0;
    bool rsa = kty && strcmp(kty, "RSA") == 0;

    sa = json_string_value(json_object_get(jwk, rsa ? "n" : "x"));
    sb = json_string_value(json_object_get(jwk, rsa ? "e" : "y"));
    if (!sa || !sb || !(a = b64url_dec(sa, strlen(sa), &alen)) ||
        !(b = b64url_dec(sb, strlen(sb), &blen)))
        goto out;
    if (rsa) {
        bn_a = BN_bin2bn(a, (int)alen, NULL);
        bn_b = BN_bin2bn(b, (int)blen, NULL);
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_a);
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_b);
    } else {
        const char *crv = json_string_value(json_object_get(jwk, "crv"));
        size_t w = crv && strcmp(crv, "P-384") == 0 ? 48 : 32;

        if (alen != w || blen != w)
            goto out;
        point[0] = 0x04;
        memcpy(point + 1, a, w);
        memcpy(point + 1 + w, b, w);
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                        w == 48 ? "secp384r1" : "prime256v1", 0);
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * w);
    }
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, rsa ? "RSA" : "EC", NULL);
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pk = NULL;
out:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_a);
    BN_free(bn_b);
    free(a);
    free(b);
    return pk;
}

/* The RFC 7638 thumbprint computed here from the published JWK's members. */
static bool thumbprint_from_jwk(json_t *jwk, char out[44])
{
    char canon[2048];
    unsigned char md[32];
    const char *kty = json_string_value(json_object_get(jwk, "kty"));

    if (!kty)
        return false;
    if (strcmp(kty, "RSA") == 0)
        snprintf(canon, sizeof(canon), "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}",
                 json_string_value(json_object_get(jwk, "e")),
                 json_string_value(json_object_get(jwk, "n")));
    else
        snprintf(canon, sizeof(canon), "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
                 json_string_value(json_object_get(jwk, "crv")),
                 json_string_value(json_object_get(jwk, "x")),
                 json_string_value(json_object_get(jwk, "y")));
    if (EVP_Digest(canon, strlen(canon), md, NULL, EVP_sha256(), NULL) != 1)
        return false;
    b64url_encode(md, sizeof(md), out);
    return true;
}

/* tmpl with its "%s" replaced by kid. */
static const char *fill_kid(char *out, size_t cap, const char *tmpl, const char *kid)
{
    const char *at = strstr(tmpl, "%s");

    if (at)
        snprintf(out, cap, "%.*s%s%s", (int)(at - tmpl), tmpl, kid, at + 2);
    else
        snprintf(out, cap, "%s", tmpl);
    return out;
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_alg(const char *alg, enum key_alg want_alg, size_t sig_bytes, const char *crv,
                     size_t coord_bytes)
{
    char dir[4096], name[64], path[4096], kid[60], thumb[44], hdr_want[256];
    struct keyring *ring = NULL, *tring = NULL;
    EVP_PKEY *pub;
    struct stat st;
    char *tok = NULL, *tok2 = NULL, *bad;
    char *part;
    size_t n;
    json_t *claims = NULL, *jwks, *jwk;
    BIO *bio;
    X509 *x;

    printf("# %s\n", alg);
    path_in(dir, sizeof(dir), alg); /* does not exist yet: keys_generate creates it */
    CHECK(keys_generate(dir, alg, "dockhand test", 30, name, sizeof(name)) == 0);
    CHECK(strncmp(name, "dockhand-", 9) == 0 && strlen(name) == 25 && name[24] == 'Z');
    CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700);
    path_of(path, sizeof(path), dir, name, ".key");
    CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600);
    path_of(path, sizeof(path), dir, name, ".crt");
    CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode));

    CHECK(keyring_load(dir, KID_LIBTRUST, &ring) == 0);
    if (!ring)
        return;
    CHECK(ring->n == 1);
    CHECK(ring->keys[0].alg == want_alg);
    CHECK_STR(key_alg_name(ring->keys[0].alg), alg);
    CHECK_STR(ring->keys[0].name, name);
    CHECK(llabs((long long)(ring->keys[0].not_before - time(NULL))) < 120);
    CHECK(kid_shape_ok(ring->keys[0].kid));
    CHECK(pipeline_kid(path, kid));
    CHECK_STR(ring->keys[0].kid, kid);
    CHECK(keyring_find(ring, kid) == &ring->keys[0]);
    CHECK(key_kid_libtrust(ring->keys[0].pkey, kid, 59) == DH_ERR_INVALID);

    /* The certificate: self-signed, our CN, the key's own public key. */
    pub = cert_pubkey(path);
    CHECK(pub && EVP_PKEY_eq(pub, ring->keys[0].pkey) == 1);
    {
        FILE *f = fopen(path, "r");
        x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
        if (f)
            fclose(f);
        CHECK(x && X509_verify(x, pub) == 1);
        CHECK(x && X509_check_issued(x, x) == X509_V_OK);
        CHECK(x && X509_cmp_time(X509_get0_notAfter(x), NULL) > 0);
        X509_free(x);
    }

    /* Sign, then verify three ways. */
    CHECK(jwt_sign(&ring->keys[0], claims_json, strlen(claims_json), &tok) == 0);
    if (!tok)
        abort();
    CHECK(count_char(tok, '.') == 2 && !strchr(tok, '=') && !strchr(tok, '+'));
    part = jwt_check_part(tok, 0, &n);
    snprintf(hdr_want, sizeof(hdr_want), "{\"typ\":\"JWT\",\"alg\":\"%s\",\"kid\":\"%s\"}", alg,
             ring->keys[0].kid);
    CHECK_STR(part, hdr_want);
    free(part);
    part = jwt_check_part(tok, 1, &n);
    CHECK_STR(part, claims_json);
    free(part);
    part = jwt_check_part(tok, 2, &n);
    CHECK(part && n == sig_bytes);
    free(part);
    CHECK(jwt_check_openssl(tok, pub, alg));
    CHECK(libjwt_verifies(tok, pub));
    CHECK(jwt_verify(ring, tok, strlen(tok), &claims) == 0);
    CHECK_STR(json_string_value(json_object_get(claims, "sub")), "robot$ci");
    CHECK(json_integer_value(json_object_get(claims, "exp")) == 1900000000);
    CHECK(json_array_size(json_object_get(claims, "access")) == 1);
    json_decref(claims);

    /* ECDSA signatures are randomised; both verify. */
    CHECK(jwt_sign(&ring->keys[0], claims_json, strlen(claims_json), &tok2) == 0);
    CHECK(tok2 && verify_ok(ring, tok2));
    free(tok2);

    /* Tampering with any part breaks it. */
    bad = strdup(tok);
    bad[strchr(bad, '.') - bad + 5] ^= 1;
    CHECK(verify_invalid(ring, bad, strlen(bad)));
    CHECK(!jwt_check_openssl(bad, pub, alg));
    free(bad);
    bad = strdup(tok);
    bad[strrchr(bad, '.') - bad + 3] = bad[strrchr(bad, '.') - bad + 3] == 'A' ? 'B' : 'A';
    CHECK(verify_invalid(ring, bad, strlen(bad)));
    free(bad);
    {
        char *other = b64url_enc("{\"sub\":\"robot$admin\"}", 21);
        bad = with_part(tok, 1, other);
        CHECK(verify_invalid(ring, bad, strlen(bad)));
        free(bad);
        free(other);
    }
    /* A strict prefix of the token. */
    CHECK(verify_invalid(ring, tok, strlen(tok) - 1));

    /* JWKS: the numbers rebuild the certificate's key. */
    jwks = json_loads(ring->jwks_json, 0, NULL);
    jwk = json_array_get(json_object_get(jwks, "keys"), 0);
    CHECK(json_array_size(json_object_get(jwks, "keys")) == 1);
    CHECK(jwks_member_is(jwk, "kid", ring->keys[0].kid));
    CHECK(jwks_member_is(jwk, "alg", alg));
    CHECK(jwks_member_is(jwk, "use", "sig"));
    if (crv) {
        const char *xs = json_string_value(json_object_get(jwk, "x"));
        CHECK(jwks_member_is(jwk, "kty", "EC"));
        CHECK(jwks_member_is(jwk, "crv", crv));
        CHECK(xs && strlen(xs) == (coord_bytes * 8 + 5) / 6);
        CHECK(json_object_get(jwk, "n") == NULL && json_object_get(jwk, "d") == NULL);
    } else {
        CHECK(jwks_member_is(jwk, "kty", "RSA"));
        CHECK(jwks_member_is(jwk, "e", "AQAB"));
        CHECK(json_object_get(jwk, "crv") == NULL && json_object_get(jwk, "d") == NULL &&
              json_object_get(jwk, "p") == NULL);
    }
    {
        EVP_PKEY *rebuilt = jwk_to_pkey(jwk);
        CHECK(rebuilt && EVP_PKEY_eq(rebuilt, pub) == 1);
        EVP_PKEY_free(rebuilt);
    }
    CHECK(thumbprint_from_jwk(jwk, thumb));

    /* certs.pem holds exactly this certificate. */
    bio = BIO_new_mem_buf(ring->certs_pem, -1);
    x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    CHECK(x && X509_cmp(x, ring->keys[0].cert) == 0);
    X509_free(x);
    x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    CHECK(x == NULL);
    X509_free(x);
    BIO_free(bio);
    CHECK(strstr(ring->certs_pem, "PRIVATE") == NULL);

    /* The RFC 7638 kid: same key, other name; tokens name the kid they were made with. */
    CHECK(keyring_load(dir, KID_JWK_THUMBPRINT, &tring) == 0);
    if (tring) {
        char kid2[64];

        CHECK(strlen(tring->keys[0].kid) == 43);
        CHECK_STR(tring->keys[0].kid, thumb);
        CHECK(key_kid_thumbprint(tring->keys[0].pkey, kid2, sizeof(kid2)) == 0);
        CHECK_STR(kid2, thumb);
        CHECK(verify_invalid(tring, tok, strlen(tok)));
        CHECK(jwt_sign(&tring->keys[0], claims_json, strlen(claims_json), &tok2) == 0);
        CHECK(tok2 && verify_ok(tring, tok2));
        CHECK(tok2 && verify_invalid(ring, tok2, strlen(tok2)));
        CHECK(tok2 && jwt_check_openssl(tok2, pub, alg));
        CHECK(tok2 && libjwt_verifies(tok2, pub));
        free(tok2);
        tok2 = NULL;
    }

    json_decref(jwks);
    keyring_free(tring);
    keyring_free(ring);
    EVP_PKEY_free(pub);
    free(tok);
}

static void test_cross_alg(void)
{
    char d256[4096], d384[4096], drsa[4096];
    struct keyring *r256 = NULL, *r384 = NULL, *rrsa = NULL;
    char *t = NULL;

    path_in(d256, sizeof(d256), "ES256");
    path_in(d384, sizeof(d384), "ES384");
    path_in(drsa, sizeof(drsa), "RS256");
    if (keyring_load(d256, KID_LIBTRUST, &r256) || keyring_load(d384, KID_LIBTRUST, &r384) ||
        keyring_load(drsa, KID_LIBTRUST, &rrsa))
        abort();
    /* Each ring knows only its own key. */
    CHECK(jwt_sign(&r384->keys[0], "{}", 2, &t) == 0);
    CHECK(verify_ok(r384, t));
    CHECK(verify_invalid(r256, t, strlen(t)));
    CHECK(verify_invalid(rrsa, t, strlen(t)));
    free(t);

    /* A token whose header names the RSA key's kid but carries an ES256 signature (as RS256
     * and as ES256): neither alg confusion works. */
    {
        char h[256];
        snprintf(h, sizeof(h), "{\"typ\":\"JWT\",\"alg\":\"RS256\",\"kid\":\"%s\"}",
                 rrsa->keys[0].kid);
        t = forge(&r256->keys[0], h, "{}");
        CHECK(verify_invalid(rrsa, t, strlen(t)));
        free(t);
        snprintf(h, sizeof(h), "{\"typ\":\"JWT\",\"alg\":\"ES256\",\"kid\":\"%s\"}",
                 rrsa->keys[0].kid);
        t = forge(&r256->keys[0], h, "{}");
        CHECK(verify_invalid(rrsa, t, strlen(t)));
        free(t);
    }
    /* Empty claims are fine for signing; JSON well-formedness is the caller's. */
    CHECK(jwt_sign(&rrsa->keys[0], "{}", 2, &t) == 0);
    CHECK(verify_ok(rrsa, t));
    free(t);

    keyring_free(r256);
    keyring_free(r384);
    keyring_free(rrsa);
}

static void test_verify_strict(void)
{
    char dir[4096], h[512], *t;
    struct keyring *ring = NULL;
    const struct sign_key *k;
    const char *kid;
    char *big;

    path_in(dir, sizeof(dir), "ES256");
    if (keyring_load(dir, KID_LIBTRUST, &ring) != 0)
        abort();
    k = &ring->keys[0];
    kid = k->kid;

#define HDR(tmpl) fill_kid(h, sizeof(h), tmpl, kid)
    /* Positive controls for the forging helper: our header, without typ, typ in lower case. */
    t = forge(k, HDR("{\"typ\":\"JWT\",\"alg\":\"ES256\",\"kid\":\"%s\"}"), "{\"a\":1}");
    CHECK(verify_ok(ring, t));
    free(t);
    t = forge(k, HDR("{\"alg\":\"ES256\",\"kid\":\"%s\"}"), "{\"a\":1}");
    CHECK(verify_ok(ring, t));
    free(t);
    t = forge(k, HDR("{\"typ\":\"jwt\",\"kid\":\"%s\",\"alg\":\"ES256\"}"), "{}");
    CHECK(verify_ok(ring, t));
    free(t);

    /* Validly signed, but each has one thing wrong. */
    static const char *const bad_headers[] = {
        "{\"typ\":\"JWT\",\"alg\":\"ES384\",\"kid\":\"%s\"}",
        "{\"typ\":\"JWT\",\"alg\":\"es256\",\"kid\":\"%s\"}",
        "{\"typ\":\"JWT\",\"alg\":\"HS256\",\"kid\":\"%s\"}",
        "{\"typ\":\"JWT\",\"alg\":\"none\",\"kid\":\"%s\"}",
        "{\"typ\":\"JWT\",\"kid\":\"%s\"}",
        "{\"typ\":\"JWT\",\"alg\":null,\"kid\":\"%s\"}",
        "{\"typ\":\"JWT\",\"alg\":[\"ES256\"],\"kid\":\"%s\"}",
        "{\"typ\":\"JOSE\",\"alg\":\"ES256\",\"kid\":\"%s\"}",
        "{\"typ\":1,\"alg\":\"ES256\",\"kid\":\"%s\"}",
        "{\"typ\":\"JWT\",\"alg\":\"ES256\",\"kid\":\"%sX\"}",
        "{\"typ\":\"JWT\",\"alg\":\"ES256\",\"kid\":\"x%s\"}",
        "{\"typ\":\"JWT\",\"alg\":\"ES256\",\"kid\":\"%s\",\"crit\":[\"exp\"]}",
        "{\"typ\":\"JWT\",\"alg\":\"ES256\",\"alg\":\"ES256\",\"kid\":\"%s\"}",
        "{\"typ\":\"JWT\",\"alg\":\"ES256\",\"kid\":\"%s\",\"kid\":\"other\"}",
        "[\"ES256\",\"%s\"]",
        "\"%s\"",
        "{\"typ\":\"JWT\",\"alg\":\"ES256\",\"kid\":\"%s\"",
        "{\"typ\":\"JWT\",\"alg\":\"ES256\",\"kid\":\"%s\"}x",
    };
    for (size_t i = 0; i < DH_ARRAY_SIZE(bad_headers); ++i) {
        t = forge(k, HDR(bad_headers[i]), "{}");
        ++check_n;
        if (verify_invalid(ring, t, strlen(t))) {
            printf("ok %d - bad header %zu refused\n", check_n, i);
        } else {
            ++check_failed;
            printf("not ok %d - bad header %zu accepted: %s\n", check_n, i, h);
        }
        free(t);
    }
    t = forge(k, "{\"typ\":\"JWT\",\"alg\":\"ES256\"}", "{}");
    CHECK(verify_invalid(ring, t, strlen(t)));
    free(t);
    t = forge(k, "{\"typ\":\"JWT\",\"alg\":\"ES256\",\"kid\":7}", "{}");
    CHECK(verify_invalid(ring, t, strlen(t)));
    free(t);

    /* Validly signed payloads that are no claims object. */
    static const char *const bad_payloads[] = {
        "[1,2]",
        "\"sub\"",
        "42",
        "null",
        "",
        "{",
        "{\"a\":1}x",
        "{\"sub\":\"a\",\"sub\":\"b\"}",
        "{\"sub\":\"a\\u0000b\"}",
        "{\"sub\":\"\xff\"}",
    };
    for (size_t i = 0; i < DH_ARRAY_SIZE(bad_payloads); ++i) {
        t = forge(k, HDR("{\"typ\":\"JWT\",\"alg\":\"ES256\",\"kid\":\"%s\"}"), bad_payloads[i]);
        ++check_n;
        if (verify_invalid(ring, t, strlen(t))) {
            printf("ok %d - bad payload %zu refused\n", check_n, i);
        } else {
            ++check_failed;
            printf("not ok %d - bad payload %zu accepted\n", check_n, i);
        }
        free(t);
    }

    /* alg "none" with no signature at all. */
    {
        char *hh = b64url_enc(HDR("{\"typ\":\"JWT\",\"alg\":\"none\",\"kid\":\"%s\"}"), strlen(h));
        char *pp = b64url_enc("{\"sub\":\"x\"}", 11);
        char tok[1024];

        snprintf(tok, sizeof(tok), "%s.%s.", hh, pp);
        CHECK(verify_invalid(ring, tok, strlen(tok)));
        snprintf(tok, sizeof(tok), "%s.%s", hh, pp);
        CHECK(verify_invalid(ring, tok, strlen(tok)));
        free(hh);
        free(pp);
    }

    /* Malformed shapes and encodings around a good token. */
    t = forge(k, HDR("{\"typ\":\"JWT\",\"alg\":\"ES256\",\"kid\":\"%s\"}"), "{\"a\":1}");
    {
        const char *d1 = strchr(t, '.'), *d2 = strrchr(t, '.');
        size_t len = strlen(t);
        char buf[2048];
        unsigned char raw[80];
        size_t rn;
        char *sig, *tt;

        CHECK(verify_invalid(ring, "", 0));
        CHECK(verify_invalid(ring, "abc", 3));
        CHECK(verify_invalid(ring, "..", 2));
        CHECK(verify_invalid(ring, "a.b", 3));
        CHECK(verify_invalid(ring, "a.b.c", 5));
        /* Extra part. */
        snprintf(buf, sizeof(buf), "%s.%s", t, d2 + 1);
        CHECK(verify_invalid(ring, buf, strlen(buf)));
        /* Empty header or payload. */
        snprintf(buf, sizeof(buf), "%s", d1);
        CHECK(verify_invalid(ring, buf, strlen(buf)));
        snprintf(buf, sizeof(buf), "%.*s.%s", (int)(d1 - t), t, d2);
        CHECK(verify_invalid(ring, buf, strlen(buf)));
        /* Padding, standard-alphabet characters, whitespace, NUL. */
        snprintf(buf, sizeof(buf), "%s=", t);
        CHECK(verify_invalid(ring, buf, strlen(buf)));
        snprintf(buf, sizeof(buf), "%.*s=%s", (int)(d1 - t), t, d1);
        CHECK(verify_invalid(ring, buf, strlen(buf)));
        snprintf(buf, sizeof(buf), "%s", t);
        for (char *c = buf + (d2 - t); *c; ++c)
            if (*c == '-' || *c == '_')
                *c = *c == '-' ? '+' : '/';
        CHECK(strcmp(buf, t) == 0 || verify_invalid(ring, buf, strlen(buf)));
        snprintf(buf, sizeof(buf), " %s", t);
        CHECK(verify_invalid(ring, buf, strlen(buf)));
        snprintf(buf, sizeof(buf), "%s\n", t);
        CHECK(verify_invalid(ring, buf, len + 1));
        memcpy(buf, t, len + 1);
        buf[len] = '\0';
        CHECK(verify_invalid(ring, buf, len + 1)); /* NUL inside the length */
        buf[10] = '\0';
        CHECK(verify_invalid(ring, buf, len));
        /* The token itself is fine. */
        CHECK(verify_ok(ring, t));

        /* Signatures of the wrong length or value. */
        if (b64url_decode(d2 + 1, strlen(d2 + 1), raw, &rn) != 0 || rn != 64)
            abort();
        sig = b64url_enc(raw, 63);
        tt = with_part(t, 2, sig);
        CHECK(verify_invalid(ring, tt, strlen(tt)));
        free(tt);
        free(sig);
        raw[64] = 0;
        sig = b64url_enc(raw, 65);
        tt = with_part(t, 2, sig);
        CHECK(verify_invalid(ring, tt, strlen(tt)));
        free(tt);
        free(sig);
        memset(raw, 0, 64);
        sig = b64url_enc(raw, 64);
        tt = with_part(t, 2, sig);
        CHECK(verify_invalid(ring, tt, strlen(tt)));
        free(tt);
        free(sig);
        memset(raw, 0xff, 64);
        sig = b64url_enc(raw, 64);
        tt = with_part(t, 2, sig);
        CHECK(verify_invalid(ring, tt, strlen(tt)));
        free(tt);
        free(sig);
        /* A DER signature where R‖S belongs. */
        {
            unsigned char der[80] = {0x30, 0x44, 0x02, 0x20};
            sig = b64url_enc(der, 70);
            tt = with_part(t, 2, sig);
            CHECK(verify_invalid(ring, tt, strlen(tt)));
            free(tt);
            free(sig);
        }
    }
    free(t);

    /* Over JWT_MAX_LEN: refused before anything is decoded. */
    big = malloc(JWT_MAX_LEN + 2);
    if (!big)
        abort();
    memset(big, 'A', JWT_MAX_LEN + 1);
    big[100] = big[200] = '.';
    big[JWT_MAX_LEN + 1] = '\0';
    CHECK(verify_invalid(ring, big, JWT_MAX_LEN + 1));
    /* A big but signed token within the limit still verifies. */
    {
        size_t plen = JWT_MAX_LEN / 2;
        char *payload = malloc(plen + 16);
        char *tok = NULL;

        if (!payload)
            abort();
        memcpy(payload, "{\"pad\":\"", 8);
        memset(payload + 8, 'x', plen);
        memcpy(payload + 8 + plen, "\"}", 3);
        CHECK(jwt_sign(k, payload, strlen(payload), &tok) == 0);
        CHECK(tok && strlen(tok) <= JWT_MAX_LEN && verify_ok(ring, tok));
        free(tok);
        free(payload);
    }
    free(big);

    /* Arguments. */
    {
        json_t *c = NULL;
        CHECK(jwt_verify(NULL, "a.b.c", 5, &c) == DH_ERR_INVALID);
        CHECK(jwt_verify(ring, NULL, 0, &c) == DH_ERR_INVALID);
    }
#undef HDR
    keyring_free(ring);
}

static void test_ordering(void)
{
    char dir[4096], newest[64], second[64];
    struct keyring *ring = NULL;
    EVP_PKEY *old;
    X509 *oldcert;
    BIO *bio;
    X509 *x;
    json_t *jwks;
    char *t = NULL;

    /* An old key (notBefore two days ago) whose name sorts after the generated one, so
     * only notBefore can put it second. */
    mkdir_in(dir, sizeof(dir), "two");
    old = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    oldcert = test_cert(old, -2L * 86400, EVP_sha256());
    write_pair(dir, "zzz-old", old, oldcert, NULL);
    CHECK(keys_generate(dir, "ES256", "dockhand test", 30, newest, sizeof(newest)) == 0);

    CHECK(keyring_load(dir, KID_LIBTRUST, &ring) == 0);
    if (!ring)
        abort();
    CHECK(ring->n == 2);
    CHECK_STR(ring->keys[0].name, newest);
    CHECK_STR(ring->keys[1].name, "zzz-old");
    CHECK(ring->keys[0].not_before > ring->keys[1].not_before);
    CHECK(X509_cmp(ring->keys[1].cert, oldcert) == 0);

    /* certs.pem and jwks.json list both, newest first. */
    bio = BIO_new_mem_buf(ring->certs_pem, -1);
    x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    CHECK(x && X509_cmp(x, ring->keys[0].cert) == 0);
    X509_free(x);
    x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    CHECK(x && X509_cmp(x, oldcert) == 0);
    X509_free(x);
    BIO_free(bio);
    jwks = json_loads(ring->jwks_json, 0, NULL);
    CHECK(json_array_size(json_object_get(jwks, "keys")) == 2);
    CHECK(
        jwks_member_is(json_array_get(json_object_get(jwks, "keys"), 0), "kid", ring->keys[0].kid));
    CHECK(
        jwks_member_is(json_array_get(json_object_get(jwks, "keys"), 1), "kid", ring->keys[1].kid));
    json_decref(jwks);

    /* Rotation: tokens of the older key still verify. */
    CHECK(jwt_sign(&ring->keys[1], claims_json, strlen(claims_json), &t) == 0);
    CHECK(verify_ok(ring, t));
    free(t);
    CHECK(keyring_find(ring, ring->keys[1].kid) == &ring->keys[1]);
    CHECK(keyring_find(ring, "AAAA:BBBB") == NULL);
    CHECK(keyring_find(ring, NULL) == NULL);
    CHECK(keyring_find(NULL, "x") == NULL);
    keyring_free(ring);
    ring = NULL;

    /* Two keys made in the same second: distinct names, the later one first. */
    CHECK(keys_generate(dir, NULL, "dockhand test", 30, second, sizeof(second)) == 0);
    CHECK(strcmp(second, newest) != 0);
    CHECK(keyring_load(dir, KID_LIBTRUST, &ring) == 0);
    CHECK(ring && ring->n == 3);
    CHECK(ring && strcmp(ring->keys[0].name, second) == 0);
    CHECK(ring && strcmp(ring->keys[1].name, newest) == 0);
    CHECK(ring && ring->keys[0].alg == KEY_ES256);
    keyring_free(ring);

    /* Three pairs and nothing else: no temporary file is left behind. */
    {
        DIR *d = opendir(dir);
        struct dirent *de;
        int files = 0, hidden = 0;

        while (d && (de = readdir(d))) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            ++files;
            hidden += de->d_name[0] == '.';
        }
        if (d)
            closedir(d);
        CHECK(files == 6 && hidden == 0);
    }
    EVP_PKEY_free(old);
    X509_free(oldcert);
}

static void test_load_errors(void)
{
    char dir[4096], path[4096], path2[4096], name[64], name2[64];
    struct keyring *ring = (struct keyring *)0x1;
    EVP_PKEY *pk;
    X509 *cert;

    keyring_free(NULL);

    /* No directory, or no pair in it. */
    path_in(dir, sizeof(dir), "missing");
    CHECK(keyring_load(dir, KID_LIBTRUST, &ring) == DH_ERR_NOTFOUND && ring == NULL);
    mkdir_in(dir, sizeof(dir), "empty");
    path_of(path, sizeof(path), dir, "lonely", ".crt"); /* a .crt alone is ignored */
    write_file(path, "not even a certificate\n");
    path_of(path, sizeof(path), dir, ".hidden", ".key"); /* hidden files too */
    write_file(path, "junk\n");
    path_of(path, sizeof(path), dir, "README", "");
    write_file(path, "keys go here\n");
    CHECK(keyring_load(dir, KID_LIBTRUST, &ring) == DH_ERR_NOTFOUND && ring == NULL);

    /* A .key without its .crt. */
    mkdir_in(dir, sizeof(dir), "orphan");
    CHECK(keys_generate(dir, "ES256", "t", 1, name, sizeof(name)) == 0);
    path_of(path, sizeof(path), dir, name, ".crt");
    unlink(path);
    CHECK(keyring_load(dir, KID_LIBTRUST, &ring) == DH_ERR_INVALID && ring == NULL);

    /* Certificates swapped between two keys. */
    mkdir_in(dir, sizeof(dir), "swapped");
    CHECK(keys_generate(dir, "ES256", "t", 1, name, sizeof(name)) == 0);
    CHECK(keys_generate(dir, "ES256", "t", 1, name2, sizeof(name2)) == 0);
    CHECK(keyring_load(dir, KID_LIBTRUST, &ring) == 0 && ring->n == 2);
    keyring_free(ring);
    path_of(path, sizeof(path), dir, name, ".crt");
    path_of(path2, sizeof(path2), dir, name2, ".crt");
    {
        char tmp[4096];
        path_of(tmp, sizeof(tmp), dir, "swap", ".tmp");
        if (rename(path, tmp) || rename(path2, path) || rename(tmp, path2))
            abort();
    }
    CHECK(keyring_load(dir, KID_LIBTRUST, &ring) == DH_ERR_INVALID && ring == NULL);

    /* Garbage in either file. */
    mkdir_in(dir, sizeof(dir), "garbage");
    CHECK(keys_generate(dir, "ES256", "t", 1, name, sizeof(name)) == 0);
    path_of(path, sizeof(path), dir, name, ".key");
    write_file(path, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    CHECK(keyring_load(dir, KID_LIBTRUST, &ring) == DH_ERR_INVALID && ring == NULL);
    mkdir_in(dir, sizeof(dir), "garbage2");
    CHECK(keys_generate(dir, "ES256", "t", 1, name, sizeof(name)) == 0);
    path_of(path, sizeof(path), dir, name, ".crt");
    write_file(path, "hello\n");
    CHECK(keyring_load(dir, KID_LIBTRUST, &ring) == DH_ERR_INVALID && ring == NULL);

    /* An encrypted key is refused without prompting for a passphrase. */
    mkdir_in(dir, sizeof(dir), "encrypted");
    pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    cert = test_cert(pk, 0, EVP_sha256());
    write_pair(dir, "enc", pk, cert, "passphrase");
    CHECK(keyring_load(dir, KID_LIBTRUST, &ring) == DH_ERR_INVALID && ring == NULL);
    EVP_PKEY_free(pk);
    X509_free(cert);

    /* Unsupported key types and sizes. */
    {
        static const struct {
            const char *sub, *type;
            const char *curve;
            size_t bits;
        } unsupported[] = {
            {"p521", "EC", "P-521", 0},
            {"secp256k1", "EC", "secp256k1", 0},
            {"ed25519", "ED25519", NULL, 0},
            {"rsa1024", "RSA", NULL, 1024},
        };
        for (size_t i = 0; i < DH_ARRAY_SIZE(unsupported); ++i) {
            if (unsupported[i].curve)
                pk = EVP_PKEY_Q_keygen(NULL, NULL, unsupported[i].type, unsupported[i].curve);
            else if (unsupported[i].bits)
                pk = EVP_PKEY_Q_keygen(NULL, NULL, unsupported[i].type, unsupported[i].bits);
            else
                pk = EVP_PKEY_Q_keygen(NULL, NULL, unsupported[i].type);
            if (!pk)
                abort();
            cert = test_cert(pk, 0, strcmp(unsupported[i].type, "ED25519") ? EVP_sha256() : NULL);
            mkdir_in(dir, sizeof(dir), unsupported[i].sub);
            write_pair(dir, "k", pk, cert, NULL);
            ring = (struct keyring *)0x1;
            CHECK(keyring_load(dir, KID_LIBTRUST, &ring) == DH_ERR_INVALID && ring == NULL);
            {
                char kid[64];
                CHECK(key_kid_libtrust(pk, kid, sizeof(kid)) == DH_ERR_INVALID);
                CHECK(key_kid_thumbprint(pk, kid, sizeof(kid)) == DH_ERR_INVALID);
            }
            EVP_PKEY_free(pk);
            X509_free(cert);
        }
    }

    /* More than KEYS_MAX pairs. */
    mkdir_in(dir, sizeof(dir), "many");
    for (int i = 0; i < KEYS_MAX; ++i)
        if (keys_generate(dir, "ES256", "t", 1, NULL, 0) != 0)
            abort();
    CHECK(keyring_load(dir, KID_LIBTRUST, &ring) == 0 && ring && ring->n == KEYS_MAX);
    if (ring && ring != (struct keyring *)0x1) {
        bool distinct = true;
        for (size_t i = 1; i < ring->n; ++i)
            distinct &= strcmp(ring->keys[i - 1].kid, ring->keys[i].kid) != 0 &&
                        ring->keys[i - 1].not_before >= ring->keys[i].not_before;
        CHECK(distinct);
    }
    keyring_free(ring);
    CHECK(keys_generate(dir, "ES256", "t", 1, NULL, 0) == 0);
    CHECK(keyring_load(dir, KID_LIBTRUST, &ring) == DH_ERR_TOOBIG && ring == NULL);
}

static void test_generate_args(void)
{
    char dir[4096], name[64], long_cn[80];
    struct stat st;

    path_in(dir, sizeof(dir), "args");
    memset(long_cn, 'c', 65);
    long_cn[65] = '\0';
    CHECK(keys_generate(dir, "ES512", "t", 30, name, sizeof(name)) == DH_ERR_INVALID);
    CHECK(keys_generate(dir, "es256", "t", 30, name, sizeof(name)) == DH_ERR_INVALID);
    CHECK(keys_generate(dir, "HS256", "t", 30, name, sizeof(name)) == DH_ERR_INVALID);
    CHECK(keys_generate(dir, "ES256", "", 30, name, sizeof(name)) == DH_ERR_INVALID);
    CHECK(keys_generate(dir, "ES256", NULL, 30, name, sizeof(name)) == DH_ERR_INVALID);
    CHECK(keys_generate(dir, "ES256", long_cn, 30, name, sizeof(name)) == DH_ERR_INVALID);
    CHECK(keys_generate(dir, "ES256", "t", 0, name, sizeof(name)) == DH_ERR_INVALID);
    CHECK(keys_generate(dir, "ES256", "t", -1, name, sizeof(name)) == DH_ERR_INVALID);
    CHECK(keys_generate(dir, "ES256", "t", 36501, name, sizeof(name)) == DH_ERR_INVALID);
    CHECK(keys_generate(dir, "ES256", "t", 30, name, 10) == DH_ERR_INVALID);
    CHECK(stat(dir, &st) != 0); /* nothing was created */
    /* A parent that does not exist. */
    path_in(dir, sizeof(dir), "no/such/parent");
    CHECK(keys_generate(dir, "ES256", "t", 30, name, sizeof(name)) == -ENOENT);
    /* A file where the directory should be. */
    path_in(dir, sizeof(dir), "afile");
    write_file(dir, "x");
    CHECK(keys_generate(dir, "ES256", "t", 30, name, sizeof(name)) < 0);
    /* A 64-character UTF-8 common name is fine. */
    path_in(dir, sizeof(dir), "cn");
    memset(long_cn, 'c', 64);
    long_cn[64] = '\0';
    CHECK(keys_generate(dir, "ES256", long_cn, 36500, name, sizeof(name)) == 0);
    CHECK(keys_generate(dir, "ES256",
                        "d\xc3\xb6"
                        "ckhand",
                        1, name, sizeof(name)) == 0);
    CHECK(keys_generate(dir, "ES256", "bad\xff", 1, name, sizeof(name)) == DH_ERR_INVALID);
}

static void test_fixed_vectors(void)
{
    /* A P-256 public key stored with a compressed point. The expected kid was computed with
     *   openssl ec -pubin -conv_form uncompressed -outform DER | openssl dgst -sha256 -binary
     * (base32 of the first 30 bytes, grouped): the form Go, and so the registry, hashes. */
    static const char compressed_pem[] =
        "-----BEGIN PUBLIC KEY-----\n"
        "MDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgADurDzYVDM4rG4fZSGsLZ6HWsFrSZ1\n"
        "FtXVsFqLuEwSuCg=\n"
        "-----END PUBLIC KEY-----\n";
    /* RFC 7638 §3.1: the example RSA key and its thumbprint. */
    static const char rfc7638_n[] =
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
        "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-"
        "65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyr"
        "dkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-"
        "csFCur-kEgU8awapJzKnqDKgw";
    BIO *bio = BIO_new_mem_buf(compressed_pem, -1);
    EVP_PKEY *pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    char kid[64];
    json_t *jwk;

    CHECK(pk != NULL);
    CHECK(pk && i2d_PUBKEY(pk, NULL) == 59); /* really compressed */
    CHECK(pk && key_kid_libtrust(pk, kid, sizeof(kid)) == 0);
    CHECK_STR(kid, "ITQ3:XRNM:DABJ:ZTCD:TBAY:HBKV:AF6W:244T:7W2G:3GJF:OHIP:YRWA");
    EVP_PKEY_free(pk);
    BIO_free(bio);

    jwk = json_pack("{s:s, s:s, s:s}", "kty", "RSA", "n", rfc7638_n, "e", "AQAB");
    pk = jwk_to_pkey(jwk);
    CHECK(pk != NULL);
    CHECK(pk && key_kid_thumbprint(pk, kid, sizeof(kid)) == 0);
    CHECK_STR(kid, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    CHECK(pk && key_kid_thumbprint(pk, kid, 43) == DH_ERR_INVALID);
    CHECK(pk && key_kid_libtrust(pk, kid, sizeof(kid)) == 0 && kid_shape_ok(kid));
    EVP_PKEY_free(pk);
    json_decref(jwk);

    CHECK_STR(key_alg_name(KEY_ES256), "ES256");
    CHECK_STR(key_alg_name(KEY_ES384), "ES384");
    CHECK_STR(key_alg_name(KEY_RS256), "RS256");
}

/* Regression (tests/fuzz/fuzz_keys.c): an EC key file whose private scalar is not the one
 * of the public point it carries, next to the certificate of that point. Only the public
 * halves were compared, so the ring loaded and signed tokens nothing could verify. */
static void test_mismatched_pair(void)
{
    char dir[4096];
    EVP_PKEY *a = EVP_EC_gen("P-256"), *b = EVP_EC_gen("P-256"), *mixed = NULL;
    BIGNUM *priv = NULL;
    unsigned char pub[65];
    size_t pub_len = 0;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    struct keyring *ring = NULL;

    if (!a || !b || !bld || !ctx ||
        EVP_PKEY_get_bn_param(a, OSSL_PKEY_PARAM_PRIV_KEY, &priv) != 1 ||
        EVP_PKEY_get_octet_string_param(b, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub), &pub_len) !=
            1 ||
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, pub_len) != 1 ||
        !(params = OSSL_PARAM_BLD_to_param(bld)) || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &mixed, EVP_PKEY_KEYPAIR, params) != 1)
        abort();
    X509 *cert = test_cert(b, 0, EVP_sha256());
    mkdir_in(dir, sizeof(dir), "mismatched");
    write_pair(dir, "mixed", mixed, cert, NULL);
    CHECK(keyring_load(dir, KID_LIBTRUST, &ring) == DH_ERR_INVALID);
    CHECK(ring == NULL);
    keyring_free(ring);
    X509_free(cert);
    EVP_PKEY_free(mixed);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(priv);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
}

int main(void)
{
    const char *base = getenv("TESTS_TMPDIR");

    snprintf(tmp_root, sizeof(tmp_root), "%s/keys_jwt.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp_root)) {
        perror(tmp_root);
        return 2;
    }
    test_fixed_vectors();
    test_alg("ES256", KEY_ES256, 64, "P-256", 32);
    test_alg("ES384", KEY_ES384, 96, "P-384", 48);
    test_alg("RS256", KEY_RS256, 256, NULL, 0);
    test_cross_alg();
    test_verify_strict();
    test_ordering();
    test_load_errors();
    test_mismatched_pair();
    test_generate_args();
    nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_done();
}
