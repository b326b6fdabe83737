/* Unit tests for src/session.c (cookie parsing, tokens, CSRF derivation, Set-Cookie)
 * and src/web.c (embedded file lookup, If-None-Match). Vectors from Python's hashlib
 * and hmac. */
#include "check.h"

#include "dockhand/session.h"
#include "dockhand/web.h"

#define TOKEN "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"

static void test_cookie_get(void)
{
    char v[64];

    CHECK(session_cookie_get("dockhand_session=abc", "dockhand_session", v, sizeof(v)) == 0);
    CHECK_STR(v, "abc");
    CHECK(session_cookie_get("a=1; dockhand_session=xyz; b=2", "dockhand_session", v, sizeof(v)) ==
          0);
    CHECK_STR(v, "xyz");
    CHECK(session_cookie_get("a=1;dockhand_session=q;b=2", "dockhand_session", v, sizeof(v)) == 0);
    CHECK_STR(v, "q");
    CHECK(session_cookie_get("dockhand_session=\"quoted\"", "dockhand_session", v, sizeof(v)) == 0);
    CHECK_STR(v, "quoted");
    CHECK(session_cookie_get(" dockhand_session = spaced ; z=1", "dockhand_session", v,
                             sizeof(v)) == 0);
    CHECK_STR(v, "spaced");
    /* the first occurrence wins */
    CHECK(session_cookie_get("dockhand_session=one; dockhand_session=two", "dockhand_session", v,
                             sizeof(v)) == 0);
    CHECK_STR(v, "one");
    CHECK(session_cookie_get("dockhand_session=", "dockhand_session", v, sizeof(v)) == 0);
    CHECK_STR(v, "");
    /* names must match exactly */
    CHECK(session_cookie_get("xdockhand_session=a; dockhand_sessionx=b", "dockhand_session", v,
                             sizeof(v)) == DH_ERR_NOTFOUND);
    CHECK(session_cookie_get("Dockhand_Session=a", "dockhand_session", v, sizeof(v)) ==
          DH_ERR_NOTFOUND);
    CHECK(session_cookie_get("dockhand_session", "dockhand_session", v, sizeof(v)) ==
          DH_ERR_NOTFOUND);
    CHECK(session_cookie_get("", "dockhand_session", v, sizeof(v)) == DH_ERR_NOTFOUND);
    CHECK(session_cookie_get(";;;", "dockhand_session", v, sizeof(v)) == DH_ERR_NOTFOUND);
    CHECK(session_cookie_get(NULL, "dockhand_session", v, sizeof(v)) == DH_ERR_NOTFOUND);
    /* too long for the buffer: refused, not cut */
    CHECK(session_cookie_get("dockhand_session=0123456789", "dockhand_session", v, 10) ==
          DH_ERR_TOOBIG);
    CHECK(session_cookie_get("dockhand_session=012345678", "dockhand_session", v, 10) == 0);
    CHECK_STR(v, "012345678");

    char *big = malloc(SESSION_COOKIE_MAX + 32);
    memset(big, 'a', SESSION_COOKIE_MAX + 31);
    memcpy(big, "dockhand_session=x;", 19);
    big[SESSION_COOKIE_MAX + 31] = '\0';
    CHECK(session_cookie_get(big, "dockhand_session", v, sizeof(v)) == DH_ERR_TOOBIG);
    free(big);
}

static void test_tokens(void)
{
    char a[SESSION_TOKEN_LEN + 1], b[SESSION_TOKEN_LEN + 1], h[SESSION_HASH_LEN + 1];

    CHECK(session_token_new(a) == 0);
    CHECK(session_token_new(b) == 0);
    CHECK(strlen(a) == SESSION_TOKEN_LEN);
    CHECK(strcmp(a, b) != 0);
    CHECK(session_token_wellformed(a));
    CHECK(session_token_wellformed(TOKEN));
    CHECK(!session_token_wellformed(NULL));
    CHECK(!session_token_wellformed(""));
    CHECK(!session_token_wellformed(TOKEN "A"));
    CHECK(!session_token_wellformed("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"));
    CHECK(!session_token_wellformed("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP="));
    CHECK(!session_token_wellformed("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP+"));
    CHECK(!session_token_wellformed("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNO%P"));

    session_token_hash(TOKEN, h);
    CHECK_STR(h, "46a2199782c8827f0ac56f503be9d39efee97f40a736b92cc7d7c5f825cfd851");
}

