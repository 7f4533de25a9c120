/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sslhook.c: the certificate callback on every managed twin's SSL_CTX, and its per-child cache.
 *
 * The one idea: the handshake path is lock-free. A handshake compares the slot's generation
 * (one atomic load) with the cached entry's, and when they agree hands the cached, already
 * parsed key and chain to OpenSSL, which takes its own references. A new generation is parsed
 * once per child under a mutex and swapped in atomically; the entry it replaces is freed only
 * when no handshake is between loading it and handing it over (a per-slot in-flight count read
 * after the swap). Nothing here fails a handshake: on any trouble the certificate mod_ssl
 * loaded (or the previous one) stays, with one log line per generation.
 *
 * Memory at thousands of sites: a child parses a site's set lazily, at the first handshake for
 * it after a change (a new child at its first handshake for the site), never at child_init; and
 * a set no handshake has used for SSLHOOK_IDLE_EVICT is dropped by a sweep that some handshake
 * runs at most once per SSLHOOK_SWEEP_EVERY (it takes the mutex only with trylock). A dropped
 * set is parsed again at its next handshake, so a child holds only its working set.
 *
 * Limit: OpenSSL 3.0 has no getter for an SSL_CTX's cert_cb, so a callback another module set
 * cannot be detected. We register first among init_server hooks: a module that sets its own
 * cert_cb later replaces ours on that vhost (its certificate wins, ours is never served there).
 */
#include <stdlib.h>
#include <string.h>

#include <apr_hooks.h>
#include <apr_optional_hooks.h>
#include <apr_thread_mutex.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <mod_ssl.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "alpn.h"
#include "at_core.h"
#include "at_crypto.h"
#include "autotls.h"
#include "certs.h"
#include "log_glue.h"
#include "slots.h"
#include "helper_proc.h"
#include "sslhook.h"

APLOG_USE_MODULE(autotls);

/* A parsed set no handshake used for this long is dropped (parsed again when next needed). */
#define SSLHOOK_IDLE_EVICT_SEC (15 * 60)
/* How often at most a handshake looks for idle sets (a walk over every slot of the child). */
#define SSLHOOK_SWEEP_EVERY_SEC 60

/* mod_ssl_openssl.h is missing from Debian's apache2-dev; the hook binds by name at run time. */
APR_DECLARE_EXTERNAL_HOOK(ssl, SSL, int, init_server,
                          (server_rec * s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx))

/* One parsed generation of a slot; OpenSSL objects owned by the entry. */
typedef struct sslhook_entry_t {
    apr_uint32_t generation;
    EVP_PKEY *key;
    X509 *leaf;
    STACK_OF(X509) * chain; /* the certificates after the leaf */
    struct sslhook_entry_t *next_retired;
} sslhook_entry_t;

typedef struct {
    sslhook_entry_t *current;    /* atomic */
    apr_uint32_t in_flight;      /* atomic: handshakes holding an entry loaded from current */
    apr_uint32_t failed_gen;     /* atomic: a generation that does not load (logged once) */
    apr_uint32_t install_failed; /* atomic: generation whose install failed (logged once) */
    apr_uint32_t last_used;      /* atomic: sslhook_now() of the last handshake served */
    sslhook_entry_t *retired;    /* under the mutex: swapped out, waiting for in_flight == 0 */
} sslhook_slot_t;

/* This child's cache: made in child_init, for the generation the child was forked in. */
typedef struct {
    autotls_ctx_t *ctx;
    autotls_slots_t *slots;
    sslhook_slot_t *slot;
    int count;
    apr_thread_mutex_t *mutex; /* serializes loading generations and freeing retired entries */
    apr_pool_t *pool;          /* own allocator: scratch pools are made only under the mutex */
    apr_uint32_t cached;       /* atomic: slots with a parsed entry in current */
    apr_uint32_t next_sweep;   /* atomic: sslhook_now() from which the next idle sweep may run */
} sslhook_cache_t;

