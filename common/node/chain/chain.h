/* A chain as the shared pipeline sees it: a ledger, a genesis, the node's
 * validator key, and the chain's state machine plugged in through
 * chain_ops_t (the only chain-specific code; common/ never asks which
 * chain it runs). chain_produce_block builds, signs and commits one block
 * in one SQLite transaction. */
#ifndef ADNET_CHAIN_H
#define ADNET_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/base/keys.h"
#include "common/base/reject.h"
#include "common/node/api/api.h"
#include "common/store/bridgetab.h"
#include "common/store/commitrec.h"
#include "common/store/genesis.h"
#include "common/store/ledger.h"
#include "common/store/sql.h"
#include "proto/block.h"
#include "proto/tx.h"

struct mempool;

#define CHAIN_ERR_MAX 512

/* What a chain's transaction code sees while a block is built (or, for
 * check_tx, while a transaction is admitted against the committed state). */
typedef struct {
    sql_t *sql;               /* the writer connection (ledger_sql: its statements are cached);
                               * inside the block transaction for apply */
    const genesis_t *genesis;
    uint64_t height;          /* height of the block being built (tip + 1 at admission) */
    uint64_t time_ms;         /* its time */
    const uint8_t *proposer;  /* its proposer's public key */
    const uint8_t *txid;      /* id of the transaction (NULL in end_block) */
    uint32_t index;           /* position of the transaction in the block */
} chain_exec_t;

typedef struct chain_ops {
    const char *name;              /* the chain's name: logs, paths, genesis.chain, config section */
    const ledger_schema_t *schema; /* base migration first, then the chain's tables */
    /* Name of a transaction kind ("transfer"), or NULL if the chain has no such kind. */
    const char *(*tx_kind_name)(uint16_t kind);
    /* Check the chain's own genesis params (genesis_param_*), e.g. that a
     * key is 64 hex digits. May be NULL. Return 0 or -EINVAL with err. */
    int (*genesis_check)(const genesis_t *g, char *err, size_t errlen);
    /* Write the genesis state (inside the ledger's open transaction, through
     * sql, the writer's connection) into a new ledger, reading g's balances
     * with genesis_balances_foreach and passing progress on to it (NULL:
     * nobody watches). Return 0 or a negative code with a message in err;
     * the caller then rolls the whole transaction back. */
    int (*genesis_init)(sql_t *sql, const genesis_t *g, const genesis_progress_t *progress,
                        char *err, size_t errlen);
    /* Build the chain's in-memory state (its Merkle trees) from the ledger
     * read through sql (the writer's connection, kept by the pipeline for
     * as long as the state lives); *state is owned by the chain and freed
     * by state_close (NULL-safe). */
    int (*state_open)(void **state, sql_t *sql, const genesis_t *g, char *err, size_t errlen);
    void (*state_close)(void *state);
    /* The root of the current state, reading through sql (the writer's
     * connection, inside the block transaction). Return 0 or -EIO. */
    int (*state_root)(void *state, sql_t *sql, uint8_t out[BLOCK_HASH_LEN]);
    /* Optional: bring a ledger's persisted state (its Merkle trees) up to
     * the tables once, for a ledger made before the trees were kept in
     * the ledger (or whose genesis was written without them): build
     * them from the tables and write them at the tip's height in one
     * transaction of its own, telling progress (may be NULL) how far it
     * is. Called by chain_open before state_open; returns 0 at once when
     * there is nothing to do. Return 0 or a negative code with err. */
    int (*state_upgrade)(sql_t *sql, const genesis_t *g, const genesis_progress_t *progress,
                         char *err, size_t errlen);
    /* Optional: forget the state of heights below keep_from, deleting at
     * most about budget stored rows, inside the block's transaction
     * (called by chain_produce_block after state_root). Return 0 or a
     * negative code (the block then fails). */
    int (*state_prune)(void *state, sql_t *sql, uint64_t keep_from, size_t budget);
    /* Optional: rebuild the state from the tables as of the ledger's tip
     * (O(state)) and compare it with the persisted state and the last
     * header, reading through sql (a read-only connection), telling
     * progress how far it is. Return 0 (they agree, with a summary in
     * msg), -EILSEQ (they do not: what differs in msg) or another
     * negative code with msg. */
    int (*state_verify)(sql_t *sql, const genesis_t *g, const genesis_progress_t *progress,
                        char *msg, size_t msglen);
    /* Undo journal of the in-memory state, used in step with SQLite
     * savepoints: mark, roll back to a mark, or make changes final. */
    uint64_t (*state_mark)(void *state);
    void (*state_rollback)(void *state, uint64_t mark);
    void (*state_commit)(void *state);
    /* Admission: check tx (already decoded, signature, chain id, expiry and
     * fee checked) against the committed state without changing anything:
     * payload shape, ownership, balances, nonces. Return 0 or a negative
     * code with the reason in why. */
    int (*check_tx)(void *state, const chain_exec_t *x, const tx_t *tx, reject_t *why);
    /* Apply tx to the block being built. On failure the caller rolls back
     * its savepoint and the journal; -EAGAIN means "not yet" (e.g. a nonce
     * ahead of the account's): the transaction stays in the mempool. */
    int (*apply_tx)(void *state, const chain_exec_t *x, const tx_t *tx, reject_t *why);
    /* After the block's transactions (e.g. pay fees, mature unbonding
     * stakes). May be NULL. Return 0 or a negative code with err. */
    int (*end_block)(void *state, const chain_exec_t *x, uint64_t fees, char *err, size_t errlen);
    /* The trees whose roots make the state root of a header, in order, and
     * how: with one tree and no tag, its root is the state root; else
     * BLAKE2b-256(state_root_tag || roots...) (proto/ipcmsg.h,
     * ipc_state_root). The peer chain's worker asks about them
     * (state_query) and checks the answer against a header it verified. */
    const char *const *state_trees;
    size_t n_state_trees;
    const char *state_root_tag;    /* NULL: none */
    /* Optional, the bridge's source side: call fn(ctx, b) for each
     * bridge-out (a transfer burnt here for the other chain, b->recipient
     * its owner there) committed in the block at height, in block order,
     * reading through sql. Return 0, fn's nonzero value, or a negative
     * code. */
    int (*bridge_outs)(sql_t *sql, uint64_t height,
                       int (*fn)(void *ctx, const bridge_transfer_t *b), void *ctx);
    /* Optional, the destination side: credit the attested transfer b to
     * b->recipient in the block being built (x; inside its transaction,
     * within a savepoint and a state_mark like apply_tx), and count it in
     * the chain's supply totals as bridged in. Called by the pipeline for
     * each pending row of bridge_in (common/store/bridgetab.h), which it
     * marks minted in the same transaction: exactly once. It runs before
     * the block's transactions, so before end_block. Return 0 or a
     * negative code with why (the transfer is then marked refused). */
    int (*bridge_mint)(void *state, const chain_exec_t *x, const bridge_transfer_t *b,
                       reject_t *why);
    /* The chain's own HTTP routes (handlers get an api_request_t whose ctx
     * is the worker's api context, see common/node.h). */
    const api_route_t *routes;
    size_t n_routes;
} chain_ops_t;

