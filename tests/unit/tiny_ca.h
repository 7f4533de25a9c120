/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tiny_ca.h: a test CA (root -> intermediate -> leaf) built with the OpenSSL API alone.
 *
 * The one idea: certificates that judge the library's chain and set checks must not come from
 * the library itself, so they are made here, directly with OpenSSL. Everything made is freed
 * with the pool it was made in; a failure fails the running Check test.
 */
#ifndef TINY_CA_H
#define TINY_CA_H

#include <apr_pools.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#define TINY_CA_HOUR_SECS 3600L
#define TINY_CA_DAY_SECS 86400L
#define TINY_CA_LEAF_DAYS 90
#define TINY_CA_CA_DAYS 3650

/* What one certificate should say. */
typedef struct {
    EVP_PKEY *key;        /* the subject's key */
    const char *cn;       /* subject CN */
    const char *org;      /* subject O, used instead when cn is NULL */
    X509 *issuer;         /* NULL: self-signed */
    EVP_PKEY *issuer_key; /* NULL: signed by key */
    const char *eku;      /* NULL: a CA; else a leaf with this extendedKeyUsage ("serverAuth") */
    const char *san;      /* subjectAltName in OpenSSL config text ("DNS:a,DNS:b"), or NULL */
    long from_secs;       /* notBefore relative to now */
    long to_secs;         /* notAfter relative to now */
} tiny_cert_spec_t;

typedef struct {
    EVP_PKEY *root_key, *inter_key, *leaf_key;
    X509 *root, *inter, *leaf; /* leaf: www.example.org and example.org, serverAuth */
    const char *roots_file;    /* the root as PEM in a temp file, removed with the pool */
} tiny_ca_t;

/* A fresh P-256 key. */
EVP_PKEY *tiny_ca_key(apr_pool_t *p);

X509 *tiny_ca_cert(apr_pool_t *p, const tiny_cert_spec_t *spec);

/* PEM of one certificate, written by OpenSSL. */
const char *tiny_ca_pem(apr_pool_t *p, X509 *cert);

/* A temp file holding text, removed when p is cleared or destroyed. */
const char *tiny_ca_temp_file(apr_pool_t *p, const char *text);

/* Root (CN root_cn, 10 years), intermediate, and a 90-day leaf that began an hour ago. */
void tiny_ca_make(tiny_ca_t *ca, apr_pool_t *p, const char *root_cn);

#endif
