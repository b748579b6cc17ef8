/* A sparse Merkle tree kept in the ledger and versioned by height (in the
 * manner of Aptos's Jellyfish Merkle tree): the very tree of
 * common/store/smt.c, with the same root and byte-identical proofs for the
 * same leaves, but stored as 16-way nodes in SQLite tables, so that
 * start-up, proofs and memory never cost O(state).
 *
 * Each node covers one nibble of the key; inside it, hashing is binary
 * over its 16 slots exactly as smt.c hashes. A slot is empty, a leaf
 * (key and value stored inline), or a child node (its hash, the version of
 * its row, its leaf count). A node other than the root holds at least two
 * leaves; the root holds at least one. A batch written at version V
 * writes a new row for every node it changes, at V, and records the row it
 * replaced in tree_stale as no longer used from V on; old versions stay
 * readable until tree_prune removes them. Several trees share the tables,
 * each named by a short string ("accounts", "records", ...).
 *
 * The state at version v is what the last batch written at a version <= v
 * left; every function that reads takes the version to read.
 *
 * Every function takes the ledger's sql_t: the writer's (ledger_sql, with
 * its statement cache) or a reader's (SQL_BARE on a read-only
 * connection). On failure it returns a negative errno with the message on
 * q (sql_errmsg); out-parameters are written only on success. Damage to
 * the stored tree (a blob that does not decode, a hash that does not match
 * the node's contents, a child whose row does not match its parent's
 * entry) is -EBADMSG; a missing node row is -EIO; SQLite's own errors are
 * mapped as sql.h says. Every node read is checked against the hash its
 * parent (or the root row) holds, so a proof or value handed out has been
 * verified against the root on its way down. The walks recurse at most
 * 64 levels, with about 4 KiB of stack a level (tree_apply). */
#ifndef ADNET_TREE_H
#define ADNET_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/store/smt.h"
#include "common/store/sql.h"

#define TREE_NAME_MAX 64  /* bytes in a tree's name */

/* The tables (tree_nodes, tree_roots, tree_stale), as one migration a
 * chain appends to its schema; docs/ledger.md describes them. */
extern const char TREE_SQL_V1[];
/* Migration 2 of the tables, for the chain's next schema version:
 * tree_nodes keyed by (tree, version, path), so that the nodes a block
 * writes lie together at the end of the table instead of on as many
 * pages as there are nodes. It renames the old table tree_nodes_v1;
 * tree_upgrade then moves its rows. */
extern const char TREE_SQL_V2[];

/* Move every row of tree_nodes_v1 (left by TREE_SQL_V2) into tree_nodes
 * and drop it, in one transaction of its own, calling fn(ctx, done,
 * total) (if fn is non-NULL) every few thousand rows and at the end. A
 * crash half-way leaves tree_nodes_v1 whole, to be moved at the next
 * call. Return 0 (also when there is nothing to move) or a negative code
 * with the message on q. Outside any transaction only. */
int tree_upgrade(sql_t *q, void (*fn)(void *ctx, uint64_t done, uint64_t total), void *ctx);

typedef struct {
    uint8_t key[SMT_KEY_LEN];
    uint8_t value[SMT_HASH_LEN];  /* the new value; ignored when remove */
    bool remove;                  /* delete key (a no-op if it is absent) */
} tree_update_t;

/* Apply u[0..n) (in any order; for a repeated key the last one wins) to
 * the latest version of tree and write the result as version, with the
 * changed nodes, their stale entries and one tree_roots row (written also
 * when nothing changed, or n is 0), and the new root into root. The first
 * version of a tree may be any (0 for genesis); every later one must be
 * above the latest, else -EINVAL (also for a version above 2^63-1 or a
 * bad name). u is not modified (a sorted copy is made: -ENOMEM). Runs
 * inside the caller's transaction, within a savepoint of its own: on
 * failure nothing of it remains, and a caller that rolls back (its block,
 * or a savepoint around the call) rolls it back whole. (Called outside a
 * transaction, the savepoint is one, committed on return.) Cost: the
 * nodes on the changed keys' paths, each read and written once. */
