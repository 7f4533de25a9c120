/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.c: the library's one way to tell the operator something.
 *
 * The core library never writes to stderr or to httpd's log itself: every line goes through the
 * callback the embedding program installed (ap_log_error in the module, stderr in the CLI).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "at_core.h"

#define AT_LOG_LINE_MAX 2048

static at_log_fn *log_fn;
static void *log_baton;
static at_log_level_e log_max = AT_LOG_INFO;

void at_log_set(at_log_fn *fn, void *baton, at_log_level_e max_level)
{
    log_fn = fn;
    log_baton = baton;
    log_max = max_level;
}

int at_log_is_enabled(at_log_level_e level)
{
    return log_fn != NULL && level <= log_max;
}

void at_log(at_log_level_e level, apr_status_t rv, const char *fmt, ...)
{
    char line[AT_LOG_LINE_MAX];
    va_list ap;

    if (!at_log_is_enabled(level)) {
        return;
    }
    va_start(ap, fmt);
    apr_vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    log_fn(log_baton, level, rv, line);
}

apr_size_t at_log_id_len(const char *msg)
{
    static const char id[] = AT_LOGNO_PREFIX "0000: "; /* the shape of every id */
    apr_size_t i, prefix = sizeof(AT_LOGNO_PREFIX) - 1;

    if (strncmp(msg, id, prefix) != 0) {
        return 0;
    }
    for (i = prefix; i < sizeof(id) - 1; i++) {
        if (id[i] == '0' ? !apr_isdigit(msg[i]) : msg[i] != id[i]) {
            return 0;
        }
    }
    return sizeof(id) - 1;
}

static const char *const at_error_texts[] = {
    "CA answered outside the ACME protocol", /* AT_EPROTO */
    "CA returned a problem document",        /* AT_EPROBLEM */
    "transport failure talking to the CA",   /* AT_EHTTP */
    "size limit exceeded",                   /* AT_ETOOLARGE */
    "cryptographic operation failed",        /* AT_ECRYPTO */
    "unsafe file owner or mode",             /* AT_EMODE */
    "certificate set failed validation",     /* AT_EINVALID */
    "timed out",                             /* AT_ETIMEOUT */
    "challenge validation failed",           /* AT_ECHALLENGE */
    "invalid argument",                      /* AT_EARG */
    "the lease is held by another",          /* AT_EBUSY */
    "the lease was lost",                    /* AT_ELOST */
    "stored value is corrupt or foreign",    /* AT_ECORRUPT */
};

#define AT_ERROR_COUNT (sizeof(at_error_texts) / sizeof(at_error_texts[0]))

int at_status_is_ours(apr_status_t rv)
{
    return rv >= AT_EPROTO && rv < AT_EPROTO + (apr_status_t)AT_ERROR_COUNT;
}

const char *at_strerror(apr_pool_t *p, apr_status_t rv)
{
    char buf[256];

    if (at_status_is_ours(rv)) {
        return at_error_texts[rv - AT_EPROTO];
    }
    return apr_pstrdup(p, apr_strerror(rv, buf, sizeof(buf)));
}
