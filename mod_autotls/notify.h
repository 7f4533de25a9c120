/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notify.h: AutoTLSNotifyCommand, run by the renewal process for each certificate event.
 */
#ifndef AUTOTLS_NOTIFY_H
#define AUTOTLS_NOTIFY_H

#include <apr_pools.h>

#include "at_event.h"
#include "autotls.h"

/* Events waiting for a runner at most; more are dropped (one log line per overflow spell). */
#define AUTOTLS_NOTIFY_QUEUE_MAX 64
/* Commands running at once. */
#define AUTOTLS_NOTIFY_RUNNERS 2
/* AutoTLSNotifyCommand's timeout= default, and its bounds. */
#define AUTOTLS_NOTIFY_TIMEOUT_DEFAULT apr_time_from_sec(30)
#define AUTOTLS_NOTIFY_TIMEOUT_MAX apr_time_from_sec(3600)

typedef struct autotls_notify_t autotls_notify_t;

/* Starts the runner threads when ctx has a command (*notify NULL otherwise: posting to it is a
 * no-op). Renewal process only, after it became the ACME account. */
apr_status_t autotls_notify_start(autotls_notify_t **notify, autotls_ctx_t *ctx, apr_pool_t *p);

/* Queues the command for event (copied); never blocks on the command. Any thread. */
void autotls_notify_post(autotls_notify_t *notify, const at_event_t *event);

/* Takes the event files root processes left in jobs/ and queues each (they are removed even
 * when no command is configured). listed: the caller's listing of jobs/ (NULL: list it here).
 * Scheduler thread. */
void autotls_notify_take_files(autotls_notify_t *notify, autotls_ctx_t *ctx,
                               const apr_array_header_t *listed, apr_pool_t *p);

/* Stops taking events; a command running is given until its time limit, then its process group
 * is killed. */
void autotls_notify_stop(autotls_notify_t *notify);

#endif
