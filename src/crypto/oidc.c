#include "dockhand/oidc.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "dockhand/encoding.h"
#include "dockhand/jwt.h"

#define OIDC_SIG_MAX 1024 /* bytes of a signature (RSA 8192) */

static const char *const accepted_algs[] = {"RS256", "RS384", "RS512", "PS256",
                                            "PS384", "PS512", "ES256", "ES384"};

static bool b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

bool oidc_looks_like_jwt(const char *s, size_t len)
{
    int dots = 0;
    size_t part = 0;
    if (len < 10 || len > OIDC_TOKEN_MAX || strncmp(s, "eyJ", 3) != 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (part == 0 || ++dots > 2)
                return false;
            part = 0;
        } else if (!b64url_char(s[i])) {
            return false;
        } else {
            part++;
        }
    }
    return dots == 2; /* an empty signature too (alg none): refused later, as a bad login */
}

void oidc_token_deinit(struct oidc_token *t)
{
    json_decref(t->header);
    json_decref(t->claims);
    free(t->signing_input);
    free(t->sig);
    memset(t, 0, sizeof(*t));
}

int oidc_parse(const char *tok, size_t len, struct oidc_token *t)
{
    memset(t, 0, sizeof(*t));
    if (!oidc_looks_like_jwt(tok, len))
        return DH_ERR_INVALID;
    const char *dot1 = memchr(tok, '.', len);
    const char *dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - tok));
    const char *sig64 = dot2 + 1;
    size_t sig64_len = len - (size_t)(sig64 - tok);
    if (sig64_len > B64_ENCODED_CAP(OIDC_SIG_MAX))
        return DH_ERR_INVALID;
    t->header = jwt_segment_object(tok, (size_t)(dot1 - tok));
    t->claims = jwt_segment_object(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (!t->header || !t->claims)
        goto bad;
    json_t *alg = json_object_get(t->header, "alg");
    json_t *kid = json_object_get(t->header, "kid");
    json_t *typ = json_object_get(t->header, "typ");
    json_t *iss = json_object_get(t->claims, "iss");
    if (!json_is_string(alg) || (kid && !json_is_string(kid)) || !json_is_string(iss))
        goto bad;
    if (typ && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") != 0))
        goto bad;
    if (json_object_get(t->header, "crit"))
        goto bad; /* no extension is understood (RFC 7515 §4.1.11) */
    t->alg = NULL;
    for (size_t i = 0; i < DH_ARRAY_SIZE(accepted_algs); i++)
        if (strcmp(json_string_value(alg), accepted_algs[i]) == 0)
            t->alg = accepted_algs[i];
    if (!t->alg)
        goto bad;
    t->kid = kid ? json_string_value(kid) : "";
    t->iss = json_string_value(iss);
    if (strlen(t->kid) > OIDC_KID_MAX || strlen(t->iss) > OIDC_ISSUER_MAX)
        goto bad;
    t->signing_len = (size_t)(dot2 - tok);
    t->signing_input = malloc(t->signing_len + 1);
    t->sig = malloc(B64_DECODED_CAP(sig64_len));
    if (!t->signing_input || !t->sig) {
        oidc_token_deinit(t);
        return DH_ERR_NOMEM;
    }
    memcpy(t->signing_input, tok, t->signing_len);
    t->signing_input[t->signing_len] = '\0';
    if (b64url_decode(sig64, sig64_len, t->sig, &t->sig_len) < 0 || t->sig_len == 0)
        goto bad;
    return 0;
bad:
    oidc_token_deinit(t);
    return DH_ERR_INVALID;
}

bool oidc_pattern_match(const char *p, const char *s)
{
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*p == '*') {
            star = p++;
            resume = s;
        } else if (*p && *p == *s) {
            p++;
            s++;
        } else if (star) {
            p = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

bool oidc_rules_name_issuer(json_t *rules, const char *iss)
{
    size_t i;
    json_t *rule;
    if (!json_is_array(rules))
        return false;
    json_array_foreach(rules, i, rule)
    {
        if (i >= OIDC_RULES_MAX)
            break;
        const char *ri = json_string_value(json_object_get(rule, "issuer"));
        if (ri && strcmp(ri, iss) == 0)
            return true;
    }
    return false;
}

/* A claim by name, or by JSON pointer when the name starts with '/'. */
static json_t *claim_get(json_t *claims, const char *name)
{
    if (name[0] != '/')
        return json_object_get(claims, name);
    json_t *v = claims;
    char seg[OIDC_VALUE_MAX + 1];
    const char *p = name;
    while (*p == '/' && v) {
        size_t n = 0;
        p++;
        while (*p && *p != '/' && n < OIDC_VALUE_MAX) {
            if (p[0] == '~' && p[1] == '1') {
                seg[n++] = '/';
                p += 2;
            } else if (p[0] == '~' && p[1] == '0') {
                seg[n++] = '~';
                p += 2;
            } else {
                seg[n++] = *p++;
            }
        }
        seg[n] = '\0';
        if (json_is_object(v))
            v = json_object_get(v, seg);
        else
            return NULL;
    }
    return *p ? NULL : v;
}

/* The text a pattern is matched against: a string itself, anything else its compact JSON
 * (true, 42, ["a","b"]). NULL for none. Caller frees. */
static char *claim_text(json_t *v)
{
    if (!v)
        return NULL;
    if (json_is_string(v))
        return strdup(json_string_value(v));
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
}

static bool aud_holds(json_t *aud, const char *want)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    if (!json_is_array(aud))
        return false;
    size_t i;
    json_t *a;
    json_array_foreach(aud, i, a) if (json_is_string(a) &&
                                      strcmp(json_string_value(a), want) == 0) return true;
    return false;
}

static bool time_claim(json_t *claims, const char *name, int64_t *out)
{
    json_t *v = json_object_get(claims, name);
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_real(v) && json_real_value(v) > -1e15 && json_real_value(v) < 1e15) {
        *out = (int64_t)json_real_value(v);
        return true;
    }
    return false;
}

