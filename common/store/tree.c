/* The sparse Merkle tree in the ledger; see tree.h, docs/ledger.md
 * ("Merkle tree tables") and docs/proofs.md ("Nodes in the ledger").
 *
 * Inside a node the 16 slots are hashed as the binary tree smt.c walks,
 * four levels deep: a "tower" of 31 entries, heap-ordered (entry 1 is the
 * node, entries 2i and 2i+1 the halves of entry i, entry 16 + s slot s),
 * each with its compact hash and its leaf count. A proof's siblings at a
 * node are read off the tower along the key's four bits, and its end is
 * the first entry on the path with at most one leaf, exactly where
 * smt_prove stops.
 *
 * tree_apply sorts the batch and walks down once: at each slot that the
 * batch touches it reads the node there (checked against its parent's
 * entry), rewrites the slots below, and settles the result: no leaf left
 * (empty), one leaf (the leaf moves up into the parent; the root keeps a
 * node), or a node, written at the new version unless its hash did not
 * change. Each node row replaced or removed gets its tree_stale entry. */
#include "common/store/tree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/hex.h"
#include "proto/tree_node.h"

_Static_assert(SMT_KEY_LEN == TREE_NODE_KEY_LEN && SMT_HASH_LEN == TREE_NODE_HASH_LEN,
               "the codec's keys and hashes are the tree's");
_Static_assert(SMT_DEPTH == 4 * TREE_NODE_DEPTH, "one nibble a node");

/* The columns of tree_nodes, the same in both migrations. */
#define NODE_COLUMNS \
    "  tree TEXT NOT NULL,                 -- the tree's name, e.g. accounts\n" \
    "  path TEXT NOT NULL,                 -- key nibbles from the root as hex; '' is the root\n" \
    "  version INTEGER NOT NULL,           -- the version (height) that wrote it\n" \
    "  hash TEXT NOT NULL,                 -- lowercase hex: the hash of the subtree\n" \
    "  leaves INTEGER NOT NULL,            -- leaves below it\n" \
    "  node BLOB NOT NULL,                 -- its child entries (proto/tree_node.c)\n"

const char TREE_SQL_V1[] =
    "CREATE TABLE tree_nodes (\n"
    NODE_COLUMNS
    "  PRIMARY KEY (tree, path, version)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE tree_roots (\n"
    "  tree TEXT NOT NULL,\n"
    "  version INTEGER NOT NULL,           -- one row per version written\n"
    "  root TEXT NOT NULL,                 -- lowercase hex; 64 zeros when empty\n"
    "  node_version INTEGER,               -- version of the root's tree_nodes row; NULL: empty\n"
    "  leaves INTEGER NOT NULL,\n"
    "  PRIMARY KEY (tree, version)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE tree_stale (\n"
    "  tree TEXT NOT NULL,\n"
    "  since INTEGER NOT NULL,             -- the first version that no longer uses the row\n"
    "  path TEXT NOT NULL,                 -- the tree_nodes row (tree, path, version)\n"
    "  version INTEGER NOT NULL,\n"
    "  PRIMARY KEY (tree, since, path, version)\n"
    ") WITHOUT ROWID;\n";

const char TREE_SQL_V2[] =
    "ALTER TABLE tree_nodes RENAME TO tree_nodes_v1;\n"
    "CREATE TABLE tree_nodes (\n"
    NODE_COLUMNS
    "  PRIMARY KEY (tree, version, path)   -- a version's rows together\n"
    ") WITHOUT ROWID;\n";

static const char SQL_LATEST[] = "SELECT max(version) FROM tree_roots WHERE tree = ?1";
static const char SQL_OLDEST[] = "SELECT min(version) FROM tree_roots WHERE tree = ?1";
static const char SQL_ROOT_FLOOR[] =
    "SELECT root, node_version, leaves FROM tree_roots"
    " WHERE tree = ?1 AND version <= ?2 ORDER BY version DESC LIMIT 1";
static const char SQL_PUT_ROOT[] =
    "INSERT INTO tree_roots (tree, version, root, node_version, leaves)"
    " VALUES (?1, ?2, ?3, CASE WHEN ?5 = 0 THEN NULL ELSE ?4 END, ?5)";
static const char SQL_GET_NODE[] =
    "SELECT hash, leaves, node FROM tree_nodes WHERE tree = ?1 AND path = ?2 AND version = ?3";
static const char SQL_PUT_NODE[] =
    "INSERT INTO tree_nodes (tree, path, version, hash, leaves, node)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char SQL_PUT_STALE[] =
    "INSERT INTO tree_stale (tree, since, path, version) VALUES (?1, ?2, ?3, ?4)";
/* The same LIMIT subquery twice, in the primary key's order, picks the
 * same entries: first their node rows go, then the entries. */
static const char SQL_PRUNE_NODES[] =
    "DELETE FROM tree_nodes WHERE (tree, path, version) IN"
    " (SELECT tree, path, version FROM tree_stale WHERE tree = ?1 AND since <= ?2"
    "  ORDER BY since, path, version LIMIT ?3)";
