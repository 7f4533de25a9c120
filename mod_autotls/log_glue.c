/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log_glue.c: the core library's log callback, written to httpd's error log.
 *
 * The one idea: the library knows nothing of httpd, so its levels are mapped here, and the
 * callback is bound to a server_rec of the current configuration generation only: a pconf
 * cleanup unbinds it before that server_rec goes away on a restart.
 */
#include <string.h>

#include <apr_lib.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "at_core.h"
#include "log_glue.h"

APLOG_USE_MODULE(autotls);

static int autotls_log_to_aplog(at_log_level_e level)
{
    switch (level) {
    case AT_LOG_ERR:
        return APLOG_ERR;
    case AT_LOG_WARN:
        return APLOG_WARNING;
    case AT_LOG_NOTICE:
        return APLOG_NOTICE;
    case AT_LOG_INFO:
        return APLOG_INFO;
    case AT_LOG_DEBUG:
        return APLOG_DEBUG;
    default:
        return APLOG_TRACE1;
    }
}

static at_log_level_e autotls_log_from_aplog(int level)
{
    if (level <= APLOG_ERR) {
        return AT_LOG_ERR;
    }
    if (level == APLOG_WARNING) {
        return AT_LOG_WARN;
    }
    if (level == APLOG_NOTICE) {
        return AT_LOG_NOTICE;
    }
    if (level == APLOG_INFO) {
        return AT_LOG_INFO;
    }
    return level == APLOG_DEBUG ? AT_LOG_DEBUG : AT_LOG_TRACE;
}

/* Glue code that httpd-free tests also link (slots.c) logs through the library with its own
 * "autotls-NNNN: " id: it keeps that id instead of the library's 0001. */
static const char *autotls_log_id(const char *msg)
{
    static const char prefix[] = AUTOTLS_LOGNO(0000);
    apr_size_t i, len = sizeof(prefix) - 1;

    if (strncmp(msg, prefix, sizeof(AUTOTLS_LOGNO_PREFIX) - 1) != 0) {
        return AUTOTLS_LOGNO(0001);
    }
    for (i = sizeof(AUTOTLS_LOGNO_PREFIX) - 1; i < len; i++) {
        if (prefix[i] == '0' ? !apr_isdigit(msg[i]) : msg[i] != prefix[i]) {
            return AUTOTLS_LOGNO(0001);
        }
    }
    return "";
}

static void autotls_log_line(void *baton, at_log_level_e level, apr_status_t rv, const char *msg)
{
    server_rec *s = baton;
    const char *id = autotls_log_id(msg);

    if (at_status_is_ours(rv)) {
        /* httpd would print "APR does not understand this error code": name it ourselves. */
        ap_log_error(APLOG_MARK, autotls_log_to_aplog(level), 0, s, "%s%s (%s)", id, msg,
                     at_strerror(NULL, rv));
        return;
    }
    ap_log_error(APLOG_MARK, autotls_log_to_aplog(level), rv, s, "%s%s", id, msg);
}

static apr_status_t autotls_log_glue_unbind(void *unused)
{
    at_log_set(NULL, NULL, AT_LOG_ERR);
    return APR_SUCCESS;
}

void autotls_log_glue_install(apr_pool_t *pconf, server_rec *s)
{
    int level = ap_get_server_module_loglevel(s, APLOG_MODULE_INDEX);

    at_log_set(autotls_log_line, s, autotls_log_from_aplog(level));
    apr_pool_cleanup_register(pconf, NULL, autotls_log_glue_unbind, apr_pool_cleanup_null);
}
