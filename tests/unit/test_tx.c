/* proto/tx: canonical encoding, signatures bound to the chain, ids, roots. */
#include <check.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "proto/tx.h"
#include "tests/lib/suite.h"

Suite *test_suite(void);

static uint8_t pk[32], sk[64], pk2[32], sk2[64];
static const uint8_t payload[] = { 1, 2, 3, 4, 5 };

static void setup(void)
{
    ck_assert_int_ge(sodium_init(), 0);
    uint8_t seed[32];
    memset(seed, 7, sizeof(seed));
    crypto_sign_seed_keypair(pk, sk, seed);
    memset(seed, 9, sizeof(seed));
    crypto_sign_seed_keypair(pk2, sk2, seed);
}

static tx_t sample(void)
{
    tx_t t;
    memset(&t, 0, sizeof(t));
    strcpy(t.chain_id, "adnet-devnet-delta");
    t.kind = 1;
    memcpy(t.sender, pk, 32);
    t.fee = 10;
    t.nonce = 3;
    t.expiry_height = 1000;
    t.payload = payload;
    t.payload_len = sizeof(payload);
    return t;
}

START_TEST(round_trip_and_verify)
{
    tx_t t = sample(), d;
    uint8_t buf[TX_MAX_BYTES];
    size_t len;
    ck_assert_int_eq(tx_sign_encode(&t, sk, buf, sizeof(buf), &len), 0);
    /* version(1) + str(4+18) + kind(2) + sender(32) + 3*u64 + var(4+5) + sig(64) */
    ck_assert_uint_eq(len, 1 + 4 + 18 + 2 + 32 + 24 + 4 + 5 + 64);
    ck_assert_int_eq(buf[0], TX_FORMAT_VERSION);
    ck_assert_int_eq(tx_decode(&d, buf, len, NULL), 0);
    ck_assert_str_eq(d.chain_id, t.chain_id);
    ck_assert_uint_eq(d.kind, 1);
    ck_assert_uint_eq(d.fee, 10);
    ck_assert_uint_eq(d.nonce, 3);
    ck_assert_uint_eq(d.expiry_height, 1000);
    ck_assert_uint_eq(d.payload_len, 5);
    ck_assert_mem_eq(d.payload, payload, 5);
    ck_assert_ptr_eq(d.payload, buf + len - 64 - 5); /* points into the buffer */
    ck_assert_int_eq(tx_verify(&d, buf, len), 0);
}
END_TEST

START_TEST(signature_binds_every_byte_and_the_chain)
{
    tx_t t = sample(), d;
    uint8_t buf[TX_MAX_BYTES], copy[TX_MAX_BYTES];
    size_t len;
    ck_assert_int_eq(tx_sign_encode(&t, sk, buf, sizeof(buf), &len), 0);
    for (size_t i = 0; i < len; i++) {
        memcpy(copy, buf, len);
        copy[i] ^= 0x01;
        /* Either it no longer decodes, or it no longer verifies. */
        if (tx_decode(&d, copy, len, NULL) == 0)
            ck_assert_msg(tx_verify(&d, copy, len) < 0, "flip at byte %zu still verifies", i);
    }
    /* The same transaction signed for delta does not verify as alpha's:
     * the chain id is inside the signed bytes. */
    strcpy(t.chain_id, "adnet-devnet-alpha");
    uint8_t other[TX_MAX_BYTES];
    size_t olen;
    ck_assert_int_eq(tx_sign_encode(&t, sk, other, sizeof(other), &olen), 0);
    ck_assert_int_eq(tx_decode(&d, other, olen, NULL), 0);
    memcpy(d.sig, buf + len - 64, 64); /* delta's signature on alpha's bytes */
    ck_assert_int_lt(tx_verify(&d, other, olen), 0);
    /* Signed by another key than the sender's. */
    t = sample();
    ck_assert_int_eq(tx_sign_encode(&t, sk2, buf, sizeof(buf), &len), 0);
    ck_assert_int_eq(tx_decode(&d, buf, len, NULL), 0);
    ck_assert_int_lt(tx_verify(&d, buf, len), 0);
}
END_TEST