static const char SQL_PRUNE_STALE[] =
    "DELETE FROM tree_stale WHERE (tree, since, path, version) IN"
    " (SELECT tree, since, path, version FROM tree_stale WHERE tree = ?1 AND since <= ?2"
    "  ORDER BY since, path, version LIMIT ?3)";
static const char SQL_PRUNE_ROOTS[] =
    "DELETE FROM tree_roots WHERE tree = ?1 AND version <"
    " (SELECT max(version) FROM tree_roots WHERE tree = ?1 AND version <= ?2)";

#define TOWER (2 * TREE_NODE_SLOTS) /* entries 1..31 are used */
#define VERSION_MAX ((uint64_t)INT64_MAX)

static const uint8_t zero32[SMT_HASH_LEN];

/* A node's slots hashed as smt.c's binary tree; see the top of the file. */
typedef struct {
    uint8_t h[TOWER][SMT_HASH_LEN];
    uint64_t n[TOWER];            /* leaves below each entry */
} tower_t;

/* One tree being read or written. */
typedef struct {
    sql_t *q;
    const char *tree;
    uint64_t version;             /* the version asked for (reads) or being written */
} walk_t;

/* A batch entry, sorted by key and then by its place in the batch. */
typedef struct {
    tree_update_t u;
    size_t seq;
} upd_t;

/* ---- helpers ---- */

static int check_name(sql_t *q, const char *tree)
{
    if (tree == NULL || tree[0] == '\0' || strlen(tree) > TREE_NAME_MAX) {
        snprintf(q->err, sizeof q->err, "tree name must be 1 to %d bytes", TREE_NAME_MAX);
        return -EINVAL;
    }
    return 0;
}

/* The path of the node at depth along prefix, as stored: depth hex digits. */
static void path_text(const uint8_t prefix[SMT_KEY_LEN], unsigned depth, char out[65])
{
    hex_encode(out, prefix, (depth + 1) / 2);
    out[depth] = '\0';
}

static void set_nibble(uint8_t prefix[SMT_KEY_LEN], unsigned depth, unsigned v)
{
    uint8_t *b = &prefix[depth / 2];
    *b = depth % 2 == 0 ? (uint8_t)((*b & 0x0f) | (v << 4)) : (uint8_t)((*b & 0xf0) | v);
}

static unsigned key_bit(const uint8_t key[SMT_KEY_LEN], unsigned i)
{
    return (key[i / 8] >> (7 - i % 8)) & 1u;
}

#define ALL_SLOTS ((1u << TREE_NODE_SLOTS) - 1)

/* Bring t up to date with node after the slots in mask (bit s: slot s)
 * changed: those slots' entries and the entries above them, and no
 * others. With mask ALL_SLOTS, t need not hold anything before. */
static void tower_update(const tree_node_t *node, tower_t *t, unsigned mask)
{
    uint32_t redo = 0; /* bit i: entry i to recompute */
    for (unsigned s = 0; s < TREE_NODE_SLOTS; s++) {
        const tree_child_t *c = &node->child[s];
        unsigned i = TREE_NODE_SLOTS + s;
        if (!(mask & (1u << s)))
            continue;
        t->n[i] = c->kind == TREE_CHILD_LEAF ? 1 : c->kind == TREE_CHILD_NODE ? c->leaves : 0;
        if (c->kind == TREE_CHILD_LEAF)
            smt_hash_leaf(c->key, c->value, t->h[i]);
        else
            memcpy(t->h[i], c->kind == TREE_CHILD_NODE ? c->hash : zero32, SMT_HASH_LEN);
        redo |= 1u << (i / 2);
    }
    for (unsigned i = TREE_NODE_SLOTS - 1; i >= 1; i--) {
        unsigned l = 2 * i, r = l + 1;
        if (!(redo & (1u << i)))
            continue;
        redo |= 1u << (i / 2);
        t->n[i] = t->n[l] + t->n[r];
        if (t->n[i] >= 2)
            smt_hash_node(t->h[l], t->h[r], t->h[i]);
        else /* empty (both zero) or one leaf, placed as high as it goes */
            memcpy(t->h[i], t->h[t->n[l] == 1 ? l : r], SMT_HASH_LEN);
    }
}

static void tower_build(const tree_node_t *node, tower_t *t)
{
    tower_update(node, t, ALL_SLOTS);
}

/* The one leaf below tower entry i (t->n[i] == 1). */
static const tree_child_t *tower_leaf(const tree_node_t *node, const tower_t *t, unsigned i)
{
    while (i < TREE_NODE_SLOTS)
        i = 2 * i + (t->n[2 * i] == 1 ? 0 : 1);
    return &node->child[i - TREE_NODE_SLOTS];
}

/* ---- reading ---- */

static int damaged(const walk_t *w, const char *path, uint64_t version, const char *why)
{
    snprintf(w->q->err, sizeof w->q->err, "tree %s: node \"%s\" of version %llu: %s", w->tree,
             path, (unsigned long long)version, why);
    return -EBADMSG;
}

