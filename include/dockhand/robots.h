/* Robots: validation plus SQL, on a blocking connection (the CLI's, or an admin API
 * thread's). The only module that writes the robots and robot_permissions tables.
 * Every function that can be refused says why in a struct store_err. */
#pragma once
#include <libpq-fe.h>
#include <stdint.h>
#include "dockhand/common.h"
#include "dockhand/secret.h"
#include "dockhand/store_err.h"

#define ROBOT_MAX_PERMS 1000       /* permission entries (namespaces) per robot */
#define ROBOT_MAX_ACCESS 64        /* access pairs per entry */
#define ROBOT_DESCRIPTION_MAX 1024 /* bytes */
#define ROBOT_DURATION_MAX 36500   /* days (100 years) */

/* Networks a robot may log in from (robots.networks; sql/009's CHECK says the same). */
#define ROBOT_MAX_NETWORKS 64
/* Federation rules (robot_federation, sql/009): per robot, and the bounds of a rule. */
#define ROBOT_MAX_FEDERATION 16       /* rules per robot */
#define ROBOT_FED_MAX_CLAIMS 16       /* claim conditions per rule */
#define ROBOT_FED_ISSUER_MAX 512      /* bytes of issuer (an https:// URL) */
#define ROBOT_FED_AUDIENCE_MAX 512    /* bytes of audience */
#define ROBOT_FED_SUBJECT_MAX 1024    /* bytes of subject (exact, or a pattern with '*') */
#define ROBOT_FED_CLAIM_NAME_MAX 128  /* bytes of a claim's name */
#define ROBOT_FED_CLAIM_VALUE_MAX 512 /* bytes of a claim's value (exact, or a pattern) */

struct robot_access {
    char *resource;
    char *action;
};

struct robot_permission {
    char *kind;       /* "project" or "system" */
    char *namespace_; /* project name, "*" (all projects) or "/" (system) */
    struct robot_access *access;
    size_t naccess;
};

struct robot {
    int64_t id;
    char *name;      /* stored name, without prefix */
    char *full_name; /* with the prefix that applies to it */
    char *description;
    char *level;        /* "system" | "project" */
    int64_t project_id; /* 0 for system robots */
    int duration;
    int64_t expires_at; /* -1: never */
    bool disabled;
    bool legacy;
    char *creation_time; /* RFC 3339 */
    char *update_time;
    char *last_used; /* NULL: never */
    struct robot_permission *perms;
    size_t nperms;
};

/* What a caller may set on create. Fields a client may not set do not exist here. */
struct robot_spec {
    const char *name;
    const char *description; /* NULL: "" */
    const char *level;       /* "system" | "project" */
    bool duration_set;
    int64_t duration;
    bool disabled; /* created disabled, in the same transaction */
    const struct robot_permission *perms;
    size_t nperms;
};

/* Changes on update; NULL / false leaves a field alone. */
struct robot_change {
    const char *description;
    bool duration_set;
    int64_t duration;
    bool disabled_set;
    bool disabled;
    bool perms_set;
    const struct robot_permission *perms;
    size_t nperms;
};

struct robotdir;

struct robot_filter {
    const char *name_part;   /* substring of the stored name, or NULL */
    const char *name_exact;  /* or NULL */
    const char *level;       /* or NULL */
    int64_t project_id;      /* 0: any */
    const char *sort;        /* "name", "-creation_time", … or NULL */
    int64_t page, page_size; /* 1-based; page_size 0: all */
    struct robotdir *dir;    /* pages sorted by name come from it when it can; or NULL */
};

/* Creates a robot; on success fills *out (caller robot_deinit) and secret (plaintext,
 * shown once). */
int robot_create(PGconn *db, const struct robot_spec *spec, struct robot *out,
                 char secret[SECRET_GEN_LEN + 1], struct store_err *err) DH_MUST_CHECK;
/* robot_create's checks that need no database (name, level, description, duration when
 * set, permissions against the catalogue): 0, or STORE_INVALID with the reason in err. */
int robot_spec_check(const struct robot_spec *spec, struct store_err *err) DH_MUST_CHECK;
/* robot_update's checks of ch against the robot cur (level, name), with no database. */
int robot_change_check(const struct robot *cur, const struct robot_change *ch,
                       struct store_err *err) DH_MUST_CHECK;
int robot_get(PGconn *db, int64_t id, struct robot *out, struct store_err *err) DH_MUST_CHECK;
/* Finds by id (digits), stored name, or full name with prefix. */
int robot_find(PGconn *db, const char *ref, struct robot *out, struct store_err *err) DH_MUST_CHECK;
int robot_list(PGconn *db, const struct robot_filter *f, struct robot **out, size_t *n,
               int64_t *total, struct store_err *err) DH_MUST_CHECK;
int robot_update(PGconn *db, int64_t id, const struct robot_change *ch,
                 struct store_err *err) DH_MUST_CHECK;
int robot_delete(PGconn *db, int64_t id, struct store_err *err) DH_MUST_CHECK;
/* New secret: random when manual is NULL (written to secret_out), else the manual one
 * checked against the policy (secret_out left empty). The old secret and every refresh
 * token die at once. */
