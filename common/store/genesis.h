/* Genesis files: the first state of a chain, as JSON an operator can read.
 * A genesis is named by its hash: BLAKE2b-256 over its canonical JSON
 * (compact, keys sorted), so whitespace and key order in the file do not
 * change it. */
#ifndef ADNET_GENESIS_H
#define ADNET_GENESIS_H

#include <stddef.h>
#include <stdint.h>

#include "proto/block.h"

#define GENESIS_MAX_VALIDATORS BLOCK_MAX_SIGS
#define GENESIS_MAX_GOVERNORS 128
#define GENESIS_MAX_BALANCES 1024
#define GENESIS_ASSET_MAX 16
#define GENESIS_ERR_MAX 512
#define GENESIS_DEFAULT_MIN_FEE 1
#define GENESIS_DEFAULT_FEE_ASSET "ADN"
#define GENESIS_DEFAULT_UNBONDING_BLOCKS 10
#define GENESIS_MAX_POWER (1ULL << 53) /* so total power * 3 never overflows */

typedef struct {
    char name[65];
    uint8_t pk[BLOCK_KEY_LEN];
    uint64_t power;
} genesis_validator_t;

typedef struct {
    uint8_t owner[BLOCK_KEY_LEN];
    char asset[GENESIS_ASSET_MAX + 1];
    uint64_t amount;
} genesis_balance_t;

typedef struct {
    char chain_id[BLOCK_CHAIN_ID_MAX + 1];
    char chain[8];                 /* "alpha" or "delta" */
    char network[16];              /* devnet | testnet | mainnet */
    uint64_t genesis_time_ms;
    uint32_t protocol_version;
    uint64_t min_fee;              /* smallest fee a transaction may pay */
    char fee_asset[GENESIS_ASSET_MAX + 1]; /* asset fees are paid in */
    int has_minter;                /* alpha: minter below may mint */
    uint8_t minter[BLOCK_KEY_LEN];
    uint64_t unbonding_blocks;     /* delta: blocks an unstaked amount stays locked */
    size_t n_validators;
    genesis_validator_t validators[GENESIS_MAX_VALIDATORS];
    size_t n_governors;
    uint8_t governors[GENESIS_MAX_GOVERNORS][BLOCK_KEY_LEN];
    size_t n_balances;
    genesis_balance_t balances[GENESIS_MAX_BALANCES];
    int has_peer_genesis;          /* delta names alpha's genesis */
    uint8_t peer_genesis_hash[BLOCK_HASH_LEN];
    uint8_t hash[BLOCK_HASH_LEN];  /* computed on load/save */
} genesis_t;

/* Fill the chain parameters (min_fee, fee_asset, unbonding_blocks) with
 * their defaults; no minter. */
void genesis_params_default(genesis_t *g);

/* Load and check a genesis file. A missing "params" object means the
 * defaults. On failure return -EINVAL/-errno with a
 * message naming the file and field; *g is written only on success. */
int genesis_load(genesis_t *g, const char *path, char err[GENESIS_ERR_MAX]);
/* Compute g->hash and write the file (0644, atomically, never replacing
 * an existing file unless overwrite). Return 0, -EINVAL (a value JSON
 * cannot carry: amount or time above 2^63-1), or -errno. */
int genesis_save(genesis_t *g, const char *path, int overwrite);
/* Total voting power. */
uint64_t genesis_total_power(const genesis_t *g);
/* Voting power of pk, 0 if not a validator. */
uint64_t genesis_power_of(const genesis_t *g, const uint8_t pk[BLOCK_KEY_LEN]);

#endif
