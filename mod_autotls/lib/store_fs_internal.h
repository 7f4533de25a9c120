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

#endif
