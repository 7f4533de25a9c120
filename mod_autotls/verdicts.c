/* SPDX-License-Identifier: Apache-2.0 */
/*
 * verdicts.c: where the parent keeps its verdict cache (at_verdict.h): httpd's retained data.
 *
 * The one idea: post_config runs twice at startup and again at every graceful restart, and each
 * time every live set would be parsed and checked again although nothing changed. The retained
 * data outlives the configuration pool and the module itself (it is unloaded and loaded again
 * between passes), so it holds only a pointer to a cache made from the process's own pool, and
 * the cache refers to no code of ours. Only the parent (root) ever fills it: children are forked
 * with a copy they never read, and a new parent (a cold or warm start) begins with none, so its
 * first pass checks every set in full (docs/SECURITY.md, "Verdict cache").
 */
#include <httpd.h>
#include <http_config.h>
#include <http_core.h> /* ap_state_query */
#include <http_log.h>
#include <http_main.h> /* ap_pglobal */

#include "log_glue.h"
#include "verdicts.h"

APLOG_USE_MODULE(autotls);

#define VERDICTS_RETAINED_KEY "mod_autotls-verdicts"

typedef struct {
    at_verdict_cache_t *cache;
    int failed;      /* creating it failed once: not tried again in this parent */
    int real_passes; /* real configuration passes this parent ran: its start, then restarts */
} verdicts_retained_t;

static verdicts_retained_t *verdicts_retained(void)
{
    verdicts_retained_t *retained = ap_retained_data_get(VERDICTS_RETAINED_KEY);

    return retained != NULL ? retained
                            : ap_retained_data_create(VERDICTS_RETAINED_KEY, sizeof(*retained));
}

at_verdict_cache_t *autotls_verdicts_begin(void)
{
    verdicts_retained_t *retained = verdicts_retained();

    if (retained->cache == NULL && !retained->failed) {
        /* ap_pglobal: the process's pool, never cleared before the parent exits */
        if (at_verdict_cache_create(&retained->cache, ap_pglobal) != APR_SUCCESS) {
            retained->cache = NULL;
            retained->failed = 1;
        }
    }
    if (retained->cache != NULL) {
        at_verdict_cache_begin(retained->cache);
    }
    return retained->cache;
}

void autotls_verdicts_end(const autotls_ctx_t *ctx, const autotls_verdicts_count_t *count)
{
    verdicts_retained_t *retained = verdicts_retained();
    at_verdict_stats_t stats = {0};
    const char *pass;

    if (retained->cache != NULL) {
        at_verdict_cache_end(retained->cache);
        at_verdict_cache_stats(retained->cache, &stats);
    }
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        pass = "first";
    } else {
        pass = retained->real_passes++ == 0 ? "start" : "restart";
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, ctx->main_server,
                 AUTOTLS_LOGNO(0100) "%s configuration pass: %d live set(s) checked in full, %d "
                                     "unchanged since their last check (verdict kept); "
                                     "placeholders: %d checked, %d unchanged; %d verdict(s) "
                                     "kept for the next pass%s",
                 pass, count->checked, count->reused, count->placeholders_checked,
                 count->placeholders_reused, stats.entries,
                 retained->cache == NULL ? " (no verdict cache: out of memory)" : "");
}
