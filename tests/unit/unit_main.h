/* SPDX-License-Identifier: Apache-2.0 */
/*
 * unit_main.h: the main() every Check test binary shares: APR up, the suite run, the verdict.
 */
#ifndef AT_UNIT_MAIN_H
#define AT_UNIT_MAIN_H

#include <check.h>
#include <stdlib.h>

#include <stdarg.h>

#include <apr_general.h>
#include <apr_tables.h>

static inline int at_unit_run(Suite *suite)
{
    SRunner *sr;
    int failed;

    apr_initialize();
    sr = srunner_create(suite);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    apr_terminate();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* A NULL-terminated list of names as the array the library takes, from p. */
static inline apr_array_header_t *at_unit_names(apr_pool_t *p, const char *first, ...)
{
    apr_array_header_t *names = apr_array_make(p, 4, sizeof(const char *));
    const char *name;
    va_list ap;

    va_start(ap, first);
    for (name = first; name != NULL; name = va_arg(ap, const char *)) {
        APR_ARRAY_PUSH(names, const char *) = name;
    }
    va_end(ap);
    return names;
}

/* Defines main() running the suite that suite_fn() builds. */
#define AT_UNIT_MAIN(suite_fn)                                                                     \
    int main(void)                                                                                 \
    {                                                                                              \
        return at_unit_run(suite_fn());                                                            \
    }

#endif
