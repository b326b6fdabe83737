/* The token realm (README "The token realm"): GET and POST at /service/token, /token
 * and /token/, answered on the worker's loop. */
#pragma once
#include <event2/http.h>

struct worker;

/* Answers one token request (HTTP Basic, OAuth2 password and refresh grants, or
 * anonymous) with a signed token or an error, now or when the lookup finishes. */
void realm_handle(struct worker *w, struct evhttp_request *req);

/* Answers 503 to the worker's requests still waiting for room in the audit queue
 * (DOCKHAND_AUDIT_OVERFLOW=block) and frees what the realm keeps per worker. After the
 * worker's loop has stopped, before its evhttp is freed. */
void realm_worker_deinit(struct worker *w);
