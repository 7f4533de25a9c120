/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notify.c: AutoTLSNotifyCommand: the admin's command, run for each certificate event.
 *
 * The one idea: a notification must never cost a renewal. The command runs only in the renewal
 * process (the ACME account, never root), from a small bounded queue emptied by a few runner
 * threads of its own; each run is a posix_spawn in a process group of its own, with a clean
 * environment (no variable of httpd's, no secret), stdin from /dev/null, its output captured up
 * to a bound and logged with the site, and a time limit after which the whole group is killed.
 * A full queue drops events with one log line; a failing, hanging or missing command is logged
 * and nothing else changes.
 *
 *   argv: COMMAND EVENT SITE
 *   env:  AUTOTLS_EVENT AUTOTLS_SITE AUTOTLS_NAMES (space-separated) AUTOTLS_SERIAL (hex)
 *         AUTOTLS_NOT_AFTER (RFC 3339, UTC) AUTOTLS_ERROR, and PATH, LANG, HOME
 *
 * Events known first to a root process arrive as event files in jobs/ (at_event.h), taken by
 * the scheduler's tick (autotls_notify_take_files).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2, posix_spawn_file_actions_addclosefrom_np */
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>

#include <httpd.h>
#include <http_log.h>

#include "at_core.h"
#include "log_glue.h"
#include "notify.h"
#include "renew_job.h"

APLOG_USE_MODULE(autotls);

/* How often a runner looks at its command while it runs (output, exit, time limit, stop). */
#define NOTIFY_POLL_MSEC 50
#define NOTIFY_READ_CHUNK 512
#define NOTIFY_ENV_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define NOTIFY_ENV_LANG "LANG=C"
#define NOTIFY_ENV_HOME "HOME=/"
#define NOTIFY_ENV_COUNT 10 /* the nine variables and the NULL */
#define NOTIFY_CTRL_LAST 0x1f
#define NOTIFY_DEL 0x7f
#define NOTIFY_FIRST_INHERITED_FD 3 /* above stdin, stdout, stderr: nothing else goes along */

/* One queued event: plain C strings (malloc), so that any thread may post and free. */
typedef struct {
    char *kind, *site, *names, *serial, *not_after, *error;
} notify_entry_t;

struct autotls_notify_t {
    autotls_ctx_t *ctx;
    const char *command;
    apr_interval_time_t timeout;
    apr_thread_mutex_t *lock; /* guards the queue, stopping and overflow */
    apr_thread_cond_t *ready;
    notify_entry_t queue[AUTOTLS_NOTIFY_QUEUE_MAX];
    int head, count;
    int stopping;
    int overflow; /* events dropped in this spell of a full queue */
    apr_thread_t *runners[AUTOTLS_NOTIFY_RUNNERS];
    int runner_count;
};

static void notify_entry_free(notify_entry_t *e)
{
    free(e->kind);
    free(e->site);
    free(e->names);
    free(e->serial);
    free(e->not_after);
    free(e->error);
    memset(e, 0, sizeof(*e));
}

static char *notify_dup(const char *s)
{
    return strdup(s != NULL ? s : "");
}

static int notify_stopping(autotls_notify_t *n)
{
    int stopping;

    apr_thread_mutex_lock(n->lock);
    stopping = n->stopping;
    apr_thread_mutex_unlock(n->lock);
    return stopping;
}

void autotls_notify_post(autotls_notify_t *n, const at_event_t *event)
{
    apr_pool_t *p;
    notify_entry_t *e;
    int dropped = 0;

    if (n == NULL || event == NULL || apr_pool_create(&p, NULL) != APR_SUCCESS) {
        return;
    }
    apr_thread_mutex_lock(n->lock);
    if (n->stopping) {
        apr_thread_mutex_unlock(n->lock);
        apr_pool_destroy(p);
        return;
    }
    if (n->count >= AUTOTLS_NOTIFY_QUEUE_MAX) {
        dropped = ++n->overflow == 1;
    } else {
        e = &n->queue[(n->head + n->count) % AUTOTLS_NOTIFY_QUEUE_MAX];
        e->kind = notify_dup(at_event_kind_name(event->kind));
        e->site = notify_dup(event->site);
        e->names = notify_dup(event->names != NULL ? apr_array_pstrcat(p, event->names, ' ') : "");
        e->serial = notify_dup(event->serial);
        e->not_after =
            notify_dup(event->not_after > 0 ? autotls_job_time_text(p, event->not_after) : "");
        e->error = notify_dup(event->error);
        ++n->count;
        n->overflow = 0;
        apr_thread_cond_signal(n->ready);
    }
    apr_thread_mutex_unlock(n->lock);
    if (dropped) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, n->ctx->main_server,
                     AUTOTLS_LOGNO(0800) "%s: notification queue full (%d events waiting for "
                                         "%s); dropping events until it drains",
                     event->site, AUTOTLS_NOTIFY_QUEUE_MAX, n->command);
    }
    apr_pool_destroy(p);
}

