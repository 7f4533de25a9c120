/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_ari.c: renewalInfo answers (RFC 9773 §4.2) and the moment picked inside their window.
 *
 * Input: see fuzz_acme.h ("#<Retry-After>" line, then the body), parsed exactly as at_ari_fetch()
 * parses a 200 answer. Whatever the CA sends, the next poll stays within [POLL_MIN, POLL_MAX];
 * an accepted window ends after it starts, and every picked moment lies inside it.
 */
#include "at_ari.h"
#include "at_http.h"
#include "fuzz_acme.h"

#define FUZZ_STATUS_OK 200

static void fuzz_require_pick(const at_ari_window_t *window, apr_uint32_t random)
{
    apr_time_t t = at_ari_pick(window, random);

    FUZZ_REQUIRE(t >= window->start && t < window->end);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    at_http_response_t *response;
    at_ari_window_t window;
    apr_uint32_t seed = 0;
    json_t *json;
    size_t i;

    response = fuzz_acme_response(&json, p, data, size, FUZZ_STATUS_OK);
    json_decref(json);
    if (at_ari_parse(&window, p, response->body, response->body_len,
                     at_http_retry_after(response)) == APR_SUCCESS) {
        FUZZ_REQUIRE(window.end > window.start);
        FUZZ_REQUIRE(window.explanation_url == NULL || fuzz_is_http_url(window.explanation_url));
        for (i = 0; i < size; i++) {
            seed = seed * 31 + data[i];
        }
        fuzz_require_pick(&window, 0);
        fuzz_require_pick(&window, UINT32_MAX);
        fuzz_require_pick(&window, seed);
    }
    FUZZ_REQUIRE(window.retry_after >= AT_ARI_POLL_MIN && window.retry_after <= AT_ARI_POLL_MAX);
    apr_pool_destroy(p);
    return 0;
}
