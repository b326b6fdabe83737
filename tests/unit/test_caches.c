/* The failed-login table, the verified-credential cache and the settings loader. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dockhand/config.h"
#include "dockhand/credcache.h"
#include "dockhand/ratelimit.h"

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
    credcache_forget_robot(cc, 7);
    CHECK(!credcache_check(cc, k1, 7, 1));
    CHECK(credcache_size(cc) == 0);

    /* Bounded: 1,000 puts into a cache of 100 keep 100, the most recent. */
    unsigned char k[CREDCACHE_KEY_LEN];
    char secret[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(secret, sizeof(secret), "s%d", i);
        credcache_key("robot$b", secret, strlen(secret), k);
        credcache_put(cc, k, i, 1);
    }
    CHECK(credcache_size(cc) == 100);
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

static void test_config(void)
{
    struct config cfg;
    char *argv[] = {"dockhand", "serve", "--listen", "0.0.0.0:7000", "--workers=3", "--output",
                    "json",     "extra", NULL};
    int argc = 8;
    FILE *err = fopen("/dev/null", "w");

    setenv("DOCKHAND_SERVICE", "svc-from-env", 1);
    setenv("DOCKHAND_LISTEN", "1.2.3.4:1", 1);
    CHECK(config_load(&cfg, &argc, argv, err) == 0);
    CHECK_STR(cfg.service, "svc-from-env");
    CHECK_STR(cfg.listen, "0.0.0.0:7000"); /* flags beat the environment */
    CHECK(cfg.workers == 3);
    CHECK_STR(cfg.output, "json");
    CHECK(argc == 3);
    CHECK_STR(argv[1], "serve");
    CHECK_STR(argv[2], "extra");
    CHECK(cfg.fail_limit_account == 10);
    CHECK(cfg.kid_format == KID_LIBTRUST);
    config_deinit(&cfg);

    char *bad1[] = {"dockhand", "--workers", "many", NULL};
    argc = 3;
    CHECK(config_load(&cfg, &argc, bad1, err) < 0);
    config_deinit(&cfg);
    char *bad2[] = {"dockhand", "--kid-format", "x5t", NULL};
    argc = 3;
    CHECK(config_load(&cfg, &argc, bad2, err) < 0);
    config_deinit(&cfg);
    char *bad3[] = {"dockhand", "--max-body", NULL};
    argc = 2;
    CHECK(config_load(&cfg, &argc, bad3, err) < 0);
    config_deinit(&cfg);
    setenv("DOCKHAND_FAIL_WINDOW", "0", 1);
    char *ok[] = {"dockhand", NULL};
    argc = 1;
    CHECK(config_load(&cfg, &argc, ok, err) < 0); /* below the minimum */
    config_deinit(&cfg);
    unsetenv("DOCKHAND_FAIL_WINDOW");
    fclose(err);
}

int main(void)
{
    test_ratelimit();
    test_credcache();
    test_config();
    return check_done();
}
