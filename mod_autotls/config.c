/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.c: the AutoTLS* directives, the per-server configuration and its accessors.
 *
 * The one idea: every value is checked here, at the line the admin wrote, so that `apachectl -t`
 * names the directive, the bad value and what would be accepted; nothing later re-validates.
 * Values are stored as given ("unset" until written) and defaults live only in the accessors.
 * What a value means is decided by the pure parsers in config_parse.c; this file adds the context
 * (server-wide or not, ServerRoot, the file system) and the wording of the error.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>

#include "at_acme.h"
#include "at_ca.h"
#include "at_command.h"
#include "at_core.h"
#include "at_fleet.h"
#include "at_issue.h" /* at_account_eab_key_read */
#include "at_name.h"
#include "at_orphan.h"
#include "at_secret_file.h"
#include "at_store_seal.h"
#include "config.h"
#include "notify.h"
#include "tls_policy.h"
#include "twin.h"

#define AUTOTLS_EXPECT_FLAG "use on or off"
#define AUTOTLS_EXPECT_CA "use " AT_CA_SHORTHANDS " or the https:// URL of an ACME directory"
#define AUTOTLS_EXPECT_CA_OPTIONS                                                                  \
    "a CA's options are " AT_CA_OPTIONS " (the key file owned by root or the ACME account, "       \
    "mode 0600)"
#define AUTOTLS_EXPECT_PEM "give a readable PEM file of CA certificates"
#define AUTOTLS_EXPECT_CONTACT "use an e-mail address such as admin@example.com or a mailto: URI"
#define AUTOTLS_EXPECT_STORE                                                                       \
    "give a directory, or a path where one can be created, or redis://[user@]host:port[/db]"
#define AUTOTLS_EXPECT_LOCAL "give the directory of this node's own files (live/, archive/, ...)"
#define AUTOTLS_EXPECT_SECRET                                                                      \
    "give a file readable by its owner only (chmod 600), owned by root or the ACME account"
#define AUTOTLS_EXPECT_NODE "use 1-64 of A-Z a-z 0-9 . _ - not starting with '.', e.g. web1"
#define AUTOTLS_EXPECT_PREFIX "use 1-100 printable characters without spaces, e.g. autotls:"
#define AUTOTLS_PREFIX_MAX 100
#define AUTOTLS_EXPECT_PORT "use a port number from 1 to 65535"
#define AUTOTLS_EXPECT_KEY_TYPE "use one of ec256, ec384, rsa2048, rsa3072, rsa4096"
#define AUTOTLS_EXPECT_KEY_PAIR                                                                    \
    "two key types must be one EC type and one RSA type (OpenSSL serves one certificate per "      \
    "key algorithm), e.g. ec256 rsa2048"
#define AUTOTLS_EXPECT_WINDOW "use N% (1..99) or a duration with a unit d, h, m or s, e.g. 30d, 12h"
#define AUTOTLS_EXPECT_USER "give the name of a system account (not root), e.g. autotls"
#define AUTOTLS_EXPECT_PATTERN "use host names or fnmatch patterns such as *.internal.example.com"
#define AUTOTLS_EXPECT_ORDERS "use a whole number from 1 to 64"
#define AUTOTLS_EXPECT_RATE "use N/DURATION such as 300/3h (unit d, h, m or s), or none"
#define AUTOTLS_EXPECT_EAB                                                                         \
    "give the key id from the CA and a file holding its MAC key, readable by root and the ACME "   \
    "account only (owned by one of them, chmod 600)"
#define AUTOTLS_EXPECT_COMMAND                                                                     \
    "give the path of an executable file, optionally followed by timeout=DURATION"
#define AUTOTLS_EXPECT_KEEP "use a duration with a unit d, h, m or s, e.g. 30d"
#define AUTOTLS_EXPECT_PROPAGATION "use a duration with a unit h, m or s, e.g. 2m, up to 1h"
#define AUTOTLS_TIMEOUT_OPTION "timeout="
#define AUTOTLS_EXPECT_COMMAND_TRUSTED                                                             \
    "keep it owned by root, mode 755, in root's directories (e.g. /usr/local/bin)"

