/* SPDX-License-Identifier: Apache-2.0 */
/*
 * twin_scan.c: reads the parsed configuration tree for twin.c: the server-wide AutoTLS settings,
 * the listeners, and per <VirtualHost> its addresses, names and TLS and AutoTLS settings.
 *
 * The one idea: read raw arguments leniently and skip what cannot be read; the directive
 * handlers validate later. Only the top level is walked: httpd has already expanded Include,
 * <IfModule>, <IfDefine> (and mod_macro) in place there, and <VirtualHost> may stand nowhere else.
 */
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>

#include "config.h"
#include "tls_policy.h"
#include "twin_scan.h"

#define AUTOTLS_TWIN_DECIMAL_BASE 10

int autotls_twin_directive_is(const ap_directive_t *d, const char *name)
{
    return d->directive != NULL && strcasecmp(d->directive, name) == 0;
}

/* AUTOTLS_ON, AUTOTLS_OFF, or fallback when the first word is neither (the handler says so). */
static int twin_flag(apr_pool_t *p, const char *args, int fallback)
{
    const char *word = ap_getword_conf(p, &args);

    if (strcasecmp(word, "on") == 0) {
        return AUTOTLS_ON;
    }
    return strcasecmp(word, "off") == 0 ? AUTOTLS_OFF : fallback;
}

/* A port number 1..65535, AUTOTLS_TWIN_ANY_PORT for "*" or "", AUTOTLS_TWIN_BAD_PORT else. */
static int twin_port(const char *text)
{
    int port = 0;
    const char *c;

    if (*text == '\0' || strcmp(text, "*") == 0) {
        return AUTOTLS_TWIN_ANY_PORT;
    }
    for (c = text; *c != '\0'; c++) {
        if (!apr_isdigit(*c) ||
            port > (AUTOTLS_PORT_MAX - (*c - '0')) / AUTOTLS_TWIN_DECIMAL_BASE) {
            return AUTOTLS_TWIN_BAD_PORT;
        }
        port = port * AUTOTLS_TWIN_DECIMAL_BASE + (*c - '0');
    }
    return port > 0 ? port : AUTOTLS_TWIN_BAD_PORT;
}

/* Reads "host", "host:port", "[v6]" or "[v6]:port"; 0 when it cannot. */
static int twin_parse_addr(apr_pool_t *p, const char *token, autotls_twin_addr_t *addr)
{
    const char *colon = NULL;
    char *host;

    if (*token == '[') {
        const char *close = strchr(token, ']');

        if (close == NULL || (close[1] != '\0' && close[1] != ':')) {
            return 0;
        }
        colon = close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = strrchr(token, ':');
    }
    host = colon != NULL ? apr_pstrmemdup(p, token, colon - token) : apr_pstrdup(p, token);
    addr->port = colon != NULL ? twin_port(colon + 1) : AUTOTLS_TWIN_ANY_PORT;
    if (*host == '\0' || addr->port == AUTOTLS_TWIN_BAD_PORT) {
        return 0;
    }
    ap_str_tolower(host);
    addr->host = host;
    if (strcmp(host, "_default_") == 0 || strcmp(host, "0.0.0.0") == 0 ||
        strcmp(host, "[::]") == 0) {
        addr->host = "*";
    }
    return 1;
}

/* The host of a ServerName argument: lower case, without scheme:// and :port. */
static const char *twin_server_name(apr_pool_t *p, const char *args)
{
    char *word = ap_getword_conf(p, &args);
    char *host = strstr(word, "://");
    char *end;

    host = host != NULL ? host + strlen("://") : word;
    end = *host == '[' ? strchr(host, ']') : strchr(host, ':');
    if (end != NULL) {
        end[*host == '[' ? 1 : 0] = '\0';
    }
    ap_str_tolower(host);
    return *host != '\0' ? host : NULL;
}

static void twin_scan_addrs(autotls_twin_ctx_t *ctx, autotls_twin_vhost_t *v)
{
    char *args = apr_pstrdup(ctx->ptemp, v->node->args != NULL ? v->node->args : "");
    char *close = strrchr(args, '>');
    const char *rest = args;

    if (close != NULL) {
        *close = '\0';
    }
    while (*rest != '\0') {
        char *word = ap_getword_conf(ctx->ptemp, &rest);
        autotls_twin_addr_t addr;

        if (*word == '\0') {
            break;
        }
        if (twin_parse_addr(ctx->ptemp, word, &addr)) {
            APR_ARRAY_PUSH(v->addrs, autotls_twin_addr_t) = addr;
        } else if (v->bad_addr == NULL) {
            v->bad_addr = word;
        }
    }
}

