/* The failed-login table, the verified-credential and robot caches, and the robot directory
 * (the settings loader has test_config.c). */
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dockhand/credcache.h"
#include "dockhand/ratelimit.h"
#include "dockhand/robotcache.h"
#include "dockhand/robotdir.h"
#include <time.h>

static void test_ratelimit(void)
{
    struct ratelimit *rl = ratelimit_new(60);
    int retry = 0;
    time_t t0 = 1000000;

    CHECK(rl != NULL);
    CHECK(!ratelimit_blocked(rl, "a:robot$x", 3, t0, &retry));
    ratelimit_fail(rl, "a:robot$x", t0);
    ratelimit_fail(rl, "a:robot$x", t0 + 1);
    CHECK(!ratelimit_blocked(rl, "a:robot$x", 3, t0 + 2, &retry));
    ratelimit_fail(rl, "a:robot$x", t0 + 2);
    CHECK(ratelimit_blocked(rl, "a:robot$x", 3, t0 + 3, &retry));
    CHECK(retry == 57);
    /* Other keys are unaffected. */
    CHECK(!ratelimit_blocked(rl, "a:robot$y", 3, t0 + 3, &retry));
    /* The window ends. */
    CHECK(!ratelimit_blocked(rl, "a:robot$x", 3, t0 + 60, &retry));
    /* A success clears the account. */
    for (int i = 0; i < 3; i++)
        ratelimit_fail(rl, "a:robot$z", t0);
    CHECK(ratelimit_blocked(rl, "a:robot$z", 3, t0, &retry));
    ratelimit_clear(rl, "a:robot$z");
    CHECK(!ratelimit_blocked(rl, "a:robot$z", 3, t0, &retry));

    /* Ten times more keys than slots: memory stays the table's, the newest keys count. */
    char key[64];
    for (int i = 0; i < RATELIMIT_SLOTS * 10; i++) {
        snprintf(key, sizeof(key), "i:10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        ratelimit_fail(rl, key, t0 + 100);
    }
    for (int i = 0; i < 3; i++)
        ratelimit_fail(rl, "a:fresh", t0 + 101);
    CHECK(ratelimit_blocked(rl, "a:fresh", 3, t0 + 101, &retry));
    ratelimit_free(rl);
    ratelimit_free(NULL);
}

static long max_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Issue 13: 1,000,000 distinct failing login names from 100,000 addresses, at 2,000 a
 * second (above what this machine's hashing threads verify: each costs a PBKDF2), so
 * 8 minutes, 15 times the table. Meanwhile two attackers try every half second: one
 * guesses one account's secret (the account limit must hold), one tries a new account
 * each time from one address (the address limit must hold). In every window neither gets
 * more tries than its limit: a key with more failures outlives the flood's keys of one
 * failure each. Memory is the table's. */
static void test_ratelimit_flood(void)
{
    const int names = 1000000, rate = 2000, window = 60, account_limit = 10, address_limit = 50;
    struct ratelimit *rl = ratelimit_new(window);
    time_t t0 = 2000000;
    int retry = 0, account_tries = 0, address_tries = 0;
    long rss0 = 0;
    char key[64];

    for (int i = 0; i < names; i++) {
        time_t now = t0 + i / rate;
        snprintf(key, sizeof(key), "a:robot$flood-%d", i);
        ratelimit_fail(rl, key, now);
        snprintf(key, sizeof(key), "i:10.%d.%d.%d", (i % 100000) >> 16, ((i % 100000) >> 8) & 255,
                 i % 256);
        ratelimit_fail(rl, key, now);
        if (i == RATELIMIT_SLOTS * 2)
            rss0 = max_rss_kib();
        if (i % (rate / 2) != 0)
            continue;
        if (!ratelimit_blocked(rl, "a:robot$victim", account_limit, now, &retry) &&
            !ratelimit_blocked(rl, "i:192.0.2.1", address_limit, now, &retry)) {
            account_tries++;
            ratelimit_fail(rl, "a:robot$victim", now);
            ratelimit_fail(rl, "i:192.0.2.1", now);
        }
        snprintf(key, sizeof(key), "a:robot$guess-%d", i);
        if (!ratelimit_blocked(rl, key, account_limit, now, &retry) &&
            !ratelimit_blocked(rl, "i:192.0.2.2", address_limit, now, &retry)) {
            address_tries++;
            ratelimit_fail(rl, key, now);
            ratelimit_fail(rl, "i:192.0.2.2", now);
        }
    }
    int windows = (names / rate + window - 1) / window;
    printf("# %d names over %d s (%d windows): %d tries of one account (limit %d a window), "
           "%d from one address (limit %d); max RSS %ld KiB at %d names, %ld KiB at the end\n",
           names, names / rate, windows, account_tries, account_limit, address_tries, address_limit,
           rss0, RATELIMIT_SLOTS * 2, max_rss_kib());
    CHECK(account_tries <= account_limit * windows);
    CHECK(account_tries >= account_limit * (windows - 1)); /* and the windows do end */
    CHECK(address_tries <= address_limit * windows);
    CHECK(address_tries >= address_limit * (windows - 1));
    CHECK(ratelimit_entries(rl, t0 + names / rate) <= RATELIMIT_SLOTS);
    CHECK(max_rss_kib() - rss0 < 1024); /* nothing allocated per name */
    ratelimit_free(rl);
}

static void test_credcache(void)
{
    unsigned char k1[CREDCACHE_KEY_LEN], k2[CREDCACHE_KEY_LEN], k3[CREDCACHE_KEY_LEN];
    struct credcache *cc = credcache_new(100);

    credcache_key("robot$a", "secret", 6, k1);
    credcache_key("robot$a", "secreT", 6, k2);
    credcache_key("robot$", "asecret", 7, k3); /* the NUL separates name and secret */
    CHECK(memcmp(k1, k2, sizeof(k1)) != 0);
    CHECK(memcmp(k1, k3, sizeof(k1)) != 0);

    CHECK(!credcache_check(cc, k1, 7, 1));
    credcache_put(cc, k1, 7, 1);
    CHECK(credcache_check(cc, k1, 7, 1));
    CHECK(!credcache_check(cc, k1, 7, 2)); /* secret refreshed */
    CHECK(!credcache_check(cc, k1, 8, 1)); /* robot re-created */
    CHECK(!credcache_check(cc, k2, 7, 1)); /* another secret */
    CHECK(credcache_size(cc) == 1);

    /* Bounded: 1,000 puts into a cache of 100 keep 100, the most recent. */
    unsigned char k[CREDCACHE_KEY_LEN];
    char secret[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(secret, sizeof(secret), "s%d", i);
        credcache_key("robot$b", secret, strlen(secret), k);
        credcache_put(cc, k, i, 1);
    }
    CHECK(credcache_size(cc) == 100);
    struct credcache *big = credcache_new(100000);
    for (int i = 0; i < 200000; i++) {
        snprintf(secret, sizeof(secret), "s%d", i);
        credcache_key("robot$b", secret, strlen(secret), k);
        credcache_put(big, k, i, 1);
    }
    CHECK(credcache_size(big) == 100000);
    credcache_free(big);
    credcache_key("robot$b", "s999", 4, k);
    CHECK(credcache_check(cc, k, 999, 1));
    credcache_key("robot$b", "s0", 2, k);
    CHECK(!credcache_check(cc, k, 0, 1));
    credcache_free(cc);

    /* Size 0 disables. */
    cc = credcache_new(0);
    credcache_put(cc, k1, 1, 1);
    CHECK(!credcache_check(cc, k1, 1, 1));
    credcache_free(cc);
    credcache_free(NULL);
}

static struct rc_robot robot(int64_t id, const char *name, int version)
{
    struct rc_robot r = {.id = id,
                         .full_name = (char *)name,
                         .secret_hash = (char *)"$pbkdf2$hash",
                         .cred_version = version,
                         .expires_at = -1,
                         .token_minutes = 30};
    return r;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void test_robotcache(void)
{
    struct robotcache *rc = robotcache_new(100, 60000);
    const char *pa[] = {"a"}, *pab[] = {"a", "b"}, *pb[] = {"b"};
    unsigned bits[2] = {0, 0}, put[2] = {3, 1};
    struct rc_robot out, r = robot(7, "robot$ci", 1);

    CHECK(rc != NULL);
    CHECK(!robotcache_get(rc, "robot$ci", 0, pa, 1, &out, bits));
    uint64_t gen = robotcache_generation(rc);
    robotcache_put(rc, gen, &r, pab, put, 2);
    CHECK(robotcache_size(rc) == 1);
    CHECK(robotcache_get(rc, "robot$ci", 0, pab, 2, &out, bits));
    CHECK(out.id == 7 && out.cred_version == 1 && bits[0] == 3 && bits[1] == 1);
    CHECK_STR(out.full_name, "robot$ci");
    CHECK_STR(out.secret_hash, "$pbkdf2$hash");
    rc_robot_deinit(&out);
    /* by id (refresh tokens), and only the projects asked */
    CHECK(robotcache_get(rc, NULL, 7, pb, 1, &out, bits) && bits[0] == 1);
    rc_robot_deinit(&out);
    /* a project never asked about is a miss */
    const char *pc[] = {"a", "c"};
    CHECK(!robotcache_get(rc, "robot$ci", 0, pc, 2, &out, bits));
    /* another name is a miss */
    CHECK(!robotcache_get(rc, "robot$cj", 0, pa, 1, &out, bits));

    /* A result read before a change is not stored. */
    gen = robotcache_generation(rc);
    robotcache_forget_robot(rc, 7);
    CHECK(!robotcache_get(rc, "robot$ci", 0, pa, 1, &out, bits));
    robotcache_put(rc, gen, &r, pa, put, 1);
    CHECK(!robotcache_get(rc, "robot$ci", 0, pa, 1, &out, bits));
    robotcache_put(rc, robotcache_generation(rc), &r, pa, put, 1);
    CHECK(robotcache_get(rc, "robot$ci", 0, pa, 1, &out, bits));
    rc_robot_deinit(&out);

    /* Projects changed: the robot stays, its project answers do not. */
    robotcache_projects_changed(rc);
    CHECK(!robotcache_get(rc, "robot$ci", 0, pa, 1, &out, bits));
    CHECK(robotcache_get(rc, "robot$ci", 0, NULL, 0, &out, bits));
    rc_robot_deinit(&out);

    /* The anonymous caller (id 0) is never found by name, not even by an empty one. */
    struct rc_robot anon = robot(0, "", 0);
    robotcache_put(rc, robotcache_generation(rc), &anon, pa, put, 1);
    CHECK(!robotcache_get(rc, "", 0, pa, 1, &out, bits));
    CHECK(robotcache_get(rc, NULL, 0, pa, 1, &out, bits) && out.id == 0);
    rc_robot_deinit(&out);

    /* A re-created robot (new id, same name) replaces the old entry. */
    struct rc_robot again = robot(8, "robot$ci", 1);
    robotcache_put(rc, robotcache_generation(rc), &again, pa, put, 1);
    CHECK(robotcache_get(rc, "robot$ci", 0, pa, 1, &out, bits) && out.id == 8);
    rc_robot_deinit(&out);
    CHECK(!robotcache_get(rc, NULL, 7, NULL, 0, &out, bits));

    /* A changed row read at the current generation replaces the entry and its answers. */
    struct rc_robot newer = robot(8, "robot$ci", 2);
    robotcache_put(rc, robotcache_generation(rc), &newer, pb, put, 1);
    CHECK(robotcache_get(rc, "robot$ci", 0, pb, 1, &out, bits) && out.cred_version == 2);
    rc_robot_deinit(&out);
    CHECK(!robotcache_get(rc, "robot$ci", 0, pa, 1, &out, bits));

    /* At most ROBOTCACHE_PROJECTS answers per robot; the newest are kept. */
    char names[ROBOTCACHE_PROJECTS * 2][16];
    for (int i = 0; i < ROBOTCACHE_PROJECTS * 2; i++) {
        const char *one[1] = {names[i]};
        unsigned b = (unsigned)i;
        snprintf(names[i], sizeof(names[i]), "p%d", i);
        robotcache_put(rc, robotcache_generation(rc), &newer, one, &b, 1);
    }
    const char *last[1] = {names[ROBOTCACHE_PROJECTS * 2 - 1]}, *first[1] = {names[0]};
    CHECK(robotcache_get(rc, "robot$ci", 0, last, 1, &out, bits) &&
          bits[0] == ROBOTCACHE_PROJECTS * 2 - 1);
    rc_robot_deinit(&out);
    CHECK(!robotcache_get(rc, "robot$ci", 0, first, 1, &out, bits));

    robotcache_clear(rc);
    CHECK(robotcache_size(rc) == 0 && robotcache_bytes(rc) == 0);

    /* Bounded: 1,000 robots into a cache of 100 keep the 100 most recent. */
    char name[32];
    for (int i = 1; i <= 1000; i++) {
        snprintf(name, sizeof(name), "robot$r%d", i);
        struct rc_robot x = robot(i, name, 1);
        robotcache_put(rc, robotcache_generation(rc), &x, pa, put, 1);
    }
    CHECK(robotcache_size(rc) == 100);
    CHECK(robotcache_get(rc, "robot$r1000", 0, pa, 1, &out, bits));
    rc_robot_deinit(&out);
    CHECK(!robotcache_get(rc, "robot$r1", 0, pa, 1, &out, bits));
    CHECK(robotcache_bytes(rc) > 100 * sizeof(struct rc_robot));
    robotcache_free(rc);

    /* A cache full of 100,000 robots stays at 100,000 when 100,000 more arrive, and its
     * memory with it. */
    rc = robotcache_new(100000, 60000);
    size_t full = 0;
    for (int i = 1; i <= 200000; i++) {
        snprintf(name, sizeof(name), "robot$r%d", i);
        struct rc_robot x = robot(i, name, 1);
        robotcache_put(rc, robotcache_generation(rc), &x, pa, put, 1);
        if (i == 100000)
            full = robotcache_bytes(rc);
    }
    CHECK(robotcache_size(rc) == 100000);
    CHECK(robotcache_bytes(rc) <= full + 5 * 100000); /* names up to five digits longer */
    CHECK(robotcache_get(rc, "robot$r200000", 0, pa, 1, &out, bits));
    rc_robot_deinit(&out);
    CHECK(!robotcache_get(rc, "robot$r100000", 0, pa, 1, &out, bits));
    robotcache_free(rc);

    /* Entries older than the TTL are misses. */
    rc = robotcache_new(10, 100);
    robotcache_put(rc, robotcache_generation(rc), &r, pa, put, 1);
    CHECK(robotcache_get(rc, "robot$ci", 0, pa, 1, &out, bits));
    rc_robot_deinit(&out);
    sleep_ms(150);
    CHECK(!robotcache_get(rc, "robot$ci", 0, pa, 1, &out, bits));
    CHECK(robotcache_size(rc) == 0);
    robotcache_free(rc);

    /* Size 0 disables. */
    rc = robotcache_new(0, 1000);
    robotcache_put(rc, robotcache_generation(rc), &r, pa, put, 1);
    CHECK(!robotcache_get(rc, "robot$ci", 0, pa, 1, &out, bits));
    robotcache_free(rc);
    robotcache_free(NULL);
}

/* The ids a query returns, as "1,2,3"; the total after a slash. */
static const char *page(struct robotdir *d, const struct robotdir_query *q)
{
    static char buf[512];
    int64_t *ids = NULL, total = -1;
    size_t n = 0;
    int rc = robotdir_query_loaded(d, q, &ids, &n, &total);
    if (rc != 1) {
        snprintf(buf, sizeof(buf), "rc=%d", rc);
        free(ids);
        return buf;
    }
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%lld", i ? "," : "",
                                (long long)ids[i]);
    snprintf(buf + len, sizeof(buf) - len, "/%lld", (long long)total);
    free(ids);
    return buf;
}

static void test_robotdir(void)
{
    struct robotdir *d = robotdir_new(6, 60000);
    CHECK(d != NULL);
    struct robotdir_query all = {0};
    CHECK_STR(page(d, &all), "rc=0"); /* nothing loaded: stands aside */
    /* In any order; sorted bytewise by name ("B" before "a"), then id. */
    const struct robotdir_row rows[] = {
        {5, 0, "ci-x", false},    {2, 0, "B", false},         {9, 7, "alpha+push", true},
        {3, 0, "build-x", false}, {4, 7, "alpha+pull", true}, {1, 8, "beta+x", true},
    };
    CHECK(robotdir_load_rows(d, rows, 6) == 0);
    CHECK(robotdir_size(d) == 6);
    CHECK_STR(page(d, &all), "2,4,9,1,3,5/6");
    struct robotdir_query q = {.desc = true};
    CHECK_STR(page(d, &q), "5,3,1,9,4,2/6");
    q = (struct robotdir_query){.name_part = "x"};
    CHECK_STR(page(d, &q), "1,3,5/3");
    q = (struct robotdir_query){.name_part = "x", .desc = true, .offset = 1, .limit = 1};
    CHECK_STR(page(d, &q), "3/3");
    q = (struct robotdir_query){.name_part = "x", .offset = 3, .limit = 10};
    CHECK_STR(page(d, &q), "/3"); /* past the end: nothing, the total still right */
    q = (struct robotdir_query){.name_part = ""};
    CHECK_STR(page(d, &q), "2,4,9,1,3,5/6");
    q = (struct robotdir_query){.name_part = "X"};
    CHECK_STR(page(d, &q), "/0"); /* bytewise: case matters, as strpos */
    q = (struct robotdir_query){.name_exact = "build-x"};
    CHECK_STR(page(d, &q), "3/1");
    q = (struct robotdir_query){.name_exact = "build"};
    CHECK_STR(page(d, &q), "/0");
    q = (struct robotdir_query){.level = "project"};
    CHECK_STR(page(d, &q), "4,9,1/3");
    q = (struct robotdir_query){.level = "system", .limit = 2};
    CHECK_STR(page(d, &q), "2,3/3");
    q = (struct robotdir_query){.level = "other"};
    CHECK_STR(page(d, &q), "/0");
    q = (struct robotdir_query){.project_id = 7, .name_part = "pu"};
    CHECK_STR(page(d, &q), "4,9/2");
    q = (struct robotdir_query){.project_id = 7, .level = "project", .name_part = "sh"};
    CHECK_STR(page(d, &q), "9/1");

    /* Changes: 3 and 9 deleted, 6 and 10 added, 42 named but gone. */
    const int64_t ids[] = {10, 3, 9, 6, 42, 3};
    const struct robotdir_row added[] = {{10, 0, "zz", false}, {6, 0, "ab", false}};
    CHECK(robotdir_patch_rows(d, ids, 6, added, 2) == 0);
    CHECK_STR(page(d, &all), "2,6,4,1,5,10/6");
    CHECK(robotdir_size(d) == 6);
    /* Over the capacity: the directory stands aside (the database answers). */
    const struct robotdir_row more[] = {{11, 0, "m1", false}, {12, 0, "m2", false}};
    const int64_t more_ids[] = {11, 12};
    CHECK(robotdir_patch_rows(d, more_ids, 2, more, 2) == 0);
    CHECK_STR(page(d, &all), "rc=0");
    CHECK(robotdir_size(d) == 0);
    /* A load of more than the capacity too; one within it brings it back. */
    const struct robotdir_row seven[] = {{1, 0, "a", false}, {2, 0, "b", false}, {3, 0, "c", false},
                                         {4, 0, "d", false}, {5, 0, "e", false}, {6, 0, "f", false},
                                         {7, 0, "g", false}};
    CHECK(robotdir_load_rows(d, seven, 7) == 0);
    CHECK_STR(page(d, &all), "rc=0");
    CHECK(robotdir_load_rows(d, seven, 6) == 0);
    CHECK_STR(page(d, &all), "1,2,3,4,5,6/6");
    /* Empty. */
    CHECK(robotdir_load_rows(d, NULL, 0) == 0);
    CHECK_STR(page(d, &all), "/0");
    robotdir_free(d);

    /* Substrings: a repeated first byte, at the end, longer than the name. */
    d = robotdir_new(10, 60000);
    const struct robotdir_row sub[] = {
        {1, 0, "aaab", false}, {2, 0, "ab", false}, {3, 0, "b", false}};
    CHECK(robotdir_load_rows(d, sub, 3) == 0);
    q = (struct robotdir_query){.name_part = "aab"};
    CHECK_STR(page(d, &q), "1/1");
    q = (struct robotdir_query){.name_part = "b"};
    CHECK_STR(page(d, &q), "1,2,3/3");
    q = (struct robotdir_query){.name_part = "ab"};
    CHECK_STR(page(d, &q), "1,2/2");
    q = (struct robotdir_query){.name_part = "aaab"};
    CHECK_STR(page(d, &q), "1/1");
    q = (struct robotdir_query){.name_part = "aaabb"};
    CHECK_STR(page(d, &q), "/0");
    q = (struct robotdir_query){.name_part = "ba"};
    CHECK_STR(page(d, &q), "/0");
    robotdir_free(d);

    /* Capacity 0: off; changes are ignored, nothing is ever loaded. */
    d = robotdir_new(0, 60000);
    robotdir_changed(d, 1);
    robotdir_invalidate(d);
    int64_t *got = NULL, total = 0;
    size_t n = 0;
    CHECK(robotdir_page(d, NULL, &all, &got, &n, &total) == 0 && got == NULL);
    robotdir_free(d);
    robotdir_free(NULL);

    /* 100,000 robots: the bound holds, a search is exact. */
    enum { N = 100000 };
    struct robotdir_row *big = calloc(N, sizeof(*big));
    char(*names)[16] = calloc(N, sizeof(*names));
    CHECK(big && names);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "bench%06d", i + 1);
        big[i] = (struct robotdir_row){.id = i + 1, .name = names[i]};
    }
    d = robotdir_new(N, 60000);
    CHECK(robotdir_load_rows(d, big, N) == 0);
    CHECK(robotdir_size(d) == N);
    q = (struct robotdir_query){.name_part = "x", .limit = 100};
    CHECK_STR(page(d, &q), "/0");
    q = (struct robotdir_query){.name_part = "99999", .limit = 100};
    CHECK_STR(page(d, &q), "99999/1");
    q = (struct robotdir_query){.name_part = "bench", .offset = 99990, .limit = 3};
    CHECK_STR(page(d, &q), "99991,99992,99993/100000");
    robotdir_free(d);
    d = robotdir_new(N - 1, 60000);
    CHECK(robotdir_load_rows(d, big, N) == 0);
    CHECK(robotdir_size(d) == 0);
    robotdir_free(d);
    free(big);
    free(names);
}

int main(void)
{
    test_ratelimit();
    test_ratelimit_flood();
    test_credcache();
    test_robotcache();
    test_robotdir();
    return check_done();
}
