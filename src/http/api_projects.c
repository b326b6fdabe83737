/* /api/v2.0/projects: create, list, check, get and delete projects. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/api_projects.h"

#include "dockhand/api_call.h"
#include "dockhand/api_models.h"
#include "dockhand/api_parse.h"
#include "dockhand/query.h"
#include "dockhand/projects.h"

/* A parse failure's answer: 400 with its message, or 500 when memory ran out. */
static void parse_error(struct api_call *c, int rc, const char *why)
{
    if (rc == DH_ERR_NOMEM)
        api_error(c, 500, "INTERNAL", "out of memory");
    else
        api_error(c, 400, "BAD_REQUEST", "%s", why);
}

static void projects_create(struct api_call *c)
{
    json_t *body = NULL;
    struct project p = {0};
    struct store_err err = {0};
    const char *name;
    bool is_public;
    char why[API_WHY_LEN];
    int rc;

    if (!api_body_object(c, &body))
        return;
    if ((rc = api_parse_project_create(body, &name, &is_public, why)) < 0) {
        parse_error(c, rc, why);
        goto out;
    }
    if (project_create(c->db, name, is_public, &p, &err) < 0) {
        api_store_error(c, &err);
        goto out;
    }
    api_changed(c, CHANGE_PROJECT, p.id); /* a cached "no such project" answer goes stale */
    char loc[64];
    snprintf(loc, sizeof(loc), "/api/v2.0/projects/%" PRId64, p.id);
    api_header(c, "Location", loc);
    api_json(c, 201, NULL);
out:
    project_deinit(&p);
    json_decref(body);
}

static void projects_list(struct api_call *c)
{
    int64_t page, page_size, total = 0;
    struct project *list = NULL;
    size_t n = 0;
    struct store_err err = {0};
    struct query q = {0};
    char why[API_WHY_LEN];
    int rc;

    if (!api_paging(c, &page, &page_size))
        return;
    const char *name = form_get(&c->query, "name");
    bool q_given = false;
    if (!api_query(c, &q, &q_given))
        goto out;
    if (q_given && (rc = api_parse_project_q(&q, &name, why)) < 0) {
        parse_error(c, rc, why);
        goto out;
    }
    if (project_list(c->db, name && *name ? name : NULL, page, page_size, &list, &n, &total, &err) <
        0) {
        api_store_error(c, &err);
        goto out;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, api_model_project(&list[i]));
    project_list_free(list, n);
    api_page_headers(c, total, page, page_size);
    api_json(c, 200, arr);
out:
    /* name may point into q. */
    query_deinit(&q);
}

void api_projects(struct api_call *c, const char *rest)
{
    struct store_err err = {0};
    struct project p;

    if (!*rest) {
        if (c->method == EVHTTP_REQ_POST) {
            projects_create(c);
        } else if (c->method == EVHTTP_REQ_GET) {
            projects_list(c);
        } else if (c->method == EVHTTP_REQ_HEAD) {
            const char *name = form_get(&c->query, "project_name");
            if (!name) {
                api_error(c, 400, "BAD_REQUEST", "project_name is required");
                return;
            }
            if (project_get(c->db, name, &p, &err) < 0) {
                api_store_error(c, &err);
                return;
            }
            project_deinit(&p);
            api_json(c, 200, NULL);
        } else {
            api_error(c, 405, "METHOD_NOT_ALLOWED", "use GET, HEAD or POST on /projects");
        }
        return;
    }
    const char *ref = rest + 1;
    if (!*ref || strchr(ref, '/')) {
        api_error(c, 404, "NOT_FOUND", "no such endpoint");
        return;
    }
    if (c->method == EVHTTP_REQ_GET || c->method == EVHTTP_REQ_HEAD) {
        if (project_get(c->db, ref, &p, &err) < 0) {
            api_store_error(c, &err);
            return;
        }
        api_json(c, 200, api_model_project(&p));
        project_deinit(&p);
    } else if (c->method == EVHTTP_REQ_DELETE) {
        api_changed(c, CHANGE_PROJECT_GONE, 0);
        if (project_delete(c->db, ref, &err) < 0)
            api_store_error(c, &err);
        else
            api_json(c, 200, NULL);
    } else {
        api_error(c, 405, "METHOD_NOT_ALLOWED", "use GET or DELETE on a project");
    }
}
