/* SPDX-License-Identifier: Apache-2.0 */
/*
 * renew_fleet.c: the mirror thread and the wait for the fleet's acks (renew_fleet.h).
 */
#include <stdlib.h>
#include <string.h>

#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>

#include "at_core.h"
#include "config.h"
#include "log_glue.h"
#include "renew_fleet.h"
#include "store_shared.h"

struct autotls_renew_fleet_t {
    autotls_ctx_t *ctx;
    apr_pool_t *pool; /* the thread's, on an allocator of its own (the renewal process's pools
                       * have no mutex): the connection, the mirror, its scratch pools */
    at_fleet_t fleet; /* shared: the thread's own connection; local: ctx->store */
    at_fleet_mirror_t *mirror; /* used by the thread alone once it runs */
    apr_thread_t *thread;
    volatile apr_uint32_t stop; /* set by autotls_renew_fleet_stop */
    apr_time_t beat_next;
    int beats;     /* heartbeats written so far */
    int twin_told; /* another process beating this node's id was said */
    apr_time_t nodes_next;
    apr_time_t sweep_next;
    apr_thread_mutex_t *lock; /* guards the two below: the thread writes, the status reads */
    char *nodes_live;         /* the live ids joined by ',' (malloc), or NULL before a listing */
    int nodes_changed;        /* nodes_live changed since the status last read it */
    volatile apr_uint32_t bucket_busy_told; /* "the bucket's lease is held" said for this streak */
};

apr_status_t autotls_fleet_node_id(const char **node, const server_rec *s, apr_pool_t *p)
{
    const char *given = autotls_config_node_name(s);

    if (given != NULL) {
        *node = given;
        return APR_SUCCESS;
    }
    return at_fleet_node_default(node, p);
}

/* The live nodes, kept for the status. */
static void fleet_list_nodes(autotls_renew_fleet_t *f, apr_pool_t *scratch)
{
    apr_array_header_t *nodes;
    const char *text;

    if (at_fleet_nodes_live(&nodes, f->fleet.shared, 0, scratch) != APR_SUCCESS) {
        return;
    }
    text = apr_array_pstrcat(scratch, nodes, ',');
    apr_thread_mutex_lock(f->lock);
    if (f->nodes_live == NULL || strcmp(f->nodes_live, text) != 0) {
        free(f->nodes_live);
        f->nodes_live = strdup(text);
        f->nodes_changed = 1;
    }
    apr_thread_mutex_unlock(f->lock);
}

/* The fleet's answers into challenges/ until the bound is done, then the heartbeat (only after
 * a complete mirror: a node that counts as live has every answer the fleet had). */
static void fleet_step(autotls_renew_fleet_t *f, apr_pool_t *scratch)
{
    at_fleet_mirror_result_t result;
    apr_time_t now;
    const char *other = NULL;
    apr_status_t rv;
    int passes = 0, removed;

    /* again at once only while the bound cut a pass short: a failure waits for the next step */
    do {
        rv = at_fleet_mirror_run(&result, f->mirror, scratch);
        apr_pool_clear(scratch);
        if (rv != APR_SUCCESS) {
            return; /* the store logged the change of reachability once */
        }
    } while (result.more && !result.failed && ++passes < AUTOTLS_FLEET_MIRROR_PASSES &&
             !apr_atomic_read32(&f->stop));
    now = apr_time_now();
    if (!result.more && now >= f->beat_next &&
        at_fleet_heartbeat(&f->fleet, AT_FLEET_HEARTBEAT_TTL, &other, scratch) == APR_SUCCESS) {
        f->beat_next = now + AUTOTLS_FLEET_BEAT_STEP;
        /* before this process's first beat, the value may be its predecessor's */
        if (other != NULL && f->beats++ > 0 && !f->twin_told) {
            f->twin_told = 1;
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, f->ctx->main_server,
                         AUTOTLS_LOGNO(0121) "fleet: another process beats the heartbeat of "
                                             "node %s too (instance %s; this one is %s): two "
                                             "servers share this node id, so each counts the "
                                             "other's acknowledgements as its own; give each "
                                             "server its own AutoTLSNodeName",
                         f->fleet.node, other, f->fleet.instance);
        }
    }
    if (now >= f->nodes_next) {
        f->nodes_next = now + AUTOTLS_FLEET_NODES_STEP;
        fleet_list_nodes(f, scratch);
    }
    if (now >= f->sweep_next) {
        f->sweep_next = now + AUTOTLS_FLEET_SWEEP_STEP;
        if (at_fleet_answers_sweep(&removed, f->fleet.shared, AT_FLEET_ANSWER_MAX_AGE, scratch) ==
                APR_SUCCESS &&
            removed > 0) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, f->ctx->main_server,
                         AUTOTLS_LOGNO(0119) "fleet: removed %d http-01 answer(s) older than %d "
                                             "s from the fleet's store (left by a node that "
                                             "stopped mid-order)",
                         removed, (int)apr_time_sec(AT_FLEET_ANSWER_MAX_AGE));
        }
    }
    apr_pool_clear(scratch);
}

