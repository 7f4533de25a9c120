/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.c: the store's front door: argument checks, dispatch to a backend, JSON on top.
 *
 * The one idea: every name and item is checked here, before any backend sees it, so no backend
 * can be led outside its root by "../x" or "a/b". Backends may then join components blindly.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "at_core.h"
#include "at_status.h"
#include "at_store.h"

/* Longest store component (one path component on every common filesystem). */
#define AT_STORE_COMPONENT_MAX 255
/* Longest CA name kept whole; longer ones are cut and get a hash of the whole URL appended. */
#define AT_STORE_CA_NAME_KEEP 200
#define AT_STORE_CA_NAME_EMPTY "ca"
#define AT_STORE_JSON_FLAGS (JSON_INDENT(2) | JSON_SORT_KEYS)
/* A temp name is ".<component>.tmp.XXXXXX" (mkostemp and mkdtemp fill in the X's). */
#define AT_STORE_TEMP_INFIX ".tmp."
#define AT_STORE_TEMP_RANDOM 6
/* Random bits of a lease token (hex: twice as many characters). */
#define AT_STORE_LEASE_TOKEN_BYTES 16
/* Most items one set may hold. */
#define AT_STORE_SET_MAX_ITEMS 64

static const char *const at_store_group_names[AT_STORE_GROUP_COUNT] = {
    "accounts", "staging", "live", "challenges", "jobs", "archive", "status", "leases",
};

const char *at_store_group_name(at_store_group_e group)
{
    if ((int)group < 0 || group >= AT_STORE_GROUP_COUNT) {
        return NULL;
    }
    return at_store_group_names[group];
}

apr_size_t at_store_item_max(at_store_group_e group)
{
    return group == AT_STORE_STATUS ? AT_STATUS_MAX_ITEM : AT_STORE_MAX_ITEM;
}

/* ':' is an IPv6 site's or name's (RFC 8738: "2001:db8::1"): one path component on a POSIX file
 * system, and inside a Redis key it follows the key's own ':'-separated parts (never split). */
static int component_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-' || c == ':';
}

int at_store_component_valid(const char *component)
{
    apr_size_t i;

    if (component == NULL || component[0] == '\0' || component[0] == '.') {
        return 0;
    }
    for (i = 0; component[i] != '\0'; i++) {
        if (i >= AT_STORE_COMPONENT_MAX || !component_char_ok(component[i])) {
            return 0;
        }
    }
    return 1;
}

int at_store_is_temp_name(const char *name)
{
    apr_size_t len, infix = strlen(AT_STORE_TEMP_INFIX), i;
    const char *random;

    if (name == NULL) {
        return 0;
    }
    len = strlen(name);
    /* '.', at least one character of the component, the infix, the random part */
    if (name[0] != '.' || len < 2 + infix + AT_STORE_TEMP_RANDOM || len > AT_STORE_COMPONENT_MAX) {
        return 0;
    }
    random = name + len - AT_STORE_TEMP_RANDOM;
    if (memcmp(random - infix, AT_STORE_TEMP_INFIX, infix) != 0) {
        return 0;
    }
    for (i = 0; i < AT_STORE_TEMP_RANDOM; i++) {
        if (!apr_isalnum(random[i])) {
            return 0;
        }
    }
    for (i = 1; i < len - AT_STORE_TEMP_RANDOM; i++) {
        if (!component_char_ok(name[i])) {
            return 0;
        }
    }
    return 1;
}

static apr_status_t check_group(at_store_t *store, at_store_group_e group)
{
    if (store == NULL || store->vt == NULL) {
        at_log(AT_LOG_ERR, AT_EARG, AT_LOGNO(1113) "store: no store given");
        return AT_EARG;
    }
    if (at_store_group_name(group) == NULL) {
        at_log(AT_LOG_ERR, AT_EARG, AT_LOGNO(1114) "store: unknown group %d", (int)group);
        return AT_EARG;
    }
    return APR_SUCCESS;
}

