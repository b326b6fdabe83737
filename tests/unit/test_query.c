/* The admin API's q and sort grammars and the one time grammar (query.h, timefmt.h). */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "dockhand/query.h"
#include "dockhand/timefmt.h"

static char err[QUERY_ERR_LEN];

static int parse(struct query *q, const char *s)
{
    query_deinit(q);
    return query_parse(q, s, strlen(s), err);
}

static void test_q_forms(void)
{
    struct query q = {0};
    CHECK(parse(&q, "") == 0 && q.n == 0);
    CHECK(parse(&q, "name=ci") == 0 && q.n == 1 && q.t[0].kind == QUERY_EXACT);
    CHECK_STR(q.t[0].key, "name");
    CHECK_STR(q.t[0].v[0], "ci");
    CHECK(parse(&q, "name=~lst,Level=system") == 0 && q.n == 2);
    CHECK(q.t[0].kind == QUERY_FUZZY && q.t[1].kind == QUERY_EXACT);
    CHECK_STR(q.t[0].v[0], "lst");
    CHECK_STR(q.t[1].key, "Level");
    CHECK_STR(q.t[1].v[0], "system");
    /* Empty values stay: name=~ matches every name, name= none. */
    CHECK(parse(&q, "name=~,name=") == 0 && q.n == 2);
    CHECK_STR(q.t[0].v[0], "");
    CHECK(q.t[1].kind == QUERY_EXACT);
    CHECK_STR(q.t[1].v[0], "");
    /* Only the first byte picks the kind. */
    CHECK(parse(&q, "name=a~b,x=~[y]") == 0 && q.t[0].kind == QUERY_EXACT);
    CHECK_STR(q.t[0].v[0], "a~b");
    CHECK(q.t[1].kind == QUERY_FUZZY);
    CHECK_STR(q.t[1].v[0], "[y]");
    /* Empty terms are skipped, as the robots list always did. */
    CHECK(parse(&q, ",,a=1,,b=2,") == 0 && q.n == 2);
    CHECK_STR(q.t[1].key, "b");
    /* A repeated key appears twice, in order. */
    CHECK(parse(&q, "a=1,a=2") == 0 && q.n == 2);
    CHECK_STR(q.t[1].v[0], "2");
    /* Range: commas inside, blanks around bounds dropped, open ends. */
    CHECK(parse(&q, "op_time=[2020-01-01 00:00:00 ~ 2020-01-02 00:00:00],resource=~p") == 0);
    CHECK(q.n == 2 && q.t[0].kind == QUERY_RANGE && q.t[0].n == 2);
    CHECK_STR(q.t[0].v[0], "2020-01-01 00:00:00");
    CHECK_STR(q.t[0].v[1], "2020-01-02 00:00:00");
    CHECK_STR(q.t[1].v[0], "p");
    CHECK(parse(&q, "t=[~5]") == 0);
    CHECK_STR(q.t[0].v[0], "");
    CHECK_STR(q.t[0].v[1], "5");
    CHECK(parse(&q, "t=[~]") == 0 && q.t[0].n == 2);
    CHECK(parse(&q, "t=[a,b~c]") == 0);
    CHECK_STR(q.t[0].v[0], "a,b");
    /* Set: runs of blanks, one to QUERY_MAX_SET values. */
    CHECK(parse(&q, "op={create  delete },x=1") == 0 && q.n == 2);
    CHECK(q.t[0].kind == QUERY_SET && q.t[0].n == 2);
    CHECK_STR(q.t[0].v[0], "create");
    CHECK_STR(q.t[0].v[1], "delete");
    CHECK_STR(q.t[1].v[0], "1");
    CHECK(parse(&q, "k={a}") == 0 && q.t[0].n == 1);
    query_deinit(&q);
    CHECK(q.buf == NULL && q.n == 0);
    query_deinit(&q);
    query_deinit(NULL);
}

