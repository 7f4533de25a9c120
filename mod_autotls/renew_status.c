/* SPDX-License-Identifier: Apache-2.0 */
/*
 * renew_status.c: the renewal process publishes what it knows as the status snapshot,
 * status/snapshot.json (at_status.h), for the children's status page, metrics and server-status
 * section and for `autotls status`.
 *
 * The one idea: children run as User and may read no job state, so this process, which owns the
 * schedule, writes one file they may read (0644 in a 0755 directory, owned by the ACME account,
 * written whole: temp file + rename). It holds nothing secret: names, serials, issuers, times,
 * error texts, counters. Each site's entry is rebuilt only when the scheduler looks at the site
 * (it owns the job then: no task writes it meanwhile) and kept as text, so a write at 10,000 sites
 * joins texts instead of rebuilding every entry; a write happens when an entry changed, at most
 * once a second, or when only a counter did, at most every 30 s; a failed write is tried again.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include <httpd.h>
#include <http_log.h>

#include "at_core.h"
#include "at_issue.h"
#include "log_glue.h"
#include "at_job.h"
#include "at_orphan.h"
#include "renew_fleet.h"
#include "renew_status.h"
#include "store_shared.h"

APLOG_USE_MODULE(autotls);

/* Orphaned job files read at the start: at most this many (one listing of jobs/). */
#define STATUS_ORPHANS_MAX 100000

/* ---- one site's entry ---------------------------------------------------------------------- */

/* When the next order is due and why, as the scheduler will decide it. */
static void status_next(at_status_site_t *s, const autotls_renew_job_t *job)
{
    const autotls_job_t *state = &job->state;
    at_renew_plan_t plan;

    if (!job->ca_issued) {
        s->next_renewal = state->failures > 0 ? state->next_try : 0;
        s->next_reason = state->failures > 0 ? AT_STATUS_NEXT_BACKOFF : AT_STATUS_NEXT_NONE;
        return;
    }
    plan = autotls_renew_job_plan(job);
    if (state->next_try > plan.at) {
        s->next_renewal = state->next_try;
        s->next_reason = AT_STATUS_NEXT_BACKOFF;
        return;
    }
    s->next_renewal = plan.at;
    s->next_reason = plan.by == AT_RENEW_BY_ARI      ? AT_STATUS_NEXT_ARI
                     : plan.by == AT_RENEW_BY_WINDOW ? AT_STATUS_NEXT_WINDOW
                                                     : AT_STATUS_NEXT_LIFETIME;
}

/* The names still missing from a partial certificate, as the job file lists them. */
static void status_missing(at_status_site_t *s, const autotls_job_t *state, apr_pool_t *p)
{
    const json_t *entry;
    size_t i;

    json_array_foreach(state->missing, i, entry)
    {
        const char *name = json_string_value(json_object_get(entry, "name"));

        if (name != NULL) {
            APR_ARRAY_PUSH(s->missing, const char *) = apr_pstrdup(p, name);
        }
    }
}

static void status_error(at_status_site_t *s, const autotls_job_t *state)
{
    if (state->last_error[0] == '\0') {
        return;
    }
    s->last_error.type = state->last_error_type;
    s->last_error.detail = state->last_error;
    s->last_error.at = state->last_error_at; /* the job file's time for an older release's */
}

/* The entry of a configured site from what the scheduler knows of it. */
static char *status_site_text(autotls_renew_t *renew, const autotls_renew_job_t *job, int ordering,
                              apr_time_t now, apr_pool_t *p)
{
    at_status_t *status = at_status_make(p);
    at_status_site_t *s = at_status_site_add(status, job->site->name, p);
    const autotls_job_t *account;
    int i;

    for (i = 0; i < job->site->names->nelts; ++i) {
        APR_ARRAY_PUSH(s->names, const char *) = APR_ARRAY_IDX(job->site->names, i, const char *);
    }
    s->has_cert = job->served_known && job->ca_issued;
    if (s->has_cert) {
        s->serial = job->serial;
        s->issuer = job->issuer != NULL ? job->issuer : "";
        s->not_before = job->not_before;
        s->not_after = job->not_after;
    }
    /* the account's failure holds every site without a failure of its own */
    account = &autotls_renew_job_ca(renew, job)->account;
    s->failures = job->state.failures > 0 ? job->state.failures : account->failures;
    status_error(s, job->state.failures > 0 ? &job->state : account);
    status_next(s, job);
    status_missing(s, &job->state, p);
    s->pending_since = s->has_cert ? 0 : job->state.pending_since;
    s->ca = autotls_renew_job_ca(renew, job)->spec->url; /* where its next order goes */
    s->state = at_status_derive(s, 0, ordering || job->staged || job->requested, now);
    return at_status_site_dumps(s, p);
}

