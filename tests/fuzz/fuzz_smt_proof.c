/* libFuzzer target for common/smt.c, two modes chosen by the first byte:
 *
 *   even: the rest is JSON; smt_proof_from_json must refuse it with a field
 *         name or accept it, and an accepted proof must make smt_verify
 *         return 1, 0 or -EINVAL and survive a to_json/from_json round trip.
 *   odd:  the rest drives set/delete/mark/rollback/commit on a tree and on a
 *         naive model (an array, its root recomputed from the definition);
 *         roots, counts and lookups must agree, and proofs must verify.
 *
 *   clang -fsanitize=fuzzer,address,undefined -I. -Ibuild tests/fuzz/fuzz_smt_proof.c \
 *       tests/lib/fuzz.c tests/lib/smtref.c common/store/smt.c common/base/hex.c \
 *       $(pkg-config --cflags --libs libsodium jansson)
 *   ./a.out -max_total_time=60
 *
 * Checks use abort(), not assert(), so they hold in NDEBUG builds too. */
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/store/smt.h"
#include "tests/lib/fuzz.h"
#include "tests/lib/smtref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- mode 1: JSON proofs ---- */

static void fuzz_json(const uint8_t *data, size_t size)
{
    static smt_proof_t p, q;
    uint8_t root[SMT_HASH_LEN], key[SMT_KEY_LEN], root2[SMT_HASH_LEN], key2[SMT_KEY_LEN];
    uint8_t value[SMT_HASH_LEN];
    const char *what = NULL;
    json_error_t err;
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (j == NULL)
        return;
    int rc = smt_proof_from_json(j, root, key, &p, &what);
    if (rc != 0) {
        CHECK(rc == -EINVAL);
        CHECK(what != NULL);
        goto out;
    }
    CHECK(p.n_siblings <= SMT_DEPTH);
    rc = smt_verify(root, key, &p, value);
    CHECK(rc == 1 || rc == 0 || rc == -EINVAL);
    if (rc == 1)
        CHECK(memcmp(value, p.leaf_value, SMT_HASH_LEN) == 0);

    json_t *back = smt_proof_to_json(root, key, &p);
    CHECK(back != NULL);
    CHECK(smt_proof_from_json(back, root2, key2, &q, &what) == 0);
    CHECK(memcmp(root, root2, SMT_HASH_LEN) == 0);
    CHECK(memcmp(key, key2, SMT_KEY_LEN) == 0);
    CHECK(q.n_siblings == p.n_siblings && q.has_leaf == p.has_leaf);
    CHECK(memcmp(q.siblings, p.siblings, (size_t)p.n_siblings * SMT_HASH_LEN) == 0);
    if (p.has_leaf) {
        CHECK(memcmp(q.leaf_key, p.leaf_key, SMT_KEY_LEN) == 0);
        CHECK(memcmp(q.leaf_value, p.leaf_value, SMT_HASH_LEN) == 0);
    }
    CHECK(smt_verify(root2, key2, &q, NULL) == rc);
    json_decref(back);
out:
    json_decref(j);
}

/* ---- mode 2: operations against a naive model ---- */

#define N_KEYS 16
#define MAX_MARKS 8
#define MAX_OPS 128 /* keeps runs fast; longer inputs add nothing new */

typedef smtref_kv_t kv_t;

typedef struct {
    kv_t kv[N_KEYS];
    size_t n;
} model_t;

/* The model's root, by the definition. */
static void model_root(const model_t *m, uint8_t out[32])
{
    smtref_root(m->kv, m->n, out);
}

static size_t model_find(const model_t *m, const uint8_t *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (memcmp(m->kv[i].key, key, SMT_KEY_LEN) == 0)
            return i;
    return m->n;
}

/* A key pool with long shared prefixes: keys differ from a base in a few
 * chosen bits, so splits happen deep as well as shallow. */
static void make_key(uint8_t sel, uint8_t key[SMT_KEY_LEN])
{
    static const uint16_t flips[N_KEYS] = {0, 1, 2, 7, 8, 100, 200, 254, 255, 0, 3, 128,
                                           129, 250, 251, 252};
    memset(key, 0x5a, SMT_KEY_LEN);
    unsigned i = sel % N_KEYS;
    unsigned b = flips[i];
    if (i != 0)
        key[b / 8] ^= (uint8_t)(0x80u >> (b % 8));
    if (i >= 9) /* a second flip: keys that share even more with others */
        key[31] ^= 0x01;
}

static void fuzz_ops(const uint8_t *data, size_t size)
{
    static model_t m, snaps[MAX_MARKS];
    static smt_proof_t p;
    uint64_t marks[MAX_MARKS];
    size_t n_marks = 0;
    smt_t *t = smt_new();
    if (t == NULL)
        return;
    m.n = 0;
    for (size_t off = 0; off + 2 <= size && off < 2 * MAX_OPS; off += 2) {
        uint8_t op = data[off] & 7, arg = data[off + 1];
        uint8_t key[SMT_KEY_LEN], value[SMT_HASH_LEN], got[SMT_HASH_LEN];
        make_key(arg, key);
        size_t at = model_find(&m, key);
        switch (op) {
        case 0: case 1: case 2: /* set */
            memset(value, arg ^ data[off], SMT_HASH_LEN);
            value[0] = (uint8_t)off;
            CHECK(smt_set(t, key, value) == 0);
            if (at == m.n)
                memcpy(m.kv[m.n++].key, key, SMT_KEY_LEN);
            memcpy(m.kv[at].value, value, SMT_HASH_LEN);
            break;
        case 3: case 4: /* delete */
            CHECK(smt_delete(t, key) == (at == m.n ? -ENOENT : 0));
            if (at < m.n)
                m.kv[at] = m.kv[--m.n];
            break;
        case 5: /* mark */
            if (n_marks < MAX_MARKS) {
                marks[n_marks] = smt_mark(t);
                snaps[n_marks++] = m;
            }
            break;
        case 6: /* rollback to a chosen mark */
            if (n_marks > 0) {
                size_t back = arg % n_marks;
                smt_rollback(t, marks[back]);
                m = snaps[back];
                n_marks = back + 1;
            }
            break;
        case 7: /* commit forgets every mark */
            smt_commit(t);
            CHECK(smt_mark(t) == 0);
            n_marks = 0;
            break;
        }
        uint8_t root[SMT_HASH_LEN], want[SMT_HASH_LEN];
        smt_root(t, root);
        model_root(&m, want);
        CHECK(memcmp(root, want, SMT_HASH_LEN) == 0);
        CHECK(smt_count(t) == m.n);
        at = model_find(&m, key);
        int rc = smt_get(t, key, got);
        CHECK(rc == (at == m.n ? -ENOENT : 0));
        if (rc == 0)
            CHECK(memcmp(got, m.kv[at].value, SMT_HASH_LEN) == 0);
        CHECK(smt_prove(t, key, &p) == 0);
        CHECK(smt_verify(root, key, &p, got) == (at == m.n ? 0 : 1));
    }
    smt_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t *msg = fuzz_copy(data + 1, size - 1);
    if (msg == NULL)
        return 0;
    if (data[0] & 1)
        fuzz_ops(msg, size - 1);
    else
        fuzz_json(msg, size - 1);
    free(msg);
    return 0;
}
