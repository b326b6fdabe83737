/* The admin API's request parsing, with no request and no database (api_parse.h). */
#include "dockhand/api_parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dockhand/settings.h"
#include "dockhand/timefmt.h"

static int invalid(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int invalid(char *why, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, API_WHY_LEN, fmt, ap);
    va_end(ap);
    return DH_ERR_INVALID;
}

static int nomem(char *why)
{
    snprintf(why, API_WHY_LEN, "out of memory");
    return DH_ERR_NOMEM;
}

int api_parse_body(const char *body, size_t len, json_t **out, char *why)
{
    json_error_t e;
    *out = NULL;
    if (len == 0)
        return invalid(why, "a JSON body is required");
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
    if (!j) /* Not e.text: it quotes the input, which may hold a secret. */
        return invalid(why, "malformed JSON at line %d column %d", e.line, e.column);
    if (!json_is_object(j)) {
        json_decref(j);
        return invalid(why, "the body must be a JSON object");
    }
    *out = j;
    return 0;
}

void api_perms_free(struct api_perms *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->perms[i].access);
    free(p->perms);
    p->perms = NULL;
    p->n = 0;
}

/* [{kind, namespace, access:[{resource, action[, effect "allow"]}]}] → pp. */
static int perms_parse(json_t *arr, struct api_perms *pp, char *why)
{
    size_t i, j;
    json_t *p, *a;
    if (!json_is_array(arr))
        return invalid(why, "permissions must be an array");
    if (json_array_size(arr) > ROBOT_MAX_PERMS)
        return invalid(why, "at most %d permission entries", ROBOT_MAX_PERMS);
    pp->perms = calloc(json_array_size(arr) + 1, sizeof(*pp->perms));
    if (!pp->perms)
        return nomem(why);
    json_array_foreach(arr, i, p)
    {
        json_t *kind = json_object_get(p, "kind"), *ns = json_object_get(p, "namespace");
        json_t *access = json_object_get(p, "access");
        if (!json_is_object(p) || !json_is_string(kind) || !json_is_string(ns) ||
            !json_is_array(access))
            return invalid(
                why, "permissions[%zu] needs kind and namespace (strings) and access (array)", i);
        if (json_array_size(access) > ROBOT_MAX_ACCESS)
            return invalid(why, "at most %d access entries per namespace", ROBOT_MAX_ACCESS);
        struct robot_permission *rp = &pp->perms[pp->n++];
        rp->kind = (char *)json_string_value(kind);
        rp->namespace_ = (char *)json_string_value(ns);
        rp->access = calloc(json_array_size(access) + 1, sizeof(*rp->access));
        if (!rp->access)
            return nomem(why);
        json_array_foreach(access, j, a)
        {
            json_t *res = json_object_get(a, "resource"), *act = json_object_get(a, "action");
            json_t *effect = json_object_get(a, "effect");
            if (!json_is_object(a) || !json_is_string(res) || !json_is_string(act))
                return invalid(
                    why, "permissions[%zu].access[%zu] needs resource and action (strings)", i, j);
            if (effect && !json_is_null(effect) &&
                (!json_is_string(effect) || strcmp(json_string_value(effect), "allow") != 0))
                return invalid(why, "only \"allow\" effects are supported");
            rp->access[rp->naccess].resource = (char *)json_string_value(res);
            rp->access[rp->naccess].action = (char *)json_string_value(act);
            rp->naccess++;
        }
    }
    return 0;
}

static bool absent(const json_t *v)
{
    return !v || json_is_null(v);
}

int api_parse_robot_create(json_t *body, struct robot_spec *spec, struct api_perms *pp, char *why)
{
    json_t *name = json_object_get(body, "name"), *desc = json_object_get(body, "description");
    json_t *level = json_object_get(body, "level"), *dur = json_object_get(body, "duration");
    json_t *disable = json_object_get(body, "disable");
    memset(spec, 0, sizeof(*spec));
    if (!json_is_string(name))
        return invalid(why, "name is required (a string)");
    if (!absent(desc) && !json_is_string(desc))
        return invalid(why, "description must be a string");
    if (!json_is_string(level))
        return invalid(why, "level is required: system or project");
    if (!absent(dur) && !json_is_integer(dur))
        return invalid(why, "duration must be an integer number of days");
    if (!absent(disable) && !json_is_boolean(disable))
        return invalid(why, "disable must be a boolean");
    int rc = perms_parse(json_object_get(body, "permissions"), pp, why);
    if (rc < 0)
        return rc;
    /* id, secret, salt, creation_time, expires_at, editable: not read, never stored. */
    *spec = (struct robot_spec){
        .name = json_string_value(name),
        .description = json_string_value(desc),
        .level = json_string_value(level),
        .duration_set = json_is_integer(dur),
        .duration = json_integer_value(dur),
        .disabled = json_is_true(disable), /* one transaction: never an enabled robot */
        .perms = pp->perms,
        .nperms = pp->n,
    };
    return 0;
}

