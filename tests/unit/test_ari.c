/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ari.c: ACME Renewal Information (ari.c): the certificate identifier, the window parser,
 * the random pick inside the window, and the fetch against a scripted CA (canned_ca.c).
 *
 * The one idea: the identifier is checked against RFC 9773's own example, built here with the
 * OpenSSL API from the example's AKI and serial, and every window the parser accepts or refuses
 * is a body a CA could really send.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include <apr_strings.h>
#include <openssl/x509v3.h>

#include "unit_main.h"
#include "at_ari.h"
#include "at_b64url.h"
#include "ca_fixture.h"

#define CT_JSON "Content-Type: application/json\r\n"
#define CT_PROBLEM "Content-Type: application/problem+json\r\n"
#define DIRECTORY_WITH(extra)                                                                      \
    "{\"newNonce\":\"$BASE/new-nonce\",\"newAccount\":\"$BASE/new-acct\","                         \
    "\"newOrder\":\"$BASE/new-order\",\"revokeCert\":\"$BASE/revoke\","                            \
    "\"keyChange\":\"$BASE/key-change\"" extra "}"
#define DIRECTORY_ARI DIRECTORY_WITH(",\"renewalInfo\":\"$BASE/renewal-info\"")
#define DIRECTORY_PLAIN DIRECTORY_WITH("")

/* RFC 9773 §4.1: the example certificate's keyIdentifier and serial, and its identifier. */
static const unsigned char rfc_aki[] = {0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3,
                                        0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4};
#define RFC_SERIAL_HEX "87654321"
#define RFC_CERT_ID "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"

/* 2030-03-17T17:46:40Z and a day later */
#define T0 ((apr_time_t)1900000000)
#define T0_TEXT "2030-03-17T17:46:40Z"
#define T1 (T0 + 86400)
#define T1_TEXT "2030-03-18T17:46:40Z"
#define WINDOW_BODY "{\"suggestedWindow\":{\"start\":\"" T0_TEXT "\",\"end\":\"" T1_TEXT "\"}}"
#define CERT_ID "AAEC.AQ"

#define RANDOM_MAX 0xffffffffu

/* --- certificates made here ------------------------------------------------------------------ */

static apr_status_t free_x509(void *cert)
{
    X509_free(cert);
    return APR_SUCCESS;
}

/* A self-signed certificate with this serial (hex) and, when aki is set, this keyIdentifier. */
static X509 *cert_with(const unsigned char *aki, size_t aki_len, const char *serial_hex)
{
    X509 *cert = X509_new();
    AUTHORITY_KEYID *akid;
    BIGNUM *bn = NULL;

    ck_assert_ptr_nonnull(cert);
    apr_pool_cleanup_register(pool, cert, free_x509, apr_pool_cleanup_null);
    ck_assert_int_gt(BN_hex2bn(&bn, serial_hex), 0);
    ck_assert_ptr_nonnull(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)));
    BN_free(bn);
    ck_assert_int_eq(X509_set_version(cert, 2), 1);
    ck_assert_int_eq(X509_set_pubkey(cert, key), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    if (aki != NULL) {
        akid = AUTHORITY_KEYID_new();
        akid->keyid = ASN1_OCTET_STRING_new();
        ck_assert_int_eq(ASN1_OCTET_STRING_set(akid->keyid, aki, (int)aki_len), 1);
        ck_assert_int_eq(X509_add1_ext_i2d(cert, NID_authority_key_identifier, akid, 0, 0), 1);
        AUTHORITY_KEYID_free(akid);
    }
    ck_assert_int_gt(X509_sign(cert, key, EVP_sha256()), 0);
    return cert;
}

static const char *cert_id_of(const unsigned char *aki, size_t aki_len, const char *serial_hex)
{
    const char *id = NULL;

    ck_assert_int_eq(at_ari_cert_id(&id, pool, cert_with(aki, aki_len, serial_hex)), APR_SUCCESS);
    return id;
}

/* The serial half of an identifier, decoded. */
static const unsigned char *serial_part(const char *id, apr_size_t *len)
{
    unsigned char *raw;

    ck_assert_int_eq(at_b64url_decode(&raw, len, pool, strchr(id, '.') + 1), APR_SUCCESS);
    return raw;
}

/* --- the certificate identifier ------------------------------------------------------------- */

