/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_acme.h: the ACME client (RFC 8555).
 *
 * An at_acme_t talks to one CA through one at_http_t: it holds the directory, a pool of nonces
 * fed by every response, and the account it signs as. Every signed request retries a bounded
 * number of times on badNonce. A problem document from the CA becomes AT_EPROBLEM with one log
 * line naming the CA's type and detail (and its subproblems); the parsed problem stays available
 * through at_acme_last_problem(). Not thread-safe: one at_acme_t per thread.
 */
#ifndef AT_ACME_H
#define AT_ACME_H

#include <apr_hash.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "at_http.h"

#define AT_ACME_BADNONCE_RETRIES 10 /* at a 50% rejection rate, 1 request in 2048 fails */
#define AT_ACME_PROBLEM_PREFIX "urn:ietf:params:acme:error:"

typedef struct {
    const char *new_nonce;
    const char *new_account;
    const char *new_order;
    const char *new_authz; /* optional */
    const char *revoke_cert;
    const char *key_change;
    const char *renewal_info;     /* optional (RFC 9773) */
    const char *terms_of_service; /* meta.termsOfService, optional */
    int eab_required;             /* meta.externalAccountRequired */
    apr_hash_t *profiles;         /* meta.profiles (draft-ietf-acme-profiles): name -> description
                                     (const char *); NULL when the CA lists none */
} at_acme_directory_t;

typedef struct {
    const char *type;                /* full URN, e.g. urn:ietf:params:acme:error:badNonce */
    const char *detail;              /* may be "" */
    int status;                      /* HTTP status of the response */
    const char *identifier;          /* for subproblems: the identifier's value, else NULL */
    apr_array_header_t *subproblems; /* at_acme_problem_t * */
} at_acme_problem_t;

/* Parses a problem document (RFC 7807 + RFC 8555 §6.7.1); AT_EPROTO when it is not one. */
apr_status_t at_acme_problem_parse(at_acme_problem_t **problem, apr_pool_t *p, const json_t *json,
                                   int http_status);

/* One line: "type: detail (value: type: detail; ...)", with the URN prefix kept. */
const char *at_acme_problem_text(apr_pool_t *p, const at_acme_problem_t *problem);

/* Whether problem's type is AT_ACME_PROBLEM_PREFIX + short_type. */
int at_acme_problem_is(const at_acme_problem_t *problem, const char *short_type);

typedef struct at_acme_t at_acme_t;

/* A client for the directory at url; nothing is fetched until the first call that needs it. */
apr_status_t at_acme_create(at_acme_t **acme, apr_pool_t *p, const char *directory_url,
                            at_http_t *http);

/* Fetches the directory (once; later calls return the cached one). */
apr_status_t at_acme_directory(const at_acme_directory_t **dir, at_acme_t *acme);

/* Uses a directory document kept from an earlier run instead of fetching it (a request saved);
 * AT_EPROTO when it does not parse as a directory. */
apr_status_t at_acme_directory_preset(at_acme_t *acme, const char *text, apr_size_t len);

/* The directory document as this client fetched it from the CA, for a cache; NULL when it was
 * preset or not fetched. */
const char *at_acme_directory_text(const at_acme_t *acme);

const char *at_acme_url(const at_acme_t *acme);

/* The problem of the last failed request, or NULL. */
const at_acme_problem_t *at_acme_last_problem(const at_acme_t *acme);

/* The Retry-After of the last response with status 429 or 503 (bounded as at_http_retry_after
 * bounds it), or 0 when the last failure carried none: a CA's wish to be left alone wins over
 * our own backoff. */
apr_interval_time_t at_acme_retry_after(const at_acme_t *acme);

/* The HTTP client this ACME client talks through (for unsigned GETs such as renewalInfo). */
at_http_t *at_acme_http(at_acme_t *acme);

/* Sets the key requests are signed with and the account URL used as "kid" (NULL: "jwk"). */
void at_acme_set_account(at_acme_t *acme, EVP_PKEY *key, const char *kid);

/* A signed POST to url: payload NULL is POST-as-GET. Feeds the nonce pool, retries badNonce,
 * turns problem documents into AT_EPROBLEM. *json is the parsed body when it is JSON, else NULL
 * (the caller owns the reference). */
apr_status_t at_acme_post(at_acme_t *acme, apr_pool_t *p, const char *url, const json_t *payload,
                          at_http_response_t **response, json_t **json);

/* --- accounts (RFC 8555 §7.3) --- */

