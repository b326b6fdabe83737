/* /api/v2.0/robots: Harbor's robot account endpoints. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "dockhand/api_robots.h"

#include "dockhand/api_call.h"
#include "dockhand/api_models.h"
#include "dockhand/http.h"
#include "dockhand/query.h"
#include "dockhand/robots.h"

/* Permission entries parsed from a request, pointing into its JSON document. */
struct perm_parse {
    struct robot_permission *perms;
    size_t n;
};

static void perm_parse_free(struct perm_parse *pp)
{
    for (size_t i = 0; i < pp->n; i++)
        free(pp->perms[i].access);
    free(pp->perms);
    pp->perms = NULL;
    pp->n = 0;
}

/* [{kind, namespace, access:[{resource, action}]}] → pp. False after a 400. */
static bool perms_from_json(struct api_call *c, json_t *arr, struct perm_parse *pp)
{
    size_t i, j;
    json_t *p, *a;
    if (!json_is_array(arr)) {
        api_error(c, 400, "BAD_REQUEST", "permissions must be an array");
        return false;
    }
    if (json_array_size(arr) > ROBOT_MAX_PERMS) {
        api_error(c, 400, "BAD_REQUEST", "at most %d permission entries", ROBOT_MAX_PERMS);
        return false;
    }
    pp->perms = calloc(json_array_size(arr) + 1, sizeof(*pp->perms));
    if (!pp->perms) {
        api_error(c, 500, "INTERNAL", "out of memory");
        return false;
    }
    json_array_foreach(arr, i, p)
    {
        json_t *kind = json_object_get(p, "kind"), *ns = json_object_get(p, "namespace");
        json_t *access = json_object_get(p, "access");
        if (!json_is_object(p) || !json_is_string(kind) || !json_is_string(ns) ||
            !json_is_array(access)) {
            api_error(c, 400, "BAD_REQUEST",
                      "permissions[%zu] needs kind and namespace (strings) and access (array)", i);
            return false;
        }
        if (json_array_size(access) > ROBOT_MAX_ACCESS) {
            api_error(c, 400, "BAD_REQUEST", "at most %d access entries per namespace",
                      ROBOT_MAX_ACCESS);
            return false;
        }
        struct robot_permission *rp = &pp->perms[pp->n++];
        rp->kind = (char *)json_string_value(kind);
        rp->namespace_ = (char *)json_string_value(ns);
        rp->access = calloc(json_array_size(access) + 1, sizeof(*rp->access));
        if (!rp->access) {
            api_error(c, 500, "INTERNAL", "out of memory");
            return false;
        }
        json_array_foreach(access, j, a)
        {
            json_t *res = json_object_get(a, "resource"), *act = json_object_get(a, "action");
            json_t *effect = json_object_get(a, "effect");
            if (!json_is_object(a) || !json_is_string(res) || !json_is_string(act)) {
                api_error(c, 400, "BAD_REQUEST",
                          "permissions[%zu].access[%zu] needs resource and action (strings)", i, j);
                return false;
            }
            if (effect && !json_is_null(effect) &&
                (!json_is_string(effect) || strcmp(json_string_value(effect), "allow") != 0)) {
                api_error(c, 400, "BAD_REQUEST", "only \"allow\" effects are supported");
                return false;
            }
            rp->access[rp->naccess].resource = (char *)json_string_value(res);
            rp->access[rp->naccess].action = (char *)json_string_value(act);
            rp->naccess++;
        }
    }
    return true;
}

static json_t *robot_json_full(const struct robot *r)
{
    json_t *o = api_model_robot(r);
    if (o) {
        json_object_set_new(o, "last_used", r->last_used ? json_string(r->last_used) : json_null());
        /* Imported from Harbor <= 2.1: keeps robot$ whatever the prefix; the page shows it
         * read-only. */
        json_object_set_new(o, "legacy", json_boolean(r->legacy));
    }
    return o;
}

static bool parse_id(const char *rest, int64_t *id)
{
    char *end;
    if (rest[0] != '/' || !rest[1] || strlen(rest) > 19)
        return false;
    long long v = strtoll(rest + 1, &end, 10);
    if (*end || v < 1)
        return false;
    *id = v;
    return true;
}

/* The keys of a robot list's q (query.h): name exact or fuzzy, Level and ProjectID exact,
 * keys ignoring case as Harbor's do. The values point into q's buffer. */
static bool robot_filter_parse(struct api_call *c, const struct query *q, struct robot_filter *f)
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
            if (strcmp(value, "system") != 0 && strcmp(value, "project") != 0) {
                api_error(c, 400, "BAD_REQUEST", "q: Level is system or project");
                return false;
            }
            f->level = value;
        } else if ((strcasecmp(t->key, "projectid") == 0 ||
                    strcasecmp(t->key, "project_id") == 0) &&
                   t->kind == QUERY_EXACT) {
            char *end;
            long long v = strtoll(value, &end, 10);
            if (!*value || *end || v < 1) {
                api_error(c, 400, "BAD_REQUEST", "q: ProjectID must be a positive integer");
                return false;
            }
            f->project_id = v;
        } else if (strcasestr(t->key, "secret") || strcasestr(t->key, "salt") ||
                   strcasestr(t->key, "hash")) {
            api_error(c, 400, "BAD_REQUEST", "q: secrets cannot be searched");
            return false;
        } else {
            api_error(c, 400, "BAD_REQUEST",
                      "q: unknown key or form %s (name=value, name=~part, Level=value, "
                      "ProjectID=value)",
                      t->key);
            return false;
        }
    }
    return true;
}

