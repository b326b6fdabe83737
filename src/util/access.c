/* From stored permissions to registry actions (docs/design.md §3.6 "Scopes and access"). */
#include "dockhand/access.h"

#include <string.h>

/* The registry actions that can be granted on a repository; ACT_STAR is only ever
 * a request, or the catalog grant. */
#define ACCESS_REPO_ACTIONS (ACT_PULL | ACT_PUSH | ACT_DELETE)

const struct perm_def access_catalogue[] = {
    {"repository", "pull", "Pull images and other artifacts", false},
    {"repository", "push", "Push images and other artifacts (brings pull)", false},
    {"artifact", "delete", "Delete artifacts", false},
    {"repository", "delete", "Delete repositories", false},
    {"helm-chart", "read", "Read Helm charts", false},
    {"helm-chart-version", "create", "Upload Helm chart versions", false},
    {"helm-chart-version", "delete", "Delete Helm chart versions", false},
    {"tag", "create", "Create tags", false},
    {"tag", "delete", "Delete tags", false},
    {"artifact-label", "create", "Add labels to artifacts", false},
    {"scan", "create", "Start vulnerability scans", false},
    {"catalog", "read", "List every repository (registry:catalog:*)", true},
};
const size_t access_catalogue_len = DH_ARRAY_SIZE(access_catalogue);

static bool access_is(const struct perm *p, const char *resource, const char *action)
{
    return p->resource && p->action && strcmp(p->resource, resource) == 0 &&
           strcmp(p->action, action) == 0;
}

unsigned access_effective(const struct perm *perms, size_t n)
{
    unsigned bits = 0;

    for (size_t i = 0; perms && i < n; i++) {
        const struct perm *p = &perms[i];

        if (access_is(p, "repository", "pull"))
            bits |= ACT_PULL;
        else if (access_is(p, "repository", "push"))
            bits |= ACT_PUSH | ACT_PULL; /* the registry wants both for every upload */
        else if (access_is(p, "artifact", "delete") || access_is(p, "repository", "delete"))
            bits |= ACT_DELETE;
    }
    return bits;
}

unsigned access_public(bool project_public)
{
    return project_public ? ACT_PULL : 0;
}

unsigned access_intersect(unsigned requested, unsigned effective)
{
    effective &= ACCESS_REPO_ACTIONS;
    if (requested & ACT_STAR)
        return effective;
    return requested & effective;
}

unsigned access_catalog(unsigned requested, bool has_catalog_read)
{
    return (requested & ACT_STAR) && has_catalog_read ? ACT_STAR : 0;
}

bool access_perm_known(const char *resource, const char *action, bool system)
{
    if (!resource || !action)
        return false;
    for (size_t i = 0; i < access_catalogue_len; i++) {
        const struct perm_def *d = &access_catalogue[i];

        if (d->system_only && !system)
            continue;
        if (strcmp(d->resource, resource) == 0 && strcmp(d->action, action) == 0)
            return true;
    }
    return false;
}
