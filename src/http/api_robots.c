/* /api/v2.0/robots: Harbor's robot account endpoints. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "dockhand/api_robots.h"

#include "dockhand/api_call.h"
#include "dockhand/api_models.h"
#include "dockhand/api_parse.h"
#include "dockhand/http.h"
#include "dockhand/query.h"
#include "dockhand/robots.h"

/* A parse failure's answer: 400 with its message, or 500 when memory ran out. */
static void parse_error(struct api_call *c, int rc, const char *why)
{
    if (rc == DH_ERR_NOMEM)
        api_error(c, 500, "INTERNAL", "out of memory");
    else
        api_error(c, 400, "BAD_REQUEST", "%s", why);
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

static void robots_list(struct api_call *c)
{
    struct robot_filter f = {0};
    struct store_err err = {0};
    struct robot *list = NULL;
    size_t n = 0;
    int64_t total = 0;
    struct query q = {0};
    char why[API_WHY_LEN];
    int rc;

    if (!api_paging(c, &f.page, &f.page_size))
        return;
    const char *sort = form_get(&c->query, "sort");
    if (sort && (rc = api_parse_robot_sort(sort, why)) < 0) {
        parse_error(c, rc, why);
        return;
    }
    f.sort = sort;
    bool q_given = false;
    if (!api_query(c, &q, &q_given))
        goto out;
    if (q_given && (rc = api_parse_robot_q(&q, &f, why)) < 0) {
        parse_error(c, rc, why);
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
    struct api_perms pp = {0};
    struct robot_spec spec;
    struct robot r = {0};
    struct store_err err = {0};
    char secret[SECRET_GEN_LEN + 1] = "", why[API_WHY_LEN];
    int rc;

    if (!api_body_object(c, &body))
        return;
    if ((rc = api_parse_robot_create(body, &spec, &pp, why)) < 0) {
        parse_error(c, rc, why);
        goto out;
    }
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
    api_perms_free(&pp);
    json_decref(body);
}

static void robots_update(struct api_call *c, int64_t id)
{
    json_t *body = NULL;
    struct api_perms pp = {0};
    struct robot_change ch;
    struct robot cur = {0};
    struct store_err err = {0};
    char why[API_WHY_LEN];
    int rc;

    if (!api_body_object(c, &body))
        return;
    if (robot_get(c->db, id, &cur, &err) < 0) {
        api_store_error(c, &err);
        goto out;
    }
    if ((rc = api_parse_robot_update(body, &cur, &ch, &pp, why)) < 0) {
        parse_error(c, rc, why);
        goto out;
    }
    robot_deinit(&cur);
    api_changed(c, CHANGE_ROBOT, id);
    if (robot_update(c->db, id, &ch, &err) < 0 || robot_get(c->db, id, &cur, &err) < 0) {
        api_store_error(c, &err);
        goto out;
    }
    api_json(c, 200, robot_json_full(&cur));
out:
    robot_deinit(&cur);
    api_perms_free(&pp);
    json_decref(body);
}

static void robots_refresh(struct api_call *c, int64_t id)
{
    json_t *body = NULL;
    struct store_err err = {0};
    char secret[SECRET_GEN_LEN + 1] = "", why[API_WHY_LEN];
    const char *manual = NULL;
    size_t manual_len = 0;
    int rc;

    if (c->body_len > 0 && !api_body_object(c, &body))
        return;
    if ((rc = api_parse_robot_refresh(body, &manual, &manual_len, why)) < 0) {
        parse_error(c, rc, why);
        goto out;
    }
    api_changed(c, CHANGE_ROBOT, id);
    if (robot_refresh_secret(c->db, id, manual, manual_len, secret, &err) < 0) {
        api_store_error(c, &err);
        goto out;
    }
    /* RobotSec: the new secret when generated; nothing to echo for a manual one. */
    api_json(c, 200, manual ? json_object() : json_pack("{s:s}", "secret", secret));
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    json_t *s = json_object_get(body, "secret");
    if (json_is_string(s))
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
