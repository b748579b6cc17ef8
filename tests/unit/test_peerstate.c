/* Checking a peer's state reply (common/node/ipc/peerstate.c) on real
 * trees: an inclusion and an exclusion proof against a state root made of
 * two tree roots with a tag, and of one root without; and every way an
 * answer can fail to hold (roots that do not make the state root, a
 * proof that does not hold, a status its proof contradicts, another
 * question's answer), each refused with its code; the peer's own
 * refusals passed on. */
#include <check.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "common/node/ipc/peerstate.h"
#include "common/store/smt.h"
#include "tests/lib/rng.h"
#include "tests/lib/suite.h"

Suite *test_suite(void);

#define TAG "adnet/test/state/v1"

typedef struct {
    smt_t *t[2];
    uint8_t roots[2][32];
    uint8_t state_root[32];
    uint8_t key[32], val[32], absent[32];
    smt_proof_t proof;
    uint8_t pbuf[SMT_PROOF_MAX];
    ipc_state_reply_t r;
} world_t;

static world_t w;

/* Two trees of 50 leaves; tree 0 holds w.key -> w.val; the state root is
 * BLAKE2b(TAG || root0 || root1), computed here by hand. */
static void world(void)
{
    uint8_t k[32], v[32];
    crypto_generichash_state st;
    rng_seed(11);
    for (int i = 0; i < 2; i++) {
        w.t[i] = smt_new();
        for (int j = 0; j < 50; j++) {
            rng_bytes(k, 32);
            rng_bytes(v, 32);
            ck_assert_int_eq(smt_set(w.t[i], k, v), 0);
            if (i == 0 && j == 7) {
                memcpy(w.key, k, 32);
                memcpy(w.val, v, 32);
            }
        }
        smt_root(w.t[i], w.roots[i]);
    }
    rng_bytes(w.absent, 32);
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)TAG, strlen(TAG));
    crypto_generichash_update(&st, w.roots[0], 32);
    crypto_generichash_update(&st, w.roots[1], 32);
    crypto_generichash_final(&st, w.state_root, 32);
}

/* The reply an honest peer gives for key in tree 0 at height 9. */
static void answer(const uint8_t key[32])
{
    size_t n;
    memset(&w.r, 0, sizeof w.r);
    ck_assert_int_eq(smt_prove(w.t[0], key, &w.proof), 0);
    ck_assert_int_eq(smt_proof_encode(&w.proof, w.pbuf, sizeof w.pbuf, &n), 0);
    bool here = w.proof.has_leaf && memcmp(w.proof.leaf_key, key, 32) == 0;
    w.r = (ipc_state_reply_t){ .query_id = 1, .height = 9,
                               .status = here ? IPC_STATE_PRESENT : IPC_STATE_ABSENT,
                               .key = key, .key_len = 32, .proof = w.pbuf, .proof_len = n,
                               .n_roots = 2, .root_index = 0 };
    if (here) {
        w.r.value = w.proof.leaf_value;
        w.r.value_len = 32;
    }
    snprintf(w.r.tree, sizeof w.r.tree, "records");
    snprintf(w.r.root_tag, sizeof w.r.root_tag, "%s", TAG);
    memcpy(w.r.roots, w.roots, sizeof w.roots);
}

static int check(const uint8_t key[32], peer_state_t *out, reject_t *why)
{
    return peer_check_state_reply(&w.r, "records", key, 32, 9, w.state_root, out, why);
}

static void teardown(void)
{
    smt_free(w.t[0]);
    smt_free(w.t[1]);
}

START_TEST(test_present_and_absent)
{
    peer_state_t out;
    reject_t why = { 0 };
    world();
    answer(w.key);
    ck_assert_int_eq(check(w.key, &out, &why), 0);
    ck_assert(out.present);
    ck_assert_mem_eq(out.value, w.val, 32);
    ck_assert_mem_eq(out.tree_root, w.roots[0], 32);
    answer(w.absent);
    ck_assert_int_eq(check(w.absent, &out, &why), 0);
    ck_assert(!out.present);
    /* One tree, no tag: its root is the state root. */
    answer(w.key);
    w.r.n_roots = 1;
    w.r.root_tag[0] = '\0';
    ck_assert_int_eq(peer_check_state_reply(&w.r, "records", w.key, 32, 9, w.roots[0], &out,
                                            &why), 0);
    ck_assert(out.present);
    teardown();
}
END_TEST

