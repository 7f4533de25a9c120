/* SPDX-License-Identifier: Apache-2.0 */
/*
 * renew_dns.c: AutoTLSDNSCommand, called as lego's exec provider is, so that the scripts written
 * for it (and for other ACME clients that copied it) work unchanged:
 *
 *   COMMAND present _acme-challenge.<name>. <value>     before the CA is asked to look
 *   COMMAND cleanup _acme-challenge.<name>. <value>     after the order, whatever it gave
 *
 * Exit status 0 means done. It runs in the renewal process, so as the ACME account (never root,
 * never User), through at_command_run: its own process group, PATH/LANG/HOME only (its DNS
 * provider's credentials are its own business, e.g. a file only the ACME account reads), a time
 * limit after which its whole group is killed. Its output goes to the error log with the record.
 */
#include <apr_strings.h>

#include <httpd.h>
#include <http_log.h>

#include "at_command.h"
#include "log_glue.h"
#include "renew_dns.h"

APLOG_USE_MODULE(autotls);

#define DNS_OP_PRESENT "present"
#define DNS_OP_CLEANUP "cleanup"

static const char *const dns_env[] = {AT_COMMAND_ENV_PATH, AT_COMMAND_ENV_LANG, AT_COMMAND_ENV_HOME,
                                      NULL};

/* Runs COMMAND op fqdn value; APR_SUCCESS when it exited 0 in time. */
static apr_status_t dns_run(autotls_ctx_t *ctx, const char *op, const char *fqdn, const char *value,
                            apr_pool_t *p)
{
    const char *argv[] = {ctx->dns_command, op, fqdn, value, NULL};
    at_command_t cmd = {ctx->dns_command, argv, dns_env, ctx->dns_timeout, NULL, NULL};
    at_command_result_t res;
    apr_status_t rv = at_command_run(&res, &cmd, p);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, ctx->main_server,
                     AUTOTLS_LOGNO(0662) "cannot run the DNS command %s %s %s", ctx->dns_command,
                     op, fqdn);
        return rv;
    }
    if (!at_command_succeeded(&res)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ctx->main_server,
                     AUTOTLS_LOGNO(0663) "DNS command %s %s %s failed (%s)%s%s", ctx->dns_command,
                     op, fqdn, at_command_ending(p, &res), *res.output ? ": " : "", res.output);
        return APR_EGENERAL;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, ctx->main_server,
                 AUTOTLS_LOGNO(0664) "DNS command %s %s %s done%s%s", ctx->dns_command, op, fqdn,
                 *res.output ? ": " : "", res.output);
    return APR_SUCCESS;
}

static apr_status_t dns_present(void *baton, const char *fqdn, const char *value, apr_pool_t *p)
{
    return dns_run(baton, DNS_OP_PRESENT, fqdn, value, p);
}

static void dns_cleanup(void *baton, const char *fqdn, const char *value, apr_pool_t *p)
{
    dns_run(baton, DNS_OP_CLEANUP, fqdn, value, p);
}

const at_dns01_responder_t *autotls_renew_dns01(autotls_ctx_t *ctx, apr_pool_t *p)
{
    at_dns01_responder_t *dns;

    if (ctx->dns_command == NULL) {
        return NULL;
    }
    dns = apr_pcalloc(p, sizeof(*dns));
    dns->present = dns_present;
    dns->cleanup = dns_cleanup;
    dns->baton = ctx;
    dns->propagation = ctx->dns_propagation;
    return dns;
}
