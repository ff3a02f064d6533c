/* check-util.h — the main() every Check suite shares: run, then print "NAME: N passed, N failed". */
#ifndef QCAL_CHECK_UTIL_H
#define QCAL_CHECK_UTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

static inline int qc_check_run(const char *name, Suite *suite)
{
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int run = srunner_ntests_run(runner);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    printf("%s: %d passed, %d failed\n", name, run - failed, failed);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
