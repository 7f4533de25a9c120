/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_issue.c: at_issue_certificate against a scripted CA (canned_ca.c): partial certificates,
 * the `replaces` retry, the CA's Retry-After as at_acme_retry_after() reports it, and the check
 * of the certificate the CA sends back.
 *
 * The one idea: each test plays a whole issuance request by request, then checks what the flow
 * concluded (status, result names, failed names and reasons), what it sent (the identifiers of
 * each newOrder, the names in the CSR it finalized with, `replaces`) and what it logged. The
 * certificate comes from csr_ca.c, made when it is downloaded for the CSR the client finalized
 * with, so a success is a real chain for our key and a faulty CA is one fault away from it.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>
#include <openssl/x509.h>

#include "unit_main.h"
#include "at_acme.h"
#include "at_b64url.h"
#include "at_core.h"
#include "at_http.h"
#include "at_issue.h"
#include "ca_fixture.h"
#include "canned_ca.h"
#include "csr_ca.h"
#include "tiny_ca.h"

#define CT_JSON "Content-Type: application/json\r\n"
#define CT_PROBLEM "Content-Type: application/problem+json\r\n"
#define CT_PEM "Content-Type: application/pem-certificate-chain\r\n"
#define DIRECTORY                                                                                  \
    "{\"newNonce\":\"$BASE/new-nonce\",\"newAccount\":\"$BASE/new-acct\","                         \
    "\"newOrder\":\"$BASE/new-order\",\"revokeCert\":\"$BASE/revoke\"}"
#define NOT_PEM "this is not a certificate chain\n"
#define OTHER_SAN "DNS:other.example"
#define EXTRA_SAN "DNS:a.example,DNS:other.example"
#define REFUSED_DETAIL "127.0.0.9: Connection refused"
#define CONNECTION_ERROR                                                                           \
    "{\"type\":\"urn:ietf:params:acme:error:connection\",\"detail\":\"" REFUSED_DETAIL "\"}"
#define CERT_ID "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
#define ISSUE_TIMEOUT apr_time_from_sec(10)
#define RETRY_AFTER_SECS 120
#define RESPONDER_MAX 8

/* --- a CA played response by response ---------------------------------------------------- */

static int nonce_counter;

/* A JSON answer carrying a fresh nonce (so that no HEAD newNonce enters the script). */
static void reply(int status, const char *headers, const char *body)
{
    canned_ca_add(ca, status,
                  apr_psprintf(pool, CT_JSON "%sReplay-Nonce: nonce-%d\r\n",
                               headers != NULL ? headers : "", ++nonce_counter),
                  body);
}

static void reply_problem(int status, const char *headers, const char *type, const char *detail)
{
    canned_ca_add(ca, status,
                  apr_psprintf(pool, CT_PROBLEM "%sReplay-Nonce: nonce-%d\r\n",
                               headers != NULL ? headers : "", ++nonce_counter),
                  apr_psprintf(pool,
                               "{\"type\":\"urn:ietf:params:acme:error:%s\",\"detail\":\"%s\","
                               "\"status\":%d}",
                               type, detail, status));
}

static void reply_directory(void)
{
    canned_ca_add(ca, 200,
                  apr_psprintf(pool, CT_JSON "Replay-Nonce: nonce-%d\r\n", ++nonce_counter),
                  DIRECTORY);
}

/* An order: id numbers its URLs, authzs is a JSON list body such as "\"$BASE/authz/1\"". */
static void reply_order(int status, int id, const char *order_status, const char *authzs)
{
    reply(status, status == 201 ? apr_psprintf(pool, "Location: $BASE/order/%d\r\n", id) : NULL,
          apr_psprintf(pool,
                       "{\"status\":\"%s\",\"authorizations\":[%s],"
                       "\"finalize\":\"$BASE/order/%d/finalize\"}",
                       order_status, authzs, id));
}

static void reply_order_valid(int id)
{
    reply(
        200, NULL,
        apr_psprintf(pool,
                     "{\"status\":\"valid\",\"authorizations\":[],"
                     "\"finalize\":\"$BASE/order/%d/finalize\",\"certificate\":\"$BASE/cert/%d\"}",
                     id, id));
}

/* An authorization for name with one http-01 challenge (id numbers challenge and token). */
static void reply_authz(const char *name, const char *status, int id, const char *challenge_status,
                        const char *error)
{
    reply(200, NULL,
          apr_psprintf(pool,
                       "{\"status\":\"%s\",\"identifier\":{\"type\":\"dns\",\"value\":\"%s\"},"
                       "\"challenges\":[{\"type\":\"http-01\",\"url\":\"$BASE/chall/%d\","
                       "\"status\":\"%s\",\"token\":\"token-%d\"%s%s}]}",
                       status, name, id, challenge_status, id, error != NULL ? ",\"error\":" : "",
                       error != NULL ? error : ""));
}

static void reply_challenge(int id, const char *status)
{
    reply(200, NULL,
          apr_psprintf(pool,
                       "{\"type\":\"http-01\",\"url\":\"$BASE/chall/%d\",\"status\":\"%s\","
                       "\"token\":\"token-%d\"}",
                       id, status, id));
}

