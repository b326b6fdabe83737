#include "dockhand/keys.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "dockhand/encoding.h"

#define KEYS_RSA_MIN_BITS 2048
#define KEYS_RSA_MAX_BITS 8192 /* larger keys only make every token slow */
#define KEYS_RSA_GEN_BITS 2048
#define KEYS_MAX_DAYS 36500
#define KEYS_CN_MAX 64           /* X.509 ub-common-name */
#define KEYS_COORD_MAX 1024      /* bytes of the largest JWK number: an 8192-bit modulus */
#define KEYS_KID_LIBTRUST_LEN 59 /* 48 base32 characters and 11 colons */
#define KEYS_GEN_SUFFIX_MAX 99   /* names taken within one second */

/* The public numbers of a key as JWK members: x, y (EC) or n, e (RSA), unsigned big-endian;
 * EC coordinates at the curve's full width, RSA numbers without leading zeros. */
struct jwk_numbers {
    unsigned char a[KEYS_COORD_MAX];
    unsigned char b[KEYS_COORD_MAX];
    size_t alen, blen;
};

const char *key_alg_name(enum key_alg alg)
{
    switch (alg) {
    case KEY_ES256:
        return "ES256";
    case KEY_ES384:
        return "ES384";
    case KEY_RS256:
        return "RS256";
    }
    return "?";
}

static size_t ec_coord_len(enum key_alg alg)
{
    return alg == KEY_ES384 ? 48 : 32;
}

static int key_alg_of(EVP_PKEY *pkey, enum key_alg *alg)
{
    if (EVP_PKEY_is_a(pkey, "EC")) {
        char group[64];
        size_t glen;

        if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) != 1)
            return DH_ERR_INVALID;
        if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
            *alg = KEY_ES256;
        else if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
            *alg = KEY_ES384;
        else
            return DH_ERR_INVALID;
        return 0;
    }
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        int bits = EVP_PKEY_get_bits(pkey);

        if (bits < KEYS_RSA_MIN_BITS || bits > KEYS_RSA_MAX_BITS)
            return DH_ERR_INVALID;
        *alg = KEY_RS256;
        return 0;
    }
    return DH_ERR_INVALID;
}

static int bn_param(EVP_PKEY *pkey, const char *param, size_t width, unsigned char *out,
                    size_t *outlen)
{
    BIGNUM *bn = NULL;
    int r = DH_ERR_INVALID;
    int n;

    if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1)
        goto out;
    if (width) {
        n = BN_bn2binpad(bn, out, (int)width);
    } else {
        if ((size_t)BN_num_bytes(bn) > KEYS_COORD_MAX)
            goto out;
        n = BN_bn2bin(bn, out);
    }
    if (n <= 0)
        goto out;
    *outlen = (size_t)n;
    r = 0;
out:
    BN_free(bn);
    return r;
}

static int jwk_numbers_get(EVP_PKEY *pkey, enum key_alg alg, struct jwk_numbers *j)
{
    int r;

    if (alg == KEY_RS256) {
        r = bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, 0, j->a, &j->alen);
        if (r == 0)
            r = bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, 0, j->b, &j->blen);
    } else {
        r = bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, ec_coord_len(alg), j->a, &j->alen);
        if (r == 0)
            r = bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, ec_coord_len(alg), j->b, &j->blen);
    }
    return r;
}

