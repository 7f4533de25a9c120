/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_acme_authz.c: authorization objects and their challenges (RFC 8555 §7.1.4, §8).
 *
 * Input: see fuzz_acme.h. What matters most: a challenge token is later served by the http-01
 * responder and written to the store under its own name, so every token that is accepted must be
 * base64url and a valid store item name; the http-01 challenge we would pick is one of them.
 */
#include "at_b64url.h"
#include "at_store.h"
#include "fuzz_acme.h"

#define FUZZ_STATUS_OK 200
#define FUZZ_TOKEN_MAX 255 /* acme_order.c's ACME_TOKEN_MAX */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    at_acme_authz_t *authz = NULL;
    at_acme_challenge_t *http01;
    at_http_response_t *response;
    json_t *json;
    int i;

    response = fuzz_acme_response(&json, p, data, size, FUZZ_STATUS_OK);
    if (json != NULL && acme_authz_parse(&authz, p, json, FUZZ_CA_URL, response,
                                         "authz " FUZZ_CA_URL) == APR_SUCCESS) {
        FUZZ_REQUIRE(authz != NULL && authz->status != NULL && authz->identifier != NULL);
        FUZZ_REQUIRE(authz->challenges != NULL);
        for (i = 0; i < authz->challenges->nelts; i++) {
            const at_acme_challenge_t *c =
                APR_ARRAY_IDX(authz->challenges, i, at_acme_challenge_t *);

            FUZZ_REQUIRE(c->type != NULL && c->status != NULL && fuzz_is_http_url(c->url));
            if (c->token != NULL) {
                FUZZ_REQUIRE(at_b64url_is_token(c->token, FUZZ_TOKEN_MAX));
                FUZZ_REQUIRE(at_store_component_valid(c->token));
            }
        }
        http01 = at_acme_authz_challenge(authz, "http-01");
        FUZZ_REQUIRE(http01 == NULL || http01->token != NULL);
    }
    json_decref(json);
    apr_pool_destroy(p);
    return 0;
}
