/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ratelimit.c: the order bucket and the meaning of a CA's 429 (see at_ratelimit.h).
 *
 * The one idea: the bucket counts whole tokens from a stamp, so it never drifts and needs no
 * floating point: tokens are added in whole refill steps and the stamp moves by exactly those
 * steps. A 429's meaning comes from the CA's own words, because RFC 8555 gives the kind of limit
 * no field of its own; a detail we cannot read is a limit on the one site whose order it was,
 * which is what a client without classification would have done anyway.
 */
#include <string.h>
#include <strings.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "at_core.h"
#include "at_ca.h"
#include "at_http.h"
#include "at_ratelimit.h"

#define RATE_HTTP_TOO_MANY_REQUESTS 429
#define RATE_SUBJECT_MAX 253 /* the longest DNS name */
#define RATE_MSEC_PER_SEC 1000
#define RATE_SECONDS_PER_MINUTE 60
#define RATE_SECONDS_PER_HOUR 3600
#define RATE_SECONDS_PER_DAY (24 * 3600)

at_rate_t at_rate_make(int n, apr_interval_time_t period)
{
    at_rate_t rate = {0, 0};

    if (n > 0 && period > 0) {
        rate.burst = n;
        rate.refill = period / n > 0 ? period / n : 1;
    }
    return rate;
}

at_rate_t at_rate_default(const char *ca_url)
{
    at_rate_t unlimited = {0, 0};

    if (at_ca_is_letsencrypt(ca_url)) {
        return at_rate_make(AT_RATE_LETSENCRYPT_ORDERS, AT_RATE_LETSENCRYPT_PERIOD);
    }
    return unlimited;
}

/* The period as the admin would write it: "3h", "10s", "90m" (whole units when they fit). */
static const char *rate_period_text(apr_pool_t *p, apr_interval_time_t period)
{
    apr_int64_t s = apr_time_sec(period);

    if (s > 0 && s % RATE_SECONDS_PER_DAY == 0) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT "d", s / RATE_SECONDS_PER_DAY);
    }
    if (s > 0 && s % RATE_SECONDS_PER_HOUR == 0) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT "h", s / RATE_SECONDS_PER_HOUR);
    }
    if (s > 0 && s % RATE_SECONDS_PER_MINUTE == 0) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT "m", s / RATE_SECONDS_PER_MINUTE);
    }
    return apr_psprintf(p, "%" APR_INT64_T_FMT "s", s);
}

const char *at_rate_text(apr_pool_t *p, at_rate_t rate)
{
    if (rate.burst <= 0) {
        return "unlimited";
    }
    return apr_psprintf(p, "%d/%s", rate.burst, rate_period_text(p, rate.refill * rate.burst));
}

/* --- the bucket ------------------------------------------------------------------------------ */

void at_bucket_init(at_bucket_t *bucket, at_rate_t rate, apr_time_t now)
{
    memset(bucket, 0, sizeof(*bucket));
    bucket->rate = rate;
    bucket->tokens = rate.burst;
    bucket->stamp = now;
}

/* Adds the whole refill steps between stamp and now. */
static void bucket_refill(at_bucket_t *bucket, apr_time_t now)
{
    apr_int64_t steps;

    if (bucket->rate.burst <= 0 || now <= bucket->stamp) {
        return;
    }
    if (bucket->tokens >= bucket->rate.burst) {
        bucket->tokens = bucket->rate.burst; /* full: time passing adds nothing */
        bucket->stamp = now;
        return;
    }
    steps = (now - bucket->stamp) / bucket->rate.refill;
    if (steps >= bucket->rate.burst - bucket->tokens) {
        bucket->tokens = bucket->rate.burst;
        bucket->stamp = now;
    } else {
        bucket->tokens += (int)steps;
        bucket->stamp += steps * bucket->rate.refill;
    }
}

int at_bucket_tokens(const at_bucket_t *bucket, apr_time_t now)
{
    at_bucket_t copy = *bucket;

    if (bucket->rate.burst <= 0) {
        return now < bucket->blocked_until ? 0 : 1;
    }
    bucket_refill(&copy, now);
    return copy.tokens;
}

int at_bucket_take(at_bucket_t *bucket, apr_time_t now, int exempt)
{
    if (now < bucket->blocked_until) {
        return 0;
    }
    if (exempt || bucket->rate.burst <= 0) {
        return 1;
    }
    bucket_refill(bucket, now);
    if (bucket->tokens <= 0) {
        return 0;
    }
    if (bucket->tokens == bucket->rate.burst) {
        bucket->stamp = now; /* the refill of this token starts now */
    }
    --bucket->tokens;
    return 1;
}

