/* Unit tests for permissions → registry actions (src/access.c). */
#include "check.h"
#include "dockhand/access.h"

#define REPO_ALL (ACT_PULL | ACT_PUSH | ACT_DELETE)

static unsigned eff1(const char *resource, const char *action)
{
    struct perm p = {resource, action};

    return access_effective(&p, 1);
}

static void test_effective(void)
{
    static const struct perm none_registry[] = {
        {"helm-chart", "read"},
        {"helm-chart-version", "create"},
        {"helm-chart-version", "delete"},
        {"tag", "create"},
        {"tag", "delete"},
        {"artifact-label", "create"},
        {"scan", "create"},
        {"catalog", "read"},
    };
    static const struct perm all[] = {
        {"repository", "pull"},
        {"repository", "push"},
        {"artifact", "delete"},
        {"tag", "create"},
    };
    static const struct perm odd[] = {
        {NULL, "pull"},         {"repository", NULL}, {"Repository", "pull"},
        {"repository", "PULL"}, {"repository", "*"},  {"repository", "pull "},
        {"artifact", "pull"},   {"artifact", "push"},
    };

    CHECK(access_effective(NULL, 0) == 0);
    CHECK(access_effective(all, 0) == 0);
    CHECK(eff1("repository", "pull") == ACT_PULL);
    /* push brings pull */
    CHECK(eff1("repository", "push") == (ACT_PUSH | ACT_PULL));
    /* delete from either permission */
    CHECK(eff1("artifact", "delete") == ACT_DELETE);
    CHECK(eff1("repository", "delete") == ACT_DELETE);
    /* Helm, tag, label, scan, catalog: stored but never registry actions */
    for (size_t i = 0; i < DH_ARRAY_SIZE(none_registry); i++)
        CHECK(access_effective(&none_registry[i], 1) == 0);
    CHECK(access_effective(none_registry, DH_ARRAY_SIZE(none_registry)) == 0);
    CHECK(access_effective(all, DH_ARRAY_SIZE(all)) == REPO_ALL);
    CHECK(access_effective(odd, DH_ARRAY_SIZE(odd)) == 0);
    CHECK(access_effective(all, 1) == ACT_PULL);
}

static void test_public(void)
{
    CHECK(access_public(true) == ACT_PULL);
    CHECK(access_public(false) == 0);
}

static void test_intersect(void)
{
    CHECK(access_intersect(ACT_PULL, ACT_PULL) == ACT_PULL);
    CHECK(access_intersect(ACT_PULL | ACT_PUSH, ACT_PULL) == ACT_PULL);
    CHECK(access_intersect(ACT_PULL | ACT_PUSH, ACT_PULL | ACT_PUSH) == (ACT_PULL | ACT_PUSH));
    CHECK(access_intersect(ACT_PULL, ACT_PUSH | ACT_PULL | ACT_DELETE) == ACT_PULL);
    CHECK(access_intersect(ACT_DELETE, ACT_PULL | ACT_PUSH) == 0);
    CHECK(access_intersect(0, REPO_ALL) == 0);
    CHECK(access_intersect(REPO_ALL, 0) == 0);
    /* "*" expands to the held actions only, never to the star itself */
    CHECK(access_intersect(ACT_STAR, REPO_ALL) == REPO_ALL);
    CHECK(access_intersect(ACT_STAR, ACT_PULL) == ACT_PULL);
    CHECK(access_intersect(ACT_STAR, ACT_PULL | ACT_DELETE) == (ACT_PULL | ACT_DELETE));
    CHECK(access_intersect(ACT_STAR, 0) == 0);
    CHECK(access_intersect(ACT_STAR | ACT_PULL, ACT_PUSH | ACT_PULL) == (ACT_PUSH | ACT_PULL));
    /* a star in effective is not something a repository grant can carry */
    CHECK(access_intersect(ACT_STAR, ACT_STAR) == 0);
    CHECK(access_intersect(ACT_STAR, ACT_STAR | ACT_PULL) == ACT_PULL);
    CHECK(access_intersect(REPO_ALL, ACT_STAR) == 0);

    /* public projects: pull for everyone, never more */
    CHECK(access_intersect(ACT_PULL | ACT_PUSH, access_public(true)) == ACT_PULL);
    CHECK(access_intersect(ACT_STAR, access_public(true)) == ACT_PULL);
    CHECK(access_intersect(ACT_PUSH, access_public(true)) == 0);
    CHECK(access_intersect(ACT_PULL, access_public(false)) == 0);
    /* public adds pull to a robot's own delete */
    CHECK(access_intersect(ACT_STAR, access_public(true) | eff1("artifact", "delete")) ==
          (ACT_PULL | ACT_DELETE));
}

