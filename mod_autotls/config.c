/*
 * config.c: the AutoTLS* directives, the per-server configuration and its accessors.
 *
 * The one idea: every value is checked here, at the line the admin wrote, so that `apachectl -t`
 * names the directive, the bad value and what would be accepted; nothing later re-validates.
 * Values are stored as given ("unset" until written) and defaults live only in the accessors.
 */
#include <string.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_uri.h>

#include <httpd.h>
#include <http_config.h>

#include "at_core.h"
#include "config.h"
#include "twin.h"

#define AUTOTLS_DECIMAL_BASE 10
#define AUTOTLS_USEC_PER_MINUTE (60 * APR_USEC_PER_SEC)
#define AUTOTLS_USEC_PER_HOUR (60 * AUTOTLS_USEC_PER_MINUTE)
#define AUTOTLS_USEC_PER_DAY (24 * AUTOTLS_USEC_PER_HOUR)
#define AUTOTLS_DNS_LABEL_MAX 63
#define AUTOTLS_DNS_NAME_MAX 253
#define AUTOTLS_MAILTO "mailto:"

#define AUTOTLS_EXPECT_FLAG "use on or off"
#define AUTOTLS_EXPECT_CA                                                                          \
    "use letsencrypt, letsencrypt-staging or the https:// URL of an ACME directory"
#define AUTOTLS_EXPECT_PEM "give a readable PEM file of CA certificates"
#define AUTOTLS_EXPECT_CONTACT "use an e-mail address such as admin@example.com or a mailto: URI"
#define AUTOTLS_EXPECT_STORE "give a directory, or a path where one can be created"
#define AUTOTLS_EXPECT_PORT "use a port number from 1 to 65535"
#define AUTOTLS_EXPECT_KEY_TYPE "use one of ec256, ec384, rsa2048, rsa3072, rsa4096"
#define AUTOTLS_EXPECT_WINDOW "use N% (1..99) or a duration with a unit d, h, m or s, e.g. 30d, 12h"
#define AUTOTLS_EXPECT_PATTERN "use host names or fnmatch patterns such as *.internal.example.com"

