/* SPDX-License-Identifier: Apache-2.0 */
/*
 * status.c: the state model of a site and the status snapshot's JSON (see at_status.h).
 *
 * The one idea: the rules (which state, which monitoring level) live here once, and the
 * snapshot's reader takes exactly what the writer writes: a member missing or of another type is
 * an error naming it, so a damaged or planted file shows as "unreadable", never as a wrong page.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "at_core.h"
#include "at_renew.h"
#include "at_status.h"

#define STATUS_LIST_INITIAL 4
/* Bounds a reader holds a snapshot to: far beyond any real server, short of a memory attack. */
#define STATUS_SITES_MAX 1000000
#define STATUS_NAMES_MAX 1000

static const char *const status_state_names[AT_STATUS_STATE_COUNT] = {
    "valid", "pending", "renewing", "failing", "expired", "orphaned",
};

static const char *const status_next_names[AT_STATUS_NEXT_REASON_COUNT] = {
    "none", "ari", "lifetime", "backoff", "window",
};

static const char *const status_order_names[AT_STATUS_ORDER_RESULT_COUNT] = {
    "issued",
    "partial",
    "failed",
    "rate_limited",
};

const char *at_status_state_name(at_status_state_e state)
{
    return (int)state >= 0 && state < AT_STATUS_STATE_COUNT ? status_state_names[state] : NULL;
}

/* The index of name in names[count], or -1. */
static int status_lookup(const char *const *names, int count, const char *name)
{
    int i;

    for (i = 0; name != NULL && i < count; ++i) {
        if (strcmp(names[i], name) == 0) {
            return i;
        }
    }
    return -1;
}

const char *at_status_next_name(at_status_next_e reason)
{
    return (int)reason >= 0 && reason < AT_STATUS_NEXT_REASON_COUNT ? status_next_names[reason]
                                                                    : NULL;
}

const char *at_status_order_name(at_status_order_e result)
{
    return (int)result >= 0 && result < AT_STATUS_ORDER_RESULT_COUNT ? status_order_names[result]
                                                                     : NULL;
}

const char *at_status_time_text(apr_pool_t *p, apr_time_t t)
{
    return t == 0 ? "" : at_rfc3339_format(p, t);
}

at_status_t *at_status_make(apr_pool_t *p)
{
    at_status_t *status = apr_pcalloc(p, sizeof(*status));

    status->version = AT_VERSION;
    status->ca = "";
    status->account = "";
    status->sites = apr_array_make(p, STATUS_LIST_INITIAL, sizeof(at_status_site_t *));
    return status;
}

at_status_fleet_t *at_status_fleet_make(at_status_t *status, const char *node, apr_pool_t *p)
{
    at_status_fleet_t *fleet = apr_pcalloc(p, sizeof(*fleet));

    fleet->node = node;
    fleet->nodes_live = apr_array_make(p, STATUS_LIST_INITIAL, sizeof(const char *));
    fleet->leases = apr_array_make(p, STATUS_LIST_INITIAL, sizeof(at_status_lease_t *));
    status->fleet = fleet;
    return fleet;
}

apr_array_header_t *at_status_leases_at(const at_status_fleet_t *fleet, apr_time_t now,
                                        apr_pool_t *p)
{
    apr_array_header_t *out = apr_array_make(p, STATUS_LIST_INITIAL, sizeof(at_status_lease_t *));
    int i;

    for (i = 0; fleet != NULL && i < fleet->leases->nelts; ++i) {
        at_status_lease_t *lease = APR_ARRAY_IDX(fleet->leases, i, at_status_lease_t *);

        if (lease->until > now) {
            APR_ARRAY_PUSH(out, at_status_lease_t *) = lease;
        }
    }
    return out;
}

at_status_site_t *at_status_site_add(at_status_t *status, const char *site, apr_pool_t *p)
{
    at_status_site_t *s = apr_pcalloc(p, sizeof(*s));

    s->site = site;
    s->names = apr_array_make(p, STATUS_LIST_INITIAL, sizeof(const char *));
    s->missing = apr_array_make(p, 0, sizeof(const char *));
    s->serial = s->issuer = s->ca = "";
    s->last_error.type = s->last_error.detail = "";
    APR_ARRAY_PUSH(status->sites, at_status_site_t *) = s;
    return s;
}

