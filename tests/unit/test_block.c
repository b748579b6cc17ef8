/* proto/block.c: header and certificate codecs, block hash, signed bytes. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "proto/block.h"
#include "tests/lib/suite.h"

Suite *test_suite(void);

static void sample_header(block_header_t *h)
{
    memset(h, 0, sizeof *h);
    h->protocol_version = 3;
    strcpy(h->chain_id, "adnet-alpha-devnet");
    h->height = 42;
    h->time_ms = 1795646401123ULL;
    for (int i = 0; i < BLOCK_HASH_LEN; i++) {
        h->prev_hash[i] = (uint8_t)(0x10 + i);
        h->txs_root[i] = (uint8_t)(0x40 + i);
        h->state_root[i] = (uint8_t)(0x80 + i);
        h->proposer[i] = (uint8_t)(0xc0 + i);
    }
    h->tx_count = 7;
}

static void header_assert_eq(const block_header_t *a, const block_header_t *b)
{
    ck_assert_uint_eq(a->protocol_version, b->protocol_version);
    ck_assert_str_eq(a->chain_id, b->chain_id);
    ck_assert_uint_eq(a->height, b->height);
    ck_assert_uint_eq(a->time_ms, b->time_ms);
    ck_assert_mem_eq(a->prev_hash, b->prev_hash, BLOCK_HASH_LEN);
    ck_assert_mem_eq(a->txs_root, b->txs_root, BLOCK_HASH_LEN);
    ck_assert_mem_eq(a->state_root, b->state_root, BLOCK_HASH_LEN);
    ck_assert_mem_eq(a->proposer, b->proposer, BLOCK_KEY_LEN);
    ck_assert_uint_eq(a->tx_count, b->tx_count);
    ck_assert_uint_eq(a->peer_height, b->peer_height);
    ck_assert_mem_eq(a->peer_hash, b->peer_hash, BLOCK_HASH_LEN);
}

/* A certificate with n signatures whose validator keys ascend. */
static void sample_cert(commit_cert_t *c, uint32_t n)
{
    memset(c, 0, sizeof *c);
    c->height = 42;
    for (int i = 0; i < BLOCK_HASH_LEN; i++)
        c->block_hash[i] = (uint8_t)(0xa0 ^ i);
    c->n_sigs = n;
    for (uint32_t i = 0; i < n; i++) {
        memset(c->sigs[i].validator, 0x11, BLOCK_KEY_LEN);
        c->sigs[i].validator[0] = (uint8_t)i;
        c->sigs[i].validator[BLOCK_KEY_LEN - 1] = (uint8_t)(0xff - i);
        memset(c->sigs[i].sig, (int)(0x30 + i), BLOCK_SIG_LEN);
    }
}

START_TEST(test_header_round_trip)
{
    block_header_t h, d;
    uint8_t buf[BLOCK_HEADER_MAX];
    size_t len = 0;
    const char *what = NULL;

    sample_header(&h);
    ck_assert_int_eq(block_header_encode(&h, buf, sizeof buf, &len), 0);
    ck_assert_uint_eq(len, 1 + 4 + 4 + strlen(h.chain_id) + 8 + 8 + 4 * 32 + 4);
    ck_assert_uint_eq(buf[0], BLOCK_FORMAT_V1); /* no peer anchor: the version 1 encoding */
    /* protocol_version big-endian, then the chain id's length prefix. */
    const uint8_t head[] = {BLOCK_FORMAT_V1, 0, 0, 0, 3, 0, 0, 0, 18};
    ck_assert_mem_eq(buf, head, sizeof head);
    ck_assert_mem_eq(buf + 9, "adnet-alpha-devnet", 18);

    memset(&d, 0x5a, sizeof d);
    ck_assert_int_eq(block_header_decode(&d, buf, len, &what), 0);
    header_assert_eq(&h, &d);
    ck_assert_int_eq(block_header_check(&d, &what), 0);

    /* Largest values and the longest chain id fit within BLOCK_HEADER_MAX. */
    memset(h.chain_id, 'z', BLOCK_CHAIN_ID_MAX);
    h.chain_id[BLOCK_CHAIN_ID_MAX] = '\0';
    h.height = UINT64_MAX;
    h.time_ms = UINT64_MAX;
    h.protocol_version = UINT32_MAX;
    h.tx_count = UINT32_MAX;
    ck_assert_int_eq(block_header_encode(&h, buf, sizeof buf, &len), 0);
    ck_assert_int_le(len, BLOCK_HEADER_MAX);
    ck_assert_int_eq(block_header_decode(&d, buf, len, &what), 0);
    header_assert_eq(&h, &d);
}
END_TEST

