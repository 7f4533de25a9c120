/* SPDX-License-Identifier: Apache-2.0 */
/*
 * alpn.c: the tls-alpn-01 responder (RFC 8737) in the children, on httpd's core hooks.
 *
 * mod_ssl's ALPN callback asks ap_select_protocol during the handshake. We propose acme-tls/1
 * only on the twin of a site that lists tls-alpn-01, and only when the client offers acme-tls/1
 * and nothing else: a CA validating does exactly that (RFC 8737 §3), a browser never does, so a
 * client that offers h2 or http/1.1 can never be given the validation certificate. mod_ssl then
 * switches protocol (our protocol_switch) and asks ssl_answer_challenge for a certificate. The
 * switch is where we decide: the SNI name must belong to that site and have an answer in
 * challenges/ made for that very name (at_challenge.h); otherwise we decline, mod_ssl ends the
 * handshake with a fatal alert, and a probe gets no certificate at all. An IP address has no SNI
 * of its own: the CA sends its reverse-DNS name (RFC 8738 §6), which selects no vhost, so the
 * handshake stays on the first vhost of the address; the name is mapped back to the address
 * (at_name_reverse_ip) and the IP site answers from any managed twin there.
 *
 * The one idea: the stored answer holds only the name and the digest of the key authorization.
 * Each child mints the validation certificate itself with a P-256 key made once per process and
 * never written anywhere, so challenges/ holds nothing a tenant could serve as a key, and an
 * answer can only ever validate the name it names. Minted certificates are kept per name and
 * digest in a small per-child cache (a CA looks from several places, each a handshake). After
 * the handshake the connection carries no HTTP: it is closed.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include <httpd.h>
#include <http_config.h>
#include <http_connection.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>

#include "alpn.h"
#include "at_challenge.h"
#include "at_core.h"
#include "at_crypto.h"
#include "at_issue.h"
#include "at_name.h"
#include "autotls.h"
#include "certs.h"
#include "log_glue.h"
#include "twin.h"

APLOG_USE_MODULE(autotls);

/* How long a minted validation certificate is valid; a cached one is made again after
 * ALPN_CACHE_TTL, long before that. */
#define ALPN_CERT_VALID apr_time_from_sec(7 * 24 * 3600)
#define ALPN_CACHE_TTL apr_time_from_sec(3600)
/* Minted certificates a child keeps: a few names are validated at once, rarely more. */
#define ALPN_CACHE_SLOTS 16
#define ALPN_SNI_VAR "SSL_TLS_SNI"

typedef struct {
    char *name; /* malloc'd; NULL: a free slot */
    unsigned char digest[AT_ACME_KEYAUTH_DIGEST_LEN];
    char *cert_pem; /* malloc'd */
    apr_time_t made;
} alpn_cached_t;

/* This child's key and cache, made in child_init. */
typedef struct {
    EVP_PKEY *key;
    const char *key_pem;
    apr_thread_mutex_t *mutex; /* guards cache and next */
    alpn_cached_t cache[ALPN_CACHE_SLOTS];
    int next; /* the slot the next new entry takes (oldest first) */
} alpn_child_t;

/* A connection switched to acme-tls/1: its SNI, the identifier validated and the certificate. */
typedef struct {
    const char *sni;
    const char *identifier; /* the SNI, or the IP address its reverse-DNS name stands for */
    const char *cert_pem;
} alpn_conn_t;

static alpn_child_t *alpn_child;

