/* common/smt.c: roots computed by hand and by a naive reference, order
 * independence, proofs (inclusion, both kinds of non-inclusion, forgeries),
 * the undo journal, and the JSON form with each of its refusals. */
#include <check.h>
#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/hex.h"
#include "common/store/smt.h"
#include "tests/lib/rng.h"
#include "tests/lib/smtref.h"
#include "tests/lib/suite.h"

/* The byte form of proofs: inclusion and exclusion proofs of a real tree
 * round-trip and still verify; the layout is u16 count, siblings, u8
 * has_leaf, leaf. */
START_TEST(test_bytes_round_trip_and_layout)
{
    smt_t *t = smt_new();
    static smt_proof_t p, d;
    uint8_t key[32], val[32], root[32], got[32], buf[SMT_PROOF_MAX];
    size_t len;
    ck_assert_ptr_nonnull(t);
    rng_seed(7);
    for (int i = 0; i < 200; i++) {
        rng_bytes(key, 32);
        rng_bytes(val, 32);
        ck_assert_int_eq(smt_set(t, key, val), 0);
    }
    smt_root(t, root);
    for (int present = 1; present >= 0; present--) {
        if (!present)
            rng_bytes(key, 32); /* not in the tree */
        ck_assert_int_eq(smt_prove(t, key, &p), 0);
        ck_assert_int_eq(smt_proof_encode(&p, buf, sizeof buf, &len), 0);
        ck_assert_uint_eq(len, 2 + 32u * p.n_siblings + 1 + (p.has_leaf ? 64 : 0));
        ck_assert_uint_eq(buf[0] << 8 | buf[1], p.n_siblings);
        ck_assert_uint_eq(buf[2 + 32 * p.n_siblings], p.has_leaf ? 1 : 0);
        memset(&d, 0x5a, sizeof d);
        ck_assert_int_eq(smt_proof_decode(&d, buf, len, NULL), 0);
        ck_assert_int_eq(smt_verify(root, key, &d, got), present);
        if (present)
            ck_assert_mem_eq(got, val, 32);
    }
    smt_free(t);
}
END_TEST

START_TEST(test_bytes_refusals)
{
    static smt_proof_t p, d, sentinel;
    uint8_t buf[SMT_PROOF_MAX + 1];
    size_t len;
    const char *what = NULL;
    memset(&p, 0, sizeof p);
    p.n_siblings = 3;
    p.has_leaf = 1;
    ck_assert_int_eq(smt_proof_encode(&p, buf, sizeof buf, &len), 0);
    memset(&sentinel, 0x5a, sizeof sentinel);
    /* Every truncation, a trailing byte, a has_leaf of 2, a count over 256. */
    for (size_t n = 0; n < len; n++) {
        memcpy(&d, &sentinel, sizeof d);
        ck_assert_int_eq(smt_proof_decode(&d, buf, n, &what), -EMSGSIZE);
        ck_assert_mem_eq(&d, &sentinel, sizeof d);
    }
    ck_assert_int_eq(smt_proof_decode(&d, buf, len + 1, &what), -EBADMSG);
    ck_assert_str_eq(what, "trailing bytes");
    buf[2 + 3 * 32] = 2;
    ck_assert_int_eq(smt_proof_decode(&d, buf, len, &what), -EBADMSG);
    ck_assert_str_eq(what, "has_leaf");
    buf[0] = 1, buf[1] = 1; /* 257 siblings */
    ck_assert_int_eq(smt_proof_decode(&d, buf, len, &what), -EBADMSG);
    ck_assert_str_eq(what, "n_siblings");
    p.n_siblings = SMT_DEPTH + 1;
    ck_assert_int_eq(smt_proof_encode(&p, buf, sizeof buf, &len), -EINVAL);
    p.n_siblings = 3;
    ck_assert_int_eq(smt_proof_encode(&p, buf, 10, &len), -ENOBUFS);
}
END_TEST

Suite *test_suite(void);

typedef smtref_kv_t kv_t;

static const uint8_t zero32[32];

/* Check records every passing ck_assert with a write(2); inside loops of
 * thousands use REQUIRE, which calls into Check only on failure. */
#define REQUIRE(cond)                                                              \
    do {                                                                           \
        if (!(cond))                                                               \
            ck_abort_msg("%s:%d: requirement failed: %s", __FILE__, __LINE__, #cond); \
    } while (0)

static kv_t *random_kvs(size_t n, uint64_t seed)
{
    kv_t *kv = malloc(n * sizeof(*kv));
    ck_assert_ptr_nonnull(kv);
    rng_seed(seed);
    for (size_t i = 0; i < n; i++) {
        rng_bytes(kv[i].key, 32);
        rng_bytes(kv[i].value, 32);
    }
    return kv;
}

static void shuffle(kv_t *kv, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(rng_next() % i);
        kv_t t = kv[i - 1];
        kv[i - 1] = kv[j];
        kv[j] = t;
    }
}

static smt_t *tree_of(const kv_t *kv, size_t n)
{
    smt_t *t = smt_new();
    ck_assert_ptr_nonnull(t);
    for (size_t i = 0; i < n; i++)
        REQUIRE(smt_set(t, kv[i].key, kv[i].value) == 0);
    return t;
}

static void key_fill(uint8_t k[32], uint8_t first)
{
    memset(k, 0, 32);
    k[0] = first;
}

/* ---- roots ---- */

