/*
 * at_renew.h: when to renew a certificate and how long to wait after a failure (DESIGN.md §6).
 *
 * Pure functions: the renewal thread and the CLI ask them, tests check them without a clock.
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

/* Backoff after consecutive failures: 1 min, 10 min, 100 min, then daily; jitter of up to this
 * share of the delay either way. */
#define AT_RENEW_BACKOFF_JITTER 0.1

typedef struct {
    double share_left; /* renew when this share of the lifetime is left (0..1); 0: unset */
    apr_interval_time_t time_left; /* or when this much time is left; 0: unset */
} at_renew_window_t;

/* When a certificate valid from not_before to not_after should be renewed; window NULL or unset:
 * the default policy. Never earlier than AT_RENEW_MIN_AGE_SHARE of the lifetime after
 * not_before. */
apr_time_t at_renew_time(apr_time_t not_before, apr_time_t not_after,
                         const at_renew_window_t *window);

/* Delay before the next attempt after `failures` consecutive failures (>= 1). random is any
 * uniformly distributed 32-bit value (it picks the jitter). */
apr_interval_time_t at_renew_backoff(int failures, apr_uint32_t random);

#endif