/* The token's times against now; NULL when fine, else why not. */
static const char *check_times(json_t *claims, time_t now, int max_age, int64_t *exp)
{
    int64_t nbf, iat;
    if (!time_claim(claims, "exp", exp))
        return "no exp";
    if (now >= *exp + OIDC_LEEWAY)
        return "expired";
    if (json_object_get(claims, "nbf")) {
        if (!time_claim(claims, "nbf", &nbf))
            return "bad nbf";
        if (nbf > now + OIDC_LEEWAY)
            return "not yet valid (nbf)";
    }
    if (!time_claim(claims, "iat", &iat))
        return "no iat";
    if (iat > now + OIDC_LEEWAY)
        return "issued in the future (iat)";
    if (now - iat > (int64_t)max_age + OIDC_LEEWAY)
        return "too old (iat before the maximum age)";
    return NULL;
}

/* One rule against the claims; NULL when it matches (used filled), else why not. */
static const char *rule_check(json_t *rule, json_t *claims, const char *service, json_t *used)
{
    const char *issuer = json_string_value(json_object_get(rule, "issuer"));
    json_t *aud_rule = json_object_get(rule, "audience");
    const char *subject = json_string_value(json_object_get(rule, "subject"));
    json_t *conds = json_object_get(rule, "claims");
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    if (!issuer || !subject || (aud_rule && !json_is_null(aud_rule) && !json_is_string(aud_rule)))
        return "malformed rule";
    if (!iss || strcmp(iss, issuer) != 0)
        return "another issuer";
    const char *want = json_is_string(aud_rule) ? json_string_value(aud_rule) : service;
    if (!aud_holds(json_object_get(claims, "aud"), want))
        return "another audience";
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    if (!sub || strlen(sub) > OIDC_VALUE_MAX || !oidc_pattern_match(subject, sub))
        return "subject does not match";
    if (conds && !json_is_null(conds) && !json_is_object(conds))
        return "malformed rule";
    if (json_object_size(conds) > OIDC_CLAIMS_MAX)
        return "too many claim conditions";
    const char *name;
    json_t *pat;
    json_object_foreach(conds, name, pat)
    {
        if (!json_is_string(pat))
            return "malformed rule";
        char *text = claim_text(claim_get(claims, name));
        bool ok = text && strlen(text) <= OIDC_VALUE_MAX &&
                  oidc_pattern_match(json_string_value(pat), text);
        if (ok)
            json_object_set_new(used, name, json_string(text));
        free(text);
        if (!ok)
            return "a claim does not match";
    }
    return NULL;
}

