/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_account.c: the stored ACME account against a scripted CA (canned_ca.c): key rollover and
 * the recovery of a rollover a crash interrupted.
 *
 * The one idea: the new key must be on disk (account.key.next) before the CA hears of it, and
 * afterwards exactly one key is the account key: the one the CA accepts.
 */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <apr_strings.h>

#include "unit_main.h"
#include "at_acme.h"
#include "at_b64url.h"
#include "at_core.h"
#include "at_issue.h"
#include "at_jws.h"
#include "ca_fixture.h"
#include "canned_ca.h"

#define CT_JSON "Content-Type: application/json\r\n"
#define CT_PROBLEM "Content-Type: application/problem+json\r\n"
#define DIRECTORY                                                                                  \
    "{\"newNonce\":\"$BASE/new-nonce\",\"newAccount\":\"$BASE/new-acct\","                         \
    "\"newOrder\":\"$BASE/new-order\",\"revokeCert\":\"$BASE/revoke\","                            \
    "\"keyChange\":\"$BASE/key-change\"}"
#define SECRET_MODE 0600

static at_store_t *store;
static char tmpdir[256];
static int next_on_disk_at_key_change = -1;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void setup(void)
{
    ca_fixture_setup();
    snprintf(tmpdir, sizeof(tmpdir), "%s/test_account.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    ck_assert_int_eq(at_store_fs_open(&store, pool, apr_pstrcat(pool, tmpdir, "/store", NULL)),
                     APR_SUCCESS);
    next_on_disk_at_key_change = -1;
}

static void teardown(void)
{
    nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    ca_fixture_teardown();
}

static const char *ca_name(void)
{
    return at_store_ca_name(pool, at_acme_url(acme));
}

static const char *item_path(const char *item)
{
    /* the test's own look at the file behind the item (at_store_path is for live/ only) */
    return apr_pstrcat(pool, at_store_fs_root(store), "/accounts/", ca_name(), "/", item, NULL);
}

static void store_key(const char *item, EVP_PKEY *k)
{
    const char *pem;
    apr_size_t len;

    ck_assert_int_eq(at_key_to_pem(&pem, &len, pool, k), APR_SUCCESS);
    ck_assert_int_eq(
        at_store_save(store, AT_STORE_ACCOUNTS, ca_name(), item, pem, len, AT_STORE_SECRET, pool),
        APR_SUCCESS);
}

static const char *thumbprint_of(EVP_PKEY *k)
{
    const char *thumbprint;

    ck_assert_int_eq(at_jwk_thumbprint(&thumbprint, pool, k), APR_SUCCESS);
    return thumbprint;
}

/* The thumbprint of a stored key, or NULL when the item is absent. */
static const char *stored_thumbprint(const char *item)
{
    EVP_PKEY *k;
    char *pem;
    apr_size_t len;

    if (at_store_load(store, AT_STORE_ACCOUNTS, ca_name(), item, &pem, &len, AT_STORE_SECRET,
                      pool) != APR_SUCCESS) {
        return NULL;
    }
    ck_assert_int_eq(at_key_from_pem(&k, pool, pem, len), APR_SUCCESS);
    return thumbprint_of(k);
}

static void store_account_json(void)
{
    json_t *json = json_pack("{s:s, s:s, s:s}", "url", url_of("/acct/1"), "ca", at_acme_url(acme),
                             "status", "valid");

    ck_assert_int_eq(
        at_store_save_json(store, AT_STORE_ACCOUNTS, ca_name(), AT_ACCOUNT_JSON, json, pool),
        APR_SUCCESS);
    json_decref(json);
}

static const char *with_nonce(const char *headers, const char *nonce)
{
    return apr_pstrcat(pool, headers, "Replay-Nonce: ", nonce, "\r\n", NULL);
}

/* A part ("protected" or "payload") of a flattened JWS object, parsed. */
static json_t *jws_part_of(const json_t *jws, const char *part)
{
    unsigned char *raw;
    apr_size_t len;
    json_t *json;

    ck_assert_int_eq(
        at_b64url_decode(&raw, &len, pool, json_string_value(json_object_get(jws, part))),
        APR_SUCCESS);
    json = json_loadb((const char *)raw, len, 0, NULL);
    ck_assert_ptr_nonnull(json);
    return json;
}