/* A root pool on an allocator of its own, for the mirror thread. */
static apr_status_t fleet_pool(apr_pool_t **pool)
{
    apr_allocator_t *allocator;
    apr_status_t rv;

    if ((rv = apr_allocator_create(&allocator)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = apr_pool_create_ex(pool, NULL, NULL, allocator)) != APR_SUCCESS) {
        apr_allocator_destroy(allocator);
        return rv;
    }
    apr_allocator_owner_set(allocator, *pool);
    return APR_SUCCESS;
}

static void *APR_THREAD_FUNC fleet_thread(apr_thread_t *thread, void *data)
{
    autotls_renew_fleet_t *f = data;
    apr_pool_t *scratch;

    if (apr_pool_create(&scratch, f->pool) == APR_SUCCESS) {
        while (!apr_atomic_read32(&f->stop)) {
            fleet_step(f, scratch);
            apr_sleep(AUTOTLS_FLEET_MIRROR_STEP);
        }
        apr_pool_destroy(scratch);
    }
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

apr_status_t autotls_renew_fleet_start(autotls_renew_fleet_t **fleet, autotls_ctx_t *ctx,
                                       apr_pool_t *p)
{
    autotls_renew_fleet_t *f;
    apr_pool_t *scratch = NULL;
    char *instance;
    apr_status_t rv;

    *fleet = NULL;
    if (!autotls_store_fleet(ctx)) {
        return APR_SUCCESS;
    }
    f = apr_pcalloc(p, sizeof(*f));
    f->ctx = ctx;
    f->fleet.local = ctx->store;
    if ((rv = fleet_pool(&f->pool)) == APR_SUCCESS &&
        (rv = apr_thread_mutex_create(&f->lock, APR_THREAD_MUTEX_DEFAULT, p)) == APR_SUCCESS &&
        (rv = autotls_fleet_node_id(&f->fleet.node, ctx->main_server, p)) == APR_SUCCESS &&
        (rv = at_store_lease_token(&instance, p)) == APR_SUCCESS &&
        (f->fleet.instance = instance) != NULL &&
        (rv = autotls_store_shared_clone(&f->fleet.shared, ctx, f->pool)) == APR_SUCCESS &&
        (rv = at_fleet_mirror_create(&f->mirror, f->pool, &f->fleet)) == APR_SUCCESS &&
        (rv = apr_pool_create(&scratch, f->pool)) == APR_SUCCESS) {
        /* once before any order of this process: what it leaves behind is the earlier one's */
        fleet_step(f, scratch);
        apr_pool_destroy(scratch);
        rv = apr_thread_create(&f->thread, NULL, fleet_thread, f, f->pool);
    }
    if (rv != APR_SUCCESS) {
        autotls_log_error(APLOG_MARK, APLOG_ERR, rv, ctx->main_server,
                          AUTOTLS_LOGNO(0118) "fleet: cannot start this node's challenge mirror "
                                              "(node %s): other nodes' orders cannot validate "
                                              "here",
                          f->fleet.node != NULL ? f->fleet.node : "(no id)");
        return rv;
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, ctx->main_server,
                 AUTOTLS_LOGNO(0117) "fleet: node %s mirrors the fleet's http-01 answers into %s "
                                     "and beats its heartbeat every %d s",
                 f->fleet.node, ctx->store_dir, (int)apr_time_sec(AUTOTLS_FLEET_BEAT_STEP));
    *fleet = f;
    return APR_SUCCESS;
}

void autotls_renew_fleet_stop(autotls_renew_fleet_t *f)
{
    apr_status_t trv;
    apr_pool_t *scratch;

    if (f == NULL) {
        return;
    }
    apr_atomic_set32(&f->stop, 1);
    if (f->thread != NULL) {
        apr_thread_join(&trv, f->thread);
    }
    if (apr_pool_create(&scratch, f->pool) == APR_SUCCESS) {
        at_fleet_leave(&f->fleet, scratch);
        apr_pool_destroy(scratch);
    }
    free(f->nodes_live);
    f->nodes_live = NULL;
    apr_pool_destroy(f->pool);
    f->pool = NULL;
}

int autotls_renew_fleet_nodes_changed(autotls_renew_fleet_t *f)
{
    int changed;

    if (f == NULL) {
        return 0;
    }
    apr_thread_mutex_lock(f->lock);
    changed = f->nodes_changed;
    apr_thread_mutex_unlock(f->lock);
    return changed;
}

const char *autotls_renew_fleet_node(const autotls_renew_fleet_t *f)
{
    return f != NULL ? f->fleet.node : NULL;
}

static void fleet_status_lease(at_status_fleet_t *out, const char *site, const char *node,
                               apr_time_t until, apr_pool_t *p)
{
    at_status_lease_t *lease = apr_pcalloc(p, sizeof(*lease));

    lease->site = site;
    lease->node = apr_pstrdup(p, node);
    lease->until = until;
    APR_ARRAY_PUSH(out->leases, at_status_lease_t *) = lease;
}

void autotls_renew_fleet_status(at_status_t *status, int *changed, autotls_renew_fleet_t *f,
                                const autotls_renew_job_t *jobs, int count, apr_pool_t *p)
{
    apr_interval_time_t ttl = autotls_store_lease_ttl();
    apr_time_t now = apr_time_now();
    at_status_fleet_t *out;
    char *ids, *id, *last;
    int i;

    *changed = 0;
    if (f == NULL) {
        return;
    }
    out = at_status_fleet_make(status, f->fleet.node, p);
    apr_thread_mutex_lock(f->lock);
    ids = f->nodes_live != NULL ? apr_pstrdup(p, f->nodes_live) : "";
    *changed = f->nodes_changed;
    f->nodes_changed = 0;
    apr_thread_mutex_unlock(f->lock);
    for (id = apr_strtok(ids, ",", &last); id != NULL; id = apr_strtok(NULL, ",", &last)) {
        APR_ARRAY_PUSH(out->nodes_live, const char *) = id;
    }
    for (i = 0; i < count; i++) {
        const autotls_renew_job_t *job = &jobs[i];

        if (job->lease_token[0] != '\0') {
            fleet_status_lease(out, job->site->name, f->fleet.node, job->lease_renewed + ttl, p);
        } else if (job->lease_seen_until > now) {
            fleet_status_lease(out, job->site->name, job->lease_seen_node, job->lease_seen_until,
                               p);
        }
    }
}

void autotls_renew_fleet_await(const autotls_renew_fleet_t *f, at_store_t *task_store,
                               const char *site, const char *token, apr_pool_t *p)
{
    at_fleet_t task_fleet;
    const char *missing;

    if (f == NULL) {
        return;
    }
    task_fleet = f->fleet;
    task_fleet.shared = task_store;
    if (at_fleet_ack(task_store, token, task_fleet.node, p) == APR_SUCCESS) {
        at_fleet_acks_wait(&missing, &task_fleet, site, token, AT_FLEET_ACK_WAIT, p);
    }
}

/* The bucket's lease, tried a few times: another node holds it only for one read-change-write. */
static apr_status_t fleet_bucket_lease(at_store_t *store, const char *name, const char *token,
                                       apr_pool_t *p)
{
    apr_status_t rv = AT_EBUSY;
    int i;

    for (i = 0; i < AUTOTLS_FLEET_BUCKET_TRIES && rv == AT_EBUSY; i++) {
        if (i > 0) {
            apr_sleep(AUTOTLS_FLEET_BUCKET_STEP);
        }
        rv = at_store_lease_take(store, name, token, AUTOTLS_FLEET_BUCKET_TTL, p);
    }
    return rv;
}

/* Once a streak: the bucket's lease could not be had, so no new order goes (naming who holds
 * it: a node that died holding it blocks orders until the lease's TTL). */
static void fleet_bucket_busy(autotls_renew_t *renew, autotls_renew_ca_t *ca, at_store_t *store,
                              apr_status_t rv, apr_pool_t *p)
{
    const char *holder = NULL;
    apr_time_t expires;
    char *token;

    if (apr_atomic_cas32(&renew->fleet->bucket_busy_told, 1, 0) != 0) {
        return;
    }
    if (rv == AT_EBUSY &&
        at_store_lease_holder(store, ca->rate_item, &token, &expires, p) == APR_SUCCESS) {
        holder = at_fleet_lease_node(token);
    }
    autotls_log_error(APLOG_MARK, APLOG_WARNING, rv, renew->ctx->main_server,
                      AUTOTLS_LOGNO(0120) "fleet: the order bucket of %s (%s) cannot be taken "
                                          "now%s%s; new orders wait (said once until it can)",
                      ca->spec->url, ca->rate_item, holder != NULL ? ": held by node " : "",
                      holder != NULL ? holder : "");
}

/* The fleet's bucket of ca into ca->bucket (its rate stays this node's); none stored yet: the
 * local one stands. */
static apr_status_t fleet_bucket_read(autotls_renew_t *renew, autotls_renew_ca_t *ca,
                                      at_store_t *store, apr_time_t now, apr_pool_t *p)
{
    json_t *json;
    apr_time_t blocked;
    apr_status_t rv = at_store_load_json(store, AT_STORE_JOBS, NULL, ca->rate_item, &json, p);

    if (rv == APR_ENOENT) {
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_thread_mutex_lock(renew->lock);
    /* a 429 this node saw and could not write to the fleet (Redis away) still holds it here */
    blocked = ca->bucket.blocked_until;
    at_bucket_from_json(&ca->bucket, json, now);
    if (blocked > ca->bucket.blocked_until && blocked > now) {
        ca->bucket.blocked_until = blocked;
    }
    apr_thread_mutex_unlock(renew->lock);
    json_decref(json);
    return APR_SUCCESS;
}

void autotls_renew_fleet_buckets_read(autotls_renew_t *renew, at_store_t *store, apr_time_t now,
                                      apr_pool_t *p)
{
    int i;

    for (i = 0; renew->fleet != NULL && i < renew->ca_count; i++) {
        fleet_bucket_read(renew, &renew->cas[i], store, now, p);
    }
}

apr_status_t autotls_renew_fleet_bucket(int *paid, autotls_renew_t *renew, autotls_renew_ca_t *ca,
                                        at_store_t *store, autotls_fleet_bucket_e op,
                                        apr_time_t now, apr_interval_time_t retry_after,
                                        apr_pool_t *p)
{
    const char *name = ca->rate_item;
    json_t *json;
    char *token;
    apr_status_t rv;
    int spent = 0;

    *paid = 0;
    if (renew->fleet == NULL) {
        return APR_ENOTIMPL;
    }
    if (op == AUTOTLS_FLEET_BUCKET_READ) {
        return fleet_bucket_read(renew, ca, store, now, p);
    }
    if ((rv = at_fleet_lease_token(&token, renew->fleet->fleet.node, p)) != APR_SUCCESS ||
        (rv = fleet_bucket_lease(store, name, token, p)) != APR_SUCCESS) {
        fleet_bucket_busy(renew, ca, store, rv, p);
        return rv;
    }
    apr_atomic_set32(&renew->fleet->bucket_busy_told, 0);
    if ((rv = fleet_bucket_read(renew, ca, store, now, p)) == APR_SUCCESS) {
        apr_thread_mutex_lock(renew->lock);
        if (op == AUTOTLS_FLEET_BUCKET_TAKE) {
            spent = at_bucket_take(&ca->bucket, now, 0);
        } else if (op == AUTOTLS_FLEET_BUCKET_REFUND) {
            at_bucket_refund(&ca->bucket, now);
        } else {
            at_bucket_drain(&ca->bucket, now, retry_after);
        }
        json = at_bucket_to_json(&ca->bucket);
        apr_thread_mutex_unlock(renew->lock);
        rv = at_store_save_json(store, AT_STORE_JOBS, NULL, name, json, p);
        json_decref(json);
    }
    at_store_lease_release(store, name, token, p);
    *paid = rv == APR_SUCCESS && spent; /* a spend the fleet did not record places no order */
    return rv;
}
