/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_parse.c: the pure parsers behind the AutoTLS* directives.
 *
 * The one idea: these functions see only the text the admin wrote, so a hostile or broken
 * configuration line can cost them nothing but a refusal; they are fuzzed as they are
 * (tests/fuzz/fuzz_config.c) and config.c turns their verdicts into directive errors.
 */
#include <string.h>
#include <strings.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_uri.h>

#include "at_core.h"
#include "at_ca.h"
#include "at_issue.h" /* AT_CHALLENGE_* */
#include "config_parse.h"

#define AUTOTLS_DECIMAL_BASE 10
#define AUTOTLS_USEC_PER_MINUTE (60 * APR_USEC_PER_SEC)
#define AUTOTLS_USEC_PER_HOUR (60 * AUTOTLS_USEC_PER_MINUTE)
#define AUTOTLS_USEC_PER_DAY (24 * AUTOTLS_USEC_PER_HOUR)
#define AUTOTLS_DNS_LABEL_MAX 63
#define AUTOTLS_DNS_NAME_MAX 253

/* Microseconds per unit of an AutoTLSRenewWindow duration. */
static const struct {
    char unit;
    apr_int64_t usec;
} autotls_window_units[] = {
    {'d', AUTOTLS_USEC_PER_DAY},
    {'h', AUTOTLS_USEC_PER_HOUR},
    {'m', AUTOTLS_USEC_PER_MINUTE},
    {'s', APR_USEC_PER_SEC},
};

/*
 * Reads the decimal digits at the start of text into *value. Returns the first character after
 * them (text itself when there is none), or NULL when the number exceeds limit.
 */
static const char *autotls_scan_uint(const char *text, apr_int64_t limit, apr_int64_t *value)
{
    apr_int64_t n = 0;
    const char *c;

    for (c = text; apr_isdigit(*c); c++) {
        int digit = *c - '0';

        if (n > (limit - digit) / AUTOTLS_DECIMAL_BASE) {
            return NULL;
        }
        n = n * AUTOTLS_DECIMAL_BASE + digit;
    }
    *value = n;
    return c;
}

/* Whether name is a fully qualified DNS name: two labels or more of letters, digits, hyphens. */
static int autotls_is_dns_name(const char *name)
{
    apr_size_t label = 0;
    int labels = 1;
    const char *c;

    if (strlen(name) > AUTOTLS_DNS_NAME_MAX) {
        return 0;
    }
    for (c = name; *c != '\0'; c++) {
        if (*c == '.') {
            if (label == 0 || c[-1] == '-') {
                return 0;
            }
            label = 0;
            labels++;
        } else if (apr_isalnum(*c) || (*c == '-' && label > 0)) {
            if (++label > AUTOTLS_DNS_LABEL_MAX) {
                return 0;
            }
        } else {
            return 0;
        }
    }
    return label > 0 && c[-1] != '-' && labels > 1;
}

int autotls_is_email(const char *addr)
{
    const char *at = strchr(addr, '@');
    const char *c;

    if (at == NULL || at == addr || strchr(at + 1, '@') != NULL) {
        return 0;
    }
    for (c = addr; c < at; c++) {
        if (!apr_isgraph(*c) || strchr("<>()[]\\,;:\"", *c) != NULL) {
            return 0;
        }
    }
    return autotls_is_dns_name(at + 1);
}

const char *autotls_strip_mailto(const char *addr)
{
    apr_size_t len = sizeof(AUTOTLS_MAILTO) - 1;

    return strncasecmp(addr, AUTOTLS_MAILTO, len) == 0 ? addr + len : addr;
}

const char *autotls_parse_contact(apr_pool_t *p, const char *text)
{
    const char *addr = autotls_strip_mailto(text);

    return autotls_is_email(addr) ? apr_pstrcat(p, AUTOTLS_MAILTO, addr, NULL) : NULL;
}

