/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gate.c: 503 over HTTPS until a site has a real certificate, redirect to HTTPS after.
 *
 * Until the CA-issued certificate is live, the twin serves a self-signed placeholder that no
 * browser accepts; whoever clicks through gets an honest 503 with Retry-After instead of the
 * site. Once it is live, plain HTTP moves to HTTPS (301 for GET/HEAD, 308 otherwise so that the
 * method and body are kept), except the http-01 path, which must stay reachable over HTTP, and
 * its HTTPS answers carry AutoTLSHSTS's Strict-Transport-Security header, never the 503 (a
 * browser that pinned HTTPS on a placeholder would lock the visitor out).
 * The per-request cost is one seqlocked read of the site's slot.
 */
#include <string.h>

#include <apr_strings.h>

#include <httpd.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>

#include "autotls.h"
#include "challenge.h"
#include "config.h"
#include "gate.h"
#include "log_glue.h"
#include "slots.h"

APLOG_USE_MODULE(autotls);

#define GATE_HSTS_HEADER "Strict-Transport-Security"

static const char *const gate_pending_page =
    "<!DOCTYPE html>\n<html><head><title>Certificate pending</title></head>\n<body>"
    "<h1>HTTPS is on its way</h1>\n<p>A certificate for this site is being obtained. "
    "Please try again in a minute.</p>\n</body></html>\n";

static int gate_site_live(const autotls_ctx_t *ctx, const autotls_site_t *site)
{
    autotls_slot_info_t info;

    return ctx->slots != NULL && autotls_slots_info(ctx->slots, site->slot, &info) == APR_SUCCESS &&
           info.ca_issued;
}

static int gate_pending(request_rec *r)
{
    apr_size_t len = strlen(gate_pending_page);

    r->status = HTTP_SERVICE_UNAVAILABLE;
    apr_table_setn(r->headers_out, "Retry-After", apr_itoa(r->pool, AUTOTLS_GATE_RETRY_AFTER_SEC));
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_set_content_length(r, len);
    if (!r->header_only) {
        ap_rwrite(gate_pending_page, (int)len, r);
    }
    ap_finalize_request_protocol(r);
    return DONE;
}

static int gate_redirect(request_rec *r, const autotls_ctx_t *ctx)
{
    /* https's own port (AutoTLSHTTPSPort's default) goes without saying in a URL */
    const char *port = ctx->https_port == AUTOTLS_HTTPS_PORT_DEFAULT
                           ? ""
                           : apr_psprintf(r->pool, ":%d", ctx->https_port);
    /* httpd took an IPv6 Host's brackets off (RFC 8738 sites); a URL needs them back */
    int v6 = strchr(r->hostname, ':') != NULL;

    apr_table_setn(r->headers_out, "Location",
                   apr_pstrcat(r->pool, "https://", v6 ? "[" : "", r->hostname, v6 ? "]" : "", port,
                               r->unparsed_uri, NULL));
    return r->method_number == M_GET ? HTTP_MOVED_PERMANENTLY : HTTP_PERMANENT_REDIRECT;
}

/* AutoTLSHSTS on a live site's HTTPS answer: in err_headers_out, so that its error pages (and
 * their internal redirects to an ErrorDocument) carry it as well. */
static void gate_hsts(request_rec *r, const autotls_site_t *site)
{
    const char *hsts = autotls_config_hsts(site->twin);

    if (hsts != NULL) {
        apr_table_setn(r->err_headers_out, GATE_HSTS_HEADER, hsts);
    }
}

static int gate_check(request_rec *r)
{
    autotls_ctx_t *ctx = autotls_ctx_get();
    autotls_site_t *site;
    int wildcard;

    if (ctx == NULL || r->hostname == NULL || autotls_challenge_path(r->parsed_uri.path)) {
        return DECLINED;
    }
    site = autotls_site_for_host_ex(ctx, r->hostname, &wildcard);
    if (site == NULL) {
        return DECLINED;
    }
    /* A name under a wildcard alias is neither redirected nor pinned with HSTS: the live
     * certificate may have been issued without the wildcard (a failed DNS command leaves it
     * out), and a cached 301 to a certificate error would outlast the fix. */
    if (r->server == site->twin) {
        if (!gate_site_live(ctx, site)) {
            return gate_pending(r);
        }
        if (!wildcard && ap_ssl_conn_is_ssl(r->connection)) {
            gate_hsts(r, site);
        }
        return DECLINED;
    }
    if (r->server == site->plain && site->redirect && !wildcard && gate_site_live(ctx, site)) {
        return gate_redirect(r, ctx);
    }
    return DECLINED;
}

void autotls_gate_register_hooks(apr_pool_t *p)
{
    /* After challenge.c's APR_HOOK_FIRST: an http-01 request never reaches the gate. */
    ap_hook_post_read_request(gate_check, NULL, NULL, APR_HOOK_MIDDLE);
}