/* Check a decoded node against its row and the entry that led to it. */
static int node_verify(const walk_t *w, const char *path, const tree_node_t *node,
                       const uint8_t row_hash[SMT_HASH_LEN], uint64_t row_leaves,
                       const tree_child_t *ref, tower_t *t)
{
    tower_build(node, t);
    if (memcmp(t->h[1], row_hash, SMT_HASH_LEN) != 0 || t->n[1] != row_leaves)
        return damaged(w, path, ref->version, "its hash or leaf count does not match its contents");
    if (memcmp(ref->hash, row_hash, SMT_HASH_LEN) != 0 || ref->leaves != row_leaves)
        return damaged(w, path, ref->version, "its parent holds another hash or leaf count");
    return 0;
}

/* Read the node ref points to, at depth along prefix, into *node and its
 * tower into *t, checked against ref. Return 0, -ENOENT (no such row),
 * -EBADMSG, or the code of the query. */
static int node_load(const walk_t *w, const uint8_t prefix[SMT_KEY_LEN], unsigned depth,
                     const tree_child_t *ref, tree_node_t *node, tower_t *t)
{
    sqlite3_stmt *st = NULL;
    uint8_t hash[SMT_HASH_LEN];
    const char *what = "node";
    char path[65];
    int rc;

    path_text(prefix, depth, path);
    rc = sql_query(w->q, &st, SQL_GET_NODE, "ttu", w->tree, path, ref->version);
    if (rc < 0)
        goto out;
    if ((rc = sql_step(w->q, st)) < 0)
        goto out;
    if (rc == 0) {
        snprintf(w->q->err, sizeof w->q->err, "tree %s: node \"%s\" of version %llu is missing",
                 w->tree, path, (unsigned long long)ref->version);
        rc = -ENOENT;
        goto out;
    }
    sqlite3_int64 leaves = sqlite3_column_int64(st, 1);
    const void *blob = sqlite3_column_blob(st, 2);
    if (sql_column_hex(st, 0, hash, sizeof hash) < 0 || leaves < 0 ||
        tree_node_decode(node, blob, (size_t)sqlite3_column_bytes(st, 2), &what) < 0 ||
        tree_node_check(node, prefix, depth, ref->version, &what) < 0) {
        rc = damaged(w, path, ref->version, what);
        goto out;
    }
    rc = node_verify(w, path, node, hash, (uint64_t)leaves, ref, t);
out:
    sql_release(w->q, st);
    return rc;
}

/* node_load for the recursive walks, whose frames keep no tower. */
static int node_read(const walk_t *w, const uint8_t prefix[SMT_KEY_LEN], unsigned depth,
                     const tree_child_t *ref, tree_node_t *node)
{
    tower_t t;
    return node_load(w, prefix, depth, ref, node, &t);
}

/* The root of tree at version as a slot: empty, or the root node. */
static int root_ref(sql_t *q, const char *tree, uint64_t version, tree_child_t *out)
{
    sqlite3_stmt *st = NULL;
    tree_child_t r = {.kind = TREE_CHILD_EMPTY};
    uint64_t latest;
    int rc = tree_latest(q, tree, &latest);

    if (rc < 0)
        goto out;
    if (version > latest) {
        snprintf(q->err, sizeof q->err, "tree %s: version %llu is not written yet (latest %llu)",
                 tree, (unsigned long long)version, (unsigned long long)latest);
        rc = -ENOENT;
        goto out;
    }
    if ((rc = sql_query(q, &st, SQL_ROOT_FLOOR, "tu", tree, version)) < 0 ||
        (rc = sql_step(q, st)) < 0)
        goto out;
    if (rc == 0) {
        snprintf(q->err, sizeof q->err, "tree %s: version %llu is no longer kept", tree,
                 (unsigned long long)version);
        rc = -ESTALE;
        goto out;
    }
    sqlite3_int64 nv = sqlite3_column_int64(st, 1), leaves = sqlite3_column_int64(st, 2);
    bool empty = sqlite3_column_type(st, 1) == SQLITE_NULL;
    rc = sql_column_hex(st, 0, r.hash, sizeof r.hash);
    if (rc < 0 || leaves < 0 || nv < 0 || empty != (leaves == 0) ||
        (empty && memcmp(r.hash, zero32, SMT_HASH_LEN) != 0)) {
        snprintf(q->err, sizeof q->err, "tree %s: the root row for version %llu is damaged", tree,
                 (unsigned long long)version);
        rc = -EBADMSG;
        goto out;
    }
    r.kind = empty ? TREE_CHILD_EMPTY : TREE_CHILD_NODE;
    r.version = (uint64_t)nv;
    r.leaves = (uint64_t)leaves;
    *out = r;
    rc = 0;
out:
    sql_release(q, st);
    return rc;
}

/* A reader found a node missing: -ESTALE if its version was pruned
 * meanwhile (root_ref says so and leaves its message), else -EIO. Other
 * codes pass through. */
static int read_failed(const walk_t *w, int rc)
{
    tree_child_t r;
    if (rc != -ENOENT)
        return rc;
    char msg[SQL_ERR_MAX];
    memcpy(msg, w->q->err, sizeof msg);
    if (root_ref(w->q, w->tree, w->version, &r) == -ESTALE)
        return -ESTALE;
    memcpy(w->q->err, msg, sizeof msg);
    return -EIO;
}

