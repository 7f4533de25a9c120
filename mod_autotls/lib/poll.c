/* SPDX-License-Identifier: Apache-2.0 */
/*
 * poll.c: the wait before each look at the CA's work, as pure arithmetic (see at_poll.h).
 *
 * The one idea: the schedule is a function of the look's number and the CA's Retry-After only,
 * so whoever polls (order, authorizations, certificate) keeps a counter and nothing else.
 */
#include "at_core.h"
#include "at_poll.h"

apr_interval_time_t at_poll_delay(int look, apr_interval_time_t retry_after)
{
    apr_interval_time_t delay = AT_POLL_FIRST;
    int i;

    if (retry_after > 0) {
        return retry_after > AT_POLL_FIRST ? retry_after : AT_POLL_FIRST;
    }
    for (i = 1; i < look && delay < AT_POLL_MAX; i++) {
        delay *= AT_POLL_GROWTH;
    }
    return delay < AT_POLL_MAX ? delay : AT_POLL_MAX;
}

apr_status_t at_poll_next(apr_interval_time_t *wait, int look, apr_interval_time_t retry_after,
                          apr_interval_time_t left)
{
    apr_interval_time_t delay = at_poll_delay(look, retry_after);

    if (left <= 0 || (retry_after > 0 && delay > left)) {
        return AT_ETIMEOUT;
    }
    *wait = delay < left ? delay : left;
    return APR_SUCCESS;
}
