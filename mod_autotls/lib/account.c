/* SPDX-License-Identifier: Apache-2.0 */
/*
 * account.c: the ACME account of a store, per CA: load, register, roll its key, keep its
 * contact current, replace it when the CA deactivated it.
 *
 * The account key is the one secret that outlives every certificate: it is written to the store
 * before the CA ever sees it, so that a crash between registration and saving the URL loses
 * nothing (the key is simply looked up again with onlyReturnExisting). A new key of a rollover
 * goes to account.key.next before the keyChange; whichever key the CA accepts wins at the next
 * at_account_ensure when a crash came between. Only one writer changes keys: at_account_ensure
 * and at_account_rollover (the renewal side's main thread, or the CLI without a server); order
 * tasks only read the key and, when the CA says the account is gone, mark it in account.json.
 *
 * accounts/<ca-name>/account.json:
 *   {"url": "...", "ca": "<directory URL>", "created": 1700000000, "status": "valid",
 *    "contact": ["mailto:..."],             the list the CA returned last
 *    "configured_contact": ["mailto:..."]}  the configured list last applied (AutoTLSContact)
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "at_core.h"
#include "at_issue.h"
#include "at_jws.h"

#define ACCOUNT_STATUS_VALID "valid"
#define ACCOUNT_REQUEST_ROLLOVER ".rollover"
#define ACCOUNT_REQUEST_UPDATE ".update"
#define ACCOUNT_RESULT ".result"

static const char *account_ca_name(at_acme_t *acme, apr_pool_t *p)
{
    return at_store_ca_name(p, at_acme_url(acme));
}

/* A contact list as the CA spells it (mailto: URIs), as a JSON array. */
static json_t *account_contacts_json(apr_pool_t *p, const apr_array_header_t *contacts)
{
    json_t *list = json_array();
    int i;

    for (i = 0; contacts != NULL && i < contacts->nelts; i++) {
        json_array_append_new(
            list, json_string(at_acme_contact_uri(p, APR_ARRAY_IDX(contacts, i, const char *))));
    }
    return list;
}

/* account.json, or an empty object when there is none (or it does not parse). */
static json_t *account_json_load(at_store_t *store, const char *ca_name, apr_pool_t *p)
{
    json_t *json = NULL;

    if (at_store_load_json(store, AT_STORE_ACCOUNTS, ca_name, AT_ACCOUNT_JSON, &json, p) !=
            APR_SUCCESS ||
        !json_is_object(json)) {
        json_decref(json);
        return json_object();
    }
    return json;
}

/* Writes account.json after the CA answered about account: URL, status and contact as the CA
 * returned them; configured (may be NULL: kept) is the configured list just applied. A fresh
 * registration gets a new created date; otherwise the stored one stays. */
static apr_status_t account_save(at_store_t *store, const char *ca_name, at_acme_t *acme,
                                 const at_acme_account_t *account, json_t *configured, int fresh,
                                 apr_pool_t *p)
{
    json_t *json = account_json_load(store, ca_name, p);
    apr_status_t rv;

    json_object_set_new(json, "url", json_string(account->url));
    json_object_set_new(json, "ca", json_string(at_acme_url(acme)));
    json_object_set_new(json, "status", json_string(account->status));
    if (account->contacts != NULL) {
        json_object_set_new(json, "contact", account_contacts_json(p, account->contacts));
    }
    if (configured != NULL) {
        json_object_set(json, "configured_contact", configured);
    }
    if (fresh || !json_is_integer(json_object_get(json, "created"))) {
        json_object_set_new(json, "created", json_integer(apr_time_sec(apr_time_now())));
    }
    rv = at_store_save_json(store, AT_STORE_ACCOUNTS, ca_name, AT_ACCOUNT_JSON, json, p);
    json_decref(json);
    return rv;
}

/* Records in account.json that the CA no longer accepts the account: the next
 * at_account_ensure registers a new one with a new key. */
static void account_mark_dead(at_store_t *store, const char *ca_name, apr_pool_t *p)
{
    json_t *json = account_json_load(store, ca_name, p);

    json_object_set_new(json, "status", json_string(AT_ACCOUNT_STATUS_DEACTIVATED));
    at_store_save_json(store, AT_STORE_ACCOUNTS, ca_name, AT_ACCOUNT_JSON, json, p);
    json_decref(json);
}