static void robots_list(struct api_call *c)
{
    /* The store's order columns: the sort is checked here so that a bad one is a 400 in
     * the same words as a bad q. */
    static const char *const sortable[] = {"name", "creation_time", "expires_at", "update_time",
                                           "id"};
    struct robot_filter f = {0};
    struct store_err err = {0};
    struct robot *list = NULL;
    size_t n = 0;
    int64_t total = 0;
    struct query q = {0};
    struct query_sort order;
    char why[QUERY_ERR_LEN];

    if (!api_paging(c, &f.page, &f.page_size))
        return;
    const char *sort = form_get(&c->query, "sort");
    if (sort &&
        (strcasestr(sort, "secret") || strcasestr(sort, "salt") || strcasestr(sort, "hash"))) {
        api_error(c, 400, "BAD_REQUEST", "sort: secrets cannot be sorted by");
        return;
    }
    if (sort) {
        if (query_sort_parse(&order, sort, strlen(sort), sortable, DH_ARRAY_SIZE(sortable), why) <
            0) {
            api_error(c, 400, "BAD_REQUEST", "sort: %s", why);
            return;
        }
        /* The store orders by one column (and the id). */
        if (order.n > 1) {
            api_error(c, 400, "BAD_REQUEST", "sort: one column at a time");
            return;
        }
    }
    f.sort = sort;
    bool q_given = false;
    if (!api_query(c, &q, &q_given))
        goto out;
    if (q_given) {
        if (!robot_filter_parse(c, &q, &f))
            goto out;
    }
    f.dir = c->st->rdir;
    if (robot_list(c->db, &f, &list, &n, &total, &err) < 0) {
        api_store_error(c, &err);
        goto out;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, robot_json_full(&list[i]));
    api_page_headers(c, total, f.page, f.page_size);
    api_json(c, 200, arr);
out:
    robot_list_free(list, n);
    query_deinit(&q);
}

static void robots_create(struct api_call *c)
{
    json_t *body = NULL;
    struct perm_parse pp = {0};
    struct robot r = {0};
    struct store_err err = {0};
    char secret[SECRET_GEN_LEN + 1] = "";

    if (!api_body_object(c, &body))
        return;
    json_t *name = json_object_get(body, "name"), *desc = json_object_get(body, "description");
    json_t *level = json_object_get(body, "level"), *dur = json_object_get(body, "duration");
    json_t *disable = json_object_get(body, "disable");
    if (!json_is_string(name)) {
        api_error(c, 400, "BAD_REQUEST", "name is required (a string)");
        goto out;
    }
    if (desc && !json_is_null(desc) && !json_is_string(desc)) {
        api_error(c, 400, "BAD_REQUEST", "description must be a string");
        goto out;
    }
    if (!json_is_string(level)) {
        api_error(c, 400, "BAD_REQUEST", "level is required: system or project");
        goto out;
    }
    if (dur && !json_is_null(dur) && !json_is_integer(dur)) {
        api_error(c, 400, "BAD_REQUEST", "duration must be an integer number of days");
        goto out;
    }
    if (disable && !json_is_null(disable) && !json_is_boolean(disable)) {
        api_error(c, 400, "BAD_REQUEST", "disable must be a boolean");
        goto out;
    }
    if (!perms_from_json(c, json_object_get(body, "permissions"), &pp))
        goto out;
    /* id, secret, salt, creation_time, expires_at, editable: not read, never stored. */
    struct robot_spec spec = {
        .name = json_string_value(name),
        .description = json_string_value(desc),
        .level = json_string_value(level),
        .duration_set = json_is_integer(dur),
        .duration = json_integer_value(dur),
        .disabled = json_is_true(disable), /* one transaction: never an enabled robot */
        .perms = pp.perms,
        .nperms = pp.n,
    };
    if (robot_create(c->db, &spec, &r, secret, &err) < 0) {
        api_store_error(c, &err);
        goto out;
    }
    api_changed(c, CHANGE_ROBOT, r.id); /* listed at once by this instance */
    char loc[64];
    snprintf(loc, sizeof(loc), "/api/v2.0/robots/%" PRId64, r.id);
    api_header(c, "Location", loc);
    api_json(c, 201, api_model_robot_created(&r, secret));
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    robot_deinit(&r);
    perm_parse_free(&pp);
    json_decref(body);
}

