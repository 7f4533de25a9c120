/* SPDX-License-Identifier: Apache-2.0 */
/*
 * webroot.c: http-01 responses as plain files under a web server's document root.
 *
 * The one idea: the CLI runs as root and the webroot usually belongs to a customer, who can
 * plant symbolic links in it at any moment. So nothing here is done by path below the webroot:
 * .well-known and acme-challenge are walked one component at a time with O_NOFOLLOW, their
 * descriptors are held, and every file is created (O_EXCL|O_NOFOLLOW), chmodded (fchmod) and
 * removed (unlinkat) relative to a held descriptor. A link on the way is refused; nothing
 * outside the webroot is ever created, changed or removed.
 *
 * The files are world-readable by design (the web server serves them) and hold nothing secret:
 * a key authorization is the token plus the account key's public thumbprint.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_NOFOLLOW, O_DIRECTORY, O_CLOEXEC, openat, mkdirat, unlinkat */
#endif

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <apr_strings.h>

#include "at_b64url.h"
#include "at_core.h"
#include "webroot.h"

#define WEBROOT_WELL_KNOWN ".well-known"
#define WEBROOT_CHALLENGE "acme-challenge"
#define WEBROOT_DIR_MODE 0755
#define WEBROOT_FILE_MODE 0644
#define WEBROOT_TOKEN_MAX 256
/* How often a directory that vanishes or appears under us is tried again before we give up. */
#define WEBROOT_RACE_RETRIES 8
#define WEBROOT_EINTR_RETRIES 100
#define WEBROOT_DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#define WEBROOT_FILE_FLAGS (O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC)

/* One directory of the walk, held open while answers are published. */
typedef struct {
    int fd;
    int made;  /* we created it: removed again when empty */
    dev_t dev; /* identity, so that we never remove a directory someone put in its place */
    ino_t ino;
} webroot_dir_t;

typedef struct {
    const char *root;      /* as given on the command line */
    const char *challenge; /* root/.well-known/acme-challenge, for messages */
    webroot_dir_t top;     /* the webroot itself (made is always 0) */
    webroot_dir_t well_known;
    webroot_dir_t acme;
    int published; /* answers present: the walk is undone when it drops to 0 */
} webroot_t;

static apr_status_t webroot_errno(void)
{
    return APR_FROM_OS_ERROR(errno);
}

static void webroot_dir_close(webroot_dir_t *dir)
{
    if (dir->fd >= 0) {
        close(dir->fd);
    }
    dir->fd = -1;
    dir->made = 0;
    dir->dev = 0;
    dir->ino = 0;
}

/* Records what fd is, so that its removal can check it is still the same directory. */
static apr_status_t webroot_dir_hold(webroot_dir_t *dir, int fd, const char *path)
{
    struct stat st;
    apr_status_t rv;

    if (fstat(fd, &st) != 0) {
        rv = webroot_errno();
        close(fd);
        at_log(AT_LOG_ERR, rv, "webroot: cannot stat %s", path);
        return rv;
    }
    /* Whatever is in place now is someone else's directory when it is not ours: never removed,
     * never chmodded. */
    if (dir->made && st.st_uid != geteuid()) {
        dir->made = 0;
    }
    dir->fd = fd;
    dir->dev = st.st_dev;
    dir->ino = st.st_ino;
    return APR_SUCCESS;
}

/* Why openat of a directory component failed, as one clear line; AT_EMODE for a link. */
static apr_status_t webroot_refuse(int parent, const char *name, const char *path, int err)
{
    struct stat st;

    if (err == ELOOP || err == ENOTDIR) {
        int is_link = fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);

        at_log(AT_LOG_ERR, AT_EMODE,
               "webroot: refusing %s: it is %s; the webroot is written as root and no link in "
               "it is followed (make it a real directory, or remove it)",
               path, is_link || err == ELOOP ? "a symbolic link" : "not a directory");
        return AT_EMODE;
    }
    at_log(AT_LOG_ERR, APR_FROM_OS_ERROR(err), "webroot: cannot open directory %s", path);
    return APR_FROM_OS_ERROR(err);
}

