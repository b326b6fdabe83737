/* Unit tests for src/form.c: query strings and x-www-form-urlencoded bodies. */
#include "check.h"

#include "dockhand/form.h"

static int parse(const char *s, struct form *f)
{
    return form_parse(s, strlen(s), f);
}

static void test_basic(void)
{
    struct form f;

    CHECK(parse("grant_type=password&username=robot%24ci&password=s3cr%3At", &f) == 0);
    CHECK(f.n == 3);
    CHECK_STR(form_get(&f, "grant_type"), "password");
    CHECK_STR(form_get(&f, "username"), "robot$ci");
    CHECK_STR(form_get(&f, "password"), "s3cr:t");
    CHECK(form_get(&f, "scope") == NULL);
    CHECK(form_get(&f, "Username") == NULL);
    CHECK_STR(f.pairs[0].key, "grant_type");
    CHECK_STR(f.pairs[2].value, "s3cr:t");
    form_deinit(&f);
    CHECK(f.pairs == NULL && f.n == 0);
    form_deinit(&f); /* twice is fine */
}

static void test_empty_and_shapes(void)
{
    struct form f;

    CHECK(parse("", &f) == 0);
    CHECK(f.n == 0 && f.pairs == NULL);
    CHECK(form_get(&f, "a") == NULL);
    form_deinit(&f);

    CHECK(form_parse(NULL, 0, &f) == 0);
    CHECK(f.n == 0);
    form_deinit(&f);

    /* Empty components are skipped. */
    CHECK(parse("&&a=1&&&b=2&", &f) == 0);
    CHECK(f.n == 2);
    CHECK_STR(form_get(&f, "a"), "1");
    CHECK_STR(form_get(&f, "b"), "2");
    form_deinit(&f);

    CHECK(parse("&&&", &f) == 0);
    CHECK(f.n == 0);
    form_deinit(&f);

    /* A key without '=' has the value "", as has "k=". */
    CHECK(parse("offline_token&service=&account=x", &f) == 0);
    CHECK(f.n == 3);
    CHECK_STR(form_get(&f, "offline_token"), "");
    CHECK_STR(form_get(&f, "service"), "");
    CHECK_STR(form_get(&f, "account"), "x");
    form_deinit(&f);

    /* Only the first '=' splits; the rest belong to the value. */
    CHECK(parse("a=b=c&d==", &f) == 0);
    CHECK_STR(form_get(&f, "a"), "b=c");
    CHECK_STR(form_get(&f, "d"), "=");
    form_deinit(&f);

    /* An empty key is kept as such. */
    CHECK(parse("=v", &f) == 0);
    CHECK(f.n == 1);
    CHECK_STR(form_get(&f, ""), "v");
    form_deinit(&f);

    /* ';' is no separator. */
    CHECK(parse("a=1;b=2", &f) == 0);
    CHECK(f.n == 1);
    CHECK_STR(form_get(&f, "a"), "1;b=2");
    form_deinit(&f);

    /* The length, not a NUL, ends the input. */
    CHECK(form_parse("a=1&b=2", 3, &f) == 0);
    CHECK(f.n == 1);
    CHECK_STR(form_get(&f, "a"), "1");
    form_deinit(&f);
}

static void test_decoding(void)
{
    struct form f;

    CHECK(parse("scope=repository%3Alibrary%2Fapp%3Apull+repository:x/y:push,pull", &f) == 0);
    CHECK_STR(form_get(&f, "scope"), "repository:library/app:pull repository:x/y:push,pull");
    form_deinit(&f);

    /* '+' is a space in keys and values; %2B is a plus. */
    CHECK(parse("a+b=c+d&plus=%2B%2b", &f) == 0);
    CHECK_STR(form_get(&f, "a b"), "c d");
    CHECK_STR(form_get(&f, "plus"), "++");
    form_deinit(&f);

    /* Escaped separators are data. */
    CHECK(parse("k%3Dx=v%26w", &f) == 0);
    CHECK(f.n == 1);
    CHECK_STR(form_get(&f, "k=x"), "v&w");
    form_deinit(&f);

    CHECK(parse("name=caf%C3%A9&raw=\xc3\xa9", &f) == 0);
    CHECK_STR(form_get(&f, "name"), "caf\xc3\xa9");
    CHECK_STR(form_get(&f, "raw"), "\xc3\xa9");
    form_deinit(&f);
}

static void test_repeated_keys(void)
{
    struct form f;
    size_t scopes = 0;

    CHECK(parse("scope=a&service=s&scope=b&scope=c", &f) == 0);
    CHECK(f.n == 4);
    CHECK_STR(form_get(&f, "scope"), "a"); /* the first */
    for (size_t i = 0; i < f.n; ++i)
        if (strcmp(f.pairs[i].key, "scope") == 0)
            ++scopes;
    CHECK(scopes == 3);
    CHECK_STR(f.pairs[2].value, "b");
    CHECK_STR(f.pairs[3].value, "c");
    form_deinit(&f);
}

