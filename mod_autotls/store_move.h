/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_move.h: which store directory a configuration generation uses, carrying the store of
 * an older release (under ServerRoot) to the default state directory once.
 */
#ifndef AUTOTLS_STORE_MOVE_H
#define AUTOTLS_STORE_MOVE_H

#include <apr_pools.h>

#include <httpd.h>

#include "autotls.h"

/*
 * post_config, both passes, as root in the parent, before anything opens the store: AutoTLSStore
 * when given; else the default (at_store_default_dir), after carrying the store from the old
 * default (<ServerRoot>/autotls) over when the default has none yet (one log line). When the
 * carry fails, the old place stays in use until a later start manages it: no certificate is
 * ordered again.
 */
const char *autotls_store_move(const autotls_ctx_t *ctx, apr_pool_t *pconf, apr_pool_t *ptemp);

#endif
