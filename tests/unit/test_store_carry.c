/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_store_carry.c: the one-time carry of a store from the old default place to the new one,
 * and the default place itself, checked on a real filesystem.
 *
 * The one idea: after any call the new place holds nothing or a complete copy with its marker,
 * never a part of one; what a crash left (a partial copy beside it) is thrown away and the copy
 * made again; links are never followed; what is carried gets the owners and modes of the new
 * layout; a tree past the bounds is not carried at all; and a store already in use is never
 * touched.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw */
#endif

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "unit_main.h"
#include "at_core.h"
#include "at_store_carry.h"

#define OTHER_UID 65534 /* the ACME account of these tests */
#define OLD_UID 4242    /* who owned the old store's files (User, in a release before) */
#define DEEP_LEVELS 4   /* directories below a site's: live/site/d0/d1/d2/d3, one more than taken */
#define MODE_BITS 07777
#define PATH_MAX_TEST 512
/* A second filesystem for the cross-device case, when this machine has one apart from TMPDIR. */
#define OTHER_FS_DIR "/dev/shm"

static apr_pool_t *pool;
static char tmpdir[256];
static char old_dir[PATH_MAX_TEST];
static char new_dir[PATH_MAX_TEST];

/* The module's layout (store_layout.c): the ACME account's groups, root's live/ and archive/. */
static const at_store_adopt_t layout[AT_STORE_GROUP_COUNT] = {
    [AT_STORE_ACCOUNTS] = {OTHER_UID, OTHER_UID, 0700, 1, 1, 1},
    [AT_STORE_STAGING] = {OTHER_UID, OTHER_UID, 0700, 0, 0, 1},
    [AT_STORE_LIVE] = {0, 0, 0700, 1, 0, 1},
    [AT_STORE_CHALLENGES] = {OTHER_UID, OTHER_UID, 0755, 0, 0, 0},
    [AT_STORE_JOBS] = {OTHER_UID, OTHER_UID, 0700, 0, 1, 0},
    [AT_STORE_ARCHIVE] = {0, 0, 0700, 1, 1, 1},
    [AT_STORE_STATUS] = {OTHER_UID, OTHER_UID, 0755, 0, 0, 0},
};

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static const char *at(const char *base, const char *rel)
{
    return apr_pstrcat(pool, base, "/", rel, NULL);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    ck_assert_int_eq(chmod(path, mode), 0);
}

static char *read_file(const char *path)
{
    char buf[1024];
    size_t n;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        return NULL;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return apr_pstrdup(pool, buf);
}

/* An old store as a release before the state directory left it: an account, a live set with a
 * 0600 key, a job file; owners as the ACME account would have them when root runs the test. */
static void make_old_store(const char *dir)
{
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    ck_assert_int_eq(mkdir(at(dir, "accounts"), 0700), 0);
    ck_assert_int_eq(mkdir(at(dir, "accounts/ca.example"), 0700), 0);
    write_file(at(dir, "accounts/ca.example/account.key"), "account key\n", 0600);
    ck_assert_int_eq(mkdir(at(dir, "live"), 0700), 0);
    ck_assert_int_eq(mkdir(at(dir, "live/www.example.org"), 0700), 0);
    write_file(at(dir, "live/www.example.org/privkey.pem"), "site key\n", 0600);
    write_file(at(dir, "live/www.example.org/fullchain.pem"), "chain\n", 0644);
    ck_assert_int_eq(mkdir(at(dir, "jobs"), 0700), 0);
    write_file(at(dir, "jobs/www.example.org.json"), "{}\n", 0600);
    if (geteuid() == 0) {
        ck_assert_int_eq(chown(at(dir, "accounts"), OTHER_UID, OTHER_UID), 0);
        ck_assert_int_eq(chown(at(dir, "accounts/ca.example"), OTHER_UID, OTHER_UID), 0);
        ck_assert_int_eq(chown(at(dir, "accounts/ca.example/account.key"), OTHER_UID, OTHER_UID),
                         0);
    }
}

static void assert_mode(const char *path, mode_t mode)
{
    struct stat st;

    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & MODE_BITS, mode);
}