/* The certificate: made by csr_ca.c for the CSR the client finalized with, as fault says. */
static void reply_certificate_with(const csr_ca_fault_t *fault)
{
    canned_ca_add_fn(ca, 200,
                     apr_psprintf(pool, CT_PEM "Replay-Nonce: nonce-%d\r\n", ++nonce_counter),
                     csr_ca_chain_body, (void *)fault);
}

static void reply_certificate(void)
{
    reply_certificate_with(&CSR_CA_AS_ORDERED);
}

/* The result holds the chain the CA made, whose leaf certifies the result's key for names. */
static void assert_result_is_issued(const at_issue_result_t *result, const char *names)
{
    csr_ca_assert_issued(result->chain_pem, result->chain_len, result->key_pem, result->key_len,
                         names);
}

/* --- what the client did ------------------------------------------------------------------- */

static struct {
    int setups, teardowns;
    char names[RESPONDER_MAX][64];
} responder_log;

static apr_status_t record_setup(void *baton, const char *name, const char *token,
                                 const char *keyauth, apr_pool_t *p)
{
    if (responder_log.setups < RESPONDER_MAX) {
        snprintf(responder_log.names[responder_log.setups], sizeof(responder_log.names[0]), "%s",
                 name);
    }
    responder_log.setups++;
    return APR_SUCCESS;
}

static void record_teardown(void *baton, const char *name, const char *token, apr_pool_t *p)
{
    responder_log.teardowns++;
}

static const at_http01_responder_t responder = {record_setup, record_teardown, NULL};

/* The JWS payload a recorded request carried, parsed; NULL for POST-as-GET. */
static json_t *payload_of(int request)
{
    const canned_request_t *req = canned_ca_request(ca, request);
    json_t *jws, *payload = NULL;
    unsigned char *raw;
    apr_size_t len;
    const char *text;

    ck_assert_ptr_nonnull(req);
    jws = json_loads(req->body, 0, NULL);
    ck_assert_ptr_nonnull(jws);
    text = json_string_value(json_object_get(jws, "payload"));
    ck_assert_ptr_nonnull(text);
    if (text[0] != '\0') {
        ck_assert_int_eq(at_b64url_decode(&raw, &len, pool, text), APR_SUCCESS);
        payload = json_loadb((const char *)raw, len, 0, NULL);
        ck_assert_ptr_nonnull(payload);
    }
    json_decref(jws);
    return payload;
}

/* The indexes of the requests sent to path, in order. */
static int requests_to(const char *path, int *indexes, int max)
{
    int i, n = 0;

    for (i = 0; i < canned_ca_request_count(ca); i++) {
        if (strcmp(canned_ca_request(ca, i)->path, path) == 0 && n < max) {
            indexes[n++] = i;
        }
    }
    return n;
}

/* The identifiers of the newOrder sent as request, joined with ",". */
static const char *order_identifiers(int request)
{
    json_t *payload = payload_of(request), *item;
    const char *out = "";
    size_t i;

    json_array_foreach(json_object_get(payload, "identifiers"), i, item)
    {
        out = apr_pstrcat(pool, out, i > 0 ? "," : "",
                          json_string_value(json_object_get(item, "value")), NULL);
    }
    json_decref(payload);
    return out;
}

static const char *order_replaces(int request)
{
    json_t *payload = payload_of(request);
    const json_t *value = json_object_get(payload, "replaces");
    const char *out = json_is_string(value) ? apr_pstrdup(pool, json_string_value(value)) : NULL;

    json_decref(payload);
    return out;
}

/* The DNS SANs of the CSR the finalize request carried, joined with ",". */
static const char *csr_names(int request)
{
    const canned_request_t *req = canned_ca_request(ca, request);
    X509_REQ *csr;

    ck_assert_ptr_nonnull(req);
    csr = csr_ca_csr_of(pool, req->body);
    ck_assert_ptr_nonnull(csr);
    return csr_ca_csr_names(pool, csr, "");
}

static const char *joined(const apr_array_header_t *names)
{
    const char *out = "";
    int i;

    for (i = 0; i < names->nelts; i++) {
        out = apr_pstrcat(pool, out, i > 0 ? "," : "", APR_ARRAY_IDX(names, i, const char *), NULL);
    }
    return out;
}

static at_issue_request_t request_for(const char *first, const char *second, int allow_partial)
{
    at_issue_request_t request = {0};
    apr_array_header_t *names = apr_array_make(pool, 2, sizeof(const char *));

    APR_ARRAY_PUSH(names, const char *) = first;
    if (second != NULL) {
        APR_ARRAY_PUSH(names, const char *) = second;
    }
    request.site = first;
    request.names = names;
    request.key_type = AT_KEY_EC256;
    request.timeout = ISSUE_TIMEOUT;
    request.allow_partial = allow_partial;
    return request;
}

static void setup(void)
{
    ca_fixture_setup();
    nonce_counter = 0;
    memset(&responder_log, 0, sizeof(responder_log));
    at_acme_set_account(acme, key, url_of("/acct/1"));
    csr_ca_start();
}

