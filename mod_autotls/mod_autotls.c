/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mod_autotls.c: the module's table of contents: its configuration and the hooks it registers.
 *
 * The one idea: nothing happens here. Each hook and directive lives next to the code it serves
 * (config.c, twin.c, certs.c, ...); this file only says which ones exist, when httpd calls them,
 * and in which order post_config brings a configuration generation up.
 */
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>

#include "activator.h"
#include "alpn.h"
#include "autotls.h"
#include "ca_check.h"
#include "certs.h"
#include "challenge.h"
#include "config.h"
#include "gate.h"
#include "log_glue.h"
#include "renew.h"
#include "sslhook.h"
#include "helper_proc.h"
#include "preflight.h"
#include "status_handler.h"
#include "store_shared.h"
#include "mpm_common.h" /* ap_hook_monitor */
#include "twin.h"

/* The configuration passes leave much of the parent's heap free, and more of it is freed once
 * post_config's temporary pool is gone: the parent hands it back at its first monitor round of a
 * generation (its children trim what they inherited themselves, sslhook.c). */
static int autotls_memory_trimmed = 1;

/*
 * Runs at startup (twice) and at every graceful restart, before mod_ssl's: the sites of this
 * generation, their store and certificate files (both passes: mod_ssl loads files in each), then,
 * in the real pass only, the shared slots, the renewal process (forked here, before mod_ssl
 * loads any private key, so that it never holds one it did not make) and the activator (forked
 * here so that it does not map mod_ssl's contexts either; it waits for the go below).
 */
static int autotls_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                               server_rec *s)
{
    autotls_ctx_t *ctx;

    autotls_log_glue_install(pconf, s);
    if (autotls_ctx_build(&ctx, pconf, ptemp, s) != APR_SUCCESS ||
        autotls_certs_prepare(ctx, ptemp) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG || ctx->sites->nelts == 0) {
        return OK;
    }
    autotls_preflight(ctx, ptemp); /* what the admin must fix, said now (preflight.c) */
    if (autotls_renew_start(ctx, pconf) != APR_SUCCESS ||
        autotls_activator_start(ctx, pconf) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/*
 * Runs after mod_ssl's post_config, in the real pass only: the root activator goes to work. Not
 * earlier: the activator promotes a staged set left ready by the previous run at once, replacing
 * live/ files one rename at a time, and mod_ssl in this process would read a key and a chain from
 * two different sets ("do not match": the server exits). Once mod_ssl has loaded them, promotions
 * reach the children through the shared slots only.
 */
static int autotls_post_config_after_ssl(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                                         server_rec *s)
{
    autotls_ctx_t *ctx = autotls_ctx_get();

    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG || ctx == NULL ||
        ctx->sites->nelts == 0) {
        return OK;
    }
    autotls_activator_go();
    autotls_memory_trimmed = 0;
    return OK;
}

static int autotls_monitor(apr_pool_t *p, server_rec *s)
{
    if (!autotls_memory_trimmed) {
        autotls_memory_trimmed = 1;
        autotls_memory_release();
    }
    return DECLINED;
}

static void autotls_register_hooks(apr_pool_t *p)
{
    static const char *const mod_ssl[] = {"mod_ssl.c", NULL};

    /* Before mod_ssl: the twins' certificate files must exist when mod_ssl loads them. */
    ap_hook_post_config(autotls_post_config, NULL, mod_ssl, APR_HOOK_MIDDLE);
    /* After mod_ssl: it has read every live/ file before the activator may replace one. */
    ap_hook_post_config(autotls_post_config_after_ssl, mod_ssl, NULL, APR_HOOK_MIDDLE);
    ap_hook_monitor(autotls_monitor, NULL, NULL, APR_HOOK_MIDDLE);
    autotls_twin_register_hooks(p);      /* pre_config: HTTPS twins in the tree (twin.c) */
    autotls_certs_register_hooks(p);     /* mod_ssl: the files each twin loads (certs.c) */
    autotls_sslhook_register_hooks(p);   /* mod_ssl: per-context callback, child_init (sslhook.c) */
    autotls_challenge_register_hooks(p); /* post_read_request: http-01 (challenge.c) */
    autotls_alpn_register_hooks(p);      /* ALPN hooks, ssl_answer_challenge: tls-alpn-01 */
    autotls_gate_register_hooks(p);      /* post_read_request: 503 / redirect (gate.c) */
    autotls_status_register_hooks(p);    /* handlers, server-status (status_handler.c) */
    autotls_store_shared_register_hooks(p); /* check_config: a fleet's key files */
    autotls_ca_check_register_hooks(p);     /* check_config: the CAs' roots (ca_check.c) */
}

AP_DECLARE_MODULE(autotls) = {
    STANDARD20_MODULE_STUFF,
    NULL,                         /* per-directory config: none */
    NULL,                         /* per-directory merge: none */
    autotls_config_create_server, /* per-server config (config.c) */
    autotls_config_merge_server,  /* vhost over main server (config.c) */
    autotls_cmds,                 /* the AutoTLS* directives (config.c) */
    autotls_register_hooks,
    AP_MODULE_FLAG_NONE,
};
