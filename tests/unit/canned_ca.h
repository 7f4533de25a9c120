/* SPDX-License-Identifier: Apache-2.0 */
/*
 * canned_ca.h: a tiny scripted HTTP/1.1 server on 127.0.0.1 for testing the ACME client.
 *
 * It answers every request, whatever its path, with the next response of a script the test
 * wrote beforehand, and records what it received (method, path, headers, body), so that a test
 * can play a CA that misbehaves in exactly one way and then check what the client sent.
 * "$BASE" in scripted headers and bodies is replaced by the server's "http://127.0.0.1:<port>".
 */
#ifndef CANNED_CA_H
#define CANNED_CA_H

#include <stddef.h>

typedef enum {
    CANNED_NORMAL = 0,      /* the body, with Content-Length */
    CANNED_OVERSIZE,        /* `size` bytes of filler, with Content-Length */
    CANNED_OVERSIZE_STREAM, /* `size` bytes of filler without Content-Length, then close */
    CANNED_STALL            /* announces `size` bytes, sends a few, then never finishes */
} canned_mode_e;

typedef struct {
    char *method;
    char *path;
    char *headers; /* the raw header block, "Name: value\r\n" lines */
    char *body;    /* NUL-terminated */
    size_t body_len;
} canned_request_t;

typedef struct canned_ca_t canned_ca_t;

/* Starts the server thread on an ephemeral loopback port; NULL on failure. */
canned_ca_t *canned_ca_start(void);

/* Stops the thread, closes every connection and frees everything. */
void canned_ca_stop(canned_ca_t *ca);

/* "http://127.0.0.1:<port>" */
const char *canned_ca_base(const canned_ca_t *ca);

/* Appends a response: status, extra header lines (may be NULL) and body (may be NULL). */
void canned_ca_add(canned_ca_t *ca, int status, const char *headers, const char *body);

/* Computes a body when its request arrives, from the requests received so far (the current one
 * last, `count` in all). Returns a malloc'ed NUL-terminated body, which the canned CA sends
 * ("$BASE" replaced) and frees, or NULL for an empty body. It runs on the server thread while the
 * client waits for this very answer; it must not call the canned_ca_* functions. */
typedef char *(*canned_body_fn)(const canned_request_t *requests, int count, void *baton);

/* Appends a response whose body fn computes when the request arrives. */
void canned_ca_add_fn(canned_ca_t *ca, int status, const char *headers, canned_body_fn fn,
                      void *baton);

/* Appends a response in one of the misbehaving modes. */
void canned_ca_add_mode(canned_ca_t *ca, canned_mode_e mode, int status, const char *headers,
                        size_t size);

/* Requests received so far, and one of them (valid until canned_ca_stop). */
int canned_ca_request_count(canned_ca_t *ca);
const canned_request_t *canned_ca_request(canned_ca_t *ca, int index);

/* TCP connections accepted so far (connection reuse shows as fewer than requests). */
int canned_ca_connection_count(canned_ca_t *ca);

/* Scripted responses not yet sent. */
int canned_ca_pending(canned_ca_t *ca);

/* The value of a request header (case-insensitive name) in a static buffer, or NULL. */
const char *canned_request_header(const canned_request_t *request, const char *name);

#endif
