/*
 * renew.c: the renewal thread: a mod_watchdog singleton in one child, running as User.
 *
 * Every tick it looks at each site's slot (what is served) and job state (what was tried) and
 * hands due sites to a small bounded pool of order threads. An order ends with a certificate
 * set in staging/; from there the root activator validates and publishes it. This thread never
 * touches live/ and never holds a key it did not create. A failing site only delays itself.
 */
#include <string.h>

#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <apr_thread_pool.h>
#include <apr_optional.h>
#include <openssl/rand.h>

#include <httpd.h>
#include <http_log.h>
#include <mod_watchdog.h>

#include "at_core.h"
#include "at_issue.h"
#include "at_renew.h"
#include "activator.h"
#include "autotls.h"
#include "log_glue.h"
#include "renew.h"
#include "slots.h"

APLOG_USE_MODULE(autotls);

#define AUTOTLS_WATCHDOG_NAME "autotls"
#define AUTOTLS_RENEW_TICK apr_time_from_sec(1)
#define AUTOTLS_ORDERS_MAX 4
#define AUTOTLS_ORDER_TIMEOUT apr_time_from_sec(180)
#define AUTOTLS_JOB_SUFFIX ".json"
#define AUTOTLS_PERCENT 100.0

/* What the renewal thread knows of one site between ticks. */
typedef struct {
    autotls_site_t *site;
    int running;         /* an order thread works on it */
    int failures;        /* consecutive failed attempts */
    apr_time_t next_try; /* not before this time (backoff) */
} renew_job_t;

typedef struct {
    autotls_ctx_t *ctx;
    apr_pool_t *pool;         /* the thread's own, with its own allocator */
    apr_thread_mutex_t *lock; /* guards the jobs' running/failures/next_try */
    apr_thread_pool_t *orders;
    renew_job_t *jobs;
    int account_ready; /* the rest of these belong to the watchdog thread alone */
    int account_failures;
    apr_time_t account_next_try; /* a CA that cannot register us is not asked every tick */
} renew_t;

typedef struct {
    renew_t *renew;
    renew_job_t *job;
} renew_order_t;

static APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) * wd_get_instance;
static APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) * wd_register_callback;

static const char *renew_job_item(apr_pool_t *p, const autotls_site_t *site)
{
    return apr_pstrcat(p, site->name, AUTOTLS_JOB_SUFFIX, NULL);
}

/* Job state survives restarts, so a restart during a CA outage does not reset the backoff. */
static void renew_job_load(renew_t *renew, renew_job_t *job, apr_pool_t *p)
{
    json_t *json, *failures, *next_try;

    if (at_store_load_json(renew->ctx->store, AT_STORE_JOBS, NULL, renew_job_item(p, job->site),
                           &json, p) != APR_SUCCESS) {
        return;
    }
    failures = json_object_get(json, "failures");
    next_try = json_object_get(json, "next_try");
    if (json_is_integer(failures) && json_is_integer(next_try)) {
        job->failures = (int)json_integer_value(failures);
        job->next_try = apr_time_from_sec(json_integer_value(next_try));
    }
    json_decref(json);
}

static void renew_job_save(renew_t *renew, const renew_job_t *job, const char *error, apr_pool_t *p)
{
    json_t *json =
        json_pack("{s:i, s:I, s:s}", "failures", job->failures, "next_try",
                  (json_int_t)apr_time_sec(job->next_try), "last_error", error ? error : "");

    if (json != NULL) {
        at_store_save_json(renew->ctx->store, AT_STORE_JOBS, NULL, renew_job_item(p, job->site),
                           json, p);
        json_decref(json);
    }
}

static at_renew_window_t renew_window(const autotls_site_t *site)
{
    at_renew_window_t window = {0, 0};

    if (site->renew_window.kind == AUTOTLS_WINDOW_PERCENT) {
        window.share_left = site->renew_window.percent / AUTOTLS_PERCENT;
    } else if (site->renew_window.kind == AUTOTLS_WINDOW_DURATION) {
        window.time_left = site->renew_window.duration;
    }
    return window;
}

/* Whether the site needs an order now: no CA certificate served, or its renewal time came. */
static int renew_site_needs_order(renew_t *renew, const autotls_site_t *site, apr_time_t now,
                                  apr_pool_t *p)
{
    autotls_slot_info_t info;
    at_renew_window_t window = renew_window(site);
    apr_array_header_t *staged;

    if (autotls_slots_info(renew->ctx->slots, site->slot, &info) == APR_SUCCESS && info.ca_issued &&
        now < at_renew_time(info.not_before, info.not_after, &window)) {
        return 0;
    }
    /* A finished set waits for the activator: do not order another one meanwhile. */
    if (at_store_list(renew->ctx->store, AT_STORE_STAGING, site->name, &staged, p) == APR_SUCCESS &&
        staged->nelts > 0) {
        return 0;
    }
    return 1;
}

static apr_status_t renew_publish_challenge(void *baton, const char *name, const char *token,
                                            const char *keyauth, apr_pool_t *p)
{
    renew_t *renew = baton;

    return at_store_save(renew->ctx->store, AT_STORE_CHALLENGES, NULL, token, keyauth,
                         strlen(keyauth), AT_STORE_PUBLIC, p);
}

