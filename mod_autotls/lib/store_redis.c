/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_redis.c: the store on Redis (at_store_redis.h): items, sets, listings, stat and
 * generation, each write one atomic Lua script.
 *
 * The one idea: what leaves the process is sealed (secrets) or framed (public items), bound to
 * the Redis key it is stored under, and what comes back is believed only after it opened or its
 * frame checked: a value someone else put there, moved there or cut is refused with its key
 * named, never returned. The index hashes (dir:) are written in the same script as the values,
 * so a listing never names a value that is not there yet.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/evp.h>

#include "at_core.h"
#include "at_secret_file.h"
#include "at_store_redis.h"
#include "at_store_seal.h"
#include "store_redis_internal.h"

/* The frame of a public item: "ATPB", version, the first bytes of SHA-256(key name, 0, data). */
#define REDIS_PUBLIC_MAGIC "ATPB"
#define REDIS_PUBLIC_MAGIC_LEN 4
#define REDIS_PUBLIC_VERSION 1
#define REDIS_PUBLIC_CHECK_LEN 16
#define REDIS_PUBLIC_HEADER_LEN (REDIS_PUBLIC_MAGIC_LEN + 1 + REDIS_PUBLIC_CHECK_LEN)
/* Most entries a listing takes (as the fs store). */
#define REDIS_LIST_MAX_ENTRIES (1024 * 1024)
#define REDIS_PREFIX_MAX 100
/* An index entry: "<kind> <mtime-us> <size> <access> <version>". */
#define REDIS_ENTRY_SET 's'
#define REDIS_ENTRY_ITEM 'i'
#define REDIS_ACCESS_SECRET "s"
#define REDIS_ACCESS_PUBLIC "p"

/* The time of the Redis server, so that every node of a fleet writes the same clock. */
#define LUA_NOW                                                                                    \
    "local t = redis.call('TIME') "                                                                \
    "local now = t[1] .. string.format('%06d', tonumber(t[2])) "

/* KEYS: item, group index, index holding the item, generation. ARGV: value, name or '', item,
 * size, access. */
static const char redis_save_script[] =
    LUA_NOW "if ARGV[2] ~= '' then "
            "  local e = redis.call('HGET', KEYS[2], ARGV[2]) "
            "  if e and string.sub(e, 1, 1) ~= 's' then return redis.status_reply('ENOTDIR') end "
            "end "
            "local e = redis.call('HGET', KEYS[3], ARGV[3]) "
            "if e and string.sub(e, 1, 1) == 's' then return redis.status_reply('EISDIR') end "
            "local gen = redis.call('INCR', KEYS[4]) "
            "if ARGV[2] ~= '' then "
            "  redis.call('HSET', KEYS[2], ARGV[2], 's ' .. now .. ' 0 - ' .. gen) "
            "end "
            "redis.call('SET', KEYS[1], ARGV[1]) "
            "redis.call('HSET', KEYS[3], ARGV[3], "
            "           'i ' .. now .. ' ' .. ARGV[4] .. ' ' .. ARGV[5] .. ' ' .. gen) "
            "return gen";

/* KEYS: item. ARGV: the last byte index to read (a value longer than that is too large). */
static const char redis_load_script[] =
    "local v = redis.call('GETRANGE', KEYS[1], 0, ARGV[1]) "
    "if v == '' and redis.call('EXISTS', KEYS[1]) == 0 then return false end "
    "return v";

/* KEYS: item, index holding it, generation. ARGV: item. */
static const char redis_remove_script[] =
    "local e = redis.call('HGET', KEYS[2], ARGV[1]) "
    "if e and string.sub(e, 1, 1) == 's' then return redis.status_reply('EISDIR') end "
    "local n = redis.call('DEL', KEYS[1]) + redis.call('HDEL', KEYS[2], ARGV[1]) "
    "if n > 0 then redis.call('INCR', KEYS[3]) end "
    "return n";

/* KEYS: index. ARGV: most entries. */
static const char redis_list_script[] = "if redis.call('HLEN', KEYS[1]) > tonumber(ARGV[1]) then "
                                        "  return redis.status_reply('ETOOLARGE') "
                                        "end "
                                        "return redis.call('HKEYS', KEYS[1])";

/* KEYS: group index, set index, generation. ARGV: name, the set's item key prefix, the key of
 * an item called name, whether items were told ('1'), the items. Returns {0} (nothing there),
 * {-1, left} (not empty, untold: it stays), {1, left} (gone; left: items nobody told of). */
