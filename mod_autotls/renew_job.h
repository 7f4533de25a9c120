/* SPDX-License-Identifier: Apache-2.0 */
/*
 * renew_job.h: the renewal schedule of one site, and its file jobs/<site>.json.
 *
 * The one idea: the schedule is state on disk, not in memory. Every decision the renewal thread
 * takes that must survive a restart (the backoff after failures, the CA's Retry-After, the ARI
 * window and the moment picked in it, the names still missing from a partial certificate with
 * their own backoff) is written here, and read back before the CA is contacted again. A restart
 * during a CA outage therefore neither resets the schedule nor hammers the CA.
 *
 * No httpd types: the unit tests drive this file directly.
 *
 *   {"failures": 1, "next_try": 1700000060, "last_error": "...", "retry_after": 0,
 *    "ari": {"cert_id": "aYhb...AQ.AIdl...", "start": 1700000000, "end": 1700086400,
 *            "chosen": 1700012345, "next_poll": 1700021600},
 *    "missing": [{"name": "www.example.org", "failures": 2, "next_try": 1700000600,
 *                 "last_error": "..."}]}
 * Times are seconds since the epoch; 0 means none.
 */
#ifndef AUTOTLS_RENEW_JOB_H
#define AUTOTLS_RENEW_JOB_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <jansson.h>

#include "at_store.h"

#define AUTOTLS_JOB_SUFFIX ".json"
/* An operator's request for a renewal now (`autotls renew NAME`): an empty jobs/<site>.renew. */
#define AUTOTLS_JOB_REQUEST_SUFFIX ".renew"
/* last_error texts are cut to this; certIDs longer than this are not used for ARI. */
#define AUTOTLS_JOB_ERROR_MAX 512
#define AUTOTLS_JOB_CERT_ID_MAX 192

/* The CA's renewal window for one certificate (RFC 9773). */
typedef struct {
    char cert_id[AUTOTLS_JOB_CERT_ID_MAX]; /* the certificate it is for; "" none */
    apr_time_t start;                      /* the window; end 0: not known (only next_poll) */
    apr_time_t end;
    apr_time_t chosen;    /* the moment picked inside it, kept until the window changes */
    apr_time_t next_poll; /* when to ask the CA again */
} autotls_job_ari_t;

typedef struct {
    int failures;           /* consecutive failed orders of the site */
    apr_time_t next_try;    /* no order before this (backoff or the CA's Retry-After) */
    apr_time_t retry_after; /* the CA asked us to stay away until this; 0: it did not */
    char last_error[AUTOTLS_JOB_ERROR_MAX];
    autotls_job_ari_t ari;
    json_t *missing; /* array of {name, failures, next_try, last_error}: names a partial
                      * certificate lacks, each retried on its own backoff */
} autotls_job_t;

/* An empty state (no failures, nothing missing); autotls_job_clear releases it. */
void autotls_job_init(autotls_job_t *job);
void autotls_job_clear(autotls_job_t *job);

/* Reads jobs/<item>; APR_ENOENT when there is none, AT_EPROTO (job left empty) when it does not
 * parse: a damaged file costs at most one early attempt, never a stuck site. */
apr_status_t autotls_job_load(autotls_job_t *job, at_store_t *store, const char *item,
                              apr_pool_t *p);
apr_status_t autotls_job_save(const autotls_job_t *job, at_store_t *store, const char *item,
                              apr_pool_t *p);

/* The item names of a site's job file and request file. */
const char *autotls_job_item(apr_pool_t *p, const char *site);
const char *autotls_job_request_item(apr_pool_t *p, const char *site);
/* The site a request item names ("<site>.renew"), or NULL when item is no request. */
const char *autotls_job_request_site(apr_pool_t *p, const char *item);

void autotls_job_set_error(autotls_job_t *job, const char *error);

/* After a failed order: one more failure, next_try = now + the backoff, or the CA's Retry-After
 * (0: none) when that is longer. Returns the delay chosen. */
apr_interval_time_t autotls_job_failed(autotls_job_t *job, apr_time_t now, apr_uint32_t random,
                                       apr_interval_time_t retry_after, const char *error);

/* After an order that succeeded, or when the operator asks for a retry now: no backoff left
 * (nor for the missing names when all is set). */
void autotls_job_reset(autotls_job_t *job, int all);

/* --- names missing from a partial certificate -------------------------------------------- */

int autotls_job_missing_count(const autotls_job_t *job);

/* Whether some missing name is due for a retry at now. */
int autotls_job_missing_due(const autotls_job_t *job, apr_time_t now);

/* The earliest retry of a missing name; 0 when nothing is missing. */
apr_time_t autotls_job_missing_next_try(const autotls_job_t *job);

/* "a, b" of the missing names ("" when none). */
const char *autotls_job_missing_names(const autotls_job_t *job, apr_pool_t *p);

/* Makes the missing list the site's names (const char *) that served (const char *) lacks:
 * names covered now are dropped, newly missing ones are added due at once (a name added to the
 * configuration, or a partial certificate whose job file was lost), the others keep their
 * backoff. Names compare without regard to case. Returns how many were added. */
int autotls_job_missing_reconcile(autotls_job_t *job, const apr_array_header_t *site_names,
                                  const apr_array_header_t *served);

/* After a partial certificate: failed (at_issue_failed_t) becomes the missing list, each name
 * one failure further along its own backoff, with its reason. */
void autotls_job_missing_from_result(autotls_job_t *job, const apr_array_header_t *failed,
                                     apr_time_t now, apr_uint32_t random);

/* After a retry of the missing names failed as a whole: every missing name one failure further
 * along its own backoff (or the CA's Retry-After, 0: none, when longer), with error as its
 * reason. Returns the earliest next try. */
apr_time_t autotls_job_missing_failed(autotls_job_t *job, apr_time_t now, apr_uint32_t random,
                                      apr_interval_time_t retry_after, const char *error);

void autotls_job_missing_clear(autotls_job_t *job);

/* --- texts for log lines ------------------------------------------------------------------- */

/* "2024-05-01T12:00:00Z" */
const char *autotls_job_time_text(apr_pool_t *p, apr_time_t t);
/* "3d 4h", "5h 7m", "12m 3s", "42s" (the magnitude; the caller says before or after) */
const char *autotls_job_duration_text(apr_pool_t *p, apr_interval_time_t d);

#endif
