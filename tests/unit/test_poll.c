/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_poll.c: the polling schedule of at_poll.h, played against a fake clock: no test sleeps.
 *
 * The one idea: a poller is the loop issue.c runs (ask at_poll_next, "sleep" by moving the fake
 * clock, look, count the look), so each test states what a CA observes: when the looks come,
 * how many there are, and that none comes after the deadline.
 */
#include <check.h>
#include <limits.h>

#include "at_core.h"
#include "at_poll.h"
#include "unit_main.h"

#define MS(n) apr_time_from_msec(n)
#define SEC(n) apr_time_from_sec(n)
#define LOOKS_MAX 256
#define NEVER 0 /* a CA that never finishes */

typedef struct {
    apr_time_t now;           /* the fake clock, from 0: the request that started the work */
    int looks;                /* looks made */
    apr_time_t at[LOOKS_MAX]; /* when each look was made */
} poller_t;

/* Looks until the CA is done (at `done`; NEVER: not at all) or the schedule gives up before
 * `deadline`; the CA answers each look with retry_after (0: none). */
static apr_status_t poll_until(poller_t *p, apr_time_t done, apr_interval_time_t retry_after,
                               apr_time_t deadline)
{
    apr_interval_time_t wait;
    apr_status_t rv;

    p->now = 0;
    p->looks = 0;
    for (;;) {
        rv = at_poll_next(&wait, p->looks + 1, retry_after, deadline - p->now);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        ck_assert_int_ge(wait, 0);
        ck_assert_int_lt(p->looks, LOOKS_MAX);
        p->now += wait;
        p->at[p->looks++] = p->now;
        if (done != NEVER && p->now >= done) {
            return APR_SUCCESS;
        }
    }
}

/* Looks made in [from, to). */
static int looks_between(const poller_t *p, apr_time_t from, apr_time_t to)
{
    int i, n = 0;

    for (i = 0; i < p->looks; i++) {
        n += p->at[i] >= from && p->at[i] < to;
    }
    return n;
}

START_TEST(test_first_look_comes_after_tens_of_milliseconds)
{
    ck_assert_int_eq(at_poll_delay(1, 0), AT_POLL_FIRST);
    ck_assert_int_ge(AT_POLL_FIRST, MS(10));
    ck_assert_int_le(AT_POLL_FIRST, MS(50));
}
END_TEST

START_TEST(test_a_quick_ca_is_seen_done_at_the_first_look)
{
    poller_t p;

    ck_assert_int_eq(poll_until(&p, MS(20), 0, SEC(300)), APR_SUCCESS);
    ck_assert_int_eq(p.looks, 1);
    ck_assert_int_le(p.at[0], MS(50));
}
END_TEST

START_TEST(test_waits_grow_geometrically_up_to_the_cap)
{
    apr_interval_time_t before = at_poll_delay(1, 0), delay;
    int look;

    for (look = 2; look < 100; look++) {
        delay = at_poll_delay(look, 0);
        if (before < AT_POLL_MAX) {
            ck_assert_int_gt(delay, before);
        }
        ck_assert_int_eq(delay, before * AT_POLL_GROWTH < AT_POLL_MAX ? before * AT_POLL_GROWTH
                                                                      : AT_POLL_MAX);
        before = delay;
    }
    ck_assert_int_eq(at_poll_delay(100, 0), AT_POLL_MAX);
    ck_assert_int_eq(at_poll_delay(INT_MAX, 0), AT_POLL_MAX);
    ck_assert_int_le(AT_POLL_MAX, SEC(1));
}
END_TEST

