/* SPDX-License-Identifier: Apache-2.0 */
/*
 * verdicts.h: the parent's memory of which live sets passed their check (at_verdict.h), kept in
 * httpd's retained data across both configuration passes and every graceful restart.
 */
#ifndef AUTOTLS_VERDICTS_H
#define AUTOTLS_VERDICTS_H

#include <apr_pools.h>

#include "at_verdict.h"
#include "autotls.h"

/* What one configuration pass did with the sets of its sites (counted by certs.c). */
typedef struct {
    int checked; /* live sets parsed and checked in full */
    int reused;  /* live sets whose remembered verdict stood (files, names, roots unchanged) */
    int placeholders_checked; /* stored placeholders parsed and checked in full */
    int placeholders_reused;  /* ... whose remembered verdict stood */
} autotls_verdicts_count_t;

/* Starts a configuration pass; the cache, or NULL when it cannot be had (then every set is
 * checked in full, as without it). A new parent's cache starts with what the previous parent
 * wrote to the store's verdicts.json (autotls-0122; a file not believed: autotls-0123). */
at_verdict_cache_t *autotls_verdicts_begin(const autotls_ctx_t *ctx, apr_pool_t *ptemp);

/* Ends the pass: drops what belongs to sites no longer configured, says at INFO how many sets
 * were checked and how many verdicts stood (autotls-0100), and at the end of a real pass writes
 * the cache to verdicts.json when it changed (autotls-0124 when it cannot). */
void autotls_verdicts_end(const autotls_ctx_t *ctx, const autotls_verdicts_count_t *count,
                          apr_pool_t *ptemp);

#endif
