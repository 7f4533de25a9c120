/*
 * challenge.c: the http-01 responder (RFC 8555 §8.3), in post_read_request.
 *
 * It runs before translation, rewrites, redirects and authentication, so no site configuration
 * can get between the CA and the answer. It answers only what it knows: GET or HEAD, a managed
 * Host, an exact token the renewal thread published in the store. Everything else is declined
 * and reaches the site's own handlers untouched. Which requests those are is decided by the pure
 * autotls_challenge_token() (challenge_match.c, fuzzed); this file adds httpd and the store.
 */
#include <string.h>

#include <apr_strings.h>

#include <httpd.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

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

static int challenge_answer(request_rec *r)
{
    autotls_ctx_t *ctx = autotls_ctx_get();
    const char *token;
    char *keyauth;
    apr_size_t len;
    apr_status_t rv;

    if (ctx == NULL) {
        return DECLINED;
    }
    token = autotls_challenge_token(r->method_number == M_GET, r->parsed_uri.path, r->hostname,
                                    challenge_host_managed, ctx);
    if (token == NULL) {
        return DECLINED;
    }
    rv = at_store_load(ctx->store, AT_STORE_CHALLENGES, NULL, token, &keyauth, &len,
                       AT_STORE_PUBLIC, r->pool);
    if (rv != APR_SUCCESS) {
        if (rv != APR_ENOENT) {
            /* at_strerror: httpd's own rendering of rv knows nothing of our AT_E* codes */
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          AUTOTLS_LOGNO(0501) "%s: cannot read the http-01 response for token %s: "
                                              "%s",
                          r->hostname, token, at_strerror(r->pool, rv));
        }
        return DECLINED;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  AUTOTLS_LOGNO(0502) "%s: answering http-01 for token %s", r->hostname, token);
    r->status = HTTP_OK;
    ap_set_content_type(r, "text/plain");
    ap_set_content_length(r, len);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only) {
        ap_rwrite(keyauth, (int)len, r);
    }
    ap_finalize_request_protocol(r);
    return DONE;
}

void autotls_challenge_register_hooks(apr_pool_t *p)
{
    ap_hook_post_read_request(challenge_answer, NULL, NULL, APR_HOOK_FIRST);
}
