/* The worker runtime every chain's worker binary runs: argument
 * parsing, configuration, the ledger, and one libev loop that produces a
 * block every block_interval_ms, reports READY / HEARTBEAT / BLOCK to the
 * supervisor over the inherited notification socket, and exits when asked
 * (SIGTERM/SIGINT) or when the supervisor goes away. A block in progress
 * always finishes or never starts: signals only set a flag the loop reads
 * between blocks. Returns an exit code from common/exitcode.h. */
#ifndef ADNET_WORKER_H
#define ADNET_WORKER_H

#include "common/node/chain/chain.h"

int worker_main(int argc, char **argv, const chain_ops_t *ops);

#endif
