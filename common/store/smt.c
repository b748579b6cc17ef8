/* Sparse Merkle tree: an in-memory binary trie in compact form.
 *
 * Invariant: every internal node has at least two leaves below it, so a
 * subtree with one leaf is that leaf itself (placed as high as it can go)
 * and an empty subtree is a NULL child. The shape, and so the root, then
 * depends only on the set of leaves. Internal nodes are not path-compressed:
 * two leaves sharing a prefix of p bits hang below a chain of p internal
 * nodes whose other child is empty, exactly as the hash definition walks.
 *
 * Hashes are cached per node with a dirty flag; a change marks its path
 * dirty and smt_root rehashes only dirty nodes.
 *
 * Nodes freed while the journal holds entries go to a free list instead of
 * free(): undoing a deletion needs exactly the nodes that deletion freed,
 * so smt_rollback never allocates and cannot fail. smt_commit returns the
 * free list to the allocator. */
#include "common/store/smt.h"

#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/hex.h"
#include "proto/wire.h"

#define SMT_TAG_LEAF "adnet/smt/leaf"
#define SMT_TAG_NODE "adnet/smt/node"

typedef struct smt_node {
    uint8_t hash[SMT_HASH_LEN]; /* valid unless dirty */
    uint8_t is_leaf;
    uint8_t dirty;              /* hash must be recomputed */
    union {
        struct smt_node *child[2]; /* internal; child[0] doubles as the free-list link */
        struct {
            uint8_t key[SMT_KEY_LEN];
            uint8_t value[SMT_HASH_LEN];
        } leaf;
    } u;
} smt_node_t;

typedef struct {
    uint8_t key[SMT_KEY_LEN];
    uint8_t had_value;           /* 1: key held old_value before the change */
    uint8_t old_value[SMT_HASH_LEN];
} smt_undo_t;

struct smt {
    smt_node_t *root;
    size_t count;               /* leaves */
    smt_undo_t *journal;
    size_t journal_len;
    size_t journal_cap;
    smt_node_t *pool;           /* freed nodes kept for rollback (linked by child[0]) */
};

static const uint8_t smt_zero[SMT_HASH_LEN];

static inline unsigned key_bit(const uint8_t key[SMT_KEY_LEN], unsigned i)
{
    return (key[i >> 3] >> (7 - (i & 7))) & 1u;
}

/* BLAKE2b-256 of tag (no NUL) || a[SMT_KEY_LEN] || b[SMT_HASH_LEN]. */
static void hash_tagged(const char *tag, const uint8_t *a, const uint8_t *b,
                        uint8_t out[SMT_HASH_LEN])
{
    _Static_assert(SMT_KEY_LEN == SMT_HASH_LEN, "leaf keys and child hashes are one size");
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, SMT_HASH_LEN);
    crypto_generichash_update(&st, (const uint8_t *)tag, strlen(tag));
    crypto_generichash_update(&st, a, SMT_KEY_LEN);
    crypto_generichash_update(&st, b, SMT_HASH_LEN);
    crypto_generichash_final(&st, out, SMT_HASH_LEN);
}

void smt_hash_leaf(const uint8_t key[SMT_KEY_LEN], const uint8_t value[SMT_HASH_LEN],
                   uint8_t out[SMT_HASH_LEN])
{
    hash_tagged(SMT_TAG_LEAF, key, value, out);
}

void smt_hash_node(const uint8_t left[SMT_HASH_LEN], const uint8_t right[SMT_HASH_LEN],
                   uint8_t out[SMT_HASH_LEN])
{
    hash_tagged(SMT_TAG_NODE, left, right, out);
}

/* ---- node allocation ---- */

static smt_node_t *node_alloc(smt_t *t)
{
    smt_node_t *n = t->pool;
    if (n != NULL)
        t->pool = n->u.child[0];
    else
        n = malloc(sizeof(*n));
    if (n != NULL)
        memset(n, 0, sizeof(*n));
    return n;
}

