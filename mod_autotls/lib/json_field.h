/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json_field.h: strict reading of the small JSON files root and the ACME account hand each other
 * (meta.json, event files): a field is a string of bounded length without control characters,
 * or the whole file is refused. Internal to the library.
 */
#ifndef AT_JSON_FIELD_H
#define AT_JSON_FIELD_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

/* obj[key] as a copy in p: APR_SUCCESS with *out set, or with *out NULL when absent and not
 * required; AT_EPROTO when it is not a string, is longer than max bytes, or holds a control
 * character. */
apr_status_t at_json_field_text(const char **out, apr_pool_t *p, const json_t *obj, const char *key,
                                apr_size_t max, int required);

/* obj[key] as an array of texts (each as above) of at most max_items; absent: an empty array. */
apr_status_t at_json_field_texts(apr_array_header_t **out, apr_pool_t *p, const json_t *obj,
                                 const char *key, apr_size_t max, int max_items);

/* Parses text as a JSON object of at most max_len bytes; AT_EPROTO (or AT_ETOOLARGE) else. */
apr_status_t at_json_field_object(json_t **obj, const char *text, apr_size_t len,
                                  apr_size_t max_len);

/* The compact text of json (keys sorted) in p, and json released: AT_EARG when it cannot be
 * written (json NULL included). */
apr_status_t at_json_field_dump(char **text, apr_pool_t *p, json_t *json);

#endif