void at_bucket_refund(at_bucket_t *bucket, apr_time_t now)
{
    if (bucket->rate.burst <= 0 || now < bucket->blocked_until) {
        return; /* a 429 emptied it since: what comes back after is the drain's to say */
    }
    bucket_refill(bucket, now);
    if (bucket->tokens < bucket->rate.burst) {
        ++bucket->tokens;
    }
}

apr_time_t at_bucket_next(const at_bucket_t *bucket, apr_time_t now, int exempt)
{
    at_bucket_t copy = *bucket;

    if (now < bucket->blocked_until) {
        now = bucket->blocked_until;
    }
    if (exempt || bucket->rate.burst <= 0) {
        return now;
    }
    bucket_refill(&copy, now);
    return copy.tokens > 0 ? now : copy.stamp + copy.rate.refill;
}

void at_bucket_drain(at_bucket_t *bucket, apr_time_t now, apr_interval_time_t retry_after)
{
    apr_time_t until = now + (retry_after > 0 ? retry_after : AT_RATE_DRAIN_DEFAULT);

    if (until > bucket->blocked_until) {
        bucket->blocked_until = until;
    }
    bucket->tokens = 0;
    /* one token back at blocked_until, the next ones at the rate */
    bucket->stamp = bucket->blocked_until - bucket->rate.refill;
}

json_t *at_bucket_to_json(const at_bucket_t *bucket)
{
    return json_pack("{s:i, s:I, s:I, s:I}", "tokens", bucket->tokens, "stamp",
                     (json_int_t)apr_time_sec(bucket->stamp), "stamp_ms",
                     (json_int_t)apr_time_as_msec(bucket->stamp), "blocked_until",
                     (json_int_t)apr_time_sec(bucket->blocked_until));
}

/* Milliseconds since the epoch -> apr_time_t; 0 for anything else. */
static apr_time_t bucket_time_ms(const json_t *value)
{
    json_int_t ms = json_is_integer(value) ? json_integer_value(value) : 0;

    return ms > 0 && ms < APR_INT64_MAX / (APR_USEC_PER_SEC / RATE_MSEC_PER_SEC)
               ? apr_time_from_msec(ms)
               : 0;
}

/* Seconds since the epoch -> apr_time_t; 0 for anything else. */
static apr_time_t bucket_time(const json_t *value)
{
    json_int_t sec = json_is_integer(value) ? json_integer_value(value) : 0;

    return sec > 0 && sec < APR_INT64_MAX / APR_USEC_PER_SEC ? apr_time_from_sec(sec) : 0;
}

void at_bucket_from_json(at_bucket_t *bucket, const json_t *json, apr_time_t now)
{
    const json_t *tokens = json_object_get(json, "tokens");
    apr_time_t stamp = bucket_time(json_object_get(json, "stamp"));
    apr_time_t stamp_ms = bucket_time_ms(json_object_get(json, "stamp_ms"));
    apr_time_t blocked = bucket_time(json_object_get(json, "blocked_until"));
    json_int_t n;

    /* the precise stamp when it agrees with the whole second (a fleet's bucket goes through
     * JSON at every spend: whole seconds would bring each token up to a second early) */
    if (stamp_ms != 0 && apr_time_sec(stamp_ms) == apr_time_sec(stamp)) {
        stamp = stamp_ms;
    }
    if (!json_is_integer(tokens) || stamp == 0) {
        return; /* nothing usable: the bucket stays as it was made */
    }
    /* A CA's Retry-After is bounded (at_http_retry_after): a later one was not ours. */
    bucket->blocked_until = blocked > now && blocked <= now + AT_HTTP_RETRY_AFTER_MAX ? blocked : 0;
    if (stamp > now && stamp > bucket->blocked_until) {
        stamp = now;
    }
    n = json_integer_value(tokens);
    bucket->tokens = n < 0 ? 0 : n > bucket->rate.burst ? bucket->rate.burst : (int)n;
    bucket->stamp = stamp;
}

/* --- what a 429 means ------------------------------------------------------------------------ */

/* Whether text contains word, without regard to case. */
static const char *rate_find(const char *text, const char *word)
{
    size_t len = strlen(word);

    for (; *text != '\0'; ++text) {
        if (strncasecmp(text, word, len) == 0) {
            return text;
        }
    }
    return NULL;
}

/* The name after marker in detail: quoted ("example.com", as Boulder prints %q) or bare after a
 * colon (older Boulder: "issued for: example.com"); lower case in p, or NULL when what is there
 * is no DNS name. */
