/* proto/wire.c: big-endian getters and putters, sticky errors, bounds. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "proto/wire.h"
#include "tests/lib/suite.h"

Suite *test_suite(void);

static const uint8_t BYTES[8] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};

START_TEST(test_u8_exact_short_empty)
{
    wire_reader_t r;
    uint8_t v = 0xee;

    wire_reader_init(&r, BYTES, 1);
    ck_assert_int_eq(wire_get_u8(&r, "a", &v), 0);
    ck_assert_uint_eq(v, 0x01);
    ck_assert_int_eq(wire_reader_finish(&r), 0);

    wire_reader_init(&r, BYTES, 0);
    v = 0xee;
    ck_assert_int_eq(wire_get_u8(&r, "a", &v), -EMSGSIZE);
    ck_assert_uint_eq(v, 0xee);
    ck_assert_str_eq(r.what, "a");
    ck_assert_int_eq(wire_reader_finish(&r), -EMSGSIZE);
}
END_TEST

START_TEST(test_u16_exact_short_empty)
{
    wire_reader_t r;
    uint16_t v = 0xeeee;

    wire_reader_init(&r, BYTES, 2);
    ck_assert_int_eq(wire_get_u16(&r, "a", &v), 0);
    ck_assert_uint_eq(v, 0x0102);
    ck_assert_int_eq(wire_reader_finish(&r), 0);

    for (size_t len = 0; len < 2; len++) {
        v = 0xeeee;
        wire_reader_init(&r, BYTES, len);
        ck_assert_int_eq(wire_get_u16(&r, "b", &v), -EMSGSIZE);
        ck_assert_uint_eq(v, 0xeeee);
        ck_assert_str_eq(r.what, "b");
        ck_assert_uint_eq(r.off, 0);
    }
}
END_TEST

START_TEST(test_u32_exact_short_empty)
{
    wire_reader_t r;
    uint32_t v = 0xeeeeeeee;

    wire_reader_init(&r, BYTES, 4);
    ck_assert_int_eq(wire_get_u32(&r, "a", &v), 0);
    ck_assert_uint_eq(v, 0x01020304);
    ck_assert_int_eq(wire_reader_finish(&r), 0);

    for (size_t len = 0; len < 4; len++) {
        v = 0xeeeeeeee;
        wire_reader_init(&r, BYTES, len);
        ck_assert_int_eq(wire_get_u32(&r, "c", &v), -EMSGSIZE);
        ck_assert_uint_eq(v, 0xeeeeeeee);
        ck_assert_str_eq(r.what, "c");
    }
}
END_TEST

START_TEST(test_u64_exact_short_empty)
{
    wire_reader_t r;
    uint64_t v = 7;
    const uint8_t high[8] = {0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88};

    wire_reader_init(&r, BYTES, 8);
    ck_assert_int_eq(wire_get_u64(&r, "a", &v), 0);
    ck_assert_uint_eq(v, 0x0102030405060708ULL);
    ck_assert_int_eq(wire_reader_finish(&r), 0);

    /* High bits survive (no sign extension or truncation to 32 bits). */
    wire_reader_init(&r, high, 8);
    ck_assert_int_eq(wire_get_u64(&r, "a", &v), 0);
    ck_assert_uint_eq(v, 0xffeeddccbbaa9988ULL);

    for (size_t len = 0; len < 8; len++) {
        v = 7;
        wire_reader_init(&r, BYTES, len);
        ck_assert_int_eq(wire_get_u64(&r, "d", &v), -EMSGSIZE);
        ck_assert_uint_eq(v, 7);
        ck_assert_str_eq(r.what, "d");
    }
}
END_TEST

