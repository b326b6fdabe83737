/* /api/v2.0/configurations, /permissions and /audit-logs. */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/api_system.h"

#include "dockhand/api_call.h"
#include "dockhand/api_models.h"
#include "dockhand/audit.h"
#include "dockhand/db.h"
#include "dockhand/query.h"
#include "dockhand/settings.h"
#include "dockhand/timefmt.h"

/* Which settings are integers in the API (the other is a string). */
static bool setting_is_int(const char *key)
{
    return strcmp(key, "robot_name_prefix") != 0;
}

static void configurations_get(struct api_call *c)
{
    struct store_err err = {0};
    json_t *o = json_object();
    for (size_t i = 0; i < SETTINGS_COUNT; i++) {
        char *v = NULL;
        if (settings_get(c->db, settings_keys[i], &v, &err) < 0) {
            json_decref(o);
            api_store_error(c, &err);
            return;
        }
        json_t *value =
            setting_is_int(settings_keys[i]) ? json_integer(strtoll(v, NULL, 10)) : json_string(v);
        json_object_set_new(o, settings_keys[i],
                            json_pack("{s:o, s:b}", "value", value, "editable", 1));
        free(v);
    }
    api_json(c, 200, o);
}

static void configurations_put(struct api_call *c)
{
    json_t *body = NULL;
    struct store_err err = {0};
    const char *key;
    json_t *v;

    if (!api_body_object(c, &body))
        return;
    /* Check every key and type first, then apply all in one transaction. */
    json_object_foreach(body, key, v)
    {
        bool known = false;
        for (size_t i = 0; i < SETTINGS_COUNT; i++)
            known = known || strcmp(key, settings_keys[i]) == 0;
        if (!known) {
            api_error(c, 400, "BAD_REQUEST", "unknown configuration %.64s", key);
            goto out;
        }
        if (setting_is_int(key) ? !json_is_integer(v) : !json_is_string(v)) {
            api_error(c, 400, "BAD_REQUEST", "%s must be %s", key,
                      setting_is_int(key) ? "an integer" : "a string");
            goto out;
        }
    }
    if (db_begin(c->db) < 0) {
        api_error(c, 503, "UNAVAILABLE", "the database is unavailable");
        goto out;
    }
    json_object_foreach(body, key, v)
    {
        char buf[32];
        const char *text = json_string_value(v);
        if (json_is_integer(v)) {
            snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
            text = buf;
        }
        if (settings_set(c->db, key, text, &err) < 0) {
            db_rollback(c->db);
            api_store_error(c, &err);
            goto out;
        }
    }
    api_changed(c, CHANGE_SETTINGS, 0);
    if (db_commit(c->db) < 0) {
        api_error(c, 503, "UNAVAILABLE", "the database is unavailable");
        goto out;
    }
    api_json(c, 200, NULL);
out:
    json_decref(body);
}

void api_configurations(struct api_call *c, const char *rest)
{
    if (*rest)
        api_error(c, 404, "NOT_FOUND", "no such endpoint");
    else if (c->method == EVHTTP_REQ_GET)
        configurations_get(c);
    else if (c->method == EVHTTP_REQ_PUT)
        configurations_put(c);
    else
        api_error(c, 405, "METHOD_NOT_ALLOWED", "use GET or PUT on /configurations");
}

void api_permissions(struct api_call *c, const char *rest)
{
    if (*rest) {
        api_error(c, 404, "NOT_FOUND", "no such endpoint");
        return;
    }
    if (c->method != EVHTTP_REQ_GET) {
        api_error(c, 405, "METHOD_NOT_ALLOWED", "use GET on /permissions");
        return;
    }
    api_json(c, 200, api_model_permissions());
}

/* One bound of op_time=[from~to]; "" leaves it open. */
static bool op_time_bound(struct api_call *c, const char *s, int64_t *out)
{
    const char *why;
    if (*s && timefmt_parse(s, strlen(s), out, &why) < 0) {
        api_error(c, 400, "BAD_REQUEST", "q: op_time: %s", why);
        return false;
    }
    return true;
}

/* The keys of an audit list's q (query.h), as Harbor names them: operation, resource_type
 * and username exact, resource a substring (=x or =~x), op_time=[from~to] in the time
 * grammar of timefmt.h. The values point into q's buffer. */
static bool audit_filter_parse(struct api_call *c, const struct query *q, struct audit_filter *f)
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
            if (t->kind != QUERY_RANGE) {
                api_error(c, 400, "BAD_REQUEST", "q: op_time=[from~to]");
                return false;
            }
            if (!op_time_bound(c, t->v[0], &f->from) || !op_time_bound(c, t->v[1], &f->to))
                return false;
        } else {
            api_error(c, 400, "BAD_REQUEST",
                      "q: unknown key or form %s (operation, resource_type, resource, username, "
                      "op_time=[from~to])",
                      t->key);
            return false;
        }
    }
    return true;
}

void api_audit_logs(struct api_call *c, const char *rest)
{
    struct audit_filter f = {0};
    struct store_err err = {0};
    struct audit_record *records = NULL;
    size_t n = 0;
    int64_t total = 0;
    struct query q = {0};

    if (*rest) {
        api_error(c, 404, "NOT_FOUND", "no such endpoint");
        return;
    }
    if (c->method != EVHTTP_REQ_GET) {
        api_error(c, 405, "METHOD_NOT_ALLOWED", "use GET on /audit-logs");
        return;
    }
    if (!api_paging(c, &f.page, &f.page_size))
        return;
    bool q_given = false;
    if (!api_query(c, &q, &q_given))
        goto out;
    if (q_given) {
        if (!audit_filter_parse(c, &q, &f))
            goto out;
    }
    if (audit_list(c->db, &f, &records, &n, &total, &err) < 0) {
        api_store_error(c, &err);
        goto out;
    }
    json_t *items = api_model_audit_logs(records, n);
    if (!items) {
        api_error(c, 500, "INTERNAL", "out of memory building the audit log");
        goto out;
    }
    api_page_headers(c, total, f.page, f.page_size);
    api_json(c, 200, items);
out:
    audit_records_free(records, n);
    query_deinit(&q);
}