/* The output as one log-safe line: control characters (line ends included) become spaces, a run
 * of them one space, none at the ends. */
static const char *notify_output_text(apr_pool_t *p, const char *out, apr_size_t len)
{
    char *text = apr_palloc(p, len + 1), *to = text;
    apr_size_t i;

    for (i = 0; i < len; ++i) {
        unsigned char c = (unsigned char)out[i];
        int blank = c <= NOTIFY_CTRL_LAST || c == NOTIFY_DEL || c == ' ';

        if (!blank) {
            *to++ = (char)c;
        } else if (to > text && to[-1] != ' ') {
            *to++ = ' ';
        }
    }
    if (to > text && to[-1] == ' ') {
        --to;
    }
    *to = '\0';
    return text;
}

static char **notify_env(apr_pool_t *p, const notify_entry_t *e)
{
    char **env = apr_pcalloc(p, sizeof(char *) * NOTIFY_ENV_COUNT);
    int i = 0;

    env[i++] = NOTIFY_ENV_PATH;
    env[i++] = NOTIFY_ENV_LANG;
    env[i++] = NOTIFY_ENV_HOME;
    env[i++] = apr_pstrcat(p, "AUTOTLS_EVENT=", e->kind, NULL);
    env[i++] = apr_pstrcat(p, "AUTOTLS_SITE=", e->site, NULL);
    env[i++] = apr_pstrcat(p, "AUTOTLS_NAMES=", e->names, NULL);
    env[i++] = apr_pstrcat(p, "AUTOTLS_SERIAL=", e->serial, NULL);
    env[i++] = apr_pstrcat(p, "AUTOTLS_NOT_AFTER=", e->not_after, NULL);
    env[i++] = apr_pstrcat(p, "AUTOTLS_ERROR=", e->error, NULL);
    env[i] = NULL;
    return env;
}

/* posix_spawn in a process group of its own, stdin /dev/null, stdout and stderr into out_fd, no
 * other descriptor (libcurl's sockets and the store's files are not all close-on-exec), every
 * signal at its default and none blocked. */
static int notify_spawn(pid_t *pid, autotls_notify_t *n, const notify_entry_t *e, int out_fd,
                        apr_pool_t *p)
{
    char *argv[] = {(char *)n->command, e->kind, e->site, NULL};
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    sigset_t none, defaults;
    int err;

    sigemptyset(&none);
    sigfillset(&defaults);
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out_fd, STDERR_FILENO);
    posix_spawn_file_actions_addclosefrom_np(&actions, NOTIFY_FIRST_INHERITED_FD);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    err = posix_spawn(pid, n->command, &actions, &attr, argv, notify_env(p, e));
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    return err;
}

