/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_redis_internal.h: what store_redis.c, store_redis_conn.c and store_redis_lease.c share.
 *
 * The one idea: every Redis call goes through redis_call (one connection per store, made again
 * after any failure, a timeout on everything), so reachability is judged and logged in one place.
 */
#ifndef AT_STORE_REDIS_INTERNAL_H
#define AT_STORE_REDIS_INTERNAL_H

#include <hiredis/hiredis.h>

#include "at_store.h"
#include "at_store_redis.h"
#include "at_store_seal.h"

typedef struct redis_lock_t redis_lock_t;

typedef struct {
    at_store_redis_url_t url;
    const char *address;  /* host:port/db, for log lines */
    const char *password; /* NULL: no AUTH */
    apr_size_t password_len;
    const at_store_seal_key_t *key;
    const char *prefix;
    apr_interval_time_t timeout;
    redisContext *ctx;   /* NULL: not connected (made at the next call) */
    int down;            /* the last call could not reach Redis (logged once, until it is back) */
    redis_lock_t *locks; /* group locks held through this store (store_redis_lease.c) */
    int renewing;        /* inside the renewal of those locks */
} redis_store_t;

/* The Redis store behind store, or NULL when store is another backend (for the fleet calls,
 * fleet_node.c, which speak to Redis directly). */
redis_store_t *redis_store_of(at_store_t *store);

/* Runs one command: argv[0..argc-1] (lengths argvlen, or NULL for C strings). On success *reply
 * is freed when p is cleared. A reply of type ERROR is a failure too (logged with what and the
 * Redis key given as `key`); so is anything that does not reach Redis. */
apr_status_t redis_call(redisReply **reply, redis_store_t *rs, apr_pool_t *p, const char *what,
                        const char *key, int argc, const char **argv, const size_t *argvlen);

/* EVAL of script with keys and args (lengths arglen, or NULL for C strings). */
apr_status_t redis_eval(redisReply **reply, redis_store_t *rs, apr_pool_t *p, const char *what,
                        const char *script, int nkeys, const char **keys, int nargs,
                        const char **args, const size_t *arglen);

/* Closes the connection (a pool cleanup of the store). */
apr_status_t redis_disconnect(void *data);

/* Renews the group locks this store holds when a third of their TTL has passed
 * (store_redis_lease.c); redis_call runs it before each command. */
void redis_locks_renew(redis_store_t *rs, apr_pool_t *p);

/* Key names: <prefix><kind>:<rest>. */
const char *redis_key(redis_store_t *rs, apr_pool_t *p, const char *kind, const char *rest);

/* The leases and the group lock (store_redis_lease.c), with the vtable's signatures. */
apr_status_t redis_lock(at_store_t *store, at_store_group_e group, apr_pool_t *p);
apr_status_t redis_lease_take(at_store_t *store, const char *name, const char *token,
                              apr_interval_time_t ttl, apr_pool_t *p);
apr_status_t redis_lease_renew(at_store_t *store, const char *name, const char *token,
                               apr_interval_time_t ttl, apr_pool_t *p);
apr_status_t redis_lease_release(at_store_t *store, const char *name, const char *token,
                                 apr_pool_t *p);
apr_status_t redis_lease_holder(at_store_t *store, const char *name, char **token,
                                apr_time_t *expires, apr_pool_t *p);

#endif