START_TEST(test_header_encode_refusals)
{
    block_header_t h;
    uint8_t buf[BLOCK_HEADER_MAX];
    size_t len = 12345, full;

    sample_header(&h);
    ck_assert_int_eq(block_header_encode(&h, buf, sizeof buf, &full), 0);
    for (size_t cap = 0; cap < full; cap++) {
        ck_assert_int_eq(block_header_encode(&h, buf, cap, &len), -ENOBUFS);
        ck_assert_uint_eq(len, 12345);
    }
    ck_assert_int_eq(block_header_encode(&h, buf, full, &len), 0);
    ck_assert_uint_eq(len, full);

    /* A chain id with no NUL inside its buffer is not encodable. */
    memset(h.chain_id, 'a', sizeof h.chain_id);
    ck_assert_int_eq(block_header_encode(&h, buf, sizeof buf, &len), -EINVAL);
}
END_TEST

static void hash_manual(const block_header_t *h, uint8_t out[BLOCK_HASH_LEN])
{
    uint8_t msg[14 + BLOCK_HEADER_MAX];
    size_t len;

    memcpy(msg, "adnet/block/v1", 14);
    ck_assert_int_eq(block_header_encode(h, msg + 14, BLOCK_HEADER_MAX, &len), 0);
    ck_assert_int_eq(crypto_generichash(out, BLOCK_HASH_LEN, msg, 14 + len, NULL, 0), 0);
}

START_TEST(test_header_hash)
{
    block_header_t h, m;
    uint8_t base[BLOCK_HASH_LEN], got[BLOCK_HASH_LEN], want[BLOCK_HASH_LEN];

    sample_header(&h);
    ck_assert_int_eq(block_header_hash(&h, base), 0);
    hash_manual(&h, want);
    ck_assert_mem_eq(base, want, BLOCK_HASH_LEN);
    /* Deterministic. */
    ck_assert_int_eq(block_header_hash(&h, got), 0);
    ck_assert_mem_eq(base, got, BLOCK_HASH_LEN);

    /* Changing any one field changes the hash. */
    for (int field = 0; field < 9; field++) {
        m = h;
        switch (field) {
        case 0: m.protocol_version++; break;
        case 1: m.chain_id[0] = 'b'; break;
        case 2: m.height++; break;
        case 3: m.time_ms++; break;
        case 4: m.prev_hash[31] ^= 1; break;
        case 5: m.txs_root[0] ^= 0x80; break;
        case 6: m.state_root[15] ^= 1; break;
        case 7: m.proposer[3] ^= 1; break;
        case 8: m.tx_count++; break;
        }
        ck_assert_int_eq(block_header_hash(&m, got), 0);
        ck_assert_msg(memcmp(base, got, BLOCK_HASH_LEN) != 0, "field %d does not change the hash",
                      field);
    }
    /* Chain id length matters too (no ambiguity between "ab"+x and "a"+...). */
    m = h;
    strcat(m.chain_id, "x");
    ck_assert_int_eq(block_header_hash(&m, got), 0);
    ck_assert_mem_ne(base, got, BLOCK_HASH_LEN);
}
END_TEST

START_TEST(test_header_every_truncation)
{
    block_header_t h, d, sentinel;
    uint8_t buf[BLOCK_HEADER_MAX];
    size_t len;

    sample_header(&h);
    ck_assert_int_eq(block_header_encode(&h, buf, sizeof buf, &len), 0);
    memset(&sentinel, 0x5a, sizeof sentinel);
    for (size_t n = 0; n < len; n++) {
        const char *what = NULL;
        memcpy(&d, &sentinel, sizeof d);
        ck_assert_int_eq(block_header_decode(&d, buf, n, &what), -EMSGSIZE);
        ck_assert_ptr_nonnull(what);
        ck_assert_mem_eq(&d, &sentinel, sizeof d);
    }
}
END_TEST