/* Reads what is there into out (up to the bound; the rest is read and dropped); 0 at EOF. */
static int notify_read(int fd, char *out, apr_size_t *len)
{
    char buf[NOTIFY_READ_CHUNK];
    ssize_t got = read(fd, buf, sizeof(buf));
    apr_size_t keep;

    if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN)) {
        return 0;
    }
    if (got > 0 && *len < AUTOTLS_NOTIFY_OUTPUT_MAX) {
        keep = AUTOTLS_NOTIFY_OUTPUT_MAX - *len;
        keep = (apr_size_t)got < keep ? (apr_size_t)got : keep;
        memcpy(out + *len, buf, keep);
        *len += keep;
    }
    return 1;
}

/* Whether the command (the group's leader) has exited; it is left unreaped, so that its pid, the
 * group's id, cannot be reused before the group is killed. */
static int notify_exited(pid_t pid)
{
    siginfo_t info;

    memset(&info, 0, sizeof(info));
    return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

/* Watches the command until it exited and its output ended, its time limit or a stop. Then its
 * whole process group is killed in every case (a child it left behind, holding the pipe or not,
 * neither escapes nor keeps a runner waiting) and the command reaped. *status as waitpid gives
 * it; 1 when its time limit or a stop ended the watch. */
static int notify_watch(autotls_notify_t *n, pid_t pid, int fd, int *status, char *out,
                        apr_size_t *len)
{
    apr_time_t deadline = apr_time_now() + n->timeout;
    int open_fd = 1, exited = 0, killed = 0;
    struct pollfd pfd;

    while (open_fd || !exited) {
        if (apr_time_now() >= deadline || notify_stopping(n)) {
            killed = 1;
            break;
        }
        exited = exited || notify_exited(pid);
        pfd.fd = fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (open_fd && poll(&pfd, 1, NOTIFY_POLL_MSEC) > 0) {
            open_fd = notify_read(fd, out, len);
        } else if (!open_fd) {
            apr_sleep(apr_time_from_msec(NOTIFY_POLL_MSEC));
        } else if (exited) {
            break; /* exited, and nothing more to read now: a leftover child holds the pipe */
        }
    }
    kill(-pid, SIGKILL);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
    }
    return killed;
}

static void notify_run(autotls_notify_t *n, const notify_entry_t *e, apr_pool_t *p)
{
    server_rec *s = n->ctx->main_server;
    char out[AUTOTLS_NOTIFY_OUTPUT_MAX];
    apr_size_t len = 0;
    int fds[2], err, status = 0, killed;
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) != 0) {
        err = errno;
    } else if ((err = notify_spawn(&pid, n, e, fds[1], p)) != 0) {
        close(fds[0]);
        close(fds[1]);
    } else {
        close(fds[1]);
    }
    if (err != 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, APR_FROM_OS_ERROR(err), s,
                     AUTOTLS_LOGNO(0801) "%s: cannot run the notification command %s for %s",
                     e->site, n->command, e->kind);
        return;
    }
    killed = notify_watch(n, pid, fds[0], &status, out, &len);
    close(fds[0]);
    if (len > 0) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     AUTOTLS_LOGNO(0802) "%s: notification command %s %s said: %s", e->site,
                     n->command, e->kind, notify_output_text(p, out, len));
    }
    if (killed) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     AUTOTLS_LOGNO(0803) "%s: notification command %s %s killed (with its "
                                         "process group) after %d s: %s",
                     e->site, n->command, e->kind, (int)apr_time_sec(n->timeout),
                     notify_stopping(n) ? "the server stops" : "its time limit");
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     AUTOTLS_LOGNO(0804) "%s: notification command %s %s exited with status 0",
                     e->site, n->command, e->kind);
    } else {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     AUTOTLS_LOGNO(0805) "%s: notification command %s %s failed: %s %d", e->site,
                     n->command, e->kind, WIFEXITED(status) ? "exit status" : "killed by signal",
                     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    }
}

