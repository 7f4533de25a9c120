/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http.c: HTTPS to the CA through one libcurl easy handle per at_http_t.
 *
 * The one idea: the CA is not trusted to be well-behaved. Every request is bounded (connect
 * timeout, total timeout, body and header size caps, and a CA that starts answering must keep
 * sending: a drip is cut off long before the total timeout), only http and https are spoken,
 * redirects are never followed, and Retry-After is capped so a CA cannot park us forever.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <apr_date.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <curl/curl.h>

#include "at_core.h"
#include "at_http.h"

#define HTTP_PROTOCOLS "http,https"
#define HTTP_BODY_INITIAL 4096  /* first allocation of a response body buffer */
#define HTTP_USEC_PER_MSEC 1000 /* apr_interval_time_t is microseconds, curl wants ms */
#define HTTP_STATUS_LINE "HTTP/"
/* Response headers kept at most: real ACME responses carry a few hundred bytes of them. */
#define HTTP_HEADER_BYTES_MAX (64 * 1024)
/* Once the first byte of a response arrived, at least this much more must arrive in every
 * window until it is complete; a CA that drips its answer is cut off (AT_ETIMEOUT). Waiting
 * for the first byte (a CA busy finalizing) is bounded by the total timeout alone. */
#define HTTP_STALL_WINDOW apr_time_from_sec(10)
#define HTTP_STALL_MIN_BYTES 1024

struct at_http_t {
    apr_pool_t *pool;
    CURL *curl;
    const char *ca_file;
    long connect_timeout_ms;
    long total_timeout_ms;
    apr_size_t max_response;
    const char *user_agent;
    unsigned requests;
    char error[CURL_ERROR_SIZE];
};

/* What the curl callbacks collect during one transfer. */
typedef struct {
    apr_pool_t *p;
    apr_table_t *headers;
    char *body; /* malloc'ed: freed by http_request before it returns */
    apr_size_t len;
    apr_size_t cap;
    apr_size_t max;
    apr_size_t header_bytes;
    int too_large;
    int headers_too_large;
    int stalled;
    apr_time_t window_start; /* 0 until the first byte of the response */
    apr_size_t window_bytes; /* bytes received when the current window started */
} http_transfer_t;

static pthread_once_t http_global_once = PTHREAD_ONCE_INIT;
static CURLcode http_global_rc = CURLE_FAILED_INIT;

