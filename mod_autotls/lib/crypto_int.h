/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crypto_int.h: helpers shared by key.c, csr.c, cert.c and certset.c, not part of the contract.
 *
 * The one idea: OpenSSL reports failures through a per-thread error queue; whoever sees a failure
 * turns the queue into one reason text for its log line and leaves the queue empty behind it.
 */
#ifndef AT_CRYPTO_INT_H
#define AT_CRYPTO_INT_H

#include <apr_tables.h>
#include <openssl/x509v3.h>

#define AT_CRYPTO_REASON_LEN 256 /* room for one OpenSSL reason text */
#define AT_CRYPTO_CN_MAX 64      /* ub-common-name (RFC 5280): longer names cannot be a CN */

/* Fills buf with the reason of the most recent OpenSSL error (or a fixed text when there is
 * none), empties the error queue and returns buf. Defined in key.c. */
const char *at_crypto_reason(char *buf, apr_size_t len);

/* AT_EARG (with a log line naming `what`) unless names is a non-empty array of non-empty
 * strings. Defined in csr.c. */
apr_status_t at_crypto_names_check(const apr_array_header_t *names, const char *what);

/* A new GENERAL_NAMES with one entry per name, in order: an iPAddress for an IP address in
 * canonical text (at_name_ip), else a dNSName; NULL when OpenSSL fails. The caller frees it
 * with GENERAL_NAMES_free. Defined in csr.c. */
GENERAL_NAMES *at_crypto_san_names(const apr_array_header_t *names);

/* Whether name may be a subject commonName: a host name of at most AT_CRYPTO_CN_MAX characters,
 * not an IP address (RFC 8738 names those only as iPAddress SANs). Defined in csr.c. */
int at_crypto_cn_takes(const char *name);

#endif
