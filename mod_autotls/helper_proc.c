/* SPDX-License-Identifier: Apache-2.0 */
/*
 * helper_proc.c: fork, watch, respawn and stop the module's helper processes.
 *
 * The one idea: exactly one helper of each kind runs per configuration generation, and the
 * parent never trips over its records. The mod_cgid daemon pattern: the parent forks it in
 * post_config and registers it as an "other child" so that the MPM reports its death (a new one
 * is forked, within a crash-loop budget); a pconf cleanup ends it at every restart and stop.
 * A helper that hands over (the renewal process) is only told to stop: its pid is kept in the
 * parent's retained data, and the next generation registers it again, so that its death is
 * accounted for (no "long lost child") while it finishes its work. After a death APR leaves the
 * record in its list with no process, and the next death of any other child walks into it and
 * crashes the parent: DEATH and LOST drop the record, and UNREGISTER only notes it (unregistering
 * from there recurses).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* prctl */
#endif

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h> /* malloc_trim */
#endif
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <ap_listen.h>
#include <ap_mpm.h>

#include "helper_proc.h"
#include "log_glue.h"

APLOG_USE_MODULE(autotls);

/* Stopping a helper that does not hand over: SIGTERM, SIGKILL after the grace, then give up. */
#define HELPER_STOP_GRACE apr_time_from_sec(3)
#define HELPER_KILL_WAIT apr_time_from_sec(2)
#define HELPER_REAP_STEP apr_time_from_msec(10)
/* At most this many unexpected deaths are answered with a new fork within the window. */
#define HELPER_RESPAWN_MAX 5
#define HELPER_RESPAWN_WINDOW apr_time_from_sec(60)
#define HELPER_STATUS_TEXT_LEN 64
/* Handed-over processes the parent keeps track of across generations. */
#define HELPER_HANDED_MAX 16
#define HELPER_RETAINED_KEY "mod_autotls-handed-over"

typedef struct helper_t helper_t;

/* One forked process; its apr_proc_t must live as long as its registration. */
typedef struct {
    helper_t *helper; /* NULL: a handed-over process of an earlier generation */
    apr_proc_t proc;
    int registered; /* still in APR's list of other children */
} helper_run_t;

/* The parent's view of this generation's helper of one kind (lives in pconf). */
struct helper_t {
    const autotls_helper_desc_t *desc;
    autotls_ctx_t *ctx;
    apr_pool_t *pconf;
    pid_t parent_pid;
    helper_run_t *current; /* the running process, NULL when none */
    int stopping;          /* restart or stop under way: never fork again */
    int gate_fd;           /* gated: the write end of the current process's gate, -1 none */
    int go;                /* gated: autotls_helper_go was called in this generation */
    int respawns;          /* unexpected deaths answered within the window */
    apr_time_t window_start;
};

/* Pids told to stop and handed to the next generation (the parent's retained data). */
typedef struct {
    pid_t pids[HELPER_HANDED_MAX];
} helper_handed_t;

static apr_status_t helper_fork(helper_t *helper);

/* This generation's gated helpers, for autotls_helper_go (cleared with pconf). */
#define HELPER_GATED_MAX 2
static helper_t *helper_gated[HELPER_GATED_MAX];
/* In a forked gated helper: the read end of its gate, -1 otherwise. */
static int helper_gate_in = -1;
/* What the parent writes into a gate: go on. */
#define HELPER_GATE_GO 'g'

static helper_handed_t *helper_handed(void)
{
    helper_handed_t *handed = ap_retained_data_get(HELPER_RETAINED_KEY);

    return handed != NULL ? handed : ap_retained_data_create(HELPER_RETAINED_KEY, sizeof(*handed));
}

static void helper_handed_set(pid_t pid, int keep)
{
    helper_handed_t *handed = helper_handed();
    int i, free_slot = -1;

    for (i = 0; i < HELPER_HANDED_MAX; i++) {
        if (handed->pids[i] == pid) {
            handed->pids[i] = keep ? pid : 0;
            return;
        }
        if (handed->pids[i] == 0 && free_slot < 0) {
            free_slot = i;
        }
    }
    if (keep && free_slot >= 0) {
        handed->pids[free_slot] = pid;
    }
}

