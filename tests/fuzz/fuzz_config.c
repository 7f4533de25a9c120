/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_config.c: every AutoTLS* directive value, through the parsers `apachectl -t` runs.
 *
 * Input: one directive argument (up to its first NUL). Each parser of config_parse.c gets it, as
 * does at_key_type_parse() (AutoTLSKeyType), and AutoTLSExclude splits it into words and matches
 * every accepted pattern the way site.c does. A value that is accepted is within its stated
 * range; a value that is refused always comes with a reason.
 */
#include <strings.h>

#include <apr_fnmatch.h>
#include <apr_lib.h>
#include <apr_uri.h>

#include "at_crypto.h"
#include "config_parse.h"
#include "fuzz_common.h"

#define FUZZ_TEXT_MAX 4096
#define FUZZ_MATCH_HOST "www.internal.example.com"

static void fuzz_window(const char *text)
{
    autotls_window_t window = {AUTOTLS_WINDOW_UNSET, 0, 0};
    const char *why = NULL;

    if (autotls_parse_window(&window, &why, text) == APR_SUCCESS) {
        FUZZ_REQUIRE((window.kind == AUTOTLS_WINDOW_PERCENT &&
                      window.percent >= AUTOTLS_WINDOW_PERCENT_MIN &&
                      window.percent <= AUTOTLS_WINDOW_PERCENT_MAX) ||
                     (window.kind == AUTOTLS_WINDOW_DURATION && window.duration > 0));
    } else {
        FUZZ_REQUIRE(why != NULL && window.kind == AUTOTLS_WINDOW_UNSET);
    }
}

static void fuzz_ca(apr_pool_t *p, const char *text)
{
    const char *url = NULL, *why = NULL;
    apr_uri_t uri;

    if (autotls_parse_ca(&url, &why, p, text) == APR_SUCCESS) {
        FUZZ_REQUIRE(apr_uri_parse(p, url, &uri) == APR_SUCCESS && uri.hostname != NULL &&
                     (strcasecmp(uri.scheme, "https") == 0 || strcasecmp(uri.scheme, "http") == 0));
    } else {
        FUZZ_REQUIRE(why != NULL);
    }
}

static void fuzz_contact(apr_pool_t *p, const char *text)
{
    const char *contact = autotls_parse_contact(p, text);
    const char *c;

    if (contact != NULL) {
        FUZZ_REQUIRE(strncmp(contact, AUTOTLS_MAILTO, sizeof(AUTOTLS_MAILTO) - 1) == 0);
        FUZZ_REQUIRE(autotls_is_email(contact + sizeof(AUTOTLS_MAILTO) - 1));
        for (c = contact; *c != '\0'; c++) {
            FUZZ_REQUIRE(apr_isgraph(*c)); /* nothing that could split a JSON or log line */
        }
    }
}

static void fuzz_exclude(apr_pool_t *p, char *text)
{
    char *state = NULL, *pattern;

    for (pattern = apr_strtok(text, " \t", &state); pattern != NULL;
         pattern = apr_strtok(NULL, " \t", &state)) {
        if (autotls_pattern_problem(pattern) == NULL) {
            (void)apr_fnmatch(pattern, FUZZ_MATCH_HOST, APR_FNM_CASE_BLIND);
        }
    }
    (void)p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    at_key_type_e type;
    char *text;
    int on = -1, port = 0;

    if (size > FUZZ_TEXT_MAX) {
        return 0;
    }
    p = fuzz_pool();
    text = fuzz_cstr(p, data, size);
    fuzz_window(text);
    fuzz_ca(p, text);
    fuzz_contact(p, text);
    if (autotls_parse_flag(&on, text) == APR_SUCCESS) {
        FUZZ_REQUIRE(on == 0 || on == 1);
    }
    if (autotls_parse_port(&port, text) == APR_SUCCESS) {
        FUZZ_REQUIRE(port >= 1 && port <= AUTOTLS_PORT_MAX);
    }
    if (at_key_type_parse(&type, text) == APR_SUCCESS) {
        FUZZ_REQUIRE(strcasecmp(at_key_type_name(type), text) == 0);
    }
    fuzz_exclude(p, text);
    apr_pool_destroy(p);
    return 0;
}
