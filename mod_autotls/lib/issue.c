/* SPDX-License-Identifier: Apache-2.0 */
/*
 * issue.c: one certificate from order to chain (RFC 8555 §7.1 overview).
 *
 * The flow spends as few CA requests as the protocol allows: authorizations the CA already
 * considers valid are not touched, and polls follow one schedule (at_poll.h: an early first
 * look, then longer waits up to a second, or as long as the CA's Retry-After says), so a quick
 * CA is seen done at the first look and a slow one is not asked more than once a second. Every
 * wait is bounded by the request's deadline, so a CA that never finishes costs a timeout, not a
 * hung thread.
 *
 * With allow_partial, names the CA could not validate are left out rather than sinking the
 * whole certificate: the flow orders once more for the names that passed (the CA usually
 * reuses their valid authorizations), never more than once.
 */
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "at_core.h"
#include "at_issue.h"
#include "at_name.h"
#include "at_poll.h"

#define HTTP_STATUS_CLIENT_ERROR_MIN 400
#define HTTP_STATUS_CLIENT_ERROR_MAX 499
#define HTTP_STATUS_TOO_MANY_REQUESTS 429
/* What the validation of an order returns when some names passed and the others failed (only
 * with allow_partial): the caller orders again for ctx->covered. */
#define ISSUE_PARTIAL APR_INCOMPLETE
/* How often a propagation wait looks whether the process is told to stop. */
#define ISSUE_STOP_POLL apr_time_from_msec(100)

typedef struct {
    const char *name;  /* http-01, tls-alpn-01: the identifier; dns-01: the record's fqdn */
    const char *token; /* http-01, tls-alpn-01: the token; dns-01: the record's value */
    const char *type;  /* AT_CHALLENGE_*: whose responder withdraws it */
} issue_challenge_t;

typedef struct {
    at_acme_t *acme;
    apr_pool_t *p;
    const at_issue_request_t *request;
    const at_http01_responder_t *responder;
    const apr_array_header_t *types; /* const char *: the challenge types to use, in order */
    apr_array_header_t *fallback;    /* const char *: names whose http-01 failed for want of
                                        port 80: tls-alpn-01 first for them from now on */
    apr_time_t deadline;
    const apr_array_header_t *names; /* const char *: the names of the current order */
    const char *replaces;            /* NULL once the CA refused it */
    int partial;                     /* names may still be left out (before the re-order) */
    apr_array_header_t *pending;     /* at_acme_authz_t *: authorizations being validated */
    apr_array_header_t *published;   /* issue_challenge_t: responses to withdraw at the end */
    apr_array_header_t *failed;      /* at_issue_failed_t: names the CA could not validate */
    apr_array_header_t *covered;     /* const char *: names whose authorization is valid */
    apr_array_header_t *dns_waiting; /* at_acme_challenge_t *: dns-01, to respond to once the
                                        records had time to propagate */
} issue_t;

/* Whether a status the CA reported is `want` (a missing status is nothing). */
static int status_is(const char *status, const char *want)
{
    return status != NULL && strcmp(status, want) == 0;
}

/* Sleeps before look number *look (counted from 1 per thing polled), or returns AT_ETIMEOUT when
 * the deadline leaves no room for it. retry_after: the CA's on its last answer (0: none). */
static apr_status_t issue_wait(issue_t *ctx, int *look, apr_interval_time_t retry_after,
                               const char *what)
{
    apr_interval_time_t wait;

    if (at_poll_next(&wait, *look, retry_after, ctx->deadline - apr_time_now()) != APR_SUCCESS) {
        at_log(AT_LOG_ERR, AT_ETIMEOUT, AT_LOGNO(1077) "%s: gave up waiting for %s at %s",
               ctx->request->site, what, at_acme_url(ctx->acme));
        return AT_ETIMEOUT;
    }
    apr_sleep(wait);
    ++*look;
    return APR_SUCCESS;
}

/* Whether a refused order with replaces is worth one more try without it: any client error but
 * a rate limit (which another order would only hit again). */
static int issue_replaces_refused(const at_acme_problem_t *problem)
{
    return problem != NULL && problem->status >= HTTP_STATUS_CLIENT_ERROR_MIN &&
           problem->status <= HTTP_STATUS_CLIENT_ERROR_MAX &&
           problem->status != HTTP_STATUS_TOO_MANY_REQUESTS &&
           !at_acme_problem_is(problem, "rateLimited");
}

