/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_shared.c: the shared store of a fleet (AutoTLSStore redis://...) beside each node's local
 * directory: who opens it, the startup checks of its key and password files, the lease TTL.
 *
 * The one idea: a Redis connection and the secrets that open it exist only in the two processes
 * that need them (the renewal process and the activator), each thread with its own connection;
 * the parent checks the files at startup without keeping them, so no child inherits them.
 */
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>

#include "at_core.h"
#include "at_issue.h"
#include "at_secret_file.h"
#include "at_store_carry.h"
#include "at_store_redis.h"
#include "config.h"
#include "log_glue.h"
#include "renew_fleet.h"
#include "store_shared.h"

APLOG_USE_MODULE(autotls);

#define STORE_SHARED_PW_BUF 16384
#define STORE_SHARED_TTL_MIN_SEC 1

int autotls_store_fleet(const autotls_ctx_t *ctx)
{
    return ctx->redis != NULL;
}

apr_status_t autotls_store_shared_open(autotls_ctx_t *ctx, apr_pool_t *p)
{
    apr_status_t rv;

    if (ctx->redis == NULL) {
        ctx->shared = ctx->store;
        return APR_SUCCESS;
    }
    if ((rv = at_store_redis_open(&ctx->shared, p, ctx->redis)) != APR_SUCCESS) {
        autotls_log_error(APLOG_MARK, APLOG_CRIT, rv, ctx->main_server,
                          AUTOTLS_LOGNO(0110) "cannot open the shared store %s (see the line "
                                              "before)",
                          ctx->redis->url);
    }
    return rv;
}

apr_status_t autotls_store_shared_clone(at_store_t **store, const autotls_ctx_t *ctx, apr_pool_t *p)
{
    if (!at_store_redis_is(ctx->shared)) {
        *store = ctx->shared;
        return APR_SUCCESS;
    }
    return at_store_redis_clone(store, p, ctx->shared);
}

int autotls_store_shared_up(const autotls_ctx_t *ctx)
{
    return !at_store_redis_is(ctx->shared) || at_store_redis_ping(ctx->shared) == APR_SUCCESS;
}

apr_interval_time_t autotls_store_lease_ttl(void)
{
    const char *knob = getenv(AUTOTLS_LEASE_TTL_ENV);
    long sec = knob != NULL ? strtol(knob, NULL, 10) : 0;

    return sec >= STORE_SHARED_TTL_MIN_SEC ? apr_time_from_sec(sec) : AUTOTLS_LEASE_TTL_DEFAULT;
}

at_cert_info_t *autotls_staged_leaf(at_store_t *store, const char *site, apr_time_t *mtime,
                                    apr_pool_t *p)
{
    apr_array_header_t *chain;
    at_cert_info_t *info = NULL;
    at_store_stat_t st;
    apr_size_t len;
    char *pem;

    *mtime = 0;
    if (at_store_stat(store, AT_STORE_STAGING, site, NULL, &st, p) != APR_SUCCESS || !st.exists ||
        at_store_load(store, AT_STORE_STAGING, site, AT_CERTSET_CHAIN, &pem, &len, AT_STORE_PUBLIC,
                      p) != APR_SUCCESS ||
        at_chain_from_pem(&chain, p, pem, len) != APR_SUCCESS || chain->nelts == 0 ||
        at_cert_info(&info, p, APR_ARRAY_IDX(chain, 0, X509 *)) != APR_SUCCESS) {
        return NULL;
    }
    *mtime = st.mtime;
    return info;
}

int autotls_staged_newer(const at_cert_info_t *staged, int served_ca_issued,
                         const char *served_serial, apr_time_t served_not_before)
{
    if (!served_ca_issued) {
        return 1;
    }
    return strcmp(staged->serial, served_serial) != 0 && staged->not_before >= served_not_before;
}

/* ---- startup checks ------------------------------------------------------------------------ */

/* The ACME account's uid as the renewal process will run (acme_user.c decides at post_config;
 * here only its name is known): root stands in when there is no such account. */
static apr_uid_t store_shared_acme_uid(const server_rec *s, apr_pool_t *ptemp)
{
    struct passwd pw, *found = NULL;
    char *buf = apr_palloc(ptemp, STORE_SHARED_PW_BUF);

    if (getpwnam_r(autotls_config_acme_user(s), &pw, buf, STORE_SHARED_PW_BUF, &found) == 0 &&
        found != NULL) {
        return found->pw_uid;
    }
    return 0;
}

static int store_shared_owner_ok(server_rec *s, apr_pool_t *ptemp, const char *path,
                                 const char *what, const char *directive, apr_uid_t acme_uid)
{
    const char *why = NULL;
    apr_uid_t owner;
    apr_status_t rv;

    if (path == NULL) {
        return 1;
    }
    if ((rv = at_secret_file_owner_check(&owner, &why, ptemp, path, what, acme_uid)) ==
        APR_SUCCESS) {
        return 1;
    }
    autotls_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                      AUTOTLS_LOGNO(0111) "%s: %s; give it to root or the ACME account %s "
                                          "(chown), readable by its owner only (chmod 600)",
                      directive, why, autotls_config_acme_user(s));
    return 0;
}

static int store_shared_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                                     server_rec *s)
{
    const at_store_redis_conf_t *redis = autotls_config_store_redis(ptemp, s);
    const char *local = autotls_config_store_dir_given(s), *node = "?";
    apr_uid_t acme_uid;

    if (local == NULL) {
        local = at_store_default_dir();
    }
    if (redis == NULL) {
        return OK;
    }
    if (redis->key_file == NULL) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                     AUTOTLS_LOGNO(0112) "AutoTLSStore %s needs AutoTLSStoreKeyFile: private "
                                         "keys never go to Redis in clear (make one with head "
                                         "-c 32 /dev/urandom, chmod 600)",
                     redis->url);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    acme_uid = store_shared_acme_uid(s, ptemp);
    if (!store_shared_owner_ok(s, ptemp, redis->key_file, "the store key", "AutoTLSStoreKeyFile",
                               acme_uid) ||
        !store_shared_owner_ok(s, ptemp, redis->password_file, "the Redis password",
                               "AutoTLSStorePasswordFile", acme_uid)) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (ap_state_query(AP_SQ_RUN_MODE) != AP_SQ_RM_NORMAL ||
        ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        autotls_fleet_node_id(&node, s, ptemp);
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     AUTOTLS_LOGNO(0113) "AutoTLSStore: accounts, job state, staged sets and "
                                         "leases in Redis %s (prefix %s, private keys sealed "
                                         "with %s); this node (%s%s)'s live/, archive/, "
                                         "challenges/ and status/ in %s",
                     redis->url,
                     redis->prefix != NULL ? redis->prefix : AT_STORE_REDIS_PREFIX_DEFAULT,
                     redis->key_file, node,
                     autotls_config_node_name(s) != NULL ? "" : ", the host name", local);
    }
    return OK;
}

void autotls_store_shared_register_hooks(apr_pool_t *p)
{
    ap_hook_check_config(store_shared_check_config, NULL, NULL, APR_HOOK_MIDDLE);
}
