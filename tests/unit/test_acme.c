/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_acme.c: the ACME client against a scripted CA (canned_ca.c); the HTTP layer is test_http.c.
 *
 * The one idea: each test plays a CA that behaves, or misbehaves in exactly one way, and checks
 * both what the client concluded and what it actually sent over the wire (decoded JWS headers
 * and payloads included).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_date.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "unit_main.h"
#include "at_acme.h"
#include "at_b64url.h"
#include "at_core.h"
#include "at_http.h"
#include "at_jws.h"
#include "ca_fixture.h"
#include "canned_ca.h"

#define P256_COORD 32

#define CT_JSON "Content-Type: application/json\r\n"
#define CT_PROBLEM "Content-Type: application/problem+json\r\n"
#define CT_PEM "Content-Type: application/pem-certificate-chain\r\n"
#define DIRECTORY                                                                                  \
    "{\"newNonce\":\"$BASE/new-nonce\",\"newAccount\":\"$BASE/new-acct\","                         \
    "\"newOrder\":\"$BASE/new-order\",\"revokeCert\":\"$BASE/revoke\","                            \
    "\"keyChange\":\"$BASE/key-change\","                                                          \
    "\"meta\":{\"termsOfService\":\"$BASE/tos\",\"externalAccountRequired\":false}}"
#define BAD_NONCE "{\"type\":\"urn:ietf:params:acme:error:badNonce\",\"detail\":\"stale nonce\"}"
#define ORDER                                                                                      \
    "{\"status\":\"pending\",\"expires\":\"2030-01-02T03:04:05Z\","                                \
    "\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.example\"}],"                                \
    "\"authorizations\":[\"$BASE/authz/1\"],\"finalize\":\"$BASE/order/1/finalize\"}"

/* The directory, with a first nonce when nonce is set. */
static void add_directory(const char *nonce)
{
    canned_ca_add(ca, 200,
                  nonce != NULL ? apr_pstrcat(pool, CT_JSON "Replay-Nonce: ", nonce, "\r\n", NULL)
                                : CT_JSON,
                  DIRECTORY);
}

static const char *with_nonce(const char *headers, const char *nonce)
{
    return apr_pstrcat(pool, headers, "Replay-Nonce: ", nonce, "\r\n", NULL);
}

static void sign_as_account(void)
{
    at_acme_set_account(acme, key, url_of("/acct/1"));
}

static int count_method(const char *method)
{
    int i, n = 0;

    for (i = 0; i < canned_ca_request_count(ca); i++) {
        n += strcmp(canned_ca_request(ca, i)->method, method) == 0;
    }
    return n;
}

/* A part ("protected" or "payload") of a flattened JWS object, decoded and parsed. */
static json_t *jws_part_of(const json_t *jws, const char *part)
{
    const char *text = json_string_value(json_object_get(jws, part));
    unsigned char *raw;
    apr_size_t len;
    json_t *json;

    ck_assert_ptr_nonnull(text);
    if (text[0] == '\0') {
        return NULL;
    }
    ck_assert_int_eq(at_b64url_decode(&raw, &len, pool, text), APR_SUCCESS);
    json = json_loadb((const char *)raw, len, 0, NULL);
    ck_assert_ptr_nonnull(json);
    return json;
}

/* The same for the JWS a recorded request carried; the caller owns the reference. */
static json_t *jws_part(int request, const char *part)
{
    const canned_request_t *req = canned_ca_request(ca, request);
    json_t *jws, *result;

    ck_assert_ptr_nonnull(req);
    ck_assert_str_eq(req->method, "POST");
    ck_assert_str_eq(canned_request_header(req, "Content-Type"), "application/jose+json");
    jws = json_loads(req->body, 0, NULL);
    ck_assert_ptr_nonnull(jws);
    result = jws_part_of(jws, part);
    json_decref(jws);
    return result;
}

static const char *jws_header_string(int request, const char *name)
{
    json_t *header = jws_part(request, "protected");
    const json_t *value = json_object_get(header, name);
    const char *text = json_is_string(value) ? apr_pstrdup(pool, json_string_value(value)) : NULL;

    json_decref(header);
    return text;
}

static int jws_header_has(int request, const char *name)
{
    json_t *header = jws_part(request, "protected");
    int has = json_object_get(header, name) != NULL;

    json_decref(header);
    return has;
}

/* Whether jws (flattened, ES256) verifies with pub. */
static int jws_verifies(const json_t *jws, EVP_PKEY *pub)
{
    const char *protected = json_string_value(json_object_get(jws, "protected"));
    const char *payload = json_string_value(json_object_get(jws, "payload"));
    const char *signature = json_string_value(json_object_get(jws, "signature"));
    const char *input = apr_pstrcat(pool, protected, ".", payload, NULL);
    unsigned char *raw, *der = NULL;
    apr_size_t raw_len;
    ECDSA_SIG *sig = ECDSA_SIG_new();
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int der_len, ok = 0;

    ck_assert_int_eq(at_b64url_decode(&raw, &raw_len, pool, signature), APR_SUCCESS);
    ck_assert_int_eq(raw_len, 2 * P256_COORD);
    ECDSA_SIG_set0(sig, BN_bin2bn(raw, P256_COORD, NULL),
                   BN_bin2bn(raw + P256_COORD, P256_COORD, NULL));
    der_len = i2d_ECDSA_SIG(sig, &der);
    if (der_len > 0 && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pub) == 1) {
        ok = EVP_DigestVerify(ctx, der, (size_t)der_len, (const unsigned char *)input,
                              strlen(input)) == 1;
    }
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* --- directory and nonces ------------------------------------------------------------------------
 */

START_TEST(test_directory_is_parsed_and_fetched_once)
{
    const at_acme_directory_t *dir = NULL, *again = NULL;

    add_directory(NULL);
    ck_assert_int_eq(at_acme_directory(&dir, acme), APR_SUCCESS);
    ck_assert_int_eq(at_acme_directory(&again, acme), APR_SUCCESS);
    ck_assert_ptr_eq(dir, again);
    ck_assert_int_eq(canned_ca_request_count(ca), 1);
    ck_assert_str_eq(canned_ca_request(ca, 0)->method, "GET");
    ck_assert_str_eq(canned_ca_request(ca, 0)->path, "/dir");
    ck_assert_str_eq(dir->new_nonce, url_of("/new-nonce"));
    ck_assert_str_eq(dir->new_account, url_of("/new-acct"));
    ck_assert_str_eq(dir->new_order, url_of("/new-order"));
    ck_assert_str_eq(dir->revoke_cert, url_of("/revoke"));
    ck_assert_str_eq(dir->key_change, url_of("/key-change"));
    ck_assert_str_eq(dir->terms_of_service, url_of("/tos"));
    ck_assert_ptr_null(dir->new_authz);
    ck_assert_ptr_null(dir->renewal_info);
    ck_assert_int_eq(dir->eab_required, 0);
}
END_TEST