static const char *autotls_set_enabled(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_ca(cmd_parms *cmd, void *dconf, const char *args);
static const char *autotls_set_ca_failover(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_ca_cert_file(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_issuer_roots(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_contact(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_store(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_store_local(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_store_key_file(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_store_password_file(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_store_prefix(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_node_name(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_acme_user(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_https_port(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_key_type(cmd_parms *cmd, void *dconf, const char *arg,
                                        const char *second);
static const char *autotls_set_renew_window(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_redirect(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_allow_private_ip(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_add_exclude(cmd_parms *cmd, void *dconf, const char *args);
static const char *autotls_set_orders_in_flight(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_ca_rate(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_eab(cmd_parms *cmd, void *dconf, const char *kid, const char *file);
static const char *autotls_set_notify_command(cmd_parms *cmd, void *dconf, const char *path,
                                              const char *option);
static const char *autotls_set_orphan_keep(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_dns_command(cmd_parms *cmd, void *dconf, const char *path,
                                           const char *option);
static const char *autotls_set_dns_propagation(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_hsts(cmd_parms *cmd, void *dconf, int argc, char *const argv[]);
static const char *autotls_set_policy(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_profile(cmd_parms *cmd, void *dconf, const char *name,
                                       const char *required);
static const char *autotls_set_challenges(cmd_parms *cmd, void *dconf, int argc,
                                          char *const argv[]);

const command_rec autotls_cmds[] = {
    AP_INIT_TAKE1("AutoTLS", autotls_set_enabled, NULL, RSRC_CONF,
                  "on|off: manage every eligible vhost (server) or this vhost"),
    AP_INIT_RAW_ARGS("AutoTLSCA", autotls_set_ca, NULL, RSRC_CONF,
                     AT_CA_SHORTHANDS " or the URL of the ACME directory, then this CA's own "
                                      "[" AT_CA_OPTIONS "]; repeat the directive for the next CA "
                                      "in failover order"),
    AP_INIT_TAKE1("AutoTLSCAFailover", autotls_set_ca_failover, NULL, RSRC_CONF,
                  "N: failed orders in a row at one CA before a site tries the next AutoTLSCA"),
    AP_INIT_TAKE1("AutoTLSCACertificateFile", autotls_set_ca_cert_file, NULL, RSRC_CONF,
                  "PEM file of the roots trusted for HTTPS to the CA"),
    AP_INIT_TAKE1("AutoTLSIssuerRoots", autotls_set_issuer_roots, NULL, RSRC_CONF,
                  "PEM file of the roots an issued chain must verify to"),
    AP_INIT_TAKE1("AutoTLSContact", autotls_set_contact, NULL, RSRC_CONF,
                  "e-mail address of the ACME account"),
    AP_INIT_TAKE1("AutoTLSStore", autotls_set_store, NULL, RSRC_CONF,
                  "directory for accounts, certificates and job state, or "
                  "redis://[user@]host:port[/db]: a store shared by a fleet of servers"),
    AP_INIT_TAKE1("AutoTLSStoreLocal", autotls_set_store_local, NULL, RSRC_CONF,
                  "with a redis:// AutoTLSStore: this node's own directory (live/, archive/, "
                  "challenges/, status/); default /var/lib/apache2/autotls"),
    AP_INIT_TAKE1("AutoTLSStoreKeyFile", autotls_set_store_key_file, NULL, RSRC_CONF,
                  "32 random bytes sealing the private keys kept in a redis:// store; readable "
                  "by root and the ACME account only"),
    AP_INIT_TAKE1("AutoTLSStorePasswordFile", autotls_set_store_password_file, NULL, RSRC_CONF,
                  "the Redis password (AUTH) of a redis:// store; readable by root and the "
                  "ACME account only"),
    AP_INIT_TAKE1("AutoTLSStorePrefix", autotls_set_store_prefix, NULL, RSRC_CONF,
                  "the prefix of every key of a redis:// store; default autotls:"),
    AP_INIT_TAKE1("AutoTLSNodeName", autotls_set_node_name, NULL, RSRC_CONF,
                  "this server's id in a fleet on a redis:// store; default the host name"),
    AP_INIT_TAKE1("AutoTLSUser", autotls_set_acme_user, NULL, RSRC_CONF,
                  "system account the ACME client (renewal process) runs as; default autotls"),
    AP_INIT_TAKE1("AutoTLSHTTPSPort", autotls_set_https_port, NULL, RSRC_CONF,
                  "port of the generated HTTPS vhosts and of redirects"),
    AP_INIT_TAKE12("AutoTLSKeyType", autotls_set_key_type, NULL, RSRC_CONF,
                   "ec256|ec384|rsa2048|rsa3072|rsa4096 [second type]: the certificate key; "
                   "with two (one EC, one RSA), a certificate for each"),
    AP_INIT_TAKE1("AutoTLSRenewWindow", autotls_set_renew_window, NULL, RSRC_CONF,
                  "N% or a duration (30d, 12h, 90m): renew when this much lifetime is left"),
    AP_INIT_TAKE1("AutoTLSRedirect", autotls_set_redirect, NULL, RSRC_CONF,
                  "on|off: redirect http to https once a certificate is live"),
    AP_INIT_RAW_ARGS("AutoTLSExclude", autotls_add_exclude, NULL, RSRC_CONF,
                     "host names or patterns never managed"),
    AP_INIT_TAKE1("AutoTLSAllowPrivateIP", autotls_set_allow_private_ip, NULL, RSRC_CONF,
                  "on|off (default off): IP-address vhosts (AutoTLS on in the vhost) may be "
                  "private, loopback or link-local addresses, for a private CA or a lab"),
    AP_INIT_TAKE1("AutoTLSOrdersInFlight", autotls_set_orders_in_flight, NULL, RSRC_CONF,
                  "1..64: orders (and ARI polls) the renewal process runs at once; default 8"),
    AP_INIT_TAKE1("AutoTLSCARate", autotls_set_ca_rate, NULL, RSRC_CONF,
                  "N/DURATION (e.g. 300/3h) or none: new orders per CA; default Let's "
                  "Encrypt's for its CAs, else none"),
    AP_INIT_TAKE2("AutoTLSEAB", autotls_set_eab, NULL, RSRC_CONF,
                  "KID HMAC-FILE: external account binding for a CA that requires it; the "
                  "MAC key in a file readable by root and the ACME account only"),
    AP_INIT_TAKE12("AutoTLSNotifyCommand", autotls_set_notify_command, NULL, RSRC_CONF,
                   "/path/to/command [timeout=DURATION]: run as the ACME account on obtained, "
                   "renewed, failed, expiring, expired, revoked, orphaned"),
    AP_INIT_TAKE1("AutoTLSOrphanKeep", autotls_set_orphan_keep, NULL, RSRC_CONF,
                  "DURATION (default 30d): how long a removed site's certificate stays in live/ "
                  "before it is archived"),
    AP_INIT_TAKE_ARGV("AutoTLSHSTS", autotls_set_hsts, NULL, RSRC_CONF,
                      "max-age=SECONDS[; includeSubDomains][; preload] or off (default): the "
                      "Strict-Transport-Security header of managed sites once their certificate "
                      "is live"),
    AP_INIT_TAKE1("AutoTLSPolicy", autotls_set_policy, NULL, RSRC_CONF,
                  AUTOTLS_POLICY_NAMES
                  ": the TLS settings of the HTTPS twins (Mozilla's "
                  "profiles; default intermediate; inherit keeps the server's SSL settings)"),
    AP_INIT_TAKE12("AutoTLSProfile", autotls_set_profile, NULL, RSRC_CONF,
                   "NAME [required] or none: the CA's certificate profile to ask for "
                   "(draft-ietf-acme-profiles, e.g. tlsserver, shortlived); without required, "
                   "a CA that does not offer it is asked without a profile"),
    AP_INIT_TAKE_ARGV("AutoTLSChallenge", autotls_set_challenges, NULL, RSRC_CONF,
                      "http-01|tls-alpn-01|dns-01 ...: the challenge types a site may be "
                      "validated by, in order (default http-01 tls-alpn-01; wildcards always "
                      "use dns-01)"),
    AP_INIT_TAKE12("AutoTLSDNSCommand", autotls_set_dns_command, NULL, RSRC_CONF,
                   "/path/to/command [timeout=DURATION]: dns-01 for wildcard aliases, run as "
                   "the ACME account as COMMAND present|cleanup FQDN VALUE (lego's exec "
                   "provider)"),
    AP_INIT_TAKE1("AutoTLSDNSPropagation", autotls_set_dns_propagation, NULL, RSRC_CONF,
                  "DURATION (default 0s): how long to wait after the DNS command before the CA "
                  "is asked to look"),
    AP_INIT_TAKE1(AUTOTLS_TWIN_DIRECTIVE, autotls_twin_cmd_marker, NULL, RSRC_CONF,
                  "set by mod_autotls on the HTTPS twins it generates (twin.c), not by hand"),
    {NULL},
};

static autotls_server_conf_t *autotls_conf_of(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &autotls_module);
}

/* The error every handler returns: directive, bad value, what is wrong, what would do. */
static const char *autotls_bad_value(cmd_parms *cmd, const char *value, const char *what,
                                     const char *expected)
{
    return apr_psprintf(cmd->pool, "%s: \"%s\" %s; %s", cmd->cmd->name, value, what, expected);
}

static const char *autotls_check_server_wide(cmd_parms *cmd)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err == NULL) {
        return NULL;
    }
    return apr_pstrcat(cmd->pool, err,
                       "; it is a server-wide setting: put it in the main server config", NULL);
}

static const char *autotls_parse_flag_arg(cmd_parms *cmd, int *flag, const char *arg)
{
    int on;

    if (autotls_parse_flag(&on, arg) != APR_SUCCESS) {
        return autotls_bad_value(cmd, arg, "is neither on nor off", AUTOTLS_EXPECT_FLAG);
    }
    *flag = on ? AUTOTLS_ON : AUTOTLS_OFF;
    return NULL;
}

/* Resolves arg against ServerRoot into *path; it must be a regular file we can open. */
static const char *autotls_readable_file(cmd_parms *cmd, const char **path, const char *arg)
{
    const char *full = ap_server_root_relative(cmd->pool, arg);
    apr_finfo_t finfo;
    apr_file_t *file;
    apr_status_t rv;

    if (full == NULL) {
        return autotls_bad_value(cmd, arg, "is not a valid path", AUTOTLS_EXPECT_PEM);
    }
    rv = apr_stat(&finfo, full, APR_FINFO_TYPE, cmd->temp_pool);
    if (rv == APR_SUCCESS && finfo.filetype != APR_REG) {
        return autotls_bad_value(cmd, full, "is not a regular file", AUTOTLS_EXPECT_PEM);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_file_open(&file, full, APR_FOPEN_READ, APR_OS_DEFAULT, cmd->temp_pool);
    }
    if (rv != APR_SUCCESS) {
        return autotls_bad_value(cmd, full,
                                 apr_psprintf(cmd->temp_pool, "cannot be read (%pm)", &rv),
                                 AUTOTLS_EXPECT_PEM);
    }
    apr_file_close(file);
    *path = full;
    return NULL;
}

/* AutoTLS is acted on where pre_config reads the tree (twin_scan.c: which vhosts get a twin);
 * here it is checked, so that `apachectl -t` refuses a bad value, and a vhost's own kept: a twin
 * has its vhost's (a copy of its lines), which decides whether its aliases may be IP addresses. */
static const char *autotls_set_enabled(cmd_parms *cmd, void *dconf, const char *arg)
{
    int enabled = AUTOTLS_UNSET;
    const char *err = autotls_parse_flag_arg(cmd, &enabled, arg);

    if (err == NULL && cmd->server->is_virtual) {
        autotls_conf_of(cmd->server)->own_autotls = enabled;
    }
    return err;
}

/* Acted on in pre_config too (twin_scan.c), like AutoTLS itself. */
static const char *autotls_set_allow_private_ip(cmd_parms *cmd, void *dconf, const char *arg)
{
    const char *err = autotls_check_server_wide(cmd);

    return err != NULL
               ? err
               : autotls_parse_flag_arg(cmd, &autotls_conf_of(cmd->server)->allow_private_ip, arg);
}

/* AutoTLSCA URL [cafile=FILE] [eab=KID:HMAC-FILE] [profile=NAME]: each line adds the next CA of
 * the failover list (at_ca.h). Files are checked here, at the line that names them. */
static const char *autotls_ca_option_files(cmd_parms *cmd, at_ca_spec_t *spec)
{
    const char *err, *full, *key = NULL, *why = NULL;

    if (spec->ca_file != NULL &&
        (err = autotls_readable_file(cmd, &spec->ca_file, spec->ca_file)) != NULL) {
        return err;
    }
    if (spec->eab_hmac_file == NULL) {
        return NULL;
    }
    if ((full = ap_server_root_relative(cmd->pool, spec->eab_hmac_file)) == NULL) {
        return autotls_bad_value(cmd, spec->eab_hmac_file, "is not a valid path",
                                 AUTOTLS_EXPECT_CA_OPTIONS);
    }
    if (at_account_eab_key_read(&key, &why, cmd->temp_pool, full) != APR_SUCCESS) {
        return autotls_bad_value(cmd, full,
                                 apr_pstrcat(cmd->temp_pool, "cannot be the key file: ", why, NULL),
                                 AUTOTLS_EXPECT_CA_OPTIONS);
    }
    spec->eab_hmac_file = full;
    return NULL;
}

static const char *autotls_set_ca(cmd_parms *cmd, void *dconf, const char *args)
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    const char *err = autotls_check_server_wide(cmd);
    const char *why = NULL, *word;
    at_ca_spec_t *spec;

    if (err != NULL) {
        return err;
    }
    word = ap_getword_conf(cmd->temp_pool, &args);
    if (*word == '\0') {
        return apr_pstrcat(cmd->pool, cmd->cmd->name,
                           " takes one argument, the CA, then its own options: ", AUTOTLS_EXPECT_CA,
                           "; then [" AT_CA_OPTIONS "]", NULL);
    }
    if (conf->cas == NULL) {
        conf->cas = apr_array_make(cmd->pool, 2, sizeof(at_ca_spec_t));
    }
    spec = apr_array_push(conf->cas);
    memset(spec, 0, sizeof(*spec));
    if (autotls_parse_ca(&spec->url, &why, cmd->pool, word) != APR_SUCCESS) {
        return autotls_bad_value(cmd, word, why, AUTOTLS_EXPECT_CA);
    }
    if (at_ca_index(conf->cas, spec->url) < conf->cas->nelts - 1) {
        return autotls_bad_value(cmd, word, "is listed twice (each CA once, in failover order)",
                                 AUTOTLS_EXPECT_CA);
    }
    while (*(word = ap_getword_conf(cmd->temp_pool, &args)) != '\0') {
        if (at_ca_spec_option(spec, &why, cmd->pool, word) != APR_SUCCESS) {
            return autotls_bad_value(cmd, word, why, AUTOTLS_EXPECT_CA_OPTIONS);
        }
    }
    if ((err = autotls_ca_option_files(cmd, spec)) != NULL) {
        return err;
    }
    conf->ca_url = APR_ARRAY_IDX(conf->cas, 0, at_ca_spec_t).url;
    return NULL;
}

static const char *autotls_set_ca_failover(cmd_parms *cmd, void *dconf, const char *arg)
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    const char *err = autotls_check_server_wide(cmd);
    char *end;
    long n;

    if (err != NULL) {
        return err;
    }
    n = strtol(arg, &end, 10);
    if (*arg == '\0' || *end != '\0' || n < 1 || n > AT_CA_FAILOVER_MAX) {
        return autotls_bad_value(cmd, arg, "is no count of failed orders",
                                 apr_psprintf(cmd->temp_pool, "use 1..%d", AT_CA_FAILOVER_MAX));
    }
    conf->ca_failover = (int)n;
    return NULL;
}

static const char *autotls_set_ca_cert_file(cmd_parms *cmd, void *dconf, const char *arg)
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    const char *err = autotls_check_server_wide(cmd);

    return err != NULL ? err : autotls_readable_file(cmd, &conf->ca_cert_file, arg);
}

static const char *autotls_set_issuer_roots(cmd_parms *cmd, void *dconf, const char *arg)
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    const char *err = autotls_check_server_wide(cmd);

    return err != NULL ? err : autotls_readable_file(cmd, &conf->issuer_roots, arg);
}

static const char *autotls_set_contact(cmd_parms *cmd, void *dconf, const char *arg)
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    const char *err = autotls_check_server_wide(cmd);
    const char *contact;

    if (err != NULL) {
        return err;
    }
    if ((contact = autotls_parse_contact(cmd->pool, arg)) == NULL) {
        return autotls_bad_value(cmd, arg, "is not an e-mail address", AUTOTLS_EXPECT_CONTACT);
    }
    conf->contact = contact;
    return NULL;
}

/* The directory form of AutoTLSStore and AutoTLSStoreLocal: the node's own files. */
static const char *autotls_store_dir_arg(cmd_parms *cmd, const char *arg, const char *expected)
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    const char *full;
    apr_finfo_t finfo;
    apr_status_t rv;

    full = *arg != '\0' ? ap_server_root_relative(cmd->pool, arg) : NULL;
    if (full == NULL) {
        return autotls_bad_value(cmd, arg, "is not a valid path", expected);
    }
    if (conf->store_dir != NULL) {
        return autotls_bad_value(cmd, arg,
                                 "is a second local store (AutoTLSStore DIR and AutoTLSStoreLocal "
                                 "name the same directory)",
                                 "give it once");
    }
    rv = apr_stat(&finfo, full, APR_FINFO_TYPE, cmd->temp_pool);
    if (rv == APR_SUCCESS && finfo.filetype != APR_DIR) {
        return autotls_bad_value(cmd, full, "exists and is not a directory", expected);
    }
    if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
        return autotls_bad_value(
            cmd, full, apr_psprintf(cmd->temp_pool, "cannot be used (%pm)", &rv), expected);
    }
    conf->store_dir = full;
    return NULL;
}

static const char *autotls_set_store(cmd_parms *cmd, void *dconf, const char *arg)
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    const char *err = autotls_check_server_wide(cmd);
    at_store_redis_url_t url;
    const char *why = NULL;

    if (err != NULL) {
        return err;
    }
    if (!at_store_redis_url_is_redis(arg)) {
        return autotls_store_dir_arg(cmd, arg, AUTOTLS_EXPECT_STORE);
    }
    if (at_store_redis_url_parse(&url, &why, cmd->temp_pool, arg) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, why);
    }
    conf->store_url = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

static const char *autotls_set_store_local(cmd_parms *cmd, void *dconf, const char *arg)
{
    const char *err = autotls_check_server_wide(cmd);

    return err != NULL ? err : autotls_store_dir_arg(cmd, arg, AUTOTLS_EXPECT_LOCAL);
}

/* The key and password files are read here only to refuse a bad one at the line that names it;
 * they are not kept: the renewal process and the activator read them again (store_shared.c),
 * and who owns them is checked in check_config (store_shared.c), once the ACME account is
 * known. */
static const char *autotls_secret_file_arg(cmd_parms *cmd, const char **out, const char *arg,
                                           int is_key)
{
    const char *err = autotls_check_server_wide(cmd), *full, *why = NULL;
    at_store_seal_key_t *key;
    apr_size_t len;
    char *data;
    apr_status_t rv;

    if (err != NULL) {
        return err;
    }
    if ((full = ap_server_root_relative(cmd->pool, arg)) == NULL) {
        return autotls_bad_value(cmd, arg, "is not a valid path", AUTOTLS_EXPECT_SECRET);
    }
    rv = is_key ? at_store_seal_key_read(&key, &why, cmd->temp_pool, full)
                : at_secret_file_read(&data, &len, &why, cmd->temp_pool, full, "the Redis password",
                                      AT_STORE_REDIS_PASSWORD_MAX);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, why);
    }
    *out = full;
    return NULL;
}

static const char *autotls_set_store_key_file(cmd_parms *cmd, void *dconf, const char *arg)
{
    return autotls_secret_file_arg(cmd, &autotls_conf_of(cmd->server)->store_key_file, arg, 1);
}

static const char *autotls_set_store_password_file(cmd_parms *cmd, void *dconf, const char *arg)
{
    return autotls_secret_file_arg(cmd, &autotls_conf_of(cmd->server)->store_password_file, arg, 0);
}

static const char *autotls_set_store_prefix(cmd_parms *cmd, void *dconf, const char *arg)
{
    const char *err = autotls_check_server_wide(cmd), *c;

    if (err != NULL) {
        return err;
    }
    for (c = arg; *c != '\0' && apr_isgraph(*c); c++) {
    }
    if (*arg == '\0' || *c != '\0' || c - arg > AUTOTLS_PREFIX_MAX) {
        return autotls_bad_value(cmd, arg, "is no key prefix", AUTOTLS_EXPECT_PREFIX);
    }
    autotls_conf_of(cmd->server)->store_prefix = arg;
    return NULL;
}

static const char *autotls_set_node_name(cmd_parms *cmd, void *dconf, const char *arg)
{
    const char *err = autotls_check_server_wide(cmd);

    if (err != NULL) {
        return err;
    }
    if (!at_fleet_node_valid(arg)) {
        return autotls_bad_value(cmd, arg, "is no node id", AUTOTLS_EXPECT_NODE);
    }
    autotls_conf_of(cmd->server)->node_name = arg;
    return NULL;
}

/* The account is looked up at startup (site.c), where a missing one falls back with a WARNING:
 * here only what can never be an account, and root, which would defeat the separation. */
static const char *autotls_set_acme_user(cmd_parms *cmd, void *dconf, const char *arg)
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    const char *err = autotls_check_server_wide(cmd);

    if (err != NULL) {
        return err;
    }
    if (*arg == '\0' || strcmp(arg, "root") == 0 || strchr(arg, '/') != NULL ||
        strchr(arg, ':') != NULL) {
        return autotls_bad_value(cmd, arg, "cannot be the ACME account", AUTOTLS_EXPECT_USER);
    }
    conf->acme_user = arg;
    return NULL;
}

static const char *autotls_set_https_port(cmd_parms *cmd, void *dconf, const char *arg)
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    const char *err = autotls_check_server_wide(cmd);
    int port;

    if (err != NULL) {
        return err;
    }
    if (autotls_parse_port(&port, arg) != APR_SUCCESS) {
        return autotls_bad_value(cmd, arg, "is not a port number", AUTOTLS_EXPECT_PORT);
    }
    conf->https_port = port;
    return NULL;
}

static const char *autotls_set_key_type(cmd_parms *cmd, void *dconf, const char *arg,
                                        const char *second)
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    at_key_type_e type, other;

    if (at_key_type_parse(&type, arg) != APR_SUCCESS) {
        return autotls_bad_value(cmd, arg, "is not a key type", AUTOTLS_EXPECT_KEY_TYPE);
    }
    if (second != NULL && at_key_type_parse(&other, second) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: \"%s %s\": \"%s\" is not a key type; %s",
                            cmd->cmd->name, arg, second, second, AUTOTLS_EXPECT_KEY_TYPE);
    }
    if (second != NULL && !at_key_types_pair(type, other)) {
        return apr_psprintf(cmd->pool, "%s: \"%s %s\": %s", cmd->cmd->name, arg, second,
                            AUTOTLS_EXPECT_KEY_PAIR);
    }
    conf->key_type = (int)type;
    conf->key_type_second = second != NULL ? (int)other : AUTOTLS_KEY_TYPE_NONE;
    return NULL;
}

static const char *autotls_set_renew_window(cmd_parms *cmd, void *dconf, const char *arg)
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    const char *why = NULL;

    if (autotls_parse_window(&conf->renew_window, &why, arg) != APR_SUCCESS) {
        return autotls_bad_value(cmd, arg, why, AUTOTLS_EXPECT_WINDOW);
    }
    return NULL;
}

static const char *autotls_set_redirect(cmd_parms *cmd, void *dconf, const char *arg)
{
    return autotls_parse_flag_arg(cmd, &autotls_conf_of(cmd->server)->redirect, arg);
}

/* Raw arguments, so that an empty quoted pattern is refused instead of ending the list. */
static const char *autotls_add_exclude(cmd_parms *cmd, void *dconf, const char *args)
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    const char *err = autotls_check_server_wide(cmd), *bad, *why;

    if (err != NULL) {
        return err;
    }
    if (*args == '\0') {
        return apr_pstrcat(cmd->pool, cmd->cmd->name, ": needs one or more patterns; ",
                           AUTOTLS_EXPECT_PATTERN, NULL);
    }
    if (conf->exclude == NULL) {
        conf->exclude = apr_array_make(cmd->pool, 1, sizeof(const char *));
    }
    if (!autotls_config_read_exclude(cmd->pool, args, conf->exclude, &bad, &why)) {
        return autotls_bad_value(cmd, bad, why, AUTOTLS_EXPECT_PATTERN);
    }
    return NULL;
}

int autotls_config_read_exclude(apr_pool_t *p, const char *args, apr_array_header_t *patterns,
                                const char **bad, const char **why)
{
    while (*args != '\0') {
        char *pattern = ap_getword_conf(p, &args);

        if ((*why = autotls_pattern_problem(pattern)) != NULL) {
            *bad = pattern;
            return 0;
        }
        ap_str_tolower(pattern);
        APR_ARRAY_PUSH(patterns, const char *) = pattern;
    }
    return 1;
}

static const char *autotls_set_orders_in_flight(cmd_parms *cmd, void *dconf, const char *arg)
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    const char *err = autotls_check_server_wide(cmd);

    if (err != NULL) {
        return err;
    }
    if (autotls_parse_orders_in_flight(&conf->orders_in_flight, arg) != APR_SUCCESS) {
        return autotls_bad_value(cmd, arg, "is not a number of orders", AUTOTLS_EXPECT_ORDERS);
    }
    return NULL;
}

static const char *autotls_set_ca_rate(cmd_parms *cmd, void *dconf, const char *arg)
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    const char *err = autotls_check_server_wide(cmd);
    const char *why = NULL;

    if (err != NULL) {
        return err;
    }
    if (autotls_parse_ca_rate(&conf->ca_rate, &why, arg) != APR_SUCCESS) {
        return autotls_bad_value(cmd, arg, why, AUTOTLS_EXPECT_RATE);
    }
    conf->ca_rate_set = AUTOTLS_ON;
    return NULL;
}

