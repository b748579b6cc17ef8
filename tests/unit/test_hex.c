/* common/hex.c: lowercase encoding, strict decoding, output untouched on refusal. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "common/base/hex.h"
#include "tests/lib/suite.h"

Suite *test_suite(void);

START_TEST(test_encode_lowercase)
{
    const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[2 * sizeof in + 1];
    memset(out, 'X', sizeof out);
    hex_encode(out, in, sizeof in);
    ck_assert_str_eq(out, "00017f80abff");
    ck_assert_int_eq(out[2 * sizeof in], '\0');
}
END_TEST

START_TEST(test_encode_empty)
{
    char out[1] = {'X'};
    hex_encode(out, (const uint8_t *)"", 0);
    ck_assert_int_eq(out[0], '\0');
}
END_TEST

START_TEST(test_round_trip_all_bytes)
{
    uint8_t in[256], back[256];
    char text[2 * 256 + 1];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)i;
    hex_encode(text, in, sizeof in);
    ck_assert_uint_eq(strlen(text), 512);
    memset(back, 0, sizeof back);
    ck_assert_int_eq(hex_decode(back, sizeof back, text), 0);
    ck_assert_mem_eq(back, in, sizeof in);
}
END_TEST

START_TEST(test_decode_uppercase_and_mixed)
{
    uint8_t out[4];
    ck_assert_int_eq(hex_decode(out, 4, "DEADBEEF"), 0);
    ck_assert_mem_eq(out, "\xde\xad\xbe\xef", 4);
    ck_assert_int_eq(hex_decode(out, 4, "0aF9bC1d"), 0);
    ck_assert_mem_eq(out, "\x0a\xf9\xbc\x1d", 4);
}
END_TEST

START_TEST(test_decode_zero_length)
{
    uint8_t out[1] = {0x5a};
    ck_assert_int_eq(hex_decode(out, 0, ""), 0);
    ck_assert_int_eq(out[0], 0x5a);
    ck_assert_int_eq(hex_decode(out, 0, "00"), -EINVAL);
}
END_TEST

/* Each refusal must return -EINVAL and leave every byte of out as it was. */
static void assert_refused(size_t n, const char *in)
{
    uint8_t out[8];
    memset(out, 0xa5, sizeof out);
    ck_assert_int_eq(hex_decode(out, n, in), -EINVAL);
    for (size_t i = 0; i < sizeof out; i++)
        ck_assert_int_eq(out[i], 0xa5);
}

START_TEST(test_decode_refusals)
{
    assert_refused(2, "abc");        /* odd length */
    assert_refused(2, "abcdef");     /* too long for n */
    assert_refused(2, "ab");         /* too short for n */
    assert_refused(2, "");
    assert_refused(2, "abcg");       /* non-hex last digit */
    assert_refused(2, "zbcd");       /* non-hex first digit */
    assert_refused(2, "ab d");
    assert_refused(2, "0x12");
    assert_refused(2, "ab-d");
    assert_refused(4, "0011223G");   /* bad char after good bytes: still untouched */
    assert_refused(1, "\xc3\xa9");   /* non-ASCII */
    assert_refused(2, NULL);
}
END_TEST

START_TEST(test_decode_long_input)
{
    /* Whole transactions are hex too: no small size bound. */
    enum { N = 20000 };
    static char text[2 * N + 1];
    static uint8_t out[N];
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < N; i++) {
        text[2 * i] = d[(i >> 4) & 15];
        text[2 * i + 1] = d[i & 15];
    }
    text[2 * N] = '\0';
    ck_assert_int_eq(hex_decode(out, N, text), 0);
    for (size_t i = 0; i < N; i++)
        ck_assert_uint_eq(out[i], i & 0xff);
    /* A bad digit at the very end still leaves out untouched. */
    memset(out, 0xa5, sizeof out);
    text[2 * N - 1] = 'x';
    ck_assert_int_eq(hex_decode(out, N, text), -EINVAL);
    ck_assert_uint_eq(out[0], 0xa5);
    ck_assert_uint_eq(out[N - 1], 0xa5);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "hex", .tcase = "core"};
    return suite_build(&spec, SUITE_TESTS(
        test_encode_lowercase, test_encode_empty, test_round_trip_all_bytes,
        test_decode_uppercase_and_mixed, test_decode_zero_length, test_decode_refusals,
        test_decode_long_input));
}
