/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sslhook.h: the certificate callback every managed twin's SSL_CTX runs in the children.
 *
 * The one idea: the handshake path costs one atomic load while a site's certificate is
 * unchanged; a new generation in the shared slots is parsed once per child, and the module
 * never makes a handshake fail: on any trouble mod_ssl's own certificate stays.
 */
#ifndef AUTOTLS_SSLHOOK_H
#define AUTOTLS_SSLHOOK_H

#include <apr_pools.h>

#include "autotls.h"

/* Registers mod_ssl's optional init_server hook (cert_cb on each twin) and child_init. */
void autotls_sslhook_register_hooks(apr_pool_t *p);

/* 1 when the site's slot holds a published CA-issued certificate (not a placeholder): its twin
 * serves that certificate. 0 otherwise, also before post_config or for a site without a slot. */
int autotls_sslhook_serves_ca_cert(const autotls_site_t *site);

#endif
