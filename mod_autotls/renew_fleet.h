/* SPDX-License-Identifier: Apache-2.0 */
/*
 * renew_fleet.h: the renewal process's part in a fleet (issue 13 item 4): any node answers any
 * http-01 challenge.
 *
 * The one idea: a thread of the renewal process (a Redis connection of its own) copies the
 * fleet's answers into this node's local challenges/ every AUTOTLS_FLEET_MIRROR_STEP and beats
 * the node's heartbeat after it (at_fleet.h), so the children answer what any node ordered,
 * reading local files as on a single server; an order of this node publishes its answer into
 * both stores and, before the CA is told to validate, waits (bounded) until every live node has
 * it. Nothing here runs without a Redis store. Who writes what: the thread and the tasks write
 * challenges/ as the ACME account (the renewal process's identity); the heartbeat and ack keys
 * live in Redis under the store's prefix.
 */
#ifndef AUTOTLS_RENEW_FLEET_H
#define AUTOTLS_RENEW_FLEET_H

#include <apr_pools.h>

#include <httpd.h>

#include "at_fleet.h"
#include "at_status.h"
#include "autotls.h"
#include "renew_task.h"

/* How often the thread looks at the fleet's challenges/ (one Redis read when nothing changed). */
#define AUTOTLS_FLEET_MIRROR_STEP apr_time_from_msec(100)
/* How often it beats the heartbeat (well inside AT_FLEET_HEARTBEAT_TTL). */
#define AUTOTLS_FLEET_BEAT_STEP apr_time_from_sec(1)
/* Passes of the mirror one step makes at most while its bound cuts them short. */
#define AUTOTLS_FLEET_MIRROR_PASSES 16
/* How often it sweeps answers left in the fleet's store by a node that died mid-order. */
#define AUTOTLS_FLEET_SWEEP_STEP apr_time_from_sec(60)
/* How often it lists the live nodes for the status. */
#define AUTOTLS_FLEET_NODES_STEP apr_time_from_sec(5)
/* The bucket's lease: held for one read-change-write; tried this often, this far apart. */
#define AUTOTLS_FLEET_BUCKET_TTL apr_time_from_sec(10)
#define AUTOTLS_FLEET_BUCKET_TRIES 20
#define AUTOTLS_FLEET_BUCKET_STEP apr_time_from_msec(5)

typedef struct autotls_renew_fleet_t autotls_renew_fleet_t;

/* The node's id: AutoTLSNodeName, else the host name (at_fleet_node_default). */
apr_status_t autotls_fleet_node_id(const char **node, const server_rec *s, apr_pool_t *p);

/* In the renewal process, once it holds the scheduler lock (no order of its own is in flight):
 * with a Redis store, mirrors once and starts the thread (one NOTICE naming the node); *fleet
 * NULL without Redis. The thread and its connection live in p. */
apr_status_t autotls_renew_fleet_start(autotls_renew_fleet_t **fleet, autotls_ctx_t *ctx,
                                       apr_pool_t *p);

/* This node's id (the fleet's: NULL without one). */
const char *autotls_renew_fleet_node(const autotls_renew_fleet_t *fleet);

/* The status snapshot's fleet part (at_status.h) as this node sees it: its id, the live nodes as
 * the thread last listed them (every AUTOTLS_FLEET_NODES_STEP), and the leases jobs know (the
 * caller holds renew->lock for the jobs). *changed: the live nodes differ from the last call. */
void autotls_renew_fleet_status(at_status_t *status, int *changed, autotls_renew_fleet_t *fleet,
                                const autotls_renew_job_t *jobs, int count, apr_pool_t *p);

/* Whether the live nodes changed since autotls_renew_fleet_status last read them (0 without a
 * fleet). */
int autotls_renew_fleet_nodes_changed(autotls_renew_fleet_t *fleet);

/* Each CA's order bucket (AutoTLSCARate, renew_ca.c) is the fleet's: one bucket per CA in Redis
 * (jobs/<the CA's rate item>) that every node spends from. A spend, a drain or a refund reads it,
 * changes it and writes it back under a short lease of its own (the item's name,
 * AUTOTLS_FLEET_BUCKET_TTL), so that two nodes never both spend the last token; a read refreshes
 * this node's copy (ca->bucket, under renew->lock), which the scheduler looks at to decide
 * whether an order may go. */
typedef enum {
    AUTOTLS_FLEET_BUCKET_READ,   /* refresh the local copy */
    AUTOTLS_FLEET_BUCKET_TAKE,   /* spend a token for a new order: *paid says whether it could */
    AUTOTLS_FLEET_BUCKET_DRAIN,  /* an account-wide 429: empty until retry_after */
    AUTOTLS_FLEET_BUCKET_REFUND, /* a token spent for an order another node placed */
} autotls_fleet_bucket_e;

/* Without a fleet: APR_ENOTIMPL (the caller keeps its own bucket). With one: the operation on
 * the fleet's bucket of ca, through store (the calling thread's connection). A failure (Redis
 * away, the bucket's lease held too long by another node) spends nothing: *paid stays 0. */
apr_status_t autotls_renew_fleet_bucket(int *paid, autotls_renew_t *renew, autotls_renew_ca_t *ca,
                                        at_store_t *store, autotls_fleet_bucket_e op,
                                        apr_time_t now, apr_interval_time_t retry_after,
                                        apr_pool_t *p);

/* Every CA's bucket read from the fleet (nothing without one). */
void autotls_renew_fleet_buckets_read(autotls_renew_t *renew, at_store_t *store, apr_time_t now,
                                      apr_pool_t *p);

/* After the orders in flight are done: ends the thread and drops the heartbeat, so no order of
 * another node waits for this one. */
void autotls_renew_fleet_stop(autotls_renew_fleet_t *fleet);

/* From a task (its own shared store: a connection of the task's thread), once token's answer is
 * in both stores: acks it for this node and waits until every live node did (at most
 * AT_FLEET_ACK_WAIT; the library logs who did not). Always returns: the order goes on. */
void autotls_renew_fleet_await(const autotls_renew_fleet_t *fleet, at_store_t *task_store,
                               const char *site, const char *token, apr_pool_t *p);

#endif
