/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_crypto.h: keys, CSRs and certificates on OpenSSL 3.
 *
 * Every OpenSSL object returned here is freed by a cleanup registered on the pool it was created
 * in: callers never free them, and must not use them after that pool is cleared. Texts (names,
 * issuer, serial) are copied into the pool.
 */
#ifndef AT_CRYPTO_H
#define AT_CRYPTO_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

typedef enum {
    AT_KEY_EC256 = 0,
    AT_KEY_EC384,
    AT_KEY_RSA2048,
    AT_KEY_RSA3072,
    AT_KEY_RSA4096
} at_key_type_e;

#define AT_KEY_TYPE_DEFAULT AT_KEY_EC256

/* "ec256", "ec384", "rsa2048", "rsa3072", "rsa4096" (case-insensitive); AT_EARG otherwise. */
apr_status_t at_key_type_parse(at_key_type_e *type, const char *text);
const char *at_key_type_name(at_key_type_e type);

/* Whether a certificate with a key of type a and one of type b can be served side by side
 * (AutoTLSKeyType with two types): OpenSSL keeps one certificate per key algorithm and picks by
 * the client's signature algorithms, so one must be EC and the other RSA. */
int at_key_types_pair(at_key_type_e a, at_key_type_e b);

/* The store name of a site's certificate for a second key type: "<site>_<type>" ("example.com_
 * rsa2048"). '_' is in no host name or IP address (at_name_eligible), so no site's own name can
 * be it. NULL when it would not be a valid store component (a name too long for the suffix). */
#define AT_KEY_SITE_SEPARATOR "_"
const char *at_key_site_name(apr_pool_t *p, const char *site, at_key_type_e type);

/* Generates a fresh private key of the given type. */
apr_status_t at_key_generate(EVP_PKEY **key, apr_pool_t *p, at_key_type_e type);

/* Describes an existing key as one of our types; AT_EARG for anything else (e.g. RSA 1024). */
apr_status_t at_key_type_of(at_key_type_e *type, EVP_PKEY *key);

/* Unencrypted PKCS#8 PEM of a private key. */
apr_status_t at_key_to_pem(const char **pem, apr_size_t *len, apr_pool_t *p, EVP_PKEY *key);

/* Parses a PEM private key; an encrypted key or garbage gives AT_ECRYPTO (never a prompt). */
apr_status_t at_key_from_pem(EVP_PKEY **key, apr_pool_t *p, const char *pem, apr_size_t len);

/* DER-encoded PKCS#10 CSR for names (const char *), the first also as subject CN (unless it is an
 * IP address), all as SANs (iPAddress for IP addresses), signed by key. */
apr_status_t at_csr_create(unsigned char **der, apr_size_t *der_len, apr_pool_t *p, EVP_PKEY *key,
                           const apr_array_header_t *names);

/* Parses every CERTIFICATE block of a PEM text, in order, into an array of X509 *. An empty
 * result, a truncated block or a block that does not parse gives AT_EINVALID. */
apr_status_t at_chain_from_pem(apr_array_header_t **chain, apr_pool_t *p, const char *pem,
                               apr_size_t len);

/* PEM text of every certificate in chain, in order. */
apr_status_t at_chain_to_pem(const char **pem, apr_size_t *len, apr_pool_t *p,
                             const apr_array_header_t *chain);

/* DER of one certificate (for revocation and ARI). */
apr_status_t at_cert_to_der(unsigned char **der, apr_size_t *len, apr_pool_t *p, X509 *cert);

typedef struct {
    apr_array_header_t *names; /* const char *: DNS SANs (lower case) and IP SANs (canonical
                                  text, at_name_ip), else the subject CN */
    const char *subject;       /* one-line RFC 2253 text */
    const char *issuer;        /* one-line RFC 2253 text */
    const char *issuer_cn;     /* the issuer's commonName, or the full issuer when it has none */
    const char *serial;        /* upper-case hex, no separators */
    apr_time_t not_before;
    apr_time_t not_after;
    const char *key_type; /* at_key_type_name() of the public key, or "unknown" */
} at_cert_info_t;

