/* common/node/ipc/peerview.c: the peer chain's validator set, finality
 * proofs and attestations checked against it, with real Ed25519 keys. */
#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/node/ipc/peerview.h"
#include "tests/lib/blocks.h"
#include "tests/lib/gen.h"
#include "tests/lib/suite.h"

Suite *test_suite(void);

#define CHAIN_ID "adnet-test" /* the chain id blocks_fake gives its headers */
#define OTHER_ID "adnet-other"

typedef struct {
    uint8_t pk[BLOCK_KEY_LEN];
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
} keypair_t;

/* The peer chain of a test: its validators' keys in ascending pk order
 * (key i has power powers[i]) and the set made from its genesis. */
static keypair_t keys[8];
static size_t n_keys;
static peer_set_t set;
static uint8_t GENESIS[BLOCK_HASH_LEN]; /* its genesis hash: what block 1 names */

static void key_make(keypair_t *k, uint8_t seed)
{
    uint8_t s[crypto_sign_SEEDBYTES];
    _Static_assert(crypto_sign_SEEDBYTES == BLOCK_KEY_LEN, "gen_key makes a seed");
    ck_assert_int_eq(crypto_sign_seed_keypair(k->pk, k->sk, gen_key(s, seed)), 0);
}

static int key_cmp(const void *a, const void *b)
{
    return memcmp(((const keypair_t *)a)->pk, ((const keypair_t *)b)->pk, BLOCK_KEY_LEN);
}

/* A genesis of n validators of these powers (seeds 1..n, so their keys
 * come in an order of their own: the set must sort them). */
static genesis_t *genesis_make(const uint64_t *powers, size_t n)
{
    genesis_t *g = gen_new("peer", CHAIN_ID);

    ck_assert_int_ge(sodium_init(), 0);
    for (size_t i = 0; i < n; i++)
        key_make(&keys[i], (uint8_t)(1 + 40 * i));
    qsort(keys, n, sizeof keys[0], key_cmp);
    n_keys = n;
    /* Add them in descending key order, so that the set has to sort. */
    for (size_t i = n; i-- > 0;)
        gen_add_validator(g, "", keys[i].pk, powers[i]);
    memset(GENESIS, BLOCKS_GENESIS_BYTE, BLOCK_HASH_LEN); /* blocks_fake's block 1 names it */
    memcpy(g->hash, GENESIS, BLOCK_HASH_LEN);
    return g;
}

static void world(const uint64_t *powers, size_t n)
{
    genesis_t *g = genesis_make(powers, n);
    ck_assert_int_eq(peer_set_from_genesis(&set, g), 0);
    free(g);
}

static const uint64_t UNEQUAL[] = {1, 2, 3, 6}; /* total 12: 8 is exactly two thirds */
static const uint64_t EQUAL[] = {5, 5, 5, 5};

/* A finality proof as the peer would send it. */
typedef struct {
    block_header_t h;
    uint8_t hash[BLOCK_HASH_LEN];
    uint8_t header[BLOCK_HEADER_MAX];
    size_t header_len;
    uint8_t cert[COMMIT_CERT_MAX];
    size_t cert_len;
} proof_t;

static void proof_header(proof_t *p, uint64_t height, const uint8_t prev[BLOCK_HASH_LEN],
                         uint64_t time_ms)
{
    static commit_cert_t fake; /* blocks_fake's unsigned certificate, unused */
    blocks_fake(height, prev, time_ms, 0, &p->h, p->hash, &fake);
}

/* Sign p->h (as it is now) by the keys whose bits are in mask, and by
 * extra if non-NULL, and encode header and certificate. */
