/* SPDX-License-Identifier: Apache-2.0 */
/*
 * activator.c: the root helper that validates staged certificate sets and puts them live.
 *
 * The one idea: the activator runs as root and trusts nothing in staging/. It only looks at the
 * sites of this configuration generation, only at sets marked `ready`, only at what root or the
 * ACME account (AutoTLSUser) owns, never User's (unless User stands in for a missing account),
 * reads them through the store (no links, one name per file, checked modes, size caps),
 * validates them fully, and only then writes anything root-owned. It removes a set flat: the
 * set's own item names only, never descending, never following a link, so a tree moved into
 * staging/ loses nothing. Every failure is one log line; nothing there can crash it.
 *
 * Notification, not polling: the renewal process builds a set in a temp directory and renames it
 * to staging/<site> (at_store_save_set); the store's watch on staging/ (at_store_watch: inotify
 * on the filesystem backend) wakes the activator, which then looks at staging/ when its
 * generation (at_store_generation) changed since the last look. Every ACTIVATOR_RESCAN_INTERVAL
 * (ACTIVATOR_POLL_INTERVAL for a backend without a watch) it compares the generation anyway, as a
 * safety net; a lost watch (staging/ replaced, events lost) forces a full look. Everything about
 * staging/ is asked through the store (at_store_stat), never by path.
 *
 * Crash safety: a set goes live through the journal of at_live.h (next.* first, then copied
 * over), so a kill at any moment leaves live/ with the old pair or the new one, and the staged
 * set stays in staging/ until it is published, so a new activator takes it again. The replaced
 * set is archived, and the archive is purged (grace period, count) at every promotion. Every
 * AUTOTLS_SWEEP_INTERVAL the activator also sweeps what killed processes left (at_sweep.h):
 * unfinished staged sets, challenge responses and temp files older than their bounds.
 *
 * This file is the process itself; activator_proc.c forks, watches and stops it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* ppoll */
#endif

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "at_certmeta.h"
#include "at_core.h"
#include "at_crypto.h"
#include "at_event.h"
#include "at_issue.h"
#include "at_job.h"
#include "at_live.h"
#include "at_orphan.h"
#include "at_store.h"
#include "at_sweep.h"
#include "activator.h"
#include "autotls.h"
#include "helper_proc.h"
#include "log_glue.h"
#include "renew_job.h"
#include "slots.h"
#include "store_shared.h"

APLOG_USE_MODULE(autotls);

/* A set that could not be promoted (or a staging/ that cannot be read) is retried after this. */
#define ACTIVATOR_RETRY_AFTER apr_time_from_sec(60)
#define ACTIVATOR_EXIT_FAILURE 1
/* The safety net: a full look at staging/ this often, whatever the notifications said. */
#define ACTIVATOR_RESCAN_INTERVAL apr_time_from_sec(30)
/* A store without a watch (a network backend): its generation is compared this often. */
#define ACTIVATOR_POLL_INTERVAL apr_time_from_sec(2)
/* While staging/ cannot be watched (missing, replaced), try again this often. */
#define ACTIVATOR_WATCH_RETRY apr_time_from_sec(1)
#define ACTIVATOR_USEC_PER_MSEC 1000
#define ACTIVATOR_MSEC_PER_SEC 1000
#define ACTIVATOR_NSEC_PER_MSEC 1000000L
/* Every archive is purged this often (an orphan's has no promotion left to purge it). */
#define ACTIVATOR_PURGE_INTERVAL apr_time_from_sec(3600)
/* A fleet's staged set stays for the other nodes: one this node refused (or took) is looked at
 * again only when another set replaces it, or after this. */
#define ACTIVATOR_FLEET_SEEN_WAIT apr_time_from_sec(3600)

/* A set waiting for its retry: when, and which set it was (a new one is not kept waiting). */
typedef struct {
    apr_time_t when; /* 0: none pending */
    apr_uint64_t version;
    apr_time_t mtime;
} activator_retry_t;

/* The child's working state. */
typedef struct {
    autotls_ctx_t *ctx;
    at_store_t *stage;    /* the store, also trusting items of the ACME account (staging/ only);
                           * in a fleet the shared store (Redis, store_shared.h) */
    at_store_t *local;    /* the node's own store trusting the ACME account (challenges/, temp
                           * files): stage itself without a fleet */
    int fleet;            /* staging/ is shared: sets stay, each node takes what is newer */
    apr_hash_t *sites;    /* site name -> autotls_site_t * */
    apr_hash_t *retry_at; /* site name -> activator_retry_t *: do not look again before then */
    apr_time_t list_retry_at;
    apr_time_t sweep_at;    /* the next sweep of leftovers */
    apr_time_t rescan_at;   /* the next comparison of staging/'s generation */
    apr_time_t purge_at;    /* the next purge of every archive */
    apr_uint64_t seen;      /* staging/'s generation at the last full look */
    int full_look;          /* the next look lists staging/ whatever its generation */
    int watch_fd;           /* the store's watch on staging/, -1 while there is none */
    int watchless;          /* the store has no watch: compare generations every poll interval */
    apr_pool_t *watch_pool; /* owns the watch */
    apr_time_t watch_at;    /* while there is none: when to try again */
    apr_pool_t *pool;
} activator_child_t;

