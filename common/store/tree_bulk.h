/* The first version of a tree from leaves handed over in any order, in
 * bounded memory (genesis, or a ledger's first open after the trees came
 * into the ledger). Leaves are gathered in runs of TREE_BULK_RUN; a full
 * run is sorted in memory and appended, in order, to a temporary table
 * (SQLite keeps it outside the ledger, in its temporary file); at the end
 * the runs are merged, a cursor each, and tree_build writes the tree in
 * one pass. A tree of at most one run never leaves memory. A key put
 * twice keeps the value put last. Memory: one run, plus a statement per
 * run while merging. One loader at a time per connection; tree_bulk_end
 * frees it and drops the table, after success or failure. On failure the
 * functions return a negative code with the message on the sql_t. */
#ifndef ADNET_TREE_BULK_H
#define ADNET_TREE_BULK_H

#include <stddef.h>
#include <stdint.h>

#include "common/store/smt.h"
#include "common/store/sql.h"
#include "common/store/tree.h"

#define TREE_BULK_RUN 65536 /* leaves sorted in memory at once (about 5 MiB) */

typedef struct tree_bulk_leaf tree_bulk_leaf_t;

typedef struct {
    sql_t *q;
    const char *tree;          /* the tree's name (not copied) */
    tree_bulk_leaf_t *run;     /* the run being gathered */
    size_t in_run;             /* leaves in it */
    uint64_t runs;             /* runs written to the table */
    uint64_t n;                /* leaves put */
    uint64_t seq;              /* puts so far, for "the last put wins" */
    bool table;                /* the temporary table exists */
} tree_bulk_t;

/* Start loading tree on q. Return 0 or -ENOMEM. */
int tree_bulk_begin(tree_bulk_t *b, sql_t *q, const char *tree);
int tree_bulk_put(tree_bulk_t *b, const uint8_t key[SMT_KEY_LEN], const uint8_t value[SMT_HASH_LEN]);
/* Write the tree as version (tree_build: the tree must never have been
 * written) and its root into root, calling progress(ctx, done, n) (if
 * non-NULL) every few thousand leaves. Inside the caller's transaction. */
int tree_bulk_finish(tree_bulk_t *b, uint64_t version,
                     void (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx,
                     uint8_t root[SMT_HASH_LEN]);
/* Free the run and drop the temporary table. NULL-safe, idempotent. */
void tree_bulk_end(tree_bulk_t *b);

#endif