START_TEST(test_cert_id_of_rfc_9773_example)
{
    ck_assert_str_eq(cert_id_of(rfc_aki, sizeof(rfc_aki), RFC_SERIAL_HEX), RFC_CERT_ID);
}
END_TEST

START_TEST(test_cert_id_serial_keeps_minimal_twos_complement)
{
    static const unsigned char aki[] = {0x00, 0x01, 0x02};
    const unsigned char *raw;
    apr_size_t len;

    /* high bit clear: no leading zero */
    ck_assert_str_eq(cert_id_of(aki, sizeof(aki), "01"), CERT_ID);
    raw = serial_part(cert_id_of(aki, sizeof(aki), "7F00"), &len);
    ck_assert_int_eq(len, 2);
    ck_assert_int_eq(raw[0], 0x7F);
    /* high bit set: a leading 0x00, as in the RFC's example */
    raw = serial_part(cert_id_of(aki, sizeof(aki), "80"), &len);
    ck_assert_int_eq(len, 2);
    ck_assert_int_eq(raw[0], 0x00);
    ck_assert_int_eq(raw[1], 0x80);
    /* a 20-byte serial, the longest RFC 5280 allows, with the high bit set: 21 octets */
    raw =
        serial_part(cert_id_of(aki, sizeof(aki), "FF0102030405060708090A0B0C0D0E0F10111213"), &len);
    ck_assert_int_eq(len, 21);
    ck_assert_int_eq(raw[0], 0x00);
    ck_assert_int_eq(raw[1], 0xFF);
    ck_assert_int_eq(raw[20], 0x13);
}
END_TEST

START_TEST(test_cert_id_without_aki_is_a_protocol_error)
{
    const char *id = "unchanged";

    ck_assert_int_eq(at_ari_cert_id(&id, pool, cert_with(NULL, 0, "01")), AT_EPROTO);
    ck_assert_ptr_null(id);
    ck_assert_int_eq(log_find(AT_LOG_ERR, "Authority Key Identifier"), 1);
}
END_TEST

/* --- parsing the window ------------------------------------------------------------------------
 */

static apr_status_t parse(at_ari_window_t *w, const char *body, apr_interval_time_t retry_after)
{
    return at_ari_parse(w, pool, body, body != NULL ? strlen(body) : 0, retry_after);
}

START_TEST(test_parse_valid_window)
{
    at_ari_window_t w;

    ck_assert_int_eq(parse(&w, WINDOW_BODY, 0), APR_SUCCESS);
    ck_assert_int_eq(w.start, apr_time_from_sec(T0));
    ck_assert_int_eq(w.end, apr_time_from_sec(T1));
    ck_assert_ptr_null(w.explanation_url);
    ck_assert_int_eq(w.retry_after, AT_ARI_POLL_DEFAULT);

    ck_assert_int_eq(parse(&w,
                           "{\"suggestedWindow\":{\"start\":\"2030-03-17T19:46:40.5+02:00\","
                           "\"end\":\"2030-03-18t17:46:40.000001z\"},"
                           "\"explanationURL\":\"https://ca.example/why\",\"other\":1}",
                           apr_time_from_sec(3600)),
                     APR_SUCCESS);
    ck_assert_int_eq(w.start, apr_time_from_sec(T0) + APR_USEC_PER_SEC / 2);
    ck_assert_int_eq(w.end, apr_time_from_sec(T1) + 1);
    ck_assert_str_eq(w.explanation_url, "https://ca.example/why");
    ck_assert_int_eq(w.retry_after, apr_time_from_sec(3600));
    ck_assert_int_eq(log_find(AT_LOG_WARN, "ARI"), 0);
}
END_TEST

START_TEST(test_parse_bounds_retry_after)
{
    at_ari_window_t w;

    ck_assert_int_eq(parse(&w, WINDOW_BODY, apr_time_from_sec(1)), APR_SUCCESS);
    ck_assert_int_eq(w.retry_after, AT_ARI_POLL_MIN);
    ck_assert_int_eq(parse(&w, WINDOW_BODY, apr_time_from_sec(INT32_MAX)), APR_SUCCESS);
    ck_assert_int_eq(w.retry_after, AT_ARI_POLL_MAX);
    ck_assert_int_eq(parse(&w, WINDOW_BODY, INT64_MAX), APR_SUCCESS);
    ck_assert_int_eq(w.retry_after, AT_ARI_POLL_MAX);
    ck_assert_int_eq(parse(&w, WINDOW_BODY, -apr_time_from_sec(60)), APR_SUCCESS);
    ck_assert_int_eq(w.retry_after, AT_ARI_POLL_DEFAULT);
    ck_assert_int_eq(parse(&w, WINDOW_BODY, INT64_MIN), APR_SUCCESS);
    ck_assert_int_eq(w.retry_after, AT_ARI_POLL_DEFAULT);
    /* a refused body still says when to ask again */
    ck_assert_int_eq(parse(&w, "{}", apr_time_from_sec(7200)), AT_EPROTO);
    ck_assert_int_eq(w.retry_after, apr_time_from_sec(7200));
}
END_TEST

