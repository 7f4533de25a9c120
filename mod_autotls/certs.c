/* SPDX-License-Identifier: Apache-2.0 */
/*
 * certs.c: the store's layout, the files mod_ssl loads for every twin, and the first publish.
 *
 * The one idea: httpd must start whatever state the store is in. Every twin gets files mod_ssl
 * can load: the live set when it is valid for the site's names now, else a P-256 self-signed
 * placeholder, made once as root and kept until it expires or stops covering the names. Only a
 * live set is published into the shared slots; an empty slot tells the children to leave
 * mod_ssl's placeholder in place and tells the gate to answer 503.
 *
 * After a crash: a promotion interrupted by a kill is finished or undone first (the journal of
 * at_live.h), so live/ always holds a matching pair; when live/ holds nothing usable, the newest
 * archived set still valid goes live again, so a valid certificate stored anywhere is never
 * replaced by the placeholder. A live set covering only part of the names (partial issuance) is
 * served. An expired one is not (clients refuse it as they refuse the placeholder): that is an
 * ERROR line. In the real pass, the leftovers of killed processes are swept (certs_sweep).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_hash.h>
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_ssl.h>
#include <unixd.h>

#include "at_core.h"
#include "at_crypto.h"
#include "at_issue.h"
#include "at_live.h"
#include "at_store.h"
#include "at_sweep.h"
#include "activator.h"
#include "autotls.h"
#include "certs.h"
#include "log_glue.h"
#include "slots.h"
#include "sslhook.h"

APLOG_USE_MODULE(autotls);

#define CERTS_MODE_ROOT_DIR 0755
#define CERTS_MODE_LIVE_DIR 0700
#define CERTS_MODE_SECRET_DIR 0700
#define CERTS_MODE_PUBLIC_DIR 0755
#define CERTS_MODE_PERMS 07777
#define CERTS_SECONDS_PER_DAY (24 * 3600)
#define CERTS_PLACEHOLDER_VALID apr_time_from_sec(90 * CERTS_SECONDS_PER_DAY)
/* A placeholder with less left than this is made again, so it never expires while serving. */
#define CERTS_PLACEHOLDER_MIN_LEFT apr_time_from_sec(30 * CERTS_SECONDS_PER_DAY)
#define CERTS_PLACEHOLDER_KEY_TYPE AT_KEY_EC256
/* The activator may replace a live set while we read it: one more look before giving up. */
#define CERTS_LIVE_ATTEMPTS 2
/* Retained across restarts: its absence tells the first configuration of a fresh parent (a cold
 * start, when no renewal thread of ours can be writing to the store) from a restart. */
#define CERTS_RETAINED_STARTED "mod_autotls-started"

/* A store directory: who owns it and how open it is (docs/SECURITY.md, "Who writes what"). */
typedef struct {
    at_store_group_e group;
    int acme_owned; /* owned by the ACME account (the renewal process) instead of root */
    mode_t mode;
    int secret; /* its items are private keys or job state: 0600, and the directory 0700 */
    int adopt;  /* its items are carried over when an older release left it to another owner */
    int named;  /* items sit in name directories (<group>/<name>/<item>), not in the group */
} certs_dir_t;

/* Only challenges/ is readable by User (the children serve its answers); nothing is writable by
 * User. staging/ and challenges/ hold work in flight, which a restart redoes, so when an older
 * release left them to User they start empty. */
static const certs_dir_t certs_dirs[] = {
    {AT_STORE_LIVE, 0, CERTS_MODE_LIVE_DIR, 1, 0, 1},
    {AT_STORE_ACCOUNTS, 1, CERTS_MODE_SECRET_DIR, 1, 1, 1},
    {AT_STORE_JOBS, 1, CERTS_MODE_SECRET_DIR, 0, 1, 0},
    {AT_STORE_STAGING, 1, CERTS_MODE_SECRET_DIR, 0, 0, 1},
    {AT_STORE_CHALLENGES, 1, CERTS_MODE_PUBLIC_DIR, 0, 0, 0},
};

