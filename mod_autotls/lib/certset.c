/* SPDX-License-Identifier: Apache-2.0 */
/*
 * certset.c: the check a staged certificate set must pass before it may go live.
 *
 * The one idea: the activator runs as root and trusts nothing in staging/. A set is refused on the
 * first thing wrong with it, and the reason names that thing in words an operator can act on;
 * the caller logs it with the site it belongs to, and the old certificate stays. A partial set
 * (some names failed validation) passes only when it names nothing but the site's own names.
 */
#include <strings.h>

#include <apr_strings.h>
#include <apr_time.h>

#include "at_core.h"
#include "at_crypto.h"

/* Sets *why and returns AT_EINVALID: the one way this file fails a set. */
static apr_status_t certset_refuse(const char **why, const char *reason)
{
    *why = reason;
    return AT_EINVALID;
}

static int certset_is_one_of(const char *name, const apr_array_header_t *names)
{
    int i;

    for (i = 0; names != NULL && i < names->nelts; i++) {
        if (strcasecmp(name, APR_ARRAY_IDX(names, i, const char *)) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Partial issuance: every name on the leaf is one of ours, and at least one of ours is covered. */
static apr_status_t certset_check_partial(const char **why, apr_pool_t *p, X509 *leaf,
                                          const at_cert_info_t *info,
                                          const apr_array_header_t *names)
{
    int i;

    for (i = 0; i < info->names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(info->names, i, const char *);

        if (!certset_is_one_of(name, names)) {
            return certset_refuse(
                why, apr_psprintf(p, "certificate names %s, which is not one of the site's names",
                                  name));
        }
    }
    for (i = 0; names != NULL && i < names->nelts; i++) {
        if (at_cert_covers_name(leaf, APR_ARRAY_IDX(names, i, const char *))) {
            return APR_SUCCESS;
        }
    }
    return certset_refuse(why, apr_psprintf(p, "certificate covers none of %s",
                                            names == NULL || names->nelts == 0
                                                ? "(no names given)"
                                                : apr_array_pstrcat(p, names, ',')));
}

static apr_status_t certset_check_leaf(const char **why, apr_pool_t *p, EVP_PKEY *key, X509 *leaf,
                                       const at_certset_check_t *check)
{
    at_cert_info_t *info;
    apr_status_t rv;
    int i;

    if (!at_cert_matches_key(leaf, key)) {
        return certset_refuse(why, "private key does not match the certificate");
    }
    rv = at_cert_info(&info, p, leaf);
    if (rv != APR_SUCCESS) {
        return certset_refuse(why, "certificate has an unreadable serial or validity");
    }
    if (check->now < info->not_before) {
        return certset_refuse(why, apr_psprintf(p, "certificate not valid before %s",
                                                at_rfc3339_format(p, info->not_before)));
    }
    if (check->now > info->not_after) {
        return certset_refuse(why, apr_psprintf(p, "certificate expired on %s",
                                                at_rfc3339_format(p, info->not_after)));
    }
    if (check->allow_partial) {
        return certset_check_partial(why, p, leaf, info, check->names);
    }
    for (i = 0; check->names != NULL && i < check->names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(check->names, i, const char *);

        if (!at_cert_covers_name(leaf, name)) {
            return certset_refuse(why, apr_psprintf(p, "certificate does not cover %s", name));
        }
    }
    return APR_SUCCESS;
}

apr_status_t at_certset_validate(const char **why, apr_pool_t *p, EVP_PKEY *key,
                                 const apr_array_header_t *chain, const at_certset_check_t *check)
{
    const char *reason = NULL;
    apr_status_t rv;

    *why = NULL;
    if (check == NULL) {
        return AT_EARG;
    }
    if (key == NULL) {
        return certset_refuse(why, "no private key in the set");
    }
    if (chain == NULL || chain->nelts == 0) {
        return certset_refuse(why, "no certificate in the set");
    }
    rv = certset_check_leaf(why, p, key, APR_ARRAY_IDX(chain, 0, X509 *), check);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (check->require_chain && chain->nelts < 2) {
        return certset_refuse(why, "no intermediate certificate in chain");
    }
    if (check->roots_file != NULL) {
        rv = at_chain_verify_window(&reason, p, chain, check->roots_file, check->now,
                                    check->path_not_before, check->path_not_after);
        if (rv != APR_SUCCESS) {
            return certset_refuse(why, apr_psprintf(p,
                                                    "chain does not verify to the issuer "
                                                    "roots: %s",
                                                    reason));
        }
    }
    at_log(AT_LOG_DEBUG, APR_SUCCESS, AT_LOGNO(1061) "certset: the set passes every check");
    return APR_SUCCESS;
}