START_TEST(test_directory_without_new_nonce_is_a_protocol_error)
{
    const at_acme_directory_t *dir = NULL;

    canned_ca_add(ca, 200, CT_JSON, "{\"newAccount\":\"$BASE/a\",\"newOrder\":\"$BASE/o\"}");
    ck_assert_int_eq(at_acme_directory(&dir, acme), AT_EPROTO);
    ck_assert_int_eq(log_find(AT_LOG_ERR, "newNonce"), 1);
}
END_TEST

START_TEST(test_directory_with_wrong_types_is_a_protocol_error)
{
    const at_acme_directory_t *dir = NULL;

    canned_ca_add(ca, 200, CT_JSON,
                  "{\"newNonce\":\"$BASE/n\",\"newAccount\":\"$BASE/a\",\"newOrder\":42}");
    canned_ca_add(ca, 200, CT_JSON,
                  "{\"newNonce\":\"$BASE/n\",\"newAccount\":\"$BASE/a\",\"newOrder\":\"$BASE/o\","
                  "\"meta\":{\"externalAccountRequired\":\"yes\"}}");
    canned_ca_add(ca, 200, CT_JSON, "[\"not\", \"an object\"]");
    canned_ca_add(ca, 200, CT_JSON,
                  "{\"newNonce\":\"file:///etc/passwd\",\"newAccount\":\"$BASE/a\","
                  "\"newOrder\":\"$BASE/o\"}");
    ck_assert_int_eq(at_acme_directory(&dir, acme), AT_EPROTO);
    ck_assert_int_eq(at_acme_directory(&dir, acme), AT_EPROTO);
    ck_assert_int_eq(at_acme_directory(&dir, acme), AT_EPROTO);
    ck_assert_int_eq(at_acme_directory(&dir, acme), AT_EPROTO);
    ck_assert_int_eq(canned_ca_request_count(ca), 4); /* a failed fetch is retried next time */
}
END_TEST

START_TEST(test_directory_oversized_is_too_large)
{
    const at_acme_directory_t *dir = NULL;

    canned_ca_add_mode(ca, CANNED_OVERSIZE_STREAM, 200, CT_JSON, TEST_MAX_RESPONSE * 2);
    ck_assert_int_eq(at_acme_directory(&dir, acme), AT_ETOOLARGE);
}
END_TEST

START_TEST(test_nonce_from_directory_response_is_used_without_head_new_nonce)
{
    at_http_response_t *r;
    json_t *json = NULL;

    sign_as_account();
    add_directory("nonce-from-dir");
    canned_ca_add(ca, 200, CT_JSON, "{}");
    ck_assert_int_eq(at_acme_post(acme, pool, url_of("/thing"), NULL, &r, &json), APR_SUCCESS);
    ck_assert_ptr_nonnull(json);
    json_decref(json);
    ck_assert_int_eq(canned_ca_request_count(ca), 2);
    ck_assert_int_eq(count_method("HEAD"), 0);
    ck_assert_str_eq(jws_header_string(1, "nonce"), "nonce-from-dir");
    ck_assert_str_eq(jws_header_string(1, "url"), url_of("/thing"));
    ck_assert_int_eq(at_acme_request_count(acme), 2);
}
END_TEST

START_TEST(test_missing_replay_nonce_on_new_nonce_is_a_protocol_error)
{
    at_http_response_t *r = NULL;
    json_t *json = NULL;

    sign_as_account();
    add_directory(NULL);
    canned_ca_add(ca, 200, "Cache-Control: no-store\r\n", NULL);
    canned_ca_add(ca, 200, CT_JSON, "{}");
    ck_assert_int_eq(at_acme_post(acme, pool, url_of("/thing"), NULL, &r, &json), AT_EPROTO);
    ck_assert_ptr_null(json);
    ck_assert_int_eq(canned_ca_request_count(ca), 2);
    ck_assert_str_eq(canned_ca_request(ca, 1)->method, "HEAD");
    ck_assert_str_eq(canned_ca_request(ca, 1)->path, "/new-nonce");
    ck_assert_int_eq(count_method("POST"), 0);
    ck_assert_int_eq(log_find(AT_LOG_ERR, "Replay-Nonce"), 1);
}
END_TEST

START_TEST(test_nonces_are_pooled_newest_first_and_head_when_empty)
{
    at_http_response_t *r;
    json_t *json = NULL;

    sign_as_account();
    add_directory(NULL);
    canned_ca_add(ca, 200, "Replay-Nonce: head-1\r\n", NULL);
    canned_ca_add(ca, 200, CT_JSON, "{}"); /* no nonce back: the pool is empty again */
    canned_ca_add(ca, 200, "Replay-Nonce: head-2\r\n", NULL);
    canned_ca_add(ca, 200, with_nonce(CT_JSON, "post-2"), "{}");
    canned_ca_add(ca, 200, CT_JSON, "{}");
    ck_assert_int_eq(at_acme_post(acme, pool, url_of("/a"), NULL, &r, &json), APR_SUCCESS);
    json_decref(json);
    ck_assert_int_eq(at_acme_post(acme, pool, url_of("/b"), NULL, &r, &json), APR_SUCCESS);
    json_decref(json);
    ck_assert_int_eq(at_acme_post(acme, pool, url_of("/c"), NULL, &r, &json), APR_SUCCESS);
    json_decref(json);
    ck_assert_int_eq(count_method("HEAD"), 2);
    ck_assert_str_eq(jws_header_string(2, "nonce"), "head-1");
    ck_assert_str_eq(jws_header_string(4, "nonce"), "head-2");
    ck_assert_str_eq(jws_header_string(5, "nonce"), "post-2");
}
END_TEST

START_TEST(test_bad_nonce_twice_then_success_takes_three_posts)
{
    at_http_response_t *r;
    json_t *json = NULL;

    sign_as_account();
    add_directory("n1");
    canned_ca_add(ca, 400, with_nonce(CT_PROBLEM, "n2"), BAD_NONCE);
    canned_ca_add(ca, 400, with_nonce(CT_PROBLEM, "n3"), BAD_NONCE);
    canned_ca_add(ca, 200, with_nonce(CT_JSON, "n4"), "{\"ok\":true}");
    ck_assert_int_eq(at_acme_post(acme, pool, url_of("/thing"), NULL, &r, &json), APR_SUCCESS);
    ck_assert(json_is_true(json_object_get(json, "ok")));
    json_decref(json);
    ck_assert_int_eq(count_method("POST"), 3);
    ck_assert_int_eq(count_method("HEAD"), 0);
    ck_assert_str_eq(jws_header_string(1, "nonce"), "n1");
    ck_assert_str_eq(jws_header_string(2, "nonce"), "n2");
    ck_assert_str_eq(jws_header_string(3, "nonce"), "n3");
    ck_assert_ptr_null(at_acme_last_problem(acme));
    ck_assert_int_eq(log_find(AT_LOG_WARN, "badNonce"), 0);
}
END_TEST

