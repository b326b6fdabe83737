/* Unit tests for src/crypto/token.c: assembled tokens are split and checked with OpenSSL
 * against the certificate's key and their claims compared member by member; the scope
 * field, the answer, the lifetime rule and refresh tokens. Keys are generated into a
 * temporary directory, loaded, and the files removed at the end. */
#include "check.h"
#include "jwt_check.h"

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "dockhand/encoding.h"
#include "dockhand/jwt.h"
#include "dockhand/keys.h"
#include "dockhand/token.h"

#define NOW ((time_t)1700000000) /* 2023-11-14T22:13:20Z */

static char tmp_root[2048];

static struct token_issuer issuer_of(const struct keyring *ring)
{
    return (struct token_issuer){
        .key = &ring->keys[0], .issuer = "dockhand-issuer", .service = "dockhand-registry"};
}

/* ---- helpers ---------------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static struct keyring *ring_new(const char *sub, const char *alg)
{
    char dir[2200], name[64];
    struct keyring *ring = NULL;

    snprintf(dir, sizeof(dir), "%s/%s", tmp_root, sub);
    if (keys_generate(dir, alg, "token test", 1, name, sizeof(name)) != 0 ||
        keyring_load(dir, KID_LIBTRUST, &ring) != 0) {
        fprintf(stderr, "cannot make a %s key in %s\n", alg, dir);
        exit(2);
    }
    return ring;
}

static json_t *token_json(const char *tok, int part)
{
    size_t n = 0;
    char *text = jwt_check_part(tok, part, &n);
    json_t *j = text ? json_loadb(text, n, JSON_REJECT_DUPLICATES, NULL) : NULL;
    free(text);
    return j;
}

/* The registry's check (jwt_check.h) with the key of the key's certificate. */
static bool openssl_verifies(const char *tok, const struct sign_key *key)
{
    EVP_PKEY *pub = X509_get_pubkey(key->cert);
    bool ok = jwt_check_openssl(tok, pub, key_alg_name(key->alg));
    EVP_PKEY_free(pub);
    return ok;
}

static bool header_ok(const char *tok, const struct sign_key *key)
{
    json_t *h = token_json(tok, 0);
    const char *alg = json_string_value(json_object_get(h, "alg"));
    const char *kid = json_string_value(json_object_get(h, "kid"));
    const char *typ = json_string_value(json_object_get(h, "typ"));
    bool ok = json_object_size(h) == 3 && alg && strcmp(alg, key_alg_name(key->alg)) == 0 && kid &&
              strcmp(kid, key->kid) == 0 && typ && strcmp(typ, "JWT") == 0;
    json_decref(h);
    return ok;
}

static bool jti_shape_ok(const char *jti)
{
    if (!jti || strlen(jti) != 22)
        return false;
    for (const char *p = jti; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            return false;
    return true;
}

static bool int_member_is(json_t *o, const char *k, json_int_t want)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) && json_integer_value(v) == want;
}

static bool str_member_is(json_t *o, const char *k, const char *want)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v && strcmp(v, want) == 0;
}

/* Scopes as the realm has them: parsed, then granted bits set. */
static void scopes_add(struct scope_list *l, const char *text)
{
    if (scope_list_add(l, text, strlen(text)) != 0) {
        fprintf(stderr, "bad scope in test: %s\n", text);
        exit(2);
    }
}

/* The claims of an access token: signature, header and every member but access checked. */
static json_t *checked_claims(const struct token *tok, const struct sign_key *key, const char *sub,
                              int64_t lifetime)
{
    CHECK(openssl_verifies(tok->jwt, key));
    CHECK(header_ok(tok->jwt, key));
    json_t *c = token_json(tok->jwt, 1);
    CHECK(json_is_object(c));
    CHECK(json_object_size(c) == 8);
    CHECK(str_member_is(c, "iss", "dockhand-issuer"));
    CHECK(str_member_is(c, "sub", sub));
    CHECK(str_member_is(c, "aud", "dockhand-registry"));
    CHECK(int_member_is(c, "iat", NOW));
    CHECK(int_member_is(c, "nbf", NOW));
    CHECK(int_member_is(c, "exp", NOW + lifetime));
    CHECK(str_member_is(c, "jti", tok->jti));
    CHECK(jti_shape_ok(tok->jti));
    CHECK(tok->iat == NOW && tok->exp == NOW + lifetime && tok->lifetime == lifetime);
    return c;
}

/* ---- access tokens ------------------------------------------------------------------ */

