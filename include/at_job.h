/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_job.h: the names of the items in the store's jobs/ group, spelled once.
 *
 * The one idea: the renewal process, the CLI and the tests meet in jobs/ through file names
 * alone, so every name is made (and read back) here and nowhere else:
 *   <site>.json            the renewal schedule of a site (renew_job.h)
 *   <site>.renew           an operator's request for a renewal now (`autotls renew NAME`)
 *   _rate-<ca-name>.json   the CA's order bucket (at_ratelimit.h)
 *   _account-<ca-name>.json the account's own schedule (AT_ACCOUNT_JOB_PREFIX, at_issue.h)
 * '_' cannot start a host name, so the CA-wide items never collide with a site's.
 */
#ifndef AT_JOB_H
#define AT_JOB_H

#include <apr_pools.h>

#define AT_JOB_SUFFIX ".json"
#define AT_JOB_REQUEST_SUFFIX ".renew"
#define AT_JOB_RATE_PREFIX "_rate-"

/* "<site>.json": the item holding a site's renewal schedule. */
const char *at_job_item(apr_pool_t *p, const char *site);

/* "<site>.renew": the item asking for a renewal of site now. */
const char *at_job_request_item(apr_pool_t *p, const char *site);

/* The site (or alias) a request item names, or NULL when item is no request. */
const char *at_job_request_site(apr_pool_t *p, const char *item);

/* "_rate-<ca-name>.json": the item holding the order bucket of the CA at ca_url. */
/* The site a job file is for ("<site>.json"), or NULL for any other item of jobs/ (the
 * CA-wide items start with '_'). */
const char *at_job_site(apr_pool_t *p, const char *item);

const char *at_job_rate_item(apr_pool_t *p, const char *ca_url);

/* "_account-<ca-name>.json": the item holding the schedule of the account at the CA at ca_url. */
const char *at_job_account_item(apr_pool_t *p, const char *ca_url);

/* Keys of a site's job file that more than the renewal process reads: its last error, and the
 * time of it (seconds; absent in files of releases before it, where the file's time stands in). */
#define AT_JOB_LAST_ERROR "last_error"
#define AT_JOB_LAST_ERROR_AT "last_error_at"

#endif
