/* A pre-signed load of delta transfers, submitted the way a busy client
 * would, and the ledger watched to see it commit: what `bench tx` and the
 * tx window of `bench state` share, so that the load generator does not
 * set the pace it measures.
 *
 * txload_new signs every transfer before anything is measured (on every
 * core). txload_run then lets `threads` submitters post them in batches
 * through POST /txs/batch (txbatch.h; a batch of 1 goes to POST /txs),
 * each thread owning the senders s with s % threads == its index and
 * sending each sender's nonces in order, never more than `ahead` past
 * what the ledger shows committed (the chain admits 64 ahead). A refused
 * transaction is sent again, with every later nonce of its sender; a
 * "duplicate" or "replay" answer to a transaction sent before counts as
 * accepted. A poller reads the delta ledger read-only every 20 ms: each
 * committed transfer of the load gives the sender's committed count, an
 * inclusion latency (block time_ms minus the wall-clock time it was last
 * posted) and, when its block's time lies in the load window, one
 * transaction in the window. */
#ifndef ADNET_TESTLIB_TXLOAD_H
#define ADNET_TESTLIB_TXLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/base/keys.h"

#define TXLOAD_ERR_MAX 256
#define TXLOAD_AHEAD 60          /* a safe ahead: under the 64 the chain admits */
#define TXLOAD_CODES 16          /* refusal codes counted apart (the last takes the rest) */

/* The fields every transfer of a load shares. */
typedef struct {
    const char *chain_id;
    const char *asset;           /* e.g. the genesis fee asset */
    uint64_t fee;
    uint64_t expiry_height;
} txload_terms_t;

/* Recipient of sender s's k-th transfer of the load (k from 0); called
 * from several signing threads at once. */
typedef void (*txload_to_fn)(void *ctx, int s, size_t k, uint8_t to[32]);

typedef struct {
    int port;                    /* the delta API on 127.0.0.1 */
    const char *ledger;          /* that worker's ledger.db, read-only */
    txload_terms_t terms;
    const keys_pair_t *const *keys; /* nsenders senders, borrowed during txload_new */
    const uint64_t *nonce;       /* each sender's next nonce (its account's nonce) */
    int nsenders;
    size_t per_sender;           /* transfers signed per sender */
    txload_to_fn to;             /* recipients */
    void *to_ctx;
    uint64_t amount;             /* of every transfer */
    int batch;                   /* transactions a request, 1..TXBATCH_MAX; 1: POST /txs */
    int threads;                 /* submitters, 1..nsenders */
    int ahead;                   /* nonces a sender may run past its committed count */
} txload_cfg_t;

/* How many refusals had one code. */
typedef struct {
    char code[32];
    uint64_t count;
} txload_code_t;

typedef struct {
    uint64_t t0_ms, t1_ms;       /* the load window, wall clock */
    double window_s;
    uint64_t presigned;          /* transfers signed */
    uint64_t submitted;          /* distinct transfers the node accepted */
    uint64_t committed;          /* of the load, in the window and the drain after it */
    uint64_t in_window;          /* committed in blocks whose time lies in the window */
    uint64_t refused;            /* refusals (a transfer sent again counts again) */
    uint64_t requests;           /* HTTP requests posted */
    double client_cpu_s;         /* CPU time of this process (all threads) in the window */
    bool exhausted;              /* a submitter sent all its transfers before the end */
    double *lat_ms;              /* inclusion latencies, nlat; owned by the load (the
                                  * caller may reorder them, e.g. baseline_percentile) */
    size_t nlat;
    txload_code_t codes[TXLOAD_CODES]; /* refusals by code, ncodes used */
    int ncodes;
    int poll_errors;             /* failed reads of the ledger */
} txload_result_t;

typedef struct txload txload_t;

/* Sign transfer (to, amount) from kp at nonce with terms into buf[cap],
 * its length in *len. Return 0 or a negative errno. */
int txload_sign_transfer(const txload_terms_t *terms, const keys_pair_t *kp, uint64_t nonce,
                         const uint8_t to[32], uint64_t amount, uint8_t *buf, size_t cap,
                         size_t *len);

/* Transfers to sign per sender so that a window of seconds cannot run out
 * at the node's best rate: the node checks every signature once, so it
 * commits at most ncores x verify_per_s (the 1-core Ed25519 rate) a
 * second, and a sender at most 64 nonces a block, one block every
 * block_interval_ms. Plus ahead (what is in flight at the end). */
size_t txload_per_sender(double seconds, int nsenders, double verify_per_s,
                         int block_interval_ms, int ahead);

/* Accounts in the delta ledger at path (rows of its accounts table), or
 * -1 when it cannot be read. */
int64_t txload_accounts(const char *ledger);

/* Check cfg and sign the whole load (cfg is copied, keys and nonce are
 * read now only). Return 0 and the load in *out (the caller frees it with
 * txload_free), or a negative errno with a message in err. */
int txload_new(txload_t **out, const txload_cfg_t *cfg, char err[TXLOAD_ERR_MAX]);
/* Free l (NULL-safe). */
void txload_free(txload_t *l);

/* Submit the load for seconds (less if a submitter runs out), then wait
 * up to drain_s for what was accepted to commit, and write *out (its
 * latencies stay owned by l). Once per load. Return 0, or a negative
 * errno with a message in err (threads not started, ledger unreadable). */
int txload_run(txload_t *l, double seconds, double drain_s, txload_result_t *out,
               char err[TXLOAD_ERR_MAX]);

#endif
