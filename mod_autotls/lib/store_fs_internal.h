/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_fs_internal.h: test hooks of the filesystem store, for tests/unit/test_store.c only.
 *
 * A crash between writing the temp file and renaming it must leave the old item untouched; the
 * hook below lets a test stop a save exactly there without killing a process at a lucky moment.
 */
#ifndef AT_STORE_FS_INTERNAL_H
#define AT_STORE_FS_INTERNAL_H

/* When non-zero, every save fails (APR_EGENERAL) after the temp file is written and synced and
 * right before it would be renamed over the item. Zero in production. */
extern int at_store_fs_test_fail_before_rename;

/* The rest is for the filesystem backend's own files (store_fs_lease.c), not for tests. */
#include "at_store.h"

/* Takes the exclusive flock of group's directory (made when missing), waiting for it; *fd holds
 * it until closed. For short critical sections of the backend itself (the leases). */
apr_status_t at_store_fs_group_flock(at_store_t *store, at_store_group_e group, int *fd,
                                     apr_pool_t *p);

/* The leases of the filesystem backend (store_fs_lease.c): at_store.h says what they do. */
apr_status_t at_store_fs_lease_take(at_store_t *store, const char *name, const char *token,
                                    apr_interval_time_t ttl, apr_pool_t *p);
apr_status_t at_store_fs_lease_renew(at_store_t *store, const char *name, const char *token,
                                     apr_interval_time_t ttl, apr_pool_t *p);
apr_status_t at_store_fs_lease_release(at_store_t *store, const char *name, const char *token,
                                       apr_pool_t *p);
apr_status_t at_store_fs_lease_holder(at_store_t *store, const char *name, char **token,
                                      apr_time_t *expires, apr_pool_t *p);

#endif
