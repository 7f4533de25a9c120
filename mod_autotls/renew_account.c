/* SPDX-License-Identifier: Apache-2.0 */
/*
 * renew_account.c: the renewal side's care of the ACME account (see renew_account.h).
 *
 * The one idea: the account key has one writer, this file, on the renewal side's main thread,
 * and it writes only while no order runs. A request from the operator (the CLI runs as root and
 * never touches the key of a store a server uses) waits in jobs/ until then; orders wait for it
 * in turn, so it never starves.
 */
#include <string.h>

#include <apr_strings.h>

#include <httpd.h>
#include <http_log.h>

#include "at_core.h"
#include "at_issue.h"
#include "log_glue.h"
#include "renew_account.h"
#include "renew_status.h"

APLOG_USE_MODULE(autotls);

/* Bounds on an operator's contact: an e-mail address or a URI, not a document. */
#define ACCOUNT_CONTACT_MAX_LEN 256

/* What the main thread knows about the account work of this generation. One renewal side per
 * process, driven by one thread: no lock. */
static struct {
    const autotls_renew_t *renew; /* the generation this belongs to */
    int busy;                     /* work pending: orders wait */
    int contacts_applied;         /* at_account_ensure ran once: the configured contact is in */
    /* the last tick found nothing to do at these generations of jobs/ and accounts/: until
     * one of them changes, neither can the answer (no load of requests that are not there) */
    int quiet;
    int quiet_contacts_applied;
    apr_uint64_t quiet_jobs, quiet_accounts;
} account_state;

/* Whether the store is as the last quiet tick left it; the generations read are kept in *jobs
 * and *accounts for the next. */
static int account_still_quiet(const autotls_renew_t *renew, apr_uint64_t *jobs,
                               apr_uint64_t *accounts, apr_pool_t *p)
{
    at_store_t *store = renew->ctx->shared;

    if (at_store_generation(store, AT_STORE_JOBS, jobs, p) != APR_SUCCESS ||
        at_store_generation(store, AT_STORE_ACCOUNTS, accounts, p) != APR_SUCCESS) {
        *jobs = *accounts = 0;
        return 0;
    }
    return account_state.quiet && *jobs == account_state.quiet_jobs &&
           *accounts == account_state.quiet_accounts &&
           account_state.quiet_contacts_applied == account_state.contacts_applied;
}

static void account_state_for(const autotls_renew_t *renew)
{
    if (account_state.renew != renew) {
        memset(&account_state, 0, sizeof(account_state));
        account_state.renew = renew;
    }
}

/* AutoTLSEAB: the key is read here, in the renewal process (as the ACME account), each time
 * the account is registered: it is never kept in memory any other process shares. */
static void account_eab_options(at_acme_account_options_t *options, const autotls_renew_t *renew,
                                const autotls_renew_ca_t *ca, apr_pool_t *p)
{
    const autotls_ctx_t *ctx = renew->ctx;
    const char *why = NULL;

    if (ca->spec->eab_kid == NULL) {
        return;
    }
    if (at_account_eab_key_read(&options->eab_hmac, &why, p, ca->spec->eab_hmac_file) !=
        APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, ctx->main_server,
                     AUTOTLS_LOGNO(0904) "AutoTLSEAB: %s (read as %s); the account at %s is "
                                         "registered without external account binding",
                     why, ctx->acme_user, ca->spec->url);
        return;
    }
    options->eab_kid = ca->spec->eab_kid;
}

/* What a failed registration is recorded as: a CA requiring EAB while none is configured is
 * named with the directive that fixes it. */
static const char *account_failure_text(at_acme_t *acme, const at_acme_account_options_t *options,
                                        apr_pool_t *p, apr_status_t rv)
{
    const at_acme_directory_t *dir = NULL;

    /* AT_EARG: the directory was read (at_account_ensure refuses before asking the CA). */
    if (rv == AT_EARG && acme != NULL && options->eab_kid == NULL &&
        at_acme_directory(&dir, acme) == APR_SUCCESS && dir->eab_required) {
        return "the CA requires external account binding: give its key id and key file with "
               "AutoTLSEAB KID HMAC-FILE";
    }
    return at_strerror(p, rv);
}

