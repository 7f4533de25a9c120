/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ratelimit.c: the CA's order bucket and the meaning of a 429 (at_ratelimit.h).
 *
 * The one idea: the bucket is driven by a fake clock (every call takes now), so each test reads
 * as a timeline: burst, refill one token per step, a 429 that empties it until the CA's
 * Retry-After, renewals the CA exempts. The 429s are problem documents as Let's Encrypt
 * (Boulder) words them.
 */
#include <string.h>

#include <apr_general.h>
#include <check.h>

#include "unit_main.h"
#include "at_ca.h"
#include "at_core.h"
#include "at_ratelimit.h"

#define T0 apr_time_from_sec(1700000000)
#define SEC(n) apr_time_from_sec(n)

static apr_pool_t *pool;

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

/* Orders taken at now until the bucket refuses. */
static int take_all(at_bucket_t *b, apr_time_t now)
{
    int n = 0;

    while (n < 1000 && at_bucket_take(b, now, 0)) {
        ++n;
    }
    return n;
}

START_TEST(test_bucket_gives_its_burst_then_one_token_per_refill_step)
{
    at_bucket_t b;

    at_bucket_init(&b, at_rate_make(5, SEC(10)), T0);
    ck_assert_int_eq(take_all(&b, T0), 5);
    ck_assert(at_bucket_next(&b, T0, 0) == T0 + SEC(2));
    ck_assert_int_eq(take_all(&b, T0 + SEC(2) - 1), 0);
    ck_assert_int_eq(take_all(&b, T0 + SEC(2)), 1);
    ck_assert_int_eq(take_all(&b, T0 + SEC(5)), 1); /* 4 s: two steps, one was taken */
    ck_assert(at_bucket_next(&b, T0 + SEC(5), 0) == T0 + SEC(6));
    ck_assert_int_eq(take_all(&b, T0 + SEC(6)), 1);
    /* a long pause fills it, never beyond the burst */
    ck_assert_int_eq(at_bucket_tokens(&b, T0 + SEC(3600)), 5);
    ck_assert_int_eq(take_all(&b, T0 + SEC(3600)), 5);
}
END_TEST

START_TEST(test_bucket_refill_of_a_full_bucket_starts_at_the_first_take)
{
    at_bucket_t b;

    at_bucket_init(&b, at_rate_make(2, SEC(10)), T0);
    ck_assert(at_bucket_take(&b, T0 + SEC(100), 0));
    ck_assert(at_bucket_take(&b, T0 + SEC(100), 0));
    ck_assert(!at_bucket_take(&b, T0 + SEC(104), 0));
    ck_assert(at_bucket_take(&b, T0 + SEC(105), 0));
}
END_TEST

START_TEST(test_bucket_state_keeps_its_stamp_to_the_millisecond)
{
    at_bucket_t b, c;
    json_t *json;

    at_bucket_init(&b, at_rate_make(3, SEC(15)), T0 + apr_time_from_msec(900));
    ck_assert(at_bucket_take(&b, T0 + apr_time_from_msec(900), 0));
    json = at_bucket_to_json(&b);
    at_bucket_init(&c, at_rate_make(3, SEC(15)), T0);
    at_bucket_from_json(&c, json, T0 + SEC(1));
    json_decref(json);
    ck_assert(c.stamp == T0 + apr_time_from_msec(900));
    /* the next token comes 5 s after the take, not 5 s after its whole second */
    ck_assert(at_bucket_next(&c, T0 + SEC(2), 0) == T0 + SEC(2));
    ck_assert(at_bucket_take(&c, T0 + SEC(2), 0) && at_bucket_take(&c, T0 + SEC(2), 0));
    ck_assert(at_bucket_next(&c, T0 + SEC(2), 0) == T0 + apr_time_from_msec(5900));
}
END_TEST

