/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_layout.c: the store's directories, their owners and modes, made and kept at startup.
 *
 * The one idea: root lays out the store in the parent's post_config, before any other process
 * of ours runs; every directory is opened without following links and set back to its owner
 * and mode when it drifted (with a log line), and a group an older release left to another
 * owner is handed over to the ACME account (at_store_fs_adopt). The table below is the store
 * table of docs/ARCHITECTURE.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_strings.h>

#include <httpd.h>
#include <http_log.h>

#include "at_store.h"
#include "autotls.h"
#include "log_glue.h"
#include "store_layout.h"

APLOG_USE_MODULE(autotls);

#define LAYOUT_MODE_PERMS 07777

/* A store directory: who owns it and how open it is (docs/SECURITY.md, "Who writes what"). */
typedef struct {
    at_store_group_e group;
    int acme_owned; /* owned by the ACME account (the renewal process) instead of root */
    mode_t mode;
    int secret; /* its items are private keys or job state: 0600, and the directory 0700 */
    int adopt;  /* its items are carried over when an older release left it to another owner */
    int named;  /* items sit in name directories (<group>/<name>/<item>), not in the group */
} layout_dir_t;

/* Only challenges/ and status/ are readable by User (the children serve the answers and the
 * status pages); nothing is writable by User. staging/ and challenges/ hold work in flight, which a
 * restart redoes, so when an older release left them to User they start empty. */
static const layout_dir_t layout_dirs[] = {
    {AT_STORE_LIVE, 0, AT_STORE_MODE_SECRET_DIR, 1, 0, 1},
    {AT_STORE_ACCOUNTS, 1, AT_STORE_MODE_SECRET_DIR, 1, 1, 1},
    {AT_STORE_JOBS, 1, AT_STORE_MODE_SECRET_DIR, 0, 1, 0},
    {AT_STORE_STAGING, 1, AT_STORE_MODE_SECRET_DIR, 0, 0, 1},
    {AT_STORE_CHALLENGES, 1, AT_STORE_MODE_PUBLIC_DIR, 0, 0, 0},
    /* the status snapshot: readable by the children, who serve the status pages */
    {AT_STORE_STATUS, 1, AT_STORE_MODE_PUBLIC_DIR, 0, 0, 0},
    /* who orders which site now (at_store_lease_take): work in flight, so it starts empty */
    {AT_STORE_LEASES, 1, AT_STORE_MODE_SECRET_DIR, 1, 0, 0},
};

/* Fixes owner and mode of the directory open as fd; drift is logged, a fresh one is not. */
static apr_status_t layout_fix_dir(server_rec *s, int fd, const char *path, uid_t uid, gid_t gid,
                                   mode_t mode, int created)
{
    struct stat st;
    int chown_ok = geteuid() == 0;
    apr_status_t rv;

    if (fstat(fd, &st) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, AUTOTLS_LOGNO(0260) "cannot stat %s", path);
        return rv;
    }
    if (chown_ok && (st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     AUTOTLS_LOGNO(0261) "cannot give %s to uid %ld gid %ld", path, (long)uid,
                     (long)gid);
        return rv;
    }
    if ((st.st_mode & LAYOUT_MODE_PERMS) != mode && fchmod(fd, mode) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, AUTOTLS_LOGNO(0262) "cannot set mode %04o on %s",
                     (unsigned)mode, path);
        return rv;
    }
    if (!created && ((chown_ok && (st.st_uid != uid || st.st_gid != gid)) ||
                     (st.st_mode & LAYOUT_MODE_PERMS) != mode)) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     AUTOTLS_LOGNO(0263) "store directory %s had drifted (uid %ld gid %ld mode "
                                         "%04o); set back to uid %ld gid %ld mode %04o",
                     path, (long)st.st_uid, (long)st.st_gid,
                     (unsigned)(st.st_mode & LAYOUT_MODE_PERMS), (long)(chown_ok ? uid : st.st_uid),
                     (long)(chown_ok ? gid : st.st_gid), (unsigned)mode);
    }
    return APR_SUCCESS;
}