static apr_status_t account_load_key_item(EVP_PKEY **key, at_store_t *store, const char *ca_name,
                                          const char *item, apr_pool_t *p)
{
    char *pem;
    apr_size_t len;
    apr_status_t rv;

    rv = at_store_load(store, AT_STORE_ACCOUNTS, ca_name, item, &pem, &len, AT_STORE_SECRET, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return at_key_from_pem(key, p, pem, len);
}

static apr_status_t account_load_key(EVP_PKEY **key, at_store_t *store, const char *ca_name,
                                     apr_pool_t *p)
{
    return account_load_key_item(key, store, ca_name, AT_ACCOUNT_KEY, p);
}

/* A new P-256 (ES256) key, written as item before any CA sees it. */
static apr_status_t account_new_key(EVP_PKEY **key, at_acme_t *acme, at_store_t *store,
                                    const char *ca_name, const char *item, apr_pool_t *p)
{
    const char *pem;
    apr_size_t len;
    apr_status_t rv;

    if ((rv = at_key_generate(key, p, AT_KEY_EC256)) != APR_SUCCESS ||
        (rv = at_key_to_pem(&pem, &len, p, *key)) != APR_SUCCESS ||
        (rv = at_store_save(store, AT_STORE_ACCOUNTS, ca_name, item, pem, len, AT_STORE_SECRET,
                            p)) != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1000) "could not create an account key for %s",
               at_acme_url(acme));
    }
    return rv;
}

/* Presets acme's directory from the store when a fresh copy is kept there. */
static void account_directory_preset(at_acme_t *acme, at_store_t *store, const char *ca_name,
                                     apr_pool_t *p)
{
    json_t *kept = NULL, *fetched, *directory;
    char *text;

    if (at_store_load_json(store, AT_STORE_ACCOUNTS, ca_name, AT_ACCOUNT_DIRECTORY, &kept, p) !=
        APR_SUCCESS) {
        return;
    }
    fetched = json_object_get(kept, "fetched");
    directory = json_object_get(kept, "directory");
    if (json_is_integer(fetched) && json_is_object(directory) &&
        apr_time_now() - apr_time_from_sec(json_integer_value(fetched)) < AT_DIRECTORY_CACHE_TTL &&
        (text = json_dumps(directory, JSON_COMPACT)) != NULL) {
        if (at_acme_directory_preset(acme, text, strlen(text)) == APR_SUCCESS) {
            at_log(AT_LOG_DEBUG, APR_SUCCESS, AT_LOGNO(1001) "using the kept directory of %s",
                   at_acme_url(acme));
        }
        free(text);
    }
    json_decref(kept);
}

void at_account_directory_keep(at_acme_t *acme, at_store_t *store, apr_pool_t *p, int succeeded)
{
    const char *ca_name = account_ca_name(acme, p);
    const char *text = at_acme_directory_text(acme);
    json_t *directory, *kept;

    if (!succeeded) {
        at_store_remove(store, AT_STORE_ACCOUNTS, ca_name, AT_ACCOUNT_DIRECTORY, p);
        return;
    }
    if (text == NULL || (directory = json_loads(text, 0, NULL)) == NULL) {
        return; /* preset from the store, or never fetched: nothing new to keep */
    }
    kept = json_pack("{s:I, s:o}", "fetched", (json_int_t)apr_time_sec(apr_time_now()), "directory",
                     directory);
    if (kept != NULL) {
        at_store_save_json(store, AT_STORE_ACCOUNTS, ca_name, AT_ACCOUNT_DIRECTORY, kept, p);
        json_decref(kept);
    }
}