START_TEST(test_a_refund_gives_back_one_token_never_beyond_the_burst)
{
    at_bucket_t b;

    at_bucket_init(&b, at_rate_make(2, SEC(10)), T0);
    at_bucket_refund(&b, T0);
    ck_assert_int_eq(at_bucket_tokens(&b, T0), 2);
    ck_assert(at_bucket_take(&b, T0, 0));
    ck_assert(at_bucket_take(&b, T0, 0));
    ck_assert(!at_bucket_take(&b, T0 + SEC(1), 0));
    at_bucket_refund(&b, T0 + SEC(1));
    ck_assert(at_bucket_take(&b, T0 + SEC(1), 0));
    ck_assert(!at_bucket_take(&b, T0 + SEC(1), 0));
    /* the refill that was running goes on: the next token still comes at T0 + 5 s */
    ck_assert(at_bucket_take(&b, T0 + SEC(5), 0));
    /* while a 429 holds the bucket, a refund adds nothing to what the drain allows after it */
    at_bucket_drain(&b, T0 + SEC(6), SEC(60));
    at_bucket_refund(&b, T0 + SEC(7));
    ck_assert_int_eq(at_bucket_tokens(&b, T0 + SEC(66)), 1);
}
END_TEST

START_TEST(test_letsencrypt_default_is_300_per_3h_and_others_unlimited)
{
    at_rate_t le = at_rate_default(AT_CA_LETSENCRYPT);
    at_rate_t staging = at_rate_default("HTTPS://acme-staging-v02.api.letsencrypt.org/directory/");
    at_rate_t other = at_rate_default("https://127.0.0.1:14000/dir");
    at_bucket_t b;

    ck_assert_int_eq(le.burst, 300);
    ck_assert(le.refill == SEC(36));
    ck_assert_int_eq(staging.burst, 300);
    ck_assert_int_eq(other.burst, 0);
    ck_assert_int_eq(at_rate_default("https://acme-v02.api.letsencrypt.org/directory2").burst, 0);
    ck_assert_str_eq(at_rate_text(pool, le), "300/3h");
    ck_assert_str_eq(at_rate_text(pool, at_rate_make(5, SEC(10))), "5/10s");
    ck_assert_str_eq(at_rate_text(pool, other), "unlimited");
    at_bucket_init(&b, other, T0);
    ck_assert_int_eq(take_all(&b, T0), 1000);
}
END_TEST

START_TEST(test_account_429_drains_the_bucket_until_the_retry_after)
{
    at_bucket_t b;

    at_bucket_init(&b, at_rate_make(300, SEC(3 * 3600)), T0);
    ck_assert_int_eq(take_all(&b, T0), 300);
    at_bucket_init(&b, at_rate_make(300, SEC(3 * 3600)), T0);
    ck_assert(at_bucket_take(&b, T0, 0));
    at_bucket_drain(&b, T0, SEC(600));
    ck_assert_int_eq(at_bucket_tokens(&b, T0 + SEC(599)), 0);
    ck_assert(!at_bucket_take(&b, T0 + SEC(599), 0));
    ck_assert(at_bucket_next(&b, T0, 0) == T0 + SEC(600));
    /* one token at the Retry-After, the next one a refill step later */
    ck_assert_int_eq(take_all(&b, T0 + SEC(600)), 1);
    ck_assert(at_bucket_next(&b, T0 + SEC(600), 0) == T0 + SEC(636));
    ck_assert_int_eq(take_all(&b, T0 + SEC(636)), 1);
}
END_TEST

START_TEST(test_account_429_holds_an_unlimited_bucket_and_exempt_renewals_too)
{
    at_bucket_t b;

    at_bucket_init(&b, at_rate_make(0, 0), T0);
    at_bucket_drain(&b, T0, SEC(30));
    ck_assert(!at_bucket_take(&b, T0 + SEC(29), 0));
    ck_assert(!at_bucket_take(&b, T0 + SEC(29), 1));
    ck_assert(at_bucket_next(&b, T0, 1) == T0 + SEC(30));
    ck_assert(at_bucket_take(&b, T0 + SEC(30), 0));
    /* without a Retry-After: our default */
    at_bucket_drain(&b, T0 + SEC(100), 0);
    ck_assert(at_bucket_next(&b, T0 + SEC(100), 0) == T0 + SEC(100) + AT_RATE_DRAIN_DEFAULT);
}
END_TEST