typedef struct chain chain_t;

/* Open the chain's ledger at ledger_path (creating it from genesis g if
 * new), check it belongs to g, check that key can commit blocks alone (it
 * holds >= 2/3 of the voting power), and open the chain's state. g and
 * key are copied (g's in-memory balances, if any, are read only here). A
 * new ledger gets its meta and genesis state in one transaction, so a
 * crash while it is written leaves a ledger without meta, which the next
 * open writes again from the start; progress (may be NULL) hears how far
 * the genesis balances are. On failure return -EPROTO/-EILSEQ/-ENOTUNIQ
 * (ledger refused: newer schema, corrupt, other chain), -EPERM (key
 * cannot commit), -EINVAL (genesis of another chain, or its balances
 * refused), -EIO (SQLite), with a message in err. */
int chain_open(chain_t **out, const chain_ops_t *ops, const char *ledger_path,
               const genesis_t *g, const keys_pair_t *key, const genesis_progress_t *progress,
               char err[CHAIN_ERR_MAX]);
/* Heights of state history a chain keeps by default (its
 * <chain>.state.keep_heights); 0 keeps all. */
#define CHAIN_KEEP_HEIGHTS_DEFAULT 10000
/* Stored rows each block may prune at most (ops->state_prune's budget). */
#define CHAIN_PRUNE_BUDGET 2000
/* Keep the state of the last keep_heights heights (0: all) from the next
 * block on; chain_open starts with CHAIN_KEEP_HEIGHTS_DEFAULT. */
void chain_set_keep_heights(chain_t *c, uint64_t keep_heights);

/* Keep the last retain_blocks blocks (0: all; the configuration's
 * <chain>.retain_blocks, 0 or >= CONFIG_RETAIN_BLOCKS_MIN) from the next block
 * on: each block commit then deletes at most PRUNE_BUDGET rows of older
 * blocks, never a height the state trees still serve (the last
 * keep_heights) nor a block whose transactions could still be replayed;
 * see common/store/prune.h. chain_open starts with 0. */