apr_status_t at_account_load(at_acme_t *acme, at_store_t *store, apr_pool_t *p)
{
    const char *ca_name = account_ca_name(acme, p);
    at_acme_account_t *account;
    EVP_PKEY *key;
    json_t *json = NULL, *url;
    apr_status_t rv;

    rv = account_load_key(&key, store, ca_name, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    account_directory_preset(acme, store, ca_name, p);
    rv = at_store_load_json(store, AT_STORE_ACCOUNTS, ca_name, AT_ACCOUNT_JSON, &json, p);
    if (rv == APR_SUCCESS && json_is_string(url = json_object_get(json, "url"))) {
        at_acme_set_account(acme, key, apr_pstrdup(p, json_string_value(url)));
        at_log(AT_LOG_INFO, APR_SUCCESS, AT_LOGNO(1002) "account reused %s",
               json_string_value(url));
        json_decref(json);
        return APR_SUCCESS;
    }
    json_decref(json);
    if (rv != APR_SUCCESS && rv != APR_ENOENT && rv != AT_EPROTO) {
        return rv;
    }
    /* The key survived but its URL did not: ask the CA which account it belongs to. */
    rv = at_acme_account_find(&account, acme, p, key);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    at_log(AT_LOG_INFO, APR_SUCCESS, AT_LOGNO(1003) "account recovered %s", account->url);
    return account_save(store, ca_name, acme, account, NULL, 0, p);
}

static apr_status_t account_register(at_acme_t *acme, at_store_t *store, apr_pool_t *p,
                                     EVP_PKEY *key, const at_acme_account_options_t *options)
{
    const char *ca_name = account_ca_name(acme, p);
    at_acme_account_t *account;
    json_t *configured;
    apr_status_t rv;

    rv = at_acme_account_register(&account, acme, p, key, options);
    if (rv != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1004) "could not register an account at %s",
               at_acme_url(acme));
        return rv;
    }
    at_log(AT_LOG_INFO, APR_SUCCESS, AT_LOGNO(1005) "account registered %s", account->url);
    configured = account_contacts_json(p, options != NULL ? options->contacts : NULL);
    rv = account_save(store, ca_name, acme, account, configured, 1, p);
    json_decref(configured);
    return rv;
}

/* The CA's answer for an account that is gone for good: deactivated or revoked by its owner or
 * the CA (RFC 8555 §7.3.6: requests signed by it are refused as unauthorized). */
static int account_problem_dead(const at_acme_t *acme)
{
    const at_acme_problem_t *problem = at_acme_last_problem(acme);

    return problem != NULL && at_acme_problem_is(problem, "unauthorized");
}

static const char *account_error_text(at_acme_t *acme, apr_pool_t *p, apr_status_t rv)
{
    const at_acme_problem_t *problem = at_acme_last_problem(acme);

    if (rv == AT_EPROBLEM && problem != NULL) {
        return at_acme_problem_text(p, problem);
    }
    return at_strerror(p, rv);
}

static const char *account_thumbprint(apr_pool_t *p, EVP_PKEY *key)
{
    const char *thumbprint = NULL;

    return at_jwk_thumbprint(&thumbprint, p, key) == APR_SUCCESS ? thumbprint : "unknown";
}

/* account.key.next becomes account.key: one atomic replacement, then the spare goes. */
static apr_status_t account_key_promote(at_store_t *store, const char *ca_name, apr_pool_t *p)
{
    char *pem;
    apr_size_t len;
    apr_status_t rv;

    if ((rv = at_store_load(store, AT_STORE_ACCOUNTS, ca_name, AT_ACCOUNT_KEY_NEXT, &pem, &len,
                            AT_STORE_SECRET, p)) != APR_SUCCESS ||
        (rv = at_store_save(store, AT_STORE_ACCOUNTS, ca_name, AT_ACCOUNT_KEY, pem, len,
                            AT_STORE_SECRET, p)) != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1006) "could not promote %s/%s to %s", ca_name,
               AT_ACCOUNT_KEY_NEXT, AT_ACCOUNT_KEY);
        return rv;
    }
    return at_store_remove(store, AT_STORE_ACCOUNTS, ca_name, AT_ACCOUNT_KEY_NEXT, p);
}

/* A rollover interrupted between its keyChange and the promotion left account.key.next: keep
 * whichever key the CA accepts for the account (asked with onlyReturnExisting). */
