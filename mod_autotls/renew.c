/* SPDX-License-Identifier: Apache-2.0 */
/*
 * renew.c: the scheduler of the renewal process (renew_proc.c runs it, as the ACME account).
 *
 * It ticks every second, and at once when a task is done. Each tick looks at the sites that are due
 * (a heap by next due time, renew_queue.h: a tick costs what is due, not one look at every site):
 * what is served (its shared slot, read-only here), what was tried (the job state, loaded from
 * jobs/ before the CA is contacted at all), whether the operator asked for a renewal
 * (jobs/<site>.renew); and decides: nothing (until when), fetch the CA's renewal window (ARI), or
 * order. Orders wait in a ready queue by priority (the operator's first, then sites without a
 * certificate, then renewals by expiry) for one of AutoTLSOrdersInFlight task threads
 * (renew_task.c), the account and, unless the CA exempts the renewal (ARI `replaces`), a token of
 * the CA's order bucket (AutoTLSCARate, at_ratelimit.h; kept in jobs/_rate-<ca>.json, so a restart
 * does not refill it). A 429 says whom it limits: the whole account empties the bucket until the
 * CA's Retry-After; a registered domain holds every site under it. An order ends with a certificate
 * set in staging/; from there the root activator validates and publishes it. This process never
 * touches live/ and never holds a key it did not create. A failing site only delays itself; a
 * certificate whose renewal keeps failing is served until it expires, with a loud line from the
 * warn window on.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_file_info.h>
#include <apr_optional.h>
#include <apr_strings.h>

#include <httpd.h>
#include <http_log.h>

#include "at_ari.h"
#include "at_core.h"
#include "at_ratelimit.h"
#include "at_issue.h"
#include "at_job.h"
#include "at_sweep.h"
#include "activator.h"
#include "autotls.h"
#include "log_glue.h"
#include "renew.h"
#include "renew_account.h"
#include "renew_fingerprint.h"
#include "renew_fleet.h"
#include "renew_status.h"
#include "renew_task.h"
#include "slots.h"
#include "store_shared.h"

APLOG_USE_MODULE(autotls);

/* A certificate whose renewal keeps failing is reported at most this often per site. */
#define AUTOTLS_WARN_INTERVAL apr_time_from_sec(3600)
/* The notification command hears `expiring` at most this often per site. */
#define AUTOTLS_NOTIFY_DAILY apr_time_from_sec(24 * 3600)
/* jobs/ is listed for operator requests when it changed, and at least this often. */
#define AUTOTLS_REQUESTS_RELIST apr_time_from_sec(60)
/* Priority classes of the ready queues: smaller first. */
#define AUTOTLS_READY_OPERATOR 0
#define AUTOTLS_READY_NEW 1
#define AUTOTLS_READY_RENEWAL 2
/* Memory the scheduler's pool keeps after a task's pool is gone; the rest goes back to libc. */
#define AUTOTLS_RENEW_POOL_MAX_FREE (1024 * 1024)

static void renew_job_save(autotls_renew_t *renew, autotls_renew_job_t *job, apr_pool_t *p)
{
    autotls_job_save(&job->state, renew->ctx->shared, job->item, p);
}

/* ---- the queues (renew_queue.h) ------------------------------------------------------------- */

/* The job is idle until at: it is looked at again then, or earlier when woken. */
static void renew_due_at(autotls_renew_t *renew, autotls_renew_job_t *job, apr_time_t at)
{
    /* Every job fits: the queues are as large as the sites. */
    autotls_queue_put(&renew->due, job, &job->due_pos, at, job->index);
}

void autotls_renew_job_wake(autotls_renew_t *renew, autotls_renew_job_t *job)
{
    if (job->due_pos != AUTOTLS_QUEUE_OUT) {
        renew_due_at(renew, job, apr_time_now());
    }
}

/* The queue a ready job waits in. */
static autotls_queue_t *renew_ready_queue(autotls_renew_t *renew, autotls_renew_job_t *job)
{
    return job->exempt ? &renew->ready_exempt : &renew->ready;
}

/* An operator's request: a job waiting for an order is looked at again now, so that the
 * request is taken (backoff cleared) and it moves to the front. */
static void renew_job_requested(autotls_renew_t *renew, autotls_renew_job_t *job)
{
    if (job->ready_pos != AUTOTLS_QUEUE_OUT) {
        autotls_queue_remove(renew_ready_queue(renew, job), &job->ready_pos);
        renew_due_at(renew, job, apr_time_now());
        return;
    }
    autotls_renew_job_wake(renew, job);
}

/* ---- what is served ------------------------------------------------------------------------ */

/* The served certificate's names and ARI identifier: what is missing, what a renewal replaces. */
static void renew_served_details(autotls_renew_t *renew, autotls_renew_job_t *job, apr_pool_t *p)
{
    apr_uint32_t generation;
    at_cert_info_t *info = NULL;
    const char *cert_id;
    X509 *leaf;

    if (autotls_slots_read_leaf(renew->ctx->slots, job->site->slot, p, &leaf, &generation) !=
            APR_SUCCESS ||
        generation != job->generation) {
        job->served_known = 0; /* changed meanwhile: look again next tick */
        return;
    }
    if (at_cert_info(&info, p, leaf) == APR_SUCCESS &&
        autotls_job_missing_reconcile(&job->state, job->site->names, info->names) > 0) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, renew->ctx->main_server,
                     AUTOTLS_LOGNO(0609) "%s: the served certificate lacks %s; ordering them "
                                         "with the others",
                     job->site->name, autotls_job_missing_names(&job->state, p));
    }
    if (info != NULL) {
        job->issuer = autotls_renew_status_issuer(renew, info->issuer_cn);
    }
    if (at_ari_cert_id(&cert_id, p, leaf) == APR_SUCCESS &&
        strlen(cert_id) < sizeof(job->cert_id)) {
        apr_cpystrn(job->cert_id, cert_id, sizeof(job->cert_id));
    }
}

