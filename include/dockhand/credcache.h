/* Verified credentials (docs/design.md §2.3): SHA-256 of the login name, a NUL and the secret →
 * the robot id and credential version it was verified at. A hit lets the token realm
 * skip the KDF only for the robot id and version that the robot cache (or the database)
 * holds now, so a refreshed secret (new version), a deleted robot (gone) or a recreated
 * one (new id) never matches, and nothing needs evicting. Bounded LRU, shared by the
 * workers. */
#pragma once
#include <stdint.h>
#include "dockhand/common.h"

#define CREDCACHE_KEY_LEN 32

struct credcache;

/* cap 0 disables the cache (every lookup misses). */
struct credcache *credcache_new(size_t cap);
void credcache_free(struct credcache *cc);

/* The key for login and secret. */
void credcache_key(const char *login, const char *secret, size_t secret_len,
                   unsigned char key[CREDCACHE_KEY_LEN]);

/* True when key was verified for exactly (robot_id, version). */
bool credcache_check(struct credcache *cc, const unsigned char key[CREDCACHE_KEY_LEN],
                     int64_t robot_id, int version);

/* Records a successful verification. */
void credcache_put(struct credcache *cc, const unsigned char key[CREDCACHE_KEY_LEN],
                   int64_t robot_id, int version);

/* Entries held now. */
size_t credcache_size(struct credcache *cc);
/* Checks that hit and missed, entries pushed out by newer ones, entries now. */
struct cache_stats;
void credcache_stats(struct credcache *cc, struct cache_stats *s);
