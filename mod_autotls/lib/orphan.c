/* SPDX-License-Identifier: Apache-2.0 */
/*
 * orphan.c: sites the store holds and the configuration no longer names (see at_orphan.h).
 *
 * The one idea: forgetting is archiving: the live set is copied into archive/ before anything
 * of it is removed, so a site forgotten by mistake can be put back by hand from archive/.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <jansson.h>

#include "at_core.h"
#include "at_crypto.h"
#include "at_event.h"
#include "at_issue.h"
#include "at_live.h"
#include "at_job.h"
#include "at_orphan.h"

static int orphan_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

apr_status_t at_orphan_stored_sites(apr_array_header_t **sites, at_store_t *store, apr_pool_t *p)
{
    apr_array_header_t *live, *jobs, *all;
    apr_status_t rv;
    int i;

    *sites = apr_array_make(p, 0, sizeof(const char *));
    if ((rv = at_store_list(store, AT_STORE_LIVE, NULL, &live, p)) != APR_SUCCESS ||
        (rv = at_store_list(store, AT_STORE_JOBS, NULL, &jobs, p)) != APR_SUCCESS) {
        return rv;
    }
    all = apr_array_copy(p, live);
    for (i = 0; i < jobs->nelts; i++) {
        const char *site = at_job_site(p, APR_ARRAY_IDX(jobs, i, const char *));

        if (site != NULL) {
            APR_ARRAY_PUSH(all, const char *) = site;
        }
    }
    qsort(all->elts, all->nelts, sizeof(const char *), orphan_cmp);
    for (i = 0; i < all->nelts; i++) {
        const char *site = APR_ARRAY_IDX(all, i, const char *);

        if (i == 0 || strcmp(site, APR_ARRAY_IDX(all, i - 1, const char *)) != 0) {
            APR_ARRAY_PUSH(*sites, const char *) = site;
        }
    }
    return APR_SUCCESS;
}

/* A job file of a release before last_error_at: the file's time is its error's time, and the
 * mark is about to change it, so it is written down first. */
static void orphan_keep_error_time(json_t *job, at_store_t *store, const char *item, apr_pool_t *p)
{
    const json_t *error = json_object_get(job, AT_JOB_LAST_ERROR);
    at_store_stat_t st;

    if (json_is_string(error) && json_string_length(error) > 0 &&
        json_object_get(job, AT_JOB_LAST_ERROR_AT) == NULL &&
        at_store_stat(store, AT_STORE_JOBS, NULL, item, &st, p) == APR_SUCCESS && st.exists &&
        st.mtime > 0) {
        json_object_set_new(job, AT_JOB_LAST_ERROR_AT, json_integer(apr_time_sec(st.mtime)));
    }
}

apr_status_t at_orphan_mark(apr_time_t *since, int *fresh, at_store_t *store, const char *site,
                            apr_time_t now, apr_pool_t *p)
{
    const char *item = at_job_item(p, site);
    json_t *job = NULL, *mark;
    apr_status_t rv;

    *fresh = 0;
    rv = at_store_load_json(store, AT_STORE_JOBS, NULL, item, &job, p);
    if (rv != APR_SUCCESS && rv != APR_ENOENT && rv != AT_EPROTO) {
        return rv; /* refused by the store's rules (logged there): not ours to replace */
    }
    if (rv != APR_SUCCESS || !json_is_object(job)) {
        json_decref(job);
        job = json_object(); /* none, or one that does not parse: the mark alone */
    }
    mark = json_object_get(job, AT_ORPHAN_SINCE_KEY);
    if (json_is_integer(mark) && json_integer_value(mark) > 0 &&
        apr_time_from_sec(json_integer_value(mark)) <= now) {
        *since = apr_time_from_sec(json_integer_value(mark));
        json_decref(job);
        return APR_SUCCESS;
    }
    *since = now;
    *fresh = 1;
    orphan_keep_error_time(job, store, item, p);
    json_object_set_new(job, AT_ORPHAN_SINCE_KEY, json_integer(apr_time_sec(now)));
    rv = at_store_save_json(store, AT_STORE_JOBS, NULL, item, job, p);
    json_decref(job);
    return rv;
}

/* The event for what live/<site> holds: its certificate, read before the set is archived
 * (details left empty when it holds nothing readable). The key is not needed for it. */
static at_event_t *orphan_event(at_store_t *store, const char *site, apr_time_t now, apr_pool_t *p)
{
    at_event_t *event = at_event_make(p, AT_EVENT_ORPHANED, site, now);
    apr_array_header_t *chain;
    apr_size_t len;
    char *pem;

    if (at_store_load(store, AT_STORE_LIVE, site, AT_CERTSET_CHAIN, &pem, &len, AT_STORE_PUBLIC,
                      p) == APR_SUCCESS &&
        at_chain_from_pem(&chain, p, pem, len) == APR_SUCCESS && chain->nelts > 0) {
        at_event_set_cert(event, p, APR_ARRAY_IDX(chain, 0, X509 *));
    }
    return event;
}

apr_status_t at_orphan_forget(at_store_t *store, const char *site, apr_time_t now, int post_event,
                              apr_pool_t *p)
{
    at_event_t *event = post_event ? orphan_event(store, site, now, p) : NULL;
    apr_status_t rv;

    if ((rv = at_live_retire(store, site, now, p)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = at_store_remove(store, AT_STORE_JOBS, NULL, at_job_item(p, site), p)) !=
            APR_SUCCESS ||
        (rv = at_store_remove(store, AT_STORE_JOBS, NULL,
                              apr_pstrcat(p, site, AT_JOB_REQUEST_SUFFIX, NULL), p)) !=
            APR_SUCCESS) {
        return rv;
    }
    return post_event ? at_event_post(store, event, p) : APR_SUCCESS;
}