void autotls_renew_account_options(at_acme_account_options_t *options, const autotls_renew_t *renew,
                                   const autotls_renew_ca_t *ca, apr_pool_t *p)
{
    memset(options, 0, sizeof(*options));
    options->agree_tos = 1;
    options->update_contacts = 1;
    if (renew->ctx->contact != NULL) {
        options->contacts = apr_array_make(p, 1, sizeof(const char *));
        APR_ARRAY_PUSH(options->contacts, const char *) = renew->ctx->contact;
    }
    account_eab_options(options, renew, ca, p);
}

int autotls_renew_account_busy(const autotls_renew_t *renew)
{
    return account_state.renew == renew && account_state.busy;
}

/* The account is made once, before orders run in parallel, so that they never race for it. Its
 * backoff is kept in jobs/ like a site's: a restart during an outage does not ask again. */
apr_status_t autotls_renew_account_ensure(autotls_renew_t *renew, autotls_renew_ca_t *ca,
                                          apr_pool_t *p)
{
    autotls_ctx_t *ctx = renew->ctx;
    at_acme_account_options_t options;
    apr_time_t now = apr_time_now();
    apr_interval_time_t delay;
    at_acme_t *acme = NULL;
    apr_status_t rv;

    account_state_for(renew);
    if (ca->account_ready) {
        return APR_SUCCESS;
    }
    if (now < ca->account.next_try) {
        return APR_EAGAIN;
    }
    autotls_renew_account_options(&options, renew, ca, p);
    if ((rv = autotls_renew_acme(&acme, ca, p)) == APR_SUCCESS) {
        rv = at_account_ensure(acme, ctx->shared, p, &options);
        autotls_renew_status_count(renew, -1, at_acme_request_count(acme),
                                   rv == APR_SUCCESS ? at_acme_account_url(acme) : NULL);
    }
    if (rv == APR_SUCCESS) {
        ca->account_ready = 1;
        if (ca->index == 0) {
            account_state.contacts_applied = 1;
        }
        if (ca->account.failures > 0) {
            autotls_job_reset(&ca->account, 0);
            at_store_remove(ctx->shared, AT_STORE_JOBS, NULL, ca->account_item, p);
        }
        return APR_SUCCESS;
    }
    delay = autotls_job_failed(&ca->account, now, autotls_renew_random(),
                               acme != NULL ? at_acme_retry_after(acme) : 0,
                               account_failure_text(acme, &options, p, rv));
    autotls_job_save(&ca->account, ctx->shared, ca->account_item, p);
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ctx->main_server,
                 AUTOTLS_LOGNO(0604) "no ACME account at %s yet (%s), attempt %d; next try "
                                     "in %" APR_TIME_T_FMT " s",
                 ca->spec->url, ca->account.last_error, ca->account.failures, apr_time_sec(delay));
    return rv;
}

/* Whether an order is in flight: it signs with the key it loaded. */
static int account_orders_running(autotls_renew_t *renew)
{
    int i, running = 0;

    apr_thread_mutex_lock(renew->lock);
    for (i = 0; i < renew->ctx->sites->nelts && !running; ++i) {
        running = renew->jobs[i].running && renew->jobs[i].task == AUTOTLS_TASK_ORDER;
    }
    apr_thread_mutex_unlock(renew->lock);
    return running;
}

/* After a deactivated account was replaced: the sites it failed for are tried again now. */
static void account_retry_failed_sites(autotls_renew_t *renew, apr_pool_t *p)
{
    int i;

    for (i = 0; i < renew->ctx->sites->nelts; ++i) {
        autotls_renew_job_t *job = &renew->jobs[i];

        if (!job->running && job->state.failures > 0) {
            autotls_job_reset(&job->state, 0);
            autotls_job_save(&job->state, renew->ctx->shared, job->item, p);
            autotls_renew_job_wake(renew, job);
        }
    }
}

/* ---- operator requests ----------------------------------------------------------------------- */

static const char *account_error_text(at_acme_t *acme, apr_pool_t *p, apr_status_t rv)
{
    const at_acme_problem_t *problem = acme != NULL ? at_acme_last_problem(acme) : NULL;

    if (rv == AT_EPROBLEM && problem != NULL) {
        return at_acme_problem_text(p, problem);
    }
    return at_strerror(p, rv);
}

