/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fleet_node.c: the nodes of a fleet on Redis: ids, heartbeats, acks, and the wait for them
 * (at_fleet.h).
 *
 * The one idea: whether a node is alive and whether it has an answer are facts kept by Redis'
 * clock (keys with a TTL), never by a node's: a node that dies simply stops refreshing its key and
 * drops out of the fleet without anyone cleaning up after it. Everything read back is checked:
 * an id that is not one the fleet calls could have written is refused with its key named.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "at_core.h"
#include "at_fleet.h"
#include "store_redis_internal.h"

#define FLEET_KIND "fleet"
#define FLEET_NODES "nodes"
#define FLEET_NODE "node:"
#define FLEET_ACK "ack:"
#define FLEET_HOSTNAME_MAX 256
/* Between a heartbeat's node id and the beating process's instance (hex digits). */
#define FLEET_BEAT_SEP " "
#define FLEET_HEX "0123456789abcdef"
/* Between a lease token's random part (hex digits, never a '.') and its holder's node id. */
#define FLEET_LEASE_NODE_SEP "."
/* The id of a node whose host name cannot be read (AutoTLSNodeName should name it then). */
#define FLEET_NODE_FALLBACK "node"

/* KEYS: heartbeat, node set. ARGV: id, TTL in ms, heartbeat value. The value it replaced (false:
 * none, or not a string). */
static const char fleet_heartbeat_script[] =
    "local old = false "
    "if redis.call('TYPE', KEYS[1]).ok == 'string' then old = redis.call('GET', KEYS[1]) end "
    "redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2]) "
    "redis.call('SADD', KEYS[2], ARGV[1]) "
    "return old";

/* KEYS: node set. ARGV: the heartbeat keys' prefix. {id, heartbeat value} per live node; ids
 * whose heartbeat expired leave the set. */
static const char fleet_live_script[] = "local live = {} "
                                        "for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do "
                                        "  local k = ARGV[1] .. id "
                                        "  if redis.call('EXISTS', k) == 0 then "
                                        "    redis.call('SREM', KEYS[1], id) "
                                        "  elseif redis.call('TYPE', k).ok ~= 'string' then "
                                        "    table.insert(live, {id, false}) "
                                        "  else "
                                        "    table.insert(live, {id, redis.call('GET', k)}) "
                                        "  end "
                                        "end "
                                        "return live";

/* KEYS: ack set. ARGV: id, TTL in ms. */
static const char fleet_ack_script[] = "redis.call('SADD', KEYS[1], ARGV[1]) "
                                       "redis.call('PEXPIRE', KEYS[1], ARGV[2]) "
                                       "return 1";

int at_fleet_node_valid(const char *node)
{
    return node != NULL && strlen(node) <= AT_FLEET_NODE_MAX && at_store_component_valid(node);
}

apr_status_t at_fleet_lease_token(char **token, const char *node, apr_pool_t *p)
{
    char *random;
    apr_status_t rv;

    if (!at_fleet_node_valid(node)) {
        return AT_EARG;
    }
    if ((rv = at_store_lease_token(&random, p)) != APR_SUCCESS) {
        return rv;
    }
    *token = apr_pstrcat(p, random, FLEET_LEASE_NODE_SEP, node, NULL);
    return APR_SUCCESS;
}

const char *at_fleet_lease_node(const char *token)
{
    const char *sep = token != NULL ? strchr(token, FLEET_LEASE_NODE_SEP[0]) : NULL;

    return sep != NULL && at_fleet_node_valid(sep + 1) ? sep + 1 : NULL;
}

apr_status_t at_fleet_node_default(const char **node, apr_pool_t *p)
{
    char host[FLEET_HOSTNAME_MAX + 1];
    apr_size_t i;

    if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
        apr_cpystrn(host, FLEET_NODE_FALLBACK, sizeof(host));
    }
    host[FLEET_HOSTNAME_MAX] = '\0';
    host[AT_FLEET_NODE_MAX] = '\0';
    for (i = 0; host[i] != '\0'; i++) {
        char c = (char)apr_tolower(host[i]);

        host[i] = apr_isalnum(c) || c == '-' || c == '_' || (c == '.' && i > 0) ? c : '-';
    }
    *node = apr_pstrdup(p, host);
    return APR_SUCCESS;
}

