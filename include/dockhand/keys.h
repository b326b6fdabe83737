/* Signing keys: loading a keys directory once, key IDs, the published bundle and
 * JWKS, and `dockhand keygen` (docs/design.md §3.7 "The JWT"). */
#pragma once
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <time.h>
#include "dockhand/common.h"

#define KEYS_MAX 16 /* key pairs in one directory */

enum key_alg { KEY_ES256, KEY_ES384, KEY_RS256 };
enum kid_format { KID_LIBTRUST, KID_JWK_THUMBPRINT };

struct sign_key {
    EVP_PKEY *pkey;    /* parsed once, owned */
    X509 *cert;        /* owned */
    enum key_alg alg;  /* from the key type: P-256 ES256, P-384 ES384, RSA RS256 */
    char kid[64];      /* libtrust (48+11 chars) or RFC 7638 thumbprint (43 chars) */
    time_t not_before; /* the certificate's notBefore: the newest key signs */
    char name[256];    /* file base name, for logs */
    /* base64url of {"typ":"JWT","alg":…,"kid":…}: every token's first part, made at load */
    char jws_header[192];
    size_t jws_header_len;
};

struct keyring {
    struct sign_key keys[KEYS_MAX]; /* keys[0] is the newest and signs */
    size_t n;
    char *certs_pem; /* every certificate, PEM, newest first: /keys/certs.pem */
    char *jwks_json; /* {"keys":[...]} with kid, kty, crv/x/y or n/e, alg, use: /keys/jwks.json */
};

/* Loads every "<name>.key" + "<name>.crt" pair in dir (a .key without its .crt is an
 * error), computing kids in fmt. Fails with DH_ERR_NOTFOUND when dir has no pair,
 * DH_ERR_INVALID for unreadable/unsupported keys or a certificate that does not match
 * its key, DH_ERR_TOOBIG over KEYS_MAX. On failure *out is NULL. */
int keyring_load(const char *dir, enum kid_format fmt, struct keyring **out) DH_MUST_CHECK;

/* Frees the ring; accepts NULL. */
void keyring_free(struct keyring *ring);

/* The key whose kid is kid, or NULL. */
const struct sign_key *keyring_find(const struct keyring *ring, const char *kid);

/* libtrust key ID: SHA-256 of the SubjectPublicKeyInfo DER, first 30 bytes, base32,
 * 12 groups of 4 joined with ':'. out needs 60 bytes. */
int key_kid_libtrust(EVP_PKEY *pkey, char *out, size_t outcap) DH_MUST_CHECK;

/* RFC 7638 JWK thumbprint (SHA-256, base64url). out needs 44 bytes. */
int key_kid_thumbprint(EVP_PKEY *pkey, char *out, size_t outcap) DH_MUST_CHECK;

/* "ES256", "ES384" or "RS256". */
const char *key_alg_name(enum key_alg alg);

/* Writes a new key (alg "ES256" | "ES384" | "RS256"; NULL means ES256) and a self-signed
 * certificate valid for days, as dir/<name>.key (mode 0600) and dir/<name>.crt, where name
 * is "dockhand-<UTC timestamp>" (plus "-N" when taken). Creates dir (0700) if missing.
 * Copies the base name into name_out when non-NULL (name_cap ≥ 32). Returns 0,
 * DH_ERR_INVALID for bad arguments, DH_ERR_CRYPTO, or -errno from the file system. */
int keys_generate(const char *dir, const char *alg, const char *common_name, int days,
                  char *name_out, size_t name_cap) DH_MUST_CHECK;