/* What happened to a reaped process, in buf. */
static const char *helper_status_text(char *buf, apr_size_t size, int status)
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
static int helper_may_respawn(helper_t *helper)
{
    apr_time_t now = apr_time_now();

    if (now - helper->window_start > HELPER_RESPAWN_WINDOW) {
        helper->window_start = now;
        helper->respawns = 0;
    }
    return ++helper->respawns <= HELPER_RESPAWN_MAX;
}

/* Whether the MPM is on its way out (a stop or a restart signals the whole process group). */
static int helper_server_stopping(void)
{
    int state;

    return ap_mpm_query(AP_MPMQ_MPM_STATE, &state) == APR_SUCCESS && state == AP_MPMQ_STOPPING;
}

/* Forks a new helper after an unexpected death, within the crash-loop budget. */
static void helper_respawn(helper_t *helper, const helper_run_t *dead, int status)
{
    char how[HELPER_STATUS_TEXT_LEN];

    helper_status_text(how, sizeof(how), status);
    if (!helper_may_respawn(helper)) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, helper->ctx->main_server,
                     AUTOTLS_LOGNO(0302) "%s (pid %ld) %s; it died %d times within %d s, not "
                                         "starting it again until the next restart",
                     helper->desc->what, (long)dead->proc.pid, how, HELPER_RESPAWN_MAX,
                     (int)apr_time_sec(HELPER_RESPAWN_WINDOW));
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, helper->ctx->main_server,
                 AUTOTLS_LOGNO(0303) "%s (pid %ld) %s; starting a new one", helper->desc->what,
                 (long)dead->proc.pid, how);
    helper_fork(helper);
}

/* Called by the MPM about one forked process (see the header comment on DEATH/UNREGISTER). */
static void helper_maintenance(int reason, void *data, int status)
{
    helper_run_t *run = data;
    helper_t *helper = run->helper;

    switch (reason) {
    case APR_OC_REASON_DEATH:
    case APR_OC_REASON_LOST:
        if (run->registered) {
            run->registered = 0;
            apr_proc_other_child_unregister(run);
        }
        if (helper == NULL) {
            helper_handed_set(run->proc.pid, 0); /* a handed-over process finished */
            return;
        }
        if (helper->current != run) {
            return; /* an earlier process of ours, already replaced */
        }
        helper->current = NULL;
        if (!helper->stopping && !helper_server_stopping()) {
            helper_respawn(helper, run, status);
        }
        return;
    case APR_OC_REASON_RESTART:
        if (helper != NULL) {
            helper->stopping = 1; /* the pconf cleanup ends the process */
        }
        return;
    case APR_OC_REASON_UNREGISTER:
        run->registered = 0;
        return;
    case APR_OC_REASON_RUNNING:
    default:
        return;
    }
}

static void helper_register(helper_run_t *run, apr_pool_t *pconf)
{
    run->registered = 1;
    apr_proc_other_child_register(&run->proc, helper_maintenance, run, NULL, pconf);
}

static void helper_gate_close(helper_t *helper)
{
    if (helper->gate_fd >= 0) {
        close(helper->gate_fd);
        helper->gate_fd = -1;
    }
}

/* Tells the current process to go on; the gate is closed afterwards either way (at EOF a waiting
 * helper leaves: that is also what it sees when the parent dies). */
static void helper_gate_open(helper_t *helper)
{
    const char go = HELPER_GATE_GO;

    if (helper->gate_fd >= 0 && write(helper->gate_fd, &go, 1) != 1) {
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, helper->ctx->main_server,
                     AUTOTLS_LOGNO(0307) "cannot tell the %s to start", helper->desc->what);
    }
    helper_gate_close(helper);
}

static apr_status_t helper_gated_forget(void *data)
{
    int i;

    for (i = 0; i < HELPER_GATED_MAX; i++) {
        if (helper_gated[i] == data) {
            helper_gate_close(helper_gated[i]);
            helper_gated[i] = NULL;
        }
    }
    return APR_SUCCESS;
}

void autotls_helper_go(const autotls_helper_desc_t *desc)
{
    int i;

    for (i = 0; i < HELPER_GATED_MAX; i++) {
        if (helper_gated[i] != NULL && helper_gated[i]->desc == desc) {
            helper_gated[i]->go = 1;
            helper_gate_open(helper_gated[i]);
        }
    }
}

