/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_move.c: the store's place for this generation, and the one-time move from the old
 * default under ServerRoot (/etc/apache2/autotls) to the state directory
 * (/var/lib/apache2/autotls).
 *
 * The one idea: an admin who never wrote AutoTLSStore keeps every certificate, account and
 * schedule across the upgrade. The library copies the old store beside the new place and
 * renames it in (lib/store_carry.c); this file only decides when, says what happened in one
 * line, and falls back to the old place while a carry cannot be made, so that nothing is
 * ordered again. The old directory is left as it was, for the admin to remove.
 */
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "at_store_carry.h"
#include "config.h"
#include "log_glue.h"
#include "store_layout.h"
#include "store_move.h"

APLOG_USE_MODULE(autotls);

/* Remembered across the configuration passes and graceful restarts of one parent: warn once,
 * and after a failed carry keep to the old place instead of copying again at every pass. */
#define STORE_MOVE_RETAINED "mod_autotls-store-move"

typedef struct {
    int warned_in_use;
    const char *fallback; /* the old place after a failed carry (process pool); else NULL */
} store_move_retained_t;

static store_move_retained_t *store_move_retained(void)
{
    store_move_retained_t *r = ap_retained_data_get(STORE_MOVE_RETAINED);

    if (r == NULL) {
        r = ap_retained_data_create(STORE_MOVE_RETAINED, sizeof(*r));
        r->warned_in_use = 0;
        r->fallback = NULL;
    }
    return r;
}

const char *autotls_store_move(const autotls_ctx_t *ctx, apr_pool_t *pconf, apr_pool_t *ptemp)
{
    at_store_adopt_t layout[AT_STORE_GROUP_COUNT];
    server_rec *s = ctx->main_server;
    const char *given = autotls_config_store_dir_given(s);
    const char *new_dir = at_store_default_dir();
    const char *old_dir;
    store_move_retained_t *r;
    at_carry_result_t result;
    apr_status_t rv;

    if (given != NULL) {
        return given;
    }
    r = store_move_retained();
    if (r->fallback != NULL) {
        return apr_pstrdup(pconf, r->fallback);
    }
    old_dir = ap_server_root_relative(ptemp, AUTOTLS_STORE_OLD_DEFAULT);
    autotls_store_layout_owners(ctx, layout);
    rv = at_store_carry(&result, old_dir, new_dir, layout, ptemp);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     AUTOTLS_LOGNO(0950) "store: cannot carry the store over from %s to %s; "
                                         "using %s until a later start manages it (nothing is "
                                         "ordered again)",
                     old_dir, new_dir, old_dir);
        r->fallback = apr_pstrdup(s->process->pool, old_dir);
        return apr_pstrdup(pconf, old_dir);
    }
    if (result.outcome == AT_CARRY_CARRIED) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     AUTOTLS_LOGNO(0951) "store: carried over from %s to %s (%d file(s), %d "
                                         "entr%s left behind); the store is used there from "
                                         "now on, and %s stays as it was: remove it when "
                                         "satisfied",
                     old_dir, new_dir, result.copied, result.skipped,
                     result.skipped == 1 ? "y" : "ies", old_dir);
    } else if (result.outcome == AT_CARRY_IN_USE && !r->warned_in_use) {
        r->warned_in_use = 1;
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     AUTOTLS_LOGNO(0952) "store: %s holds a store of an older release, but %s "
                                         "is in use already: the old one is neither carried "
                                         "over nor used. Remove it, or name it in AutoTLSStore",
                     old_dir, new_dir);
    }
    return new_dir;
}
