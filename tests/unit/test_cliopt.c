/* supervisor/cliopt: the closest option, the messages of every kind of
 * option mistake, and the strict whole-number reading. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base/exitcode.h"
#include "supervisor/cliopt.h"
#include "tests/lib/suite.h"

Suite *test_suite(void);

static const struct option opts[] = {
    { "home", required_argument, NULL, 'H' },
    { "json", no_argument, NULL, 'j' },
    { "no-wait", no_argument, NULL, 'W' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

START_TEST(closest_option)
{
    static const struct option none[] = { { NULL, 0, NULL, 0 } };
    ck_assert_str_eq(cliopt_closest(opts, "x"), "home"); /* ties: the first */
    ck_assert_str_eq(cliopt_closest(opts, "jsno"), "json");
    ck_assert_str_eq(cliopt_closest(opts, "nowait"), "no-wait");
    ck_assert_str_eq(cliopt_closest(opts, "hlep"), "help");
    ck_assert_ptr_null(cliopt_closest(none, "home"));
}
END_TEST

/* What cliopt_unknown(verb, opts, arg) prints on stderr. */
static const char *unknown_says(const char *arg)
{
    static char buf[512];
    fflush(stderr);
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    int saved = dup(2);
    dup2(fileno(f), 2);
    ck_assert_int_eq(cliopt_unknown("status", opts, arg), ADNET_EXIT_CONFIG);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

START_TEST(messages)
{
    ck_assert_str_eq(unknown_says("--jsno"),
                     "adnet status: unknown option --jsno (did you mean --json?)\n");
    ck_assert_str_eq(unknown_says("--hme=/x"),
                     "adnet status: unknown option --hme=/x (did you mean --home?)\n");
    ck_assert_str_eq(unknown_says("--json=1"), "adnet status: --json takes no value (got --json=1)\n");
    ck_assert_str_eq(unknown_says("-q"), "adnet status: unknown option -q (did you mean --home?)\n");
}
END_TEST

START_TEST(whole_numbers)
{
    uint64_t v = 7;
    ck_assert_int_eq(cliopt_parse_u64("0", &v), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(cliopt_parse_u64("18446744073709551615", &v), 0);
    ck_assert_uint_eq(v, UINT64_MAX);
    ck_assert_int_eq(cliopt_parse_u64("18446744073709551616", &v), -ERANGE);
    static const char *const bad[] = { "", "-1", "+1", " 1", "1 ", "1e3", "0x10", "5x" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(cliopt_parse_u64(bad[i], &v) == -EINVAL, "accepted \"%s\"", bad[i]);
    ck_assert_int_eq(cliopt_parse_u64(NULL, &v), -EINVAL);
    ck_assert_uint_eq(v, UINT64_MAX); /* untouched on failure */
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = { "cliopt", "options", 0, NULL, NULL };
    return suite_build(&spec, SUITE_TESTS(closest_option, messages, whole_numbers));
}
