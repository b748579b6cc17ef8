/* The node fuzz_api talks to: for each chain of the build (alpha, delta),
 * a ledger made by the real chain code from a genesis of four fixed keys,
 * a few blocks of real transactions committed with chain_produce_block,
 * and the real HTTP API server (api_start with the common and the chain's
 * routes) on 127.0.0.1, port chosen by the kernel. Its submit hooks run
 * what a worker runs on a transaction: chain_precheck_tx on the API
 * thread, then chain_admit_tx against the committed state (under a lock,
 * standing in for the event loop); the fuzz target empties the mempool
 * after each input, so every input meets the same state. Everything is
 * deterministic (keys, salts, block times), so that seeds naming records
 * and nonces stay valid. Set-up failures abort: they are bugs of the
 * harness, not findings. */
#ifndef ADNET_FUZZ_API_WORLD_H
#define ADNET_FUZZ_API_WORLD_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "common/node/api/api.h"
#include "common/node/api/node.h"
#include "common/node/chain/chain.h"
#include "common/node/mempool/mempool.h"

#define WORLD_CHAINS 2
#define WORLD_KEYS 4          /* validator (and alpha's minter), alice, bob, eve (no funds) */
#define WORLD_WORDS_MAX 64
#define WORLD_WORD_MAX 128
#define WORLD_SEEDS_MAX 8
#define WORLD_PATH_MAX 512

/* A transaction a seed can ask the harness to sign: valid against the
 * committed state unless its note says otherwise. */
typedef struct {
    const char *note;            /* seed file name part, e.g. "transfer" */
    unsigned sender;             /* index into world_t.keys */
    uint16_t kind;
    uint64_t nonce;
    uint8_t payload[TX_PAYLOAD_MAX];
    size_t payload_len;
} world_seed_tx_t;

typedef struct {
    const chain_ops_t *ops;
    genesis_t *genesis;          /* as saved to genesis_path (owned) */
    chain_t *chain;              /* the writer, kept for admissions */
    mempool_t *pool;
    pthread_mutex_t admit_mu;    /* admissions come from the API's threads */
    node_api_t node;             /* the API's ctx */
    node_state_t state;          /* what node.state reports; set between inputs */
    api_server_t *api;
    int port;
    uint64_t tip;                /* height after set-up */
    uint64_t admit_ms;           /* the clock admissions see (fixed) */
    char dir[WORLD_PATH_MAX];
    char ledger[WORLD_PATH_MAX + 16];
    char genesis_path[WORLD_PATH_MAX + 16];
    /* Values worth putting into a route's {} segments: heights, ids,
     * addresses, commitments, nullifiers, assets that exist (and some
     * that do not). */
    char words[WORLD_WORDS_MAX][WORLD_WORD_MAX];
    size_t n_words;
    world_seed_tx_t seeds[WORLD_SEEDS_MAX];
    size_t n_seeds;
} world_chain_t;

typedef struct {
    char dir[WORLD_PATH_MAX];    /* the temporary home, removed by world_close */
    keys_pair_t keys[WORLD_KEYS];
    metrics_t *metrics;
    world_chain_t chains[WORLD_CHAINS]; /* [0] alpha, [1] delta */
} world_t;

/* Build the world (a temporary directory under $TMPDIR, two ledgers, two
 * servers) into *w. Abort on any failure. */
void world_open(world_t *w);

/* Empty every chain's mempool (between inputs, with no request in
 * flight), so that an admitted transaction does not change what the next
 * input meets. */
void world_reset(world_t *w);

/* Stop the servers, close the chains, remove the directory. */
void world_close(world_t *w);

#endif