void autotls_renew_status_site(autotls_renew_t *renew, autotls_renew_job_t *job, int ordering,
                               apr_time_t now)
{
    apr_pool_t *p;
    char *text = NULL;

    if (apr_pool_create(&p, renew->pool) == APR_SUCCESS) {
        text = status_site_text(renew, job, ordering, now, p);
        apr_pool_destroy(p);
    }
    if (text == NULL) {
        return; /* out of memory: the last entry stays */
    }
    if (job->status_text != NULL && strcmp(job->status_text, text) == 0) {
        free(text);
        return;
    }
    free(job->status_text);
    job->status_text = text;
    renew->status_dirty = 1;
}

const char *autotls_renew_status_issuer(autotls_renew_t *renew, const char *issuer)
{
    const char *kept;

    if (issuer == NULL) {
        return NULL;
    }
    if (renew->issuers == NULL) {
        renew->issuers = apr_hash_make(renew->pool);
    }
    if ((kept = apr_hash_get(renew->issuers, issuer, APR_HASH_KEY_STRING)) == NULL) {
        kept = apr_pstrdup(renew->pool, issuer);
        apr_hash_set(renew->issuers, kept, APR_HASH_KEY_STRING, kept);
    }
    return kept;
}

/* ---- orphans: job files of sites no longer configured --------------------------------------- */

static char *status_orphan_text(const char *site, const autotls_job_t *state, apr_pool_t *p)
{
    at_status_t *status = at_status_make(p);
    at_status_site_t *s = at_status_site_add(status, site, p);

    s->failures = state->failures;
    status_error(s, state);
    status_missing(s, state, p);
    s->state = AT_STATUS_ORPHANED;
    return at_status_site_dumps(s, p);
}

/* The job items of sites that may be orphaned. Orphaned is decided per node: on a single server
 * every job file; in a fleet only the sites this node holds itself (its own live/ and the marks
 * its activator keeps in its local jobs/), never the fleet's job state for sites other nodes
 * serve. */
static apr_status_t status_orphan_candidates(apr_array_header_t **items, autotls_renew_t *renew,
                                             apr_pool_t *p)
{
    apr_array_header_t *sites;
    apr_status_t rv;
    int i;

    if (!autotls_store_fleet(renew->ctx)) {
        return at_store_list(renew->ctx->shared, AT_STORE_JOBS, NULL, items, p);
    }
    if ((rv = at_orphan_stored_sites(&sites, renew->ctx->store, p)) != APR_SUCCESS) {
        return rv;
    }
    *items = apr_array_make(p, sites->nelts, sizeof(const char *));
    for (i = 0; i < sites->nelts; ++i) {
        APR_ARRAY_PUSH(*items, const char *) =
            at_job_item(p, APR_ARRAY_IDX(sites, i, const char *));
    }
    return APR_SUCCESS;
}

void autotls_renew_status_begin(autotls_renew_t *renew, apr_pool_t *p)
{
    apr_array_header_t *items;
    autotls_job_t state;
    const char *site;
    char *text;
    int i;

    renew->orphans = apr_array_make(renew->pool, 0, sizeof(char *));
    renew->status_dirty = 1; /* a new process: its snapshot replaces the last one's */
    if (status_orphan_candidates(&items, renew, p) != APR_SUCCESS) {
        return;
    }
    for (i = 0; i < items->nelts && renew->orphans->nelts < STATUS_ORPHANS_MAX; ++i) {
        const char *item = APR_ARRAY_IDX(items, i, const char *);

        if ((site = at_job_site(p, item)) == NULL ||
            apr_hash_get(renew->by_site, site, APR_HASH_KEY_STRING) != NULL) {
            continue;
        }
        autotls_job_init(&state);
        if (autotls_job_load(&state, renew->ctx->shared, item, p) == APR_SUCCESS &&
            (text = status_orphan_text(site, &state, p)) != NULL) {
            APR_ARRAY_PUSH(renew->orphans, char *) = text;
        }
        autotls_job_clear(&state);
    }
    if (renew->orphans->nelts > 0) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, renew->ctx->main_server,
                     AUTOTLS_LOGNO(0700) "%d site(s) with job state are no longer configured; "
                                         "the status page lists them as orphaned",
                     renew->orphans->nelts);
    }
}

void autotls_renew_status_end(autotls_renew_t *renew)
{
    int i;

    for (i = 0; renew->jobs != NULL && i < renew->ctx->sites->nelts; ++i) {
        free(renew->jobs[i].status_text);
        renew->jobs[i].status_text = NULL;
    }
    for (i = 0; renew->orphans != NULL && i < renew->orphans->nelts; ++i) {
        free(APR_ARRAY_IDX(renew->orphans, i, char *));
    }
    renew->orphans = NULL;
}