/* What mod_ssl loads for one twin. key and chain are the parsed live set, valid only during
 * the post_config call that loaded them (they live in its ptemp). */
typedef struct {
    autotls_site_t *site;
    server_rec *twin; /* the hash key points here */
    const char *cert_file;
    const char *key_file;
    int live;
    EVP_PKEY *key;
    apr_array_header_t *chain;
} certs_files_t;

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

/* --- the store's directories --------------------------------------------------------------- */

/* Fixes owner and mode of the directory open as fd; drift is logged, a fresh one is not. */
static apr_status_t certs_fix_dir(server_rec *s, int fd, const char *path, uid_t uid, gid_t gid,
                                  mode_t mode, int created)
{
    struct stat st;
    int chown_ok = geteuid() == 0;
    apr_status_t rv;

    if (fstat(fd, &st) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, AUTOTLS_LOGNO(0260) "cannot stat %s", path);
        return rv;
    }
    if (chown_ok && (st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     AUTOTLS_LOGNO(0261) "cannot give %s to uid %ld gid %ld", path, (long)uid,
                     (long)gid);
        return rv;
    }
    if ((st.st_mode & CERTS_MODE_PERMS) != mode && fchmod(fd, mode) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, AUTOTLS_LOGNO(0262) "cannot set mode %04o on %s",
                     (unsigned)mode, path);
        return rv;
    }
    if (!created && ((chown_ok && (st.st_uid != uid || st.st_gid != gid)) ||
                     (st.st_mode & CERTS_MODE_PERMS) != mode)) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     AUTOTLS_LOGNO(0263) "store directory %s had drifted (uid %ld gid %ld mode "
                                         "%04o); set back to uid %ld gid %ld mode %04o",
                     path, (long)st.st_uid, (long)st.st_gid,
                     (unsigned)(st.st_mode & CERTS_MODE_PERMS), (long)(chown_ok ? uid : st.st_uid),
                     (long)(chown_ok ? gid : st.st_gid), (unsigned)mode);
    }
    return APR_SUCCESS;
}

/* Makes path a real directory (never a link) owned by uid:gid with exactly mode. */
static apr_status_t certs_ensure_dir(server_rec *s, const char *path, uid_t uid, gid_t gid,
                                     mode_t mode)
{
    int created = mkdir(path, mode) == 0;
    int fd;
    apr_status_t rv;

    if (!created && errno != EEXIST) {
        rv = APR_FROM_OS_ERROR(errno);
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     AUTOTLS_LOGNO(0264) "cannot create store directory %s", path);
        return rv;
    }
    fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        rv = APR_FROM_OS_ERROR(errno);
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     AUTOTLS_LOGNO(0265) "cannot open store directory %s: it must be a "
                                         "directory, not a link",
                     path);
        return rv;
    }
    rv = certs_fix_dir(s, fd, path, uid, gid, mode, created);
    close(fd);
    return rv;
}

/* A group an older release (or another AutoTLSUser) left to another owner is handed over to
 * the ACME account without root walking a tree that owner can still change (at_store_fs_adopt):
 * no certificate is ordered again, since accounts/ and jobs/ come along. */
static void certs_adopt_dir(autotls_ctx_t *ctx, const certs_dir_t *d, apr_pool_t *ptemp)
{
    at_store_adopt_t how = {ctx->acme_uid, ctx->acme_gid, (int)d->mode,
                            d->secret,     d->adopt,      d->named};
    at_store_adopt_result_t result;
    apr_status_t rv;

    rv = at_store_fs_adopt(&result, ctx->store, d->group, &how, ptemp);
    if (!result.moved) {
        return;
    }
    ap_log_error(APLOG_MARK, rv == APR_SUCCESS ? APLOG_NOTICE : APLOG_ERR, rv, ctx->main_server,
                 AUTOTLS_LOGNO(0292) "store: %s/ belonged to uid %ld; handed over to the ACME "
                                     "account %s: %d item(s) carried over, %d entr%s left "
                                     "behind in %s/%s (now root-only; remove it when satisfied)",
                 at_store_group_name(d->group), (long)result.previous_owner, ctx->acme_user,
                 result.copied, result.skipped, result.skipped == 1 ? "y" : "ies", ctx->store_dir,
                 result.aside);
}

