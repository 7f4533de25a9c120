/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_slots.c: the shared certificate slots, checked across threads and processes.
 *
 * The one idea: a reader gets exactly the last published set or the one before, never a mix,
 * and no forked process but the activator can write a slot. Every assertion compares what a
 * reader parses back (key matches leaf, serials, DER bytes) with what was published, including
 * from a forked process; the seals are checked the way an attacker in a child would probe them:
 * /proc/self/maps, /proc/self/fd, mprotect, madvise, a plain store.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "unit_main.h"
#include "at_core.h"
#include "at_crypto.h"
#include "at_pem.h"
#include "../../mod_autotls/slots.h"

#define TEST_SLOTS 3
#define TEST_VALID apr_time_from_sec(3600)
#define TEST_BIG_CHAIN 64 /* copies of one certificate: well over AUTOTLS_SLOT_DATA_MAX */
#define RACE_READERS 2
#define RACE_PUBLISHES 5000
/* Under valgrind (AT_UNIT_SHORT set by scripts/test.sh) threads run one at a time: memory errors
 * are what is looked for there, and a few publishes show them. */
#define RACE_PUBLISHES_SHORT 50
#define RACE_TIMEOUT 120
#define CHILD_WAIT_STEP_USEC 1000
#define CHILD_WAIT_STEPS 5000 /* 5 s for a forked reader to see a publish */
#define EXIT_READ_FAILED 3
#define EXIT_WRONG_SET 4
#define EXIT_TIMEOUT 5
#define EXIT_WRITABLE_MAPPING 6
#define EXIT_MPROTECT_WORKED 7
#define EXIT_PUBLISH_WORKED 8
#define EXIT_DESCRIPTOR_OPEN 9
#define EXIT_MADVISE_WORKED 10
#define EXIT_CHILD_INIT_FAILED 11
#define EXIT_NO_WRITER 12
#define EXIT_WROTE 13
#define MEMFD_NAME "memfd:autotls-slots"
#define MAPS_LINE 512
#define CORRUPT_BIG 0xffffffffu

static apr_pool_t *pool;
static autotls_slots_t *slots;

typedef struct {
    EVP_PKEY *key;
    apr_array_header_t *chain;
    const char *serial;
} test_set_t;

static test_set_t make_set(const char *name, at_key_type_e type)
{
    apr_array_header_t *names = apr_array_make(pool, 1, sizeof(const char *));
    X509 *cert = NULL;
    at_cert_info_t *info = NULL;
    test_set_t set;

    APR_ARRAY_PUSH(names, const char *) = name;
    ck_assert_int_eq(at_key_generate(&set.key, pool, type), APR_SUCCESS);
    ck_assert_int_eq(at_cert_self_signed(&cert, pool, set.key, names, TEST_VALID), APR_SUCCESS);
    set.chain = apr_array_make(pool, 1, sizeof(X509 *));
    APR_ARRAY_PUSH(set.chain, X509 *) = cert;
    ck_assert_int_eq(at_cert_info(&info, pool, cert), APR_SUCCESS);
    set.serial = info->serial;
    return set;
}

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    ck_assert_int_eq(autotls_slots_create(&slots, pool, TEST_SLOTS), APR_SUCCESS);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
    pool = NULL;
    slots = NULL;
}

static int same_cert(X509 *a, X509 *b)
{
    return X509_cmp(a, b) == 0;
}

START_TEST(test_fresh_slots_are_empty)
{
    autotls_slot_info_t info;
    EVP_PKEY *key;
    apr_array_header_t *chain;
    apr_uint32_t gen = 7;
    int i;

    ck_assert_int_eq(autotls_slots_count(slots), TEST_SLOTS);
    for (i = 0; i < TEST_SLOTS; i++) {
        ck_assert_uint_eq(autotls_slots_generation(slots, i), 0);
        ck_assert_int_eq(autotls_slots_info(slots, i, &info), APR_SUCCESS);
        ck_assert_uint_eq(info.generation, 0);
        ck_assert_int_eq(info.ca_issued, 0);
        ck_assert_int_eq(autotls_slots_read(slots, i, pool, &key, &chain, &gen), APR_ENOENT);
        ck_assert_ptr_null(key);
        ck_assert_uint_eq(gen, 0);
    }
}
END_TEST