int at_fleet_store_shared(at_store_t *store)
{
    return redis_store_of(store) != NULL;
}

/* The Redis store of a fleet call, or NULL after one log line. */
static redis_store_t *fleet_redis(at_store_t *store, const char *what)
{
    redis_store_t *rs = redis_store_of(store);

    if (rs == NULL) {
        at_log(AT_LOG_ERR, APR_ENOTIMPL,
               AT_LOGNO(1480) "fleet: %s needs a Redis store (AutoTLSStore redis://...)", what);
    }
    return rs;
}

static const char *fleet_ms(apr_pool_t *p, apr_interval_time_t t)
{
    apr_int64_t ms = apr_time_as_msec(t);

    return apr_psprintf(p, "%" APR_INT64_T_FMT, ms > 0 ? ms : 1);
}

static const char *fleet_key(redis_store_t *rs, apr_pool_t *p, const char *what, const char *id)
{
    return redis_key(rs, p, FLEET_KIND, apr_pstrcat(p, what, id, NULL));
}

static const char *fleet_text(apr_pool_t *p, const redisReply *r);

/* The process part of a heartbeat value "<id> <instance>" of node id; NULL for a value of
 * another form. */
static const char *fleet_beat_instance(const char *value, const char *id)
{
    apr_size_t n = strlen(id);
    const char *inst;

    if (value == NULL || strncmp(value, id, n) != 0 || value[n] != FLEET_BEAT_SEP[0]) {
        return NULL;
    }
    inst = value + n + 1;
    return *inst != '\0' && strspn(inst, FLEET_HEX) == strlen(inst) ? inst : NULL;
}

apr_status_t at_fleet_heartbeat(const at_fleet_t *fleet, apr_interval_time_t ttl,
                                const char **other, apr_pool_t *p)
{
    redis_store_t *rs = fleet_redis(fleet->shared, "a heartbeat");
    const char *keys[2], *args[3], *old, *inst;
    redisReply *reply;
    apr_status_t rv;

    if (other != NULL) {
        *other = NULL;
    }
    if (rs == NULL) {
        return APR_ENOTIMPL;
    }
    if (!at_fleet_node_valid(fleet->node) || ttl <= 0) {
        return AT_EARG;
    }
    if (fleet->instance != NULL &&
        (*fleet->instance == '\0' ||
         strspn(fleet->instance, FLEET_HEX) != strlen(fleet->instance))) {
        return AT_EARG;
    }
    keys[0] = fleet_key(rs, p, FLEET_NODE, fleet->node);
    keys[1] = fleet_key(rs, p, FLEET_NODES, "");
    args[0] = fleet->node;
    args[1] = fleet_ms(p, ttl);
    args[2] = fleet->instance != NULL
                  ? apr_pstrcat(p, fleet->node, FLEET_BEAT_SEP, fleet->instance, NULL)
                  : fleet->node;
    if ((rv = redis_eval(&reply, rs, p, "fleet heartbeat", fleet_heartbeat_script, 2, keys, 3, args,
                         NULL)) != APR_SUCCESS) {
        return rv;
    }
    old = fleet_text(p, reply);
    inst = fleet_beat_instance(old, fleet->node);
    if (other != NULL && fleet->instance != NULL && old != NULL &&
        (inst == NULL || strcmp(inst, fleet->instance) != 0)) {
        *other = inst != NULL ? inst : old;
    }
    return APR_SUCCESS;
}

apr_status_t at_fleet_leave(const at_fleet_t *fleet, apr_pool_t *p)
{
    redis_store_t *rs = fleet_redis(fleet->shared, "leaving the fleet");
    const char *argv[2] = {"DEL", NULL};
    redisReply *reply;

    if (rs == NULL) {
        return APR_ENOTIMPL;
    }
    if (!at_fleet_node_valid(fleet->node)) {
        return AT_EARG;
    }
    argv[1] = fleet_key(rs, p, FLEET_NODE, fleet->node);
    return redis_call(&reply, rs, p, "fleet leave", argv[1], 2, argv, NULL);
}

