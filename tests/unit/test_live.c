/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_live.c: the live set's journal (at_live_*), the archive's purge, and the sweep of what
 * crashes leave in the store (at_sweep_*).
 *
 * The one idea: a crash is simulated at every store change a promotion makes (the test hook of
 * live_internal.h fails that change and every later one, as a killed process would leave it),
 * and after recovery live/ must hold a matching pair: the old set before the commit, the new one
 * from the commit on. Certificates come from tiny_ca.c, never from the code under test; ages
 * are set with utimensat, never waited for.
 */
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_file_io.h>
#include <apr_strings.h>
#include <check.h>

#include "unit_main.h"
#include "at_core.h"
#include "at_crypto.h"
#include "at_issue.h"
#include "at_event.h"
#include "at_live.h"
#include "at_orphan.h"
#include "at_store.h"
#include "at_sweep.h"
#include "../../mod_autotls/lib/live_internal.h"
#include "tiny_ca.h"

#define SITE "www.example.org"
#define DAY apr_time_from_sec(86400)
#define HOUR apr_time_from_sec(3600)
#define MINUTE apr_time_from_sec(60)
/* Store changes a promotion makes: next.key, next.chain (the commit), key, chain, 2 removals. */
#define PROMOTE_CHANGES 6
#define PROMOTE_COMMIT 2
#define READY "ready"

static apr_pool_t *pool;
static char store_dir[] = "/tmp/test_live.XXXXXX";
static at_store_t *store;
static tiny_ca_t ca;

typedef struct {
    const char *key;
    apr_size_t key_len;
    const char *chain;
    apr_size_t chain_len;
} set_t;

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    strcpy(store_dir, "/tmp/test_live.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(store_dir));
    ck_assert_int_eq(chmod(store_dir, 0755), 0);
    ck_assert_int_eq(at_store_fs_open(&store, pool, store_dir), APR_SUCCESS);
    tiny_ca_make(&ca, pool, "Test Root");
    at_live_test_fail_at = 0;
}

#define REMOVE_FDS 16

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    return remove(path);
}

static void teardown(void)
{
    at_live_test_fail_at = 0;
    nftw(store_dir, remove_one, REMOVE_FDS, FTW_DEPTH | FTW_PHYS);
    apr_pool_destroy(pool);
}

/* A new key and a leaf for SITE from the tiny CA, valid from now + from to now + to. */
static set_t make_set(long from_secs, long to_secs)
{
    tiny_cert_spec_t spec = {0};
    set_t set;
    X509 *leaf;

    spec.key = tiny_ca_key(pool);
    spec.cn = SITE;
    spec.issuer = ca.inter;
    spec.issuer_key = ca.inter_key;
    spec.eku = "serverAuth";
    spec.san = "DNS:" SITE;
    spec.from_secs = from_secs;
    spec.to_secs = to_secs;
    leaf = tiny_ca_cert(pool, &spec);
    ck_assert_int_eq(at_key_to_pem(&set.key, &set.key_len, pool, spec.key), APR_SUCCESS);
    set.chain = apr_pstrcat(pool, tiny_ca_pem(pool, leaf), tiny_ca_pem(pool, ca.inter), NULL);
    set.chain_len = strlen(set.chain);
    return set;
}

static set_t good_set(void)
{
    return make_set(-TINY_CA_HOUR_SECS, TINY_CA_LEAF_DAYS * TINY_CA_DAY_SECS);
}

static int item_exists(at_store_group_e group, const char *name, const char *item)
{
    char *data;
    apr_size_t len;

    return at_store_load(store, group, name, item, &data, &len,
                         strstr(item, "privkey") ? AT_STORE_SECRET : AT_STORE_PUBLIC,
                         pool) == APR_SUCCESS;
}

