/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_verdict.h: a certificate set's verdict, remembered until anything it depends on changes.
 *
 * The one idea: the check of a live set (at_certset_validate: parse the key and the chain, match,
 * names, validity, chain to the issuer roots) costs about 0.4 ms, and httpd's parent runs it for
 * every site in both configuration passes and at every graceful restart. Its result depends only
 * on the bytes of the key and chain files, on the site's names and the check's policy, on the
 * issuer roots file, and on the time. So a passing verdict is kept with the identity of each file
 * (device, inode, size, mtime and ctime to the nanosecond: no write, rename, link or chmod leaves
 * all of them as they were, and nobody but the clock sets ctime back, so `touch -r` does not hide
 * a change) and the policy as text; a lookup returns it only when all of them are the same and
 * the certificate is, now, inside the validity the check saw. A verdict never outlives its
 * certificate, and a refused set is not remembered: it is checked (and logged) every time.
 *
 * Who keeps the cache decides how long it lives (httpd's parent: across passes and graceful
 * restarts). It is bounded by the sites: each pass (at_verdict_cache_begin .. _end) drops the
 * entries of sites it did not look up. No function pointers and no pool cleanups: the cache may
 * outlive the code that made it (an httpd module is unloaded and loaded again between passes).
 * Not thread-safe: one thread at a time.
 */
#ifndef AT_VERDICT_H
#define AT_VERDICT_H

#include <apr_pools.h>
#include <apr_time.h>

#include "at_crypto.h"

/* A file changed more recently than this before a verdict is not remembered (at_verdict_store). */
#define AT_VERDICT_RACY apr_time_from_sec(1)

/* Longest serial kept (upper-case hex, as at_cert_info gives it), without its NUL. */
#define AT_VERDICT_SERIAL_MAX 63

/* Who a file is, as lstat(2) says: a different value in any field is a different file. */
typedef struct {
    apr_uint64_t dev;
    apr_uint64_t ino;
    apr_int64_t size;
    apr_int64_t mtime_ns;
    apr_int64_t ctime_ns;
    apr_uint32_t mode; /* type and permissions */
    apr_uint32_t uid;
    apr_uint32_t gid;
    int present; /* 0: no such file (every other field 0) */
} at_file_id_t;

/* The identity of path, not following a final symbolic link. A missing path gives APR_SUCCESS
 * with present = 0 (so a roots file that is gone is a state of its own); any other failure of
 * lstat its status. */
apr_status_t at_file_id_of(at_file_id_t *id, const char *path);

/* The identity of what path leads to, following symbolic links (the issuer roots file, often a
 * link into the system's certificate bundle: a change to the bundle is a change). */
apr_status_t at_file_id_of_target(at_file_id_t *id, const char *path);

/* Whether two identities are the same file in the same state. */
int at_file_id_same(const at_file_id_t *a, const at_file_id_t *b);

/* What a verdict is about: the files and everything else the check depends on. */
typedef struct {
    at_file_id_t key;
    at_file_id_t chain;
    at_file_id_t roots; /* the issuer roots file's (present = 0 when the check has none) */
    const char *policy; /* at_verdict_policy() of the check */
} at_verdict_subject_t;

/* The check's policy as text: the names in order, the roots file's path, require_chain and
 * allow_partial (not `now`: validity is kept as not_before/not_after). */
const char *at_verdict_policy(apr_pool_t *p, const at_certset_check_t *check);

/* A passing verdict: the validity the check saw, and what the set's publication needs. */
typedef struct {
    apr_time_t not_before;
    apr_time_t not_after;
    char serial[AT_VERDICT_SERIAL_MAX + 1];
    int partial; /* the set passed as a partial issuance only */
} at_verdict_t;

/* Fills verdict from a leaf that passed the check. */
apr_status_t at_verdict_of_leaf(at_verdict_t *verdict, apr_pool_t *p, X509 *leaf, int partial);

/* Fills verdict from a set that passed the check: the leaf's serial, and the validity every
 * certificate of chain shares (an intermediate that expires before the leaf ends the verdict
 * then, as the full check would refuse the set then), narrowed further to path_not_before ..
 * path_not_after (the verified path's, the trust anchor included) when they are not 0. */
