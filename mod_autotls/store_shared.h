/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_shared.h: the two stores of a node (issue 13): its local directory and the shared store.
 *
 * Every node keeps live/, archive/, challenges/ and status/ in its local directory (ctx->store,
 * read by mod_ssl, the children and the activator by path or through the fs backend). Accounts,
 * job state, staged sets and leases live in the shared store (ctx->shared): the same fs store
 * without AutoTLSStore redis://, else Redis, which only the renewal process and the activator open
 * (they read the key and password files as root, before the renewal process drops its rights).
 * The parent and the children never hold a Redis connection or its secrets.
 */
#ifndef AUTOTLS_STORE_SHARED_H
#define AUTOTLS_STORE_SHARED_H

#include <apr_pools.h>

#include "at_crypto.h"
#include "autotls.h"

/* A lease around each order lives this long unless renewed (the scheduler renews it every
 * AUTOTLS_LEASE_RENEW_SHARE of it); AUTOTLS_LEASE_TTL_ENV (seconds) shortens it for tests. */
#define AUTOTLS_LEASE_TTL_DEFAULT apr_time_from_sec(120)
#define AUTOTLS_LEASE_TTL_ENV "AUTOTLS_TEST_LEASE_TTL"
#define AUTOTLS_LEASE_RENEW_SHARE 3
/* A site whose lease another node holds, or whose newer set waits for our activator, is looked
 * at again after this. */
#define AUTOTLS_FLEET_RETRY apr_time_from_sec(5)
/* A staged set of another node is taken instead of ordering only while it is this young: one
 * that every activator refuses does not block orders for longer. */
#define AUTOTLS_FLEET_STAGED_FRESH apr_time_from_sec(600)

/* Whether this generation's store is shared through Redis. */
int autotls_store_fleet(const autotls_ctx_t *ctx);

/* In the renewal process and the activator, as root: opens ctx->shared on Redis (no connection
 * yet: Redis may be away). Nothing to do without Redis (ctx->shared is ctx->store). */
apr_status_t autotls_store_shared_open(autotls_ctx_t *ctx, apr_pool_t *p);

/* A store of the shared groups for another thread: a Redis connection of its own (from p), or
 * ctx->shared itself on the fs backend. */
apr_status_t autotls_store_shared_clone(at_store_t **store, const autotls_ctx_t *ctx,
                                        apr_pool_t *p);

/* Whether the shared store answers now (always, on the fs backend). Redis logs each change of
 * reachability once itself. */
int autotls_store_shared_up(const autotls_ctx_t *ctx);

/* The TTL of an order's lease (AUTOTLS_LEASE_TTL_DEFAULT, or the test knob). */
apr_interval_time_t autotls_store_lease_ttl(void);

/* The leaf of staging/<site> in store (its chain only, not its key), or NULL (none, unreadable:
 * the store logged why). *mtime: when the set was written. */
at_cert_info_t *autotls_staged_leaf(at_store_t *store, const char *site, apr_time_t *mtime,
                                    apr_pool_t *p);

/* Whether a staged leaf is another certificate than the one served (serial) and not older. */
int autotls_staged_newer(const at_cert_info_t *staged, int served_ca_issued,
                         const char *served_serial, apr_time_t served_not_before);

/* check_config: AutoTLSStoreKeyFile present with a redis:// store, key and password files owned
 * by root or the ACME account; with -t or -S, one line saying where each group lives. */
void autotls_store_shared_register_hooks(apr_pool_t *p);

#endif
