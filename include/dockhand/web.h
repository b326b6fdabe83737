/* The web page's static files (embedded at build time, embed.h) served straight from
 * the worker threads: GET/HEAD / and /ui/<path>, with content types, ETags and the
 * security headers (README "The web page: server side"). */
#pragma once
#include <event2/http.h>
#include "dockhand/common.h"
#include "dockhand/embed.h"

#define WEB_CSP                                                                                    \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "                   \
    "frame-ancestors 'none'"

struct worker;

/* The embedded file at path (relative to web/, e.g. "app.js"), or NULL: also for any
 * path with an empty, "." or ".." segment, a '%' or a backslash (nothing is ever read
 * from disk, so this is belt and braces). */
const struct web_asset *web_asset_find(const char *path);

/* True when an If-None-Match header value (a list of entity tags, or "*") names etag
 * (weak comparison, RFC 9110 §13.1.2: a W/ prefix is ignored). */
bool web_etag_matches(const char *if_none_match, const char *etag);

/* Adds the headers every static answer carries (CSP, nosniff, no-referrer, DENY). */
void web_security_headers(struct evhttp_request *req);

/* Answers GET/HEAD / (index.html) and /ui/<path>; 404 for unknown files, 405 for other
 * methods. */
void web_handle(struct worker *w, struct evhttp_request *req);
