/* SPDX-License-Identifier: Apache-2.0 */
/*
 * twin.c: zero-touch HTTPS vhosts (docs/ARCHITECTURE.md, "Hooks and their order"). In pre_config,
 * httpd has parsed the whole configuration into ap_conftree (Include, IfModule, IfDefine already
 * expanded in place) and not processed any of it yet; next to each eligible <VirtualHost addr:80>
 * we insert a twin <VirtualHost addr:HTTPSPORT>: a deep copy of its children, the ServerName's port
 * stripped, the AutoTLSTwin marker first, AutoTLSPolicy's TLS settings (tls_policy.h), Protocols
 * with acme-tls/1 added (tls-alpn-01) and `SSLEngine on` last; plus `Listen addr:HTTPSPORT https`
 * where no Listen serves that port yet.
 *
 * The one idea: we only read and edit the parsed tree, leniently (the directive handlers validate
 * later); after that, twins are ordinary vhosts to httpd, mod_ssl and the rest of this module.
 * The tree is parsed afresh for each pre_config, so the rewrite runs once per parse; nodes we
 * wrote carry our sentinel in `data`, so a twin is never twinned.
 */
#include <string.h>

#include <apr_fnmatch.h>
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <util_cfgtree.h>

#include "alpn.h"
#include "at_name.h"
#include "config.h"
#include "log_glue.h"
#include "tls_policy.h"
#include "twin.h"
#include "twin_scan.h"

APLOG_USE_MODULE(autotls);

/* What a twin does with a directive it cannot repeat from its original. */
typedef enum {
    AUTOTLS_TWIN_DROP,       /* always left out of the twin */
    AUTOTLS_TWIN_DROP_PIPED, /* left out when its first argument is a pipe ("|program") */
} autotls_twin_action_e;

/* Directives that cannot be duplicated into a second vhost, and why. */
#define AUTOTLS_TWIN_PIPED_WHY                                                                     \
    "a piped log would start a second logger; the twin logs to the main server's log instead"

static const struct {
    const char *directive;
    autotls_twin_action_e action;
    const char *why;
} autotls_twin_rules[] = {
    {"WSGIDaemonProcess", AUTOTLS_TWIN_DROP,
     "a daemon process group is defined once; the twin (same ServerName) runs in the original's"},
    {"CustomLog", AUTOTLS_TWIN_DROP_PIPED, AUTOTLS_TWIN_PIPED_WHY},
    {"TransferLog", AUTOTLS_TWIN_DROP_PIPED, AUTOTLS_TWIN_PIPED_WHY},
    {"ErrorLog", AUTOTLS_TWIN_DROP_PIPED, AUTOTLS_TWIN_PIPED_WHY},
    {"ForensicLog", AUTOTLS_TWIN_DROP_PIPED, AUTOTLS_TWIN_PIPED_WHY},
};

#define AUTOTLS_TWIN_NOTES_KEY "autotls-twin-notes" /* pconf userdata: the decisions to log */
#define AUTOTLS_TWIN_INITIAL_VHOSTS 16
#define AUTOTLS_TWIN_FAILED HTTP_INTERNAL_SERVER_ERROR /* what pre_config returns to refuse */
#define AUTOTLS_TWIN_NEEDS_SSL "AutoTLS needs mod_ssl: a2enmod ssl (or LoadModule ssl_module)"
#define AUTOTLS_TWIN_PLAIN_FIRST                                                                   \
    "<VirtualHost %s> at %s (ServerName %s) is the first vhost on %s:%d and has no SSLEngine "     \
    "on, so httpd would serve every HTTPS twin of AutoTLS there without TLS. Give it SSLEngine "   \
    "on and a certificate, move it below the vhosts AutoTLS manages, or set AutoTLSHTTPSPort "     \
    "to another port"

char autotls_twin_sentinel; /* see AUTOTLS_TWIN_MARK in twin_scan.h */

static void twin_note(autotls_twin_ctx_t *ctx, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    APR_ARRAY_PUSH(ctx->notes, const char *) = apr_pvsprintf(ctx->pconf, fmt, ap);
    va_end(ap);
}

static const char *twin_where(apr_pool_t *p, const ap_directive_t *node)
{
    return apr_psprintf(p, "%s:%d", node->filename, node->line_num);
}