int tree_latest(sql_t *q, const char *tree, uint64_t *version)
{
    int rc = check_name(q, tree);
    if (rc == 0 && (rc = sql_u64(q, version, SQL_LATEST, "t", tree)) == -ENOENT)
        snprintf(q->err, sizeof q->err, "tree %s: never written", tree);
    return rc;
}

int tree_oldest(sql_t *q, const char *tree, uint64_t *version)
{
    int rc = check_name(q, tree);
    if (rc == 0 && (rc = sql_u64(q, version, SQL_OLDEST, "t", tree)) == -ENOENT)
        snprintf(q->err, sizeof q->err, "tree %s: never written", tree);
    return rc;
}

int tree_root_at(sql_t *q, const char *tree, uint64_t version, uint8_t root[SMT_HASH_LEN],
                 uint64_t *leaves)
{
    tree_child_t r;
    int rc = root_ref(q, tree, version, &r);
    if (rc < 0)
        return rc;
    memcpy(root, r.hash, SMT_HASH_LEN);
    if (leaves != NULL)
        *leaves = r.leaves;
    return 0;
}

int tree_get(sql_t *q, const char *tree, uint64_t version, const uint8_t key[SMT_KEY_LEN],
             uint8_t value[SMT_HASH_LEN])
{
    walk_t w = {q, tree, version};
    tree_node_t node;
    tower_t t;
    tree_child_t at;
    int rc = root_ref(q, tree, version, &at);

    for (unsigned depth = 0; rc == 0 && at.kind == TREE_CHILD_NODE; depth++) {
        if ((rc = read_failed(&w, node_load(&w, key, depth, &at, &node, &t))) == 0)
            at = node.child[tree_key_nibble(key, depth)];
    }
    if (rc < 0)
        return rc;
    if (at.kind != TREE_CHILD_LEAF || memcmp(at.key, key, SMT_KEY_LEN) != 0)
        return 0;
    memcpy(value, at.value, SMT_HASH_LEN);
    return 1;
}

/* Add the siblings key's path meets in node (at depth) to p, and set *next
 * to where the path goes on: a node child, or the leaf or empty slot that
 * ends it. */
static void prove_step(const tree_node_t *node, const tower_t *t, const uint8_t key[SMT_KEY_LEN],
                       unsigned depth, smt_proof_t *p, tree_child_t *next)
{
    unsigned i = 1;
    for (unsigned level = 0; t->n[i] >= 2; level++) {
        if (level == 4) {
            *next = node->child[i - TREE_NODE_SLOTS];
            return;
        }
        unsigned b = key_bit(key, 4 * depth + level);
        memcpy(p->siblings[p->n_siblings++], t->h[(2 * i + b) ^ 1u], SMT_HASH_LEN);
        i = 2 * i + b;
    }
    if (t->n[i] == 1)
        *next = *tower_leaf(node, t, i);
    else
        next->kind = TREE_CHILD_EMPTY;
}

int tree_prove(sql_t *q, const char *tree, uint64_t version, const uint8_t key[SMT_KEY_LEN],
               smt_proof_t *out)
{
    walk_t w = {q, tree, version};
    smt_proof_t *p = NULL;
    tree_node_t node;
    tower_t t;
    tree_child_t at;
    int rc = root_ref(q, tree, version, &at);

    if (rc < 0)
        goto out;
    /* Zeroed whole, as smt_prove leaves it, so the structs compare equal. */
    if ((p = calloc(1, sizeof *p)) == NULL) {
        snprintf(q->err, sizeof q->err, "tree %s: proof: out of memory", tree);
        rc = -ENOMEM;
        goto out;
    }
    for (unsigned depth = 0; at.kind == TREE_CHILD_NODE; depth++) {
        if ((rc = read_failed(&w, node_load(&w, key, depth, &at, &node, &t))) < 0)
            goto out;
        prove_step(&node, &t, key, depth, p, &at);
    }
    if (at.kind == TREE_CHILD_LEAF) {
        p->has_leaf = 1;
        memcpy(p->leaf_key, at.key, SMT_KEY_LEN);
        memcpy(p->leaf_value, at.value, SMT_HASH_LEN);
    }
    memcpy(out, p, sizeof *out);
out:
    free(p);
    return rc;
}

typedef int (*leaf_fn)(void *ctx, const uint8_t key[SMT_KEY_LEN],
                       const uint8_t value[SMT_HASH_LEN]);

/* Call fn on every leaf below ref, the node at depth along prefix. */
static int foreach_at(const walk_t *w, uint8_t prefix[SMT_KEY_LEN], unsigned depth,
                      const tree_child_t *ref, leaf_fn fn, void *ctx)
{
    tree_node_t node;
    int rc = read_failed(w, node_read(w, prefix, depth, ref, &node));

    for (unsigned s = 0; rc == 0 && s < TREE_NODE_SLOTS; s++) {
        const tree_child_t *c = &node.child[s];
        if (c->kind == TREE_CHILD_LEAF) {
            rc = fn(ctx, c->key, c->value);
        } else if (c->kind == TREE_CHILD_NODE) {
            set_nibble(prefix, depth, s);
            rc = foreach_at(w, prefix, depth + 1, c, fn, ctx);
        }
    }
    return rc;
}

