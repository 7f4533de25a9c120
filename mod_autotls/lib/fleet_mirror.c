/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fleet_mirror.c: the fleet's http-01 answers copied into a node's own challenges/ (at_fleet.h).
 *
 * The one idea: the local challenges/ stays what it is on a single server, files the ACME
 * account wrote that the children read, so the isolation rules hold unchanged; what comes from
 * the fleet's store is believed only as an answer: decoded for its token (at_challenge.h: bound
 * to one host name) and written again in its canonical form, never copied as bytes. Anything
 * else is refused with its key named and not acked, so the ordering node's wait names this node.
 */
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "at_challenge.h"
#include "at_core.h"
#include "at_fleet.h"
#include "at_store_redis.h"

struct at_fleet_mirror_t {
    apr_pool_t *pool;
    at_fleet_t fleet;
    apr_hash_t *known;   /* token -> "": mirrored (in the local store, acked) */
    apr_hash_t *refused; /* token -> "": refused once (said once, not read again while listed) */
    apr_uint64_t gen;    /* the fleet's challenges/ generation at the last complete call */
    int synced;          /* gen is meaningful */
    apr_pool_t *known_p; /* holds the keys of known; replaced when known is rebuilt */
    apr_time_t created;  /* local answers older than this are leftovers of an earlier process */
};

/* Whether a challenges/ item is an http-01 answer (named by its token): tls-alpn-01 answers
 * (AT_CHALLENGE_TLSALPN_PREFIX) stay on the node that ordered, and the mirror leaves them be. */
static int mirror_http01_item(const char *name)
{
    return strncmp(name, AT_CHALLENGE_TLSALPN_PREFIX, strlen(AT_CHALLENGE_TLSALPN_PREFIX)) != 0;
}

apr_status_t at_fleet_mirror_create(at_fleet_mirror_t **mirror, apr_pool_t *p,
                                    const at_fleet_t *fleet)
{
    at_fleet_mirror_t *m;
    apr_status_t rv;

    *mirror = NULL;
    if (fleet == NULL || fleet->shared == NULL || fleet->local == NULL ||
        !at_fleet_node_valid(fleet->node)) {
        return AT_EARG;
    }
    m = apr_pcalloc(p, sizeof(*m));
    m->pool = p;
    m->fleet = *fleet;
    m->fleet.node = apr_pstrdup(p, fleet->node);
    m->created = apr_time_now();
    if ((rv = apr_pool_create(&m->known_p, p)) != APR_SUCCESS) {
        return rv;
    }
    m->known = apr_hash_make(m->known_p);
    m->refused = apr_hash_make(m->known_p);
    *mirror = m;
    return APR_SUCCESS;
}

/* How an operator finds the refused value: its Redis key, else its place in the store. */
static const char *mirror_where(at_store_t *shared, const char *token, apr_pool_t *p)
{
    const char *key = at_store_redis_item_key(shared, AT_STORE_CHALLENGES, NULL, token, p);

    return key != NULL ? apr_pstrcat(p, "Redis key ", key, NULL)
                       : apr_pstrcat(p, "the fleet store's challenges/", token, NULL);
}

/* Reads token's answer from the fleet, checks it and writes its canonical form locally.
 * APR_SUCCESS: written; AT_EPROTO (and the like): refused; APR_ENOENT: gone meanwhile; any other
 * status: a store failure (logged by the store). */
