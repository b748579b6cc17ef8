/* Genesis builders for the suites: a genesis_t with the fields every test
 * chain shares, then validators, governors and balances added one call
 * each. Any misuse (a full list, a failed save) fails the running test. */
#ifndef ADNET_TEST_GEN_H
#define ADNET_TEST_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "common/store/genesis.h"

/* The genesis time of the test chains: 2026-11-25T22:50:01.123Z. */
#define T0_MS 1795647001123ULL

/* A new genesis of chain (e.g. "alpha") called chain_id, on devnet, at
 * T0_MS, protocol version 1, with the common params at their defaults and
 * no validators, governors, balances or chain params. It is on the heap
 * (the struct is large): the caller frees it. Its hash is not computed
 * (see gen_save). */
genesis_t *gen_new(const char *chain, const char *chain_id);

/* Append a validator with name (copied; "" for none), key pk and power;
 * return its index. */
size_t gen_add_validator(genesis_t *g, const char *name, const uint8_t pk[BLOCK_KEY_LEN],
                         uint64_t power);
/* Append a governor with key pk. */
void gen_add_governor(genesis_t *g, const uint8_t pk[BLOCK_KEY_LEN]);
/* Append a balance: amount of asset (copied) held by owner. */
void gen_add_balance(genesis_t *g, const uint8_t owner[BLOCK_KEY_LEN], const char *asset,
                     uint64_t amount);

/* Save g to path, replacing any file there, which computes g->hash. */
void gen_save(genesis_t *g, const char *path);

/* Fill k with seed, seed + 1, ... (mod 256), so that keys made from
 * different seeds differ in every byte; return k. */
uint8_t *gen_key(uint8_t k[BLOCK_KEY_LEN], uint8_t seed);

#endif
