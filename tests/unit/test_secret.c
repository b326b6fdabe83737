/* Unit tests for src/secret.c: generation, the manual policy, the PBKDF2 hash format. */
#include "check.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "dockhand/pbkdf2.h"
#include "dockhand/secret.h"

/* Computed independently with
 *   python3 -c "import hashlib; print(hashlib.pbkdf2_hmac('sha256', SECRET, SALT, N, LEN).hex())"
 * Harbor stores exactly hex(pbkdf2_sha256(secret, salt_ascii, 4096, 16)). */
static const struct {
    const char *secret, *salt;
    unsigned iterations;
    const char *hex;
} vectors[] = {
    {"Harbor12345", "saltsaltsalt", 4096, "f749bc5b8b81476ecc49d57d1e79008e"},
    {"Abcdefgh1", "dockhandsalt", 1000, "6e5eeb3c293feef7b918ac8362009bf3"},
    {"ZyXwVu9876", "QWERTYuiop1234567890asdfghjklzxc", 4096, "1365fff0dba20dbfbd82bc87ca93a132"},
    {"p", "s", 1, "372cc9815244c4a2b75955b1358cde09"},
    {"P\xc3\xa4ssw\xc3\xb6rd1X", "saltsaltsalt", 4096, "65b71b958d00509811fc572d8b596cfa"},
};

static void test_vectors(void)
{
    char want[SECRET_HASH_MAX];

    for (size_t i = 0; i < DH_ARRAY_SIZE(vectors); ++i) {
        const char *secret = vectors[i].secret;
        char *h = NULL;

        snprintf(want, sizeof(want), "pbkdf2-sha256$%u$%s$%s", vectors[i].iterations,
                 vectors[i].salt, vectors[i].hex);
        CHECK(secret_hash_salt(secret, strlen(secret), vectors[i].iterations, vectors[i].salt,
                               &h) == 0);
        CHECK_STR(h, want);
        CHECK(secret_verify(secret, strlen(secret), want) == 1);
        CHECK(secret_verify("Harbor1234", 10, want) == 0);
        free(h);
    }

    /* A 32-byte derived key (stored by some other tool) verifies too; python3:
     * pbkdf2_hmac('sha256', b'pass', b'word', 2, 32). */
    CHECK(secret_verify("pass", 4,
                        "pbkdf2-sha256$2$word$6637c4e7c97346166821e1b09cede9228e718632c6833530"
                        "1ac127118be94962") == 1);
    CHECK(secret_verify("pass", 4,
                        "pbkdf2-sha256$2$words$6637c4e7c97346166821e1b09cede9228e718632c6833530"
                        "1ac127118be94962") == 0);
    /* Upper-case hex is read as the same bytes. */
    CHECK(secret_verify("Harbor12345", 11,
                        "pbkdf2-sha256$4096$saltsaltsalt$F749BC5B8B81476ECC49D57D1E79008E") == 1);
    /* An empty salt: what Harbor 2.2+ leaves for a legacy robot whose secret it refreshed.
     * python3: pbkdf2_hmac('sha256', b'Harbor12345', b'', 4096, 16). */
    CHECK(secret_verify("Harbor12345", 11,
                        "pbkdf2-sha256$4096$$725c3fe4186dd06af23d085ea2cf06c9") == 1);
    CHECK(secret_verify("Harbor12346", 11,
                        "pbkdf2-sha256$4096$$725c3fe4186dd06af23d085ea2cf06c9") == 0);
}

static void test_manual_iterations(void)
{
    /* python3: pbkdf2_hmac('sha256', b'Manual-Secret-9', b'aB3d…xY', 600000, 16). One run of
     * 600,000 iterations only: it is slow under valgrind. */
    static const char stored[] = "pbkdf2-sha256$600000$aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY$"
                                 "eb45ea4863511e5d8dcc9441b45cce7b";

    CHECK(secret_verify("Manual-Secret-9", 15, stored) == 1);
}