static const char redis_purge_script[] =
    "local e = redis.call('HGET', KEYS[1], ARGV[1]) "
    "if not e then return {0} end "
    "if string.sub(e, 1, 1) ~= 's' then "
    "  redis.call('DEL', ARGV[3]) redis.call('HDEL', KEYS[1], ARGV[1]) "
    "  redis.call('INCR', KEYS[3]) return {1, {}} "
    "end "
    "for i = 5, #ARGV do "
    "  redis.call('DEL', ARGV[2] .. ARGV[i]) redis.call('HDEL', KEYS[2], ARGV[i]) "
    "end "
    "local left = redis.call('HKEYS', KEYS[2]) "
    "if #left > 0 and ARGV[4] ~= '1' then return {-1, left} end "
    "for _, it in ipairs(left) do redis.call('DEL', ARGV[2] .. it) end "
    "redis.call('DEL', KEYS[2]) redis.call('HDEL', KEYS[1], ARGV[1]) "
    "redis.call('INCR', KEYS[3]) "
    "return {1, left}";

/* KEYS: group index, set index, generation. ARGV: name, the set's item key prefix, then per
 * item: item, value, size, access. */
static const char redis_save_set_script[] =
    "if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then "
    "  return redis.status_reply('EEXIST') "
    "end " LUA_NOW "local gen = redis.call('INCR', KEYS[3]) "
    "for i = 3, #ARGV, 4 do "
    "  redis.call('SET', ARGV[2] .. ARGV[i], ARGV[i + 1]) "
    "  redis.call('HSET', KEYS[2], ARGV[i], "
    "             'i ' .. now .. ' ' .. ARGV[i + 2] .. ' ' .. ARGV[i + 3] .. ' ' .. gen) "
    "end "
    "redis.call('HSET', KEYS[1], ARGV[1], 's ' .. now .. ' 0 - ' .. gen) "
    "return gen";

static const char *redis_name_part(const char *name)
{
    return name != NULL ? name : "";
}

static const char *redis_item_key(redis_store_t *rs, apr_pool_t *p, at_store_group_e group,
                                  const char *name, const char *item)
{
    const char *g = at_store_group_name(group);

    if (name == NULL || name[0] == '\0') {
        return redis_key(rs, p, "item", apr_pstrcat(p, g, "/", item, NULL));
    }
    return redis_key(rs, p, "item", apr_pstrcat(p, g, "/", name, "/", item, NULL));
}

static const char *redis_dir_key(redis_store_t *rs, apr_pool_t *p, at_store_group_e group,
                                 const char *name)
{
    const char *g = at_store_group_name(group);

    if (name == NULL || name[0] == '\0') {
        return redis_key(rs, p, "dir", g);
    }
    return redis_key(rs, p, "dir", apr_pstrcat(p, g, "/", name, NULL));
}

static const char *redis_gen_key(redis_store_t *rs, apr_pool_t *p, at_store_group_e group)
{
    return redis_key(rs, p, "gen", at_store_group_name(group));
}

/* live/ and archive/ are each node's own root-only files, read by mod_ssl by path: never in
 * Redis. leases/ is the fs backend's home of leases: Redis keeps them as lease: keys. */
static apr_status_t redis_group_ok(redis_store_t *rs, at_store_group_e group, const char *op)
{
    if (group == AT_STORE_LEASES) {
        at_log(AT_LOG_ERR, AT_EARG,
               AT_LOGNO(1323) "store: %s of leases/ refused: a Redis store keeps leases only "
                              "through the lease calls (%s)",
               op, rs->address);
        return AT_EARG;
    }
    if (group != AT_STORE_LIVE && group != AT_STORE_ARCHIVE) {
        return APR_SUCCESS;
    }
    at_log(AT_LOG_ERR, AT_EARG,
           AT_LOGNO(1305) "store: %s of %s/ refused: live/ and archive/ are never kept in Redis "
                          "(%s); they stay local root-only files on each node",
           op, at_store_group_name(group), rs->address);
    return AT_EARG;
}