/* Whether site lists tls-alpn-01 in AutoTLSChallenge. */
static int alpn_site_listed(const autotls_site_t *site)
{
    int i;

    for (i = 0; site != NULL && site->challenges != NULL && i < site->challenges->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(site->challenges, i, const char *), AT_CHALLENGE_TLSALPN01) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The site whose twin s is, when it answers tls-alpn-01; NULL otherwise. */
static const autotls_site_t *alpn_site(const server_rec *s)
{
    const autotls_site_t *site = autotls_certs_site_of_twin(s);

    return alpn_site_listed(site) ? site : NULL;
}

int autotls_alpn_offers_only_acme(const apr_array_header_t *offers)
{
    return offers != NULL && offers->nelts == 1 &&
           strcmp(APR_ARRAY_IDX(offers, 0, const char *), AUTOTLS_ALPN_PROTOCOL) == 0;
}

/* The SNI name of c's handshake, lower case, or NULL. */
static const char *alpn_sni(conn_rec *c, server_rec *s)
{
    const char *sni = ap_ssl_var_lookup(c->pool, s, c, NULL, ALPN_SNI_VAR);
    char *lower;

    if (sni == NULL || *sni == '\0') {
        return NULL;
    }
    lower = apr_pstrdup(c->pool, sni);
    ap_str_tolower(lower);
    return lower;
}

/* The site an acme-tls/1 handshake with SNI sni on vhost s would validate, and in *identifier
 * what for: the SNI name itself, which must belong to s's site (mod_ssl chose s by it); or the
 * IP address a reverse-DNS SNI stands for (RFC 8738 §6), whose site answers from any managed twin
 * (mod_ssl left the handshake on the address's first vhost, which no SNI of an address can
 * select; a twin has acme-tls/1 in its Protocols and our certificate callback). NULL when the
 * site does not list tls-alpn-01, or without SNI. */
static const autotls_site_t *alpn_target(conn_rec *c, const autotls_ctx_t *ctx, server_rec *s,
                                         const char *sni, const char **identifier)
{
    char ip[AT_NAME_IP_TEXT_MAX];
    const autotls_site_t *site;

    *identifier = NULL;
    if (sni == NULL) {
        return NULL;
    }
    if (at_name_reverse_ip(sni, ip)) {
        site = autotls_site_for_host(ctx, ip);
        if (autotls_certs_site_of_twin(s) == NULL || !alpn_site_listed(site)) {
            return NULL;
        }
        *identifier = apr_pstrdup(c->pool, ip);
        return site;
    }
    site = alpn_site(s);
    if (site == NULL || autotls_site_for_host(ctx, sni) != site) {
        return NULL;
    }
    *identifier = sni;
    return site;
}

static int alpn_protocol_propose(conn_rec *c, request_rec *r, server_rec *s,
                                 const apr_array_header_t *offers, apr_array_header_t *proposals)
{
    autotls_ctx_t *ctx = autotls_ctx_get();
    const char *identifier;

    if (r != NULL || ctx == NULL || alpn_child == NULL || !autotls_alpn_offers_only_acme(offers)) {
        return DECLINED;
    }
    /* a twin of a tls-alpn-01 site, or any twin for an IP site's reverse-DNS SNI: what the
     * switch then refuses (no answer, another site's name) ends the handshake there */
    if (alpn_site(s) == NULL && alpn_target(c, ctx, s, alpn_sni(c, s), &identifier) == NULL) {
        return DECLINED;
    }
    APR_ARRAY_PUSH(proposals, const char *) = AUTOTLS_ALPN_PROTOCOL;
    return OK;
}

/* The stored answer for name (lower case), or NULL (logged when the store holds something
 * unusable). */
static const at_challenge_tlsalpn_t *alpn_answer_load(conn_rec *c, autotls_ctx_t *ctx,
                                                      const char *name)
{
    at_challenge_tlsalpn_t *answer = apr_pcalloc(c->pool, sizeof(*answer));
    const char *item = at_challenge_tlsalpn_item(c->pool, name);
    const char *why;
    char *data;
    apr_size_t len;
    apr_status_t rv;

    if (item == NULL) {
        return NULL;
    }
    rv = at_store_load(ctx->store, AT_STORE_CHALLENGES, NULL, item, &data, &len, AT_STORE_PUBLIC,
                       c->pool);
    if (rv != APR_SUCCESS) {
        if (rv != APR_ENOENT) {
            ap_log_cerror(APLOG_MARK, APLOG_WARNING, 0, c,
                          AUTOTLS_LOGNO(0141) "%s: cannot read the tls-alpn-01 response: %s", name,
                          at_strerror(c->pool, rv));
        }
        return NULL;
    }
    if (at_challenge_tlsalpn_decode(answer, &why, c->pool, name, data, len) != APR_SUCCESS) {
        ap_log_cerror(APLOG_MARK, APLOG_WARNING, 0, c,
                      AUTOTLS_LOGNO(0142) "%s: the stored tls-alpn-01 response is not served: %s",
                      name, why);
        return NULL;
    }
    return answer;
}

/* A cached certificate for answer, copied into p, or NULL. Caller holds the mutex. */
static const char *alpn_cache_find(alpn_child_t *child, const at_challenge_tlsalpn_t *answer,
                                   apr_time_t now, apr_pool_t *p)
{
    int i;

    for (i = 0; i < ALPN_CACHE_SLOTS; i++) {
        const alpn_cached_t *e = &child->cache[i];

        if (e->name != NULL && now - e->made < ALPN_CACHE_TTL &&
            strcmp(e->name, answer->identifier) == 0 &&
            memcmp(e->digest, answer->digest, sizeof(e->digest)) == 0) {
            return apr_pstrdup(p, e->cert_pem);
        }
    }
    return NULL;
}

/* Keeps pem for answer in the oldest slot. Caller holds the mutex. */
static void alpn_cache_put(alpn_child_t *child, const at_challenge_tlsalpn_t *answer,
                           const char *pem, apr_time_t now)
{
    alpn_cached_t *e = &child->cache[child->next];
    char *name = strdup(answer->identifier), *copy = strdup(pem);

    if (name == NULL || copy == NULL) {
        free(name);
        free(copy);
        return; /* not cached: minted again next time */
    }
    free(e->name);
    free(e->cert_pem);
    e->name = name;
    e->cert_pem = copy;
    memcpy(e->digest, answer->digest, sizeof(e->digest));
    e->made = now;
    child->next = (child->next + 1) % ALPN_CACHE_SLOTS;
}

/* The validation certificate (PEM, in c->pool) for answer: cached, or minted now. */
static const char *alpn_cert_for(conn_rec *c, alpn_child_t *child,
                                 const at_challenge_tlsalpn_t *answer)
{
    apr_time_t now = apr_time_now();
    const char *pem = NULL;
    apr_array_header_t *chain;
    apr_size_t len;
    apr_pool_t *scratch;
    X509 *cert;
    apr_status_t rv;

    if (apr_thread_mutex_lock(child->mutex) != APR_SUCCESS) {
        return NULL;
    }
    pem = alpn_cache_find(child, answer, now, c->pool);
    if (pem == NULL && (rv = apr_pool_create(&scratch, c->pool)) == APR_SUCCESS) {
        chain = apr_array_make(scratch, 1, sizeof(X509 *));
        rv = at_cert_tlsalpn(&cert, scratch, child->key, answer->identifier, answer->digest,
                             ALPN_CERT_VALID);
        if (rv == APR_SUCCESS) {
            APR_ARRAY_PUSH(chain, X509 *) = cert;
            rv = at_chain_to_pem(&pem, &len, c->pool, chain);
        }
        if (rv == APR_SUCCESS) {
            alpn_cache_put(child, answer, pem, now);
        } else {
            pem = NULL;
            ap_log_cerror(APLOG_MARK, APLOG_ERR, 0, c,
                          AUTOTLS_LOGNO(0143) "%s: cannot make the tls-alpn-01 validation "
                                              "certificate: %s",
                          answer->identifier, at_strerror(c->pool, rv));
        }
        apr_pool_destroy(scratch);
    }
    apr_thread_mutex_unlock(child->mutex);
    return pem;
}

/* Declining makes mod_ssl end the handshake with a fatal alert: no certificate is sent. */
static int alpn_protocol_switch(conn_rec *c, request_rec *r, server_rec *s, const char *protocol)
{
    autotls_ctx_t *ctx = autotls_ctx_get();
    const at_challenge_tlsalpn_t *answer = NULL;
    const char *sni, *identifier = NULL, *pem = NULL;
    alpn_conn_t *state;

    if (r != NULL || protocol == NULL || strcmp(protocol, AUTOTLS_ALPN_PROTOCOL) != 0 ||
        ctx == NULL || alpn_child == NULL) {
        return DECLINED;
    }
    sni = alpn_sni(c, s);
    if (alpn_site(s) == NULL &&
        (autotls_certs_site_of_twin(s) == NULL || !at_name_reverse_ip(sni, NULL))) {
        return DECLINED; /* not ours to answer: another module's acme-tls/1, or no site's */
    }
    if (alpn_target(c, ctx, s, sni, &identifier) != NULL) {
        answer = alpn_answer_load(c, ctx, identifier);
    }
    if (answer != NULL) {
        pem = alpn_cert_for(c, alpn_child, answer);
    }
    if (pem == NULL) {
        ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, c,
                      AUTOTLS_LOGNO(0144) "%s: an %s handshake for a name without a tls-alpn-01 "
                                          "response is refused",
                      sni != NULL ? sni : "(no SNI)", AUTOTLS_ALPN_PROTOCOL);
        return DECLINED;
    }
    state = apr_pcalloc(c->pool, sizeof(*state));
    state->sni = sni;
    state->identifier = identifier;
    state->cert_pem = pem;
    ap_set_module_config(c->conn_config, &autotls_module, state);
    c->keepalive = AP_CONN_CLOSE;
    return OK;
}