static void http_global_init(void)
{
    http_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static apr_status_t http_cleanup(void *data)
{
    at_http_t *http = data;

    if (http->curl != NULL) {
        curl_easy_cleanup(http->curl);
        http->curl = NULL;
    }
    return APR_SUCCESS;
}

static long http_msec(apr_interval_time_t t, apr_interval_time_t fallback)
{
    return (long)((t > 0 ? t : fallback) / HTTP_USEC_PER_MSEC);
}

apr_status_t at_http_create(at_http_t **http, apr_pool_t *p, const at_http_options_t *options)
{
    static const at_http_options_t defaults = {0};
    at_http_t *h;

    if (options == NULL) {
        options = &defaults;
    }
    pthread_once(&http_global_once, http_global_init);
    if (http_global_rc != CURLE_OK) {
        at_log(AT_LOG_ERR, AT_EHTTP, "http: curl_global_init failed: %s",
               curl_easy_strerror(http_global_rc));
        return AT_EHTTP;
    }
    h = apr_pcalloc(p, sizeof(*h));
    h->pool = p;
    h->ca_file = options->ca_file != NULL ? apr_pstrdup(p, options->ca_file) : NULL;
    h->connect_timeout_ms = http_msec(options->connect_timeout, AT_HTTP_CONNECT_TIMEOUT_DEFAULT);
    h->total_timeout_ms = http_msec(options->total_timeout, AT_HTTP_TOTAL_TIMEOUT_DEFAULT);
    h->max_response =
        options->max_response > 0 ? options->max_response : AT_HTTP_MAX_RESPONSE_DEFAULT;
    h->user_agent =
        apr_pstrdup(p, options->user_agent != NULL ? options->user_agent : AT_USER_AGENT);
    h->curl = curl_easy_init();
    if (h->curl == NULL) {
        at_log(AT_LOG_ERR, AT_EHTTP, "http: curl_easy_init failed");
        return AT_EHTTP;
    }
    apr_pool_cleanup_register(p, h, http_cleanup, apr_pool_cleanup_null);
    *http = h;
    return APR_SUCCESS;
}

unsigned at_http_request_count(const at_http_t *http)
{
    return http->requests;
}

static size_t http_on_body(char *data, size_t size, size_t count, void *baton)
{
    http_transfer_t *t = baton;
    size_t n = size * count;
    apr_size_t cap;
    char *grown;

    if (n > t->max - t->len) {
        t->too_large = 1;
        return 0; /* aborts the transfer */
    }
    if (t->len + n + 1 > t->cap) {
        cap = t->cap > 0 ? t->cap : HTTP_BODY_INITIAL;
        while (cap < t->len + n + 1) {
            cap *= 2;
        }
        grown = realloc(t->body, cap);
        if (grown == NULL) {
            return 0;
        }
        t->body = grown;
        t->cap = cap;
    }
    memcpy(t->body + t->len, data, n);
    t->len += n;
    return n;
}

/* Collects "Name: value" lines into the table; a new status line (after 100 Continue, or an
 * interim response) starts over. */
static size_t http_on_header(char *data, size_t size, size_t count, void *baton)
{
    http_transfer_t *t = baton;
    size_t n = size * count;
    const char *colon, *end;
    char *name, *value;

    if (t->window_start == 0) {
        t->window_start = apr_time_now();
    }
    t->header_bytes += n;
    if (t->header_bytes > HTTP_HEADER_BYTES_MAX || t->header_bytes > t->max) {
        t->headers_too_large = 1;
        return 0;
    }
    if (n >= sizeof(HTTP_STATUS_LINE) - 1 &&
        memcmp(data, HTTP_STATUS_LINE, sizeof(HTTP_STATUS_LINE) - 1) == 0) {
        apr_table_clear(t->headers);
        return n;
    }
    colon = memchr(data, ':', n);
    if (colon == NULL || colon == data || data[0] == ' ' || data[0] == '\t') {
        return n; /* blank line, obsolete folding or garbage: nothing to keep */
    }
    end = data + n;
    while (end > colon + 1 && apr_isspace(end[-1])) {
        end--;
    }
    name = apr_pstrmemdup(t->p, data, (apr_size_t)(colon - data));
    colon++;
    while (colon < end && apr_isspace(*colon)) {
        colon++;
    }
    value = apr_pstrmemdup(t->p, colon, (apr_size_t)(end - colon));
    apr_table_add(t->headers, name, value);
    return n;
}

/* Called by curl at least about once a second: cuts off a response that started and then
 * slowed to a drip. */
static int http_on_progress(void *baton, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                            curl_off_t ulnow)
{
    http_transfer_t *t = baton;
    apr_size_t received = t->header_bytes + t->len;
    apr_time_t now;

    if (t->window_start == 0) {
        return 0; /* no answer yet: the total timeout bounds the wait */
    }
    now = apr_time_now();
    if (now - t->window_start < HTTP_STALL_WINDOW) {
        return 0;
    }
    if (received - t->window_bytes < HTTP_STALL_MIN_BYTES) {
        t->stalled = 1;
        return 1; /* aborts the transfer */
    }
    t->window_start = now;
    t->window_bytes = received;
    return 0;
}

/* "Application/JSON; charset=utf-8" -> "application/json". */
static const char *http_media_type(apr_pool_t *p, const char *header)
{
    const char *start = header, *end;
    char *type, *c;

    if (header == NULL) {
        return "";
    }
    while (apr_isspace(*start)) {
        start++;
    }
    end = start;
    while (*end != '\0' && *end != ';') {
        end++;
    }
    while (end > start && apr_isspace(end[-1])) {
        end--;
    }
    type = apr_pstrmemdup(p, start, (apr_size_t)(end - start));
    for (c = type; *c != '\0'; c++) {
        *c = (char)apr_tolower(*c);
    }
    return type;
}

static void http_configure(at_http_t *http, http_transfer_t *t, const char *method, const char *url,
                           struct curl_slist *headers, const char *body, apr_size_t body_len)
{
    CURL *c = http->curl;

    curl_easy_reset(c); /* options only: the connection cache survives */
    http->error[0] = '\0';
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, http->error);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, HTTP_PROTOCOLS);
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, HTTP_PROTOCOLS);
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, http->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, http->total_timeout_ms);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)http->max_response);
    curl_easy_setopt(c, CURLOPT_USERAGENT, http->user_agent);
    if (http->ca_file != NULL) {
        curl_easy_setopt(c, CURLOPT_CAINFO, http->ca_file);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, http_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, http_on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, t);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") == 0 && body == NULL) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body != NULL ? body : "");
        if (strcmp(method, "POST") != 0) {
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        }
    }
}