/* Keep n for a later rollback while the journal is in use; else free it. */
static void node_release(smt_t *t, smt_node_t *n)
{
    if (t->journal_len > 0) {
        n->u.child[0] = t->pool;
        t->pool = n;
    } else {
        free(n);
    }
}

static void pool_drain(smt_t *t)
{
    while (t->pool != NULL) {
        smt_node_t *n = t->pool;
        t->pool = n->u.child[0];
        free(n);
    }
}

static void node_free_tree(smt_node_t *n)
{
    /* Depth is bounded by SMT_DEPTH + 1, so recursion is safe. */
    if (n == NULL)
        return;
    if (!n->is_leaf) {
        node_free_tree(n->u.child[0]);
        node_free_tree(n->u.child[1]);
    }
    free(n);
}

static const uint8_t *node_hash(smt_node_t *n)
{
    if (n == NULL)
        return smt_zero;
    if (n->dirty) {
        if (n->is_leaf)
            smt_hash_leaf(n->u.leaf.key, n->u.leaf.value, n->hash);
        else
            smt_hash_node(node_hash(n->u.child[0]), node_hash(n->u.child[1]), n->hash);
        n->dirty = 0;
    }
    return n->hash;
}

/* ---- tree operations without journaling ---- */

static const smt_node_t *tree_find(const smt_t *t, const uint8_t key[SMT_KEY_LEN])
{
    const smt_node_t *n = t->root;
    unsigned depth = 0;
    while (n != NULL && !n->is_leaf) {
        n = n->u.child[key_bit(key, depth)];
        depth++;
    }
    if (n != NULL && memcmp(n->u.leaf.key, key, SMT_KEY_LEN) == 0)
        return n;
    return NULL;
}

