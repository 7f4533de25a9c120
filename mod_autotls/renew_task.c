/* SPDX-License-Identifier: Apache-2.0 */
/*
 * renew_task.c: what the task threads of the renewal thread do: order a certificate and stage
 * it, or fetch the CA's renewal window (ARI) of the served certificate.
 *
 * The one idea: a task writes its outcome into the job state and the job file before it lets go
 * of the job, so the schedule on disk is always the one the next tick acts on; and every order
 * ends with exactly one line saying what happened, which names are covered, what decided the
 * order and when the next one is due.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <openssl/rand.h>

#include <httpd.h>
#include <http_log.h>

#include "at_ari.h"
#include "at_challenge.h"
#include "at_core.h"
#include "at_name.h"
#include "at_issue.h"
#include "activator.h"
#include "log_glue.h"
#include "renew_status.h"
#include "renew_dns.h"
#include "renew_fleet.h"
#include "renew_task.h"
#include "store_shared.h"

APLOG_USE_MODULE(autotls);

#define AUTOTLS_PERCENT 100.0
/* After an ARI poll that failed, the next one; the lifetime rule decides meanwhile. */
#define AUTOTLS_ARI_RETRY apr_time_from_sec(3600)

/* One task: its job, and the store of the shared groups this thread uses (a Redis connection of
 * its own in a fleet, store_shared.h). */
typedef struct {
    autotls_renew_t *renew;
    autotls_renew_job_t *job;
    at_store_t *store;
    autotls_renew_ca_t *ca; /* the CA the order goes to (its place in the failover list) */
} task_t;

apr_uint32_t autotls_renew_random(void)
{
    apr_uint32_t random = 0;

    if (RAND_bytes((unsigned char *)&random, sizeof(random)) != 1) {
        random = (apr_uint32_t)apr_time_now(); /* jitter only: any spread will do */
    }
    return random;
}

at_renew_window_t autotls_renew_window(const autotls_site_t *site)
{
    at_renew_window_t window = {0, 0};

    if (site->renew_window.kind == AUTOTLS_WINDOW_PERCENT) {
        window.share_left = site->renew_window.percent / AUTOTLS_PERCENT;
    } else if (site->renew_window.kind == AUTOTLS_WINDOW_DURATION) {
        window.time_left = site->renew_window.duration;
    }
    return window;
}

apr_status_t autotls_renew_acme(at_acme_t **acme, const autotls_renew_ca_t *ca, apr_pool_t *p)
{
    at_http_options_t http_options = {0};
    at_http_t *http;
    apr_status_t rv;

    http_options.ca_file = ca->spec->ca_file;
    if ((rv = at_http_create(&http, p, &http_options)) != APR_SUCCESS) {
        return rv;
    }
    return at_acme_create(acme, p, ca->spec->url, http);
}

/* The responder (challenge.c) serves the answer only for the Host it names: name is the
 * identifier of the authorization (lib/issue.c), one call per name of the order.
 *
 * The fleet's seam (issue 13): the answer goes into this node's challenges/ (its children read
 * it) and, with a shared store, into the shared challenges/ as well, the one place the other
 * nodes' renewal processes mirror answers from (renew_fleet.c). Waiting for their acknowledgement
 * before the CA validates belongs here too, after both writes. */
static apr_status_t task_publish_challenge(void *baton, const char *name, const char *token,
                                           const char *keyauth, apr_pool_t *p)
{
    task_t *task = baton;
    autotls_renew_t *renew = task->renew;
    const char *why;
    char *answer;
    apr_size_t len;
    apr_status_t rv;

    rv = at_challenge_answer_encode(&answer, &len, &why, p, name, token, keyauth);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, renew->ctx->main_server,
                     AUTOTLS_LOGNO(0512) "%s: cannot publish the http-01 response for token %s: "
                                         "%s",
                     name, token, why);
        return rv;
    }
    /* the fleet's store first (sealed: at_fleet.h): a local answer the fleet lacks is one the
     * mirror may remove */
    if (task->store != renew->ctx->store) {
        rv = at_store_save(task->store, AT_STORE_CHALLENGES, NULL, token, answer, len,
                           AT_FLEET_ANSWER_ACCESS, p);
    }
    if (rv == APR_SUCCESS) {
        rv = at_store_save(renew->ctx->store, AT_STORE_CHALLENGES, NULL, token, answer, len,
                           AT_STORE_PUBLIC, p);
        if (rv != APR_SUCCESS && task->store != renew->ctx->store) {
            /* never withdrawn (issue.c withdraws what was published): out of the fleet now */
            at_store_remove(task->store, AT_STORE_CHALLENGES, NULL, token, p);
        }
    }
    if (rv == APR_SUCCESS) {
        autotls_renew_fleet_await(renew->fleet, task->store, name, token, p);
    }
    return rv;
}

static void task_withdraw_challenge(void *baton, const char *name, const char *token, apr_pool_t *p)
{
    task_t *task = baton;

    /* the fleet's first, so that the mirror never writes the local one back */
    if (task->store != task->renew->ctx->store) {
        at_store_remove(task->store, AT_STORE_CHALLENGES, NULL, token, p);
    }
    at_store_remove(task->renew->ctx->store, AT_STORE_CHALLENGES, NULL, token, p);
}