/* The key is read here only to refuse a bad file at the line that names it (`apachectl -t`);
 * it is not kept: the renewal process reads it again when it registers the account. */
static const char *autotls_set_eab(cmd_parms *cmd, void *dconf, const char *kid, const char *file)
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    const char *err = autotls_check_server_wide(cmd);
    const char *full, *key = NULL, *why = NULL;
    const char *c;

    if (err != NULL) {
        return err;
    }
    for (c = kid; *c != '\0' && apr_isgraph(*c); c++) {
    }
    if (*kid == '\0' || *c != '\0') {
        return autotls_bad_value(cmd, kid, "is not a key id", AUTOTLS_EXPECT_EAB);
    }
    if ((full = ap_server_root_relative(cmd->pool, file)) == NULL) {
        return autotls_bad_value(cmd, file, "is not a valid path", AUTOTLS_EXPECT_EAB);
    }
    if (at_account_eab_key_read(&key, &why, cmd->temp_pool, full) != APR_SUCCESS) {
        return autotls_bad_value(cmd, full,
                                 apr_pstrcat(cmd->temp_pool, "cannot be the key file: ", why, NULL),
                                 AUTOTLS_EXPECT_EAB);
    }
    conf->eab_kid = kid;
    conf->eab_hmac_file = full;
    return NULL;
}

