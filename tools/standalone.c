/* SPDX-License-Identifier: Apache-2.0 */
/*
 * standalone.c: a minimal HTTP/1.x server answering only ACME http-01 requests.
 *
 * It serves exactly the tokens the issuance flow published, on GET/HEAD of
 * /.well-known/acme-challenge/<token>, and 404 to everything else. One request per connection,
 * each connection in its own thread (at most STANDALONE_CONN_MAX at once) with one deadline for
 * the whole request: a slow or silent client can neither keep the CA's validation request
 * waiting nor hold up the CLI's exit, which cuts every open connection.
 */
#include <stdatomic.h>
#include <string.h>

#include <apr_hash.h>
#include <apr_network_io.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>

#include "at_b64url.h"
#include "at_core.h"
#include "standalone.h"

#define STANDALONE_REQUEST_MAX 8192
#define STANDALONE_ACCEPT_POLL apr_time_from_msec(100)
/* From accept to the end of the request head, however the client paces its bytes. */
#define STANDALONE_REQUEST_DEADLINE apr_time_from_sec(5)
/* The reply is small enough for the socket buffer: this only bounds a client that reads nothing
 * while its window is closed. */
#define STANDALONE_SEND_TIMEOUT apr_time_from_sec(2)
/* Connections served at once, each in its own thread; more are closed at once. */
#define STANDALONE_CONN_MAX 32
#define STANDALONE_BACKLOG 16
#define CHALLENGE_PREFIX "/.well-known/acme-challenge/"
#define TOKEN_MAX 256

typedef struct standalone_conn_t standalone_conn_t;

/* One connection slot. pool, sock and thread are set and cleared by the accept thread only;
 * done is set by the connection's thread under the server's lock. */
struct standalone_conn_t {
    autotls_standalone_t *server;
    apr_pool_t *pool; /* NULL: the slot is free */
    apr_socket_t *sock;
    apr_thread_t *thread;
    int done;
};

struct autotls_standalone_t {
    apr_pool_t *pool;
    apr_socket_t *listener;
    apr_thread_t *thread;     /* accepts, and reaps connection threads */
    apr_thread_mutex_t *lock; /* tokens, and each slot's done */
    apr_hash_t *tokens;       /* token -> key authorization */
    standalone_conn_t conns[STANDALONE_CONN_MAX];
    atomic_int stop; /* set by the pool cleanup, read by every thread */
};

static apr_status_t standalone_publish(void *baton, const char *name, const char *token,
                                       const char *keyauth, apr_pool_t *p)
{
    autotls_standalone_t *server = baton;

    apr_thread_mutex_lock(server->lock);
    apr_hash_set(server->tokens, apr_pstrdup(server->pool, token), APR_HASH_KEY_STRING,
                 apr_pstrdup(server->pool, keyauth));
    apr_thread_mutex_unlock(server->lock);
    return APR_SUCCESS;
}

static void standalone_withdraw(void *baton, const char *name, const char *token, apr_pool_t *p)
{
    autotls_standalone_t *server = baton;

    apr_thread_mutex_lock(server->lock);
    apr_hash_set(server->tokens, token, APR_HASH_KEY_STRING, NULL);
    apr_thread_mutex_unlock(server->lock);
}

/* Reads until the end of the request head, the size cap or the connection's deadline. */
static apr_size_t standalone_read_head(apr_socket_t *sock, char *buf, apr_size_t cap,
                                       apr_time_t deadline)
{
    apr_size_t used = 0;

    while (used < cap - 1) {
        apr_size_t n = cap - 1 - used;
        apr_interval_time_t left = deadline - apr_time_now();

        /* The deadline is for the whole request: a client that drips a byte now and then is
         * cut off as surely as one that sends nothing. */
        if (left <= 0 || apr_socket_timeout_set(sock, left) != APR_SUCCESS ||
            apr_socket_recv(sock, buf + used, &n) != APR_SUCCESS || n == 0) {
            break;
        }
        used += n;
        buf[used] = '\0';
        if (strstr(buf, "\r\n\r\n") != NULL || strstr(buf, "\n\n") != NULL) {
            break;
        }
    }
    buf[used] = '\0';
    return used;
}

