/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_fleet.h: any node of a fleet answers any http-01 challenge (issue 13 item 4).
 *
 * The one idea: children never talk to Redis. The ordering node publishes an answer into the
 * fleet's store (Redis); every node's renewal process copies the fleet's answers into its own
 * local challenges/ (at_fleet_mirror_run: written as the ACME account, 0644 files in the 0755
 * directory, exactly what a single server has), and says so (an ack: its node id in a set per
 * token). The ordering node asks the CA to validate only once every live node acked the token,
 * or after AT_FLEET_ACK_WAIT with one WARNING naming the nodes that did not.
 *
 * The ordering node writes its answer into both stores itself (the module's responder,
 * renew_task.c), acks it (at_fleet_ack) and waits (at_fleet_acks_wait).
 *
 * Nodes: each has an id (AutoTLSNodeName, default the host name) and a heartbeat key with a TTL,
 * refreshed every second by its renewal process's mirror thread (after a complete pass, so a
 * node that counts as live has every answer the fleet had). A live node is one whose heartbeat key
 * has not expired: expiry is Redis' own clock, so nodes' clocks need not agree. Keys, under the
 * store's prefix: <prefix>fleet:node:<id>     the heartbeat: the id, with a TTL
 * (AT_FLEET_HEARTBEAT_TTL) <prefix>fleet:nodes         a set of node ids that ever beat (pruned
 * when their key is gone) <prefix>fleet:ack:<token>   a set of node ids that mirrored token, with a
 * TTL (AT_FLEET_ACK_TTL)
 *
 * Why not on the store interface alone: a heartbeat and an ack need keys that expire by the
 * shared store's clock, and a filesystem store has neither a shared clock nor anyone to share
 * with; so the node calls (heartbeat, acks) are the Redis store's own (APR_ENOTIMPL for any
 * other backend), while the mirror goes through at_store.h and works between any two stores.
 */
#ifndef AT_FLEET_H
#define AT_FLEET_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "at_store.h"

/* A node whose heartbeat is older than this is not waited for (the mirror thread refreshes it
 * every second; a node slower than this to tick is as good as gone for an order in flight). */
#define AT_FLEET_HEARTBEAT_TTL apr_time_from_sec(20)
/* How long the ordering node waits for every live node's ack before it asks the CA anyway. */
#define AT_FLEET_ACK_WAIT apr_time_from_sec(10)
/* How often the waiting node looks at the acks. */
#define AT_FLEET_ACK_POLL apr_time_from_msec(100)
/* How long an ack set lives: longer than any order (issue.c's timeout). */
#define AT_FLEET_ACK_TTL apr_time_from_sec(900)
/* Writes and removals one mirror call makes at most; the rest waits for the next call. */
#define AT_FLEET_MIRROR_MAX 64
/* How an answer is kept in the fleet's store: sealed under the fleet's key (at_store_seal.h), so
 * that whoever can write to Redis without the key cannot make every node answer a challenge of
 * theirs (and get a certificate for the fleet's names); the local copy the children read is
 * public, as on a single server. */
#define AT_FLEET_ANSWER_ACCESS AT_STORE_SECRET
/* Answers in the fleet's store older than this are left over by a node that died mid-order (no
 * order lives longer: issue.c's timeout) and go (at_fleet_answers_sweep). */
#define AT_FLEET_ANSWER_MAX_AGE AT_FLEET_ACK_TTL
/* A local answer is a leftover of an earlier process when written this long before the mirror
 * was created (file times come from a coarse kernel clock, a few milliseconds behind). */
#define AT_FLEET_LEFTOVER_SLACK apr_time_from_sec(1)
/* Longest node id; most nodes a listing takes. */
#define AT_FLEET_NODE_MAX 64
#define AT_FLEET_NODES_MAX 256

/* What a node works with: the calls take it whole. */
typedef struct {
    at_store_t *shared; /* the fleet's store (Redis), a connection of the calling thread */
    at_store_t *local;  /* the node's own filesystem store: its challenges/ the children read */
    const char *node;   /* this node's id (at_fleet_node_valid) */
    /* this process's random instance (lower-case hex, at_store_lease_token makes one), written
     * beside the id in its heartbeat, so that two processes beating one id are seen; NULL: the
     * id alone */
    const char *instance;
} at_fleet_t;

/* Whether node can be a node id: a store component ([A-Za-z0-9._-], not starting with '.') of
 * at most AT_FLEET_NODE_MAX characters. */
int at_fleet_node_valid(const char *node);

/* The default node id: the host name (gethostname) in lower case, cut to AT_FLEET_NODE_MAX, any
 * character a node id cannot hold made '-' (always a valid id; nodes whose host names are not
 * unique must each set AutoTLSNodeName). */
apr_status_t at_fleet_node_default(const char **node, apr_pool_t *p);

