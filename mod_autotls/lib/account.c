/*
 * account.c: the ACME account of a store, per CA.
 *
 * The account key is the one secret that outlives every certificate: it is written to the store
 * before the CA ever sees it, so that a crash between registration and saving the URL loses
 * nothing (the key is simply looked up again with onlyReturnExisting).
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "at_core.h"
#include "at_issue.h"

static const char *account_ca_name(at_acme_t *acme, apr_pool_t *p)
{
    return at_store_ca_name(p, at_acme_url(acme));
}

static apr_status_t account_save_url(at_store_t *store, const char *ca_name,
                                     const at_acme_account_t *account, const char *ca_url,
                                     apr_pool_t *p)
{
    json_t *json = json_pack("{s:s, s:s}", "url", account->url, "ca", ca_url);
    apr_status_t rv;

    if (json == NULL) {
        return APR_ENOMEM;
    }
    rv = at_store_save_json(store, AT_STORE_ACCOUNTS, ca_name, AT_ACCOUNT_JSON, json, p);
    json_decref(json);
    return rv;
}

static apr_status_t account_load_key(EVP_PKEY **key, at_store_t *store, const char *ca_name,
                                     apr_pool_t *p)
{
    char *pem;
    apr_size_t len;
    apr_status_t rv;

    rv = at_store_load(store, AT_STORE_ACCOUNTS, ca_name, AT_ACCOUNT_KEY, &pem, &len,
                       AT_STORE_SECRET, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return at_key_from_pem(key, p, pem, len);
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
            at_log(AT_LOG_DEBUG, APR_SUCCESS, "using the kept directory of %s", at_acme_url(acme));
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
        at_log(AT_LOG_INFO, APR_SUCCESS, "account reused %s", json_string_value(url));
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
    at_log(AT_LOG_INFO, APR_SUCCESS, "account recovered %s", account->url);
    return account_save_url(store, ca_name, account, at_acme_url(acme), p);
}

static apr_status_t account_register(at_acme_t *acme, at_store_t *store, apr_pool_t *p,
                                     EVP_PKEY *key, const at_acme_account_options_t *options)
{
    const char *ca_name = account_ca_name(acme, p);
    at_acme_account_t *account;
    apr_status_t rv;

    rv = at_acme_account_register(&account, acme, p, key, options);
    if (rv != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv, "could not register an account at %s", at_acme_url(acme));
        return rv;
    }
    at_log(AT_LOG_INFO, APR_SUCCESS, "account registered %s", account->url);
    return account_save_url(store, ca_name, account, at_acme_url(acme), p);
}

apr_status_t at_account_register_again(at_acme_t *acme, at_store_t *store, apr_pool_t *p,
                                       const at_acme_account_options_t *options)
{
    EVP_PKEY *key;
    apr_status_t rv;

    rv = account_load_key(&key, store, account_ca_name(acme, p), p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return account_register(acme, store, p, key, options);
}

apr_status_t at_account_ensure(at_acme_t *acme, at_store_t *store, apr_pool_t *p,
                               const at_acme_account_options_t *options)
{
    const char *ca_name = account_ca_name(acme, p);
    const char *pem;
    apr_size_t len;
    EVP_PKEY *key;
    apr_status_t rv;

    rv = at_account_load(acme, store, p);
    if (rv == APR_SUCCESS) {
        return APR_SUCCESS;
    }
    if (rv != APR_ENOENT) {
        return rv;
    }
    if ((rv = account_load_key(&key, store, ca_name, p)) == APR_ENOENT) {
        /* ACME account keys are P-256 (ES256): the key goes to disk before the CA sees it. */
        if ((rv = at_key_generate(&key, p, AT_KEY_EC256)) != APR_SUCCESS ||
            (rv = at_key_to_pem(&pem, &len, p, key)) != APR_SUCCESS ||
            (rv = at_store_save(store, AT_STORE_ACCOUNTS, ca_name, AT_ACCOUNT_KEY, pem, len,
                                AT_STORE_SECRET, p)) != APR_SUCCESS) {
            at_log(AT_LOG_ERR, rv, "could not create an account key for %s", at_acme_url(acme));
            return rv;
        }
    } else if (rv != APR_SUCCESS) {
        return rv;
    }
    return account_register(acme, store, p, key, options);
}
