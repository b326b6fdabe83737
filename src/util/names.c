/* Robot and project names, and the login-name prefix (docs/design.md §4.2 "Names"). */
#include "dockhand/names.h"

#include <stdlib.h>
#include <string.h>

static bool names_is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool names_is_sep(char c)
{
    return c == '.' || c == '_' || c == '-';
}

bool name_valid(const char *name)
{
    size_t i;

    if (!name)
        return false;
    /* ^[a-z0-9]+(?:[._-][a-z0-9]+)*$ as a loop: a run of [a-z0-9], then any number
     * of one separator followed by another non-empty run. */
    for (i = 0; name[i]; i++) {
        if (i >= NAME_MAX_LEN)
            return false;
        if (names_is_alnum(name[i]))
            continue;
        if (!names_is_sep(name[i]))
            return false;
        /* A separator needs a run on both sides; checking the byte after it also
         * rules out two separators in a row. */
        if (i == 0 || !names_is_alnum(name[i + 1]))
            return false;
    }
    return i > 0;
}

bool name_prefix_valid(const char *prefix)
{
    size_t i;

    if (!prefix)
        return false;
    for (i = 0; prefix[i]; i++) {
        unsigned char c = (unsigned char)prefix[i];

        if (i >= PREFIX_MAX_LEN)
            return false;
        /* Printable ASCII without space; ':' would end the Basic user name early. */
        if (c <= 0x20 || c >= 0x7f || c == ':')
            return false;
    }
    return i > 0;
}

char *name_project_robot(const char *project, const char *name)
{
    size_t pn, nn;
    char *out;

    if (!name_valid(project) || !name_valid(name))
        return NULL;
    pn = strlen(project);
    nn = strlen(name);
    out = malloc(pn + 1 + nn + 1);
    if (!out)
        return NULL;
    memcpy(out, project, pn);
    out[pn] = '+';
    memcpy(out + pn + 1, name, nn + 1);
    return out;
}

const char *name_strip_prefix(const char *login, const char *prefix)
{
    size_t pn;

    if (!login || !prefix || !prefix[0])
        return NULL;
    if (strnlen(login, LOGIN_MAX_LEN + 1) > LOGIN_MAX_LEN)
        return NULL;
    pn = strlen(prefix);
    if (strncmp(login, prefix, pn) != 0 || login[pn] == '\0')
        return NULL;
    return login + pn;
}
