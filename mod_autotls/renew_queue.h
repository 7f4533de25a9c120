/* SPDX-License-Identifier: Apache-2.0 */
/*
 * renew_queue.h: the renewal process's work queues: binary heaps of jobs by a two-part key.
 *
 * The one idea: a tick looks only at what is due. The scheduler keeps every job it owns in one
 * heap by next due time (and the jobs waiting for a free task thread or a token in another, by
 * priority), so a tick costs O(k log n) for the k jobs due, not O(n) for every site. Each item
 * carries its own position (an int the heap keeps current, -1 when out), so that a job can be
 * moved (the operator asks for it now) or taken out in O(log n).
 *
 * No httpd types, no locking: one thread (the scheduler) owns a queue.
 */
#ifndef AUTOTLS_RENEW_QUEUE_H
#define AUTOTLS_RENEW_QUEUE_H

#include <apr_pools.h>

#define AUTOTLS_QUEUE_OUT (-1) /* an item's position while it is in no queue */

typedef struct {
    apr_int64_t key; /* smaller first: a due time, or a priority class */
    apr_int64_t tie; /* then smaller first */
    void *item;
    int *pos; /* the item's position field */
} autotls_queue_entry_t;

typedef struct {
    autotls_queue_entry_t *entries;
    int count;
    int capacity;
} autotls_queue_t;

/* An empty queue for at most capacity items, in p. */
void autotls_queue_init(autotls_queue_t *queue, apr_pool_t *p, int capacity);

/* Puts item in with (key, tie), or moves it there when it is in already (*pos >= 0). *pos must
 * be AUTOTLS_QUEUE_OUT for an item in no queue. APR_ENOSPC when the queue is full. */
apr_status_t autotls_queue_put(autotls_queue_t *queue, void *item, int *pos, apr_int64_t key,
                               apr_int64_t tie);

/* The first item (NULL when empty) and its key. */
void *autotls_queue_top(const autotls_queue_t *queue, apr_int64_t *key, apr_int64_t *tie);

/* Takes the first item out (NULL when empty). */
void *autotls_queue_pop(autotls_queue_t *queue);

/* Takes the item at *pos out, if it is in. */
void autotls_queue_remove(autotls_queue_t *queue, int *pos);

#endif
