/*
 * activator.c: the root helper that validates staged certificate sets and puts them live.
 *
 * The one idea: the activator runs as root and trusts nothing in staging/. It only looks at the
 * sites of this configuration generation, only at sets marked `ready`, reads them through the
 * store (no links, checked owners and modes, size caps), validates them fully, and only then
 * writes anything root-owned. Every failure is one log line; nothing there can crash it.
 *
 * Lifecycle (the mod_cgid daemon pattern): the parent forks it in post_config, registers it as
 * an "other child" so that the MPM reports its death (the parent then forks a new one), and a
 * pconf cleanup stops and reaps it, so that each restart ends the old generation's activator
 * before post_config starts the next one.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* prctl */
#endif

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <ap_listen.h>
#include <ap_mpm.h>
#include <unixd.h>

#include "at_core.h"
#include "at_crypto.h"
#include "at_issue.h"
#include "at_store.h"
#include "activator.h"
#include "autotls.h"
#include "log_glue.h"
#include "slots.h"

APLOG_USE_MODULE(autotls);

/* Stopping: SIGTERM, then SIGKILL after the grace time, then give up reaping after the wait. */
#define ACTIVATOR_STOP_GRACE apr_time_from_sec(3)
#define ACTIVATOR_KILL_WAIT apr_time_from_sec(2)
#define ACTIVATOR_REAP_STEP apr_time_from_msec(10)
/* At most this many unexpected deaths are answered with a new fork within the window. */
#define ACTIVATOR_RESPAWN_MAX 5
#define ACTIVATOR_RESPAWN_WINDOW apr_time_from_sec(60)
/* A set that could not be promoted (or a staging/ that cannot be read) is retried after this. */
#define ACTIVATOR_RETRY_AFTER apr_time_from_sec(60)
/* Previous live sets kept per site in archive/<site>/. */
#define ACTIVATOR_ARCHIVE_KEEP 5
#define ACTIVATOR_STAMP_FORMAT "%04d%02d%02dT%02d%02d%02d.%06dZ"
#define ACTIVATOR_TM_YEAR_BASE 1900
#define ACTIVATOR_DATE_FORMAT "%Y-%m-%d %H:%M:%S UTC"
#define ACTIVATOR_TIME_TEXT_LEN 32
#define ACTIVATOR_STATUS_TEXT_LEN 64
/* A staged directory must not be writable by group or other. */
#define ACTIVATOR_DIR_TOO_OPEN 0022
#define ACTIVATOR_MODE_PERMS 07777
#define ACTIVATOR_EXIT_FAILURE 1

typedef struct activator_t activator_t;

/* One forked activator process; its apr_proc_t must live as long as its registration. */
typedef struct {
    activator_t *act;
    apr_proc_t proc;
    int registered; /* still in APR's list of other children */
} activator_run_t;

/* The parent's view of this generation's activator (lives in pconf). */
struct activator_t {
    autotls_ctx_t *ctx;
    apr_pool_t *pconf;
    pid_t parent_pid;
    activator_run_t *current; /* the running process, NULL when none */
    int stopping;             /* restart or stop under way: never fork again */
    int respawns;             /* unexpected deaths answered within the window */
    apr_time_t window_start;
};

/* The child's working state. */
typedef struct {
    autotls_ctx_t *ctx;
    at_store_t *stage;    /* the store, also trusting items owned by User (staging/ only) */
    apr_hash_t *sites;    /* site name -> autotls_site_t * */
    apr_hash_t *retry_at; /* site name -> apr_time_t *: do not look again before then */
    apr_time_t list_retry_at;
    apr_pool_t *pool;
} activator_child_t;

static volatile sig_atomic_t activator_stop_requested;

static apr_status_t activator_fork(activator_t *act);

/* ---- the child: one staged set ------------------------------------------------------------ */

static const char *activator_time_text(apr_pool_t *p, apr_time_t t, const char *format)
{
    char *text = apr_palloc(p, ACTIVATOR_TIME_TEXT_LEN);
    apr_size_t len = 0;
    apr_time_exp_t xt;

    if (apr_time_exp_gmt(&xt, t) != APR_SUCCESS ||
        apr_strftime(text, &len, ACTIVATOR_TIME_TEXT_LEN, format, &xt) != APR_SUCCESS) {
        return apr_psprintf(p, "%" APR_TIME_T_FMT, apr_time_sec(t));
    }
    return text;
}

