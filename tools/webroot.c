/*
 * webroot.c: http-01 responses as plain files under a web server's document root.
 *
 * The files are world-readable by design (the web server serves them) and hold nothing secret:
 * a key authorization is the token plus the account key's public thumbprint.
 */
#include <string.h>

#include <apr_file_io.h>
#include <apr_strings.h>

#include "at_core.h"
#include "webroot.h"

#define WEBROOT_CHALLENGE_DIR ".well-known/acme-challenge"
#define WEBROOT_DIR_PERMS                                                                          \
    (APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE | APR_FPROT_GREAD |                   \
     APR_FPROT_GEXECUTE | APR_FPROT_WREAD | APR_FPROT_WEXECUTE)
#define WEBROOT_FILE_PERMS (APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_GREAD | APR_FPROT_WREAD)

static apr_status_t webroot_publish(void *baton, const char *name, const char *token,
                                    const char *keyauth, apr_pool_t *p)
{
    const char *dir = apr_pstrcat(p, (const char *)baton, "/", WEBROOT_CHALLENGE_DIR, NULL);
    const char *path = apr_pstrcat(p, dir, "/", token, NULL);
    apr_size_t len = strlen(keyauth);
    apr_file_t *f;
    apr_status_t rv;

    if ((rv = apr_dir_make_recursive(dir, WEBROOT_DIR_PERMS, p)) != APR_SUCCESS ||
        (rv = apr_file_open(&f, path, APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_TRUNCATE,
                            WEBROOT_FILE_PERMS, p)) != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv, "webroot: cannot write %s for %s", path, name);
        return rv;
    }
    rv = apr_file_write_full(f, keyauth, len, NULL);
    apr_file_close(f);
    if (rv == APR_SUCCESS) {
        rv = apr_file_perms_set(path, WEBROOT_FILE_PERMS);
        rv = rv == APR_INCOMPLETE || rv == APR_ENOTIMPL ? APR_SUCCESS : rv;
    }
    if (rv != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv, "webroot: cannot write %s for %s", path, name);
    }
    return rv;
}

static void webroot_withdraw(void *baton, const char *name, const char *token, apr_pool_t *p)
{
    apr_file_remove(
        apr_pstrcat(p, (const char *)baton, "/", WEBROOT_CHALLENGE_DIR, "/", token, NULL), p);
}

void autotls_webroot_responder(at_http01_responder_t *responder, apr_pool_t *p, const char *dir)
{
    responder->setup = webroot_publish;
    responder->teardown = webroot_withdraw;
    responder->baton = apr_pstrdup(p, dir);
}