START_TEST(test_bad_nonce_forever_fails_after_the_bound)
{
    at_http_response_t *r;
    json_t *json = NULL;
    int i;

    sign_as_account();
    add_directory("n0");
    for (i = 0; i <= AT_ACME_BADNONCE_RETRIES; i++) {
        canned_ca_add(ca, 400, with_nonce(CT_PROBLEM, apr_psprintf(pool, "n%d", i + 1)), BAD_NONCE);
    }
    canned_ca_add(ca, 200, CT_JSON, "{}"); /* never reached */
    ck_assert_int_eq(at_acme_post(acme, pool, url_of("/thing"), NULL, &r, &json), AT_EPROBLEM);
    ck_assert_ptr_null(json);
    ck_assert_int_eq(count_method("POST"), AT_ACME_BADNONCE_RETRIES + 1);
    ck_assert_int_eq(canned_ca_pending(ca), 1);
    ck_assert(at_acme_problem_is(at_acme_last_problem(acme), "badNonce"));
    ck_assert_int_eq(log_find(AT_LOG_ERR, "badNonce"), 1);
}
END_TEST

/* --- responses
 * ------------------------------------------------------------------------------------ */

START_TEST(test_malformed_json_is_a_protocol_error)
{
    at_http_response_t *r;
    json_t *json = NULL;

    sign_as_account();
    add_directory("n1");
    canned_ca_add(ca, 200, CT_JSON, "{\"status\": \"valid\",");
    ck_assert_int_eq(at_acme_post(acme, pool, url_of("/order/9"), NULL, &r, &json), AT_EPROTO);
    ck_assert_ptr_null(json);
    ck_assert_int_eq(log_find(AT_LOG_ERR, url_of("/order/9")), 1);
}
END_TEST

START_TEST(test_json_answer_with_wrong_content_type_is_a_protocol_error)
{
    at_acme_order_t *order = NULL;

    sign_as_account();
    add_directory("n1");
    canned_ca_add(ca, 200, with_nonce("Content-Type: text/html\r\n", "n2"), ORDER);
    ck_assert_int_eq(at_acme_order_get(&order, acme, pool, url_of("/order/1")), AT_EPROTO);
    ck_assert_int_eq(log_find(AT_LOG_ERR, "text/html"), 1);
}
END_TEST

START_TEST(test_error_status_without_problem_body_is_a_protocol_error)
{
    at_http_response_t *r;
    json_t *json = NULL;

    sign_as_account();
    add_directory("n1");
    canned_ca_add(ca, 503, "Content-Type: text/html\r\n", "<html>down</html>");
    ck_assert_int_eq(at_acme_post(acme, pool, url_of("/x"), NULL, &r, &json), AT_EPROTO);
    ck_assert_int_eq(log_find(AT_LOG_ERR, "503"), 1);
    ck_assert_ptr_null(at_acme_last_problem(acme));
}
END_TEST

START_TEST(test_problem_with_subproblems_names_every_identifier)
{
    const at_acme_problem_t *problem;
    at_http_response_t *r;
    json_t *json = NULL;
    const char *text;

    sign_as_account();
    add_directory("n1");
    canned_ca_add(ca, 403, CT_PROBLEM,
                  "{\"type\":\"urn:ietf:params:acme:error:rejectedIdentifier\","
                  "\"detail\":\"Some names were refused\",\"status\":403,\"subproblems\":["
                  "{\"type\":\"urn:ietf:params:acme:error:rejectedIdentifier\","
                  "\"detail\":\"policy forbids\",\"identifier\":{\"type\":\"dns\","
                  "\"value\":\"bad.example\"}},"
                  "{\"type\":\"urn:ietf:params:acme:error:caa\",\"detail\":\"CAA forbids\","
                  "\"identifier\":{\"type\":\"dns\",\"value\":\"evil.example\"}}]}");
    ck_assert_int_eq(at_acme_post(acme, pool, url_of("/new-order"), NULL, &r, &json), AT_EPROBLEM);
    problem = at_acme_last_problem(acme);
    ck_assert_ptr_nonnull(problem);
    ck_assert(at_acme_problem_is(problem, "rejectedIdentifier"));
    ck_assert_int_eq(problem->status, 403);
    ck_assert_int_eq(problem->subproblems->nelts, 2);
    text = at_acme_problem_text(pool, problem);
    ck_assert_ptr_nonnull(strstr(text, "urn:ietf:params:acme:error:rejectedIdentifier"));
    ck_assert_ptr_nonnull(strstr(text, "Some names were refused"));
    ck_assert_ptr_nonnull(strstr(text, "bad.example"));
    ck_assert_ptr_nonnull(strstr(text, "evil.example: urn:ietf:params:acme:error:caa"));
    ck_assert_int_eq(log_find(AT_LOG_ERR, "evil.example"), 1);
    ck_assert_int_eq(log_find(AT_LOG_ERR, "refused newOrder"), 1);
}
END_TEST

START_TEST(test_problem_documents_are_type_checked)
{
    at_acme_problem_t *problem = NULL;
    json_t *json;

    json = json_loads("[]", JSON_DECODE_ANY, NULL);
    ck_assert_int_eq(at_acme_problem_parse(&problem, pool, json, 400), AT_EPROTO);
    json_decref(json);
    json = json_loads("{\"type\": 5}", 0, NULL);
    ck_assert_int_eq(at_acme_problem_parse(&problem, pool, json, 400), AT_EPROTO);
    json_decref(json);
    json = json_loads("{\"type\":\"t\",\"subproblems\":[{\"type\":\"s\",\"subproblems\":[]}]}", 0,
                      NULL);
    ck_assert_int_eq(at_acme_problem_parse(&problem, pool, json, 400), AT_EPROTO);
    json_decref(json);
    json = json_loads("{\"type\":\"t\",\"subproblems\":[{\"identifier\":\"x\"}]}", 0, NULL);
    ck_assert_int_eq(at_acme_problem_parse(&problem, pool, json, 400), AT_EPROTO);
    json_decref(json);
    json = json_loads("{\"detail\":\"line one\\nline two\\u001b[31m\"}", 0, NULL);
    ck_assert_int_eq(at_acme_problem_parse(&problem, pool, json, 500), APR_SUCCESS);
    json_decref(json);
    ck_assert_str_eq(problem->type, "about:blank");
    ck_assert_str_eq(at_acme_problem_text(pool, problem), "about:blank: line one?line two?[31m");
    ck_assert(!at_acme_problem_is(problem, "badNonce"));
    ck_assert(!at_acme_problem_is(NULL, "badNonce"));
}
END_TEST

/* --- accounts
 * ------------------------------------------------------------------------------------- */

