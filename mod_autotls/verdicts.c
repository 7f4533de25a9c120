/* SPDX-License-Identifier: Apache-2.0 */
/*
 * verdicts.c: where the parent keeps its verdict cache (at_verdict.h): httpd's retained data.
 *
 * The one idea: post_config runs twice at startup and again at every graceful restart, and each
 * time every live set would be parsed and checked again although nothing changed. The retained
 * data outlives the configuration pool and the module itself (it is unloaded and loaded again
 * between passes), so it holds only a pointer to a cache made from the process's own pool, and
 * the cache refers to no code of ours. Only the parent (root) ever fills it: children are forked
 * with a copy they never read. A new parent (every start) takes back what the previous one
 * remembered from the store's verdicts.json, which the parent writes at the end of each real pass
 * that changed the cache (verdict_file.c; the rules it is believed under are docs/SECURITY.md's,
 * "Verdict cache"); without the file its first pass checks every set in full.
 */
#include <httpd.h>
#include <http_config.h>
#include <http_core.h> /* ap_state_query */
#include <http_log.h>
#include <http_main.h> /* ap_pglobal */

#include <apr_strings.h>

#include "log_glue.h"
#include "verdicts.h"

APLOG_USE_MODULE(autotls);

/* Names the layout of verdicts_retained_t: a parent that loads a newer module at a graceful
 * restart finds the older block under the older name and makes a new one (never reading a
 * smaller struct as this one). Change the name with the struct. */
#define VERDICTS_RETAINED_KEY "mod_autotls-verdicts-2"
/* In the store's own directory (root's, 0755: nobody else writes there), beside its groups. */
#define VERDICTS_FILE "verdicts.json"

typedef struct {
    at_verdict_cache_t *cache;
    int failed;      /* creating it failed once: not tried again in this parent */
    int real_passes; /* real configuration passes this parent ran: its start, then restarts */
    int disk_stale; /* the file does not hold what the cache holds: written at the next real pass */
} verdicts_retained_t;

static verdicts_retained_t *verdicts_retained(void)
{
    verdicts_retained_t *retained = ap_retained_data_get(VERDICTS_RETAINED_KEY);

    return retained != NULL ? retained
                            : ap_retained_data_create(VERDICTS_RETAINED_KEY, sizeof(*retained));
}

static const char *verdicts_path(const autotls_ctx_t *ctx, apr_pool_t *p)
{
    return ctx->store_dir != NULL ? apr_pstrcat(p, ctx->store_dir, "/" VERDICTS_FILE, NULL) : NULL;
}

static int verdicts_on_disk(void)
{
    return ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_NORMAL;
}

/* A new parent's cache: what the previous parent wrote, when the file may be believed. */
static void verdicts_read(verdicts_retained_t *retained, const autotls_ctx_t *ctx, apr_pool_t *p)
{
    const char *path = verdicts_path(ctx, p), *why = NULL;
    apr_status_t rv;
    int added = 0;

    retained->disk_stale = 1;
    if (path == NULL || !verdicts_on_disk()) {
        return;
    }
    rv = at_verdict_cache_read(retained->cache, path, apr_time_now(), &added, &why, p);
    if (rv == APR_SUCCESS && why != NULL) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, ctx->main_server,
                     AUTOTLS_LOGNO(0125) "%s is not taken: %s; every live set is checked once",
                     path, why);
    } else if (rv == APR_SUCCESS) {
        retained->disk_stale = 0; /* written again only when a pass changes what it holds */
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, ctx->main_server,
                     AUTOTLS_LOGNO(0122) "%d verdict(s) on live sets taken from %s (written by "
                                         "the previous parent; each stands only for files "
                                         "still as they were)",
                     added, path);
    } else if (rv != APR_ENOENT) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, ctx->main_server,
                     AUTOTLS_LOGNO(0123) "%s is not believed: %s; every live set is checked in "
                                         "full, and the file is written again",
                     path, why != NULL ? why : "it cannot be read");
    }
}

/* The end of a real pass: the cache into the file, when it changed since it was written. */
static void verdicts_write(verdicts_retained_t *retained, const autotls_ctx_t *ctx, apr_pool_t *p)
{
    const char *path = verdicts_path(ctx, p);
    apr_status_t rv;

    if (!retained->disk_stale || path == NULL || !verdicts_on_disk()) {
        return;
    }
    rv = at_verdict_cache_write(retained->cache, path, p);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, ctx->main_server,
                     AUTOTLS_LOGNO(0124) "cannot write %s: the next start checks every live "
                                         "set in full",
                     path);
        return;
    }
    retained->disk_stale = 0;
}

at_verdict_cache_t *autotls_verdicts_begin(const autotls_ctx_t *ctx, apr_pool_t *ptemp)
{
    verdicts_retained_t *retained = verdicts_retained();

    if (retained->cache == NULL && !retained->failed) {
        /* ap_pglobal: the process's pool, never cleared before the parent exits */
        if (at_verdict_cache_create(&retained->cache, ap_pglobal) != APR_SUCCESS) {
            retained->cache = NULL;
            retained->failed = 1;
        } else {
            verdicts_read(retained, ctx, ptemp);
        }
    }
    if (retained->cache != NULL) {
        at_verdict_cache_begin(retained->cache);
    }
    return retained->cache;
}

void autotls_verdicts_end(const autotls_ctx_t *ctx, const autotls_verdicts_count_t *count,
                          apr_pool_t *ptemp)
{
    verdicts_retained_t *retained = verdicts_retained();
    at_verdict_stats_t stats = {0};
    const char *pass;

    if (retained->cache != NULL) {
        at_verdict_cache_end(retained->cache);
        at_verdict_cache_stats(retained->cache, &stats);
        retained->disk_stale |= stats.stored > 0 || stats.dropped > 0;
    }
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        pass = "first";
    } else {
        pass = retained->real_passes++ == 0 ? "start" : "restart";
        if (retained->cache != NULL) {
            verdicts_write(retained, ctx, ptemp);
        }
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
