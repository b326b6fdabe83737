/* The fuzz drivers' keyring: one key of each of the n algorithms generated into a
 * temporary directory, loaded, and the files removed (the keys live in memory from then
 * on). Aborts on any failure: a driver without keys fuzzes nothing. */
#ifndef DOCKHAND_FUZZ_RING_H
#define DOCKHAND_FUZZ_RING_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dockhand/jwt.h"

#define FUZZ_RING_MAX 4

static struct keyring *fuzz_ring(const char *const *algs, int n)
{
    char dir[] = "/tmp/dockhand-fuzz-keys.XXXXXX", names[FUZZ_RING_MAX][64], path[128];
    struct keyring *ring = NULL;

    if (n > FUZZ_RING_MAX || !mkdtemp(dir))
        abort();
    for (int i = 0; i < n; ++i)
        if (keys_generate(dir, algs[i], "fuzz", 1, names[i], sizeof(names[i])) != 0)
            abort();
    if (keyring_load(dir, KID_LIBTRUST, &ring) != 0)
        abort();
    for (int i = 0; i < n; ++i) {
        snprintf(path, sizeof(path), "%s/%s.key", dir, names[i]);
        unlink(path);
        snprintf(path, sizeof(path), "%s/%s.crt", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    return ring;
}

#endif
