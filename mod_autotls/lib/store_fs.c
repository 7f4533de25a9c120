/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_fs.c: the filesystem store: one file per item, <root>/<group>/<name>/<item>.
 *
 * The one idea: a file is only ever replaced whole (temp file in the same directory, fsync,
 * rename, fsync of the directory), and a file is only ever believed after fstat of the already
 * opened descriptor says it is a regular file, ours, and not too open (and, read by root from
 * the worker's directories, not a hard link to anything else). Components reach this
 * file already checked by store.c, so they are joined into paths as they are.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* renameat2; O_NOFOLLOW, O_DIRECTORY, O_CLOEXEC, openat, mkdirat, fdopendir   \
                     */
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* renameat2, RENAME_NOREPLACE */
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <time.h>

#include <apr_file_info.h>
#include <apr_general.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "at_core.h"
#include "at_store.h"
#include "store_fs_internal.h"

#define FS_MODE_SECRET_FILE AT_STORE_MODE_SECRET_FILE
#define FS_MODE_PUBLIC_FILE AT_STORE_MODE_PUBLIC_FILE
#define FS_MODE_SECRET_DIR AT_STORE_MODE_SECRET_DIR
#define FS_MODE_PUBLIC_DIR AT_STORE_MODE_PUBLIC_DIR
#define FS_MODE_ROOT_DIR AT_STORE_MODE_ROOT_DIR
#define FS_FPROT_ROOT_DIR                                                                          \
    (APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE | APR_FPROT_GREAD |                   \
     APR_FPROT_GEXECUTE | APR_FPROT_WREAD | APR_FPROT_WEXECUTE)
#define FS_MODE_PERMS 07777
#define FS_MODE_GROUP_OTHER 0077
#define FS_MODE_GROUP_OTHER_WRITE 0022
/* Characters of the item kept in a temp file's name, so that ".<item>.tmp.XXXXXX" fits in 255. */
#define FS_TEMP_ITEM_KEEP 200
#define FS_TEMP_RANDOM 6
#define FS_TEMP_NAME_MAX (FS_TEMP_ITEM_KEEP + 16)
/* Temp names tried before giving up (a collision of six random characters is rare). */
#define FS_TEMP_TRIES 16
/* How often a directory that vanishes or appears under a save is tried again. */
#define FS_DIR_RACE_RETRIES 8
/* A directory the flat purge could not empty goes aside as ".<name>.aside.<time>". */
#define FS_ASIDE_FORMAT "%.*s.aside.%lx"
/* How often one read or write may be interrupted by a signal before we give up. */
#define FS_EINTR_RETRIES 100
/* Generations (fs_generation): time units, the mixing of inode and set directories (odd
 * constants of splitmix64), how long a change time stays too fresh to tell changes apart (a
 * clock tick and the coarsest timestamps we meet: 1 s), and the bit marking such a number. */
#define FS_NSEC_PER_USEC 1000
#define FS_NSEC_PER_SEC 1000000000LL
#define FS_GEN_INODE_MIX 0x9e3779b97f4a7c15ULL
#define FS_GEN_SET_MIX 0xbf58476d1ce4e5b9ULL
#define FS_GEN_SETTLE_NS (2 * FS_NSEC_PER_SEC)
#define FS_GEN_UNSETTLED_BIT (1ULL << 63)
/* What a watch (fs_watch) wakes for: an entry made, renamed in or out, removed; the directory
 * itself gone or replaced. Room for a batch of events (a header and a name each). */
#define FS_WATCH_MASK                                                                              \
    (IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF |         \
     IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)
#define FS_WATCH_BUF (64 * (sizeof(struct inotify_event) + NAME_MAX + 1))
/* Bound on what list and purge walk through. */
#define FS_LIST_MAX_ENTRIES (1024 * 1024)
#define FS_LIST_INITIAL 16

int at_store_fs_test_fail_before_rename = 0;

static const at_store_vtable_t fs_vtable;

#define FS_NO_TRUSTED_OWNER ((uid_t)-1)

typedef struct {
    const char *root; /* absolute, without a trailing '/' */
    uid_t trusted;    /* an owner accepted besides us and root, or FS_NO_TRUSTED_OWNER */
    int deferred;     /* saves skip their fsyncs until at_store_fs_sync (at_store_fs_defer_sync) */
} fs_store_t;

static apr_status_t os_status(void)
{
    return APR_FROM_OS_ERROR(errno);
}

static const char *fs_dir_path(at_store_t *store, at_store_group_e group, const char *name,
                               apr_pool_t *p)
{
    fs_store_t *fs = store->impl;
    const char *dir = apr_pstrcat(p, fs->root, "/", at_store_group_name(group), NULL);

    if (name != NULL && name[0] != '\0') {
        dir = apr_pstrcat(p, dir, "/", name, NULL);
    }
    return dir;
}

/* Only challenges/ and status/ are open to others (the web server's children serve the answers
 * and the status snapshot). */
static mode_t group_dir_mode(at_store_group_e group)
{
    return group == AT_STORE_CHALLENGES || group == AT_STORE_STATUS ? FS_MODE_PUBLIC_DIR
                                                                    : FS_MODE_SECRET_DIR;
}

/* Whether the open directory is owned by us: one someone swapped in is never chmodded. */
static int fs_dir_is_ours(int fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 && st.st_uid == geteuid();
}

/*
 * Opens the directory entry in dfd (path names it in log lines) without following a link,
 * making it with exactly mode when it is missing; an existing one must be a real directory.
 * Root writes into directories another account owns (accounts/, jobs/ belong to the ACME
 * account): nothing here goes by path, so a link planted there reaches nothing outside.
 */
static apr_status_t fs_open_dir_at(int dfd, const char *entry, const char *path, mode_t mode,
                                   int *fd)
{
    int tries, made = 0;
    apr_status_t rv;

    for (tries = 0; tries < FS_DIR_RACE_RETRIES; ++tries) {
        *fd = openat(dfd, entry, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (*fd >= 0) {
            /* mkdirat never creates more than mode (umask only takes bits away); fchmod on
             * what we opened adds back what the umask took, when it is still ours. */
            if (made && fs_dir_is_ours(*fd) && fchmod(*fd, mode) != 0) {
                rv = os_status();
                at_log(AT_LOG_ERR, rv, AT_LOGNO(1130) "store: cannot set mode %04o on directory %s",
                       (unsigned)mode, path);
                close(*fd);
                *fd = -1;
                return rv;
            }
            return APR_SUCCESS;
        }
        if (errno == ELOOP || errno == ENOTDIR) {
            at_log(AT_LOG_ERR, AT_EMODE,
                   AT_LOGNO(1131) "store: %s is not a directory (a symbolic link or a file); the "
                                  "store does not "
                                  "follow links",
                   path);
            return AT_EMODE;
        }
        if (errno != ENOENT) {
            rv = os_status();
            at_log(AT_LOG_ERR, rv, AT_LOGNO(1132) "store: cannot open directory %s", path);
            return rv;
        }
        if (mkdirat(dfd, entry, mode) == 0) {
            made = 1;
        } else if (errno != EEXIST) {
            rv = os_status();
            at_log(AT_LOG_ERR, rv, AT_LOGNO(1133) "store: cannot create directory %s", path);
            return rv;
        }
    }
    at_log(AT_LOG_ERR, APR_EAGAIN, AT_LOGNO(1134) "store: directory %s keeps vanishing (%d tries)",
           path, FS_DIR_RACE_RETRIES);
    return APR_EAGAIN;
}

static apr_status_t fs_sync_dir(const char *dir)
{
    apr_status_t rv = APR_SUCCESS;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0) {
        rv = os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1135) "store: cannot open directory %s to sync it", dir);
        return rv;
    }
    /* Some filesystems cannot sync a directory (EINVAL): their renames are as durable as it
     * gets there. */
    if (fsync(fd) != 0 && errno != EINVAL) {
        rv = os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1136) "store: cannot sync directory %s", dir);
    }
    close(fd);
    return rv;
}