static volatile sig_atomic_t activator_stop_requested;

/* ---- the child: one staged set ------------------------------------------------------------ */

static void activator_retry_later(activator_child_t *ch, const char *site,
                                  const at_store_stat_t *set, apr_time_t now)
{
    activator_retry_t *retry = apr_hash_get(ch->retry_at, site, APR_HASH_KEY_STRING);

    if (retry == NULL) {
        retry = apr_palloc(ch->pool, sizeof(*retry));
        apr_hash_set(ch->retry_at, apr_pstrdup(ch->pool, site), APR_HASH_KEY_STRING, retry);
    }
    retry->when = now + ACTIVATOR_RETRY_AFTER;
    retry->version = set->version;
    retry->mtime = set->mtime;
}

/* The one owner besides root whose staged sets are believed: the ACME account. When that account
 * is missing, User stands in for it (acme_user.c warned at startup); User is never trusted apart
 * from that. */
static apr_uid_t activator_trusted_uid(const activator_child_t *ch)
{
    return ch->ctx->acme_uid;
}

/* staging/<site> itself must be a set of root or the ACME account that others cannot write: the
 * store judged it (at_store_stat: rv and set), as its loads judge items. */
static apr_status_t activator_check_dir(const char **why, activator_child_t *ch,
                                        const autotls_site_t *site, apr_status_t rv,
                                        const at_store_stat_t *set, apr_pool_t *p)
{
    if (rv != APR_SUCCESS) {
        *why = set->why != NULL ? apr_psprintf(p,
                                               "staging/%s is %s (trusting root and the ACME "
                                               "account %s)",
                                               site->name, set->why, ch->ctx->acme_user)
                                : apr_psprintf(p, "cannot look at staging/%s: %s", site->name,
                                               at_strerror(p, rv));
        return rv;
    }
    if (!set->exists) {
        *why = apr_psprintf(p, "staging/%s went away", site->name);
        return APR_ENOENT;
    }
    if (!set->is_set) {
        *why = apr_psprintf(p, "staging/%s is not a directory (a link or other file)", site->name);
        return AT_EMODE;
    }
    return APR_SUCCESS;
}

/* Why a set that failed to load is refused; the store or crypto line before says more. */
static const char *activator_load_why(apr_pool_t *p, apr_status_t rv)
{
    if (rv == APR_ENOENT) {
        return "a file of the set is missing (privkey.pem and fullchain.pem are needed)";
    }
    if (rv == AT_EMODE) {
        return "a file of the set is a symbolic link, has more than one name or an unsafe owner "
               "or mode (root or the ACME account only)";
    }
    if (rv == AT_ETOOLARGE) {
        return "a file of the set is too large";
    }
    if (rv == AT_EINVALID || rv == AT_ECRYPTO) {
        return "a file of the set is not a readable PEM key or certificate chain (truncated?)";
    }
    return apr_psprintf(p, "cannot load the set: %s", at_strerror(p, rv));
}

/* The set must fit one shared slot, measured exactly as the slot will store it. */
static apr_status_t activator_check_size(const char **why, apr_pool_t *p, EVP_PKEY *key,
                                         const apr_array_header_t *chain)
{
    apr_size_t total = autotls_slots_set_size(key, chain);

    if (total == 0) {
        *why = "the key or a certificate cannot be encoded";
        return AT_EINVALID;
    }
    if (total > AUTOTLS_SLOT_DATA_MAX) {
        *why = apr_psprintf(p, "key and chain take %" APR_SIZE_T_FMT " bytes, a slot holds %d",
                            total, AUTOTLS_SLOT_DATA_MAX);
        return AT_ETOOLARGE;
    }
    return APR_SUCCESS;
}

