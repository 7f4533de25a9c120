/* SPDX-License-Identifier: Apache-2.0 */
/*
 * certs.c: the handover to mod_ssl: the files it loads for every twin, and the first publish.
 *
 * The one idea: httpd must start whatever state the store is in. Every twin gets files mod_ssl
 * can load: the live set when it is valid for the site's names now, else a P-256 self-signed
 * placeholder, made once as root and kept until it expires or stops covering the names. Only a
 * live set is published into the shared slots; an empty slot tells the children to leave
 * mod_ssl's placeholder in place and tells the gate to answer 503.
 *
 * Before that: the store is laid out (store_layout.c), and after a crash a promotion interrupted
 * by a kill is finished or undone first (recovery.c), so live/ always holds a matching pair; when
 * live/ holds nothing usable, the newest archived set still valid goes live again, so a valid
 * certificate stored anywhere is never replaced by the placeholder (placeholder.c). A live set
 * covering only part of the names (partial issuance) is served. An expired one is not (clients
 * refuse it as they refuse the placeholder): that is an ERROR line. In the real pass, the
 * leftovers of killed processes are swept (recovery.c).
 */
#include <apr_hash.h>
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_ssl.h>

#include "at_core.h"
#include "at_crypto.h"
#include "at_issue.h"
#include "at_live.h"
#include "at_pem.h"
#include "at_store.h"
#include "at_verdict.h"
#include "autotls.h"
#include "certs.h"
#include "log_glue.h"
#include "placeholder.h"
#include "recovery.h"
#include "slots.h"
#include "store_layout.h"
#include "verdicts.h"

APLOG_USE_MODULE(autotls);

/* The activator may replace a live set while we read it: one more look before giving up. */
#define CERTS_LIVE_ATTEMPTS 2
/* A site's placeholder in the verdict cache: its name and this (no DNS name holds a space). */
#define CERTS_PLACEHOLDER_KEY_SUFFIX " placeholder"

/* What mod_ssl loads for one twin. key and chain are the parsed live set, or der its DER when
 * its verdict was remembered (at_verdict.h); either is valid only until the site is published
 * (it lives in the site's scratch pool, cleared before the next site). */
typedef struct certs_files_t {
    autotls_site_t *site;
    server_rec *twin; /* the hash key points here */
    const char *cert_file;
    const char *key_file;
    int live;
    EVP_PKEY *key;
    apr_array_header_t *chain;
    autotls_slot_der_t *der;
    struct certs_files_t *second; /* the site's set for AutoTLSKeyType's second type, or NULL */
} certs_files_t;

/* One configuration pass: the verdict cache (NULL: none), what it is compared against, whether
 * this pass publishes (and so needs each set's bytes), and the counts autotls-0100 reports. */
typedef struct {
    at_verdict_cache_t *cache;
    at_file_id_t roots; /* the issuer roots file's identity, taken once per pass */
    int publish;
    autotls_verdicts_count_t count;
} certs_pass_t;

static certs_pass_t certs_pass;

/* Placeholders made in this post_config pass: synced once, after the last (parent only). */
static int certs_placeholders_made;

/* The twins of the running configuration generation, reset when its pool is cleared. */
static apr_hash_t *certs_by_twin;

static apr_status_t certs_forget(void *unused)
{
    certs_by_twin = NULL;
    return APR_SUCCESS;
}

static apr_status_t certs_forget_parsed(void *data)
{
    certs_files_t *files = data;

    files->key = NULL;
    files->chain = NULL;
    files->der = NULL;
    return APR_SUCCESS;
}

static certs_files_t *certs_files_of(const server_rec *s)
{
    if (certs_by_twin == NULL || s == NULL) {
        return NULL;
    }
    return apr_hash_get(certs_by_twin, &s, sizeof(s));
}

autotls_site_t *autotls_certs_site_of_twin(const server_rec *s)
{
    certs_files_t *files = certs_files_of(s);

    return files == NULL ? NULL : files->site;
}

