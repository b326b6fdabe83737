#include "dockhand/secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "dockhand/encoding.h"
#include "dockhand/pbkdf2.h"

#define SECRET_PREFIX "pbkdf2-sha256$"
#define SECRET_ITER_MAX 10000000u /* a stored count above this is corrupt, not careful */
#define SECRET_ITER_DIGITS 8      /* digits of SECRET_ITER_MAX */
#define SECRET_SALT_MAX 128       /* longest salt accepted, ours or imported */
#define SECRET_DK_MIN 16          /* shortest derived key a stored hash may hold */
#define SECRET_DK_MAX 64          /* longest */
#define SECRET_GEN_TRIES 100      /* a 32-character draw lacks a class ~0.5% of the time */

static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/* Bytes at or above 248 (= 4 * 62) are drawn again so that every character is equally
 * likely: 256 is not a multiple of 62. */
#define ALNUM_LIMIT (256 - 256 % (sizeof(alnum) - 1))

int secret_random_alnum(char *out, size_t len)
{
    unsigned char buf[64];
    size_t o = 0;
    int r = 0;

    while (o < len) {
        if (RAND_bytes(buf, sizeof(buf)) != 1) {
            r = DH_ERR_CRYPTO;
            o = 0;
            goto out;
        }
        for (size_t i = 0; i < sizeof(buf) && o < len; ++i)
            if (buf[i] < ALNUM_LIMIT)
                out[o++] = alnum[buf[i] % (sizeof(alnum) - 1)];
    }
out:
    out[o] = '\0';
    OPENSSL_cleanse(buf, sizeof(buf));
    return r;
}

struct char_classes {
    bool upper, lower, digit;
};

static struct char_classes classes_of(const char *s, size_t len)
{
    struct char_classes c = {false, false, false};

    for (size_t i = 0; i < len; ++i) {
        if (s[i] >= 'A' && s[i] <= 'Z')
            c.upper = true;
        else if (s[i] >= 'a' && s[i] <= 'z')
            c.lower = true;
        else if (s[i] >= '0' && s[i] <= '9')
            c.digit = true;
    }
    return c;
}

int secret_generate(char out[SECRET_GEN_LEN + 1])
{
    /* Drawing again until every class appears keeps the result uniform over the
     * acceptable secrets. */
    for (int tries = 0; tries < SECRET_GEN_TRIES; ++tries) {
        struct char_classes c;
        int r = secret_random_alnum(out, SECRET_GEN_LEN);

        if (r < 0)
            return r;
        c = classes_of(out, SECRET_GEN_LEN);
        if (c.upper && c.lower && c.digit)
            return 0;
    }
    OPENSSL_cleanse(out, SECRET_GEN_LEN);
    out[0] = '\0';
    return DH_ERR_CRYPTO;
}

const char *secret_policy_check(const char *s, size_t len)
{
    struct char_classes c;

    if (len < SECRET_MANUAL_MIN)
        return "the secret must be at least 8 characters long";
    if (len > SECRET_MANUAL_MAX)
        return "the secret must be at most 128 characters long";
    if (memchr(s, '\0', len))
        return "the secret must not contain a NUL character";
    if (!utf8_valid(s, len))
        return "the secret must be valid UTF-8";
    c = classes_of(s, len);
    if (!c.upper || !c.lower || !c.digit)
        return "the secret must contain at least one upper-case letter, one lower-case letter "
               "and one digit";
    return NULL;
}

static bool salt_valid(const char *salt, size_t len)
{
    if (len == 0 || len > SECRET_SALT_MAX)
        return false;
    for (size_t i = 0; i < len; ++i)
        if (salt[i] <= ' ' || salt[i] > '~' || salt[i] == '$')
            return false;
    return true;
}

static int derive(const char *secret, size_t len, const char *salt, size_t salt_len,
                  unsigned iterations, unsigned char *dk, size_t dk_len)
{
    if (pbkdf2_sha256(secret, len, salt, salt_len, iterations, dk, dk_len) != 0)
        return DH_ERR_CRYPTO;
    return 0;
}

int secret_hash_salt(const char *secret, size_t len, unsigned iterations, const char *salt,
                     char **out)
{
    unsigned char dk[SECRET_HASH_BYTES];
    char hex[2 * SECRET_HASH_BYTES + 1];
    size_t salt_len = salt ? strnlen(salt, SECRET_SALT_MAX + 1) : 0;
    char *s = NULL;
    int r;

    *out = NULL;
    if (len > SECRET_MAX_LEN || iterations == 0 || iterations > SECRET_ITER_MAX ||
        !salt_valid(salt, salt_len))
        return DH_ERR_INVALID;
    r = derive(secret, len, salt, salt_len, iterations, dk, sizeof(dk));
    if (r < 0)
        goto out;
    hex_encode(dk, sizeof(dk), hex);
    s = malloc(SECRET_HASH_MAX + 1);
    if (!s) {
        r = DH_ERR_NOMEM;
        goto out;
    }
    snprintf(s, SECRET_HASH_MAX + 1, SECRET_PREFIX "%u$%s$%s", iterations, salt, hex);
    *out = s;
out:
    OPENSSL_cleanse(dk, sizeof(dk));
    return r;
}

int secret_hash(const char *secret, size_t len, unsigned iterations, char **out)
{
    char salt[SECRET_SALT_LEN + 1];
    int r;

    *out = NULL;
    r = secret_random_alnum(salt, SECRET_SALT_LEN);
    if (r < 0)
        return r;
    return secret_hash_salt(secret, len, iterations, salt, out);
}