static apr_status_t check_component(at_store_group_e group, const char *what, const char *component)
{
    if (!at_store_component_valid(component)) {
        at_log(AT_LOG_ERR, AT_EARG,
               AT_LOGNO(1115) "store: refusing %s \"%.300s\" in %s: a component must be 1-255 "
                              "characters of "
                              "[A-Za-z0-9._:-] and must not start with '.'",
               what, component ? component : "(null)", at_store_group_name(group));
        return AT_EARG;
    }
    return APR_SUCCESS;
}

/* name may be NULL or "" (directly in the group); when set it must be a valid component. */
static apr_status_t check_name(at_store_group_e group, const char *name)
{
    if (name == NULL || name[0] == '\0') {
        return APR_SUCCESS;
    }
    return check_component(group, "name", name);
}

static apr_status_t check_address(at_store_t *store, at_store_group_e group, const char *name,
                                  const char *item)
{
    apr_status_t rv;

    if ((rv = check_group(store, group)) != APR_SUCCESS ||
        (rv = check_name(group, name)) != APR_SUCCESS) {
        return rv;
    }
    return check_component(group, "item", item);
}

apr_status_t at_store_save(at_store_t *store, at_store_group_e group, const char *name,
                           const char *item, const void *data, apr_size_t len,
                           at_store_access_e access, apr_pool_t *p)
{
    apr_status_t rv;

    if ((rv = check_address(store, group, name, item)) != APR_SUCCESS) {
        return rv;
    }
    if (data == NULL && len > 0) {
        at_log(AT_LOG_ERR, AT_EARG, AT_LOGNO(1116) "store: no data given for %s/%s/%s",
               at_store_group_name(group), name ? name : "", item);
        return AT_EARG;
    }
    if (len > at_store_item_max(group)) {
        at_log(AT_LOG_ERR, AT_ETOOLARGE,
               AT_LOGNO(1117) "store: refusing to save %s/%s/%s: %" APR_SIZE_T_FMT
                              " bytes, the limit is %" APR_SIZE_T_FMT,
               at_store_group_name(group), name ? name : "", item, len, at_store_item_max(group));
        return AT_ETOOLARGE;
    }
    return store->vt->save(store, group, name, item, data, len, access, p);
}

apr_status_t at_store_load(at_store_t *store, at_store_group_e group, const char *name,
                           const char *item, char **data, apr_size_t *len, at_store_access_e access,
                           apr_pool_t *p)
{
    apr_status_t rv;

    if ((rv = check_address(store, group, name, item)) != APR_SUCCESS) {
        return rv;
    }
    return store->vt->load(store, group, name, item, data, len, access, p);
}

apr_status_t at_store_remove(at_store_t *store, at_store_group_e group, const char *name,
                             const char *item, apr_pool_t *p)
{
    apr_status_t rv;

    if ((rv = check_address(store, group, name, item)) != APR_SUCCESS) {
        return rv;
    }
    return store->vt->remove(store, group, name, item, p);
}

apr_status_t at_store_list(at_store_t *store, at_store_group_e group, const char *name,
                           apr_array_header_t **entries, apr_pool_t *p)
{
    apr_status_t rv;

    if ((rv = check_group(store, group)) != APR_SUCCESS ||
        (rv = check_name(group, name)) != APR_SUCCESS) {
        return rv;
    }
    return store->vt->list(store, group, name, entries, p);
}

apr_status_t at_store_path(at_store_t *store, at_store_group_e group, const char *name,
                           const char *item, const char **path, apr_pool_t *p)
{
    apr_status_t rv;

    if ((rv = check_address(store, group, name, item)) != APR_SUCCESS) {
        return rv;
    }
    if (group != AT_STORE_LIVE && group != AT_STORE_ARCHIVE) {
        at_log(AT_LOG_ERR, AT_EARG,
               AT_LOGNO(1200) "store: no path for %s/%s/%s: only live/ and archive/ are local "
                              "files read by path; the rest goes through the store",
               at_store_group_name(group), name ? name : "", item);
        return AT_EARG;
    }
    if (store->vt->path == NULL) {
        return APR_ENOTIMPL;
    }
    return store->vt->path(store, group, name, item, path, p);
}

