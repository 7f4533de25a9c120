/*
 * renew_policy.c: the schedule of renewals and retries, as pure arithmetic.
 *
 * A certificate is renewed while a good share of its lifetime is still left, so that a CA
 * outage of days costs nothing; failures back off geometrically to daily, with jitter so that
 * thousands of sites failing together do not retry together.
 */
#include "at_renew.h"

static const apr_interval_time_t backoff_steps[] = {
    apr_time_from_sec(60),        /* 1 min */
    apr_time_from_sec(10 * 60),   /* 10 min */
    apr_time_from_sec(100 * 60),  /* 100 min */
    apr_time_from_sec(24 * 3600), /* then daily */
};

#define BACKOFF_STEP_COUNT (sizeof(backoff_steps) / sizeof(backoff_steps[0]))
#define RANDOM_RANGE 4294967295.0

apr_time_t at_renew_time(apr_time_t not_before, apr_time_t not_after,
                         const at_renew_window_t *window)
{
    apr_interval_time_t lifetime = not_after - not_before;
    apr_time_t earliest =
        not_before + (apr_interval_time_t)((double)lifetime * AT_RENEW_MIN_AGE_SHARE);
    apr_time_t at;
    double share;

    if (lifetime <= 0) {
        return not_before;
    }
    if (window != NULL && window->time_left > 0) {
        at = not_after - window->time_left;
    } else {
        if (window != NULL && window->share_left > 0) {
            share = window->share_left;
        } else {
            share =
                lifetime < AT_RENEW_SHORT_LIFETIME ? AT_RENEW_SHARE_SHORT : AT_RENEW_SHARE_DEFAULT;
        }
        at = not_after - (apr_interval_time_t)((double)lifetime * share);
    }
    return at < earliest ? earliest : at;
}

apr_interval_time_t at_renew_backoff(int failures, apr_uint32_t random)
{
    apr_size_t step = failures < 1 ? 0 : (apr_size_t)(failures - 1);
    apr_interval_time_t base;
    double jitter;

    if (step >= BACKOFF_STEP_COUNT) {
        step = BACKOFF_STEP_COUNT - 1;
    }
    base = backoff_steps[step];
    /* random in [0, 1] -> jitter in [-JITTER, +JITTER] of the base delay */
    jitter = ((double)random / RANDOM_RANGE * 2.0 - 1.0) * AT_RENEW_BACKOFF_JITTER;
    return base + (apr_interval_time_t)((double)base * jitter);
}