int key_kid_libtrust(EVP_PKEY *pkey, char *out, size_t outcap)
{
    /* SubjectPublicKeyInfo headers for a named curve with an uncompressed point, as Go's
     * x509.MarshalPKIXPublicKey (which libtrust hashes) writes them. Building the DER
     * from the coordinates keeps the kid right for keys stored compressed or with
     * explicit curve parameters. */
    static const unsigned char spki_p256[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                              0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                              0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04};
    static const unsigned char spki_p384[] = {0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86,
                                              0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
                                              0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00, 0x04};
    unsigned char buf[sizeof(spki_p384) + 2 * 48];
    unsigned char *der = NULL;
    unsigned char md[32];
    char b32[49];
    struct jwk_numbers *j = NULL;
    enum key_alg alg;
    int der_len, r;
    size_t o = 0;

    if (outcap < KEYS_KID_LIBTRUST_LEN + 1)
        return DH_ERR_INVALID;
    r = key_alg_of(pkey, &alg);
    if (r < 0)
        return r;
    if (alg == KEY_RS256) {
        der_len = i2d_PUBKEY(pkey, &der);
        if (der_len <= 0) {
            r = DH_ERR_CRYPTO;
            goto out;
        }
    } else {
        const unsigned char *hdr = alg == KEY_ES256 ? spki_p256 : spki_p384;
        size_t hlen = alg == KEY_ES256 ? sizeof(spki_p256) : sizeof(spki_p384);

        j = malloc(sizeof(*j));
        if (!j) {
            r = DH_ERR_NOMEM;
            goto out;
        }
        r = jwk_numbers_get(pkey, alg, j);
        if (r < 0)
            goto out;
        memcpy(buf, hdr, hlen);
        memcpy(buf + hlen, j->a, j->alen);
        memcpy(buf + hlen + j->alen, j->b, j->blen);
        der_len = (int)(hlen + j->alen + j->blen);
    }
    if (EVP_Digest(der ? der : buf, (size_t)der_len, md, NULL, EVP_sha256(), NULL) != 1) {
        r = DH_ERR_CRYPTO;
        goto out;
    }
    base32_encode(md, 30, b32);
    for (size_t i = 0; i < 48; i += 4) {
        if (i)
            out[o++] = ':';
        memcpy(out + o, b32 + i, 4);
        o += 4;
    }
    out[o] = '\0';
out:
    OPENSSL_free(der);
    free(j);
    ERR_clear_error();
    return r;
}

static int b64url_member(char *dst, size_t cap, const char *name, const unsigned char *v,
                         size_t len, bool last)
{
    char enc[B64_ENCODED_CAP(KEYS_COORD_MAX)];
    int n;

    b64url_encode(v, len, enc);
    n = snprintf(dst, cap, "\"%s\":\"%s\"%s", name, enc, last ? "}" : ",");
    return n < 0 || (size_t)n >= cap ? DH_ERR_INVALID : n;
}

int key_kid_thumbprint(EVP_PKEY *pkey, char *out, size_t outcap)
{
    /* RFC 7638 §3: the required members only, in lexicographic order, no whitespace. */
    size_t cap = 2 * B64_ENCODED_CAP(KEYS_COORD_MAX) + 64;
    char *json = NULL;
    struct jwk_numbers *j = NULL;
    unsigned char md[32];
    enum key_alg alg;
    size_t o;
    int r, n;

    if (outcap < 44)
        return DH_ERR_INVALID;
    r = key_alg_of(pkey, &alg);
    if (r < 0)
        return r;
    j = malloc(sizeof(*j));
    json = malloc(cap);
    if (!j || !json) {
        r = DH_ERR_NOMEM;
        goto out;
    }
    r = jwk_numbers_get(pkey, alg, j);
    if (r < 0)
        goto out;
    if (alg == KEY_RS256) {
        o = (size_t)snprintf(json, cap, "{");
        n = b64url_member(json + o, cap - o, "e", j->b, j->blen, false);
        if (n < 0)
            goto invalid;
        o += (size_t)n;
        o += (size_t)snprintf(json + o, cap - o, "\"kty\":\"RSA\",");
        n = b64url_member(json + o, cap - o, "n", j->a, j->alen, true);
    } else {
        o = (size_t)snprintf(json, cap, "{\"crv\":\"%s\",\"kty\":\"EC\",",
                             alg == KEY_ES256 ? "P-256" : "P-384");
        n = b64url_member(json + o, cap - o, "x", j->a, j->alen, false);
        if (n < 0)
            goto invalid;
        o += (size_t)n;
        n = b64url_member(json + o, cap - o, "y", j->b, j->blen, true);
    }
    if (n < 0)
        goto invalid;
    o += (size_t)n;
    if (EVP_Digest(json, o, md, NULL, EVP_sha256(), NULL) != 1) {
        r = DH_ERR_CRYPTO;
        goto out;
    }
    b64url_encode(md, sizeof(md), out);
    goto out;
invalid:
    r = DH_ERR_INVALID;
out:
    free(json);
    free(j);
    ERR_clear_error();
    return r;
}

