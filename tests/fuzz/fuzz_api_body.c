/* libFuzzer driver for the admin API's JSON bodies (api_parse.h) and the store's checks that
 * need no database: the first byte picks the body (robot create, robot update of a system or
 * of a project robot, secret refresh, project create, configurations PUT), the rest is the
 * body. Oracles: what the checks accept obeys the rules (valid names, known permissions,
 * the right level), and an accepted robot spelled again as JSON parses to the same spec. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/access.h"
#include "dockhand/api_parse.h"
#include "dockhand/names.h"
#include "dockhand/secret.h"
#include "dockhand/settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_why(int rc, const char *why)
{
    if (rc < 0 && (rc != DH_ERR_INVALID || !why[0] || strlen(why) >= API_WHY_LEN))
        __builtin_trap();
}

/* The rules every stored permission list keeps, read again here. */
static void perms_obey(const char *level, const struct robot_permission *p, size_t n)
{
    bool project = strcmp(level, "project") == 0;
    if (n == 0 || n > ROBOT_MAX_PERMS || (project && n != 1))
        __builtin_trap();
    for (size_t i = 0; i < n; i++) {
        bool system = strcmp(p[i].kind, "system") == 0;
        if ((system && (project || strcmp(p[i].namespace_, "/") != 0)) ||
            (!system && strcmp(p[i].kind, "project") != 0) ||
            (!system && strcmp(p[i].namespace_, "*") != 0 && !name_valid(p[i].namespace_)) ||
            (!system && project && strcmp(p[i].namespace_, "*") == 0) || p[i].naccess == 0 ||
            p[i].naccess > ROBOT_MAX_ACCESS)
            __builtin_trap();
        for (size_t j = 0; j < p[i].naccess; j++)
            if (!access_perm_known(p[i].access[j].resource, p[i].access[j].action, system))
                __builtin_trap();
    }
}