static void teardown(void)
{
    ca_fixture_teardown(); /* stops the canned CA's thread before the CA it signs with goes */
    csr_ca_stop();
}

/* The first order for a.example and b.example: both challenges started, then the order is
 * invalid because b.example failed. */
static void play_first_order_b_fails(void)
{
    reply_directory();
    reply_order(201, 1, "pending", "\"$BASE/authz/1\",\"$BASE/authz/2\"");
    reply_authz("a.example", "pending", 1, "pending", NULL);
    reply_challenge(1, "processing");
    reply_authz("b.example", "pending", 2, "pending", NULL);
    reply_challenge(2, "processing");
    reply_order(200, 1, "invalid", "\"$BASE/authz/1\",\"$BASE/authz/2\"");
}

/* --- partial certificates -------------------------------------------------------------------- */

START_TEST(test_partial_orders_again_for_the_names_that_validated)
{
    at_issue_request_t request = request_for("a.example", "b.example", 1);
    at_issue_result_t *result = NULL;
    const at_issue_failed_t *failed;
    int orders[4], finalizes[4];

    play_first_order_b_fails();
    /* the CA still validates a.example when the order fails: one more look */
    reply_authz("a.example", "pending", 1, "processing", NULL);
    reply_authz("b.example", "invalid", 2, "invalid", CONNECTION_ERROR);
    reply_authz("a.example", "valid", 1, "valid", NULL);
    /* the second order reuses the valid authorization of a.example */
    reply_order(201, 2, "ready", "\"$BASE/authz/1\"");
    reply_authz("a.example", "valid", 1, "valid", NULL);
    reply_order_valid(2);
    reply_certificate();

    ck_assert_int_eq(at_issue_certificate(&result, acme, pool, &request, &responder), APR_SUCCESS);
    ck_assert_ptr_nonnull(result);
    ck_assert_str_eq(joined(result->names), "a.example");
    ck_assert_int_eq(result->failed->nelts, 1);
    failed = &APR_ARRAY_IDX(result->failed, 0, at_issue_failed_t);
    ck_assert_str_eq(failed->name, "b.example");
    ck_assert_ptr_nonnull(strstr(failed->reason, "urn:ietf:params:acme:error:connection"));
    ck_assert_ptr_nonnull(strstr(failed->reason, REFUSED_DETAIL));
    assert_result_is_issued(result, "a.example");
    ck_assert_str_eq(result->order_url, url_of("/order/2"));

    ck_assert_int_eq(canned_ca_pending(ca), 0);
    ck_assert_int_eq(requests_to("/new-order", orders, 4), 2);
    ck_assert_str_eq(order_identifiers(orders[0]), "a.example,b.example");
    ck_assert_str_eq(order_identifiers(orders[1]), "a.example");
    ck_assert_int_eq(requests_to("/order/2/finalize", finalizes, 4), 1);
    ck_assert_str_eq(csr_names(finalizes[0]), "a.example");
    ck_assert_int_eq(responder_log.setups, 2);
    ck_assert_int_eq(responder_log.teardowns, 2);

    /* one line for the outcome: the site, the covered name, the failed one with the CA's reason */
    ck_assert_int_eq(log_find(AT_LOG_WARN, "partial certificate for a.example"), 1);
    ck_assert_int_eq(log_find(AT_LOG_WARN,
                              "b.example (urn:ietf:params:acme:error:connection: " REFUSED_DETAIL
                              ")"),
                     1);
    ck_assert_int_eq(log_find(AT_LOG_ERR, ""), 0);
}
END_TEST

START_TEST(test_partial_validates_again_when_the_ca_does_not_reuse)
{
    at_issue_request_t request = request_for("a.example", "b.example", 1);
    at_issue_result_t *result = NULL;
    int finalizes[4];

    play_first_order_b_fails();
    reply_authz("a.example", "valid", 1, "valid", NULL);
    reply_authz("b.example", "invalid", 2, "invalid", CONNECTION_ERROR);
    /* a fresh authorization for a.example: validated again */
    reply_order(201, 2, "pending", "\"$BASE/authz/3\"");
    reply_authz("a.example", "pending", 3, "pending", NULL);
    reply_challenge(3, "processing");
    reply_order(200, 2, "ready", "\"$BASE/authz/3\"");
    reply_order_valid(2);
    reply_certificate();

    ck_assert_int_eq(at_issue_certificate(&result, acme, pool, &request, &responder), APR_SUCCESS);
    assert_result_is_issued(result, "a.example");
    ck_assert_str_eq(joined(result->names), "a.example");
    ck_assert_int_eq(result->failed->nelts, 1);
    ck_assert_int_eq(canned_ca_pending(ca), 0);
    ck_assert_int_eq(requests_to("/chall/3", finalizes, 4), 1);
    ck_assert_int_eq(requests_to("/order/2/finalize", finalizes, 4), 1);
    ck_assert_str_eq(csr_names(finalizes[0]), "a.example");
    ck_assert_int_eq(responder_log.setups, 3);
    ck_assert_str_eq(responder_log.names[2], "a.example");
    ck_assert_int_eq(responder_log.teardowns, 3);
}
END_TEST

