/* libFuzzer driver: jwt_verify against a keyring generated once into a temporary dir. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dockhand/jwt.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct keyring *ring;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char dir[] = "/tmp/dockhand-fuzz-jwt.XXXXXX", names[2][64], path[128];
    static const char *const algs[] = {"ES256", "RS256"};

    (void)argc;
    (void)argv;
    if (!mkdtemp(dir))
        abort();
    for (int i = 0; i < 2; ++i)
        if (keys_generate(dir, algs[i], "fuzz", 1, names[i], sizeof(names[i])) != 0)
            abort();
    if (keyring_load(dir, KID_LIBTRUST, &ring) != 0)
        abort();
    /* The keys live in memory from here on. */
    for (int i = 0; i < 2; ++i) {
        snprintf(path, sizeof(path), "%s/%s.key", dir, names[i]);
        unlink(path);
        snprintf(path, sizeof(path), "%s/%s.crt", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *claims = NULL;

    if (jwt_verify(ring, (const char *)data, size, &claims) == 0)
        json_decref(claims);
    return 0;
}
