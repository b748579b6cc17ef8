/* A chain's state machine on a fresh ledger, set up the way a worker does
 * before its first block, for suites that drive chain_ops_t directly. Any
 * failure fails the running test with the chain's message. */
#ifndef ADNET_TEST_CHAINENV_H
#define ADNET_TEST_CHAINENV_H

#include "common/node/chain/chain.h"

/* Create the ledger at path with ops->schema, run ops->genesis_init for g
 * in one committed transaction, and open the state. Write the ledger
 * handle into *l and the state into *state; g must outlive both. */
void chainenv_open(const chain_ops_t *ops, const char *path, const genesis_t *g, ledger_t **l,
                   void **state);

/* Close state with ops->state_close, then l. */
void chainenv_close(const chain_ops_t *ops, ledger_t *l, void *state);

#endif