static void proof_sign(proof_t *p, unsigned mask, const keypair_t *extra)
{
    static commit_cert_t c;
    keypair_t signers[9];
    uint8_t msg[128];
    size_t n = 0;
    int len;

    for (size_t i = 0; i < n_keys; i++)
        if (mask & (1u << i))
            signers[n++] = keys[i];
    if (extra != NULL)
        signers[n++] = *extra;
    qsort(signers, n, sizeof signers[0], key_cmp);
    ck_assert_int_eq(block_header_hash(&p->h, p->hash), 0);
    memset(&c, 0, sizeof c);
    c.height = p->h.height;
    memcpy(c.block_hash, p->hash, BLOCK_HASH_LEN);
    c.n_sigs = (uint32_t)n;
    len = commit_sign_bytes(p->h.chain_id, p->h.height, p->hash, msg, sizeof msg);
    ck_assert_int_gt(len, 0);
    for (size_t i = 0; i < n; i++) {
        memcpy(c.sigs[i].validator, signers[i].pk, BLOCK_KEY_LEN);
        crypto_sign_detached(c.sigs[i].sig, NULL, msg, (unsigned long long)len, signers[i].sk);
    }
    ck_assert_int_eq(block_header_encode(&p->h, p->header, sizeof p->header, &p->header_len), 0);
    ck_assert_int_eq(commit_cert_encode(&c, p->cert, sizeof p->cert, &p->cert_len), 0);
}

static void proof_make(proof_t *p, uint64_t height, const uint8_t prev[BLOCK_HASH_LEN],
                       unsigned mask)
{
    proof_header(p, height, prev, T0_MS + height * 1000);
    proof_sign(p, mask, NULL);
}


static const peer_tip_t NO_TIP = {0, {0}};

static void accepted(const proof_t *p, const peer_tip_t *tip)
{
    block_header_t out;
    uint8_t hash[BLOCK_HASH_LEN];
    reject_t why = {0};

    memset(&out, 0x5a, sizeof out);
    ck_assert_msg(peer_verify_finality(&set, tip, p->header, p->header_len, p->cert, p->cert_len,
                                       &out, hash, &why) == 0,
                  "%s: %s", why.code, why.message);
    ck_assert_mem_eq(hash, p->hash, BLOCK_HASH_LEN);
    ck_assert_uint_eq(out.height, p->h.height);
    ck_assert_str_eq(out.chain_id, p->h.chain_id);
    ck_assert_mem_eq(out.prev_hash, p->h.prev_hash, BLOCK_HASH_LEN);
    ck_assert_mem_eq(out.state_root, p->h.state_root, BLOCK_HASH_LEN);
}

/* Refused with rc and code, the outputs untouched; return the message. */
static const char *refused_bytes(const uint8_t *header, size_t header_len, const uint8_t *cert,
                                 size_t cert_len, const peer_tip_t *tip, int rc, const char *code)
{
    static reject_t why;
    block_header_t out, sentinel;
    uint8_t hash[BLOCK_HASH_LEN], hash_sentinel[BLOCK_HASH_LEN];

    memset(&sentinel, 0x5a, sizeof sentinel);
    memcpy(&out, &sentinel, sizeof out);
    memset(hash_sentinel, 0x6b, sizeof hash_sentinel);
    memcpy(hash, hash_sentinel, sizeof hash);
    why.code = NULL;
    ck_assert_int_eq(peer_verify_finality(&set, tip, header, header_len, cert, cert_len, &out,
                                          hash, &why),
                     rc);
    ck_assert_ptr_nonnull(why.code);
    ck_assert_msg(strcmp(why.code, code) == 0, "code %s (%s), not %s", why.code, why.message,
                  code);
    ck_assert_uint_gt(strlen(why.message), 0);
    ck_assert_mem_eq(&out, &sentinel, sizeof out);
    ck_assert_mem_eq(hash, hash_sentinel, sizeof hash);
    return why.message;
}

static const char *refused(const proof_t *p, const peer_tip_t *tip, int rc, const char *code)
{
    return refused_bytes(p->header, p->header_len, p->cert, p->cert_len, tip, rc, code);
}

static void key_hex16(char out[17], const uint8_t *pk)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++) {
        out[2 * i] = digits[pk[i] >> 4];
        out[2 * i + 1] = digits[pk[i] & 15];
    }
    out[16] = '\0';
}