static const char *const invalid_bodies[] = {
    NULL,
    "",
    "not json",
    "[]",
    "{}",
    "{\"suggestedWindow\":null}",
    "{\"suggestedWindow\":\"" T0_TEXT "\"}",
    "{\"suggestedWindow\":{\"start\":\"" T0_TEXT "\"}}",
    "{\"suggestedWindow\":{\"end\":\"" T1_TEXT "\"}}",
    "{\"suggestedWindow\":{\"start\":1900000000,\"end\":1900086400}}",
    /* end before start, end equal to start */
    "{\"suggestedWindow\":{\"start\":\"" T1_TEXT "\",\"end\":\"" T0_TEXT "\"}}",
    "{\"suggestedWindow\":{\"start\":\"" T0_TEXT "\",\"end\":\"" T0_TEXT "\"}}",
    "{\"suggestedWindow\":{\"start\":\"2030-03-17T19:46:40+02:00\",\"end\":\"" T0_TEXT "\"}}",
    /* dates that are not RFC 3339 */
    "{\"suggestedWindow\":{\"start\":\"2030-13-17T17:46:40Z\",\"end\":\"" T1_TEXT "\"}}",
    "{\"suggestedWindow\":{\"start\":\"2030-03-00T17:46:40Z\",\"end\":\"" T1_TEXT "\"}}",
    "{\"suggestedWindow\":{\"start\":\"2030-02-29T17:46:40Z\",\"end\":\"" T1_TEXT "\"}}",
    "{\"suggestedWindow\":{\"start\":\"2030-02-31T17:46:40Z\",\"end\":\"" T1_TEXT "\"}}",
    "{\"suggestedWindow\":{\"start\":\"2030-03-17T24:00:00Z\",\"end\":\"" T1_TEXT "\"}}",
    "{\"suggestedWindow\":{\"start\":\"2030-03-17T17:60:00Z\",\"end\":\"" T1_TEXT "\"}}",
    "{\"suggestedWindow\":{\"start\":\"2030-03-17 17:46:40Z\",\"end\":\"" T1_TEXT "\"}}",
    "{\"suggestedWindow\":{\"start\":\"2030-03-17T17:46:40\",\"end\":\"" T1_TEXT "\"}}",
    "{\"suggestedWindow\":{\"start\":\"2030-03-17T17:46:40Zjunk\",\"end\":\"" T1_TEXT "\"}}",
    "{\"suggestedWindow\":{\"start\":\"2030-03-17T17:46:40.Z\",\"end\":\"" T1_TEXT "\"}}",
    "{\"suggestedWindow\":{\"start\":\"2030-03-17T17:46:40+2:00\",\"end\":\"" T1_TEXT "\"}}",
    "{\"suggestedWindow\":{\"start\":\"2030-03-17T17:46:40+24:00\",\"end\":\"" T1_TEXT "\"}}",
    "{\"suggestedWindow\":{\"start\":\"1969-12-31T23:59:59Z\",\"end\":\"" T1_TEXT "\"}}",
    "{\"suggestedWindow\":{\"start\":\"Sun, 17 Mar 2030 17:46:40 GMT\",\"end\":\"" T1_TEXT "\"}}",
    "{\"suggestedWindow\":{\"start\":\"2030-03-17T17:46:40\\u0000Z\",\"end\":\"" T1_TEXT "\"}}",
    /* duplicate members: which one would count? */
    "{\"suggestedWindow\":{\"start\":\"" T0_TEXT "\",\"start\":\"" T0_TEXT "\",\"end\":\"" T1_TEXT
    "\"}}",
    /* an explanationURL that is no http(s) URL, or would smuggle control characters */
    "{\"suggestedWindow\":{\"start\":\"" T0_TEXT "\",\"end\":\"" T1_TEXT "\"},"
    "\"explanationURL\":42}",
    "{\"suggestedWindow\":{\"start\":\"" T0_TEXT "\",\"end\":\"" T1_TEXT "\"},"
    "\"explanationURL\":\"javascript:alert(1)\"}",
    "{\"suggestedWindow\":{\"start\":\"" T0_TEXT "\",\"end\":\"" T1_TEXT "\"},"
    "\"explanationURL\":\"https://ca.example/\\nforged log line\"}",
};

