/* libFuzzer driver for the sort grammar (query.h) against the robot list's columns, then
 * the robot list's own check (api_parse_robot_sort: one column, nothing naming a secret).
 * The project and audit lists take no sort.
 * Seed ideas: name  -creation_time  name,id  -  --name  name,  ,name  name,-name  Name */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/api_parse.h"
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
    /* The handler's check: what it takes, the grammar took, with one column. */
    if (!memchr(data, '\0', size)) {
        char *text = strndup((const char *)data, size), why[API_WHY_LEN] = "";
        if (!text)
            abort();
        int r = api_parse_robot_sort(text, why);
        if ((r == 0 && (rc != 0 || s.n > 1 || strcasestr(text, "secret"))) ||
            (r < 0 && (r != DH_ERR_INVALID || !*why)))
            abort();
        free(text);
    }
    return 0;
}
