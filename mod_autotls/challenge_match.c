/* SPDX-License-Identifier: Apache-2.0 */
/*
 * challenge_match.c: which requests the http-01 responder answers (RFC 8555 §8.3).
 *
 * The one idea: the request path is attacker-chosen and becomes a file name in the store, so the
 * token is accepted only when every character is base64url and the store would take it as one
 * item name; nothing is decoded, normalised or resolved first. And a stored answer is served
 * only to the Host it was made for, so one site's answer never validates another's name. The
 * decisions are pure (no httpd types) so that the fuzzer calls exactly what challenge.c runs.
 */
#include <string.h>

#include <apr_cstr.h>

#include "at_b64url.h"
#include "at_store.h"
#include "challenge_match.h"

int autotls_challenge_path(const char *uri)
{
    return uri != NULL &&
           strncmp(uri, AUTOTLS_CHALLENGE_PREFIX, sizeof(AUTOTLS_CHALLENGE_PREFIX) - 1) == 0;
}

const char *autotls_challenge_token(int is_get, const char *path, const char *host,
                                    autotls_challenge_host_fn *managed, const void *baton)
{
    const char *token;

    if (!is_get || !autotls_challenge_path(path)) {
        return NULL;
    }
    token = path + sizeof(AUTOTLS_CHALLENGE_PREFIX) - 1;
    /* A token the store cannot hold (too long for one path component) is declined here, not
     * refused by at_store_load() with a log line: a client's request never earns one. */
    if (!at_b64url_is_token(token, AUTOTLS_CHALLENGE_TOKEN_MAX) ||
        !at_store_component_valid(token) || host == NULL || !managed(baton, host)) {
        return NULL;
    }
    return token;
}

int autotls_challenge_host_bound(const char *host, const char *identifier)
{
    return host != NULL && identifier != NULL && *identifier != '\0' &&
           apr_cstr_casecmp(host, identifier) == 0 /* ASCII, whatever the locale */;
}
