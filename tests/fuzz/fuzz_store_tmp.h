/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_store_tmp.h: a real filesystem store in a private temporary directory, removed at exit.
 *
 * Under $FUZZ_STORE_PARENT when set (scripts/fuzz.sh points it at a directory it removes at the
 * end, so a crashed target leaves nothing behind), else on tmpfs (/dev/shm) when there is one:
 * the store fsyncs every write, which on a disk would hold a target to a few dozen inputs a
 * second.
 */
#ifndef FUZZ_STORE_TMP_H
#define FUZZ_STORE_TMP_H

#include <ftw.h>
#include <unistd.h>

#include "at_store.h"
#include "fuzz_common.h"

#define FUZZ_STORE_TMPFS "/dev/shm"
#define FUZZ_STORE_TMP "/tmp"
#define FUZZ_STORE_NAME "/autotls-fuzz-store.XXXXXX"
#define FUZZ_STORE_FDS 8

static char *fuzz_store_dir;

static int fuzz_store_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void fuzz_store_cleanup(void)
{
    nftw(fuzz_store_dir, fuzz_store_rm, FUZZ_STORE_FDS, FTW_DEPTH | FTW_PHYS);
}

/* The store, created on first use (in the root pool: it lives as long as the process). */
static at_store_t *fuzz_store(const char **root)
{
    static at_store_t *store;

    fuzz_init();
    if (store == NULL) {
        const char *parent = getenv("FUZZ_STORE_PARENT");

        if (parent == NULL) {
            parent = access(FUZZ_STORE_TMPFS, W_OK) == 0 ? FUZZ_STORE_TMPFS : FUZZ_STORE_TMP;
        }
        fuzz_store_dir = apr_pstrcat(fuzz_root_pool, parent, FUZZ_STORE_NAME, NULL);
        if (mkdtemp(fuzz_store_dir) == NULL) {
            abort();
        }
        atexit(fuzz_store_cleanup);
        if (at_store_fs_open(&store, fuzz_root_pool, fuzz_store_dir) != APR_SUCCESS) {
            abort();
        }
    }
    *root = fuzz_store_dir;
    return store;
}

#endif
