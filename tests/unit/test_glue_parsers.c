/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_glue_parsers.c: the pure decisions of the httpd glue that the fuzzers call directly: which
 * request the http-01 responder answers (challenge_match.c) and what each directive value means
 * (config_parse.c).
 *
 * The one idea: these run on text an attacker or an admin chose, so each test pins one boundary,
 * and the crashes the fuzzers found (tests/fuzz/regressions/) are pinned here too.
 */
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <check.h>

#include "unit_main.h"
#include "at_core.h"
#include "challenge_match.h"
#include "config_parse.h"

#define PREFIX AUTOTLS_CHALLENGE_PREFIX
#define MANAGED "www.example.com"
#define TOKEN "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
#define STORE_NAME_MAX 255 /* at_store.h: the longest item name the store holds */
#define USEC_PER_DAY (24LL * 3600 * APR_USEC_PER_SEC)

static apr_pool_t *pool;

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

static int managed(const void *baton, const char *host)
{
    (void)baton;
    return strcasecmp(host, MANAGED) == 0;
}

static const char *token_of(int is_get, const char *path, const char *host)
{
    return autotls_challenge_token(is_get, path, host, managed, NULL);
}

/* --- the http-01 responder's decision -----------------------------------------------------------
 */

START_TEST(test_challenge_get_of_a_token_for_a_managed_host_is_answered)
{
    const char *path = PREFIX TOKEN;

    ck_assert_ptr_eq(token_of(1, path, MANAGED), path + strlen(PREFIX));
    ck_assert_ptr_eq(token_of(1, path, "WWW.Example.COM"), path + strlen(PREFIX));
}
END_TEST

START_TEST(test_challenge_other_methods_hosts_and_paths_are_declined)
{
    ck_assert_ptr_null(token_of(0, PREFIX TOKEN, MANAGED));
    ck_assert_ptr_null(token_of(1, PREFIX TOKEN, NULL));
    ck_assert_ptr_null(token_of(1, PREFIX TOKEN, "evil.example"));
    ck_assert_ptr_null(token_of(1, NULL, MANAGED));
    ck_assert_ptr_null(token_of(1, "/.well-known/acme-challenge", MANAGED));
    ck_assert_ptr_null(token_of(1, "/.WELL-KNOWN/acme-challenge/" TOKEN, MANAGED));
    ck_assert_ptr_null(token_of(1, "/x" PREFIX TOKEN, MANAGED));
}
END_TEST

static const char *const hostile_tokens[] = {
    "",        "../../secret.pem",
    "..",      "%2e%2e%2fsecret.pem",
    "a%2Fb",   "a/b",
    "tok.en",  TOKEN "?x=1",
    "tok+en",  "tok en",
    "tok\ten", "tok=",
};

START_TEST(test_challenge_tokens_that_are_not_base64url_are_declined)
{
    const char *path = apr_pstrcat(pool, PREFIX, hostile_tokens[_i], NULL);

    ck_assert_ptr_null(token_of(1, path, MANAGED));
}
END_TEST

/* Found by fuzz_challenge (regressions/challenge/token-256-not-a-store-name): a 256-character
 * token passed the responder's check but not the store's, so each such request cost two log
 * lines (the store's refusal and the responder's warning). */
START_TEST(test_challenge_token_longer_than_a_store_name_is_declined)
{
    char token[STORE_NAME_MAX + 2];
    const char *path;

    memset(token, 'A', sizeof(token) - 1);
    token[sizeof(token) - 1] = '\0';
    path = apr_pstrcat(pool, PREFIX, token, NULL);
    ck_assert_ptr_null(token_of(1, path, MANAGED));
    token[STORE_NAME_MAX] = '\0';
    path = apr_pstrcat(pool, PREFIX, token, NULL);
    ck_assert_ptr_eq(token_of(1, path, MANAGED), path + strlen(PREFIX));
}
END_TEST

START_TEST(test_challenge_path_is_the_prefix_test_the_gate_uses)
{
    ck_assert(autotls_challenge_path(PREFIX));
    ck_assert(autotls_challenge_path(PREFIX "anything/at/all"));
    ck_assert(!autotls_challenge_path("/.well-known/acme-challenge"));
    ck_assert(!autotls_challenge_path(NULL));
}
END_TEST

/* --- directive values
 * ----------------------------------------------------------------------------- */

