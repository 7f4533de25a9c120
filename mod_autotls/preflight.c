/* SPDX-License-Identifier: Apache-2.0 */
/*
 * preflight.c: the startup checks of preflight.h.
 *
 * The one idea: the renewal process runs as the ACME account (acme_user.h), not as root, so a
 * file that the root parent read fine while parsing the configuration may be unreadable where it
 * is used; the first order would then fail with "transport failure talking to the CA" and a
 * backoff. A child forked here becomes that account, opens each such file as the renewal process
 * will, logs one ERROR for each it cannot read, and exits. Nothing here changes any state.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_strings.h>

#include <httpd.h>
#include <http_log.h>

#include "acme_user.h"
#include "at_issue.h"
#include "log_glue.h"
#include "preflight.h"

APLOG_USE_MODULE(autotls);

#define PREFLIGHT_EXIT_OK 0
#define PREFLIGHT_EXIT_FAILED 1

/* A file the ACME account reads, and the directive that names it. */
typedef struct {
    const char *directive;
    const char *path;
    int eab_key; /* read as the EAB MAC key (at_account_eab_key_read), not only opened */
} preflight_file_t;

static void preflight_contact(const autotls_ctx_t *ctx)
{
    const char *admin = ctx->main_server->server_admin;

    if (ctx->contact != NULL) {
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ctx->main_server,
                 AUTOTLS_LOGNO(0910) "no contact address for the ACME account at %s: no "
                                     "AutoTLSContact, and ServerAdmin (%s) is no mail address "
                                     "the CA can write to; nobody will hear from the CA about "
                                     "expiring or revoked certificates. Set AutoTLSContact "
                                     "admin@example.com (a mailbox you read)",
                 ctx->ca_url, admin != NULL && *admin != '\0' ? admin : "not set");
}

/* In the child, as the ACME account: one ERROR per file it cannot use. */
static int preflight_file_fails(const autotls_ctx_t *ctx, const preflight_file_t *file,
                                apr_pool_t *p)
{
    const char *key = NULL, *why = NULL;
    apr_status_t rv;
    int fd;

    if (file->eab_key) {
        if (at_account_eab_key_read(&key, &why, p, file->path) == APR_SUCCESS) {
            return 0;
        }
    } else if ((fd = open(file->path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)) >= 0) {
        close(fd);
        return 0;
    } else {
        rv = APR_FROM_OS_ERROR(errno);
        why = apr_psprintf(p, "%s cannot be opened (%pm)", file->path, &rv);
    }
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, ctx->main_server,
                 AUTOTLS_LOGNO(0911) "%s: the ACME account %s (uid %ld), which the renewal "
                                     "process runs as, cannot read %s: %s. Orders will fail "
                                     "until it can: give the account read access to the file "
                                     "(owner or group), or name one it can read",
                 file->directive, ctx->acme_user, (long)ctx->acme_uid, file->path, why);
    return 1;
}

/* A key file readable by its owner only is safe when that owner is root or the ACME account. */
static void preflight_eab_owner(const autotls_ctx_t *ctx, const char *path)
{
    struct stat st;

    if (stat(path, &st) != 0 || st.st_uid == 0 || st.st_uid == ctx->acme_uid) {
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, ctx->main_server,
                 AUTOTLS_LOGNO(0912) "AutoTLSEAB: %s is owned by uid %ld, neither root nor the "
                                     "ACME account %s (uid %ld): that account can read the MAC "
                                     "key too. chown it to %s",
                 path, (long)st.st_uid, ctx->acme_user, (long)ctx->acme_uid, ctx->acme_user);
}

static void preflight_files(const autotls_ctx_t *ctx, const preflight_file_t *files, int count,
                            apr_pool_t *ptemp)
{
    pid_t pid;
    int i, failed = 0, status;

    if (count == 0) {
        return;
    }
    if ((pid = fork()) < 0) {
        apr_status_t rv = APR_FROM_OS_ERROR(errno);

        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, ctx->main_server,
                     AUTOTLS_LOGNO(0913) "cannot fork to check the files the ACME account "
                                         "reads; not checked");
        return;
    }
    if (pid == 0) {
        if (autotls_acme_user_become(ctx) != APR_SUCCESS) {
            _exit(PREFLIGHT_EXIT_FAILED); /* logged there */
        }
        for (i = 0; i < count; ++i) {
            failed |= preflight_file_fails(ctx, &files[i], ptemp);
        }
        _exit(failed ? PREFLIGHT_EXIT_FAILED : PREFLIGHT_EXIT_OK);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
}

void autotls_preflight(const autotls_ctx_t *ctx, apr_pool_t *ptemp)
{
    preflight_file_t files[2];
    int count = 0;

    preflight_contact(ctx);
    if (ctx->ca_file != NULL) {
        files[count++] = (preflight_file_t){"AutoTLSCACertificateFile", ctx->ca_file, 0};
    }
    if (ctx->eab_hmac_file != NULL) {
        preflight_eab_owner(ctx, ctx->eab_hmac_file);
        files[count++] = (preflight_file_t){"AutoTLSEAB", ctx->eab_hmac_file, 1};
    }
    preflight_files(ctx, files, count, ptemp);
}
