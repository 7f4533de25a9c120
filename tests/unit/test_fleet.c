/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_fleet.c: two nodes of a fleet in one test process (two Redis connections, two local
 * stores) against a real redis-server this test starts on a free loopback port, stopped by pid.
 *
 * The one idea: what a node's children would serve is what the assertions read: the files in
 * each node's local challenges/ (their bytes and modes), the acks and heartbeats as Redis holds
 * them (read with hiredis, around the library), and the log lines an operator reads. Without
 * redis-server the test is skipped (exit 77), never passed.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <hiredis/hiredis.h>

#include "redis_fixture.h"
#include "unit_main.h"
#include "at_challenge.h"
#include "at_core.h"
#include "at_fleet.h"
#include "at_store.h"
#include "at_store_redis.h"
#include "at_store_seal.h"

#define TEST_LOG_MAX (64 * 1024)
#define KEY_BYTE 0x42
#define SHORT_TTL apr_time_from_msec(300)
#define LONG_TTL apr_time_from_sec(30)
#define PAST_SHORT_TTL apr_time_from_msec(600)
#define SHORT_WAIT apr_time_from_msec(500)
#define LATE_MIRROR apr_time_from_msec(400)
#define OVER_BOUND 5
#define SWEEP_AGE apr_time_from_msec(400)
#define LEFTOVER_TIME 1000000000 /* 2001: long before any mirror */
#define TOKEN_LEN 43
#define THUMBPRINT "Zq0bN4tjK6b8yh3c4hYq9a6p2e5M8xR1vS7uW3kL0dE"
#define PREFIX "autotls:"

static int server_port; /* the shared server, started once by main */

static apr_pool_t *pool;
static char tmpdir[256];
static at_fleet_t node_a, node_b;
static char log_text[TEST_LOG_MAX];

/* ---- raw access, around the library ------------------------------------------------------- */

static void raw_ok(const char *fmt, const char *a, const char *b)
{
    redisReply *r = raw(server_port, fmt, a, b);

    ck_assert_int_ne(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
}

static long long raw_int(const char *fmt, const char *a, const char *b)
{
    redisReply *r = raw(server_port, fmt, a, b);
    long long n;

    ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
    n = r->integer;
    freeReplyObject(r);
    return n;
}

/* ---- fixture -------------------------------------------------------------------------------- */

static void capture_log(void *baton, at_log_level_e level, apr_status_t rv, const char *msg)
{
    apr_size_t n = strlen(log_text);

    snprintf(log_text + n, sizeof(log_text) - n, "%s\n", msg);
}

static int log_count(const char *what)
{
    const char *at = log_text;
    int n = 0;

    while ((at = strstr(at, what)) != NULL) {
        n++;
        at += strlen(what);
    }
    return n;
}

static at_store_t *open_shared(const char *key_file)
{
    at_store_redis_conf_t conf = {0};
    at_store_t *s = NULL;

    conf.url = apr_psprintf(pool, "redis://127.0.0.1:%d", server_port);
    conf.key_file = key_file;
    ck_assert_int_eq(at_store_redis_open(&s, pool, &conf), APR_SUCCESS);
    return s;
}

static void open_node(at_fleet_t *node, const char *id, const char *key_file)
{
    const char *dir = apr_pstrcat(pool, tmpdir, "/", id, NULL);

    node->node = id;
    node->shared = open_shared(key_file);
    ck_assert_int_eq(at_store_fs_open(&node->local, pool, dir), APR_SUCCESS);
}

static void setup(void)
{
    unsigned char key[AT_STORE_SEAL_KEY_LEN];
    const char *key_file;
    redisReply *r;
    int fd;

    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_fleet.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    key_file = apr_pstrcat(pool, tmpdir, "/store.key", NULL);
    memset(key, KEY_BYTE, sizeof(key));
    fd = open(key_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, key, sizeof(key)), (ssize_t)sizeof(key));
    close(fd);
    r = raw(server_port, "FLUSHALL");
    freeReplyObject(r);
    log_text[0] = '\0';
    at_log_set(capture_log, NULL, AT_LOG_DEBUG);
    open_node(&node_a, "a", key_file);
    open_node(&node_b, "b", key_file);
}

