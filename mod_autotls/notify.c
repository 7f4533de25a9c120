/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notify.c: AutoTLSNotifyCommand: the admin's command, run for each certificate event.
 *
 * The one idea: a notification must never cost a renewal. The command runs only in the renewal
 * process (the ACME account, never root), from a small bounded queue emptied by a few runner
 * threads of its own; each run is a posix_spawn in a process group of its own, with a clean
 * environment (no variable of httpd's, no secret), stdin from /dev/null, its output captured up
 * to a bound and logged with the site, and a time limit after which the whole group is killed
 * (at_command_run, at_command.h).
 * A full queue drops events with one log line; a failing, hanging or missing command is logged
 * and nothing else changes.
 *
 *   argv: COMMAND EVENT SITE
 *   env:  AUTOTLS_EVENT AUTOTLS_SITE AUTOTLS_NAMES (space-separated) AUTOTLS_SERIAL (hex)
 *         AUTOTLS_NOT_AFTER (RFC 3339, UTC) AUTOTLS_ERROR, and PATH, LANG, HOME
 *
 * Events known first to a root process arrive as event files in jobs/ (at_event.h), taken by
 * the scheduler's tick (autotls_notify_take_files).
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>

#include <httpd.h>
#include <http_log.h>

#include "at_command.h"
#include "at_core.h"
#include "log_glue.h"
#include "notify.h"
#include "renew_job.h"

APLOG_USE_MODULE(autotls);

#define NOTIFY_ENV_COUNT 10 /* the nine variables and the NULL */

/* One queued event: plain C strings (malloc), so that any thread may post and free. */
typedef struct {
    char *kind, *site, *names, *serial, *not_after, *error;
} notify_entry_t;

struct autotls_notify_t {
    autotls_ctx_t *ctx;
    const char *command;
    apr_interval_time_t timeout;
    apr_thread_mutex_t *lock; /* guards the queue, stopping and overflow */
    apr_thread_cond_t *ready;
    notify_entry_t queue[AUTOTLS_NOTIFY_QUEUE_MAX];
    int head, count;
    int stopping;
    int overflow; /* events dropped in this spell of a full queue */
    apr_thread_t *runners[AUTOTLS_NOTIFY_RUNNERS];
    int runner_count;
};

static void notify_entry_free(notify_entry_t *e)
{
    free(e->kind);
    free(e->site);
    free(e->names);
    free(e->serial);
    free(e->not_after);
    free(e->error);
    memset(e, 0, sizeof(*e));
}

static char *notify_dup(const char *s)
{
    return strdup(s != NULL ? s : "");
}

static int notify_stopping(autotls_notify_t *n)
{
    int stopping;

    apr_thread_mutex_lock(n->lock);
    stopping = n->stopping;
    apr_thread_mutex_unlock(n->lock);
    return stopping;
}

void autotls_notify_post(autotls_notify_t *n, const at_event_t *event)
{
    apr_pool_t *p;
    notify_entry_t *e;
    int dropped = 0;

    if (n == NULL || event == NULL || apr_pool_create(&p, NULL) != APR_SUCCESS) {
        return;
    }
    apr_thread_mutex_lock(n->lock);
    if (n->stopping) {
        apr_thread_mutex_unlock(n->lock);
        apr_pool_destroy(p);
        return;
    }
    if (n->count >= AUTOTLS_NOTIFY_QUEUE_MAX) {
        dropped = ++n->overflow == 1;
    } else {
        e = &n->queue[(n->head + n->count) % AUTOTLS_NOTIFY_QUEUE_MAX];
        e->kind = notify_dup(at_event_kind_name(event->kind));
        e->site = notify_dup(event->site);
        e->names = notify_dup(event->names != NULL ? apr_array_pstrcat(p, event->names, ' ') : "");
        e->serial = notify_dup(event->serial);
        e->not_after =
            notify_dup(event->not_after > 0 ? autotls_job_time_text(p, event->not_after) : "");
        e->error = notify_dup(event->error);
        ++n->count;
        n->overflow = 0;
        apr_thread_cond_signal(n->ready);
    }
    apr_thread_mutex_unlock(n->lock);
    if (dropped) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, n->ctx->main_server,
                     AUTOTLS_LOGNO(0800) "%s: notification queue full (%d events waiting for "
                                         "%s); dropping events until it drains",
                     event->site, AUTOTLS_NOTIFY_QUEUE_MAX, n->command);
    }
    apr_pool_destroy(p);
}

static char **notify_env(apr_pool_t *p, const notify_entry_t *e)
{
    char **env = apr_pcalloc(p, sizeof(char *) * NOTIFY_ENV_COUNT);
    int i = 0;

    env[i++] = AT_COMMAND_ENV_PATH;
    env[i++] = AT_COMMAND_ENV_LANG;
    env[i++] = AT_COMMAND_ENV_HOME;
    env[i++] = apr_pstrcat(p, "AUTOTLS_EVENT=", e->kind, NULL);
    env[i++] = apr_pstrcat(p, "AUTOTLS_SITE=", e->site, NULL);
    env[i++] = apr_pstrcat(p, "AUTOTLS_NAMES=", e->names, NULL);
    env[i++] = apr_pstrcat(p, "AUTOTLS_SERIAL=", e->serial, NULL);
    env[i++] = apr_pstrcat(p, "AUTOTLS_NOT_AFTER=", e->not_after, NULL);
    env[i++] = apr_pstrcat(p, "AUTOTLS_ERROR=", e->error, NULL);
    env[i] = NULL;
    return env;
}

