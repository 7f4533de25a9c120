/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_layout.h: the store's directories with their owners and modes (store_layout.c).
 *
 * The one idea: only root's parent makes or fixes the layout, in post_config, before the
 * renewal process or the activator exists; nothing else creates a group directory.
 */
#ifndef AUTOTLS_STORE_LAYOUT_H
#define AUTOTLS_STORE_LAYOUT_H

#include <apr_pools.h>

#include "at_store.h"
#include "autotls.h"

/* post_config, both passes, as root in the parent; idempotent. Makes AutoTLSStore and every
 * group directory exist as real directories with their owners and modes (drift set back with a
 * log line; a group left to another owner by an older release is handed to the ACME account). */
apr_status_t autotls_store_layout_prepare(autotls_ctx_t *ctx, apr_pool_t *ptemp);

/* The owner and modes of each store group in the layout (layout[AT_STORE_GROUP_COUNT]), for a
 * store carried over from another place (at_store_carry): the ACME account's groups to
 * ctx->acme_uid, the others (archive/ too) to root. */
void autotls_store_layout_owners(const autotls_ctx_t *ctx, at_store_adopt_t *layout);

#endif