static void test_catalog(void)
{
    CHECK(access_catalog(ACT_STAR, true) == ACT_STAR);
    CHECK(access_catalog(ACT_STAR | ACT_PULL, true) == ACT_STAR);
    CHECK(access_catalog(ACT_STAR, false) == 0);
    CHECK(access_catalog(ACT_PULL, true) == 0);
    CHECK(access_catalog(REPO_ALL, true) == 0);
    CHECK(access_catalog(0, true) == 0);
    CHECK(access_catalog(0, false) == 0);
}

static void test_catalogue(void)
{
    static const char *project_pairs[][2] = {
        {"repository", "pull"},           {"repository", "push"}, {"artifact", "delete"},
        {"repository", "delete"},         {"helm-chart", "read"}, {"helm-chart-version", "create"},
        {"helm-chart-version", "delete"}, {"tag", "create"},      {"tag", "delete"},
        {"artifact-label", "create"},     {"scan", "create"},
    };
    size_t system_only = 0;

    for (size_t i = 0; i < DH_ARRAY_SIZE(project_pairs); i++) {
        CHECK(access_perm_known(project_pairs[i][0], project_pairs[i][1], false));
        CHECK(access_perm_known(project_pairs[i][0], project_pairs[i][1], true));
    }
    CHECK(!access_perm_known("catalog", "read", false));
    CHECK(access_perm_known("catalog", "read", true));

    CHECK(!access_perm_known("repository", "*", true));
    CHECK(!access_perm_known("Repository", "pull", true));
    CHECK(!access_perm_known("repository", "Pull", true));
    CHECK(!access_perm_known("repository", "pul", true));
    CHECK(!access_perm_known("repositor", "pull", true));
    CHECK(!access_perm_known("artifact", "pull", true));
    CHECK(!access_perm_known("helm-chart", "create", true));
    CHECK(!access_perm_known("registry", "catalog", true));
    CHECK(!access_perm_known("", "", true));
    CHECK(!access_perm_known(NULL, "pull", true));
    CHECK(!access_perm_known("repository", NULL, true));

    /* the public table: every pair above, catalog:read system-only, no duplicates */
    CHECK(access_catalogue_len == DH_ARRAY_SIZE(project_pairs) + 1);
    for (size_t i = 0; i < access_catalogue_len; i++) {
        const struct perm_def *d = &access_catalogue[i];

        CHECK(d->resource && d->action && d->description && d->description[0]);
        CHECK(access_perm_known(d->resource, d->action, true));
        CHECK(access_perm_known(d->resource, d->action, false) == !d->system_only);
        if (d->system_only) {
            system_only++;
            CHECK_STR(d->resource, "catalog");
            CHECK_STR(d->action, "read");
        }
        for (size_t j = 0; j < i; j++) {
            const struct perm_def *e = &access_catalogue[j];

            CHECK(strcmp(d->resource, e->resource) != 0 || strcmp(d->action, e->action) != 0);
        }
    }
    CHECK(system_only == 1);
}

int main(void)
{
    test_effective();
    test_public();
    test_intersect();
    test_catalog();
    test_catalogue();
    return check_done();
}