START_TEST(test_window_accepts_percent_and_durations_and_names_what_is_wrong)
{
    autotls_window_t w = {AUTOTLS_WINDOW_UNSET, 0, 0};
    const char *why = NULL;

    ck_assert_int_eq(autotls_parse_window(&w, &why, "33%"), APR_SUCCESS);
    ck_assert_int_eq(w.kind, AUTOTLS_WINDOW_PERCENT);
    ck_assert_int_eq(w.percent, 33);
    ck_assert_int_eq(autotls_parse_window(&w, &why, "30D"), APR_SUCCESS);
    ck_assert_int_eq(w.kind, AUTOTLS_WINDOW_DURATION);
    ck_assert(w.duration == 30 * USEC_PER_DAY);
    ck_assert_int_eq(autotls_parse_window(&w, &why, "100%"), AT_EARG);
    ck_assert_str_eq(why, "is not a percentage from 1 to 99");
    ck_assert_int_eq(autotls_parse_window(&w, &why, "99999999999999999999d"), AT_EARG);
    ck_assert_str_eq(why, "is too large");
    ck_assert_int_eq(autotls_parse_window(&w, &why, "9223372036854775807s"), AT_EARG);
    ck_assert_str_eq(why, "is too large");
    ck_assert_int_eq(autotls_parse_window(&w, &why, "0d"), AT_EARG);
    ck_assert_str_eq(why, "is zero");
    ck_assert_int_eq(autotls_parse_window(&w, &why, "30 d"), AT_EARG);
    ck_assert(w.duration == 30 * USEC_PER_DAY); /* untouched by a refusal */
}
END_TEST

START_TEST(test_port_flag_and_ca_accept_only_their_forms)
{
    const char *url = NULL, *why = NULL;
    int port = 0, on = -1;

    ck_assert_int_eq(autotls_parse_port(&port, "65535"), APR_SUCCESS);
    ck_assert_int_eq(port, 65535);
    ck_assert_int_eq(autotls_parse_port(&port, "65536"), AT_EARG);
    ck_assert_int_eq(autotls_parse_port(&port, "0"), AT_EARG);
    ck_assert_int_eq(autotls_parse_port(&port, "+443"), AT_EARG);
    ck_assert_int_eq(autotls_parse_port(&port, ""), AT_EARG);
    ck_assert_int_eq(autotls_parse_flag(&on, "OFF"), APR_SUCCESS);
    ck_assert_int_eq(on, 0);
    ck_assert_int_eq(autotls_parse_flag(&on, "yes"), AT_EARG);
    ck_assert_int_eq(autotls_parse_ca(&url, &why, pool, "LetsEncrypt-Staging"), APR_SUCCESS);
    ck_assert_str_eq(url, AUTOTLS_CA_LETSENCRYPT_STAGING);
    ck_assert_int_eq(autotls_parse_ca(&url, &why, pool, "http://127.0.0.1:14000/dir"), APR_SUCCESS);
    ck_assert_str_eq(url, "http://127.0.0.1:14000/dir");
    ck_assert_int_eq(autotls_parse_ca(&url, &why, pool, "file:///etc/passwd"), AT_EARG);
    ck_assert_str_eq(why, "is neither a known CA nor an http(s) URL");
    ck_assert_int_eq(autotls_parse_ca(&url, &why, pool, "https://"), AT_EARG);
}
END_TEST

START_TEST(test_contact_and_exclude_patterns)
{
    ck_assert_str_eq(autotls_parse_contact(pool, "MAILTO:admin@example.com"),
                     "mailto:admin@example.com");
    ck_assert_ptr_null(autotls_parse_contact(pool, "a b@example.com"));
    ck_assert_ptr_null(autotls_parse_contact(pool, "admin@localhost"));
    ck_assert_ptr_null(autotls_parse_contact(pool, "a@b@example.com"));
    ck_assert_ptr_null(autotls_pattern_problem("*.internal.example.com"));
    ck_assert_ptr_null(autotls_pattern_problem("host[0-9].example.com"));
    ck_assert_str_eq(autotls_pattern_problem("a..b"), "has an empty label");
    ck_assert_str_eq(autotls_pattern_problem("a[b"), "has a [ without its ]");
    ck_assert_str_eq(autotls_pattern_problem("a/b"), "has a character no host name has");
    ck_assert_str_eq(autotls_pattern_problem(""), "is empty");
}
END_TEST

