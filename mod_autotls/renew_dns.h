/* SPDX-License-Identifier: Apache-2.0 */
/*
 * renew_dns.h: dns-01 through AutoTLSDNSCommand, for the renewal process's orders.
 */
#ifndef AUTOTLS_RENEW_DNS_H
#define AUTOTLS_RENEW_DNS_H

#include <apr_pools.h>

#include "at_issue.h"
#include "autotls.h"

/* The dns-01 responder of an order (in p), or NULL when no AutoTLSDNSCommand is configured. */
const at_dns01_responder_t *autotls_renew_dns01(autotls_ctx_t *ctx, apr_pool_t *p);

#endif
