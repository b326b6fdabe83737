/* The one time grammar (timefmt.h). Hand-written rather than strptime: strptime accepts
 * one-digit fields and leading blanks, and timegm turns 2020-02-30 into 1 March, so each
 * caller used to add its own checks and the two callers disagreed. */
#include "dockhand/timefmt.h"

#define WHY_FORM                                                                                   \
    "a time is Unix seconds, RFC 3339 (2026-01-02T03:04:05Z), 2026-01-02 03:04:05 (UTC) or "       \
    "2026-01-02"
#define WHY_RANGE "no such date or time of day"
#define WHY_EPOCH "a time before 1970"

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int num(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (y ≥ 0). Counted from 1 March so
 * that the leap day is the last of its year; no libc: timegm depends on time_t's width
 * and normalizes impossible dates instead of refusing them. */
static int64_t days_from_civil(int y, int m, int d)
{
    int64_t yy = y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400; /* floor division */
    int64_t yoe = yy - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int fail(const char **why, const char *text)
{
    if (why)
        *why = text;
    return DH_ERR_INVALID;
}

int timefmt_parse(const char *s, size_t len, int64_t *out, const char **why)
{
    if (len < 1 || len > TIMEFMT_MAX_LEN)
        return fail(why, WHY_FORM);
    /* Twelve digits reach the year 33658; more could only be a mistake (milliseconds). */
    if (len <= 12 && digits(s, len)) {
        int64_t v = 0;
        for (size_t i = 0; i < len; i++)
            v = v * 10 + (s[i] - '0');
        *out = v;
        return 0;
    }
    if (len < 10 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
        !digits(s + 8, 2))
        return fail(why, WHY_FORM);
    int year = num(s, 4), mon = num(s + 5, 2), day = num(s + 8, 2);
    int hour = 0, min = 0, sec = 0, offset = 0;
    if (len > 10) {
        if (len < 19 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s + 11, 2) ||
            s[13] != ':' || !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2))
            return fail(why, WHY_FORM);
        hour = num(s + 11, 2);
        min = num(s + 14, 2);
        sec = num(s + 17, 2);
        size_t i = 19;
        if (i < len && s[i] == '.') {
            size_t start = ++i;
            while (i < len && s[i] >= '0' && s[i] <= '9')
                i++;
            if (i == start)
                return fail(why, WHY_FORM);
        }
        if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
            i++;
        } else if (i < len && (s[i] == '+' || s[i] == '-')) {
            if (len - i != 6 || !digits(s + i + 1, 2) || s[i + 3] != ':' || !digits(s + i + 4, 2))
                return fail(why, WHY_FORM);
            int oh = num(s + i + 1, 2), om = num(s + i + 4, 2);
            if (oh > 23 || om > 59)
                return fail(why, WHY_RANGE);
            offset = (oh * 60 + om) * 60 * (s[i] == '-' ? -1 : 1);
            i += 6;
        }
        if (i != len)
            return fail(why, WHY_FORM);
    }
    if (mon < 1 || mon > 12 || day < 1 || day > month_days(year, mon) || hour > 23 || min > 59 ||
        sec > 60)
        return fail(why, WHY_RANGE);
    int64_t t = days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec - offset;
    if (t < 0)
        return fail(why, WHY_EPOCH);
    *out = t;
    return 0;
}
