/* SPDX-License-Identifier: Apache-2.0 */
/*
 * renew_proc.c: the renewal process: the ACME client, in a process of its own, as the ACME account.
 *
 * The root parent forks it in post_config (helper_proc.c), before mod_ssl has loaded any key of
 * this generation; it becomes AutoTLSUser at once (acme_user.c), never User, whose uid every
 * tenant's PHP and CGI code shares. It then takes the store's scheduler lock (a predecessor of
 * the last generation may still be finishing its orders: never two schedulers at once) and runs
 * the scheduler (renew.c). On SIGTERM (a restart or stop) it takes no new work, finishes the
 * orders in flight within AUTOTLS_RENEW_DRAIN_SECONDS and leaves; the parent does not wait.
 */
#include <signal.h>
#include <unistd.h>

#include <apr_thread_cond.h>

#include <httpd.h>
#include <http_log.h>

#include "acme_user.h"
#include "autotls.h"
#include "helper_proc.h"
#include "log_glue.h"
#include "renew.h"
#include "renew_fleet.h"
#include "renew_task.h"
#include "slots.h"
#include "store_shared.h"

APLOG_USE_MODULE(autotls);

/* The process name (comm, at most 15 characters), for ps and the tests. */
#define AUTOTLS_RENEW_TITLE "autotls-renew"
/* At a restart or stop, orders in flight get this long to finish (seconds, for alarm()); one
 * cut short is ordered again by the successor, as after a crash. */
#define AUTOTLS_RENEW_DRAIN_SECONDS 30
/* How often a new process looks whether its predecessor let go of the scheduler lock. */
#define AUTOTLS_RENEW_LOCK_STEP apr_time_from_msec(100)
#define AUTOTLS_RENEW_EXIT_FAILURE 1
/* Memory a cleared pool keeps for reuse; the rest goes back to the C library. */
#define AUTOTLS_RENEW_MAX_FREE (1024 * 1024)

static volatile sig_atomic_t renew_stop_requested;

/* Orders and ARI polls a task thread owns right now. */
static int renew_in_flight(autotls_renew_t *renew)
{
    int n;

    apr_thread_mutex_lock(renew->lock);
    n = renew->in_flight;
    apr_thread_mutex_unlock(renew->lock);
    return n;
}

/* The scheduler lock of the store: a predecessor of the last generation may still be finishing
 * its orders. Only the ACME account (and root) can open jobs/ to take it. */
static apr_status_t renew_lock_store(autotls_ctx_t *ctx, apr_pool_t *pool)
{
    int waiting = 0;
    apr_status_t rv;

    while ((rv = at_store_lock(ctx->store, AT_STORE_JOBS, pool)) == APR_EAGAIN) {
        if (renew_stop_requested) {
            return APR_EINTR;
        }
        if (!waiting) {
            waiting = 1;
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, ctx->main_server,
                         AUTOTLS_LOGNO(0620) "renewal process (pid %ld) waits for the previous "
                                             "one to finish its orders",
                         (long)getpid());
        }
        apr_sleep(AUTOTLS_RENEW_LOCK_STEP);
    }
    return rv;
}

static void renew_on_stop(int sig)
{
    renew_stop_requested = 1;
}

int autotls_renew_stopping(void)
{
    return renew_stop_requested != 0;
}

/* This generation's renewal state (the forked process inherits it). */
static autotls_renew_t *renew_current;

/* Until the next tick, or until a task is done: its thread is free for the next order at once,
 * so the orders in flight stay at AutoTLSOrdersInFlight instead of one batch per tick. */
static void renew_sleep(autotls_renew_t *renew)
{
    apr_thread_mutex_lock(renew->lock);
    if (renew->done == NULL && !renew_stop_requested) {
        apr_thread_cond_timedwait(renew->wake, renew->lock, AUTOTLS_RENEW_TICK);
    }
    apr_thread_mutex_unlock(renew->lock);
}

