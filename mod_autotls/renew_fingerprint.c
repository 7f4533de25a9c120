/* SPDX-License-Identifier: Apache-2.0 */
/*
 * renew_fingerprint.c: the configuration fingerprints of renew_fingerprint.h.
 *
 * The one idea: only what can make an order (or the account's registration) fail or succeed goes
 * in, so that an unrelated edit does not cut short every site's backoff at once. A file counts by
 * its path and its size and modification time, so a fixed file under the same name counts as a
 * change too. Stored in the job files (renew_job.h); the hash is the library's (at_fingerprint.h).
 * The files every site shares (CA trust, EAB key, issuer roots) are looked at once per
 * configuration load, not once per site (6000 stat calls at 2000 sites otherwise).
 */
#include <string.h>
#include <sys/stat.h>

#include <apr_strings.h>
#include <apr_tables.h>

#include <httpd.h>
#include <http_log.h>

#include "at_crypto.h"
#include "at_fingerprint.h"
#include "at_name.h"
#include "log_glue.h"
#include "renew_fingerprint.h"

APLOG_USE_MODULE(autotls);

/* Bumped when the parts change meaning: every stored fingerprint then differs once. */
#define FINGERPRINT_SITE_V "site-1"
#define FINGERPRINT_ACCOUNT_V "account-1"

/* A file as a part: its path, size and modification time ("" when none is configured). */
static const char *fingerprint_file(apr_pool_t *p, const char *path)
{
    struct stat st;

    if (path == NULL) {
        return "";
    }
    if (stat(path, &st) != 0) {
        return apr_pstrcat(p, path, " (unreadable)", NULL);
    }
    return apr_psprintf(p, "%s %ld %ld.%09ld", path, (long)st.st_size, (long)st.st_mtim.tv_sec,
                        (long)st.st_mtim.tv_nsec);
}

/* The file parts every fingerprint of one configuration load shares, in its pool. */
typedef struct {
    const autotls_ctx_t *ctx; /* the load they belong to; NULL: none yet */
    const char *ca_file;
    const char *eab_hmac_file;
    const char *issuer_roots;
} fingerprint_shared_t;

static fingerprint_shared_t fingerprint_shared;

static apr_status_t fingerprint_shared_forget(void *unused)
{
    memset(&fingerprint_shared, 0, sizeof(fingerprint_shared));
    return APR_SUCCESS;
}

/* The shared parts of ctx's load, looked at the first time they are asked for (the renewal
 * process loads its jobs in one thread) and forgotten with the load's pool. */
static const fingerprint_shared_t *fingerprint_shared_of(const autotls_ctx_t *ctx)
{
    if (fingerprint_shared.ctx != ctx) {
        fingerprint_shared.ca_file = fingerprint_file(ctx->pool, ctx->ca_file);
        fingerprint_shared.eab_hmac_file = fingerprint_file(ctx->pool, ctx->eab_hmac_file);
        fingerprint_shared.issuer_roots = fingerprint_file(ctx->pool, ctx->issuer_roots);
        fingerprint_shared.ctx = ctx;
        apr_pool_cleanup_register(ctx->pool, NULL, fingerprint_shared_forget,
                                  apr_pool_cleanup_null);
    }
    return &fingerprint_shared;
}

/* The CAs after the first and AutoTLSCAFailover, only when there are any: a configuration of one
 * CA keeps the fingerprint it had before several were possible. */
static void fingerprint_more_cas(apr_array_header_t *parts, const autotls_ctx_t *ctx, apr_pool_t *p)
{
    int i;

    for (i = 1; i < ctx->cas->nelts; i++) {
        const at_ca_spec_t *ca = &APR_ARRAY_IDX(ctx->cas, i, at_ca_spec_t);

        APR_ARRAY_PUSH(parts, const char *) = apr_psprintf(
            p, "ca%d=%s %s %s %s %s", i, ca->url, fingerprint_file(p, ca->ca_file),
            ca->eab_kid != NULL ? ca->eab_kid : "", fingerprint_file(p, ca->eab_hmac_file),
            ca->profile != NULL ? ca->profile : "");
    }
    if (ctx->cas->nelts > 1) {
        APR_ARRAY_PUSH(parts, const char *) = apr_psprintf(p, "failover=%d", ctx->ca_failover);
    }
}

