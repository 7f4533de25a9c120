/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.h: the module's per-server configuration, its directive table and its accessors.
 *
 * The one idea: a field is either "unset" or an explicit value, never a default. Defaults are
 * applied only by the accessors, so that merging a vhost over the main server keeps what the
 * vhost said and inherits everything else. Server-wide directives are refused inside a vhost, so
 * a vhost always sees the main server's value for them.
 */
#ifndef AUTOTLS_CONFIG_H
#define AUTOTLS_CONFIG_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include <httpd.h>
#include <http_config.h>

#include "at_ca.h"
#include "at_crypto.h"
#include "at_store_redis.h"
#include "config_parse.h" /* the pure parsers and the renew window type */

#define AUTOTLS_UNSET (-1) /* an int setting nobody wrote */
#define AUTOTLS_OFF 0
#define AUTOTLS_ON 1

#define AUTOTLS_CA_DEFAULT AUTOTLS_CA_LETSENCRYPT
#define AUTOTLS_HTTPS_PORT_DEFAULT 443
/* Where releases before the state directory kept the store when AutoTLSStore was unset, relative
 * to ServerRoot (/etc/apache2/autotls); it is carried over once (store_move.c). Today's default is
 * at_store_default_dir() (at_store_carry.h). */
#define AUTOTLS_STORE_OLD_DEFAULT "autotls"
/* The system account the renewal process runs as (never User: tenants' code runs as User). */
#define AUTOTLS_ACME_USER_DEFAULT "autotls"
/* AutoTLSOrdersInFlight: task threads of the renewal process. */
#define AUTOTLS_ORDERS_IN_FLIGHT_DEFAULT 8

/* One per server_rec. Pointers are NULL and ints AUTOTLS_UNSET until a directive sets them. */
typedef struct {
    const char *ca_url;       /* the first AutoTLSCA, keywords already expanded */
    apr_array_header_t *cas;  /* every AutoTLSCA in order: at_ca_spec_t, files absolute */
    int ca_failover;          /* AutoTLSCAFailover */
    const char *ca_cert_file; /* AutoTLSCACertificateFile, absolute */
    const char *issuer_roots; /* AutoTLSIssuerRoots, absolute */
    const char *contact;      /* AutoTLSContact, as a mailto: URI */
    const char *store_dir;    /* AutoTLSStore DIR or AutoTLSStoreLocal DIR, absolute */
    /* AutoTLSStore redis://... (issue 13): the fleet's shared store; store_dir stays the node's
     * local one (live/, archive/, challenges/, status/) */
    const char *store_url;           /* as given; parsed once by at_store_redis_url_parse */
    const char *store_key_file;      /* AutoTLSStoreKeyFile, absolute */
    const char *store_password_file; /* AutoTLSStorePasswordFile, absolute */
    const char *store_prefix;        /* AutoTLSStorePrefix */
    const char *node_name;           /* AutoTLSNodeName: this node's id in the fleet */
    const char *acme_user;           /* AutoTLSUser: the renewal process's account name */
    int https_port;                  /* AutoTLSHTTPSPort */
    int key_type;                    /* AutoTLSKeyType: an at_key_type_e */
    int key_type_second;             /* its second type, or AUTOTLS_KEY_TYPE_NONE */
    autotls_window_t renew_window;
    int redirect;                /* AutoTLSRedirect */
    int own_autotls;             /* a vhost's own AutoTLS (a twin: its vhost's); never inherited */
    int allow_private_ip;        /* AutoTLSAllowPrivateIP (server-wide) */
    apr_array_header_t *exclude; /* AutoTLSExclude: const char *, lower case */
    int orders_in_flight;        /* AutoTLSOrdersInFlight */
    int ca_rate_set;             /* AutoTLSCARate given (AUTOTLS_ON), else the CA's default */
    at_rate_t ca_rate;           /* AutoTLSCARate: burst 0 for none */
    const char *twin_origin;     /* AutoTLSTwin (twin.c): "file:line" it twins; NULL: no twin */
    /* AutoTLSEAB: external account binding; the key stays in its file (read where it is used) */
    const char *eab_kid;
    const char *eab_hmac_file; /* absolute */
    /* notifications and orphans (notify.c, activator.c) */
    const char *notify_command;         /* AutoTLSNotifyCommand, absolute */
    apr_interval_time_t notify_timeout; /* its timeout=, 0: unset */
    apr_interval_time_t orphan_keep;    /* AutoTLSOrphanKeep, 0: unset */
    const char *hsts;                   /* AutoTLSHSTS: the header's value, "" for off (gate.c) */
    int tls_policy;                     /* AutoTLSPolicy: an autotls_tls_policy_e (tls_policy.h) */
    /* AutoTLSDNSCommand (dns-01 for wildcard aliases) and AutoTLSDNSPropagation */
    const char *dns_command;             /* absolute */
    apr_interval_time_t dns_timeout;     /* its timeout=, 0: unset */
    apr_interval_time_t dns_propagation; /* 0: unset (no wait) */
    const char *profile; /* AutoTLSProfile's name; "" for none (AutoTLSProfile none) */
    const apr_array_header_t *challenges; /* AutoTLSChallenge: const char *, AT_CHALLENGE_* */
    int profile_required;                 /* its "required" */
} autotls_server_conf_t;

extern module AP_MODULE_DECLARE_DATA autotls_module;
extern const command_rec autotls_cmds[];

