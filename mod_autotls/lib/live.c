/* SPDX-License-Identifier: Apache-2.0 */
/*
 * live.c: a site's live certificate set, switched as one through a journal, and its archive.
 *
 * The one idea: live/<site>/ always ends up holding a key and the chain it belongs to, the new set
 * or the old one. A promotion writes next.privkey.pem and next.fullchain.pem first (the commit is
 * the second of those writes), then copies them over the real items; at_live_recover tells the
 * two halves of a crash apart by whether the pending pair matches, and finishes or discards it.
 * Every step is an ordinary atomic store write, so this works on any store backend.
 */
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_time.h>

#include "at_core.h"
#include "at_crypto.h"
#include "at_issue.h"
#include "at_live.h"
#include "live_internal.h"

#define LIVE_STAMP_FORMAT "%04d%02d%02dT%02d%02d%02d.%06dZ"
#define LIVE_STAMP_SCAN "%4d%2d%2dT%2d%2d%2d.%6dZ%n"
#define LIVE_STAMP_LEN 23 /* YYYYMMDDTHHMMSS.uuuuuuZ */
#define LIVE_STAMP_FIELDS 7
#define LIVE_TM_YEAR_BASE 1900
/* At most this many archived sets are looked at when restoring one. */
#define LIVE_RESTORE_TRIES 32
#define LIVE_SETS_INITIAL (2 * AT_ARCHIVE_KEEP_MAX)

int at_live_test_fail_at = 0;

/* Counts the store changes of the promotion under way, for the test hook. */
static int live_changes = -1;

/* One item as loaded: present or not. */
typedef struct {
    char *data;
    apr_size_t len;
    int present;
} live_item_t;

/* One archived set, from the item names in archive/<site>/. */
typedef struct {
    const char *stamp;
    apr_time_t when;
    int has_key;
    int has_chain;
} live_archived_t;

