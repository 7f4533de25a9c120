/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_redis_conn.c: the one connection of a Redis store: made on first use, made again after
 * any failure, bounded by a timeout everywhere, and judged in one place.
 *
 * The one idea: a call never hangs and never crashes on a Redis that went away: it fails within
 * the timeout with an APR status (APR_ECONNREFUSED, APR_TIMEUP, ...), the broken connection is
 * dropped, and the next call connects afresh. The operator reads one line when Redis becomes
 * unreachable and one when it is back, not one per call.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <apr_strings.h>

#include "at_core.h"
#include "store_redis_internal.h"

#define REDIS_ARGV_STATIC 16

static struct timeval redis_timeval(apr_interval_time_t t)
{
    struct timeval tv;

    tv.tv_sec = (time_t)apr_time_sec(t);
    tv.tv_usec = (suseconds_t)apr_time_usec(t);
    return tv;
}

apr_status_t redis_disconnect(void *data)
{
    redis_store_t *rs = data;

    if (rs->ctx != NULL) {
        redisFree(rs->ctx);
        rs->ctx = NULL;
    }
    return APR_SUCCESS;
}

/* The APR status of a failure to reach Redis (the context's error, errno as hiredis left it). */
static apr_status_t redis_io_status(const redisContext *ctx, int err)
{
    if (ctx == NULL) {
        return APR_ENOMEM;
    }
    if (ctx->err == REDIS_ERR_EOF) {
        return APR_FROM_OS_ERROR(ECONNRESET);
    }
    if (ctx->err == REDIS_ERR_IO) {
        if (err == EAGAIN || err == EWOULDBLOCK || err == ETIMEDOUT || err == EINPROGRESS) {
            return APR_TIMEUP;
        }
        return err != 0 ? APR_FROM_OS_ERROR(err) : APR_EGENERAL;
    }
    return APR_EGENERAL;
}

/* Redis could not be reached: drop the connection, log once per state change. */
static apr_status_t redis_unreachable(redis_store_t *rs, const char *what, int err)
{
    apr_status_t rv = redis_io_status(rs->ctx, err);
    const char *why = rs->ctx != NULL ? rs->ctx->errstr : "out of memory";

    if (!rs->down) {
        at_log(AT_LOG_ERR, rv,
               AT_LOGNO(1300) "store: Redis at %s cannot be reached (%s, while %s): every store "
                              "call fails until it is back (each within %" APR_TIME_T_FMT " ms); "
                              "what is served stays",
               rs->address, why, what, apr_time_as_msec(rs->timeout));
        rs->down = 1;
    } else {
        at_log(AT_LOG_DEBUG, rv, AT_LOGNO(1301) "store: Redis at %s still unreachable (%s, %s)",
               rs->address, why, what);
    }
    redis_disconnect(rs);
    return rv;
}

/* The text of an error reply, for log lines (never a value of ours). */
static const char *redis_reply_text(apr_pool_t *p, const redisReply *reply)
{
    return apr_pstrmemdup(p, reply->str ? reply->str : "", reply->str ? reply->len : 0);
}

/* One command on a connection being set up (AUTH, SELECT): an error reply refuses it. */
static apr_status_t redis_setup_command(redis_store_t *rs, apr_pool_t *p, const char *what,
                                        int argc, const char **argv, const size_t *argvlen)
{
    redisReply *reply = redisCommandArgv(rs->ctx, argc, argv, argvlen);
    apr_status_t rv = APR_SUCCESS;

    if (reply == NULL) {
        return redis_unreachable(rs, what, errno);
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        rv = APR_EACCES;
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1302) "store: Redis at %s refused %s: %s", rs->address,
               what, redis_reply_text(p, reply));
        redis_disconnect(rs);
    }
    freeReplyObject(reply);
    return rv;
}

static apr_status_t redis_connect(redis_store_t *rs, apr_pool_t *p)
{
    struct timeval tv = redis_timeval(rs->timeout);
    apr_status_t rv;

    rs->ctx = redisConnectWithTimeout(rs->url.host, rs->url.port, tv);
    if (rs->ctx == NULL || rs->ctx->err) {
        return redis_unreachable(rs, "connecting", errno);
    }
    if (redisSetTimeout(rs->ctx, tv) != REDIS_OK) {
        return redis_unreachable(rs, "setting the timeout", errno);
    }
    if (rs->password != NULL) {
        const char *argv[] = {"AUTH", rs->url.user, rs->password};
        size_t len[] = {4, rs->url.user ? strlen(rs->url.user) : 0, rs->password_len};

        if (rs->url.user == NULL) {
            argv[1] = rs->password;
            len[1] = rs->password_len;
        }
        rv = redis_setup_command(rs, p, "AUTH (AutoTLSStorePasswordFile, the URL's user)",
                                 rs->url.user ? 3 : 2, argv, len);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    if (rs->url.db != 0) {
        const char *db = apr_itoa(p, rs->url.db);
        const char *argv[] = {"SELECT", db};

        if ((rv = redis_setup_command(rs, p, "SELECT of the URL's database", 2, argv, NULL)) !=
            APR_SUCCESS) {
            return rv;
        }
    }
    if (rs->down) {
        at_log(AT_LOG_NOTICE, 0, AT_LOGNO(1303) "store: Redis at %s is reachable again",
               rs->address);
        rs->down = 0;
    }
    return APR_SUCCESS;
}

/* hiredis writes with write(2): to a connection Redis closed that raises SIGPIPE, which kills a
 * process that does not ignore it. The calling thread blocks it around each call and takes back
 * the one its own write raised, so the failure is only EPIPE. */
static int redis_sigpipe_block(sigset_t *old)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    return pthread_sigmask(SIG_BLOCK, &set, old) == 0;
}

