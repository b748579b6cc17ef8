/* Shared main() of every Check suite: each test file defines
 * test_suite(); results go out as TAP on stdout for `meson test`, and each
 * test runs in its own forked process (Check's default fork mode). */
#include <check.h>

#include "tests/lib/suite.h"

Suite *test_suite(void);

int main(void)
{
    return suite_run(test_suite());
}
