/* libFuzzer driver for Harbor's q grammar (query.h): arbitrary bytes as q.
 * Seed ideas: name=~lst,Level=system  op_time=[2020-01-01 00:00:00~2020-01-02T00:00:00Z]
 * k={a b c}  t=[a~[b]]  name=%E2%82%AC  ,,a=1,,  x=~[y]  t=[%7E~]  a=(b c) */
#include <stdlib.h>
#include <string.h>

#include "dockhand/query.h"
#include "dockhand/timefmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct query q;
    char err[QUERY_ERR_LEN];
    int rc = query_parse(&q, (const char *)data, size, err);

    /* A failure says why; a success keeps every bound and gives C strings. */
    if (rc < 0 && (!*err || strlen(err) >= QUERY_ERR_LEN))
        abort();
    if (rc == 0) {
        if (q.n > QUERY_MAX_TERMS)
            abort();
        for (size_t i = 0; i < q.n; i++) {
            const struct query_term *t = &q.t[i];
            size_t klen = strlen(t->key);
            if (!klen || klen > QUERY_MAX_KEY || t->n < 1 || t->n > QUERY_MAX_SET ||
                (t->kind == QUERY_RANGE && t->n != 2))
                abort();
            for (size_t j = 0; j < t->n; j++) {
                if (strlen(t->v[j]) > QUERY_MAX_VALUE)
                    abort();
                /* What the audit handler does with a range's bounds. */
                int64_t when = -1;
                if (t->kind == QUERY_RANGE &&
                    timefmt_parse(t->v[j], strlen(t->v[j]), &when, NULL) == 0 && when < 0)
                    abort();
            }
        }
    }
    query_deinit(&q);
    return 0;
}
