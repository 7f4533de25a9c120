/* SPDX-License-Identifier: Apache-2.0 */
/*
 * placeholder.c: the self-signed certificate a twin serves until its site has a real one.
 *
 * The one idea: mod_ssl must have a certificate and key to load for every twin, or httpd does
 * not start; a P-256 placeholder for the site's names, made once as root and kept until it
 * nears its end or stops covering the names, is cheap at thousands of sites and tells a browser
 * honestly that this is not the site's certificate yet (the gate answers 503 meanwhile).
 */
#include <string.h>

#include <httpd.h>
#include <http_log.h>

#include "at_crypto.h"
#include "at_store.h"
#include "at_verdict.h"
#include "autotls.h"
#include "log_glue.h"
#include "placeholder.h"

APLOG_USE_MODULE(autotls);

#define PLACEHOLDER_SECONDS_PER_DAY (24 * 3600)
#define PLACEHOLDER_VALID apr_time_from_sec(90 * PLACEHOLDER_SECONDS_PER_DAY)
/* A placeholder with less left than this is made again, so it never expires while serving. */
#define PLACEHOLDER_MIN_LEFT apr_time_from_sec(30 * PLACEHOLDER_SECONDS_PER_DAY)
#define PLACEHOLDER_KEY_TYPE AT_KEY_EC256

int autotls_placeholder_lasts(apr_time_t not_after, apr_time_t now)
{
    return not_after - now > PLACEHOLDER_MIN_LEFT;
}

/* The stored placeholder when it still covers the names for long enough. */
int autotls_placeholder_usable(autotls_site_t *site, at_store_t *store, at_verdict_t *verdict,
                               apr_pool_t *ptemp)
{
    char *pem;
    apr_size_t len;
    EVP_PKEY *key;
    apr_array_header_t *chain;
    at_cert_info_t *info;
    at_certset_check_t check;
    const char *why;

    if (at_store_load(store, AT_STORE_LIVE, site->name, AUTOTLS_PLACEHOLDER_KEY, &pem, &len,
                      AT_STORE_SECRET, ptemp) != APR_SUCCESS ||
        at_key_from_pem(&key, ptemp, pem, len) != APR_SUCCESS ||
        at_store_load(store, AT_STORE_LIVE, site->name, AUTOTLS_PLACEHOLDER_CERT, &pem, &len,
                      AT_STORE_PUBLIC, ptemp) != APR_SUCCESS ||
        at_chain_from_pem(&chain, ptemp, pem, len) != APR_SUCCESS) {
        return 0;
    }
    memset(&check, 0, sizeof(check));
    check.names = site->names;
    check.now = apr_time_now();
    if (at_certset_validate(&why, ptemp, key, chain, &check) != APR_SUCCESS ||
        at_cert_info(&info, ptemp, APR_ARRAY_IDX(chain, 0, X509 *)) != APR_SUCCESS ||
        !autotls_placeholder_lasts(info->not_after, check.now)) {
        return 0;
    }
    if (verdict != NULL &&
        at_verdict_of_leaf(verdict, ptemp, APR_ARRAY_IDX(chain, 0, X509 *), 0) != APR_SUCCESS) {
        verdict->not_after = 0; /* nothing to remember: not_after 0 never lasts */
    }
    return 1;
}

apr_status_t autotls_placeholder_make(autotls_site_t *site, at_store_t *store, apr_pool_t *ptemp)
{
    EVP_PKEY *key;
    X509 *cert;
    apr_array_header_t *chain = apr_array_make(ptemp, 1, sizeof(X509 *));
    const char *key_pem, *cert_pem;
    apr_size_t key_len, cert_len;
    apr_status_t rv;

    rv = at_key_generate(&key, ptemp, PLACEHOLDER_KEY_TYPE);
    if (rv == APR_SUCCESS) {
        rv = at_cert_self_signed(&cert, ptemp, key, site->names, PLACEHOLDER_VALID);
    }
    if (rv == APR_SUCCESS) {
        APR_ARRAY_PUSH(chain, X509 *) = cert;
        rv = at_key_to_pem(&key_pem, &key_len, ptemp, key);
    }
    if (rv == APR_SUCCESS) {
        rv = at_chain_to_pem(&cert_pem, &cert_len, ptemp, chain);
    }
    /* The key first, so that a certificate is never present without its key. */
    if (rv == APR_SUCCESS) {
        rv = at_store_save(store, AT_STORE_LIVE, site->name, AUTOTLS_PLACEHOLDER_KEY, key_pem,
                           key_len, AT_STORE_SECRET, ptemp);
    }
    if (rv == APR_SUCCESS) {
        rv = at_store_save(store, AT_STORE_LIVE, site->name, AUTOTLS_PLACEHOLDER_CERT, cert_pem,
                           cert_len, AT_STORE_PUBLIC, ptemp);
    }
    if (rv != APR_SUCCESS) {
        autotls_log_error(APLOG_MARK, APLOG_ERR, rv, site->twin,
                          AUTOTLS_LOGNO(0269) "%s: cannot make a placeholder certificate; mod_ssl "
                                              "has nothing to load for this site",
                          site->name);
        return rv;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, site->twin,
                 AUTOTLS_LOGNO(0270) "%s: made a self-signed placeholder certificate, served "
                                     "until a certificate is issued",
                 site->name);
    return APR_SUCCESS;
}
