/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tiny_ca.c: a test CA (root -> intermediate -> leaf) built with the OpenSSL API alone.
 *
 * The one idea: certificates that judge the library's chain and set checks must not come from
 * the library itself, so they are made here, directly with OpenSSL.
 */
#include <string.h>

#include <apr_file_io.h>
#include <apr_strings.h>
#include <check.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tiny_ca.h"

#define TINY_CA_FIRST_SERIAL 1000

static apr_status_t tiny_key_cleanup(void *data)
{
    EVP_PKEY_free(data);
    return APR_SUCCESS;
}

static apr_status_t tiny_cert_cleanup(void *data)
{
    X509_free(data);
    return APR_SUCCESS;
}

EVP_PKEY *tiny_ca_key(apr_pool_t *p)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

    ck_assert_ptr_nonnull(key);
    apr_pool_cleanup_register(p, key, tiny_key_cleanup, apr_pool_cleanup_null);
    return key;
}

static void tiny_add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    X509V3_set_ctx(&ctx, issuer != NULL ? issuer : cert, cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    ck_assert_ptr_nonnull(ext);
    ck_assert_int_eq(X509_add_ext(cert, ext, -1), 1);
    X509_EXTENSION_free(ext);
}

static void tiny_set_subject(X509 *cert, const tiny_cert_spec_t *spec)
{
    const char *field = spec->cn != NULL ? "CN" : "O";
    const char *value = spec->cn != NULL ? spec->cn : spec->org;

    ck_assert_ptr_nonnull(value);
    ck_assert_int_eq(X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), field, MBSTRING_UTF8,
                                                (const unsigned char *)value, -1, -1, 0),
                     1);
    ck_assert_int_eq(X509_set_issuer_name(cert, spec->issuer != NULL
                                                    ? X509_get_subject_name(spec->issuer)
                                                    : X509_get_subject_name(cert)),
                     1);
}

X509 *tiny_ca_cert(apr_pool_t *p, const tiny_cert_spec_t *spec)
{
    static long serial = TINY_CA_FIRST_SERIAL;
    X509 *cert = X509_new();

    ck_assert_ptr_nonnull(cert);
    apr_pool_cleanup_register(p, cert, tiny_cert_cleanup, apr_pool_cleanup_null);
    ck_assert_int_eq(X509_set_version(cert, X509_VERSION_3), 1);
    ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(cert), ++serial), 1);
    ck_assert_ptr_nonnull(X509_time_adj_ex(X509_getm_notBefore(cert), 0, spec->from_secs, NULL));
    ck_assert_ptr_nonnull(X509_time_adj_ex(X509_getm_notAfter(cert), 0, spec->to_secs, NULL));
    tiny_set_subject(cert, spec);
    ck_assert_int_eq(X509_set_pubkey(cert, spec->key), 1);
    if (spec->eku == NULL) {
        tiny_add_ext(cert, spec->issuer, NID_basic_constraints, "critical,CA:TRUE");
        tiny_add_ext(cert, spec->issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        tiny_add_ext(cert, spec->issuer, NID_basic_constraints, "critical,CA:FALSE");
        tiny_add_ext(cert, spec->issuer, NID_key_usage, "critical,digitalSignature");
        tiny_add_ext(cert, spec->issuer, NID_ext_key_usage, spec->eku);
    }
    if (spec->san != NULL) {
        tiny_add_ext(cert, spec->issuer, NID_subject_alt_name, spec->san);
    }
    ck_assert_int_gt(
        X509_sign(cert, spec->issuer_key != NULL ? spec->issuer_key : spec->key, EVP_sha256()), 0);
    return cert;
}

const char *tiny_ca_pem(apr_pool_t *p, X509 *cert)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    const char *pem;
    long len;

    ck_assert_ptr_nonnull(bio);
    ck_assert_int_eq(PEM_write_bio_X509(bio, cert), 1);
    len = BIO_get_mem_data(bio, &data);
    pem = apr_pstrmemdup(p, data, (apr_size_t)len);
    BIO_free(bio);
    return pem;
}

const char *tiny_ca_temp_file(apr_pool_t *p, const char *text)
{
    const char *tmpdir = NULL;
    apr_file_t *file;
    char *path;

    ck_assert_int_eq(apr_temp_dir_get(&tmpdir, p), APR_SUCCESS);
    path = apr_pstrcat(p, tmpdir, "/tiny_ca.XXXXXX", NULL);
    ck_assert_int_eq(apr_file_mktemp(&file, path,
                                     APR_FOPEN_CREATE | APR_FOPEN_READ | APR_FOPEN_WRITE |
                                         APR_FOPEN_EXCL | APR_FOPEN_DELONCLOSE,
                                     p),
                     APR_SUCCESS);
    ck_assert_int_eq(apr_file_write_full(file, text, strlen(text), NULL), APR_SUCCESS);
    ck_assert_int_eq(apr_file_flush(file), APR_SUCCESS);
    return path;
}

void tiny_ca_make(tiny_ca_t *ca, apr_pool_t *p, const char *root_cn)
{
    tiny_cert_spec_t spec;

    ca->root_key = tiny_ca_key(p);
    ca->inter_key = tiny_ca_key(p);
    ca->leaf_key = tiny_ca_key(p);

    memset(&spec, 0, sizeof(spec));
    spec.key = ca->root_key;
    spec.cn = root_cn;
    spec.from_secs = -TINY_CA_DAY_SECS;
    spec.to_secs = TINY_CA_CA_DAYS * TINY_CA_DAY_SECS;
    ca->root = tiny_ca_cert(p, &spec);

    spec.key = ca->inter_key;
    spec.cn = "Test Intermediate";
    spec.issuer = ca->root;
    spec.issuer_key = ca->root_key;
    ca->inter = tiny_ca_cert(p, &spec);

    spec.key = ca->leaf_key;
    spec.cn = "www.example.org";
    spec.issuer = ca->inter;
    spec.issuer_key = ca->inter_key;
    spec.eku = "serverAuth";
    spec.san = "DNS:www.example.org,DNS:example.org";
    spec.from_secs = -TINY_CA_HOUR_SECS;
    spec.to_secs = TINY_CA_LEAF_DAYS * TINY_CA_DAY_SECS;
    ca->leaf = tiny_ca_cert(p, &spec);

    ca->roots_file = tiny_ca_temp_file(p, tiny_ca_pem(p, ca->root));
}
