/* What a committed change makes stale, in one place. Two sources feed it: the
 * notifications of the database's triggers (`NOTIFY dockhand, '<kind>:<id>'`, every
 * instance, milliseconds after the commit) and the admin API's own writes on this
 * instance (applied before the API answers, so the next token request here sees them).
 * README "How it runs" says what each kind drops. */
#pragma once
#include <stdint.h>
#include "dockhand/common.h"

enum change_kind {
    CHANGE_NONE,         /* nothing cached depends on it (an administrator, a session) */
    CHANGE_ROBOT,        /* a robot's row or permissions (id); also its creation */
    CHANGE_PROJECT,      /* a project created, changed or deleted (id; its robots notify) */
    CHANGE_PROJECT_GONE, /* this instance deleted a project with its robots */
    CHANGE_SETTINGS,     /* a setting (prefix, token lifetime, default duration) */
    CHANGE_EVERYTHING,   /* notifications may have been lost (a listener reconnect) */
    CHANGE_SYNC,         /* a barrier (id = n), not a change: see server.c */
    CHANGE_KINDS
};

struct change {
    enum change_kind kind;
    int64_t id;
};

/* A notification's payload: robot:<id>, project:<id>, settings:<key>, admin:<id>,
 * sync:<n>. Unknown kinds are CHANGE_NONE (a newer instance may send more). Returns 0,
 * or DH_ERR_INVALID for a known kind whose id is not a positive integer. */
int change_parse(const char *payload, struct change *out) DH_MUST_CHECK;

struct robotcache;
struct robotdir;

/* The caches a change can make stale; either may be NULL. */
struct change_targets {
    struct robotcache *rcache;
    struct robotdir *rdir;
};

/* Drops what ch makes stale: a robot's cached row and its directory entry; every
 * cached project answer; everything. CHANGE_NONE and CHANGE_SYNC drop nothing. */
void change_apply(const struct change_targets *t, const struct change *ch);

/* How many changes of kind this process has applied (for the metrics' cache flushes). */
uint64_t change_applied(enum change_kind kind);
