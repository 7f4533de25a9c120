/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_status.h: what an operator is told about every site: its state, its certificate, its next
 * renewal and why, its last error; and the snapshot that carries it from the renewal process to
 * the status page, the metrics, server-status and `autotls status`.
 *
 * The one idea: the renewal process (the ACME account) is the only one that knows the schedule,
 * and the children (User) may read no job state; so it publishes one snapshot, status/<item>,
 * readable by everyone, holding nothing secret (no key, no account key, no token). Readers never
 * contact the CA. The snapshot is written whole (store rules: temp file + rename), so a reader
 * sees the old or the new one; the reader here is strict: what does not parse, or is not what the
 * writer writes, is refused with one clear error, never half-used.
 *
 * States (at_status_state_e), as the issue names them:
 *   valid     a CA-issued certificate is served and nothing has failed since
 *   pending   no certificate from the CA yet (the placeholder is served, HTTPS answers 503)
 *   renewing  a certificate is served and an order for its successor runs or waits for the
 *             activator
 *   failing   the last order (or the account) failed; the site retries on its backoff
 *   expired   the served certificate's notAfter has passed
 *   orphaned  the store holds a certificate or job state for a site no longer configured
 */
#ifndef AT_STATUS_H
#define AT_STATUS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <jansson.h>

/* The snapshot's group item (status/<item>) and the format its "format" member names. */
#define AT_STATUS_ITEM "snapshot.json"
#define AT_STATUS_FORMAT 1
/* The snapshot's own size cap: about 500 bytes a site, 5 MB at 10,000 sites; every other store
 * item keeps AT_STORE_MAX_ITEM (at_store_item_max). */
#define AT_STATUS_MAX_ITEM (64 * 1024 * 1024)

/* `autotls status` (monitoring-plugin convention) warns about a site pending this long, and
 * calls one without a certificate this long critical. */
#define AT_STATUS_PENDING_WARN apr_time_from_sec(3600)
#define AT_STATUS_PENDING_CRIT apr_time_from_sec(24 * 3600)

typedef enum {
    AT_STATUS_VALID = 0,
    AT_STATUS_PENDING,
    AT_STATUS_RENEWING,
    AT_STATUS_FAILING,
    AT_STATUS_EXPIRED,
    AT_STATUS_ORPHANED,
    AT_STATUS_STATE_COUNT
} at_status_state_e;

/* Why the next renewal is when it is. */
typedef enum {
    AT_STATUS_NEXT_NONE = 0, /* nothing scheduled (no certificate and nothing failed: now) */
    AT_STATUS_NEXT_ARI,      /* the moment picked in the CA's renewal window */
    AT_STATUS_NEXT_LIFETIME, /* the share of the lifetime (or AutoTLSRenewWindow) */
    AT_STATUS_NEXT_BACKOFF,  /* a failure's backoff, or the CA's Retry-After */
    AT_STATUS_NEXT_WINDOW,   /* the configured AutoTLSRenewWindow */
    AT_STATUS_NEXT_REASON_COUNT
} at_status_next_e;

/* Results an order is counted under (autotls_orders_total{result}). */
typedef enum {
    AT_STATUS_ORDER_ISSUED = 0, /* every name */
    AT_STATUS_ORDER_PARTIAL,    /* some names left out */
    AT_STATUS_ORDER_FAILED,
    AT_STATUS_ORDER_RATE_LIMITED, /* the CA's 429 */
    AT_STATUS_ORDER_RESULT_COUNT
} at_status_order_e;

typedef struct {
    const char *type;   /* the CA's problem type (full URN), or "" when the failure was ours */
    const char *detail; /* the text of the failure */
    apr_time_t at;      /* when; 0: no error recorded */
} at_status_error_t;

/* One site. Strings are never NULL after at_status_site_init or a read ("" when unknown). */
typedef struct {
    const char *site;
    apr_array_header_t *names; /* const char *: the configured names */
    at_status_state_e state;
    int has_cert;       /* a CA-issued certificate is served */
    const char *serial; /* upper-case hex */
    const char *issuer; /* the issuer's CN */
    apr_time_t not_before, not_after;
    apr_time_t next_renewal; /* 0: none known */
    at_status_next_e next_reason;
    int failures; /* consecutive */
    at_status_error_t last_error;
    apr_array_header_t *missing; /* const char *: names a partial certificate left out */
    apr_time_t pending_since;    /* without a certificate since; 0 when it has one */
    const char *ca;              /* the CA (directory URL) its next order goes to (AutoTLSCA) */
} at_status_site_t;

/* A site's lease in a fleet, as this node knows it: held by this node's order, or found held
 * by another node when this one wanted to order. */