/* Opens parent/name as a directory without following a link, creating it when missing. */
static apr_status_t webroot_dir_walk(webroot_dir_t *dir, const webroot_dir_t *parent,
                                     const char *name, const char *path)
{
    int tries, fd;
    apr_status_t rv;

    dir->made = 0;
    for (tries = 0; tries < WEBROOT_RACE_RETRIES; ++tries) {
        fd = openat(parent->fd, name, WEBROOT_DIR_FLAGS);
        if (fd >= 0) {
            if ((rv = webroot_dir_hold(dir, fd, path)) != APR_SUCCESS) {
                return rv;
            }
            /* mkdirat's mode lost what the umask took: add it back on the descriptor. */
            if (dir->made && fchmod(dir->fd, WEBROOT_DIR_MODE) != 0) {
                rv = webroot_errno();
                at_log(AT_LOG_ERR, rv, "webroot: cannot set mode %04o on %s",
                       (unsigned)WEBROOT_DIR_MODE, path);
                webroot_dir_close(dir);
                return rv;
            }
            return APR_SUCCESS;
        }
        if (errno != ENOENT) {
            return webroot_refuse(parent->fd, name, path, errno);
        }
        if (mkdirat(parent->fd, name, WEBROOT_DIR_MODE) == 0) {
            dir->made = 1;
        } else if (errno != EEXIST) {
            rv = webroot_errno();
            at_log(AT_LOG_ERR, rv, "webroot: cannot create directory %s", path);
            return rv;
        }
    }
    at_log(AT_LOG_ERR, APR_EAGAIN,
           "webroot: %s keeps appearing and vanishing (%d tries); someone is changing the "
           "webroot while we write it",
           path, WEBROOT_RACE_RETRIES);
    return APR_EAGAIN;
}

/* Removes parent/name when we created it, it is still that directory and it is empty. */
static void webroot_dir_undo(webroot_dir_t *dir, const webroot_dir_t *parent, const char *name)
{
    struct stat st;

    if (dir->made && parent->fd >= 0 && fstatat(parent->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISDIR(st.st_mode) && st.st_dev == dir->dev && st.st_ino == dir->ino) {
        (void)unlinkat(parent->fd, name, AT_REMOVEDIR); /* ENOTEMPTY: someone else's files */
    }
    webroot_dir_close(dir);
}

static void webroot_unwalk(webroot_t *w)
{
    webroot_dir_undo(&w->acme, &w->well_known, WEBROOT_CHALLENGE);
    webroot_dir_undo(&w->well_known, &w->top, WEBROOT_WELL_KNOWN);
    webroot_dir_close(&w->top);
}

/* Opens the webroot (as given: the operator's path) and walks down to acme-challenge. */
static apr_status_t webroot_walk(webroot_t *w, apr_pool_t *p)
{
    const char *well_known = apr_pstrcat(p, w->root, "/" WEBROOT_WELL_KNOWN, NULL);
    apr_status_t rv;
    int fd;

    if (w->acme.fd >= 0) {
        return APR_SUCCESS;
    }
    fd = open(w->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        rv = webroot_errno();
        at_log(AT_LOG_ERR, rv, "webroot: cannot open the webroot directory %s", w->root);
        return rv;
    }
    if ((rv = webroot_dir_hold(&w->top, fd, w->root)) != APR_SUCCESS ||
        (rv = webroot_dir_walk(&w->well_known, &w->top, WEBROOT_WELL_KNOWN, well_known)) !=
            APR_SUCCESS ||
        (rv = webroot_dir_walk(&w->acme, &w->well_known, WEBROOT_CHALLENGE, w->challenge)) !=
            APR_SUCCESS) {
        webroot_unwalk(w);
        return rv;
    }
    return APR_SUCCESS;
}

static apr_status_t webroot_write_all(int fd, const char *data, apr_size_t len)
{
    apr_size_t done = 0;
    int interrupts = 0;

    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);

        if (n < 0) {
            if (errno == EINTR && ++interrupts < WEBROOT_EINTR_RETRIES) {
                continue;
            }
            return webroot_errno();
        }
        done += (apr_size_t)n;
    }
    return APR_SUCCESS;
}