/* A script's refusal (a status reply) as an APR status, logged with the key. */
static apr_status_t redis_refused(redis_store_t *rs, const char *what, const char *key,
                                  const redisReply *reply)
{
    static const struct {
        const char *text;
        apr_status_t rv;
        const char *why;
    } map[] = {
        {"EEXIST", APR_EEXIST, "it exists already"},
        {"ENOTDIR", APR_ENOTDIR, "an item, not a set, holds that name"},
        {"EISDIR", APR_FROM_OS_ERROR(EISDIR), "a set, not an item, holds that name"},
        {"ETOOLARGE", AT_ETOOLARGE, "more entries than a listing takes"},
    };
    apr_size_t i;

    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (reply->len == strlen(map[i].text) && memcmp(reply->str, map[i].text, reply->len) == 0) {
            at_log(AT_LOG_ERR, map[i].rv, AT_LOGNO(1306) "store: %s of Redis key %s refused: %s",
                   what, key, map[i].why);
            return map[i].rv;
        }
    }
    at_log(AT_LOG_ERR, APR_EGENERAL,
           AT_LOGNO(1307) "store: %s of Redis key %s: unexpected answer from Redis (type %d)", what,
           key, reply->type);
    return APR_EGENERAL;
}

/* The check of a public frame: SHA-256 over the key name, a 0 byte, the data. */
static apr_status_t redis_public_check(unsigned char *check, const char *key, const void *data,
                                       apr_size_t len)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok;

    ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
         EVP_DigestUpdate(ctx, key, strlen(key) + 1) == 1 &&
         EVP_DigestUpdate(ctx, data, len) == 1 && EVP_DigestFinal_ex(ctx, digest, &n) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        return AT_ECRYPTO;
    }
    memcpy(check, digest, REDIS_PUBLIC_CHECK_LEN);
    return APR_SUCCESS;
}

/* What goes to Redis for an item: sealed when secret, framed when public. */
static apr_status_t redis_encode(char **out, apr_size_t *out_len, redis_store_t *rs, apr_pool_t *p,
                                 const char *key, const void *data, apr_size_t len,
                                 at_store_access_e access)
{
    apr_status_t rv;
    char *buf;

    if (access == AT_STORE_SECRET) {
        rv = at_store_seal_encrypt(out, out_len, p, rs->key, key, data, len);
    } else {
        buf = apr_palloc(p, REDIS_PUBLIC_HEADER_LEN + len);
        memcpy(buf, REDIS_PUBLIC_MAGIC, REDIS_PUBLIC_MAGIC_LEN);
        buf[REDIS_PUBLIC_MAGIC_LEN] = REDIS_PUBLIC_VERSION;
        if (len > 0) {
            memcpy(buf + REDIS_PUBLIC_HEADER_LEN, data, len);
        }
        rv = redis_public_check((unsigned char *)buf + REDIS_PUBLIC_MAGIC_LEN + 1, key, data, len);
        *out = buf;
        *out_len = REDIS_PUBLIC_HEADER_LEN + len;
    }
    if (rv != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1308) "store: cannot %s the value for Redis key %s",
               access == AT_STORE_SECRET ? "seal" : "frame", key);
    }
    return rv;
}

static int redis_is_public_frame(const char *v, apr_size_t n)
{
    return n >= REDIS_PUBLIC_HEADER_LEN &&
           memcmp(v, REDIS_PUBLIC_MAGIC, REDIS_PUBLIC_MAGIC_LEN) == 0 &&
           v[REDIS_PUBLIC_MAGIC_LEN] == REDIS_PUBLIC_VERSION;
}

/* Opens a public frame: *why on failure. */
static apr_status_t redis_public_open(char **out, apr_size_t *out_len, const char **why,
                                      apr_pool_t *p, const char *key, const char *v, apr_size_t n)
{
    unsigned char check[REDIS_PUBLIC_CHECK_LEN];

    if (at_store_seal_is_sealed(v, n)) {
        *why = "a sealed (secret) value where a public item belongs";
        return AT_ECORRUPT;
    }
    if (!redis_is_public_frame(v, n)) {
        *why = "not a value of this store (foreign, cut, or another version)";
        return AT_ECORRUPT;
    }
    if (redis_public_check(check, key, v + REDIS_PUBLIC_HEADER_LEN, n - REDIS_PUBLIC_HEADER_LEN) !=
            APR_SUCCESS ||
        memcmp(check, v + REDIS_PUBLIC_MAGIC_LEN + 1, REDIS_PUBLIC_CHECK_LEN) != 0) {
        *why = "its check does not match: altered, cut, or moved from another key";
        return AT_ECORRUPT;
    }
    *out_len = n - REDIS_PUBLIC_HEADER_LEN;
    *out = apr_pstrmemdup(p, v + REDIS_PUBLIC_HEADER_LEN, *out_len);
    return APR_SUCCESS;
}