/* A sortable UTC time stamp with microseconds: two promotions never share one. */
static const char *activator_stamp(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t xt;

    if (apr_time_exp_gmt(&xt, t) != APR_SUCCESS) {
        return apr_psprintf(p, "%" APR_TIME_T_FMT, t);
    }
    return apr_psprintf(p, ACTIVATOR_STAMP_FORMAT, xt.tm_year + ACTIVATOR_TM_YEAR_BASE,
                        xt.tm_mon + 1, xt.tm_mday, xt.tm_hour, xt.tm_min, xt.tm_sec, xt.tm_usec);
}

static void activator_retry_later(activator_child_t *ch, const char *site, apr_time_t now)
{
    apr_time_t *when = apr_hash_get(ch->retry_at, site, APR_HASH_KEY_STRING);

    if (when == NULL) {
        when = apr_palloc(ch->pool, sizeof(*when));
        apr_hash_set(ch->retry_at, apr_pstrdup(ch->pool, site), APR_HASH_KEY_STRING, when);
    }
    *when = now + ACTIVATOR_RETRY_AFTER;
}

/* staging/<site> itself must be a real directory of root or User that others cannot write. */
static apr_status_t activator_check_dir(const char **why, activator_child_t *ch,
                                        const autotls_site_t *site, apr_pool_t *p)
{
    const char *dir;
    struct stat st;
    apr_status_t rv;

    rv = at_store_path(ch->stage, AT_STORE_STAGING, NULL, site->name, &dir, p);
    if (rv != APR_SUCCESS) {
        *why = "the store cannot name its staging directory";
        return rv;
    }
    if (lstat(dir, &st) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *why = apr_psprintf(p, "cannot stat %s: %s", dir, at_strerror(p, rv));
        return rv;
    }
    if (!S_ISDIR(st.st_mode)) {
        *why = apr_psprintf(p, "%s is not a directory (a link or other file)", dir);
        return AT_EMODE;
    }
    if ((st.st_uid != 0 && st.st_uid != ap_unixd_config.user_id) ||
        (st.st_mode & ACTIVATOR_DIR_TOO_OPEN) != 0) {
        *why = apr_psprintf(p,
                            "%s is owned by uid %ld with mode %04o; expected root or uid %ld, "
                            "not writable by group or other",
                            dir, (long)st.st_uid, (unsigned)(st.st_mode & ACTIVATOR_MODE_PERMS),
                            (long)ap_unixd_config.user_id);
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
        return "a file of the set is a symbolic link or has an unsafe owner or mode";
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
                                     apr_time_t now, apr_pool_t *p)
{
    at_certset_check_t check;
    apr_status_t rv;

    if ((rv = activator_check_dir(why, ch, site, p)) != APR_SUCCESS) {
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

/* Drops the oldest archived sets of a site beyond ACTIVATOR_ARCHIVE_KEEP (items are sorted by
 * their time stamp prefix, two per set). */
static void activator_archive_trim(activator_child_t *ch, const char *site, apr_pool_t *p)
{
    apr_array_header_t *items;
    int i, excess;

    if (at_store_list(ch->ctx->store, AT_STORE_ARCHIVE, site, &items, p) != APR_SUCCESS) {
        return;
    }
    excess = items->nelts - 2 * ACTIVATOR_ARCHIVE_KEEP;
    for (i = 0; i < excess; i++) {
        at_store_remove(ch->ctx->store, AT_STORE_ARCHIVE, site,
                        APR_ARRAY_IDX(items, i, const char *), p);
    }
}

/* Copies live/<site> to archive/<site>/<stamp>.{privkey,fullchain}.pem; nothing live, nothing
 * to keep. A failure here is logged and does not stop the new set. */
static void activator_archive(activator_child_t *ch, const autotls_site_t *site, apr_time_t now,
                              apr_pool_t *p)
{
    at_store_t *store = ch->ctx->store;
    const char *stamp = activator_stamp(p, now);
    char *key, *chain;
    apr_size_t key_len, chain_len;
    apr_status_t rv;

    rv = at_store_load(store, AT_STORE_LIVE, site->name, AT_CERTSET_KEY, &key, &key_len,
                       AT_STORE_SECRET, p);
    if (rv == APR_SUCCESS) {
        rv = at_store_load(store, AT_STORE_LIVE, site->name, AT_CERTSET_CHAIN, &chain, &chain_len,
                           AT_STORE_PUBLIC, p);
    }
    if (rv == APR_ENOENT) {
        return;
    }
    if (rv == APR_SUCCESS) {
        rv = at_store_save(store, AT_STORE_ARCHIVE, site->name,
                           apr_pstrcat(p, stamp, ".", AT_CERTSET_KEY, NULL), key, key_len,
                           AT_STORE_SECRET, p);
    }
    if (rv == APR_SUCCESS) {
        rv = at_store_save(store, AT_STORE_ARCHIVE, site->name,
                           apr_pstrcat(p, stamp, ".", AT_CERTSET_CHAIN, NULL), chain, chain_len,
                           AT_STORE_PUBLIC, p);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, ch->ctx->main_server,
                     AUTOTLS_LOGNO(0310) "%s: cannot keep the previous live certificate in "
                                         "archive/; going on with the new one",
                     site->name);
        return;
    }
    activator_archive_trim(ch, site->name, p);
}

/* Writes the validated set to live/<site> as we parsed it (root-owned, key 0600). */
static apr_status_t activator_promote(activator_child_t *ch, const autotls_site_t *site,
                                      EVP_PKEY *key, const apr_array_header_t *chain, apr_pool_t *p)
{
    at_issue_result_t result;
    apr_status_t rv;

    memset(&result, 0, sizeof(result));
    if ((rv = at_key_to_pem(&result.key_pem, &result.key_len, p, key)) != APR_SUCCESS ||
        (rv = at_chain_to_pem(&result.chain_pem, &result.chain_len, p, chain)) != APR_SUCCESS) {
        return rv;
    }
    return at_certset_save(ch->ctx->store, AT_STORE_LIVE, site->name, &result, p);
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
                 activator_time_text(p, info->not_after, ACTIVATOR_DATE_FORMAT));
}

static void activator_drop_staged(activator_child_t *ch, const autotls_site_t *site, apr_time_t now,
                                  apr_pool_t *p)
{
    apr_status_t rv = at_store_purge(ch->stage, AT_STORE_STAGING, site->name, p);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, ch->ctx->main_server,
                     AUTOTLS_LOGNO(0313) "%s: cannot remove the staged set; looking at it again "
                                         "in %d s",
                     site->name, (int)apr_time_sec(ACTIVATOR_RETRY_AFTER));
        activator_retry_later(ch, site->name, now);
    }
}