static void fingerprint_common(apr_array_header_t *parts, const autotls_ctx_t *ctx, apr_pool_t *p)
{
    const fingerprint_shared_t *shared = fingerprint_shared_of(ctx);

    APR_ARRAY_PUSH(parts, const char *) = ctx->ca_url;
    APR_ARRAY_PUSH(parts, const char *) = shared->ca_file;
    APR_ARRAY_PUSH(parts, const char *) = ctx->eab_kid;
    APR_ARRAY_PUSH(parts, const char *) = shared->eab_hmac_file;
    fingerprint_more_cas(parts, ctx, p);
}

static const char *fingerprint_site(const autotls_ctx_t *ctx, const autotls_site_t *site,
                                    apr_pool_t *p)
{
    apr_array_header_t *parts = apr_array_make(p, 8, sizeof(const char *));
    int i;

    APR_ARRAY_PUSH(parts, const char *) = FINGERPRINT_SITE_V;
    fingerprint_common(parts, ctx, p);
    APR_ARRAY_PUSH(parts, const char *) = fingerprint_shared_of(ctx)->issuer_roots;
    APR_ARRAY_PUSH(parts, const char *) = at_key_type_name(site->key_type);
    for (i = 0; i < site->names->nelts; ++i) {
        APR_ARRAY_PUSH(parts, const char *) = APR_ARRAY_IDX(site->names, i, const char *);
    }
    for (i = 0; i < site->names->nelts; ++i) { /* dns-01's settings count for a wildcard */
        if (strncmp(APR_ARRAY_IDX(site->names, i, const char *), AT_NAME_WILDCARD_PREFIX,
                    strlen(AT_NAME_WILDCARD_PREFIX)) == 0) {
            APR_ARRAY_PUSH(parts, const char *) = apr_psprintf(
                p, "dns=%s timeout=%" APR_TIME_T_FMT " propagation=%" APR_TIME_T_FMT,
                fingerprint_file(p, ctx->dns_command), ctx->dns_timeout, ctx->dns_propagation);
            break;
        }
    }
    if (site->profile != NULL) { /* only then: a site without one keeps its fingerprint */
        APR_ARRAY_PUSH(parts, const char *) = apr_pstrcat(
            p, "profile=", site->profile, site->profile_required ? " required" : "", NULL);
    }
    return at_fingerprint(p, parts);
}

static const char *fingerprint_account(const autotls_ctx_t *ctx, apr_pool_t *p)
{
    apr_array_header_t *parts = apr_array_make(p, 6, sizeof(const char *));

    APR_ARRAY_PUSH(parts, const char *) = FINGERPRINT_ACCOUNT_V;
    fingerprint_common(parts, ctx, p);
    APR_ARRAY_PUSH(parts, const char *) = ctx->contact;
    return at_fingerprint(p, parts);
}

void autotls_renew_fingerprint_apply(autotls_job_t *job, const autotls_ctx_t *ctx,
                                     const autotls_site_t *site, apr_pool_t *p)
{
    const char *fingerprint =
        site != NULL ? fingerprint_site(ctx, site, p) : fingerprint_account(ctx, p);
    int failures = job->failures;

    if (!autotls_job_config_changed(job, fingerprint, apr_time_now())) {
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, ctx->main_server,
                 AUTOTLS_LOGNO(0914) "%s: the configuration changed since the last failure "
                                     "(%d in a row): trying again now instead of waiting out "
                                     "the backoff",
                 site != NULL ? site->name : apr_pstrcat(p, "ACME account at ", ctx->ca_url, NULL),
                 failures);
}
