/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rfc3339.c: the timestamps ACME documents carry (RFC 3339 section 5.6, as RFC 8555 uses them).
 *
 * The one idea: a time from the network is taken only when it is exactly a date-time: every
 * field in range (days per month, leap years, offsets), so a CA cannot make a nonsense date into
 * a schedule.
 */
#include <string.h>

#include <apr_lib.h>
#include <apr_time.h>

#include "at_core.h"

#define RFC3339_YEAR_MIN 1970
#define RFC3339_YEAR_MAX 9999
#define RFC3339_MONTHS 12
#define RFC3339_HOURS 24
#define RFC3339_MINUTES 60
#define RFC3339_LEAP_SECOND 60
#define RFC3339_SECONDS_PER_MINUTE 60

static int rfc3339_digits(const char **s, int n, int *value)
{
    int v = 0;

    while (n-- > 0) {
        if (!apr_isdigit(**s)) {
            return 0;
        }
        v = v * 10 + (*(*s)++ - '0');
    }
    *value = v;
    return 1;
}

static int rfc3339_char(const char **s, const char *allowed)
{
    if (**s == '\0' || strchr(allowed, **s) == NULL) {
        return 0;
    }
    (*s)++;
    return 1;
}

static int rfc3339_days_in_month(int year, int month)
{
    static const int days[RFC3339_MONTHS] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return days[month - 1] + (month == 2 && leap);
}

apr_status_t at_rfc3339_parse(apr_time_t *t, const char *s)
{
    apr_time_exp_t tm = {0};
    int year, month, usec = 0, scale = APR_USEC_PER_SEC, sign = 0, off_h = 0, off_m = 0;
    apr_time_t result;

    if (!rfc3339_digits(&s, 4, &year) || !rfc3339_char(&s, "-") || !rfc3339_digits(&s, 2, &month) ||
        !rfc3339_char(&s, "-") || !rfc3339_digits(&s, 2, &tm.tm_mday) || !rfc3339_char(&s, "Tt") ||
        !rfc3339_digits(&s, 2, &tm.tm_hour) || !rfc3339_char(&s, ":") ||
        !rfc3339_digits(&s, 2, &tm.tm_min) || !rfc3339_char(&s, ":") ||
        !rfc3339_digits(&s, 2, &tm.tm_sec)) {
        return APR_EINVAL;
    }
    if (*s == '.') {
        if (!apr_isdigit(*++s)) {
            return APR_EINVAL;
        }
        for (; apr_isdigit(*s); s++) {
            if (scale > 1) { /* digits beyond microseconds are read and dropped */
                scale /= 10;
                usec += (*s - '0') * scale;
            }
        }
    }
    if (*s == '+' || *s == '-') {
        sign = *s++ == '-' ? -1 : 1;
        if (!rfc3339_digits(&s, 2, &off_h) || !rfc3339_char(&s, ":") ||
            !rfc3339_digits(&s, 2, &off_m) || off_h >= RFC3339_HOURS || off_m >= RFC3339_MINUTES) {
            return APR_EINVAL;
        }
    } else if (!rfc3339_char(&s, "Zz")) {
        return APR_EINVAL;
    }
    if (*s != '\0' || year < RFC3339_YEAR_MIN || year > RFC3339_YEAR_MAX || month < 1 ||
        month > RFC3339_MONTHS || tm.tm_mday < 1 ||
        tm.tm_mday > rfc3339_days_in_month(year, month) || tm.tm_hour >= RFC3339_HOURS ||
        tm.tm_min >= RFC3339_MINUTES || tm.tm_sec > RFC3339_LEAP_SECOND) {
        return APR_EINVAL;
    }
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_usec = usec;
    if (apr_time_exp_gmt_get(&result, &tm) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    *t = result - sign * apr_time_from_sec((apr_time_t)(off_h * RFC3339_MINUTES + off_m) *
                                           RFC3339_SECONDS_PER_MINUTE);
    return APR_SUCCESS;
}