START_TEST(test_orders_in_flight_accepts_1_to_64)
{
    int orders = 0;

    ck_assert_int_eq(autotls_parse_orders_in_flight(&orders, "1"), APR_SUCCESS);
    ck_assert_int_eq(orders, 1);
    ck_assert_int_eq(autotls_parse_orders_in_flight(&orders, "64"), APR_SUCCESS);
    ck_assert_int_eq(orders, 64);
    ck_assert_int_eq(autotls_parse_orders_in_flight(&orders, "0"), AT_EARG);
    ck_assert_int_eq(autotls_parse_orders_in_flight(&orders, "65"), AT_EARG);
    ck_assert_int_eq(autotls_parse_orders_in_flight(&orders, "-1"), AT_EARG);
    ck_assert_int_eq(autotls_parse_orders_in_flight(&orders, "8x"), AT_EARG);
    ck_assert_int_eq(autotls_parse_orders_in_flight(&orders, ""), AT_EARG);
    ck_assert_int_eq(orders, 64); /* untouched by a refusal */
}
END_TEST

START_TEST(test_ca_rate_reads_n_per_duration_and_none)
{
    at_rate_t rate = {0, 0};
    const char *why = NULL;

    ck_assert_int_eq(autotls_parse_ca_rate(&rate, &why, "300/3h"), APR_SUCCESS);
    ck_assert_int_eq(rate.burst, 300);
    ck_assert(rate.refill == apr_time_from_sec(36));
    ck_assert_int_eq(autotls_parse_ca_rate(&rate, &why, "5/10S"), APR_SUCCESS);
    ck_assert_int_eq(rate.burst, 5);
    ck_assert(rate.refill == apr_time_from_sec(2));
    ck_assert_int_eq(autotls_parse_ca_rate(&rate, &why, "Unlimited"), APR_SUCCESS);
    ck_assert_int_eq(rate.burst, 0);
    ck_assert_int_eq(autotls_parse_ca_rate(&rate, &why, "none"), APR_SUCCESS);
    ck_assert_int_eq(rate.burst, 0);
    ck_assert_int_eq(autotls_parse_ca_rate(&rate, &why, "0/1h"), AT_EARG);
    ck_assert_str_eq(why, "allows no orders at all");
    ck_assert_int_eq(autotls_parse_ca_rate(&rate, &why, "300"), AT_EARG);
    ck_assert_str_eq(why, "does not start with a whole number and a /");
    ck_assert_int_eq(autotls_parse_ca_rate(&rate, &why, "/3h"), AT_EARG);
    ck_assert_int_eq(autotls_parse_ca_rate(&rate, &why, "300/"), AT_EARG);
    ck_assert_str_eq(why, "has no duration with a unit after the /");
    ck_assert_int_eq(autotls_parse_ca_rate(&rate, &why, "300/3"), AT_EARG);
    ck_assert_int_eq(autotls_parse_ca_rate(&rate, &why, "300/3w"), AT_EARG);
    ck_assert_str_eq(why, "has a duration with an unknown unit or extra text");
    ck_assert_int_eq(autotls_parse_ca_rate(&rate, &why, "300/0h"), AT_EARG);
    ck_assert_str_eq(why, "has a zero duration");
    ck_assert_int_eq(autotls_parse_ca_rate(&rate, &why, "300/99999999999999999d"), AT_EARG);
    ck_assert_int_eq(autotls_parse_ca_rate(&rate, &why, "99999999999/1h"), AT_EARG);
    ck_assert_str_eq(why, "allows more orders than any CA");
    ck_assert_int_eq(autotls_parse_ca_rate(&rate, &why, "-5/1h"), AT_EARG);
    ck_assert_int_eq(rate.burst, 0); /* untouched by a refusal */
}
END_TEST

START_TEST(test_challenge_types_keep_their_order_and_refuse_unknown_and_repeated_ones)
{
    char *const good[] = {"TLS-ALPN-01", "http-01", "dns-01"};
    char *const unknown[] = {"http-01", "tls-sni-01"};
    char *const twice[] = {"http-01", "HTTP-01"};
    apr_array_header_t *types = NULL;
    const char *bad, *why;

    ck_assert_int_eq(autotls_parse_challenges(&types, &bad, &why, pool, 3, good), APR_SUCCESS);
    ck_assert_int_eq(types->nelts, 3);
    ck_assert_str_eq(APR_ARRAY_IDX(types, 0, const char *), "tls-alpn-01");
    ck_assert_str_eq(APR_ARRAY_IDX(types, 1, const char *), "http-01");
    ck_assert_str_eq(APR_ARRAY_IDX(types, 2, const char *), "dns-01");
    ck_assert_int_eq(autotls_parse_challenges(&types, &bad, &why, pool, 2, unknown), AT_EARG);
    ck_assert_str_eq(bad, "tls-sni-01");
    ck_assert_str_eq(why, "is no challenge type");
    ck_assert_int_eq(autotls_parse_challenges(&types, &bad, &why, pool, 2, twice), AT_EARG);
    ck_assert_str_eq(why, "is listed twice");
    ck_assert_int_eq(autotls_parse_challenges(&types, &bad, &why, pool, 0, good), AT_EARG);
}
END_TEST