static apr_status_t issue_order_new(at_acme_order_t **order, issue_t *ctx)
{
    const at_issue_request_t *req = ctx->request;
    const at_acme_problem_t *problem;
    const char *quiet_problem = NULL; /* a refusal at_acme_order_new did not log */
    apr_status_t rv;

    rv = at_acme_order_new(order, ctx->acme, ctx->p, ctx->names, ctx->replaces, req->profile);
    problem = at_acme_last_problem(ctx->acme);
    if (rv == AT_EPROBLEM && req->account_store != NULL &&
        (at_acme_problem_is(problem, "accountDoesNotExist") ||
         at_acme_problem_is(problem, "unauthorized"))) {
        at_log(AT_LOG_WARN, rv, AT_LOGNO(1078) "%s: %s refused our account; asking it why",
               req->site, at_acme_url(ctx->acme));
        rv = at_account_register_again(ctx->acme, req->account_store, ctx->p, req->account_options);
        if (rv != APR_SUCCESS) {
            return rv; /* logged where the account failed */
        }
        rv = at_acme_order_new(order, ctx->acme, ctx->p, ctx->names, ctx->replaces, req->profile);
        problem = at_acme_last_problem(ctx->acme);
    }
    if (rv == AT_EPROBLEM && ctx->replaces != NULL && issue_replaces_refused(problem)) {
        at_log(AT_LOG_WARN, rv,
               AT_LOGNO(1079) "%s: %s refused an order replacing %s (%s); ordering without it",
               req->site, at_acme_url(ctx->acme), ctx->replaces,
               at_acme_problem_text(ctx->p, problem));
        ctx->replaces = NULL;
        rv = at_acme_order_new(order, ctx->acme, ctx->p, ctx->names, NULL, req->profile);
    } else if (rv == AT_EPROBLEM && ctx->replaces != NULL) {
        quiet_problem = at_acme_problem_text(ctx->p, problem);
    }
    if (rv != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1080) "%s: %s did not accept an order%s%s", req->site,
               at_acme_url(ctx->acme), quiet_problem != NULL ? ": " : "",
               quiet_problem != NULL ? quiet_problem : "");
    }
    return rv;
}

/* The name an authorization is for, as it was ordered. */
static const char *issue_authz_name(apr_pool_t *p, const at_acme_authz_t *authz)
{
    return authz->wildcard ? apr_pstrcat(p, "*.", authz->identifier, NULL) : authz->identifier;
}

