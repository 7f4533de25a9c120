/* SPDX-License-Identifier: Apache-2.0 */
/*
 * autotls.c: the `autotls` command-line tool, on the same core library as the module.
 *
 * For operators and tests: issue a certificate into a store (answering http-01 itself or
 * through a webroot), show what a store holds, revoke a certificate. Exit codes say whose fault
 * a failure was: 1 the CA or validation, 2 the command line, 3 the local system or store.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_info.h>
#include <apr_general.h>
#include <apr_getopt.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "at_ari.h"
#include "at_ca.h"
#include "at_certmeta.h"
#include "at_core.h"
#include "at_event.h"
#include "at_issue.h"
#include "at_job.h"
#include "at_jws.h"
#include "at_name.h"
#include "at_live.h"
#include "at_orphan.h"
#include "at_store_carry.h"
#include "at_store_redis.h"
#include "standalone.h"
#include "status.h"
#include "store_copy.h"
#include "webroot.h"

#define EXIT_OK 0
#define EXIT_CA 1
#define EXIT_USAGE 2
#define EXIT_LOCAL 3

#define OPT_CA 256
#define OPT_CA_CERT 257
#define OPT_STORE 258
#define OPT_WEBROOT 259
#define OPT_STANDALONE 260
#define OPT_KEY_TYPE 261
#define OPT_CONTACT 262
#define OPT_EAB_KID 263
#define OPT_EAB_HMAC 264
#define OPT_TIMEOUT 265
#define OPT_JSON 266
#define OPT_REASON 267
#define OPT_CHAIN 268
#define OPT_WAIT 269
#define OPT_EAB_HMAC_FILE 270
#define OPT_FORCE 271
#define OPT_ALLOW_PRIVATE_IP 272
#define OPT_KEY_FILE 273
#define OPT_PASSWORD_FILE 274
#define OPT_PREFIX 275

#define REVOKE_REASON_MAX 10

static const char *const usage_main =
    "usage: autotls COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  issue    obtain a certificate from an ACME CA into a store\n"
    "  show     list the certificates of a store\n"
    "  status   every site's state, a monitoring check (exit codes of monitoring plugins)\n"
    "  revoke   revoke a stored certificate\n"
    "  renew    ask the running server to renew a site's certificate now\n"
    "  account  show the ACME account; ask the server to roll its key or update its contact\n"
    "  forget   archive a site the server no longer manages, now\n"
    "  store    copy a store into Redis (to join a fleet) or back\n"
    "\n"
    "`autotls COMMAND --help` describes each. Exit codes: 0 success, 1 the CA refused or could\n"
    "not validate, 2 usage error, 3 local error (store, files, network setup).\n"
    "Without --store, every command but issue uses the server's default store (the one the\n"
    "module uses without AutoTLSStore; $" AT_STORE_DIR_ENV " overrides it). See autotls(1).\n";

static const char *const usage_issue =
    "usage: autotls issue --ca URL [--ca-cert FILE] --store DIR\n"
    "                     (--webroot DIR | --standalone ADDR:PORT)\n"
    "                     [--key-type TYPE] [--contact EMAIL] [--eab-kid KID --eab-hmac-file "
    "FILE]\n"
    "                     [--preferred-chain ISSUER] [--timeout SECONDS] [--allow-private-ip]\n"
    "                     [-v] NAME...\n"
    "\n"
    "Obtains one certificate for all NAMEs (the first names the site) and stores it in\n"
    "DIR/live/<site>/ (" AT_CERTSET_KEY " 0600, " AT_CERTSET_CHAIN ", " AT_CERTSET_META
    "). The account for the CA is\n"
    "created on first use and reused after.\n"
    "  --ca URL              ACME directory URL (" AT_CA_SHORTHANDS ": the known ones)\n"
    "  --ca-cert FILE        PEM roots trusted for HTTPS to the CA (default: system store)\n"
    "  --webroot DIR         answer http-01 with files under DIR/.well-known/acme-challenge/\n"
    "  --standalone A:P      answer http-01 with a built-in server listening on A:P\n"
    "  --key-type TYPE       ec256 (default), ec384, rsa2048, rsa3072, rsa4096\n"
    "  --contact EMAIL       account contact\n"
    "  --eab-kid KID         external account binding from the CA: its key id, and\n"
    "  --eab-hmac-file FILE  the file holding its MAC key (mode 0600: readable by its owner\n"
    "                        only; a key on the command line would show in /proc to anyone)\n"
    "  --preferred-chain CN  prefer the alternate chain whose top is issued by CN\n"
    "  --timeout SECONDS     give up after this long (default 300)\n"
    "  --allow-private-ip    a NAME may be a private, loopback or link-local IP address (a\n"
    "                        private CA; public ones validate public addresses only)\n"
    "  -v                    debug output, one line per request to the CA\n"
    "Prints: issued <site>: names <n,...>; serial <HEX>; expires <time>; CA requests <N>\n";

static const char *const usage_show =
    "usage: autotls show [--store DIR] [--ca URL] [--ca-cert FILE] [--json]\n"
    "\n"
    "Lists every live certificate: site, names, issuer, serial, expiry and key type (--json: a\n"
    "JSON array). When the CA that issued it (as recorded in the store, or --ca) offers ACME\n"
    "Renewal Information, also the renewal window the CA suggests for it.\n";

static const char *const usage_revoke =
    "usage: autotls revoke [--store DIR] [--ca-cert FILE] [--reason N] [-v] NAME\n"
    "\n"
    "Revokes DIR/live/NAME at the CA that issued it (as its meta.json records: the server's\n"
    "activator writes it for every set it puts live), signed by the stored account. When the\n"
    "server still manages NAME, it is asked to order a new certificate at once (as `autotls\n"
    "renew` does); the notification command is told `revoked`. Run it as root.\n"
    "  --reason N   RFC 5280 reason code (0 unspecified, 1 keyCompromise, 4 superseded, ...)\n";

static const char *const usage_forget =
    "usage: autotls forget --store DIR [--force] SITE\n"
    "\n"
    "Forgets a site removed from the configuration now, instead of after AutoTLSOrphanKeep:\n"
    "its live set moves to DIR/archive/SITE/ (kept there like a replaced set, then purged), its\n"
    "job state and any renewal request go, and the notification command is told `orphaned`.\n"
    "A site the server has not marked orphaned (it is still configured, or the server has not\n"
    "been restarted since its removal) is refused unless --force. Run it as root.\n"
    "Exit codes: 0 forgotten, 2 usage error, no such site or still managed, 3 store error.\n";

static const char *const usage_renew =
    "usage: autotls renew [--store DIR] NAME\n"
    "       autotls renew --store redis://[user@]host:port[/db] --key-file FILE\n"
    "                     [--password-file FILE] [--prefix PREFIX] NAME\n"
    "\n"
    "Asks the server whose AutoTLSStore is DIR to renew the certificate of site NAME now, even\n"
    "while it is still valid, and clears the site's backoff after failed attempts. The server's\n"
    "renewal thread picks the request up within a second, without a restart, and logs one line\n"
    "when it does and one when the order ends; the new certificate is served as soon as it is\n"
    "issued. NAME is the site's ServerName (as `autotls show` lists it) or one of its aliases.\n"
    "Run it as root or as the server's User. Exit codes: 0 requested, 2 usage error or no such\n"
    "site in the store, 3 the store cannot be written.\n"
    "A fleet's store (AutoTLSStore redis://...) takes the request for every node: one of them\n"
    "orders, and every node's activator takes the new certificate from the shared store.\n";

static const char *const usage_account =
    "usage: autotls account show [--store DIR] [--ca URL] [--ca-cert FILE]\n"
    "       autotls account rollover [--store DIR] [--ca URL] [--wait SECONDS]\n"
    "       autotls account update [--store DIR] [--ca URL] --contact EMAIL [--contact ...]\n"
    "                              [--wait SECONDS]\n"
    "\n"
    "show: the account of the store for the CA (--ca, or the only one in DIR/accounts): URL,\n"
    "status (as the CA answers, else as stored), contact, key type and thumbprint, created.\n"
    "rollover: asks the server whose AutoTLSStore is DIR to replace the account key (RFC 8555\n"
    "keyChange); update: to replace the account's contact list. The server's renewal process\n"
    "does it within seconds (once no order runs), so that it never signs with a stale key, and\n"
    "logs one line. --wait SECONDS: wait that long for the outcome. Exit codes: 0 shown, asked,\n"
    "or done; 1 the CA refused; 2 usage error or no account; 3 local error, or no answer within\n"
    "--wait (the request stays and is carried out when the server runs).\n";

static const apr_getopt_option_t cli_options[] = {
    {"ca", OPT_CA, 1, "ACME directory URL"},
    {"ca-cert", OPT_CA_CERT, 1, "roots for TLS to the CA"},
    {"store", OPT_STORE, 1, "store directory"},
    {"webroot", OPT_WEBROOT, 1, "webroot directory"},
    {"standalone", OPT_STANDALONE, 1, "listen address"},
    {"key-type", OPT_KEY_TYPE, 1, "certificate key type"},
    {"contact", OPT_CONTACT, 1, "account contact"},
    {"eab-kid", OPT_EAB_KID, 1, "EAB key id"},
    {"eab-hmac", OPT_EAB_HMAC, 1, "refused: see --eab-hmac-file"},
    {"eab-hmac-file", OPT_EAB_HMAC_FILE, 1, "file holding the EAB MAC key"},
    {"timeout", OPT_TIMEOUT, 1, "seconds"},
    {"json", OPT_JSON, 0, "JSON output"},
    {"reason", OPT_REASON, 1, "revocation reason"},
    {"preferred-chain", OPT_CHAIN, 1, "preferred issuer"},
    {"wait", OPT_WAIT, 1, "seconds"},
    {"force", OPT_FORCE, 0, "even when still managed"},
    {"allow-private-ip", OPT_ALLOW_PRIVATE_IP, 0, "private IP addresses too"},
    {"key-file", OPT_KEY_FILE, 1, "AutoTLSStoreKeyFile of a redis:// store"},
    {"password-file", OPT_PASSWORD_FILE, 1, "AutoTLSStorePasswordFile of a redis:// store"},
    {"prefix", OPT_PREFIX, 1, "AutoTLSStorePrefix of a redis:// store"},
    {"help", 'h', 0, "help"},
    {"verbose", 'v', 0, "debug output"},
    {NULL, 0, 0, NULL},
};

typedef struct {
    const char *ca, *ca_cert, *store, *webroot, *standalone, *contact, *eab_kid, *eab_hmac_file;
    const char *preferred_chain;
    const char *key_file, *password_file, *prefix; /* a redis:// --store (renew) */
    at_key_type_e key_type;
    apr_interval_time_t timeout, wait;
    int json, reason, verbose, help, force;
    unsigned name_allow; /* at_name_eligible_as's allow for the NAMEs of issue */
    apr_array_header_t *names;
    apr_array_header_t *contacts; /* every --contact, in order */
} cli_args_t;

