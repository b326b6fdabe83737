#include "dockhand/changes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/metrics.h"
#include "dockhand/robotcache.h"
#include "dockhand/robotdir.h"

static int parse_id(const char *s, int64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return DH_ERR_INVALID;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno || v < 1)
        return DH_ERR_INVALID;
    *out = v;
    return 0;
}

int change_parse(const char *payload, struct change *out)
{
    static const struct {
        const char *prefix;
        enum change_kind kind;
        bool has_id;
    } kinds[] = {
        {"robot:", CHANGE_ROBOT, true},        {"project:", CHANGE_PROJECT, true},
        {"settings:", CHANGE_SETTINGS, false}, {"admin:", CHANGE_NONE, false},
        {"sync:", CHANGE_SYNC, true},
    };
    out->kind = CHANGE_NONE;
    out->id = 0;
    for (size_t i = 0; i < DH_ARRAY_SIZE(kinds); i++) {
        size_t n = strlen(kinds[i].prefix);
        if (strncmp(payload, kinds[i].prefix, n) != 0)
            continue;
        if (kinds[i].has_id && parse_id(payload + n, &out->id) < 0)
            return DH_ERR_INVALID;
        out->kind = kinds[i].kind;
        return 0;
    }
    return 0;
}

/* Changes applied, by kind, in this process (any thread). */
static metric_t applied[CHANGE_KINDS];

uint64_t change_applied(enum change_kind kind)
{
    return kind < CHANGE_KINDS ? metric_get(&applied[kind]) : 0;
}

void change_apply(const struct change_targets *t, const struct change *ch)
{
    if (ch->kind < CHANGE_KINDS)
        metric_add_shared(&applied[ch->kind], 1);
    switch (ch->kind) {
    case CHANGE_ROBOT:
        /* Verified credentials need no eviction: they only count for the robot id and
         * credential version the robot cache (or the database) holds now. Scanning them
         * here would hold every worker for each of a bulk change's notifications. */
        if (t->rcache)
            robotcache_forget_robot(t->rcache, ch->id);
        if (t->rdir)
            robotdir_changed(t->rdir, ch->id);
        break;
    case CHANGE_PROJECT:
        /* Its robots, if it was deleted, come with notifications of their own. */
        if (t->rcache)
            robotcache_projects_changed(t->rcache);
        break;
    case CHANGE_PROJECT_GONE:
        /* This instance's own deletion: its robots must be gone before the API answers,
         * without waiting for their notifications. */
        if (t->rcache)
            robotcache_clear(t->rcache);
        if (t->rdir)
            robotdir_invalidate(t->rdir);
        break;
    case CHANGE_SETTINGS:
        if (t->rcache)
            robotcache_clear(t->rcache);
        break;
    case CHANGE_EVERYTHING:
        if (t->rcache)
            robotcache_clear(t->rcache);
        if (t->rdir)
            robotdir_invalidate(t->rdir);
        break;
    case CHANGE_NONE:
    case CHANGE_SYNC:
    case CHANGE_KINDS:
        break;
    }
}