static void test_signed_with_each_alg(struct keyring *const rings[3])
{
    for (int k = 0; k < 3; k++) {
        const struct token_issuer is = issuer_of(rings[k]);
        struct scope_list l = {0};
        struct token tok;

        scopes_add(&l, "repository:library/app:pull,push");
        l.items[0].granted = ACT_PULL;
        token_init(&tok);
        CHECK(token_build(&tok, &is, "robot$ci", &l, 1800, NOW) == 0);
        json_t *c = checked_claims(&tok, is.key, "robot$ci", 1800);
        json_t *want = json_pack("[{s:s, s:s, s:[s]}]", "type", "repository", "name", "library/app",
                                 "actions", "pull");
        CHECK(json_equal(json_object_get(c, "access"), want));
        CHECK_STR(tok.scope, "repository:library/app:pull");
        /* jwt_verify (the realm's own reader) agrees */
        json_t *back = NULL;
        CHECK(jwt_verify(rings[k], tok.jwt, strlen(tok.jwt), &back) == 0 && json_equal(back, c));
        /* a key of another ring does not verify it */
        CHECK(!openssl_verifies(tok.jwt, &rings[(k + 1) % 3]->keys[0]));
        json_decref(back);
        json_decref(want);
        json_decref(c);
        token_deinit(&tok);
        scope_list_deinit(&l);
    }
}

static void test_access_exact(const struct keyring *ring)
{
    const struct token_issuer is = issuer_of(ring);
    struct scope_list l = {0};
    struct token tok;

    /* in request order; denied items stay with empty actions; class kept; * alone */
    scopes_add(&l, "repository:p/b:pull,push,delete repository(plugin):p/a:pull "
                   "registry:catalog:* repository:q/denied:pull,push "
                   "repository:host:5000/p/c:push");
    l.items[0].granted = ACT_PULL | ACT_PUSH | ACT_DELETE;
    l.items[1].granted = ACT_PULL;
    l.items[2].granted = ACT_STAR;
    l.items[3].granted = 0;
    l.items[4].granted = ACT_PUSH;
    token_init(&tok);
    CHECK(token_build(&tok, &is, "proj+ci", &l, 60, NOW) == 0);
    json_t *c = checked_claims(&tok, is.key, "proj+ci", 60);
    json_t *want = json_pack(
        "[{s:s, s:s, s:[s,s,s]}, {s:s, s:s, s:[s], s:s}, {s:s, s:s, s:[s]}, {s:s, s:s, s:[]},"
        " {s:s, s:s, s:[s]}]",
        "type", "repository", "name", "p/b", "actions", "pull", "push", "delete", "type",
        "repository", "name", "p/a", "actions", "pull", "class", "plugin", "type", "registry",
        "name", "catalog", "actions", "*", "type", "repository", "name", "q/denied", "actions",
        "type", "repository", "name", "host:5000/p/c", "actions", "push");
    CHECK(want != NULL);
    CHECK(json_equal(json_object_get(c, "access"), want));
    CHECK_STR(tok.scope, "repository:p/b:pull,push,delete repository(plugin):p/a:pull "
                         "registry:catalog:* repository:host:5000/p/c:push");
    /* the access text kept for the audit record is the claim itself */
    json_t *acc = json_loads(jsonw_text(&tok.access), 0, NULL);
    CHECK(json_equal(acc, want));
    json_decref(acc);
    json_decref(want);
    json_decref(c);
    token_deinit(&tok);
    scope_list_deinit(&l);
}

static void test_empty_and_anonymous(const struct keyring *ring)
{
    const struct token_issuer is = issuer_of(ring);
    struct scope_list l = {0};
    struct token tok;

    token_init(&tok);
    CHECK(token_build(&tok, &is, "", &l, 1, NOW) == 0);
    json_t *c = checked_claims(&tok, is.key, "", 1);
    json_t *acc = json_object_get(c, "access");
    CHECK(json_is_array(acc) && json_array_size(acc) == 0);
    CHECK_STR(tok.scope, "");
    CHECK_STR(jsonw_text(&tok.access), "[]");
    json_decref(c);
    token_deinit(&tok);

    /* nothing granted: access lists the request, the scope field nothing */
    scopes_add(&l, "repository:a/b:pull");
    token_init(&tok);
    CHECK(token_build(&tok, &is, "", &l, 1, NOW) == 0);
    CHECK_STR(tok.scope, "");
    c = token_json(tok.jwt, 1);
    CHECK(json_array_size(json_object_get(c, "access")) == 1);
    CHECK(json_array_size(
              json_object_get(json_array_get(json_object_get(c, "access"), 0), "actions")) == 0);
    json_decref(c);
    token_deinit(&tok);
    scope_list_deinit(&l);
}

