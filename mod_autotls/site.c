/* SPDX-License-Identifier: Apache-2.0 */
/*
 * site.c: which sites this configuration generation manages, and under which names.
 *
 * pre_config (twin.c) already decided which vhosts get an HTTPS twin; here, after httpd built
 * its server_recs, each twin is paired with the admin's vhost of the same ServerName and its
 * names are collected (ServerName + every ServerAlias that can get a public certificate). Every
 * other part of the glue works from this list.
 */
#include <apr_strings.h>

#include <httpd.h>
#include <http_log.h>

#include "at_name.h"
#include "acme_user.h"
#include "autotls.h"
#include "log_glue.h"
#include "store_move.h"
#include "twin.h"

APLOG_USE_MODULE(autotls);

static autotls_ctx_t *current_ctx;

autotls_ctx_t *autotls_ctx_get(void)
{
    return current_ctx;
}

static apr_status_t site_ctx_forget(void *data)
{
    if (current_ctx == data) {
        current_ctx = NULL;
    }
    return APR_SUCCESS;
}

autotls_site_t *autotls_site_for_host_ex(const autotls_ctx_t *ctx, const char *host, int *wildcard)
{
    char name[APRMAXHOSTLEN + 1];
    autotls_site_t *site;
    char *dot;

    *wildcard = 0;
    if (ctx == NULL || host == NULL || strlen(host) >= sizeof(name)) {
        return NULL; /* no managed name is that long: never match a cut-short one */
    }
    apr_cpystrn(name, host, sizeof(name));
    ap_str_tolower(name);
    site = apr_hash_get(ctx->by_name, name, APR_HASH_KEY_STRING);
    dot = strchr(name, '.');
    if (site != NULL || ctx->dns_command == NULL || dot == NULL || dot == name) {
        return site;
    }
    /* a name one label below a managed wildcard alias, as httpd matches ServerAlias *.x */
    dot[-1] = '*';
    site = apr_hash_get(ctx->by_name, dot - 1, APR_HASH_KEY_STRING);
    *wildcard = site != NULL;
    return site;
}

autotls_site_t *autotls_site_for_host(const autotls_ctx_t *ctx, const char *host)
{
    int wildcard;

    return autotls_site_for_host_ex(ctx, host, &wildcard);
}

/* Adds name to the site unless it is ineligible, excluded or already managed elsewhere. */
static void site_add_name(autotls_ctx_t *ctx, autotls_site_t *site, const char *alias)
{
    const char *why = NULL;
    autotls_site_t *owner;
    char *name = apr_pstrdup(ctx->pool, alias);

    ap_str_tolower(name);
    if (ctx->dns_command != NULL &&
        strncmp(name, AT_NAME_WILDCARD_PREFIX, strlen(AT_NAME_WILDCARD_PREFIX)) == 0) {
        if (!at_name_wildcard_eligible(name, &why)) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, site->twin,
                         AUTOTLS_LOGNO(0401) "%s: alias %s skipped: %s", site->name, name, why);
            return;
        }
    } else if (!at_name_eligible_as(name, autotls_config_name_allow_of(site->twin), &why)) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, site->twin,
                     AUTOTLS_LOGNO(0401) "%s: alias %s skipped: %s", site->name, name, why);
        return;
    }
    if (at_name_excluded_by(autotls_config_exclude(site->twin), name) != NULL) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, site->twin,
                     AUTOTLS_LOGNO(0402) "%s: alias %s skipped: excluded by AutoTLSExclude",
                     site->name, name);
        return;
    }
    owner = apr_hash_get(ctx->by_name, name, APR_HASH_KEY_STRING);
    if (owner != NULL) {
        if (owner != site) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, site->twin,
                         AUTOTLS_LOGNO(0403) "%s: alias %s skipped: already managed for %s",
                         site->name, name, owner->name);
        }
        return;
    }
    APR_ARRAY_PUSH(site->names, const char *) = name;
    apr_hash_set(ctx->by_name, name, APR_HASH_KEY_STRING, site);
}

/* The admin's own vhosts by ServerName (lower case; the first of a name wins), not twins: one
 * pass over the vhosts, so that finding each site's plain vhost does not walk them all again. */
static apr_hash_t *site_plain_by_name(server_rec *main_server, apr_pool_t *p)
{
    apr_hash_t *plain = apr_hash_make(p);
    server_rec *s;

    for (s = main_server->next; s != NULL; s = s->next) {
        if (!autotls_twin_is(s) && s->server_hostname != NULL) {
            char *name = apr_pstrdup(p, s->server_hostname);

            ap_str_tolower(name);
            if (apr_hash_get(plain, name, APR_HASH_KEY_STRING) == NULL) {
                apr_hash_set(plain, name, APR_HASH_KEY_STRING, s);
            }
        }
    }
    return plain;
}

/* AutoTLSKeyType's second type: the site's certificate of that type, a site of its own (its
 * store name, job and slot) for the same names, after the first in ctx->sites. */
static void site_add_second(autotls_ctx_t *ctx, autotls_site_t *site)
{
    autotls_site_t *second;
    at_key_type_e type;
    const char *name;

    if (!autotls_config_key_type_second(site->twin, &type)) {
        return;
    }
    name = at_key_site_name(ctx->pool, site->name, type);
    if (name == NULL) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, site->twin,
                     AUTOTLS_LOGNO(0183) "%s: no %s certificate beside the %s one: the name is too "
                                         "long for a second store name",
                     site->name, at_key_type_name(type), at_key_type_name(site->key_type));
        return;
    }
    second = apr_pmemdup(ctx->pool, site, sizeof(*site));
    second->name = name;
    second->key_type = type;
    second->slot = ctx->sites->nelts;
    second->first = site;
    site->second = second;
    APR_ARRAY_PUSH(ctx->sites, autotls_site_t *) = second;
}

