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
 *   leases/<site>                                     (the ACME account's: who orders the site
 *                                                      now, at_store_lease_take)
 * Every write replaces the whole item atomically: readers see the old or the new version, never
 * a torn one; at_store_save_set makes a whole directory of items appear at once. Every read
 * checks owner and mode and refuses (AT_EMODE) what is too open. Nothing is ever removed
 * recursively: a purge unlinks the items it is told of and the store's own temp files, never
 * descending into a directory or following a link, so whatever else was put there stays.
 *
 * Callers go through these calls only, never around them: what a network backend cannot answer
 * by path (whether a set is there, whether a group changed, who holds a site) is asked with
 * at_store_stat, at_store_generation and the leases. The one exception is at_store_path: live/
 * and archive/ are always local files that mod_ssl reads by path, whatever the backend.
 */
#ifndef AT_STORE_H
#define AT_STORE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
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
    AT_STORE_LEASES, /* per-site leases (at_store_lease_take): secret, the ACME account's */
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

/* What at_store_stat tells of a set or an item. */
typedef struct {
    int exists;       /* 0: nothing of that name (the rest is 0) */
    int is_set;       /* group/name is a set (holds items; a directory in the fs backend) */
    apr_time_t mtime; /* last change, as precise as the backend knows it */
    apr_off_t size;   /* an item's size in bytes (0 for a set) */
    /* Added for callers that cache an item: a number that changes when the item is replaced
     * (fs: its inode), 0 when the backend cannot tell. */
    apr_uint64_t version;
    /* When at_store_stat refuses what it found (AT_EMODE): what is wrong with it, for the
     * caller's log line ("a symbolic link, not a directory", "owned by uid 33 with mode 0777;
     * ..."); NULL otherwise. */
    const char *why;
} at_store_stat_t;

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
    apr_status_t (*stat)(at_store_t *store, at_store_group_e group, const char *name,
                         const char *item, at_store_stat_t *st, apr_pool_t *p);
    apr_status_t (*generation)(at_store_t *store, at_store_group_e group, apr_uint64_t *gen,
                               apr_pool_t *p);
    apr_status_t (*lease_take)(at_store_t *store, const char *name, const char *token,
                               apr_interval_time_t ttl, apr_pool_t *p);
    apr_status_t (*lease_renew)(at_store_t *store, const char *name, const char *token,
                                apr_interval_time_t ttl, apr_pool_t *p);
    apr_status_t (*lease_release)(at_store_t *store, const char *name, const char *token,
                                  apr_pool_t *p);
    apr_status_t (*lease_holder)(at_store_t *store, const char *name, char **token,
                                 apr_time_t *expires, apr_pool_t *p);
    /* Optional (NULL: none): a descriptor that becomes readable when group may have changed
     * (at_store_watch). */
    apr_status_t (*watch)(at_store_t *store, at_store_group_e group, int *fd, apr_pool_t *p);
    apr_status_t (*watch_drain)(at_store_t *store, int fd);
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
 * "status", "leases". */
const char *at_store_group_name(at_store_group_e group);

/* The size cap of an item of group: AT_STORE_MAX_ITEM, except the status snapshot
 * (AT_STATUS_MAX_ITEM: about 5 MB at 10,000 sites). Saves and loads both hold to it. */
apr_size_t at_store_item_max(at_store_group_e group);

/* Whether a name or item is safe as one path component: [A-Za-z0-9._:-] (':' for IPv6 site
 * names), not "." or "..", not starting with '.', at most 255 characters. Everything the store is
 * given is checked with it. */
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

/* The local filesystem path of an item of live/ or archive/ (for mod_ssl, which reads by path):
 * those two groups are always local root-only files, whatever backend holds the rest. Any other
 * group is refused (AT_EARG): it has no path on a network backend, so its callers must use
 * load, stat, list or generation. APR_ENOTIMPL for a backend without local files. */
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

/* What is at group/name (item NULL: the set itself; name NULL or "" with item NULL: the group).
 * APR_SUCCESS with st->exists 0 when there is nothing. What is there is judged as loads judge
 * it: the fs backend follows no link and refuses (AT_EMODE, st->why says why, one log line) a
 * link, a special file, or a set or item of an untrusted owner or writable by group or other;
 * an item must have one name where an owner besides the reader is trusted. */