apr_status_t at_store_stat(at_store_t *store, at_store_group_e group, const char *name,
                           const char *item, at_store_stat_t *st, apr_pool_t *p)
{
    apr_status_t rv;

    memset(st, 0, sizeof(*st));
    if ((rv = check_group(store, group)) != APR_SUCCESS ||
        (rv = check_name(group, name)) != APR_SUCCESS ||
        (item != NULL && (rv = check_component(group, "item", item)) != APR_SUCCESS)) {
        return rv;
    }
    if (store->vt->stat == NULL) {
        return APR_ENOTIMPL;
    }
    return store->vt->stat(store, group, name, item, st, p);
}

apr_status_t at_store_generation(at_store_t *store, at_store_group_e group, apr_uint64_t *gen,
                                 apr_pool_t *p)
{
    apr_status_t rv;

    *gen = 0;
    if ((rv = check_group(store, group)) != APR_SUCCESS) {
        return rv;
    }
    return store->vt->generation != NULL ? store->vt->generation(store, group, gen, p)
                                         : APR_ENOTIMPL;
}

apr_status_t at_store_watch(at_store_t *store, at_store_group_e group, int *fd, apr_pool_t *p)
{
    apr_status_t rv;

    *fd = -1;
    if ((rv = check_group(store, group)) != APR_SUCCESS) {
        return rv;
    }
    return store->vt->watch != NULL ? store->vt->watch(store, group, fd, p) : APR_SUCCESS;
}

apr_status_t at_store_watch_drain(at_store_t *store, int fd)
{
    if (store == NULL || store->vt == NULL || store->vt->watch_drain == NULL || fd < 0) {
        return APR_EOF;
    }
    return store->vt->watch_drain(store, fd);
}

/* A lease's name is a site and its token a component: both reach a backend checked. token may
 * be NULL only where none is needed (the holder). */
static apr_status_t check_lease(at_store_t *store, const char *name, const char *token,
                                int need_token)
{
    apr_status_t rv;

    if ((rv = check_group(store, AT_STORE_LEASES)) != APR_SUCCESS ||
        (rv = check_component(AT_STORE_LEASES, "name", name)) != APR_SUCCESS) {
        return rv;
    }
    if ((token == NULL && need_token) ||
        (token != NULL &&
         (strlen(token) > AT_STORE_LEASE_TOKEN_MAX || !at_store_component_valid(token)))) {
        at_log(AT_LOG_ERR, AT_EARG,
               AT_LOGNO(1201) "store: refusing the lease token for %s: 1-%d characters of "
                              "[A-Za-z0-9._:-] (at_store_lease_token)",
               name, AT_STORE_LEASE_TOKEN_MAX);
        return AT_EARG;
    }
    return APR_SUCCESS;
}

/* Taking and renewing: a token and a positive time, then the backend's operation. */
static apr_status_t lease_timed(at_store_t *store, int renew, const char *name, const char *token,
                                apr_interval_time_t ttl, apr_pool_t *p)
{
    apr_status_t (*op)(at_store_t *, const char *, const char *, apr_interval_time_t, apr_pool_t *);
    apr_status_t rv;

    if ((rv = check_lease(store, name, token, 1)) != APR_SUCCESS) {
        return rv;
    }
    if (ttl <= 0) {
        at_log(AT_LOG_ERR, AT_EARG, AT_LOGNO(1202) "store: a lease on %s needs a positive time",
               name);
        return AT_EARG;
    }
    op = renew ? store->vt->lease_renew : store->vt->lease_take;
    return op != NULL ? op(store, name, token, ttl, p) : APR_ENOTIMPL;
}

apr_status_t at_store_lease_take(at_store_t *store, const char *name, const char *token,
                                 apr_interval_time_t ttl, apr_pool_t *p)
{
    return lease_timed(store, 0, name, token, ttl, p);
}

apr_status_t at_store_lease_renew(at_store_t *store, const char *name, const char *token,
                                  apr_interval_time_t ttl, apr_pool_t *p)
{
    return lease_timed(store, 1, name, token, ttl, p);
}