/* --- the files of one site ----------------------------------------------------------------- */

static apr_status_t certs_paths(certs_files_t *files, autotls_ctx_t *ctx, const char *key_item,
                                const char *cert_item)
{
    apr_status_t rv;

    rv = at_store_path(ctx->store, AT_STORE_LIVE, files->site->name, key_item, &files->key_file,
                       ctx->pool);
    if (rv == APR_SUCCESS) {
        rv = at_store_path(ctx->store, AT_STORE_LIVE, files->site->name, cert_item,
                           &files->cert_file, ctx->pool);
    }
    if (rv != APR_SUCCESS) {
        autotls_log_error(APLOG_MARK, APLOG_ERR, rv, files->site->twin,
                          AUTOTLS_LOGNO(0267) "%s: the store gives no file paths for mod_ssl",
                          files->site->name);
    }
    return rv;
}

/* What a stored set must satisfy to be served for site now. No issuer roots configured: the
 * chain was verified when the activator promoted it, and live/ is root's; verifying against the
 * whole system store for every site would make a restart of thousands of sites slow. */
static void certs_site_check(at_certset_check_t *check, const autotls_ctx_t *ctx,
                             const autotls_site_t *site)
{
    memset(check, 0, sizeof(*check));
    check->names = site->names;
    check->roots_file = ctx->issuer_roots;
    check->now = apr_time_now();
}

/* The validity the verified path shares (0: no path was verified, no issuer roots). */
typedef struct {
    apr_time_t not_before;
    apr_time_t not_after;
} certs_window_t;

/* Whether the set is valid for the site now: every name covered, or (a partial issuance, then
 * *partial is set) a part of them and nothing but them. *why says what is wrong with the
 * complete check. */
static apr_status_t certs_check_live(const char **why, int *partial, certs_window_t *window,
                                     autotls_ctx_t *ctx, autotls_site_t *site, EVP_PKEY *key,
                                     apr_array_header_t *chain, apr_pool_t *ptemp)
{
    at_certset_check_t check;
    const char *partial_why;
    apr_status_t rv;

    *partial = 0;
    certs_site_check(&check, ctx, site);
    check.path_not_before = &window->not_before;
    check.path_not_after = &window->not_after;
    if ((rv = at_certset_validate(why, ptemp, key, chain, &check)) == APR_SUCCESS) {
        return rv;
    }
    check.allow_partial = 1;
    if (at_certset_validate(&partial_why, ptemp, key, chain, &check) == APR_SUCCESS) {
        *why = NULL;
        *partial = 1;
        return APR_SUCCESS;
    }
    return rv;
}

/* Says loudly why a live set is not served: an expired one is an ERROR (its renewal has failed
 * for its whole renewal window), anything else a WARNING. */
static void certs_log_unused(autotls_site_t *site, apr_status_t rv, const char *why,
                             apr_array_header_t *chain, apr_pool_t *ptemp)
{
    at_cert_info_t *info;

    if (chain != NULL && chain->nelts > 0 &&
        at_cert_info(&info, ptemp, APR_ARRAY_IDX(chain, 0, X509 *)) == APR_SUCCESS &&
        info->not_after < apr_time_now()) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, site->twin,
                     AUTOTLS_LOGNO(0275) "%s: the live certificate %s EXPIRED (%s) and could not "
                                         "be renewed in time; serving a placeholder (clients "
                                         "refuse an expired certificate as well) until the "
                                         "renewal succeeds",
                     site->name, info->serial, why != NULL ? why : "expired");
        return;
    }
    autotls_log_error(APLOG_MARK, APLOG_WARNING, rv, site->twin,
                      AUTOTLS_LOGNO(0268) "%s: the live certificate set is not used: %s",
                      site->name, why != NULL ? why : "it cannot be read (see above)");
}