int tree_foreach(sql_t *q, const char *tree, uint64_t version, leaf_fn fn, void *ctx)
{
    walk_t w = {q, tree, version};
    uint8_t prefix[SMT_KEY_LEN] = {0};
    tree_child_t root;
    int rc = root_ref(q, tree, version, &root);

    if (rc == 0 && root.kind == TREE_CHILD_NODE)
        rc = foreach_at(&w, prefix, 0, &root, fn, ctx);
    return rc;
}

/* ---- writing ---- */

/* The tree_roots row of version, for the root slot now. */
static int put_root(sql_t *q, const char *tree, uint64_t version, const tree_child_t *now)
{
    return sql_exec(q, SQL_PUT_ROOT, "tukuu", tree, version,
                    now->kind == TREE_CHILD_NODE ? now->hash : zero32, now->version, now->leaves);
}

/* Roll back (and release, if release is non-NULL) a savepoint or a
 * transaction after a failure, keeping the failure's message on q. */
static void savepoint_undo(sql_t *q, const char *rollback, const char *release)
{
    sql_exec_quiet(q, rollback);
    if (release)
        sql_exec_quiet(q, release);
}

static int put_stale(const walk_t *w, const uint8_t prefix[SMT_KEY_LEN], unsigned depth,
                     const tree_child_t *old)
{
    char path[65];
    path_text(prefix, depth, path);
    return sql_exec(w->q, SQL_PUT_STALE, "tutu", w->tree, w->version, path, old->version);
}

static int put_node(const walk_t *w, const uint8_t prefix[SMT_KEY_LEN], unsigned depth,
                    const tree_node_t *node, const tower_t *t)
{
    uint8_t buf[TREE_NODE_MAX];
    char path[65];
    size_t len = 0;
    int rc = tree_node_encode(node, buf, sizeof buf, &len);

    path_text(prefix, depth, path);
    if (rc < 0) /* the walk only builds nodes the codec takes */
        return damaged(w, path, w->version, "cannot be encoded");
    return sql_exec(w->q, SQL_PUT_NODE, "ttukub", w->tree, path, w->version, t->h[1], t->n[1],
                    buf, len);
}

/* The new content of the slot at depth along prefix once node holds its
 * new children; old was its content before, t node's tower before the
 * slots in changed changed. Writes the node row and the stale entry that
 * the change calls for. */
static int settle(const walk_t *w, const uint8_t prefix[SMT_KEY_LEN], unsigned depth,
                  const tree_child_t *old, const tree_node_t *node, tower_t *t, unsigned changed,
                  tree_child_t *out)
{
    tree_child_t r = {.kind = TREE_CHILD_EMPTY};
    uint64_t leaves = tree_node_leaves(node);
    int rc = 0;

    if (leaves == 0 || (leaves == 1 && depth > 0)) {
        for (unsigned s = 0; s < TREE_NODE_SLOTS; s++)
            if (node->child[s].kind != TREE_CHILD_EMPTY) /* a leaf: node children hold 2 or more */
                r = node->child[s];
        if (old->kind == TREE_CHILD_NODE)
            rc = put_stale(w, prefix, depth, old);
        goto out;
    }
    tower_update(node, t, changed);
    if (old->kind == TREE_CHILD_NODE && old->leaves == leaves &&
        memcmp(old->hash, t->h[1], SMT_HASH_LEN) == 0) {
        r = *old; /* nothing below changed: no row to write */
        goto out;
    }
    if ((rc = put_node(w, prefix, depth, node, t)) < 0)
        goto out;
    if (old->kind == TREE_CHILD_NODE && (rc = put_stale(w, prefix, depth, old)) < 0)
        goto out;
    r.kind = TREE_CHILD_NODE;
    memcpy(r.hash, t->h[1], SMT_HASH_LEN);
    r.version = w->version;
    r.leaves = leaves;
out:
    if (rc == 0)
        *out = r;
    return rc;
}

/* For a slot that holds no node: what it holds after u[0..n) if that is at
 * most one leaf (then return 1 and write *out), else 0. The root keeps a
 * node even for one leaf. */
static int settle_small(const tree_child_t *old, unsigned depth, const upd_t *u, size_t n,
                        tree_child_t *out)
{
    const upd_t *set = NULL;
    size_t sets = 0;
    bool old_stays = old->kind == TREE_CHILD_LEAF;

    for (size_t i = 0; i < n; i++) {
        if (!u[i].u.remove) {
            sets++;
            set = &u[i];
        }
        if (old_stays && memcmp(u[i].u.key, old->key, SMT_KEY_LEN) == 0)
            old_stays = false;
    }
    if (sets + old_stays > 1 || (sets + old_stays == 1 && depth == 0))
        return 0;
    if (sets == 0 && !old_stays) {
        *out = (tree_child_t){.kind = TREE_CHILD_EMPTY};
    } else if (set != NULL) {
        *out = (tree_child_t){.kind = TREE_CHILD_LEAF};
        memcpy(out->key, set->u.key, SMT_KEY_LEN);
        memcpy(out->value, set->u.value, SMT_HASH_LEN);
    } else {
        *out = *old;
    }
    return 1;
}

