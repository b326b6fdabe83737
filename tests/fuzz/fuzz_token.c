/* libFuzzer driver for token assembly: "sub\nscopes" bytes, every scope granted what it asks;
 * the token must verify and hold each item's name in order, or sub was not UTF-8. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dockhand/encoding.h"
#include "dockhand/jwt.h"
#include "dockhand/token.h"
#include "fuzz_ring.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct keyring *ring;
static struct token tok; /* static: 43 KB of scope field */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const algs[] = {"ES256"};
    (void)argc;
    (void)argv;
    ring = fuzz_ring(algs, 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct token_issuer is = {.key = &ring->keys[0], .issuer = "i", .service = "s"};
    const char *nl = memchr(data, '\n', size);
    const char *scopes = nl ? nl + 1 : (const char *)data;
    char *sub = strndup((const char *)data, nl ? (size_t)(nl - (const char *)data) : 0);
    struct scope_list l = {0};
    json_t *claims = NULL;

    if (!sub || scope_list_add(&l, scopes, size - (size_t)(scopes - (const char *)data)) != 0)
        goto out;
    for (size_t i = 0; i < l.n; i++)
        l.items[i].granted = l.items[i].requested;
    token_init(&tok);
    int r = token_build(&tok, &is, sub, &l, 60, 1700000000);
    if (r != 0 && !(r == DH_ERR_INVALID && !utf8_valid(sub, strlen(sub))))
        abort();
    if (r == 0 && jwt_verify(ring, tok.jwt, strlen(tok.jwt), &claims) != 0)
        abort();
    json_t *acc = json_object_get(claims, "access");
    if (r == 0 && json_array_size(acc) != l.n)
        abort();
    for (size_t i = 0; r == 0 && i < l.n; i++) {
        const char *name = json_string_value(json_object_get(json_array_get(acc, i), "name"));
        if (!name || strcmp(name, l.items[i].name) != 0)
            abort();
    }
    json_decref(claims);
    token_deinit(&tok);
out:
    scope_list_deinit(&l);
    free(sub);
    return 0;
}