int api_parse_robot_update(json_t *body, const struct robot *cur, struct robot_change *ch,
                           struct api_perms *pp, char *why)
{
    json_t *name = json_object_get(body, "name"), *level = json_object_get(body, "level");
    json_t *desc = json_object_get(body, "description"), *dur = json_object_get(body, "duration");
    json_t *disable = json_object_get(body, "disable"),
           *perms = json_object_get(body, "permissions");
    memset(ch, 0, sizeof(*ch));
    if (!absent(name) &&
        (!json_is_string(name) || (strcmp(json_string_value(name), cur->full_name) != 0 &&
                                   strcmp(json_string_value(name), cur->name) != 0)))
        return invalid(why, "a robot's name cannot be changed");
    if (!absent(level) &&
        (!json_is_string(level) || strcmp(json_string_value(level), cur->level) != 0))
        return invalid(why, "a robot's level cannot be changed");
    if ((!absent(desc) && !json_is_string(desc)) || (!absent(dur) && !json_is_integer(dur)) ||
        (!absent(disable) && !json_is_boolean(disable)))
        return invalid(why, "description must be a string, duration an integer, disable a boolean");
    if (!absent(perms)) {
        int rc = perms_parse(perms, pp, why);
        if (rc < 0)
            return rc;
    }
    *ch = (struct robot_change){
        .description = json_string_value(desc),
        .duration_set = json_is_integer(dur),
        .duration = json_integer_value(dur),
        .disabled_set = json_is_boolean(disable),
        .disabled = json_is_true(disable),
        .perms_set = !absent(perms),
        .perms = pp->perms,
        .nperms = pp->n,
    };
    return 0;
}

int api_parse_robot_refresh(json_t *body, const char **manual, size_t *manual_len, char *why)
{
    json_t *s = json_object_get(body, "secret");
    *manual = NULL;
    *manual_len = 0;
    if (absent(s))
        return 0;
    if (!json_is_string(s))
        return invalid(why, "secret must be a string");
    *manual = json_string_value(s);
    *manual_len = json_string_length(s);
    return 0;
}

int api_parse_project_create(json_t *body, const char **name, bool *is_public, char *why)
{
    json_t *n = json_object_get(body, "project_name"), *meta = json_object_get(body, "metadata");
    json_t *pub = json_object_get(body, "public");
    *name = NULL;
    *is_public = false;
    if (!json_is_string(n))
        return invalid(why, "project_name is required (a string)");
    if (!absent(pub)) {
        if (!json_is_boolean(pub))
            return invalid(why, "public must be a boolean");
        *is_public = json_is_true(pub);
    }
    if (!absent(meta)) {
        json_t *mp = json_object_get(meta, "public");
        if (!json_is_object(meta) || (mp && !json_is_string(mp)))
            return invalid(why, "metadata.public must be \"true\" or \"false\"");
        if (mp) {
            const char *v = json_string_value(mp);
            if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
                return invalid(why, "metadata.public must be \"true\" or \"false\"");
            *is_public = strcmp(v, "true") == 0;
        }
    }
    *name = json_string_value(n);
    return 0;
}

bool api_setting_is_int(const char *key)
{
    return strcmp(key, "robot_name_prefix") != 0;
}

int api_parse_configurations(json_t *body, char *why)
{
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        bool known = false;
        for (size_t i = 0; i < SETTINGS_COUNT; i++)
            known = known || strcmp(key, settings_keys[i]) == 0;
        if (!known)
            return invalid(why, "unknown configuration %.64s", key);
        if (api_setting_is_int(key) ? !json_is_integer(v) : !json_is_string(v))
            return invalid(why, "%s must be %s", key,
                           api_setting_is_int(key) ? "an integer" : "a string");
    }
    return 0;
}