static const char *alpn_protocol_get(const conn_rec *c)
{
    const alpn_conn_t *state = ap_get_module_config(c->conn_config, &autotls_module);

    return state != NULL ? AUTOTLS_ALPN_PROTOCOL : NULL;
}

static int alpn_answer_challenge(conn_rec *c, const char *server_name, const char **pcert_pem,
                                 const char **pkey_pem)
{
    const alpn_conn_t *state = ap_get_module_config(c->conn_config, &autotls_module);

    /* state->sni is the handshake's SNI already; mod_ssl's view of it must not differ */
    if (state == NULL || alpn_child == NULL ||
        (server_name != NULL && strcasecmp(server_name, state->sni) != 0)) {
        return DECLINED;
    }
    *pcert_pem = state->cert_pem;
    *pkey_pem = alpn_child->key_pem;
    ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, c,
                  AUTOTLS_LOGNO(0145) "%s: answering tls-alpn-01 with a validation certificate",
                  state->identifier);
    return OK;
}

/* Nothing but the handshake happens on acme-tls/1 (RFC 8737 §3): a request read after it is
 * dropped unanswered, before any other module sees it. */
static int alpn_no_http(request_rec *r)
{
    if (ap_get_module_config(r->connection->conn_config, &autotls_module) == NULL) {
        return DECLINED;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  AUTOTLS_LOGNO(0146) "%s: an HTTP request on an %s connection is dropped",
                  r->hostname != NULL ? r->hostname : "(no Host)", AUTOTLS_ALPN_PROTOCOL);
    r->connection->keepalive = AP_CONN_CLOSE;
    r->connection->aborted = 1;
    return DONE;
}

