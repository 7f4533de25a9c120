/* SPDX-License-Identifier: Apache-2.0 */
/*
 * recovery.h: settling at startup what killed processes left in the store (recovery.c).
 */
#ifndef AUTOTLS_RECOVERY_H
#define AUTOTLS_RECOVERY_H

#include <apr_pools.h>

#include "autotls.h"

/* Real pass only, before the activator and the renewal process start: removes unfinished staged
 * sets, stale challenges and temp files (all of them at a cold start, only those past their bound
 * after a restart), and purges expired archived sets; one log line with the counts. */
void autotls_recovery_sweep(autotls_ctx_t *ctx, apr_pool_t *ptemp);

/* Finishes or undoes a promotion into live/<site>/ a kill interrupted; logs what it did. */
void autotls_recovery_settle_live(autotls_site_t *site, autotls_ctx_t *ctx, apr_pool_t *ptemp);

#endif
