/* SPDX-License-Identifier: Apache-2.0 */
/*
 * status.c: `autotls status`, a check in the convention of monitoring plugins (Nagios, Icinga,
 * Sensu): one summary line first, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
 *
 * The one idea: the renewal process's snapshot (status/snapshot.json) is the answer, read the way
 * every other reader reads it (at_status.h), so the check and the status page never disagree;
 * root, who can also read live/, adds what only the store shows: sites with a live certificate
 * that the server no longer manages (orphaned), and, when no server ever wrote a snapshot, the
 * live certificates themselves. The levels are the library's (at_status_site_check); nothing here
 * contacts the CA. Every text of the snapshot is printed through at_printable: a CA's error
 * detail or a site name holding an escape sequence must not drive the operator's terminal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_info.h>
#include <apr_hash.h>
#include <apr_strings.h>

#include "at_core.h"
#include "at_issue.h"
#include "at_name.h"
#include "at_printable.h"
#include "at_status.h"
#include "at_store.h"
#include "at_store_carry.h"
#include "status.h"

static const char *const status_level_names[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};

/* The snapshot is the ACME account's: believe the owner of status/ (made by the server's root
 * parent for that account; nobody else can own it), besides root. */
static void status_trust_writer(at_store_t *store, apr_pool_t *p)
{
    at_store_fs_trust_group_owner(store, AT_STORE_STATUS, p);
}

/* Certificates in live/ that the snapshot does not list (all of them when there is none): root
 * only; anyone else cannot list live/ and gets the snapshot alone. *listed: live/ was read. */
static void status_add_live(at_status_t *status, at_store_t *store, int orphaned, int *listed,
                            apr_pool_t *p)
{
    apr_hash_t *known = apr_hash_make(p);
    apr_array_header_t *sites, *chain;
    at_status_site_t *s;
    at_cert_info_t *info;
    EVP_PKEY *key;
    int i;

    *listed = 0;
    for (i = 0; i < status->sites->nelts; ++i) {
        s = APR_ARRAY_IDX(status->sites, i, at_status_site_t *);
        apr_hash_set(known, s->site, APR_HASH_KEY_STRING, s);
    }
    if (at_store_list(store, AT_STORE_LIVE, NULL, &sites, p) != APR_SUCCESS) {
        return;
    }
    *listed = 1;
    for (i = 0; i < sites->nelts; ++i) {
        const char *site = APR_ARRAY_IDX(sites, i, const char *);

        if (apr_hash_get(known, site, APR_HASH_KEY_STRING) != NULL ||
            at_certset_load(&key, &chain, store, AT_STORE_LIVE, site, p) != APR_SUCCESS ||
            at_cert_info(&info, p, APR_ARRAY_IDX(chain, 0, X509 *)) != APR_SUCCESS) {
            continue; /* a placeholder alone is no certificate of a site */
        }
        s = at_status_site_add(status, site, p);
        s->names = info->names;
        s->has_cert = 1;
        s->serial = info->serial;
        s->issuer = info->issuer_cn;
        s->not_before = info->not_before;
        s->not_after = info->not_after;
        s->state = at_status_derive(s, orphaned, 0, apr_time_now());
    }
}

/* This node's view of its fleet, one line (none without a fleet). */
static void status_print_fleet(const at_status_t *status, apr_time_t now, apr_pool_t *p)
{
    apr_array_header_t *leases;
    int i;

    if (status->fleet == NULL) {
        return;
    }
    leases = at_status_leases_at(status->fleet, now, p);
    printf("fleet: node %s; live nodes: %s; %d lease(s) held", at_printable(p, status->fleet->node),
           at_printable(p, at_name_list_text(p, status->fleet->nodes_live, ", ")), leases->nelts);
    for (i = 0; i < leases->nelts; ++i) {
        const at_status_lease_t *l = APR_ARRAY_IDX(leases, i, at_status_lease_t *);

        printf("%s%s by %s until %s", i == 0 ? ": " : ", ", at_printable(p, l->site),
               at_printable(p, l->node), at_status_time_text(p, l->until));
    }
    printf("\n");
}

