/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_config_change.c: what issue 11's log and EAB work rests on, without httpd: the EAB key
 * reader refuses files others may read, a configuration fingerprint changes with any part, a
 * job in backoff whose fingerprint changed is due at once (a CA's Retry-After still holds), and
 * a log line's id is found.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include "at_core.h"
#include "at_fingerprint.h"
#include "at_issue.h"
#include "renew_job.h"
#include "unit_main.h"

#define KEY "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
#define HOUR apr_time_from_sec(3600)

static apr_pool_t *pool;
static char dir[] = "/tmp/at-unit-eab-XXXXXX";

static void setup(void)
{
    apr_pool_create(&pool, NULL);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char *cmd = apr_psprintf(pool, "rm -rf '%s'", dir);

    ck_assert_int_eq(system(cmd), 0);
    memcpy(dir + strlen(dir) - 6, "XXXXXX", 6);
    apr_pool_destroy(pool);
}

static const char *key_file(const char *name, const char *text, mode_t mode)
{
    const char *path = apr_pstrcat(pool, dir, "/", name, NULL);
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    ck_assert_int_eq(chmod(path, mode), 0);
    return path;
}

START_TEST(test_eab_key_from_an_owner_only_file_is_read_without_white_space)
{
    const char *key = NULL, *why = NULL;

    ck_assert_int_eq(at_account_eab_key_read(&key, &why, pool, key_file("k", "  " KEY "\n", 0600)),
                     APR_SUCCESS);
    ck_assert_str_eq(key, KEY);
    ck_assert_int_eq(at_account_eab_key_read(&key, &why, pool, key_file("r", KEY, 0400)),
                     APR_SUCCESS);
}
END_TEST

START_TEST(test_eab_key_file_group_or_others_may_read_is_refused_saying_why)
{
    static const mode_t modes[] = {0640, 0604, 0644, 0620, 0602, 0610};
    const char *key = "unset", *why = NULL;
    size_t i;

    for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        const char *path = key_file(apr_psprintf(pool, "m%zu", i), KEY, modes[i]);

        ck_assert_int_eq(at_account_eab_key_read(&key, &why, pool, path), AT_EMODE);
        ck_assert_ptr_null(key);
        ck_assert_ptr_nonnull(strstr(why, path));
        ck_assert_ptr_nonnull(strstr(why, apr_psprintf(pool, "%04o", (unsigned)modes[i])));
    }
}
END_TEST

START_TEST(test_eab_key_file_missing_empty_or_not_base64url_is_refused)
{
    const char *key, *why;

    ck_assert_int_ne(at_account_eab_key_read(&key, &why, pool, "/nonexistent/eab.key"),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(why, "/nonexistent/eab.key"));
    ck_assert_int_eq(at_account_eab_key_read(&key, &why, pool, key_file("e", "\n", 0600)), AT_EARG);
    ck_assert_int_eq(at_account_eab_key_read(&key, &why, pool, key_file("p", "a+b/c==", 0600)),
                     AT_EARG);
    ck_assert_ptr_null(key);
}
END_TEST

START_TEST(test_fingerprint_changes_with_any_part_and_with_how_parts_are_cut)
{
    const char *a = at_fingerprint(pool, at_unit_names(pool, "ca", "x.test", "ec256", NULL));

    ck_assert_int_eq(strlen(a), AT_FINGERPRINT_LEN);
    ck_assert_str_eq(a, at_fingerprint(pool, at_unit_names(pool, "ca", "x.test", "ec256", NULL)));
    ck_assert_str_ne(a, at_fingerprint(pool, at_unit_names(pool, "ca", "x.test", "rsa2048", NULL)));
    ck_assert_str_ne(a, at_fingerprint(pool, at_unit_names(pool, "ca", "x.tes", "tec256", NULL)));
    ck_assert_str_ne(a, at_fingerprint(pool, at_unit_names(pool, "ca", "x.test", NULL)));
}
END_TEST

START_TEST(test_changed_config_lifts_a_backoff_once_and_keeps_retry_after)
{
    apr_time_t now = apr_time_now();
    autotls_job_t job;

    autotls_job_init(&job);
    ck_assert_int_eq(autotls_job_config_changed(&job, "one", now), 0); /* nothing recorded */
    autotls_job_failed(&job, now, 0, 0, "failed");
    ck_assert_int_gt(job.next_try, now);
    ck_assert_int_eq(autotls_job_config_changed(&job, "one", now), 0); /* unchanged */
    ck_assert_int_gt(job.next_try, now);
    ck_assert_int_eq(autotls_job_config_changed(&job, "two", now), 1);
    ck_assert_int_eq(job.failures, 0);
    ck_assert_int_eq(job.next_try, 0);
    ck_assert_str_eq(job.config, "two");
    ck_assert_int_eq(autotls_job_config_changed(&job, "three", now), 0); /* no backoff left */

    autotls_job_failed(&job, now, 0, HOUR, "rate limited");
    ck_assert_int_eq(autotls_job_config_changed(&job, "four", now), 1);
    ck_assert_int_eq(job.next_try, now + HOUR); /* the CA said so: a config change does not */
    autotls_job_clear(&job);
}
END_TEST

START_TEST(test_log_id_is_found_only_in_its_exact_shape)
{
    ck_assert_int_eq(at_log_id_len(AT_LOGNO(1234) "store: x"), strlen("autotls-1234: "));
    ck_assert_int_eq(at_log_id_len("store: x"), 0);
    ck_assert_int_eq(at_log_id_len("autotls-12a4: x"), 0);
    ck_assert_int_eq(at_log_id_len("autotls-1234 x"), 0);
    ck_assert_int_eq(at_log_id_len("autotls-"), 0);
}
END_TEST

static Suite *config_change_suite(void)
{
    Suite *s = suite_create("config_change");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_eab_key_from_an_owner_only_file_is_read_without_white_space);
    tcase_add_test(tc, test_eab_key_file_group_or_others_may_read_is_refused_saying_why);
    tcase_add_test(tc, test_eab_key_file_missing_empty_or_not_base64url_is_refused);
    tcase_add_test(tc, test_fingerprint_changes_with_any_part_and_with_how_parts_are_cut);
    tcase_add_test(tc, test_changed_config_lifts_a_backoff_once_and_keeps_retry_after);
    tcase_add_test(tc, test_log_id_is_found_only_in_its_exact_shape);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return at_unit_run(config_change_suite());
}
