/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_acme.h: a CA's answer, built from a fuzz input, the way acme.c receives it.
 *
 * Input: an optional first line "#<Retry-After value>" and then the body. The body is parsed as
 * acme.c parses every JSON answer (jansson, duplicate members refused) and handed on only when it
 * is an object, as acme_post_object() does; the response carries the status and the header.
 */
#ifndef FUZZ_ACME_H
#define FUZZ_ACME_H

#include <strings.h>

#include <jansson.h>

#include "acme_internal.h"
#include "fuzz_common.h"

#define FUZZ_ACME_JSON_FLAGS JSON_REJECT_DUPLICATES /* acme.c's ACME_JSON_FLAGS */
#define FUZZ_CA_URL "https://ca.fuzz.example/acme/object/1"

/* The response for data, and its body as a JSON object in *json (NULL when it is none). */
static at_http_response_t *fuzz_acme_response(json_t **json, apr_pool_t *p, const uint8_t *data,
                                              size_t size, int status)
{
    at_http_response_t *response = apr_pcalloc(p, sizeof(*response));
    const uint8_t *nl;

    response->status = status;
    response->headers = apr_table_make(p, 2);
    response->content_type = "application/json";
    response->url = FUZZ_CA_URL;
    if (size > 0 && data[0] == '#' && (nl = memchr(data, '\n', size)) != NULL) {
        apr_table_set(response->headers, "Retry-After",
                      apr_pstrmemdup(p, (const char *)data + 1, (apr_size_t)(nl - data - 1)));
        size -= (size_t)(nl + 1 - data);
        data = nl + 1;
    }
    response->body = apr_pstrmemdup(p, (const char *)data, size);
    response->body_len = size;
    *json = json_loadb(response->body, response->body_len, FUZZ_ACME_JSON_FLAGS, NULL);
    if (*json != NULL && !json_is_object(*json)) {
        json_decref(*json);
        *json = NULL;
    }
    return response;
}

/* Whether url is what acme_json_url() lets through: an absolute http(s) URL. */
static int fuzz_is_http_url(const char *url)
{
    return url != NULL &&
           (strncasecmp(url, "https://", 8) == 0 || strncasecmp(url, "http://", 7) == 0);
}

#endif
