/* Unit tests for src/encoding.c: base64, base64url, base32, hex, percent-decoding, UTF-8. */
#include "check.h"

#include <openssl/rand.h>

#include "dockhand/encoding.h"
#include "dockhand/jsonw.h"

#include <jansson.h>

static const struct {
    const char *plain, *b64, *b64url, *b32;
} rfc4648[] = {
    {"", "", "", ""},
    {"f", "Zg==", "Zg", "MY"},
    {"fo", "Zm8=", "Zm8", "MZXQ"},
    {"foo", "Zm9v", "Zm9v", "MZXW6"},
    {"foob", "Zm9vYg==", "Zm9vYg", "MZXW6YQ"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE", "MZXW6YTB"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy", "MZXW6YTBOI"},
};

/* Decodes in with fn and reports whether it succeeded with exactly want. */
static bool decodes_to(int (*fn)(const char *, size_t, unsigned char *, size_t *), const char *in,
                       size_t inlen, const void *want, size_t wantlen)
{
    unsigned char out[256];
    size_t n = 999;

    if (fn(in, inlen, out, &n) != 0)
        return false;
    return n == wantlen && memcmp(out, want, n) == 0 && out[n] == '\0';
}

static bool rejects(int (*fn)(const char *, size_t, unsigned char *, size_t *), const char *in,
                    size_t inlen)
{
    unsigned char out[256];
    size_t n = 999;

    return fn(in, inlen, out, &n) == DH_ERR_INVALID;
}

static void test_vectors(void)
{
    char enc[64];

    for (size_t i = 0; i < DH_ARRAY_SIZE(rfc4648); ++i) {
        const char *p = rfc4648[i].plain;
        size_t n = strlen(p);

        CHECK(b64_encode(p, n, enc) == strlen(rfc4648[i].b64));
        CHECK_STR(enc, rfc4648[i].b64);
        CHECK(b64url_encode(p, n, enc) == strlen(rfc4648[i].b64url));
        CHECK_STR(enc, rfc4648[i].b64url);
        CHECK(base32_encode(p, n, enc) == strlen(rfc4648[i].b32));
        CHECK_STR(enc, rfc4648[i].b32);

        /* Standard base64: padded and unpadded both decode. */
        CHECK(decodes_to(b64_decode, rfc4648[i].b64, strlen(rfc4648[i].b64), p, n));
        CHECK(decodes_to(b64_decode, rfc4648[i].b64url, strlen(rfc4648[i].b64url), p, n));
        CHECK(decodes_to(b64url_decode, rfc4648[i].b64url, strlen(rfc4648[i].b64url), p, n));
    }
}

static void test_alphabets(void)
{
    static const unsigned char bytes[] = {0xfb, 0xff, 0xbf};
    char enc[16];

    b64_encode(bytes, 2, enc);
    CHECK_STR(enc, "+/8=");
    b64url_encode(bytes, 2, enc);
    CHECK_STR(enc, "-_8");
    b64_encode(bytes, 3, enc);
    CHECK_STR(enc, "+/+/");
    CHECK(decodes_to(b64_decode, "+/+/", 4, bytes, 3));
    CHECK(decodes_to(b64url_decode, "-_-_", 4, bytes, 3));
    /* Each alphabet refuses the other's two characters. */
    CHECK(rejects(b64_decode, "-_-_", 4));
    CHECK(rejects(b64url_decode, "+/+/", 4));
}

static void test_bad_base64(void)
{
    /* Wrong or misplaced padding. */
    CHECK(rejects(b64_decode, "Zg=", 3));
    CHECK(rejects(b64_decode, "Zg===", 5));
    CHECK(rejects(b64_decode, "Z===", 4));
    CHECK(rejects(b64_decode, "====", 4));
    CHECK(rejects(b64_decode, "=", 1));
    CHECK(rejects(b64_decode, "Zm9v=", 5));
    CHECK(rejects(b64_decode, "Zm9v====", 8));
    CHECK(rejects(b64_decode, "Zg==Zg==", 8));
    CHECK(rejects(b64_decode, "Z=g=", 4));
    CHECK(rejects(b64_decode, "Zm8==", 5));
    /* Impossible lengths. */
    CHECK(rejects(b64_decode, "Z", 1));
    CHECK(rejects(b64_decode, "Zm9vY", 5));
    CHECK(rejects(b64url_decode, "Zm9vY", 5));
    /* No whitespace, no foreign characters, no NUL inside the length. */
    CHECK(rejects(b64_decode, "Zm9 v", 5));
    CHECK(rejects(b64_decode, "Zm9v\n", 5));
    CHECK(rejects(b64_decode, " Zm9v", 5));
    CHECK(rejects(b64_decode, "Zm\0v", 4));
    CHECK(rejects(b64_decode, "Zm9v*A==", 8));
    CHECK(rejects(b64_decode, "Zm9v\xc3\xa9", 6));
    /* Non-zero bits after the last byte: a second spelling of "f" and "fo". */
    CHECK(rejects(b64_decode, "Zh==", 4));
    CHECK(rejects(b64_decode, "Zm9=", 4));
    CHECK(rejects(b64url_decode, "Zh", 2));
    /* base64url never takes padding. */
    CHECK(rejects(b64url_decode, "Zg==", 4));
    CHECK(rejects(b64url_decode, "Zm8=", 4));
    CHECK(rejects(b64url_decode, "=", 1));
}

