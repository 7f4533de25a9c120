/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_store_iface.c: what a network backend must also answer, checked on the filesystem one:
 * stat, generation, watch and leases (at_store.h).
 *
 * The one idea: callers stopped looking at paths, so these calls must tell them the truth. Every
 * assertion is about what a caller observes: a set that is there, a generation that moved when
 * something was written and stayed when nothing was, a lease another holder cannot take, and a
 * planted lease file refused as every other read refuses it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw, utimensat */
#endif

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <apr_strings.h>

#include "unit_main.h"
#include "at_core.h"
#include "at_store.h"

#define TEST_LOG_MAX 4096
#define OTHER_UID 65534
#define MODE_BITS 07777
#define TOKEN_HEX 32
/* Lease times: long enough for a test step, short enough to wait for. */
#define LEASE_TTL apr_time_from_sec(60)
#define LEASE_SHORT apr_time_from_msec(50)
#define LEASE_EXPIRE_WAIT_US 150000
/* How far back directories are dated so that their change times count as settled. */
#define BACKDATE_SEC 100
#define WATCH_WAIT_MS 2000
#define RACERS 8

static apr_pool_t *pool;
static char tmpdir[256];
static char root[300];
static at_store_t *store;
static char last_log[TEST_LOG_MAX];
static int backdate_step;