static void test_hash_fresh_salt(void)
{
    char *a = NULL, *b = NULL;
    const char *salt, *end;

    CHECK(secret_hash("Harbor12345", 11, SECRET_ITER_GENERATED, &a) == 0);
    CHECK(secret_hash("Harbor12345", 11, SECRET_ITER_GENERATED, &b) == 0);
    if (!a || !b)
        abort();
    CHECK(strncmp(a, "pbkdf2-sha256$4096$", 19) == 0);
    CHECK(strcmp(a, b) != 0); /* a fresh salt each time */
    salt = a + 19;
    end = strchr(salt, '$');
    CHECK(end && (size_t)(end - salt) == SECRET_SALT_LEN);
    CHECK(end && strlen(end + 1) == 2 * SECRET_HASH_BYTES);
    CHECK(strlen(a) <= SECRET_HASH_MAX);
    CHECK(secret_verify("Harbor12345", 11, a) == 1);
    CHECK(secret_verify("Harbor12345", 11, b) == 1);
    CHECK(secret_verify("harbor12345", 11, a) == 0);
    CHECK(secret_verify("Harbor12345", 10, a) == 0); /* a prefix */
    CHECK(secret_verify("Harbor12345x", 12, a) == 0);
    CHECK(secret_verify("", 0, a) == 0);
    free(a);
    free(b);

    /* The secret is bytes with a length: a NUL inside is hashed, not a terminator. */
    CHECK(secret_hash("ab\0cd", 5, 10, &a) == 0);
    CHECK(a && secret_verify("ab\0cd", 5, a) == 1);
    CHECK(a && secret_verify("ab\0ce", 5, a) == 0);
    CHECK(a && secret_verify("ab", 2, a) == 0);
    free(a);
}

static void test_hash_arguments(void)
{
    char *h = (char *)0x1;

    CHECK(secret_hash_salt("x", 1, 0, "salt", &h) == DH_ERR_INVALID);
    CHECK(h == NULL);
    CHECK(secret_hash_salt("x", 1, 10000001, "salt", &h) == DH_ERR_INVALID);
    CHECK(secret_hash_salt("x", 1, 10, "", &h) == DH_ERR_INVALID);
    CHECK(secret_hash_salt("x", 1, 10, NULL, &h) == DH_ERR_INVALID);
    CHECK(secret_hash_salt("x", 1, 10, "sa$lt", &h) == DH_ERR_INVALID);
    CHECK(secret_hash_salt("x", 1, 10, "sa lt", &h) == DH_ERR_INVALID);
    CHECK(secret_hash_salt("x", 1, 10, "sa\nlt", &h) == DH_ERR_INVALID);
    CHECK(secret_hash_salt("x", 1, 10, "s\xc3\xa4lt", &h) == DH_ERR_INVALID);
    CHECK(secret_hash_salt("x", SECRET_MAX_LEN + 1, 10, "salt", &h) == DH_ERR_INVALID);
    CHECK(h == NULL);
}