START_TEST(test_empty_root_is_zero)
{
    smt_t *t = smt_new();
    uint8_t root[32], k[32] = {1}, v[32];
    memset(root, 0xaa, sizeof root);
    smt_root(t, root);
    ck_assert_mem_eq(root, zero32, 32);
    ck_assert_uint_eq(smt_count(t), 0);
    ck_assert_int_eq(smt_get(t, k, v), -ENOENT);
    ck_assert_int_eq(smt_delete(t, k), -ENOENT);
    smt_free(t);
    smt_free(NULL);
}
END_TEST

START_TEST(test_single_leaf_root_is_leaf_hash)
{
    smt_t *t = smt_new();
    uint8_t k[32], v[32], root[32], want[32];
    memset(k, 0x5c, 32);
    memset(v, 0x17, 32);
    ck_assert_int_eq(smt_set(t, k, v), 0);
    smt_root(t, root);
    smtref_leaf(k, v, want);
    ck_assert_mem_eq(root, want, 32);
    /* The same from one flat buffer, so a change of tag or layout shows. */
    uint8_t buf[78];
    memcpy(buf, "adnet/smt/leaf", 14);
    memset(buf + 14, 0x5c, 32);
    memset(buf + 46, 0x17, 32);
    crypto_generichash(want, 32, buf, sizeof buf, NULL, 0);
    ck_assert_mem_eq(root, want, 32);
    smt_free(t);
}
END_TEST

START_TEST(test_two_leaves_by_hand)
{
    /* Keys differing in bit 0: root = node(leaf(a), leaf(b)). */
    smt_t *t = smt_new();
    uint8_t a[32], b[32], va[32], vb[32], la[32], lb[32], want[32], root[32];
    key_fill(a, 0x00);
    key_fill(b, 0x80);
    memset(va, 1, 32);
    memset(vb, 2, 32);
    ck_assert_int_eq(smt_set(t, b, vb), 0);
    ck_assert_int_eq(smt_set(t, a, va), 0);
    smtref_leaf(a, va, la);
    smtref_leaf(b, vb, lb);
    smtref_node(la, lb, want);
    smt_root(t, root);
    ck_assert_mem_eq(root, want, 32);
    smt_free(t);

    /* Keys sharing bits 0 and 1, parting at bit 2 (0x00.. and 0x20..):
     * root = node(node(node(leaf(a), leaf(c)), 0), 0). */
    uint8_t c[32], vc[32], n2[32], n1[32];
    key_fill(c, 0x20);
    memset(vc, 3, 32);
    t = smt_new();
    ck_assert_int_eq(smt_set(t, a, va), 0);
    ck_assert_int_eq(smt_set(t, c, vc), 0);
    uint8_t lc[32];
    smtref_leaf(c, vc, lc);
    smtref_node(la, lc, n2);
    smtref_node(n2, zero32, n1);
    smtref_node(n1, zero32, want);
    smt_root(t, root);
    ck_assert_mem_eq(root, want, 32);
    ck_assert_uint_eq(smt_count(t), 2);
    smt_free(t);
}
END_TEST

START_TEST(test_matches_reference)
{
    kv_t *kv = random_kvs(1000, 42);
    uint8_t want[32], root[32];
    smt_t *t = smt_new();
    for (size_t i = 0; i < 1000; i++) {
        REQUIRE(smt_set(t, kv[i].key, kv[i].value) == 0);
        if (i % 97 == 0 || i < 5) { /* roots along the way, with cached hashes */
            smt_root(t, root);
            smtref_root(kv, i + 1, want);
            REQUIRE(memcmp(root, want, 32) == 0);
        }
    }
    smt_root(t, root);
    smtref_root(kv, 1000, want);
    REQUIRE(memcmp(root, want, 32) == 0);
    REQUIRE(smt_count(t) == 1000);
    smt_free(t);
    free(kv);
}
END_TEST

START_TEST(test_root_independent_of_insertion_order)
{
    kv_t *kv = random_kvs(1000, 7);
    uint8_t first[32], root[32];
    smt_t *t = tree_of(kv, 1000);
    smt_root(t, first);
    smt_free(t);
    ck_assert_mem_ne(first, zero32, 32);
    for (int round = 0; round < 5; round++) {
        shuffle(kv, 1000);
        t = tree_of(kv, 1000);
        smt_root(t, root);
        ck_assert_mem_eq(root, first, 32);
        smt_free(t);
    }
    free(kv);
}
END_TEST

START_TEST(test_root_independent_of_deletions)
{
    kv_t *kv = random_kvs(1000, 99);
    uint8_t root[32], want[32], v[32];
    smt_t *t = tree_of(kv, 1000);
    smt_root(t, root); /* cache hashes before deleting */
    shuffle(kv, 1000);
    for (size_t i = 500; i < 1000; i++)
        REQUIRE(smt_delete(t, kv[i].key) == 0);
    REQUIRE(smt_count(t) == 500);
    smt_root(t, root);
    smt_t *fresh = tree_of(kv, 500);
    smt_root(fresh, want);
    REQUIRE(memcmp(root, want, 32) == 0);
    for (size_t i = 500; i < 1000; i++) {
        REQUIRE(smt_get(t, kv[i].key, v) == -ENOENT);
        REQUIRE(smt_delete(t, kv[i].key) == -ENOENT);
    }
    for (size_t i = 0; i < 500; i++) {
        REQUIRE(smt_get(t, kv[i].key, v) == 0);
        REQUIRE(memcmp(v, kv[i].value, 32) == 0);
    }
    /* Deleting the rest leaves the empty root. */
    for (size_t i = 0; i < 500; i++)
        REQUIRE(smt_delete(t, kv[i].key) == 0);
    smt_root(t, root);
    REQUIRE(memcmp(root, zero32, 32) == 0);
    ck_assert_uint_eq(smt_count(t), 0);
    smt_free(fresh);
    smt_free(t);
    free(kv);
}
END_TEST