/* The terminal gets the library's lines without their "autotls-NNNN: " ids (httpd's log has
 * them, for searching). */
static void cli_log(void *baton, at_log_level_e level, apr_status_t rv, const char *msg)
{
    static const char *const prefixes[] = {"error: ", "warning: ", "", "", "debug: ", "trace: "};
    char err[256];

    msg += at_log_id_len(msg);

    if (rv != APR_SUCCESS && level <= AT_LOG_WARN) {
        fprintf(stderr, "autotls: %s%s (%s)\n", prefixes[level], msg,
                at_status_is_ours(rv) ? at_strerror(NULL, rv) : apr_strerror(rv, err, sizeof(err)));
    } else {
        fprintf(stderr, "autotls: %s%s\n", prefixes[level], msg);
    }
}

static int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int cli_fail(int code, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "autotls: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    return code;
}

/* Names of a site the store may already hold: any address the module may manage. */
#define CLI_NAME_ALLOW_ANY (AT_NAME_ALLOW_IP | AT_NAME_ALLOW_PRIVATE_IP)

/* EXIT_OK when name can get a certificate (the rule the module applies to its vhosts, at_name.h,
 * as for a vhost with its own AutoTLS on: IP addresses too, private ones with allow's
 * AT_NAME_ALLOW_PRIVATE_IP; such a name is also a valid store directory), else the usage error
 * saying why. */
static int cli_check_name(const char *name, unsigned allow)
{
    const char *why = NULL;

    return at_name_eligible_as(name, allow, &why) ? EXIT_OK
                                                  : cli_fail(EXIT_USAGE, "\"%s\" %s", name, why);
}

/* Which exit code a library failure maps to: the CA's fault or ours. */
static int cli_exit_code(apr_status_t rv)
{
    switch (rv) {
    case AT_EPROTO:
    case AT_EPROBLEM:
    case AT_EHTTP:
    case AT_ETOOLARGE:
    case AT_ETIMEOUT:
    case AT_ECHALLENGE:
    case AT_EINVALID:
        return EXIT_CA;
    default:
        return EXIT_LOCAL;
    }
}

