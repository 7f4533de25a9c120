/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_secret_file.h: a small secret read from a file that only its owner may read.
 *
 * The store's seal key (AutoTLSStoreKeyFile) and the Redis password (AutoTLSStorePasswordFile)
 * are kept like a private key: in a regular file (never a symbolic link) with no permission for
 * group or others, owned by root or the ACME account that uses it (whoever else owned it could
 * swap it). Never on a command line or in the server configuration, which others may read.
 */
#ifndef AT_SECRET_FILE_H
#define AT_SECRET_FILE_H

#include <apr_pools.h>
#include <apr_user.h>

/* Reads the whole of path (at most max bytes) into *data (NUL-terminated, from p; cleared with
 * the pool). A link, anything but a regular file, a mode giving group or others any access, or
 * more than max bytes is refused (AT_EMODE, AT_ETOOLARGE) with *why naming the file, what it
 * holds (what: "the store key", "the Redis password") and the fix; so is a file that cannot be
 * opened (its APR status). Nothing is logged here: the caller logs *why once, in its context. */
apr_status_t at_secret_file_read(char **data, apr_size_t *len, const char **why, apr_pool_t *p,
                                 const char *path, const char *what, apr_size_t max);

/* The owner rule, for the one who knows who reads the file (the root parent at startup): owned
 * by root or by reader_uid, checked on the file opened as at_secret_file_read opens it.
 * APR_SUCCESS; AT_EMODE with *owner and *why when another uid owns it; the open's status with
 * *why. Nothing is logged here. */
apr_status_t at_secret_file_owner_check(apr_uid_t *owner, const char **why, apr_pool_t *p,
                                        const char *path, const char *what, apr_uid_t reader_uid);

#endif