/* Loads and validates staging/<site>; on failure *why says what is wrong with it. */
static apr_status_t activator_accept(const char **why, EVP_PKEY **key, apr_array_header_t **chain,
                                     activator_child_t *ch, const autotls_site_t *site,
                                     apr_status_t set_rv, const at_store_stat_t *set,
                                     apr_time_t now, apr_pool_t *p)
{
    at_certset_check_t check;
    apr_status_t rv;

    if ((rv = activator_check_dir(why, ch, site, set_rv, set, p)) != APR_SUCCESS) {
        return rv;
    }
    rv = at_certset_load(key, chain, ch->stage, AT_STORE_STAGING, site->name, p);
    if (rv != APR_SUCCESS) {
        *why = activator_load_why(p, rv);
        return rv;
    }
    memset(&check, 0, sizeof(check));
    check.names = site->names;
    check.roots_file = ch->ctx->issuer_roots;
    check.require_chain = 1;
    check.now = now;
    check.allow_partial = 1; /* some names may have failed validation: they come later */
    if ((rv = at_certset_validate(why, p, *key, *chain, &check)) != APR_SUCCESS) {
        return rv;
    }
    /* at_certset_validate skips the roots without a file; we want the system store then. */
    if (ch->ctx->issuer_roots == NULL &&
        (rv = at_chain_verify(why, p, *chain, NULL, now)) != APR_SUCCESS) {
        *why = apr_psprintf(p, "chain does not verify to the system roots: %s", *why);
        return rv;
    }
    return activator_check_size(why, p, *key, *chain);
}

/* Keeps the live set about to be replaced in archive/; a failure is logged and does not stop
 * the new set. */
static void activator_archive(activator_child_t *ch, const autotls_site_t *site, apr_time_t now,
                              apr_pool_t *p)
{
    apr_status_t rv = at_live_archive(ch->ctx->store, site->name, now, p);

    if (rv != APR_SUCCESS) {
        autotls_log_error(APLOG_MARK, APLOG_WARNING, rv, ch->ctx->main_server,
                          AUTOTLS_LOGNO(0310) "%s: cannot keep the previous live certificate in "
                                              "archive/; going on with the new one",
                          site->name);
    }
}

/* Drops archived sets past the grace period or the count (the library logs a failure). */
static void activator_archive_purge(activator_child_t *ch, const autotls_site_t *site,
                                    apr_time_t now, apr_pool_t *p)
{
    int removed = 0;

    if (at_live_archive_purge(ch->ctx->store, site->name, now, AT_ARCHIVE_GRACE,
                              AT_ARCHIVE_KEEP_MAX, &removed, p) == APR_SUCCESS &&
        removed > 0) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ch->ctx->main_server,
                     AUTOTLS_LOGNO(0319) "%s: purged %d replaced certificate(s) from archive/",
                     site->name, removed);
    }
}

/* Writes the validated set to live/<site> as we parsed it (root-owned, key 0600), through the
 * journal: a kill at any point leaves the old pair or the new one. */
static apr_status_t activator_promote(activator_child_t *ch, const autotls_site_t *site,
                                      EVP_PKEY *key, const apr_array_header_t *chain, apr_pool_t *p)
{
    const char *key_pem, *chain_pem;
    apr_size_t key_len, chain_len;
    apr_status_t rv;

    if ((rv = at_key_to_pem(&key_pem, &key_len, p, key)) != APR_SUCCESS ||
        (rv = at_chain_to_pem(&chain_pem, &chain_len, p, chain)) != APR_SUCCESS) {
        return rv;
    }
    return at_live_promote(ch->ctx->store, site->name, key_pem, key_len, chain_pem, chain_len, p);
}

/* The CA of this configuration that issued leaf: the one the site's job file names for this very
 * serial (several AutoTLSCA, renew_job.h), else the first. Only a CA of the list, never a URL
 * from the store: at worst `autotls revoke` asks another configured CA, which refuses. */
static const at_ca_spec_t *activator_issuer(activator_child_t *ch, const autotls_site_t *site,
                                            X509 *leaf, apr_pool_t *p)
{
    const apr_array_header_t *cas = ch->ctx->cas;
    at_cert_info_t *info;
    autotls_job_t job;
    int index = -1;

    if (cas->nelts > 1 && at_cert_info(&info, p, leaf) == APR_SUCCESS) {
        autotls_job_init(&job);
        if (autotls_job_load(&job, ch->stage, at_job_item(p, site->name), p) == APR_SUCCESS) {
            index = autotls_job_issuer(&job, cas, info->serial);
        }
        autotls_job_clear(&job);
    }
    return &APR_ARRAY_IDX(cas, index > 0 ? index : 0, at_ca_spec_t);
}

/* What the new live set records (meta.json: the CA of this configuration that issued it, whose
 * issuer roots the chain just verified to; never a URL staging/ says) and the event it is for
 * the notification command (obtained, or renewed when a CA-issued set was served before).
 * Failures are logged and change nothing else. */
