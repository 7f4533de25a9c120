/* SPDX-License-Identifier: Apache-2.0 */
/*
 * preflight.h: the startup checks that name what the admin must fix before it fails later.
 *
 * The one idea: a problem found at startup is said once, in words naming the directive, the
 * file and the account, instead of surfacing later as a "transport failure" at each order.
 */
#ifndef AUTOTLS_PREFLIGHT_H
#define AUTOTLS_PREFLIGHT_H

#include <apr_pools.h>

#include "autotls.h"

/* In the real configuration pass, when there are sites: one WARNING without a contact address;
 * one ERROR per file the ACME account must read and cannot (AutoTLSCACertificateFile,
 * AutoTLSEAB's key file), found by a child forked as that account. Logs only: startup goes on
 * (a site keeps its certificate; the renewal process fails, and says so, where it did). */
void autotls_preflight(const autotls_ctx_t *ctx, apr_pool_t *ptemp);

#endif