static void teardown(void)
{
    char cmd[300];

    at_log_set(NULL, NULL, AT_LOG_ERR);
    apr_pool_destroy(pool);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* ---- answers ----------------------------------------------------------------------------------
 */

/* A token of TOKEN_LEN base64url characters, numbered. */
static const char *token_n(int n)
{
    return apr_psprintf(pool, "tok%040d", n);
}

static const char *answer_for(const char *host, const char *token, apr_size_t *len)
{
    const char *why;
    char *data;

    ck_assert_int_eq(at_challenge_answer_encode(&data, len, &why, pool, host, token,
                                                apr_pstrcat(pool, token, ".", THUMBPRINT, NULL)),
                     APR_SUCCESS);
    return data;
}

/* What the ordering node's responder does (renew_task.c): the answer into the fleet's store and
 * its own, then its own ack. */
static void publish(const at_fleet_t *node, const char *host, const char *token)
{
    apr_size_t len;
    const char *data = answer_for(host, token, &len);

    ck_assert_int_eq(at_store_save(node->shared, AT_STORE_CHALLENGES, NULL, token, data, len,
                                   AT_FLEET_ANSWER_ACCESS, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(at_store_save(node->local, AT_STORE_CHALLENGES, NULL, token, data, len,
                                   AT_STORE_PUBLIC, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(at_fleet_ack(node->shared, token, node->node, pool), APR_SUCCESS);
}

/* The responder's teardown: out of both stores. */
static void withdraw(const at_fleet_t *node, const char *token)
{
    ck_assert_int_eq(at_store_remove(node->shared, AT_STORE_CHALLENGES, NULL, token, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(at_store_remove(node->local, AT_STORE_CHALLENGES, NULL, token, pool),
                     APR_SUCCESS);
}

static const char *local_path(const at_fleet_t *node, const char *token)
{
    return apr_pstrcat(pool, tmpdir, "/", node->node, "/challenges/", token, NULL);
}

/* The bytes of a node's local answer (what its children would read), NULL when missing. */
static const char *local_answer(const at_fleet_t *node, const char *token)
{
    char *data;
    apr_size_t len;

    if (at_store_load(node->local, AT_STORE_CHALLENGES, NULL, token, &data, &len, AT_STORE_PUBLIC,
                      pool) != APR_SUCCESS) {
        return NULL;
    }
    return data;
}

static at_fleet_mirror_result_t mirror_once(at_fleet_mirror_t *mirror)
{
    at_fleet_mirror_result_t result;

    ck_assert_int_eq(at_fleet_mirror_run(&result, mirror, pool), APR_SUCCESS);
    return result;
}

static at_fleet_mirror_t *mirror_of(const at_fleet_t *node)
{
    at_fleet_mirror_t *mirror;

    ck_assert_int_eq(at_fleet_mirror_create(&mirror, pool, node), APR_SUCCESS);
    return mirror;
}

static const char *joined(apr_array_header_t *a)
{
    return apr_array_pstrcat(pool, a, ',');
}

static const char *live_nodes(void)
{
    apr_array_header_t *nodes;

    ck_assert_int_eq(at_fleet_nodes_live(&nodes, node_a.shared, 1, pool), APR_SUCCESS);
    return joined(nodes);
}

static const char *acks_of(const char *token)
{
    apr_array_header_t *nodes;

    ck_assert_int_eq(at_fleet_acks(&nodes, node_a.shared, token, pool), APR_SUCCESS);
    return joined(nodes);
}

/* ---- the mirror --------------------------------------------------------------------------------
 */

START_TEST(test_mirror_writes_new_answers_0644_and_removes_vanished_ones)
{
    at_fleet_mirror_t *mirror_b = mirror_of(&node_b);
    at_fleet_mirror_result_t result;
    const char *t1 = token_n(1), *t2 = token_n(2), *expected;
    struct stat st;
    apr_size_t len;

    publish(&node_a, "a.example", t1);
    publish(&node_a, "b.example", t2);
    ck_assert_str_eq(acks_of(t1), "a");

    result = mirror_once(mirror_b);
    ck_assert_int_eq(result.written, 2);
    ck_assert_int_eq(result.more, 0);
    expected = answer_for("a.example", t1, &len);
    ck_assert_str_eq(local_answer(&node_b, t1), expected);
    ck_assert_int_eq(stat(local_path(&node_b, t1), &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, AT_STORE_MODE_PUBLIC_FILE);
    ck_assert_int_eq(stat(apr_pstrcat(pool, tmpdir, "/b/challenges", NULL), &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, AT_STORE_MODE_PUBLIC_DIR);
    ck_assert_str_eq(acks_of(t1), "a,b");
    ck_assert_str_eq(acks_of(t2), "a,b");

    /* nothing changed: nothing written, nothing removed */
    result = mirror_once(mirror_b);
    ck_assert_int_eq(result.written + result.removed + result.refused, 0);

    withdraw(&node_a, t1);
    result = mirror_once(mirror_b);
    ck_assert_int_eq(result.removed, 1);
    ck_assert_int_eq(result.written, 0);
    ck_assert_ptr_null(local_answer(&node_b, t1));
    ck_assert_ptr_nonnull(local_answer(&node_b, t2));
}
END_TEST

START_TEST(test_mirror_restores_a_local_answer_removed_behind_its_back)
{
    at_fleet_mirror_t *mirror_b = mirror_of(&node_b);
    const char *t1 = token_n(1);

    publish(&node_a, "a.example", t1);
    ck_assert_int_eq(mirror_once(mirror_b).written, 1);
    ck_assert_int_eq(unlink(local_path(&node_b, t1)), 0);
    /* the fleet did not change: the cheap path trusts its last look ... */
    ck_assert_int_eq(mirror_once(mirror_b).written, 0);
    /* ... and the next change in the fleet brings the answer back */
    publish(&node_a, "b.example", token_n(2));
    ck_assert_int_eq(mirror_once(mirror_b).written, 2);
    ck_assert_ptr_nonnull(local_answer(&node_b, t1));
}
END_TEST

START_TEST(test_mirror_removes_only_answers_it_owns)
{
    at_fleet_mirror_t *mirror_b;
    const char *old = token_n(1), *own = token_n(2);
    const char *alpn = apr_pstrcat(pool, AT_CHALLENGE_TLSALPN_PREFIX, "a.example", NULL);
    apr_size_t len;
    const char *data = answer_for("a.example", old, &len);

    /* a leftover of an earlier process, and a tls-alpn-01 answer of this node's own */
    ck_assert_int_eq(at_store_save(node_b.local, AT_STORE_CHALLENGES, NULL, old, data, len,
                                   AT_STORE_PUBLIC, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(at_store_save(node_b.local, AT_STORE_CHALLENGES, NULL, alpn, "{}", 2,
                                   AT_STORE_PUBLIC, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(
        utime(local_path(&node_b, old), &(struct utimbuf){LEFTOVER_TIME, LEFTOVER_TIME}), 0);
    mirror_b = mirror_of(&node_b);
    /* node b's own order writes its answer locally between the mirror's two listings */
    data = answer_for("b.example", own, &len);
    ck_assert_int_eq(at_store_save(node_b.local, AT_STORE_CHALLENGES, NULL, own, data, len,
                                   AT_STORE_PUBLIC, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(mirror_once(mirror_b).removed, 1);
    ck_assert_ptr_null(local_answer(&node_b, old));
    ck_assert_ptr_nonnull(local_answer(&node_b, own));
    ck_assert_ptr_nonnull(local_answer(&node_b, alpn));
    ck_assert_int_eq(log_count("autotls-1484"), 0);
}
END_TEST

START_TEST(test_mirror_is_bounded_per_call_and_finishes_on_the_next)
{
    at_fleet_mirror_t *mirror_b = mirror_of(&node_b);
    at_fleet_mirror_result_t result;
    int i;

    for (i = 0; i < AT_FLEET_MIRROR_MAX + OVER_BOUND; i++) {
        publish(&node_a, "a.example", token_n(i));
    }
    result = mirror_once(mirror_b);
    ck_assert_int_eq(result.written, AT_FLEET_MIRROR_MAX);
    ck_assert_int_eq(result.more, 1);
    result = mirror_once(mirror_b);
    ck_assert_int_eq(result.written, OVER_BOUND);
    ck_assert_int_eq(result.more, 0);
    ck_assert_ptr_nonnull(local_answer(&node_b, token_n(AT_FLEET_MIRROR_MAX + OVER_BOUND - 1)));
}
END_TEST

/* ---- heartbeats ---------------------------------------------------------------------------- */

START_TEST(test_heartbeat_makes_a_node_live_until_its_ttl_expires)
{
    ck_assert_str_eq(live_nodes(), "");
    ck_assert_int_eq(at_fleet_heartbeat(&node_a, SHORT_TTL, NULL, pool), APR_SUCCESS);
    ck_assert_int_eq(at_fleet_heartbeat(&node_b, LONG_TTL, NULL, pool), APR_SUCCESS);
    ck_assert_str_eq(live_nodes(), "a,b");
    apr_sleep(PAST_SHORT_TTL);
    ck_assert_str_eq(live_nodes(), "b");
    /* the dead node left the registry too */
    ck_assert_int_eq(raw_int("SISMEMBER %s %s", PREFIX "fleet:nodes", "a"), 0);
    /* a beat brings it back; leaving drops it at once */
    ck_assert_int_eq(at_fleet_heartbeat(&node_a, LONG_TTL, NULL, pool), APR_SUCCESS);
    ck_assert_str_eq(live_nodes(), "a,b");
    ck_assert_int_eq(at_fleet_leave(&node_b, pool), APR_SUCCESS);
    ck_assert_str_eq(live_nodes(), "a");
}
END_TEST

/* ---- the wait for acks ------------------------------------------------------------------------
 */

static void *APR_THREAD_FUNC late_mirror(apr_thread_t *thread, void *data)
{
    at_fleet_mirror_t *mirror = data;
    at_fleet_mirror_result_t result;
    apr_pool_t *p;

    apr_sleep(LATE_MIRROR);
    apr_pool_create(&p, NULL);
    at_fleet_mirror_run(&result, mirror, p);
    apr_pool_destroy(p);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

START_TEST(test_ack_wait_returns_once_every_live_node_acked)
{
    at_fleet_mirror_t *mirror_b = mirror_of(&node_b);
    const char *t1 = token_n(1), *missing = "unset";
    apr_thread_t *thread;
    apr_status_t trv;
    apr_time_t start;

    ck_assert_int_eq(at_fleet_heartbeat(&node_a, LONG_TTL, NULL, pool), APR_SUCCESS);
    ck_assert_int_eq(at_fleet_heartbeat(&node_b, LONG_TTL, NULL, pool), APR_SUCCESS);
    publish(&node_a, "a.example", t1);
    /* node b mirrors (and acks) a while later, on its own connection */
    ck_assert_int_eq(apr_thread_create(&thread, NULL, late_mirror, mirror_b, pool), APR_SUCCESS);
    start = apr_time_now();
    ck_assert_int_eq(
        at_fleet_acks_wait(&missing, &node_a, "a.example", t1, AT_FLEET_ACK_WAIT, pool),
        APR_SUCCESS);
    ck_assert_int_ge(apr_time_now() - start, LATE_MIRROR);
    ck_assert_int_lt(apr_time_now() - start, AT_FLEET_ACK_WAIT);
    ck_assert_ptr_null(missing);
    apr_thread_join(&trv, thread);
    ck_assert_ptr_nonnull(local_answer(&node_b, t1));
    ck_assert_int_eq(log_count("autotls-1483"), 0);
}
END_TEST

START_TEST(test_ack_wait_times_out_with_one_warning_naming_the_missing_node)
{
    const char *t1 = token_n(1), *missing = NULL;
    apr_time_t start;

    ck_assert_int_eq(at_fleet_heartbeat(&node_a, LONG_TTL, NULL, pool), APR_SUCCESS);
    ck_assert_int_eq(at_fleet_heartbeat(&node_b, LONG_TTL, NULL, pool), APR_SUCCESS);
    publish(&node_a, "a.example", t1);
    start = apr_time_now();
    ck_assert_int_eq(at_fleet_acks_wait(&missing, &node_a, "a.example", t1, SHORT_WAIT, pool),
                     APR_TIMEUP);
    ck_assert_int_ge(apr_time_now() - start, SHORT_WAIT);
    ck_assert_str_eq(missing, "b");
    ck_assert_int_eq(log_count("autotls-1483"), 1);
    ck_assert_ptr_nonnull(strstr(log_text, "a.example: node(s) b did not confirm"));
}
END_TEST

START_TEST(test_ack_wait_ignores_a_node_whose_heartbeat_expired)
{
    const char *t1 = token_n(1), *missing = NULL;

    ck_assert_int_eq(at_fleet_heartbeat(&node_a, LONG_TTL, NULL, pool), APR_SUCCESS);
    ck_assert_int_eq(at_fleet_heartbeat(&node_b, SHORT_TTL, NULL, pool), APR_SUCCESS);
    publish(&node_a, "a.example", t1);
    apr_sleep(PAST_SHORT_TTL);
    ck_assert_int_eq(at_fleet_acks_wait(&missing, &node_a, "a.example", t1, SHORT_WAIT, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(log_count("autotls-1483"), 0);
}
END_TEST

/* ---- what someone else put in Redis ------------------------------------------------------------
 */

START_TEST(test_garbage_node_ids_heartbeats_and_acks_are_refused_with_the_key_named)
{
    const char *t1 = token_n(1);

    ck_assert_int_eq(at_fleet_heartbeat(&node_a, LONG_TTL, NULL, pool), APR_SUCCESS);
    raw_ok("SADD %s %s", PREFIX "fleet:nodes", "../evil");
    raw_ok("SET %s %s", PREFIX "fleet:node:../evil", "x");
    raw_ok("SADD %s %s", PREFIX "fleet:nodes", "c");
    raw_ok("SET %s %s", PREFIX "fleet:node:c", "not-c");
    ck_assert_str_eq(live_nodes(), "a");
    ck_assert_ptr_nonnull(strstr(log_text, "refusing Redis key " PREFIX "fleet:nodes "));
    ck_assert_ptr_nonnull(strstr(log_text, "refusing Redis key " PREFIX "fleet:node:c "));

    log_text[0] = '\0';
    raw_ok("SADD %s %s", apr_pstrcat(pool, PREFIX "fleet:ack:", t1, NULL), "b c");
    ck_assert_str_eq(acks_of(t1), "");
    ck_assert_ptr_nonnull(
        strstr(log_text, apr_pstrcat(pool, "refusing Redis key " PREFIX "fleet:ack:", t1, NULL)));

    /* a value of another type where the registry belongs: an error naming the key, no crash */
    log_text[0] = '\0';
    raw_ok("DEL %s", PREFIX "fleet:nodes", NULL);
    raw_ok("SET %s %s", PREFIX "fleet:nodes", "garbage");
    {
        apr_array_header_t *nodes;

        ck_assert_int_ne(at_fleet_nodes_live(&nodes, node_a.shared, 1, pool), APR_SUCCESS);
        ck_assert_int_eq(nodes->nelts, 0);
    }
    ck_assert_ptr_nonnull(strstr(log_text, PREFIX "fleet:nodes"));
}
END_TEST

START_TEST(test_garbage_answers_in_redis_are_refused_with_the_key_named_and_not_acked)
{
    at_fleet_mirror_t *mirror_b = mirror_of(&node_b);
    at_fleet_mirror_result_t result;
    const char *bare = token_n(1), *other = token_n(2), *foreign = token_n(3), *good = token_n(4);
    const char *unsealed = token_n(5), *other_answer, *plain;
    apr_size_t len, plain_len;

    /* a bare key authorization (no host bound to it) */
    ck_assert_int_eq(at_store_save(node_a.shared, AT_STORE_CHALLENGES, NULL, bare,
                                   apr_pstrcat(pool, bare, ".", THUMBPRINT, NULL),
                                   TOKEN_LEN + 1 + strlen(THUMBPRINT), AT_FLEET_ANSWER_ACCESS,
                                   pool),
                     APR_SUCCESS);
    /* another token's answer under this token */
    other_answer = answer_for("a.example", good, &len);
    ck_assert_int_eq(at_store_save(node_a.shared, AT_STORE_CHALLENGES, NULL, other, other_answer,
                                   len, AT_FLEET_ANSWER_ACCESS, pool),
                     APR_SUCCESS);
    /* a well-formed answer, but not sealed with the fleet's key: what a writer to Redis without
     * the key can plant (framed public items need no key) */
    plain = answer_for("a.example", unsealed, &plain_len);
    ck_assert_int_eq(at_store_save(node_a.shared, AT_STORE_CHALLENGES, NULL, unsealed, plain,
                                   plain_len, AT_STORE_PUBLIC, pool),
                     APR_SUCCESS);
    /* a value the store never framed */
    publish(&node_a, "a.example", foreign);
    raw_ok("SET %s %s",
           at_store_redis_item_key(node_a.shared, AT_STORE_CHALLENGES, NULL, foreign, pool),
           "{\"identifier\":\"a.example\"}");
    publish(&node_a, "a.example", good);

    result = mirror_once(mirror_b);
    ck_assert_int_eq(result.refused, 4);
    ck_assert_int_eq(result.written, 1);
    ck_assert_ptr_null(local_answer(&node_b, unsealed));
    ck_assert_str_eq(acks_of(unsealed), "");
    ck_assert_ptr_null(local_answer(&node_b, bare));
    ck_assert_ptr_null(local_answer(&node_b, other));
    ck_assert_ptr_null(local_answer(&node_b, foreign));
    ck_assert_ptr_nonnull(local_answer(&node_b, good));
    ck_assert_ptr_nonnull(
        strstr(log_text, apr_pstrcat(pool, "Redis key " PREFIX "item:challenges/", bare, NULL)));
    ck_assert_ptr_nonnull(
        strstr(log_text, apr_pstrcat(pool, "Redis key " PREFIX "item:challenges/", other, NULL)));
    ck_assert_ptr_nonnull(
        strstr(log_text, apr_pstrcat(pool, "Redis key " PREFIX "item:challenges/", foreign, NULL)));
    ck_assert_str_eq(acks_of(bare), "");
    ck_assert_str_eq(acks_of(other), "");
    ck_assert_str_eq(acks_of(good), "a,b");
    /* said once: the next call (nothing changed) says nothing again, nor one after the fleet
     * changed (the refused answers are not read again while the fleet lists them) */
    log_text[0] = '\0';
    result = mirror_once(mirror_b);
    ck_assert_int_eq(result.refused, 0);
    publish(&node_a, "b.example", token_n(6));
    result = mirror_once(mirror_b);
    ck_assert_int_eq(result.refused, 0);
    ck_assert_int_eq(result.written, 1);
    ck_assert_str_eq(log_text, "");
}
END_TEST

START_TEST(test_two_processes_beating_one_node_id_see_each_other)
{
    at_fleet_t x = node_a, y = node_a; /* one id ("a"), two processes */
    const char *other = "unset";

    x.instance = "0123abcd";
    y.instance = "fedc9876";
    ck_assert_int_eq(at_fleet_heartbeat(&x, LONG_TTL, &other, pool), APR_SUCCESS);
    ck_assert_ptr_null(other);
    ck_assert_int_eq(at_fleet_heartbeat(&x, LONG_TTL, &other, pool), APR_SUCCESS);
    ck_assert_ptr_null(other); /* its own earlier beat */
    ck_assert_int_eq(at_fleet_heartbeat(&y, LONG_TTL, &other, pool), APR_SUCCESS);
    ck_assert_str_eq(other, "0123abcd");
    ck_assert_int_eq(at_fleet_heartbeat(&x, LONG_TTL, &other, pool), APR_SUCCESS);
    ck_assert_str_eq(other, "fedc9876");
    /* either way the node is live once, and no line refuses the value */
    ck_assert_str_eq(live_nodes(), "a");
    ck_assert_int_eq(log_count("refusing"), 0);
    x.instance = "NOT-HEX";
    ck_assert_int_eq(at_fleet_heartbeat(&x, LONG_TTL, &other, pool), AT_EARG);
}
END_TEST

START_TEST(test_answers_left_in_the_fleet_are_swept_by_age)
{
    const char *old = token_n(1), *fresh = token_n(2);
    int removed;

    publish(&node_a, "a.example", old);
    apr_sleep(SWEEP_AGE + SWEEP_AGE / 2);
    publish(&node_a, "b.example", fresh);
    ck_assert_int_eq(at_fleet_answers_sweep(&removed, node_b.shared, SWEEP_AGE, pool), APR_SUCCESS);
    ck_assert_int_eq(removed, 1);
    ck_assert_int_eq(mirror_once(mirror_of(&node_b)).written, 1);
    ck_assert_ptr_null(local_answer(&node_b, old));
    ck_assert_ptr_nonnull(local_answer(&node_b, fresh));
}
END_TEST

START_TEST(test_lease_tokens_name_their_node_for_any_other_node)
{
    char *token, *held;
    apr_time_t expires;

    ck_assert_int_eq(at_fleet_lease_token(&token, "web-1.dc2", pool), APR_SUCCESS);
    ck_assert_str_eq(at_fleet_lease_node(token), "web-1.dc2");
    ck_assert_int_eq(at_store_lease_take(node_a.shared, "a.example", token, LONG_TTL, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(at_store_lease_holder(node_b.shared, "a.example", &held, &expires, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(at_fleet_lease_node(held), "web-1.dc2");
    ck_assert_int_eq(at_fleet_lease_token(&token, ".hidden", pool), AT_EARG);
    ck_assert_ptr_null(at_fleet_lease_node("0123456789abcdef")); /* an older release's */
    ck_assert_ptr_null(at_fleet_lease_node("0123.bad node"));
    ck_assert_ptr_null(at_fleet_lease_node(NULL));
}
END_TEST

START_TEST(test_node_ids_and_the_default_from_the_host_name)
{
    const char *node;

    ck_assert(at_fleet_node_valid("web-1.example"));
    ck_assert(!at_fleet_node_valid(""));
    ck_assert(!at_fleet_node_valid("a b"));
    ck_assert(!at_fleet_node_valid("../x"));
    ck_assert(!at_fleet_node_valid(".hidden"));
    ck_assert(!at_fleet_node_valid(apr_psprintf(pool, "%0*d", AT_FLEET_NODE_MAX + 1, 0)));
    ck_assert_int_eq(at_fleet_node_default(&node, pool), APR_SUCCESS);
    ck_assert(at_fleet_node_valid(node));
}
END_TEST

static Suite *fleet_suite(void)
{
    Suite *s = suite_create("fleet");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_mirror_writes_new_answers_0644_and_removes_vanished_ones);
    tcase_add_test(tc, test_mirror_restores_a_local_answer_removed_behind_its_back);
    tcase_add_test(tc, test_mirror_removes_only_answers_it_owns);
    tcase_add_test(tc, test_mirror_is_bounded_per_call_and_finishes_on_the_next);
    tcase_add_test(tc, test_heartbeat_makes_a_node_live_until_its_ttl_expires);
    tcase_add_test(tc, test_ack_wait_returns_once_every_live_node_acked);
    tcase_add_test(tc, test_ack_wait_times_out_with_one_warning_naming_the_missing_node);
    tcase_add_test(tc, test_ack_wait_ignores_a_node_whose_heartbeat_expired);
    tcase_add_test(tc, test_garbage_node_ids_heartbeats_and_acks_are_refused_with_the_key_named);
    tcase_add_test(tc, test_garbage_answers_in_redis_are_refused_with_the_key_named_and_not_acked);
    tcase_add_test(tc, test_node_ids_and_the_default_from_the_host_name);
    tcase_add_test(tc, test_lease_tokens_name_their_node_for_any_other_node);
    tcase_add_test(tc, test_answers_left_in_the_fleet_are_swept_by_age);
    tcase_add_test(tc, test_two_processes_beating_one_node_id_see_each_other);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return redis_fixture_main(fleet_suite, &server_port, "the fleet calls are");
}
