/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_parse.h: the pure parsers behind the AutoTLS* directives.
 *
 * The one idea: everything an admin types is judged here by functions that know nothing of httpd
 * (no cmd_parms, no server_rec, no file system), so that the fuzzer and the unit tests call
 * exactly what `apachectl -t` runs. config.c wraps their verdicts into directive errors.
 */
#ifndef AUTOTLS_CONFIG_PARSE_H
#define AUTOTLS_CONFIG_PARSE_H

#include <apr_pools.h>
#include <apr_time.h>

#include "at_ca.h"
#include "at_ratelimit.h"

#define AUTOTLS_CA_LETSENCRYPT AT_CA_LETSENCRYPT
#define AUTOTLS_CA_LETSENCRYPT_STAGING AT_CA_LETSENCRYPT_STAGING
#define AUTOTLS_PORT_MAX 65535
#define AUTOTLS_WINDOW_PERCENT_MIN 1
#define AUTOTLS_WINDOW_PERCENT_MAX 99
#define AUTOTLS_MAILTO "mailto:"
/* AutoTLSOrdersInFlight: the renewal process's task threads. */
#define AUTOTLS_ORDERS_IN_FLIGHT_MIN 1
#define AUTOTLS_ORDERS_IN_FLIGHT_MAX 64
/* AutoTLSCARate N/DURATION: N at most this (a CA's bucket is hundreds, not millions). */
#define AUTOTLS_CA_RATE_ORDERS_MAX 1000000

/* How AutoTLSRenewWindow was given. */
typedef enum {
    AUTOTLS_WINDOW_UNSET = 0, /* not configured: ARI, else the renewal policy's lifetime share */
    AUTOTLS_WINDOW_PERCENT,   /* renew when `percent` of the lifetime is left */
    AUTOTLS_WINDOW_DURATION   /* renew when `duration` is left */
} autotls_window_kind_e;

typedef struct {
    autotls_window_kind_e kind;
    int percent;                  /* AUTOTLS_WINDOW_PERCENT: 1..99 */
    apr_interval_time_t duration; /* AUTOTLS_WINDOW_DURATION: > 0, in microseconds */
} autotls_window_t;

/*
 * Parses an AutoTLSRenewWindow value: "N%" with N in 1..99, or a positive whole number with one
 * unit d, h, m or s ("30d", "12h", "90m"). Pure: no pool, no global state. On failure returns
 * AT_EARG, leaves *window untouched and sets *why to a static text saying what is wrong.
 */
apr_status_t autotls_parse_window(autotls_window_t *window, const char **why, const char *text);

/*
 * An AutoTLSHSTS value: "off" (*header "") or "max-age=N" with, in any order, "includeSubDomains"
 * and "preload", separated by ';' (RFC 6797 §6.1; names in any case). preload needs
 * includeSubDomains and a max-age of a year (the browsers' preload list refuses less). *header
 * is the Strict-Transport-Security value in its usual spelling, in p. On failure AT_EARG with
 * *why a static text.
 */
apr_status_t autotls_parse_hsts(const char **header, const char **why, apr_pool_t *p,
                                const char *text);

/*
 * AutoTLSChallenge's words into *types (const char *: AT_CHALLENGE_* of at_issue.h, in the order
 * given, in p): http-01, tls-alpn-01 and dns-01 in any case, each at most once, at least one. On
 * failure AT_EARG with *bad the word and *why a static text.
 */
apr_status_t autotls_parse_challenges(apr_array_header_t **types, const char **bad,
                                      const char **why, apr_pool_t *p, int argc,
                                      char *const argv[]);

/* "on" or "off" in any case into *on (1 or 0); AT_EARG for anything else. */
apr_status_t autotls_parse_flag(int *on, const char *text);

/* A port number 1..AUTOTLS_PORT_MAX in plain decimal digits; AT_EARG for anything else. */
apr_status_t autotls_parse_port(int *port, const char *text);

/* The directory URL for an AutoTLSCA value: a known CA's keyword or an http(s) URL with a host
 * (copied into p). On failure AT_EARG with *why a static text. */
apr_status_t autotls_parse_ca(const char **url, const char **why, apr_pool_t *p, const char *text);

/* An AutoTLSOrdersInFlight value: AUTOTLS_ORDERS_IN_FLIGHT_MIN..MAX in plain decimal digits;
 * AT_EARG for anything else. */
apr_status_t autotls_parse_orders_in_flight(int *orders, const char *text);

/*
 * An AutoTLSCARate value: "N/DURATION" (N orders, refilled over DURATION: a whole number with
 * one unit d, h, m or s, e.g. "300/3h"), or "none" / "unlimited" (rate.burst 0). On failure
 * AT_EARG, *rate untouched and *why a static text.
 */
apr_status_t autotls_parse_ca_rate(at_rate_t *rate, const char **why, const char *text);

/* addr without a leading "mailto:" (in any case). */
const char *autotls_strip_mailto(const char *addr);

/* Whether addr looks like local@domain.tld, without any mailto: prefix. */
int autotls_is_email(const char *addr);

/* An AutoTLSContact value (an address, with or without "mailto:") as a mailto: URI in p, or
 * NULL when it is not an e-mail address. */
const char *autotls_parse_contact(apr_pool_t *p, const char *text);

/* What is wrong with an AutoTLSExclude pattern (a static text), or NULL when it could match a
 * host name. */
const char *autotls_pattern_problem(const char *pattern);

#endif
