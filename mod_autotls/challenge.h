/*
 * challenge.h: answering ACME http-01 inside httpd's request pipeline.
 */
#ifndef AUTOTLS_CHALLENGE_H
#define AUTOTLS_CHALLENGE_H

#include <apr_pools.h>

#define AUTOTLS_CHALLENGE_PREFIX "/.well-known/acme-challenge/"

/* Whether uri is under the http-01 path (never redirected, never gated). */
int autotls_challenge_path(const char *uri);

void autotls_challenge_register_hooks(apr_pool_t *p);

#endif