START_TEST(test_answers_that_do_not_hold)
{
    peer_state_t out;
    reject_t why = { 0 };
    uint8_t other[32];
    world();
    /* Roots that do not make the state root: another tag, a changed root,
     * the roots swapped, an index past them. */
    answer(w.key);
    snprintf(w.r.root_tag, sizeof w.r.root_tag, "adnet/other");
    ck_assert_int_eq(check(w.key, &out, &why), -EPROTO);
    ck_assert_str_eq(why.code, "bad_roots");
    answer(w.key);
    w.r.roots[1][0] ^= 1;
    ck_assert_int_eq(check(w.key, &out, &why), -EPROTO);
    ck_assert_str_eq(why.code, "bad_roots");
    answer(w.key);
    w.r.root_index = 2;
    ck_assert_int_eq(check(w.key, &out, &why), -EPROTO);
    ck_assert_str_eq(why.code, "bad_roots");
    /* The proof against the other (valid) root: does not hold. */
    answer(w.key);
    w.r.root_index = 1;
    ck_assert_int_eq(check(w.key, &out, &why), -EPROTO);
    ck_assert_str_eq(why.code, "bad_proof");
    /* A changed sibling; a cut proof; "present" over an exclusion proof;
     * "absent" over an inclusion proof; a value other than the proven one. */
    answer(w.key);
    w.pbuf[2] ^= 1;
    ck_assert_int_eq(check(w.key, &out, &why), -EPROTO);
    ck_assert_str_eq(why.code, "bad_proof");
    answer(w.key);
    w.r.proof_len--;
    ck_assert_int_eq(check(w.key, &out, &why), -EPROTO);
    ck_assert_str_eq(why.code, "bad_proof");
    answer(w.absent);
    w.r.status = IPC_STATE_PRESENT;
    ck_assert_int_eq(check(w.absent, &out, &why), -EPROTO);
    ck_assert_str_eq(why.code, "bad_proof");
    answer(w.key);
    w.r.status = IPC_STATE_ABSENT;
    ck_assert_int_eq(check(w.key, &out, &why), -EPROTO);
    ck_assert_str_eq(why.code, "bad_proof");
    answer(w.key);
    memcpy(other, w.val, 32);
    other[5] ^= 1;
    w.r.value = other;
    ck_assert_int_eq(check(w.key, &out, &why), -EPROTO);
    ck_assert_str_eq(why.code, "bad_proof");
    /* Another question's answer: key, height, tree. */
    answer(w.absent);
    ck_assert_int_eq(check(w.key, &out, &why), -EPROTO);
    ck_assert_str_eq(why.code, "wrong_answer");
    answer(w.key);
    ck_assert_int_eq(peer_check_state_reply(&w.r, "records", w.key, 32, 8, w.state_root, &out,
                                            &why), -EPROTO);
    ck_assert_str_eq(why.code, "wrong_answer");
    ck_assert_int_eq(peer_check_state_reply(&w.r, "nullifiers", w.key, 32, 9, w.state_root,
                                            &out, &why), -EPROTO);
    ck_assert_str_eq(why.code, "wrong_answer");
    ck_assert_int_eq(peer_check_state_reply(&w.r, "records", w.key, 31, 9, w.state_root, &out,
                                            &why), -EINVAL);
    ck_assert_str_eq(why.code, "bad_key");
    teardown();
}
END_TEST

START_TEST(test_peer_refusals_passed_on)
{
    static const struct {
        uint8_t status;
        int rc;
        const char *code;
    } cases[] = {
        { IPC_STATE_PRUNED, -ESTALE, "pruned" },
        { IPC_STATE_UNKNOWN_TREE, -ENOENT, "unknown_tree" },
        { IPC_STATE_UNKNOWN_HEIGHT, -ERANGE, "unknown_height" },
        { IPC_STATE_BAD_KEY, -EINVAL, "bad_key" },
        { 77, -EPROTO, "wrong_answer" },
    };
    peer_state_t out;
    reject_t why = { 0 };
    world();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        answer(w.key);
        w.r.status = cases[i].status;
        ck_assert_int_eq(check(w.key, &out, &why), cases[i].rc);
        ck_assert_str_eq(why.code, cases[i].code);
        ck_assert(!out.present);
    }
    teardown();
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "peerstate", .tcase = "core"};
    return suite_build(&spec, SUITE_TESTS(test_present_and_absent, test_answers_that_do_not_hold,
                                          test_peer_refusals_passed_on));
}
