/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_carry.c: the default store directory, and the one-time carry of a store from the old
 * default location (under ServerRoot) to the new one (a state directory).
 *
 * The one idea: the new store appears by one rename, and only complete. The copy is made beside
 * it (<new>.carrying, root-only while it grows, so nobody else can change it), every file and
 * directory synced, then a marker file, then the rename. The old and new places may be on
 * different filesystems: only the copy crosses, the rename stays on the new one. A crash before
 * the rename leaves no new store, and the next start removes the partial copy and begins again;
 * after it, the marker says the carry is done. The old tree may have been writable by User (a
 * release before the ACME account): it is read through descriptors only, never following a link,
 * and only regular files with one name are taken (store_tree_copy.c, the walk an adoption uses
 * too), each given the owner and modes of its group in the new layout, never its old ones. A tree
 * deeper or wider than the bounds fails the carry whole: no marker, nothing renamed in.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* secure_getenv, O_NOFOLLOW, O_DIRECTORY, O_CLOEXEC, openat, fdopendir */
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include "at_core.h"
#include "at_store.h"
#include "at_store_carry.h"
#include "store_tree_copy.h"

/* configure --with-store-dir sets it; a build without configure gets Debian's place. */
#ifndef AT_STORE_DEFAULT_DIR
#define AT_STORE_DEFAULT_DIR "/var/lib/apache2/autotls"
#endif

#define CARRY_MODE_TEMP_DIR 0700   /* the copy while it grows: root's alone */
#define CARRY_MODE_PARENT_DIR 0755 /* a missing parent of the new store */
#define CARRY_MODE_MARKER 0644
#define CARRY_MAX_DEPTH 6 /* store/group/name/item is 3; archive sets nest one more */
#define CARRY_MAX_LEVELS (CARRY_MAX_DEPTH - 2) /* directory levels below a group */
#define CARRY_MAX_ENTRIES 1000000              /* per directory */

/* What makes a directory at the old location a store worth carrying. */
static const at_store_group_e carry_evidence[] = {AT_STORE_LIVE, AT_STORE_ACCOUNTS};

typedef struct {
    at_store_tree_count_t count;
    int root; /* running as root: owners are those of the layout */
    const at_store_adopt_t *layout;
} carry_ctx_t;

static apr_status_t carry_os_status(void)
{
    return errno != 0 ? APR_FROM_OS_ERROR(errno) : APR_EGENERAL;
}

const char *at_store_default_dir(void)
{
    const char *env = secure_getenv(AT_STORE_DIR_ENV);

    return env != NULL && env[0] == '/' ? env : AT_STORE_DEFAULT_DIR;
}

static apr_status_t carry_sync_fd(int fd)
{
    /* Some filesystems cannot sync a directory (EINVAL): renames there are as durable as it
     * gets. */
    return fsync(fd) == 0 || errno == EINVAL ? APR_SUCCESS : carry_os_status();
}

/* The store group an entry of the old store's top names; AT_STORE_GROUP_COUNT for none. */
static at_store_group_e carry_group(const char *name)
{
    int g;

    for (g = 0; g < AT_STORE_GROUP_COUNT; ++g) {
        if (strcmp(name, at_store_group_name((at_store_group_e)g)) == 0) {
            break;
        }
    }
    return (at_store_group_e)g;
}