static apr_status_t account_next_recover(at_acme_t *acme, at_store_t *store, const char *ca_name,
                                         apr_pool_t *p)
{
    at_acme_account_t *account;
    EVP_PKEY *next, *current;
    apr_status_t rv;

    rv = account_load_key_item(&next, store, ca_name, AT_ACCOUNT_KEY_NEXT, p);
    if (rv == APR_ENOENT) {
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (account_load_key(&current, store, ca_name, p) == APR_SUCCESS &&
        strcmp(account_thumbprint(p, current), account_thumbprint(p, next)) == 0) {
        return at_store_remove(store, AT_STORE_ACCOUNTS, ca_name, AT_ACCOUNT_KEY_NEXT, p);
    }
    rv = at_acme_account_probe(&account, acme, p, next);
    if (rv == APR_ENOENT) {
        at_log(AT_LOG_NOTICE, APR_SUCCESS,
               AT_LOGNO(1007) "an interrupted account key rollover "
                              "at %s never reached the CA: the old key "
                              "stays",
               at_acme_url(acme));
        return at_store_remove(store, AT_STORE_ACCOUNTS, ca_name, AT_ACCOUNT_KEY_NEXT, p);
    }
    if (rv != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv,
               AT_LOGNO(1008) "cannot tell which key of an interrupted rollover %s accepts (%s); "
                              "asking again "
                              "later",
               at_acme_url(acme), account_error_text(acme, p, rv));
        return rv;
    }
    if ((rv = account_key_promote(store, ca_name, p)) != APR_SUCCESS ||
        (rv = account_save(store, ca_name, acme, account, NULL, 0, p)) != APR_SUCCESS) {
        return rv;
    }
    at_log(
        AT_LOG_NOTICE, APR_SUCCESS,
        AT_LOGNO(1009) "finished an interrupted account key rollover: %s accepts the new key of %s "
                       "(thumbprint %s)",
        at_acme_url(acme), account->url, account_thumbprint(p, next));
    return APR_SUCCESS;
}

/* The account is gone at the CA: a new key (the old one cannot register again) and a new
 * registration. */
static apr_status_t account_replace(at_acme_t *acme, at_store_t *store, const char *ca_name,
                                    apr_pool_t *p, const at_acme_account_options_t *options)
{
    EVP_PKEY *key;
    apr_status_t rv;

    if ((rv = account_new_key(&key, acme, store, ca_name, AT_ACCOUNT_KEY, p)) != APR_SUCCESS ||
        (rv = account_register(acme, store, p, key, options)) != APR_SUCCESS) {
        return rv;
    }
    at_log(AT_LOG_NOTICE, APR_SUCCESS,
           AT_LOGNO(1010) "replaced the deactivated account at %s: new account %s with a new key "
                          "(thumbprint "
                          "%s)",
           at_acme_url(acme), at_acme_account_url(acme), account_thumbprint(p, key));
    return APR_SUCCESS;
}

/* The configured contact list last applied to the account; NULL when the store does not say. */
static const json_t *account_contacts_applied(const json_t *json)
{
    const json_t *applied = json_object_get(json, "configured_contact");

    return json_is_array(applied) ? applied : NULL;
}

static int account_contacts_stale(const json_t *json, const json_t *configured)
{
    const json_t *applied = account_contacts_applied(json);

    if (applied == NULL) {
        applied = json_object_get(json, "contact"); /* stores from before configured_contact */
    }
    if (!json_is_array(applied)) {
        return json_array_size(configured) > 0;
    }
    return !json_equal((json_t *)applied, (json_t *)configured);
}

/* A changed configured contact reaches the CA. A refusal leaves the account usable: it is
 * logged and tried again at the next at_account_ensure. */
