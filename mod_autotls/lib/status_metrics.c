/* SPDX-License-Identifier: Apache-2.0 */
/*
 * status_metrics.c: the status snapshot as Prometheus metrics (text exposition format 0.0.4).
 *
 * The one idea: every family has its HELP and TYPE line once, before its samples, and every label
 * value is escaped (backslash, double quote, newline), so a site name can never break a scrape.
 * Metric names are the contract (README lists them); change none without saying so there.
 */
#include <apr_strings.h>

#include "at_status.h"

#define METRICS_BUF_INITIAL 4096

typedef struct {
    apr_pool_t *p;
    apr_array_header_t *out; /* const char * pieces, joined at the end */
} metrics_t;

static void metrics_put(metrics_t *m, const char *text)
{
    APR_ARRAY_PUSH(m->out, const char *) = text;
}

static void metrics_family(metrics_t *m, const char *name, const char *type, const char *help)
{
    metrics_put(m, apr_psprintf(m->p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type));
}

/* A label value with \, " and newline escaped as the exposition format requires. */
static const char *metrics_escape(apr_pool_t *p, const char *value)
{
    apr_size_t n = 0;
    const char *c;
    char *out, *o;

    for (c = value; *c != '\0'; ++c) {
        n += (*c == '\\' || *c == '"' || *c == '\n') ? 2 : 1;
    }
    o = out = apr_palloc(p, n + 1);
    for (c = value; *c != '\0'; ++c) {
        if (*c == '\\' || *c == '"' || *c == '\n') {
            *o++ = '\\';
            *o++ = *c == '\n' ? 'n' : *c;
        } else {
            *o++ = *c;
        }
    }
    *o = '\0';
    return out;
}

static void metrics_sample(metrics_t *m, const char *name, const char *label, const char *value,
                           apr_int64_t number)
{
    metrics_put(m, apr_psprintf(m->p, "%s{%s=\"%s\"} %" APR_INT64_T_FMT "\n", name, label,
                                metrics_escape(m->p, value), number));
}

static const at_status_site_t *metrics_site(const at_status_t *status, int i)
{
    return APR_ARRAY_IDX(status->sites, i, const at_status_site_t *);
}

/* A site's value of one family; 0 when the site has no sample in it. */
typedef int metrics_value_fn(const at_status_site_t *s, apr_time_t now, apr_int64_t *value);

static int metrics_expiry(const at_status_site_t *s, apr_time_t now, apr_int64_t *value)
{
    *value = apr_time_sec(s->not_after);
    return s->has_cert;
}

static int metrics_valid(const at_status_site_t *s, apr_time_t now, apr_int64_t *value)
{
    *value = s->has_cert && now >= s->not_before && now < s->not_after;
    return 1;
}

static int metrics_next(const at_status_site_t *s, apr_time_t now, apr_int64_t *value)
{
    *value = apr_time_sec(s->next_renewal);
    return s->next_renewal != 0;
}

static int metrics_failures(const at_status_site_t *s, apr_time_t now, apr_int64_t *value)
{
    *value = s->failures;
    return 1;
}

static const struct {
    const char *name;
    const char *help;
    metrics_value_fn *value;
} metrics_site_families[] = {
    {"autotls_certificate_expiry_timestamp_seconds",
     "notAfter of the CA-issued certificate a site serves, in seconds since the epoch.",
     metrics_expiry},
    {"autotls_certificate_valid", "1 when a site serves a CA-issued certificate valid now, else 0.",
     metrics_valid},
    {"autotls_next_renewal_timestamp_seconds",
     "When the next order for a site is due, in seconds since the epoch.", metrics_next},
    {"autotls_renewal_failures", "Consecutive failed orders of a site (0 after a success).",
     metrics_failures},
};

