/* SPDX-License-Identifier: Apache-2.0 */
/*
 * renew.h: the renewal process that obtains and renews every site's certificate (renew.c).
 */
#ifndef AUTOTLS_RENEW_H
#define AUTOTLS_RENEW_H

#include <apr_pools.h>

#include "autotls.h"

/* Forks the renewal process of this generation (post_config, real pass, after the slots exist
 * and before mod_ssl loads any key); it runs as the ACME account (acme_user.h). */
apr_status_t autotls_renew_start(autotls_ctx_t *ctx, apr_pool_t *pconf);

/* In the renewal process: whether it was told to stop (work under way should end early). */
int autotls_renew_stopping(void);

#endif