/* The admin's vhost on the HTTPS port answering for name, or NULL. */
static const autotls_twin_vhost_t *twin_https_vhost_for(const autotls_twin_ctx_t *ctx,
                                                        const char *name)
{
    int i, j;

    for (i = 0; i < ctx->vhosts->nelts; i++) {
        const autotls_twin_vhost_t *v = &APR_ARRAY_IDX(ctx->vhosts, i, autotls_twin_vhost_t);

        if (!autotls_twin_listens_on(v, NULL, ctx->https_port)) {
            continue;
        }
        if (v->name != NULL && strcmp(v->name, name) == 0) {
            return v;
        }
        for (j = 0; j < v->aliases->nelts; j++) {
            const char *alias = APR_ARRAY_IDX(v->aliases, j, const char *);

            if (apr_fnmatch(alias, name, APR_FNM_CASE_BLIND) == APR_SUCCESS) {
                return v;
            }
        }
    }
    return NULL;
}

/* Why v gets no twin, or NULL when it gets one. */
static const char *twin_skip_reason(const autotls_twin_ctx_t *ctx, const autotls_twin_vhost_t *v)
{
    apr_pool_t *p = ctx->ptemp;
    const autotls_twin_vhost_t *other;
    const char *why = NULL;

    if (v->bad_addr != NULL || v->addrs->nelts == 0) {
        return apr_psprintf(p, "its address %s cannot be read", v->bad_addr ? v->bad_addr : "");
    }
    if (autotls_twin_listens_on(v, NULL, AUTOTLS_TWIN_ANY_PORT)) {
        return "an address of it has no port (write addr:80 for a twin)";
    }
    if (autotls_twin_listens_on(v, NULL, ctx->https_port)) {
        return apr_psprintf(p, "it listens on the HTTPS port %d itself", ctx->https_port);
    }
    if (v->name == NULL) {
        return "it has no ServerName";
    }
    if (!at_name_eligible_as(v->name, autotls_config_name_allow(v->autotls, ctx->allow_private_ip),
                             &why)) {
        return apr_pstrcat(p, "its ServerName ", why, NULL);
    }
    if ((why = at_name_excluded_by(ctx->exclude, v->name)) != NULL) {
        return apr_pstrcat(p, "excluded by AutoTLSExclude ", why, NULL);
    }
    if (v->ssl_engine == AUTOTLS_ON || v->has_cert) {
        return "it has TLS settings of its own (SSLEngine on or SSLCertificateFile)";
    }
    if ((other = twin_https_vhost_for(ctx, v->name)) != NULL) {
        return apr_pstrcat(p, "it has an HTTPS vhost of its own at ", twin_where(p, other->node),
                           NULL);
    }
    if ((other = apr_hash_get(ctx->twinned, v->name, APR_HASH_KEY_STRING)) != NULL) {
        return apr_pstrcat(p, "the vhost at ", twin_where(p, other->node),
                           " with the same ServerName already has the twin", NULL);
    }
    return NULL;
}

static const char *twin_annotate(autotls_twin_ctx_t *ctx, const char *filename)
{
    if (ctx->annotated_from != filename) {
        ctx->annotated_from = filename;
        ctx->annotated_to = apr_pstrcat(ctx->pconf, filename ? filename : "(unknown)",
                                        AUTOTLS_TWIN_ANNOTATION, NULL);
    }
    return ctx->annotated_to;
}

/* A new node inside parent, at parent's place in the files. */
static ap_directive_t *twin_node(autotls_twin_ctx_t *ctx, ap_directive_t *parent,
                                 const char *directive, const char *args)
{
    ap_directive_t *node = apr_pcalloc(ctx->pconf, sizeof(*node));

    node->directive = directive;
    node->args = args;
    node->parent = parent;
    node->filename = parent->filename;
    node->line_num = parent->line_num;
    return node;
}

/* Why d must be left out of a twin, or NULL when it can be copied. */
static const char *twin_drop_reason(apr_pool_t *p, const ap_directive_t *d)
{
    apr_size_t i;

    for (i = 0; i < sizeof(autotls_twin_rules) / sizeof(autotls_twin_rules[0]); i++) {
        const char *rest = d->args != NULL ? d->args : "";

        if (!autotls_twin_directive_is(d, autotls_twin_rules[i].directive)) {
            continue;
        }
        if (autotls_twin_rules[i].action == AUTOTLS_TWIN_DROP ||
            *ap_getword_conf(p, &rest) == '|') {
            return autotls_twin_rules[i].why;
        }
    }
    return NULL;
}

