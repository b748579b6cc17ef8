/* proto/notify.c: the worker -> supervisor notification codec. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/notify.h"
#include "tests/lib/suite.h"

Suite *test_suite(void);

static const notify_kind_t KINDS[] = {NOTIFY_READY, NOTIFY_HEARTBEAT, NOTIFY_BLOCK};

static void poison(notify_msg_t *m)
{
    memset(m, 0xa5, sizeof *m);
}

static int is_poisoned(const notify_msg_t *m)
{
    notify_msg_t p;
    poison(&p);
    return memcmp(m, &p, sizeof p) == 0;
}

/* A valid encoding of kind k, height 0x0102030405060708, time 0x1112...18. */
static void valid_bytes(uint8_t buf[NOTIFY_MSG_LEN], uint8_t kind)
{
    static const uint8_t tmpl[NOTIFY_MSG_LEN] = {
        1, 0, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
        0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18};
    memcpy(buf, tmpl, NOTIFY_MSG_LEN);
    buf[1] = kind;
}

START_TEST(test_encode_layout)
{
    notify_msg_t m = {NOTIFY_BLOCK, 0x0102030405060708ULL, 0x1112131415161718ULL, ""};
    uint8_t buf[NOTIFY_MSG_LEN + 4], want[NOTIFY_MSG_LEN];
    memset(buf, 0xee, sizeof buf);
    ck_assert_int_eq(notify_encode(&m, buf, sizeof buf), NOTIFY_MSG_LEN);
    valid_bytes(want, 3);
    ck_assert_mem_eq(buf, want, NOTIFY_MSG_LEN);
    ck_assert_int_eq(buf[NOTIFY_MSG_LEN], 0xee); /* nothing past the message */
}
END_TEST

START_TEST(test_round_trip_each_kind)
{
    static const uint64_t heights[] = {0, 1, 5, UINT32_MAX, UINT64_MAX};
    static const uint64_t times[] = {0, 1795647001123ULL, UINT64_MAX};
    for (size_t k = 0; k < 3; k++)
        for (size_t h = 0; h < 5; h++)
            for (size_t t = 0; t < 3; t++) {
                notify_msg_t m = {KINDS[k], heights[h], times[t], ""}, back;
                uint8_t buf[NOTIFY_MSG_LEN];
                const char *what = NULL;
                ck_assert_int_eq(notify_encode(&m, buf, sizeof buf), NOTIFY_MSG_LEN);
                ck_assert_int_eq(buf[0], NOTIFY_VERSION);
                ck_assert_int_eq(buf[1], (int)KINDS[k]);
                poison(&back);
                ck_assert_int_eq(notify_decode(&back, buf, sizeof buf, &what), 0);
                ck_assert_int_eq(back.kind, m.kind);
                ck_assert_uint_eq(back.height, m.height);
                ck_assert_uint_eq(back.time_ms, m.time_ms);
            }
}
END_TEST

START_TEST(test_decode_values)
{
    uint8_t buf[NOTIFY_MSG_LEN];
    notify_msg_t m;
    valid_bytes(buf, 2);
    ck_assert_int_eq(notify_decode(&m, buf, sizeof buf, NULL), 0);
    ck_assert_int_eq(m.kind, NOTIFY_HEARTBEAT);
    ck_assert_uint_eq(m.height, 0x0102030405060708ULL);
    ck_assert_uint_eq(m.time_ms, 0x1112131415161718ULL);
}
END_TEST

START_TEST(test_decode_every_truncation)
{
    uint8_t buf[NOTIFY_MSG_LEN];
    valid_bytes(buf, 1);
    for (size_t len = 0; len < NOTIFY_MSG_LEN; len++) {
        notify_msg_t m;
        const char *what = NULL;
        poison(&m);
        /* Exact-size copy so a sanitizer sees any overread. */
        uint8_t *copy = malloc(len ? len : 1);
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, buf, len);
        ck_assert_msg(notify_decode(&m, copy, len, &what) == -EBADMSG, "len %zu", len);
        ck_assert_ptr_nonnull(what);
        ck_assert(is_poisoned(&m));
        free(copy);
    }
}
END_TEST