struct parsed_hash {
    unsigned iterations;
    const char *salt;
    size_t salt_len;
    unsigned char dk[SECRET_DK_MAX];
    size_t dk_len;
};

/* pbkdf2-sha256$<iterations>$<salt>$<hex>, nothing before or after. */
static int parse_stored(const char *stored, struct parsed_hash *h)
{
    size_t total, i = sizeof(SECRET_PREFIX) - 1, start, hex_len;

    if (!stored)
        return DH_ERR_INVALID;
    total = strnlen(stored, SECRET_HASH_MAX + 1);
    if (total > SECRET_HASH_MAX || strncmp(stored, SECRET_PREFIX, i) != 0)
        return DH_ERR_INVALID;

    /* Decimal without sign or leading zero, so one count has one spelling. */
    h->iterations = 0;
    for (start = i; i < total && stored[i] >= '0' && stored[i] <= '9'; ++i) {
        if (i - start >= SECRET_ITER_DIGITS)
            return DH_ERR_INVALID;
        h->iterations = h->iterations * 10 + (unsigned)(stored[i] - '0');
    }
    if (i == start || stored[start] == '0' || h->iterations > SECRET_ITER_MAX || stored[i] != '$')
        return DH_ERR_INVALID;

    h->salt = stored + ++i;
    for (start = i; i < total && stored[i] != '$'; ++i)
        ;
    h->salt_len = i - start;
    /* An empty salt is what Harbor 2.2+ leaves for a legacy robot whose secret it
     * refreshed (its salt column is NULL); new hashes always carry one. */
    if (stored[i] != '$' || (h->salt_len != 0 && !salt_valid(h->salt, h->salt_len)))
        return DH_ERR_INVALID;

    start = ++i;
    hex_len = total - start;
    if (hex_len % 2 != 0 || hex_len < 2 * SECRET_DK_MIN || hex_len > 2 * SECRET_DK_MAX)
        return DH_ERR_INVALID;
    h->dk_len = hex_len / 2;
    for (size_t k = 0; k < h->dk_len; ++k) {
        int hi = hex_value((unsigned char)stored[start + 2 * k]),
            lo = hex_value((unsigned char)stored[start + 2 * k + 1]);
        if (hi < 0 || lo < 0)
            return DH_ERR_INVALID;
        h->dk[k] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

int secret_verify(const char *secret, size_t len, const char *stored)
{
    struct parsed_hash h;
    unsigned char dk[SECRET_DK_MAX];
    int r = parse_stored(stored, &h);

    if (r < 0)
        return r;
    /* Nothing this long was ever hashed; its length is the caller's, not a secret. */
    if (len > SECRET_MAX_LEN)
        return 0;
    r = derive(secret, len, h.salt, h.salt_len, h.iterations, dk, h.dk_len);
    if (r == 0)
        r = CRYPTO_memcmp(dk, h.dk, h.dk_len) == 0 ? 1 : 0;
    OPENSSL_cleanse(dk, sizeof(dk));
    OPENSSL_cleanse(&h, sizeof(h));
    return r;
}

/* The cost every refusal pays (secret_verify_even) and that people-chosen secrets are
 * hashed with: set once at start, before any thread reads it. */
static unsigned slow_iterations = SECRET_ITER_MANUAL;
static char dummy_hash[SECRET_HASH_MAX + 1];

void secret_set_slow_iterations(unsigned iterations)
{
    if (iterations >= SECRET_ITER_SLOW_MIN && iterations <= SECRET_ITER_MAX)
        slow_iterations = iterations;
    dummy_hash[0] = '\0';
}

unsigned secret_slow_iterations(void)
{
    return slow_iterations;
}

const char *secret_dummy_hash(void)
{
    /* Random bytes, not the output of any known secret: nothing verifies against it,
     * and checking costs exactly what a people-chosen secret's hash costs. */
    if (!dummy_hash[0])
        snprintf(dummy_hash, sizeof(dummy_hash),
                 SECRET_PREFIX
                 "%u$Qx7mN2pLk9RtW4vZ8sJc3hYd6fGb1aEu$1110ccb08930edd6baf37b1d39f5b312",
                 slow_iterations);
    return dummy_hash;
}

int secret_verify_even(const char *secret, size_t len, const char *stored, bool refused)
{
    int r = secret_verify(secret, len, stored);
    if (r == 1 && !refused)
        return r;
    /* A refusal: pay up to the slow cost whatever the stored hash cost, so the time of a
     * refusal says nothing of the account (unknown, generated or manual secret, disabled,
     * expired). The padding is PBKDF2 itself, one block, as every hash here. */
    struct parsed_hash h;
    unsigned done = parse_stored(stored, &h) == 0 && len <= SECRET_MAX_LEN ? h.iterations : 0;
    OPENSSL_cleanse(&h, sizeof(h));
    if (done < slow_iterations) {
        unsigned char dk[SECRET_HASH_BYTES];
        if (derive(secret, len > SECRET_MAX_LEN ? SECRET_MAX_LEN : len, "pad", 3,
                   slow_iterations - done, dk, sizeof(dk)) < 0 &&
            r >= 0)
            r = DH_ERR_CRYPTO;
        OPENSSL_cleanse(dk, sizeof(dk));
    }
    return r;
}
