/* SPDX-License-Identifier: Apache-2.0 */
/*
 * renew_task.h: what the renewal thread (renew.c) shares with its tasks (renew_task.c).
 *
 * The one idea: a job has one owner at a time. While `running` is clear the scheduler thread
 * owns every field of the job; it sets the task up, sets `running` under the lock and hands the
 * job to the thread pool, which then owns the job until it clears `running` under the lock
 * again and puts it on the `done` list, from which the scheduler takes it back. So no field
 * needs a lock of its own, and no store or CA I/O happens under the lock. A job the scheduler
 * owns sits in exactly one of its queues: `due` (by the time it must be looked at again) or a
 * ready queue (it wants an order and waits for a thread, a token or the account).
 */
#ifndef AUTOTLS_RENEW_TASK_H
#define AUTOTLS_RENEW_TASK_H

#include <apr_hash.h>
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include <apr_thread_pool.h>

#include "at_fleet.h"
#include "at_ratelimit.h"
#include "at_event.h"
#include "at_renew.h"
#include "autotls.h"
#include "notify.h"
#include "renew_job.h"
#include "renew_queue.h"
#include "at_status.h"
#include "slots.h"

/* Decision sources besides at_renew_by_name(), as the status line names them. */
#define AUTOTLS_RENEW_BY_NEW "new"           /* no certificate from the CA yet */
#define AUTOTLS_RENEW_BY_OPERATOR "operator" /* `autotls renew NAME` */
#define AUTOTLS_RENEW_BY_MISSING "missing"   /* names a partial certificate lacks */

typedef enum {
    AUTOTLS_TASK_ORDER = 0, /* order a certificate and stage it */
    AUTOTLS_TASK_ARI        /* fetch the CA's renewal window of the served certificate */
} autotls_task_e;

typedef struct autotls_renew_t autotls_renew_t;

/* One CA of the AutoTLSCA list, as the renewal process deals with it: each has its own account,
 * order bucket, reachability and ARI support; nothing of one CA is ever used for another. */
typedef struct {
    const at_ca_spec_t *spec; /* its URL and own settings (ctx->cas) */
    int index;                /* in ctx->cas */
    /* the account (scheduler only) */
    int account_ready;
    autotls_job_t account; /* backoff of registering the account, persisted like a site's */
    const char *account_item;
    /* ARI (under the lock) */
    int ari_absent;       /* the CA's directory has no renewalInfo: never ask again */
    char *directory_text; /* the directory as fetched (malloc), reused by every ARI poll */
    /* the CA's pace (under the lock: tasks drain the bucket, add holds) */
    at_bucket_t bucket;    /* AutoTLSCARate (the first CA) or its default, in jobs/<rate_item> */
    int bucket_dirty;      /* changed since it was last saved */
    const char *rate_item; /* "_rate-<ca>.json" */
    apr_hash_t *holds;     /* names it limits (a registered domain) -> apr_time_t * until */
    apr_hash_t *profiles_told; /* AutoTLSProfile names it does not list, already logged */
    /* whether it answers (under the lock): while it does not, ARI polls and new orders wait for
     * one probe a step (at_reach_t) instead of failing site after site */
    at_reach_t reach;
    int reach_back; /* it answers again: the scheduler wakes every waiting job */
} autotls_renew_ca_t;