/* tls-alpn-01: the answer is named for the identifier (alpn.c looks it up by the handshake's
 * SNI) and holds only the digest of keyauth; each child mints the certificate with its own key,
 * so no key ever lands in challenges/. */
static apr_status_t task_publish_tlsalpn(void *baton, const char *name, const char *token,
                                         const char *keyauth, apr_pool_t *p)
{
    autotls_renew_t *renew = baton;
    const char *item = at_challenge_tlsalpn_item(p, name);
    const char *why;
    char *answer;
    apr_size_t len;
    apr_status_t rv;

    rv = at_challenge_tlsalpn_encode(&answer, &len, &why, p, name, keyauth);
    if (rv != APR_SUCCESS || item == NULL) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, renew->ctx->main_server,
                     AUTOTLS_LOGNO(0140) "%s: cannot publish the tls-alpn-01 response for token "
                                         "%s: %s",
                     name, token, why != NULL ? why : "no store item name for it");
        return rv != APR_SUCCESS ? rv : AT_EARG;
    }
    return at_store_save(renew->ctx->store, AT_STORE_CHALLENGES, NULL, item, answer, len,
                         AT_STORE_PUBLIC, p);
}

static void task_withdraw_tlsalpn(void *baton, const char *name, const char *token, apr_pool_t *p)
{
    autotls_renew_t *renew = baton;
    const char *item = at_challenge_tlsalpn_item(p, name);

    if (item != NULL) {
        at_store_remove(renew->ctx->store, AT_STORE_CHALLENGES, NULL, item, p);
    }
}

/* A failure in one line: our status, and the CA's problem when it sent one. */
static const char *task_error_text(apr_pool_t *p, at_acme_t *acme, apr_status_t rv)
{
    const at_acme_problem_t *problem = acme != NULL ? at_acme_last_problem(acme) : NULL;

    if (rv == AT_EPROBLEM && problem != NULL) {
        return apr_psprintf(p, "%s: %s", at_strerror(p, rv), at_acme_problem_text(p, problem));
    }
    return at_strerror(p, rv);
}

/* ---- whether the CA answers ------------------------------------------------------------------ */

int autotls_renew_reach_take(autotls_renew_t *renew, autotls_renew_ca_t *ca, apr_time_t now,
                             apr_time_t *wait)
{
    int may;

    apr_thread_mutex_lock(renew->lock);
    may = at_reach_take(&ca->reach, now);
    *wait = at_reach_next(&ca->reach);
    apr_thread_mutex_unlock(renew->lock);
    return may;
}

/* Records what a request to the CA showed: a transport failure closes the gate (one WARNING when
 * it was open), an answer of any kind opens it (one NOTICE when it was closed). what: "order" or
 * "renewal window (ARI) poll". */
static void task_reach_result(autotls_renew_t *renew, autotls_renew_ca_t *ca,
                              autotls_renew_job_t *job, apr_status_t rv, const char *what,
                              apr_pool_t *p)
{
    apr_time_t now = apr_time_now(), since = 0, next = 0;
    int changed = 0, down;

    down = at_reach_is_transport_failure(rv);
    if (!down && !at_reach_is_answer(rv)) {
        return; /* failed before anything reached the CA: says nothing about it */
    }
    apr_thread_mutex_lock(renew->lock);
    since = ca->reach.down_since;
    if (down) {
        changed = at_reach_failed(&ca->reach, now);
        next = at_reach_next(&ca->reach);
    } else if ((changed = at_reach_answered(&ca->reach)) != 0) {
        ca->reach_back = 1;
        apr_thread_cond_signal(renew->wake);
    }
    apr_thread_mutex_unlock(renew->lock);
    if (changed && down) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, renew->ctx->main_server,
                     AUTOTLS_LOGNO(0640) "the CA %s cannot be reached (%s: %s for %s, see the line "
                                         "before): renewal window polls and new orders wait; one "
                                         "try at %s, then at most every %d min until it answers",
                     ca->spec->url, at_strerror(p, rv), what, job->site->name,
                     autotls_job_time_text(p, next), (int)(apr_time_sec(AT_REACH_STEP_MAX) / 60));
    } else if (changed) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, renew->ctx->main_server,
                     AUTOTLS_LOGNO(0641) "the CA %s answers again (down since %s); the sites "
                                         "that waited go on",
                     ca->spec->url, autotls_job_time_text(p, since));
    }
}

/* ---- orders ---------------------------------------------------------------------------------- */

