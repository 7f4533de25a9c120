/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sweep.c: removes what killed processes leave in a filesystem store.
 *
 * The one idea: age tells a leftover from work in progress. Every writer of the store finishes
 * what it writes within seconds (a temp file, a staging set after its order) or within the
 * order timeout (a challenge response), so whatever is older than that has no writer left; and
 * at a cold start no writer runs at all. Directories are opened with O_NOFOLLOW and entries are
 * removed relative to them, so a link planted by the worker user never leads anywhere else; and
 * nothing is removed recursively: a set goes flat, its known items and temp files only
 * (at_store_purge_items), so a tree moved into staging/ loses nothing.
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
#include "at_issue.h"
#include "at_store.h"
#include "at_sweep.h"

/* Bounds on what one sweep walks through. */
#define SWEEP_MAX_ENTRIES (1024 * 1024)
#define SWEEP_NAMES_INITIAL 16
#define SWEEP_NSEC_PER_USEC 1000

typedef struct {
    apr_interval_time_t max_age;
    apr_time_t now;
    int removed;
} sweep_t;

int at_sweep_is_temp_name(const char *name)
{
    return at_store_is_temp_name(name);
}

static apr_time_t sweep_mtime(const struct stat *st)
{
    return apr_time_from_sec(st->st_mtim.tv_sec) + st->st_mtim.tv_nsec / SWEEP_NSEC_PER_USEC;
}

static int sweep_is_old(const sweep_t *sw, apr_time_t mtime)
{
    return sw->max_age <= 0 || sw->now - mtime > sw->max_age;
}

/* The path of a group directory: a filesystem store's own (temp files are its own kind of
 * leftover); APR_ENOTIMPL for any other backend, which has its own atomicity. */
static apr_status_t sweep_group_dir(const char **dir, at_store_t *store, at_store_group_e group,
                                    apr_pool_t *p)
{
    const char *root = at_store_fs_root(store);

    if (root == NULL) {
        return APR_ENOTIMPL;
    }
    *dir = apr_pstrcat(p, root, "/", at_store_group_name(group), NULL);
    return APR_SUCCESS;
}

/* Opens a directory (never a link) relative to dfd (AT_FDCWD: path is absolute) as a DIR. */
static apr_status_t sweep_opendir(DIR **d, int dfd, const char *name, const char *path)
{
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    apr_status_t rv;

    *d = NULL;
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) {
            return APR_ENOENT; /* nothing there, or no directory: nothing to sweep */
        }
        rv = APR_FROM_OS_ERROR(errno);
        at_log(AT_LOG_ERR, rv,
               AT_LOGNO(1175) "sweep: cannot open the directory %s (links are not followed)", path);
        return rv;
    }
    if ((*d = fdopendir(fd)) == NULL) {
        rv = APR_FROM_OS_ERROR(errno);
        close(fd);
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1176) "sweep: cannot read the directory %s", path);
        return rv;
    }
    return APR_SUCCESS;
}

static int sweep_dot_entry(const char *name)
{
    return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/* Removes the entry name of d (a file or a link, never a directory) when it is old enough. */
static void sweep_unlink_old(sweep_t *sw, DIR *d, const char *name, const char *dir, int temp_only)
{
    struct stat st;

    if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(st.st_mode) ||
        (temp_only && !S_ISREG(st.st_mode)) || !sweep_is_old(sw, sweep_mtime(&st))) {
        return;
    }
    if (unlinkat(dirfd(d), name, 0) != 0) {
        if (errno != ENOENT) {
            at_log(AT_LOG_WARN, APR_FROM_OS_ERROR(errno),
                   AT_LOGNO(1177) "sweep: cannot remove %s/%s", dir, name);
        }
        return;
    }
    sw->removed++;
}