/* After AT_ECHALLENGE: no certificate, and the names the CA refused with its problem type. */
static void assert_failed_with(const at_issue_result_t *result, const char *name, const char *type)
{
    int i, found = 0;

    ck_assert_ptr_nonnull(result);
    ck_assert_ptr_null(result->chain_pem);
    ck_assert_ptr_null(result->key_pem);
    for (i = 0; result->failed != NULL && i < result->failed->nelts; ++i) {
        const at_issue_failed_t *f = &APR_ARRAY_IDX(result->failed, i, at_issue_failed_t);

        found |= strcmp(f->name, name) == 0 && f->type != NULL && strcmp(f->type, type) == 0;
    }
    ck_assert_msg(found, "%s with %s not among the failed names", name, type);
}

START_TEST(test_partial_second_failure_fails_without_a_third_order)
{
    at_issue_request_t request = request_for("a.example", "b.example", 1);
    at_issue_result_t *result = NULL;
    int orders[4];

    play_first_order_b_fails();
    reply_authz("a.example", "valid", 1, "valid", NULL);
    reply_authz("b.example", "invalid", 2, "invalid", CONNECTION_ERROR);
    reply_order(201, 2, "pending", "\"$BASE/authz/3\"");
    reply_authz("a.example", "pending", 3, "pending", NULL);
    reply_challenge(3, "processing");
    reply_order(200, 2, "invalid", "\"$BASE/authz/3\"");
    reply_authz("a.example", "invalid", 3, "invalid",
                "{\"type\":\"urn:ietf:params:acme:error:unauthorized\",\"detail\":\"wrong key\"}");

    ck_assert_int_eq(at_issue_certificate(&result, acme, pool, &request, &responder),
                     AT_ECHALLENGE);
    assert_failed_with(result, "a.example", "urn:ietf:params:acme:error:unauthorized");
    ck_assert_int_eq(canned_ca_pending(ca), 0);
    ck_assert_int_eq(requests_to("/new-order", orders, 4), 2);
    ck_assert_int_eq(log_find(AT_LOG_ERR, "could not validate a.example: "
                                          "urn:ietf:params:acme:error:unauthorized: wrong key"),
                     1);
}
END_TEST

START_TEST(test_no_partial_certificate_without_allow_partial)
{
    at_issue_request_t request = request_for("a.example", "b.example", 0);
    at_issue_result_t *result = NULL;
    int orders[4];

    play_first_order_b_fails();
    reply_authz("a.example", "valid", 1, "valid", NULL);
    reply_authz("b.example", "invalid", 2, "invalid", CONNECTION_ERROR);
    reply_order(201, 2, "ready", "\"$BASE/authz/1\""); /* must not be reached */

    ck_assert_int_eq(at_issue_certificate(&result, acme, pool, &request, &responder),
                     AT_ECHALLENGE);
    assert_failed_with(result, "b.example", "urn:ietf:params:acme:error:connection");
    ck_assert_int_eq(requests_to("/new-order", orders, 4), 1);
    ck_assert_int_eq(canned_ca_pending(ca), 1);
    ck_assert_int_eq(log_find(AT_LOG_ERR, "could not validate"), 1);
    ck_assert_int_eq(log_find(AT_LOG_ERR, "b.example: urn:ietf:params:acme:error:connection"), 1);
    ck_assert_int_eq(log_find(AT_LOG_WARN, "partial"), 0);
    ck_assert_int_eq(responder_log.teardowns, 2);
}
END_TEST

START_TEST(test_partial_with_every_name_failing_is_a_failure)
{
    at_issue_request_t request = request_for("a.example", "b.example", 1);
    at_issue_result_t *result = NULL;
    int orders[4];

    play_first_order_b_fails();
    reply_authz("a.example", "invalid", 1, "invalid",
                "{\"type\":\"urn:ietf:params:acme:error:dns\",\"detail\":\"NXDOMAIN\"}");
    reply_authz("b.example", "invalid", 2, "invalid", CONNECTION_ERROR);
    reply_order(201, 2, "ready", "\"$BASE/authz/1\""); /* must not be reached */

    ck_assert_int_eq(at_issue_certificate(&result, acme, pool, &request, &responder),
                     AT_ECHALLENGE);
    assert_failed_with(result, "a.example", "urn:ietf:params:acme:error:dns");
    ck_assert_int_eq(requests_to("/new-order", orders, 4), 1);
    ck_assert_int_eq(canned_ca_pending(ca), 1);
    ck_assert_int_eq(log_find(AT_LOG_ERR, "could not validate"), 1);
    ck_assert_int_eq(log_find(AT_LOG_ERR, "a.example (urn:ietf:params:acme:error:dns: NXDOMAIN)"),
                     1);
    ck_assert_int_eq(log_find(AT_LOG_ERR, "b.example (urn:ietf:params:acme:error:connection"), 1);
    ck_assert_int_eq(log_find(AT_LOG_WARN, "partial certificate"), 0);
}
END_TEST

