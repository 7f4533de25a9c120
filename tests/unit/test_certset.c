/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_certset.c: certificate chains in PEM, their verification, and the activator's check of a
 * staged certificate set (at_certset_validate).
 *
 * The one idea: what the library judges is judged against a tiny CA (root -> intermediate ->
 * leaf, tiny_ca.c) built with the OpenSSL API, never with the code under test, and every refusal
 * is checked for the reason an operator will read.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <check.h>
#include <openssl/x509.h>

#include "unit_main.h"
#include "at_core.h"
#include "at_crypto.h"
#include "tiny_ca.h"

#define TIME_TEXT_MAX 64
#define HOUR apr_time_from_sec(3600)
#define DAY apr_time_from_sec(86400)

static apr_pool_t *pool;

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

static apr_array_header_t *chain_of(X509 *first, X509 *second)
{
    apr_array_header_t *chain = apr_array_make(pool, 2, sizeof(X509 *));

    APR_ARRAY_PUSH(chain, X509 *) = first;
    if (second != NULL) {
        APR_ARRAY_PUSH(chain, X509 *) = second;
    }
    return chain;
}

static apr_time_t cert_time(const ASN1_TIME *t)
{
    apr_time_t result = 0;

    ck_assert_int_eq(at_asn1_time_to_apr(&result, t), APR_SUCCESS);
    return result;
}

/* The time format of the set check's reasons: ISO 8601 in UTC. */
static const char *iso_time(apr_time_t t)
{
    char *text = apr_palloc(pool, TIME_TEXT_MAX);
    apr_size_t len = 0;
    apr_time_exp_t xt;

    ck_assert_int_eq(apr_time_exp_gmt(&xt, t), APR_SUCCESS);
    ck_assert_int_eq(apr_strftime(text, &len, TIME_TEXT_MAX, "%Y-%m-%dT%H:%M:%SZ", &xt),
                     APR_SUCCESS);
    return text;
}

/* --- PEM chains ------------------------------------------------------------------------------ */

static void assert_same_cert(X509 *a, X509 *b)
{
    ck_assert_int_eq(X509_cmp(a, b), 0);
}

START_TEST(test_chain_round_trips_through_pem_and_der)
{
    tiny_ca_t ca;
    apr_array_header_t *chain = NULL;
    const char *pem = NULL;
    unsigned char *der = NULL, *ref = NULL;
    apr_size_t len = 0, der_len = 0;
    int ref_len;

    tiny_ca_make(&ca, pool, "Test Root");
    ck_assert_int_eq(at_chain_to_pem(&pem, &len, pool, chain_of(ca.leaf, ca.inter)), APR_SUCCESS);
    ck_assert_uint_eq(len, strlen(pem));
    ck_assert_int_eq(at_chain_from_pem(&chain, pool, pem, len), APR_SUCCESS);
    ck_assert_int_eq(chain->nelts, 2);
    assert_same_cert(APR_ARRAY_IDX(chain, 0, X509 *), ca.leaf);
    assert_same_cert(APR_ARRAY_IDX(chain, 1, X509 *), ca.inter);

    ck_assert_int_eq(at_cert_to_der(&der, &der_len, pool, ca.leaf), APR_SUCCESS);
    ref_len = i2d_X509(ca.leaf, &ref);
    ck_assert_int_eq((int)der_len, ref_len);
    ck_assert_int_eq(memcmp(der, ref, der_len), 0);
    OPENSSL_free(ref);
}
END_TEST

START_TEST(test_chain_from_pem_rejects_empty_and_garbage)
{
    static const char garbage[] = "this is not a certificate\n";
    static const char bad_block[] =
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    static const char bad_base64[] =
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
    static const char only_key[] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    apr_array_header_t *chain = NULL;

    ck_assert_int_eq(at_chain_from_pem(&chain, pool, "", 0), AT_EINVALID);
    ck_assert_int_eq(at_chain_from_pem(&chain, pool, NULL, 0), AT_EINVALID);
    ck_assert_int_eq(at_chain_from_pem(&chain, pool, garbage, sizeof(garbage) - 1), AT_EINVALID);
    ck_assert_int_eq(at_chain_from_pem(&chain, pool, bad_block, sizeof(bad_block) - 1),
                     AT_EINVALID);
    ck_assert_int_eq(at_chain_from_pem(&chain, pool, bad_base64, sizeof(bad_base64) - 1),
                     AT_EINVALID);
    ck_assert_int_eq(at_chain_from_pem(&chain, pool, only_key, sizeof(only_key) - 1), AT_EINVALID);
    ck_assert_ptr_null(chain);
}
END_TEST