/* What site's verdict depends on now: its live files as they are, its names, the roots. */
static apr_status_t certs_subject(at_verdict_subject_t *subject, const certs_files_t *files,
                                  autotls_ctx_t *ctx, apr_pool_t *ptemp)
{
    at_certset_check_t check;
    apr_status_t rv;

    certs_site_check(&check, ctx, files->site);
    subject->policy = at_verdict_policy(ptemp, &check);
    subject->roots = certs_pass.roots;
    if ((rv = at_file_id_of(&subject->key, files->key_file)) == APR_SUCCESS) {
        rv = at_file_id_of(&subject->chain, files->cert_file);
    }
    return rv == APR_SUCCESS && subject->key.present && subject->chain.present ? APR_SUCCESS
                                                                               : APR_ENOENT;
}

/* Whether the files at key_path and cert_path are still those subject describes. */
static int certs_files_unchanged(const char *key_path, const char *cert_path,
                                 const at_verdict_subject_t *subject)
{
    at_file_id_t key, cert;

    return at_file_id_of(&key, key_path) == APR_SUCCESS &&
           at_file_id_of(&cert, cert_path) == APR_SUCCESS && at_file_id_same(&key, &subject->key) &&
           at_file_id_same(&cert, &subject->chain);
}

/* The DER of the live set as it is now, when it is still the one subject describes: read, then
 * looked at again, so that bytes of a file replaced meanwhile are never taken for it. */