START_TEST(test_get_set_update_delete)
{
    smt_t *t = smt_new();
    uint8_t k[32], v1[32], v2[32], out[32], r0[32], r1[32], r2[32], r[32];
    uint8_t other[32], ov[32];
    memset(k, 0x11, 32);
    memset(other, 0x99, 32);
    memset(ov, 0x44, 32);
    memset(v1, 0xa1, 32);
    memset(v2, 0xb2, 32);
    ck_assert_int_eq(smt_set(t, other, ov), 0);
    smt_root(t, r0);
    ck_assert_int_eq(smt_set(t, k, v1), 0);
    ck_assert_int_eq(smt_get(t, k, out), 0);
    ck_assert_mem_eq(out, v1, 32);
    smt_root(t, r1);
    ck_assert_int_eq(smt_set(t, k, v2), 0); /* update in place */
    ck_assert_uint_eq(smt_count(t), 2);
    ck_assert_int_eq(smt_get(t, k, out), 0);
    ck_assert_mem_eq(out, v2, 32);
    smt_root(t, r2);
    ck_assert_mem_ne(r1, r2, 32);
    ck_assert_int_eq(smt_set(t, k, v1), 0);
    smt_root(t, r);
    ck_assert_mem_eq(r, r1, 32);
    ck_assert_int_eq(smt_delete(t, k), 0);
    memset(out, 0x77, 32);
    ck_assert_int_eq(smt_get(t, k, out), -ENOENT);
    for (int i = 0; i < 32; i++)
        ck_assert_int_eq(out[i], 0x77); /* untouched on -ENOENT */
    ck_assert_int_eq(smt_delete(t, k), -ENOENT);
    smt_root(t, r);
    ck_assert_mem_eq(r, r0, 32);
    ck_assert_uint_eq(smt_count(t), 1);
    smt_free(t);
}
END_TEST

START_TEST(test_keys_differing_only_in_last_bit)
{
    /* Two keys sharing 255 bits: 255 nodes with an empty sibling, then the
     * node of both leaves. Once with all-zero prefixes (leaves to the left)
     * and once with all-one prefixes (leaves to the right). */
    for (int ones = 0; ones <= 1; ones++) {
        uint8_t a[32], b[32], va[32], vb[32], la[32], lb[32], h[32], root[32];
        memset(a, ones ? 0xff : 0x00, 32);
        memcpy(b, a, 32);
        a[31] &= 0xfe;
        b[31] |= 0x01;
        memset(va, 0x0a, 32);
        memset(vb, 0x0b, 32);
        smt_t *t = smt_new();
        ck_assert_int_eq(smt_set(t, a, va), 0);
        ck_assert_int_eq(smt_set(t, b, vb), 0);
        smtref_leaf(a, va, la);
        smtref_leaf(b, vb, lb);
        smtref_node(la, lb, h);
        for (int d = 254; d >= 0; d--) {
            if (ones)
                smtref_node(zero32, h, h);
            else
                smtref_node(h, zero32, h);
        }
        smt_root(t, root);
        ck_assert_mem_eq(root, h, 32);

        smt_proof_t *p = malloc(sizeof(*p));
        uint8_t v[32];
        ck_assert_int_eq(smt_prove(t, b, p), 0);
        ck_assert_uint_eq(p->n_siblings, 256);
        ck_assert_mem_eq(p->siblings[255], la, 32);
        ck_assert_int_eq(smt_verify(root, b, p, v), 1);
        ck_assert_mem_eq(v, vb, 32);
        ck_assert_int_eq(smt_prove(t, a, p), 0);
        ck_assert_int_eq(smt_verify(root, a, p, v), 1);
        ck_assert_mem_eq(v, va, 32);

        /* Deleting one collapses the whole chain into the other leaf. */
        ck_assert_int_eq(smt_delete(t, a), 0);
        smt_root(t, root);
        ck_assert_mem_eq(root, lb, 32);
        ck_assert_int_eq(smt_prove(t, a, p), 0);
        ck_assert_uint_eq(p->n_siblings, 0);
        ck_assert_int_eq(p->has_leaf, 1);
        ck_assert_int_eq(smt_verify(root, a, p, NULL), 0);
        free(p);
        smt_free(t);
    }
}
END_TEST

/* ---- proofs ---- */

START_TEST(test_inclusion_proofs_for_every_key)
{
    kv_t *kv = random_kvs(500, 5);
    smt_t *t = tree_of(kv, 500);
    smt_proof_t *p = malloc(sizeof(*p));
    uint8_t root[32], v[32];
    smt_root(t, root);
    for (size_t i = 0; i < 500; i++) {
        REQUIRE(smt_prove(t, kv[i].key, p) == 0);
        REQUIRE(p->has_leaf == 1);
        REQUIRE(memcmp(p->leaf_key, kv[i].key, 32) == 0);
        REQUIRE(p->n_siblings <= 256);
        memset(v, 0, 32);
        REQUIRE(smt_verify(root, kv[i].key, p, v) == 1);
        REQUIRE(memcmp(v, kv[i].value, 32) == 0);
    }
    /* Absent keys: non-inclusion; with 500 leaves both kinds occur. */
    int empties = 0, others = 0;
    for (int i = 0; i < 2000; i++) {
        uint8_t k[32];
        rng_bytes(k, 32);
        REQUIRE(smt_prove(t, k, p) == 0);
        memset(v, 0x33, 32);
        REQUIRE(smt_verify(root, k, p, v) == 0);
        REQUIRE(v[0] == 0x33); /* value written only on inclusion */
        if (p->has_leaf)
            others++;
        else
            empties++;
    }
    REQUIRE(empties > 0);
    REQUIRE(others > 0);
    free(p);
    smt_free(t);
    free(kv);
}
END_TEST

