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
 * O_NOFOLLOW. Nothing is deleted: the old directory stays aside, root-only, for the admin.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_NOFOLLOW, O_DIRECTORY, O_CLOEXEC, openat, fdopendir */
#endif

#include <dirent.h>
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

#define ADOPT_MODE_SECRET_FILE AT_STORE_MODE_SECRET_FILE
#define ADOPT_MODE_PUBLIC_FILE AT_STORE_MODE_PUBLIC_FILE
#define ADOPT_MODE_ASIDE_DIR 0700
#define ADOPT_OTHERS_WRITE 0022
#define ADOPT_ASIDE_FORMAT "%s.before-%s-%" APR_TIME_T_FMT /* group, owner, seconds */
/* Bounds on what one adoption reads: entries per directory, and bytes copied at once. */
#define ADOPT_MAX_ENTRIES 100000
#define ADOPT_COPY_CHUNK 65536

static apr_status_t adopt_os_status(void)
{
    return APR_FROM_OS_ERROR(errno);
}

/* Copies one item from (sfd, name) into (dfd, name) if it follows the store's rules. */
static int adopt_copy_item(int sfd, int dfd, const char *name, const char *where,
                           const at_store_adopt_t *how)
{
    char buf[ADOPT_COPY_CHUNK];
    struct stat st;
    int in, out, ok = 0;
    ssize_t n;

    in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (in < 0) {
        at_log(AT_LOG_WARN, adopt_os_status(), AT_LOGNO(1123) "store: not carrying over %s/%s",
               where, name);
        return 0;
    }
    if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
        st.st_size > AT_STORE_MAX_ITEM) {
        at_log(AT_LOG_WARN, AT_EMODE,
               AT_LOGNO(1124) "store: not carrying over %s/%s: not a regular file with one name "
                              "within %d bytes",
               where, name, AT_STORE_MAX_ITEM);
        close(in);
        return 0;
    }
    out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                 how->secret ? ADOPT_MODE_SECRET_FILE : ADOPT_MODE_PUBLIC_FILE);
    if (out >= 0 && fchown(out, how->uid, how->gid) == 0) {
        ok = 1;
        while (ok && (n = read(in, buf, sizeof(buf))) != 0) {
            ok = n > 0 && write(out, buf, (size_t)n) == n;
        }
        ok = ok && fsync(out) == 0;
    }
    if (!ok) {
        at_log(AT_LOG_ERR, adopt_os_status(), AT_LOGNO(1125) "store: cannot carry over %s/%s",
               where, name);
        if (out >= 0) {
            unlinkat(dfd, name, 0);
        }
    }
    if (out >= 0) {
        close(out);
    }
    close(in);
    return ok;
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

/* Copies what (sfd) holds into (dfd): items, and at depth 0 of a group with name directories
 * those directories' items. Anything else (links, deeper trees, odd names) stays behind. */
static void adopt_copy_dir(int sfd, int dfd, const char *where, int depth,
                           const at_store_adopt_t *how, int *copied, int *skipped, apr_pool_t *p)
{
    struct dirent *e;
    int entries = 0;
    DIR *d;
    int fd = dup(sfd);

    if (fd < 0 || (d = fdopendir(fd)) == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        at_log(AT_LOG_ERR, adopt_os_status(), AT_LOGNO(1126) "store: cannot list %s", where);
        return;
    }
    while ((e = readdir(d)) != NULL && entries++ < ADOPT_MAX_ENTRIES) {
        struct stat st;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        if (!at_store_component_valid(e->d_name) ||
            fstatat(sfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            ++*skipped;
            continue;
        }
        if (S_ISDIR(st.st_mode) && depth == 0 && how->named) {
            int sub = openat(sfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            int dsub = sub >= 0 ? adopt_make_dir(dfd, e->d_name, how) : -1;

            if (dsub >= 0) {
                adopt_copy_dir(sub, dsub, apr_pstrcat(p, where, "/", e->d_name, NULL), 1, how,
                               copied, skipped, p);
                close(dsub);
            } else {
                ++*skipped;
            }
            if (sub >= 0) {
                close(sub);
            }
        } else if (S_ISREG(st.st_mode) && adopt_copy_item(sfd, dfd, e->d_name, where, how)) {
            ++*copied;
        } else {
            ++*skipped;
        }
    }
    closedir(d);
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
        adopt_copy_dir(old, fresh, apr_pstrcat(p, root, "/", result->aside, NULL), 0, how,
                       &result->copied, &result->skipped, p);
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
