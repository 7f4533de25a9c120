/* SPDX-License-Identifier: Apache-2.0 */
/*
 * renew_fingerprint.h: what a site's orders (and the account) depend on in the configuration,
 * and acting on a change of it at a graceful restart.
 *
 * The one idea: a backoff is earned under one configuration. When the admin changes what the
 * orders depend on (the names, the CA, its trust file, the key type, the EAB key...) and restarts,
 * the problem may be fixed: the site tries again at once instead of waiting out its backoff.
 */
#ifndef AUTOTLS_RENEW_FINGERPRINT_H
#define AUTOTLS_RENEW_FINGERPRINT_H

#include <apr_pools.h>

#include "autotls.h"
#include "renew_job.h"

/* Records the fingerprint of what site's orders depend on (site NULL: the ACME account's) in
 * job, and lifts its backoff with one NOTICE when the job recorded a different one (renew.c, as
 * each job is loaded). */
void autotls_renew_fingerprint_apply(autotls_job_t *job, const autotls_ctx_t *ctx,
                                     const autotls_site_t *site, apr_pool_t *p);

#endif
