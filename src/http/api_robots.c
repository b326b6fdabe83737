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

/* ---- /robots/{id}/federation and /robots/{id}/networks (dockhand's extension) ---------- */

/* The request body as a JSON array; false after a 400. */
static bool body_array(struct api_call *c, json_t **out)
{
    json_error_t e;
    *out = NULL;
    if (c->body_len == 0) {
        api_error(c, 400, "BAD_REQUEST", "a JSON body is required");
        return false;
    }
    json_t *j = json_loadb(c->body, c->body_len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
    if (!j) {
        api_error(c, 400, "BAD_REQUEST", "malformed JSON at line %d column %d", e.line, e.column);
        return false;
    }
    if (!json_is_array(j)) {
        json_decref(j);
        api_error(c, 400, "BAD_REQUEST", "the body must be a JSON array");
        return false;
    }
    *out = j;
    return true;
}

/* A string without NULs (JSON may carry \u0000), or NULL. */
static const char *plain_string(json_t *v)
{
    const char *s = json_string_value(v);
    return s && strlen(s) == json_string_length(v) ? s : NULL;
}

/* [{issuer, audience?, subject, claims?}] → rules (pointing into arr). False after a 400. */
static bool federation_from_json(struct api_call *c, json_t *arr, struct robot_fed_rule **out,
                                 size_t *n)
{
    size_t i;
    json_t *o;
    *out = NULL;
    *n = 0;
    if (json_array_size(arr) > ROBOT_MAX_FEDERATION) {
        api_error(c, 400, "BAD_REQUEST", "at most %d federation rules per robot",
                  ROBOT_MAX_FEDERATION);
        return false;
    }
    struct robot_fed_rule *rules = calloc(json_array_size(arr) + 1, sizeof(*rules));
    if (!rules) {
        api_error(c, 500, "INTERNAL", "out of memory");
        return false;
    }
    *out = rules;
    json_array_foreach(arr, i, o)
    {
        struct robot_fed_rule *r = &rules[i];
        *n = i + 1;
        if (!json_is_object(o)) {
            api_error(c, 400, "BAD_REQUEST", "rules[%zu] must be an object", i);
            return false;
        }
        const char *key;
        json_t *v;
        json_object_foreach(o, key, v)
        {
            if (strcmp(key, "issuer") && strcmp(key, "audience") && strcmp(key, "subject") &&
                strcmp(key, "claims")) {
                api_error(c, 400, "BAD_REQUEST",
                          "rules[%zu]: unknown field (issuer, audience, subject, claims)", i);
                return false;
            }
        }
        json_t *aud = json_object_get(o, "audience"), *claims = json_object_get(o, "claims");
        r->issuer = (char *)plain_string(json_object_get(o, "issuer"));
        r->subject = (char *)plain_string(json_object_get(o, "subject"));
        if (!r->issuer) {
            api_error(c, 400, "BAD_REQUEST", "rules[%zu].issuer must be a string without NULs", i);
            return false;
        }
        if (!r->subject) {
            api_error(c, 400, "BAD_REQUEST", "rules[%zu].subject must be a string without NULs", i);
            return false;
        }
        if (aud && !json_is_null(aud) && !(r->audience = (char *)plain_string(aud))) {
            api_error(c, 400, "BAD_REQUEST",
                      "rules[%zu].audience must be a string without NULs, or omitted", i);
            return false;
        }
        if (claims && !json_is_null(claims) && !json_is_object(claims)) {
            api_error(c, 400, "BAD_REQUEST",
                      "rules[%zu].claims must be an object of claim name to string", i);
            return false;
        }
        if (json_object_size(claims) > ROBOT_FED_MAX_CLAIMS) {
            api_error(c, 400, "BAD_REQUEST", "rules[%zu].claims: at most %d claims", i,
                      ROBOT_FED_MAX_CLAIMS);
            return false;
        }
        r->claims = calloc(json_object_size(claims) + 1, sizeof(*r->claims));
        if (!r->claims) {
            api_error(c, 500, "INTERNAL", "out of memory");
            return false;
        }
        json_object_foreach(claims, key, v)
        {
            const char *val = plain_string(v);
            if (!val || strlen(key) != json_object_iter_key_len(json_object_key_to_iter(key))) {
                api_error(c, 400, "BAD_REQUEST",
                          "rules[%zu].claims: every value must be a string without NULs, and "
                          "every name too",
                          i);
                return false;
            }
            r->claims[r->nclaims].name = (char *)key;
            r->claims[r->nclaims++].value = (char *)val;
        }
    }
    return true;
}

/* Frees what federation_from_json allocated (the strings belong to the JSON). */
static void federation_parse_free(struct robot_fed_rule *rules, size_t n)
{
    for (size_t i = 0; rules && i < n; i++)
        free(rules[i].claims);
    free(rules);
}

static void robots_federation(struct api_call *c, int64_t id)
{
    struct store_err err = {0};
    struct robot_fed_rule *rules = NULL;
    size_t n = 0;
    json_t *body = NULL;

    if (c->method == EVHTTP_REQ_PUT) {
        if (!body_array(c, &body))
            return;
        if (!federation_from_json(c, body, &rules, &n))
            goto out;
        api_changed(c, CHANGE_ROBOT, id);
        if (robot_federation_set(c->db, id, rules, n, &err) < 0) {
            api_store_error(c, &err);
            goto out;
        }
        federation_parse_free(rules, n);
        rules = NULL;
    } else if (c->method != EVHTTP_REQ_GET) {
        api_error(c, 405, "METHOD_NOT_ALLOWED", "use GET or PUT on a robot's federation");
        return;
    }
    if (robot_federation_get(c->db, id, &rules, &n, &err) < 0) {
        api_store_error(c, &err);
        rules = NULL;
        goto out;
    }
    json_t *arr = api_model_federation(rules, n);
    robot_federation_free(rules, n);
    rules = NULL;
    if (arr)
        api_json(c, 200, arr);
    else
        api_error(c, 500, "INTERNAL", "out of memory");
out:
    if (body) /* rules point into body */
        federation_parse_free(rules, n);
    json_decref(body);
}

static void robots_networks(struct api_call *c, int64_t id)
{
    struct store_err err = {0};
    char **list = NULL;
    size_t n = 0, i;
    json_t *body = NULL, *v;
    int rc;

    if (c->method == EVHTTP_REQ_PUT) {
        if (!body_array(c, &body))
            return;
        size_t given = json_array_size(body);
        if (given > ROBOT_MAX_NETWORKS) {
            api_error(c, 400, "BAD_REQUEST", "at most %d networks per robot", ROBOT_MAX_NETWORKS);
            goto out;
        }
        const char *cidrs[ROBOT_MAX_NETWORKS + 1];
        json_array_foreach(body, i, v)
        {
            if (!(cidrs[i] = plain_string(v))) {
                api_error(c, 400, "BAD_REQUEST",
                          "networks[%zu] must be a string (an IPv4 or IPv6 network or address)", i);
                goto out;
            }
        }
        api_changed(c, CHANGE_ROBOT, id);
        rc = robot_networks_set(c->db, id, cidrs, given, &list, &n, &err);
    } else if (c->method == EVHTTP_REQ_GET) {
        rc = robot_networks_get(c->db, id, &list, &n, &err);
    } else {
        api_error(c, 405, "METHOD_NOT_ALLOWED", "use GET or PUT on a robot's networks");
        return;
    }
    if (rc < 0) {
        api_store_error(c, &err);
        goto out;
    }
    json_t *arr = json_array();
    for (i = 0; arr && i < n; i++)
        json_array_append_new(arr, json_string(list[i]));
    if (arr)
        api_json(c, 200, arr);
    else
        api_error(c, 500, "INTERNAL", "out of memory");
out:
    robot_networks_free(list, n);
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
    /* /{id}/federation and /{id}/networks: the id is parsed from its own copy. */
    const char *sub = strchr(rest + 1, '/');
    if (sub && (strcmp(sub, "/federation") == 0 || strcmp(sub, "/networks") == 0)) {
        char idpart[24];
        size_t l = (size_t)(sub - rest);
        if (l >= sizeof(idpart) ||
            (memcpy(idpart, rest, l), idpart[l] = '\0', !parse_id(idpart, &id))) {
            api_error(c, 400, "BAD_REQUEST", "robot id must be a positive integer");
            return;
        }
        if (sub[1] == 'f')
            robots_federation(c, id);
        else
            robots_networks(c, id);
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
