/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_renew.c: the renewal schedule (lifetime, window, ARI, emergency), the failure backoff and
 * the warn window; and the job state the renewal thread keeps per site in jobs/<site>.json,
 * checked through a real filesystem store: what survives a restart is what is read back.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw */
#endif

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "at_ca.h"
#include "at_core.h"
#include "at_issue.h"
#include "at_job.h"
#include "at_renew.h"
#include "renew_job.h"
#include "unit_main.h"

#define DAY apr_time_from_sec(24 * 3600)
#define MINUTE apr_time_from_sec(60)
#define HOUR apr_time_from_sec(3600)

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

START_TEST(test_ari_moment_is_the_renewal_time)
{
    apr_time_t nb = apr_time_from_sec(1000000), na = nb + 90 * DAY;
    at_renew_plan_t plan = at_renew_plan(nb, na, NULL, na - 20 * DAY);

    ck_assert_int_eq(plan.at, na - 20 * DAY);
    ck_assert_int_eq(plan.by, AT_RENEW_BY_ARI);
    ck_assert_str_eq(at_renew_by_name(plan.by), "ari");
}
END_TEST

START_TEST(test_ari_window_in_the_past_renews_at_once_even_when_young)
{
    /* A CA that revokes wants the renewal now: the tenth-of-lifetime floor does not apply. */
    apr_time_t nb = apr_time_from_sec(1000000), na = nb + 90 * DAY;
    at_renew_plan_t plan = at_renew_plan(nb, na, NULL, nb + MINUTE);

    ck_assert_int_eq(plan.at, nb + MINUTE);
    ck_assert_int_eq(plan.by, AT_RENEW_BY_ARI);
}
END_TEST

START_TEST(test_ari_window_wins_over_the_configured_window)
{
    at_renew_window_t w = {0.5, 0};
    apr_time_t nb = apr_time_from_sec(1000000), na = nb + 90 * DAY;
    at_renew_plan_t plan = at_renew_plan(nb, na, &w, na - 10 * DAY);

    ck_assert_int_eq(plan.at, na - 10 * DAY);
    ck_assert_int_eq(plan.by, AT_RENEW_BY_ARI);
}
END_TEST

START_TEST(test_emergency_overrides_a_late_ari_window)
{
    /* 90 days: the emergency point is 4.5 days before expiry. */
    apr_time_t nb = apr_time_from_sec(1000000), na = nb + 90 * DAY;
    at_renew_plan_t plan = at_renew_plan(nb, na, NULL, na - DAY);

    ck_assert_int_eq(at_renew_emergency_time(nb, na), na - 90 * DAY / 20);
    ck_assert_int_eq(plan.at, na - 90 * DAY / 20);
    ck_assert_int_eq(plan.by, AT_RENEW_BY_EMERGENCY);
    ck_assert_str_eq(at_renew_by_name(plan.by), "emergency");
}
END_TEST

START_TEST(test_emergency_caps_a_configured_window_but_not_an_earlier_one)
{
    at_renew_window_t late = {0, apr_time_from_sec(3600)};
    at_renew_window_t early = {0, 20 * DAY};
    apr_time_t nb = apr_time_from_sec(1000000), na = nb + 90 * DAY;
    at_renew_plan_t plan = at_renew_plan(nb, na, &late, 0);

    ck_assert_int_eq(plan.at, at_renew_emergency_time(nb, na));
    ck_assert_int_eq(plan.by, AT_RENEW_BY_EMERGENCY);
    plan = at_renew_plan(nb, na, &early, 0);
    ck_assert_int_eq(plan.at, na - 20 * DAY);
    ck_assert_int_eq(plan.by, AT_RENEW_BY_WINDOW);
    ck_assert_str_eq(at_renew_by_name(plan.by), "window");
}
END_TEST