/* Validates, promotes and publishes staging/<site>, or refuses it; the set is removed either
 * way, except when promoting fails (then it is tried again later). */
static void activator_take(activator_child_t *ch, const autotls_site_t *site, apr_pool_t *p)
{
    apr_time_t now = apr_time_now();
    apr_array_header_t *chain = NULL;
    EVP_PKEY *key = NULL;
    const char *why = NULL;
    apr_status_t rv;

    rv = activator_accept(&why, &key, &chain, ch, site, now, p);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, ch->ctx->main_server,
                     AUTOTLS_LOGNO(0314) "%s: refused staged certificate: %s", site->name,
                     why != NULL ? why : at_strerror(p, rv));
        activator_drop_staged(ch, site, now, p);
        return;
    }
    activator_archive(ch, site, now, p);
    if ((rv = activator_promote(ch, site, key, chain, p)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, ch->ctx->main_server,
                     AUTOTLS_LOGNO(0315) "%s: cannot write the new certificate to live/; the old "
                                         "one stays, trying again in %d s",
                     site->name, (int)apr_time_sec(ACTIVATOR_RETRY_AFTER));
        activator_retry_later(ch, site->name, now);
        return;
    }
    rv = autotls_slots_publish(ch->ctx->slots, site->slot, key, chain, 1);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, ch->ctx->main_server,
                     AUTOTLS_LOGNO(0316) "%s: the new certificate is in live/ but could not be "
                                         "published to the running server; it is served after "
                                         "the next restart",
                     site->name);
    }
    activator_drop_staged(ch, site, now, p);
    if (rv == APR_SUCCESS) {
        activator_log_live(ch, site, APR_ARRAY_IDX(chain, 0, X509 *), p);
    }
}

