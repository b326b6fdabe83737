/* The token realm (docs/design.md §3): GET and POST at /service/token, /token and /token/. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "dockhand/access.h"
#include "dockhand/audit_writer.h"
#include "dockhand/cidr.h"
#include "dockhand/clock.h"
#include "dockhand/credcache.h"
#include "dockhand/form.h"
#include "dockhand/hashpool.h"
#include "dockhand/jsonw.h"
#include "dockhand/keys.h"
#include "dockhand/log.h"
#include "dockhand/lookup.h"
#include "dockhand/names.h"
#include "dockhand/oidc.h"
#include "dockhand/oidc_keys.h"
#include "dockhand/pgasync.h"
#include "dockhand/ratelimit.h"
#include "dockhand/realm_creds.h"
#include "dockhand/robotcache.h"
#include "dockhand/scope.h"
#include "dockhand/secret.h"
#include "dockhand/http.h"
#include "dockhand/realm.h"
#include "dockhand/token.h"

#define REALM_GRANT_EXCHANGE "urn:ietf:params:oauth:grant-type:token-exchange"

struct token_req {
    struct http_ctx http;
    struct worker *w;
    bool post;
    struct form form;
    struct scope_list scopes;
    char client_ip[64];
    bool anonymous;
    bool offline;
    enum token_grant grant; /* for the metrics */
    struct realm_creds cred;
    unsigned char cache_key[CREDCACHE_KEY_LEN];
    /* the projects the scopes name, and the caller's access to each */
    size_t nproj;
    const char *proj_names[SCOPE_MAX_ITEMS];
    unsigned proj_bits[SCOPE_MAX_ITEMS];
    char *proj_buf; /* the names, NUL-separated */
    /* from the robot cache or the database */
    uint64_t gen; /* robot cache generation when the lookup started */
    bool found;
    int64_t robot_id;
    char *full_name;
    char *secret_hash;
    int cred_version;
    bool disabled;
    int64_t expires_at;
    bool catalog;
    int token_minutes;
    struct cidr *networks; /* where the robot may log in from; none: anywhere */
    size_t nnetworks;
    bool network_refused; /* the login came from outside them (the audit record says so) */
    char *federation;     /* the robot's rules (JSON text), NULL: none */
    /* an identity token (README "Keyless CI") */
    bool exchange; /* RFC 8693 token exchange: an identity token or nothing */
    struct oidc_token idt;
    json_t *rules;
    struct oidc_identity ident;
    bool identity; /* logged in with ident */
    /* Parked (DOCKHAND_AUDIT_OVERFLOW=block): the answer made, its audit record waiting
     * for room in the audit queue until park_until (clock_mono_ms). */
    struct token_req *park_next;
    struct audit_rec *park_rec;
    int64_t park_until;
    int park_status; /* 200: the token in park_body; 401: a refused login */
    enum token_outcome park_outcome;
    char *park_body;
    size_t park_len;
    char *park_note;
};

#define PARK_TICK_MS 5 /* how often parked requests look for room in the audit queue */

/* A worker's parked requests, oldest first (made at the first one). */
struct realm_park {
    struct event *tick;
    struct token_req *head, *tail;
};

static void treq_free(struct token_req *t)
{
    free(t->park_rec);
    if (t->park_body) {
        OPENSSL_cleanse(t->park_body, t->park_len); /* it may hold a refresh token */
        free(t->park_body);
    }
    free(t->park_note);
    form_deinit(&t->form);
    scope_list_deinit(&t->scopes);
    realm_creds_deinit(&t->cred);
    free(t->full_name);
    free(t->secret_hash);
    free(t->networks);
    free(t->federation);
    free(t->proj_buf);
    oidc_token_deinit(&t->idt);
    json_decref(t->rules);
    oidc_identity_deinit(&t->ident);
    free(t);
}

static void count(const struct token_req *t, enum token_outcome outcome)
{
    if (t->w->st->metrics_on)
        metric_add(&t->w->m.tokens[t->grant][outcome], 1);
}

static void reply_error(struct token_req *t, int status, const char *code, const char *msg)
{
    count(t, status == 401   ? TOKEN_BAD_CREDENTIALS
             : status == 429 ? TOKEN_THROTTLED
             : status == 503 ? TOKEN_DB_UNAVAILABLE
             : status >= 500 ? TOKEN_ERROR
                             : TOKEN_BAD_REQUEST);
    http_error(&t->http, status, code, msg);
    treq_free(t);
}

