/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls_policy.h: AutoTLSPolicy, the TLS settings the HTTPS twins get (docs/ADMIN.md).
 *
 * The one idea: a twin is a vhost we wrote, so its TLS settings are ours to choose too, and the
 * choice is Mozilla's server-side TLS recommendations (https://wiki.mozilla.org/Security/
 * Server_Side_TLS, version 5.7) by name: "intermediate" (the default: TLS 1.2 with AEAD ciphers
 * and forward secrecy, and TLS 1.3) or "modern" (TLS 1.3 only); "inherit" writes nothing, so
 * the twins keep what the admin set server-wide (Debian's ssl.conf). twin.c writes the policy's
 * directives into each twin, after everything copied from the original vhost; a vhost with TLS
 * settings of its own gets no twin at all, so no admin setting is ever overridden in a vhost.
 */
#ifndef AUTOTLS_TLS_POLICY_H
#define AUTOTLS_TLS_POLICY_H

#include <apr_errno.h>

typedef enum {
    AUTOTLS_POLICY_INTERMEDIATE = 0, /* the default */
    AUTOTLS_POLICY_MODERN,
    AUTOTLS_POLICY_INHERIT
} autotls_tls_policy_e;

#define AUTOTLS_POLICY_DEFAULT AUTOTLS_POLICY_INTERMEDIATE
#define AUTOTLS_POLICY_NAMES "intermediate|modern|inherit"

/* One directive a policy writes into a twin. */
typedef struct {
    const char *directive;
    const char *args;
} autotls_tls_policy_line_t;

/* The policy named text (any case) into *policy; AT_EARG for anything else. */
apr_status_t autotls_tls_policy_parse(autotls_tls_policy_e *policy, const char *text);

/* The directives of policy, ended by an entry whose directive is NULL (none for inherit). */
const autotls_tls_policy_line_t *autotls_tls_policy_lines(autotls_tls_policy_e policy);

#endif
