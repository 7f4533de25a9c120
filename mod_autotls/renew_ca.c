/* SPDX-License-Identifier: Apache-2.0 */
/*
 * renew_ca.c: the CAs of the renewal process, in failover order (AutoTLSCA, repeatable).
 *
 * The one idea: each CA is a world of its own (its account, its order bucket, whether it answers,
 * whether it offers ARI), and a site is always at exactly one of them for its next order: the
 * position in its job file (at_ca_failover_failed decides the moves). What is asked about a
 * served certificate (its renewal window, `replaces`) goes to the CA that issued it and to no
 * other, whatever CA the site's next order goes to.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include <httpd.h>
#include <http_log.h>

#include "at_job.h"
#include "log_glue.h"
#include "renew_fingerprint.h"
#include "renew_task.h"

APLOG_USE_MODULE(autotls);

autotls_renew_ca_t *autotls_renew_job_ca(autotls_renew_t *renew, const autotls_renew_job_t *job)
{
    at_ca_position_t pos = autotls_job_ca_position(&job->state, renew->ctx->cas);

    return &renew->cas[pos.index < renew->ca_count ? pos.index : 0];
}

autotls_renew_ca_t *autotls_renew_job_issuer(autotls_renew_t *renew, const autotls_renew_job_t *job)
{
    int index = autotls_job_issuer(&job->state, renew->ctx->cas, job->serial);

    return index >= 0 && index < renew->ca_count ? &renew->cas[index] : NULL;
}

int autotls_renew_ca_ari_absent(autotls_renew_t *renew, autotls_renew_ca_t *ca)
{
    int absent;

    apr_thread_mutex_lock(renew->lock);
    absent = ca->ari_absent;
    apr_thread_mutex_unlock(renew->lock);
    return absent;
}

void autotls_renew_ca_failed(autotls_renew_t *renew, autotls_renew_job_t *job, int at,
                             const char *error, apr_interval_time_t *delay, apr_pool_t *p)
{
    autotls_job_t *state = &job->state;
    at_ca_position_t pos = autotls_job_ca_position(state, renew->ctx->cas);
    at_ca_move_e move;

    if (pos.index != at) { /* the order went elsewhere (the list changed meanwhile) */
        pos.index = at;
        pos.failures = 0;
    }
    move = at_ca_failover_failed(&pos, renew->ca_count, renew->ctx->ca_failover);
    autotls_job_ca_set(state, renew->ctx->cas, pos);
    if (move == AT_CA_STAY) {
        return;
    }
    if (move == AT_CA_NEXT) {
        /* the next CA never saw this site fail: it is asked at once; the old CA's Retry-After
         * is the old CA's business */
        state->next_try = apr_time_now();
        state->retry_after = 0;
        *delay = 0;
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, renew->ctx->main_server,
                 AUTOTLS_LOGNO(0150) "%s: %d failed orders in a row at %s (last: %s); the next "
                                     "order goes to %s%s",
                 job->site->name, renew->ctx->ca_failover, renew->cas[at].spec->url, error,
                 renew->cas[pos.index].spec->url,
                 move == AT_CA_WRAP ? " (the first CA again: every CA failed; on the backoff)"
                                    : ", at once");
}

/* ---- start and stop ---------------------------------------------------------------------------
 */

/* The CA's order bucket as the last process left it: a restart does not refill it. The first CA
 * has AutoTLSCARate; the others their CA's default (at_rate_default: none unless Let's
 * Encrypt). */
static void renew_ca_rate_load(autotls_renew_t *renew, autotls_renew_ca_t *ca)
{
    autotls_ctx_t *ctx = renew->ctx;
    apr_time_t now = apr_time_now();
    json_t *json;

    ca->rate_item = at_job_rate_item(renew->pool, ca->spec->url);
    at_bucket_init(&ca->bucket,
                   ca->index == 0 ? autotls_config_ca_rate(ctx->main_server)
                                  : at_rate_default(ca->spec->url),
                   now);
    if (at_store_load_json(ctx->shared, AT_STORE_JOBS, NULL, ca->rate_item, &json, renew->pool) ==
        APR_SUCCESS) {
        at_bucket_from_json(&ca->bucket, json, now);
        json_decref(json);
    }
    ca->holds = apr_hash_make(renew->holds_pool);
}

void autotls_renew_cas_load(autotls_renew_t *renew)
{
    autotls_ctx_t *ctx = renew->ctx;
    int i;

    renew->ca_count = ctx->cas->nelts;
    renew->cas = apr_pcalloc(renew->pool, sizeof(*renew->cas) * (apr_size_t)renew->ca_count);
    for (i = 0; i < renew->ca_count; i++) {
        autotls_renew_ca_t *ca = &renew->cas[i];

        ca->index = i;
        ca->spec = &APR_ARRAY_IDX(ctx->cas, i, at_ca_spec_t);
        ca->account_item = at_job_account_item(renew->pool, ca->spec->url);
        autotls_job_init(&ca->account);
        autotls_job_load(&ca->account, ctx->shared, ca->account_item, renew->pool);
        if (i == 0) { /* the fingerprint names the first CA's settings (renew_fingerprint.c) */
            autotls_renew_fingerprint_apply(&ca->account, ctx, NULL, renew->pool);
        }
        renew_ca_rate_load(renew, ca);
    }
}

void autotls_renew_cas_rate_save(autotls_renew_t *renew, apr_pool_t *p)
{
    int i;

    if (renew->fleet != NULL) {
        return; /* a fleet's buckets are written by every spend (renew_fleet.c): a copy written
                 * here would undo other nodes' spending */
    }
    for (i = 0; i < renew->ca_count; i++) {
        autotls_renew_ca_t *ca = &renew->cas[i];
        json_t *json = NULL;

        apr_thread_mutex_lock(renew->lock);
        if (ca->bucket_dirty) {
            json = at_bucket_to_json(&ca->bucket);
            ca->bucket_dirty = 0;
        }
        apr_thread_mutex_unlock(renew->lock);
        if (json != NULL) {
            at_store_save_json(renew->ctx->shared, AT_STORE_JOBS, NULL, ca->rate_item, json, p);
            json_decref(json);
        }
    }
}

void autotls_renew_cas_end(autotls_renew_t *renew)
{
    int i;

    for (i = 0; i < renew->ca_count; i++) {
        autotls_job_clear(&renew->cas[i].account);
        free(renew->cas[i].directory_text);
        renew->cas[i].directory_text = NULL;
    }
}
