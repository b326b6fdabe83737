/* One time grammar for every place a person or a client names a moment: the admin API's
 * audit filter (q=op_time=[from~to]) and the CLI's audit --from/--to/--before. Pure; knows
 * nothing of HTTP, the CLI or the database.
 *
 * Accepted forms (fixed-width fields; no offset means UTC, as Harbor reads its range
 * values):
 *   Unix seconds    1 to 12 ASCII digits                   1767322800
 *   RFC 3339        2026-01-02T03:04:05Z, with 't' or ' ' for 'T', 'z' for 'Z', an
 *                   optional fraction (dropped: the time rounds down to its second) and
 *                   an offset Z or +hh:mm/-hh:mm           2026-01-02T04:04:05.25+01:00
 *   no offset       2026-01-02T03:04:05, 2026-01-02 03:04:05 (UTC)
 *   a date          2026-01-02 (its first second, UTC)
 * Months, days (leap years counted), hours, minutes and offsets are range-checked; second
 * 60 (a leap second) reads as the first second of the next minute. The result is never
 * before 1970. */
#pragma once
#include "dockhand/common.h"

#define TIMEFMT_MAX_LEN 64 /* longer input is not a time (fractions included) */

/* Parses s[0..len) (length-delimited; a NUL inside is invalid) into Unix seconds. Returns
 * 0, or DH_ERR_INVALID with *why (when why is not NULL) set to a static sentence for a
 * person, the same whoever calls: the API and the CLI print it after their own context. */
int timefmt_parse(const char *s, size_t len, int64_t *out, const char **why) DH_MUST_CHECK;