/* The bug of 750ba1b: 64 scopes on 200-character names, every one granted, every one in the
 * scope field and in the access claim. Also at the grammar's longest (512-byte names with a
 * 64-byte type and class and every action). */
static void test_many_long_scopes(const struct keyring *ring)
{
    const struct token_issuer is = issuer_of(ring);
    static const struct {
        size_t name_len;
        bool longest;
    } cases[] = {{200, false}, {SCOPE_MAX_NAME, true}};

    for (size_t cs = 0; cs < DH_ARRAY_SIZE(cases); cs++) {
        struct scope_list l = {0};
        struct token tok;
        char type[SCOPE_MAX_TYPE + 1], cls[SCOPE_MAX_TYPE + 1];
        memset(type, 't', SCOPE_MAX_TYPE);
        type[SCOPE_MAX_TYPE] = '\0';
        memset(cls, 'c', SCOPE_MAX_TYPE);
        cls[SCOPE_MAX_TYPE] = '\0';
        for (int i = 0; i < SCOPE_MAX_ITEMS; i++) {
            char name[SCOPE_MAX_NAME + 1], s[SCOPE_MAX_LEN + 1];
            int n = snprintf(name, sizeof(name), "p%02d/", i);
            memset(name + n, 'a' + i % 26, cases[cs].name_len - (size_t)n);
            name[cases[cs].name_len] = '\0';
            if (cases[cs].longest)
                snprintf(s, sizeof(s), "%s(%s):%s:pull,push,delete,*", type, cls, name);
            else
                snprintf(s, sizeof(s), "repository:%s:pull", name);
            scopes_add(&l, s);
        }
        CHECK(l.n == SCOPE_MAX_ITEMS);
        for (size_t i = 0; i < l.n; i++)
            l.items[i].granted = l.items[i].requested;
        token_init(&tok);
        CHECK(token_build(&tok, &is, "robot$many", &l, 300, NOW) == 0);
        json_t *c = checked_claims(&tok, is.key, "robot$many", 300);
        json_t *acc = json_object_get(c, "access");
        CHECK(json_array_size(acc) == SCOPE_MAX_ITEMS);
        bool names_ok = true, listed = true;
        char *field = strdup(tok.scope), *save = NULL, *w = strtok_r(field, " ", &save);
        for (size_t i = 0; i < l.n; i++, w = strtok_r(NULL, " ", &save)) {
            char want[SCOPE_MAX_LEN + 1];
            json_t *e = json_array_get(acc, i);
            names_ok &= str_member_is(e, "name", l.items[i].name) &&
                        str_member_is(e, "type", l.items[i].type) &&
                        (!l.items[i].cls || str_member_is(e, "class", l.items[i].cls));
            if (cases[cs].longest)
                snprintf(want, sizeof(want), "%s(%s):%s:pull,push,delete,*", type, cls,
                         l.items[i].name);
            else
                snprintf(want, sizeof(want), "repository:%s:pull", l.items[i].name);
            listed &= w && strcmp(w, want) == 0;
        }
        CHECK(names_ok);
        CHECK(listed);
        CHECK(w == NULL); /* nothing more */
        free(field);
        json_decref(c);
        token_deinit(&tok);
        scope_list_deinit(&l);
    }
}

static void test_strings(const struct keyring *ring)
{
    const struct token_issuer is = issuer_of(ring);
    struct scope_list l = {0};
    struct token tok;

    /* a sub and name that need escaping or are not ASCII come back as they went in */
    scopes_add(&l, "repository:p/\"q\\uote\xc3\xa9:pull");
    l.items[0].granted = ACT_PULL;
    token_init(&tok);
    CHECK(token_build(&tok, &is, "robot$\"caf\xc3\xa9\"", &l, 10, NOW) == 0);
    json_t *c = checked_claims(&tok, is.key, "robot$\"caf\xc3\xa9\"", 10);
    CHECK(str_member_is(json_array_get(json_object_get(c, "access"), 0), "name",
                        "p/\"q\\uote\xc3\xa9"));
    json_decref(c);
    token_deinit(&tok);

    /* a sub that is not UTF-8 is refused, not signed */
    token_init(&tok);
    CHECK(token_build(&tok, &is, "robot$\xff", &l, 10, NOW) == DH_ERR_INVALID);
    CHECK(tok.jwt == NULL);
    token_deinit(&tok);
    token_deinit(&tok); /* twice is harmless */
    scope_list_deinit(&l);
}