/* Tree with A = 00.., B = 01.. (bits 0,1): root = node(node(A, B), 0). */
static smt_t *small_tree(uint8_t a[32], uint8_t b[32], uint8_t va[32], uint8_t vb[32])
{
    smt_t *t = smt_new();
    key_fill(a, 0x00);
    key_fill(b, 0x40);
    memset(va, 0xaa, 32);
    memset(vb, 0xbb, 32);
    ck_assert_int_eq(smt_set(t, a, va), 0);
    ck_assert_int_eq(smt_set(t, b, vb), 0);
    return t;
}

START_TEST(test_non_inclusion_both_kinds)
{
    uint8_t a[32], b[32], va[32], vb[32], root[32], k[32], la[32], lb[32], ab[32];
    smt_t *t = small_tree(a, b, va, vb);
    smt_proof_t p;
    smt_root(t, root);
    smtref_leaf(a, va, la);
    smtref_leaf(b, vb, lb);
    smtref_node(la, lb, ab);

    /* 0x80..: bit 0 is 1, the right subtree of the root is empty. */
    key_fill(k, 0x80);
    ck_assert_int_eq(smt_prove(t, k, &p), 0);
    ck_assert_int_eq(p.has_leaf, 0);
    ck_assert_uint_eq(p.n_siblings, 1);
    ck_assert_mem_eq(p.siblings[0], ab, 32);
    ck_assert_int_eq(smt_verify(root, k, &p, NULL), 0);

    /* 0x10..: bits 0,1 = 0,0 lead to leaf A, another key. */
    key_fill(k, 0x10);
    ck_assert_int_eq(smt_prove(t, k, &p), 0);
    ck_assert_int_eq(p.has_leaf, 1);
    ck_assert_mem_eq(p.leaf_key, a, 32);
    ck_assert_uint_eq(p.n_siblings, 2);
    ck_assert_mem_eq(p.siblings[0], zero32, 32);
    ck_assert_mem_eq(p.siblings[1], lb, 32);
    ck_assert_int_eq(smt_verify(root, k, &p, NULL), 0);

    /* The same proof does not show A absent: it shows A present. */
    ck_assert_int_eq(smt_verify(root, a, &p, NULL), 1);

    /* Empty tree: an empty proof shows anything absent. */
    smt_t *e = smt_new();
    ck_assert_int_eq(smt_prove(e, k, &p), 0);
    ck_assert_uint_eq(p.n_siblings, 0);
    ck_assert_int_eq(p.has_leaf, 0);
    ck_assert_int_eq(smt_verify(zero32, k, &p, NULL), 0);
    smt_free(e);
    smt_free(t);
}
END_TEST

START_TEST(test_tampered_proofs_fail)
{
    kv_t *kv = random_kvs(300, 11);
    smt_t *t = tree_of(kv, 300);
    smt_proof_t good, p;
    uint8_t root[32], bad_root[32], k[32];
    smt_root(t, root);
    ck_assert_int_eq(smt_prove(t, kv[17].key, &good), 0);
    ck_assert_uint_ge(good.n_siblings, 2);
    ck_assert_int_eq(smt_verify(root, kv[17].key, &good, NULL), 1);

    /* A flipped byte in any sibling. */
    for (unsigned i = 0; i < good.n_siblings; i++) {
        p = good;
        p.siblings[i][i % 32] ^= 0x01;
        ck_assert_int_eq(smt_verify(root, kv[17].key, &p, NULL), -EINVAL);
    }
    /* Wrong root. */
    memcpy(bad_root, root, 32);
    bad_root[31] ^= 0x80;
    ck_assert_int_eq(smt_verify(bad_root, kv[17].key, &good, NULL), -EINVAL);
    ck_assert_int_eq(smt_verify(zero32, kv[17].key, &good, NULL), -EINVAL);
    /* Wrong value. */
    p = good;
    p.leaf_value[0] ^= 0xff;
    ck_assert_int_eq(smt_verify(root, kv[17].key, &p, NULL), -EINVAL);
    /* Truncated or lengthened siblings. */
    p = good;
    p.n_siblings--;
    ck_assert_int_eq(smt_verify(root, kv[17].key, &p, NULL), -EINVAL);
    p = good;
    memcpy(p.siblings[p.n_siblings], root, 32);
    p.n_siblings++;
    ck_assert_int_eq(smt_verify(root, kv[17].key, &p, NULL), -EINVAL);
    /* Claiming the path ends empty. */
    p = good;
    p.has_leaf = 0;
    ck_assert_int_eq(smt_verify(root, kv[17].key, &p, NULL), -EINVAL);
    /* The proof of one key offered for another key of another path. */
    memcpy(k, kv[17].key, 32);
    k[0] ^= 0x80;
    ck_assert_int_eq(smt_verify(root, k, &good, NULL), -EINVAL);
    /* More than 256 siblings. */
    p = good;
    p.n_siblings = 257;
    ck_assert_int_eq(smt_verify(root, kv[17].key, &p, NULL), -EINVAL);
    p.n_siblings = UINT16_MAX;
    ck_assert_int_eq(smt_verify(root, kv[17].key, &p, NULL), -EINVAL);
    /* Empty path end with no siblings against a non-empty root. */
    memset(&p, 0, sizeof p);
    ck_assert_int_eq(smt_verify(root, k, &p, NULL), -EINVAL);
    smt_free(t);
    free(kv);
}
END_TEST

