/* Importing robots exported from a Harbor database (harbor.h; the export query and the
 * rules are in the README, "Importing robots from Harbor").
 *
 * Two passes. The first checks every row of the document and decides what each robot
 * becomes, without touching the database, so a bad row fails the file before anything
 * is written. The second writes, in one transaction. */
#include "dockhand/harbor.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dockhand/access.h"
#include "dockhand/db.h"
#include "dockhand/names.h"
#include "dockhand/projects.h"
#include "dockhand/robots.h"
#include "dockhand/secret.h"
#include "dockhand/store_util.h"

#define HARBOR_HASH_HEX 32           /* Harbor's 16-byte PBKDF2 output, as hex */
#define HARBOR_WHO_MAX 64            /* bytes of a robot name quoted in a message */
#define HARBOR_PAIR_KEY_MAX 100      /* bytes of a resource or action in the report */
#define HARBOR_EPOCH_MAX 32503680000 /* 3000-01-01: later creation times are corrupt */
#define DAY_SECONDS 86400

/* The JSON types a member may have. */
enum {
    JT_STRING = 1,
    JT_INT = 2,
    JT_BOOL = 4,
    JT_NULL = 8,
    JT_ARRAY = 16,
    JT_OBJECT = 32,
};

enum row_status { ROW_CREATE, ROW_UNCHANGED, ROW_SKIPPED };

struct row {
    size_t index;
    char who[HARBOR_WHO_MAX + 24]; /* how messages name the row: robot "x" or id 7 */
    json_int_t harbor_id;
    const char *harbor_name;
    char stored[NAME_MAX_LEN + 1]; /* dockhand's stored name */
    /* The login name, as the database's rule gives it (sql/007), once stored or found. */
    char login[PREFIX_MAX_LEN + NAME_MAX_LEN + 1];
    const char *level;   /* dockhand's level */
    const char *project; /* a project robot's project, else NULL */
    bool project_public;
    bool legacy;
    bool disabled;
    bool has_creation;
    int64_t creation; /* Unix seconds */
    int64_t duration;
    int64_t expires_at;
    const char *description;
    char hash[SECRET_HASH_MAX + 1];
    json_t *perms; /* borrowed from the document; checked in the first pass */
    const char *skip_reason;
    enum row_status status;
    size_t perms_skipped;
};

/* The members of a row and the types each may have. */
static const struct {
    const char *key;
    unsigned types;
} row_members[] = {
    {"id", JT_INT},
    {"name", JT_STRING},
    {"description", JT_STRING | JT_NULL},
    {"level", JT_STRING},
    {"project_name", JT_STRING | JT_NULL},
    {"project_public", JT_BOOL | JT_NULL},
    {"secret", JT_STRING | JT_NULL},
    {"salt", JT_STRING | JT_NULL},
    {"duration", JT_INT | JT_NULL},
    {"expiresat", JT_INT},
    {"disabled", JT_BOOL},
    {"creation_time", JT_INT | JT_NULL},
    {"permissions", JT_ARRAY},
};

static const char *const skip_no_secret =
    "created by Harbor 2.1 or older and never given a secret: it logged in with a token "
    "signed by Harbor, which dockhand cannot check (Harbor 2.4 and later refuse it too)";
static const char *const skip_empty_salt =
    "created by Harbor 2.1 or older; its secret was set by Harbor 2.2 or later with an "
    "empty salt, a hash this dockhand cannot verify";

static bool jt_match(const json_t *v, unsigned types)
{
    if (!v)
        return false;
    return ((types & JT_STRING) && json_is_string(v)) || ((types & JT_INT) && json_is_integer(v)) ||
           ((types & JT_BOOL) && json_is_boolean(v)) || ((types & JT_NULL) && json_is_null(v)) ||
           ((types & JT_ARRAY) && json_is_array(v)) || ((types & JT_OBJECT) && json_is_object(v));
}

static const char *jt_describe(unsigned types)
{
    switch (types) {
    case JT_STRING:
        return "a string";
    case JT_STRING | JT_NULL:
        return "a string or null";
    case JT_INT:
        return "an integer";
    case JT_INT | JT_NULL:
        return "an integer or null";
    case JT_BOOL:
        return "a boolean";
    case JT_BOOL | JT_NULL:
        return "a boolean or null";
    case JT_ARRAY:
        return "an array";
    default:
        return "an object";
    }
}

