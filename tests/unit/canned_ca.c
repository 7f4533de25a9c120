/* SPDX-License-Identifier: Apache-2.0 */
/*
 * canned_ca.c: a scripted HTTP/1.1 server in a thread, playing the CA in unit tests.
 *
 * The one idea: the server is dumb on purpose. It answers requests in order from the script,
 * keeps connections alive (so the client's connection reuse is exercised), and can misbehave
 * on command (too large, never finishing), or compute a body from what it received (a
 * certificate for the CSR just finalized). Every wait is bounded by a poll timeout and a stop
 * flag, so a broken test cannot hang the suite.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "canned_ca.h"

#define CANNED_MAX_CONNS 8
#define CANNED_POLL_MS 50 /* how often the thread looks at the stop flag */
#define CANNED_REQUEST_TIMEOUT_MS 5000
#define CANNED_REQUEST_MAX (1024 * 1024)
#define CANNED_READ_CHUNK 4096
#define CANNED_STALL_SENT 10 /* body bytes sent before a stall */
#define CANNED_BASE_MAX 64
#define CANNED_HEADER_VALUE_MAX 8192
#define CANNED_BASE_TOKEN "$BASE"
#define CANNED_BASE_TOKEN_LEN (sizeof(CANNED_BASE_TOKEN) - 1)

typedef struct {
    canned_mode_e mode;
    int status;
    char *headers;
    char *body;
    size_t size;
    canned_body_fn fn; /* computes the body when the request arrives; NULL: body as scripted */
    void *baton;
} canned_response_t;

typedef struct {
    int fd;
    int stalled; /* sent a partial response: only wait for the client to go away */
} canned_conn_t;

struct canned_ca_t {
    int listener;
    int wake[2];
    int port;
    char base[CANNED_BASE_MAX];
    pthread_t thread;
    pthread_mutex_t lock;
    atomic_int stop;
    canned_response_t *script;
    int script_len, script_cap, script_next;
    canned_request_t *requests;
    int requests_len, requests_cap;
    int connections;
    canned_conn_t conns[CANNED_MAX_CONNS];
};

static void *canned_grow(void *array, int *cap, int need, size_t item)
{
    if (need <= *cap) {
        return array;
    }
    *cap = *cap > 0 ? *cap * 2 : 8;
    while (*cap < need) {
        *cap *= 2;
    }
    return realloc(array, (size_t)*cap * item);
}

/* text with every "$BASE" replaced by the server's base URL, malloc'ed. */
static char *canned_expand(const canned_ca_t *ca, const char *text)
{
    size_t base_len = strlen(ca->base), n = 0;
    const char *s;
    char *out, *o;

    if (text == NULL) {
        return NULL;
    }
    for (s = text; (s = strstr(s, CANNED_BASE_TOKEN)) != NULL; s += CANNED_BASE_TOKEN_LEN) {
        n++;
    }
    out = o = malloc(strlen(text) + n * base_len + 1);
    for (s = text; *s != '\0';) {
        if (strncmp(s, CANNED_BASE_TOKEN, CANNED_BASE_TOKEN_LEN) == 0) {
            memcpy(o, ca->base, base_len);
            o += base_len;
            s += CANNED_BASE_TOKEN_LEN;
        } else {
            *o++ = *s++;
        }
    }
    *o = '\0';
    return out;
}

void canned_ca_add_mode(canned_ca_t *ca, canned_mode_e mode, int status, const char *headers,
                        size_t size)
{
    canned_response_t *r;

    pthread_mutex_lock(&ca->lock);
    ca->script = canned_grow(ca->script, &ca->script_cap, ca->script_len + 1, sizeof(*r));
    r = &ca->script[ca->script_len++];
    memset(r, 0, sizeof(*r));
    r->mode = mode;
    r->status = status;
    r->headers = canned_expand(ca, headers);
    r->size = size;
    pthread_mutex_unlock(&ca->lock);
}

void canned_ca_add(canned_ca_t *ca, int status, const char *headers, const char *body)
{
    canned_ca_add_mode(ca, CANNED_NORMAL, status, headers, 0);
    pthread_mutex_lock(&ca->lock);
    ca->script[ca->script_len - 1].body = canned_expand(ca, body);
    pthread_mutex_unlock(&ca->lock);
}