static apr_status_t fs_write_all(int fd, const char *data, apr_size_t len)
{
    apr_size_t done = 0;
    int interrupts = 0;

    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);

        if (n < 0) {
            if (errno == EINTR && ++interrupts < FS_EINTR_RETRIES) {
                continue;
            }
            return os_status();
        }
        done += (apr_size_t)n;
    }
    return APR_SUCCESS;
}

/* Writes the temp file completely and durably; tmp is unlinked by the caller on failure. */
static apr_status_t fs_write_temp(int fd, const char *tmp, const void *data, apr_size_t len,
                                  mode_t mode, int sync)
{
    apr_status_t rv;

    if (fchmod(fd, mode) != 0) {
        rv = os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1137) "store: cannot set mode %04o on %s", (unsigned)mode,
               tmp);
        return rv;
    }
    if ((rv = fs_write_all(fd, data, len)) != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1138) "store: cannot write %" APR_SIZE_T_FMT " bytes to %s",
               len, tmp);
        return rv;
    }
    if (sync && fsync(fd) != 0) {
        rv = os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1139) "store: cannot sync %s", tmp);
        return rv;
    }
    return APR_SUCCESS;
}

/* Creates a new temp file ".<item>.tmp.XXXXXX" in dfd, 0600, never through a link; its name
 * goes to tmp (FS_TEMP_NAME_MAX bytes). */
static apr_status_t fs_temp_create_at(int dfd, const char *item, const char *dir, char *tmp,
                                      int *fd)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char random[FS_TEMP_RANDOM];
    char suffix[FS_TEMP_RANDOM + 1];
    int tries, i;
    apr_status_t rv;

    for (tries = 0; tries < FS_TEMP_TRIES; ++tries) {
        if ((rv = apr_generate_random_bytes(random, sizeof(random))) != APR_SUCCESS) {
            at_log(AT_LOG_ERR, rv,
                   AT_LOGNO(1140) "store: no random bytes for a temp file name in %s", dir);
            return rv;
        }
        for (i = 0; i < FS_TEMP_RANDOM; ++i) {
            suffix[i] = alphabet[random[i] % (sizeof(alphabet) - 1)];
        }
        suffix[FS_TEMP_RANDOM] = '\0';
        /* A leading '.' keeps temp files out of listings. */
        apr_snprintf(tmp, FS_TEMP_NAME_MAX, ".%.*s.tmp.%s", FS_TEMP_ITEM_KEEP, item, suffix);
        *fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     FS_MODE_SECRET_FILE);
        if (*fd >= 0) {
            return APR_SUCCESS;
        }
        if (errno != EEXIST) {
            break;
        }
    }
    rv = os_status();
    at_log(AT_LOG_ERR, rv, AT_LOGNO(1141) "store: cannot create a temp file in %s", dir);
    return rv;
}

/* Replaces dfd/item with the data through a temp file in the same directory. */
static apr_status_t fs_save_at(int dfd, const char *dir, const char *item, const void *data,
                               apr_size_t len, mode_t mode, int sync, apr_pool_t *p)
{
    char tmp[FS_TEMP_NAME_MAX];
    const char *tmp_path;
    apr_status_t rv;
    int fd;

    if ((rv = fs_temp_create_at(dfd, item, dir, tmp, &fd)) != APR_SUCCESS) {
        return rv;
    }
    tmp_path = apr_pstrcat(p, dir, "/", tmp, NULL);
    rv = fs_write_temp(fd, tmp_path, data, len, mode, sync);
    if (close(fd) != 0 && rv == APR_SUCCESS) {
        rv = os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1142) "store: cannot close %s", tmp_path);
    }
    if (rv == APR_SUCCESS && at_store_fs_test_fail_before_rename) {
        rv = APR_EGENERAL;
        at_log(AT_LOG_ERR, rv,
               AT_LOGNO(1143) "store: test hook: failing the save of %s/%s before rename", dir,
               item);
    }
    /* rename replaces whatever holds the name (a planted link too) and never follows it. */
    if (rv == APR_SUCCESS && renameat(dfd, tmp, dfd, item) != 0) {
        rv = os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1144) "store: cannot rename %s to %s/%s", tmp_path, dir,
               item);
    }
    if (rv != APR_SUCCESS) {
        unlinkat(dfd, tmp, 0);
        return rv;
    }
    /* Some filesystems cannot sync a directory (EINVAL): their renames are as durable as it
     * gets there. */
    if (sync && fsync(dfd) != 0 && errno != EINVAL) {
        rv = os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1136) "store: cannot sync directory %s", dir);
    }
    return rv;
}

/*
 * Walks root/group[/name] one component at a time (creating what is missing, following no link)
 * and saves the item in the directory it holds open.
 */
/* Opens (making it when missing) the group's directory below the root, following no link. */
static apr_status_t fs_open_group(at_store_t *store, at_store_group_e group, const char *gdir,
                                  int *gfd)
{
    fs_store_t *fs = store->impl;
    int rootfd;
    apr_status_t rv;

    rootfd = open(fs->root[0] != '\0' ? fs->root : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        rv = os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1145) "store: cannot open the store directory %s",
               fs->root);
        return rv;
    }
    rv = fs_open_dir_at(rootfd, at_store_group_name(group), gdir, group_dir_mode(group), gfd);
    close(rootfd);
    return rv;
}