static void test_q_errors(void)
{
    struct query q = {0};
    CHECK(parse(&q, "name") == DH_ERR_INVALID);
    CHECK(parse(&q, "name=x,level") == DH_ERR_INVALID);
    CHECK(parse(&q, "=x") == DH_ERR_INVALID);
    CHECK_STR(err, "a key is empty");
    CHECK(parse(&q, "na me=x") == DH_ERR_INVALID);
    CHECK(parse(&q, "n\xc3\xa4me=x") == DH_ERR_INVALID);
    CHECK(parse(&q, "a=(b c)") == DH_ERR_INVALID);
    /* Nesting and unbalanced brackets. */
    CHECK(parse(&q, "t=[a~b") == DH_ERR_INVALID);
    CHECK_STR(err, "unclosed [range]");
    CHECK(parse(&q, "t={a b") == DH_ERR_INVALID);
    CHECK_STR(err, "unclosed {set}");
    CHECK(parse(&q, "t=[a~[b]]") == DH_ERR_INVALID);
    CHECK_STR(err, "brackets do not nest in a value");
    CHECK(parse(&q, "t={a {b}}") == DH_ERR_INVALID);
    CHECK(parse(&q, "t=[a~b}") == DH_ERR_INVALID);
    CHECK(parse(&q, "t={a]") == DH_ERR_INVALID);
    CHECK(parse(&q, "t=[a~b]x") == DH_ERR_INVALID);
    CHECK_STR(err, "expected , after ]");
    CHECK(parse(&q, "t=[ab]") == DH_ERR_INVALID);
    CHECK(parse(&q, "t=[a~b~c]") == DH_ERR_INVALID);
    CHECK(parse(&q, "t={}") == DH_ERR_INVALID);
    CHECK(parse(&q, "t={   }") == DH_ERR_INVALID);
    /* Percent-decoding: after cutting, so an escaped comma or bracket is data. */
    CHECK(parse(&q, "name=~lst%30,x=%2C%5B") == 0 && q.n == 2);
    CHECK_STR(q.t[0].v[0], "lst0");
    CHECK_STR(q.t[1].v[0], ",[");
    CHECK(parse(&q, "t=[%7E~b]") == 0);
    CHECK_STR(q.t[0].v[0], "~");
    CHECK(parse(&q, "t={a%20b c}") == 0 && q.t[0].n == 2);
    CHECK_STR(q.t[0].v[0], "a b");
    CHECK(parse(&q, "a+b=1") == DH_ERR_INVALID); /* '+' is not a key byte ... */
    CHECK(parse(&q, "a=1+2") == 0);              /* ... and no space in a value */
    CHECK_STR(q.t[0].v[0], "1+2");
    CHECK(parse(&q, "name=%") == DH_ERR_INVALID);
    CHECK_STR(err, "malformed value");
    CHECK(parse(&q, "name=%4") == DH_ERR_INVALID);
    CHECK(parse(&q, "name=%zz") == DH_ERR_INVALID);
    CHECK(parse(&q, "name=%00") == DH_ERR_INVALID);
    CHECK(parse(&q, "t=[%00~]") == DH_ERR_INVALID);
    CHECK(parse(&q, "t={a %00}") == DH_ERR_INVALID);
    CHECK(query_parse(&q, "a=b\0c", 5, err) == DH_ERR_INVALID);
    /* Bad UTF-8, raw or escaped: a lone continuation, an overlong, a surrogate. */
    CHECK(parse(&q, "name=\x80") == DH_ERR_INVALID);
    CHECK(parse(&q, "name=%C0%AF") == DH_ERR_INVALID);
    CHECK(parse(&q, "name=%ED%A0%80") == DH_ERR_INVALID);
    CHECK(parse(&q, "name=%E2%82") == DH_ERR_INVALID);
    CHECK(parse(&q, "name=%E2%82%AC") == 0);
    CHECK_STR(q.t[0].v[0], "\xe2\x82\xac");
    query_deinit(&q);
}

static void test_q_bounds(void)
{
    struct query q = {0};
    static char big[QUERY_MAX_LEN + 64];
    char *p;

    /* Terms. */
    p = big;
    for (int i = 0; i < QUERY_MAX_TERMS; i++)
        p += sprintf(p, "%sk%d=v", i ? "," : "", i);
    CHECK(parse(&q, big) == 0 && q.n == QUERY_MAX_TERMS);
    strcpy(p, ",one=more");
    CHECK(parse(&q, big) == DH_ERR_TOOBIG);
    /* Keys. */
    memset(big, 'k', QUERY_MAX_KEY);
    strcpy(big + QUERY_MAX_KEY, "=v");
    CHECK(parse(&q, big) == 0);
    memset(big, 'k', QUERY_MAX_KEY + 1);
    strcpy(big + QUERY_MAX_KEY + 1, "=v");
    CHECK(parse(&q, big) == DH_ERR_TOOBIG);
    /* Values, counted after decoding. */
    strcpy(big, "k=~");
    memset(big + 3, 'v', QUERY_MAX_VALUE);
    big[3 + QUERY_MAX_VALUE] = '\0';
    CHECK(parse(&q, big) == 0 && strlen(q.t[0].v[0]) == QUERY_MAX_VALUE);
    strcpy(big + 3 + QUERY_MAX_VALUE, "v");
    CHECK(parse(&q, big) == DH_ERR_TOOBIG);
    p = big + sprintf(big, "k=");
    for (int i = 0; i < QUERY_MAX_VALUE; i++)
        p += sprintf(p, "%%41");
    CHECK(parse(&q, big) == 0 && strlen(q.t[0].v[0]) == QUERY_MAX_VALUE);
    strcpy(big, "t=[~");
    memset(big + 4, '1', QUERY_MAX_VALUE + 1);
    strcpy(big + 5 + QUERY_MAX_VALUE, "]");
    CHECK(parse(&q, big) == DH_ERR_TOOBIG);
    /* Set members. */
    p = big + sprintf(big, "s={");
    for (int i = 0; i < QUERY_MAX_SET; i++)
        p += sprintf(p, "v%d ", i);
    strcpy(p, "}");
    CHECK(parse(&q, big) == 0 && q.t[0].n == QUERY_MAX_SET);
    strcpy(p, "extra}");
    CHECK(parse(&q, big) == DH_ERR_TOOBIG);
    /* The whole input, before anything else. */
    memset(big, ',', QUERY_MAX_LEN);
    big[QUERY_MAX_LEN] = '\0';
    CHECK(parse(&q, big) == 0 && q.n == 0);
    strcpy(big + QUERY_MAX_LEN, ",");
    CHECK(parse(&q, big) == DH_ERR_TOOBIG);
    query_deinit(&q);
}