static apr_status_t helper_fork(helper_t *helper)
{
    helper_run_t *run = apr_pcalloc(helper->pconf, sizeof(*run));
    apr_status_t rv;

    int gate[2] = {-1, -1};

    run->helper = helper;
    rv =
        helper->desc->around_fork != NULL ? helper->desc->around_fork(helper->ctx, 1) : APR_SUCCESS;
    if (rv == APR_SUCCESS && helper->desc->gated && pipe2(gate, O_CLOEXEC) != 0) {
        rv = errno;
    }
    if (rv == APR_SUCCESS) {
        rv = apr_proc_fork(&run->proc, helper->pconf);
    }
    if (rv == APR_INCHILD) {
        if (gate[1] >= 0) {
            close(gate[1]);
            helper_gate_in = gate[0];
        }
        helper->desc->run(helper->ctx, helper->parent_pid, helper->pconf); /* does not return */
        _exit(1);
    }
    if (helper->desc->around_fork != NULL) {
        helper->desc->around_fork(helper->ctx, 0);
    }
    if (gate[0] >= 0) {
        close(gate[0]);
        helper_gate_close(helper);
        helper->gate_fd = gate[1];
        if (helper->go) {
            helper_gate_open(helper); /* a respawn after the go: no reason to wait */
        }
    }
    if (rv != APR_INPARENT || run->proc.pid <= 0) {
        rv = rv == APR_INPARENT ? APR_EGENERAL : rv;
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, helper->ctx->main_server,
                     AUTOTLS_LOGNO(0304) "cannot fork the %s", helper->desc->what);
        return rv;
    }
    helper->current = run;
    helper_register(run, helper->pconf);
    return APR_SUCCESS;
}

/* Waits up to `wait` for pid to be reaped; 1 when it is gone (by us or anyone else). */
static int helper_reap(pid_t pid, apr_interval_time_t wait)
{
    apr_time_t deadline = apr_time_now() + wait;
    int status;

    do {
        pid_t got = waitpid(pid, &status, WNOHANG);

        if (got == pid || (got < 0 && errno != EINTR)) {
            return 1;
        }
        apr_sleep(HELPER_REAP_STEP);
    } while (apr_time_now() < deadline);
    return 0;
}

/* pconf cleanup: ends this generation's process (see autotls_helper_desc_t.hand_over). */
static apr_status_t helper_stop(void *data)
{
    helper_t *helper = data;
    helper_run_t *run = helper->current;
    pid_t pid;

    helper->stopping = 1;
    helper->current = NULL;
    if (run == NULL || run->proc.pid <= 0 || getpid() != helper->parent_pid) {
        return APR_SUCCESS;
    }
    pid = run->proc.pid;
    if (kill(pid, SIGTERM) != 0 && errno == ESRCH) {
        helper_reap(pid, 0);
        return APR_SUCCESS;
    }
    if (helper->desc->hand_over) {
        helper_handed_set(pid, 1); /* the next generation watches it (helper_adopt_handed) */
        return APR_SUCCESS;
    }
    if (helper_reap(pid, HELPER_STOP_GRACE)) {
        return APR_SUCCESS;
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, helper->ctx->main_server,
                 AUTOTLS_LOGNO(0305) "%s (pid %ld) did not stop within %d s; killing it",
                 helper->desc->what, (long)pid, (int)apr_time_sec(HELPER_STOP_GRACE));
    kill(pid, SIGKILL);
    if (!helper_reap(pid, HELPER_KILL_WAIT)) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, helper->ctx->main_server,
                     AUTOTLS_LOGNO(0306) "%s (pid %ld) could not be reaped", helper->desc->what,
                     (long)pid);
    }
    return APR_SUCCESS;
}

/* Registers the processes earlier generations handed over and that still run, so that the MPM
 * tells us (not the log) when they end; those already gone are forgotten. */