/* ---- waiting for room in the audit queue (DOCKHAND_AUDIT_OVERFLOW=block) ------------- */

static void send_unauthorized(struct token_req *t)
{
    /* Not distribution's default message for UNAUTHORIZED ("authentication required"):
     * docker 20.10 decodes a body with the default message to a bare error code that its
     * push retry does not recognise, and retried a dead saved login's upload for 50 s
     * (tests/e2e/test_docker_cli.py). Any other text stops it at once. */
    reply_error(t, 401, "UNAUTHORIZED", "authentication failed");
}

/* Sends a parked request's answer: its record has found room. */
static void park_answer(struct token_req *t)
{
    if (t->park_status == 401) {
        send_unauthorized(t);
        return;
    }
    count(t, t->park_outcome);
    t->http.note = t->park_note;
    http_reply(&t->http, 200, NULL, t->park_body, t->park_len);
    treq_free(t);
}

/* A parked request that found no room in time: 503, no token, no record. */
static void park_give_up(struct token_req *t)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(t->http.req);
    evhttp_remove_header(h, "WWW-Authenticate");
    evhttp_add_header(h, "Retry-After", "1");
    audit_writer_blocked(t->w->st->aw, 0, 1);
    reply_error(t, 503, "UNAVAILABLE", "the audit log is behind; try again");
}

/* Offers the parked records in order while the queue takes them; answers those taken,
 * and 503 to those whose time is up. Runs every PARK_TICK_MS while any is parked. */
static void park_tick(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    struct realm_park *p = w->park;
    int64_t now = (int64_t)clock_mono_ms();
    bool room = true;
    struct token_req **link = &p->head, *prev = NULL;
    while (*link) {
        struct token_req *t = *link;
        bool taken = room && audit_writer_offer(w->st->aw, t->park_rec);
        room = taken;
        if (!taken && now < t->park_until) {
            prev = t;
            link = &t->park_next;
            continue;
        }
        *link = t->park_next;
        if (p->tail == t)
            p->tail = prev;
        if (taken) {
            t->park_rec = NULL;
            park_answer(t);
        } else {
            park_give_up(t);
        }
    }
    if (p->head) {
        struct timeval tv = {0, PARK_TICK_MS * 1000};
        evtimer_add(p->tick, &tv);
    }
}

/* Whether this request's record rec is taken by the audit queue (then it is the queue's).
 * While requests of this worker are parked, a new one waits behind them. */
static bool audit_offer(struct token_req *t, struct audit_rec *rec)
{
    struct realm_park *p = t->w->park;
    if (p && p->head)
        return false;
    return audit_writer_offer(t->w->st->aw, rec);
}

/* Parks t with its answer (status 200: body and note; 401) until its record rec finds
 * room, at most DOCKHAND_AUDIT_BLOCK_MS. */
static void park(struct token_req *t, struct audit_rec *rec, int status, enum token_outcome outcome,
                 const char *body, size_t len, const char *note)
{
    struct worker *w = t->w;
    t->park_rec = rec;
    t->park_status = status;
    t->park_outcome = outcome;
    if (body) {
        t->park_body = malloc(len + 1);
        t->park_note = strdup(note);
        if (!t->park_body || !t->park_note) {
            reply_error(t, 500, "INTERNAL", "internal server error");
            return;
        }
        memcpy(t->park_body, body, len);
        t->park_body[len] = '\0';
        t->park_len = len;
    }
    if (!w->park) {
        struct realm_park *p = calloc(1, sizeof(*p));
        if (!p || !(p->tick = evtimer_new(w->base, park_tick, w))) {
            free(p);
            reply_error(t, 500, "INTERNAL", "internal server error");
            return;
        }
        w->park = p;
    }
    struct realm_park *p = w->park;
    t->park_until = (int64_t)clock_mono_ms() + w->st->cfg->audit_block_ms;
    t->park_next = NULL;
    if (p->tail)
        p->tail->park_next = t;
    else
        p->head = t;
    p->tail = t;
    audit_writer_blocked(w->st->aw, 1, 0);
    if (!evtimer_pending(p->tick, NULL)) {
        struct timeval tv = {0, PARK_TICK_MS * 1000};
        evtimer_add(p->tick, &tv);
    }
}

