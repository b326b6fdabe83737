/* Unit tests for src/store/changes.c: notification payloads, and what each change drops
 * from the robot cache (a real one; the directory is tested in test_caches.c). */
#include "check.h"

#include "dockhand/changes.h"
#include "dockhand/robotcache.h"

static void test_parse(void)
{
    struct change ch;
    CHECK(change_parse("robot:42", &ch) == 0 && ch.kind == CHANGE_ROBOT && ch.id == 42);
    CHECK(change_parse("project:7", &ch) == 0 && ch.kind == CHANGE_PROJECT && ch.id == 7);
    CHECK(change_parse("settings:robot_name_prefix", &ch) == 0 && ch.kind == CHANGE_SETTINGS);
    CHECK(change_parse("admin:3", &ch) == 0 && ch.kind == CHANGE_NONE);
    CHECK(change_parse("sync:9000000000", &ch) == 0 && ch.kind == CHANGE_SYNC &&
          ch.id == 9000000000LL);
    CHECK(change_parse("future:1", &ch) == 0 && ch.kind == CHANGE_NONE);
    CHECK(change_parse("", &ch) == 0 && ch.kind == CHANGE_NONE);
    /* a known kind with a bad id is refused, never read as id 0 or as a prefix of it */
    CHECK(change_parse("robot:", &ch) == DH_ERR_INVALID);
    CHECK(change_parse("robot:12x", &ch) == DH_ERR_INVALID);
    CHECK(change_parse("robot:-1", &ch) == DH_ERR_INVALID);
    CHECK(change_parse("robot:0", &ch) == DH_ERR_INVALID);
    CHECK(change_parse("robot: 5", &ch) == DH_ERR_INVALID);
    CHECK(change_parse("robot:99999999999999999999", &ch) == DH_ERR_INVALID);
    CHECK(change_parse("project:abc", &ch) == DH_ERR_INVALID);
    CHECK(change_parse("sync:", &ch) == DH_ERR_INVALID);
}

static void put(struct robotcache *rc, int64_t id, const char *name)
{
    struct rc_robot r = {.id = id,
                         .full_name = (char *)name,
                         .secret_hash = "h",
                         .cred_version = 1,
                         .expires_at = -1,
                         .token_minutes = 30};
    const char *projects[] = {"p"};
    unsigned bits[] = {1};
    robotcache_put(rc, robotcache_generation(rc), &r, projects, bits, 1);
}

static bool cached(struct robotcache *rc, int64_t id, const char *project)
{
    struct rc_robot out;
    unsigned bits[1];
    const char *projects[] = {project};
    bool hit = robotcache_get(rc, NULL, id, projects, 1, &out, bits);
    if (hit)
        rc_robot_deinit(&out);
    return hit;
}

static void test_apply(void)
{
    struct robotcache *rc = robotcache_new(100, 60000);
    const struct change_targets t = {rc, NULL};

    put(rc, 1, "robot$a");
    put(rc, 2, "robot$b");
    CHECK(cached(rc, 1, "p") && cached(rc, 2, "p"));

    change_apply(&t, &(struct change){CHANGE_ROBOT, 1});
    CHECK(!cached(rc, 1, "p"));
    CHECK(cached(rc, 2, "p")); /* a robot's change drops that robot only */

    change_apply(&t, &(struct change){CHANGE_NONE, 2});
    change_apply(&t, &(struct change){CHANGE_SYNC, 2});
    CHECK(cached(rc, 2, "p"));

    change_apply(&t, &(struct change){CHANGE_PROJECT, 5});
    CHECK(!cached(rc, 2, "p")); /* every project answer is stale */

    const enum change_kind all[] = {CHANGE_PROJECT_GONE, CHANGE_SETTINGS, CHANGE_EVERYTHING};
    for (size_t i = 0; i < DH_ARRAY_SIZE(all); i++) {
        put(rc, 3, "robot$c");
        CHECK(cached(rc, 3, "p"));
        change_apply(&t, &(struct change){all[i], 0});
        CHECK(!cached(rc, 3, "p"));
        CHECK(robotcache_size(rc) == 0);
    }
    /* no targets: nothing to do, nothing dereferenced */
    change_apply(&(struct change_targets){NULL, NULL}, &(struct change){CHANGE_EVERYTHING, 0});
    robotcache_free(rc);
}

int main(void)
{
    test_parse();
    test_apply();
    return check_done();
}