static void assert_complete_copy(const char *dir)
{
    struct stat st;

    ck_assert_str_eq(read_file(at(dir, "live/www.example.org/privkey.pem")), "site key\n");
    ck_assert_str_eq(read_file(at(dir, "live/www.example.org/fullchain.pem")), "chain\n");
    ck_assert_str_eq(read_file(at(dir, "accounts/ca.example/account.key")), "account key\n");
    ck_assert_str_eq(read_file(at(dir, "jobs/www.example.org.json")), "{}\n");
    assert_mode(at(dir, "live/www.example.org/privkey.pem"), 0600);
    assert_mode(at(dir, "live/www.example.org/fullchain.pem"), 0600);
    assert_mode(at(dir, "jobs/www.example.org.json"), 0644);
    assert_mode(at(dir, "live"), 0700);
    assert_mode(dir, 0755);
    if (geteuid() == 0) {
        ck_assert_int_eq(stat(at(dir, "accounts/ca.example/account.key"), &st), 0);
        ck_assert_int_eq(st.st_uid, OTHER_UID);
    }
}

/* The parents of the new place (var/lib), and with new_too the new place itself, empty. */
static void make_new_parents(int new_too)
{
    ck_assert_int_eq(mkdir(at(tmpdir, "var"), 0755), 0);
    ck_assert_int_eq(mkdir(at(tmpdir, "var/lib"), 0755), 0);
    if (new_too) {
        ck_assert_int_eq(mkdir(new_dir, 0755), 0);
    }
}