static void activator_record(activator_child_t *ch, const autotls_site_t *site, X509 *leaf,
                             apr_pool_t *p)
{
    autotls_slot_info_t served;
    at_certmeta_t meta = {0};
    at_event_t *event;
    apr_status_t rv;
    const at_ca_spec_t *issuer = activator_issuer(ch, site, leaf, p);

    meta.ca = issuer->url;
    meta.ca_cert = issuer->ca_file;
    meta.names = site->names;
    meta.issued_by = AT_CERTMETA_BY_MODULE;
    if ((rv = at_certmeta_save(ch->ctx->store, site->name, &meta, p)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, ch->ctx->main_server,
                     AUTOTLS_LOGNO(0813) "%s: cannot record the CA of the new certificate in "
                                         "live/%s/%s; `autotls revoke` will need it",
                     site->name, site->name, AT_CERTSET_META);
    }
    event = at_event_make(p,
                          autotls_slots_info(ch->ctx->slots, site->slot, &served) == APR_SUCCESS &&
                                  served.ca_issued
                              ? AT_EVENT_RENEWED
                              : AT_EVENT_OBTAINED,
                          site->name, apr_time_now());
    at_event_set_cert(event, p, leaf);
    /* jobs/ of the shared store in a fleet: where the renewal process looks for events */
    if ((rv = at_event_post(ch->stage, event, p)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, ch->ctx->main_server,
                     AUTOTLS_LOGNO(0814) "%s: cannot hand the %s event to the renewal process",
                     site->name, at_event_kind_name(event->kind));
    }
}

/* A partial set: the names it leaves out, or NULL when it covers them all. */
static const char *activator_left_out(const autotls_site_t *site, X509 *leaf, apr_pool_t *p)
{
    apr_array_header_t *missing = apr_array_make(p, site->names->nelts, sizeof(const char *));
    int i;

    for (i = 0; i < site->names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(site->names, i, const char *);

        if (!at_cert_covers_name(leaf, name)) {
            APR_ARRAY_PUSH(missing, const char *) = name;
        }
    }
    return missing->nelts == 0 ? NULL : apr_array_pstrcat(p, missing, ',');
}

static void activator_log_live(activator_child_t *ch, const autotls_site_t *site, X509 *leaf,
                               apr_pool_t *p)
{
    at_cert_info_t *info;
    const char *names;

    if (at_cert_info(&info, p, leaf) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, ch->ctx->main_server,
                     AUTOTLS_LOGNO(0311) "%s: new certificate is live", site->name);
        return;
    }
    names = apr_array_pstrcat(p, info->names, ',');
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, ch->ctx->main_server,
                 AUTOTLS_LOGNO(0312) "%s: certificate %s for %s from %s is live, expires %s",
                 site->name, info->serial, names, info->issuer_cn,
                 at_rfc3339_format(p, info->not_after));
    if ((names = activator_left_out(site, leaf, p)) != NULL) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ch->ctx->main_server,
                     AUTOTLS_LOGNO(0320) "%s: the live certificate leaves out %s (not validated "
                                         "yet); HTTPS for them waits until a certificate "
                                         "covering them is issued",
                     site->name, names);
    }
}

static void activator_drop_staged(activator_child_t *ch, const autotls_site_t *site,
                                  const at_store_stat_t *set, apr_time_t now, apr_pool_t *p)
{
    activator_retry_t *seen;
    apr_status_t rv;

    if (ch->fleet) {
        /* The other nodes take it too: it stays, and this node does not look at it again. */
        activator_retry_later(ch, site->name, set, now);
        seen = apr_hash_get(ch->retry_at, site->name, APR_HASH_KEY_STRING);
        seen->when = now + ACTIVATOR_FLEET_SEEN_WAIT;
        return;
    }
    rv = at_sweep_remove_set(ch->stage, site->name, AUTOTLS_STAGING_READY, p);

    if (rv != APR_SUCCESS) {
        autotls_log_error(
            APLOG_MARK, APLOG_ERR, rv, ch->ctx->main_server,
            AUTOTLS_LOGNO(0313) "%s: cannot remove the staged set; looking at it again "
                                "in %d s",
            site->name, (int)apr_time_sec(ACTIVATOR_RETRY_AFTER));
        activator_retry_later(ch, site->name, set, now);
    }
}

/* Validates, promotes and publishes staging/<site> (what at_store_stat said of it: set_rv, set),
 * or refuses it; the set is removed either way, except when promoting fails (then it is tried
 * again later). */
