/*
 * mod_autotls.c: the module's table of contents: its configuration and the hooks it registers.
 *
 * The one idea: nothing happens here. Each hook and directive lives next to the code it serves
 * (config.c, log_glue.c, ...); this file only says which ones exist and when httpd calls them.
 */
#include <httpd.h>
#include <http_config.h>

#include "config.h"
#include "log_glue.h"
#include "twin.h"

/* Runs at startup (twice) and at every restart: binds the library's log to this generation. */
static int autotls_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                               server_rec *s)
{
    autotls_log_glue_install(pconf, s);
    return OK;
}

static void autotls_register_hooks(apr_pool_t *p)
{
    ap_hook_post_config(autotls_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    autotls_twin_register_hooks(p); /* pre_config: HTTPS twins in the tree (twin.c) */
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