static apr_status_t live_hook(void)
{
    if (live_changes >= 0 && at_live_test_fail_at > 0 && ++live_changes >= at_live_test_fail_at) {
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

static apr_status_t live_save(at_store_t *store, const char *site, const char *item,
                              const live_item_t *it, at_store_access_e access, apr_pool_t *p)
{
    apr_status_t rv = live_hook();

    return rv != APR_SUCCESS
               ? rv
               : at_store_save(store, AT_STORE_LIVE, site, item, it->data, it->len, access, p);
}

static apr_status_t live_remove(at_store_t *store, const char *site, const char *item,
                                apr_pool_t *p)
{
    apr_status_t rv = live_hook();

    return rv != APR_SUCCESS ? rv : at_store_remove(store, AT_STORE_LIVE, site, item, p);
}

static apr_status_t live_load(live_item_t *it, at_store_t *store, at_store_group_e group,
                              const char *site, const char *item, at_store_access_e access,
                              apr_pool_t *p)
{
    apr_status_t rv = at_store_load(store, group, site, item, &it->data, &it->len, access, p);

    it->present = rv == APR_SUCCESS;
    return rv == APR_ENOENT ? APR_SUCCESS : rv;
}

/* Whether two PEM texts are a key and a chain whose leaf belongs to that key. */
static int live_pair_matches(const live_item_t *key, const live_item_t *chain, apr_pool_t *p)
{
    EVP_PKEY *pkey;
    apr_array_header_t *certs;

    return key->present && chain->present &&
           at_key_from_pem(&pkey, p, key->data, key->len) == APR_SUCCESS &&
           at_chain_from_pem(&certs, p, chain->data, chain->len) == APR_SUCCESS &&
           at_cert_matches_key(APR_ARRAY_IDX(certs, 0, X509 *), pkey);
}

/* Step 2 of a committed promotion: copy what next.* holds over the real items, drop next.*. */
static apr_status_t live_roll_forward(at_store_t *store, const char *site,
                                      const live_item_t *next_key, const live_item_t *next_chain,
                                      apr_pool_t *p)
{
    apr_status_t rv = APR_SUCCESS;

    if (next_key->present) {
        rv = live_save(store, site, AT_CERTSET_KEY, next_key, AT_STORE_SECRET, p);
    }
    if (rv == APR_SUCCESS && next_chain->present) {
        rv = live_save(store, site, AT_CERTSET_CHAIN, next_chain, AT_STORE_PUBLIC, p);
    }
    if (rv == APR_SUCCESS) {
        rv = live_remove(store, site, AT_LIVE_NEXT_KEY, p);
    }
    if (rv == APR_SUCCESS) {
        rv = live_remove(store, site, AT_LIVE_NEXT_CHAIN, p);
    }
    return rv;
}

apr_status_t at_live_recover(at_store_t *store, const char *site, at_live_recovery_e *outcome,
                             apr_pool_t *p)
{
    live_item_t next_key, next_chain, key, chain;
    apr_status_t rv;

    *outcome = AT_LIVE_CLEAN;
    if ((rv = live_load(&next_key, store, AT_STORE_LIVE, site, AT_LIVE_NEXT_KEY, AT_STORE_SECRET,
                        p)) != APR_SUCCESS ||
        (rv = live_load(&next_chain, store, AT_STORE_LIVE, site, AT_LIVE_NEXT_CHAIN,
                        AT_STORE_PUBLIC, p)) != APR_SUCCESS) {
        return rv;
    }
    if (!next_key.present && !next_chain.present) {
        return APR_SUCCESS;
    }
    key = next_key;
    chain = next_chain;
    if ((!key.present && (rv = live_load(&key, store, AT_STORE_LIVE, site, AT_CERTSET_KEY,
                                         AT_STORE_SECRET, p)) != APR_SUCCESS) ||
        (!chain.present && (rv = live_load(&chain, store, AT_STORE_LIVE, site, AT_CERTSET_CHAIN,
                                           AT_STORE_PUBLIC, p)) != APR_SUCCESS)) {
        return rv;
    }
    if (live_pair_matches(&key, &chain, p)) {
        *outcome = AT_LIVE_ROLLED_FORWARD;
        return live_roll_forward(store, site, &next_key, &next_chain, p);
    }
    *outcome = AT_LIVE_ROLLED_BACK;
    if ((rv = live_remove(store, site, AT_LIVE_NEXT_KEY, p)) == APR_SUCCESS) {
        rv = live_remove(store, site, AT_LIVE_NEXT_CHAIN, p);
    }
    return rv;
}

apr_status_t at_live_promote(at_store_t *store, const char *site, const char *key_pem,
                             apr_size_t key_len, const char *chain_pem, apr_size_t chain_len,
                             apr_pool_t *p)
{
    live_item_t key = {(char *)key_pem, key_len, 1}, chain = {(char *)chain_pem, chain_len, 1};
    at_live_recovery_e outcome;
    apr_status_t rv;

    if (!live_pair_matches(&key, &chain, p)) {
        at_log(AT_LOG_ERR, AT_EINVALID,
               "%s: refusing to promote a key and a chain that do not belong together", site);
        return AT_EINVALID;
    }
    /* An older interrupted promotion is settled first, so next.* holds only this one. */
    if ((rv = at_live_recover(store, site, &outcome, p)) != APR_SUCCESS) {
        return rv;
    }
    live_changes = 0;
    rv = live_save(store, site, AT_LIVE_NEXT_KEY, &key, AT_STORE_SECRET, p);
    if (rv == APR_SUCCESS) {
        rv = live_save(store, site, AT_LIVE_NEXT_CHAIN, &chain, AT_STORE_PUBLIC, p); /* commit */
    }
    if (rv == APR_SUCCESS) {
        rv = live_roll_forward(store, site, &key, &chain, p);
    }
    live_changes = -1;
    return rv;
}

/* --- archive ---------------------------------------------------------------------------------- */

const char *at_live_stamp(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t xt;

    if (apr_time_exp_gmt(&xt, t) != APR_SUCCESS) {
        apr_time_exp_gmt(&xt, 0); /* 1970: sorts first and is purged first */
    }
    return apr_psprintf(p, LIVE_STAMP_FORMAT, xt.tm_year + LIVE_TM_YEAR_BASE, xt.tm_mon + 1,
                        xt.tm_mday, xt.tm_hour, xt.tm_min, xt.tm_sec, xt.tm_usec);
}

apr_status_t at_live_archive(at_store_t *store, const char *site, apr_time_t now, apr_pool_t *p)
{
    const char *stamp = at_live_stamp(p, now);
    live_item_t key, chain;
    apr_status_t rv;

    if ((rv = live_load(&key, store, AT_STORE_LIVE, site, AT_CERTSET_KEY, AT_STORE_SECRET, p)) !=
            APR_SUCCESS ||
        (rv = live_load(&chain, store, AT_STORE_LIVE, site, AT_CERTSET_CHAIN, AT_STORE_PUBLIC,
                        p)) != APR_SUCCESS) {
        return rv;
    }
    if (!key.present || !chain.present) {
        return APR_SUCCESS;
    }
    rv = at_store_save(store, AT_STORE_ARCHIVE, site,
                       apr_pstrcat(p, stamp, ".", AT_CERTSET_KEY, NULL), key.data, key.len,
                       AT_STORE_SECRET, p);
    if (rv == APR_SUCCESS) {
        rv = at_store_save(store, AT_STORE_ARCHIVE, site,
                           apr_pstrcat(p, stamp, ".", AT_CERTSET_CHAIN, NULL), chain.data,
                           chain.len, AT_STORE_PUBLIC, p);
    }
    return rv;
}

/* The time of an archive stamp at the start of item, and what follows it; 0 when it has none. */
static int live_parse_item(apr_time_t *when, const char **rest, const char *item)
{
    apr_time_exp_t xt;
    int year, mon, mday, hour, min, sec, usec, used = 0;

    if (sscanf(item, LIVE_STAMP_SCAN, &year, &mon, &mday, &hour, &min, &sec, &usec, &used) !=
            LIVE_STAMP_FIELDS ||
        used != LIVE_STAMP_LEN || item[used] != '.') {
        return 0;
    }
    memset(&xt, 0, sizeof(xt));
    xt.tm_year = year - LIVE_TM_YEAR_BASE;
    xt.tm_mon = mon - 1;
    xt.tm_mday = mday;
    xt.tm_hour = hour;
    xt.tm_min = min;
    xt.tm_sec = sec;
    xt.tm_usec = usec;
    if (apr_time_exp_gmt_get(when, &xt) != APR_SUCCESS) {
        *when = 0;
    }
    *rest = item + used + 1;
    return 1;
}

/* The archived sets of site, oldest first (the listing is sorted and stamps sort by time);
 * *others counts the items in archive/<site>/ that belong to no set. */
static apr_status_t live_archived(apr_array_header_t **sets, int *others, at_store_t *store,
                                  const char *site, apr_pool_t *p)
{
    live_archived_t *last = NULL;
    apr_array_header_t *items;
    int i;
    apr_status_t rv = at_store_list(store, AT_STORE_ARCHIVE, site, &items, p);

    *sets = apr_array_make(p, LIVE_SETS_INITIAL, sizeof(live_archived_t));
    *others = 0;
    for (i = 0; rv == APR_SUCCESS && i < items->nelts; i++) {
        const char *item = APR_ARRAY_IDX(items, i, const char *), *rest;
        apr_time_t when;
        int is_key, is_chain;

        if (!live_parse_item(&when, &rest, item)) {
            ++*others;
            continue;
        }
        is_key = strcmp(rest, AT_CERTSET_KEY) == 0;
        is_chain = strcmp(rest, AT_CERTSET_CHAIN) == 0;
        if (!is_key && !is_chain) {
            ++*others;
            continue;
        }
        if (last == NULL || strncmp(last->stamp, item, LIVE_STAMP_LEN) != 0) {
            last = apr_array_push(*sets);
            last->stamp = apr_pstrndup(p, item, LIVE_STAMP_LEN);
            last->when = when;
            last->has_key = last->has_chain = 0;
        }
        last->has_key |= is_key;
        last->has_chain |= is_chain;
    }
    return rv;
}

static apr_status_t live_archive_drop(at_store_t *store, const char *site,
                                      const live_archived_t *set, apr_pool_t *p)
{
    apr_status_t rv = at_store_remove(store, AT_STORE_ARCHIVE, site,
                                      apr_pstrcat(p, set->stamp, ".", AT_CERTSET_KEY, NULL), p);

    if (rv == APR_SUCCESS) {
        rv = at_store_remove(store, AT_STORE_ARCHIVE, site,
                             apr_pstrcat(p, set->stamp, ".", AT_CERTSET_CHAIN, NULL), p);
    }
    return rv;
}

apr_status_t at_live_archive_purge(at_store_t *store, const char *site, apr_time_t now,
                                   apr_interval_time_t grace, int keep_max, int *removed,
                                   apr_pool_t *p)
{
    apr_array_header_t *sets;
    int i, kept = 0, dropped = 0, others;
    apr_status_t rv = live_archived(&sets, &others, store, site, p);

    for (i = sets->nelts - 1; rv == APR_SUCCESS && i >= 0; i--) {
        const live_archived_t *set = &APR_ARRAY_IDX(sets, i, live_archived_t);
        int complete = set->has_key && set->has_chain;

        if (complete && kept < keep_max && set->when >= now - grace) {
            kept++;
            continue;
        }
        rv = live_archive_drop(store, site, set, p);
        dropped += rv == APR_SUCCESS;
    }
    if (removed != NULL) {
        *removed = dropped;
    }
    if (rv != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv, "%s: cannot purge old certificates from archive/", site);
        return rv;
    }
    if (kept == 0 && others == 0 && sets->nelts > 0) {
        rv = at_store_purge(store, AT_STORE_ARCHIVE, site, p); /* nothing left in it */
    }
    return rv;
}

/* The archived set as PEM texts when it passes check. */
static int live_archived_usable(live_item_t *key, live_item_t *chain, at_store_t *store,
                                const char *site, const live_archived_t *set,
                                const at_certset_check_t *check, apr_pool_t *p)
{
    EVP_PKEY *pkey;
    apr_array_header_t *certs;
    const char *why;

    if (live_load(key, store, AT_STORE_ARCHIVE, site,
                  apr_pstrcat(p, set->stamp, ".", AT_CERTSET_KEY, NULL), AT_STORE_SECRET,
                  p) != APR_SUCCESS ||
        live_load(chain, store, AT_STORE_ARCHIVE, site,
                  apr_pstrcat(p, set->stamp, ".", AT_CERTSET_CHAIN, NULL), AT_STORE_PUBLIC,
                  p) != APR_SUCCESS ||
        !key->present || !chain->present ||
        at_key_from_pem(&pkey, p, key->data, key->len) != APR_SUCCESS ||
        at_chain_from_pem(&certs, p, chain->data, chain->len) != APR_SUCCESS) {
        return 0;
    }
    if (at_certset_validate(&why, p, pkey, certs, check) != APR_SUCCESS) {
        at_log(AT_LOG_DEBUG, AT_EINVALID, "%s: archived set %s is not usable: %s", site, set->stamp,
               why);
        return 0;
    }
    return 1;
}

apr_status_t at_live_restore(at_store_t *store, const char *site, const at_certset_check_t *check,
                             const char **stamp, apr_pool_t *p)
{
    apr_array_header_t *sets;
    live_item_t key, chain;
    int i, others, tries = 0;
    apr_status_t rv = live_archived(&sets, &others, store, site, p);

    *stamp = NULL;
    for (i = sets->nelts - 1; rv == APR_SUCCESS && i >= 0 && tries < LIVE_RESTORE_TRIES; i--) {
        const live_archived_t *set = &APR_ARRAY_IDX(sets, i, live_archived_t);

        if (!set->has_key || !set->has_chain) {
            continue;
        }
        tries++;
        if (live_archived_usable(&key, &chain, store, site, set, check, p)) {
            rv = at_live_promote(store, site, key.data, key.len, chain.data, chain.len, p);
            if (rv == APR_SUCCESS) {
                *stamp = set->stamp;
            }
            return rv;
        }
    }
    return rv == APR_SUCCESS ? APR_ENOENT : rv;
}
