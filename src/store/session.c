#include "dockhand/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "dockhand/db.h"
#include "dockhand/encoding.h"
#include "dockhand/store_util.h"

#define CSRF_LABEL "dockhand csrf"

static const char *skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

int session_cookie_get(const char *header, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    if (!header)
        return DH_ERR_NOTFOUND;
    if (strlen(header) > SESSION_COOKIE_MAX)
        return DH_ERR_TOOBIG;
    for (const char *p = header; *p;) {
        p = skip_space(p);
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq) {
            const char *k = p, *v = eq + 1;
            size_t klen = (size_t)(eq - p), vlen = len - klen - 1;
            while (klen && (k[klen - 1] == ' ' || k[klen - 1] == '\t'))
                klen--;
            v = skip_space(v);
            vlen = len - (size_t)(v - p);
            while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
                vlen--;
            if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                v++;
                vlen -= 2;
            }
            if (klen == nlen && memcmp(k, name, nlen) == 0) {
                if (vlen + 1 > cap)
                    return DH_ERR_TOOBIG;
                memcpy(out, v, vlen);
                out[vlen] = '\0';
                return 0;
            }
        }
        if (!end)
            break;
        p = end + 1;
    }
    return DH_ERR_NOTFOUND;
}

bool session_token_wellformed(const char *token)
{
    size_t n = 0;
    if (!token)
        return false;
    for (; token[n]; n++) {
        char c = token[n];
        if (n >= SESSION_TOKEN_LEN || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                        (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    }
    return n == SESSION_TOKEN_LEN;
}

int session_token_new(char out[SESSION_TOKEN_LEN + 1])
{
    unsigned char r[SESSION_TOKEN_BYTES];
    char buf[B64_ENCODED_CAP(SESSION_TOKEN_BYTES)];
    if (RAND_bytes(r, sizeof(r)) != 1)
        return DH_ERR_CRYPTO;
    size_t n = b64url_encode(r, sizeof(r), buf);
    OPENSSL_cleanse(r, sizeof(r));
    if (n != SESSION_TOKEN_LEN) {
        OPENSSL_cleanse(buf, sizeof(buf));
        return DH_ERR_CRYPTO;
    }
    memcpy(out, buf, SESSION_TOKEN_LEN + 1);
    OPENSSL_cleanse(buf, sizeof(buf));
    return 0;
}

void session_token_hash(const char *token, char out[SESSION_HASH_LEN + 1])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)token, strlen(token), md);
    hex_encode(md, sizeof(md), out);
}

void session_csrf(const char *token, char out[SESSION_CSRF_LEN + 1])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mlen = 0;
    char buf[B64_ENCODED_CAP(EVP_MAX_MD_SIZE)];
    if (!HMAC(EVP_sha256(), token, (int)strlen(token), (const unsigned char *)CSRF_LABEL,
              strlen(CSRF_LABEL), mac, &mlen) ||
        mlen != 32) {
        /* Cannot happen with a working libcrypto; an impossible value matches nothing. */
        memset(out, '!', SESSION_CSRF_LEN);
        out[SESSION_CSRF_LEN] = '\0';
        return;
    }
    b64url_encode(mac, mlen, buf);
    memcpy(out, buf, SESSION_CSRF_LEN);
    out[SESSION_CSRF_LEN] = '\0';
    OPENSSL_cleanse(mac, sizeof(mac));
    OPENSSL_cleanse(buf, sizeof(buf));
}

bool session_csrf_check(const char *token, const char *given)
{
    char want[SESSION_CSRF_LEN + 1];
    if (!given || strlen(given) != SESSION_CSRF_LEN)
        return false;
    session_csrf(token, want);
    bool ok = ct_equal(want, given, SESSION_CSRF_LEN) && want[0] != '!';
    OPENSSL_cleanse(want, sizeof(want));
    return ok;
}

void session_set_cookie(char out[SESSION_SET_COOKIE_MAX], const char *token, bool secure)
{
    if (token)
        snprintf(out, SESSION_SET_COOKIE_MAX, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s",
                 SESSION_COOKIE, token, secure ? "; Secure" : "");
    else
        snprintf(out, SESSION_SET_COOKIE_MAX,
                 "%s=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; "
                 "Expires=Thu, 01 Jan 1970 00:00:00 GMT%s",
                 SESSION_COOKIE, secure ? "; Secure" : "");
}

/* Expiry conditions, with $2 = idle seconds and $3 = absolute seconds. */
#define LIVE_SQL                                                                                   \
    "last_seen > now() - $2::integer * interval '1 second'"                                        \
    " AND created_at > now() - $3::integer * interval '1 second'"
#define DEAD_SQL                                                                                   \
    "(last_seen <= now() - $2::integer * interval '1 second'"                                      \
    " OR created_at <= now() - $3::integer * interval '1 second')"

int session_create(PGconn *db, const char *token, int64_t admin_id, const char *client_ip,
                   int idle_s, int max_s)
{
    char hash[SESSION_HASH_LEN + 1], id[STORE_ID_TEXT], idle[16], max[16];
    session_token_hash(token, hash);
    store_id_text(id, admin_id);
    snprintf(idle, sizeof(idle), "%d", idle_s);
    snprintf(max, sizeof(max), "%d", max_s);
    /* Every sign-in also sweeps the sessions that ended unused. */
    const char *p[] = {hash, idle, max, id, client_ip};
    PGresult *r = db_exec(db, PGRES_COMMAND_OK,
                          "WITH sweep AS (DELETE FROM sessions WHERE " DEAD_SQL ")"
                          " INSERT INTO sessions (token_sha256, admin_id, client_ip)"
                          " VALUES ($1, $4, $5)",
                          5, p);
    if (!r)
        return DH_ERR_DB;
    PQclear(r);
    return 0;
}

int session_lookup(PGconn *db, const char *token, int idle_s, int max_s, char *admin, size_t cap)
{
    char hash[SESSION_HASH_LEN + 1], idle[16], max[16];
    if (!session_token_wellformed(token))
        return 0;
    session_token_hash(token, hash);
    snprintf(idle, sizeof(idle), "%d", idle_s);
    snprintf(max, sizeof(max), "%d", max_s);
    const char *p[] = {hash, idle, max};
    PGresult *r = db_exec(db, PGRES_TUPLES_OK,
                          "WITH gone AS (DELETE FROM sessions WHERE token_sha256 = $1"
                          " AND " DEAD_SQL "),"
                          " live AS (UPDATE sessions s SET last_seen = now() FROM admins a"
                          " WHERE s.token_sha256 = $1 AND a.id = s.admin_id AND " LIVE_SQL
                          " RETURNING a.name)"
                          " SELECT name FROM live",
                          3, p);
    if (!r)
        return DH_ERR_DB;
    int found = PQntuples(r) == 1;
    if (found)
        snprintf(admin, cap, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return found;
}

int session_delete(PGconn *db, const char *token)
{
    char hash[SESSION_HASH_LEN + 1];
    session_token_hash(token, hash);
    const char *p[] = {hash};
    PGresult *r =
        db_exec(db, PGRES_COMMAND_OK, "DELETE FROM sessions WHERE token_sha256 = $1", 1, p);
    if (!r)
        return DH_ERR_DB;
    PQclear(r);
    return 0;
}