/* What Redis gave back, believed only once it opened or its frame checked. */
static apr_status_t redis_decode(char **out, apr_size_t *out_len, redis_store_t *rs, apr_pool_t *p,
                                 const char *key, at_store_access_e access, const char *v,
                                 apr_size_t n)
{
    const char *why = NULL;
    apr_status_t rv;

    if (access == AT_STORE_SECRET && redis_is_public_frame(v, n)) {
        why = "a secret item stored in clear (private keys must be sealed)";
        rv = AT_ECORRUPT;
    } else if (access == AT_STORE_SECRET) {
        rv = at_store_seal_decrypt(out, out_len, &why, p, rs->key, key, v, n);
    } else {
        rv = redis_public_open(out, out_len, &why, p, key, v, n);
    }
    if (rv != APR_SUCCESS) {
        *out = NULL;
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1309) "store: refusing the value of Redis key %s (%s): %s",
               key, rs->address, why);
    }
    return rv;
}

static apr_status_t redis_save(at_store_t *store, at_store_group_e group, const char *name,
                               const char *item, const void *data, apr_size_t len,
                               at_store_access_e access, apr_pool_t *p)
{
    redis_store_t *rs = store->impl;
    const char *key = redis_item_key(rs, p, group, name, item);
    const char *keys[4], *args[5];
    size_t arglen[5];
    redisReply *reply;
    apr_status_t rv;
    char *value;
    apr_size_t vlen;

    if ((rv = redis_group_ok(rs, group, "save")) != APR_SUCCESS ||
        (rv = redis_encode(&value, &vlen, rs, p, key, data, len, access)) != APR_SUCCESS) {
        return rv;
    }
    keys[0] = key;
    keys[1] = redis_dir_key(rs, p, group, NULL);
    keys[2] = redis_dir_key(rs, p, group, name);
    keys[3] = redis_gen_key(rs, p, group);
    args[0] = value;
    args[1] = redis_name_part(name);
    args[2] = item;
    args[3] = apr_psprintf(p, "%" APR_SIZE_T_FMT, len);
    args[4] = access == AT_STORE_SECRET ? REDIS_ACCESS_SECRET : REDIS_ACCESS_PUBLIC;
    arglen[0] = vlen;
    for (int i = 1; i < 5; i++) {
        arglen[i] = strlen(args[i]);
    }
    rv = redis_eval(&reply, rs, p, "save", redis_save_script, 4, keys, 5, args, arglen);
    if (rv == APR_SUCCESS && reply->type != REDIS_REPLY_INTEGER) {
        rv = redis_refused(rs, "save", key, reply);
    }
    return rv;
}

static apr_status_t redis_load(at_store_t *store, at_store_group_e group, const char *name,
                               const char *item, char **data, apr_size_t *len,
                               at_store_access_e access, apr_pool_t *p)
{
    redis_store_t *rs = store->impl;
    const char *key = redis_item_key(rs, p, group, name, item);
    apr_size_t cap = at_store_item_max(group) + AT_STORE_SEAL_OVERHEAD, n = 0;
    const char *args[1];
    redisReply *reply;
    apr_status_t rv;

    if ((rv = redis_group_ok(rs, group, "load")) != APR_SUCCESS) {
        return rv;
    }
    args[0] = apr_psprintf(p, "%" APR_SIZE_T_FMT, cap);
    if ((rv = redis_eval(&reply, rs, p, "load", redis_load_script, 1, &key, 1, args, NULL)) !=
        APR_SUCCESS) {
        return rv;
    }
    if (reply->type == REDIS_REPLY_NIL) {
        return APR_ENOENT;
    }
    if (reply->type != REDIS_REPLY_STRING) {
        return redis_refused(rs, "load", key, reply);
    }
    if (reply->len > cap) {
        at_log(AT_LOG_ERR, AT_ETOOLARGE,
               AT_LOGNO(1310) "store: refusing Redis key %s: more than %" APR_SIZE_T_FMT
                              " bytes, the limit of %s/",
               key, cap, at_store_group_name(group));
        return AT_ETOOLARGE;
    }
    if ((rv = redis_decode(data, &n, rs, p, key, access, reply->str, reply->len)) != APR_SUCCESS) {
        return rv;
    }
    if (len != NULL) {
        *len = n;
    }
    return APR_SUCCESS;
}