START_TEST(test_forged_leaf_with_unrelated_key_fails)
{
    /* Build a "root" from a forged proof so the hash chain holds: leaf X
     * (bit 0 = 0) placed on the right of sibling S, offered as proof that K
     * (bit 0 = 1) is absent. Only the prefix check stands in the way. */
    uint8_t x[32], vx[32], kk[32], s[32], lx[32], root[32];
    smt_proof_t p;
    key_fill(x, 0x01);
    memset(vx, 0x5e, 32);
    key_fill(kk, 0x80);
    memset(s, 0xc3, 32);
    smtref_leaf(x, vx, lx);
    smtref_node(s, lx, root);
    memset(&p, 0, sizeof p);
    p.n_siblings = 1;
    memcpy(p.siblings[0], s, 32);
    p.has_leaf = 1;
    memcpy(p.leaf_key, x, 32);
    memcpy(p.leaf_value, vx, 32);
    ck_assert_int_eq(smt_verify(root, kk, &p, NULL), -EINVAL);
    /* Control: with a leaf that does share bit 0 the same shape holds. */
    uint8_t y[32], ly[32];
    key_fill(y, 0x81);
    smtref_leaf(y, vx, ly);
    smtref_node(s, ly, root);
    memcpy(p.leaf_key, y, 32);
    ck_assert_int_eq(smt_verify(root, kk, &p, NULL), 0);

    /* Deep: a leaf sharing 200 bits of K offered at depth 201 fails. */
    uint8_t h[32];
    memset(kk, 0, 32);
    memset(y, 0, 32);
    y[25] = 0x80; /* bit 200 set: shares bits 0..199 with kk */
    smtref_leaf(y, vx, h);
    memset(&p, 0, sizeof p);
    p.n_siblings = 201;
    p.has_leaf = 1;
    memcpy(p.leaf_key, y, 32);
    memcpy(p.leaf_value, vx, 32);
    for (int i = 200; i >= 0; i--) {
        memset(p.siblings[i], (uint8_t)(i + 1), 32);
        smtref_node(h, p.siblings[i], h); /* kk's bits are all 0 */
    }
    ck_assert_int_eq(smt_verify(h, kk, &p, NULL), -EINVAL);
    p.n_siblings = 200; /* at depth 200 the prefix is shared: a real shape */
    smtref_leaf(y, vx, h);
    for (int i = 199; i >= 0; i--)
        smtref_node(h, p.siblings[i], h);
    ck_assert_int_eq(smt_verify(h, kk, &p, NULL), 0);
}
END_TEST

START_TEST(test_non_canonical_empty_sibling_fails)
{
    /* node(leaf, 0) never occurs in a compact tree: refuse it even though
     * the hash chain holds. */
    uint8_t x[32], vx[32], lx[32], root[32];
    smt_proof_t p;
    key_fill(x, 0x00);
    memset(vx, 1, 32);
    smtref_leaf(x, vx, lx);
    smtref_node(lx, zero32, root);
    memset(&p, 0, sizeof p);
    p.n_siblings = 1;
    p.has_leaf = 1;
    memcpy(p.leaf_key, x, 32);
    memcpy(p.leaf_value, vx, 32);
    ck_assert_int_eq(smt_verify(root, x, &p, NULL), -EINVAL);
    smtref_node(zero32, zero32, root);
    p.has_leaf = 0;
    ck_assert_int_eq(smt_verify(root, x, &p, NULL), -EINVAL);
}
END_TEST

START_TEST(test_proof_of_neighbour_in_last_bit)
{
    /* A key differing from a present key only in its last bit is shown
     * absent by that key's proof (the paths agree down to the leaf). */
    kv_t *kv = random_kvs(64, 3);
    smt_t *t = tree_of(kv, 64);
    smt_proof_t p;
    uint8_t root[32], k[32];
    smt_root(t, root);
    memcpy(k, kv[9].key, 32);
    k[31] ^= 1;
    ck_assert_int_eq(smt_prove(t, k, &p), 0);
    ck_assert_int_eq(p.has_leaf, 1);
    ck_assert_mem_eq(p.leaf_key, kv[9].key, 32);
    ck_assert_int_eq(smt_verify(root, k, &p, NULL), 0);
    /* Now insert it: the two part only at bit 255. */
    ck_assert_int_eq(smt_set(t, k, kv[0].value), 0);
    smt_root(t, root);
    ck_assert_int_eq(smt_prove(t, k, &p), 0);
    ck_assert_uint_eq(p.n_siblings, 256);
    ck_assert_int_eq(smt_verify(root, k, &p, NULL), 1);
    smt_free(t);
    free(kv);
}
END_TEST

/* ---- journal ---- */