static sslhook_cache_t *sslhook_cache;

/* Coarse seconds for idle bookkeeping; only differences are used. */
static apr_uint32_t sslhook_now(void)
{
    return (apr_uint32_t)apr_time_sec(apr_time_now());
}

/* --- entries ------------------------------------------------------------------------------- */

static void sslhook_entry_free(sslhook_entry_t *entry)
{
    EVP_PKEY_free(entry->key);
    X509_free(entry->leaf);
    sk_X509_pop_free(entry->chain, X509_free);
    free(entry);
}

/* Caller holds the mutex; handshakes only peek at retired (atomically) to know it is set. */
static void sslhook_free_retired(sslhook_slot_t *slot)
{
    sslhook_entry_t *entry = __atomic_exchange_n(&slot->retired, NULL, __ATOMIC_RELAXED);

    while (entry != NULL) {
        sslhook_entry_t *next = entry->next_retired;

        sslhook_entry_free(entry);
        entry = next;
    }
}

/* Holds references of its own to what autotls_slots_read parsed into the scratch pool. */
static sslhook_entry_t *sslhook_entry_make(EVP_PKEY *key, apr_array_header_t *chain,
                                           apr_uint32_t generation)
{
    sslhook_entry_t *entry = calloc(1, sizeof(*entry));
    int i;

    if (entry == NULL) {
        return NULL;
    }
    entry->generation = generation;
    entry->chain = sk_X509_new_null();
    if (entry->chain == NULL || !EVP_PKEY_up_ref(key)) {
        sslhook_entry_free(entry);
        return NULL;
    }
    entry->key = key;
    entry->leaf = APR_ARRAY_IDX(chain, 0, X509 *);
    X509_up_ref(entry->leaf);
    for (i = 1; i < chain->nelts; i++) {
        X509 *cert = APR_ARRAY_IDX(chain, i, X509 *);

        if (!X509_up_ref(cert)) {
            sslhook_entry_free(entry);
            return NULL;
        }
        if (!sk_X509_push(entry->chain, cert)) {
            X509_free(cert);
            sslhook_entry_free(entry);
            return NULL;
        }
    }
    return entry;
}

/* Reads the slot's current generation into a fresh entry; logs once per failed generation. */
static sslhook_entry_t *sslhook_entry_load(sslhook_cache_t *cache, const autotls_site_t *site,
                                           apr_uint32_t seen)
{
    sslhook_slot_t *slot = &cache->slot[site->slot];
    sslhook_entry_t *entry = NULL;
    apr_pool_t *scratch = NULL;
    EVP_PKEY *key;
    apr_array_header_t *chain;
    apr_uint32_t gen = 0;
    apr_status_t rv;

    rv = apr_pool_create(&scratch, cache->pool);
    if (rv == APR_SUCCESS) {
        rv = autotls_slots_read(cache->slots, site->slot, scratch, &key, &chain, &gen);
    }
    if (rv == APR_SUCCESS && !X509_check_private_key(APR_ARRAY_IDX(chain, 0, X509 *), key)) {
        ERR_clear_error();
        rv = AT_EINVALID;
    }
    if (rv == APR_SUCCESS) {
        entry = sslhook_entry_make(key, chain, gen);
        rv = entry == NULL ? APR_ENOMEM : APR_SUCCESS;
    }
    if (scratch != NULL) {
        apr_pool_destroy(scratch);
    }
    /* A writer busy for all our retries is transient: the next handshake tries again. */
    if (rv != APR_SUCCESS && rv != APR_EAGAIN &&
        __atomic_exchange_n(&slot->failed_gen, seen, __ATOMIC_RELAXED) != seen) {
        ap_log_error(
            APLOG_MARK, APLOG_ERR, rv, site->twin,
            AUTOTLS_LOGNO(0250) "%s: cannot load certificate generation %u from the "
                                "shared slot; this child keeps serving the previous certificate",
            site->name, (unsigned)seen);
    }
    return entry;
}