/* A duration (not a percentage) of the directive, into *out. */
static const char *autotls_duration_arg(cmd_parms *cmd, apr_interval_time_t *out, const char *arg,
                                        const char *expected)
{
    autotls_window_t window;
    const char *why = NULL;

    if (autotls_parse_window(&window, &why, arg) != APR_SUCCESS) {
        return autotls_bad_value(cmd, arg, why, expected);
    }
    if (window.kind != AUTOTLS_WINDOW_DURATION) {
        return autotls_bad_value(cmd, arg, "is a percentage, not a duration", expected);
    }
    *out = window.duration;
    return NULL;
}

/* A command directive's "/path [timeout=DURATION]" (AutoTLSNotifyCommand, AutoTLSDNSCommand):
 * an absolute path to an executable file, and a time limit from 1 s to max. */
static const char *autotls_command_arg(cmd_parms *cmd, const char *path, const char *option,
                                       apr_interval_time_t *timeout, apr_interval_time_t max)
{
    const char *err = autotls_check_server_wide(cmd), *why = NULL;
    apr_finfo_t finfo;

    if (err != NULL) {
        return err;
    }
    if (path[0] != '/') {
        return autotls_bad_value(cmd, path, "is not an absolute path", AUTOTLS_EXPECT_COMMAND);
    }
    if (apr_stat(&finfo, path, APR_FINFO_TYPE | APR_FINFO_PROT, cmd->temp_pool) != APR_SUCCESS ||
        finfo.filetype != APR_REG ||
        (finfo.protection & (APR_FPROT_UEXECUTE | APR_FPROT_GEXECUTE | APR_FPROT_WEXECUTE)) == 0) {
        return autotls_bad_value(cmd, path, "is not an executable file", AUTOTLS_EXPECT_COMMAND);
    }
    if (!at_command_file_trusted(path, &why, cmd->temp_pool)) {
        return autotls_bad_value(cmd, path,
                                 apr_pstrcat(cmd->temp_pool,
                                             "could be changed by someone other than root (", why,
                                             "), and it runs as the ACME account", NULL),
                                 AUTOTLS_EXPECT_COMMAND_TRUSTED);
    }
    if (option != NULL) {
        const char *both = apr_pstrcat(cmd->temp_pool, path, " ", option, NULL);

        if (strncmp(option, AUTOTLS_TIMEOUT_OPTION, strlen(AUTOTLS_TIMEOUT_OPTION)) != 0) {
            return autotls_bad_value(cmd, both, "has an option other than timeout=DURATION",
                                     AUTOTLS_EXPECT_COMMAND);
        }
        if (autotls_duration_arg(cmd, timeout, option + strlen(AUTOTLS_TIMEOUT_OPTION),
                                 AUTOTLS_EXPECT_COMMAND) != NULL ||
            *timeout < apr_time_from_sec(1) || *timeout > max) {
            return autotls_bad_value(
                cmd, both,
                apr_psprintf(cmd->temp_pool, "has a timeout that is no duration from 1s to %ds",
                             (int)apr_time_sec(max)),
                AUTOTLS_EXPECT_COMMAND);
        }
    }
    return NULL;
}

