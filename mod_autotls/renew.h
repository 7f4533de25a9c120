/*
 * renew.h: the renewal thread that obtains and renews every site's certificate.
 */
#ifndef AUTOTLS_RENEW_H
#define AUTOTLS_RENEW_H

#include <apr_pools.h>

#include "autotls.h"

/* Registers the watchdog singleton for this generation (post_config, real pass). */
apr_status_t autotls_renew_start(autotls_ctx_t *ctx, apr_pool_t *pconf);

/* child_init: the renewal tasks of this child stop when pchild is cleared, before the process's
 * exit handlers (OpenSSL's among them) run. */
void autotls_renew_child_init(apr_pool_t *pchild);

#endif
