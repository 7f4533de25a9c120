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
    {"192.0.2.1", "only with AutoTLS on in its vhost"},
    {"192.0.2.1.", "canonical form"},
    {"10.1", "canonical form"},
    {"[2001:db8::1]", "only with AutoTLS on in its vhost"},
    {"2001:db8::1", "only with AutoTLS on in its vhost"},
    {"2001:db8::1::2", "canonical form"},
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

/* RFC 8738: an IP address where it is asked for (AutoTLS on in its vhost, the CLI), public ones
 * only unless private ones are allowed, always in the canonical text. */
static const char *const ip_public[] = {"8.8.8.8", "1.1.1.1", "2606:4700:4700::1111",
                                        "2a00:1450:4001:81b::200e"};

static const struct {
    const char *name;
    const char *why;
} ip_private[] = {
    {"127.0.0.1", "loopback"},
    {"127.0.0.3", "loopback"},
    {"::1", "loopback"},
    {"10.0.0.1", "private"},
    {"172.16.0.1", "private"},
    {"172.31.255.255", "private"},
    {"192.168.1.1", "private"},
    {"100.64.0.1", "shared"},
    {"169.254.1.1", "link-local"},
    {"fe80::1", "link-local"},
    {"fd00::1", "unique local"},
    {"192.0.2.1", "documentation"},
    {"198.51.100.5", "documentation"},
    {"203.0.113.5", "documentation"},
    {"2001:db8::5", "documentation"},
    {"198.18.0.1", "benchmarking"},
};

static const struct {
    const char *name;
    const char *why;
} ip_never[] = {
    {"0.0.0.0", "this network"},
    {"224.0.0.1", "multicast"},
    {"255.255.255.255", "broadcast"},
    {"::", "unspecified"},
    {"::ffff:8.8.8.8", "IPv4-mapped"},
    {"ff02::1", "multicast"},
    {"[2606:4700:4700::1111]", "canonical form"},      /* brackets */
    {"2606:4700:4700:0:0:0:0:1111", "canonical form"}, /* zeros not compressed */
    {"2606:4700:4700::01111", "canonical form"},       /* not an address at all */
    {"008.8.8.8", "canonical form"},                   /* leading zeros */
};

START_TEST(test_public_ip_addresses_are_eligible_where_asked_for)
{
    const char *why = NULL;

    ck_assert_msg(at_name_eligible_as(ip_public[_i], AT_NAME_ALLOW_IP, &why), "%s refused: %s",
                  ip_public[_i], why != NULL ? why : "");
    ck_assert(!at_name_eligible_as(ip_public[_i], 0, &why));
    ck_assert_str_eq(why, "is an IP address: only with AutoTLS on in its vhost");
    ck_assert(!at_name_eligible(ip_public[_i], &why));
}
END_TEST

START_TEST(test_private_ip_addresses_only_when_allowed)
{
    const char *why = NULL;

    ck_assert_msg(!at_name_eligible_as(ip_private[_i].name, AT_NAME_ALLOW_IP, &why), "%s accepted",
                  ip_private[_i].name);
    ck_assert_msg(strstr(why, ip_private[_i].why) != NULL && strstr(why, "AutoTLSAllowPrivateIP"),
                  "%s: \"%s\"", ip_private[_i].name, why);
    ck_assert_msg(
        at_name_eligible_as(ip_private[_i].name, AT_NAME_ALLOW_IP | AT_NAME_ALLOW_PRIVATE_IP, &why),
        "%s refused: %s", ip_private[_i].name, why);
}
END_TEST

START_TEST(test_unusable_or_misspelt_ip_addresses_are_never_eligible)
{
    const char *why = NULL;

    ck_assert_msg(
        !at_name_eligible_as(ip_never[_i].name, AT_NAME_ALLOW_IP | AT_NAME_ALLOW_PRIVATE_IP, &why),
        "%s accepted", ip_never[_i].name);
    ck_assert_msg(strstr(why, ip_never[_i].why) != NULL, "%s: \"%s\" does not say \"%s\"",
                  ip_never[_i].name, why, ip_never[_i].why);
}
END_TEST

START_TEST(test_ip_canonical_text_is_rfc5952_without_brackets)
{
    char text[AT_NAME_IP_TEXT_MAX];

    ck_assert(at_name_ip("192.0.2.1", text));
    ck_assert_str_eq(text, "192.0.2.1");
    ck_assert(at_name_ip("[2001:DB8:0:0:0:0:0:1]", text));
    ck_assert_str_eq(text, "2001:db8::1");
    ck_assert(at_name_ip("2001:db8:0:0:1:0:0:1", text)); /* the first longest run of zeros */
    ck_assert_str_eq(text, "2001:db8::1:0:0:1");
    ck_assert(at_name_ip("2001:db8:0:1:1:1:1:1", text)); /* a single zero field stays */
    ck_assert_str_eq(text, "2001:db8:0:1:1:1:1:1");
    ck_assert(at_name_ip("::1", NULL));
    ck_assert(!at_name_ip("[192.0.2.1]", text)); /* brackets hold IPv6 only */
    ck_assert(!at_name_ip("192.0.2.1.", text));
    ck_assert(!at_name_ip("192.0.2", text));
    ck_assert(!at_name_ip("example.org", text));
    ck_assert(!at_name_ip("[]", text));
    ck_assert(!at_name_ip("", text));
    ck_assert(!at_name_ip(NULL, text));
    ck_assert(!at_name_ip("fe80::1%eth0", text)); /* a zone is no part of a certificate's name */
}
END_TEST