static const char *cli_ca_url(const char *ca)
{
    const char *url = at_ca_shorthand(ca);

    return url != NULL ? url : ca;
}

static int cli_parse(cli_args_t *args, apr_pool_t *p, int argc, const char *const *argv)
{
    apr_getopt_t *opt;
    const char *arg;
    char *end;
    int code;
    apr_status_t rv;

    memset(args, 0, sizeof(*args));
    args->key_type = AT_KEY_TYPE_DEFAULT;
    args->name_allow = AT_NAME_ALLOW_IP; /* a NAME given on the command line is asked for */
    args->names = apr_array_make(p, 4, sizeof(const char *));
    args->contacts = apr_array_make(p, 1, sizeof(const char *));
    apr_getopt_init(&opt, p, argc, argv);
    opt->interleave = 1;
    while ((rv = apr_getopt_long(opt, cli_options, &code, &arg)) == APR_SUCCESS) {
        switch (code) {
        case OPT_CA:
            args->ca = cli_ca_url(arg);
            break;
        case OPT_CA_CERT:
            args->ca_cert = arg;
            break;
        case OPT_STORE:
            args->store = arg;
            break;
        case OPT_WEBROOT:
            args->webroot = arg;
            break;
        case OPT_STANDALONE:
            args->standalone = arg;
            break;
        case OPT_CONTACT:
            args->contact = arg;
            APR_ARRAY_PUSH(args->contacts, const char *) = arg;
            break;
        case OPT_WAIT:
            args->wait = apr_time_from_sec(strtol(arg, &end, 10));
            if (*end != '\0' || args->wait <= 0) {
                return cli_fail(EXIT_USAGE, "--wait: \"%s\" is not a positive number of seconds",
                                arg);
            }
            break;
        case OPT_EAB_KID:
            args->eab_kid = arg;
            break;
        case OPT_EAB_HMAC:
            return cli_fail(EXIT_USAGE, "--eab-hmac is refused: a key on the command line is "
                                        "shown to every local user (/proc/PID/cmdline, ps); "
                                        "put it in a file only you can read (chmod 600) and "
                                        "give --eab-hmac-file FILE");
        case OPT_EAB_HMAC_FILE:
            args->eab_hmac_file = arg;
            break;
        case OPT_CHAIN:
            args->preferred_chain = arg;
            break;
        case OPT_JSON:
            args->json = 1;
            break;
        case OPT_KEY_FILE:
            args->key_file = arg;
            break;
        case OPT_PASSWORD_FILE:
            args->password_file = arg;
            break;
        case OPT_PREFIX:
            args->prefix = arg;
            break;
        case OPT_FORCE:
            args->force = 1;
            break;
        case OPT_ALLOW_PRIVATE_IP:
            args->name_allow |= AT_NAME_ALLOW_PRIVATE_IP;
            break;
        case 'h':
            args->help = 1;
            break;
        case 'v':
            args->verbose = 1;
            break;
        case OPT_KEY_TYPE:
            if (at_key_type_parse(&args->key_type, arg) != APR_SUCCESS) {
                return cli_fail(EXIT_USAGE,
                                "--key-type: \"%s\" is not one of ec256, ec384, "
                                "rsa2048, rsa3072, rsa4096",
                                arg);
            }
            break;
        case OPT_TIMEOUT:
            args->timeout = apr_time_from_sec(strtol(arg, &end, 10));
            if (*end != '\0' || args->timeout <= 0) {
                return cli_fail(EXIT_USAGE,
                                "--timeout: \"%s\" is not a positive number of "
                                "seconds",
                                arg);
            }
            break;
        case OPT_REASON:
            args->reason = (int)strtol(arg, &end, 10);
            if (*end != '\0' || args->reason < 0 || args->reason > REVOKE_REASON_MAX) {
                return cli_fail(EXIT_USAGE, "--reason: \"%s\" is not an RFC 5280 reason code", arg);
            }
            break;
        }
    }
    if (rv != APR_EOF) {
        return EXIT_USAGE; /* apr_getopt already said what was wrong */
    }
    /* The server's store, as the module finds it without AutoTLSStore (issue writes a store of
     * its own: it says which). */
    if (args->store == NULL && strcmp(argv[0], "issue") != 0) {
        args->store = at_store_default_dir();
    }
    for (; opt->ind < opt->argc; ++opt->ind) {
        APR_ARRAY_PUSH(args->names, const char *) = apr_pstrdup(p, opt->argv[opt->ind]);
    }
    at_log_set(cli_log, NULL, args->verbose ? AT_LOG_DEBUG : AT_LOG_NOTICE);
    return EXIT_OK;
}

/* An ACME client for url; timeout (0: none given) also bounds each single request, so that
 * --timeout holds even against a CA that answers slowly. */
static apr_status_t cli_acme(at_acme_t **acme, apr_pool_t *p, const char *url, const char *ca_cert,
                             apr_interval_time_t timeout)
{
    at_http_options_t options = {0};
    at_http_t *http;
    apr_status_t rv;

    options.ca_file = ca_cert;
    if (timeout > 0 && timeout < AT_HTTP_TOTAL_TIMEOUT_DEFAULT) {
        options.total_timeout = timeout;
    }
    if ((rv = at_http_create(&http, p, &options)) != APR_SUCCESS) {
        return rv;
    }
    return at_acme_create(acme, p, url, http);
}

static apr_status_t cli_save_meta(at_store_t *store, const cli_args_t *args, const char *site,
                                  const at_issue_result_t *result, apr_pool_t *p)
{
    at_certmeta_t meta = {0};

    meta.ca = args->ca;
    meta.ca_cert = args->ca_cert;
    meta.names = args->names;
    meta.order = result->order_url;
    meta.issued_by = AT_CERTMETA_BY_CLI;
    return at_certmeta_save(store, site, &meta, p);
}

