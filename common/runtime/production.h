/* Whether a worker produces blocks, and if not, why: producing, delayed
 * (another process holds the ledger's write lock; the block is retried on
 * the next tick), or halted (the disk is full or the commit record cannot
 * be written: retried until it works; the ledger's files changed under
 * the node, or a block would sign a height twice: halted until a
 * restart). The loop thread moves it; the API threads read it (node_state_t,
 * thread-safe). Each change is logged once, a lasting one again once a
 * minute, and kept in metrics:
 *
 *   adnet_block_production_halted{cause="disk_full"}  1 while halted by that cause
 *   adnet_block_production_delayed_seconds            how long the next block has waited
 *   adnet_block_retries_total{cause="ledger_busy"}    blocks tried again, by cause
 *
 * docs/ledger.md and docs/operations.md describe the states. */
#ifndef ADNET_PRODUCTION_H
#define ADNET_PRODUCTION_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/base/metrics.h"
#include "common/node/api/node.h"

typedef enum {
    PROD_OK = 0,
    PROD_LEDGER_BUSY,     /* delayed: another process holds the write lock */
    PROD_DISK_FULL,       /* halted; retried */
    PROD_RECORD_FAILED,   /* halted: the commit record cannot be written; retried */
    PROD_LEDGER_CHANGED,  /* halted for good: a ledger file was deleted, replaced or made
                           * unreadable under the node */
    PROD_SIGN_REFUSED,    /* halted for good: a block would sign a height twice */
    PROD_NCAUSES
} prod_cause_t;

/* How soon a block is tried again after each retried cause. */
#define PROD_BUSY_RETRY_MS 100
#define PROD_HALT_RETRY_MS 1000
#define PROD_LOG_EVERY_MS 60000 /* a lasting state is logged again this often */

typedef struct {
    pthread_mutex_t mu;        /* guards pub (the API threads read it) */
    node_state_t pub;
    prod_cause_t cause;
    uint64_t since_us;         /* monotonic start of the current cause */
    uint64_t logged_us;        /* when it was last logged */
    uint64_t retries;          /* blocks tried again under it */
    metrics_t *metrics;        /* not owned; may be NULL */
} production_t;

/* Start producing, reporting to metrics (may be NULL). */
void production_init(production_t *p, metrics_t *metrics);
void production_destroy(production_t *p);

/* The block at height could not be made for cause (not PROD_OK), for
 * reason. Log it the first time, and once every PROD_LOG_EVERY_MS while
 * it lasts; count a retry. Return the delay in seconds until the next try,
 * or a negative number if the cause is never retried. */
double production_trouble(production_t *p, prod_cause_t cause, uint64_t height,
                          const char *reason);

/* A block was committed (and its record written): leave any trouble, and
 * log how long it lasted. */
void production_resume(production_t *p, uint64_t height);

/* True if blocks are not being produced (halted, for any cause but a busy
 * ledger). */
bool production_is_halted(production_t *p);
/* True if halted for good (only a restart helps). */
bool production_is_final(production_t *p);
/* Copy the state as the API shows it. Thread-safe. */
void production_get(production_t *p, node_state_t *out);

#endif