START_TEST(test_header_trailing_byte)
{
    block_header_t h, d, sentinel;
    uint8_t buf[BLOCK_HEADER_MAX];
    size_t len;
    const char *what = NULL;

    sample_header(&h);
    ck_assert_int_eq(block_header_encode(&h, buf, sizeof buf, &len), 0);
    buf[len] = 0;
    memset(&sentinel, 0x5a, sizeof sentinel);
    memcpy(&d, &sentinel, sizeof d);
    ck_assert_int_eq(block_header_decode(&d, buf, len + 1, &what), -EBADMSG);
    ck_assert_str_eq(what, "trailing bytes");
    ck_assert_mem_eq(&d, &sentinel, sizeof d);
}
END_TEST

/* A header naming a peer header has the version 2 encoding: the version
 * 1 bytes after its own version byte, then peer_height and peer_hash; it
 * round-trips, names another hash than the same header without anchor,
 * and a version 2 encoding with peer_height 0 (which has a version 1
 * encoding) is refused. */
START_TEST(test_header_peer_anchor)
{
    block_header_t h, plain, d, sentinel;
    uint8_t buf[BLOCK_HEADER_MAX], v1[BLOCK_HEADER_MAX], ha[BLOCK_HASH_LEN], hb[BLOCK_HASH_LEN];
    size_t len = 0, len1 = 0;
    const char *what = NULL;

    sample_header(&plain);
    h = plain;
    h.peer_height = 0x0102030405060708ULL;
    memset(h.peer_hash, 0xc3, BLOCK_HASH_LEN);
    ck_assert_int_eq(block_header_encode(&plain, v1, sizeof v1, &len1), 0);
    ck_assert_int_eq(block_header_encode(&h, buf, sizeof buf, &len), 0);
    ck_assert_uint_eq(len, len1 + 8 + 32);
    ck_assert_uint_eq(buf[0], BLOCK_FORMAT_V2);
    ck_assert_mem_eq(buf + 1, v1 + 1, len1 - 1);
    const uint8_t height_be[] = {1, 2, 3, 4, 5, 6, 7, 8};
    ck_assert_mem_eq(buf + len1, height_be, 8);
    ck_assert_mem_eq(buf + len1 + 8, h.peer_hash, 32);
    memset(&d, 0x5a, sizeof d);
    ck_assert_int_eq(block_header_decode(&d, buf, len, &what), 0);
    header_assert_eq(&h, &d);
    ck_assert_int_eq(block_header_hash(&h, ha), 0);
    ck_assert_int_eq(block_header_hash(&plain, hb), 0);
    ck_assert_mem_ne(ha, hb, BLOCK_HASH_LEN);

    /* Version 2 with peer_height 0: refused, *d untouched. */
    memset(buf + len1, 0, 8);
    memset(&sentinel, 0x5a, sizeof sentinel);
    memcpy(&d, &sentinel, sizeof d);
    ck_assert_int_eq(block_header_decode(&d, buf, len, &what), -EBADMSG);
    ck_assert_str_eq(what, "peer_height");
    ck_assert_mem_eq(&d, &sentinel, sizeof d);
    /* Version 2 cut before its anchor, and version 1 bytes with an anchor appended. */
    buf[len1 + 7] = 1;
    ck_assert_int_eq(block_header_decode(&d, buf, len - 1, &what), -EMSGSIZE);
    buf[0] = BLOCK_FORMAT_V1;
    ck_assert_int_eq(block_header_decode(&d, buf, len, &what), -EBADMSG);
    ck_assert_str_eq(what, "trailing bytes");
}
END_TEST

START_TEST(test_header_bad_version)
{
    block_header_t h, d, sentinel;
    uint8_t buf[BLOCK_HEADER_MAX];
    size_t len;
    const uint8_t versions[] = {0, BLOCK_FORMAT_VERSION + 1, 0xff};

    sample_header(&h);
    ck_assert_int_eq(block_header_encode(&h, buf, sizeof buf, &len), 0);
    memset(&sentinel, 0x5a, sizeof sentinel);
    for (size_t i = 0; i < sizeof versions; i++) {
        const char *what = NULL;
        buf[0] = versions[i];
        memcpy(&d, &sentinel, sizeof d);
        ck_assert_int_eq(block_header_decode(&d, buf, len, &what), -EPROTONOSUPPORT);
        ck_assert_str_eq(what, "format version");
        ck_assert_mem_eq(&d, &sentinel, sizeof d);
    }
    /* A lone unknown version byte is still reported as the version. */
    const char *what = NULL;
    ck_assert_int_eq(block_header_decode(&d, buf, 1, &what), -EPROTONOSUPPORT);
    ck_assert_str_eq(what, "format version");
}
END_TEST

