/* Token assembly: the registry access token (claims and JWS), the token answer's JSON with
 * its "scope" field, and the refresh token (made and checked). Pure: the caller brings the
 * robot's facts, the granted scopes, the key and the time; nothing here knows HTTP or SQL. */
#pragma once
#include <time.h>

#include "dockhand/common.h"
#include "dockhand/jsonw.h"
#include "dockhand/keys.h"
#include "dockhand/scope.h"

/* The answer's "scope" field: every scope of a full request at its longest, space-joined
 * ("type(class):name:pull,push,delete,*"), so no granted scope is ever left out. */
#define TOKEN_SCOPE_FIELD_MAX (SCOPE_MAX_ITEMS * (2 * SCOPE_MAX_TYPE + SCOPE_MAX_NAME + 32))
#define TOKEN_DEFAULT_MINUTES 30 /* when the robot's project sets no token lifetime */
#define TOKEN_MIN_LIFETIME 1     /* seconds: a token is never issued already expired */

/* Who signs and for whom: "iss", "aud" and the signing key (keyring_load's, not owned). */
struct token_issuer {
    const struct sign_key *key;
    const char *issuer;
    const char *service;
};

/* The robot a refresh token is for. */
struct token_robot {
    const char *name; /* full name, the token's "sub" */
    int64_t id;
    int cred_version;   /* a new secret makes older refresh tokens invalid */
    int64_t expires_at; /* unix seconds; -1: never */
};

/* An assembled access token. Embedded (token_init/token_deinit); large because the scope
 * field is a fixed buffer (no allocation for it on the token path). */
struct token {
    char *jwt;                         /* the signed token, owned */
    char jti[32];                      /* 128 random bits, base64url (22 characters) */
    int64_t iat, exp, lifetime;        /* exp = iat + lifetime */
    struct jsonw access;               /* the "access" claim's text, for the audit record */
    struct jsonw claims;               /* the claims the JWT signs */
    char scope[TOKEN_SCOPE_FIELD_MAX]; /* granted scopes space-joined; "" when none */
};

/* Makes tok empty, ready for token_build; cheap (the scope buffer is not cleared). */
void token_init(struct token *tok);
/* Frees what token_build made; accepts a token that was only initialised. */
void token_deinit(struct token *tok);

/* Seconds a token lives: the project's token_minutes (TOKEN_DEFAULT_MINUTES when ≤ 0),
 * cut to the robot's expiry (robot_expires_at, -1: never; anonymous callers pass -1), and
 * at least TOKEN_MIN_LIFETIME. */
int64_t token_lifetime(int token_minutes, int64_t robot_expires_at, time_t now);

/* Assembles and signs an access token into tok (initialised, not yet built): claims
 * {iss, sub, aud, exp, nbf, iat, jti, access} with exp = now + lifetime, access holding one
 * entry {type, name, actions[, class]} per item of scopes in order with the actions of its
 * `granted` bits (none granted: an empty actions array), and tok->scope listing the granted
 * items. sub is the robot's full name ("" for anonymous). On failure tok holds nothing to
 * use but still needs token_deinit. Returns 0, DH_ERR_INVALID when the claims could not be
 * written (a string that is not UTF-8, or memory ran out), DH_ERR_NOMEM or DH_ERR_CRYPTO
 * from signing. */
int token_build(struct token *tok, const struct token_issuer *is, const char *sub,
                const struct scope_list *scopes, int64_t lifetime, time_t now) DH_MUST_CHECK;

/* Writes the token answer {token, access_token, expires_in, issued_at[, scope]
 * [, refresh_token]} into body (initialised); the scope field only when with_scope (the
 * POST answer), refresh_token only when refresh is non-NULL; tok was built by token_build
 * (whose strings were checked), so only memory can fail: returns 0 or DH_ERR_NOMEM. A body
 * that held a refresh token should be wiped before it is freed. */
int token_answer(const struct token *tok, bool with_scope, const char *refresh,
                 struct jsonw *body) DH_MUST_CHECK;

/* The access log's note for a built token, "token for <who> granted <scope field or ->",
 * cut to fit cap bytes (NUL included, cap ≥ 1). Returns its length. */
size_t token_note(const struct token *tok, const char *who, char *out, size_t cap);

/* A new refresh token for robot: claims {iss, sub, aud, iat, jti, typ:"refresh", rid, ver
 * [, exp: the robot's expiry]}, signed with is->key. *out is heap-allocated (the caller
 * wipes and frees it). Returns 0, DH_ERR_NOMEM or DH_ERR_CRYPTO. */
int token_refresh_new(const struct token_issuer *is, const struct token_robot *robot, time_t now,
                      char **out) DH_MUST_CHECK;

/* Checks a refresh token: signed by a key of ring, typ "refresh", iss and aud those of is,
 * integer rid and ver, and exp (when present) after now. Fills *robot_id and *cred_version.
 * Returns 0, or DH_ERR_INVALID for anything else (is->key is not used). */
int token_refresh_parse(const struct token_issuer *is, const struct keyring *ring, const char *tok,
                        size_t len, time_t now, int64_t *robot_id, int *cred_version) DH_MUST_CHECK;