static int issue_name_listed(const apr_array_header_t *names, const char *name)
{
    int i;

    for (i = 0; i < names->nelts; ++i) {
        if (strcasecmp(APR_ARRAY_IDX(names, i, const char *), name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Whether we can answer authz's challenge of type: the CA offers it and a responder is there. */
static int issue_type_usable(const issue_t *ctx, const at_acme_authz_t *authz, const char *type)
{
    const void *responder = NULL;

    if (strcmp(type, AT_CHALLENGE_HTTP01) == 0) {
        responder = ctx->responder;
    } else if (strcmp(type, AT_CHALLENGE_TLSALPN01) == 0) {
        responder = ctx->request->tlsalpn01;
    } else if (strcmp(type, AT_CHALLENGE_DNS01) == 0) {
        responder = ctx->request->dns01;
    }
    return responder != NULL && at_acme_authz_challenge(authz, type) != NULL;
}

/* The challenge type we answer for authz, or NULL when none can be: a wildcard only by dns-01
 * (RFC 8555 §7.1.3); any other name by the first type of the request's list that is usable, but
 * a name whose http-01 failed for want of port 80 (issue_fallback_start) by tls-alpn-01 first. */
static const char *issue_authz_type(const issue_t *ctx, const at_acme_authz_t *authz)
{
    int i;

    if (authz->wildcard) {
        return AT_CHALLENGE_DNS01;
    }
    if (issue_name_listed(ctx->fallback, authz->identifier) &&
        issue_type_usable(ctx, authz, AT_CHALLENGE_TLSALPN01)) {
        return AT_CHALLENGE_TLSALPN01;
    }
    for (i = 0; i < ctx->types->nelts; ++i) {
        const char *type = APR_ARRAY_IDX(ctx->types, i, const char *);

        if (issue_type_usable(ctx, authz, type)) {
            return type;
        }
    }
    return NULL;
}

/* The challenge of authz that the CA found wrong (it carries the problem), or NULL. */
static const at_acme_challenge_t *issue_authz_failed_challenge(const at_acme_authz_t *authz)
{
    int i;

    for (i = 0; authz->challenges != NULL && i < authz->challenges->nelts; ++i) {
        const at_acme_challenge_t *c = APR_ARRAY_IDX(authz->challenges, i, at_acme_challenge_t *);

        if (c->error != NULL) {
            return c;
        }
    }
    return NULL;
}

/* Why the CA did not validate authz: its challenge's problem, one line. */
static const char *issue_authz_reason(apr_pool_t *p, const at_acme_authz_t *authz)
{
    const at_acme_challenge_t *challenge = issue_authz_failed_challenge(authz);

    if (challenge != NULL) {
        return at_acme_problem_text(p, challenge->error);
    }
    return apr_pstrcat(p, "authorization ", authz->status, NULL);
}

static int issue_name_failed(const issue_t *ctx, const char *name)
{
    int i;

    for (i = 0; i < ctx->failed->nelts; ++i) {
        if (strcasecmp(APR_ARRAY_IDX(ctx->failed, i, at_issue_failed_t).name, name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Leaves the name of authz out of the certificate (allow_partial), with reason (NULL: the CA's). */
static void issue_failed_add(issue_t *ctx, const at_acme_authz_t *authz, const char *reason)
{
    const at_acme_challenge_t *challenge;
    at_issue_failed_t *failed;
    const char *name = issue_authz_name(ctx->p, authz);

    if (issue_name_failed(ctx, name)) {
        return;
    }
    failed = apr_array_push(ctx->failed);
    failed->name = name;
    failed->reason = reason != NULL ? reason : issue_authz_reason(ctx->p, authz);
    failed->type = NULL;
    failed->challenge = NULL;
    if ((challenge = issue_authz_failed_challenge(authz)) != NULL) {
        failed->type = challenge->error->type;
        failed->challenge = challenge->type;
    }
}

/* Refuses one authorization's name: left out when names may be (allow_partial), else the error. */
static apr_status_t issue_authz_refuse(issue_t *ctx, at_acme_authz_t *authz, const char *why)
{
    if (ctx->partial) {
        issue_failed_add(ctx, authz, why);
        return APR_SUCCESS;
    }
    at_log(AT_LOG_ERR, AT_ECHALLENGE, AT_LOGNO(1081) "%s: %s: %s at %s", ctx->request->site,
           issue_authz_name(ctx->p, authz), why, at_acme_url(ctx->acme));
    return AT_ECHALLENGE;
}

/* Publishes the dns-01 record of a wildcard's authorization; the CA is told to look once every
 * record of the order had time to propagate (issue_dns_respond). */
static apr_status_t issue_dns_start(issue_t *ctx, at_acme_authz_t *authz,
                                    at_acme_challenge_t *challenge, const char *keyauth)
{
    const at_dns01_responder_t *dns = ctx->request->dns01;
    issue_challenge_t *published;
    const char *fqdn, *value;
    apr_status_t rv;

    if ((rv = at_acme_dns01_record(&fqdn, &value, ctx->p, authz->identifier, keyauth)) !=
        APR_SUCCESS) {
        return rv;
    }
    if ((rv = dns->present(dns->baton, fqdn, value, ctx->p)) != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1180) "%s: could not publish the dns-01 record %s for %s",
               ctx->request->site, fqdn, issue_authz_name(ctx->p, authz));
        return issue_authz_refuse(ctx, authz, "the DNS command could not publish its record");
    }
    published = apr_array_push(ctx->published);
    published->name = fqdn;
    published->token = value;
    published->type = AT_CHALLENGE_DNS01;
    if (status_is(challenge->status, "pending")) {
        APR_ARRAY_PUSH(ctx->dns_waiting, at_acme_challenge_t *) = challenge;
    }
    return APR_SUCCESS;
}

/* Publishes the response of one pending authorization (its type: issue_authz_type) and, but
 * for dns-01 (issue_dns_respond), tells the CA to look. */
static apr_status_t issue_authz_start(issue_t *ctx, at_acme_authz_t *authz)
{
    const char *type = issue_authz_type(ctx, authz);
    const at_http01_responder_t *responder;
    at_acme_challenge_t *challenge, *updated;
    issue_challenge_t *published;
    const char *keyauth;
    apr_status_t rv;

    if (!issue_name_listed(ctx->names, issue_authz_name(ctx->p, authz))) {
        /* a CA asking us to prove a name we did not order: no record, no response for it */
        at_log(AT_LOG_ERR, AT_EPROTO,
               AT_LOGNO(1181) "%s: %s sent an authorization for %s, which the order does not name",
               ctx->request->site, at_acme_url(ctx->acme), issue_authz_name(ctx->p, authz));
        return AT_EPROTO;
    }
    if (authz->wildcard && ctx->request->dns01 == NULL) {
        return issue_authz_refuse(ctx, authz,
                                  "a wildcard needs dns-01, and no DNS command is configured");
    }
    challenge = type != NULL ? at_acme_authz_challenge(authz, type) : NULL;
    if (challenge == NULL) {
        return issue_authz_refuse(ctx, authz,
                                  apr_pstrcat(ctx->p, "the CA offers none of the challenge types ",
                                              authz->wildcard
                                                  ? AT_CHALLENGE_DNS01
                                                  : at_name_list_text(ctx->p, ctx->types, " "),
                                              " that can be answered here", NULL));
    }
    rv = at_acme_key_authorization(&keyauth, ctx->acme, ctx->p, challenge->token);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (strcmp(type, AT_CHALLENGE_DNS01) == 0) {
        return issue_dns_start(ctx, authz, challenge, keyauth);
    }
    responder =
        strcmp(type, AT_CHALLENGE_TLSALPN01) == 0 ? ctx->request->tlsalpn01 : ctx->responder;
    rv = responder->setup(responder->baton, authz->identifier, challenge->token, keyauth, ctx->p);
    if (rv != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1082) "%s: could not publish the %s response for %s",
               ctx->request->site, type, authz->identifier);
        return rv;
    }
    published = apr_array_push(ctx->published);
    published->name = authz->identifier;
    published->token = challenge->token;
    published->type = type;
    if (!status_is(challenge->status, "pending")) {
        /* Already being processed (a retry of an earlier attempt): just poll. */
        return APR_SUCCESS;
    }
    return at_acme_challenge_respond(&updated, ctx->acme, ctx->p, challenge);
}

/* After every dns-01 record of the order is published: waits for them to propagate (bounded by
 * the issuance's deadline), then tells the CA to look at each. */
static apr_status_t issue_dns_respond(issue_t *ctx)
{
    apr_interval_time_t wait = ctx->request->dns01 != NULL ? ctx->request->dns01->propagation : 0;
    apr_interval_time_t left = ctx->deadline - apr_time_now();
    at_acme_challenge_t *updated;
    apr_status_t rv;
    int i;

    if (ctx->dns_waiting->nelts == 0) {
        return APR_SUCCESS;
    }
    wait = wait < left ? wait : (left > 0 ? left : 0);
    while (wait > 0) {
        const at_dns01_responder_t *dns = ctx->request->dns01;
        apr_interval_time_t step = wait < ISSUE_STOP_POLL ? wait : ISSUE_STOP_POLL;

        if (dns->stopping != NULL && dns->stopping(dns->baton)) {
            return APR_EINTR; /* the records are withdrawn on the way out */
        }
        apr_sleep(step);
        wait -= step;
    }
    for (i = 0; i < ctx->dns_waiting->nelts; ++i) {
        at_acme_challenge_t *c = APR_ARRAY_IDX(ctx->dns_waiting, i, at_acme_challenge_t *);

        if ((rv = at_acme_challenge_respond(&updated, ctx->acme, ctx->p, c)) != APR_SUCCESS) {
            return rv;
        }
    }
    apr_array_clear(ctx->dns_waiting);
    return APR_SUCCESS;
}

static void issue_withdraw_challenges(issue_t *ctx)
{
    const at_dns01_responder_t *dns = ctx->request->dns01;
    int i;

    for (i = 0; i < ctx->published->nelts; ++i) {
        issue_challenge_t *c = &APR_ARRAY_IDX(ctx->published, i, issue_challenge_t);
        const at_http01_responder_t *responder =
            strcmp(c->type, AT_CHALLENGE_TLSALPN01) == 0 ? ctx->request->tlsalpn01 : ctx->responder;

        if (strcmp(c->type, AT_CHALLENGE_DNS01) == 0) {
            if (dns != NULL && dns->cleanup != NULL) {
                dns->cleanup(dns->baton, c->name, c->token, ctx->p);
            }
        } else if (responder->teardown != NULL) {
            responder->teardown(responder->baton, c->name, c->token, ctx->p);
        }
    }
    apr_array_clear(ctx->published);
}

static apr_status_t issue_authz_failed(issue_t *ctx, const at_acme_authz_t *authz)
{
    issue_failed_add(ctx, authz, NULL); /* the caller learns why (at_issue_certificate) */
    at_log(AT_LOG_ERR, AT_ECHALLENGE, AT_LOGNO(1083) "%s: %s could not validate %s: %s",
           ctx->request->site, at_acme_url(ctx->acme), issue_authz_name(ctx->p, authz),
           issue_authz_reason(ctx->p, authz));
    return AT_ECHALLENGE;
}

/* Starts every authorization of the order that is not valid yet. */
static apr_status_t issue_authorizations_start(issue_t *ctx, const at_acme_order_t *order)
{
    at_acme_authz_t *authz;
    apr_status_t rv;
    int i;

    for (i = 0; i < order->authorizations->nelts; ++i) {
        const char *url = APR_ARRAY_IDX(order->authorizations, i, const char *);

        if ((rv = at_acme_authz_get(&authz, ctx->acme, ctx->p, url)) != APR_SUCCESS) {
            return rv;
        }
        if (status_is(authz->status, "valid")) {
            continue;
        }
        if (!status_is(authz->status, "pending")) {
            if (!ctx->partial) {
                return issue_authz_failed(ctx, authz);
            }
            issue_failed_add(ctx, authz, NULL);
            continue;
        }
        if ((rv = issue_authz_start(ctx, authz)) != APR_SUCCESS) {
            return rv;
        }
        APR_ARRAY_PUSH(ctx->pending, at_acme_authz_t *) = authz;
    }
    return issue_dns_respond(ctx);
}

/* Names the authorization that failed: the order only says that one did. */
static apr_status_t issue_find_failed(issue_t *ctx, const at_acme_order_t *order)
{
    at_acme_authz_t *authz;
    int i;

    for (i = 0; i < order->authorizations->nelts; ++i) {
        const char *url = APR_ARRAY_IDX(order->authorizations, i, const char *);

        if (at_acme_authz_get(&authz, ctx->acme, ctx->p, url) == APR_SUCCESS &&
            !status_is(authz->status, "valid") && !status_is(authz->status, "pending")) {
            return issue_authz_failed(ctx, authz);
        }
    }
    at_log(AT_LOG_ERR, AT_ECHALLENGE, AT_LOGNO(1084) "%s: order %s became %s%s%s",
           ctx->request->site, order->url, order->status, order->error ? ": " : "",
           order->error ? at_acme_problem_text(ctx->p, order->error) : "");
    return AT_ECHALLENGE;
}

/* One look at each authorization still open: valid ones cover their name, failed ones are left
 * out, pending ones stay in *open for the next look. */
static apr_status_t issue_authorizations_look(issue_t *ctx, apr_array_header_t **open,
                                              apr_interval_time_t *retry_after)
{
    apr_array_header_t *still = apr_array_make(ctx->p, (*open)->nelts, sizeof(const char *));
    at_acme_authz_t *authz;
    apr_status_t rv;
    int i;

    for (i = 0; i < (*open)->nelts; ++i) {
        const char *url = APR_ARRAY_IDX(*open, i, const char *);

        if ((rv = at_acme_authz_get(&authz, ctx->acme, ctx->p, url)) != APR_SUCCESS) {
            return rv;
        }
        if (status_is(authz->status, "valid")) {
            APR_ARRAY_PUSH(ctx->covered, const char *) = issue_authz_name(ctx->p, authz);
        } else if (issue_name_failed(ctx, issue_authz_name(ctx->p, authz))) {
            continue; /* left out already (never started): it stays pending forever */
        } else if (status_is(authz->status, "pending")) {
            APR_ARRAY_PUSH(still, const char *) = url;
            *retry_after = authz->retry_after > *retry_after ? authz->retry_after : *retry_after;
        } else {
            issue_failed_add(ctx, authz, NULL);
        }
    }
    *open = still;
    return APR_SUCCESS;
}

/* Logs that names were left out, each with the CA's reason. */
static void issue_log_partial(issue_t *ctx)
{
    const char *left_out = "", *covered = "";
    int i;

    for (i = 0; i < ctx->failed->nelts; ++i) {
        const at_issue_failed_t *f = &APR_ARRAY_IDX(ctx->failed, i, at_issue_failed_t);

        left_out =
            apr_pstrcat(ctx->p, left_out, i > 0 ? "; " : "", f->name, " (", f->reason, ")", NULL);
    }
    for (i = 0; i < ctx->covered->nelts; ++i) {
        covered = apr_pstrcat(ctx->p, covered, i > 0 ? "," : "",
                              APR_ARRAY_IDX(ctx->covered, i, const char *), NULL);
    }
    if (ctx->covered->nelts == 0) {
        at_log(AT_LOG_ERR, AT_ECHALLENGE, AT_LOGNO(1085) "%s: %s could not validate %s",
               ctx->request->site, at_acme_url(ctx->acme), left_out);
    } else {
        at_log(AT_LOG_WARN, AT_ECHALLENGE,
               AT_LOGNO(1086) "%s: %s could not validate %s; ordering a partial certificate for %s",
               ctx->request->site, at_acme_url(ctx->acme), left_out, covered);
    }
}

/* After a failed order (allow_partial): waits until every authorization is valid or failed, then
 * ISSUE_PARTIAL when some names passed and others did not, AT_ECHALLENGE when none passed. */
static apr_status_t issue_authorizations_settle(issue_t *ctx, const at_acme_order_t *order)
{
    apr_interval_time_t retry_after = 0;
    apr_array_header_t *open = apr_array_copy(ctx->p, order->authorizations);
    apr_array_header_t *covered = apr_array_make(ctx->p, ctx->names->nelts, sizeof(const char *));
    apr_status_t rv;
    int i, look = 1;

    for (;;) {
        retry_after = 0;
        if ((rv = issue_authorizations_look(ctx, &open, &retry_after)) != APR_SUCCESS) {
            return rv;
        }
        if (open->nelts == 0) {
            break;
        }
        if ((rv = issue_wait(ctx, &look, retry_after, "validation")) != APR_SUCCESS) {
            return rv;
        }
    }
    if (ctx->failed->nelts == 0) {
        return issue_find_failed(ctx, order); /* the order failed for another reason */
    }
    /* In the order of the request: the first name stays first where it passed. */
    for (i = 0; i < ctx->names->nelts; ++i) {
        const char *name = APR_ARRAY_IDX(ctx->names, i, const char *);

        if (issue_name_listed(ctx->covered, name)) {
            APR_ARRAY_PUSH(covered, const char *) = name;
        }
    }
    ctx->covered = covered;
    issue_log_partial(ctx);
    return covered->nelts > 0 ? ISSUE_PARTIAL : AT_ECHALLENGE;
}

/* Polls the order (one request for all names) until every authorization is valid. */
static apr_status_t issue_authorizations_wait(issue_t *ctx, at_acme_order_t **order)
{
    apr_interval_time_t retry_after = 0;
    apr_status_t rv;
    int look = 1;

    if (ctx->partial && ctx->failed->nelts > 0) {
        /* a name is out already: the order cannot become ready, look at the others */
        return issue_authorizations_settle(ctx, *order);
    }
    if (ctx->pending->nelts == 0) {
        return APR_SUCCESS;
    }
    for (;;) {
        if ((rv = issue_wait(ctx, &look, retry_after, "validation")) != APR_SUCCESS ||
            (rv = at_acme_order_get(order, ctx->acme, ctx->p, (*order)->url)) != APR_SUCCESS) {
            return rv;
        }
        if (status_is((*order)->status, "ready") || status_is((*order)->status, "valid")) {
            return APR_SUCCESS;
        }
        if (!status_is((*order)->status, "pending")) {
            return ctx->partial ? issue_authorizations_settle(ctx, *order)
                                : issue_find_failed(ctx, *order);
        }
        retry_after = (*order)->retry_after;
    }
}

static apr_status_t issue_finalize(at_acme_order_t **order, issue_t *ctx, EVP_PKEY *key)
{
    unsigned char *csr;
    apr_size_t csr_len;
    apr_status_t rv;
    int look = 1;

    rv = at_csr_create(&csr, &csr_len, ctx->p, key, ctx->names);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if ((rv = at_acme_order_finalize(order, ctx->acme, ctx->p, csr, csr_len)) != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv, AT_LOGNO(1087) "%s: %s refused to finalize the order",
               ctx->request->site, at_acme_url(ctx->acme));
        return rv;
    }
    while (!status_is((*order)->status, "valid")) {
        if (!status_is((*order)->status, "processing") && !status_is((*order)->status, "ready")) {
            at_log(AT_LOG_ERR, AT_EPROBLEM, AT_LOGNO(1084) "%s: order %s became %s%s%s",
                   ctx->request->site, (*order)->url, (*order)->status, (*order)->error ? ": " : "",
                   (*order)->error ? at_acme_problem_text(ctx->p, (*order)->error) : "");
            return AT_EPROBLEM;
        }
        rv = issue_wait(ctx, &look, (*order)->retry_after, "the certificate");
        if (rv != APR_SUCCESS ||
            (rv = at_acme_order_get(order, ctx->acme, ctx->p, (*order)->url)) != APR_SUCCESS) {
            return rv;
        }
    }
    if ((*order)->certificate == NULL) {
        at_log(AT_LOG_ERR, AT_EPROTO,
               AT_LOGNO(1088) "%s: order %s is valid but names no certificate", ctx->request->site,
               (*order)->url);
        return AT_EPROTO;
    }
    return APR_SUCCESS;
}

/* Whether the top of chain was issued by preferred (an issuer commonName). */
static int issue_chain_preferred(const char *pem, apr_size_t len, const char *preferred,
                                 apr_pool_t *p)
{
    apr_array_header_t *chain;
    at_cert_info_t *top;

    if (at_chain_from_pem(&chain, p, pem, len) != APR_SUCCESS ||
        at_cert_info(&top, p, APR_ARRAY_IDX(chain, chain->nelts - 1, X509 *)) != APR_SUCCESS) {
        return 0;
    }
    return apr_strnatcasecmp(top->issuer_cn, preferred) == 0;
}

static apr_status_t issue_download(at_issue_result_t *result, issue_t *ctx, const char *url)
{
    const char *preferred = ctx->request->preferred_chain;
    const char *pem;
    apr_array_header_t *ignored;
    apr_size_t len;
    apr_status_t rv;
    int i;

    rv = at_acme_certificate_get(&result->chain_pem, &result->chain_len, &result->alternates,
                                 ctx->acme, ctx->p, url);
    if (rv != APR_SUCCESS || preferred == NULL ||
        issue_chain_preferred(result->chain_pem, result->chain_len, preferred, ctx->p)) {
        return rv;
    }
    for (i = 0; i < result->alternates->nelts; ++i) {
        const char *alternate = APR_ARRAY_IDX(result->alternates, i, const char *);

        if (at_acme_certificate_get(&pem, &len, &ignored, ctx->acme, ctx->p, alternate) ==
                APR_SUCCESS &&
            issue_chain_preferred(pem, len, preferred, ctx->p)) {
            result->chain_pem = pem;
            result->chain_len = len;
            return APR_SUCCESS;
        }
    }
    at_log(AT_LOG_INFO, APR_SUCCESS,
           AT_LOGNO(1089) "%s: no chain to %s offered; using the default chain", ctx->request->site,
           preferred);
    return APR_SUCCESS;
}

/* What the CA sent must be what we asked for before anyone stores it: our key, our names and
 * no other, valid now. A CA that answers otherwise is faulty or hostile. */
static apr_status_t issue_check_result(issue_t *ctx, const at_issue_result_t *res, EVP_PKEY *key)
{
    at_certset_check_t check = {0};
    apr_array_header_t *chain;
    const char *why;
    apr_status_t rv;

    check.names = ctx->names;
    check.now = apr_time_now();
    rv = at_chain_from_pem(&chain, ctx->p, res->chain_pem, res->chain_len);
    if (rv == APR_SUCCESS) {
        rv = at_certset_validate(&why, ctx->p, key, chain, &check);
    } else {
        why = "it does not parse as a PEM certificate chain";
    }
    if (rv == APR_SUCCESS) {
        /* covering every name is not enough: each name the leaf carries must be one we ordered */
        check.allow_partial = 1;
        rv = at_certset_validate(&why, ctx->p, key, chain, &check);
    }
    if (rv != APR_SUCCESS) {
        at_log(AT_LOG_ERR, AT_EINVALID,
               AT_LOGNO(1090) "%s: the CA at %s sent a certificate we cannot use: %s",
               ctx->request->site, at_acme_url(ctx->acme), why);
        return AT_EINVALID;
    }
    return APR_SUCCESS;
}

/* An order for ctx->names through validation; ISSUE_PARTIAL when only ctx->covered passed. */
static apr_status_t issue_order_validate(issue_t *ctx, at_acme_order_t **order)
{
    apr_status_t rv;

    if ((rv = issue_order_new(order, ctx)) != APR_SUCCESS) {
        return rv;
    }
    apr_array_clear(ctx->pending);
    rv = issue_authorizations_start(ctx, *order);
    if (rv == APR_SUCCESS) {
        rv = issue_authorizations_wait(ctx, order);
    }
    issue_withdraw_challenges(ctx);
    return rv;
}

/* Whether f is http-01 failing because the CA could not connect or got no answer (port 80
 * closed, or answered elsewhere). */
static int issue_failed_for_port80(const at_issue_failed_t *f)
{
    return f->challenge != NULL && strcmp(f->challenge, AT_CHALLENGE_HTTP01) == 0 &&
           f->type != NULL &&
           (strcmp(f->type, AT_ACME_PROBLEM_PREFIX "connection") == 0 ||
            strcmp(f->type, AT_ACME_PROBLEM_PREFIX "unauthorized") == 0);
}

/* Whether the order that failed is followed by one with tls-alpn-01 (issue_fallback_start):
 * once per issuance, when the request lists tls-alpn-01 after http-01 and a name failed
 * http-01 for want of port 80. */
static int issue_fallback_wanted(const issue_t *ctx)
{
    int i, http = -1, alpn = -1;

    for (i = 0; i < ctx->types->nelts; ++i) {
        const char *type = APR_ARRAY_IDX(ctx->types, i, const char *);

        http = strcmp(type, AT_CHALLENGE_HTTP01) == 0 ? i : http;
        alpn = strcmp(type, AT_CHALLENGE_TLSALPN01) == 0 ? i : alpn;
    }
    if (ctx->fallback->nelts > 0 || http < 0 || alpn < http || ctx->request->tlsalpn01 == NULL) {
        return 0;
    }
    for (i = 0; i < ctx->failed->nelts; ++i) {
        if (issue_failed_for_port80(&APR_ARRAY_IDX(ctx->failed, i, at_issue_failed_t))) {
            return 1;
        }
    }
    return 0;
}

/* RFC 8555 §7.5.1: a failed challenge makes its authorization invalid for good, so the other
 * type is tried in a new order, right away and once, for the names whose http-01 failed for
 * want of port 80 (one WARNING each); the other names keep the request's order of types. */
static void issue_fallback_start(issue_t *ctx)
{
    int i;

    for (i = 0; i < ctx->failed->nelts; ++i) {
        const at_issue_failed_t *f = &APR_ARRAY_IDX(ctx->failed, i, at_issue_failed_t);

        if (issue_failed_for_port80(f)) {
            at_log(AT_LOG_WARN, AT_ECHALLENGE,
                   AT_LOGNO(1420) "%s: http-01 validation of %s failed at %s (%s); ordering "
                                  "again with tls-alpn-01",
                   ctx->request->site, f->name, at_acme_url(ctx->acme), f->reason);
            APR_ARRAY_PUSH(ctx->fallback, const char *) = f->name;
        }
    }
    ctx->names = ctx->request->names;
    ctx->partial = ctx->request->allow_partial;
    apr_array_clear(ctx->failed);
    apr_array_clear(ctx->covered);
}

/* Order, validation, finalization and download: everything after the request was checked. */
static apr_status_t issue_run(issue_t *ctx, at_issue_result_t *res)
{
    at_acme_order_t *order;
    EVP_PKEY *key;
    apr_status_t rv;

    rv = issue_order_validate(ctx, &order);
    if ((rv == AT_ECHALLENGE || rv == ISSUE_PARTIAL) && issue_fallback_wanted(ctx)) {
        issue_fallback_start(ctx);
        rv = issue_order_validate(ctx, &order);
    }
    if (rv == ISSUE_PARTIAL) {
        /* once only: a name failing now fails the certificate */
        ctx->names = ctx->covered;
        ctx->partial = 0;
        rv = issue_order_validate(ctx, &order);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    res->order_url = order->url;
    if ((rv = at_key_generate(&key, ctx->p, ctx->request->key_type)) != APR_SUCCESS ||
        (rv = at_key_to_pem(&res->key_pem, &res->key_len, ctx->p, key)) != APR_SUCCESS ||
        (rv = issue_finalize(&order, ctx, key)) != APR_SUCCESS) {
        return rv;
    }
    res->names = ctx->names;
    res->failed = ctx->failed;
    if ((rv = issue_download(res, ctx, order->certificate)) != APR_SUCCESS) {
        return rv;
    }
    return issue_check_result(ctx, res, key);
}

const apr_array_header_t *at_issue_challenges_default(apr_pool_t *p)
{
    apr_array_header_t *types = apr_array_make(p, 2, sizeof(const char *));

    APR_ARRAY_PUSH(types, const char *) = AT_CHALLENGE_HTTP01;
    APR_ARRAY_PUSH(types, const char *) = AT_CHALLENGE_TLSALPN01;
    return types;
}

apr_status_t at_issue_certificate(at_issue_result_t **result, at_acme_t *acme, apr_pool_t *p,
                                  const at_issue_request_t *request,
                                  const at_http01_responder_t *responder)
{
    issue_t ctx = {0};
    at_issue_result_t *res = apr_pcalloc(p, sizeof(*res));
    int n;
    apr_status_t rv;

    if (request->names == NULL || request->names->nelts == 0) {
        return AT_EARG;
    }
    n = request->names->nelts;
    ctx.acme = acme;
    ctx.p = p;
    ctx.request = request;
    ctx.responder = responder;
    ctx.fallback = apr_array_make(p, 1, sizeof(const char *));
    ctx.types = request->challenges != NULL ? request->challenges : at_issue_challenges_default(p);
    ctx.deadline =
        apr_time_now() + (request->timeout > 0 ? request->timeout : AT_ISSUE_TIMEOUT_DEFAULT);
    ctx.names = request->names;
    ctx.replaces = request->replaces;
    ctx.partial = request->allow_partial;
    ctx.pending = apr_array_make(p, n, sizeof(at_acme_authz_t *));
    ctx.published = apr_array_make(p, n, sizeof(issue_challenge_t));
    ctx.failed = apr_array_make(p, 1, sizeof(at_issue_failed_t));
    ctx.covered = apr_array_make(p, n, sizeof(const char *));
    ctx.dns_waiting = apr_array_make(p, 1, sizeof(at_acme_challenge_t *));
    rv = issue_run(&ctx, res);
    if (request->account_store != NULL) {
        at_account_directory_keep(acme, request->account_store, p, rv == APR_SUCCESS);
    }
    if (rv == APR_SUCCESS) {
        *result = res;
    } else if (rv == AT_ECHALLENGE) {
        res->failed = ctx.failed;
        *result = res;
    }
    return rv;
}

apr_status_t at_certset_save(at_store_t *store, at_store_group_e group, const char *site,
                             const at_issue_result_t *result, apr_pool_t *p)
{
    apr_status_t rv;

    rv = at_store_save(store, group, site, AT_CERTSET_KEY, result->key_pem, result->key_len,
                       AT_STORE_SECRET, p);
    if (rv == APR_SUCCESS) {
        rv = at_store_save(store, group, site, AT_CERTSET_CHAIN, result->chain_pem,
                           result->chain_len, AT_STORE_PUBLIC, p);
    }
    return rv;
}

apr_status_t at_certset_load(EVP_PKEY **key, apr_array_header_t **chain, at_store_t *store,
                             at_store_group_e group, const char *site, apr_pool_t *p)
{
    char *data;
    apr_size_t len;
    apr_status_t rv;

    rv = at_store_load(store, group, site, AT_CERTSET_KEY, &data, &len, AT_STORE_SECRET, p);
    if (rv == APR_SUCCESS) {
        rv = at_key_from_pem(key, p, data, len);
    }
    if (rv == APR_SUCCESS) {
        rv = at_store_load(store, group, site, AT_CERTSET_CHAIN, &data, &len, AT_STORE_PUBLIC, p);
    }
    if (rv == APR_SUCCESS) {
        rv = at_chain_from_pem(chain, p, data, len);
    }
    return rv;
}