static int notify_stopping_cb(void *baton)
{
    return notify_stopping(baton);
}

static void notify_run(autotls_notify_t *n, const notify_entry_t *e, apr_pool_t *p)
{
    server_rec *s = n->ctx->main_server;
    const char *argv[] = {n->command, e->kind, e->site, NULL};
    at_command_t cmd = {n->command,         argv, (const char *const *)notify_env(p, e), n->timeout,
                        notify_stopping_cb, n};
    at_command_result_t res;
    apr_status_t rv = at_command_run(&res, &cmd, p);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     AUTOTLS_LOGNO(0801) "%s: cannot run the notification command %s for %s",
                     e->site, n->command, e->kind);
        return;
    }
    if (*res.output != '\0') {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     AUTOTLS_LOGNO(0802) "%s: notification command %s %s said: %s", e->site,
                     n->command, e->kind, res.output);
    }
    if (res.killed) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     AUTOTLS_LOGNO(0803) "%s: notification command %s %s killed (with its "
                                         "process group) after %d s: %s",
                     e->site, n->command, e->kind, (int)apr_time_sec(n->timeout),
                     notify_stopping(n) ? "the server stops" : "its time limit");
    } else if (at_command_succeeded(&res)) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     AUTOTLS_LOGNO(0804) "%s: notification command %s %s exited with status 0",
                     e->site, n->command, e->kind);
    } else {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     AUTOTLS_LOGNO(0805) "%s: notification command %s %s failed: %s", e->site,
                     n->command, e->kind, at_command_ending(p, &res));
    }
}

/* Takes the next event; 0 when stopping. */
static int notify_next(autotls_notify_t *n, notify_entry_t *e)
{
    int got = 0;

    apr_thread_mutex_lock(n->lock);
    while (n->count == 0 && !n->stopping) {
        apr_thread_cond_wait(n->ready, n->lock);
    }
    if (!n->stopping) {
        *e = n->queue[n->head];
        memset(&n->queue[n->head], 0, sizeof(*e));
        n->head = (n->head + 1) % AUTOTLS_NOTIFY_QUEUE_MAX;
        --n->count;
        got = 1;
    }
    apr_thread_mutex_unlock(n->lock);
    return got;
}

static void *APR_THREAD_FUNC notify_runner(apr_thread_t *thread, void *baton)
{
    autotls_notify_t *n = baton;
    notify_entry_t e;
    apr_pool_t *p;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS) {
        return NULL;
    }
    while (notify_next(n, &e)) {
        notify_run(n, &e, p);
        notify_entry_free(&e);
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    return NULL;
}

apr_status_t autotls_notify_start(autotls_notify_t **notify, autotls_ctx_t *ctx, apr_pool_t *p)
{
    autotls_notify_t *n;
    apr_status_t rv;
    int i;

    *notify = NULL;
    if (ctx->notify_command == NULL) {
        return APR_SUCCESS;
    }
    n = apr_pcalloc(p, sizeof(*n));
    n->ctx = ctx;
    n->command = ctx->notify_command;
    n->timeout = ctx->notify_timeout;
    if ((rv = apr_thread_mutex_create(&n->lock, APR_THREAD_MUTEX_DEFAULT, p)) != APR_SUCCESS ||
        (rv = apr_thread_cond_create(&n->ready, p)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < AUTOTLS_NOTIFY_RUNNERS; ++i) {
        if ((rv = apr_thread_create(&n->runners[i], NULL, notify_runner, n, p)) != APR_SUCCESS) {
            break;
        }
        n->runner_count++;
    }
    if (n->runner_count == 0) {
        return rv;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, ctx->main_server,
                 AUTOTLS_LOGNO(0806) "notification command %s: %d runner(s), time limit %d s, "
                                     "as uid %ld",
                 n->command, n->runner_count, (int)apr_time_sec(n->timeout), (long)getuid());
    *notify = n;
    return APR_SUCCESS;
}

void autotls_notify_take_files(autotls_notify_t *n, autotls_ctx_t *ctx,
                               const apr_array_header_t *listed, apr_pool_t *p)
{
    apr_array_header_t *events;
    int i;

    if (at_event_take_listed(&events, ctx->shared, listed, p) != APR_SUCCESS) {
        return;
    }
    for (i = 0; i < events->nelts; ++i) {
        const at_event_t *event = APR_ARRAY_IDX(events, i, const at_event_t *);

        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ctx->main_server,
                     AUTOTLS_LOGNO(0807) "%s: event %s handed over by a root process", event->site,
                     at_event_kind_name(event->kind));
        autotls_notify_post(n, event);
    }
}

void autotls_notify_stop(autotls_notify_t *n)
{
    apr_status_t rv;
    int i, dropped;

    if (n == NULL) {
        return;
    }
    apr_thread_mutex_lock(n->lock);
    n->stopping = 1;
    dropped = n->count;
    apr_thread_cond_broadcast(n->ready);
    apr_thread_mutex_unlock(n->lock);
    for (i = 0; i < n->runner_count; ++i) {
        apr_thread_join(&rv, n->runners[i]);
    }
    for (i = 0; i < n->count; ++i) {
        notify_entry_free(&n->queue[(n->head + i) % AUTOTLS_NOTIFY_QUEUE_MAX]);
    }
    n->count = 0;
    if (dropped > 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, n->ctx->main_server,
                     AUTOTLS_LOGNO(0808) "%d notification(s) not run: the server stops", dropped);
    }
}