/* Queues an entry that was swapped out of current for freeing. Caller holds the mutex. */
static void sslhook_retire(sslhook_slot_t *slot, sslhook_entry_t *entry)
{
    if (entry != NULL) {
        entry->next_retired = __atomic_load_n(&slot->retired, __ATOMIC_RELAXED);
        __atomic_store_n(&slot->retired, entry, __ATOMIC_RELAXED);
    }
}

/* Frees retired entries when no handshake can still hold one. Caller holds the mutex. */
static void sslhook_reclaim(sslhook_slot_t *slot)
{
    if (__atomic_load_n(&slot->retired, __ATOMIC_RELAXED) != NULL &&
        __atomic_load_n(&slot->in_flight, __ATOMIC_SEQ_CST) == 0) {
        sslhook_free_retired(slot);
    }
}

/* Brings the cached entry of site's slot up to generation seen (or newer). */
static void sslhook_refresh(sslhook_cache_t *cache, const autotls_site_t *site, apr_uint32_t seen)
{
    sslhook_slot_t *slot = &cache->slot[site->slot];
    sslhook_entry_t *current, *fresh;

    if (apr_thread_mutex_lock(cache->mutex) != APR_SUCCESS) {
        return;
    }
    current = __atomic_load_n(&slot->current, __ATOMIC_SEQ_CST);
    if ((current == NULL || current->generation != seen) &&
        __atomic_load_n(&slot->failed_gen, __ATOMIC_RELAXED) != seen) {
        fresh = sslhook_entry_load(cache, site, seen);
        if (fresh != NULL) {
            current = __atomic_exchange_n(&slot->current, fresh, __ATOMIC_SEQ_CST);
            __atomic_store_n(&slot->last_used, sslhook_now(), __ATOMIC_RELAXED);
            if (current == NULL) {
                __atomic_add_fetch(&cache->cached, 1, __ATOMIC_RELAXED);
            }
            sslhook_retire(slot, current);
        }
    }
    sslhook_reclaim(slot);
    apr_thread_mutex_unlock(cache->mutex);
}

/* --- the handshake path -------------------------------------------------------------------- */

static void sslhook_install(SSL *ssl, const autotls_site_t *site, sslhook_slot_t *slot,
                            sslhook_entry_t *entry, int clear)
{
    /* Clear first: a placeholder of another key type left beside ours could still be chosen.
     * Not for a site's second key type: it goes beside the first type's set, in OpenSSL's slot
     * for its algorithm, and OpenSSL picks by the client's signature algorithms. The entry's
     * key was checked against its leaf, so the install fails only without memory. */
    if (clear) {
        SSL_certs_clear(ssl);
    }
    if (SSL_use_cert_and_key(ssl, entry->leaf, entry->key, entry->chain, 1) == 1) {
        return;
    }
    ERR_clear_error();
    if (__atomic_exchange_n(&slot->install_failed, entry->generation, __ATOMIC_RELAXED) !=
        entry->generation) {
        autotls_log_error(APLOG_MARK, APLOG_ERR, AT_ECRYPTO, site->twin,
                          AUTOTLS_LOGNO(0251) "%s: OpenSSL refused certificate generation %u for a "
                                              "handshake",
                          site->name, (unsigned)entry->generation);
    }
}