START_TEST(test_published_set_reads_back_exactly)
{
    test_set_t set = make_set("a.example.org", AT_KEY_EC256);
    autotls_slot_info_t info;
    at_cert_info_t *ci;
    EVP_PKEY *key;
    apr_array_header_t *chain;
    apr_uint32_t gen;

    ck_assert_int_eq(autotls_slots_publish(slots, 1, set.key, set.chain, 1), APR_SUCCESS);
    ck_assert_uint_eq(autotls_slots_generation(slots, 1), 2);
    ck_assert_uint_eq(autotls_slots_generation(slots, 0), 0);
    ck_assert_int_eq(autotls_slots_read(slots, 1, pool, &key, &chain, &gen), APR_SUCCESS);
    ck_assert_uint_eq(gen, 2);
    ck_assert_int_eq(chain->nelts, 1);
    ck_assert(same_cert(APR_ARRAY_IDX(chain, 0, X509 *), APR_ARRAY_IDX(set.chain, 0, X509 *)));
    ck_assert_int_eq(EVP_PKEY_eq(key, set.key), 1);
    ck_assert_int_eq(autotls_slots_info(slots, 1, &info), APR_SUCCESS);
    ck_assert_uint_eq(info.generation, 2);
    ck_assert_int_eq(info.ca_issued, 1);
    ck_assert_str_eq(info.serial, set.serial);
    ck_assert_int_eq(at_cert_info(&ci, pool, APR_ARRAY_IDX(set.chain, 0, X509 *)), APR_SUCCESS);
    ck_assert(info.not_after == ci->not_after);
    ck_assert(info.not_before == ci->not_before);
}
END_TEST

START_TEST(test_republish_replaces_and_chain_order_is_kept)
{
    test_set_t first = make_set("a.example.org", AT_KEY_EC256);
    test_set_t second = make_set("b.example.org", AT_KEY_RSA2048);
    test_set_t extra = make_set("intermediate.example.org", AT_KEY_EC384);
    autotls_slot_info_t info;
    EVP_PKEY *key;
    apr_array_header_t *chain;
    apr_uint32_t gen;

    APR_ARRAY_PUSH(second.chain, X509 *) = APR_ARRAY_IDX(extra.chain, 0, X509 *);
    ck_assert_int_eq(autotls_slots_publish(slots, 0, first.key, first.chain, 0), APR_SUCCESS);
    ck_assert_int_eq(autotls_slots_publish(slots, 0, second.key, second.chain, 1), APR_SUCCESS);
    ck_assert_uint_eq(autotls_slots_generation(slots, 0), 4);
    ck_assert_int_eq(autotls_slots_read(slots, 0, pool, &key, &chain, &gen), APR_SUCCESS);
    ck_assert_uint_eq(gen, 4);
    ck_assert_int_eq(EVP_PKEY_eq(key, second.key), 1);
    ck_assert_int_eq(chain->nelts, 2);
    ck_assert(same_cert(APR_ARRAY_IDX(chain, 0, X509 *), APR_ARRAY_IDX(second.chain, 0, X509 *)));
    ck_assert(same_cert(APR_ARRAY_IDX(chain, 1, X509 *), APR_ARRAY_IDX(extra.chain, 0, X509 *)));
    ck_assert_int_eq(autotls_slots_info(slots, 0, &info), APR_SUCCESS);
    ck_assert_str_eq(info.serial, second.serial);
    /* A third publish lands in the half the first one used. */
    ck_assert_int_eq(autotls_slots_publish(slots, 0, first.key, first.chain, 0), APR_SUCCESS);
    ck_assert_int_eq(autotls_slots_read(slots, 0, pool, &key, &chain, &gen), APR_SUCCESS);
    ck_assert_uint_eq(gen, 6);
    ck_assert_int_eq(EVP_PKEY_eq(key, first.key), 1);
    ck_assert_int_eq(chain->nelts, 1);
    ck_assert_int_eq(autotls_slots_info(slots, 0, &info), APR_SUCCESS);
    ck_assert_int_eq(info.ca_issued, 0);
}
END_TEST