/* Refuses to prompt on a terminal for an encrypted key: keys are loaded unattended. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static int path_join(char *out, size_t cap, const char *dir, const char *name, const char *ext)
{
    int n = snprintf(out, cap, "%s/%s%s", dir, name, ext);

    return n < 0 || (size_t)n >= cap ? DH_ERR_INVALID : 0;
}

/* The private half matches the public half. X509_check_private_key compares only public
 * keys, and an EC key file carries its public point next to the scalar: a file whose scalar
 * was damaged still passed it, and the key then signed tokens nothing could verify (found
 * by tests/fuzz/fuzz_keys.c). */
static bool key_pair_consistent(EVP_PKEY *pkey)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    bool ok = ctx && EVP_PKEY_pairwise_check(ctx) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static int load_pair(const char *dir, const char *name, enum kid_format fmt, struct sign_key *k)
{
    char path[PATH_MAX];
    BIO *bio = NULL;
    const ASN1_TIME *nb;
    struct tm tm;
    int r;

    snprintf(k->name, sizeof(k->name), "%s", name);

    r = path_join(path, sizeof(path), dir, name, ".key");
    if (r < 0)
        goto out;
    bio = BIO_new_file(path, "r");
    if (!bio || !(k->pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL))) {
        r = DH_ERR_INVALID;
        goto out;
    }
    BIO_free(bio);
    bio = NULL;

    r = path_join(path, sizeof(path), dir, name, ".crt");
    if (r < 0)
        goto out;
    bio = BIO_new_file(path, "r");
    if (!bio || !(k->cert = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL))) {
        r = DH_ERR_INVALID;
        goto out;
    }
    if (X509_check_private_key(k->cert, k->pkey) != 1 || !key_pair_consistent(k->pkey)) {
        r = DH_ERR_INVALID;
        goto out;
    }
    r = key_alg_of(k->pkey, &k->alg);
    if (r < 0)
        goto out;

    nb = X509_get0_notBefore(k->cert);
    if (!nb || ASN1_TIME_to_tm(nb, &tm) != 1) {
        r = DH_ERR_INVALID;
        goto out;
    }
    k->not_before = timegm(&tm);

    if (fmt == KID_JWK_THUMBPRINT)
        r = key_kid_thumbprint(k->pkey, k->kid, sizeof(k->kid));
    else
        r = key_kid_libtrust(k->pkey, k->kid, sizeof(k->kid));
    if (r == 0) {
        char header[128];
        int n = snprintf(header, sizeof(header), "{\"typ\":\"JWT\",\"alg\":\"%s\",\"kid\":\"%s\"}",
                         key_alg_name(k->alg), k->kid);
        if (n < 0 || (size_t)n >= sizeof(header) ||
            B64_ENCODED_CAP((size_t)n) > sizeof(k->jws_header))
            r = DH_ERR_INVALID;
        else
            k->jws_header_len = b64url_encode(header, (size_t)n, k->jws_header);
    }
out:
    BIO_free(bio);
    ERR_clear_error();
    return r;
}

static int sign_key_newest_first(const void *pa, const void *pb)
{
    const struct sign_key *a = pa, *b = pb;

    if (a->not_before != b->not_before)
        return a->not_before > b->not_before ? -1 : 1;
    /* Same second: generated names carry the time, then a counter; the larger is newer. */
    return -strcmp(a->name, b->name);
}

