/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_pem.h: the DER inside PEM text, without building OpenSSL objects from it.
 *
 * The one idea: where a set's bytes were already judged (at_verdict.h), what is left to do with
 * them is to hand on their DER (the shared certificate slots carry DER): base64 is all that needs
 * undoing, and parsing a key through OpenSSL 3's decoders (the costliest step of a start at
 * thousands of sites) buys nothing. Anything unusual (another label, an encrypted block, text
 * OpenSSL cannot read) is refused, so that the caller takes its full parse instead.
 */
#ifndef AT_PEM_H
#define AT_PEM_H

#include <apr_pools.h>
#include <apr_tables.h>

/* Labels of the blocks taken: an unencrypted PKCS#8 key and certificates. */
#define AT_PEM_LABEL_PKCS8 "PRIVATE KEY"
#define AT_PEM_LABEL_CERT "CERTIFICATE"
/* At most this many blocks (a chain's certificates) are taken from one text. */
#define AT_PEM_BLOCKS_MAX 16

/* One block's DER, in memory of the pool given. */
typedef struct {
    const unsigned char *der;
    apr_size_t len;
} at_der_t;

/* The DER of every block of text (at_der_t, in order) when there is at least one, each is
 * labelled label and none carries headers (encryption); AT_EINVALID otherwise, without a log
 * line (the caller falls back to a full parse, which says what is wrong). */
apr_status_t at_pem_der_blocks(apr_array_header_t **blocks, apr_pool_t *p, const char *text,
                               apr_size_t len, const char *label);

#endif