static apr_status_t http_failure(at_http_t *http, const http_transfer_t *t, CURLcode rc,
                                 const char *method, const char *url)
{
    const char *why = http->error[0] != '\0' ? http->error : curl_easy_strerror(rc);
    apr_status_t rv;

    if (t->headers_too_large) {
        rv = AT_ETOOLARGE;
        at_log(AT_LOG_ERR, rv, "http %s %s: response headers larger than %" APR_SIZE_T_FMT " bytes",
               method, url,
               http->max_response < HTTP_HEADER_BYTES_MAX ? http->max_response
                                                          : (apr_size_t)HTTP_HEADER_BYTES_MAX);
    } else if (t->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
        rv = AT_ETOOLARGE;
        at_log(AT_LOG_ERR, rv, "http %s %s: response larger than %" APR_SIZE_T_FMT " bytes", method,
               url, http->max_response);
    } else if (t->stalled) {
        rv = AT_ETIMEOUT;
        at_log(AT_LOG_ERR, rv,
               "http %s %s: the CA stopped sending: less than %d bytes in %d s of a response "
               "that had begun (%" APR_SIZE_T_FMT " bytes so far)",
               method, url, HTTP_STALL_MIN_BYTES, (int)apr_time_sec(HTTP_STALL_WINDOW),
               t->header_bytes + t->len);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        rv = AT_ETIMEOUT;
        at_log(AT_LOG_ERR, rv, "http %s %s timed out: %s", method, url, why);
    } else {
        rv = AT_EHTTP;
        at_log(AT_LOG_ERR, rv, "http %s %s failed: %s", method, url, why);
    }
    return rv;
}

apr_status_t at_http_request(at_http_t *http, apr_pool_t *p, const char *method, const char *url,
                             const char *content_type, const char *body, apr_size_t body_len,
                             at_http_response_t **response)
{
    http_transfer_t t = {0};
    struct curl_slist *headers = NULL, *more;
    at_http_response_t *r;
    long status = 0;
    CURLcode rc;
    apr_status_t rv = APR_SUCCESS;

    t.p = p;
    t.headers = apr_table_make(p, 16);
    t.max = http->max_response;
    /* curl would otherwise wait for "100 Continue" before sending larger bodies */
    more = curl_slist_append(headers, "Expect:");
    if (more != NULL && content_type != NULL) {
        headers = more;
        more = curl_slist_append(headers, apr_pstrcat(p, "Content-Type: ", content_type, NULL));
    }
    if (more == NULL) {
        curl_slist_free_all(headers);
        at_log(AT_LOG_ERR, APR_ENOMEM, "http %s %s: out of memory", method, url);
        return APR_ENOMEM;
    }
    headers = more;
    http_configure(http, &t, method, url, headers, body, body_len);
    http->requests++;
    rc = curl_easy_perform(http->curl);
    curl_easy_setopt(http->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK || t.too_large || t.headers_too_large) {
        rv = http_failure(http, &t, rc, method, url);
        goto leave;
    }
    curl_easy_getinfo(http->curl, CURLINFO_RESPONSE_CODE, &status);
    r = apr_pcalloc(p, sizeof(*r));
    r->status = (int)status;
    r->headers = t.headers;
    r->content_type = http_media_type(p, apr_table_get(t.headers, "Content-Type"));
    r->body = t.len > 0 ? apr_pstrmemdup(p, t.body, t.len) : "";
    r->body_len = t.len;
    r->url = apr_pstrdup(p, url);
    at_log(AT_LOG_DEBUG, APR_SUCCESS, "http request %u: %s %s -> %d", http->requests, method, url,
           r->status);
    *response = r;
leave:
    free(t.body);
    return rv;
}

/* --- Link (RFC 8288) ------------------------------------------------------------------------ */

static const char *http_skip_space(const char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    return s;
}

/* Reads a token or quoted-string parameter value starting at *s; advances *s past it. */
static const char *http_param_value(apr_pool_t *p, const char **s)
{
    const char *c = *s;
    char *out, *o;

    if (*c == '"') {
        out = o = apr_palloc(p, strlen(c) + 1);
        for (c++; *c != '\0' && *c != '"'; c++) {
            if (*c == '\\' && c[1] != '\0') {
                c++;
            }
            *o++ = *c;
        }
        *o = '\0';
        *s = *c == '"' ? c + 1 : c;
        return out;
    }
    while (*c != '\0' && *c != ';' && *c != ',' && *c != ' ' && *c != '\t') {
        c++;
    }
    out = apr_pstrmemdup(p, *s, (apr_size_t)(c - *s));
    *s = c;
    return out;
}

/* Whether the space-separated relation list contains rel (case-insensitively). */
static int http_rel_matches(const char *list, const char *rel)
{
    apr_size_t len = strlen(rel);
    const char *s = list, *end;

    while (*s != '\0') {
        s = http_skip_space(s);
        end = s;
        while (*end != '\0' && *end != ' ' && *end != '\t') {
            end++;
        }
        if ((apr_size_t)(end - s) == len && strncasecmp(s, rel, len) == 0) {
            return 1;
        }
        s = end;
    }
    return 0;
}

