/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ca_fixture.h: the state every test against the scripted CA starts from: a pool, a canned CA
 * on loopback, an HTTP client and an ACME client for it, a P-256 key, and the library's log lines
 * (kept for log_find; TEST_ACME_LOG=1 also prints them).
 */
#ifndef AT_CA_FIXTURE_H
#define AT_CA_FIXTURE_H

#include <apr_pools.h>
#include <openssl/evp.h>

#include "at_acme.h"
#include "at_core.h"
#include "at_http.h"
#include "canned_ca.h"

#define TEST_MAX_RESPONSE (64 * 1024)
#define TEST_TIMEOUT apr_time_from_sec(5)

extern apr_pool_t *pool;
extern canned_ca_t *ca;
extern at_http_t *http;
extern at_acme_t *acme;
extern EVP_PKEY *key;

void ca_fixture_setup(void);
void ca_fixture_teardown(void);

/* Log lines at level or more severe that contain text. */
int log_find(at_log_level_e level, const char *text);

/* An absolute URL on the canned CA. */
const char *url_of(const char *path);

EVP_PKEY *new_key(void);
at_http_t *new_http(apr_interval_time_t total_timeout);

#endif