/* ---- the rules ------------------------------------------------------------------------------ */

at_status_state_e at_status_derive(const at_status_site_t *site, int orphaned, int ordering,
                                   apr_time_t now)
{
    if (orphaned) {
        return AT_STATUS_ORPHANED;
    }
    if (site->has_cert && now >= site->not_after) {
        return AT_STATUS_EXPIRED;
    }
    if (site->failures > 0) {
        return AT_STATUS_FAILING;
    }
    if (!site->has_cert) {
        return AT_STATUS_PENDING;
    }
    return ordering ? AT_STATUS_RENEWING : AT_STATUS_VALID;
}

at_status_state_e at_status_state_at(const at_status_site_t *site, apr_time_t now)
{
    if (site->state != AT_STATUS_ORPHANED && site->has_cert && now >= site->not_after) {
        return AT_STATUS_EXPIRED;
    }
    return site->state;
}

int at_status_site_check(const at_status_site_t *site, apr_time_t now, const char **why,
                         apr_pool_t *p)
{
    at_status_state_e state = at_status_state_at(site, now);
    apr_time_t since = site->pending_since;

    *why = "";
    if (state == AT_STATUS_EXPIRED) {
        *why = apr_psprintf(p, "expired at %s", at_status_time_text(p, site->not_after));
        return AT_STATUS_CHECK_CRITICAL;
    }
    if (!site->has_cert && state != AT_STATUS_ORPHANED && since > 0 &&
        now - since >= AT_STATUS_PENDING_CRIT) {
        *why = apr_psprintf(p, "no certificate since %s", at_status_time_text(p, since));
        return AT_STATUS_CHECK_CRITICAL;
    }
    if (state == AT_STATUS_FAILING) {
        *why = apr_psprintf(p, "failing (%d failure(s))", site->failures);
        return AT_STATUS_CHECK_WARNING;
    }
    if (state == AT_STATUS_PENDING && since > 0 && now - since >= AT_STATUS_PENDING_WARN) {
        *why = apr_psprintf(p, "pending since %s", at_status_time_text(p, since));
        return AT_STATUS_CHECK_WARNING;
    }
    if (site->has_cert && now >= at_renew_warn_time(site->not_before, site->not_after)) {
        *why = apr_psprintf(p, "expires at %s", at_status_time_text(p, site->not_after));
        return AT_STATUS_CHECK_WARNING;
    }
    if (state == AT_STATUS_ORPHANED) {
        *why = "no longer configured";
        return AT_STATUS_CHECK_WARNING;
    }
    return AT_STATUS_CHECK_OK;
}

/* ---- writing -------------------------------------------------------------------------------- */

static json_t *status_time_json(apr_pool_t *p, apr_time_t t)
{
    return t != 0 ? json_string(at_status_time_text(p, t)) : json_null();
}

static json_t *status_names_json(const apr_array_header_t *names)
{
    json_t *out = json_array();
    int i;

    for (i = 0; names != NULL && i < names->nelts; ++i) {
        json_array_append_new(out, json_string(APR_ARRAY_IDX(names, i, const char *)));
    }
    return out;
}

static json_t *status_site_json(const at_status_site_t *s, at_status_state_e state, apr_pool_t *p)
{
    json_t *error = json_null(), *json;

    if (s->last_error.at != 0) {
        error = json_pack("{s:s, s:s, s:o}", "type", s->last_error.type, "detail",
                          s->last_error.detail, "time", status_time_json(p, s->last_error.at));
    }
    json = json_pack("{s:s, s:o, s:s, s:b, s:s, s:s, s:o, s:o, s:o, s:s, s:i, s:o, s:o, s:o}",
                     "site", s->site, "names", status_names_json(s->names), "state",
                     at_status_state_name(state), "has_cert", s->has_cert, "serial", s->serial,
                     "issuer", s->issuer, "not_before", status_time_json(p, s->not_before),
                     "not_after", status_time_json(p, s->not_after), "next_renewal",
                     status_time_json(p, s->next_renewal), "next_renewal_reason",
                     at_status_next_name(s->next_reason), "failures", s->failures, "last_error",
                     error, "missing", status_names_json(s->missing), "pending_since",
                     status_time_json(p, s->pending_since));
    if (json != NULL) {
        json_object_set_new(json, "ca", json_string(s->ca));
    }
    return json;
}