START_TEST(test_header_bad_chain_id)
{
    block_header_t h, d;
    uint8_t buf[BLOCK_HEADER_MAX + 8];
    size_t len;
    const char *what = NULL;

    /* Embedded NUL. */
    sample_header(&h);
    ck_assert_int_eq(block_header_encode(&h, buf, sizeof buf, &len), 0);
    buf[9 + 3] = '\0';
    ck_assert_int_eq(block_header_decode(&d, buf, len, &what), -EBADMSG);
    ck_assert_str_eq(what, "chain_id");

    /* Length prefix one over BLOCK_CHAIN_ID_MAX, with the bytes present. */
    memset(h.chain_id, 'q', BLOCK_CHAIN_ID_MAX);
    h.chain_id[BLOCK_CHAIN_ID_MAX] = '\0';
    ck_assert_int_eq(block_header_encode(&h, buf, sizeof buf, &len), 0);
    memmove(buf + 9 + BLOCK_CHAIN_ID_MAX + 1, buf + 9 + BLOCK_CHAIN_ID_MAX,
            len - 9 - BLOCK_CHAIN_ID_MAX);
    buf[9 + BLOCK_CHAIN_ID_MAX] = 'q';
    buf[8] = BLOCK_CHAIN_ID_MAX + 1;
    what = NULL;
    ck_assert_int_eq(block_header_decode(&d, buf, len + 1, &what), -EBADMSG);
    ck_assert_str_eq(what, "chain_id");
}
END_TEST

START_TEST(test_header_check)
{
    block_header_t h;
    const char *what = NULL;

    sample_header(&h);
    ck_assert_int_eq(block_header_check(&h, &what), 0);
    h.height = 0;
    ck_assert_int_eq(block_header_check(&h, &what), -EINVAL);
    ck_assert_str_eq(what, "height");
    sample_header(&h);
    h.chain_id[0] = '\0';
    ck_assert_int_eq(block_header_check(&h, &what), -EINVAL);
    ck_assert_ptr_nonnull(strstr(what, "chain_id"));
}
END_TEST

START_TEST(test_commit_sign_bytes)
{
    uint8_t hash[BLOCK_HASH_LEN];
    uint8_t a[128], b[128], c[128];
    int na, nb, nc;

    memset(hash, 0x77, sizeof hash);
    na = commit_sign_bytes("adnet-alpha", 9, hash, a, sizeof a);
    nb = commit_sign_bytes("adnet-delta", 9, hash, b, sizeof b);
    ck_assert_int_eq(na, 15 + 4 + 11 + 8 + 32);
    ck_assert_int_eq(nb, na);
    ck_assert_mem_ne(a, b, (size_t)na);

    /* Exact layout: tag, length-prefixed chain id, big-endian height, hash. */
    ck_assert_mem_eq(a, "adnet/commit/v1", 15);
    const uint8_t lenp[] = {0, 0, 0, 11};
    ck_assert_mem_eq(a + 15, lenp, 4);
    ck_assert_mem_eq(a + 19, "adnet-alpha", 11);
    const uint8_t height[] = {0, 0, 0, 0, 0, 0, 0, 9};
    ck_assert_mem_eq(a + 30, height, 8);
    ck_assert_mem_eq(a + 38, hash, 32);

    /* Height and hash are bound too. */
    nc = commit_sign_bytes("adnet-alpha", 10, hash, c, sizeof c);
    ck_assert_int_eq(nc, na);
    ck_assert_mem_ne(a, c, (size_t)na);
    hash[0] ^= 1;
    nc = commit_sign_bytes("adnet-alpha", 9, hash, c, sizeof c);
    ck_assert_mem_ne(a, c, (size_t)na);

    /* A chain id that is a prefix of another gives a different length. */
    nc = commit_sign_bytes("adnet-alph", 9, hash, c, sizeof c);
    ck_assert_int_eq(nc, na - 1);

    ck_assert_int_eq(commit_sign_bytes("adnet-alpha", 9, hash, c, (size_t)na - 1), -ENOBUFS);
    char longid[BLOCK_CHAIN_ID_MAX + 2];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    ck_assert_int_eq(commit_sign_bytes(longid, 9, hash, c, sizeof c), -EINVAL);
}
END_TEST

