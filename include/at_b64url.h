/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_b64url.h: base64url without padding (RFC 4648 §5), the encoding of every JWS part and
 * of the CSR, thumbprint and certificate identifiers that ACME carries.
 */
#ifndef AT_B64URL_H
#define AT_B64URL_H

#include <apr_pools.h>

/* Encodes len bytes; the result is NUL-terminated and allocated from p. */
const char *at_b64url_encode(apr_pool_t *p, const void *data, apr_size_t len);

/* Decodes text (no padding accepted, no whitespace); APR_EINVAL on any other character. The
 * output is NUL-terminated for convenience (the terminator is not counted in len). */
apr_status_t at_b64url_decode(unsigned char **out, apr_size_t *len, apr_pool_t *p,
                              const char *text);

/* Whether text is non-empty and uses only the base64url alphabet (a token's shape). */
int at_b64url_is_token(const char *text, apr_size_t max_len);

#endif
