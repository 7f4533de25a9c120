/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_certmeta.h: what a live set records about itself in live/<site>/meta.json: the CA that
 * issued it, and what to trust for HTTPS to that CA.
 *
 * The one idea: meta.json is written only by root (the activator, with the CA URL of its own
 * configuration after the chain verified to the configured issuer roots; or the root CLI after
 * its own issuance), never copied from staging/, and read strictly: a file that is not exactly
 * what this file writes is refused, so a revocation never goes to a CA nobody configured.
 *
 *   {"ca": "https://acme.example/directory", "ca_cert": "/etc/ssl/ca.pem",
 *    "names": ["example.org", "www.example.org"], "order": "https://...", "issued_by": "module"}
 * ca is an http(s) URL; ca_cert, order and issued_by may be absent.
 */
#ifndef AT_CERTMETA_H
#define AT_CERTMETA_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "at_store.h"

/* Bounds of what a meta.json may hold. */
#define AT_CERTMETA_MAX_LEN (64 * 1024)
#define AT_CERTMETA_URL_MAX 2048
#define AT_CERTMETA_NAMES_MAX 256

/* Who wrote it: the module's activator or the CLI's issue. */
#define AT_CERTMETA_BY_MODULE "module"
#define AT_CERTMETA_BY_CLI "cli"

typedef struct {
    const char *ca;            /* ACME directory URL */
    const char *ca_cert;       /* roots for HTTPS to the CA, or NULL: the system store */
    apr_array_header_t *names; /* const char *; may be empty */
    const char *order;         /* the order URL, or NULL */
    const char *issued_by;     /* AT_CERTMETA_BY_*, or NULL */
} at_certmeta_t;

/* The JSON text of meta (always an object; NULL fields left out). */
apr_status_t at_certmeta_format(char **text, apr_pool_t *p, const at_certmeta_t *meta);

/* Parses text strictly: an object with a string "ca" (http:// or https://, no control
 * characters, at most AT_CERTMETA_URL_MAX), optional string "ca_cert" (an absolute path),
 * "order" (a URL), "issued_by", and "names" (an array of strings); unknown keys are ignored.
 * AT_EPROTO for anything else. */
apr_status_t at_certmeta_parse(at_certmeta_t **meta, apr_pool_t *p, const char *text,
                               apr_size_t len);

/* Writes live/<site>/meta.json (public: it holds no secret). */
apr_status_t at_certmeta_save(at_store_t *store, const char *site, const at_certmeta_t *meta,
                              apr_pool_t *p);

/* Reads live/<site>/meta.json; APR_ENOENT when there is none, AT_EPROTO when it does not parse. */
apr_status_t at_certmeta_load(at_certmeta_t **meta, at_store_t *store, const char *site,
                              apr_pool_t *p);

#endif