START_TEST(test_partial_leaves_out_a_name_invalid_from_the_start)
{
    at_issue_request_t request = request_for("a.example", "b.example", 1);
    at_issue_result_t *result = NULL;
    int orders[4];

    /* b.example's authorization is invalid before we start: the order cannot become ready, so
     * the flow waits on a.example's authorization rather than on the order */
    reply_directory();
    reply_order(201, 1, "pending", "\"$BASE/authz/1\",\"$BASE/authz/2\"");
    reply_authz("a.example", "pending", 1, "pending", NULL);
    reply_challenge(1, "processing");
    reply_authz("b.example", "invalid", 2, "invalid", CONNECTION_ERROR);
    reply_authz("a.example", "valid", 1, "valid", NULL);
    reply_authz("b.example", "invalid", 2, "invalid", CONNECTION_ERROR);
    reply_order(201, 2, "ready", "\"$BASE/authz/1\"");
    reply_authz("a.example", "valid", 1, "valid", NULL);
    reply_order_valid(2);
    reply_certificate();

    ck_assert_int_eq(at_issue_certificate(&result, acme, pool, &request, &responder), APR_SUCCESS);
    assert_result_is_issued(result, "a.example");
    ck_assert_str_eq(joined(result->names), "a.example");
    ck_assert_str_eq(APR_ARRAY_IDX(result->failed, 0, at_issue_failed_t).name, "b.example");
    ck_assert_int_eq(canned_ca_pending(ca), 0);
    ck_assert_int_eq(requests_to("/order/1", orders, 4), 0); /* no poll of a doomed order */
    ck_assert_int_eq(responder_log.setups, 1);
}
END_TEST

START_TEST(test_an_authorization_for_a_name_not_ordered_gets_no_response)
{
    at_issue_request_t request = request_for("a.example", NULL, 1);
    at_issue_result_t *result = NULL;

    reply_directory();
    reply_order(201, 1, "pending", "\"$BASE/authz/1\"");
    reply_authz("victim.example", "pending", 1, "pending", NULL);

    ck_assert_int_eq(at_issue_certificate(&result, acme, pool, &request, &responder), AT_EPROTO);
    ck_assert_int_eq(responder_log.setups, 0); /* nothing published for a name not ordered */
    ck_assert_int_eq(log_find(AT_LOG_ERR, "victim.example, which the order does not name"), 1);
}
END_TEST

START_TEST(test_full_success_lists_every_name_and_none_failed)
{
    at_issue_request_t request = request_for("a.example", "b.example", 1);
    at_issue_result_t *result = NULL;
    int finalizes[4];

    reply_directory();
    reply_order(201, 1, "ready", "\"$BASE/authz/1\",\"$BASE/authz/2\"");
    reply_authz("a.example", "valid", 1, "valid", NULL);
    reply_authz("b.example", "valid", 2, "valid", NULL);
    reply_order_valid(1);
    reply_certificate();

    ck_assert_int_eq(at_issue_certificate(&result, acme, pool, &request, &responder), APR_SUCCESS);
    assert_result_is_issued(result, "a.example,b.example");
    ck_assert_str_eq(joined(result->names), "a.example,b.example");
    ck_assert_ptr_nonnull(result->failed);
    ck_assert_int_eq(result->failed->nelts, 0);
    ck_assert_int_eq(requests_to("/order/1/finalize", finalizes, 4), 1);
    ck_assert_str_eq(csr_names(finalizes[0]), "a.example,b.example");
    ck_assert_int_eq(log_find(AT_LOG_WARN, ""), 0);
}
END_TEST

/* --- the certificate the CA sends back ---------------------------------------------------- */

/* A CA answering a.example's order with fault (NULL: with NOT_PEM): one error line naming the
 * site, the CA and why, AT_EINVALID and no result. */
static void assert_certificate_refused(const csr_ca_fault_t *fault, const char *why)
{
    at_issue_request_t request = request_for("a.example", NULL, 0);
    at_issue_result_t *result = NULL;

    reply_directory();
    reply_order(201, 1, "ready", "\"$BASE/authz/1\"");
    reply_authz("a.example", "valid", 1, "valid", NULL);
    reply_order_valid(1);
    if (fault != NULL) {
        reply_certificate_with(fault);
    } else {
        canned_ca_add(ca, 200,
                      apr_psprintf(pool, CT_PEM "Replay-Nonce: nonce-%d\r\n", ++nonce_counter),
                      NOT_PEM);
    }
    ck_assert_int_eq(at_issue_certificate(&result, acme, pool, &request, &responder), AT_EINVALID);
    ck_assert_ptr_null(result);
    ck_assert_int_eq(canned_ca_pending(ca), 0);
    /* a real chain, faulty in one way, was sent whenever the test asked for one */
    ck_assert_int_eq(csr_ca_issued() != NULL, fault != NULL);
    ck_assert_int_eq(log_find(AT_LOG_ERR, apr_psprintf(pool,
                                                       "a.example: the CA at %s sent a "
                                                       "certificate we cannot use: %s",
                                                       url_of("/dir"), why)),
                     1);
    ck_assert_int_eq(log_find(AT_LOG_ERR, "cannot use"), 1);
}