static json_t *request_jws(int index)
{
    json_t *jws = json_loads(canned_ca_request(ca, index)->body, 0, NULL);

    ck_assert_ptr_nonnull(jws);
    return jws;
}

/* The keyChange answer, computed when the request arrives: was the new key already stored? */
static char *key_change_answer(const canned_request_t *requests, int count, void *baton)
{
    struct stat st;

    (void)requests;
    (void)count;
    next_on_disk_at_key_change = stat((const char *)baton, &st) == 0;
    return strdup("{\"status\":\"valid\"}");
}

START_TEST(test_rollover_stores_the_next_key_before_key_change_and_promotes_it)
{
    const char *thumbprint, *next_path = item_path(AT_ACCOUNT_KEY_NEXT);
    json_t *outer, *outer_header, *inner, *inner_header, *inner_payload, *old_jwk;
    struct stat st;

    store_key(AT_ACCOUNT_KEY, key);
    at_acme_set_account(acme, key, url_of("/acct/1"));
    canned_ca_add(ca, 200, with_nonce(CT_JSON, "n1"), DIRECTORY);
    canned_ca_add_fn(ca, 200, with_nonce(CT_JSON, "n2"), key_change_answer, (void *)next_path);
    ck_assert_int_eq(at_account_rollover(&thumbprint, acme, store, pool), APR_SUCCESS);

    ck_assert_int_eq(next_on_disk_at_key_change, 1);
    ck_assert_str_ne(thumbprint, thumbprint_of(key));
    ck_assert_str_eq(stored_thumbprint(AT_ACCOUNT_KEY), thumbprint);
    ck_assert_ptr_null(stored_thumbprint(AT_ACCOUNT_KEY_NEXT));
    ck_assert_int_eq(stat(item_path(AT_ACCOUNT_KEY), &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, SECRET_MODE);
    ck_assert_str_eq(thumbprint_of(at_acme_account_key(acme)), thumbprint);

    /* RFC 8555 §7.3.5: outer signed as the account (kid), inner carries the new key's jwk and
     * names the account and the old key */
    ck_assert_str_eq(canned_ca_request(ca, 1)->path, "/key-change");
    outer = request_jws(1);
    outer_header = jws_part_of(outer, "protected");
    ck_assert_str_eq(json_string_value(json_object_get(outer_header, "kid")), url_of("/acct/1"));
    ck_assert_ptr_null(json_object_get(outer_header, "jwk"));
    inner = jws_part_of(outer, "payload");
    inner_header = jws_part_of(inner, "protected");
    inner_payload = jws_part_of(inner, "payload");
    ck_assert_ptr_null(json_object_get(inner_header, "kid"));
    ck_assert_ptr_nonnull(json_object_get(inner_header, "jwk"));
    ck_assert_int_eq(at_jwk_public(&old_jwk, key), APR_SUCCESS);
    ck_assert(!json_equal(json_object_get(inner_header, "jwk"), old_jwk));
    ck_assert_str_eq(json_string_value(json_object_get(inner_payload, "account")),
                     url_of("/acct/1"));
    ck_assert(json_equal(json_object_get(inner_payload, "oldKey"), old_jwk));
    json_decref(old_jwk);
    json_decref(inner_payload);
    json_decref(inner_header);
    json_decref(inner);
    json_decref(outer_header);
    json_decref(outer);
}
END_TEST

START_TEST(test_rollover_refused_keeps_the_old_key)
{
    const char *thumbprint = NULL;

    store_key(AT_ACCOUNT_KEY, key);
    at_acme_set_account(acme, key, url_of("/acct/1"));
    canned_ca_add(ca, 200, with_nonce(CT_JSON, "n1"), DIRECTORY);
    canned_ca_add(ca, 409, with_nonce(CT_PROBLEM, "n2"),
                  "{\"type\":\"urn:ietf:params:acme:error:malformed\",\"detail\":\"key in use\"}");
    ck_assert_int_eq(at_account_rollover(&thumbprint, acme, store, pool), AT_EPROBLEM);
    ck_assert_str_eq(stored_thumbprint(AT_ACCOUNT_KEY), thumbprint_of(key));
    ck_assert_ptr_null(stored_thumbprint(AT_ACCOUNT_KEY_NEXT));
    ck_assert_str_eq(thumbprint_of(at_acme_account_key(acme)), thumbprint_of(key));
}
END_TEST

START_TEST(test_interrupted_rollover_keeps_the_next_key_the_ca_accepts)
{
    EVP_PKEY *next = new_key();
    const char *next_thumbprint = thumbprint_of(next);
    json_t *jws, *header, *payload, *next_jwk;

    store_key(AT_ACCOUNT_KEY, key);
    store_key(AT_ACCOUNT_KEY_NEXT, next);
    store_account_json();
    canned_ca_add(ca, 200, with_nonce(CT_JSON, "n1"), DIRECTORY);
    canned_ca_add(ca, 200, with_nonce(CT_JSON "Location: $BASE/acct/1\r\n", "n2"),
                  "{\"status\":\"valid\"}");
    ck_assert_int_eq(at_account_ensure(acme, store, pool, NULL), APR_SUCCESS);

    ck_assert_str_eq(stored_thumbprint(AT_ACCOUNT_KEY), next_thumbprint);
    ck_assert_ptr_null(stored_thumbprint(AT_ACCOUNT_KEY_NEXT));
    ck_assert_str_eq(thumbprint_of(at_acme_account_key(acme)), next_thumbprint);
    ck_assert_str_eq(at_acme_account_url(acme), url_of("/acct/1"));
    /* the CA was asked about the next key only: onlyReturnExisting, signed with its jwk */
    ck_assert_str_eq(canned_ca_request(ca, 1)->path, "/new-acct");
    jws = request_jws(1);
    header = jws_part_of(jws, "protected");
    payload = jws_part_of(jws, "payload");
    ck_assert_int_eq(at_jwk_public(&next_jwk, next), APR_SUCCESS);
    ck_assert(json_equal(json_object_get(header, "jwk"), next_jwk));
    ck_assert(json_is_true(json_object_get(payload, "onlyReturnExisting")));
    json_decref(next_jwk);
    json_decref(payload);
    json_decref(header);
    json_decref(jws);
    EVP_PKEY_free(next);
}
END_TEST

START_TEST(test_interrupted_rollover_the_ca_never_saw_keeps_the_old_key)
{
    EVP_PKEY *next = new_key();

    store_key(AT_ACCOUNT_KEY, key);
    store_key(AT_ACCOUNT_KEY_NEXT, next);
    store_account_json();
    canned_ca_add(ca, 200, with_nonce(CT_JSON, "n1"), DIRECTORY);
    canned_ca_add(ca, 400, with_nonce(CT_PROBLEM, "n2"),
                  "{\"type\":\"urn:ietf:params:acme:error:accountDoesNotExist\","
                  "\"detail\":\"no such account\"}");
    ck_assert_int_eq(at_account_ensure(acme, store, pool, NULL), APR_SUCCESS);

    ck_assert_str_eq(stored_thumbprint(AT_ACCOUNT_KEY), thumbprint_of(key));
    ck_assert_ptr_null(stored_thumbprint(AT_ACCOUNT_KEY_NEXT));
    ck_assert_str_eq(thumbprint_of(at_acme_account_key(acme)), thumbprint_of(key));
    ck_assert_int_eq(canned_ca_request_count(ca), 2); /* the account itself needs no request */
    EVP_PKEY_free(next);
}
END_TEST

static Suite *account_suite(void)
{
    Suite *s = suite_create("account");
    TCase *rollover = tcase_create("rollover");

    tcase_add_checked_fixture(rollover, setup, teardown);
    tcase_add_test(rollover, test_rollover_stores_the_next_key_before_key_change_and_promotes_it);
    tcase_add_test(rollover, test_rollover_refused_keeps_the_old_key);
    tcase_add_test(rollover, test_interrupted_rollover_keeps_the_next_key_the_ca_accepts);
    tcase_add_test(rollover, test_interrupted_rollover_the_ca_never_saw_keeps_the_old_key);
    suite_add_tcase(s, rollover);
    return s;
}

AT_UNIT_MAIN(account_suite)