static int cmd_issue(const cli_args_t *args, apr_pool_t *p)
{
    at_acme_account_options_t account = {0};
    at_issue_request_t request = {0};
    at_http01_responder_t responder = {0};
    autotls_standalone_t *server;
    at_issue_result_t *result;
    at_cert_info_t *info;
    apr_array_header_t *chain;
    at_store_t *store;
    at_acme_t *acme;
    const char *site, *why = NULL;
    apr_status_t rv;
    int i, code;

    if (args->ca == NULL || args->store == NULL || args->names->nelts == 0 ||
        (args->webroot == NULL) == (args->standalone == NULL) ||
        (args->eab_kid == NULL) != (args->eab_hmac_file == NULL)) {
        fputs(usage_issue, stderr);
        return EXIT_USAGE;
    }
    site = APR_ARRAY_IDX(args->names, 0, const char *);
    for (i = 0; i < args->names->nelts; ++i) {
        if ((code = cli_check_name(APR_ARRAY_IDX(args->names, i, const char *),
                                   args->name_allow)) != EXIT_OK) {
            return code;
        }
    }
    if (args->contact != NULL) {
        account.contacts = apr_array_make(p, 1, sizeof(const char *));
        APR_ARRAY_PUSH(account.contacts, const char *) = args->contact;
    }
    account.agree_tos = 1;
    account.eab_kid = args->eab_kid;
    if (args->eab_hmac_file != NULL &&
        at_account_eab_key_read(&account.eab_hmac, &why, p, args->eab_hmac_file) != APR_SUCCESS) {
        return cli_fail(EXIT_USAGE, "--eab-hmac-file: %s", why);
    }

    /* The responder first: a bad address is a usage error and must not create a store. */
    if (args->standalone != NULL) {
        rv = autotls_standalone_start(&server, &responder, p, args->standalone);
        if (rv != APR_SUCCESS) {
            return rv == AT_EARG ? EXIT_USAGE : EXIT_LOCAL;
        }
    } else {
        autotls_webroot_responder(&responder, p, args->webroot);
    }
    if ((rv = at_store_fs_open(&store, p, args->store)) != APR_SUCCESS) {
        return cli_fail(EXIT_LOCAL, "cannot open the store %s", args->store);
    }
    if ((rv = cli_acme(&acme, p, args->ca, args->ca_cert, args->timeout)) != APR_SUCCESS) {
        return EXIT_LOCAL;
    }
    if ((rv = at_account_ensure(acme, store, p, &account)) != APR_SUCCESS) {
        return cli_exit_code(rv);
    }
    request.site = site;
    request.names = args->names;
    request.key_type = args->key_type;
    request.timeout = args->timeout;
    request.preferred_chain = args->preferred_chain;
    request.account_store = store;
    request.account_options = &account;
    if ((rv = at_issue_certificate(&result, acme, p, &request, &responder)) != APR_SUCCESS) {
        return cli_exit_code(rv);
    }
    /* The set it replaces is archived, and the pair goes live through the journal, as the
     * module's activator does it: a crash never leaves a key beside another key's chain. */
    if (at_live_archive(store, site, apr_time_now(), p) == APR_SUCCESS) {
        at_live_archive_purge(store, site, apr_time_now(), AT_ARCHIVE_GRACE, AT_ARCHIVE_KEEP_MAX,
                              NULL, p);
    }
    if ((rv = at_live_promote(store, site, result->key_pem, result->key_len, result->chain_pem,
                              result->chain_len, p)) != APR_SUCCESS ||
        (rv = cli_save_meta(store, args, site, result, p)) != APR_SUCCESS ||
        (rv = at_chain_from_pem(&chain, p, result->chain_pem, result->chain_len)) ||
        (rv = at_cert_info(&info, p, APR_ARRAY_IDX(chain, 0, X509 *))) != APR_SUCCESS) {
        return cli_fail(EXIT_LOCAL, "could not store the certificate for %s", site);
    }
    printf("issued %s: names %s; serial %s; expires %s; CA requests %u\n", site,
           at_name_list_text(p, info->names, ","), info->serial,
           at_rfc3339_format(p, info->not_after), at_acme_request_count(acme));
    return EXIT_OK;
}

static json_t *cli_info_json(const char *site, const at_cert_info_t *info, apr_pool_t *p)
{
    json_t *names = json_array();
    int i;

    for (i = 0; i < info->names->nelts; ++i) {
        json_array_append_new(names, json_string(APR_ARRAY_IDX(info->names, i, const char *)));
    }
    return json_pack("{s:s, s:o, s:s, s:s, s:s, s:s}", "site", site, "names", names, "issuer",
                     info->issuer_cn, "serial", info->serial, "not_after",
                     at_rfc3339_format(p, info->not_after), "key_type", info->key_type);
}

#define SHOW_ARI_TIMEOUT apr_time_from_sec(10) /* per CA request: show must not hang on a CA */

/* The CA client `show` asks for renewal windows, kept while sites share a CA. */
typedef struct {
    const char *key; /* URL and CA file */
    at_acme_t *acme;
} cli_show_ca_t;

/* The renewal window the CA suggests for a stored certificate (RFC 9773), as the text of the
 * "renewal window" line; *json gets {start, end} or null. NULL when the store names no CA. */
static const char *cli_show_window(cli_show_ca_t *ca, json_t **json, const cli_args_t *args,
                                   at_store_t *store, const char *site, X509 *leaf, apr_pool_t *p)
{
    const char *url = args->ca, *ca_cert = args->ca_cert, *cert_id, *key;
    at_http_options_t options = {0};
    at_certmeta_t *meta;
    at_ari_window_t window;
    at_http_t *http;
    apr_status_t rv;

    *json = json_null();
    if (at_certmeta_load(&meta, store, site, p) == APR_SUCCESS) {
        url = url != NULL ? url : meta->ca;
        ca_cert = ca_cert != NULL ? ca_cert : meta->ca_cert;
    }
    if (url == NULL) {
        return NULL;
    }
    key = apr_pstrcat(p, url, "\n", ca_cert != NULL ? ca_cert : "", NULL);
    if (ca->acme == NULL || strcmp(ca->key, key) != 0) {
        options.ca_file = ca_cert;
        options.connect_timeout = options.total_timeout = SHOW_ARI_TIMEOUT;
        ca->acme = NULL;
        if (at_http_create(&http, p, &options) != APR_SUCCESS ||
            at_acme_create(&ca->acme, p, url, http) != APR_SUCCESS) {
            return "unavailable (no client for the CA)";
        }
        ca->key = key;
    }
    if ((rv = at_ari_cert_id(&cert_id, p, leaf)) != APR_SUCCESS) {
        return "unavailable (the certificate names no issuer key)";
    }
    rv = at_ari_fetch(&window, ca->acme, p, cert_id);
    if (rv == APR_ENOTIMPL) {
        return "not offered by the CA";
    }
    if (rv != APR_SUCCESS) {
        return apr_psprintf(p, "unavailable (%s)", at_strerror(p, rv));
    }
    *json = json_pack("{s:s, s:s}", "start", at_rfc3339_format(p, window.start), "end",
                      at_rfc3339_format(p, window.end));
    return apr_psprintf(p, "%s .. %s", at_rfc3339_format(p, window.start),
                        at_rfc3339_format(p, window.end));
}

