/* Unit tests for the store's error type and shared helpers (store_err.c, store_util.c):
 * the parts that need no database. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "check.h"
#include "dockhand/db.h"
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

/* store_list_read on a result made without a server (PQmakeEmptyPGresult). */
struct item {
    char *text;
};

static size_t freed_count = 99;

static int item_from_row(const PGresult *res, int row, void *elem)
{
    struct item *it = elem;
    const char *v = PQgetvalue(res, row, 0);
    if (strcmp(v, "bad") == 0)
        return DH_ERR_INVALID;
    it->text = strdup(v);
    return it->text ? 0 : DH_ERR_NOMEM;
}

static void items_free(void *list, size_t n)
{
    struct item *items = list;
    for (size_t i = 0; i < n; i++)
        free(items[i].text);
    free(items);
    freed_count = n;
}

static PGresult *one_column(const char *const *values, int n)
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc col = {.name = "v", .format = 0, .typid = 25, .typlen = -1, .atttypmod = -1};
    if (!res || !PQsetResultAttrs(res, 1, &col))
        return res;
    for (int i = 0; i < n; i++)
        PQsetvalue(res, i, 0, (char *)values[i], (int)strlen(values[i]));
    return res;
}

static void test_list_read(void)
{
    const char *good[] = {"a", "b", "c"};
    PGresult *res = one_column(good, 3);
    void *out = NULL;
    size_t n = 99;
    CHECK(store_list_read(res, sizeof(struct item), item_from_row, items_free, &out, &n) == 0);
    CHECK(n == 3);
    struct item *items = out;
    CHECK(items && strcmp(items[0].text, "a") == 0 && strcmp(items[2].text, "c") == 0);
    CHECK(items && items[3].text == NULL); /* one zeroed element past the end */
    items_free(out, n);
    PQclear(res);

    /* Row 3 fails: the two rows read are freed, the row's code comes back, nothing is out. */
    const char *bad[] = {"a", "b", "bad", "d"};
    res = one_column(bad, 4);
    freed_count = 99;
    out = (void *)1;
    CHECK(store_list_read(res, sizeof(struct item), item_from_row, items_free, &out, &n) ==
          DH_ERR_INVALID);
    CHECK(out == NULL && n == 0);
    CHECK(freed_count == 3); /* the failed row counts: it may hold part of its copies */
    PQclear(res);

    /* No rows: an array of one zeroed element, n 0. */
    res = one_column(NULL, 0);
    CHECK(store_list_read(res, sizeof(struct item), item_from_row, items_free, &out, &n) == 0);
    CHECK(out != NULL && n == 0);
    free(out);
    PQclear(res);
}

/* A migration declares the oldest binary schema that keeps working after it with a line
 * "-- oldest-binary-schema: N" (README "Upgrades"); none, or a malformed one, means only
 * binaries of its own version. */
static void test_migration_oldest_binary(void)
{
    CHECK(db_migration_oldest_binary("CREATE TABLE t (a int);\n", 11) == 11);
    CHECK(db_migration_oldest_binary("-- oldest-binary-schema: 9\nALTER TABLE t ADD b int;", 11) ==
          9);
    CHECK(db_migration_oldest_binary("-- Adds b.\n--\n-- oldest-binary-schema: 10\nALTER ...",
                                     11) == 10);
    /* Only at the start of a line; a number at most the migration's own, above 0. */
    CHECK(db_migration_oldest_binary("SELECT 1; -- oldest-binary-schema: 9\n", 11) == 11);
    CHECK(db_migration_oldest_binary("-- oldest-binary-schema: 12\n", 11) == 11);
    CHECK(db_migration_oldest_binary("-- oldest-binary-schema: 0\n", 11) == 11);
    CHECK(db_migration_oldest_binary("-- oldest-binary-schema: x\n", 11) == 11);
    CHECK(db_migration_oldest_binary("-- oldest-binary-schema:\n", 11) == 11);
    CHECK(db_migration_oldest_binary("-- oldest-binary-schema:\n9\n", 11) == 11);
    CHECK(db_migration_oldest_binary("-- oldest-binary-schema: 9x\n", 11) == 11);
    CHECK(db_migration_oldest_binary("-- oldest-binary-schema: 9", 11) == 9);
    /* The first well-formed line counts. */
    CHECK(db_migration_oldest_binary("-- oldest-binary-schema: x\n-- oldest-binary-schema: 8\n",
                                     11) == 8);
}

int main(void)
{
    test_migration_oldest_binary();
    test_store_fail();
    test_id_text_and_digits();
    test_text_ok();
    test_utf8_prefix();
    test_id_cmp();
    test_list_read();
    return check_done();
}
