/* The node's chains as the configuration's sections: the build's chain
 * list (adnet_chains.h) as the config_chain_spec_t array that config_load
 * and config_write_default take, so every verb of `adnet` reads the same
 * sections the workers do. */
#ifndef ADNET_NODE_CHAINS_H
#define ADNET_NODE_CHAINS_H

#include "adnet_chains.h"
#include "common/base/config.h"

#define NODE_CHAIN_SPEC(name, exe, after, interval, listen) { name, interval, listen },
static const config_chain_spec_t node_chains[] = { ADNET_NODE_CHAINS(NODE_CHAIN_SPEC) };
#undef NODE_CHAIN_SPEC
#define N_NODE_CHAINS (sizeof node_chains / sizeof node_chains[0])

#endif
