/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gate.h: what a managed site answers before and after its certificate is live.
 */
#ifndef AUTOTLS_GATE_H
#define AUTOTLS_GATE_H

#include <apr_pools.h>

/* Retry-After of the 503 a site answers over HTTPS while its certificate is being obtained. */
#define AUTOTLS_GATE_RETRY_AFTER_SEC 30

void autotls_gate_register_hooks(apr_pool_t *p);

#endif