apr_status_t at_cert_info(at_cert_info_t **info, apr_pool_t *p, X509 *cert);

/* Whether the certificate's public key is the public half of key. */
int at_cert_matches_key(X509 *cert, EVP_PKEY *key);

/* Whether the certificate is valid for DNS name (SAN match, one-label wildcards honoured), or
 * for an IP address (at_name_ip): an iPAddress SAN of it, never a dNSName. */
int at_cert_covers_name(X509 *cert, const char *name);

/* Verifies chain[0] up through chain[1..] to a root in roots_file (PEM; NULL: the system
 * store) at time `at`. On failure returns AT_EINVALID and sets *why to OpenSSL's reason. */
apr_status_t at_chain_verify(const char **why, apr_pool_t *p, const apr_array_header_t *chain,
                             const char *roots_file, apr_time_t at);

/* at_chain_verify, and on success the validity every certificate of the verified path shares,
 * the trust anchor's included: the latest notBefore into *not_before, the earliest notAfter
 * into *not_after (either may be NULL). */
apr_status_t at_chain_verify_window(const char **why, apr_pool_t *p,
                                    const apr_array_header_t *chain, const char *roots_file,
                                    apr_time_t at, apr_time_t *not_before, apr_time_t *not_after);

/* Everything a certificate set must satisfy before it may be served: the key matches the
 * leaf, the leaf is valid at `now` (already and still), it covers every name (or, with
 * allow_partial, at least one of them while naming nothing else), the chain has an intermediate
 * or more when require_chain is set, and (when roots_file is given) it verifies to those roots.
 * On failure AT_EINVALID with *why naming the first thing that is wrong. */
typedef struct {
    const apr_array_header_t *names; /* const char *: names the set must cover */
    const char *roots_file;          /* NULL: skip the chain-to-roots check */
    int require_chain;
    apr_time_t now;
    /* Partial issuance: a leaf covering a non-empty part of names is enough, but then every name
     * the leaf carries (at_cert_info's names) must be one of names, so that a set made for
     * another site never passes. The caller finds the names left out with at_cert_covers_name. */
    int allow_partial;
    /* Optional, filled when the chain was verified to roots_file: the validity the whole
     * verified path shares (at_chain_verify_window), for whoever remembers the verdict. */
    apr_time_t *path_not_before;
    apr_time_t *path_not_after;
} at_certset_check_t;

apr_status_t at_certset_validate(const char **why, apr_pool_t *p, EVP_PKEY *key,
                                 const apr_array_header_t *chain, const at_certset_check_t *check);

/* A self-signed certificate for names, valid from now for `valid` (placeholders and tests). */
apr_status_t at_cert_self_signed(X509 **cert, apr_pool_t *p, EVP_PKEY *key,
                                 const apr_array_header_t *names, apr_interval_time_t valid);

/* The tls-alpn-01 validation certificate (RFC 8737 §3): self-signed by key, name as its only
 * SAN (a dNSName; for an IP address in canonical text, at_name_ip, an iPAddress, RFC 8738 §6,
 * with an empty subject and so a critical SAN), and the critical acmeIdentifier extension holding
 * digest, the SHA-256 of the key authorization (at_acme_keyauth_digest; 32 bytes). Valid from
 * now for `valid`. */
apr_status_t at_cert_tlsalpn(X509 **cert, apr_pool_t *p, EVP_PKEY *key, const char *name,
                             const unsigned char *digest, apr_interval_time_t valid);

/* Whether cert carries the acmeIdentifier extension (a tls-alpn-01 validation certificate). */
int at_cert_is_tlsalpn(X509 *cert);

/* apr_time_t of an ASN1_TIME. */
apr_status_t at_asn1_time_to_apr(apr_time_t *t, const ASN1_TIME *asn1);

#endif
