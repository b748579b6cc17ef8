/* Delta's state machine as the shared pipeline sees it (chain_ops_t):
 * accounts with nonces and per-asset balances, transfers, a constant-
 * product AMM (pools and LP shares) and staking with unbonding. Payload
 * layouts and the state-tree leaves are in proto/delta_tx.h; semantics,
 * tables and routes are described in docs/delta.md.
 *
 * The state is one sparse Merkle tree holding a leaf per non-empty
 * account and per pool, kept in the ledger (common/store/tree.h, tree
 * "accounts", one version per height); state_root is its root. The
 * state object holds only the block's pending updates. */
#ifndef ADNET_DELTA_CHAIN_H
#define ADNET_DELTA_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "common/node/api/api.h"
#include "common/node/chain/chain.h"
#include "common/store/smt.h"
#include "proto/delta_tx.h"

extern const chain_ops_t delta_chain_ops;

/* Genesis params of delta: "unbonding_blocks", how many blocks an unstaked
 * amount stays locked (default 10). */
#define DELTA_PARAM_UNBONDING_BLOCKS "unbonding_blocks"
#define DELTA_DEFAULT_UNBONDING_BLOCKS 10
/* Check delta's genesis params (chain_ops_t.genesis_check). */
int delta_genesis_check(const genesis_t *g, char *err, size_t errlen);

/* Delta's HTTP routes (delta_routes.c): GET /accounts/{address},
 * /accounts/{address}/proof, /pools, /pools/{a}/{b}, /supply. */
#define DELTA_N_ROUTES 7
extern const api_route_t delta_routes[DELTA_N_ROUTES];
extern const size_t delta_n_routes;

/* One account read from the ledger, with owned arrays (balances by asset,
 * unbonding by release height, LP shares by pair; zero entries left out). */
typedef struct {
    uint8_t pk[DELTA_KEY_LEN];
    uint64_t nonce;
    delta_balance_t *balances;
    size_t n_balances;
    uint64_t staked;
    delta_unbond_t *unbonding;
    size_t n_unbonding;
    delta_lp_t *lp;
    size_t n_lp;
} delta_account_rows_t;

/* Read the account of pk through q (a missing account reads as nonce 0
 * and nothing else). Return 0 and fill *out (free with
 * delta_account_rows_free), -EIO (SQLite, message on q; or a row no
 * valid state can hold) or -ENOMEM. */
int delta_account_load(sql_t *q, const uint8_t pk[DELTA_KEY_LEN], delta_account_rows_t *out);
/* Free the arrays of a; NULL-safe, and safe on a zeroed struct. */
void delta_account_rows_free(delta_account_rows_t *a);
/* The tree's view of a (borrowing its arrays). */
void delta_account_view(const delta_account_rows_t *a, delta_account_t *out);

/* One pool row. */
typedef struct {
    char asset_a[DELTA_ASSET_MAX + 1];
    char asset_b[DELTA_ASSET_MAX + 1];
    uint64_t reserve_a;
    uint64_t reserve_b;
    uint64_t shares;        /* all shares, the locked DELTA_MINIMUM_LIQUIDITY included */
    uint16_t fee_bps;
    uint64_t created_height;
} delta_pool_row_t;

/* Read the pool (asset_a, asset_b) (canonical order) through q. Return 0
 * and *out, -ENOENT, -EIO (message on q, or a bad row) or -ENOMEM. */
int delta_pool_load(sql_t *q, const char *asset_a, const char *asset_b, delta_pool_row_t *out);

/* The state tree's name in the ledger's tree tables. */
#define DELTA_TREE_NAME "accounts"

/* Build the state tree from the ledger's tables as q sees them (a leaf
 * per non-empty account and per pool). Return 0 and *out (free with
 * smt_free), -EIO (SQLite, or a row no valid state can hold) or -ENOMEM.
 * The API's proof routes call this inside one read transaction. */
int delta_tree_build(sql_t *q, smt_t **out);

#endif
