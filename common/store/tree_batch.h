/* The updates of one persisted tree (common/store/tree.h) for the block
 * being built, held in memory (bounded by the block's changes) and
 * written once per block as the block's version. A chain keeps one batch
 * per tree and moves it in step with the pipeline's SQLite savepoints:
 * tree_batch_mark is the batch's length, tree_batch_truncate drops what a
 * rolled-back transaction added.
 *
 * tree_batch_apply may be called more than once inside one SQLite
 * transaction (tests ask for the root in the middle of a block): each
 * call first removes what an earlier call wrote at the same version in
 * this transaction, then writes the whole batch again, so the tree at
 * version is always the latest committed version plus the batch. */
#ifndef ADNET_TREE_BATCH_H
#define ADNET_TREE_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/store/sql.h"
#include "common/store/tree.h"

typedef struct {
    const char *tree;       /* the tree's name (a string literal: not copied) */
    tree_update_t *u;       /* the updates, in the order they were made */
    size_t n, cap;
    bool written;           /* tree_batch_apply wrote `version` in the open transaction */
    uint64_t version;       /* what it wrote, while written */
} tree_batch_t;

/* Start an empty batch for tree; nothing is allocated yet. */
void tree_batch_init(tree_batch_t *b, const char *tree);
/* Free b's updates; NULL-safe. */
void tree_batch_free(tree_batch_t *b);

/* Append "key -> value" (or, for tree_batch_remove, "no key"). Return 0
 * or -ENOMEM (b unchanged). */
int tree_batch_put(tree_batch_t *b, const uint8_t key[SMT_KEY_LEN],
                   const uint8_t value[SMT_HASH_LEN]);
int tree_batch_remove(tree_batch_t *b, const uint8_t key[SMT_KEY_LEN]);

/* The batch's length, to truncate back to. */
size_t tree_batch_mark(const tree_batch_t *b);
/* Drop the updates made after mark (a no-op if mark >= the length). */
void tree_batch_truncate(tree_batch_t *b, size_t mark);

/* Write the batch as version of b's tree, through q, inside the caller's
 * transaction (see the file comment for repeated calls), and its root
 * into root. Outside a transaction, write nothing: only compute the root
 * it would have. Return 0 or tree_apply's code (message on q). */
int tree_batch_apply(tree_batch_t *b, sql_t *q, uint64_t version, uint8_t root[SMT_HASH_LEN]);
/* The transaction that held the batch committed (or was rolled back
 * whole): forget its updates and what was written. */
void tree_batch_clear(tree_batch_t *b);

/* Check at start-up that tree's latest version is tip and that its root
 * row and root node read back (O(1) rows, no leaves): 0 and root, -EILSEQ
 * (another version, or a damaged root row or node; err says which),
 * -ENOENT (never written: a ledger to migrate), or a read error (-EIO ...)
 * with err. */
int tree_batch_check_tip(sql_t *q, const char *tree, uint64_t tip, uint8_t root[SMT_HASH_LEN],
                         char *err, size_t errlen);

/* The ledger's tip through q: its height into *height (0 before the first
 * block) and, when above 0, its header's state root into root. Return 0,
 * -EILSEQ (a state_root that is not 64 hex digits, message on q) or the
 * read's code. */
int tree_batch_header(sql_t *q, uint64_t *height, uint8_t root[SMT_HASH_LEN]);

/* Read every stored node of tree at version, each checked against its
 * contents and its parent's entry on the way down (tree_foreach), and
 * count the leaves: with the root already compared, this proves that no
 * inner row is damaged. Return 0 and *leaves, or -EILSEQ (a damaged or
 * missing row) / a read error, with the reason in msg. O(state). */
int tree_batch_walk(sql_t *q, const char *tree, uint64_t version, uint64_t *leaves, char *msg,
                    size_t msglen);

/* The verdict of a full check at height tip: the state root rebuilt from
 * the tables (rebuilt), the one the stored trees give (stored) and the
 * last header's (header; ignored at tip 0, which has none). Return 0 with
 * "height H: state root R (...agree)" in msg, or -EILSEQ with the three
 * roots in msg. */
int tree_batch_verdict(uint64_t tip, const uint8_t rebuilt[SMT_HASH_LEN],
                       const uint8_t stored[SMT_HASH_LEN], const uint8_t header[SMT_HASH_LEN],
                       char *msg, size_t msglen);

#endif
