/* libFuzzer driver: jwt_verify against a keyring generated once into a temporary dir. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dockhand/jwt.h"
#include "fuzz_ring.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct keyring *ring;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *const algs[] = {"ES256", "RS256"};

    (void)argc;
    (void)argv;
    ring = fuzz_ring(algs, 2);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *claims = NULL;

    if (jwt_verify(ring, (const char *)data, size, &claims) == 0)
        json_decref(claims);
    return 0;
}