static void cert_assert_eq(const commit_cert_t *a, const commit_cert_t *b)
{
    ck_assert_uint_eq(a->height, b->height);
    ck_assert_mem_eq(a->block_hash, b->block_hash, BLOCK_HASH_LEN);
    ck_assert_uint_eq(a->n_sigs, b->n_sigs);
    ck_assert_mem_eq(a->sigs, b->sigs, a->n_sigs * sizeof a->sigs[0]);
}

START_TEST(test_cert_round_trip)
{
    static commit_cert_t c, d;
    static uint8_t buf[COMMIT_CERT_MAX];
    size_t len;
    const char *what = NULL;
    const uint32_t counts[] = {1, 3, BLOCK_MAX_SIGS};

    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        sample_cert(&c, counts[k]);
        ck_assert_int_eq(commit_cert_encode(&c, buf, sizeof buf, &len), 0);
        ck_assert_uint_eq(len, 1 + 8 + 32 + 4 + counts[k] * 96);
        ck_assert_uint_eq(buf[0], COMMIT_CERT_VERSION);
        memset(&d, 0x5a, sizeof d);
        ck_assert_int_eq(commit_cert_decode(&d, buf, len, &what), 0);
        cert_assert_eq(&c, &d);
    }
}
END_TEST

START_TEST(test_cert_encode_refusals)
{
    static commit_cert_t c;
    static uint8_t buf[COMMIT_CERT_MAX];
    size_t len = 777, full;

    sample_cert(&c, 0);
    ck_assert_int_eq(commit_cert_encode(&c, buf, sizeof buf, &len), -EINVAL);
    sample_cert(&c, BLOCK_MAX_SIGS);
    c.n_sigs = BLOCK_MAX_SIGS + 1;
    ck_assert_int_eq(commit_cert_encode(&c, buf, sizeof buf, &len), -EINVAL);

    /* Duplicate and out-of-order validators. */
    sample_cert(&c, 3);
    memcpy(c.sigs[2].validator, c.sigs[1].validator, BLOCK_KEY_LEN);
    ck_assert_int_eq(commit_cert_encode(&c, buf, sizeof buf, &len), -EINVAL);
    sample_cert(&c, 3);
    commit_sig_t t = c.sigs[0];
    c.sigs[0] = c.sigs[1];
    c.sigs[1] = t;
    ck_assert_int_eq(commit_cert_encode(&c, buf, sizeof buf, &len), -EINVAL);
    /* Order is by the whole key: keys differing only in the last byte. */
    sample_cert(&c, 2);
    memset(c.sigs[0].validator, 0x22, BLOCK_KEY_LEN);
    memset(c.sigs[1].validator, 0x22, BLOCK_KEY_LEN);
    c.sigs[0].validator[31] = 2;
    c.sigs[1].validator[31] = 1;
    ck_assert_int_eq(commit_cert_encode(&c, buf, sizeof buf, &len), -EINVAL);
    ck_assert_uint_eq(len, 777);

    sample_cert(&c, 2);
    ck_assert_int_eq(commit_cert_encode(&c, buf, sizeof buf, &full), 0);
    ck_assert_int_eq(commit_cert_encode(&c, buf, full - 1, &len), -ENOBUFS);
}
END_TEST

/* Encode a certificate by hand, bypassing the encoder's checks. */
static size_t raw_cert(uint8_t *buf, const commit_cert_t *c, uint32_t n_claimed)
{
    size_t off = 0;
    buf[off++] = COMMIT_CERT_VERSION;
    for (int i = 7; i >= 0; i--)
        buf[off++] = (uint8_t)(c->height >> (8 * i));
    memcpy(buf + off, c->block_hash, BLOCK_HASH_LEN);
    off += BLOCK_HASH_LEN;
    for (int i = 3; i >= 0; i--)
        buf[off++] = (uint8_t)(n_claimed >> (8 * i));
    for (uint32_t i = 0; i < c->n_sigs; i++) {
        memcpy(buf + off, c->sigs[i].validator, BLOCK_KEY_LEN);
        off += BLOCK_KEY_LEN;
        memcpy(buf + off, c->sigs[i].sig, BLOCK_SIG_LEN);
        off += BLOCK_SIG_LEN;
    }
    return off;
}