START_TEST(test_rollback_restores_root_and_values)
{
    kv_t *kv = random_kvs(200, 21);
    smt_t *t = tree_of(kv, 100);
    uint8_t before[32], root[32], v[32], nv[32];
    smt_commit(t);
    ck_assert_uint_eq(smt_mark(t), 0);
    smt_root(t, before);
    uint64_t m = smt_mark(t);
    memset(nv, 0xee, 32);
    for (size_t i = 100; i < 200; i++) /* new keys */
        REQUIRE(smt_set(t, kv[i].key, kv[i].value) == 0);
    for (size_t i = 0; i < 30; i++) /* updates */
        REQUIRE(smt_set(t, kv[i].key, nv) == 0);
    for (size_t i = 30; i < 80; i++) /* deletions */
        REQUIRE(smt_delete(t, kv[i].key) == 0);
    REQUIRE(smt_delete(t, kv[150].key) == 0); /* delete a new key */
    REQUIRE(smt_delete(t, kv[150].key) == -ENOENT);
    REQUIRE(smt_mark(t) == 100 + 30 + 50 + 1);
    smt_root(t, root);
    REQUIRE(memcmp(root, before, 32) != 0);
    smt_rollback(t, m);
    REQUIRE(smt_mark(t) == m);
    smt_root(t, root);
    REQUIRE(memcmp(root, before, 32) == 0);
    REQUIRE(smt_count(t) == 100);
    for (size_t i = 0; i < 100; i++) {
        REQUIRE(smt_get(t, kv[i].key, v) == 0);
        REQUIRE(memcmp(v, kv[i].value, 32) == 0);
    }
    for (size_t i = 100; i < 200; i++)
        REQUIRE(smt_get(t, kv[i].key, v) == -ENOENT);
    smt_free(t);
    free(kv);
}
END_TEST

START_TEST(test_nested_marks)
{
    kv_t *kv = random_kvs(30, 8);
    smt_t *t = tree_of(kv, 10);
    uint8_t r0[32], r1[32], r2[32], root[32], v[32];
    smt_commit(t);
    smt_root(t, r0);
    uint64_t m1 = smt_mark(t);
    for (size_t i = 10; i < 20; i++)
        ck_assert_int_eq(smt_set(t, kv[i].key, kv[i].value), 0);
    ck_assert_int_eq(smt_delete(t, kv[0].key), 0);
    smt_root(t, r1);
    uint64_t m2 = smt_mark(t);
    ck_assert_uint_eq(m2, m1 + 11);
    for (size_t i = 20; i < 30; i++)
        ck_assert_int_eq(smt_set(t, kv[i].key, kv[i].value), 0);
    ck_assert_int_eq(smt_delete(t, kv[1].key), 0);
    ck_assert_int_eq(smt_set(t, kv[0].key, kv[5].value), 0);
    smt_root(t, r2);
    smt_rollback(t, m2);
    smt_root(t, root);
    ck_assert_mem_eq(root, r1, 32);
    ck_assert_uint_eq(smt_count(t), 19);
    ck_assert_int_eq(smt_get(t, kv[0].key, v), -ENOENT);
    ck_assert_int_eq(smt_get(t, kv[1].key, v), 0);
    ck_assert_mem_eq(v, kv[1].value, 32);
    /* A mark beyond the journal changes nothing. */
    smt_rollback(t, m2 + 1000);
    smt_root(t, root);
    ck_assert_mem_eq(root, r1, 32);
    smt_rollback(t, m1);
    smt_root(t, root);
    ck_assert_mem_eq(root, r0, 32);
    ck_assert_uint_eq(smt_count(t), 10);
    ck_assert_int_eq(smt_get(t, kv[0].key, v), 0);
    ck_assert_mem_eq(v, kv[0].value, 32);
    ck_assert_mem_ne(r1, r2, 32);
    smt_free(t);
    free(kv);
}
END_TEST

START_TEST(test_commit_then_rollback_does_nothing)
{
    kv_t *kv = random_kvs(50, 4);
    smt_t *t = tree_of(kv, 50);
    uint8_t want[32], root[32];
    ck_assert_uint_eq(smt_mark(t), 50);
    smt_commit(t);
    ck_assert_uint_eq(smt_mark(t), 0);
    smt_root(t, want);
    smt_rollback(t, 0);
    smt_root(t, root);
    ck_assert_mem_eq(root, want, 32);
    ck_assert_uint_eq(smt_count(t), 50);
    /* Changes after the commit roll back to it, not before it. */
    ck_assert_int_eq(smt_delete(t, kv[3].key), 0);
    smt_rollback(t, 0);
    smt_root(t, root);
    ck_assert_mem_eq(root, want, 32);
    smt_free(t);
    free(kv);
}
END_TEST

START_TEST(test_rollback_of_delete_all_and_churn)
{
    /* Delete every key, then churn the same keys, then roll back: nodes
     * freed by the deletions are what the undo re-inserts. */
    kv_t *kv = random_kvs(1000, 13);
    smt_t *t = tree_of(kv, 1000);
    uint8_t want[32], root[32];
    smt_commit(t);
    smt_root(t, want);
    for (size_t i = 0; i < 1000; i++)
        REQUIRE(smt_delete(t, kv[i].key) == 0);
    smt_root(t, root);
    REQUIRE(memcmp(root, zero32, 32) == 0);
    for (size_t i = 0; i < 1000; i += 3) {
        REQUIRE(smt_set(t, kv[i].key, kv[(i + 1) % 1000].value) == 0);
        if (i % 2 == 0)
            REQUIRE(smt_delete(t, kv[i].key) == 0);
    }
    smt_rollback(t, 0);
    smt_root(t, root);
    ck_assert_mem_eq(root, want, 32);
    ck_assert_uint_eq(smt_count(t), 1000);
    smt_free(t);
    free(kv);
}
END_TEST