static apr_status_t task_stage(task_t *task, const autotls_site_t *site,
                               const at_issue_result_t *result, apr_pool_t *p)
{
    static const char *const set_items[] = {AT_CERTSET_KEY, AT_CERTSET_CHAIN,
                                            AUTOTLS_STAGING_READY};
    autotls_renew_t *renew = task->renew;
    const at_store_item_t items[] = {
        {AT_CERTSET_KEY, result->key_pem, result->key_len, AT_STORE_SECRET},
        {AT_CERTSET_CHAIN, result->chain_pem, result->chain_len, AT_STORE_PUBLIC},
        {AUTOTLS_STAGING_READY, "", 0, AT_STORE_PUBLIC},
    };
    apr_status_t rv;

    /* A fleet's staged set stays for every node's activator until the next one replaces it
     * (under the lease: nobody else writes it now). */
    if (autotls_store_fleet(renew->ctx)) {
        at_store_purge_items(task->store, AT_STORE_STAGING, site->name, set_items,
                             (int)(sizeof(set_items) / sizeof(set_items[0])), p);
    }
    /* The whole set appears at once (the rename is the commit) and wakes the activator. */
    rv = at_store_save_set(task->store, AT_STORE_STAGING, site->name, items,
                           (int)(sizeof(items) / sizeof(items[0])), p);
    if (rv != APR_SUCCESS) {
        autotls_log_error(APLOG_MARK, APLOG_ERR, rv, renew->ctx->main_server,
                          AUTOTLS_LOGNO(0601) "%s: cannot stage the new certificate", site->name);
    }
    return rv;
}

/* AutoTLSProfile: the profile newOrder asks for (at_acme_profile_choose). A profile the CA does
 * not list is told once per renewal process (not once per site); a required one it does not list
 * fails the site's order, *why saying so. */
static apr_status_t task_profile(const char **profile, const char **why, autotls_renew_t *renew,
                                 autotls_renew_ca_t *ca, const autotls_site_t *site,
                                 at_acme_t *acme, apr_pool_t *p)
{
    const at_acme_directory_t *directory;
    /* a CA's own profile= wins over the site's AutoTLSProfile for orders at that CA */
    const char *wanted = ca->spec->profile != NULL ? ca->spec->profile : site->profile;
    int required = ca->spec->profile != NULL ? 0 : site->profile_required;
    const char *offered;
    int unlisted, warn = 0;
    apr_status_t rv;

    *profile = NULL;
    if (wanted == NULL || (rv = at_acme_directory(&directory, acme)) != APR_SUCCESS) {
        return wanted == NULL ? APR_SUCCESS : rv;
    }
    rv = at_acme_profile_choose(profile, &unlisted, &offered, p, directory, wanted, required);
    offered = *offered != '\0' ? offered : "none";
    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(p,
                            "the CA does not offer profile %s (it offers: %s), which "
                            "AutoTLSProfile requires",
                            wanted, offered);
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, renew->ctx->main_server,
                     AUTOTLS_LOGNO(0660) "%s: %s does not offer profile %s (it offers: %s) and "
                                         "AutoTLSProfile requires it: no order",
                     site->name, ca->spec->url, wanted, offered);
        return rv;
    }
    if (unlisted) {
        apr_thread_mutex_lock(renew->lock);
        if (ca->profiles_told == NULL) {
            ca->profiles_told = apr_hash_make(renew->holds_pool);
        }
        if (apr_hash_get(ca->profiles_told, wanted, APR_HASH_KEY_STRING) == NULL) {
            apr_hash_set(ca->profiles_told, apr_pstrdup(renew->holds_pool, wanted),
                         APR_HASH_KEY_STRING, "");
            warn = 1;
        }
        apr_thread_mutex_unlock(renew->lock);
    }
    if (warn) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, renew->ctx->main_server,
                     AUTOTLS_LOGNO(0661) "%s does not offer profile %s (it offers: %s): sites "
                                         "that ask for it are ordered without a profile "
                                         "(AutoTLSProfile %s required refuses instead)",
                     ca->spec->url, wanted, offered, wanted);
    }
    return APR_SUCCESS;
}

/* The serial of the new certificate (upper-case hex, as the slots give it), or NULL. */
static const char *task_new_serial(const at_issue_result_t *result, apr_pool_t *p)
{
    apr_array_header_t *chain;
    at_cert_info_t *info;

    if (at_chain_from_pem(&chain, p, result->chain_pem, result->chain_len) == APR_SUCCESS &&
        at_cert_info(&info, p, APR_ARRAY_IDX(chain, 0, X509 *)) == APR_SUCCESS) {
        return info->serial;
    }
    return NULL;
}

