/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_acme_account.c: account objects (RFC 8555 §7.1.2) as newAccount or the account URL
 * answer them.
 *
 * Input: the JSON body. An accepted account has a status (RFC 8555 makes "valid" the default)
 * and a contact list of strings.
 */
#include "fuzz_acme.h"

#define FUZZ_STATUS_OK 200

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    at_acme_account_t *account = NULL;
    json_t *json;
    int i;

    (void)fuzz_acme_response(&json, p, data, size, FUZZ_STATUS_OK);
    if (json != NULL &&
        acme_account_parse(&account, p, json, FUZZ_CA_URL, "account " FUZZ_CA_URL) == APR_SUCCESS) {
        FUZZ_REQUIRE(account != NULL && account->status != NULL && account->contacts != NULL);
        FUZZ_REQUIRE(strcmp(account->url, FUZZ_CA_URL) == 0);
        for (i = 0; i < account->contacts->nelts; i++) {
            FUZZ_REQUIRE(APR_ARRAY_IDX(account->contacts, i, const char *) != NULL);
        }
    }
    json_decref(json);
    apr_pool_destroy(p);
    return 0;
}
