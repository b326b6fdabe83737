/* The token lookup: one database round trip answers everything a token request needs
 * that the robot cache does not hold — the robot found by login name (with the prefix
 * rules) or by id (a refresh token's), the settings it depends on, and for each project
 * a request names whether it is public and the robot's permissions there. The SQL
 * function `dockhand_token_lookup` (sql/) does the work; this module owns its call and
 * reads its row, for the realm (non-blocking, on a worker's pool) and for the admin API
 * (blocking, to tell a robot's working credentials from bad ones). */
#pragma once
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "dockhand/common.h"
#include "dockhand/pgasync.h"
#include "dockhand/robotcache.h"

/* Queues the lookup on pool: by login (robot_id 0) or by robot_id (login NULL), or
 * neither (an anonymous caller: only the projects and settings). projects[0..n) are
 * names as the scope grammar accepts them. cb gets the result (lookup_read it). Returns
 * 0, DH_ERR_TOOBIG (the pool's queue is full) or DH_ERR_NOMEM; cb runs only after 0. */
int lookup_start(struct pgpool *pool, const char *login, int64_t robot_id,
                 const char *const *projects, size_t n, pgpool_cb cb, void *arg) DH_MUST_CHECK;

/* Reads a lookup's row: *found, the robot into *r (heap strings: rc_robot_deinit; the
 * settings' token_minutes also when not found) and bits[i], the access to projects[i]
 * (0 for a project that does not exist). Returns 0, DH_ERR_DB for a result that is not
 * one well-formed row, DH_ERR_NOMEM. */
int lookup_read(const PGresult *res, const char *const *projects, size_t n, bool *found,
                struct rc_robot *r, unsigned *bits) DH_MUST_CHECK;

/* The blocking lookup of login alone. Returns 1 with *r filled (rc_robot_deinit), 0 for
 * no such robot, DH_ERR_DB, DH_ERR_NOMEM. */
int lookup_login(PGconn *db, const char *login, struct rc_robot *r) DH_MUST_CHECK;