START_TEST(test_decode_trailing_byte)
{
    uint8_t buf[NOTIFY_MSG_LEN + 1];
    notify_msg_t m;
    const char *what = NULL;
    valid_bytes(buf, 1);
    buf[NOTIFY_MSG_LEN] = 0;
    poison(&m);
    ck_assert_int_eq(notify_decode(&m, buf, sizeof buf, &what), -EBADMSG);
    ck_assert_ptr_nonnull(what);
    ck_assert_str_eq(what, "trailing bytes");
    ck_assert(is_poisoned(&m));
}
END_TEST

START_TEST(test_decode_unknown_version)
{
    static const uint8_t versions[] = {0, 2, 0xff};
    for (size_t i = 0; i < sizeof versions; i++) {
        uint8_t buf[NOTIFY_MSG_LEN];
        notify_msg_t m;
        const char *what = NULL;
        valid_bytes(buf, 1);
        buf[0] = versions[i];
        poison(&m);
        ck_assert_int_eq(notify_decode(&m, buf, sizeof buf, &what), -EPROTONOSUPPORT);
        ck_assert_ptr_nonnull(what);
        ck_assert_str_eq(what, "version");
        ck_assert(is_poisoned(&m));
        /* what is optional. */
        ck_assert_int_eq(notify_decode(&m, buf, sizeof buf, NULL), -EPROTONOSUPPORT);
    }
}
END_TEST

START_TEST(test_decode_unknown_kind)
{
    static const uint8_t kinds[] = {0, 5, 0x80, 0xff};
    for (size_t i = 0; i < sizeof kinds; i++) {
        uint8_t buf[NOTIFY_MSG_LEN];
        notify_msg_t m;
        const char *what = NULL;
        valid_bytes(buf, kinds[i]);
        poison(&m);
        ck_assert_int_eq(notify_decode(&m, buf, sizeof buf, &what), -EBADMSG);
        ck_assert_ptr_nonnull(what);
        ck_assert_str_eq(what, "kind");
        ck_assert(is_poisoned(&m));
    }
}
END_TEST

START_TEST(test_encode_refuses_bad_kind)
{
    static const int bad[] = {0, 5, 99, -1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        notify_msg_t m = {(notify_kind_t)bad[i], 1, 2, ""};
        uint8_t buf[NOTIFY_MSG_LEN];
        memset(buf, 0xee, sizeof buf);
        ck_assert_int_eq(notify_encode(&m, buf, sizeof buf), -EINVAL);
        for (size_t j = 0; j < sizeof buf; j++)
            ck_assert_int_eq(buf[j], 0xee);
    }
}
END_TEST

START_TEST(test_encode_short_buffer)
{
    /* A buffer under NOTIFY_MSG_LEN is refused (the writer's -ENOBUFS). */
    notify_msg_t m = {NOTIFY_READY, 1, 2, ""};
    uint8_t buf[NOTIFY_MSG_LEN];
    ck_assert_int_lt(notify_encode(&m, buf, NOTIFY_MSG_LEN - 1), 0);
    ck_assert_int_lt(notify_encode(&m, buf, 0), 0);
}
END_TEST

/* HALTED carries its reason after the tip: u32 length, then the bytes. */
START_TEST(test_halted_round_trip)
{
    notify_msg_t m = {NOTIFY_HALTED, 41, 1795647001123ULL, "disk full: ledger.db"}, back;
    uint8_t buf[NOTIFY_MSG_MAX];
    const char *what = NULL;
    size_t n = strlen(m.reason);
    ck_assert_int_eq(notify_encode(&m, buf, sizeof buf), (int)(NOTIFY_MSG_LEN + 4 + n));
    ck_assert_int_eq(buf[1], NOTIFY_HALTED);
    ck_assert_int_eq(buf[NOTIFY_MSG_LEN + 3], (int)n);
    ck_assert_mem_eq(buf + NOTIFY_MSG_LEN + 4, m.reason, n);
    poison(&back);
    ck_assert_int_eq(notify_decode(&back, buf, NOTIFY_MSG_LEN + 4 + n, &what), 0);
    ck_assert_int_eq(back.kind, NOTIFY_HALTED);
    ck_assert_uint_eq(back.height, 41);
    ck_assert_str_eq(back.reason, m.reason);
    /* Every truncation and a trailing byte are refused. */
    buf[NOTIFY_MSG_LEN + 4 + n] = 'x';
    for (size_t len = 0; len <= NOTIFY_MSG_LEN + 5 + n; len++) {
        if (len == NOTIFY_MSG_LEN + 4 + n)
            continue; /* the valid length */
        uint8_t *copy = malloc(len ? len : 1);
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, buf, len);
        poison(&back);
        ck_assert_msg(notify_decode(&back, copy, len, &what) == -EBADMSG, "len %zu", len);
        ck_assert(is_poisoned(&back));
        free(copy);
    }
}
END_TEST