static int apply_at(const walk_t *w, unsigned depth, const tree_child_t *old, const upd_t *u,
                    size_t n, tree_child_t *out);

/* Apply u[0..n) (sorted, all below node at depth) to node's slots,
 * adding the slots it touched to *changed. */
static int apply_slots(const walk_t *w, unsigned depth, tree_node_t *node, const upd_t *u,
                       size_t n, unsigned *changed)
{
    int rc = 0;
    for (size_t i = 0, j; rc == 0 && i < n; i = j) {
        unsigned s = tree_key_nibble(u[i].u.key, depth);
        for (j = i + 1; j < n && tree_key_nibble(u[j].u.key, depth) == s; j++)
            ;
        tree_child_t old = node->child[s];
        rc = apply_at(w, depth + 1, &old, u + i, j - i, &node->child[s]);
        *changed |= 1u << s;
    }
    return rc;
}

/* The content of the slot at depth (along u[0]'s key) after u[0..n)
 * (n >= 1, sorted, one per key, all below this slot), given its old
 * content; into *out. */
static int apply_at(const walk_t *w, unsigned depth, const tree_child_t *old, const upd_t *u,
                    size_t n, tree_child_t *out)
{
    const uint8_t *prefix = u[0].u.key;
    tree_node_t node;
    tower_t t;
    unsigned changed = 0;
    int rc = 0;

    if (old->kind == TREE_CHILD_NODE) {
        if ((rc = node_load(w, prefix, depth, old, &node, &t)) == -ENOENT)
            rc = -EIO;
        if (rc < 0)
            goto out;
    } else {
        changed = ALL_SLOTS; /* a new node: its whole tower */
        if (settle_small(old, depth, u, n, out))
            goto out;
        if (depth >= TREE_NODE_DEPTH) { /* distinct keys part by the last nibble */
            snprintf(w->q->err, sizeof w->q->err, "tree %s: keys deeper than the tree", w->tree);
            rc = -EIO;
            goto out;
        }
        /* Two leaves or more: a new node, the old leaf (if any) one level down. */
        memset(&node, 0, sizeof node);
        if (old->kind == TREE_CHILD_LEAF)
            node.child[tree_key_nibble(old->key, depth)] = *old;
    }
    if ((rc = apply_slots(w, depth, &node, u, n, &changed)) < 0)
        goto out;
    rc = settle(w, prefix, depth, old, &node, &t, changed, out);
out:
    return rc;
}

static int by_key_then_seq(const void *a, const void *b)
{
    const upd_t *x = a, *y = b;
    int c = memcmp(x->u.key, y->u.key, SMT_KEY_LEN);
    if (c != 0)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* A sorted copy of u[0..n) with one entry per key, the last one given.
 * Return 0 with *out (free it) and *m, or -ENOMEM. */
static int sort_updates(sql_t *q, const tree_update_t *u, size_t n, upd_t **out, size_t *m)
{
    upd_t *s = NULL;
    size_t k = 0;

    if (n > SIZE_MAX / sizeof *s || (s = malloc((n ? n : 1) * sizeof *s)) == NULL) {
        snprintf(q->err, sizeof q->err, "tree update: out of memory for %zu updates", n);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        s[i] = (upd_t){u[i], i};
    qsort(s, n, sizeof *s, by_key_then_seq);
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && memcmp(s[i].u.key, s[i + 1].u.key, SMT_KEY_LEN) == 0)
            continue; /* a later entry for the same key wins */
        s[k++] = s[i];
    }
    *out = s;
    *m = k;
    return 0;
}

/* The slot tree_apply builds on: the latest root, or empty for a new
 * tree. version must be above the latest. */
static int apply_base(sql_t *q, const char *tree, uint64_t version, tree_child_t *base)
{
    uint64_t latest = 0;
    int rc = tree_latest(q, tree, &latest);

    if (rc < 0 && rc != -ENOENT)
        return rc;
    if (version > VERSION_MAX || (rc == 0 && version <= latest)) {
        snprintf(q->err, sizeof q->err, "tree %s: version %llu is not above the latest, %llu",
                 tree, (unsigned long long)version, (unsigned long long)latest);
        return -EINVAL;
    }
    if (rc == -ENOENT) {
        *base = (tree_child_t){.kind = TREE_CHILD_EMPTY};
        return 0;
    }
    return root_ref(q, tree, latest, base);
}

int tree_apply(sql_t *q, const char *tree, uint64_t version, const tree_update_t *u, size_t n,
               uint8_t root[SMT_HASH_LEN])
{
    walk_t w = {q, tree, version};
    tree_child_t base, now;
    upd_t *s = NULL;
    size_t m = 0;
    bool open = false;
    int rc = check_name(q, tree);

    if (rc < 0 || (rc = apply_base(q, tree, version, &base)) < 0 ||
        (rc = sort_updates(q, u, n, &s, &m)) < 0)
        goto out;
    if ((rc = sql_exec(q, "SAVEPOINT tree_apply", NULL)) < 0)
        goto out;
    open = true;
    now = base;
    if (m > 0 && (rc = apply_at(&w, 0, &base, s, m, &now)) < 0)
        goto out;
    if ((rc = put_root(q, tree, version, &now)) < 0 ||
        (rc = sql_exec(q, "RELEASE tree_apply", NULL)) < 0)
        goto out;
    open = false;
    memcpy(root, now.kind == TREE_CHILD_NODE ? now.hash : zero32, SMT_HASH_LEN);
out:
    if (open) /* undo our part, keeping the first failure's message */
        savepoint_undo(q, "ROLLBACK TO tree_apply", "RELEASE tree_apply");
    free(s);
    return rc;
}