/* The renewal process (helper_proc.c forked it as root): see the header comment. */
static void renew_process_run(autotls_ctx_t *ctx, pid_t parent_pid, apr_pool_t *pconf)
{
    autotls_renew_t *renew = renew_current;
    apr_allocator_t *allocator;
    apr_pool_t *pool, *tick;
    apr_status_t rv;
    int first = 1;

    autotls_helper_enter(parent_pid, AUTOTLS_RENEW_TITLE, renew_on_stop);
    /* The shared store first, as root: its key and password files may be root's alone. */
    if (autotls_slots_child_init(ctx->slots) != APR_SUCCESS ||
        autotls_store_shared_open(ctx, pconf) != APR_SUCCESS ||
        autotls_acme_user_become(ctx) != APR_SUCCESS) {
        _exit(AUTOTLS_RENEW_EXIT_FAILURE);
    }
    /* Its own allocator, giving what a tick freed back to the C library: the first tick looks
     * at every site, and what it used must not stay in this process's RSS. */
    if ((rv = apr_allocator_create(&allocator)) == APR_SUCCESS) {
        apr_allocator_max_free_set(allocator, AUTOTLS_RENEW_MAX_FREE);
        rv = apr_pool_create_ex(&pool, pconf, NULL, allocator);
    }
    if (rv == APR_SUCCESS) {
        apr_allocator_owner_set(allocator, pool);
    }
    if (rv != APR_SUCCESS || (rv = apr_pool_create(&tick, pool)) != APR_SUCCESS ||
        (rv = renew_lock_store(ctx, pool)) != APR_SUCCESS || (rv = autotls_renew_begin(renew)) ||
        (rv = autotls_renew_fleet_start(&renew->fleet, ctx, pool)) != APR_SUCCESS) {
        if (renew_stop_requested) {
            _exit(0);
        }
        autotls_log_error(APLOG_MARK, APLOG_CRIT, rv, ctx->main_server,
                          AUTOTLS_LOGNO(0621) "renewal process (pid %ld) cannot start (store %s)",
                          (long)getpid(), ctx->store_dir);
        _exit(AUTOTLS_RENEW_EXIT_FAILURE);
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, ctx->main_server,
                 AUTOTLS_LOGNO(0606) "renewal process started, pid %ld, as %s (uid %ld), for %d "
                                     "site(s) at %s",
                 (long)getpid(), ctx->acme_user, (long)getuid(), ctx->sites->nelts, ctx->ca_url);
    while (!renew_stop_requested) {
        autotls_renew_tick(renew, tick);
        apr_pool_clear(tick);
        if (first) {
            first = 0;
            autotls_memory_release();
        }
        renew_sleep(renew);
    }
    /* The default action of SIGALRM ends the process should an order outlast the drain. */
    alarm(AUTOTLS_RENEW_DRAIN_SECONDS);
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, ctx->main_server,
                 AUTOTLS_LOGNO(0622) "renewal process (pid %ld) stopping: finishing %d task(s) "
                                     "in flight (at most %d s)",
                 (long)getpid(), renew_in_flight(renew), AUTOTLS_RENEW_DRAIN_SECONDS);
    autotls_renew_end(renew);
    autotls_renew_fleet_stop(renew->fleet); /* after the orders: theirs may wait for our acks */
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, ctx->main_server,
                 AUTOTLS_LOGNO(0623) "renewal process stopped, pid %ld", (long)getpid());
    _exit(0);
}

static const autotls_helper_desc_t renew_desc = {
    "renewal process", AUTOTLS_RENEW_TITLE, renew_process_run, NULL, 1, 0,
};

apr_status_t autotls_renew_start(autotls_ctx_t *ctx, apr_pool_t *pconf)
{
    autotls_renew_t *renew;

    renew_current = NULL; /* the last generation's is gone with its pconf */
    if (ctx->sites->nelts == 0) {
        return APR_SUCCESS;
    }
    renew = apr_pcalloc(pconf, sizeof(*renew));
    renew->ctx = ctx;
    renew_current = renew;
    return autotls_helper_start(&renew_desc, ctx, pconf);
}
