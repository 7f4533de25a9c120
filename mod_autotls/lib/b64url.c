/* SPDX-License-Identifier: Apache-2.0 */
/*
 * b64url.c: base64url without padding (RFC 4648 §5), as JWS and ACME use it.
 *
 * The one idea: decoding is strict about shape. Anything that is not the url alphabet (padding,
 * whitespace, '+' or '/') and any length no encoder can produce is refused, never skipped.
 */
#include <string.h>

#include <apr_strings.h>

#include "at_b64url.h"

#define B64_GROUP_BYTES 3 /* bytes in one full group */
#define B64_GROUP_CHARS 4 /* characters encoding one full group */
#define B64_BITS 6        /* bits per character */
#define B64_MASK 0x3f
#define BYTE_BITS 8
#define BYTE_MASK 0xff
#define B64_INVALID 0xff      /* b64url_value() of a character outside the alphabet */
#define B64_ACC_MASK 0xffffff /* the decoder keeps at most one group of bits */

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The 6-bit value of c, or B64_INVALID. */
static unsigned int b64url_value(unsigned char c)
{
    const char *pos = c != '\0' ? strchr(b64url_alphabet, c) : NULL;

    return pos != NULL ? (unsigned int)(pos - b64url_alphabet) : B64_INVALID;
}

const char *at_b64url_encode(apr_pool_t *p, const void *data, apr_size_t len)
{
    const unsigned char *in = data;
    apr_size_t full = len / B64_GROUP_BYTES;
    apr_size_t rest = len % B64_GROUP_BYTES;
    char *out = apr_palloc(p, full * B64_GROUP_CHARS + B64_GROUP_CHARS + 1);
    char *o = out;
    apr_size_t i;

    for (i = 0; i < full * B64_GROUP_BYTES; i += B64_GROUP_BYTES) {
        unsigned long v =
            ((unsigned long)in[i] << 16) | ((unsigned long)in[i + 1] << 8) | in[i + 2];
        *o++ = b64url_alphabet[(v >> 18) & B64_MASK];
        *o++ = b64url_alphabet[(v >> 12) & B64_MASK];
        *o++ = b64url_alphabet[(v >> 6) & B64_MASK];
        *o++ = b64url_alphabet[v & B64_MASK];
    }
    if (rest == 1) {
        unsigned long v = (unsigned long)in[i] << 16;
        *o++ = b64url_alphabet[(v >> 18) & B64_MASK];
        *o++ = b64url_alphabet[(v >> 12) & B64_MASK];
    } else if (rest == 2) {
        unsigned long v = ((unsigned long)in[i] << 16) | ((unsigned long)in[i + 1] << 8);
        *o++ = b64url_alphabet[(v >> 18) & B64_MASK];
        *o++ = b64url_alphabet[(v >> 12) & B64_MASK];
        *o++ = b64url_alphabet[(v >> 6) & B64_MASK];
    }
    *o = '\0';
    return out;
}

apr_status_t at_b64url_decode(unsigned char **out, apr_size_t *len, apr_pool_t *p, const char *text)
{
    apr_size_t n = strlen(text);
    unsigned char *buf, *o;
    unsigned long acc = 0;
    unsigned int bits = 0;
    apr_size_t i;

    *out = NULL;
    *len = 0;
    /* One trailing character carries only 6 bits: no byte string encodes to that length. */
    if (n % B64_GROUP_CHARS == 1) {
        return APR_EINVAL;
    }
    buf = apr_palloc(p, (n / B64_GROUP_CHARS + 1) * B64_GROUP_BYTES + 1);
    o = buf;
    for (i = 0; i < n; i++) {
        unsigned int v = b64url_value((unsigned char)text[i]);
        if (v == B64_INVALID) {
            return APR_EINVAL;
        }
        acc = ((acc << B64_BITS) | v) & B64_ACC_MASK;
        bits += B64_BITS;
        if (bits >= BYTE_BITS) {
            bits -= BYTE_BITS;
            *o++ = (unsigned char)((acc >> bits) & BYTE_MASK);
        }
    }
    *o = '\0';
    *out = buf;
    *len = (apr_size_t)(o - buf);
    return APR_SUCCESS;
}

int at_b64url_is_token(const char *text, apr_size_t max_len)
{
    apr_size_t i;

    if (text == NULL || text[0] == '\0') {
        return 0;
    }
    for (i = 0; text[i] != '\0'; i++) {
        if (i >= max_len || b64url_value((unsigned char)text[i]) == B64_INVALID) {
            return 0;
        }
    }
    return 1;
}