/* Temp files directly in d; with depth > 0, also in its subdirectories. */
static void sweep_temp_in(sweep_t *sw, DIR *d, const char *dir, int depth, apr_pool_t *p)
{
    struct dirent *de;
    int seen = 0;

    while ((de = readdir(d)) != NULL && ++seen <= SWEEP_MAX_ENTRIES) {
        if (sweep_dot_entry(de->d_name)) {
            continue;
        }
        if (at_sweep_is_temp_name(de->d_name)) {
            sweep_unlink_old(sw, d, de->d_name, dir, 1);
        } else if (depth > 0 && (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN)) {
            const char *path = apr_pstrcat(p, dir, "/", de->d_name, NULL);
            DIR *sub;

            if (sweep_opendir(&sub, dirfd(d), de->d_name, path) == APR_SUCCESS) {
                sweep_temp_in(sw, sub, path, depth - 1, p);
                closedir(sub);
            }
        }
    }
}

apr_status_t at_sweep_temp_files(at_store_t *store, apr_interval_time_t max_age, apr_time_t now,
                                 int *removed, apr_pool_t *p)
{
    sweep_t sw = {max_age, now, 0};
    apr_status_t rv = APR_SUCCESS;
    int group;

    for (group = 0; group < AT_STORE_GROUP_COUNT && rv == APR_SUCCESS; group++) {
        const char *dir;
        DIR *d;

        if ((rv = sweep_group_dir(&dir, store, (at_store_group_e)group, p)) != APR_SUCCESS) {
            break;
        }
        if ((rv = sweep_opendir(&d, AT_FDCWD, dir, dir)) == APR_ENOENT) {
            rv = APR_SUCCESS;
            continue;
        }
        if (rv == APR_SUCCESS) {
            sweep_temp_in(&sw, d, dir, 1, p);
            closedir(d);
        }
    }
    if (removed != NULL) {
        *removed = sw.removed;
    }
    return rv;
}

apr_status_t at_sweep_challenges(at_store_t *store, apr_interval_time_t max_age, apr_time_t now,
                                 int *removed, apr_pool_t *p)
{
    sweep_t sw = {max_age, now, 0};
    struct dirent *de;
    const char *dir;
    DIR *d;
    int seen = 0;
    apr_status_t rv;

    if (removed != NULL) {
        *removed = 0;
    }
    if ((rv = sweep_group_dir(&dir, store, AT_STORE_CHALLENGES, p)) != APR_SUCCESS ||
        (rv = sweep_opendir(&d, AT_FDCWD, dir, dir)) != APR_SUCCESS) {
        return rv == APR_ENOENT ? APR_SUCCESS : rv;
    }
    while ((de = readdir(d)) != NULL && ++seen <= SWEEP_MAX_ENTRIES) {
        if (at_store_component_valid(de->d_name)) {
            sweep_unlink_old(&sw, d, de->d_name, dir, 0);
        }
    }
    closedir(d);
    if (removed != NULL) {
        *removed = sw.removed;
    }
    return APR_SUCCESS;
}

/* Whether staging/<name> (an entry of the directory d) is a set without `ready`, and when the
 * newest thing in it changed. A file or link where a set should be counts as unfinished. */
static int sweep_unfinished(apr_time_t *newest, DIR *d, const char *name, const char *ready,
                            const char *path)
{
    struct stat st;
    struct dirent *de;
    DIR *set;
    int seen = 0, complete = 0;

    if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return 0;
    }
    *newest = sweep_mtime(&st);
    if (!S_ISDIR(st.st_mode)) {
        return 1;
    }
    if (sweep_opendir(&set, dirfd(d), name, path) != APR_SUCCESS) {
        return 0;
    }
    while ((de = readdir(set)) != NULL && ++seen <= SWEEP_MAX_ENTRIES && !complete) {
        if (sweep_dot_entry(de->d_name)) {
            continue;
        }
        complete = strcmp(de->d_name, ready) == 0;
        if (fstatat(dirfd(set), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            sweep_mtime(&st) > *newest) {
            *newest = sweep_mtime(&st);
        }
    }
    closedir(set);
    return !complete;
}