static void renew_served_refresh(autotls_renew_t *renew, autotls_renew_job_t *job, apr_pool_t *p)
{
    autotls_slot_info_t info;

    if (job->served_known &&
        autotls_slots_generation(renew->ctx->slots, job->site->slot) == job->generation) {
        return;
    }
    if (autotls_slots_info(renew->ctx->slots, job->site->slot, &info) != APR_SUCCESS) {
        return;
    }
    job->served_known = 1;
    job->warned = 0; /* a new certificate: its own warnings, from its warn window on */
    job->warned_expired = 0;
    job->ca_wait_since = 0; /* whatever waited for the CA was for the certificate before */
    job->generation = info.generation;
    job->ca_issued = info.ca_issued;
    job->not_before = info.not_before;
    job->not_after = info.not_after;
    job->cert_id[0] = '\0';
    apr_cpystrn(job->serial, info.ca_issued ? info.serial : "", sizeof(job->serial));
    job->issuer = NULL;
    job->notified_expiring = 0;
    job->notified_expired = 0;
    apr_thread_mutex_lock(renew->lock);
    if (job->lease_seen_until != 0) { /* another node's order is over: its certificate is here */
        job->lease_seen_until = 0;
        renew->status_fleet_new = 1;
    }
    apr_thread_mutex_unlock(renew->lock);
    if (info.ca_issued) {
        renew_served_details(renew, job, p);
    }
    if (autotls_job_pending(&job->state, info.ca_issued, apr_time_now())) {
        renew_job_save(renew, job, p);
    }
}

/* ---- staging/ ----------------------------------------------------------------------------------
 */

/* A fleet's staging/ keeps each site's latest set for every node (store_shared.h): a set waits
 * for this node's activator when it is newer than what this node serves, and young enough that
 * a set every activator refuses does not hold the site for ever. */
static int renew_fleet_staged(autotls_renew_t *renew, autotls_renew_job_t *job, apr_pool_t *p)
{
    apr_time_t mtime;
    at_cert_info_t *staged = autotls_staged_leaf(renew->ctx->shared, job->site->name, &mtime, p);

    return staged != NULL && apr_time_now() - mtime <= AUTOTLS_FLEET_STAGED_FRESH &&
           autotls_staged_newer(staged, job->ca_issued, job->serial, job->not_before);
}

/* Whether a finished set waits for the activator. A set without its ready marker is the remains
 * of an order that died (we are the only writer and no task runs for the site): removed. */
static int renew_staging_busy(autotls_renew_t *renew, autotls_renew_job_t *job, apr_pool_t *p)
{
    apr_array_header_t *items;
    int i;

    if (autotls_store_fleet(renew->ctx)) {
        return renew_fleet_staged(renew, job, p);
    }
    if (at_store_list(renew->ctx->shared, AT_STORE_STAGING, job->site->name, &items, p) !=
            APR_SUCCESS ||
        items->nelts == 0) {
        return 0;
    }
    for (i = 0; i < items->nelts; ++i) {
        if (strcmp(APR_ARRAY_IDX(items, i, const char *), AUTOTLS_STAGING_READY) == 0) {
            return 1;
        }
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, renew->ctx->main_server,
                 AUTOTLS_LOGNO(0610) "%s: removing an unfinished set from staging/",
                 job->site->name);
    at_sweep_remove_set(renew->ctx->shared, job->site->name, AUTOTLS_STAGING_READY, p);
    return 0;
}

/* After a staged set: 1 while it waits for the activator. When the activator removed it without
 * publishing (it refused it), that counts as a failed order. */
static int renew_staged_wait(autotls_renew_t *renew, autotls_renew_job_t *job, apr_time_t now,
                             apr_pool_t *p)
{
    apr_interval_time_t delay;

    if (!job->staged) {
        return 0;
    }
    if (job->generation == job->staged_generation && renew_staging_busy(renew, job, p)) {
        return 1;
    }
    job->staged = 0;
    /* The activator publishes before it removes the set: a generation read now is final. */
    if (autotls_slots_generation(renew->ctx->slots, job->site->slot) != job->staged_generation) {
        return 0;
    }
    delay = autotls_job_failed(&job->state, now, autotls_renew_random(), 0,
                               "the activator refused the new certificate (see its log line)");
    autotls_renew_ca_failed(renew, job, job->staged_ca, job->state.last_error, &delay, p);
    renew_job_save(renew, job, p);
    autotls_renew_notify(renew, job, AT_EVENT_FAILED, job->state.last_error, p);
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, renew->ctx->main_server,
                 AUTOTLS_LOGNO(0611) "%s: order failed (the activator refused the new "
                                     "certificate), attempt %d; next try in %" APR_TIME_T_FMT " s",
                 job->site->name, job->state.failures, apr_time_sec(delay));
    return 1;
}

/* ---- operator requests (autotls renew NAME) ---------------------------------------------- */

/* The generation of jobs/ (0 when the store cannot tell): it changes with every item saved or
 * removed there, so an unchanged one needs no listing. */
static apr_uint64_t renew_requests_generation(autotls_renew_t *renew, apr_pool_t *p)
{
    apr_uint64_t gen;

    return at_store_generation(renew->ctx->shared, AT_STORE_JOBS, &gen, p) == APR_SUCCESS ? gen : 0;
}

/* Lists jobs/ for <site>.renew files when it changed since the last look. */
/* The operator's request item asks for job's renewal (the item is removed when it is taken). */
static void renew_request_pending(autotls_renew_t *renew, autotls_renew_job_t *job,
                                  const char *item)
{
    if (job != NULL && !job->request_pending) {
        job->request_pending = 1;
        job->request_item = apr_pstrdup(renew->pool, item);
        renew_job_requested(renew, job);
    }
}

