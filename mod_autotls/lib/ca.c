/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ca.c: the CAs the library knows by name (see at_ca.h).
 *
 * The one idea: a URL names the same directory whatever the case of its scheme and host and with
 * or without a trailing slash, so a comparison with the known URLs must allow for both. A list
 * of CAs is tried in order: a site moves on after AutoTLSCAFailover failed orders in a row at
 * one, and after the last it goes back to the first (the admin's preferred CA, whose trouble is
 * the oldest by then) on the site's usual backoff, which keeps growing across the round.
 */
#include <string.h>
#include <strings.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "at_acme.h"
#include "at_ca.h"
#include "at_core.h"

/* Whether url is known, ignoring case (scheme and host; the paths are lower case anyway) and
 * one trailing slash. */
static int ca_url_is(const char *url, const char *known)
{
    size_t len = strlen(known);

    return strncasecmp(url, known, len) == 0 &&
           (url[len] == '\0' || (url[len] == '/' && url[len + 1] == '\0'));
}

int at_ca_is_letsencrypt(const char *url)
{
    return url != NULL &&
           (ca_url_is(url, AT_CA_LETSENCRYPT) || ca_url_is(url, AT_CA_LETSENCRYPT_STAGING));
}

/* The CA names users may write instead of a directory URL (AutoTLSCA, autotls --ca). */
static const struct {
    const char *name;
    const char *url;
} ca_shorthands[] = {
    {AT_CA_NAME_LETSENCRYPT, AT_CA_LETSENCRYPT},
    {AT_CA_NAME_LETSENCRYPT_STAGING, AT_CA_LETSENCRYPT_STAGING},
};

const char *at_ca_shorthand(const char *name)
{
    size_t i;

    for (i = 0; name != NULL && i < sizeof(ca_shorthands) / sizeof(ca_shorthands[0]); i++) {
        if (strcasecmp(name, ca_shorthands[i].name) == 0) {
            return ca_shorthands[i].url;
        }
    }
    return NULL;
}

int at_ca_same_url(const char *a, const char *b)
{
    size_t la, lb;

    if (a == NULL || b == NULL) {
        return 0;
    }
    la = strlen(a);
    lb = strlen(b);
    la -= la > 0 && a[la - 1] == '/';
    lb -= lb > 0 && b[lb - 1] == '/';
    return la == lb && strncasecmp(a, b, la) == 0;
}

int at_ca_index(const apr_array_header_t *cas, const char *url)
{
    int i;

    for (i = 0; cas != NULL && url != NULL && *url != '\0' && i < cas->nelts; i++) {
        if (at_ca_same_url(APR_ARRAY_IDX(cas, i, at_ca_spec_t).url, url)) {
            return i;
        }
    }
    return -1;
}

/* A key id as CAs hand them out: printable, no space (it is one word of a config line). */
static int ca_kid_valid(const char *kid, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if (!apr_isgraph(kid[i])) {
            return 0;
        }
    }
    return len > 0;
}

/* The value of word after prefix when word starts with it, else NULL. */
static const char *ca_option_value(const char *word, const char *prefix)
{
    size_t n = strlen(prefix);

    return strncasecmp(word, prefix, n) == 0 ? word + n : NULL;
}

apr_status_t at_ca_spec_option(at_ca_spec_t *spec, const char **why, apr_pool_t *p,
                               const char *word)
{
    const char *value, *colon;

    if ((value = ca_option_value(word, AT_CA_OPT_CAFILE)) != NULL) {
        if (spec->ca_file != NULL || *value == '\0') {
            *why = spec->ca_file != NULL ? "repeats cafile=" : "names no file";
            return AT_EARG;
        }
        spec->ca_file = apr_pstrdup(p, value);
        return APR_SUCCESS;
    }
    if ((value = ca_option_value(word, AT_CA_OPT_EAB)) != NULL) {
        colon = strchr(value, ':');
        if (spec->eab_kid != NULL) {
            *why = "repeats eab=";
            return AT_EARG;
        }
        if (colon == NULL || !ca_kid_valid(value, (apr_size_t)(colon - value)) ||
            colon[1] == '\0') {
            *why = "is not KID:HMAC-FILE";
            return AT_EARG;
        }
        spec->eab_kid = apr_pstrmemdup(p, value, (apr_size_t)(colon - value));
        spec->eab_hmac_file = apr_pstrdup(p, colon + 1);
        return APR_SUCCESS;
    }
    if ((value = ca_option_value(word, AT_CA_OPT_PROFILE)) != NULL) {
        if (spec->profile != NULL || !at_acme_profile_name_valid(value)) {
            *why = spec->profile != NULL ? "repeats profile=" : "is no profile name";
            return AT_EARG;
        }
        spec->profile = apr_pstrdup(p, value);
        return APR_SUCCESS;
    }
    *why = "is no option of a CA";
    return AT_EARG;
}

at_ca_move_e at_ca_failover_failed(at_ca_position_t *pos, int count, int threshold)
{
    if (pos->index < 0 || pos->index >= count) {
        pos->index = 0;
        pos->failures = 0;
    }
    if (pos->failures < AT_CA_FAILOVER_MAX) {
        ++pos->failures;
    }
    if (count <= 1 || pos->failures < threshold) {
        return AT_CA_STAY;
    }
    pos->failures = 0;
    if (++pos->index < count) {
        return AT_CA_NEXT;
    }
    pos->index = 0;
    return AT_CA_WRAP;
}

/* The roots Let's Encrypt issues under (https://letsencrypt.org/certificates/). */
static const char *const ca_roots_letsencrypt[] = {"ISRG Root X1", "ISRG Root X2", NULL};
static const char *const ca_roots_letsencrypt_staging[] = {"(STAGING) Pretend Pear X1",
                                                           "(STAGING) Bogus Broccoli X2", NULL};

const char *const *at_ca_known_roots(const char *url)
{
    if (url != NULL && ca_url_is(url, AT_CA_LETSENCRYPT)) {
        return ca_roots_letsencrypt;
    }
    if (url != NULL && ca_url_is(url, AT_CA_LETSENCRYPT_STAGING)) {
        return ca_roots_letsencrypt_staging;
    }
    return NULL;
}

/* Whether cert is a root (its own issuer) whose subject CN is cn. */
static int ca_root_named(X509 *cert, const char *cn)
{
    char text[256];
    int len;

    if (X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) != 0) {
        return 0;
    }
    len = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, text,
                                    (int)sizeof(text));
    return len > 0 && (size_t)len < sizeof(text) && strcmp(text, cn) == 0;
}

apr_status_t at_ca_roots_missing(const char **missing, apr_pool_t *p, const char *url,
                                 const char *roots_file)
{
    const char *const *known = at_ca_known_roots(url);
    STACK_OF(X509) * roots;
    X509 *cert;
    BIO *bio;
    int found, i;

    *missing = NULL;
    if (known == NULL || roots_file == NULL) {
        return APR_SUCCESS;
    }
    if ((bio = BIO_new_file(roots_file, "r")) == NULL || (roots = sk_X509_new_null()) == NULL) {
        BIO_free(bio);
        return APR_ENOENT;
    }
    while ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (!sk_X509_push(roots, cert)) {
            X509_free(cert);
        }
    }
    BIO_free(bio);
    for (; *known != NULL && *missing == NULL; known++) {
        for (i = 0, found = 0; i < sk_X509_num(roots) && !found; i++) {
            found = ca_root_named(sk_X509_value(roots, i), *known);
        }
        if (!found) {
            *missing = apr_pstrdup(p, *known);
        }
    }
    sk_X509_pop_free(roots, X509_free);
    return APR_SUCCESS;
}
