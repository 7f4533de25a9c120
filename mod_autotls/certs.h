/* SPDX-License-Identifier: Apache-2.0 */
/*
 * certs.h: what mod_ssl loads at startup for each managed twin, and the first publish.
 *
 * The one idea: every twin always has files mod_ssl can load (the live set, else a self-signed
 * placeholder made as root), so httpd starts whatever the CA does; what is live is also
 * published into the shared slots, which is what the twins then actually serve.
 */
#ifndef AUTOTLS_CERTS_H
#define AUTOTLS_CERTS_H

#include <apr_pools.h>

#include <httpd.h>

#include "autotls.h"

/*
 * post_config, both passes, as root in the parent; idempotent. Lays out the store
 * (store_layout.h), settles what a crash left (recovery.h, real pass) and chooses for every site
 * the files mod_ssl loads: live/<site>/ when that set is valid for the site's names now, else
 * the placeholder (placeholder.h: made, or made again when expired or no longer covering the
 * names). In the real pass it also creates ctx->slots with one slot per site (setting
 * site->slot) and publishes every valid live set as CA-issued, each as soon as it is checked.
 * Placeholders are not published: generation 0 means "mod_ssl's placeholder is served".
 */
apr_status_t autotls_certs_prepare(autotls_ctx_t *ctx, apr_pool_t *ptemp);

/* The managed site whose twin is s, or NULL (valid after autotls_certs_prepare). */
autotls_site_t *autotls_certs_site_of_twin(const server_rec *s);

/* Registers ap_hook_ssl_add_cert_files (mod_autotls.c registers sslhook.c's hooks). */
void autotls_certs_register_hooks(apr_pool_t *p);

#endif