/* Creates the answer file new; whatever held its name before (a stale answer or a planted link)
 * is unlinked, never followed. */
static int webroot_create_answer(const webroot_t *w, const char *token)
{
    int tries, fd = -1;

    for (tries = 0; tries < WEBROOT_RACE_RETRIES; ++tries) {
        fd = openat(w->acme.fd, token, WEBROOT_FILE_FLAGS, WEBROOT_FILE_MODE);
        if (fd >= 0 || errno != EEXIST) {
            return fd;
        }
        if (unlinkat(w->acme.fd, token, 0) != 0 && errno != ENOENT) {
            return -1;
        }
    }
    errno = EEXIST;
    return fd;
}

static apr_status_t webroot_publish(void *baton, const char *name, const char *token,
                                    const char *keyauth, apr_pool_t *p)
{
    webroot_t *w = baton;
    const char *path;
    apr_status_t rv;
    int fd;

    if (!at_b64url_is_token(token, WEBROOT_TOKEN_MAX)) {
        at_log(AT_LOG_ERR, AT_EARG, "webroot: refusing a token for %s that is no file name", name);
        return AT_EARG;
    }
    path = apr_pstrcat(p, w->challenge, "/", token, NULL);
    if ((rv = webroot_walk(w, p)) != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv, "webroot: cannot publish the http-01 response for %s", name);
        return rv;
    }
    if ((fd = webroot_create_answer(w, token)) < 0) {
        rv = webroot_errno();
        at_log(AT_LOG_ERR, rv, "webroot: cannot create %s for %s", path, name);
        goto undo;
    }
    /* The file is ours (root's) and new: 0644 so that the web server's user can serve it. */
    if (fchmod(fd, WEBROOT_FILE_MODE) != 0 ||
        (rv = webroot_write_all(fd, keyauth, strlen(keyauth))) != APR_SUCCESS || fsync(fd) != 0) {
        rv = rv != APR_SUCCESS ? rv : webroot_errno();
        close(fd);
        unlinkat(w->acme.fd, token, 0);
        at_log(AT_LOG_ERR, rv, "webroot: cannot write %s for %s", path, name);
        goto undo;
    }
    if (close(fd) != 0) {
        rv = webroot_errno();
        unlinkat(w->acme.fd, token, 0);
        at_log(AT_LOG_ERR, rv, "webroot: cannot write %s for %s", path, name);
        goto undo;
    }
    w->published++;
    return APR_SUCCESS;
undo:
    if (w->published == 0) {
        webroot_unwalk(w);
    }
    return rv;
}

static void webroot_withdraw(void *baton, const char *name, const char *token, apr_pool_t *p)
{
    webroot_t *w = baton;

    if (w->acme.fd < 0 || !at_b64url_is_token(token, WEBROOT_TOKEN_MAX)) {
        return;
    }
    if (unlinkat(w->acme.fd, token, 0) != 0 && errno != ENOENT) {
        at_log(AT_LOG_WARN, webroot_errno(), "webroot: cannot remove %s/%s for %s", w->challenge,
               token, name);
    }
    if (w->published > 0 && --w->published == 0) {
        webroot_unwalk(w);
    }
}

static apr_status_t webroot_cleanup(void *data)
{
    webroot_unwalk(data);
    return APR_SUCCESS;
}

void autotls_webroot_responder(at_http01_responder_t *responder, apr_pool_t *p, const char *dir)
{
    webroot_t *w = apr_pcalloc(p, sizeof(*w));

    w->root = apr_pstrdup(p, dir);
    w->challenge = apr_pstrcat(p, w->root, "/" WEBROOT_WELL_KNOWN "/" WEBROOT_CHALLENGE, NULL);
    w->top.fd = w->well_known.fd = w->acme.fd = -1;
    apr_pool_cleanup_register(p, w, webroot_cleanup, apr_pool_cleanup_null);
    responder->setup = webroot_publish;
    responder->teardown = webroot_withdraw;
    responder->baton = w;
}