/* ---- the child: the loop ------------------------------------------------------------------ */

static int activator_is_ready(activator_child_t *ch, const char *site, apr_pool_t *p)
{
    const char *path;
    struct stat st;

    if (at_store_path(ch->stage, AT_STORE_STAGING, site, AUTOTLS_STAGING_READY, &path, p) !=
        APR_SUCCESS) {
        return 0;
    }
    return lstat(path, &st) == 0;
}

/* One look at staging/: every entry naming one of our sites with a `ready` set is taken. */
static void activator_scan(activator_child_t *ch, apr_pool_t *p)
{
    apr_time_t now = apr_time_now();
    apr_array_header_t *entries;
    int i;

    if (now < ch->list_retry_at) {
        return;
    }
    if (at_store_list(ch->stage, AT_STORE_STAGING, NULL, &entries, p) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, ch->ctx->main_server,
                     AUTOTLS_LOGNO(0317) "cannot list staging/ in %s; looking again in %d s",
                     ch->ctx->store_dir, (int)apr_time_sec(ACTIVATOR_RETRY_AFTER));
        ch->list_retry_at = now + ACTIVATOR_RETRY_AFTER;
        return;
    }
    for (i = 0; i < entries->nelts && !activator_stop_requested; i++) {
        const char *name = APR_ARRAY_IDX(entries, i, const char *);
        const autotls_site_t *site = apr_hash_get(ch->sites, name, APR_HASH_KEY_STRING);
        const apr_time_t *retry = apr_hash_get(ch->retry_at, name, APR_HASH_KEY_STRING);

        if (site == NULL || (retry != NULL && now < *retry) || !activator_is_ready(ch, name, p)) {
            continue;
        }
        activator_take(ch, site, p);
    }
}

static void activator_on_stop(int sig)
{
    activator_stop_requested = 1;
}

/* Undoes what the MPM set up for the parent: its handlers and its blocked signals. The parent's
 * stop and restart signals end the loop between two sets. */
static void activator_reset_signals(void)
{
    static const int stop_signals[] = {SIGTERM, SIGHUP, SIGINT, SIGUSR1, SIGWINCH};
    static const int default_signals[] = {SIGCHLD, SIGUSR2, SIGALRM, SIGXCPU, SIGXFSZ, SIGSEGV,
                                          SIGBUS,  SIGABRT, SIGILL,  SIGFPE,  SIGQUIT};
    struct sigaction sa;
    sigset_t none;
    apr_size_t i;

    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_DFL;
    for (i = 0; i < sizeof(default_signals) / sizeof(default_signals[0]); i++) {
        sigaction(default_signals[i], &sa, NULL);
    }
    sa.sa_handler = activator_on_stop; /* no SA_RESTART: the poll sleep ends at once */
    for (i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++) {
        sigaction(stop_signals[i], &sa, NULL);
    }
    sa.sa_handler = SIG_IGN; /* a dead piped logger must not kill us */
    sigaction(SIGPIPE, &sa, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
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
    for (i = 0; i < ctx->sites->nelts; i++) {
        autotls_site_t *site = APR_ARRAY_IDX(ctx->sites, i, autotls_site_t *);

        apr_hash_set(ch->sites, site->name, APR_HASH_KEY_STRING, site);
    }
    rv = at_store_fs_open(&ch->stage, pool, ctx->store_dir);
    if (rv == APR_SUCCESS) {
        at_store_fs_trust_owner(ch->stage, ap_unixd_config.user_id);
    }
    return rv;
}

/* The activator process: never returns, and leaves with _exit so that none of the parent's
 * pool cleanups or atexit handlers run here. */
static void activator_child_main(activator_t *act)
{
    autotls_ctx_t *ctx = act->ctx;
    activator_child_t ch;
    apr_pool_t *pool, *scan;
    apr_status_t rv;

    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != act->parent_pid) {
        _exit(0); /* the parent died before we could ask to be told */
    }
    prctl(PR_SET_NAME, AUTOTLS_ACTIVATOR_TITLE, 0, 0, 0);
    activator_reset_signals();
    ap_close_listeners();
    if ((rv = apr_pool_create(&pool, act->pconf)) != APR_SUCCESS ||
        (rv = apr_pool_create(&scan, pool)) != APR_SUCCESS ||
        (rv = activator_child_init(&ch, ctx, pool)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, ctx->main_server,
                     AUTOTLS_LOGNO(0318) "activator cannot start, pid %ld (store %s)",
                     (long)getpid(), ctx->store_dir);
        _exit(ACTIVATOR_EXIT_FAILURE);
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, ctx->main_server,
                 AUTOTLS_LOGNO(0300) "activator started, pid %ld, watching %d site(s)",
                 (long)getpid(), ctx->sites->nelts);
    while (!activator_stop_requested && getppid() == act->parent_pid) {
        activator_scan(&ch, scan);
        apr_pool_clear(scan);
        if (!activator_stop_requested) {
            apr_sleep(AUTOTLS_ACTIVATOR_POLL);
        }
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, ctx->main_server,
                 AUTOTLS_LOGNO(0301) "activator stopped, pid %ld", (long)getpid());
    _exit(0);
}

