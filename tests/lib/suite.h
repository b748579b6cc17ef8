/* Check suites of one test case, declared in one call, so that a suite's
 * file ends with the list of its tests rather than the same dozen lines
 * of Check calls every other file has. */
#ifndef ADNET_TEST_SUITE_H
#define ADNET_TEST_SUITE_H

#include <check.h>

/* How a one-case suite runs. */
typedef struct {
    const char *name;   /* the suite's name, as the TAP output shows it */
    const char *tcase;  /* its one test case's name */
    int timeout_s;      /* seconds each test may take; 0: Check's default */
    SFun setup;         /* checked fixture: run in each test's process before it; NULL: none */
    SFun teardown;      /* and after it; NULL: none */
} suite_spec_t;

/* The NULL-terminated list of tests suite_build takes. */
#define SUITE_TESTS(...) ((const TTest *const[]){__VA_ARGS__, NULL})

/* A new suite as spec says, holding tests (see SUITE_TESTS) in that
 * order; each runs in its own process (Check's fork mode). The caller's
 * runner owns the suite. */
Suite *suite_build(const suite_spec_t *spec, const TTest *const *tests);

/* Run s (taking it over), each test in its own process, with TAP on
 * stdout for `meson test`. Return EXIT_SUCCESS if every test passed,
 * EXIT_FAILURE otherwise: what main returns. */
int suite_run(Suite *s);

#endif
