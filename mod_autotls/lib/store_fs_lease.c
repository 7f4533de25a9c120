/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_fs_lease.c: the leases of the filesystem store (at_store.h): who works on a site now.
 *
 * The one idea: a lease is one small secret file leases/<site> holding "<token> <expiry>\n",
 * replaced whole like every item, and every look-then-change (take, renew, release) happens under
 * the flock of leases/, so two processes (or threads) never both find it free. It is read
 * through the store's own load, so a lease file of an owner we do not trust, with a link or a
 * mode open to others, is refused (AT_EMODE) and never taken over. Expiry is wall-clock time:
 * every process using one store runs on one host, with one clock.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_time.h>

#include "at_core.h"
#include "at_store.h"
#include "store_fs_internal.h"

/* "<token> <expiry in microseconds since the epoch>\n" */
#define LEASE_FORMAT "%s %" APR_TIME_T_FMT "\n"
#define LEASE_DECIMAL 10

typedef struct {
    const char *token;
    apr_time_t expires;
} fs_lease_t;

/* Parses a lease file strictly: a token (a valid component), one space, a positive decimal
 * number, a newline, nothing else. */
static apr_status_t fs_lease_parse(fs_lease_t *lease, char *text, apr_size_t len, apr_pool_t *p)
{
    char *space = memchr(text, ' ', len), *end = NULL;
    apr_int64_t expires;

    if (space == NULL || len == 0 || text[len - 1] != '\n') {
        return AT_EPROTO;
    }
    *space = '\0';
    text[len - 1] = '\0';
    if (!at_store_component_valid(text) || strlen(text) > AT_STORE_LEASE_TOKEN_MAX ||
        space[1] < '0' || space[1] > '9') {
        return AT_EPROTO;
    }
    expires = apr_strtoi64(space + 1, &end, LEASE_DECIMAL);
    if (end == NULL || *end != '\0' || expires <= 0) {
        return AT_EPROTO;
    }
    lease->token = apr_pstrdup(p, text);
    lease->expires = (apr_time_t)expires;
    return APR_SUCCESS;
}

/* Reads leases/<name>: APR_ENOENT when there is none; AT_EMODE (the store's line) or AT_EPROTO
 * (one line here) when it is not to be believed. */
static apr_status_t fs_lease_read(fs_lease_t *lease, at_store_t *store, const char *name,
                                  apr_pool_t *p)
{
    apr_status_t rv;
    apr_size_t len;
    char *text;

    rv = at_store_load(store, AT_STORE_LEASES, NULL, name, &text, &len, AT_STORE_SECRET, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if ((rv = fs_lease_parse(lease, text, len, p)) != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv,
               AT_LOGNO(1210) "store: refusing the lease %s/%s: not \"<token> <expiry>\"; it "
                              "stays until an operator removes it",
               at_store_group_name(AT_STORE_LEASES), name);
    }
    return rv;
}

static apr_status_t fs_lease_write(at_store_t *store, const char *name, const char *token,
                                   apr_time_t expires, apr_pool_t *p)
{
    const char *text = apr_psprintf(p, LEASE_FORMAT, token, expires);

    return at_store_save(store, AT_STORE_LEASES, NULL, name, text, strlen(text), AT_STORE_SECRET,
                         p);
}

/* The decision of each operation, made under the lock of leases/. */
typedef enum { LEASE_TAKE, LEASE_RENEW, LEASE_RELEASE } fs_lease_op_e;

static apr_status_t fs_lease_change(at_store_t *store, fs_lease_op_e op, const char *name,
                                    const char *token, apr_interval_time_t ttl, apr_pool_t *p)
{
    apr_time_t now = apr_time_now();
    fs_lease_t lease = {NULL, 0};
    apr_status_t rv;
    int lock, ours, live;

    if ((rv = at_store_fs_group_flock(store, AT_STORE_LEASES, &lock, p)) != APR_SUCCESS) {
        return rv;
    }
    rv = fs_lease_read(&lease, store, name, p);
    if (rv != APR_SUCCESS && rv != APR_ENOENT) {
        goto out;
    }
    live = rv == APR_SUCCESS && lease.expires > now;
    ours = live && strcmp(lease.token, token) == 0;
    switch (op) {
    case LEASE_TAKE:
        rv = live && !ours ? AT_EBUSY : fs_lease_write(store, name, token, now + ttl, p);
        break;
    case LEASE_RENEW:
        rv = ours ? fs_lease_write(store, name, token, now + ttl, p) : AT_ELOST;
        break;
    case LEASE_RELEASE:
        /* an expired lease of ours goes too; another holder's is never touched */
        rv = rv == APR_SUCCESS && strcmp(lease.token, token) == 0
                 ? at_store_remove(store, AT_STORE_LEASES, NULL, name, p)
                 : APR_SUCCESS;
        break;
    }
out:
    close(lock);
    return rv;
}

apr_status_t at_store_fs_lease_take(at_store_t *store, const char *name, const char *token,
                                    apr_interval_time_t ttl, apr_pool_t *p)
{
    return fs_lease_change(store, LEASE_TAKE, name, token, ttl, p);
}

apr_status_t at_store_fs_lease_renew(at_store_t *store, const char *name, const char *token,
                                     apr_interval_time_t ttl, apr_pool_t *p)
{
    return fs_lease_change(store, LEASE_RENEW, name, token, ttl, p);
}

apr_status_t at_store_fs_lease_release(at_store_t *store, const char *name, const char *token,
                                       apr_pool_t *p)
{
    return fs_lease_change(store, LEASE_RELEASE, name, token, 0, p);
}

/* A read needs no lock: the file is replaced whole. */
apr_status_t at_store_fs_lease_holder(at_store_t *store, const char *name, char **token,
                                      apr_time_t *expires, apr_pool_t *p)
{
    fs_lease_t lease;
    apr_status_t rv = fs_lease_read(&lease, store, name, p);

    if (rv == APR_SUCCESS && lease.expires <= apr_time_now()) {
        rv = APR_ENOENT;
    }
    if (rv == APR_SUCCESS) {
        *token = apr_pstrdup(p, lease.token);
        *expires = lease.expires;
    }
    return rv;
}
