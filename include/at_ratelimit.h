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

#endif