void *autotls_config_create_server(apr_pool_t *p, server_rec *s);
void *autotls_config_merge_server(apr_pool_t *p, void *base, void *add);

/* Effective values for a server (main or vhost), defaults applied. */
const char *autotls_config_ca_url(const server_rec *s); /* the first CA's */
/* Every CA in failover order (at_ca_spec_t; one: letsencrypt when AutoTLSCA is unset). The first
 * takes AutoTLSCACertificateFile and AutoTLSEAB where its own cafile= and eab= do not say; the
 * others have only their own options. */
const apr_array_header_t *autotls_config_cas(apr_pool_t *p, const server_rec *s);
/* AutoTLSCAFailover, else AT_CA_FAILOVER_DEFAULT. */
int autotls_config_ca_failover(const server_rec *s);
const char *autotls_config_ca_cert_file(const server_rec *s); /* NULL: the system store */
const char *autotls_config_issuer_roots(const server_rec *s); /* NULL: the system store */
/* AutoTLSContact, else ServerAdmin when it is an e-mail address, else NULL; as a mailto: URI. */
const char *autotls_config_contact(apr_pool_t *p, const server_rec *s);
/* AutoTLSStore as given (absolute), NULL when unset: the store's place is store_move.c's. */
const char *autotls_config_store_dir_given(const server_rec *s);
/* AutoTLSStore redis://... with its key file, password file and prefix, as the library opens it
 * (at_store_redis_open), or NULL when the store is a directory (no fleet). */
const at_store_redis_conf_t *autotls_config_store_redis(apr_pool_t *p, const server_rec *s);

/* AutoTLSNodeName (a valid node id, at_fleet.h), or NULL: the host name is the id. */
const char *autotls_config_node_name(const server_rec *s);
const char *autotls_config_acme_user(const server_rec *s); /* AutoTLSUser, else "autotls" */
int autotls_config_https_port(const server_rec *s);
at_key_type_e autotls_config_key_type(const server_rec *s);
/* AutoTLSKeyType's second type (a certificate for each type): 1 and *type, else 0. */
#define AUTOTLS_KEY_TYPE_NONE (-1)
int autotls_config_key_type_second(const server_rec *s, at_key_type_e *type);
autotls_window_t autotls_config_renew_window(const server_rec *s);
int autotls_config_redirect(const server_rec *s);
/* Which names beyond host names a vhost may have managed (at_name_eligible_as's allow): IP
 * addresses only where the vhost says AutoTLS on itself (vhost_autotls), private ones only with
 * AutoTLSAllowPrivateIP on. The first from the values pre_config read (twin_scan.c), the second
 * from a server's configuration (a twin has its vhost's lines). */
unsigned autotls_config_name_allow(int vhost_autotls, int allow_private_ip);
unsigned autotls_config_name_allow_of(const server_rec *s);
const apr_array_header_t *autotls_config_exclude(const server_rec *s); /* never NULL */
/* AutoTLSExclude's raw arguments read into patterns (lower case), for its directive handler and
 * for pre_config's scan of the tree alike; 0 at the first bad pattern, with *bad and *why. */
int autotls_config_read_exclude(apr_pool_t *p, const char *args, apr_array_header_t *patterns,
                                const char **bad, const char **why);
int autotls_config_orders_in_flight(const server_rec *s); /* AutoTLSOrdersInFlight, else 8 */
/* AutoTLSCARate, else the default of the configured CA (at_rate_default). */
at_rate_t autotls_config_ca_rate(const server_rec *s);
/* AutoTLSEAB: its key id and key file, or NULL both. */
const char *autotls_config_eab_kid(const server_rec *s);
const char *autotls_config_eab_hmac_file(const server_rec *s);

/* AutoTLSNotifyCommand (NULL: none) and its time limit (timeout=, else 30 s). */
const char *autotls_config_notify_command(const server_rec *s);
apr_interval_time_t autotls_config_notify_timeout(const server_rec *s);
/* AutoTLSOrphanKeep, else 30 days. */
apr_interval_time_t autotls_config_orphan_keep(const server_rec *s);
/* AutoTLSHSTS: the Strict-Transport-Security value, NULL when off (the default). */
const char *autotls_config_hsts(const server_rec *s);
/* AutoTLSDNSCommand (NULL: none; wildcard aliases are then skipped), its time limit (timeout=,
 * else 60 s) and AutoTLSDNSPropagation (0: none). */
#define AUTOTLS_DNS_TIMEOUT_DEFAULT apr_time_from_sec(60)
#define AUTOTLS_DNS_TIMEOUT_MAX apr_time_from_sec(600)
#define AUTOTLS_DNS_PROPAGATION_MAX apr_time_from_sec(3600)
const char *autotls_config_dns_command(const server_rec *s);
apr_interval_time_t autotls_config_dns_timeout(const server_rec *s);
apr_interval_time_t autotls_config_dns_propagation(const server_rec *s);
/* AutoTLSProfile: the CA profile to ask for (NULL: none) and whether it is required. */
const char *autotls_config_profile(const server_rec *s, int *required);
/* AutoTLSChallenge, else http-01 tls-alpn-01: the challenge types, in order (const char *). */
const apr_array_header_t *autotls_config_challenges(apr_pool_t *p, const server_rec *s);

/* AutoTLSPolicy, else intermediate: an autotls_tls_policy_e (tls_policy.h). */
int autotls_config_tls_policy(const server_rec *s);

#endif