static json_t *spec_json(const struct robot_spec *s)
{
    json_t *perms = json_array();
    for (size_t i = 0; i < s->nperms; i++) {
        json_t *acc = json_array();
        for (size_t j = 0; j < s->perms[i].naccess; j++)
            json_array_append_new(acc, json_pack("{s:s, s:s}", "resource",
                                                 s->perms[i].access[j].resource, "action",
                                                 s->perms[i].access[j].action));
        json_array_append_new(perms, json_pack("{s:s, s:s, s:o}", "kind", s->perms[i].kind,
                                               "namespace", s->perms[i].namespace_, "access", acc));
    }
    json_t *o = json_pack("{s:s, s:s, s:b, s:o}", "name", s->name, "level", s->level, "disable",
                          s->disabled, "permissions", perms);
    if (s->description)
        json_object_set_new(o, "description", json_string(s->description));
    if (s->duration_set)
        json_object_set_new(o, "duration", json_integer(s->duration));
    return o;
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void body_robot_create(json_t *body)
{
    struct robot_spec spec, again;
    struct api_perms pp = {0}, pp2 = {0};
    struct store_err err = {0};
    char why[API_WHY_LEN] = "";
    int rc = api_parse_robot_create(body, &spec, &pp, why);
    check_why(rc, why);
    if (rc < 0)
        goto out;
    rc = robot_spec_check(&spec, &err);
    if (rc < 0 && (rc != DH_ERR_INVALID || err.status != STORE_INVALID || !err.msg[0]))
        __builtin_trap();
    if (rc < 0)
        goto out;
    if (!name_valid(spec.name) ||
        (strcmp(spec.level, "system") != 0 && strcmp(spec.level, "project") != 0) ||
        (spec.duration_set && spec.duration != -1 &&
         (spec.duration < 1 || spec.duration > ROBOT_DURATION_MAX)) ||
        (spec.description && strlen(spec.description) > ROBOT_DESCRIPTION_MAX))
        __builtin_trap();
    perms_obey(spec.level, spec.perms, spec.nperms);
    /* Spelled again as JSON, the spec parses to itself and is accepted again. */
    json_t *j = spec_json(&spec);
    char *text = json_dumps(j, JSON_COMPACT);
    json_t *b2 = NULL;
    if (!text || api_parse_body(text, strlen(text), &b2, why) != 0 ||
        api_parse_robot_create(b2, &again, &pp2, why) != 0 || robot_spec_check(&again, &err) != 0 ||
        !same_str(again.name, spec.name) || !same_str(again.level, spec.level) ||
        !same_str(again.description, spec.description) || again.disabled != spec.disabled ||
        again.duration_set != spec.duration_set || again.duration != spec.duration ||
        again.nperms != spec.nperms)
        __builtin_trap();
    for (size_t i = 0; i < spec.nperms; i++) {
        if (!same_str(again.perms[i].kind, spec.perms[i].kind) ||
            !same_str(again.perms[i].namespace_, spec.perms[i].namespace_) ||
            again.perms[i].naccess != spec.perms[i].naccess)
            __builtin_trap();
        for (size_t k = 0; k < spec.perms[i].naccess; k++)
            if (!same_str(again.perms[i].access[k].resource, spec.perms[i].access[k].resource) ||
                !same_str(again.perms[i].access[k].action, spec.perms[i].access[k].action))
                __builtin_trap();
    }
    api_perms_free(&pp2);
    json_decref(b2);
    free(text);
    json_decref(j);
out:
    api_perms_free(&pp);
}

static void body_robot_update(json_t *body, bool project)
{
    struct robot cur = {
        .name = project ? "library+ci" : "ci",
        .full_name = project ? "robot$library+ci" : "robot$ci",
        .level = project ? "project" : "system",
    };
    struct robot_change ch;
    struct api_perms pp = {0};
    struct store_err err = {0};
    char why[API_WHY_LEN] = "";
    int rc = api_parse_robot_update(body, &cur, &ch, &pp, why);
    check_why(rc, why);
    if (rc == 0 && robot_change_check(&cur, &ch, &err) == 0) {
        if (ch.perms_set) {
            perms_obey(cur.level, ch.perms, ch.nperms);
            /* A project robot stays on its project. */
            if (project && strcmp(ch.perms[0].namespace_, "library") != 0)
                __builtin_trap();
        }
        if (ch.description && strlen(ch.description) > ROBOT_DESCRIPTION_MAX)
            __builtin_trap();
        /* A name or level given is the robot's own. */
        json_t *n = json_object_get(body, "name"), *l = json_object_get(body, "level");
        if ((json_is_string(n) && strcmp(json_string_value(n), cur.name) != 0 &&
             strcmp(json_string_value(n), cur.full_name) != 0) ||
            (json_is_string(l) && strcmp(json_string_value(l), cur.level) != 0))
            __builtin_trap();
    }
    api_perms_free(&pp);
}

static void robot_refresh(json_t *body)
{
    const char *manual = NULL;
    size_t len = 0;
    char why[API_WHY_LEN] = "";
    int rc = api_parse_robot_refresh(body, &manual, &len, why);
    check_why(rc, why);
    if (rc == 0 && manual) {
        const char *policy = secret_policy_check(manual, len);
        /* The refusal never quotes the secret: another secret of the same shape (each ASCII
         * letter and digit moved to the next of its class) gets the very same message. (A
         * search for the secret in the message trapped on "secret", a word of the message.) */
        if (policy && len <= 4096) {
            char other[4096];
            for (size_t i = 0; i < len; i++) {
                char c = manual[i];
                other[i] = c >= 'a' && c <= 'z'   ? (char)('a' + (c - 'a' + 1) % 26)
                           : c >= 'A' && c <= 'Z' ? (char)('A' + (c - 'A' + 1) % 26)
                           : c >= '0' && c <= '9' ? (char)('0' + (c - '0' + 1) % 10)
                                                  : c;
            }
            const char *again = secret_policy_check(other, len);
            if (!again || strcmp(again, policy) != 0)
                __builtin_trap();
        }
        /* What the policy accepts: 8 to 128 bytes of UTF-8 without a NUL. */
        if (!policy && (len < 8 || len > 128 || memchr(manual, '\0', len)))
            __builtin_trap();
    }
}

static void project_create(json_t *body)
{
    const char *name;
    bool pub;
    char why[API_WHY_LEN] = "";
    int rc = api_parse_project_create(body, &name, &pub, why);
    check_why(rc, why);
    if (rc < 0)
        return;
    json_t *mp = json_object_get(json_object_get(body, "metadata"), "public");
    bool want = json_is_string(mp) ? strcmp(json_string_value(mp), "true") == 0
                                   : json_is_true(json_object_get(body, "public"));
    if (pub != want || !name)
        __builtin_trap();
    (void)name_valid(name);
}

static void configurations(json_t *body)
{
    char why[API_WHY_LEN] = "", norm[SETTINGS_NORM_LEN], norm2[SETTINGS_NORM_LEN];
    const char *key;
    json_t *v;
    int rc = api_parse_configurations(body, why);
    check_why(rc, why);
    if (rc < 0)
        return;
    json_object_foreach(body, key, v)
    {
        char buf[32];
        const char *text = json_string_value(v), *stored;
        struct store_err err = {0};
        if (json_is_integer(v)) {
            snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v));
            text = buf;
        }
        stored = text;
        if (settings_check(key, &stored, norm, &err) != 0)
            continue;
        /* What is stored is accepted again as itself. */
        const char *again = stored;
        if (settings_check(key, &again, norm2, &err) != 0 || strcmp(again, stored) != 0)
            __builtin_trap();
        if (api_setting_is_int(key) && strtoll(stored, NULL, 10) != json_integer_value(v))
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = NULL;
    char why[API_WHY_LEN] = "";

    if (size < 1)
        return 0;
    int rc = api_parse_body((const char *)data + 1, size - 1, &body, why);
    check_why(rc, why);
    if (rc == 0 && !json_is_object(body))
        __builtin_trap();
    switch (data[0] % 6) {
    case 0:
        if (body)
            body_robot_create(body);
        break;
    case 1:
    case 2:
        if (body)
            body_robot_update(body, data[0] % 6 == 2);
        break;
    case 3: /* the handler reads no body as "generate a secret" */
        robot_refresh(size == 1 ? NULL : body);
        break;
    case 4:
        if (body)
            project_create(body);
        break;
    default:
        if (body)
            configurations(body);
    }
    json_decref(body);
    return 0;
}
