/* libFuzzer driver: identity tokens (README "Keyless CI") — what any client may send as the
 * password of a robot with federation rules: oidc_parse, then oidc_match against fixed rules
 * (patterns, JSON pointers, times, audiences); and, with a first byte of 'J', one JWK (as an
 * issuer's JWKS holds them) turned into a key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/oidc.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *rules;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    rules = json_loads(
        "[{\"issuer\":\"https://i\",\"audience\":null,\"subject\":\"repo:*:ref:*\","
        "\"claims\":{\"ref_protected\":\"true\",\"/kubernetes.io/namespace\":\"c*i\","
        "\"runner_id\":\"1*\",\"/a~1b/~0c\":\"*x*y*\"}},"
        "{\"issuer\":\"https://i\",\"audience\":\"aud\",\"subject\":\"*\",\"claims\":{}}]",
        0, NULL);
    if (!rules)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] == 'J') {
        json_t *jwk = json_loadb((const char *)data + 1, size - 1, 0, NULL);
        EVP_PKEY_free(oidc_jwk_key(jwk));
        json_decref(jwk);
        return 0;
    }
    struct oidc_token t;
    struct oidc_identity id;
    const char *why;
    (void)oidc_looks_like_jwt((const char *)data, size);
    if (oidc_parse((const char *)data, size, &t) != 0)
        return 0;
    (void)oidc_rules_name_issuer(rules, t.iss);
    if (oidc_match(&t, rules, "svc", 1700000000, 3600, &id, &why) >= 0)
        oidc_identity_deinit(&id);
    oidc_token_deinit(&t);
    return 0;
}
