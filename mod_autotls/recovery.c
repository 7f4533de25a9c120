/* SPDX-License-Identifier: Apache-2.0 */
/*
 * recovery.c: what killed processes left in the store, settled at startup.
 *
 * The one idea: at a cold start nothing of ours can be writing to the store, so every leftover
 * goes; after a restart the old generation's renewal process may still be finishing an order,
 * so only what is older than its bound goes. A promotion into live/ that a kill interrupted is
 * finished or undone (the journal of at_live.h) before anything reads live/<site>/.
 */
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "at_live.h"
#include "at_store.h"
#include "at_sweep.h"
#include "activator.h"
#include "autotls.h"
#include "log_glue.h"
#include "recovery.h"

APLOG_USE_MODULE(autotls);

/* Retained across restarts: its absence tells the first configuration of a fresh parent (a cold
 * start, when no renewal thread of ours can be writing to the store) from a restart. */
#define RECOVERY_RETAINED_STARTED "mod_autotls-started"

/* Whether this is the real configuration pass of a freshly started parent. */
static int recovery_cold_start(void)
{
    if (ap_retained_data_get(RECOVERY_RETAINED_STARTED) != NULL) {
        return 0;
    }
    ap_retained_data_create(RECOVERY_RETAINED_STARTED, 1);
    return 1;
}

/* Archived sets past their grace period or count go, for every site with an archive (also
 * those no longer configured, so that the store does not keep them forever). */
static int recovery_purge_archives(autotls_ctx_t *ctx, apr_time_t now, apr_pool_t *ptemp)
{
    apr_array_header_t *names;
    int i, removed, total = 0;

    if (at_store_list(ctx->store, AT_STORE_ARCHIVE, NULL, &names, ptemp) != APR_SUCCESS) {
        return 0;
    }
    for (i = 0; i < names->nelts; i++) {
        if (at_live_archive_purge(ctx->store, APR_ARRAY_IDX(names, i, const char *), now,
                                  AT_ARCHIVE_GRACE, AT_ARCHIVE_KEEP_MAX, &removed,
                                  ptemp) == APR_SUCCESS) {
            total += removed;
        }
    }
    return total;
}

/*
 * Real pass only, before the activator and the renewal thread start: removes what killed
 * processes left (at_sweep.h). At a cold start nothing of ours can be writing, so every
 * unfinished staged set of our sites, every challenge response and every temp file goes; after
 * a restart, the renewal thread of the old generation may still be finishing an order, so only
 * what is older than its bound goes. Then the archives are purged.
 */
void autotls_recovery_sweep(autotls_ctx_t *ctx, apr_pool_t *ptemp)
{
    apr_array_header_t *names = apr_array_make(ptemp, ctx->sites->nelts, sizeof(const char *));
    apr_time_t now = apr_time_now();
    int cold = recovery_cold_start(), sets = 0, challenges = 0, temps = 0, archived;
    int i;

    for (i = 0; i < ctx->sites->nelts; i++) {
        APR_ARRAY_PUSH(names, const char *) = APR_ARRAY_IDX(ctx->sites, i, autotls_site_t *)->name;
    }
    at_sweep_staging(ctx->store, names, AUTOTLS_STAGING_READY, cold ? 0 : AUTOTLS_STAGING_MAX_AGE,
                     now, &sets, ptemp);
    at_sweep_challenges(ctx->store, cold ? 0 : AUTOTLS_CHALLENGE_MAX_AGE, now, &challenges, ptemp);
    at_sweep_temp_files(ctx->store, cold ? 0 : AUTOTLS_TEMP_MAX_AGE, now, &temps, ptemp);
    archived = recovery_purge_archives(ctx, now, ptemp);
    ap_log_error(APLOG_MARK, sets + challenges + temps > 0 ? APLOG_NOTICE : APLOG_DEBUG, 0,
                 ctx->main_server,
                 AUTOTLS_LOGNO(0280) "%s start: removed %d unfinished staged set(s), %d stale "
                                     "challenge(s), %d temp file(s) of interrupted writes, %d "
                                     "expired archived set(s)",
                 cold ? "cold" : "restart", sets, challenges, temps, archived);
}

/* Finishes or undoes a promotion a kill interrupted, before anything reads live/<site>/. */
void autotls_recovery_settle_live(autotls_site_t *site, autotls_ctx_t *ctx, apr_pool_t *ptemp)
{
    at_live_recovery_e outcome;
    apr_status_t rv = at_live_recover(ctx->store, site->name, &outcome, ptemp);

    if (rv != APR_SUCCESS) {
        autotls_log_error(APLOG_MARK, APLOG_ERR, rv, site->twin,
                          AUTOTLS_LOGNO(0276) "%s: cannot settle an interrupted promotion in live/",
                          site->name);
    } else if (outcome != AT_LIVE_CLEAN) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, site->twin,
                     AUTOTLS_LOGNO(0277) "%s: a promotion interrupted by a crash was %s",
                     site->name,
                     outcome == AT_LIVE_ROLLED_FORWARD ? "completed: the new set is live"
                                                       : "undone: the previous set stays");
    }
}
