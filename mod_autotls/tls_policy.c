/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls_policy.c: the directives of each AutoTLSPolicy (tls_policy.h), spelled once.
 *
 * Facts from Mozilla's server-side TLS recommendations, version 5.7, Apache configuration:
 * intermediate allows TLS 1.2 with ECDHE/DHE key exchange and AEAD ciphers only, and TLS 1.3
 * (whose cipher suites OpenSSL chooses well by default); modern allows TLS 1.3 only. Both turn
 * session tickets off, because mod_ssl never rotates the ticket key of a running server and a
 * stolen key would decrypt every recorded session (forward secrecy). Mozilla leaves the cipher
 * order to the client; we keep the server's (strongest first), because a client offering a weak
 * suite first would otherwise get it and auditors (testssl.sh) rate a missing order HIGH, and
 * keep the client's wish for ChaCha20 (a phone without AES instructions) with OpenSSL's
 * PrioritizeChaCha.
 */
#include <strings.h>

#include "at_core.h"
#include "tls_policy.h"

#define POLICY_INTERMEDIATE_CIPHERS                                                                \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"     \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"       \
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"

static const autotls_tls_policy_line_t policy_intermediate[] = {
    {"SSLProtocol", "-all +TLSv1.2 +TLSv1.3"},
    {"SSLCipherSuite", POLICY_INTERMEDIATE_CIPHERS},
    {"SSLHonorCipherOrder", "on"},
    {"SSLOpenSSLConfCmd", "Options PrioritizeChaCha"},
    {"SSLSessionTickets", "off"},
    {NULL, NULL},
};

static const autotls_tls_policy_line_t policy_modern[] = {
    {"SSLProtocol", "-all +TLSv1.3"},
    {"SSLHonorCipherOrder", "on"},
    {"SSLOpenSSLConfCmd", "Options PrioritizeChaCha"},
    {"SSLSessionTickets", "off"},
    {NULL, NULL},
};

static const autotls_tls_policy_line_t policy_inherit[] = {
    {NULL, NULL},
};

static const struct {
    const char *name;
    autotls_tls_policy_e policy;
    const autotls_tls_policy_line_t *lines;
} policies[] = {
    {"intermediate", AUTOTLS_POLICY_INTERMEDIATE, policy_intermediate},
    {"modern", AUTOTLS_POLICY_MODERN, policy_modern},
    {"inherit", AUTOTLS_POLICY_INHERIT, policy_inherit},
};

#define POLICY_COUNT (sizeof(policies) / sizeof(policies[0]))

apr_status_t autotls_tls_policy_parse(autotls_tls_policy_e *policy, const char *text)
{
    apr_size_t i;

    for (i = 0; text != NULL && i < POLICY_COUNT; i++) {
        if (strcasecmp(text, policies[i].name) == 0) {
            *policy = policies[i].policy;
            return APR_SUCCESS;
        }
    }
    return AT_EARG;
}

const autotls_tls_policy_line_t *autotls_tls_policy_lines(autotls_tls_policy_e policy)
{
    apr_size_t i;

    for (i = 0; i < POLICY_COUNT; i++) {
        if (policies[i].policy == policy) {
            return policies[i].lines;
        }
    }
    return policy_inherit;
}