/* The fleet part: null without a fleet; now 0: every lease as recorded, else those held at now. */
static json_t *status_fleet_json(const at_status_fleet_t *fleet, apr_time_t now, apr_pool_t *p)
{
    const apr_array_header_t *held;
    json_t *leases;
    int i;

    if (fleet == NULL) {
        return json_null();
    }
    held = now != 0 ? at_status_leases_at(fleet, now, p) : fleet->leases;
    leases = json_array();
    for (i = 0; i < held->nelts; ++i) {
        const at_status_lease_t *l = APR_ARRAY_IDX(held, i, at_status_lease_t *);

        json_array_append_new(leases, json_pack("{s:s, s:s, s:o}", "site", l->site, "node", l->node,
                                                "until", status_time_json(p, l->until)));
    }
    return json_pack("{s:s, s:o, s:o}", "node", fleet->node, "nodes_live",
                     status_names_json(fleet->nodes_live), "leases", leases);
}

/* The server part, with sites as given. */
static json_t *status_server_json(const at_status_t *status, json_t *sites, apr_time_t now,
                                  apr_pool_t *p)
{
    json_t *orders = json_object();
    int i;

    for (i = 0; i < AT_STATUS_ORDER_RESULT_COUNT; ++i) {
        json_object_set_new(orders, status_order_names[i],
                            json_integer((json_int_t)status->orders_total[i]));
    }
    return json_pack("{s:i, s:s, s:o, s:s, s:s, s:i, s:{s:o, s:I}, s:o, s:o}", "format",
                     AT_STATUS_FORMAT, "version", status->version, "generated",
                     status_time_json(p, status->generated), "ca", status->ca, "account",
                     status->account, "orders_in_flight", status->orders_in_flight, "counters",
                     "orders_total", orders, "ca_requests_total",
                     (json_int_t)status->ca_requests_total, "fleet",
                     status_fleet_json(status->fleet, now, p), "sites", sites);
}

json_t *at_status_to_json(const at_status_t *status, apr_time_t now, apr_pool_t *p)
{
    json_t *sites = json_array();
    int i;

    for (i = 0; i < status->sites->nelts; ++i) {
        const at_status_site_t *s = APR_ARRAY_IDX(status->sites, i, at_status_site_t *);
        json_t *site = status_site_json(s, now != 0 ? at_status_state_at(s, now) : s->state, p);

        if (site == NULL) { /* a text jansson refuses (not UTF-8): the site still shows */
            site = json_pack("{s:s}", "site", "?");
        }
        json_array_append_new(sites, site);
    }
    return status_server_json(status, sites, now, p);
}

char *at_status_site_dumps(const at_status_site_t *site, apr_pool_t *p)
{
    json_t *json = status_site_json(site, site->state, p);
    char *text = json != NULL ? json_dumps(json, JSON_COMPACT) : NULL;

    json_decref(json);
    return text;
}

/* The server part's text ends in "[]}" (jansson keeps the members in the order packed: "sites"
 * last); the site texts go between the brackets. */
#define STATUS_EMPTY_SITES_TAIL "[]}"

char *at_status_join(const at_status_t *status, const char *const *site_texts, int count,
                     apr_size_t *len, apr_pool_t *p)
{
    json_t *json = status_server_json(status, json_array(), 0, p);
    char *head = json != NULL ? json_dumps(json, JSON_COMPACT) : NULL, *out, *at;
    apr_size_t head_len, total, tail = strlen(STATUS_EMPTY_SITES_TAIL);
    int i;

    json_decref(json);
    if (head == NULL || (head_len = strlen(head)) < tail ||
        strcmp(head + head_len - tail, STATUS_EMPTY_SITES_TAIL) != 0) {
        free(head);
        return NULL;
    }
    head_len -= tail;
    total = head_len + tail + 1;
    for (i = 0; i < count; ++i) {
        total += strlen(site_texts[i]) + 1;
    }
    if ((out = malloc(total)) == NULL) {
        free(head);
        return NULL;
    }
    memcpy(out, head, head_len);
    at = out + head_len;
    *at++ = '[';
    for (i = 0; i < count; ++i) {
        apr_size_t n = strlen(site_texts[i]);

        if (i > 0) {
            *at++ = ',';
        }
        memcpy(at, site_texts[i], n);
        at += n;
    }
    memcpy(at, "]}", sizeof("]}"));
    *len = (apr_size_t)(at - out) + strlen("]}");
    free(head);
    return out;
}

