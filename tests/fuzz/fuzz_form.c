/* libFuzzer driver: form_parse on arbitrary bytes (query strings and POST bodies). */
#include <stdint.h>
#include <string.h>

#include "dockhand/form.h"
#include "dockhand/encoding.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct form f;

    if (form_parse((const char *)data, size, &f) != 0)
        return 0;
    for (size_t i = 0; i < f.n; ++i) {
        /* Every decoded string is NUL-free UTF-8 and the lookup finds the first. */
        if (!utf8_valid(f.pairs[i].key, strlen(f.pairs[i].key)) ||
            !utf8_valid(f.pairs[i].value, strlen(f.pairs[i].value)) ||
            !form_get(&f, f.pairs[i].key))
            __builtin_trap();
    }
    form_deinit(&f);
    return 0;
}