START_TEST(test_without_ari_or_window_the_lifetime_decides)
{
    at_renew_window_t unset = {0, 0};
    apr_time_t nb = apr_time_from_sec(1000000), na = nb + 90 * DAY;
    at_renew_plan_t plan = at_renew_plan(nb, na, &unset, 0);

    ck_assert_int_eq(plan.at, na - 30 * DAY);
    ck_assert_int_eq(plan.by, AT_RENEW_BY_LIFETIME);
    ck_assert_str_eq(at_renew_by_name(plan.by), "lifetime");
    plan = at_renew_plan(nb, nb + 6 * DAY, NULL, 0);
    ck_assert_int_eq(plan.at, nb + 3 * DAY);
    ck_assert_int_eq(plan.by, AT_RENEW_BY_LIFETIME);
}
END_TEST

START_TEST(test_retry_after_wins_only_when_longer)
{
    apr_uint32_t middle = 0x7fffffff;
    apr_interval_time_t ours = at_renew_backoff(1, middle);

    ck_assert_int_eq(at_renew_retry_delay(1, middle, 0), ours);
    ck_assert_int_eq(at_renew_retry_delay(1, middle, apr_time_from_sec(5)), ours);
    ck_assert_int_eq(at_renew_retry_delay(1, middle, 3 * HOUR), 3 * HOUR);
    ck_assert_int_eq(at_renew_retry_delay(4, middle, 3 * HOUR), at_renew_backoff(4, middle));
}
END_TEST

START_TEST(test_warn_window_is_a_tenth_or_seven_days_whichever_is_earlier)
{
    apr_time_t nb = apr_time_from_sec(1000000);

    ck_assert_int_eq(at_renew_warn_time(nb, nb + 90 * DAY), nb + 81 * DAY);
    ck_assert_int_eq(at_renew_warn_time(nb, nb + 30 * DAY), nb + 23 * DAY);
    /* shorter than seven days: warned about from its start on */
    ck_assert(at_renew_warn_time(nb, nb + 6 * DAY) <= nb);
}
END_TEST

/* ---- the job state ------------------------------------------------------------------------ */

#define T0 apr_time_from_sec(1700000000)

static apr_pool_t *pool;
static char tmpdir[256];
static at_store_t *store;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void job_setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    snprintf(tmpdir, sizeof(tmpdir), "%s/test_renew.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    ck_assert_int_eq(at_store_fs_open(&store, pool, apr_pstrcat(pool, tmpdir, "/store", NULL)),
                     APR_SUCCESS);
}

static void job_teardown(void)
{
    nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    apr_pool_destroy(pool);
}

static void write_job_file(const char *item, const char *text)
{
    ck_assert_int_eq(
        at_store_save(store, AT_STORE_JOBS, NULL, item, text, strlen(text), AT_STORE_PUBLIC, pool),
        APR_SUCCESS);
}