static apr_status_t fs_save(at_store_t *store, at_store_group_e group, const char *name,
                            const char *item, const void *data, apr_size_t len,
                            at_store_access_e access, apr_pool_t *p)
{
    int secret = access == AT_STORE_SECRET;
    const char *gdir = fs_dir_path(store, group, NULL, p);
    const char *dir = fs_dir_path(store, group, name, p);
    int gfd = -1, dfd = -1;
    apr_status_t rv;

    if ((rv = fs_open_group(store, group, gdir, &gfd)) != APR_SUCCESS) {
        return rv;
    }
    if (strcmp(gdir, dir) == 0) {
        dfd = gfd;
        gfd = -1;
    } else {
        rv = fs_open_dir_at(gfd, name, dir, secret ? FS_MODE_SECRET_DIR : FS_MODE_PUBLIC_DIR, &dfd);
        close(gfd);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    rv = fs_save_at(dfd, dir, item, data, len, secret ? FS_MODE_SECRET_FILE : FS_MODE_PUBLIC_FILE,
                    !((fs_store_t *)store->impl)->deferred, p);
    close(dfd);
    return rv;
}

/* Whose files a reader believes: root's, and the trusted owner's (the ACME account) when one is
 * set; only without one (a store of the CLI's own) the reader's. A child running as User thus
 * never believes a file User could have written. */
static int fs_owner_trusted(const fs_store_t *fs, uid_t owner)
{
    if (owner == 0) {
        return 1;
    }
    return fs->trusted != FS_NO_TRUSTED_OWNER ? owner == fs->trusted : owner == geteuid();
}

/* The owner and mode rules of a loaded item, checked on the open descriptor. */
static apr_status_t fs_check_file(const fs_store_t *fs, const char *path, const struct stat *st,
                                  at_store_access_e access)
{
    int secret = access == AT_STORE_SECRET;
    mode_t perms = st->st_mode & FS_MODE_PERMS;
    uid_t euid = geteuid();
    mode_t too_open = secret ? FS_MODE_GROUP_OTHER : FS_MODE_GROUP_OTHER_WRITE;

    /* Where another owner is trusted (root reading what the worker staged), a file with a
     * second name may be someone else's file the worker linked in: the store itself only ever
     * makes files by rename, with one name. */
    if (S_ISREG(st->st_mode) && fs->trusted != FS_NO_TRUSTED_OWNER && st->st_nlink != 1) {
        at_log(AT_LOG_ERR, AT_EMODE,
               AT_LOGNO(1146) "store: refusing %s: it has %ld hard "
                              "links; a file staged for root must have "
                              "exactly one name",
               path, (long)st->st_nlink);
        return AT_EMODE;
    }
    if (S_ISREG(st->st_mode) && fs_owner_trusted(fs, st->st_uid) && (perms & too_open) == 0) {
        return APR_SUCCESS;
    }
    at_log(AT_LOG_ERR, AT_EMODE,
           AT_LOGNO(1147) "store: refusing %s: %s owned by uid "
                          "%ld with mode %04o; expected a regular file "
                          "owned by uid %ld or root, %s",
           path, S_ISREG(st->st_mode) ? "file" : "not a regular file", (long)st->st_uid,
           (unsigned)perms, (long)(fs->trusted != FS_NO_TRUSTED_OWNER ? fs->trusted : euid),
           secret ? "without group or other permissions (0600)"
                  : "not writable by group or other (0644)");
    return AT_EMODE;
}

static apr_status_t fs_read_all(int fd, const char *path, char *buf, apr_size_t size,
                                apr_size_t *len)
{
    apr_size_t done = 0;
    int interrupts = 0;
    apr_status_t rv;

    while (done < size) {
        ssize_t n = read(fd, buf + done, size - done);

        if (n == 0) {
            break;
        }
        if (n < 0) {
            if (errno == EINTR && ++interrupts < FS_EINTR_RETRIES) {
                continue;
            }
            rv = os_status();
            at_log(AT_LOG_ERR, rv, AT_LOGNO(1148) "store: cannot read %s", path);
            return rv;
        }
        done += (apr_size_t)n;
    }
    *len = done;
    return APR_SUCCESS;
}

static apr_status_t fs_open_failed(const char *path)
{
    apr_status_t rv;

    if (errno == ENOENT) {
        return APR_ENOENT;
    }
    if (errno == ELOOP || errno == ENOTDIR) {
        at_log(AT_LOG_ERR, AT_EMODE,
               AT_LOGNO(1149) "store: refusing %s: it or a directory on its way is a symbolic link "
                              "or not a "
                              "directory; the store does not follow links",
               path);
        return AT_EMODE;
    }
    rv = os_status();
    at_log(AT_LOG_ERR, rv, AT_LOGNO(1150) "store: cannot open %s", path);
    return rv;
}

/*
 * Opens the directory holding path's last component (path is below the store root) one component
 * at a time, following no symbolic link on the way: whoever owns a group directory (the worker
 * user owns staging/) must not be able to point the root activator anywhere else. *rel (free it)
 * holds the path below the root, *last points into it at the last component.
 */
static apr_status_t fs_open_parent(const fs_store_t *fs, const char *path, int *dfd, char **rel,
                                   const char **last)
{
    apr_size_t root_len = strlen(fs->root);
    char *component, *next;

    *rel = NULL;
    if (strncmp(path, fs->root, root_len) != 0 || path[root_len] != '/') {
        return AT_EARG;
    }
    *rel = strdup(path + root_len + 1);
    *dfd = open(root_len ? fs->root : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*rel == NULL || *dfd < 0) {
        free(*rel);
        *rel = NULL;
        if (*dfd >= 0) {
            close(*dfd);
        }
        return fs_open_failed(path);
    }
    for (component = *rel; (next = strchr(component, '/')) != NULL; component = next + 1) {
        int sub;

        *next = '\0';
        sub = openat(*dfd, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(*dfd);
        if (sub < 0) {
            free(*rel);
            *rel = NULL;
            return fs_open_failed(path);
        }
        *dfd = sub;
    }
    *last = component;
    return APR_SUCCESS;
}

/* Opens path (below the store root) without following a link anywhere; never blocks on a FIFO. */
static apr_status_t fs_open_item(const fs_store_t *fs, const char *path, int *fd)
{
    const char *last;
    char *rel;
    int dfd;
    apr_status_t rv;

    *fd = -1;
    if ((rv = fs_open_parent(fs, path, &dfd, &rel, &last)) != APR_SUCCESS) {
        return rv;
    }
    *fd = openat(dfd, last, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    close(dfd);
    free(rel);
    return *fd >= 0 ? APR_SUCCESS : fs_open_failed(path);
}

static apr_status_t fs_load(at_store_t *store, at_store_group_e group, const char *name,
                            const char *item, char **data, apr_size_t *len,
                            at_store_access_e access, apr_pool_t *p)
{
    const char *path = apr_pstrcat(p, fs_dir_path(store, group, name, p), "/", item, NULL);
    struct stat st;
    apr_size_t size;
    char *buf;
    int fd;
    apr_status_t rv;

    if ((rv = fs_open_item(store->impl, path, &fd)) != APR_SUCCESS) {
        return rv;
    }
    if (fstat(fd, &st) != 0) {
        rv = os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1151) "store: cannot stat %s", path);
        goto out;
    }
    if ((rv = fs_check_file(store->impl, path, &st, access)) != APR_SUCCESS) {
        goto out;
    }
    if ((apr_size_t)st.st_size > at_store_item_max(group)) {
        rv = AT_ETOOLARGE;
        at_log(AT_LOG_ERR, rv,
               AT_LOGNO(1152) "store: refusing %s: %ld bytes, the limit is %" APR_SIZE_T_FMT, path,
               (long)st.st_size, at_store_item_max(group));
        goto out;
    }
    size = (apr_size_t)st.st_size;
    buf = apr_palloc(p, size + 1);
    if ((rv = fs_read_all(fd, path, buf, size, &size)) != APR_SUCCESS) {
        goto out;
    }
    buf[size] = '\0';
    *data = buf;
    if (len != NULL) {
        *len = size;
    }
out:
    close(fd);
    return rv;
}

static apr_status_t fs_remove(at_store_t *store, at_store_group_e group, const char *name,
                              const char *item, apr_pool_t *p)
{
    const char *dir = fs_dir_path(store, group, name, p);
    const char *path = apr_pstrcat(p, dir, "/", item, NULL);
    apr_status_t rv;

    if (unlink(path) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            return APR_SUCCESS;
        }
        rv = os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1153) "store: cannot remove %s", path);
        return rv;
    }
    return fs_sync_dir(dir);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static apr_status_t fs_list(at_store_t *store, at_store_group_e group, const char *name,
                            apr_array_header_t **entries, apr_pool_t *p)
{
    const char *dir = fs_dir_path(store, group, name, p);
    apr_array_header_t *names = apr_array_make(p, FS_LIST_INITIAL, sizeof(const char *));
    struct dirent *de;
    DIR *d;
    int seen = 0;
    apr_status_t rv = APR_SUCCESS;

    *entries = names;
    if ((d = opendir(dir)) == NULL) {
        if (errno == ENOENT) {
            return APR_SUCCESS;
        }
        rv = os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1154) "store: cannot list %s", dir);
        return rv;
    }
    /* Temp files start with '.'; anything else a valid component could not name is skipped. */
    while ((de = readdir(d)) != NULL && ++seen <= FS_LIST_MAX_ENTRIES) {
        if (at_store_component_valid(de->d_name)) {
            APR_ARRAY_PUSH(names, const char *) = apr_pstrdup(p, de->d_name);
        }
    }
    closedir(d);
    if (seen > FS_LIST_MAX_ENTRIES) {
        rv = AT_ETOOLARGE;
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1155) "store: %s holds more than %d entries", dir,
               FS_LIST_MAX_ENTRIES);
        return rv;
    }
    qsort(names->elts, (size_t)names->nelts, sizeof(const char *), compare_names);
    return APR_SUCCESS;
}