typedef struct {
    const char *url;              /* the account URL ("kid") */
    const char *status;           /* valid, deactivated, revoked */
    apr_array_header_t *contacts; /* const char *, "mailto:..." */
} at_acme_account_t;

typedef struct {
    apr_array_header_t *contacts; /* const char *: e-mail addresses or mailto: URIs; may be NULL */
    int agree_tos;                /* termsOfServiceAgreed */
    const char *eab_kid;          /* external account binding, or NULL */
    const char *eab_hmac;         /* base64url MAC key */
    /* at_account_ensure: when the stored account's contact list differs from contacts, update
     * it at the CA (the configured contact wins). Unset: an existing account is left as it is. */
    int update_contacts;
} at_acme_account_options_t;

/* newAccount with key (which becomes the signing key); returns the existing account when the CA
 * already knows the key. */
apr_status_t at_acme_account_register(at_acme_account_t **account, at_acme_t *acme, apr_pool_t *p,
                                      EVP_PKEY *key, const at_acme_account_options_t *options);

/* newAccount with onlyReturnExisting: APR_ENOENT when the CA knows no account for key. */
apr_status_t at_acme_account_find(at_acme_account_t **account, at_acme_t *acme, apr_pool_t *p,
                                  EVP_PKEY *key);

/* The same without a log line for any problem: AT_EPROBLEM leaves at_acme_last_problem() to the
 * caller (e.g. unauthorized: the key's account is deactivated). */
apr_status_t at_acme_account_probe(at_acme_account_t **account, at_acme_t *acme, apr_pool_t *p,
                                   EVP_PKEY *key);

/* Replaces the account key (keyChange); on success the client signs with new_key. */
apr_status_t at_acme_account_key_change(at_acme_t *acme, apr_pool_t *p, EVP_PKEY *new_key);

/* Deactivates the current account. */
apr_status_t at_acme_account_deactivate(at_acme_t *acme, apr_pool_t *p);

/* The current account as the CA sees it (POST-as-GET to its URL). quiet: a problem from the CA
 * is logged at debug level only (the caller decides what it means). */
apr_status_t at_acme_account_get(at_acme_account_t **account, at_acme_t *acme, apr_pool_t *p,
                                 int quiet);

/* Replaces the current account's contact list (e-mail addresses or URIs; NULL or empty: none)
 * and returns the account as the CA answered. */
apr_status_t at_acme_account_update(at_acme_account_t **account, at_acme_t *acme, apr_pool_t *p,
                                    const apr_array_header_t *contacts);

/* The key requests are signed with and the account URL ("kid"); NULL when none is set. */
EVP_PKEY *at_acme_account_key(const at_acme_t *acme);
const char *at_acme_account_url(const at_acme_t *acme);

/* A contact as the CA lists it: "user@example.org" -> "mailto:user@example.org". */
const char *at_acme_contact_uri(apr_pool_t *p, const char *contact);

/* --- orders (RFC 8555 §7.4) --- */

typedef struct {
    const char *type; /* "http-01", "dns-01", ... */
    const char *url;
    const char *status; /* pending, processing, valid, invalid */
    const char *token;
    at_acme_problem_t *error; /* when invalid */
} at_acme_challenge_t;

typedef struct {
    const char *url;
    const char *status;     /* pending, valid, invalid, deactivated, expired, revoked */
    const char *identifier; /* the DNS name */
    int wildcard;
    apr_array_header_t *challenges;  /* at_acme_challenge_t * */
    apr_interval_time_t retry_after; /* the CA's Retry-After on this answer, 0: none (at_poll.h) */
} at_acme_authz_t;

typedef struct {
    const char *url;
    const char *status;                 /* pending, ready, processing, valid, invalid */
    apr_array_header_t *identifiers;    /* const char *: DNS names and IP addresses */
    apr_array_header_t *authorizations; /* const char * URLs */
    const char *finalize;
    const char *certificate; /* when valid */
    apr_time_t expires;
    at_acme_problem_t *error;
    apr_interval_time_t retry_after; /* the CA's Retry-After on this answer, 0: none (at_poll.h) */
} at_acme_order_t;

/* newOrder for names: DNS names, and IP addresses in canonical text (at_name_ip) as identifiers
 * of type "ip" (RFC 8738); replaces is the ARI certID of the certificate being renewed or NULL;
 * profile the name of one of the directory's profiles (at_acme_profile_choose) or NULL.
 * A refusal of an order with replaces is logged at debug level only: the caller logs it, as it
 * may order again without (at_issue_certificate does). */