START_TEST(test_new_account_signs_with_jwk_and_later_requests_with_kid)
{
    at_acme_account_options_t options = {0};
    apr_array_header_t *contacts = apr_array_make(pool, 2, sizeof(const char *));
    apr_array_header_t *names = apr_array_make(pool, 1, sizeof(const char *));
    at_acme_account_t *account = NULL;
    at_acme_order_t *order = NULL;
    json_t *payload, *header, *expected_jwk;

    APR_ARRAY_PUSH(contacts, const char *) = "admin@example.org";
    APR_ARRAY_PUSH(contacts, const char *) = "mailto:ops@example.org";
    APR_ARRAY_PUSH(names, const char *) = "a.example";
    options.contacts = contacts;
    options.agree_tos = 1;
    add_directory("n1");
    canned_ca_add(ca, 201, with_nonce(CT_JSON "Location: $BASE/acct/7\r\n", "n2"),
                  "{\"status\":\"valid\",\"contact\":[\"mailto:admin@example.org\"]}");
    canned_ca_add(ca, 201, CT_JSON "Location: $BASE/order/1\r\n", ORDER);
    ck_assert_int_eq(at_acme_account_register(&account, acme, pool, key, &options), APR_SUCCESS);
    ck_assert_str_eq(account->url, url_of("/acct/7"));
    ck_assert_str_eq(account->status, "valid");
    ck_assert_int_eq(account->contacts->nelts, 1);
    ck_assert_int_eq(at_acme_order_new(&order, acme, pool, names, NULL, NULL), APR_SUCCESS);

    ck_assert_str_eq(canned_ca_request(ca, 1)->path, "/new-acct");
    header = jws_part(1, "protected");
    ck_assert_int_eq(at_jwk_public(&expected_jwk, key), APR_SUCCESS);
    ck_assert(json_equal(json_object_get(header, "jwk"), expected_jwk));
    json_decref(expected_jwk);
    json_decref(header);
    ck_assert(!jws_header_has(1, "kid"));
    ck_assert_str_eq(jws_header_string(1, "nonce"), "n1");
    ck_assert_str_eq(jws_header_string(1, "alg"), "ES256");
    payload = jws_part(1, "payload");
    ck_assert(json_is_true(json_object_get(payload, "termsOfServiceAgreed")));
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(payload, "contact"), 0)),
                     "mailto:admin@example.org");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(payload, "contact"), 1)),
                     "mailto:ops@example.org");
    ck_assert_ptr_null(json_object_get(payload, "externalAccountBinding"));
    json_decref(payload);

    ck_assert_str_eq(canned_ca_request(ca, 2)->path, "/new-order");
    ck_assert_str_eq(jws_header_string(2, "kid"), url_of("/acct/7"));
    ck_assert(!jws_header_has(2, "jwk"));
    ck_assert_str_eq(jws_header_string(2, "nonce"), "n2");
}
END_TEST

START_TEST(test_existing_account_is_returned_with_status_200)
{
    at_acme_account_t *account = NULL;
    at_http_response_t *r;
    json_t *json = NULL;

    add_directory("n1");
    canned_ca_add(ca, 200, with_nonce(CT_JSON "Location: /acct/3\r\n", "n2"),
                  "{\"status\":\"valid\"}");
    canned_ca_add(ca, 200, CT_JSON, "{}");
    ck_assert_int_eq(at_acme_account_register(&account, acme, pool, key, NULL), APR_SUCCESS);
    ck_assert_str_eq(account->url, url_of("/acct/3")); /* relative Location resolved */
    ck_assert_int_eq(at_acme_post(acme, pool, url_of("/x"), NULL, &r, &json), APR_SUCCESS);
    json_decref(json);
    ck_assert_str_eq(jws_header_string(2, "kid"), url_of("/acct/3"));
}
END_TEST

START_TEST(test_new_account_without_location_is_a_protocol_error)
{
    at_acme_account_t *account = NULL;

    add_directory("n1");
    canned_ca_add(ca, 201, CT_JSON, "{\"status\":\"valid\"}");
    ck_assert_int_eq(at_acme_account_register(&account, acme, pool, key, NULL), AT_EPROTO);
    ck_assert_int_eq(log_find(AT_LOG_ERR, "Location"), 1);
}
END_TEST

START_TEST(test_external_account_binding_is_sent_and_required)
{
    at_acme_account_options_t options = {0};
    at_acme_account_t *account = NULL;
    at_acme_t *strict;
    json_t *payload, *eab;

    options.eab_kid = "kid-1";
    options.eab_hmac = "c2VjcmV0LW1hYy1rZXktb2YtMzItYnl0ZXMtbG9uZyE";
    add_directory("n1");
    canned_ca_add(ca, 201, CT_JSON "Location: $BASE/acct/1\r\n", "{\"status\":\"valid\"}");
    ck_assert_int_eq(at_acme_account_register(&account, acme, pool, key, &options), APR_SUCCESS);
    payload = jws_part(1, "payload");
    eab = json_object_get(payload, "externalAccountBinding");
    ck_assert(json_is_object(eab));
    ck_assert(json_is_string(json_object_get(eab, "protected")));
    ck_assert(json_is_string(json_object_get(eab, "signature")));
    json_decref(payload);

    /* a CA that requires EAB is not even asked without it */
    ck_assert_int_eq(at_acme_create(&strict, pool, url_of("/dir2"), http), APR_SUCCESS);
    canned_ca_add(ca, 200, CT_JSON,
                  "{\"newNonce\":\"$BASE/n\",\"newAccount\":\"$BASE/a\",\"newOrder\":\"$BASE/o\","
                  "\"meta\":{\"externalAccountRequired\":true}}");
    ck_assert_int_eq(at_acme_account_register(&account, strict, pool, key, NULL), AT_EARG);
    ck_assert_int_eq(canned_ca_request_count(ca), 3);
}
END_TEST

START_TEST(test_account_find_unknown_key_is_enoent_without_error_line)
{
    at_acme_account_t *account = NULL;
    json_t *payload;

    add_directory("n1");
    canned_ca_add(ca, 400, CT_PROBLEM,
                  "{\"type\":\"urn:ietf:params:acme:error:accountDoesNotExist\","
                  "\"detail\":\"no account for this key\"}");
    ck_assert_int_eq(at_acme_account_find(&account, acme, pool, key), APR_ENOENT);
    payload = jws_part(1, "payload");
    ck_assert(json_is_true(json_object_get(payload, "onlyReturnExisting")));
    json_decref(payload);
    ck_assert(jws_header_has(1, "jwk"));
    ck_assert_int_eq(log_find(AT_LOG_WARN, ""), 0);
}
END_TEST