static void standalone_reply(apr_socket_t *sock, apr_pool_t *p, int status, const char *reason,
                             const char *body, int head_only)
{
    const char *msg = apr_psprintf(
        p,
        "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %" APR_SIZE_T_FMT
        "\r\nConnection: close\r\n\r\n%s",
        status, reason, strlen(body), head_only ? "" : body);
    apr_size_t len = strlen(msg);

    apr_socket_timeout_set(sock, STANDALONE_SEND_TIMEOUT);
    apr_socket_send(sock, msg, &len);
}

static void standalone_serve(autotls_standalone_t *server, apr_socket_t *sock, apr_pool_t *p)
{
    char buf[STANDALONE_REQUEST_MAX];
    char *method, *path, *last;
    const char *keyauth = NULL;
    apr_time_t deadline = apr_time_now() + STANDALONE_REQUEST_DEADLINE;
    int head_only;

    if (standalone_read_head(sock, buf, sizeof(buf), deadline) == 0 || atomic_load(&server->stop)) {
        return; /* nothing came in time, or we are shutting down: just close */
    }
    method = apr_strtok(buf, " ", &last);
    path = method ? apr_strtok(NULL, " ", &last) : NULL;
    if (method == NULL || path == NULL ||
        (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)) {
        standalone_reply(sock, p, 405, "Method Not Allowed", "", 0);
        return;
    }
    head_only = strcmp(method, "HEAD") == 0;
    if (strncmp(path, CHALLENGE_PREFIX, strlen(CHALLENGE_PREFIX)) == 0 &&
        at_b64url_is_token(path + strlen(CHALLENGE_PREFIX), TOKEN_MAX)) {
        apr_thread_mutex_lock(server->lock);
        keyauth =
            apr_hash_get(server->tokens, path + strlen(CHALLENGE_PREFIX), APR_HASH_KEY_STRING);
        keyauth = keyauth ? apr_pstrdup(p, keyauth) : NULL;
        apr_thread_mutex_unlock(server->lock);
    }
    if (keyauth == NULL) {
        standalone_reply(sock, p, 404, "Not Found", "", head_only);
        return;
    }
    at_log(AT_LOG_DEBUG, APR_SUCCESS, "standalone: served the http-01 response for %s", path);
    standalone_reply(sock, p, 200, "OK", keyauth, head_only);
}

static void *APR_THREAD_FUNC standalone_conn_run(apr_thread_t *thread, void *data)
{
    standalone_conn_t *conn = data;
    autotls_standalone_t *server = conn->server;

    standalone_serve(server, conn->sock, conn->pool);
    apr_thread_mutex_lock(server->lock);
    conn->done = 1;
    apr_thread_mutex_unlock(server->lock);
    return NULL;
}

/* Joins a finished connection's thread and frees its slot (the socket closes with its pool).
 * Only the accept thread calls it. */
static void standalone_conn_reap(standalone_conn_t *conn)
{
    apr_status_t ignored;

    apr_thread_join(&ignored, conn->thread);
    apr_pool_destroy(conn->pool);
    conn->pool = NULL;
    conn->sock = NULL;
    conn->thread = NULL;
    conn->done = 0;
}

/* Reaps finished connections; returns a free slot or NULL when all are busy. */
static standalone_conn_t *standalone_conn_slot(autotls_standalone_t *server)
{
    standalone_conn_t *free_slot = NULL;
    int i;

    for (i = 0; i < STANDALONE_CONN_MAX; ++i) {
        standalone_conn_t *conn = &server->conns[i];
        int done;

        apr_thread_mutex_lock(server->lock);
        done = conn->done;
        apr_thread_mutex_unlock(server->lock);
        if (conn->pool != NULL && done) {
            standalone_conn_reap(conn);
        }
        if (conn->pool == NULL && free_slot == NULL) {
            free_slot = conn;
        }
    }
    return free_slot;
}