START_TEST(test_parse_refuses_what_is_not_a_window)
{
    at_ari_window_t w;

    memset(&w, 0xff, sizeof(w));
    ck_assert_int_eq(parse(&w, invalid_bodies[_i], 0), AT_EPROTO);
    ck_assert_int_eq(w.start, 0);
    ck_assert_int_eq(w.end, 0);
    ck_assert_ptr_null(w.explanation_url);
    ck_assert_int_eq(w.retry_after, AT_ARI_POLL_DEFAULT);
    ck_assert_int_eq(log_find(AT_LOG_WARN, "renewalInfo is not a valid window"), 1);
}
END_TEST

START_TEST(test_parse_takes_a_leap_day_and_quotes_bad_times_harmlessly)
{
    at_ari_window_t w;

    ck_assert_int_eq(parse(&w,
                           "{\"suggestedWindow\":{\"start\":\"2028-02-29T00:00:00Z\","
                           "\"end\":\"2028-03-01T00:00:00Z\"}}",
                           0),
                     APR_SUCCESS);
    ck_assert_int_eq(w.end - w.start, apr_time_from_sec(86400));
    ck_assert_int_eq(parse(&w,
                           "{\"suggestedWindow\":{\"start\":\"\\u001b[31m\\nforged\","
                           "\"end\":\"" T1_TEXT "\"}}",
                           0),
                     AT_EPROTO);
    ck_assert_int_eq(log_find(AT_LOG_WARN, "\"?[31m?forged\""), 1);
    ck_assert_int_eq(log_find(AT_LOG_WARN, "\n"), 0);
    ck_assert_int_eq(log_find(AT_LOG_WARN, "\x1b"), 0);
}
END_TEST

/* --- picking a moment ---------------------------------------------------------------------------
 */

START_TEST(test_pick_stays_inside_the_window)
{
    at_ari_window_t w = {apr_time_from_sec(T0), apr_time_from_sec(T1), NULL, 0};
    apr_interval_time_t span = w.end - w.start;
    apr_time_t t;

    ck_assert_int_eq(at_ari_pick(&w, 0), w.start);
    t = at_ari_pick(&w, RANDOM_MAX);
    ck_assert_int_lt(t, w.end);
    ck_assert_int_ge(t, w.end - span / RANDOM_MAX - 1);
    t = at_ari_pick(&w, RANDOM_MAX / 2 + 1);
    ck_assert_int_eq(t, w.start + span / 2);
    t = at_ari_pick(&w, RANDOM_MAX / 4 + 1);
    ck_assert_int_eq(t, w.start + span / 4);
}
END_TEST

START_TEST(test_pick_never_overflows_or_leaves_a_degenerate_window)
{
    at_ari_window_t huge = {INT64_MIN, INT64_MAX, NULL, 0};
    at_ari_window_t tiny = {apr_time_from_sec(T0), apr_time_from_sec(T0) + 1, NULL, 0};
    at_ari_window_t reversed = {apr_time_from_sec(T1), apr_time_from_sec(T0), NULL, 0};
    apr_uint32_t r;

    ck_assert_int_eq(at_ari_pick(&huge, 0), INT64_MIN);
    ck_assert_int_lt(at_ari_pick(&huge, RANDOM_MAX), INT64_MAX);
    ck_assert_int_gt(at_ari_pick(&huge, RANDOM_MAX), INT64_MAX - (INT64_MAX / RANDOM_MAX) * 3);
    ck_assert(at_ari_pick(&huge, RANDOM_MAX / 2 + 1) >= -1 &&
              at_ari_pick(&huge, RANDOM_MAX / 2 + 1) <= 1);
    for (r = 0; r < 16; r++) {
        ck_assert_int_eq(at_ari_pick(&tiny, r * (RANDOM_MAX / 16)), tiny.start);
    }
    ck_assert_int_eq(at_ari_pick(&reversed, RANDOM_MAX), reversed.start);
}
END_TEST

/* --- fetching from the CA -----------------------------------------------------------------------
 */

