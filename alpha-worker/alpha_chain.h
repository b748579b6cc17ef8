/* Alpha's state machine as the shared pipeline sees it: records
 * (owner, amount, salt) named by BLAKE2b commitments, and nullifiers that
 * mark them spent. */
#ifndef ADNET_ALPHA_CHAIN_H
#define ADNET_ALPHA_CHAIN_H

#include "common/chain.h"

extern const chain_ops_t alpha_chain_ops;

#endif