static bool fails_with(const char *s, size_t len, int want)
{
    struct form f = {(struct form_pair *)0x1, 99, 7};
    int r = form_parse(s, len, &f);

    /* On failure the form is left empty: nothing to free. */
    return r == want && f.pairs == NULL && f.n == 0 && f.size == 0;
}

static void test_invalid(void)
{
    CHECK(fails_with("a=%", 3, DH_ERR_INVALID));
    CHECK(fails_with("a=%4", 4, DH_ERR_INVALID));
    CHECK(fails_with("a=%zz", 5, DH_ERR_INVALID));
    CHECK(fails_with("%=b", 3, DH_ERR_INVALID));
    CHECK(fails_with("ok=1&a=100%", 11, DH_ERR_INVALID));
    /* A decoded NUL, escaped or raw, in key or value. */
    CHECK(fails_with("a=%00", 5, DH_ERR_INVALID));
    CHECK(fails_with("a%00=b", 6, DH_ERR_INVALID));
    CHECK(fails_with("a=x\0y", 5, DH_ERR_INVALID));
    CHECK(fails_with("a\0", 2, DH_ERR_INVALID));
    /* Invalid UTF-8, raw or escaped, in key or value. */
    CHECK(fails_with("a=%C0%80", 8, DH_ERR_INVALID));        /* overlong */
    CHECK(fails_with("a=%ED%A0%80", 11, DH_ERR_INVALID));    /* surrogate */
    CHECK(fails_with("a=%E2%82", 8, DH_ERR_INVALID));        /* truncated */
    CHECK(fails_with("a=%F4%90%80%80", 14, DH_ERR_INVALID)); /* > U+10FFFF */
    CHECK(fails_with("a=\xff", 3, DH_ERR_INVALID));
    CHECK(fails_with("\xc3=b", 3, DH_ERR_INVALID));
    CHECK(fails_with("k%C3=v", 6, DH_ERR_INVALID));
    CHECK(fails_with("k=v\xc3&x=%A9", 11, DH_ERR_INVALID)); /* split across pairs */
}

static void test_limits(void)
{
    size_t cap = FORM_MAX_INPUT + 2, len;
    char *buf = malloc(cap);
    struct form f;

    if (!buf)
        abort();

    /* Exactly FORM_MAX_PAIRS pairs pass; one more is refused. */
    len = 0;
    for (int i = 0; i < FORM_MAX_PAIRS; ++i)
        len += (size_t)snprintf(buf + len, cap - len, "%sk%d=v", i ? "&" : "", i);
    CHECK(form_parse(buf, len, &f) == 0);
    CHECK(f.n == FORM_MAX_PAIRS);
    CHECK_STR(form_get(&f, "k255"), "v");
    form_deinit(&f);
    len += (size_t)snprintf(buf + len, cap - len, "&extra");
    CHECK(fails_with(buf, len, DH_ERR_TOOBIG));
    /* Empty components do not count. */
    buf[len - 6] = '\0';
    len -= 6;
    memcpy(buf + len, "&&&&", 4);
    CHECK(form_parse(buf, len + 4, &f) == 0);
    CHECK(f.n == FORM_MAX_PAIRS);
    form_deinit(&f);

    /* Exactly FORM_MAX_INPUT bytes pass; one more is refused. */
    memset(buf, 'x', cap);
    memcpy(buf, "big=", 4);
    CHECK(form_parse(buf, FORM_MAX_INPUT, &f) == 0);
    CHECK(f.n == 1);
    CHECK(strlen(form_get(&f, "big")) == FORM_MAX_INPUT - 4);
    form_deinit(&f);
    CHECK(fails_with(buf, FORM_MAX_INPUT + 1, DH_ERR_TOOBIG));

    /* The worst case for decoded storage: many keys without '=' or values. */
    memset(buf, '&', cap);
    for (size_t i = 0; i < 2 * FORM_MAX_PAIRS; i += 2)
        buf[i] = 'k';
    CHECK(form_parse(buf, 2 * FORM_MAX_PAIRS - 1, &f) == 0);
    CHECK(f.n == FORM_MAX_PAIRS);
    CHECK_STR(form_get(&f, "k"), "");
    form_deinit(&f);
    for (size_t i = 0; i < 2 * FORM_MAX_PAIRS; i += 2)
        buf[i] = '=';
    CHECK(form_parse(buf, 2 * FORM_MAX_PAIRS - 1, &f) == 0);
    CHECK(f.n == FORM_MAX_PAIRS);
    CHECK_STR(form_get(&f, ""), "");
    form_deinit(&f);

    free(buf);
}

int main(void)
{
    test_basic();
    test_empty_and_shapes();
    test_decoding();
    test_repeated_keys();
    test_invalid();
    test_limits();
    return check_done();
}
