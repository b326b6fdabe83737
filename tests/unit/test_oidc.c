/* Unit tests for src/crypto/oidc.c: token shape and parsing, rules (times, audience,
 * subject and claim patterns), JWKs to keys, signatures; and oidc_keys.c's URL checks. */
#include "check.h"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "dockhand/encoding.h"
#include "dockhand/oidc.h"
#include "dockhand/oidc_keys.h"

#define NOW ((time_t)1700000000)

static char *b64j(const char *json)
{
    char *out = malloc(B64_ENCODED_CAP(strlen(json)));
    b64url_encode(json, strlen(json), out);
    return out;
}

/* header.claims.sig with sig = sigb64 (already encoded) */
static char *token(const char *header, const char *claims, const char *sigb64)
{
    char *h = b64j(header), *c = b64j(claims);
    size_t n = strlen(h) + strlen(c) + strlen(sigb64) + 3;
    char *t = malloc(n);
    snprintf(t, n, "%s.%s.%s", h, c, sigb64);
    free(h);
    free(c);
    return t;
}

static void test_shape(void)
{
    CHECK(oidc_pattern_match("repo:org/*:ref:refs/heads/main", "repo:org/app:ref:refs/heads/main"));
    CHECK(!oidc_pattern_match("repo:org/*:ref:refs/heads/main", "repo:org/app:ref:refs/heads/dev"));
    CHECK(oidc_pattern_match("*", ""));
    CHECK(oidc_pattern_match("a*b*c", "aXXbYYc"));
    CHECK(!oidc_pattern_match("a*b*c", "aXXbYYcd"));
    CHECK(oidc_pattern_match("exact", "exact"));
    CHECK(!oidc_pattern_match("exact", "exactly"));
    CHECK(!oidc_pattern_match("", "x"));

    CHECK(oidc_looks_like_jwt("eyJhbGciOi.eyJzdWIi.c2ln", strlen("eyJhbGciOi.eyJzdWIi.c2ln")));
    CHECK(oidc_looks_like_jwt("eyJhbGciOi.eyJzdWIi.",
                              strlen("eyJhbGciOi.eyJzdWIi."))); /* alg none: refused later */
    CHECK(!oidc_looks_like_jwt("eyJhbGciOi..c2ln", strlen("eyJhbGciOi..c2ln")));
    CHECK(!oidc_looks_like_jwt("eyJhbGciOi.eyJzdWIi.c2ln.x", strlen("eyJhbGciOi.eyJzdWIi.c2ln.x")));
    CHECK(!oidc_looks_like_jwt("Abcdefgh12.eyJzdWIi.c2ln", strlen("Abcdefgh12.eyJzdWIi.c2ln")));
    CHECK(!oidc_looks_like_jwt("eyJhbGciOi.eyJ+dWIi.c2ln", strlen("eyJhbGciOi.eyJ+dWIi.c2ln")));
    CHECK(!oidc_looks_like_jwt("s3cretS3cret", strlen("s3cretS3cret")));
}

static void test_parse(void)
{
    struct oidc_token t;
    const char *claims = "{\"iss\":\"https://i.example\",\"sub\":\"x\"}";
    const char *bad_headers[] = {
        "{\"alg\":\"none\",\"kid\":\"k\"}",       "{\"alg\":\"HS256\",\"kid\":\"k\"}",
        "{\"alg\":\"RS256\",\"crit\":[\"b64\"]}", "{\"alg\":\"RS256\",\"typ\":\"at+jwt\"}",
        "{\"alg\":\"RS256\",\"kid\":7}",          "{\"kid\":\"k\"}",
        "{\"alg\":\"RS256\",\"alg\":\"RS256\"}"};
    for (size_t i = 0; i < DH_ARRAY_SIZE(bad_headers); i++) {
        char *tok = token(bad_headers[i], claims, "c2ln");
        CHECK(oidc_parse(tok, strlen(tok), &t) == DH_ERR_INVALID);
        free(tok);
    }
    char *tok = token("{\"alg\":\"RS256\"}", "{\"sub\":\"x\"}", "c2ln"); /* no iss */
    CHECK(oidc_parse(tok, strlen(tok), &t) == DH_ERR_INVALID);
    free(tok);
    tok = token("{\"alg\":\"ES256\",\"kid\":\"k1\",\"typ\":\"JWT\"}", claims, "c2ln");
    CHECK(oidc_parse(tok, strlen(tok), &t) == 0);
    CHECK_STR(t.alg, "ES256");
    CHECK_STR(t.kid, "k1");
    CHECK_STR(t.iss, "https://i.example");
    CHECK(t.sig_len == 3);
    oidc_token_deinit(&t);
    free(tok);
}

static int64_t last_exp; /* of the identity the last match made */

