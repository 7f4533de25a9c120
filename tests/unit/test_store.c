/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_store.c: the store's promises, checked on a real filesystem in a fresh temp directory.
 *
 * The one idea: every assertion looks at what is on disk (stat, readdir, bytes) or at what a
 * reader gets back, never at the store's own bookkeeping: modes exact whatever the umask, no
 * torn or half-written item ever visible, nothing too open ever believed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkfifo, nftw */
#endif

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "unit_main.h"
#include "at_core.h"
#include "at_store.h"
#include "../../mod_autotls/lib/store_fs_internal.h"

#define TEST_LOG_MAX 4096
#define CONCURRENT_WRITERS 4
#define CONCURRENT_WRITES 50
#define CONCURRENT_LOADS 200
#define CONCURRENT_SIZE (100 * 1024)
#define CONCURRENT_TIMEOUT 120
#define OTHER_UID 65534
#define MODE_BITS 07777

static apr_pool_t *pool;
static char tmpdir[256];
static char root[300];
static at_store_t *store;
static mode_t saved_umask;
static char last_log[TEST_LOG_MAX];
static int log_count;

static void capture_log(void *baton, at_log_level_e level, apr_status_t rv, const char *msg)
{
    (void)baton;
    (void)level;
    (void)rv;
    snprintf(last_log, sizeof(last_log), "%s", msg);
    log_count++;
}

