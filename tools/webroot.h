/* SPDX-License-Identifier: Apache-2.0 */
/*
 * webroot.h: http-01 through files that a web server already serves.
 */
#ifndef AUTOTLS_WEBROOT_H
#define AUTOTLS_WEBROOT_H

#include <apr_pools.h>

#include "at_issue.h"

/* Publishes each key authorization as <dir>/.well-known/acme-challenge/<token> (mode 0644) and
 * removes it again, with the directories it created. Safe as root in a directory another uid
 * owns: no symbolic link below dir is followed (a link there fails the publish), nothing is
 * done by path below dir. The held descriptors are closed with the pool. */
void autotls_webroot_responder(at_http01_responder_t *responder, apr_pool_t *p, const char *dir);

#endif