START_TEST(test_bytes_exact_short_empty)
{
    wire_reader_t r;
    uint8_t out[8];

    memset(out, 0xee, sizeof out);
    wire_reader_init(&r, BYTES, 8);
    ck_assert_int_eq(wire_get_bytes(&r, "a", out, 8), 0);
    ck_assert_mem_eq(out, BYTES, 8);
    ck_assert_int_eq(wire_reader_finish(&r), 0);

    /* Zero bytes from an empty buffer is fine. */
    wire_reader_init(&r, NULL, 0);
    ck_assert_int_eq(wire_get_bytes(&r, "z", out, 0), 0);
    ck_assert_int_eq(wire_reader_finish(&r), 0);

    for (size_t len = 0; len < 8; len++) {
        memset(out, 0xee, sizeof out);
        wire_reader_init(&r, BYTES, len);
        ck_assert_int_eq(wire_get_bytes(&r, "e", out, 8), -EMSGSIZE);
        ck_assert_str_eq(r.what, "e");
        for (size_t i = 0; i < sizeof out; i++)
            ck_assert_uint_eq(out[i], 0xee);
    }
}
END_TEST

START_TEST(test_var_exact_short_empty)
{
    const uint8_t buf[] = {0, 0, 0, 3, 'a', 'b', 'c'};
    wire_reader_t r;
    const uint8_t *p = NULL;
    size_t n = 99;

    wire_reader_init(&r, buf, sizeof buf);
    ck_assert_int_eq(wire_get_var(&r, "v", 3, &p, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_ptr_eq(p, buf + 4);
    ck_assert_int_eq(wire_reader_finish(&r), 0);

    for (size_t len = 0; len < sizeof buf; len++) {
        p = NULL;
        n = 99;
        wire_reader_init(&r, buf, len);
        ck_assert_int_eq(wire_get_var(&r, "v", 16, &p, &n), -EMSGSIZE);
        ck_assert_ptr_null(p);
        ck_assert_uint_eq(n, 99);
        ck_assert_str_eq(r.what, "v");
    }

    /* Zero-length field. */
    const uint8_t zero[] = {0, 0, 0, 0};
    wire_reader_init(&r, zero, sizeof zero);
    ck_assert_int_eq(wire_get_var(&r, "v", 0, &p, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(wire_reader_finish(&r), 0);
}
END_TEST

START_TEST(test_var_length_over_max)
{
    const uint8_t buf[] = {0, 0, 0, 4, 'a', 'b', 'c', 'd'};
    wire_reader_t r;
    const uint8_t *p = NULL;
    size_t n = 99;

    wire_reader_init(&r, buf, sizeof buf);
    ck_assert_int_eq(wire_get_var(&r, "field", 3, &p, &n), -EINVAL);
    ck_assert_str_eq(r.what, "field");
    ck_assert_ptr_null(p);
    ck_assert_uint_eq(n, 99);
    /* max == length passes. */
    wire_reader_init(&r, buf, sizeof buf);
    ck_assert_int_eq(wire_get_var(&r, "field", 4, &p, &n), 0);
    ck_assert_uint_eq(n, 4);
}
END_TEST

START_TEST(test_var_length_overflow)
{
    /* Length 0xffffffff after consuming some bytes: off + n would wrap on a
     * 32-bit size_t and is far past the buffer on 64-bit. */
    const uint8_t buf[] = {0xaa, 0xff, 0xff, 0xff, 0xff, 'x', 'y'};
    wire_reader_t r;
    uint8_t skip;
    const uint8_t *p = NULL;
    size_t n = 99;

    wire_reader_init(&r, buf, sizeof buf);
    ck_assert_int_eq(wire_get_u8(&r, "skip", &skip), 0);
    ck_assert_int_eq(wire_get_var(&r, "huge", SIZE_MAX, &p, &n), -EMSGSIZE);
    ck_assert_str_eq(r.what, "huge");
    ck_assert_ptr_null(p);
    ck_assert_uint_eq(r.off, 5);

    /* A reader positioned near SIZE_MAX must not wrap either. */
    wire_reader_t fake = {.buf = buf, .len = SIZE_MAX, .off = SIZE_MAX - 2, .err = 0, .what = NULL};
    uint8_t out[4];
    ck_assert_int_eq(wire_get_bytes(&fake, "wrap", out, 4), -EMSGSIZE);
    ck_assert_uint_eq(fake.off, SIZE_MAX - 2);
}
END_TEST

START_TEST(test_str)
{
    const uint8_t ok[] = {0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'};
    const uint8_t nul[] = {0, 0, 0, 3, 'a', 0, 'b'};
    const uint8_t empty[] = {0, 0, 0, 0};
    char out[6];
    wire_reader_t r;

    wire_reader_init(&r, ok, sizeof ok);
    ck_assert_int_eq(wire_get_str(&r, "s", out, 5), 0);
    ck_assert_str_eq(out, "hello");
    ck_assert_int_eq(wire_reader_finish(&r), 0);

    wire_reader_init(&r, ok, sizeof ok);
    ck_assert_int_eq(wire_get_str(&r, "s", out, 4), -EINVAL);

    strcpy(out, "keep");
    wire_reader_init(&r, nul, sizeof nul);
    ck_assert_int_eq(wire_get_str(&r, "s", out, 5), -EINVAL);
    ck_assert_str_eq(r.what, "s");
    ck_assert_str_eq(out, "keep");

    wire_reader_init(&r, empty, sizeof empty);
    ck_assert_int_eq(wire_get_str(&r, "s", out, 5), 0);
    ck_assert_str_eq(out, "");

    for (size_t len = 0; len < sizeof ok; len++) {
        wire_reader_init(&r, ok, len);
        ck_assert_int_eq(wire_get_str(&r, "s", out, 5), -EMSGSIZE);
    }
}
END_TEST

START_TEST(test_sticky_error)
{
    wire_reader_t r;
    uint32_t v32 = 5;
    uint8_t v8 = 5;

    wire_reader_init(&r, BYTES, 3);
    ck_assert_int_eq(wire_get_u32(&r, "first", &v32), -EMSGSIZE);
    /* One byte is there, but the reader stays failed on the first field. */
    ck_assert_int_eq(wire_get_u8(&r, "second", &v8), -EMSGSIZE);
    ck_assert_uint_eq(v8, 5);
    ck_assert_str_eq(r.what, "first");
    ck_assert_int_eq(wire_reader_finish(&r), -EMSGSIZE);
    ck_assert_str_eq(r.what, "first");
}
END_TEST

START_TEST(test_trailing_bytes)
{
    wire_reader_t r;
    uint32_t v;

    wire_reader_init(&r, BYTES, 5);
    ck_assert_int_eq(wire_get_u32(&r, "a", &v), 0);
    ck_assert_int_eq(wire_reader_finish(&r), -EBADMSG);
    ck_assert_str_eq(r.what, "trailing bytes");

    wire_reader_init(&r, BYTES, 1);
    ck_assert_int_eq(wire_reader_finish(&r), -EBADMSG);
}
END_TEST

START_TEST(test_writer_round_trip)
{
    uint8_t buf[64];
    wire_writer_t w;
    wire_reader_t r;
    uint8_t a;
    uint16_t b;
    uint32_t c;
    uint64_t d;
    uint8_t e[3];
    const uint8_t *p;
    size_t n;
    char s[8];
    const uint8_t expect_head[] = {0xab, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef,
                                   0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};

    wire_writer_init(&w, buf, sizeof buf);
    wire_put_u8(&w, 0xab);
    wire_put_u16(&w, 0x1234);
    wire_put_u32(&w, 0xdeadbeef);
    wire_put_u64(&w, 0x0123456789abcdefULL);
    wire_put_bytes(&w, "xyz", 3);
    wire_put_var(&w, "pq", 2);
    wire_put_str(&w, "hey");
    ck_assert_int_eq(w.err, 0);
    ck_assert_uint_eq(w.len, 1 + 2 + 4 + 8 + 3 + 4 + 2 + 4 + 3);
    ck_assert_mem_eq(buf, expect_head, sizeof expect_head);

    wire_reader_init(&r, buf, w.len);
    ck_assert_int_eq(wire_get_u8(&r, "a", &a), 0);
    ck_assert_int_eq(wire_get_u16(&r, "b", &b), 0);
    ck_assert_int_eq(wire_get_u32(&r, "c", &c), 0);
    ck_assert_int_eq(wire_get_u64(&r, "d", &d), 0);
    ck_assert_int_eq(wire_get_bytes(&r, "e", e, 3), 0);
    ck_assert_int_eq(wire_get_var(&r, "f", 2, &p, &n), 0);
    ck_assert_int_eq(wire_get_str(&r, "g", s, 7), 0);
    ck_assert_int_eq(wire_reader_finish(&r), 0);
    ck_assert_uint_eq(a, 0xab);
    ck_assert_uint_eq(b, 0x1234);
    ck_assert_uint_eq(c, 0xdeadbeef);
    ck_assert_uint_eq(d, 0x0123456789abcdefULL);
    ck_assert_mem_eq(e, "xyz", 3);
    ck_assert_uint_eq(n, 2);
    ck_assert_mem_eq(p, "pq", 2);
    ck_assert_str_eq(s, "hey");
}
END_TEST

START_TEST(test_writer_overflow)
{
    uint8_t buf[8];
    wire_writer_t w;

    /* Each width: exactly full is fine, one past is -ENOBUFS, nothing stored. */
    memset(buf, 0, sizeof buf);
    wire_writer_init(&w, buf, 7);
    wire_put_u32(&w, 0x01020304);
    wire_put_u16(&w, 0x0506);
    wire_put_u8(&w, 0x07);
    ck_assert_int_eq(w.err, 0);
    ck_assert_uint_eq(w.len, 7);
    wire_put_u8(&w, 0x08);
    ck_assert_int_eq(w.err, -ENOBUFS);
    ck_assert_uint_eq(w.len, 7);
    ck_assert_uint_eq(buf[7], 0);

    wire_writer_init(&w, buf, 7);
    wire_put_u64(&w, 1);
    ck_assert_int_eq(w.err, -ENOBUFS);
    ck_assert_uint_eq(w.len, 0);

    /* Sticky: a later small write that would fit stays refused. */
    wire_put_u8(&w, 1);
    ck_assert_int_eq(w.err, -ENOBUFS);
    ck_assert_uint_eq(w.len, 0);

    /* A var field whose prefix fits but body does not stores neither. */
    memset(buf, 0, sizeof buf);
    wire_writer_init(&w, buf, 6);
    wire_put_var(&w, "abc", 3);
    ck_assert_int_eq(w.err, -ENOBUFS);
    ck_assert_uint_eq(w.len, 0);
    ck_assert_uint_eq(buf[3], 0);

    wire_writer_init(&w, buf, 2);
    wire_put_bytes(&w, "abc", 3);
    ck_assert_int_eq(w.err, -ENOBUFS);

    wire_writer_init(&w, buf, 5);
    wire_put_str(&w, "ab");
    ck_assert_int_eq(w.err, -ENOBUFS);

    wire_writer_init(&w, NULL, 0);
    wire_put_u16(&w, 1);
    ck_assert_int_eq(w.err, -ENOBUFS);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "wire", .tcase = "core"};
    return suite_build(&spec, SUITE_TESTS(
        test_u8_exact_short_empty, test_u16_exact_short_empty, test_u32_exact_short_empty,
        test_u64_exact_short_empty, test_bytes_exact_short_empty, test_var_exact_short_empty,
        test_var_length_over_max, test_var_length_overflow, test_str, test_sticky_error,
        test_trailing_bytes, test_writer_round_trip, test_writer_overflow));
}