START_TEST(test_random_ops_against_reference)
{
    /* 16 keys, some sharing long prefixes; random set/delete/mark/rollback
     * compared with a plain array model. */
    kv_t keys[16];
    kv_t model[16];
    size_t n_model = 0;
    kv_t snap[8][16];
    size_t snap_n[8];
    uint64_t marks[8];
    size_t n_marks = 0;
    rng_seed(77);
    for (int i = 0; i < 16; i++) {
        rng_bytes(keys[i].key, 32);
        if (i >= 8) { /* copy an earlier key and change one late bit */
            memcpy(keys[i].key, keys[i - 8].key, 32);
            keys[i].key[31 - i % 4] ^= (uint8_t)(1u << (i % 8));
        }
    }
    smt_t *t = smt_new();
    for (int step = 0; step < 3000; step++) {
        unsigned op = (unsigned)(rng_next() % 10);
        size_t ki = (size_t)(rng_next() % 16);
        size_t at = n_model;
        for (size_t j = 0; j < n_model; j++)
            if (memcmp(model[j].key, keys[ki].key, 32) == 0)
                at = j;
        if (op < 5) {
            uint8_t v[32];
            rng_bytes(v, 32);
            REQUIRE(smt_set(t, keys[ki].key, v) == 0);
            if (at == n_model)
                memcpy(model[n_model++].key, keys[ki].key, 32);
            memcpy(model[at].value, v, 32);
        } else if (op < 8) {
            int rc = smt_delete(t, keys[ki].key);
            REQUIRE(rc == (at == n_model ? -ENOENT : 0));
            if (at < n_model)
                model[at] = model[--n_model];
        } else if (op == 8 && n_marks < 8) {
            marks[n_marks] = smt_mark(t);
            memcpy(snap[n_marks], model, sizeof model);
            snap_n[n_marks++] = n_model;
        } else if (op == 9 && n_marks > 0) {
            size_t back = (size_t)(rng_next() % n_marks);
            smt_rollback(t, marks[back]);
            memcpy(model, snap[back], sizeof model);
            n_model = snap_n[back];
            n_marks = back;
        } else if (n_marks == 0 && rng_next() % 4 == 0) {
            smt_commit(t);
        }
        uint8_t root[32], want[32];
        smt_root(t, root);
        smtref_root(model, n_model, want);
        REQUIRE(memcmp(root, want, 32) == 0);
        REQUIRE(smt_count(t) == n_model);
    }
    smt_free(t);
}
END_TEST

/* ---- JSON ---- */

START_TEST(test_json_round_trip_and_format)
{
    uint8_t a[32], b[32], va[32], vb[32], root[32], k[32], r2[32], k2[32];
    smt_t *t = small_tree(a, b, va, vb);
    smt_proof_t p, q;
    smt_root(t, root);
    key_fill(k, 0x80);
    ck_assert_int_eq(smt_prove(t, k, &p), 0);
    json_t *j = smt_proof_to_json(root, k, &p);
    ck_assert_ptr_nonnull(j);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    char rh[65], sh[65], want[512];
    hex_encode(rh, root, 32);
    hex_encode(sh, p.siblings[0], 32);
    snprintf(want, sizeof want,
             "{\"key\":\"80%062d\",\"leaf\":null,\"root\":\"%s\",\"siblings\":[\"%s\"]}", 0, rh,
             sh);
    ck_assert_str_eq(s, want);
    free(s);
    memset(&q, 0x5a, sizeof q);
    ck_assert_int_eq(smt_proof_from_json(j, r2, k2, &q, NULL), 0);
    ck_assert_mem_eq(r2, root, 32);
    ck_assert_mem_eq(k2, k, 32);
    ck_assert_uint_eq(q.n_siblings, 1);
    ck_assert_int_eq(q.has_leaf, 0);
    ck_assert_int_eq(smt_verify(r2, k2, &q, NULL), 0);
    json_decref(j);

    /* With a leaf. */
    ck_assert_int_eq(smt_prove(t, b, &p), 0);
    j = smt_proof_to_json(root, b, &p);
    ck_assert_ptr_nonnull(j);
    json_t *leaf = json_object_get(j, "leaf");
    ck_assert(json_is_object(leaf));
    char bh[65], vh[65];
    hex_encode(bh, b, 32);
    hex_encode(vh, vb, 32);
    ck_assert_str_eq(json_string_value(json_object_get(leaf, "key")), bh);
    ck_assert_str_eq(json_string_value(json_object_get(leaf, "value")), vh);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "siblings")), 2);
    ck_assert_int_eq(smt_proof_from_json(j, r2, k2, &q, NULL), 0);
    ck_assert_int_eq(q.has_leaf, 1);
    ck_assert_mem_eq(q.leaf_key, b, 32);
    ck_assert_mem_eq(q.leaf_value, vb, 32);
    ck_assert_mem_eq(q.siblings[1], p.siblings[1], 32);
    uint8_t v[32];
    ck_assert_int_eq(smt_verify(r2, k2, &q, v), 1);
    ck_assert_mem_eq(v, vb, 32);
    json_decref(j);

    /* Uppercase hex is accepted. */
    j = json_pack("{s:s,s:s,s:[],s:n}", "key",
                  "ABCDEF0000000000000000000000000000000000000000000000000000000000", "root",
                  "0000000000000000000000000000000000000000000000000000000000000000", "siblings",
                  "leaf");
    ck_assert_int_eq(smt_proof_from_json(j, r2, k2, &q, NULL), 0);
    ck_assert_int_eq(k2[0], 0xab);
    ck_assert_int_eq(smt_verify(r2, k2, &q, NULL), 0);
    json_decref(j);
    smt_free(t);
}
END_TEST

/* Parse text as a proof and expect a refusal naming field. */
static void expect_refusal(const char *text, const char *field)
{
    json_error_t err;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    ck_assert_msg(j != NULL, "test JSON does not parse: %s", err.text);
    uint8_t r[32], k[32];
    smt_proof_t p;
    const char *what = NULL;
    memset(r, 0x11, 32);
    memset(k, 0x22, 32);
    memset(&p, 0x33, sizeof p);
    ck_assert_int_eq(smt_proof_from_json(j, r, k, &p, &what), -EINVAL);
    ck_assert_ptr_nonnull(what);
    ck_assert_str_eq(what, field);
    /* Out-params untouched on refusal. */
    for (int i = 0; i < 32; i++) {
        ck_assert_int_eq(r[i], 0x11);
        ck_assert_int_eq(k[i], 0x22);
    }
    ck_assert_uint_eq(p.n_siblings, 0x3333);
    json_decref(j);
}