static void capture_log(void *baton, at_log_level_e level, apr_status_t rv, const char *msg)
{
    (void)baton;
    (void)level;
    (void)rv;
    snprintf(last_log, sizeof(last_log), "%s", msg);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    snprintf(tmpdir, sizeof(tmpdir), "%s/test_store_iface.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(root, sizeof(root), "%s/store", tmpdir);
    at_log_set(capture_log, NULL, AT_LOG_TRACE);
    last_log[0] = '\0';
    backdate_step = 0;
    ck_assert_int_eq(at_store_fs_open(&store, pool, root), APR_SUCCESS);
}

static void teardown(void)
{
    at_log_set(NULL, NULL, AT_LOG_ERR);
    nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    apr_pool_destroy(pool);
}

static const char *in_root(const char *rel)
{
    return apr_pstrcat(pool, root, "/", rel, NULL);
}

static void save_text(at_store_group_e g, const char *name, const char *item, const char *text)
{
    ck_assert_int_eq(at_store_save(store, g, name, item, text, strlen(text), AT_STORE_PUBLIC, pool),
                     APR_SUCCESS);
}

/* Dates the directories back, each time to another moment: their change times are then settled
 * (older than any clock tick), as they are in a store where nothing happened for a while. */
static void backdate(const char *const *rels, int count)
{
    struct timespec times[2];
    int i;

    ++backdate_step;
    for (i = 0; i < count; i++) {
        times[0].tv_sec = times[1].tv_sec = time(NULL) - BACKDATE_SEC - backdate_step;
        times[0].tv_nsec = times[1].tv_nsec = 0;
        ck_assert_msg(utimensat(AT_FDCWD, in_root(rels[i]), times, AT_SYMLINK_NOFOLLOW) == 0,
                      "utimensat %s: %s", rels[i], strerror(errno));
    }
}

static apr_uint64_t generation(at_store_group_e g)
{
    apr_uint64_t gen = 1;

    ck_assert_int_eq(at_store_generation(store, g, &gen, pool), APR_SUCCESS);
    return gen;
}

/* ---- stat ---------------------------------------------------------------------------------- */

START_TEST(test_stat_tells_nothing_item_and_set)
{
    at_store_stat_t st;
    struct stat os;

    ck_assert_int_eq(at_store_stat(store, AT_STORE_STAGING, "site", NULL, &st, pool), APR_SUCCESS);
    ck_assert_int_eq(st.exists, 0);
    ck_assert_int_eq(at_store_stat(store, AT_STORE_JOBS, NULL, "site.json", &st, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(st.exists, 0);
    save_text(AT_STORE_STAGING, "site", "ready", "");
    save_text(AT_STORE_JOBS, NULL, "site.json", "{\"a\": 1}");
    ck_assert_int_eq(at_store_stat(store, AT_STORE_STAGING, "site", NULL, &st, pool), APR_SUCCESS);
    ck_assert(st.exists && st.is_set);
    ck_assert_int_eq(st.size, 0);
    ck_assert_int_eq(at_store_stat(store, AT_STORE_JOBS, NULL, "site.json", &st, pool),
                     APR_SUCCESS);
    ck_assert(st.exists && !st.is_set);
    ck_assert_int_eq(st.size, 8);
    ck_assert_int_eq(stat(in_root("jobs/site.json"), &os), 0);
    ck_assert_int_eq(st.version, (apr_uint64_t)os.st_ino);
    ck_assert_int_eq(apr_time_sec(st.mtime), os.st_mtim.tv_sec);
    ck_assert_ptr_null(st.why);
    /* the group itself */
    ck_assert_int_eq(at_store_stat(store, AT_STORE_JOBS, NULL, NULL, &st, pool), APR_SUCCESS);
    ck_assert(st.exists && st.is_set);
    /* a bad component never reaches the backend */
    ck_assert_int_eq(at_store_stat(store, AT_STORE_STAGING, "../x", NULL, &st, pool), AT_EARG);
}
END_TEST

START_TEST(test_stat_refuses_link_and_open_modes_as_loads_do)
{
    at_store_stat_t st;

    save_text(AT_STORE_STAGING, "real", "ready", "");
    ck_assert_int_eq(symlink(in_root("staging/real"), in_root("staging/site")), 0);
    ck_assert_int_eq(at_store_stat(store, AT_STORE_STAGING, "site", NULL, &st, pool), AT_EMODE);
    ck_assert_ptr_nonnull(strstr(st.why, "not a directory"));
    ck_assert_ptr_nonnull(strstr(last_log, "symbolic link"));
    ck_assert_int_eq(st.exists, 0);
    /* nor through the link */
    ck_assert_int_eq(at_store_stat(store, AT_STORE_STAGING, "site", "ready", &st, pool), AT_EMODE);
    ck_assert_int_eq(chmod(in_root("staging/real"), 0777), 0);
    ck_assert_int_eq(at_store_stat(store, AT_STORE_STAGING, "real", NULL, &st, pool), AT_EMODE);
    ck_assert_ptr_nonnull(strstr(st.why, "mode 0777"));
    ck_assert_int_eq(chmod(in_root("staging/real"), 0755), 0);
    ck_assert_int_eq(chmod(in_root("staging/real/ready"), 0666), 0);
    ck_assert_int_eq(at_store_stat(store, AT_STORE_STAGING, "real", "ready", &st, pool), AT_EMODE);
    if (geteuid() == 0) {
        ck_assert_int_eq(chmod(in_root("staging/real/ready"), 0644), 0);
        ck_assert_int_eq(chown(in_root("staging/real"), OTHER_UID, OTHER_UID), 0);
        ck_assert_int_eq(at_store_stat(store, AT_STORE_STAGING, "real", NULL, &st, pool), AT_EMODE);
        ck_assert_ptr_nonnull(strstr(st.why, "owned by uid 65534"));
        at_store_fs_trust_owner(store, OTHER_UID);
        ck_assert_int_eq(at_store_stat(store, AT_STORE_STAGING, "real", NULL, &st, pool),
                         APR_SUCCESS);
        ck_assert(st.exists && st.is_set);
    }
}
END_TEST

/* ---- generation ---------------------------------------------------------------------------- */

START_TEST(test_generation_of_a_flat_group_moves_with_every_write_only)
{
    static const char *const jobs[] = {"jobs"};
    apr_uint64_t before, after;

    ck_assert_int_eq(generation(AT_STORE_JOBS), 0); /* no jobs/ yet */
    save_text(AT_STORE_JOBS, NULL, "a.json", "{}");
    backdate(jobs, 1);
    before = generation(AT_STORE_JOBS);
    ck_assert_uint_ne(before, 0);
    ck_assert_uint_eq(generation(AT_STORE_JOBS), before); /* nothing changed */
    /* a load, a listing, a stat change nothing */
    {
        apr_array_header_t *items;
        at_store_stat_t st;
        char *text;

        ck_assert_int_eq(
            at_store_load(store, AT_STORE_JOBS, NULL, "a.json", &text, NULL, AT_STORE_PUBLIC, pool),
            APR_SUCCESS);
        ck_assert_int_eq(at_store_list(store, AT_STORE_JOBS, NULL, &items, pool), APR_SUCCESS);
        ck_assert_int_eq(at_store_stat(store, AT_STORE_JOBS, NULL, "a.json", &st, pool),
                         APR_SUCCESS);
    }
    ck_assert_uint_eq(generation(AT_STORE_JOBS), before);
    save_text(AT_STORE_JOBS, NULL, "a.json", "{\"b\": 2}"); /* replaced */
    after = generation(AT_STORE_JOBS);
    ck_assert_uint_ne(after, before);
    /* just changed: every look gives a new number until the change time is settled, so that a
     * second change within one clock tick is never missed */
    ck_assert_uint_ne(generation(AT_STORE_JOBS), after);
    backdate(jobs, 1);
    before = generation(AT_STORE_JOBS);
    ck_assert_int_eq(at_store_remove(store, AT_STORE_JOBS, NULL, "a.json", pool), APR_SUCCESS);
    ck_assert_uint_ne(generation(AT_STORE_JOBS), before);
}
END_TEST

START_TEST(test_generation_of_sets_sees_saves_inside_a_set)
{
    static const char *const both[] = {"staging", "staging/one"};
    at_store_item_t items[] = {{"ready", "", 0, AT_STORE_PUBLIC}};
    apr_uint64_t before;

    save_text(AT_STORE_STAGING, "one", "fullchain.pem", "CHAIN");
    backdate(both, 2);
    before = generation(AT_STORE_STAGING);
    ck_assert_uint_eq(generation(AT_STORE_STAGING), before);
    /* an item saved inside the set changes the set's directory, not staging/ itself */
    save_text(AT_STORE_STAGING, "one", "ready", "");
    {
        struct stat st;

        ck_assert_int_eq(stat(in_root("staging"), &st), 0);
        ck_assert_int_lt(st.st_mtim.tv_sec, time(NULL) - BACKDATE_SEC); /* staging/ as it was */
    }
    ck_assert_uint_ne(generation(AT_STORE_STAGING), before);
    /* a set arriving whole */
    backdate(both, 2);
    before = generation(AT_STORE_STAGING);
    ck_assert_int_eq(at_store_save_set(store, AT_STORE_STAGING, "two", items, 1, pool),
                     APR_SUCCESS);
    ck_assert_uint_ne(generation(AT_STORE_STAGING), before);
    /* a set purged */
    {
        static const char *const all[] = {"staging", "staging/one", "staging/two"};
        static const char *const names[] = {"ready"};

        backdate(all, 3);
        before = generation(AT_STORE_STAGING);
        ck_assert_uint_eq(generation(AT_STORE_STAGING), before);
        ck_assert_int_eq(at_store_purge_items(store, AT_STORE_STAGING, "two", names, 1, pool),
                         APR_SUCCESS);
        ck_assert_uint_ne(generation(AT_STORE_STAGING), before);
    }
}
END_TEST

/* ---- watch --------------------------------------------------------------------------------- */

static int readable(int fd)
{
    struct pollfd pfd = {fd, POLLIN, 0};

    return poll(&pfd, 1, WATCH_WAIT_MS) > 0 && (pfd.revents & POLLIN);
}

START_TEST(test_watch_wakes_for_a_set_and_reports_a_lost_directory)
{
    at_store_item_t items[] = {{"ready", "", 0, AT_STORE_PUBLIC}};
    apr_pool_t *wp;
    int fd;

    ck_assert_int_eq(at_store_watch(store, AT_STORE_STAGING, &fd, pool), APR_ENOENT);
    ck_assert_int_eq(fd, -1);
    ck_assert_int_eq(mkdir(in_root("staging"), 0700), 0);
    ck_assert_int_eq(apr_pool_create(&wp, pool), APR_SUCCESS);
    ck_assert_int_eq(at_store_watch(store, AT_STORE_STAGING, &fd, wp), APR_SUCCESS);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(at_store_save_set(store, AT_STORE_STAGING, "site", items, 1, pool),
                     APR_SUCCESS);
    ck_assert(readable(fd));
    ck_assert_int_eq(at_store_watch_drain(store, fd), APR_SUCCESS);
    ck_assert_int_eq(rename(in_root("staging"), in_root("staging.old")), 0);
    ck_assert(readable(fd));
    ck_assert_int_eq(at_store_watch_drain(store, fd), APR_EOF);
    apr_pool_destroy(wp); /* closes it */
    ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
}
END_TEST

/* ---- leases -------------------------------------------------------------------------------- */

static const char *token(void)
{
    char *t = NULL;

    ck_assert_int_eq(at_store_lease_token(&t, pool), APR_SUCCESS);
    return t;
}

START_TEST(test_lease_token_is_random_hex)
{
    const char *a = token(), *b = token();
    size_t i;

    ck_assert_uint_eq(strlen(a), TOKEN_HEX);
    for (i = 0; i < TOKEN_HEX; i++) {
        ck_assert_ptr_nonnull(strchr("0123456789abcdef", a[i]));
    }
    ck_assert(at_store_component_valid(a));
    ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(test_lease_take_busy_renew_holder_release)
{
    const char *mine = token(), *theirs = token();
    apr_time_t before = apr_time_now(), expires;
    struct stat st;
    char *holder;

    ck_assert_int_eq(at_store_lease_holder(store, "site", &holder, &expires, pool), APR_ENOENT);
    ck_assert_int_eq(at_store_lease_take(store, "site", mine, LEASE_TTL, pool), APR_SUCCESS);
    ck_assert_int_eq(lstat(in_root("leases/site"), &st), 0);
    ck_assert_int_eq(st.st_mode & MODE_BITS, 0600);
    ck_assert_int_eq(lstat(in_root("leases"), &st), 0);
    ck_assert_int_eq(st.st_mode & MODE_BITS, 0700);
    ck_assert_int_eq(at_store_lease_take(store, "site", theirs, LEASE_TTL, pool), AT_EBUSY);
    ck_assert_int_eq(at_store_lease_renew(store, "site", theirs, LEASE_TTL, pool), AT_ELOST);
    ck_assert_int_eq(at_store_lease_holder(store, "site", &holder, &expires, pool), APR_SUCCESS);
    ck_assert_str_eq(holder, mine);
    ck_assert(expires >= before + LEASE_TTL && expires <= apr_time_now() + LEASE_TTL);
    /* taking it again with our token renews it */
    ck_assert_int_eq(at_store_lease_take(store, "site", mine, LEASE_TTL, pool), APR_SUCCESS);
    ck_assert_int_eq(at_store_lease_renew(store, "site", mine, LEASE_TTL, pool), APR_SUCCESS);
    /* only the holder releases it: another token changes nothing */
    ck_assert_int_eq(at_store_lease_release(store, "site", theirs, pool), APR_SUCCESS);
    ck_assert_int_eq(at_store_lease_holder(store, "site", &holder, &expires, pool), APR_SUCCESS);
    ck_assert_str_eq(holder, mine);
    ck_assert_int_eq(at_store_lease_release(store, "site", mine, pool), APR_SUCCESS);
    ck_assert_int_eq(at_store_lease_holder(store, "site", &holder, &expires, pool), APR_ENOENT);
    ck_assert_int_eq(at_store_lease_take(store, "site", theirs, LEASE_TTL, pool), APR_SUCCESS);
    /* leases are per site */
    ck_assert_int_eq(at_store_lease_take(store, "other", mine, LEASE_TTL, pool), APR_SUCCESS);
    /* bad names and tokens never reach the backend */
    ck_assert_int_eq(at_store_lease_take(store, "../x", mine, LEASE_TTL, pool), AT_EARG);
    ck_assert_int_eq(at_store_lease_take(store, "site", "a b", LEASE_TTL, pool), AT_EARG);
    ck_assert_int_eq(at_store_lease_take(store, "site", mine, 0, pool), AT_EARG);
}
END_TEST

START_TEST(test_lease_is_lost_after_expiry_and_taken_over)
{
    const char *mine = token(), *theirs = token();
    apr_time_t expires;
    char *holder;

    ck_assert_int_eq(at_store_lease_take(store, "site", mine, LEASE_SHORT, pool), APR_SUCCESS);
    ck_assert_int_eq(at_store_lease_take(store, "site", theirs, LEASE_TTL, pool), AT_EBUSY);
    usleep(LEASE_EXPIRE_WAIT_US);
    ck_assert_int_eq(at_store_lease_holder(store, "site", &holder, &expires, pool), APR_ENOENT);
    ck_assert_int_eq(at_store_lease_renew(store, "site", mine, LEASE_TTL, pool), AT_ELOST);
    ck_assert_int_eq(at_store_lease_take(store, "site", theirs, LEASE_TTL, pool), APR_SUCCESS);
    ck_assert_int_eq(at_store_lease_renew(store, "site", mine, LEASE_TTL, pool), AT_ELOST);
    ck_assert_int_eq(at_store_lease_holder(store, "site", &holder, &expires, pool), APR_SUCCESS);
    ck_assert_str_eq(holder, theirs);
}
END_TEST

START_TEST(test_lease_races_have_one_winner)
{
    pid_t pids[RACERS];
    int i, status, won = 0, busy = 0;

    for (i = 0; i < RACERS; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            apr_status_t rv = at_store_lease_take(store, "site", token(), LEASE_TTL, pool);

            _exit(rv == APR_SUCCESS ? 0 : rv == AT_EBUSY ? 1 : 2);
        }
    }
    for (i = 0; i < RACERS; i++) {
        ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
        ck_assert(WIFEXITED(status));
        won += WEXITSTATUS(status) == 0;
        busy += WEXITSTATUS(status) == 1;
    }
    ck_assert_int_eq(won, 1);
    ck_assert_int_eq(busy, RACERS - 1);
}
END_TEST

/* A lease file is believed only as any secret item is: planted ones are refused, never taken. */
static void plant(const char *text, mode_t mode)
{
    const char *path = in_root("leases/site");
    FILE *f;

    mkdir(in_root("leases"), 0700);
    unlink(path);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    ck_assert_int_eq(chmod(path, mode), 0);
}

START_TEST(test_lease_file_planted_with_wrong_mode_owner_or_content_is_refused)
{
    const char *mine = token();
    apr_time_t expires;
    char *holder;
    const char *expired = "0123 1\n"; /* long expired: would be taken over if believed */

    plant(expired, 0644);
    ck_assert_int_eq(at_store_lease_take(store, "site", mine, LEASE_TTL, pool), AT_EMODE);
    ck_assert_ptr_nonnull(strstr(last_log, "leases/site"));
    ck_assert_int_eq(at_store_lease_holder(store, "site", &holder, &expires, pool), AT_EMODE);
    plant("not a lease", 0600);
    ck_assert_int_eq(at_store_lease_take(store, "site", mine, LEASE_TTL, pool), AT_EPROTO);
    ck_assert_ptr_nonnull(strstr(last_log, "refusing the lease"));
    unlink(in_root("leases/site"));
    ck_assert_int_eq(symlink("/etc/hostname", in_root("leases/site")), 0);
    ck_assert_int_eq(at_store_lease_take(store, "site", mine, LEASE_TTL, pool), AT_EMODE);
    if (geteuid() == 0) {
        unlink(in_root("leases/site"));
        plant(expired, 0600);
        ck_assert_int_eq(chown(in_root("leases/site"), OTHER_UID, OTHER_UID), 0);
        ck_assert_int_eq(at_store_lease_take(store, "site", mine, LEASE_TTL, pool), AT_EMODE);
        ck_assert_ptr_nonnull(strstr(last_log, "uid 65534"));
        ck_assert_int_eq(at_store_lease_release(store, "site", "0123", pool), AT_EMODE);
    }
    /* the control: the same expired lease, written as the store writes it, is taken over */
    unlink(in_root("leases/site"));
    plant(expired, 0600);
    ck_assert_int_eq(at_store_lease_take(store, "site", mine, LEASE_TTL, pool), APR_SUCCESS);
}
END_TEST

static Suite *store_iface_suite(void)
{
    Suite *s = suite_create("store_iface");
    TCase *tc = tcase_create("fs");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_stat_tells_nothing_item_and_set);
    tcase_add_test(tc, test_stat_refuses_link_and_open_modes_as_loads_do);
    tcase_add_test(tc, test_generation_of_a_flat_group_moves_with_every_write_only);
    tcase_add_test(tc, test_generation_of_sets_sees_saves_inside_a_set);
    tcase_add_test(tc, test_watch_wakes_for_a_set_and_reports_a_lost_directory);
    tcase_add_test(tc, test_lease_token_is_random_hex);
    tcase_add_test(tc, test_lease_take_busy_renew_holder_release);
    tcase_add_test(tc, test_lease_is_lost_after_expiry_and_taken_over);
    tcase_add_test(tc, test_lease_races_have_one_winner);
    tcase_add_test(tc, test_lease_file_planted_with_wrong_mode_owner_or_content_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

AT_UNIT_MAIN(store_iface_suite)
