/* Helpers the store's modules share (src/store/ only: the layers above see structs, not
 * SQL): how a timestamp column is read, text and id checks, result-row copies. */
#pragma once
#include <libpq-fe.h>
#include <stdint.h>
#include "dockhand/common.h"

/* A timestamptz column as the API shows times: RFC 3339 in UTC with milliseconds
 * ("2026-01-02T03:04:05.678Z"). col is an SQL expression; NULL stays NULL. */
#define STORE_TS_SQL(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* Room for an int64_t in decimal, with its sign and NUL. */
#define STORE_ID_TEXT 24

/* id as the text of a bigint parameter. Returns buf. */
char *store_id_text(char buf[STORE_ID_TEXT], int64_t id);

/* A copy of the value at (row, col), or NULL when the value is SQL NULL (or memory ran
 * out: callers that need the value check it). */
char *store_dup_or_null(const PGresult *res, int row, int col);

/* True when s is 1-18 ASCII digits: a reference that means an id (18 digits always fit
 * a bigint), not a name. */
bool store_all_digits(const char *s);

/* True when s is valid UTF-8 of at most max bytes without control characters other than
 * newline and tab: what a name reference or a description may hold. */
bool store_text_ok(const char *s, size_t max);

/* Runs sql (a query, or a statement with RETURNING) with text params and returns how many
 * rows it gave: for "did it insert, update or delete anything". DH_ERR_DB on failure
 * (logged by db_exec). */
int store_rows(PGconn *db, const char *sql, int n, const char *const *params) DH_MUST_CHECK;

/* How many bytes of s to keep to store at most max of them: all of s when it fits, else
 * max or fewer so as not to split a UTF-8 sequence. */
size_t store_utf8_prefix(const char *s, size_t max);

/* qsort/bsearch comparison of two int64_t. */
int store_id_cmp(const void *a, const void *b);

/* Reads every row of res into a new array of elem_size elements (one zeroed element more
 * at the end) with from_row(res, row, element). On failure the elements filled so far are
 * freed with free_list(array, count) and the code is returned (DH_ERR_NOMEM, or
 * from_row's); on success *out and *n hold the array and its length. res is not cleared. */
typedef int (*store_row_fn)(const PGresult *res, int row, void *elem);
typedef void (*store_list_free_fn)(void *list, size_t n);
int store_list_read(const PGresult *res, size_t elem_size, store_row_fn from_row,
                    store_list_free_fn free_list, void **out, size_t *n) DH_MUST_CHECK;
