/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_orphan.h: sites the store still holds but the configuration no longer names.
 *
 * The one idea: a removed site's certificate is not thrown away at once (the vhost may come back
 * after a typo), but neither is it kept live forever looking managed. The first time root (the
 * activator) finds a live set or a job file with no configured site, it records
 * "orphaned_since" in jobs/<site>.json; after AutoTLSOrphanKeep the site is forgotten: its live
 * set moves to archive/ (purged there like any replaced set), its job file and any renewal
 * request go, and an `orphaned` event is handed to the renewal process (at_event.h).
 * `autotls forget SITE` forgets at once. A site configured again loses its mark at the renewal
 * process's first save of its job file.
 */
#ifndef AT_ORPHAN_H
#define AT_ORPHAN_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "at_job.h"
#include "at_store.h"

/* The job file's field the mark is kept in (seconds since the epoch). */
#define AT_ORPHAN_SINCE_KEY "orphaned_since"
/* AutoTLSOrphanKeep's default. */
#define AT_ORPHAN_KEEP_DEFAULT apr_time_from_sec(30 * 24 * 3600)

/* Every site the store holds: the names in live/ and the <site>.json job files of jobs/ (not the
 * process's own "_" items), sorted, without repeats. */
apr_status_t at_orphan_stored_sites(apr_array_header_t **sites, at_store_t *store, apr_pool_t *p);

/* Marks site orphaned in jobs/<site>.json (made when missing, or holding the mark alone when it
 * does not parse) unless it already is; *since gets the mark, *fresh whether it was set now. A
 * job file the store refuses to read (owner, mode, links: logged there) is left as it is and its
 * error returned. */
apr_status_t at_orphan_mark(apr_time_t *since, int *fresh, at_store_t *store, const char *site,
                            apr_time_t now, apr_pool_t *p);

/* Forgets site: archives and removes its live set (at_live_retire), removes jobs/<site>.json and
 * jobs/<site>.renew, and posts an `orphaned` event with what was live (when post_event). A
 * failure to archive stops it before anything is removed. */
apr_status_t at_orphan_forget(at_store_t *store, const char *site, apr_time_t now, int post_event,
                              apr_pool_t *p);

#endif
