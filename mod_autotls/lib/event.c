/* SPDX-License-Identifier: Apache-2.0 */
/*
 * event.c: certificate events and their hand-over from root to the renewal process (at_event.h).
 *
 * The one idea: an event file is written by root and read by the ACME account; the reader takes
 * nothing on trust: the store checks owner, links and size, this file checks every field (a
 * site name that is a path component, hex serials, no control characters, bounded texts) before
 * anything reaches a command line or an environment.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <jansson.h>

#include "at_core.h"
#include "at_event.h"
#include "at_live.h"
#include "json_field.h"

#define EVENT_RANDOM_BYTES 6
#define EVENT_HEX_PER_BYTE 2

static const char *const event_kind_names[AT_EVENT_KIND_COUNT] = {
    "obtained", "renewed", "failed", "expiring", "expired", "revoked", "orphaned",
};

const char *at_event_kind_name(at_event_kind_e kind)
{
    return (int)kind >= 0 && kind < AT_EVENT_KIND_COUNT ? event_kind_names[kind] : NULL;
}

apr_status_t at_event_kind_parse(at_event_kind_e *kind, const char *name)
{
    int i;

    for (i = 0; name != NULL && i < AT_EVENT_KIND_COUNT; ++i) {
        if (strcmp(name, event_kind_names[i]) == 0) {
            *kind = (at_event_kind_e)i;
            return APR_SUCCESS;
        }
    }
    return AT_EPROTO;
}

at_event_t *at_event_make(apr_pool_t *p, at_event_kind_e kind, const char *site, apr_time_t now)
{
    at_event_t *event = apr_pcalloc(p, sizeof(*event));

    event->kind = kind;
    event->site = site;
    event->names = apr_array_make(p, 1, sizeof(const char *));
    event->serial = "";
    event->error = "";
    event->time = now;
    return event;
}

void at_event_set_cert(at_event_t *event, apr_pool_t *p, X509 *leaf)
{
    at_cert_info_t *info;

    if (leaf == NULL || at_cert_info(&info, p, leaf) != APR_SUCCESS) {
        return;
    }
    event->names = info->names;
    event->serial = info->serial;
    event->not_after = info->not_after;
}

apr_status_t at_event_format(char **text, apr_pool_t *p, const at_event_t *event)
{
    json_t *json, *names = json_array();
    int i;

    for (i = 0; event->names != NULL && i < event->names->nelts; ++i) {
        json_array_append_new(names, json_string(APR_ARRAY_IDX(event->names, i, const char *)));
    }
    json = json_pack(
        "{s:s?, s:s?, s:o, s:s, s:I, s:s, s:I}", "event", at_event_kind_name(event->kind), "site",
        event->site, "names", names, "serial", event->serial != NULL ? event->serial : "",
        "not_after", (json_int_t)apr_time_sec(event->not_after), "error",
        event->error != NULL ? event->error : "", "time", (json_int_t)apr_time_sec(event->time));
    if (json == NULL || event->site == NULL || at_event_kind_name(event->kind) == NULL) {
        json_decref(json);
        return AT_EARG;
    }
    return at_json_field_dump(text, p, json);
}

static int event_is_hex(const char *s)
{
    for (; *s != '\0'; ++s) {
        if (!apr_isxdigit(*s)) {
            return 0;
        }
    }
    return 1;
}

/* A non-negative integer field; absent: 0. */
static apr_status_t event_seconds(apr_time_t *t, const json_t *obj, const char *key)
{
    const json_t *value = json_object_get(obj, key);
    json_int_t sec;

    *t = 0;
    if (value == NULL) {
        return APR_SUCCESS;
    }
    if (!json_is_integer(value) || (sec = json_integer_value(value)) < 0 ||
        sec > APR_INT64_MAX / APR_USEC_PER_SEC) {
        return AT_EPROTO;
    }
    *t = apr_time_from_sec(sec);
    return APR_SUCCESS;
}

static apr_status_t event_fields(at_event_t *event, apr_pool_t *p, const json_t *json)
{
    const char *kind, *serial, *error;
    int i;

    if (at_json_field_text(&kind, p, json, "event", AT_EVENT_NAME_MAX, 1) ||
        at_event_kind_parse(&event->kind, kind) ||
        at_json_field_text(&event->site, p, json, "site", AT_EVENT_NAME_MAX, 1) ||
        !at_store_component_valid(event->site) ||
        at_json_field_texts(&event->names, p, json, "names", AT_EVENT_NAME_MAX,
                            AT_EVENT_NAMES_MAX) ||
        at_json_field_text(&serial, p, json, "serial", AT_EVENT_SERIAL_MAX, 0) ||
        at_json_field_text(&error, p, json, "error", AT_EVENT_ERROR_MAX, 0) ||
        event_seconds(&event->not_after, json, "not_after") ||
        event_seconds(&event->time, json, "time")) {
        return AT_EPROTO;
    }
    event->serial = serial != NULL ? serial : "";
    event->error = error != NULL ? error : "";
    if (!event_is_hex(event->serial)) {
        return AT_EPROTO;
    }
    for (i = 0; i < event->names->nelts; ++i) {
        /* names are DNS names: one path component each ("*" of a wildcard aside) */
        const char *name = APR_ARRAY_IDX(event->names, i, const char *);

        if (!at_store_component_valid(name[0] == '*' && name[1] == '.' ? name + 2 : name)) {
            return AT_EPROTO;
        }
    }
    return APR_SUCCESS;
}