/* Hands the cached entry to ssl; returns 0 when there is none for generation seen. */
static int sslhook_serve(sslhook_cache_t *cache, SSL *ssl, const autotls_site_t *site,
                         apr_uint32_t seen, int any_generation, int clear)
{
    sslhook_slot_t *slot = &cache->slot[site->slot];
    sslhook_entry_t *entry;
    int served = 0;

    __atomic_add_fetch(&slot->in_flight, 1, __ATOMIC_SEQ_CST);
    entry = __atomic_load_n(&slot->current, __ATOMIC_SEQ_CST);
    if (entry != NULL && (any_generation || entry->generation == seen)) {
        apr_uint32_t now = sslhook_now();

        sslhook_install(ssl, site, slot, entry, clear);
        served = 1;
        /* Written only when the second changed: busy sites do not bounce the cache line. */
        if (__atomic_load_n(&slot->last_used, __ATOMIC_RELAXED) != now) {
            __atomic_store_n(&slot->last_used, now, __ATOMIC_RELAXED);
        }
    }
    if (__atomic_sub_fetch(&slot->in_flight, 1, __ATOMIC_SEQ_CST) == 0 &&
        __atomic_load_n(&slot->retired, __ATOMIC_RELAXED) != NULL &&
        apr_thread_mutex_trylock(cache->mutex) == APR_SUCCESS) {
        sslhook_reclaim(slot);
        apr_thread_mutex_unlock(cache->mutex);
    }
    return served;
}

/* Drops every entry no handshake used for SSLHOOK_IDLE_EVICT_SEC, the way a swap retires one.
 * An entry older than its slot's generation stays: it is the last good set when the newer one
 * does not load, and a handshake replaces it anyway. Caller holds the mutex. */
static void sslhook_evict_idle(sslhook_cache_t *cache, apr_uint32_t now)
{
    int i;

    for (i = 0; i < cache->count; i++) {
        sslhook_slot_t *slot = &cache->slot[i];
        sslhook_entry_t *entry;

        entry = __atomic_load_n(&slot->current, __ATOMIC_RELAXED);
        if (entry == NULL ||
            now - __atomic_load_n(&slot->last_used, __ATOMIC_RELAXED) < SSLHOOK_IDLE_EVICT_SEC ||
            entry->generation != autotls_slots_generation(cache->slots, i)) {
            continue;
        }
        entry = __atomic_exchange_n(&slot->current, NULL, __ATOMIC_SEQ_CST);
        if (entry != NULL) {
            __atomic_sub_fetch(&cache->cached, 1, __ATOMIC_RELAXED);
        }
        sslhook_retire(slot, entry);
        sslhook_reclaim(slot);
    }
}

/* At most once per SSLHOOK_SWEEP_EVERY_SEC, by whichever handshake comes first; a handshake
 * never waits for it (trylock). */
static void sslhook_maybe_sweep(sslhook_cache_t *cache)
{
    apr_uint32_t now = sslhook_now();
    apr_uint32_t due = __atomic_load_n(&cache->next_sweep, __ATOMIC_RELAXED);

    if ((apr_int32_t)(now - due) < 0 || __atomic_load_n(&cache->cached, __ATOMIC_RELAXED) == 0 ||
        !__atomic_compare_exchange_n(&cache->next_sweep, &due, now + SSLHOOK_SWEEP_EVERY_SEC, 0,
                                     __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
        return;
    }
    if (apr_thread_mutex_trylock(cache->mutex) == APR_SUCCESS) {
        sslhook_evict_idle(cache, now);
        apr_thread_mutex_unlock(cache->mutex);
    }
}

/* The site whose set a handshake gets: its vhost's (arg), except without SNI, which carries no
 * IP address (RFC 6066 §3): a client of https://203.0.113.5/ sends none, and mod_ssl leaves it
 * on the first vhost of the address it came in on, whichever site that is. When a managed site
 * has the connection's local address as a name (RFC 8738), that site's set is served. */
static const autotls_site_t *sslhook_site_of(const sslhook_cache_t *cache, SSL *ssl,
                                             const autotls_site_t *site)
{
    const conn_rec *c;
    const autotls_site_t *by_address;

    if (SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) != NULL ||
        (c = SSL_get_app_data(ssl)) == NULL || c->local_ip == NULL) {
        return site; /* mod_ssl makes the connection the SSL's app data */
    }
    by_address = autotls_site_for_host(cache->ctx, c->local_ip);
    return by_address != NULL ? by_address : site;
}

