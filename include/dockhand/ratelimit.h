/* Failed-login counting per key (account or client address) in fixed windows, in a
 * fixed-size table shared by the workers: memory stays bounded whatever the traffic. */
#pragma once
#include <time.h>
#include "dockhand/common.h"

#define RATELIMIT_SLOTS 65536 /* entries; when full, the fewest failures are replaced */

struct ratelimit;

struct ratelimit *ratelimit_new(int window_seconds);
void ratelimit_free(struct ratelimit *rl);

/* True when key has reached limit failures in the current window; *retry_after is
 * then the seconds until the window ends. */
bool ratelimit_blocked(struct ratelimit *rl, const char *key, int limit, time_t now,
                       int *retry_after);

/* Counts one failure for key. */
void ratelimit_fail(struct ratelimit *rl, const char *key, time_t now);

/* Forgets key (after a successful login of that account). */
void ratelimit_clear(struct ratelimit *rl, const char *key);

/* Slots holding a window not yet over (of RATELIMIT_SLOTS): the table's fill, for the
 * metrics. Scans the table under its lock. */
size_t ratelimit_entries(struct ratelimit *rl, time_t now);
