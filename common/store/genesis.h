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
#define GENESIS_MAX_PARAMS 16
#define GENESIS_PARAM_KEY_MAX 32
#define GENESIS_PARAM_VALUE_MAX 128
#define GENESIS_CHAIN_MAX 15
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

/* A chain-specific parameter of "params": its key and its value as
 * compact JSON (a non-negative integer or a string). Common code reads only
 * min_fee and fee_asset; each chain reads and checks its own keys
 * (chain_ops_t.genesis_check) and leaves the others alone. */
typedef struct {
    char key[GENESIS_PARAM_KEY_MAX + 1];     /* 1..32 of [a-z0-9_] */
    char value[GENESIS_PARAM_VALUE_MAX + 1]; /* e.g. "10" or "\"abcd...\"" */
} genesis_param_t;

typedef struct {
    char chain_id[BLOCK_CHAIN_ID_MAX + 1];
    char chain[GENESIS_CHAIN_MAX + 1]; /* the chain's name: 1..15 of [a-z] */
    char network[16];              /* devnet | testnet | mainnet */
    uint64_t genesis_time_ms;
    uint32_t protocol_version;
    uint64_t min_fee;              /* smallest fee a transaction may pay */
    char fee_asset[GENESIS_ASSET_MAX + 1]; /* asset fees are paid in */
    size_t n_params;               /* the chain's own params, read with genesis_param_* */
    genesis_param_t params[GENESIS_MAX_PARAMS];
    size_t n_validators;
    genesis_validator_t validators[GENESIS_MAX_VALIDATORS];
    size_t n_governors;
    uint8_t governors[GENESIS_MAX_GOVERNORS][BLOCK_KEY_LEN];
    size_t n_balances;
    genesis_balance_t balances[GENESIS_MAX_BALANCES];
    int has_peer_genesis;          /* names the genesis of a chain it depends on: */
    char peer_chain[GENESIS_CHAIN_MAX + 1];    /* JSON key "<peer_chain>_genesis_hash" */
    uint8_t peer_genesis_hash[BLOCK_HASH_LEN];
    uint8_t hash[BLOCK_HASH_LEN];  /* computed on load/save */
} genesis_t;

/* Fill the common parameters (min_fee, fee_asset) with their defaults and
 * drop every chain-specific one. */
void genesis_params_default(genesis_t *g);

/* Load and check a genesis file; with chain non-NULL, refuse a genesis of
 * another chain. A missing "params" object means the defaults. On failure
 * return -EINVAL/-errno with a message naming the file and field; *g is
 * written only on success. */
int genesis_load(genesis_t *g, const char *path, const char *chain, char err[GENESIS_ERR_MAX]);
/* Compute g->hash and write the file (0644, atomically, never replacing
 * an existing file unless overwrite). Return 0, -EINVAL (a value JSON
 * cannot carry: amount or time above 2^63-1), or -errno. */
int genesis_save(genesis_t *g, const char *path, int overwrite);
/* Chain-specific params. The getters return 0 and write *out, -ENOENT
 * (no such key), or -EINVAL (the value is not of that type: a non-negative
 * integer; a string of exactly 2*n hex digits); out is untouched on
 * failure. The setters add or replace key; they return 0, -EINVAL (bad key
 * or value too long) or -ENOSPC (GENESIS_MAX_PARAMS reached). */
int genesis_param_u64(const genesis_t *g, const char *key, uint64_t *out);
int genesis_param_hex(const genesis_t *g, const char *key, uint8_t *out, size_t n);
int genesis_param_set_u64(genesis_t *g, const char *key, uint64_t v);
int genesis_param_set_hex(genesis_t *g, const char *key, const uint8_t *bytes, size_t n);

/* Total voting power. */
uint64_t genesis_total_power(const genesis_t *g);
/* Voting power of pk, 0 if not a validator. */
uint64_t genesis_power_of(const genesis_t *g, const uint8_t pk[BLOCK_KEY_LEN]);

#endif