/* 2001:db8::567:89ab's reverse-DNS name, its 32 nibbles from the last (RFC 3596 §2.5). */
#define REVERSE_IP6_NIBBLES "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"

static const struct {
    const char *name;
    const char *ip; /* its canonical text */
} reverse_good[] = {
    {"1.0.0.127.in-addr.arpa", "127.0.0.1"},
    {"3.0.0.127.in-addr.arpa", "127.0.0.3"},
    {"5.113.0.203.in-addr.arpa", "203.0.113.5"},
    {"0.0.0.0.in-addr.arpa", "0.0.0.0"}, /* an address; whether a site has it is another matter */
    {"255.255.255.255.in-addr.arpa", "255.255.255.255"},
    {"1.0.0.127.IN-ADDR.ARPA", "127.0.0.1"}, /* DNS names compare case-insensitively */
    {"1.0.0.127.In-Addr.Arpa", "127.0.0.1"},
    {REVERSE_IP6_NIBBLES ".ip6.arpa", "2001:db8::567:89ab"},
    {"B.A.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.IP6.ARPA",
     "2001:db8::567:89ab"},
    {"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa", "::1"},
};

static const char *const reverse_bad[] = {
    "",
    "in-addr.arpa",
    ".in-addr.arpa",
    "ip6.arpa",
    ".ip6.arpa",
    "1.0.0.127.in-addr.arpa.",  /* a trailing dot: no SNI carries one */
    "01.0.0.127.in-addr.arpa",  /* leading zeros */
    "1.00.0.127.in-addr.arpa",  /* leading zeros */
    "1.0.0.0127.in-addr.arpa",  /* leading zeros */
    "256.0.0.127.in-addr.arpa", /* not an octet */
    "1.0.0.1000.in-addr.arpa",
    "99999999999.0.0.127.in-addr.arpa",
    "0.0.127.in-addr.arpa",       /* too few labels */
    "127.in-addr.arpa",           /* too few labels */
    "1.1.0.0.127.in-addr.arpa",   /* too many labels */
    "1..0.127.in-addr.arpa",      /* an empty label */
    ".1.0.0.127.in-addr.arpa",    /* an empty label */
    "+1.0.0.127.in-addr.arpa",    /* a sign */
    "-1.0.0.127.in-addr.arpa",    /* a sign */
    "0x1.0.0.127.in-addr.arpa",   /* not decimal */
    "a.0.0.127.in-addr.arpa",     /* not decimal */
    "1 .0.0.127.in-addr.arpa",    /* a space */
    "1.0.0.127.in-addr.arpa.com", /* another name under it */
    "1.0.0.127.in-addr-arpa",
    "1.0.0.127",          /* the address itself is no reverse-DNS name */
    "1.0.0.127.ip6.arpa", /* IPv4 labels under ip6.arpa */
    "127.0.0.1",
    "example.org",
    /* IPv6: 31 and 33 nibbles, a two-digit label, a non-hex digit, a trailing dot, no dots */
    "a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
    "0." REVERSE_IP6_NIBBLES ".ip6.arpa",
    "ba.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
    "g.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
    REVERSE_IP6_NIBBLES ".ip6.arpa.",
    REVERSE_IP6_NIBBLES ".in-addr.arpa",
    "ba98765000000000000000008bd01002.ip6.arpa",
    "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0..2.ip6.arpa",
    "b:a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
};

START_TEST(test_reverse_dns_names_give_their_ip_address)
{
    char text[AT_NAME_IP_TEXT_MAX];

    ck_assert_msg(at_name_reverse_ip(reverse_good[_i].name, text), "%s refused",
                  reverse_good[_i].name);
    ck_assert_str_eq(text, reverse_good[_i].ip);
    ck_assert(at_name_reverse_ip(reverse_good[_i].name, NULL));
}
END_TEST

START_TEST(test_anything_else_is_no_reverse_dns_name)
{
    char text[AT_NAME_IP_TEXT_MAX] = "untouched";

    ck_assert_msg(!at_name_reverse_ip(reverse_bad[_i], text), "%s accepted", reverse_bad[_i]);
    ck_assert(!at_name_reverse_ip(reverse_bad[_i], NULL));
    ck_assert_str_eq(text, "untouched");
    ck_assert(!at_name_reverse_ip(NULL, text));
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
    tcase_add_loop_test(tc, test_public_ip_addresses_are_eligible_where_asked_for, 0,
                        (int)(sizeof(ip_public) / sizeof(ip_public[0])));
    tcase_add_loop_test(tc, test_private_ip_addresses_only_when_allowed, 0,
                        (int)(sizeof(ip_private) / sizeof(ip_private[0])));
    tcase_add_loop_test(tc, test_unusable_or_misspelt_ip_addresses_are_never_eligible, 0,
                        (int)(sizeof(ip_never) / sizeof(ip_never[0])));
    tcase_add_test(tc, test_ip_canonical_text_is_rfc5952_without_brackets);
    tcase_add_loop_test(tc, test_reverse_dns_names_give_their_ip_address, 0,
                        (int)(sizeof(reverse_good) / sizeof(reverse_good[0])));
    tcase_add_loop_test(tc, test_anything_else_is_no_reverse_dns_name, 0,
                        (int)(sizeof(reverse_bad) / sizeof(reverse_bad[0])));
    suite_add_tcase(s, tc);
    return s;
}

AT_UNIT_MAIN(name_suite)