static apr_status_t certs_prepare_layout(autotls_ctx_t *ctx, apr_pool_t *ptemp)
{
    server_rec *s = ctx->main_server;
    int root = geteuid() == 0;
    uid_t own_uid = root ? 0 : geteuid();
    gid_t own_gid = root ? 0 : getegid();
    char *dir = NULL;
    apr_size_t i;
    apr_status_t rv;

    rv = apr_filepath_merge(&dir, NULL, ctx->store_dir, APR_FILEPATH_NATIVE, ptemp);
    if (rv == APR_SUCCESS) {
        rv = apr_dir_make_recursive(dir, APR_FPROT_OS_DEFAULT, ptemp);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     AUTOTLS_LOGNO(0266) "cannot create the store directory %s (AutoTLSStore)",
                     ctx->store_dir);
        return rv;
    }
    rv = certs_ensure_dir(s, dir, own_uid, own_gid, CERTS_MODE_ROOT_DIR);
    for (i = 0; rv == APR_SUCCESS && i < sizeof(certs_dirs) / sizeof(certs_dirs[0]); i++) {
        const certs_dir_t *d = &certs_dirs[i];
        const char *path = apr_pstrcat(ptemp, dir, "/", at_store_group_name(d->group), NULL);
        uid_t uid = d->acme_owned && root ? ctx->acme_uid : own_uid;
        gid_t gid = d->acme_owned && root ? ctx->acme_gid : own_gid;

        if (d->acme_owned && root) {
            certs_adopt_dir(ctx, d, ptemp);
        }
        rv = certs_ensure_dir(s, path, uid, gid, d->mode);
    }
    return rv;
}

/* --- what a crash left --------------------------------------------------------------------- */

/* Whether this is the real configuration pass of a freshly started parent. */
static int certs_cold_start(void)
{
    if (ap_retained_data_get(CERTS_RETAINED_STARTED) != NULL) {
        return 0;
    }
    ap_retained_data_create(CERTS_RETAINED_STARTED, 1);
    return 1;
}

/* Archived sets past their grace period or count go, for every site with an archive (also
 * those no longer configured, so that the store does not keep them forever). */
static int certs_purge_archives(autotls_ctx_t *ctx, apr_time_t now, apr_pool_t *ptemp)
{
    apr_array_header_t *names;
    int i, removed, total = 0;

    if (at_store_list(ctx->store, AT_STORE_ARCHIVE, NULL, &names, ptemp) != APR_SUCCESS) {
        return 0;
    }
    for (i = 0; i < names->nelts; i++) {
        if (at_live_archive_purge(ctx->store, APR_ARRAY_IDX(names, i, const char *), now,
                                  AT_ARCHIVE_GRACE, AT_ARCHIVE_KEEP_MAX, &removed,
                                  ptemp) == APR_SUCCESS) {
            total += removed;
        }
    }
    return total;
}

/*
 * Real pass only, before the activator and the renewal thread start: removes what killed
 * processes left (at_sweep.h). At a cold start nothing of ours can be writing, so every
 * unfinished staged set of our sites, every challenge response and every temp file goes; after
 * a restart, the renewal thread of the old generation may still be finishing an order, so only
 * what is older than its bound goes. Then the archives are purged.
 */
