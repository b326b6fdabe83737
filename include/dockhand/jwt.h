/* JWT assembly and verification with a cached EVP_PKEY (no PEM parsing per token). */
#pragma once
#include <jansson.h>
#include "dockhand/common.h"
#include "dockhand/keys.h"

#define JWT_MAX_LEN (64 * 1024) /* longest token accepted for verification */

/* Signs claims (a JSON object text of claims_len bytes) with key:
 * base64url(header) "." base64url(claims) "." base64url(signature), where the header
 * is {"typ":"JWT","alg":<key alg>,"kid":<key kid>} and ECDSA signatures are raw R‖S
 * (64 bytes for P-256, 96 for P-384). *out is heap-allocated.
 * Returns 0, DH_ERR_NOMEM or DH_ERR_CRYPTO. */
int jwt_sign(const struct sign_key *key, const char *claims, size_t claims_len,
             char **out) DH_MUST_CHECK;

/* Decodes one base64url segment (len bytes) and parses it as a JSON object, duplicate
 * members refused so that no two readers can disagree on a value. NULL for anything else
 * (caller decrefs). dockhand's own tokens and identity tokens (oidc.c) are read with it. */
json_t *jwt_segment_object(const char *seg, size_t len);

/* Verifies token's signature with the key of ring named by its header's kid (alg must
 * match that key) and returns the decoded claims object in *claims (caller decrefs).
 * Does not check exp/aud: the caller does. Returns 0, or DH_ERR_INVALID for anything
 * malformed, unknown kid, or a bad signature. */
int jwt_verify(const struct keyring *ring, const char *token, size_t len,
               json_t **claims) DH_MUST_CHECK;