static apr_status_t redis_remove(at_store_t *store, at_store_group_e group, const char *name,
                                 const char *item, apr_pool_t *p)
{
    redis_store_t *rs = store->impl;
    const char *keys[3];
    redisReply *reply;
    apr_status_t rv;

    if ((rv = redis_group_ok(rs, group, "remove")) != APR_SUCCESS) {
        return rv;
    }
    keys[0] = redis_item_key(rs, p, group, name, item);
    keys[1] = redis_dir_key(rs, p, group, name);
    keys[2] = redis_gen_key(rs, p, group);
    rv = redis_eval(&reply, rs, p, "remove", redis_remove_script, 3, keys, 1, &item, NULL);
    if (rv == APR_SUCCESS && reply->type != REDIS_REPLY_INTEGER) {
        rv = redis_refused(rs, "remove", keys[0], reply);
    }
    return rv;
}

static int redis_compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static apr_status_t redis_list(at_store_t *store, at_store_group_e group, const char *name,
                               apr_array_header_t **entries, apr_pool_t *p)
{
    redis_store_t *rs = store->impl;
    const char *key = redis_dir_key(rs, p, group, name);
    const char *args[1] = {apr_itoa(p, REDIS_LIST_MAX_ENTRIES)};
    apr_array_header_t *names;
    redisReply *reply;
    apr_status_t rv;
    size_t i;

    *entries = apr_array_make(p, 0, sizeof(const char *));
    if ((rv = redis_group_ok(rs, group, "list")) != APR_SUCCESS ||
        (rv = redis_eval(&reply, rs, p, "list", redis_list_script, 1, &key, 1, args, NULL)) !=
            APR_SUCCESS) {
        return rv;
    }
    if (reply->type != REDIS_REPLY_ARRAY) {
        return redis_refused(rs, "list", key, reply);
    }
    names = apr_array_make(p, (int)reply->elements, sizeof(const char *));
    for (i = 0; i < reply->elements; i++) {
        const redisReply *e = reply->element[i];
        const char *entry =
            e->type == REDIS_REPLY_STRING ? apr_pstrmemdup(p, e->str, e->len) : NULL;

        /* Only what a valid component could name, as the fs store lists. */
        if (entry != NULL && strlen(entry) == e->len && at_store_component_valid(entry)) {
            APR_ARRAY_PUSH(names, const char *) = entry;
        }
    }
    qsort(names->elts, (size_t)names->nelts, sizeof(const char *), redis_compare_names);
    *entries = names;
    return APR_SUCCESS;
}

/* The items a purge found without being told of them, for its log line. */
static const char *redis_left_names(apr_pool_t *p, const redisReply *left)
{
    const char *text = "";
    size_t i;

    for (i = 0; left != NULL && left->type == REDIS_REPLY_ARRAY && i < left->elements; i++) {
        text = apr_pstrcat(p, text, i ? ", " : "",
                           apr_pstrmemdup(p, left->element[i]->str, left->element[i]->len), NULL);
    }
    return text;
}

static apr_status_t redis_purge(at_store_t *store, at_store_group_e group, const char *name,
                                const char *const *items, int count, apr_pool_t *p)
{
    redis_store_t *rs = store->impl;
    const char *keys[3], **args;
    redisReply *reply, *left;
    apr_status_t rv;
    int i;

    if ((rv = redis_group_ok(rs, group, "purge")) != APR_SUCCESS) {
        return rv;
    }
    if (at_store_is_temp_name(name)) {
        return APR_SUCCESS; /* Redis has no temp names: a set appears whole or not at all */
    }
    keys[0] = redis_dir_key(rs, p, group, NULL);
    keys[1] = redis_dir_key(rs, p, group, name);
    keys[2] = redis_gen_key(rs, p, group);
    args = apr_palloc(p, sizeof(*args) * (apr_size_t)(4 + count));
    args[0] = name;
    args[1] = redis_item_key(rs, p, group, name, "");
    args[2] = redis_item_key(rs, p, group, NULL, name);
    args[3] = items != NULL ? "1" : "0";
    for (i = 0; i < count; i++) {
        args[4 + i] = items[i];
    }
    rv = redis_eval(&reply, rs, p, "purge", redis_purge_script, 3, keys, 4 + count, args, NULL);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER) {
        return redis_refused(rs, "purge", keys[1], reply);
    }
    left = reply->elements > 1 ? reply->element[1] : NULL;
    if (reply->element[0]->integer < 0) {
        rv = APR_FROM_OS_ERROR(ENOTEMPTY);
        at_log(AT_LOG_ERR, rv,
               AT_LOGNO(1311) "store: the set %s/%s in Redis (%s) still holds %s: it stays",
               at_store_group_name(group), name, keys[1], redis_left_names(p, left));
        return rv;
    }
    if (left != NULL && left->type == REDIS_REPLY_ARRAY && left->elements > 0) {
        at_log(AT_LOG_WARN, 0,
               AT_LOGNO(1312) "store: the set %s/%s in Redis (%s) also held %s, which no caller "
                              "named; removed with it (in Redis every item is the store's own)",
               at_store_group_name(group), name, keys[1], redis_left_names(p, left));
    }
    return APR_SUCCESS;
}

