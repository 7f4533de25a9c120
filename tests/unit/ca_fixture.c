/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ca_fixture.c: the state every test against the scripted CA (canned_ca.c) starts from.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "ca_fixture.h"

#define TEST_LOG_MAX 256

apr_pool_t *pool;
canned_ca_t *ca;
at_http_t *http;
at_acme_t *acme;
EVP_PKEY *key;
static char *log_lines[TEST_LOG_MAX];
static at_log_level_e log_levels[TEST_LOG_MAX];
static int log_count;

/* Keeps every line for log_find(); TEST_ACME_LOG=1 also prints them. */
static void capture_log(void *baton, at_log_level_e level, apr_status_t rv, const char *msg)
{
    if (getenv("TEST_ACME_LOG") != NULL) {
        fprintf(stderr, "[%d] %s\n", (int)level, msg);
    }
    if (log_count < TEST_LOG_MAX) {
        log_levels[log_count] = level;
        log_lines[log_count++] = strdup(msg);
    }
}

/* Lines at level or more severe that contain text. */
int log_find(at_log_level_e level, const char *text)
{
    int i, n = 0;

    for (i = 0; i < log_count; i++) {
        if (log_levels[i] <= level && strstr(log_lines[i], text) != NULL) {
            n++;
        }
    }
    return n;
}

const char *url_of(const char *path)
{
    return apr_pstrcat(pool, canned_ca_base(ca), path, NULL);
}

EVP_PKEY *new_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");

    ck_assert_ptr_nonnull(k);
    return k;
}

at_http_t *new_http(apr_interval_time_t total_timeout)
{
    at_http_options_t options = {0};
    at_http_t *h = NULL;

    options.total_timeout = total_timeout;
    options.connect_timeout = TEST_TIMEOUT;
    options.max_response = TEST_MAX_RESPONSE;
    ck_assert_int_eq(at_http_create(&h, pool, &options), APR_SUCCESS);
    return h;
}

void ca_fixture_setup(void)
{
    ck_assert_int_eq(apr_pool_create(&pool, NULL), APR_SUCCESS);
    log_count = 0;
    at_log_set(capture_log, NULL, AT_LOG_DEBUG);
    ca = canned_ca_start();
    ck_assert_ptr_nonnull(ca);
    http = new_http(TEST_TIMEOUT);
    ck_assert_int_eq(at_acme_create(&acme, pool, url_of("/dir"), http), APR_SUCCESS);
    key = new_key();
}

void ca_fixture_teardown(void)
{
    int i;

    apr_pool_destroy(pool);
    canned_ca_stop(ca);
    EVP_PKEY_free(key);
    at_log_set(NULL, NULL, AT_LOG_INFO);
    for (i = 0; i < log_count; i++) {
        free(log_lines[i]);
    }
    log_count = 0;
}
