/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_tree_copy.h: the one walk that copies a directory another release (or another uid) left
 * into a store group, for an adoption (store_adopt.c) and a carry to a new place (store_carry.c).
 */
#ifndef AT_STORE_TREE_COPY_H
#define AT_STORE_TREE_COPY_H

#include <sys/types.h>

#include <apr_errno.h>
#include <apr_pools.h>

/* How a tree is copied: who owns what is made, its modes, and its bounds. */
typedef struct {
    uid_t uid;
    gid_t gid;
    int chown;       /* give what is made to uid:gid (root); else it stays the writer's */
    mode_t dir_mode; /* of every directory made */
    mode_t file_mode;
    int max_levels;  /* directory levels below the top that are copied */
    int max_entries; /* entries read per directory */
    int strict;      /* a bound exceeded or a failed copy fails the walk (else: left behind) */
} at_store_tree_copy_t;

typedef struct {
    int copied;  /* files copied */
    int skipped; /* entries left behind */
} at_store_tree_count_t;

/* Copies what the directory sfd holds into the directory dfd: regular files with one name
 * within AT_STORE_MAX_ITEM, with valid store names (at_store_component_valid), opened with
 * O_NOFOLLOW and made with O_EXCL, synced; directories down to how->max_levels, made with the
 * owner and mode of how. Links, special files, hard-linked, oversized or oddly named entries
 * stay behind (counted). Past a bound (depth, entries per directory): one log line; with
 * how->strict the walk fails with AT_ETOOLARGE, else the rest stays behind. A file that cannot
 * be copied: one log line; with how->strict the walk fails. `where` names sfd in log lines. The
 * directories dfd and below are synced; dfd's own owner and mode are the caller's. */
apr_status_t at_store_tree_copy_dir(int sfd, int dfd, const char *where,
                                    const at_store_tree_copy_t *how, at_store_tree_count_t *count,
                                    apr_pool_t *p);

#endif
