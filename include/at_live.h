/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_live.h: a site's live certificate set: switched as one, recovered after a crash, and the
 * replaced sets kept in archive/ for a grace period, then purged.
 *
 * A set is two items (privkey.pem, fullchain.pem) and no store writes two items at once, so a
 * promotion keeps a small journal in live/<site>/:
 *   1. next.privkey.pem, then next.fullchain.pem are written, each whole (an atomic store write);
 *      once both are there, the new set is committed;
 *   2. they are copied over privkey.pem and fullchain.pem, then removed.
 * After a crash anywhere, the pending set is next.<item> where present, else <item>. When its key
 * matches its leaf, the crash came after the commit (or in the middle of step 2): the copy is
 * finished. When it does not, the crash came before the commit: next.* is discarded and the old
 * set stands. Either way live/ ends up holding a matching pair, the new one or the old one, never
 * a key of one set beside the chain of another. at_live_recover applies that rule; it is
 * idempotent and runs before anything reads live/ (startup, and each promotion).
 *
 * Archive: archive/<site>/<stamp>.privkey.pem and <stamp>.fullchain.pem, stamp = the UTC time
 * the set was replaced ("20250131T120000.000042Z", sortable). Purged at each promotion and at
 * startup: sets replaced longer ago than the grace period go, and at most a count is kept.
 */
#ifndef AT_LIVE_H
#define AT_LIVE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "at_crypto.h"
#include "at_store.h"

/* The journal of a promotion under way, in live/<site>/. */
#define AT_LIVE_NEXT_KEY "next.privkey.pem"
#define AT_LIVE_NEXT_CHAIN "next.fullchain.pem"

/* Replaced sets are kept this long after they were replaced, and at most this many per site. */
#define AT_ARCHIVE_GRACE apr_time_from_sec(30 * 24 * 3600)
#define AT_ARCHIVE_KEEP_MAX 5

typedef enum {
    AT_LIVE_CLEAN = 0,      /* no promotion was interrupted */
    AT_LIVE_ROLLED_FORWARD, /* an interrupted promotion was completed: the new set is live */
    AT_LIVE_ROLLED_BACK     /* an uncommitted promotion was discarded: the old set stays */
} at_live_recovery_e;

/* Finishes or discards an interrupted promotion of live/<site>/ (see above); *outcome says which.
 * Fails only when the store cannot be read or written. */
apr_status_t at_live_recover(at_store_t *store, const char *site, at_live_recovery_e *outcome,
                             apr_pool_t *p);

/* Makes key_pem + chain_pem the live set of site through the journal. The caller validated them;
 * here they must at least parse and match, or nothing is written (AT_EINVALID). */
apr_status_t at_live_promote(at_store_t *store, const char *site, const char *key_pem,
                             apr_size_t key_len, const char *chain_pem, apr_size_t chain_len,
                             apr_pool_t *p);

/* Copies the live set of site into archive/<site>/ under the stamp of `now`. Nothing live:
 * nothing to do (APR_SUCCESS). */
apr_status_t at_live_archive(at_store_t *store, const char *site, apr_time_t now, apr_pool_t *p);

/* Removes archived sets of site replaced before now - grace, those beyond the keep_max newest,
 * and halves of sets (a crash between their two items); an archive left empty is removed. Items
 * that are not archived sets are left alone. *removed (may be NULL) counts the sets removed. */
apr_status_t at_live_archive_purge(at_store_t *store, const char *site, apr_time_t now,
                                   apr_interval_time_t grace, int keep_max, int *removed,
                                   apr_pool_t *p);

/* Promotes the newest archived set of site that passes check back into live/ (when live/ holds
 * nothing usable); *stamp names it. APR_ENOENT when no archived set passes. */
apr_status_t at_live_restore(at_store_t *store, const char *site, const at_certset_check_t *check,
                             const char **stamp, apr_pool_t *p);

/* The archive stamp of t: UTC, sortable, microseconds (two promotions never share one). */
const char *at_live_stamp(apr_pool_t *p, apr_time_t t);

#endif
