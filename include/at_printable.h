/* SPDX-License-Identifier: Apache-2.0 */
/*
 * at_printable.h: text from a file or a CA, made safe to print on a terminal.
 *
 * A status snapshot or a job file holds texts others wrote (a CA's error detail, a site name);
 * printed raw, an escape sequence in one of them would drive the reader's terminal (colours,
 * a cursor moved over earlier lines, a title set, on some terminals keys sent back). Every such
 * text goes through here before it is printed.
 */
#ifndef AT_PRINTABLE_H
#define AT_PRINTABLE_H

#include <apr_pools.h>

/* text with every control character written out visibly: C0 controls and DEL as \xNN, the C1
 * controls (U+0080..U+009F, as UTF-8) as \u00NN, a backslash as \\; all else as it is. text
 * itself when nothing needs it; "" for NULL. */
const char *at_printable(apr_pool_t *p, const char *text);

#endif
