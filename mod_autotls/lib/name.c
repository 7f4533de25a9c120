/* SPDX-License-Identifier: Apache-2.0 */
/*
 * name.c: the name-eligibility rule (at_name.h).
 *
 * The one idea: a name is refused with the first reason a reader would give, so the log line
 * or the CLI's error tells the admin what to change: a wildcard or an IP address before "not a
 * valid host name", localhost and single labels last.
 */
#include <string.h>
#include <strings.h>

#include <apr_fnmatch.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "at_name.h"

#define NAME_LOCALHOST "localhost"

/* Whether the name of len characters is localhost or a name under it. */
static int name_is_localhost(const char *name, size_t len)
{
    size_t lh = strlen(NAME_LOCALHOST);

    return len >= lh && strncasecmp(name + len - lh, NAME_LOCALHOST, lh) == 0 &&
           (len == lh || name[len - lh - 1] == '.');
}

int at_name_eligible(const char *name, const char **why)
{
    size_t len = name != NULL ? strlen(name) : 0;
    size_t label = 0, i;
    int labels = 1;
    int numeric = 1; /* the last label is all digits so far */

    if (len > 0 && name[len - 1] == '.') {
        len--; /* an absolute name: the root's empty label */
    }
    if (len == 0) {
        *why = "is empty";
        return 0;
    }
    if (memchr(name, '*', len) != NULL) {
        *why = "is a wildcard: it needs dns-01 validation (AutoTLSDNSCommand)";
        return 0;
    }
    if (name[0] == '[' || memchr(name, ':', len) != NULL) {
        *why = "is an IP address: public CAs certify names only";
        return 0;
    }
    for (i = 0; i < len; i++) {
        char c = name[i];

        if (c == '.') {
            if (label == 0 || name[i - 1] == '-') {
                *why = "is not a valid host name (empty label or label ending in '-')";
                return 0;
            }
            label = 0;
            numeric = 1;
            labels++;
            continue;
        }
        if (!apr_isalnum(c) && (c != '-' || label == 0)) {
            *why = "is not a valid host name (only letters, digits, '-' and '.' are allowed)";
            return 0;
        }
        numeric = numeric && apr_isdigit(c);
        if (++label > AT_NAME_LABEL_MAX) {
            *why = "is not a valid host name (a label is longer than 63 characters)";
            return 0;
        }
    }
    if (len > AT_NAME_MAX || label == 0 || name[len - 1] == '-') {
        *why = "is not a valid host name";
        return 0;
    }
    if (numeric) {
        *why = "is an IP address: public CAs certify names only";
        return 0;
    }
    if (name_is_localhost(name, len)) {
        *why = "is localhost: no public CA can validate it";
        return 0;
    }
    if (labels == 1) {
        *why = "is a single label: a public certificate needs a fully qualified name";
        return 0;
    }
    return 1;
}

int at_name_wildcard_eligible(const char *name, const char **why)
{
    size_t prefix = strlen(AT_NAME_WILDCARD_PREFIX);
    const char *base;

    if (name == NULL || strncmp(name, AT_NAME_WILDCARD_PREFIX, prefix) != 0) {
        *why = "is not a wildcard (\"*.\" and a name)";
        return 0;
    }
    base = name + prefix;
    if (!at_name_eligible(base, why)) {
        return 0;
    }
    if (strchr(base, '.') == NULL || (strchr(base, '.') == base + strlen(base) - 1)) {
        *why = "is a wildcard over a single label: no CA certifies a whole top-level domain";
        return 0;
    }
    return 1;
}

const char *at_name_excluded_by(const apr_array_header_t *patterns, const char *name)
{
    int i;

    for (i = 0; patterns != NULL && i < patterns->nelts; i++) {
        const char *pattern = APR_ARRAY_IDX(patterns, i, const char *);

        if (apr_fnmatch(pattern, name, APR_FNM_CASE_BLIND) == APR_SUCCESS) {
            return pattern;
        }
    }
    return NULL;
}

const char *at_name_list_text(apr_pool_t *p, const apr_array_header_t *names, const char *sep)
{
    apr_size_t total = 0, sep_len = strlen(sep), n;
    char *out, *at;
    int i;

    if (names == NULL || names->nelts == 0) {
        return "";
    }
    for (i = 0; i < names->nelts; ++i) {
        total += strlen(APR_ARRAY_IDX(names, i, const char *)) + sep_len;
    }
    out = at = apr_palloc(p, total + 1);
    for (i = 0; i < names->nelts; ++i) {
        if (i > 0) {
            memcpy(at, sep, sep_len);
            at += sep_len;
        }
        n = strlen(APR_ARRAY_IDX(names, i, const char *));
        memcpy(at, APR_ARRAY_IDX(names, i, const char *), n);
        at += n;
    }
    *at = '\0';
    return out;
}