apr_status_t at_store_stat(at_store_t *store, at_store_group_e group, const char *name,
                           const char *item, at_store_stat_t *st, apr_pool_t *p);

/* A number that changes whenever anything in group is saved, removed, or a set appears or goes;
 * equal numbers mean "nothing to list". The fs backend: the group directory's change time in ns
 * (and, for groups of sets, those of the set directories), except that a directory changed
 * within its filesystem's timestamp granularity gives a number never given before (so two
 * changes within one clock tick are never mistaken for one); a missing group gives 0. A network
 * backend: a counter bumped with every write. */
apr_status_t at_store_generation(at_store_t *store, at_store_group_e group, apr_uint64_t *gen,
                                 apr_pool_t *p);

/* Optional wake-up for a group: *fd (or -1 when the backend has none: poll with
 * at_store_generation then) becomes readable when group may have changed; it belongs to the
 * store and lives until p is cleared. Readable is only a hint: compare generations (or list)
 * after at_store_watch_drain. The fs backend: an inotify descriptor on the group directory
 * (entries made, renamed or removed; the directory itself gone or replaced); APR_ENOENT while the
 * group's directory is missing (it is not made here). */
apr_status_t at_store_watch(at_store_t *store, at_store_group_e group, int *fd, apr_pool_t *p);
/* Consumes what made fd readable (never blocks); APR_EOF when the watch is lost (the group's
 * directory went or was replaced): watch again. */
apr_status_t at_store_watch_drain(at_store_t *store, int fd);

/* Leases: who works on a site now (one order per certificate across processes and nodes). name
 * is a site (a valid component); token says who holds it (at_store_lease_token). Taking gives
 * APR_SUCCESS when free, expired, or already ours (then renewed to ttl from now), AT_EBUSY while
 * another token holds it. Renewing gives AT_ELOST when it is no longer ours (expired, or taken
 * over after expiry). Releasing frees it only when the token holds it (else APR_SUCCESS and
 * nothing changes: nothing of another holder is ever dropped). The holder: APR_ENOENT when
 * nobody holds it (or only an expired lease is left). The fs backend keeps leases/<site> (0600,
 * the token and the expiry), changed under the group's lock; a lease file of an untrusted owner
 * or mode is refused (AT_EMODE), never taken over. */
apr_status_t at_store_lease_take(at_store_t *store, const char *name, const char *token,
                                 apr_interval_time_t ttl, apr_pool_t *p);
apr_status_t at_store_lease_renew(at_store_t *store, const char *name, const char *token,
                                  apr_interval_time_t ttl, apr_pool_t *p);
apr_status_t at_store_lease_release(at_store_t *store, const char *name, const char *token,
                                    apr_pool_t *p);
apr_status_t at_store_lease_holder(at_store_t *store, const char *name, char **token,
                                   apr_time_t *expires, apr_pool_t *p);
/* A new random lease token: 128 bits as 32 lower-case hex digits (a valid component). */
apr_status_t at_store_lease_token(char **token, apr_pool_t *p);
/* Longest token a backend keeps. */
#define AT_STORE_LEASE_TOKEN_MAX 128

/* The fs backend only (nothing for another): believe, besides root, the owner of group's
 * directory (the CLI reading what the renewal process, as the ACME account, wrote there). */
void at_store_fs_trust_group_owner(at_store_t *store, at_store_group_e group, apr_pool_t *p);

/* JSON convenience on top of save/load. A file that does not parse gives AT_EPROTO. */
apr_status_t at_store_save_json(at_store_t *store, at_store_group_e group, const char *name,
                                const char *item, const json_t *json, apr_pool_t *p);
apr_status_t at_store_load_json(at_store_t *store, at_store_group_e group, const char *name,
                                const char *item, json_t **json, apr_pool_t *p);

/* A store component for a CA directory URL: host, port and path folded to [a-z0-9.-_]. */
const char *at_store_ca_name(apr_pool_t *p, const char *directory_url);

#endif