static void test_jti_unique(const struct keyring *ring)
{
    const struct token_issuer is = issuer_of(ring);
    struct scope_list l = {0};
    enum { N = 200 }; /* past three refills of the per-thread pool */
    static char jtis[N][32];
    bool shapes = true, distinct = true;

    for (int i = 0; i < N; i++) {
        struct token tok;
        token_init(&tok);
        if (token_build(&tok, &is, "r", &l, 1, NOW) != 0)
            shapes = false;
        shapes &= jti_shape_ok(tok.jti);
        memcpy(jtis[i], tok.jti, sizeof(jtis[i]));
        token_deinit(&tok);
    }
    for (int i = 0; i < N; i++)
        for (int k = 0; k < i; k++)
            distinct &= strcmp(jtis[i], jtis[k]) != 0;
    CHECK(shapes);
    CHECK(distinct);
}

/* ---- the answer, the note, the lifetime ----------------------------------------------- */

static void test_answer(const struct keyring *ring)
{
    const struct token_issuer is = issuer_of(ring);
    struct scope_list l = {0};
    struct token tok;
    struct jsonw body;

    scopes_add(&l, "repository:a/b:pull,push repository:a/c:pull");
    l.items[0].granted = ACT_PULL | ACT_PUSH;
    token_init(&tok);
    CHECK(token_build(&tok, &is, "robot$a", &l, 90, NOW) == 0);

    /* GET: no scope field */
    jsonw_init(&body);
    CHECK(token_answer(&tok, false, NULL, &body) == 0);
    json_t *b = json_loads(jsonw_text(&body), JSON_REJECT_DUPLICATES, NULL);
    CHECK(json_object_size(b) == 4);
    CHECK(str_member_is(b, "token", tok.jwt));
    CHECK(str_member_is(b, "access_token", tok.jwt));
    CHECK(int_member_is(b, "expires_in", 90));
    CHECK(str_member_is(b, "issued_at", "2023-11-14T22:13:20Z"));
    CHECK(body.len == strlen(jsonw_text(&body)));
    json_decref(b);
    jsonw_deinit(&body);

    /* POST with a refresh token: scope and refresh_token too */
    jsonw_init(&body);
    CHECK(token_answer(&tok, true, "aaa.bbb.ccc", &body) == 0);
    b = json_loads(jsonw_text(&body), JSON_REJECT_DUPLICATES, NULL);
    CHECK(json_object_size(b) == 6);
    CHECK(str_member_is(b, "scope", "repository:a/b:pull,push"));
    CHECK(str_member_is(b, "refresh_token", "aaa.bbb.ccc"));
    json_decref(b);
    jsonw_deinit(&body);

    /* the note: who, what; cut at the buffer, never past it */
    char note[64];
    CHECK(token_note(&tok, "robot$a", note, sizeof(note)) == strlen(note));
    CHECK_STR(note, "token for robot$a granted repository:a/b:pull,push");
    char small[12];
    memset(small, 'x', sizeof(small));
    CHECK(token_note(&tok, "robot$a", small, sizeof(small)) == sizeof(small) - 1);
    CHECK_STR(small, "token for r");
    token_deinit(&tok);

    scope_list_deinit(&l);
    token_init(&tok);
    CHECK(token_build(&tok, &is, "", &l, 90, NOW) == 0);
    CHECK(token_note(&tok, "anonymous", note, sizeof(note)) > 0);
    CHECK_STR(note, "token for anonymous granted -");
    token_deinit(&tok);
}

static void test_lifetime(void)
{
    CHECK(token_lifetime(0, -1, NOW) == TOKEN_DEFAULT_MINUTES * 60);
    CHECK(token_lifetime(-5, -1, NOW) == TOKEN_DEFAULT_MINUTES * 60);
    CHECK(token_lifetime(5, -1, NOW) == 300);
    CHECK(token_lifetime(5, NOW + 100, NOW) == 100);  /* cut to the robot's expiry */
    CHECK(token_lifetime(5, NOW + 1000, NOW) == 300); /* expiry further away: no cut */
    CHECK(token_lifetime(5, NOW, NOW) == TOKEN_MIN_LIFETIME);
    CHECK(token_lifetime(5, NOW - 50, NOW) == TOKEN_MIN_LIFETIME);
    CHECK(token_lifetime(1000000, -1, NOW) == 60000000);
}

/* ---- refresh tokens ------------------------------------------------------------------- */