/* Whether live/<site> holds a certificate set at all (the server keeps only a placeholder
 * there until a site's first certificate). */
static int cli_show_has_set(at_store_t *store, const char *site, apr_pool_t *p)
{
    apr_array_header_t *items;
    int i;

    if (at_store_list(store, AT_STORE_LIVE, site, &items, p) != APR_SUCCESS) {
        return 1; /* unreadable: the load says why */
    }
    for (i = 0; i < items->nelts; ++i) {
        if (strcmp(APR_ARRAY_IDX(items, i, const char *), AT_CERTSET_CHAIN) == 0) {
            return 1;
        }
    }
    return 0;
}

static int cmd_show(const cli_args_t *args, apr_pool_t *p)
{
    cli_show_ca_t ca = {NULL, NULL};
    const char *window;
    json_t *window_json, *entry;
    apr_array_header_t *sites, *chain;
    at_cert_info_t *info;
    at_store_t *store;
    json_t *out;
    EVP_PKEY *key;
    char *text;
    int i, code = EXIT_OK;

    if (args->store == NULL || args->names->nelts > 0) {
        fputs(usage_show, stderr);
        return EXIT_USAGE;
    }
    if (at_store_fs_open(&store, p, args->store) != APR_SUCCESS ||
        at_store_list(store, AT_STORE_LIVE, NULL, &sites, p) != APR_SUCCESS) {
        return cli_fail(EXIT_LOCAL, "cannot read the store %s", args->store);
    }
    out = json_array();
    for (i = 0; i < sites->nelts; ++i) {
        const char *site = APR_ARRAY_IDX(sites, i, const char *);

        if (!cli_show_has_set(store, site, p)) {
            /* a site of a running server before its first certificate: not an error */
            if (args->json) {
                json_array_append_new(out,
                                      json_pack("{s:s, s:s}", "site", site, "state", "pending"));
            } else {
                printf("%s\n  pending: no certificate from the CA yet\n", site);
            }
            continue;
        }
        if (at_certset_load(&key, &chain, store, AT_STORE_LIVE, site, p) != APR_SUCCESS ||
            at_cert_info(&info, p, APR_ARRAY_IDX(chain, 0, X509 *)) != APR_SUCCESS) {
            cli_fail(EXIT_LOCAL, "%s: no readable certificate", site);
            code = EXIT_LOCAL;
            continue;
        }
        window = cli_show_window(&ca, &window_json, args, store, site,
                                 APR_ARRAY_IDX(chain, 0, X509 *), p);
        if (args->json) {
            entry = cli_info_json(site, info, p);
            json_object_set_new(entry, "renewal_window", window_json);
            json_array_append_new(out, entry);
            continue;
        }
        json_decref(window_json);
        printf("%s\n  names:     %s\n  issuer:    %s\n  serial:    %s\n  not after: %s\n"
               "  key type:  %s\n",
               site, at_name_list_text(p, info->names, ", "), info->issuer_cn, info->serial,
               at_rfc3339_format(p, info->not_after), info->key_type);
        if (window != NULL) {
            printf("  renewal window: %s\n", window);
        }
    }
    if (args->json) {
        text = json_dumps(out, JSON_INDENT(2));
        printf("%s\n", text);
        free(text);
    }
    json_decref(out);
    return code;
}

static int cmd_status(const cli_args_t *args, apr_pool_t *p)
{
    if (args->names->nelts > 0) {
        fputs(AUTOTLS_CLI_STATUS_USAGE, stderr);
        return AT_STATUS_CHECK_UNKNOWN; /* the monitoring convention: a usage error is unknown */
    }
    return autotls_cli_status(args->store, args->json, p);
}

static void cli_trust_accounts_owner(at_store_t *store, apr_pool_t *p);
static int cli_site_known(at_store_t *store, const char *name, apr_pool_t *p);

/* Drops an empty jobs/<name>.renew: the renewal process takes it, removes it and orders. */
static apr_status_t cli_request_renewal(at_store_t *store, const char *name, apr_pool_t *p)
{
    return at_store_save(store, AT_STORE_JOBS, NULL, at_job_request_item(p, name), "", 0,
                         AT_STORE_PUBLIC, p);
}

/* Whether the running server manages site: it keeps a job file for it, not marked orphaned. */
static int cli_site_managed(at_store_t *store, const char *site, apr_pool_t *p)
{
    json_t *job = NULL;
    int managed;

    if (at_store_load_json(store, AT_STORE_JOBS, NULL, at_job_item(p, site), &job, p) !=
        APR_SUCCESS) {
        return 0;
    }
    managed = json_is_object(job) && json_object_get(job, AT_ORPHAN_SINCE_KEY) == NULL;
    json_decref(job);
    return managed;
}

/* After a revocation: the renewal process runs the notification command, and orders a new
 * certificate when it manages the site. */
static void cli_after_revoke(at_store_t *store, const char *site, X509 *leaf, apr_pool_t *p)
{
    at_event_t *event = at_event_make(p, AT_EVENT_REVOKED, site, apr_time_now());

    at_event_set_cert(event, p, leaf);
    if (at_event_post(store, event, p) != APR_SUCCESS) {
        cli_fail(EXIT_LOCAL, "could not tell the server of the revocation (jobs/ not writable)");
    }
    if (!cli_site_managed(store, site, p)) {
        return;
    }
    if (cli_request_renewal(store, site, p) == APR_SUCCESS) {
        printf("the server manages %s: a new certificate is ordered now (see its error log)\n",
               site);
    } else {
        cli_fail(EXIT_LOCAL, "could not ask the server for a new certificate; run autotls renew");
    }
}