/* A lease token (at_store_lease_take) that names its holder: at_store_lease_token's random part,
 * '.', node; so any node can tell who holds a site's lease (at_store_lease_holder). */
apr_status_t at_fleet_lease_token(char **token, const char *node, apr_pool_t *p);

/* The node a lease token names (at_fleet_lease_token), or NULL for a token of another form. */
const char *at_fleet_lease_node(const char *token);

/* Whether store holds fleet state: a Redis store (the node calls work on it). */
int at_fleet_store_shared(at_store_t *store);

/* Refreshes this node's heartbeat for ttl (Redis' clock) and registers the id. With an instance,
 * *other (when not NULL) is set to what the heartbeat held before when another process wrote it
 * (its instance, or the value): after this process's own earlier beat, that is a second process
 * beating the same id (two servers with one AutoTLSNodeName or host name). */
apr_status_t at_fleet_heartbeat(const at_fleet_t *fleet, apr_interval_time_t ttl,
                                const char **other, apr_pool_t *p);

/* Drops this node's heartbeat (a clean stop): nobody waits for it any more. */
apr_status_t at_fleet_leave(const at_fleet_t *fleet, apr_pool_t *p);

/* The ids (const char *, sorted) of the live nodes. An id or heartbeat value the fleet calls did
 * not write is left out, and refused with its Redis key named (one ERROR line) when tell (a
 * caller that lists every few seconds says it through at_fleet_acks_wait instead). */
apr_status_t at_fleet_nodes_live(apr_array_header_t **nodes, at_store_t *shared, int tell,
                                 apr_pool_t *p);

/* Records that node has token's answer in its challenges/ (the set lives AT_FLEET_ACK_TTL). */
apr_status_t at_fleet_ack(at_store_t *shared, const char *token, const char *node, apr_pool_t *p);

/* The ids (const char *, sorted) that acked token; a member that is no node id is refused with
 * the Redis key named and left out. */
apr_status_t at_fleet_acks(apr_array_header_t **nodes, at_store_t *shared, const char *token,
                           apr_pool_t *p);

/* Waits (at most timeout, looking every AT_FLEET_ACK_POLL) until every live node acked token.
 * APR_SUCCESS when they did; APR_TIMEUP when some did not, after one WARNING naming them (site:
 * for the line) and *missing set to their ids joined by ", "; another status when Redis failed
 * (logged by the store). Whatever it returns, the caller goes ahead: the wait only gives the
 * fleet a chance to have the answer everywhere before the CA looks. */
apr_status_t at_fleet_acks_wait(const char **missing, const at_fleet_t *fleet, const char *site,
                                const char *token, apr_interval_time_t timeout, apr_pool_t *p);

/* Removes the fleet's http-01 answers older than max_age (by the store's clock) from shared;
 * *removed: how many. Any node may run it: a removal twice is harmless. */
apr_status_t at_fleet_answers_sweep(int *removed, at_store_t *shared, apr_interval_time_t max_age,
                                    apr_pool_t *p);

/* ---- the mirror ------------------------------------------------------------------------------ */

typedef struct at_fleet_mirror_t at_fleet_mirror_t;

typedef struct {
    int written; /* answers written into the local challenges/ */
    int removed; /* local answers removed (no longer in the fleet's) */
    int refused; /* fleet answers refused (not an answer for its token: logged, never written) */
    int more;    /* work left over (the bound, or a failure): the next call goes on */
    int failed;  /* a store failure: calling again at once would only fail again */
} at_fleet_mirror_result_t;

/* A mirror of fleet->shared's challenges/ into fleet->local's, living in p (the stores and the
 * node id are used as given: one thread calls it). */
apr_status_t at_fleet_mirror_create(at_fleet_mirror_t **mirror, apr_pool_t *p,
                                    const at_fleet_t *fleet);

/* Makes the local challenges/ equal to the fleet's: answers new to this node are decoded
 * (at_challenge_answer_decode: one bound to its token and a host name, else refused with its key
 * named), written again in their canonical form and acked; local answers the fleet no longer has
 * are removed when the mirror owns them: it mirrored them, or they are older than the mirror
 * (leftovers of an earlier process, by AT_FLEET_LEFTOVER_SLACK); an answer this node's own order
 * wrote meanwhile stays (the order removes it). tls-alpn-01 answers are left alone on both sides:
 * they stay on the node that ordered (a fleet validates tls-alpn-01 only where the CA's connection
 * lands). At most AT_FLEET_MIRROR_MAX writes and removals per call (result->more: call again). One
 * read (the group's generation) when nothing changed since the last complete call. scratch is used
 * for this call only. */
apr_status_t at_fleet_mirror_run(at_fleet_mirror_result_t *result, at_fleet_mirror_t *mirror,
                                 apr_pool_t *scratch);

#endif