int tree_apply(sql_t *q, const char *tree, uint64_t version, const tree_update_t *u, size_t n,
               uint8_t root[SMT_HASH_LEN]);

/* Where tree_build reads its leaves: write the next one into key and
 * value and return 1, return 0 when there are no more, or a negative code
 * (which tree_build returns) with a message in err (errlen bytes). */
typedef int (*tree_leaf_next_fn)(void *ctx, uint8_t key[SMT_KEY_LEN], uint8_t value[SMT_HASH_LEN],
                                 char *err, size_t errlen);

/* Write the whole tree of the leaves next hands out, in strictly
 * ascending key order, as version: the first version of a tree never
 * written (-EEXIST otherwise). The rows are the very rows tree_apply
 * would write for the same leaves in one batch, each node written once,
 * with one node per level in memory. A key not above the one before is
 * -EINVAL. Runs within a savepoint of its own, like tree_apply; the root
 * goes to root. (tree_load.h feeds it leaves in any order.) */
int tree_build(sql_t *q, const char *tree, uint64_t version, tree_leaf_next_fn next, void *ctx,
               uint8_t root[SMT_HASH_LEN]);

/* Write the latest version written to tree into *version: 0, or -ENOENT
 * if tree was never written. */
int tree_latest(sql_t *q, const char *tree, uint64_t *version);
/* Write the oldest version still served (tree_prune moves it up): 0, or
 * -ENOENT if tree was never written. */
int tree_oldest(sql_t *q, const char *tree, uint64_t *version);

/* Write tree's root at version (32 zero bytes when empty) and, if leaves
 * is non-NULL, its leaf count. Return 0, -ENOENT (version is above the
 * latest, or tree was never written), or -ESTALE (below the oldest still
 * served: pruned, or before the tree's first version). */
int tree_root_at(sql_t *q, const char *tree, uint64_t version, uint8_t root[SMT_HASH_LEN],
                 uint64_t *leaves);

/* Look key up in tree at version. Return 1 and write value if it is
 * there, 0 if it is not, or the errors of tree_root_at and of reading a
 * node. */
int tree_get(sql_t *q, const char *tree, uint64_t version, const uint8_t key[SMT_KEY_LEN],
             uint8_t value[SMT_HASH_LEN]);

/* Prove key's presence or absence in tree at version into *out: the very
 * proof (every byte of the struct) smt_prove gives on a smt_t holding the
 * same leaves, to be checked with smt_verify against tree_root_at's root.
 * Reads only the nodes on key's path. Return 0, -ENOMEM, or the errors of
 * tree_root_at and of reading a node (-ESTALE also when the version is
 * pruned while the walk runs). */
int tree_prove(sql_t *q, const char *tree, uint64_t version, const uint8_t key[SMT_KEY_LEN],
               smt_proof_t *out);

/* Call fn(ctx, key, value) for every leaf of tree at version, in
 * ascending key order. fn returns 0 to go on; anything else stops the walk
 * and is returned. fn may use q. Return 0, fn's value, or the errors of
 * tree_root_at and of reading a node. */
int tree_foreach(sql_t *q, const char *tree, uint64_t version,
                 int (*fn)(void *ctx, const uint8_t key[SMT_KEY_LEN],
                           const uint8_t value[SMT_HASH_LEN]),
                 void *ctx);

/* Take back version, the newest one, written by tree_apply in the
 * caller's still open transaction: delete its node, stale and root rows,
 * so that the same version can be applied again. No-op if nothing of it
 * is there (a savepoint around it was rolled back). Only for a version
 * above every committed one. Return 0 or a negative code. */
int tree_unapply(sql_t *q, const char *tree, uint64_t version);

/* Forget the versions of tree below keep_from: delete the tree_roots
 * rows below keep_from except the last one at or below it (whose state is
 * keep_from's), then at most budget node rows that no version >= keep_from
 * uses (oldest first) with their tree_stale rows. Call again while
 * *deleted == budget to finish. Inside the caller's transaction; were it
 * to stop half-way, what remains is only unused rows. Return 0 and the
 * node rows deleted in *deleted, or a negative code. */
int tree_prune(sql_t *q, const char *tree, uint64_t keep_from, size_t budget, size_t *deleted);

#endif