static void twin_scan_vhost(autotls_twin_ctx_t *ctx, ap_directive_t *node)
{
    autotls_twin_vhost_t *v = apr_array_push(ctx->vhosts);
    const ap_directive_t *d;

    memset(v, 0, sizeof(*v));
    v->node = node;
    v->autotls = AUTOTLS_UNSET;
    v->ssl_engine = AUTOTLS_UNSET;
    v->aliases = apr_array_make(ctx->ptemp, 1, sizeof(const char *));
    v->addrs = apr_array_make(ctx->ptemp, 1, sizeof(autotls_twin_addr_t));
    twin_scan_addrs(ctx, v);
    for (d = node->first_child; d != NULL; d = d->next) {
        if (autotls_twin_directive_is(d, "ServerName")) {
            v->name = twin_server_name(ctx->ptemp, d->args);
        } else if (autotls_twin_directive_is(d, "ServerAlias")) {
            const char *rest = d->args;
            char *word;

            while (*(word = ap_getword_conf(ctx->ptemp, &rest)) != '\0') {
                ap_str_tolower(word);
                APR_ARRAY_PUSH(v->aliases, const char *) = word;
            }
        } else if (autotls_twin_directive_is(d, "AutoTLS")) {
            v->autotls = twin_flag(ctx->ptemp, d->args, v->autotls);
        } else if (autotls_twin_directive_is(d, "SSLEngine")) {
            /* "optional" and anything else but off: the admin runs TLS here */
            v->ssl_engine = twin_flag(ctx->ptemp, d->args, AUTOTLS_ON);
        } else if (autotls_twin_directive_is(d, "SSLCertificateFile")) {
            v->has_cert = 1;
        } else if (autotls_twin_directive_is(d, "Protocols")) {
            v->has_protocols = 1;
        }
    }
    ctx->any_on = ctx->any_on || v->autotls == AUTOTLS_ON;
}

static void twin_scan_listen(autotls_twin_ctx_t *ctx, const ap_directive_t *d)
{
    const char *rest = d->args;
    char *word = ap_getword_conf(ctx->ptemp, &rest);
    autotls_twin_addr_t addr;

    if (apr_isdigit(*word) && strchr(word, ':') == NULL) {
        addr.host = "*";
        addr.port = twin_port(word);
    } else if (!twin_parse_addr(ctx->ptemp, word, &addr)) {
        return;
    }
    if (addr.port > 0) {
        APR_ARRAY_PUSH(ctx->listens, autotls_twin_addr_t) = addr;
    }
}

/* One pass over the top level: every vhost, listener and server-wide AutoTLS setting. */
void autotls_twin_scan(autotls_twin_ctx_t *ctx)
{
    ap_directive_t *d;

    for (d = ap_conftree; d != NULL; d = d->next) {
        if (d->data == AUTOTLS_TWIN_MARK) {
            continue;
        }
        if (autotls_twin_directive_is(d, "<VirtualHost")) {
            twin_scan_vhost(ctx, d);
        } else if (autotls_twin_directive_is(d, "AutoTLS")) {
            ctx->global_autotls = twin_flag(ctx->ptemp, d->args, ctx->global_autotls);
        } else if (autotls_twin_directive_is(d, "AutoTLSHTTPSPort")) {
            const char *rest = d->args;
            int port = twin_port(ap_getword_conf(ctx->ptemp, &rest));

            ctx->https_port = port > 0 ? port : ctx->https_port;
        } else if (autotls_twin_directive_is(d, "AutoTLSPolicy")) {
            const char *rest = d->args;
            autotls_tls_policy_e policy; /* its directive handler refuses a bad name */

            if (autotls_tls_policy_parse(&policy, ap_getword_conf(ctx->ptemp, &rest)) ==
                APR_SUCCESS) {
                ctx->policy = policy;
            }
        } else if (autotls_twin_directive_is(d, "AutoTLSAllowPrivateIP")) {
            ctx->allow_private_ip = twin_flag(ctx->ptemp, d->args, ctx->allow_private_ip);
        } else if (autotls_twin_directive_is(d, "AutoTLSExclude")) {
            const char *bad, *why; /* its directive handler refuses the configuration for them */

            autotls_config_read_exclude(ctx->ptemp, d->args, ctx->exclude, &bad, &why);
        } else if (autotls_twin_directive_is(d, "Listen")) {
            twin_scan_listen(ctx, d);
        } else if (autotls_twin_directive_is(d, "SSLEngine")) {
            ctx->global_ssl = twin_flag(ctx->ptemp, d->args, AUTOTLS_ON);
        } else if (autotls_twin_directive_is(d, "Protocols") && d->args != NULL) {
            /* each Protocols line adds to the list (httpd's core) */
            ctx->protocols = ctx->protocols == NULL
                                 ? d->args
                                 : apr_pstrcat(ctx->ptemp, ctx->protocols, " ", d->args, NULL);
        }
    }
    ctx->any_on = ctx->any_on || ctx->global_autotls == AUTOTLS_ON;
}

int autotls_twin_listens_on(const autotls_twin_vhost_t *v, const char *host, int port)
{
    int i;

    for (i = 0; i < v->addrs->nelts; i++) {
        const autotls_twin_addr_t *a = &APR_ARRAY_IDX(v->addrs, i, autotls_twin_addr_t);

        if ((host == NULL || strcmp(a->host, host) == 0) &&
            (port == AUTOTLS_TWIN_BAD_PORT || a->port == port)) {
            return 1;
        }
    }
    return 0;
}

const char *autotls_twin_addrs_text(apr_pool_t *p, const apr_array_header_t *addrs)
{
    const char *text = "";
    int i;

    for (i = 0; i < addrs->nelts; i++) {
        const autotls_twin_addr_t *a = &APR_ARRAY_IDX(addrs, i, autotls_twin_addr_t);

        text = a->port == AUTOTLS_TWIN_ANY_PORT
                   ? apr_psprintf(p, "%s%s%s:*", text, i > 0 ? " " : "", a->host)
                   : apr_psprintf(p, "%s%s%s:%d", text, i > 0 ? " " : "", a->host, a->port);
    }
    return text;
}
