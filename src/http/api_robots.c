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