apr_status_t at_store_lease_release(at_store_t *store, const char *name, const char *token,
                                    apr_pool_t *p)
{
    apr_status_t rv;

    if ((rv = check_lease(store, name, token, 1)) != APR_SUCCESS) {
        return rv;
    }
    return store->vt->lease_release != NULL ? store->vt->lease_release(store, name, token, p)
                                            : APR_ENOTIMPL;
}

apr_status_t at_store_lease_holder(at_store_t *store, const char *name, char **token,
                                   apr_time_t *expires, apr_pool_t *p)
{
    apr_status_t rv;

    *token = NULL;
    *expires = 0;
    if ((rv = check_lease(store, name, NULL, 0)) != APR_SUCCESS) {
        return rv;
    }
    return store->vt->lease_holder != NULL ? store->vt->lease_holder(store, name, token, expires, p)
                                           : APR_ENOTIMPL;
}

apr_status_t at_store_lease_token(char **token, apr_pool_t *p)
{
    unsigned char raw[AT_STORE_LEASE_TOKEN_BYTES];
    char *hex = apr_palloc(p, 2 * sizeof(raw) + 1);
    apr_status_t rv;
    apr_size_t i;

    *token = NULL;
    if ((rv = apr_generate_random_bytes(raw, sizeof(raw))) != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1203) "store: no random bytes for a lease token");
        return rv;
    }
    for (i = 0; i < sizeof(raw); i++) {
        apr_snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    }
    *token = hex;
    return APR_SUCCESS;
}

apr_status_t at_store_save_set(at_store_t *store, at_store_group_e group, const char *name,
                               const at_store_item_t *items, int count, apr_pool_t *p)
{
    apr_status_t rv;
    int i;

    if ((rv = check_group(store, group)) != APR_SUCCESS ||
        (rv = check_component(group, "name", name)) != APR_SUCCESS) {
        return rv;
    }
    if (items == NULL || count <= 0 || count > AT_STORE_SET_MAX_ITEMS) {
        at_log(AT_LOG_ERR, AT_EARG,
               AT_LOGNO(1118) "store: a set for %s/%s needs 1 to %d items, not %d",
               at_store_group_name(group), name, AT_STORE_SET_MAX_ITEMS, count);
        return AT_EARG;
    }
    for (i = 0; i < count; i++) {
        if ((rv = check_component(group, "item", items[i].item)) != APR_SUCCESS) {
            return rv;
        }
        if ((items[i].data == NULL && items[i].len > 0) || items[i].len > AT_STORE_MAX_ITEM) {
            at_log(AT_LOG_ERR, AT_EARG,
                   AT_LOGNO(1119) "store: refusing the set %s/%s: item %s has no data or more than "
                                  "%d bytes",
                   at_store_group_name(group), name, items[i].item, AT_STORE_MAX_ITEM);
            return AT_EARG;
        }
    }
    if (store->vt->save_set == NULL) {
        return APR_ENOTIMPL;
    }
    return store->vt->save_set(store, group, name, items, count, p);
}

apr_status_t at_store_purge_items(at_store_t *store, at_store_group_e group, const char *name,
                                  const char *const *items, int count, apr_pool_t *p)
{
    apr_status_t rv;
    int i;

    /* Purging needs a name: a whole group is never thrown away by one call. */
    if ((rv = check_group(store, group)) != APR_SUCCESS) {
        return rv;
    }
    if (!at_store_is_temp_name(name) &&
        (rv = check_component(group, "name", name)) != APR_SUCCESS) {
        return rv;
    }
    if (count > 0 && items == NULL) {
        at_log(AT_LOG_ERR, AT_EARG, AT_LOGNO(1120) "store: no items given to purge %s/%s",
               at_store_group_name(group), name);
        return AT_EARG;
    }
    for (i = 0; i < count; i++) {
        if ((rv = check_component(group, "item", items[i])) != APR_SUCCESS) {
            return rv;
        }
    }
    return store->vt->purge(store, group, name, items, count > 0 ? count : 0, p);
}

apr_status_t at_store_purge(at_store_t *store, at_store_group_e group, const char *name,
                            apr_pool_t *p)
{
    return at_store_purge_items(store, group, name, NULL, 0, p);
}