static apr_status_t task_order_run(at_issue_result_t **result, at_acme_t **acme, const char **why,
                                   task_t *task, apr_pool_t *p)
{
    autotls_renew_t *renew = task->renew;
    autotls_renew_job_t *job = task->job;
    autotls_ctx_t *ctx = renew->ctx;
    at_http01_responder_t responder = {task_publish_challenge, task_withdraw_challenge, task};
    at_tlsalpn01_responder_t tlsalpn = {task_publish_tlsalpn, task_withdraw_tlsalpn, renew};
    at_acme_account_options_t account = {0};
    at_issue_request_t request = {0};
    const at_acme_directory_t *directory;
    apr_status_t rv;

    account.agree_tos = 1;
    if (ctx->contact != NULL) {
        account.contacts = apr_array_make(p, 1, sizeof(const char *));
        APR_ARRAY_PUSH(account.contacts, const char *) = ctx->contact;
    }
    request.site = job->site->name;
    request.names = job->site->names;
    request.key_type = job->site->key_type;
    request.timeout = AUTOTLS_ORDER_TIMEOUT;
    request.allow_partial = job->allow_partial;
    request.dns01 = autotls_renew_dns01(ctx, p);
    request.challenges = job->site->challenges;
    request.tlsalpn01 = &tlsalpn;
    request.account_store = task->store;
    request.account_options = &account;
    if ((rv = autotls_renew_acme(acme, task->ca, p)) != APR_SUCCESS ||
        (rv = at_account_load(*acme, task->store, p)) != APR_SUCCESS) {
        return rv;
    }
    /* RFC 9773: name the certificate this one replaces, where the CA knows what that means: the
     * CA that issued it, never another one of the list. */
    if (job->ca_issued && job->cert_id[0] != '\0' &&
        autotls_renew_job_issuer(renew, job) == task->ca &&
        at_acme_directory(&directory, *acme) == APR_SUCCESS && directory->renewal_info != NULL) {
        request.replaces = apr_pstrdup(p, job->cert_id);
    }
    if ((rv = task_profile(&request.profile, why, renew, task->ca, job->site, *acme, p)) !=
            APR_SUCCESS ||
        (rv = at_issue_certificate(result, *acme, p, &request, &responder)) != APR_SUCCESS) {
        return rv;
    }
    /* ARI and `replaces` for this certificate go to this CA, and the next renewal starts at the
     * first CA again; recorded before the set is staged, since the activator reads it there to
     * name the CA in meta.json */
    autotls_job_issued(&job->state, ctx->cas, task->ca->index, task_new_serial(*result, p));
    autotls_job_save(&job->state, task->store, job->item, p);
    return task_stage(task, job->site, *result, p);
}

/* When the new certificate is due for renewal, as far as known before the CA says otherwise. */
static at_renew_plan_t task_next_plan(const autotls_renew_job_t *job,
                                      const at_issue_result_t *result, apr_pool_t *p)
{
    at_renew_window_t window = autotls_renew_window(job->site);
    at_renew_plan_t plan = {0, AT_RENEW_BY_LIFETIME};
    apr_array_header_t *chain;
    at_cert_info_t *info;

    if (at_chain_from_pem(&chain, p, result->chain_pem, result->chain_len) == APR_SUCCESS &&
        at_cert_info(&info, p, APR_ARRAY_IDX(chain, 0, X509 *)) == APR_SUCCESS) {
        plan = at_renew_plan(info->not_before, info->not_after, &window, 0);
    }
    return plan;
}

static void task_order_succeeded(autotls_renew_t *renew, autotls_renew_ca_t *ca,
                                 autotls_renew_job_t *job, const at_issue_result_t *result,
                                 at_acme_t *acme, apr_pool_t *p)
{
    autotls_job_t *state = &job->state;
    const apr_array_header_t *names = result->names != NULL ? result->names : job->site->names;
    apr_time_t now = apr_time_now();
    at_renew_plan_t plan = task_next_plan(job, result, p);
    const char *missing = "";

    autotls_job_reset(state, 0);
    if (result->failed != NULL && result->failed->nelts > 0) {
        autotls_job_missing_from_result(state, result->failed, now, autotls_renew_random());
        missing = apr_psprintf(p, "; still missing: %s (next try in %" APR_TIME_T_FMT " s)",
                               autotls_job_missing_names(state, p),
                               apr_time_sec(autotls_job_missing_next_try(state) - now));
    } else {
        autotls_job_missing_clear(state);
    }
    job->staged = 1;
    job->staged_generation = job->generation;
    job->staged_ca = ca->index;
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, renew->ctx->main_server,
                 AUTOTLS_LOGNO(0602) "%s: new certificate staged for activation: names %s "
                                     "(reason: %s) from %s; next renewal around %s (%s)%s; %u CA "
                                     "requests",
                 job->site->name, at_name_list_text(p, names, ","), job->reason, ca->spec->url,
                 autotls_job_time_text(p, plan.at), at_renew_by_name(plan.by), missing,
                 at_acme_request_count(acme));
}

/* An account-wide limit: the bucket is empty until the CA's Retry-After; the site did not fail
 * (no failure counted, no backoff of its own) and is first in line when orders resume. */
static void task_account_limited(autotls_renew_t *renew, autotls_renew_ca_t *ca, at_store_t *store,
                                 autotls_renew_job_t *job, apr_interval_time_t retry_after,
                                 const char *error, apr_pool_t *p)
{
    apr_time_t now = apr_time_now(), until;
    int paid;

    /* a fleet's bucket empties for every node; this node's copy empties whatever happens */
    autotls_renew_fleet_bucket(&paid, renew, ca, store, AUTOTLS_FLEET_BUCKET_DRAIN, now,
                               retry_after, p);
    apr_thread_mutex_lock(renew->lock);
    at_bucket_drain(&ca->bucket, now, retry_after);
    ca->bucket_dirty = 1;
    until = ca->bucket.blocked_until;
    apr_thread_mutex_unlock(renew->lock);
    autotls_job_set_error(&job->state, error);
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, renew->ctx->main_server,
                 AUTOTLS_LOGNO(0630) "%s: the CA limits new orders for the whole account (%s); "
                                     "no new order before %s (%s); the site keeps its place in "
                                     "line",
                 job->site->name, error, autotls_job_time_text(p, until),
                 retry_after > 0 ? "the CA's Retry-After" : "no Retry-After: our default");
}

