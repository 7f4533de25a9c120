/* SPDX-License-Identifier: Apache-2.0 */
/*
 * acme_user.c: who the ACME client runs as (AutoTLSUser), and the switch to that account.
 *
 * The one idea: the renewal process never runs as User. Customers' PHP and CGI code runs as User
 * on a shared host; if the ACME client ran there too, any tenant could plant challenge answers,
 * read the account key and feed staging/. The switch is explicit (setgid, initgroups, setuid, in
 * that order) and checked: a process that could become root again does not run.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <unistd.h>

#include <apr_strings.h>

#include <httpd.h>
#include <http_core.h>
#include <http_log.h>
#include <mpm_common.h>
#include <unixd.h>

#include "acme_user.h"
#include "config.h"
#include "log_glue.h"

APLOG_USE_MODULE(autotls);

#define ACME_USER_PW_BUF 16384

apr_status_t autotls_acme_user_resolve(autotls_ctx_t *ctx, apr_pool_t *ptemp)
{
    const char *name = autotls_config_acme_user(ctx->main_server);
    struct passwd pw, *found = NULL;
    char *buf = apr_palloc(ptemp, ACME_USER_PW_BUF);
    int err;

    err = getpwnam_r(name, &pw, buf, ACME_USER_PW_BUF, &found);
    if (err == 0 && found != NULL && found->pw_uid != 0) {
        ctx->acme_user = apr_pstrdup(ctx->pool, name);
        ctx->acme_uid = found->pw_uid;
        ctx->acme_gid = found->pw_gid;
        if (found->pw_uid == ap_unixd_config.user_id &&
            ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ctx->main_server,
                         AUTOTLS_LOGNO(0852) "AutoTLSUser %s is User (uid %ld): the ACME client "
                                             "runs as the account of every PHP and CGI "
                                             "script, so any of them can read the ACME account "
                                             "key, obtain certificates for every managed name, "
                                             "plant challenge answers and event files and "
                                             "forge the status snapshot. Name a dedicated "
                                             "account in AutoTLSUser (adduser --system --group "
                                             "autotls)",
                         name, (long)found->pw_uid);
        }
        return APR_SUCCESS;
    }
    ctx->acme_user = ap_unixd_config.user_name;
    ctx->acme_uid = ap_unixd_config.user_id;
    ctx->acme_gid = ap_unixd_config.group_id;
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, err, ctx->main_server,
                     AUTOTLS_LOGNO(0410) "AutoTLSUser %s: %s; the ACME client runs as User (%s) "
                                         "instead, so any code running as User (PHP, CGI) can "
                                         "read the ACME account key and obtain certificates for "
                                         "every managed name. Create the account (adduser "
                                         "--system --group %s) or name another with AutoTLSUser",
                     name, found != NULL ? "is root, which is refused" : "no such account",
                     ap_unixd_config.user_name, name);
    }
    return APR_SUCCESS;
}

apr_status_t autotls_acme_user_become(const autotls_ctx_t *ctx)
{
    apr_status_t rv = APR_SUCCESS;
    const char *step = NULL;

    if (geteuid() != 0) {
        return APR_SUCCESS; /* not started as root: nothing to leave */
    }
    if (setgid(ctx->acme_gid) != 0) {
        step = "setgid";
    } else if (initgroups(ctx->acme_user, ctx->acme_gid) != 0) {
        step = "initgroups";
    } else if (setuid(ctx->acme_uid) != 0) {
        step = "setuid";
    } else if (setuid(0) == 0 || geteuid() == 0 || getegid() == 0) {
        step = "the check that root cannot be regained";
        errno = EPERM;
    } else if (ap_coredumpdir_configured) {
        /* As httpd does for its children: only processes of the ACME account can read ours. */
        prctl(PR_SET_DUMPABLE, 1);
    }
    if (step != NULL) {
        rv = APR_FROM_OS_ERROR(errno);
        autotls_log_error(
            APLOG_MARK, APLOG_CRIT, rv, ctx->main_server,
            AUTOTLS_LOGNO(0411) "renewal process: %s to %s (uid %ld, gid %ld) failed; "
                                "not running the ACME client",
            step, ctx->acme_user, (long)ctx->acme_uid, (long)ctx->acme_gid);
    }
    return rv;
}

void autotls_acme_user_warn_dumpable(const autotls_ctx_t *ctx)
{
    if (!ap_coredumpdir_configured ||
        ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ctx->main_server,
                 AUTOTLS_LOGNO(0412) "CoreDumpDirectory is set, so httpd makes its children "
                                     "dumpable: any code running as User (%s: PHP, CGI) can then "
                                     "read a child's memory (ptrace, /proc/<pid>/mem), and with it "
                                     "the private key of every site it serves. Remove "
                                     "CoreDumpDirectory on a server that hosts others' code, or "
                                     "run their code under another uid (suEXEC, PHP-FPM pools)",
                 ap_unixd_config.user_name);
}