START_TEST(test_chain_from_pem_rejects_a_pem_cut_anywhere_inside_a_block)
{
    tiny_ca_t ca;
    const char *leaf = NULL, *inter, *pem;
    apr_array_header_t *chain = NULL;
    apr_size_t leaf_len, end, cut;

    tiny_ca_make(&ca, pool, "Test Root");
    leaf = tiny_ca_pem(pool, ca.leaf);
    inter = tiny_ca_pem(pool, ca.inter);
    leaf_len = strlen(leaf);
    pem = apr_pstrcat(pool, leaf, inter, NULL);
    /* the last block ends with its END line's final dash; the newline after it is optional.
     * Every shorter cut ends inside a block (or right after the first one). */
    end = strlen(pem) - 1;
    ck_assert_int_eq(at_chain_from_pem(&chain, pool, pem, end), APR_SUCCESS);
    ck_assert_int_eq(chain->nelts, 2);
    for (cut = 1; cut < end; cut++) {
        chain = NULL;
        if (cut == leaf_len - 1 || cut == leaf_len) {
            /* exactly the first block, with or without its final newline */
            ck_assert_int_eq(at_chain_from_pem(&chain, pool, pem, cut), APR_SUCCESS);
            ck_assert_int_eq(chain->nelts, 1);
            continue;
        }
        ck_assert_msg(at_chain_from_pem(&chain, pool, pem, cut) == AT_EINVALID,
                      "cut at %" APR_SIZE_T_FMT " of %" APR_SIZE_T_FMT " was accepted", cut, end);
        ck_assert_ptr_null(chain);
    }
}
END_TEST

START_TEST(test_chain_from_pem_skips_text_between_blocks_and_honours_len)
{
    tiny_ca_t ca;
    const char *leaf, *inter, *key_pem = NULL, *pem;
    apr_array_header_t *chain = NULL;
    apr_size_t key_len = 0, leaf_len;
    char *exact;

    tiny_ca_make(&ca, pool, "Test Root");
    leaf = tiny_ca_pem(pool, ca.leaf);
    inter = tiny_ca_pem(pool, ca.inter);
    leaf_len = strlen(leaf);
    ck_assert_int_eq(at_key_to_pem(&key_pem, &key_len, pool, ca.leaf_key), APR_SUCCESS);
    pem = apr_pstrcat(pool, "Subject: www.example.org\n", leaf, "\nissuer: Test Intermediate\n",
                      key_pem, inter, "trailing words\n", NULL);
    ck_assert_int_eq(at_chain_from_pem(&chain, pool, pem, strlen(pem)), APR_SUCCESS);
    ck_assert_int_eq(chain->nelts, 2);
    assert_same_cert(APR_ARRAY_IDX(chain, 0, X509 *), ca.leaf);
    assert_same_cert(APR_ARRAY_IDX(chain, 1, X509 *), ca.inter);

    /* exactly len bytes, no terminator: valgrind sees any read beyond them */
    exact = apr_palloc(pool, leaf_len);
    memcpy(exact, leaf, leaf_len);
    ck_assert_int_eq(at_chain_from_pem(&chain, pool, exact, leaf_len), APR_SUCCESS);
    ck_assert_int_eq(chain->nelts, 1);
    /* a longer text read only up to len: the second block is not seen */
    pem = apr_pstrcat(pool, leaf, inter, NULL);
    ck_assert_int_eq(at_chain_from_pem(&chain, pool, pem, leaf_len), APR_SUCCESS);
    ck_assert_int_eq(chain->nelts, 1);
}
END_TEST

/* --- chain verification ---------------------------------------------------------------------- */

