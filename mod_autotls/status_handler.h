/* SPDX-License-Identifier: Apache-2.0 */
/*
 * status_handler.h: the status page, the metrics and the server-status section
 * (status_handler.c).
 */
#ifndef AUTOTLS_STATUS_HANDLER_H
#define AUTOTLS_STATUS_HANDLER_H

#include <apr_pools.h>

/* handler (autotls-status, autotls-metrics), child_init (the cache's lock), mod_status's hook. */
void autotls_status_register_hooks(apr_pool_t *p);

#endif
