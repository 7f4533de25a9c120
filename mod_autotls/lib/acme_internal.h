/* SPDX-License-Identifier: Apache-2.0 */
/*
 * acme_internal.h: what the acme_*.c files share beyond at_acme.h.
 *
 * The client state, the one signed-request primitive they all go through, and the helpers that
 * read CA JSON defensively: every member is type-checked, a wrong type is AT_EPROTO.
 */
#ifndef AT_ACME_INTERNAL_H
#define AT_ACME_INTERNAL_H

#include "at_acme.h"

#define ACME_NONCE_POOL_MAX 16 /* nonces kept; the newest is used first */
#define ACME_NONCE_MAX 256     /* longest nonce accepted from a CA */
#define ACME_CT_JOSE "application/jose+json"
#define ACME_CT_JSON "application/json"
#define ACME_CT_PROBLEM "application/problem+json"
#define ACME_CT_PEM_CHAIN "application/pem-certificate-chain"

struct at_acme_t {
    apr_pool_t *pool;
    const char *url; /* the directory URL: names the CA in log lines */
    at_http_t *http;
    at_acme_directory_t *dir; /* NULL until fetched */
    const char *dir_text;     /* the directory as fetched from the CA; NULL when preset */
    char nonces[ACME_NONCE_POOL_MAX][ACME_NONCE_MAX + 1];
    int nonce_count;
    EVP_PKEY *key;            /* owned by the caller */
    const char *kid;          /* NULL: sign with "jwk" */
    apr_pool_t *account_pool; /* holds kid; cleared when the account changes */
    apr_pool_t *problem_pool; /* holds last_problem; cleared at every signed request */
    at_acme_problem_t *last_problem;
    apr_interval_time_t retry_after; /* of the last response, when it was a 429 or 503 */
    unsigned orders_created;         /* newOrders the CA answered with an order */
};

/* quiet_type for acme_post that matches every problem. */
#define ACME_QUIET_ANY "*"

/* A signed POST like at_acme_post. what names the request in log lines ("newOrder for x").
 * A problem whose short type is quiet_type (may be NULL; ACME_QUIET_ANY: any) is logged at
 * debug level only: the caller expects it and decides. */
apr_status_t acme_post(at_acme_t *acme, apr_pool_t *p, const char *what, const char *url,
                       const json_t *payload, const char *quiet_type, at_http_response_t **response,
                       json_t **json);

/* The absolute URL in the Location header of a response that created something (an account, an
 * order); AT_EPROTO with a log line naming `what` when there is none. */
apr_status_t acme_location(const char **location, at_acme_t *acme, apr_pool_t *p, const char *what,
                           const at_http_response_t *response);

/* acme_post for requests whose answer must be a JSON object: anything else is AT_EPROTO. The
 * caller owns the *json reference. */
apr_status_t acme_post_object(at_acme_t *acme, apr_pool_t *p, const char *what, const char *url,
                              const json_t *payload, const char *quiet_type,
                              at_http_response_t **response, json_t **json);

/* Copies member key of obj as a string: required members must be present, present members
 * must be strings without NUL bytes; *out is NULL when an optional member is absent. */
apr_status_t acme_json_string(const char **out, apr_pool_t *p, const json_t *obj, const char *key,
                              int required, const char *what);

/* The same for a member that must be an absolute http(s) URL. */
apr_status_t acme_json_url(const char **out, apr_pool_t *p, const json_t *obj, const char *key,
                           int required, const char *what);

/* An array member of strings into a new array of const char * (empty when optional and absent). */
apr_status_t acme_json_strings(apr_array_header_t **out, apr_pool_t *p, const json_t *obj,
                               const char *key, int required, const char *what);

/* An optional problem object member ("error"). */
apr_status_t acme_json_problem(at_acme_problem_t **out, apr_pool_t *p, const json_t *obj,
                               const char *key, int status, const char *what);

/* The parsers of the CA's objects (exposed for the fuzzers in tests/fuzz): json is the body of
 * response, already known to be an object; url is the object's own URL; what names it in log
 * lines. AT_EPROTO with one log line when the CA sent something RFC 8555 does not allow. */
apr_status_t acme_order_parse(at_acme_order_t **order, apr_pool_t *p, const json_t *json,
                              const char *url, const at_http_response_t *response,
                              const char *what);
apr_status_t acme_authz_parse(at_acme_authz_t **authz, apr_pool_t *p, const json_t *json,
                              const char *url, const at_http_response_t *response,
                              const char *what);
apr_status_t acme_account_parse(at_acme_account_t **account, apr_pool_t *p, const json_t *json,
                                const char *url, const char *what);

/* Logs that the CA sent something RFC 8555 does not allow and returns AT_EPROTO. */
apr_status_t acme_protocol_error(const at_acme_t *acme, const char *what, const char *why);

#endif