START_TEST(test_set_from_genesis)
{
    genesis_t *g = genesis_make(UNEQUAL, 4);
    peer_set_t s, sentinel;
    uint8_t stranger[BLOCK_KEY_LEN];

    ck_assert_int_eq(peer_set_from_genesis(&s, g), 0);
    ck_assert_str_eq(s.chain, "peer");
    ck_assert_str_eq(s.chain_id, CHAIN_ID);
    ck_assert_mem_eq(s.genesis_hash, GENESIS, BLOCK_HASH_LEN);
    ck_assert_uint_eq(s.n_validators, 4);
    ck_assert_uint_eq(s.total_power, 12);
    for (size_t i = 0; i < 4; i++) {
        /* Ascending by key, each with its power. */
        ck_assert_mem_eq(s.validators[i].pk, keys[i].pk, BLOCK_KEY_LEN);
        ck_assert_uint_eq(s.validators[i].power, UNEQUAL[i]);
        ck_assert_uint_eq(peer_set_power(&s, keys[i].pk), UNEQUAL[i]);
    }
    ck_assert_uint_eq(peer_set_power(&s, gen_key(stranger, 200)), 0);

    /* Refusals leave *s as it was. */
    memset(&sentinel, 0x5a, sizeof sentinel);
    genesis_t *bad = gen_new("peer", CHAIN_ID);
    memcpy(&s, &sentinel, sizeof s);
    ck_assert_int_eq(peer_set_from_genesis(&s, bad), -EINVAL); /* no validators */
    gen_add_validator(bad, "", keys[0].pk, 0);
    ck_assert_int_eq(peer_set_from_genesis(&s, bad), -EINVAL); /* zero power */
    gen_add_validator(bad, "", keys[0].pk, 3);
    ck_assert_int_eq(peer_set_from_genesis(&s, bad), -EINVAL); /* a key twice */
    bad->validators[1].power = GENESIS_MAX_POWER;
    memcpy(bad->validators[1].pk, keys[1].pk, BLOCK_KEY_LEN);
    bad->validators[0].power = 1;
    ck_assert_int_eq(peer_set_from_genesis(&s, bad), -EINVAL); /* over the cap */
    ck_assert_mem_eq(&s, &sentinel, sizeof s);
    bad->validators[0].power = 0;
    ck_assert_int_eq(peer_set_from_genesis(&s, bad), 0); /* the cap itself is allowed */
    ck_assert_uint_eq(s.total_power, GENESIS_MAX_POWER);
    free(bad);
    free(g);
}
END_TEST

START_TEST(test_quorum)
{
    world(UNEQUAL, 4);
    ck_assert(!peer_set_quorum(&set, 0));
    ck_assert(!peer_set_quorum(&set, 8)); /* exactly two thirds */
    ck_assert(peer_set_quorum(&set, 9));
    ck_assert(peer_set_quorum(&set, 12));
    ck_assert(!peer_set_quorum(&set, 13)); /* more than there is: nonsense, not a quorum */
    ck_assert(!peer_set_quorum(&set, UINT64_MAX));
}
END_TEST

START_TEST(test_valid_proofs)
{
    proof_t p1, p2;
    peer_tip_t tip = {1, {0}};

    world(UNEQUAL, 4);
    proof_make(&p1, 1, GENESIS, 0xf); /* everyone */
    accepted(&p1, &NO_TIP);
    memcpy(tip.hash, p1.hash, BLOCK_HASH_LEN);
    proof_make(&p2, 2, p1.hash, 0x8 | 0x4); /* 6 + 3 of 12 */
    accepted(&p2, &tip);
    /* A higher height may skip: its prev_hash is not ours to check. */
    proof_make(&p2, 9, GENESIS, 0xe);
    accepted(&p2, &tip);
}
END_TEST

