/* SPDX-License-Identifier: Apache-2.0 */
/*
 * job_items.c: the item names of the store's jobs/ group (at_job.h).
 *
 * The one idea: a name made here is the only spelling; the module's renewal process and the
 * CLI both call these, so a request dropped by one is found by the other.
 */
#include <string.h>

#include <apr_strings.h>

#include "at_issue.h"
#include "at_job.h"
#include "at_store.h"

const char *at_job_item(apr_pool_t *p, const char *site)
{
    return apr_pstrcat(p, site, AT_JOB_SUFFIX, NULL);
}

const char *at_job_request_item(apr_pool_t *p, const char *site)
{
    return apr_pstrcat(p, site, AT_JOB_REQUEST_SUFFIX, NULL);
}

const char *at_job_request_site(apr_pool_t *p, const char *item)
{
    apr_size_t len = strlen(item), suffix = sizeof(AT_JOB_REQUEST_SUFFIX) - 1;

    if (len <= suffix || strcmp(item + len - suffix, AT_JOB_REQUEST_SUFFIX) != 0) {
        return NULL;
    }
    return apr_pstrndup(p, item, len - suffix);
}

const char *at_job_site(apr_pool_t *p, const char *item)
{
    apr_size_t len = strlen(item), suffix = sizeof(AT_JOB_SUFFIX) - 1;

    if (item[0] == '_' || len <= suffix || strcmp(item + len - suffix, AT_JOB_SUFFIX) != 0) {
        return NULL;
    }
    return apr_pstrndup(p, item, len - suffix);
}

const char *at_job_rate_item(apr_pool_t *p, const char *ca_url)
{
    return apr_pstrcat(p, AT_JOB_RATE_PREFIX, at_store_ca_name(p, ca_url), AT_JOB_SUFFIX, NULL);
}

const char *at_job_account_item(apr_pool_t *p, const char *ca_url)
{
    return apr_pstrcat(p, AT_ACCOUNT_JOB_PREFIX, at_store_ca_name(p, ca_url), AT_JOB_SUFFIX, NULL);
}
