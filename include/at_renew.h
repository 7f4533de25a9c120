/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_renew.h: when to renew a certificate and how long to wait after a failure (DESIGN.md §6).
 *
 * Pure functions: the renewal thread and the CLI ask them, tests check them without a clock.
 *
 * The rules, in the order they are applied by at_renew_plan():
 *  1. ARI: when the CA's renewal window is known, renew at the moment picked uniformly at random
 *     inside it (the caller picks it once per window, with at_ari_pick, and keeps it). The CA
 *     knows things we do not (a mass revocation, its own load), so nothing else moves it later;
 *     AutoTLSRenewWindow is ignored while a window is known.
 *  2. Otherwise the lifetime share: renew when 1/3 of the lifetime is left (1/2 for lifetimes
 *     under 10 days), or when the configured window (AutoTLSRenewWindow: a share or a time
 *     left) says; never before 1/10 of the lifetime has passed.
 *  3. Emergency, over both: once less than 1/20 of the lifetime is left, renew now, whatever
 *     the window or ARI says. A configured window may renew earlier than that, never later.
 * After a failure the next attempt waits 1 min, 10 min, 100 min, then a day, each ±10 %; a
 * CA's Retry-After wins when it is longer. A certificate whose renewal keeps failing is reported
 * loudly from at_renew_warn_time() on.
 */
#ifndef AT_RENEW_H
#define AT_RENEW_H

#include <apr_time.h>

/* Lifetimes under this renew at half of the lifetime left, longer ones at a third. */
#define AT_RENEW_SHORT_LIFETIME apr_time_from_sec(10 * 24 * 3600)
#define AT_RENEW_SHARE_DEFAULT (1.0 / 3.0)
#define AT_RENEW_SHARE_SHORT (1.0 / 2.0)
/* Never before this share of the lifetime has passed, whatever the window says: a window as long
 * as the lifetime would otherwise order again at every tick, until the CA's rate limit. */
#define AT_RENEW_MIN_AGE_SHARE (1.0 / 10.0)
/* Renew at once, whatever ARI or the window says, once less than this share is left. */
#define AT_RENEW_EMERGENCY_SHARE (1.0 / 20.0)

/* Backoff after consecutive failures: 1 min, 10 min, 100 min, then daily; jitter of up to this
 * share of the delay either way. */
#define AT_RENEW_BACKOFF_JITTER 0.1

/* A failing renewal is reported loudly once less than this share of the lifetime or this much
 * time is left, whichever comes first (the larger time left): a 90-day certificate warns from
 * 9 days before expiry, a 30-day one from 7 days, a 6-day one from its start. */
#define AT_RENEW_WARN_SHARE (1.0 / 10.0)
#define AT_RENEW_WARN_TIME_LEFT apr_time_from_sec(7 * 24 * 3600)

typedef struct {
    double share_left; /* renew when this share of the lifetime is left (0..1); 0: unset */
    apr_interval_time_t time_left; /* or when this much time is left; 0: unset */
} at_renew_window_t;

/* What decided a renewal time (at_renew_plan) and its name in log lines. */
typedef enum {
    AT_RENEW_BY_LIFETIME = 0, /* the default share of the lifetime */
    AT_RENEW_BY_WINDOW,       /* the configured window (AutoTLSRenewWindow) */
    AT_RENEW_BY_ARI,          /* the moment picked inside the CA's ARI window */
    AT_RENEW_BY_EMERGENCY     /* less than AT_RENEW_EMERGENCY_SHARE of the lifetime left */
} at_renew_by_e;

typedef struct {
    apr_time_t at;
    at_renew_by_e by;
} at_renew_plan_t;

/* When a certificate valid from not_before to not_after should be renewed by the lifetime rule;
 * window NULL or unset: the default share. Never earlier than AT_RENEW_MIN_AGE_SHARE of the
 * lifetime after not_before. No emergency cap (at_renew_plan applies it). */
apr_time_t at_renew_time(apr_time_t not_before, apr_time_t not_after,
                         const at_renew_window_t *window);

/* The moment from which less than AT_RENEW_EMERGENCY_SHARE of the lifetime is left. */
apr_time_t at_renew_emergency_time(apr_time_t not_before, apr_time_t not_after);

/* The renewal time of a certificate and what decided it, by the rules at the top of this file.
 * ari_at: the moment picked inside the CA's ARI window, 0 when no window is known. */
at_renew_plan_t at_renew_plan(apr_time_t not_before, apr_time_t not_after,
                              const at_renew_window_t *window, apr_time_t ari_at);

/* "lifetime", "window", "ari", "emergency". */
const char *at_renew_by_name(at_renew_by_e by);

/* Delay before the next attempt after `failures` consecutive failures (>= 1). random is any
 * uniformly distributed 32-bit value (it picks the jitter). */
apr_interval_time_t at_renew_backoff(int failures, apr_uint32_t random);

/* The delay after a failure: our backoff, or the CA's Retry-After (0: none) when that is longer. */
apr_interval_time_t at_renew_retry_delay(int failures, apr_uint32_t random,
                                         apr_interval_time_t retry_after);

/* From when a certificate whose renewal keeps failing is reported loudly (see the constants). */
apr_time_t at_renew_warn_time(apr_time_t not_before, apr_time_t not_after);

#endif