/* Every per-site family: a gauge with a `site` label. */
static void metrics_sites(metrics_t *m, const at_status_t *status, apr_time_t now)
{
    apr_int64_t value;
    size_t f;
    int i;

    for (f = 0; f < sizeof(metrics_site_families) / sizeof(metrics_site_families[0]); ++f) {
        metrics_family(m, metrics_site_families[f].name, "gauge", metrics_site_families[f].help);
        for (i = 0; i < status->sites->nelts; ++i) {
            const at_status_site_t *s = metrics_site(status, i);

            if (metrics_site_families[f].value(s, now, &value)) {
                metrics_sample(m, metrics_site_families[f].name, "site", s->site, value);
            }
        }
    }
}

static void metrics_server(metrics_t *m, const at_status_t *status, apr_time_t now)
{
    apr_int64_t by_state[AT_STATUS_STATE_COUNT] = {0};
    int i;

    metrics_family(m, "autotls_orders_total", "counter",
                   "Orders the renewal process finished, by result, since it started.");
    for (i = 0; i < AT_STATUS_ORDER_RESULT_COUNT; ++i) {
        metrics_sample(m, "autotls_orders_total", "result",
                       at_status_order_name((at_status_order_e)i),
                       (apr_int64_t)status->orders_total[i]);
    }
    metrics_family(m, "autotls_ca_requests_total", "counter",
                   "Requests the renewal process sent to the CA since it started.");
    metrics_put(m, apr_psprintf(m->p, "autotls_ca_requests_total %" APR_UINT64_T_FMT "\n",
                                status->ca_requests_total));
    for (i = 0; i < status->sites->nelts; ++i) {
        ++by_state[at_status_state_at(metrics_site(status, i), now)];
    }
    metrics_family(m, "autotls_sites", "gauge", "Sites by state.");
    for (i = 0; i < AT_STATUS_STATE_COUNT; ++i) {
        metrics_sample(m, "autotls_sites", "state", at_status_state_name((at_status_state_e)i),
                       by_state[i]);
    }
    metrics_family(m, "autotls_orders_in_flight", "gauge", "Orders running now.");
    metrics_put(m, apr_psprintf(m->p, "autotls_orders_in_flight %d\n", status->orders_in_flight));
    metrics_family(m, "autotls_status_timestamp_seconds", "gauge",
                   "When the renewal process wrote the status snapshot, in seconds since the "
                   "epoch.");
    metrics_put(m, apr_psprintf(m->p, "autotls_status_timestamp_seconds %" APR_INT64_T_FMT "\n",
                                (apr_int64_t)apr_time_sec(status->generated)));
}

/* A fleet's view of this node: which nodes are alive, who holds which lease (none without one). */
static void metrics_fleet(metrics_t *m, const at_status_t *status, apr_time_t now)
{
    apr_array_header_t *leases;
    int i;

    if (status->fleet == NULL) {
        return;
    }
    metrics_family(m, "autotls_fleet_node_live", "gauge",
                   "1 for each node of the fleet whose heartbeat this node saw alive.");
    for (i = 0; i < status->fleet->nodes_live->nelts; ++i) {
        metrics_sample(m, "autotls_fleet_node_live", "node",
                       APR_ARRAY_IDX(status->fleet->nodes_live, i, const char *), 1);
    }
    metrics_family(m, "autotls_fleet_lease", "gauge",
                   "1 for each site whose lease (an order running) a node holds, as this node "
                   "knows it.");
    leases = at_status_leases_at(status->fleet, now, m->p);
    for (i = 0; i < leases->nelts; ++i) {
        const at_status_lease_t *l = APR_ARRAY_IDX(leases, i, at_status_lease_t *);

        metrics_put(m, apr_psprintf(m->p, "autotls_fleet_lease{site=\"%s\",node=\"%s\"} 1\n",
                                    metrics_escape(m->p, l->site), metrics_escape(m->p, l->node)));
    }
}

const char *at_status_metrics(const at_status_t *status, apr_time_t now, apr_pool_t *p)
{
    metrics_t m = {p, apr_array_make(p, METRICS_BUF_INITIAL, sizeof(const char *))};

    metrics_sites(&m, status, now);
    metrics_server(&m, status, now);
    metrics_fleet(&m, status, now);
    return apr_array_pstrcat(p, m.out, 0);
}