START_TEST(test_fetch_gets_the_window_by_cert_id)
{
    at_ari_window_t w;
    const canned_request_t *req;

    canned_ca_add(ca, 200, CT_JSON, DIRECTORY_ARI);
    canned_ca_add(ca, 200, CT_JSON "Retry-After: 3600\r\n",
                  "{\"suggestedWindow\":{\"start\":\"" T0_TEXT "\",\"end\":\"" T1_TEXT "\"},"
                  "\"explanationURL\":\"$BASE/incident\"}");
    ck_assert_int_eq(at_ari_fetch(&w, acme, pool, RFC_CERT_ID), APR_SUCCESS);
    ck_assert_int_eq(w.start, apr_time_from_sec(T0));
    ck_assert_int_eq(w.end, apr_time_from_sec(T1));
    ck_assert_int_eq(w.retry_after, apr_time_from_sec(3600));
    ck_assert_str_eq(w.explanation_url, url_of("/incident"));
    ck_assert_int_eq(canned_ca_request_count(ca), 2);
    req = canned_ca_request(ca, 1);
    ck_assert_str_eq(req->method, "GET");
    ck_assert_str_eq(req->path, "/renewal-info/" RFC_CERT_ID);
    ck_assert_int_eq(req->body_len, 0);
    /* the directory is cached: a second fetch is one request */
    canned_ca_add(ca, 200, CT_JSON, WINDOW_BODY);
    ck_assert_int_eq(at_ari_fetch(&w, acme, pool, CERT_ID), APR_SUCCESS);
    ck_assert_int_eq(canned_ca_request_count(ca), 3);
    ck_assert_str_eq(canned_ca_request(ca, 2)->path, "/renewal-info/" CERT_ID);
    ck_assert_int_eq(w.retry_after, AT_ARI_POLL_DEFAULT);
}
END_TEST

START_TEST(test_fetch_keeps_one_slash_after_a_trailing_one)
{
    at_ari_window_t w;

    canned_ca_add(ca, 200, CT_JSON, DIRECTORY_WITH(",\"renewalInfo\":\"$BASE/ari/\""));
    canned_ca_add(ca, 200, CT_JSON, WINDOW_BODY);
    ck_assert_int_eq(at_ari_fetch(&w, acme, pool, CERT_ID), APR_SUCCESS);
    ck_assert_str_eq(canned_ca_request(ca, 1)->path, "/ari/" CERT_ID);
}
END_TEST

START_TEST(test_fetch_without_renewal_info_is_enotimpl)
{
    at_ari_window_t w;

    canned_ca_add(ca, 200, CT_JSON, DIRECTORY_PLAIN);
    ck_assert_int_eq(at_ari_fetch(&w, acme, pool, CERT_ID), APR_ENOTIMPL);
    ck_assert_int_eq(canned_ca_request_count(ca), 1);
    ck_assert_int_eq(log_find(AT_LOG_WARN, ""), 0);
}
END_TEST

START_TEST(test_fetch_refused_by_the_ca_names_its_problem)
{
    at_ari_window_t w;

    canned_ca_add(ca, 200, CT_JSON, DIRECTORY_ARI);
    canned_ca_add(
        ca, 404, CT_PROBLEM "Retry-After: 5\r\n",
        "{\"type\":\"urn:ietf:params:acme:error:malformed\",\"detail\":\"unknown cert\"}");
    ck_assert_int_eq(at_ari_fetch(&w, acme, pool, CERT_ID), AT_EPROTO);
    ck_assert_int_eq(w.retry_after, AT_ARI_POLL_MIN);
    ck_assert_int_eq(log_find(AT_LOG_WARN, "answered status 404"), 1);
    ck_assert_int_eq(log_find(AT_LOG_WARN, "unknown cert"), 1);
    ck_assert_int_eq(log_find(AT_LOG_WARN, url_of("/renewal-info/" CERT_ID)), 1);

    canned_ca_add(ca, 500, "Content-Type: text/html\r\n", "<h1>oops</h1>");
    ck_assert_int_eq(at_ari_fetch(&w, acme, pool, CERT_ID), AT_EPROTO);
    ck_assert_int_eq(w.retry_after, AT_ARI_POLL_DEFAULT);
    ck_assert_int_eq(log_find(AT_LOG_WARN, "answered status 500"), 1);
}
END_TEST