int robot_refresh_secret(PGconn *db, int64_t id, const char *manual, size_t manual_len,
                         char secret_out[SECRET_GEN_LEN + 1], struct store_err *err) DH_MUST_CHECK;
void robot_deinit(struct robot *r);
void robot_list_free(struct robot *list, size_t n);

/* ---- federation rules and networks (issue 15) ---------------------------------------- */

struct robot_claim {
    char *name;
    char *value; /* exact, or a pattern where '*' matches any run of characters */
};

/* A federation rule: the robot trusts identity tokens of issuer for audience (NULL: the
 * service's name) whose sub matches subject and whose claims match claims. */
struct robot_fed_rule {
    char *issuer;
    char *audience;
    char *subject;
    struct robot_claim *claims;
    size_t nclaims;
};

/* Checks rules[0..n) against the limits above and the rules' grammar: issuer an https://
 * URL with a host and no userinfo, query or fragment; every text UTF-8 without control
 * characters; claim names unique within a rule; at most ROBOT_MAX_FEDERATION rules. The
 * message names the field (rules[i].claims["x"]). 0 or DH_ERR_INVALID. */
int robot_federation_check(const struct robot_fed_rule *rules, size_t n,
                           struct store_err *err) DH_MUST_CHECK;

/* Replaces robot id's rules with rules[0..n) (checked first) in one transaction, and
 * bumps its federation_version so the change is audited ('update', changed federation)
 * and announced. STORE_NOT_FOUND for an unknown robot. */
int robot_federation_set(PGconn *db, int64_t id, const struct robot_fed_rule *rules, size_t n,
                         struct store_err *err) DH_MUST_CHECK;

/* The robot's rules in order into *out (free with robot_federation_free) and *n. */
int robot_federation_get(PGconn *db, int64_t id, struct robot_fed_rule **out, size_t *n,
                         struct store_err *err) DH_MUST_CHECK;
void robot_federation_free(struct robot_fed_rule *rules, size_t n);

/* Replaces robot id's networks with cidrs[0..n) (each a network or a bare address,
 * cidr.h's grammar; no repeats; at most ROBOT_MAX_NETWORKS; none: anywhere). The stored
 * list, as PostgreSQL prints it, goes to *out / *nout when out is not NULL (free with
 * robot_networks_free). STORE_INVALID names the bad entry; STORE_NOT_FOUND. */
int robot_networks_set(PGconn *db, int64_t id, const char *const *cidrs, size_t n, char ***out,
                       size_t *nout, struct store_err *err) DH_MUST_CHECK;
int robot_networks_get(PGconn *db, int64_t id, char ***out, size_t *n,
                       struct store_err *err) DH_MUST_CHECK;
void robot_networks_free(char **list, size_t n);

/* Sets last_used to now for the robots of ids (n of them; unknown ids are ignored), in
 * one statement on db (the audit writer's connection). On failure returns DH_ERR_NOMEM
 * or DH_ERR_DB with the reason (one line, no secret) in why[0..why_len). */
int robots_touch_last_used(PGconn *db, const int64_t *ids, size_t n, char *why,
                           size_t why_len) DH_MUST_CHECK;

/* ---- the Harbor import (harbor.c) ----------------------------------------------------
 * Robots as Harbor stored them: every column given, checked by the import against
 * Harbor's rules rather than robot_create's. Each runs in the caller's transaction. */

struct robot_import {
    const char *name;        /* stored name */
    const char *description; /* at most ROBOT_DESCRIPTION_MAX bytes */
    const char *level;       /* "system" | "project" */
    int64_t project_id;      /* 0: none (system robots) */
    const char *secret_hash; /* in secret.h's format */
    int64_t duration;
    int64_t expires_at; /* -1: never */
    bool disabled;
    bool legacy;
    bool has_creation;
    int64_t creation; /* Unix seconds, when has_creation; else now */
};

/* Looks up the robot stored as name: 1 when there is one (*same_secret tells whether its
 * stored hash is secret_hash; its login name is copied to login), 0 when there is none,
 * DH_ERR_DB. */
int robot_import_find(PGconn *db, const char *name, const char *secret_hash, bool *same_secret,
                      char *login, size_t login_cap) DH_MUST_CHECK;

/* Inserts r: 1 with its id in *id and its login name in login; 0 when a robot of that
 * name exists already (nothing written); DH_ERR_DB. */
int robot_import_insert(PGconn *db, const struct robot_import *r, int64_t *id, char *login,
                        size_t login_cap) DH_MUST_CHECK;

/* Grants robot_id the pair (resource, action) of kind ("system" or "project") on
 * project_id, or on every project when all_projects (project_id 0 then, and for system
 * pairs). A pair the robot holds already is left alone. Returns 0 or DH_ERR_DB. */
int robot_import_grant(PGconn *db, int64_t robot_id, const char *kind, int64_t project_id,
                       bool all_projects, const char *resource, const char *action) DH_MUST_CHECK;
