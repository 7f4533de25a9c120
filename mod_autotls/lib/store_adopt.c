/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_adopt.c: hands a store group written by an older release over to its new owner.
 *
 * The one idea: a directory another uid (User, before the ACME account existed) could write is
 * never walked by root where it stands. It is renamed aside in the root-owned store directory
 * and given to root with mode 0700 through a descriptor opened without following links, so that
 * nobody else can change it any more; then a fresh directory is made for the new owner and each
 * item that passes the store's rules (a regular file with one name, a valid item name, within the
 * size cap, at most one directory level deep) is copied into it with openat, O_EXCL and
 * O_NOFOLLOW (store_tree_copy.c, the walk a carry uses too). Nothing is deleted: the old directory
 * stays aside, root-only, for the admin.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_NOFOLLOW, O_DIRECTORY, O_CLOEXEC, openat */
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_time.h>

#include "at_core.h"
#include "at_store.h"
#include "store_tree_copy.h"

#define ADOPT_MODE_SECRET_FILE AT_STORE_MODE_SECRET_FILE
#define ADOPT_MODE_PUBLIC_FILE AT_STORE_MODE_PUBLIC_FILE
#define ADOPT_MODE_ASIDE_DIR 0700
#define ADOPT_OTHERS_WRITE 0022
#define ADOPT_ASIDE_FORMAT "%s.before-%s-%" APR_TIME_T_FMT /* group, owner, seconds */
/* Bounds on what one adoption reads: entries per directory; name directories' depth. */
#define ADOPT_MAX_ENTRIES 100000
#define ADOPT_NAMED_LEVELS 1 /* group/name/item */

static apr_status_t adopt_os_status(void)
{
    return APR_FROM_OS_ERROR(errno);
}

/* Makes (dfd, name) a fresh directory of the new owner and returns it open, or -1. */
static int adopt_make_dir(int dfd, const char *name, const at_store_adopt_t *how)
{
    int fd;

    if (mkdirat(dfd, name, how->dir_mode) != 0 && errno != EEXIST) {
        return -1;
    }
    fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0 && (fchown(fd, how->uid, how->gid) != 0 || fchmod(fd, how->dir_mode) != 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Copies the items of the directory moved aside (and one level of name directories when the
 * group has them) into the fresh one; anything else stays behind. */
static void adopt_copy(int old, int fresh, const char *where, const at_store_adopt_t *how,
                       at_store_adopt_result_t *result, apr_pool_t *p)
{
    at_store_tree_copy_t copy = {how->uid,
                                 how->gid,
                                 1,
                                 (mode_t)how->dir_mode,
                                 how->secret ? ADOPT_MODE_SECRET_FILE : ADOPT_MODE_PUBLIC_FILE,
                                 how->named ? ADOPT_NAMED_LEVELS : 0,
                                 ADOPT_MAX_ENTRIES,
                                 0};
    at_store_tree_count_t count = {0, 0};

    at_store_tree_copy_dir(old, fresh, where, &copy, &count, p);
    result->copied = count.copied;
    result->skipped = count.skipped;
}

apr_status_t at_store_fs_adopt(at_store_adopt_result_t *result, at_store_t *store,
                               at_store_group_e group, const at_store_adopt_t *how, apr_pool_t *p)
{
    const char *root = at_store_fs_root(store);
    const char *name = at_store_group_name(group);
    struct stat st;
    int rfd = -1, old = -1, fresh = -1;
    apr_status_t rv = APR_SUCCESS;

    memset(result, 0, sizeof(*result));
    if (root == NULL) {
        return APR_ENOTIMPL;
    }
    rfd = open(*root != '\0' ? root : "/", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (rfd < 0) {
        return adopt_os_status();
    }
    if (fstatat(rfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        rv = errno == ENOENT ? APR_SUCCESS : adopt_os_status();
        goto done;
    }
    if (S_ISDIR(st.st_mode) &&
        (st.st_uid == how->uid || (st.st_uid == 0 && (st.st_mode & ADOPT_OTHERS_WRITE) == 0))) {
        goto done; /* the new owner's, or root's alone: a plain chown of the directory will do */
    }
    result->aside =
        apr_psprintf(p, ADOPT_ASIDE_FORMAT, name, apr_psprintf(p, "uid%ld", (long)st.st_uid),
                     apr_time_sec(apr_time_now()));
    result->previous_owner = st.st_uid;
    if (renameat(rfd, name, rfd, result->aside) != 0) {
        rv = adopt_os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1127) "store: cannot move %s/%s aside", root, name);
        goto done;
    }
    result->moved = 1;
    old = openat(rfd, result->aside, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (old >= 0 && (fchown(old, 0, 0) != 0 || fchmod(old, ADOPT_MODE_ASIDE_DIR) != 0)) {
        rv = adopt_os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1128) "store: cannot take %s/%s away from uid %ld", root,
               result->aside, (long)st.st_uid);
        goto done;
    }
    if ((fresh = adopt_make_dir(rfd, name, how)) < 0) {
        rv = adopt_os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1129) "store: cannot make %s/%s for uid %ld", root, name,
               (long)how->uid);
        goto done;
    }
    if (old >= 0 && how->copy) {
        adopt_copy(old, fresh, apr_pstrcat(p, root, "/", result->aside, NULL), how, result, p);
    }
    fsync(fresh);
    fsync(rfd);
done:
    if (fresh >= 0) {
        close(fresh);
    }
    if (old >= 0) {
        close(old);
    }
    close(rfd);
    return rv;
}
