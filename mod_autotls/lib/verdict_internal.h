/* SPDX-License-Identifier: Apache-2.0 */
/*
 * verdict_internal.h: what verdict_file.c needs of the cache (verdict.c). Internal to the library.
 */
#ifndef AT_VERDICT_INTERNAL_H
#define AT_VERDICT_INTERNAL_H

#include <apr_tables.h>

#include "at_verdict.h"

/* One remembered verdict, as at_verdict_store was given it. */
typedef struct {
    const char *site;
    at_verdict_subject_t subject;
    at_verdict_t verdict;
} at_verdict_entry_t;

/* Every entry of cache, copied into p (an array of at_verdict_entry_t). */
apr_array_header_t *at_verdict_cache_entries(const at_verdict_cache_t *cache, apr_pool_t *p);

#endif
