#include "dockhand/store_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockhand/db.h"
#include "dockhand/encoding.h"

char *store_id_text(char buf[STORE_ID_TEXT], int64_t id)
{
    snprintf(buf, STORE_ID_TEXT, "%" PRId64, id);
    return buf;
}

char *store_dup_or_null(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : strdup(PQgetvalue(res, row, col));
}

bool store_all_digits(const char *s)
{
    if (!*s || strlen(s) > 18)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

bool store_text_ok(const char *s, size_t max)
{
    size_t len = strlen(s);
    if (len > max || !utf8_valid(s, len))
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 && s[i] != '\n' && s[i] != '\t')
            return false;
    return true;
}

size_t store_utf8_prefix(const char *s, size_t max)
{
    size_t len = strnlen(s, max + 1);
    if (len <= max)
        return len;
    len = max;
    while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
        len--;
    return len;
}

int store_rows(PGconn *db, const char *sql, int n, const char *const *params)
{
    PGresult *res = db_exec(db, PGRES_TUPLES_OK, sql, n, params);
    if (!res)
        return DH_ERR_DB;
    int rows = PQntuples(res);
    PQclear(res);
    return rows;
}

int store_id_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int store_list_read(const PGresult *res, size_t elem_size, store_row_fn from_row,
                    store_list_free_fn free_list, void **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int rows = PQntuples(res), rc = 0;
    size_t filled = 0;
    unsigned char *list = calloc((size_t)rows + 1, elem_size);
    if (!list)
        return DH_ERR_NOMEM;
    for (int i = 0; rc == 0 && i < rows; i++) {
        rc = from_row(res, i, list + (size_t)i * elem_size);
        filled = (size_t)i + 1; /* a failed row may hold part of its copies */
    }
    if (rc < 0) {
        free_list(list, filled);
        return rc;
    }
    *out = list;
    *n = filled;
    return 0;
}
