/* SPDX-License-Identifier: Apache-2.0 */
/*
 * certmeta.c: live/<site>/meta.json, the CA a live set came from (see at_certmeta.h).
 *
 * The one idea: one writer and one reader for both the module and the CLI, so that what the
 * activator records is exactly what `autotls revoke` and `autotls show` read, and a file that
 * is anything else is refused instead of sending a request to a URL nobody configured.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <jansson.h>

#include "at_certmeta.h"
#include "at_core.h"
#include "at_issue.h"
#include "json_field.h"

#define CERTMETA_PATH_MAX 4096
#define CERTMETA_BY_MAX 16

static json_t *certmeta_names(const apr_array_header_t *names)
{
    json_t *list = json_array();
    int i;

    for (i = 0; names != NULL && i < names->nelts; ++i) {
        json_array_append_new(list, json_string(APR_ARRAY_IDX(names, i, const char *)));
    }
    return list;
}

apr_status_t at_certmeta_format(char **text, apr_pool_t *p, const at_certmeta_t *meta)
{
    json_t *json;

    if (meta->ca == NULL) {
        return AT_EARG;
    }
    json = json_pack("{s:s, s:o}", "ca", meta->ca, "names", certmeta_names(meta->names));
    if (json == NULL) {
        return AT_EARG;
    }
    if (meta->ca_cert != NULL) {
        json_object_set_new(json, "ca_cert", json_string(meta->ca_cert));
    }
    if (meta->order != NULL) {
        json_object_set_new(json, "order", json_string(meta->order));
    }
    if (meta->issued_by != NULL) {
        json_object_set_new(json, "issued_by", json_string(meta->issued_by));
    }
    return at_json_field_dump(text, p, json);
}

static int certmeta_is_url(const char *url)
{
    return url != NULL &&
           (strncasecmp(url, "https://", strlen("https://")) == 0 ||
            strncasecmp(url, "http://", strlen("http://")) == 0) &&
           strchr(url, ' ') == NULL;
}

apr_status_t at_certmeta_parse(at_certmeta_t **out, apr_pool_t *p, const char *text, apr_size_t len)
{
    at_certmeta_t *meta = apr_pcalloc(p, sizeof(*meta));
    json_t *json;
    apr_status_t rv;

    *out = NULL;
    if ((rv = at_json_field_object(&json, text, len, AT_CERTMETA_MAX_LEN)) != APR_SUCCESS) {
        return rv == AT_ETOOLARGE ? rv : AT_EPROTO;
    }
    if ((rv = at_json_field_text(&meta->ca, p, json, "ca", AT_CERTMETA_URL_MAX, 1)) ||
        (rv = at_json_field_text(&meta->ca_cert, p, json, "ca_cert", CERTMETA_PATH_MAX, 0)) ||
        (rv = at_json_field_text(&meta->order, p, json, "order", AT_CERTMETA_URL_MAX, 0)) ||
        (rv = at_json_field_text(&meta->issued_by, p, json, "issued_by", CERTMETA_BY_MAX, 0)) ||
        (rv = at_json_field_texts(&meta->names, p, json, "names", AT_CERTMETA_URL_MAX,
                                  AT_CERTMETA_NAMES_MAX))) {
        json_decref(json);
        return AT_EPROTO;
    }
    json_decref(json);
    if (!certmeta_is_url(meta->ca) || (meta->order != NULL && !certmeta_is_url(meta->order)) ||
        (meta->ca_cert != NULL && meta->ca_cert[0] != '/')) {
        return AT_EPROTO;
    }
    *out = meta;
    return APR_SUCCESS;
}

apr_status_t at_certmeta_save(at_store_t *store, const char *site, const at_certmeta_t *meta,
                              apr_pool_t *p)
{
    apr_status_t rv;
    char *text;

    if ((rv = at_certmeta_format(&text, p, meta)) != APR_SUCCESS) {
        return rv;
    }
    return at_store_save(store, AT_STORE_LIVE, site, AT_CERTSET_META, text, strlen(text),
                         AT_STORE_PUBLIC, p);
}

apr_status_t at_certmeta_load(at_certmeta_t **meta, at_store_t *store, const char *site,
                              apr_pool_t *p)
{
    apr_status_t rv;
    apr_size_t len;
    char *text;

    *meta = NULL;
    rv =
        at_store_load(store, AT_STORE_LIVE, site, AT_CERTSET_META, &text, &len, AT_STORE_PUBLIC, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if ((rv = at_certmeta_parse(meta, p, text, len)) != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv,
               AT_LOGNO(1400) "live/%s/%s is not a valid record of its CA; ignoring it", site,
               AT_CERTSET_META);
    }
    return rv;
}
