/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_store.h: where accounts, certificates, challenges and job state live.
 *
 * The store is an interface (a table of functions) so that a networked backend can replace the
 * filesystem one for fleets of servers. Items are addressed by group, name and item:
 *   accounts/<ca-name>/account.json, account.key      (owned by User)
 *   staging/<site>/privkey.pem, fullchain.pem         (the ACME account's; the activator's input,
 *                                                      arriving whole by at_store_save_set)
 *   live/<site>/privkey.pem, fullchain.pem            (owned by root)
 *   challenges/<token>                                (readable by every child)
 *   jobs/<site>.json                                  (name "" for a file directly in the group)
 *   status/snapshot.json                              (the ACME account's; readable by every
 *                                                      child: at_status.h)
 * Every write replaces the whole item atomically: readers see the old or the new version, never
 * a torn one; at_store_save_set makes a whole directory of items appear at once. Every read
 * checks owner and mode and refuses (AT_EMODE) what is too open. Nothing is ever removed
 * recursively: a purge unlinks the items it is told of and the store's own temp files, never
 * descending into a directory or following a link, so whatever else was put there stays.
 */
#ifndef AT_STORE_H
#define AT_STORE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_user.h>
#include <jansson.h>

#define AT_STORE_MAX_ITEM (4 * 1024 * 1024)

typedef enum {
    AT_STORE_ACCOUNTS = 0,
    AT_STORE_STAGING,
    AT_STORE_LIVE,
    AT_STORE_CHALLENGES,
    AT_STORE_JOBS,
    AT_STORE_ARCHIVE,
    AT_STORE_STATUS, /* the status snapshot (at_status.h): public, its own size cap */
    AT_STORE_GROUP_COUNT
} at_store_group_e;

/* Who may read an item: secrets (private keys) only their owner. */
typedef enum {
    AT_STORE_PUBLIC = 0, /* 0644 file in a 0755 directory */
    AT_STORE_SECRET      /* 0600 file in a 0700 directory */
} at_store_access_e;

/* The store's modes, spelled once (docs/ARCHITECTURE.md, "The store"): the backend writes
 * with them; the module's layout (store_layout.c) and an adoption (at_store_fs_adopt) set them. */
#define AT_STORE_MODE_SECRET_FILE 0600
#define AT_STORE_MODE_PUBLIC_FILE 0644
#define AT_STORE_MODE_SECRET_DIR 0700
#define AT_STORE_MODE_PUBLIC_DIR 0755
#define AT_STORE_MODE_ROOT_DIR 0755 /* the store itself: every process of ours looks up in it */

typedef struct at_store_t at_store_t;

/* One item of a set written at once (at_store_save_set). */
typedef struct {
    const char *item;
    const void *data;
    apr_size_t len;
    at_store_access_e access;
} at_store_item_t;

typedef struct {
    apr_status_t (*save)(at_store_t *store, at_store_group_e group, const char *name,
                         const char *item, const void *data, apr_size_t len,
                         at_store_access_e access, apr_pool_t *p);
    apr_status_t (*load)(at_store_t *store, at_store_group_e group, const char *name,
                         const char *item, char **data, apr_size_t *len, at_store_access_e access,
                         apr_pool_t *p);
    apr_status_t (*remove)(at_store_t *store, at_store_group_e group, const char *name,
                           const char *item, apr_pool_t *p);
    apr_status_t (*list)(at_store_t *store, at_store_group_e group, const char *name,
                         apr_array_header_t **entries, apr_pool_t *p);
    apr_status_t (*path)(at_store_t *store, at_store_group_e group, const char *name,
                         const char *item, const char **path, apr_pool_t *p);
    apr_status_t (*purge)(at_store_t *store, at_store_group_e group, const char *name,
                          const char *const *items, int count, apr_pool_t *p);
    apr_status_t (*save_set)(at_store_t *store, at_store_group_e group, const char *name,
                             const at_store_item_t *items, int count, apr_pool_t *p);
    apr_status_t (*lock)(at_store_t *store, at_store_group_e group, apr_pool_t *p);
} at_store_vtable_t;

struct at_store_t {
    const at_store_vtable_t *vt;
    void *impl;
};

/* Opens (creating when missing, mode 0755) a filesystem store rooted at dir. */
apr_status_t at_store_fs_open(at_store_t **store, apr_pool_t *p, const char *dir);

/* Whose items are believed besides root's: uid (the ACME account) instead of the reader's own.
 * Every process of the module sets it, so a child running as User believes no file User wrote;
 * items of a trusted owner must also have exactly one name (no hard links into the store). */
void at_store_fs_trust_owner(at_store_t *store, apr_uid_t uid);

/* Directory name of a group: "accounts", "staging", "live", "challenges", "jobs", "archive",
 * "status". */
const char *at_store_group_name(at_store_group_e group);

/* The size cap of an item of group: AT_STORE_MAX_ITEM, except the status snapshot
 * (AT_STATUS_MAX_ITEM: about 5 MB at 10,000 sites). Saves and loads both hold to it. */
apr_size_t at_store_item_max(at_store_group_e group);

/* Whether a name or item is safe as one path component: [A-Za-z0-9._-], not "." or "..", not
 * starting with '.', at most 255 characters. Everything the store is given is checked with it. */
int at_store_component_valid(const char *component);

/* Whether a directory entry is one of the store's temp names: ".<component>.tmp.XXXXXX", a file
 * of an interrupted write, or a set directory at_store_save_set had not yet renamed. No valid
 * component is a temp name, so listings never show them. */
int at_store_is_temp_name(const char *name);

