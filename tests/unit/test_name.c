/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_name.c: the name-eligibility rule (at_name.h), which the module and the CLI share.
 *
 * The one idea: each refused name is refused for the reason an admin can act on, and every name
 * a public CA would certify passes, at the edges of the limits included.
 */
#include <check.h>
#include <string.h>

#include <apr_pools.h>

#include "at_name.h"
#include "unit_main.h"

static const char *const eligible[] = {
    "example.org",   "www.example.org",    "EXAMPLE.ORG", "example.org.",       "a-b.example",
    "1.example.org", "xn--bcher-kva.test", "123.example", "a.b.c.d.e.f.g.test",
};

static const struct {
    const char *name;
    const char *why; /* a part of the reason given */
} ineligible[] = {
    {"", "empty"},
    {".", "empty"},
    {"*.example.org", "wildcard"},
    {"192.0.2.1", "IP address"},
    {"192.0.2.1.", "IP address"},
    {"[2001:db8::1]", "IP address"},
    {"2001:db8::1", "IP address"},
    {"localhost", "localhost"},
    {"LOCALHOST.", "localhost"},
    {"app.localhost", "localhost"},
    {"intranet", "single label"},
    {"-a.example", "valid host name"},
    {"a-.example", "valid host name"},
    {"a..example", "valid host name"},
    {".example.org", "valid host name"},
    {"example.org..", "valid host name"},
    {"under_score.example", "valid host name"},
    {"spa ce.example", "valid host name"},
    {"example.org-", "valid host name"},
    {"caf\xc3\xa9.example", "valid host name"},
};

START_TEST(test_public_names_are_eligible)
{
    const char *why = NULL;

    ck_assert_msg(at_name_eligible(eligible[_i], &why), "%s refused: %s", eligible[_i],
                  why != NULL ? why : "");
}
END_TEST

START_TEST(test_ineligible_names_are_refused_with_their_reason)
{
    const char *why = NULL;

    ck_assert_msg(!at_name_eligible(ineligible[_i].name, &why), "%s accepted", ineligible[_i].name);
    ck_assert_ptr_nonnull(why);
    ck_assert_msg(strstr(why, ineligible[_i].why) != NULL, "%s: \"%s\" does not say \"%s\"",
                  ineligible[_i].name, why, ineligible[_i].why);
}
END_TEST

START_TEST(test_null_is_refused_as_empty)
{
    const char *why = NULL;

    ck_assert(!at_name_eligible(NULL, &why));
    ck_assert_str_eq(why, "is empty");
}
END_TEST

/* label repeated count times, joined by '.', then ".test". */
static char *names_of(char *buf, size_t size, const char *label, int count)
{
    int i;

    buf[0] = '\0';
    for (i = 0; i < count; i++) {
        strncat(buf, label, size - strlen(buf) - 1);
        strncat(buf, ".", size - strlen(buf) - 1);
    }
    strncat(buf, "test", size - strlen(buf) - 1);
    return buf;
}

START_TEST(test_length_limits_are_inclusive)
{
    char label[AT_NAME_LABEL_MAX + 2], name[AT_NAME_MAX + 16];
    const char *why = NULL;

    memset(label, 'a', AT_NAME_LABEL_MAX);
    label[AT_NAME_LABEL_MAX] = '\0';
    ck_assert(at_name_eligible(names_of(name, sizeof(name), label, 1), &why));
    label[AT_NAME_LABEL_MAX] = 'a';
    label[AT_NAME_LABEL_MAX + 1] = '\0';
    ck_assert(!at_name_eligible(names_of(name, sizeof(name), label, 1), &why));
    ck_assert_ptr_nonnull(strstr(why, "longer than 63"));

    /* 61 labels "abc." and "test": 248 characters; "abcd." in front makes 253, "x" 254. */
    names_of(name, sizeof(name), "abc", 61);
    memmove(name + 5, name, strlen(name) + 1);
    memcpy(name, "abcd.", 5);
    ck_assert_uint_eq(strlen(name), AT_NAME_MAX);
    ck_assert(at_name_eligible(name, &why));
    memmove(name + 1, name, strlen(name) + 1);
    name[0] = 'x';
    ck_assert(!at_name_eligible(name, &why));
    ck_assert_str_eq(why, "is not a valid host name");
}
END_TEST

START_TEST(test_wildcards_for_dns01_are_a_star_over_an_eligible_name)
{
    const char *why = NULL;

    ck_assert(at_name_wildcard_eligible("*.example.org", &why));
    ck_assert(at_name_wildcard_eligible("*.shop.example.org", &why));
    ck_assert(!at_name_wildcard_eligible("*.org", &why));
    ck_assert_ptr_nonnull(strstr(why, "single label"));
    ck_assert(!at_name_wildcard_eligible("*.", &why));
    ck_assert(!at_name_wildcard_eligible("a.*.example.org", &why));
    ck_assert(!at_name_wildcard_eligible("*.*.example.org", &why));
    ck_assert(!at_name_wildcard_eligible("**.example.org", &why));
    ck_assert(!at_name_wildcard_eligible("*.localhost", &why));
    ck_assert(!at_name_wildcard_eligible("example.org", &why));
    ck_assert(!at_name_wildcard_eligible(NULL, &why));
}
END_TEST

START_TEST(test_excluded_by_names_the_first_matching_pattern)
{
    apr_pool_t *p;
    apr_array_header_t *patterns;

    ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
    patterns = at_unit_names(p, "*.internal.example", "admin.example", "*.example", NULL);
    ck_assert_str_eq(at_name_excluded_by(patterns, "db.INTERNAL.example"), "*.internal.example");
    ck_assert_str_eq(at_name_excluded_by(patterns, "Admin.Example"), "admin.example");
    ck_assert_str_eq(at_name_excluded_by(patterns, "www.example"), "*.example");
    ck_assert_ptr_null(at_name_excluded_by(patterns, "example"));
    ck_assert_ptr_null(at_name_excluded_by(patterns, "www.example.org"));
    ck_assert_ptr_null(at_name_excluded_by(NULL, "www.example"));
    apr_pool_destroy(p);
}
END_TEST

static Suite *name_suite(void)
{
    Suite *s = suite_create("name");
    TCase *tc = tcase_create("core");

    tcase_add_loop_test(tc, test_public_names_are_eligible, 0,
                        (int)(sizeof(eligible) / sizeof(eligible[0])));
    tcase_add_loop_test(tc, test_ineligible_names_are_refused_with_their_reason, 0,
                        (int)(sizeof(ineligible) / sizeof(ineligible[0])));
    tcase_add_test(tc, test_null_is_refused_as_empty);
    tcase_add_test(tc, test_length_limits_are_inclusive);
    tcase_add_test(tc, test_excluded_by_names_the_first_matching_pattern);
    tcase_add_test(tc, test_wildcards_for_dns01_are_a_star_over_an_eligible_name);
    suite_add_tcase(s, tc);
    return s;
}

AT_UNIT_MAIN(name_suite)