/* A deep copy of the list from, inside parent, without what a twin cannot repeat. */
static ap_directive_t *twin_copy(autotls_twin_ctx_t *ctx, const autotls_twin_vhost_t *v,
                                 const ap_directive_t *from, ap_directive_t *parent)
{
    ap_directive_t *head = NULL;
    ap_directive_t **tail = &head;

    for (; from != NULL; from = from->next) {
        const char *why = twin_drop_reason(ctx->ptemp, from);
        ap_directive_t *copy;

        if (why != NULL) {
            twin_note(ctx, AUTOTLS_LOGNO(0212) "%s: its HTTPS twin leaves out %s %s (%s): %s",
                      v->name, from->directive, from->args, twin_where(ctx->ptemp, from), why);
            continue;
        }
        copy = apr_pmemdup(ctx->pconf, from, sizeof(*copy));
        copy->filename = twin_annotate(ctx, from->filename);
        copy->parent = parent;
        copy->next = NULL;
        copy->last = NULL;
        copy->first_child = twin_copy(ctx, v, from->first_child, copy);
        if (parent->data == AUTOTLS_TWIN_MARK && autotls_twin_directive_is(from, "ServerName")) {
            copy->args = v->name;
        }
        *tail = copy;
        tail = &copy->next;
    }
    return head;
}

/* The twin's address list: every address of v on the HTTPS port, each once. */
static apr_array_header_t *twin_addrs(autotls_twin_ctx_t *ctx, const autotls_twin_vhost_t *v)
{
    apr_array_header_t *out =
        apr_array_make(ctx->ptemp, v->addrs->nelts, sizeof(autotls_twin_addr_t));
    int i, j;

    for (i = 0; i < v->addrs->nelts; i++) {
        autotls_twin_addr_t addr = APR_ARRAY_IDX(v->addrs, i, autotls_twin_addr_t);

        addr.port = ctx->https_port;
        for (j = 0; j < out->nelts; j++) {
            if (strcmp(APR_ARRAY_IDX(out, j, autotls_twin_addr_t).host, addr.host) == 0) {
                break;
            }
        }
        if (j == out->nelts) {
            APR_ARRAY_PUSH(out, autotls_twin_addr_t) = addr;
        }
    }
    return out;
}

/* The arguments of the twin's Protocols line, which adds acme-tls/1 (tls-alpn-01, alpn.c).
 * Protocols lines add up within a vhost, so one after the vhost's own adds to them; but a vhost
 * with a list of its own no longer inherits the server's, so a twin without one repeats the
 * server-wide list (Debian's http2.conf: h2 h2c http/1.1), or httpd's default http/1.1, first. */
static const char *twin_protocols(const autotls_twin_ctx_t *ctx, const autotls_twin_vhost_t *v)
{
    if (v->has_protocols) {
        return AUTOTLS_ALPN_PROTOCOL;
    }
    return apr_pstrcat(ctx->pconf, ctx->protocols != NULL ? ctx->protocols : AP_PROTOCOL_HTTP1,
                       " " AUTOTLS_ALPN_PROTOCOL, NULL);
}

/* Builds v's twin and links it into the tree right after v. */
static void twin_insert(autotls_twin_ctx_t *ctx, autotls_twin_vhost_t *v)
{
    ap_directive_t *twin = apr_pcalloc(ctx->pconf, sizeof(*twin));
    const char *addrs = autotls_twin_addrs_text(ctx->pconf, twin_addrs(ctx, v));
    const autotls_tls_policy_line_t *line;
    ap_directive_t *marker;
    ap_directive_t **tail;

    twin->directive = v->node->directive;
    twin->args = apr_pstrcat(ctx->pconf, addrs, ">", NULL); /* the container keeps its '>' */
    twin->filename = twin_annotate(ctx, v->node->filename);
    twin->line_num = v->node->line_num;
    twin->parent = v->node->parent;
    twin->data = AUTOTLS_TWIN_MARK;
    twin_note(ctx, AUTOTLS_LOGNO(0210) "%s: managed: HTTPS twin <VirtualHost %s> of %s", v->name,
              addrs, twin_where(ctx->ptemp, v->node));
    marker = twin_node(ctx, twin, AUTOTLS_TWIN_DIRECTIVE,
                       apr_psprintf(ctx->pconf, "\"%s:%d\"", v->node->filename, v->node->line_num));
    marker->data = AUTOTLS_TWIN_MARK;
    marker->next = twin_copy(ctx, v, v->node->first_child, twin);
    twin->first_child = marker;
    tail = &marker->next;
    while (*tail != NULL) {
        tail = &(*tail)->next;
    }
    for (line = autotls_tls_policy_lines(ctx->policy); line->directive != NULL; line++) {
        *tail = twin_node(ctx, twin, line->directive, line->args);
        tail = &(*tail)->next;
    }
    *tail = twin_node(ctx, twin, "Protocols", twin_protocols(ctx, v));
    tail = &(*tail)->next;
    *tail = twin_node(ctx, twin, "SSLEngine", "on"); /* last: it wins over any SSLEngine off */
    twin->next = v->node->next;
    v->node->next = twin;
    v->twin = twin;
    apr_hash_set(ctx->twinned, v->name, APR_HASH_KEY_STRING, v);
}