static void test_csrf(void)
{
    char c[SESSION_CSRF_LEN + 1], other[SESSION_TOKEN_LEN + 1], oc[SESSION_CSRF_LEN + 1];

    session_csrf(TOKEN, c);
    CHECK_STR(c, "OUhjoE0sPtcEIERPwisYg2GzdofDQVmCX1kl0Nlc1hY");
    CHECK(session_csrf_check(TOKEN, "OUhjoE0sPtcEIERPwisYg2GzdofDQVmCX1kl0Nlc1hY"));
    CHECK(!session_csrf_check(TOKEN, "OUhjoE0sPtcEIERPwisYg2GzdofDQVmCX1kl0Nlc1hZ"));
    CHECK(!session_csrf_check(TOKEN, "OUhjoE0sPtcEIERPwisYg2GzdofDQVmCX1kl0Nlc1h"));
    CHECK(!session_csrf_check(TOKEN, "OUhjoE0sPtcEIERPwisYg2GzdofDQVmCX1kl0Nlc1hYY"));
    CHECK(!session_csrf_check(TOKEN, ""));
    CHECK(!session_csrf_check(TOKEN, NULL));
    CHECK(!session_csrf_check(TOKEN, TOKEN));
    CHECK(session_token_new(other) == 0);
    session_csrf(other, oc);
    CHECK(strcmp(c, oc) != 0);
    CHECK(!session_csrf_check(other, c));
}

static void test_set_cookie(void)
{
    char v[SESSION_SET_COOKIE_MAX];

    session_set_cookie(v, TOKEN, false);
    CHECK_STR(v, "dockhand_session=" TOKEN "; Path=/; HttpOnly; SameSite=Strict");
    session_set_cookie(v, TOKEN, true);
    CHECK_STR(v, "dockhand_session=" TOKEN "; Path=/; HttpOnly; SameSite=Strict; Secure");
    session_set_cookie(v, NULL, false);
    CHECK_STR(v, "dockhand_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; "
                 "Expires=Thu, 01 Jan 1970 00:00:00 GMT");
}

static void test_asset_find(void)
{
    const struct web_asset *a = web_asset_find("app.js");

    CHECK(a != NULL);
    CHECK(a && strcmp(a->content_type, "text/javascript; charset=utf-8") == 0);
    CHECK(a && a->len > 0 && a->data[a->len] == '\0');
    CHECK(a && strlen(a->etag) == 66 && a->etag[0] == '"' && a->etag[65] == '"');
    a = web_asset_find("index.html");
    CHECK(a && strcmp(a->content_type, "text/html; charset=utf-8") == 0);
    a = web_asset_find("style.css");
    CHECK(a && strcmp(a->content_type, "text/css; charset=utf-8") == 0);
    CHECK(web_asset_find("") == NULL);
    CHECK(web_asset_find(NULL) == NULL);
    CHECK(web_asset_find("nothing.js") == NULL);
    CHECK(web_asset_find("/app.js") == NULL);
    CHECK(web_asset_find("./app.js") == NULL);
    CHECK(web_asset_find("../app.js") == NULL);
    CHECK(web_asset_find("x/../app.js") == NULL);
    CHECK(web_asset_find("app.js/") == NULL);
    CHECK(web_asset_find("%61pp.js") == NULL);
    CHECK(web_asset_find("..\\app.js") == NULL);
    CHECK(web_asset_find("APP.JS") == NULL);
    for (const struct web_asset *w = web_assets; w->path; w++)
        CHECK(web_asset_find(w->path) == w);
}

static void test_etag(void)
{
    const char *e = "\"abc\"";

    CHECK(web_etag_matches("\"abc\"", e));
    CHECK(web_etag_matches("W/\"abc\"", e));
    CHECK(web_etag_matches("\"x\", \"abc\"", e));
    CHECK(web_etag_matches("\"x\",W/\"abc\"", e));
    CHECK(web_etag_matches("*", e));
    CHECK(!web_etag_matches(NULL, e));
    CHECK(!web_etag_matches("", e));
    CHECK(!web_etag_matches("\"abcd\"", e));
    CHECK(!web_etag_matches("\"ab\"", e));
    CHECK(!web_etag_matches("abc", e));
    CHECK(!web_etag_matches("\"abc", e));
    CHECK(!web_etag_matches("\"x\", abc", e));
}

int main(void)
{
    test_cookie_get();
    test_tokens();
    test_csrf();
    test_set_cookie();
    test_asset_find();
    test_etag();
    return check_done();
}
