/* Bridge transfers arriving from the other chain on the node: each one
 * burnt on its source chain, attested by that chain's validators
 * ("bridge-out X is final at height h"), and credited here exactly once,
 * in the transaction of one block. Table bridge_in (BRIDGETAB_SQL_V1, a
 * migration a chain appends; docs/ledger.md): one row per transfer, keyed
 * by the source transaction's id (UNIQUE: a second attestation of a
 * transfer is refused, also after restarts and replays), pending until a
 * block mints it; and bridge_in_totals, per asset, what was minted and what
 * waits, so /supply reads one row per asset. Functions take the ledger's
 * sql_t and run in the caller's transaction; 0 or a negative errno with
 * the message on it. */
#ifndef ADNET_BRIDGETAB_H
#define ADNET_BRIDGETAB_H

#include <stddef.h>
#include <stdint.h>

#include "common/store/genesis.h"
#include "common/store/sql.h"

/* One transfer between the node's chains. */
typedef struct {
    uint8_t id[32];                     /* the burning transaction's id on the source chain */
    char asset[GENESIS_ASSET_MAX + 1];
    uint64_t amount;                    /* 1 .. 2^63-1 */
    uint8_t recipient[32];              /* its owner's public key on the destination chain */
} bridge_transfer_t;

extern const char BRIDGETAB_SQL_V1[];

/* Whether q's ledger has the tables: 1, 0, or a negative code. */
int bridgetab_present(sql_t *q);

/* Record an attested transfer from chain (its source), burnt at height,
 * with n_signers signatures, at now_ms: pending. -EEXIST if that transfer
 * is known already (pending, minted or refused): nothing changes. */
int bridgetab_put(sql_t *q, const char *chain, uint64_t height, const bridge_transfer_t *t,
                  uint32_t n_signers, uint64_t now_ms);

/* Call fn(ctx, seq, t) for at most max pending transfers, oldest first;
 * fn returns 0 to go on. fn may write the tables (bridgetab_minted ...). */
int bridgetab_pending(sql_t *q, size_t max,
                      int (*fn)(void *ctx, uint64_t seq, const bridge_transfer_t *t), void *ctx);

/* Pending transfer seq was minted in the block at height / was refused
 * there (code, message): it leaves the pending set for good. */
int bridgetab_minted(sql_t *q, uint64_t seq, uint64_t height);
int bridgetab_refused(sql_t *q, uint64_t seq, uint64_t height, const char *code,
                      const char *message);

/* Per asset, the amounts minted here and still pending: fn(ctx, asset,
 * minted, pending) for each asset with a row (one row per asset, O(assets)). */
int bridgetab_totals(sql_t *q, int (*fn)(void *ctx, const char *asset, uint64_t minted,
                                         uint64_t pending), void *ctx);

#endif
