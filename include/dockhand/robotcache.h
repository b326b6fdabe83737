/* What the token realm reads from the database for a request (docs/design.md §2.3): a robot's row
 * (id, name, secret hash, version, disabled, expiry, catalog right), the token lifetime
 * setting, and the robot's effective access to each project it was asked about (public
 * pull included; 0 for a project that does not exist). With it a warm request needs no
 * database round trip.
 *
 * Kept fresh by the NOTIFYs of sql/: robot:<id> drops that robot (robotcache_forget_robot),
 * project:<id> makes every project answer stale (robotcache_projects_changed), settings
 * drop everything (robotcache_clear). A lookup that started before a change must not
 * store what it read: take robotcache_generation() before the query and pass it to
 * robotcache_put, which ignores the result when anything changed meanwhile. Entries older
 * than the TTL are misses, so a lost notification is healed within the TTL.
 *
 * Bounded LRU, shared by the workers. The anonymous caller is the entry of id 0 and login "". */
#pragma once
#include <stdint.h>
#include "dockhand/cidr.h"
#include "dockhand/common.h"

#define ROBOTCACHE_PROJECTS 32  /* project answers kept per robot (oldest replaced) */
#define ROBOTCACHE_UNKNOWN 1024 /* logins known to be no robot's (direct-mapped) */

struct robotcache;

/* A robot as the realm needs it; strings owned by the caller after robotcache_get. */
struct rc_robot {
    int64_t id; /* 0: the anonymous caller */
    char *full_name;
    char *secret_hash;
    int cred_version;
    bool disabled;
    int64_t expires_at; /* -1: never */
    bool catalog;
    int token_minutes;
    struct cidr *networks; /* where it may log in from (malloc'd); none: anywhere */
    size_t nnetworks;
    char *federation; /* its federation rules, the lookup's JSON array text; NULL: none */
};

/* cap 0 disables the cache (every get misses); ttl_ms bounds an entry's age. */
struct robotcache *robotcache_new(size_t cap, int ttl_ms);
void robotcache_free(struct robotcache *rc);

/* Changes whenever something cached may have changed; read it before a lookup. */
uint64_t robotcache_generation(struct robotcache *rc);

/* Finds the robot by login (when login is not NULL) or by id, and the access of each of
 * projects[0..n). True only when all of it is cached and fresh: then *out is filled
 * (free it with rc_robot_deinit) and bits[i] holds the access to projects[i]. */
bool robotcache_get(struct robotcache *rc, const char *login, int64_t id,
                    const char *const *projects, size_t n, struct rc_robot *out, unsigned *bits);

/* Stores a lookup's result read at generation gen (dropped when gen is not current). */
void robotcache_put(struct robotcache *rc, uint64_t gen, const struct rc_robot *r,
                    const char *const *projects, const unsigned *bits, size_t n);

/* Logins no robot has, so that an unknown name costs what a cached robot does (no database
 * round trip: README "Security cases"). An answer holds only while the generation it was
 * read at is current — any change to any robot, project or setting ends it — and within
 * the TTL; a disabled cache (cap 0) keeps none. */
bool robotcache_get_unknown(struct robotcache *rc, const char *login);
void robotcache_put_unknown(struct robotcache *rc, uint64_t gen, const char *login);

void robotcache_forget_robot(struct robotcache *rc, int64_t id);
void robotcache_projects_changed(struct robotcache *rc);
void robotcache_clear(struct robotcache *rc);

/* Robots held now, and the bytes they take (entries, names, hashes, project answers). */
size_t robotcache_size(struct robotcache *rc);
size_t robotcache_bytes(struct robotcache *rc);
/* Lookups that hit and missed (a disabled cache counts neither), entries pushed out by
 * newer ones, entries now. */
struct cache_stats;
void robotcache_stats(struct robotcache *rc, struct cache_stats *s);

void rc_robot_deinit(struct rc_robot *r);