static const char *autotls_set_notify_command(cmd_parms *cmd, void *dconf, const char *path,
                                              const char *option)
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    apr_interval_time_t timeout = AUTOTLS_NOTIFY_TIMEOUT_DEFAULT;
    const char *err = autotls_command_arg(cmd, path, option, &timeout, AUTOTLS_NOTIFY_TIMEOUT_MAX);

    if (err != NULL) {
        return err;
    }
    conf->notify_command = path;
    conf->notify_timeout = timeout;
    return NULL;
}

static const char *autotls_set_dns_command(cmd_parms *cmd, void *dconf, const char *path,
                                           const char *option)
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    apr_interval_time_t timeout = AUTOTLS_DNS_TIMEOUT_DEFAULT;
    const char *err = autotls_command_arg(cmd, path, option, &timeout, AUTOTLS_DNS_TIMEOUT_MAX);

    if (err != NULL) {
        return err;
    }
    conf->dns_command = path;
    conf->dns_timeout = timeout;
    return NULL;
}

static const char *autotls_set_dns_propagation(cmd_parms *cmd, void *dconf, const char *arg)
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    const char *err = autotls_check_server_wide(cmd);

    if (err == NULL) {
        err = autotls_duration_arg(cmd, &conf->dns_propagation, arg, AUTOTLS_EXPECT_PROPAGATION);
    }
    if (err == NULL && conf->dns_propagation > AUTOTLS_DNS_PROPAGATION_MAX) {
        return autotls_bad_value(cmd, arg, "is longer than an order may wait (1h)",
                                 AUTOTLS_EXPECT_PROPAGATION);
    }
    return err;
}

