/* SPDX-License-Identifier: Apache-2.0 */
/*
 * acme_account.c: ACME accounts (RFC 8555 §7.3): register, find, fetch, update, key change,
 * deactivate.
 *
 * The one idea: the account URL ("kid") comes only from the Location header of newAccount, and
 * the client switches to a new key or URL only after the CA confirmed it, so that a failed
 * request never leaves the client signing as an account the CA does not know.
 */
#include <string.h>

#include <apr_strings.h>

#include "acme_internal.h"
#include "at_core.h"
#include "at_jws.h"

#define ACCOUNT_STATUS_DEACTIVATED "deactivated"
#define MAILTO "mailto:"

/* "user@example.org" -> "mailto:user@example.org"; contacts with a scheme stay as they are. */
static const char *account_contact_uri(apr_pool_t *p, const char *contact)
{
    const char *colon = strchr(contact, ':');
    const char *at = strchr(contact, '@');

    if (colon != NULL && (at == NULL || colon < at)) {
        return contact;
    }
    return apr_pstrcat(p, MAILTO, contact, NULL);
}

apr_status_t acme_account_parse(at_acme_account_t **account, apr_pool_t *p, const json_t *json,
                                const char *url, const char *what)
{
    at_acme_account_t *a = apr_pcalloc(p, sizeof(*a));
    apr_status_t rv;

    a->url = url;
    if ((rv = acme_json_string(&a->status, p, json, "status", 0, what)) ||
        (rv = acme_json_strings(&a->contacts, p, json, "contact", 0, what))) {
        return rv;
    }
    if (a->status == NULL) {
        a->status = "valid";
    }
    *account = a;
    return APR_SUCCESS;
}

/* POSTs payload to newAccount signed with key ("jwk"); on success the client signs as the
 * account found in Location. */
static apr_status_t account_new(at_acme_account_t **account, at_acme_t *acme, apr_pool_t *p,
                                EVP_PKEY *key, json_t *payload, const char *what,
                                const char *quiet_type)
{
    const at_acme_directory_t *dir;
    at_http_response_t *response;
    EVP_PKEY *old_key = acme->key;
    const char *old_kid = acme->kid != NULL ? apr_pstrdup(p, acme->kid) : NULL;
    const char *location;
    json_t *json = NULL;
    apr_status_t rv;

    if ((rv = at_acme_directory(&dir, acme)) != APR_SUCCESS) {
        return rv;
    }
    at_acme_set_account(acme, key, NULL);
    rv = acme_post_object(acme, p, what, dir->new_account, payload, quiet_type, &response, &json);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    if ((rv = acme_location(&location, acme, p, what, response)) != APR_SUCCESS) {
        goto leave;
    }
    if ((rv = acme_account_parse(account, p, json, location, what)) != APR_SUCCESS) {
        goto leave;
    }
    at_acme_set_account(acme, key, location);
    at_log(AT_LOG_DEBUG, APR_SUCCESS, AT_LOGNO(1025) "CA %s: account %s (%s, status %d)", acme->url,
           location, (*account)->status, response->status);
leave:
    json_decref(json);
    if (rv != APR_SUCCESS) {
        at_acme_set_account(acme, old_key, old_kid);
    }
    return rv;
}