/* Against a CA that takes seconds to validate: after the first few looks, about once a second. */
START_TEST(test_a_slow_ca_is_asked_about_once_a_second)
{
    poller_t p;
    int i;

    ck_assert_int_eq(poll_until(&p, SEC(10), 0, SEC(300)), APR_SUCCESS);
    ck_assert_int_le(looks_between(&p, 0, SEC(2)), 7);
    ck_assert_int_le(looks_between(&p, SEC(2), SEC(10) + 1), 9);
    for (i = 1; i < p.looks; i++) {
        if (p.at[i - 1] >= SEC(2)) {
            ck_assert_int_ge(p.at[i] - p.at[i - 1], AT_POLL_MAX);
        }
    }
    /* seen done within a second of it */
    ck_assert_int_le(p.at[p.looks - 1], SEC(10) + AT_POLL_MAX);
}
END_TEST

START_TEST(test_retry_after_wins_longer_or_shorter)
{
    ck_assert_int_eq(at_poll_delay(1, SEC(5)), SEC(5));    /* over an early look */
    ck_assert_int_eq(at_poll_delay(50, SEC(30)), SEC(30)); /* over the cap */
    ck_assert_int_eq(at_poll_delay(50, MS(300)), MS(300)); /* shorter than our wait */
}
END_TEST

START_TEST(test_retry_after_never_makes_us_spin)
{
    poller_t p;

    ck_assert_int_eq(at_poll_delay(1, 1), AT_POLL_FIRST);
    ck_assert_int_eq(poll_until(&p, SEC(1), 1, SEC(300)), APR_SUCCESS);
    ck_assert_int_le(p.looks, SEC(1) / AT_POLL_FIRST);
}
END_TEST

START_TEST(test_retry_after_spaces_every_look)
{
    poller_t p;
    int i;

    ck_assert_int_eq(poll_until(&p, SEC(9), SEC(3), SEC(300)), APR_SUCCESS);
    ck_assert_int_eq(p.looks, 3);
    for (i = 0; i < p.looks; i++) {
        ck_assert_int_eq(p.at[i], SEC(3) * (i + 1));
    }
}
END_TEST

START_TEST(test_no_look_after_the_deadline)
{
    poller_t p;
    apr_time_t deadline = SEC(3) + MS(300);

    ck_assert_int_eq(poll_until(&p, NEVER, 0, deadline), AT_ETIMEOUT);
    ck_assert_int_gt(p.looks, 1);
    /* the last look falls on the deadline, none after it */
    ck_assert_int_eq(p.at[p.looks - 1], deadline);
    ck_assert_int_lt(p.at[p.looks - 2], deadline);
}
END_TEST

START_TEST(test_retry_after_past_the_deadline_gives_up_at_once)
{
    poller_t p;
    apr_interval_time_t wait = -1;

    ck_assert_int_eq(poll_until(&p, SEC(60), SEC(120), SEC(60)), AT_ETIMEOUT);
    ck_assert_int_eq(p.looks, 0);
    ck_assert_int_eq(at_poll_next(&wait, 1, 0, 0), AT_ETIMEOUT);
    ck_assert_int_eq(at_poll_next(&wait, 1, 0, -1), AT_ETIMEOUT);
    ck_assert_int_eq(wait, -1);
}
END_TEST

static Suite *poll_suite(void)
{
    Suite *s = suite_create("poll");
    TCase *tc = tcase_create("schedule");

    tcase_add_test(tc, test_first_look_comes_after_tens_of_milliseconds);
    tcase_add_test(tc, test_a_quick_ca_is_seen_done_at_the_first_look);
    tcase_add_test(tc, test_waits_grow_geometrically_up_to_the_cap);
    tcase_add_test(tc, test_a_slow_ca_is_asked_about_once_a_second);
    tcase_add_test(tc, test_retry_after_wins_longer_or_shorter);
    tcase_add_test(tc, test_retry_after_never_makes_us_spin);
    tcase_add_test(tc, test_retry_after_spaces_every_look);
    tcase_add_test(tc, test_no_look_after_the_deadline);
    tcase_add_test(tc, test_retry_after_past_the_deadline_gives_up_at_once);
    suite_add_tcase(s, tc);
    return s;
}

AT_UNIT_MAIN(poll_suite)
