#include "tests/lib/suite.h"

#include <stdlib.h>

Suite *suite_build(const suite_spec_t *spec, const TTest *const *tests)
{
    Suite *s = suite_create(spec->name);
    TCase *tc = tcase_create(spec->tcase);
    if (spec->timeout_s > 0)
        tcase_set_timeout(tc, spec->timeout_s);
    if (spec->setup != NULL || spec->teardown != NULL)
        tcase_add_checked_fixture(tc, spec->setup, spec->teardown);
    for (; *tests != NULL; tests++)
        tcase_add_test(tc, *tests);
    suite_add_tcase(s, tc);
    return s;
}

int suite_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_set_tap(sr, "-");
    srunner_run_all(sr, CK_SILENT);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