apr_status_t at_sweep_remove_set(at_store_t *store, const char *name, const char *ready,
                                 apr_pool_t *p)
{
    const char *items[] = {AT_CERTSET_KEY, AT_CERTSET_CHAIN, AT_CERTSET_META, ready};
    int count = (int)(sizeof(items) / sizeof(items[0])) - (ready == NULL);

    return at_store_purge_items(store, AT_STORE_STAGING, name, items, count, p);
}

/* Every valid entry name of d, and (apart) every temp name: sets a killed writer never put in
 * place (at_store_save_set). */
static apr_array_header_t *sweep_entries(apr_array_header_t **temps, DIR *d, apr_pool_t *p)
{
    apr_array_header_t *names = apr_array_make(p, SWEEP_NAMES_INITIAL, sizeof(const char *));
    struct dirent *de;
    int seen = 0;

    *temps = apr_array_make(p, SWEEP_NAMES_INITIAL, sizeof(const char *));
    while ((de = readdir(d)) != NULL && ++seen <= SWEEP_MAX_ENTRIES) {
        if (at_store_component_valid(de->d_name)) {
            APR_ARRAY_PUSH(names, const char *) = apr_pstrdup(p, de->d_name);
        } else if (at_store_is_temp_name(de->d_name)) {
            APR_ARRAY_PUSH(*temps, const char *) = apr_pstrdup(p, de->d_name);
        }
    }
    return names;
}

/* Removes the unfinished set name of d (a set directory or a temp set directory) when old. */
static apr_status_t sweep_set(sweep_t *sw, at_store_t *store, DIR *d, const char *name,
                              const char *ready, const char *dir, apr_pool_t *p)
{
    apr_time_t newest = 0;
    apr_status_t rv;
    int unfinished =
        sweep_unfinished(&newest, d, name, ready, apr_pstrcat(p, dir, "/", name, NULL));

    /* A temp set directory is unfinished even with `ready` in it: it was never renamed. */
    if ((!unfinished && !at_store_is_temp_name(name)) || newest == 0 || !sweep_is_old(sw, newest)) {
        return APR_SUCCESS;
    }
    /* One set that cannot be removed (the store said why) does not keep the others. */
    if ((rv = at_sweep_remove_set(store, name, ready, p)) == APR_SUCCESS) {
        sw->removed++;
    }
    return rv;
}

apr_status_t at_sweep_staging(at_store_t *store, const apr_array_header_t *names, const char *ready,
                              apr_interval_time_t max_age, apr_time_t now, int *removed,
                              apr_pool_t *p)
{
    sweep_t sw = {max_age, now, 0};
    apr_array_header_t *all, *temps;
    const char *dir;
    DIR *d;
    int i;
    apr_status_t rv, one;

    if (removed != NULL) {
        *removed = 0;
    }
    if ((rv = sweep_group_dir(&dir, store, AT_STORE_STAGING, p)) != APR_SUCCESS ||
        (rv = sweep_opendir(&d, AT_FDCWD, dir, dir)) != APR_SUCCESS) {
        return rv == APR_ENOENT ? APR_SUCCESS : rv;
    }
    all = sweep_entries(&temps, d, p);
    if (names == NULL) {
        names = all;
    }
    for (i = 0; i < names->nelts + temps->nelts; i++) {
        const char *name = i < names->nelts ? APR_ARRAY_IDX(names, i, const char *)
                                            : APR_ARRAY_IDX(temps, i - names->nelts, const char *);

        if (i < names->nelts && !at_store_component_valid(name)) {
            continue;
        }
        if ((one = sweep_set(&sw, store, d, name, ready, dir, p)) != APR_SUCCESS &&
            rv == APR_SUCCESS) {
            rv = one;
        }
    }
    closedir(d);
    if (removed != NULL) {
        *removed = sw.removed;
    }
    return rv;
}