void realm_worker_deinit(struct worker *w)
{
    struct realm_park *p = w->park;
    if (!p)
        return;
    while (p->head) { /* the loop has stopped: they get their 503 now */
        struct token_req *t = p->head;
        p->head = t->park_next;
        park_give_up(t);
    }
    event_free(p->tick);
    free(p);
    w->park = NULL;
}

/* Bad credentials of every kind: the same status, header and body. */
static void reply_unauthorized(struct token_req *t)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(t->http.req);
    char hdr[1100];
    time_t now = time(NULL);

    snprintf(hdr, sizeof(hdr), "Basic realm=\"%s\"", t->w->st->realm);
    evhttp_add_header(h, "WWW-Authenticate", hdr);
    if (!t->anonymous) {
        ratelimit_fail(t->w->st->rl, t->cred.account_key, now);
        char ipkey[80];
        snprintf(ipkey, sizeof(ipkey), "i:%s", t->client_ip);
        ratelimit_fail(t->w->st->rl, ipkey, now);
        if (t->w->st->cfg->audit_tokens) {
            const char *who = t->cred.login ? t->cred.login : t->cred.account_key;
            /* A refusal for the address is told apart in the audit log (only there: the
             * client gets the same 401). */
            struct audit_entry e = {.username = who,
                                    .operation = "login_failed",
                                    .resource_type = "token",
                                    .resource = who,
                                    .client_ip = t->client_ip,
                                    .request_id = t->http.rid,
                                    .detail =
                                        t->network_refused ? "{\"reason\":\"network\"}" : NULL};
            struct audit_rec *rec = audit_rec_new(&e);
            if (!rec) {
                reply_error(t, 500, "INTERNAL", "internal server error");
                return;
            }
            if (!audit_offer(t, rec)) {
                park(t, rec, 401, TOKEN_BAD_CREDENTIALS, NULL, 0, NULL);
                return;
            }
        }
    }
    send_unauthorized(t);
}

/* Who signs and for whom, for tokens made or checked now. */
static struct token_issuer issuer(const struct token_req *t)
{
    struct keyring *ring = atomic_load(&t->w->st->ring);
    return (struct token_issuer){
        .key = &ring->keys[0], .issuer = t->w->st->cfg->issuer, .service = t->w->st->cfg->service};
}

static void lookup_done(PGresult *res, void *arg);
static void lookup_ready(struct token_req *t);
static void grant_and_reply(struct token_req *t);
static void secret_path(struct token_req *t);
static bool identity_start(struct token_req *t);
static void identity_refused(struct token_req *t, const char *why);

/* The distinct projects of the repository scopes, in t->proj_names. */
static int collect_projects(struct token_req *t)
{
    size_t used = 0, cap = 0;
    for (size_t i = 0; i < t->scopes.n; i++)
        cap += strlen(t->scopes.items[i].name) + 1; /* a project is a prefix of its scope */
    if (cap == 0)
        return 0;
    t->proj_buf = malloc(cap);
    if (!t->proj_buf)
        return DH_ERR_NOMEM;
    for (size_t i = 0; i < t->scopes.n; i++) {
        char proj[SCOPE_MAX_NAME + 1];
        if (strcmp(t->scopes.items[i].type, "repository") != 0 ||
            !scope_repo_project(t->scopes.items[i].name, proj, sizeof(proj)) || !name_valid(proj))
            continue; /* cannot exist: nothing to look up */
        bool seen = false;
        for (size_t k = 0; k < t->nproj && !seen; k++)
            seen = strcmp(t->proj_names[k], proj) == 0;
        size_t l = strlen(proj) + 1;
        if (seen || used + l > cap)
            continue;
        memcpy(t->proj_buf + used, proj, l);
        t->proj_names[t->nproj++] = t->proj_buf + used;
        used += l;
    }
    return 0;
}

static void take_robot(struct token_req *t, struct rc_robot *r)
{
    t->found = true;
    t->robot_id = r->id;
    t->full_name = r->full_name;
    t->secret_hash = r->secret_hash;
    t->cred_version = r->cred_version;
    t->disabled = r->disabled;
    t->expires_at = r->expires_at;
    t->catalog = r->catalog;
    t->token_minutes = r->token_minutes;
    t->networks = r->networks;
    t->nnetworks = r->nnetworks;
    t->federation = r->federation;
    r->full_name = r->secret_hash = r->federation = NULL;
    r->networks = NULL;
    r->nnetworks = 0;
}