/* Parses the link-params after "<url>"; returns where the link-value ends. */
static const char *http_link_params(apr_pool_t *p, const char *s, const char *rel, int *match)
{
    const char *name, *value;
    int seen_rel = 0;

    *match = 0;
    while (*s != '\0' && *s != ',') {
        s = http_skip_space(s);
        if (*s != ';') {
            if (*s != '\0' && *s != ',') {
                s++; /* garbage between parameters: step over it */
            }
            continue;
        }
        s = http_skip_space(s + 1);
        name = s;
        while (*s != '\0' && *s != '=' && *s != ';' && *s != ',' && *s != ' ' && *s != '\t') {
            s++;
        }
        name = apr_pstrmemdup(p, name, (apr_size_t)(s - name));
        s = http_skip_space(s);
        value = "";
        if (*s == '=') {
            s = http_skip_space(s + 1);
            value = http_param_value(p, &s);
        }
        if (!seen_rel && strcasecmp(name, "rel") == 0) {
            seen_rel = 1; /* RFC 8288 §3.3: only the first rel counts */
            *match = http_rel_matches(value, rel);
        }
    }
    return s;
}

const char *at_http_resolve(apr_pool_t *p, const char *base, const char *ref)
{
    CURLU *u;
    char *out = NULL;
    const char *result = NULL;

    if (ref == NULL) {
        return NULL;
    }
    if (base == NULL) {
        return apr_pstrdup(p, ref);
    }
    u = curl_url();
    if (u == NULL) {
        return NULL;
    }
    if (curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_URL, ref, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &out, 0) == CURLUE_OK) {
        result = apr_pstrdup(p, out);
    }
    curl_free(out);
    curl_url_cleanup(u);
    return result;
}

typedef struct {
    apr_pool_t *p;
    const at_http_response_t *response;
    const char *rel;
    apr_array_header_t *links;
} http_links_ctx_t;

static int http_links_of_header(void *baton, const char *key, const char *value)
{
    http_links_ctx_t *ctx = baton;
    const char *s = value, *url_end, *url;
    int match;

    while (*s != '\0') {
        while (*s == ',' || *s == ' ' || *s == '\t') {
            s++;
        }
        if (*s != '<') {
            while (*s != '\0' && *s != ',') {
                s++; /* not a link-value: skip it */
            }
            continue;
        }
        url_end = strchr(s + 1, '>');
        if (url_end == NULL) {
            break;
        }
        url = apr_pstrmemdup(ctx->p, s + 1, (apr_size_t)(url_end - s - 1));
        s = http_link_params(ctx->p, url_end + 1, ctx->rel, &match);
        if (match) {
            url = at_http_resolve(ctx->p, ctx->response->url, url);
            if (url != NULL) {
                APR_ARRAY_PUSH(ctx->links, const char *) = url;
            }
        }
    }
    return 1;
}

apr_array_header_t *at_http_links(apr_pool_t *p, const at_http_response_t *response,
                                  const char *rel)
{
    http_links_ctx_t ctx = {p, response, rel, apr_array_make(p, 2, sizeof(const char *))};

    if (response->headers != NULL) {
        apr_table_do(http_links_of_header, &ctx, response->headers, "Link", NULL);
    }
    return ctx.links;
}

/* --- Retry-After (RFC 9110 §10.2.3) --------------------------------------------------------- */

apr_interval_time_t at_http_retry_after(const at_http_response_t *response)
{
    const char *value, *s;
    apr_int64_t secs = 0;
    apr_time_t when, now;
    apr_interval_time_t wait;

    value = response->headers != NULL ? apr_table_get(response->headers, "Retry-After") : NULL;
    if (value == NULL) {
        return 0;
    }
    s = http_skip_space(value);
    if (apr_isdigit(*s)) {
        for (; apr_isdigit(*s); s++) {
            secs = secs * 10 + (*s - '0');
            if (secs > apr_time_sec(AT_HTTP_RETRY_AFTER_MAX)) {
                return AT_HTTP_RETRY_AFTER_MAX;
            }
        }
        return *http_skip_space(s) == '\0' ? apr_time_from_sec(secs) : 0;
    }
    when = apr_date_parse_http(s);
    if (when == APR_DATE_BAD) {
        return 0;
    }
    now = apr_time_now();
    if (when <= now) {
        return 0;
    }
    wait = when - now;
    return wait > AT_HTTP_RETRY_AFTER_MAX ? AT_HTTP_RETRY_AFTER_MAX : wait;
}
