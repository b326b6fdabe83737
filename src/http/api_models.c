/* Harbor's API models as JSON, built from the store's structs (api_models.h). */
#include "dockhand/api_models.h"

#include "dockhand/access.h"

json_t *api_model_robot(const struct robot *r)
{
    json_t *perms = json_array();
    for (size_t i = 0; perms && i < r->nperms; i++) {
        json_t *access = json_array();
        for (size_t j = 0; access && j < r->perms[i].naccess; j++)
            json_array_append_new(access, json_pack("{s:s, s:s}", "resource",
                                                    r->perms[i].access[j].resource, "action",
                                                    r->perms[i].access[j].action));
        json_array_append_new(perms, json_pack("{s:s, s:s, s:o}", "kind", r->perms[i].kind,
                                               "namespace", r->perms[i].namespace_, "access",
                                               access ? access : json_array()));
    }
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:I, s:b, s:b, s:I, s:o, s:s, s:s}", "id",
                          (json_int_t)r->id, "name", r->full_name, "description", r->description,
                          "level", r->level, "duration", (json_int_t)r->duration, "editable", 1,
                          "disable", r->disabled, "expires_at", (json_int_t)r->expires_at,
                          "permissions", perms ? perms : json_array(), "creation_time",
                          r->creation_time, "update_time", r->update_time);
    return o;
}

json_t *api_model_robot_created(const struct robot *r, const char *secret)
{
    json_t *o =
        json_pack("{s:I, s:s, s:s, s:I}", "id", (json_int_t)r->id, "name", r->full_name,
                  "creation_time", r->creation_time, "expires_at", (json_int_t)r->expires_at);
    if (o && secret)
        json_object_set_new(o, "secret", json_string(secret));
    return o;
}

json_t *api_model_project(const struct project *p)
{
    return json_pack("{s:I, s:s, s:{s:s}, s:s, s:s, s:I}", "project_id", (json_int_t)p->id, "name",
                     p->name, "metadata", "public", p->public_ ? "true" : "false", "creation_time",
                     p->creation_time, "update_time", p->update_time, "robot_count",
                     (json_int_t)p->robot_count);
}

json_t *api_model_permissions(void)
{
    json_t *system = json_array(), *project = json_array();
    for (size_t i = 0; i < access_catalogue_len; i++) {
        const struct perm_def *d = &access_catalogue[i];
        json_t *o = json_pack("{s:s, s:s}", "resource", d->resource, "action", d->action);
        json_array_append(system, o);
        if (!d->system_only)
            json_array_append(project, o);
        json_decref(o);
    }
    return json_pack("{s:o, s:o}", "system", system, "project", project);
}

static json_t *string_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *api_model_audit_logs(const struct audit_record *list, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        const struct audit_record *r = &list[i];
        json_t *detail = r->detail ? json_loads(r->detail, JSON_DECODE_ANY, NULL) : NULL;
        json_t *o = json_pack(
            "{s:I, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "id", (json_int_t)r->id, "username",
            r->username, "resource", r->resource, "resource_type", r->resource_type, "operation",
            r->operation, "op_time", r->op_time, "client_ip", string_or_null(r->client_ip),
            "request_id", string_or_null(r->request_id), "detail", detail ? detail : json_null());
        if (!o || json_array_append_new(arr, o) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

json_t *api_model_federation(const struct robot_fed_rule *rules, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *claims = json_object();
        for (size_t k = 0; claims && k < rules[i].nclaims; k++)
            json_object_set_new(claims, rules[i].claims[k].name,
                                json_string(rules[i].claims[k].value));
        json_t *o = json_pack("{s:s, s:s, s:o*}", "issuer", rules[i].issuer, "subject",
                              rules[i].subject, "claims", claims);
        if (o && rules[i].audience)
            json_object_set_new(o, "audience", json_string(rules[i].audience));
        if (!o || json_array_append_new(arr, o) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}