/* The contacts of an update request, or NULL when it holds none that are usable. */
static apr_array_header_t *account_request_contacts(const json_t *request, apr_pool_t *p)
{
    const json_t *list = json_object_get(request, "contact"), *item;
    apr_array_header_t *contacts;
    size_t i;

    if (!json_is_array(list) || json_array_size(list) > AT_ACCOUNT_CONTACTS_MAX) {
        return NULL;
    }
    contacts = apr_array_make(p, (int)json_array_size(list) + 1, sizeof(const char *));
    json_array_foreach(list, i, item)
    {
        const char *text = json_string_value(item), *c;

        if (text == NULL || text[0] == '\0' || strlen(text) > ACCOUNT_CONTACT_MAX_LEN) {
            return NULL;
        }
        for (c = text; *c != '\0'; ++c) {
            if ((unsigned char)*c <= ' ' || *c == 0x7f) {
                return NULL;
            }
        }
        APR_ARRAY_PUSH(contacts, const char *) = apr_pstrdup(p, text);
    }
    return contacts;
}

/* Carries out one request; fills result ("ok", "detail", ...). */
static void account_request_run(autotls_renew_t *renew, at_account_request_e kind,
                                const json_t *request, json_t *result, apr_pool_t *p)
{
    autotls_ctx_t *ctx = renew->ctx;
    apr_array_header_t *contacts = NULL;
    at_acme_account_t *account;
    const char *thumbprint;
    at_acme_t *acme = NULL;
    apr_status_t rv;

    if (kind == AT_ACCOUNT_REQUEST_UPDATE &&
        (contacts = account_request_contacts(request, p)) == NULL) {
        json_object_set_new(result, "detail",
                            json_string(apr_psprintf(p,
                                                     "malformed request: \"contact\" must be a "
                                                     "list of at most %d addresses",
                                                     AT_ACCOUNT_CONTACTS_MAX)));
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, ctx->main_server,
                     AUTOTLS_LOGNO(0654) "account update request for %s refused: the contact "
                                         "list is malformed",
                     ctx->ca_url);
        return;
    }
    if ((rv = autotls_renew_acme(&acme, &renew->cas[0], p)) != APR_SUCCESS ||
        (rv = at_account_load(acme, ctx->shared, p)) != APR_SUCCESS) {
        json_object_set_new(result, "detail", json_string(account_error_text(acme, p, rv)));
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, ctx->main_server,
                     AUTOTLS_LOGNO(0655) "account %s at %s: no account to change (%s)",
                     at_account_request_name(kind), ctx->ca_url, account_error_text(acme, p, rv));
        return;
    }
    if (kind == AT_ACCOUNT_REQUEST_ROLLOVER) {
        rv = at_account_rollover(&thumbprint, acme, ctx->shared, p);
        if (rv == APR_SUCCESS) {
            json_object_set_new(result, "ok", json_true());
            json_object_set_new(result, "thumbprint", json_string(thumbprint));
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, ctx->main_server,
                         AUTOTLS_LOGNO(0650) "account %s at %s: key rolled over on the "
                                             "operator's request; new key thumbprint %s",
                         at_acme_account_url(acme), ctx->ca_url, thumbprint);
            return;
        }
        json_object_set_new(result, "detail", json_string(account_error_text(acme, p, rv)));
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, ctx->main_server,
                     AUTOTLS_LOGNO(0651) "account %s at %s: key rollover failed (%s); the old "
                                         "key stays",
                     at_acme_account_url(acme), ctx->ca_url, account_error_text(acme, p, rv));
        return;
    }
    rv = at_account_update_contacts(&account, acme, ctx->shared, p, contacts);
    if (rv == APR_SUCCESS) {
        json_object_set_new(result, "ok", json_true());
        json_object_set_new(result, "contact", json_deep_copy(json_object_get(request, "contact")));
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, ctx->main_server,
                     AUTOTLS_LOGNO(0652) "account %s at %s: contact updated on the operator's "
                                         "request to %s",
                     account->url, ctx->ca_url, at_account_contacts_text(p, account->contacts));
        return;
    }
    json_object_set_new(result, "detail", json_string(account_error_text(acme, p, rv)));
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, ctx->main_server,
                 AUTOTLS_LOGNO(0653) "account %s at %s: contact update failed (%s)",
                 at_acme_account_url(acme), ctx->ca_url, account_error_text(acme, p, rv));
}