typedef struct autotls_renew_job_t {
    autotls_renew_t *renew;
    autotls_site_t *site;
    const char *item;    /* its job file, "<site>.json" */
    autotls_job_t state; /* what jobs/<site>.json keeps */
    int running;         /* a task owns the job (flipped under the lock) */
    /* the task handed over, and why */
    autotls_task_e task;
    const char *reason; /* AUTOTLS_RENEW_BY_* or at_renew_by_name() */
    int allow_partial;
    /* what is served, as the scheduler last saw it */
    int served_known;
    apr_uint32_t generation;
    int ca_issued;
    apr_time_t not_before;
    apr_time_t not_after;
    char cert_id[AUTOTLS_JOB_CERT_ID_MAX]; /* ARI certID of the served certificate, or "" */
    /* memory only */
    int request_pending;      /* an operator's request file was seen and is still there */
    const char *request_item; /* its name: "<site or alias>.renew" */
    int requested;            /* the operator asked for a renewal now */
    int staged;               /* a set went to staging/: wait for the activator to take it */
    apr_uint32_t staged_generation;
    int staged_ca;                /* the CA (index) whose set it is: a refusal counts there */
    apr_time_t warned;            /* when the last expiry warning was logged */
    int warned_expired;           /* whether that one said the certificate had expired */
    apr_time_t notified_expiring; /* when `expiring` was last posted (daily) */
    int notified_expired;         /* `expired` was posted for the served certificate */
    /* the scheduler's queues (scheduler only) */
    int index;     /* in ctx->sites: the tie between sites of equal priority */
    int due_pos;   /* position in renew->due, or AUTOTLS_QUEUE_OUT */
    int ready_pos; /* position in renew->ready or renew->ready_exempt, or AUTOTLS_QUEUE_OUT */
    int exempt;    /* the order renews with `replaces`: the CA spends no token on it */
    int paid;      /* a token was spent for the order handed over (the task may give it back) */
    int rate_told; /* "waiting for the CA's order rate" was logged for this wait */
    apr_time_t hold_told;     /* the end of the CA's limit on its names last logged */
    apr_time_t ca_wait_since; /* its order waits for the CA to answer at all, since then; or 0 */
    apr_time_t ca_wait_until; /* the CA's next probe then */
    struct autotls_renew_job_t *next_done; /* on renew->done (under the lock) */
    /* the status snapshot (renew_status.c; scheduler only) */
    char serial[AUTOTLS_SLOT_SERIAL_MAX]; /* of the served certificate */
    const char *issuer;                   /* its issuer's CN (interned in renew->pool), or NULL */
    char *status_text;                    /* the site's entry as last built (malloc), or NULL */
    /* the fleet's lease around an order (store_shared.h; under the lock: the task takes and
     * releases it, the scheduler renews it) */
    char lease_token[AT_STORE_LEASE_TOKEN_MAX + 1]; /* "" while none is held */
    apr_time_t lease_renewed;
    /* another node's lease, found when this one wanted to order (the status shows it) */
    char lease_seen_node[AT_FLEET_NODE_MAX + 1];
    apr_time_t lease_seen_until;
} autotls_renew_job_t;

struct autotls_renew_t {
    autotls_ctx_t *ctx;
    apr_pool_t *pool;         /* the thread's own, with its own allocator */
    apr_thread_mutex_t *lock; /* guards `running`, the ARI and the rate fields below */
    apr_thread_pool_t *tasks;
    int tasks_max;                /* AutoTLSOrdersInFlight */
    int in_flight;                /* tasks handed over, not yet done (under the lock) */
    autotls_renew_job_t *done;    /* tasks finished, for the scheduler (under the lock) */
    apr_thread_cond_t *wake;      /* signalled when a task is done: the scheduler ticks at once */
    autotls_queue_t due;          /* idle jobs by next due time (scheduler only) */
    autotls_queue_t ready;        /* jobs wanting an order that spends a token */
    autotls_queue_t ready_exempt; /* jobs wanting an order the CA exempts */
    autotls_renew_job_t *jobs;    /* one per site, in ctx->sites order */
    apr_hash_t *by_site;          /* site name -> autotls_renew_job_t * */
    /* the CAs in failover order (ctx->cas); holds_pool keeps what their hashes hold */
    autotls_renew_ca_t *cas;
    int ca_count;
    apr_pool_t *holds_pool;
    /* operator requests (scheduler only) */
    apr_uint64_t requests_seen; /* at_store_generation of jobs/ at the last listing */
    apr_time_t requests_listed;
    /* the status snapshot (renew_status.c) */
    int status_dirty;            /* a site's entry changed since the last write (scheduler only) */
    apr_time_t status_written;   /* when it was last written (scheduler only) */
    int status_counted;          /* a counter changed since the last write (under the lock) */
    int status_account_new;      /* the account URL changed since the last write (under the lock) */
    int status_save_failed;      /* the last write failed (logged once a streak; scheduler only) */
    apr_hash_t *issuers;         /* issuer CN -> the same, interned (scheduler only) */
    apr_array_header_t *orphans; /* char * (malloc): entries of job files of no site */
    apr_uint64_t orders_total[AT_STATUS_ORDER_RESULT_COUNT]; /* under the lock */
    apr_uint64_t ca_requests_total;                          /* under the lock */
    char account_url[AUTOTLS_JOB_ERROR_MAX];                 /* under the lock; "" unknown */
    autotls_notify_t *notify; /* AutoTLSNotifyCommand's runners, or NULL */
    int leases_held;          /* jobs holding a lease now (under the lock) */
    int status_fleet_new;     /* a lease was taken, released or seen (under the lock) */
    /* the fleet's mirror thread and node id (renew_fleet.h), or NULL without Redis; set before
     * the first tick, read by the tasks */
    struct autotls_renew_fleet_t *fleet;
};