static int match(const char *claims, const char *rules_json, const char **why)
{
    struct oidc_token t;
    struct oidc_identity id;
    char *tok = token("{\"alg\":\"RS256\",\"kid\":\"k\"}", claims, "c2ln");
    json_t *rules = json_loads(rules_json, 0, NULL);
    int r = oidc_parse(tok, strlen(tok), &t);
    if (r == 0) {
        r = oidc_match(&t, rules, "svc", NOW, 3600, &id, why);
        if (r >= 0) {
            last_exp = id.exp;
            oidc_identity_deinit(&id);
        }
        oidc_token_deinit(&t);
    }
    json_decref(rules);
    free(tok);
    return r;
}

static void test_rules(void)
{
    const char *why;
    const char *rules =
        "[{\"issuer\":\"https://other\",\"audience\":null,\"subject\":\"*\",\"claims\":{}},"
        "{\"issuer\":\"https://i\",\"audience\":null,\"subject\":\"project_path:g/*\","
        "\"claims\":{\"ref_protected\":\"true\",\"/kubernetes.io/namespace\":\"ci\","
        "\"runner_id\":\"1*\"}}]";
#define CLAIMS(extra)                                                                              \
    "{\"iss\":\"https://i\",\"sub\":\"project_path:g/p\",\"aud\":[\"x\",\"svc\"],"                 \
    "\"iat\":1700000000,\"exp\":1700000300,\"ref_protected\":\"true\",\"runner_id\":12,"           \
    "\"kubernetes.io\":{\"namespace\":\"ci\"}" extra "}"
    CHECK(match(CLAIMS(""), rules, &why) == 1);
    CHECK(last_exp == 1700000300);
    CHECK(match(CLAIMS(",\"aud\":\"svc\""), rules, &why) == DH_ERR_INVALID); /* duplicate */
    CHECK(match("{\"iss\":\"https://i\",\"sub\":\"project_path:g/p\",\"aud\":\"svc\","
                "\"iat\":1700000000,\"exp\":1700000300,\"ref_protected\":\"false\","
                "\"runner_id\":12,\"kubernetes.io\":{\"namespace\":\"ci\"}}",
                rules, &why) == DH_ERR_NOTFOUND);
    CHECK_STR(why, "a claim does not match");
    CHECK(match("{\"iss\":\"https://i\",\"sub\":\"project_path:h/p\",\"aud\":\"svc\","
                "\"iat\":1700000000,\"exp\":1700000300}",
                rules, &why) == DH_ERR_NOTFOUND);
    CHECK_STR(why, "subject does not match");
    CHECK(match("{\"iss\":\"https://i\",\"sub\":\"project_path:g/p\",\"aud\":\"other\","
                "\"iat\":1700000000,\"exp\":1700000300}",
                rules, &why) == DH_ERR_NOTFOUND);
    CHECK_STR(why, "another audience");
    CHECK(match("{\"iss\":\"https://i\",\"sub\":\"s\",\"aud\":\"svc\",\"iat\":1699999000,"
                "\"exp\":1699999939}",
                rules, &why) == DH_ERR_NOTFOUND);
    CHECK_STR(why, "expired");
    CHECK(match("{\"iss\":\"https://i\",\"sub\":\"s\",\"aud\":\"svc\",\"iat\":1700000000,"
                "\"nbf\":1700000061,\"exp\":1700000300}",
                rules, &why) == DH_ERR_NOTFOUND);
    CHECK_STR(why, "not yet valid (nbf)");
    CHECK(match("{\"iss\":\"https://i\",\"sub\":\"s\",\"aud\":\"svc\",\"iat\":1699996339,"
                "\"exp\":1700000300}",
                rules, &why) == DH_ERR_NOTFOUND);
    CHECK_STR(why, "too old (iat before the maximum age)");
    CHECK(match("{\"iss\":\"https://i\",\"sub\":\"s\",\"aud\":\"svc\",\"exp\":1700000300}", rules,
                &why) == DH_ERR_NOTFOUND);
    CHECK_STR(why, "no iat");
    CHECK(match("{\"iss\":\"https://nobody\",\"sub\":\"s\",\"aud\":\"svc\",\"iat\":1700000000,"
                "\"exp\":1700000300}",
                rules, &why) == DH_ERR_NOTFOUND);
    CHECK_STR(why, "no rule for this issuer");
    json_t *r = json_loads(rules, 0, NULL);
    CHECK(oidc_rules_name_issuer(r, "https://i"));
    CHECK(!oidc_rules_name_issuer(r, "https://i/"));
    json_decref(r);
}

static char *b64bn(const BIGNUM *bn, int width)
{
    unsigned char buf[1024];
    int n = width ? width : BN_num_bytes(bn);
    BN_bn2binpad(bn, buf, n);
    char *out = malloc(B64_ENCODED_CAP((size_t)n));
    b64url_encode(buf, (size_t)n, out);
    return out;
}