START_TEST(test_oversized_set_is_refused_and_old_one_stays)
{
    test_set_t set = make_set("a.example.org", AT_KEY_EC256);
    apr_array_header_t *big = apr_array_make(pool, TEST_BIG_CHAIN, sizeof(X509 *));
    EVP_PKEY *key;
    apr_array_header_t *chain;
    apr_uint32_t gen;
    int i;

    for (i = 0; i < TEST_BIG_CHAIN; i++) {
        APR_ARRAY_PUSH(big, X509 *) = APR_ARRAY_IDX(set.chain, 0, X509 *);
    }
    ck_assert_uint_gt(autotls_slots_set_size(set.key, big), AUTOTLS_SLOT_DATA_MAX);
    ck_assert_uint_gt(autotls_slots_set_size(set.key, set.chain), 0);
    ck_assert_uint_lt(autotls_slots_set_size(set.key, set.chain), AUTOTLS_SLOT_DATA_MAX);
    ck_assert_uint_eq(autotls_slots_set_size(NULL, set.chain), 0);
    ck_assert_int_eq(autotls_slots_publish(slots, 2, set.key, set.chain, 1), APR_SUCCESS);
    ck_assert_int_eq(autotls_slots_publish(slots, 2, set.key, big, 1), AT_ETOOLARGE);
    ck_assert_uint_eq(autotls_slots_generation(slots, 2), 2);
    ck_assert_int_eq(autotls_slots_read(slots, 2, pool, &key, &chain, &gen), APR_SUCCESS);
    ck_assert_int_eq(chain->nelts, 1);
    ck_assert_int_eq(EVP_PKEY_eq(key, set.key), 1);
}
END_TEST

START_TEST(test_bad_arguments_are_refused)
{
    test_set_t set = make_set("a.example.org", AT_KEY_EC256);
    apr_array_header_t *empty = apr_array_make(pool, 1, sizeof(X509 *));
    autotls_slot_info_t info;
    EVP_PKEY *key;
    apr_array_header_t *chain;
    apr_uint32_t gen;
    autotls_slots_t *none;

    ck_assert_int_eq(autotls_slots_publish(slots, TEST_SLOTS, set.key, set.chain, 1), AT_EARG);
    ck_assert_int_eq(autotls_slots_publish(slots, -1, set.key, set.chain, 1), AT_EARG);
    ck_assert_int_eq(autotls_slots_publish(slots, 0, NULL, set.chain, 1), AT_EARG);
    ck_assert_int_eq(autotls_slots_publish(slots, 0, set.key, empty, 1), AT_EARG);
    ck_assert_uint_eq(autotls_slots_generation(slots, 0), 0);
    ck_assert_uint_eq(autotls_slots_generation(slots, TEST_SLOTS), 0);
    ck_assert_uint_eq(autotls_slots_generation(NULL, 0), 0);
    ck_assert_int_eq(autotls_slots_info(slots, TEST_SLOTS, &info), AT_EARG);
    ck_assert_int_eq(autotls_slots_read(slots, -1, pool, &key, &chain, &gen), AT_EARG);
    ck_assert_int_eq(autotls_slots_create(&none, pool, -1), AT_EARG);
    ck_assert_int_eq(autotls_slots_create(&none, pool, 0), APR_SUCCESS);
    ck_assert_int_eq(autotls_slots_count(none), 0);
}
END_TEST

/* --- what a process can reach of the slots, seen from inside it ------------------------------ */

/* The mappings of the slots' memfd: how many are writable, and where the read-only one is. */
typedef struct {
    int writable;
    int readonly;
    void *reader;
    size_t reader_len;
} slot_maps_t;

static slot_maps_t slot_maps(void)
{
    slot_maps_t found = {0, 0, NULL, 0};
    char line[MAPS_LINE];
    FILE *maps = fopen("/proc/self/maps", "r");

    ck_assert_ptr_nonnull(maps);
    while (fgets(line, sizeof(line), maps) != NULL) {
        unsigned long start, end;
        char perms[8];

        if (strstr(line, MEMFD_NAME) == NULL ||
            sscanf(line, "%lx-%lx %7s", &start, &end, perms) != 3) {
            continue;
        }
        if (perms[1] == 'w') {
            found.writable++;
        } else {
            found.readonly++;
            found.reader = (void *)start;
            found.reader_len = end - start;
        }
    }
    fclose(maps);
    return found;
}