static void start_lookup(struct token_req *t)
{
    struct robotcache *rcache = t->w->st->rcache;
    struct rc_robot cached;

    if (collect_projects(t) < 0) {
        reply_error(t, 500, "INTERNAL", "internal server error");
        return;
    }
    const char *login = t->anonymous || t->cred.refresh_token ? NULL : t->cred.login;
    int64_t id = t->cred.refresh_token ? t->cred.refresh_robot : 0;
    if ((login || t->anonymous || id > 0) &&
        robotcache_get(rcache, login, id, t->proj_names, t->nproj, &cached, t->proj_bits)) {
        take_robot(t, &cached);
        t->found = !t->anonymous;
        lookup_ready(t);
        return;
    }
    if (login && robotcache_get_unknown(rcache, login)) {
        t->found = false;
        lookup_ready(t);
        return;
    }
    t->gen = robotcache_generation(rcache);
    switch (lookup_start(t->w->pool, login, id, t->proj_names, t->nproj, lookup_done, t)) {
    case 0:
        break;
    case DH_ERR_TOOBIG:
        reply_error(t, 503, "UNAVAILABLE", "the database is busy; try again");
        break;
    default:
        reply_error(t, 500, "INTERNAL", "internal server error");
    }
}

static bool robot_expired(const struct token_req *t, time_t now)
{
    return t->expires_at != -1 && t->expires_at <= now;
}

/* Whether the robot may log in from the client's address: anywhere when it has no
 * networks; an address that does not parse is outside every network. */
static bool network_allowed(const struct token_req *t)
{
    struct cidr addr;
    if (t->nnetworks == 0)
        return true;
    return cidr_addr_parse(t->client_ip, &addr) == 0 &&
           cidr_list_contains(t->networks, t->nnetworks, &addr);
}

/* Every login's last step once its credential was checked (result 1: good), whatever the
 * credential was: the robot must exist, be enabled and unexpired, and the client must be
 * within its networks; anything else is the one 401. */
static void verified(int result, void *arg)
{
    struct token_req *t = arg;
    if (result != 1 || !t->found || t->disabled || robot_expired(t, time(NULL))) {
        reply_unauthorized(t);
        return;
    }
    if (!network_allowed(t)) {
        t->network_refused = true;
        reply_unauthorized(t);
        return;
    }
    if (!t->identity) /* an identity token is checked every time: it expires */
        credcache_put(t->w->st->cc, t->cache_key, t->robot_id, t->cred_version);
    ratelimit_clear(t->w->st->rl, t->cred.account_key);
    grant_and_reply(t);
}

/* A secret checked against its hash on the hash pool. */
static void hashed(int result, void *arg)
{
    struct token_req *t = arg;
    if (t->w->st->metrics_on)
        metric_add(&t->w->m.verifications[result == 1   ? VERIFY_MATCH
                                          : result == 0 ? VERIFY_MISMATCH
                                                        : VERIFY_MALFORMED],
                   1);
    verified(result, t);
}

static void lookup_done(PGresult *res, void *arg)
{
    struct token_req *t = arg;
    struct rc_robot r;
    bool found;
    switch (lookup_read(res, t->proj_names, t->nproj, &found, &r, t->proj_bits)) {
    case 0:
        break;
    case DH_ERR_DB:
        reply_error(t, 503, "UNAVAILABLE", "the database is unavailable; try again");
        return;
    default:
        reply_error(t, 500, "INTERNAL", "internal server error");
        return;
    }
    if (found || t->anonymous) {
        if (!found)
            r.full_name = r.secret_hash = (char *)"";
        /* A found robot's login is its full name only when asked by that name. */
        if (!found || !t->cred.login || strcmp(t->cred.login, r.full_name) == 0)
            robotcache_put(t->w->st->rcache, t->gen, &r, t->proj_names, t->proj_bits, t->nproj);
        if (!found)
            r.full_name = r.secret_hash = NULL;
    } else if (t->cred.login && !t->cred.refresh_token) {
        robotcache_put_unknown(t->w->st->rcache, t->gen, t->cred.login);
    }
    t->token_minutes = r.token_minutes;
    if (found)
        take_robot(t, &r);
    t->found = found;
    rc_robot_deinit(&r);
    lookup_ready(t);
}