/* A limit on a registered domain: every site with a name under it waits until the site's own
 * next try (the CA's Retry-After when it sent one), not only the site whose order it was. */
static void task_domain_limited(autotls_renew_t *renew, autotls_renew_ca_t *ca,
                                autotls_renew_job_t *job, const char *domain, apr_time_t until,
                                apr_pool_t *p)
{
    apr_time_t *held;

    apr_thread_mutex_lock(renew->lock);
    held = apr_hash_get(ca->holds, domain, APR_HASH_KEY_STRING);
    if (held == NULL) {
        held = apr_palloc(renew->holds_pool, sizeof(*held));
        *held = 0;
        apr_hash_set(ca->holds, apr_pstrdup(renew->holds_pool, domain), APR_HASH_KEY_STRING, held);
    }
    if (until > *held) {
        *held = until;
    }
    apr_thread_mutex_unlock(renew->lock);
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, renew->ctx->main_server,
                 AUTOTLS_LOGNO(0631) "%s: the CA limits certificates for the registered domain "
                                     "%s; every site under it waits until %s",
                 job->site->name, domain, autotls_job_time_text(p, until));
}

static void task_order_failed(autotls_renew_t *renew, autotls_renew_ca_t *ca, at_store_t *store,
                              autotls_renew_job_t *job, apr_status_t rv, const char *why,
                              at_acme_t *acme, apr_pool_t *p)
{
    autotls_job_t *state = &job->state;
    apr_interval_time_t retry_after = acme != NULL ? at_acme_retry_after(acme) : 0;
    const char *error = why != NULL ? why : task_error_text(p, acme, rv);
    apr_time_t now = apr_time_now(), next, held;
    apr_interval_time_t delay;
    const char *subject = NULL;
    at_ratelimit_e limit = AT_RATELIMIT_NONE;

    if (rv == AT_EPROBLEM && acme != NULL) {
        limit = at_ratelimit_classify(at_acme_last_problem(acme), &subject, p);
    }
    if (limit == AT_RATELIMIT_ACCOUNT) {
        task_account_limited(renew, ca, store, job, retry_after, error, p);
        return;
    }
    if (strcmp(job->reason, AUTOTLS_RENEW_BY_MISSING) == 0) {
        /* Only the missing names were at stake: the certificate served stays, the site is not
         * failing; the missing names back off on their own. */
        next = autotls_job_missing_failed(state, now, autotls_renew_random(), retry_after, error);
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, renew->ctx->main_server,
                     AUTOTLS_LOGNO(0613) "%s: %s still cannot be added (%s); the certificate "
                                         "without them stays; next try in %" APR_TIME_T_FMT " s",
                     job->site->name, autotls_job_missing_names(state, p), error,
                     apr_time_sec(next - now));
        return;
    }
    delay = autotls_job_failed(state, now, autotls_renew_random(), retry_after, error);
    if (rv == AT_EPROBLEM && acme != NULL && at_acme_last_problem(acme) != NULL) {
        autotls_job_set_error_detail(state, at_acme_last_problem(acme)->type, now);
    }
    held = now + delay; /* a limit on the domain holds at this CA, wherever the site goes next */
    autotls_renew_ca_failed(renew, job, ca->index, error, &delay, p);
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, renew->ctx->main_server,
                 AUTOTLS_LOGNO(0603) "%s: order failed (%s; names %s; reason: %s), attempt %d; "
                                     "next try in %" APR_TIME_T_FMT " s at %s%s",
                 job->site->name, error, at_name_list_text(p, job->site->names, ","), job->reason,
                 state->failures, apr_time_sec(delay), autotls_job_time_text(p, now + delay),
                 retry_after > 0 && retry_after >= delay ? " (the CA's Retry-After)" : "");
    if (limit == AT_RATELIMIT_DOMAIN && subject != NULL) {
        task_domain_limited(renew, ca, job, subject, held, p);
    }
    autotls_renew_notify(renew, job, AT_EVENT_FAILED, error, p); /* one per backoff step */
}

/* The status page's last error of a site none of whose names validated: the CA's reason for the
 * first of them, with its problem type, instead of "challenge validation failed". */
static void task_order_failed_names(autotls_renew_job_t *job, apr_status_t rv,
                                    const at_issue_result_t *result, apr_pool_t *p)
{
    const at_issue_failed_t *f;

    if (rv != AT_ECHALLENGE || result == NULL || result->failed == NULL ||
        result->failed->nelts == 0 || strcmp(job->reason, AUTOTLS_RENEW_BY_MISSING) == 0) {
        return;
    }
    f = &APR_ARRAY_IDX(result->failed, 0, at_issue_failed_t);
    autotls_job_set_error(&job->state, apr_psprintf(p, "%s: %s", f->name, f->reason));
    autotls_job_set_error_detail(&job->state, f->type, apr_time_now());
}