static int cmd_revoke(const cli_args_t *args, apr_pool_t *p)
{
    apr_array_header_t *chain;
    const char *site, *ca_cert = args->ca_cert;
    at_certmeta_t *meta = NULL;
    at_store_t *store;
    at_acme_t *acme;
    at_cert_info_t *info;
    unsigned char *der;
    apr_size_t der_len;
    EVP_PKEY *key;
    apr_status_t rv;
    int code;

    if (args->store == NULL || args->names->nelts != 1) {
        fputs(usage_revoke, stderr);
        return EXIT_USAGE;
    }
    site = APR_ARRAY_IDX(args->names, 0, const char *);
    if ((code = cli_check_name(site, CLI_NAME_ALLOW_ANY)) != EXIT_OK) {
        return code;
    }
    if (at_store_fs_open(&store, p, args->store) != APR_SUCCESS ||
        at_certset_load(&key, &chain, store, AT_STORE_LIVE, site, p) != APR_SUCCESS ||
        at_certmeta_load(&meta, store, site, p) != APR_SUCCESS) {
        return cli_fail(EXIT_LOCAL, "no certificate with its CA recorded for %s in the store",
                        site);
    }
    /* The module's account was made by the renewal process: owned by the ACME account. */
    cli_trust_accounts_owner(store, p);
    ca_cert = ca_cert != NULL ? ca_cert : meta->ca_cert;
    if ((rv = cli_acme(&acme, p, meta->ca, ca_cert, 0)) != APR_SUCCESS) {
        return EXIT_LOCAL;
    }
    if ((rv = at_account_load(acme, store, p)) != APR_SUCCESS) {
        return rv == APR_ENOENT ? cli_fail(EXIT_LOCAL, "no account stored for the CA of %s", site)
                                : cli_exit_code(rv);
    }
    if ((rv = at_cert_to_der(&der, &der_len, p, APR_ARRAY_IDX(chain, 0, X509 *))) ||
        (rv = at_cert_info(&info, p, APR_ARRAY_IDX(chain, 0, X509 *)))) {
        return EXIT_LOCAL;
    }
    if ((rv = at_acme_revoke(acme, p, der, der_len, args->reason)) != APR_SUCCESS) {
        return cli_exit_code(rv);
    }
    printf("revoked %s: serial %s\n", site, info->serial);
    cli_after_revoke(store, site, APR_ARRAY_IDX(chain, 0, X509 *), p);
    return EXIT_OK;
}

static int cmd_forget(const cli_args_t *args, apr_pool_t *p)
{
    apr_finfo_t finfo;
    at_store_t *store;
    const char *site;
    apr_status_t rv;

    if (args->store == NULL || args->names->nelts != 1) {
        fputs(usage_forget, stderr);
        return EXIT_USAGE;
    }
    site = APR_ARRAY_IDX(args->names, 0, const char *);
    if (!at_store_component_valid(site)) {
        return cli_fail(EXIT_USAGE, "\"%s\" is not a DNS name", site);
    }
    if (apr_stat(&finfo, args->store, APR_FINFO_TYPE, p) != APR_SUCCESS ||
        finfo.filetype != APR_DIR || at_store_fs_open(&store, p, args->store) != APR_SUCCESS) {
        return cli_fail(EXIT_USAGE, "no store at %s: give the server's AutoTLSStore", args->store);
    }
    cli_trust_accounts_owner(store, p);
    if (!cli_site_known(store, site, p)) {
        return cli_fail(EXIT_USAGE, "no site %s in the store %s", site, args->store);
    }
    if (cli_site_managed(store, site, p) && !args->force) {
        return cli_fail(EXIT_USAGE,
                        "%s is not marked orphaned: the server still manages it, or has not been "
                        "restarted since it was removed from the configuration (the activator "
                        "marks removed sites when it starts). Remove it and restart first, or "
                        "give --force",
                        site);
    }
    if ((rv = at_orphan_forget(store, site, apr_time_now(), 1, p)) != APR_SUCCESS) {
        return cli_fail(EXIT_LOCAL, "could not forget %s: %s (nothing was removed from live/)",
                        site, at_strerror(p, rv));
    }
    printf("forgot %s: its certificate is in %s/archive/%s\n", site, args->store, site);
    return EXIT_OK;
}

/* Whether the store knows NAME: a job file, a live set of that name, or a live certificate that
 * covers it (an alias). */
static int cli_site_known(at_store_t *store, const char *name, apr_pool_t *p)
{
    apr_array_header_t *sites, *chain;
    char *data;
    apr_size_t len;
    int i;

    if (at_store_load(store, AT_STORE_JOBS, NULL, at_job_item(p, name), &data, &len,
                      AT_STORE_PUBLIC, p) == APR_SUCCESS) {
        return 1;
    }
    if (at_store_list(store, AT_STORE_LIVE, NULL, &sites, p) != APR_SUCCESS) {
        return 0;
    }
    for (i = 0; i < sites->nelts; ++i) {
        const char *site = APR_ARRAY_IDX(sites, i, const char *);

        if (strcmp(site, name) == 0) {
            return 1;
        }
        if (at_store_load(store, AT_STORE_LIVE, site, AT_CERTSET_CHAIN, &data, &len,
                          AT_STORE_PUBLIC, p) == APR_SUCCESS &&
            at_chain_from_pem(&chain, p, data, len) == APR_SUCCESS &&
            at_cert_covers_name(APR_ARRAY_IDX(chain, 0, X509 *), name)) {
            return 1;
        }
    }
    return 0;
}

/* Asks the renewal process for an order now (cli_request_renewal). */
static int cmd_renew(const cli_args_t *args, apr_pool_t *p)
{
    apr_finfo_t finfo;
    at_store_t *store;
    char *name, *c;
    int code;

    if (args->store == NULL || args->names->nelts != 1) {
        fputs(usage_renew, stderr);
        return EXIT_USAGE;
    }
    name = apr_pstrdup(p, APR_ARRAY_IDX(args->names, 0, const char *));
    for (c = name; *c != '\0'; ++c) {
        *c = apr_tolower(*c); /* the server knows its names in lower case */
    }
    if ((code = cli_check_name(name, CLI_NAME_ALLOW_ANY)) != EXIT_OK) {
        return code;
    }
    if (at_store_redis_url_is_redis(args->store)) {
        at_store_redis_conf_t conf = {0};

        conf.url = args->store;
        conf.key_file = args->key_file;
        conf.password_file = args->password_file;
        conf.prefix = args->prefix;
        if (at_store_redis_open(&store, p, &conf) != APR_SUCCESS ||
            at_store_redis_ping(store) != APR_SUCCESS) {
            return cli_fail(EXIT_LOCAL, "cannot use the store %s (see the line before)",
                            args->store);
        }
    } else if (apr_stat(&finfo, args->store, APR_FINFO_TYPE, p) != APR_SUCCESS ||
               finfo.filetype != APR_DIR) {
        return cli_fail(EXIT_USAGE, "no store at %s: give the server's AutoTLSStore", args->store);
    } else if (at_store_fs_open(&store, p, args->store) != APR_SUCCESS) {
        return cli_fail(EXIT_LOCAL, "cannot open the store %s", args->store);
    }
    if (!cli_site_known(store, name, p)) {
        return cli_fail(EXIT_USAGE,
                        "no site %s in the store %s: give the ServerName of a managed site, "
                        "as `autotls show` lists it",
                        name, args->store);
    }
    if (cli_request_renewal(store, name, p) != APR_SUCCESS) {
        return cli_fail(EXIT_LOCAL, "cannot write the renewal request into %s/jobs", args->store);
    }
    printf("renewal of %s requested: the server takes it within a second (see its error log)\n",
           name);
    return EXIT_OK;
}

