/*
 * activator_proc.c: the parent's side of the activator: fork it, answer its death, stop it.
 *
 * The one idea: exactly one activator runs per configuration generation, and the parent never
 * trips over its records. The mod_cgid daemon pattern: the parent forks it in post_config,
 * registers it as an "other child" so that the MPM reports its death (the parent then forks a
 * new one, within a crash-loop budget), and a pconf cleanup stops and reaps it, so that each
 * restart ends the old generation's activator before post_config starts the next one. What the
 * process does is activator.c.
 */
#include <errno.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <ap_mpm.h>

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
#define ACTIVATOR_STATUS_TEXT_LEN 64

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

static apr_status_t activator_fork(activator_t *act);

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
    /* The one fork that gets the slots' writer; single-threaded here, so no other in between. */
    rv = autotls_slots_writer_inherit(act->ctx->slots, 1);
    if (rv == APR_SUCCESS) {
        rv = apr_proc_fork(&run->proc, act->pconf);
    }
    if (rv == APR_INCHILD) {
        autotls_slots_writer_inherit(act->ctx->slots, 0); /* ours now; passed on to nobody */
        autotls_activator_run(act->ctx, act->parent_pid, act->pconf); /* does not return */
    }
    autotls_slots_writer_inherit(act->ctx->slots, 0);
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