static json_t *jwk_of(EVP_PKEY *k)
{
    BIGNUM *a = NULL, *b = NULL;
    json_t *j;
    if (EVP_PKEY_is_a(k, "RSA")) {
        EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &a);
        EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &b);
        char *n = b64bn(a, 0), *e = b64bn(b, 0);
        j = json_pack("{s:s,s:s,s:s}", "kty", "RSA", "n", n, "e", e);
        free(n);
        free(e);
    } else {
        EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &a);
        EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &b);
        char *x = b64bn(a, 32), *y = b64bn(b, 32);
        j = json_pack("{s:s,s:s,s:s,s:s}", "kty", "EC", "crv", "P-256", "x", x, "y", y);
        free(x);
        free(y);
    }
    BN_free(a);
    BN_free(b);
    return j;
}

/* A token of claims signed by k with alg (ES256 raw R||S, RS256, PS256). */
static char *signed_token(EVP_PKEY *k, const char *alg, const char *claims)
{
    char header[64];
    snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"kid\":\"k\"}", alg);
    char *t = token(header, claims, "");
    size_t inlen = strlen(t) - 1; /* without the last '.' */
    unsigned char sig[1024], raw[64];
    size_t slen = sizeof(sig);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, k);
    if (alg[0] == 'P') {
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
    }
    EVP_DigestSign(ctx, sig, &slen, (unsigned char *)t, inlen);
    EVP_MD_CTX_free(ctx);
    unsigned char *s = sig;
    if (alg[0] == 'E') {
        const unsigned char *p = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)slen);
        BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32);
        ECDSA_SIG_free(es);
        s = raw;
        slen = 64;
    }
    char *sb = malloc(B64_ENCODED_CAP(slen));
    b64url_encode(s, slen, sb);
    char *out = malloc(strlen(t) + strlen(sb) + 1);
    sprintf(out, "%s%s", t, sb);
    free(t);
    free(sb);
    return out;
}

static void check_sig(EVP_PKEY *priv, const char *alg, EVP_PKEY *other)
{
    const char *claims = "{\"iss\":\"https://i\",\"sub\":\"s\"}";
    json_t *jwk = jwk_of(priv);
    EVP_PKEY *pub = oidc_jwk_key(jwk);
    struct oidc_token t;
    char *tok = signed_token(priv, alg, claims);
    CHECK(pub != NULL);
    CHECK(oidc_parse(tok, strlen(tok), &t) == 0);
    CHECK(oidc_verify_signature(&t, pub, NULL) == 0);
    CHECK(oidc_verify_signature(&t, pub, alg) == 0);
    CHECK(oidc_verify_signature(&t, pub, "RS512") == DH_ERR_INVALID); /* the JWK says so */
    CHECK(oidc_verify_signature(&t, other, NULL) == DH_ERR_INVALID);  /* another key */
    t.signing_input[t.signing_len - 2] ^= 1;                          /* tampered */
    CHECK(oidc_verify_signature(&t, pub, NULL) == DH_ERR_INVALID);
    oidc_token_deinit(&t);
    free(tok);
    EVP_PKEY_free(pub);
    /* a use other than sig is not a signing key */
    json_object_set_new(jwk, "use", json_string("enc"));
    CHECK(oidc_jwk_key(jwk) == NULL);
    json_decref(jwk);
}

static void test_keys(void)
{
    EVP_PKEY *ec = EVP_EC_gen("P-256"), *rsa = EVP_RSA_gen(2048), *small = EVP_RSA_gen(1024);
    check_sig(ec, "ES256", rsa);
    check_sig(rsa, "RS256", ec);
    check_sig(rsa, "PS256", small);
    /* an RSA key under 2048 bits and a point off the curve are refused */
    json_t *j = jwk_of(small);
    CHECK(oidc_jwk_key(j) == NULL);
    json_decref(j);
    j = jwk_of(ec);
    json_object_set_new(j, "y", json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    CHECK(oidc_jwk_key(j) == NULL);
    json_decref(j);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(small);
}

static void test_https_urls(void)
{
    char *body = NULL;
    size_t len;
    long age;
    const char *why = NULL;
    const char *bad[] = {"http://i.example/x", "https://user@i.example/", "https://:443/",
                         "https://i.example:99999999/", "https://i.example/a b"};
    for (size_t i = 0; i < DH_ARRAY_SIZE(bad); i++) {
        CHECK(oidc_https_get(bad[i], NULL, 1000, 1024, &body, &len, &age, &why) == DH_ERR_INVALID);
        CHECK_STR(why, "not an https:// URL");
    }
}

int main(void)
{
    test_shape();
    test_parse();
    test_rules();
    test_keys();
    test_https_urls();
    return check_done();
}