static apr_status_t account_contacts_sync(at_acme_t *acme, at_store_t *store, const char *ca_name,
                                          apr_pool_t *p, const at_acme_account_options_t *options,
                                          const json_t *json)
{
    json_t *configured;
    at_acme_account_t *account;
    apr_status_t rv = APR_SUCCESS;

    if (options == NULL || !options->update_contacts) {
        return APR_SUCCESS;
    }
    configured = account_contacts_json(p, options->contacts);
    if (!account_contacts_stale(json, configured)) {
        json_decref(configured);
        return APR_SUCCESS;
    }
    rv = at_acme_account_update(&account, acme, p, options->contacts);
    if (rv == APR_SUCCESS) {
        rv = account_save(store, ca_name, acme, account, configured, 0, p);
        at_log(AT_LOG_NOTICE, APR_SUCCESS, AT_LOGNO(1011) "account %s at %s: contact updated to %s",
               account->url, at_acme_url(acme), at_account_contacts_text(p, account->contacts));
    } else if (rv == AT_EPROBLEM && account_problem_dead(acme)) {
        at_log(AT_LOG_ERR, rv,
               AT_LOGNO(1012) "account %s at %s is deactivated (%s); registering a new one",
               at_acme_account_url(acme), at_acme_url(acme), account_error_text(acme, p, rv));
        rv = account_replace(acme, store, ca_name, p, options);
    } else {
        at_log(AT_LOG_ERR, rv,
               AT_LOGNO(1013) "account %s at %s: the contact update was refused (%s); the "
                              "account stays as it is",
               at_acme_account_url(acme), at_acme_url(acme), account_error_text(acme, p, rv));
        rv = APR_SUCCESS;
    }
    json_decref(configured);
    return rv;
}