static void activator_take(activator_child_t *ch, const autotls_site_t *site, apr_status_t set_rv,
                           const at_store_stat_t *set, apr_pool_t *p)
{
    apr_time_t now = apr_time_now();
    apr_array_header_t *chain = NULL;
    EVP_PKEY *key = NULL;
    const char *why = NULL;
    apr_status_t rv;

    rv = activator_accept(&why, &key, &chain, ch, site, set_rv, set, now, p);
    if (rv != APR_SUCCESS && ch->fleet && !autotls_store_shared_up(ch->ctx)) {
        activator_retry_later(ch, site->name, set, now); /* Redis away (said once): no verdict */
        return;
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, ch->ctx->main_server,
                     AUTOTLS_LOGNO(0314) "%s: refused staged certificate: %s", site->name,
                     why != NULL ? why : at_strerror(p, rv));
        activator_drop_staged(ch, site, set, now, p);
        return;
    }
    activator_archive(ch, site, now, p);
    rv = activator_promote(ch, site, key, chain, p);
    activator_archive_purge(ch, site, now, p);
    if (rv != APR_SUCCESS) {
        autotls_log_error(
            APLOG_MARK, APLOG_ERR, rv, ch->ctx->main_server,
            AUTOTLS_LOGNO(0315) "%s: cannot write the new certificate to live/; the old "
                                "one stays, trying again in %d s",
            site->name, (int)apr_time_sec(ACTIVATOR_RETRY_AFTER));
        activator_retry_later(ch, site->name, set, now);
        return;
    }
    activator_record(ch, site, APR_ARRAY_IDX(chain, 0, X509 *), p);
    rv = autotls_slots_publish(ch->ctx->slots, site->slot, key, chain, 1);
    if (rv != APR_SUCCESS) {
        autotls_log_error(
            APLOG_MARK, APLOG_ERR, rv, ch->ctx->main_server,
            AUTOTLS_LOGNO(0316) "%s: the new certificate is in live/ but could not be "
                                "published to the running server; it is served after "
                                "the next restart",
            site->name);
    }
    activator_drop_staged(ch, site, set, now, p);
    if (rv == APR_SUCCESS) {
        activator_log_live(ch, site, APR_ARRAY_IDX(chain, 0, X509 *), p);
    }
}

/* ---- the child: orphans ------------------------------------------------------------------- */

/* A stored site this generation does not configure: marked once, forgotten after
 * AutoTLSOrphanKeep (at_orphan.h). */
static void activator_orphan(activator_child_t *ch, const char *name, apr_time_t now, apr_pool_t *p)
{
    apr_time_t since;
    int fresh;

    if (at_orphan_mark(&since, &fresh, ch->ctx->store, name, now, p) != APR_SUCCESS) {
        return; /* the store logged it; tried again at the next sweep */
    }
    if (fresh) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ch->ctx->main_server,
                     AUTOTLS_LOGNO(0810) "%s: orphaned: the store holds it but no vhost names "
                                         "it any more; its certificate moves to archive/ after "
                                         "%s (AutoTLSOrphanKeep), or now with `autotls forget "
                                         "%s`",
                     name, at_rfc3339_format(p, now + ch->ctx->orphan_keep), name);
    }
    if (now - since < ch->ctx->orphan_keep) {
        return;
    }
    if (at_orphan_forget(ch->ctx->store, name, now, 1, p) == APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, ch->ctx->main_server,
                     AUTOTLS_LOGNO(0811) "%s: orphaned since %s: its certificate moved to "
                                         "archive/%s, its job state removed",
                     name, at_rfc3339_format(p, since), name);
    }
}

/* Every stored site no configured vhost names (at start and at each sweep). */
static void activator_orphans(activator_child_t *ch, apr_pool_t *p)
{
    apr_time_t now = apr_time_now();
    apr_array_header_t *stored;
    int i;

    if (at_orphan_stored_sites(&stored, ch->ctx->store, p) != APR_SUCCESS) {
        return;
    }
    for (i = 0; i < stored->nelts && !activator_stop_requested; i++) {
        const char *name = APR_ARRAY_IDX(stored, i, const char *);

        if (apr_hash_get(ch->sites, name, APR_HASH_KEY_STRING) == NULL) {
            activator_orphan(ch, name, now, p);
        }
    }
}

/* Purges every archive (grace period, count) once in ACTIVATOR_PURGE_INTERVAL. */
static void activator_purge_archives(activator_child_t *ch, apr_time_t now, apr_pool_t *p)
{
    int removed = 0;

    if (now < ch->purge_at) {
        return;
    }
    ch->purge_at = now + ACTIVATOR_PURGE_INTERVAL;
    if (at_live_archive_purge_all(ch->ctx->store, now, AT_ARCHIVE_GRACE, AT_ARCHIVE_KEEP_MAX,
                                  &removed, p) == APR_SUCCESS &&
        removed > 0) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, ch->ctx->main_server,
                     AUTOTLS_LOGNO(0812) "purged %d archived certificate(s) past their grace "
                                         "period",
                     removed);
    }
}

/* ---- the child: the loop ------------------------------------------------------------------ */

/* Whether staging/<site> holds its `ready` marker; a marker the store refuses counts too, so
 * that the set is refused with a line (and removed) rather than left lying there. */
static int activator_is_ready(activator_child_t *ch, const char *site, apr_pool_t *p)
{
    at_store_stat_t st;
    apr_status_t rv =
        at_store_stat(ch->stage, AT_STORE_STAGING, site, AUTOTLS_STAGING_READY, &st, p);

    return (rv == APR_SUCCESS && st.exists) || rv == AT_EMODE;
}