void chain_set_retain_blocks(chain_t *c, uint64_t retain_blocks);

/* The last block this validator signed on this chain, as its commit
 * record says (common/store/commitrec.h; copied). From then on
 * chain_produce_block refuses to sign a block at or below that height
 * unless it is that very block (-EEXIST), and each block it commits moves
 * the mark up. Without a call nothing is refused. */
void chain_set_signed(chain_t *c, const commitrec_t *r);

/* Name in each block's header (peer_height, peer_hash) the newest header
 * of chain peer that this ledger's peer_headers holds (common/store/
 * peertab.h), read inside the block's transaction, so that each chain
 * anchors the other; NULL or "" names none (the header's v1 encoding).
 * The chain's schema must have the table. chain_open starts with none. */
void chain_set_peer(chain_t *c, const char *peer);

/* Open the ledger at ledger_path read-only (it must exist and be at this
 * binary's schema) and run ops->state_verify on it. Return 0 (the state
 * agrees, a summary in msg), -EILSEQ (it does not, what differs in msg),
 * -ENOTSUP (the chain has no state_verify), or the ledger's refusal with
 * msg. */
int chain_verify_ledger(const chain_ops_t *ops, const char *ledger_path, const genesis_t *g,
                        const genesis_progress_t *progress, char msg[CHAIN_ERR_MAX]);

/* Close the chain's state, then its ledger; NULL-safe. */
void chain_close(chain_t *c);

/* Current tip (height 0 before the first block). */
void chain_tip(const chain_t *c, ledger_tip_t *out);
/* The chain's ledger (the writer), owned by c. */
ledger_t *chain_ledger(chain_t *c);
/* The node's validator key, owned by c (for what the validator signs
 * beside blocks: attestations). */
const keys_pair_t *chain_key(const chain_t *c);
/* Attested bridge transfers a block credits at most (the rest wait). */
#define CHAIN_BRIDGE_PER_BLOCK 256
/* The chain's copy of its genesis, owned by c. */
const genesis_t *chain_genesis(const chain_t *c);

/* The name of a transaction kind on this chain: a governance kind's
 * (proto/gov.h), else ops->tx_kind_name's; NULL for none. */
const char *chain_kind_name(const chain_ops_t *ops, uint16_t kind);

/* Governance refusals at admission journalled per admission batch at most. */
#define CHAIN_GOV_REFUSALS 32

/* Count governance metrics (common/node/gov/gov.h) in m. */
void chain_set_metrics(chain_t *c, metrics_t *m);

/* Shadow governance proposal id against the committed state as the next
 * block would apply it (gov_shadow, inside a transaction that is always
 * rolled back), then journal the report (origin local) and put its
 * "receipt" in it. On the loop thread, outside admission batches. Return
 * 0 and *report (new reference), or a negative code with why. */
int chain_gov_shadow(chain_t *c, const uint8_t id[32], json_t **report, reject_t *why);

/* What chain_check_block found. */
typedef struct {
    uint64_t height;                 /* the height the block was checked at (tip + 1) */
    uint8_t state_root[BLOCK_HASH_LEN]; /* of the state after it, when valid */
    uint8_t txs_root[TX_ID_LEN];
    size_t bad_index;                /* when invalid: the first transaction refused, */
    const char *bad_code;            /* and its reason's code (static) */
} chain_block_check_t;

/* Validate a block proposed for the next height, carrying the n encoded
 * transactions txs[i][lens[i]], as a validator that did not build it
 * would: every transaction through the same stages as admission and
 * block building (decode, signature, fee, expiry, replay, the governance
 * verifier stage, the chain's apply), after the chain's own start-of-block
 * steps, then end_block and the roots. Nothing is committed: the ledger
 * and the state are rolled back whatever happens. Return 0 with the roots
 * in *out (the caller compares them with the block's header), or a
 * negative code with why: "invalid_block" naming the first transaction
 * refused and its reason (out->bad_index, bad_code), or the ledger's
 * failure. On the loop thread, outside admission batches. */
int chain_check_block(chain_t *c, const uint8_t *const *txs, const size_t *lens, size_t n,
                      uint64_t now_ms, chain_block_check_t *out, reject_t *why);

/* Admission, first half, safe on any thread (no state): decode, size,
 * chain id, fee floor, signature. On success write *tx (its payload
 * points into bytes) and id. Otherwise return a negative code and why. */
int chain_precheck_tx(const genesis_t *g, const uint8_t *bytes, size_t len, tx_t *tx,
                      uint8_t id[TX_ID_LEN], reject_t *why);