static void certs_sweep(autotls_ctx_t *ctx, apr_pool_t *ptemp)
{
    apr_array_header_t *names = apr_array_make(ptemp, ctx->sites->nelts, sizeof(const char *));
    apr_time_t now = apr_time_now();
    int cold = certs_cold_start(), sets = 0, challenges = 0, temps = 0, archived;
    int i;

    for (i = 0; i < ctx->sites->nelts; i++) {
        APR_ARRAY_PUSH(names, const char *) = APR_ARRAY_IDX(ctx->sites, i, autotls_site_t *)->name;
    }
    at_sweep_staging(ctx->store, names, AUTOTLS_STAGING_READY, cold ? 0 : AUTOTLS_STAGING_MAX_AGE,
                     now, &sets, ptemp);
    at_sweep_challenges(ctx->store, cold ? 0 : AUTOTLS_CHALLENGE_MAX_AGE, now, &challenges, ptemp);
    at_sweep_temp_files(ctx->store, cold ? 0 : AUTOTLS_TEMP_MAX_AGE, now, &temps, ptemp);
    archived = certs_purge_archives(ctx, now, ptemp);
    ap_log_error(APLOG_MARK, sets + challenges + temps > 0 ? APLOG_NOTICE : APLOG_DEBUG, 0,
                 ctx->main_server,
                 AUTOTLS_LOGNO(0280) "%s start: removed %d unfinished staged set(s), %d stale "
                                     "challenge(s), %d temp file(s) of interrupted writes, %d "
                                     "expired archived set(s)",
                 cold ? "cold" : "restart", sets, challenges, temps, archived);
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
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, files->site->twin,
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

/* Whether the set is valid for the site now: every name covered, or (a partial issuance) a part
 * of them and nothing but them. *why says what is wrong with the complete check. */
static apr_status_t certs_check_live(const char **why, autotls_ctx_t *ctx, autotls_site_t *site,
                                     EVP_PKEY *key, apr_array_header_t *chain, apr_pool_t *ptemp)
{
    at_certset_check_t check;
    const char *partial_why;
    apr_status_t rv;

    certs_site_check(&check, ctx, site);
    if ((rv = at_certset_validate(why, ptemp, key, chain, &check)) == APR_SUCCESS) {
        return rv;
    }
    check.allow_partial = 1;
    if (at_certset_validate(&partial_why, ptemp, key, chain, &check) == APR_SUCCESS) {
        *why = NULL;
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
    ap_log_error(APLOG_MARK, APLOG_WARNING, rv, site->twin,
                 AUTOTLS_LOGNO(0268) "%s: the live certificate set is not used: %s", site->name,
                 why != NULL ? why : "it cannot be read (see above)");
}

/* Loads live/<site>/ into files when it is valid for the site now. */
static apr_status_t certs_load_live(certs_files_t *files, autotls_ctx_t *ctx, apr_pool_t *ptemp)
{
    autotls_site_t *site = files->site;
    const char *why = NULL;
    EVP_PKEY *key = NULL;
    apr_array_header_t *chain = NULL;
    apr_status_t rv = APR_EGENERAL;
    int attempt;

    /* live/ changes only through the journal (at_live.h), whose recovery ran before: a second
     * look is for an activator of the previous generation that did not stop in time. */
    for (attempt = 0; attempt < CERTS_LIVE_ATTEMPTS; attempt++) {
        chain = NULL;
        rv = at_certset_load(&key, &chain, ctx->store, AT_STORE_LIVE, site->name, ptemp);
        if (rv == APR_ENOENT) {
            return rv;
        }
        if (rv == APR_SUCCESS) {
            rv = certs_check_live(&why, ctx, site, key, chain, ptemp);
        }
        if (rv == APR_SUCCESS) {
            files->key = key;
            files->chain = chain;
            apr_pool_cleanup_register(ptemp, files, certs_forget_parsed, apr_pool_cleanup_null);
            return APR_SUCCESS;
        }
    }
    certs_log_unused(site, rv, why, chain, ptemp);
    return rv;
}

/* Finishes or undoes a promotion a kill interrupted, before anything reads live/<site>/. */
static void certs_recover_live(autotls_site_t *site, autotls_ctx_t *ctx, apr_pool_t *ptemp)
{
    at_live_recovery_e outcome;
    apr_status_t rv = at_live_recover(ctx->store, site->name, &outcome, ptemp);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, site->twin,
                     AUTOTLS_LOGNO(0276) "%s: cannot settle an interrupted promotion in live/",
                     site->name);
    } else if (outcome != AT_LIVE_CLEAN) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, site->twin,
                     AUTOTLS_LOGNO(0277) "%s: a promotion interrupted by a crash was %s",
                     site->name,
                     outcome == AT_LIVE_ROLLED_FORWARD ? "completed: the new set is live"
                                                       : "undone: the previous set stays");
    }
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

