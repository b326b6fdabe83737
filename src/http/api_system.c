/* /api/v2.0/configurations, /permissions and /audit-logs. */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/api_system.h"

#include "dockhand/api_call.h"
#include "dockhand/api_models.h"
#include "dockhand/api_parse.h"
#include "dockhand/audit.h"
#include "dockhand/db.h"
#include "dockhand/query.h"
#include "dockhand/settings.h"

/* A parse failure's answer: 400 with its message, or 500 when memory ran out. */
static void parse_error(struct api_call *c, int rc, const char *why)
{
    if (rc == DH_ERR_NOMEM)
        api_error(c, 500, "INTERNAL", "out of memory");
    else
        api_error(c, 400, "BAD_REQUEST", "%s", why);
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
        json_t *value = api_setting_is_int(settings_keys[i]) ? json_integer(strtoll(v, NULL, 10))
                                                             : json_string(v);
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
    char why[API_WHY_LEN];
    int rc;

    if (!api_body_object(c, &body))
        return;
    /* Check every key and type first, then apply all in one transaction. */
    if ((rc = api_parse_configurations(body, why)) < 0) {
        parse_error(c, rc, why);
        goto out;
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
    char why[API_WHY_LEN];
    int rc;
    if (q_given && (rc = api_parse_audit_q(&q, &f, why)) < 0) {
        parse_error(c, rc, why);
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
