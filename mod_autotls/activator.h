/* SPDX-License-Identifier: Apache-2.0 */
/*
 * activator.h: the root helper process that puts staged certificates live without a restart.
 *
 * The renewal process (running as the ACME account, AutoTLSUser) builds a finished set, with an
 * empty `ready` item, in a temp directory inside staging/ and renames it to staging/<site>
 * (at_store_save_set): the rename is the commit. The activator, forked by the parent and still
 * root, learns of it from an inotify watch on staging/, trusts it only when root or the ACME
 * account owns it (User only when it stands in for a missing account), validates the set, keeps the
 * previous live set in archive/, promotes the new one into live/ (root-owned) and publishes it into
 * the site's shared slot; children pick it up at their next handshake. A refused set is removed
 * flat (its own item names only, never descending, never following a link) with one log line, and
 * the old certificate stays. A partial set (some of the site's names failed validation) is accepted
 * when it names nothing but the site's names; the names left out are logged. Promotion goes through
 * the journal of at_live.h, so a kill at any moment leaves live/ with the old pair or the new one.
 */
#ifndef AUTOTLS_ACTIVATOR_H
#define AUTOTLS_ACTIVATOR_H

#include <sys/types.h>

#include <apr_pools.h>
#include <apr_time.h>

#include "autotls.h"

/* The item that marks a staged set complete: it is in the set before the set is renamed into
 * staging/, and a set without it (the remains of older writers) is never taken. */
#define AUTOTLS_STAGING_READY "ready"
/* The activator's process name (comm, at most 15 characters), for ps and the tests. */
#define AUTOTLS_ACTIVATOR_TITLE "autotls-activ"

/* The longest one order may run (the renewal thread bounds each order by it). A staged set
 * without `ready` older than this has no order behind it any more. */
#define AUTOTLS_ORDER_TIMEOUT apr_time_from_sec(180)
/* While the server runs, leftovers of killed processes older than these are swept (at_sweep.h):
 * a challenge response outlives its order by at most the order timeout, a temp file lives for
 * one write. At a cold start (no renewal thread can be writing) they go whatever their age. */
#define AUTOTLS_STAGING_MAX_AGE AUTOTLS_ORDER_TIMEOUT
#define AUTOTLS_CHALLENGE_MAX_AGE (2 * AUTOTLS_ORDER_TIMEOUT)
#define AUTOTLS_TEMP_MAX_AGE AUTOTLS_ORDER_TIMEOUT
/* How often the activator sweeps while the server runs. */
#define AUTOTLS_SWEEP_INTERVAL apr_time_from_sec(60)

/*
 * Forks the activator for this configuration generation (the real post_config pass only, after
 * the slots were created and the live sets published, and before mod_ssl's post_config, so that
 * it does not map the SSL contexts of every vhost). It waits for autotls_activator_go, called
 * after mod_ssl's post_config: the activator may replace live/ files at once, and mod_ssl must
 * have read them all by then, or it reads a key and a chain of two different sets and fails the
 * start. A pconf cleanup stops and
 * reaps it, so every restart ends the old one before post_config starts a new one; the parent forks
 * a new one when it dies unexpectedly. Does nothing outside normal runs (e.g. `apache2 -t`).
 */
apr_status_t autotls_activator_start(autotls_ctx_t *ctx, apr_pool_t *pconf);

/* After mod_ssl's post_config: the activator forked by autotls_activator_start goes to work. */
void autotls_activator_go(void);

/*
 * The activator process itself (activator.c), run by the child activator_proc.c forked: watches
 * staging/ until the parent (parent_pid) goes or asks it to stop, then leaves with _exit, so that
 * none of the parent's pool cleanups or atexit handlers run in it. Never returns.
 */
void autotls_activator_run(autotls_ctx_t *ctx, pid_t parent_pid, apr_pool_t *pconf);

#endif
