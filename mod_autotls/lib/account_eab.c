/* SPDX-License-Identifier: Apache-2.0 */
/*
 * account_eab.c: the MAC key of an external account binding (RFC 8555 7.3.4), read from a file.
 *
 * The one idea: the MAC key opens an account at the CA, so it is kept like a private key: in a
 * file that only its owner (root, or the ACME account that uses it) can read. Never on a command
 * line, where /proc/PID/cmdline shows it to every local user, nor in the server configuration,
 * which is often world-readable. The module (AutoTLSEAB) and the CLI (--eab-hmac-file) read it
 * here, so both accept and refuse the same files.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "at_b64url.h"
#include "at_core.h"
#include "at_issue.h"

/* A MAC key is a few dozen base64url characters; a file much larger holds something else. */
#define EAB_KEY_FILE_MAX 1024
/* Permission bits that let anyone but the owner (and root) at the key. */
#define EAB_KEY_FOREIGN_PERMS (S_IRWXG | S_IRWXO)
#define EAB_KEY_PERMS 07777

/* The key text with surrounding white space (a trailing newline from `echo`) cut off. */
static const char *eab_key_trim(apr_pool_t *p, const char *buf, apr_size_t len)
{
    while (len > 0 && apr_isspace(buf[len - 1])) {
        len--;
    }
    while (len > 0 && apr_isspace(*buf)) {
        buf++;
        len--;
    }
    return apr_pstrmemdup(p, buf, len);
}

static apr_status_t eab_key_check(const char **why, apr_pool_t *p, const char *path,
                                  const struct stat *st)
{
    if (!S_ISREG(st->st_mode)) {
        *why = apr_psprintf(p, "%s is not a regular file", path);
        return AT_EMODE;
    }
    if (st->st_mode & EAB_KEY_FOREIGN_PERMS) {
        *why = apr_psprintf(p,
                            "%s has mode %04o: group or others may read the EAB MAC key; make it "
                            "readable by its owner only (chmod 600), the owner being root or the "
                            "ACME account",
                            path, (unsigned)(st->st_mode & EAB_KEY_PERMS));
        return AT_EMODE;
    }
    if (st->st_size > EAB_KEY_FILE_MAX) {
        *why = apr_psprintf(p, "%s holds %ld bytes, more than an EAB MAC key (at most %d)", path,
                            (long)st->st_size, EAB_KEY_FILE_MAX);
        return AT_ETOOLARGE;
    }
    return APR_SUCCESS;
}

/* The key file opened without following a link or blocking on a FIFO, or -1 with *why. */
static int eab_key_open(const char **why, apr_status_t *rv, apr_pool_t *p, const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);

    if (fd < 0) {
        *rv = APR_FROM_OS_ERROR(errno);
        *why = apr_psprintf(p, "cannot open %s (%pm)", path, rv);
    }
    return fd;
}

apr_status_t at_account_eab_key_owner_check(const char **why, apr_uid_t *owner, apr_pool_t *p,
                                            const char *path, apr_uid_t reader_uid)
{
    apr_status_t rv = APR_SUCCESS;
    struct stat st;
    int fd;

    *why = NULL;
    *owner = 0;
    if ((fd = eab_key_open(why, &rv, p, path)) < 0) {
        return rv;
    }
    if (fstat(fd, &st) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *why = apr_psprintf(p, "cannot stat %s (%pm)", path, &rv);
    } else if (st.st_uid != 0 && st.st_uid != reader_uid) {
        *owner = st.st_uid;
        *why = apr_psprintf(p, "%s is owned by uid %ld, neither root nor uid %ld that reads it",
                            path, (long)st.st_uid, (long)reader_uid);
        rv = AT_EMODE;
    }
    close(fd);
    return rv;
}

apr_status_t at_account_eab_key_read(const char **key, const char **why, apr_pool_t *p,
                                     const char *path)
{
    char buf[EAB_KEY_FILE_MAX + 1];
    unsigned char *raw;
    apr_size_t raw_len;
    struct stat st;
    ssize_t got;
    apr_status_t rv;
    int fd;

    *key = NULL;
    *why = NULL;
    if ((fd = eab_key_open(why, &rv, p, path)) < 0) {
        return rv;
    }
    if (fstat(fd, &st) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *why = apr_psprintf(p, "cannot stat %s (%pm)", path, &rv);
    } else if ((rv = eab_key_check(why, p, path, &st)) == APR_SUCCESS &&
               (got = read(fd, buf, sizeof(buf))) < 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *why = apr_psprintf(p, "cannot read %s (%pm)", path, &rv);
    } else if (rv == APR_SUCCESS) {
        *key = eab_key_trim(p, buf, (apr_size_t)got > EAB_KEY_FILE_MAX ? 0 : (apr_size_t)got);
        if (**key == '\0' || at_b64url_decode(&raw, &raw_len, p, *key) != APR_SUCCESS) {
            *why = apr_psprintf(p,
                                "%s does not hold an EAB MAC key in base64url (as the CA "
                                "gives it, without padding)",
                                path);
            *key = NULL;
            rv = AT_EARG;
        }
    }
    memset(buf, 0, sizeof(buf));
    close(fd);
    return rv;
}