/* Whether entry is one of the items a purge was told of, or one of our temp files. */
static int fs_purge_known(const char *entry, const char *const *items, int count)
{
    int i;

    if (at_store_is_temp_name(entry)) {
        return 1;
    }
    for (i = 0; i < count; i++) {
        if (strcmp(entry, items[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Whether a purge may unlink this entry: never a directory; a regular file only when it is
 * ours, root's or the trusted owner's (a file of anyone else was moved in, and its data must not
 * go with it); a link or other special file always (only the name goes). */
static int fs_purge_may_unlink(const fs_store_t *fs, const struct stat *st)
{
    if (S_ISDIR(st->st_mode)) {
        return 0;
    }
    return !S_ISREG(st->st_mode) || st->st_uid == geteuid() || st->st_uid == 0 ||
           (fs->trusted != FS_NO_TRUSTED_OWNER && st->st_uid == fs->trusted);
}

/* Unlinks the known entries of the directory open as dfd that may go; never descends, never
 * follows a link (unlinking a link removes the link). The rest stays for rmdir to trip over. */
static apr_status_t fs_purge_entries(const fs_store_t *fs, int dfd, const char *path,
                                     const char *const *items, int count)
{
    apr_status_t rv = APR_SUCCESS;
    struct dirent *de;
    struct stat st;
    int seen = 0, fd = dup(dfd);
    DIR *d;

    if (fd < 0 || (d = fdopendir(fd)) == NULL) {
        rv = os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1156) "store: cannot read directory %s to empty it", path);
        if (fd >= 0) {
            close(fd);
        }
        return rv;
    }
    while ((de = readdir(d)) != NULL && ++seen <= FS_LIST_MAX_ENTRIES) {
        if (!fs_purge_known(de->d_name, items, count) ||
            fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !fs_purge_may_unlink(fs, &st)) {
            continue;
        }
        if (unlinkat(dfd, de->d_name, 0) != 0 && errno != ENOENT && rv == APR_SUCCESS) {
            rv = os_status();
            at_log(AT_LOG_ERR, rv, AT_LOGNO(1157) "store: cannot remove %s/%s", path, de->d_name);
        }
    }
    closedir(d);
    return rv;
}

/* Opens group/name for a purge: APR_INCOMPLETE with *dfd set; APR_SUCCESS when there is nothing
 * to purge (nothing there, or a link or a file of ours in its place, now removed). */
static apr_status_t fs_purge_open(const fs_store_t *fs, int *dfd, int gfd, const char *name,
                                  const char *path)
{
    struct stat st;
    apr_status_t rv;

    *dfd = openat(gfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (*dfd >= 0) {
        return APR_INCOMPLETE;
    }
    if (errno == ENOENT) {
        return APR_SUCCESS;
    }
    rv = os_status();
    if ((errno == ELOOP || errno == ENOTDIR) && fstatat(gfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        fs_purge_may_unlink(fs, &st)) {
        /* A link or a file of ours where a directory belongs: the name goes, never a target. */
        if (unlinkat(gfd, name, 0) == 0 || errno == ENOENT) {
            return APR_SUCCESS;
        }
        rv = os_status();
    }
    at_log(AT_LOG_ERR, rv,
           AT_LOGNO(1158) "store: cannot remove %s: not a directory of the store, left as it is",
           path);
    return rv;
}

static apr_status_t fs_purge_kept(const char *path)
{
    apr_status_t rv = os_status();

    at_log(AT_LOG_ERR, rv,
           AT_LOGNO(1159) "store: %s keeps entries the store did "
                          "not make (a directory, a foreign name, "
                          "another owner's file); it stays, and nothing of that was touched",
           path);
    return rv;
}

/* A set directory the flat purge could not empty is moved out of the way, untouched, so that it
 * blocks nothing (a new set for the same name must be able to arrive): its entries are not
 * the store's to judge. Only a name that is no store item and no temp file is used for it. */
static apr_status_t fs_purge_aside(int gfd, const char *name, const char *path, apr_pool_t *p)
{
    const char *aside;
    apr_status_t rv = os_status();

    if (!APR_STATUS_IS_ENOTEMPTY(rv) && !APR_STATUS_IS_EEXIST(rv)) {
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1160) "store: cannot remove directory %s", path);
        return rv;
    }
    aside = apr_psprintf(p, "." FS_ASIDE_FORMAT, FS_TEMP_ITEM_KEEP, name,
                         (unsigned long)apr_time_now());
    if (renameat(gfd, name, gfd, aside) != 0) {
        return fs_purge_kept(path);
    }
    at_log(AT_LOG_WARN, 0,
           AT_LOGNO(1161) "store: %s keeps entries the store did not make (a directory, a foreign "
                          "name, another "
                          "owner's file); moved aside as %s, nothing in it touched: look at it and "
                          "remove it",
           path, aside);
    return APR_SUCCESS;
}

static apr_status_t fs_purge(at_store_t *store, at_store_group_e group, const char *name,
                             const char *const *items, int count, apr_pool_t *p)
{
    const char *gdir = fs_dir_path(store, group, NULL, p);
    const char *path = apr_pstrcat(p, gdir, "/", name, NULL);
    apr_status_t rv;
    int gfd, dfd = -1;

    gfd = open(gdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (gfd < 0) {
        if (errno == ENOENT) {
            return APR_SUCCESS;
        }
        rv = os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1132) "store: cannot open directory %s", gdir);
        return rv;
    }
    if ((rv = fs_purge_open(store->impl, &dfd, gfd, name, path)) != APR_INCOMPLETE) {
        goto out;
    }
    rv = fs_purge_entries(store->impl, dfd, path, items, count);
    close(dfd);
    if (rv != APR_SUCCESS) {
        goto out;
    }
    if (unlinkat(gfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) {
        rv = items != NULL ? fs_purge_aside(gfd, name, path, p) : fs_purge_kept(path);
        goto out;
    }
    if (fsync(gfd) != 0 && errno != EINVAL) {
        rv = os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1136) "store: cannot sync directory %s", gdir);
    }
out:
    close(gfd);
    return rv;
}

/* Writes one item of a set into the temp directory dfd: a fresh file, never an existing one. */
static apr_status_t fs_set_write_item(int dfd, const char *dir, const at_store_item_t *item,
                                      apr_pool_t *p)
{
    const char *path = apr_pstrcat(p, dir, "/", item->item, NULL);
    mode_t mode = item->access == AT_STORE_SECRET ? FS_MODE_SECRET_FILE : FS_MODE_PUBLIC_FILE;
    apr_status_t rv;
    int fd;

    fd = openat(dfd, item->item, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                FS_MODE_SECRET_FILE);
    if (fd < 0) {
        rv = os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1162) "store: cannot create %s", path);
        return rv;
    }
    rv = fs_write_temp(fd, path, item->data, item->len, mode, 1);
    if (close(fd) != 0 && rv == APR_SUCCESS) {
        rv = os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1142) "store: cannot close %s", path);
    }
    return rv;
}

