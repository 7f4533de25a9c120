/* SPDX-License-Identifier: Apache-2.0 */
/*
 * renew_queue.c: binary heaps of jobs (see renew_queue.h).
 *
 * The one idea: every move of an entry goes through queue_place, which writes the entry's new
 * index back into the item's position field; so the position is never stale and a job can be
 * found in its heap without a search.
 */
#include "renew_queue.h"

static int queue_before(const autotls_queue_entry_t *a, const autotls_queue_entry_t *b)
{
    return a->key < b->key || (a->key == b->key && a->tie < b->tie);
}

static void queue_place(autotls_queue_t *queue, int i, autotls_queue_entry_t entry)
{
    queue->entries[i] = entry;
    *entry.pos = i;
}

static void queue_up(autotls_queue_t *queue, int i)
{
    autotls_queue_entry_t entry = queue->entries[i];

    while (i > 0 && queue_before(&entry, &queue->entries[(i - 1) / 2])) {
        queue_place(queue, i, queue->entries[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    queue_place(queue, i, entry);
}

static void queue_down(autotls_queue_t *queue, int i)
{
    autotls_queue_entry_t entry = queue->entries[i];
    int child;

    while ((child = 2 * i + 1) < queue->count) {
        if (child + 1 < queue->count &&
            queue_before(&queue->entries[child + 1], &queue->entries[child])) {
            ++child;
        }
        if (!queue_before(&queue->entries[child], &entry)) {
            break;
        }
        queue_place(queue, i, queue->entries[child]);
        i = child;
    }
    queue_place(queue, i, entry);
}

void autotls_queue_init(autotls_queue_t *queue, apr_pool_t *p, int capacity)
{
    queue->entries = apr_palloc(p, sizeof(*queue->entries) * (capacity > 0 ? capacity : 1));
    queue->count = 0;
    queue->capacity = capacity;
}

apr_status_t autotls_queue_put(autotls_queue_t *queue, void *item, int *pos, apr_int64_t key,
                               apr_int64_t tie)
{
    autotls_queue_entry_t entry = {key, tie, item, pos};
    int i = *pos;

    if (i >= 0 && i < queue->count && queue->entries[i].item == item) {
        queue->entries[i] = entry;
        queue_up(queue, i);
        queue_down(queue, *pos);
        return APR_SUCCESS;
    }
    if (queue->count >= queue->capacity) {
        return APR_ENOSPC;
    }
    queue->entries[queue->count] = entry;
    queue_up(queue, queue->count++);
    return APR_SUCCESS;
}

void *autotls_queue_top(const autotls_queue_t *queue, apr_int64_t *key, apr_int64_t *tie)
{
    if (queue->count == 0) {
        return NULL;
    }
    if (key != NULL) {
        *key = queue->entries[0].key;
    }
    if (tie != NULL) {
        *tie = queue->entries[0].tie;
    }
    return queue->entries[0].item;
}

void autotls_queue_remove(autotls_queue_t *queue, int *pos)
{
    int i = *pos;

    if (i < 0 || i >= queue->count || queue->entries[i].pos != pos) {
        return;
    }
    *pos = AUTOTLS_QUEUE_OUT;
    if (i == --queue->count) {
        return;
    }
    /* the last entry fills the hole, then moves up or down (one of them does nothing) */
    queue_place(queue, i, queue->entries[queue->count]);
    queue_up(queue, i);
    queue_down(queue, i);
}

void *autotls_queue_pop(autotls_queue_t *queue)
{
    void *item;

    if (queue->count == 0) {
        return NULL;
    }
    item = queue->entries[0].item;
    autotls_queue_remove(queue, queue->entries[0].pos);
    return item;
}
