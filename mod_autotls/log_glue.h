/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log_glue.h: how the httpd glue writes to the error log, and the core library's way in.
 *
 * The one idea: every line the module writes starts with "autotls-NNNN: ", a number unique to
 * that line, so an operator can search for it. Numbers by file: 0001-0099 mod_autotls.c and
 * log_glue.c, 0100-0199 config.c, 0200-0249 twin.c, 0250-0259 sslhook.c, 0260-0299 certs.c,
 * 0300-0399 activator.c and activator_proc.c, 0400-0499 site.c, 0500-0599 challenge.c,
 * 0600-0699 renew.c, renew_job.c and renew_task.c, 0900-0949 slots.c (0900-0903), preflight.c,
 * renew_account.c (0904) and renew_fingerprint.c. The core library's lines carry their own,
 * 1000-1599 (AT_LOGNO in at_core.h); one without keeps the catch-all 0001.
 */
#ifndef AUTOTLS_LOG_GLUE_H
#define AUTOTLS_LOG_GLUE_H

#include <apr_pools.h>

#include <httpd.h>
#include <http_log.h>

/* Give n as four digits: AUTOTLS_LOGNO(0001) "..." becomes "autotls-0001: ...". */
#define AUTOTLS_LOGNO_PREFIX "autotls-"
#define AUTOTLS_LOGNO(n) AUTOTLS_LOGNO_PREFIX #n ": "

/*
 * Routes the core library's at_log() lines to ap_log_error on server s, up to the level the
 * configuration sets for this module on s. Undone when pconf is cleared.
 */
void autotls_log_glue_install(apr_pool_t *pconf, server_rec *s);

/*
 * ap_log_error for lines that carry a status which may be the core library's own (AT_E* of
 * at_core.h, in APR's user error space): httpd would print those as "(120007)APR does not
 * understand this error code". Such a status is named by its own text at the end of the line
 * instead; any other status goes to ap_log_error as it is. Called like ap_log_error:
 * autotls_log_error(APLOG_MARK, APLOG_ERR, rv, s, AUTOTLS_LOGNO(NNNN) "...", ...).
 */
void autotls_log_error(const char *file, int line, int module_index, int level, apr_status_t rv,
                       const server_rec *s, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

#endif
