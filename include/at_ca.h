/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_ca.h: the CAs the library knows by name.
 *
 * The one idea: a CA's directory URL is spelled once, here; the module's configuration
 * (AutoTLSCA letsencrypt), the CLI and the CA's published limits (at_ratelimit.h) all use
 * these names. A server may list several CAs in failover order, each with its own settings
 * (at_ca_spec_t); which one a site's next order goes to is at_ca_failover_failed's rule.
 */
#ifndef AT_CA_H
#define AT_CA_H

#include <apr_pools.h>
#include <apr_tables.h>

#define AT_CA_LETSENCRYPT "https://acme-v02.api.letsencrypt.org/directory"
#define AT_CA_LETSENCRYPT_STAGING "https://acme-staging-v02.api.letsencrypt.org/directory"

/* The names users may write instead of those URLs (at_ca_shorthand), and their list as help
 * texts and error messages show it. */
#define AT_CA_NAME_LETSENCRYPT "letsencrypt"
#define AT_CA_NAME_LETSENCRYPT_STAGING "letsencrypt-staging"
#define AT_CA_SHORTHANDS AT_CA_NAME_LETSENCRYPT ", " AT_CA_NAME_LETSENCRYPT_STAGING

/* Whether url is the directory of Let's Encrypt, production or staging (case of the scheme and
 * host ignored, a trailing slash allowed). */
int at_ca_is_letsencrypt(const char *url);

/* The directory URL of a CA name users may write instead of one ("letsencrypt",
 * "letsencrypt-staging", any case), or NULL when name is none of them. */
const char *at_ca_shorthand(const char *name);

/* --- several CAs, in failover order (AutoTLSCA, repeatable) ------------------------------------
 */

/* The keyword options an AutoTLSCA line may give its CA after the URL. */
#define AT_CA_OPT_CAFILE "cafile="
#define AT_CA_OPT_EAB "eab="
#define AT_CA_OPT_PROFILE "profile="
#define AT_CA_OPTIONS                                                                              \
    AT_CA_OPT_CAFILE "FILE " AT_CA_OPT_EAB "KID:HMAC-FILE " AT_CA_OPT_PROFILE "NAME"

/* AutoTLSCAFailover's default: failed orders in a row at one CA before the next is tried. */
#define AT_CA_FAILOVER_DEFAULT 3
#define AT_CA_FAILOVER_MAX 100

/* One CA of the list and its own settings. Paths are as the caller made them (the module makes
 * them absolute); NULL: not given. */
typedef struct {
    const char *url;           /* the directory URL, shorthands expanded */
    const char *ca_file;       /* roots for HTTPS to this CA */
    const char *eab_kid;       /* external account binding at this CA */
    const char *eab_hmac_file; /* its key file */
    const char *profile;       /* the certificate profile to ask this CA for */
} at_ca_spec_t;

/* Reads one keyword option (cafile=FILE, eab=KID:HMAC-FILE, profile=NAME) into spec. AT_EARG with
 * *why when word is no option, repeats one spec already has, or has an empty or malformed value
 * (a key id with a control character or a space, a profile name at_acme_profile_name_valid
 * refuses). Values are copied into p. */
apr_status_t at_ca_spec_option(at_ca_spec_t *spec, const char **why, apr_pool_t *p,
                               const char *word);

/* Where a site's orders go: the CA it is on (an index into the list) and the orders that failed
 * there in a row. A new site, and every renewal after a certificate was published, start at the
 * first CA with no failures. */
typedef struct {
    int index;
    int failures;
} at_ca_position_t;

/* What at_ca_failover_failed did. */
typedef enum {
    AT_CA_STAY = 0, /* fewer than threshold failures there: the same CA again, after backoff */
    AT_CA_NEXT,     /* on to the next CA of the list, at once */
    AT_CA_WRAP      /* the last CA failed too: back to the first, after the site's backoff */
} at_ca_move_e;

/* Counts one failed order at pos->index; when that makes threshold failures in a row there (and
 * the list has more than one CA), moves pos to the next CA with no failures, or after the last
 * one back to the first. A position out of the list (the list changed) is taken as the first
 * CA. count: CAs in the list (1 or more); threshold: AutoTLSCAFailover (1 or more). */
at_ca_move_e at_ca_failover_failed(at_ca_position_t *pos, int count, int threshold);

/* The index of url in the list (at_ca_spec_t), compared as at_ca_same_url does; -1 when absent
 * or url is NULL or "". */
int at_ca_index(const apr_array_header_t *cas, const char *url);

/* Whether two directory URLs name the same CA (case of the scheme and host ignored, one
 * trailing slash allowed). */
int at_ca_same_url(const char *a, const char *b);

/* The subject CNs of the roots a CA known by name issues under (NULL-terminated), or NULL when
 * the library does not know them: AutoTLSIssuerRoots can be checked against them at startup. */
const char *const *at_ca_known_roots(const char *url);

/* AutoTLSIssuerRoots against a CA at startup: *missing is the CN of a root the CA is known to
 * issue under (at_ca_known_roots: every one of them) that no self-signed certificate of
 * roots_file names as its subject, or NULL when all are there or the CA's roots are not known
 * before it issues (then only the activator's chain check can tell). An error when roots_file
 * cannot be read. */
apr_status_t at_ca_roots_missing(const char **missing, apr_pool_t *p, const char *url,
                                 const char *roots_file);

#endif
