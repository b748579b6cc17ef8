/* A worker's link to the other chain's worker on the same node (given by
 * the supervisor: --peer NAME --ipc-fd N, the rings and wake-ups at
 * descriptors N..N+3). After each block it commits, the worker publishes
 * the block's finality proof (header and commit certificate) on its
 * outgoing ring; proofs arriving on the incoming ring are verified against
 * the peer's validator set (from <home>/<peer>/genesis.json) and stored in
 * the ledger's peer_headers, in height order. A gap (the ring was full,
 * either side restarted) is closed over ZeroMQ: each worker answers
 * "finality proofs from height h" on ipc://<home>/run/<chain>.ipc, read
 * from its own blocks. Runs on the worker's loop thread; logs each refusal
 * and counts it in metrics. docs/ipc.md describes it. */
#ifndef ADNET_PEERLINK_H
#define ADNET_PEERLINK_H

#include <ev.h>

#include "common/base/metrics.h"
#include "common/base/reject.h"
#include "common/node/chain/chain.h"
#include "common/node/ipc/peerstate.h"

typedef struct peerlink peerlink_t;

typedef struct {
    const char *home;
    const char *peer;   /* the peer chain's name */
    int fd_base;        /* out ring, out wake, in ring, in wake at fd_base..+3 (the link
                         * takes them: closed by peerlink_stop, or at once if the link
                         * does not start); -1: no rings */
    struct ev_loop *loop;
    chain_t *chain;
    const chain_ops_t *ops;  /* the trees state queries are answered from */
    metrics_t *metrics;
} peerlink_config_t;

/* Start the link: load the peer's genesis, attach the rings, bind the
 * ZeroMQ socket, connect to the peer's, and ask for the proofs after the
 * newest stored one. Return 0 and *out, or a negative code with err (the
 * worker then runs without a link: one chain's trouble never stops the
 * other). */
int peerlink_start(peerlink_t **out, const peerlink_config_t *cfg, char *err, size_t errlen);

/* The block at height h is committed: publish its finality proof. */
void peerlink_block_committed(peerlink_t *pl, uint64_t height);

/* Ask the peer about key in its tree at height (a height whose header we
 * verified, with that header's state_root) and check the answer
 * (common/node/ipc/peerstate.h). Safe on any thread (its own socket);
 * waits at most 2 s. Return 0 and *out, or a negative code with why:
 * "peer_unavailable" (no answer), "wrong_answer", "bad_roots",
 * "bad_proof" (counted as refusals), or the peer's "pruned",
 * "unknown_tree", "unknown_height", "bad_key". */
int peerlink_state(peerlink_t *pl, const char *tree, const uint8_t *key, size_t key_len,
                   uint64_t height, const uint8_t state_root[BLOCK_HASH_LEN], peer_state_t *out,
                   reject_t *why);

/* The peer chain's name, or NULL (pl NULL). */
const char *peerlink_peer(const peerlink_t *pl);

/* Stop watching, detach, close the sockets. NULL-safe. */
void peerlink_stop(peerlink_t *pl);

#endif