/* In a fleet, whether the staged set of site is newer than the one this node serves
 * (store_shared.h): an older one, or the one served, is not taken. One whose chain cannot be
 * read is taken, to be refused with a line. */
static int activator_fleet_wanted(activator_child_t *ch, const autotls_site_t *site, apr_pool_t *p)
{
    autotls_slot_info_t served;
    at_cert_info_t *staged;
    apr_time_t mtime;

    if (!ch->fleet || (staged = autotls_staged_leaf(ch->stage, site->name, &mtime, p)) == NULL ||
        autotls_slots_info(ch->ctx->slots, site->slot, &served) != APR_SUCCESS) {
        return 1;
    }
    return autotls_staged_newer(staged, served.ca_issued, served.serial, served.not_before);
}

/* Takes staging/<name> when it is a `ready` set of one of our sites not waiting for a retry (a
 * set other than the one that waits is new: it is taken at once). A set the store refuses is
 * taken too: to be refused with a line and removed. */
static void activator_consider(activator_child_t *ch, const char *name, apr_time_t now,
                               apr_pool_t *p)
{
    const autotls_site_t *site = apr_hash_get(ch->sites, name, APR_HASH_KEY_STRING);
    activator_retry_t *retry = apr_hash_get(ch->retry_at, name, APR_HASH_KEY_STRING);
    at_store_stat_t set;
    apr_status_t rv;

    if (site == NULL) {
        return;
    }
    rv = at_store_stat(ch->stage, AT_STORE_STAGING, name, NULL, &set, p);
    if (rv == APR_SUCCESS && !set.exists) {
        return;
    }
    if (retry != NULL && retry->when != 0) {
        /* only a set seen to be another one cuts the wait short */
        if (now < retry->when &&
            (rv != APR_SUCCESS || (set.version == retry->version && set.mtime == retry->mtime))) {
            return;
        }
        retry->when = 0;
    }
    if (rv == APR_SUCCESS &&
        (!activator_is_ready(ch, name, p) || !activator_fleet_wanted(ch, site, p))) {
        return;
    }
    activator_take(ch, site, rv, &set, p);
}

/* One look at staging/: when its generation changed since the last full look (or one is due
 * anyway), every entry naming one of our sites with a `ready` set is taken. */
static void activator_rescan(activator_child_t *ch, apr_pool_t *p)
{
    apr_time_t now = apr_time_now();
    apr_array_header_t *entries;
    apr_uint64_t gen = 0;
    apr_status_t rv;
    int i;

    ch->rescan_at = now + (ch->watchless ? ACTIVATOR_POLL_INTERVAL : ACTIVATOR_RESCAN_INTERVAL);
    if (now < ch->list_retry_at) {
        return;
    }
    rv = at_store_generation(ch->stage, AT_STORE_STAGING, &gen, p);
    if (rv == APR_SUCCESS && gen != 0 && gen == ch->seen && !ch->full_look) {
        return; /* nothing saved, removed, arrived or gone since the last look */
    }
    if (rv != APR_SUCCESS && ch->fleet) {
        return; /* Redis is away: it said so once; the next poll tries again */
    }
    if (at_store_list(ch->stage, AT_STORE_STAGING, NULL, &entries, p) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, ch->ctx->main_server,
                     AUTOTLS_LOGNO(0317) "cannot list staging/ in %s; looking again in %d s",
                     ch->ctx->store_dir, (int)apr_time_sec(ACTIVATOR_RETRY_AFTER));
        ch->list_retry_at = now + ACTIVATOR_RETRY_AFTER;
        return;
    }
    ch->seen = gen;
    ch->full_look = 0;
    for (i = 0; i < entries->nelts && !activator_stop_requested; i++) {
        activator_consider(ch, APR_ARRAY_IDX(entries, i, const char *), now, p);
    }
}

/* Sets whose retry time has come (a failed promotion or removal) are looked at again. */
static void activator_retry_due(activator_child_t *ch, apr_pool_t *p)
{
    apr_time_t now = apr_time_now();
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(p, ch->retry_at); hi != NULL && !activator_stop_requested;
         hi = apr_hash_next(hi)) {
        const char *name = apr_hash_this_key(hi);
        activator_retry_t *retry = apr_hash_this_val(hi);

        if (retry->when != 0 && now >= retry->when) {
            retry->when = 0;
            activator_consider(ch, name, now, p);
        }
    }
}

/* ---- the child: the watch on staging/ ------------------------------------------------------ */

/* The watch is gone (staging/ replaced, events lost): drop it, watch again at once, and look at
 * everything, since a set may have arrived unseen. */