static void redis_sigpipe_restore(const sigset_t *old)
{
    static const struct timespec no_wait = {0, 0};
    sigset_t set, pending;

    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    if (!sigismember(old, SIGPIPE) && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
        sigtimedwait(&set, NULL, &no_wait);
    }
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

static apr_status_t redis_free_reply(void *data)
{
    freeReplyObject(data);
    return APR_SUCCESS;
}

static apr_status_t redis_call_unsignalled(redisReply **reply, redis_store_t *rs, apr_pool_t *p,
                                           const char *what, const char *key, int argc,
                                           const char **argv, const size_t *argvlen)
{
    size_t lens_static[REDIS_ARGV_STATIC], *lens = lens_static;
    apr_status_t rv;
    redisReply *r;
    int i;

    *reply = NULL;
    redis_locks_renew(rs, p);
    if (rs->ctx == NULL && (rv = redis_connect(rs, p)) != APR_SUCCESS) {
        return rv;
    }
    if (argvlen == NULL) {
        if (argc > REDIS_ARGV_STATIC) {
            lens = apr_palloc(p, sizeof(*lens) * (apr_size_t)argc);
        }
        for (i = 0; i < argc; i++) {
            lens[i] = strlen(argv[i]);
        }
        argvlen = lens;
    }
    errno = 0;
    r = redisCommandArgv(rs->ctx, argc, argv, argvlen);
    if (r == NULL) {
        return redis_unreachable(rs, what, errno);
    }
    apr_pool_cleanup_register(p, r, redis_free_reply, apr_pool_cleanup_null);
    if (r->type == REDIS_REPLY_ERROR) {
        const char *text = redis_reply_text(p, r);

        /* WRONGTYPE: someone put another kind of value under our key. */
        rv = strncmp(text, "WRONGTYPE", strlen("WRONGTYPE")) == 0 ? AT_ECORRUPT : APR_EGENERAL;
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1304) "store: Redis at %s refused %s of %s: %s",
               rs->address, what, key, text);
        return rv;
    }
    *reply = r;
    return APR_SUCCESS;
}

apr_status_t redis_call(redisReply **reply, redis_store_t *rs, apr_pool_t *p, const char *what,
                        const char *key, int argc, const char **argv, const size_t *argvlen)
{
    sigset_t old;
    int blocked = redis_sigpipe_block(&old);
    apr_status_t rv = redis_call_unsignalled(reply, rs, p, what, key, argc, argv, argvlen);

    if (blocked) {
        redis_sigpipe_restore(&old);
    }
    return rv;
}

apr_status_t redis_eval(redisReply **reply, redis_store_t *rs, apr_pool_t *p, const char *what,
                        const char *script, int nkeys, const char **keys, int nargs,
                        const char **args, const size_t *arglen)
{
    int argc = 3 + nkeys + nargs, i;
    const char **argv = apr_palloc(p, sizeof(*argv) * (apr_size_t)argc);
    size_t *len = apr_palloc(p, sizeof(*len) * (apr_size_t)argc);

    argv[0] = "EVAL";
    argv[1] = script;
    argv[2] = apr_itoa(p, nkeys);
    for (i = 0; i < nkeys; i++) {
        argv[3 + i] = keys[i];
    }
    for (i = 0; i < nargs; i++) {
        argv[3 + nkeys + i] = args[i];
        len[3 + nkeys + i] = arglen != NULL ? arglen[i] : strlen(args[i]);
    }
    for (i = 0; i < 3 + nkeys; i++) {
        len[i] = strlen(argv[i]);
    }
    return redis_call(reply, rs, p, what, nkeys > 0 ? keys[0] : "", argc, argv, len);
}

const char *redis_key(redis_store_t *rs, apr_pool_t *p, const char *kind, const char *rest)
{
    return apr_pstrcat(p, rs->prefix, kind, ":", rest, NULL);
}