/* Takes the next event; 0 when stopping. */
static int notify_next(autotls_notify_t *n, notify_entry_t *e)
{
    int got = 0;

    apr_thread_mutex_lock(n->lock);
    while (n->count == 0 && !n->stopping) {
        apr_thread_cond_wait(n->ready, n->lock);
    }
    if (!n->stopping) {
        *e = n->queue[n->head];
        memset(&n->queue[n->head], 0, sizeof(*e));
        n->head = (n->head + 1) % AUTOTLS_NOTIFY_QUEUE_MAX;
        --n->count;
        got = 1;
    }
    apr_thread_mutex_unlock(n->lock);
    return got;
}

static void *APR_THREAD_FUNC notify_runner(apr_thread_t *thread, void *baton)
{
    autotls_notify_t *n = baton;
    notify_entry_t e;
    apr_pool_t *p;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS) {
        return NULL;
    }
    while (notify_next(n, &e)) {
        notify_run(n, &e, p);
        notify_entry_free(&e);
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    return NULL;
}

apr_status_t autotls_notify_start(autotls_notify_t **notify, autotls_ctx_t *ctx, apr_pool_t *p)
{
    autotls_notify_t *n;
    apr_status_t rv;
    int i;

    *notify = NULL;
    if (ctx->notify_command == NULL) {
        return APR_SUCCESS;
    }
    n = apr_pcalloc(p, sizeof(*n));
    n->ctx = ctx;
    n->command = ctx->notify_command;
    n->timeout = ctx->notify_timeout;
    if ((rv = apr_thread_mutex_create(&n->lock, APR_THREAD_MUTEX_DEFAULT, p)) != APR_SUCCESS ||
        (rv = apr_thread_cond_create(&n->ready, p)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < AUTOTLS_NOTIFY_RUNNERS; ++i) {
        if ((rv = apr_thread_create(&n->runners[i], NULL, notify_runner, n, p)) != APR_SUCCESS) {
            break;
        }
        n->runner_count++;
    }
    if (n->runner_count == 0) {
        return rv;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, ctx->main_server,
                 AUTOTLS_LOGNO(0806) "notification command %s: %d runner(s), time limit %d s, "
                                     "as uid %ld",
                 n->command, n->runner_count, (int)apr_time_sec(n->timeout), (long)getuid());
    *notify = n;
    return APR_SUCCESS;
}

void autotls_notify_take_files(autotls_notify_t *n, autotls_ctx_t *ctx,
                               const apr_array_header_t *listed, apr_pool_t *p)
{
    apr_array_header_t *events;
    int i;

    if (at_event_take_listed(&events, ctx->store, listed, p) != APR_SUCCESS) {
        return;
    }
    for (i = 0; i < events->nelts; ++i) {
        const at_event_t *event = APR_ARRAY_IDX(events, i, const at_event_t *);

        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, ctx->main_server,
                     AUTOTLS_LOGNO(0807) "%s: event %s handed over by a root process", event->site,
                     at_event_kind_name(event->kind));
        autotls_notify_post(n, event);
    }
}

void autotls_notify_stop(autotls_notify_t *n)
{
    apr_status_t rv;
    int i, dropped;

    if (n == NULL) {
        return;
    }
    apr_thread_mutex_lock(n->lock);
    n->stopping = 1;
    dropped = n->count;
    apr_thread_cond_broadcast(n->ready);
    apr_thread_mutex_unlock(n->lock);
    for (i = 0; i < n->runner_count; ++i) {
        apr_thread_join(&rv, n->runners[i]);
    }
    for (i = 0; i < n->count; ++i) {
        notify_entry_free(&n->queue[(n->head + i) % AUTOTLS_NOTIFY_QUEUE_MAX]);
    }
    n->count = 0;
    if (dropped > 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, n->ctx->main_server,
                     AUTOTLS_LOGNO(0808) "%d notification(s) not run: the server stops", dropped);
    }
}
