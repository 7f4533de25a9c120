/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_acme_order.c: order objects (RFC 8555 §7.1.3) as newOrder, an order URL or finalize
 * answer them.
 *
 * Input: see fuzz_acme.h ("#<Retry-After>" line, then the JSON body). An accepted order has a
 * status, a finalize URL that is http(s), string arrays of identifiers and authorizations, a
 * certificate URL that is http(s) when present, and a Retry-After within the client's bound.
 */
#include "at_http.h"
#include "fuzz_acme.h"

#define FUZZ_STATUS_CREATED 201

static void fuzz_require_strings(const apr_array_header_t *strings)
{
    int i;

    FUZZ_REQUIRE(strings != NULL);
    for (i = 0; i < strings->nelts; i++) {
        FUZZ_REQUIRE(APR_ARRAY_IDX(strings, i, const char *) != NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    at_acme_order_t *order = NULL;
    at_http_response_t *response;
    json_t *json;

    response = fuzz_acme_response(&json, p, data, size, FUZZ_STATUS_CREATED);
    if (json != NULL && acme_order_parse(&order, p, json, FUZZ_CA_URL, response,
                                         "order " FUZZ_CA_URL) == APR_SUCCESS) {
        FUZZ_REQUIRE(order != NULL && order->status != NULL);
        FUZZ_REQUIRE(fuzz_is_http_url(order->finalize));
        FUZZ_REQUIRE(order->certificate == NULL || fuzz_is_http_url(order->certificate));
        fuzz_require_strings(order->identifiers);
        fuzz_require_strings(order->authorizations);
        FUZZ_REQUIRE(order->retry_after >= 0 && order->retry_after <= AT_HTTP_RETRY_AFTER_MAX);
        if (order->error != NULL) {
            FUZZ_REQUIRE(at_acme_problem_text(p, order->error) != NULL);
        }
    }
    json_decref(json);
    apr_pool_destroy(p);
    return 0;
}
