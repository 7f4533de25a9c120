/* SPDX-License-Identifier: Apache-2.0 */
/*
 * helper_proc.h: the parent's side of the module's helper processes (activator, renewal process).
 *
 * The one idea: a helper is forked by the root parent in post_config, exactly one per
 * configuration generation, registered as an "other child" so that the MPM reports its death
 * (the parent forks a new one within a crash-loop budget), and stopped by a pconf cleanup. A
 * helper that finishes work of its own on SIGTERM (the renewal process drains its orders) is
 * handed over instead of waited for: the parent never blocks in the cleanup, the next
 * generation watches the old process until it is gone, and its successor waits for it through
 * a lock of its own.
 */
#ifndef AUTOTLS_HELPER_PROC_H
#define AUTOTLS_HELPER_PROC_H

#include <signal.h>
#include <sys/types.h>

#include <apr_pools.h>

#include "autotls.h"

typedef struct {
    const char *what;  /* "activator", "renewal process": the log lines' subject */
    const char *title; /* the process name (comm, at most 15 characters) */
    /* The process itself, in the forked child; never returns (leaves with _exit). */
    void (*run)(autotls_ctx_t *ctx, pid_t parent_pid, apr_pool_t *pconf);
    /* Optional, in the parent around every fork: before (1; a failure cancels the fork) and
     * after (0), whatever came of it. */
    apr_status_t (*around_fork)(autotls_ctx_t *ctx, int before);
    /* At stop: 1 sends SIGTERM and goes on (the process ends by itself within its own bound);
     * 0 sends SIGTERM, waits, then SIGKILL. */
    int hand_over;
    /* 1: the process is forked early (before mod_ssl's post_config, so that it does not map the
     * parent's SSL contexts) but does nothing until autotls_helper_go; 0: it runs at once. */
    int gated;
} autotls_helper_desc_t;

/* Forks the helper for this generation (real post_config pass, normal runs only). */
apr_status_t autotls_helper_start(const autotls_helper_desc_t *desc, autotls_ctx_t *ctx,
                                  apr_pool_t *pconf);

/* Lets this generation's gated helper of desc go on (a later respawn goes on at once). */
void autotls_helper_go(const autotls_helper_desc_t *desc);

/* First thing in the forked process: dies with the parent (PDEATHSIG; leaves at once if the
 * parent is already gone), takes its name, closes the listeners and undoes the MPM's signal
 * setup: the stop signals (SIGTERM, and the MPM's restart signals, which a prefork parent sends
 * to the whole process group) call on_stop, SIGPIPE is ignored, everything else is default.
 * A gated helper then waits for the parent's go (it leaves should the parent stop it or die
 * first), and gives back the heap pages it does not use (autotls_memory_release). */
void autotls_helper_enter(pid_t parent_pid, const char *title, void (*on_stop)(int));

/* Gives the C library's free heap pages back to the kernel (glibc's malloc_trim; nothing
 * elsewhere). A process forked from the parent maps the parent's whole heap, most of it free after
 * the configuration passes: a helper or a child calls this once, so that its RSS counts what it
 * uses, and the parent after its post_config, so that its children inherit no free pages. */
void autotls_memory_release(void);

/* The stop signals of autotls_helper_enter, e.g. to keep them blocked outside a sleep. */
void autotls_helper_stop_signals(sigset_t *set);

#endif
