/* Delta's state machine as the shared pipeline sees it: accounts with
 * nonces and per-asset balances. */
#ifndef ADNET_DELTA_CHAIN_H
#define ADNET_DELTA_CHAIN_H

#include "common/chain.h"

extern const chain_ops_t delta_chain_ops;

#endif
