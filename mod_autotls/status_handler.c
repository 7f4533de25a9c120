/* SPDX-License-Identifier: Apache-2.0 */
/*
 * status_handler.c: what an operator reads over HTTP: `SetHandler autotls-status` (JSON, or an
 * HTML page for a person), `SetHandler autotls-metrics` (Prometheus text) and a section in
 * mod_status's server-status page (also in `?auto`).
 *
 * The one idea: the children (User) know nothing of the schedule and must not: they read the
 * snapshot the renewal process publishes (status/snapshot.json, at_status.h), parse it once per
 * change (a per-child cache keyed by the item's version, size and modification time, from
 * at_store_stat) and render the JSON and the metrics once per version (again when a site's
 * certificate becomes valid or expires). Nothing here contacts the CA or reads job state, so a
 * scrape costs a stat while nothing changes.
 * Who may see the pages is the admin's to say with `Require`, as for server-status.
 */
#include <string.h>

#include <apr_file_info.h>
#include <apr_lib.h>
#include <apr_optional.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <mod_status.h>

#include "at_core.h"
#include "at_name.h"
#include "at_status.h"
#include "autotls.h"
#include "log_glue.h"
#include "status_handler.h"

APLOG_USE_MODULE(autotls);

#define STATUS_HANDLER "autotls-status"
#define METRICS_HANDLER "autotls-metrics"
#define STATUS_TYPE_JSON "application/json"
#define STATUS_TYPE_HTML "text/html; charset=utf-8"
#define STATUS_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define STATUS_HTML_ARG "html"

/* ---- the per-child cache of the parsed snapshot --------------------------------------------- */

/* The texts rendered once per snapshot (and per change of a site's validity in time). */
typedef enum { STATUS_TEXT_JSON, STATUS_TEXT_METRICS, STATUS_TEXT_COUNT } status_text_e;

/* One parsed version of the snapshot, in a pool of its own; freed once replaced and unused. */
typedef struct {
    apr_pool_t *pool;    /* after status_load: allocated from only under status_lock */
    at_status_t *status; /* NULL: the file did not load or parse (error says why) */
    const char *error;
    apr_uint64_t version;
    apr_off_t size;
    apr_time_t mtime;
    int refs;
    const char *texts[STATUS_TEXT_COUNT]; /* rendered, or NULL (under status_lock) */
    apr_time_t texts_from, texts_until;   /* the times the texts hold for (under status_lock) */
} status_cache_t;

static apr_thread_mutex_t *status_lock; /* made in child_init: the event MPM's threads share it */
static status_cache_t *status_current;

/* refs counts the requests holding an entry; status_current marks the cache's own, and one no
 * longer current goes with its last holder. */
static void status_release(status_cache_t *c)
{
    int unused;

    apr_thread_mutex_lock(status_lock);
    unused = --c->refs == 0 && c != status_current;
    apr_thread_mutex_unlock(status_lock);
    if (unused) {
        apr_pool_destroy(c->pool);
    }
}

static apr_status_t status_release_cleanup(void *c)
{
    status_release(c);
    return APR_SUCCESS;
}

/* Loads and parses the snapshot into a new cache entry for the item seen as st. */
static status_cache_t *status_load(autotls_ctx_t *ctx, const at_store_stat_t *st, request_rec *r)
{
    status_cache_t *c;
    apr_pool_t *pool;
    apr_size_t len;
    char *text;
    apr_status_t rv;

    if (apr_pool_create(&pool, NULL) != APR_SUCCESS) {
        return NULL;
    }
    c = apr_pcalloc(pool, sizeof(*c));
    c->pool = pool;
    c->version = st->version;
    c->size = st->size;
    c->mtime = st->mtime;
    rv = at_store_load(ctx->store, AT_STORE_STATUS, NULL, AT_STATUS_ITEM, &text, &len,
                       AT_STORE_PUBLIC, pool);
    if (rv == APR_SUCCESS) {
        rv = at_status_parse(&c->status, text, len, pool);
    }
    if (rv != APR_SUCCESS) {
        c->error =
            apr_psprintf(pool, "the status snapshot cannot be read (%s)", at_strerror(pool, rv));
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      AUTOTLS_LOGNO(0710) "%s/status/%s: %s; the status pages answer 503 until "
                                          "the renewal process writes it again",
                      ctx->store_dir, AT_STATUS_ITEM, c->error);
    }
    return c;
}

/* The snapshot as it is now, parsed once per change; *error says why when NULL is returned.
 * The caller holds the entry (*entry) until r's pool is cleared. */