/* Open descriptors of this process that lead to the slots' memfd. */
static int slot_descriptors(void)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *entry;
    int found = 0;

    ck_assert_ptr_nonnull(dir);
    while ((entry = readdir(dir)) != NULL) {
        char path[PATH_MAX], target[PATH_MAX];
        ssize_t len;

        snprintf(path, sizeof(path), "/proc/self/fd/%s", entry->d_name);
        len = readlink(path, target, sizeof(target) - 1);
        if (len > 0) {
            target[len] = '\0';
            found += strstr(target, MEMFD_NAME) != NULL;
        }
    }
    closedir(dir);
    return found;
}

START_TEST(test_reader_cannot_be_made_writable_and_no_descriptor_stays_open)
{
    slot_maps_t maps = slot_maps();

    /* The parent holds the writer and the reader, and no descriptor to map the memfd again. */
    ck_assert_int_eq(maps.writable, 1);
    ck_assert_int_eq(maps.readonly, 1);
    ck_assert_int_eq(slot_descriptors(), 0);
    ck_assert_int_ne(mprotect(maps.reader, maps.reader_len, PROT_READ | PROT_WRITE), 0);
    ck_assert_int_ne(madvise(maps.reader, maps.reader_len, MADV_REMOVE), 0);
    ck_assert_int_eq(slot_maps().writable, 1);
}
END_TEST

/* What a child of the MPM meets: a reader it cannot write through, no writer, no descriptor. */
static int child_try_every_write(const test_set_t *set)
{
    slot_maps_t maps = slot_maps();

    if (maps.writable != 0) {
        return EXIT_WRITABLE_MAPPING;
    }
    if (slot_descriptors() != 0) {
        return EXIT_DESCRIPTOR_OPEN;
    }
    if (mprotect(maps.reader, maps.reader_len, PROT_READ | PROT_WRITE) == 0 ||
        mprotect(maps.reader, maps.reader_len, PROT_WRITE) == 0) {
        return EXIT_MPROTECT_WORKED;
    }
    if (madvise(maps.reader, maps.reader_len, MADV_REMOVE) == 0) {
        return EXIT_MADVISE_WORKED;
    }
    if (autotls_slots_publish(slots, 0, set->key, set->chain, 1) != APR_EACCES ||
        autotls_slots_writer_inherit(slots, 1) != APR_EINVAL) {
        return EXIT_PUBLISH_WORKED;
    }
    if (autotls_slots_child_init(slots) != APR_SUCCESS) {
        return EXIT_CHILD_INIT_FAILED;
    }
    signal(SIGSEGV, SIG_DFL);
    *(volatile unsigned char *)maps.reader = 0; /* must fault */
    return EXIT_WROTE;
}

START_TEST(test_forked_child_can_write_through_nothing)
{
    test_set_t set = make_set("a.example.org", AT_KEY_EC256);
    test_set_t other = make_set("b.example.org", AT_KEY_EC256);
    autotls_slot_info_t info;
    int status = 0;
    pid_t pid;

    ck_assert_int_eq(autotls_slots_publish(slots, 0, set.key, set.chain, 1), APR_SUCCESS);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        _exit(child_try_every_write(&other));
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
                  "the child got through (exit %d, signal %d)",
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    ck_assert_int_eq(autotls_slots_info(slots, 0, &info), APR_SUCCESS);
    ck_assert_str_eq(info.serial, set.serial);
    ck_assert_uint_eq(info.generation, 2);
    /* The parent's writer still works. */
    ck_assert_int_eq(autotls_slots_publish(slots, 0, other.key, other.chain, 1), APR_SUCCESS);
}
END_TEST

/* The activator's fork: the writer goes through it, and through no fork of the activator's. */
static int activator_publish(const test_set_t *set)
{
    int status = 0;
    pid_t grandchild;

    if (autotls_slots_writer_inherit(slots, 0) != APR_SUCCESS || slot_maps().writable != 1) {
        return EXIT_NO_WRITER;
    }
    if (autotls_slots_publish(slots, 1, set->key, set->chain, 1) != APR_SUCCESS) {
        return EXIT_NO_WRITER;
    }
    grandchild = fork();
    if (grandchild == 0) {
        _exit(slot_maps().writable == 0 ? 0 : EXIT_WRITABLE_MAPPING);
    }
    if (grandchild < 0 || waitpid(grandchild, &status, 0) != grandchild || !WIFEXITED(status)) {
        return EXIT_READ_FAILED;
    }
    return WEXITSTATUS(status);
}

