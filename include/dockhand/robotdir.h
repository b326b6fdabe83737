/* The robot directory: every robot's id, stored name, level and project, in memory and
 * in name order (bytewise, as COLLATE "C"), for the admin API's robot list. A substring
 * search (q=name=~x) over 100,000 robots costs PostgreSQL a pass over every name, 15 to
 * 30 ms on two cores; here it is a pass over memory, and the database only reads the
 * page's own rows by id.
 *
 * Kept fresh like the robot cache: robot:<id> notifications (and this instance's own API
 * changes) name the robots to read again before the next list (robotdir_changed); a
 * listener reconnect, SIGHUP or a change naming no robot reloads it all
 * (robotdir_invalidate); so does age (the cache TTL), which bounds staleness when a change
 * bypassed the triggers. Names, levels and projects of robots never change, so a robot is
 * only ever added or removed.
 *
 * Bounded: with more robots than its capacity the directory stands aside (the list asks
 * PostgreSQL) until the TTL has passed; capacity 0 turns it off. Shared by the API
 * threads; robotdir_changed never waits for a load. */
#pragma once
#include <libpq-fe.h>
#include <stdint.h>
#include "dockhand/common.h"

#define ROBOTDIR_PENDING_MAX 1024 /* robots named since the last list; more: reload all */

struct robotdir;

struct robotdir *robotdir_new(size_t cap, int ttl_ms);
void robotdir_free(struct robotdir *d);

void robotdir_changed(struct robotdir *d, int64_t id);
void robotdir_invalidate(struct robotdir *d);

/* What a list asks for. name_part/name_exact match the stored name (no prefix); level is
 * "system", "project" or NULL; project_id 0 is any. */
struct robotdir_query {
    const char *name_part, *name_exact, *level;
    int64_t project_id;
    bool desc;
    int64_t offset, limit;
};

/* The ids of the page, in order (*ids malloc'd, caller frees), and how many robots match
 * in all. Returns 1 when answered, 0 when the caller should ask PostgreSQL (the directory
 * is off, stands aside for too many robots, or another list is reading changes it lacks:
 * a list never waits for another's database read), DH_ERR_DB or DH_ERR_NOMEM when
 * bringing it up to date failed (what it read is read again by the next list). The
 * database is read without the directory's lock held. */
int robotdir_page(struct robotdir *d, PGconn *db, const struct robotdir_query *q, int64_t **ids,
                  size_t *n, int64_t *total) DH_MUST_CHECK;

/* ---- for tests: the directory without a database --------------------------------------- */

struct robotdir_row {
    int64_t id, project_id;
    const char *name;
    bool project_level;
};

/* Replaces everything (rows in any order; more than cap: the directory stands aside). */
int robotdir_load_rows(struct robotdir *d, const struct robotdir_row *rows, size_t n);
/* Removes the robots ids[0..nids) and adds rows (each among ids; the ones still there). */
int robotdir_patch_rows(struct robotdir *d, const int64_t *ids, size_t nids,
                        const struct robotdir_row *rows, size_t n);
/* robotdir_page on what is loaded, without bringing it up to date. */
int robotdir_query_loaded(struct robotdir *d, const struct robotdir_query *q, int64_t **ids,
                          size_t *n, int64_t *total);
size_t robotdir_size(struct robotdir *d);
/* Pages answered from memory (hits) and from the database (misses), entries loaded; it
 * never evicts. */
struct cache_stats;
void robotdir_stats(struct robotdir *d, struct cache_stats *s);
