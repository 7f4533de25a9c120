/* SPDX-License-Identifier: Apache-2.0 */
/*
 * preflight.c: the startup checks of preflight.h.
 *
 * The one idea: the renewal process runs as the ACME account (acme_user.h), not as root, so a
 * file that the root parent read fine while parsing the configuration may be unreadable where it
 * is used; the first order would then fail with "transport failure talking to the CA" and a
 * backoff. A child forked here becomes that account, opens each such file as the renewal process
 * will, logs one ERROR for each it cannot read, and exits. Nothing here changes any state. The
 * child holds no descriptor of the parent's but the error log, is waited for a bounded time
 * (then killed), and is not forked again at a graceful restart when its last check passed and
 * nothing it looks at changed (the account, the files and the directories above them).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* close_range */
#endif

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_md5.h>
#include <apr_portable.h>
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "acme_user.h"
#include "at_core.h"
#include "at_issue.h"
#include "at_secret_file.h"
#include "log_glue.h"
#include "preflight.h"

APLOG_USE_MODULE(autotls);

#define PREFLIGHT_EXIT_OK 0
#define PREFLIGHT_EXIT_FAILED 1
/* How long the parent waits for the check (a hung NFS or NSS lookup must not hang startup), and
 * after the kill for the child to go. */
#define PREFLIGHT_WAIT_LIMIT apr_time_from_sec(10)
#define PREFLIGHT_KILL_WAIT apr_time_from_sec(1)
#define PREFLIGHT_WAIT_STEP apr_time_from_msec(5)
#define PREFLIGHT_FIRST_INHERITED_FD 3
/* Remembered across graceful restarts: what the last check looked at, and whether it passed. */
#define PREFLIGHT_RETAINED "mod_autotls-preflight"
/* Besides each file and the directories above it: who the account is and which groups it has. */
static const char *const preflight_account_files[] = {"/etc/passwd", "/etc/group"};

typedef struct {
    int passed;
    unsigned char seen[APR_MD5_DIGESTSIZE];
} preflight_retained_t;

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

/* A key file readable by its owner only is safe when that owner is root or the ACME account
 * (the library's rule, on the file as the renewal process opens it). */
static void preflight_eab_owner(const autotls_ctx_t *ctx, const char *path, apr_pool_t *p)
{
    const char *why;
    apr_uid_t owner;

    if (at_secret_file_owner_check(&owner, &why, p, path, "the EAB MAC key", ctx->acme_uid) !=
        AT_EMODE) {
        return; /* fine, or unreadable: the child names that */
    }
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, ctx->main_server,
                 AUTOTLS_LOGNO(0912) "AutoTLSEAB: %s is owned by uid %ld, neither root nor the "
                                     "ACME account %s (uid %ld): that account can read the MAC "
                                     "key too. chown it to %s",
                 path, (long)owner, ctx->acme_user, (long)ctx->acme_uid, ctx->acme_user);
}

/* One line per path: the file as stat sees it (times too), and each directory above it (its
 * owner and mode: its times change with every file made in it). */
static void preflight_state_add(apr_md5_ctx_t *md5, const char *path, apr_pool_t *p)
{
    char *prefix = apr_pstrdup(p, path), *slash = prefix;
    struct stat st;
    const char *line;

    do {
        slash = strchr(slash + 1, '/');
        if (slash != NULL) {
            *slash = '\0';
        }
        if (stat(*prefix != '\0' ? prefix : "/", &st) != 0) {
            line = apr_psprintf(p, "%s missing %d\n", prefix, errno);
        } else {
            line = apr_psprintf(p, "%s %lu %lu %o %ld %ld %ld.%09ld\n", prefix,
                                (unsigned long)st.st_dev, (unsigned long)st.st_ino,
                                (unsigned)st.st_mode, (long)st.st_uid, (long)st.st_gid,
                                slash != NULL ? 0L : (long)st.st_ctim.tv_sec,
                                slash != NULL ? 0L : (long)st.st_ctim.tv_nsec);
        }
        apr_md5_update(md5, line, strlen(line));
        if (slash != NULL) {
            *slash = '/';
        }
    } while (slash != NULL);
}

/* A digest of everything the check depends on: the account and what it opens. */
static void preflight_state(unsigned char *digest, const autotls_ctx_t *ctx,
                            const preflight_file_t *files, int count, apr_pool_t *p)
{
    const char *who = apr_psprintf(p, "%ld %ld\n", (long)ctx->acme_uid, (long)ctx->acme_gid);
    apr_md5_ctx_t md5;
    size_t i;
    int f;

    apr_md5_init(&md5);
    apr_md5_update(&md5, who, strlen(who));
    for (i = 0; i < sizeof(preflight_account_files) / sizeof(preflight_account_files[0]); ++i) {
        preflight_state_add(&md5, preflight_account_files[i], p);
    }
    for (f = 0; f < count; ++f) {
        preflight_state_add(&md5, files[f].path, p);
    }
    apr_md5_final(digest, &md5);
}