static void status_print_text(const at_status_t *status, const int *levels, const char **whys,
                              int worst, apr_time_t now, apr_pool_t *p)
{
    int counts[AT_STATUS_STATE_COUNT] = {0}, i;
    const char *summary = "";

    for (i = 0; i < status->sites->nelts; ++i) {
        ++counts[at_status_state_at(APR_ARRAY_IDX(status->sites, i, at_status_site_t *), now)];
    }
    for (i = 0; i < AT_STATUS_STATE_COUNT; ++i) {
        if (counts[i] > 0) {
            summary = apr_psprintf(p, "%s%s%d %s", summary, summary[0] != '\0' ? ", " : "",
                                   counts[i], at_status_state_name((at_status_state_e)i));
        }
    }
    printf("AUTOTLS %s - %d site(s)%s%s\n", status_level_names[worst], status->sites->nelts,
           summary[0] != '\0' ? ": " : "", summary);
    status_print_fleet(status, now, p);
    for (i = 0; i < status->sites->nelts; ++i) {
        const at_status_site_t *s = APR_ARRAY_IDX(status->sites, i, at_status_site_t *);

        printf("%s %s: %s; expires %s; next renewal %s (%s)", status_level_names[levels[i]],
               at_printable(p, s->site), at_status_state_name(at_status_state_at(s, now)),
               s->has_cert ? at_status_time_text(p, s->not_after) : "-",
               s->next_renewal != 0 ? at_status_time_text(p, s->next_renewal) : "-",
               at_status_next_name(s->next_reason));
        if (s->last_error.at != 0) {
            printf("; last error %s: %s%s%s", at_status_time_text(p, s->last_error.at),
                   at_printable(p, s->last_error.type), s->last_error.type[0] != '\0' ? ": " : "",
                   at_printable(p, s->last_error.detail));
        }
        if (s->ca[0] != '\0' && status->ca != NULL && strcmp(s->ca, status->ca) != 0) {
            printf("; on CA %s", at_printable(p, s->ca)); /* failed over (AutoTLSCA list) */
        }
        printf("%s%s\n", whys[i][0] != '\0' ? "; " : "", at_printable(p, whys[i]));
    }
}

static void status_print_json(const at_status_t *status, const int *levels, const char **whys,
                              int worst, apr_time_t now, apr_pool_t *p)
{
    json_t *out = at_status_to_json(status, now, p), *sites = json_object_get(out, "sites");
    char *text;
    int i;

    for (i = 0; i < status->sites->nelts && (size_t)i < json_array_size(sites); ++i) {
        json_t *site = json_array_get(sites, i);

        json_object_set_new(site, "level", json_string(status_level_names[levels[i]]));
        json_object_set_new(site, "why", json_string(whys[i]));
    }
    json_object_set_new(out, "level", json_string(status_level_names[worst]));
    json_object_set_new(out, "exit_code", json_integer(worst));
    text = json_dumps(out, JSON_INDENT(2));
    printf("%s\n", text != NULL ? text : "{}");
    free(text);
    json_decref(out);
}

static int status_unknown(int json, const char *dir, const char *why, apr_pool_t *p)
{
    if (json) {
        printf("{\"level\": \"UNKNOWN\", \"exit_code\": %d}\n", AT_STATUS_CHECK_UNKNOWN);
    } else {
        printf("AUTOTLS UNKNOWN - cannot read the store %s: %s\n", at_printable(p, dir),
               at_printable(p, why));
    }
    return AT_STATUS_CHECK_UNKNOWN;
}

int autotls_cli_status(const char *dir, int json, apr_pool_t *p)
{
    apr_time_t now = apr_time_now();
    at_status_t *status = NULL;
    apr_finfo_t finfo;
    const char **whys;
    at_store_t *store;
    apr_size_t len;
    char *text;
    int *levels, worst = AT_STATUS_CHECK_OK, listed, i;
    apr_status_t rv;

    dir = dir != NULL ? dir : at_store_default_dir();
    /* opening a filesystem store makes its directory: a check must not */
    if (apr_stat(&finfo, dir, APR_FINFO_TYPE, p) != APR_SUCCESS || finfo.filetype != APR_DIR) {
        return status_unknown(json, dir, "no such directory", p);
    }
    if (at_store_fs_open(&store, p, dir) != APR_SUCCESS) {
        return status_unknown(json, dir, "no store there", p);
    }
    status_trust_writer(store, p);
    rv = at_store_load(store, AT_STORE_STATUS, NULL, AT_STATUS_ITEM, &text, &len, AT_STORE_PUBLIC,
                       p);
    if (rv == APR_SUCCESS) {
        rv = at_status_parse(&status, text, len, p);
    }
    if (rv != APR_SUCCESS && rv != APR_ENOENT) {
        return status_unknown(json, dir, at_strerror(p, rv), p);
    }
    if (status == NULL) {
        status = at_status_make(p);
    }
    status_add_live(status, store, rv == APR_SUCCESS, &listed, p);
    if (rv == APR_ENOENT && !listed) {
        return status_unknown(json, dir,
                              "no status snapshot (is the server running?) and live/ "
                              "cannot be read (run as root)",
                              p);
    }
    levels = apr_pcalloc(p, sizeof(*levels) * (status->sites->nelts + 1));
    whys = apr_pcalloc(p, sizeof(*whys) * (status->sites->nelts + 1));
    for (i = 0; i < status->sites->nelts; ++i) {
        levels[i] = at_status_site_check(APR_ARRAY_IDX(status->sites, i, at_status_site_t *), now,
                                         &whys[i], p);
        worst = levels[i] > worst ? levels[i] : worst;
    }
    if (json) {
        status_print_json(status, levels, whys, worst, now, p);
    } else {
        status_print_text(status, levels, whys, worst, now, p);
    }
    return worst;
}
