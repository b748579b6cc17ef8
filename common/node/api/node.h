/* What the HTTP handlers of a worker may reach (api_request_t.ctx points
 * at one node_api_t): immutable facts about the chain, the metrics
 * registry, and the one door into the event loop, submit. Handlers run on
 * the API's threads; everything here is safe to use from them. */
#ifndef ADNET_NODE_H
#define ADNET_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/metrics.h"
#include "common/base/reject.h"
#include "common/store/genesis.h"
#include "proto/tx.h"

struct chain_ops;

typedef struct node_api {
    const char *chain;              /* the chain's name (chain_ops_t.name) */
    const struct chain_ops *ops;
    const genesis_t *genesis;       /* with genesis->hash */
    const char *genesis_path;       /* the genesis file, served as is */
    const char *ledger_path;
    metrics_t *metrics;
    uint32_t restarts;              /* how often the supervisor restarted this worker */
    uint32_t block_interval_ms;     /* the block cadence /health judges staleness by;
                                     * 0: not known, /health reports the age only */
    /* Hand an encoded transaction to the event loop and wait for its
     * verdict: 0 and *id once it is in the mempool, or a negative code with
     * the reason in why (decode, signature, chain id, expiry, fee, replay,
     * state checks, mempool limits). Thread-safe. */
    int (*submit)(struct node_api *n, const uint8_t *tx, size_t len, uint8_t id[TX_ID_LEN],
                  reject_t *why);
    void *loop_ctx;                 /* for submit */
} node_api_t;

#endif
