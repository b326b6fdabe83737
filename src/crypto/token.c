#include "dockhand/token.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "dockhand/encoding.h"
#include "dockhand/jwt.h"

void token_init(struct token *tok)
{
    /* Not a memset: the scope field alone is 43 KB, and the token path writes it anyway. */
    tok->jwt = NULL;
    tok->jti[0] = '\0';
    tok->iat = tok->exp = tok->lifetime = 0;
    jsonw_init(&tok->access);
    jsonw_init(&tok->claims);
    tok->scope[0] = '\0';
}

void token_deinit(struct token *tok)
{
    free(tok->jwt);
    tok->jwt = NULL;
    jsonw_deinit(&tok->access);
    jsonw_deinit(&tok->claims);
}

int64_t token_lifetime(int token_minutes, int64_t robot_expires_at, time_t now)
{
    int64_t lifetime = (int64_t)(token_minutes > 0 ? token_minutes : TOKEN_DEFAULT_MINUTES) * 60;
    if (robot_expires_at != -1 && robot_expires_at - now < lifetime)
        lifetime = robot_expires_at - now;
    return lifetime < TOKEN_MIN_LIFETIME ? TOKEN_MIN_LIFETIME : lifetime;
}

/* issued_at: formatted once a second per thread */
static void rfc3339(time_t t, char out[32])
{
    static __thread time_t last = -1;
    static __thread char text[32];
    if (t != last) {
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
        last = t;
    }
    memcpy(out, text, sizeof(text));
}

/* A token id: 128 random bits, base64url. Taken from a per-thread pool filled by one
 * RAND_bytes call per JTI_POOL ids: the call's fixed cost (locks, the generator's reseed
 * check) was most of a 16-byte request, 2 % of a warm token's instructions. */
#define JTI_POOL 64
static void jti_new(char out[32])
{
    static __thread unsigned char pool[16 * JTI_POOL];
    static __thread size_t used = sizeof(pool);
    if (used == sizeof(pool)) {
        if (RAND_bytes(pool, sizeof(pool)) != 1)
            abort(); /* no randomness: nothing safe to do */
        used = 0;
    }
    b64url_encode(pool + used, 16, out);
    used += 16;
}

/* Appends parts to out[len..] (cap bytes in all), cut at cap - 1, NUL-terminated; returns
 * the new length. */
static size_t join(char *out, size_t cap, size_t len, const char *const *parts, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        size_t w = strnlen(parts[k], cap - 1 - len);
        memcpy(out + len, parts[k], w);
        len += w;
    }
    out[len] = '\0';
    return len;
}

/* The access claim, [{"type","name","actions"[,"class"]}, …], one entry per scope
 * (granted nothing: empty actions), and the granted scopes space-joined for "scope":
 * one pass over the items writes both. */
static void access_claim(const struct scope_list *scopes, struct jsonw *access, char *scope_out,
                         size_t cap)
{
    size_t scope_len = 0;
    scope_out[0] = '\0';
    jsonw_raw(access, "[");
    for (size_t i = 0; i < scopes->n; i++) {
        const struct scope_item *it = &scopes->items[i];
        char acts[32];
        scope_actions_format(it->granted, acts);
        jsonw_raw(access, i ? ",{\"type\":" : "{\"type\":");
        jsonw_str(access, it->type);
        jsonw_raw(access, ",\"name\":");
        jsonw_str(access, it->name);
        jsonw_raw(access, ",\"actions\":[");
        bool first = true;
        for (char *save = NULL, *a = strtok_r(acts, ",", &save); a;
             a = strtok_r(NULL, ",", &save)) {
            if (!first)
                jsonw_raw(access, ",");
            jsonw_str(access, a);
            first = false;
        }
        jsonw_raw(access, "]");
        if (it->cls) {
            jsonw_raw(access, ",\"class\":");
            jsonw_str(access, it->cls);
        }
        jsonw_raw(access, "}");
        if (it->granted) {
            /* [" "]type["(" class ")"]":"name":"actions; the buffer holds SCOPE_MAX_ITEMS
             * of the longest. acts again: strtok_r cut it up. */
            scope_actions_format(it->granted, acts);
            const char *parts[] = {scope_len ? " " : "",
                                   it->type,
                                   it->cls ? "(" : "",
                                   it->cls ? it->cls : "",
                                   it->cls ? ")" : "",
                                   ":",
                                   it->name,
                                   ":",
                                   acts};
            scope_len = join(scope_out, cap, scope_len, parts, DH_ARRAY_SIZE(parts));
        }
    }
    jsonw_raw(access, "]");
}

