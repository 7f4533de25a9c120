/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_store_carry.h: where the store lives by default, and carrying a store over from the
 * location an older release used.
 *
 * The default is a state directory (/var/lib/apache2/autotls on Debian, configure
 * --with-store-dir), the same for the module and the CLI. Releases before it kept the store under
 * ServerRoot (/etc/apache2/autotls): at the first start without AutoTLSStore the old store is
 * carried over once, as a copy (the two may sit on different filesystems) that only a rename
 * makes visible, so a crash at any moment leaves either no new store (the next start tries again)
 * or a complete one with its marker.
 */
#ifndef AT_STORE_CARRY_H
#define AT_STORE_CARRY_H

#include <apr_pools.h>

#include "at_store.h"

/* The environment variable that overrides the compiled-in default (tests; a root daemon's
 * environment is root's own: Debian's /etc/apache2/envvars). Ignored unless an absolute path,
 * and ignored in set-uid programs (secure_getenv). */
#define AT_STORE_DIR_ENV "AUTOTLS_STORE_DIR"

/* In the carried store: says it is complete and where it came from (one line, the old path). */
#define AT_STORE_CARRY_MARKER ".carried-from"
/* Beside the new store (<new><suffix>): the copy being made. Removed when a start finds it. */
#define AT_STORE_CARRY_TEMP_SUFFIX ".carrying"

/* The store directory to use when none is configured: $AUTOTLS_STORE_DIR when set to an absolute
 * path, else the compiled-in default. Never NULL. */
const char *at_store_default_dir(void);

typedef enum {
    AT_CARRY_NOTHING = 0, /* no store at the old location (or it is the new one) */
    AT_CARRY_CARRIED,     /* copied now */
    AT_CARRY_DONE_BEFORE, /* the new store carries the marker of an earlier carry */
    AT_CARRY_IN_USE       /* the new store already holds something else: nothing copied */
} at_carry_outcome_e;

typedef struct {
    at_carry_outcome_e outcome;
    int copied;  /* files copied */
    int skipped; /* entries left behind: links, special files, hard-linked or oversized files */
} at_carry_result_t;

/* Carries the store at old_dir over to new_dir when old_dir holds one (live/ or accounts/) and
 * new_dir is missing or empty: copies each store group of the tree into <new_dir>.carrying
 * (regular files with one name and a store name, and directories, never following a link, old_dir
 * itself included; every file and directory synced), writes the marker, syncs, then renames it
 * to new_dir. What is copied gets the owner and modes of its group in layout (indexed by group,
 * AT_STORE_GROUP_COUNT entries: uid, gid, dir_mode, secret; owners only when root), the store
 * directory root's with AT_STORE_MODE_ROOT_DIR. A tree nested deeper than 6 levels or a directory
 * of more than 1,000,000 entries fails the carry (AT_ETOOLARGE, one log line). A leftover
 * .carrying from an interrupted run is removed first. old_dir is left as it is. Root at startup,
 * before anything opens new_dir. On failure new_dir is untouched (a later call starts over). */
apr_status_t at_store_carry(at_carry_result_t *result, const char *old_dir, const char *new_dir,
                            const at_store_adopt_t *layout, apr_pool_t *p);

#endif