/* Writes data as group/name/item (name "" or NULL: directly in the group). */
apr_status_t at_store_save(at_store_t *store, at_store_group_e group, const char *name,
                           const char *item, const void *data, apr_size_t len,
                           at_store_access_e access, apr_pool_t *p);

/* Reads group/name/item; APR_ENOENT when absent, AT_EMODE when its owner or mode is unsafe for
 * the given access, AT_ETOOLARGE over at_store_item_max(group). data is NUL-terminated. */
apr_status_t at_store_load(at_store_t *store, at_store_group_e group, const char *name,
                           const char *item, char **data, apr_size_t *len, at_store_access_e access,
                           apr_pool_t *p);

apr_status_t at_store_remove(at_store_t *store, at_store_group_e group, const char *name,
                             const char *item, apr_pool_t *p);

/* Names (sorted, const char *) in group, or items in group/name when name is set. Missing:
 * an empty array. */
apr_status_t at_store_list(at_store_t *store, at_store_group_e group, const char *name,
                           apr_array_header_t **entries, apr_pool_t *p);

/* The filesystem path of an item (for mod_ssl); APR_ENOTIMPL for non-file backends. */
apr_status_t at_store_path(at_store_t *store, at_store_group_e group, const char *name,
                           const char *item, const char **path, apr_pool_t *p);

/* Writes count items as the directory group/name, all at once: they are written and synced in a
 * temp directory beside it (a temp name, see at_store_is_temp_name), which is then renamed to
 * group/name; the rename is the commit, so a reader sees no set or the whole set. The directory
 * is 0700 when any item is secret, else 0755. When group/name already exists: APR_EEXIST (or
 * ENOTEMPTY), and nothing is left behind; likewise on any other failure. */
apr_status_t at_store_save_set(at_store_t *store, at_store_group_e group, const char *name,
                               const at_store_item_t *items, int count, apr_pool_t *p);

/* Removes group/name flat: the given items (non-directories, never followed) and the store's temp
 * files in it, each unlinked relative to the opened directory, then the directory itself. It
 * never descends: a directory or any other unknown entry stays untouched, and group/name is then
 * moved aside as ".<name>.aside.<time>" (a name no listing or sweep takes; one WARNING line
 * naming it), so that it blocks no new set of that name. A link in the place of group/name is
 * removed, never followed. name may also be a temp name (a set directory left by a killed
 * writer). */
apr_status_t at_store_purge_items(at_store_t *store, at_store_group_e group, const char *name,
                                  const char *const *items, int count, apr_pool_t *p);

/* at_store_purge_items without items: only temp files go, then the directory if it is empty;
 * one that is not stays where it is (one log line; APR_FROM_OS_ERROR(ENOTEMPTY)). */
apr_status_t at_store_purge(at_store_t *store, at_store_group_e group, const char *name,
                            apr_pool_t *p);

/* Saves that may be lost in a crash (items made again when missing or torn, such as the
 * placeholders made at startup) skip their fsyncs while defer is set; at_store_fs_sync then
 * makes everything durable at once (syncfs). Every other save stays durable one by one. */
void at_store_fs_defer_sync(at_store_t *store, int defer);
apr_status_t at_store_fs_sync(at_store_t *store);

/* The root directory of a filesystem store ("" for "/"); NULL for any other backend. */
const char *at_store_fs_root(const at_store_t *store);

/* How at_store_fs_adopt hands a group over: its new owner, the modes, whether items are kept. */
typedef struct {
    apr_uid_t uid;
    apr_gid_t gid;
    int dir_mode; /* of the group and its name directories */
    int secret;   /* items become 0600 (else 0644) */
    int copy;     /* carry the items over (else the group starts empty) */
    int named;    /* items sit in name directories (group/name/item): copy one level of them */
} at_store_adopt_t;

typedef struct {
    int moved;                /* the old directory was moved aside */
    const char *aside;        /* its name in the store directory, root-only from now on */
    apr_uid_t previous_owner; /* who owned it */
    int copied, skipped;      /* items carried over, entries left behind */
} at_store_adopt_result_t;

/* Root only, at startup, before any other process of ours uses the store: when group's
 * directory is not owned by how->uid, moves it aside (root-only), makes a fresh one for how->uid
 * and copies every item that passes the store's rules (in name directories when how->named, regular
 * files with one name, O_NOFOLLOW, O_EXCL), never walking it where another uid could change it.
 * Nothing to do (result->moved 0) when the directory is missing, already how->uid's, or root's
 * and writable by nobody else (its owner and mode are then simply set). */
apr_status_t at_store_fs_adopt(at_store_adopt_result_t *result, at_store_t *store,
                               at_store_group_e group, const at_store_adopt_t *how, apr_pool_t *p);

/* Takes the exclusive lock of a group (e.g. AT_STORE_JOBS: one scheduler per store) without
 * waiting: APR_EAGAIN while another process holds it. Held until p is cleared or the process
 * ends; only processes that may open the group can take it. */
apr_status_t at_store_lock(at_store_t *store, at_store_group_e group, apr_pool_t *p);

/* JSON convenience on top of save/load. A file that does not parse gives AT_EPROTO. */
apr_status_t at_store_save_json(at_store_t *store, at_store_group_e group, const char *name,
                                const char *item, const json_t *json, apr_pool_t *p);
apr_status_t at_store_load_json(at_store_t *store, at_store_group_e group, const char *name,
                                const char *item, json_t **json, apr_pool_t *p);

/* A store component for a CA directory URL: host, port and path folded to [a-z0-9.-_]. */
const char *at_store_ca_name(apr_pool_t *p, const char *directory_url);

#endif