typedef struct {
    const char *site;
    const char *node; /* the holder's node id */
    apr_time_t until; /* when it expires unless its holder renews it */
} at_status_lease_t;

/* A node's view of its fleet (issue 13 item 8); absent without a Redis store. */
typedef struct {
    const char *node;               /* this node's id */
    apr_array_header_t *nodes_live; /* const char *: the ids whose heartbeat is alive, sorted */
    apr_array_header_t *leases;     /* at_status_lease_t *, by site */
} at_status_fleet_t;

/* The server part. */
typedef struct {
    const char *version; /* the module's (AT_VERSION) */
    const char *ca;      /* the ACME directory URL (the first CA of the list) */
    const char *account; /* the account URL, "" before it is known */
    apr_time_t generated;
    int orders_in_flight;
    apr_uint64_t orders_total[AT_STATUS_ORDER_RESULT_COUNT];
    apr_uint64_t ca_requests_total;
    at_status_fleet_t *fleet;  /* NULL: not part of a fleet (the "fleet" member is null) */
    apr_array_header_t *sites; /* at_status_site_t * */
} at_status_t;

/* A new, empty fleet part for node (status->fleet). */
at_status_fleet_t *at_status_fleet_make(at_status_t *status, const char *node, apr_pool_t *p);

/* The leases of fleet still held at now (until in the future); a reader shows only these. */
apr_array_header_t *at_status_leases_at(const at_status_fleet_t *fleet, apr_time_t now,
                                        apr_pool_t *p);

/* "valid", "pending", ...; NULL out of range. */
const char *at_status_state_name(at_status_state_e state);
/* "none", "ari", "lifetime", "backoff", "window". */
const char *at_status_next_name(at_status_next_e reason);
/* "issued", "partial", "failed", "rate_limited". */
const char *at_status_order_name(at_status_order_e result);

at_status_t *at_status_make(apr_pool_t *p);
/* A new site record with every string "" and empty lists, appended to status->sites. */
at_status_site_t *at_status_site_add(at_status_t *status, const char *site, apr_pool_t *p);

/* The state of a site from its facts (the one rule every writer applies): orphaned as told;
 * expired once a served certificate is past notAfter; failing after a failure; renewing while an
 * order for a served certificate runs; pending without a certificate; else valid. */
at_status_state_e at_status_derive(const at_status_site_t *site, int orphaned, int ordering,
                                   apr_time_t now);

/* The state a reader reports at now: as written, except that a certificate whose notAfter has
 * passed since the snapshot was written is expired. */
at_status_state_e at_status_state_at(const at_status_site_t *site, apr_time_t now);

/* Monitoring-plugin levels. */
#define AT_STATUS_CHECK_OK 0
#define AT_STATUS_CHECK_WARNING 1
#define AT_STATUS_CHECK_CRITICAL 2
#define AT_STATUS_CHECK_UNKNOWN 3

/* The level of one site at now (0 ok, 1 warning, 2 critical) and why ("" when ok): critical when
 * expired or without a certificate for AT_STATUS_PENDING_CRIT; warning when failing, pending for
 * AT_STATUS_PENDING_WARN, expiring inside the warn window (at_renew_warn_time) or orphaned. */
int at_status_site_check(const at_status_site_t *site, apr_time_t now, const char **why,
                         apr_pool_t *p);

/* The snapshot as JSON (a new reference). now 0: every state as recorded; else as a reader
 * reports it at now (at_status_state_at). */
json_t *at_status_to_json(const at_status_t *status, apr_time_t now, apr_pool_t *p);

/* The snapshot text (compact: 10,000 sites stay about 5 MB) built from pieces, for a writer that
 * keeps each site's text until the site changes:
 * one site's JSON text (malloc'ed), and the whole snapshot from the server part of status (its
 * sites are ignored) and count site texts (malloc'ed; *len its length). NULL when out of memory
 * or a text jansson refuses. */
char *at_status_site_dumps(const at_status_site_t *site, apr_pool_t *p);
char *at_status_join(const at_status_t *status, const char *const *site_texts, int count,
                     apr_size_t *len, apr_pool_t *p);

/* The Prometheus text exposition (format 0.0.4) of the snapshot at now (status_metrics.c). */
const char *at_status_metrics(const at_status_t *status, apr_time_t now, apr_pool_t *p);

/* Parses a snapshot; AT_EPROTO, with one log line saying what is wrong (where), for anything
 * that is not JSON, not of AT_STATUS_FORMAT, or has a member of the wrong type or value. */
apr_status_t at_status_parse(at_status_t **status, const char *text, apr_size_t len, apr_pool_t *p);

/* "2024-05-01T12:00:00Z"; "" for 0. */
const char *at_status_time_text(apr_pool_t *p, apr_time_t t);

#endif