/* Makes path a real directory (never a link) owned by uid:gid with exactly mode. */
static apr_status_t layout_ensure_dir(server_rec *s, const char *path, uid_t uid, gid_t gid,
                                      mode_t mode)
{
    int created = mkdir(path, mode) == 0;
    int fd;
    apr_status_t rv;

    if (!created && errno != EEXIST) {
        rv = APR_FROM_OS_ERROR(errno);
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     AUTOTLS_LOGNO(0264) "cannot create store directory %s", path);
        return rv;
    }
    fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        rv = APR_FROM_OS_ERROR(errno);
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     AUTOTLS_LOGNO(0265) "cannot open store directory %s: it must be a "
                                         "directory, not a link",
                     path);
        return rv;
    }
    rv = layout_fix_dir(s, fd, path, uid, gid, mode, created);
    close(fd);
    return rv;
}

/* A group an older release (or another AutoTLSUser) left to another owner is handed over to
 * the ACME account without root walking a tree that owner can still change (at_store_fs_adopt):
 * no certificate is ordered again, since accounts/ and jobs/ come along. */
static void layout_adopt_dir(autotls_ctx_t *ctx, const layout_dir_t *d, apr_pool_t *ptemp)
{
    at_store_adopt_t how = {ctx->acme_uid, ctx->acme_gid, (int)d->mode,
                            d->secret,     d->adopt,      d->named};
    at_store_adopt_result_t result;
    apr_status_t rv;

    rv = at_store_fs_adopt(&result, ctx->store, d->group, &how, ptemp);
    if (!result.moved) {
        return;
    }
    ap_log_error(APLOG_MARK, rv == APR_SUCCESS ? APLOG_NOTICE : APLOG_ERR, rv, ctx->main_server,
                 AUTOTLS_LOGNO(0292) "store: %s/ belonged to uid %ld; handed over to the ACME "
                                     "account %s: %d item(s) carried over, %d entr%s left "
                                     "behind in %s/%s (now root-only; remove it when satisfied)",
                 at_store_group_name(d->group), (long)result.previous_owner, ctx->acme_user,
                 result.copied, result.skipped, result.skipped == 1 ? "y" : "ies", ctx->store_dir,
                 result.aside);
}

apr_status_t autotls_store_layout_prepare(autotls_ctx_t *ctx, apr_pool_t *ptemp)
{
    server_rec *s = ctx->main_server;
    int root = geteuid() == 0;
    uid_t own_uid = root ? 0 : geteuid();
    gid_t own_gid = root ? 0 : getegid();
    char *dir = NULL;
    apr_size_t i;
    apr_status_t rv;

    rv = apr_filepath_merge(&dir, NULL, ctx->store_dir, APR_FILEPATH_NATIVE, ptemp);
    if (rv == APR_SUCCESS) {
        rv = apr_dir_make_recursive(dir, APR_FPROT_OS_DEFAULT, ptemp);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     AUTOTLS_LOGNO(0266) "cannot create the store directory %s (AutoTLSStore)",
                     ctx->store_dir);
        return rv;
    }
    rv = layout_ensure_dir(s, dir, own_uid, own_gid, AT_STORE_MODE_ROOT_DIR);
    for (i = 0; rv == APR_SUCCESS && i < sizeof(layout_dirs) / sizeof(layout_dirs[0]); i++) {
        const layout_dir_t *d = &layout_dirs[i];
        const char *path = apr_pstrcat(ptemp, dir, "/", at_store_group_name(d->group), NULL);
        uid_t uid = d->acme_owned && root ? ctx->acme_uid : own_uid;
        gid_t gid = d->acme_owned && root ? ctx->acme_gid : own_gid;

        if (d->acme_owned && root) {
            layout_adopt_dir(ctx, d, ptemp);
        }
        rv = layout_ensure_dir(s, path, uid, gid, d->mode);
    }
    return rv;
}

void autotls_store_layout_owners(const autotls_ctx_t *ctx, at_store_adopt_t *layout)
{
    const at_store_adopt_t root_only = {0, 0, AT_STORE_MODE_SECRET_DIR, 1, 1, 1};
    apr_size_t i;
    int g;

    for (g = 0; g < AT_STORE_GROUP_COUNT; ++g) {
        layout[g] = root_only; /* archive/: root's, like live/ */
    }
    for (i = 0; i < sizeof(layout_dirs) / sizeof(layout_dirs[0]); i++) {
        const layout_dir_t *d = &layout_dirs[i];
        at_store_adopt_t *own = &layout[d->group];

        own->uid = d->acme_owned ? ctx->acme_uid : 0;
        own->gid = d->acme_owned ? ctx->acme_gid : 0;
        own->dir_mode = (int)d->mode;
        own->secret = d->secret;
        own->copy = d->adopt;
        own->named = d->named;
    }
}