START_TEST(test_job_state_survives_a_restart)
{
    autotls_job_t job, back;
    apr_array_header_t *failed = apr_array_make(pool, 1, sizeof(at_issue_failed_t));
    at_issue_failed_t *f = apr_array_push(failed);
    apr_interval_time_t delay;

    f->name = "www.a.test";
    f->reason = "connection refused";
    autotls_job_init(&job);
    delay = autotls_job_failed(&job, T0, 0x7fffffff, 0, "the CA is down");
    ck_assert(llabs(delay - MINUTE) < apr_time_from_sec(1));
    apr_cpystrn(job.ari.cert_id, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", sizeof(job.ari.cert_id));
    job.ari.start = T0 + DAY;
    job.ari.end = T0 + 2 * DAY;
    job.ari.chosen = T0 + DAY + HOUR;
    job.ari.next_poll = T0 + 6 * HOUR;
    autotls_job_missing_from_result(&job, failed, T0, 0x7fffffff);
    ck_assert_int_eq(autotls_job_save(&job, store, at_job_item(pool, "a.test"), pool), APR_SUCCESS);

    autotls_job_init(&back);
    ck_assert_int_eq(autotls_job_load(&back, store, "a.test.json", pool), APR_SUCCESS);
    ck_assert_int_eq(back.failures, 1);
    ck_assert_int_eq(back.next_try, apr_time_from_sec(apr_time_sec(job.next_try)));
    ck_assert_str_eq(back.last_error, "the CA is down");
    ck_assert_str_eq(back.ari.cert_id, job.ari.cert_id);
    ck_assert_int_eq(back.ari.start, job.ari.start);
    ck_assert_int_eq(back.ari.end, job.ari.end);
    ck_assert_int_eq(back.ari.chosen, job.ari.chosen);
    ck_assert_int_eq(back.ari.next_poll, job.ari.next_poll);
    ck_assert_int_eq(autotls_job_missing_count(&back), 1);
    ck_assert_str_eq(autotls_job_missing_names(&back, pool), "www.a.test");
    ck_assert(!autotls_job_missing_due(&back, T0 + apr_time_from_sec(50)));
    ck_assert(autotls_job_missing_due(&back, T0 + apr_time_from_sec(70)));
    autotls_job_clear(&job);
    autotls_job_clear(&back);
}
END_TEST

/* What the status snapshot reads from a job file: when the last error came, the CA's problem
 * type, and since when the site has had no certificate. */
START_TEST(test_job_keeps_what_the_status_page_shows)
{
    autotls_job_t job, back;

    autotls_job_init(&job);
    ck_assert(autotls_job_pending(&job, 0, T0));
    ck_assert(!autotls_job_pending(&job, 0, T0 + HOUR)); /* pending since the first look */
    ck_assert_int_eq(job.pending_since, T0);
    autotls_job_failed(&job, T0, 0x7fffffff, 0, "b.test: no such host");
    ck_assert_str_eq(job.last_error_type, "");
    ck_assert(job.last_error_at > 0);
    autotls_job_set_error_detail(&job, "urn:ietf:params:acme:error:dns", T0 + MINUTE);
    ck_assert_int_eq(autotls_job_save(&job, store, "b.test.json", pool), APR_SUCCESS);
    autotls_job_init(&back);
    ck_assert_int_eq(autotls_job_load(&back, store, "b.test.json", pool), APR_SUCCESS);
    ck_assert_str_eq(back.last_error_type, "urn:ietf:params:acme:error:dns");
    ck_assert_int_eq(back.last_error_at, T0 + MINUTE);
    ck_assert_int_eq(back.pending_since, T0);
    /* a certificate ends pending; a success ends the error */
    ck_assert(autotls_job_pending(&back, 1, T0 + DAY));
    ck_assert_int_eq(back.pending_since, 0);
    autotls_job_reset(&back, 0);
    ck_assert_str_eq(back.last_error_type, "");
    ck_assert_int_eq(back.last_error_at, 0);
    autotls_job_clear(&job);
    autotls_job_clear(&back);
}
END_TEST

START_TEST(test_job_missing_file_is_enoent_and_garbage_reads_as_empty)
{
    autotls_job_t job;

    autotls_job_init(&job);
    ck_assert_int_eq(autotls_job_load(&job, store, "none.test.json", pool), APR_ENOENT);
    write_job_file("bad.test.json", "[1, 2, 3]");
    ck_assert_int_eq(autotls_job_load(&job, store, "bad.test.json", pool), AT_EPROTO);
    ck_assert_int_eq(job.failures, 0);
    ck_assert_int_eq(job.next_try, 0);
    autotls_job_clear(&job);
}
END_TEST

START_TEST(test_job_hostile_values_never_stop_a_site)
{
    /* Negative, huge and mistyped values read as "none": the site tries early, never never. */
    autotls_job_t job;

    write_job_file("evil.test.json",
                   "{\"failures\": -5, \"next_try\": \"soon\", \"last_error\": 7, "
                   "\"retry_after\": 99999999999999999, "
                   "\"ari\": {\"cert_id\": \"x.y\", \"start\": 50, \"end\": 10, \"chosen\": 30},"
                   "\"missing\": [{\"name\": 3}, {\"name\": \"b.test\", \"failures\": 1e9}]}");
    autotls_job_init(&job);
    ck_assert_int_eq(autotls_job_load(&job, store, "evil.test.json", pool), APR_SUCCESS);
    ck_assert_int_eq(job.failures, 0);
    ck_assert_int_eq(job.next_try, 0);
    ck_assert_int_eq(job.retry_after, 0);
    ck_assert_str_eq(job.last_error, "");
    ck_assert_int_eq(job.ari.end, 0); /* an inverted window is no window */
    ck_assert_int_eq(job.ari.chosen, 0);
    ck_assert_int_eq(autotls_job_missing_count(&job), 1);
    ck_assert(autotls_job_missing_due(&job, T0));
    autotls_job_clear(&job);
}
END_TEST

START_TEST(test_job_backoff_grows_and_retry_after_wins)
{
    autotls_job_t job;
    apr_interval_time_t delay;

    autotls_job_init(&job);
    autotls_job_failed(&job, T0, 0x7fffffff, 0, "one");
    delay = autotls_job_failed(&job, T0, 0x7fffffff, 0, "two");
    ck_assert(llabs(delay - 10 * MINUTE) < apr_time_from_sec(1));
    ck_assert_int_eq(job.failures, 2);
    ck_assert_int_eq(job.retry_after, 0);
    delay = autotls_job_failed(&job, T0, 0x7fffffff, 5 * HOUR, "rate limited");
    ck_assert_int_eq(delay, 5 * HOUR);
    ck_assert_int_eq(job.next_try, T0 + 5 * HOUR);
    ck_assert_int_eq(job.retry_after, T0 + 5 * HOUR);
    ck_assert_str_eq(job.last_error, "rate limited");
    autotls_job_reset(&job, 0);
    ck_assert_int_eq(job.failures, 0);
    ck_assert_int_eq(job.next_try, 0);
    ck_assert_int_eq(job.retry_after, 0);
    ck_assert_str_eq(job.last_error, "");
    autotls_job_clear(&job);
}
END_TEST

START_TEST(test_job_missing_names_follow_the_served_certificate)
{
    autotls_job_t job;
    apr_array_header_t *site = at_unit_names(pool, "a.test", "www.a.test", "old.a.test", NULL);

    autotls_job_init(&job);
    /* the served certificate lacks two names: both due at once */
    ck_assert_int_eq(autotls_job_missing_reconcile(&job, site, at_unit_names(pool, "a.test", NULL)),
                     2);
    ck_assert_str_eq(autotls_job_missing_names(&job, pool), "www.a.test, old.a.test");
    ck_assert(autotls_job_missing_due(&job, T0));
    /* a retry failed: both back off */
    autotls_job_missing_failed(&job, T0, 0x7fffffff, 0, "still refused");
    ck_assert(!autotls_job_missing_due(&job, T0 + apr_time_from_sec(50)));
    /* the same served set again keeps their backoff; a name now covered (any case) is dropped */
    ck_assert_int_eq(autotls_job_missing_reconcile(
                         &job, site, at_unit_names(pool, "a.test", "OLD.a.test", NULL)),
                     0);
    ck_assert_str_eq(autotls_job_missing_names(&job, pool), "www.a.test");
    ck_assert(!autotls_job_missing_due(&job, T0 + apr_time_from_sec(50)));
    ck_assert(autotls_job_missing_due(&job, T0 + apr_time_from_sec(70)));
    /* everything covered: nothing missing */
    ck_assert_int_eq(autotls_job_missing_reconcile(&job, site, site), 0);
    ck_assert_int_eq(autotls_job_missing_count(&job), 0);
    ck_assert(!autotls_job_missing_due(&job, T0 + DAY));
    autotls_job_clear(&job);
}
END_TEST

START_TEST(test_job_partial_result_gives_each_name_its_own_backoff)
{
    autotls_job_t job;
    apr_array_header_t *failed = apr_array_make(pool, 2, sizeof(at_issue_failed_t));
    at_issue_failed_t *f;

    autotls_job_init(&job);
    f = apr_array_push(failed);
    f->name = "b.test";
    f->reason = "b refused";
    autotls_job_missing_from_result(&job, failed, T0, 0x7fffffff);
    autotls_job_missing_from_result(&job, failed, T0 + HOUR, 0x7fffffff);
    /* b failed twice: 10 minutes; c fails for the first time: 1 minute */
    f = apr_array_push(failed);
    f->name = "c.test";
    f->reason = "c refused";
    autotls_job_missing_from_result(&job, failed, T0 + 2 * HOUR, 0x7fffffff);
    ck_assert_str_eq(autotls_job_missing_names(&job, pool), "b.test, c.test");
    ck_assert(llabs(autotls_job_missing_next_try(&job) - (T0 + 2 * HOUR + MINUTE)) <
              apr_time_from_sec(1));
    ck_assert(autotls_job_missing_due(&job, T0 + 2 * HOUR + 2 * MINUTE));
    /* a later full certificate: nothing missing any more */
    autotls_job_missing_from_result(&job, NULL, T0 + 3 * HOUR, 0);
    ck_assert_int_eq(autotls_job_missing_count(&job), 0);
    autotls_job_clear(&job);
}
END_TEST

START_TEST(test_job_operator_reset_clears_every_backoff)
{
    autotls_job_t job;

    autotls_job_init(&job);
    autotls_job_failed(&job, T0, 0, 0, "down");
    autotls_job_missing_reconcile(&job, at_unit_names(pool, "a.test", "b.test", NULL),
                                  at_unit_names(pool, "a.test", NULL));
    autotls_job_missing_failed(&job, T0, 0, HOUR, "down");
    ck_assert(!autotls_job_missing_due(&job, T0 + MINUTE));
    autotls_job_reset(&job, 1);
    ck_assert_int_eq(job.failures, 0);
    ck_assert_int_eq(job.next_try, 0);
    ck_assert(autotls_job_missing_due(&job, T0));
    autotls_job_clear(&job);
}
END_TEST

START_TEST(test_job_request_items_name_their_site)
{
    ck_assert_str_eq(at_job_request_item(pool, "a.test"), "a.test.renew");
    ck_assert_str_eq(at_job_request_site(pool, "www.a.test.renew"), "www.a.test");
    ck_assert_ptr_null(at_job_request_site(pool, "a.test.json"));
    ck_assert_ptr_null(at_job_request_site(pool, ".renew"));
    ck_assert_ptr_null(at_job_request_site(pool, "renew"));
    ck_assert_str_eq(at_job_item(pool, "a.test"), "a.test.json");
    ck_assert_str_eq(
        at_job_rate_item(pool, "https://ca.test/dir"),
        apr_pstrcat(pool, "_rate-", at_store_ca_name(pool, "https://ca.test/dir"), ".json", NULL));
    ck_assert_str_eq(at_job_account_item(pool, "https://ca.test/dir"),
                     apr_pstrcat(pool, "_account-", at_store_ca_name(pool, "https://ca.test/dir"),
                                 ".json", NULL));
}
END_TEST

START_TEST(test_job_texts_for_log_lines)
{
    ck_assert_str_eq(autotls_job_time_text(pool, T0), "2023-11-14T22:13:20Z");
    ck_assert_str_eq(autotls_job_duration_text(pool, 3 * DAY + 4 * HOUR + 5 * MINUTE), "3d 4h");
    ck_assert_str_eq(autotls_job_duration_text(pool, 5 * HOUR + 7 * MINUTE), "5h 7m");
    ck_assert_str_eq(autotls_job_duration_text(pool, 12 * MINUTE + apr_time_from_sec(3)), "12m 3s");
    ck_assert_str_eq(autotls_job_duration_text(pool, -apr_time_from_sec(42)), "42s");
}
END_TEST

START_TEST(test_time_text_is_rfc3339_utc_and_parses_back)
{
    apr_time_t back = 0;

    ck_assert_str_eq(at_rfc3339_format(pool, T0), "2023-11-14T22:13:20Z");
    ck_assert_int_eq(at_rfc3339_parse(&back, at_rfc3339_format(pool, T0 + DAY + 7 * MINUTE)),
                     APR_SUCCESS);
    ck_assert_int_eq(back, T0 + DAY + 7 * MINUTE);
    ck_assert_str_eq(at_rfc3339_format(pool, 0), "1970-01-01T00:00:00Z");
}
END_TEST

/* Two CAs for the failover tests: a list as autotls_config_cas gives it. */
static apr_array_header_t *two_cas(void)
{
    apr_array_header_t *cas = apr_array_make(pool, 2, sizeof(at_ca_spec_t));
    at_ca_spec_t *a = apr_array_push(cas), *b = apr_array_push(cas);

    memset(a, 0, sizeof(*a));
    memset(b, 0, sizeof(*b));
    a->url = "https://ca1.test/dir";
    b->url = "https://ca2.test/dir";
    return cas;
}

START_TEST(test_job_ca_position_survives_a_restart_and_issuance_returns_to_the_first)
{
    apr_array_header_t *cas = two_cas();
    at_ca_position_t pos = {1, 1};
    autotls_job_t job, back;

    autotls_job_init(&job);
    pos = autotls_job_ca_position(&job, cas); /* a new site: the first CA */
    ck_assert_int_eq(pos.index, 0);
    ck_assert_int_eq(pos.failures, 0);
    pos.index = 1;
    pos.failures = 1;
    autotls_job_ca_set(&job, cas, pos);
    ck_assert_int_eq(autotls_job_save(&job, store, "a.test.json", pool), APR_SUCCESS);
    autotls_job_init(&back);
    ck_assert_int_eq(autotls_job_load(&back, store, "a.test.json", pool), APR_SUCCESS);
    ck_assert_str_eq(back.ca, "https://ca2.test/dir");
    pos = autotls_job_ca_position(&back, cas);
    ck_assert_int_eq(pos.index, 1);
    ck_assert_int_eq(pos.failures, 1);

    autotls_job_issued(&back, cas, 1, "0A1B");
    ck_assert_str_eq(back.issued_ca, "https://ca2.test/dir");
    pos = autotls_job_ca_position(&back, cas); /* the next renewal: the first CA again */
    ck_assert_int_eq(pos.index, 0);
    ck_assert_int_eq(pos.failures, 0);
    ck_assert_int_eq(autotls_job_save(&back, store, "a.test.json", pool), APR_SUCCESS);
    autotls_job_clear(&job);
    autotls_job_init(&job);
    ck_assert_int_eq(autotls_job_load(&job, store, "a.test.json", pool), APR_SUCCESS);
    ck_assert_str_eq(job.issued_ca, "https://ca2.test/dir");
    ck_assert_str_eq(job.issued_serial, "0A1B");
    ck_assert_str_eq(job.ca, "");
    autotls_job_clear(&job);
    autotls_job_clear(&back);
}
END_TEST

START_TEST(test_job_issuer_is_known_only_for_the_certificate_it_issued)
{
    apr_array_header_t *cas = two_cas(), *one = apr_array_make(pool, 1, sizeof(at_ca_spec_t));
    autotls_job_t job;

    APR_ARRAY_PUSH(one, at_ca_spec_t) = APR_ARRAY_IDX(cas, 0, at_ca_spec_t);
    autotls_job_init(&job);
    /* no record (a job file from before several CAs): the only CA's, else nobody's */
    ck_assert_int_eq(autotls_job_issuer(&job, one, "0A1B"), 0);
    ck_assert_int_eq(autotls_job_issuer(&job, cas, "0A1B"), -1);
    autotls_job_issued(&job, cas, 1, "0A1B");
    ck_assert_int_eq(autotls_job_issuer(&job, cas, "0a1b"), 1);
    /* another certificate is served (the activator refused the new one): not known */
    ck_assert_int_eq(autotls_job_issuer(&job, cas, "FFFF"), -1);
    ck_assert_int_eq(autotls_job_issuer(&job, cas, NULL), -1);
    /* the CA that issued it is no longer listed: nobody is asked about it */
    ck_assert_int_eq(autotls_job_issuer(&job, one, "0A1B"), -1);
    autotls_job_clear(&job);
}
END_TEST

START_TEST(test_job_ca_of_a_list_that_changed_is_the_first)
{
    apr_array_header_t *cas = two_cas();
    at_ca_position_t pos;
    autotls_job_t job;

    write_job_file("a.test.json", "{\"ca\": \"https://gone.test/dir\", \"ca_failures\": 7, "
                                  "\"issued_ca\": 5, \"issued_serial\": [1]}");
    autotls_job_init(&job);
    ck_assert_int_eq(autotls_job_load(&job, store, "a.test.json", pool), APR_SUCCESS);
    pos = autotls_job_ca_position(&job, cas);
    ck_assert_int_eq(pos.index, 0);
    ck_assert_int_eq(pos.failures, 0);
    ck_assert_str_eq(job.issued_ca, ""); /* wrong types read as none */
    ck_assert_str_eq(job.issued_serial, "");
    autotls_job_clear(&job);
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
    tcase_add_test(tc, test_ari_moment_is_the_renewal_time);
    tcase_add_test(tc, test_ari_window_in_the_past_renews_at_once_even_when_young);
    tcase_add_test(tc, test_ari_window_wins_over_the_configured_window);
    tcase_add_test(tc, test_emergency_overrides_a_late_ari_window);
    tcase_add_test(tc, test_emergency_caps_a_configured_window_but_not_an_earlier_one);
    tcase_add_test(tc, test_without_ari_or_window_the_lifetime_decides);
    tcase_add_test(tc, test_retry_after_wins_only_when_longer);
    tcase_add_test(tc, test_warn_window_is_a_tenth_or_seven_days_whichever_is_earlier);
    suite_add_tcase(s, tc);
    tc = tcase_create("job");
    tcase_add_checked_fixture(tc, job_setup, job_teardown);
    tcase_add_test(tc, test_job_state_survives_a_restart);
    tcase_add_test(tc, test_job_keeps_what_the_status_page_shows);
    tcase_add_test(tc, test_job_missing_file_is_enoent_and_garbage_reads_as_empty);
    tcase_add_test(tc, test_job_hostile_values_never_stop_a_site);
    tcase_add_test(tc, test_job_backoff_grows_and_retry_after_wins);
    tcase_add_test(tc, test_job_missing_names_follow_the_served_certificate);
    tcase_add_test(tc, test_job_partial_result_gives_each_name_its_own_backoff);
    tcase_add_test(tc, test_job_operator_reset_clears_every_backoff);
    tcase_add_test(tc, test_job_request_items_name_their_site);
    tcase_add_test(tc, test_job_texts_for_log_lines);
    tcase_add_test(tc, test_job_ca_position_survives_a_restart_and_issuance_returns_to_the_first);
    tcase_add_test(tc, test_job_issuer_is_known_only_for_the_certificate_it_issued);
    tcase_add_test(tc, test_job_ca_of_a_list_that_changed_is_the_first);
    tcase_add_test(tc, test_time_text_is_rfc3339_utc_and_parses_back);
    suite_add_tcase(s, tc);
    return s;
}

AT_UNIT_MAIN(renew_suite)
