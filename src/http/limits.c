/* GET /c/limits: the web page's limits from the server's own constants. */
#include "dockhand/limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "dockhand/http.h"
#include "dockhand/names.h"
#include "dockhand/secret.h"
#include "dockhand/robots.h"
#include "dockhand/settings.h"
#include "dockhand/web.h"

json_t *limits_json(void)
{
    json_t *j = json_object();
    /* json_object_set_new takes the value also when it fails (and fails on a NULL value or
     * object), so nothing leaks when one step runs out of memory. */
    if (json_object_set_new(
            j, "name",
            json_pack("{s:i, s:s}", "max_length", NAME_MAX_LEN, "pattern", NAME_PATTERN)) ||
        json_object_set_new(j, "name_prefix", json_pack("{s:i}", "max_length", PREFIX_MAX_LEN)) ||
        json_object_set_new(j, "description",
                            json_pack("{s:i}", "max_bytes", ROBOT_DESCRIPTION_MAX)) ||
        json_object_set_new(
            j, "duration",
            json_pack("{s:i, s:i, s:i}", "min", 1, "max", ROBOT_DURATION_MAX, "never", -1)) ||
        /* The character classes secret_policy_check requires of a manual secret. */
        json_object_set_new(j, "secret",
                            json_pack("{s:i, s:i, s:[sss]}", "min_bytes", SECRET_MANUAL_MIN,
                                      "max_bytes", SECRET_MANUAL_MAX, "classes", "upper", "lower",
                                      "digit")) ||
        json_object_set_new(
            j, "token_expiration",
            json_pack("{s:i, s:i}", "min", 1, "max", SETTINGS_TOKEN_EXPIRATION_MAX))) {
        json_decref(j);
        return NULL;
    }
    return j;
}

void limits_handle(struct worker *w, struct evhttp_request *req)
{
    struct http_ctx ctx;
    enum evhttp_cmd_type m = evhttp_request_get_command(req);

    http_ctx_init(&ctx, w, req);
    web_security_headers(req);
    if (m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
        http_error(&ctx, 405, "METHOD_NOT_ALLOWED", "only GET and HEAD are allowed here");
        return;
    }
    json_t *j = limits_json();
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!body) {
        http_error(&ctx, 500, "INTERNAL", "internal server error");
        return;
    }
    if (m == EVHTTP_REQ_HEAD) {
        /* evhttp sends no body for HEAD and does not count one: say what GET would send. */
        char len[32];
        snprintf(len, sizeof(len), "%zu", strlen(body));
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Length", len);
        http_reply(&ctx, 200, NULL, NULL, 0);
    } else {
        http_reply(&ctx, 200, NULL, body, strlen(body));
    }
    free(body);
}
