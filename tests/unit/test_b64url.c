/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_b64url.c: base64url without padding, against RFC 4648's vectors and strict decoding.
 *
 * The one idea: every value has exactly the encoding RFC 4648 §5 gives it, minus the padding,
 * and the decoder refuses anything an encoder would never write.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <check.h>

#include "unit_main.h"
#include "at_b64url.h"

#define ROUND_TRIP_MAX_LEN 64
#define RANDOM_SEED 20240601u
#define TOKEN_MAX 64

static apr_pool_t *pool;

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

static const struct {
    const char *plain;
    const char *encoded;
} rfc4648_vectors[] = {
    {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
    {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
};

START_TEST(test_encode_matches_rfc4648_vectors_without_padding)
{
    const char *plain = rfc4648_vectors[_i].plain;

    ck_assert_str_eq(at_b64url_encode(pool, plain, strlen(plain)), rfc4648_vectors[_i].encoded);
}
END_TEST

START_TEST(test_decode_matches_rfc4648_vectors)
{
    unsigned char *out = NULL;
    apr_size_t len = 99;
    const char *plain = rfc4648_vectors[_i].plain;

    ck_assert_int_eq(at_b64url_decode(&out, &len, pool, rfc4648_vectors[_i].encoded), APR_SUCCESS);
    ck_assert_uint_eq(len, strlen(plain));
    ck_assert_mem_eq(out, plain, len);
    ck_assert_int_eq(out[len], '\0');
}
END_TEST

START_TEST(test_encode_uses_url_alphabet_for_62_and_63)
{
    const unsigned char bytes[] = {0xfb, 0xff};
    unsigned char *out = NULL;
    apr_size_t len = 0;

    ck_assert_str_eq(at_b64url_encode(pool, bytes, sizeof(bytes)), "-_8");
    ck_assert_int_eq(at_b64url_decode(&out, &len, pool, "-_8"), APR_SUCCESS);
    ck_assert_uint_eq(len, sizeof(bytes));
    ck_assert_mem_eq(out, bytes, sizeof(bytes));
}
END_TEST

START_TEST(test_random_bytes_round_trip_for_every_length_up_to_64)
{
    unsigned char data[ROUND_TRIP_MAX_LEN];
    apr_size_t n, i;

    srand(RANDOM_SEED);
    for (n = 0; n <= ROUND_TRIP_MAX_LEN; n++) {
        const char *text;
        unsigned char *out = NULL;
        apr_size_t len = 0;

        for (i = 0; i < n; i++) {
            data[i] = (unsigned char)(rand() & 0xff);
        }
        text = at_b64url_encode(pool, data, n);
        ck_assert_uint_eq(strlen(text), (n * 4 + 2) / 3);
        ck_assert_ptr_null(strpbrk(text, "=+/"));
        ck_assert_int_eq(at_b64url_decode(&out, &len, pool, text), APR_SUCCESS);
        ck_assert_uint_eq(len, n);
        if (n > 0) {
            ck_assert_mem_eq(out, data, n);
        }
    }
}
END_TEST

static const char *const rejected_inputs[] = {
    "Zg==",          /* padding */
    "Zm8=",          /* padding */
    "Zm9v\n",        /* trailing newline */
    "Zm 9v",         /* inner space */
    " Zm9v",         /* leading space */
    "Zm9v\tYg",      /* tab */
    "+_8",           /* standard alphabet 62 */
    "-/8",           /* standard alphabet 63 */
    "Z",             /* one char: no byte string encodes to it */
    "Zm9vY",         /* 4k+1 chars */
    "Zm9v!",         /* punctuation */
    "Zm9vY\xc3\xa9", /* non-ASCII */
};

START_TEST(test_decode_rejects_padding_whitespace_std_alphabet_and_bad_length)
{
    unsigned char *out = (unsigned char *)"untouched";
    apr_size_t len = 99;

    ck_assert_int_eq(at_b64url_decode(&out, &len, pool, rejected_inputs[_i]), APR_EINVAL);
    ck_assert_ptr_null(out);
    ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(test_is_token_accepts_url_alphabet_within_length)
{
    ck_assert(at_b64url_is_token("abcXYZ019-_", TOKEN_MAX));
    ck_assert(at_b64url_is_token("a", 1));
    ck_assert(at_b64url_is_token("LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0", 43));
}
END_TEST

START_TEST(test_is_token_rejects_empty_foreign_characters_and_overlong)
{
    ck_assert(!at_b64url_is_token("", TOKEN_MAX));
    ck_assert(!at_b64url_is_token(NULL, TOKEN_MAX));
    ck_assert(!at_b64url_is_token("abc=", TOKEN_MAX));
    ck_assert(!at_b64url_is_token("ab/c", TOKEN_MAX));
    ck_assert(!at_b64url_is_token("ab+c", TOKEN_MAX));
    ck_assert(!at_b64url_is_token("ab.c", TOKEN_MAX));
    ck_assert(!at_b64url_is_token("../etc", TOKEN_MAX));
    ck_assert(!at_b64url_is_token("ab c", TOKEN_MAX));
    ck_assert(!at_b64url_is_token("abcd", 3));
}
END_TEST

static Suite *b64url_suite(void)
{
    Suite *s = suite_create("b64url");
    TCase *tc = tcase_create("core");
    int vectors = (int)(sizeof(rfc4648_vectors) / sizeof(rfc4648_vectors[0]));
    int rejected = (int)(sizeof(rejected_inputs) / sizeof(rejected_inputs[0]));

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_encode_matches_rfc4648_vectors_without_padding, 0, vectors);
    tcase_add_loop_test(tc, test_decode_matches_rfc4648_vectors, 0, vectors);
    tcase_add_test(tc, test_encode_uses_url_alphabet_for_62_and_63);
    tcase_add_test(tc, test_random_bytes_round_trip_for_every_length_up_to_64);
    tcase_add_loop_test(tc, test_decode_rejects_padding_whitespace_std_alphabet_and_bad_length, 0,
                        rejected);
    tcase_add_test(tc, test_is_token_accepts_url_alphabet_within_length);
    tcase_add_test(tc, test_is_token_rejects_empty_foreign_characters_and_overlong);
    suite_add_tcase(s, tc);
    return s;
}

AT_UNIT_MAIN(b64url_suite)