/* Fills the temp directory dfd with the items, synced, with its final mode. */
static apr_status_t fs_set_fill(int dfd, const char *dir, const at_store_item_t *items, int count,
                                apr_pool_t *p)
{
    mode_t mode = FS_MODE_PUBLIC_DIR;
    apr_status_t rv;
    int i;

    for (i = 0; i < count; i++) {
        if ((rv = fs_set_write_item(dfd, dir, &items[i], p)) != APR_SUCCESS) {
            return rv;
        }
        if (items[i].access == AT_STORE_SECRET) {
            mode = FS_MODE_SECRET_DIR;
        }
    }
    if (fchmod(dfd, mode) != 0) {
        rv = os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1137) "store: cannot set mode %04o on %s", (unsigned)mode,
               dir);
        return rv;
    }
    if (fsync(dfd) != 0 && errno != EINVAL) {
        rv = os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1136) "store: cannot sync directory %s", dir);
        return rv;
    }
    return APR_SUCCESS;
}

/* The commit: tmp becomes name, only if nothing is called name yet. */
static apr_status_t fs_set_commit(int gfd, const char *tmp, const char *name, const char *target)
{
    apr_status_t rv;

    if (at_store_fs_test_fail_before_rename) {
        at_log(AT_LOG_ERR, APR_EGENERAL,
               AT_LOGNO(1163) "store: test hook: failing the set %s before rename", target);
        return APR_EGENERAL;
    }
    if (renameat2(gfd, tmp, gfd, name, RENAME_NOREPLACE) == 0) {
        return APR_SUCCESS;
    }
    /* A filesystem without RENAME_NOREPLACE: rename(2) replaces at most an empty directory. */
    if ((errno == EINVAL || errno == ENOSYS) && renameat(gfd, tmp, gfd, name) == 0) {
        return APR_SUCCESS;
    }
    rv = os_status();
    at_log(AT_LOG_ERR, rv, AT_LOGNO(1164) "store: cannot put the set %s in place%s", target,
           errno == EEXIST || errno == ENOTEMPTY ? ": it exists already" : "");
    return rv;
}