/* Whether the handshake is a tls-alpn-01 validation: OpenSSL chose ALPN (and mod_ssl installed
 * the validation certificate, alpn.c) before this callback runs; replacing it would fail it. */
static int sslhook_alpn_validation(const SSL *ssl)
{
    const unsigned char *selected = NULL;
    unsigned int len = 0;

    SSL_get0_alpn_selected(ssl, &selected, &len);
    return selected != NULL && len == strlen(AUTOTLS_ALPN_PROTOCOL) &&
           memcmp(selected, AUTOTLS_ALPN_PROTOCOL, len) == 0;
}

/* A tls-alpn-01 handshake: mod_ssl set the validation certificate (alpn.c) last, so it is the
 * current one; every other certificate goes, so that a site's RSA certificate loaded beside it
 * can never be chosen instead by the client's signature algorithms. */
static void sslhook_alpn_keep_only_validation(SSL *ssl)
{
    X509 *cert = SSL_get_certificate(ssl);
    EVP_PKEY *key = SSL_get_privatekey(ssl);

    if (cert == NULL || key == NULL || !at_cert_is_tlsalpn(cert) || !X509_up_ref(cert)) {
        return;
    }
    if (!EVP_PKEY_up_ref(key)) {
        X509_free(cert);
        return;
    }
    SSL_certs_clear(ssl);
    if (SSL_use_cert_and_key(ssl, cert, key, NULL, 1) != 1) {
        ERR_clear_error(); /* the validation fails; nothing else was ever to be served here */
    }
    X509_free(cert);
    EVP_PKEY_free(key);
}

/* Installs the site's current set (clear: in place of every certificate the handshake has);
 * returns whether one was installed. */
static int sslhook_serve_site(sslhook_cache_t *cache, SSL *ssl, const autotls_site_t *site,
                              int clear)
{
    apr_uint32_t seen;

    if (site->slot < 0 || site->slot >= cache->count) {
        return 0;
    }
    seen = autotls_slots_generation(cache->slots, site->slot);
    if (seen == 0) {
        return 0; /* nothing published: mod_ssl's placeholder stays */
    }
    if (sslhook_serve(cache, ssl, site, seen, 0, clear)) {
        return 1;
    }
    if (__atomic_load_n(&cache->slot[site->slot].failed_gen, __ATOMIC_RELAXED) != seen) {
        sslhook_refresh(cache, site, seen);
    }
    /* Whatever is cached now: the new generation, a newer one, or the last good one. */
    return sslhook_serve(cache, ssl, site, seen, 1, clear);
}

/* OpenSSL's cert_cb: always 1, so that the module never fails a handshake. It runs before
 * OpenSSL chooses the cipher suite and signature algorithm, so with a site's two key types
 * installed each client gets the certificate its signature algorithms allow. */
static int sslhook_cert_cb(SSL *ssl, void *arg)
{
    const autotls_site_t *site = arg;
    sslhook_cache_t *cache = sslhook_cache;
    int served;

    if (sslhook_alpn_validation(ssl)) {
        sslhook_alpn_keep_only_validation(ssl);
        return 1;
    }
    if (cache != NULL && site != NULL) {
        site = sslhook_site_of(cache, ssl, site);
    }
    if (cache == NULL || site == NULL) {
        return 1;
    }
    sslhook_maybe_sweep(cache);
    served = sslhook_serve_site(cache, ssl, site, 1);
    if (site->second != NULL) {
        /* beside the first type's set; in place of the placeholder only when that is none */
        sslhook_serve_site(cache, ssl, site->second, !served);
    }
    return 1;
}

/* --- hooks --------------------------------------------------------------------------------- */