#define H64 "1111111111111111111111111111111111111111111111111111111111111111"
#define H62 "11111111111111111111111111111111111111111111111111111111111111"

START_TEST(test_json_refusals)
{
    expect_refusal("[]", "proof");
    expect_refusal("null", "proof");
    expect_refusal("{\"root\":\"" H64 "\",\"siblings\":[],\"leaf\":null}", "key");
    expect_refusal("{\"key\":\"" H62 "\",\"root\":\"" H64 "\",\"siblings\":[],\"leaf\":null}",
                   "key");
    expect_refusal("{\"key\":\"" H64 "11\",\"root\":\"" H64 "\",\"siblings\":[],\"leaf\":null}",
                   "key");
    expect_refusal("{\"key\":\"" H62 "zz\",\"root\":\"" H64 "\",\"siblings\":[],\"leaf\":null}",
                   "key");
    expect_refusal("{\"key\":17,\"root\":\"" H64 "\",\"siblings\":[],\"leaf\":null}", "key");
    expect_refusal("{\"key\":\"" H62 "\\u00001\",\"root\":\"" H64
                   "\",\"siblings\":[],\"leaf\":null}",
                   "key");
    expect_refusal("{\"key\":\"" H64 "\",\"siblings\":[],\"leaf\":null}", "root");
    expect_refusal("{\"key\":\"" H64 "\",\"root\":\"" H62 "\",\"siblings\":[],\"leaf\":null}",
                   "root");
    expect_refusal("{\"key\":\"" H64 "\",\"root\":\"" H64 "\",\"leaf\":null}", "siblings");
    expect_refusal("{\"key\":\"" H64 "\",\"root\":\"" H64 "\",\"siblings\":{},\"leaf\":null}",
                   "siblings");
    expect_refusal("{\"key\":\"" H64 "\",\"root\":\"" H64 "\",\"siblings\":[\"" H62
                   "\"],\"leaf\":null}",
                   "siblings[]");
    expect_refusal("{\"key\":\"" H64 "\",\"root\":\"" H64 "\",\"siblings\":[\"" H64
                   "\",null],\"leaf\":null}",
                   "siblings[]");
    expect_refusal("{\"key\":\"" H64 "\",\"root\":\"" H64 "\",\"siblings\":[]}", "leaf");
    expect_refusal("{\"key\":\"" H64 "\",\"root\":\"" H64 "\",\"siblings\":[],\"leaf\":\"x\"}",
                   "leaf");
    expect_refusal("{\"key\":\"" H64 "\",\"root\":\"" H64 "\",\"siblings\":[],\"leaf\":{\"value\":\"" H64
                   "\"}}",
                   "leaf.key");
    expect_refusal("{\"key\":\"" H64 "\",\"root\":\"" H64 "\",\"siblings\":[],\"leaf\":{\"key\":\"" H64
                   "\",\"value\":\"" H62 "\"}}",
                   "leaf.value");

    /* 257 siblings: refused; 256: accepted. */
    json_t *j = json_pack("{s:s,s:s,s:[],s:n}", "key", H64, "root", H64, "siblings", "leaf");
    json_t *sib = json_object_get(j, "siblings");
    for (int i = 0; i < 256; i++)
        json_array_append_new(sib, json_string(H64));
    uint8_t r[32], k[32];
    smt_proof_t *p = malloc(sizeof(*p));
    const char *what = NULL;
    ck_assert_int_eq(smt_proof_from_json(j, r, k, p, &what), 0);
    ck_assert_uint_eq(p->n_siblings, 256);
    json_array_append_new(sib, json_string(H64));
    memset(p, 0, sizeof(*p));
    ck_assert_int_eq(smt_proof_from_json(j, r, k, p, &what), -EINVAL);
    ck_assert_str_eq(what, "siblings");
    ck_assert_uint_eq(p->n_siblings, 0);
    json_decref(j);
    free(p);
}
END_TEST

START_TEST(test_to_json_refuses_oversized_proof)
{
    smt_proof_t p;
    uint8_t z[32] = {0};
    memset(&p, 0, sizeof p);
    p.n_siblings = 257;
    ck_assert_ptr_null(smt_proof_to_json(z, z, &p));
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "smt", .tcase = "core", .timeout_s = 30};
    return suite_build(&spec, SUITE_TESTS(
        test_empty_root_is_zero, test_single_leaf_root_is_leaf_hash, test_two_leaves_by_hand,
        test_matches_reference, test_root_independent_of_insertion_order,
        test_root_independent_of_deletions, test_get_set_update_delete,
        test_keys_differing_only_in_last_bit, test_inclusion_proofs_for_every_key,
        test_non_inclusion_both_kinds, test_tampered_proofs_fail,
        test_forged_leaf_with_unrelated_key_fails, test_non_canonical_empty_sibling_fails,
        test_proof_of_neighbour_in_last_bit, test_rollback_restores_root_and_values,
        test_nested_marks, test_commit_then_rollback_does_nothing,
        test_rollback_of_delete_all_and_churn, test_random_ops_against_reference,
        test_json_round_trip_and_format, test_json_refusals, test_to_json_refuses_oversized_proof,
        test_bytes_round_trip_and_layout, test_bytes_refusals));
}