/* The scheduler's tick: it also runs at once when a task is done (renew->wake). */
#define AUTOTLS_RENEW_TICK apr_time_from_sec(1)

/* The scheduler (renew.c), run by the renewal process (renew_proc.c): its state from the store
 * before anything else, one tick, and the end (waits for the running tasks). */
apr_status_t autotls_renew_begin(autotls_renew_t *renew);
void autotls_renew_tick(autotls_renew_t *renew, apr_pool_t *p);
void autotls_renew_end(autotls_renew_t *renew);

/* Renews the leases the running orders hold (a fleet's shared store), each when a third of its
 * TTL has passed. Scheduler thread only (it uses ctx->shared). */
void autotls_renew_leases_keep(autotls_renew_t *renew, apr_time_t now, apr_pool_t *p);

/* Hands the job's task to the pool; the caller set job->task and job->running. */
apr_status_t autotls_renew_task_push(autotls_renew_t *renew, autotls_renew_job_t *job);

/* Makes a job the scheduler owns due now (an operator's request, a repaired account); a job
 * that is running or waits in a ready queue is left as it is. Scheduler thread only. */
void autotls_renew_job_wake(autotls_renew_t *renew, autotls_renew_job_t *job);

/* When the served certificate of a job is due for renewal by the policy (ARI when its window is
 * known, else the lifetime or AutoTLSRenewWindow), before any backoff. */
at_renew_plan_t autotls_renew_job_plan(const autotls_renew_job_t *job);

/* AutoTLSRenewWindow of the site in the policy's terms. */
at_renew_window_t autotls_renew_window(const autotls_site_t *site);

/* Posts an event about the job's site (its names, the served certificate) to the notification
 * command; error may be NULL. Any thread that owns the job. */
void autotls_renew_notify(autotls_renew_t *renew, const autotls_renew_job_t *job,
                          at_event_kind_e kind, const char *error, apr_pool_t *p);

/* A uniformly random 32-bit value (backoff jitter, ARI picks). */
apr_uint32_t autotls_renew_random(void);

/* Whether a job that wants to talk to ca may go now (it answers, or this job takes the probe);
 * else *wait is when to ask again. Scheduler thread. */
int autotls_renew_reach_take(autotls_renew_t *renew, autotls_renew_ca_t *ca, apr_time_t now,
                             apr_time_t *wait);

/* A client for ca: libcurl with its roots (cafile=, or AutoTLSCACertificateFile for the first). */
apr_status_t autotls_renew_acme(at_acme_t **acme, const autotls_renew_ca_t *ca, apr_pool_t *p);

/* The CA the job's next order goes to (its place in the failover list). */
autotls_renew_ca_t *autotls_renew_job_ca(autotls_renew_t *renew, const autotls_renew_job_t *job);
/* The CA that issued the served certificate, or NULL when not known: only it is asked for the
 * renewal window (ARI) and only its orders carry `replaces`. */
autotls_renew_ca_t *autotls_renew_job_issuer(autotls_renew_t *renew,
                                             const autotls_renew_job_t *job);
/* Whether ca's directory lacks renewalInfo (under the lock). */
int autotls_renew_ca_ari_absent(autotls_renew_t *renew, autotls_renew_ca_t *ca);

/* The CAs' state from the store (accounts' backoff, order buckets), their buckets kept in jobs/
 * when they changed (at most once a tick), and their memory freed (renew_ca.c). */
void autotls_renew_cas_load(autotls_renew_t *renew);
void autotls_renew_cas_rate_save(autotls_renew_t *renew, apr_pool_t *p);
void autotls_renew_cas_end(autotls_renew_t *renew);

/* Counts a failed order of the job at the CA it went to (at_ca_failover_failed,
 * AutoTLSCAFailover): when that moves the site to the next CA, one WARNING names both and error,
 * and the next order goes there at once (*delay becomes 0); after the last CA it goes back to the
 * first on the site's backoff. Whoever owns the job. */
void autotls_renew_ca_failed(autotls_renew_t *renew, autotls_renew_job_t *job, int at,
                             const char *error, apr_interval_time_t *delay, apr_pool_t *p);

#endif