START_TEST(truncation_trailing_and_versions_refused)
{
    tx_t t = sample(), d, untouched;
    uint8_t buf[TX_MAX_BYTES + 16];
    size_t len;
    const char *what;
    ck_assert_int_eq(tx_sign_encode(&t, sk, buf, sizeof(buf), &len), 0);
    memset(&d, 0x5a, sizeof(d));
    untouched = d;
    for (size_t n = 0; n < len; n++) {
        what = NULL;
        ck_assert_int_lt(tx_decode(&d, buf, n, &what), 0);
        ck_assert_ptr_nonnull(what);
        ck_assert_mem_eq(&d, &untouched, sizeof(d));
    }
    buf[len] = 0;
    what = NULL;
    ck_assert_int_eq(tx_decode(&d, buf, len + 1, &what), -EBADMSG);
    ck_assert_str_eq(what, "trailing bytes");
    buf[0] = 2;
    ck_assert_int_eq(tx_decode(&d, buf, len, &what), -EPROTONOSUPPORT);
    ck_assert_str_eq(what, "version");
    /* Oversized input is refused before parsing. */
    static uint8_t huge[TX_MAX_BYTES + 1];
    ck_assert_int_eq(tx_decode(&d, huge, sizeof(huge), &what), -EMSGSIZE);
}
END_TEST

START_TEST(encode_refuses_out_of_range)
{
    tx_t t = sample();
    uint8_t buf[TX_MAX_BYTES];
    size_t len;
    t.chain_id[0] = '\0';
    ck_assert_int_eq(tx_sign_encode(&t, sk, buf, sizeof(buf), &len), -EINVAL);
    t = sample();
    t.payload_len = TX_PAYLOAD_MAX + 1;
    ck_assert_int_eq(tx_sign_encode(&t, sk, buf, sizeof(buf), &len), -EINVAL);
    t = sample();
    ck_assert_int_lt(tx_sign_encode(&t, sk, buf, 40, &len), 0);
    ck_assert_int_lt(tx_sign_encode(&t, sk, buf, 100, &len), 0); /* no room for the signature */
}
END_TEST

START_TEST(ids_and_roots)
{
    tx_t t = sample();
    uint8_t a[TX_MAX_BYTES], b[TX_MAX_BYTES];
    size_t la, lb;
    uint8_t ids[3][TX_ID_LEN], r0[32], r1[32], r2[32], r3[32], r3b[32], expect[32];
    ck_assert_int_eq(tx_sign_encode(&t, sk, a, sizeof(a), &la), 0);
    t.nonce++;
    ck_assert_int_eq(tx_sign_encode(&t, sk, b, sizeof(b), &lb), 0);
    tx_id(a, la, ids[0]);
    tx_id(b, lb, ids[1]);
    ck_assert_mem_ne(ids[0], ids[1], TX_ID_LEN);
    crypto_generichash(expect, 32, a, la, NULL, 0);
    ck_assert_mem_eq(ids[0], expect, 32);
    memset(ids[2], 0xee, TX_ID_LEN);

    ck_assert_int_eq(tx_root(NULL, 0, r0), 0);
    crypto_generichash(expect, 32, (const uint8_t *)"adnet/txs/v1", 12, NULL, 0);
    ck_assert_mem_eq(r0, expect, 32);
    ck_assert_int_eq(tx_root((const uint8_t(*)[TX_ID_LEN])ids, 1, r1), 0);
    ck_assert_int_eq(tx_root((const uint8_t(*)[TX_ID_LEN])ids, 2, r2), 0);
    ck_assert_int_eq(tx_root((const uint8_t(*)[TX_ID_LEN])ids, 3, r3), 0);
    ck_assert_mem_ne(r0, r1, 32);
    ck_assert_mem_ne(r1, r2, 32);
    ck_assert_mem_ne(r2, r3, 32);
    /* A single leaf is not its bare id (leaves are domain-tagged). */
    ck_assert_mem_ne(r1, ids[0], 32);
    /* Order matters. */
    uint8_t swapped[3][TX_ID_LEN];
    memcpy(swapped[0], ids[1], 32);
    memcpy(swapped[1], ids[0], 32);
    memcpy(swapped[2], ids[2], 32);
    ck_assert_int_eq(tx_root((const uint8_t(*)[TX_ID_LEN])swapped, 3, r3b), 0);
    ck_assert_mem_ne(r3, r3b, 32);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "tx", .tcase = "core", .setup = setup};
    return suite_build(&spec, SUITE_TESTS(
        round_trip_and_verify, signature_binds_every_byte_and_the_chain,
        truncation_trailing_and_versions_refused, encode_refuses_out_of_range, ids_and_roots));
}
