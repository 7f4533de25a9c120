/* SPDX-License-Identifier: Apache-2.0 */
/*
 * placeholder.h: the self-signed certificate mod_ssl loads for a twin without a real one
 * (placeholder.c).
 */
#ifndef AUTOTLS_PLACEHOLDER_H
#define AUTOTLS_PLACEHOLDER_H

#include <apr_pools.h>

#include "at_store.h"
#include "at_verdict.h"
#include "autotls.h"

/* Item names of the placeholder in live/<site>/. */
#define AUTOTLS_PLACEHOLDER_KEY "placeholder.key"
#define AUTOTLS_PLACEHOLDER_CERT "placeholder.pem"

/* Whether the stored placeholder covers the site's names and has long enough left; verdict (may
 * be NULL) gets what the verdict cache remembers of it (at_verdict.h). */
int autotls_placeholder_usable(autotls_site_t *site, at_store_t *store, at_verdict_t *verdict,
                               apr_pool_t *ptemp);

/* Whether a placeholder valid until not_after has long enough left at now to be kept. */
int autotls_placeholder_lasts(apr_time_t not_after, apr_time_t now);

/* Makes and stores a new placeholder for the site's names (key first); logs the outcome. */
apr_status_t autotls_placeholder_make(autotls_site_t *site, at_store_t *store, apr_pool_t *ptemp);

#endif