START_TEST(test_account_find_known_key_signs_as_it)
{
    at_acme_account_t *account = NULL;
    at_http_response_t *r;
    json_t *json = NULL;

    add_directory("n1");
    canned_ca_add(ca, 200, with_nonce(CT_JSON "Location: $BASE/acct/5\r\n", "n2"),
                  "{\"status\":\"valid\"}");
    canned_ca_add(ca, 200, CT_JSON, "{}");
    ck_assert_int_eq(at_acme_account_find(&account, acme, pool, key), APR_SUCCESS);
    ck_assert_str_eq(account->url, url_of("/acct/5"));
    ck_assert_int_eq(at_acme_post(acme, pool, url_of("/y"), NULL, &r, &json), APR_SUCCESS);
    json_decref(json);
    ck_assert_str_eq(jws_header_string(2, "kid"), url_of("/acct/5"));
}
END_TEST

START_TEST(test_account_key_change_sends_inner_jws_signed_by_new_key)
{
    EVP_PKEY *new_key_ = new_key();
    const canned_request_t *req;
    json_t *outer, *inner, *inner_header, *inner_payload, *new_jwk, *old_jwk;
    const char *keyauth, *thumbprint;

    sign_as_account();
    add_directory("n1");
    canned_ca_add(ca, 200, CT_JSON, "{\"status\":\"valid\"}");
    ck_assert_int_eq(at_acme_account_key_change(acme, pool, new_key_), APR_SUCCESS);

    req = canned_ca_request(ca, 1);
    ck_assert_str_eq(req->path, "/key-change");
    ck_assert_str_eq(jws_header_string(1, "kid"), url_of("/acct/1"));
    ck_assert_str_eq(jws_header_string(1, "url"), url_of("/key-change"));
    outer = json_loads(req->body, 0, NULL);
    ck_assert(jws_verifies(outer, key));
    inner = jws_part(1, "payload");
    ck_assert(jws_verifies(inner, new_key_));
    ck_assert(!jws_verifies(inner, key));
    inner_header = jws_part_of(inner, "protected");
    inner_payload = jws_part_of(inner, "payload");
    ck_assert_int_eq(at_jwk_public(&new_jwk, new_key_), APR_SUCCESS);
    ck_assert_int_eq(at_jwk_public(&old_jwk, key), APR_SUCCESS);
    ck_assert(json_equal(json_object_get(inner_header, "jwk"), new_jwk));
    ck_assert_ptr_null(json_object_get(inner_header, "nonce"));
    ck_assert_ptr_null(json_object_get(inner_header, "kid"));
    ck_assert_str_eq(json_string_value(json_object_get(inner_header, "url")),
                     url_of("/key-change"));
    ck_assert_str_eq(json_string_value(json_object_get(inner_payload, "account")),
                     url_of("/acct/1"));
    ck_assert(json_equal(json_object_get(inner_payload, "oldKey"), old_jwk));

    /* from now on the client signs with the new key */
    ck_assert_int_eq(at_acme_key_authorization(&keyauth, acme, pool, "tok"), APR_SUCCESS);
    ck_assert_int_eq(at_jwk_thumbprint(&thumbprint, pool, new_key_), APR_SUCCESS);
    ck_assert_str_eq(keyauth, apr_pstrcat(pool, "tok.", thumbprint, NULL));

    json_decref(outer);
    json_decref(inner);
    json_decref(inner_header);
    json_decref(inner_payload);
    json_decref(new_jwk);
    json_decref(old_jwk);
    EVP_PKEY_free(new_key_);
}
END_TEST

START_TEST(test_account_key_change_refused_keeps_the_old_key)
{
    EVP_PKEY *new_key_ = new_key();
    const char *keyauth, *thumbprint;

    sign_as_account();
    add_directory("n1");
    canned_ca_add(ca, 409, CT_PROBLEM,
                  "{\"type\":\"urn:ietf:params:acme:error:malformed\",\"detail\":\"key in use\"}");
    ck_assert_int_eq(at_acme_account_key_change(acme, pool, new_key_), AT_EPROBLEM);
    ck_assert_int_eq(at_acme_key_authorization(&keyauth, acme, pool, "tok"), APR_SUCCESS);
    ck_assert_int_eq(at_jwk_thumbprint(&thumbprint, pool, key), APR_SUCCESS);
    ck_assert_str_eq(keyauth, apr_pstrcat(pool, "tok.", thumbprint, NULL));
    EVP_PKEY_free(new_key_);
}
END_TEST

START_TEST(test_account_deactivate_posts_status)
{
    json_t *payload;

    sign_as_account();
    add_directory("n1");
    canned_ca_add(ca, 200, CT_JSON, "{\"status\":\"deactivated\"}");
    ck_assert_int_eq(at_acme_account_deactivate(acme, pool), APR_SUCCESS);
    ck_assert_str_eq(canned_ca_request(ca, 1)->path, "/acct/1");
    payload = jws_part(1, "payload");
    ck_assert_str_eq(json_string_value(json_object_get(payload, "status")), "deactivated");
    json_decref(payload);
}
END_TEST

/* --- orders, authorizations, challenges ----------------------------------------------------------
 */

START_TEST(test_order_new_get_and_finalize)
{
    apr_array_header_t *names = apr_array_make(pool, 2, sizeof(const char *));
    static const unsigned char csr[] = {0x30, 0x03, 0x02, 0x01, 0xff};
    at_acme_order_t *order = NULL;
    apr_time_exp_t tm = {0};
    apr_time_t expected;
    json_t *payload;

    APR_ARRAY_PUSH(names, const char *) = "a.example";
    APR_ARRAY_PUSH(names, const char *) = "b.example";
    sign_as_account();
    add_directory("n1");
    canned_ca_add(ca, 201,
                  with_nonce(CT_JSON "Location: $BASE/order/1\r\nRetry-After: 3\r\n", "n2"), ORDER);
    canned_ca_add(ca, 200, CT_JSON,
                  "{\"status\":\"valid\",\"expires\":\"2030-01-02T04:04:05.5+01:00\","
                  "\"authorizations\":[\"$BASE/authz/1\"],\"finalize\":\"$BASE/order/1/finalize\","
                  "\"certificate\":\"$BASE/cert/1\"}");
    ck_assert_int_eq(
        at_acme_order_new(&order, acme, pool, names, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", NULL),
        APR_SUCCESS);
    ck_assert_str_eq(order->url, url_of("/order/1"));
    ck_assert_str_eq(order->status, "pending");
    ck_assert_int_eq(order->identifiers->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(order->identifiers, 0, const char *), "a.example");
    ck_assert_int_eq(order->authorizations->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(order->authorizations, 0, const char *), url_of("/authz/1"));
    ck_assert_str_eq(order->finalize, url_of("/order/1/finalize"));
    ck_assert_ptr_null(order->certificate);
    ck_assert_int_eq(order->retry_after, apr_time_from_sec(3));
    tm.tm_year = 130;
    tm.tm_mon = 0;
    tm.tm_mday = 2;
    tm.tm_hour = 3;
    tm.tm_min = 4;
    tm.tm_sec = 5;
    ck_assert_int_eq(apr_time_exp_gmt_get(&expected, &tm), APR_SUCCESS);
    ck_assert_int_eq(order->expires, expected);
    payload = jws_part(1, "payload");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(payload, "identifiers"), 1), "value")),
                     "b.example");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(payload, "identifiers"), 0), "type")),
                     "dns");
    ck_assert_str_eq(json_string_value(json_object_get(payload, "replaces")),
                     "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    json_decref(payload);

    ck_assert_int_eq(at_acme_order_finalize(&order, acme, pool, csr, sizeof(csr)), APR_SUCCESS);
    ck_assert_str_eq(canned_ca_request(ca, 2)->path, "/order/1/finalize");
    payload = jws_part(2, "payload");
    ck_assert_str_eq(json_string_value(json_object_get(payload, "csr")),
                     at_b64url_encode(pool, csr, sizeof(csr)));
    json_decref(payload);
    ck_assert_str_eq(order->url, url_of("/order/1"));
    ck_assert_str_eq(order->status, "valid");
    ck_assert_str_eq(order->certificate, url_of("/cert/1"));
    ck_assert_int_eq(order->expires, expected + apr_time_from_msec(500));
    ck_assert_int_eq(order->retry_after, 0);
}
END_TEST

