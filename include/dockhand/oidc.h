/* Identity tokens (OpenID Connect JWTs of GitHub Actions, GitLab CI, Kubernetes service
 * accounts...) checked against a robot's federation rules (README "Keyless CI"). Pure: the
 * issuer's keys come from oidc_keys.h; this module parses the token, checks its claims
 * against the rules, builds keys from JWKs and verifies signatures. */
#pragma once
#include <jansson.h>
#include <openssl/evp.h>
#include <time.h>

#include "dockhand/common.h"

#define OIDC_TOKEN_MAX 8192    /* bytes of an identity token (longer: not tried as one) */
#define OIDC_RULES_MAX 16      /* rules of a robot looked at (the store allows no more) */
#define OIDC_CLAIMS_MAX 16     /* claim conditions of a rule */
#define OIDC_ISSUER_MAX 512    /* bytes of an issuer URL */
#define OIDC_VALUE_MAX 1024    /* bytes of a subject, a claim's name, value or pattern */
#define OIDC_LEEWAY 60         /* seconds of clock skew allowed on exp, nbf, iat */
#define OIDC_KEYS_MAX 32       /* keys of one JWKS used (the rest ignored) */
#define OIDC_KID_MAX 256       /* bytes of a kid */
#define OIDC_RSA_MIN_BITS 2048 /* smaller RSA keys are refused */

/* A token split and decoded, its signature not checked yet. */
struct oidc_token {
    json_t *header;
    json_t *claims;
    const char *alg; /* RS256, RS384, RS512, PS256, PS384, PS512, ES256 or ES384 */
    const char *kid; /* "" when the header has none */
    const char *iss;
    char *signing_input; /* header "." payload */
    size_t signing_len;
    unsigned char *sig;
    size_t sig_len;
};

/* Who logged in: filled by oidc_match. */
struct oidc_identity {
    char *issuer;
    char *subject;
    json_t *claims; /* the claims the rule named, with the token's values */
    int64_t exp;
    int rule; /* index of the rule that matched */
};

/* True when s has the shape of a JWS in compact form: three base64url parts (the last may
 * be empty), the first starting with "eyJ" ('{"'), at most OIDC_TOKEN_MAX bytes. Says
 * nothing of validity. */
bool oidc_looks_like_jwt(const char *s, size_t len);

/* Splits and decodes tok. Refuses (DH_ERR_INVALID) anything but an accepted alg (never
 * "none" or an HMAC), a crit header, a typ other than JWT, a missing or non-string iss,
 * duplicate members. Returns 0, DH_ERR_INVALID or DH_ERR_NOMEM. */
int oidc_parse(const char *tok, size_t len, struct oidc_token *t) DH_MUST_CHECK;
void oidc_token_deinit(struct oidc_token *t);

/* True when one of rules (the lookup's JSON array [{issuer, audience, subject, claims}])
 * names t's issuer: only then is the token worth its issuer's keys. */
bool oidc_rules_name_issuer(json_t *rules, const char *iss);

/* Checks t's claims against each rule of rules in order (the signature is checked apart):
 * iss equal to the rule's issuer, aud (string or array) holding the rule's audience (null:
 * service), exp/nbf/iat within OIDC_LEEWAY of now, iat at most max_age seconds ago, then
 * subject and claim patterns ('*' matches any run of characters; a claim that is not a
 * string is compared by its compact JSON text; a claim name starting with '/' is a JSON
 * pointer, e.g. /kubernetes.io/namespace). Returns the index of the first rule that
 * matches with *id filled (oidc_identity_deinit), DH_ERR_NOTFOUND with why (a static
 * text naming the first failed check of the closest rule), or DH_ERR_NOMEM. */
int oidc_match(const struct oidc_token *t, json_t *rules, const char *service, time_t now,
               int max_age, struct oidc_identity *id, const char **why) DH_MUST_CHECK;
void oidc_identity_deinit(struct oidc_identity *id);

/* '*' glob: every '*' matches any run of characters (empty too), the rest is literal. */
bool oidc_pattern_match(const char *pattern, const char *s);

/* A public key from one JWK object (kty RSA with n, e; kty EC with crv P-256 or P-384, x,
 * y). A "use" other than "sig" and RSA keys under OIDC_RSA_MIN_BITS are refused. Returns
 * the key (EVP_PKEY_free) or NULL. */
EVP_PKEY *oidc_jwk_key(json_t *jwk);

/* Verifies t's signature with key: the alg must suit the key (RS and PS: RSA; ES256:
 * P-256; ES384: P-384) and, when the JWK named one (jwk_alg not NULL), equal it. Returns 0
 * or DH_ERR_INVALID. */
int oidc_verify_signature(const struct oidc_token *t, EVP_PKEY *key,
                          const char *jwk_alg) DH_MUST_CHECK;