/* What the order counts as in autotls_orders_total{result}. */
static at_status_order_e task_order_result(apr_status_t rv, const at_issue_result_t *result,
                                           at_acme_t *acme)
{
    if (rv == APR_SUCCESS) {
        return result->failed != NULL && result->failed->nelts > 0 ? AT_STATUS_ORDER_PARTIAL
                                                                   : AT_STATUS_ORDER_ISSUED;
    }
    if (rv == AT_EPROBLEM && acme != NULL && at_acme_last_problem(acme) != NULL &&
        at_acme_problem_is(at_acme_last_problem(acme), "rateLimited")) {
        return AT_STATUS_ORDER_RATE_LIMITED;
    }
    return AT_STATUS_ORDER_FAILED;
}

/* ---- the fleet's lease around an order (store_shared.h) ---------------------------------------
 */

/* Not this time: another node orders the site, its set is on the way, or the shared store is
 * away. The site is looked at again soon; its job file stays the lease holder's. */
static void task_fleet_later(task_t *task, apr_pool_t *p)
{
    task->job->state.next_try = apr_time_now() + AUTOTLS_FLEET_RETRY;
}

/* Who holds the lease this task could not take, for the status (a token of an older release
 * names no node: "?"). */
static void task_lease_seen(task_t *task, apr_pool_t *p)
{
    autotls_renew_job_t *job = task->job;
    apr_time_t expires = 0;
    const char *node;
    char *token;

    if (at_store_lease_holder(task->store, job->site->name, &token, &expires, p) != APR_SUCCESS) {
        return;
    }
    node = at_fleet_lease_node(token);
    apr_thread_mutex_lock(task->renew->lock);
    apr_cpystrn(job->lease_seen_node, node != NULL ? node : "?", sizeof(job->lease_seen_node));
    job->lease_seen_until = expires;
    task->renew->status_fleet_new = 1;
    apr_thread_mutex_unlock(task->renew->lock);
}

/* Takes the site's lease in a fleet; 1 when the order may go on (always without a fleet). */
static int task_lease_take(task_t *task, apr_pool_t *p)
{
    autotls_renew_t *renew = task->renew;
    autotls_renew_job_t *job = task->job;
    char *token = NULL;
    apr_status_t rv;

    if (!autotls_store_fleet(renew->ctx)) {
        return 1;
    }
    if ((rv = at_fleet_lease_token(&token, autotls_renew_fleet_node(renew->fleet), p)) ==
        APR_SUCCESS) {
        rv = at_store_lease_take(task->store, job->site->name, token, autotls_store_lease_ttl(), p);
    }
    if (rv == AT_EBUSY) {
        job->requested = 0; /* the holder's order answers an operator's request as well */
        task_lease_seen(task, p);
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, renew->ctx->main_server,
                     AUTOTLS_LOGNO(0115) "%s: another node of the fleet orders it now (its "
                                         "lease); looking again in %d s",
                     job->site->name, (int)apr_time_sec(AUTOTLS_FLEET_RETRY));
    }
    if (rv != APR_SUCCESS) {
        task_fleet_later(task, p); /* Redis away: its line said so once */
        return 0;
    }
    apr_thread_mutex_lock(renew->lock);
    apr_cpystrn(job->lease_token, token, sizeof(job->lease_token));
    job->lease_renewed = apr_time_now();
    job->lease_seen_until = 0;
    ++renew->leases_held;
    renew->status_fleet_new = 1;
    apr_thread_mutex_unlock(renew->lock);
    return 1;
}

static void task_lease_release(task_t *task, apr_pool_t *p)
{
    autotls_renew_t *renew = task->renew;
    autotls_renew_job_t *job = task->job;
    char token[sizeof(job->lease_token)];

    apr_thread_mutex_lock(renew->lock);
    apr_cpystrn(token, job->lease_token, sizeof(token));
    if (token[0] != '\0') {
        job->lease_token[0] = '\0';
        --renew->leases_held;
        renew->status_fleet_new = 1;
    }
    apr_thread_mutex_unlock(renew->lock);
    if (token[0] != '\0') {
        at_store_lease_release(task->store, job->site->name, token, p);
    }
}

/* Under the lease: a set another node staged meanwhile, newer than ours, is taken by our
 * activator instead of ordering again (an operator's request orders anyway). */
static int task_fleet_staged(task_t *task, apr_pool_t *p)
{
    autotls_renew_job_t *job = task->job;
    at_cert_info_t *staged;
    apr_time_t mtime;

    if (!autotls_store_fleet(task->renew->ctx) || job->requested ||
        (staged = autotls_staged_leaf(task->store, job->site->name, &mtime, p)) == NULL ||
        apr_time_now() - mtime > AUTOTLS_FLEET_STAGED_FRESH ||
        !autotls_staged_newer(staged, job->ca_issued, job->serial, job->not_before)) {
        return 0;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, task->renew->ctx->main_server,
                 AUTOTLS_LOGNO(0116) "%s: another node of the fleet staged certificate %s; "
                                     "this node's activator takes it instead of a new order",
                 job->site->name, staged->serial);
    task_fleet_later(task, p);
    return 1;
}