START_TEST(test_only_the_activator_fork_gets_the_writer)
{
    test_set_t set = make_set("a.example.org", AT_KEY_EC256);
    autotls_slot_info_t info;
    int status = 0;
    pid_t pid;

    ck_assert_int_eq(autotls_slots_writer_inherit(slots, 1), APR_SUCCESS);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        _exit(activator_publish(&set));
    }
    ck_assert_int_eq(autotls_slots_writer_inherit(slots, 0), APR_SUCCESS);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    ck_assert_int_eq(autotls_slots_info(slots, 1, &info), APR_SUCCESS);
    ck_assert_str_eq(info.serial, set.serial);
    /* Forks after that get no writer again. */
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        _exit(slot_maps().writable == 0 ? 0 : EXIT_WRITABLE_MAPPING);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

/* A child forked while the writer was passed on by mistake: child_init removes it, loudly. */
static int child_after_leak(void)
{
    if (slot_maps().writable != 1) {
        return EXIT_NO_WRITER;
    }
    if (autotls_slots_child_init(slots) != APR_EGENERAL) {
        return EXIT_CHILD_INIT_FAILED;
    }
    return slot_maps().writable == 0 && slot_maps().readonly == 1 ? 0 : EXIT_WRITABLE_MAPPING;
}

START_TEST(test_child_init_removes_a_leaked_writer)
{
    int status = 0;
    pid_t pid;

    ck_assert_int_eq(autotls_slots_writer_inherit(slots, 1), APR_SUCCESS);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        _exit(child_after_leak());
    }
    ck_assert_int_eq(autotls_slots_writer_inherit(slots, 0), APR_SUCCESS);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

/* --- corrupt slots: every count and length is bounded ----------------------------------------- */

typedef struct {
    autotls_slots_test_field_e field;
    apr_uint32_t value; /* CORRUPT_BIG, or an offset from the true value when relative */
    int relative;
    const char *what;
} corruption_t;

static const corruption_t corruptions[] = {
    {AUTOTLS_SLOTS_TEST_CERT_COUNT, CORRUPT_BIG, 0, "cert_count 2^32-1"},
    {AUTOTLS_SLOTS_TEST_CERT_COUNT, 0, 0, "cert_count 0"},
    {AUTOTLS_SLOTS_TEST_CERT_COUNT, 1, 1, "one certificate more than stored"},
    {AUTOTLS_SLOTS_TEST_CERT_COUNT, AUTOTLS_SLOT_DATA_MAX, 0, "cert_count of the slot size"},
    {AUTOTLS_SLOTS_TEST_DATA_LEN, AUTOTLS_SLOT_DATA_MAX + 1, 0, "data beyond the half"},
    {AUTOTLS_SLOTS_TEST_DATA_LEN, CORRUPT_BIG, 0, "data_len 2^32-1"},
    {AUTOTLS_SLOTS_TEST_DATA_LEN, 1, 1, "one byte more than stored"},
    {AUTOTLS_SLOTS_TEST_DATA_LEN, 0, 0, "no data"},
    {AUTOTLS_SLOTS_TEST_KEY_LEN, 0, 0, "no key"},
    {AUTOTLS_SLOTS_TEST_KEY_LEN, CORRUPT_BIG, 0, "key_len 2^32-1"},
    {AUTOTLS_SLOTS_TEST_ACTIVE, 2, 0, "a third half"},
    {AUTOTLS_SLOTS_TEST_ACTIVE, CORRUPT_BIG, 0, "half 2^32-1"},
    {AUTOTLS_SLOTS_TEST_LEAF_LEN, CORRUPT_BIG, 0, "leaf length 2^32-1"},
    {AUTOTLS_SLOTS_TEST_LEAF_LEN, AUTOTLS_SLOT_DATA_MAX, 0, "leaf length of the slot size"},
    {AUTOTLS_SLOTS_TEST_LEAF_LEN, 1, 1, "leaf one byte longer than stored"},
    {AUTOTLS_SLOTS_TEST_LEAF_LEN, 0, 0, "leaf length 0"},
};

