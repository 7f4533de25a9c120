/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_jws.h: JSON Web Signatures as ACME uses them (RFC 8555 §6.2, RFC 7515, RFC 7638).
 *
 * Account keys are P-256 (ES256). Certificate keys of every type can sign, for revocation by the
 * certificate key (ES256, ES384, RS256). Signatures are in JWS form: raw r||s for ECDSA.
 */
#ifndef AT_JWS_H
#define AT_JWS_H

#include <apr_pools.h>
#include <jansson.h>
#include <openssl/evp.h>

/* The public JWK of key with only the members RFC 7638 requires, in a new reference. */
apr_status_t at_jwk_public(json_t **jwk, EVP_PKEY *key);

/* The "alg" value for key: "ES256", "ES384" or "RS256". */
apr_status_t at_jws_alg(const char **alg, EVP_PKEY *key);

/* base64url SHA-256 thumbprint of key's public JWK (RFC 7638). */
apr_status_t at_jwk_thumbprint(const char **thumbprint, apr_pool_t *p, EVP_PKEY *key);

/* Flattened JWS JSON text for an ACME POST: protected header {alg, nonce, url} plus "kid" when
 * kid is set, else "jwk". payload NULL means POST-as-GET (empty payload). */
apr_status_t at_jws_sign(const char **jws, apr_pool_t *p, EVP_PKEY *key, const char *kid,
                         const char *nonce, const char *url, const json_t *payload);

/* The same, returned as a JSON object (for nesting, as in keyChange's inner JWS). */
apr_status_t at_jws_sign_json(json_t **jws, apr_pool_t *p, EVP_PKEY *key, const char *kid,
                              const char *nonce, const char *url, const json_t *payload);

/* externalAccountBinding object (RFC 8555 §7.3.4): HS256 over the account's public JWK with the
 * CA-issued key id and base64url MAC key. */
apr_status_t at_jws_eab(json_t **eab, apr_pool_t *p, const char *kid, const char *hmac_b64url,
                        EVP_PKEY *account_key, const char *url);

#endif