static void twin_decide(autotls_twin_ctx_t *ctx)
{
    int i;

    for (i = 0; i < ctx->vhosts->nelts; i++) {
        autotls_twin_vhost_t *v = &APR_ARRAY_IDX(ctx->vhosts, i, autotls_twin_vhost_t);
        int on = v->autotls != AUTOTLS_UNSET ? v->autotls : ctx->global_autotls;
        const char *label = v->name ? v->name : twin_where(ctx->ptemp, v->node);
        const char *why;

        if (on != AUTOTLS_ON) {
            if (v->autotls == AUTOTLS_OFF) {
                twin_note(ctx, AUTOTLS_LOGNO(0211) "%s: skipped: AutoTLS off (%s)", label,
                          twin_where(ctx->ptemp, v->node));
            }
            continue;
        }
        if ((why = twin_skip_reason(ctx, v)) != NULL) {
            twin_note(ctx, AUTOTLS_LOGNO(0211) "%s: skipped: %s (%s)", label, why,
                      twin_where(ctx->ptemp, v->node));
            continue;
        }
        twin_insert(ctx, v);
    }
}

/* Whether a Listen already serves a vhost at addr: any listener on the port serves "*". */
static int twin_listen_covers(const autotls_twin_ctx_t *ctx, const autotls_twin_addr_t *addr)
{
    int i;

    for (i = 0; i < ctx->listens->nelts; i++) {
        const autotls_twin_addr_t *l = &APR_ARRAY_IDX(ctx->listens, i, autotls_twin_addr_t);

        if (l->port == addr->port && (strcmp(addr->host, "*") == 0 || strcmp(l->host, "*") == 0 ||
                                      strcmp(l->host, addr->host) == 0)) {
            return 1;
        }
    }
    return 0;
}

/* Adds `Listen addr https` right after twin, unless something listens there already. */
static void twin_add_listen(autotls_twin_ctx_t *ctx, ap_directive_t *twin,
                            const autotls_twin_addr_t *addr)
{
    ap_directive_t *listen;

    if (twin_listen_covers(ctx, addr)) {
        return;
    }
    listen = twin_node(ctx, twin, "Listen",
                       strcmp(addr->host, "*") == 0
                           ? apr_psprintf(ctx->pconf, "%d https", addr->port)
                           : apr_psprintf(ctx->pconf, "%s:%d https", addr->host, addr->port));
    listen->parent = twin->parent;
    listen->next = twin->next;
    twin->next = listen;
    APR_ARRAY_PUSH(ctx->listens, autotls_twin_addr_t) = *addr;
    twin_note(ctx, AUTOTLS_LOGNO(0213) "added Listen %s for the HTTPS twins", listen->args);
}

/*
 * The first vhost on an address is its default: mod_ssl decides from it whether connections
 * there use TLS at all. A plain one in front of our twins would serve them all without TLS.
 */
static int twin_check_first(const autotls_twin_ctx_t *ctx, const autotls_twin_addr_t *addr)
{
    int i;

    for (i = 0; i < ctx->vhosts->nelts; i++) {
        const autotls_twin_vhost_t *v = &APR_ARRAY_IDX(ctx->vhosts, i, autotls_twin_vhost_t);
        int engine = v->ssl_engine != AUTOTLS_UNSET ? v->ssl_engine : ctx->global_ssl;

        if (autotls_twin_listens_on(v, addr->host, addr->port)) {
            if (engine == AUTOTLS_ON) {
                return OK;
            }
            ap_log_error(
                APLOG_MARK, APLOG_EMERG, 0, NULL, AUTOTLS_LOGNO(0202) AUTOTLS_TWIN_PLAIN_FIRST,
                autotls_twin_addrs_text(ctx->ptemp, v->addrs), twin_where(ctx->ptemp, v->node),
                v->name ? v->name : "none", addr->host, addr->port);
            return AUTOTLS_TWIN_FAILED;
        }
        if (v->twin != NULL && autotls_twin_listens_on(v, addr->host, AUTOTLS_TWIN_BAD_PORT)) {
            return OK; /* v's twin comes right after v, on addr, with TLS */
        }
    }
    return OK;
}

/*
 * For every twin address: refuse a plain vhost in front, add a Listen where none serves it.
 * Wildcard addresses first: a `Listen port` added after a `Listen host:port` could not bind.
 */
