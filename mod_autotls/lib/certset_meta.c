/* SPDX-License-Identifier: Apache-2.0 */
/*
 * certset_meta.c: a certificate set's meta.json, written and read in one place
 * (at_certset_meta.h).
 *
 * The one idea: a document read back is trusted for nothing but its strings: a key of the wrong
 * type is as good as missing, so a damaged meta.json costs a feature (the window in `show`), never
 * a crash.
 */
#include <apr_strings.h>
#include <jansson.h>

#include "at_certset_meta.h"
#include "at_core.h"
#include "at_issue.h"

#define META_CA "ca"
#define META_CA_CERT "ca_cert"
#define META_ORDER "order"
#define META_NAMES "names"

static void meta_set_text(json_t *json, const char *key, const char *value)
{
    if (value != NULL) {
        json_object_set_new(json, key, json_string(value));
    }
}

static const char *meta_text(const json_t *json, const char *key, apr_pool_t *p)
{
    const json_t *value = json_object_get(json, key);

    return json_is_string(value) ? apr_pstrdup(p, json_string_value(value)) : NULL;
}

apr_status_t at_certset_meta_save(at_store_t *store, at_store_group_e group, const char *site,
                                  const at_certset_meta_t *meta, apr_pool_t *p)
{
    json_t *json = json_object();
    apr_status_t rv;
    int i;

    meta_set_text(json, META_CA, meta->ca);
    if (meta->names != NULL) {
        json_t *names = json_array();

        for (i = 0; i < meta->names->nelts; ++i) {
            json_array_append_new(names, json_string(APR_ARRAY_IDX(meta->names, i, const char *)));
        }
        json_object_set_new(json, META_NAMES, names);
    }
    meta_set_text(json, META_ORDER, meta->order);
    meta_set_text(json, META_CA_CERT, meta->ca_cert);
    rv = at_store_save_json(store, group, site, AT_CERTSET_META, json, p);
    json_decref(json);
    return rv;
}

apr_status_t at_certset_meta_load(at_certset_meta_t *meta, at_store_t *store,
                                  at_store_group_e group, const char *site, apr_pool_t *p)
{
    json_t *json = NULL, *names, *name;
    apr_array_header_t *list;
    apr_status_t rv;
    size_t i;

    meta->ca = meta->ca_cert = meta->order = NULL;
    meta->names = NULL;
    if ((rv = at_store_load_json(store, group, site, AT_CERTSET_META, &json, p)) != APR_SUCCESS) {
        return rv;
    }
    if (!json_is_object(json)) {
        json_decref(json);
        return AT_EPROTO;
    }
    meta->ca = meta_text(json, META_CA, p);
    meta->ca_cert = meta_text(json, META_CA_CERT, p);
    meta->order = meta_text(json, META_ORDER, p);
    if (json_is_array(names = json_object_get(json, META_NAMES))) {
        list = apr_array_make(p, (int)json_array_size(names), sizeof(const char *));
        json_array_foreach(names, i, name)
        {
            if (json_is_string(name)) {
                APR_ARRAY_PUSH(list, const char *) = apr_pstrdup(p, json_string_value(name));
            }
        }
        meta->names = list;
    }
    json_decref(json);
    return APR_SUCCESS;
}
