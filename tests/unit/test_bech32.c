/* common/bech32.c: BIP-350 test vectors, addresses of known keys (computed
 * with an independent implementation), refusals with their reasons, and
 * every single-character error in an address refused. */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/base/bech32.h"
#include "common/base/hex.h"
#include "tests/lib/suite.h"

Suite *test_suite(void);

#define CHARSET "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

/* A second, plain checksum residue straight from the BIP text, so the
 * vectors below are checked without trusting common/bech32.c. */
static uint32_t ref_residue(const char *s)
{
    static const uint32_t gen[5] = { 0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3 };
    uint32_t values[256]; /* the hrp twice, a 0 and the data: < 180 */
    size_t nv = 0, n = strlen(s);
    ck_assert_uint_le(n, 90);
    const char *sep = strrchr(s, '1');
    size_t hl = (size_t)(sep - s);
    for (size_t i = 0; i < hl; i++)
        values[nv++] = (uint32_t)tolower((unsigned char)s[i]) >> 5;
    values[nv++] = 0;
    for (size_t i = 0; i < hl; i++)
        values[nv++] = (uint32_t)tolower((unsigned char)s[i]) & 31;
    for (size_t i = hl + 1; i < n; i++)
        values[nv++] = (uint32_t)(strchr(CHARSET, tolower((unsigned char)s[i])) - CHARSET);
    uint32_t chk = 1;
    for (size_t i = 0; i < nv; i++) {
        uint32_t b = chk >> 25;
        chk = (chk & 0x1ffffff) << 5 ^ values[i];
        for (int j = 0; j < 5; j++)
            chk ^= ((b >> j) & 1) ? gen[j] : 0;
    }
    return chk;
}

static void lowercase(char *dst, const char *src)
{
    while (*src)
        *dst++ = (char)tolower((unsigned char)*src++);
    *dst = '\0';
}

/* BIP-350 "valid bech32m" vectors. Their data is 5-bit; where it also reads
 * as whole bytes, data_hex is what it decodes to; one vector's 82 data
 * characters leave 2 non-zero padding bits, which a byte decoder refuses. */
static const struct {
    const char *s, *hrp, *data_hex, *refusal;
} valid[] = {
    { "A1LQFN3A", "a", "", NULL },
    { "a1lqfn3a", "a", "", NULL },
    { "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
      "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber1", "",
      NULL },
    { "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx", "abcdef",
      "ffbbcdeb38bdab49ca307b9ac5a928398a418820", NULL },
    { "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
      "1", NULL, "bad padding" },
    { "split1checkupstagehandshakeupstreamerranterredcaperredlc445v", "split",
      "c5f38b70305f519bf66d85fb6cf03058f3dde463ecd7918f2dc743918f2d", NULL },
    { "?1v759aa", "?", "", NULL },
};

START_TEST(test_bip350_valid)
{
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        const char *s = valid[i].s;
        char hrp[96], lower[96], again[96], hex[200];
        uint8_t data[64];
        size_t len = 999;
        const char *why = "untouched";

        ck_assert_msg(ref_residue(s) == 0x2bc830a3, "vector %s", s);
        int r = bech32m_decode(hrp, sizeof hrp, data, sizeof data, &len, s, &why);
        if (valid[i].refusal) {
            ck_assert_int_eq(r, -EINVAL);
            ck_assert_str_eq(why, valid[i].refusal);
            ck_assert_uint_eq(len, 999);
            continue;
        }
        ck_assert_msg(r == 0, "%s: %s", s, why);
        ck_assert_str_eq(why, "untouched");
        ck_assert_str_eq(hrp, valid[i].hrp);
        hex_encode(hex, data, len);
        ck_assert_str_eq(hex, valid[i].data_hex);
        /* One string for one value: re-encoding gives the lowercase input. */
        ck_assert_int_eq(bech32m_encode(again, sizeof again, hrp, data, len), 0);
        lowercase(lower, s);
        ck_assert_str_eq(again, lower);
    }
}
END_TEST