static void test_decoded_nul_and_binary(void)
{
    static const unsigned char zero[] = {0};
    static const unsigned char bin[] = {0x00, 0x01, 0xff, 0x00};
    char enc[16];

    /* Decoded bytes are binary: NULs inside are data, and out stays NUL-terminated. */
    CHECK(decodes_to(b64_decode, "AA==", 4, zero, 1));
    b64_encode(bin, sizeof(bin), enc);
    CHECK_STR(enc, "AAH/AA==");
    CHECK(decodes_to(b64_decode, enc, strlen(enc), bin, sizeof(bin)));
    CHECK(decodes_to(b64_decode, "", 0, "", 0));
    CHECK(decodes_to(b64url_decode, "", 0, "", 0));
    /* The Basic credentials of a docker login. */
    CHECK(decodes_to(b64_decode, "cm9ib3QkY2k6czNjcjp3aXRoOmNvbG9ucw==", 36,
                     "robot$ci:s3cr:with:colons", 25));
}

static void test_round_trip_and_capacity(void)
{
    unsigned char in[200], out[B64_DECODED_CAP(B64_ENCODED_CAP(200)) + 8];
    char enc[B64_ENCODED_CAP(200) + 8];
    bool std_ok = true, url_ok = true, cap_ok = true;

    for (size_t len = 0; len <= 200; ++len) {
        size_t n, elen;

        if (RAND_bytes(in, sizeof(in)) != 1)
            abort();
        memset(enc, 0x55, sizeof(enc));
        elen = b64_encode(in, len, enc);
        if (elen + 1 != B64_ENCODED_CAP(len) || enc[elen] != '\0' ||
            enc[B64_ENCODED_CAP(len)] != 0x55)
            cap_ok = false;
        memset(out, 0xAA, sizeof(out));
        if (b64_decode(enc, elen, out, &n) != 0 || n != len || memcmp(in, out, len) != 0)
            std_ok = false;
        if (out[B64_DECODED_CAP(elen)] != 0xAA)
            cap_ok = false;

        elen = b64url_encode(in, len, enc);
        if (elen + 1 > B64_ENCODED_CAP(len) || memchr(enc, '=', elen))
            url_ok = false;
        memset(out, 0xAA, sizeof(out));
        if (b64url_decode(enc, elen, out, &n) != 0 || n != len || memcmp(in, out, len) != 0)
            url_ok = false;
        if (out[B64_DECODED_CAP(elen)] != 0xAA)
            cap_ok = false;
    }
    CHECK(std_ok);
    CHECK(url_ok);
    CHECK(cap_ok);
}

static void test_hex(void)
{
    static const unsigned char bytes[] = {0x00, 0x0f, 0xa5, 0xff};
    char out[16];

    hex_encode(bytes, sizeof(bytes), out);
    CHECK_STR(out, "000fa5ff");
    hex_encode(bytes, 0, out);
    CHECK_STR(out, "");
}

static bool pct_is(const char *in, bool plus, const char *want)
{
    char out[128];
    size_t n = 999;

    if (pct_decode(in, strlen(in), plus, out, &n) != 0)
        return false;
    return n == strlen(want) && strcmp(out, want) == 0;
}

static bool pct_rejects(const char *in, size_t len)
{
    char out[128];
    size_t n;

    return pct_decode(in, len, true, out, &n) == DH_ERR_INVALID;
}

