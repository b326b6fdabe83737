/* libFuzzer driver for the refresh-token path as the realm runs it for
 * grant_type=refresh_token: the POST body through form_parse, grant_type, refresh_token,
 * then realm_creds_refresh (token_refresh_parse: JWS parse, signature, claims), and the
 * same token as containerd sends it, the password of a Basic header (realm_creds_basic).
 * The first byte picks the input's role:
 *   even: the rest is the POST body as sent. Nothing was signed here, so accepting any
 *         token is a forgery.
 *   odd:  a real refresh token is made for a robot id, version and expiry read from the next
 *         bytes, then the rest of the input flips bytes of it (position, xor pairs). The
 *         untouched token must be accepted for exactly its robot and version (unless
 *         expired); a touched one must be refused or give that same robot and version:
 *         never another robot's. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "dockhand/encoding.h"
#include "dockhand/form.h"
#include "dockhand/jwt.h"
#include "dockhand/realm_creds.h"
#include "fuzz_ring.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000

static struct keyring *ring;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const algs[] = {"ES256", "RS256"};
    (void)argc;
    (void)argv;
    ring = fuzz_ring(algs, 2);
    return 0;
}

/* The realm's POST: form body → grant_type=refresh_token → realm_creds_refresh. Returns
 * 1 when the credentials were taken (robot and version in c), 0 when refused. */
static int realm_post(const struct token_issuer *is, const char *body, size_t len,
                      struct realm_creds *c)
{
    struct form f;
    int taken = 0;
    if (form_parse(body, len, &f) != 0)
        return 0;
    const char *grant = form_get(&f, "grant_type"), *rt = form_get(&f, "refresh_token");
    if (grant && strcmp(grant, "refresh_token") == 0 && rt && *rt) {
        int rc = realm_creds_refresh(c, is, ring, rt, NOW);
        if (rc == 0) {
            char want[64];
            snprintf(want, sizeof(want), "r:%" PRId64, c->refresh_robot);
            if (!c->refresh_token || strcmp(c->refresh_token, rt) != 0 ||
                strcmp(c->account_key, want) != 0)
                __builtin_trap();
            taken = 1;
        } else if (rc != DH_ERR_INVALID || strcmp(c->account_key, "r:invalid") != 0) {
            __builtin_trap();
        }
    }
    form_deinit(&f);
    return taken;
}

static char *form_body(const char *tok)
{
    static const char hexd[] = "0123456789ABCDEF";
    size_t n = strlen(tok);
    char *b = malloc(64 + 3 * n), *o = b;
    if (!b)
        abort();
    o += sprintf(o, "grant_type=refresh_token&service=s&refresh_token=");
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)tok[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.') {
            *o++ = (char)ch;
        } else {
            *o++ = '%';
            *o++ = hexd[ch >> 4];
            *o++ = hexd[ch & 15];
        }
    }
    *o = '\0';
    return b;
}

static uint64_t take(const uint8_t **p, size_t *n, size_t bytes)
{
    uint64_t v = 0;
    for (size_t i = 0; i < bytes && *n; i++, (*p)++, (*n)--)
        v = v << 8 | **p;
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct token_issuer is = {.key = &ring->keys[0], .issuer = "i", .service = "s"};
    struct realm_creds c = {0};

    if (size < 1)
        return 0;
    if (data[0] % 2 == 0) {
        if (realm_post(&is, (const char *)data + 1, size - 1, &c))
            __builtin_trap(); /* a token nobody signed */
        realm_creds_deinit(&c);
        return 0;
    }
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    /* Sign with either key of the ring. */
    const struct token_issuer signer = {
        .key = &ring->keys[data[0] & 2 ? 1 : 0], .issuer = "i", .service = "s"};
    struct token_robot robot = {.name = "robot$fuzz"};
    robot.id = (int64_t)(take(&p, &n, 4) & 0x7fffffff) + 1;
    robot.cred_version = (int)(take(&p, &n, 2) & 0x7fff);
    uint64_t e = take(&p, &n, 2);
    robot.expires_at = e & 1 ? -1 : NOW - 1000 + (int64_t)(e >> 1);
    char *tok = NULL;
    if (token_refresh_new(&signer, &robot, NOW - 10, &tok) != 0)
        abort();
    size_t len = strlen(tok);
    char *orig = strdup(tok);
    bool touched = false;
    while (n >= 3) {
        size_t pos = (size_t)take(&p, &n, 2) % (len + 1);
        uint8_t x = (uint8_t)take(&p, &n, 1);
        if (pos == len) { /* cut the token here */
            tok[(len = (size_t)x % (len + 1))] = '\0';
        } else if (x && tok[pos] != (char)x && (tok[pos] ^ x)) {
            tok[pos] ^= (char)x;
        }
    }
    len = strlen(tok);
    touched = strcmp(tok, orig) != 0;
    bool live = robot.expires_at == -1 || robot.expires_at > NOW;

    char *body = form_body(tok);
    int taken = realm_post(&is, body, strlen(body), &c);
    if (!touched && taken != live)
        __builtin_trap();
    if (taken && (c.refresh_robot != robot.id || c.refresh_version != robot.cred_version))
        __builtin_trap();
    realm_creds_deinit(&c);

    /* containerd: the token as the password of a Basic header. */
    char *userpass = malloc(len + 16), *hdr = malloc(B64_ENCODED_CAP(len + 16) + 8);
    if (!userpass || !hdr)
        abort();
    int un = snprintf(userpass, len + 16, "robot$fuzz:%s", tok);
    memcpy(hdr, "Basic ", 6);
    b64_encode(userpass, (size_t)un, hdr + 6);
    int rc = realm_creds_basic(&c, &is, ring, hdr, NOW);
    if (rc == 0 && c.refresh_token &&
        (c.refresh_robot != robot.id || c.refresh_version != robot.cred_version))
        __builtin_trap();
    if (!touched && live && (rc != 0 || !c.refresh_token))
        __builtin_trap();
    if (rc == 0 && !c.refresh_token && (!c.login || strcmp(c.login, "robot$fuzz") != 0))
        __builtin_trap();
    realm_creds_deinit(&c);
    free(userpass);
    free(hdr);
    free(body);
    free(orig);
    OPENSSL_cleanse(tok, strlen(tok));
    free(tok);
    return 0;
}
