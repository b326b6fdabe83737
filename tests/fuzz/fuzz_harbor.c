/* libFuzzer driver for the Harbor import file (harbor.h): arbitrary bytes as the export,
 * through the import's first pass (every check, no database). Oracles: every row is either
 * stored or skipped, what would be stored is complete and validly named, and no answer
 * depends on a secret's or salt's value (the same file with every secret and salt changed,
 * character class for character class, gives the same answer word for word: nothing
 * quotes them). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/harbor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char rotate(char c)
{
    if (c >= '0' && c <= '9')
        return c == '9' ? '0' : (char)(c + 1);
    if (c >= 'a' && c <= 'z')
        return c == 'f' ? 'a' : c == 'z' ? 'g' : (char)(c + 1);
    if (c >= 'A' && c <= 'Z')
        return c == 'F' ? 'A' : c == 'Z' ? 'G' : (char)(c + 1);
    return c;
}

static void change(json_t *row, const char *key)
{
    json_t *v = json_object_get(row, key);
    if (!json_is_string(v))
        return;
    size_t n = json_string_length(v);
    char *s = malloc(n + 1);
    if (!s)
        abort();
    memcpy(s, json_string_value(v), n);
    for (size_t i = 0; i < n; i++)
        s[i] = rotate(s[i]);
    json_object_set_new(row, key, json_stringn(s, n));
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct harbor_import_check c, c2;
    struct store_err err = {0}, err2 = {0};
    int rc = harbor_import_check((const char *)data, size, &c, &err);

    if (rc == 0 && (c.rows != c.to_store + c.skipped || c.legacy > c.to_store ||
                    c.inconsistent != 0 || c.rows > HARBOR_IMPORT_MAX_ROBOTS))
        __builtin_trap();
    if (rc < 0 && (!err.msg[0] || (rc != DH_ERR_INVALID && rc != DH_ERR_EXISTS)))
        __builtin_trap();

    json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL), *row;
    json_t *rows = json_object_get(doc, "harbor_robots");
    size_t i;
    if (!json_is_array(rows))
        goto out;
    json_array_foreach(rows, i, row)
    {
        change(row, "secret");
        change(row, "salt");
    }
    char *text = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text)
        goto out;
    int rc2 = harbor_import_check(text, strlen(text), &c2, &err2);
    if (rc2 != rc || strcmp(err.msg, err2.msg) != 0 ||
        (rc == 0 && (c.to_store != c2.to_store || c.skipped != c2.skipped)))
        __builtin_trap();
    free(text);
out:
    json_decref(doc);
    return 0;
}