void oidc_identity_deinit(struct oidc_identity *id)
{
    free(id->issuer);
    free(id->subject);
    json_decref(id->claims);
    memset(id, 0, sizeof(*id));
}

int oidc_match(const struct oidc_token *t, json_t *rules, const char *service, time_t now,
               int max_age, struct oidc_identity *id, const char **why)
{
    int64_t exp = 0;
    memset(id, 0, sizeof(*id));
    *why = check_times(t->claims, now, max_age, &exp);
    if (*why)
        return DH_ERR_NOTFOUND;
    *why = "no rule for this issuer";
    size_t i;
    json_t *rule;
    json_array_foreach(rules, i, rule)
    {
        if (i >= OIDC_RULES_MAX)
            break;
        json_t *used = json_object();
        if (!used)
            return DH_ERR_NOMEM;
        const char *w = rule_check(rule, t->claims, service, used);
        if (!w) {
            id->issuer = strdup(t->iss);
            id->subject = strdup(json_string_value(json_object_get(t->claims, "sub")));
            id->claims = used;
            id->exp = exp;
            id->rule = (int)i;
            if (!id->issuer || !id->subject) {
                oidc_identity_deinit(id);
                return DH_ERR_NOMEM;
            }
            *why = NULL;
            return (int)i;
        }
        json_decref(used);
        if (strcmp(w, "another issuer") != 0) /* the closest rule: one of its issuer */
            *why = w;
    }
    return DH_ERR_NOTFOUND;
}

static BIGNUM *b64_bn(json_t *v, size_t max)
{
    const char *s = json_string_value(v);
    if (!s || !*s || strlen(s) > B64_ENCODED_CAP(max))
        return NULL;
    size_t len = strlen(s), n;
    unsigned char *buf = malloc(B64_DECODED_CAP(len));
    BIGNUM *bn = NULL;
    if (buf && b64url_decode(s, len, buf, &n) == 0 && n > 0)
        bn = BN_bin2bn(buf, (int)n, NULL);
    free(buf);
    return bn;
}

