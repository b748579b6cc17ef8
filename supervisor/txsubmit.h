/* What the verbs that talk to one chain's HTTP API share (adnet tx,
 * query, gov): reading a JSON answer, reporting a failure the same way
 * for every verb, signing and submitting a transaction (POST /txs),
 * waiting until it is committed (GET /txs/{id}), printing an answer, and
 * loading a key of the home.
 *
 * Functions that can fail the command return -1 to go on, or the exit
 * code to end with (common/base/exitcode.h), the reason already printed
 * on stderr as "adnet VERB: ...": 100 for a refusal by the node (4xx but
 * 429) or a usage mistake, 111 for an unreachable node, a 5xx, or a
 * commit that did not come in time. */
#ifndef ADNET_TXSUBMIT_H
#define ADNET_TXSUBMIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/base/keys.h"
#include "proto/tx.h"
#include "supervisor/httpc.h"

#define TXSUB_ID_HEX (2 * TX_ID_LEN + 1)

/* One verb's client of one chain's API. */
typedef struct {
    const char *verb;        /* "tx", "gov attest": messages read "adnet VERB: ..." */
    httpc_t *http;           /* the chain's API; owned by the caller */
    bool json;               /* on a failure, print the node's error document on stdout too */
    bool refusal_names_verb; /* a refused submission reads "adnet VERB: refused (...)";
                                false: "adnet: refused (...)" (adnet tx, docs/cli.md) */
    uint64_t timeout_s;      /* how long txsub_wait waits; 0: 60 s */
} txsub_t;

/* Report an answer that is not the expected success: for a submission
 * "refused (CODE): MESSAGE", else "CODE: MESSAGE (HTTP n)". Return the
 * exit code (100 for a 4xx but 429, else 111). */
int txsub_failure(const txsub_t *s, const httpc_response_t *res, bool submission);
/* Report the transport failure r of an httpc call; return 111. */
int txsub_unreachable(const txsub_t *s, int r);

/* GET path expecting 200 with a JSON body, *out (a new reference the
 * caller owns) on success. Return -1, or the exit code. */
int txsub_get(txsub_t *s, const char *path, json_t **out);
/* The same for an answer of any status: return -1 with *status and *out
 * (NULL when the body is not JSON) for any HTTP answer, or the exit code
 * when there is none. */
int txsub_get_any(txsub_t *s, const char *path, long *status, json_t **out);

/* The chain's id and tip height from GET /status. Return -1, or the exit code. */
int txsub_tip(txsub_t *s, char chain_id[BLOCK_CHAIN_ID_MAX + 1], uint64_t *height);

/* Sign tx with sk and POST it to /txs, expecting 202; its id (hex) in
 * idhex. Return -1, or the exit code (a refusal printed with the node's
 * code and message). */
int txsub_post(txsub_t *s, const tx_t *tx, const uint8_t sk[64], char idhex[TXSUB_ID_HEX]);
/* Poll GET /txs/{idhex} until it is committed: -1 and *height; or the
 * exit code once the node dropped it, its expiry height passed, or
 * s->timeout_s ran out. */
int txsub_wait(txsub_t *s, const char *idhex, uint64_t expiry, uint64_t *height);

/* o's member key as a u64 (a JSON integer >= 0): 0 and *out, or -EINVAL. */
int txsub_json_u64(const json_t *o, const char *key, uint64_t *out);
/* Print j indented on stdout; return 0 or 111 (stdout failed). */
int txsub_print_json(const json_t *j);
/* People's view of a JSON object: "key: value" lines, nested by indent. */
void txsub_print_human(const json_t *o, int indent);

/* Load key name of home (home/keys/NAME.json) into *kp (wipe it with
 * keys_wipe). Return -1, or 100 with "adnet VERB: key ...: why". */
int txsub_load_key(const char *verb, const char *home, const char *name, keys_pair_t *kp);

#endif
