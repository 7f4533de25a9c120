/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ca.c: several CAs in failover order (at_ca.h): a CA's own options on its AutoTLSCA line,
 * which CA a site's next order goes to after failures, and the wrap after the last CA.
 *
 * The one idea: the failover rule is a pure function of the position (CA, failures there), the
 * list's length and AutoTLSCAFailover, so each test reads as a sequence of failed orders and the
 * CA each one leaves the site at.
 */
#include <string.h>

#include <apr_general.h>
#include <check.h>

#include "unit_main.h"
#include "at_ca.h"
#include "at_core.h"

static apr_pool_t *pool;

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

/* The options of one line, or the refusal of the first bad one (*why). */
static apr_status_t parse(at_ca_spec_t *spec, const char **why, const char *const *words)
{
    apr_status_t rv = APR_SUCCESS;

    memset(spec, 0, sizeof(*spec));
    for (; *words != NULL && rv == APR_SUCCESS; words++) {
        rv = at_ca_spec_option(spec, why, pool, *words);
    }
    return rv;
}

START_TEST(test_ca_options_give_a_ca_its_own_settings)
{
    static const char *const words[] = {"cafile=/etc/ssl/ca2.pem", "eab=kid-7:/etc/autotls/eab",
                                        "profile=shortlived", NULL};
    static const char *const none[] = {NULL};
    at_ca_spec_t spec;
    const char *why = NULL;

    ck_assert_int_eq(parse(&spec, &why, words), APR_SUCCESS);
    ck_assert_str_eq(spec.ca_file, "/etc/ssl/ca2.pem");
    ck_assert_str_eq(spec.eab_kid, "kid-7");
    ck_assert_str_eq(spec.eab_hmac_file, "/etc/autotls/eab");
    ck_assert_str_eq(spec.profile, "shortlived");
    ck_assert_int_eq(parse(&spec, &why, none), APR_SUCCESS); /* no option: nothing of its own */
    ck_assert_ptr_null(spec.ca_file);
    ck_assert_ptr_null(spec.eab_kid);
    ck_assert_ptr_null(spec.profile);
}
END_TEST

START_TEST(test_ca_options_refuse_what_is_not_one)
{
    /* each line: its words, the last one bad */
    static const char *const bad[][3] = {
        {"cafile=", NULL},
        {"cafile=/a", "cafile=/b", NULL},
        {"eab=kid-only", NULL},
        {"eab=:/file", NULL},
        {"eab=kid:", NULL},
        {"eab=k\001d:/file", NULL},
        {"profile=two words", NULL},
        {"profile=", NULL},
        {"profile=a", "profile=b", NULL},
        {"rate=300/3h", NULL},
        {"https://second.example/dir", NULL},
    };
    at_ca_spec_t spec;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *why = NULL;

        ck_assert_msg(parse(&spec, &why, bad[i]) == AT_EARG, "accepted %s", bad[i][0]);
        ck_assert_ptr_nonnull(why);
    }
}
END_TEST

START_TEST(test_failover_after_threshold_failures_moves_to_the_next_ca_at_once)
{
    at_ca_position_t pos = {0, 0};

    ck_assert_int_eq(at_ca_failover_failed(&pos, 3, 2), AT_CA_STAY);
    ck_assert_int_eq(pos.index, 0);
    ck_assert_int_eq(pos.failures, 1);
    ck_assert_int_eq(at_ca_failover_failed(&pos, 3, 2), AT_CA_NEXT);
    ck_assert_int_eq(pos.index, 1);
    ck_assert_int_eq(pos.failures, 0); /* a clean slate at the next CA */
    ck_assert_int_eq(at_ca_failover_failed(&pos, 3, 2), AT_CA_STAY);
    ck_assert_int_eq(at_ca_failover_failed(&pos, 3, 2), AT_CA_NEXT);
    ck_assert_int_eq(pos.index, 2);
}
END_TEST

START_TEST(test_failover_after_the_last_ca_wraps_to_the_first)
{
    at_ca_position_t pos = {1, 0};

    ck_assert_int_eq(at_ca_failover_failed(&pos, 2, 1), AT_CA_WRAP);
    ck_assert_int_eq(pos.index, 0);
    ck_assert_int_eq(pos.failures, 0);
    ck_assert_int_eq(at_ca_failover_failed(&pos, 2, 1), AT_CA_NEXT);
    ck_assert_int_eq(pos.index, 1);
}
END_TEST

START_TEST(test_one_ca_never_moves_and_a_stale_position_starts_at_the_first)
{
    at_ca_position_t pos = {0, 0};
    int i;

    for (i = 0; i < 10; i++) {
        ck_assert_int_eq(at_ca_failover_failed(&pos, 1, 3), AT_CA_STAY);
        ck_assert_int_eq(pos.index, 0);
    }
    pos.index = 5; /* the list got shorter since */
    pos.failures = 2;
    ck_assert_int_eq(at_ca_failover_failed(&pos, 2, 3), AT_CA_STAY);
    ck_assert_int_eq(pos.index, 0);
    ck_assert_int_eq(pos.failures, 1);
}
END_TEST

START_TEST(test_ca_urls_compare_as_the_same_directory)
{
    apr_array_header_t *cas = apr_array_make(pool, 2, sizeof(at_ca_spec_t));
    at_ca_spec_t *a = apr_array_push(cas), *b = apr_array_push(cas);

    memset(a, 0, sizeof(*a));
    memset(b, 0, sizeof(*b));
    a->url = AT_CA_LETSENCRYPT;
    b->url = "https://ca2.example:14000/dir";
    ck_assert(at_ca_same_url("HTTPS://CA2.example:14000/dir/", b->url));
    ck_assert(!at_ca_same_url("https://ca2.example:14001/dir", b->url));
    ck_assert_int_eq(at_ca_index(cas, "https://ca2.example:14000/dir/"), 1);
    ck_assert_int_eq(at_ca_index(cas, AT_CA_LETSENCRYPT), 0);
    ck_assert_int_eq(at_ca_index(cas, "https://gone.example/dir"), -1);
    ck_assert_int_eq(at_ca_index(cas, ""), -1);
    ck_assert_int_eq(at_ca_index(cas, NULL), -1);
}
END_TEST

START_TEST(test_known_roots_only_for_cas_known_by_name)
{
    const char *const *roots = at_ca_known_roots(AT_CA_LETSENCRYPT);

    ck_assert_ptr_nonnull(roots);
    ck_assert_str_eq(roots[0], "ISRG Root X1");
    ck_assert_ptr_nonnull(at_ca_known_roots(AT_CA_LETSENCRYPT_STAGING));
    ck_assert_ptr_null(at_ca_known_roots("https://127.0.0.1:14000/dir"));
}
END_TEST

static Suite *ca_suite(void)
{
    Suite *s = suite_create("ca");
    TCase *tc = tcase_create("failover");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_ca_options_give_a_ca_its_own_settings);
    tcase_add_test(tc, test_ca_options_refuse_what_is_not_one);
    tcase_add_test(tc, test_failover_after_threshold_failures_moves_to_the_next_ca_at_once);
    tcase_add_test(tc, test_failover_after_the_last_ca_wraps_to_the_first);
    tcase_add_test(tc, test_one_ca_never_moves_and_a_stale_position_starts_at_the_first);
    tcase_add_test(tc, test_ca_urls_compare_as_the_same_directory);
    tcase_add_test(tc, test_known_roots_only_for_cas_known_by_name);
    suite_add_tcase(s, tc);
    return s;
}

AT_UNIT_MAIN(ca_suite)