static void test_verify_malformed(void)
{
    static const char *const bad[] = {
        "",
        "pbkdf2-sha256",
        "pbkdf2-sha256$",
        "pbkdf2-sha256$4096",
        "pbkdf2-sha256$4096$saltsaltsalt",
        "pbkdf2-sha256$4096$saltsaltsalt$",
        "pbkdf2-sha1$4096$saltsaltsalt$f749bc5b8b81476ecc49d57d1e79008e",
        "PBKDF2-SHA256$4096$saltsaltsalt$f749bc5b8b81476ecc49d57d1e79008e",
        "bcrypt$2b$10$abcdefghijklmnopqrstuv",
        "f749bc5b8b81476ecc49d57d1e79008e",
        " pbkdf2-sha256$4096$saltsaltsalt$f749bc5b8b81476ecc49d57d1e79008e",
        "pbkdf2-sha256$4096$saltsaltsalt$f749bc5b8b81476ecc49d57d1e79008e ",
        "pbkdf2-sha256$4096$saltsaltsalt$f749bc5b8b81476ecc49d57d1e79008e\n",
        "pbkdf2-sha256$4096$saltsaltsalt$f749bc5b8b81476ecc49d57d1e79008e$",
        /* iteration counts: zero, leading zero, sign, absurd, non-digits, missing */
        "pbkdf2-sha256$0$saltsaltsalt$f749bc5b8b81476ecc49d57d1e79008e",
        "pbkdf2-sha256$04096$saltsaltsalt$f749bc5b8b81476ecc49d57d1e79008e",
        "pbkdf2-sha256$+4096$saltsaltsalt$f749bc5b8b81476ecc49d57d1e79008e",
        "pbkdf2-sha256$-1$saltsaltsalt$f749bc5b8b81476ecc49d57d1e79008e",
        "pbkdf2-sha256$10000001$saltsaltsalt$f749bc5b8b81476ecc49d57d1e79008e",
        "pbkdf2-sha256$99999999$saltsaltsalt$f749bc5b8b81476ecc49d57d1e79008e",
        "pbkdf2-sha256$4294967296$saltsaltsalt$f749bc5b8b81476ecc49d57d1e79008e",
        "pbkdf2-sha256$18446744073709551617$saltsaltsalt$f749bc5b8b81476ecc49d57d1e79008e",
        "pbkdf2-sha256$4k$saltsaltsalt$f749bc5b8b81476ecc49d57d1e79008e",
        "pbkdf2-sha256$ 4096$saltsaltsalt$f749bc5b8b81476ecc49d57d1e79008e",
        "pbkdf2-sha256$$saltsaltsalt$f749bc5b8b81476ecc49d57d1e79008e",
        /* salts: empty, with space or control, non-ASCII */
        "pbkdf2-sha256$4096$salt salt$f749bc5b8b81476ecc49d57d1e79008e",
        "pbkdf2-sha256$4096$salt\tsalt$f749bc5b8b81476ecc49d57d1e79008e",
        "pbkdf2-sha256$4096$s\xc3\xa4lt$f749bc5b8b81476ecc49d57d1e79008e",
        /* hash: odd, short, long, non-hex */
        "pbkdf2-sha256$4096$saltsaltsalt$f749bc5b8b81476ecc49d57d1e79008",
        "pbkdf2-sha256$4096$saltsaltsalt$f749bc5b8b81476ecc49d57d1e7900",
        "pbkdf2-sha256$4096$saltsaltsalt$f749bc5b8b81476ecc49d57d1e79008g",
        "pbkdf2-sha256$4096$saltsaltsalt$f749bc5b8b81476ecc49d57d1e79008e"
        "f749bc5b8b81476ecc49d57d1e79008ef749bc5b8b81476ecc49d57d1e79008e"
        "f749bc5b8b81476ecc49d57d1e79008e00",
        "pbkdf2-sha256$4096$saltsaltsalt$0xf749bc5b8b81476ecc49d57d1e7900",
    };
    char *huge = malloc(SECRET_HASH_MAX + 64);

    for (size_t i = 0; i < DH_ARRAY_SIZE(bad); ++i) {
        int r = secret_verify("Harbor12345", 11, bad[i]);
        ++check_n;
        if (r == DH_ERR_INVALID) {
            printf("ok %d - malformed stored hash %zu refused\n", check_n, i);
        } else {
            ++check_failed;
            printf("not ok %d - malformed stored hash %zu gave %d\n", check_n, i, r);
        }
    }
    CHECK(secret_verify("Harbor12345", 11, NULL) == DH_ERR_INVALID);

    /* Longer than any stored hash may be (a long salt). */
    if (!huge)
        abort();
    snprintf(huge, SECRET_HASH_MAX + 64, "pbkdf2-sha256$4096$%0*d$%s", SECRET_HASH_MAX, 7,
             "f749bc5b8b81476ecc49d57d1e79008e");
    CHECK(secret_verify("Harbor12345", 11, huge) == DH_ERR_INVALID);
    free(huge);

    /* A malformed stored hash is reported even for an over-long secret. */
    CHECK(secret_verify("x", SECRET_MAX_LEN + 1, "garbage") == DH_ERR_INVALID);
}

static void test_verify_overlong_secret(void)
{
    char *secret = malloc(SECRET_MAX_LEN + 1), *h = NULL;

    if (!secret)
        abort();
    memset(secret, 'A', SECRET_MAX_LEN + 1);
    CHECK(secret_hash(secret, SECRET_MAX_LEN, 10, &h) == 0);
    CHECK(h && secret_verify(secret, SECRET_MAX_LEN, h) == 1);
    CHECK(h && secret_verify(secret, SECRET_MAX_LEN + 1, h) == 0);
    free(h);
    free(secret);
}

