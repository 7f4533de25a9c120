/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_ratelimit.h: a CA's limits on new orders, from the client's side: a token bucket that
 * keeps our orders under the CA's own bucket, and what a 429 from the CA means.
 *
 * The one idea: the bucket mirrors the CA's (Let's Encrypt: 300 new orders per account, one back
 * every 36 s), so that a well-behaved client never sees a 429; and when one comes anyway, its
 * problem document says whom it concerns: the whole account (the bucket empties until the CA's
 * Retry-After) or some names only (only the sites with those names wait). Renewals the CA
 * exempts (RFC 9773 `replaces`) spend no token. Pure: no I/O, no clock of its own (every call
 * takes now), no locking (the caller serializes).
 */
#ifndef AT_RATELIMIT_H
#define AT_RATELIMIT_H

#include <apr_pools.h>
#include <apr_time.h>
#include <jansson.h>

#include "at_acme.h"

/* Let's Encrypt's published limit on new orders per account: 300 per 3 hours, refilled one
 * every 36 s. */
#define AT_RATE_LETSENCRYPT_ORDERS 300
#define AT_RATE_LETSENCRYPT_PERIOD apr_time_from_sec(3 * 3600)
/* How long the bucket stays empty after an account-wide 429 without a Retry-After. */
#define AT_RATE_DRAIN_DEFAULT apr_time_from_sec(600)

/* A rate: burst tokens when full, one back every refill. burst 0: unlimited. */
typedef struct {
    int burst;
    apr_interval_time_t refill;
} at_rate_t;

/* n orders per period: burst n, one token back every period / n (at least 1 µs). */
at_rate_t at_rate_make(int n, apr_interval_time_t period);

/* The rate for a CA nobody configured one for: Let's Encrypt's for its directories (production
 * and staging), unlimited for any other CA. */
at_rate_t at_rate_default(const char *ca_url);

/* "300/3h", "unlimited": for log lines. */
const char *at_rate_text(apr_pool_t *p, at_rate_t rate);

typedef struct {
    at_rate_t rate;
    int tokens;               /* as of stamp */
    apr_time_t stamp;         /* tokens are counted up to here; the next comes at stamp + refill */
    apr_time_t blocked_until; /* an account-wide 429: no order before this, exempt or not */
} at_bucket_t;

/* A full bucket. */
void at_bucket_init(at_bucket_t *bucket, at_rate_t rate, apr_time_t now);

/* Takes a token for one new order at now: 1 when the order may go, 0 when it must wait. An
 * exempt renewal spends none, but still waits out a CA's Retry-After (blocked_until). */
int at_bucket_take(at_bucket_t *bucket, apr_time_t now, int exempt);

/* Gives back a token at_bucket_take spent for an order that was not placed after all (in a
 * fleet: another node held the site's lease); never beyond the burst, never while a 429 holds
 * the bucket (at_bucket_drain). */
void at_bucket_refund(at_bucket_t *bucket, apr_time_t now);

/* The earliest time at_bucket_take could succeed (now when it would now). */
apr_time_t at_bucket_next(const at_bucket_t *bucket, apr_time_t now, int exempt);

/* Tokens available at now (burst when unlimited). */
int at_bucket_tokens(const at_bucket_t *bucket, apr_time_t now);

/* After an account-wide limit: empty until now + retry_after (AT_RATE_DRAIN_DEFAULT when 0);
 * the first token comes back then, the others at the rate. */
void at_bucket_drain(at_bucket_t *bucket, apr_time_t now, apr_interval_time_t retry_after);

/* {"tokens": n, "stamp": s, "blocked_until": s} (seconds since the epoch). */
json_t *at_bucket_to_json(const at_bucket_t *bucket);

/* Takes the state saved by at_bucket_to_json into a bucket at_bucket_init made (its rate is
 * kept: a changed AutoTLSCARate applies at once). What is out of range (times in the future
 * beyond any wait we set, more tokens than the burst) is refused or cut, never trusted. */
void at_bucket_from_json(at_bucket_t *bucket, const json_t *json, apr_time_t now);

/* --- what a 429 means ------------------------------------------------------------------------ */

typedef enum {
    AT_RATELIMIT_NONE = 0,  /* no rate limit */
    AT_RATELIMIT_ACCOUNT,   /* new orders (or pending authorizations) per account */
    AT_RATELIMIT_DOMAIN,    /* certificates per registered domain: names under subject wait */
    AT_RATELIMIT_DUPLICATE, /* certificates per exact set of names: this order's site waits */
    AT_RATELIMIT_AUTHZ,     /* failed authorizations for one name (subject) */
    AT_RATELIMIT_OTHER      /* a rate limit we do not know: this order's site waits */
} at_ratelimit_e;

/* Classifies a problem document: a rate limit is type rateLimited (RFC 8555) or status 429; its
 * kind is read from the detail, worded as Let's Encrypt (Boulder) words it, e.g.
 *   too many new orders (300) from this account in the last 3h0m0s, retry after ...
 *   too many certificates (50) already issued for "example.com" in the last 168h0m0s, ...
 *   too many certificates (5) already issued for this exact set of identifiers in the last ...
 *   too many failed authorizations (5) for "www.example.com" in the last 1h0m0s, ...
 * *subject (in p, lower case) is the name the limit is about (DOMAIN, AUTHZ), else NULL. */
at_ratelimit_e at_ratelimit_classify(const at_acme_problem_t *problem, const char **subject,
                                     apr_pool_t *p);

/* "account", "registered domain", ...: for log lines. */
const char *at_ratelimit_name(at_ratelimit_e kind);

/* Whether name is subject or a name below it ("a.b.example.com" is below "example.com"),
 * without regard to case. */
int at_ratelimit_name_under(const char *name, const char *subject);

/* --- whether the CA answers at all --------------------------------------------------------- */

/* After a transport failure (connection refused, no route, TLS or DNS failure: AT_EHTTP) every
 * ARI poll and order waits instead of failing one by one, site after site; one probe a step
 * finds out when the CA is back. The step starts at AT_REACH_STEP_FIRST and doubles with each
 * failed probe up to AT_REACH_STEP_MAX. Failures of requests that were already under way when
 * the CA went away do not lengthen the step. */
#define AT_REACH_STEP_FIRST apr_time_from_sec(30)
#define AT_REACH_STEP_MAX apr_time_from_sec(900)

typedef struct {
    apr_time_t down_since;    /* 0 while the CA answers */
    apr_time_t probe_at;      /* while down: when the next probe may go */
    apr_interval_time_t step; /* while down: the wait after a failed probe */
    int probe_out;            /* a probe was handed out and has not failed yet */
} at_reach_t;

/* 1 when the caller may talk to the CA now: it answers, or this caller takes the probe of the
 * current step (the next one then waits a whole step). */
int at_reach_take(at_reach_t *reach, apr_time_t now);

/* While down: when a caller that was told to wait may ask again; else 0. */
apr_time_t at_reach_next(const at_reach_t *reach);

/* Whether rv says the CA could not be reached at all (not: it answered with an error). */
int at_reach_is_transport_failure(apr_status_t rv);

/* Whether rv is what a request gives once the CA answered something (success, a problem, a
 * malformed or late answer), as opposed to a failure before any request was made. */
int at_reach_is_answer(apr_status_t rv);

/* A request ended in a transport failure: 1 when the CA was taken for reachable until now (the
 * caller logs the change, once). */
int at_reach_failed(at_reach_t *reach, apr_time_t now);

/* The CA answered (whatever it said): 1 when it was down until now (the caller logs it, and
 * wakes what waited). */
int at_reach_answered(at_reach_t *reach);

#endif
