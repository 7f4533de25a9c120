/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_store_copy.h: copies what one store holds into another (`autotls store copy`): a single
 * server's store into Redis so that it joins a fleet without ordering again, and back.
 *
 * Copied: the items of accounts/<ca>/ and staging/<site>/ (each set whole, at_store_save_set),
 * and the flat groups jobs/, challenges/ and status/. Never live/ and archive/: each node keeps its
 * own. The items the library saves as private keys (at_store_copy_item_is_secret) are loaded and
 * saved as secret, so a Redis destination seals them; so is any other item holding a PEM private
 * key.
 */
#ifndef AT_STORE_COPY_H
#define AT_STORE_COPY_H

#include <apr_pools.h>

#include "at_store.h"

typedef struct {
    int items;   /* items written to the destination */
    int secrets; /* of which saved as secret */
    int sets;    /* staging sets written whole */
    int kept;    /* staging sets the destination had already (left as they are) */
} at_store_copy_result_t;

/* Whether the library saves item as a private key (AT_STORE_SECRET): privkey.pem, account.key,
 * account.key.next, next.privkey.pem. */
int at_store_copy_item_is_secret(const char *item);

/* Copies everything listed above from `from` into `to`; items there already are replaced, except
 * a staging set, which is left as it is (counted in kept). Stops at the first item that cannot
 * be read or written (the store's own log line says which), returning its status. */
apr_status_t at_store_copy(at_store_copy_result_t *result, at_store_t *from, at_store_t *to,
                           apr_pool_t *p);

#endif