START_TEST(test_certificate_for_other_names_is_refused)
{
    static const csr_ca_fault_t fault = {OTHER_SAN, 0, -TINY_CA_HOUR_SECS,
                                         TINY_CA_LEAF_DAYS * TINY_CA_DAY_SECS};

    assert_certificate_refused(&fault, "certificate does not cover a.example");
}
END_TEST

START_TEST(test_certificate_naming_more_than_ordered_is_refused)
{
    static const csr_ca_fault_t fault = {EXTRA_SAN, 0, -TINY_CA_HOUR_SECS,
                                         TINY_CA_LEAF_DAYS * TINY_CA_DAY_SECS};

    assert_certificate_refused(&fault, "certificate names other.example, which is not one of");
}
END_TEST

START_TEST(test_certificate_for_another_key_is_refused)
{
    static const csr_ca_fault_t fault = {NULL, 1, -TINY_CA_HOUR_SECS,
                                         TINY_CA_LEAF_DAYS * TINY_CA_DAY_SECS};

    assert_certificate_refused(&fault, "private key does not match the certificate");
}
END_TEST

START_TEST(test_certificate_that_is_not_pem_is_refused)
{
    assert_certificate_refused(NULL, "it does not parse as a PEM certificate chain");
}
END_TEST

START_TEST(test_certificate_already_expired_is_refused)
{
    static const csr_ca_fault_t fault = {NULL, 0, -(TINY_CA_LEAF_DAYS + 1) * TINY_CA_DAY_SECS,
                                         -TINY_CA_DAY_SECS};

    assert_certificate_refused(&fault, "certificate expired on");
}
END_TEST

/* --- replaces (RFC 9773) --------------------------------------------------------------------- */

START_TEST(test_refused_replaces_is_retried_once_without)
{
    at_issue_request_t request = request_for("a.example", NULL, 0);
    at_issue_result_t *result = NULL;
    int orders[4];

    request.replaces = CERT_ID;
    reply_directory();
    reply_problem(409, NULL, "alreadyReplaced", "already replaced by another order");
    reply_order(201, 1, "ready", "\"$BASE/authz/1\"");
    reply_authz("a.example", "valid", 1, "valid", NULL);
    reply_order_valid(1);
    reply_certificate();

    ck_assert_int_eq(at_issue_certificate(&result, acme, pool, &request, &responder), APR_SUCCESS);
    assert_result_is_issued(result, "a.example");
    ck_assert_int_eq(requests_to("/new-order", orders, 4), 2);
    ck_assert_str_eq(order_replaces(orders[0]), CERT_ID);
    ck_assert_ptr_null(order_replaces(orders[1]));
    ck_assert_int_eq(log_find(AT_LOG_WARN, "urn:ietf:params:acme:error:alreadyReplaced"), 1);
    ck_assert_int_eq(log_find(AT_LOG_WARN, "ordering without it"), 1);
    ck_assert_int_eq(log_find(AT_LOG_ERR, ""), 0);
}
END_TEST

START_TEST(test_refused_replaces_is_retried_only_once)
{
    at_issue_request_t request = request_for("a.example", NULL, 0);
    at_issue_result_t *result = NULL;
    int orders[4];

    request.replaces = CERT_ID;
    reply_directory();
    reply_problem(400, NULL, "malformed", "replaces not understood");
    reply_problem(400, NULL, "malformed", "still malformed");
    reply_order(201, 1, "ready", "\"$BASE/authz/1\""); /* must not be reached */

    ck_assert_int_eq(at_issue_certificate(&result, acme, pool, &request, &responder), AT_EPROBLEM);
    ck_assert_int_eq(requests_to("/new-order", orders, 4), 2);
    ck_assert_ptr_null(order_replaces(orders[1]));
    ck_assert_int_eq(canned_ca_pending(ca), 1);
    ck_assert_int_eq(log_find(AT_LOG_ERR, "still malformed"), 1);
    ck_assert_int_eq(log_find(AT_LOG_ERR, "did not accept an order"), 1);
}
END_TEST

START_TEST(test_partial_reorder_keeps_accepted_replaces)
{
    at_issue_request_t request = request_for("a.example", "b.example", 1);
    at_issue_result_t *result = NULL;
    int orders[4];

    request.replaces = CERT_ID;
    play_first_order_b_fails();
    reply_authz("a.example", "valid", 1, "valid", NULL);
    reply_authz("b.example", "invalid", 2, "invalid", CONNECTION_ERROR);
    reply_order(201, 2, "ready", "\"$BASE/authz/1\"");
    reply_authz("a.example", "valid", 1, "valid", NULL);
    reply_order_valid(2);
    reply_certificate();

    ck_assert_int_eq(at_issue_certificate(&result, acme, pool, &request, &responder), APR_SUCCESS);
    assert_result_is_issued(result, "a.example");
    ck_assert_int_eq(requests_to("/new-order", orders, 4), 2);
    ck_assert_str_eq(order_replaces(orders[0]), CERT_ID);
    ck_assert_str_eq(order_replaces(orders[1]), CERT_ID); /* the first order never finalized */
}
END_TEST