START_TEST(test_order_with_wrong_member_types_is_a_protocol_error)
{
    static const char *const bodies[] = {
        "{\"status\":\"pending\",\"authorizations\":\"$BASE/authz/1\","
        "\"finalize\":\"$BASE/f\"}",
        "{\"status\":7,\"authorizations\":[],\"finalize\":\"$BASE/f\"}",
        "{\"status\":\"pending\",\"authorizations\":[1],\"finalize\":\"$BASE/f\"}",
        "{\"status\":\"pending\",\"authorizations\":[],\"finalize\":{}}",
        "{\"status\":\"pending\",\"authorizations\":[],\"finalize\":\"$BASE/"
        "f\",\"expires\":\"soon\"}",
        "{\"status\":\"invalid\",\"authorizations\":[],\"finalize\":\"$BASE/f\",\"error\":\"bad\"}",
        "{\"status\":\"pending\",\"authorizations\":[],\"finalize\":\"$BASE/f\","
        "\"identifiers\":[\"a.example\"]}",
        "{\"status\":\"pe\\u0000nding\",\"authorizations\":[],\"finalize\":\"$BASE/f\"}",
    };
    at_acme_order_t *order = NULL;
    size_t i;

    sign_as_account();
    add_directory("n1");
    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        canned_ca_add(ca, 200, with_nonce(CT_JSON, apr_psprintf(pool, "m%d", (int)i)), bodies[i]);
    }
    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        ck_assert_msg(at_acme_order_get(&order, acme, pool, url_of("/order/1")) == AT_EPROTO,
                      "body %d accepted", (int)i);
    }
    ck_assert_int_eq(log_find(AT_LOG_ERR, ""), (int)(sizeof(bodies) / sizeof(bodies[0])));
}
END_TEST

#define AUTHZ_WITH_TOKEN(token)                                                                    \
    "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.example\"},"           \
    "\"challenges\":[{\"type\":\"dns-01\",\"url\":\"$BASE/chall/2\",\"status\":\"pending\","       \
    "\"token\":\"DNS_token-2\"},{\"type\":\"http-01\",\"url\":\"$BASE/chall/1\","                  \
    "\"status\":\"pending\",\"token\":\"" token "\"}]}"

START_TEST(test_authz_and_challenge_are_parsed)
{
    at_acme_challenge_t *challenge, *updated = NULL;
    at_acme_authz_t *authz = NULL;
    const char *keyauth, *thumbprint;
    json_t *payload;

    sign_as_account();
    add_directory("n1");
    canned_ca_add(ca, 200, with_nonce(CT_JSON "Retry-After: 2\r\n", "n2"),
                  AUTHZ_WITH_TOKEN("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"));
    canned_ca_add(ca, 200, CT_JSON,
                  "{\"type\":\"http-01\",\"url\":\"$BASE/chall/1\",\"status\":\"invalid\","
                  "\"token\":\"evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA\",\"error\":{\"type\":"
                  "\"urn:ietf:params:acme:error:connection\",\"detail\":\"refused\"}}");
    ck_assert_int_eq(at_acme_authz_get(&authz, acme, pool, url_of("/authz/1")), APR_SUCCESS);
    ck_assert_str_eq(authz->url, url_of("/authz/1"));
    ck_assert_str_eq(authz->status, "pending");
    ck_assert_str_eq(authz->identifier, "a.example");
    ck_assert_int_eq(authz->wildcard, 0);
    ck_assert_int_eq(authz->retry_after, apr_time_from_sec(2));
    ck_assert_int_eq(authz->challenges->nelts, 2);
    challenge = at_acme_authz_challenge(authz, "http-01");
    ck_assert_ptr_nonnull(challenge);
    ck_assert_str_eq(challenge->url, url_of("/chall/1"));
    ck_assert_str_eq(challenge->token, "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA");
    ck_assert_ptr_null(at_acme_authz_challenge(authz, "tls-alpn-01"));
    ck_assert_int_eq(at_acme_key_authorization(&keyauth, acme, pool, challenge->token),
                     APR_SUCCESS);
    ck_assert_int_eq(at_jwk_thumbprint(&thumbprint, pool, key), APR_SUCCESS);
    ck_assert_str_eq(keyauth, apr_pstrcat(pool, challenge->token, ".", thumbprint, NULL));
    ck_assert_int_eq(at_acme_key_authorization(&keyauth, acme, pool, "../x"), AT_EARG);

    ck_assert_int_eq(at_acme_challenge_respond(&updated, acme, pool, challenge), APR_SUCCESS);
    ck_assert_str_eq(canned_ca_request(ca, 2)->path, "/chall/1");
    payload = jws_part(2, "payload");
    ck_assert(json_is_object(payload));
    ck_assert_int_eq(json_object_size(payload), 0);
    json_decref(payload);
    ck_assert_str_eq(updated->status, "invalid");
    ck_assert_ptr_nonnull(updated->error);
    ck_assert(at_acme_problem_is(updated->error, "connection"));
}
END_TEST

START_TEST(test_challenge_with_path_token_is_refused)
{
    at_acme_authz_t *authz = NULL;

    sign_as_account();
    add_directory("n1");
    canned_ca_add(ca, 200, with_nonce(CT_JSON, "n2"), AUTHZ_WITH_TOKEN("../../etc/passwd"));
    canned_ca_add(ca, 200, with_nonce(CT_JSON, "n3"), AUTHZ_WITH_TOKEN(""));
    canned_ca_add(ca, 200, CT_JSON,
                  "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a\"},"
                  "\"challenges\":[{\"type\":\"http-01\",\"url\":\"$BASE/c\","
                  "\"status\":\"pending\"}]}");
    ck_assert_int_eq(at_acme_authz_get(&authz, acme, pool, url_of("/authz/1")), AT_EPROTO);
    ck_assert_int_eq(at_acme_authz_get(&authz, acme, pool, url_of("/authz/1")), AT_EPROTO);
    ck_assert_int_eq(at_acme_authz_get(&authz, acme, pool, url_of("/authz/1")), AT_EPROTO);
    ck_assert_int_eq(log_find(AT_LOG_ERR, "token"), 3);
    ck_assert_int_eq(log_find(AT_LOG_ERR, "passwd"), 0);
}
END_TEST

