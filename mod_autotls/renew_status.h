/* SPDX-License-Identifier: Apache-2.0 */
/*
 * renew_status.h: the renewal process publishes the status snapshot (renew_status.c).
 */
#ifndef AUTOTLS_RENEW_STATUS_H
#define AUTOTLS_RENEW_STATUS_H

#include <apr_pools.h>

#include "at_status.h"
#include "renew_task.h"

/* The snapshot is written at most this often, and only when something in it changed. */
#define AUTOTLS_STATUS_INTERVAL apr_time_from_sec(1)
/* When only counters changed (CA requests, orders done): at most this often, since a write at
 * 10,000 sites is megabytes and a busy CA conversation changes a counter every second. */
#define AUTOTLS_STATUS_COUNTER_INTERVAL apr_time_from_sec(30)

/* The sites of job files no configured site owns (orphaned): read once, at the start. */
void autotls_renew_status_begin(autotls_renew_t *renew, apr_pool_t *p);
void autotls_renew_status_end(autotls_renew_t *renew);

/* Rebuilds the job's entry (scheduler thread, while it owns the job); ordering: an order for it
 * waits or runs. */
void autotls_renew_status_site(autotls_renew_t *renew, autotls_renew_job_t *job, int ordering,
                               apr_time_t now);

/* The issuer name as one shared copy (sites of one CA share a few issuers). */
const char *autotls_renew_status_issuer(autotls_renew_t *renew, const char *issuer);

/* A task's outcome (any thread; takes the lock): the order's result (-1: no order, an ARI poll
 * or the account), the requests it sent to the CA, the account URL when known (or NULL). */
void autotls_renew_status_count(autotls_renew_t *renew, int result, unsigned requests,
                                const char *account_url);

/* Writes status/snapshot.json when an entry changed since the last write, at most every
 * AUTOTLS_STATUS_INTERVAL, or when only counters did, at most every
 * AUTOTLS_STATUS_COUNTER_INTERVAL; a failed write is tried again at the next tick (scheduler
 * thread, end of a tick). */
void autotls_renew_status_publish(autotls_renew_t *renew, apr_time_t now, apr_pool_t *p);

#endif
