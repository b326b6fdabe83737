/* The limits the web page checks before the server does, made from the constants the
 * server checks with (names.h, secret.h, the robot and settings limits): one source, so the
 * page holds no copy. Served at GET /c/limits without a session or the database (README
 * "The web page: server side"); nothing in it is secret. */
#pragma once
#include <jansson.h>

struct worker;
struct evhttp_request;

/* The limits as a new JSON object (the caller json_decref()s it), or NULL when out of
 * memory:
 *   {"name": {"max_length", "pattern"}, "name_prefix": {"max_length"},
 *    "description": {"max_bytes"}, "duration": {"min", "max", "never"},
 *    "secret": {"min_bytes", "max_bytes", "classes": ["upper", "lower", "digit"]},
 *    "token_expiration": {"min", "max"}} */
json_t *limits_json(void);

/* Answers GET/HEAD /c/limits with limits_json(); 405 with Allow for other methods, 500
 * when out of memory. */
void limits_handle(struct worker *w, struct evhttp_request *req);