static int tree_set(smt_t *t, const uint8_t key[SMT_KEY_LEN], const uint8_t value[SMT_HASH_LEN])
{
    smt_node_t *fresh[SMT_DEPTH];
    size_t n_fresh = 0, need;
    smt_node_t **slot = &t->root;
    unsigned depth = 0, split;
    int rc = 0;

    /* Walk down, marking the path dirty (harmless if we fail later). */
    while (*slot != NULL && !(*slot)->is_leaf) {
        (*slot)->dirty = 1;
        slot = &(*slot)->u.child[key_bit(key, depth)];
        depth++;
    }
    smt_node_t *old = *slot;
    if (old != NULL && memcmp(old->u.leaf.key, key, SMT_KEY_LEN) == 0) {
        memcpy(old->u.leaf.value, value, SMT_HASH_LEN);
        old->dirty = 1;
        goto out;
    }
    /* A new leaf, plus (if another leaf sits here) one internal node for
     * each level both keys share from depth on, and one where they part;
     * all allocated before the tree is touched. */
    split = depth;
    if (old != NULL)
        while (key_bit(key, split) == key_bit(old->u.leaf.key, split))
            split++; /* keys differ, so split < SMT_DEPTH */
    need = old != NULL ? split - depth + 1 : 0;
    smt_node_t *leaf = node_alloc(t);
    if (leaf == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    for (n_fresh = 0; n_fresh < need; n_fresh++) {
        fresh[n_fresh] = node_alloc(t);
        if (fresh[n_fresh] == NULL) {
            while (n_fresh > 0)
                node_release(t, fresh[--n_fresh]);
            node_release(t, leaf);
            rc = -ENOMEM;
            goto out;
        }
    }
    leaf->is_leaf = 1;
    leaf->dirty = 1;
    memcpy(leaf->u.leaf.key, key, SMT_KEY_LEN);
    memcpy(leaf->u.leaf.value, value, SMT_HASH_LEN);
    if (old == NULL) {
        *slot = leaf;
    } else {
        size_t next = 0;
        for (unsigned d = depth; d <= split; d++) {
            smt_node_t *in = fresh[next++];
            in->dirty = 1;
            *slot = in;
            if (d == split) {
                in->u.child[key_bit(key, d)] = leaf;
                in->u.child[key_bit(old->u.leaf.key, d)] = old;
            } else {
                slot = &in->u.child[key_bit(key, d)];
            }
        }
    }
    t->count++;
out:
    return rc;
}

static int tree_delete(smt_t *t, const uint8_t key[SMT_KEY_LEN])
{
    smt_node_t **path[SMT_DEPTH + 1]; /* slots of the internal nodes walked */
    size_t n_path = 0;
    smt_node_t **slot = &t->root;
    unsigned depth = 0;
    int rc = 0;

    while (*slot != NULL && !(*slot)->is_leaf) {
        path[n_path++] = slot;
        slot = &(*slot)->u.child[key_bit(key, depth)];
        depth++;
    }
    if (*slot == NULL || memcmp((*slot)->u.leaf.key, key, SMT_KEY_LEN) != 0) {
        rc = -ENOENT;
        goto out;
    }
    node_release(t, *slot);
    *slot = NULL;
    t->count--;
    /* Walk back up: an internal node left with a single leaf below it
     * (one empty child, one leaf child) is replaced by that leaf. */
    bool collapsing = true;
    while (n_path > 0) {
        smt_node_t **s = path[--n_path];
        smt_node_t *in = *s;
        in->dirty = 1;
        if (!collapsing)
            continue;
        smt_node_t *c0 = in->u.child[0], *c1 = in->u.child[1];
        smt_node_t *only = c0 == NULL ? c1 : c1 == NULL ? c0 : NULL;
        if (only != NULL && only->is_leaf) {
            *s = only;
            node_release(t, in);
        } else {
            collapsing = false;
        }
    }
out:
    return rc;
}

/* ---- journal ---- */

static int journal_reserve(smt_t *t)
{
    if (t->journal_len < t->journal_cap)
        return 0;
    size_t cap = t->journal_cap ? t->journal_cap * 2 : 64;
    if (cap > SIZE_MAX / sizeof(smt_undo_t))
        return -ENOMEM;
    smt_undo_t *j = realloc(t->journal, cap * sizeof(smt_undo_t));
    if (j == NULL)
        return -ENOMEM;
    t->journal = j;
    t->journal_cap = cap;
    return 0;
}

static void journal_push(smt_t *t, const uint8_t key[SMT_KEY_LEN], const smt_node_t *old)
{
    smt_undo_t *u = &t->journal[t->journal_len++];
    memcpy(u->key, key, SMT_KEY_LEN);
    u->had_value = old != NULL;
    if (old != NULL)
        memcpy(u->old_value, old->u.leaf.value, SMT_HASH_LEN);
    else
        memset(u->old_value, 0, SMT_HASH_LEN);
}

/* ---- public API ---- */

smt_t *smt_new(void)
{
    return calloc(1, sizeof(smt_t));
}

void smt_free(smt_t *t)
{
    if (t == NULL)
        return;
    node_free_tree(t->root);
    pool_drain(t);
    free(t->journal);
    free(t);
}

int smt_set(smt_t *t, const uint8_t key[SMT_KEY_LEN], const uint8_t value[SMT_HASH_LEN])
{
    smt_undo_t undo;
    const smt_node_t *old;
    int rc = journal_reserve(t);
    if (rc < 0)
        goto out;
    old = tree_find(t, key);
    /* Keep the old state before tree_set changes the leaf in place. */
    memcpy(undo.key, key, SMT_KEY_LEN);
    undo.had_value = old != NULL;
    if (old != NULL)
        memcpy(undo.old_value, old->u.leaf.value, SMT_HASH_LEN);
    else
        memset(undo.old_value, 0, SMT_HASH_LEN);
    rc = tree_set(t, key, value);
    if (rc < 0)
        goto out;
    t->journal[t->journal_len++] = undo;
out:
    return rc;
}

int smt_delete(smt_t *t, const uint8_t key[SMT_KEY_LEN])
{
    const smt_node_t *old;
    int rc = journal_reserve(t);
    if (rc < 0)
        goto out;
    old = tree_find(t, key);
    if (old == NULL) {
        rc = -ENOENT;
        goto out;
    }
    /* Push first: node_release keeps freed nodes only while the journal
     * is non-empty, and this deletion's undo needs them. */
    journal_push(t, key, old);
    rc = tree_delete(t, key);
out:
    return rc;
}

int smt_get(const smt_t *t, const uint8_t key[SMT_KEY_LEN], uint8_t value[SMT_HASH_LEN])
{
    const smt_node_t *n = tree_find(t, key);
    if (n == NULL)
        return -ENOENT;
    memcpy(value, n->u.leaf.value, SMT_HASH_LEN);
    return 0;
}

size_t smt_count(const smt_t *t)
{
    return t->count;
}

void smt_root(smt_t *t, uint8_t out[SMT_HASH_LEN])
{
    memcpy(out, node_hash(t->root), SMT_HASH_LEN);
}

uint64_t smt_mark(const smt_t *t)
{
    return t->journal_len;
}

void smt_rollback(smt_t *t, uint64_t mark)
{
    /* Undo never allocates: see the pool note at the top of the file. */
    while (t->journal_len > mark) {
        const smt_undo_t *u = &t->journal[t->journal_len - 1];
        if (u->had_value)
            (void)tree_set(t, u->key, u->old_value);
        else
            (void)tree_delete(t, u->key);
        t->journal_len--;
    }
    if (t->journal_len == 0)
        pool_drain(t);
}

void smt_commit(smt_t *t)
{
    t->journal_len = 0;
    pool_drain(t);
    if (t->journal_cap > 4096) {
        free(t->journal);
        t->journal = NULL;
        t->journal_cap = 0;
    }
}

int smt_prove(smt_t *t, const uint8_t key[SMT_KEY_LEN], smt_proof_t *out)
{
    smt_node_t *n = t->root;
    unsigned depth = 0;

    (void)node_hash(t->root); /* bring every cached hash up to date */
    memset(out, 0, sizeof(*out));
    while (n != NULL && !n->is_leaf) {
        unsigned b = key_bit(key, depth);
        memcpy(out->siblings[depth], node_hash(n->u.child[b ^ 1u]), SMT_HASH_LEN);
        n = n->u.child[b];
        depth++;
    }
    out->n_siblings = (uint16_t)depth;
    if (n != NULL) {
        out->has_leaf = 1;
        memcpy(out->leaf_key, n->u.leaf.key, SMT_KEY_LEN);
        memcpy(out->leaf_value, n->u.leaf.value, SMT_HASH_LEN);
    }
    return 0;
}

/* Return true if a and b agree on their first n bits. */
static bool prefix_equal(const uint8_t a[SMT_KEY_LEN], const uint8_t b[SMT_KEY_LEN], unsigned n)
{
    unsigned whole = n / 8, rest = n % 8;
    if (memcmp(a, b, whole) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return ((a[whole] ^ b[whole]) & mask) == 0;
}

int smt_verify(const uint8_t root[SMT_HASH_LEN], const uint8_t key[SMT_KEY_LEN],
               const smt_proof_t *p, uint8_t value[SMT_HASH_LEN])
{
    uint8_t h[SMT_HASH_LEN];
    unsigned n = p->n_siblings;
    int result = 0;

    if (n > SMT_DEPTH)
        return -EINVAL;
    /* A compact tree never walks into a node whose other child is empty
     * and then stops: such a node would hold at most one leaf and would
     * have been that leaf. Refusing the shape keeps proofs canonical. */
    if (n > 0 && sodium_memcmp(p->siblings[n - 1], smt_zero, SMT_HASH_LEN) == 0)
        return -EINVAL;
    if (p->has_leaf) {
        /* The leaf must lie where the key's path ends: it shares the first
         * n bits of the key. Equal keys: inclusion; else non-inclusion. */
        if (!prefix_equal(p->leaf_key, key, n))
            return -EINVAL;
        result = memcmp(p->leaf_key, key, SMT_KEY_LEN) == 0;
        smt_hash_leaf(p->leaf_key, p->leaf_value, h);
    } else {
        memset(h, 0, sizeof h);
    }
    for (unsigned i = n; i-- > 0;) {
        if (key_bit(key, i))
            smt_hash_node(p->siblings[i], h, h);
        else
            smt_hash_node(h, p->siblings[i], h);
    }
    if (sodium_memcmp(h, root, SMT_HASH_LEN) != 0)
        return -EINVAL;
    if (result == 1 && value != NULL)
        memcpy(value, p->leaf_value, SMT_HASH_LEN);
    return result;
}

/* ---- JSON ---- */

static json_t *hex_json(const uint8_t *b, size_t n)
{
    char s[2 * SMT_HASH_LEN + 1];
    hex_encode(s, b, n);
    return json_string(s);
}

json_t *smt_proof_to_json(const uint8_t root[SMT_HASH_LEN], const uint8_t key[SMT_KEY_LEN],
                          const smt_proof_t *p)
{
    json_t *o = NULL, *sib = NULL, *leaf = NULL, *res = NULL;
    unsigned n = p->n_siblings;

    if (n > SMT_DEPTH) /* not a proof smt_prove makes; refuse rather than truncate */
        goto out;
    o = json_object();
    sib = json_array();
    if (o == NULL || sib == NULL)
        goto out;
    if (json_object_set_new(o, "key", hex_json(key, SMT_KEY_LEN)) < 0 ||
        json_object_set_new(o, "root", hex_json(root, SMT_HASH_LEN)) < 0)
        goto out;
    for (unsigned i = 0; i < n; i++)
        if (json_array_append_new(sib, hex_json(p->siblings[i], SMT_HASH_LEN)) < 0)
            goto out;
    if (p->has_leaf) {
        leaf = json_object();
        if (leaf == NULL ||
            json_object_set_new(leaf, "key", hex_json(p->leaf_key, SMT_KEY_LEN)) < 0 ||
            json_object_set_new(leaf, "value", hex_json(p->leaf_value, SMT_HASH_LEN)) < 0)
            goto out;
    } else {
        leaf = json_null();
    }
    if (json_object_set_new(o, "siblings", sib) < 0) {
        sib = NULL; /* set_new consumed it even on failure */
        goto out;
    }
    sib = NULL;
    if (json_object_set_new(o, "leaf", leaf) < 0) {
        leaf = NULL;
        goto out;
    }
    leaf = NULL;
    res = o;
    o = NULL;
out:
    json_decref(leaf);
    json_decref(sib);
    json_decref(o);
    return res;
}

static int hex_field(const json_t *j, uint8_t *out, size_t n)
{
    const char *s = json_string_value(j);
    if (s == NULL || json_string_length(j) != 2 * n)
        return -EINVAL;
    return hex_decode(out, n, s);
}

int smt_proof_from_json(const json_t *j, uint8_t root[SMT_HASH_LEN], uint8_t key[SMT_KEY_LEN],
                        smt_proof_t *p, const char **what)
{
    smt_proof_t *tmp = NULL;
    uint8_t k[SMT_KEY_LEN], r[SMT_HASH_LEN];
    const json_t *sib, *leaf;
    const char *bad = NULL;
    int rc = -EINVAL;

    if (!json_is_object(j)) {
        bad = "proof";
        goto out;
    }
    if (hex_field(json_object_get(j, "key"), k, SMT_KEY_LEN) < 0) {
        bad = "key";
        goto out;
    }
    if (hex_field(json_object_get(j, "root"), r, SMT_HASH_LEN) < 0) {
        bad = "root";
        goto out;
    }
    sib = json_object_get(j, "siblings");
    if (!json_is_array(sib) || json_array_size(sib) > SMT_DEPTH) {
        bad = "siblings";
        goto out;
    }
    leaf = json_object_get(j, "leaf");
    if (leaf == NULL || !(json_is_null(leaf) || json_is_object(leaf))) {
        bad = "leaf";
        goto out;
    }
    /* Decode into a scratch proof so *p is written only on success. */
    tmp = calloc(1, sizeof(*tmp));
    if (tmp == NULL) {
        rc = -ENOMEM;
        bad = "out of memory";
        goto out;
    }
    tmp->n_siblings = (uint16_t)json_array_size(sib);
    for (size_t i = 0; i < tmp->n_siblings; i++) {
        if (hex_field(json_array_get(sib, i), tmp->siblings[i], SMT_HASH_LEN) < 0) {
            bad = "siblings[]";
            goto out;
        }
    }
    if (json_is_object(leaf)) {
        tmp->has_leaf = 1;
        if (hex_field(json_object_get(leaf, "key"), tmp->leaf_key, SMT_KEY_LEN) < 0) {
            bad = "leaf.key";
            goto out;
        }
        if (hex_field(json_object_get(leaf, "value"), tmp->leaf_value, SMT_HASH_LEN) < 0) {
            bad = "leaf.value";
            goto out;
        }
    }
    memcpy(root, r, SMT_HASH_LEN);
    memcpy(key, k, SMT_KEY_LEN);
    memcpy(p, tmp, sizeof(*p));
    rc = 0;
out:
    free(tmp);
    if (rc < 0 && what != NULL)
        *what = bad;
    return rc;
}

int smt_proof_encode(const smt_proof_t *p, uint8_t *buf, size_t cap, size_t *len)
{
    wire_writer_t w;
    if (p->n_siblings > SMT_DEPTH)
        return -EINVAL;
    wire_writer_init(&w, buf, cap);
    wire_put_u16(&w, p->n_siblings);
    wire_put_bytes(&w, p->siblings, (size_t)p->n_siblings * SMT_HASH_LEN);
    wire_put_u8(&w, p->has_leaf ? 1 : 0);
    if (p->has_leaf) {
        wire_put_bytes(&w, p->leaf_key, SMT_KEY_LEN);
        wire_put_bytes(&w, p->leaf_value, SMT_HASH_LEN);
    }
    if (w.err)
        return w.err;
    *len = w.len;
    return 0;
}

int smt_proof_decode(smt_proof_t *p, const uint8_t *buf, size_t len, const char **what)
{
    smt_proof_t *t = malloc(sizeof(*t));
    wire_reader_t r;
    uint8_t leaf = 0;
    int rc;
    if (!t)
        return -ENOMEM;
    memset(t, 0, sizeof(*t));
    wire_reader_init(&r, buf, len);
    if (wire_get_u16(&r, "n_siblings", &t->n_siblings) == 0 && t->n_siblings > SMT_DEPTH) {
        r.err = -EBADMSG;
        r.what = "n_siblings";
    }
    wire_get_bytes(&r, "siblings", t->siblings, (size_t)t->n_siblings * SMT_HASH_LEN);
    if (wire_get_u8(&r, "has_leaf", &leaf) == 0 && leaf > 1) {
        r.err = -EBADMSG;
        r.what = "has_leaf";
    }
    if (leaf) {
        t->has_leaf = 1;
        wire_get_bytes(&r, "leaf_key", t->leaf_key, SMT_KEY_LEN);
        wire_get_bytes(&r, "leaf_value", t->leaf_value, SMT_HASH_LEN);
    }
    rc = wire_reader_finish(&r);
    if (rc == -EINVAL)
        rc = -EBADMSG;
    if (rc == 0)
        memcpy(p, t, sizeof(*t));
    else if (what)
        *what = r.what;
    free(t);
    return rc;
}