static void test_pct(void)
{
    CHECK(pct_is("", true, ""));
    CHECK(pct_is("abc", true, "abc"));
    CHECK(pct_is("a%20b", true, "a b"));
    CHECK(pct_is("%2f%2F%3a%3A", true, "//::"));
    CHECK(pct_is("a+b", true, "a b"));
    CHECK(pct_is("a+b", false, "a+b"));
    CHECK(pct_is("%2B", true, "+"));
    CHECK(pct_is("%25", true, "%"));
    CHECK(pct_is("%2525", true, "%25"));
    CHECK(pct_is("%C3%A9", true, "\xc3\xa9"));
    CHECK(pct_is("repository%3Alibrary%2Fapp%3Apull%2Cpush", true,
                 "repository:library/app:pull,push"));
    /* Raw bytes pass through: UTF-8 is the caller's check. */
    CHECK(pct_is("\xc3\xa9", true, "\xc3\xa9"));

    CHECK(pct_rejects("%", 1));
    CHECK(pct_rejects("%2", 2));
    CHECK(pct_rejects("100%", 4));
    CHECK(pct_rejects("a%2", 3));
    CHECK(pct_rejects("%zz", 3));
    CHECK(pct_rejects("%g0", 3));
    CHECK(pct_rejects("%0g", 3));
    CHECK(pct_rejects("%-1", 3));
    CHECK(pct_rejects("% 20", 4));
    CHECK(pct_rejects("%%20", 4));
    /* A NUL, escaped or raw, never comes out. */
    CHECK(pct_rejects("%00", 3));
    CHECK(pct_rejects("a%00b", 5));
    CHECK(pct_rejects("a\0b", 3));
    /* The length bounds the input: an escape cut off by len is malformed. */
    CHECK(pct_rejects("%41", 2));
}

