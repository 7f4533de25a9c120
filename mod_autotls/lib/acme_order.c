/* SPDX-License-Identifier: Apache-2.0 */
/*
 * acme_order.c: orders, authorizations, challenges, finalization, certificates and revocation
 * (RFC 8555 §7.4-§7.6).
 *
 * The one idea: everything here is read from the CA and later acted upon (a token is served
 * from a web server, a URL is fetched), so every object is checked for type and shape before
 * it is accepted: a token that is not base64url never reaches the http-01 responder.
 */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/sha.h>

#include "acme_internal.h"
#include "at_b64url.h"
#include "at_core.h"
#include "at_jws.h"
#include "at_name.h"

#define ACME_IDENTIFIER_DNS "dns"
#define ACME_IDENTIFIER_IP "ip" /* RFC 8738 */
#define ACME_TOKEN_MAX 255 /* longest challenge token accepted: what the store holds as a name */
#define HTTP_STATUS_CREATED 201
#define HTTP_STATUS_OK 200

/* --- orders ------------------------------------------------------------------------------------
 */

static apr_status_t order_identifiers(apr_array_header_t **names, apr_pool_t *p, const json_t *json,
                                      const char *what)
{
    const json_t *array = json_object_get(json, "identifiers"), *item;
    const char *type, *value;
    size_t i;
    apr_status_t rv;

    *names = apr_array_make(p, 2, sizeof(const char *));
    if (array == NULL) {
        return APR_SUCCESS;
    }
    if (!json_is_array(array)) {
        at_log(AT_LOG_ERR, AT_EPROTO,
               AT_LOGNO(1032) "CA answered %s with \"identifiers\" not an array", what);
        return AT_EPROTO;
    }
    json_array_foreach(array, i, item)
    {
        if (!json_is_object(item)) {
            at_log(AT_LOG_ERR, AT_EPROTO,
                   AT_LOGNO(1033) "CA answered %s with an identifier not an object", what);
            return AT_EPROTO;
        }
        if ((rv = acme_json_string(&type, p, item, "type", 1, what)) ||
            (rv = acme_json_string(&value, p, item, "value", 1, what))) {
            return rv;
        }
        if (strcmp(type, ACME_IDENTIFIER_DNS) == 0 || strcmp(type, ACME_IDENTIFIER_IP) == 0) {
            APR_ARRAY_PUSH(*names, const char *) = value;
        }
    }
    return APR_SUCCESS;
}

apr_status_t acme_order_parse(at_acme_order_t **order, apr_pool_t *p, const json_t *json,
                              const char *url, const at_http_response_t *response, const char *what)
{
    at_acme_order_t *o = apr_pcalloc(p, sizeof(*o));
    const char *expires;
    apr_status_t rv;

    o->url = url;
    if ((rv = acme_json_string(&o->status, p, json, "status", 1, what)) ||
        (rv = order_identifiers(&o->identifiers, p, json, what)) ||
        (rv = acme_json_strings(&o->authorizations, p, json, "authorizations", 1, what)) ||
        (rv = acme_json_url(&o->finalize, p, json, "finalize", 1, what)) ||
        (rv = acme_json_url(&o->certificate, p, json, "certificate", 0, what)) ||
        (rv = acme_json_string(&expires, p, json, "expires", 0, what)) ||
        (rv = acme_json_problem(&o->error, p, json, "error", response->status, what))) {
        return rv;
    }
    if (expires != NULL && at_rfc3339_parse(&o->expires, expires) != APR_SUCCESS) {
        at_log(AT_LOG_ERR, AT_EPROTO,
               AT_LOGNO(1034) "CA answered %s with \"expires\" not an RFC 3339 time: %s", what,
               expires);
        return AT_EPROTO;
    }
    o->retry_after = at_http_retry_after(response);
    *order = o;
    return APR_SUCCESS;
}

/* POSTs to an order-returning URL and parses the answer; url_out is the order's URL. */
static apr_status_t order_post(at_acme_order_t **order, at_acme_t *acme, apr_pool_t *p,
                               const char *what, const char *url, const json_t *payload,
                               const char *order_url)
{
    at_http_response_t *response;
    json_t *json = NULL;
    apr_status_t rv;

    rv = acme_post_object(acme, p, what, url, payload, NULL, &response, &json);
    if (rv == APR_SUCCESS) {
        rv = acme_order_parse(order, p, json, order_url, response, what);
    }
    json_decref(json);
    return rv;
}

