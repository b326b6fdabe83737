/* /api/v2.0/configurations, /permissions and /audit-logs. */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dockhand/api_system.h"

#include "dockhand/api_call.h"
#include "dockhand/audit.h"
#include "dockhand/db.h"
#include "dockhand/service.h"

/* Which settings are integers in the API (the other is a string). */
static bool setting_is_int(const char *key)
{
    return strcmp(key, "robot_name_prefix") != 0;
}

static void configurations_get(struct api_call *c)
{
    struct svc_err err = {0};
    json_t *o = json_object();
    for (size_t i = 0; i < SETTINGS_COUNT; i++) {
        char *v = NULL;
        if (settings_get(c->db, settings_keys[i], &v, &err) < 0) {
            json_decref(o);
            api_svc_error(c, &err);
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
    struct svc_err err = {0};
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
            api_svc_error(c, &err);
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
    api_json(c, 200, permissions_to_json());
}

/* RFC 3339 ("2026-01-02T03:04:05Z"), "2026-01-02 03:04:05", a date, or Unix seconds. */
static bool time_parse(const char *s, int64_t *out)
{
    static const char *const formats[] = {"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S",
                                          "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"};
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s && !*end) {
        *out = v;
        return true;
    }
    for (size_t i = 0; i < DH_ARRAY_SIZE(formats); i++) {
        struct tm tm = {0};
        const char *e = strptime(s, formats[i], &tm);
        if (e && !*e) {
            *out = (int64_t)timegm(&tm);
            return true;
        }
    }
    return false;
}

/* operation=x, resource_type=x, resource=~x, username=x, op_time=[from~to]. */
static bool audit_filter_parse(struct api_call *c, char *q, struct audit_filter *f)
{
    char *cond = q;
    while (cond && *cond) {
        char *next = NULL;
        char *eq = strchr(cond, '=');
        if (!eq) {
            api_error(c, 400, "BAD_REQUEST", "q: expected key=value");
            return false;
        }
        *eq = '\0';
        char *value = eq + 1;
        if (*value == '[') {
            char *close = strchr(value, ']');
            if (!close) {
                api_error(c, 400, "BAD_REQUEST", "q: unclosed [range]");
                return false;
            }
            *close = '\0';
            next = close[1] == ',' ? close + 2 : close + 1;
        } else {
            char *comma = strchr(value, ',');
            if (comma) {
                *comma = '\0';
                next = comma + 1;
            }
        }
        bool fuzzy = *value == '~';
        if (fuzzy)
            value++;
        if (*value != '[' && !api_q_unescape(c, value))
            return false;
        if (strcmp(cond, "operation") == 0 && !fuzzy) {
            f->operation = value;
        } else if (strcmp(cond, "resource_type") == 0 && !fuzzy) {
            f->resource_type = value;
        } else if (strcmp(cond, "resource") == 0) {
            f->resource = value;
        } else if (strcmp(cond, "username") == 0 && !fuzzy) {
            f->username = value;
        } else if (strcmp(cond, "op_time") == 0 && value[0] == '[') {
            char *tilde = strchr(value + 1, '~');
            if (!tilde) {
                api_error(c, 400, "BAD_REQUEST", "q: op_time=[from~to]");
                return false;
            }
            *tilde = '\0';
            if ((value[1] && !time_parse(value + 1, &f->from)) ||
                (tilde[1] && !time_parse(tilde + 1, &f->to))) {
                api_error(c, 400, "BAD_REQUEST",
                          "q: op_time bounds are RFC 3339 times, dates or Unix seconds");
                return false;
            }
        } else {
            api_error(c, 400, "BAD_REQUEST",
                      "q: unknown key %.60s (operation, resource_type, resource, username, "
                      "op_time)",
                      cond);
            return false;
        }
        cond = next;
    }
    return true;
}

void api_audit_logs(struct api_call *c, const char *rest)
{
    struct audit_filter f = {0};
    struct svc_err err = {0};
    json_t *items = NULL;
    int64_t total = 0;
    char *q = NULL;

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
    const char *qs = form_get(&c->query, "q");
    if (qs) {
        q = strdup(qs);
        if (!q || !audit_filter_parse(c, q, &f))
            goto out;
    }
    if (audit_list(c->db, &f, &items, &total, &err) < 0) {
        api_svc_error(c, &err);
        goto out;
    }
    api_page_headers(c, total, f.page, f.page_size);
    api_json(c, 200, items);
out:
    free(q);
}
