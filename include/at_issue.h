/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_issue.h: obtaining a certificate from start to end, on top of at_acme.h.
 *
 * Both the renewal thread of the module and the CLI drive the same flow: make sure the account
 * exists (stored per CA in the store), order, answer http-01 through a responder the caller
 * provides, poll on the schedule of at_poll.h (it honours Retry-After), finalize with a CSR for
 * all names, download the chain. The result is returned as PEM texts; where it goes (staging/ for
 * the module, live/ for the CLI) is the caller's choice.
 */
#ifndef AT_ISSUE_H
#define AT_ISSUE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <jansson.h>

#include "at_acme.h"
#include "at_crypto.h"
#include "at_store.h"

/* How long one issuance may take; the polls (at_poll.h) are bounded by it. */
#define AT_ISSUE_TIMEOUT_DEFAULT apr_time_from_sec(300)

/* Item names of a certificate set in staging/ and live/. */
#define AT_CERTSET_KEY "privkey.pem"
#define AT_CERTSET_CHAIN "fullchain.pem"
#define AT_CERTSET_META "meta.json"
/* Items of an account in accounts/<ca-name>/. */
#define AT_ACCOUNT_KEY "account.key"
#define AT_ACCOUNT_JSON "account.json"
#define AT_ACCOUNT_DIRECTORY "directory.json"
/* The new key of a rollover, written before the keyChange and promoted to AT_ACCOUNT_KEY after
 * (secret, like the key). */
#define AT_ACCOUNT_KEY_NEXT "account.key.next"
/* account.json's status when the CA refused the account as deactivated. */
#define AT_ACCOUNT_STATUS_DEACTIVATED "deactivated"
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

/* Challenge types (RFC 8555 §8.3, §8.4; RFC 8737), as the CA and AutoTLSChallenge spell them. */
#define AT_CHALLENGE_HTTP01 "http-01"
#define AT_CHALLENGE_TLSALPN01 "tls-alpn-01"
#define AT_CHALLENGE_DNS01 "dns-01"

/* tls-alpn-01 (RFC 8737) has the shape of http-01's responder: setup makes the server answer a
 * TLS handshake with SNI name and ALPN acme-tls/1 by a certificate proving keyauth's digest;
 * teardown stops that. */
typedef at_http01_responder_t at_tlsalpn01_responder_t;

/* The challenge types used when none are given (AutoTLSChallenge's default): http-01, then
 * tls-alpn-01 (const char *, in p). */
const apr_array_header_t *at_issue_challenges_default(apr_pool_t *p);

/* dns-01 (RFC 8555 §8.4): makes the TXT record fqdn ("_acme-challenge.<name>.") hold value, and
 * removes that value again (a name and its wildcard share one fqdn: their values coexist).
 * present returns once the record is set at the DNS provider; the issuance then waits
 * `propagation` (once per order) before it asks the CA to look. Used for wildcard names, which
 * only dns-01 can validate; cleanup may be NULL. */
typedef struct {
    apr_status_t (*present)(void *baton, const char *fqdn, const char *value, apr_pool_t *p);
    void (*cleanup)(void *baton, const char *fqdn, const char *value, apr_pool_t *p);
    void *baton;
    apr_interval_time_t propagation;
    int (*stopping)(void *baton); /* polled during the propagation wait; may be NULL */
} at_dns01_responder_t;

/* Loads the stored account for acme's CA and makes acme sign with it; APR_ENOENT when none is
 * stored. A stored key whose URL was lost is looked up at the CA (onlyReturnExisting). */
apr_status_t at_account_load(at_acme_t *acme, at_store_t *store, apr_pool_t *p);

/* After an issuance: keeps the directory acme fetched for the next run (one request saved), or,
 * after a failure, forgets a kept one in case it was stale. at_account_load uses a kept one. */
void at_account_directory_keep(at_acme_t *acme, at_store_t *store, apr_pool_t *p, int succeeded);

/* After the CA refused an order as from an unknown (accountDoesNotExist) or unauthorized
 * account: asks the CA about the stored key (onlyReturnExisting). A CA that forgot the account
 * (a CA reset) gets the same key registered again; a deactivated account is marked so in
 * account.json, with an ERROR line naming the CA's problem, and AT_EPROBLEM returned: the next
 * at_account_ensure (one writer of keys) registers a new account with a new key. */
apr_status_t at_account_register_again(at_acme_t *acme, at_store_t *store, apr_pool_t *p,
                                       const at_acme_account_options_t *options);

/* Loads the account for acme's CA from the store, or creates a key and registers one (agreeing
 * to the terms of service when options->agree_tos). A stored account the CA no longer knows is
 * registered again with the same key. On success acme signs with the account. Also, first:
 * finishes a rollover a crash interrupted (account.key.next: keeps whichever key the CA accepts);
 * replaces an account marked deactivated (or one the CA refuses as unauthorized) by a new
 * registration with a new key; with options->update_contacts, updates the account at the CA
 * when the configured contacts differ from the ones last applied. Call it from one thread: it
 * may replace the key. */
apr_status_t at_account_ensure(at_acme_t *acme, at_store_t *store, apr_pool_t *p,
                               const at_acme_account_options_t *options);

