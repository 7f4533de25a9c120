/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_fingerprint.h: a fingerprint of a list of settings, to notice that they changed.
 *
 * The renewal side stores the fingerprint of what a site's orders depend on (names, CA, key type,
 * challenge settings) in its job file; a different one at the next start or graceful restart
 * means the admin changed the configuration, and a site waiting out a backoff tries again at once.
 */
#ifndef AT_FINGERPRINT_H
#define AT_FINGERPRINT_H

#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>

/* Longest text at_fingerprint returns (SHA-256 in base64url), without its NUL. */
#define AT_FINGERPRINT_LEN 43

/* SHA-256 over parts (const char *, NULL read as ""), in order, each with its length, as
 * base64url without padding; NULL when OpenSSL fails. */
const char *at_fingerprint(apr_pool_t *p, const apr_array_header_t *parts);

#endif