static bool names_secret(const char *s)
{
    return strcasestr(s, "secret") || strcasestr(s, "salt") || strcasestr(s, "hash");
}

int api_parse_robot_q(const struct query *q, struct robot_filter *f, char *why)
{
    for (size_t i = 0; i < q->n; i++) {
        const struct query_term *t = &q->t[i];
        const char *value = t->v[0];
        bool fuzzy = t->kind == QUERY_FUZZY, single = fuzzy || t->kind == QUERY_EXACT;
        if (strcasecmp(t->key, "name") == 0 && single) {
            if (fuzzy)
                f->name_part = value;
            else
                f->name_exact = value;
        } else if (strcasecmp(t->key, "level") == 0 && t->kind == QUERY_EXACT) {
            if (strcmp(value, "system") != 0 && strcmp(value, "project") != 0)
                return invalid(why, "q: Level is system or project");
            f->level = value;
        } else if ((strcasecmp(t->key, "projectid") == 0 ||
                    strcasecmp(t->key, "project_id") == 0) &&
                   t->kind == QUERY_EXACT) {
            char *end;
            long long v = strtoll(value, &end, 10);
            if (!*value || *end || v < 1)
                return invalid(why, "q: ProjectID must be a positive integer");
            f->project_id = v;
        } else if (names_secret(t->key)) {
            return invalid(why, "q: secrets cannot be searched");
        } else {
            return invalid(why,
                           "q: unknown key or form %s (name=value, name=~part, Level=value, "
                           "ProjectID=value)",
                           t->key);
        }
    }
    return 0;
}

int api_parse_robot_sort(const char *sort, char *why)
{
    /* The store's order columns: checked here so that a bad one is a 400 in the same
     * words as a bad q. */
    static const char *const sortable[] = {"name", "creation_time", "expires_at", "update_time",
                                           "id"};
    struct query_sort order;
    char qwhy[QUERY_ERR_LEN];
    if (names_secret(sort))
        return invalid(why, "sort: secrets cannot be sorted by");
    if (query_sort_parse(&order, sort, strlen(sort), sortable, DH_ARRAY_SIZE(sortable), qwhy) < 0)
        return invalid(why, "sort: %s", qwhy);
    /* The store orders by one column (and the id). */
    if (order.n > 1)
        return invalid(why, "sort: one column at a time");
    return 0;
}

int api_parse_project_q(const struct query *q, const char **name, char *why)
{
    /* name=~part or name=exact (exact is treated as a substring match too). */
    if (q->n != 1 || strcmp(q->t[0].key, "name") != 0 ||
        (q->t[0].kind != QUERY_EXACT && q->t[0].kind != QUERY_FUZZY))
        return invalid(why, "q: only name=~part or name=value is supported");
    *name = q->t[0].v[0];
    return 0;
}

/* One bound of op_time=[from~to]; "" leaves it open. */
static int op_time_bound(const char *s, int64_t *out, char *why)
{
    const char *reason;
    if (*s && timefmt_parse(s, strlen(s), out, &reason) < 0)
        return invalid(why, "q: op_time: %s", reason);
    return 0;
}

int api_parse_audit_q(const struct query *q, struct audit_filter *f, char *why)
{
    for (size_t i = 0; i < q->n; i++) {
        const struct query_term *t = &q->t[i];
        const char *value = t->v[0];
        if (strcmp(t->key, "operation") == 0 && t->kind == QUERY_EXACT) {
            f->operation = value;
        } else if (strcmp(t->key, "resource_type") == 0 && t->kind == QUERY_EXACT) {
            f->resource_type = value;
        } else if (strcmp(t->key, "resource") == 0 &&
                   (t->kind == QUERY_EXACT || t->kind == QUERY_FUZZY)) {
            f->resource = value;
        } else if (strcmp(t->key, "username") == 0 && t->kind == QUERY_EXACT) {
            f->username = value;
        } else if (strcmp(t->key, "op_time") == 0) {
            if (t->kind != QUERY_RANGE)
                return invalid(why, "q: op_time=[from~to]");
            int rc = op_time_bound(t->v[0], &f->from, why);
            if (rc == 0)
                rc = op_time_bound(t->v[1], &f->to, why);
            if (rc < 0)
                return rc;
        } else {
            return invalid(why,
                           "q: unknown key or form %s (operation, resource_type, resource, "
                           "username, op_time=[from~to])",
                           t->key);
        }
    }
    return 0;
}