START_TEST(test_chain_verifies_to_its_root_and_not_to_another_or_after_expiry)
{
    tiny_ca_t ca, other;
    const char *why = NULL;
    tiny_cert_spec_t client_spec = {0};
    apr_time_t expiry;
    X509 *client;

    tiny_ca_make(&ca, pool, "Test Root");
    tiny_ca_make(&other, pool, "Other Root");
    ck_assert_int_eq(
        at_chain_verify(&why, pool, chain_of(ca.leaf, ca.inter), ca.roots_file, apr_time_now()),
        APR_SUCCESS);
    ck_assert_ptr_null(why);

    ck_assert_int_eq(
        at_chain_verify(&why, pool, chain_of(ca.leaf, ca.inter), other.roots_file, apr_time_now()),
        AT_EINVALID);
    ck_assert_str_eq(why, "unable to get local issuer certificate");

    expiry = cert_time(X509_get0_notAfter(ca.leaf));
    ck_assert_int_eq(
        at_chain_verify(&why, pool, chain_of(ca.leaf, ca.inter), ca.roots_file, expiry + DAY),
        AT_EINVALID);
    ck_assert_str_eq(why, "certificate has expired");

    /* without the intermediate there is no path to the root */
    ck_assert_int_eq(
        at_chain_verify(&why, pool, chain_of(ca.leaf, NULL), ca.roots_file, apr_time_now()),
        AT_EINVALID);
    ck_assert_str_eq(why, "unable to get local issuer certificate");

    /* a certificate for TLS clients only is no server certificate */
    client_spec.key = ca.leaf_key;
    client_spec.cn = "www.example.org";
    client_spec.issuer = ca.inter;
    client_spec.issuer_key = ca.inter_key;
    client_spec.eku = "clientAuth";
    client_spec.san = "DNS:www.example.org";
    client_spec.from_secs = -TINY_CA_HOUR_SECS;
    client_spec.to_secs = TINY_CA_DAY_SECS;
    client = tiny_ca_cert(pool, &client_spec);
    ck_assert_int_eq(
        at_chain_verify(&why, pool, chain_of(client, ca.inter), ca.roots_file, apr_time_now()),
        AT_EINVALID);
    ck_assert_str_eq(why, "unsuitable certificate purpose");

    ck_assert_int_eq(at_chain_verify(&why, pool, chain_of(ca.leaf, ca.inter),
                                     "/nonexistent/roots.pem", apr_time_now()),
                     AT_EINVALID);
    ck_assert_ptr_nonnull(strstr(why, "/nonexistent/roots.pem"));
}
END_TEST

/* --- certificate sets ------------------------------------------------------------------------ */

static at_certset_check_t set_check(tiny_ca_t *ca, apr_array_header_t *names)
{
    at_certset_check_t check;

    check.names = names;
    check.roots_file = ca->roots_file;
    check.require_chain = 1;
    check.now = apr_time_now();
    check.allow_partial = 0;
    return check;
}

START_TEST(test_certset_validate_accepts_a_good_set)
{
    tiny_ca_t ca;
    at_certset_check_t check;
    const char *why = NULL;

    tiny_ca_make(&ca, pool, "Test Root");
    check = set_check(&ca, at_unit_names(pool, "www.example.org", "EXAMPLE.org", NULL));
    ck_assert_int_eq(
        at_certset_validate(&why, pool, ca.leaf_key, chain_of(ca.leaf, ca.inter), &check),
        APR_SUCCESS);
    ck_assert_ptr_null(why);
    /* without roots the chain is not verified, so a set under an unknown root passes */
    check.roots_file = NULL;
    ck_assert_int_eq(
        at_certset_validate(&why, pool, ca.leaf_key, chain_of(ca.leaf, ca.inter), &check),
        APR_SUCCESS);
}
END_TEST