static void renew_requests_scan(autotls_renew_t *renew, apr_time_t now, apr_pool_t *p)
{
    at_store_t *store = renew->ctx->shared;
    apr_uint64_t gen = renew_requests_generation(renew, p);
    apr_array_header_t *items;
    autotls_renew_job_t *job;
    autotls_site_t *site;
    const char *name;
    int i, events = 0;

    if (gen != 0 && gen == renew->requests_seen &&
        now - renew->requests_listed < AUTOTLS_REQUESTS_RELIST) {
        return;
    }
    renew->requests_seen = gen;
    renew->requests_listed = now;
    if (at_store_list(store, AT_STORE_JOBS, NULL, &items, p) != APR_SUCCESS) {
        return;
    }
    for (i = 0; i < items->nelts; ++i) {
        const char *item = APR_ARRAY_IDX(items, i, const char *);

        if (at_event_is_item(item)) {
            events = 1;
            continue;
        }
        if ((name = at_job_request_site(p, item)) == NULL) {
            continue;
        }
        site = autotls_site_for_host(renew->ctx, name);
        job = site != NULL ? apr_hash_get(renew->by_site, site->name, APR_HASH_KEY_STRING) : NULL;
        if (job == NULL && autotls_store_fleet(renew->ctx)) {
            continue; /* a fleet's request: another node may manage that site */
        }
        if (job == NULL) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, renew->ctx->main_server,
                         AUTOTLS_LOGNO(0614) "%s asks to renew %s, which is no managed site; "
                                             "removed",
                         item, name);
            at_store_remove(store, AT_STORE_JOBS, NULL, item, p);
            continue;
        }
        renew_request_pending(renew, job, item);
        if (site->second != NULL) { /* both certificates: the one who takes it second finds */
            renew_request_pending(  /* the item gone, which a remove takes for done */
                                  renew,
                                  apr_hash_get(renew->by_site, site->second->name,
                                               APR_HASH_KEY_STRING),
                                  item);
        }
    }
    if (events) {
        autotls_notify_take_files(renew->notify, renew->ctx, items, p); /* the one listing */
        renew->requests_seen = 0; /* more than one take's worth may wait: list again */
    }
}

/* Takes the operator's request for a job no task owns: the backoff is cleared, an order follows
 * at once, valid certificate or not. */
static void renew_request_take(autotls_renew_t *renew, autotls_renew_job_t *job, apr_pool_t *p)
{
    apr_status_t rv;

    job->request_pending = 0;
    rv = at_store_remove(renew->ctx->shared, AT_STORE_JOBS, NULL, job->request_item, p);
    if (rv != APR_SUCCESS) {
        return; /* one log line from the store; taken again at the next listing */
    }
    job->requested = 1;
    autotls_job_reset(&job->state, 1);
    renew_job_save(renew, job, p);
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, renew->ctx->main_server,
                 AUTOTLS_LOGNO(0615) "%s: renewal requested by the operator (autotls renew); "
                                     "backoff cleared, ordering now",
                 job->site->name);
}

/* ---- expiry warnings ------------------------------------------------------------------------ */

void autotls_renew_notify(autotls_renew_t *renew, const autotls_renew_job_t *job,
                          at_event_kind_e kind, const char *error, apr_pool_t *p)
{
    at_event_t *event;

    if (renew->notify == NULL) {
        return;
    }
    event = at_event_make(p, kind, job->site->name, apr_time_now());
    event->names = job->site->names;
    if (job->ca_issued) {
        event->serial = job->serial;
        event->not_after = job->not_after;
    }
    event->error = error != NULL ? error : "";
    autotls_notify_post(renew->notify, event);
}

/* `expiring` once a day from the warn time while renewing keeps failing, `expired` once. */
static void renew_notify_expiry(autotls_renew_t *renew, autotls_renew_job_t *job,
                                const autotls_job_t *state, apr_time_t now, apr_pool_t *p)
{
    if (now >= job->not_after) {
        if (!job->notified_expired) {
            job->notified_expired = 1;
            autotls_renew_notify(renew, job, AT_EVENT_EXPIRED, state->last_error, p);
        }
        return;
    }
    if (job->notified_expiring == 0 || now - job->notified_expiring >= AUTOTLS_NOTIFY_DAILY) {
        job->notified_expiring = now;
        autotls_renew_notify(renew, job, AT_EVENT_EXPIRING, state->last_error, p);
    }
}

/* One loud line per site at most every AUTOTLS_WARN_INTERVAL (and at start, and when it
 * expires) while the served certificate is in its warn window and renewing it keeps failing. */
static void renew_warn(autotls_renew_t *renew, autotls_renew_job_t *job, apr_time_t now,
                       apr_pool_t *p)
{
    const autotls_job_t *state =
        job->state.failures > 0 ? &job->state : &autotls_renew_job_ca(renew, job)->account;
    int expired = now >= job->not_after;

    if (state->failures == 0 && job->ca_wait_since != 0) {
        /* no attempt failed: the CA could not be reached when the renewal was due */
        autotls_job_t *waited = apr_pcalloc(p, sizeof(*waited));

        waited->next_try = job->ca_wait_until;
        apr_snprintf(waited->last_error, sizeof(waited->last_error),
                     "the CA cannot be reached since %s",
                     autotls_job_time_text(p, job->ca_wait_since));
        state = waited;
    }
    if (!job->ca_issued || (state->failures == 0 && job->ca_wait_since == 0) ||
        now < at_renew_warn_time(job->not_before, job->not_after)) {
        return;
    }
    renew_notify_expiry(renew, job, state, now, p);
    if (job->warned != 0 && now - job->warned < AUTOTLS_WARN_INTERVAL &&
        expired == job->warned_expired) {
        return;
    }
    job->warned = now;
    job->warned_expired = expired;
    if (!expired) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, renew->ctx->main_server,
                     AUTOTLS_LOGNO(0616) "%s: certificate expires in %s (%s) and renewing it "
                                         "keeps failing (failed attempts: %d, last error: %s); "
                                         "still "
                                         "serving it, next try at %s",
                     job->site->name, autotls_job_duration_text(p, job->not_after - now),
                     autotls_job_time_text(p, job->not_after), state->failures, state->last_error,
                     autotls_job_time_text(p, state->next_try));
    } else {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, renew->ctx->main_server,
                     AUTOTLS_LOGNO(0617) "%s: certificate EXPIRED %s ago (%s) and renewing it "
                                         "keeps failing (failed attempts: %d, last error: %s); "
                                         "still "
                                         "serving it, next try at %s",
                     job->site->name, autotls_job_duration_text(p, now - job->not_after),
                     autotls_job_time_text(p, job->not_after), state->failures, state->last_error,
                     autotls_job_time_text(p, state->next_try));
    }
}

