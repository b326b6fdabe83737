/* Web page sessions (README "The web page: server side"): a random token in the
 * dockhand_session cookie, found in PostgreSQL by its SHA-256 (the token is never
 * stored), a CSRF token derived from it (HMAC-SHA256, never stored), idle and absolute
 * timeouts measured by the database's clock so every instance agrees. */
#pragma once
#include <libpq-fe.h>
#include <stdint.h>
#include "dockhand/common.h"

#define SESSION_COOKIE "dockhand_session"
#define SESSION_CSRF_HEADER "X-Harbor-CSRF-Token"
#define SESSION_TOKEN_BYTES 32  /* random bytes of a session token */
#define SESSION_TOKEN_LEN 43    /* its base64url form, the cookie's value */
#define SESSION_CSRF_LEN 43     /* base64url of an HMAC-SHA256 */
#define SESSION_HASH_LEN 64     /* hex SHA-256 of the token: the row's key */
#define SESSION_COOKIE_MAX 8192 /* bytes of a Cookie header looked at */
#define SESSION_SET_COOKIE_MAX 256
#define SESSION_LOGIN_MAX_BODY 8192 /* bytes of a sign-in form (413 above) */

/* Finds cookie name in a Cookie header value ("a=b; name=value; c=d"; a value may be
 * quoted) and copies its value to out. The first occurrence wins. Returns 0;
 * DH_ERR_NOTFOUND when absent (also for a NULL header); DH_ERR_TOOBIG when the value
 * does not fit in cap (with its NUL) or the header is over SESSION_COOKIE_MAX. */
int session_cookie_get(const char *header, const char *name, char *out, size_t cap) DH_MUST_CHECK;

/* True when token has the shape of a session token (SESSION_TOKEN_LEN base64url
 * characters); others are not even looked up. */
bool session_token_wellformed(const char *token);

/* A new random session token. Returns 0 or DH_ERR_CRYPTO. */
int session_token_new(char out[SESSION_TOKEN_LEN + 1]) DH_MUST_CHECK;

/* Lower-case hex SHA-256 of token: what the database stores. */
void session_token_hash(const char *token, char out[SESSION_HASH_LEN + 1]);

/* The CSRF token of a session: base64url(HMAC-SHA256(key = token, "dockhand csrf")). */
void session_csrf(const char *token, char out[SESSION_CSRF_LEN + 1]);

/* Constant-time check of a client's CSRF header value (NULL: missing) against token's. */
bool session_csrf_check(const char *token, const char *given);

/* The Set-Cookie header value that sets token (or, when token is NULL, expires the
 * cookie): Path=/; HttpOnly; SameSite=Strict, and Secure when secure. */
void session_set_cookie(char out[SESSION_SET_COOKIE_MAX], const char *token, bool secure);

/* Stores a new session of admin_id (blocking; from an API thread), and deletes every
 * session past its idle (idle_s) or absolute (max_s) limit. Returns 0 or DH_ERR_DB. */
int session_create(PGconn *db, const char *token, int64_t admin_id, const char *client_ip,
                   int idle_s, int max_s) DH_MUST_CHECK;

/* The live session of token: 1 with the administrator's name in admin (and last_seen
 * moved to now); 0 when there is none (unknown, malformed, expired: an expired row is
 * deleted); DH_ERR_DB. */
int session_lookup(PGconn *db, const char *token, int idle_s, int max_s, char *admin,
                   size_t cap) DH_MUST_CHECK;

/* Deletes the session of token. Returns 0 or DH_ERR_DB. */
int session_delete(PGconn *db, const char *token) DH_MUST_CHECK;