START_TEST(test_fetch_of_an_invalid_window_is_a_protocol_error)
{
    at_ari_window_t w;

    canned_ca_add(ca, 200, CT_JSON, DIRECTORY_ARI);
    canned_ca_add(ca, 200, CT_JSON "Retry-After: 99999999\r\n",
                  "{\"suggestedWindow\":{\"start\":\"" T1_TEXT "\",\"end\":\"" T0_TEXT "\"}}");
    ck_assert_int_eq(at_ari_fetch(&w, acme, pool, CERT_ID), AT_EPROTO);
    ck_assert_int_eq(w.retry_after, AT_ARI_POLL_MAX);
    ck_assert_int_eq(w.start, 0);
    ck_assert_int_eq(log_find(AT_LOG_WARN, "is not after its start"), 1);
    ck_assert_int_eq(log_find(AT_LOG_WARN, url_of("/renewal-info/" CERT_ID)), 1);
}
END_TEST

START_TEST(test_fetch_refuses_a_malformed_cert_id_without_a_request)
{
    static const char *const bad[] = {"",      ".",        "abc",     "abc.",  ".abc",
                                      "a/b.c", "a.b/../x", "a.b?x=1", "a.b.c", "a b.c"};
    at_ari_window_t w;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(at_ari_fetch(&w, acme, pool, bad[i]), AT_EARG);
    }
    ck_assert_int_eq(at_ari_fetch(&w, acme, pool, NULL), AT_EARG);
    ck_assert_int_eq(canned_ca_request_count(ca), 0);
}
END_TEST

START_TEST(test_fetch_with_the_ca_down_returns_the_transport_error)
{
    at_ari_window_t w;
    at_acme_t *other;

    /* a directory whose renewalInfo points at a closed port */
    canned_ca_add(ca, 200, CT_JSON,
                  DIRECTORY_WITH(",\"renewalInfo\":\"http://127.0.0.1:1/renewal-info\""));
    ck_assert_int_eq(at_acme_create(&other, pool, url_of("/dir"), http), APR_SUCCESS);
    ck_assert_int_eq(at_ari_fetch(&w, other, pool, CERT_ID), AT_EHTTP);
    ck_assert_int_eq(w.retry_after, AT_ARI_POLL_DEFAULT);
}
END_TEST

static Suite *ari_suite(void)
{
    Suite *s = suite_create("ari");
    TCase *id = tcase_create("cert_id");
    TCase *window = tcase_create("window");
    TCase *fetch = tcase_create("fetch");

    tcase_add_checked_fixture(id, ca_fixture_setup, ca_fixture_teardown);
    tcase_add_test(id, test_cert_id_of_rfc_9773_example);
    tcase_add_test(id, test_cert_id_serial_keeps_minimal_twos_complement);
    tcase_add_test(id, test_cert_id_without_aki_is_a_protocol_error);
    suite_add_tcase(s, id);

    tcase_add_checked_fixture(window, ca_fixture_setup, ca_fixture_teardown);
    tcase_add_test(window, test_parse_valid_window);
    tcase_add_test(window, test_parse_bounds_retry_after);
    tcase_add_loop_test(window, test_parse_refuses_what_is_not_a_window, 0,
                        (int)(sizeof(invalid_bodies) / sizeof(invalid_bodies[0])));
    tcase_add_test(window, test_parse_takes_a_leap_day_and_quotes_bad_times_harmlessly);
    tcase_add_test(window, test_pick_stays_inside_the_window);
    tcase_add_test(window, test_pick_never_overflows_or_leaves_a_degenerate_window);
    suite_add_tcase(s, window);

    tcase_add_checked_fixture(fetch, ca_fixture_setup, ca_fixture_teardown);
    tcase_add_test(fetch, test_fetch_gets_the_window_by_cert_id);
    tcase_add_test(fetch, test_fetch_keeps_one_slash_after_a_trailing_one);
    tcase_add_test(fetch, test_fetch_without_renewal_info_is_enotimpl);
    tcase_add_test(fetch, test_fetch_refused_by_the_ca_names_its_problem);
    tcase_add_test(fetch, test_fetch_of_an_invalid_window_is_a_protocol_error);
    tcase_add_test(fetch, test_fetch_refuses_a_malformed_cert_id_without_a_request);
    tcase_add_test(fetch, test_fetch_with_the_ca_down_returns_the_transport_error);
    suite_add_tcase(s, fetch);
    return s;
}

AT_UNIT_MAIN(ari_suite)
