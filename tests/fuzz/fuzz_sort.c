/* libFuzzer driver for the sort grammar (query.h) against the robot list's columns.
 * Seed ideas: name  -creation_time  name,id  -  --name  name,  ,name  name,-name  Name */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const cols[] = {"name", "creation_time", "expires_at", "update_time", "id"};
    struct query_sort s;
    char err[QUERY_ERR_LEN];
    int rc = query_sort_parse(&s, (const char *)data, size, cols, DH_ARRAY_SIZE(cols), err);

    if (rc < 0 && (!*err || strlen(err) >= QUERY_ERR_LEN))
        abort();
    /* A success names known columns, each once, and spells the input back exactly. */
    if (rc == 0) {
        char again[256] = "";
        size_t len = 0;
        for (size_t i = 0; i < s.n; i++) {
            if (s.k[i].col >= DH_ARRAY_SIZE(cols))
                abort();
            for (size_t j = 0; j < i; j++)
                if (s.k[j].col == s.k[i].col)
                    abort();
            len += (size_t)snprintf(again + len, sizeof(again) - len, "%s%s%s", i ? "," : "",
                                    s.k[i].desc ? "-" : "", cols[s.k[i].col]);
        }
        if (len != size || memcmp(again, data, size) != 0)
            abort();
    }
    return 0;
}
