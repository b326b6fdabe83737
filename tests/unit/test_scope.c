/* Unit tests for the scope grammar (src/scope.c). */
#include <stdarg.h>

#include "check.h"
#include "dockhand/scope.h"

/* Adds a NUL-terminated value. */
static int add(struct scope_list *l, const char *s)
{
    return scope_list_add(l, s, strlen(s));
}

/* The item for (type, cls, name), or NULL. */
static const struct scope_item *find(const struct scope_list *l, const char *type, const char *cls,
                                     const char *name)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct scope_item *it = &l->items[i];

        if (strcmp(it->type, type) != 0 || strcmp(it->name, name) != 0)
            continue;
        if ((cls == NULL) != (it->cls == NULL))
            continue;
        if (cls && strcmp(it->cls, cls) != 0)
            continue;
        return it;
    }
    return NULL;
}

/* Prints value as a TAP comment, control and non-ASCII bytes escaped. */
static void note(const char *what, const char *value, size_t len)
{
    printf("# %s: \"", what);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];

        if (c < 0x20 || c >= 0x7f)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
    printf("\"\n");
}

/* A list holding one known item, to check that failures leave it untouched. */
static void seed(struct scope_list *l)
{
    int r = add(l, "repository:seed/app:pull");

    CHECK(r == 0);
}

static bool seed_intact(const struct scope_list *l)
{
    const struct scope_item *it = find(l, "repository", NULL, "seed/app");

    return l->n == 1 && it && it->requested == ACT_PULL && it->granted == 0;
}

/* Expects value to fail with want and to leave a seeded list unchanged. */
static void expect_fail(const char *value, size_t len, int want)
{
    struct scope_list l = {0};
    int r;

    if (len <= 80)
        note("refused", value, len);
    seed(&l);
    r = scope_list_add(&l, value, len);
    CHECK(r == want);
    CHECK(seed_intact(&l));
    scope_list_deinit(&l);
}

static void expect_invalid(const char *value)
{
    note("invalid", value, strlen(value));
    expect_fail(value, strlen(value), DH_ERR_INVALID);
}

/* malloc for tests: out of memory ends the test run. */
static void *xmalloc(size_t n)
{
    void *p = malloc(n);

    if (!p)
        abort();
    return p;
}

/* Appends printf output at s + *len; the test ends when it does not fit in cap. */
__attribute__((format(printf, 4, 5))) static void appendf(char *s, size_t cap, size_t *len,
                                                          const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(s + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *len)
        abort();
    *len += (size_t)n;
}