/* --- the CA's Retry-After ------------------------------------------------------------------ */

START_TEST(test_rate_limit_surfaces_retry_after_and_is_not_retried)
{
    at_issue_request_t request = request_for("a.example", NULL, 0);
    at_issue_result_t *result = NULL;
    int orders[4];

    request.replaces = CERT_ID;
    reply_directory();
    reply_problem(429, apr_psprintf(pool, "Retry-After: %d\r\n", RETRY_AFTER_SECS), "rateLimited",
                  "too many new orders recently");
    reply_order(201, 1, "ready", "\"$BASE/authz/1\""); /* must not be reached */

    ck_assert_int_eq(at_issue_certificate(&result, acme, pool, &request, &responder), AT_EPROBLEM);
    ck_assert_int_eq(at_acme_retry_after(acme), apr_time_from_sec(RETRY_AFTER_SECS));
    ck_assert_int_eq(requests_to("/new-order", orders, 4), 1);
    ck_assert_int_eq(log_find(AT_LOG_ERR, "too many new orders recently"), 1);
}
END_TEST

START_TEST(test_retry_after_is_kept_for_503_and_reset_by_success)
{
    at_http_response_t *response;
    json_t *json = NULL;

    reply_directory();
    canned_ca_add(ca, 503, "Retry-After: 30\r\nContent-Type: text/plain\r\n", "busy");
    canned_ca_add(ca, 200, "Replay-Nonce: head-1\r\n", NULL); /* the 503 carried no nonce */
    reply(200, NULL, "{}");
    ck_assert_int_eq(at_acme_retry_after(acme), 0);
    ck_assert_int_eq(at_acme_post(acme, pool, url_of("/x"), NULL, &response, &json), AT_EPROTO);
    ck_assert_int_eq(at_acme_retry_after(acme), apr_time_from_sec(30));
    ck_assert_int_eq(at_acme_post(acme, pool, url_of("/x"), NULL, &response, &json), APR_SUCCESS);
    json_decref(json);
    ck_assert_int_eq(at_acme_retry_after(acme), 0);
    ck_assert_int_eq(canned_ca_pending(ca), 0);
}
END_TEST

START_TEST(test_retry_after_is_bounded_and_absent_is_zero)
{
    at_http_response_t *response;
    json_t *json = NULL;

    reply_directory();
    reply_problem(429, "Retry-After: 99999999\r\n", "rateLimited", "slow down");
    reply_problem(429, NULL, "rateLimited", "slow down, no hint");
    reply_problem(400, "Retry-After: 30\r\n", "malformed", "not a busy answer");
    ck_assert_int_eq(at_acme_post(acme, pool, url_of("/x"), NULL, &response, &json), AT_EPROBLEM);
    ck_assert_int_eq(at_acme_retry_after(acme), AT_HTTP_RETRY_AFTER_MAX);
    ck_assert_int_eq(at_acme_post(acme, pool, url_of("/x"), NULL, &response, &json), AT_EPROBLEM);
    ck_assert_int_eq(at_acme_retry_after(acme), 0);
    ck_assert_int_eq(at_acme_post(acme, pool, url_of("/x"), NULL, &response, &json), AT_EPROBLEM);
    ck_assert_int_eq(at_acme_retry_after(acme), 0);
}
END_TEST

START_TEST(test_retry_after_of_an_unavailable_directory)
{
    const at_acme_directory_t *dir;

    canned_ca_add(ca, 503, "Retry-After: 45\r\nContent-Type: text/html\r\n", "<p>maintenance</p>");
    ck_assert_int_eq(at_acme_directory(&dir, acme), AT_EPROTO);
    ck_assert_int_eq(at_acme_retry_after(acme), apr_time_from_sec(45));
    ck_assert_ptr_eq(at_acme_http(acme), http);
}
END_TEST

/* --- polling (at_poll.h) ------------------------------------------------------------------- */

/* An order for a.example still being validated: its challenge started, the first poll pending,
 * with the CA's Retry-After (NULL: none). */
static void play_order_still_pending(const char *retry_after)
{
    reply_directory();
    reply_order(201, 1, "pending", "\"$BASE/authz/1\"");
    reply_authz("a.example", "pending", 1, "pending", NULL);
    reply_challenge(1, "processing");
    reply(200, retry_after,
          "{\"status\":\"pending\",\"authorizations\":[\"$BASE/authz/1\"],"
          "\"finalize\":\"$BASE/order/1/finalize\"}");
}

START_TEST(test_polls_order_and_certificate_until_done)
{
    at_issue_request_t request = request_for("a.example", NULL, 0);
    at_issue_result_t *result = NULL;
    int polls[8];

    play_order_still_pending(NULL);
    reply_order(200, 1, "ready", "\"$BASE/authz/1\"");
    reply_order(200, 1, "processing", "\"$BASE/authz/1\""); /* the finalize */
    reply_order(200, 1, "processing", "\"$BASE/authz/1\"");
    reply_order_valid(1);
    reply_certificate();

    ck_assert_int_eq(at_issue_certificate(&result, acme, pool, &request, &responder), APR_SUCCESS);
    assert_result_is_issued(result, "a.example");
    ck_assert_int_eq(canned_ca_pending(ca), 0);
    ck_assert_int_eq(requests_to("/order/1", polls, 8), 4);
}
END_TEST