START_TEST(test_single_validator)
{
    static const uint64_t one[] = {7};
    proof_t p;

    world(one, 1);
    ck_assert_uint_eq(set.total_power, 7);
    proof_make(&p, 1, GENESIS, 0x1);
    accepted(&p, &NO_TIP);
}
END_TEST

START_TEST(test_low_power)
{
    proof_t p;

    world(EQUAL, 4);
    proof_make(&p, 1, GENESIS, 0x3); /* 2 of 4 equal */
    ck_assert_ptr_nonnull(strstr(refused(&p, &NO_TIP, -EPERM, "low_power"), "10 of 20"));
    proof_make(&p, 1, GENESIS, 0x7); /* 3 of 4 */
    accepted(&p, &NO_TIP);

    world(UNEQUAL, 4);
    proof_make(&p, 1, GENESIS, 0x8 | 0x2); /* 6 + 2 = 8 of 12: exactly two thirds */
    refused(&p, &NO_TIP, -EPERM, "low_power");
    proof_make(&p, 1, GENESIS, 0x7); /* 1 + 2 + 3 = 6 */
    refused(&p, &NO_TIP, -EPERM, "low_power");
}
END_TEST

START_TEST(test_unknown_signer)
{
    proof_t p;
    keypair_t stranger;
    char hex[17];

    world(UNEQUAL, 4);
    key_make(&stranger, 222);
    proof_header(&p, 1, GENESIS, T0_MS);
    proof_sign(&p, 0xf, &stranger); /* a quorum and one more that is nobody */
    key_hex16(hex, stranger.pk);
    ck_assert_ptr_nonnull(strstr(refused(&p, &NO_TIP, -EPERM, "unknown_signer"), hex));
}
END_TEST

/* The encoder will not write a certificate naming a validator twice, so
 * the test does: its decoder refuses it, and the proof is "malformed". */
START_TEST(test_repeated_signer)
{
    proof_t p;
    const size_t entry = BLOCK_KEY_LEN + BLOCK_SIG_LEN, first = 1 + 8 + BLOCK_HASH_LEN + 4;

    world(EQUAL, 4);
    proof_make(&p, 1, GENESIS, 0xf);
    memcpy(p.cert + first + entry, p.cert + first, entry); /* signer 1 := signer 0 */
    ck_assert_ptr_nonnull(
        strstr(refused(&p, &NO_TIP, -EBADMSG, "malformed"), "validator order"));
}
END_TEST

START_TEST(test_bad_signature)
{
    proof_t p;
    const size_t first = 1 + 8 + BLOCK_HASH_LEN + 4;
    char hex[17];

    world(UNEQUAL, 4);
    proof_make(&p, 1, GENESIS, 0xf);
    /* The third signer's signature, one bit of it. */
    p.cert[first + 2 * (BLOCK_KEY_LEN + BLOCK_SIG_LEN) + BLOCK_KEY_LEN + 17] ^= 0x04;
    key_hex16(hex, keys[2].pk);
    ck_assert_ptr_nonnull(strstr(refused(&p, &NO_TIP, -EPERM, "bad_signature"), hex));
}
END_TEST

START_TEST(test_wrong_chain)
{
    proof_t p;

    world(UNEQUAL, 4);
    proof_header(&p, 1, GENESIS, T0_MS);
    strcpy(p.h.chain_id, OTHER_ID);
    proof_sign(&p, 0xf, NULL); /* well signed, for the other chain */
    ck_assert_ptr_nonnull(strstr(refused(&p, &NO_TIP, -EINVAL, "wrong_chain"), OTHER_ID));
    /* The peer's bytes cannot break the message into two log lines. */
    strcpy(p.h.chain_id, "evil\nid");
    proof_sign(&p, 0xf, NULL);
    const char *msg = refused(&p, &NO_TIP, -EINVAL, "wrong_chain");
    ck_assert_ptr_nonnull(strstr(msg, "evil?id"));
    ck_assert_ptr_null(strchr(msg, '\n'));
}
END_TEST

