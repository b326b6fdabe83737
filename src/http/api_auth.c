/* Who may use the admin API: administrators by HTTP Basic or a web page session; a
 * robot's working credentials get 403 (api_auth.h). */
#include "dockhand/api_auth.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "dockhand/admin.h"
#include "dockhand/credcache.h"
#include "dockhand/db.h"
#include "dockhand/encoding.h"
#include "dockhand/http.h"
#include "dockhand/log.h"
#include "dockhand/lookup.h"
#include "dockhand/names.h"
#include "dockhand/ratelimit.h"
#include "dockhand/secret.h"
#include "dockhand/session.h"

/* Whether user/secret are a working robot's credentials (for 403 instead of 401), r the
 * robot looked up by that login. A refusal costs what any refusal costs
 * (secret_verify_even): robots never use the API, so their names must not stand out. */
static bool robot_authenticates(struct api_call *c, const struct rc_robot *r, const char *user,
                                const char *secret, size_t slen)
{
    bool live = !r->disabled && (r->expires_at == -1 || r->expires_at > time(NULL));
    unsigned char key[CREDCACHE_KEY_LEN];
    credcache_key(user, secret, slen, key);
    return (live && credcache_check(c->st->cc, key, r->id, r->cred_version)) ||
           (secret_verify_even(secret, slen, r->secret_hash, !live) == 1 && live);
}

static enum api_login admin_ok(struct api_call *c, const char *acct, const char *user,
                               const unsigned char key[CREDCACHE_KEY_LEN], int64_t id, int version,
                               int64_t *admin_id)
{
    credcache_put(c->st->admin_cc, key, id, version);
    ratelimit_clear(c->st->rl, acct);
    snprintf(c->admin, sizeof(c->admin), "%s", user);
    *admin_id = id;
    return API_LOGIN_ADMIN;
}

enum api_login api_login_check(struct api_call *c, const char *user, size_t ulen,
                               const char *secret, size_t slen, int64_t *admin_id)
{
    char acct[LOGIN_MAX_LEN + 8], ipkey[80];
    int retry = 0;
    time_t now = time(NULL);
    const struct config *cfg = c->st->cfg;

    if (ulen > LOGIN_MAX_LEN || !utf8_valid(user, ulen) || slen > SECRET_MAX_LEN ||
        memchr(secret, '\0', slen)) {
        api_error(c, 400, "BAD_REQUEST", "malformed credentials");
        return API_LOGIN_ANSWERED;
    }
    snprintf(acct, sizeof(acct), "a:%s", user);
    snprintf(ipkey, sizeof(ipkey), "i:%s", c->client_ip);
    if (ratelimit_blocked(c->st->rl, acct, cfg->fail_limit_account, now, &retry) ||
        ratelimit_blocked(c->st->rl, ipkey, cfg->fail_limit_address, now, &retry)) {
        char rbuf[16];
        snprintf(rbuf, sizeof(rbuf), "%d", retry);
        api_header(c, "Retry-After", rbuf);
        api_error(c, 429, "TOO_MANY_REQUESTS", "too many failed logins; try again later");
        return API_LOGIN_ANSWERED;
    }

    int64_t id = 0;
    char *hash = NULL;
    int version = 0;
    /* Both lookups whatever the name (but for an administrator's cached login, a success),
     * so an administrator, a robot and an unknown name make the same queries; then one
     * secret check, padded when it refuses. */
    struct rc_robot r;
    unsigned char key[CREDCACHE_KEY_LEN];
    credcache_key(user, secret, slen, key);
    int found = admin_lookup(c->db, user, &id, &hash, &version);
    if (found == 1 && credcache_check(c->st->admin_cc, key, id, version)) {
        free(hash);
        return admin_ok(c, acct, user, key, id, version, admin_id);
    }
    int robot = found < 0 ? 0 : lookup_login(c->db, user, &r);
    if (found < 0 || robot < 0) {
        free(hash);
        if (robot == 1)
            rc_robot_deinit(&r);
        api_error(c, 503, "UNAVAILABLE", "the database is unavailable");
        return API_LOGIN_ANSWERED;
    }
    bool robot_ok = !found && robot == 1 && robot_authenticates(c, &r, user, secret, slen);
    if (robot == 1)
        rc_robot_deinit(&r);
    if (found) {
        bool ok = secret_verify_even(secret, slen, hash, false) == 1;
        free(hash);
        if (ok)
            return admin_ok(c, acct, user, key, id, version, admin_id);
    } else if (robot_ok) {
        return API_LOGIN_ROBOT;
    } else if (robot != 1) {
        /* An unknown name: the same cost as every other refusal. */
        if (secret_verify_even(secret, slen, secret_dummy_hash(), true) < 0)
            log_at(LOG_DEBUG, c->rid, "dummy verification failed");
    }
    ratelimit_fail(c->st->rl, acct, now);
    ratelimit_fail(c->st->rl, ipkey, now);
    return API_LOGIN_REFUSED;
}

