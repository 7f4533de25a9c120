/* SPDX-License-Identifier: Apache-2.0 */
/*
 * command.c: an admin's command, run as at_command.h says: spawned in a group of its own, watched
 * with a time limit, its output kept to a bound, its whole group killed at the end.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2, posix_spawn_file_actions_addclosefrom_np */
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_strings.h>

#include "at_command.h"

#define COMMAND_POLL_MSEC 50
#define COMMAND_READ_CHUNK 512
#define COMMAND_CTRL_LAST 0x1f
#define COMMAND_DEL 0x7f
#define COMMAND_FIRST_OTHER_FD 3 /* after stdin, stdout, stderr */

const char *at_command_output_text(apr_pool_t *p, const char *out, apr_size_t len)
{
    char *text = apr_palloc(p, len + 1), *to = text;
    apr_size_t i;

    for (i = 0; i < len; ++i) {
        unsigned char c = (unsigned char)out[i];
        int blank = c <= COMMAND_CTRL_LAST || c == COMMAND_DEL || c == ' ';

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

/* posix_spawn in a process group of its own, stdin /dev/null, stdout and stderr into out_fd, no
 * other descriptor, every signal at its default and none blocked. */
static int command_spawn(pid_t *pid, const at_command_t *cmd, int out_fd)
{
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    sigset_t none, all;
    int err;

    sigemptyset(&none);
    sigfillset(&all);
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out_fd, STDERR_FILENO);
    posix_spawn_file_actions_addclosefrom_np(&actions, COMMAND_FIRST_OTHER_FD);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    err = posix_spawn(pid, cmd->path, &actions, &attr, (char *const *)cmd->argv,
                      (char *const *)cmd->env);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    return err;
}

/* Reads what is there into out (up to the bound; the rest is read and dropped); 0 at EOF. */
static int command_read(int fd, char *out, apr_size_t *len)
{
    char buf[COMMAND_READ_CHUNK];
    ssize_t got = read(fd, buf, sizeof(buf));
    apr_size_t keep;

    if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN)) {
        return 0;
    }
    if (got > 0 && *len < AT_COMMAND_OUTPUT_MAX) {
        keep = AT_COMMAND_OUTPUT_MAX - *len;
        keep = (apr_size_t)got < keep ? (apr_size_t)got : keep;
        memcpy(out + *len, buf, keep);
        *len += keep;
    }
    return 1;
}

/* Watches the leader until it exited and the output ended (or the leader exited and nothing more
 * comes: a leftover of its group holds the pipe), its time limit or a stop. Then the whole group
 * is killed and the leader reaped. Returns whether it was killed before it exited. */
static int command_watch(const at_command_t *cmd, pid_t pid, int fd, int *status, char *out,
                         apr_size_t *len)
{
    apr_time_t deadline = apr_time_now() + cmd->timeout;
    int open_fd = 1, exited = 0, killed = 0;
    struct pollfd pfd;

    while (open_fd || !exited) {
        if (apr_time_now() >= deadline || (cmd->stopping != NULL && cmd->stopping(cmd->baton))) {
            killed = !exited;
            break;
        }
        if (!exited && waitpid(pid, status, WNOHANG) == pid) {
            exited = 1;
        }
        pfd.fd = fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (open_fd && poll(&pfd, 1, COMMAND_POLL_MSEC) > 0) {
            open_fd = command_read(fd, out, len);
        } else if (!open_fd) {
            apr_sleep(apr_time_from_msec(COMMAND_POLL_MSEC));
        } else if (exited) {
            break;
        }
    }
    kill(-pid, SIGKILL); /* the group: a leader still running, or what it left behind */
    if (!exited) {
        while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
        }
    }
    return killed;
}

apr_status_t at_command_run(at_command_result_t *res, const at_command_t *cmd, apr_pool_t *p)
{
    char out[AT_COMMAND_OUTPUT_MAX];
    apr_size_t len = 0;
    int fds[2], err;
    pid_t pid;

    memset(res, 0, sizeof(*res));
    res->output = "";
    if (pipe2(fds, O_CLOEXEC) != 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    if ((err = command_spawn(&pid, cmd, fds[1])) != 0) {
        close(fds[0]);
        close(fds[1]);
        return APR_FROM_OS_ERROR(err);
    }
    close(fds[1]);
    res->killed = command_watch(cmd, pid, fds[0], &res->status, out, &len);
    close(fds[0]);
    res->output = at_command_output_text(p, out, len);
    return APR_SUCCESS;
}

int at_command_succeeded(const at_command_result_t *res)
{
    return !res->killed && WIFEXITED(res->status) && WEXITSTATUS(res->status) == 0;
}

const char *at_command_ending(apr_pool_t *p, const at_command_result_t *res)
{
    if (res->killed) {
        return "killed after its time limit";
    }
    if (WIFEXITED(res->status)) {
        return apr_psprintf(p, "exit status %d", WEXITSTATUS(res->status));
    }
    return apr_psprintf(p, "killed by signal %d", WTERMSIG(res->status));
}
