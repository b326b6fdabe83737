/* libFuzzer driver for the scope grammar: arbitrary bytes, added twice. */
#include <stdlib.h>

#include "dockhand/scope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct scope_list l = {0};
    int r1 = scope_list_add(&l, (const char *)data, size);
    size_t n1 = l.n;
    int r2 = scope_list_add(&l, (const char *)data, size);

    /* A failure changes nothing; adding the same value again only merges. */
    if ((r1 != 0 && n1 != 0) || r1 != r2 || l.n != n1 || l.n > SCOPE_MAX_ITEMS)
        abort();
    scope_list_deinit(&l);
    return 0;
}
