/* SPDX-License-Identifier: Apache-2.0 */
/*
 * renew_job.h: the renewal schedule of one site, and its file jobs/<site>.json (its name and
 * the other items of jobs/: at_job.h).
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
 *                 "last_error": "..."}],
 *    "last_error_at": 1700000000, "last_error_type": "urn:ietf:params:acme:error:...",
 *    "pending_since": 1699990000, "config": "q1Xa...43 characters",
 *    "ca": "https://ca2.example/dir", "ca_failures": 1,
 *    "issued_ca": "https://ca2.example/dir", "issued_serial": "04F3..."}
 * (last_error_at, last_error_type and pending_since for the status snapshot: when the last error
 * came, the CA's problem type, and since when the site has had no certificate from the CA;
 * config is the fingerprint (at_fingerprint.h) of the configuration the schedule was decided
 * under (renew_fingerprint.h): a different one at load lifts the backoff. ca and ca_failures:
 * the CA of the AutoTLSCA list the site's orders go to now and the orders that failed there in a
 * row (at_ca_failover_failed; absent: the first CA); issued_ca and issued_serial: which CA issued
 * which certificate, so that ARI and `replaces` go to that CA only.)
 * Times are seconds since the epoch; 0 means none.
 */
#ifndef AUTOTLS_RENEW_JOB_H
#define AUTOTLS_RENEW_JOB_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <jansson.h>

#include "at_ca.h"
#include "at_orphan.h"
#include "at_store.h"

/* last_error texts are cut to this; certIDs longer than this are not used for ARI. */
#define AUTOTLS_JOB_ERROR_MAX 512
#define AUTOTLS_JOB_CERT_ID_MAX 192
#define AUTOTLS_JOB_CONFIG_MAX 64  /* an at_fingerprint text (43) fits */
#define AUTOTLS_JOB_URL_MAX 512    /* a CA's directory URL; a longer one reads as none */
#define AUTOTLS_JOB_SERIAL_MAX 130 /* a serial in hex: 20 bytes (RFC 5280) fit with room */

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
    apr_time_t last_error_at;                    /* when last_error was set; 0: none */
    char last_error_type[AUTOTLS_JOB_ERROR_MAX]; /* the CA's problem type, "" when not the CA */
    apr_time_t pending_since; /* without a CA-issued certificate since; 0 when it has one */
    autotls_job_ari_t ari;
    apr_time_t orphaned_since; /* read only: the activator's orphan mark (at_orphan.h); a save
                                * drops it */
    json_t *missing;           /* array of {name, failures, next_try, last_error}: names a partial
                                * certificate lacks, each retried on its own backoff */
    char config[AUTOTLS_JOB_CONFIG_MAX]; /* fingerprint of the configuration; "" unknown */
    /* several CAs (AutoTLSCA, at_ca.h) */
    char ca[AUTOTLS_JOB_URL_MAX];        /* the CA orders go to now; "": the first of the list */
    int ca_failures;                     /* failed orders in a row there */
    char issued_ca[AUTOTLS_JOB_URL_MAX]; /* the CA of the last certificate ordered, or "" */
    char issued_serial[AUTOTLS_JOB_SERIAL_MAX]; /* that certificate's serial (upper-case hex) */
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

void autotls_job_set_error(autotls_job_t *job, const char *error);

/* Records the CA's problem type (NULL or "": none) and the time of the error just set. */
void autotls_job_set_error_detail(autotls_job_t *job, const char *type, apr_time_t at);

/* Keeps pending_since: set to now when the site has no CA-issued certificate and it was not set;
 * cleared once it has one. Returns whether it changed (the job file is then saved). */
int autotls_job_pending(autotls_job_t *job, int ca_issued, apr_time_t now);

/* After a failed order: one more failure, next_try = now + the backoff, or the CA's Retry-After
 * (0: none) when that is longer. Returns the delay chosen. */
apr_interval_time_t autotls_job_failed(autotls_job_t *job, apr_time_t now, apr_uint32_t random,
                                       apr_interval_time_t retry_after, const char *error);

/* After an order that succeeded, or when the operator asks for a retry now: no backoff left
 * (nor for the missing names when all is set). */
void autotls_job_reset(autotls_job_t *job, int all);

/* The configuration this schedule is decided under is now fingerprint (which the next save
 * records). When a known, different one was recorded and the job waits out a backoff (its own or
 * a missing name's), the backoff is lifted: the admin changed something, perhaps the cause. A
 * Retry-After the CA set still holds. Returns whether a backoff was lifted. */
int autotls_job_config_changed(autotls_job_t *job, const char *fingerprint, apr_time_t now);

/* --- several CAs (AutoTLSCA: cas is the list, at_ca_spec_t) -------------------------------- */

/* Where the site's orders go: its CA (the first when the one recorded is not in the list any
 * more) and the failures there in a row. */
at_ca_position_t autotls_job_ca_position(const autotls_job_t *job, const apr_array_header_t *cas);
void autotls_job_ca_set(autotls_job_t *job, const apr_array_header_t *cas, at_ca_position_t pos);

/* After an order at cas[index] gave a certificate with serial: it is recorded as that CA's, and
 * the next order (the next renewal) starts again at the first CA. */
void autotls_job_issued(autotls_job_t *job, const apr_array_header_t *cas, int index,
                        const char *serial);

/* The CA (index into cas) that issued the served certificate with serial served_serial, -1 when
 * not known (no record for this certificate) or no longer listed. With one CA listed, a
 * certificate without a record is that CA's, as before there were several. ARI and `replaces`
 * go to that CA alone. */
int autotls_job_issuer(const autotls_job_t *job, const apr_array_header_t *cas,
                       const char *served_serial);

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

/* "2024-05-01T12:00:00Z": at_rfc3339_format, under the name the renewal log lines use. */
const char *autotls_job_time_text(apr_pool_t *p, apr_time_t t);
/* "3d 4h", "5h 7m", "12m 3s", "42s" (the magnitude; the caller says before or after) */
const char *autotls_job_duration_text(apr_pool_t *p, apr_interval_time_t d);

#endif