static apr_status_t redis_save_set(at_store_t *store, at_store_group_e group, const char *name,
                                   const at_store_item_t *items, int count, apr_pool_t *p)
{
    redis_store_t *rs = store->impl;
    int nargs = 2 + 4 * count, i, j;
    const char **args = apr_palloc(p, sizeof(*args) * (apr_size_t)nargs), *keys[3];
    size_t *arglen = apr_palloc(p, sizeof(*arglen) * (apr_size_t)nargs);
    redisReply *reply;
    apr_status_t rv;

    if ((rv = redis_group_ok(rs, group, "save_set")) != APR_SUCCESS) {
        return rv;
    }
    keys[0] = redis_dir_key(rs, p, group, NULL);
    keys[1] = redis_dir_key(rs, p, group, name);
    keys[2] = redis_gen_key(rs, p, group);
    args[0] = name;
    args[1] = redis_item_key(rs, p, group, name, "");
    for (i = 0; i < count; i++) {
        const at_store_item_t *it = &items[i];
        char *value;
        apr_size_t vlen;

        for (j = 0; j < i; j++) {
            if (strcmp(items[j].item, it->item) == 0) {
                at_log(AT_LOG_ERR, APR_EEXIST,
                       AT_LOGNO(1313) "store: the set %s/%s names item %s twice",
                       at_store_group_name(group), name, it->item);
                return APR_EEXIST;
            }
        }
        if ((rv = redis_encode(&value, &vlen, rs, p, redis_item_key(rs, p, group, name, it->item),
                               it->data, it->len, it->access)) != APR_SUCCESS) {
            return rv;
        }
        args[2 + 4 * i] = it->item;
        args[3 + 4 * i] = value;
        args[4 + 4 * i] = apr_psprintf(p, "%" APR_SIZE_T_FMT, it->len);
        args[5 + 4 * i] = it->access == AT_STORE_SECRET ? REDIS_ACCESS_SECRET : REDIS_ACCESS_PUBLIC;
        arglen[3 + 4 * i] = vlen;
    }
    for (i = 0; i < nargs; i++) {
        if (i < 2 || (i - 2) % 4 != 1) {
            arglen[i] = strlen(args[i]);
        }
    }
    rv = redis_eval(&reply, rs, p, "save_set", redis_save_set_script, 3, keys, nargs, args, arglen);
    if (rv == APR_SUCCESS && reply->type != REDIS_REPLY_INTEGER) {
        rv = redis_refused(rs, "save_set", keys[1], reply);
    }
    return rv;
}

static apr_status_t redis_path(at_store_t *store, at_store_group_e group, const char *name,
                               const char *item, const char **path, apr_pool_t *p)
{
    return APR_ENOTIMPL;
}

/* Parses an index entry "<kind> <mtime> <size> <access> <version>" into st. */
static int redis_entry_parse(at_store_stat_t *st, const char *entry)
{
    char kind = entry[0];
    char *end;

    if ((kind != REDIS_ENTRY_SET && kind != REDIS_ENTRY_ITEM) || entry[1] != ' ') {
        return 0;
    }
    st->mtime = (apr_time_t)strtoll(entry + 2, &end, 10);
    if (*end != ' ') {
        return 0;
    }
    st->size = (apr_off_t)strtoll(end + 1, &end, 10);
    if (*end != ' ' || (end = strchr(end + 1, ' ')) == NULL) {
        return 0;
    }
    st->version = (apr_uint64_t)strtoull(end + 1, NULL, 10);
    st->exists = 1;
    st->is_set = kind == REDIS_ENTRY_SET;
    return 1;
}