START_TEST(test_cert_mismatch)
{
    proof_t p, q;

    world(UNEQUAL, 4);
    proof_make(&p, 1, GENESIS, 0xf);
    proof_make(&q, 2, p.hash, 0xf);
    /* Header 1 with block 2's certificate: another height and hash. */
    refused_bytes(p.header, p.header_len, q.cert, q.cert_len, &NO_TIP, -EINVAL, "cert_mismatch");
    /* Same height, another block's hash. */
    proof_header(&q, 1, GENESIS, T0_MS + 5);
    proof_sign(&q, 0xf, NULL);
    ck_assert_mem_ne(p.hash, q.hash, BLOCK_HASH_LEN);
    refused_bytes(p.header, p.header_len, q.cert, q.cert_len, &NO_TIP, -EINVAL, "cert_mismatch");
}
END_TEST

START_TEST(test_tip_rules)
{
    proof_t p1, p2, other, p5;
    peer_tip_t tip = {1, {0}};

    world(UNEQUAL, 4);
    proof_make(&p1, 1, GENESIS, 0xf);
    memcpy(tip.hash, p1.hash, BLOCK_HASH_LEN);
    /* The tip again: harmless, told before any signature is looked at. */
    refused(&p1, &tip, -EALREADY, "duplicate");
    refused_bytes(p1.header, p1.header_len, p1.cert, 3, &tip, -EALREADY, "duplicate");
    /* Another block at the tip's height, fully signed: a fork. */
    proof_header(&other, 1, GENESIS, T0_MS + 77);
    proof_sign(&other, 0xf, NULL);
    refused(&other, &tip, -EEXIST, "conflict");
    /* ... but not signed by a quorum: only low power, no alarm. */
    proof_sign(&other, 0x1, NULL);
    refused(&other, &tip, -EPERM, "low_power");
    /* The next height must build on the tip. */
    proof_make(&p2, 2, GENESIS, 0xf);
    refused(&p2, &tip, -EEXIST, "conflict");
    /* Block 1 must name the genesis when nothing is verified yet. */
    proof_make(&p2, 1, p1.hash, 0xf);
    refused(&p2, &NO_TIP, -EEXIST, "conflict");
    /* Below the tip. */
    proof_make(&p5, 5, GENESIS, 0xf);
    tip.height = 5;
    memcpy(tip.hash, p5.hash, BLOCK_HASH_LEN);
    ck_assert_ptr_nonnull(
        strstr(refused(&p1, &tip, -ERANGE, "height_backwards"), "height 1"));
}
END_TEST

START_TEST(test_truncated)
{
    proof_t p;

    world(UNEQUAL, 4);
    proof_make(&p, 1, GENESIS, 0xf);
    for (size_t n = 0; n < p.header_len; n++)
        refused_bytes(p.header, n, p.cert, p.cert_len, &NO_TIP, -EMSGSIZE, "malformed");
    for (size_t n = 0; n < p.cert_len; n++)
        refused_bytes(p.header, p.header_len, p.cert, n, &NO_TIP, -EMSGSIZE, "malformed");
    p.header[0] = BLOCK_FORMAT_VERSION + 1;
    refused(&p, &NO_TIP, -EPROTONOSUPPORT, "malformed");
}
END_TEST

/* ---- attestations ---- */

static const uint8_t STMT[] = "bridge-out 0x1234 final";

static void attest_init(ipc_attestation_t *a)
{
    memset(a, 0, sizeof *a);
    a->stmt_kind = IPC_STMT_BRIDGE_OUT_FINAL;
    a->stmt = STMT;
    a->stmt_len = sizeof STMT - 1;
    a->height = 42;
}

static void attest_by(ipc_attestation_t *a, unsigned mask, const char *chain_id)
{
    attest_init(a);
    for (size_t i = 0; i < n_keys; i++)
        if (mask & (1u << i))
            ck_assert_int_eq(peer_attest_sign(a, chain_id, keys[i].pk, keys[i].sk), 0);
}