const char *autotls_pattern_problem(const char *pattern)
{
    char prev = '.';
    const char *c;
    const char *open = NULL;

    if (*pattern == '\0') {
        return "is empty";
    }
    if (strlen(pattern) > AUTOTLS_DNS_NAME_MAX) {
        return "is longer than a host name can be";
    }
    for (c = pattern; *c != '\0'; c++) {
        if (open != NULL) {
            if (*c == ']') {
                if (c == open + 1) {
                    return "has an empty [ ] class";
                }
                open = NULL;
                prev = *c;
            } else if (!apr_isalnum(*c) && strchr("-_!^", *c) == NULL) {
                return "has a character no host name has";
            }
            continue;
        }
        if (*c == '[') {
            open = c;
        } else if (*c == '.' && prev == '.') {
            return "has an empty label";
        } else if (*c != '.' && !apr_isalnum(*c) && strchr("-_*?", *c) == NULL) {
            return "has a character no host name has";
        }
        prev = *c;
    }
    if (open != NULL) {
        return "has a [ without its ]";
    }
    return prev == '.' ? "has an empty label" : NULL;
}

typedef enum {
    AUTOTLS_UNIT_OK = 0,
    AUTOTLS_UNIT_UNKNOWN, /* no unit of autotls_window_units, or text after it */
    AUTOTLS_UNIT_ZERO,
    AUTOTLS_UNIT_TOO_LARGE
} autotls_unit_e;

/* n times the one unit that unit names ("d", "h", "m" or "s" and nothing after), in
 * microseconds: the one reading of a duration for every directive that takes one. */
static autotls_unit_e autotls_scale_unit(apr_interval_time_t *out, apr_int64_t n, const char *unit)
{
    apr_size_t i;

    for (i = 0; i < sizeof(autotls_window_units) / sizeof(autotls_window_units[0]); i++) {
        if (apr_tolower(unit[0]) != autotls_window_units[i].unit || unit[1] != '\0') {
            continue;
        }
        if (n == 0) {
            return AUTOTLS_UNIT_ZERO;
        }
        if (n > APR_INT64_MAX / autotls_window_units[i].usec) {
            return AUTOTLS_UNIT_TOO_LARGE;
        }
        *out = n * autotls_window_units[i].usec;
        return AUTOTLS_UNIT_OK;
    }
    return AUTOTLS_UNIT_UNKNOWN;
}

apr_status_t autotls_parse_window(autotls_window_t *window, const char **why, const char *text)
{
    apr_int64_t n;
    const char *rest;

    if (text == NULL || *text == '\0') {
        *why = "is empty";
        return AT_EARG;
    }
    if (*text == '-') {
        *why = "is negative";
        return AT_EARG;
    }
    rest = autotls_scan_uint(text, APR_INT64_MAX, &n);
    if (rest == NULL) {
        *why = "is too large";
        return AT_EARG;
    }
    if (rest == text) {
        *why = "does not start with a whole number";
        return AT_EARG;
    }
    if (rest[0] == '%' && rest[1] == '\0') {
        if (n < AUTOTLS_WINDOW_PERCENT_MIN || n > AUTOTLS_WINDOW_PERCENT_MAX) {
            *why = "is not a percentage from 1 to 99";
            return AT_EARG;
        }
        window->kind = AUTOTLS_WINDOW_PERCENT;
        window->percent = (int)n;
        window->duration = 0;
        return APR_SUCCESS;
    }
    if (rest[0] == '\0') {
        *why = "has no unit";
        return AT_EARG;
    }
    switch (autotls_scale_unit(&window->duration, n, rest)) {
    case AUTOTLS_UNIT_OK:
        window->kind = AUTOTLS_WINDOW_DURATION;
        window->percent = 0;
        return APR_SUCCESS;
    case AUTOTLS_UNIT_ZERO:
        *why = "is zero";
        break;
    case AUTOTLS_UNIT_TOO_LARGE:
        *why = "is too large";
        break;
    default:
        *why = "has an unknown unit or extra text after the number";
    }
    return AT_EARG;
}

apr_status_t autotls_parse_flag(int *on, const char *text)
{
    if (strcasecmp(text, "on") == 0) {
        *on = 1;
    } else if (strcasecmp(text, "off") == 0) {
        *on = 0;
    } else {
        return AT_EARG;
    }
    return APR_SUCCESS;
}

