/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_core.h: what every part of the core library shares: its status codes and its log callback.
 *
 * The core library (ACME client, crypto, store) knows nothing of httpd. It reports failures as
 * apr_status_t values from the AT_E* range below and tells the operator why through one callback,
 * which the httpd glue maps to ap_log_error and the CLI to stderr.
 */
#ifndef AT_CORE_H
#define AT_CORE_H

#include <apr.h>
#include <apr_errno.h>
#include <apr_pools.h>
#include <apr_time.h>

/* The version is configure.ac's AC_INIT alone: the build passes it (Makefile.am's AM_CPPFLAGS,
 * tests/fuzz/fuzz.mk), so that no second copy can drift. */
#ifndef AT_VERSION
#error "AT_VERSION is not defined: build through configure (Makefile.am) or tests/fuzz/fuzz.mk"
#endif
#define AT_USER_AGENT "mod_autotls/" AT_VERSION

/* Status codes of the core library, in APR's user error space. */
#define AT_EPROTO (APR_OS_START_USERERR + 1)     /* CA answered something RFC 8555 does not allow */
#define AT_EPROBLEM (APR_OS_START_USERERR + 2)   /* CA answered with a problem document */
#define AT_EHTTP (APR_OS_START_USERERR + 3)      /* transport failure talking to the CA */
#define AT_ETOOLARGE (APR_OS_START_USERERR + 4)  /* a response or file exceeds its size cap */
#define AT_ECRYPTO (APR_OS_START_USERERR + 5)    /* OpenSSL refused an operation */
#define AT_EMODE (APR_OS_START_USERERR + 6)      /* a stored file has an unsafe owner or mode */
#define AT_EINVALID (APR_OS_START_USERERR + 7)   /* a certificate set fails validation */
#define AT_ETIMEOUT (APR_OS_START_USERERR + 8)   /* the CA did not finish in the allowed time */
#define AT_ECHALLENGE (APR_OS_START_USERERR + 9) /* the CA could not validate a name */
#define AT_EARG (APR_OS_START_USERERR + 10)      /* bad argument or configuration value */
/* Store leases (at_store.h): */
#define AT_EBUSY (APR_OS_START_USERERR + 11) /* another holder has the lease */
#define AT_ELOST                                                                                   \
    (APR_OS_START_USERERR + 12) /* the lease is ours no longer (expired, taken over)               \
                                 */
/* A stored value that is not what the store wrote there (at_store_redis.h, at_store_seal.h): */
#define AT_ECORRUPT (APR_OS_START_USERERR + 13) /* foreign, truncated or of an unknown format */

typedef enum {
    AT_LOG_ERR = 0,
    AT_LOG_WARN,
    AT_LOG_NOTICE,
    AT_LOG_INFO,
    AT_LOG_DEBUG,
    AT_LOG_TRACE
} at_log_level_e;

/* Receives every log line of the library; must be callable from any thread. */
typedef void at_log_fn(void *baton, at_log_level_e level, apr_status_t rv, const char *msg);

/* Installs the process-wide log callback (NULL: lines go nowhere) and its maximum level. */
void at_log_set(at_log_fn *fn, void *baton, at_log_level_e max_level);

/* Every at_log() format starts with AT_LOGNO(NNNN), a number unique to that message kind (one
 * file per number, 1000-1599 for the library; httpd glue uses 0001-0999), so that an operator
 * can search for it: AT_LOGNO(1001) "store: ..." becomes "autotls-1001: store: ...". The embedding
 * program prints it as part of the line (tests/integration/test_log_ids.py checks the rule). */
#define AT_LOGNO_PREFIX "autotls-"
#define AT_LOGNO(n) AT_LOGNO_PREFIX #n ": "

/* The length of the "autotls-NNNN: " id msg starts with; 0 when it has none. A program whose
 * lines need no ids (the CLI's terminal output) prints msg past it. */
apr_size_t at_log_id_len(const char *msg);

/* Logs one line; rv is APR_SUCCESS when there is no status to report. */
void at_log(at_log_level_e level, apr_status_t rv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Whether a line at this level would be delivered (to skip building costly messages). */
int at_log_is_enabled(at_log_level_e level);

/* Whether rv is one of the AT_E* codes above (which APR's own apr_strerror does not know). */
int at_status_is_ours(apr_status_t rv);

/* A short text for any status, our AT_E* codes included (p may be NULL for those). */
const char *at_strerror(apr_pool_t *p, apr_status_t rv);

/* An RFC 3339 date-time as ACME documents carry it ("2025-01-02T03:04:05Z", with an optional
 * fraction, or a numeric offset instead of Z); APR_EINVAL for anything else, a field out of
 * range included (rfc3339.c). */
apr_status_t at_rfc3339_parse(apr_time_t *t, const char *s);

/* t as an RFC 3339 UTC date-time with whole seconds ("2025-01-02T03:04:05Z"): the one format of
 * every time the module, the library and the CLI write for people (logs, `autotls show`) or
 * store as text; a time outside the calendar becomes its seconds since the epoch (rfc3339.c). */
const char *at_rfc3339_format(apr_pool_t *p, apr_time_t t);

#endif