static apr_status_t fs_save_set(at_store_t *store, at_store_group_e group, const char *name,
                                const at_store_item_t *items, int count, apr_pool_t *p)
{
    const char *gdir = fs_dir_path(store, group, NULL, p);
    const char *target = apr_pstrcat(p, gdir, "/", name, NULL);
    char *tmp;
    const char *tmp_name;
    apr_status_t rv;
    int gfd = -1, dfd = -1, i;

    if ((rv = fs_open_group(store, group, gdir, &gfd)) != APR_SUCCESS) {
        return rv;
    }
    close(gfd);
    gfd = -1;
    /* A temp name: not a component, so the activator and every listing ignore it. */
    tmp = apr_psprintf(p, "%s/.%.*s.tmp.XXXXXX", gdir, FS_TEMP_ITEM_KEEP, name);
    if (mkdtemp(tmp) == NULL) {
        rv = os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1165) "store: cannot create a temp directory in %s", gdir);
        return rv;
    }
    tmp_name = tmp + strlen(gdir) + 1;
    gfd = open(gdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    dfd = gfd < 0 ? -1 : openat(gfd, tmp_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        rv = os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1166) "store: cannot open the temp directory %s", tmp);
    } else if ((rv = fs_set_fill(dfd, tmp, items, count, p)) == APR_SUCCESS &&
               (rv = fs_set_commit(gfd, tmp_name, name, target)) == APR_SUCCESS &&
               fsync(gfd) != 0 && errno != EINVAL) {
        rv = os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1136) "store: cannot sync directory %s", gdir);
        rv = APR_SUCCESS; /* the set is in place; only its durability is in doubt */
    }
    if (rv != APR_SUCCESS && dfd >= 0) {
        for (i = 0; i < count; i++) {
            unlinkat(dfd, items[i].item, 0);
        }
        unlinkat(gfd, tmp_name, AT_REMOVEDIR);
    }
    if (dfd >= 0) {
        close(dfd);
    }
    if (gfd >= 0) {
        close(gfd);
    }
    return rv;
}

static apr_status_t fs_path(at_store_t *store, at_store_group_e group, const char *name,
                            const char *item, const char **path, apr_pool_t *p)
{
    *path = apr_pstrcat(p, fs_dir_path(store, group, name, p), "/", item, NULL);
    return APR_SUCCESS;
}

/* ---- stat, generation, watch ------------------------------------------------------------ */

static apr_time_t fs_mtime(const struct stat *st)
{
    return apr_time_from_sec(st->st_mtim.tv_sec) + st->st_mtim.tv_nsec / FS_NSEC_PER_USEC;
}

/* Why what stat found is not believed, or NULL when it is: the rules of fs_check_file (items,
 * judged as public ones: a secret item's mode is judged by its load) and of the activator for set
 * directories (an owner we trust, not writable by group or other). */
static const char *fs_stat_why(const fs_store_t *fs, const struct stat *st, apr_pool_t *p)
{
    mode_t perms = st->st_mode & FS_MODE_PERMS;
    const char *kind = S_ISDIR(st->st_mode) ? "directory" : "file";

    if (!S_ISDIR(st->st_mode) && !S_ISREG(st->st_mode)) {
        return "a symbolic link or other special file, not a directory or a regular file (the "
               "store follows no link)";
    }
    if (S_ISREG(st->st_mode) && fs->trusted != FS_NO_TRUSTED_OWNER && st->st_nlink != 1) {
        return apr_psprintf(p,
                            "a file with %ld hard links; a file staged for root must have "
                            "exactly one name",
                            (long)st->st_nlink);
    }
    if (fs_owner_trusted(fs, st->st_uid) && (perms & FS_MODE_GROUP_OTHER_WRITE) == 0) {
        return NULL;
    }
    return apr_psprintf(p,
                        "%s owned by uid %ld with mode %04o; expected root or uid %ld, not "
                        "writable by group or other",
                        kind, (long)st->st_uid, (unsigned)perms,
                        (long)(fs->trusted != FS_NO_TRUSTED_OWNER ? fs->trusted : geteuid()));
}