/* The child keeps stdin, stdout, stderr and the error log, nothing else of the parent's. */
static void preflight_child_close_fds(const autotls_ctx_t *ctx)
{
    apr_os_file_t log = -1;

    if (ctx->main_server->error_log != NULL) {
        apr_os_file_get(&log, ctx->main_server->error_log);
    }
    if (log >= PREFLIGHT_FIRST_INHERITED_FD) {
        if (log > PREFLIGHT_FIRST_INHERITED_FD) {
            close_range(PREFLIGHT_FIRST_INHERITED_FD, (unsigned)log - 1, 0);
        }
        close_range((unsigned)log + 1, ~0U, 0);
    } else {
        close_range(PREFLIGHT_FIRST_INHERITED_FD, ~0U, 0);
    }
}

/* Waits up to limit for pid; 1 with *status when it ended. */
static int preflight_wait(pid_t pid, int *status, apr_interval_time_t limit)
{
    apr_time_t deadline = apr_time_now() + limit;
    pid_t got;

    while ((got = waitpid(pid, status, WNOHANG)) == 0 || (got < 0 && errno == EINTR)) {
        if (apr_time_now() >= deadline) {
            return 0;
        }
        apr_sleep(PREFLIGHT_WAIT_STEP);
    }
    return 1;
}

/* Returns whether the check passed. */
static int preflight_files(const autotls_ctx_t *ctx, const preflight_file_t *files, int count,
                           apr_pool_t *ptemp)
{
    pid_t pid;
    int i, failed = 0, status = 0;

    if ((pid = fork()) < 0) {
        apr_status_t rv = APR_FROM_OS_ERROR(errno);

        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, ctx->main_server,
                     AUTOTLS_LOGNO(0913) "cannot fork to check the files the ACME account "
                                         "reads; not checked");
        return 0;
    }
    if (pid == 0) {
        preflight_child_close_fds(ctx);
        if (autotls_acme_user_become(ctx) != APR_SUCCESS) {
            _exit(PREFLIGHT_EXIT_FAILED); /* logged there */
        }
        for (i = 0; i < count; ++i) {
            failed |= preflight_file_fails(ctx, &files[i], ptemp);
        }
        _exit(failed ? PREFLIGHT_EXIT_FAILED : PREFLIGHT_EXIT_OK);
    }
    if (!preflight_wait(pid, &status, PREFLIGHT_WAIT_LIMIT)) {
        kill(pid, SIGKILL);
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ctx->main_server,
                     AUTOTLS_LOGNO(0850) "the check of the files the ACME account %s reads did "
                                         "not finish within %d s (a hung file system or account "
                                         "lookup?); killed, not checked",
                     ctx->acme_user, (int)apr_time_sec(PREFLIGHT_WAIT_LIMIT));
        preflight_wait(pid, &status, PREFLIGHT_KILL_WAIT); /* else httpd reaps it later */
        return 0;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == PREFLIGHT_EXIT_OK;
}

static preflight_retained_t *preflight_retained(void)
{
    preflight_retained_t *r = ap_retained_data_get(PREFLIGHT_RETAINED);

    if (r == NULL) {
        r = ap_retained_data_create(PREFLIGHT_RETAINED, sizeof(*r));
        memset(r, 0, sizeof(*r));
    }
    return r;
}

void autotls_preflight(const autotls_ctx_t *ctx, apr_pool_t *ptemp)
{
    unsigned char seen[APR_MD5_DIGESTSIZE];
    preflight_retained_t *r = preflight_retained();
    /* each CA of the list: its roots for HTTPS and its EAB key (the first CA's may come from
     * AutoTLSCACertificateFile and AutoTLSEAB) */
    preflight_file_t *files = apr_pcalloc(ptemp, sizeof(*files) * 2 * (apr_size_t)ctx->cas->nelts);
    int count = 0, i;

    preflight_contact(ctx);
    for (i = 0; i < ctx->cas->nelts; i++) {
        const at_ca_spec_t *ca = &APR_ARRAY_IDX(ctx->cas, i, at_ca_spec_t);

        if (ca->ca_file != NULL) {
            files[count++] =
                (preflight_file_t){ca->ca_file == autotls_config_ca_cert_file(ctx->main_server)
                                       ? "AutoTLSCACertificateFile"
                                       : "AutoTLSCA cafile=",
                                   ca->ca_file, 0};
        }
        if (ca->eab_hmac_file != NULL) {
            preflight_eab_owner(ctx, ca->eab_hmac_file, ptemp);
            files[count++] = (preflight_file_t){
                ca->eab_hmac_file == autotls_config_eab_hmac_file(ctx->main_server)
                    ? "AutoTLSEAB"
                    : "AutoTLSCA eab=",
                ca->eab_hmac_file, 1};
        }
    }
    if (count == 0) {
        return;
    }
    preflight_state(seen, ctx, files, count, ptemp);
    if (r->passed && memcmp(seen, r->seen, sizeof(seen)) == 0) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ctx->main_server,
                     AUTOTLS_LOGNO(0851) "the files the ACME account %s reads passed their check "
                                         "and have not changed since: not checked again",
                     ctx->acme_user);
        return;
    }
    r->passed = preflight_files(ctx, files, count, ptemp);
    memcpy(r->seen, seen, sizeof(seen));
}
