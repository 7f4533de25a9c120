/* SPDX-License-Identifier: Apache-2.0 */
/*
 * secret_file.c: reads a small secret (the store's seal key, the Redis password) from a file
 * only its owner can read.
 *
 * The one idea: the file is opened first (O_NOFOLLOW, never blocking on a FIFO) and only the
 * opened descriptor is judged, so no link or swapped name can slip in between check and read.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include "at_core.h"
#include "at_secret_file.h"

/* Permission bits that let anyone but the owner (and root) at the secret. */
#define SECRET_FOREIGN_PERMS (S_IRWXG | S_IRWXO)
#define SECRET_PERMS 07777

static apr_status_t secret_file_check(const char **why, apr_pool_t *p, const char *path,
                                      const char *what, const struct stat *st, apr_size_t max)
{
    if (!S_ISREG(st->st_mode)) {
        *why = apr_psprintf(p, "%s (%s) is not a regular file", path, what);
        return AT_EMODE;
    }
    if (st->st_mode & SECRET_FOREIGN_PERMS) {
        *why = apr_psprintf(p,
                            "%s (%s) has mode %04o: group or others may read it; make it readable "
                            "by its owner only (chmod 600), the owner being root or the ACME "
                            "account",
                            path, what, (unsigned)(st->st_mode & SECRET_PERMS));
        return AT_EMODE;
    }
    if ((apr_size_t)st->st_size > max) {
        *why = apr_psprintf(p, "%s (%s) holds %ld bytes, more than %" APR_SIZE_T_FMT, path, what,
                            (long)st->st_size, max);
        return AT_ETOOLARGE;
    }
    return APR_SUCCESS;
}

/* Frees the copy of the secret with its pool, wiped first. */
typedef struct {
    char *buf;
    apr_size_t size;
} secret_wipe_t;

static apr_status_t secret_wipe(void *data)
{
    secret_wipe_t *w = data;

    explicit_bzero(w->buf, w->size);
    return APR_SUCCESS;
}

/* The file opened as a secret is read: no link followed, never blocking on a FIFO; -1 with *rv
 * and *why when it cannot be. */
static int secret_file_open(apr_status_t *rv, const char **why, apr_pool_t *p, const char *path,
                            const char *what)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);

    if (fd < 0) {
        *rv = APR_FROM_OS_ERROR(errno);
        *why = apr_psprintf(p, "cannot open %s (%s): %pm%s", path, what, rv,
                            errno == ELOOP ? " (a symbolic link: name the file itself)" : "");
    }
    return fd;
}

apr_status_t at_secret_file_owner_check(apr_uid_t *owner, const char **why, apr_pool_t *p,
                                        const char *path, const char *what, apr_uid_t reader_uid)
{
    apr_status_t rv = APR_SUCCESS;
    struct stat st;
    int fd;

    *owner = 0;
    *why = NULL;
    if ((fd = secret_file_open(&rv, why, p, path, what)) < 0) {
        return rv;
    }
    if (fstat(fd, &st) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *why = apr_psprintf(p, "cannot stat %s (%s): %pm", path, what, &rv);
    } else if (st.st_uid != 0 && st.st_uid != reader_uid) {
        *owner = st.st_uid;
        *why =
            apr_psprintf(p, "%s (%s) is owned by uid %ld, neither root nor uid %ld that reads it",
                         path, what, (long)st.st_uid, (long)reader_uid);
        rv = AT_EMODE;
    }
    close(fd);
    return rv;
}

apr_status_t at_secret_file_read(char **data, apr_size_t *len, const char **why, apr_pool_t *p,
                                 const char *path, const char *what, apr_size_t max)
{
    secret_wipe_t *wipe;
    struct stat st;
    ssize_t got;
    apr_status_t rv;
    int fd;

    *data = NULL;
    *len = 0;
    *why = NULL;
    if ((fd = secret_file_open(&rv, why, p, path, what)) < 0) {
        return rv;
    }
    if (fstat(fd, &st) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *why = apr_psprintf(p, "cannot stat %s (%s): %pm", path, what, &rv);
        close(fd);
        return rv;
    }
    if ((rv = secret_file_check(why, p, path, what, &st, max)) != APR_SUCCESS) {
        close(fd);
        return rv;
    }
    wipe = apr_palloc(p, sizeof(*wipe));
    wipe->size = max + 1;
    wipe->buf = apr_palloc(p, wipe->size);
    apr_pool_cleanup_register(p, wipe, secret_wipe, apr_pool_cleanup_null);
    /* One byte more than allowed tells a file that grew since fstat. */
    got = read(fd, wipe->buf, max + 1);
    if (got < 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *why = apr_psprintf(p, "cannot read %s (%s): %pm", path, what, &rv);
    } else if ((apr_size_t)got > max) {
        rv = AT_ETOOLARGE;
        *why =
            apr_psprintf(p, "%s (%s) holds more than %" APR_SIZE_T_FMT " bytes", path, what, max);
    }
    close(fd);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    wipe->buf[got] = '\0';
    *data = wipe->buf;
    *len = (apr_size_t)got;
    return APR_SUCCESS;
}