/* Robot and project access known: check the credentials. */
static void lookup_ready(struct token_req *t)
{
    if (t->anonymous) {
        t->found = false;
        grant_and_reply(t);
        return;
    }
    if (t->cred.refresh_token) {
        verified(t->found && t->cred_version == t->cred.refresh_version ? 1 : 0, t);
        return;
    }
    if (t->found && t->federation && oidc_looks_like_jwt(t->cred.secret, t->cred.secret_len) &&
        identity_start(t))
        return;
    if (t->exchange) { /* nothing to exchange: no rule names the token's issuer */
        identity_refused(t, "no rule of this robot names the token's issuer");
        return;
    }
    secret_path(t);
}

/* The password checked as the robot's secret. */
static void secret_path(struct token_req *t)
{
    const char *hash = t->found ? t->secret_hash : secret_dummy_hash();
    /* Whatever the secret, these are refused: the check below then costs what every
     * refusal costs (secret_verify_even), and the cache is not asked. */
    bool refused = !t->found || t->disabled || robot_expired(t, time(NULL));
    credcache_key(t->cred.login, t->cred.secret, t->cred.secret_len, t->cache_key);
    if (!refused && credcache_check(t->w->st->cc, t->cache_key, t->robot_id, t->cred_version)) {
        verified(1, t);
        return;
    }
    /* Unknown names are verified against a dummy hash, and every refusal is padded to the
     * slow iterations, so no case costs less than another. */
    if (hashpool_verify(t->w->st->hp, t->w->base, t->cred.secret, t->cred.secret_len, hash, refused,
                        hashed, t) < 0)
        reply_error(t, 503, "UNAVAILABLE", "too many logins in progress; try again");
}

/* ---- identity tokens (README "Keyless CI") ----------------------------------------------- */

/* An identity token no rule accepted: logged with why (never the token), then the password
 * is tried as the robot's secret like any other (a refusal costs and says the same as a
 * wrong secret); a token exchange has no secret to try. */
static void identity_refused(struct token_req *t, const char *why)
{
    log_at(LOG_INFO, t->http.rid, "identity token for %s refused: %s%s%s", t->cred.login, why,
           t->idt.iss ? "; issuer " : "", t->idt.iss ? t->idt.iss : "");
    if (t->w->st->metrics_on)
        metric_add(&t->w->m.identities[IDENTITY_REFUSED], 1);
    oidc_identity_deinit(&t->ident);
    if (t->exchange)
        reply_unauthorized(t);
    else
        secret_path(t);
}

static void identity_keys(EVP_PKEY *key, const char *jwk_alg, const char *why, void *arg)
{
    struct token_req *t = arg;
    if (!key) {
        identity_refused(t, why);
        return;
    }
    int r = oidc_verify_signature(&t->idt, key, jwk_alg);
    EVP_PKEY_free(key);
    if (r < 0) {
        identity_refused(t, "bad signature");
        return;
    }
    if (t->w->st->metrics_on)
        metric_add(&t->w->m.identities[IDENTITY_ACCEPTED], 1);
    t->identity = true;
    verified(1, t); /* disabled and expired robots are refused there */
}

/* Starts checking the password as an identity token against the robot's rules. False when
 * it is none to check (not a token, no rule of its issuer): the caller goes on. */
static bool identity_start(struct token_req *t)
{
    const char *why = NULL;
    if (oidc_parse(t->cred.secret, t->cred.secret_len, &t->idt) < 0) {
        if (!t->exchange)
            return false;
        identity_refused(t, "not a usable JWT (format, alg, header)");
        return true;
    }
    t->rules = json_loads(t->federation, 0, NULL);
    if (!oidc_rules_name_issuer(t->rules, t->idt.iss))
        return false;
    /* The claims first (signature not checked yet): a token no rule would take costs no
     * key fetch. */
    int m = oidc_match(&t->idt, t->rules, t->w->st->cfg->service, time(NULL),
                       t->w->st->cfg->oidc_max_age, &t->ident, &why);
    if (m == DH_ERR_NOMEM) {
        reply_error(t, 500, "INTERNAL", "internal server error");
        return true;
    }
    if (m < 0) {
        identity_refused(t, why);
        return true;
    }
    if (oidc_keys_get(t->w->st->oidc, t->w->base, t->idt.iss, t->idt.kid, identity_keys, t) < 0)
        reply_error(t, 500, "INTERNAL", "internal server error");
    return true;
}