/* Answers the request in item: the result is written before the request goes, so a waiter that
 * sees the request gone always finds its answer. */
static void account_request_take(autotls_renew_t *renew, at_account_request_e kind,
                                 const char *item, const json_t *request, apr_pool_t *p)
{
    at_store_t *store = renew->ctx->shared;
    const char *ca_name = at_store_ca_name(p, renew->ctx->ca_url);
    const json_t *id = json_object_get(request, "id");
    json_t *result;

    result = json_pack("{s:O, s:s, s:b, s:I}", "id", json_is_string(id) ? id : json_null(),
                       "request", at_account_request_name(kind), "ok", 0, "finished",
                       (json_int_t)apr_time_sec(apr_time_now()));
    if (request != NULL) {
        account_request_run(renew, kind, request, result, p);
    } else {
        json_object_set_new(result, "detail", json_string("malformed request (not JSON)"));
    }
    renew->cas[0].account_ready = 0; /* the next order loads the account as it is now */
    if (at_store_save_json(store, AT_STORE_JOBS, NULL, at_account_result_item(p, ca_name), result,
                           p) != APR_SUCCESS ||
        at_store_remove(store, AT_STORE_JOBS, NULL, item, p) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, renew->ctx->main_server,
                     AUTOTLS_LOGNO(0656) "cannot answer the account request %s in jobs/", item);
    }
    json_decref(result);
}

/* ---- the tick ----------------------------------------------------------------------------------
 */

void autotls_renew_account_tick(autotls_renew_t *renew, apr_pool_t *p)
{
    static const at_account_request_e kinds[] = {AT_ACCOUNT_REQUEST_ROLLOVER,
                                                 AT_ACCOUNT_REQUEST_UPDATE};
    autotls_ctx_t *ctx = renew->ctx;
    const char *ca_name = at_store_ca_name(p, ctx->ca_url);
    json_t *requests[sizeof(kinds) / sizeof(kinds[0])] = {NULL};
    const char *items[sizeof(kinds) / sizeof(kinds[0])];
    int present[sizeof(kinds) / sizeof(kinds[0])] = {0};
    at_acme_account_options_t options;
    int stale, repaired, pending = 0;
    apr_uint64_t jobs_gen, accounts_gen;
    apr_status_t rv;
    size_t i;

    account_state_for(renew);
    if (account_still_quiet(renew, &jobs_gen, &accounts_gen, p)) {
        return;
    }
    account_state.quiet = 0;
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); ++i) {
        items[i] = at_account_request_item(p, ca_name, kinds[i]);
        rv = at_store_load_json(ctx->shared, AT_STORE_JOBS, NULL, items[i], &requests[i], p);
        present[i] = rv != APR_ENOENT;
        pending += present[i];
    }
    autotls_renew_account_options(&options, renew, &renew->cas[0], p);
    options.update_contacts = !account_state.contacts_applied;
    stale = at_account_stale(ctx->shared, ctx->ca_url, p, &options);
    repaired = stale && at_account_stale(ctx->shared, ctx->ca_url, p, NULL);
    account_state.busy = pending > 0 || stale;
    if (!account_state.busy && jobs_gen != 0) {
        account_state.quiet = 1;
        account_state.quiet_jobs = jobs_gen;
        account_state.quiet_accounts = accounts_gen;
        account_state.quiet_contacts_applied = account_state.contacts_applied;
    }
    if (!account_state.busy || account_orders_running(renew)) {
        goto leave; /* orders finish first; none starts while busy */
    }
    if (stale) {
        renew->cas[0].account_ready = 0; /* the stored account changes: drop what was loaded */
    }
    if (autotls_renew_account_ensure(renew, &renew->cas[0], p) != APR_SUCCESS) {
        goto leave; /* on the account's backoff; logged there */
    }
    if (repaired) {
        account_retry_failed_sites(renew, p);
    }
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); ++i) {
        if (present[i]) {
            account_request_take(renew, kinds[i], items[i], requests[i], p);
        }
    }
    account_state.busy = 0;
leave:
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); ++i) {
        json_decref(requests[i]);
    }
}