static apr_status_t certs_read_der(autotls_slot_der_t **der, const certs_files_t *files,
                                   autotls_ctx_t *ctx, const at_verdict_subject_t *subject,
                                   const at_verdict_t *verdict, apr_pool_t *ptemp)
{
    autotls_slot_der_t *set = apr_pcalloc(ptemp, sizeof(*set));
    apr_array_header_t *keys, *certs;
    char *key_pem, *chain_pem;
    apr_size_t key_len, chain_len;
    apr_status_t rv;

    rv = at_store_load(ctx->store, AT_STORE_LIVE, files->site->name, AT_CERTSET_KEY, &key_pem,
                       &key_len, AT_STORE_SECRET, ptemp);
    if (rv == APR_SUCCESS) {
        rv = at_store_load(ctx->store, AT_STORE_LIVE, files->site->name, AT_CERTSET_CHAIN,
                           &chain_pem, &chain_len, AT_STORE_PUBLIC, ptemp);
    }
    if (rv == APR_SUCCESS && !certs_files_unchanged(files->key_file, files->cert_file, subject)) {
        rv = APR_EGENERAL; /* replaced while we read it */
    }
    if (rv == APR_SUCCESS &&
        (rv = at_pem_der_blocks(&keys, ptemp, key_pem, key_len, AT_PEM_LABEL_PKCS8)) ==
            APR_SUCCESS &&
        keys->nelts != 1) {
        rv = AT_EINVALID;
    }
    if (rv == APR_SUCCESS) {
        rv = at_pem_der_blocks(&certs, ptemp, chain_pem, chain_len, AT_PEM_LABEL_CERT);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    set->certs = certs;
    set->key_der = APR_ARRAY_IDX(keys, 0, at_der_t).der;
    set->key_len = APR_ARRAY_IDX(keys, 0, at_der_t).len;
    set->not_before = verdict->not_before;
    set->not_after = verdict->not_after;
    set->serial = apr_pstrdup(ptemp, verdict->serial);
    *der = set;
    return APR_SUCCESS;
}

/* Whether site's live set passed its check before and nothing it depends on changed since; in
 * the publishing pass its DER comes with it. Anything unexpected: 0, and the set is checked in
 * full. */
static int certs_verdict_stands(certs_files_t *files, autotls_ctx_t *ctx,
                                const at_verdict_subject_t *subject, apr_pool_t *ptemp)
{
    const at_verdict_t *verdict;

    if (certs_pass.cache == NULL) {
        return 0;
    }
    verdict = at_verdict_lookup(certs_pass.cache, files->site->name, subject, apr_time_now());
    if (verdict == NULL) {
        return 0;
    }
    if (certs_pass.publish &&
        certs_read_der(&files->der, files, ctx, subject, verdict, ptemp) != APR_SUCCESS) {
        at_verdict_forget(certs_pass.cache, files->site->name);
        files->der = NULL;
        return 0;
    }
    return 1;
}

/* Remembers verdict under name when the files at key_path and cert_path are still those subject
 * describes (a file replaced while it was being checked is checked again next time). */
static void certs_remember(const char *name, const char *key_path, const char *cert_path,
                           const at_verdict_subject_t *subject, const at_verdict_t *verdict)
{
    if (certs_pass.cache != NULL && certs_files_unchanged(key_path, cert_path, subject)) {
        at_verdict_store(certs_pass.cache, name, subject, verdict, apr_time_now());
    }
}

/* Remembers that the live set loaded for subject passed, for as long as every certificate of
 * its chain and of the path verified to the issuer roots is valid. */
static void certs_verdict_keep(const certs_files_t *files, const at_verdict_subject_t *subject,
                               apr_array_header_t *chain, int partial, const certs_window_t *window,
                               apr_pool_t *ptemp)
{
    at_verdict_t verdict;

    if (at_verdict_of_chain(&verdict, ptemp, chain, partial, window->not_before,
                            window->not_after) == APR_SUCCESS) {
        certs_remember(files->site->name, files->key_file, files->cert_file, subject, &verdict);
    }
}

/* Whether the stored placeholder may be served again: remembered as covering the names while
 * its files did not change and it has long enough left, else checked in full (placeholder.c). */
static int certs_placeholder_usable(autotls_site_t *site, autotls_ctx_t *ctx, apr_pool_t *ptemp)
{
    const char *name = apr_pstrcat(ptemp, site->name, CERTS_PLACEHOLDER_KEY_SUFFIX, NULL);
    const char *key_path = NULL, *cert_path = NULL;
    at_verdict_subject_t subject;
    at_certset_check_t check;
    const at_verdict_t *found;
    at_verdict_t verdict;
    apr_time_t now = apr_time_now();
    int subject_ok;

    memset(&subject, 0, sizeof(subject));
    memset(&check, 0, sizeof(check));
    check.names = site->names;
    subject.policy = at_verdict_policy(ptemp, &check);
    subject_ok = certs_pass.cache != NULL &&
                 at_store_path(ctx->store, AT_STORE_LIVE, site->name, AUTOTLS_PLACEHOLDER_KEY,
                               &key_path, ptemp) == APR_SUCCESS &&
                 at_store_path(ctx->store, AT_STORE_LIVE, site->name, AUTOTLS_PLACEHOLDER_CERT,
                               &cert_path, ptemp) == APR_SUCCESS &&
                 at_file_id_of(&subject.key, key_path) == APR_SUCCESS &&
                 at_file_id_of(&subject.chain, cert_path) == APR_SUCCESS && subject.key.present &&
                 subject.chain.present;
    if (subject_ok && (found = at_verdict_lookup(certs_pass.cache, name, &subject, now)) != NULL &&
        autotls_placeholder_lasts(found->not_after, now)) {
        certs_pass.count.placeholders_reused++;
        return 1;
    }
    certs_pass.count.placeholders_checked++;
    if (!autotls_placeholder_usable(site, ctx->store, &verdict, ptemp)) {
        return 0;
    }
    if (subject_ok) {
        certs_remember(name, key_path, cert_path, &subject, &verdict);
    }
    return 1;
}

/* Loads live/<site>/ into files when it is valid for the site now: from the verdict cache when
 * nothing changed since its last check, else parsed and checked in full. */
static apr_status_t certs_load_live(certs_files_t *files, autotls_ctx_t *ctx, apr_pool_t *ptemp)
{
    autotls_site_t *site = files->site;
    at_verdict_subject_t subject;
    const char *why = NULL;
    EVP_PKEY *key = NULL;
    apr_array_header_t *chain = NULL;
    certs_window_t window = {0, 0};
    apr_status_t rv = APR_EGENERAL;
    int attempt, subject_ok, partial = 0, checked = 0;

    /* The paths mod_ssl will load, and whose identity the verdict cache compares. */
    if (certs_paths(files, ctx, AT_CERTSET_KEY, AT_CERTSET_CHAIN) != APR_SUCCESS) {
        files->key_file = files->cert_file = NULL;
    }
    /* live/ changes only through the journal (at_live.h), whose recovery ran before: a second
     * look is for an activator of the previous generation that did not stop in time. */
    for (attempt = 0; attempt < CERTS_LIVE_ATTEMPTS; attempt++) {
        subject_ok =
            files->key_file != NULL && certs_subject(&subject, files, ctx, ptemp) == APR_SUCCESS;
        if (subject_ok && certs_verdict_stands(files, ctx, &subject, ptemp)) {
            certs_pass.count.reused++;
            apr_pool_cleanup_register(ptemp, files, certs_forget_parsed, apr_pool_cleanup_null);
            return APR_SUCCESS;
        }
        chain = NULL;
        rv = at_certset_load(&key, &chain, ctx->store, AT_STORE_LIVE, site->name, ptemp);
        if (rv == APR_ENOENT) {
            break;
        }
        checked = 1;
        if (rv == APR_SUCCESS) {
            rv = certs_check_live(&why, &partial, &window, ctx, site, key, chain, ptemp);
        }
        if (rv == APR_SUCCESS) {
            certs_pass.count.checked++;
            if (subject_ok) {
                certs_verdict_keep(files, &subject, chain, partial, &window, ptemp);
            }
            files->key = key;
            files->chain = chain;
            apr_pool_cleanup_register(ptemp, files, certs_forget_parsed, apr_pool_cleanup_null);
            return APR_SUCCESS;
        }
    }
    certs_pass.count.checked += checked;
    if (rv != APR_ENOENT) {
        certs_log_unused(site, rv, why, chain, ptemp);
    }
    return rv;
}

/* Nothing usable in live/: the newest archived set still valid for the site goes live again,
 * so that a valid certificate anywhere in the store is never replaced by the placeholder. */
static apr_status_t certs_restore_live(certs_files_t *files, autotls_ctx_t *ctx, apr_pool_t *ptemp)
{
    autotls_site_t *site = files->site;
    at_certset_check_t check;
    const char *stamp;
    apr_status_t rv;

    certs_site_check(&check, ctx, site);
    check.allow_partial = 1;
    rv = at_live_restore(ctx->store, site->name, &check, &stamp, ptemp);
    if (rv == APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, site->twin,
                     AUTOTLS_LOGNO(0278) "%s: live/ held no usable certificate; the archived "
                                         "one replaced at %s is still valid and is live again",
                     site->name, stamp);
        rv = certs_load_live(files, ctx, ptemp);
    }
    return rv;
}