apr_status_t at_account_register_again(at_acme_t *acme, at_store_t *store, apr_pool_t *p,
                                       const at_acme_account_options_t *options)
{
    const char *ca_name = account_ca_name(acme, p);
    const char *url = at_acme_account_url(acme);
    at_acme_account_t *account;
    EVP_PKEY *key;
    apr_status_t rv;

    url = url != NULL ? apr_pstrdup(p, url) : "(none)";
    rv = account_load_key(&key, store, ca_name, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* Forgotten (a CA reset: the same key registers again) or deactivated (it cannot)? */
    rv = at_acme_account_probe(&account, acme, p, key);
    if (rv == APR_ENOENT) {
        return account_register(acme, store, p, key, options);
    }
    if (rv == APR_SUCCESS && strcmp(account->status, ACCOUNT_STATUS_VALID) == 0) {
        return account_save(store, ca_name, acme, account, NULL, 0, p);
    }
    if (rv == APR_SUCCESS || (rv == AT_EPROBLEM && account_problem_dead(acme))) {
        at_log(AT_LOG_ERR, AT_EPROBLEM,
               AT_LOGNO(1014) "account %s at %s is deactivated (%s): a new account with a new key "
                              "is registered "
                              "before the next order",
               url, at_acme_url(acme),
               rv == APR_SUCCESS ? apr_pstrcat(p, "status ", account->status, NULL)
                                 : account_error_text(acme, p, rv));
        account_mark_dead(store, ca_name, p);
        return AT_EPROBLEM;
    }
    at_log(AT_LOG_ERR, rv, AT_LOGNO(1015) "cannot look up the account of %s (%s)",
           at_acme_url(acme), account_error_text(acme, p, rv));
    return rv;
}

apr_status_t at_account_ensure(at_acme_t *acme, at_store_t *store, apr_pool_t *p,
                               const at_acme_account_options_t *options)
{
    const char *ca_name = account_ca_name(acme, p);
    EVP_PKEY *key;
    json_t *json;
    apr_status_t rv;

    if ((rv = account_next_recover(acme, store, ca_name, p)) != APR_SUCCESS) {
        return rv;
    }
    json = account_json_load(store, ca_name, p);
    if (json_is_string(json_object_get(json, "url")) && at_account_json_dead(json)) {
        json_decref(json);
        return account_replace(acme, store, ca_name, p, options);
    }
    rv = at_account_load(acme, store, p);
    if (rv == APR_SUCCESS) {
        rv = account_contacts_sync(acme, store, ca_name, p, options, json);
        json_decref(json);
        return rv;
    }
    json_decref(json);
    if (rv == AT_EPROBLEM && account_problem_dead(acme)) {
        at_log(AT_LOG_ERR, rv,
               AT_LOGNO(1016) "the stored account key for %s belongs to a deactivated account "
                              "(%s); registering a new one",
               at_acme_url(acme), account_error_text(acme, p, rv));
        return account_replace(acme, store, ca_name, p, options);
    }
    if (rv != APR_ENOENT) {
        return rv;
    }
    if ((rv = account_load_key(&key, store, ca_name, p)) == APR_ENOENT) {
        rv = account_new_key(&key, acme, store, ca_name, AT_ACCOUNT_KEY, p);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return account_register(acme, store, p, key, options);
}

apr_status_t at_account_rollover(const char **thumbprint, at_acme_t *acme, at_store_t *store,
                                 apr_pool_t *p)
{
    const char *ca_name = account_ca_name(acme, p);
    EVP_PKEY *key;
    apr_status_t rv;

    if ((rv = account_new_key(&key, acme, store, ca_name, AT_ACCOUNT_KEY_NEXT, p)) != APR_SUCCESS) {
        return rv;
    }
    rv = at_acme_account_key_change(acme, p, key);
    if (rv == AT_EPROBLEM) {
        /* refused: the CA still knows the old key only */
        at_store_remove(store, AT_STORE_ACCOUNTS, ca_name, AT_ACCOUNT_KEY_NEXT, p);
        return rv;
    }
    if (rv != APR_SUCCESS) {
        /* no answer: the CA may have switched; ask it, else the next start does */
        account_next_recover(acme, store, ca_name, p);
        return rv;
    }
    if ((rv = account_key_promote(store, ca_name, p)) != APR_SUCCESS) {
        return rv; /* account.key.next stays: the next start finds the CA accepts it */
    }
    *thumbprint = account_thumbprint(p, key);
    return APR_SUCCESS;
}

apr_status_t at_account_update_contacts(at_acme_account_t **account, at_acme_t *acme,
                                        at_store_t *store, apr_pool_t *p,
                                        const apr_array_header_t *contacts)
{
    apr_status_t rv;

    if ((rv = at_acme_account_update(account, acme, p, contacts)) != APR_SUCCESS) {
        return rv;
    }
    return account_save(store, account_ca_name(acme, p), acme, *account, NULL, 0, p);
}

int at_account_json_dead(const json_t *json)
{
    const json_t *status = json_object_get(json, "status");

    return json_is_string(status) && strcmp(json_string_value(status), ACCOUNT_STATUS_VALID) != 0;
}

int at_account_stale(at_store_t *store, const char *ca_url, apr_pool_t *p,
                     const at_acme_account_options_t *options)
{
    const char *ca_name = at_store_ca_name(p, ca_url);
    json_t *json, *configured;
    char *data;
    apr_size_t len;
    int stale;

    if (at_store_load(store, AT_STORE_ACCOUNTS, ca_name, AT_ACCOUNT_KEY_NEXT, &data, &len,
                      AT_STORE_SECRET, p) != APR_ENOENT) {
        return 1;
    }
    json = account_json_load(store, ca_name, p);
    if (!json_is_string(json_object_get(json, "url"))) {
        json_decref(json);
        return 0; /* no account yet: the first order makes one */
    }
    configured = account_contacts_json(p, options != NULL ? options->contacts : NULL);
    stale = at_account_json_dead(json) || (options != NULL && options->update_contacts &&
                                           account_contacts_stale(json, configured));
    json_decref(configured);
    json_decref(json);
    return stale;
}

const char *at_account_contacts_text(apr_pool_t *p, const apr_array_header_t *contacts)
{
    const char *out = "";
    int i;

    for (i = 0; contacts != NULL && i < contacts->nelts; i++) {
        out = apr_pstrcat(p, out, i ? ", " : "", APR_ARRAY_IDX(contacts, i, const char *), NULL);
    }
    return contacts == NULL || contacts->nelts == 0 ? "(none)" : out;
}

const char *at_account_request_item(apr_pool_t *p, const char *ca_name, at_account_request_e kind)
{
    return apr_pstrcat(p, AT_ACCOUNT_JOB_PREFIX, ca_name,
                       kind == AT_ACCOUNT_REQUEST_ROLLOVER ? ACCOUNT_REQUEST_ROLLOVER
                                                           : ACCOUNT_REQUEST_UPDATE,
                       NULL);
}

const char *at_account_result_item(apr_pool_t *p, const char *ca_name)
{
    return apr_pstrcat(p, AT_ACCOUNT_JOB_PREFIX, ca_name, ACCOUNT_RESULT, NULL);
}

const char *at_account_request_name(at_account_request_e kind)
{
    return kind == AT_ACCOUNT_REQUEST_ROLLOVER ? "rollover" : "update";
}
