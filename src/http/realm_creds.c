#include "dockhand/realm_creds.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "dockhand/encoding.h"
#include "dockhand/oidc.h"
#include "dockhand/secret.h"

void realm_creds_deinit(struct realm_creds *c)
{
    free(c->login);
    if (c->secret) {
        OPENSSL_cleanse(c->secret, c->secret_len);
        free(c->secret);
    }
    if (c->refresh_token) {
        OPENSSL_cleanse(c->refresh_token, strlen(c->refresh_token));
        free(c->refresh_token);
    }
    memset(c, 0, sizeof(*c));
}

static bool text_clean(const char *s, size_t len)
{
    if (!utf8_valid(s, len))
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

int realm_creds_password(struct realm_creds *c, const char *user, size_t ulen, const char *pass,
                         size_t plen)
{
    if (ulen > LOGIN_MAX_LEN || !text_clean(user, ulen))
        return DH_ERR_INVALID;
    /* An identity token may be longer than any secret (README "Keyless CI") */
    if ((plen > SECRET_MAX_LEN && !oidc_looks_like_jwt(pass, plen)) || memchr(pass, '\0', plen))
        return DH_ERR_INVALID;
    c->login = strndup(user, ulen);
    c->secret = malloc(plen + 1);
    if (!c->login || !c->secret)
        return DH_ERR_NOMEM;
    memcpy(c->secret, pass, plen);
    c->secret[plen] = '\0';
    c->secret_len = plen;
    snprintf(c->account_key, sizeof(c->account_key), "a:%s", c->login);
    return 0;
}

int realm_creds_refresh(struct realm_creds *c, const struct token_issuer *is,
                        const struct keyring *ring, const char *tok, time_t now)
{
    if (token_refresh_parse(is, ring, tok, strlen(tok), now, &c->refresh_robot,
                            &c->refresh_version) < 0) {
        snprintf(c->account_key, sizeof(c->account_key), "r:invalid");
        return DH_ERR_INVALID;
    }
    c->refresh_token = strdup(tok);
    if (!c->refresh_token)
        return DH_ERR_NOMEM;
    snprintf(c->account_key, sizeof(c->account_key), "r:%" PRId64, c->refresh_robot);
    return 0;
}

int realm_creds_basic(struct realm_creds *c, const struct token_issuer *is,
                      const struct keyring *ring, const char *header, time_t now)
{
    char *buf = NULL;
    size_t ulen = 0, plen = 0;
    const char *pass = NULL;
    int r = basic_decode(header, &buf, &ulen, &pass, &plen);

    if (r == DH_ERR_NOTFOUND || r == DH_ERR_NOMEM)
        return r;
    if (r < 0)
        return DH_ERR_INVALID;
    /* containerd's fallback: a refresh token as the Basic password. Anything else that
     * looks like one is tried as a secret. */
    if (!(plen > 40 && memchr(pass, '.', plen) && !memchr(pass, '\0', plen) &&
          realm_creds_refresh(c, is, ring, pass, now) == 0))
        r = realm_creds_password(c, buf, ulen, pass, plen);
    OPENSSL_cleanse(buf, ulen + 1 + plen);
    free(buf);
    return r;
}
