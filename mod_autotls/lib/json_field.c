/* SPDX-License-Identifier: Apache-2.0 */
/*
 * json_field.c: strict reading of small JSON files (see json_field.h).
 *
 * The one idea: what another process wrote is read as "exactly this shape or nothing": no
 * guessing at a wrong type, no control characters that could forge a log line or an
 * environment variable further on.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "at_core.h"
#include "json_field.h"

#define JSON_FIELD_DEL 0x7f
#define JSON_FIELD_SPACE 0x20

static int json_field_clean(const char *s, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; ++i) {
        unsigned char c = (unsigned char)s[i];

        if (c < JSON_FIELD_SPACE || c == JSON_FIELD_DEL) {
            return 0;
        }
    }
    return 1;
}

static apr_status_t json_field_copy(const char **out, apr_pool_t *p, const json_t *value,
                                    apr_size_t max)
{
    apr_size_t len;

    if (!json_is_string(value)) {
        return AT_EPROTO;
    }
    len = json_string_length(value);
    if (len > max || !json_field_clean(json_string_value(value), len)) {
        return AT_EPROTO;
    }
    *out = apr_pstrmemdup(p, json_string_value(value), len);
    return APR_SUCCESS;
}

apr_status_t at_json_field_text(const char **out, apr_pool_t *p, const json_t *obj, const char *key,
                                apr_size_t max, int required)
{
    const json_t *value = json_object_get(obj, key);

    *out = NULL;
    if (value == NULL) {
        return required ? AT_EPROTO : APR_SUCCESS;
    }
    return json_field_copy(out, p, value, max);
}

apr_status_t at_json_field_texts(apr_array_header_t **out, apr_pool_t *p, const json_t *obj,
                                 const char *key, apr_size_t max, int max_items)
{
    const json_t *list = json_object_get(obj, key), *item;
    const char *text;
    apr_status_t rv;
    size_t i;

    *out = apr_array_make(p, 2, sizeof(const char *));
    if (list == NULL) {
        return APR_SUCCESS;
    }
    if (!json_is_array(list) || json_array_size(list) > (size_t)max_items) {
        return AT_EPROTO;
    }
    json_array_foreach(list, i, item)
    {
        if ((rv = json_field_copy(&text, p, item, max)) != APR_SUCCESS) {
            return rv;
        }
        APR_ARRAY_PUSH(*out, const char *) = text;
    }
    return APR_SUCCESS;
}

apr_status_t at_json_field_object(json_t **obj, const char *text, apr_size_t len,
                                  apr_size_t max_len)
{
    json_error_t err;

    *obj = NULL;
    if (len > max_len) {
        return AT_ETOOLARGE;
    }
    *obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (*obj == NULL) {
        return AT_EPROTO;
    }
    if (!json_is_object(*obj)) {
        json_decref(*obj);
        *obj = NULL;
        return AT_EPROTO;
    }
    return APR_SUCCESS;
}

apr_status_t at_json_field_dump(char **text, apr_pool_t *p, json_t *json)
{
    char *dumped = json != NULL ? json_dumps(json, JSON_SORT_KEYS | JSON_COMPACT) : NULL;

    json_decref(json);
    if (dumped == NULL) {
        return AT_EARG;
    }
    *text = apr_pstrdup(p, dumped);
    free(dumped);
    return APR_SUCCESS;
}
