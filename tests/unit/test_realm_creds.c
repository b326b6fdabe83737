/* Unit tests for src/http/realm_creds.c: password, Basic and refresh-token credentials. */
#include "check.h"

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dockhand/encoding.h"
#include "dockhand/realm_creds.h"

#define NOW ((time_t)1700000000)

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* "Basic " + base64(text) */
static const char *basic(const char *text)
{
    static char out[4096];
    memcpy(out, "Basic ", 6);
    b64_encode(text, strlen(text), out + 6);
    return out;
}

static void test_password(void)
{
    struct realm_creds c = {0};
    char name[LOGIN_MAX_LEN + 2];

    CHECK(realm_creds_password(&c, "robot$ci", 8, "s3cr:et", 7) == 0);
    CHECK_STR(c.login, "robot$ci");
    CHECK_STR(c.secret, "s3cr:et");
    CHECK(c.secret_len == 7);
    CHECK_STR(c.account_key, "a:robot$ci");
    realm_creds_deinit(&c);
    CHECK(c.login == NULL && c.secret == NULL && c.account_key[0] == '\0');
    CHECK(realm_creds_password(&c, "", 0, "", 0) == 0); /* wrong, not malformed */
    realm_creds_deinit(&c);
    CHECK(realm_creds_password(&c, "a\tb", 3, "x", 1) == DH_ERR_INVALID);
    CHECK(realm_creds_password(&c, "a\xff", 2, "x", 1) == DH_ERR_INVALID);
    CHECK(realm_creds_password(&c, "a", 1, "x\0y", 3) == DH_ERR_INVALID);
    memset(name, 'n', sizeof(name));
    CHECK(realm_creds_password(&c, name, LOGIN_MAX_LEN, "x", 1) == 0);
    realm_creds_deinit(&c);
    CHECK(realm_creds_password(&c, name, LOGIN_MAX_LEN + 1, "x", 1) == DH_ERR_INVALID);
    realm_creds_deinit(&c);
}

static void test_basic_and_refresh(const struct keyring *ring, const struct keyring *other)
{
    const struct token_issuer is = {.key = &ring->keys[0], .issuer = "i", .service = "s"};
    const struct token_robot robot = {
        .name = "robot$r", .id = 99, .cred_version = 4, .expires_at = -1};
    struct realm_creds c = {0};
    char *rt = NULL, text[4096];

    CHECK(realm_creds_basic(&c, &is, ring, basic("robot$ci:pa:ss"), NOW) == 0);
    CHECK_STR(c.login, "robot$ci");
    CHECK_STR(c.secret, "pa:ss");
    CHECK(c.refresh_token == NULL);
    realm_creds_deinit(&c);
    CHECK(realm_creds_basic(&c, &is, ring, "Bearer abc", NOW) == DH_ERR_NOTFOUND);
    CHECK(realm_creds_basic(&c, &is, ring, "Basic !!!", NOW) == DH_ERR_INVALID);
    CHECK(realm_creds_basic(&c, &is, ring, basic("no-colon"), NOW) == DH_ERR_INVALID);
    realm_creds_deinit(&c);

    /* containerd: a refresh token as the password */
    CHECK(token_refresh_new(&is, &robot, NOW, &rt) == 0);
    snprintf(text, sizeof(text), "robot$r:%s", rt);
    CHECK(realm_creds_basic(&c, &is, ring, basic(text), NOW) == 0);
    CHECK_STR(c.refresh_token, rt);
    CHECK(c.refresh_robot == 99 && c.refresh_version == 4 && c.login == NULL);
    CHECK_STR(c.account_key, "r:99");
    realm_creds_deinit(&c);
    /* signed by a key we do not know: a (wrong) secret, not a refresh token */
    CHECK(realm_creds_basic(&c, &is, other, basic(text), NOW) == 0);
    CHECK(c.refresh_token == NULL && c.login && strcmp(c.secret, rt) == 0);
    realm_creds_deinit(&c);

    /* the refresh_token grant */
    CHECK(realm_creds_refresh(&c, &is, ring, rt, NOW) == 0);
    CHECK(c.refresh_robot == 99 && c.refresh_version == 4);
    CHECK_STR(c.account_key, "r:99");
    realm_creds_deinit(&c);
    CHECK(realm_creds_refresh(&c, &is, other, rt, NOW) == DH_ERR_INVALID);
    CHECK(c.refresh_token == NULL);
    CHECK_STR(c.account_key, "r:invalid");
    realm_creds_deinit(&c);
    free(rt);
}

int main(void)
{
    const char *base = getenv("TESTS_TMPDIR");
    char root[2048], dir[2100], name[64];
    struct keyring *rings[2];

    snprintf(root, sizeof(root), "%s/creds.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(root))
        return 2;
    for (int k = 0; k < 2; k++) {
        snprintf(dir, sizeof(dir), "%s/%d", root, k);
        if (keys_generate(dir, "ES256", "creds test", 1, name, sizeof(name)) != 0 ||
            keyring_load(dir, KID_LIBTRUST, &rings[k]) != 0)
            return 2;
    }
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    test_password();
    test_basic_and_refresh(rings[0], rings[1]);
    keyring_free(rings[0]);
    keyring_free(rings[1]);
    return check_done();
}
