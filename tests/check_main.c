/* Shared main() of every Check suite: each test file defines
 * test_suite(); results go out as TAP on stdout for `meson test`, and each
 * test runs in its own forked process (Check's default fork mode). */
#include <check.h>
#include <stdlib.h>

Suite *test_suite(void);

int main(void)
{
    SRunner *sr = srunner_create(test_suite());
    srunner_set_tap(sr, "-");
    srunner_run_all(sr, CK_SILENT);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