/* ---- the parent: fork, watch, stop -------------------------------------------------------- */

/* What happened to a reaped process, in buf. */
static const char *activator_status_text(char *buf, apr_size_t size, int status)
{
    if (status >= 0 && WIFSIGNALED(status)) {
        apr_snprintf(buf, size, "was killed by signal %d", WTERMSIG(status));
    } else if (status >= 0 && WIFEXITED(status)) {
        apr_snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
    } else {
        apr_snprintf(buf, size, "is gone");
    }
    return buf;
}

/* Whether one more unexpected death may be answered with a fork (bounded crash loops). */
static int activator_may_respawn(activator_t *act)
{
    apr_time_t now = apr_time_now();

    if (now - act->window_start > ACTIVATOR_RESPAWN_WINDOW) {
        act->window_start = now;
        act->respawns = 0;
    }
    return ++act->respawns <= ACTIVATOR_RESPAWN_MAX;
}

/* Whether the MPM is on its way out (a stop or a restart signals the whole process group). */
static int activator_server_stopping(void)
{
    int state;

    return ap_mpm_query(AP_MPMQ_MPM_STATE, &state) == APR_SUCCESS && state == AP_MPMQ_STOPPING;
}

/* Forks a new activator after an unexpected death, within the crash-loop budget. */
static void activator_respawn(activator_t *act, const activator_run_t *dead, int status)
{
    char how[ACTIVATOR_STATUS_TEXT_LEN];

    activator_status_text(how, sizeof(how), status);
    if (!activator_may_respawn(act)) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, act->ctx->main_server,
                     AUTOTLS_LOGNO(0302) "activator (pid %ld) %s; it died %d times within %d s, "
                                         "not starting it again: new certificates go live only "
                                         "after a restart",
                     (long)dead->proc.pid, how, ACTIVATOR_RESPAWN_MAX,
                     (int)apr_time_sec(ACTIVATOR_RESPAWN_WINDOW));
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, act->ctx->main_server,
                 AUTOTLS_LOGNO(0303) "activator (pid %ld) %s; starting a new one",
                 (long)dead->proc.pid, how);
    activator_fork(act);
}

/*
 * Called by the MPM about one forked activator. After a death APR leaves the record in its list
 * with no process, and the next death of any other child walks into it and crashes the parent:
 * so DEATH and LOST drop the record here. That is safe only because UNREGISTER (which the drop
 * calls back with) does nothing but note it: unregistering from UNREGISTER recurses forever.
 * A death of the current process forks a new one unless the server is stopping or restarting.
 */