static void reset_log(void)
{
    last_log[0] = '\0';
    log_count = 0;
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
    saved_umask = umask(022);
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    snprintf(tmpdir, sizeof(tmpdir), "%s/test_store.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(root, sizeof(root), "%s/store", tmpdir);
    at_log_set(capture_log, NULL, AT_LOG_TRACE);
    reset_log();
    at_store_fs_test_fail_before_rename = 0;
    ck_assert_int_eq(at_store_fs_open(&store, pool, root), APR_SUCCESS);
}

static void teardown(void)
{
    at_log_set(NULL, NULL, AT_LOG_ERR);
    at_store_fs_test_fail_before_rename = 0;
    nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    apr_pool_destroy(pool);
    umask(saved_umask);
}

static const char *in_root(const char *rel)
{
    return apr_pstrcat(pool, root, "/", rel, NULL);
}

static mode_t mode_of(const char *rel)
{
    struct stat st;

    ck_assert_msg(lstat(in_root(rel), &st) == 0, "stat %s: %s", rel, strerror(errno));
    return st.st_mode & MODE_BITS;
}

static void write_raw(const char *rel, const char *text, mode_t mode)
{
    const char *path = in_root(rel);
    FILE *f = fopen(path, "w");

    ck_assert_msg(f != NULL, "fopen %s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
    ck_assert_int_eq(chmod(path, mode), 0);
}

static int count_dot_files(const char *rel)
{
    DIR *d = opendir(in_root(rel));
    struct dirent *de;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' && strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

static void save_text(at_store_group_e g, const char *name, const char *item, const char *text,
                      at_store_access_e access)
{
    ck_assert_int_eq(at_store_save(store, g, name, item, text, strlen(text), access, pool),
                     APR_SUCCESS);
}

static apr_status_t load_text(at_store_group_e g, const char *name, const char *item,
                              at_store_access_e access, char **text)
{
    apr_size_t len;

    return at_store_load(store, g, name, item, text, &len, access, pool);
}

START_TEST(test_save_load_round_trip_with_name)
{
    const char data[] = "bin\0ary\nbytes";
    char *out = NULL;
    apr_size_t len = 0;

    ck_assert_int_eq(at_store_save(store, AT_STORE_STAGING, "example.org", "cert.der", data,
                                   sizeof(data), AT_STORE_PUBLIC, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(at_store_load(store, AT_STORE_STAGING, "example.org", "cert.der", &out, &len,
                                   AT_STORE_PUBLIC, pool),
                     APR_SUCCESS);
    ck_assert_uint_eq(len, sizeof(data));
    ck_assert_mem_eq(out, data, sizeof(data));
    ck_assert_int_eq(out[len], '\0');
    ck_assert_int_eq(access(in_root("staging/example.org/cert.der"), F_OK), 0);
}
END_TEST

START_TEST(test_save_load_round_trip_without_name)
{
    char *out = NULL;

    save_text(AT_STORE_JOBS, "", "a.example.json", "{}", AT_STORE_PUBLIC);
    save_text(AT_STORE_JOBS, NULL, "b.example.json", "[1]", AT_STORE_PUBLIC);
    ck_assert_int_eq(load_text(AT_STORE_JOBS, NULL, "a.example.json", AT_STORE_PUBLIC, &out),
                     APR_SUCCESS);
    ck_assert_str_eq(out, "{}");
    ck_assert_int_eq(load_text(AT_STORE_JOBS, "", "b.example.json", AT_STORE_PUBLIC, &out),
                     APR_SUCCESS);
    ck_assert_str_eq(out, "[1]");
    ck_assert_int_eq(access(in_root("jobs/a.example.json"), F_OK), 0);
}
END_TEST

START_TEST(test_save_replaces_whole_item)
{
    char *out = NULL;

    save_text(AT_STORE_LIVE, "s", "fullchain.pem", "a much longer first version", AT_STORE_PUBLIC);
    save_text(AT_STORE_LIVE, "s", "fullchain.pem", "short", AT_STORE_PUBLIC);
    ck_assert_int_eq(load_text(AT_STORE_LIVE, "s", "fullchain.pem", AT_STORE_PUBLIC, &out),
                     APR_SUCCESS);
    ck_assert_str_eq(out, "short");
}
END_TEST

START_TEST(test_missing_item_is_enoent_without_log)
{
    char *out = NULL;

    ck_assert_int_eq(load_text(AT_STORE_LIVE, "nowhere", "privkey.pem", AT_STORE_SECRET, &out),
                     APR_ENOENT);
    save_text(AT_STORE_LIVE, "somewhere", "fullchain.pem", "x", AT_STORE_PUBLIC);
    ck_assert_int_eq(load_text(AT_STORE_LIVE, "somewhere", "privkey.pem", AT_STORE_SECRET, &out),
                     APR_ENOENT);
    ck_assert_int_eq(log_count, 0);
}
END_TEST

/* What every umask must give: exact file modes, exact directory modes. */
static void check_modes_on_disk(void)
{
    save_text(AT_STORE_STAGING, "site", "privkey.pem", "KEY", AT_STORE_SECRET);
    save_text(AT_STORE_STAGING, "site", "fullchain.pem", "CHAIN", AT_STORE_PUBLIC);
    save_text(AT_STORE_STAGING, "pub", "fullchain.pem", "CHAIN", AT_STORE_PUBLIC);
    save_text(AT_STORE_ACCOUNTS, "ca", "account.key", "KEY", AT_STORE_SECRET);
    save_text(AT_STORE_JOBS, NULL, "site.json", "{}", AT_STORE_PUBLIC);

    /* Only challenges/ is open to others (the children serve its answers). */
    ck_assert_uint_eq(mode_of("staging"), 0700);
    ck_assert_uint_eq(mode_of("staging/site"), 0700);
    ck_assert_uint_eq(mode_of("staging/pub"), 0755);
    ck_assert_uint_eq(mode_of("staging/site/privkey.pem"), 0600);
    ck_assert_uint_eq(mode_of("staging/site/fullchain.pem"), 0644);
    ck_assert_uint_eq(mode_of("staging/pub/fullchain.pem"), 0644);
    ck_assert_uint_eq(mode_of("accounts"), 0700);
    ck_assert_uint_eq(mode_of("accounts/ca"), 0700);
    ck_assert_uint_eq(mode_of("accounts/ca/account.key"), 0600);
    ck_assert_uint_eq(mode_of("jobs"), 0700);
    ck_assert_uint_eq(mode_of("jobs/site.json"), 0644);
}

START_TEST(test_modes_exact_under_umask_0)
{
    umask(0);
    check_modes_on_disk();
}
END_TEST

START_TEST(test_modes_exact_under_umask_077)
{
    umask(077);
    check_modes_on_disk();
}
END_TEST

START_TEST(test_secret_saved_into_open_directory_is_still_0600)
{
    save_text(AT_STORE_LIVE, "site", "fullchain.pem", "CHAIN", AT_STORE_PUBLIC);
    ck_assert_uint_eq(mode_of("live/site"), 0755);
    save_text(AT_STORE_LIVE, "site", "privkey.pem", "KEY", AT_STORE_SECRET);
    ck_assert_uint_eq(mode_of("live/site/privkey.pem"), 0600);
}
END_TEST

START_TEST(test_load_refuses_group_readable_secret)
{
    char *out = NULL;

    save_text(AT_STORE_STAGING, "site", "privkey.pem", "KEY", AT_STORE_SECRET);
    ck_assert_int_eq(chmod(in_root("staging/site/privkey.pem"), 0640), 0);
    reset_log();
    ck_assert_int_eq(load_text(AT_STORE_STAGING, "site", "privkey.pem", AT_STORE_SECRET, &out),
                     AT_EMODE);
    ck_assert_int_eq(log_count, 1);
    ck_assert_ptr_nonnull(strstr(last_log, in_root("staging/site/privkey.pem")));
    ck_assert_ptr_nonnull(strstr(last_log, "0640"));
    /* The same file is fine as a public item: only secrets must be closed to group and other. */
    ck_assert_int_eq(load_text(AT_STORE_STAGING, "site", "privkey.pem", AT_STORE_PUBLIC, &out),
                     APR_SUCCESS);
    ck_assert_str_eq(out, "KEY");
}
END_TEST

START_TEST(test_load_refuses_world_writable_file)
{
    char *out = NULL;

    save_text(AT_STORE_JOBS, NULL, "site.json", "{}", AT_STORE_PUBLIC);
    ck_assert_int_eq(chmod(in_root("jobs/site.json"), 0666), 0);
    ck_assert_int_eq(load_text(AT_STORE_JOBS, NULL, "site.json", AT_STORE_PUBLIC, &out), AT_EMODE);
    ck_assert_ptr_nonnull(strstr(last_log, "0666"));
    ck_assert_int_eq(chmod(in_root("jobs/site.json"), 0664), 0);
    ck_assert_int_eq(load_text(AT_STORE_JOBS, NULL, "site.json", AT_STORE_PUBLIC, &out), AT_EMODE);
}
END_TEST

START_TEST(test_load_refuses_symlink)
{
    char *out = NULL;

    save_text(AT_STORE_LIVE, "site", "real.pem", "REAL", AT_STORE_PUBLIC);
    ck_assert_int_eq(symlink("real.pem", in_root("live/site/fullchain.pem")), 0);
    reset_log();
    ck_assert_int_eq(load_text(AT_STORE_LIVE, "site", "fullchain.pem", AT_STORE_PUBLIC, &out),
                     AT_EMODE);
    ck_assert_int_eq(log_count, 1);
    ck_assert_ptr_nonnull(strstr(last_log, "symbolic link"));
}
END_TEST

START_TEST(test_load_refuses_fifo_without_blocking)
{
    char *out = NULL;

    save_text(AT_STORE_CHALLENGES, NULL, "other", "x", AT_STORE_PUBLIC);
    ck_assert_int_eq(mkfifo(in_root("challenges/token"), 0644), 0);
    ck_assert_int_eq(load_text(AT_STORE_CHALLENGES, NULL, "token", AT_STORE_PUBLIC, &out),
                     AT_EMODE);
    ck_assert_ptr_nonnull(strstr(last_log, "not a regular file"));
}
END_TEST

START_TEST(test_load_refuses_file_of_another_owner)
{
    char *out = NULL;

    if (geteuid() != 0) {
        return; /* only root can give a file away; nothing to observe otherwise */
    }
    save_text(AT_STORE_LIVE, "site", "privkey.pem", "KEY", AT_STORE_SECRET);
    ck_assert_int_eq(chown(in_root("live/site/privkey.pem"), OTHER_UID, OTHER_UID), 0);
    ck_assert_int_eq(load_text(AT_STORE_LIVE, "site", "privkey.pem", AT_STORE_SECRET, &out),
                     AT_EMODE);
    ck_assert_ptr_nonnull(strstr(last_log, "uid 65534"));
}
END_TEST

START_TEST(test_load_refuses_symlinked_directory_on_the_way)
{
    char *out = NULL;

    /* A worker-owned staging/<site> replaced by a link to another set must not be followed. */
    save_text(AT_STORE_LIVE, "other", "privkey.pem", "SECRET", AT_STORE_SECRET);
    save_text(AT_STORE_STAGING, "placeholder", "x", "x", AT_STORE_PUBLIC);
    ck_assert_int_eq(symlink(in_root("live/other"), in_root("staging/site")), 0);
    reset_log();
    ck_assert_int_eq(load_text(AT_STORE_STAGING, "site", "privkey.pem", AT_STORE_SECRET, &out),
                     AT_EMODE);
    ck_assert_ptr_nonnull(strstr(last_log, "symbolic link"));
}
END_TEST

START_TEST(test_trusted_owner_is_accepted_and_others_still_refused)
{
    char *out = NULL;

    if (geteuid() != 0) {
        return; /* only root can give a file away; nothing to observe otherwise */
    }
    save_text(AT_STORE_STAGING, "site", "privkey.pem", "KEY", AT_STORE_SECRET);
    ck_assert_int_eq(chown(in_root("staging/site/privkey.pem"), OTHER_UID, OTHER_UID), 0);
    ck_assert_int_eq(load_text(AT_STORE_STAGING, "site", "privkey.pem", AT_STORE_SECRET, &out),
                     AT_EMODE);
    at_store_fs_trust_owner(store, OTHER_UID);
    ck_assert_int_eq(load_text(AT_STORE_STAGING, "site", "privkey.pem", AT_STORE_SECRET, &out),
                     APR_SUCCESS);
    ck_assert_str_eq(out, "KEY");
    ck_assert_int_eq(chown(in_root("staging/site/privkey.pem"), OTHER_UID + 1, OTHER_UID), 0);
    ck_assert_int_eq(load_text(AT_STORE_STAGING, "site", "privkey.pem", AT_STORE_SECRET, &out),
                     AT_EMODE);
}
END_TEST

START_TEST(test_save_failing_before_rename_keeps_old_item)
{
    char *out = NULL;

    save_text(AT_STORE_STAGING, "site", "privkey.pem", "OLD", AT_STORE_SECRET);
    at_store_fs_test_fail_before_rename = 1;
    ck_assert_int_ne(at_store_save(store, AT_STORE_STAGING, "site", "privkey.pem", "NEW", 3,
                                   AT_STORE_SECRET, pool),
                     APR_SUCCESS);
    at_store_fs_test_fail_before_rename = 0;
    ck_assert_int_eq(load_text(AT_STORE_STAGING, "site", "privkey.pem", AT_STORE_SECRET, &out),
                     APR_SUCCESS);
    ck_assert_str_eq(out, "OLD");
    ck_assert_int_eq(count_dot_files("staging/site"), 0);
}
END_TEST

START_TEST(test_save_of_new_item_failing_before_rename_leaves_nothing)
{
    char *out = NULL;

    at_store_fs_test_fail_before_rename = 1;
    ck_assert_int_ne(
        at_store_save(store, AT_STORE_JOBS, NULL, "site.json", "{}", 2, AT_STORE_PUBLIC, pool),
        APR_SUCCESS);
    at_store_fs_test_fail_before_rename = 0;
    ck_assert_int_eq(load_text(AT_STORE_JOBS, NULL, "site.json", AT_STORE_PUBLIC, &out),
                     APR_ENOENT);
    ck_assert_int_eq(count_dot_files("jobs"), 0);
}
END_TEST

static char *make_content(int which)
{
    char *buf = apr_palloc(pool, CONCURRENT_SIZE);
    int i;

    /* Distinct everywhere, not just at the start: a torn mix of two would not match either. */
    for (i = 0; i < CONCURRENT_SIZE; i++) {
        buf[i] = (char)('A' + which + (i % 7) * CONCURRENT_WRITERS);
    }
    return buf;
}

/* Saves content over and over; says "started" on ready_fd once the first save is done. */
static void concurrent_writer(char *content, int ready_fd)
{
    apr_pool_t *cp;
    int i, failed = 0;

    at_log_set(NULL, NULL, AT_LOG_ERR);
    apr_pool_create(&cp, NULL);
    for (i = 0; i < CONCURRENT_WRITES && !failed; i++) {
        if (i == 1) {
            failed = write(ready_fd, "r", 1) != 1;
            close(ready_fd);
        }
        failed = at_store_save(store, AT_STORE_LIVE, "site", "fullchain.pem", content,
                               CONCURRENT_SIZE, AT_STORE_PUBLIC, cp) != APR_SUCCESS;
    }
    apr_pool_destroy(cp);
    _exit(failed ? 1 : 0);
}

START_TEST(test_concurrent_saves_never_tear)
{
    char *contents[CONCURRENT_WRITERS];
    pid_t pids[CONCURRENT_WRITERS];
    apr_pool_t *lp;
    int i, w, status, ready[2];
    char byte;

    for (w = 0; w < CONCURRENT_WRITERS; w++) {
        contents[w] = make_content(w);
    }
    ck_assert_int_eq(at_store_save(store, AT_STORE_LIVE, "site", "fullchain.pem", contents[0],
                                   CONCURRENT_SIZE, AT_STORE_PUBLIC, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(pipe(ready), 0);
    for (w = 0; w < CONCURRENT_WRITERS; w++) {
        pids[w] = fork();
        ck_assert_int_ge(pids[w], 0);
        if (pids[w] == 0) {
            close(ready[0]);
            concurrent_writer(contents[w], ready[1]);
        }
    }
    /* Read while the writers are busy, not before they have all started. */
    close(ready[1]);
    for (w = 0; w < CONCURRENT_WRITERS; w++) {
        ck_assert_msg(read(ready[0], &byte, 1) == 1, "a writer failed before it started");
    }
    close(ready[0]);
    apr_pool_create(&lp, pool);
    for (i = 0; i < CONCURRENT_LOADS; i++) {
        char *out = NULL;
        apr_size_t len = 0;
        int match = 0;

        apr_pool_clear(lp);
        ck_assert_int_eq(at_store_load(store, AT_STORE_LIVE, "site", "fullchain.pem", &out, &len,
                                       AT_STORE_PUBLIC, lp),
                         APR_SUCCESS);
        ck_assert_uint_eq(len, CONCURRENT_SIZE);
        for (w = 0; w < CONCURRENT_WRITERS; w++) {
            match |= memcmp(out, contents[w], CONCURRENT_SIZE) == 0;
        }
        ck_assert_msg(match, "load %d returned a torn item", i);
    }
    for (w = 0; w < CONCURRENT_WRITERS; w++) {
        ck_assert_int_eq(waitpid(pids[w], &status, 0), pids[w]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d failed", w);
    }
    ck_assert_int_eq(count_dot_files("live/site"), 0);
}
END_TEST

START_TEST(test_component_validation)
{
    char long_ok[256], too_long[257];

    memset(long_ok, 'a', sizeof(long_ok) - 1);
    long_ok[sizeof(long_ok) - 1] = '\0';
    memset(too_long, 'a', sizeof(too_long) - 1);
    too_long[sizeof(too_long) - 1] = '\0';

    ck_assert(!at_store_component_valid("../x"));
    ck_assert(!at_store_component_valid("a/b"));
    ck_assert(!at_store_component_valid(".x"));
    ck_assert(!at_store_component_valid(""));
    ck_assert(!at_store_component_valid(NULL));
    ck_assert(!at_store_component_valid("."));
    ck_assert(!at_store_component_valid(".."));
    ck_assert(!at_store_component_valid("a b"));
    ck_assert(!at_store_component_valid("a\\b"));
    ck_assert(!at_store_component_valid("caf\xc3\xa9"));
    ck_assert(!at_store_component_valid(too_long));
    ck_assert(at_store_component_valid(long_ok));
    ck_assert(at_store_component_valid("www.example-1_2.org"));
    ck_assert(at_store_component_valid("2001:db8::1")); /* an IPv6 site or name (RFC 8738) */
}
END_TEST

START_TEST(test_store_refuses_bad_components_with_log)
{
    char *out = NULL;
    apr_array_header_t *list = NULL;

    reset_log();
    ck_assert_int_eq(
        at_store_save(store, AT_STORE_STAGING, "../x", "item", "a", 1, AT_STORE_PUBLIC, pool),
        AT_EARG);
    ck_assert_int_eq(log_count, 1);
    ck_assert_ptr_nonnull(strstr(last_log, "../x"));
    ck_assert_int_eq(access(in_root("x"), F_OK), -1);
    ck_assert_int_eq(
        at_store_save(store, AT_STORE_STAGING, "site", "a/b", "a", 1, AT_STORE_PUBLIC, pool),
        AT_EARG);
    ck_assert_int_eq(load_text(AT_STORE_STAGING, "site", ".x", AT_STORE_PUBLIC, &out), AT_EARG);
    ck_assert_int_eq(load_text(AT_STORE_STAGING, NULL, "", AT_STORE_PUBLIC, &out), AT_EARG);
    ck_assert_int_eq(at_store_remove(store, AT_STORE_STAGING, "..", "x", pool), AT_EARG);
    ck_assert_int_eq(at_store_list(store, AT_STORE_STAGING, "a/b", &list, pool), AT_EARG);
    ck_assert_int_eq(at_store_purge(store, AT_STORE_STAGING, "", pool), AT_EARG);
    ck_assert_int_eq(at_store_purge(store, AT_STORE_STAGING, "..", pool), AT_EARG);
    ck_assert_int_eq(
        at_store_save(store, AT_STORE_GROUP_COUNT, "s", "i", "a", 1, AT_STORE_PUBLIC, pool),
        AT_EARG);
    ck_assert_int_eq(log_count, 9);
}
END_TEST

START_TEST(test_list_sorted_and_skips_temp_files)
{
    apr_array_header_t *list = NULL;

    save_text(AT_STORE_STAGING, "b.org", "z", "1", AT_STORE_PUBLIC);
    save_text(AT_STORE_STAGING, "a.org", "c", "1", AT_STORE_PUBLIC);
    save_text(AT_STORE_STAGING, "a.org", "a", "1", AT_STORE_PUBLIC);
    save_text(AT_STORE_STAGING, "a.org", "b", "1", AT_STORE_SECRET);
    write_raw("staging/a.org/.a.tmp.AbC123", "half", 0600);

    ck_assert_int_eq(at_store_list(store, AT_STORE_STAGING, "a.org", &list, pool), APR_SUCCESS);
    ck_assert_int_eq(list->nelts, 3);
    ck_assert_str_eq(APR_ARRAY_IDX(list, 0, const char *), "a");
    ck_assert_str_eq(APR_ARRAY_IDX(list, 1, const char *), "b");
    ck_assert_str_eq(APR_ARRAY_IDX(list, 2, const char *), "c");

    ck_assert_int_eq(at_store_list(store, AT_STORE_STAGING, NULL, &list, pool), APR_SUCCESS);
    ck_assert_int_eq(list->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(list, 0, const char *), "a.org");
    ck_assert_str_eq(APR_ARRAY_IDX(list, 1, const char *), "b.org");
}
END_TEST

START_TEST(test_list_of_missing_directory_is_empty)
{
    apr_array_header_t *list = NULL;

    ck_assert_int_eq(at_store_list(store, AT_STORE_ARCHIVE, NULL, &list, pool), APR_SUCCESS);
    ck_assert_ptr_nonnull(list);
    ck_assert_int_eq(list->nelts, 0);
    ck_assert_int_eq(at_store_list(store, AT_STORE_LIVE, "nothing", &list, pool), APR_SUCCESS);
    ck_assert_int_eq(list->nelts, 0);
}
END_TEST

static const char *const set_items[] = {"privkey.pem", "fullchain.pem", "ready"};
#define SET_ITEM_COUNT ((int)(sizeof(set_items) / sizeof(set_items[0])))

/* An outside directory with one file: what an attacker would like root to delete. */
static const char *make_outside(const char **file)
{
    const char *outside = apr_pstrcat(pool, tmpdir, "/outside", NULL);

    *file = apr_pstrcat(pool, outside, "/precious", NULL);
    ck_assert_int_eq(mkdir(outside, 0755), 0);
    ck_assert_int_eq(close(open(*file, O_CREAT | O_WRONLY, 0644)), 0);
    return outside;
}

START_TEST(test_purge_is_flat_and_leaves_subdirectories_and_link_targets)
{
    apr_array_header_t *names;
    char *aside;
    const char *precious;
    const char *outside = make_outside(&precious);

    save_text(AT_STORE_STAGING, "site", "privkey.pem", "KEY", AT_STORE_SECRET);
    save_text(AT_STORE_STAGING, "site", "ready", "", AT_STORE_PUBLIC);
    save_text(AT_STORE_STAGING, "other", "privkey.pem", "KEY", AT_STORE_SECRET);
    write_raw("staging/site/.fullchain.pem.tmp.a1B2c3", "x", 0600);
    /* a tree moved in: a subdirectory with files, a link to an outside directory, and a link
     * named like an item pointing at an outside file */
    ck_assert_int_eq(mkdir(in_root("staging/site/sub"), 0755), 0);
    write_raw("staging/site/sub/privkey.pem", "theirs", 0644);
    write_raw("staging/site/sub/file", "theirs", 0644);
    ck_assert_int_eq(symlink(outside, in_root("staging/site/link")), 0);
    ck_assert_int_eq(symlink(precious, in_root("staging/site/fullchain.pem")), 0);

    reset_log();
    ck_assert_int_eq(
        at_store_purge_items(store, AT_STORE_STAGING, "site", set_items, SET_ITEM_COUNT, pool),
        APR_SUCCESS);
    ck_assert_int_eq(log_count, 1);
    ck_assert_ptr_nonnull(strstr(last_log, "staging/site keeps entries"));
    ck_assert_ptr_nonnull(strstr(last_log, "moved aside as .site.aside."));
    aside = apr_pstrcat(pool, "staging/", strstr(last_log, ".site.aside."), NULL);
    *strchr(aside, ',') = '\0';
    /* the name is free for a new set; the set's own items, the temp file and the link named
     * like an item are gone */
    ck_assert_int_eq(faccessat(AT_FDCWD, in_root("staging/site"), F_OK, AT_SYMLINK_NOFOLLOW), -1);
    ck_assert_int_eq(access(in_root(apr_pstrcat(pool, aside, "/privkey.pem", NULL)), F_OK), -1);
    ck_assert_int_eq(access(in_root(apr_pstrcat(pool, aside, "/ready", NULL)), F_OK), -1);
    ck_assert_int_eq(count_dot_files(aside), 0);
    ck_assert_int_eq(faccessat(AT_FDCWD, in_root(apr_pstrcat(pool, aside, "/fullchain.pem", NULL)),
                               F_OK, AT_SYMLINK_NOFOLLOW),
                     -1);
    /* everything else is untouched, inside (aside) and outside */
    ck_assert_int_eq(access(in_root(apr_pstrcat(pool, aside, "/sub/privkey.pem", NULL)), F_OK), 0);
    ck_assert_int_eq(access(in_root(apr_pstrcat(pool, aside, "/sub/file", NULL)), F_OK), 0);
    ck_assert_int_eq(faccessat(AT_FDCWD, in_root(apr_pstrcat(pool, aside, "/link", NULL)), F_OK,
                               AT_SYMLINK_NOFOLLOW),
                     0);
    ck_assert_int_eq(access(precious, F_OK), 0);
    ck_assert_int_eq(access(outside, F_OK), 0);
    ck_assert_int_eq(access(in_root("staging/other/privkey.pem"), F_OK), 0);
    /* and no listing sees it */
    ck_assert_int_eq(at_store_list(store, AT_STORE_STAGING, NULL, &names, pool), APR_SUCCESS);
    ck_assert_int_eq(names->nelts, 1);
    /* Purging what is not there is not an error. */
    ck_assert_int_eq(at_store_purge(store, AT_STORE_STAGING, "site", pool), APR_SUCCESS);
    ck_assert_int_eq(at_store_purge(store, AT_STORE_JOBS, "site", pool), APR_SUCCESS);
}
END_TEST

START_TEST(test_purge_removes_a_link_in_place_of_the_set_not_its_target)
{
    const char *precious;
    const char *outside = make_outside(&precious);

    save_text(AT_STORE_STAGING, "other", "privkey.pem", "KEY", AT_STORE_SECRET);
    ck_assert_int_eq(symlink(outside, in_root("staging/site")), 0);
    write_raw("../outside/privkey.pem", "theirs", 0600);
    ck_assert_int_eq(
        at_store_purge_items(store, AT_STORE_STAGING, "site", set_items, SET_ITEM_COUNT, pool),
        APR_SUCCESS);
    ck_assert_int_eq(faccessat(AT_FDCWD, in_root("staging/site"), F_OK, AT_SYMLINK_NOFOLLOW), -1);
    ck_assert_int_eq(access(precious, F_OK), 0);
    ck_assert_int_eq(access(apr_pstrcat(pool, outside, "/privkey.pem", NULL), F_OK), 0);
}
END_TEST

START_TEST(test_purge_keeps_a_file_of_another_owner_even_under_an_item_name)
{
    if (geteuid() != 0) {
        return; /* only root can give a file away */
    }
    save_text(AT_STORE_STAGING, "site", "fullchain.pem", "CHAIN", AT_STORE_PUBLIC);
    write_raw("staging/site/privkey.pem", "someone else's data", 0600);
    ck_assert_int_eq(chown(in_root("staging/site/privkey.pem"), OTHER_UID, OTHER_UID), 0);
    save_text(AT_STORE_STAGING, "trusted", "fullchain.pem", "CHAIN", AT_STORE_PUBLIC);
    write_raw("staging/trusted/privkey.pem", "the ACME account's", 0600);
    ck_assert_int_eq(chown(in_root("staging/trusted/privkey.pem"), OTHER_UID, OTHER_UID), 0);
    reset_log();
    ck_assert_int_eq(
        at_store_purge_items(store, AT_STORE_STAGING, "site", set_items, SET_ITEM_COUNT, pool),
        APR_SUCCESS);
    ck_assert_int_eq(access(in_root("staging/site"), F_OK), -1);
    ck_assert_ptr_nonnull(strstr(last_log, "moved aside as .site.aside."));
    ck_assert_int_eq(count_dot_files("staging"), 1); /* the aside directory, with the file */
    /* the trusted owner's files go */
    at_store_fs_trust_owner(store, OTHER_UID);
    ck_assert_int_eq(
        at_store_purge_items(store, AT_STORE_STAGING, "trusted", set_items, SET_ITEM_COUNT, pool),
        APR_SUCCESS);
    ck_assert_int_eq(access(in_root("staging/trusted"), F_OK), -1);
    ck_assert_int_eq(count_dot_files("staging"), 1);
}
END_TEST

START_TEST(test_purge_without_items_removes_only_temp_files_and_an_empty_directory)
{
    save_text(AT_STORE_ARCHIVE, "site", "x.privkey.pem", "KEY", AT_STORE_SECRET);
    write_raw("archive/site/.x.fullchain.pem.tmp.Zz9Yy8", "x", 0600);
    ck_assert_int_eq(at_store_purge(store, AT_STORE_ARCHIVE, "site", pool),
                     APR_FROM_OS_ERROR(ENOTEMPTY));
    ck_assert_int_eq(access(in_root("archive/site/x.privkey.pem"), F_OK), 0);
    ck_assert_int_eq(count_dot_files("archive/site"), 0);
    ck_assert_int_eq(at_store_remove(store, AT_STORE_ARCHIVE, "site", "x.privkey.pem", pool),
                     APR_SUCCESS);
    ck_assert_int_eq(at_store_purge(store, AT_STORE_ARCHIVE, "site", pool), APR_SUCCESS);
    ck_assert_int_eq(access(in_root("archive/site"), F_OK), -1);
}
END_TEST

static const at_store_item_t test_set[] = {
    {"privkey.pem", "KEY", 3, AT_STORE_SECRET},
    {"fullchain.pem", "CHAIN", 5, AT_STORE_PUBLIC},
    {"ready", "", 0, AT_STORE_PUBLIC},
};
#define TEST_SET_COUNT ((int)(sizeof(test_set) / sizeof(test_set[0])))

START_TEST(test_save_set_appears_whole_with_exact_modes)
{
    char *out = NULL;

    umask(077);
    ck_assert_int_eq(
        at_store_save_set(store, AT_STORE_STAGING, "site", test_set, TEST_SET_COUNT, pool),
        APR_SUCCESS);
    ck_assert_int_eq(mode_of("staging/site"), 0700);
    ck_assert_int_eq(mode_of("staging/site/privkey.pem"), 0600);
    ck_assert_int_eq(mode_of("staging/site/fullchain.pem"), 0644);
    ck_assert_int_eq(load_text(AT_STORE_STAGING, "site", "privkey.pem", AT_STORE_SECRET, &out),
                     APR_SUCCESS);
    ck_assert_str_eq(out, "KEY");
    ck_assert_int_eq(load_text(AT_STORE_STAGING, "site", "fullchain.pem", AT_STORE_PUBLIC, &out),
                     APR_SUCCESS);
    ck_assert_str_eq(out, "CHAIN");
    ck_assert_int_eq(count_dot_files("staging"), 0);
    /* a public-only set gets a 0755 directory */
    ck_assert_int_eq(at_store_save_set(store, AT_STORE_STAGING, "pub", test_set + 1, 2, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(mode_of("staging/pub"), 0755);
}
END_TEST

START_TEST(test_save_set_over_an_existing_set_fails_and_leaves_nothing)
{
    const at_store_item_t other[] = {{"privkey.pem", "NEW", 3, AT_STORE_SECRET}};
    char *out = NULL;
    apr_status_t rv;

    ck_assert_int_eq(
        at_store_save_set(store, AT_STORE_STAGING, "site", test_set, TEST_SET_COUNT, pool),
        APR_SUCCESS);
    rv = at_store_save_set(store, AT_STORE_STAGING, "site", other, 1, pool);
    ck_assert(rv == APR_EEXIST || rv == APR_FROM_OS_ERROR(ENOTEMPTY));
    ck_assert_int_eq(load_text(AT_STORE_STAGING, "site", "privkey.pem", AT_STORE_SECRET, &out),
                     APR_SUCCESS);
    ck_assert_str_eq(out, "KEY");
    ck_assert_int_eq(count_dot_files("staging"), 0);
    /* an empty directory in the way is not replaced either */
    ck_assert_int_eq(mkdir(in_root("staging/empty"), 0700), 0);
    rv = at_store_save_set(store, AT_STORE_STAGING, "empty", other, 1, pool);
    ck_assert(rv == APR_EEXIST || rv == APR_FROM_OS_ERROR(ENOTEMPTY));
    ck_assert_int_eq(access(in_root("staging/empty/privkey.pem"), F_OK), -1);
    ck_assert_int_eq(count_dot_files("staging"), 0);
}
END_TEST

START_TEST(test_save_set_failing_before_rename_leaves_nothing)
{
    at_store_fs_test_fail_before_rename = 1;
    ck_assert_int_eq(
        at_store_save_set(store, AT_STORE_STAGING, "site", test_set, TEST_SET_COUNT, pool),
        APR_EGENERAL);
    at_store_fs_test_fail_before_rename = 0;
    ck_assert_int_eq(access(in_root("staging/site"), F_OK), -1);
    ck_assert_int_eq(count_dot_files("staging"), 0);
}
END_TEST

START_TEST(test_save_set_refuses_bad_items_and_duplicates)
{
    const at_store_item_t bad[] = {{"../x", "k", 1, AT_STORE_SECRET}};
    const at_store_item_t twice[] = {{"a", "1", 1, AT_STORE_PUBLIC},
                                     {"a", "2", 1, AT_STORE_PUBLIC}};

    ck_assert_int_eq(at_store_save_set(store, AT_STORE_STAGING, "site", bad, 1, pool), AT_EARG);
    ck_assert_int_eq(at_store_save_set(store, AT_STORE_STAGING, ".site", test_set, 1, pool),
                     AT_EARG);
    ck_assert_int_eq(at_store_save_set(store, AT_STORE_STAGING, "site", test_set, 0, pool),
                     AT_EARG);
    ck_assert_int_ne(at_store_save_set(store, AT_STORE_STAGING, "site", twice, 2, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(access(in_root("staging/site"), F_OK), -1);
    ck_assert_int_eq(count_dot_files("staging"), 0);
}
END_TEST

START_TEST(test_remove_deletes_and_missing_is_success)
{
    char *out = NULL;

    save_text(AT_STORE_CHALLENGES, NULL, "tok", "auth", AT_STORE_PUBLIC);
    ck_assert_int_eq(at_store_remove(store, AT_STORE_CHALLENGES, NULL, "tok", pool), APR_SUCCESS);
    ck_assert_int_eq(load_text(AT_STORE_CHALLENGES, NULL, "tok", AT_STORE_PUBLIC, &out),
                     APR_ENOENT);
    ck_assert_int_eq(at_store_remove(store, AT_STORE_CHALLENGES, NULL, "tok", pool), APR_SUCCESS);
    ck_assert_int_eq(at_store_remove(store, AT_STORE_LIVE, "none", "x", pool), APR_SUCCESS);
}
END_TEST

START_TEST(test_oversize_item_is_too_large)
{
    char *out = NULL;
    int fd;

    save_text(AT_STORE_LIVE, "site", "fullchain.pem", "x", AT_STORE_PUBLIC);
    fd = open(in_root("live/site/fullchain.pem"), O_WRONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)AT_STORE_MAX_ITEM + 1), 0);
    close(fd);
    ck_assert_int_eq(load_text(AT_STORE_LIVE, "site", "fullchain.pem", AT_STORE_PUBLIC, &out),
                     AT_ETOOLARGE);
    /* Exactly at the limit is still fine. */
    fd = open(in_root("live/site/fullchain.pem"), O_WRONLY);
    ck_assert_int_eq(ftruncate(fd, (off_t)AT_STORE_MAX_ITEM), 0);
    close(fd);
    ck_assert_int_eq(load_text(AT_STORE_LIVE, "site", "fullchain.pem", AT_STORE_PUBLIC, &out),
                     APR_SUCCESS);
    ck_assert_int_eq(at_store_save(store, AT_STORE_LIVE, "site", "big", out,
                                   (apr_size_t)AT_STORE_MAX_ITEM + 1, AT_STORE_PUBLIC, pool),
                     AT_ETOOLARGE);
}
END_TEST

START_TEST(test_json_round_trip_sorted_and_indented)
{
    json_t *j = json_pack("{s:i,s:s}", "zeta", 1, "alpha", "x");
    json_t *back = NULL;
    char *text = NULL;

    ck_assert_int_eq(at_store_save_json(store, AT_STORE_JOBS, NULL, "site.json", j, pool),
                     APR_SUCCESS);
    ck_assert_int_eq(load_text(AT_STORE_JOBS, NULL, "site.json", AT_STORE_PUBLIC, &text),
                     APR_SUCCESS);
    ck_assert_str_eq(text, "{\n  \"alpha\": \"x\",\n  \"zeta\": 1\n}");
    ck_assert_int_eq(at_store_load_json(store, AT_STORE_JOBS, NULL, "site.json", &back, pool),
                     APR_SUCCESS);
    ck_assert(json_equal(j, back));
    json_decref(j);
    json_decref(back);
}
END_TEST

START_TEST(test_corrupt_json_is_eproto)
{
    json_t *back = (json_t *)1;

    save_text(AT_STORE_JOBS, NULL, "site.json", "{\"next\": ", AT_STORE_PUBLIC);
    reset_log();
    ck_assert_int_eq(at_store_load_json(store, AT_STORE_JOBS, NULL, "site.json", &back, pool),
                     AT_EPROTO);
    ck_assert_ptr_null(back);
    ck_assert_int_eq(log_count, 1);
    ck_assert_ptr_nonnull(strstr(last_log, in_root("jobs/site.json")));
    ck_assert_int_eq(at_store_load_json(store, AT_STORE_JOBS, NULL, "none.json", &back, pool),
                     APR_ENOENT);
}
END_TEST

START_TEST(test_ca_name_folding)
{
    const char *long1, *long2, *n1, *n2;

    ck_assert_str_eq(at_store_ca_name(pool, "https://127.0.0.1:14000/dir"), "127.0.0.1-14000-dir");
    ck_assert_str_eq(at_store_ca_name(pool, "https://acme-v02.api.letsencrypt.org/directory"),
                     "acme-v02.api.letsencrypt.org-directory");
    ck_assert_str_eq(at_store_ca_name(pool, "HTTPS://CA.Example.COM/Acme/Dir/"),
                     "ca.example.com-acme-dir");
    ck_assert_str_eq(at_store_ca_name(pool, "https://[::1]:14000/dir"), "1-14000-dir");
    ck_assert_str_eq(at_store_ca_name(pool, "https://.hidden/x_y"), "hidden-x_y");
    ck_assert_str_eq(at_store_ca_name(pool, ""), "ca");
    ck_assert_str_eq(at_store_ca_name(pool, NULL), "ca");
    ck_assert_str_eq(at_store_ca_name(pool, "https:///"), "ca");

    long1 = apr_pstrcat(pool, "https://ca.example/", apr_psprintf(pool, "%0300d", 0), "/a", NULL);
    long2 = apr_pstrcat(pool, "https://ca.example/", apr_psprintf(pool, "%0300d", 0), "/b", NULL);
    n1 = at_store_ca_name(pool, long1);
    n2 = at_store_ca_name(pool, long2);
    ck_assert(at_store_component_valid(n1));
    ck_assert(at_store_component_valid(n2));
    ck_assert_str_ne(n1, n2);
    ck_assert(at_store_component_valid(at_store_ca_name(pool, "https://127.0.0.1:14000/dir")));
}
END_TEST

START_TEST(test_open_creates_missing_root_0755)
{
    at_store_t *s2 = NULL;
    const char *dir = apr_pstrcat(pool, tmpdir, "/new/nested/root", NULL);
    struct stat st;

    umask(077);
    ck_assert_int_eq(at_store_fs_open(&s2, pool, dir), APR_SUCCESS);
    ck_assert_int_eq(stat(dir, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_uint_eq(st.st_mode & MODE_BITS, 0755);
}
END_TEST

START_TEST(test_open_refuses_group_writable_root)
{
    at_store_t *s2 = NULL;

    ck_assert_int_eq(chmod(root, 0775), 0);
    reset_log();
    ck_assert_int_eq(at_store_fs_open(&s2, pool, root), AT_EMODE);
    ck_assert_ptr_null(s2);
    ck_assert_ptr_nonnull(strstr(last_log, root));
    ck_assert_int_eq(chmod(root, 0757), 0);
    ck_assert_int_eq(at_store_fs_open(&s2, pool, root), AT_EMODE);
    ck_assert_int_eq(chmod(root, 0700), 0);
    ck_assert_int_eq(at_store_fs_open(&s2, pool, root), APR_SUCCESS);
}
END_TEST

START_TEST(test_open_refuses_root_of_another_owner)
{
    at_store_t *s2 = NULL;

    if (geteuid() != 0) {
        return; /* only root can give a directory away */
    }
    ck_assert_int_eq(chown(root, OTHER_UID, OTHER_UID), 0);
    ck_assert_int_eq(at_store_fs_open(&s2, pool, root), AT_EMODE);
    ck_assert_ptr_nonnull(strstr(last_log, "uid 65534"));
}
END_TEST

START_TEST(test_path_is_absolute_from_relative_root)
{
    at_store_t *s2 = NULL;
    const char *path = NULL;
    char cwd[1024];

    ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
    ck_assert_int_eq(chdir(tmpdir), 0);
    ck_assert_int_eq(at_store_fs_open(&s2, pool, "store/"), APR_SUCCESS);
    ck_assert_int_eq(chdir(cwd), 0);
    ck_assert_int_eq(at_store_path(s2, AT_STORE_LIVE, "site", "privkey.pem", &path, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(path, in_root("live/site/privkey.pem"));
    ck_assert_int_eq(at_store_path(s2, AT_STORE_ARCHIVE, NULL, "site.json", &path, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(path, in_root("archive/site.json"));
    /* the rest of the store has no path: it goes through the store on every backend */
    ck_assert_int_eq(at_store_path(s2, AT_STORE_JOBS, NULL, "site.json", &path, pool), AT_EARG);
    ck_assert_int_eq(at_store_path(s2, AT_STORE_STAGING, "site", "ready", &path, pool), AT_EARG);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("fs");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, CONCURRENT_TIMEOUT);
    tcase_add_test(tc, test_save_load_round_trip_with_name);
    tcase_add_test(tc, test_save_load_round_trip_without_name);
    tcase_add_test(tc, test_save_replaces_whole_item);
    tcase_add_test(tc, test_missing_item_is_enoent_without_log);
    tcase_add_test(tc, test_modes_exact_under_umask_0);
    tcase_add_test(tc, test_modes_exact_under_umask_077);
    tcase_add_test(tc, test_secret_saved_into_open_directory_is_still_0600);
    tcase_add_test(tc, test_load_refuses_group_readable_secret);
    tcase_add_test(tc, test_load_refuses_world_writable_file);
    tcase_add_test(tc, test_load_refuses_symlink);
    tcase_add_test(tc, test_load_refuses_fifo_without_blocking);
    tcase_add_test(tc, test_load_refuses_file_of_another_owner);
    tcase_add_test(tc, test_load_refuses_symlinked_directory_on_the_way);
    tcase_add_test(tc, test_trusted_owner_is_accepted_and_others_still_refused);
    tcase_add_test(tc, test_save_failing_before_rename_keeps_old_item);
    tcase_add_test(tc, test_save_of_new_item_failing_before_rename_leaves_nothing);
    tcase_add_test(tc, test_concurrent_saves_never_tear);
    tcase_add_test(tc, test_component_validation);
    tcase_add_test(tc, test_store_refuses_bad_components_with_log);
    tcase_add_test(tc, test_list_sorted_and_skips_temp_files);
    tcase_add_test(tc, test_list_of_missing_directory_is_empty);
    tcase_add_test(tc, test_purge_is_flat_and_leaves_subdirectories_and_link_targets);
    tcase_add_test(tc, test_purge_removes_a_link_in_place_of_the_set_not_its_target);
    tcase_add_test(tc, test_purge_keeps_a_file_of_another_owner_even_under_an_item_name);
    tcase_add_test(tc, test_purge_without_items_removes_only_temp_files_and_an_empty_directory);
    tcase_add_test(tc, test_save_set_appears_whole_with_exact_modes);
    tcase_add_test(tc, test_save_set_over_an_existing_set_fails_and_leaves_nothing);
    tcase_add_test(tc, test_save_set_failing_before_rename_leaves_nothing);
    tcase_add_test(tc, test_save_set_refuses_bad_items_and_duplicates);
    tcase_add_test(tc, test_remove_deletes_and_missing_is_success);
    tcase_add_test(tc, test_oversize_item_is_too_large);
    tcase_add_test(tc, test_json_round_trip_sorted_and_indented);
    tcase_add_test(tc, test_corrupt_json_is_eproto);
    tcase_add_test(tc, test_ca_name_folding);
    tcase_add_test(tc, test_open_creates_missing_root_0755);
    tcase_add_test(tc, test_open_refuses_group_writable_root);
    tcase_add_test(tc, test_open_refuses_root_of_another_owner);
    tcase_add_test(tc, test_path_is_absolute_from_relative_root);
    suite_add_tcase(s, tc);
    return s;
}

AT_UNIT_MAIN(store_suite)
