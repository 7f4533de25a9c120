/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_http.c: the HTTP layer (http.c) against a scripted server (canned_ca.c): caps, timeouts,
 * connection reuse, no redirects, Link and Retry-After parsing.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_date.h>
#include <apr_strings.h>

#include "unit_main.h"
#include "ca_fixture.h"

#define TEST_SHORT_TIMEOUT apr_time_from_msec(1000)

/* --- http ----------------------------------------------------------------------------------------
 */

START_TEST(test_http_logs_one_debug_line_per_request)
{
    at_http_response_t *r;

    canned_ca_add(ca, 200, "Content-Type: Text/Plain; charset=utf-8\r\n", "hello");
    canned_ca_add(ca, 204, NULL, NULL);
    ck_assert_int_eq(at_http_request(http, pool, "GET", url_of("/a"), NULL, NULL, 0, &r),
                     APR_SUCCESS);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(r->body, "hello");
    ck_assert_int_eq(r->body_len, 5);
    ck_assert_str_eq(r->content_type, "text/plain");
    ck_assert_int_eq(at_http_request(http, pool, "POST", url_of("/b"), "text/plain", "xyz", 3, &r),
                     APR_SUCCESS);
    ck_assert_int_eq(r->status, 204);
    ck_assert_str_eq(r->content_type, "");
    ck_assert_str_eq(canned_ca_request(ca, 1)->body, "xyz");
    ck_assert_str_eq(canned_request_header(canned_ca_request(ca, 1), "Content-Type"), "text/plain");
    ck_assert_str_eq(canned_request_header(canned_ca_request(ca, 0), "User-Agent"), AT_USER_AGENT);
    ck_assert_int_eq(at_http_request_count(http), 2);
    ck_assert_int_eq(log_find(AT_LOG_DEBUG, "http request "), 2);
    ck_assert_int_eq(
        log_find(AT_LOG_DEBUG, apr_psprintf(pool, "http request 1: GET %s -> 200", url_of("/a"))),
        1);
    ck_assert_int_eq(
        log_find(AT_LOG_DEBUG, apr_psprintf(pool, "http request 2: POST %s -> 204", url_of("/b"))),
        1);
}
END_TEST

START_TEST(test_http_reuses_one_connection)
{
    at_http_response_t *r;
    int i;

    for (i = 0; i < 3; i++) {
        canned_ca_add(ca, 200, NULL, "ok");
    }
    ck_assert_int_eq(at_http_request(http, pool, "GET", url_of("/1"), NULL, NULL, 0, &r),
                     APR_SUCCESS);
    ck_assert_int_eq(at_http_request(http, pool, "HEAD", url_of("/2"), NULL, NULL, 0, &r),
                     APR_SUCCESS);
    ck_assert_int_eq(r->body_len, 0);
    ck_assert_int_eq(at_http_request(http, pool, "POST", url_of("/3"), "a/b", "{}", 2, &r),
                     APR_SUCCESS);
    ck_assert_str_eq(r->body, "ok");
    ck_assert_int_eq(canned_ca_request_count(ca), 3);
    ck_assert_str_eq(canned_ca_request(ca, 1)->method, "HEAD");
    ck_assert_int_eq(canned_ca_connection_count(ca), 1);
}
END_TEST

START_TEST(test_http_does_not_follow_redirects)
{
    at_http_response_t *r;

    canned_ca_add(ca, 301, "Location: $BASE/elsewhere\r\n", NULL);
    canned_ca_add(ca, 200, NULL, "followed");
    ck_assert_int_eq(at_http_request(http, pool, "GET", url_of("/moved"), NULL, NULL, 0, &r),
                     APR_SUCCESS);
    ck_assert_int_eq(r->status, 301);
    ck_assert_int_eq(canned_ca_request_count(ca), 1);
    ck_assert_int_eq(canned_ca_pending(ca), 1);
}
END_TEST

START_TEST(test_http_oversized_body_is_too_large)
{
    at_http_response_t *r = NULL;

    canned_ca_add_mode(ca, CANNED_OVERSIZE, 200, NULL, TEST_MAX_RESPONSE + 100);
    ck_assert_int_eq(at_http_request(http, pool, "GET", url_of("/big"), NULL, NULL, 0, &r),
                     AT_ETOOLARGE);
    ck_assert_int_eq(log_find(AT_LOG_ERR, url_of("/big")), 1);
}
END_TEST

START_TEST(test_http_oversized_body_without_length_is_too_large)
{
    at_http_response_t *r = NULL;

    canned_ca_add_mode(ca, CANNED_OVERSIZE_STREAM, 200, NULL, TEST_MAX_RESPONSE + 1);
    ck_assert_int_eq(at_http_request(http, pool, "GET", url_of("/big"), NULL, NULL, 0, &r),
                     AT_ETOOLARGE);
    /* exactly at the cap is fine */
    canned_ca_add_mode(ca, CANNED_OVERSIZE_STREAM, 200, NULL, TEST_MAX_RESPONSE);
    ck_assert_int_eq(at_http_request(http, pool, "GET", url_of("/big"), NULL, NULL, 0, &r),
                     APR_SUCCESS);
    ck_assert_int_eq(r->body_len, TEST_MAX_RESPONSE);
}
END_TEST

START_TEST(test_http_body_that_never_ends_times_out)
{
    at_http_t *quick = new_http(TEST_SHORT_TIMEOUT);
    at_http_response_t *r = NULL;
    apr_time_t start = apr_time_now();
    apr_interval_time_t took;

    canned_ca_add_mode(ca, CANNED_STALL, 200, NULL, 1000);
    ck_assert_int_eq(at_http_request(quick, pool, "GET", url_of("/slow"), NULL, NULL, 0, &r),
                     AT_ETIMEOUT);
    took = apr_time_now() - start;
    ck_assert_int_ge(took, TEST_SHORT_TIMEOUT - apr_time_from_msec(100));
    ck_assert_int_lt(took, TEST_SHORT_TIMEOUT * 3);
    ck_assert_int_eq(log_find(AT_LOG_ERR, url_of("/slow")), 1);
}
END_TEST