/* ---- account ------------------------------------------------------------------------------- */

#define ACCOUNT_SHOW_TIMEOUT apr_time_from_sec(10) /* per CA request: show must not hang */
#define ACCOUNT_WAIT_POLL apr_time_from_msec(100)
#define ACCOUNT_REQUEST_ID_BYTES 8

/* What the renewal process wrote is owned by the ACME account: trust the owner of accounts/. */
static void cli_trust_accounts_owner(at_store_t *store, apr_pool_t *p)
{
    at_store_fs_trust_group_owner(store, AT_STORE_ACCOUNTS, p);
}

/* The CA's store name: from --ca, else the only CA in accounts/. */
static int cli_account_ca(const char **ca_name, const cli_args_t *args, at_store_t *store,
                          apr_pool_t *p)
{
    apr_array_header_t *names;

    if (args->ca != NULL) {
        *ca_name = at_store_ca_name(p, args->ca);
        return EXIT_OK;
    }
    if (at_store_list(store, AT_STORE_ACCOUNTS, NULL, &names, p) != APR_SUCCESS) {
        return cli_fail(EXIT_LOCAL, "cannot read the accounts of the store %s", args->store);
    }
    if (names->nelts != 1) {
        return cli_fail(EXIT_USAGE, "%s: give --ca URL (accounts for: %s)",
                        names->nelts == 0 ? "no account in the store" : "several CAs",
                        names->nelts == 0 ? "none" : at_name_list_text(p, names, ", "));
    }
    *ca_name = APR_ARRAY_IDX(names, 0, const char *);
    return EXIT_OK;
}

static const char *cli_json_text(const json_t *json, const char *key, const char *none)
{
    const json_t *value = json_object_get(json, key);

    return json_is_string(value) ? json_string_value(value) : none;
}

static const char *cli_json_list(apr_pool_t *p, const json_t *list)
{
    apr_array_header_t *items = apr_array_make(p, 2, sizeof(const char *));
    const json_t *item;
    size_t i;

    json_array_foreach(list, i, item)
    {
        if (json_is_string(item)) {
            APR_ARRAY_PUSH(items, const char *) = apr_pstrdup(p, json_string_value(item));
        }
    }
    return items->nelts > 0 ? at_name_list_text(p, items, ", ") : "(none)";
}

static int cmd_account_show(const cli_args_t *args, at_store_t *store, const char *ca_name,
                            apr_pool_t *p)
{
    const char *url, *ca_url, *thumbprint = "unknown", *status, *contact, *created = "unknown";
    at_acme_account_t *account;
    at_key_type_e type;
    json_t *json = NULL;
    EVP_PKEY *key = NULL;
    at_acme_t *acme;
    char *pem;
    apr_size_t len;
    apr_status_t rv;
    int code = EXIT_OK, registered;

    if (at_store_load(store, AT_STORE_ACCOUNTS, ca_name, AT_ACCOUNT_KEY, &pem, &len,
                      AT_STORE_SECRET, p) != APR_SUCCESS ||
        at_key_from_pem(&key, p, pem, len) != APR_SUCCESS) {
        return cli_fail(EXIT_USAGE, "no account key for %s in the store %s", ca_name, args->store);
    }
    at_jwk_thumbprint(&thumbprint, p, key);
    if (at_store_load_json(store, AT_STORE_ACCOUNTS, ca_name, AT_ACCOUNT_JSON, &json, p) !=
        APR_SUCCESS) {
        json = json_object();
    }
    url = apr_pstrdup(p, cli_json_text(json, "url", "(not registered)"));
    ca_url = args->ca != NULL ? args->ca : apr_pstrdup(p, cli_json_text(json, "ca", ""));
    status = apr_pstrcat(p, cli_json_text(json, "status", "unknown"), " (as stored)", NULL);
    contact = cli_json_list(p, json_object_get(json, "contact"));
    if (json_is_integer(json_object_get(json, "created"))) {
        created = at_rfc3339_format(
            p, apr_time_from_sec(json_integer_value(json_object_get(json, "created"))));
    }
    registered = json_is_string(json_object_get(json, "url"));
    json_decref(json);
    if (registered) {
        if (ca_url[0] != '\0' &&
            cli_acme(&acme, p, ca_url, args->ca_cert, ACCOUNT_SHOW_TIMEOUT) == APR_SUCCESS) {
            at_acme_set_account(acme, key, url);
            rv = at_acme_account_get(&account, acme, p, 1);
            if (rv == APR_SUCCESS) {
                status = account->status;
                contact = at_account_contacts_text(p, account->contacts);
            } else {
                status = apr_psprintf(p, "%s; the CA answers: %s", status,
                                      rv == AT_EPROBLEM && at_acme_last_problem(acme) != NULL
                                          ? at_acme_problem_text(p, at_acme_last_problem(acme))
                                          : at_strerror(p, rv));
                code = cli_exit_code(rv);
            }
        }
    }
    printf("account:    %s\nca:         %s\nstatus:     %s\ncontact:    %s\n"
           "key:        %s\nthumbprint: %s\ncreated:    %s\n",
           url, ca_url[0] != '\0' ? ca_url : ca_name, status, contact,
           at_key_type_of(&type, key) == APR_SUCCESS ? at_key_type_name(type) : "unknown",
           thumbprint, created);
    return code;
}

/* Waits for the renewal side's answer to the request with id. */
static int cli_account_wait(const cli_args_t *args, at_store_t *store, const char *ca_name,
                            const char *id, at_account_request_e kind, apr_pool_t *p)
{
    apr_time_t deadline = apr_time_now() + args->wait;
    const char *item = at_account_result_item(p, ca_name);
    json_t *result;
    int ok;

    while (apr_time_now() < deadline) {
        result = NULL;
        if (at_store_load_json(store, AT_STORE_JOBS, NULL, item, &result, p) == APR_SUCCESS &&
            strcmp(cli_json_text(result, "id", ""), id) == 0) {
            ok = json_is_true(json_object_get(result, "ok"));
            if (ok && kind == AT_ACCOUNT_REQUEST_ROLLOVER) {
                printf("account key rolled over: new key thumbprint %s\n",
                       cli_json_text(result, "thumbprint", "unknown"));
            } else if (ok) {
                printf("account contact updated: %s\n",
                       cli_json_list(p, json_object_get(result, "contact")));
            } else {
                cli_fail(EXIT_CA, "account %s failed: %s", at_account_request_name(kind),
                         cli_json_text(result, "detail", "no detail"));
            }
            json_decref(result);
            return ok ? EXIT_OK : EXIT_CA;
        }
        json_decref(result);
        apr_sleep(ACCOUNT_WAIT_POLL);
    }
    return cli_fail(EXIT_LOCAL,
                    "no answer from the server within %" APR_TIME_T_FMT " s; the request stays "
                    "in %s/jobs and is carried out when the server runs",
                    apr_time_sec(args->wait), args->store);
}

