/* The signing keys of OpenID Connect issuers, fetched and cached per issuer (README
 * "Keyless CI"). Discovery (<issuer>/.well-known/openid-configuration → jwks_uri) and the
 * JWKS are fetched over HTTPS (certificate and host name checked against the system's trust
 * store or a CA file) by fetcher threads with blocking-free deadlines, never on an event
 * loop; the answer goes back to the loop that asked. One fetch per issuer at a time (others
 * wait for it), keys kept for the JWKS's Cache-Control max-age within bounds, a kid not in
 * the set refetched at most once per interval, a failed fetch not retried within that
 * interval (logins of that issuer fail at once meanwhile). */
#pragma once
#include <event2/event.h>
#include <openssl/evp.h>
#include <stdint.h>

#include "dockhand/common.h"

#define OIDC_DISCOVERY_MAX (64 * 1024) /* bytes of a discovery document */
#define OIDC_JWKS_MAX (256 * 1024)     /* bytes of a JWKS */
#define OIDC_ISSUERS_MAX 1024          /* issuers cached (more: refused, logged) */
#define OIDC_WAITERS_MAX 4096          /* logins waiting for one issuer's fetch */
#define OIDC_FETCH_THREADS 4           /* fetches in flight at once (different issuers) */
#define OIDC_KEYS_TTL_MIN 300          /* seconds: Cache-Control max-age bounds */
#define OIDC_KEYS_TTL_MAX 86400
#define OIDC_KEYS_TTL_DEFAULT 3600 /* without Cache-Control */

struct oidc_keys_config {
    const char *ca_file; /* NULL: the system's trust store */
    int timeout_ms;      /* whole fetch (discovery + JWKS), connect included */
    int refetch_s;       /* least time between two fetches of an issuer's keys */
};

struct oidc_keys;

/* key: a reference for the callback to EVP_PKEY_free, NULL on failure; jwk_alg: the JWK's
 * alg, or NULL (valid during the call); why: the failure, static text. Runs on the loop
 * that asked (or inside oidc_keys_get itself when the answer is known at once). */
typedef void (*oidc_keys_cb)(EVP_PKEY *key, const char *jwk_alg, const char *why, void *arg);

struct oidc_keys *oidc_keys_new(const struct oidc_keys_config *cfg);
/* Stops the fetchers after their fetches end (bounded by the timeout). Accepts NULL. */
void oidc_keys_free(struct oidc_keys *k);

/* The key kid of issuer, for a login on base's loop. Returns 0 (cb runs exactly once,
 * perhaps before this returns), or DH_ERR_NOMEM (cb does not run). */
int oidc_keys_get(struct oidc_keys *k, struct event_base *base, const char *issuer, const char *kid,
                  oidc_keys_cb cb, void *arg) DH_MUST_CHECK;

struct oidc_keys_stats {
    uint64_t fetches_ok, fetches_failed; /* JWKS fetches (discovery included) */
    uint64_t refetches_refused;          /* unknown kids not refetched: interval not over */
    uint64_t issuers;                    /* issuers held now */
};
void oidc_keys_stats(struct oidc_keys *k, struct oidc_keys_stats *s);

/* The blocking HTTPS GET the fetchers use, for tests: url must be https://host[:port]/path.
 * Reads at most max bytes of body within timeout_ms. Returns 0 with *body (malloc'd, NUL
 * terminated) and *max_age (-1 when no Cache-Control max-age), or DH_ERR_INVALID with why. */
int oidc_https_get(const char *url, const char *ca_file, int timeout_ms, size_t max, char **body,
                   size_t *len, long *max_age, const char **why) DH_MUST_CHECK;