/* ---- writing a whole tree from sorted leaves ---- */

/* The leaves tree_build reads, with one leaf of lookahead. */
typedef struct {
    tree_leaf_next_fn next;
    void *ctx;
    int have;                    /* leaves held: 0, 1 (cur) or 2 (cur and nxt) */
    bool ended;                  /* next said there are no more: never asked again */
    tree_child_t cur, nxt;
    uint8_t last[SMT_KEY_LEN];   /* the last key taken, for the order check */
    bool taken;                  /* last is set */
} feed_t;

/* Fill the lookahead up to two leaves. Return 0 or next's code. */
static int feed_fill(const walk_t *w, feed_t *f)
{
    while (f->have < 2 && !f->ended) {
        tree_child_t *c = f->have == 0 ? &f->cur : &f->nxt;
        *c = (tree_child_t){.kind = TREE_CHILD_LEAF};
        int rc = f->next(f->ctx, c->key, c->value, w->q->err, sizeof w->q->err);
        if (rc <= 0) {
            f->ended = rc == 0;
            return rc;
        }
        const uint8_t *before = f->have == 1 ? f->cur.key : f->taken ? f->last : NULL;
        if (before && memcmp(before, c->key, SMT_KEY_LEN) >= 0) {
            snprintf(w->q->err, sizeof w->q->err,
                     "tree %s: build: the leaves are not in strictly ascending key order", w->tree);
            return -EINVAL;
        }
        f->have++;
    }
    return 0;
}

/* Hand over the current leaf and move on. */
static int feed_take(const walk_t *w, feed_t *f, tree_child_t *out)
{
    *out = f->cur;
    memcpy(f->last, f->cur.key, SMT_KEY_LEN);
    f->taken = true;
    f->cur = f->nxt;
    f->have--;
    return feed_fill(w, f);
}

static bool same_prefix(const uint8_t a[SMT_KEY_LEN], const uint8_t b[SMT_KEY_LEN], unsigned depth)
{
    for (unsigned d = 0; d < depth; d++)
        if (tree_key_nibble(a, d) != tree_key_nibble(b, d))
            return false;
    return true;
}

/* The slot at depth along prefix, holding every leaf of the feed that
 * starts with prefix's first depth nibbles (the feed's current leaf
 * does): the leaf itself when it is the only one (below the root), else
 * a node written at w->version. */
static int build_at(const walk_t *w, feed_t *f, unsigned depth, const uint8_t prefix[SMT_KEY_LEN],
                    tree_child_t *out)
{
    uint8_t p[SMT_KEY_LEN];
    tree_node_t node;
    tower_t t;
    int rc = 0;

    if (depth > 0 && (f->have < 2 || !same_prefix(f->nxt.key, prefix, depth)))
        return feed_take(w, f, out);
    if (depth >= TREE_NODE_DEPTH) { /* two equal keys, which feed_fill refuses */
        snprintf(w->q->err, sizeof w->q->err, "tree %s: keys deeper than the tree", w->tree);
        return -EIO;
    }
    memcpy(p, prefix, SMT_KEY_LEN);
    memset(&node, 0, sizeof node);
    while (rc == 0 && f->have > 0 && same_prefix(f->cur.key, p, depth)) {
        unsigned s = tree_key_nibble(f->cur.key, depth);
        uint8_t below[SMT_KEY_LEN];
        memcpy(below, f->cur.key, SMT_KEY_LEN);
        rc = build_at(w, f, depth + 1, below, &node.child[s]);
    }
    if (rc < 0)
        return rc;
    tower_build(&node, &t);
    if ((rc = put_node(w, p, depth, &node, &t)) < 0)
        return rc;
    *out = (tree_child_t){.kind = TREE_CHILD_NODE, .version = w->version, .leaves = t.n[1]};
    memcpy(out->hash, t.h[1], SMT_HASH_LEN);
    return 0;
}