static char *repeat(char c, size_t n)
{
    char *s = xmalloc(n + 1);

    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void test_basic(void)
{
    struct scope_list l = {0};
    const struct scope_item *it;

    CHECK(add(&l, "repository:library/app:pull") == 0);
    CHECK(l.n == 1);
    CHECK_STR(l.items[0].type, "repository");
    CHECK(l.items[0].cls == NULL);
    CHECK_STR(l.items[0].name, "library/app");
    CHECK(l.items[0].requested == ACT_PULL);
    CHECK(l.items[0].granted == 0);

    /* host:port in the name: actions follow the last ':' */
    CHECK(add(&l, "repository:localhost:5000/a/b:pull,push") == 0);
    it = find(&l, "repository", NULL, "localhost:5000/a/b");
    CHECK(it && it->requested == (ACT_PULL | ACT_PUSH));
    CHECK(add(&l, "repository:[::1]:5000/x:delete") == 0);
    it = find(&l, "repository", NULL, "[::1]:5000/x");
    CHECK(it && it->requested == ACT_DELETE);

    /* class */
    CHECK(add(&l, "repository(plugin):library/app:pull") == 0);
    it = find(&l, "repository", "plugin", "library/app");
    CHECK(it && it->requested == ACT_PULL);
    CHECK(it && strcmp(it->type, "repository") == 0 && strcmp(it->cls, "plugin") == 0);
    CHECK(l.n == 4); /* a class makes a different resource */

    /* star and the catalog */
    CHECK(add(&l, "repository:a/b:*") == 0);
    it = find(&l, "repository", NULL, "a/b");
    CHECK(it && it->requested == ACT_STAR);
    CHECK(add(&l, "registry:catalog:*") == 0);
    it = find(&l, "registry", NULL, "catalog");
    CHECK(it && it->requested == ACT_STAR);
    CHECK(l.n == 6);

    /* names keep any other printable character and UTF-8 */
    CHECK(add(&l, "repository:проект/app:pull") == 0);
    CHECK(find(&l, "repository", NULL, "проект/app") != NULL);
    CHECK(add(&l, "repository:a(b)/c:pull") == 0);
    CHECK(find(&l, "repository", NULL, "a(b)/c") != NULL);
    scope_list_deinit(&l);
    CHECK(l.n == 0 && l.items == NULL && l.cap == 0);
}

static void test_spaces_and_empty(void)
{
    struct scope_list l = {0};

    CHECK(scope_list_add(&l, NULL, 0) == 0);
    CHECK(scope_list_add(&l, "", 0) == 0);
    CHECK(add(&l, " ") == 0);
    CHECK(add(&l, "     ") == 0);
    CHECK(l.n == 0);
    CHECK(scope_list_add(&l, NULL, 3) == DH_ERR_INVALID);

    CHECK(add(&l, "  repository:a/b:pull   repository:c/d:push registry:catalog:*  ") == 0);
    CHECK(l.n == 3);
    CHECK(find(&l, "repository", NULL, "a/b") != NULL);
    CHECK(find(&l, "repository", NULL, "c/d") != NULL);
    CHECK(find(&l, "registry", NULL, "catalog") != NULL);
    /* the order of first appearance is kept */
    CHECK_STR(l.items[0].name, "a/b");
    CHECK_STR(l.items[1].name, "c/d");
    CHECK_STR(l.items[2].name, "catalog");

    /* only the length counts: bytes after len are not read */
    CHECK(scope_list_add(&l, "repository:e/f:pull GARBAGE", 19) == 0);
    CHECK(l.n == 4 && find(&l, "repository", NULL, "e/f") != NULL);
    scope_list_deinit(&l);
}

static void test_actions(void)
{
    struct scope_list l = {0};
    const struct scope_item *it;

    CHECK(add(&l, "repository:a/b:pull,pull,push,pull") == 0);
    it = find(&l, "repository", NULL, "a/b");
    CHECK(it && it->requested == (ACT_PULL | ACT_PUSH));

    CHECK(add(&l, "repository:c/d:pull,push,delete,*") == 0);
    it = find(&l, "repository", NULL, "c/d");
    CHECK(it && it->requested == (ACT_PULL | ACT_PUSH | ACT_DELETE | ACT_STAR));

    /* unknown words are dropped; the item stays, asking for nothing */
    CHECK(add(&l, "repository:e/f:fly,pull,Push,PULL,pul,pulls,**") == 0);
    it = find(&l, "repository", NULL, "e/f");
    CHECK(it && it->requested == ACT_PULL);
    CHECK(add(&l, "repository:g/h:fly") == 0);
    it = find(&l, "repository", NULL, "g/h");
    CHECK(it && it->requested == 0);
    CHECK(add(&l, "repository:i/j:") == 0);
    it = find(&l, "repository", NULL, "i/j");
    CHECK(it && it->requested == 0);
    CHECK(add(&l, "repository:k/l:,,pull,,") == 0);
    it = find(&l, "repository", NULL, "k/l");
    CHECK(it && it->requested == ACT_PULL);

    /* unknown types are kept (access gives them nothing) */
    CHECK(add(&l, "foo:bar:pull") == 0);
    it = find(&l, "foo", NULL, "bar");
    CHECK(it && it->requested == ACT_PULL);
    CHECK(add(&l, "registry:catalog:pull") == 0);
    it = find(&l, "registry", NULL, "catalog");
    CHECK(it && it->requested == ACT_PULL);
    scope_list_deinit(&l);
}

static void test_merge(void)
{
    struct scope_list l = {0};
    const struct scope_item *it;

    /* in one value */
    CHECK(add(&l, "repository:a/b:pull repository:a/b:push") == 0);
    CHECK(l.n == 1);
    CHECK(l.items[0].requested == (ACT_PULL | ACT_PUSH));

    /* across calls (a repeated scope parameter) */
    CHECK(add(&l, "repository:a/b:delete") == 0);
    CHECK(add(&l, "repository:a/b:pull") == 0);
    CHECK(l.n == 1);
    CHECK(l.items[0].requested == (ACT_PULL | ACT_PUSH | ACT_DELETE));

    /* type, class and name all count, case-sensitively */
    CHECK(add(&l, "repository(plugin):a/b:pull repository:A/b:pull Repository:a/b:pull") == 0);
    CHECK(l.n == 4);
    CHECK(add(&l, "repository(plugin):a/b:push repository(other):a/b:pull") == 0);
    CHECK(l.n == 5);
    it = find(&l, "repository", "plugin", "a/b");
    CHECK(it && it->requested == (ACT_PULL | ACT_PUSH));

    /* a merge and a new item in one call */
    CHECK(add(&l, "repository:a/b:* repository:new/one:pull") == 0);
    CHECK(l.n == 6);
    it = find(&l, "repository", NULL, "a/b");
    CHECK(it && it->requested == (ACT_PULL | ACT_PUSH | ACT_DELETE | ACT_STAR));

    /* granted bits already set by a caller survive a merge */
    l.items[0].granted = ACT_PULL;
    CHECK(add(&l, "repository:a/b:pull") == 0);
    CHECK(l.items[0].granted == ACT_PULL);
    scope_list_deinit(&l);

    /* the list is reusable after deinit */
    CHECK(add(&l, "repository:x/y:pull") == 0);
    CHECK(l.n == 1);
    scope_list_deinit(&l);
    scope_list_deinit(&l);
    scope_list_deinit(NULL);
}

static void test_malformed(void)
{
    static const char *bad[] = {
        "a",
        "a:b",
        ":x:pull",
        "::",
        ":::",
        "repository::pull",
        "repository:",
        "repository:x",
        "repository(:x:pull",
        "repository():x:pull",
        "repository(plugin:x:pull",
        "repository)plugin(:x:pull",
        "repositoryplugin):x:pull",
        "repository(plugin)x:y:pull",
        "repository((plugin)):x:pull",
        "repository(plu(gin):x:pull",
        "repository(plugin)):x:pull",
        "(plugin):x:pull",
        "repository:a/b:pull a",
        "a:b repository:a/b:pull",
    };

    for (size_t i = 0; i < DH_ARRAY_SIZE(bad); i++)
        expect_invalid(bad[i]);
}

static void test_bytes(void)
{
    /* NUL cannot hide the rest of a length-delimited value */
    static const char nul_name[] = "repository:a\0b:pull";
    static const char nul_act[] = "repository:a/b:pull\0";
    static const char nul_type[] = "repo\0sitory:a/b:pull";
    static const char nul_only[] = "\0";

    expect_fail(nul_name, sizeof(nul_name) - 1, DH_ERR_INVALID);
    expect_fail(nul_act, sizeof(nul_act) - 1, DH_ERR_INVALID);
    expect_fail(nul_type, sizeof(nul_type) - 1, DH_ERR_INVALID);
    expect_fail(nul_only, 1, DH_ERR_INVALID);

    /* control characters, DEL; a tab does not separate scopes */
    expect_invalid("repository:a\tb:pull");
    expect_invalid("repository:a/b:pull\trepository:c/d:pull");
    expect_invalid("repository:a/b:pull\n");
    expect_invalid("repository:a\x01/b:pull");
    expect_invalid("repository:a\x1f/b:pull");
    expect_invalid("repository:a\x7f/b:pull");
    expect_invalid("repo\rsitory:a/b:pull");

    /* invalid UTF-8 */
    expect_invalid("repository:a\xff/b:pull");
    expect_invalid("repository:\xc0\xaf/b:pull");          /* overlong '/' */
    expect_invalid("repository:a\xe2\x82/b:pull");         /* truncated */
    expect_invalid("repository:a\xed\xa0\x80/b:pull");     /* surrogate */
    expect_invalid("repository:a\xf4\x90\x80\x80/b:pull"); /* > U+10FFFF */
    expect_invalid("repository:a/b:pull\x80");
    expect_invalid("repo\xc3(x):a/b:pull");

    /* valid multi-byte characters everywhere */
    {
        struct scope_list l = {0};

        CHECK(add(&l, "rępo(klaß):日本/イメージ:pull") == 0);
        CHECK(find(&l, "rępo", "klaß", "日本/イメージ") != NULL);
        scope_list_deinit(&l);
    }
}

static void test_limits(void)
{
    struct scope_list l = {0};
    char s[SCOPE_MAX_LEN + 64], *name, *type;
    size_t len;

    /* SCOPE_MAX_NAME */
    name = repeat('n', SCOPE_MAX_NAME);
    len = 0;
    appendf(s, sizeof(s), &len, "repository:%s:pull", name);
    CHECK(scope_list_add(&l, s, len) == 0);
    CHECK(l.n == 1 && strlen(l.items[0].name) == SCOPE_MAX_NAME);
    scope_list_deinit(&l);
    len = 0;
    appendf(s, sizeof(s), &len, "repository:%sn:pull", name);
    expect_fail(s, len, DH_ERR_TOOBIG);
    free(name);

    /* SCOPE_MAX_TYPE, for the type and for the class */
    type = repeat('t', SCOPE_MAX_TYPE);
    len = 0;
    appendf(s, sizeof(s), &len, "%s(%s):a/b:pull", type, type);
    CHECK(scope_list_add(&l, s, len) == 0);
    CHECK(l.n == 1 && strlen(l.items[0].type) == SCOPE_MAX_TYPE);
    CHECK(l.n == 1 && strlen(l.items[0].cls) == SCOPE_MAX_TYPE);
    scope_list_deinit(&l);
    len = 0;
    appendf(s, sizeof(s), &len, "%st:a/b:pull", type);
    expect_fail(s, len, DH_ERR_TOOBIG);
    len = 0;
    appendf(s, sizeof(s), &len, "%st(c):a/b:pull", type);
    expect_fail(s, len, DH_ERR_TOOBIG);
    len = 0;
    appendf(s, sizeof(s), &len, "repository(%sc):a/b:pull", type);
    expect_fail(s, len, DH_ERR_TOOBIG);
    free(type);

    /* SCOPE_MAX_LEN: a name at its limit and a long action list fill the rest */
    name = repeat('n', SCOPE_MAX_NAME);
    len = 0;
    appendf(s, sizeof(s), &len, "repository:%s:", name);
    while (len < SCOPE_MAX_LEN - 4)
        appendf(s, sizeof(s), &len, "pull,");
    while (len < SCOPE_MAX_LEN)
        s[len++] = ',';
    s[len] = '\0';
    CHECK(len == SCOPE_MAX_LEN);
    CHECK(scope_list_add(&l, s, len) == 0);
    CHECK(l.n == 1 && l.items[0].requested == ACT_PULL);
    scope_list_deinit(&l);
    s[len++] = ',';
    s[len] = '\0';
    expect_fail(s, len, DH_ERR_TOOBIG);
    /* the limit is per scope, not per value */
    s[len - 1] = ' ';
    memcpy(s + len, "repository:x/y:pull", 20);
    len += 19;
    CHECK(scope_list_add(&l, s, len) == 0);
    CHECK(l.n == 2);
    scope_list_deinit(&l);
    free(name);
}

static void test_items_limit(void)
{
    static char s[32 * 10000 + 64];
    struct scope_list l = {0};
    size_t len = 0;
    const struct scope_item *it;

    /* SCOPE_MAX_ITEMS in one value */
    for (int i = 0; i < SCOPE_MAX_ITEMS; i++)
        appendf(s, sizeof(s), &len, "repository:p/%d:pull ", i);
    CHECK(scope_list_add(&l, s, len) == 0);
    CHECK(l.n == SCOPE_MAX_ITEMS);
    /* merging into a full list is fine, a new item is not */
    CHECK(add(&l, "repository:p/0:push repository:p/63:delete") == 0);
    CHECK(l.n == SCOPE_MAX_ITEMS);
    CHECK(l.items[0].requested == (ACT_PULL | ACT_PUSH));
    CHECK(add(&l, "repository:p/1:push repository:p/64:pull") == DH_ERR_TOOBIG);
    CHECK(l.n == SCOPE_MAX_ITEMS);
    CHECK(l.items[1].requested == ACT_PULL); /* the merge before the failure was undone */
    CHECK(find(&l, "repository", NULL, "p/64") == NULL);
    scope_list_deinit(&l);

    /* SCOPE_MAX_ITEMS + 1 in one value */
    len = 0;
    for (int i = 0; i <= SCOPE_MAX_ITEMS; i++)
        appendf(s, sizeof(s), &len, "repository:p/%d:pull ", i);
    expect_fail(s, len, DH_ERR_TOOBIG);

    /* across calls: 63 + 1 fit, one more does not */
    len = 0;
    for (int i = 0; i < SCOPE_MAX_ITEMS - 1; i++)
        appendf(s, sizeof(s), &len, "repository:p/%d:pull ", i);
    CHECK(scope_list_add(&l, s, len) == 0);
    CHECK(add(&l, "repository:q/0:pull") == 0);
    CHECK(l.n == SCOPE_MAX_ITEMS);
    CHECK(add(&l, "repository:q/1:pull") == DH_ERR_TOOBIG);
    CHECK(l.n == SCOPE_MAX_ITEMS);
    scope_list_deinit(&l);

    /* 10,000 scopes in one value: refused, the list unchanged */
    len = 0;
    for (int i = 0; i < 10000; i++)
        appendf(s, sizeof(s), &len, "repository:p/%d:pull ", i);
    CHECK(len < sizeof(s));
    seed(&l);
    CHECK(scope_list_add(&l, s, len) == DH_ERR_TOOBIG);
    CHECK(seed_intact(&l));
    scope_list_deinit(&l);

    /* 10,000 copies of one scope are one item */
    len = 0;
    for (int i = 0; i < 10000; i++)
        appendf(s, sizeof(s), &len, "repository:p/1:pull ");
    seed(&l);
    CHECK(scope_list_add(&l, s, len) == 0);
    CHECK(l.n == 2);
    it = find(&l, "repository", NULL, "p/1");
    CHECK(it && it->requested == ACT_PULL);
    scope_list_deinit(&l);
}

static void test_failure_keeps_list(void)
{
    struct scope_list l = {0};

    /* a failing value that would have merged into an existing item and appended */
    seed(&l);
    CHECK(add(&l, "repository:seed/app:push,delete repository:n/1:pull :bad:pull") ==
          DH_ERR_INVALID);
    CHECK(seed_intact(&l));
    CHECK(add(&l, "repository:seed/app:* repository:n/1:pull repository:\xff:pull") ==
          DH_ERR_INVALID);
    CHECK(seed_intact(&l));
    /* and the list still works afterwards */
    CHECK(add(&l, "repository:seed/app:push repository:n/1:pull") == 0);
    CHECK(l.n == 2 && l.items[0].requested == (ACT_PULL | ACT_PUSH));
    scope_list_deinit(&l);
}

static void test_format(void)
{
    char out[32];

    CHECK(scope_actions_format(0, out) == 0);
    CHECK_STR(out, "");
    CHECK(scope_actions_format(ACT_PULL, out) == 4);
    CHECK_STR(out, "pull");
    CHECK(scope_actions_format(ACT_PUSH | ACT_PULL, out) == 9);
    CHECK_STR(out, "pull,push");
    CHECK(scope_actions_format(ACT_DELETE | ACT_PULL, out) == 11);
    CHECK_STR(out, "pull,delete");
    CHECK(scope_actions_format(ACT_STAR, out) == 1);
    CHECK_STR(out, "*");
    CHECK(scope_actions_format(ACT_STAR | ACT_DELETE | ACT_PUSH | ACT_PULL, out) == 18);
    CHECK_STR(out, "pull,push,delete,*");
    CHECK(scope_actions_format(~0u, out) == 18); /* bits beyond ACT_* are ignored */
    CHECK_STR(out, "pull,push,delete,*");
}

static void test_repo_project(void)
{
    char out[64];

    CHECK(scope_repo_project("library/app", out, sizeof(out)));
    CHECK_STR(out, "library");
    CHECK(scope_repo_project("a/b/c", out, sizeof(out)));
    CHECK_STR(out, "a");
    CHECK(scope_repo_project("p/", out, sizeof(out)));
    CHECK_STR(out, "p");
    CHECK(scope_repo_project("localhost:5000/a", out, sizeof(out)));
    CHECK_STR(out, "localhost:5000");
    CHECK(!scope_repo_project("app", out, sizeof(out)));
    CHECK(!scope_repo_project("/app", out, sizeof(out)));
    CHECK(!scope_repo_project("", out, sizeof(out)));
    CHECK(!scope_repo_project(NULL, out, sizeof(out)));
    CHECK(!scope_repo_project("library/app", out, 7)); /* "library" + NUL needs 8 */
    CHECK(scope_repo_project("library/app", out, 8));
    CHECK_STR(out, "library");
}

int main(void)
{
    test_basic();
    test_spaces_and_empty();
    test_actions();
    test_merge();
    test_malformed();
    test_bytes();
    test_limits();
    test_items_limit();
    test_failure_keeps_list();
    test_format();
    test_repo_project();
    return check_done();
}
