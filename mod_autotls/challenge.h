/* SPDX-License-Identifier: Apache-2.0 */
/*
 * challenge.h: answering ACME http-01 inside httpd's request pipeline.
 */
#ifndef AUTOTLS_CHALLENGE_H
#define AUTOTLS_CHALLENGE_H

#include <apr_pools.h>

#include "challenge_match.h" /* AUTOTLS_CHALLENGE_PREFIX, autotls_challenge_path() */

void autotls_challenge_register_hooks(apr_pool_t *p);

#endif
