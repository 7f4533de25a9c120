/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_certset_meta.h: what a certificate set records about its origin (the item AT_CERTSET_META,
 * "meta.json", next to the key and the chain).
 *
 * The one idea: the document's keys are spelled here alone; whoever writes a set's origin and
 * whoever reads it back (`autotls show` asks the set's CA for its renewal window, `autotls
 * revoke` revokes at the CA that issued it) go through these two calls:
 *   {"ca": "<directory URL>", "names": ["a.example", ...], "order": "<order URL>",
 *    "ca_cert": "<file of roots for TLS to the CA>"}
 */
#ifndef AT_CERTSET_META_H
#define AT_CERTSET_META_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "at_store.h"

typedef struct {
    const char *ca;                  /* the CA's directory URL; NULL when not recorded */
    const char *ca_cert;             /* roots for TLS to the CA; NULL: the system's */
    const char *order;               /* the order's URL; NULL when not recorded */
    const apr_array_header_t *names; /* const char *: the names ordered; NULL when not recorded */
} at_certset_meta_t;

/* Writes group/site/meta.json from meta (NULL fields are left out). */
apr_status_t at_certset_meta_save(at_store_t *store, at_store_group_e group, const char *site,
                                  const at_certset_meta_t *meta, apr_pool_t *p);

/* Reads group/site/meta.json into *meta (strings in p); a key missing or of the wrong type is
 * NULL. APR_ENOENT when the set has no meta.json, AT_EPROTO when it is not a JSON object. */
apr_status_t at_certset_meta_load(at_certset_meta_t *meta, at_store_t *store,
                                  at_store_group_e group, const char *site, apr_pool_t *p);

#endif