static void test_dummy(void)
{
    const char *d = secret_dummy_hash();
    char want[32];

    snprintf(want, sizeof(want), "pbkdf2-sha256$%d$", SECRET_ITER_MANUAL);
    CHECK(d && strncmp(d, want, strlen(want)) == 0);
    CHECK(d == secret_dummy_hash());
    CHECK(secret_verify("Harbor12345", 11, d) == 0);
    CHECK(secret_verify("", 0, d) == 0);
    CHECK(secret_verify("robot$unknown:whatever", 22, d) == 0);

    /* The setting moves the dummy and the padding; out of range is ignored. */
    secret_set_slow_iterations(SECRET_ITER_SLOW_MIN);
    snprintf(want, sizeof(want), "pbkdf2-sha256$%d$", SECRET_ITER_SLOW_MIN);
    CHECK(strncmp(secret_dummy_hash(), want, strlen(want)) == 0);
    CHECK(secret_slow_iterations() == SECRET_ITER_SLOW_MIN);
    secret_set_slow_iterations(SECRET_ITER_SLOW_MIN - 1);
    CHECK(secret_slow_iterations() == SECRET_ITER_SLOW_MIN);

    /* secret_verify_even answers as secret_verify, refused or not. */
    char *h = NULL;
    CHECK(secret_hash("Harbor12345", 11, SECRET_ITER_GENERATED, &h) == 0);
    CHECK(secret_verify_even("Harbor12345", 11, h, false) == 1);
    CHECK(secret_verify_even("Harbor12345", 11, h, true) == 1);
    CHECK(secret_verify_even("Harbor12346", 11, h, false) == 0);
    CHECK(secret_verify_even("Harbor12345", 11, "pbkdf2-sha256$x", false) == DH_ERR_INVALID);
    CHECK(secret_verify_even("", 0, secret_dummy_hash(), true) == 0);
    free(h);
    secret_set_slow_iterations(SECRET_ITER_MANUAL);
}

