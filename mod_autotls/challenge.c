/* SPDX-License-Identifier: Apache-2.0 */
/*
 * challenge.c: the http-01 responder (RFC 8555 §8.3), in post_read_request.
 *
 * It runs before translation, rewrites, redirects and authentication, so no site configuration
 * can get between the CA and the answer. It answers only what it knows: GET or HEAD, a managed
 * Host, an exact token the renewal process published in the store, and an answer made for that
 * very Host (at_challenge.h: each answer names its identifier), so an answer for one site never
 * validates another. Everything else is declined and reaches the site's own handlers untouched.
 * Which requests those are is decided by the pure functions of challenge_match.c (fuzzed); this
 * file adds httpd and the store.
 */
#include <string.h>

#include <apr_strings.h>

#include <httpd.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include "at_challenge.h"
#include "at_core.h"
#include "autotls.h"
#include "challenge.h"
#include "log_glue.h"

APLOG_USE_MODULE(autotls);

/* The glue's view of "is this Host managed" for the pure decision in challenge_match.c. */
static int challenge_host_managed(const void *baton, const char *host)
{
    return autotls_site_for_host(baton, host) != NULL;
}

/* The stored answer for token, decoded; NULL (with the reason logged when the store holds
 * something unusable) when there is none to serve. */
static const at_challenge_answer_t *challenge_load(request_rec *r, autotls_ctx_t *ctx,
                                                   const char *token)
{
    at_challenge_answer_t *answer = apr_pcalloc(r->pool, sizeof(*answer));
    const char *why;
    char *data;
    apr_size_t len;
    apr_status_t rv;

    rv = at_store_load(ctx->store, AT_STORE_CHALLENGES, NULL, token, &data, &len, AT_STORE_PUBLIC,
                       r->pool);
    if (rv != APR_SUCCESS) {
        if (rv != APR_ENOENT) {
            /* at_strerror: httpd's own rendering of rv knows nothing of our AT_E* codes */
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          AUTOTLS_LOGNO(0501) "%s: cannot read the http-01 response for token %s: "
                                              "%s",
                          r->hostname, token, at_strerror(r->pool, rv));
        }
        return NULL;
    }
    if (at_challenge_answer_decode(answer, &why, r->pool, token, data, len) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      AUTOTLS_LOGNO(0510) "%s: the stored http-01 response for token %s is not "
                                          "served: %s",
                      r->hostname, token, why);
        return NULL;
    }
    return answer;
}

static int challenge_answer(request_rec *r)
{
    autotls_ctx_t *ctx = autotls_ctx_get();
    const at_challenge_answer_t *answer;
    const char *token;
    apr_size_t len;

    if (ctx == NULL) {
        return DECLINED;
    }
    token = autotls_challenge_token(r->method_number == M_GET, r->parsed_uri.path, r->hostname,
                                    challenge_host_managed, ctx);
    if (token == NULL || (answer = challenge_load(r, ctx, token)) == NULL) {
        return DECLINED;
    }
    if (!autotls_challenge_host_bound(r->hostname, answer->identifier)) {
        /* another managed name's answer: to this Host the token is as unknown as any other */
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                      AUTOTLS_LOGNO(0511) "%s: http-01 token %s was made for %s: declined",
                      r->hostname, token, answer->identifier);
        return DECLINED;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  AUTOTLS_LOGNO(0502) "%s: answering http-01 for token %s", r->hostname, token);
    len = strlen(answer->key_authorization);
    r->status = HTTP_OK;
    ap_set_content_type(r, "text/plain");
    ap_set_content_length(r, len);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only) {
        ap_rwrite(answer->key_authorization, (int)len, r);
    }
    ap_finalize_request_protocol(r);
    return DONE;
}

void autotls_challenge_register_hooks(apr_pool_t *p)
{
    ap_hook_post_read_request(challenge_answer, NULL, NULL, APR_HOOK_FIRST);
}