static apr_status_t fs_stat(at_store_t *store, at_store_group_e group, const char *name,
                            const char *item, at_store_stat_t *out, apr_pool_t *p)
{
    const fs_store_t *fs = store->impl;
    const char *path = fs_dir_path(store, group, name, p), *last;
    struct stat st;
    apr_status_t rv;
    char *rel;
    int dfd;

    if (item != NULL) {
        path = apr_pstrcat(p, path, "/", item, NULL);
    }
    rv = fs_open_parent(fs, path, &dfd, &rel, &last);
    if (rv == APR_SUCCESS) {
        if (fstatat(dfd, last, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            rv = errno == ENOENT || errno == ENOTDIR ? APR_ENOENT : os_status();
        }
        close(dfd);
        free(rel);
    }
    if (rv == APR_ENOENT) {
        return APR_SUCCESS; /* nothing there: out->exists stays 0 */
    }
    if (rv != APR_SUCCESS) {
        if (rv != AT_EMODE) {
            at_log(AT_LOG_ERR, rv, AT_LOGNO(1204) "store: cannot stat %s", path);
        } else {
            out->why = "a directory on its way is a symbolic link or not a directory (the store "
                       "follows no link)";
        }
        return rv;
    }
    if ((out->why = fs_stat_why(fs, &st, p)) != NULL) {
        at_log(AT_LOG_ERR, AT_EMODE, AT_LOGNO(1205) "store: refusing %s: %s", path, out->why);
        return AT_EMODE;
    }
    out->exists = 1;
    out->is_set = S_ISDIR(st.st_mode);
    out->mtime = fs_mtime(&st);
    out->size = S_ISREG(st.st_mode) ? (apr_off_t)st.st_size : 0;
    out->version = (apr_uint64_t)st.st_ino;
    return APR_SUCCESS;
}

/* Groups whose items sit in set directories (group/name/item): a save there changes the set
 * directory, not the group's, so the generation takes those in too. */
static int fs_group_has_sets(at_store_group_e group)
{
    return group == AT_STORE_ACCOUNTS || group == AT_STORE_STAGING || group == AT_STORE_LIVE ||
           group == AT_STORE_ARCHIVE;
}

/* A directory's part of a generation: its change time in ns and its inode (replaced or not). */
static apr_uint64_t fs_gen_of(const struct stat *st)
{
    apr_uint64_t ns = (apr_uint64_t)st->st_mtim.tv_sec * FS_NSEC_PER_SEC + st->st_mtim.tv_nsec;

    return ns ^ ((apr_uint64_t)st->st_ino * FS_GEN_INODE_MIX);
}

/* Whether a change time is too recent to tell one change from the next (see at_store.h). */
static int fs_gen_unsettled(const struct stat *st, const struct timespec *now)
{
    apr_int64_t age = ((apr_int64_t)now->tv_sec - st->st_mtim.tv_sec) * FS_NSEC_PER_SEC +
                      (now->tv_nsec - st->st_mtim.tv_nsec);

    return age < FS_GEN_SETTLE_NS;
}

/* Adds every set directory of the open group dfd (sum: the order of readdir does not matter). */
static apr_status_t fs_gen_sets(int dfd, const char *gdir, const struct timespec *now,
                                apr_uint64_t *gen, int *unsettled)
{
    struct dirent *de;
    struct stat st;
    int seen = 0, fd = dup(dfd);
    DIR *d;

    if (fd < 0 || (d = fdopendir(fd)) == NULL) {
        apr_status_t rv = os_status();

        at_log(AT_LOG_ERR, rv, AT_LOGNO(1154) "store: cannot list %s", gdir);
        if (fd >= 0) {
            close(fd);
        }
        return rv;
    }
    while ((de = readdir(d)) != NULL && ++seen <= FS_LIST_MAX_ENTRIES) {
        if ((de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) ||
            !at_store_component_valid(de->d_name) ||
            fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) {
            continue;
        }
        *gen += fs_gen_of(&st) * FS_GEN_SET_MIX;
        *unsettled |= fs_gen_unsettled(&st, now);
    }
    closedir(d);
    return APR_SUCCESS;
}

/* The number given out: a settled one without the top bit, else one never given before. */
static apr_uint64_t fs_gen_final(apr_uint64_t gen, int unsettled)
{
    static apr_uint64_t unsettled_count; /* atomic */

    if (unsettled) {
        return FS_GEN_UNSETTLED_BIT | __atomic_add_fetch(&unsettled_count, 1, __ATOMIC_RELAXED);
    }
    return gen & ~FS_GEN_UNSETTLED_BIT;
}

/* A flat group: its directory alone, looked at without following a link. */
static apr_status_t fs_generation_flat(const char *gdir, apr_uint64_t *gen)
{
    struct timespec now;
    struct stat st;
    apr_status_t rv;

    clock_gettime(CLOCK_REALTIME, &now);
    if (fstatat(AT_FDCWD, gdir, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) {
            return APR_SUCCESS;
        }
        rv = os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1151) "store: cannot stat %s", gdir);
        return rv;
    }
    if (!S_ISDIR(st.st_mode)) {
        at_log(AT_LOG_ERR, AT_EMODE,
               AT_LOGNO(1131) "store: %s is not a directory (a symbolic link "
                              "or a file); the store does not follow links",
               gdir);
        return AT_EMODE;
    }
    *gen = fs_gen_final(fs_gen_of(&st), fs_gen_unsettled(&st, &now));
    return APR_SUCCESS;
}

static apr_status_t fs_generation(at_store_t *store, at_store_group_e group, apr_uint64_t *gen,
                                  apr_pool_t *p)
{
    const char *gdir = fs_dir_path(store, group, NULL, p);
    struct timespec now;
    struct stat st;
    apr_status_t rv = APR_SUCCESS;
    int dfd, unsettled;

    *gen = 0;
    if (!fs_group_has_sets(group)) {
        return fs_generation_flat(gdir, gen); /* one stat: what a tick pays at rest */
    }
    dfd = open(gdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        if (errno == ENOENT) {
            return APR_SUCCESS;
        }
        rv = errno == ELOOP || errno == ENOTDIR ? AT_EMODE : os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1132) "store: cannot open directory %s", gdir);
        return rv;
    }
    clock_gettime(CLOCK_REALTIME, &now);
    if (fstat(dfd, &st) != 0) {
        rv = os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1151) "store: cannot stat %s", gdir);
    } else {
        *gen = fs_gen_of(&st);
        unsettled = fs_gen_unsettled(&st, &now);
        rv = fs_gen_sets(dfd, gdir, &now, gen, &unsettled);
        *gen = fs_gen_final(*gen, unsettled);
    }
    close(dfd);
    return rv;
}

static apr_status_t fs_watch_close(void *data)
{
    int *fd = data;

    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
    return APR_SUCCESS;
}

/* One inotify descriptor with one watch on the group directory; APR_ENOENT (no line) while it is
 * missing or no directory (a link is never followed). */
static apr_status_t fs_watch(at_store_t *store, at_store_group_e group, int *fd, apr_pool_t *p)
{
    const char *gdir = fs_dir_path(store, group, NULL, p);
    int *owned = apr_palloc(p, sizeof(*owned));
    apr_status_t rv;

    *fd = -1;
    *owned = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (*owned < 0 || inotify_add_watch(*owned, gdir, FS_WATCH_MASK) < 0) {
        /* a missing group is not made here: its owner makes it (the watcher may be root) */
        rv = errno == ENOENT || errno == ENOTDIR ? APR_ENOENT : os_status();
        if (rv != APR_ENOENT) {
            at_log(AT_LOG_WARN, rv, AT_LOGNO(1206) "store: cannot watch %s", gdir);
        }
        if (*owned >= 0) {
            close(*owned);
        }
        return rv;
    }
    apr_pool_cleanup_register(p, owned, fs_watch_close, apr_pool_cleanup_null);
    *fd = *owned;
    return APR_SUCCESS;
}

/* Reads what the watch reported: APR_EOF when the directory itself went (or events were lost:
 * then a full look is due, as after a lost watch). */