static const char *autotls_set_orphan_keep(cmd_parms *cmd, void *dconf, const char *arg)
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    const char *err = autotls_check_server_wide(cmd);

    return err != NULL ? err
                       : autotls_duration_arg(cmd, &conf->orphan_keep, arg, AUTOTLS_EXPECT_KEEP);
}

/* Words as written (quoted or not) joined by one space: "max-age=300; includeSubDomains". */
static const char *autotls_set_hsts(cmd_parms *cmd, void *dconf, int argc, char *const argv[])
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    const char *text = "", *why = NULL;
    int i;

    if (argc < 1) {
        return apr_pstrcat(cmd->pool, cmd->cmd->name,
                           ": needs max-age=SECONDS (with includeSubDomains and preload if "
                           "wanted) or off",
                           NULL);
    }
    for (i = 0; i < argc; i++) {
        text = i == 0 ? argv[i] : apr_pstrcat(cmd->temp_pool, text, " ", argv[i], NULL);
    }
    if (autotls_parse_hsts(&conf->hsts, &why, cmd->pool, text) != APR_SUCCESS) {
        return autotls_bad_value(cmd, text, why,
                                 "expected max-age=SECONDS[; includeSubDomains][; preload] or off");
    }
    return NULL;
}

static const char *autotls_set_policy(cmd_parms *cmd, void *dconf, const char *arg)
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    const char *err = autotls_check_server_wide(cmd);
    autotls_tls_policy_e policy;

    if (err != NULL) {
        return err;
    }
    if (autotls_tls_policy_parse(&policy, arg) != APR_SUCCESS) {
        return autotls_bad_value(cmd, arg, "is no policy", "expected " AUTOTLS_POLICY_NAMES);
    }
    conf->tls_policy = (int)policy;
    return NULL;
}

static const char *autotls_set_profile(cmd_parms *cmd, void *dconf, const char *name,
                                       const char *required)
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    const char *both =
        required != NULL ? apr_pstrcat(cmd->temp_pool, name, " ", required, NULL) : name;

    if (!at_acme_profile_name_valid(name)) {
        return autotls_bad_value(cmd, both, "is no profile name",
                                 "expected a name the CA lists (letters, digits, '.', '_', '-') "
                                 "or none");
    }
    if (required != NULL && strcasecmp(required, "required") != 0) {
        return autotls_bad_value(cmd, both, "ends in a word that is not \"required\"",
                                 "expected NAME, NAME required, or none");
    }
    if (strcasecmp(name, "none") == 0) {
        if (required != NULL) {
            return autotls_bad_value(cmd, both, "requires no profile at all",
                                     "expected AutoTLSProfile none alone");
        }
        conf->profile = "";
        return NULL;
    }
    conf->profile = apr_pstrdup(cmd->pool, name);
    conf->profile_required = required != NULL;
    return NULL;
}

