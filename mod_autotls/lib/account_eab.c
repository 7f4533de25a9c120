/* SPDX-License-Identifier: Apache-2.0 */
/*
 * account_eab.c: the MAC key of an external account binding (RFC 8555 7.3.4), read from a file.
 *
 * The one idea: the MAC key opens an account at the CA, so it is kept like a private key: in a
 * file that only its owner (root, or the ACME account that uses it) can read. Never on a command
 * line, where /proc/PID/cmdline shows it to every local user, nor in the server configuration,
 * which is often world-readable. The module (AutoTLSEAB) and the CLI (--eab-hmac-file) read it
 * here, so both accept and refuse the same files.
 */

#include <apr_lib.h>
#include <apr_strings.h>

#include "at_b64url.h"
#include "at_core.h"
#include "at_issue.h"
#include "at_secret_file.h"

/* A MAC key is a few dozen base64url characters; a file much larger holds something else. */
#define EAB_KEY_FILE_MAX 1024

/* The key text with surrounding white space (a trailing newline from `echo`) cut off. */
static const char *eab_key_trim(apr_pool_t *p, const char *buf, apr_size_t len)
{
    while (len > 0 && apr_isspace(buf[len - 1])) {
        len--;
    }
    while (len > 0 && apr_isspace(*buf)) {
        buf++;
        len--;
    }
    return apr_pstrmemdup(p, buf, len);
}

apr_status_t at_account_eab_key_read(const char **key, const char **why, apr_pool_t *p,
                                     const char *path)
{
    unsigned char *raw;
    apr_size_t raw_len, len;
    char *data;
    apr_status_t rv;

    *key = NULL;
    /* Owner-only, no link, no FIFO, bounded: the rule of every secret file (secret_file.c). */
    rv = at_secret_file_read(&data, &len, why, p, path, "the EAB MAC key", EAB_KEY_FILE_MAX);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *key = eab_key_trim(p, data, len);
    if (**key == '\0' || at_b64url_decode(&raw, &raw_len, p, *key) != APR_SUCCESS) {
        *why = apr_psprintf(p,
                            "%s does not hold an EAB MAC key in base64url (as the CA "
                            "gives it, without padding)",
                            path);
        *key = NULL;
        return AT_EARG;
    }
    return APR_SUCCESS;
}
