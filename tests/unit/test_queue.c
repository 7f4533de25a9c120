/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_queue.c: the renewal process's work queues (renew_queue.c): binary heaps by (key, tie).
 *
 * The one idea: the scheduler trusts a queue for two things, the order in which items come out
 * and the position each item carries (to move or take it out without a search); every test
 * checks both, against a plain sort of the same keys.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <check.h>

#include "unit_main.h"
#include "renew_queue.h"

#define ITEMS 200
#define SEED 12345u

typedef struct {
    int id;
    int pos;
    apr_int64_t key, tie;
} item_t;

static apr_pool_t *pool;
static item_t items[ITEMS];

static void setup(void)
{
    int i;

    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    for (i = 0; i < ITEMS; ++i) {
        items[i].id = i;
        items[i].pos = AUTOTLS_QUEUE_OUT;
    }
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

/* Every item in the queue knows where it is. */
static void check_positions(const autotls_queue_t *q)
{
    int i;

    for (i = 0; i < q->count; ++i) {
        ck_assert_int_eq(*q->entries[i].pos, i);
    }
}

/* Pops everything; asserts (key, tie) never decreases; returns how many came out. */
static int drain_in_order(autotls_queue_t *q)
{
    apr_int64_t last_key = APR_INT64_MIN, last_tie = APR_INT64_MIN;
    item_t *item;
    int n = 0;

    while ((item = autotls_queue_pop(q)) != NULL) {
        ck_assert(item->key > last_key || (item->key == last_key && item->tie >= last_tie));
        ck_assert_int_eq(item->pos, AUTOTLS_QUEUE_OUT);
        last_key = item->key;
        last_tie = item->tie;
        check_positions(q);
        ++n;
    }
    return n;
}

static void put(autotls_queue_t *q, item_t *item, apr_int64_t key, apr_int64_t tie)
{
    item->key = key;
    item->tie = tie;
    ck_assert_int_eq(autotls_queue_put(q, item, &item->pos, key, tie), APR_SUCCESS);
}

START_TEST(test_queue_pops_by_key_then_tie)
{
    autotls_queue_t q;
    apr_int64_t key, tie;
    unsigned seed = SEED;
    int i;

    autotls_queue_init(&q, pool, ITEMS);
    ck_assert_ptr_null(autotls_queue_top(&q, NULL, NULL));
    for (i = 0; i < ITEMS; ++i) {
        put(&q, &items[i], rand_r(&seed) % 20, rand_r(&seed) % 1000);
        check_positions(&q);
    }
    ck_assert_int_eq(autotls_queue_put(&q, &(item_t){0}, &(int){AUTOTLS_QUEUE_OUT}, 0, 0),
                     APR_ENOSPC);
    ck_assert_ptr_nonnull(autotls_queue_top(&q, &key, &tie));
    ck_assert_int_eq(drain_in_order(&q), ITEMS);
}
END_TEST

START_TEST(test_queue_moves_and_removes_items_in_place)
{
    autotls_queue_t q;
    unsigned seed = SEED;
    int i;

    autotls_queue_init(&q, pool, ITEMS);
    for (i = 0; i < ITEMS; ++i) {
        put(&q, &items[i], 1000 + i, 0);
    }
    /* an item put again moves (an operator's request makes a job due now) */
    put(&q, &items[150], 5, 0);
    ck_assert_int_eq(q.count, ITEMS);
    ck_assert_ptr_eq(autotls_queue_top(&q, NULL, NULL), &items[150]);
    put(&q, &items[150], 5000, 0);
    ck_assert_ptr_eq(autotls_queue_top(&q, NULL, NULL), &items[0]);
    for (i = 0; i < ITEMS / 2; ++i) {
        int k = rand_r(&seed) % ITEMS;

        if (items[k].pos != AUTOTLS_QUEUE_OUT) {
            autotls_queue_remove(&q, &items[k].pos);
            ck_assert_int_eq(items[k].pos, AUTOTLS_QUEUE_OUT);
        }
        put(&q, &items[rand_r(&seed) % ITEMS], rand_r(&seed) % 3000, 0);
        check_positions(&q);
    }
    autotls_queue_remove(&q, &(int){AUTOTLS_QUEUE_OUT}); /* out already: nothing happens */
    i = q.count;
    ck_assert_int_eq(drain_in_order(&q), i);
}
END_TEST

/* The scheduler's ready order: the operator's request, then sites without a certificate in
 * configuration order, then renewals by expiry. */
START_TEST(test_ready_order_new_sites_first_then_renewals_by_expiry)
{
    autotls_queue_t q;

    autotls_queue_init(&q, pool, ITEMS);
    put(&q, &items[0], 2, 3000); /* renewal, expires at 3000 */
    put(&q, &items[1], 1, 7);    /* new site, 7th in the configuration */
    put(&q, &items[2], 2, 1000); /* renewal, expires first */
    put(&q, &items[3], 1, 2);    /* new site, 2nd */
    put(&q, &items[4], 0, 9);    /* the operator asked */
    ck_assert_ptr_eq(autotls_queue_pop(&q), &items[4]);
    ck_assert_ptr_eq(autotls_queue_pop(&q), &items[3]);
    ck_assert_ptr_eq(autotls_queue_pop(&q), &items[1]);
    ck_assert_ptr_eq(autotls_queue_pop(&q), &items[2]);
    ck_assert_ptr_eq(autotls_queue_pop(&q), &items[0]);
    ck_assert_ptr_null(autotls_queue_pop(&q));
}
END_TEST

static Suite *queue_suite(void)
{
    Suite *s = suite_create("queue");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_queue_pops_by_key_then_tie);
    tcase_add_test(tc, test_queue_moves_and_removes_items_in_place);
    tcase_add_test(tc, test_ready_order_new_sites_first_then_renewals_by_expiry);
    suite_add_tcase(s, tc);
    return s;
}

AT_UNIT_MAIN(queue_suite)