static const char *attest_refused(const ipc_attestation_t *a, int rc, const char *code)
{
    static reject_t why;
    why.code = NULL;
    ck_assert_int_eq(peer_verify_attestation(&set, a, &why), rc);
    ck_assert_ptr_nonnull(why.code);
    ck_assert_msg(strcmp(why.code, code) == 0, "code %s (%s), not %s", why.code, why.message,
                  code);
    return why.message;
}

START_TEST(test_attestation_valid)
{
    static const uint64_t powers[] = {10, 20, 30, 40};
    ipc_attestation_t a, d;
    ipc_msg_t m, dm;
    reject_t why = {0};
    static uint8_t buf[IPC_MSG_MAX];
    size_t len;

    world(powers, 4);
    attest_by(&a, 0xe, CHAIN_ID); /* 20 + 30 + 40 of 100 */
    ck_assert_uint_eq(a.n_sigs, 3);
    ck_assert_msg(peer_verify_attestation(&set, &a, &why) == 0, "%s", why.message);
    /* And after a trip through the codec. */
    memset(&m, 0, sizeof m);
    m.kind = IPC_ATTESTATION;
    strcpy(m.source, CHAIN_ID);
    m.u.attest = a;
    ck_assert_int_eq(ipc_msg_encode(&m, buf, sizeof buf, &len), 0);
    ck_assert_int_eq(ipc_msg_decode(&dm, buf, len, NULL), 0);
    d = dm.u.attest;
    ck_assert_int_eq(peer_verify_attestation(&set, &d, &why), 0);
}
END_TEST

START_TEST(test_attestation_refusals)
{
    static const uint64_t powers[] = {10, 20, 30, 40};
    ipc_attestation_t a;
    keypair_t stranger;
    char hex[17];

    world(powers, 4);
    attest_by(&a, 0x3, CHAIN_ID); /* 10 + 20 */
    attest_refused(&a, -EPERM, "low_power");
    attest_by(&a, 0x9, CHAIN_ID); /* 10 + 40: one half */
    attest_refused(&a, -EPERM, "low_power");

    attest_by(&a, 0xe, CHAIN_ID);
    key_make(&stranger, 222);
    ck_assert_int_eq(peer_attest_sign(&a, CHAIN_ID, stranger.pk, stranger.sk), 0);
    key_hex16(hex, stranger.pk);
    ck_assert_ptr_nonnull(strstr(attest_refused(&a, -EPERM, "unknown_signer"), hex));

    attest_by(&a, 0xe, CHAIN_ID);
    a.sigs[1].sig[5] ^= 0x80;
    key_hex16(hex, a.sigs[1].validator);
    ck_assert_ptr_nonnull(strstr(attest_refused(&a, -EPERM, "bad_signature"), hex));

    /* Signed for another chain: the bytes we check are not what they signed. */
    attest_by(&a, 0xf, OTHER_ID);
    attest_refused(&a, -EPERM, "bad_signature");
    /* The statement changed after signing. */
    attest_by(&a, 0xf, CHAIN_ID);
    a.height++;
    attest_refused(&a, -EPERM, "bad_signature");

    attest_by(&a, 0xe, CHAIN_ID);
    a.sigs[2] = a.sigs[1];
    attest_refused(&a, -EINVAL, "repeated_signer");
    attest_by(&a, 0xe, CHAIN_ID);
    a.sigs[2] = a.sigs[0];
    attest_refused(&a, -EBADMSG, "malformed"); /* out of order */
    attest_by(&a, 0xe, CHAIN_ID);
    a.stmt_len = 0;
    attest_refused(&a, -EBADMSG, "malformed");
    attest_by(&a, 0xe, CHAIN_ID);
    a.stmt_len = IPC_STATEMENT_MAX + 1;
    attest_refused(&a, -EBADMSG, "malformed");
    attest_by(&a, 0xe, CHAIN_ID);
    a.stmt_kind = 0;
    attest_refused(&a, -EBADMSG, "malformed");
    attest_by(&a, 0, CHAIN_ID);
    attest_refused(&a, -EBADMSG, "malformed"); /* no signature at all */
}
END_TEST

