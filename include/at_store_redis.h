/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_store_redis.h: the store on Redis, for fleets of web servers behind one name (issue 13).
 *
 * The same items as the filesystem store (at_store.h), under one key prefix (default
 * "autotls:") in one Redis database (a single server: hiredis 0.14 speaks RESP2 without TLS,
 * so keep Redis on a private link or behind a TLS tunnel):
 *   <prefix>item:<group>/<name>/<item>    an item's value (<group>/<item> when name is "")
 *   <prefix>dir:<group>[/<name>]          a hash: entry -> "s|i <mtime-us> <size> [s]" (what
 *                                         list, stat and purge read; an empty set keeps its entry)
 *   <prefix>gen:<group>                   bumped with every write to group (at_store_generation)
 *   <prefix>lease:<site>, <prefix>lock:<group>   leases and group locks (a token, with a TTL)
 * Every write is one Lua script, which Redis runs atomically (like MULTI/EXEC): the value, its
 * index entries and the generation change together, and a set appears whole. Every secret item
 * (AT_STORE_SECRET) is sealed (at_store_seal.h) before it leaves the process, bound to its Redis
 * key name; public items carry a small frame ("ATPB", version, a SHA-256 check of key name and
 * data). A value that does not open or is not what it says is refused (AT_ECORRUPT,
 * AT_ECRYPTO) with its Redis key named, never returned. live/ and archive/ are never in Redis:
 * they stay local root-only files on each node (AT_EARG). `path` is APR_ENOTIMPL.
 *
 * Threads: one connection per at_store_t, used by one thread at a time: each thread opens its
 * own store. A broken connection is dropped and made again at the next call; while Redis cannot
 * be reached every call fails within the timeout (APR_ECONNREFUSED, APR_TIMEUP, ...), logged
 * once when the state changes, not per call.
 */
#ifndef AT_STORE_REDIS_H
#define AT_STORE_REDIS_H

#include <apr_pools.h>
#include <apr_time.h>

#include "at_store.h"

#define AT_STORE_REDIS_PREFIX_DEFAULT "autotls:"
#define AT_STORE_REDIS_TIMEOUT_DEFAULT apr_time_from_sec(2)
/* A Redis password is a few dozen characters; a password file much larger holds something else. */
#define AT_STORE_REDIS_PASSWORD_MAX 1024
/* How long a group lock (at_store_lock) lives without its holder calling the store again. */
#define AT_STORE_REDIS_LOCK_TTL apr_time_from_sec(60)

typedef struct {
    const char *url;             /* redis://[user@]host:port[/db] */
    const char *password_file;   /* NULL: no AUTH; else at_secret_file_read's rules */
    const char *key_file;        /* the seal key (at_store_seal_key_read): required */
    const char *prefix;          /* NULL: AT_STORE_REDIS_PREFIX_DEFAULT */
    apr_interval_time_t timeout; /* connect and each command; 0: AT_STORE_REDIS_TIMEOUT_DEFAULT */
} at_store_redis_conf_t;

typedef struct {
    const char *user; /* NULL: none (AUTH with the password alone) */
    const char *host; /* a name, an IPv4 address, or an IPv6 address without its brackets */
    int port;
    int db;
} at_store_redis_url_t;

/* Whether text is a URL rather than a directory (it has a "://"), so that AutoTLSStore hands it
 * to at_store_redis_url_parse, which says what is wrong with a wrong one. */
int at_store_redis_url_is_redis(const char *text);

/* Parses redis://[user@]host:port[/db]; anything else (rediss://, a password in the URL, a unix
 * socket, no port, a query) is AT_EARG with *why saying what is wrong and what to write. */
apr_status_t at_store_redis_url_parse(at_store_redis_url_t *url, const char **why, apr_pool_t *p,
                                      const char *text);

/* Opens a Redis store: parses the URL, reads the key and password files (a bad one: AT_EARG,
 * AT_EMODE, with one log line). It does not connect: the first call does (so that a node starts,
 * and keeps serving, while Redis is away). The store lives in p; its connection is closed when p
 * is cleared. */
apr_status_t at_store_redis_open(at_store_t **store, apr_pool_t *p,
                                 const at_store_redis_conf_t *conf);

/* Another store on the same Redis with the same key, password and prefix (already read: the
 * files are not opened again, so a process that read them as root before it dropped its rights
 * can give each of its threads a connection of its own). It does not connect; it lives in p, which
 * like's pool must outlive (the key and password stay there). AT_EARG when like is no Redis
 * store. */
apr_status_t at_store_redis_clone(at_store_t **store, apr_pool_t *p, const at_store_t *like);

/* Whether store is a Redis store. */
int at_store_redis_is(const at_store_t *store);

/* Connects now if needed and checks the connection (PING): APR_SUCCESS, or the failure. */
apr_status_t at_store_redis_ping(at_store_t *store);

/* The Redis key an item is stored under (for tools and tests); NULL for another backend. */
const char *at_store_redis_item_key(at_store_t *store, at_store_group_e group, const char *name,
                                    const char *item, apr_pool_t *p);

#endif
