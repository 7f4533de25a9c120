/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pem_der.c: the DER inside PEM text (at_pem.h).
 *
 * The one idea: PEM_read_bio undoes the base64 and nothing else: no decoder, no provider, no
 * lock. Every byte of the text must belong to a block taken or to text OpenSSL skips between
 * blocks, exactly as at_chain_from_pem and at_key_from_pem read it, or the text is refused.
 */
#include <limits.h>
#include <string.h>

#include <apr_strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "at_core.h"
#include "at_pem.h"

/* The next block of bio into blocks; APR_EOF when no block is left. */
static apr_status_t pem_next_block(apr_array_header_t *blocks, apr_pool_t *p, BIO *bio,
                                   const char *label)
{
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long data_len = 0;
    apr_status_t rv = AT_EINVALID;
    unsigned long err;

    if (!PEM_read_bio(bio, &name, &header, &data, &data_len)) {
        err = ERR_peek_last_error();
        rv = ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE
                 ? APR_EOF
                 : AT_EINVALID;
        ERR_clear_error();
        return rv;
    }
    if (strcmp(name, label) == 0 && (header == NULL || header[0] == '\0') && data_len > 0) {
        at_der_t *block = apr_array_push(blocks);

        block->der = apr_pmemdup(p, data, (apr_size_t)data_len);
        block->len = (apr_size_t)data_len;
        rv = APR_SUCCESS;
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    return rv;
}

apr_status_t at_pem_der_blocks(apr_array_header_t **blocks, apr_pool_t *p, const char *text,
                               apr_size_t len, const char *label)
{
    apr_array_header_t *found;
    apr_status_t rv = APR_SUCCESS;
    BIO *bio;

    *blocks = NULL;
    if (text == NULL || len == 0 || len > INT_MAX || label == NULL) {
        return AT_EINVALID;
    }
    bio = BIO_new_mem_buf(text, (int)len);
    if (bio == NULL) {
        ERR_clear_error();
        return AT_ECRYPTO;
    }
    found = apr_array_make(p, 2, sizeof(at_der_t));
    while (rv == APR_SUCCESS) {
        rv = found->nelts < AT_PEM_BLOCKS_MAX ? pem_next_block(found, p, bio, label) : AT_EINVALID;
    }
    BIO_free(bio);
    if (rv != APR_EOF || found->nelts == 0) {
        return AT_EINVALID;
    }
    *blocks = found;
    return APR_SUCCESS;
}
