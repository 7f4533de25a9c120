/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_command.c: an admin's command as at_command_run runs it (at_command.h).
 *
 * The one idea: each test is a small /bin/sh script that does one unfriendly thing (overruns its
 * time, leaves a child behind, floods its output, looks at its descriptors and environment, exits
 * non-zero), and what the caller gets back, and what is left running afterwards, is checked.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <check.h>

#include "unit_main.h"
#include "at_command.h"

#define SH "/bin/sh"
#define SHORT_LIMIT apr_time_from_msec(500)
#define LONG_LIMIT apr_time_from_sec(10)
#define GONE_WAIT_STEPS 50
#define GONE_WAIT_STEP apr_time_from_msec(20)

static apr_pool_t *pool;
static const char *const env[] = {AT_COMMAND_ENV_PATH, AT_COMMAND_ENV_LANG, AT_COMMAND_ENV_HOME,
                                  "AUTOTLS_TEST=1", NULL};

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

/* Runs `sh -c script` with the limit. */
static at_command_result_t run(const char *script, apr_interval_time_t limit)
{
    const char *argv[] = {SH, "-c", script, NULL};
    at_command_t cmd = {SH, argv, env, limit, NULL, NULL};
    at_command_result_t res;

    ck_assert_int_eq(at_command_run(&res, &cmd, pool), APR_SUCCESS);
    return res;
}

/* Whether pid still runs: gone, or a zombie nobody has reaped yet (an orphan waits for init,
 * which in a container may never come), is not running. */
static int running(pid_t pid)
{
    char path[64], stat[256] = {0}, *end;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    if ((f = fopen(path, "r")) == NULL) {
        return 0;
    }
    if (fgets(stat, sizeof(stat), f) == NULL) {
        stat[0] = '\0';
    }
    fclose(f);
    end = strrchr(stat, ')');
    return end != NULL && end[1] == ' ' && end[2] != 'Z' && end[2] != 'X';
}

static int alive(pid_t pid)
{
    int i;

    for (i = 0; i < GONE_WAIT_STEPS; i++) {
        if (!running(pid)) {
            return 0;
        }
        apr_sleep(GONE_WAIT_STEP);
    }
    return 1;
}

START_TEST(test_success_output_and_exit_status)
{
    at_command_result_t res = run("echo 'line one'; echo 'line\ttwo' >&2; exit 0", LONG_LIMIT);

    ck_assert(at_command_succeeded(&res));
    ck_assert_str_eq(res.output, "line one line two"); /* one log-safe line */
    res = run("exit 3", LONG_LIMIT);
    ck_assert(!at_command_succeeded(&res));
    ck_assert_str_eq(at_command_ending(pool, &res), "exit status 3");
    res = run("kill -TERM $$", LONG_LIMIT);
    ck_assert_str_eq(at_command_ending(pool, &res), "killed by signal 15");
}
END_TEST

START_TEST(test_time_limit_kills_it)
{
    apr_time_t t0 = apr_time_now();
    at_command_result_t res = run("sleep 30", SHORT_LIMIT);

    ck_assert(res.killed);
    ck_assert(!at_command_succeeded(&res));
    ck_assert_str_eq(at_command_ending(pool, &res), "killed after its time limit");
    ck_assert(apr_time_now() - t0 < LONG_LIMIT);
}
END_TEST

START_TEST(test_a_child_left_behind_is_killed_with_the_group)
{
    char path[] = "/tmp/autotls-cmd-XXXXXX";
    int fd = mkstemp(path);
    char buf[32] = {0};
    pid_t child;
    at_command_result_t res;

    ck_assert_int_ge(fd, 0);
    close(fd);
    /* the leader exits at once; its child (output closed) would sleep on */
    res = run(apr_psprintf(pool, "sleep 30 >/dev/null 2>&1 & echo $! > %s; exit 0", path),
              LONG_LIMIT);
    ck_assert(at_command_succeeded(&res));
    fd = open(path, O_RDONLY);
    ck_assert_int_gt(read(fd, buf, sizeof(buf) - 1), 0);
    close(fd);
    unlink(path);
    child = (pid_t)atol(buf);
    ck_assert_int_gt(child, 1);
    ck_assert_msg(!alive(child), "the child %ld outlived its command", (long)child);
}
END_TEST

START_TEST(test_output_is_bounded_and_nothing_of_ours_is_inherited)
{
    at_command_result_t res;
    int fd = open("/dev/null", O_RDONLY); /* a descriptor of ours, without O_CLOEXEC */

    ck_assert_int_gt(fd, 2);
    res = run(apr_psprintf(
                  pool, "test -e /proc/self/fd/%d && echo leaked; env | sort | tr '\\n' ' '", fd),
              LONG_LIMIT);
    close(fd);
    ck_assert_ptr_null(strstr(res.output, "leaked"));
    ck_assert_ptr_nonnull(strstr(res.output, "AUTOTLS_TEST=1"));
    ck_assert_ptr_null(strstr(res.output, "PWD=/should-not")); /* only what we gave */
    res = run("yes 0123456789 | head -c 100000", LONG_LIMIT);
    ck_assert(at_command_succeeded(&res));
    ck_assert_uint_le(strlen(res.output), AT_COMMAND_OUTPUT_MAX);
}
END_TEST

START_TEST(test_file_trust_rules)
{
    const char *why = NULL;
    char dir[] = "/tmp/autotls-trust-XXXXXX";
    const char *file;
    FILE *f;

    ck_assert(at_command_file_trusted("/bin/sh", &why, pool));
    ck_assert(!at_command_file_trusted("bin/sh", &why, pool));
    ck_assert(!at_command_file_trusted("/etc/passwd", &why, pool)); /* not executable */
    ck_assert_ptr_nonnull(mkdtemp(dir));
    file = apr_pstrcat(pool, dir, "/cmd", NULL);
    f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    fputs("#!/bin/sh\n", f);
    fclose(f);
    chmod(file, 0755);
    chmod(dir, 0755);
    ck_assert_msg(geteuid() != 0 || at_command_file_trusted(file, &why, pool), "%s", why);
    chmod(dir, 0777); /* a directory others may write to: the file could be replaced */
    ck_assert(!at_command_file_trusted(file, &why, pool));
    ck_assert_ptr_nonnull(strstr(why, "writable by group or others"));
    chmod(dir, 0755);
    chmod(file, 0775);
    ck_assert(!at_command_file_trusted(file, &why, pool));
    unlink(file);
    rmdir(dir);
}
END_TEST

static Suite *command_suite(void)
{
    Suite *s = suite_create("command");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_success_output_and_exit_status);
    tcase_add_test(tc, test_time_limit_kills_it);
    tcase_add_test(tc, test_a_child_left_behind_is_killed_with_the_group);
    tcase_add_test(tc, test_output_is_bounded_and_nothing_of_ours_is_inherited);
    tcase_add_test(tc, test_file_trust_rules);
    suite_add_tcase(s, tc);
    return s;
}

AT_UNIT_MAIN(command_suite)