/* ---- the decision ------------------------------------------------------------------------------
 */

static int renew_want(autotls_renew_job_t *job, autotls_task_e task, const char *reason,
                      int allow_partial)
{
    job->task = task;
    job->reason = reason;
    job->allow_partial = allow_partial;
    return 1;
}

/* Whether the served certificate's ARI window must be fetched (first, or again) before deciding. */
static int renew_ari_due(autotls_renew_t *renew, const autotls_renew_job_t *job, apr_time_t now)
{
    autotls_renew_ca_t *issuer = autotls_renew_job_issuer(renew, job);

    if (job->cert_id[0] == '\0' || issuer == NULL ||
        now >= at_renew_emergency_time(job->not_before, job->not_after)) {
        return 0;
    }
    return !autotls_renew_ca_ari_absent(renew, issuer) &&
           (strcmp(job->state.ari.cert_id, job->cert_id) != 0 || now >= job->state.ari.next_poll);
}

at_renew_plan_t autotls_renew_job_plan(const autotls_renew_job_t *job)
{
    const autotls_job_t *state = &job->state;
    at_renew_window_t window = autotls_renew_window(job->site);
    int ari_known = job->cert_id[0] != '\0' && strcmp(state->ari.cert_id, job->cert_id) == 0 &&
                    state->ari.end > 0;

    return at_renew_plan(job->not_before, job->not_after, &window,
                         ari_known ? state->ari.chosen : 0);
}

/* Sets the job's task when one is due: 1, else 0. A new certificate, an operator's request, a
 * renewal the CA asked for (ARI) and an emergency take what validates (partial). A renewal on
 * our own schedule (lifetime, window) takes all or nothing while the served certificate is
 * valid: a name failing then must not take HTTPS away from it weeks early; the order backs off
 * and, should the name keep failing, the emergency point takes the partial certificate. A retry
 * of the missing names alone takes all or nothing too, so that the certificate served stays
 * when they still fail and no duplicate certificate counts against the CA's rate limits. */
static int renew_decide(autotls_renew_t *renew, autotls_renew_job_t *job, apr_time_t now)
{
    const autotls_job_t *state = &job->state;
    at_renew_plan_t plan;

    if (job->requested) {
        return renew_want(job, AUTOTLS_TASK_ORDER, AUTOTLS_RENEW_BY_OPERATOR, 1);
    }
    if (!job->ca_issued) {
        return now >= state->next_try &&
               renew_want(job, AUTOTLS_TASK_ORDER, AUTOTLS_RENEW_BY_NEW, 1);
    }
    if (renew_ari_due(renew, job, now)) {
        return renew_want(job, AUTOTLS_TASK_ARI, "ari", 0);
    }
    if (now < state->next_try) {
        return 0;
    }
    plan = autotls_renew_job_plan(job);
    if (now >= plan.at) {
        return renew_want(job, AUTOTLS_TASK_ORDER, at_renew_by_name(plan.by),
                          plan.by == AT_RENEW_BY_ARI || plan.by == AT_RENEW_BY_EMERGENCY);
    }
    if (autotls_job_missing_due(state, now)) {
        return renew_want(job, AUTOTLS_TASK_ORDER, AUTOTLS_RENEW_BY_MISSING, 0);
    }
    return 0;
}

/* ---- the account ---------------------------------------------------------------------------- */

/* Orders wait while the account is being changed (renew_account.c); else it is made once,
 * before orders run in parallel, so that they never race for it. */
static apr_status_t renew_account_ready(autotls_renew_t *renew, autotls_renew_ca_t *ca,
                                        apr_pool_t *p)
{
    if (autotls_renew_account_busy(renew)) {
        return APR_EAGAIN;
    }
    return autotls_renew_account_ensure(renew, ca, p);
}

/* ---- the tick ----------------------------------------------------------------------------------
 */

/* Looks at one job no task owns; returns 1 when it wants an order or an ARI poll. */
static int renew_look(autotls_renew_t *renew, autotls_renew_job_t *job, apr_time_t now,
                      apr_pool_t *p)
{
    renew_served_refresh(renew, job, p);
    if (job->request_pending) {
        renew_request_take(renew, job, p);
    }
    renew_warn(renew, job, now, p);
    if (renew_staged_wait(renew, job, now, p) || !renew_decide(renew, job, now)) {
        return 0;
    }
    /* A finished set still waits for the activator: nothing new meanwhile. */
    return job->task != AUTOTLS_TASK_ORDER || !renew_staging_busy(renew, job, p);
}

static apr_time_t renew_min(apr_time_t a, apr_time_t b)
{
    return a < b ? a : b;
}

static apr_time_t renew_max(apr_time_t a, apr_time_t b)
{
    return a > b ? a : b;
}

/* When renew_warn speaks next for a failing job: from the warn time on, every
 * AUTOTLS_WARN_INTERVAL, and at expiry. */
static apr_time_t renew_warn_due(const autotls_renew_job_t *job)
{
    apr_time_t warn = at_renew_warn_time(job->not_before, job->not_after);

    if (job->warned != 0) {
        warn = renew_max(warn, job->warned + AUTOTLS_WARN_INTERVAL);
    }
    return job->warned_expired ? warn : renew_min(warn, job->not_after);
}

/* When renew_look may answer differently for a job it just declined: the earliest of its
 * backoff, the CA's renewal window, the lifetime rule, a missing name's retry and the expiry
 * warnings; the next tick while something outside this process is awaited (the activator, the
 * slot). */
