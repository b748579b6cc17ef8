/* common/base/typo: the optimal string alignment distance, and the bound. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "common/base/typo.h"
#include "tests/lib/suite.h"

Suite *test_suite(void);

static size_t dist(const char *a, const char *b)
{
    return typo_distance(a, strlen(a), b, strlen(b));
}

START_TEST(distances)
{
    ck_assert_uint_eq(dist("", ""), 0);
    ck_assert_uint_eq(dist("home", "home"), 0);
    ck_assert_uint_eq(dist("", "home"), 4);
    ck_assert_uint_eq(dist("hom", "home"), 1);     /* a letter missing */
    ck_assert_uint_eq(dist("hoome", "home"), 1);   /* one too many */
    ck_assert_uint_eq(dist("hime", "home"), 1);    /* one wrong */
    ck_assert_uint_eq(dist("hoem", "home"), 1);    /* two swapped: one edit, not two */
    ck_assert_uint_eq(dist("jsno", "json"), 1);
    ck_assert_uint_eq(dist("x", "home"), 4);
    ck_assert_uint_eq(dist("kitten", "sitting"), 3);
    ck_assert_uint_eq(dist("ca", "abc"), 3);       /* OSA, not full Damerau (which says 2) */
    /* Only the given lengths count. */
    ck_assert_uint_eq(typo_distance("homeXX", 4, "home", 4), 0);
}
END_TEST

START_TEST(too_long_is_refused)
{
    char big[TYPO_LEN_MAX + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_uint_eq(typo_distance(big, TYPO_LEN_MAX + 1, "a", 1), SIZE_MAX);
    ck_assert_uint_eq(typo_distance("a", 1, big, TYPO_LEN_MAX + 1), SIZE_MAX);
    ck_assert_uint_eq(typo_distance(big, TYPO_LEN_MAX, big, TYPO_LEN_MAX), 0);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = { "typo", "distance", 0, NULL, NULL };
    return suite_build(&spec, SUITE_TESTS(distances, too_long_is_refused));
}
