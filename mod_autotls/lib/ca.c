/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ca.c: the CAs the library knows by name (see at_ca.h).
 *
 * The one idea: a URL names the same directory whatever the case of its scheme and host and with
 * or without a trailing slash, so a comparison with the known URLs must allow for both.
 */
#include <string.h>
#include <strings.h>

#include "at_ca.h"

/* Whether url is known, ignoring case (scheme and host; the paths are lower case anyway) and
 * one trailing slash. */
static int ca_url_is(const char *url, const char *known)
{
    size_t len = strlen(known);

    return strncasecmp(url, known, len) == 0 &&
           (url[len] == '\0' || (url[len] == '/' && url[len + 1] == '\0'));
}

int at_ca_is_letsencrypt(const char *url)
{
    return url != NULL &&
           (ca_url_is(url, AT_CA_LETSENCRYPT) || ca_url_is(url, AT_CA_LETSENCRYPT_STAGING));
}

/* The CA names users may write instead of a directory URL (AutoTLSCA, autotls --ca). */
static const struct {
    const char *name;
    const char *url;
} ca_shorthands[] = {
    {AT_CA_NAME_LETSENCRYPT, AT_CA_LETSENCRYPT},
    {AT_CA_NAME_LETSENCRYPT_STAGING, AT_CA_LETSENCRYPT_STAGING},
};

const char *at_ca_shorthand(const char *name)
{
    size_t i;

    for (i = 0; name != NULL && i < sizeof(ca_shorthands) / sizeof(ca_shorthands[0]); i++) {
        if (strcasecmp(name, ca_shorthands[i].name) == 0) {
            return ca_shorthands[i].url;
        }
    }
    return NULL;
}