/* ---- counters and the write ------------------------------------------------------------------ */

void autotls_renew_status_count(autotls_renew_t *renew, int result, unsigned requests,
                                const char *account_url)
{
    apr_thread_mutex_lock(renew->lock);
    if (result >= 0 && result < AT_STATUS_ORDER_RESULT_COUNT) {
        ++renew->orders_total[result];
    }
    renew->ca_requests_total += requests;
    if (account_url != NULL && strcmp(renew->account_url, account_url) != 0) {
        apr_cpystrn(renew->account_url, account_url, sizeof(renew->account_url));
        renew->status_account_new = 1;
    }
    renew->status_counted = 1;
    apr_thread_mutex_unlock(renew->lock);
}

/* The server part of the snapshot (its sites come as texts). */
static void status_server(at_status_t *status, autotls_renew_t *renew, apr_time_t now,
                          apr_pool_t *p)
{
    int changed;

    status->ca = renew->ctx->ca_url;
    status->generated = now;
    apr_thread_mutex_lock(renew->lock);
    autotls_renew_fleet_status(status, &changed, renew->fleet, renew->jobs,
                               renew->ctx->sites->nelts, p);
    renew->status_fleet_new = 0;
    memcpy(status->orders_total, renew->orders_total, sizeof(status->orders_total));
    status->ca_requests_total = renew->ca_requests_total;
    status->account = apr_pstrdup(p, renew->account_url);
    status->orders_in_flight = renew->in_flight;
    renew->status_counted = 0;
    renew->status_account_new = 0;
    apr_thread_mutex_unlock(renew->lock);
}

void autotls_renew_status_publish(autotls_renew_t *renew, apr_time_t now, apr_pool_t *p)
{
    at_status_t *status = at_status_make(p);
    const char **texts;
    apr_size_t len = 0;
    int i, n = 0, counted, dirty;
    char *text;
    apr_status_t rv;

    apr_thread_mutex_lock(renew->lock);
    counted = renew->status_counted;
    dirty = renew->status_dirty || renew->status_account_new || renew->status_fleet_new ||
            autotls_renew_fleet_nodes_changed(renew->fleet);
    apr_thread_mutex_unlock(renew->lock);
    if (dirty ? now - renew->status_written < AUTOTLS_STATUS_INTERVAL
              : !counted || now - renew->status_written < AUTOTLS_STATUS_COUNTER_INTERVAL) {
        return;
    }
    texts = apr_palloc(p, sizeof(*texts) * (renew->ctx->sites->nelts + renew->orphans->nelts + 1));
    for (i = 0; i < renew->ctx->sites->nelts; ++i) {
        if (renew->jobs[i].status_text != NULL) {
            texts[n++] = renew->jobs[i].status_text;
        }
    }
    for (i = 0; i < renew->orphans->nelts; ++i) {
        texts[n++] = APR_ARRAY_IDX(renew->orphans, i, char *);
    }
    status_server(status, renew, now, p);
    renew->status_written = now;
    renew->status_dirty = 0;
    if ((text = at_status_join(status, texts, n, &len, p)) == NULL) {
        renew->status_dirty = 1; /* tried again at the next tick */
        if (!renew->status_save_failed) {
            ap_log_error(APLOG_MARK, APLOG_ERR, APR_ENOMEM, renew->ctx->main_server,
                         AUTOTLS_LOGNO(0701) "cannot build the status snapshot (%d site(s))", n);
        }
        renew->status_save_failed = 1;
        return;
    }
    rv = at_store_save(renew->ctx->store, AT_STORE_STATUS, NULL, AT_STATUS_ITEM, text, len,
                       AT_STORE_PUBLIC, p);
    free(text);
    if (rv != APR_SUCCESS) {
        renew->status_dirty = 1; /* tried again at the next tick; one line for the streak */
        if (!renew->status_save_failed) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, renew->ctx->main_server,
                         AUTOTLS_LOGNO(0702) "cannot write the status snapshot into %s/status "
                                             "(%" APR_SIZE_T_FMT " bytes); the status page shows "
                                             "the last one until a write succeeds (tried every "
                                             "second)",
                         renew->ctx->store_dir, len);
        }
        renew->status_save_failed = 1;
        return;
    }
    if (renew->status_save_failed) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, renew->ctx->main_server,
                     AUTOTLS_LOGNO(0853) "the status snapshot is written again into %s/status",
                     renew->ctx->store_dir);
    }
    renew->status_save_failed = 0;
}
