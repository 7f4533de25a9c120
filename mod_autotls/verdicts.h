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
 * checked in full, as without it). */
at_verdict_cache_t *autotls_verdicts_begin(void);

/* Ends the pass: drops what belongs to sites no longer configured, and says at INFO how many sets
 * were checked and how many verdicts stood (autotls-0100). */
void autotls_verdicts_end(const autotls_ctx_t *ctx, const autotls_verdicts_count_t *count);

#endif