static void setup(void)
{
    umask(022);
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    snprintf(tmpdir, sizeof(tmpdir), "%s/test_store_carry.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(old_dir, sizeof(old_dir), "%s/etc/autotls", tmpdir);
    snprintf(new_dir, sizeof(new_dir), "%s/var/lib/autotls", tmpdir);
    ck_assert_int_eq(mkdir(at(tmpdir, "etc"), 0755), 0);
}

static void teardown(void)
{
    nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    apr_pool_destroy(pool);
}

START_TEST(test_old_store_is_carried_whole_with_a_marker)
{
    at_carry_result_t r;

    make_old_store(old_dir);
    ck_assert_int_eq(at_store_carry(&r, old_dir, new_dir, layout, pool), APR_SUCCESS);
    ck_assert_int_eq(r.outcome, AT_CARRY_CARRIED);
    ck_assert_int_eq(r.copied, 4);
    ck_assert_int_eq(r.skipped, 0);
    assert_complete_copy(new_dir);
    ck_assert_str_eq(read_file(at(new_dir, AT_STORE_CARRY_MARKER)),
                     apr_pstrcat(pool, old_dir, "\n", NULL));
    /* the old store is left as it was, and nothing is left beside the new one */
    ck_assert_str_eq(read_file(at(old_dir, "live/www.example.org/privkey.pem")), "site key\n");
    ck_assert_int_eq(access(apr_pstrcat(pool, new_dir, AT_STORE_CARRY_TEMP_SUFFIX, NULL), F_OK),
                     -1);
}
END_TEST

START_TEST(test_second_call_sees_the_marker_and_copies_nothing)
{
    at_carry_result_t r;

    make_old_store(old_dir);
    ck_assert_int_eq(at_store_carry(&r, old_dir, new_dir, layout, pool), APR_SUCCESS);
    write_file(at(old_dir, "live/www.example.org/privkey.pem"), "changed later\n", 0600);
    ck_assert_int_eq(at_store_carry(&r, old_dir, new_dir, layout, pool), APR_SUCCESS);
    ck_assert_int_eq(r.outcome, AT_CARRY_DONE_BEFORE);
    ck_assert_int_eq(r.copied, 0);
    ck_assert_str_eq(read_file(at(new_dir, "live/www.example.org/privkey.pem")), "site key\n");
}
END_TEST

START_TEST(test_partial_copy_of_a_crash_is_replaced_by_a_complete_one)
{
    const char *partial = apr_pstrcat(pool, new_dir, AT_STORE_CARRY_TEMP_SUFFIX, NULL);
    at_carry_result_t r;

    make_old_store(old_dir);
    /* what a crash in the middle of the copy leaves: half a tree, no marker, no new store */
    make_new_parents(0);
    ck_assert_int_eq(mkdir(partial, 0700), 0);
    ck_assert_int_eq(mkdir(at(partial, "live"), 0700), 0);
    ck_assert_int_eq(mkdir(at(partial, "live/www.example.org"), 0700), 0);
    write_file(at(partial, "live/www.example.org/privkey.pem"), "site k", 0600);
    ck_assert_int_eq(symlink("/etc/passwd", at(partial, "live/link")), 0);

    ck_assert_int_eq(at_store_carry(&r, old_dir, new_dir, layout, pool), APR_SUCCESS);
    ck_assert_int_eq(r.outcome, AT_CARRY_CARRIED);
    assert_complete_copy(new_dir);
    ck_assert_int_eq(access(partial, F_OK), -1);
    ck_assert_int_eq(access("/etc/passwd", F_OK), 0); /* the link went, not its target */
}
END_TEST

START_TEST(test_empty_new_directory_gives_way_to_the_copy)
{
    at_carry_result_t r;

    make_old_store(old_dir);
    make_new_parents(1);
    ck_assert_int_eq(at_store_carry(&r, old_dir, new_dir, layout, pool), APR_SUCCESS);
    ck_assert_int_eq(r.outcome, AT_CARRY_CARRIED);
    assert_complete_copy(new_dir);
}
END_TEST

START_TEST(test_store_in_use_at_the_new_place_is_never_touched)
{
    at_carry_result_t r;

    make_old_store(old_dir);
    make_new_parents(1);
    ck_assert_int_eq(mkdir(at(new_dir, "live"), 0700), 0);
    ck_assert_int_eq(at_store_carry(&r, old_dir, new_dir, layout, pool), APR_SUCCESS);
    ck_assert_int_eq(r.outcome, AT_CARRY_IN_USE);
    ck_assert_int_eq(access(at(new_dir, "live/www.example.org"), F_OK), -1);
    ck_assert_int_eq(access(at(new_dir, AT_STORE_CARRY_MARKER), F_OK), -1);
}
END_TEST

START_TEST(test_nothing_at_the_old_place_carries_nothing)
{
    at_carry_result_t r;

    ck_assert_int_eq(at_store_carry(&r, old_dir, new_dir, layout, pool), APR_SUCCESS);
    ck_assert_int_eq(r.outcome, AT_CARRY_NOTHING);
    ck_assert_int_eq(access(new_dir, F_OK), -1);
    /* a directory without live/ or accounts/ is no store either */
    ck_assert_int_eq(mkdir(old_dir, 0755), 0);
    ck_assert_int_eq(mkdir(at(old_dir, "challenges"), 0755), 0);
    ck_assert_int_eq(at_store_carry(&r, old_dir, new_dir, layout, pool), APR_SUCCESS);
    ck_assert_int_eq(r.outcome, AT_CARRY_NOTHING);
    ck_assert_int_eq(access(new_dir, F_OK), -1);
}
END_TEST

START_TEST(test_links_hard_links_and_fifos_stay_behind)
{
    at_carry_result_t r;

    make_old_store(old_dir);
    write_file(at(tmpdir, "secret"), "not the store's\n", 0600);
    ck_assert_int_eq(symlink(at(tmpdir, "secret"), at(old_dir, "live/www.example.org/link.pem")),
                     0);
    ck_assert_int_eq(symlink(tmpdir, at(old_dir, "live/dirlink")), 0);
    ck_assert_int_eq(link(at(tmpdir, "secret"), at(old_dir, "live/www.example.org/hard.pem")), 0);
    ck_assert_int_eq(mkfifo(at(old_dir, "jobs/fifo"), 0600), 0);
    ck_assert_int_eq(at_store_carry(&r, old_dir, new_dir, layout, pool), APR_SUCCESS);
    ck_assert_int_eq(r.outcome, AT_CARRY_CARRIED);
    ck_assert_int_eq(r.copied, 4);
    ck_assert_int_eq(r.skipped, 4);
    assert_complete_copy(new_dir);
    ck_assert_int_eq(access(at(new_dir, "live/www.example.org/link.pem"), F_OK), -1);
    ck_assert_int_eq(access(at(new_dir, "live/www.example.org/hard.pem"), F_OK), -1);
    ck_assert_int_eq(access(at(new_dir, "live/dirlink"), F_OK), -1);
    ck_assert_int_eq(access(at(new_dir, "jobs/fifo"), F_OK), -1);
}
END_TEST

/* The old files' owners and modes (User's, too open) are not carried: each file and directory
 * gets those of its group in the new layout. */
START_TEST(test_carried_files_get_the_owners_and_modes_of_the_new_layout)
{
    static const char *const files[] = {"accounts/ca.example/account.key",
                                        "live/www.example.org/privkey.pem",
                                        "jobs/www.example.org.json"};
    static const struct {
        const char *path;
        uid_t uid;
        mode_t mode;
    } want[] = {
        {"accounts", OTHER_UID, 0700},
        {"accounts/ca.example", OTHER_UID, 0700},
        {"accounts/ca.example/account.key", OTHER_UID, 0600},
        {"live", 0, 0700},
        {"live/www.example.org", 0, 0700},
        {"live/www.example.org/privkey.pem", 0, 0600},
        {"jobs", OTHER_UID, 0700},
        {"jobs/www.example.org.json", OTHER_UID, 0644},
        {"", 0, 0755},
    };
    at_carry_result_t r;
    struct stat st;
    size_t i;

    make_old_store(old_dir);
    for (i = 0; i < sizeof(files) / sizeof(files[0]); ++i) {
        ck_assert_int_eq(chmod(at(old_dir, files[i]), 0666), 0);
    }
    ck_assert_int_eq(chmod(at(old_dir, "live/www.example.org"), 0777), 0);
    ck_assert_int_eq(chmod(old_dir, 0777), 0);
    if (geteuid() == 0) {
        for (i = 0; i < sizeof(files) / sizeof(files[0]); ++i) {
            ck_assert_int_eq(chown(at(old_dir, files[i]), OLD_UID, OLD_UID), 0);
        }
        ck_assert_int_eq(chown(at(old_dir, "live/www.example.org"), OLD_UID, OLD_UID), 0);
        ck_assert_int_eq(chown(old_dir, OLD_UID, OLD_UID), 0);
    }
    ck_assert_int_eq(at_store_carry(&r, old_dir, new_dir, layout, pool), APR_SUCCESS);
    ck_assert_int_eq(r.outcome, AT_CARRY_CARRIED);
    for (i = 0; i < sizeof(want) / sizeof(want[0]); ++i) {
        const char *path = want[i].path[0] != '\0' ? at(new_dir, want[i].path) : new_dir;

        ck_assert_int_eq(lstat(path, &st), 0);
        ck_assert_msg((st.st_mode & MODE_BITS) == want[i].mode, "%s: mode %04o, want %04o",
                      want[i].path, (unsigned)(st.st_mode & MODE_BITS), (unsigned)want[i].mode);
        if (geteuid() == 0) {
            ck_assert_msg(st.st_uid == want[i].uid && st.st_gid == want[i].uid,
                          "%s: owner %ld:%ld, want %ld", want[i].path, (long)st.st_uid,
                          (long)st.st_gid, (long)want[i].uid);
        }
    }
}
END_TEST

/* A tree nested deeper than a carry takes is no store this release wrote: the carry fails whole
 * (no marker, nothing at the new place) instead of carrying a store with parts missing. */
START_TEST(test_a_tree_past_the_depth_bound_is_not_carried_and_gets_no_marker)
{
    const char *deep = at(old_dir, "live/www.example.org");
    at_carry_result_t r;
    int i;

    make_old_store(old_dir);
    for (i = 0; i < DEEP_LEVELS; ++i) {
        deep = apr_psprintf(pool, "%s/d%d", deep, i);
        ck_assert_int_eq(mkdir(deep, 0700), 0);
    }
    write_file(at(deep, "item"), "deep\n", 0600);
    ck_assert_int_eq(at_store_carry(&r, old_dir, new_dir, layout, pool), AT_ETOOLARGE);
    ck_assert_int_eq(r.outcome, AT_CARRY_NOTHING);
    ck_assert_int_eq(access(new_dir, F_OK), -1);
    ck_assert_int_eq(access(apr_pstrcat(pool, new_dir, AT_STORE_CARRY_TEMP_SUFFIX, NULL), F_OK),
                     -1);
    ck_assert_str_eq(read_file(at(deep, "item")), "deep\n"); /* the old store is untouched */
    /* one level less is a store a carry takes whole */
    ck_assert_int_eq(unlink(at(deep, "item")), 0);
    ck_assert_int_eq(rmdir(deep), 0);
    ck_assert_int_eq(at_store_carry(&r, old_dir, new_dir, layout, pool), APR_SUCCESS);
    ck_assert_int_eq(r.outcome, AT_CARRY_CARRIED);
}
END_TEST

/* A link standing where the old store was is not followed: no copy of what it points to. */
START_TEST(test_a_link_in_place_of_the_old_store_is_not_followed)
{
    const char *elsewhere = at(tmpdir, "elsewhere");
    at_carry_result_t r;

    make_old_store(elsewhere);
    ck_assert_int_eq(symlink(elsewhere, old_dir), 0);
    ck_assert_int_ne(at_store_carry(&r, old_dir, new_dir, layout, pool), APR_SUCCESS);
    ck_assert_int_eq(r.outcome, AT_CARRY_NOTHING);
    ck_assert_int_eq(access(new_dir, F_OK), -1);
    ck_assert_int_eq(access(apr_pstrcat(pool, new_dir, AT_STORE_CARRY_TEMP_SUFFIX, NULL), F_OK),
                     -1);
}
END_TEST

START_TEST(test_carry_crosses_filesystems)
{
    char other[PATH_MAX_TEST];
    struct stat a, b;
    at_carry_result_t r;

    if (stat(OTHER_FS_DIR, &a) != 0 || stat(tmpdir, &b) != 0 || a.st_dev == b.st_dev) {
        return; /* no second filesystem here: the same-filesystem tests cover the logic */
    }
    snprintf(other, sizeof(other), "%s/test_store_carry.XXXXXX", OTHER_FS_DIR);
    ck_assert_ptr_nonnull(mkdtemp(other));
    make_old_store(at(other, "old"));
    ck_assert_int_eq(at_store_carry(&r, at(other, "old"), new_dir, layout, pool), APR_SUCCESS);
    nftw(other, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    ck_assert_int_eq(r.outcome, AT_CARRY_CARRIED);
    assert_complete_copy(new_dir);
}
END_TEST

START_TEST(test_default_dir_is_compiled_in_unless_the_environment_names_an_absolute_one)
{
    const char *saved = getenv(AT_STORE_DIR_ENV);
    const char *compiled;

    unsetenv(AT_STORE_DIR_ENV);
    compiled = at_store_default_dir();
    ck_assert_int_eq(compiled[0], '/');
    setenv(AT_STORE_DIR_ENV, "/srv/autotls-test", 1);
    ck_assert_str_eq(at_store_default_dir(), "/srv/autotls-test");
    setenv(AT_STORE_DIR_ENV, "relative/store", 1);
    ck_assert_str_eq(at_store_default_dir(), compiled);
    setenv(AT_STORE_DIR_ENV, "", 1);
    ck_assert_str_eq(at_store_default_dir(), compiled);
    if (saved != NULL) {
        setenv(AT_STORE_DIR_ENV, saved, 1);
    } else {
        unsetenv(AT_STORE_DIR_ENV);
    }
}
END_TEST

static Suite *store_carry_suite(void)
{
    Suite *s = suite_create("store_carry");
    TCase *tc = tcase_create("carry");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_old_store_is_carried_whole_with_a_marker);
    tcase_add_test(tc, test_carried_files_get_the_owners_and_modes_of_the_new_layout);
    tcase_add_test(tc, test_a_tree_past_the_depth_bound_is_not_carried_and_gets_no_marker);
    tcase_add_test(tc, test_a_link_in_place_of_the_old_store_is_not_followed);
    tcase_add_test(tc, test_second_call_sees_the_marker_and_copies_nothing);
    tcase_add_test(tc, test_partial_copy_of_a_crash_is_replaced_by_a_complete_one);
    tcase_add_test(tc, test_empty_new_directory_gives_way_to_the_copy);
    tcase_add_test(tc, test_store_in_use_at_the_new_place_is_never_touched);
    tcase_add_test(tc, test_nothing_at_the_old_place_carries_nothing);
    tcase_add_test(tc, test_links_hard_links_and_fifos_stay_behind);
    tcase_add_test(tc, test_carry_crosses_filesystems);
    tcase_add_test(tc,
                   test_default_dir_is_compiled_in_unless_the_environment_names_an_absolute_one);
    suite_add_tcase(s, tc);
    return s;
}

AT_UNIT_MAIN(store_carry_suite)