/* Drops jobs/_account-<ca>.<request>: the renewal side carries it out (see at_issue.h). */
static int cmd_account_request(const cli_args_t *args, at_store_t *store, const char *ca_name,
                               at_account_request_e kind, apr_pool_t *p)
{
    unsigned char raw[ACCOUNT_REQUEST_ID_BYTES];
    char id[2 * ACCOUNT_REQUEST_ID_BYTES + 1];
    json_t *request, *contacts;
    char *pem;
    apr_size_t len;
    int i;

    if (kind == AT_ACCOUNT_REQUEST_UPDATE &&
        (args->contacts->nelts == 0 || args->contacts->nelts > AT_ACCOUNT_CONTACTS_MAX)) {
        return cli_fail(EXIT_USAGE, "update: give one to %d --contact EMAIL",
                        AT_ACCOUNT_CONTACTS_MAX);
    }
    if (at_store_load(store, AT_STORE_ACCOUNTS, ca_name, AT_ACCOUNT_KEY, &pem, &len,
                      AT_STORE_SECRET, p) != APR_SUCCESS) {
        return cli_fail(EXIT_USAGE, "no account for %s in the store %s", ca_name, args->store);
    }
    if (apr_generate_random_bytes(raw, sizeof(raw)) != APR_SUCCESS) {
        return cli_fail(EXIT_LOCAL, "no random bytes for a request id");
    }
    for (i = 0; i < ACCOUNT_REQUEST_ID_BYTES; ++i) {
        apr_snprintf(id + 2 * i, 3, "%02x", raw[i]);
    }
    request = json_pack("{s:s}", "id", id);
    if (kind == AT_ACCOUNT_REQUEST_UPDATE) {
        contacts = json_array();
        for (i = 0; i < args->contacts->nelts; ++i) {
            json_array_append_new(contacts,
                                  json_string(APR_ARRAY_IDX(args->contacts, i, const char *)));
        }
        json_object_set_new(request, "contact", contacts);
    }
    if (at_store_save_json(store, AT_STORE_JOBS, NULL, at_account_request_item(p, ca_name, kind),
                           request, p) != APR_SUCCESS) {
        json_decref(request);
        return cli_fail(EXIT_LOCAL, "cannot write the request into %s/jobs", args->store);
    }
    json_decref(request);
    if (args->wait <= 0) {
        printf("account %s requested: the server carries it out within seconds (see its error "
               "log)\n",
               at_account_request_name(kind));
        return EXIT_OK;
    }
    return cli_account_wait(args, store, ca_name, id, kind, p);
}

static int cmd_account(const cli_args_t *args, apr_pool_t *p)
{
    const char *what, *ca_name = NULL;
    apr_finfo_t finfo;
    at_store_t *store;
    int code;

    if (args->store == NULL || args->names->nelts != 1) {
        fputs(usage_account, stderr);
        return EXIT_USAGE;
    }
    what = APR_ARRAY_IDX(args->names, 0, const char *);
    if (strcmp(what, "show") != 0 && strcmp(what, "rollover") != 0 && strcmp(what, "update") != 0) {
        fputs(usage_account, stderr);
        return cli_fail(EXIT_USAGE, "unknown account command \"%s\"", what);
    }
    if (apr_stat(&finfo, args->store, APR_FINFO_TYPE, p) != APR_SUCCESS ||
        finfo.filetype != APR_DIR) {
        return cli_fail(EXIT_USAGE, "no store at %s: give the server's AutoTLSStore", args->store);
    }
    if (at_store_fs_open(&store, p, args->store) != APR_SUCCESS) {
        return cli_fail(EXIT_LOCAL, "cannot open the store %s", args->store);
    }
    cli_trust_accounts_owner(store, p);
    if ((code = cli_account_ca(&ca_name, args, store, p)) != EXIT_OK) {
        return code;
    }
    if (strcmp(what, "show") == 0) {
        return cmd_account_show(args, store, ca_name, p);
    }
    return cmd_account_request(
        args, store, ca_name,
        strcmp(what, "rollover") == 0 ? AT_ACCOUNT_REQUEST_ROLLOVER : AT_ACCOUNT_REQUEST_UPDATE, p);
}

int main(int argc, const char *const *argv)
{
    static const struct {
        const char *name;
        int (*run)(const cli_args_t *args, apr_pool_t *p);
        const char *usage;
    } commands[] = {
        {"issue", cmd_issue, usage_issue},       {"show", cmd_show, usage_show},
        {"revoke", cmd_revoke, usage_revoke},    {"renew", cmd_renew, usage_renew},
        {"account", cmd_account, usage_account}, {"status", cmd_status, AUTOTLS_CLI_STATUS_USAGE},
        {"forget", cmd_forget, usage_forget},
    };
    cli_args_t args;
    apr_pool_t *p;
    size_t i;
    int code;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage_main, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    apr_app_initialize(&argc, &argv, NULL);
    atexit(apr_terminate);
    apr_pool_create(&p, NULL);
    /* issue 13: `autotls store copy` has options of its own (store_copy.c) */
    if (strcmp(argv[1], "store") == 0) {
        at_log_set(cli_log, NULL, AT_LOG_NOTICE);
        code = autotls_cli_store(argc - 1, argv + 1, p);
        apr_pool_destroy(p);
        return code;
    }
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); ++i) {
        if (strcmp(argv[1], commands[i].name) != 0) {
            continue;
        }
        code = cli_parse(&args, p, argc - 1, argv + 1);
        if (code == EXIT_OK && args.help) {
            fputs(commands[i].usage, stdout);
        } else if (code == EXIT_OK) {
            code = commands[i].run(&args, p);
        }
        apr_pool_destroy(p);
        return code;
    }
    fputs(usage_main, stderr);
    return cli_fail(EXIT_USAGE, "unknown command \"%s\"", argv[1]);
}
