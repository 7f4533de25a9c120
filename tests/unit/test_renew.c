/*
 * test_renew.c: the renewal schedule and the failure backoff.
 */
#include <check.h>
#include <stdlib.h>

#include "at_renew.h"
#include "unit_main.h"

#define DAY apr_time_from_sec(24 * 3600)
#define MINUTE apr_time_from_sec(60)

START_TEST(test_90_day_certificate_renews_with_a_third_left)
{
    apr_time_t nb = apr_time_from_sec(1000000), na = nb + 90 * DAY;

    ck_assert_int_eq(at_renew_time(nb, na, NULL), na - 30 * DAY);
}
END_TEST

START_TEST(test_short_lifetime_renews_at_half)
{
    apr_time_t nb = apr_time_from_sec(1000000), na = nb + 6 * DAY;

    ck_assert_int_eq(at_renew_time(nb, na, NULL), na - 3 * DAY);
}
END_TEST

START_TEST(test_window_share_overrides_default)
{
    at_renew_window_t w = {0.5, 0};
    apr_time_t nb = apr_time_from_sec(1000000), na = nb + 90 * DAY;

    ck_assert_int_eq(at_renew_time(nb, na, &w), na - 45 * DAY);
}
END_TEST

START_TEST(test_window_duration_overrides_default)
{
    at_renew_window_t w = {0, 12 * apr_time_from_sec(3600)};
    apr_time_t nb = apr_time_from_sec(1000000), na = nb + 90 * DAY;

    ck_assert_int_eq(at_renew_time(nb, na, &w), na - 12 * apr_time_from_sec(3600));
}
END_TEST

START_TEST(test_window_longer_than_lifetime_waits_a_tenth_of_the_lifetime)
{
    at_renew_window_t w = {0, 400 * DAY};
    apr_time_t nb = apr_time_from_sec(1000000), na = nb + 90 * DAY;

    ck_assert_int_eq(at_renew_time(nb, na, &w), nb + 9 * DAY);
}
END_TEST

START_TEST(test_backoff_steps_without_jitter)
{
    apr_uint32_t middle = 0x7fffffff; /* jitter ~0 */

    ck_assert(llabs(at_renew_backoff(1, middle) - MINUTE) < apr_time_from_sec(1));
    ck_assert(llabs(at_renew_backoff(2, middle) - 10 * MINUTE) < apr_time_from_sec(1));
    ck_assert(llabs(at_renew_backoff(3, middle) - 100 * MINUTE) < apr_time_from_sec(1));
    ck_assert(llabs(at_renew_backoff(4, middle) - DAY) < apr_time_from_sec(10));
    ck_assert(llabs(at_renew_backoff(40, middle) - DAY) < apr_time_from_sec(10));
}
END_TEST

START_TEST(test_backoff_jitter_stays_within_ten_percent)
{
    ck_assert_int_eq(at_renew_backoff(1, 0), MINUTE - MINUTE / 10);
    ck_assert_int_eq(at_renew_backoff(1, 0xffffffffu), MINUTE + MINUTE / 10);
    ck_assert(at_renew_backoff(2, 12345) != at_renew_backoff(2, 0xfffff000u));
}
END_TEST

static Suite *renew_suite(void)
{
    Suite *s = suite_create("renew");
    TCase *tc = tcase_create("policy");

    tcase_add_test(tc, test_90_day_certificate_renews_with_a_third_left);
    tcase_add_test(tc, test_short_lifetime_renews_at_half);
    tcase_add_test(tc, test_window_share_overrides_default);
    tcase_add_test(tc, test_window_duration_overrides_default);
    tcase_add_test(tc, test_window_longer_than_lifetime_waits_a_tenth_of_the_lifetime);
    tcase_add_test(tc, test_backoff_steps_without_jitter);
    tcase_add_test(tc, test_backoff_jitter_stays_within_ten_percent);
    suite_add_tcase(s, tc);
    return s;
}

AT_UNIT_MAIN(renew_suite)
