/* Unit tests for robot/project names and the prefix (src/names.c). */
#include <regex.h>

#include "check.h"
#include "dockhand/names.h"

/* malloc for tests: out of memory ends the test run. */
static void *xmalloc(size_t n)
{
    void *p = malloc(n);

    if (!p)
        abort();
    return p;
}

static char *repeat(char c, size_t n)
{
    char *s = xmalloc(n + 1);

    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void test_name_valid(void)
{
    static const char *good[] = {
        "a", "z", "0", "9", "abc", "a1b2", "a.b", "a-b", "a_b", "a.b-c_d", "0.0.1", "ci-bot-2",
    };
    static const char *bad[] = {
        "",     "-a",   "a-",   ".a", "a.",  "_a",    "a_",  "a..b", "a.-b", "a-_b", "a--b",
        "-",    ".",    "A",    "aB", "a b", " a",    "a ",  "a/b",  "a+b",  "a:b",  "a$b",
        "r$ci", "a\tb", "a\nb", "é",  "aé",  "a\xff", "a*b", "a@b",  "a~b",  "a,b",
    };
    char *s;

    for (size_t i = 0; i < DH_ARRAY_SIZE(good); i++) {
        printf("# valid: \"%s\"\n", good[i]);
        CHECK(name_valid(good[i]));
    }
    for (size_t i = 0; i < DH_ARRAY_SIZE(bad); i++) {
        CHECK(!name_valid(bad[i]));
    }
    CHECK(!name_valid(NULL));

    s = repeat('a', NAME_MAX_LEN);
    CHECK(name_valid(s));
    s[NAME_MAX_LEN - 2] = '-';
    CHECK(name_valid(s));
    s[NAME_MAX_LEN - 1] = '-'; /* ends with a separator */
    CHECK(!name_valid(s));
    free(s);
    s = repeat('a', NAME_MAX_LEN + 1);
    CHECK(!name_valid(s));
    free(s);
    s = repeat('a', 10000);
    CHECK(!name_valid(s));
    free(s);
}

/* NAME_PATTERN (what the web page checks names with) and name_valid accept the same
 * names: every string of up to 4 characters over letters, digits, the separators and a
 * few characters both refuse. */
static void test_name_pattern(void)
{
    static const char alphabet[] = "az09._-A $+";
    const size_t k = sizeof(alphabet) - 1;
    regex_t re;
    char s[5];
    int tried = 0, differ = 0;

    CHECK(regcomp(&re, NAME_PATTERN, REG_EXTENDED | REG_NOSUB) == 0);
    for (size_t len = 1; len <= 4; len++) {
        size_t total = 1;
        for (size_t i = 0; i < len; i++)
            total *= k;
        for (size_t n = 0; n < total; n++) {
            size_t x = n;
            for (size_t i = 0; i < len; i++, x /= k)
                s[i] = alphabet[x % k];
            s[len] = '\0';
            bool by_re = regexec(&re, s, 0, NULL, 0) == 0;
            tried++;
            if (by_re != name_valid(s)) {
                differ++;
                printf("# differ: \"%s\" pattern %d name_valid %d\n", s, by_re, !by_re);
            }
        }
    }
    printf("# %d names tried\n", tried);
    CHECK(tried > 10000);
    CHECK(differ == 0);
    regfree(&re);
}

static void test_prefix_valid(void)
{
    char *s;

    CHECK(name_prefix_valid("robot$"));
    CHECK(name_prefix_valid(LEGACY_PREFIX));
    CHECK(name_prefix_valid("ci-"));
    CHECK(name_prefix_valid("robot+"));
    CHECK(name_prefix_valid("x"));
    CHECK(name_prefix_valid("!~"));
    CHECK(!name_prefix_valid(""));
    CHECK(!name_prefix_valid(NULL));
    CHECK(!name_prefix_valid("robot $"));
    CHECK(!name_prefix_valid(" "));
    CHECK(!name_prefix_valid("robot:"));
    CHECK(!name_prefix_valid("robot\t"));
    CHECK(!name_prefix_valid("robot\x7f"));
    CHECK(!name_prefix_valid("robot\x01"));
    CHECK(!name_prefix_valid("rob\xc3\xb6t$"));

    s = repeat('p', PREFIX_MAX_LEN);
    CHECK(name_prefix_valid(s));
    free(s);
    s = repeat('p', PREFIX_MAX_LEN + 1);
    CHECK(!name_prefix_valid(s));
    free(s);
}

static void test_strip_prefix(void)
{
    const char *login = "robot$ci";
    char *s;

    CHECK(name_strip_prefix(login, "robot$") == login + 6);
    CHECK_STR(name_strip_prefix("robot$ci", "robot$"), "ci");
    CHECK_STR(name_strip_prefix("robot$library+ci", "robot$"), "library+ci");
    CHECK_STR(name_strip_prefix("ci-bot", "ci-"), "bot");
    CHECK_STR(name_strip_prefix("robot$robot$x", "robot$"), "robot$x");
    CHECK_STR(name_strip_prefix("robot$x", LEGACY_PREFIX), "x");
    CHECK(name_strip_prefix("robotci", "robot$") == NULL);
    CHECK(name_strip_prefix("Robot$ci", "robot$") == NULL);
    CHECK(name_strip_prefix("ci", "robot$") == NULL);
    CHECK(name_strip_prefix("robot", "robot$") == NULL);
    CHECK(name_strip_prefix("robot$", "robot$") == NULL); /* nothing after the prefix */
    CHECK(name_strip_prefix("", "robot$") == NULL);
    CHECK(name_strip_prefix("robot$ci", "") == NULL);
    CHECK(name_strip_prefix(NULL, "robot$") == NULL);
    CHECK(name_strip_prefix("robot$ci", NULL) == NULL);

    s = repeat('a', LOGIN_MAX_LEN);
    memcpy(s, "robot$", 6);
    CHECK(name_strip_prefix(s, "robot$") == s + 6);
    free(s);
    s = repeat('a', LOGIN_MAX_LEN + 1);
    memcpy(s, "robot$", 6);
    CHECK(name_strip_prefix(s, "robot$") == NULL);
    free(s);
}

static void test_project_robot(void)
{
    char *s, *p, *n;

    s = name_project_robot("library", "ci");
    CHECK_STR(s, "library+ci");
    free(s);
    s = name_project_robot("a.b-c", "d_e");
    CHECK_STR(s, "a.b-c+d_e");
    free(s);
    CHECK(name_project_robot("Library", "ci") == NULL);
    CHECK(name_project_robot("library", "c+i") == NULL);
    CHECK(name_project_robot("", "ci") == NULL);
    CHECK(name_project_robot("library", "") == NULL);
    CHECK(name_project_robot(NULL, "ci") == NULL);
    CHECK(name_project_robot("library", NULL) == NULL);

    p = repeat('p', NAME_MAX_LEN);
    n = repeat('n', NAME_MAX_LEN);
    s = name_project_robot(p, n);
    CHECK(s && strlen(s) == 2 * NAME_MAX_LEN + 1 && s[NAME_MAX_LEN] == '+');
    free(s);
    free(p);
    free(n);
}

int main(void)
{
    test_name_valid();
    test_name_pattern();
    test_prefix_valid();
    test_strip_prefix();
    test_project_robot();
    return check_done();
}