void api_unauthorized(struct api_call *c)
{
    /* A browser would answer the Basic challenge with its own password dialog: the web
     * page's requests (a session cookie, or a fetch() from a page) get none. */
    if (!c->browser)
        api_header(c, "WWW-Authenticate", "Basic realm=\"dockhand administration\"");
    api_error(c, 401, "UNAUTHORIZED", API_UNAUTHORIZED_MESSAGE);
}

/* A request without Authorization that carries a session cookie: the session's
 * administrator, and for anything but GET/HEAD the session's CSRF token. */
static int api_authenticate_session(struct api_call *c)
{
    const struct config *cfg = c->st->cfg;
    int live = session_lookup(c->db, c->session, cfg->session_idle, cfg->session_max, c->admin,
                              sizeof(c->admin));
    if (live < 0) {
        api_error(c, 503, "UNAVAILABLE", "the database is unavailable");
        return -1;
    }
    if (live == 0) {
        c->admin[0] = '\0';
        api_unauthorized(c);
        return -1;
    }
    if (c->method != EVHTTP_REQ_GET && c->method != EVHTTP_REQ_HEAD &&
        !session_csrf_check(c->session, c->csrf)) {
        api_error(c, 403, "FORBIDDEN", "CSRF token invalid");
        return -1;
    }
    return 0;
}

/* 0 when an administrator authenticated (c->admin set); otherwise the reply is set.
 * HTTP Basic wins over a session cookie when both are present. */
int api_authenticate(struct api_call *c)
{
    char *buf = NULL;
    size_t ulen = 0, slen = 0;
    const char *secret = NULL;
    int64_t id = 0;
    int rc = -1;

    if (!c->authorization && c->session)
        return api_authenticate_session(c);
    if (!c->authorization) {
        api_unauthorized(c);
        return -1;
    }
    switch (basic_decode(c->authorization, &buf, &ulen, &secret, &slen)) {
    case 0:
        break;
    case DH_ERR_NOMEM:
        api_error(c, 500, "INTERNAL", "out of memory");
        return -1;
    case DH_ERR_NOTFOUND:
        api_unauthorized(c);
        return -1;
    default:
        api_error(c, 400, "BAD_REQUEST", "malformed Authorization header");
        return -1;
    }
    switch (api_login_check(c, buf, ulen, secret, slen, &id)) {
    case API_LOGIN_ADMIN:
        rc = 0;
        break;
    case API_LOGIN_ROBOT:
        api_error(c, 403, "FORBIDDEN", "robot accounts cannot use the administration API");
        break;
    case API_LOGIN_REFUSED:
        api_unauthorized(c);
        break;
    case API_LOGIN_ANSWERED:
        break;
    }
    OPENSSL_cleanse(buf, ulen + 1 + slen);
    free(buf);
    return rc;
}
