/* SPDX-License-Identifier: Apache-2.0 */
/*
 * live_internal.h: the test hook of live.c, for tests/unit/test_live.c only.
 *
 * A promotion is a sequence of store writes and removals; a crash may stop it after any one of
 * them. The hook stops it there (the write fails as a crash would leave it) without killing a
 * process at a lucky moment, so a test can walk every crash point.
 */
#ifndef AT_LIVE_INTERNAL_H
#define AT_LIVE_INTERNAL_H

/* When n > 0, the n-th store change made by at_live_promote (counting writes and removals) and
 * every later one fail with APR_EGENERAL, as if the process had died right before it. Zero in
 * production. */
extern int at_live_test_fail_at;

#endif
