/*
 * unit_main.h: the main() every Check test binary shares: APR up, the suite run, the verdict.
 */
#ifndef AT_UNIT_MAIN_H
#define AT_UNIT_MAIN_H

#include <check.h>
#include <stdlib.h>

#include <apr_general.h>

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

/* Defines main() running the suite that suite_fn() builds. */
#define AT_UNIT_MAIN(suite_fn)                                                                     \
    int main(void)                                                                                 \
    {                                                                                              \
        return at_unit_run(suite_fn());                                                            \
    }

#endif