START_TEST(test_attest_sign)
{
    static const uint64_t powers[] = {10, 20, 30, 40};
    ipc_attestation_t a, before;
    keypair_t stranger;

    world(powers, 4);
    attest_init(&a);
    /* Signed in any order, kept ascending. */
    for (size_t i = 4; i-- > 0;)
        ck_assert_int_eq(peer_attest_sign(&a, CHAIN_ID, keys[i].pk, keys[i].sk), 0);
    ck_assert_uint_eq(a.n_sigs, 4);
    for (size_t i = 0; i < 4; i++)
        ck_assert_mem_eq(a.sigs[i].validator, keys[i].pk, BLOCK_KEY_LEN);
    attest_init(&a);
    ck_assert_int_eq(peer_attest_sign(&a, CHAIN_ID, keys[2].pk, keys[2].sk), 0);
    ck_assert_int_eq(peer_attest_sign(&a, CHAIN_ID, keys[0].pk, keys[0].sk), 0);
    ck_assert_int_eq(peer_attest_sign(&a, CHAIN_ID, keys[3].pk, keys[3].sk), 0);
    ck_assert_int_eq(peer_attest_sign(&a, CHAIN_ID, keys[1].pk, keys[1].sk), 0);
    for (size_t i = 0; i < 4; i++)
        ck_assert_mem_eq(a.sigs[i].validator, keys[i].pk, BLOCK_KEY_LEN);
    ck_assert_int_eq(peer_verify_attestation(&set, &a, NULL), 0);

    /* Refusals leave a as it was. */
    before = a;
    ck_assert_int_eq(peer_attest_sign(&a, CHAIN_ID, keys[1].pk, keys[1].sk), -EEXIST);
    ck_assert_int_eq(peer_attest_sign(&a, CHAIN_ID, keys[1].pk, keys[2].sk), -EINVAL);
    ck_assert_int_eq(peer_attest_sign(&a, "", keys[1].pk, keys[1].sk), -EINVAL);
    ck_assert_mem_eq(&a, &before, sizeof a);

    /* Full: IPC_ATTEST_SIGS_MAX signers whose keys all sort below any real one. */
    key_make(&stranger, 222);
    attest_init(&a);
    a.n_sigs = IPC_ATTEST_SIGS_MAX;
    for (uint32_t i = 0; i < a.n_sigs; i++) {
        memset(a.sigs[i].validator, 0, BLOCK_KEY_LEN);
        a.sigs[i].validator[BLOCK_KEY_LEN - 2] = (uint8_t)(i >> 8);
        a.sigs[i].validator[BLOCK_KEY_LEN - 1] = (uint8_t)i;
    }
    before = a;
    ck_assert_int_eq(peer_attest_sign(&a, CHAIN_ID, stranger.pk, stranger.sk), -ENOSPC);
    ck_assert_mem_eq(&a, &before, sizeof a);
    /* A key already there is told as such, even when full. */
    memcpy(a.sigs[IPC_ATTEST_SIGS_MAX - 1].validator, stranger.pk, BLOCK_KEY_LEN);
    ck_assert_int_eq(peer_attest_sign(&a, CHAIN_ID, stranger.pk, stranger.sk), -EEXIST);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "peerview", .tcase = "verify"};
    return suite_build(&spec,
                       SUITE_TESTS(test_set_from_genesis, test_quorum, test_valid_proofs,
                                   test_single_validator, test_low_power, test_unknown_signer,
                                   test_repeated_signer, test_bad_signature, test_wrong_chain,
                                   test_cert_mismatch, test_tip_rules, test_truncated,
                                   test_attestation_valid, test_attestation_refusals,
                                   test_attest_sign));
}