START_TEST(test_corrupt_slot_is_refused_never_overread)
{
    const corruption_t *bad = &corruptions[_i];
    test_set_t set = make_set("a.example.org", AT_KEY_EC256);
    apr_size_t size = autotls_slots_set_size(set.key, set.chain);
    EVP_PKEY *key;
    apr_array_header_t *chain;
    apr_uint32_t gen = 0, value = bad->value;
    autotls_slot_info_t info;

    ck_assert_int_eq(autotls_slots_publish(slots, 0, set.key, set.chain, 1), APR_SUCCESS);
    if (bad->relative && bad->field == AUTOTLS_SLOTS_TEST_CERT_COUNT) {
        value += (apr_uint32_t)set.chain->nelts;
    } else if (bad->relative && bad->field == AUTOTLS_SLOTS_TEST_DATA_LEN) {
        value += (apr_uint32_t)size;
    } else if (bad->relative) {
        value += (apr_uint32_t)i2d_X509(APR_ARRAY_IDX(set.chain, 0, X509 *), NULL);
    }
    autotls_slots_test_corrupt(slots, 0, bad->field, value);
    ck_assert_msg(autotls_slots_read(slots, 0, pool, &key, &chain, &gen) == AT_EINVALID,
                  "a slot with %s was not refused", bad->what);
    ck_assert_ptr_null(key);
    ck_assert_ptr_null(chain);
    ck_assert_uint_eq(gen, 0);
    /* Counts and lengths out of the slot's bounds are refused before any data is copied. */
    if (bad->field != AUTOTLS_SLOTS_TEST_LEAF_LEN && !bad->relative) {
        ck_assert_int_eq(autotls_slots_info(slots, 0, &info), AT_EINVALID);
    }
    /* The next publish repairs the slot. */
    ck_assert_int_eq(autotls_slots_publish(slots, 0, set.key, set.chain, 1), APR_SUCCESS);
    ck_assert_int_eq(autotls_slots_read(slots, 0, pool, &key, &chain, &gen), APR_SUCCESS);
    ck_assert_int_eq(EVP_PKEY_eq(key, set.key), 1);
}
END_TEST

/* A forked process (like a child) sees what the parent publishes after the fork. */
static int child_wait_for_serial(const char *serial)
{
    apr_pool_t *p;
    EVP_PKEY *key;
    apr_array_header_t *chain;
    apr_uint32_t gen;
    autotls_slot_info_t info;
    int step;

    if (autotls_slots_child_init(slots) != APR_SUCCESS) {
        return EXIT_CHILD_INIT_FAILED;
    }
    for (step = 0; step < CHILD_WAIT_STEPS; step++) {
        if (autotls_slots_generation(slots, 1) != 0) {
            break;
        }
        usleep(CHILD_WAIT_STEP_USEC);
    }
    if (step == CHILD_WAIT_STEPS) {
        return EXIT_TIMEOUT;
    }
    apr_pool_create(&p, NULL);
    if (autotls_slots_read(slots, 1, p, &key, &chain, &gen) != APR_SUCCESS ||
        autotls_slots_info(slots, 1, &info) != APR_SUCCESS) {
        return EXIT_READ_FAILED;
    }
    if (!at_cert_matches_key(APR_ARRAY_IDX(chain, 0, X509 *), key) ||
        strcmp(info.serial, serial) != 0) {
        return EXIT_WRONG_SET;
    }
    apr_pool_destroy(p);
    return 0;
}

START_TEST(test_forked_reader_sees_later_publish)
{
    test_set_t set = make_set("a.example.org", AT_KEY_EC256);
    int status = 0;
    pid_t pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        _exit(child_wait_for_serial(set.serial));
    }
    ck_assert_int_eq(autotls_slots_publish(slots, 1, set.key, set.chain, 1), APR_SUCCESS);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

/* Readers racing a writer that alternates two sets: every read is one whole set. */
typedef struct {
    test_set_t sets[2];
    volatile int done;
    int reads;
    int torn;
    int failed;
} race_t;