static const at_status_t *status_get(request_rec *r, const char **error, status_cache_t **entry)
{
    autotls_ctx_t *ctx = autotls_ctx_get();
    status_cache_t *c = NULL, *fresh;
    at_store_stat_t st;
    apr_status_t rv;

    *entry = NULL;
    *error = status_lock == NULL ? "the status cache of this child has no lock"
                                 : "mod_autotls manages no site in this server";
    if (status_lock == NULL || ctx == NULL || ctx->store == NULL) {
        return NULL;
    }
    rv = at_store_stat(ctx->store, AT_STORE_STATUS, NULL, AT_STATUS_ITEM, &st, r->pool);
    if (rv != APR_SUCCESS) {
        *error = apr_psprintf(r->pool, "the status snapshot cannot be read (%s)",
                              at_strerror(r->pool, rv));
        return NULL;
    }
    if (!st.exists) {
        *error = "no status snapshot yet: the renewal process writes it within seconds of start";
        return NULL;
    }
    apr_thread_mutex_lock(status_lock);
    if (status_current != NULL && status_current->version == st.version &&
        status_current->size == st.size && status_current->mtime == st.mtime) {
        c = status_current;
        ++c->refs;
    }
    apr_thread_mutex_unlock(status_lock);
    if (c == NULL && (fresh = status_load(ctx, &st, r)) != NULL) {
        /* parsed outside the lock; the newest parse wins, the one it replaces goes once unused */
        apr_thread_mutex_lock(status_lock);
        if (status_current != NULL && status_current->refs == 0) {
            apr_pool_destroy(status_current->pool);
        }
        status_current = c = fresh;
        c->refs = 1;
        apr_thread_mutex_unlock(status_lock);
    }
    if (c == NULL) {
        *error = "out of memory";
        return NULL;
    }
    apr_pool_cleanup_register(r->pool, c, status_release_cleanup, apr_pool_cleanup_null);
    *error = c->error;
    *entry = c;
    return c->status;
}

/* The first moment after now when a site's certificate becomes valid or expires: what the pages
 * say of a site changes then even when the snapshot does not. */
static apr_time_t status_until(const at_status_t *status, apr_time_t now)
{
    apr_time_t until = APR_INT64_MAX;
    int i;

    for (i = 0; i < status->sites->nelts; ++i) {
        const at_status_site_t *s = APR_ARRAY_IDX(status->sites, i, at_status_site_t *);

        if (s->not_before > now && s->not_before < until) {
            until = s->not_before;
        }
        if (s->not_after > now && s->not_after < until) {
            until = s->not_after;
        }
    }
    for (i = 0; status->fleet != NULL && i < status->fleet->leases->nelts; ++i) {
        const at_status_lease_t *l = APR_ARRAY_IDX(status->fleet->leases, i, at_status_lease_t *);

        if (l->until > now && l->until < until) {
            until = l->until;
        }
    }
    return until;
}

static const char *status_render(const at_status_t *status, status_text_e kind, apr_time_t now,
                                 apr_pool_t *p)
{
    json_t *json;
    char *text;
    const char *out;

    if (kind == STATUS_TEXT_METRICS) {
        return at_status_metrics(status, now, p);
    }
    json = at_status_to_json(status, now, p);
    text = json != NULL ? json_dumps(json, JSON_INDENT(1)) : NULL;
    json_decref(json);
    out = text != NULL ? apr_pstrcat(p, text, "\n", NULL) : NULL;
    free(text);
    return out;
}

/* The entry's text of kind for now: rendered once per snapshot while no site's validity changes
 * (a scrape of 10,000 sites then costs a stat() and a copy), else rendered again. */
static const char *status_text(status_cache_t *c, status_text_e kind, apr_time_t now, apr_pool_t *p)
{
    const char *text = NULL;

    apr_thread_mutex_lock(status_lock);
    if (now >= c->texts_from && now < c->texts_until) {
        text = c->texts[kind];
    }
    apr_thread_mutex_unlock(status_lock);
    if (text != NULL || (text = status_render(c->status, kind, now, p)) == NULL) {
        return text;
    }
    apr_thread_mutex_lock(status_lock);
    if (now < c->texts_from || now >= c->texts_until) {
        memset(c->texts, 0, sizeof(c->texts));
        c->texts_from = now;
        c->texts_until = status_until(c->status, now);
    }
    if (c->texts[kind] == NULL) {
        c->texts[kind] = apr_pstrdup(c->pool, text);
    }
    apr_thread_mutex_unlock(status_lock);
    return text;
}