static apr_time_t renew_next_due(autotls_renew_t *renew, const autotls_renew_job_t *job,
                                 apr_time_t now)
{
    const autotls_job_t *state = &job->state;
    apr_time_t next = now + AUTOTLS_RENEW_TICK, due, emergency;
    at_renew_plan_t plan;
    autotls_renew_ca_t *issuer;

    if (!job->served_known || job->staged || job->request_pending || job->requested) {
        return next;
    }
    if (!job->ca_issued) {
        return renew_max(state->next_try, next);
    }
    emergency = at_renew_emergency_time(job->not_before, job->not_after);
    plan = autotls_renew_job_plan(job);
    due = renew_max(state->next_try, plan.at);
    if (autotls_job_missing_count(state) > 0) {
        due = renew_min(due, renew_max(state->next_try, autotls_job_missing_next_try(state)));
    }
    issuer = autotls_renew_job_issuer(renew, job);
    if (job->cert_id[0] != '\0' && now < emergency && issuer != NULL) {
        if (!autotls_renew_ca_ari_absent(renew, issuer)) {
            due = renew_min(due, strcmp(state->ari.cert_id, job->cert_id) != 0
                                     ? now
                                     : renew_min(state->ari.next_poll, emergency));
        }
    }
    if (state->failures > 0 || autotls_renew_job_ca(renew, job)->account.failures > 0) {
        due = renew_min(due, renew_warn_due(job));
    }
    return renew_max(due, next);
}

/* A job that wants to talk to the CA while it cannot be reached sleeps until the CA's next
 * probe, or until its next expiry warning: renew_warn counts the wait as failing. */
static void renew_park_for_ca(autotls_renew_t *renew, autotls_renew_job_t *job, apr_time_t now,
                              apr_time_t wait)
{
    apr_time_t at = wait;

    if (job->task == AUTOTLS_TASK_ORDER) {
        if (job->ca_wait_since == 0) {
            job->ca_wait_since = now;
        }
        job->ca_wait_until = wait;
        if (job->ca_issued) {
            at = renew_min(at, renew_warn_due(job));
        }
    }
    renew_due_at(renew, job, renew_max(at, now + AUTOTLS_RENEW_TICK));
}

/* Hands the job's task to a thread; 0 when the pool refused it (the job is due again). */
static int renew_hand(autotls_renew_t *renew, autotls_renew_job_t *job)
{
    int handed;

    /* The task owns the job once handed: its status entry is built now, while we own it. */
    autotls_renew_status_site(renew, job, job->task == AUTOTLS_TASK_ORDER, apr_time_now());
    apr_thread_mutex_lock(renew->lock);
    job->running = 1;
    ++renew->in_flight;
    if (renew->tasks == NULL || autotls_renew_task_push(renew, job) != APR_SUCCESS) {
        job->running = 0;
        --renew->in_flight;
    }
    handed = job->running;
    apr_thread_mutex_unlock(renew->lock);
    if (!handed) {
        renew_due_at(renew, job, apr_time_now() + AUTOTLS_RENEW_TICK);
    }
    return handed;
}

static int renew_threads_free(autotls_renew_t *renew)
{
    int free_threads;

    apr_thread_mutex_lock(renew->lock);
    free_threads = renew->tasks_max - renew->in_flight;
    apr_thread_mutex_unlock(renew->lock);
    return free_threads;
}

/* Takes back the jobs whose task ended: each is looked at again at once. */
static void renew_take_back(autotls_renew_t *renew, apr_time_t now)
{
    autotls_renew_job_t *job, *next;

    apr_thread_mutex_lock(renew->lock);
    job = renew->done;
    renew->done = NULL;
    apr_thread_mutex_unlock(renew->lock);
    for (; job != NULL; job = next) {
        next = job->next_done;
        job->next_done = NULL;
        renew_due_at(renew, job, now);
    }
}

/* A job that wants an order waits in a ready queue: the operator's first, then sites without a
 * certificate, then renewals by expiry. */
static void renew_make_ready(autotls_renew_t *renew, autotls_renew_job_t *job)
{
    apr_int64_t cls = AUTOTLS_READY_RENEWAL, tie = job->not_after;
    autotls_renew_ca_t *issuer = autotls_renew_job_issuer(renew, job);

    /* renew_task.c sends `replaces` exactly then (to the CA that issued the certificate, when the
     * order goes there): the CA spends no token on such an order */
    job->exempt = job->ca_issued && job->cert_id[0] != '\0' && issuer != NULL &&
                  issuer == autotls_renew_job_ca(renew, job) &&
                  !autotls_renew_ca_ari_absent(renew, issuer);
    if (job->requested) {
        cls = AUTOTLS_READY_OPERATOR;
        tie = job->index;
    } else if (!job->ca_issued) {
        cls = AUTOTLS_READY_NEW;
        tie = job->index;
    }
    autotls_queue_put(renew_ready_queue(renew, job), job, &job->ready_pos, cls, tie);
}

/* Looks at every job that is due: an ARI poll goes to a thread, an order to a ready queue, and
 * a job with nothing to do goes back to sleep until its next due time. */
static void renew_look_due(autotls_renew_t *renew, apr_time_t now, apr_pool_t *p)
{
    autotls_renew_job_t *job;
    apr_pool_t *look;
    apr_int64_t at;
    apr_time_t wait;

    /* One look's memory at a time: the first tick looks at every site (a parsed certificate
     * each), and a tick pool holding them all would stay in this process's RSS. */
    if (apr_pool_create(&look, p) != APR_SUCCESS) {
        look = p;
    }
    while (autotls_queue_top(&renew->due, &at, NULL) != NULL && at <= now) {
        job = autotls_queue_pop(&renew->due);
        if (look != p) {
            apr_pool_clear(look);
        }
        if (!renew_look(renew, job, now, look)) {
            renew_due_at(renew, job, renew_next_due(renew, job, now));
        } else if (job->task == AUTOTLS_TASK_ARI) {
            if (renew_threads_free(renew) <= 0) {
                renew_due_at(renew, job, now + AUTOTLS_RENEW_TICK);
            } else if (autotls_renew_job_issuer(renew, job) == NULL) {
                renew_due_at(renew, job, now + AUTOTLS_RENEW_TICK); /* changed meanwhile */
            } else if (!autotls_renew_reach_take(renew, autotls_renew_job_issuer(renew, job), now,
                                                 &wait)) {
                renew_park_for_ca(renew, job, now, wait);
            } else {
                renew_hand(renew, job); /* refused: due again at the next tick */
            }
        } else {
            renew_make_ready(renew, job);
        }
        if (job->due_pos != AUTOTLS_QUEUE_OUT || job->ready_pos != AUTOTLS_QUEUE_OUT) {
            /* not handed to a task: still ours */
            autotls_renew_status_site(renew, job, job->ready_pos != AUTOTLS_QUEUE_OUT, now);
        }
    }
}