/* Rolls the key of the account acme signs as (RFC 8555 §7.3.5): a new P-256 key is written to
 * account.key.next, the CA is told (keyChange), then it replaces account.key atomically and acme
 * signs with it. A refusal leaves the old key (AT_EPROBLEM); a lost answer is settled by asking
 * the CA, or at the next at_account_ensure. *thumbprint: the new key's JWK thumbprint. */
apr_status_t at_account_rollover(const char **thumbprint, at_acme_t *acme, at_store_t *store,
                                 apr_pool_t *p);

/* Replaces the contact list of the account acme signs as, at the CA and in account.json. */
apr_status_t at_account_update_contacts(at_acme_account_t **account, at_acme_t *acme,
                                        at_store_t *store, apr_pool_t *p,
                                        const apr_array_header_t *contacts);

/* Whether at_account_ensure has work on a stored account without an order asking: an
 * interrupted rollover, an account marked deactivated, or (options->update_contacts) changed
 * contacts. Reads the store only. */
int at_account_stale(at_store_t *store, const char *ca_url, apr_pool_t *p,
                     const at_acme_account_options_t *options);

/* Whether account.json's status says the account is gone (anything but "valid"). */
int at_account_json_dead(const json_t *json);

/* "mailto:a@b, mailto:c@d", or "(none)". */
const char *at_account_contacts_text(apr_pool_t *p, const apr_array_header_t *contacts);

/* --- operator requests on the account, carried out by the renewal side ---------------------
 *
 * The CLI (root) never changes the key of a store a server uses: it asks. Protocol, all items
 * in jobs/ (JSON, written atomically like every store item):
 *   _account-<ca-name>.rollover   {"id": "<token>"}
 *   _account-<ca-name>.update     {"id": "<token>", "contact": ["a@example.org", ...]}
 * The renewal side takes a request within a tick (about 1 s) once no order is running, carries
 * it out, writes the outcome and only then removes the request:
 *   _account-<ca-name>.result     {"id": "<token>", "request": "rollover"|"update",
 *                                  "ok": true|false, "detail": "...", "thumbprint": "...",
 *                                  "contact": [...], "finished": <epoch seconds>}
 * A waiter polls for a result carrying its id. An unreadable request is answered with ok false.
 * '_' cannot start a host name, so these never collide with a site's <site>.json/.renew. */
#define AT_ACCOUNT_JOB_PREFIX "_account-"
#define AT_ACCOUNT_CONTACTS_MAX 16

typedef enum { AT_ACCOUNT_REQUEST_ROLLOVER = 0, AT_ACCOUNT_REQUEST_UPDATE } at_account_request_e;

const char *at_account_request_item(apr_pool_t *p, const char *ca_name, at_account_request_e kind);
const char *at_account_result_item(apr_pool_t *p, const char *ca_name);
/* "rollover" or "update". */
const char *at_account_request_name(at_account_request_e kind);

typedef struct {
    const char *site;                /* store name of the certificate set (the first name) */
    const apr_array_header_t *names; /* const char *, at least one */
    at_key_type_e key_type;
    const char *replaces;              /* ARI certID of the certificate being renewed, or NULL */
    apr_interval_time_t timeout;       /* 0: AT_ISSUE_TIMEOUT_DEFAULT */
    const char *preferred_chain;       /* issuer CN of the top of the chain to prefer, or NULL */
    const char *profile;               /* newOrder's profile (at_acme_profile_choose), or NULL */
    const at_dns01_responder_t *dns01; /* for wildcard names; NULL: they cannot be validated */
    /* The challenge types names other than wildcards may use, in order (const char *:
     * AT_CHALLENGE_*); NULL: http-01, then tls-alpn-01. A type is used only where the CA offers it
     * and its responder is set. When http-01 fails for a name because the CA could not connect
     * or was not answered (problem connection or unauthorized) and tls-alpn-01 comes later in the
     * list, a new order follows at once with tls-alpn-01 first for such names (RFC 8555 §7.5.1:
     * the failed authorization stays invalid), once, with one WARNING line per name. */
    const apr_array_header_t *challenges;
    const at_tlsalpn01_responder_t *tlsalpn01; /* NULL: tls-alpn-01 is not used */
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
    const char *type;      /* the CA's problem type (full URN), or NULL when it sent none */
    const char *challenge; /* the challenge type that failed (AT_CHALLENGE_*), or NULL */
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
 * be set (at_account_ensure). On AT_ECHALLENGE *result is set too, holding only `failed`: the
 * names the CA could not validate, each with its problem (for status pages). On failure one log
 * line names the site, the failing name and the CA's problem. When request->replaces is refused by
 * the CA, the order is tried once more without it. After a failure, at_acme_retry_after() tells
 * whether the CA asked us to wait (429/503). */
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

/* The MAC key of an external account binding from path (account_eab.c): base64url as the CA
 * gives it, white space around it ignored. Refuses (AT_EMODE) a file that is not regular or that
 * group or others may read, and says why in *why (for the caller's error message or log line;
 * nothing is logged here): the key must never be on a command line or in a config file. */
apr_status_t at_account_eab_key_read(const char **key, const char **why, apr_pool_t *p,
                                     const char *path);

#endif