static apr_status_t redis_stat(at_store_t *store, at_store_group_e group, const char *name,
                               const char *item, at_store_stat_t *st, apr_pool_t *p)
{
    redis_store_t *rs = store->impl;
    int of_set = item == NULL;
    const char *key = redis_dir_key(rs, p, group, of_set ? NULL : name);
    const char *argv[3] = {"HGET", key, of_set ? name : item};
    redisReply *reply;
    apr_status_t rv;

    memset(st, 0, sizeof(*st));
    if ((rv = redis_group_ok(rs, group, "stat")) != APR_SUCCESS) {
        return rv;
    }
    if (argv[2] == NULL || argv[2][0] == '\0') {
        return AT_EARG;
    }
    if ((rv = redis_call(&reply, rs, p, "stat", key, 3, argv, NULL)) != APR_SUCCESS) {
        return rv;
    }
    if (reply->type == REDIS_REPLY_NIL) {
        return APR_SUCCESS;
    }
    if (reply->type != REDIS_REPLY_STRING ||
        !redis_entry_parse(st, apr_pstrmemdup(p, reply->str, reply->len))) {
        memset(st, 0, sizeof(*st));
        st->why = "an index entry the store did not write";
        at_log(AT_LOG_ERR, AT_ECORRUPT,
               AT_LOGNO(1314) "store: refusing the entry %s of Redis key %s: %s", argv[2], key,
               st->why);
        return AT_ECORRUPT;
    }
    return APR_SUCCESS;
}

static apr_status_t redis_generation(at_store_t *store, at_store_group_e group, apr_uint64_t *gen,
                                     apr_pool_t *p)
{
    redis_store_t *rs = store->impl;
    const char *key = redis_gen_key(rs, p, group);
    const char *argv[2] = {"GET", key};
    redisReply *reply;
    apr_status_t rv;
    char *end;

    *gen = 0;
    if ((rv = redis_group_ok(rs, group, "generation")) != APR_SUCCESS ||
        (rv = redis_call(&reply, rs, p, "generation", key, 2, argv, NULL)) != APR_SUCCESS) {
        return rv;
    }
    if (reply->type == REDIS_REPLY_NIL) {
        return APR_SUCCESS;
    }
    if (reply->type == REDIS_REPLY_STRING) {
        *gen = (apr_uint64_t)strtoull(apr_pstrmemdup(p, reply->str, reply->len), &end, 10);
        if (*end == '\0' && reply->len > 0) {
            return APR_SUCCESS;
        }
    }
    *gen = 0;
    at_log(AT_LOG_ERR, AT_ECORRUPT,
           AT_LOGNO(1315) "store: refusing Redis key %s: not a generation counter", key);
    return AT_ECORRUPT;
}

/* No .watch: callers poll at_store_generation (at_store_watch gives -1). */
static const at_store_vtable_t redis_vtable = {
    .save = redis_save,
    .load = redis_load,
    .remove = redis_remove,
    .list = redis_list,
    .path = redis_path,
    .purge = redis_purge,
    .save_set = redis_save_set,
    .lock = redis_lock,
    .stat = redis_stat,
    .generation = redis_generation,
    .lease_take = redis_lease_take,
    .lease_renew = redis_lease_renew,
    .lease_release = redis_lease_release,
    .lease_holder = redis_lease_holder,
};

/* Reads the password file: one line, surrounding white space (echo's newline) cut off. */
static apr_status_t redis_read_password(redis_store_t *rs, apr_pool_t *p, const char *path)
{
    const char *why;
    char *data;
    apr_size_t len;
    apr_status_t rv;

    rv = at_secret_file_read(&data, &len, &why, p, path, "the Redis password",
                             AT_STORE_REDIS_PASSWORD_MAX);
    while (rv == APR_SUCCESS && len > 0 && apr_isspace(data[len - 1])) {
        data[--len] = '\0';
    }
    while (rv == APR_SUCCESS && len > 0 && apr_isspace(*data)) {
        data++;
        len--;
    }
    if (rv == APR_SUCCESS && len == 0) {
        why = apr_psprintf(p, "%s (the Redis password) is empty", path);
        rv = AT_EARG;
    }
    if (rv != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1316) "store: AutoTLSStorePasswordFile: %s", why);
        return rv;
    }
    rs->password = data;
    rs->password_len = len;
    return APR_SUCCESS;
}

static int redis_prefix_ok(const char *prefix)
{
    apr_size_t i;

    for (i = 0; prefix[i] != '\0'; i++) {
        if (i >= REDIS_PREFIX_MAX || !apr_isgraph(prefix[i])) {
            return 0;
        }
    }
    return i > 0;
}

