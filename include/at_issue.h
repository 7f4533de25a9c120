/*
 * at_issue.h: obtaining a certificate from start to end, on top of at_acme.h.
 *
 * Both the renewal thread of the module and the CLI drive the same flow: make sure the account
 * exists (stored per CA in the store), order, answer http-01 through a responder the caller
 * provides, poll on a bounded schedule that honours Retry-After, finalize with a CSR for all
 * names, download the chain. The result is returned as PEM texts; where it goes (staging/ for
 * the module, live/ for the CLI) is the caller's choice.
 */
#ifndef AT_ISSUE_H
#define AT_ISSUE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "at_acme.h"
#include "at_crypto.h"
#include "at_store.h"

/* Polling: first look after the initial delay (or the CA's Retry-After), doubling up to the max
 * interval, giving up after the timeout. */
#define AT_ISSUE_POLL_INITIAL apr_time_from_msec(300)
#define AT_ISSUE_POLL_MAX apr_time_from_sec(10)
#define AT_ISSUE_TIMEOUT_DEFAULT apr_time_from_sec(300)

/* Item names of a certificate set in staging/ and live/. */
#define AT_CERTSET_KEY "privkey.pem"
#define AT_CERTSET_CHAIN "fullchain.pem"
#define AT_CERTSET_META "meta.json"
/* Items of an account in accounts/<ca-name>/. */
#define AT_ACCOUNT_KEY "account.key"
#define AT_ACCOUNT_JSON "account.json"
#define AT_ACCOUNT_DIRECTORY "directory.json"
/* How long a kept directory document is used instead of fetching it again. */
#define AT_DIRECTORY_CACHE_TTL apr_time_from_sec(24 * 3600)

/* Makes keyauth reachable at http://<name>/.well-known/acme-challenge/<token> and removes it
 * again. teardown may be NULL. */
typedef struct {
    apr_status_t (*setup)(void *baton, const char *name, const char *token, const char *keyauth,
                          apr_pool_t *p);
    void (*teardown)(void *baton, const char *name, const char *token, apr_pool_t *p);
    void *baton;
} at_http01_responder_t;

/* Loads the stored account for acme's CA and makes acme sign with it; APR_ENOENT when none is
 * stored. A stored key whose URL was lost is looked up at the CA (onlyReturnExisting). */
apr_status_t at_account_load(at_acme_t *acme, at_store_t *store, apr_pool_t *p);

/* After an issuance: keeps the directory acme fetched for the next run (one request saved), or,
 * after a failure, forgets a kept one in case it was stale. at_account_load uses a kept one. */
void at_account_directory_keep(at_acme_t *acme, at_store_t *store, apr_pool_t *p, int succeeded);

/* Registers the stored key again (the CA forgot the account, e.g. after a CA reset). */
apr_status_t at_account_register_again(at_acme_t *acme, at_store_t *store, apr_pool_t *p,
                                       const at_acme_account_options_t *options);

/* Loads the account for acme's CA from the store, or creates a key and registers one (agreeing
 * to the terms of service when options->agree_tos). A stored account the CA no longer knows is
 * registered again with the same key. On success acme signs with the account. */
apr_status_t at_account_ensure(at_acme_t *acme, at_store_t *store, apr_pool_t *p,
                               const at_acme_account_options_t *options);

typedef struct {
    const char *site;                /* store name of the certificate set (the first name) */
    const apr_array_header_t *names; /* const char *, at least one */
    at_key_type_e key_type;
    const char *replaces;        /* ARI certID of the certificate being renewed, or NULL */
    apr_interval_time_t timeout; /* 0: AT_ISSUE_TIMEOUT_DEFAULT */
    const char *preferred_chain; /* issuer CN of the top of the chain to prefer, or NULL */
    /* When set, an account the CA no longer knows is registered again and the order retried. */
    at_store_t *account_store;
    const at_acme_account_options_t *account_options;
    /* When set and some names fail validation while others pass, the certificate is ordered
     * again for the names that passed; the others are listed in the result's `failed`. */
    int allow_partial;
} at_issue_request_t;

/* A name left out of a partial certificate, and why (the CA's problem, one line). */
typedef struct {
    const char *name;
    const char *reason;
} at_issue_failed_t;

typedef struct {
    const char *key_pem; /* the new private key */
    apr_size_t key_len;
    const char *chain_pem; /* leaf first, then intermediates */
    apr_size_t chain_len;
    apr_array_header_t *alternates; /* const char *: URLs of alternate chains offered */
    const char *order_url;
    const apr_array_header_t *names; /* const char *: the names the certificate covers */
    apr_array_header_t *failed;      /* at_issue_failed_t: names left out (allow_partial) */
} at_issue_result_t;

/* Orders, validates, finalizes and downloads a certificate for request->names. The account must
 * be set (at_account_ensure). On failure one log line names the site, the failing name and the
 * CA's problem. When request->replaces is refused by the CA, the order is tried once more without
 * it. After a failure, at_acme_retry_after() tells whether the CA asked us to wait (429/503). */
apr_status_t at_issue_certificate(at_issue_result_t **result, at_acme_t *acme, apr_pool_t *p,
                                  const at_issue_request_t *request,
                                  const at_http01_responder_t *responder);

/* Writes a result as group/site/{privkey.pem (secret), fullchain.pem}: the key first, so that a
 * chain is never present without its key. */
apr_status_t at_certset_save(at_store_t *store, at_store_group_e group, const char *site,
                             const at_issue_result_t *result, apr_pool_t *p);

/* Reads group/site back: key and parsed chain. APR_ENOENT when there is none. */
apr_status_t at_certset_load(EVP_PKEY **key, apr_array_header_t **chain, at_store_t *store,
                             at_store_group_e group, const char *site, apr_pool_t *p);

#endif
