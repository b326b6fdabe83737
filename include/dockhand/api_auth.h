/* Authentication of admin API calls: HTTP Basic (administrators; a robot's working
 * credentials are told apart, for 403) or a web page session with its CSRF token. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "dockhand/api_call.h"

/* The one 401 body of the API and the web page's sign-in and session endpoints. */
#define API_UNAUTHORIZED_MESSAGE "administrator credentials required"

/* 401 UNAUTHORIZED, with the Basic challenge unless the request came from a browser. */
void api_unauthorized(struct api_call *c);

enum api_login {
    API_LOGIN_ADMIN,    /* an administrator: c->admin and *admin_id set */
    API_LOGIN_ROBOT,    /* a working robot's credentials: the caller answers 403 */
    API_LOGIN_REFUSED,  /* bad credentials, counted for the limits: the caller answers 401 */
    API_LOGIN_ANSWERED, /* the reply is set (400 malformed, 429 limited, 503) */
};

/* Checks a name and password as the API's Basic authentication does, on an API
 * thread: the failed-login limits per account and per address (429), an
 * administrator's password (600,000-iteration PBKDF2, verified logins cached), else a
 * robot's credentials, else a dummy verification of the same cost. */
enum api_login api_login_check(struct api_call *c, const char *user, size_t ulen,
                               const char *secret, size_t slen, int64_t *admin_id);

/* 0 when an administrator authenticated (c->admin set); otherwise the reply is set
 * (401, 403, 400, 429 or 503). HTTP Basic wins over a session cookie when both are
 * present. */
int api_authenticate(struct api_call *c);
