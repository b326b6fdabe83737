#include "dockhand/cli_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/store_err.h"

bool cli_json_out(const struct config *cfg)
{
    return strcmp(cfg->output, "json") == 0;
}

int cli_print_json(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
    if (!s) {
        fprintf(stderr, "dockhand: out of memory\n");
        return 1;
    }
    printf("%s\n", s);
    free(s);
    return 0;
}

int cli_fail(const struct store_err *err)
{
    /* Every class of store failure is exit code 1; 2 is kept for usage errors. */
    fprintf(stderr, "dockhand: %s\n", err->msg);
    return 1;
}

int cli_read_secret(const char *what, char *buf, size_t cap, size_t *len)
{
    size_t n = fread(buf, 1, cap - 1, stdin);
    if (ferror(stdin)) {
        fprintf(stderr, "dockhand: cannot read the %s from stdin\n", what);
        return 1;
    }
    if (n == cap - 1 && fgetc(stdin) != EOF) {
        fprintf(stderr, "dockhand: the %s is longer than %zu characters\n", what, cap - 2);
        return 1;
    }
    if (n && buf[n - 1] == '\n')
        n--;
    if (n && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    *len = n;
    return 0;
}
