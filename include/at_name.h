/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_name.h: which host names can get a publicly trusted certificate.
 *
 * The one idea: the module (which vhosts get a twin, which aliases a site's certificate covers)
 * and the CLI (which names `autotls issue` orders) apply the same rule, so a name refused by one
 * is refused by the other, with the same reason.
 */
#ifndef AT_NAME_H
#define AT_NAME_H

#include <apr_pools.h>
#include <apr_tables.h>

#define AT_NAME_MAX 253      /* a DNS name's length, without the root's trailing dot */
#define AT_NAME_LABEL_MAX 63 /* a DNS label's length */

/* Whether name can get a publicly trusted certificate: a valid host name (letters, digits, '-'
 * and '.', labels of 1..63 characters not starting or ending in '-', 253 characters at most; one
 * trailing dot allowed), not a wildcard, not an IP address, not localhost or a name under it,
 * not a single label. When not, *why says which (a static text, "is ..."). Case is ignored. Pure
 * function; name may be NULL (ineligible: empty). */
int at_name_eligible(const char *name, const char **why);

/* Whether name is a wildcard that can get a publicly trusted certificate by dns-01: "*." and
 * an eligible name of at least two labels ("*.example.com"; not "*.com", not "a.*.example.com").
 * When not, *why says which. */
#define AT_NAME_WILDCARD_PREFIX "*."
int at_name_wildcard_eligible(const char *name, const char **why);

/* The first of patterns (const char *: host names or fnmatch patterns, as AutoTLSExclude takes
 * them) that name matches, case ignored; NULL when none does. */
const char *at_name_excluded_by(const apr_array_header_t *patterns, const char *name);

/* The names (const char *) as one text, sep between them (log lines, pages, the CLI); "" for
 * none or NULL. */
const char *at_name_list_text(apr_pool_t *p, const apr_array_header_t *names, const char *sep);

#endif