/* A reason must be 1..NOTIFY_REASON_MAX printable bytes without quote or
 * backslash, on HALTED only; decode holds the wire to the same rule. */
START_TEST(test_halted_reason_rules)
{
    notify_msg_t m = {NOTIFY_HALTED, 1, 2, ""};
    uint8_t buf[NOTIFY_MSG_MAX + 8];
    const char *what = NULL;
    ck_assert_int_eq(notify_encode(&m, buf, sizeof buf), -EINVAL);
    strcpy(m.reason, "say \"no\"");
    ck_assert_int_eq(notify_encode(&m, buf, sizeof buf), -EINVAL);
    strcpy(m.reason, "tab\there");
    ck_assert_int_eq(notify_encode(&m, buf, sizeof buf), -EINVAL);
    notify_msg_t other = {NOTIFY_HEARTBEAT, 1, 2, "x"};
    ck_assert_int_eq(notify_encode(&other, buf, sizeof buf), -EINVAL);
    strcpy(m.reason, "ok");
    ck_assert_int_lt(notify_encode(&m, buf, NOTIFY_MSG_LEN + 5), 0); /* no room */
    int n = notify_encode(&m, buf, sizeof buf);
    ck_assert_int_eq(n, NOTIFY_MSG_LEN + 6);
    buf[NOTIFY_MSG_LEN + 4] = 0x07; /* a control byte on the wire */
    ck_assert_int_eq(notify_decode(&m, buf, (size_t)n, &what), -EBADMSG);
    ck_assert_str_eq(what, "reason");
    /* A length over NOTIFY_REASON_MAX is refused before any byte is read. */
    memset(buf + NOTIFY_MSG_LEN, 0, 4);
    buf[NOTIFY_MSG_LEN + 2] = (NOTIFY_REASON_MAX + 1) >> 8;
    buf[NOTIFY_MSG_LEN + 3] = (NOTIFY_REASON_MAX + 1) & 0xff;
    ck_assert_int_eq(notify_decode(&m, buf, NOTIFY_MSG_LEN + 4, &what), -EBADMSG);
    ck_assert_str_eq(what, "reason");
    /* An empty reason on the wire. */
    memset(buf + NOTIFY_MSG_LEN, 0, 4);
    ck_assert_int_eq(notify_decode(&m, buf, NOTIFY_MSG_LEN + 4, &what), -EBADMSG);
}
END_TEST

START_TEST(test_reason_set_sanitizes)
{
    char out[NOTIFY_REASON_MAX + 1], longer[2 * NOTIFY_REASON_MAX];
    notify_reason_set(out, "a \"b\"\n\xc3\xa9\\");
    ck_assert_str_eq(out, "a 'b'????");
    notify_reason_set(out, "");
    ck_assert_str_eq(out, "unknown");
    memset(longer, 'z', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    notify_reason_set(out, longer);
    ck_assert_uint_eq(strlen(out), NOTIFY_REASON_MAX);
    notify_msg_t m = {NOTIFY_HALTED, 0, 0, ""};
    notify_reason_set(m.reason, "x\x01y");
    uint8_t buf[NOTIFY_MSG_MAX];
    ck_assert_int_gt(notify_encode(&m, buf, sizeof buf), 0);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "notify", .tcase = "core"};
    return suite_build(&spec, SUITE_TESTS(
        test_encode_layout, test_round_trip_each_kind, test_decode_values,
        test_decode_every_truncation, test_decode_trailing_byte, test_decode_unknown_version,
        test_decode_unknown_kind, test_encode_refuses_bad_kind, test_encode_short_buffer,
        test_halted_round_trip, test_halted_reason_rules, test_reason_set_sanitizes));
}
