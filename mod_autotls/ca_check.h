/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ca_check.h: the AutoTLSCA list against AutoTLSIssuerRoots at startup (ca_check.c).
 */
#ifndef AUTOTLS_CA_CHECK_H
#define AUTOTLS_CA_CHECK_H

#include <apr_pools.h>

/* check_config: a CA whose roots are known and missing from AutoTLSIssuerRoots stops the start. */
void autotls_ca_check_register_hooks(apr_pool_t *p);

#endif