static int build_certs_pem(struct keyring *ring)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long len;
    int r = DH_ERR_NOMEM;

    if (!bio)
        goto out;
    for (size_t i = 0; i < ring->n; ++i)
        if (PEM_write_bio_X509(bio, ring->keys[i].cert) != 1)
            goto out;
    len = BIO_get_mem_data(bio, &data);
    if (len < 0)
        goto out;
    ring->certs_pem = malloc((size_t)len + 1);
    if (!ring->certs_pem)
        goto out;
    memcpy(ring->certs_pem, data, (size_t)len);
    ring->certs_pem[len] = '\0';
    r = 0;
out:
    BIO_free(bio);
    return r;
}

static int jwk_set_b64url(json_t *obj, const char *member, const unsigned char *v, size_t len)
{
    char enc[B64_ENCODED_CAP(KEYS_COORD_MAX)];

    b64url_encode(v, len, enc);
    return json_object_set_new(obj, member, json_string(enc)) == 0 ? 0 : DH_ERR_NOMEM;
}

static int build_jwks(struct keyring *ring)
{
    json_t *root = json_object(), *arr = json_array(), *jwk = NULL;
    struct jwk_numbers *j = malloc(sizeof(*j));
    int r = DH_ERR_NOMEM;

    if (!root || !arr || !j || json_object_set(root, "keys", arr) != 0)
        goto out;
    for (size_t i = 0; i < ring->n; ++i) {
        const struct sign_key *k = &ring->keys[i];
        bool rsa = k->alg == KEY_RS256;

        r = jwk_numbers_get(k->pkey, k->alg, j);
        if (r < 0)
            goto out;
        r = DH_ERR_NOMEM;
        jwk = json_object();
        if (!jwk || json_object_set_new(jwk, "kty", json_string(rsa ? "RSA" : "EC")) != 0)
            goto out;
        if (!rsa &&
            json_object_set_new(jwk, "crv", json_string(k->alg == KEY_ES256 ? "P-256" : "P-384")))
            goto out;
        if (jwk_set_b64url(jwk, rsa ? "n" : "x", j->a, j->alen) < 0 ||
            jwk_set_b64url(jwk, rsa ? "e" : "y", j->b, j->blen) < 0 ||
            json_object_set_new(jwk, "kid", json_string(k->kid)) != 0 ||
            json_object_set_new(jwk, "alg", json_string(key_alg_name(k->alg))) != 0 ||
            json_object_set_new(jwk, "use", json_string("sig")) != 0 ||
            json_array_append_new(arr, jwk) != 0)
            goto out;
        jwk = NULL;
    }
    ring->jwks_json = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (ring->jwks_json)
        r = 0;
out:
    json_decref(jwk);
    json_decref(arr);
    json_decref(root);
    free(j);
    return r;
}

int keyring_load(const char *dir, enum kid_format fmt, struct keyring **out)
{
    struct keyring *ring = NULL;
    DIR *d = NULL;
    struct dirent *de;
    int r;

    *out = NULL;
    d = opendir(dir);
    if (!d)
        return errno == ENOENT ? DH_ERR_NOTFOUND : -errno;
    ring = calloc(1, sizeof(*ring));
    if (!ring) {
        r = DH_ERR_NOMEM;
        goto out;
    }
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        char name[sizeof(ring->keys[0].name)];

        if (de->d_name[0] == '.' || len <= 4 || strcmp(de->d_name + len - 4, ".key") != 0)
            continue;
        if (len - 4 >= sizeof(name)) {
            r = DH_ERR_INVALID;
            goto out;
        }
        if (ring->n == KEYS_MAX) {
            r = DH_ERR_TOOBIG;
            goto out;
        }
        memcpy(name, de->d_name, len - 4);
        name[len - 4] = '\0';
        r = load_pair(dir, name, fmt, &ring->keys[ring->n++]);
        if (r < 0)
            goto out;
    }
    if (ring->n == 0) {
        r = DH_ERR_NOTFOUND;
        goto out;
    }
    qsort(ring->keys, ring->n, sizeof(ring->keys[0]), sign_key_newest_first);
    r = build_certs_pem(ring);
    if (r == 0)
        r = build_jwks(ring);
    if (r == 0) {
        *out = ring;
        ring = NULL;
    }
