/* The admin API's request parsing, with no request and no database: the JSON bodies
 * (robot create and update, secret refresh, project create, configurations) and the q and
 * sort parameters of the robot, project and audit lists. The handlers (api_robots.c,
 * api_projects.c, api_system.c) answer with what these say; the fuzz drivers
 * (tests/fuzz/fuzz_api_body.c, fuzz_query.c, fuzz_sort.c) feed them arbitrary bytes.
 * Each returns 0, or DH_ERR_INVALID with the 400's message in why (API_WHY_LEN bytes,
 * never quoting a secret), or DH_ERR_NOMEM. Strings put in the outputs point into the
 * input (the JSON document or the query), which must outlive them. */
#pragma once
#include <jansson.h>
#include "dockhand/audit.h"
#include "dockhand/query.h"
#include "dockhand/robots.h"

#define API_WHY_LEN 256

/* A request body: a JSON object, duplicate keys refused. *out is a new reference. */
int api_parse_body(const char *body, size_t len, json_t **out, char *why) DH_MUST_CHECK;

/* Permission entries parsed from a request, pointing into its JSON document. */
struct api_perms {
    struct robot_permission *perms;
    size_t n;
};
/* Frees what parsing allocated; p is empty afterwards. */
void api_perms_free(struct api_perms *p);

/* POST /robots: name, description, level, duration, disable, permissions. The spec is
 * only shaped (types and sizes); robot_spec_check says whether it may be stored. */
int api_parse_robot_create(json_t *body, struct robot_spec *spec, struct api_perms *pp,
                           char *why) DH_MUST_CHECK;

/* PUT /robots/<id> against the robot cur: name and level may only repeat cur's. */
int api_parse_robot_update(json_t *body, const struct robot *cur, struct robot_change *ch,
                           struct api_perms *pp, char *why) DH_MUST_CHECK;

/* PATCH /robots/<id>/sec: body NULL (no body) or {"secret": string | null}; *manual is
 * NULL for a generated secret. */
int api_parse_robot_refresh(json_t *body, const char **manual, size_t *manual_len,
                            char *why) DH_MUST_CHECK;

/* POST /projects: project_name, public (boolean) or metadata.public ("true"/"false"). */
int api_parse_project_create(json_t *body, const char **name, bool *is_public,
                             char *why) DH_MUST_CHECK;

/* PUT /configurations: every key a known setting of the right JSON type (integer, or a
 * string for robot_name_prefix). The values are checked by settings_check. */
int api_parse_configurations(json_t *body, char *why) DH_MUST_CHECK;
/* Which settings are integers in the API (the other is a string). */
bool api_setting_is_int(const char *key);

/* The robot list's q: name exact or fuzzy, Level and ProjectID exact, keys ignoring case
 * as Harbor's do; keys naming a secret are refused. */
int api_parse_robot_q(const struct query *q, struct robot_filter *f, char *why) DH_MUST_CHECK;
/* The robot list's sort: one of the store's columns, possibly "-"; nothing naming a
 * secret. */
int api_parse_robot_sort(const char *sort, char *why) DH_MUST_CHECK;
/* The project list's q: name=~part or name=value only; *name points into q. */
int api_parse_project_q(const struct query *q, const char **name, char *why) DH_MUST_CHECK;
/* The audit list's q: operation, resource_type and username exact, resource exact or
 * fuzzy, op_time=[from~to] in the time grammar of timefmt.h. */
int api_parse_audit_q(const struct query *q, struct audit_filter *f, char *why) DH_MUST_CHECK;