/* Copies the group directory (sfd, name) into (dfd, name) with the layout's owner and modes. */
static apr_status_t carry_group_dir(int sfd, int dfd, const char *name, at_store_group_e group,
                                    const char *old_dir, carry_ctx_t *c, apr_pool_t *p)
{
    const at_store_adopt_t *own = &c->layout[group];
    at_store_tree_copy_t how = {own->uid,
                                own->gid,
                                c->root,
                                (mode_t)own->dir_mode,
                                own->secret ? AT_STORE_MODE_SECRET_FILE : AT_STORE_MODE_PUBLIC_FILE,
                                CARRY_MAX_LEVELS,
                                CARRY_MAX_ENTRIES,
                                1};
    apr_status_t rv;
    int in, out;

    if ((in = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        ++c->count.skipped; /* a link or something else in place of the group: left behind */
        return APR_SUCCESS;
    }
    if (mkdirat(dfd, name, how.dir_mode) != 0 ||
        (out = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        rv = carry_os_status();
        close(in);
        return rv;
    }
    if ((c->root && fchown(out, how.uid, how.gid) != 0) || fchmod(out, how.dir_mode) != 0) {
        rv = carry_os_status();
    } else {
        rv = at_store_tree_copy_dir(in, out, apr_pstrcat(p, old_dir, "/", name, NULL), &how,
                                    &c->count, p);
    }
    close(out);
    close(in);
    return rv;
}

/* Copies the store groups of the old store (sfd) into (dfd); anything else at the top stays
 * behind. */
static apr_status_t carry_groups(int sfd, int dfd, const char *old_dir, carry_ctx_t *c,
                                 apr_pool_t *p)
{
    apr_status_t rv = APR_SUCCESS;
    at_store_group_e group;
    struct dirent *e;
    int entries = 0, fd = dup(sfd);
    DIR *d;

    if (fd < 0 || (d = fdopendir(fd)) == NULL) {
        rv = carry_os_status();
        if (fd >= 0) {
            close(fd);
        }
        return rv;
    }
    while (rv == APR_SUCCESS && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        if (++entries > CARRY_MAX_ENTRIES) {
            at_log(AT_LOG_ERR, AT_ETOOLARGE,
                   AT_LOGNO(1552) "store: not carrying over %s: more than %d entries", old_dir,
                   CARRY_MAX_ENTRIES);
            rv = AT_ETOOLARGE;
        } else if ((group = carry_group(e->d_name)) == AT_STORE_GROUP_COUNT) {
            ++c->count.skipped;
        } else {
            rv = carry_group_dir(sfd, dfd, e->d_name, group, old_dir, c, p);
        }
    }
    closedir(d);
    return rv;
}

/* Removes the tree (dfd, name) that an interrupted carry left: root made it root-only, so
 * nobody else can have changed it; still, links are unlinked, never followed. */
static apr_status_t carry_remove_tree(int dfd, const char *name, int depth)
{
    struct dirent *e;
    struct stat st;
    apr_status_t rv = APR_SUCCESS;
    int fd;
    DIR *d;

    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return errno == ENOENT ? APR_SUCCESS : carry_os_status();
    }
    if (!S_ISDIR(st.st_mode)) {
        return unlinkat(dfd, name, 0) == 0 ? APR_SUCCESS : carry_os_status();
    }
    if (depth > CARRY_MAX_DEPTH ||
        (fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        return depth > CARRY_MAX_DEPTH ? APR_EINVAL : carry_os_status();
    }
    if ((d = fdopendir(fd)) == NULL) {
        rv = carry_os_status();
        close(fd);
        return rv;
    }
    while (rv == APR_SUCCESS && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            rv = carry_remove_tree(fd, e->d_name, depth + 1);
        }
    }
    closedir(d);
    if (rv == APR_SUCCESS && unlinkat(dfd, name, AT_REMOVEDIR) != 0) {
        rv = carry_os_status();
    }
    return rv;
}

/* Whether dir holds a store worth carrying: a live/ or accounts/ directory. */
static int carry_old_has_store(const char *dir, apr_pool_t *p)
{
    struct stat st;
    size_t i;

    for (i = 0; i < sizeof(carry_evidence) / sizeof(carry_evidence[0]); i++) {
        const char *group = at_store_group_name(carry_evidence[i]);

        if (lstat(apr_pstrcat(p, dir, "/", group, NULL), &st) == 0 && S_ISDIR(st.st_mode)) {
            return 1;
        }
    }
    return 0;
}

/* What stands at new: 0 nothing or an empty directory, 1 the marker of a done carry, 2 anything
 * else (a store in use); negative: it cannot be read. */
static int carry_new_state(const char *dir, apr_pool_t *p)
{
    struct dirent *e;
    struct stat st;
    int found = 0;
    DIR *d;

    if (lstat(apr_pstrcat(p, dir, "/", AT_STORE_CARRY_MARKER, NULL), &st) == 0) {
        return 1;
    }
    if ((d = opendir(dir)) == NULL) {
        return errno == ENOENT ? 0 : -1;
    }
    while (!found && (e = readdir(d)) != NULL) {
        found = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    }
    closedir(d);
    return found ? 2 : 0;
}

static apr_status_t carry_write_marker(int dfd, const char *old_dir)
{
    apr_status_t rv = APR_SUCCESS;
    size_t len = strlen(old_dir);
    int fd;

    fd = openat(dfd, AT_STORE_CARRY_MARKER, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                CARRY_MODE_MARKER);
    if (fd < 0) {
        return carry_os_status();
    }
    if (write(fd, old_dir, len) != (ssize_t)len || write(fd, "\n", 1) != 1) {
        rv = carry_os_status();
    }
    if (rv == APR_SUCCESS) {
        rv = carry_sync_fd(fd);
    }
    close(fd);
    return rv;
}

/* The copy of old_dir as <parent>/<temp>, complete with its marker and synced. old_dir itself
 * must not be a link (the last component; an admin's link is named in the error). */
static apr_status_t carry_make_copy(int pfd, const char *temp, const char *old_dir, carry_ctx_t *c,
                                    apr_pool_t *p)
{
    apr_status_t rv;
    int in, out;

    if ((in = open(old_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        return carry_os_status();
    }
    if (mkdirat(pfd, temp, CARRY_MODE_TEMP_DIR) != 0 ||
        (out = openat(pfd, temp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        rv = carry_os_status();
        close(in);
        return rv;
    }
    rv = carry_groups(in, out, old_dir, c, p);
    if (rv == APR_SUCCESS) {
        rv = carry_write_marker(out, old_dir);
    }
    if (rv == APR_SUCCESS &&
        ((c->root && fchown(out, 0, 0) != 0) || fchmod(out, AT_STORE_MODE_ROOT_DIR) != 0)) {
        rv = carry_os_status();
    }
    if (rv == APR_SUCCESS) {
        rv = carry_sync_fd(out);
    }
    close(out);
    close(in);
    return rv;
}

apr_status_t at_store_carry(at_carry_result_t *result, const char *old_dir, const char *new_dir,
                            const at_store_adopt_t *layout, apr_pool_t *p)
{
    carry_ctx_t c = {{0, 0}, geteuid() == 0, layout};
    char *parent, *base, *slash, *temp;
    struct stat so, sn;
    apr_status_t rv;
    int state, pfd;

    memset(result, 0, sizeof(*result));
    if (old_dir == NULL || new_dir == NULL || new_dir[0] != '/' || layout == NULL) {
        return APR_EINVAL;
    }
    if (!carry_old_has_store(old_dir, p) || strcmp(old_dir, new_dir) == 0 ||
        (stat(old_dir, &so) == 0 && stat(new_dir, &sn) == 0 && so.st_dev == sn.st_dev &&
         so.st_ino == sn.st_ino)) {
        return APR_SUCCESS; /* AT_CARRY_NOTHING */
    }
    if ((state = carry_new_state(new_dir, p)) != 0) {
        result->outcome = state == 1 ? AT_CARRY_DONE_BEFORE : AT_CARRY_IN_USE;
        return state < 0 ? carry_os_status() : APR_SUCCESS;
    }
    parent = apr_pstrdup(p, new_dir);
    for (slash = parent + strlen(parent) - 1; slash > parent && *slash == '/'; --slash) {
        *slash = '\0'; /* a trailing slash names no other place */
    }
    slash = strrchr(parent, '/');
    base = slash + 1;
    *slash = '\0';
    if (*base == '\0') {
        return APR_EINVAL;
    }
    if (*parent != '\0' &&
        (rv = apr_dir_make_recursive(parent, CARRY_MODE_PARENT_DIR, p)) != APR_SUCCESS) {
        return rv;
    }
    if ((pfd = open(*parent != '\0' ? parent : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        return carry_os_status();
    }
    temp = apr_pstrcat(p, base, AT_STORE_CARRY_TEMP_SUFFIX, NULL);
    rv = carry_remove_tree(pfd, temp, 0);
    if (rv == APR_SUCCESS) {
        rv = carry_make_copy(pfd, temp, old_dir, &c, p);
    }
    /* An empty new directory (made by a package, or by an earlier start with no sites) gives way
     * to the copy; then the rename is the commit. */
    if (rv == APR_SUCCESS && unlinkat(pfd, base, AT_REMOVEDIR) != 0 && errno != ENOENT) {
        rv = carry_os_status();
    }
    if (rv == APR_SUCCESS && renameat(pfd, temp, pfd, base) != 0) {
        rv = carry_os_status();
    }
    if (rv == APR_SUCCESS) {
        rv = carry_sync_fd(pfd);
    }
    if (rv != APR_SUCCESS) {
        carry_remove_tree(pfd, temp, 0); /* the next start begins again either way */
    }
    close(pfd);
    result->copied = c.count.copied;
    result->skipped = c.count.skipped;
    result->outcome = rv == APR_SUCCESS ? AT_CARRY_CARRIED : AT_CARRY_NOTHING;
    return rv;
}