/* ---- rendering ------------------------------------------------------------------------------ */

static const char *status_time(apr_pool_t *p, apr_time_t t)
{
    return t != 0 ? at_status_time_text(p, t) : "-";
}

static const char *status_h(apr_pool_t *p, const char *text)
{
    return ap_escape_html2(p, text != NULL ? text : "", 1);
}

/* Sites that need an operator first: expired, failing, pending, orphaned, renewing, valid. */
static const int status_rank[AT_STATUS_STATE_COUNT] = {
    [AT_STATUS_EXPIRED] = 0,  [AT_STATUS_FAILING] = 1,  [AT_STATUS_PENDING] = 2,
    [AT_STATUS_ORPHANED] = 3, [AT_STATUS_RENEWING] = 4, [AT_STATUS_VALID] = 5,
};

typedef struct {
    int rank;
    at_status_state_e state; /* at the time of the page */
    const at_status_site_t *site;
} status_row_t;

static int status_compare(const void *a, const void *b)
{
    const status_row_t *x = a, *y = b;

    return x->rank != y->rank ? x->rank - y->rank : strcmp(x->site->site, y->site->site);
}

static void status_count(const at_status_t *status, apr_time_t now,
                         int counts[AT_STATUS_STATE_COUNT])
{
    int i;

    memset(counts, 0, sizeof(int) * AT_STATUS_STATE_COUNT);
    for (i = 0; i < status->sites->nelts; ++i) {
        ++counts[at_status_state_at(APR_ARRAY_IDX(status->sites, i, at_status_site_t *), now)];
    }
}

static const char *status_error_text(apr_pool_t *p, const at_status_error_t *e)
{
    if (e->at == 0) {
        return "";
    }
    return apr_psprintf(p, "%s%s%s (%s)", e->type, e->type[0] != '\0' ? ": " : "", e->detail,
                        at_status_time_text(p, e->at));
}

static void status_html_site(request_rec *r, const at_status_site_t *s, at_status_state_e state)
{
    apr_pool_t *p = r->pool;
    const char *state_name = at_status_state_name(state);

    ap_rprintf(r,
               "<tr class=\"%s\"><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
               "<td>%s</td><td>%s (%s)</td><td>%d</td><td>%s</td><td>%s</td></tr>\n",
               state_name, status_h(p, s->site), state_name,
               status_h(p, at_name_list_text(p, s->names, ", ")), status_h(p, s->serial),
               status_h(p, s->issuer), status_time(p, s->not_after),
               status_time(p, s->next_renewal), at_status_next_name(s->next_reason), s->failures,
               status_h(p, status_error_text(p, &s->last_error)),
               status_h(p, at_name_list_text(p, s->missing, ", ")));
}

/* This node's view of its fleet: its id, the live nodes, the leases held now. */
static void status_html_fleet(request_rec *r, const at_status_t *status, apr_time_t now)
{
    apr_array_header_t *leases;
    int i;

    if (status->fleet == NULL) {
        return;
    }
    leases = at_status_leases_at(status->fleet, now, r->pool);
    ap_rprintf(r, "<p class=\"fleet\">Node %s of a fleet; live nodes: %s; %d lease(s) held",
               status_h(r->pool, status->fleet->node),
               status_h(r->pool, at_name_list_text(r->pool, status->fleet->nodes_live, ", ")),
               leases->nelts);
    for (i = 0; i < leases->nelts; ++i) {
        const at_status_lease_t *l = APR_ARRAY_IDX(leases, i, at_status_lease_t *);

        ap_rprintf(r, "%s%s by %s until %s", i == 0 ? ": " : ", ", status_h(r->pool, l->site),
                   status_h(r->pool, l->node), status_time(r->pool, l->until));
    }
    ap_rputs("</p>\n", r);
}

