/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_ca.h: the CAs the library knows by name.
 *
 * The one idea: a CA's directory URL is spelled once, here; the module's configuration
 * (AutoTLSCA letsencrypt), the CLI and the CA's published limits (at_ratelimit.h) all use
 * these names.
 */
#ifndef AT_CA_H
#define AT_CA_H

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

#endif
