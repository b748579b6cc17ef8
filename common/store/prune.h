/* Block pruning: deleting the oldest blocks, their commit signatures and
 * their transactions (the base tables of common/store/ledger.h) in small
 * steps, inside the transaction of the block being committed, so that a
 * block commit never does unbounded work.
 *
 * What is never pruned (prune_floor computes the bound):
 *  - the last retain blocks below and at the tip, and the tip itself
 *    (the start-up check reads the last header);
 *  - any height the state trees still serve (>= state_oldest), so that a
 *    proof at a kept height can name its block and state root;
 *  - a block with a transaction that could still be included again
 *    (expiry_height >= the height being committed): its txs row is what
 *    refuses a replay, so pruning waits at that block until it expires;
 *  - the genesis: it lives in meta and the genesis file, not in blocks.
 * Cross-chain anchoring (not yet) will add one more bound to prune_floor:
 * the lowest height the other chain still has to be able to read.
 *
 * The lowest kept height is a meta row (PRUNE_META_LOWEST), moved up as
 * soon as a block starts to be deleted, so a partly deleted block already
 * reads as pruned; without it, it is min(height) of blocks (the primary
 * key). Both are O(1) to read. */
#ifndef ADNET_PRUNE_H
#define ADNET_PRUNE_H

#include <stddef.h>
#include <stdint.h>

#include "common/store/sql.h"

/* meta key: blocks below this height are pruned (or being pruned). */
#define PRUNE_META_LOWEST "pruned_below"
/* Rows (blocks, commits, txs) one block commit deletes at most. */
#define PRUNE_BUDGET 300

/* The lowest height to keep given the tip, retain (blocks kept, 0: all)
 * and state_oldest (the lowest height the state trees serve; 0 when they
 * keep everything): min(tip + 1 - retain, state_oldest, tip), and 0 (prune
 * nothing) when retain is 0 or the tip is not above retain. */
uint64_t prune_floor(uint64_t tip, uint64_t retain, uint64_t state_oldest);

/* Delete blocks below keep_from, oldest first, at most budget rows in all
 * (a block's txs and commits rows go before its blocks row; a large block
 * takes several calls), through q inside the caller's open transaction.
 * Stop at a block holding a transaction whose expiry_height is >=
 * next_height (it could be replayed without its row). Never touches
 * keep_from or above; calling again with nothing to do changes nothing.
 * Write the rows deleted to *deleted (may be NULL). Return 0 or a
 * negative code with the message on q (-EBADMSG: a stored transaction
 * does not decode). */
int prune_step(sql_t *q, uint64_t keep_from, uint64_t next_height, size_t budget,
               size_t *deleted);

/* Blocks below *out are pruned or being pruned (0: none ever was), read
 * in O(1) through q. Return 0 and *out, or a negative code. */
int prune_below(sql_t *q, uint64_t *out);
/* The lowest height whose block is kept whole (0 without blocks): the
 * mark of prune_below, or min(height) of blocks before any pruning; O(1).
 * Return 0 and *out, or a negative code. */
int prune_lowest_height(sql_t *q, uint64_t *out);

#endif