static EVP_PKEY *rsa_key(json_t *jwk)
{
    BIGNUM *n = b64_bn(json_object_get(jwk, "n"), 1024), *e = b64_bn(json_object_get(jwk, "e"), 8);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *key = NULL;
    if (!n || !e || !bld || BN_num_bits(n) < OIDC_RSA_MIN_BITS ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
        !(params = OSSL_PARAM_BLD_to_param(bld)) ||
        !(ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) ||
        EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
        key = NULL;
    BN_free(n);
    BN_free(e);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    return key;
}

static EVP_PKEY *ec_key(json_t *jwk)
{
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    const char *group;
    size_t width;
    if (crv && strcmp(crv, "P-256") == 0) {
        group = "prime256v1";
        width = 32;
    } else if (crv && strcmp(crv, "P-384") == 0) {
        group = "secp384r1";
        width = 48;
    } else {
        return NULL;
    }
    const char *x = json_string_value(json_object_get(jwk, "x"));
    const char *y = json_string_value(json_object_get(jwk, "y"));
    unsigned char pub[1 + 2 * 48], xb[B64_DECODED_CAP(64)], yb[B64_DECODED_CAP(64)];
    size_t xn, yn;
    if (!x || !y || strlen(x) > 64 || strlen(y) > 64 || b64url_decode(x, strlen(x), xb, &xn) < 0 ||
        b64url_decode(y, strlen(y), yb, &yn) < 0 || xn != width || yn != width)
        return NULL;
    pub[0] = 0x04;
    memcpy(pub + 1, xb, width);
    memcpy(pub + 1 + width, yb, width);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, 1 + 2 * width),
        OSSL_PARAM_construct_end()};
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY *key = NULL;
    if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
        key = NULL;
    EVP_PKEY_CTX_free(ctx);
    if (key) { /* the point must be on the curve */
        EVP_PKEY_CTX *chk = EVP_PKEY_CTX_new(key, NULL);
        if (!chk || EVP_PKEY_public_check(chk) != 1) {
            EVP_PKEY_free(key);
            key = NULL;
        }
        EVP_PKEY_CTX_free(chk);
    }
    return key;
}

EVP_PKEY *oidc_jwk_key(json_t *jwk)
{
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    json_t *use = json_object_get(jwk, "use");
    EVP_PKEY *key = NULL;
    if (!kty || (use && (!json_is_string(use) || strcmp(json_string_value(use), "sig") != 0)))
        return NULL;
    if (strcmp(kty, "RSA") == 0)
        key = rsa_key(jwk);
    else if (strcmp(kty, "EC") == 0)
        key = ec_key(jwk);
    ERR_clear_error();
    return key;
}

static const EVP_MD *alg_md(const char *alg)
{
    switch (atoi(alg + 2)) {
    case 256:
        return EVP_sha256();
    case 384:
        return EVP_sha384();
    case 512:
        return EVP_sha512();
    default:
        return NULL;
    }
}

static int raw_to_der(const unsigned char *raw, size_t width, unsigned char **der, size_t *len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, (int)width, NULL), *s = BN_bin2bn(raw + width, (int)width, NULL);
    int n = -1;
    if (sig && r && s && ECDSA_SIG_set0(sig, r, s) == 1) {
        r = s = NULL;
        n = i2d_ECDSA_SIG(sig, der);
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    if (n <= 0)
        return DH_ERR_INVALID;
    *len = (size_t)n;
    return 0;
}

int oidc_verify_signature(const struct oidc_token *t, EVP_PKEY *key, const char *jwk_alg)
{
    const EVP_MD *md = alg_md(t->alg);
    unsigned char *der = NULL;
    size_t der_len = 0;
    EVP_MD_CTX *ctx = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    int r = DH_ERR_INVALID;

    if (!md || !key || (jwk_alg && strcmp(jwk_alg, t->alg) != 0))
        return DH_ERR_INVALID;
    if (t->alg[0] == 'E') {
        size_t width = strcmp(t->alg, "ES256") == 0 ? 32 : 48;
        if (!EVP_PKEY_is_a(key, "EC") || EVP_PKEY_get_bits(key) != (int)width * 8 ||
            t->sig_len != 2 * width || raw_to_der(t->sig, width, &der, &der_len) < 0)
            goto out;
    } else if (!EVP_PKEY_is_a(key, "RSA") || t->sig_len != (size_t)EVP_PKEY_get_size(key)) {
        goto out;
    }
    ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestVerifyInit(ctx, &pctx, md, NULL, key) != 1)
        goto out;
    if (t->alg[0] == 'P' && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
        goto out;
    if (EVP_DigestVerify(ctx, der ? der : t->sig, der ? der_len : t->sig_len,
                         (const unsigned char *)t->signing_input, t->signing_len) == 1)
        r = 0;
out:
    OPENSSL_free(der);
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return r;
}
