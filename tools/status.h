/* SPDX-License-Identifier: Apache-2.0 */
/*
 * status.h: `autotls status`, the monitoring check (status.c).
 */
#ifndef AUTOTLS_CLI_STATUS_H
#define AUTOTLS_CLI_STATUS_H

#include <apr_pools.h>

#include "at_status.h"

#define AUTOTLS_CLI_STATUS_USAGE                                                                   \
    "usage: autotls status [--store DIR] [--json]\n"                                               \
    "\n"                                                                                           \
    "Every site of the server whose AutoTLSStore is DIR (default: the server's own store): its\n"  \
    "state (valid, pending, renewing, failing, expired, orphaned), expiry, next renewal and "      \
    "why,\n"                                                                                       \
    "and last error, from the snapshot the server's renewal process keeps in DIR/status/ (run "    \
    "as\n"                                                                                         \
    "root, also the certificates in DIR/live/ the server no longer manages). --json: one JSON\n"   \
    "document. Exit codes follow the monitoring-plugin convention (unlike the other commands):\n"  \
    "0 OK, every site valid; 1 WARNING, a site failing, expiring inside its warning window,\n"     \
    "pending for an hour or orphaned; 2 CRITICAL, a certificate expired or a site without one\n"   \
    "for a day; 3 UNKNOWN, the store cannot be read.\n"

/* Prints every site of the store (dir NULL: at_store_default_dir()) with its state; returns the
 * monitoring-plugin code (at_status.h: AT_STATUS_CHECK_*). */
int autotls_cli_status(const char *dir, int json, apr_pool_t *p);

#endif