START_TEST(test_cert_decode_refusals)
{
    static commit_cert_t c, d, sentinel;
    static uint8_t buf[COMMIT_CERT_MAX + 200];
    size_t len;
    const char *what;

    memset(&sentinel, 0x5a, sizeof sentinel);

    /* The hand encoder agrees with the real one. */
    sample_cert(&c, 3);
    len = raw_cert(buf, &c, 3);
    memcpy(&d, &sentinel, sizeof d);
    ck_assert_int_eq(commit_cert_decode(&d, buf, len, &what), 0);
    cert_assert_eq(&c, &d);

    /* Disorder. */
    sample_cert(&c, 3);
    commit_sig_t t = c.sigs[1];
    c.sigs[1] = c.sigs[2];
    c.sigs[2] = t;
    len = raw_cert(buf, &c, 3);
    memcpy(&d, &sentinel, sizeof d);
    what = NULL;
    ck_assert_int_eq(commit_cert_decode(&d, buf, len, &what), -EBADMSG);
    ck_assert_str_eq(what, "validator order");
    ck_assert_mem_eq(&d, &sentinel, sizeof d);

    /* Duplicate validator (even with different signatures). */
    sample_cert(&c, 3);
    memcpy(c.sigs[1].validator, c.sigs[0].validator, BLOCK_KEY_LEN);
    len = raw_cert(buf, &c, 3);
    what = NULL;
    ck_assert_int_eq(commit_cert_decode(&d, buf, len, &what), -EBADMSG);
    ck_assert_str_eq(what, "validator order");
    ck_assert_mem_eq(&d, &sentinel, sizeof d);

    /* Zero signatures. */
    sample_cert(&c, 0);
    len = raw_cert(buf, &c, 0);
    what = NULL;
    ck_assert_int_eq(commit_cert_decode(&d, buf, len, &what), -EBADMSG);
    ck_assert_str_eq(what, "n_sigs");
    ck_assert_mem_eq(&d, &sentinel, sizeof d);

    /* More than BLOCK_MAX_SIGS, with all the bytes present. */
    sample_cert(&c, BLOCK_MAX_SIGS);
    len = raw_cert(buf, &c, BLOCK_MAX_SIGS + 1);
    memset(buf + len, 0xff, 96);
    len += 96;
    what = NULL;
    ck_assert_int_eq(commit_cert_decode(&d, buf, len, &what), -EBADMSG);
    ck_assert_str_eq(what, "n_sigs");

    /* A huge claimed count with few bytes must not be trusted. */
    sample_cert(&c, 1);
    len = raw_cert(buf, &c, UINT32_MAX);
    ck_assert_int_eq(commit_cert_decode(&d, buf, len, &what), -EBADMSG);

    /* Unknown version. */
    sample_cert(&c, 2);
    len = raw_cert(buf, &c, 2);
    buf[0] = COMMIT_CERT_VERSION + 1;
    what = NULL;
    ck_assert_int_eq(commit_cert_decode(&d, buf, len, &what), -EPROTONOSUPPORT);
    ck_assert_str_eq(what, "format version");
    ck_assert_mem_eq(&d, &sentinel, sizeof d);

    /* Every truncation and one trailing byte. */
    buf[0] = COMMIT_CERT_VERSION;
    for (size_t n = 0; n < len; n++) {
        what = NULL;
        ck_assert_int_eq(commit_cert_decode(&d, buf, n, &what), -EMSGSIZE);
        ck_assert_ptr_nonnull(what);
    }
    buf[len] = 0;
    what = NULL;
    ck_assert_int_eq(commit_cert_decode(&d, buf, len + 1, &what), -EBADMSG);
    ck_assert_str_eq(what, "trailing bytes");
    ck_assert_mem_eq(&d, &sentinel, sizeof d);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "block", .tcase = "core"};
    return suite_build(&spec, SUITE_TESTS(
        test_header_round_trip, test_header_encode_refusals, test_header_hash,
        test_header_every_truncation, test_header_trailing_byte, test_header_peer_anchor,
        test_header_bad_version,
        test_header_bad_chain_id, test_header_check, test_commit_sign_bytes, test_cert_round_trip,
        test_cert_encode_refusals, test_cert_decode_refusals));
}