static const char *rate_subject(apr_pool_t *p, const char *detail, const char *marker)
{
    const char *at = rate_find(detail, marker), *end;
    char *name, *c;

    if (at == NULL) {
        return NULL;
    }
    at += strlen(marker);
    while (*at == ' ' || *at == ':') {
        ++at;
    }
    if (*at == '"') {
        ++at;
    }
    for (end = at; apr_isalnum(*end) || *end == '.' || *end == '-' || *end == '*'; ++end) {
    }
    if (end == at || end - at > RATE_SUBJECT_MAX) {
        return NULL;
    }
    name = apr_pstrmemdup(p, at, (apr_size_t)(end - at));
    while (end - at > 1 && name[end - at - 1] == '.') { /* a sentence's full stop */
        name[--end - at] = '\0';
    }
    for (c = name; *c != '\0'; ++c) {
        *c = (char)apr_tolower(*c);
    }
    return name;
}

at_ratelimit_e at_ratelimit_classify(const at_acme_problem_t *problem, const char **subject,
                                     apr_pool_t *p)
{
    const char *detail;

    *subject = NULL;
    if (problem == NULL || (!at_acme_problem_is(problem, "rateLimited") &&
                            problem->status != RATE_HTTP_TOO_MANY_REQUESTS)) {
        return AT_RATELIMIT_NONE;
    }
    detail = problem->detail != NULL ? problem->detail : "";
    if (rate_find(detail, "new orders") != NULL ||
        rate_find(detail, "pending authorizations") != NULL) {
        return AT_RATELIMIT_ACCOUNT;
    }
    if (rate_find(detail, "exact set") != NULL) {
        return AT_RATELIMIT_DUPLICATE;
    }
    if (rate_find(detail, "failed authorizations") != NULL) {
        *subject = rate_subject(p, detail, " for ");
        return AT_RATELIMIT_AUTHZ;
    }
    if (rate_find(detail, "certificates") != NULL && rate_find(detail, "issued for") != NULL) {
        *subject = rate_subject(p, detail, "issued for");
        return *subject != NULL ? AT_RATELIMIT_DOMAIN : AT_RATELIMIT_OTHER;
    }
    return AT_RATELIMIT_OTHER;
}

const char *at_ratelimit_name(at_ratelimit_e kind)
{
    switch (kind) {
    case AT_RATELIMIT_NONE:
        return "none";
    case AT_RATELIMIT_ACCOUNT:
        return "new orders per account";
    case AT_RATELIMIT_DOMAIN:
        return "certificates per registered domain";
    case AT_RATELIMIT_DUPLICATE:
        return "duplicate certificates";
    case AT_RATELIMIT_AUTHZ:
        return "failed authorizations";
    case AT_RATELIMIT_OTHER:
        break;
    }
    return "unknown rate limit";
}

int at_ratelimit_name_under(const char *name, const char *subject)
{
    size_t len = strlen(name), sub = strlen(subject);

    if (sub == 0 || len < sub || strcasecmp(name + len - sub, subject) != 0) {
        return 0;
    }
    return len == sub || name[len - sub - 1] == '.';
}

/* --- whether the CA answers at all --------------------------------------------------------- */

int at_reach_take(at_reach_t *reach, apr_time_t now)
{
    if (reach->down_since == 0) {
        return 1;
    }
    if (now < reach->probe_at) {
        return 0;
    }
    reach->probe_at = now + reach->step;
    reach->probe_out = 1;
    return 1;
}

apr_time_t at_reach_next(const at_reach_t *reach)
{
    return reach->down_since == 0 ? 0 : reach->probe_at;
}

int at_reach_is_transport_failure(apr_status_t rv)
{
    return rv == AT_EHTTP;
}

int at_reach_is_answer(apr_status_t rv)
{
    return rv == APR_SUCCESS || rv == APR_ENOTIMPL || rv == AT_EPROBLEM || rv == AT_EPROTO ||
           rv == AT_ECHALLENGE || rv == AT_ETIMEOUT || rv == AT_ETOOLARGE;
}

int at_reach_failed(at_reach_t *reach, apr_time_t now)
{
    if (reach->down_since == 0) {
        reach->down_since = now;
        reach->step = AT_REACH_STEP_FIRST;
        reach->probe_at = now + reach->step;
        reach->probe_out = 0;
        return 1;
    }
    if (reach->probe_out) {
        reach->probe_out = 0;
        reach->step = reach->step * 2 < AT_REACH_STEP_MAX ? reach->step * 2 : AT_REACH_STEP_MAX;
        reach->probe_at = now + reach->step;
    }
    return 0;
}

int at_reach_answered(at_reach_t *reach)
{
    int was_down = reach->down_since != 0;

    memset(reach, 0, sizeof(*reach));
    return was_down;
}