static bool is_alnum(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int alnum_index(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    return c - '0' + 52;
}

static void test_generate(void)
{
    enum { DRAWS = 4000 }; /* 128,000 characters */
    static unsigned counts[62];
    char s[SECRET_GEN_LEN + 1], first[SECRET_GEN_LEN + 1];
    bool shape_ok = true, classes_ok = true, policy_ok = true, distinct = true;
    double chi2 = 0, expected;
    unsigned lo = ~0u, hi = 0;

    CHECK(secret_generate(first) == 0);
    for (int d = 0; d < DRAWS; ++d) {
        bool up = false, low = false, dig = false;

        memset(s, '#', sizeof(s));
        if (secret_generate(s) != 0) {
            shape_ok = false;
            break;
        }
        if (strlen(s) != SECRET_GEN_LEN)
            shape_ok = false;
        for (int i = 0; i < SECRET_GEN_LEN; ++i) {
            if (!is_alnum(s[i])) {
                shape_ok = false;
                continue;
            }
            up |= s[i] >= 'A' && s[i] <= 'Z';
            low |= s[i] >= 'a' && s[i] <= 'z';
            dig |= s[i] >= '0' && s[i] <= '9';
            ++counts[alnum_index(s[i])];
        }
        classes_ok &= up && low && dig;
        policy_ok &= secret_policy_check(s, strlen(s)) == NULL;
        distinct &= strcmp(s, first) != 0;
    }
    CHECK(shape_ok);
    CHECK(classes_ok);
    CHECK(policy_ok);
    CHECK(distinct);

    /* Roughly uniform: chi-square over 62 cells (61 degrees of freedom; mean 61, sd 11).
     * Requiring every class skews the counts a little towards digits (10 of 62), well
     * inside this bound; a modulo-biased generator (first 8 characters 5/4 as likely)
     * lands far beyond it. */
    expected = (double)DRAWS * SECRET_GEN_LEN / 62;
    for (int i = 0; i < 62; ++i) {
        double dlt = counts[i] - expected;
        chi2 += dlt * dlt / expected;
        lo = counts[i] < lo ? counts[i] : lo;
        hi = counts[i] > hi ? counts[i] : hi;
    }
    printf("# chi-square %.1f, counts %u..%u (expected %.0f)\n", chi2, lo, hi, expected);
    CHECK(chi2 < 150);
    CHECK(lo > expected * 0.85 && hi < expected * 1.15);
}

static void test_random_alnum(void)
{
    char salt[SECRET_SALT_LEN + 2];
    bool ok = true;

    memset(salt, '#', sizeof(salt));
    CHECK(secret_random_alnum(salt, SECRET_SALT_LEN) == 0);
    CHECK(strlen(salt) == SECRET_SALT_LEN);
    CHECK(salt[SECRET_SALT_LEN + 1] == '#'); /* wrote len characters and a NUL, no more */
    for (int i = 0; i < SECRET_SALT_LEN; ++i)
        ok &= is_alnum(salt[i]);
    CHECK(ok);
    CHECK(secret_random_alnum(salt, 0) == 0);
    CHECK(salt[0] == '\0');
}

static void test_policy(void)
{
    char big[SECRET_MANUAL_MAX + 2];

    CHECK(secret_policy_check("Abcdefg1", 8) == NULL);
    CHECK(secret_policy_check("Harbor12345", 11) == NULL);
    CHECK(secret_policy_check("P\xc3\xa4ssw\xc3\xb6rd1", 11) == NULL);
    CHECK(secret_policy_check("with spaces & symbols: A1 $!", 28) == NULL);
    CHECK(secret_policy_check("Abcdef1", 7) != NULL); /* too short */
    CHECK(secret_policy_check("", 0) != NULL);
    CHECK(secret_policy_check("abcdefg1", 8) != NULL); /* no upper */
    CHECK(secret_policy_check("ABCDEFG1", 8) != NULL); /* no lower */
    CHECK(secret_policy_check("Abcdefgh", 8) != NULL); /* no digit */
    /* Ä is no ASCII upper-case letter. */
    CHECK(secret_policy_check("\xc3\x84\xc3\xa4\xc3\xa4\xc3\xa4"
                              "1",
                              9) != NULL);
    CHECK(secret_policy_check("Abc\0efg1", 8) != NULL); /* NUL */
    CHECK(secret_policy_check("Abcdefg1\xff", 9) != NULL);
    CHECK(secret_policy_check("Abcdefg1\xed\xa0\x80", 11) != NULL);

    memset(big, 'a', sizeof(big));
    big[0] = 'A';
    big[1] = '1';
    CHECK(secret_policy_check(big, SECRET_MANUAL_MAX) == NULL);
    CHECK(secret_policy_check(big, SECRET_MANUAL_MAX + 1) != NULL);

    /* The message never repeats the secret. */
    {
        const char *m = secret_policy_check("zzzzzzzzzQ", 10);
        CHECK(m && !strstr(m, "zzzz"));
    }
}

/* pbkdf2.c against OpenSSL's PKCS5_PBKDF2_HMAC on the same random inputs: passwords
 * shorter and longer than SHA-256's block (a long key is hashed first), empty ones, salts
 * up to 130 bytes, outputs of one byte to three blocks, counts of 1 to 40 and 4,096. */
static void test_pbkdf2_matches_openssl(void)
{
    unsigned char pass[200], salt[130], mine[100], ref[100];
    int same = 0, rounds = 300;
    for (int i = 0; i < rounds; i++) {
        unsigned char r[4];
        if (RAND_bytes(r, sizeof(r)) != 1 || RAND_bytes(pass, sizeof(pass)) != 1 ||
            RAND_bytes(salt, sizeof(salt)) != 1)
            break;
        size_t pl = r[0] % sizeof(pass), sl = r[1] % sizeof(salt), ol = 1 + r[2] % sizeof(mine);
        unsigned it = i % 50 == 0 ? 4096 : 1 + r[3] % 40;
        memset(mine, 0xAA, sizeof(mine));
        same += pbkdf2_sha256(pass, pl, salt, sl, it, mine, ol) == 0 &&
                PKCS5_PBKDF2_HMAC((const char *)pass, (int)pl, salt, (int)sl, (int)it, EVP_sha256(),
                                  (int)ol, ref) == 1 &&
                memcmp(mine, ref, ol) == 0 && (ol == sizeof(mine) || mine[ol] == 0xAA);
    }
    CHECK(same == rounds);
    /* The edges: 64- and 65-byte passwords, an empty salt, exactly 32 and 33 bytes out. */
    static const size_t lens[][3] = {{64, 8, 32}, {65, 8, 33}, {0, 0, 32}, {63, 0, 64}};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        CHECK(pbkdf2_sha256(pass, lens[i][0], salt, lens[i][1], 3, mine, lens[i][2]) == 0);
        CHECK(PKCS5_PBKDF2_HMAC((const char *)pass, (int)lens[i][0], salt, (int)lens[i][1], 3,
                                EVP_sha256(), (int)lens[i][2], ref) == 1);
        CHECK(memcmp(mine, ref, lens[i][2]) == 0);
    }
    CHECK(pbkdf2_sha256("p", 1, "s", 1, 0, mine, 16) == DH_ERR_INVALID);
    CHECK(pbkdf2_sha256("p", 1, "s", 1, 1, mine, 0) == DH_ERR_INVALID);
}

int main(void)
{
    test_pbkdf2_matches_openssl();
    test_vectors();
    test_manual_iterations();
    test_hash_fresh_salt();
    test_hash_arguments();
    test_verify_malformed();
    test_verify_overlong_secret();
    test_dummy();
    test_generate();
    test_random_alnum();
    test_policy();
    return check_done();
}