static const char *autotls_set_challenges(cmd_parms *cmd, void *dconf, int argc, char *const argv[])
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    apr_array_header_t *types;
    const char *bad, *why;

    if (autotls_parse_challenges(&types, &bad, &why, cmd->pool, argc, argv) != APR_SUCCESS) {
        return autotls_bad_value(cmd, bad, why,
                                 "expected one or more of http-01, tls-alpn-01, dns-01, each "
                                 "once, in the order to try them");
    }
    conf->challenges = types;
    return NULL;
}

void *autotls_config_create_server(apr_pool_t *p, server_rec *s)
{
    autotls_server_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    conf->https_port = AUTOTLS_UNSET;
    conf->key_type = AUTOTLS_UNSET;
    conf->key_type_second = AUTOTLS_KEY_TYPE_NONE;
    conf->renew_window.kind = AUTOTLS_WINDOW_UNSET;
    conf->redirect = AUTOTLS_UNSET;
    conf->own_autotls = AUTOTLS_UNSET;
    conf->allow_private_ip = AUTOTLS_UNSET;
    conf->orders_in_flight = AUTOTLS_UNSET;
    conf->ca_rate_set = AUTOTLS_UNSET;
    conf->ca_failover = AUTOTLS_UNSET;
    conf->tls_policy = AUTOTLS_UNSET;
    return conf;
}

static int autotls_pick_int(int add, int base)
{
    return add != AUTOTLS_UNSET ? add : base;
}

static const char *autotls_pick_str(const char *add, const char *base)
{
    return add != NULL ? add : base;
}

void *autotls_config_merge_server(apr_pool_t *p, void *base_conf, void *add_conf)
{
    const autotls_server_conf_t *base = base_conf;
    const autotls_server_conf_t *add = add_conf;
    autotls_server_conf_t *merged = apr_pcalloc(p, sizeof(*merged));

    merged->ca_url = autotls_pick_str(add->ca_url, base->ca_url);
    merged->cas = add->cas != NULL ? add->cas : base->cas;
    merged->ca_failover = autotls_pick_int(add->ca_failover, base->ca_failover);
    merged->ca_cert_file = autotls_pick_str(add->ca_cert_file, base->ca_cert_file);
    merged->issuer_roots = autotls_pick_str(add->issuer_roots, base->issuer_roots);
    merged->contact = autotls_pick_str(add->contact, base->contact);
    merged->store_dir = autotls_pick_str(add->store_dir, base->store_dir);
    merged->store_url = autotls_pick_str(add->store_url, base->store_url);
    merged->store_key_file = autotls_pick_str(add->store_key_file, base->store_key_file);
    merged->store_password_file =
        autotls_pick_str(add->store_password_file, base->store_password_file);
    merged->store_prefix = autotls_pick_str(add->store_prefix, base->store_prefix);
    merged->node_name = autotls_pick_str(add->node_name, base->node_name);
    merged->acme_user = autotls_pick_str(add->acme_user, base->acme_user);
    merged->https_port = autotls_pick_int(add->https_port, base->https_port);
    merged->key_type = autotls_pick_int(add->key_type, base->key_type);
    /* the types go together: a vhost's one type replaces the server's two */
    merged->key_type_second =
        add->key_type != AUTOTLS_UNSET ? add->key_type_second : base->key_type_second;
    merged->renew_window =
        add->renew_window.kind != AUTOTLS_WINDOW_UNSET ? add->renew_window : base->renew_window;
    merged->redirect = autotls_pick_int(add->redirect, base->redirect);
    merged->exclude = add->exclude != NULL ? add->exclude : base->exclude;
    merged->orders_in_flight = autotls_pick_int(add->orders_in_flight, base->orders_in_flight);
    merged->ca_rate_set = autotls_pick_int(add->ca_rate_set, base->ca_rate_set);
    merged->ca_rate = add->ca_rate_set != AUTOTLS_UNSET ? add->ca_rate : base->ca_rate;
    merged->twin_origin = add->twin_origin; /* never inherited from the main server */
    merged->own_autotls = add->own_autotls; /* the vhost's own, by definition */
    merged->allow_private_ip = autotls_pick_int(add->allow_private_ip, base->allow_private_ip);
    merged->eab_kid = autotls_pick_str(add->eab_kid, base->eab_kid);
    merged->eab_hmac_file = autotls_pick_str(add->eab_hmac_file, base->eab_hmac_file);
    merged->notify_command = autotls_pick_str(add->notify_command, base->notify_command);
    merged->notify_timeout =
        add->notify_command != NULL ? add->notify_timeout : base->notify_timeout;
    merged->orphan_keep = add->orphan_keep != 0 ? add->orphan_keep : base->orphan_keep;
    merged->hsts = autotls_pick_str(add->hsts, base->hsts);
    merged->dns_command = autotls_pick_str(add->dns_command, base->dns_command);
    merged->dns_timeout = add->dns_command != NULL ? add->dns_timeout : base->dns_timeout;
    merged->dns_propagation =
        add->dns_propagation != 0 ? add->dns_propagation : base->dns_propagation;
    merged->tls_policy = autotls_pick_int(add->tls_policy, base->tls_policy);
    merged->profile = autotls_pick_str(add->profile, base->profile);
    merged->challenges = add->challenges != NULL ? add->challenges : base->challenges;
    merged->profile_required =
        add->profile != NULL ? add->profile_required : base->profile_required;
    return merged;
}

const char *autotls_config_ca_url(const server_rec *s)
{
    return autotls_pick_str(autotls_conf_of(s)->ca_url, AUTOTLS_CA_DEFAULT);
}

const apr_array_header_t *autotls_config_cas(apr_pool_t *p, const server_rec *s)
{
    const autotls_server_conf_t *conf = autotls_conf_of(s);
    apr_array_header_t *cas = apr_array_make(p, 2, sizeof(at_ca_spec_t));
    at_ca_spec_t *first;
    int i;

    for (i = 0; conf->cas != NULL && i < conf->cas->nelts; i++) {
        APR_ARRAY_PUSH(cas, at_ca_spec_t) = APR_ARRAY_IDX(conf->cas, i, at_ca_spec_t);
    }
    if (cas->nelts == 0) {
        first = apr_array_push(cas);
        memset(first, 0, sizeof(*first));
        first->url = AUTOTLS_CA_DEFAULT;
    }
    /* The first CA is "the CA" of the one-CA directives, unless its own options say otherwise. */
    first = &APR_ARRAY_IDX(cas, 0, at_ca_spec_t);
    if (first->ca_file == NULL) {
        first->ca_file = conf->ca_cert_file;
    }
    if (first->eab_kid == NULL) {
        first->eab_kid = conf->eab_kid;
        first->eab_hmac_file = conf->eab_hmac_file;
    }
    return cas;
}

int autotls_config_ca_failover(const server_rec *s)
{
    int n = autotls_conf_of(s)->ca_failover;

    return n != AUTOTLS_UNSET ? n : AT_CA_FAILOVER_DEFAULT;
}