static unsigned grant_item(struct token_req *t, const struct scope_item *it)
{
    if (strcmp(it->type, "registry") == 0 && strcmp(it->name, "catalog") == 0)
        return access_catalog(it->requested, !t->anonymous && t->catalog);
    if (strcmp(it->type, "repository") != 0)
        return 0;
    char proj[SCOPE_MAX_NAME + 1];
    if (!scope_repo_project(it->name, proj, sizeof(proj)))
        return 0;
    for (size_t k = 0; k < t->nproj; k++)
        if (strcmp(t->proj_names[k], proj) == 0)
            return access_intersect(it->requested, t->proj_bits[k]);
    return 0;
}

/* The audit record of an issued token: who, what was granted, its jti; NULL when memory
 * ran out. */
static struct audit_rec *audit_issue(struct token_req *t, const char *access, const char *jti,
                                     int64_t exp)
{
    struct jsonw detail;
    jsonw_init(&detail);
    jsonw_raw(&detail, "{");
    jsonw_key(&detail, false, "jti");
    jsonw_str(&detail, jti);
    jsonw_key(&detail, true, "exp");
    jsonw_int(&detail, exp);
    jsonw_key(&detail, true, "access");
    jsonw_raw(&detail, access);
    if (t->identity) { /* who the robot was, by the identity token the rule accepted */
        char *claims = json_dumps(t->ident.claims, JSON_COMPACT | JSON_SORT_KEYS);
        jsonw_key(&detail, true, "identity");
        jsonw_raw(&detail, "{");
        jsonw_key(&detail, false, "issuer");
        jsonw_str(&detail, t->ident.issuer);
        jsonw_key(&detail, true, "subject");
        jsonw_str(&detail, t->ident.subject);
        jsonw_key(&detail, true, "claims");
        jsonw_raw(&detail, claims ? claims : "{}");
        jsonw_key(&detail, true, "exp");
        jsonw_int(&detail, t->ident.exp);
        jsonw_key(&detail, true, "rule");
        jsonw_int(&detail, t->ident.rule);
        jsonw_raw(&detail, "}");
        free(claims);
    }
    jsonw_raw(&detail, "}");
    const char *who = t->anonymous ? "" : t->full_name;
    struct audit_entry e = {.username = who,
                            .operation = "issue_token",
                            .resource_type = "token",
                            .resource = t->anonymous ? "anonymous" : who,
                            .client_ip = t->client_ip,
                            .request_id = t->http.rid,
                            .detail = jsonw_text(&detail),
                            .robot_id = t->anonymous ? 0 : t->robot_id};
    struct audit_rec *rec = detail.buf ? audit_rec_new(&e) : NULL;
    jsonw_deinit(&detail);
    return rec;
}