apr_status_t at_acme_order_new(at_acme_order_t **order, at_acme_t *acme, apr_pool_t *p,
                               const apr_array_header_t *names, const char *replaces,
                               const char *profile)
{
    const at_acme_directory_t *dir;
    at_http_response_t *response;
    json_t *payload, *identifiers, *json = NULL;
    const char *what, *location;
    int i;
    apr_status_t rv;

    if (names == NULL || names->nelts == 0) {
        at_log(AT_LOG_ERR, AT_EARG, AT_LOGNO(1035) "CA %s: newOrder needs at least one name",
               acme->url);
        return AT_EARG;
    }
    if ((rv = at_acme_directory(&dir, acme)) != APR_SUCCESS) {
        return rv;
    }
    what = apr_pstrcat(p, "newOrder for ", APR_ARRAY_IDX(names, 0, const char *),
                       names->nelts > 1 ? " and others" : "", NULL);
    identifiers = json_array();
    for (i = 0; i < names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);

        /* an IP address is ordered as one (RFC 8738 §3): a "dns" identifier never holds one */
        json_array_append_new(identifiers, json_pack("{s:s, s:s}", "type",
                                                     at_name_ip(name, NULL) ? ACME_IDENTIFIER_IP
                                                                            : ACME_IDENTIFIER_DNS,
                                                     "value", name));
    }
    payload = json_pack("{s:o}", "identifiers", identifiers);
    if (replaces != NULL) {
        json_object_set_new(payload, "replaces", json_string(replaces));
    }
    if (profile != NULL) {
        json_object_set_new(payload, "profile", json_string(profile));
    }
    /* With replaces, the caller logs a refusal: it orders again without (RFC 9773). */
    rv = acme_post_object(acme, p, what, dir->new_order, payload,
                          replaces != NULL ? ACME_QUIET_ANY : NULL, &response, &json);
    json_decref(payload);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    ++acme->orders_created; /* the CA counts it, whatever we make of its answer */
    if ((rv = acme_location(&location, acme, p, what, response)) == APR_SUCCESS) {
        rv = acme_order_parse(order, p, json, location, response, what);
    }
    json_decref(json);
    return rv;
}

unsigned at_acme_order_count(const at_acme_t *acme)
{
    return acme->orders_created;
}

apr_status_t at_acme_order_get(at_acme_order_t **order, at_acme_t *acme, apr_pool_t *p,
                               const char *url)
{
    return order_post(order, acme, p, apr_pstrcat(p, "order ", url, NULL), url, NULL, url);
}

apr_status_t at_acme_order_finalize(at_acme_order_t **order, at_acme_t *acme, apr_pool_t *p,
                                    const unsigned char *csr_der, apr_size_t csr_len)
{
    const at_acme_order_t *current = *order;
    json_t *payload;
    apr_status_t rv;

    payload = json_pack("{s:s}", "csr", at_b64url_encode(p, csr_der, csr_len));
    rv = order_post(order, acme, p, apr_pstrcat(p, "finalize of order ", current->url, NULL),
                    current->finalize, payload, current->url);
    json_decref(payload);
    return rv;
}

/* --- authorizations and challenges -------------------------------------------------------------
 */

/* Challenge types whose token is served or published, so it must have a token's shape. */
static int order_needs_token(const char *type)
{
    return strcmp(type, "http-01") == 0 || strcmp(type, "dns-01") == 0 ||
           strcmp(type, "tls-alpn-01") == 0;
}