/* ---- reading -------------------------------------------------------------------------------- */

typedef struct {
    apr_pool_t *p;
    const char *where; /* the member being read, for the error line */
} status_reader_t;

static apr_status_t status_bad(status_reader_t *r, const char *what)
{
    at_log(AT_LOG_ERR, AT_EPROTO, AT_LOGNO(1403) "status snapshot: %s %s", r->where, what);
    return AT_EPROTO;
}

static apr_status_t status_get(status_reader_t *r, const json_t *obj, const char *key,
                               json_type type, const json_t **value)
{
    *value = json_object_get(obj, key);
    r->where = key;
    if (*value == NULL) {
        return status_bad(r, "is missing");
    }
    if (json_typeof(*value) != type && !(type == JSON_TRUE && json_typeof(*value) == JSON_FALSE)) {
        return status_bad(r, "has the wrong type");
    }
    return APR_SUCCESS;
}

static apr_status_t status_get_string(status_reader_t *r, const json_t *obj, const char *key,
                                      const char **out)
{
    const json_t *v;
    apr_status_t rv = status_get(r, obj, key, JSON_STRING, &v);

    if (rv == APR_SUCCESS) {
        *out = apr_pstrdup(r->p, json_string_value(v));
    }
    return rv;
}

static apr_status_t status_get_count(status_reader_t *r, const json_t *obj, const char *key,
                                     apr_uint64_t *out)
{
    const json_t *v;
    apr_status_t rv = status_get(r, obj, key, JSON_INTEGER, &v);

    if (rv == APR_SUCCESS && json_integer_value(v) < 0) {
        return status_bad(r, "is negative");
    }
    if (rv == APR_SUCCESS) {
        *out = (apr_uint64_t)json_integer_value(v);
    }
    return rv;
}

static apr_status_t status_get_int(status_reader_t *r, const json_t *obj, const char *key, int *out)
{
    apr_uint64_t n = 0;
    apr_status_t rv = status_get_count(r, obj, key, &n);

    if (rv == APR_SUCCESS && n > (apr_uint64_t)APR_INT32_MAX) {
        return status_bad(r, "is out of range");
    }
    *out = (int)n;
    return rv;
}

/* A time member: an RFC 3339 string, or null for none. */
static apr_status_t status_get_time(status_reader_t *r, const json_t *obj, const char *key,
                                    apr_time_t *out)
{
    const json_t *v = json_object_get(obj, key);

    r->where = key;
    *out = 0;
    if (json_is_null(v)) {
        return APR_SUCCESS;
    }
    if (!json_is_string(v)) {
        return status_bad(r, v == NULL ? "is missing" : "has the wrong type");
    }
    if (at_rfc3339_parse(out, json_string_value(v)) != APR_SUCCESS) {
        return status_bad(r, "is not an RFC 3339 time");
    }
    return APR_SUCCESS;
}

static apr_status_t status_get_names(status_reader_t *r, const json_t *obj, const char *key,
                                     apr_array_header_t *out)
{
    const json_t *list, *name;
    apr_status_t rv;
    size_t i;

    if ((rv = status_get(r, obj, key, JSON_ARRAY, &list)) != APR_SUCCESS) {
        return rv;
    }
    if (json_array_size(list) > STATUS_NAMES_MAX) {
        return status_bad(r, "has too many names");
    }
    json_array_foreach(list, i, name)
    {
        if (!json_is_string(name)) {
            return status_bad(r, "holds something that is no name");
        }
        APR_ARRAY_PUSH(out, const char *) = apr_pstrdup(r->p, json_string_value(name));
    }
    return APR_SUCCESS;
}

static apr_status_t status_get_enum(status_reader_t *r, const json_t *obj, const char *key,
                                    const char *const *names, int count, int *out)
{
    const char *text;
    apr_status_t rv = status_get_string(r, obj, key, &text);

    if (rv == APR_SUCCESS && (*out = status_lookup(names, count, text)) < 0) {
        return status_bad(r, "names no known value");
    }
    return rv;
}