/* A site's set for AutoTLSKeyType's second type: only published into its slot (mod_ssl loads
 * the first type's files); no placeholder (the first one's is served until it is issued). */
static certs_files_t *certs_prepare_second(autotls_ctx_t *ctx, autotls_site_t *site,
                                           apr_pool_t *scratch)
{
    certs_files_t *first = certs_files_of(site->twin);
    certs_files_t *files = apr_pcalloc(ctx->pool, sizeof(*files));

    if (first == NULL) {
        return NULL;
    }
    files->site = site;
    autotls_recovery_settle_live(site, ctx, scratch);
    files->live = certs_load_live(files, ctx, scratch) == APR_SUCCESS ||
                  certs_restore_live(files, ctx, scratch) == APR_SUCCESS;
    first->second = files;
    return files;
}

/* Chooses site's files (into *out, NULL for a second type without its first). What is parsed or
 * read lives in scratch, which the caller clears after publishing it. */
static apr_status_t certs_prepare_site(certs_files_t **out, autotls_ctx_t *ctx,
                                       autotls_site_t *site, apr_pool_t *scratch)
{
    certs_files_t *files;
    apr_status_t rv;

    if (site->first != NULL) {
        *out = certs_prepare_second(ctx, site, scratch);
        return APR_SUCCESS;
    }
    *out = files = apr_pcalloc(ctx->pool, sizeof(*files));
    files->site = site;
    files->twin = site->twin;
    autotls_recovery_settle_live(site, ctx, scratch);
    if (certs_load_live(files, ctx, scratch) == APR_SUCCESS ||
        certs_restore_live(files, ctx, scratch) == APR_SUCCESS) {
        files->live = 1;
        rv = files->key_file != NULL && files->cert_file != NULL
                 ? APR_SUCCESS
                 : certs_paths(files, ctx, AT_CERTSET_KEY, AT_CERTSET_CHAIN);
    } else {
        rv = APR_SUCCESS;
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, site->twin,
                     AUTOTLS_LOGNO(0279) "%s: no valid certificate in the store; serving a "
                                         "placeholder until one is issued",
                     site->name);
        if (!certs_placeholder_usable(site, ctx, scratch)) {
            /* A torn placeholder is made again at the next start: no fsyncs one by one, one
             * sync for all of them after the loop (thousands of sites on a first start). */
            at_store_fs_defer_sync(ctx->store, 1);
            rv = autotls_placeholder_make(site, ctx->store, scratch);
            at_store_fs_defer_sync(ctx->store, 0);
            certs_placeholders_made++;
        }
        if (rv == APR_SUCCESS) {
            rv = certs_paths(files, ctx, AUTOTLS_PLACEHOLDER_KEY, AUTOTLS_PLACEHOLDER_CERT);
        }
    }
    if (rv == APR_SUCCESS && files->twin != NULL) {
        apr_hash_set(certs_by_twin, &files->twin, sizeof(files->twin), files);
    }
    autotls_log_error(APLOG_MARK, APLOG_DEBUG, rv, site->twin,
                      AUTOTLS_LOGNO(0271) "%s: mod_ssl loads %s and %s", site->name,
                      files->cert_file ? files->cert_file : "(nothing)",
                      files->key_file ? files->key_file : "(nothing)");
    return rv;
}