START_TEST(test_http_refused_connection_names_method_and_url)
{
    at_http_response_t *r = NULL;
    canned_ca_t *gone = canned_ca_start();
    const char *url = apr_pstrcat(pool, canned_ca_base(gone), "/x", NULL);

    canned_ca_stop(gone); /* nobody listens on that port any more */
    ck_assert_int_eq(at_http_request(http, pool, "GET", url, NULL, NULL, 0, &r), AT_EHTTP);
    ck_assert_int_eq(log_find(AT_LOG_ERR, apr_pstrcat(pool, "GET ", url, NULL)), 1);
}
END_TEST

static at_http_response_t *response_with(const char *name, const char *value, const char *name2,
                                         const char *value2)
{
    at_http_response_t *r = apr_pcalloc(pool, sizeof(*r));

    r->headers = apr_table_make(pool, 4);
    r->url = "https://ca.example/acme/cert/1";
    if (name != NULL) {
        apr_table_add(r->headers, name, value);
    }
    if (name2 != NULL) {
        apr_table_add(r->headers, name2, value2);
    }
    return r;
}

START_TEST(test_http_links_several_values_unquoted_and_relative)
{
    at_http_response_t *r = response_with(
        "Link",
        "<https://ca.example/cert/1/1>;rel=\"alternate\", <https://ca.example/dir>;rel=index",
        "link", "</cert/1/2> ; title=\"a, b; c\" ; rel=\"up alternate\", <3>; rel=alternate");
    apr_array_header_t *links = at_http_links(pool, r, "alternate");

    ck_assert_int_eq(links->nelts, 3);
    ck_assert_str_eq(APR_ARRAY_IDX(links, 0, const char *), "https://ca.example/cert/1/1");
    ck_assert_str_eq(APR_ARRAY_IDX(links, 1, const char *), "https://ca.example/cert/1/2");
    ck_assert_str_eq(APR_ARRAY_IDX(links, 2, const char *), "https://ca.example/acme/cert/3");
    links = at_http_links(pool, r, "index");
    ck_assert_int_eq(links->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(links, 0, const char *), "https://ca.example/dir");
    ck_assert_int_eq(at_http_links(pool, r, "next")->nelts, 0);
    /* malformed values are skipped, never crash */
    r = response_with("Link", "garbage, <unterminated; rel=alternate", "Link", ";;,<>;rel=");
    ck_assert_int_eq(at_http_links(pool, r, "alternate")->nelts, 0);
}
END_TEST

START_TEST(test_http_retry_after_seconds_date_and_cap)
{
    char date[APR_RFC822_DATE_LEN];
    apr_interval_time_t wait;

    ck_assert_int_eq(at_http_retry_after(response_with(NULL, NULL, NULL, NULL)), 0);
    ck_assert_int_eq(at_http_retry_after(response_with("Retry-After", "120", NULL, NULL)),
                     apr_time_from_sec(120));
    ck_assert_int_eq(at_http_retry_after(response_with("Retry-After", " 7 ", NULL, NULL)),
                     apr_time_from_sec(7));
    ck_assert_int_eq(at_http_retry_after(response_with("Retry-After", "12abc", NULL, NULL)), 0);
    ck_assert_int_eq(at_http_retry_after(response_with("Retry-After", "soon", NULL, NULL)), 0);
    ck_assert_int_eq(
        at_http_retry_after(response_with("Retry-After", "99999999999999999999", NULL, NULL)),
        AT_HTTP_RETRY_AFTER_MAX);
    apr_rfc822_date(date, apr_time_now() + apr_time_from_sec(300));
    wait = at_http_retry_after(response_with("Retry-After", date, NULL, NULL));
    ck_assert_int_gt(wait, apr_time_from_sec(290));
    ck_assert_int_le(wait, apr_time_from_sec(300));
    apr_rfc822_date(date, apr_time_now() - apr_time_from_sec(300));
    ck_assert_int_eq(at_http_retry_after(response_with("Retry-After", date, NULL, NULL)), 0);
    apr_rfc822_date(date, apr_time_now() + apr_time_from_sec(3 * 24 * 3600));
    ck_assert_int_eq(at_http_retry_after(response_with("Retry-After", date, NULL, NULL)),
                     AT_HTTP_RETRY_AFTER_MAX);
}
END_TEST

static Suite *http_suite(void)
{
    Suite *s = suite_create("http");
    TCase *http_case = tcase_create("http");

    tcase_add_checked_fixture(http_case, ca_fixture_setup, ca_fixture_teardown);
    tcase_add_test(http_case, test_http_logs_one_debug_line_per_request);
    tcase_add_test(http_case, test_http_reuses_one_connection);
    tcase_add_test(http_case, test_http_does_not_follow_redirects);
    tcase_add_test(http_case, test_http_oversized_body_is_too_large);
    tcase_add_test(http_case, test_http_oversized_body_without_length_is_too_large);
    tcase_add_test(http_case, test_http_body_that_never_ends_times_out);
    tcase_add_test(http_case, test_http_refused_connection_names_method_and_url);
    tcase_add_test(http_case, test_http_links_several_values_unquoted_and_relative);
    tcase_add_test(http_case, test_http_retry_after_seconds_date_and_cap);
    suite_add_tcase(s, http_case);
    return s;
}

AT_UNIT_MAIN(http_suite)