static void helper_adopt_handed(apr_pool_t *pconf)
{
    helper_handed_t *handed = helper_handed();
    int i, status;

    for (i = 0; i < HELPER_HANDED_MAX; i++) {
        pid_t pid = handed->pids[i];
        helper_run_t *run;

        if (pid <= 0) {
            continue;
        }
        if (waitpid(pid, &status, WNOHANG) != 0 || kill(pid, 0) != 0) {
            handed->pids[i] = 0; /* reaped now, or already by the MPM */
            continue;
        }
        run = apr_pcalloc(pconf, sizeof(*run));
        run->proc.pid = pid;
        helper_register(run, pconf);
    }
}

apr_status_t autotls_helper_start(const autotls_helper_desc_t *desc, autotls_ctx_t *ctx,
                                  apr_pool_t *pconf)
{
    helper_t *helper;

    if (ap_state_query(AP_SQ_RUN_MODE) != AP_SQ_RM_NORMAL ||
        ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return APR_SUCCESS;
    }
    if (desc->hand_over) {
        helper_adopt_handed(pconf);
    }
    helper = apr_pcalloc(pconf, sizeof(*helper));
    helper->desc = desc;
    helper->ctx = ctx;
    helper->pconf = pconf;
    helper->parent_pid = getpid();
    helper->window_start = apr_time_now();
    helper->gate_fd = -1;
    /* Registered before the fork: a failed fork leaves nothing for it to do. */
    apr_pool_cleanup_register(pconf, helper, helper_stop, apr_pool_cleanup_null);
    if (desc->gated) {
        int i;

        for (i = 0; i < HELPER_GATED_MAX && helper_gated[i] != NULL; i++) {
        }
        if (i == HELPER_GATED_MAX) {
            return APR_ENOSPC; /* a programming error: more gated kinds than slots */
        }
        helper_gated[i] = helper;
        apr_pool_cleanup_register(pconf, helper, helper_gated_forget, apr_pool_cleanup_null);
    }
    return helper_fork(helper);
}

/* ---- the forked process's side ------------------------------------------------------------ */

/* The parent's stop and restart signals (a prefork parent sends them to the process group). */
static const int helper_stop_signals[] = {SIGTERM, SIGHUP, SIGINT, SIGUSR1, SIGWINCH};

void autotls_helper_stop_signals(sigset_t *set)
{
    apr_size_t i;

    sigemptyset(set);
    for (i = 0; i < sizeof(helper_stop_signals) / sizeof(helper_stop_signals[0]); i++) {
        sigaddset(set, helper_stop_signals[i]);
    }
}

/* A gated helper waits for the parent's go; end of file (the parent closed the gate without it,
 * or died) and a stop signal (EINTR: the handlers have no SA_RESTART) end the process. */
static void helper_wait_go(void)
{
    char go = 0;
    ssize_t got = read(helper_gate_in, &go, 1);

    close(helper_gate_in);
    helper_gate_in = -1;
    if (got != 1 || go != HELPER_GATE_GO) {
        _exit(0);
    }
}

void autotls_helper_enter(pid_t parent_pid, const char *title, void (*on_stop)(int))
{
    static const int default_signals[] = {SIGCHLD, SIGUSR2, SIGALRM, SIGXCPU, SIGXFSZ, SIGSEGV,
                                          SIGBUS,  SIGABRT, SIGILL,  SIGFPE,  SIGQUIT};
    struct sigaction sa;
    sigset_t none;
    apr_size_t i;

    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent_pid) {
        _exit(0); /* the parent died before we could ask to be told */
    }
    prctl(PR_SET_NAME, title, 0, 0, 0);
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_DFL;
    for (i = 0; i < sizeof(default_signals) / sizeof(default_signals[0]); i++) {
        sigaction(default_signals[i], &sa, NULL);
    }
    sa.sa_handler = on_stop; /* no SA_RESTART: a sleep ends at once */
    for (i = 0; i < sizeof(helper_stop_signals) / sizeof(helper_stop_signals[0]); i++) {
        sigaction(helper_stop_signals[i], &sa, NULL);
    }
    sa.sa_handler = SIG_IGN; /* a dead piped logger must not kill us */
    sigaction(SIGPIPE, &sa, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    ap_close_listeners();
    if (helper_gate_in >= 0) {
        helper_wait_go();
    }
    autotls_memory_release();
}

void autotls_memory_release(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}