apr_status_t at_acme_order_new(at_acme_order_t **order, at_acme_t *acme, apr_pool_t *p,
                               const apr_array_header_t *names, const char *replaces,
                               const char *profile);

/*
 * AutoTLSProfile's rule (draft-ietf-acme-profiles): which profile to ask for in newOrder when
 * `wanted` (NULL: none) is configured. A profile the CA lists in dir: *send = wanted. One it does
 * not list: with required, AT_EARG (order nothing: the admin asked for that profile or none);
 * else *send = NULL (order without it) and APR_SUCCESS. *unlisted says the CA does not list
 * wanted, for a warning; *offered names what it lists ("a,b", "" for none), in p.
 */
/* Whether name can be a profile's name in a configuration: 1 to AT_ACME_PROFILE_NAME_MAX of
 * [A-Za-z0-9._-] (the names CAs use: classic, tlsserver, shortlived). */
#define AT_ACME_PROFILE_NAME_MAX 64
int at_acme_profile_name_valid(const char *name);

apr_status_t at_acme_profile_choose(const char **send, int *unlisted, const char **offered,
                                    apr_pool_t *p, const at_acme_directory_t *dir,
                                    const char *wanted, int required);

apr_status_t at_acme_order_get(at_acme_order_t **order, at_acme_t *acme, apr_pool_t *p,
                               const char *url);

apr_status_t at_acme_authz_get(at_acme_authz_t **authz, at_acme_t *acme, apr_pool_t *p,
                               const char *url);

/* The challenge of the given type in authz, or NULL. */
at_acme_challenge_t *at_acme_authz_challenge(const at_acme_authz_t *authz, const char *type);

/* token "." thumbprint(account key): what http-01 serves. */
apr_status_t at_acme_key_authorization(const char **keyauth, at_acme_t *acme, apr_pool_t *p,
                                       const char *token);

/* RFC 8555 §8.4: the TXT record of a dns-01 challenge: its name "_acme-challenge.<name>." (fqdn,
 * absolute, as lego's exec provider passes it) and its value, base64url(SHA-256(keyauth)). name
 * is the authorization's identifier (for a wildcard, the name below "*."). */
#define AT_DNS01_LABEL "_acme-challenge."
apr_status_t at_acme_dns01_record(const char **fqdn, const char **value, apr_pool_t *p,
                                  const char *name, const char *keyauth);

/* SHA-256 of a key authorization, the digest both dns-01 (base64url, in the TXT record) and
 * tls-alpn-01 (RFC 8737 §3: in the acmeIdentifier extension) prove. AT_EARG for NULL. */
#define AT_ACME_KEYAUTH_DIGEST_LEN 32
apr_status_t at_acme_keyauth_digest(unsigned char digest[AT_ACME_KEYAUTH_DIGEST_LEN],
                                    const char *keyauth);

/* Tells the CA to validate the challenge (POST {}). */
apr_status_t at_acme_challenge_respond(at_acme_challenge_t **updated, at_acme_t *acme,
                                       apr_pool_t *p, const at_acme_challenge_t *challenge);

/* Finalizes order with a DER CSR; *order is updated from the CA's answer. */
apr_status_t at_acme_order_finalize(at_acme_order_t **order, at_acme_t *acme, apr_pool_t *p,
                                    const unsigned char *csr_der, apr_size_t csr_len);

/* Downloads the PEM chain at url (application/pem-certificate-chain); *alternates receives the
 * URLs of Link rel="alternate" chains (may be empty). */
apr_status_t at_acme_certificate_get(const char **pem, apr_size_t *pem_len,
                                     apr_array_header_t **alternates, at_acme_t *acme,
                                     apr_pool_t *p, const char *url);

/* revokeCert for a certificate (DER), signed by the account; reason per RFC 5280 (0: none). */
apr_status_t at_acme_revoke(at_acme_t *acme, apr_pool_t *p, const unsigned char *cert_der,
                            apr_size_t cert_len, int reason);

/* Requests sent through this client's at_http_t so far. */
unsigned at_acme_request_count(const at_acme_t *acme);

/* New orders the CA created for this client so far (a CA's limit on new orders counts each: one
 * issuance may place more than one, at_issue_certificate's tls-alpn-01 and partial re-orders). */
unsigned at_acme_order_count(const at_acme_t *acme);

#endif
