/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_copy.c: the copy loop of `autotls store copy`: list, load, save, from any store into any
 * other, through the store interface only.
 *
 * The one idea: the copy decides nothing a backend decides (where, how sealed, how framed): it
 * only says which items are secrets, by the names the library gives private keys and, as a
 * safety net, by their content, so that no private key ever reaches a network store in clear.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif

#include <string.h>

#include <apr_strings.h>

#include "at_core.h"
#include "at_issue.h"
#include "at_live.h"
#include "at_store_copy.h"

/* Most items of one set (as store.c allows). */
#define COPY_SET_MAX_ITEMS 64
#define COPY_PEM_PRIVATE_KEY "PRIVATE KEY-----"

/* The groups copied, and whether their items sit in name directories. */
static const struct {
    at_store_group_e group;
    int named;
} copy_groups[] = {
    {AT_STORE_ACCOUNTS, 1},   {AT_STORE_STAGING, 1}, {AT_STORE_JOBS, 0},
    {AT_STORE_CHALLENGES, 0}, {AT_STORE_STATUS, 0},
};

int at_store_copy_item_is_secret(const char *item)
{
    static const char *const secret_items[] = {AT_CERTSET_KEY, AT_ACCOUNT_KEY, AT_ACCOUNT_KEY_NEXT,
                                               AT_LIVE_NEXT_KEY};
    apr_size_t i;

    for (i = 0; i < sizeof(secret_items) / sizeof(secret_items[0]); i++) {
        if (strcmp(item, secret_items[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Loads one item as the access its name says; a public item holding a private key becomes a
 * secret all the same. */
static apr_status_t copy_load(at_store_item_t *out, at_store_t *from, at_store_group_e group,
                              const char *name, const char *item, apr_pool_t *p)
{
    at_store_access_e access =
        at_store_copy_item_is_secret(item) ? AT_STORE_SECRET : AT_STORE_PUBLIC;
    char *data;
    apr_size_t len;
    apr_status_t rv;

    if ((rv = at_store_load(from, group, name, item, &data, &len, access, p)) != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1340) "store copy: cannot read %s/%s%s%s",
               at_store_group_name(group), name ? name : "", name ? "/" : "", item);
        return rv;
    }
    if (access == AT_STORE_PUBLIC &&
        memmem(data, len, COPY_PEM_PRIVATE_KEY, strlen(COPY_PEM_PRIVATE_KEY)) != NULL) {
        access = AT_STORE_SECRET;
    }
    out->item = item;
    out->data = data;
    out->len = len;
    out->access = access;
    return APR_SUCCESS;
}

static void copy_count(at_store_copy_result_t *result, const at_store_item_t *items, int count)
{
    int i;

    for (i = 0; i < count; i++) {
        result->items++;
        result->secrets += items[i].access == AT_STORE_SECRET;
    }
}

/* A staging set, written whole. */
static apr_status_t copy_set(at_store_copy_result_t *result, at_store_t *from, at_store_t *to,
                             const char *name, const apr_array_header_t *entries, apr_pool_t *p)
{
    at_store_item_t items[COPY_SET_MAX_ITEMS];
    apr_status_t rv;
    int i;

    if (entries->nelts > COPY_SET_MAX_ITEMS) {
        at_log(AT_LOG_ERR, AT_ETOOLARGE,
               AT_LOGNO(1341) "store copy: the set staging/%s holds %d items, more than a set may",
               name, entries->nelts);
        return AT_ETOOLARGE;
    }
    for (i = 0; i < entries->nelts; i++) {
        if ((rv = copy_load(&items[i], from, AT_STORE_STAGING, name,
                            APR_ARRAY_IDX(entries, i, const char *), p)) != APR_SUCCESS) {
            return rv;
        }
    }
    rv = at_store_save_set(to, AT_STORE_STAGING, name, items, entries->nelts, p);
    if (APR_STATUS_IS_EEXIST(rv) || APR_STATUS_IS_ENOTEMPTY(rv)) {
        result->kept++;
        return APR_SUCCESS;
    }
    if (rv == APR_SUCCESS) {
        result->sets++;
        copy_count(result, items, entries->nelts);
    }
    return rv;
}

/* One item, loaded and saved. */
static apr_status_t copy_item(at_store_copy_result_t *result, at_store_t *from, at_store_t *to,
                              at_store_group_e group, const char *name, const char *entry,
                              apr_pool_t *p)
{
    at_store_item_t item;
    apr_status_t rv;

    if ((rv = copy_load(&item, from, group, name, entry, p)) == APR_SUCCESS &&
        (rv = at_store_save(to, group, name, entry, item.data, item.len, item.access, p)) ==
            APR_SUCCESS) {
        copy_count(result, &item, 1);
    }
    return rv;
}

/* One name directory: a staging set goes whole, an account's items one by one. */
static apr_status_t copy_named(at_store_copy_result_t *result, at_store_t *from, at_store_t *to,
                               at_store_group_e group, const char *name, apr_pool_t *p)
{
    apr_array_header_t *entries;
    apr_status_t rv;
    int i;

    if ((rv = at_store_list(from, group, name, &entries, p)) != APR_SUCCESS ||
        entries->nelts == 0) {
        return rv;
    }
    if (group == AT_STORE_STAGING) {
        return copy_set(result, from, to, name, entries, p);
    }
    for (i = 0; i < entries->nelts && rv == APR_SUCCESS; i++) {
        rv = copy_item(result, from, to, group, name, APR_ARRAY_IDX(entries, i, const char *), p);
    }
    return rv;
}

apr_status_t at_store_copy(at_store_copy_result_t *result, at_store_t *from, at_store_t *to,
                           apr_pool_t *p)
{
    apr_array_header_t *entries;
    apr_pool_t *scratch;
    apr_status_t rv = APR_SUCCESS;
    apr_size_t g;
    int i;

    memset(result, 0, sizeof(*result));
    apr_pool_create(&scratch, p);
    for (g = 0; g < sizeof(copy_groups) / sizeof(copy_groups[0]) && rv == APR_SUCCESS; g++) {
        at_store_group_e group = copy_groups[g].group;

        if ((rv = at_store_list(from, group, NULL, &entries, p)) != APR_SUCCESS) {
            break;
        }
        for (i = 0; i < entries->nelts && rv == APR_SUCCESS; i++) {
            const char *entry = APR_ARRAY_IDX(entries, i, const char *);

            apr_pool_clear(scratch);
            if (copy_groups[g].named) {
                rv = copy_named(result, from, to, group, entry, scratch);
            } else {
                rv = copy_item(result, from, to, group, NULL, entry, scratch);
            }
        }
    }
    apr_pool_destroy(scratch);
    return rv;
}