static void *race_reader(void *arg)
{
    race_t *race = arg;
    apr_pool_t *p;
    apr_uint32_t last = 0;

    apr_pool_create(&p, NULL);
    while (!__atomic_load_n(&race->done, __ATOMIC_ACQUIRE)) {
        EVP_PKEY *key;
        apr_array_header_t *chain;
        apr_uint32_t gen;
        apr_status_t rv = autotls_slots_read(slots, 0, p, &key, &chain, &gen);

        if (rv == APR_SUCCESS) {
            X509 *leaf = APR_ARRAY_IDX(chain, 0, X509 *);
            int which = EVP_PKEY_eq(key, race->sets[0].key) == 1 ? 0 : 1;

            if (chain->nelts != 1 || !at_cert_matches_key(leaf, key) ||
                EVP_PKEY_eq(key, race->sets[which].key) != 1 || (gen & 1u) || gen < last) {
                __atomic_add_fetch(&race->torn, 1, __ATOMIC_RELAXED);
            }
            last = gen;
            __atomic_add_fetch(&race->reads, 1, __ATOMIC_RELAXED);
        } else if (rv != APR_EAGAIN) {
            __atomic_add_fetch(&race->failed, 1, __ATOMIC_RELAXED);
        }
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    return NULL;
}

START_TEST(test_readers_never_see_a_torn_set)
{
    int publishes = getenv("AT_UNIT_SHORT") != NULL ? RACE_PUBLISHES_SHORT : RACE_PUBLISHES;
    race_t race;
    pthread_t readers[RACE_READERS];
    int i;

    memset(&race, 0, sizeof(race));
    race.sets[0] = make_set("a.example.org", AT_KEY_EC256);
    race.sets[1] = make_set("b.example.org", AT_KEY_EC256);
    ck_assert_int_eq(autotls_slots_publish(slots, 0, race.sets[0].key, race.sets[0].chain, 1),
                     APR_SUCCESS);
    for (i = 0; i < RACE_READERS; i++) {
        ck_assert_int_eq(pthread_create(&readers[i], NULL, race_reader, &race), 0);
    }
    for (i = 0; i < publishes; i++) {
        const test_set_t *set = &race.sets[(i + 1) % 2];

        ck_assert_int_eq(autotls_slots_publish(slots, 0, set->key, set->chain, 1), APR_SUCCESS);
    }
    __atomic_store_n(&race.done, 1, __ATOMIC_RELEASE);
    for (i = 0; i < RACE_READERS; i++) {
        pthread_join(readers[i], NULL);
    }
    ck_assert_int_eq(race.torn, 0);
    ck_assert_int_eq(race.failed, 0);
    ck_assert_int_gt(race.reads, 0);
    ck_assert_uint_eq(autotls_slots_generation(slots, 0), 2 + 2 * (apr_uint32_t)publishes);
}
END_TEST

/* --- a set published from its DER (the parent's verdict cache) ----------------------------- */

/* The DER of key (PKCS#8) and of each certificate of chain, as at_pem_der_blocks gives them. */
static autotls_slot_der_t der_of(const test_set_t *set)
{
    autotls_slot_der_t der;
    apr_array_header_t *certs = apr_array_make(pool, set->chain->nelts, sizeof(at_der_t));
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(set->key);
    unsigned char *out = NULL;
    at_cert_info_t *info;
    int i, len;

    ck_assert_ptr_nonnull(p8);
    len = i2d_PKCS8_PRIV_KEY_INFO(p8, &out);
    ck_assert_int_gt(len, 0);
    der.key_der = apr_pmemdup(pool, out, (apr_size_t)len);
    der.key_len = (apr_size_t)len;
    OPENSSL_free(out);
    PKCS8_PRIV_KEY_INFO_free(p8);
    for (i = 0; i < set->chain->nelts; i++) {
        at_der_t *block = apr_array_push(certs);

        out = NULL;
        len = i2d_X509(APR_ARRAY_IDX(set->chain, i, X509 *), &out);
        ck_assert_int_gt(len, 0);
        block->der = apr_pmemdup(pool, out, (apr_size_t)len);
        block->len = (apr_size_t)len;
        OPENSSL_free(out);
    }
    ck_assert_int_eq(at_cert_info(&info, pool, APR_ARRAY_IDX(set->chain, 0, X509 *)), APR_SUCCESS);
    der.certs = certs;
    der.serial = info->serial;
    der.not_before = info->not_before;
    der.not_after = info->not_after;
    return der;
}

START_TEST(test_set_published_from_der_reads_back_like_one_from_objects)
{
    test_set_t set = make_set("der.example.org", AT_KEY_EC256);
    autotls_slot_der_t der = der_of(&set);
    autotls_slot_info_t by_der, by_objects;
    EVP_PKEY *key;
    apr_array_header_t *chain;
    apr_uint32_t gen;
    X509 *leaf;

    ck_assert_int_eq(autotls_slots_publish_der(slots, 0, &der, 1), APR_SUCCESS);
    ck_assert_int_eq(autotls_slots_publish(slots, 1, set.key, set.chain, 1), APR_SUCCESS);
    ck_assert_int_eq(autotls_slots_read(slots, 0, pool, &key, &chain, &gen), APR_SUCCESS);
    ck_assert_uint_eq(gen, 2);
    ck_assert_int_eq(EVP_PKEY_eq(key, set.key), 1);
    ck_assert(same_cert(APR_ARRAY_IDX(chain, 0, X509 *), APR_ARRAY_IDX(set.chain, 0, X509 *)));
    ck_assert_int_eq(autotls_slots_info(slots, 0, &by_der), APR_SUCCESS);
    ck_assert_int_eq(autotls_slots_info(slots, 1, &by_objects), APR_SUCCESS);
    ck_assert_str_eq(by_der.serial, by_objects.serial);
    ck_assert(by_der.not_after == by_objects.not_after);
    ck_assert(by_der.not_before == by_objects.not_before);
    ck_assert_int_eq(by_der.ca_issued, 1);
    /* the leaf alone, as the renewal process reads it */
    ck_assert_int_eq(autotls_slots_read_leaf(slots, 0, pool, &leaf, &gen), APR_SUCCESS);
    ck_assert_uint_eq(gen, 2);
    ck_assert(same_cert(leaf, APR_ARRAY_IDX(set.chain, 0, X509 *)));
    ck_assert_int_eq(autotls_slots_read_leaf(slots, 2, pool, &leaf, &gen), APR_ENOENT);
}
END_TEST

START_TEST(test_oversized_der_set_is_refused_and_old_one_stays)
{
    test_set_t set = make_set("der-big.example.org", AT_KEY_EC256);
    autotls_slot_der_t der = der_of(&set);
    apr_array_header_t *big = apr_array_make(pool, 1, sizeof(at_der_t));
    at_der_t *block = apr_array_push(big);

    ck_assert_int_eq(autotls_slots_publish_der(slots, 0, &der, 1), APR_SUCCESS);
    block->der = apr_pcalloc(pool, AUTOTLS_SLOT_DATA_MAX);
    block->len = AUTOTLS_SLOT_DATA_MAX;
    der.certs = big;
    ck_assert_int_eq(autotls_slots_publish_der(slots, 0, &der, 1), AT_ETOOLARGE);
    ck_assert_uint_eq(autotls_slots_generation(slots, 0), 2);
    der.certs = NULL;
    ck_assert_int_eq(autotls_slots_publish_der(slots, 0, &der, 1), AT_EARG);
}
END_TEST

static Suite *slots_suite(void)
{
    Suite *s = suite_create("slots");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, RACE_TIMEOUT);
    tcase_add_test(tc, test_fresh_slots_are_empty);
    tcase_add_test(tc, test_published_set_reads_back_exactly);
    tcase_add_test(tc, test_republish_replaces_and_chain_order_is_kept);
    tcase_add_test(tc, test_oversized_set_is_refused_and_old_one_stays);
    tcase_add_test(tc, test_bad_arguments_are_refused);
    tcase_add_test(tc, test_set_published_from_der_reads_back_like_one_from_objects);
    tcase_add_test(tc, test_oversized_der_set_is_refused_and_old_one_stays);
    tcase_add_test(tc, test_forked_reader_sees_later_publish);
    tcase_add_test(tc, test_reader_cannot_be_made_writable_and_no_descriptor_stays_open);
    tcase_add_test(tc, test_forked_child_can_write_through_nothing);
    tcase_add_test(tc, test_only_the_activator_fork_gets_the_writer);
    tcase_add_test(tc, test_child_init_removes_a_leaked_writer);
    tcase_add_loop_test(tc, test_corrupt_slot_is_refused_never_overread, 0,
                        (int)(sizeof(corruptions) / sizeof(corruptions[0])));
    tcase_add_test(tc, test_readers_never_see_a_torn_set);
    suite_add_tcase(s, tc);
    return s;
}

AT_UNIT_MAIN(slots_suite)
