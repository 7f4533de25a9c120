/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_copy.h: `autotls store copy`, a store into Redis and back (store_copy.c).
 */
#ifndef AUTOTLS_CLI_STORE_COPY_H
#define AUTOTLS_CLI_STORE_COPY_H

#include <apr_pools.h>

#define AUTOTLS_CLI_STORE_USAGE                                                                    \
    "usage: autotls store copy --from DIR|URL --to DIR|URL [--key-file FILE]\n"                    \
    "                          [--password-file FILE] [--prefix PREFIX]\n"                         \
    "\n"                                                                                           \
    "Copies a store's accounts, staging sets, jobs, challenge answers and status into another\n"   \
    "store, so that a server joins a fleet (DIR to redis://[user@]host:port[/db]) or leaves it\n"  \
    "(back to a DIR) without ordering its certificates again. live/ and archive/ are not\n"        \
    "copied: each server keeps its own. A Redis side needs --key-file (the fleet's\n"              \
    "AutoTLSStoreKeyFile: private keys are sealed with it) and --password-file when Redis asks\n"  \
    "for a password; --prefix as AutoTLSStorePrefix (default autotls:). Items already in the\n"    \
    "destination are replaced, staging sets there already are kept. Run it as root. Exit\n"        \
    "codes: 0 copied, 2 usage error, 3 store error (the line before says which item).\n"

/* Runs `autotls store ...` (argv[0] is "store"); returns the CLI's exit code. */
int autotls_cli_store(int argc, const char *const *argv, apr_pool_t *p);

#endif