out:
    if (d)
        closedir(d);
    keyring_free(ring);
    return r;
}

void keyring_free(struct keyring *ring)
{
    if (!ring)
        return;
    for (size_t i = 0; i < ring->n; ++i) {
        EVP_PKEY_free(ring->keys[i].pkey);
        X509_free(ring->keys[i].cert);
    }
    free(ring->certs_pem);
    free(ring->jwks_json);
    free(ring);
}

const struct sign_key *keyring_find(const struct keyring *ring, const char *kid)
{
    if (!ring || !kid)
        return NULL;
    for (size_t i = 0; i < ring->n; ++i)
        if (strcmp(ring->keys[i].kid, kid) == 0)
            return &ring->keys[i];
    return NULL;
}

static EVP_PKEY *generate_pkey(enum key_alg alg)
{
    switch (alg) {
    case KEY_ES256:
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    case KEY_ES384:
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    case KEY_RS256:
        return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)KEYS_RSA_GEN_BITS);
    }
    return NULL;
}

static int add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    int ok;

    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return DH_ERR_CRYPTO;
    ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1 ? 0 : DH_ERR_CRYPTO;
}

static X509 *make_cert(EVP_PKEY *pkey, enum key_alg alg, const char *cn, int days, time_t now)
{
    X509 *x = X509_new();
    BIGNUM *serial = BN_new();
    X509_NAME *subject;
    bool ok = false;

    if (!x || !serial || X509_set_version(x, X509_VERSION_3) != 1)
        goto out;
    /* 127 random bits: positive, never zero, unique in practice (RFC 5280 §4.1.2.2). */
    if (BN_rand(serial, 127, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) != 1 ||
        !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)))
        goto out;
    /* The same instant as the file name, so name order and notBefore order agree. */
    if (!ASN1_TIME_set(X509_getm_notBefore(x), now) ||
        !ASN1_TIME_adj(X509_getm_notAfter(x), now, days, 0))
        goto out;
    subject = X509_get_subject_name(x);
    if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                   0) != 1 ||
        X509_set_issuer_name(x, subject) != 1 || X509_set_pubkey(x, pkey) != 1)
        goto out;
    /* What `openssl req -x509` makes, plus keyUsage: a self-signed root that the registry's
     * rootcertbundle (and any tool checking it as a trust anchor) accepts. */
    if (add_ext(x, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
        add_ext(x, NID_key_usage, "critical,digitalSignature,keyCertSign") < 0 ||
        add_ext(x, NID_subject_key_identifier, "hash") < 0 ||
        add_ext(x, NID_authority_key_identifier, "keyid:always") < 0)
        goto out;
    if (X509_sign(x, pkey, alg == KEY_ES384 ? EVP_sha384() : EVP_sha256()) <= 0)
        goto out;
    ok = true;
out:
    BN_free(serial);
    if (!ok) {
        X509_free(x);
        x = NULL;
    }
    return x;
}

/* Writes one PEM object to a new file (O_EXCL) with exactly mode, flushed to disk. */
static int write_pem(const char *path, mode_t mode, EVP_PKEY *pkey, X509 *cert)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    FILE *fp;
    int r = 0, ok;

    if (fd < 0)
        return -errno;
    /* The umask may only have removed bits; make the mode exact either way. */
    if (fchmod(fd, mode) != 0) {
        r = -errno;
        close(fd);
        goto fail;
    }
    fp = fdopen(fd, "w");
    if (!fp) {
        r = -errno;
        close(fd);
        goto fail;
    }
    if (pkey)
        ok = PEM_write_PrivateKey(fp, pkey, NULL, NULL, 0, NULL, NULL);
    else
        ok = PEM_write_X509(fp, cert);
    if (ok != 1)
        r = DH_ERR_CRYPTO;
    if (fflush(fp) != 0 || fsync(fileno(fp)) != 0)
        r = r ? r : -errno;
    if (fclose(fp) != 0)
        r = r ? r : -errno;
    if (r == 0)
        return 0;