/* When a CA's limit on a registered domain holds one of the site's names: its end, else 0. */
static apr_time_t renew_held_until(autotls_renew_t *renew, autotls_renew_ca_t *ca,
                                   const autotls_site_t *site, apr_time_t now, const char **domain)
{
    apr_hash_index_t *hi;
    apr_time_t until = 0;
    int i;

    apr_thread_mutex_lock(renew->lock);
    for (hi = apr_hash_first(NULL, ca->holds); hi != NULL; hi = apr_hash_next(hi)) {
        const char *held = apr_hash_this_key(hi);
        apr_time_t end = *(apr_time_t *)apr_hash_this_val(hi);

        for (i = 0; end > now && end > until && i < site->names->nelts; ++i) {
            if (at_ratelimit_name_under(APR_ARRAY_IDX(site->names, i, const char *), held)) {
                until = end;
                *domain = held; /* the pool outlives the tick: holds are never removed */
            }
        }
    }
    apr_thread_mutex_unlock(renew->lock);
    return until;
}

/* Once per wait: the site first in line waits for the CA's order rate. */
static void renew_rate_tell(autotls_renew_t *renew, autotls_renew_job_t *job, apr_time_t now,
                            int waiting, apr_pool_t *p)
{
    autotls_renew_ca_t *ca = autotls_renew_job_ca(renew, job);
    at_bucket_t bucket;

    if (job->rate_told) {
        return;
    }
    job->rate_told = 1;
    apr_thread_mutex_lock(renew->lock);
    bucket = ca->bucket;
    apr_thread_mutex_unlock(renew->lock);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, renew->ctx->main_server,
                 AUTOTLS_LOGNO(0633) "%s: next in line for a new order; waiting for the CA's "
                                     "order rate (%s%s) until %s; %d site(s) waiting",
                 job->site->name, at_rate_text(p, bucket.rate),
                 now < bucket.blocked_until ? ", emptied by the CA's 429" : "",
                 autotls_job_time_text(p, at_bucket_next(&bucket, now, 0)), waiting);
}

/* Whether the job's CA has a token for it now (exempt: an order the CA spends none on). */
static int renew_rate_ok(autotls_renew_t *renew, autotls_renew_job_t *job, apr_time_t now,
                         int exempt)
{
    autotls_renew_ca_t *ca = autotls_renew_job_ca(renew, job);
    int ok;

    apr_thread_mutex_lock(renew->lock);
    ok = at_bucket_next(&ca->bucket, now, exempt) <= now;
    apr_thread_mutex_unlock(renew->lock);
    return ok;
}

/* The first job of a ready queue whose CA may take its order now. The jobs before it (their CA's
 * bucket is empty) go into skipped, out of the queue; the caller puts them back. The first of
 * them is told the wait once (the line's first site, as with one CA). */
static autotls_renew_job_t *renew_ready_top(autotls_renew_t *renew, autotls_queue_t *queue,
                                            int exempt, apr_time_t now, apr_array_header_t *skipped,
                                            apr_pool_t *p)
{
    int waiting = renew->ready.count + renew->ready_exempt.count;
    autotls_renew_job_t *top;

    while ((top = autotls_queue_top(queue, NULL, NULL)) != NULL &&
           !renew_rate_ok(renew, top, now, exempt)) {
        if (!exempt && skipped->nelts == 0) {
            renew_rate_tell(renew, top, now, waiting, p);
        }
        APR_ARRAY_PUSH(skipped, autotls_renew_job_t *) = autotls_queue_pop(queue);
    }
    return top;
}

/* The next order to hand over by priority, taken out of its ready queue; NULL when none may go
 * now. *paying: it needs a token (not spent yet). */
static autotls_renew_job_t *renew_next_order(autotls_renew_t *renew, apr_time_t now, int *paying,
                                             apr_pool_t *p)
{
    apr_array_header_t *skipped = apr_array_make(p, 4, sizeof(autotls_renew_job_t *));
    autotls_renew_job_t *top, *exempt, *next;
    apr_int64_t pk = 0, pt = 0, ek = 0, et = 0;
    int i;

    renew_ready_top(renew, &renew->ready, 0, now, skipped, p);
    renew_ready_top(renew, &renew->ready_exempt, 1, now, skipped, p);
    top = autotls_queue_top(&renew->ready, &pk, &pt);
    exempt = autotls_queue_top(&renew->ready_exempt, &ek, &et);
    *paying = top != NULL && (exempt == NULL || pk < ek || (pk == ek && pt <= et));
    next = *paying          ? autotls_queue_pop(&renew->ready)
           : exempt != NULL ? autotls_queue_pop(&renew->ready_exempt)
                            : NULL;
    for (i = 0; i < skipped->nelts; i++) { /* back in line, where they were */
        renew_make_ready(renew, APR_ARRAY_IDX(skipped, i, autotls_renew_job_t *));
    }
    return next;
}

/* Spends the order's token (a fleet's from the bucket every node spends); 0 (the job back in
 * line) when a 429 or another node emptied the bucket meanwhile. */
