/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_name.c: the name-eligibility rule (at_name_eligible), which decides which vhost names
 * and aliases the module manages and which names the CLI orders.
 *
 * Input: a host name as an admin's ServerName/ServerAlias or the CLI's argument gives it (bytes
 * up to the first NUL). Whatever it is: a refusal says why, and an accepted name is what a
 * public CA certifies and what the store can hold: letters, digits, '-' and '.' only, at most
 * 253 characters plus one trailing dot, labels of 1..63 not starting or ending in '-', two labels
 * at least, not all digits at the end, not localhost; lower-cased, it is a valid store
 * component (a site's directory in live/ and its jobs/ items are named after it).
 */
#include <strings.h>

#include <apr_lib.h>

#include "at_name.h"
#include "at_store.h"
#include "fuzz_common.h"

#define FUZZ_NAME_LOCALHOST "localhost"

/* The properties an accepted name must have, checked independently of name.c's loop. */
static void fuzz_check_accepted(char *name)
{
    size_t len = strlen(name), start = 0, i, lh = strlen(FUZZ_NAME_LOCALHOST);
    int labels = 0, digits_only = 1;

    if (len > 0 && name[len - 1] == '.') {
        name[--len] = '\0';
    }
    FUZZ_REQUIRE(len >= 1 && len <= AT_NAME_MAX);
    FUZZ_REQUIRE(strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.") ==
                 len);
    for (i = 0; i <= len; i++) {
        if (i == len || name[i] == '.') {
            FUZZ_REQUIRE(i > start && i - start <= AT_NAME_LABEL_MAX);
            FUZZ_REQUIRE(name[start] != '-' && name[i - 1] != '-');
            digits_only = strspn(name + start, "0123456789") >= i - start;
            labels++;
            start = i + 1;
        }
    }
    FUZZ_REQUIRE(labels >= 2 && !digits_only);
    FUZZ_REQUIRE(!(len >= lh && strcasecmp(name + len - lh, FUZZ_NAME_LOCALHOST) == 0 &&
                   (len == lh || name[len - lh - 1] == '.')));
    for (i = 0; i < len; i++) {
        name[i] = (char)apr_tolower(name[i]);
    }
    FUZZ_REQUIRE(at_store_component_valid(name));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    const char *why = NULL;
    char *name;

    fuzz_init();
    p = fuzz_pool();
    name = apr_pstrmemdup(p, (const char *)data, size);
    if (at_name_eligible(name, &why)) {
        fuzz_check_accepted(name);
    } else {
        FUZZ_REQUIRE(why != NULL && strncmp(why, "is ", 3) == 0);
        if (fuzz_verbose()) {
            fprintf(stderr, "refused: %s\n", why);
        }
    }
    apr_pool_destroy(p);
    return 0;
}