/* BIP-350 "invalid bech32m" vectors, each with the reason given. */
static const struct {
    const char *s, *why;
} invalid[] = {
    { "\x20" "1xj0phk", "bad character" },   /* hrp character out of range */
    { "\x7f" "1g6xzxy", "bad character" },
    { "\x80" "1vctc34", "bad character" },
    { "an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",
      "too long" },
    { "qyrz8wqd2c9m", "no separator" },
    { "1qyrz8wqd2c9m", "empty prefix" },
    { "y1b0jsk6g", "bad character" },        /* 'b' is not a data character */
    { "lt1igcx5c0", "bad character" },       /* 'i' */
    { "in1muywd", "too short" },             /* 5-character checksum */
    { "mm1crxm3i", "bad character" },        /* 'i' in the checksum */
    { "au1s5cgom", "bad character" },        /* 'o' in the checksum */
    { "M1VUXWEZ", "bad checksum" },          /* computed over the uppercase hrp */
    { "16plkw9", "empty prefix" },
    { "1p2gdwpf", "empty prefix" },
    /* and more of the same kinds */
    { "", "no separator" },
    { "a1", "too short" },
    { "A1lqfn3a", "mixed case" },
    { "a1lqfn3a\x7f", "bad character" },
    { "a 1lqfn3a", "bad character" },
};

START_TEST(test_bip350_invalid)
{
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        char hrp[96] = "untouched";
        uint8_t data[64];
        size_t len = 999;
        const char *why = NULL;
        int r = bech32m_decode(hrp, sizeof hrp, data, sizeof data, &len, invalid[i].s, &why);
        ck_assert_msg(r == -EINVAL, "vector %zu accepted", i);
        ck_assert_msg(why && strcmp(why, invalid[i].why) == 0, "vector %zu: %s, want %s", i,
                      why ? why : "(null)", invalid[i].why);
        ck_assert_str_eq(hrp, "untouched");
        ck_assert_uint_eq(len, 999);
        uint8_t pk[32] = { 0 };
        why = NULL;
        ck_assert_int_eq(address_decode(pk, invalid[i].s, &why), -EINVAL);
        ck_assert_str_eq(why, invalid[i].why);
    }
}
END_TEST

/* BIP-173 bech32 strings check under constant 1: named, not just "bad". */
START_TEST(test_bech32_is_not_bech32m)
{
    static const char *const old[] = {
        "A12UEL5L",
        "a12uel5l",
        "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
        "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
        /* the key 00 01 .. 1f as "ad" under the bech32 constant */
        "ad1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0scn4prl",
    };
    for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
        char hrp[96];
        uint8_t data[64];
        size_t len;
        const char *why = NULL;
        ck_assert_uint_eq(ref_residue(old[i]), 1);
        ck_assert_int_eq(bech32m_decode(hrp, sizeof hrp, data, sizeof data, &len, old[i], &why),
                         -EINVAL);
        ck_assert_str_eq(why, "not bech32m");
    }
    uint8_t pk[32];
    const char *why = NULL;
    ck_assert_int_eq(address_decode(pk, old[4], &why), -EINVAL);
    ck_assert_str_eq(why, "not bech32m");
}
END_TEST

/* Addresses of fixed keys, computed with an independent implementation. */
static const struct {
    const char *pk_hex, *addr;
} known[] = {
    { "0000000000000000000000000000000000000000000000000000000000000000",
      "ad1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqymw0xy" },
    { "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
      "ad1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0sd09dxa" },
    { "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
      "ad1lllllllllllllllllllllllllllllllllllllllllllllllllllsx9d70n" },
    { "abababababababababababababababababababababababababababababababab",
      "ad14w46h2at4w46h2at4w46h2at4w46h2at4w46h2at4w46h2at4w4s7jglkd" },
};

