/* libFuzzer driver for the one time grammar (timefmt.h).
 * Seed ideas: 0  1767322800  2026-01-02T03:04:05Z  2026-01-02 03:04:05  2026-01-02
 * 2016-12-31T23:59:60Z  2024-02-29T00:00:00.5+01:00  9999-12-31T23:59:60-23:59  2020-02-30 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/timefmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t t = -1;
    const char *why = NULL;
    int rc = timefmt_parse((const char *)data, size, &t, &why);

    if (rc < 0 && (rc != DH_ERR_INVALID || !why || !*why))
        abort();
    if (rc == 0) {
        /* Never before 1970, never past twelve digits of seconds (dates stop at 9999). */
        if (t < 0 || t > INT64_C(999999999999))
            abort();
        /* The moment printed back in the plainest form parses to itself. */
        char again[24];
        int n = snprintf(again, sizeof(again), "%lld", (long long)t);
        int64_t u = -1;
        if (n <= 12 && (timefmt_parse(again, (size_t)n, &u, NULL) != 0 || u != t))
            abort();
    }
    return 0;
}