/* Checks the configuration and reads its files into rs. */
static apr_status_t redis_configure(redis_store_t *rs, apr_pool_t *p,
                                    const at_store_redis_conf_t *conf)
{
    const char *why;
    at_store_seal_key_t *key;
    apr_status_t rv;

    if ((rv = at_store_redis_url_parse(&rs->url, &why, p, conf->url)) != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1317) "store: AutoTLSStore: %s", why);
        return rv;
    }
    rs->address = apr_psprintf(p, strchr(rs->url.host, ':') ? "[%s]:%d/%d" : "%s:%d/%d",
                               rs->url.host, rs->url.port, rs->url.db);
    if (conf->key_file == NULL) {
        at_log(AT_LOG_ERR, AT_EARG,
               AT_LOGNO(1318) "store: a Redis store (%s) needs AutoTLSStoreKeyFile: private keys "
                              "never go to Redis in clear",
               rs->address);
        return AT_EARG;
    }
    if ((rv = at_store_seal_key_read(&key, &why, p, conf->key_file)) != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1319) "store: AutoTLSStoreKeyFile: %s", why);
        return rv;
    }
    rs->key = key;
    if (rs->url.user != NULL && conf->password_file == NULL) {
        at_log(AT_LOG_ERR, AT_EARG,
               AT_LOGNO(1320) "store: the Redis URL names user %s: give its password in "
                              "AutoTLSStorePasswordFile",
               rs->url.user);
        return AT_EARG;
    }
    if (conf->password_file != NULL &&
        (rv = redis_read_password(rs, p, conf->password_file)) != APR_SUCCESS) {
        return rv;
    }
    rs->prefix = conf->prefix != NULL ? conf->prefix : AT_STORE_REDIS_PREFIX_DEFAULT;
    if (!redis_prefix_ok(rs->prefix)) {
        at_log(AT_LOG_ERR, AT_EARG,
               AT_LOGNO(1321) "store: AutoTLSStorePrefix \"%s\" must be 1-%d printable "
                              "characters without spaces",
               rs->prefix, REDIS_PREFIX_MAX);
        return AT_EARG;
    }
    rs->timeout = conf->timeout > 0 ? conf->timeout : AT_STORE_REDIS_TIMEOUT_DEFAULT;
    return APR_SUCCESS;
}

apr_status_t at_store_redis_open(at_store_t **store, apr_pool_t *p,
                                 const at_store_redis_conf_t *conf)
{
    redis_store_t *rs;
    apr_status_t rv;

    *store = NULL;
    if (conf == NULL) {
        return AT_EARG;
    }
    rs = apr_pcalloc(p, sizeof(*rs));
    if ((rv = redis_configure(rs, p, conf)) != APR_SUCCESS) {
        return rv;
    }
    apr_pool_cleanup_register(p, rs, redis_disconnect, apr_pool_cleanup_null);
    *store = apr_pcalloc(p, sizeof(**store));
    (*store)->vt = &redis_vtable;
    (*store)->impl = rs;
    return APR_SUCCESS;
}

apr_status_t at_store_redis_clone(at_store_t **store, apr_pool_t *p, const at_store_t *like)
{
    const redis_store_t *from;
    redis_store_t *rs;

    *store = NULL;
    if (like == NULL || like->vt != &redis_vtable) {
        return AT_EARG;
    }
    from = like->impl;
    rs = apr_pcalloc(p, sizeof(*rs));
    rs->url = from->url;
    rs->address = from->address;
    rs->password = from->password;
    rs->password_len = from->password_len;
    rs->key = from->key;
    rs->prefix = from->prefix;
    rs->timeout = from->timeout;
    apr_pool_cleanup_register(p, rs, redis_disconnect, apr_pool_cleanup_null);
    *store = apr_pcalloc(p, sizeof(**store));
    (*store)->vt = &redis_vtable;
    (*store)->impl = rs;
    return APR_SUCCESS;
}

int at_store_redis_is(const at_store_t *store)
{
    return store != NULL && store->vt == &redis_vtable;
}

apr_status_t at_store_redis_ping(at_store_t *store)
{
    redis_store_t *rs = store->impl;
    const char *argv[1] = {"PING"};
    redisReply *reply;
    apr_pool_t *p;
    apr_status_t rv;

    if (store->vt != &redis_vtable) {
        return AT_EARG;
    }
    apr_pool_create(&p, NULL);
    rv = redis_call(&reply, rs, p, "PING", "", 1, argv, NULL);
    apr_pool_destroy(p);
    return rv;
}

/* The Redis store behind store, or NULL for another backend (store_redis_internal.h). */
redis_store_t *redis_store_of(at_store_t *store)
{
    return store != NULL && store->vt == &redis_vtable ? store->impl : NULL;
}

const char *at_store_redis_item_key(at_store_t *store, at_store_group_e group, const char *name,
                                    const char *item, apr_pool_t *p)
{
    if (store == NULL || store->vt != &redis_vtable) {
        return NULL;
    }
    return redis_item_key(store->impl, p, group, name, item);
}