/* The stored placeholder when it still covers the names for long enough. */
static int certs_placeholder_usable(autotls_site_t *site, at_store_t *store, apr_pool_t *ptemp)
{
    char *pem;
    apr_size_t len;
    EVP_PKEY *key;
    apr_array_header_t *chain;
    at_cert_info_t *info;
    at_certset_check_t check;
    const char *why;

    if (at_store_load(store, AT_STORE_LIVE, site->name, AUTOTLS_PLACEHOLDER_KEY, &pem, &len,
                      AT_STORE_SECRET, ptemp) != APR_SUCCESS ||
        at_key_from_pem(&key, ptemp, pem, len) != APR_SUCCESS ||
        at_store_load(store, AT_STORE_LIVE, site->name, AUTOTLS_PLACEHOLDER_CERT, &pem, &len,
                      AT_STORE_PUBLIC, ptemp) != APR_SUCCESS ||
        at_chain_from_pem(&chain, ptemp, pem, len) != APR_SUCCESS) {
        return 0;
    }
    memset(&check, 0, sizeof(check));
    check.names = site->names;
    check.now = apr_time_now();
    return at_certset_validate(&why, ptemp, key, chain, &check) == APR_SUCCESS &&
           at_cert_info(&info, ptemp, APR_ARRAY_IDX(chain, 0, X509 *)) == APR_SUCCESS &&
           info->not_after - check.now > CERTS_PLACEHOLDER_MIN_LEFT;
}

static apr_status_t certs_make_placeholder(autotls_site_t *site, at_store_t *store,
                                           apr_pool_t *ptemp)
{
    EVP_PKEY *key;
    X509 *cert;
    apr_array_header_t *chain = apr_array_make(ptemp, 1, sizeof(X509 *));
    const char *key_pem, *cert_pem;
    apr_size_t key_len, cert_len;
    apr_status_t rv;

    rv = at_key_generate(&key, ptemp, CERTS_PLACEHOLDER_KEY_TYPE);
    if (rv == APR_SUCCESS) {
        rv = at_cert_self_signed(&cert, ptemp, key, site->names, CERTS_PLACEHOLDER_VALID);
    }
    if (rv == APR_SUCCESS) {
        APR_ARRAY_PUSH(chain, X509 *) = cert;
        rv = at_key_to_pem(&key_pem, &key_len, ptemp, key);
    }
    if (rv == APR_SUCCESS) {
        rv = at_chain_to_pem(&cert_pem, &cert_len, ptemp, chain);
    }
    /* The key first, so that a certificate is never present without its key. */
    if (rv == APR_SUCCESS) {
        rv = at_store_save(store, AT_STORE_LIVE, site->name, AUTOTLS_PLACEHOLDER_KEY, key_pem,
                           key_len, AT_STORE_SECRET, ptemp);
    }
    if (rv == APR_SUCCESS) {
        rv = at_store_save(store, AT_STORE_LIVE, site->name, AUTOTLS_PLACEHOLDER_CERT, cert_pem,
                           cert_len, AT_STORE_PUBLIC, ptemp);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, site->twin,
                     AUTOTLS_LOGNO(0269) "%s: cannot make a placeholder certificate; mod_ssl "
                                         "has nothing to load for this site",
                     site->name);
        return rv;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, site->twin,
                 AUTOTLS_LOGNO(0270) "%s: made a self-signed placeholder certificate, served "
                                     "until a certificate is issued",
                 site->name);
    return APR_SUCCESS;
}