START_TEST(test_address_known)
{
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        uint8_t pk[32], back[32];
        char addr[ADDRESS_MAX], upper[ADDRESS_MAX];
        const char *why = "untouched";
        ck_assert_int_eq(hex_decode(pk, 32, known[i].pk_hex), 0);
        memset(addr, 'X', sizeof addr);
        ck_assert_int_eq(address_encode(addr, pk), 0);
        ck_assert_str_eq(addr, known[i].addr);
        ck_assert_uint_eq(strlen(addr), 61);
        ck_assert_uint_eq(ref_residue(addr), 0x2bc830a3);
        memset(back, 0x5a, sizeof back);
        ck_assert_int_eq(address_decode(back, addr, &why), 0);
        ck_assert_mem_eq(back, pk, 32);
        ck_assert_str_eq(why, "untouched");
        for (size_t j = 0; j <= strlen(addr); j++)
            upper[j] = (char)toupper((unsigned char)addr[j]);
        memset(back, 0x5a, sizeof back);
        ck_assert_int_eq(address_decode(back, upper, NULL), 0);
        ck_assert_mem_eq(back, pk, 32);
    }
}
END_TEST

START_TEST(test_address_refusals)
{
    static const struct {
        const char *s, *why;
    } bad[] = {
        /* a valid bech32m string under another hrp */
        { "bc1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqgwwkj3", "wrong prefix" },
        { "a1lqfn3a", "wrong prefix" },
        /* 31 and 33 zero bytes under "ad" */
        { "ad1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq5dxpgh", "wrong length" },
        { "ad1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq640z2z", "wrong length" },
        /* 32 zero bytes, but the 4 padding bits are 0001 */
        { "ad1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqped66mk", "bad padding" },
        /* one data character: 5 bits of padding and no byte */
        { "ad1qjewqud", "bad padding" },
        { "AD1QQQSYQCYQ5RQWZQFPG9SCRGWPUGPZYSNZS23V9CCRYDPK8QARC0SD09DXa", "mixed case" },
        { "ad1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0sd09dxb", "bad character" },
        { "ad1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0sd09dx", "bad checksum" },
        { "ad1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0sd09dxaq", "bad checksum" },
        { "adqqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0sd09dxa", "no separator" },
        { " ad1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0sd09dxa", "bad character" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t pk[32];
        const char *why = NULL;
        memset(pk, 0x5a, sizeof pk);
        ck_assert_int_eq(address_decode(pk, bad[i].s, &why), -EINVAL);
        ck_assert_msg(why && strcmp(why, bad[i].why) == 0, "case %zu: %s, want %s", i,
                      why ? why : "(null)", bad[i].why);
        for (size_t j = 0; j < 32; j++)
            ck_assert_int_eq(pk[j], 0x5a);
    }
    /* The ones that are bech32m at all decode generically. */
    char hrp[8];
    uint8_t data[64];
    size_t len = 0;
    ck_assert_int_eq(bech32m_decode(hrp, sizeof hrp, data, sizeof data, &len, bad[0].s, NULL), 0);
    ck_assert_str_eq(hrp, "bc");
    ck_assert_uint_eq(len, 32);
    ck_assert_int_eq(bech32m_decode(hrp, sizeof hrp, data, sizeof data, &len, bad[3].s, NULL), 0);
    ck_assert_str_eq(hrp, "ad");
    ck_assert_uint_eq(len, 33);
}
END_TEST

START_TEST(test_random_round_trips)
{
    ck_assert_int_ge(sodium_init(), 0);
    for (int i = 0; i < 2000; i++) {
        uint8_t pk[32], back[32];
        char addr[ADDRESS_MAX];
        randombytes_buf(pk, sizeof pk);
        ck_assert_int_eq(address_encode(addr, pk), 0);
        ck_assert_uint_eq(strlen(addr), 61);
        ck_assert(strncmp(addr, "ad1", 3) == 0);
        ck_assert_uint_eq(ref_residue(addr), 0x2bc830a3);
        for (size_t j = 3; j < 61; j++)
            ck_assert_ptr_nonnull(strchr(CHARSET, addr[j]));
        ck_assert_int_eq(address_decode(back, addr, NULL), 0);
        ck_assert_mem_eq(back, pk, 32);
    }
}
END_TEST

/* Bech32m detects every single substitution: none may decode, to any key. */
START_TEST(test_single_substitutions_refused)
{
    ck_assert_int_ge(sodium_init(), 0);
    static const char others[] = CHARSET "bio1ABXZ!~";
    size_t tried = 0;
    for (int k = 0; k < 8; k++) {
        uint8_t pk[32], got[32];
        char addr[ADDRESS_MAX], mutated[ADDRESS_MAX];
        randombytes_buf(pk, sizeof pk);
        ck_assert_int_eq(address_encode(addr, pk), 0);
        size_t n = strlen(addr);
        for (size_t pos = 0; pos < n; pos++) {
            for (size_t c = 0; c < sizeof(others) - 1; c++) {
                if (others[c] == addr[pos])
                    continue;
                memcpy(mutated, addr, n + 1);
                mutated[pos] = others[c];
                const char *why = NULL;
                memset(got, 0x5a, sizeof got);
                int r = address_decode(got, mutated, &why);
                ck_assert_msg(r == -EINVAL, "accepted %s", mutated);
                ck_assert_ptr_nonnull(why);
                ck_assert_int_eq(got[0], 0x5a);
                /* Away from the separator, a charset character can only fail
                 * the checksum (the hrp is part of what it covers). */
                if (pos != 2 && strchr(CHARSET, others[c]))
                    ck_assert_str_eq(why, "bad checksum");
                tried++;
            }
        }
    }
    ck_assert_uint_gt(tried, 8 * 61 * 31);
}
END_TEST

/* Transposing two neighbours and dropping or doubling a character. */
START_TEST(test_other_typos_refused)
{
    uint8_t pk[32];
    char addr[ADDRESS_MAX], m[ADDRESS_MAX + 1];
    ck_assert_int_eq(hex_decode(pk, 32, known[1].pk_hex), 0);
    ck_assert_int_eq(address_encode(addr, pk), 0);
    size_t n = strlen(addr);
    for (size_t i = 3; i + 1 < n; i++) {
        if (addr[i] == addr[i + 1])
            continue;
        memcpy(m, addr, n + 1);
        m[i] = addr[i + 1];
        m[i + 1] = addr[i];
        ck_assert_msg(address_decode(pk, m, NULL) == -EINVAL, "swap at %zu accepted", i);
    }
    for (size_t i = 3; i < n; i++) {
        memcpy(m, addr, i);
        memcpy(m + i, addr + i + 1, n - i); /* drop addr[i] */
        ck_assert_int_eq(address_decode(pk, m, NULL), -EINVAL);
        memcpy(m, addr, i + 1);
        memcpy(m + i + 1, addr + i, n - i + 1); /* double addr[i] */
        ck_assert_int_eq(address_decode(pk, m, NULL), -EINVAL);
    }
}
END_TEST

START_TEST(test_encode_refusals)
{
    char out[128];
    uint8_t data[60] = { 0 };
    static const char hrp83[] =
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    ck_assert_uint_eq(strlen(hrp83), 83);

    ck_assert_int_eq(bech32m_encode(out, sizeof out, "", data, 1), -EINVAL);
    ck_assert_int_eq(bech32m_encode(out, sizeof out, NULL, data, 1), -EINVAL);
    ck_assert_int_eq(bech32m_encode(out, sizeof out, "AD", data, 1), -EINVAL);
    ck_assert_int_eq(bech32m_encode(out, sizeof out, "a d", data, 1), -EINVAL);
    ck_assert_int_eq(bech32m_encode(out, sizeof out, "a\x7f", data, 1), -EINVAL);
    ck_assert_int_eq(bech32m_encode(out, sizeof out, "a\x80", data, 1), -EINVAL);
    ck_assert_int_eq(bech32m_encode(out, sizeof out, "ad", NULL, 1), -EINVAL);

    /* 90 characters is the limit: 83 + 1 + 6 fits, one more byte does not. */
    ck_assert_int_eq(bech32m_encode(out, sizeof out, hrp83, data, 0), 0);
    ck_assert_uint_eq(strlen(out), 90);
    ck_assert_int_eq(bech32m_encode(out, sizeof out, hrp83, data, 1), -EINVAL);
    /* 51 bytes are 82 characters: with "a" that is 90. */
    ck_assert_int_eq(bech32m_encode(out, sizeof out, "a", data, 51), 0);
    ck_assert_uint_eq(strlen(out), 90);
    ck_assert_int_eq(bech32m_encode(out, sizeof out, "a", data, 52), -EINVAL);

    /* The output buffer needs room for the NUL too. */
    ck_assert_int_eq(bech32m_encode(out, 61, "ad", data, 32), -ENOBUFS);
    ck_assert_int_eq(bech32m_encode(out, 62, "ad", data, 32), 0);
    ck_assert_str_eq(out, known[0].addr);

    /* The empty payload and an hrp with '1' in it (the last '1' separates). */
    ck_assert_int_eq(bech32m_encode(out, sizeof out, "a", NULL, 0), 0);
    ck_assert_str_eq(out, "a1lqfn3a");
    ck_assert_int_eq(bech32m_encode(out, sizeof out, "x", (const uint8_t *)"\x00\xff\x10", 3), 0);
    ck_assert_str_eq(out, "x1qrl3qyjtguj");
}
END_TEST

START_TEST(test_decode_buffers)
{
    char hrp[8] = "keep";
    uint8_t data[32];
    size_t len = 7;
    const char *why = NULL;
    /* hrp "ad" needs 3 bytes, 33 bytes of data do not fit in 32. */
    ck_assert_int_eq(bech32m_decode(hrp, 2, data, sizeof data, &len, known[0].addr, &why),
                     -ENOBUFS);
    ck_assert_str_eq(why, "buffer too small");
    ck_assert_int_eq(bech32m_decode(hrp, sizeof hrp, data, 31, &len, known[0].addr, &why),
                     -ENOBUFS);
    ck_assert_str_eq(hrp, "keep");
    ck_assert_uint_eq(len, 7);
    ck_assert_int_eq(bech32m_decode(hrp, 3, data, 32, &len, known[0].addr, &why), 0);
    ck_assert_str_eq(hrp, "ad");
    ck_assert_uint_eq(len, 32);
    /* An empty payload needs no data buffer at all. */
    ck_assert_int_eq(bech32m_decode(hrp, sizeof hrp, NULL, 0, &len, "a1lqfn3a", &why), 0);
    ck_assert_uint_eq(len, 0);
    why = NULL;
    ck_assert_int_eq(bech32m_decode(hrp, sizeof hrp, data, sizeof data, &len, NULL, &why), -EINVAL);
    ck_assert_ptr_nonnull(why);
    ck_assert_int_eq(address_decode(data, NULL, NULL), -EINVAL);
}
END_TEST

/* A string with several faults names the first one the decoder meets:
 * characters and case, then the separator and lengths, then the data
 * alphabet, the checksum, and only then the padding. */
START_TEST(test_reason_precedence)
{
    static const struct {
        const char *s, *why;
    } cases[] = {
        { "aB1 qqqqqq", "bad character" }, /* also mixed case */
        { "Ab", "mixed case" },            /* also no separator */
        { "1qq", "empty prefix" },         /* also too short */
        { "a1qqqqq", "too short" },
        { "a1qqqqqqb", "bad character" },  /* 'b' is no data character; checksum bad too */
        { "ad1qjewquq", "bad checksum" },  /* padding bad too */
        { "a1pv7wwwr", "not bech32m" },    /* bech32, and padding bad too */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char hrp[16];
        uint8_t data[16];
        size_t len = 0;
        const char *why = NULL;
        ck_assert_int_eq(bech32m_decode(hrp, sizeof hrp, data, sizeof data, &len, cases[i].s, &why),
                         -EINVAL);
        ck_assert_msg(why && strcmp(why, cases[i].why) == 0, "case %zu: %s, want %s", i,
                      why ? why : "(null)", cases[i].why);
    }
    ck_assert_uint_eq(ref_residue("a1pv7wwwr"), 1);
    ck_assert_uint_ne(ref_residue("ad1qjewquq"), 1);
    ck_assert_uint_ne(ref_residue("ad1qjewquq"), 0x2bc830a3);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "bech32", .tcase = "core"};
    return suite_build(&spec, SUITE_TESTS(
        test_bip350_valid, test_bip350_invalid, test_bech32_is_not_bech32m, test_address_known,
        test_address_refusals, test_random_round_trips, test_single_substitutions_refused,
        test_other_typos_refused, test_encode_refusals, test_decode_buffers,
        test_reason_precedence));
}