apr_status_t at_verdict_of_chain(at_verdict_t *verdict, apr_pool_t *p,
                                 const apr_array_header_t *chain, int partial,
                                 apr_time_t path_not_before, apr_time_t path_not_after);

typedef struct at_verdict_cache_t at_verdict_cache_t;

/* Counts of the pass under way (since at_verdict_cache_begin). */
typedef struct {
    int lookups; /* at_verdict_lookup calls */
    int hits;    /* ... that returned a verdict */
    int stored;  /* at_verdict_store calls (a set checked in full and passing) */
    int dropped; /* entries removed: changed or expired at lookup, or left out of the pass */
    int entries; /* entries kept now */
} at_verdict_stats_t;

/* A cache in a pool of its own, a child of parent (destroyed with it). */
apr_status_t at_verdict_cache_create(at_verdict_cache_t **cache, apr_pool_t *parent);

/* Starts a pass: the counts go to zero, and every entry not looked up or stored before
 * at_verdict_cache_end is dropped then. */
void at_verdict_cache_begin(at_verdict_cache_t *cache);

/* Ends a pass: drops the entries of sites the pass did not touch. */
void at_verdict_cache_end(at_verdict_cache_t *cache);

void at_verdict_cache_stats(const at_verdict_cache_t *cache, at_verdict_stats_t *stats);

/* The verdict on site's set when subject is the one it was given for, field by field, and
 * `now` lies inside its validity; NULL otherwise (an entry that no longer matches is dropped).
 * The pointer stays valid until the next call on the cache. */
const at_verdict_t *at_verdict_lookup(at_verdict_cache_t *cache, const char *site,
                                      const at_verdict_subject_t *subject, apr_time_t now);

/* Remembers a passing verdict on site's set (replacing what was there). A file of the subject
 * changed less than AT_VERDICT_RACY before now is not trusted to show its next change (the
 * kernel's timestamps move in clock ticks: a second write in the same tick leaves them as they
 * are): then nothing is remembered (APR_EAGAIN) and the next pass checks the set again. */
apr_status_t at_verdict_store(at_verdict_cache_t *cache, const char *site,
                              const at_verdict_subject_t *subject, const at_verdict_t *verdict,
                              apr_time_t now);

/* Drops what is remembered of site. */
void at_verdict_forget(at_verdict_cache_t *cache, const char *site);

/* --- kept on disk for the next parent (verdict_file.c) -------------------------------------- */

/* The file's size cap (10,000 sites take about 4 MB). */
#define AT_VERDICT_FILE_MAX (64 * 1024 * 1024)

/*
 * Adds the verdicts a previous parent wrote at path to cache, so that a new parent's first pass
 * checks only what changed since. The file is believed only when it is a regular file with one
 * name (no link followed), owned by this process's effective user (root in production), with no
 * permission for group or others, at most AT_VERDICT_FILE_MAX bytes, and wholly well formed;
 * anything else adds nothing: APR_ENOENT when there is no file, AT_EMODE (owner, mode, links,
 * type), AT_ETOOLARGE or AT_EPROTO (one bad entry refuses the whole file), each with *why. Each
 * entry is then held to at_verdict_store's rules against now (a file changed too recently is not
 * believed), and every lookup still compares the files as they are then: an entry can only ever
 * spare the check of exactly the bytes it was given for. *added counts the entries taken. A
 * file another build wrote (another mod_autotls or OpenSSL version: its checks may differ) is
 * not taken either: APR_SUCCESS with nothing added and *why saying so. Nothing is logged here.
 */
apr_status_t at_verdict_cache_read(at_verdict_cache_t *cache, const char *path, apr_time_t now,
                                   int *added, const char **why, apr_pool_t *p);

/*
 * Writes every entry of cache to path (mode 0600, owned by the writer, synced), replacing the
 * file in one rename; an entry at_verdict_cache_read would refuse is left out (its set is
 * checked at the next start). A torn file is refused by the next read. The caller writes in a
 * directory nobody else can write.
 */
apr_status_t at_verdict_cache_write(const at_verdict_cache_t *cache, const char *path,
                                    apr_pool_t *p);

#endif