const char *autotls_config_ca_cert_file(const server_rec *s)
{
    return autotls_conf_of(s)->ca_cert_file;
}

const char *autotls_config_issuer_roots(const server_rec *s)
{
    return autotls_conf_of(s)->issuer_roots;
}

const char *autotls_config_contact(apr_pool_t *p, const server_rec *s)
{
    const char *admin;

    if (autotls_conf_of(s)->contact != NULL) {
        return autotls_conf_of(s)->contact;
    }
    admin = s->server_admin != NULL ? autotls_strip_mailto(s->server_admin) : "";
    return autotls_is_email(admin) ? apr_pstrcat(p, AUTOTLS_MAILTO, admin, NULL) : NULL;
}

const char *autotls_config_store_dir_given(const server_rec *s)
{
    return autotls_conf_of(s)->store_dir;
}

const at_store_redis_conf_t *autotls_config_store_redis(apr_pool_t *p, const server_rec *s)
{
    const autotls_server_conf_t *conf = autotls_conf_of(s);
    at_store_redis_conf_t *redis;

    if (conf->store_url == NULL) {
        return NULL;
    }
    redis = apr_pcalloc(p, sizeof(*redis));
    redis->url = conf->store_url;
    redis->key_file = conf->store_key_file;
    redis->password_file = conf->store_password_file;
    redis->prefix = conf->store_prefix;
    return redis;
}

const char *autotls_config_node_name(const server_rec *s)
{
    return autotls_conf_of(s)->node_name;
}

const char *autotls_config_acme_user(const server_rec *s)
{
    return autotls_pick_str(autotls_conf_of(s)->acme_user, AUTOTLS_ACME_USER_DEFAULT);
}

int autotls_config_https_port(const server_rec *s)
{
    return autotls_pick_int(autotls_conf_of(s)->https_port, AUTOTLS_HTTPS_PORT_DEFAULT);
}

at_key_type_e autotls_config_key_type(const server_rec *s)
{
    int type = autotls_conf_of(s)->key_type;

    return type != AUTOTLS_UNSET ? (at_key_type_e)type : AT_KEY_TYPE_DEFAULT;
}

int autotls_config_key_type_second(const server_rec *s, at_key_type_e *type)
{
    int second = autotls_conf_of(s)->key_type_second;

    if (second == AUTOTLS_KEY_TYPE_NONE) {
        return 0;
    }
    *type = (at_key_type_e)second;
    return 1;
}

autotls_window_t autotls_config_renew_window(const server_rec *s)
{
    return autotls_conf_of(s)->renew_window;
}

unsigned autotls_config_name_allow(int vhost_autotls, int allow_private_ip)
{
    if (vhost_autotls != AUTOTLS_ON) {
        return 0; /* the server-wide AutoTLS never manages an IP address */
    }
    return AT_NAME_ALLOW_IP | (allow_private_ip == AUTOTLS_ON ? AT_NAME_ALLOW_PRIVATE_IP : 0);
}

unsigned autotls_config_name_allow_of(const server_rec *s)
{
    const autotls_server_conf_t *conf = autotls_conf_of(s);

    return autotls_config_name_allow(conf->own_autotls, conf->allow_private_ip);
}

int autotls_config_redirect(const server_rec *s)
{
    return autotls_pick_int(autotls_conf_of(s)->redirect, AUTOTLS_ON) == AUTOTLS_ON;
}

const apr_array_header_t *autotls_config_exclude(const server_rec *s)
{
    static const apr_array_header_t autotls_no_patterns = {NULL, sizeof(const char *), 0, 0, NULL};
    const apr_array_header_t *exclude = autotls_conf_of(s)->exclude;

    return exclude != NULL ? exclude : &autotls_no_patterns;
}

int autotls_config_orders_in_flight(const server_rec *s)
{
    return autotls_pick_int(autotls_conf_of(s)->orders_in_flight, AUTOTLS_ORDERS_IN_FLIGHT_DEFAULT);
}

at_rate_t autotls_config_ca_rate(const server_rec *s)
{
    const autotls_server_conf_t *conf = autotls_conf_of(s);

    if (conf->ca_rate_set == AUTOTLS_ON) {
        return conf->ca_rate;
    }
    return at_rate_default(autotls_config_ca_url(s));
}

const char *autotls_config_eab_kid(const server_rec *s)
{
    return autotls_conf_of(s)->eab_kid;
}

const char *autotls_config_eab_hmac_file(const server_rec *s)
{
    return autotls_conf_of(s)->eab_hmac_file;
}

const char *autotls_config_notify_command(const server_rec *s)
{
    return autotls_conf_of(s)->notify_command;
}

apr_interval_time_t autotls_config_notify_timeout(const server_rec *s)
{
    apr_interval_time_t timeout = autotls_conf_of(s)->notify_timeout;

    return timeout > 0 ? timeout : AUTOTLS_NOTIFY_TIMEOUT_DEFAULT;
}

apr_interval_time_t autotls_config_orphan_keep(const server_rec *s)
{
    apr_interval_time_t keep = autotls_conf_of(s)->orphan_keep;

    return keep > 0 ? keep : AT_ORPHAN_KEEP_DEFAULT;
}

const char *autotls_config_hsts(const server_rec *s)
{
    const char *hsts = autotls_conf_of(s)->hsts;

    return hsts != NULL && *hsts != '\0' ? hsts : NULL;
}

int autotls_config_tls_policy(const server_rec *s)
{
    return autotls_pick_int(autotls_conf_of(s)->tls_policy, AUTOTLS_POLICY_DEFAULT);
}

const apr_array_header_t *autotls_config_challenges(apr_pool_t *p, const server_rec *s)
{
    const apr_array_header_t *given = autotls_conf_of(s)->challenges;

    return given != NULL ? given : at_issue_challenges_default(p);
}

const char *autotls_config_profile(const server_rec *s, int *required)
{
    const autotls_server_conf_t *conf = autotls_conf_of(s);

    *required = conf->profile_required;
    return conf->profile != NULL && *conf->profile != '\0' ? conf->profile : NULL;
}

const char *autotls_config_dns_command(const server_rec *s)
{
    return autotls_conf_of(s)->dns_command;
}

apr_interval_time_t autotls_config_dns_timeout(const server_rec *s)
{
    apr_interval_time_t timeout = autotls_conf_of(s)->dns_timeout;

    return timeout > 0 ? timeout : AUTOTLS_DNS_TIMEOUT_DEFAULT;
}

apr_interval_time_t autotls_config_dns_propagation(const server_rec *s)
{
    return autotls_conf_of(s)->dns_propagation;
}
