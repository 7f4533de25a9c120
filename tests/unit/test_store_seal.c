/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_store_seal.c: the seal of private keys bound for a network store, and the key file rules.
 *
 * The one idea: every way a sealed value can be wrong (another key, another key name, one bit,
 * a cut, something foreign) gives its own clear status and never a byte of plaintext.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include "unit_main.h"
#include "at_core.h"
#include "at_store_seal.h"

#define SECRET "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n"
#define BINDING "autotls:item:staging/example.org/privkey.pem"

static apr_pool_t *pool;
static at_store_seal_key_t *key, *other_key;
static char dir[256];

static void setup(void)
{
    unsigned char bytes[AT_STORE_SEAL_KEY_LEN];

    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    memset(bytes, 0x5a, sizeof(bytes));
    ck_assert_int_eq(at_store_seal_key_make(&key, pool, bytes, sizeof(bytes)), APR_SUCCESS);
    bytes[0] ^= 1;
    ck_assert_int_eq(at_store_seal_key_make(&other_key, pool, bytes, sizeof(bytes)), APR_SUCCESS);
    snprintf(dir, sizeof(dir), "/tmp/test_store_seal.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    apr_pool_destroy(pool);
}

static void seal(char **out, apr_size_t *len)
{
    ck_assert_int_eq(at_store_seal_encrypt(out, len, pool, key, BINDING, SECRET, strlen(SECRET)),
                     APR_SUCCESS);
}

/* Opens data and checks that it fails with want, leaving no output and giving a reason. */
static void assert_refused(const char *binding, const at_store_seal_key_t *k, const char *data,
                           apr_size_t len, apr_status_t want)
{
    char *out = (char *)"untouched";
    apr_size_t out_len = 0;
    const char *why = NULL;

    ck_assert_int_eq(at_store_seal_decrypt(&out, &out_len, &why, pool, k, binding, data, len),
                     want);
    ck_assert_ptr_null(out);
    ck_assert_ptr_nonnull(why);
}

START_TEST(test_round_trip_gives_the_plaintext_and_the_envelope_is_not_pem)
{
    char *sealed, *out;
    apr_size_t len, out_len;
    const char *why;

    seal(&sealed, &len);
    ck_assert_uint_eq(len, strlen(SECRET) + AT_STORE_SEAL_OVERHEAD);
    ck_assert_int_eq(memcmp(sealed, AT_STORE_SEAL_MAGIC, AT_STORE_SEAL_MAGIC_LEN), 0);
    ck_assert_ptr_null(memmem(sealed, len, "BEGIN", 5));
    ck_assert_ptr_null(memmem(sealed, len, "MIGHAgEA", 8));
    ck_assert_int_eq(memcmp(sealed + AT_STORE_SEAL_MAGIC_LEN + 1, at_store_seal_key_id(key),
                            AT_STORE_SEAL_KEY_ID_LEN),
                     0);
    ck_assert_int_eq(at_store_seal_decrypt(&out, &out_len, &why, pool, key, BINDING, sealed, len),
                     APR_SUCCESS);
    ck_assert_uint_eq(out_len, strlen(SECRET));
    ck_assert_str_eq(out, SECRET);
}
END_TEST

START_TEST(test_two_seals_of_the_same_value_differ)
{
    char *a, *b;
    apr_size_t alen, blen;

    seal(&a, &alen);
    seal(&b, &blen);
    ck_assert_uint_eq(alen, blen);
    ck_assert_int_ne(memcmp(a, b, alen), 0);
}
END_TEST

START_TEST(test_wrong_key_is_refused_naming_both_key_ids)
{
    char *sealed, *out = NULL;
    apr_size_t len, out_len;
    const char *why = NULL;

    seal(&sealed, &len);
    ck_assert_int_eq(
        at_store_seal_decrypt(&out, &out_len, &why, pool, other_key, BINDING, sealed, len),
        AT_ECRYPTO);
    ck_assert_ptr_null(out);
    ck_assert_ptr_nonnull(strstr(why, at_store_seal_key_id(key)));
    ck_assert_ptr_nonnull(strstr(why, at_store_seal_key_id(other_key)));
}
END_TEST

START_TEST(test_wrong_key_with_a_forged_key_id_does_not_open)
{
    char *sealed;
    apr_size_t len;

    seal(&sealed, &len);
    memcpy(sealed + AT_STORE_SEAL_MAGIC_LEN + 1, at_store_seal_key_id(other_key),
           AT_STORE_SEAL_KEY_ID_LEN);
    assert_refused(BINDING, other_key, sealed, len, AT_ECRYPTO);
}
END_TEST

START_TEST(test_value_moved_to_another_key_name_does_not_open)
{
    char *sealed;
    apr_size_t len;

    seal(&sealed, &len);
    assert_refused("autotls:item:staging/other.example/privkey.pem", key, sealed, len, AT_ECRYPTO);
    assert_refused("", key, sealed, len, AT_ECRYPTO);
}
END_TEST

START_TEST(test_any_flipped_bit_does_not_open)
{
    char *sealed, *copy;
    apr_size_t len, i;

    seal(&sealed, &len);
    copy = apr_palloc(pool, len);
    /* Every byte past the magic and version: key id, nonce, ciphertext, tag. */
    for (i = AT_STORE_SEAL_MAGIC_LEN + 1; i < len; i++) {
        memcpy(copy, sealed, len);
        copy[i] ^= 0x01;
        assert_refused(BINDING, key, copy, len, AT_ECRYPTO);
    }
}
END_TEST

START_TEST(test_truncated_value_does_not_open)
{
    char *sealed;
    apr_size_t len;

    seal(&sealed, &len);
    assert_refused(BINDING, key, sealed, len - 1, AT_ECRYPTO);
    assert_refused(BINDING, key, sealed, AT_STORE_SEAL_OVERHEAD, AT_ECRYPTO);
    assert_refused(BINDING, key, sealed, AT_STORE_SEAL_OVERHEAD - 1, AT_ECORRUPT);
    assert_refused(BINDING, key, sealed, 3, AT_ECORRUPT);
    assert_refused(BINDING, key, sealed, 0, AT_ECORRUPT);
}
END_TEST

START_TEST(test_foreign_values_are_corrupt)
{
    char *sealed;
    apr_size_t len;

    assert_refused(BINDING, key, SECRET, strlen(SECRET), AT_ECORRUPT);
    seal(&sealed, &len);
    sealed[AT_STORE_SEAL_MAGIC_LEN] = AT_STORE_SEAL_VERSION + 1; /* a version we do not know */
    assert_refused(BINDING, key, sealed, len, AT_ECORRUPT);
    ck_assert(!at_store_seal_is_sealed(SECRET, strlen(SECRET)));
}
END_TEST

static const char *write_file(const char *name, const void *data, apr_size_t len, mode_t mode)
{
    const char *path = apr_pstrcat(pool, dir, "/", name, NULL);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    ck_assert_int_eq(fchmod(fd, mode), 0);
    close(fd);
    return path;
}

START_TEST(test_key_file_of_32_private_bytes_is_read_with_its_id)
{
    unsigned char bytes[AT_STORE_SEAL_KEY_LEN];
    at_store_seal_key_t *read;
    const char *why = NULL;

    memset(bytes, 0x5a, sizeof(bytes));
    ck_assert_int_eq(
        at_store_seal_key_read(&read, &why, pool, write_file("key", bytes, sizeof(bytes), 0600)),
        APR_SUCCESS);
    ck_assert_str_eq(at_store_seal_key_id(read), at_store_seal_key_id(key));
    ck_assert_uint_eq(strlen(at_store_seal_key_id(read)), AT_STORE_SEAL_KEY_ID_LEN);
}
END_TEST

START_TEST(test_key_file_refused_when_not_32_bytes_open_to_others_or_a_link)
{
    unsigned char bytes[AT_STORE_SEAL_KEY_LEN + 1];
    at_store_seal_key_t *read = NULL;
    const char *why = NULL, *good, *link;

    memset(bytes, 0x5a, sizeof(bytes));
    ck_assert_int_eq(at_store_seal_key_read(&read, &why, pool,
                                            write_file("short", bytes, sizeof(bytes) - 2, 0600)),
                     AT_EARG);
    ck_assert_ptr_nonnull(strstr(why, "exactly 32"));
    ck_assert_int_eq(
        at_store_seal_key_read(&read, &why, pool, write_file("long", bytes, sizeof(bytes), 0600)),
        AT_EARG);
    ck_assert_int_eq(at_store_seal_key_read(&read, &why, pool,
                                            write_file("group", bytes, sizeof(bytes) - 1, 0640)),
                     AT_EMODE);
    ck_assert_ptr_nonnull(strstr(why, "chmod 600"));
    ck_assert_int_eq(at_store_seal_key_read(&read, &why, pool,
                                            write_file("other", bytes, sizeof(bytes) - 1, 0604)),
                     AT_EMODE);
    good = write_file("good", bytes, sizeof(bytes) - 1, 0600);
    link = apr_pstrcat(pool, dir, "/link", NULL);
    ck_assert_int_eq(symlink(good, link), 0);
    ck_assert_int_ne(at_store_seal_key_read(&read, &why, pool, link), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(why, "symbolic link"));
    ck_assert_int_ne(at_store_seal_key_read(&read, &why, pool, dir), APR_SUCCESS);
    ck_assert_ptr_null(read);
    ck_assert_int_eq(at_store_seal_key_read(&read, &why, pool, good), APR_SUCCESS);
}
END_TEST

static Suite *store_seal_suite(void)
{
    Suite *s = suite_create("store_seal");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_round_trip_gives_the_plaintext_and_the_envelope_is_not_pem);
    tcase_add_test(tc, test_two_seals_of_the_same_value_differ);
    tcase_add_test(tc, test_wrong_key_is_refused_naming_both_key_ids);
    tcase_add_test(tc, test_wrong_key_with_a_forged_key_id_does_not_open);
    tcase_add_test(tc, test_value_moved_to_another_key_name_does_not_open);
    tcase_add_test(tc, test_any_flipped_bit_does_not_open);
    tcase_add_test(tc, test_truncated_value_does_not_open);
    tcase_add_test(tc, test_foreign_values_are_corrupt);
    tcase_add_test(tc, test_key_file_of_32_private_bytes_is_read_with_its_id);
    tcase_add_test(tc, test_key_file_refused_when_not_32_bytes_open_to_others_or_a_link);
    suite_add_tcase(s, tc);
    return s;
}

AT_UNIT_MAIN(store_seal_suite)
