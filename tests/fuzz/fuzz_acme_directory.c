/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_acme_directory.c: the ACME directory (RFC 8555 §7.1.1) as a CA or a cached copy gives it.
 *
 * at_acme_directory_preset() is the parser the fetched directory and the store's cached copy
 * both go through. Whatever the text, a directory that is accepted names its three required
 * resources as http(s) URLs, and asking for it again returns the same parsed object.
 */
#include "at_acme.h"
#include "at_http.h"
#include "fuzz_acme.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    const at_acme_directory_t *dir = NULL;
    at_http_t *http;
    at_acme_t *acme;

    /* Per input, not once: a client kept across inputs would live in APR's pool memory, which
     * LeakSanitizer does not scan, and be reported as a leak. Nothing is sent through it. */
    FUZZ_REQUIRE(at_http_create(&http, p, NULL) == APR_SUCCESS);
    FUZZ_REQUIRE(at_acme_create(&acme, p, "https://ca.fuzz.example/directory", http) ==
                 APR_SUCCESS);
    if (at_acme_directory_preset(acme, (const char *)data, size) == APR_SUCCESS) {
        FUZZ_REQUIRE(at_acme_directory(&dir, acme) == APR_SUCCESS && dir != NULL);
        FUZZ_REQUIRE(fuzz_is_http_url(dir->new_nonce) && fuzz_is_http_url(dir->new_account) &&
                     fuzz_is_http_url(dir->new_order));
        FUZZ_REQUIRE(dir->renewal_info == NULL || fuzz_is_http_url(dir->renewal_info));
        FUZZ_REQUIRE(dir->eab_required == 0 || dir->eab_required == 1);
        FUZZ_REQUIRE(at_acme_directory_text(acme) == NULL); /* preset, not fetched */
    }
    apr_pool_destroy(p);
    return 0;
}
