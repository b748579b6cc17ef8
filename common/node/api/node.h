/* What the HTTP handlers of a worker may reach (api_request_t.ctx points
 * at one node_api_t): immutable facts about the chain, the metrics
 * registry, and the one door into the event loop, submit. Handlers run on
 * the API's threads; everything here is safe to use from them. */
#ifndef ADNET_NODE_H
#define ADNET_NODE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/base/metrics.h"
#include "common/base/reject.h"
#include "common/store/genesis.h"
#include "proto/tx.h"

struct chain_ops;

/* Whether the worker produces blocks, as /health, /status and POST /txs
 * report it. */
typedef enum {
    NODE_PRODUCING = 0, /* blocks come at the cadence */
    NODE_DELAYED,       /* the next block waits for a lock another process holds on the
                         * ledger; it is retried, nothing is lost */
    NODE_HALTED,        /* no block is produced until the reason is gone (disk full) or
                         * the node is restarted (its ledger's files changed) */
} node_mode_t;

#define NODE_REASON_MAX 320

typedef struct {
    node_mode_t mode;
    char reason[NODE_REASON_MAX]; /* why it is delayed or halted; "" while producing */
    uint64_t since_ms;            /* unix ms the mode began; 0 while producing */
} node_state_t;

/* What the peer chain's state holds under a key, proven against a header
 * this worker verified (node_api_t.peer_state). */
typedef struct {
    bool present;
    uint8_t value[32];      /* the leaf's value hash, when present */
    uint8_t tree_root[32];  /* the tree's root at that height */
} node_peer_state_t;

/* What checking a proposed block found (node_api_t.check_block). */
typedef struct {
    uint64_t height;           /* the height it was checked at */
    uint8_t state_root[32];    /* after it, when valid */
    uint8_t txs_root[32];
    size_t bad_index;          /* when invalid: the first transaction refused */
    char bad_code[48];         /* and its reason's code */
} node_block_check_t;

typedef struct node_api {
    const char *chain;              /* the chain's name (chain_ops_t.name) */
    const struct chain_ops *ops;
    const genesis_t *genesis;       /* with genesis->hash */
    const char *genesis_path;       /* the genesis file, served as is */
    const char *ledger_path;
    metrics_t *metrics;
    uint32_t restarts;              /* how often the supervisor restarted this worker */
    const char *peer;               /* the chain linked to this one on the node (its
                                     * verified headers in peer_headers), or NULL */
    uint32_t block_interval_ms;     /* the block cadence /health judges staleness by;
                                     * 0: not known, /health reports the age only */
    /* Hand an encoded transaction to the event loop and wait for its
     * verdict: 0 and *id once it is in the mempool, or a negative code with
     * the reason in why (decode, signature, chain id, expiry, fee, replay,
     * state checks, mempool limits). Thread-safe. */
    int (*submit)(struct node_api *n, const uint8_t *tx, size_t len, uint8_t id[TX_ID_LEN],
                  reject_t *why);
    /* submit for count transactions at once (POST /txs/batch): each
     * checked on the calling thread, all handed to the loop together and
     * admitted in one pass, in order; results[i] is what submit would
     * return for tx[i], with ids[i] or whys[i]. Thread-safe. May be NULL:
     * the batch route then calls submit for each. */
    void (*submit_many)(struct node_api *n, const uint8_t *const *tx, const size_t *len,
                        size_t count, uint8_t (*ids)[TX_ID_LEN], int *results, reject_t *whys);
    /* Copy the worker's production state into *out. Thread-safe. May be
     * NULL: the node always produces. */
    void (*state)(struct node_api *n, node_state_t *out);
    /* Ask the peer chain (peer) about key in its tree at height, whose
     * verified header has state_root, and check the proof. Thread-safe;
     * waits at most a few seconds. Return 0 and *out, or a negative code
     * with why (code: peer_unavailable, pruned, unknown_tree, bad_key,
     * wrong_answer, bad_roots, bad_proof). May be NULL: no peer. */
    int (*peer_state)(struct node_api *n, const char *tree, const uint8_t *key, size_t key_len,
                      uint64_t height, const uint8_t state_root[32], node_peer_state_t *out,
                      reject_t *why);
    /* Shadow governance proposal id on the event loop (the writer, inside
     * a transaction it rolls back; common/node/gov/gov.h gov_shadow),
     * journal the report, and answer it in *report (new reference, with
     * "receipt"), or a negative code with why. Thread-safe. May be NULL:
     * the route answers 503. */
    int (*gov_shadow)(struct node_api *n, const uint8_t id[32], json_t **report,
                      reject_t *why);
    /* Check, on the event loop, a block for the next height carrying the
     * count encoded transactions tx[i][len[i]] (common/node/chain/chain.h,
     * chain_check_block): 0 with the roots in *out, or a negative code
     * with why ("invalid_block": the first transaction refused, also in
     * out). Nothing is committed. Thread-safe. May be NULL. */
    int (*check_block)(struct node_api *n, const uint8_t *const *tx, const size_t *len,
                       size_t count, node_block_check_t *out, reject_t *why);
    void *loop_ctx;                 /* for submit and state */
} node_api_t;

#endif
