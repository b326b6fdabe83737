/* L_sign and L_kdf: what one thread of this machine can do at all, for the benchmark's
 * ratios. Uses the project's own code paths: jwt_sign with a key loaded once
 * (keyring_load), and secret_verify against a 4,096-iteration hash. Beside them, the same
 * hash by OpenSSL's PKCS5_PBKDF2_HMAC, what pbkdf2.c replaces (kdf_openssl_per_s).
 *
 *   limits [--seconds S] [--keys-dir DIR]
 *
 * Prints one JSON object: {"sign_per_s": …, "kdf_per_s": …, "kdf_openssl_per_s": …,
 * "sign_n": …, "kdf_n": …}.
 * Without --keys-dir, a fresh ES256 key is made in a temporary directory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "dockhand/jwt.h"
#include "dockhand/keys.h"
#include "dockhand/secret.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Claims of the size the realm signs: one repository scope, a 128-bit jti. */
static int claims_text(char *out, size_t cap, unsigned long i)
{
    long now = (long)time(NULL);
    return snprintf(
        out, cap,
        "{\"iss\":\"dockhand\",\"sub\":\"robot$bench00042\",\"aud\":\"dockhand-registry\","
        "\"exp\":%ld,\"nbf\":%ld,\"iat\":%ld,\"jti\":\"bench-%022lu\","
        "\"access\":[{\"type\":\"repository\",\"name\":\"proj00042/app\","
        "\"actions\":[\"pull\",\"push\"]}]}",
        now + 1800, now, now, i);
}

static int measure_sign(const struct sign_key *key, double seconds, double *rate,
                        unsigned long *count)
{
    char claims[512];
    unsigned long n = 0;
    double start = now_s(), end = start;

    do {
        /* Check the clock every 64 signatures: a clock read is cheap, but not free. */
        for (int j = 0; j < 64; j++, n++) {
            char *tok = NULL;
            int len = claims_text(claims, sizeof(claims), n);
            if (len < 0 || (size_t)len >= sizeof(claims) ||
                jwt_sign(key, claims, (size_t)len, &tok) < 0) {
                fprintf(stderr, "limits: jwt_sign failed\n");
                return -1;
            }
            free(tok);
        }
        end = now_s();
    } while (end - start < seconds);
    *rate = (double)n / (end - start);
    *count = n;
    return 0;
}

static int measure_kdf(double seconds, double *rate, unsigned long *count)
{
    static const char secret[] = "Bench-1-secretA1";
    char *stored = NULL;
    unsigned long n = 0;
    double start, end;

    if (secret_hash_salt(secret, sizeof(secret) - 1, SECRET_ITER_GENERATED, "benchsalt1", &stored) <
        0) {
        fprintf(stderr, "limits: secret_hash_salt failed\n");
        return -1;
    }
    start = end = now_s();
    do {
        if (secret_verify(secret, sizeof(secret) - 1, stored) != 1) {
            fprintf(stderr, "limits: secret_verify did not match\n");
            free(stored);
            return -1;
        }
        n++;
        end = now_s();
    } while (end - start < seconds);
    free(stored);
    *rate = (double)n / (end - start);
    *count = n;
    return 0;
}

/* The same derivation as secret_verify's, by OpenSSL's own PBKDF2. */
static int measure_kdf_openssl(double seconds, double *rate)
{
    static const char secret[] = "Bench-1-secretA1", salt[] = "benchsalt1";
    unsigned char dk[SECRET_HASH_BYTES];
    unsigned long n = 0;
    double start = now_s(), end = start;
    do {
        if (PKCS5_PBKDF2_HMAC(secret, sizeof(secret) - 1, (const unsigned char *)salt,
                              sizeof(salt) - 1, SECRET_ITER_GENERATED, EVP_sha256(), sizeof(dk),
                              dk) != 1) {
            fprintf(stderr, "limits: PKCS5_PBKDF2_HMAC failed\n");
            return -1;
        }
        n++;
        end = now_s();
    } while (end - start < seconds);
    *rate = (double)n / (end - start);
    return 0;
}

static void remove_dir(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s.key", dir, name);
    unlink(path);
    snprintf(path, sizeof(path), "%s/%s.crt", dir, name);
    unlink(path);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    double seconds = 3.0, sign_rate = 0, kdf_rate = 0, kdf_openssl_rate = 0;
    unsigned long sign_n = 0, kdf_n = 0;
    const char *keys_dir = NULL;
    char tmp[] = "/tmp/dockhand-limits-XXXXXX", name[64] = "";
    struct keyring *ring = NULL;
    int status = 1;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--keys-dir") == 0 && i + 1 < argc)
            keys_dir = argv[++i];
        else {
            fprintf(stderr, "usage: limits [--seconds S] [--keys-dir DIR]\n");
            return 2;
        }
    }
    if (seconds <= 0)
        seconds = 0.1;
    if (!keys_dir) {
        if (!mkdtemp(tmp)) {
            fprintf(stderr, "limits: mkdtemp: %s\n", strerror(errno));
            return 1;
        }
        if (keys_generate(tmp, "ES256", "dockhand-bench", 1, name, sizeof(name)) < 0) {
            fprintf(stderr, "limits: keys_generate failed\n");
            rmdir(tmp);
            return 1;
        }
        keys_dir = tmp;
    }
    if (keyring_load(keys_dir, KID_LIBTRUST, &ring) < 0) {
        fprintf(stderr, "limits: no usable key in %s\n", keys_dir);
        goto out;
    }
    if (measure_sign(&ring->keys[0], seconds, &sign_rate, &sign_n) < 0 ||
        measure_kdf(seconds, &kdf_rate, &kdf_n) < 0 ||
        measure_kdf_openssl(seconds, &kdf_openssl_rate) < 0)
        goto out;
    printf("{\"sign_per_s\": %.1f, \"kdf_per_s\": %.1f, \"kdf_openssl_per_s\": %.1f, "
           "\"sign_n\": %lu, \"kdf_n\": %lu, \"alg\": \"%s\"}\n",
           sign_rate, kdf_rate, kdf_openssl_rate, sign_n, kdf_n, key_alg_name(ring->keys[0].alg));
    status = 0;
out:
    keyring_free(ring);
    if (name[0])
        remove_dir(tmp, name);
    return status;
}