void canned_ca_add_fn(canned_ca_t *ca, int status, const char *headers, canned_body_fn fn,
                      void *baton)
{
    canned_ca_add_mode(ca, CANNED_NORMAL, status, headers, 0);
    pthread_mutex_lock(&ca->lock);
    ca->script[ca->script_len - 1].fn = fn;
    ca->script[ca->script_len - 1].baton = baton;
    pthread_mutex_unlock(&ca->lock);
}

static int canned_send_all(int fd, const char *data, size_t len)
{
    ssize_t n;

    while (len > 0) {
        n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                continue;
            }
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static int canned_send_filler(int fd, size_t size)
{
    char chunk[CANNED_READ_CHUNK];
    size_t n;

    memset(chunk, 'x', sizeof(chunk));
    while (size > 0) {
        n = size < sizeof(chunk) ? size : sizeof(chunk);
        if (canned_send_all(fd, chunk, n) != 0) {
            return -1;
        }
        size -= n;
    }
    return 0;
}

/* Sends r on conn; returns 1 when the connection must be closed afterwards. */
static int canned_respond(canned_conn_t *conn, const canned_response_t *r, int head)
{
    char line[256];
    size_t body_len = r->body != NULL ? strlen(r->body) : 0;
    int close_after = 0;

    snprintf(line, sizeof(line), "HTTP/1.1 %d Canned\r\n", r->status);
    canned_send_all(conn->fd, line, strlen(line));
    if (r->headers != NULL) {
        canned_send_all(conn->fd, r->headers, strlen(r->headers));
    }
    switch (r->mode) {
    case CANNED_NORMAL:
        snprintf(line, sizeof(line), "Content-Length: %zu\r\n\r\n", body_len);
        canned_send_all(conn->fd, line, strlen(line));
        if (!head && body_len > 0) {
            canned_send_all(conn->fd, r->body, body_len);
        }
        break;
    case CANNED_OVERSIZE:
        snprintf(line, sizeof(line), "Content-Length: %zu\r\n\r\n", r->size);
        canned_send_all(conn->fd, line, strlen(line));
        canned_send_filler(conn->fd, r->size);
        close_after = 1;
        break;
    case CANNED_OVERSIZE_STREAM:
        snprintf(line, sizeof(line), "Connection: close\r\n\r\n");
        canned_send_all(conn->fd, line, strlen(line));
        canned_send_filler(conn->fd, r->size);
        close_after = 1;
        break;
    case CANNED_STALL:
        snprintf(line, sizeof(line), "Content-Length: %zu\r\n\r\n", r->size);
        canned_send_all(conn->fd, line, strlen(line));
        canned_send_filler(conn->fd, CANNED_STALL_SENT);
        conn->stalled = 1;
        break;
    }
    return close_after;
}

/* Reads one full request (headers and Content-Length body); NULL on EOF, error or timeout. */
static char *canned_read_request(int fd, size_t *total, size_t *header_len)
{
    size_t len = 0, cap = CANNED_READ_CHUNK, content_length = 0;
    char *buf = malloc(cap + 1), *end, *cl;
    struct pollfd pfd = {fd, POLLIN, 0};
    int waited = 0;
    ssize_t n;

    *header_len = 0;
    for (;;) {
        if (*header_len > 0 && len >= *header_len + content_length) {
            *total = len;
            buf[len] = '\0';
            return buf;
        }
        if (poll(&pfd, 1, CANNED_POLL_MS) == 0) {
            waited += CANNED_POLL_MS;
            if (waited > CANNED_REQUEST_TIMEOUT_MS) {
                break;
            }
            continue;
        }
        if (len == cap) {
            if (cap >= CANNED_REQUEST_MAX) {
                break;
            }
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
        n = recv(fd, buf + len, cap - len, 0);
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
        buf[len] = '\0';
        if (*header_len == 0 && (end = strstr(buf, "\r\n\r\n")) != NULL) {
            *header_len = (size_t)(end - buf) + 4;
            cl = strcasestr(buf, "\r\nContent-Length:");
            if (cl != NULL && cl < end) {
                content_length = strtoul(cl + strlen("\r\nContent-Length:"), NULL, 10);
            }
        }
    }
    free(buf);
    return NULL;
}

static void canned_record(canned_ca_t *ca, const char *raw, size_t total, size_t header_len)
{
    canned_request_t *req;
    const char *sp1, *sp2, *eol;
    size_t start;

    ca->requests = canned_grow(ca->requests, &ca->requests_cap, ca->requests_len + 1, sizeof(*req));
    req = &ca->requests[ca->requests_len++];
    sp1 = strchr(raw, ' ');
    sp2 = sp1 != NULL ? strchr(sp1 + 1, ' ') : NULL;
    eol = strstr(raw, "\r\n");
    if (sp1 == NULL || sp2 == NULL || eol == NULL || sp2 > eol) {
        req->method = strdup("");
        req->path = strdup("");
        start = 0; /* no request line: keep the whole block as headers */
    } else {
        req->method = strndup(raw, (size_t)(sp1 - raw));
        req->path = strndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
        start = (size_t)(eol + 2 - raw);
    }
    req->headers = strndup(raw + start, header_len - start);
    req->body_len = total - header_len;
    req->body = malloc(req->body_len + 1);
    memcpy(req->body, raw + header_len, req->body_len);
    req->body[req->body_len] = '\0';
}

/* Serves one request on conn; returns 1 when the connection is finished. */
static int canned_serve(canned_ca_t *ca, canned_conn_t *conn)
{
    static const canned_response_t exhausted = {.mode = CANNED_NORMAL,
                                                .status = 500,
                                                .headers = "Content-Type: text/plain\r\n",
                                                .body = "canned CA: script exhausted"};
    canned_response_t r;
    size_t total, header_len;
    char *raw, *computed = NULL, *body;
    int done, count;

    raw = canned_read_request(conn->fd, &total, &header_len);
    if (raw == NULL) {
        return 1;
    }
    pthread_mutex_lock(&ca->lock);
    canned_record(ca, raw, total, header_len);
    count = ca->requests_len;
    r = ca->script_next < ca->script_len ? ca->script[ca->script_next++] : exhausted;
    pthread_mutex_unlock(&ca->lock);
    if (r.fn != NULL) {
        /* only this thread changes the recorded requests, so they hold still without the lock */
        body = r.fn(ca->requests, count, r.baton);
        computed = r.body = canned_expand(ca, body);
        free(body);
    }
    done = canned_respond(conn, &r, strncmp(raw, "HEAD ", 5) == 0);
    free(computed);
    free(raw);
    return done;
}

static void canned_close(canned_conn_t *conn)
{
    close(conn->fd);
    conn->fd = -1;
    conn->stalled = 0;
}

static void canned_accept(canned_ca_t *ca)
{
    int fd = accept(ca->listener, NULL, NULL), i;

    if (fd < 0) {
        return;
    }
    pthread_mutex_lock(&ca->lock);
    ca->connections++;
    pthread_mutex_unlock(&ca->lock);
    for (i = 0; i < CANNED_MAX_CONNS; i++) {
        if (ca->conns[i].fd < 0) {
            ca->conns[i].fd = fd;
            return;
        }
    }
    close(fd);
}

static void *canned_main(void *baton)
{
    canned_ca_t *ca = baton;
    struct pollfd pfds[CANNED_MAX_CONNS + 2];
    char drain[CANNED_READ_CHUNK];
    int i;

    while (!ca->stop) {
        pfds[0] = (struct pollfd){ca->listener, POLLIN, 0};
        pfds[1] = (struct pollfd){ca->wake[0], POLLIN, 0};
        for (i = 0; i < CANNED_MAX_CONNS; i++) {
            pfds[i + 2] = (struct pollfd){ca->conns[i].fd, POLLIN, 0};
        }
        if (poll(pfds, CANNED_MAX_CONNS + 2, CANNED_POLL_MS) <= 0) {
            continue;
        }
        if (pfds[0].revents & POLLIN) {
            canned_accept(ca);
        }
        for (i = 0; i < CANNED_MAX_CONNS; i++) {
            if (ca->conns[i].fd < 0 || pfds[i + 2].revents == 0 ||
                pfds[i + 2].fd != ca->conns[i].fd) {
                continue;
            }
            if (ca->conns[i].stalled) {
                if (recv(ca->conns[i].fd, drain, sizeof(drain), 0) <= 0) {
                    canned_close(&ca->conns[i]);
                }
            } else if (canned_serve(ca, &ca->conns[i])) {
                canned_close(&ca->conns[i]);
            }
        }
    }
    return NULL;
}

canned_ca_t *canned_ca_start(void)
{
    canned_ca_t *ca = calloc(1, sizeof(*ca));
    struct sockaddr_in addr = {0};
    socklen_t addr_len = sizeof(addr);
    int i;

    for (i = 0; i < CANNED_MAX_CONNS; i++) {
        ca->conns[i].fd = -1;
    }
    pthread_mutex_init(&ca->lock, NULL);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ca->listener = socket(AF_INET, SOCK_STREAM, 0);
    if (ca->listener < 0 || bind(ca->listener, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        listen(ca->listener, CANNED_MAX_CONNS) != 0 ||
        getsockname(ca->listener, (struct sockaddr *)&addr, &addr_len) != 0 ||
        pipe(ca->wake) != 0) {
        if (ca->listener >= 0) {
            close(ca->listener);
        }
        free(ca);
        return NULL;
    }
    ca->port = ntohs(addr.sin_port);
    snprintf(ca->base, sizeof(ca->base), "http://127.0.0.1:%d", ca->port);
    if (pthread_create(&ca->thread, NULL, canned_main, ca) != 0) {
        close(ca->listener);
        close(ca->wake[0]);
        close(ca->wake[1]);
        free(ca);
        return NULL;
    }
    return ca;
}

void canned_ca_stop(canned_ca_t *ca)
{
    int i;

    if (ca == NULL) {
        return;
    }
    ca->stop = 1;
    if (write(ca->wake[1], "x", 1) < 0) {
        /* the poll timeout notices the flag anyway */
    }
    pthread_join(ca->thread, NULL);
    for (i = 0; i < CANNED_MAX_CONNS; i++) {
        if (ca->conns[i].fd >= 0) {
            close(ca->conns[i].fd);
        }
    }
    close(ca->listener);
    close(ca->wake[0]);
    close(ca->wake[1]);
    for (i = 0; i < ca->script_len; i++) {
        free(ca->script[i].headers);
        free(ca->script[i].body);
    }
    for (i = 0; i < ca->requests_len; i++) {
        free(ca->requests[i].method);
        free(ca->requests[i].path);
        free(ca->requests[i].headers);
        free(ca->requests[i].body);
    }
    free(ca->script);
    free(ca->requests);
    pthread_mutex_destroy(&ca->lock);
    free(ca);
}

const char *canned_ca_base(const canned_ca_t *ca)
{
    return ca->base;
}

int canned_ca_request_count(canned_ca_t *ca)
{
    int n;

    pthread_mutex_lock(&ca->lock);
    n = ca->requests_len;
    pthread_mutex_unlock(&ca->lock);
    return n;
}

const canned_request_t *canned_ca_request(canned_ca_t *ca, int index)
{
    const canned_request_t *req = NULL;

    pthread_mutex_lock(&ca->lock);
    if (index >= 0 && index < ca->requests_len) {
        req = &ca->requests[index];
    }
    pthread_mutex_unlock(&ca->lock);
    return req;
}

int canned_ca_connection_count(canned_ca_t *ca)
{
    int n;

    pthread_mutex_lock(&ca->lock);
    n = ca->connections;
    pthread_mutex_unlock(&ca->lock);
    return n;
}

int canned_ca_pending(canned_ca_t *ca)
{
    int n;

    pthread_mutex_lock(&ca->lock);
    n = ca->script_len - ca->script_next;
    pthread_mutex_unlock(&ca->lock);
    return n;
}

const char *canned_request_header(const canned_request_t *request, const char *name)
{
    static char value[CANNED_HEADER_VALUE_MAX];
    size_t name_len = strlen(name), n;
    const char *line = request->headers, *eol, *v;

    while (line != NULL && *line != '\0') {
        eol = strstr(line, "\r\n");
        if (eol == NULL) {
            break;
        }
        if ((size_t)(eol - line) > name_len && strncasecmp(line, name, name_len) == 0 &&
            line[name_len] == ':') {
            for (v = line + name_len + 1; *v == ' ' || *v == '\t'; v++) {
            }
            n = (size_t)(eol - v) < sizeof(value) - 1 ? (size_t)(eol - v) : sizeof(value) - 1;
            memcpy(value, v, n);
            value[n] = '\0';
            return value;
        }
        line = eol + 2;
    }
    return NULL;
}