apr_status_t autotls_parse_port(int *port, const char *text)
{
    apr_int64_t n = 0;
    const char *rest = autotls_scan_uint(text, AUTOTLS_PORT_MAX, &n);

    if (rest == NULL || rest == text || *rest != '\0' || n == 0) {
        return AT_EARG;
    }
    *port = (int)n;
    return APR_SUCCESS;
}

apr_status_t autotls_parse_orders_in_flight(int *orders, const char *text)
{
    apr_int64_t n = 0;
    const char *rest = autotls_scan_uint(text, AUTOTLS_ORDERS_IN_FLIGHT_MAX, &n);

    if (rest == NULL || rest == text || *rest != '\0' || n < AUTOTLS_ORDERS_IN_FLIGHT_MIN) {
        return AT_EARG;
    }
    *orders = (int)n;
    return APR_SUCCESS;
}

/* A positive whole number with one unit of autotls_window_units, into microseconds. */
static apr_status_t autotls_parse_duration(apr_interval_time_t *duration, const char **why,
                                           const char *text)
{
    apr_int64_t n;
    const char *rest = autotls_scan_uint(text, APR_INT64_MAX, &n);

    if (rest == NULL) {
        *why = "has a duration that is too large";
        return AT_EARG;
    }
    if (rest == text || rest[0] == '\0') {
        *why = "has no duration with a unit after the /";
        return AT_EARG;
    }
    switch (autotls_scale_unit(duration, n, rest)) {
    case AUTOTLS_UNIT_OK:
        return APR_SUCCESS;
    case AUTOTLS_UNIT_ZERO:
        *why = "has a zero duration";
        break;
    case AUTOTLS_UNIT_TOO_LARGE:
        *why = "has a duration that is too large";
        break;
    default:
        *why = "has a duration with an unknown unit or extra text";
    }
    return AT_EARG;
}

apr_status_t autotls_parse_ca_rate(at_rate_t *rate, const char **why, const char *text)
{
    apr_interval_time_t period;
    apr_int64_t n;
    const char *rest;

    if (strcasecmp(text, "none") == 0 || strcasecmp(text, "unlimited") == 0) {
        *rate = at_rate_make(0, 0);
        return APR_SUCCESS;
    }
    rest = autotls_scan_uint(text, AUTOTLS_CA_RATE_ORDERS_MAX, &n);
    if (rest == NULL) {
        *why = "allows more orders than any CA";
        return AT_EARG;
    }
    if (rest == text || *rest != '/') {
        *why = "does not start with a whole number and a /";
        return AT_EARG;
    }
    if (n == 0) {
        *why = "allows no orders at all";
        return AT_EARG;
    }
    if (autotls_parse_duration(&period, why, rest + 1) != APR_SUCCESS) {
        return AT_EARG;
    }
    *rate = at_rate_make((int)n, period);
    return APR_SUCCESS;
}

apr_status_t autotls_parse_ca(const char **url, const char **why, apr_pool_t *p, const char *text)
{
    apr_uri_t uri;

    if ((*url = at_ca_shorthand(text)) != NULL) {
        return APR_SUCCESS;
    }
    if (apr_uri_parse(p, text, &uri) != APR_SUCCESS || uri.scheme == NULL ||
        (strcasecmp(uri.scheme, "https") != 0 && strcasecmp(uri.scheme, "http") != 0)) {
        *why = "is neither a known CA nor an http(s) URL";
        return AT_EARG;
    }
    if (uri.hostname == NULL || *uri.hostname == '\0') {
        *why = "is a URL without a host";
        return AT_EARG;
    }
    *url = apr_pstrdup(p, text);
    return APR_SUCCESS;
}

/* ---- AutoTLSHSTS ---------------------------------------------------------------------------- */

/* RFC 6797 §6.1: directives separated by ';', names case-insensitive. hstspreload.org admits a
 * site to the browsers' preload lists only with includeSubDomains and a max-age of a year. */
#define AUTOTLS_HSTS_PRELOAD_MIN_AGE 31536000
#define AUTOTLS_HSTS_MAX_AGE_MAX 0x7fffffff
#define AUTOTLS_HSTS_MAX_AGE "max-age="
#define AUTOTLS_HSTS_SUBDOMAINS "includeSubDomains"
#define AUTOTLS_HSTS_PRELOAD "preload"