static int sslhook_init_server(server_rec *s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx)
{
    autotls_site_t *site;

    if (is_proxy || ctx == NULL) {
        return DECLINED;
    }
    site = autotls_certs_site_of_twin(s);
    if (site == NULL) {
        return DECLINED;
    }
    SSL_CTX_set_cert_cb(ctx, sslhook_cert_cb, site);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                 AUTOTLS_LOGNO(0252) "%s: certificates of this HTTPS vhost follow the shared "
                                     "slot %d",
                 site->name, site->slot);
    return OK;
}

/* The child is ending: every entry is retired the way a swap retires one, and freed unless a
 * late handshake still holds it (then the process's exit returns it). */
static apr_status_t sslhook_cache_forget(void *data)
{
    sslhook_cache_t *cache = data;
    int i;

    sslhook_cache = NULL;
    if (apr_thread_mutex_lock(cache->mutex) != APR_SUCCESS) {
        return APR_SUCCESS;
    }
    for (i = 0; i < cache->count; i++) {
        sslhook_slot_t *slot = &cache->slot[i];
        sslhook_entry_t *current = __atomic_exchange_n(&slot->current, NULL, __ATOMIC_SEQ_CST);

        sslhook_retire(slot, current);
        sslhook_reclaim(slot);
    }
    apr_thread_mutex_unlock(cache->mutex);
    return APR_SUCCESS;
}

static apr_status_t sslhook_cache_make(sslhook_cache_t **made, apr_pool_t *pchild,
                                       autotls_ctx_t *ctx)
{
    sslhook_cache_t *cache = apr_pcalloc(pchild, sizeof(*cache));
    apr_allocator_t *allocator = NULL;
    apr_status_t rv;

    cache->ctx = ctx;
    cache->slots = ctx->slots;
    cache->count = autotls_slots_count(ctx->slots);
    cache->slot = apr_pcalloc(pchild, sizeof(*cache->slot) * (apr_size_t)(cache->count + 1));
    rv = apr_thread_mutex_create(&cache->mutex, APR_THREAD_MUTEX_DEFAULT, pchild);
    if (rv == APR_SUCCESS) {
        rv = apr_allocator_create(&allocator);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_pool_create_ex(&cache->pool, pchild, NULL, allocator);
        if (rv != APR_SUCCESS) {
            apr_allocator_destroy(allocator);
        }
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_allocator_owner_set(allocator, cache->pool);
    apr_pool_pre_cleanup_register(pchild, cache, sslhook_cache_forget);
    *made = cache;
    return APR_SUCCESS;
}

/* Each child: nothing writable of the slots stays here, and an empty cache: each site's set is
 * parsed at the first handshake that needs it (sslhook_cert_cb), not here. */
static void sslhook_child_init(apr_pool_t *pchild, server_rec *s)
{
    autotls_ctx_t *ctx = autotls_ctx_get();
    sslhook_cache_t *cache = NULL;
    apr_status_t rv;

    if (ctx == NULL || ctx->slots == NULL || ctx->sites == NULL) {
        return;
    }
    autotls_slots_child_init(ctx->slots); /* logs what it found and removed */
    rv = sslhook_cache_make(&cache, pchild, ctx);
    if (rv != APR_SUCCESS) {
        ap_log_error(
            APLOG_MARK, APLOG_ERR, rv, s,
            AUTOTLS_LOGNO(0253) "cannot make this child's certificate cache; its "
                                "HTTPS vhosts keep the certificates mod_ssl loaded at startup");
        return;
    }
    cache->next_sweep = sslhook_now() + SSLHOOK_SWEEP_EVERY_SEC;
    sslhook_cache = cache;
    autotls_memory_release(); /* the parent's free heap pages: not this child's to count */
}

void autotls_sslhook_register_hooks(apr_pool_t *p)
{
    APR_OPTIONAL_HOOK(ssl, init_server, sslhook_init_server, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_child_init(sslhook_child_init, NULL, NULL, APR_HOOK_MIDDLE);
}
