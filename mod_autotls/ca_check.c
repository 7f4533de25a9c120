/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ca_check.c: the CA list (AutoTLSCA, in failover order) checked at startup and by apachectl -t.
 *
 * The one idea: AutoTLSIssuerRoots must cover every CA of the list, or a site that fails over
 * gets a certificate the activator refuses. Where the library knows a CA's roots (a CA known by
 * name: at_ca_known_roots) a file that lacks one stops the start with the root named; where the
 * roots are known only from an issued chain (any other URL) nothing is pretended: one line says
 * that the activator's chain check decides, and a refused set counts as a failed order at the
 * CA that issued it, which moves the site on like any other failure.
 */
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>

#include "at_ca.h"
#include "ca_check.h"
#include "config.h"
#include "log_glue.h"

APLOG_USE_MODULE(autotls);

/* Whether this pass speaks: apachectl -t, and the real pass of a start (not the first of two). */
static int ca_check_speaks(void)
{
    return ap_state_query(AP_SQ_RUN_MODE) != AP_SQ_RM_NORMAL ||
           ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG;
}

static int ca_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    const apr_array_header_t *cas = autotls_config_cas(ptemp, s);
    const char *roots = autotls_config_issuer_roots(s), *missing;
    int i, unknown = 0;

    for (i = 0; roots != NULL && i < cas->nelts; i++) {
        const char *url = APR_ARRAY_IDX(cas, i, at_ca_spec_t).url;

        if (at_ca_known_roots(url) == NULL) {
            ++unknown;
            continue;
        }
        if (at_ca_roots_missing(&missing, ptemp, url, roots) == APR_SUCCESS && missing != NULL) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                         AUTOTLS_LOGNO(0151) "AutoTLSIssuerRoots %s lacks %s, a root %s (CA %d "
                                             "of AutoTLSCA) issues under: every certificate "
                                             "from it would be refused; add the root to the "
                                             "file or remove the CA",
                         roots, missing, url, i + 1);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    if (cas->nelts > 1 && ca_check_speaks()) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     AUTOTLS_LOGNO(0152) "AutoTLSCA: %d CAs in failover order, first %s; a site "
                                         "moves to the next after %d failed orders in a row "
                                         "(AutoTLSCAFailover) and back to the first after the "
                                         "last; %d CA(s) whose roots are known only from an "
                                         "issued chain (AutoTLSIssuerRoots %s: checked by the "
                                         "activator for each set)",
                     cas->nelts, APR_ARRAY_IDX(cas, 0, at_ca_spec_t).url,
                     autotls_config_ca_failover(s), roots != NULL ? unknown : cas->nelts,
                     roots != NULL ? roots : "unset, the system store");
    }
    return OK;
}

void autotls_ca_check_register_hooks(apr_pool_t *p)
{
    ap_hook_check_config(ca_check_config, NULL, NULL, APR_HOOK_MIDDLE);
}
