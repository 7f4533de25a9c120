/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_http_headers.c: the response headers a CA controls: Link (alternate chains, "up"),
 * Retry-After and relative URLs resolved against the request URL.
 *
 * Input: header lines "Name: value" separated by newlines, kept as http.c keeps them (repeated
 * headers added, not merged). Whatever the CA sends: a Retry-After is never negative nor beyond
 * AT_HTTP_RETRY_AFTER_MAX, and every link we would follow is an absolute URL.
 */
#include <strings.h>

#include "at_http.h"
#include "fuzz_common.h"

#define FUZZ_REQUEST_URL "https://ca.fuzz.example/acme/cert/1"
#define FUZZ_TEXT_MAX 8192

static void fuzz_headers(apr_table_t *headers, char *text)
{
    char *state = NULL, *line, *colon;

    for (line = apr_strtok(text, "\r\n", &state); line != NULL;
         line = apr_strtok(NULL, "\r\n", &state)) {
        if ((colon = strchr(line, ':')) == NULL || colon == line) {
            continue;
        }
        *colon++ = '\0';
        while (*colon == ' ' || *colon == '\t') {
            colon++;
        }
        apr_table_add(headers, line, colon);
    }
}

static void fuzz_links(apr_pool_t *p, const at_http_response_t *response, const char *rel)
{
    apr_array_header_t *links = at_http_links(p, response, rel);
    int i;

    for (i = 0; i < links->nelts; i++) {
        const char *url = APR_ARRAY_IDX(links, i, const char *);

        FUZZ_REQUIRE(url != NULL && strstr(url, "://") != NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    at_http_response_t response;
    apr_interval_time_t wait;
    const char *location;

    if (size > FUZZ_TEXT_MAX) {
        return 0;
    }
    p = fuzz_pool();
    memset(&response, 0, sizeof(response));
    response.status = 200;
    response.headers = apr_table_make(p, 4);
    response.content_type = "";
    response.body = "";
    response.url = FUZZ_REQUEST_URL;
    fuzz_headers(response.headers, fuzz_cstr(p, data, size));
    wait = at_http_retry_after(&response);
    FUZZ_REQUIRE(wait >= 0 && wait <= AT_HTTP_RETRY_AFTER_MAX);
    fuzz_links(p, &response, "alternate");
    fuzz_links(p, &response, "up");
    if ((location = apr_table_get(response.headers, "Location")) != NULL) {
        location = at_http_resolve(p, response.url, location);
        FUZZ_REQUIRE(location == NULL || strstr(location, "://") != NULL);
    }
    apr_pool_destroy(p);
    return 0;
}
