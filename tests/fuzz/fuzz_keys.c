/* libFuzzer driver for the keys directory (keys.h): bytes written as a key file, a
 * certificate file or both into a directory that keyring_load then reads, as at start and
 * on SIGHUP. The first byte picks what is fuzzed and the kid format: 0 the key file, 1 the
 * certificate (the other half a real ES256 pair made at start), 2 both ("<key>\n%%\n<cert>"),
 * 3 and 4 (position, xor) edits of the real certificate or key. Oracles: a ring that
 * loads holds one key with a well-formed kid, a JWKS document naming that kid, the
 * certificate in PEM, and signs tokens that verify against it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dockhand/jwt.h"
#include "dockhand/token.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], key_path[128], crt_path[128];
static char *good_key, *good_crt;
static size_t good_key_len, good_crt_len;
static struct token tok;

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = malloc(65536);
    if (!f || !buf)
        abort();
    *len = fread(buf, 1, 65536, f);
    fclose(f);
    return buf;
}

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

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char name[64], path[160];
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof(dir), "%s/dockhand-fuzz-keys.XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir) || keys_generate(dir, "ES256", "fuzz", 1, name, sizeof(name)) != 0)
        abort();
    snprintf(path, sizeof(path), "%s/%s.key", dir, name);
    good_key = slurp(path, &good_key_len);
    unlink(path);
    snprintf(path, sizeof(path), "%s/%s.crt", dir, name);
    good_crt = slurp(path, &good_crt_len);
    unlink(path);
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
