/* SPDX-License-Identifier: Apache-2.0 */
/*
 * renew_policy.c: the schedule of renewals and retries, as pure arithmetic.
 *
 * A certificate is renewed while a good share of its lifetime is still left, so that a CA
 * outage of days costs nothing; a CA that publishes a renewal window (ARI) decides instead,
 * except that nothing may push a renewal past the emergency point. Failures back off
 * geometrically to daily, with jitter so that thousands of sites failing together do not retry
 * together.
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

static apr_interval_time_t share_of(apr_interval_time_t lifetime, double share)
{
    return (apr_interval_time_t)((double)lifetime * share);
}

apr_time_t at_renew_time(apr_time_t not_before, apr_time_t not_after,
                         const at_renew_window_t *window)
{
    apr_interval_time_t lifetime = not_after - not_before;
    apr_time_t earliest = not_before + share_of(lifetime, AT_RENEW_MIN_AGE_SHARE);
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
        at = not_after - share_of(lifetime, share);
    }
    return at < earliest ? earliest : at;
}

apr_time_t at_renew_emergency_time(apr_time_t not_before, apr_time_t not_after)
{
    apr_interval_time_t lifetime = not_after - not_before;

    if (lifetime <= 0) {
        return not_before;
    }
    return not_after - share_of(lifetime, AT_RENEW_EMERGENCY_SHARE);
}

at_renew_plan_t at_renew_plan(apr_time_t not_before, apr_time_t not_after,
                              const at_renew_window_t *window, apr_time_t ari_at)
{
    apr_time_t emergency = at_renew_emergency_time(not_before, not_after);
    at_renew_plan_t plan;

    if (ari_at != 0) {
        plan.at = ari_at;
        plan.by = AT_RENEW_BY_ARI;
    } else {
        plan.at = at_renew_time(not_before, not_after, window);
        plan.by = window != NULL && (window->time_left > 0 || window->share_left > 0)
                      ? AT_RENEW_BY_WINDOW
                      : AT_RENEW_BY_LIFETIME;
    }
    if (plan.at > emergency) {
        plan.at = emergency;
        plan.by = AT_RENEW_BY_EMERGENCY;
    }
    return plan;
}

const char *at_renew_by_name(at_renew_by_e by)
{
    switch (by) {
    case AT_RENEW_BY_WINDOW:
        return "window";
    case AT_RENEW_BY_ARI:
        return "ari";
    case AT_RENEW_BY_EMERGENCY:
        return "emergency";
    case AT_RENEW_BY_LIFETIME:
        break;
    }
    return "lifetime";
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

apr_interval_time_t at_renew_retry_delay(int failures, apr_uint32_t random,
                                         apr_interval_time_t retry_after)
{
    apr_interval_time_t delay = at_renew_backoff(failures, random);

    return retry_after > delay ? retry_after : delay;
}

apr_time_t at_renew_warn_time(apr_time_t not_before, apr_time_t not_after)
{
    apr_interval_time_t left = share_of(not_after - not_before, AT_RENEW_WARN_SHARE);

    if (left < AT_RENEW_WARN_TIME_LEFT) {
        left = AT_RENEW_WARN_TIME_LEFT;
    }
    return not_after - left;
}