static const char *autotls_set_enabled(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_ca(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_ca_cert_file(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_issuer_roots(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_contact(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_store(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_https_port(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_key_type(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_renew_window(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_set_redirect(cmd_parms *cmd, void *dconf, const char *arg);
static const char *autotls_add_exclude(cmd_parms *cmd, void *dconf, const char *args);

const command_rec autotls_cmds[] = {
    AP_INIT_TAKE1("AutoTLS", autotls_set_enabled, NULL, RSRC_CONF,
                  "on|off: manage every eligible vhost (server) or this vhost"),
    AP_INIT_TAKE1("AutoTLSCA", autotls_set_ca, NULL, RSRC_CONF,
                  "letsencrypt|letsencrypt-staging|URL of the ACME directory"),
    AP_INIT_TAKE1("AutoTLSCACertificateFile", autotls_set_ca_cert_file, NULL, RSRC_CONF,
                  "PEM file of the roots trusted for HTTPS to the CA"),
    AP_INIT_TAKE1("AutoTLSIssuerRoots", autotls_set_issuer_roots, NULL, RSRC_CONF,
                  "PEM file of the roots an issued chain must verify to"),
    AP_INIT_TAKE1("AutoTLSContact", autotls_set_contact, NULL, RSRC_CONF,
                  "e-mail address of the ACME account"),
    AP_INIT_TAKE1("AutoTLSStore", autotls_set_store, NULL, RSRC_CONF,
                  "directory for accounts, certificates and job state"),
    AP_INIT_TAKE1("AutoTLSHTTPSPort", autotls_set_https_port, NULL, RSRC_CONF,
                  "port of the generated HTTPS vhosts and of redirects"),
    AP_INIT_TAKE1("AutoTLSKeyType", autotls_set_key_type, NULL, RSRC_CONF,
                  "ec256|ec384|rsa2048|rsa3072|rsa4096: the certificate key"),
    AP_INIT_TAKE1("AutoTLSRenewWindow", autotls_set_renew_window, NULL, RSRC_CONF,
                  "N% or a duration (30d, 12h, 90m): renew when this much lifetime is left"),
    AP_INIT_TAKE1("AutoTLSRedirect", autotls_set_redirect, NULL, RSRC_CONF,
                  "on|off: redirect http to https once a certificate is live"),
    AP_INIT_RAW_ARGS("AutoTLSExclude", autotls_add_exclude, NULL, RSRC_CONF,
                     "host names or patterns never managed"),
    AP_INIT_TAKE1(AUTOTLS_TWIN_DIRECTIVE, autotls_twin_cmd_marker, NULL, RSRC_CONF,
                  "set by mod_autotls on the HTTPS twins it generates (twin.c), not by hand"),
    {NULL},
};

/* Microseconds per unit of an AutoTLSRenewWindow duration. */
static const struct {
    char unit;
    apr_int64_t usec;
} autotls_window_units[] = {
    {'d', AUTOTLS_USEC_PER_DAY},
    {'h', AUTOTLS_USEC_PER_HOUR},
    {'m', AUTOTLS_USEC_PER_MINUTE},
    {'s', APR_USEC_PER_SEC},
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

/*
 * Reads the decimal digits at the start of text into *value. Returns the first character after
 * them (text itself when there is none), or NULL when the number exceeds limit.
 */
static const char *autotls_scan_uint(const char *text, apr_int64_t limit, apr_int64_t *value)
{
    apr_int64_t n = 0;
    const char *c;

    for (c = text; apr_isdigit(*c); c++) {
        int digit = *c - '0';

        if (n > (limit - digit) / AUTOTLS_DECIMAL_BASE) {
            return NULL;
        }
        n = n * AUTOTLS_DECIMAL_BASE + digit;
    }
    *value = n;
    return c;
}

/* Whether name is a fully qualified DNS name: two labels or more of letters, digits, hyphens. */
static int autotls_is_dns_name(const char *name)
{
    apr_size_t label = 0;
    int labels = 1;
    const char *c;

    if (strlen(name) > AUTOTLS_DNS_NAME_MAX) {
        return 0;
    }
    for (c = name; *c != '\0'; c++) {
        if (*c == '.') {
            if (label == 0 || c[-1] == '-') {
                return 0;
            }
            label = 0;
            labels++;
        } else if (apr_isalnum(*c) || (*c == '-' && label > 0)) {
            if (++label > AUTOTLS_DNS_LABEL_MAX) {
                return 0;
            }
        } else {
            return 0;
        }
    }
    return label > 0 && c[-1] != '-' && labels > 1;
}

/* Whether addr looks like local@domain.tld, without any mailto: prefix. */
static int autotls_is_email(const char *addr)
{
    const char *at = strchr(addr, '@');
    const char *c;

    if (at == NULL || at == addr || strchr(at + 1, '@') != NULL) {
        return 0;
    }
    for (c = addr; c < at; c++) {
        if (!apr_isgraph(*c) || strchr("<>()[]\\,;:\"", *c) != NULL) {
            return 0;
        }
    }
    return autotls_is_dns_name(at + 1);
}

/* addr without a leading "mailto:" (in any case). */
static const char *autotls_strip_mailto(const char *addr)
{
    apr_size_t len = sizeof(AUTOTLS_MAILTO) - 1;

    return strncasecmp(addr, AUTOTLS_MAILTO, len) == 0 ? addr + len : addr;
}

/* What is wrong with an AutoTLSExclude pattern, or NULL when it could match a host name. */
static const char *autotls_pattern_problem(const char *pattern)
{
    char prev = '.';
    const char *c;
    const char *open = NULL;

    if (*pattern == '\0') {
        return "is empty";
    }
    if (strlen(pattern) > AUTOTLS_DNS_NAME_MAX) {
        return "is longer than a host name can be";
    }
    for (c = pattern; *c != '\0'; c++) {
        if (open != NULL) {
            if (*c == ']') {
                if (c == open + 1) {
                    return "has an empty [ ] class";
                }
                open = NULL;
                prev = *c;
            } else if (!apr_isalnum(*c) && strchr("-_!^", *c) == NULL) {
                return "has a character no host name has";
            }
            continue;
        }
        if (*c == '[') {
            open = c;
        } else if (*c == '.' && prev == '.') {
            return "has an empty label";
        } else if (*c != '.' && !apr_isalnum(*c) && strchr("-_*?", *c) == NULL) {
            return "has a character no host name has";
        }
        prev = *c;
    }
    if (open != NULL) {
        return "has a [ without its ]";
    }
    return prev == '.' ? "has an empty label" : NULL;
}

apr_status_t autotls_parse_window(autotls_window_t *window, const char **why, const char *text)
{
    apr_int64_t n;
    const char *rest;
    apr_size_t i;

    if (text == NULL || *text == '\0') {
        *why = "is empty";
        return AT_EARG;
    }
    if (*text == '-') {
        *why = "is negative";
        return AT_EARG;
    }
    rest = autotls_scan_uint(text, APR_INT64_MAX, &n);
    if (rest == NULL) {
        *why = "is too large";
        return AT_EARG;
    }
    if (rest == text) {
        *why = "does not start with a whole number";
        return AT_EARG;
    }
    if (rest[0] == '%' && rest[1] == '\0') {
        if (n < AUTOTLS_WINDOW_PERCENT_MIN || n > AUTOTLS_WINDOW_PERCENT_MAX) {
            *why = "is not a percentage from 1 to 99";
            return AT_EARG;
        }
        window->kind = AUTOTLS_WINDOW_PERCENT;
        window->percent = (int)n;
        window->duration = 0;
        return APR_SUCCESS;
    }
    if (rest[0] == '\0') {
        *why = "has no unit";
        return AT_EARG;
    }
    for (i = 0; i < sizeof(autotls_window_units) / sizeof(autotls_window_units[0]); i++) {
        if (apr_tolower(rest[0]) != autotls_window_units[i].unit || rest[1] != '\0') {
            continue;
        }
        if (n == 0) {
            *why = "is zero";
            return AT_EARG;
        }
        if (n > APR_INT64_MAX / autotls_window_units[i].usec) {
            *why = "is too large";
            return AT_EARG;
        }
        window->kind = AUTOTLS_WINDOW_DURATION;
        window->percent = 0;
        window->duration = n * autotls_window_units[i].usec;
        return APR_SUCCESS;
    }
    *why = "has an unknown unit or extra text after the number";
    return AT_EARG;
}

static const char *autotls_parse_flag(cmd_parms *cmd, int *flag, const char *arg)
{
    if (strcasecmp(arg, "on") == 0) {
        *flag = AUTOTLS_ON;
    } else if (strcasecmp(arg, "off") == 0) {
        *flag = AUTOTLS_OFF;
    } else {
        return autotls_bad_value(cmd, arg, "is neither on nor off", AUTOTLS_EXPECT_FLAG);
    }
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

static const char *autotls_set_enabled(cmd_parms *cmd, void *dconf, const char *arg)
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    const char *err = autotls_parse_flag(cmd, &conf->enabled_own, arg);

    conf->enabled = conf->enabled_own;
    return err;
}

static const char *autotls_set_ca(cmd_parms *cmd, void *dconf, const char *arg)
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    const char *err = autotls_check_server_wide(cmd);
    apr_uri_t uri;

    if (err != NULL) {
        return err;
    }
    if (strcasecmp(arg, "letsencrypt") == 0) {
        conf->ca_url = AUTOTLS_CA_LETSENCRYPT;
        return NULL;
    }
    if (strcasecmp(arg, "letsencrypt-staging") == 0) {
        conf->ca_url = AUTOTLS_CA_LETSENCRYPT_STAGING;
        return NULL;
    }
    if (apr_uri_parse(cmd->temp_pool, arg, &uri) != APR_SUCCESS || uri.scheme == NULL ||
        (strcasecmp(uri.scheme, "https") != 0 && strcasecmp(uri.scheme, "http") != 0)) {
        return autotls_bad_value(cmd, arg, "is neither a known CA nor an http(s) URL",
                                 AUTOTLS_EXPECT_CA);
    }
    if (uri.hostname == NULL || *uri.hostname == '\0') {
        return autotls_bad_value(cmd, arg, "is a URL without a host", AUTOTLS_EXPECT_CA);
    }
    conf->ca_url = apr_pstrdup(cmd->pool, arg);
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
    const char *addr = autotls_strip_mailto(arg);

    if (err != NULL) {
        return err;
    }
    if (!autotls_is_email(addr)) {
        return autotls_bad_value(cmd, arg, "is not an e-mail address", AUTOTLS_EXPECT_CONTACT);
    }
    conf->contact = apr_pstrcat(cmd->pool, AUTOTLS_MAILTO, addr, NULL);
    return NULL;
}

static const char *autotls_set_store(cmd_parms *cmd, void *dconf, const char *arg)
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    const char *err = autotls_check_server_wide(cmd);
    const char *full;
    apr_finfo_t finfo;
    apr_status_t rv;

    if (err != NULL) {
        return err;
    }
    full = *arg != '\0' ? ap_server_root_relative(cmd->pool, arg) : NULL;
    if (full == NULL) {
        return autotls_bad_value(cmd, arg, "is not a valid path", AUTOTLS_EXPECT_STORE);
    }
    rv = apr_stat(&finfo, full, APR_FINFO_TYPE, cmd->temp_pool);
    if (rv == APR_SUCCESS && finfo.filetype != APR_DIR) {
        return autotls_bad_value(cmd, full, "exists and is not a directory", AUTOTLS_EXPECT_STORE);
    }
    if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) {
        return autotls_bad_value(cmd, full,
                                 apr_psprintf(cmd->temp_pool, "cannot be used (%pm)", &rv),
                                 AUTOTLS_EXPECT_STORE);
    }
    conf->store_dir = full;
    return NULL;
}

static const char *autotls_set_https_port(cmd_parms *cmd, void *dconf, const char *arg)
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    const char *err = autotls_check_server_wide(cmd);
    apr_int64_t port = 0;
    const char *rest;

    if (err != NULL) {
        return err;
    }
    rest = autotls_scan_uint(arg, AUTOTLS_PORT_MAX, &port);
    if (rest == NULL || rest == arg || *rest != '\0' || port == 0) {
        return autotls_bad_value(cmd, arg, "is not a port number", AUTOTLS_EXPECT_PORT);
    }
    conf->https_port = (int)port;
    return NULL;
}

static const char *autotls_set_key_type(cmd_parms *cmd, void *dconf, const char *arg)
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    at_key_type_e type;

    if (at_key_type_parse(&type, arg) != APR_SUCCESS) {
        return autotls_bad_value(cmd, arg, "is not a key type", AUTOTLS_EXPECT_KEY_TYPE);
    }
    conf->key_type = (int)type;
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
    return autotls_parse_flag(cmd, &autotls_conf_of(cmd->server)->redirect, arg);
}

/* Raw arguments, so that an empty quoted pattern is refused instead of ending the list. */
static const char *autotls_add_exclude(cmd_parms *cmd, void *dconf, const char *args)
{
    autotls_server_conf_t *conf = autotls_conf_of(cmd->server);
    const char *err = autotls_check_server_wide(cmd);

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
    while (*args != '\0') {
        char *pattern = ap_getword_conf(cmd->pool, &args);
        const char *why = autotls_pattern_problem(pattern);

        if (why != NULL) {
            return autotls_bad_value(cmd, pattern, why, AUTOTLS_EXPECT_PATTERN);
        }
        ap_str_tolower(pattern);
        APR_ARRAY_PUSH(conf->exclude, const char *) = pattern;
    }
    return NULL;
}

void *autotls_config_create_server(apr_pool_t *p, server_rec *s)
{
    autotls_server_conf_t *conf = apr_pcalloc(p, sizeof(*conf));

    conf->enabled = AUTOTLS_UNSET;
    conf->enabled_own = AUTOTLS_UNSET;
    conf->https_port = AUTOTLS_UNSET;
    conf->key_type = AUTOTLS_UNSET;
    conf->renew_window.kind = AUTOTLS_WINDOW_UNSET;
    conf->redirect = AUTOTLS_UNSET;
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

    merged->enabled = autotls_pick_int(add->enabled, base->enabled);
    merged->enabled_own = add->enabled_own;
    merged->ca_url = autotls_pick_str(add->ca_url, base->ca_url);
    merged->ca_cert_file = autotls_pick_str(add->ca_cert_file, base->ca_cert_file);
    merged->issuer_roots = autotls_pick_str(add->issuer_roots, base->issuer_roots);
    merged->contact = autotls_pick_str(add->contact, base->contact);
    merged->store_dir = autotls_pick_str(add->store_dir, base->store_dir);
    merged->https_port = autotls_pick_int(add->https_port, base->https_port);
    merged->key_type = autotls_pick_int(add->key_type, base->key_type);
    merged->renew_window =
        add->renew_window.kind != AUTOTLS_WINDOW_UNSET ? add->renew_window : base->renew_window;
    merged->redirect = autotls_pick_int(add->redirect, base->redirect);
    merged->exclude = add->exclude != NULL ? add->exclude : base->exclude;
    merged->twin_origin = add->twin_origin; /* never inherited from the main server */
    return merged;
}

int autotls_config_enabled(const server_rec *s)
{
    return autotls_conf_of(s)->enabled == AUTOTLS_ON;
}

int autotls_config_enabled_own(const server_rec *s)
{
    return autotls_conf_of(s)->enabled_own;
}

const char *autotls_config_ca_url(const server_rec *s)
{
    return autotls_pick_str(autotls_conf_of(s)->ca_url, AUTOTLS_CA_DEFAULT);
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

const char *autotls_config_store_dir(apr_pool_t *p, const server_rec *s)
{
    const char *dir = autotls_conf_of(s)->store_dir;

    return dir != NULL ? dir : ap_server_root_relative(p, AUTOTLS_STORE_DEFAULT);
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

autotls_window_t autotls_config_renew_window(const server_rec *s)
{
    return autotls_conf_of(s)->renew_window;
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