static apr_status_t certs_prepare_site(autotls_ctx_t *ctx, autotls_site_t *site, apr_pool_t *ptemp)
{
    certs_files_t *files = apr_pcalloc(ctx->pool, sizeof(*files));
    apr_status_t rv;

    files->site = site;
    files->twin = site->twin;
    certs_recover_live(site, ctx, ptemp);
    if (certs_load_live(files, ctx, ptemp) == APR_SUCCESS ||
        certs_restore_live(files, ctx, ptemp) == APR_SUCCESS) {
        files->live = 1;
        rv = certs_paths(files, ctx, AT_CERTSET_KEY, AT_CERTSET_CHAIN);
    } else {
        rv = APR_SUCCESS;
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, site->twin,
                     AUTOTLS_LOGNO(0279) "%s: no valid certificate in the store; serving a "
                                         "placeholder until one is issued",
                     site->name);
        if (!certs_placeholder_usable(site, ctx->store, ptemp)) {
            /* A torn placeholder is made again at the next start: no fsyncs one by one, one
             * sync for all of them after the loop (thousands of sites on a first start). */
            at_store_fs_defer_sync(ctx->store, 1);
            rv = certs_make_placeholder(site, ctx->store, ptemp);
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
    ap_log_error(APLOG_MARK, APLOG_DEBUG, rv, site->twin,
                 AUTOTLS_LOGNO(0271) "%s: mod_ssl loads %s and %s", site->name,
                 files->cert_file ? files->cert_file : "(nothing)",
                 files->key_file ? files->key_file : "(nothing)");
    return rv;
}

apr_status_t autotls_certs_prepare(autotls_ctx_t *ctx, apr_pool_t *ptemp)
{
    apr_status_t rv;
    int i;

    if (ctx == NULL || ctx->sites == NULL || ctx->sites->nelts == 0) {
        return APR_SUCCESS;
    }
    if (ctx->store == NULL || ctx->store_dir == NULL) {
        ap_log_error(APLOG_MARK, APLOG_ERR, AT_EARG, ctx->main_server,
                     AUTOTLS_LOGNO(0272) "no certificate store is open: cannot give the "
                                         "HTTPS vhosts certificates");
        return AT_EARG;
    }
    rv = certs_prepare_layout(ctx, ptemp);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_NORMAL &&
        ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        certs_sweep(ctx, ptemp);
    }
    certs_by_twin = apr_hash_make(ctx->pool);
    apr_pool_cleanup_register(ctx->pool, NULL, certs_forget, apr_pool_cleanup_null);
    certs_placeholders_made = 0;
    for (i = 0; i < ctx->sites->nelts; i++) {
        rv = certs_prepare_site(ctx, APR_ARRAY_IDX(ctx->sites, i, autotls_site_t *), ptemp);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return certs_placeholders_made > 0 ? at_store_fs_sync(ctx->store) : APR_SUCCESS;
}

apr_status_t autotls_certs_publish_live(autotls_ctx_t *ctx, apr_pool_t *ptemp)
{
    apr_status_t rv;
    int i, count = ctx->sites == NULL ? 0 : ctx->sites->nelts;

    rv = autotls_slots_create(&ctx->slots, ctx->pool, count);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, ctx->main_server,
                     AUTOTLS_LOGNO(0273) "cannot create the shared certificate slots for %d "
                                         "sites",
                     count);
        return rv;
    }
    for (i = 0; i < count; i++) {
        autotls_site_t *site = APR_ARRAY_IDX(ctx->sites, i, autotls_site_t *);
        certs_files_t *files = certs_files_of(site->twin);

        site->slot = i;
        if (files == NULL || !files->live || files->key == NULL) {
            continue; /* placeholder: the slot stays at generation 0 */
        }
        /* A set too large for a slot stays served by mod_ssl from the files until restart. */
        if (autotls_slots_publish(ctx->slots, i, files->key, files->chain, 1) != APR_SUCCESS) {
            ap_log_error(
                APLOG_MARK, APLOG_WARNING, 0, site->twin,
                AUTOTLS_LOGNO(0274) "%s: the live certificate cannot be published to "
                                    "the children; they keep serving the one mod_ssl loaded",
                site->name);
        }
    }
    return APR_SUCCESS;
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
    autotls_sslhook_register_hooks(p);
}
