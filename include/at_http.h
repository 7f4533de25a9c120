/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_http.h: HTTPS to the CA through libcurl.
 *
 * One at_http_t keeps one curl handle so that consecutive requests reuse the connection. Every
 * request is bounded: connect timeout, total timeout, a response-size cap. Not thread-safe: one
 * at_http_t per thread.
 */
#ifndef AT_HTTP_H
#define AT_HTTP_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#define AT_HTTP_CONNECT_TIMEOUT_DEFAULT apr_time_from_sec(10)
#define AT_HTTP_TOTAL_TIMEOUT_DEFAULT apr_time_from_sec(60)
#define AT_HTTP_MAX_RESPONSE_DEFAULT (1024 * 1024)
/* The longest Retry-After honoured, so that a hostile CA cannot park a client forever. */
#define AT_HTTP_RETRY_AFTER_MAX apr_time_from_sec(24 * 60 * 60)

typedef struct {
    const char *ca_file;                 /* PEM roots for TLS to the CA; NULL: the system store */
    apr_interval_time_t connect_timeout; /* 0: the default */
    apr_interval_time_t total_timeout;   /* 0: the default */
    apr_size_t max_response;             /* body bytes; 0: the default */
    const char *user_agent;              /* NULL: AT_USER_AGENT */
} at_http_options_t;

typedef struct {
    int status;
    apr_table_t *headers;     /* every response header; repeated ones (Link) added, not merged */
    const char *content_type; /* media type without parameters, lower case; "" when absent */
    const char *body;         /* NUL-terminated */
    apr_size_t body_len;
    const char *url; /* the request URL (base for relative links) */
} at_http_response_t;

typedef struct at_http_t at_http_t;

/* Creates the client; its curl handle is released when p is cleaned up. */
apr_status_t at_http_create(at_http_t **http, apr_pool_t *p, const at_http_options_t *options);

/* One request. body may be NULL (GET, HEAD). The response is allocated from p. Transport
 * failures give AT_EHTTP (or AT_ETIMEOUT), a body beyond the cap AT_ETOOLARGE, each with a log
 * line naming the URL and curl's reason. Any HTTP status is a success here. */
apr_status_t at_http_request(at_http_t *http, apr_pool_t *p, const char *method, const char *url,
                             const char *content_type, const char *body, apr_size_t body_len,
                             at_http_response_t **response);

/* Requests sent by this client so far (tests count what an issuance costs). */
unsigned at_http_request_count(const at_http_t *http);

/* Links of the given relation from the response's Link headers (RFC 8288), as const char *. */
apr_array_header_t *at_http_links(apr_pool_t *p, const at_http_response_t *response,
                                  const char *rel);

/* ref resolved against base (RFC 3986 §5.2); NULL when it does not parse. */
const char *at_http_resolve(apr_pool_t *p, const char *base, const char *ref);

/* The Retry-After header as an interval from now (seconds or HTTP date), at most
 * AT_HTTP_RETRY_AFTER_MAX; 0 when absent, unparseable or in the past. */
apr_interval_time_t at_http_retry_after(const at_http_response_t *response);

#endif