static apr_status_t mirror_copy(const at_fleet_t *fleet, const char *token, apr_pool_t *p)
{
    at_challenge_answer_t answer;
    const char *why;
    char *data, *canonical;
    apr_size_t len, clen;
    apr_status_t rv;

    rv = at_store_load(fleet->shared, AT_STORE_CHALLENGES, NULL, token, &data, &len,
                       AT_FLEET_ANSWER_ACCESS, p);
    if (rv == AT_ECORRUPT || rv == AT_ETOOLARGE) {
        return AT_EPROTO; /* refused by the store, with its key named */
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = at_challenge_answer_decode(&answer, &why, p, token, data, len);
    if (rv == APR_SUCCESS) {
        rv = at_challenge_answer_encode(&canonical, &clen, &why, p, answer.identifier, token,
                                        answer.key_authorization);
    }
    if (rv != APR_SUCCESS) {
        at_log(AT_LOG_ERR, rv,
               AT_LOGNO(1484) "fleet: refusing the http-01 answer in %s: %s; not mirrored, "
                              "not acked",
               mirror_where(fleet->shared, token, p), why);
        return AT_EPROTO;
    }
    return at_store_save(fleet->local, AT_STORE_CHALLENGES, NULL, token, canonical, clen,
                         AT_STORE_PUBLIC, p);
}

static int mirror_listed(const apr_array_header_t *names, const char *name)
{
    int i;

    for (i = 0; i < names->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(names, i, const char *), name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Keeps token in set (a hash of the call's new pool). */
static void mirror_keep(apr_hash_t *set, const char *token)
{
    apr_hash_set(set, apr_pstrdup(apr_hash_pool_get(set), token), APR_HASH_KEY_STRING, "");
}

/* Writes the fleet's answers this node has not mirrored yet (bounded by *budget); what it knew
 * and did not reach stays known, so that it is still removed when the fleet drops it. */
static void mirror_add(at_fleet_mirror_result_t *result, at_fleet_mirror_t *m,
                       const apr_array_header_t *fleet_names, const apr_array_header_t *local,
                       apr_hash_t *known, apr_hash_t *refused, int *budget, apr_pool_t *p)
{
    int i;

    for (i = 0; i < fleet_names->nelts; i++) {
        const char *token = APR_ARRAY_IDX(fleet_names, i, const char *);
        apr_status_t rv;

        if (!mirror_http01_item(token)) {
            continue;
        }
        if (apr_hash_get(m->refused, token, APR_HASH_KEY_STRING) != NULL) {
            mirror_keep(refused, token); /* said once: not read again while the fleet lists it */
            continue;
        }
        if (apr_hash_get(m->known, token, APR_HASH_KEY_STRING) != NULL &&
            (mirror_listed(local, token) || *budget <= 0)) {
            mirror_keep(known, token);
            result->more |= !mirror_listed(local, token);
            continue;
        }
        if (*budget <= 0) {
            result->more = 1;
            continue;
        }
        --*budget;
        rv = mirror_copy(&m->fleet, token, p);
        if (rv == AT_EPROTO) {
            result->refused++;
            mirror_keep(refused, token);
            continue;
        }
        if (rv == APR_SUCCESS) {
            result->written++;
            rv = at_fleet_ack(m->fleet.shared, token, m->fleet.node, p);
        }
        if (rv == APR_SUCCESS) {
            mirror_keep(known, token);
        } else if (rv != APR_ENOENT) {
            result->more = 1; /* a store failure: the next call tries again */
            result->failed = 1;
        }
    }
}

/* Whether the local answer token, which the fleet does not have, is the mirror's to remove: one
 * it mirrored (the fleet withdrew it), or a leftover of an earlier process (written before this
 * mirror existed). An answer this node's own order wrote meanwhile is not: the order writes it
 * into the fleet's store first, but between the mirror's two listings it can be in the local
 * store alone, and removing it would fail the order's validation. */
static int mirror_owns(const at_fleet_mirror_t *m, const char *token, apr_pool_t *p)
{
    at_store_stat_t st;

    if (!mirror_http01_item(token)) {
        return 0;
    }
    if (apr_hash_get(m->known, token, APR_HASH_KEY_STRING) != NULL) {
        return 1;
    }
    return at_store_stat(m->fleet.local, AT_STORE_CHALLENGES, NULL, token, &st, p) == APR_SUCCESS &&
           st.exists && st.mtime < m->created - AT_FLEET_LEFTOVER_SLACK;
}

/* Removes local answers the fleet no longer has and the mirror owns (bounded by *budget). */
static void mirror_drop(at_fleet_mirror_result_t *result, at_fleet_mirror_t *m,
                        const apr_array_header_t *fleet_names, const apr_array_header_t *local,
                        int *budget, apr_pool_t *p)
{
    int i;

    for (i = 0; i < local->nelts; i++) {
        const char *token = APR_ARRAY_IDX(local, i, const char *);

        if (mirror_listed(fleet_names, token) || !mirror_owns(m, token, p)) {
            continue;
        }
        if (*budget <= 0) {
            result->more = 1;
            return;
        }
        --*budget;
        if (at_store_remove(m->fleet.local, AT_STORE_CHALLENGES, NULL, token, p) == APR_SUCCESS) {
            result->removed++;
        } else {
            result->more = 1;
            result->failed = 1;
        }
    }
}

apr_status_t at_fleet_mirror_run(at_fleet_mirror_result_t *result, at_fleet_mirror_t *m,
                                 apr_pool_t *scratch)
{
    apr_array_header_t *fleet_names, *local;
    apr_pool_t *known_p;
    apr_hash_t *known, *refused;
    apr_uint64_t gen;
    apr_status_t rv;
    int budget = AT_FLEET_MIRROR_MAX;

    memset(result, 0, sizeof(*result));
    if ((rv = at_store_generation(m->fleet.shared, AT_STORE_CHALLENGES, &gen, scratch)) !=
        APR_SUCCESS) {
        result->more = 1;
        return rv;
    }
    if (m->synced && gen == m->gen) {
        return APR_SUCCESS;
    }
    if ((rv = at_store_list(m->fleet.shared, AT_STORE_CHALLENGES, NULL, &fleet_names, scratch)) !=
            APR_SUCCESS ||
        (rv = at_store_list(m->fleet.local, AT_STORE_CHALLENGES, NULL, &local, scratch)) !=
            APR_SUCCESS ||
        (rv = apr_pool_create(&known_p, m->pool)) != APR_SUCCESS) {
        result->more = 1;
        return rv;
    }
    /* known and refused are rebuilt from what is still in the fleet: they never outgrow it */
    known = apr_hash_make(known_p);
    refused = apr_hash_make(known_p);
    mirror_add(result, m, fleet_names, local, known, refused, &budget, scratch);
    mirror_drop(result, m, fleet_names, local, &budget, scratch);
    apr_pool_destroy(m->known_p);
    m->known_p = known_p;
    m->known = known;
    m->refused = refused;
    m->gen = gen;
    m->synced = !result->more;
    return APR_SUCCESS;
}

apr_status_t at_fleet_answers_sweep(int *removed, at_store_t *shared, apr_interval_time_t max_age,
                                    apr_pool_t *p)
{
    apr_array_header_t *names;
    at_store_stat_t st;
    apr_time_t now = apr_time_now();
    apr_status_t rv;
    int i;

    *removed = 0;
    if ((rv = at_store_list(shared, AT_STORE_CHALLENGES, NULL, &names, p)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < names->nelts; i++) {
        const char *token = APR_ARRAY_IDX(names, i, const char *);

        if (mirror_http01_item(token) &&
            at_store_stat(shared, AT_STORE_CHALLENGES, NULL, token, &st, p) == APR_SUCCESS &&
            st.exists && now - st.mtime > max_age &&
            at_store_remove(shared, AT_STORE_CHALLENGES, NULL, token, p) == APR_SUCCESS) {
            ++*removed;
        }
    }
    return APR_SUCCESS;
}
