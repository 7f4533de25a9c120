/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_ari.h: ACME Renewal Information (RFC 9773).
 *
 * A CA that offers `renewalInfo` in its directory tells us, per certificate, the window in which
 * it wants that certificate renewed. We ask for it by the certificate's ARI identifier, pick a
 * uniformly random moment inside the window, and look again when the CA's Retry-After says.
 * The identifier is also what a renewal order names in `replaces`.
 */
#ifndef AT_ARI_H
#define AT_ARI_H

#include <apr_pools.h>
#include <apr_time.h>
#include <openssl/x509.h>

#include "at_acme.h"

/* Next poll when the CA sends no Retry-After, and the bounds put on the CA's value. */
#define AT_ARI_POLL_DEFAULT apr_time_from_sec(6 * 3600)
#define AT_ARI_POLL_MIN apr_time_from_sec(60)
#define AT_ARI_POLL_MAX apr_time_from_sec(24 * 3600)

typedef struct {
    apr_time_t start;                /* suggestedWindow.start */
    apr_time_t end;                  /* suggestedWindow.end (> start) */
    const char *explanation_url;     /* or NULL */
    apr_interval_time_t retry_after; /* when to ask again, within [POLL_MIN, POLL_MAX] */
} at_ari_window_t;

/* The certificate's ARI identifier: base64url(AKI keyIdentifier) "." base64url(serial DER
 * content octets). AT_EPROTO when the certificate has no Authority Key Identifier. */
apr_status_t at_ari_cert_id(const char **cert_id, apr_pool_t *p, X509 *leaf);

/* Fetches the renewal window for cert_id from the CA's renewalInfo resource (unauthenticated
 * GET). APR_ENOTIMPL when the directory offers no renewalInfo; AT_EPROTO (one log line) when the
 * answer is not a valid window (an error status included); AT_EARG when cert_id is not an ARI
 * identifier; the HTTP layer's status when the CA cannot be reached. window->retry_after is set
 * on every return, failures included: when to ask again. */
apr_status_t at_ari_fetch(at_ari_window_t *window, at_acme_t *acme, apr_pool_t *p,
                          const char *cert_id);

/* Parses a renewalInfo body (exposed for tests and fuzzing); retry_after is the header's value
 * (0 or less: none), bounded as above and set in window even when the body is refused. */
apr_status_t at_ari_parse(at_ari_window_t *window, apr_pool_t *p, const char *body, apr_size_t len,
                          apr_interval_time_t retry_after);

/* A uniformly random moment in [start, end), from a uniformly random 32-bit value. */
apr_time_t at_ari_pick(const at_ari_window_t *window, apr_uint32_t random);

#endif
