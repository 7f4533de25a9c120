/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_command.h: running an admin's command (AutoTLSDNSCommand, AutoTLSNotifyCommand) so that it
 * can cost us nothing but its time limit.
 *
 * The one idea: the command is a stranger. It runs by posix_spawn in a process group of its own,
 * with exactly the environment given (nothing of ours, no secret), stdin from /dev/null, no file
 * descriptor of ours but its stdout and stderr (a pipe whose output is kept up to a bound), every
 * signal at its default and none blocked; when its time is up (or the caller stops) the whole
 * group is killed, and once the leader has exited whatever it left in its group is killed too,
 * so that no grandchild outlives the run or holds a descriptor of ours.
 */
#ifndef AT_COMMAND_H
#define AT_COMMAND_H

#include <apr_pools.h>
#include <apr_time.h>

#define AT_COMMAND_OUTPUT_MAX 2048 /* bytes of a command's output kept for the log */
/* The environment every command starts from (and nothing else of ours). */
#define AT_COMMAND_ENV_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define AT_COMMAND_ENV_LANG "LANG=C"
#define AT_COMMAND_ENV_HOME "HOME=/"

typedef struct {
    const char *path;        /* absolute */
    const char *const *argv; /* argv[0] included, NULL-terminated */
    const char *const *env;  /* the whole environment, NULL-terminated */
    apr_interval_time_t timeout;
    int (*stopping)(void *baton); /* polled while it runs: nonzero kills it early; may be NULL */
    void *baton;
} at_command_t;

typedef struct {
    int killed;         /* its time limit or a stop came first */
    int status;         /* as waitpid gives it, when not killed */
    const char *output; /* stdout and stderr, one log-safe line (at_command_output_text) */
} at_command_result_t;

/* Runs cmd and waits for it (see above). APR_SUCCESS when it ran, whatever its exit status
 * (at_command_succeeded tells); an APR error when it could not be started. */
apr_status_t at_command_run(at_command_result_t *res, const at_command_t *cmd, apr_pool_t *p);

/* Whether it exited with status 0 within its time. */
int at_command_succeeded(const at_command_result_t *res);

/* How it ended, for a log line: "exit status N", "killed by signal N" or "killed after its time
 * limit". */
const char *at_command_ending(apr_pool_t *p, const at_command_result_t *res);

/* Output as one log-safe line: control characters (line ends included) become spaces, a run of
 * them one space, none at the ends. */
const char *at_command_output_text(apr_pool_t *p, const char *out, apr_size_t len);

#endif
