/* The web page's sign-in (/c/login), session (/c/session) and sign-out (/c/log_out),
 * on the API threads: the password check is a 600,000-iteration PBKDF2 and must not
 * run on a worker's loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "dockhand/api_session.h"

#include "dockhand/api_auth.h"
#include "dockhand/api_call.h"
#include "dockhand/audit.h"
#include "dockhand/log.h"
#include "dockhand/http.h"
#include "dockhand/session.h"

/* Secure cookies when this listener speaks TLS, or the public URL (DOCKHAND_REALM) is
 * https (TLS ended by a proxy in front). */
static bool cookie_secure(const struct api_call *c)
{
    return c->st->tls != NULL || strncasecmp(c->st->realm, "https://", 8) == 0;
}

static void set_cookie(struct api_call *c, const char *token)
{
    char v[SESSION_SET_COOKIE_MAX];
    session_set_cookie(v, token, cookie_secure(c));
    api_header(c, "Set-Cookie", v);
    OPENSSL_cleanse(v, sizeof(v));
}

static void method_not_allowed(struct api_call *c, const char *allow)
{
    api_header(c, "Allow", allow);
    api_error(c, 405, "METHOD_NOT_ALLOWED", "only %s is allowed here", allow);
}

/* True when the Content-Type's media type is application/x-www-form-urlencoded
 * (parameters such as charset allowed). */
static bool is_form(const char *ctype)
{
    static const char form[] = "application/x-www-form-urlencoded";
    if (!ctype)
        return false;
    while (*ctype == ' ')
        ctype++;
    if (strncasecmp(ctype, form, sizeof(form) - 1) != 0)
        return false;
    ctype += sizeof(form) - 1;
    while (*ctype == ' ')
        ctype++;
    return *ctype == '\0' || *ctype == ';';
}

static void record(struct api_call *c, const char *operation, const char *who)
{
    struct audit_entry e = {.username = who,
                            .operation = operation,
                            .resource_type = "session",
                            .resource = who,
                            .client_ip = c->client_ip,
                            .request_id = c->rid};
    if (audit_write(c->db, &e) < 0)
        log_at(LOG_WARN, c->rid, "audit record of %s not written", operation);
}

static void session_answer(struct api_call *c, int status, const char *admin, const char *token)
{
    char csrf[SESSION_CSRF_LEN + 1];
    session_csrf(token, csrf);
    api_json(c, status, json_pack("{s:s, s:s}", "username", admin, "csrf_token", csrf));
    OPENSSL_cleanse(csrf, sizeof(csrf));
}

static void login(struct api_call *c)
{
    const struct config *cfg = c->st->cfg;
    struct form f = {0};
    char token[SESSION_TOKEN_LEN + 1];
    int64_t id = 0;

    if (c->method != EVHTTP_REQ_POST) {
        method_not_allowed(c, "POST");
        return;
    }
    if (c->body_len > SESSION_LOGIN_MAX_BODY) {
        api_error(c, 413, "PAYLOAD_TOO_LARGE", "the sign-in form is larger than %d bytes",
                  SESSION_LOGIN_MAX_BODY);
        return;
    }
    if (!is_form(c->content_type)) {
        api_error(c, 415, "UNSUPPORTED_MEDIA_TYPE",
                  "sign in with an application/x-www-form-urlencoded form");
        return;
    }
    if (form_parse(c->body, c->body_len, &f) < 0) {
        api_error(c, 400, "BAD_REQUEST", "malformed form");
        return;
    }
    const char *principal = form_get(&f, "principal"), *password = form_get(&f, "password");
    if (!principal || !password) {
        api_error(c, 400, "BAD_REQUEST", "principal and password are required");
        goto out;
    }
    switch (api_login_check(c, principal, strlen(principal), password, strlen(password), &id)) {
    case API_LOGIN_ADMIN:
        break;
    case API_LOGIN_ROBOT:
        api_error(c, 403, "FORBIDDEN", "robot accounts cannot sign in");
        goto out;
    case API_LOGIN_REFUSED:
        if (cfg->audit_tokens)
            record(c, "login_failed", principal);
        c->browser = true;
        api_unauthorized(c);
        goto out;
    case API_LOGIN_ANSWERED:
        goto out;
    }
    if (session_token_new(token) < 0) {
        api_error(c, 500, "INTERNAL", "no random bytes for a session token");
        goto out;
    }
    if (session_create(c->db, token, id, c->client_ip, cfg->session_idle, cfg->session_max) < 0) {
        api_error(c, 503, "UNAVAILABLE", "the database is unavailable");
        goto wipe;
    }
    record(c, "login", c->admin);
    set_cookie(c, token);
    session_answer(c, 200, c->admin, token);
wipe:
    OPENSSL_cleanse(token, sizeof(token));
out:
    form_deinit(&f);
}

/* The live session of the request's cookie, with c->admin set; otherwise answers 401
 * (and expires a cookie that names no live session) or 503 and returns false. */
static bool live_session(struct api_call *c)
{
    const struct config *cfg = c->st->cfg;
    c->browser = true;
    if (!c->session) {
        api_unauthorized(c);
        return false;
    }
    int live = session_lookup(c->db, c->session, cfg->session_idle, cfg->session_max, c->admin,
                              sizeof(c->admin));
    if (live < 0) {
        api_error(c, 503, "UNAVAILABLE", "the database is unavailable");
        return false;
    }
    if (live == 0) {
        c->admin[0] = '\0';
        set_cookie(c, NULL);
        api_unauthorized(c);
        return false;
    }
    return true;
}

static void current(struct api_call *c)
{
    if (c->method != EVHTTP_REQ_GET && c->method != EVHTTP_REQ_HEAD) {
        method_not_allowed(c, "GET, HEAD");
        return;
    }
    if (live_session(c))
        session_answer(c, 200, c->admin, c->session);
}

static void log_out(struct api_call *c)
{
    if (c->method != EVHTTP_REQ_POST) {
        method_not_allowed(c, "POST");
        return;
    }
    if (!live_session(c))
        return;
    if (!session_csrf_check(c->session, c->csrf)) {
        api_error(c, 403, "FORBIDDEN", "CSRF token invalid");
        return;
    }
    if (session_delete(c->db, c->session) < 0) {
        api_error(c, 503, "UNAVAILABLE", "the database is unavailable");
        return;
    }
    record(c, "logout", c->admin);
    set_cookie(c, NULL);
    api_json(c, 200, json_object());
}

void api_session(struct api_call *c, const char *rest)
{
    if (strcmp(rest, "/login") == 0)
        login(c);
    else if (strcmp(rest, "/session") == 0)
        current(c);
    else if (strcmp(rest, "/log_out") == 0)
        log_out(c);
    else
        api_error(c, 404, "NOT_FOUND", "no such endpoint");
}