static int twin_finish(autotls_twin_ctx_t *ctx)
{
    int wildcard, i, j;

    for (wildcard = 1; wildcard >= 0; wildcard--) {
        for (i = 0; i < ctx->vhosts->nelts; i++) {
            autotls_twin_vhost_t *v = &APR_ARRAY_IDX(ctx->vhosts, i, autotls_twin_vhost_t);
            apr_array_header_t *addrs = v->twin != NULL ? twin_addrs(ctx, v) : NULL;

            for (j = 0; addrs != NULL && j < addrs->nelts; j++) {
                autotls_twin_addr_t *a = &APR_ARRAY_IDX(addrs, j, autotls_twin_addr_t);

                if ((strcmp(a->host, "*") == 0) != wildcard) {
                    continue;
                }
                if (twin_check_first(ctx, a) != OK) {
                    return AUTOTLS_TWIN_FAILED;
                }
                twin_add_listen(ctx, v->twin, a);
            }
        }
    }
    return OK;
}

static int twin_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    autotls_twin_ctx_t *ctx = apr_pcalloc(ptemp, sizeof(*ctx));

    ctx->pconf = pconf;
    ctx->ptemp = ptemp;
    ctx->global_autotls = AUTOTLS_UNSET;
    ctx->global_ssl = AUTOTLS_UNSET;
    ctx->allow_private_ip = AUTOTLS_UNSET;
    ctx->policy = AUTOTLS_POLICY_DEFAULT;
    ctx->https_port = AUTOTLS_HTTPS_PORT_DEFAULT;
    ctx->exclude = apr_array_make(ptemp, 1, sizeof(const char *));
    ctx->listens = apr_array_make(ptemp, 1, sizeof(autotls_twin_addr_t));
    ctx->vhosts = apr_array_make(ptemp, AUTOTLS_TWIN_INITIAL_VHOSTS, sizeof(autotls_twin_vhost_t));
    ctx->twinned = apr_hash_make(ptemp);
    ctx->notes = apr_array_make(pconf, 1, sizeof(const char *));
    apr_pool_userdata_setn(ctx->notes, AUTOTLS_TWIN_NOTES_KEY, NULL, pconf);

    autotls_twin_scan(ctx);
    if (!ctx->any_on) {
        return OK;
    }
    if (ap_find_linked_module("mod_ssl.c") == NULL) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, NULL, AUTOTLS_LOGNO(0201) AUTOTLS_TWIN_NEEDS_SSL);
        return AUTOTLS_TWIN_FAILED;
    }
    twin_decide(ctx);
    return twin_finish(ctx);
}

/* Logs the decisions of this generation's rewrite, now that LogLevel applies. */
static void twin_report(apr_pool_t *pconf, server_rec *s)
{
    apr_array_header_t *notes = NULL;
    int i;

    apr_pool_userdata_get((void **)&notes, AUTOTLS_TWIN_NOTES_KEY, pconf);
    for (i = 0; notes != NULL && i < notes->nelts; i++) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "%s", APR_ARRAY_IDX(notes, i, const char *));
    }
}

/* apachectl -t / -S end after check_config: report there. */
static int twin_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    if (ap_state_query(AP_SQ_RUN_MODE) != AP_SQ_RM_NORMAL) {
        twin_report(pconf, s);
    }
    return OK;
}

/* A real start: report once, into the error log (open by now), not in the first dry pass. */
static int twin_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        twin_report(pconf, s);
    }
    return OK;
}

const char *autotls_twin_cmd_marker(cmd_parms *cmd, void *dconf, const char *origin)
{
    autotls_server_conf_t *conf;

    if (cmd->directive == NULL || cmd->directive->data != AUTOTLS_TWIN_MARK ||
        !cmd->server->is_virtual) {
        return apr_pstrcat(cmd->pool, cmd->cmd->name,
                           " is written by mod_autotls into the HTTPS vhosts it generates and "
                           "cannot be used in a configuration file: remove it",
                           NULL);
    }
    conf = ap_get_module_config(cmd->server->module_config, &autotls_module);
    conf->twin_origin = apr_pstrdup(cmd->pool, origin);
    return NULL;
}

const char *autotls_twin_origin(const server_rec *s)
{
    const autotls_server_conf_t *conf = ap_get_module_config(s->module_config, &autotls_module);

    return conf != NULL ? conf->twin_origin : NULL;
}

int autotls_twin_is(const server_rec *s)
{
    return autotls_twin_origin(s) != NULL;
}

void autotls_twin_register_hooks(apr_pool_t *p)
{
    ap_hook_pre_config(twin_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(twin_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(twin_post_config, NULL, NULL, APR_HOOK_MIDDLE);
}