/* The next ';'-separated directive of *text, trimmed, into p (NULL at the end). */
static char *autotls_hsts_next(apr_pool_t *p, const char **text)
{
    const char *start = *text, *end;

    if (*start == '\0') {
        return NULL;
    }
    end = strchr(start, ';');
    *text = end != NULL ? end + 1 : start + strlen(start);
    if (end == NULL) {
        end = start + strlen(start);
    }
    while (start < end && apr_isspace(*start)) {
        start++;
    }
    while (end > start && apr_isspace(end[-1])) {
        end--;
    }
    return apr_pstrmemdup(p, start, (apr_size_t)(end - start));
}

apr_status_t autotls_parse_challenges(apr_array_header_t **types, const char **bad,
                                      const char **why, apr_pool_t *p, int argc, char *const argv[])
{
    static const char *const known[] = {AT_CHALLENGE_HTTP01, AT_CHALLENGE_TLSALPN01,
                                        AT_CHALLENGE_DNS01};
    apr_array_header_t *out = apr_array_make(p, argc > 0 ? argc : 1, sizeof(const char *));
    int i, j, k;

    *bad = "";
    if (argc < 1) {
        *why = "names no challenge type";
        return AT_EARG;
    }
    for (i = 0; i < argc; i++) {
        *bad = argv[i];
        for (j = 0; j < (int)(sizeof(known) / sizeof(known[0])); j++) {
            if (strcasecmp(argv[i], known[j]) == 0) {
                break;
            }
        }
        if (j == (int)(sizeof(known) / sizeof(known[0]))) {
            *why = "is no challenge type";
            return AT_EARG;
        }
        for (k = 0; k < out->nelts; k++) {
            if (APR_ARRAY_IDX(out, k, const char *) == known[j]) {
                *why = "is listed twice";
                return AT_EARG;
            }
        }
        APR_ARRAY_PUSH(out, const char *) = known[j];
    }
    *types = out;
    return APR_SUCCESS;
}

apr_status_t autotls_parse_hsts(const char **header, const char **why, apr_pool_t *p,
                                const char *text)
{
    apr_int64_t age = -1;
    int subdomains = 0, preload = 0;
    const char *rest = text;
    char *word;

    if (strcasecmp(text, "off") == 0) {
        *header = "";
        return APR_SUCCESS;
    }
    while ((word = autotls_hsts_next(p, &rest)) != NULL) {
        const char *end;

        if (strncasecmp(word, AUTOTLS_HSTS_MAX_AGE, sizeof(AUTOTLS_HSTS_MAX_AGE) - 1) == 0) {
            end = autotls_scan_uint(word + sizeof(AUTOTLS_HSTS_MAX_AGE) - 1,
                                    AUTOTLS_HSTS_MAX_AGE_MAX, &age);
            if (end == NULL || end == word + sizeof(AUTOTLS_HSTS_MAX_AGE) - 1 || *end != '\0') {
                *why = "has a max-age that is not a number of seconds up to 2147483647";
                return AT_EARG;
            }
        } else if (strcasecmp(word, AUTOTLS_HSTS_SUBDOMAINS) == 0 && !subdomains) {
            subdomains = 1;
        } else if (strcasecmp(word, AUTOTLS_HSTS_PRELOAD) == 0 && !preload) {
            preload = 1;
        } else {
            *why = "has a part that is none of max-age=N, includeSubDomains and preload, or one "
                   "of them twice";
            return AT_EARG;
        }
    }
    if (age < 0) {
        *why = "has no max-age";
        return AT_EARG;
    }
    if (preload && (!subdomains || age < AUTOTLS_HSTS_PRELOAD_MIN_AGE)) {
        *why = "asks for preload, which the browsers' preload list admits only with "
               "includeSubDomains and a max-age of at least 31536000 (a year)";
        return AT_EARG;
    }
    *header = apr_psprintf(p, "max-age=%" APR_INT64_T_FMT "%s%s", age,
                           subdomains ? "; " AUTOTLS_HSTS_SUBDOMAINS : "",
                           preload ? "; " AUTOTLS_HSTS_PRELOAD : "");
    return APR_SUCCESS;
}