static apr_status_t order_challenge_parse(at_acme_challenge_t **challenge, apr_pool_t *p,
                                          const json_t *json, int status, const char *what)
{
    at_acme_challenge_t *c = apr_pcalloc(p, sizeof(*c));
    apr_status_t rv;

    if (!json_is_object(json)) {
        at_log(AT_LOG_ERR, AT_EPROTO,
               AT_LOGNO(1036) "CA answered %s with a challenge not an object", what);
        return AT_EPROTO;
    }
    if ((rv = acme_json_string(&c->type, p, json, "type", 1, what)) ||
        (rv = acme_json_url(&c->url, p, json, "url", 1, what)) ||
        (rv = acme_json_string(&c->status, p, json, "status", 1, what)) ||
        (rv = acme_json_string(&c->token, p, json, "token", order_needs_token(c->type), what)) ||
        (rv = acme_json_problem(&c->error, p, json, "error", status, what))) {
        return rv;
    }
    if (c->token != NULL && !at_b64url_is_token(c->token, ACME_TOKEN_MAX)) {
        at_log(AT_LOG_ERR, AT_EPROTO,
               AT_LOGNO(1037) "CA answered %s with a %s challenge whose token is not "
                              "base64url (refused)",
               what, c->type);
        return AT_EPROTO;
    }
    *challenge = c;
    return APR_SUCCESS;
}

apr_status_t acme_authz_parse(at_acme_authz_t **authz, apr_pool_t *p, const json_t *json,
                              const char *url, const at_http_response_t *response, const char *what)
{
    at_acme_authz_t *a = apr_pcalloc(p, sizeof(*a));
    const json_t *identifier, *wildcard, *challenges, *item;
    at_acme_challenge_t *challenge;
    size_t i;
    apr_status_t rv;

    a->url = url;
    identifier = json_object_get(json, "identifier");
    wildcard = json_object_get(json, "wildcard");
    challenges = json_object_get(json, "challenges");
    if (!json_is_object(identifier) || !json_is_array(challenges) ||
        (wildcard != NULL && !json_is_boolean(wildcard))) {
        at_log(AT_LOG_ERR, AT_EPROTO,
               AT_LOGNO(1038) "CA answered %s without an identifier object and a challenges array",
               what);
        return AT_EPROTO;
    }
    if ((rv = acme_json_string(&a->status, p, json, "status", 1, what)) ||
        (rv = acme_json_string(&a->identifier, p, identifier, "value", 1, what))) {
        return rv;
    }
    a->wildcard = wildcard != NULL && json_is_true(wildcard);
    a->challenges = apr_array_make(p, (int)json_array_size(challenges), sizeof(challenge));
    json_array_foreach(challenges, i, item)
    {
        rv = order_challenge_parse(&challenge, p, item, response->status, what);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        APR_ARRAY_PUSH(a->challenges, at_acme_challenge_t *) = challenge;
    }
    a->retry_after = at_http_retry_after(response);
    *authz = a;
    return APR_SUCCESS;
}

apr_status_t at_acme_authz_get(at_acme_authz_t **authz, at_acme_t *acme, apr_pool_t *p,
                               const char *url)
{
    at_http_response_t *response;
    const char *what = apr_pstrcat(p, "authorization ", url, NULL);
    json_t *json = NULL;
    apr_status_t rv;

    rv = acme_post_object(acme, p, what, url, NULL, NULL, &response, &json);
    if (rv == APR_SUCCESS) {
        rv = acme_authz_parse(authz, p, json, url, response, what);
    }
    json_decref(json);
    return rv;
}

at_acme_challenge_t *at_acme_authz_challenge(const at_acme_authz_t *authz, const char *type)
{
    at_acme_challenge_t *challenge;
    int i;

    for (i = 0; authz->challenges != NULL && i < authz->challenges->nelts; i++) {
        challenge = APR_ARRAY_IDX(authz->challenges, i, at_acme_challenge_t *);
        if (strcmp(challenge->type, type) == 0) {
            return challenge;
        }
    }
    return NULL;
}

apr_status_t at_acme_key_authorization(const char **keyauth, at_acme_t *acme, apr_pool_t *p,
                                       const char *token)
{
    const char *thumbprint;
    apr_status_t rv;

    if (token == NULL || !at_b64url_is_token(token, ACME_TOKEN_MAX) || acme->key == NULL) {
        at_log(AT_LOG_ERR, AT_EARG,
               AT_LOGNO(1039) "CA %s: key authorization needs a valid token and a key", acme->url);
        return AT_EARG;
    }
    if ((rv = at_jwk_thumbprint(&thumbprint, p, acme->key)) != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1040) "CA %s: cannot compute the account key thumbprint",
               acme->url);
        return rv;
    }
    *keyauth = apr_pstrcat(p, token, ".", thumbprint, NULL);
    return APR_SUCCESS;
}