START_TEST(test_exempt_renewals_spend_no_token)
{
    at_bucket_t b;
    int i;

    at_bucket_init(&b, at_rate_make(2, SEC(10)), T0);
    for (i = 0; i < 50; ++i) {
        ck_assert(at_bucket_take(&b, T0, 1));
    }
    ck_assert_int_eq(at_bucket_tokens(&b, T0), 2);
    ck_assert_int_eq(take_all(&b, T0), 2);
    ck_assert(at_bucket_take(&b, T0, 1)); /* an empty bucket does not stop them */
    ck_assert(at_bucket_next(&b, T0, 1) == T0);
}
END_TEST

START_TEST(test_bucket_state_survives_json_and_refuses_nonsense)
{
    at_rate_t rate = at_rate_make(5, SEC(10));
    at_bucket_t b, c;
    json_t *json;

    at_bucket_init(&b, rate, T0);
    take_all(&b, T0);
    at_bucket_drain(&b, T0, SEC(60));
    json = at_bucket_to_json(&b);
    at_bucket_init(&c, rate, T0 + SEC(1));
    at_bucket_from_json(&c, json, T0 + SEC(1));
    json_decref(json);
    ck_assert_int_eq(at_bucket_tokens(&c, T0 + SEC(59)), 0);
    ck_assert(c.blocked_until == T0 + SEC(60));
    ck_assert_int_eq(take_all(&c, T0 + SEC(60)), 1);

    /* planted: more tokens than the burst, a wait of a year, a stamp in the future */
    json = json_pack("{s:i, s:I, s:I}", "tokens", 1000000, "stamp",
                     (json_int_t)apr_time_sec(T0 + SEC(86400 * 365)), "blocked_until",
                     (json_int_t)apr_time_sec(T0 + SEC(86400 * 365)));
    at_bucket_init(&c, rate, T0);
    at_bucket_from_json(&c, json, T0);
    json_decref(json);
    ck_assert(c.blocked_until == 0);
    ck_assert_int_eq(c.tokens, 5);
    ck_assert(c.stamp == T0);
    /* not an object of ours: the bucket stays full */
    json = json_string("x");
    at_bucket_init(&c, rate, T0);
    at_bucket_from_json(&c, json, T0);
    json_decref(json);
    ck_assert_int_eq(take_all(&c, T0), 5);
}
END_TEST

/* --- classification ----------------------------------------------------------------------------
 */

static at_acme_problem_t *problem(const char *type, int status, const char *detail)
{
    at_acme_problem_t *pb = apr_pcalloc(pool, sizeof(*pb));

    pb->type = type;
    pb->status = status;
    pb->detail = detail;
    pb->subproblems = apr_array_make(pool, 0, sizeof(at_acme_problem_t *));
    return pb;
}

#define RATE_LIMITED "urn:ietf:params:acme:error:rateLimited"

static at_ratelimit_e classify(const char *detail, const char **subject)
{
    return at_ratelimit_classify(problem(RATE_LIMITED, 429, detail), subject, pool);
}