START_TEST(test_hsts_reads_max_age_subdomains_and_preload_and_names_what_is_wrong)
{
    const char *header = "untouched", *why = NULL;

    ck_assert_int_eq(autotls_parse_hsts(&header, &why, pool, "off"), APR_SUCCESS);
    ck_assert_str_eq(header, "");
    ck_assert_int_eq(autotls_parse_hsts(&header, &why, pool, "max-age=300"), APR_SUCCESS);
    ck_assert_str_eq(header, "max-age=300");
    ck_assert_int_eq(autotls_parse_hsts(&header, &why, pool, " includesubdomains ;MAX-AGE=0"),
                     APR_SUCCESS);
    ck_assert_str_eq(header, "max-age=0; includeSubDomains");
    ck_assert_int_eq(
        autotls_parse_hsts(&header, &why, pool, "max-age=31536000; includeSubDomains; preload"),
        APR_SUCCESS);
    ck_assert_str_eq(header, "max-age=31536000; includeSubDomains; preload");

    header = "untouched";
    ck_assert_int_eq(autotls_parse_hsts(&header, &why, pool, "includeSubDomains"), AT_EARG);
    ck_assert_str_eq(why, "has no max-age");
    ck_assert_int_eq(autotls_parse_hsts(&header, &why, pool, "max-age=1y"), AT_EARG);
    ck_assert_int_eq(autotls_parse_hsts(&header, &why, pool, "max-age="), AT_EARG);
    ck_assert_int_eq(autotls_parse_hsts(&header, &why, pool, "max-age=-1"), AT_EARG);
    ck_assert_int_eq(autotls_parse_hsts(&header, &why, pool, "max-age=99999999999"), AT_EARG);
    ck_assert_int_eq(autotls_parse_hsts(&header, &why, pool, "max-age=300; preload; x"), AT_EARG);
    ck_assert_int_eq(autotls_parse_hsts(&header, &why, pool,
                                        "max-age=300; includeSubDomains; includeSubDomains"),
                     AT_EARG);
    ck_assert_int_eq(autotls_parse_hsts(&header, &why, pool, "max-age=300; preload"), AT_EARG);
    ck_assert_ptr_nonnull(strstr(why, "preload"));
    ck_assert_int_eq(
        autotls_parse_hsts(&header, &why, pool, "max-age=86400; includeSubDomains; preload"),
        AT_EARG);
    ck_assert_str_eq(header, "untouched"); /* untouched by a refusal */
}
END_TEST

static Suite *glue_parsers_suite(void)
{
    Suite *s = suite_create("glue_parsers");
    TCase *tc = tcase_create("core");
    int hostile = (int)(sizeof(hostile_tokens) / sizeof(hostile_tokens[0]));

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_challenge_get_of_a_token_for_a_managed_host_is_answered);
    tcase_add_test(tc, test_challenge_other_methods_hosts_and_paths_are_declined);
    tcase_add_loop_test(tc, test_challenge_tokens_that_are_not_base64url_are_declined, 0, hostile);
    tcase_add_test(tc, test_challenge_token_longer_than_a_store_name_is_declined);
    tcase_add_test(tc, test_challenge_path_is_the_prefix_test_the_gate_uses);
    tcase_add_test(tc, test_window_accepts_percent_and_durations_and_names_what_is_wrong);
    tcase_add_test(tc, test_port_flag_and_ca_accept_only_their_forms);
    tcase_add_test(tc, test_contact_and_exclude_patterns);
    tcase_add_test(tc, test_orders_in_flight_accepts_1_to_64);
    tcase_add_test(tc, test_ca_rate_reads_n_per_duration_and_none);
    tcase_add_test(tc, test_hsts_reads_max_age_subdomains_and_preload_and_names_what_is_wrong);
    tcase_add_test(tc, test_challenge_types_keep_their_order_and_refuse_unknown_and_repeated_ones);
    suite_add_tcase(s, tc);
    return s;
}

AT_UNIT_MAIN(glue_parsers_suite)