int token_build(struct token *tok, const struct token_issuer *is, const char *sub,
                const struct scope_list *scopes, int64_t lifetime, time_t now)
{
    struct jsonw *claims = &tok->claims;

    access_claim(scopes, &tok->access, tok->scope, sizeof(tok->scope));
    tok->iat = now;
    tok->lifetime = lifetime;
    tok->exp = now + lifetime;
    jti_new(tok->jti);
    /* constant keys written raw; jti is base64url, nothing to escape */
    jsonw_raw(claims, "{\"iss\":");
    jsonw_str(claims, is->issuer);
    jsonw_raw(claims, ",\"sub\":");
    jsonw_str(claims, sub);
    jsonw_raw(claims, ",\"aud\":");
    jsonw_str(claims, is->service);
    jsonw_raw(claims, ",\"exp\":");
    jsonw_int(claims, tok->exp);
    jsonw_raw(claims, ",\"nbf\":");
    jsonw_int(claims, now);
    jsonw_raw(claims, ",\"iat\":");
    jsonw_int(claims, now);
    jsonw_raw(claims, ",\"jti\":\"");
    jsonw_raw(claims, tok->jti);
    jsonw_raw(claims, "\",\"access\":");
    jsonw_raw(claims, jsonw_text(&tok->access) ? jsonw_text(&tok->access) : "");
    jsonw_raw(claims, "}");
    if (!jsonw_text(&tok->access) || !jsonw_text(claims))
        return DH_ERR_INVALID;
    return jwt_sign(is->key, claims->buf, claims->len, &tok->jwt);
}

int token_answer(const struct token *tok, bool with_scope, const char *refresh, struct jsonw *body)
{
    char issued[32];
    rfc3339((time_t)tok->iat, issued);
    jsonw_raw(body, "{");
    /* base64url and dots: nothing in a token needs escaping */
    jsonw_raw(body, "\"token\":\"");
    jsonw_raw(body, tok->jwt);
    jsonw_raw(body, "\",\"access_token\":\"");
    jsonw_raw(body, tok->jwt);
    jsonw_raw(body, "\",\"expires_in\":");
    jsonw_int(body, tok->lifetime);
    jsonw_raw(body, ",\"issued_at\":");
    jsonw_str(body, issued);
    if (with_scope) {
        jsonw_raw(body, ",\"scope\":");
        jsonw_str(body, tok->scope);
    }
    if (refresh) {
        jsonw_raw(body, ",\"refresh_token\":\"");
        jsonw_raw(body, refresh);
        jsonw_raw(body, "\"");
    }
    jsonw_raw(body, "}");
    return jsonw_text(body) ? 0 : DH_ERR_NOMEM;
}

size_t token_note(const struct token *tok, const char *who, char *out, size_t cap)
{
    const char *parts[] = {"token for ", who, " granted ", tok->scope[0] ? tok->scope : "-"};
    return join(out, cap, 0, parts, DH_ARRAY_SIZE(parts));
}

/* Refresh tokens come once per login, not per pull: a jansson tree is fine here. */
int token_refresh_new(const struct token_issuer *is, const struct token_robot *robot, time_t now,
                      char **out)
{
    char jti[32];
    int r = DH_ERR_NOMEM;

    *out = NULL;
    jti_new(jti);
    json_t *rc =
        json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:i}", "iss", is->issuer, "sub", robot->name,
                  "aud", is->service, "iat", (json_int_t)now, "jti", jti, "typ", "refresh", "rid",
                  (json_int_t)robot->id, "ver", robot->cred_version);
    if (rc && robot->expires_at != -1 &&
        json_object_set_new(rc, "exp", json_integer(robot->expires_at)) < 0)
        goto out;
    char *text = rc ? json_dumps(rc, JSON_COMPACT) : NULL;
    if (text) {
        r = jwt_sign(is->key, text, strlen(text), out);
        free(text);
    }
out:
    json_decref(rc);
    return r;
}

int token_refresh_parse(const struct token_issuer *is, const struct keyring *ring, const char *tok,
                        size_t len, time_t now, int64_t *robot_id, int *cred_version)
{
    json_t *claims = NULL;
    int r = DH_ERR_INVALID;

    if (jwt_verify(ring, tok, len, &claims) < 0)
        return DH_ERR_INVALID;
    const char *typ = json_string_value(json_object_get(claims, "typ"));
    const char *aud = json_string_value(json_object_get(claims, "aud"));
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    json_t *rid = json_object_get(claims, "rid"), *ver = json_object_get(claims, "ver");
    json_t *exp = json_object_get(claims, "exp");
    if (typ && strcmp(typ, "refresh") == 0 && aud && strcmp(aud, is->service) == 0 && iss &&
        strcmp(iss, is->issuer) == 0 && json_is_integer(rid) && json_is_integer(ver) &&
        (!exp || (json_is_integer(exp) && json_integer_value(exp) > now))) {
        *robot_id = json_integer_value(rid);
        *cred_version = (int)json_integer_value(ver);
        r = 0;
    }
    json_decref(claims);
    return r;
}