static void renew_withdraw_challenge(void *baton, const char *name, const char *token,
                                     apr_pool_t *p)
{
    renew_t *renew = baton;

    at_store_remove(renew->ctx->store, AT_STORE_CHALLENGES, NULL, token, p);
}

static apr_status_t renew_order_run(renew_t *renew, const autotls_site_t *site, apr_pool_t *p)
{
    autotls_ctx_t *ctx = renew->ctx;
    at_http_options_t http_options = {0};
    at_http01_responder_t responder = {renew_publish_challenge, renew_withdraw_challenge, renew};
    at_issue_request_t request = {0};
    at_issue_result_t *result;
    at_http_t *http;
    at_acme_t *acme;
    apr_status_t rv;

    http_options.ca_file = ctx->ca_file;
    request.site = site->name;
    request.names = site->names;
    request.key_type = site->key_type;
    request.timeout = AUTOTLS_ORDER_TIMEOUT;
    if ((rv = at_http_create(&http, p, &http_options)) != APR_SUCCESS ||
        (rv = at_acme_create(&acme, p, ctx->ca_url, http)) != APR_SUCCESS ||
        (rv = at_account_load(acme, ctx->store, p)) != APR_SUCCESS ||
        (rv = at_issue_certificate(&result, acme, p, &request, &responder)) != APR_SUCCESS) {
        return rv;
    }
    /* The ready marker goes last: the activator only takes complete sets. */
    if ((rv = at_certset_save(ctx->store, AT_STORE_STAGING, site->name, result, p)) ||
        (rv = at_store_save(ctx->store, AT_STORE_STAGING, site->name, AUTOTLS_STAGING_READY, "", 0,
                            AT_STORE_PUBLIC, p))) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, ctx->main_server,
                     AUTOTLS_LOGNO(0601) "%s: cannot stage the new certificate", site->name);
        return rv;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, ctx->main_server,
                 AUTOTLS_LOGNO(0602) "%s: new certificate staged for activation (%u CA requests)",
                 site->name, at_acme_request_count(acme));
    return APR_SUCCESS;
}

static void *APR_THREAD_FUNC renew_order_thread(apr_thread_t *thread, void *data)
{
    renew_order_t *order = data;
    renew_t *renew = order->renew;
    renew_job_t *job = order->job;
    apr_uint32_t random = 0;
    apr_pool_t *p;
    apr_status_t rv;

    apr_pool_create(&p, NULL);
    rv = renew_order_run(renew, job->site, p);
    apr_thread_mutex_lock(renew->lock);
    if (rv == APR_SUCCESS) {
        job->failures = 0;
        job->next_try = 0;
    } else {
        RAND_bytes((unsigned char *)&random, sizeof(random));
        ++job->failures;
        job->next_try = apr_time_now() + at_renew_backoff(job->failures, random);
    }
    renew_job_save(renew, job, rv == APR_SUCCESS ? NULL : at_strerror(p, rv), p);
    if (rv != APR_SUCCESS) {
        ap_log_error(
            APLOG_MARK, APLOG_WARNING, 0, renew->ctx->main_server,
            AUTOTLS_LOGNO(0603) "%s: order failed (%s), attempt %d; next try in %" APR_TIME_T_FMT
                                " s",
            job->site->name, at_strerror(p, rv), job->failures,
            apr_time_sec(job->next_try - apr_time_now()));
    }
    job->running = 0;
    apr_thread_mutex_unlock(renew->lock);
    apr_pool_destroy(p);
    return NULL;
}

/* The account is made once, before orders run in parallel, so that they never race for it. */
static apr_status_t renew_account_ready(renew_t *renew, apr_pool_t *p)
{
    autotls_ctx_t *ctx = renew->ctx;
    at_acme_account_options_t options = {0};
    at_http_options_t http_options = {0};
    at_http_t *http;
    at_acme_t *acme;
    apr_status_t rv;

    if (renew->account_ready) {
        return APR_SUCCESS;
    }
    if (apr_time_now() < renew->account_next_try) {
        return APR_EAGAIN;
    }
    http_options.ca_file = ctx->ca_file;
    options.agree_tos = 1;
    if (ctx->contact != NULL) {
        options.contacts = apr_array_make(p, 1, sizeof(const char *));
        APR_ARRAY_PUSH(options.contacts, const char *) = ctx->contact;
    }
    if ((rv = at_http_create(&http, p, &http_options)) == APR_SUCCESS &&
        (rv = at_acme_create(&acme, p, ctx->ca_url, http)) == APR_SUCCESS &&
        (rv = at_account_ensure(acme, ctx->store, p, &options)) == APR_SUCCESS) {
        renew->account_ready = 1;
    } else {
        apr_uint32_t random = 0;

        RAND_bytes((unsigned char *)&random, sizeof(random));
        ++renew->account_failures;
        renew->account_next_try =
            apr_time_now() + at_renew_backoff(renew->account_failures, random);
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ctx->main_server,
                     AUTOTLS_LOGNO(0604) "no ACME account at %s yet (%s), attempt %d; next try "
                                         "in %" APR_TIME_T_FMT " s",
                     ctx->ca_url, at_strerror(p, rv), renew->account_failures,
                     apr_time_sec(renew->account_next_try - apr_time_now()));
    }
    return rv;
}