static int fleet_compare_ids(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A string element of a reply as text, or NULL when it is none or holds a NUL. */
static const char *fleet_text(apr_pool_t *p, const redisReply *r)
{
    if (r == NULL || r->type != REDIS_REPLY_STRING || memchr(r->str, '\0', r->len) != NULL) {
        return NULL;
    }
    return apr_pstrmemdup(p, r->str, r->len);
}

/* Refuses what a fleet key holds (one ERROR line naming it, when tell). */
static void fleet_refuse(redis_store_t *rs, const char *key, const char *why, int tell)
{
    if (!tell) {
        return; /* said already (a wait looks again every AT_FLEET_ACK_POLL) */
    }
    at_log(AT_LOG_ERR, AT_ECORRUPT,
           AT_LOGNO(1481) "fleet: refusing Redis key %s (%s): %s; left out", key, rs->address, why);
}

static apr_status_t fleet_shape(redis_store_t *rs, const char *key, const redisReply *reply)
{
    at_log(AT_LOG_ERR, AT_ECORRUPT,
           AT_LOGNO(1482) "fleet: unexpected answer from Redis (%s) for key %s (type %d)",
           rs->address, key, reply->type);
    return AT_ECORRUPT;
}

/* One live node's entry {id, heartbeat}: its id, or NULL when refused. */
static const char *fleet_live_entry(redis_store_t *rs, apr_pool_t *p, const char *set_key,
                                    const redisReply *e, int tell)
{
    const char *id, *value;

    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        (id = fleet_text(p, e->element[0])) == NULL || !at_fleet_node_valid(id)) {
        fleet_refuse(rs, set_key, "a member that is no node id", tell);
        return NULL;
    }
    value = fleet_text(p, e->element[1]);
    if (value == NULL || (strcmp(value, id) != 0 && fleet_beat_instance(value, id) == NULL)) {
        fleet_refuse(rs, fleet_key(rs, p, FLEET_NODE, id),
                     "not a heartbeat of this node (the fleet calls write its id)", tell);
        return NULL;
    }
    return id;
}

static apr_status_t fleet_live(apr_array_header_t **nodes, at_store_t *shared, apr_pool_t *p,
                               int tell)
{
    redis_store_t *rs = fleet_redis(shared, "a list of live nodes");
    const char *key, *prefix;
    redisReply *reply;
    apr_status_t rv;
    size_t i;

    *nodes = apr_array_make(p, 4, sizeof(const char *));
    if (rs == NULL) {
        return APR_ENOTIMPL;
    }
    key = fleet_key(rs, p, FLEET_NODES, "");
    prefix = fleet_key(rs, p, FLEET_NODE, "");
    if ((rv = redis_eval(&reply, rs, p, "fleet nodes", fleet_live_script, 1, &key, 1, &prefix,
                         NULL)) != APR_SUCCESS) {
        return rv;
    }
    if (reply->type != REDIS_REPLY_ARRAY) {
        return fleet_shape(rs, key, reply);
    }
    for (i = 0; i < reply->elements && (*nodes)->nelts < AT_FLEET_NODES_MAX; i++) {
        const char *id = fleet_live_entry(rs, p, key, reply->element[i], tell);

        if (id != NULL) {
            APR_ARRAY_PUSH(*nodes, const char *) = id;
        }
    }
    qsort((*nodes)->elts, (size_t)(*nodes)->nelts, sizeof(const char *), fleet_compare_ids);
    return APR_SUCCESS;
}

apr_status_t at_fleet_nodes_live(apr_array_header_t **nodes, at_store_t *shared, int tell,
                                 apr_pool_t *p)
{
    return fleet_live(nodes, shared, p, tell);
}

/* The ack set's key of token, or NULL (AT_EARG) for a token no store could hold. */
static const char *fleet_ack_key(redis_store_t *rs, apr_pool_t *p, const char *token)
{
    return at_store_component_valid(token) ? fleet_key(rs, p, FLEET_ACK, token) : NULL;
}

apr_status_t at_fleet_ack(at_store_t *shared, const char *token, const char *node, apr_pool_t *p)
{
    redis_store_t *rs = fleet_redis(shared, "an ack");
    const char *key, *args[2];
    redisReply *reply;

    if (rs == NULL) {
        return APR_ENOTIMPL;
    }
    if ((key = fleet_ack_key(rs, p, token)) == NULL || !at_fleet_node_valid(node)) {
        return AT_EARG;
    }
    args[0] = node;
    args[1] = fleet_ms(p, AT_FLEET_ACK_TTL);
    return redis_eval(&reply, rs, p, "fleet ack", fleet_ack_script, 1, &key, 2, args, NULL);
}