static void activator_maintenance(int reason, void *data, int status)
{
    activator_run_t *run = data;
    activator_t *act = run->act;

    switch (reason) {
    case APR_OC_REASON_DEATH:
    case APR_OC_REASON_LOST:
        if (run->registered) {
            run->registered = 0;
            apr_proc_other_child_unregister(run);
        }
        if (act->current != run) {
            return; /* an earlier process of ours, already replaced */
        }
        act->current = NULL;
        if (!act->stopping && !activator_server_stopping()) {
            activator_respawn(act, run, status);
        }
        return;
    case APR_OC_REASON_RESTART:
        /* The MPM is restarting or stopping; the pconf cleanup ends the process. */
        act->stopping = 1;
        return;
    case APR_OC_REASON_UNREGISTER:
        run->registered = 0;
        return;
    case APR_OC_REASON_RUNNING:
    default:
        return;
    }
}

static apr_status_t activator_fork(activator_t *act)
{
    activator_run_t *run = apr_pcalloc(act->pconf, sizeof(*run));
    apr_status_t rv;

    run->act = act;
    rv = apr_proc_fork(&run->proc, act->pconf);
    if (rv == APR_INCHILD) {
        activator_child_main(act); /* does not return */
    }
    if (rv != APR_INPARENT || run->proc.pid <= 0) {
        rv = rv == APR_INPARENT ? APR_EGENERAL : rv;
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, act->ctx->main_server,
                     AUTOTLS_LOGNO(0304) "cannot fork the activator: new certificates go live "
                                         "only after a restart");
        return rv;
    }
    act->current = run;
    run->registered = 1;
    apr_proc_other_child_register(&run->proc, activator_maintenance, run, NULL, act->pconf);
    return APR_SUCCESS;
}

/* Waits up to `wait` for pid to be reaped; 1 when it is gone (by us or anyone else). */
static int activator_reap(pid_t pid, apr_interval_time_t wait)
{
    apr_time_t deadline = apr_time_now() + wait;
    int status;

    do {
        pid_t got = waitpid(pid, &status, WNOHANG);

        if (got == pid || (got < 0 && errno == ECHILD)) {
            return 1;
        }
        if (got < 0 && errno != EINTR) {
            return 1;
        }
        apr_sleep(ACTIVATOR_REAP_STEP);
    } while (apr_time_now() < deadline);
    return 0;
}

/* pconf cleanup: ends this generation's activator (SIGTERM, then SIGKILL) and reaps it. */
static apr_status_t activator_stop(void *data)
{
    activator_t *act = data;
    activator_run_t *run = act->current;
    pid_t pid;

    act->stopping = 1;
    act->current = NULL;
    if (run == NULL || run->proc.pid <= 0 || getpid() != act->parent_pid) {
        return APR_SUCCESS;
    }
    pid = run->proc.pid;
    if (kill(pid, SIGTERM) != 0 && errno == ESRCH) {
        activator_reap(pid, 0);
        return APR_SUCCESS;
    }
    if (activator_reap(pid, ACTIVATOR_STOP_GRACE)) {
        return APR_SUCCESS;
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, act->ctx->main_server,
                 AUTOTLS_LOGNO(0305) "activator (pid %ld) did not stop within %d s; killing it",
                 (long)pid, (int)apr_time_sec(ACTIVATOR_STOP_GRACE));
    kill(pid, SIGKILL);
    if (!activator_reap(pid, ACTIVATOR_KILL_WAIT)) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, act->ctx->main_server,
                     AUTOTLS_LOGNO(0306) "activator (pid %ld) could not be reaped", (long)pid);
    }
    return APR_SUCCESS;
}

apr_status_t autotls_activator_start(autotls_ctx_t *ctx, apr_pool_t *pconf)
{
    activator_t *act;

    if (ap_state_query(AP_SQ_RUN_MODE) != AP_SQ_RM_NORMAL ||
        ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return APR_SUCCESS;
    }
    if (ctx == NULL || ctx->sites == NULL || ctx->sites->nelts == 0 || ctx->slots == NULL ||
        ctx->store == NULL) {
        return APR_SUCCESS; /* nothing managed: nothing to activate */
    }
    act = apr_pcalloc(pconf, sizeof(*act));
    act->ctx = ctx;
    act->pconf = pconf;
    act->parent_pid = getpid();
    act->window_start = apr_time_now();
    /* Registered before the fork: a failed fork leaves nothing for it to do. */
    apr_pool_cleanup_register(pconf, act, activator_stop, apr_pool_cleanup_null);
    return activator_fork(act);
}