int tree_build(sql_t *q, const char *tree, uint64_t version, tree_leaf_next_fn next, void *ctx,
               uint8_t root[SMT_HASH_LEN])
{
    walk_t w = {q, tree, version};
    feed_t f = {.next = next, .ctx = ctx};
    tree_child_t now = {.kind = TREE_CHILD_EMPTY};
    uint64_t latest;
    bool open = false;
    int rc = check_name(q, tree);

    if (rc == 0 && (rc = tree_latest(q, tree, &latest)) != -ENOENT) {
        if (rc == 0)
            snprintf(q->err, sizeof q->err, "tree %s: build: already written (latest %llu)", tree,
                     (unsigned long long)latest);
        rc = rc == 0 ? -EEXIST : rc;
        goto out;
    }
    if (version > VERSION_MAX || (rc = sql_exec(q, "SAVEPOINT tree_build", NULL)) < 0) {
        if (version > VERSION_MAX)
            snprintf(q->err, sizeof q->err, "tree %s: version %llu is too large", tree,
                     (unsigned long long)version);
        rc = version > VERSION_MAX ? -EINVAL : rc;
        goto out;
    }
    open = true;
    if ((rc = feed_fill(&w, &f)) < 0 ||
        (f.have > 0 && (rc = build_at(&w, &f, 0, f.cur.key, &now)) < 0))
        goto out;
    if ((rc = put_root(q, tree, version, &now)) < 0 ||
        (rc = sql_exec(q, "RELEASE tree_build", NULL)) < 0)
        goto out;
    open = false;
    memcpy(root, now.kind == TREE_CHILD_NODE ? now.hash : zero32, SMT_HASH_LEN);
out:
    if (open)
        savepoint_undo(q, "ROLLBACK TO tree_build", "RELEASE tree_build");
    return rc;
}

int tree_prune(sql_t *q, const char *tree, uint64_t keep_from, size_t budget, size_t *deleted)
{
    uint64_t limit = budget > VERSION_MAX ? VERSION_MAX : (uint64_t)budget;
    uint64_t keep = keep_from > VERSION_MAX ? VERSION_MAX : keep_from;
    int rc = check_name(q, tree);
    int n = 0;

    /* Roots first: a version stops being served before its nodes go. */
    if (rc < 0 || (rc = sql_exec(q, SQL_PRUNE_ROOTS, "tu", tree, keep)) < 0 ||
        (rc = sql_exec(q, SQL_PRUNE_NODES, "tuu", tree, keep, limit)) < 0)
        goto out;
    n = sqlite3_changes(q->db);
    if ((rc = sql_exec(q, SQL_PRUNE_STALE, "tuu", tree, keep, limit)) < 0)
        goto out;
    *deleted = (size_t)n;
out:
    return rc;
}

int tree_unapply(sql_t *q, const char *tree, uint64_t version)
{
    int r = sql_exists(q, "SELECT 1 FROM tree_roots WHERE tree = ? AND version = ?", "tu", tree,
                       version);
    if (r <= 0)
        return r;
    if ((r = sql_exec(q, "DELETE FROM tree_nodes WHERE tree = ? AND version = ?", "tu", tree,
                      version)) < 0 ||
        (r = sql_exec(q, "DELETE FROM tree_stale WHERE tree = ? AND since = ?", "tu", tree,
                      version)) < 0)
        return r;
    return sql_exec(q, "DELETE FROM tree_roots WHERE tree = ? AND version = ?", "tu", tree,
                    version);
}

/* ---- layout upgrade (TREE_SQL_V2) ---- */

#define UPGRADE_STEP 20000 /* rows moved between progress calls */

static const char SQL_MOVE_STEP[] =
    "INSERT INTO tree_nodes (tree, path, version, hash, leaves, node)"
    " SELECT tree, path, version, hash, leaves, node FROM tree_nodes_v1"
    " ORDER BY tree, path, version LIMIT ?1";
static const char SQL_DROP_STEP[] =
    "DELETE FROM tree_nodes_v1 WHERE (tree, path, version) IN"
    " (SELECT tree, path, version FROM tree_nodes_v1 ORDER BY tree, path, version LIMIT ?1)";

/* Move the rows in steps, inside the open transaction. */
static int upgrade_move(sql_t *q, void (*fn)(void *ctx, uint64_t done, uint64_t total),
                        void *ctx)
{
    uint64_t total = 0, done = 0;
    int rc = sql_u64(q, &total, "SELECT count(*) FROM tree_nodes_v1", NULL);

    while (rc == 0 && done < total) {
        if ((rc = sql_exec(q, SQL_MOVE_STEP, "u", (uint64_t)UPGRADE_STEP)) < 0)
            break;
        int moved = sqlite3_changes(q->db);
        if ((rc = sql_exec(q, SQL_DROP_STEP, "u", (uint64_t)UPGRADE_STEP)) < 0)
            break;
        if (moved == 0 || sqlite3_changes(q->db) != moved) {
            snprintf(q->err, sizeof q->err, "moving tree_nodes_v1: %d rows copied but %d removed",
                     moved, sqlite3_changes(q->db));
            rc = -EIO;
            break;
        }
        done += (uint64_t)moved;
        if (fn)
            fn(ctx, done, total);
    }
    return rc;
}

int tree_upgrade(sql_t *q, void (*fn)(void *ctx, uint64_t done, uint64_t total), void *ctx)
{
    int rc = sql_exists(q, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        "t", "tree_nodes_v1");

    if (rc <= 0)
        return rc;
    if ((rc = sql_exec(q, "BEGIN IMMEDIATE", NULL)) < 0)
        return rc;
    if ((rc = upgrade_move(q, fn, ctx)) < 0 ||
        (rc = sql_exec(q, "DROP TABLE tree_nodes_v1", NULL)) < 0 ||
        (rc = sql_exec(q, "COMMIT", NULL)) < 0)
        savepoint_undo(q, "ROLLBACK", NULL);
    return rc;
}