/* Takes one connection into its own thread; when every slot is busy it is closed at once. */
static void standalone_accept(autotls_standalone_t *server)
{
    standalone_conn_t *conn = standalone_conn_slot(server);
    apr_pool_t *pool;
    apr_socket_t *sock;

    /* A root pool per connection: the connection's thread allocates from it alone. */
    if (apr_pool_create(&pool, NULL) != APR_SUCCESS) {
        return;
    }
    if (apr_socket_accept(&sock, server->listener, pool) != APR_SUCCESS) {
        apr_pool_destroy(pool);
        return;
    }
    if (conn == NULL) {
        at_log(AT_LOG_DEBUG, APR_SUCCESS,
               "standalone: %d connections open already; closing a new one", STANDALONE_CONN_MAX);
        apr_pool_destroy(pool);
        return;
    }
    conn->server = server;
    conn->pool = pool;
    conn->sock = sock;
    conn->done = 0;
    if (apr_thread_create(&conn->thread, NULL, standalone_conn_run, conn, pool) != APR_SUCCESS) {
        apr_pool_destroy(pool);
        conn->pool = NULL;
        conn->sock = NULL;
    }
}

static void *APR_THREAD_FUNC standalone_run(apr_thread_t *thread, void *data)
{
    autotls_standalone_t *server = data;
    int i;

    while (!atomic_load(&server->stop)) {
        standalone_accept(server);
    }
    /* Bounded shutdown: every open connection is cut at once instead of waiting out its
     * deadline, then its thread joined. */
    for (i = 0; i < STANDALONE_CONN_MAX; ++i) {
        if (server->conns[i].pool != NULL) {
            apr_socket_shutdown(server->conns[i].sock, APR_SHUTDOWN_READWRITE);
        }
    }
    for (i = 0; i < STANDALONE_CONN_MAX; ++i) {
        if (server->conns[i].pool != NULL) {
            standalone_conn_reap(&server->conns[i]);
        }
    }
    return NULL;
}

static apr_status_t standalone_stop(void *data)
{
    autotls_standalone_t *server = data;
    apr_status_t ignored;

    atomic_store(&server->stop, 1);
    apr_thread_join(&ignored, server->thread);
    apr_socket_close(server->listener);
    return APR_SUCCESS;
}

apr_status_t autotls_standalone_start(autotls_standalone_t **out, at_http01_responder_t *responder,
                                      apr_pool_t *p, const char *addr)
{
    autotls_standalone_t *server = apr_pcalloc(p, sizeof(*server));
    apr_sockaddr_t *sa;
    char *host, *scope;
    apr_port_t port;
    apr_status_t rv;

    if ((rv = apr_parse_addr_port(&host, &scope, &port, addr, p)) != APR_SUCCESS || port == 0) {
        at_log(AT_LOG_ERR, AT_EARG, "standalone: \"%s\" is not ADDR:PORT", addr);
        return AT_EARG;
    }
    server->pool = p;
    atomic_init(&server->stop, 0);
    server->tokens = apr_hash_make(p);
    if ((rv = apr_thread_mutex_create(&server->lock, APR_THREAD_MUTEX_DEFAULT, p)) ||
        (rv = apr_sockaddr_info_get(&sa, host, APR_UNSPEC, port, 0, p)) ||
        (rv = apr_socket_create(&server->listener, sa->family, SOCK_STREAM, APR_PROTO_TCP, p)) ||
        (rv = apr_socket_opt_set(server->listener, APR_SO_REUSEADDR, 1)) ||
        (rv = apr_socket_bind(server->listener, sa)) ||
        (rv = apr_socket_listen(server->listener, STANDALONE_BACKLOG)) ||
        (rv = apr_socket_timeout_set(server->listener, STANDALONE_ACCEPT_POLL)) ||
        (rv = apr_thread_create(&server->thread, NULL, standalone_run, server, p))) {
        at_log(AT_LOG_ERR, rv, "standalone: cannot serve http-01 on %s", addr);
        return rv;
    }
    apr_pool_cleanup_register(p, server, standalone_stop, apr_pool_cleanup_null);
    responder->setup = standalone_publish;
    responder->teardown = standalone_withdraw;
    responder->baton = server;
    *out = server;
    return APR_SUCCESS;
}
