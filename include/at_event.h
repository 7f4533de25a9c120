/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_event.h: what happened to a site's certificate, as the notification command is told, and
 * how a root process hands such an event to the renewal process, which runs every command.
 *
 * The one idea: root never runs an admin's command, and the ACME account never believes more
 * than it must. A root process (the activator when a set goes live, the root CLI after a
 * revocation or a forget, the activator when it archives an orphan) writes one small JSON file
 * jobs/_event-<stamp>-<random>.event (the ACME account's directory, where root's CLI already
 * drops renewal requests); the renewal process lists jobs/ each tick, reads each event file
 * through the store (root or the ACME account as owner, one name, no link, a size cap), parses
 * it strictly and removes it, then runs the command for it. A file that does not parse is
 * removed with one log line and runs nothing.
 *
 *   {"event": "renewed", "site": "example.org", "names": ["example.org", "www.example.org"],
 *    "serial": "03A1...", "not_after": 1767225600, "error": "", "time": 1760000000}
 */
#ifndef AT_EVENT_H
#define AT_EVENT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "at_crypto.h"
#include "at_store.h"

/* Item names of event files in jobs/. */
#define AT_EVENT_ITEM_PREFIX "_event-"
#define AT_EVENT_ITEM_SUFFIX ".event"
/* Bounds: an event file, an error text, a serial, the names of one site. */
#define AT_EVENT_MAX_LEN (16 * 1024)
#define AT_EVENT_ERROR_MAX 1024
#define AT_EVENT_SERIAL_MAX 128
#define AT_EVENT_NAME_MAX 255
#define AT_EVENT_NAMES_MAX 100
/* At most this many event files are taken in one look (the rest at the next). */
#define AT_EVENT_TAKE_MAX 64

typedef enum {
    AT_EVENT_OBTAINED = 0, /* a site's first certificate went live */
    AT_EVENT_RENEWED,      /* a newer certificate replaced a CA-issued one */
    AT_EVENT_FAILED,       /* an order failed (once per backoff step) */
    AT_EVENT_EXPIRING,     /* inside the warning window and renewing keeps failing (daily) */
    AT_EVENT_EXPIRED,      /* the served certificate has expired */
    AT_EVENT_REVOKED,      /* `autotls revoke` revoked it at the CA */
    AT_EVENT_ORPHANED,     /* a site no longer configured: its live set was archived */
    AT_EVENT_KIND_COUNT
} at_event_kind_e;

typedef struct {
    at_event_kind_e kind;
    const char *site;          /* a store component (at_store_component_valid) */
    apr_array_header_t *names; /* const char *; may be empty */
    const char *serial;        /* hex, or "" */
    apr_time_t not_after;      /* 0: unknown */
    const char *error;         /* "" when none */
    apr_time_t time;           /* when it happened */
} at_event_t;

/* "obtained", "renewed", ...; NULL for no kind. */
const char *at_event_kind_name(at_event_kind_e kind);
/* APR_SUCCESS and *kind for a known name, AT_EPROTO otherwise. */
apr_status_t at_event_kind_parse(at_event_kind_e *kind, const char *name);

/* A new event of kind for site at now, with empty details. */
at_event_t *at_event_make(apr_pool_t *p, at_event_kind_e kind, const char *site, apr_time_t now);

/* Fills names, serial and not_after from the certificate (left as they are when it cannot be
 * read). */
void at_event_set_cert(at_event_t *event, apr_pool_t *p, X509 *leaf);

apr_status_t at_event_format(char **text, apr_pool_t *p, const at_event_t *event);

/* Parses an event file strictly: an object of at most AT_EVENT_MAX_LEN bytes with a known
 * "event", a "site" that is a store component, optional "names" (strings, each at most
 * AT_EVENT_NAME_MAX, at most AT_EVENT_NAMES_MAX), "serial" (hex digits), "not_after" and "time"
 * (non-negative integers), "error" (a string of at most AT_EVENT_ERROR_MAX); no control
 * characters anywhere. AT_EPROTO (or AT_ETOOLARGE) for anything else. */
apr_status_t at_event_parse(at_event_t **event, apr_pool_t *p, const char *text, apr_size_t len);

/* Whether a jobs/ item is an event file. */
int at_event_is_item(const char *item);

/* Root's side: writes the event as a new jobs/_event-... file (public, written whole). */
apr_status_t at_event_post(at_store_t *store, const at_event_t *event, apr_pool_t *p);

/* The renewal process's side: up to AT_EVENT_TAKE_MAX event files of jobs/, oldest first, each
 * removed once read; *events gets the ones that parsed (at_event_t *); the others are removed
 * too, with one log line each. Missing jobs/: none. */
apr_status_t at_event_take(apr_array_header_t **events, at_store_t *store, apr_pool_t *p);
/* at_event_take on a listing of jobs/ the caller already made (at_store_list; NULL: list here),
 * so that one look at jobs/ serves both the caller and the events. */
apr_status_t at_event_take_listed(apr_array_header_t **events, at_store_t *store,
                                  const apr_array_header_t *listed, apr_pool_t *p);

#endif
