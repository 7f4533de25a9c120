/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_redis_lease.c: leases (who orders a site now, across the fleet) and group locks on Redis.
 *
 * The one idea: a lease is a key holding its holder's random token with a TTL. It is taken only
 * when free (SET NX PX), renewed and released only by a script that first compares the token,
 * so no node ever extends or drops another node's lease; a node that dies simply stops renewing
 * and its lease expires. A group lock (at_store_lock) is the same with a TTL that the store
 * renews while its holder keeps using it, released when the holder's pool is cleared.
 */
#include <string.h>

#include <apr_strings.h>

#include "at_core.h"
#include "store_redis_internal.h"

/* KEYS: the lease. ARGV: token, TTL in ms. 1: ours (and renewed), 0: not ours. */
static const char lease_renew_script[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                                         "  redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 "
                                         "end "
                                         "return 0";

/* KEYS: the lease. ARGV: token. 1: released, 0: not ours (left alone). */
static const char lease_release_script[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                                           "  redis.call('DEL', KEYS[1]) return 1 "
                                           "end "
                                           "return 0";

/* KEYS: the lease. {token, ms left} or nil. */
static const char lease_holder_script[] = "local v = redis.call('GET', KEYS[1]) "
                                          "if not v then return false end "
                                          "return {v, redis.call('PTTL', KEYS[1])}";

struct redis_lock_t {
    redis_lock_t *next;
    redis_store_t *rs;
    const char *key;
    const char *token;
    apr_time_t renewed;
    int lost; /* expired while held: said once, not renewed any more */
};

static const char *lease_ms(apr_pool_t *p, apr_interval_time_t ttl)
{
    apr_int64_t ms = apr_time_as_msec(ttl);

    return apr_psprintf(p, "%" APR_INT64_T_FMT, ms > 0 ? ms : 1);
}

static apr_status_t lease_ttl_ok(const char *name, apr_interval_time_t ttl)
{
    if (ttl > 0) {
        return APR_SUCCESS;
    }
    at_log(AT_LOG_ERR, AT_EARG, AT_LOGNO(1330) "store: a lease on %s needs a positive TTL", name);
    return AT_EARG;
}

/* SET key token NX PX ttl: APR_SUCCESS when taken, APR_EAGAIN when someone holds it. */
static apr_status_t lease_set_nx(redis_store_t *rs, apr_pool_t *p, const char *what,
                                 const char *key, const char *token, apr_interval_time_t ttl)
{
    const char *argv[6] = {"SET", key, token, "NX", "PX", lease_ms(p, ttl)};
    redisReply *reply;
    apr_status_t rv;

    if ((rv = redis_call(&reply, rs, p, what, key, 6, argv, NULL)) != APR_SUCCESS) {
        return rv;
    }
    return reply->type == REDIS_REPLY_STATUS ? APR_SUCCESS : APR_EAGAIN;
}

/* Runs a compare-and-... script: *ours is whether the token held the key. */
static apr_status_t lease_compare(int *ours, redis_store_t *rs, apr_pool_t *p, const char *what,
                                  const char *script, const char *key, int nargs, const char **args)
{
    redisReply *reply;
    apr_status_t rv;

    *ours = 0;
    if ((rv = redis_eval(&reply, rs, p, what, script, 1, &key, nargs, args, NULL)) != APR_SUCCESS) {
        return rv;
    }
    *ours = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
    return APR_SUCCESS;
}

apr_status_t redis_lease_renew(at_store_t *store, const char *name, const char *token,
                               apr_interval_time_t ttl, apr_pool_t *p)
{
    redis_store_t *rs = store->impl;
    const char *key = redis_key(rs, p, "lease", name);
    const char *args[2] = {token, lease_ms(p, ttl)};
    apr_status_t rv;
    int ours;

    if ((rv = lease_ttl_ok(name, ttl)) != APR_SUCCESS ||
        (rv = lease_compare(&ours, rs, p, "lease renew", lease_renew_script, key, 2, args)) !=
            APR_SUCCESS) {
        return rv;
    }
    return ours ? APR_SUCCESS : AT_ELOST;
}

apr_status_t redis_lease_take(at_store_t *store, const char *name, const char *token,
                              apr_interval_time_t ttl, apr_pool_t *p)
{
    redis_store_t *rs = store->impl;
    apr_status_t rv;

    if ((rv = lease_ttl_ok(name, ttl)) != APR_SUCCESS ||
        (rv = lease_set_nx(rs, p, "lease take", redis_key(rs, p, "lease", name), token, ttl)) !=
            APR_EAGAIN) {
        return rv;
    }
    /* Held already: ours (taking it again renews it), or another holder's. */
    rv = redis_lease_renew(store, name, token, ttl, p);
    return rv == AT_ELOST ? AT_EBUSY : rv;
}

apr_status_t redis_lease_release(at_store_t *store, const char *name, const char *token,
                                 apr_pool_t *p)
{
    redis_store_t *rs = store->impl;
    int ours;

    /* Not ours (expired, taken over): nothing of the other holder is dropped. */
    return lease_compare(&ours, rs, p, "lease release", lease_release_script,
                         redis_key(rs, p, "lease", name), 1, &token);
}

apr_status_t redis_lease_holder(at_store_t *store, const char *name, char **token,
                                apr_time_t *expires, apr_pool_t *p)
{
    redis_store_t *rs = store->impl;
    const char *key = redis_key(rs, p, "lease", name);
    redisReply *reply;
    apr_status_t rv;

    *token = NULL;
    *expires = 0;
    if ((rv = redis_eval(&reply, rs, p, "lease holder", lease_holder_script, 1, &key, 0, NULL,
                         NULL)) != APR_SUCCESS) {
        return rv;
    }
    if (reply->type == REDIS_REPLY_NIL) {
        return APR_ENOENT;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_INTEGER) {
        at_log(AT_LOG_ERR, AT_ECORRUPT,
               AT_LOGNO(1331) "store: refusing Redis key %s: not a lease of this store", key);
        return AT_ECORRUPT;
    }
    if (reply->element[1]->integer < 0) {
        return APR_ENOENT; /* gone between GET and PTTL, or without TTL: nobody's lease */
    }
    *token = apr_pstrmemdup(p, reply->element[0]->str, reply->element[0]->len);
    *expires = apr_time_now() + apr_time_from_msec(reply->element[1]->integer);
    return APR_SUCCESS;
}

/* ---- group locks ------------------------------------------------------------------------- */

/* The holder's pool is cleared: drop the lock (only if still ours) and forget it. */
static apr_status_t lock_release(void *data)
{
    redis_lock_t *lock = data, **l;
    redis_store_t *rs = lock->rs;
    apr_pool_t *p;
    int ours;

    for (l = &rs->locks; *l != NULL; l = &(*l)->next) {
        if (*l == lock) {
            *l = lock->next;
            break;
        }
    }
    if (apr_pool_create(&p, NULL) == APR_SUCCESS) {
        rs->renewing = 1; /* no renewal from inside the release */
        lease_compare(&ours, rs, p, "lock release", lease_release_script, lock->key, 1,
                      &lock->token);
        rs->renewing = 0;
        apr_pool_destroy(p);
    }
    return APR_SUCCESS;
}

apr_status_t redis_lock(at_store_t *store, at_store_group_e group, apr_pool_t *p)
{
    redis_store_t *rs = store->impl;
    redis_lock_t *lock = apr_pcalloc(p, sizeof(*lock));
    char *token;
    apr_status_t rv;

    if ((rv = at_store_lease_token(&token, p)) != APR_SUCCESS) {
        return rv;
    }
    lock->rs = rs;
    lock->token = token;
    lock->key = redis_key(rs, p, "lock", at_store_group_name(group));
    if ((rv = lease_set_nx(rs, p, "lock", lock->key, lock->token, AT_STORE_REDIS_LOCK_TTL)) !=
        APR_SUCCESS) {
        return rv;
    }
    lock->renewed = apr_time_now();
    lock->next = rs->locks;
    rs->locks = lock;
    apr_pool_cleanup_register(p, lock, lock_release, apr_pool_cleanup_null);
    return APR_SUCCESS;
}

void redis_locks_renew(redis_store_t *rs, apr_pool_t *p)
{
    apr_time_t now = apr_time_now();
    const char *args[2];
    redis_lock_t *lock;
    int ours;

    if (rs->renewing || rs->locks == NULL) {
        return;
    }
    rs->renewing = 1;
    for (lock = rs->locks; lock != NULL; lock = lock->next) {
        if (lock->lost || now - lock->renewed < AT_STORE_REDIS_LOCK_TTL / 3) {
            continue;
        }
        args[0] = lock->token;
        args[1] = lease_ms(p, AT_STORE_REDIS_LOCK_TTL);
        if (lease_compare(&ours, rs, p, "lock renew", lease_renew_script, lock->key, 2, args) !=
            APR_SUCCESS) {
            continue; /* Redis away: try again at the next call */
        }
        lock->renewed = now;
        if (!ours) {
            lock->lost = 1;
            at_log(AT_LOG_WARN, AT_ELOST,
                   AT_LOGNO(1332) "store: the lock %s in Redis (%s) expired while held (no store "
                                  "call for %" APR_TIME_T_FMT " s): another process may hold it",
                   lock->key, rs->address, apr_time_sec(AT_STORE_REDIS_LOCK_TTL));
        }
    }
    rs->renewing = 0;
}
