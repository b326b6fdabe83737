/* The credentials of a token request, parsed: a login name and secret (the Basic header of
 * a GET, or a POST's password grant) or a refresh token (a POST's refresh_token grant, or
 * containerd's Basic fallback). Knows no HTTP request; the realm maps the errors to replies. */
#pragma once
#include <time.h>

#include "dockhand/common.h"
#include "dockhand/names.h"
#include "dockhand/token.h"

struct realm_creds {
    /* password credentials */
    char *login;
    char *secret; /* NUL-terminated, secret_len bytes */
    size_t secret_len;
    /* refresh-token credentials */
    char *refresh_token;
    int64_t refresh_robot;
    int refresh_version;
    /* the rate limiter's account: "a:<login>", "r:<robot id>", or "r:invalid" */
    char account_key[LOGIN_MAX_LEN + 32];
};

/* Wipes the secret and refresh token and frees everything; c is zeroed afterwards.
 * Accepts a zeroed c. */
void realm_creds_deinit(struct realm_creds *c);

/* Takes a login name and secret (length-delimited). Empty ones are accepted: they are
 * wrong credentials (401 after the usual lookup), not malformed requests. Returns 0,
 * DH_ERR_INVALID (a name over LOGIN_MAX_LEN, not UTF-8 or with control characters; a
 * secret over SECRET_MAX_LEN that is not shaped like an identity token (oidc.h), or one
 * holding a NUL) or DH_ERR_NOMEM. */
int realm_creds_password(struct realm_creds *c, const char *user, size_t ulen, const char *pass,
                         size_t plen) DH_MUST_CHECK;

/* Takes a refresh token after token_refresh_parse accepts it (signed by ring, for is, not
 * expired at now). Returns 0, DH_ERR_INVALID (account_key then "r:invalid") or
 * DH_ERR_NOMEM. */
int realm_creds_refresh(struct realm_creds *c, const struct token_issuer *is,
                        const struct keyring *ring, const char *tok, time_t now) DH_MUST_CHECK;

/* Takes an Authorization header value: Basic with a login name and secret, or with a
 * refresh token as the password (containerd). Returns 0, DH_ERR_NOTFOUND when the scheme
 * is not Basic (answer with the challenge), DH_ERR_INVALID, or DH_ERR_NOMEM. */
int realm_creds_basic(struct realm_creds *c, const struct token_issuer *is,
                      const struct keyring *ring, const char *header, time_t now) DH_MUST_CHECK;