static void test_sort(void)
{
    static const char *const cols[] = {"name", "creation_time", "id"};
    struct query_sort s;
#define SORT(str) query_sort_parse(&s, str, strlen(str), cols, DH_ARRAY_SIZE(cols), err)
    CHECK(SORT("") == 0 && s.n == 0);
    CHECK(SORT("name") == 0 && s.n == 1 && s.k[0].col == 0 && !s.k[0].desc);
    CHECK(SORT("-creation_time,id") == 0 && s.n == 2);
    CHECK(s.k[0].col == 1 && s.k[0].desc && s.k[1].col == 2 && !s.k[1].desc);
    CHECK(SORT("Name") == DH_ERR_INVALID); /* exact, as the columns are */
    CHECK_STR(err, "an unknown column (one of name, creation_time, id)");
    CHECK(SORT("secret") == DH_ERR_INVALID);
    CHECK(SORT("-") == DH_ERR_INVALID);
    CHECK(SORT("--name") == DH_ERR_INVALID);
    CHECK(SORT("+name") == DH_ERR_INVALID);
    CHECK(SORT(" name") == DH_ERR_INVALID);
    CHECK(SORT("name,") == DH_ERR_INVALID);
    CHECK_STR(err, "an empty column (one of name, creation_time, id)");
    CHECK(SORT(",name") == DH_ERR_INVALID);
    CHECK(SORT("name,-name") == DH_ERR_INVALID);
    CHECK(SORT("namex") == DH_ERR_INVALID);
    CHECK(SORT("nam") == DH_ERR_INVALID);
    CHECK(query_sort_parse(&s, "name\0id", 7, cols, 3, err) == DH_ERR_INVALID);
    /* More columns than QUERY_MAX_SORT, each allowed once. */
    static const char *const many[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
    CHECK(query_sort_parse(&s, "a,b,c,d,e,f,g,h", 15, many, 9, err) == 0 && s.n == 8);
    CHECK(query_sort_parse(&s, "a,b,c,d,e,f,g,h,i", 17, many, 9, err) == DH_ERR_TOOBIG);
    /* The sentence never runs past its room, however many columns. */
    static const char *const wide[] = {
        "a_very_long_column_name_number_one", "a_very_long_column_name_number_two",
        "a_very_long_column_name_number_three", "a_very_long_column_name_number_four"};
    CHECK(query_sort_parse(&s, "x", 1, wide, 4, err) == DH_ERR_INVALID &&
          strlen(err) == QUERY_ERR_LEN - 1);
#undef SORT
}

static int64_t when(const char *s)
{
    int64_t t = -1;
    const char *why = NULL;
    if (timefmt_parse(s, strlen(s), &t, &why) < 0)
        return why ? -2 : -3;
    return t;
}

static void test_time(void)
{
    /* Unix seconds: 1 to 12 digits. */
    CHECK(when("0") == 0);
    CHECK(when("1767322800") == 1767322800);
    CHECK(when("999999999999") == INT64_C(999999999999));
    CHECK(when("1000000000000") == -2);
    CHECK(when("-5") == -2);
    CHECK(when("+5") == -2);
    CHECK(when(" 5") == -2);
    CHECK(when("5 ") == -2);
    CHECK(when("") == -2);
    /* Every form of one moment. */
    const int64_t t = 1767323045; /* 2026-01-02T03:04:05Z */
    CHECK(when("2026-01-02T03:04:05Z") == t);
    CHECK(when("2026-01-02t03:04:05z") == t);
    CHECK(when("2026-01-02 03:04:05Z") == t);
    CHECK(when("2026-01-02T03:04:05") == t);
    CHECK(when("2026-01-02 03:04:05") == t);
    CHECK(when("2026-01-02T03:04:05.999Z") == t);
    CHECK(when("2026-01-02T03:04:05.123456789123456789Z") == t);
    CHECK(when("2026-01-02T04:04:05+01:00") == t);
    CHECK(when("2026-01-01T21:34:05-05:30") == t);
    CHECK(when("2026-01-02T03:04:05.5+00:00") == t);
    CHECK(when("2026-01-02T03:04:05-00:00") == t);
    CHECK(when("2026-01-02") == t - 3 * 3600 - 4 * 60 - 5);
    CHECK(when("1970-01-01T00:00:00Z") == 0);
    CHECK(when("1970-01-01") == 0);
    /* Leap years: 2000 and 2024 have 29 February, 1900 and 2100 do not. */
    CHECK(when("2000-02-29T00:00:00Z") == 951782400);
    CHECK(when("2024-02-29") == 1709164800);
    CHECK(when("2024-03-01") == 1709164800 + 86400);
    CHECK(when("2023-02-29") == -2);
    CHECK(when("2100-02-29") == -2);
    CHECK(when("2100-02-28") == INT64_C(4107456000));
    CHECK(when("2020-02-30T00:00:00Z") == -2);
    CHECK(when("2020-04-31") == -2);
    CHECK(when("2020-12-31T23:59:59Z") == 1609459199);
    /* A leap second is the next minute's first second. */
    CHECK(when("2016-12-31T23:59:60Z") == 1483228800);
    CHECK(when("2016-12-31T23:59:61Z") == -2);
    CHECK(when("2026-13-01T00:00:00Z") == -2);
    CHECK(when("2026-00-01") == -2);
    CHECK(when("2026-01-00") == -2);
    CHECK(when("2026-01-02T24:00:00Z") == -2);
    CHECK(when("2026-01-02T23:60:00Z") == -2);
    CHECK(when("2026-01-02T03:04:05+24:00") == -2);
    CHECK(when("2026-01-02T03:04:05+01:60") == -2);
    /* The far ends: before 1970 (also by an offset) is refused; 9999 is fine. */
    CHECK(when("1969-12-31T23:59:59Z") == -2);
    CHECK(when("1970-01-01T00:30:00+01:00") == -2);
    CHECK(when("0000-01-01") == -2);
    CHECK(when("9999-12-31T23:59:60-23:59") == INT64_C(253402300800) + 23 * 3600 + 59 * 60);
    /* Not a time: loose fields, missing parts, trailing bytes, other words. */
    CHECK(when("yesterday") == -2);
    CHECK(when("2026-1-2") == -2);
    CHECK(when("2026-01-02T3:04:05Z") == -2);
    CHECK(when("2026-01-02T03:04Z") == -2);
    CHECK(when("2026-01-02T") == -2);
    CHECK(when("2026-01-02T03:04:05.Z") == -2);
    CHECK(when("2026-01-02T03:04:05+0100") == -2);
    CHECK(when("2026-01-02T03:04:05+01:00x") == -2);
    CHECK(when("2026-01-02T03:04:05ZZ") == -2);
    CHECK(when("2026-01-02T03:04:05 Z") == -2);
    CHECK(when("2026-01-02x03:04:05Z") == -2);
    CHECK(when("2026/01/02") == -2);
    CHECK(when("12026-01-02") == -2);
    int64_t out = 7;
    CHECK(timefmt_parse("2026-01-02\0", 11, &out, NULL) == DH_ERR_INVALID && out == 7);
    CHECK(timefmt_parse("1\0", 2, &out, NULL) == DH_ERR_INVALID);
    /* Length bound: a fraction cannot run on forever. */
    char longer[TIMEFMT_MAX_LEN + 2];
    memset(longer, '0', sizeof(longer));
    memcpy(longer, "2026-01-02T03:04:05.", 20);
    longer[TIMEFMT_MAX_LEN - 1] = 'Z';
    CHECK(timefmt_parse(longer, TIMEFMT_MAX_LEN, &out, NULL) == 0 && out == t);
    longer[TIMEFMT_MAX_LEN - 1] = '0';
    longer[TIMEFMT_MAX_LEN] = 'Z';
    CHECK(timefmt_parse(longer, TIMEFMT_MAX_LEN + 1, &out, NULL) == DH_ERR_INVALID);
    /* The sentence: the same for every caller, never NULL on failure. */
    const char *why = NULL;
    CHECK(timefmt_parse("x", 1, &out, &why) < 0 && why && strstr(why, "RFC 3339"));
    why = NULL;
    CHECK(timefmt_parse("2020-02-30", 10, &out, &why) < 0 && why && *why);
}

int main(void)
{
    test_q_forms();
    test_q_errors();
    test_q_bounds();
    test_sort();
    test_time();
    return check_done();
}