static void activator_watch_lost(activator_child_t *ch)
{
    apr_pool_clear(ch->watch_pool); /* closes it */
    ch->watch_fd = -1;
    ch->watch_at = apr_time_now();
    ch->rescan_at = 0;
    ch->full_look = 1;
}

/* Puts the store's watch on staging/ when there is none; 1 when one was added now (then a full
 * look is due: a set may have arrived while nothing watched). */
static int activator_watch(activator_child_t *ch)
{
    apr_status_t rv;

    if (ch->watchless || ch->watch_fd >= 0 || apr_time_now() < ch->watch_at) {
        return 0;
    }
    rv = at_store_watch(ch->stage, AT_STORE_STAGING, &ch->watch_fd, ch->watch_pool);
    if (rv == APR_SUCCESS && ch->watch_fd < 0) {
        ch->watchless = 1; /* a backend without a watch: compare generations more often */
        ch->rescan_at = 0;
        return 0;
    }
    if (rv != APR_SUCCESS) {
        ch->watch_fd = -1;
        if (rv != APR_ENOENT) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, rv, ch->ctx->main_server,
                         AUTOTLS_LOGNO(0323) "cannot watch staging/ in %s; looking at it every "
                                             "%d s instead",
                         ch->ctx->store_dir, (int)apr_time_sec(ACTIVATOR_RESCAN_INTERVAL));
            ch->watch_at = apr_time_now() + ACTIVATOR_RESCAN_INTERVAL;
        } else {
            ch->watch_at = apr_time_now() + ACTIVATOR_WATCH_RETRY;
        }
        return 0;
    }
    ch->full_look = 1;
    return 1;
}

/* Sleeps until the watch reports something or the next deadline (a look, the sweep, a retry,
 * another try at watching) comes; a signal ends it early. A report makes the next look due now. */
static void activator_wait(activator_child_t *ch, apr_pool_t *p)
{
    apr_time_t now = apr_time_now(), until = ch->rescan_at;
    apr_hash_index_t *hi;
    struct pollfd pfd;
    struct timespec ts;
    sigset_t none;
    long msec;

    if (ch->sweep_at < until) {
        until = ch->sweep_at;
    }
    if (ch->watch_fd < 0 && !ch->watchless && ch->watch_at < until) {
        until = ch->watch_at;
    }
    for (hi = apr_hash_first(p, ch->retry_at); hi != NULL; hi = apr_hash_next(hi)) {
        apr_time_t when = ((activator_retry_t *)apr_hash_this_val(hi))->when;

        if (when != 0 && when < until) {
            until = when;
        }
    }
    if (until <= now) {
        return;
    }
    msec = (long)((until - now + ACTIVATOR_USEC_PER_MSEC - 1) / ACTIVATOR_USEC_PER_MSEC);
    pfd.fd = ch->watch_fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    ts.tv_sec = msec / ACTIVATOR_MSEC_PER_SEC;
    ts.tv_nsec = (msec % ACTIVATOR_MSEC_PER_SEC) * ACTIVATOR_NSEC_PER_MSEC;
    /* The stop signals are blocked except inside ppoll: one arriving just before still ends the
     * sleep at once. */
    sigemptyset(&none);
    if (ppoll(&pfd, ch->watch_fd >= 0 ? 1 : 0, &ts, &none) > 0 && (pfd.revents & POLLIN)) {
        if (at_store_watch_drain(ch->stage, ch->watch_fd) == APR_EOF) {
            activator_watch_lost(ch);
        }
        ch->rescan_at = 0;
    }
}

/* What killed processes left behind, older than its bound (see activator.h); a cold start has
 * already swept without bounds (recovery.c). Failures were logged by the sweep itself. */
static void activator_sweep(activator_child_t *ch, apr_pool_t *p)
{
    apr_time_t now = apr_time_now();
    int sets = 0, challenges = 0, temps = 0;

    if (now < ch->sweep_at) {
        return;
    }
    ch->sweep_at = now + AUTOTLS_SWEEP_INTERVAL;
    at_sweep_staging(ch->stage, NULL, AUTOTLS_STAGING_READY, AUTOTLS_STAGING_MAX_AGE, now, &sets,
                     p);
    at_sweep_challenges(ch->local, AUTOTLS_CHALLENGE_MAX_AGE, now, &challenges, p);
    at_sweep_temp_files(ch->local, AUTOTLS_TEMP_MAX_AGE, now, &temps, p);
    activator_orphans(ch, p);
    activator_purge_archives(ch, now, p);
    if (sets + challenges + temps > 0) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, ch->ctx->main_server,
                     AUTOTLS_LOGNO(0321) "removed what interrupted work left in the store: %d "
                                         "unfinished staged set(s), %d stale challenge(s), %d "
                                         "temp file(s)",
                     sets, challenges, temps);
    }
}

