#include "tests/lib/gen.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

genesis_t *gen_new(const char *chain, const char *chain_id)
{
    /* The inline balances gen_add_balance appends live right after the
     * struct, in the same allocation: freeing g frees them. */
    genesis_t *g = calloc(1, sizeof *g + GENESIS_MAX_INLINE_BALANCES * sizeof(genesis_balance_t));
    ck_assert_ptr_nonnull(g);
    g->balances = (genesis_balance_t *)(void *)(g + 1);
    ck_assert_uint_lt(strlen(chain), sizeof g->chain);
    ck_assert_uint_lt(strlen(chain_id), sizeof g->chain_id);
    strcpy(g->chain, chain);
    strcpy(g->chain_id, chain_id);
    strcpy(g->network, "devnet");
    g->genesis_time_ms = T0_MS;
    g->protocol_version = 1;
    genesis_params_default(g);
    return g;
}

size_t gen_add_validator(genesis_t *g, const char *name, const uint8_t pk[BLOCK_KEY_LEN],
                         uint64_t power)
{
    ck_assert_uint_lt(g->n_validators, GENESIS_MAX_VALIDATORS);
    genesis_validator_t *v = &g->validators[g->n_validators];
    ck_assert_uint_lt(strlen(name), sizeof v->name);
    strcpy(v->name, name);
    memcpy(v->pk, pk, BLOCK_KEY_LEN);
    v->power = power;
    return g->n_validators++;
}

void gen_add_governor(genesis_t *g, const uint8_t pk[BLOCK_KEY_LEN])
{
    ck_assert_uint_lt(g->n_governors, GENESIS_MAX_GOVERNORS);
    memcpy(g->governors[g->n_governors++], pk, BLOCK_KEY_LEN);
}

void gen_add_balance(genesis_t *g, const uint8_t owner[BLOCK_KEY_LEN], const char *asset,
                     uint64_t amount)
{
    ck_assert_ptr_nonnull(g->balances); /* a genesis from gen_new */
    ck_assert_uint_lt(g->n_balances, GENESIS_MAX_INLINE_BALANCES);
    genesis_balance_t *b = &g->balances[g->n_balances++];
    memcpy(b->owner, owner, BLOCK_KEY_LEN);
    snprintf(b->asset, sizeof b->asset, "%s", asset);
    b->amount = amount;
}

void gen_save(genesis_t *g, const char *path)
{
    int r = genesis_save(g, path, 1);
    ck_assert_msg(r == 0, "genesis_save %s: %d", path, r);
}

uint8_t *gen_key(uint8_t k[BLOCK_KEY_LEN], uint8_t seed)
{
    for (size_t i = 0; i < BLOCK_KEY_LEN; i++)
        k[i] = (uint8_t)(seed + i);
    return k;
}