static apr_status_t fleet_acks(apr_array_header_t **nodes, at_store_t *shared, const char *token,
                               apr_pool_t *p, int tell)
{
    redis_store_t *rs = fleet_redis(shared, "reading acks");
    const char *argv[2] = {"SMEMBERS", NULL};
    redisReply *reply;
    apr_status_t rv;
    size_t i;

    *nodes = apr_array_make(p, 4, sizeof(const char *));
    if (rs == NULL) {
        return APR_ENOTIMPL;
    }
    if ((argv[1] = fleet_ack_key(rs, p, token)) == NULL) {
        return AT_EARG;
    }
    if ((rv = redis_call(&reply, rs, p, "fleet acks", argv[1], 2, argv, NULL)) != APR_SUCCESS) {
        return rv;
    }
    if (reply->type != REDIS_REPLY_ARRAY) {
        return fleet_shape(rs, argv[1], reply);
    }
    for (i = 0; i < reply->elements && (*nodes)->nelts < AT_FLEET_NODES_MAX; i++) {
        const char *id = fleet_text(p, reply->element[i]);

        if (id == NULL || !at_fleet_node_valid(id)) {
            fleet_refuse(rs, argv[1], "a member that is no node id", tell);
            continue;
        }
        APR_ARRAY_PUSH(*nodes, const char *) = id;
    }
    qsort((*nodes)->elts, (size_t)(*nodes)->nelts, sizeof(const char *), fleet_compare_ids);
    return APR_SUCCESS;
}

apr_status_t at_fleet_acks(apr_array_header_t **nodes, at_store_t *shared, const char *token,
                           apr_pool_t *p)
{
    return fleet_acks(nodes, shared, token, p, 1);
}

/* The live nodes that have not acked token, joined by ", " ("" when none). */
static apr_status_t fleet_missing(const char **missing, at_store_t *shared, const char *token,
                                  apr_pool_t *p, int tell)
{
    apr_array_header_t *live, *acked;
    apr_status_t rv;
    int i, j;

    *missing = "";
    if ((rv = fleet_live(&live, shared, p, tell)) != APR_SUCCESS ||
        (rv = fleet_acks(&acked, shared, token, p, tell)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < live->nelts; i++) {
        const char *id = APR_ARRAY_IDX(live, i, const char *);

        for (j = 0; j < acked->nelts && strcmp(id, APR_ARRAY_IDX(acked, j, const char *)); j++) {
        }
        if (j == acked->nelts) {
            *missing = (*missing)[0] == '\0' ? id : apr_pstrcat(p, *missing, ", ", id, NULL);
        }
    }
    return APR_SUCCESS;
}

apr_status_t at_fleet_acks_wait(const char **missing, const at_fleet_t *fleet, const char *site,
                                const char *token, apr_interval_time_t timeout, apr_pool_t *p)
{
    apr_time_t deadline = apr_time_now() + timeout;
    apr_pool_t *scratch;
    apr_status_t rv;
    const char *left = "";
    int looks = 0;

    *missing = NULL;
    if ((rv = apr_pool_create(&scratch, p)) != APR_SUCCESS) {
        return rv;
    }
    for (;;) {
        apr_pool_clear(scratch);
        if ((rv = fleet_missing(&left, fleet->shared, token, scratch, looks++ == 0)) !=
            APR_SUCCESS) {
            break;
        }
        if (left[0] == '\0') {
            break;
        }
        if (apr_time_now() >= deadline) {
            rv = APR_TIMEUP;
            *missing = apr_pstrdup(p, left);
            at_log(AT_LOG_WARN, rv,
                   AT_LOGNO(1483) "%s: node(s) %s did not confirm the http-01 answer for token %s "
                                  "within %" APR_TIME_T_FMT " s; the CA is asked to validate "
                                  "anyway (a validation reaching such a node fails)",
                   site, *missing, token, apr_time_sec(timeout));
            break;
        }
        apr_sleep(AT_FLEET_ACK_POLL);
    }
    apr_pool_destroy(scratch);
    return rv;
}
