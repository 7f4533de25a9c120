/* SPDX-License-Identifier: Apache-2.0 */
/*
 * printable.c: text made safe to print on a terminal (at_printable.h).
 *
 * The one idea: nothing that reaches a terminal from a file others wrote can be an escape
 * sequence; what was there is still visible, written out, so an operator sees the text as sent.
 */
#include <string.h>

#include <apr_strings.h>

#include "at_printable.h"

#define PRINTABLE_C0_LAST 0x1f
#define PRINTABLE_DEL 0x7f
#define PRINTABLE_C1_LEAD 0xc2 /* UTF-8 of U+0080..U+00BF: 0xc2 then 0x80..0xbf */
#define PRINTABLE_C1_FIRST 0x80
#define PRINTABLE_C1_LAST 0x9f
#define PRINTABLE_WORST 6 /* "\u009b" for two bytes, "\x1b" for one: at most 6 per byte */

static int printable_c1(const unsigned char *c)
{
    return c[0] == PRINTABLE_C1_LEAD && c[1] >= PRINTABLE_C1_FIRST && c[1] <= PRINTABLE_C1_LAST;
}

static int printable_needs(const char *text)
{
    const unsigned char *c;

    for (c = (const unsigned char *)text; *c != '\0'; ++c) {
        if (*c <= PRINTABLE_C0_LAST || *c == PRINTABLE_DEL || *c == '\\' || printable_c1(c)) {
            return 1;
        }
    }
    return 0;
}

const char *at_printable(apr_pool_t *p, const char *text)
{
    const unsigned char *c;
    char *out, *to;

    if (text == NULL) {
        return "";
    }
    if (!printable_needs(text)) {
        return text;
    }
    out = to = apr_palloc(p, strlen(text) * PRINTABLE_WORST + 1);
    for (c = (const unsigned char *)text; *c != '\0'; ++c) {
        if (*c == '\\') {
            *to++ = '\\';
            *to++ = '\\';
        } else if (*c <= PRINTABLE_C0_LAST || *c == PRINTABLE_DEL) {
            to += apr_snprintf(to, PRINTABLE_WORST + 1, "\\x%02x", *c);
        } else if (printable_c1(c)) {
            to += apr_snprintf(to, PRINTABLE_WORST + 1, "\\u%04x", c[1]);
            ++c;
        } else {
            *to++ = (char)*c;
        }
    }
    *to = '\0';
    return out;
}