static void grant_and_reply(struct token_req *t)
{
    const struct config *cfg = t->w->st->cfg;
    const struct token_issuer is = issuer(t);
    time_t now = time(NULL);
    struct token tok;
    struct jsonw body;
    char *refresh = NULL;
    const char *sub = t->anonymous ? "" : t->full_name;

    token_init(&tok);
    jsonw_init(&body);
    for (size_t i = 0; i < t->scopes.n; i++)
        t->scopes.items[i].granted = grant_item(t, &t->scopes.items[i]);
    int64_t lifetime = token_lifetime(t->token_minutes, t->anonymous ? -1 : t->expires_at, now);
    if (t->identity) { /* never more than the token lifetime past the identity token's exp */
        int64_t cap = t->ident.exp + (int64_t)t->token_minutes * 60 - now;
        if (cap < lifetime)
            lifetime = cap < TOKEN_MIN_LIFETIME ? TOKEN_MIN_LIFETIME : cap;
    }
    if (token_build(&tok, &is, sub, &t->scopes, lifetime, now) < 0)
        goto fail;

    /* No refresh token for an identity login: it would outlive the identity token. */
    if (t->offline && !t->anonymous && !t->identity) {
        /* docker drops new refresh tokens: one that came in goes back out */
        const struct token_robot robot = {.name = t->full_name,
                                          .id = t->robot_id,
                                          .cred_version = t->cred_version,
                                          .expires_at = t->expires_at};
        if (t->cred.refresh_token)
            refresh = strdup(t->cred.refresh_token);
        else if (token_refresh_new(&is, &robot, now, &refresh) < 0)
            refresh = NULL;
        if (!refresh)
            goto fail;
    }

    if (token_answer(&tok, t->post, refresh, &body) < 0)
        goto fail;
    if (t->exchange) { /* RFC 8693 §2.2.1 */
        body.len--;    /* the closing brace */
        jsonw_raw(&body, ",\"issued_token_type\":\"urn:ietf:params:oauth:token-type:access_token\","
                         "\"token_type\":\"Bearer\"}");
        if (!jsonw_text(&body))
            goto fail;
    }
    size_t full = 0, none = 0;
    for (size_t i = 0; i < t->scopes.n; i++) {
        full += t->scopes.items[i].granted == t->scopes.items[i].requested;
        none += t->scopes.items[i].granted == 0;
    }
    enum token_outcome outcome = t->anonymous          ? TOKEN_ANONYMOUS
                                 : full == t->scopes.n ? TOKEN_GRANTED
                                 : none == t->scopes.n ? TOKEN_EMPTY
                                                       : TOKEN_PARTIAL;
    /* Who got what goes on the request's access log line. */
    char note[700];
    token_note(&tok, t->anonymous ? "anonymous" : sub, note, sizeof(note));
    if (cfg->audit_tokens) {
        /* No record, no token: one the queue cannot take now waits for room (block). */
        struct audit_rec *rec = audit_issue(t, jsonw_text(&tok.access), tok.jti, tok.exp);
        if (!rec)
            goto fail;
        if (!audit_offer(t, rec)) {
            park(t, rec, 200, outcome, jsonw_text(&body), body.len, note);
            goto out;
        }
    } else if (!t->anonymous) {
        audit_writer_used(t->w->st->aw, t->robot_id);
    }
    count(t, outcome);
    t->http.note = note;
    http_reply(&t->http, 200, NULL, jsonw_text(&body), body.len);
    treq_free(t);
    goto out;
fail:
    reply_error(t, 500, "INTERNAL", "internal server error");
out:
    if (refresh) {
        OPENSSL_cleanse(refresh, strlen(refresh));
        free(refresh);
    }
    if (refresh && body.buf)
        OPENSSL_cleanse(body.buf, body.cap); /* it held the refresh token */
    token_deinit(&tok);
    jsonw_deinit(&body);
}

static int add_scopes(struct token_req *t)
{
    for (size_t i = 0; i < t->form.n; i++) {
        if (strcmp(t->form.pairs[i].key, "scope") != 0)
            continue;
        int rc = scope_list_add(&t->scopes, t->form.pairs[i].value, strlen(t->form.pairs[i].value));
        if (rc == DH_ERR_TOOBIG)
            return 400;
        if (rc < 0)
            return 400;
    }
    return 0;
}

