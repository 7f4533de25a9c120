/*
 * test_slots.c: the shared certificate slots, checked across threads and processes.
 *
 * The one idea: a reader gets exactly the last published set or the one before, never a mix.
 * Every assertion compares what a reader parses back (key matches leaf, serials, DER bytes) with
 * what was published, including from a forked process that maps the slots read-only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "unit_main.h"
#include "at_core.h"
#include "at_crypto.h"
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

/* A forked process (like a child) sees what the parent publishes after the fork. */
static int child_wait_for_serial(const char *serial)
{
    apr_pool_t *p;
    EVP_PKEY *key;
    apr_array_header_t *chain;
    apr_uint32_t gen;
    autotls_slot_info_t info;
    int step;

    if (autotls_slots_protect(slots) != APR_SUCCESS) {
        return EXIT_READ_FAILED;
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

START_TEST(test_protected_mapping_faults_on_write)
{
    test_set_t set = make_set("a.example.org", AT_KEY_EC256);
    int status = 0;
    pid_t pid;

    ck_assert_int_eq(autotls_slots_publish(slots, 0, set.key, set.chain, 1), APR_SUCCESS);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        apr_pool_t *p;
        EVP_PKEY *key;
        apr_array_header_t *chain;
        apr_uint32_t gen;

        apr_pool_create(&p, NULL);
        if (autotls_slots_protect(slots) != APR_SUCCESS ||
            autotls_slots_read(slots, 0, p, &key, &chain, &gen) != APR_SUCCESS) {
            _exit(EXIT_READ_FAILED);
        }
        signal(SIGSEGV, SIG_DFL);
        autotls_slots_publish(slots, 0, set.key, set.chain, 1);
        _exit(0); /* reached only when the write went through */
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
                  "a write to the protected mapping did not fault (status %d)", status);
    /* The parent's own view is still writable. */
    ck_assert_int_eq(autotls_slots_publish(slots, 0, set.key, set.chain, 1), APR_SUCCESS);
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
    tcase_add_test(tc, test_forked_reader_sees_later_publish);
    tcase_add_test(tc, test_protected_mapping_faults_on_write);
    tcase_add_test(tc, test_readers_never_see_a_torn_set);
    suite_add_tcase(s, tc);
    return s;
}

AT_UNIT_MAIN(slots_suite)
