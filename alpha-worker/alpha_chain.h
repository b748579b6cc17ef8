/* Alpha's state machine as the shared pipeline sees it: records
 * (owner, asset, amount, salt) named by BLAKE2b commitments, nullifiers
 * that mark them spent, two sparse Merkle trees over them (records:
 * unspent commitments; nullifiers: spent ones with their height), and the
 * HTTP routes that serve records, supply and Merkle proofs. Byte layouts
 * and hashes are in proto/alpha_tx.h; the rules in docs/alpha.md. */
#ifndef ADNET_ALPHA_CHAIN_H
#define ADNET_ALPHA_CHAIN_H

#include <jansson.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "common/node/api/api.h"
#include "common/node/chain/chain.h"
#include "common/store/smt.h"

extern const chain_ops_t alpha_chain_ops;

/* Genesis params of alpha: "minter", the public key (64 hex digits) that
 * may mint; without it nobody may. */
#define ALPHA_PARAM_MINTER "minter"
/* Check alpha's genesis params (chain_ops_t.genesis_check). */
int alpha_genesis_check(const genesis_t *g, char *err, size_t errlen);

#define ALPHA_N_ROUTES 8
/* GET /records/{commitment}, /owners/{address}/records, /nullifiers/{nullifier},
 * /proofs/records/{commitment}, /proofs/nullifiers/{nullifier}, /supply,
 * /peer/accounts/{address}, /bridge/{id}. */
extern const api_route_t alpha_routes[ALPHA_N_ROUTES];
extern const size_t alpha_n_routes;

/* "Every height": pass as height to alpha_trees_at for the latest state. */
#define ALPHA_HEIGHT_LATEST ((uint64_t)INT64_MAX)

/* Rebuild both trees from the tables, read through q, as they were after
 * block `height`: records with created_height <= height and (spent_height
 * IS NULL or spent_height > height); nullifiers with height <= height.
 * The caller owns *records and *nullifiers (smt_free) and, for a
 * consistent view while a writer commits, holds a read transaction on
 * q's connection. Return 0, or -EIO / -ENOMEM / -EBADMSG (a row that is
 * not valid hex) with a message in err; the out-params are written only
 * on success. O(rows). */
int alpha_trees_at(sql_t *q, uint64_t height, smt_t **records, smt_t **nullifiers, char *err,
                   size_t errlen);

typedef enum {
    ALPHA_TREE_RECORDS,
    ALPHA_TREE_NULLIFIERS,
} alpha_tree_t;

/* The names of the two trees in the ledger's tree tables. */
#define ALPHA_TREE_NAME_RECORDS "records"
#define ALPHA_TREE_NAME_NULLIFIERS "nullifiers"

/* Build the proof document for key in the given tree against block
 * `height` (0: the latest block), inside one read transaction on db,
 * reading only the tree nodes on key's path (common/store/tree.h):
 *
 *   {"chain":"alpha","height":N,"state_root":hex,"tree":"records"|"nullifiers",
 *    "tree_root":hex,"tree_roots":{"records":hex,"nullifiers":hex},
 *    "proof":smt_proof_to_json(tree_root, key, proof),"value":{...}|null}
 *
 * value is the record as of that height (records tree) or
 * {"nullifier","height"} (nullifiers tree) when the key is included, else
 * null. Return 0 and *out (owned by the caller), -ENOENT (no such block:
 * a future height), -ESTALE (the height is pruned; msg names the oldest
 * height kept, which alpha_oldest_height reads), -EPROTO (the stored state root differs from
 * the header's, or a damaged tree node), -EIO / -ENOMEM / -EBADMSG, with a
 * message in msg. db must not be inside a transaction. O(log rows). */
int alpha_proof_build(sqlite3 *db, alpha_tree_t tree, const uint8_t key[SMT_KEY_LEN],
                      uint64_t height, json_t **out, char *msg, size_t msglen);

#endif
