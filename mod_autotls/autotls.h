/* SPDX-License-Identifier: Apache-2.0 */
/*
 * autotls.h: what the parts of the httpd glue share: the managed sites and the module state.
 *
 * post_config builds one autotls_site_t per managed vhost pair (the admin's plain vhost and the
 * HTTPS twin generated in pre_config) and keeps them in the per-generation context returned by
 * autotls_ctx_get(). Every other part (activator, certificate callback, challenge responder,
 * gate, renewal thread) works from that list and never walks server_recs itself.
 */
#ifndef AUTOTLS_H
#define AUTOTLS_H

#include <httpd.h>
#include <http_config.h>
#include <apr_hash.h>
#include <apr_tables.h>

#include "at_crypto.h"
#include "at_store.h"
#include "at_store_redis.h"
#include "config.h"

typedef struct autotls_slots_t autotls_slots_t;

/* One managed site: a certificate for a vhost's names, served by its twin. */
typedef struct autotls_site_t {
    const char *name;          /* ServerName (lower case): the store name of its certificate set */
    apr_array_header_t *names; /* const char *: ServerName + eligible ServerAliases, lower case */
    server_rec *plain;         /* the admin's vhost (HTTP side); NULL when it has none */
    server_rec *twin;          /* the HTTPS vhost serving the certificate */
    int slot;                  /* index into the shared certificate slots */
    at_key_type_e key_type;
    int redirect;                  /* http -> https once the certificate is live */
    autotls_window_t renew_window; /* AutoTLSRenewWindow; kind UNSET: the default policy */
    const char *profile;           /* AutoTLSProfile: the CA profile to ask for, or NULL */
    int profile_required;          /* its "required": no order when the CA does not offer it */
    const apr_array_header_t *challenges; /* AutoTLSChallenge: const char *, AT_CHALLENGE_* */
    /* AutoTLSKeyType with two types: the site's certificate for the second type is a site of its
     * own in ctx->sites (store name at_key_site_name, its own job and slot; same names and twin;
     * not in by_name, no placeholder), which the twin's certificate callback serves beside the
     * first. second: that site, on the first; first: the first, on the second; else NULL. */
    struct autotls_site_t *second;
    struct autotls_site_t *first;
} autotls_site_t;

/* The module's state for one configuration generation (lives in pconf). */
typedef struct {
    apr_pool_t *pool; /* pconf */
    server_rec *main_server;
    apr_array_header_t *sites; /* autotls_site_t * */
    apr_hash_t *by_name;       /* every managed name, lower case -> autotls_site_t * */
    const char *store_dir; /* the node's local directory (AutoTLSStore DIR, AutoTLSStoreLocal) */
    at_store_t *store; /* its fs store: live/, archive/, challenges/, status/ (store_shared.h) */
    /* accounts/, jobs/, staging/, leases/: ctx->store without Redis; with AutoTLSStore redis://
     * (redis set) NULL except in the renewal process's and the activator's own copy of the
     * context, where store_shared.c opened it (a thread of their own clones it) */
    at_store_t *shared;
    const at_store_redis_conf_t *redis;
    autotls_slots_t *slots;
    const char *ca_url;  /* the first CA's (AutoTLSCA): the one of a one-CA configuration */
    const char *ca_file; /* its roots for HTTPS, or NULL */
    const apr_array_header_t *cas; /* every CA in failover order (at_ca_spec_t), ca_url first */
    int ca_failover;               /* AutoTLSCAFailover */
    const char *issuer_roots;      /* roots an issued chain must verify to, or NULL: system store */
    const char *contact;           /* account contact, or NULL */
    const char *acme_user;         /* the account the renewal process runs as (acme_user.h) */
    apr_uid_t acme_uid;            /* owner of accounts/, jobs/, staging/, challenges/ */
    apr_gid_t acme_gid;
    int https_port;
    const char *eab_kid;       /* AutoTLSEAB key id, or NULL */
    const char *eab_hmac_file; /* AutoTLSEAB key file (read by the renewal process), or NULL */
    /* notifications and orphans */
    const char *notify_command;          /* AutoTLSNotifyCommand, or NULL */
    apr_interval_time_t notify_timeout;  /* its time limit */
    const char *dns_command;             /* AutoTLSDNSCommand, or NULL (no wildcard aliases) */
    apr_interval_time_t dns_timeout;     /* its time limit */
    apr_interval_time_t dns_propagation; /* AutoTLSDNSPropagation */
    apr_interval_time_t orphan_keep;     /* AutoTLSOrphanKeep */
} autotls_ctx_t;

/* Builds the context of this generation from the configured servers (post_config, every pass)
 * and makes it the one autotls_ctx_get() returns until pconf is cleared. */
apr_status_t autotls_ctx_build(autotls_ctx_t **ctx, apr_pool_t *pconf, apr_pool_t *ptemp,
                               server_rec *main_server);

/* The context of the running generation; NULL before post_config has built it. */
autotls_ctx_t *autotls_ctx_get(void);

/* The site a (lower- or mixed-case) host name belongs to, or NULL. */
autotls_site_t *autotls_site_for_host(const autotls_ctx_t *ctx, const char *host);
/* Like autotls_site_for_host, and *wildcard says whether host was found only through a
 * wildcard alias (whose certificate may have been issued without the wildcard: partial). */
autotls_site_t *autotls_site_for_host_ex(const autotls_ctx_t *ctx, const char *host, int *wildcard);

#endif