static void status_html(request_rec *r, const at_status_t *status, apr_time_t now)
{
    int n = status->sites->nelts, counts[AT_STATUS_STATE_COUNT], i;
    status_row_t *rows = apr_palloc(r->pool, sizeof(*rows) * (n > 0 ? n : 1));

    memset(counts, 0, sizeof(counts));
    for (i = 0; i < n; ++i) {
        rows[i].site = APR_ARRAY_IDX(status->sites, i, at_status_site_t *);
        rows[i].state = at_status_state_at(rows[i].site, now);
        rows[i].rank = status_rank[rows[i].state];
        ++counts[rows[i].state];
    }
    qsort(rows, n, sizeof(*rows), status_compare);
    ap_rputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>AutoTLS status</title>"
             "</head><body>\n<h1>AutoTLS status</h1>\n",
             r);
    ap_rprintf(r,
               "<p>mod_autotls %s; CA %s; account %s; %d order(s) in flight; snapshot of %s</p>\n",
               status_h(r->pool, status->version), status_h(r->pool, status->ca),
               status_h(r->pool, status->account[0] != '\0' ? status->account : "not yet known"),
               status->orders_in_flight, status_time(r->pool, status->generated));
    status_html_fleet(r, status, now);
    ap_rputs("<table class=\"states\"><tr>", r);
    for (i = 0; i < AT_STATUS_STATE_COUNT; ++i) {
        ap_rprintf(r, "<th>%s</th>", at_status_state_name((at_status_state_e)i));
    }
    ap_rputs("</tr>\n<tr>", r);
    for (i = 0; i < AT_STATUS_STATE_COUNT; ++i) {
        ap_rprintf(r, "<td>%d</td>", counts[i]);
    }
    ap_rputs("</tr></table>\n<table class=\"sites\">\n<tr><th>site</th><th>state</th>"
             "<th>names</th><th>serial</th><th>issuer</th><th>not after</th>"
             "<th>next renewal (why)</th><th>failures</th><th>last error</th>"
             "<th>names left out</th></tr>\n",
             r);
    for (i = 0; i < n; ++i) {
        status_html_site(r, rows[i].site, rows[i].state);
    }
    ap_rputs("</table>\n</body></html>\n", r);
}

static int status_wants_html(request_rec *r)
{
    const char *accept = apr_table_get(r->headers_in, "Accept");

    if (r->args != NULL) {
        return strcmp(r->args, STATUS_HTML_ARG) == 0;
    }
    return accept != NULL && ap_strstr_c(accept, "text/html") != NULL;
}

static int status_unavailable(request_rec *r, const char *error)
{
    apr_table_setn(r->err_headers_out, "Retry-After", "5");
    r->status = HTTP_SERVICE_UNAVAILABLE;
    ap_set_content_type(r, "text/plain; charset=utf-8");
    ap_rprintf(r, "%s\n", error);
    return OK;
}

/* GET and HEAD only, for this handler only. */
static int status_accepts(request_rec *r, const char *handler, int *rc)
{
    if (r->handler == NULL || strcmp(r->handler, handler) != 0) {
        *rc = DECLINED;
        return 0;
    }
    r->allowed = AP_METHOD_BIT << M_GET;
    if (r->method_number != M_GET) {
        *rc = HTTP_METHOD_NOT_ALLOWED;
        return 0;
    }
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    return 1;
}

static int autotls_status_handler(request_rec *r)
{
    const at_status_t *status;
    status_cache_t *entry;
    const char *error, *text;
    apr_time_t now = apr_time_now();
    int rc;

    if (!status_accepts(r, STATUS_HANDLER, &rc)) {
        return rc;
    }
    if ((status = status_get(r, &error, &entry)) == NULL) {
        return status_unavailable(r, error);
    }
    if (status_wants_html(r)) {
        ap_set_content_type(r, STATUS_TYPE_HTML);
        if (!r->header_only) {
            status_html(r, status, now);
        }
        return OK;
    }
    ap_set_content_type(r, STATUS_TYPE_JSON);
    if (r->header_only) {
        return OK; /* nothing of the body is built for a HEAD */
    }
    if ((text = status_text(entry, STATUS_TEXT_JSON, now, r->pool)) == NULL) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_rputs(text, r);
    return OK;
}

static int autotls_metrics_handler(request_rec *r)
{
    status_cache_t *entry;
    const char *error, *text;
    int rc;

    if (!status_accepts(r, METRICS_HANDLER, &rc)) {
        return rc;
    }
    if (status_get(r, &error, &entry) == NULL) {
        return status_unavailable(r, error);
    }
    ap_set_content_type(r, STATUS_TYPE_METRICS);
    if (!r->header_only &&
        (text = status_text(entry, STATUS_TEXT_METRICS, apr_time_now(), r->pool)) != NULL) {
        ap_rputs(text, r);
    }
    return OK;
}

/* ---- the server-status section (mod_status) ------------------------------------------------- */

