/* SPDX-License-Identifier: Apache-2.0 */
/*
 * twin_scan.h: what twin.c reads from the parsed configuration tree before it rewrites it.
 *
 * The one idea: the scan is lenient. It reads raw directive arguments and skips what it cannot
 * read, since the directive handlers validate everything later, at the line the admin wrote.
 * Internal to the twin code (twin.c, twin_scan.c); the rest of the module uses twin.h.
 */
#ifndef AUTOTLS_TWIN_SCAN_H
#define AUTOTLS_TWIN_SCAN_H

#include <apr_hash.h>
#include <apr_tables.h>

#include <httpd.h>
#include <util_cfgtree.h>

#define AUTOTLS_TWIN_ANY_PORT 0 /* an address without a port, or port "*" */
#define AUTOTLS_TWIN_BAD_PORT (-1)

/* Its address marks the tree nodes twin.c wrote (defined there): config text cannot produce it. */
extern char autotls_twin_sentinel;
#define AUTOTLS_TWIN_MARK ((void *)&autotls_twin_sentinel)

typedef struct {
    const char *host; /* lower case; "*" for any address (also _default_, 0.0.0.0, [::]) */
    int port;         /* AUTOTLS_TWIN_ANY_PORT when none or "*" */
} autotls_twin_addr_t;

/* What the tree says about one <VirtualHost> the admin wrote. */
typedef struct {
    ap_directive_t *node;
    const char *name;            /* ServerName: lower case, no scheme, no port; NULL when none */
    apr_array_header_t *aliases; /* const char *: ServerAlias words, lower case */
    apr_array_header_t *addrs;   /* autotls_twin_addr_t */
    const char *bad_addr;        /* the first address that could not be read, else NULL */
    int autotls;                 /* its own AutoTLS: AUTOTLS_UNSET, AUTOTLS_OFF or AUTOTLS_ON */
    int ssl_engine;              /* its own SSLEngine: AUTOTLS_UNSET, AUTOTLS_OFF or AUTOTLS_ON */
    int has_cert;                /* it has its own SSLCertificateFile */
    int has_protocols;           /* it has its own Protocols (then the server's do not apply) */
    ap_directive_t *twin;        /* the twin inserted after it, or NULL */
} autotls_twin_vhost_t;

/* One rewrite of the tree. Facts live in ptemp; nodes and notes in pconf, beside the tree. */
typedef struct {
    apr_pool_t *pconf;
    apr_pool_t *ptemp;
    int global_autotls;          /* the last top-level AutoTLS */
    int any_on;                  /* AutoTLS on appears anywhere */
    int https_port;              /* AutoTLSHTTPSPort, else the default */
    int global_ssl;              /* the last top-level SSLEngine */
    int policy;                  /* AutoTLSPolicy: an autotls_tls_policy_e (tls_policy.h) */
    int allow_private_ip;        /* AutoTLSAllowPrivateIP: AUTOTLS_UNSET, _OFF or _ON */
    const char *protocols;       /* the top-level Protocols' words joined by ' ', or NULL */
    apr_array_header_t *exclude; /* const char *: AutoTLSExclude patterns */
    apr_array_header_t *listens; /* autotls_twin_addr_t: what Listen serves, ours included */
    apr_array_header_t *vhosts;  /* autotls_twin_vhost_t, in tree order */
    apr_hash_t *twinned;         /* name -> autotls_twin_vhost_t *: names that have a twin */
    apr_array_header_t *notes;   /* const char *: decisions, logged once LogLevel is known */
    const char *annotated_from;  /* the last file name annotated, and its annotation */
    const char *annotated_to;
} autotls_twin_ctx_t;

int autotls_twin_directive_is(const ap_directive_t *d, const char *name);

/* Fills ctx's settings, listeners and vhosts from the top level of ap_conftree. */
void autotls_twin_scan(autotls_twin_ctx_t *ctx);

/*
 * Whether v has an address on host (NULL: any host) and port (AUTOTLS_TWIN_BAD_PORT: any port;
 * AUTOTLS_TWIN_ANY_PORT: an address written without a port or with "*"). Ports match exactly:
 * httpd prefers a vhost on the exact port over one on every port.
 */
int autotls_twin_listens_on(const autotls_twin_vhost_t *v, const char *host, int port);

/* "host:port host:port" for messages and <VirtualHost> arguments. */
const char *autotls_twin_addrs_text(apr_pool_t *p, const apr_array_header_t *addrs);

#endif
