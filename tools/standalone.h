/* SPDX-License-Identifier: Apache-2.0 */
/*
 * standalone.h: the CLI's own http-01 responder, for hosts where no web server runs yet.
 */
#ifndef AUTOTLS_STANDALONE_H
#define AUTOTLS_STANDALONE_H

#include <apr_pools.h>

#include "at_issue.h"

typedef struct autotls_standalone_t autotls_standalone_t;

/* Listens on addr ("ADDR:PORT") and serves the tokens published through *responder from a
 * thread until the pool is cleaned up. */
apr_status_t autotls_standalone_start(autotls_standalone_t **server,
                                      at_http01_responder_t *responder, apr_pool_t *p,
                                      const char *addr);

#endif