static apr_status_t alpn_child_forget(void *data)
{
    alpn_child_t *child = data;
    int i;

    alpn_child = NULL;
    for (i = 0; i < ALPN_CACHE_SLOTS; i++) {
        free(child->cache[i].name);
        free(child->cache[i].cert_pem);
    }
    return APR_SUCCESS;
}

/* Each child: its own key, made here once, kept in memory only. */
static void alpn_child_init(apr_pool_t *pchild, server_rec *s)
{
    autotls_ctx_t *ctx = autotls_ctx_get();
    alpn_child_t *child;
    apr_size_t len;
    apr_status_t rv;
    int i, any = 0;

    for (i = 0; ctx != NULL && ctx->sites != NULL && i < ctx->sites->nelts; i++) {
        any = any || alpn_site_listed(APR_ARRAY_IDX(ctx->sites, i, autotls_site_t *));
    }
    if (!any) {
        return;
    }
    child = apr_pcalloc(pchild, sizeof(*child));
    rv = apr_thread_mutex_create(&child->mutex, APR_THREAD_MUTEX_DEFAULT, pchild);
    if (rv == APR_SUCCESS) {
        rv = at_key_generate(&child->key, pchild, AT_KEY_EC256);
    }
    if (rv == APR_SUCCESS) {
        rv = at_key_to_pem(&child->key_pem, &len, pchild, child->key);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     AUTOTLS_LOGNO(0147) "cannot make this child's tls-alpn-01 key (%s): it "
                                         "refuses every acme-tls/1 handshake",
                     at_strerror(pchild, rv));
        return;
    }
    apr_pool_cleanup_register(pchild, child, alpn_child_forget, apr_pool_cleanup_null);
    alpn_child = child;
}

/* apachectl -t / -S: the challenge types of each HTTPS twin, in the order they are tried. */
static int alpn_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    server_rec *v;

    if (ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_NORMAL) {
        return OK;
    }
    for (v = s->next; v != NULL; v = v->next) {
        const apr_array_header_t *types;

        if (!autotls_twin_is(v)) {
            continue;
        }
        types = autotls_config_challenges(ptemp, v);
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, v,
                     AUTOTLS_LOGNO(0148) "%s: validated by %s (AutoTLSChallenge; wildcards by "
                                         "dns-01)",
                     v->server_hostname, at_name_list_text(ptemp, types, ", then "));
    }
    return OK;
}

void autotls_alpn_register_hooks(apr_pool_t *p)
{
    ap_hook_check_config(alpn_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_protocol_propose(alpn_protocol_propose, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_protocol_switch(alpn_protocol_switch, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_protocol_get(alpn_protocol_get, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_ssl_answer_challenge(alpn_answer_challenge, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(alpn_no_http, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_child_init(alpn_child_init, NULL, NULL, APR_HOOK_MIDDLE);
}