/* The real pass: site's slot is the i-th, and its live set, when it has one, is published as
 * CA-issued at once (its parsed or read form goes with the site's scratch pool). Placeholders
 * are not published: generation 0 means "mod_ssl's placeholder is served". */
static void certs_publish_site(autotls_ctx_t *ctx, autotls_site_t *site, certs_files_t *files,
                               int i)
{
    apr_status_t rv;

    site->slot = i;
    if (files == NULL || !files->live || (files->key == NULL && files->der == NULL)) {
        return; /* placeholder: the slot stays at generation 0 */
    }
    /* A set too large for a slot stays served by mod_ssl from the files until restart. */
    rv = files->der != NULL ? autotls_slots_publish_der(ctx->slots, i, files->der, 1)
                            : autotls_slots_publish(ctx->slots, i, files->key, files->chain, 1);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, site->twin,
                     AUTOTLS_LOGNO(0274) "%s: the live certificate cannot be published to "
                                         "the children; they keep serving the one mod_ssl loaded",
                     site->name);
    }
}

static apr_status_t certs_slots_create(autotls_ctx_t *ctx)
{
    apr_status_t rv = autotls_slots_create(&ctx->slots, ctx->pool, ctx->sites->nelts);

    if (rv != APR_SUCCESS) {
        autotls_log_error(APLOG_MARK, APLOG_ERR, rv, ctx->main_server,
                          AUTOTLS_LOGNO(0273) "cannot create the shared certificate slots for %d "
                                              "sites",
                          ctx->sites->nelts);
    }
    return rv;
}