static apr_status_t status_read_error(status_reader_t *r, const json_t *site, at_status_site_t *s)
{
    const json_t *error = json_object_get(site, "last_error");
    apr_status_t rv;

    r->where = "last_error";
    if (json_is_null(error)) {
        return APR_SUCCESS;
    }
    if (!json_is_object(error)) {
        return status_bad(r, error == NULL ? "is missing" : "has the wrong type");
    }
    if ((rv = status_get_string(r, error, "type", &s->last_error.type)) != APR_SUCCESS ||
        (rv = status_get_string(r, error, "detail", &s->last_error.detail)) != APR_SUCCESS) {
        return rv;
    }
    return status_get_time(r, error, "time", &s->last_error.at);
}

static apr_status_t status_read_site(status_reader_t *r, at_status_t *status, const json_t *site)
{
    const json_t *has_cert;
    at_status_site_t *s;
    const char *name;
    int state, reason;
    apr_status_t rv;

    r->where = "sites[]";
    if (!json_is_object(site)) {
        return status_bad(r, "holds something that is no object");
    }
    if ((rv = status_get_string(r, site, "site", &name)) != APR_SUCCESS) {
        return rv;
    }
    s = at_status_site_add(status, name, r->p);
    if ((rv = status_get_names(r, site, "names", s->names)) != APR_SUCCESS ||
        (rv = status_get_enum(r, site, "state", status_state_names, AT_STATUS_STATE_COUNT,
                              &state)) != APR_SUCCESS ||
        (rv = status_get(r, site, "has_cert", JSON_TRUE, &has_cert)) != APR_SUCCESS ||
        (rv = status_get_string(r, site, "serial", &s->serial)) != APR_SUCCESS ||
        (rv = status_get_string(r, site, "issuer", &s->issuer)) != APR_SUCCESS ||
        (rv = status_get_time(r, site, "not_before", &s->not_before)) != APR_SUCCESS ||
        (rv = status_get_time(r, site, "not_after", &s->not_after)) != APR_SUCCESS ||
        (rv = status_get_time(r, site, "next_renewal", &s->next_renewal)) != APR_SUCCESS ||
        (rv = status_get_enum(r, site, "next_renewal_reason", status_next_names,
                              AT_STATUS_NEXT_REASON_COUNT, &reason)) != APR_SUCCESS ||
        (rv = status_get_int(r, site, "failures", &s->failures)) != APR_SUCCESS ||
        (rv = status_read_error(r, site, s)) != APR_SUCCESS ||
        (rv = status_get_names(r, site, "missing", s->missing)) != APR_SUCCESS ||
        (rv = status_get_time(r, site, "pending_since", &s->pending_since)) != APR_SUCCESS) {
        return rv;
    }
    if (json_object_get(site, "ca") != NULL && /* absent in a snapshot before several CAs */
        (rv = status_get_string(r, site, "ca", &s->ca)) != APR_SUCCESS) {
        return rv;
    }
    s->state = (at_status_state_e)state;
    s->next_reason = (at_status_next_e)reason;
    s->has_cert = json_is_true(has_cert);
    return APR_SUCCESS;
}

