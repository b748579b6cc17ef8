/* The benchmarks' client for submitting transactions (docs/api.md,
 * "POST /txs/batch"): a body of length-prefixed encoded transactions
 * built in place, posted on one keep-alive libcurl handle, and the answer
 * read into one result per transaction, in order. A client made "single"
 * posts its one transaction to POST /txs instead (raw, as
 * application/octet-stream) and gives the same kind of result, so that
 * both routes can be compared with the same caller. Not thread-safe: one
 * client per thread. */
#ifndef ADNET_TESTLIB_TXBATCH_H
#define ADNET_TESTLIB_TXBATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TXBATCH_MAX 1000         /* transactions a request may hold (the route's limit) */
#define TXBATCH_CODE_MAX 32
#define TXBATCH_ERR_MAX 256

/* What the node said of one transaction. */
typedef struct {
    bool pending;                /* accepted into the mempool */
    int http_status;             /* 202 when pending; else what POST /txs answers (0: no answer) */
    char code[TXBATCH_CODE_MAX]; /* the refusal's error.code ("" when pending) */
} txbatch_result_t;

typedef struct txbatch txbatch_t;

/* A client of the API at http://127.0.0.1:port with an empty batch. If
 * single, it posts to POST /txs and holds one transaction at a time.
 * NULL when out of memory. The caller frees it with txbatch_free. */
txbatch_t *txbatch_new(int port, bool single);
/* Free b (NULL-safe). */
void txbatch_free(txbatch_t *b);

/* Empty the batch (the connection stays open). */
void txbatch_clear(txbatch_t *b);
/* Append the encoded transaction tx[len] (copied). Return 0, -ENOSPC when
 * the batch is full (TXBATCH_MAX, or 1 for a single client), -EINVAL for
 * an empty or oversized transaction, -ENOMEM. */
int txbatch_add(txbatch_t *b, const uint8_t *tx, size_t len);
/* Transactions in the batch. */
size_t txbatch_count(const txbatch_t *b);
/* The request body as it would be posted (b owns it), and its length. */
const uint8_t *txbatch_body(const txbatch_t *b, size_t *len);

/* Post the batch and write res[i] for its i-th transaction, i below
 * txbatch_count(b). Return 0 when every result is the node's answer for
 * its transaction; else a negative errno, each result then carrying why
 * the request as a whole failed (message in txbatch_error): -EIO no HTTP
 * answer (http_status 0, code "transport"), -EREMOTEIO the node refused
 * the whole body (its status and code), -EPROTO an answer not in the
 * documented form (code "bad_answer"). The batch is left as it was. */
int txbatch_post(txbatch_t *b, txbatch_result_t *res);
/* Why the last txbatch_post failed ("" after a success); owned by b. */
const char *txbatch_error(const txbatch_t *b);

/* Read a POST /txs/batch answer of status 200, body[len], into res[n]
 * (n transactions sent). Return 0, or -EPROTO (message in err) when it is
 * not {"accepted","refused","results":[...]} with n results of the
 * documented form; res is then partly written. */
int txbatch_parse(const char *body, size_t len, size_t n, txbatch_result_t *res,
                  char err[TXBATCH_ERR_MAX]);

#endif