void autotls_renew_leases_keep(autotls_renew_t *renew, apr_time_t now, apr_pool_t *p)
{
    apr_interval_time_t ttl = autotls_store_lease_ttl();
    char token[AT_STORE_LEASE_TOKEN_MAX + 1];
    int i, held;

    apr_thread_mutex_lock(renew->lock);
    held = renew->leases_held;
    apr_thread_mutex_unlock(renew->lock);
    for (i = 0; held > 0 && i < renew->ctx->sites->nelts; i++) {
        autotls_renew_job_t *job = &renew->jobs[i];

        apr_thread_mutex_lock(renew->lock);
        token[0] = '\0';
        if (job->lease_token[0] != '\0' &&
            now - job->lease_renewed >= ttl / AUTOTLS_LEASE_RENEW_SHARE) {
            apr_cpystrn(token, job->lease_token, sizeof(token));
            job->lease_renewed = now;
        }
        apr_thread_mutex_unlock(renew->lock);
        if (token[0] != '\0' &&
            at_store_lease_renew(renew->ctx->shared, job->site->name, token, ttl, p) == AT_ELOST) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, renew->ctx->main_server,
                         AUTOTLS_LOGNO(0114) "%s: the order's lease expired before it could be "
                                             "renewed (the shared store was away longer than "
                                             "%d s); another node may order the site too",
                         job->site->name, (int)apr_time_sec(ttl));
        }
    }
}

/* No order was placed (another node orders the site, or did): the token spent for it goes back
 * to the fleet's bucket, so a fleet of nodes with the same sites keeps the CA's whole pace. */
static void task_refund(task_t *task, apr_pool_t *p)
{
    int unused;

    if (task->job->paid) {
        task->job->paid = 0;
        autotls_renew_fleet_bucket(&unused, task->renew,
                                   autotls_renew_job_ca(task->renew, task->job), task->store,
                                   AUTOTLS_FLEET_BUCKET_REFUND, apr_time_now(), 0, p);
    }
}

/* The CA counted every new order this issuance placed: those beyond the first (the tls-alpn-01
 * fallback, the partial re-order) spend a token each too, as far as any is left (they ran
 * already), so the bucket keeps mirroring the CA's. An exempt renewal spends none. */
static void task_charge_reorders(task_t *task, const at_acme_t *acme, apr_pool_t *p)
{
    autotls_renew_t *renew = task->renew;
    autotls_renew_ca_t *ca = task->ca;
    unsigned n = acme != NULL ? at_acme_order_count(acme) : 0, i;
    apr_time_t now = apr_time_now();
    int paid;

    for (i = 1; task->job->paid && i < n; i++) {
        if (autotls_renew_fleet_bucket(&paid, renew, ca, task->store, AUTOTLS_FLEET_BUCKET_TAKE,
                                       now, 0, p) == APR_ENOTIMPL) {
            apr_thread_mutex_lock(renew->lock);
            ca->bucket_dirty |= at_bucket_take(&ca->bucket, now, 0);
            apr_thread_mutex_unlock(renew->lock);
        }
    }
}

/* An order, under the site's lease in a fleet; 0 when none was placed (the job file is then the
 * lease holder's to write, not ours). */
static int task_order(task_t *task, apr_pool_t *p)
{
    autotls_renew_t *renew = task->renew;
    autotls_renew_job_t *job = task->job;
    at_issue_result_t *result = NULL;
    at_acme_t *acme = NULL;
    const char *why = NULL; /* a failure the library's status and the CA's problem do not tell */
    apr_status_t rv;

    if (!task_lease_take(task, p) || task_fleet_staged(task, p)) {
        task_refund(task, p);
        return 0;
    }
    task->ca = autotls_renew_job_ca(renew, job);
    rv = task_order_run(&result, &acme, &why, task, p);
    task_charge_reorders(task, acme, p);
    job->requested = 0; /* an operator's request is answered by this attempt, whatever it gave */
    task_reach_result(renew, task->ca, job, rv, "order", p);
    if (rv == APR_SUCCESS) {
        task_order_succeeded(renew, task->ca, job, result, acme, p);
    } else {
        task_order_failed(renew, task->ca, task->store, job, rv, why, acme, p);
        task_order_failed_names(job, rv, result, p);
    }
    autotls_renew_status_count(renew, task_order_result(rv, result, acme),
                               acme != NULL ? at_acme_request_count(acme) : 0,
                               acme != NULL ? at_acme_account_url(acme) : NULL);
    return 1;
}

/* ---- ARI ---------------------------------------------------------------------------------------
 */