apr_status_t at_store_lock(at_store_t *store, at_store_group_e group, apr_pool_t *p)
{
    apr_status_t rv;

    if ((rv = check_group(store, group)) != APR_SUCCESS) {
        return rv;
    }
    return store->vt->lock != NULL ? store->vt->lock(store, group, p) : APR_ENOTIMPL;
}

/* Where an item lives, for log lines: the file path when the backend has one. */
static const char *describe_item(at_store_t *store, at_store_group_e group, const char *name,
                                 const char *item, apr_pool_t *p)
{
    const char *path;

    if (store->vt->path != NULL &&
        store->vt->path(store, group, name, item, &path, p) == APR_SUCCESS) {
        return path;
    }
    if (name == NULL || name[0] == '\0') {
        return apr_pstrcat(p, at_store_group_name(group), "/", item, NULL);
    }
    return apr_pstrcat(p, at_store_group_name(group), "/", name, "/", item, NULL);
}

apr_status_t at_store_save_json(at_store_t *store, at_store_group_e group, const char *name,
                                const char *item, const json_t *json, apr_pool_t *p)
{
    apr_status_t rv;
    char *text;

    if ((rv = check_address(store, group, name, item)) != APR_SUCCESS) {
        return rv;
    }
    text = json ? json_dumps(json, AT_STORE_JSON_FLAGS) : NULL;
    if (text == NULL) {
        at_log(AT_LOG_ERR, AT_EARG, AT_LOGNO(1121) "store: cannot serialize JSON for %s",
               describe_item(store, group, name, item, p));
        return AT_EARG;
    }
    rv = at_store_save(store, group, name, item, text, strlen(text), AT_STORE_PUBLIC, p);
    free(text);
    return rv;
}

apr_status_t at_store_load_json(at_store_t *store, at_store_group_e group, const char *name,
                                const char *item, json_t **json, apr_pool_t *p)
{
    apr_status_t rv;
    json_error_t err;
    char *data;
    apr_size_t len;

    *json = NULL;
    rv = at_store_load(store, group, name, item, &data, &len, AT_STORE_PUBLIC, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *json = json_loadb(data, len, 0, &err);
    if (*json == NULL) {
        at_log(AT_LOG_ERR, AT_EPROTO,
               AT_LOGNO(1122) "store: %s is not valid JSON: %s (line %d, column %d)",
               describe_item(store, group, name, item, p), err.text, err.line, err.column);
        return AT_EPROTO;
    }
    return APR_SUCCESS;
}

/* FNV-1a: a short, stable tag telling apart long URLs that share their first characters. */
static apr_uint32_t ca_name_hash(const char *s)
{
    apr_uint32_t h = 2166136261u;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

static char fold_ca_char(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return (char)(c - 'A' + 'a');
    }
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-') {
        return c;
    }
    return '-';
}

const char *at_store_ca_name(apr_pool_t *p, const char *directory_url)
{
    const char *s = directory_url ? directory_url : "";
    const char *scheme_end = strstr(s, "://");
    apr_size_t len, n = 0, i;
    char *out;

    if (scheme_end != NULL) {
        s = scheme_end + strlen("://");
    }
    len = strlen(s);
    out = apr_palloc(p, len + 1);
    for (i = 0; i < len; i++) {
        char c = fold_ca_char(s[i]);

        /* Runs of folded separators ("://", "]:") become one '-'; nothing may lead with '.'. */
        if ((c == '-' && n > 0 && out[n - 1] == '-') || ((c == '.' || c == '-') && n == 0)) {
            continue;
        }
        out[n++] = c;
    }
    while (n > 0 && out[n - 1] == '-') {
        n--;
    }
    out[n] = '\0';
    if (n == 0) {
        return AT_STORE_CA_NAME_EMPTY;
    }
    if (n > AT_STORE_CA_NAME_KEEP) {
        out[AT_STORE_CA_NAME_KEEP] = '\0';
        return apr_psprintf(p, "%s-%08x", out, (unsigned)ca_name_hash(directory_url));
    }
    return out;
}
