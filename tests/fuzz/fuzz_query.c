/* libFuzzer driver for Harbor's q grammar (query.h): arbitrary bytes as q, then, when it
 * parses, the keys of each list that takes one (api_parse.h): robots, projects, audit logs.
 * Seed ideas: name=~lst,Level=system  op_time=[2020-01-01 00:00:00~2020-01-02T00:00:00Z]
 * k={a b c}  t=[a~[b]]  name=%E2%82%AC  ,,a=1,,  x=~[y]  t=[%7E~]  a=(b c) */
#include <stdlib.h>
#include <string.h>

#include "dockhand/api_parse.h"
#include "dockhand/query.h"
#include "dockhand/timefmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool is_value(const struct query *q, const char *v)
{
    for (size_t i = 0; i < q->n; i++)
        for (size_t j = 0; j < q->t[i].n; j++)
            if (q->t[i].v[j] == v)
                return true;
    return false;
}

static void why_ok(int rc, const char *why)
{
    if (rc < 0 && (rc != DH_ERR_INVALID || !*why || strlen(why) >= API_WHY_LEN))
        abort();
}

/* What each list's filter takes points at a value of q and keeps its rules. */
static void lists(const struct query *q)
{
    char why[API_WHY_LEN] = "";
    struct robot_filter rf = {0};
    int rc = api_parse_robot_q(q, &rf, why);
    why_ok(rc, why);
    if (rc == 0 &&
        ((rf.name_part && !is_value(q, rf.name_part)) ||
         (rf.name_exact && !is_value(q, rf.name_exact)) ||
         (rf.level && strcmp(rf.level, "system") != 0 && strcmp(rf.level, "project") != 0) ||
         rf.project_id < 0))
        abort();
    /* A key naming a secret is never a filter. */
    for (size_t i = 0; rc == 0 && i < q->n; i++)
        if (strcasestr(q->t[i].key, "secret") || strcasestr(q->t[i].key, "hash") ||
            strcasestr(q->t[i].key, "salt"))
            abort();
    const char *name = NULL;
    rc = api_parse_project_q(q, &name, why);
    why_ok(rc, why);
    if (rc == 0 && (q->n != 1 || name != q->t[0].v[0]))
        abort();
    struct audit_filter af = {0};
    rc = api_parse_audit_q(q, &af, why);
    why_ok(rc, why);
    if (rc == 0 &&
        (af.from < 0 || af.to < 0 || (af.operation && !is_value(q, af.operation)) ||
         (af.resource && !is_value(q, af.resource)) || (af.username && !is_value(q, af.username)) ||
         (af.resource_type && !is_value(q, af.resource_type))))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct query q;
    char err[QUERY_ERR_LEN];
    int rc = query_parse(&q, (const char *)data, size, err);

    /* A failure says why; a success keeps every bound and gives C strings. */
    if (rc < 0 && (!*err || strlen(err) >= QUERY_ERR_LEN))
        abort();
    if (rc == 0) {
        if (q.n > QUERY_MAX_TERMS)
            abort();
        for (size_t i = 0; i < q.n; i++) {
            const struct query_term *t = &q.t[i];
            size_t klen = strlen(t->key);
            if (!klen || klen > QUERY_MAX_KEY || t->n < 1 || t->n > QUERY_MAX_SET ||
                (t->kind == QUERY_RANGE && t->n != 2))
                abort();
            for (size_t j = 0; j < t->n; j++) {
                if (strlen(t->v[j]) > QUERY_MAX_VALUE)
                    abort();
                /* What the audit handler does with a range's bounds. */
                int64_t when = -1;
                if (t->kind == QUERY_RANGE &&
                    timefmt_parse(t->v[j], strlen(t->v[j]), &when, NULL) == 0 && when < 0)
                    abort();
            }
        }
    }
    if (rc == 0)
        lists(&q);
    query_deinit(&q);
    return 0;
}