apr_status_t at_acme_account_register(at_acme_account_t **account, at_acme_t *acme, apr_pool_t *p,
                                      EVP_PKEY *key, const at_acme_account_options_t *options)
{
    const at_acme_directory_t *dir;
    json_t *payload, *contacts, *eab;
    int i;
    apr_status_t rv;

    if ((rv = at_acme_directory(&dir, acme)) != APR_SUCCESS) {
        return rv;
    }
    if (dir->eab_required && (options == NULL || options->eab_kid == NULL)) {
        at_log(AT_LOG_ERR, AT_EARG,
               AT_LOGNO(1026) "CA %s requires an external account binding (EAB key id and MAC key)",
               acme->url);
        return AT_EARG;
    }
    payload = json_object();
    if (options != NULL && options->agree_tos) {
        json_object_set_new(payload, "termsOfServiceAgreed", json_true());
    }
    if (options != NULL && options->contacts != NULL && options->contacts->nelts > 0) {
        contacts = json_array();
        for (i = 0; i < options->contacts->nelts; i++) {
            json_array_append_new(contacts,
                                  json_string(account_contact_uri(
                                      p, APR_ARRAY_IDX(options->contacts, i, const char *))));
        }
        json_object_set_new(payload, "contact", contacts);
    }
    if (options != NULL && options->eab_kid != NULL) {
        rv = at_jws_eab(&eab, p, options->eab_kid, options->eab_hmac, key, dir->new_account);
        if (rv != APR_SUCCESS) {
            at_log(AT_LOG_ERR, rv,
                   AT_LOGNO(1027) "CA %s: cannot sign the external account binding for %s",
                   acme->url, options->eab_kid);
            json_decref(payload);
            return rv;
        }
        json_object_set_new(payload, "externalAccountBinding", eab);
    }
    rv = account_new(account, acme, p, key, payload,
                     apr_pstrcat(p, "newAccount ", dir->new_account, NULL), NULL);
    json_decref(payload);
    return rv;
}

/* newAccount with onlyReturnExisting; quiet_type: the problems the caller decides about. */
static apr_status_t account_lookup(at_acme_account_t **account, at_acme_t *acme, apr_pool_t *p,
                                   EVP_PKEY *key, const char *quiet_type)
{
    json_t *payload = json_pack("{s:b}", "onlyReturnExisting", 1);
    apr_status_t rv;

    rv = account_new(account, acme, p, key, payload, "newAccount (onlyReturnExisting)", quiet_type);
    json_decref(payload);
    if (rv == AT_EPROBLEM && at_acme_problem_is(acme->last_problem, "accountDoesNotExist")) {
        at_log(AT_LOG_DEBUG, APR_ENOENT, AT_LOGNO(1028) "CA %s knows no account for this key",
               acme->url);
        return APR_ENOENT;
    }
    return rv;
}

apr_status_t at_acme_account_find(at_acme_account_t **account, at_acme_t *acme, apr_pool_t *p,
                                  EVP_PKEY *key)
{
    return account_lookup(account, acme, p, key, "accountDoesNotExist");
}

apr_status_t at_acme_account_probe(at_acme_account_t **account, at_acme_t *acme, apr_pool_t *p,
                                   EVP_PKEY *key)
{
    return account_lookup(account, acme, p, key, ACME_QUIET_ANY);
}

static apr_status_t account_require(const at_acme_t *acme, const char *what)
{
    if (acme->key == NULL || acme->kid == NULL) {
        at_log(AT_LOG_ERR, AT_EARG, AT_LOGNO(1029) "CA %s: %s needs an account (none is set)",
               acme->url, what);
        return AT_EARG;
    }
    return APR_SUCCESS;
}

apr_status_t at_acme_account_key_change(at_acme_t *acme, apr_pool_t *p, EVP_PKEY *new_key)
{
    const at_acme_directory_t *dir;
    at_http_response_t *response;
    json_t *old_jwk = NULL, *inner_payload = NULL, *inner = NULL, *json = NULL;
    const char *kid;
    apr_status_t rv;

    if ((rv = account_require(acme, "keyChange")) != APR_SUCCESS ||
        (rv = at_acme_directory(&dir, acme)) != APR_SUCCESS) {
        return rv;
    }
    if (dir->key_change == NULL) {
        return acme_protocol_error(acme, "keyChange", "the directory has no keyChange URL");
    }
    kid = apr_pstrdup(p, acme->kid);
    if ((rv = at_jwk_public(&old_jwk, acme->key)) != APR_SUCCESS) {
        goto leave;
    }
    /* RFC 8555 §7.3.5: the inner JWS is signed by the new key, with "jwk" and no nonce */
    inner_payload = json_pack("{s:s, s:O}", "account", kid, "oldKey", old_jwk);
    rv = at_jws_sign_json(&inner, p, new_key, NULL, NULL, dir->key_change, inner_payload);
    if (rv != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1030) "CA %s: cannot sign the keyChange request for %s",
               acme->url, kid);
        goto leave;
    }
    rv = acme_post(acme, p, apr_pstrcat(p, "keyChange for ", kid, NULL), dir->key_change, inner,
                   NULL, &response, &json);
    if (rv == APR_SUCCESS) {
        at_acme_set_account(acme, new_key, kid);
        at_log(AT_LOG_INFO, APR_SUCCESS, AT_LOGNO(1031) "CA %s: account %s now uses a new key",
               acme->url, kid);
    }