static apr_status_t fs_watch_drain(at_store_t *store, int fd)
{
    char buf[FS_WATCH_BUF] __attribute__((aligned(__alignof__(struct inotify_event))));
    apr_status_t rv = APR_SUCCESS;
    ssize_t len;
    char *at;

    (void)store;
    while ((len = read(fd, buf, sizeof(buf))) > 0) {
        for (at = buf; at < buf + len;
             at += sizeof(struct inotify_event) + ((struct inotify_event *)at)->len) {
            const struct inotify_event *ev = (const struct inotify_event *)at;

            if (ev->mask & (IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
                rv = APR_EOF;
            }
        }
    }
    return rv;
}

void at_store_fs_trust_group_owner(at_store_t *store, at_store_group_e group, apr_pool_t *p)
{
    struct stat st;

    if (store == NULL || store->vt != &fs_vtable || at_store_group_name(group) == NULL) {
        return;
    }
    if (stat(fs_dir_path(store, group, NULL, p), &st) == 0) {
        at_store_fs_trust_owner(store, st.st_uid);
    }
}

apr_status_t at_store_fs_group_flock(at_store_t *store, at_store_group_e group, int *fd,
                                     apr_pool_t *p)
{
    const char *gdir = fs_dir_path(store, group, NULL, p);
    apr_status_t rv;

    if ((rv = fs_open_group(store, group, gdir, fd)) != APR_SUCCESS) {
        return rv;
    }
    while (flock(*fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            rv = os_status();
            at_log(AT_LOG_ERR, rv, AT_LOGNO(1168) "store: cannot lock %s", gdir);
            close(*fd);
            *fd = -1;
            return rv;
        }
    }
    return APR_SUCCESS;
}

static apr_status_t fs_lock_release(void *data)
{
    int *fd = data;

    if (*fd >= 0) {
        close(*fd); /* drops the flock */
        *fd = -1;
    }
    return APR_SUCCESS;
}

/* An exclusive flock on the group's directory itself: only who may open the directory (its
 * owner, root) can take it, so no other uid can hold it to stall us. Released when p is
 * cleared, or by the kernel when the process dies. */
static apr_status_t fs_lock(at_store_t *store, at_store_group_e group, apr_pool_t *p)
{
    const char *dir = fs_dir_path(store, group, NULL, p);
    int *fd = apr_palloc(p, sizeof(*fd));
    apr_status_t rv;

    *fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (*fd < 0) {
        rv = os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1167) "store: cannot open %s to lock it", dir);
        return rv;
    }
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        rv = errno == EWOULDBLOCK ? APR_EAGAIN : os_status();
        close(*fd);
        if (rv != APR_EAGAIN) {
            at_log(AT_LOG_ERR, rv, AT_LOGNO(1168) "store: cannot lock %s", dir);
        }
        return rv;
    }
    apr_pool_cleanup_register(p, fd, fs_lock_release, apr_pool_cleanup_null);
    return APR_SUCCESS;
}

static const at_store_vtable_t fs_vtable = {
    fs_save,
    fs_load,
    fs_remove,
    fs_list,
    fs_path,
    fs_purge,
    fs_save_set,
    fs_lock,
    fs_stat,
    fs_generation,
    at_store_fs_lease_take,
    at_store_fs_lease_renew,
    at_store_fs_lease_release,
    at_store_fs_lease_holder,
    fs_watch,
    fs_watch_drain,
};

/* The root must be a directory no one but its owner (us or root) can write into. */
static apr_status_t fs_check_root(const char *root)
{
    struct stat st;
    uid_t euid = geteuid();
    apr_status_t rv;

    if (stat(root, &st) != 0) {
        rv = os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1169) "store: cannot stat the store directory %s", root);
        return rv;
    }
    if (S_ISDIR(st.st_mode) && (st.st_uid == euid || st.st_uid == 0) &&
        (st.st_mode & FS_MODE_GROUP_OTHER_WRITE) == 0) {
        return APR_SUCCESS;
    }
    at_log(AT_LOG_ERR, AT_EMODE,
           AT_LOGNO(1170) "store: refusing the store directory %s: %s owned by uid %ld "
                          "with mode %04o; expected a directory owned by uid %ld or root, "
                          "not writable by group or other (0755)",
           root, S_ISDIR(st.st_mode) ? "directory" : "not a directory", (long)st.st_uid,
           (unsigned)(st.st_mode & FS_MODE_PERMS), (long)euid);
    return AT_EMODE;
}

static apr_status_t fs_make_root(const char *root, apr_pool_t *p)
{
    struct stat st;
    apr_status_t rv;

    if (stat(root, &st) == 0 || errno != ENOENT) {
        return APR_SUCCESS; /* fs_check_root reports whatever else is wrong */
    }
    rv = apr_dir_make_recursive(root, FS_FPROT_ROOT_DIR, p);
    if (rv != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1171) "store: cannot create the store directory %s", root);
        return rv;
    }
    if (chmod(root, FS_MODE_ROOT_DIR) != 0) {
        rv = os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1137) "store: cannot set mode %04o on %s", FS_MODE_ROOT_DIR,
               root);
        return rv;
    }
    return APR_SUCCESS;
}

apr_status_t at_store_fs_open(at_store_t **store, apr_pool_t *p, const char *dir)
{
    fs_store_t *fs;
    char *root;
    apr_size_t n;
    apr_status_t rv;

    *store = NULL;
    if (dir == NULL || dir[0] == '\0') {
        at_log(AT_LOG_ERR, AT_EARG, AT_LOGNO(1172) "store: no store directory given");
        return AT_EARG;
    }
    rv = apr_filepath_merge(&root, NULL, dir, APR_FILEPATH_NATIVE, p);
    if (rv != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1173) "store: cannot make an absolute path of %s", dir);
        return rv;
    }
    for (n = strlen(root); n > 1 && root[n - 1] == '/'; n--) {
        root[n - 1] = '\0';
    }
    if ((rv = fs_make_root(root, p)) != APR_SUCCESS || (rv = fs_check_root(root)) != APR_SUCCESS) {
        return rv;
    }
    fs = apr_pcalloc(p, sizeof(*fs));
    fs->root = strcmp(root, "/") == 0 ? "" : root;
    fs->trusted = FS_NO_TRUSTED_OWNER;
    *store = apr_pcalloc(p, sizeof(**store));
    (*store)->vt = &fs_vtable;
    (*store)->impl = fs;
    return APR_SUCCESS;
}

const char *at_store_fs_root(const at_store_t *store)
{
    const fs_store_t *fs = store->impl;

    return store->vt == &fs_vtable ? fs->root : NULL;
}

void at_store_fs_defer_sync(at_store_t *store, int defer)
{
    if (store->vt == &fs_vtable) {
        ((fs_store_t *)store->impl)->deferred = defer;
    }
}

apr_status_t at_store_fs_sync(at_store_t *store)
{
    const fs_store_t *fs = store->impl;
    apr_status_t rv = APR_SUCCESS;
    int fd;

    if (store->vt != &fs_vtable) {
        return APR_SUCCESS;
    }
    fd = open(fs->root[0] != '\0' ? fs->root : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || syncfs(fd) != 0) {
        rv = os_status();
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1174) "store: cannot sync the file system of %s", fs->root);
    }
    if (fd >= 0) {
        close(fd);
    }
    return rv;
}

void at_store_fs_trust_owner(at_store_t *store, apr_uid_t uid)
{
    fs_store_t *fs = store->impl;

    fs->trusted = uid;
}
