/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_redis_url.c: what AutoTLSStore redis://... may say, and nothing more.
 *
 * The one idea: the URL names where Redis is and which database, never a secret (a password in
 * a URL ends up in configuration dumps and process listings: it belongs in
 * AutoTLSStorePasswordFile), and never TLS (hiredis 0.14 has none: say so, rather than connect
 * in clear to what the admin believed was encrypted).
 */
#include <stdlib.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "at_core.h"
#include "at_store_redis.h"

#define REDIS_URL_SCHEME "redis://"
#define REDIS_URL_FORM "redis://[user@]host:port[/db]"
#define REDIS_PORT_MAX 65535
#define REDIS_DB_DIGITS_MAX 5 /* Redis' databases are numbered from 0, 16 by default */
#define REDIS_PORT_DIGITS_MAX 5

int at_store_redis_url_is_redis(const char *text)
{
    /* Any scheme: a directory has none, and a wrong scheme then gets its reason from the parser. */
    return text != NULL && strstr(text, "://") != NULL;
}

/* A decimal number of 1..max_digits digits, the whole of s. */
static int url_number(const char *s, int max_digits, long *value)
{
    int i;

    for (i = 0; s[i] != '\0'; i++) {
        if (!apr_isdigit(s[i]) || i >= max_digits) {
            return 0;
        }
    }
    if (i == 0) {
        return 0;
    }
    *value = strtol(s, NULL, 10);
    return 1;
}

static int url_host_ok(const char *host)
{
    apr_size_t i;

    if (host[0] == '\0') {
        return 0;
    }
    for (i = 0; host[i] != '\0'; i++) {
        if (!apr_isalnum(host[i]) && host[i] != '.' && host[i] != '-' && host[i] != ':') {
            return 0;
        }
    }
    return 1;
}

static apr_status_t url_refuse(const char **why, apr_pool_t *p, const char *text, const char *what)
{
    *why = apr_psprintf(p, "\"%s\" is not a Redis store URL of the form " REDIS_URL_FORM ": %s",
                        text, what);
    return AT_EARG;
}

/* Splits "host:port" (or "[v6]:port") into url->host and url->port. */
static apr_status_t url_host_port(at_store_redis_url_t *url, const char **why, apr_pool_t *p,
                                  const char *text, char *hostport)
{
    char *colon;
    long port;

    if (hostport[0] == '[') {
        char *end = strchr(hostport, ']');

        if (end == NULL || end[1] != ':') {
            return url_refuse(why, p, text, "an IPv6 address needs [brackets] and a port");
        }
        *end = '\0';
        url->host = hostport + 1;
        colon = end + 1;
    } else {
        colon = strrchr(hostport, ':');
        if (colon == NULL) {
            return url_refuse(why, p, text, "the port is missing (Redis' own is 6379)");
        }
        *colon = '\0';
        url->host = hostport;
        if (strchr(url->host, ':') != NULL) {
            return url_refuse(why, p, text, "write an IPv6 address in [brackets]");
        }
    }
    if (!url_host_ok(url->host)) {
        return url_refuse(why, p, text, "the host is empty or not a name or address");
    }
    if (!url_number(colon + 1, REDIS_PORT_DIGITS_MAX, &port) || port < 1 || port > REDIS_PORT_MAX) {
        return url_refuse(why, p, text, "the port must be a number from 1 to 65535");
    }
    url->port = (int)port;
    return APR_SUCCESS;
}

apr_status_t at_store_redis_url_parse(at_store_redis_url_t *url, const char **why, apr_pool_t *p,
                                      const char *text)
{
    char *rest, *at, *slash;
    long db = 0;

    memset(url, 0, sizeof(*url));
    *why = NULL;
    if (text == NULL) {
        return url_refuse(why, p, "", "none given");
    }
    if (strncasecmp(text, "rediss://", strlen("rediss://")) == 0) {
        return url_refuse(why, p, text,
                          "TLS (rediss://) is not available with Debian's hiredis 0.14: keep "
                          "Redis on a private link or reach it through a TLS tunnel (stunnel, "
                          "spiped) listening on a loopback address, and name that here");
    }
    if (strncasecmp(text, REDIS_URL_SCHEME, strlen(REDIS_URL_SCHEME)) != 0) {
        return url_refuse(why, p, text, "only the redis:// scheme is known (no unix sockets)");
    }
    rest = apr_pstrdup(p, text + strlen(REDIS_URL_SCHEME));
    if (strpbrk(rest, "?#") != NULL) {
        return url_refuse(why, p, text, "no query or fragment is allowed");
    }
    if ((at = strrchr(rest, '@')) != NULL) {
        *at = '\0';
        if (strchr(rest, ':') != NULL) {
            /* Never repeat the password in a log line. */
            return url_refuse(why, p, apr_pstrcat(p, REDIS_URL_SCHEME, "...@", at + 1, NULL),
                              "a password never goes in the URL (configuration dumps and process "
                              "listings show it): put it in AutoTLSStorePasswordFile");
        }
        if (rest[0] == '\0' || !url_host_ok(rest) || strchr(rest, '/') != NULL) {
            return url_refuse(why, p, text, "the user name is empty or not a plain name");
        }
        url->user = rest;
        rest = at + 1;
    }
    if ((slash = strchr(rest, '/')) != NULL) {
        *slash = '\0';
        if (slash[1] != '\0' && !url_number(slash + 1, REDIS_DB_DIGITS_MAX, &db)) {
            return url_refuse(why, p, text, "the database after '/' must be a number (0, 1, ...)");
        }
    }
    url->db = (int)db;
    return url_host_port(url, why, p, text, rest);
}