leave:
    json_decref(json);
    json_decref(inner);
    json_decref(inner_payload);
    json_decref(old_jwk);
    return rv;
}

apr_status_t at_acme_account_deactivate(at_acme_t *acme, apr_pool_t *p)
{
    at_http_response_t *response;
    at_acme_account_t *account;
    json_t *payload, *json = NULL;
    const char *what;
    apr_status_t rv;

    if ((rv = account_require(acme, "account deactivation")) != APR_SUCCESS) {
        return rv;
    }
    what = apr_pstrcat(p, "deactivation of account ", acme->kid, NULL);
    payload = json_pack("{s:s}", "status", ACCOUNT_STATUS_DEACTIVATED);
    rv = acme_post_object(acme, p, what, acme->kid, payload, NULL, &response, &json);
    json_decref(payload);
    if (rv == APR_SUCCESS) {
        rv = acme_account_parse(&account, p, json, acme->kid, what);
    }
    if (rv == APR_SUCCESS && strcmp(account->status, ACCOUNT_STATUS_DEACTIVATED) != 0) {
        rv = acme_protocol_error(acme, what,
                                 apr_psprintf(p, "account status is \"%s\"", account->status));
    }
    json_decref(json);
    return rv;
}

EVP_PKEY *at_acme_account_key(const at_acme_t *acme)
{
    return acme->key;
}

const char *at_acme_account_url(const at_acme_t *acme)
{
    return acme->kid;
}

const char *at_acme_contact_uri(apr_pool_t *p, const char *contact)
{
    return account_contact_uri(p, contact);
}

/* POSTs payload (NULL: POST-as-GET) to the account URL and parses the account it returns. */
static apr_status_t account_post(at_acme_account_t **account, at_acme_t *acme, apr_pool_t *p,
                                 const char *what, const json_t *payload, const char *quiet_type)
{
    at_http_response_t *response;
    json_t *json = NULL;
    apr_status_t rv;

    if ((rv = account_require(acme, what)) != APR_SUCCESS) {
        return rv;
    }
    what = apr_pstrcat(p, what, " of account ", acme->kid, NULL);
    rv = acme_post_object(acme, p, what, acme->kid, payload, quiet_type, &response, &json);
    if (rv == APR_SUCCESS) {
        rv = acme_account_parse(account, p, json, acme->kid, what);
    }
    json_decref(json);
    return rv;
}

apr_status_t at_acme_account_get(at_acme_account_t **account, at_acme_t *acme, apr_pool_t *p,
                                 int quiet)
{
    return account_post(account, acme, p, "fetch", NULL, quiet ? ACME_QUIET_ANY : NULL);
}

apr_status_t at_acme_account_update(at_acme_account_t **account, at_acme_t *acme, apr_pool_t *p,
                                    const apr_array_header_t *contacts)
{
    json_t *payload = json_object(), *list = json_array();
    apr_status_t rv;
    int i;

    for (i = 0; contacts != NULL && i < contacts->nelts; i++) {
        json_array_append_new(
            list, json_string(account_contact_uri(p, APR_ARRAY_IDX(contacts, i, const char *))));
    }
    json_object_set_new(payload, "contact", list);
    rv = account_post(account, acme, p, "contact update", payload, NULL);
    json_decref(payload);
    return rv;
}
