/* Robot secrets: generation, the manual-secret policy, the self-describing hash
 * (docs/design.md §4.3 "Secrets"). */
#pragma once
#include "dockhand/common.h"

#define SECRET_GEN_LEN 32 /* generated secret, [A-Za-z0-9] */
#define SECRET_MANUAL_MIN 8
#define SECRET_MANUAL_MAX 128
#define SECRET_MAX_LEN 1024        /* longest secret ever compared */
#define SECRET_ITER_GENERATED 4096 /* Harbor's scheme, for ≥ 190-bit secrets */
#define SECRET_ITER_MANUAL 600000  /* for people-chosen secrets */
#define SECRET_SALT_LEN 32         /* generated salt, [A-Za-z0-9] */
#define SECRET_HASH_BYTES 16       /* PBKDF2 output length (Harbor's) */
#define SECRET_HASH_MAX 256        /* longest stored hash string */

/* Fills out with SECRET_GEN_LEN characters of [A-Za-z0-9] from RAND_bytes without
 * modulo bias, with at least one upper, one lower and one digit; NUL-terminated.
 * Returns 0 or DH_ERR_CRYPTO. */
int secret_generate(char out[SECRET_GEN_LEN + 1]) DH_MUST_CHECK;

/* Random ASCII alphanumeric string of len characters (salts), NUL-terminated: out needs
 * len+1 bytes. Returns 0 or DH_ERR_CRYPTO. */
int secret_random_alnum(char *out, size_t len) DH_MUST_CHECK;

/* Manual-secret policy: 8..128 bytes, at least one upper, one lower, one digit,
 * no NUL, valid UTF-8. Returns NULL when acceptable, else a static message for the
 * user (never containing the secret). */
const char *secret_policy_check(const char *s, size_t len);

/* Hashes secret into "pbkdf2-sha256$<iterations>$<salt>$<hex>" with a fresh salt.
 * *out is heap-allocated. Returns 0, DH_ERR_NOMEM, DH_ERR_CRYPTO, or DH_ERR_INVALID for
 * iterations 0 or above 10,000,000 or a secret longer than SECRET_MAX_LEN. */
int secret_hash(const char *secret, size_t len, unsigned iterations, char **out) DH_MUST_CHECK;

/* Same with a given salt (1..128 printable ASCII characters, no '$' or space; else
 * DH_ERR_INVALID): Harbor import and tests. */
int secret_hash_salt(const char *secret, size_t len, unsigned iterations, const char *salt,
                     char **out) DH_MUST_CHECK;

/* Verifies secret against a stored hash in constant time (for equal lengths).
 * Returns 1 on match, 0 on mismatch, DH_ERR_INVALID for a malformed stored hash. */
int secret_verify(const char *secret, size_t len, const char *stored) DH_MUST_CHECK;

#define SECRET_ITER_SLOW_MIN 10000 /* lowest DOCKHAND_PASSWORD_ITERATIONS */

/* Sets the iterations of people-chosen secrets (administrator passwords, manual robot
 * secrets) and of every refusal (secret_verify_even, secret_dummy_hash): the setting
 * DOCKHAND_PASSWORD_ITERATIONS, SECRET_ITER_MANUAL unless set. Call once at start, before
 * any thread; a value outside SECRET_ITER_SLOW_MIN..SECRET_ITER_MAX is ignored. */
void secret_set_slow_iterations(unsigned iterations);
unsigned secret_slow_iterations(void);

/* A well-formed hash that matches nothing, for verifying against when the name is
 * unknown; it costs secret_slow_iterations(). Static storage. */
const char *secret_dummy_hash(void);

/* secret_verify, and when the answer will be a refusal (no match, a malformed hash, or
 * refused: the account cannot log in anyway, e.g. disabled or expired) PBKDF2 is run on
 * for the iterations the stored hash lacked up to secret_slow_iterations(), so every
 * refusal costs the same whatever the account. Same results as secret_verify. */
int secret_verify_even(const char *secret, size_t len, const char *stored,
                       bool refused) DH_MUST_CHECK;