void realm_handle(struct worker *w, struct evhttp_request *req)
{
    struct token_req *t = calloc(1, sizeof(*t));
    const struct config *cfg = w->st->cfg;
    int err = 0; /* from realm_creds_*: 0 or a DH_ERR_ value */

    if (!t) {
        evhttp_send_error(req, 500, "internal server error");
        return;
    }
    t->w = w;
    http_ctx_init(&t->http, w, req);
    http_client_address(&t->http, t->client_ip, sizeof(t->client_ip));

    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_POST) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, POST");
        reply_error(t, 405, "METHOD_NOT_ALLOWED", "use GET or POST");
        return;
    }
    t->post = method == EVHTTP_REQ_POST;
    t->grant = GRANT_NONE;

    if (t->post) {
        const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
        if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0 ||
            (ct[33] != '\0' && ct[33] != ';' && ct[33] != ' ')) {
            reply_error(t, 415, "UNSUPPORTED_MEDIA_TYPE",
                        "POST needs application/x-www-form-urlencoded");
            return;
        }
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(in);
        if (len > (size_t)cfg->max_body) {
            reply_error(t, 413, "PAYLOAD_TOO_LARGE", "request body too large");
            return;
        }
        const char *body = (const char *)evbuffer_pullup(in, -1);
        if (form_parse(body ? body : "", len, &t->form) < 0) {
            reply_error(t, 400, "BAD_REQUEST", "malformed form body");
            return;
        }
    } else {
        const char *uri = evhttp_request_get_uri(req);
        const char *q = strchr(uri, '?');
        if (form_parse(q ? q + 1 : "", q ? strlen(q + 1) : 0, &t->form) < 0) {
            reply_error(t, 400, "BAD_REQUEST", "malformed query string");
            return;
        }
    }

    const char *service = form_get(&t->form, "service");
    if (service && strcmp(service, cfg->service) != 0) {
        reply_error(t, 400, "BAD_REQUEST", "unknown service");
        return;
    }
    if (add_scopes(t) != 0) {
        reply_error(t, 400, "BAD_REQUEST", "malformed or too many scopes");
        return;
    }

    if (t->post) {
        const char *grant = form_get(&t->form, "grant_type");
        const char *at = form_get(&t->form, "access_type");
        t->offline = at && strcmp(at, "offline") == 0;
        if (!grant) {
            reply_error(t, 400, "BAD_REQUEST", "grant_type is required");
            return;
        } else if (strcmp(grant, "password") == 0) {
            const char *u = form_get(&t->form, "username"), *p = form_get(&t->form, "password");
            t->grant = GRANT_PASSWORD;
            if (!u || !p) {
                reply_error(t, 400, "BAD_REQUEST", "username and password are required");
                return;
            }
            err = realm_creds_password(&t->cred, u, strlen(u), p, strlen(p));
        } else if (strcmp(grant, "refresh_token") == 0) {
            const char *rt = form_get(&t->form, "refresh_token");
            t->grant = GRANT_REFRESH;
            if (!rt || !*rt) {
                reply_error(t, 400, "BAD_REQUEST", "refresh_token is required");
                return;
            }
            t->offline = true; /* the client holds one already: hand the same back */
            const struct token_issuer is = issuer(t);
            err = realm_creds_refresh(&t->cred, &is, atomic_load(&w->st->ring), rt, time(NULL));
            if (err == DH_ERR_INVALID) {
                reply_unauthorized(t);
                return;
            }
        } else if (strcmp(grant, REALM_GRANT_EXCHANGE) == 0) {
            /* RFC 8693: the robot is client_id, the identity token subject_token */
            const char *st = form_get(&t->form, "subject_token");
            const char *stt = form_get(&t->form, "subject_token_type");
            const char *cid = form_get(&t->form, "client_id");
            t->grant = GRANT_EXCHANGE;
            t->exchange = true;
            if (!st || !stt || !cid) {
                reply_error(t, 400, "BAD_REQUEST",
                            "subject_token, subject_token_type and client_id are required");
                return;
            }
            if (strcmp(stt, "urn:ietf:params:oauth:token-type:jwt") != 0 &&
                strcmp(stt, "urn:ietf:params:oauth:token-type:id_token") != 0) {
                reply_error(t, 400, "BAD_REQUEST",
                            "subject_token_type must be urn:ietf:params:oauth:token-type:jwt");
                return;
            }
            t->offline = false;
            err = realm_creds_password(&t->cred, cid, strlen(cid), st, strlen(st));
        } else {
            reply_error(t, 400, "UNSUPPORTED_GRANT_TYPE",
                        "grant_type must be password, refresh_token or token exchange");
            return;
        }
    } else {
        const char *ot = form_get(&t->form, "offline_token");
        const char *auth =
            evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
        t->offline = ot && strcmp(ot, "true") == 0;
        if (!auth) {
            t->anonymous = true;
        } else {
            const struct token_issuer is = issuer(t);
            t->grant = GRANT_BASIC;
            err = realm_creds_basic(&t->cred, &is, atomic_load(&w->st->ring), auth, time(NULL));
            if (err == DH_ERR_NOTFOUND) {
                t->anonymous = true; /* not counted: no credentials were tried */
                reply_unauthorized(t);
                return;
            }
        }
    }
    if (err == DH_ERR_INVALID) {
        reply_error(t, 400, "BAD_REQUEST", "malformed credentials");
        return;
    }
    if (err) {
        reply_error(t, 500, "INTERNAL", "internal server error");
        return;
    }

    if (!t->anonymous) {
        int retry = 0;
        char ipkey[80];
        time_t now = time(NULL);
        snprintf(ipkey, sizeof(ipkey), "i:%s", t->client_ip);
        if (ratelimit_blocked(w->st->rl, t->cred.account_key, cfg->fail_limit_account, now,
                              &retry) ||
            ratelimit_blocked(w->st->rl, ipkey, cfg->fail_limit_address, now, &retry)) {
            char rbuf[16];
            snprintf(rbuf, sizeof(rbuf), "%d", retry);
            evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", rbuf);
            reply_error(t, 429, "TOO_MANY_REQUESTS", "too many failed logins; try again later");
            return;
        }
    }
    start_lookup(t);
}