/* Copies s for a message: printable ASCII only, quotes and backslashes replaced, cut
 * at HARBOR_WHO_MAX bytes. */
static void quote_name(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    for (size_t i = 0; s[i] && o + 4 < cap; i++) {
        if (i == HARBOR_WHO_MAX) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        unsigned char c = (unsigned char)s[i];
        out[o++] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? (char)c : '?';
    }
    out[o] = '\0';
}

static int bad(struct store_err *err, const struct row *r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fails the file for row r (400): the message names the row, never its secret. */
static int bad(struct store_err *err, const struct row *r, const char *fmt, ...)
{
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return store_fail(err, STORE_INVALID, "harbor_robots[%zu] (%s): %s; nothing was imported",
                      r->index, r->who, what);
}

static int import_internal(struct store_err *err)
{
    return store_fail(err, STORE_INTERNAL, "internal error; nothing was imported");
}

/* Checks that every member of obj in keys has one of its types. where prefixes the
 * member's name in the message ("permissions[0]." …). */
static int members_check(const struct row *r, const json_t *obj, const char *where,
                         const char *const *keys, const unsigned *types, size_t n,
                         struct store_err *err)
{
    for (size_t k = 0; k < n; k++) {
        json_t *v = json_object_get(obj, keys[k]);
        if (!v)
            return bad(err, r, "%s%s is missing", where, keys[k]);
        if (!jt_match(v, types[k]))
            return bad(err, r, "%s%s must be %s", where, keys[k], jt_describe(types[k]));
    }
    return 0;
}

static const char *str_or_null(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* True when dockhand grants (resource, action) under a permission of this kind. System
 * permissions ("/") only ever mean catalog:read here; every other pair dockhand knows is
 * a project permission. */
static bool pair_known(bool system_kind, const char *resource, const char *action)
{
    if (system_kind)
        return access_perm_known(resource, action, true) &&
               !access_perm_known(resource, action, false);
    return access_perm_known(resource, action, false);
}

static bool hex_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return s[n] == '\0';
}

/* True when the token path (secret_verify) accepts hash as a stored hash. A probe
 * longer than SECRET_MAX_LEN makes secret_verify parse the hash and stop before
 * deriving anything, so this costs no PBKDF2 round. */
static bool hash_accepted(const char *hash)
{
    static const char probe[SECRET_MAX_LEN + 1];
    return secret_verify(probe, sizeof(probe), hash) >= 0;
}

/* Checks the permissions of row r against its level; fills nothing (the second pass
 * walks them again). */
static int perms_check(struct row *r, struct store_err *err)
{
    static const char *const perm_keys[] = {"kind", "namespace", "public", "access"};
    static const unsigned perm_types[] = {JT_STRING, JT_STRING | JT_NULL, JT_BOOL | JT_NULL,
                                          JT_ARRAY};
    static const char *const access_keys[] = {"resource", "action"};
    static const unsigned access_types[] = {JT_STRING, JT_STRING};
    bool project_robot = r->project != NULL;
    size_t n = json_array_size(r->perms);
    char where[64];

    if (n > ROBOT_MAX_PERMS)
        return bad(err, r, "more than %d permission entries", ROBOT_MAX_PERMS);
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(r->perms, i);
        int rc;
        snprintf(where, sizeof(where), "permissions[%zu]", i);
        if (!json_is_object(p))
            return bad(err, r, "%s must be an object", where);
        snprintf(where, sizeof(where), "permissions[%zu].", i);
        rc = members_check(r, p, where, perm_keys, perm_types, DH_ARRAY_SIZE(perm_keys), err);
        if (rc < 0)
            return rc;
        const char *kind = str_or_null(p, "kind"), *ns = str_or_null(p, "namespace");
        json_t *access = json_object_get(p, "access");
        if (strcmp(kind, "system") == 0) {
            if (!ns || strcmp(ns, "/") != 0)
                return bad(err, r, "%snamespace of a system permission must be \"/\"", where);
            if (project_robot)
                return bad(err, r, "a project robot cannot hold system permissions");
        } else if (strcmp(kind, "project") == 0) {
            if (ns && strcmp(ns, "*") == 0) {
                if (project_robot)
                    return bad(err, r, "a project robot cannot cover all projects");
            } else if (ns && !name_valid(ns)) {
                return bad(err, r, "%snamespace is not a valid project name", where);
            } else if (project_robot && (!ns || strcmp(ns, r->project) != 0)) {
                return bad(err, r, "a project robot can only hold permissions on its project");
            }
        } else {
            return bad(err, r, "%skind must be \"system\" or \"project\"", where);
        }
        for (size_t j = 0; j < json_array_size(access); j++) {
            json_t *a = json_array_get(access, j);
            snprintf(where, sizeof(where), "permissions[%zu].access[%zu]", i, j);
            if (!json_is_object(a))
                return bad(err, r, "%s must be an object", where);
            snprintf(where, sizeof(where), "permissions[%zu].access[%zu].", i, j);
            rc = members_check(r, a, where, access_keys, access_types, DH_ARRAY_SIZE(access_keys),
                               err);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

/* Duration and expiry. Harbor's expiresat decides when the robot stops working and is
 * kept as it is (-1 never; anything else at or before now is expired, as in Harbor).
 * Harbor's duration is kept when dockhand accepts it; robots that have none (made by
 * Harbor 2.1 or older) get the whole days from creation to expiry. */
static void expiry_resolve(struct row *r, const json_t *duration, json_int_t expiresat)
{
    if (expiresat == -1) {
        r->expires_at = -1;
        r->duration = -1;
        return;
    }
    r->expires_at = expiresat < 0 ? 0 : (int64_t)expiresat;
    json_int_t d = json_is_integer(duration) ? json_integer_value(duration) : 0;
    if (d >= 1 && d <= ROBOT_DURATION_MAX) {
        r->duration = (int64_t)d;
        return;
    }
    int64_t from = r->has_creation ? r->creation : (int64_t)time(NULL);
    int64_t span = r->expires_at - from;
    int64_t days = span <= 0 ? 1 : span / DAY_SECONDS + (span % DAY_SECONDS != 0);
    r->duration = days > ROBOT_DURATION_MAX ? ROBOT_DURATION_MAX : days;
}

/* First pass over one row: types, names, level, secret, permissions. Sets
 * r->skip_reason for a robot that is reported but not imported. */
static int row_check(struct row *r, size_t index, json_t *obj, struct store_err *err)
{
    const char *keys[DH_ARRAY_SIZE(row_members)];
    unsigned types[DH_ARRAY_SIZE(row_members)];
    char quoted[HARBOR_WHO_MAX + 4];
    int rc;

    memset(r, 0, sizeof(*r));
    r->index = index;
    snprintf(r->who, sizeof(r->who), "no name");
    if (!json_is_object(obj))
        return bad(err, r, "must be an object");
    if (json_is_string(json_object_get(obj, "name"))) {
        quote_name(quoted, sizeof(quoted), str_or_null(obj, "name"));
        snprintf(r->who, sizeof(r->who), "robot \"%s\"", quoted);
    } else if (json_is_integer(json_object_get(obj, "id"))) {
        snprintf(r->who, sizeof(r->who), "id %" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(obj, "id")));
    }
    for (size_t k = 0; k < DH_ARRAY_SIZE(row_members); k++) {
        keys[k] = row_members[k].key;
        types[k] = row_members[k].types;
    }
    rc = members_check(r, obj, "", keys, types, DH_ARRAY_SIZE(keys), err);
    if (rc < 0)
        return rc;

    r->harbor_id = json_integer_value(json_object_get(obj, "id"));
    r->harbor_name = str_or_null(obj, "name");
    r->disabled = json_is_true(json_object_get(obj, "disabled"));
    r->perms = json_object_get(obj, "permissions");
    r->description = str_or_null(obj, "description");
    if (!r->description)
        r->description = "";
    for (const char *c = r->description; *c; c++)
        if ((unsigned char)*c < 0x20 && *c != '\t' && *c != '\n' && *c != '\r')
            return bad(err, r, "description holds a control character");
    json_t *created = json_object_get(obj, "creation_time");
    if (json_is_integer(created)) {
        json_int_t c = json_integer_value(created);
        if (c < 0 || c > HARBOR_EPOCH_MAX)
            return bad(err, r, "creation_time is not a plausible Unix time");
        r->has_creation = true;
        r->creation = (int64_t)c;
    }
    expiry_resolve(r, json_object_get(obj, "duration"),
                   json_integer_value(json_object_get(obj, "expiresat")));

    const char *level = str_or_null(obj, "level"), *project = str_or_null(obj, "project_name");
    const char *secret = str_or_null(obj, "secret"), *salt = str_or_null(obj, "salt");
    bool system_level = strcmp(level, "system") == 0;
    if (!system_level && strcmp(level, "project") != 0)
        return bad(err, r, "level must be \"system\" or \"project\"");
    if (system_level && project)
        return bad(err, r, "a system robot must have no project_name");

    /* Harbor 2.1 and older stored "robot$" + name; 2.2 and later never store a '$'
     * (their names match dockhand's own rule). */
    r->legacy = strncmp(r->harbor_name, LEGACY_PREFIX, strlen(LEGACY_PREFIX)) == 0;
    const char *name = r->harbor_name;
    if (r->legacy) {
        /* A legacy robot keeps its login name robot$<name>; a dockhand project robot's
         * stored name must be <project>+<name>, so it becomes a system robot holding
         * whatever permissions Harbor gave it. */
        r->level = "system";
        if (!secret || !*secret) {
            r->skip_reason = skip_no_secret;
            return perms_check(r, err); /* not imported, but the file must be sound */
        }
        name += strlen(LEGACY_PREFIX);
        if (!name_valid(name))
            return bad(err, r,
                       "the name after \"robot$\" does not fit dockhand's rule "
                       "^[a-z0-9]+(?:[._-][a-z0-9]+)*$");
    } else if (system_level) {
        if (!name_valid(name))
            return bad(err, r,
                       "a system robot's name must match "
                       "^[a-z0-9]+(?:[._-][a-z0-9]+)*$ (at most 255 characters)");
        r->level = "system";
    } else {
        const char *plus = strchr(name, '+');
        if (!project)
            return bad(err, r, "a project robot whose project no longer exists in Harbor");
        if (!name_valid(project))
            return bad(err, r, "project_name is not a valid project name");
        if (!plus || (size_t)(plus - name) != strlen(project) ||
            strncmp(name, project, strlen(project)) != 0 || !name_valid(plus + 1))
            return bad(err, r,
                       "a project robot's name must be <project>+<name>, with <name> "
                       "matching ^[a-z0-9]+(?:[._-][a-z0-9]+)*$");
        r->level = "project";
        r->project = project;
        r->project_public = json_is_true(json_object_get(obj, "project_public"));
    }
    if (strlen(name) > NAME_MAX_LEN)
        return bad(err, r, "the name is longer than %d characters", NAME_MAX_LEN);
    snprintf(r->stored, sizeof(r->stored), "%s", name);

    if (!secret || !*secret)
        return bad(err, r, "no secret (every robot of Harbor 2.2 or later has one)");
    if (strlen(secret) != HARBOR_HASH_HEX || !hex_digits(secret, HARBOR_HASH_HEX))
        return bad(err, r, "secret is not Harbor's hash (%d hex digits)", HARBOR_HASH_HEX);
    if (!salt)
        salt = "";
    if (!*salt && !r->legacy)
        return bad(err, r, "a secret without a salt (every robot of Harbor 2.2 or later has one)");
    int n = snprintf(r->hash, sizeof(r->hash), "pbkdf2-sha256$%d$%s$", SECRET_ITER_GENERATED, salt);
    if (n < 0 || (size_t)n + HARBOR_HASH_HEX >= sizeof(r->hash))
        return bad(err, r, "salt is too long");
    for (size_t i = 0; i < HARBOR_HASH_HEX; i++) {
        char c = secret[i];
        r->hash[n + (int)i] = c >= 'A' && c <= 'F' ? (char)(c - 'A' + 'a') : c;
    }
    r->hash[n + HARBOR_HASH_HEX] = '\0';
    if (!hash_accepted(r->hash)) {
        if (*salt)
            return bad(err, r, "salt must be 1-128 printable ASCII characters without '$'");
        r->skip_reason = skip_empty_salt;
    }
    return perms_check(r, err);
}

static int cmp_rows_by_name(const void *a, const void *b)
{
    const struct row *x = *(const struct row *const *)a, *y = *(const struct row *const *)b;
    int c = strcmp(x->stored, y->stored);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* Two rows that would get the same stored name fail the file (the later one named). */
static int duplicates_check(struct row *rows, size_t n, struct store_err *err)
{
    struct row **order = calloc(n + 1, sizeof(*order));
    size_t m = 0;
    int rc = 0;

    if (!order)
        return import_internal(err);
    for (size_t i = 0; i < n; i++)
        if (!rows[i].skip_reason)
            order[m++] = &rows[i];
    qsort(order, m, sizeof(*order), cmp_rows_by_name);
    for (size_t i = 1; i < m; i++) {
        if (strcmp(order[i - 1]->stored, order[i]->stored) == 0) {
            rc = store_fail(err, STORE_CONFLICT,
                            "harbor_robots[%zu] (%s): it would be stored as \"%.80s\" like "
                            "harbor_robots[%zu]; nothing was imported",
                            order[i]->index, order[i]->who, order[i]->stored, order[i - 1]->index);
            break;
        }
    }
    free(order);
    return rc;
}

/* ---- second pass: the database ---------------------------------------------------- */

struct import_ctx {
    PGconn *db;
    json_t *project_ids; /* name → id, projects seen in this import */
    json_t *skipped_pairs;
    size_t missing_project_pairs;
    struct harbor_import_report *report;
};

/* The id of project name, created (private unless public_) when dockhand has none. */
static int project_resolve(struct import_ctx *ctx, const char *name, bool public_, int64_t *id,
                           struct store_err *err)
{
    json_t *cached = json_object_get(ctx->project_ids, name);
    if (cached) {
        *id = json_integer_value(cached);
        return 0;
    }
    bool created = false;
    if (project_ensure(ctx->db, name, public_, id, &created) < 0)
        return import_internal(err);
    if (created)
        ctx->report->projects_created++;
    if (json_object_set_new(ctx->project_ids, name, json_integer(*id)) < 0)
        return import_internal(err);
    return 0;
}

static int count_skipped_pair(struct import_ctx *ctx, const char *resource, const char *action)
{
    char key[2 * HARBOR_PAIR_KEY_MAX + 2];
    snprintf(key, sizeof(key), "%.*s:%.*s", HARBOR_PAIR_KEY_MAX, resource, HARBOR_PAIR_KEY_MAX,
             action);
    json_t *c = json_object_get(ctx->skipped_pairs, key);
    if (c)
        return json_integer_set(c, json_integer_value(c) + 1);
    return json_object_set_new(ctx->skipped_pairs, key, json_integer(1));
}

/* Stores the permissions of row r (robot id) that dockhand grants; counts the rest. */
static int perms_store(struct import_ctx *ctx, struct row *r, int64_t id, struct store_err *err)
{
    for (size_t i = 0; i < json_array_size(r->perms); i++) {
        json_t *p = json_array_get(r->perms, i), *access = json_object_get(p, "access");
        const char *kind = str_or_null(p, "kind"), *ns = str_or_null(p, "namespace");
        bool system_kind = strcmp(kind, "system") == 0;
        bool all = !system_kind && ns && strcmp(ns, "*") == 0;
        int64_t pid = 0;
        bool project_known = false;

        for (size_t j = 0; j < json_array_size(access); j++) {
            json_t *a = json_array_get(access, j);
            const char *resource = str_or_null(a, "resource"), *action = str_or_null(a, "action");
            if (!ns) {
                /* A system robot's permission on a project Harbor has deleted. */
                ctx->missing_project_pairs++;
                r->perms_skipped++;
                continue;
            }
            if (!pair_known(system_kind, resource, action)) {
                if (count_skipped_pair(ctx, resource, action) < 0)
                    return import_internal(err);
                r->perms_skipped++;
                continue;
            }
            if (!system_kind && !all && !project_known) {
                int rc =
                    project_resolve(ctx, ns, json_is_true(json_object_get(p, "public")), &pid, err);
                if (rc < 0)
                    return rc;
                project_known = true;
            }
            if (robot_import_grant(ctx->db, id, kind, system_kind || all ? 0 : pid, all, resource,
                                   action) < 0)
                return import_internal(err);
        }
    }
    return 0;
}

/* Writes row r, or finds it already imported. */
static int row_store(struct import_ctx *ctx, struct row *r, struct store_err *err)
{
    bool same = false;
    int found = robot_import_find(ctx->db, r->stored, r->hash, &same, r->login, sizeof(r->login));
    if (found < 0)
        return import_internal(err);
    if (found) {
        if (!same)
            return store_fail(err, STORE_CONFLICT,
                              "harbor_robots[%zu] (%s): dockhand already has a robot stored as "
                              "\"%.80s\" with another secret; nothing was imported",
                              r->index, r->who, r->stored);
        r->status = ROW_UNCHANGED;
        ctx->report->robots_unchanged++;
        return 0;
    }

    int64_t pid = 0, id = 0;
    int rc;
    if (r->project) {
        rc = project_resolve(ctx, r->project, r->project_public, &pid, err);
        if (rc < 0)
            return rc;
    }
    /* Harbor allows 1,024 characters, dockhand 1,024 bytes: a longer description is cut
     * at a UTF-8 boundary (jansson only hands out valid UTF-8). */
    char *description =
        strndup(r->description, store_utf8_prefix(r->description, ROBOT_DESCRIPTION_MAX));
    if (!description)
        return import_internal(err);
    struct robot_import ri = {
        .name = r->stored,
        .description = description,
        .level = r->level,
        .project_id = r->project ? pid : 0,
        .secret_hash = r->hash,
        .duration = r->duration,
        .expires_at = r->expires_at,
        .disabled = r->disabled,
        .legacy = r->legacy,
        .has_creation = r->has_creation,
        .creation = r->creation,
    };
    int inserted = robot_import_insert(ctx->db, &ri, &id, r->login, sizeof(r->login));
    free(description);
    if (inserted < 0)
        return import_internal(err);
    if (inserted == 0) {
        /* Created by another session since the check above. */
        return store_fail(err, STORE_CONFLICT,
                          "harbor_robots[%zu] (%s): dockhand already has a robot stored as "
                          "\"%.80s\"; nothing was imported",
                          r->index, r->who, r->stored);
    }
    rc = perms_store(ctx, r, id, err);
    if (rc < 0)
        return rc;
    r->status = ROW_CREATE;
    ctx->report->robots_created++;
    ctx->report->permissions_skipped += r->perms_skipped;
    return 0;
}

static json_t *row_json(const struct row *r)
{
    static const char *const status[] = {"created", "unchanged", "skipped"};
    const char *login = r->skip_reason ? r->harbor_name : r->login;
    json_t *o;

    o = json_pack("{s:I, s:I, s:s, s:s, s:s, s:b, s:I}", "row", (json_int_t)r->index, "harbor_id",
                  r->harbor_id, "harbor_name", r->harbor_name, "name", login, "status",
                  status[r->status], "legacy", r->legacy, "permissions_skipped",
                  (json_int_t)r->perms_skipped);
    if (o && r->skip_reason && json_object_set_new(o, "reason", json_string(r->skip_reason)) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The report's details, after a successful commit. */
static json_t *details_build(const struct row *rows, size_t n, struct import_ctx *ctx)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++) {
        if (json_array_append_new(list, row_json(&rows[i])) < 0) {
            json_decref(list);
            list = NULL;
        }
    }
    if (!list)
        return NULL;
    return json_pack("{s:o, s:O, s:I}", "robots", list, "skipped_permissions", ctx->skipped_pairs,
                     "permissions_on_missing_projects", (json_int_t)ctx->missing_project_pairs);
}

/* The first pass: the document parsed (*doc) and every row checked (*rows, *n). On
 * failure *doc and *rows are NULL. */
static int first_pass(const char *json_text, size_t len, json_t **doc, struct row **rows, size_t *n,
                      struct store_err *err)
{
    json_error_t jerr;
    json_t *list;
    int rc = 0;

    *doc = NULL;
    *rows = NULL;
    *n = 0;
    if (len > HARBOR_IMPORT_MAX_BYTES)
        return store_fail(err, STORE_INVALID,
                          "the export is larger than %d bytes; nothing was imported",
                          HARBOR_IMPORT_MAX_BYTES);
    /* jerr.text can quote the input near the error (a secret, perhaps): only the
     * position is reported. */
    *doc = json_loadb(json_text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!*doc)
        return store_fail(err, STORE_INVALID,
                          "the export is not valid JSON (line %d, column %d); nothing was "
                          "imported",
                          jerr.line, jerr.column);
    list = json_object_get(*doc, "harbor_robots");
    if (!json_is_object(*doc) || !json_is_array(list)) {
        rc = store_fail(err, STORE_INVALID,
                        "the export must be an object {\"harbor_robots\": [...]} (made by the "
                        "README's query); nothing was imported");
        goto out;
    }
    *n = json_array_size(list);
    if (*n > HARBOR_IMPORT_MAX_ROBOTS) {
        rc = store_fail(err, STORE_INVALID,
                        "the export holds more than %d robots; nothing was imported",
                        HARBOR_IMPORT_MAX_ROBOTS);
        goto out;
    }
    *rows = calloc(*n + 1, sizeof(**rows));
    if (!*rows) {
        rc = import_internal(err);
        goto out;
    }
    for (size_t i = 0; i < *n; i++) {
        rc = row_check(&(*rows)[i], i, json_array_get(list, i), err);
        if (rc < 0)
            goto out;
        if ((*rows)[i].skip_reason)
            (*rows)[i].status = ROW_SKIPPED;
    }
    rc = duplicates_check(*rows, *n, err);
out:
    if (rc < 0) {
        json_decref(*doc);
        free(*rows);
        *doc = NULL;
        *rows = NULL;
        *n = 0;
    }
    return rc;
}

int harbor_import_check(const char *json_text, size_t len, struct harbor_import_check *out,
                        struct store_err *err)
{
    json_t *doc;
    struct row *rows;
    size_t n;

    memset(out, 0, sizeof(*out));
    int rc = first_pass(json_text, len, &doc, &rows, &n, err);
    if (rc < 0)
        return rc;
    out->rows = n;
    for (size_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        if (r->skip_reason) {
            out->skipped++;
            continue;
        }
        out->to_store++;
        if (r->legacy)
            out->legacy++;
        /* What the second pass relies on: a stored name, a level, a hash it can keep. */
        const char *plus = r->project ? strchr(r->stored, '+') : NULL;
        bool named = r->project ? plus && (size_t)(plus - r->stored) == strlen(r->project) &&
                                      strncmp(r->stored, r->project, strlen(r->project)) == 0 &&
                                      name_valid(plus + 1)
                                : name_valid(r->stored);
        if (!named || !r->level || !r->hash[0] ||
            (r->project != NULL) != (strcmp(r->level, "project") == 0))
            out->inconsistent++;
    }
    json_decref(doc);
    free(rows);
    return 0;
}

int harbor_import(PGconn *db, const char *json_text, size_t len,
                  struct harbor_import_report *report, struct store_err *err)
{
    struct import_ctx ctx = {.db = db, .report = report};
    struct row *rows = NULL;
    json_t *doc = NULL;
    size_t n = 0;
    int rc = 0;
    bool in_tx = false;

    memset(report, 0, sizeof(*report));
    rc = first_pass(json_text, len, &doc, &rows, &n, err);
    if (rc < 0)
        return rc;
    ctx.project_ids = json_object();
    ctx.skipped_pairs = json_object();
    if (!ctx.project_ids || !ctx.skipped_pairs) {
        rc = import_internal(err);
        goto out;
    }

    if (db_begin(db) < 0) {
        rc = import_internal(err);
        goto out;
    }
    in_tx = true;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].skip_reason) {
            report->robots_skipped++;
            continue;
        }
        rc = row_store(&ctx, &rows[i], err);
        if (rc < 0)
            goto out;
    }
    in_tx = false;
    if (db_commit(db) < 0) {
        rc = import_internal(err);
        goto out;
    }
    /* Imported: a report without details (out of memory) is still a success. */
    report->details = details_build(rows, n, &ctx);
out:
    if (in_tx)
        db_rollback(db);
    if (rc < 0) {
        /* Nothing was written: counts of a rolled-back attempt would mislead. */
        memset(report, 0, sizeof(*report));
    }
    json_decref(ctx.project_ids);
    json_decref(ctx.skipped_pairs);
    json_decref(doc);
    free(rows);
    return rc;
}

void harbor_import_report_deinit(struct harbor_import_report *report)
{
    if (!report)
        return;
    json_decref(report->details);
    report->details = NULL;
}