START_TEST(test_authz_with_wrong_types_is_a_protocol_error)
{
    at_acme_authz_t *authz = NULL;

    sign_as_account();
    add_directory("n1");
    canned_ca_add(ca, 200, with_nonce(CT_JSON, "n2"),
                  "{\"status\":\"pending\",\"identifier\":\"a.example\",\"challenges\":[]}");
    canned_ca_add(ca, 200, with_nonce(CT_JSON, "n3"),
                  "{\"status\":\"pending\",\"identifier\":{\"value\":\"a\"},\"challenges\":{}}");
    canned_ca_add(ca, 200, CT_JSON,
                  "{\"status\":\"pending\",\"identifier\":{\"value\":\"a\"},\"challenges\":[7]}");
    ck_assert_int_eq(at_acme_authz_get(&authz, acme, pool, url_of("/authz/1")), AT_EPROTO);
    ck_assert_int_eq(at_acme_authz_get(&authz, acme, pool, url_of("/authz/1")), AT_EPROTO);
    ck_assert_int_eq(at_acme_authz_get(&authz, acme, pool, url_of("/authz/1")), AT_EPROTO);
}
END_TEST

/* --- certificates -------------------------------------------------------------------------------
 */

#define PEM_CHAIN "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

START_TEST(test_certificate_download_returns_chain_and_alternates)
{
    apr_array_header_t *alternates = NULL;
    const char *pem = NULL;
    apr_size_t pem_len = 0;

    sign_as_account();
    add_directory("n1");
    canned_ca_add(ca, 200,
                  CT_PEM "Link: <$BASE/cert/1/1>;rel=\"alternate\"\r\n"
                         "Link: <$BASE/dir>;rel=\"index\", </cert/1/2>; rel=alternate\r\n",
                  PEM_CHAIN);
    ck_assert_int_eq(
        at_acme_certificate_get(&pem, &pem_len, &alternates, acme, pool, url_of("/cert/1")),
        APR_SUCCESS);
    ck_assert_str_eq(pem, PEM_CHAIN);
    ck_assert_int_eq(pem_len, strlen(PEM_CHAIN));
    ck_assert_int_eq(alternates->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(alternates, 0, const char *), url_of("/cert/1/1"));
    ck_assert_str_eq(APR_ARRAY_IDX(alternates, 1, const char *), url_of("/cert/1/2"));
    ck_assert_ptr_null(jws_part(1, "payload")); /* POST-as-GET */
}
END_TEST

START_TEST(test_certificate_with_wrong_content_type_is_a_protocol_error)
{
    apr_array_header_t *alternates = NULL;
    const char *pem = NULL;
    apr_size_t pem_len = 0;

    sign_as_account();
    add_directory("n1");
    canned_ca_add(ca, 200, with_nonce("Content-Type: text/plain\r\n", "n2"), PEM_CHAIN);
    canned_ca_add(ca, 200, CT_JSON, "{}");
    ck_assert_int_eq(
        at_acme_certificate_get(&pem, &pem_len, &alternates, acme, pool, url_of("/cert/1")),
        AT_EPROTO);
    ck_assert_int_eq(
        at_acme_certificate_get(&pem, &pem_len, &alternates, acme, pool, url_of("/cert/1")),
        AT_EPROTO);
    ck_assert_int_eq(log_find(AT_LOG_ERR, "text/plain"), 1);
    ck_assert_int_eq(log_find(AT_LOG_ERR, "application/json"), 1);
    ck_assert_ptr_null(pem);
}
END_TEST

START_TEST(test_revoke_sends_certificate_and_reason)
{
    static const unsigned char der[] = {0x30, 0x01, 0x00};
    json_t *payload;

    sign_as_account();
    add_directory("n1");
    canned_ca_add(ca, 200, with_nonce("", "n2"), NULL);
    canned_ca_add(ca, 200, NULL, NULL);
    ck_assert_int_eq(at_acme_revoke(acme, pool, der, sizeof(der), 4), APR_SUCCESS);
    ck_assert_int_eq(at_acme_revoke(acme, pool, der, sizeof(der), 0), APR_SUCCESS);
    ck_assert_str_eq(canned_ca_request(ca, 1)->path, "/revoke");
    payload = jws_part(1, "payload");
    ck_assert_str_eq(json_string_value(json_object_get(payload, "certificate")),
                     at_b64url_encode(pool, der, sizeof(der)));
    ck_assert_int_eq(json_integer_value(json_object_get(payload, "reason")), 4);
    json_decref(payload);
    payload = jws_part(2, "payload");
    ck_assert_ptr_null(json_object_get(payload, "reason"));
    json_decref(payload);
}
END_TEST

/* --- profiles (draft-ietf-acme-profiles) ---------------------------------------------------- */

#define DIRECTORY_WITH_PROFILES                                                                    \
    "{\"newNonce\":\"$BASE/new-nonce\",\"newAccount\":\"$BASE/new-acct\","                         \
    "\"newOrder\":\"$BASE/new-order\",\"meta\":{\"profiles\":{\"tlsserver\":\"90 days\","          \
    "\"shortlived\":\"160 hours\"}}}"

