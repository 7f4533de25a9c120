/* SPDX-License-Identifier: Apache-2.0 */
/*
 * csr_ca.c: the canned CA's certificate download answered with a chain made for the CSR the
 * client finalized with (tiny_ca.c signs it).
 *
 * The one idea: csr_ca_chain_body runs on the canned CA's thread while the client waits for its
 * answer, so it only reads what csr_ca_start made, allocates from a pool of its own, and answers
 * nothing when the request carries no usable CSR (the client's check then fails the test). Its
 * only assertions are tiny_ca's, on OpenSSL failures; they end the test process under CK_FORK.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <jansson.h>
#include <openssl/pem.h>

#include "at_b64url.h"
#include "csr_ca.h"
#include "tiny_ca.h"

#define CSR_CA_ROOT_CN "Test Root"
#define CSR_CA_SUBJECT_ORG "Test Subscriber"
#define CSR_CA_FINALIZE_SUFFIX "/finalize"
#define CSR_CA_DNS_PREFIX "DNS:"

const csr_ca_fault_t CSR_CA_AS_ORDERED = {NULL, 0, -TINY_CA_HOUR_SECS,
                                          TINY_CA_LEAF_DAYS *TINY_CA_DAY_SECS};

static apr_pool_t *csr_ca_pool; /* outlives the canned CA's thread, which signs with tiny */
static tiny_ca_t tiny;
static char *issued; /* malloc: the chain sent last */

void csr_ca_start(void)
{
    ck_assert_int_eq(apr_pool_create(&csr_ca_pool, NULL), APR_SUCCESS);
    tiny_ca_make(&tiny, csr_ca_pool, CSR_CA_ROOT_CN);
}

void csr_ca_stop(void)
{
    apr_pool_destroy(csr_ca_pool);
    csr_ca_pool = NULL;
    free(issued);
    issued = NULL;
}

const char *csr_ca_issued(void)
{
    return issued;
}

static apr_status_t csr_ca_csr_cleanup(void *csr)
{
    X509_REQ_free(csr);
    return APR_SUCCESS;
}

X509_REQ *csr_ca_csr_of(apr_pool_t *p, const char *jws_body)
{
    json_t *jws = json_loads(jws_body, 0, NULL), *payload = NULL;
    const char *text = json_string_value(json_object_get(jws, "payload"));
    const unsigned char *der;
    unsigned char *raw;
    apr_size_t len;
    X509_REQ *csr = NULL;

    if (text != NULL && at_b64url_decode(&raw, &len, p, text) == APR_SUCCESS) {
        payload = json_loadb((const char *)raw, len, 0, NULL);
    }
    text = json_string_value(json_object_get(payload, "csr"));
    if (text != NULL && at_b64url_decode(&raw, &len, p, text) == APR_SUCCESS) {
        der = raw;
        csr = d2i_X509_REQ(NULL, &der, (long)len);
    }
    json_decref(payload);
    json_decref(jws);
    if (csr != NULL) {
        apr_pool_cleanup_register(p, csr, csr_ca_csr_cleanup, apr_pool_cleanup_null);
    }
    return csr;
}

const char *csr_ca_dns_names(apr_pool_t *p, const GENERAL_NAMES *sans, const char *prefix)
{
    const char *out = "";
    int i;

    for (i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);

        if (gn->type == GEN_DNS) {
            out = apr_pstrcat(p, out, out[0] != '\0' ? "," : "", prefix,
                              apr_pstrmemdup(p, (const char *)ASN1_STRING_get0_data(gn->d.dNSName),
                                             (apr_size_t)ASN1_STRING_length(gn->d.dNSName)),
                              NULL);
        }
    }
    return out;
}

const char *csr_ca_csr_names(apr_pool_t *p, X509_REQ *csr, const char *prefix)
{
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
    GENERAL_NAMES *sans = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
    const char *out = csr_ca_dns_names(p, sans, prefix);

    GENERAL_NAMES_free(sans);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return out;
}

static int csr_ca_is_finalize(const char *path)
{
    size_t n = strlen(path), m = strlen(CSR_CA_FINALIZE_SUFFIX);

    return n >= m && strcmp(path + n - m, CSR_CA_FINALIZE_SUFFIX) == 0;
}

/* Leaf and intermediate PEM for csr, twisted by fault, in p. */
static const char *csr_ca_chain(apr_pool_t *p, X509_REQ *csr, const csr_ca_fault_t *fault)
{
    tiny_cert_spec_t spec = {0};

    spec.key = fault->foreign_key ? tiny.leaf_key : X509_REQ_get0_pubkey(csr);
    spec.org = CSR_CA_SUBJECT_ORG;
    spec.issuer = tiny.inter;
    spec.issuer_key = tiny.inter_key;
    spec.eku = "serverAuth";
    spec.san = fault->san != NULL ? fault->san : csr_ca_csr_names(p, csr, CSR_CA_DNS_PREFIX);
    spec.from_secs = fault->from_secs;
    spec.to_secs = fault->to_secs;
    if (spec.key == NULL || spec.san[0] == '\0') {
        return NULL;
    }
    return apr_pstrcat(p, tiny_ca_pem(p, tiny_ca_cert(p, &spec)), tiny_ca_pem(p, tiny.inter), NULL);
}

char *csr_ca_chain_body(const canned_request_t *requests, int count, void *baton)
{
    X509_REQ *csr = NULL;
    const char *chain = NULL;
    apr_pool_t *p;
    int i;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS) {
        return NULL;
    }
    for (i = count - 1; i >= 0 && csr == NULL; i--) {
        if (csr_ca_is_finalize(requests[i].path)) {
            csr = csr_ca_csr_of(p, requests[i].body);
        }
    }
    if (csr != NULL) {
        chain = csr_ca_chain(p, csr, baton);
    }
    if (chain != NULL) {
        free(issued);
        issued = strdup(chain);
    }
    apr_pool_destroy(p);
    return chain != NULL ? strdup(issued) : NULL;
}

void csr_ca_assert_issued(const char *chain_pem, size_t chain_len, const char *key_pem,
                          size_t key_len, const char *names)
{
    apr_pool_t *p;
    BIO *bio;
    X509 *leaf;
    EVP_PKEY *leaf_key;
    GENERAL_NAMES *sans;

    ck_assert_ptr_nonnull(issued);
    ck_assert_str_eq(chain_pem, issued);
    ck_assert_uint_eq(chain_len, strlen(issued));
    bio = BIO_new_mem_buf(chain_pem, (int)chain_len);
    leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    bio = BIO_new_mem_buf(key_pem, (int)key_len);
    leaf_key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    ck_assert_ptr_nonnull(leaf);
    ck_assert_ptr_nonnull(leaf_key);
    ck_assert_int_eq(X509_check_private_key(leaf, leaf_key), 1);
    ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
    sans = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    ck_assert_str_eq(csr_ca_dns_names(p, sans, ""), names);
    GENERAL_NAMES_free(sans);
    apr_pool_destroy(p);
    EVP_PKEY_free(leaf_key);
    X509_free(leaf);
}
