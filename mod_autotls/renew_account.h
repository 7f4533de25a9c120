/* SPDX-License-Identifier: Apache-2.0 */
/*
 * renew_account.h: the renewal side's care of the ACME account: made before the first order,
 * kept current (contact, a deactivated account replaced), its key rolled on the operator's
 * request (`autotls account rollover|update`, items in jobs/: see at_issue.h for the protocol).
 *
 * The one idea: the key changes only on the renewal side's main thread, and only while no order
 * runs (orders wait meanwhile), so no order ever signs with a key the CA no longer accepts.
 */
#ifndef AUTOTLS_RENEW_ACCOUNT_H
#define AUTOTLS_RENEW_ACCOUNT_H

#include <apr_pools.h>

#include "at_acme.h"
#include "renew_task.h"

/* Once per tick, before any site is looked at: takes the operator's account requests, finishes
 * an interrupted rollover, replaces an account marked deactivated, applies a changed
 * AutoTLSContact. Waits (the request stays) while an order runs. This care is for the first
 * CA's account (the one `autotls account` addresses); the accounts at the other CAs of the list
 * are made when a site's order first goes there (autotls_renew_account_ensure). */
void autotls_renew_account_tick(autotls_renew_t *renew, apr_pool_t *p);

/* Whether orders must wait this tick: account work is pending. */
int autotls_renew_account_busy(const autotls_renew_t *renew);

/* Makes sure the account at ca exists (at_account_ensure), on that account's backoff (kept in
 * jobs/ like a site's): APR_EAGAIN while it waits. */
apr_status_t autotls_renew_account_ensure(autotls_renew_t *renew, autotls_renew_ca_t *ca,
                                          apr_pool_t *p);

/* The options the server registers with at ca: terms agreed, AutoTLSContact kept current, the
 * CA's own EAB. */
void autotls_renew_account_options(at_acme_account_options_t *options, const autotls_renew_t *renew,
                                   const autotls_renew_ca_t *ca, apr_pool_t *p);

#endif