apr_status_t at_event_parse(at_event_t **out, apr_pool_t *p, const char *text, apr_size_t len)
{
    at_event_t *event = apr_pcalloc(p, sizeof(*event));
    json_t *json;
    apr_status_t rv;

    *out = NULL;
    if ((rv = at_json_field_object(&json, text, len, AT_EVENT_MAX_LEN)) != APR_SUCCESS) {
        return rv;
    }
    rv = event_fields(event, p, json);
    json_decref(json);
    if (rv == APR_SUCCESS) {
        *out = event;
    }
    return rv;
}

int at_event_is_item(const char *item)
{
    apr_size_t len = strlen(item), prefix = strlen(AT_EVENT_ITEM_PREFIX),
               suffix = strlen(AT_EVENT_ITEM_SUFFIX);

    return len > prefix + suffix && strncmp(item, AT_EVENT_ITEM_PREFIX, prefix) == 0 &&
           strcmp(item + len - suffix, AT_EVENT_ITEM_SUFFIX) == 0;
}

apr_status_t at_event_post(at_store_t *store, const at_event_t *event, apr_pool_t *p)
{
    unsigned char raw[EVENT_RANDOM_BYTES];
    char hex[EVENT_HEX_PER_BYTE * EVENT_RANDOM_BYTES + 1];
    const char *item;
    apr_status_t rv;
    char *text;
    int i;

    if ((rv = at_event_format(&text, p, event)) != APR_SUCCESS ||
        (rv = apr_generate_random_bytes(raw, sizeof(raw))) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < EVENT_RANDOM_BYTES; ++i) {
        apr_snprintf(hex + EVENT_HEX_PER_BYTE * i, EVENT_HEX_PER_BYTE + 1, "%02x", raw[i]);
    }
    /* the stamp first: a sorted listing is the order the events happened in */
    item = apr_pstrcat(p, AT_EVENT_ITEM_PREFIX, at_live_stamp(p, apr_time_now()), "-", hex,
                       AT_EVENT_ITEM_SUFFIX, NULL);
    return at_store_save(store, AT_STORE_JOBS, NULL, item, text, strlen(text), AT_STORE_PUBLIC, p);
}

apr_status_t at_event_take(apr_array_header_t **events, at_store_t *store, apr_pool_t *p)
{
    return at_event_take_listed(events, store, NULL, p);
}

apr_status_t at_event_take_listed(apr_array_header_t **events, at_store_t *store,
                                  const apr_array_header_t *listed, apr_pool_t *p)
{
    apr_array_header_t *own;
    const apr_array_header_t *items = listed;
    at_event_t *event;
    apr_status_t rv;
    apr_size_t len;
    char *text;
    int i, taken = 0;

    *events = apr_array_make(p, 1, sizeof(at_event_t *));
    if (items == NULL) {
        if ((rv = at_store_list(store, AT_STORE_JOBS, NULL, &own, p)) != APR_SUCCESS) {
            return rv;
        }
        items = own;
    }
    for (i = 0; i < items->nelts && taken < AT_EVENT_TAKE_MAX; ++i) {
        const char *item = APR_ARRAY_IDX(items, i, const char *);

        if (!at_event_is_item(item)) {
            continue;
        }
        ++taken;
        rv = at_store_load(store, AT_STORE_JOBS, NULL, item, &text, &len, AT_STORE_PUBLIC, p);
        if (rv == APR_SUCCESS) {
            rv = at_event_parse(&event, p, text, len);
        }
        /* removed whatever it held: a bad file must not be read again every tick */
        if (at_store_remove(store, AT_STORE_JOBS, NULL, item, p) != APR_SUCCESS) {
            continue; /* the store logged it; it is taken (and counted) again next time */
        }
        if (rv != APR_SUCCESS) {
            at_log(AT_LOG_WARN, rv,
                   AT_LOGNO(1401) "jobs/%s is not a valid event file; removed, nothing run", item);
            continue;
        }
        APR_ARRAY_PUSH(*events, at_event_t *) = event;
    }
    return APR_SUCCESS;
}
