/*
 * activator.h: the root helper process that puts staged certificates live without a restart.
 *
 * The renewal thread (running as User) leaves a finished set in staging/<site>/ and marks it
 * complete with an empty `ready` file, written last. The activator, forked by the parent and
 * still root, validates the set, keeps the previous live set in archive/, promotes the new one
 * into live/ (root-owned) and publishes it into the site's shared slot; children pick it up at
 * their next handshake. A refused set is removed with one log line and the old certificate stays.
 */
#ifndef AUTOTLS_ACTIVATOR_H
#define AUTOTLS_ACTIVATOR_H

#include <apr_pools.h>
#include <apr_time.h>

#include "autotls.h"

/* How often the activator looks into staging/. */
#define AUTOTLS_ACTIVATOR_POLL apr_time_from_msec(100)
/* The item, written last by the renewal thread, that marks a staged set complete. */
#define AUTOTLS_STAGING_READY "ready"
/* The activator's process name (comm, at most 15 characters), for ps and the tests. */
#define AUTOTLS_ACTIVATOR_TITLE "autotls-activ"

/*
 * Forks the activator for this configuration generation (the real post_config pass only, after
 * the slots were created and the live sets published). A pconf cleanup stops and reaps it, so
 * every restart ends the old one before post_config starts a new one; the parent forks a new
 * one when it dies unexpectedly. Does nothing outside normal runs (e.g. `apache2 -t`).
 */
apr_status_t autotls_activator_start(autotls_ctx_t *ctx, apr_pool_t *pconf);

#endif