static void test_refresh(struct keyring *const rings[3])
{
    const struct token_issuer is = issuer_of(rings[0]);
    const struct token_robot robot = {
        .name = "robot$offline", .id = 42, .cred_version = 3, .expires_at = -1};
    char *rt = NULL;
    int64_t rid = 0;
    int ver = 0;

    CHECK(token_refresh_new(&is, &robot, NOW, &rt) == 0);
    CHECK(openssl_verifies(rt, is.key));
    CHECK(header_ok(rt, is.key));
    json_t *c = token_json(rt, 1);
    CHECK(json_object_size(c) == 8);
    CHECK(str_member_is(c, "iss", "dockhand-issuer"));
    CHECK(str_member_is(c, "sub", "robot$offline"));
    CHECK(str_member_is(c, "aud", "dockhand-registry"));
    CHECK(str_member_is(c, "typ", "refresh"));
    CHECK(int_member_is(c, "iat", NOW));
    CHECK(int_member_is(c, "rid", 42));
    CHECK(int_member_is(c, "ver", 3));
    CHECK(jti_shape_ok(json_string_value(json_object_get(c, "jti"))));
    CHECK(json_object_get(c, "exp") == NULL); /* the robot never expires: neither does it */
    json_decref(c);

    CHECK(token_refresh_parse(&is, rings[0], rt, strlen(rt), NOW + 100000000, &rid, &ver) == 0);
    CHECK(rid == 42 && ver == 3);
    /* another service's, another issuer's, another ring's: refused */
    struct token_issuer other = is;
    other.service = "elsewhere";
    CHECK(token_refresh_parse(&other, rings[0], rt, strlen(rt), NOW, &rid, &ver) == DH_ERR_INVALID);
    other = is;
    other.issuer = "someone";
    CHECK(token_refresh_parse(&other, rings[0], rt, strlen(rt), NOW, &rid, &ver) == DH_ERR_INVALID);
    CHECK(token_refresh_parse(&is, rings[1], rt, strlen(rt), NOW, &rid, &ver) == DH_ERR_INVALID);
    /* cut short, or one byte changed */
    CHECK(token_refresh_parse(&is, rings[0], rt, strlen(rt) - 1, NOW, &rid, &ver) ==
          DH_ERR_INVALID);
    char *p = strchr(rt, '.') + 5;
    *p = *p == 'A' ? 'B' : 'A';
    CHECK(token_refresh_parse(&is, rings[0], rt, strlen(rt), NOW, &rid, &ver) == DH_ERR_INVALID);
    free(rt);

    /* a robot that expires: so does the refresh token */
    const struct token_robot mortal = {
        .name = "robot$m", .id = 7, .cred_version = 1, .expires_at = NOW + 60};
    CHECK(token_refresh_new(&is, &mortal, NOW, &rt) == 0);
    c = token_json(rt, 1);
    CHECK(int_member_is(c, "exp", NOW + 60));
    json_decref(c);
    CHECK(token_refresh_parse(&is, rings[0], rt, strlen(rt), NOW + 59, &rid, &ver) == 0);
    CHECK(rid == 7 && ver == 1);
    CHECK(token_refresh_parse(&is, rings[0], rt, strlen(rt), NOW + 60, &rid, &ver) ==
          DH_ERR_INVALID);
    free(rt);

    /* an access token is not a refresh token */
    struct scope_list l = {0};
    struct token tok;
    token_init(&tok);
    CHECK(token_build(&tok, &is, "robot$offline", &l, 60, NOW) == 0);
    CHECK(token_refresh_parse(&is, rings[0], tok.jwt, strlen(tok.jwt), NOW, &rid, &ver) ==
          DH_ERR_INVALID);
    token_deinit(&tok);
}

int main(void)
{
    const char *base = getenv("TESTS_TMPDIR");

    snprintf(tmp_root, sizeof(tmp_root), "%s/token.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp_root)) {
        perror(tmp_root);
        return 2;
    }
    struct keyring *rings[3] = {ring_new("es256", "ES256"), ring_new("es384", "ES384"),
                                ring_new("rs256", "RS256")};
    nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS); /* the keys are in memory now */

    test_signed_with_each_alg(rings);
    test_access_exact(rings[0]);
    test_empty_and_anonymous(rings[1]);
    test_many_long_scopes(rings[0]);
    test_strings(rings[2]);
    test_jti_unique(rings[0]);
    test_answer(rings[0]);
    test_lifetime();
    test_refresh(rings);
    for (int k = 0; k < 3; k++)
        keyring_free(rings[k]);
    return check_done();
}
