/* Unit tests for the store's error type and shared helpers (store_err.c, store_util.c):
 * the parts that need no database. */
#include <stdint.h>

#include "check.h"
#include "dockhand/store_err.h"
#include "dockhand/store_util.h"

static void test_store_fail(void)
{
    struct store_err err = {0};
    /* Each class returns a project error code, never an HTTP status. */
    CHECK(store_fail(&err, STORE_INVALID, "bad %s", "name") == DH_ERR_INVALID);
    CHECK(err.status == STORE_INVALID);
    CHECK_STR(err.msg, "bad name");
    CHECK(store_fail(&err, STORE_NOT_FOUND, "x") == DH_ERR_NOTFOUND);
    CHECK(store_fail(&err, STORE_CONFLICT, "x") == DH_ERR_EXISTS);
    CHECK(store_fail(&err, STORE_INTERNAL, "x") == DH_ERR_DB);
    CHECK(store_internal(&err) == DH_ERR_DB);
    CHECK(err.status == STORE_INTERNAL);
    CHECK_STR(err.msg, "internal server error");

    /* A long message is cut, still NUL-terminated. */
    char long_name[2 * STORE_ERR_MSG_MAX];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    CHECK(store_fail(&err, STORE_INVALID, "%s", long_name) < 0);
    CHECK(strlen(err.msg) == STORE_ERR_MSG_MAX - 1);
}

static void test_id_text_and_digits(void)
{
    char buf[STORE_ID_TEXT];
    CHECK_STR(store_id_text(buf, 0), "0");
    CHECK_STR(store_id_text(buf, INT64_MAX), "9223372036854775807");
    CHECK_STR(store_id_text(buf, INT64_MIN), "-9223372036854775808");

    CHECK(store_all_digits("1"));
    CHECK(store_all_digits("123456789012345678")); /* 18 digits: always a bigint */
    CHECK(!store_all_digits("1234567890123456789"));
    CHECK(!store_all_digits(""));
    CHECK(!store_all_digits("12a"));
    CHECK(!store_all_digits("-1"));
}

static void test_text_ok(void)
{
    CHECK(store_text_ok("a robot for CI\n\twith tabs", 100));
    CHECK(store_text_ok("caf\xc3\xa9", 5));
    CHECK(!store_text_ok("caf\xc3\xa9", 4));
    CHECK(!store_text_ok("bad \xc3", 100)); /* cut UTF-8 */
    CHECK(!store_text_ok("bell \x07", 100));
    CHECK(store_text_ok("", 0));
}

static void test_utf8_prefix(void)
{
    CHECK(store_utf8_prefix("abc", 5) == 3);
    CHECK(store_utf8_prefix("abc", 3) == 3);
    CHECK(store_utf8_prefix("abcd", 3) == 3);
    /* "a" + é (2 bytes): at 2 bytes the é would be split, so 1. */
    CHECK(store_utf8_prefix("a\xc3\xa9", 2) == 1);
    CHECK(store_utf8_prefix("a\xc3\xa9", 3) == 3);
    /* A 4-byte sequence is kept whole or dropped whole. */
    CHECK(store_utf8_prefix("\xf0\x9f\x90\xb3x", 3) == 0);
    CHECK(store_utf8_prefix("\xf0\x9f\x90\xb3x", 4) == 4);
}

static void test_id_cmp(void)
{
    int64_t a = -5, b = 7, c = 7;
    CHECK(store_id_cmp(&a, &b) < 0);
    CHECK(store_id_cmp(&b, &a) > 0);
    CHECK(store_id_cmp(&b, &c) == 0);
    int64_t big = INT64_MAX, small = INT64_MIN; /* no overflow of a subtraction */
    CHECK(store_id_cmp(&small, &big) < 0);
}

int main(void)
{
    test_store_fail();
    test_id_text_and_digits();
    test_text_ok();
    test_utf8_prefix();
    test_id_cmp();
    return check_done();
}
