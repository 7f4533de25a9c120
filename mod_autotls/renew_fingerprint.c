/* SPDX-License-Identifier: Apache-2.0 */
/*
 * renew_fingerprint.c: the configuration fingerprints of renew_fingerprint.h.
 *
 * The one idea: only what can make an order (or the account's registration) fail or succeed goes
 * in, so that an unrelated edit does not cut short every site's backoff at once. A file counts by
 * its path and its size and modification time, so a fixed file under the same name counts as a
 * change too. Stored in the job files (renew_job.h); the hash is the library's (at_fingerprint.h).
 */
#include <sys/stat.h>

#include <apr_strings.h>
#include <apr_tables.h>

#include <httpd.h>
#include <http_log.h>

#include "at_crypto.h"
#include "at_fingerprint.h"
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

static void fingerprint_common(apr_array_header_t *parts, const autotls_ctx_t *ctx, apr_pool_t *p)
{
    APR_ARRAY_PUSH(parts, const char *) = ctx->ca_url;
    APR_ARRAY_PUSH(parts, const char *) = fingerprint_file(p, ctx->ca_file);
    APR_ARRAY_PUSH(parts, const char *) = ctx->eab_kid;
    APR_ARRAY_PUSH(parts, const char *) = fingerprint_file(p, ctx->eab_hmac_file);
}

static const char *fingerprint_site(const autotls_ctx_t *ctx, const autotls_site_t *site,
                                    apr_pool_t *p)
{
    apr_array_header_t *parts = apr_array_make(p, 8, sizeof(const char *));
    int i;

    APR_ARRAY_PUSH(parts, const char *) = FINGERPRINT_SITE_V;
    fingerprint_common(parts, ctx, p);
    APR_ARRAY_PUSH(parts, const char *) = fingerprint_file(p, ctx->issuer_roots);
    APR_ARRAY_PUSH(parts, const char *) = at_key_type_name(site->key_type);
    for (i = 0; i < site->names->nelts; ++i) {
        APR_ARRAY_PUSH(parts, const char *) = APR_ARRAY_IDX(site->names, i, const char *);
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