static int renew_pay(autotls_renew_t *renew, autotls_renew_job_t *job, apr_time_t now,
                     apr_pool_t *p)
{
    autotls_renew_ca_t *ca = autotls_renew_job_ca(renew, job);
    int paid;

    if (autotls_renew_fleet_bucket(&paid, renew, ca, renew->ctx->shared, AUTOTLS_FLEET_BUCKET_TAKE,
                                   now, 0, p) == APR_ENOTIMPL) {
        apr_thread_mutex_lock(renew->lock);
        paid = at_bucket_take(&ca->bucket, now, 0);
        ca->bucket_dirty |= paid;
        apr_thread_mutex_unlock(renew->lock);
    }
    if (!paid) {
        renew_make_ready(renew, job);
    }
    return paid;
}

/* With several CAs, an account that cannot be made at the CA a site is on (a CA requiring EAB
 * it was not given, say) counts as a failed order of the site there, once per attempt of the
 * account, so that the site moves on instead of waiting on that account for ever. Returns when
 * the job is due again. */
static apr_time_t renew_account_failed_site(autotls_renew_t *renew, autotls_renew_job_t *job,
                                            autotls_renew_ca_t *ca, apr_time_t now, apr_pool_t *p)
{
    const char *error =
        apr_psprintf(p, "no ACME account at %s: %s", ca->spec->url, ca->account.last_error);
    apr_interval_time_t delay;

    delay = autotls_job_failed(&job->state, now, autotls_renew_random(), 0, error);
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, renew->ctx->main_server,
                 AUTOTLS_LOGNO(0153) "%s: no order at %s: its account cannot be made (%s), "
                                     "attempt %d",
                 job->site->name, ca->spec->url, ca->account.last_error, job->state.failures);
    autotls_renew_ca_failed(renew, job, ca->index, error, &delay, p);
    renew_job_save(renew, job, p);
    autotls_renew_notify(renew, job, AT_EVENT_FAILED, error, p);
    return delay == 0 ? now + AUTOTLS_RENEW_TICK
                      : renew_max(ca->account.next_try, job->state.next_try);
}

/* Whether the order of the site's other key type (AutoTLSKeyType with two) is running: a
 * site's two orders go one after the other, since they ask for the same names (a tls-alpn-01
 * answer is one per name, and a CA may hand both orders the same pending authorization). */
static int renew_sibling_running(autotls_renew_t *renew, const autotls_renew_job_t *job)
{
    const autotls_site_t *other = job->site->second != NULL ? job->site->second : job->site->first;
    autotls_renew_job_t *sibling;
    int running;

    if (other == NULL ||
        (sibling = apr_hash_get(renew->by_site, other->name, APR_HASH_KEY_STRING)) == NULL) {
        return 0;
    }
    apr_thread_mutex_lock(renew->lock);
    running = sibling->running;
    apr_thread_mutex_unlock(renew->lock);
    return running;
}

/* Hands waiting orders to free threads, by priority, within the CA's pace. */
static int renew_dispatch(autotls_renew_t *renew, apr_time_t now, apr_pool_t *p)
{
    autotls_renew_job_t *job;
    autotls_renew_ca_t *ca;
    const char *domain = NULL;
    apr_time_t held, wait, at;
    int handed = 0, paying;
    apr_status_t rv;

    if (renew->ready.count + renew->ready_exempt.count == 0 || renew_threads_free(renew) <= 0) {
        return 0;
    }
    /* A fleet places no order while its shared store is away (Redis logged the change once): the
     * waiting orders go when it answers again. */
    if (!autotls_store_shared_up(renew->ctx)) {
        return 0;
    }
    if (autotls_renew_account_busy(renew)) {
        return 0; /* the account is being changed (renew_account.c): orders wait */
    }
    /* what the other nodes spent: the fleet's buckets decide whether an order may go */
    autotls_renew_fleet_buckets_read(renew, renew->ctx->shared, now, p);
    while (renew_threads_free(renew) > 0 &&
           (job = renew_next_order(renew, now, &paying, p)) != NULL) {
        ca = autotls_renew_job_ca(renew, job);
        if ((rv = renew_account_ready(renew, ca, p)) != APR_SUCCESS) {
            /* no account at its CA (on its backoff): the order sleeps until the account's next
             * try instead of being looked at every tick */
            at = renew_max(ca->account.next_try, now + AUTOTLS_RENEW_TICK);
            if (rv != APR_EAGAIN && renew->ca_count > 1) {
                at = renew_account_failed_site(renew, job, ca, now, p);
            }
            renew_due_at(renew, job, at);
            continue;
        }
        if ((held = renew_held_until(renew, ca, job->site, now, &domain)) > 0) {
            if (job->hold_told != held) {
                job->hold_told = held;
                ap_log_error(APLOG_MARK, APLOG_INFO, 0, renew->ctx->main_server,
                             AUTOTLS_LOGNO(0632) "%s: waiting until %s: the CA limits "
                                                 "certificates for %s",
                             job->site->name, autotls_job_time_text(p, held), domain);
            }
            renew_due_at(renew, job, held);
            continue;
        }
        if (renew_sibling_running(renew, job)) {
            renew_due_at(renew, job, now + AUTOTLS_RENEW_TICK);
            continue;
        }
        if (!job->requested && !autotls_renew_reach_take(renew, ca, now, &wait)) {
            renew_park_for_ca(renew, job, now, wait);
            continue;
        }
        job->ca_wait_since = 0;
        if (paying && !renew_pay(renew, job, now, p)) {
            break;
        }
        job->rate_told = 0;
        job->paid = paying;
        handed += renew_hand(renew, job);
    }
    return handed;
}

/* The CA answers again: every job that waited for it is looked at now, not at its next probe. */
static void renew_reach_wake(autotls_renew_t *renew)
{
    int i, back = 0;

    apr_thread_mutex_lock(renew->lock);
    for (i = 0; i < renew->ca_count; i++) {
        back |= renew->cas[i].reach_back;
        renew->cas[i].reach_back = 0;
    }
    apr_thread_mutex_unlock(renew->lock);
    for (i = 0; back && i < renew->ctx->sites->nelts; i++) {
        autotls_renew_job_wake(renew, &renew->jobs[i]);
    }
}