START_TEST(test_classify_letsencrypt_problem_documents)
{
    const char *subject = "unset";

    ck_assert_int_eq(classify("too many new orders (300) from this account in the last 3h0m0s, "
                              "retry after 2025-01-01 10:00:36 UTC: see "
                              "https://letsencrypt.org/docs/rate-limits/#new-orders-per-account",
                              &subject),
                     AT_RATELIMIT_ACCOUNT);
    ck_assert_ptr_null(subject);
    ck_assert_int_eq(classify("too many certificates (50) already issued for \"Example.COM\" in "
                              "the last 168h0m0s, retry after 2025-01-02 03:04:05 UTC: see "
                              "https://letsencrypt.org/docs/rate-limits/"
                              "#new-certificates-per-registered-domain",
                              &subject),
                     AT_RATELIMIT_DOMAIN);
    ck_assert_str_eq(subject, "example.com");
    ck_assert_int_eq(classify("too many certificates (5) already issued for this exact set of "
                              "identifiers in the last 168h0m0s, retry after 2025-09-18 09:13:16 "
                              "UTC",
                              &subject),
                     AT_RATELIMIT_DUPLICATE);
    ck_assert_ptr_null(subject);
    ck_assert_int_eq(classify("too many failed authorizations (5) for \"www.example.org\" in the "
                              "last 1h0m0s, retry after 2025-01-01 11:00:00 UTC",
                              &subject),
                     AT_RATELIMIT_AUTHZ);
    ck_assert_str_eq(subject, "www.example.org");
    /* the older wording (before 2024) */
    ck_assert_int_eq(classify("Error creating new order :: too many certificates already issued "
                              "for \"sslip.io\". Retry after 2024-10-01T18:00:00Z: see "
                              "https://letsencrypt.org/docs/rate-limits/",
                              &subject),
                     AT_RATELIMIT_DOMAIN);
    ck_assert_str_eq(subject, "sslip.io");
    ck_assert_int_eq(classify("Error creating new order :: too many certificates already issued "
                              "for: example.net: see https://letsencrypt.org/docs/rate-limits/",
                              &subject),
                     AT_RATELIMIT_DOMAIN);
    ck_assert_str_eq(subject, "example.net");
    ck_assert_int_eq(classify("Error creating new order :: too many failed authorizations "
                              "recently: see https://letsencrypt.org/docs/failed-validation-limit/",
                              &subject),
                     AT_RATELIMIT_AUTHZ);
    ck_assert_ptr_null(subject);
    ck_assert_int_eq(classify("Error creating new order :: too many currently pending "
                              "authorizations: see https://letsencrypt.org/docs/rate-limits/",
                              &subject),
                     AT_RATELIMIT_ACCOUNT);
    ck_assert_int_eq(classify("slow down", &subject), AT_RATELIMIT_OTHER);
    ck_assert_int_eq(classify("", &subject), AT_RATELIMIT_OTHER);
}
END_TEST

START_TEST(test_classify_needs_a_rate_limit)
{
    const char *subject = "unset";

    ck_assert_int_eq(at_ratelimit_classify(NULL, &subject, pool), AT_RATELIMIT_NONE);
    ck_assert_int_eq(at_ratelimit_classify(problem("urn:ietf:params:acme:error:malformed", 400,
                                                   "too many new orders"),
                                           &subject, pool),
                     AT_RATELIMIT_NONE);
    ck_assert_ptr_null(subject);
    /* a 429 that is not typed rateLimited is one all the same */
    ck_assert_int_eq(at_ratelimit_classify(problem("about:blank", 429,
                                                   "too many new orders (5) "
                                                   "from this account"),
                                           &subject, pool),
                     AT_RATELIMIT_ACCOUNT);
    /* a quoted subject that is no DNS name is not trusted */
    ck_assert_int_eq(
        classify("too many certificates (50) already issued for \"\" in the last", &subject),
        AT_RATELIMIT_OTHER);
    ck_assert_ptr_null(subject);
}
END_TEST

START_TEST(test_names_under_a_registered_domain)
{
    ck_assert(at_ratelimit_name_under("example.com", "example.com"));
    ck_assert(at_ratelimit_name_under("a.b.Example.com", "example.COM"));
    ck_assert(!at_ratelimit_name_under("badexample.com", "example.com"));
    ck_assert(!at_ratelimit_name_under("example.com", "a.example.com"));
    ck_assert(!at_ratelimit_name_under("example.com", ""));
}
END_TEST