/* Admission, second half, on the loop thread: expiry, replay (committed
 * id), duplicate in the pool, the governance verifier stage, the chain's
 * check_tx against the committed state, then mempool_add. A ledger that
 * another process holds locked is refused as "ledger_busy" (-EBUSY: try
 * again), any other ledger failure as "internal". */
int chain_admit_tx(chain_t *c, struct mempool *pool, const tx_t *tx, const uint8_t id[TX_ID_LEN],
                   const uint8_t *bytes, size_t len, uint64_t now_ms, reject_t *why);

/* Optional: open one read transaction for a batch of chain_admit_tx
 * calls (each still runs in its own savepoint, rolled back), and close it.
 * Saves taking the ledger's locks once per transaction. Between the two,
 * no block may be produced. chain_admit_begin returns 0, -EINVAL (a batch
 * is already open) or the ledger's code (-EIO, -EBUSY ...; the message in
 * ledger_errmsg(chain_ledger(c))). */
int chain_admit_begin(chain_t *c);
void chain_admit_end(chain_t *c);

/* Called for each pooled transaction a block drops (refused at apply or
 * expired), with the reason; the entry is removed after the call. */
typedef void (*chain_drop_fn)(void *ctx, const uint8_t id[TX_ID_LEN], const reject_t *why);

/* ---- the mempool's copy in the ledger (common/store/pooltab.h) ----
 * When the chain's schema has its tables, admitted transactions are saved
 * by chain_pool_save (one commit per admission batch, synchronous=NORMAL:
 * it survives the worker's crash at the cost of a write, not an fsync; the
 * next block's commit syncs it with the block), removed in the
 * transaction of the block that includes them, moved to tx_dropped in the
 * transaction of the block that refuses them, and admitted again at start
 * by chain_pool_reload. Without the tables, these are no-ops. */
bool chain_pool_kept(const chain_t *c);
/* Numbers for n saved admissions, in order: the first is returned. */
uint64_t chain_pool_take_seq(chain_t *c, size_t n);
/* Save the n transactions just admitted into pool (ids[i],
 * bytes[i][lens[i]]) at now_ms, and tag their pool entries with their
 * rows' numbers. Return 0, or refuse them all with why: "ledger_busy"
 * (-EBUSY, another process holds the ledger's write lock) or "internal";
 * the caller then takes them out of the pool again. */
int chain_pool_save(chain_t *c, struct mempool *pool, size_t n, const uint8_t *const *ids,
                    const uint8_t *const *bytes, const size_t *lens, uint64_t now_ms,
                    reject_t *why);
/* Admit the saved transactions into pool again, in their order, with the
 * checks of admission; the ones refused now move to tx_dropped and go to
 * drop (if non-NULL). Write how many were kept and dropped. Return 0 or a
 * negative code with err. Before the first block. */
int chain_pool_reload(chain_t *c, struct mempool *pool, uint64_t now_ms, chain_drop_fn drop,
                      void *drop_ctx, size_t *kept, size_t *dropped, char err[CHAIN_ERR_MAX]);

typedef struct {
    uint32_t included;       /* transactions in the block */
    uint32_t dropped;        /* removed from the pool as invalid */
    uint32_t deferred;       /* kept in the pool (-EAGAIN) */
    uint64_t fees;
    double oldest_wait_ms;   /* admission to commit, of the longest-waiting included tx */
    uint32_t bridged_in;     /* attested bridge transfers credited (before the transactions) */
    uint32_t bridge_refused; /* ... and refused for good by the chain's bridge_mint */
} chain_block_stats_t;

/* Build, sign and commit the next block with time max(now_ms, tip+1),
 * taking up to max_txs transactions from pool in admission order (each
 * applied inside a savepoint; refused ones are dropped through drop(),
 * -EAGAIN ones stay). All or nothing: on failure the ledger keeps its tip,
 * the chain state is rolled back, and the included transactions stay
 * pooled (dropped ones are gone: they were invalid). Return 0 and
 * write *out / *stats (each may be NULL), or a negative code with the
 * reason in err: -EBUSY (another process holds the ledger's write lock;
 * nothing was done, not even a transaction tried: try again later),
 * -ENOSPC (the disk is full; rolled back), -EEXIST (the block would sign
 * a height signed before, see chain_set_signed), -EIO and others. */
int chain_produce_block(chain_t *c, uint64_t now_ms, struct mempool *pool, size_t max_txs,
                        chain_drop_fn drop, void *drop_ctx, block_header_t *out,
                        chain_block_stats_t *stats, char err[CHAIN_ERR_MAX]);

#endif