/* Asserts that live/SITE holds exactly `want` (key and chain), and no journal. */
static void assert_live_is(const set_t *want)
{
    char *key, *chain;
    apr_size_t key_len, chain_len;

    ck_assert_int_eq(at_store_load(store, AT_STORE_LIVE, SITE, AT_CERTSET_KEY, &key, &key_len,
                                   AT_STORE_SECRET, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(at_store_load(store, AT_STORE_LIVE, SITE, AT_CERTSET_CHAIN, &chain, &chain_len,
                                   AT_STORE_PUBLIC, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(key, want->key);
    ck_assert_str_eq(chain, want->chain);
    ck_assert(!item_exists(AT_STORE_LIVE, SITE, AT_LIVE_NEXT_KEY));
    ck_assert(!item_exists(AT_STORE_LIVE, SITE, AT_LIVE_NEXT_CHAIN));
}

static void promote(const set_t *set)
{
    ck_assert_int_eq(
        at_live_promote(store, SITE, set->key, set->key_len, set->chain, set->chain_len, pool),
        APR_SUCCESS);
}

/* --- the journal ------------------------------------------------------------------------------ */

START_TEST(test_promote_writes_the_pair_and_leaves_no_journal)
{
    set_t first = good_set(), second = good_set();
    at_live_recovery_e outcome;

    promote(&first);
    assert_live_is(&first);
    promote(&second);
    assert_live_is(&second);
    ck_assert_int_eq(at_live_recover(store, SITE, &outcome, pool), APR_SUCCESS);
    ck_assert_int_eq(outcome, AT_LIVE_CLEAN);
    assert_live_is(&second);
}
END_TEST

START_TEST(test_a_crash_at_every_step_leaves_the_old_or_the_new_pair)
{
    int step;

    for (step = 1; step <= PROMOTE_CHANGES; step++) {
        set_t old = good_set(), new = good_set();
        at_live_recovery_e outcome;

        promote(&old);
        at_live_test_fail_at = step;
        ck_assert_int_ne(
            at_live_promote(store, SITE, new.key, new.key_len, new.chain, new.chain_len, pool),
            APR_SUCCESS);
        at_live_test_fail_at = 0;
        ck_assert_int_eq(at_live_recover(store, SITE, &outcome, pool), APR_SUCCESS);
        if (step <= PROMOTE_COMMIT) {
            ck_assert_msg(outcome == (step == 1 ? AT_LIVE_CLEAN : AT_LIVE_ROLLED_BACK),
                          "step %d: outcome %d", step, outcome);
            assert_live_is(&old);
        } else {
            ck_assert_msg(outcome == AT_LIVE_ROLLED_FORWARD, "step %d: outcome %d", step, outcome);
            assert_live_is(&new);
        }
        /* recovery is idempotent */
        ck_assert_int_eq(at_live_recover(store, SITE, &outcome, pool), APR_SUCCESS);
        ck_assert_int_eq(outcome, AT_LIVE_CLEAN);
    }
}
END_TEST

START_TEST(test_an_interrupted_first_promotion_leaves_nothing_or_the_new_pair)
{
    set_t new = good_set();
    at_live_recovery_e outcome;

    at_live_test_fail_at = PROMOTE_COMMIT;
    ck_assert_int_ne(
        at_live_promote(store, SITE, new.key, new.key_len, new.chain, new.chain_len, pool),
        APR_SUCCESS);
    at_live_test_fail_at = 0;
    ck_assert(item_exists(AT_STORE_LIVE, SITE, AT_LIVE_NEXT_KEY));
    ck_assert_int_eq(at_live_recover(store, SITE, &outcome, pool), APR_SUCCESS);
    ck_assert_int_eq(outcome, AT_LIVE_ROLLED_BACK);
    ck_assert(!item_exists(AT_STORE_LIVE, SITE, AT_CERTSET_KEY));
    ck_assert(!item_exists(AT_STORE_LIVE, SITE, AT_LIVE_NEXT_KEY));

    at_live_test_fail_at = PROMOTE_COMMIT + 1;
    ck_assert_int_ne(
        at_live_promote(store, SITE, new.key, new.key_len, new.chain, new.chain_len, pool),
        APR_SUCCESS);
    at_live_test_fail_at = 0;
    ck_assert_int_eq(at_live_recover(store, SITE, &outcome, pool), APR_SUCCESS);
    ck_assert_int_eq(outcome, AT_LIVE_ROLLED_FORWARD);
    assert_live_is(&new);
}
END_TEST

START_TEST(test_promote_refuses_a_key_of_another_set)
{
    set_t one = good_set(), other = good_set();

    promote(&one);
    ck_assert_int_eq(
        at_live_promote(store, SITE, other.key, other.key_len, one.chain, one.chain_len, pool),
        AT_EINVALID);
    assert_live_is(&one);
}
END_TEST

/* --- the archive ------------------------------------------------------------------------------ */

/* Archives `set` as replaced at `when` (by making it live first). */
static void archive_at(const set_t *set, apr_time_t when)
{
    promote(set);
    ck_assert_int_eq(at_live_archive(store, SITE, when, pool), APR_SUCCESS);
}

static int archived_items(void)
{
    apr_array_header_t *items;

    ck_assert_int_eq(at_store_list(store, AT_STORE_ARCHIVE, SITE, &items, pool), APR_SUCCESS);
    return items->nelts;
}

START_TEST(test_archive_keeps_a_copy_named_by_its_stamp)
{
    set_t set = good_set();
    apr_time_t when = apr_time_now();
    const char *stamp = at_live_stamp(pool, when);
    char *data;
    apr_size_t len;

    ck_assert_int_eq(at_live_archive(store, SITE, when, pool), APR_SUCCESS); /* nothing live */
    ck_assert_int_eq(archived_items(), 0);
    archive_at(&set, when);
    ck_assert_int_eq(strlen(stamp), strlen("20250131T120000.000042Z"));
    ck_assert_int_eq(at_store_load(store, AT_STORE_ARCHIVE, SITE,
                                   apr_pstrcat(pool, stamp, ".", AT_CERTSET_CHAIN, NULL), &data,
                                   &len, AT_STORE_PUBLIC, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(data, set.chain);
    ck_assert_int_eq(at_store_load(store, AT_STORE_ARCHIVE, SITE,
                                   apr_pstrcat(pool, stamp, ".", AT_CERTSET_KEY, NULL), &data, &len,
                                   AT_STORE_SECRET, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(data, set.key);
}
END_TEST

START_TEST(test_purge_keeps_at_most_the_newest_within_the_grace_period)
{
    apr_time_t now = apr_time_now();
    int i, removed = -1;

    /* 7 sets replaced over the last 7 hours, and 2 replaced 40 and 60 days ago */
    for (i = 0; i < 7; i++) {
        set_t set = good_set();

        archive_at(&set, now - (i + 1) * HOUR);
    }
    for (i = 0; i < 2; i++) {
        set_t set = good_set();

        archive_at(&set, now - (40 + 20 * i) * DAY);
    }
    ck_assert_int_eq(archived_items(), 2 * 9);
    ck_assert_int_eq(at_live_archive_purge(store, SITE, now, AT_ARCHIVE_GRACE, AT_ARCHIVE_KEEP_MAX,
                                           &removed, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(removed, 9 - AT_ARCHIVE_KEEP_MAX);
    ck_assert_int_eq(archived_items(), 2 * AT_ARCHIVE_KEEP_MAX);
    for (i = 0; i < 7; i++) {
        const char *stamp = at_live_stamp(pool, now - (i + 1) * HOUR);
        int kept = item_exists(AT_STORE_ARCHIVE, SITE,
                               apr_pstrcat(pool, stamp, ".", AT_CERTSET_CHAIN, NULL));

        ck_assert_msg(kept == (i < AT_ARCHIVE_KEEP_MAX), "set %d hours old: kept %d", i + 1, kept);
    }
    /* a purge again changes nothing */
    ck_assert_int_eq(at_live_archive_purge(store, SITE, now, AT_ARCHIVE_GRACE, AT_ARCHIVE_KEEP_MAX,
                                           &removed, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(removed, 0);
    /* 31 days on, the grace period is over for every one: the archive is gone */
    ck_assert_int_eq(at_live_archive_purge(store, SITE, now + 31 * DAY, AT_ARCHIVE_GRACE,
                                           AT_ARCHIVE_KEEP_MAX, &removed, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(removed, AT_ARCHIVE_KEEP_MAX);
    ck_assert(access(apr_pstrcat(pool, store_dir, "/archive/" SITE, NULL), F_OK) != 0);
}
END_TEST

START_TEST(test_purge_drops_half_sets_and_keeps_foreign_items)
{
    apr_time_t now = apr_time_now();
    const char *stamp = at_live_stamp(pool, now - HOUR);
    set_t set = good_set();
    int removed = -1;

    archive_at(&set, now);
    /* a crash between the two items of an archived set leaves a key alone */
    ck_assert_int_eq(at_store_save(store, AT_STORE_ARCHIVE, SITE,
                                   apr_pstrcat(pool, stamp, ".", AT_CERTSET_KEY, NULL), set.key,
                                   set.key_len, AT_STORE_SECRET, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(
        at_store_save(store, AT_STORE_ARCHIVE, SITE, "README", "mine", 4, AT_STORE_PUBLIC, pool),
        APR_SUCCESS);
    ck_assert_int_eq(archived_items(), 4);
    ck_assert_int_eq(at_live_archive_purge(store, SITE, now, AT_ARCHIVE_GRACE, AT_ARCHIVE_KEEP_MAX,
                                           &removed, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(removed, 1);
    ck_assert_int_eq(archived_items(), 3);
    ck_assert(item_exists(AT_STORE_ARCHIVE, SITE, "README"));
    /* everything of ours purged: a foreign item keeps the directory */
    ck_assert_int_eq(at_live_archive_purge(store, SITE, now, AT_ARCHIVE_GRACE, 0, &removed, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(removed, 1);
    ck_assert_int_eq(archived_items(), 1);
}
END_TEST

START_TEST(test_restore_brings_back_the_newest_usable_archived_set)
{
    apr_time_t now = apr_time_now();
    set_t expired = make_set(-10 * TINY_CA_DAY_SECS, -TINY_CA_DAY_SECS);
    set_t older = good_set(), newer = good_set(), current = good_set();
    at_certset_check_t check = {0};
    const char *stamp = NULL;

    check.names = apr_array_make(pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH((apr_array_header_t *)check.names, const char *) = SITE;
    check.now = now;
    ck_assert_int_eq(at_live_restore(store, SITE, &check, &stamp, pool), APR_ENOENT);

    archive_at(&older, now - 3 * HOUR);
    archive_at(&newer, now - 2 * HOUR);
    archive_at(&expired, now - HOUR); /* the newest, but no longer valid */
    promote(&current);
    ck_assert_int_eq(at_live_restore(store, SITE, &check, &stamp, pool), APR_SUCCESS);
    ck_assert_str_eq(stamp, at_live_stamp(pool, now - 2 * HOUR));
    assert_live_is(&newer);

    check.now = now + 2 * TINY_CA_LEAF_DAYS * DAY; /* every archived set has expired by then */
    ck_assert_int_eq(at_live_restore(store, SITE, &check, &stamp, pool), APR_ENOENT);
    assert_live_is(&newer);
}
END_TEST

/* --- the sweep -------------------------------------------------------------------------------- */

static const char *store_path(const char *rel)
{
    return apr_pstrcat(pool, store_dir, "/", rel, NULL);
}

static void write_file(const char *rel, const char *text)
{
    int fd = open(store_path(rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void make_dir(const char *rel)
{
    ck_assert_int_eq(mkdir(store_path(rel), 0755), 0);
}

/* Sets the modification time of rel to `ago` before now. */
static void age(const char *rel, apr_interval_time_t ago)
{
    struct timespec times[2];
    apr_time_t t = apr_time_now() - ago;

    times[0].tv_sec = times[1].tv_sec = (time_t)apr_time_sec(t);
    times[0].tv_nsec = times[1].tv_nsec = 0;
    ck_assert_int_eq(utimensat(AT_FDCWD, store_path(rel), times, AT_SYMLINK_NOFOLLOW), 0);
}

static int exists(const char *rel)
{
    struct stat st;

    return lstat(store_path(rel), &st) == 0;
}

/* How many paths below the store match the glob pattern rel. */
static int glob_count(const char *rel)
{
    glob_t g;
    int n;

    if (glob(store_path(rel), GLOB_PERIOD, NULL, &g) != 0) {
        return 0;
    }
    n = (int)g.gl_pathc;
    globfree(&g);
    return n;
}

/* A forgotten site: its set in archive/ first, then nothing of it in live/. */
START_TEST(test_retire_archives_then_empties_live)
{
    set_t set = good_set();
    apr_array_header_t *items;

    ck_assert_int_eq(
        at_live_promote(store, SITE, set.key, set.key_len, set.chain, set.chain_len, pool),
        APR_SUCCESS);
    ck_assert_int_eq(
        at_store_save(store, AT_STORE_LIVE, SITE, AT_CERTSET_META, "{}", 2, AT_STORE_PUBLIC, pool),
        APR_SUCCESS);
    ck_assert_int_eq(at_live_retire(store, SITE, apr_time_now(), pool), APR_SUCCESS);
    ck_assert_int_eq(at_store_list(store, AT_STORE_LIVE, NULL, &items, pool), APR_SUCCESS);
    ck_assert_int_eq(items->nelts, 0);
    ck_assert_int_eq(at_store_list(store, AT_STORE_ARCHIVE, SITE, &items, pool), APR_SUCCESS);
    ck_assert_int_eq(items->nelts, 2);
    /* nothing live: nothing to do */
    ck_assert_int_eq(at_live_retire(store, SITE, apr_time_now(), pool), APR_SUCCESS);
}
END_TEST

/* Every site's archive is purged, not only the one of a site being promoted. */
START_TEST(test_purge_all_purges_every_sites_archive)
{
    set_t set = good_set();
    apr_time_t now = apr_time_now();
    const char *sites[] = {"a.example.org", "b.example.org"};
    apr_array_header_t *items;
    int i, removed = -1;

    for (i = 0; i < 2; ++i) {
        ck_assert_int_eq(
            at_live_promote(store, sites[i], set.key, set.key_len, set.chain, set.chain_len, pool),
            APR_SUCCESS);
        ck_assert_int_eq(at_live_archive(store, sites[i], now - 40 * DAY, pool), APR_SUCCESS);
        ck_assert_int_eq(at_live_archive(store, sites[i], now - HOUR, pool), APR_SUCCESS);
    }
    ck_assert_int_eq(at_live_archive_purge_all(store, now, AT_ARCHIVE_GRACE, AT_ARCHIVE_KEEP_MAX,
                                               &removed, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(removed, 2);
    for (i = 0; i < 2; ++i) {
        ck_assert_int_eq(at_store_list(store, AT_STORE_ARCHIVE, sites[i], &items, pool),
                         APR_SUCCESS);
        ck_assert_int_eq(items->nelts, 2); /* the set of an hour ago */
    }
}
END_TEST

/* The orphan mark is set once and kept; forgetting archives, removes the job state and request,
 * and leaves an `orphaned` event with the certificate's serial. */
/* A job file the store refuses to read (here: writable by others) is refused and left as it is,
 * never overwritten by the mark; forgetting without an event reads nothing of the live set. */
START_TEST(test_orphan_mark_leaves_a_job_file_it_refuses_untouched)
{
    static const char job[] = "{\"next_try\": 1}";
    const char *path = store_path("jobs/" SITE ".json");
    apr_time_t since = 0;
    char buf[sizeof(job)] = {0};
    FILE *f;
    int fresh = 0;

    ck_assert_int_eq(at_store_save(store, AT_STORE_JOBS, NULL, SITE ".json", job, strlen(job),
                                   AT_STORE_PUBLIC, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(chmod(path, 0666), 0);
    ck_assert_int_eq(at_orphan_mark(&since, &fresh, store, SITE, apr_time_now(), pool), AT_EMODE);
    ck_assert(!fresh);
    ck_assert_ptr_nonnull(f = fopen(path, "r"));
    ck_assert_uint_eq(fread(buf, 1, sizeof(buf) - 1, f), strlen(job));
    fclose(f);
    ck_assert_str_eq(buf, job);
}
END_TEST

START_TEST(test_orphan_mark_once_then_forget)
{
    set_t set = good_set();
    apr_time_t since = 0, now = apr_time_now();
    apr_array_header_t *sites, *events;
    int fresh = 0;

    ck_assert_int_eq(
        at_live_promote(store, SITE, set.key, set.key_len, set.chain, set.chain_len, pool),
        APR_SUCCESS);
    ck_assert_int_eq(at_store_save(store, AT_STORE_JOBS, NULL, "other.example.org.json", "{}", 2,
                                   AT_STORE_PUBLIC, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(
        at_store_save(store, AT_STORE_JOBS, NULL, "_rate-ca.json", "{}", 2, AT_STORE_PUBLIC, pool),
        APR_SUCCESS);
    ck_assert_int_eq(at_orphan_stored_sites(&sites, store, pool), APR_SUCCESS);
    ck_assert_int_eq(sites->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(sites, 0, const char *), "other.example.org");
    ck_assert_str_eq(APR_ARRAY_IDX(sites, 1, const char *), SITE);
    ck_assert_int_eq(at_orphan_mark(&since, &fresh, store, SITE, now - DAY, pool), APR_SUCCESS);
    ck_assert(fresh);
    ck_assert_int_eq(apr_time_sec(since), apr_time_sec(now - DAY));
    ck_assert_int_eq(at_orphan_mark(&since, &fresh, store, SITE, now, pool), APR_SUCCESS);
    ck_assert(!fresh);
    ck_assert_int_eq(apr_time_sec(since), apr_time_sec(now - DAY));
    ck_assert_int_eq(at_store_save(store, AT_STORE_JOBS, NULL, SITE AT_JOB_REQUEST_SUFFIX, "", 0,
                                   AT_STORE_PUBLIC, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(at_orphan_forget(store, SITE, now, 1, pool), APR_SUCCESS);
    ck_assert(!item_exists(AT_STORE_LIVE, SITE, AT_CERTSET_CHAIN));
    ck_assert(!item_exists(AT_STORE_JOBS, NULL, SITE AT_JOB_SUFFIX));
    ck_assert(!item_exists(AT_STORE_JOBS, NULL, SITE AT_JOB_REQUEST_SUFFIX));
    ck_assert_int_eq(at_event_take(&events, store, pool), APR_SUCCESS);
    ck_assert_int_eq(events->nelts, 1);
    ck_assert_int_eq(APR_ARRAY_IDX(events, 0, at_event_t *)->kind, AT_EVENT_ORPHANED);
    ck_assert_str_ne(APR_ARRAY_IDX(events, 0, at_event_t *)->serial, "");
}
END_TEST

START_TEST(test_temp_names_are_those_of_store_fs)
{
    ck_assert(at_sweep_is_temp_name(".privkey.pem.tmp.a1B2c3"));
    ck_assert(at_sweep_is_temp_name(".x.tmp.ZZZZZZ"));
    ck_assert(!at_sweep_is_temp_name("privkey.pem.tmp.a1B2c3"));
    ck_assert(!at_sweep_is_temp_name(".privkey.pem"));
    ck_assert(!at_sweep_is_temp_name(".privkey.pem.tmp.a1B2c"));
    ck_assert(!at_sweep_is_temp_name(".privkey.pem.tmp.a1B2c-"));
    ck_assert(!at_sweep_is_temp_name("..tmp.abcdef"));
    ck_assert(!at_sweep_is_temp_name("."));
    ck_assert(!at_sweep_is_temp_name(".."));
}
END_TEST

START_TEST(test_sweep_staging_removes_unfinished_sets_only)
{
    apr_time_t now = apr_time_now();
    apr_array_header_t *names = apr_array_make(pool, 4, sizeof(const char *));
    int removed = -1;

    make_dir("staging");
    /* old.example: killed while writing (key only), long ago */
    make_dir("staging/old.example");
    write_file("staging/old.example/privkey.pem", "k");
    age("staging/old.example/privkey.pem", 10 * MINUTE);
    age("staging/old.example", 10 * MINUTE);
    /* fresh.example: being written right now */
    make_dir("staging/fresh.example");
    write_file("staging/fresh.example/privkey.pem", "k");
    /* done.example: complete (ready), old: the activator's, never swept */
    make_dir("staging/done.example");
    write_file("staging/done.example/privkey.pem", "k");
    write_file("staging/done.example/" READY, "");
    age("staging/done.example/privkey.pem", DAY);
    age("staging/done.example/" READY, DAY);
    age("staging/done.example", DAY);
    /* file.example: a file where a set should be, old */
    write_file("staging/file.example", "x");
    age("staging/file.example", 10 * MINUTE);
    /* other.example: old and unfinished, but not one of the names asked about */
    make_dir("staging/other.example");
    age("staging/other.example", 10 * MINUTE);
    APR_ARRAY_PUSH(names, const char *) = "old.example";
    APR_ARRAY_PUSH(names, const char *) = "fresh.example";
    APR_ARRAY_PUSH(names, const char *) = "done.example";
    APR_ARRAY_PUSH(names, const char *) = "file.example";
    APR_ARRAY_PUSH(names, const char *) = "missing.example";

    ck_assert_int_eq(at_sweep_staging(store, names, READY, 5 * MINUTE, now, &removed, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(removed, 2);
    ck_assert(!exists("staging/old.example"));
    ck_assert(!exists("staging/file.example"));
    ck_assert(exists("staging/fresh.example/privkey.pem"));
    ck_assert(exists("staging/done.example/" READY));
    ck_assert(exists("staging/other.example"));

    /* cold start: whatever its age */
    ck_assert_int_eq(at_sweep_staging(store, names, READY, 0, now, &removed, pool), APR_SUCCESS);
    ck_assert_int_eq(removed, 1);
    ck_assert(!exists("staging/fresh.example"));
    ck_assert(exists("staging/done.example/" READY));
    ck_assert_int_eq(at_sweep_staging(store, NULL, READY, 0, now, &removed, pool), APR_SUCCESS);
    ck_assert_int_eq(removed, 1);
    ck_assert(!exists("staging/other.example"));
    ck_assert(exists("staging/done.example/" READY));
}
END_TEST

START_TEST(test_sweep_staging_judges_a_set_by_its_newest_file)
{
    apr_time_t now = apr_time_now();
    int removed = -1;

    make_dir("staging");
    make_dir("staging/busy.example");
    write_file("staging/busy.example/privkey.pem", "k");
    write_file("staging/busy.example/.fullchain.pem.tmp.Ab12Cd", "c"); /* a write under way */
    age("staging/busy.example/privkey.pem", 10 * MINUTE);
    age("staging/busy.example", 10 * MINUTE);
    ck_assert_int_eq(at_sweep_staging(store, NULL, READY, 5 * MINUTE, now, &removed, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(removed, 0);
    ck_assert(exists("staging/busy.example/privkey.pem"));
}
END_TEST

START_TEST(test_sweep_staging_leaves_a_moved_in_tree_and_link_targets)
{
    apr_time_t now = apr_time_now();
    const char *outside = apr_pstrcat(pool, store_dir, "-outside", NULL);
    const char *precious = apr_pstrcat(pool, outside, "/precious", NULL);
    int removed = -1;

    ck_assert_int_eq(mkdir(outside, 0755), 0);
    ck_assert_int_eq(close(open(precious, O_CREAT | O_WRONLY, 0644)), 0);
    make_dir("staging");
    /* tree.example: unfinished and old, with a tree and links moved into it */
    make_dir("staging/tree.example");
    write_file("staging/tree.example/privkey.pem", "k");
    make_dir("staging/tree.example/home");
    write_file("staging/tree.example/home/privkey.pem", "theirs");
    write_file("staging/tree.example/home/notes", "theirs");
    ck_assert_int_eq(symlink(outside, store_path("staging/tree.example/outside")), 0);
    ck_assert_int_eq(symlink(outside, store_path("staging/tree.example/fullchain.pem")), 0);
    age("staging/tree.example", 10 * MINUTE);

    ck_assert_int_eq(at_sweep_staging(store, NULL, READY, 0, now, &removed, pool), APR_SUCCESS);
    ck_assert_int_eq(removed, 1);
    /* the set's name is free; what the store did not make went aside with the directory */
    ck_assert(!exists("staging/tree.example"));
    ck_assert_int_eq(glob_count("staging/.tree.example.aside.*/home/privkey.pem"), 1);
    ck_assert_int_eq(glob_count("staging/.tree.example.aside.*/home/notes"), 1);
    ck_assert_int_eq(glob_count("staging/.tree.example.aside.*/privkey.pem"), 0);
    ck_assert_int_eq(access(precious, F_OK), 0);
    ck_assert_int_eq(unlink(precious), 0);
    ck_assert_int_eq(rmdir(outside), 0);
}
END_TEST

START_TEST(test_sweep_staging_removes_a_temp_set_a_killed_writer_left)
{
    apr_time_t now = apr_time_now();
    int removed = -1;

    make_dir("staging");
    make_dir("staging/.old.example.tmp.Ab12Cd");
    write_file("staging/.old.example.tmp.Ab12Cd/privkey.pem", "k");
    write_file("staging/.old.example.tmp.Ab12Cd/" READY, "");
    age("staging/.old.example.tmp.Ab12Cd/privkey.pem", 10 * MINUTE);
    age("staging/.old.example.tmp.Ab12Cd/" READY, 10 * MINUTE);
    age("staging/.old.example.tmp.Ab12Cd", 10 * MINUTE);
    make_dir("staging/.new.example.tmp.Xy34Zw"); /* being written right now */
    write_file("staging/.new.example.tmp.Xy34Zw/privkey.pem", "k");

    ck_assert_int_eq(at_sweep_staging(store, NULL, READY, 5 * MINUTE, now, &removed, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(removed, 1);
    ck_assert(!exists("staging/.old.example.tmp.Ab12Cd"));
    ck_assert(exists("staging/.new.example.tmp.Xy34Zw/privkey.pem"));
}
END_TEST

START_TEST(test_sweep_challenges_removes_old_responses)
{
    int removed = -1;

    ck_assert_int_eq(at_sweep_challenges(store, MINUTE, apr_time_now(), &removed, pool),
                     APR_SUCCESS); /* no challenges/ yet */
    ck_assert_int_eq(removed, 0);
    make_dir("challenges");
    write_file("challenges/old-token", "a");
    write_file("challenges/new-token", "b");
    age("challenges/old-token", 10 * MINUTE);
    ck_assert_int_eq(at_sweep_challenges(store, 5 * MINUTE, apr_time_now(), &removed, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(removed, 1);
    ck_assert(!exists("challenges/old-token"));
    ck_assert(exists("challenges/new-token"));
    ck_assert_int_eq(at_sweep_challenges(store, 0, apr_time_now(), &removed, pool), APR_SUCCESS);
    ck_assert_int_eq(removed, 1);
    ck_assert(!exists("challenges/new-token"));
}
END_TEST

START_TEST(test_sweep_temp_files_everywhere_but_nothing_else)
{
    int removed = -1;
    set_t set = good_set();

    promote(&set); /* live/SITE with real items */
    make_dir("jobs");
    write_file("jobs/.site.json.tmp.aaaaaa", "{");
    write_file("jobs/site.json", "{}");
    write_file("live/" SITE "/.fullchain.pem.tmp.bbbbbb", "-----BEGIN");
    write_file("live/" SITE "/.privkey.pem.tmp.cccccc", "-----BEGIN");
    make_dir("accounts");
    make_dir("accounts/ca");
    write_file("accounts/ca/.account.key.tmp.dddddd", "k");
    ck_assert_int_eq(symlink("/etc/passwd", store_path("jobs/.passwd.tmp.eeeeee")), 0);
    make_dir("accounts/ca/deeper");
    write_file("accounts/ca/deeper/.x.tmp.ffffff", "too deep for the store");
    age("live/" SITE "/.privkey.pem.tmp.cccccc", HOUR);

    /* with an age bound, only the old one goes */
    ck_assert_int_eq(at_sweep_temp_files(store, MINUTE, apr_time_now(), &removed, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(removed, 1);
    ck_assert(!exists("live/" SITE "/.privkey.pem.tmp.cccccc"));
    ck_assert(exists("live/" SITE "/.fullchain.pem.tmp.bbbbbb"));
    /* cold start: every temp file, nothing else */
    ck_assert_int_eq(at_sweep_temp_files(store, 0, apr_time_now(), &removed, pool), APR_SUCCESS);
    ck_assert_int_eq(removed, 3);
    ck_assert(!exists("jobs/.site.json.tmp.aaaaaa"));
    ck_assert(!exists("live/" SITE "/.fullchain.pem.tmp.bbbbbb"));
    ck_assert(!exists("accounts/ca/.account.key.tmp.dddddd"));
    ck_assert(exists("jobs/.passwd.tmp.eeeeee")); /* a link is no temp file of ours */
    ck_assert(exists("accounts/ca/deeper/.x.tmp.ffffff"));
    ck_assert(exists("jobs/site.json"));
    assert_live_is(&set);
}
END_TEST

static Suite *live_suite(void)
{
    Suite *s = suite_create("live");
    TCase *journal = tcase_create("journal");
    TCase *archive = tcase_create("archive");
    TCase *sweep = tcase_create("sweep");

    tcase_add_checked_fixture(journal, setup, teardown);
    tcase_add_test(journal, test_promote_writes_the_pair_and_leaves_no_journal);
    tcase_add_test(journal, test_a_crash_at_every_step_leaves_the_old_or_the_new_pair);
    tcase_add_test(journal, test_an_interrupted_first_promotion_leaves_nothing_or_the_new_pair);
    tcase_add_test(journal, test_promote_refuses_a_key_of_another_set);
    suite_add_tcase(s, journal);
    tcase_add_checked_fixture(archive, setup, teardown);
    tcase_add_test(archive, test_archive_keeps_a_copy_named_by_its_stamp);
    tcase_add_test(archive, test_purge_keeps_at_most_the_newest_within_the_grace_period);
    tcase_add_test(archive, test_purge_drops_half_sets_and_keeps_foreign_items);
    tcase_add_test(archive, test_restore_brings_back_the_newest_usable_archived_set);
    tcase_add_test(archive, test_retire_archives_then_empties_live);
    tcase_add_test(archive, test_purge_all_purges_every_sites_archive);
    tcase_add_test(archive, test_orphan_mark_once_then_forget);
    tcase_add_test(archive, test_orphan_mark_leaves_a_job_file_it_refuses_untouched);
    suite_add_tcase(s, archive);
    tcase_add_checked_fixture(sweep, setup, teardown);
    tcase_add_test(sweep, test_temp_names_are_those_of_store_fs);
    tcase_add_test(sweep, test_sweep_staging_removes_unfinished_sets_only);
    tcase_add_test(sweep, test_sweep_staging_judges_a_set_by_its_newest_file);
    tcase_add_test(sweep, test_sweep_staging_leaves_a_moved_in_tree_and_link_targets);
    tcase_add_test(sweep, test_sweep_staging_removes_a_temp_set_a_killed_writer_left);
    tcase_add_test(sweep, test_sweep_challenges_removes_old_responses);
    tcase_add_test(sweep, test_sweep_temp_files_everywhere_but_nothing_else);
    suite_add_tcase(s, sweep);
    return s;
}

AT_UNIT_MAIN(live_suite)
