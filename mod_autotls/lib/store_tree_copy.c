/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_tree_copy.c: the one walk that copies an old store directory into a store group, for an
 * adoption of a group another uid owned (store_adopt.c) and the carry of a whole store to a new
 * place (store_carry.c).
 *
 * The one idea: the source may have been writable by User, so it is read through descriptors
 * only, never following a link, and only what the store itself could have written is taken:
 * regular files with one name and a store name, directories down to a fixed depth. What is made
 * gets the owner and modes of the new store's layout, never the old ones. Past a bound the
 * caller decides: an adoption leaves the rest behind, a carry fails whole (no half store).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_NOFOLLOW, O_DIRECTORY, O_CLOEXEC, openat, fdopendir */
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include "at_core.h"
#include "at_store.h"
#include "store_tree_copy.h"

#define STORE_TREE_COPY_CHUNK 65536

static apr_status_t copy_os_status(void)
{
    return errno != 0 ? APR_FROM_OS_ERROR(errno) : APR_EGENERAL;
}

/* Some filesystems cannot sync a directory (EINVAL): renames there are as durable as it gets. */
static int copy_sync(int fd)
{
    return fsync(fd) == 0 || errno == EINVAL;
}

static int copy_own(int fd, const at_store_tree_copy_t *how, mode_t mode)
{
    return (!how->chown || fchown(fd, how->uid, how->gid) == 0) && fchmod(fd, mode) == 0;
}

/* Copies the regular file (sfd, name) into (dfd, name); 1 copied, 0 left behind, -1 failed. */
static int copy_file(int sfd, int dfd, const char *name, const char *where,
                     const at_store_tree_copy_t *how, apr_status_t *rv)
{
    char buf[STORE_TREE_COPY_CHUNK];
    struct stat st;
    int in, out, ok = 0;
    ssize_t n;

    in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (in < 0) {
        at_log(AT_LOG_WARN, copy_os_status(), AT_LOGNO(1123) "store: not carrying over %s/%s",
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
    out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, how->file_mode);
    if (out >= 0 && copy_own(out, how, how->file_mode)) {
        ok = 1;
        while (ok && (n = read(in, buf, sizeof(buf))) != 0) {
            ok = n > 0 && write(out, buf, (size_t)n) == n;
        }
        ok = ok && copy_sync(out);
    }
    if (!ok) {
        *rv = copy_os_status();
        at_log(AT_LOG_ERR, *rv, AT_LOGNO(1125) "store: cannot carry over %s/%s", where, name);
        if (out >= 0) {
            unlinkat(dfd, name, 0);
        }
    }
    if (out >= 0) {
        close(out);
    }
    close(in);
    return ok ? 1 : -1;
}

static apr_status_t copy_walk(int sfd, int dfd, const char *where, int level,
                              const at_store_tree_copy_t *how, at_store_tree_count_t *count,
                              apr_pool_t *p);

/* Makes (dfd, name) as a copy of the directory (sfd, name) one level down; -1 failed. */
static int copy_subdir(int sfd, int dfd, const char *name, const char *where, int level,
                       const at_store_tree_copy_t *how, at_store_tree_count_t *count,
                       apr_status_t *rv, apr_pool_t *p)
{
    const char *path = apr_pstrcat(p, where, "/", name, NULL);
    int in, out = -1;

    if (level >= how->max_levels) {
        at_log(how->strict ? AT_LOG_ERR : AT_LOG_WARN, AT_ETOOLARGE,
               AT_LOGNO(1550) "store: not carrying over %s: directories nest deeper than %d "
                              "levels there%s",
               path, how->max_levels, how->strict ? "; nothing is carried over" : "");
        *rv = how->strict ? AT_ETOOLARGE : APR_SUCCESS;
        return how->strict ? -1 : 0;
    }
    in = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0) {
        return 0; /* replaced by something else since it was listed: left behind */
    }
    if (mkdirat(dfd, name, how->dir_mode) != 0 ||
        (out = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
        !copy_own(out, how, how->dir_mode)) {
        *rv = copy_os_status();
        at_log(AT_LOG_ERR, *rv, AT_LOGNO(1125) "store: cannot carry over %s/%s", where, name);
    } else {
        *rv = copy_walk(in, out, path, level + 1, how, count, p);
        if (*rv == APR_SUCCESS && !copy_sync(out)) {
            *rv = copy_os_status();
        }
    }
    if (out >= 0) {
        close(out);
    }
    close(in);
    return *rv == APR_SUCCESS ? 1 : -1;
}

static apr_status_t copy_walk(int sfd, int dfd, const char *where, int level,
                              const at_store_tree_copy_t *how, at_store_tree_count_t *count,
                              apr_pool_t *p)
{
    apr_status_t rv = APR_SUCCESS, one;
    struct dirent *e;
    struct stat st;
    int entries = 0, fd = dup(sfd), done;
    DIR *d;

    if (fd < 0 || (d = fdopendir(fd)) == NULL) {
        rv = copy_os_status();
        if (fd >= 0) {
            close(fd);
        }
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1126) "store: cannot list %s", where);
        return how->strict ? rv : APR_SUCCESS;
    }
    while (rv == APR_SUCCESS && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        if (++entries > how->max_entries) {
            at_log(how->strict ? AT_LOG_ERR : AT_LOG_WARN, AT_ETOOLARGE,
                   AT_LOGNO(1551) "store: not carrying over all of %s: more than %d entries%s",
                   where, how->max_entries,
                   how->strict ? "; nothing is carried over" : "; the rest stays behind");
            rv = how->strict ? AT_ETOOLARGE : APR_SUCCESS;
            break;
        }
        one = APR_SUCCESS;
        if (!at_store_component_valid(e->d_name) ||
            fstatat(sfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            done = 0;
        } else if (S_ISDIR(st.st_mode)) {
            done = copy_subdir(sfd, dfd, e->d_name, where, level, how, count, &one, p);
        } else if (S_ISREG(st.st_mode)) {
            done = copy_file(sfd, dfd, e->d_name, where, how, &one);
            count->copied += done == 1;
        } else {
            done = 0;
        }
        count->skipped += done != 1;
        if (done < 0 && how->strict) {
            rv = one;
        }
    }
    closedir(d);
    return rv;
}

apr_status_t at_store_tree_copy_dir(int sfd, int dfd, const char *where,
                                    const at_store_tree_copy_t *how, at_store_tree_count_t *count,
                                    apr_pool_t *p)
{
    apr_status_t rv = copy_walk(sfd, dfd, where, 0, how, count, p);

    return rv == APR_SUCCESS && !copy_sync(dfd) ? copy_os_status() : rv;
}
