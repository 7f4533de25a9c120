/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_renew_job.c: a site's job file jobs/<site>.json as the renewal thread reads and rewrites
 * it (renew_job.c).
 *
 * Input: the file's bytes, planted in a real store as a tampered or truncated file would be.
 * The job file is how the backoff and the CA's Retry-After survive restarts, so whatever it
 * holds: loading it either works or is AT_EPROTO (rebuilt, never a crash), the schedule it
 * yields is usable, what was loaded can be written back, and the state after one more failure
 * (with the file's own bytes as the error, as a CA's detail would be) can always be written back
 * and reads back the same.
 */
#include "at_issue.h"
#include "fuzz_store_tmp.h"
#include "renew_job.h"

#define FUZZ_ITEM "fuzz.example.json"
#define FUZZ_ITEM_AGAIN "fuzz.example.again.json"
/* The real clock: renew_job.c reads back a wait longer than it would ever set (from now) as none.
 */
#define FUZZ_NOW fuzz_now

static apr_time_t fuzz_now;

static apr_array_header_t *fuzz_names(apr_pool_t *p, int served)
{
    apr_array_header_t *names = apr_array_make(p, 2, sizeof(const char *));

    APR_ARRAY_PUSH(names, const char *) = "example.com";
    if (!served) {
        APR_ARRAY_PUSH(names, const char *) = "www.example.com";
    }
    return names;
}

static void fuzz_schedule(autotls_job_t *job, apr_pool_t *p, apr_uint32_t random, const char *error)
{
    (void)autotls_job_missing_due(job, FUZZ_NOW);
    (void)autotls_job_missing_next_try(job);
    FUZZ_REQUIRE(autotls_job_missing_names(job, p) != NULL);
    (void)autotls_job_missing_reconcile(job, fuzz_names(p, 0), fuzz_names(p, 1));
    FUZZ_REQUIRE(autotls_job_failed(job, FUZZ_NOW, random, 0, error) >= 0);
    FUZZ_REQUIRE(job->next_try > FUZZ_NOW && job->failures > 0);
    (void)autotls_job_missing_failed(job, FUZZ_NOW, random, 0, error);
    FUZZ_REQUIRE(autotls_job_time_text(p, job->next_try) != NULL);
    FUZZ_REQUIRE(autotls_job_duration_text(p, job->next_try - FUZZ_NOW) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *root;
    at_store_t *store = fuzz_store(&root);
    apr_pool_t *p = fuzz_pool();
    autotls_job_t job, again;
    apr_uint32_t random = 0;
    apr_status_t rv;
    size_t i;

    fuzz_now = apr_time_now();
    for (i = 0; i < size; i++) {
        random = random * 31 + data[i];
    }
    FUZZ_REQUIRE(at_store_save(store, AT_STORE_JOBS, NULL, FUZZ_ITEM, data, size, AT_STORE_PUBLIC,
                               p) == APR_SUCCESS);
    autotls_job_init(&job);
    rv = autotls_job_load(&job, store, FUZZ_ITEM, p);
    FUZZ_REQUIRE(rv == APR_SUCCESS || rv == AT_EPROTO);
    FUZZ_REQUIRE(autotls_job_save(&job, store, FUZZ_ITEM_AGAIN, p) == APR_SUCCESS);
    fuzz_schedule(&job, p, random, fuzz_cstr(p, data, size));
    rv = autotls_job_save(&job, store, FUZZ_ITEM_AGAIN, p);
    if (fuzz_verbose() && rv != APR_SUCCESS) {
        fprintf(stderr, "fuzz_renew_job: save: %s\n", at_strerror(p, rv));
    }
    FUZZ_REQUIRE(rv == APR_SUCCESS);
    autotls_job_init(&again);
    FUZZ_REQUIRE(autotls_job_load(&again, store, FUZZ_ITEM_AGAIN, p) == APR_SUCCESS);
    FUZZ_REQUIRE(again.failures == job.failures); /* times are kept in whole seconds */
    FUZZ_REQUIRE(apr_time_sec(again.next_try) == apr_time_sec(job.next_try));
    FUZZ_REQUIRE(strcmp(again.last_error, job.last_error) == 0);
    FUZZ_REQUIRE(autotls_job_missing_count(&again) == autotls_job_missing_count(&job));
    autotls_job_clear(&again);
    autotls_job_clear(&job);
    apr_pool_destroy(p);
    return 0;
}
