/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_store_redis.c: the Redis store against a real redis-server this test starts itself on a
 * free loopback port (no persistence, a temp dir), stopped by pid.
 *
 * The one idea: every assertion looks at what a reader gets back or at the raw value in Redis
 * (read with hiredis, around the store): secrets are sealed there, sets appear whole, a planted
 * value is refused with its key named, and a Redis that goes away costs an error, not a hang or
 * a crash. Without redis-server the test is skipped (exit 77), never passed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_strings.h>
#include <hiredis/hiredis.h>

#include "redis_fixture.h"
#include "unit_main.h"
#include "at_core.h"
#include "at_store.h"
#include "at_store_redis.h"
#include "at_store_seal.h"

#define TEST_LOG_MAX (64 * 1024)
#define TEST_TIMEOUT_SHORT apr_time_from_msec(300)
#define FAST_FAILURE apr_time_from_msec(1500)
#define SET_ROUNDS 40
#define SET_ITEM_SIZE (64 * 1024)
#define KEY_BYTE 0x42
#define PEM_KEY                                                                                    \
    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49\n-----END PRIVATE KEY-----\n"
#define PEM_CERT "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n"

/* The shared server's port, started once by main (the tests fork from it). */
static int server_port;

static apr_pool_t *pool;
static char tmpdir[256];
static const char *key_file;
static at_store_t *store;
static char log_text[TEST_LOG_MAX];
static int log_lines;

/* ---- raw access, around the store ---------------------------------------------------------- */