apr_status_t at_acme_keyauth_digest(unsigned char digest[AT_ACME_KEYAUTH_DIGEST_LEN],
                                    const char *keyauth)
{
    if (keyauth == NULL ||
        SHA256((const unsigned char *)keyauth, strlen(keyauth), digest) == NULL) {
        return AT_EARG;
    }
    return APR_SUCCESS;
}

apr_status_t at_acme_dns01_record(const char **fqdn, const char **value, apr_pool_t *p,
                                  const char *name, const char *keyauth)
{
    unsigned char digest[AT_ACME_KEYAUTH_DIGEST_LEN];

    if (name == NULL || at_acme_keyauth_digest(digest, keyauth) != APR_SUCCESS) {
        return AT_EARG;
    }
    *fqdn = apr_pstrcat(p, AT_DNS01_LABEL, name, ".", NULL);
    *value = at_b64url_encode(p, digest, sizeof(digest));
    return APR_SUCCESS;
}

apr_status_t at_acme_challenge_respond(at_acme_challenge_t **updated, at_acme_t *acme,
                                       apr_pool_t *p, const at_acme_challenge_t *challenge)
{
    at_http_response_t *response;
    const char *what = apr_pstrcat(p, challenge->type, " challenge ", challenge->url, NULL);
    json_t *payload = json_object(), *json = NULL;
    apr_status_t rv;

    rv = acme_post_object(acme, p, what, challenge->url, payload, NULL, &response, &json);
    json_decref(payload);
    if (rv == APR_SUCCESS) {
        rv = order_challenge_parse(updated, p, json, response->status, what);
    }
    json_decref(json);
    return rv;
}

/* --- certificates -------------------------------------------------------------------------------
 */

apr_status_t at_acme_certificate_get(const char **pem, apr_size_t *pem_len,
                                     apr_array_header_t **alternates, at_acme_t *acme,
                                     apr_pool_t *p, const char *url)
{
    at_http_response_t *response;
    const char *what = apr_pstrcat(p, "certificate ", url, NULL);
    json_t *json = NULL;
    apr_status_t rv;

    rv = acme_post(acme, p, what, url, NULL, NULL, &response, &json);
    json_decref(json);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (strcmp(response->content_type, ACME_CT_PEM_CHAIN) != 0 || response->body_len == 0) {
        return acme_protocol_error(
            acme, what,
            apr_psprintf(p,
                         "answered status %d with content type \"%s\" (%" APR_SIZE_T_FMT
                         " bytes), expected " ACME_CT_PEM_CHAIN,
                         response->status, response->content_type, response->body_len));
    }
    *pem = response->body;
    *pem_len = response->body_len;
    if (alternates != NULL) {
        *alternates = at_http_links(p, response, "alternate");
    }
    return APR_SUCCESS;
}

apr_status_t at_acme_revoke(at_acme_t *acme, apr_pool_t *p, const unsigned char *cert_der,
                            apr_size_t cert_len, int reason)
{
    const at_acme_directory_t *dir;
    at_http_response_t *response;
    json_t *payload, *json = NULL;
    apr_status_t rv;

    if ((rv = at_acme_directory(&dir, acme)) != APR_SUCCESS) {
        return rv;
    }
    if (dir->revoke_cert == NULL) {
        return acme_protocol_error(acme, "revokeCert", "the directory has no revokeCert URL");
    }
    payload = json_pack("{s:s}", "certificate", at_b64url_encode(p, cert_der, cert_len));
    if (reason != 0) {
        json_object_set_new(payload, "reason", json_integer(reason));
    }
    rv = acme_post(acme, p, apr_pstrcat(p, "revocation at ", dir->revoke_cert, NULL),
                   dir->revoke_cert, payload, NULL, &response, &json);
    json_decref(payload);
    json_decref(json);
    return rv;
}