/* The CA goes away: the first failure closes the gate, stragglers do not lengthen the wait, one
 * probe a step goes, each failed probe doubles the step up to the cap, an answer opens it. */
START_TEST(test_unreachable_ca_gets_one_probe_a_step_until_it_answers)
{
    at_reach_t reach;
    apr_time_t now = T0;
    int i;

    memset(&reach, 0, sizeof(reach));
    ck_assert(at_reach_take(&reach, now));
    ck_assert_int_eq(at_reach_next(&reach), 0);
    ck_assert(at_reach_is_transport_failure(AT_EHTTP));
    ck_assert(!at_reach_is_transport_failure(AT_EPROBLEM));
    ck_assert(!at_reach_is_transport_failure(AT_ETIMEOUT));
    ck_assert(at_reach_is_answer(AT_EPROBLEM) && at_reach_is_answer(APR_SUCCESS));
    ck_assert(!at_reach_is_answer(AT_EHTTP) && !at_reach_is_answer(AT_EARG));

    ck_assert_int_eq(at_reach_failed(&reach, now), 1);          /* the change: logged once */
    ck_assert_int_eq(at_reach_failed(&reach, now + SEC(1)), 0); /* a straggler */
    ck_assert_int_eq(at_reach_next(&reach), now + AT_REACH_STEP_FIRST);
    ck_assert(!at_reach_take(&reach, now + SEC(29)));

    now += AT_REACH_STEP_FIRST;
    ck_assert(at_reach_take(&reach, now));  /* the probe */
    ck_assert(!at_reach_take(&reach, now)); /* nobody else */
    ck_assert_int_eq(at_reach_failed(&reach, now + SEC(1)), 0);
    ck_assert_int_eq(at_reach_next(&reach), now + SEC(1) + 2 * AT_REACH_STEP_FIRST);

    for (i = 0; i < 10; i++) {
        now = at_reach_next(&reach);
        ck_assert(at_reach_take(&reach, now));
        at_reach_failed(&reach, now);
    }
    ck_assert_int_eq(at_reach_next(&reach) - now, AT_REACH_STEP_MAX);

    now = at_reach_next(&reach);
    ck_assert(at_reach_take(&reach, now));
    ck_assert_int_eq(at_reach_answered(&reach), 1);
    ck_assert_int_eq(at_reach_answered(&reach), 0);
    ck_assert(at_reach_take(&reach, now));
    ck_assert_int_eq(at_reach_next(&reach), 0);
}
END_TEST
static Suite *ratelimit_suite(void)
{
    Suite *s = suite_create("ratelimit");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_bucket_gives_its_burst_then_one_token_per_refill_step);
    tcase_add_test(tc, test_bucket_refill_of_a_full_bucket_starts_at_the_first_take);
    tcase_add_test(tc, test_a_refund_gives_back_one_token_never_beyond_the_burst);
    tcase_add_test(tc, test_bucket_state_keeps_its_stamp_to_the_millisecond);
    tcase_add_test(tc, test_letsencrypt_default_is_300_per_3h_and_others_unlimited);
    tcase_add_test(tc, test_account_429_drains_the_bucket_until_the_retry_after);
    tcase_add_test(tc, test_account_429_holds_an_unlimited_bucket_and_exempt_renewals_too);
    tcase_add_test(tc, test_exempt_renewals_spend_no_token);
    tcase_add_test(tc, test_bucket_state_survives_json_and_refuses_nonsense);
    tcase_add_test(tc, test_classify_letsencrypt_problem_documents);
    tcase_add_test(tc, test_classify_needs_a_rate_limit);
    tcase_add_test(tc, test_names_under_a_registered_domain);
    tcase_add_test(tc, test_unreachable_ca_gets_one_probe_a_step_until_it_answers);
    suite_add_tcase(s, tc);
    return s;
}

AT_UNIT_MAIN(ratelimit_suite)