/* The site whose next renewal comes first, and the one whose last error is the newest. */
static void status_firsts(const at_status_t *status, const at_status_site_t **next,
                          const at_status_site_t **failed)
{
    int i;

    *next = *failed = NULL;
    for (i = 0; i < status->sites->nelts; ++i) {
        const at_status_site_t *s = APR_ARRAY_IDX(status->sites, i, at_status_site_t *);

        if (s->next_renewal != 0 && (*next == NULL || s->next_renewal < (*next)->next_renewal)) {
            *next = s;
        }
        if (s->last_error.at != 0 &&
            (*failed == NULL || s->last_error.at > (*failed)->last_error.at)) {
            *failed = s;
        }
    }
}

static void status_section_auto(request_rec *r, const at_status_t *status, apr_time_t now)
{
    const at_status_site_t *next, *failed;
    int counts[AT_STATUS_STATE_COUNT], i;
    const char *name;

    status_count(status, now, counts);
    for (i = 0; i < AT_STATUS_STATE_COUNT; ++i) {
        name = at_status_state_name((at_status_state_e)i);
        ap_rprintf(r, "AutoTLSSites%c%s: %d\n", apr_toupper(name[0]), name + 1, counts[i]);
    }
    ap_rprintf(r, "AutoTLSOrdersInFlight: %d\n", status->orders_in_flight);
    status_firsts(status, &next, &failed);
    if (next != NULL) {
        ap_rprintf(r, "AutoTLSNextRenewal: %s %s\n",
                   at_status_time_text(r->pool, next->next_renewal), next->site);
    }
    if (failed != NULL) {
        ap_rprintf(r, "AutoTLSLastFailure: %s %s %s\n",
                   at_status_time_text(r->pool, failed->last_error.at), failed->site,
                   failed->last_error.type[0] != '\0' ? failed->last_error.type : "-");
    }
}

static void status_section_html(request_rec *r, const at_status_t *status, apr_time_t now)
{
    const at_status_site_t *next, *failed;
    int counts[AT_STATUS_STATE_COUNT], i;
    apr_pool_t *p = r->pool;

    status_count(status, now, counts);
    ap_rputs("<hr />\n<h2>AutoTLS</h2>\n<dl>\n<dt>Sites:", r);
    for (i = 0; i < AT_STATUS_STATE_COUNT; ++i) {
        ap_rprintf(r, " %d %s%s", counts[i], at_status_state_name((at_status_state_e)i),
                   i + 1 < AT_STATUS_STATE_COUNT ? "," : "");
    }
    ap_rprintf(r, "</dt>\n<dt>Orders in flight: %d</dt>\n", status->orders_in_flight);
    status_firsts(status, &next, &failed);
    if (next != NULL) {
        ap_rprintf(r, "<dt>Next renewal: %s (%s)</dt>\n", status_h(p, next->site),
                   at_status_time_text(p, next->next_renewal));
    }
    if (failed != NULL) {
        ap_rprintf(r, "<dt>Last failure: %s: %s</dt>\n", status_h(p, failed->site),
                   status_h(p, status_error_text(p, &failed->last_error)));
    }
    ap_rputs("</dl>\n", r);
}

static int autotls_status_section(request_rec *r, int flags)
{
    const at_status_t *status;
    status_cache_t *entry;
    const char *error;
    apr_time_t now = apr_time_now();

    if (autotls_ctx_get() == NULL || autotls_ctx_get()->sites->nelts == 0) {
        return OK;
    }
    status = status_get(r, &error, &entry);
    if (flags & AP_STATUS_SHORT) {
        if (status == NULL) {
            ap_rputs("AutoTLSStatus: unavailable\n", r);
        } else {
            status_section_auto(r, status, now);
        }
    } else if (status == NULL) {
        ap_rprintf(r, "<hr />\n<h2>AutoTLS</h2>\n<p>%s</p>\n", status_h(r->pool, error));
    } else {
        status_section_html(r, status, now);
    }
    return OK;
}

static void status_child_init(apr_pool_t *pchild, server_rec *s)
{
    status_current = NULL;
    if (apr_thread_mutex_create(&status_lock, APR_THREAD_MUTEX_DEFAULT, pchild) != APR_SUCCESS) {
        status_lock = NULL; /* the status pages then answer 503 */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     AUTOTLS_LOGNO(0711) "cannot create the status cache's lock; the status "
                                         "pages of this child answer 503");
    }
}

void autotls_status_register_hooks(apr_pool_t *p)
{
    ap_hook_handler(autotls_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(autotls_metrics_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(status_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, autotls_status_section, NULL, NULL, APR_HOOK_MIDDLE);
}