/* Looks at what is due and hands what may go to the task threads. */
void autotls_renew_tick(autotls_renew_t *renew, apr_pool_t *p)
{
    apr_time_t now = apr_time_now();
    int handed;

    autotls_renew_leases_keep(renew, now, p); /* the fleet's per-tick step (store_shared.h) */
    autotls_renew_account_tick(renew, p);
    renew_requests_scan(renew, now, p);
    renew_take_back(renew, now);
    renew_reach_wake(renew);
    renew_look_due(renew, now, p);
    handed = renew_dispatch(renew, now, p);
    autotls_renew_cas_rate_save(renew, p); /* at most once a tick: a restart does not refill */
    autotls_renew_status_publish(renew, now, p);
    if (handed > 0) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, renew->ctx->main_server,
                     AUTOTLS_LOGNO(0605) "%d order(s) handed to the task threads", handed);
    }
}

/* ---- start and stop -----------------------------------------------------------------------------
 */

/* Every job's state comes from disk before anything else happens: no CA is contacted on a
 * schedule this process has not read. */
static void renew_load(autotls_renew_t *renew)
{
    at_store_t *store = renew->ctx->shared;
    apr_pool_t *load;
    int i;

    autotls_renew_cas_load(renew);
    renew->jobs = apr_pcalloc(renew->pool, sizeof(autotls_renew_job_t) * renew->ctx->sites->nelts);
    renew->by_site = apr_hash_make(renew->pool);
    autotls_queue_init(&renew->due, renew->pool, renew->ctx->sites->nelts);
    autotls_queue_init(&renew->ready, renew->pool, renew->ctx->sites->nelts);
    autotls_queue_init(&renew->ready_exempt, renew->pool, renew->ctx->sites->nelts);
    if (apr_pool_create(&load, renew->pool) != APR_SUCCESS) {
        load = renew->pool;
    }
    for (i = 0; i < renew->ctx->sites->nelts; ++i) {
        autotls_renew_job_t *job = &renew->jobs[i];

        if (load != renew->pool) {
            apr_pool_clear(load);
        }
        job->renew = renew;
        job->index = i;
        job->due_pos = job->ready_pos = AUTOTLS_QUEUE_OUT;
        job->site = APR_ARRAY_IDX(renew->ctx->sites, i, autotls_site_t *);
        job->item = at_job_item(renew->pool, job->site->name);
        autotls_job_init(&job->state);
        autotls_job_load(&job->state, store, job->item, load);
        autotls_renew_fingerprint_apply(&job->state, renew->ctx, job->site, load);
        if (job->state.orphaned_since != 0) {
            job->state.orphaned_since = 0; /* configured again: not an orphan any more */
            renew_job_save(renew, job, load);
        }
        apr_hash_set(renew->by_site, job->site->name, APR_HASH_KEY_STRING, job);
        renew_due_at(renew, job, 0); /* every site is looked at in the first tick */
    }
    autotls_renew_status_begin(renew, load);
}

apr_status_t autotls_renew_begin(autotls_renew_t *renew)
{
    apr_allocator_t *allocator;
    apr_status_t rv;

    if ((rv = apr_allocator_create(&allocator)) != APR_SUCCESS ||
        (rv = apr_pool_create_ex(&renew->pool, NULL, NULL, allocator)) != APR_SUCCESS) {
        return rv;
    }
    apr_allocator_owner_set(allocator, renew->pool);
    apr_allocator_max_free_set(allocator, AUTOTLS_RENEW_POOL_MAX_FREE);
    if ((rv = apr_pool_create(&renew->holds_pool, renew->pool)) != APR_SUCCESS) {
        return rv;
    }
    renew_load(renew);
    if ((rv = autotls_notify_start(&renew->notify, renew->ctx, renew->pool)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, renew->ctx->main_server,
                     AUTOTLS_LOGNO(0809) "cannot start the notification command's runners; "
                                         "no notifications (renewals go on)");
    }
    renew->tasks_max = autotls_config_orders_in_flight(renew->ctx->main_server);
    if ((rv = apr_thread_mutex_create(&renew->lock, APR_THREAD_MUTEX_DEFAULT, renew->pool)) ||
        (rv = apr_thread_cond_create(&renew->wake, renew->pool)) ||
        (rv = apr_thread_pool_create(&renew->tasks, 0, renew->tasks_max, renew->pool))) {
        return rv;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, renew->ctx->main_server,
                 AUTOTLS_LOGNO(0634) "orders: at most %d at once; new orders at %s paced at %s "
                                     "(%d token(s) now; kept in jobs/%s)",
                 renew->tasks_max, renew->cas[0].spec->url,
                 at_rate_text(renew->pool, renew->cas[0].bucket.rate),
                 at_bucket_tokens(&renew->cas[0].bucket, apr_time_now()), renew->cas[0].rate_item);
    return APR_SUCCESS;
}

/* Stops taking tasks and waits for the running ones (each bounded by its order timeout). */
static void renew_tasks_stop(autotls_renew_t *renew)
{
    apr_thread_pool_t *tasks;

    if (renew->lock == NULL) {
        return;
    }
    apr_thread_mutex_lock(renew->lock);
    tasks = renew->tasks;
    renew->tasks = NULL;
    apr_thread_mutex_unlock(renew->lock);
    if (tasks != NULL) {
        apr_thread_pool_destroy(tasks);
    }
}

void autotls_renew_end(autotls_renew_t *renew)
{
    int i;

    if (renew->pool == NULL) {
        return;
    }
    renew_tasks_stop(renew);
    autotls_notify_stop(renew->notify);
    renew->notify = NULL;
    for (i = 0; i < renew->ctx->sites->nelts; ++i) {
        autotls_job_clear(&renew->jobs[i].state);
    }
    autotls_renew_status_end(renew);
    autotls_renew_cas_end(renew);
    apr_pool_destroy(renew->pool);
    renew->pool = NULL;
}