/* Settles a promotion a killed predecessor left half done (post_config did so before the first
 * activator; a respawned one may find one of its own). */
static void activator_recover(activator_child_t *ch, apr_pool_t *p)
{
    at_live_recovery_e outcome;
    int i;

    for (i = 0; i < ch->ctx->sites->nelts; i++) {
        const autotls_site_t *site = APR_ARRAY_IDX(ch->ctx->sites, i, autotls_site_t *);

        if (at_live_recover(ch->ctx->store, site->name, &outcome, p) == APR_SUCCESS &&
            outcome != AT_LIVE_CLEAN) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, ch->ctx->main_server,
                         AUTOTLS_LOGNO(0322) "%s: an interrupted promotion was %s", site->name,
                         outcome == AT_LIVE_ROLLED_FORWARD ? "completed: the new set is live"
                                                           : "undone: the previous set stays");
        }
    }
}

static void activator_on_stop(int sig)
{
    activator_stop_requested = 1;
}

static apr_status_t activator_child_init(activator_child_t *ch, autotls_ctx_t *ctx,
                                         apr_pool_t *pool)
{
    apr_status_t rv;
    int i;

    memset(ch, 0, sizeof(*ch));
    ch->ctx = ctx;
    ch->pool = pool;
    ch->sites = apr_hash_make(pool);
    ch->retry_at = apr_hash_make(pool);
    ch->watch_fd = -1;
    ch->full_look = 1;
    if ((rv = apr_pool_create(&ch->watch_pool, pool)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < ctx->sites->nelts; i++) {
        autotls_site_t *site = APR_ARRAY_IDX(ctx->sites, i, autotls_site_t *);

        apr_hash_set(ch->sites, site->name, APR_HASH_KEY_STRING, site);
    }
    rv = at_store_fs_open(&ch->local, pool, ctx->store_dir);
    if (rv == APR_SUCCESS) {
        at_store_fs_trust_owner(ch->local, activator_trusted_uid(ch));
    }
    ch->stage = ch->local;
    ch->fleet = autotls_store_fleet(ctx);
    if (rv == APR_SUCCESS && ch->fleet &&
        (rv = autotls_store_shared_open(ctx, pool)) == APR_SUCCESS) {
        ch->stage = ctx->shared;
    }
    return rv;
}

void autotls_activator_run(autotls_ctx_t *ctx, pid_t parent_pid, apr_pool_t *pconf)
{
    activator_child_t ch;
    apr_pool_t *pool, *scan;
    sigset_t stops;
    apr_status_t rv;

    autotls_helper_enter(parent_pid, AUTOTLS_ACTIVATOR_TITLE, activator_on_stop);
    /* Delivered only while activator_wait sleeps: a stop never interrupts a set half taken. */
    autotls_helper_stop_signals(&stops);
    sigprocmask(SIG_BLOCK, &stops, NULL);
    if ((rv = apr_pool_create(&pool, pconf)) != APR_SUCCESS ||
        (rv = apr_pool_create(&scan, pool)) != APR_SUCCESS ||
        (rv = activator_child_init(&ch, ctx, pool)) != APR_SUCCESS) {
        autotls_log_error(APLOG_MARK, APLOG_ERR, rv, ctx->main_server,
                          AUTOTLS_LOGNO(0318) "activator cannot start, pid %ld (store %s)",
                          (long)getpid(), ctx->store_dir);
        _exit(ACTIVATOR_EXIT_FAILURE);
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, ctx->main_server,
                 AUTOTLS_LOGNO(0300) "activator started, pid %ld, watching %d site(s) in %s/%s, "
                                     "trusting root and %s (uid %ld)",
                 (long)getpid(), ctx->sites->nelts, ctx->store_dir,
                 at_store_group_name(AT_STORE_STAGING), ctx->acme_user, (long)ctx->acme_uid);
    activator_recover(&ch, scan);
    apr_pool_clear(scan);
    activator_orphans(&ch, scan);
    activator_purge_archives(&ch, apr_time_now(), scan);
    apr_pool_clear(scan);
    ch.sweep_at = apr_time_now() + AUTOTLS_SWEEP_INTERVAL;
    while (!activator_stop_requested && getppid() == parent_pid) {
        if (activator_watch(&ch) || apr_time_now() >= ch.rescan_at) {
            activator_rescan(&ch, scan); /* the watch first: nothing arrives unseen between */
        }
        activator_retry_due(&ch, scan);
        activator_sweep(&ch, scan);
        apr_pool_clear(scan);
        if (!activator_stop_requested) {
            activator_wait(&ch, scan);
            apr_pool_clear(scan);
        }
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, ctx->main_server,
                 AUTOTLS_LOGNO(0301) "activator stopped, pid %ld", (long)getpid());
    _exit(0);
}
