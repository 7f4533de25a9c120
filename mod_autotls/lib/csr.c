/* SPDX-License-Identifier: Apache-2.0 */
/*
 * csr.c: the PKCS#10 certificate request sent to the CA at finalization (RFC 8555 §7.4).
 *
 * The one idea: the CA issues for the names in the subjectAltName extension, so every name goes
 * there, built as structured dNSName entries, or iPAddress ones for IP addresses (RFC 8738),
 * never through OpenSSL's "DNS:a,DNS:b" config text, where a comma in a name would add another
 * one. The first name is also the subject CN for clients that still look at it, unless it is an
 * IP address: a CN is read as a host name, and CAs leave IP addresses out of it.
 */
#include <limits.h>
#include <string.h>

#include <apr_strings.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "at_core.h"
#include "at_crypto.h"
#include "at_name.h"
#include "crypto_int.h"

apr_status_t at_crypto_names_check(const apr_array_header_t *names, const char *what)
{
    int i;

    if (names == NULL || names->nelts == 0) {
        at_log(AT_LOG_ERR, AT_EARG, AT_LOGNO(1062) "%s: no names given", what);
        return AT_EARG;
    }
    for (i = 0; i < names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);

        if (name == NULL || name[0] == '\0' || strlen(name) > INT_MAX) {
            at_log(AT_LOG_ERR, AT_EARG, AT_LOGNO(1063) "%s: name %d is empty", what, i + 1);
            return AT_EARG;
        }
    }
    return APR_SUCCESS;
}

/* One SAN entry for name: an iPAddress (its 4 or 16 bytes) for an IP address, else a dNSName. */
static GENERAL_NAME *csr_san_name(const char *name)
{
    GENERAL_NAME *gen = GENERAL_NAME_new();
    ASN1_STRING *value;
    int type = GEN_DNS;

    if (at_name_ip(name, NULL)) {
        type = GEN_IPADD;
        value = a2i_IPADDRESS(name);
    } else {
        value = ASN1_IA5STRING_new();
        if (value != NULL && !ASN1_STRING_set(value, name, (int)strlen(name))) {
            ASN1_STRING_free(value);
            value = NULL;
        }
    }
    if (gen == NULL || value == NULL) {
        ASN1_STRING_free(value);
        GENERAL_NAME_free(gen);
        return NULL;
    }
    GENERAL_NAME_set0_value(gen, type, value);
    return gen;
}

GENERAL_NAMES *at_crypto_san_names(const apr_array_header_t *names)
{
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    int i;

    for (i = 0; gens != NULL && i < names->nelts; i++) {
        GENERAL_NAME *gen = csr_san_name(APR_ARRAY_IDX(names, i, const char *));

        if (gen == NULL) {
            GENERAL_NAMES_free(gens);
            return NULL;
        }
        if (!sk_GENERAL_NAME_push(gens, gen)) {
            GENERAL_NAME_free(gen);
            GENERAL_NAMES_free(gens);
            return NULL;
        }
    }
    return gens;
}

/* Adds the subjectAltName extension with every name to req. */
static int csr_add_names(X509_REQ *req, const apr_array_header_t *names)
{
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    GENERAL_NAMES *gens = at_crypto_san_names(names);
    X509_EXTENSION *ext = NULL;
    int ok = 0;

    if (exts == NULL || gens == NULL) {
        goto leave;
    }
    ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, gens);
    if (ext == NULL || !sk_X509_EXTENSION_push(exts, ext)) {
        goto leave;
    }
    ok = X509_REQ_add_extensions(req, exts);
    ext = NULL; /* now owned by the stack */
leave:
    X509_EXTENSION_free(ext);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    GENERAL_NAMES_free(gens);
    return ok;
}

int at_crypto_cn_takes(const char *name)
{
    return strlen(name) <= AT_CRYPTO_CN_MAX && !at_name_ip(name, NULL);
}

/* Sets the subject to CN=first name; a name longer than a CN may be, or an IP address, is left
 * to the SANs. */
static int csr_set_subject(X509_REQ *req, const char *first)
{
    X509_NAME *subject = X509_REQ_get_subject_name(req);

    if (!at_crypto_cn_takes(first)) {
        at_log(AT_LOG_DEBUG, APR_SUCCESS,
               AT_LOGNO(1064) "csr: %s is an IP address or longer than a commonName "
                              "may be; the CSR names it only as a SAN",
               first);
        return 1;
    }
    return X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, (const unsigned char *)first,
                                      -1, -1, 0);
}

apr_status_t at_csr_create(unsigned char **der, apr_size_t *der_len, apr_pool_t *p, EVP_PKEY *key,
                           const apr_array_header_t *names)
{
    char reason[AT_CRYPTO_REASON_LEN];
    const char *first;
    unsigned char *out = NULL;
    apr_status_t rv;
    X509_REQ *req;
    int out_len;

    *der = NULL;
    *der_len = 0;
    rv = at_crypto_names_check(names, "csr");
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (key == NULL) {
        at_log(AT_LOG_ERR, AT_EARG, AT_LOGNO(1065) "csr: no key given");
        return AT_EARG;
    }
    first = APR_ARRAY_IDX(names, 0, const char *);
    req = X509_REQ_new();
    if (req == NULL || !X509_REQ_set_version(req, X509_REQ_VERSION_1) ||
        !csr_set_subject(req, first) || !csr_add_names(req, names) ||
        !X509_REQ_set_pubkey(req, key) || X509_REQ_sign(req, key, EVP_sha256()) <= 0) {
        at_log(AT_LOG_ERR, AT_ECRYPTO,
               AT_LOGNO(1066) "csr: building the request for %s (%d names) failed: %s", first,
               names->nelts, at_crypto_reason(reason, sizeof(reason)));
        rv = AT_ECRYPTO;
        goto leave;
    }
    out_len = i2d_X509_REQ(req, &out);
    if (out_len <= 0) {
        at_log(AT_LOG_ERR, AT_ECRYPTO, AT_LOGNO(1067) "csr: encoding the request for %s failed: %s",
               first, at_crypto_reason(reason, sizeof(reason)));
        rv = AT_ECRYPTO;
        goto leave;
    }
    *der = apr_pmemdup(p, out, (apr_size_t)out_len);
    *der_len = (apr_size_t)out_len;
leave:
    OPENSSL_free(out);
    X509_REQ_free(req);
    return rv;
}