START_TEST(test_certset_validate_names_each_failure)
{
    tiny_ca_t ca, other;
    at_certset_check_t check;
    const char *why = NULL;
    apr_array_header_t *chain;
    apr_time_t not_before, not_after;

    tiny_ca_make(&ca, pool, "Test Root");
    tiny_ca_make(&other, pool, "Other Root");
    chain = chain_of(ca.leaf, ca.inter);
    not_before = cert_time(X509_get0_notBefore(ca.leaf));
    not_after = cert_time(X509_get0_notAfter(ca.leaf));

    check = set_check(&ca, at_unit_names(pool, "www.example.org", NULL));
    ck_assert_int_eq(at_certset_validate(&why, pool, other.leaf_key, chain, &check), AT_EINVALID);
    ck_assert_str_eq(why, "private key does not match the certificate");

    check = set_check(&ca, at_unit_names(pool, "www.example.org", "mail.example.org", NULL));
    ck_assert_int_eq(at_certset_validate(&why, pool, ca.leaf_key, chain, &check), AT_EINVALID);
    ck_assert_str_eq(why, "certificate does not cover mail.example.org");

    check = set_check(&ca, at_unit_names(pool, "www.example.org", NULL));
    check.now = not_after + HOUR;
    ck_assert_int_eq(at_certset_validate(&why, pool, ca.leaf_key, chain, &check), AT_EINVALID);
    ck_assert_str_eq(why, apr_pstrcat(pool, "certificate expired on ", iso_time(not_after), NULL));

    check.now = not_before - HOUR;
    ck_assert_int_eq(at_certset_validate(&why, pool, ca.leaf_key, chain, &check), AT_EINVALID);
    ck_assert_str_eq(
        why, apr_pstrcat(pool, "certificate not valid before ", iso_time(not_before), NULL));

    check = set_check(&ca, at_unit_names(pool, "www.example.org", NULL));
    ck_assert_int_eq(at_certset_validate(&why, pool, ca.leaf_key, chain_of(ca.leaf, NULL), &check),
                     AT_EINVALID);
    ck_assert_str_eq(why, "no intermediate certificate in chain");

    check.roots_file = other.roots_file;
    ck_assert_int_eq(at_certset_validate(&why, pool, ca.leaf_key, chain, &check), AT_EINVALID);
    ck_assert_str_eq(why, "chain does not verify to the issuer roots: "
                          "unable to get local issuer certificate");

    ck_assert_int_eq(at_certset_validate(&why, pool, ca.leaf_key,
                                         apr_array_make(pool, 1, sizeof(X509 *)), &check),
                     AT_EINVALID);
    ck_assert_str_eq(why, "no certificate in the set");
}
END_TEST

/* A leaf of ca's intermediate for the given SAN text, valid now. */
static X509 *leaf_for(tiny_ca_t *ca, const char *san)
{
    tiny_cert_spec_t spec = {0};

    spec.key = ca->leaf_key;
    spec.cn = "www.example.org";
    spec.issuer = ca->inter;
    spec.issuer_key = ca->inter_key;
    spec.eku = "serverAuth";
    spec.san = san;
    spec.from_secs = -TINY_CA_HOUR_SECS;
    spec.to_secs = TINY_CA_DAY_SECS;
    return tiny_ca_cert(pool, &spec);
}

START_TEST(test_certset_partial_set_passes_only_with_allow_partial)
{
    tiny_ca_t ca;
    at_certset_check_t check;
    const char *why = NULL;
    apr_array_header_t *site =
        at_unit_names(pool, "www.example.org", "example.org", "mail.example.org", NULL);

    tiny_ca_make(&ca, pool, "Test Root");
    check = set_check(&ca, site);
    ck_assert_int_eq(
        at_certset_validate(&why, pool, ca.leaf_key, chain_of(ca.leaf, ca.inter), &check),
        AT_EINVALID);
    ck_assert_str_eq(why, "certificate does not cover mail.example.org");

    check.allow_partial = 1;
    ck_assert_int_eq(
        at_certset_validate(&why, pool, ca.leaf_key, chain_of(ca.leaf, ca.inter), &check),
        APR_SUCCESS);
    ck_assert_ptr_null(why);
    /* one name out of three is still a certificate for the site; names compare ignoring case */
    check.names = at_unit_names(pool, "WWW.Example.ORG", "example.org", "mail.example.org", NULL);
    ck_assert_int_eq(at_certset_validate(&why, pool, ca.leaf_key,
                                         chain_of(leaf_for(&ca, "DNS:www.example.org"), ca.inter),
                                         &check),
                     APR_SUCCESS);
    /* a complete set passes the partial check too */
    check.names = at_unit_names(pool, "www.example.org", "example.org", NULL);
    ck_assert_int_eq(
        at_certset_validate(&why, pool, ca.leaf_key, chain_of(ca.leaf, ca.inter), &check),
        APR_SUCCESS);
}
END_TEST

