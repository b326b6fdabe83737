/* Unit tests for networks and addresses (src/util/cidr.c). */
#include "check.h"
#include "dockhand/cidr.h"

static bool net(const char *s, struct cidr *c)
{
    return cidr_parse(s, strlen(s), c) == 0;
}

/* Whether network text n contains client address a. */
static bool in(const char *n, const char *a)
{
    struct cidr c, x;
    if (!net(n, &c) || cidr_addr_parse(a, &x) != 0) {
        printf("# cannot parse %s or %s\n", n, a);
        return false;
    }
    return cidr_contains(&c, &x);
}

static const char *fmt(const char *s)
{
    static char buf[CIDR_TEXT_MAX];
    struct cidr c;
    if (!net(s, &c))
        return "(invalid)";
    return cidr_format(&c, buf, sizeof(buf));
}

static void test_parse(void)
{
    static const char *good[] = {
        "10.0.0.0/8", "10.1.2.3", "10.1.2.3/32",   "0.0.0.0/0", "192.168.0.0/16",      "::/0",
        "::1",        "::1/128",  "2001:db8::/32", "fe80::/10", "::ffff:10.0.0.0/104", "1.2.3.4/31",
    };
    static const char *bad[] = {
        "",
        "/8",
        "10.0.0.0/",
        "10.0.0.0/33",
        "::/129",
        "10.0.0.1/8",
        "2001:db8::1/32",
        "10.0.0",
        "10.0.0.256",
        "010.0.0.1",
        "10.0.0.0/8x",
        "10.0.0.0/-1",
        "10.0.0.0/+8",
        " 10.0.0.0/8",
        "10.0.0.0/8 ",
        "10.0.0.0 /8",
        "1.2.3.4/0032",
        "::1%lo",
        "abc",
        "1:2:3:4:5:6:7:8:9",
        "10.0.0.0//8",
        "10.0.0.0/8/8",
        "::g",
        "'; DROP TABLE robots;--",
    };
    struct cidr c;
    for (size_t i = 0; i < DH_ARRAY_SIZE(good); i++) {
        printf("# good: %s\n", good[i]);
        CHECK(net(good[i], &c));
    }
    for (size_t i = 0; i < DH_ARRAY_SIZE(bad); i++) {
        printf("# bad: \"%s\"\n", bad[i]);
        CHECK(!net(bad[i], &c));
    }
    CHECK(cidr_parse("10.0.0.0/8\0x", 12, &c) != 0); /* a NUL inside */
    CHECK(cidr_parse("10.0.0.0/8\0", 10, &c) == 0);  /* the length decides */
    char longer[CIDR_TEXT_MAX + 2];
    memset(longer, '0', sizeof(longer));
    memcpy(longer, "0000:", 5);
    longer[CIDR_TEXT_MAX + 1] = '\0';
    CHECK(!net(longer, &c));
    CHECK(net("1.2.3.4", &c) && c.family == 4 && c.prefix == 32);
    CHECK(net("::1", &c) && c.family == 6 && c.prefix == 128);
    CHECK(net("0.0.0.0/0", &c) && c.prefix == 0);
}

static void test_format(void)
{
    CHECK_STR(fmt("10.0.0.0/8"), "10.0.0.0/8");
    CHECK_STR(fmt("10.1.2.3"), "10.1.2.3/32");
    CHECK_STR(fmt("::1"), "::1/128");
    CHECK_STR(fmt("2001:0db8:0000::/32"), "2001:db8::/32");
    CHECK_STR(fmt("::/0"), "::/0");
    CHECK_STR(fmt("0.0.0.0/0"), "0.0.0.0/0");
}

static void test_contains(void)
{
    CHECK(in("10.0.0.0/8", "10.255.1.2"));
    CHECK(!in("10.0.0.0/8", "11.0.0.1"));
    CHECK(in("127.0.0.1", "127.0.0.1"));
    CHECK(!in("127.0.0.1/32", "127.0.0.2"));
    CHECK(in("127.0.0.0/31", "127.0.0.1"));
    CHECK(!in("127.0.0.0/31", "127.0.0.2"));
    CHECK(in("0.0.0.0/0", "203.0.113.9"));
    CHECK(!in("0.0.0.0/0", "::1")); /* never across families */
    CHECK(in("::/0", "2001:db8::1"));
    CHECK(!in("::/0", "10.0.0.1"));
    CHECK(in("::1/128", "::1"));
    CHECK(!in("::1/128", "::2"));
    CHECK(in("2001:db8::/32", "2001:db8:ffff::1"));
    CHECK(!in("2001:db8::/32", "2001:db9::1"));
    CHECK(in("2001:db8:8000::/33", "2001:db8:8000::1"));
    CHECK(!in("2001:db8:8000::/33", "2001:db8:7fff::1"));
    /* an IPv4-mapped client is its IPv4 address */
    CHECK(in("10.0.0.0/8", "::ffff:10.1.2.3"));
    CHECK(in("10.1.2.3", "::ffff:10.1.2.3"));
    CHECK(!in("10.0.0.0/8", "::ffff:11.1.2.3"));
    CHECK(!in("::/0", "::ffff:10.1.2.3"));
    struct cidr x;
    CHECK(cidr_addr_parse("::ffff:10.1.2.3", &x) == 0 && x.family == 4 && x.prefix == 32);
    CHECK(cidr_addr_parse("10.0.0.1/32", &x) != 0); /* an address, no prefix */
    CHECK(cidr_addr_parse("unknown", &x) != 0);
    CHECK(cidr_addr_parse("fe80::1%eth0", &x) != 0);
    CHECK(cidr_addr_parse(NULL, &x) != 0);
}

static void test_list(void)
{
    struct cidr *l = NULL, x;
    size_t n = 99, bad = 99;
    CHECK(cidr_list_parse("", &l, &n, &bad) == 0 && n == 0 && l == NULL);
    CHECK(cidr_list_parse(NULL, &l, &n, &bad) == 0 && n == 0 && l == NULL);
    CHECK(cidr_list_parse(" 10.0.0.0/8, ::1 ,,192.168.1.0/24\n", &l, &n, &bad) == 0 && n == 3);
    CHECK(cidr_addr_parse("192.168.1.77", &x) == 0 && cidr_list_contains(l, n, &x));
    CHECK(cidr_addr_parse("192.168.2.77", &x) == 0 && !cidr_list_contains(l, n, &x));
    CHECK(cidr_addr_parse("::1", &x) == 0 && cidr_list_contains(l, n, &x));
    CHECK(!cidr_list_contains(l, 0, &x));
    free(l);
    CHECK(cidr_list_parse("10.0.0.0/8,10.0.0.1/8", &l, &n, &bad) == DH_ERR_INVALID && bad == 1 &&
          l == NULL && n == 0);
    char text[CIDR_LIST_MAX * 16 + 16] = "";
    for (int i = 0; i < CIDR_LIST_MAX; i++)
        snprintf(text + strlen(text), sizeof(text) - strlen(text), "10.0.0.%d,", i);
    CHECK(cidr_list_parse(text, &l, &n, &bad) == 0 && n == CIDR_LIST_MAX);
    free(l);
    strcat(text, "10.0.1.0/24");
    CHECK(cidr_list_parse(text, &l, &n, &bad) == DH_ERR_TOOBIG && l == NULL);
}

int main(void)
{
    test_parse();
    test_format();
    test_contains();
    test_list();
    return check_done();
}