static void site_add(autotls_ctx_t *ctx, server_rec *twin, apr_hash_t *plain)
{
    const char *name = twin->server_hostname;
    char *lower = name != NULL ? apr_pstrdup(ctx->pool, name) : NULL;
    autotls_site_t *site;
    int i;

    if (lower != NULL) {
        ap_str_tolower(lower);
    }
    if (lower == NULL || apr_hash_get(ctx->by_name, lower, APR_HASH_KEY_STRING) != NULL) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, twin,
                     AUTOTLS_LOGNO(0404) "%s: a second HTTPS twin for this name is ignored",
                     name ? name : "(no ServerName)");
        return;
    }
    site = apr_pcalloc(ctx->pool, sizeof(*site));
    site->name = lower;
    site->twin = twin;
    site->plain = apr_hash_get(plain, site->name, APR_HASH_KEY_STRING);
    site->slot = ctx->sites->nelts;
    site->key_type = autotls_config_key_type(twin);
    site->redirect = autotls_config_redirect(twin);
    site->renew_window = autotls_config_renew_window(twin);
    site->profile = autotls_config_profile(twin, &site->profile_required);
    site->challenges = autotls_config_challenges(ctx->pool, twin);
    site->names = apr_array_make(ctx->pool, 4, sizeof(const char *));
    APR_ARRAY_PUSH(site->names, const char *) = site->name;
    apr_hash_set(ctx->by_name, site->name, APR_HASH_KEY_STRING, site);
    for (i = 0; twin->names != NULL && i < twin->names->nelts; ++i) {
        site_add_name(ctx, site, APR_ARRAY_IDX(twin->names, i, const char *));
    }
    for (i = 0; twin->wild_names != NULL && i < twin->wild_names->nelts; ++i) {
        site_add_name(ctx, site, APR_ARRAY_IDX(twin->wild_names, i, const char *));
    }
    APR_ARRAY_PUSH(ctx->sites, autotls_site_t *) = site;
    site_add_second(ctx, site);
}

apr_status_t autotls_ctx_build(autotls_ctx_t **out, apr_pool_t *pconf, apr_pool_t *ptemp,
                               server_rec *main_server)
{
    autotls_ctx_t *ctx = apr_pcalloc(pconf, sizeof(*ctx));
    apr_hash_t *plain;
    server_rec *s;
    apr_status_t rv;

    ctx->pool = pconf;
    ctx->main_server = main_server;
    ctx->sites = apr_array_make(pconf, 16, sizeof(autotls_site_t *));
    ctx->by_name = apr_hash_make(pconf);
    autotls_acme_user_resolve(ctx, pconf); /* before the store moves: it owns groups there */
    ctx->store_dir = autotls_store_move(ctx, pconf, ptemp); /* AutoTLSStore or default */
    ctx->ca_url = autotls_config_ca_url(main_server);
    ctx->cas = autotls_config_cas(pconf, main_server);
    ctx->ca_failover = autotls_config_ca_failover(main_server);
    ctx->issuer_roots = autotls_config_issuer_roots(main_server);
    ctx->notify_command = autotls_config_notify_command(main_server);
    ctx->notify_timeout = autotls_config_notify_timeout(main_server);
    ctx->dns_command = autotls_config_dns_command(main_server);
    ctx->dns_timeout = autotls_config_dns_timeout(main_server);
    ctx->dns_propagation = autotls_config_dns_propagation(main_server);
    ctx->orphan_keep = autotls_config_orphan_keep(main_server);
    ctx->contact = autotls_config_contact(pconf, main_server);
    ctx->https_port = autotls_config_https_port(main_server);
    /* the first CA's effective settings: its own options, else the one-CA directives */
    ctx->ca_file = APR_ARRAY_IDX(ctx->cas, 0, at_ca_spec_t).ca_file;
    ctx->eab_kid = APR_ARRAY_IDX(ctx->cas, 0, at_ca_spec_t).eab_kid;
    ctx->eab_hmac_file = APR_ARRAY_IDX(ctx->cas, 0, at_ca_spec_t).eab_hmac_file;
    if ((rv = at_store_fs_open(&ctx->store, pconf, ctx->store_dir)) != APR_SUCCESS) {
        autotls_log_error(APLOG_MARK, APLOG_EMERG, rv, main_server,
                          AUTOTLS_LOGNO(0405) "cannot use %s as the AutoTLSStore", ctx->store_dir);
        return rv;
    }
    at_store_fs_trust_owner(ctx->store, ctx->acme_uid); /* never the reader's own uid */
    ctx->redis = autotls_config_store_redis(pconf, main_server);
    ctx->shared = ctx->redis == NULL ? ctx->store : NULL; /* Redis: store_shared.c opens it */
    plain = site_plain_by_name(main_server, ptemp);
    for (s = main_server->next; s != NULL; s = s->next) {
        if (autotls_twin_is(s)) {
            site_add(ctx, s, plain);
        }
    }
    if (ctx->sites->nelts > 0) {
        autotls_acme_user_warn_dumpable(ctx);
    }
    current_ctx = ctx;
    apr_pool_cleanup_register(pconf, ctx, site_ctx_forget, apr_pool_cleanup_null);
    *out = ctx;
    return APR_SUCCESS;
}