/* Hands every due site to the order threads. Only the running/backoff fields are shared with
 * them (under the lock); the slot, the store and the account are looked at outside it. */
static void renew_tick(renew_t *renew, apr_pool_t *p)
{
    autotls_ctx_t *ctx = renew->ctx;
    apr_time_t now = apr_time_now();
    renew_order_t *order;
    int i, busy, due = 0;

    for (i = 0; i < ctx->sites->nelts; ++i) {
        renew_job_t *job = &renew->jobs[i];

        apr_thread_mutex_lock(renew->lock);
        busy = job->running || now < job->next_try;
        apr_thread_mutex_unlock(renew->lock);
        if (busy || !renew_site_needs_order(renew, job->site, now, p)) {
            continue;
        }
        if (renew_account_ready(renew, p) != APR_SUCCESS) {
            return; /* nothing can be ordered without an account; it backs off by itself */
        }
        order = apr_palloc(renew->pool, sizeof(*order));
        order->renew = renew;
        order->job = job;
        apr_thread_mutex_lock(renew->lock);
        job->running = apr_thread_pool_push(renew->orders, renew_order_thread, order,
                                            APR_THREAD_TASK_PRIORITY_NORMAL, renew) == APR_SUCCESS;
        due += job->running;
        apr_thread_mutex_unlock(renew->lock);
    }
    if (due > 0) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ctx->main_server,
                     AUTOTLS_LOGNO(0605) "%d site(s) handed to the order threads", due);
    }
}

static apr_status_t renew_begin(renew_t *renew)
{
    apr_allocator_t *allocator;
    apr_status_t rv;
    int i;

    if ((rv = apr_allocator_create(&allocator)) != APR_SUCCESS ||
        (rv = apr_pool_create_ex(&renew->pool, NULL, NULL, allocator)) != APR_SUCCESS) {
        return rv;
    }
    apr_allocator_owner_set(allocator, renew->pool);
    renew->jobs = apr_pcalloc(renew->pool, sizeof(renew_job_t) * renew->ctx->sites->nelts);
    for (i = 0; i < renew->ctx->sites->nelts; ++i) {
        renew->jobs[i].site = APR_ARRAY_IDX(renew->ctx->sites, i, autotls_site_t *);
        renew_job_load(renew, &renew->jobs[i], renew->pool);
    }
    if ((rv = apr_thread_mutex_create(&renew->lock, APR_THREAD_MUTEX_DEFAULT, renew->pool)) ||
        (rv = apr_thread_pool_create(&renew->orders, 0, AUTOTLS_ORDERS_MAX, renew->pool))) {
        return rv;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, renew->ctx->main_server,
                 AUTOTLS_LOGNO(0606) "renewal thread started for %d site(s) at %s",
                 renew->ctx->sites->nelts, renew->ctx->ca_url);
    return APR_SUCCESS;
}

static void renew_end(renew_t *renew)
{
    if (renew->pool != NULL) {
        /* Waits for running orders; each is bounded by AUTOTLS_ORDER_TIMEOUT. */
        apr_thread_pool_destroy(renew->orders);
        apr_pool_destroy(renew->pool);
        renew->pool = NULL;
    }
}

static apr_status_t renew_watchdog(int state, void *data, apr_pool_t *p)
{
    renew_t *renew = data;

    switch (state) {
    case AP_WATCHDOG_STATE_STARTING:
        return renew_begin(renew);
    case AP_WATCHDOG_STATE_RUNNING:
        if (renew->pool != NULL) {
            renew_tick(renew, p);
        }
        return APR_SUCCESS;
    case AP_WATCHDOG_STATE_STOPPING:
        renew_end(renew);
        return APR_SUCCESS;
    }
    return APR_SUCCESS;
}

apr_status_t autotls_renew_start(autotls_ctx_t *ctx, apr_pool_t *pconf)
{
    ap_watchdog_t *watchdog;
    renew_t *renew;
    apr_status_t rv;

    if (ctx->sites->nelts == 0) {
        return APR_SUCCESS;
    }
    wd_get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    wd_register_callback = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    if (wd_get_instance == NULL || wd_register_callback == NULL) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, ctx->main_server,
                     AUTOTLS_LOGNO(0607) "AutoTLS needs mod_watchdog, which this httpd lacks");
        return APR_ENOTIMPL;
    }
    renew = apr_pcalloc(pconf, sizeof(*renew));
    renew->ctx = ctx;
    if ((rv = wd_get_instance(&watchdog, AUTOTLS_WATCHDOG_NAME, 0, 1, pconf)) != APR_SUCCESS ||
        (rv = wd_register_callback(watchdog, AUTOTLS_RENEW_TICK, renew, renew_watchdog))) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, ctx->main_server,
                     AUTOTLS_LOGNO(0608) "cannot start the renewal thread");
        return rv;
    }
    return APR_SUCCESS;
}