START_TEST(test_order_retry_after_past_the_deadline_gives_up_without_polling)
{
    at_issue_request_t request = request_for("a.example", NULL, 0);
    at_issue_result_t *result = NULL;

    play_order_still_pending(apr_psprintf(pool, "Retry-After: %d\r\n", RETRY_AFTER_SECS));
    reply_order(200, 1, "ready", "\"$BASE/authz/1\""); /* must not be reached */

    ck_assert_int_eq(at_issue_certificate(&result, acme, pool, &request, &responder), AT_ETIMEOUT);
    ck_assert_int_eq(canned_ca_pending(ca), 1);
    ck_assert_int_eq(log_find(AT_LOG_ERR, "a.example: gave up waiting for validation"), 1);
    ck_assert_int_eq(responder_log.teardowns, 1);
}
END_TEST

START_TEST(test_certificate_retry_after_past_the_deadline_gives_up_without_polling)
{
    at_issue_request_t request = request_for("a.example", NULL, 0);
    at_issue_result_t *result = NULL;

    reply_directory();
    reply_order(201, 1, "ready", "\"$BASE/authz/1\"");
    reply_authz("a.example", "valid", 1, "valid", NULL);
    reply(200, apr_psprintf(pool, "Retry-After: %d\r\n", RETRY_AFTER_SECS),
          "{\"status\":\"processing\",\"authorizations\":[\"$BASE/authz/1\"],"
          "\"finalize\":\"$BASE/order/1/finalize\"}");
    reply_order_valid(1); /* must not be reached */

    ck_assert_int_eq(at_issue_certificate(&result, acme, pool, &request, &responder), AT_ETIMEOUT);
    ck_assert_int_eq(canned_ca_pending(ca), 1);
    ck_assert_int_eq(log_find(AT_LOG_ERR, "a.example: gave up waiting for the certificate"), 1);
}
END_TEST

static Suite *issue_suite(void)
{
    Suite *s = suite_create("issue");
    TCase *partial = tcase_create("partial");
    TCase *received = tcase_create("received");
    TCase *replaces = tcase_create("replaces");
    TCase *retry_after = tcase_create("retry_after");
    TCase *poll = tcase_create("poll");

    tcase_add_checked_fixture(partial, setup, teardown);
    tcase_add_test(partial, test_partial_orders_again_for_the_names_that_validated);
    tcase_add_test(partial, test_partial_validates_again_when_the_ca_does_not_reuse);
    tcase_add_test(partial, test_partial_second_failure_fails_without_a_third_order);
    tcase_add_test(partial, test_no_partial_certificate_without_allow_partial);
    tcase_add_test(partial, test_partial_with_every_name_failing_is_a_failure);
    tcase_add_test(partial, test_partial_leaves_out_a_name_invalid_from_the_start);
    tcase_add_test(partial, test_full_success_lists_every_name_and_none_failed);
    tcase_add_test(partial, test_an_authorization_for_a_name_not_ordered_gets_no_response);
    suite_add_tcase(s, partial);

    tcase_add_checked_fixture(received, setup, teardown);
    tcase_add_test(received, test_certificate_for_other_names_is_refused);
    tcase_add_test(received, test_certificate_naming_more_than_ordered_is_refused);
    tcase_add_test(received, test_certificate_for_another_key_is_refused);
    tcase_add_test(received, test_certificate_that_is_not_pem_is_refused);
    tcase_add_test(received, test_certificate_already_expired_is_refused);
    suite_add_tcase(s, received);

    tcase_add_checked_fixture(replaces, setup, teardown);
    tcase_add_test(replaces, test_refused_replaces_is_retried_once_without);
    tcase_add_test(replaces, test_refused_replaces_is_retried_only_once);
    tcase_add_test(replaces, test_partial_reorder_keeps_accepted_replaces);
    suite_add_tcase(s, replaces);

    tcase_add_checked_fixture(retry_after, setup, teardown);
    tcase_add_test(retry_after, test_rate_limit_surfaces_retry_after_and_is_not_retried);
    tcase_add_test(retry_after, test_retry_after_is_kept_for_503_and_reset_by_success);
    tcase_add_test(retry_after, test_retry_after_is_bounded_and_absent_is_zero);
    tcase_add_test(retry_after, test_retry_after_of_an_unavailable_directory);
    suite_add_tcase(s, retry_after);

    tcase_add_checked_fixture(poll, setup, teardown);
    tcase_add_test(poll, test_polls_order_and_certificate_until_done);
    tcase_add_test(poll, test_order_retry_after_past_the_deadline_gives_up_without_polling);
    tcase_add_test(poll, test_certificate_retry_after_past_the_deadline_gives_up_without_polling);
    suite_add_tcase(s, poll);
    return s;
}

AT_UNIT_MAIN(issue_suite)
