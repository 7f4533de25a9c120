/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_sweep.h: what a crash leaves behind in a filesystem store, and its removal.
 *
 * A process killed in the middle of its work can leave: a staging set without its `ready` marker
 * (an order killed while writing it; the renewal thread will not order again while it is there),
 * challenge responses nobody withdraws, and temp files of interrupted atomic writes
 * (".<item>.tmp.XXXXXX", named by store_fs.c; never visible as items). Each sweep removes only
 * what is older than max_age, so that nothing still being written is touched; max_age 0 removes
 * whatever its age, for when no writer can be running (a cold start). Links are never followed.
 * Backends other than the filesystem one (at_store_fs_root) give APR_ENOTIMPL: they have their
 * own atomicity.
 */
#ifndef AT_SWEEP_H
#define AT_SWEEP_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "at_store.h"

/* Removes staging/<name> for every name in names (const char *; NULL: every entry of staging/)
 * that lacks the `ready` item, when the newest thing in it is older than max_age at now; and every
 * temp set directory at_store_save_set left (a killed writer) under the same age rule. A
 * complete set (with `ready`) is the activator's and is never touched. Sets go flat
 * (at_sweep_remove_set). *removed (may be NULL) counts the sets removed. */
apr_status_t at_sweep_staging(at_store_t *store, const apr_array_header_t *names, const char *ready,
                              apr_interval_time_t max_age, apr_time_t now, int *removed,
                              apr_pool_t *p);

/* Removes staging/<name> flat: the items of a certificate set (AT_CERTSET_KEY, AT_CERTSET_CHAIN,
 * AT_CERTSET_META), the marker ready (may be NULL) and the store's temp files, then the directory
 * (at_store_purge_items). Anything else in it (a directory, a foreign file) stays untouched, and
 * so does the directory, with one log line. name may be a temp set directory. */
apr_status_t at_sweep_remove_set(at_store_t *store, const char *name, const char *ready,
                                 apr_pool_t *p);

/* Removes challenge responses (challenges/<token>) older than max_age. */
apr_status_t at_sweep_challenges(at_store_t *store, apr_interval_time_t max_age, apr_time_t now,
                                 int *removed, apr_pool_t *p);

/* Removes temp files of interrupted writes older than max_age, in every group directory and in
 * the directories one level below (staging/<site>/, live/<site>/, accounts/<ca>/, ...). */
apr_status_t at_sweep_temp_files(at_store_t *store, apr_interval_time_t max_age, apr_time_t now,
                                 int *removed, apr_pool_t *p);

/* Whether a directory entry's name is one of the store's temp names (at_store_is_temp_name). */
int at_sweep_is_temp_name(const char *name);

#endif