/* A pass begins: its verdict cache, the roots file's identity once for every site (a roots file
 * that changed, or went, makes every verdict of the previous pass stale), and whether it
 * publishes (the real pass; the first one only tells mod_ssl's trial run which files to load). */
static void certs_pass_begin(autotls_ctx_t *ctx, apr_pool_t *ptemp)
{
    memset(&certs_pass, 0, sizeof(certs_pass));
    certs_pass.cache = autotls_verdicts_begin(ctx, ptemp);
    certs_pass.publish = ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG;
    if (ctx->issuer_roots != NULL &&
        at_file_id_of_target(&certs_pass.roots, ctx->issuer_roots) != APR_SUCCESS) {
        certs_pass.cache = NULL; /* cannot tell whether the roots changed: check every set */
    }
}

apr_status_t autotls_certs_prepare(autotls_ctx_t *ctx, apr_pool_t *ptemp)
{
    apr_pool_t *scratch;
    apr_status_t rv;
    int i;

    if (ctx == NULL || ctx->sites == NULL || ctx->sites->nelts == 0) {
        return APR_SUCCESS;
    }
    if (ctx->store == NULL || ctx->store_dir == NULL) {
        autotls_log_error(APLOG_MARK, APLOG_ERR, AT_EARG, ctx->main_server,
                          AUTOTLS_LOGNO(0272) "no certificate store is open: cannot give the "
                                              "HTTPS vhosts certificates");
        return AT_EARG;
    }
    rv = autotls_store_layout_prepare(ctx, ptemp);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_NORMAL &&
        ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        autotls_recovery_sweep(ctx, ptemp);
    }
    certs_by_twin = apr_hash_make(ctx->pool);
    apr_pool_cleanup_register(ctx->pool, NULL, certs_forget, apr_pool_cleanup_null);
    certs_placeholders_made = 0;
    certs_pass_begin(ctx, ptemp);
    if ((certs_pass.publish && (rv = certs_slots_create(ctx)) != APR_SUCCESS) ||
        (rv = apr_pool_create(&scratch, ptemp)) != APR_SUCCESS) {
        return rv;
    }
    /* One site at a time: what a site's check reads and parses is gone before the next one's,
     * so the parent's pools and heap peak at one site's worth, not at every site's (the pools'
     * high-water mark stays resident in the parent and in every process forked from it). */
    for (i = 0; i < ctx->sites->nelts; i++) {
        autotls_site_t *site = APR_ARRAY_IDX(ctx->sites, i, autotls_site_t *);
        certs_files_t *files = NULL;

        rv = certs_prepare_site(&files, ctx, site, scratch);
        if (rv == APR_SUCCESS && certs_pass.publish) {
            certs_publish_site(ctx, site, files, i);
        }
        apr_pool_clear(scratch);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    apr_pool_destroy(scratch);
    autotls_verdicts_end(ctx, &certs_pass.count, ptemp);
    return certs_placeholders_made > 0 ? at_store_fs_sync(ctx->store) : APR_SUCCESS;
}

/* mod_ssl asks which files to load for s: ours for a managed twin, nothing for others. */
static int certs_add_cert_files(server_rec *s, apr_pool_t *p, apr_array_header_t *cert_files,
                                apr_array_header_t *key_files)
{
    certs_files_t *files = certs_files_of(s);

    if (files == NULL || files->cert_file == NULL || files->key_file == NULL) {
        return DECLINED;
    }
    APR_ARRAY_PUSH(cert_files, const char *) = files->cert_file;
    APR_ARRAY_PUSH(key_files, const char *) = files->key_file;
    return OK;
}

void autotls_certs_register_hooks(apr_pool_t *p)
{
    /* Only the core hook: mod_ssl also runs the optional variant, and both would add the files
     * twice. Never the fallback hook: mod_ssl answers 503 with it until a restart. */
    ap_hook_ssl_add_cert_files(certs_add_cert_files, NULL, NULL, APR_HOOK_MIDDLE);
}
