/* SPDX-License-Identifier: Apache-2.0 */
/*
 * csr_ca.h: the canned CA's answer to a certificate download, made when it is asked for, for
 * the CSR the client finalized with: a leaf signed by a tiny_ca intermediate, then that
 * intermediate, as PEM.
 *
 * The one idea: what the issuance flow checks must be judged on a real chain for the key and
 * names it sent, so a success is that chain and a faulty CA is one fault (names, key, dates)
 * away from it. The body is made on the canned CA's thread; everything it needs is made
 * beforehand by csr_ca_start() on the test's thread.
 */
#ifndef CSR_CA_H
#define CSR_CA_H

#include <apr_pools.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "canned_ca.h"

/* How the leaf differs from the one ordered. */
typedef struct {
    const char *san; /* subjectAltName in OpenSSL config text; NULL: the CSR's names */
    int foreign_key; /* certify a key of the CA's own instead of the CSR's */
    long from_secs;  /* notBefore relative to now */
    long to_secs;    /* notAfter relative to now */
} csr_ca_fault_t;

/* No fault: the CSR's key and names, from an hour ago for 90 days, serverAuth. */
extern const csr_ca_fault_t CSR_CA_AS_ORDERED;

/* Makes the signing CA in a pool of its own; before any request can reach csr_ca_chain_body. */
void csr_ca_start(void);

/* Frees the CA and the last chain; after the canned CA's thread has stopped. */
void csr_ca_stop(void);

/* canned_body_fn with a const csr_ca_fault_t * baton: the chain for the last finalize request's
 * CSR, or NULL (an empty body) when no finalize request carried a CSR with DNS names. */
char *csr_ca_chain_body(const canned_request_t *requests, int count, void *baton);

/* The chain csr_ca_chain_body sent last; NULL before any. */
const char *csr_ca_issued(void);

/* The CSR in a finalize request's body (flattened JWS, payload {"csr": base64url DER}), freed
 * with p; NULL when there is none. Asserts nothing, for the canned CA's thread. */
X509_REQ *csr_ca_csr_of(apr_pool_t *p, const char *jws_body);

/* The DNS names of a CSR or of sans, each after prefix, joined with ","; "" for none. */
const char *csr_ca_csr_names(apr_pool_t *p, X509_REQ *csr, const char *prefix);
const char *csr_ca_dns_names(apr_pool_t *p, const GENERAL_NAMES *sans, const char *prefix);

/* Asserts that chain_pem is the chain sent last and that its leaf certifies the private key in
 * key_pem for exactly names (joined with ","). */
void csr_ca_assert_issued(const char *chain_pem, size_t chain_len, const char *key_pem,
                          size_t key_len, const char *names);

#endif
