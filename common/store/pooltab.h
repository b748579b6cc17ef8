/* The mempool's copy in the ledger, so that a transaction answered 202
 * survives a crash of its worker, and what became of transactions that
 * never made it into a block. Two tables (POOLTAB_SQL_V1, a migration a
 * chain appends to its schema; docs/ledger.md describes them):
 *   mempool     one row per admitted transaction still waiting (its bytes),
 *               keyed by its admission number (the mempool entry's tag),
 *   tx_dropped  the newest POOLTAB_DROPPED_KEPT transactions refused after
 *               admission (at a block, or when reloaded at start), with
 *               the reason.
 * Functions take the ledger's sql_t (the writer's, or a reader's for
 * pooltab_status) and return 0 or a negative errno with the message on
 * it. The writes run inside the caller's transaction. */
#ifndef ADNET_POOLTAB_H
#define ADNET_POOLTAB_H

#include <stddef.h>
#include <stdint.h>

#include "common/store/sql.h"

#define POOLTAB_DROPPED_KEPT 100000 /* tx_dropped rows kept, newest first */
#define POOLTAB_REASON_MAX 256      /* bytes of a stored message, with its NUL */

extern const char POOLTAB_SQL_V1[];

/* Whether q's ledger has the tables: 1, 0, or a negative code. */
int pooltab_present(sql_t *q);

/* Record a pending transaction as number seq of the admission order
 * (its row's key: the caller numbers them, pooltab_last_seq once at
 * start, then one up for each put, so that new rows go at the end of the
 * table). */
int pooltab_put(sql_t *q, uint64_t seq, const uint8_t id[32], uint64_t added_ms,
                const uint8_t *bytes, size_t len);
/* The highest seq in the table (0 when empty). */
int pooltab_last_seq(sql_t *q, uint64_t *seq);
/* Forget pending transaction seq (committed; a missing one is a no-op). */
int pooltab_remove(sql_t *q, uint64_t seq);
/* Move a pending transaction to tx_dropped with code and message, at
 * height (the block that refused it, or the tip at a reload), and forget
 * the oldest dropped rows beyond POOLTAB_DROPPED_KEPT. */
int pooltab_drop(sql_t *q, uint64_t seq, const uint8_t id[32], uint64_t height, const char *code,
                 const char *message);

/* Call fn(ctx, seq, bytes, len, added_ms) for every pending transaction
 * in the order it was admitted; fn returns 0 to go on, anything else
 * stops the walk and is returned. fn may not write the tables. */
int pooltab_foreach(sql_t *q, int (*fn)(void *ctx, uint64_t seq, const uint8_t *bytes,
                                        size_t len, uint64_t added_ms), void *ctx);

typedef enum { POOLTAB_UNKNOWN = 0, POOLTAB_PENDING, POOLTAB_DROPPED } pooltab_state_t;

typedef struct {
    pooltab_state_t state;
    uint64_t added_ms;                  /* pending: when admitted */
    uint64_t height;                    /* dropped: at which height */
    char code[64];                      /* dropped: the reason code */
    char message[POOLTAB_REASON_MAX];   /* dropped: the reason */
} pooltab_status_t;

/* What the tables say of id: pending, dropped or unknown (0 with
 * state POOLTAB_UNKNOWN when neither has it). */
int pooltab_status(sql_t *q, const uint8_t id[32], pooltab_status_t *out);

#endif
