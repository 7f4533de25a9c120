/*
 * at_sweep.h: what a crash leaves behind in a filesystem store, and its removal.
 *
 * A process killed in the middle of its work can leave: a staging set without its `ready` marker
 * (an order killed while writing it; the renewal thread will not order again while it is there),
 * challenge responses nobody withdraws, and temp files of interrupted atomic writes
 * (".<item>.tmp.XXXXXX", named by store_fs.c; never visible as items). Each sweep removes only
 * what is older than max_age, so that nothing still being written is touched; max_age 0 removes
 * whatever its age, for when no writer can be running (a cold start). Links are never followed.
 * Backends without file paths (at_store_path) give APR_ENOTIMPL: they have their own atomicity.
 */
#ifndef AT_SWEEP_H
#define AT_SWEEP_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "at_store.h"

/* Removes staging/<name> for every name in names (const char *; NULL: every entry of staging/)
 * that lacks the `ready` item, when the newest thing in it is older than max_age at now. A
 * complete set (with `ready`) is the activator's and is never touched. *removed (may be NULL)
 * counts the sets removed. */
apr_status_t at_sweep_staging(at_store_t *store, const apr_array_header_t *names, const char *ready,
                              apr_interval_time_t max_age, apr_time_t now, int *removed,
                              apr_pool_t *p);

/* Removes challenge responses (challenges/<token>) older than max_age. */
apr_status_t at_sweep_challenges(at_store_t *store, apr_interval_time_t max_age, apr_time_t now,
                                 int *removed, apr_pool_t *p);

/* Removes temp files of interrupted writes older than max_age, in every group directory and in
 * the directories one level below (staging/<site>/, live/<site>/, accounts/<ca>/, ...). */
apr_status_t at_sweep_temp_files(at_store_t *store, apr_interval_time_t max_age, apr_time_t now,
                                 int *removed, apr_pool_t *p);

/* Whether a directory entry's name is one of store_fs.c's temp files. */
int at_sweep_is_temp_name(const char *name);

#endif