static void robots_update(struct api_call *c, int64_t id)
{
    json_t *body = NULL;
    struct perm_parse pp = {0};
    struct robot cur = {0};
    struct store_err err = {0};

    if (!api_body_object(c, &body))
        return;
    if (robot_get(c->db, id, &cur, &err) < 0) {
        api_store_error(c, &err);
        goto out;
    }
    json_t *name = json_object_get(body, "name"), *level = json_object_get(body, "level");
    json_t *desc = json_object_get(body, "description"), *dur = json_object_get(body, "duration");
    json_t *disable = json_object_get(body, "disable"),
           *perms = json_object_get(body, "permissions");
    if (name && !json_is_null(name) &&
        (!json_is_string(name) || (strcmp(json_string_value(name), cur.full_name) != 0 &&
                                   strcmp(json_string_value(name), cur.name) != 0))) {
        api_error(c, 400, "BAD_REQUEST", "a robot's name cannot be changed");
        goto out;
    }
    if (level && !json_is_null(level) &&
        (!json_is_string(level) || strcmp(json_string_value(level), cur.level) != 0)) {
        api_error(c, 400, "BAD_REQUEST", "a robot's level cannot be changed");
        goto out;
    }
    if ((desc && !json_is_null(desc) && !json_is_string(desc)) ||
        (dur && !json_is_null(dur) && !json_is_integer(dur)) ||
        (disable && !json_is_null(disable) && !json_is_boolean(disable))) {
        api_error(c, 400, "BAD_REQUEST",
                  "description must be a string, duration an integer, disable a boolean");
        goto out;
    }
    if (perms && !json_is_null(perms) && !perms_from_json(c, perms, &pp))
        goto out;
    struct robot_change ch = {
        .description = json_string_value(desc),
        .duration_set = json_is_integer(dur),
        .duration = json_integer_value(dur),
        .disabled_set = json_is_boolean(disable),
        .disabled = json_is_true(disable),
        .perms_set = perms && !json_is_null(perms),
        .perms = pp.perms,
        .nperms = pp.n,
    };
    robot_deinit(&cur);
    api_changed(c, CHANGE_ROBOT, id);
    if (robot_update(c->db, id, &ch, &err) < 0 || robot_get(c->db, id, &cur, &err) < 0) {
        api_store_error(c, &err);
        goto out;
    }
    api_json(c, 200, robot_json_full(&cur));
out:
    robot_deinit(&cur);
    perm_parse_free(&pp);
    json_decref(body);
}

static void robots_refresh(struct api_call *c, int64_t id)
{
    json_t *body = NULL;
    struct store_err err = {0};
    char secret[SECRET_GEN_LEN + 1] = "";
    const char *manual = NULL;

    if (c->body_len > 0 && !api_body_object(c, &body))
        return;
    json_t *s = json_object_get(body, "secret");
    if (s && !json_is_null(s)) {
        if (!json_is_string(s)) {
            api_error(c, 400, "BAD_REQUEST", "secret must be a string");
            goto out;
        }
        manual = json_string_value(s);
    }
    api_changed(c, CHANGE_ROBOT, id);
    if (robot_refresh_secret(c->db, id, manual, manual ? json_string_length(s) : 0, secret, &err) <
        0) {
        api_store_error(c, &err);
        goto out;
    }
    /* RobotSec: the new secret when generated; nothing to echo for a manual one. */
    api_json(c, 200, manual ? json_object() : json_pack("{s:s}", "secret", secret));
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    if (s && json_is_string(s))
        OPENSSL_cleanse((char *)json_string_value(s), json_string_length(s));
    json_decref(body);
}

void api_robots(struct api_call *c, const char *rest)
{
    int64_t id = 0;
    struct store_err err = {0};

    if (!*rest) {
        if (c->method == EVHTTP_REQ_GET)
            robots_list(c);
        else if (c->method == EVHTTP_REQ_POST)
            robots_create(c);
        else
            api_error(c, 405, "METHOD_NOT_ALLOWED", "use GET or POST on /robots");
        return;
    }
    if (!parse_id(rest, &id)) {
        api_error(c, 400, "BAD_REQUEST", "robot id must be a positive integer");
        return;
    }
    switch (c->method) {
    case EVHTTP_REQ_GET: {
        struct robot r;
        if (robot_get(c->db, id, &r, &err) < 0) {
            api_store_error(c, &err);
            return;
        }
        api_json(c, 200, robot_json_full(&r));
        robot_deinit(&r);
        return;
    }
    case EVHTTP_REQ_PUT:
        robots_update(c, id);
        return;
    case EVHTTP_REQ_PATCH:
        robots_refresh(c, id);
        return;
    case EVHTTP_REQ_DELETE:
        api_changed(c, CHANGE_ROBOT, id);
        if (robot_delete(c->db, id, &err) < 0)
            api_store_error(c, &err);
        else
            api_json(c, 200, NULL);
        return;
    default:
        api_error(c, 405, "METHOD_NOT_ALLOWED", "use GET, PUT, PATCH or DELETE on a robot");
    }
}