START_TEST(test_profiles_are_read_chosen_and_sent_in_new_order)
{
    const at_acme_directory_t *dir = NULL;
    apr_array_header_t *names = apr_array_make(pool, 1, sizeof(const char *));
    at_acme_order_t *order = NULL;
    const char *send, *offered;
    int unlisted;
    json_t *payload;

    APR_ARRAY_PUSH(names, const char *) = "a.example";
    sign_as_account();
    canned_ca_add(ca, 200, with_nonce(CT_JSON, "n1"), DIRECTORY_WITH_PROFILES);
    canned_ca_add(ca, 201, with_nonce(CT_JSON "Location: $BASE/order/1\r\n", "n2"), ORDER);
    canned_ca_add(ca, 201, with_nonce(CT_JSON "Location: $BASE/order/2\r\n", "n3"), ORDER);
    ck_assert_int_eq(at_acme_directory(&dir, acme), APR_SUCCESS);
    ck_assert_ptr_nonnull(dir->profiles);
    ck_assert_str_eq(apr_hash_get(dir->profiles, "shortlived", APR_HASH_KEY_STRING), "160 hours");

    ck_assert_int_eq(at_acme_profile_choose(&send, &unlisted, &offered, pool, dir, "shortlived", 1),
                     APR_SUCCESS);
    ck_assert_str_eq(send, "shortlived");
    ck_assert_int_eq(unlisted, 0);
    ck_assert_str_eq(offered, "shortlived,tlsserver");
    ck_assert_int_eq(at_acme_profile_choose(&send, &unlisted, &offered, pool, dir, "classic", 0),
                     APR_SUCCESS);
    ck_assert_ptr_null(send); /* not listed: ordered without a profile */
    ck_assert_int_eq(unlisted, 1);
    ck_assert_int_eq(at_acme_profile_choose(&send, &unlisted, &offered, pool, dir, "classic", 1),
                     AT_EARG); /* required: no order */
    ck_assert_int_eq(at_acme_profile_choose(&send, &unlisted, &offered, pool, dir, NULL, 1),
                     APR_SUCCESS);
    ck_assert_ptr_null(send);
    ck_assert_int_eq(unlisted, 0);

    ck_assert_int_eq(at_acme_order_new(&order, acme, pool, names, NULL, "shortlived"), APR_SUCCESS);
    payload = jws_part(1, "payload");
    ck_assert_str_eq(json_string_value(json_object_get(payload, "profile")), "shortlived");
    json_decref(payload);
    ck_assert_int_eq(at_acme_order_new(&order, acme, pool, names, NULL, NULL), APR_SUCCESS);
    payload = jws_part(2, "payload");
    ck_assert_ptr_null(json_object_get(payload, "profile"));
    json_decref(payload);
}
END_TEST

START_TEST(test_profiles_of_the_wrong_shape_are_a_protocol_error)
{
    const at_acme_directory_t *dir = NULL;
    const char *send, *offered;
    int unlisted;

    canned_ca_add(ca, 200, CT_JSON,
                  "{\"newNonce\":\"$BASE/n\",\"newAccount\":\"$BASE/a\",\"newOrder\":\"$BASE/o\","
                  "\"meta\":{\"profiles\":[\"tlsserver\"]}}");
    canned_ca_add(ca, 200, CT_JSON,
                  "{\"newNonce\":\"$BASE/n\",\"newAccount\":\"$BASE/a\",\"newOrder\":\"$BASE/o\","
                  "\"meta\":{\"profiles\":{\"tlsserver\":7}}}");
    canned_ca_add(ca, 200, with_nonce(CT_JSON, "n1"), DIRECTORY);
    ck_assert_int_eq(at_acme_directory(&dir, acme), AT_EPROTO);
    ck_assert_int_eq(at_acme_directory(&dir, acme), AT_EPROTO);
    ck_assert_int_eq(at_acme_directory(&dir, acme), APR_SUCCESS);
    ck_assert_ptr_null(dir->profiles); /* a CA without profiles */
    ck_assert_int_eq(at_acme_profile_choose(&send, &unlisted, &offered, pool, dir, "x", 0),
                     APR_SUCCESS);
    ck_assert_str_eq(offered, "");
    ck_assert_int_eq(unlisted, 1);
    ck_assert(at_acme_profile_name_valid("tlsserver"));
    ck_assert(!at_acme_profile_name_valid(""));
    ck_assert(!at_acme_profile_name_valid("a b"));
    ck_assert(!at_acme_profile_name_valid("x\"y"));
}
END_TEST

static Suite *acme_suite(void)
{
    Suite *s = suite_create("acme");
    TCase *protocol = tcase_create("protocol");
    TCase *account = tcase_create("account");
    TCase *order = tcase_create("order");

    tcase_add_checked_fixture(protocol, ca_fixture_setup, ca_fixture_teardown);
    tcase_add_test(protocol, test_directory_is_parsed_and_fetched_once);
    tcase_add_test(protocol, test_directory_without_new_nonce_is_a_protocol_error);
    tcase_add_test(protocol, test_directory_with_wrong_types_is_a_protocol_error);
    tcase_add_test(protocol, test_directory_oversized_is_too_large);
    tcase_add_test(protocol, test_nonce_from_directory_response_is_used_without_head_new_nonce);
    tcase_add_test(protocol, test_missing_replay_nonce_on_new_nonce_is_a_protocol_error);
    tcase_add_test(protocol, test_nonces_are_pooled_newest_first_and_head_when_empty);
    tcase_add_test(protocol, test_bad_nonce_twice_then_success_takes_three_posts);
    tcase_add_test(protocol, test_bad_nonce_forever_fails_after_the_bound);
    tcase_add_test(protocol, test_malformed_json_is_a_protocol_error);
    tcase_add_test(protocol, test_json_answer_with_wrong_content_type_is_a_protocol_error);
    tcase_add_test(protocol, test_error_status_without_problem_body_is_a_protocol_error);
    tcase_add_test(protocol, test_problem_with_subproblems_names_every_identifier);
    tcase_add_test(protocol, test_problem_documents_are_type_checked);
    suite_add_tcase(s, protocol);

    tcase_add_checked_fixture(account, ca_fixture_setup, ca_fixture_teardown);
    tcase_add_test(account, test_new_account_signs_with_jwk_and_later_requests_with_kid);
    tcase_add_test(account, test_existing_account_is_returned_with_status_200);
    tcase_add_test(account, test_new_account_without_location_is_a_protocol_error);
    tcase_add_test(account, test_external_account_binding_is_sent_and_required);
    tcase_add_test(account, test_account_find_unknown_key_is_enoent_without_error_line);
    tcase_add_test(account, test_account_find_known_key_signs_as_it);
    tcase_add_test(account, test_account_key_change_sends_inner_jws_signed_by_new_key);
    tcase_add_test(account, test_account_key_change_refused_keeps_the_old_key);
    tcase_add_test(account, test_account_deactivate_posts_status);
    suite_add_tcase(s, account);

    tcase_add_checked_fixture(order, ca_fixture_setup, ca_fixture_teardown);
    tcase_add_test(order, test_order_new_get_and_finalize);
    tcase_add_test(order, test_order_with_wrong_member_types_is_a_protocol_error);
    tcase_add_test(order, test_authz_and_challenge_are_parsed);
    tcase_add_test(order, test_challenge_with_path_token_is_refused);
    tcase_add_test(order, test_authz_with_wrong_types_is_a_protocol_error);
    tcase_add_test(order, test_certificate_download_returns_chain_and_alternates);
    tcase_add_test(order, test_certificate_with_wrong_content_type_is_a_protocol_error);
    tcase_add_test(order, test_revoke_sends_certificate_and_reason);
    tcase_add_test(order, test_profiles_are_read_chosen_and_sent_in_new_order);
    tcase_add_test(order, test_profiles_of_the_wrong_shape_are_a_protocol_error);
    suite_add_tcase(s, order);
    return s;
}

AT_UNIT_MAIN(acme_suite)
