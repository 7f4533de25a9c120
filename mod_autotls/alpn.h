/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alpn.h: answering ACME tls-alpn-01 (RFC 8737) in the children's TLS handshakes (alpn.c).
 */
#ifndef AUTOTLS_ALPN_H
#define AUTOTLS_ALPN_H

#include <apr_pools.h>
#include <apr_tables.h>

/* The ALPN protocol of tls-alpn-01 (RFC 8737 §6.2); twins list it in Protocols (twin.c). */
#define AUTOTLS_ALPN_PROTOCOL "acme-tls/1"

/* Whether a client's ALPN offer (const char *) is acme-tls/1 alone, as a validating CA sends
 * it; the only offer the module ever answers with acme-tls/1. */
int autotls_alpn_offers_only_acme(const apr_array_header_t *offers);

/* protocol_propose, protocol_switch, protocol_get, ssl_answer_challenge, a post_read_request
 * that drops HTTP on acme-tls/1, and child_init (the child's validation key). */
void autotls_alpn_register_hooks(apr_pool_t *p);

#endif
