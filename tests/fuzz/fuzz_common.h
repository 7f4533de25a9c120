/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_common.h: what every libFuzzer target of tests/fuzz shares.
 *
 * The one idea: a target runs our real code on one input in a fresh pool and checks what must
 * hold whatever the input (a crash, a leak, undefined behaviour or a broken invariant is a
 * finding). Log lines are formatted and dropped, so that the formatting of hostile text runs too.
 * FUZZ_REQUIRE aborts (libFuzzer saves the input as a crash) when an invariant does not hold.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "at_core.h"

#define FUZZ_REQUIRE(cond)                                                                         \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz: invariant broken at %s:%d: %s\n", __FILE__, __LINE__, #cond);   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static apr_pool_t *fuzz_root_pool;

static void fuzz_log_drop(void *baton, at_log_level_e level, apr_status_t rv, const char *msg)
{
    (void)baton;
    (void)level;
    (void)rv;
    (void)msg;
}

/* Once per process: APR, the dropping log callback at every level, the root pool. */
static void fuzz_init(void)
{
    if (fuzz_root_pool != NULL) {
        return;
    }
    if (apr_initialize() != APR_SUCCESS || apr_pool_create(&fuzz_root_pool, NULL) != APR_SUCCESS) {
        abort();
    }
    at_log_set(fuzz_log_drop, NULL, AT_LOG_TRACE);
}

/* Whether FUZZ_VERBOSE is set: targets then print why an input was refused (reproducing). */
static int fuzz_verbose(void)
{
    static int verbose = -1;

    if (verbose < 0) {
        verbose = getenv("FUZZ_VERBOSE") != NULL;
    }
    return verbose;
}

/* A fresh pool for one input; the caller destroys it. */
static apr_pool_t *fuzz_pool(void)
{
    apr_pool_t *p;

    fuzz_init();
    if (apr_pool_create(&p, fuzz_root_pool) != APR_SUCCESS) {
        abort();
    }
    return p;
}

/* The input as a NUL-terminated string in p (cut at its first NUL byte, as C code sees it). */
static char *fuzz_cstr(apr_pool_t *p, const uint8_t *data, size_t size)
{
    return apr_pstrmemdup(p, (const char *)data, size);
}

/*
 * Splits the input at NUL bytes into at most max parts (the last takes the rest, NULs included);
 * parts that are missing are empty. Returns the number of parts present. Each part is
 * NUL-terminated in p and lens[i] is its length.
 */
static int fuzz_split(apr_pool_t *p, const uint8_t *data, size_t size, int max, char **parts,
                      size_t *lens)
{
    size_t start = 0, i;
    int n = 0;

    for (i = 0; i < size && n < max - 1; i++) {
        if (data[i] == '\0') {
            lens[n] = i - start;
            parts[n++] = apr_pstrmemdup(p, (const char *)data + start, i - start);
            start = i + 1;
        }
    }
    lens[n] = size - start;
    parts[n] = apr_pstrmemdup(p, (const char *)data + start, size - start);
    n++;
    for (i = (size_t)n; i < (size_t)max; i++) {
        parts[i] = apr_pstrdup(p, "");
        lens[i] = 0;
    }
    return n;
}

#endif
