/* SPDX-License-Identifier: Apache-2.0 */
/*
 * acme_user.h: the system account the ACME client runs as (AutoTLSUser), and becoming it.
 *
 * The one idea: three identities, each with what it needs and nothing more. root (the parent and
 * the activator) owns live/ and archive/; the ACME account (AutoTLSUser, default "autotls") runs
 * the renewal process and owns accounts/, jobs/, staging/ and challenges/; User (the children,
 * and every tenant's PHP/CGI code) may read the challenge answers and the status snapshot, and
 * write nothing in the store. When the account does not exist, User stands in for it, with one
 * WARNING at startup: then nothing separates tenants from the ACME client.
 */
#ifndef AUTOTLS_ACME_USER_H
#define AUTOTLS_ACME_USER_H

#include <apr_pools.h>

#include "autotls.h"

/* Looks up AutoTLSUser into ctx->acme_* (post_config, every pass; warns in the real pass only).
 * A missing account falls back to User (then acme_uid is User's). */
apr_status_t autotls_acme_user_resolve(autotls_ctx_t *ctx, apr_pool_t *ptemp);

/* In a freshly forked process started as root: becomes the ACME account for good (setgid,
 * initgroups, setuid, then checks that root cannot be regained). Logs and fails otherwise. */
apr_status_t autotls_acme_user_become(const autotls_ctx_t *ctx);

/* One WARNING (real pass) when CoreDumpDirectory makes the children, and with them every live
 * key they hold, readable by User. */
void autotls_acme_user_warn_dumpable(const autotls_ctx_t *ctx);

#endif
