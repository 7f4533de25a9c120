/* SPDX-License-Identifier: Apache-2.0 */
/*
 * activator_proc.c: the parent's side of the activator: one per generation, through helper_proc.
 *
 * The one idea: the activator is the one process besides the parent that holds the slots'
 * writer mapping (slots.h), and it is stopped and reaped at every restart before the next one
 * starts (it is root and writes live/: two must never run at once), so it does not hand over.
 * Its fork, and only its, passes the writer on. It is forked before mod_ssl's post_config, so
 * that it does not map the SSL contexts mod_ssl makes for every vhost, and waits there until
 * mod_ssl has read every live/ file (autotls_activator_go): a promotion replaces live/ files one
 * rename at a time, and mod_ssl would read a key and a chain from two different sets ("do not
 * match": the server exits). What the process does is activator.c.
 */
#include <apr_pools.h>

#include "activator.h"
#include "autotls.h"
#include "helper_proc.h"
#include "slots.h"

/* The one fork that gets the slots' writer; the parent is single-threaded here, so no other
 * fork (a child of the MPM) comes in between. */
static apr_status_t activator_around_fork(autotls_ctx_t *ctx, int before)
{
    return autotls_slots_writer_inherit(ctx->slots, before);
}

static void activator_proc_run(autotls_ctx_t *ctx, pid_t parent_pid, apr_pool_t *pconf)
{
    autotls_slots_writer_inherit(ctx->slots, 0); /* ours now; passed on to nobody */
    autotls_activator_run(ctx, parent_pid, pconf);
}

static const autotls_helper_desc_t activator_desc = {
    "activator", AUTOTLS_ACTIVATOR_TITLE, activator_proc_run, activator_around_fork, 0, 1,
};

apr_status_t autotls_activator_start(autotls_ctx_t *ctx, apr_pool_t *pconf)
{
    if (ctx == NULL || ctx->sites == NULL || ctx->sites->nelts == 0 || ctx->slots == NULL ||
        ctx->store == NULL) {
        return APR_SUCCESS; /* nothing managed: nothing to activate */
    }
    return autotls_helper_start(&activator_desc, ctx, pconf);
}

void autotls_activator_go(void)
{
    autotls_helper_go(&activator_desc);
}