static void raw_ok(const char *fmt, const char *a, const char *b, apr_size_t blen)
{
    redisReply *r = raw(server_port, fmt, a, b, blen);

    ck_assert_int_ne(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
}

/* The raw value of an item's Redis key (from pool), NULL when missing. */
static char *raw_get(const char *key, apr_size_t *len)
{
    redisReply *r = raw(server_port, "GET %s", key);
    char *v = NULL;

    if (r->type == REDIS_REPLY_STRING) {
        v = apr_pstrmemdup(pool, r->str, r->len);
        *len = r->len;
    }
    freeReplyObject(r);
    return v;
}

/* ---- fixture -------------------------------------------------------------------------------- */

static void capture_log(void *baton, at_log_level_e level, apr_status_t rv, const char *msg)
{
    apr_size_t n = strlen(log_text);

    snprintf(log_text + n, sizeof(log_text) - n, "%s\n", msg);
    log_lines++;
}

static void reset_log(void)
{
    log_text[0] = '\0';
    log_lines = 0;
}

static const char *write_file(const char *name, const void *data, apr_size_t len, mode_t mode)
{
    const char *path = apr_pstrcat(pool, tmpdir, "/", name, NULL);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    ck_assert_int_eq(fchmod(fd, mode), 0);
    close(fd);
    return path;
}

static const char *make_key_file(const char *name, unsigned char byte)
{
    unsigned char bytes[AT_STORE_SEAL_KEY_LEN];

    memset(bytes, byte, sizeof(bytes));
    return write_file(name, bytes, sizeof(bytes), 0600);
}

static at_store_t *open_store_at(int port, const char *key, const char *password_file,
                                 apr_interval_time_t timeout)
{
    at_store_redis_conf_t conf = {0};
    at_store_t *s = NULL;

    conf.url = apr_psprintf(pool, "redis://127.0.0.1:%d", port);
    conf.key_file = key;
    conf.password_file = password_file;
    conf.timeout = timeout;
    ck_assert_int_eq(at_store_redis_open(&s, pool, &conf), APR_SUCCESS);
    return s;
}

static void setup(void)
{
    redisReply *r;

    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_store_redis.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    key_file = make_key_file("store.key", KEY_BYTE);
    r = raw(server_port, "FLUSHALL");
    freeReplyObject(r);
    reset_log();
    at_log_set(capture_log, NULL, AT_LOG_DEBUG);
    store = open_store_at(server_port, key_file, NULL, 0);
}

static void teardown(void)
{
    char cmd[300];

    at_log_set(NULL, NULL, AT_LOG_ERR);
    apr_pool_destroy(pool);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static void save(at_store_group_e group, const char *name, const char *item, const char *text,
                 at_store_access_e access)
{
    ck_assert_int_eq(at_store_save(store, group, name, item, text, strlen(text), access, pool),
                     APR_SUCCESS);
}

static apr_status_t load(at_store_t *s, at_store_group_e group, const char *name, const char *item,
                         at_store_access_e access, char **out)
{
    apr_size_t len;

    *out = NULL;
    return at_store_load(s, group, name, item, out, &len, access, pool);
}

static const char *joined(apr_array_header_t *a)
{
    return apr_array_pstrcat(pool, a, ',');
}

static const char *list(at_store_group_e group, const char *name)
{
    apr_array_header_t *entries;

    ck_assert_int_eq(at_store_list(store, group, name, &entries, pool), APR_SUCCESS);
    return joined(entries);
}

static apr_uint64_t generation(at_store_group_e group)
{
    apr_uint64_t gen = 0;

    ck_assert_int_eq(at_store_generation(store, group, &gen, pool), APR_SUCCESS);
    return gen;
}

static const at_store_item_t test_set[] = {
    {"privkey.pem", PEM_KEY, sizeof(PEM_KEY) - 1, AT_STORE_SECRET},
    {"fullchain.pem", PEM_CERT, sizeof(PEM_CERT) - 1, AT_STORE_PUBLIC},
    {"meta.json", "{}", 2, AT_STORE_PUBLIC},
};
#define TEST_SET_COUNT 3

/* ---- items ------------------------------------------------------------------------------------
 */

START_TEST(test_save_and_load_round_trip_public_and_secret)
{
    char *out;

    save(AT_STORE_ACCOUNTS, "ca", "account.key", PEM_KEY, AT_STORE_SECRET);
    save(AT_STORE_ACCOUNTS, "ca", "account.json", "{\"a\":1}", AT_STORE_PUBLIC);
    save(AT_STORE_JOBS, NULL, "example.org.json", "{}", AT_STORE_PUBLIC);
    ck_assert_int_eq(load(store, AT_STORE_ACCOUNTS, "ca", "account.key", AT_STORE_SECRET, &out),
                     APR_SUCCESS);
    ck_assert_str_eq(out, PEM_KEY);
    ck_assert_int_eq(load(store, AT_STORE_ACCOUNTS, "ca", "account.json", AT_STORE_PUBLIC, &out),
                     APR_SUCCESS);
    ck_assert_str_eq(out, "{\"a\":1}");
    ck_assert_int_eq(load(store, AT_STORE_JOBS, "", "example.org.json", AT_STORE_PUBLIC, &out),
                     APR_SUCCESS);
    ck_assert_str_eq(out, "{}");
    /* Replaced whole. */
    save(AT_STORE_ACCOUNTS, "ca", "account.json", "{}", AT_STORE_PUBLIC);
    ck_assert_int_eq(load(store, AT_STORE_ACCOUNTS, "ca", "account.json", AT_STORE_PUBLIC, &out),
                     APR_SUCCESS);
    ck_assert_str_eq(out, "{}");
    ck_assert_int_eq(load(store, AT_STORE_ACCOUNTS, "ca", "none", AT_STORE_PUBLIC, &out),
                     APR_ENOENT);
}
END_TEST

START_TEST(test_secret_in_redis_is_sealed_not_pem_and_holds_no_key_bytes)
{
    unsigned char key_bytes[AT_STORE_SEAL_KEY_LEN];
    const char *key = at_store_redis_item_key(store, AT_STORE_ACCOUNTS, "ca", "account.key", pool);
    char *v;
    apr_size_t len = 0;

    save(AT_STORE_ACCOUNTS, "ca", "account.key", PEM_KEY, AT_STORE_SECRET);
    ck_assert_str_eq(key, "autotls:item:accounts/ca/account.key");
    v = raw_get(key, &len);
    ck_assert_ptr_nonnull(v);
    ck_assert(at_store_seal_is_sealed(v, len));
    ck_assert_ptr_null(memmem(v, len, "-----BEGIN", 10));
    ck_assert_ptr_null(memmem(v, len, "MIGHAgEA", 8));
    memset(key_bytes, KEY_BYTE, sizeof(key_bytes));
    ck_assert_ptr_null(memmem(v, len, key_bytes, 8));
    /* The public item is framed, in clear after its header. */
    save(AT_STORE_ACCOUNTS, "ca", "account.json", "{}", AT_STORE_PUBLIC);
    v = raw_get(at_store_redis_item_key(store, AT_STORE_ACCOUNTS, "ca", "account.json", pool),
                &len);
    ck_assert_int_eq(memcmp(v, "ATPB", 4), 0);
    ck_assert_ptr_nonnull(memmem(v, len, "{}", 2));
}
END_TEST

START_TEST(test_remove_deletes_and_missing_is_success)
{
    char *out;

    save(AT_STORE_CHALLENGES, NULL, "tok", "auth", AT_STORE_PUBLIC);
    ck_assert_str_eq(list(AT_STORE_CHALLENGES, NULL), "tok");
    ck_assert_int_eq(at_store_remove(store, AT_STORE_CHALLENGES, NULL, "tok", pool), APR_SUCCESS);
    ck_assert_int_eq(load(store, AT_STORE_CHALLENGES, NULL, "tok", AT_STORE_PUBLIC, &out),
                     APR_ENOENT);
    ck_assert_str_eq(list(AT_STORE_CHALLENGES, NULL), "");
    ck_assert_int_eq(at_store_remove(store, AT_STORE_CHALLENGES, NULL, "tok", pool), APR_SUCCESS);
    ck_assert_int_eq(at_store_remove(store, AT_STORE_JOBS, "none", "x", pool), APR_SUCCESS);
}
END_TEST

START_TEST(test_list_is_sorted_and_missing_is_empty)
{
    save(AT_STORE_JOBS, NULL, "b.json", "{}", AT_STORE_PUBLIC);
    save(AT_STORE_JOBS, NULL, "a.json", "{}", AT_STORE_PUBLIC);
    save(AT_STORE_ACCOUNTS, "ca2", "account.json", "{}", AT_STORE_PUBLIC);
    save(AT_STORE_ACCOUNTS, "ca1", "account.key", PEM_KEY, AT_STORE_SECRET);
    save(AT_STORE_ACCOUNTS, "ca1", "account.json", "{}", AT_STORE_PUBLIC);
    ck_assert_str_eq(list(AT_STORE_JOBS, NULL), "a.json,b.json");
    ck_assert_str_eq(list(AT_STORE_ACCOUNTS, NULL), "ca1,ca2");
    ck_assert_str_eq(list(AT_STORE_ACCOUNTS, "ca1"), "account.json,account.key");
    ck_assert_str_eq(list(AT_STORE_STAGING, NULL), "");
    ck_assert_str_eq(list(AT_STORE_ACCOUNTS, "none"), "");
}
END_TEST

START_TEST(test_live_and_archive_are_never_in_redis_and_path_is_not_implemented)
{
    const char *path = NULL;
    apr_array_header_t *entries;
    char *out;

    ck_assert_int_eq(
        at_store_save(store, AT_STORE_LIVE, "site", "privkey.pem", "k", 1, AT_STORE_SECRET, pool),
        AT_EARG);
    ck_assert_ptr_nonnull(strstr(log_text, "never kept in Redis"));
    ck_assert_int_eq(load(store, AT_STORE_ARCHIVE, "site", "x", AT_STORE_PUBLIC, &out), AT_EARG);
    ck_assert_int_eq(at_store_list(store, AT_STORE_LIVE, NULL, &entries, pool), AT_EARG);
    ck_assert_int_eq(
        at_store_save_set(store, AT_STORE_LIVE, "site", test_set, TEST_SET_COUNT, pool), AT_EARG);
    ck_assert_int_eq(at_store_path(store, AT_STORE_LIVE, "site", "x", &path, pool), APR_ENOTIMPL);
    ck_assert_int_eq(at_store_list(store, AT_STORE_LEASES, NULL, &entries, pool), AT_EARG);
    ck_assert_ptr_null(raw_get("autotls:item:live/site/privkey.pem", &(apr_size_t){0}));
}
END_TEST

START_TEST(test_oversize_value_in_redis_is_too_large)
{
    apr_size_t big = at_store_item_max(AT_STORE_JOBS) + AT_STORE_SEAL_OVERHEAD + 1;
    char *data = apr_pcalloc(pool, big), *out;

    raw_ok("SET %s %b", "autotls:item:jobs/big.json", data, big);
    ck_assert_int_eq(load(store, AT_STORE_JOBS, NULL, "big.json", AT_STORE_PUBLIC, &out),
                     AT_ETOOLARGE);
    ck_assert_ptr_nonnull(strstr(log_text, "autotls:item:jobs/big.json"));
}
END_TEST

/* ---- sets -------------------------------------------------------------------------------------
 */

START_TEST(test_save_set_appears_whole_and_an_existing_set_is_refused)
{
    char *out;
    const at_store_item_t twice[] = {{"a", "1", 1, AT_STORE_PUBLIC},
                                     {"a", "2", 1, AT_STORE_PUBLIC}};

    ck_assert_int_eq(
        at_store_save_set(store, AT_STORE_STAGING, "site", test_set, TEST_SET_COUNT, pool),
        APR_SUCCESS);
    ck_assert_str_eq(list(AT_STORE_STAGING, NULL), "site");
    ck_assert_str_eq(list(AT_STORE_STAGING, "site"), "fullchain.pem,meta.json,privkey.pem");
    ck_assert_int_eq(load(store, AT_STORE_STAGING, "site", "privkey.pem", AT_STORE_SECRET, &out),
                     APR_SUCCESS);
    ck_assert_str_eq(out, PEM_KEY);
    ck_assert_int_eq(load(store, AT_STORE_STAGING, "site", "fullchain.pem", AT_STORE_PUBLIC, &out),
                     APR_SUCCESS);
    ck_assert_str_eq(out, PEM_CERT);
    ck_assert_int_eq(at_store_save_set(store, AT_STORE_STAGING, "site", twice, 1, pool),
                     APR_EEXIST);
    ck_assert_str_eq(list(AT_STORE_STAGING, "site"), "fullchain.pem,meta.json,privkey.pem");
    ck_assert_int_ne(at_store_save_set(store, AT_STORE_STAGING, "other", twice, 2, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(list(AT_STORE_STAGING, NULL), "site");
}
END_TEST

/* A reader in another process never sees a set with some of its items. */
START_TEST(test_save_set_is_atomic_for_a_concurrent_reader)
{
    char *big = apr_palloc(pool, SET_ITEM_SIZE);
    at_store_item_t items[TEST_SET_COUNT];
    int round, status, i;
    pid_t reader;

    memset(big, 'x', SET_ITEM_SIZE);
    for (i = 0; i < TEST_SET_COUNT; i++) {
        items[i] = test_set[i];
        items[i].data = big;
        items[i].len = SET_ITEM_SIZE;
    }
    reader = fork();
    if (reader == 0) {
        apr_pool_t *rp;
        at_store_t *rs;
        apr_array_header_t *names, *its;
        int torn = 0, seen = 0, n;

        apr_pool_create(&rp, NULL);
        rs = open_store_at(server_port, key_file, NULL, 0);
        for (n = 0; n < 4000 && seen < SET_ROUNDS / 2; n++) {
            if (at_store_list(rs, AT_STORE_STAGING, NULL, &names, rp) != APR_SUCCESS) {
                _exit(3);
            }
            for (i = 0; i < names->nelts; i++) {
                at_store_list(rs, AT_STORE_STAGING, APR_ARRAY_IDX(names, i, const char *), &its,
                              rp);
                /* A set purged between the two listings is gone whole (0 items), never part. */
                torn += its->nelts != 0 && its->nelts != TEST_SET_COUNT;
                seen++;
            }
            apr_pool_clear(rp);
        }
        _exit(torn == 0 ? 0 : 2);
    }
    for (round = 0; round < SET_ROUNDS; round++) {
        const char *name = apr_psprintf(pool, "site%d", round);
        const char *names[TEST_SET_COUNT] = {"privkey.pem", "fullchain.pem", "meta.json"};

        ck_assert_int_eq(
            at_store_save_set(store, AT_STORE_STAGING, name, items, TEST_SET_COUNT, pool),
            APR_SUCCESS);
        if (round % 2) {
            ck_assert_int_eq(
                at_store_purge_items(store, AT_STORE_STAGING, name, names, TEST_SET_COUNT, pool),
                APR_SUCCESS);
        }
    }
    ck_assert_int_eq(waitpid(reader, &status, 0), reader);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

START_TEST(test_purge_with_items_removes_the_set_and_without_keeps_a_full_one)
{
    const char *some[] = {"privkey.pem", "fullchain.pem"};
    char *out;

    ck_assert_int_eq(
        at_store_save_set(store, AT_STORE_STAGING, "site", test_set, TEST_SET_COUNT, pool),
        APR_SUCCESS);
    /* Untold: a full set stays, one log line. */
    ck_assert_int_ne(at_store_purge(store, AT_STORE_STAGING, "site", pool), APR_SUCCESS);
    ck_assert_str_eq(list(AT_STORE_STAGING, "site"), "fullchain.pem,meta.json,privkey.pem");
    /* Told of two: those and the one nobody named go (logged), and the name is free again. */
    reset_log();
    ck_assert_int_eq(at_store_purge_items(store, AT_STORE_STAGING, "site", some, 2, pool),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(log_text, "meta.json"));
    ck_assert_str_eq(list(AT_STORE_STAGING, NULL), "");
    ck_assert_int_eq(load(store, AT_STORE_STAGING, "site", "meta.json", AT_STORE_PUBLIC, &out),
                     APR_ENOENT);
    ck_assert_int_eq(
        at_store_save_set(store, AT_STORE_STAGING, "site", test_set, TEST_SET_COUNT, pool),
        APR_SUCCESS);
    /* Nothing there: success. An emptied set goes without items named. */
    ck_assert_int_eq(at_store_purge(store, AT_STORE_STAGING, "none", pool), APR_SUCCESS);
    save(AT_STORE_ACCOUNTS, "ca", "x", "1", AT_STORE_PUBLIC);
    ck_assert_int_eq(at_store_remove(store, AT_STORE_ACCOUNTS, "ca", "x", pool), APR_SUCCESS);
    ck_assert_str_eq(list(AT_STORE_ACCOUNTS, NULL), "ca");
    ck_assert_int_eq(at_store_purge(store, AT_STORE_ACCOUNTS, "ca", pool), APR_SUCCESS);
    ck_assert_str_eq(list(AT_STORE_ACCOUNTS, NULL), "");
}
END_TEST

/* ---- stat and generation ----------------------------------------------------------------------
 */

START_TEST(test_stat_tells_items_sets_and_missing)
{
    apr_time_t before = apr_time_now() - apr_time_from_sec(5);
    at_store_stat_t st;
    apr_uint64_t version;

    save(AT_STORE_ACCOUNTS, "ca", "account.key", PEM_KEY, AT_STORE_SECRET);
    ck_assert_int_eq(at_store_stat(store, AT_STORE_ACCOUNTS, "ca", "account.key", &st, pool),
                     APR_SUCCESS);
    ck_assert(st.exists && !st.is_set);
    ck_assert_int_eq(st.size, (apr_off_t)strlen(PEM_KEY));
    ck_assert(st.mtime > before && st.mtime < apr_time_now() + apr_time_from_sec(5));
    version = st.version;
    save(AT_STORE_ACCOUNTS, "ca", "account.key", "x", AT_STORE_SECRET);
    ck_assert_int_eq(at_store_stat(store, AT_STORE_ACCOUNTS, "ca", "account.key", &st, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(st.size, 1);
    ck_assert(st.version != version);
    ck_assert_int_eq(at_store_stat(store, AT_STORE_ACCOUNTS, "ca", NULL, &st, pool), APR_SUCCESS);
    ck_assert(st.exists && st.is_set);
    ck_assert_int_eq(at_store_stat(store, AT_STORE_ACCOUNTS, "nope", NULL, &st, pool), APR_SUCCESS);
    ck_assert(!st.exists);
    ck_assert_int_eq(at_store_stat(store, AT_STORE_ACCOUNTS, "ca", "nope", &st, pool), APR_SUCCESS);
    ck_assert(!st.exists);
    ck_assert_int_eq(
        at_store_save_set(store, AT_STORE_STAGING, "site", test_set, TEST_SET_COUNT, pool),
        APR_SUCCESS);
    ck_assert_int_eq(at_store_stat(store, AT_STORE_STAGING, "site", NULL, &st, pool), APR_SUCCESS);
    ck_assert(st.exists && st.is_set);
    ck_assert_int_eq(at_store_stat(store, AT_STORE_STAGING, "../x", NULL, &st, pool), AT_EARG);
}
END_TEST

START_TEST(test_generation_moves_with_every_write_and_only_then)
{
    const char *items[] = {"privkey.pem"};
    apr_uint64_t g0 = generation(AT_STORE_STAGING), g, jobs0 = generation(AT_STORE_JOBS);
    char *out;

    ck_assert_int_eq(g0, 0);
    ck_assert_int_eq(
        at_store_save_set(store, AT_STORE_STAGING, "site", test_set, TEST_SET_COUNT, pool),
        APR_SUCCESS);
    ck_assert((g = generation(AT_STORE_STAGING)) > g0);
    ck_assert_int_eq(load(store, AT_STORE_STAGING, "site", "privkey.pem", AT_STORE_SECRET, &out),
                     APR_SUCCESS);
    list(AT_STORE_STAGING, NULL);
    ck_assert_int_eq(generation(AT_STORE_STAGING), g);
    save(AT_STORE_STAGING, "site", "extra", "1", AT_STORE_PUBLIC);
    ck_assert(generation(AT_STORE_STAGING) > g);
    g = generation(AT_STORE_STAGING);
    ck_assert_int_eq(at_store_remove(store, AT_STORE_STAGING, "site", "extra", pool), APR_SUCCESS);
    ck_assert(generation(AT_STORE_STAGING) > g);
    g = generation(AT_STORE_STAGING);
    ck_assert_int_eq(at_store_purge_items(store, AT_STORE_STAGING, "site", items, 1, pool),
                     APR_SUCCESS);
    ck_assert(generation(AT_STORE_STAGING) > g);
    ck_assert_int_eq(generation(AT_STORE_JOBS), jobs0);
}
END_TEST

/* ---- leases and locks -------------------------------------------------------------------------
 */

START_TEST(test_lease_contention_between_two_stores)
{
    at_store_t *b = open_store_at(server_port, key_file, NULL, 0);
    apr_interval_time_t ttl = apr_time_from_sec(30);
    apr_time_t expires;
    char *token;

    ck_assert_int_eq(at_store_lease_holder(store, "site", &token, &expires, pool), APR_ENOENT);
    ck_assert_int_eq(at_store_lease_take(store, "site", "tokenA", ttl, pool), APR_SUCCESS);
    ck_assert_int_eq(at_store_lease_take(b, "site", "tokenB", ttl, pool), AT_EBUSY);
    ck_assert_int_eq(at_store_lease_renew(b, "site", "tokenB", ttl, pool), AT_ELOST);
    ck_assert_int_eq(at_store_lease_take(store, "site", "tokenA", ttl, pool), APR_SUCCESS);
    ck_assert_int_eq(at_store_lease_renew(store, "site", "tokenA", ttl, pool), APR_SUCCESS);
    /* B's release drops nothing of A's. */
    ck_assert_int_eq(at_store_lease_release(b, "site", "tokenB", pool), APR_SUCCESS);
    ck_assert_int_eq(at_store_lease_holder(b, "site", &token, &expires, pool), APR_SUCCESS);
    ck_assert_str_eq(token, "tokenA");
    ck_assert(expires > apr_time_now() + apr_time_from_sec(20));
    ck_assert_int_eq(at_store_lease_release(store, "site", "tokenA", pool), APR_SUCCESS);
    ck_assert_int_eq(at_store_lease_holder(b, "site", &token, &expires, pool), APR_ENOENT);
    ck_assert_int_eq(at_store_lease_take(b, "site", "tokenB", ttl, pool), APR_SUCCESS);
    ck_assert_int_eq(at_store_lease_take(store, "other", "tokenA", ttl, pool), APR_SUCCESS);
}
END_TEST

START_TEST(test_lease_expires_and_its_holder_learns_it_lost)
{
    at_store_t *b = open_store_at(server_port, key_file, NULL, 0);
    char *token;
    apr_time_t expires;

    ck_assert_int_eq(at_store_lease_take(store, "site", "tokenA", apr_time_from_msec(100), pool),
                     APR_SUCCESS);
    ck_assert_int_eq(at_store_lease_take(b, "site", "tokenB", apr_time_from_sec(30), pool),
                     AT_EBUSY);
    apr_sleep(apr_time_from_msec(250));
    ck_assert_int_eq(at_store_lease_holder(b, "site", &token, &expires, pool), APR_ENOENT);
    ck_assert_int_eq(at_store_lease_take(b, "site", "tokenB", apr_time_from_sec(30), pool),
                     APR_SUCCESS);
    ck_assert_int_eq(at_store_lease_renew(store, "site", "tokenA", apr_time_from_sec(30), pool),
                     AT_ELOST);
    ck_assert_int_eq(at_store_lease_holder(store, "site", &token, &expires, pool), APR_SUCCESS);
    ck_assert_str_eq(token, "tokenB");
}
END_TEST

START_TEST(test_group_lock_is_exclusive_until_its_pool_is_cleared)
{
    at_store_t *b = open_store_at(server_port, key_file, NULL, 0);
    apr_pool_t *held;

    apr_pool_create(&held, pool);
    ck_assert_int_eq(at_store_lock(store, AT_STORE_JOBS, held), APR_SUCCESS);
    ck_assert_int_eq(at_store_lock(b, AT_STORE_JOBS, pool), APR_EAGAIN);
    ck_assert_int_eq(at_store_lock(b, AT_STORE_STAGING, pool), APR_SUCCESS);
    apr_pool_destroy(held);
    ck_assert_int_eq(at_store_lock(b, AT_STORE_JOBS, pool), APR_SUCCESS);
}
END_TEST

/* ---- what is not ours -------------------------------------------------------------------------
 */

START_TEST(test_planted_foreign_and_corrupt_values_are_refused_with_their_key_named)
{
    const char *key = at_store_redis_item_key(store, AT_STORE_STAGING, "site", "privkey.pem", pool);
    const char *cert =
        at_store_redis_item_key(store, AT_STORE_STAGING, "site", "fullchain.pem", pool);
    char *out, *v;
    apr_size_t len;

    /* A private key planted in clear: never taken. */
    raw_ok("SET %s %b", key, PEM_KEY, strlen(PEM_KEY));
    ck_assert_int_eq(load(store, AT_STORE_STAGING, "site", "privkey.pem", AT_STORE_SECRET, &out),
                     AT_ECORRUPT);
    ck_assert_ptr_null(out);
    ck_assert_ptr_nonnull(strstr(log_text, key));
    /* A public item that is not ours. */
    raw_ok("SET %s %b", cert, PEM_CERT, strlen(PEM_CERT));
    ck_assert_int_eq(load(store, AT_STORE_STAGING, "site", "fullchain.pem", AT_STORE_PUBLIC, &out),
                     AT_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(log_text, cert));
    /* A sealed value moved from another site's key. */
    save(AT_STORE_STAGING, "other", "privkey.pem", PEM_KEY, AT_STORE_SECRET);
    v = raw_get(at_store_redis_item_key(store, AT_STORE_STAGING, "other", "privkey.pem", pool),
                &len);
    raw_ok("SET %s %b", key, v, len);
    reset_log();
    ck_assert_int_eq(load(store, AT_STORE_STAGING, "site", "privkey.pem", AT_STORE_SECRET, &out),
                     AT_ECRYPTO);
    ck_assert_ptr_null(out);
    ck_assert_ptr_nonnull(strstr(log_text, key));
    ck_assert_ptr_nonnull(strstr(log_text, "another key name"));
    /* A flipped bit in a public item, a public item moved elsewhere. */
    save(AT_STORE_STAGING, "other", "fullchain.pem", PEM_CERT, AT_STORE_PUBLIC);
    v = raw_get(at_store_redis_item_key(store, AT_STORE_STAGING, "other", "fullchain.pem", pool),
                &len);
    raw_ok("SET %s %b", cert, v, len);
    ck_assert_int_eq(load(store, AT_STORE_STAGING, "site", "fullchain.pem", AT_STORE_PUBLIC, &out),
                     AT_ECORRUPT);
    v[len - 3] ^= 1;
    raw_ok("SET %s %b",
           at_store_redis_item_key(store, AT_STORE_STAGING, "other", "fullchain.pem", pool), v,
           len);
    ck_assert_int_eq(load(store, AT_STORE_STAGING, "other", "fullchain.pem", AT_STORE_PUBLIC, &out),
                     AT_ECORRUPT);
    /* Each kind read as the other. */
    save(AT_STORE_STAGING, "third", "a", "x", AT_STORE_PUBLIC);
    save(AT_STORE_STAGING, "third", "b", "x", AT_STORE_SECRET);
    ck_assert_int_eq(load(store, AT_STORE_STAGING, "third", "a", AT_STORE_SECRET, &out),
                     AT_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(log_text, "stored in clear"));
    ck_assert_int_eq(load(store, AT_STORE_STAGING, "third", "b", AT_STORE_PUBLIC, &out),
                     AT_ECORRUPT);
    /* Another type of value under our key. */
    freeReplyObject(raw(server_port, "DEL %s", key));
    raw_ok("HSET %s f %b", key, "v", 1);
    ck_assert_int_eq(load(store, AT_STORE_STAGING, "site", "privkey.pem", AT_STORE_SECRET, &out),
                     AT_ECORRUPT);
}
END_TEST

START_TEST(test_a_node_with_another_key_cannot_open_secrets)
{
    at_store_t *b = open_store_at(server_port, make_key_file("other.key", KEY_BYTE + 1), NULL, 0);
    char *out;

    save(AT_STORE_ACCOUNTS, "ca", "account.key", PEM_KEY, AT_STORE_SECRET);
    reset_log();
    ck_assert_int_eq(load(b, AT_STORE_ACCOUNTS, "ca", "account.key", AT_STORE_SECRET, &out),
                     AT_ECRYPTO);
    ck_assert_ptr_null(out);
    ck_assert_ptr_nonnull(strstr(log_text, "every node needs the same key"));
}
END_TEST

/* ---- configuration ----------------------------------------------------------------------------
 */

START_TEST(test_url_forms_accepted_and_refused_with_a_reason)
{
    at_store_redis_url_t url;
    const char *why;

    ck_assert_int_eq(at_store_redis_url_parse(&url, &why, pool, "redis://127.0.0.1:6379"),
                     APR_SUCCESS);
    ck_assert_str_eq(url.host, "127.0.0.1");
    ck_assert_int_eq(url.port, 6379);
    ck_assert_int_eq(url.db, 0);
    ck_assert_ptr_null(url.user);
    ck_assert_int_eq(at_store_redis_url_parse(&url, &why, pool, "redis://fleet@redis.lan:7000/3"),
                     APR_SUCCESS);
    ck_assert_str_eq(url.user, "fleet");
    ck_assert_str_eq(url.host, "redis.lan");
    ck_assert_int_eq(url.port, 7000);
    ck_assert_int_eq(url.db, 3);
    ck_assert_int_eq(at_store_redis_url_parse(&url, &why, pool, "redis://[::1]:6379/1"),
                     APR_SUCCESS);
    ck_assert_str_eq(url.host, "::1");
    ck_assert_int_eq(at_store_redis_url_parse(&url, &why, pool, "rediss://h:6379"), AT_EARG);
    ck_assert_ptr_nonnull(strstr(why, "TLS"));
    ck_assert_int_eq(at_store_redis_url_parse(&url, &why, pool, "redis://u:secret@h:6379"),
                     AT_EARG);
    ck_assert_ptr_nonnull(strstr(why, "AutoTLSStorePasswordFile"));
    ck_assert_ptr_null(strstr(why, "secret@"));
    ck_assert_int_eq(at_store_redis_url_parse(&url, &why, pool, "redis://h"), AT_EARG);
    ck_assert_ptr_nonnull(strstr(why, "port"));
    ck_assert_int_eq(at_store_redis_url_parse(&url, &why, pool, "redis://h:0"), AT_EARG);
    ck_assert_int_eq(at_store_redis_url_parse(&url, &why, pool, "redis://h:65536"), AT_EARG);
    ck_assert_int_eq(at_store_redis_url_parse(&url, &why, pool, "redis://h:6379/x"), AT_EARG);
    ck_assert_int_eq(at_store_redis_url_parse(&url, &why, pool, "redis://h:6379?db=1"), AT_EARG);
    ck_assert_int_eq(at_store_redis_url_parse(&url, &why, pool, "unix:///run/redis.sock"), AT_EARG);
    ck_assert_int_eq(at_store_redis_url_parse(&url, &why, pool, "redis://:6379"), AT_EARG);
    ck_assert(at_store_redis_url_is_redis("redis://h:1"));
    ck_assert(!at_store_redis_url_is_redis("/var/lib/apache2/autotls"));
}
END_TEST

START_TEST(test_open_refuses_missing_key_bad_files_and_user_without_password)
{
    at_store_redis_conf_t conf = {0};
    at_store_t *s;

    conf.url = apr_psprintf(pool, "redis://127.0.0.1:%d", server_port);
    ck_assert_int_eq(at_store_redis_open(&s, pool, &conf), AT_EARG);
    ck_assert_ptr_nonnull(strstr(log_text, "AutoTLSStoreKeyFile"));
    conf.key_file = write_file("open.key", "0123456789abcdef0123456789abcdef", 32, 0644);
    ck_assert_int_eq(at_store_redis_open(&s, pool, &conf), AT_EMODE);
    conf.key_file = key_file;
    conf.password_file = write_file("open.pw", "pw\n", 3, 0640);
    ck_assert_int_eq(at_store_redis_open(&s, pool, &conf), AT_EMODE);
    conf.password_file = NULL;
    conf.url = apr_psprintf(pool, "redis://fleet@127.0.0.1:%d", server_port);
    ck_assert_int_eq(at_store_redis_open(&s, pool, &conf), AT_EARG);
    conf.url = "rediss://127.0.0.1:6379";
    ck_assert_int_eq(at_store_redis_open(&s, pool, &conf), AT_EARG);
}
END_TEST

/* ---- Redis away -------------------------------------------------------------------------------
 */

START_TEST(test_unreachable_redis_fails_fast)
{
    at_store_t *s = open_store_at(free_port(), key_file, NULL, TEST_TIMEOUT_SHORT);
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    apr_time_t start = apr_time_now();
    char *out;
    int hole;

    ck_assert_int_eq(load(s, AT_STORE_JOBS, NULL, "x", AT_STORE_PUBLIC, &out), APR_ECONNREFUSED);
    ck_assert(apr_time_now() - start < FAST_FAILURE);
    /* A listener that never answers: the command timeout ends the wait. */
    hole = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(hole, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(hole, 4), 0);
    ck_assert_int_eq(getsockname(hole, (struct sockaddr *)&a, &alen), 0);
    s = open_store_at(ntohs(a.sin_port), key_file, NULL, TEST_TIMEOUT_SHORT);
    start = apr_time_now();
    ck_assert_int_eq(load(s, AT_STORE_JOBS, NULL, "x", AT_STORE_PUBLIC, &out), APR_TIMEUP);
    ck_assert(apr_time_now() - start < FAST_FAILURE);
    close(hole);
}
END_TEST

static int count_in_log(const char *needle)
{
    const char *at = log_text;
    int n = 0;

    while ((at = strstr(at, needle)) != NULL) {
        n++;
        at += strlen(needle);
    }
    return n;
}

START_TEST(test_redis_stopped_midway_fails_then_works_after_restart)
{
    int port = free_port();
    pid_t pid = redis_start(port, tmpdir, NULL, NULL);
    at_store_t *s;
    char *out;
    int i;

    ck_assert_int_gt(pid, 0);
    s = open_store_at(port, key_file, NULL, TEST_TIMEOUT_SHORT);
    ck_assert_int_eq(
        at_store_save(s, AT_STORE_JOBS, NULL, "a.json", "{}", 2, AT_STORE_PUBLIC, pool),
        APR_SUCCESS);
    redis_stop(pid);
    reset_log();
    for (i = 0; i < 3; i++) {
        ck_assert_int_ne(
            at_store_save(s, AT_STORE_JOBS, NULL, "a.json", "{}", 2, AT_STORE_PUBLIC, pool),
            APR_SUCCESS);
        ck_assert_int_ne(load(s, AT_STORE_JOBS, NULL, "a.json", AT_STORE_PUBLIC, &out),
                         APR_SUCCESS);
    }
    /* One line for the state change, not one per call. */
    ck_assert_int_eq(count_in_log("autotls-1300:"), 1);
    pid = redis_start(port, tmpdir, NULL, NULL);
    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(
        at_store_save(s, AT_STORE_JOBS, NULL, "a.json", "{}", 2, AT_STORE_PUBLIC, pool),
        APR_SUCCESS);
    ck_assert_int_eq(load(s, AT_STORE_JOBS, NULL, "a.json", AT_STORE_PUBLIC, &out), APR_SUCCESS);
    ck_assert_int_eq(count_in_log("autotls-1303:"), 1);
    redis_stop(pid);
}
END_TEST

/* A large write to a Redis that went away meets a closed socket (EPIPE): an error, never the
 * SIGPIPE that would kill the process. */
START_TEST(test_large_write_to_a_stopped_redis_fails_without_sigpipe)
{
    int port = free_port();
    pid_t pid = redis_start(port, tmpdir, NULL, NULL);
    apr_size_t big = at_store_item_max(AT_STORE_JOBS);
    char *data = apr_pcalloc(pool, big);
    at_store_t *s;
    int i;

    ck_assert_int_gt(pid, 0);
    signal(SIGPIPE, SIG_DFL);
    s = open_store_at(port, key_file, NULL, TEST_TIMEOUT_SHORT);
    ck_assert_int_eq(at_store_redis_ping(s), APR_SUCCESS);
    redis_stop(pid);
    for (i = 0; i < 2; i++) {
        ck_assert_int_ne(
            at_store_save(s, AT_STORE_JOBS, NULL, "big.json", data, big, AT_STORE_PUBLIC, pool),
            APR_SUCCESS);
    }
}
END_TEST

START_TEST(test_password_from_file_and_a_wrong_one_refused)
{
    int port = free_port();
    pid_t pid = redis_start(port, tmpdir, "--requirepass", "s3cret-pw");
    at_store_t *s;
    char *out;

    ck_assert_int_gt(pid, 0);
    s = open_store_at(port, key_file, write_file("pw", "s3cret-pw\n", 10, 0600), 0);
    ck_assert_int_eq(
        at_store_save(s, AT_STORE_JOBS, NULL, "a.json", "{}", 2, AT_STORE_PUBLIC, pool),
        APR_SUCCESS);
    s = open_store_at(port, key_file, write_file("bad", "wrong\n", 6, 0600), 0);
    ck_assert_int_eq(load(s, AT_STORE_JOBS, NULL, "a.json", AT_STORE_PUBLIC, &out), APR_EACCES);
    ck_assert_ptr_null(strstr(log_text, "wrong"));
    s = open_store_at(port, key_file, NULL, 0);
    ck_assert_int_ne(load(s, AT_STORE_JOBS, NULL, "a.json", AT_STORE_PUBLIC, &out), APR_SUCCESS);
    redis_stop(pid);
}
END_TEST

static Suite *store_redis_suite(void)
{
    Suite *s = suite_create("store_redis");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_save_and_load_round_trip_public_and_secret);
    tcase_add_test(tc, test_secret_in_redis_is_sealed_not_pem_and_holds_no_key_bytes);
    tcase_add_test(tc, test_remove_deletes_and_missing_is_success);
    tcase_add_test(tc, test_list_is_sorted_and_missing_is_empty);
    tcase_add_test(tc, test_live_and_archive_are_never_in_redis_and_path_is_not_implemented);
    tcase_add_test(tc, test_oversize_value_in_redis_is_too_large);
    tcase_add_test(tc, test_save_set_appears_whole_and_an_existing_set_is_refused);
    tcase_add_test(tc, test_save_set_is_atomic_for_a_concurrent_reader);
    tcase_add_test(tc, test_purge_with_items_removes_the_set_and_without_keeps_a_full_one);
    tcase_add_test(tc, test_stat_tells_items_sets_and_missing);
    tcase_add_test(tc, test_generation_moves_with_every_write_and_only_then);
    tcase_add_test(tc, test_lease_contention_between_two_stores);
    tcase_add_test(tc, test_lease_expires_and_its_holder_learns_it_lost);
    tcase_add_test(tc, test_group_lock_is_exclusive_until_its_pool_is_cleared);
    tcase_add_test(tc, test_planted_foreign_and_corrupt_values_are_refused_with_their_key_named);
    tcase_add_test(tc, test_a_node_with_another_key_cannot_open_secrets);
    tcase_add_test(tc, test_url_forms_accepted_and_refused_with_a_reason);
    tcase_add_test(tc, test_open_refuses_missing_key_bad_files_and_user_without_password);
    tcase_add_test(tc, test_unreachable_redis_fails_fast);
    tcase_add_test(tc, test_redis_stopped_midway_fails_then_works_after_restart);
    tcase_add_test(tc, test_large_write_to_a_stopped_redis_fails_without_sigpipe);
    tcase_add_test(tc, test_password_from_file_and_a_wrong_one_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return redis_fixture_main(store_redis_suite, &server_port, "the Redis store is");
}
