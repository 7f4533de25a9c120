/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fingerprint.c: one short text that changes whenever any of a list of settings changes.
 *
 * The one idea: a schedule kept on disk (a backoff after failures) was decided under some
 * configuration; storing the fingerprint of that configuration beside it lets the next run see
 * that the admin changed something since, and try again at once instead of waiting out a backoff
 * earned by a problem that may be fixed. Each part is hashed with its length, so that no two
 * different lists give the same input.
 */
#include <openssl/evp.h>

#include <string.h>

#include "at_b64url.h"
#include "at_fingerprint.h"

const char *at_fingerprint(apr_pool_t *p, const apr_array_header_t *parts)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    int i;

    for (i = 0; ok && i < parts->nelts; ++i) {
        const char *part = APR_ARRAY_IDX(parts, i, const char *);
        char len[sizeof(apr_uint64_t) * 3 + 2];
        int n;

        part = part != NULL ? part : "";
        n = apr_snprintf(len, sizeof(len), "%" APR_SIZE_T_FMT ":", strlen(part));
        ok = EVP_DigestUpdate(ctx, len, (size_t)n) && EVP_DigestUpdate(ctx, part, strlen(part));
    }
    ok = ok && EVP_DigestFinal_ex(ctx, md, &md_len);
    EVP_MD_CTX_free(ctx);
    return ok ? at_b64url_encode(p, md, md_len) : NULL;
}