/* Fetches the window with a client that reuses the directory every poll shares. */
static apr_status_t task_ari_fetch(at_ari_window_t *window, autotls_renew_t *renew,
                                   autotls_renew_ca_t *ca, const char *cert_id, apr_pool_t *p)
{
    const char *fetched;
    at_acme_t *acme;
    char *kept;
    apr_status_t rv;

    if ((rv = autotls_renew_acme(&acme, ca, p)) != APR_SUCCESS) {
        return rv;
    }
    apr_thread_mutex_lock(renew->lock);
    kept = ca->directory_text != NULL ? apr_pstrdup(p, ca->directory_text) : NULL;
    apr_thread_mutex_unlock(renew->lock);
    if (kept != NULL) {
        at_acme_directory_preset(acme, kept, strlen(kept));
    }
    rv = at_ari_fetch(window, acme, p, cert_id);
    autotls_renew_status_count(renew, -1, at_acme_request_count(acme), NULL);
    fetched = at_acme_directory_text(acme);
    apr_thread_mutex_lock(renew->lock);
    if (rv == APR_ENOTIMPL) {
        ca->ari_absent = 1;
    }
    if (fetched != NULL && ca->directory_text == NULL) {
        ca->directory_text = strdup(fetched);
    }
    apr_thread_mutex_unlock(renew->lock);
    return rv;
}

static void task_ari(autotls_renew_t *renew, autotls_renew_job_t *job, apr_pool_t *p)
{
    autotls_job_ari_t *ari = &job->state.ari;
    /* only the CA that issued the certificate is asked about it (the scheduler checked) */
    autotls_renew_ca_t *issuer = autotls_renew_job_issuer(renew, job);
    at_ari_window_t window;
    apr_time_t now;
    apr_status_t rv;
    int changed;

    if (issuer == NULL) {
        ari->next_poll = apr_time_now() + AUTOTLS_ARI_RETRY;
        return;
    }
    rv = task_ari_fetch(&window, renew, issuer, job->cert_id, p);
    task_reach_result(renew, issuer, job, rv, "renewal window (ARI) poll", p);
    now = apr_time_now();
    changed = strcmp(ari->cert_id, job->cert_id) != 0;
    if (changed) {
        memset(ari, 0, sizeof(*ari));
        apr_cpystrn(ari->cert_id, job->cert_id, sizeof(ari->cert_id));
    }
    if (rv == APR_ENOTIMPL) {
        /* No ARI at this CA: the lifetime rule decides; look again once a day at most. */
        ari->start = ari->end = ari->chosen = 0;
        ari->next_poll = now + AT_ARI_POLL_MAX;
        return;
    }
    if (rv != APR_SUCCESS) {
        ari->next_poll = now + AUTOTLS_ARI_RETRY; /* at_ari_fetch said why */
        return;
    }
    if (changed || ari->start != window.start || ari->end != window.end) {
        ari->start = window.start;
        ari->end = window.end;
        ari->chosen = at_ari_pick(&window, autotls_renew_random());
        changed = 1;
    }
    ari->next_poll = now + (window.retry_after > 0 ? window.retry_after : AT_ARI_POLL_DEFAULT);
    if (changed) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, renew->ctx->main_server,
                     AUTOTLS_LOGNO(0612) "%s: the CA's renewal window (ARI) for certificate %s "
                                         "is %s .. %s; renewing at %s; next look at %s",
                     job->site->name, job->cert_id, autotls_job_time_text(p, ari->start),
                     autotls_job_time_text(p, ari->end), autotls_job_time_text(p, ari->chosen),
                     autotls_job_time_text(p, ari->next_poll));
    }
}

/* ---- the task thread ---------------------------------------------------------------------------
 */

static void *APR_THREAD_FUNC task_thread(apr_thread_t *thread, void *data)
{
    autotls_renew_job_t *job = data;
    autotls_renew_t *renew = job->renew;
    task_t task = {renew, job, NULL, NULL};
    apr_pool_t *p;
    int save = 1;

    if (apr_pool_create(&p, NULL) == APR_SUCCESS) {
        if (autotls_store_shared_clone(&task.store, renew->ctx, p) != APR_SUCCESS) {
            task_fleet_later(&task, p);
        } else if (job->task == AUTOTLS_TASK_ORDER) {
            save = task_order(&task, p);
        } else {
            task_ari(renew, job, p);
        }
        if (save && task.store != NULL) {
            autotls_job_save(&job->state, task.store, job->item, p);
        }
        if (task.store != NULL) {
            task_lease_release(&task, p); /* after the job file: the next holder reads it */
        }
        apr_pool_destroy(p);
    }
    apr_thread_mutex_lock(renew->lock);
    job->running = 0;
    --renew->in_flight;
    job->next_done = renew->done; /* the scheduler takes it back at once (renew->wake) */
    renew->done = job;
    apr_thread_cond_signal(renew->wake);
    apr_thread_mutex_unlock(renew->lock);
    return NULL;
}

apr_status_t autotls_renew_task_push(autotls_renew_t *renew, autotls_renew_job_t *job)
{
    return apr_thread_pool_push(renew->tasks, task_thread, job, APR_THREAD_TASK_PRIORITY_NORMAL,
                                renew);
}
