/*
 * activator_proc.c: the parent's side of the activator: one per generation, through helper_proc.
 *
 * The one idea: the activator is stopped and reaped at every restart before the next one starts
 * (it is root and writes live/: two must never run at once), so it does not hand over. What the
 * process does is activator.c.
 */
#include <apr_pools.h>

#include "activator.h"
#include "autotls.h"
#include "helper_proc.h"

static const autotls_helper_desc_t activator_desc = {
    "activator", AUTOTLS_ACTIVATOR_TITLE, autotls_activator_run, NULL, 0,
};

apr_status_t autotls_activator_start(autotls_ctx_t *ctx, apr_pool_t *pconf)
{
    if (ctx == NULL || ctx->sites == NULL || ctx->sites->nelts == 0 || ctx->slots == NULL ||
        ctx->store == NULL) {
        return APR_SUCCESS; /* nothing managed: nothing to activate */
    }
    return autotls_helper_start(&activator_desc, ctx, pconf);
}