static apr_status_t status_read_counters(status_reader_t *r, at_status_t *status,
                                         const json_t *json)
{
    const json_t *counters, *orders;
    apr_status_t rv;
    int i;

    if ((rv = status_get(r, json, "counters", JSON_OBJECT, &counters)) != APR_SUCCESS ||
        (rv = status_get(r, counters, "orders_total", JSON_OBJECT, &orders)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < AT_STATUS_ORDER_RESULT_COUNT; ++i) {
        if ((rv = status_get_count(r, orders, status_order_names[i], &status->orders_total[i])) !=
            APR_SUCCESS) {
            return rv;
        }
    }
    return status_get_count(r, counters, "ca_requests_total", &status->ca_requests_total);
}

static apr_status_t status_read_lease(status_reader_t *r, at_status_fleet_t *fleet,
                                      const json_t *json)
{
    at_status_lease_t *lease = apr_pcalloc(r->p, sizeof(*lease));
    apr_status_t rv;

    r->where = "fleet.leases[]";
    if (!json_is_object(json)) {
        return status_bad(r, "holds something that is no object");
    }
    if ((rv = status_get_string(r, json, "site", &lease->site)) != APR_SUCCESS ||
        (rv = status_get_string(r, json, "node", &lease->node)) != APR_SUCCESS ||
        (rv = status_get_time(r, json, "until", &lease->until)) != APR_SUCCESS) {
        return rv;
    }
    APR_ARRAY_PUSH(fleet->leases, at_status_lease_t *) = lease;
    return APR_SUCCESS;
}

/* The fleet part: absent (a snapshot of an older release) or null without a fleet. */
static apr_status_t status_read_fleet(status_reader_t *r, at_status_t *status, const json_t *json)
{
    const json_t *fleet = json_object_get(json, "fleet"), *leases, *lease;
    const char *node;
    apr_status_t rv;
    size_t i;

    if (fleet == NULL || json_is_null(fleet)) {
        return APR_SUCCESS;
    }
    r->where = "fleet";
    if (!json_is_object(fleet)) {
        return status_bad(r, "has the wrong type");
    }
    if ((rv = status_get_string(r, fleet, "node", &node)) != APR_SUCCESS) {
        return rv;
    }
    at_status_fleet_make(status, node, r->p);
    if ((rv = status_get_names(r, fleet, "nodes_live", status->fleet->nodes_live)) != APR_SUCCESS ||
        (rv = status_get(r, fleet, "leases", JSON_ARRAY, &leases)) != APR_SUCCESS) {
        return rv;
    }
    if (json_array_size(leases) > STATUS_SITES_MAX) {
        return status_bad(r, "holds too many leases");
    }
    json_array_foreach(leases, i, lease)
    {
        if ((rv = status_read_lease(r, status->fleet, lease)) != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

static apr_status_t status_read(status_reader_t *r, at_status_t *status, const json_t *json)
{
    const json_t *format, *sites, *site;
    apr_status_t rv;
    size_t i;

    r->where = "the document";
    if (!json_is_object(json)) {
        return status_bad(r, "is no JSON object");
    }
    if ((rv = status_get(r, json, "format", JSON_INTEGER, &format)) != APR_SUCCESS) {
        return rv;
    }
    if (json_integer_value(format) != AT_STATUS_FORMAT) {
        return status_bad(r, apr_psprintf(r->p, "is %" JSON_INTEGER_FORMAT ", not %d",
                                          json_integer_value(format), AT_STATUS_FORMAT));
    }
    if ((rv = status_get_string(r, json, "version", &status->version)) != APR_SUCCESS ||
        (rv = status_get_time(r, json, "generated", &status->generated)) != APR_SUCCESS ||
        (rv = status_get_string(r, json, "ca", &status->ca)) != APR_SUCCESS ||
        (rv = status_get_string(r, json, "account", &status->account)) != APR_SUCCESS ||
        (rv = status_get_int(r, json, "orders_in_flight", &status->orders_in_flight)) !=
            APR_SUCCESS ||
        (rv = status_read_counters(r, status, json)) != APR_SUCCESS ||
        (rv = status_read_fleet(r, status, json)) != APR_SUCCESS ||
        (rv = status_get(r, json, "sites", JSON_ARRAY, &sites)) != APR_SUCCESS) {
        return rv;
    }
    if (json_array_size(sites) > STATUS_SITES_MAX) {
        return status_bad(r, "holds too many sites");
    }
    json_array_foreach(sites, i, site)
    {
        if ((rv = status_read_site(r, status, site)) != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

apr_status_t at_status_parse(at_status_t **status, const char *text, apr_size_t len, apr_pool_t *p)
{
    status_reader_t reader = {p, ""};
    json_error_t err;
    json_t *json;
    apr_status_t rv;

    *status = NULL;
    json = text != NULL ? json_loadb(text, len, JSON_REJECT_DUPLICATES, &err) : NULL;
    if (json == NULL) {
        at_log(AT_LOG_ERR, AT_EPROTO,
               AT_LOGNO(1404) "status snapshot: not valid JSON: %s (line %d, column %d)",
               text != NULL ? err.text : "no text", text != NULL ? err.line : 0,
               text != NULL ? err.column : 0);
        return AT_EPROTO;
    }
    *status = at_status_make(p);
    rv = status_read(&reader, *status, json);
    json_decref(json);
    if (rv != APR_SUCCESS) {
        *status = NULL;
    }
    return rv;
}