static void test_utf8(void)
{
    /* Valid. */
    CHECK(utf8_valid("", 0));
    CHECK(utf8_valid("plain ascii", 11));
    CHECK(utf8_valid("a\0b", 3));             /* U+0000 is well-formed; NUL is rejected elsewhere */
    CHECK(utf8_valid("\xc2\x80", 2));         /* U+0080 */
    CHECK(utf8_valid("\xc3\xa9", 2));         /* é */
    CHECK(utf8_valid("\xdf\xbf", 2));         /* U+07FF */
    CHECK(utf8_valid("\xe0\xa0\x80", 3));     /* U+0800 */
    CHECK(utf8_valid("\xe2\x82\xac", 3));     /* € */
    CHECK(utf8_valid("\xed\x9f\xbf", 3));     /* U+D7FF, just below the surrogates */
    CHECK(utf8_valid("\xee\x80\x80", 3));     /* U+E000, just above */
    CHECK(utf8_valid("\xef\xbf\xbf", 3));     /* U+FFFF */
    CHECK(utf8_valid("\xf0\x90\x80\x80", 4)); /* U+10000 */
    CHECK(utf8_valid("\xf0\x9f\x98\x80", 4)); /* U+1F600 */
    CHECK(utf8_valid("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
    CHECK(utf8_valid("x\xc3\xa9y\xe2\x82\xacz", 7));

    /* Overlong encodings. */
    CHECK(!utf8_valid("\xc0\x80", 2));
    CHECK(!utf8_valid("\xc0\xaf", 2));
    CHECK(!utf8_valid("\xc1\xbf", 2));
    CHECK(!utf8_valid("\xe0\x80\x80", 3));
    CHECK(!utf8_valid("\xe0\x9f\xbf", 3));
    CHECK(!utf8_valid("\xf0\x80\x80\x80", 4));
    CHECK(!utf8_valid("\xf0\x8f\xbf\xbf", 4));
    /* Surrogates. */
    CHECK(!utf8_valid("\xed\xa0\x80", 3));
    CHECK(!utf8_valid("\xed\xbf\xbf", 3));
    CHECK(!utf8_valid("\xed\xa0\xbd\xed\xb8\x80", 6)); /* CESU-8 pair */
    /* Beyond U+10FFFF and bytes that never occur. */
    CHECK(!utf8_valid("\xf4\x90\x80\x80", 4));
    CHECK(!utf8_valid("\xf5\x80\x80\x80", 4));
    CHECK(!utf8_valid("\xf8\x88\x80\x80\x80", 5));
    CHECK(!utf8_valid("\xfe", 1));
    CHECK(!utf8_valid("\xff", 1));
    /* Truncated sequences, at the end and in the middle. */
    CHECK(!utf8_valid("\xc3", 1));
    CHECK(!utf8_valid("\xe2\x82", 2));
    CHECK(!utf8_valid("\xf0\x9f\x98", 3));
    CHECK(!utf8_valid("a\xe2\x82", 3));
    CHECK(!utf8_valid("\xe2\x82"
                      "a",
                      3));
    CHECK(!utf8_valid("\xc3\xa9", 1)); /* cut by len */
    /* Stray or wrong continuation bytes. */
    CHECK(!utf8_valid("\x80", 1));
    CHECK(!utf8_valid("\xbf", 1));
    CHECK(!utf8_valid("a\x80"
                      "b",
                      3));
    CHECK(!utf8_valid("\xc3\x28", 2));
    CHECK(!utf8_valid("\xe2\x28\xa1", 3));
    CHECK(!utf8_valid("\xe2\x82\x28", 3));
    CHECK(!utf8_valid("\xf0\x9f\x28\x80", 4));
    CHECK(!utf8_valid("\xf0\x9f\x98\x28", 4));
    CHECK(!utf8_valid("\xc3\xa9\xa9", 3));
}

static void test_ct_equal(void)
{
    CHECK(ct_equal("abcdef", "abcdef", 6));
    CHECK(!ct_equal("abcdef", "abcdeg", 6));
    CHECK(!ct_equal("xbcdef", "abcdef", 6));
    CHECK(ct_equal("a", "b", 0));
}

/* The JSON writer: what it writes parses back (jansson) to exactly what went in. */
static void test_jsonw(void)
{
    static const char *const strings[] = {
        "",
        "plain",
        "quote\" and \\ backslash",
        "tab\tnew\nline\rcr",
        "\x01\x1f\x7f",
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xb3",
        "</script>",
        "a/b:c,d",
    };
    for (size_t i = 0; i < DH_ARRAY_SIZE(strings); i++) {
        struct jsonw w;
        jsonw_init(&w);
        jsonw_raw(&w, "{");
        jsonw_key(&w, false, "s");
        jsonw_str(&w, strings[i]);
        jsonw_key(&w, true, "n");
        jsonw_int(&w, -9007199254740993LL);
        jsonw_key(&w, true, "k\"ey");
        jsonw_int(&w, 0);
        jsonw_raw(&w, "}");
        const char *text = jsonw_text(&w);
        CHECK(text != NULL);
        json_error_t e;
        json_t *o = text ? json_loads(text, 0, &e) : NULL;
        CHECK(o != NULL);
        const char *back = json_string_value(json_object_get(o, "s"));
        CHECK(back && strcmp(back, strings[i]) == 0); /* not CHECK_STR: it would print them */
        CHECK(json_integer_value(json_object_get(o, "n")) == -9007199254740993LL);
        CHECK(json_is_integer(json_object_get(o, "k\"ey")));
        CHECK(w.len == strlen(text ? text : ""));
        json_decref(o);
        jsonw_deinit(&w);
    }
    /* Not UTF-8: the writer fails rather than write what is not JSON. */
    struct jsonw w;
    jsonw_init(&w);
    jsonw_str(&w, "ok");
    jsonw_str(&w, "bad \xff byte");
    CHECK(jsonw_text(&w) == NULL);
    jsonw_raw(&w, "more");
    CHECK(jsonw_text(&w) == NULL);
    jsonw_deinit(&w);
    /* Exact text: integers at their edges, each escape, a string needing none. */
    jsonw_init(&w);
    jsonw_int(&w, INT64_MIN);
    jsonw_raw(&w, " ");
    jsonw_int(&w, INT64_MAX);
    jsonw_raw(&w, " ");
    jsonw_int(&w, -1);
    jsonw_raw(&w, " ");
    jsonw_int(&w, 0);
    jsonw_raw(&w, " ");
    jsonw_int(&w, 1800000000);
    jsonw_raw(&w, " ");
    jsonw_str(&w, "a\"b\\c\nd\te\x01\x1f\x7f/");
    jsonw_raw(&w, " ");
    jsonw_str(&w, "repository:proj/app:pull,push");
    CHECK_STR(jsonw_text(&w), "-9223372036854775808 9223372036854775807 -1 0 1800000000 "
                              "\"a\\\"b\\\\c\\nd\\te\\u0001\\u001f\x7f/\" "
                              "\"repository:proj/app:pull,push\"");
    CHECK(w.len == strlen(jsonw_text(&w) ? jsonw_text(&w) : ""));
    jsonw_deinit(&w);
    /* Growth past the first buffer. */
    jsonw_init(&w);
    CHECK_STR(jsonw_text(&w), "");
    for (int i = 0; i < 5000; i++)
        jsonw_str(&w, "\x01");
    CHECK(jsonw_text(&w) && w.len == 5000 * 8);
    jsonw_deinit(&w);
}

int main(void)
{
    test_vectors();
    test_alphabets();
    test_bad_base64();
    test_decoded_nul_and_binary();
    test_round_trip_and_capacity();
    test_hex();
    test_pct();
    test_utf8();
    test_ct_equal();
    test_jsonw();
    return check_done();
}
