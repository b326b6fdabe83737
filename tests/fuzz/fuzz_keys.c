/* libFuzzer driver for the keys directory (keys.h): bytes written as a key file, a
 * certificate file or both into a directory that keyring_load then reads, as at start and
 * on SIGHUP. The first byte picks what is fuzzed and the kid format: 0 the key file, 1 the
 * certificate (the other half a real ES256 pair, made at start from a fixed scalar), 2 both
 * ("<key>\n%%\n<cert>"), 3 and 4 (position, xor) edits of the real certificate or key. Oracles: a
 * ring that loads holds one key with a well-formed kid, a JWKS document naming that kid, the
 * certificate in PEM, and signs tokens that verify against it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "dockhand/jwt.h"
#include "dockhand/token.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], key_path[128], crt_path[128];
static char *good_key, *good_crt;
static size_t good_key_len, good_crt_len;
static struct token tok;

static void put(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0)
        abort();
}

static void cleanup(void)
{
    unlink(key_path);
    unlink(crt_path);
    rmdir(dir);
}

/* The real pair: a P-256 key from a fixed scalar (so that an edit of it found once is the
 * same edit on every run) and a self-signed certificate of it, both in PEM. Test-only. */
static void make_pair(void)
{
    static const unsigned char scalar[32] = {0x1f, 0x2e, 0x3d, 0x4c, 0x5b, 0x6a, 0x79, 0x88,
                                             0x97, 0xa6, 0xb5, 0xc4, 0xd3, 0xe2, 0xf1, 0x00,
                                             0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78,
                                             0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0};
    unsigned char pub[65];
    EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    EC_POINT *point = group ? EC_POINT_new(group) : NULL;
    BIGNUM *priv = BN_bin2bn(scalar, sizeof(scalar), NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *pkey = NULL;
    X509 *x = X509_new();
    BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
    char *p;

    if (!point || !priv || !bld || !ctx || !x || !kb || !cb ||
        EC_POINT_mul(group, point, priv, NULL, NULL, NULL) != 1 ||
        EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, pub, sizeof(pub), NULL) !=
            sizeof(pub) ||
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)) != 1 ||
        !(params = OSSL_PARAM_BLD_to_param(bld)) || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params) != 1)
        abort();
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    ASN1_TIME_set(X509_getm_notBefore(x), 1700000000);
    ASN1_TIME_set(X509_getm_notAfter(x), 4102444800);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"fuzz", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    if (X509_set_pubkey(x, pkey) != 1 || X509_sign(x, pkey, EVP_sha256()) <= 0 ||
        PEM_write_bio_PrivateKey(kb, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
        PEM_write_bio_X509(cb, x) != 1)
        abort();
    good_key_len = (size_t)BIO_get_mem_data(kb, &p);
    good_key = malloc(good_key_len);
    memcpy(good_key, p, good_key_len);
    good_crt_len = (size_t)BIO_get_mem_data(cb, &p);
    good_crt = malloc(good_crt_len);
    memcpy(good_crt, p, good_crt_len);
    BIO_free(kb);
    BIO_free(cb);
    X509_free(x);
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(priv);
    EC_POINT_free(point);
    EC_GROUP_free(group);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof(dir), "%s/dockhand-fuzz-keys.XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir))
        abort();
    make_pair();
    snprintf(key_path, sizeof(key_path), "%s/k.key", dir);
    snprintf(crt_path, sizeof(crt_path), "%s/k.crt", dir);
    atexit(cleanup);
    return 0;
}

static void ring_obeys(const struct keyring *ring, enum kid_format fmt)
{
    const struct sign_key *k = &ring->keys[0];
    size_t kid_len = strlen(k->kid);
    if (ring->n != 1 || !k->pkey || !k->cert || strcmp(k->name, "k") != 0 ||
        kid_len != (fmt == KID_LIBTRUST ? 59 : 43) || keyring_find(ring, k->kid) != k ||
        !ring->certs_pem || !strstr(ring->certs_pem, "-----BEGIN CERTIFICATE-----"))
        __builtin_trap();
    json_t *jwks = json_loads(ring->jwks_json, 0, NULL);
    json_t *jwk = json_array_get(json_object_get(jwks, "keys"), 0);
    const char *kid = json_string_value(json_object_get(jwk, "kid"));
    if (json_array_size(json_object_get(jwks, "keys")) != 1 || !kid || strcmp(kid, k->kid) != 0)
        __builtin_trap();
    json_decref(jwks);
    /* The key signs, and what it signs verifies. */
    const struct token_issuer is = {.key = k, .issuer = "i", .service = "s"};
    struct scope_list l = {0};
    json_t *claims = NULL;
    token_init(&tok);
    if (token_build(&tok, &is, "robot$x", &l, 60, 1700000000) != 0 ||
        jwt_verify(ring, tok.jwt, strlen(tok.jwt), &claims) != 0)
        __builtin_trap();
    json_decref(claims);
    token_deinit(&tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct keyring *ring = NULL;
    if (size < 1)
        return 0;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    enum kid_format fmt = (data[0] / 5) % 2 ? KID_JWK_THUMBPRINT : KID_LIBTRUST;
    char *edited = NULL;

    switch (data[0] % 5) {
    case 0:
        put(key_path, in, n);
        put(crt_path, good_crt, good_crt_len);
        break;
    case 1:
        put(key_path, good_key, good_key_len);
        put(crt_path, in, n);
        break;
    case 2: {
        const char *sep = memmem(in, n, "\n%%\n", 4);
        size_t kn = sep ? (size_t)(sep - in) : n;
        put(key_path, in, kn);
        put(crt_path, sep ? sep + 4 : "", sep ? n - kn - 4 : 0);
        break;
    }
    default: { /* (position, xor) pairs applied to the real certificate or key */
        bool cert = data[0] % 5 == 3;
        size_t len = cert ? good_crt_len : good_key_len;
        edited = malloc(len + 1);
        if (!edited)
            abort();
        memcpy(edited, cert ? good_crt : good_key, len);
        for (size_t i = 0; i + 3 <= n; i += 3) {
            size_t pos = ((size_t)(uint8_t)in[i] << 8 | (uint8_t)in[i + 1]) % (len + 1);
            if (pos == len)
                len = (uint8_t)in[i + 2] % (len + 1); /* cut */
            else
                edited[pos] ^= in[i + 2];
        }
        put(key_path, cert ? good_key : edited, cert ? good_key_len : len);
        put(crt_path, cert ? edited : good_crt, cert ? len : good_crt_len);
    }
    }
    int rc = keyring_load(dir, fmt, &ring);
    if (rc == 0)
        ring_obeys(ring, fmt);
    else if (ring || (rc != DH_ERR_INVALID && rc != DH_ERR_NOMEM))
        __builtin_trap();
    keyring_free(ring);
    free(edited);
    return 0;
}