fail:
    unlink(path);
    return r;
}

static int parse_alg(const char *alg, enum key_alg *out)
{
    if (!alg || strcmp(alg, "ES256") == 0)
        *out = KEY_ES256;
    else if (strcmp(alg, "ES384") == 0)
        *out = KEY_ES384;
    else if (strcmp(alg, "RS256") == 0)
        *out = KEY_RS256;
    else
        return DH_ERR_INVALID;
    return 0;
}

static int ensure_dir(const char *dir)
{
    struct stat st;

    if (mkdir(dir, 0700) == 0)
        return 0;
    if (errno != EEXIST)
        return -errno;
    if (stat(dir, &st) != 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int keys_generate(const char *dir, const char *alg, const char *common_name, int days,
                  char *name_out, size_t name_cap)
{
    char stamp[32], name[64], crt[PATH_MAX], key[PATH_MAX], tmp[PATH_MAX];
    EVP_PKEY *pkey = NULL;
    X509 *cert = NULL;
    enum key_alg a;
    struct tm tm;
    time_t now = time(NULL);
    int r, suffix;

    if (parse_alg(alg, &a) < 0 || !common_name || !common_name[0] ||
        strlen(common_name) > KEYS_CN_MAX || !utf8_valid(common_name, strlen(common_name)) ||
        days < 1 || days > KEYS_MAX_DAYS || !dir || !dir[0])
        return DH_ERR_INVALID;
    if (!gmtime_r(&now, &tm) || strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) == 0)
        return DH_ERR_INVALID;
    /* The longest name this can make, so nothing is written when it will not fit. */
    if (name_out && name_cap < sizeof("dockhand--99") + strlen(stamp))
        return DH_ERR_INVALID;
    r = ensure_dir(dir);
    if (r < 0)
        return r;

    pkey = generate_pkey(a);
    cert = pkey ? make_cert(pkey, a, common_name, days, now) : NULL;
    if (!cert) {
        r = DH_ERR_CRYPTO;
        goto out;
    }

    /* The certificate goes first, claiming the name: a loader ignores a .crt alone but
     * refuses a .key alone, and the key appears whole, by rename. */
    for (suffix = 0; suffix <= KEYS_GEN_SUFFIX_MAX; ++suffix) {
        if (suffix)
            snprintf(name, sizeof(name), "dockhand-%s-%d", stamp, suffix);
        else
            snprintf(name, sizeof(name), "dockhand-%s", stamp);
        r = path_join(crt, sizeof(crt), dir, name, ".crt");
        if (r < 0)
            goto out;
        r = write_pem(crt, 0644, NULL, cert);
        if (r != -EEXIST)
            break;
    }
    if (r < 0)
        goto out;

    if (path_join(key, sizeof(key), dir, name, ".key") < 0 ||
        snprintf(tmp, sizeof(tmp), "%s/.%s.key.tmp", dir, name) >= (int)sizeof(tmp)) {
        r = DH_ERR_INVALID;
        goto fail_crt;
    }
    unlink(tmp);
    r = write_pem(tmp, 0600, pkey, NULL);
    if (r < 0)
        goto fail_crt;
    if (rename(tmp, key) != 0) {
        r = -errno;
        unlink(tmp);
        goto fail_crt;
    }
    /* The two names made durable too (the files' contents already are). */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    if (name_out)
        snprintf(name_out, name_cap, "%s", name);
    goto out;
fail_crt:
    unlink(crt);
out:
    EVP_PKEY_free(pkey);
    X509_free(cert);
    ERR_clear_error();
    return r;
}
