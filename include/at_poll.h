/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_poll.h: how long to wait before each look at something the CA is still working on (an
 * order, an authorization, a certificate being issued), RFC 8555 §7.5.1 and §7.4.
 *
 * Pure functions: the issuance flow asks them, tests check them without a clock.
 *
 * The first look comes early, because a CA that validates at once (pebble, a quiet Let's Encrypt)
 * is usually done within tens of milliseconds; each later wait doubles, up to a cap of a second,
 * so a CA that takes seconds is asked about once a second after the first few looks. A
 * Retry-After from the CA always wins over the schedule, longer or shorter, but never below the
 * first wait (a CA cannot make us spin). All of it is bounded by the deadline of the request.
 */
#ifndef AT_POLL_H
#define AT_POLL_H

#include <apr_errno.h>
#include <apr_time.h>

/* The wait before the first look. */
#define AT_POLL_FIRST apr_time_from_msec(25)
/* Each later wait is this many times the one before ... */
#define AT_POLL_GROWTH 2
/* ... up to this. */
#define AT_POLL_MAX apr_time_from_sec(1)

/* The wait before look number `look` (1: the first look after the request that started the
 * work). retry_after: the CA's Retry-After on its last answer, 0 when it sent none. */
apr_interval_time_t at_poll_delay(int look, apr_interval_time_t retry_after);

/* at_poll_delay within the time `left` before the deadline: *wait is set and APR_SUCCESS
 * returned while a look fits; our own schedule is cut short so that the last look falls on the
 * deadline. AT_ETIMEOUT when no time is left or the CA asked us to wait past the deadline. */
apr_status_t at_poll_next(apr_interval_time_t *wait, int look, apr_interval_time_t retry_after,
                          apr_interval_time_t left);

#endif