START_TEST(test_certset_partial_set_must_name_only_site_names)
{
    tiny_ca_t ca;
    at_certset_check_t check;
    const char *why = NULL;
    X509 *leaf;

    tiny_ca_make(&ca, pool, "Test Root");
    check = set_check(&ca, at_unit_names(pool, "www.example.org", "mail.example.org", NULL));
    check.allow_partial = 1;
    /* the tiny CA's leaf also names example.org, which is not one of this site's names */
    ck_assert_int_eq(
        at_certset_validate(&why, pool, ca.leaf_key, chain_of(ca.leaf, ca.inter), &check),
        AT_EINVALID);
    ck_assert_str_eq(why, "certificate names example.org, which is not one of the site's names");
    /* without allow_partial the same extra name is fine once every name is covered */
    check.allow_partial = 0;
    check.names = at_unit_names(pool, "www.example.org", NULL);
    ck_assert_int_eq(
        at_certset_validate(&why, pool, ca.leaf_key, chain_of(ca.leaf, ca.inter), &check),
        APR_SUCCESS);

    /* a set made for another site covers none of ours */
    check.allow_partial = 1;
    check.names = at_unit_names(pool, "shop.example.net", "example.net", NULL);
    leaf = leaf_for(&ca, "DNS:www.example.org");
    ck_assert_int_eq(at_certset_validate(&why, pool, ca.leaf_key, chain_of(leaf, ca.inter), &check),
                     AT_EINVALID);
    ck_assert_str_eq(why,
                     "certificate names www.example.org, which is not one of the site's names");
    /* a wildcard SAN is not one of the site's names, even though it would cover them */
    check.names = at_unit_names(pool, "www.example.org", NULL);
    leaf = leaf_for(&ca, "DNS:*.example.org");
    ck_assert_int_eq(at_certset_validate(&why, pool, ca.leaf_key, chain_of(leaf, ca.inter), &check),
                     AT_EINVALID);
    ck_assert_str_eq(why, "certificate names *.example.org, which is not one of the site's names");
    /* no names to cover: nothing can be partial of nothing */
    check.names = at_unit_names(pool, NULL, NULL);
    leaf = leaf_for(&ca, "DNS:www.example.org");
    ck_assert_int_eq(at_certset_validate(&why, pool, ca.leaf_key, chain_of(leaf, ca.inter), &check),
                     AT_EINVALID);
}
END_TEST

START_TEST(test_certset_partial_set_keeps_every_other_check)
{
    tiny_ca_t ca, other;
    at_certset_check_t check;
    const char *why = NULL;
    apr_array_header_t *chain;

    tiny_ca_make(&ca, pool, "Test Root");
    tiny_ca_make(&other, pool, "Other Root");
    chain = chain_of(leaf_for(&ca, "DNS:www.example.org"), ca.inter);
    check = set_check(&ca, at_unit_names(pool, "www.example.org", "mail.example.org", NULL));
    check.allow_partial = 1;
    ck_assert_int_eq(at_certset_validate(&why, pool, other.leaf_key, chain, &check), AT_EINVALID);
    ck_assert_str_eq(why, "private key does not match the certificate");
    check.now = apr_time_now() + 2 * DAY;
    ck_assert_int_eq(at_certset_validate(&why, pool, ca.leaf_key, chain, &check), AT_EINVALID);
    ck_assert_ptr_nonnull(strstr(why, "certificate expired on "));
    check.now = apr_time_now();
    check.roots_file = other.roots_file;
    ck_assert_int_eq(at_certset_validate(&why, pool, ca.leaf_key, chain, &check), AT_EINVALID);
    ck_assert_ptr_nonnull(strstr(why, "does not verify to the issuer roots"));
}
END_TEST

static Suite *certset_suite(void)
{
    Suite *s = suite_create("certset");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_chain_round_trips_through_pem_and_der);
    tcase_add_test(tc, test_chain_from_pem_rejects_empty_and_garbage);
    tcase_add_test(tc, test_chain_from_pem_rejects_a_pem_cut_anywhere_inside_a_block);
    tcase_add_test(tc, test_chain_from_pem_skips_text_between_blocks_and_honours_len);
    tcase_add_test(tc, test_chain_verifies_to_its_root_and_not_to_another_or_after_expiry);
    tcase_add_test(tc, test_certset_validate_accepts_a_good_set);
    tcase_add_test(tc, test_certset_validate_names_each_failure);
    tcase_add_test(tc, test_certset_partial_set_passes_only_with_allow_partial);
    tcase_add_test(tc, test_certset_partial_set_must_name_only_site_names);
    tcase_add_test(tc, test_certset_partial_set_keeps_every_other_check);
    suite_add_tcase(s, tc);
    return s;
}

AT_UNIT_MAIN(certset_suite)
