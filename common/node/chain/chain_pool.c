/* The mempool's copy in the ledger, as the chain keeps it; see the
 * chain_pool_* functions in chain.h and common/store/pooltab.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/node/chain/chain.h"
#include "common/node/mempool/mempool.h"
#include "common/store/pooltab.h"

/* Run the writes of one save or one reload in a transaction of their own,
 * synced like an admission (NORMAL: written, not fsynced). */
static int pool_txn_begin(sql_t *q)
{
    int r = sql_exec(q, "PRAGMA synchronous = NORMAL", NULL);
    if (r == 0 && (r = sql_exec(q, "BEGIN IMMEDIATE", NULL)) < 0)
        sql_exec_quiet(q, "PRAGMA synchronous = FULL");
    return r;
}

static int pool_txn_end(sql_t *q, int r)
{
    if (r == 0)
        r = sql_exec(q, "COMMIT", NULL);
    if (r < 0 && !sqlite3_get_autocommit(q->db))
        sql_exec_quiet(q, "ROLLBACK");
    if (r < 0) { /* blocks sync in full again; the failure's message stays */
        sql_exec_quiet(q, "PRAGMA synchronous = FULL");
        return r;
    }
    return sql_exec(q, "PRAGMA synchronous = FULL", NULL);
}

int chain_pool_save(chain_t *c, mempool_t *pool, size_t n, const uint8_t *const *ids,
                    const uint8_t *const *bytes, const size_t *lens, uint64_t now_ms,
                    reject_t *why)
{
    sql_t *q = ledger_sql(chain_ledger(c));
    int r;

    if (!chain_pool_kept(c) || n == 0)
        return 0;
    uint64_t seq = chain_pool_take_seq(c, n);
    if ((r = pool_txn_begin(q)) == 0) {
        for (size_t i = 0; r == 0 && i < n; i++)
            r = pooltab_put(q, seq + i, ids[i], now_ms, bytes[i], lens[i]);
        r = pool_txn_end(q, r);
    }
    for (size_t i = 0; r == 0 && pool && i < n; i++)
        mempool_set_tag(pool, ids[i], seq + i); /* for the block that takes it */
    if (r == -EBUSY)
        return reject(why, r, "ledger_busy", "the ledger is locked by another process; try "
                      "again shortly (%s)", sql_errmsg(q));
    if (r < 0)
        return reject(why, r, "internal", "saving the mempool: %s", sql_errmsg(q));
    return 0;
}

/* ---- reload ---- */

typedef struct {
    uint64_t seq;
    uint8_t id[TX_ID_LEN];
    reject_t why;
} refused_t;

typedef struct {
    chain_t *c;
    mempool_t *pool;
    uint64_t now_ms;
    refused_t *refused;
    size_t n_refused, cap;
    size_t kept;
} reload_t;

/* Admit one saved transaction again, or note why it is refused now. */
static int reload_one(void *ctx, uint64_t seq, const uint8_t *bytes, size_t len,
                      uint64_t added_ms)
{
    reload_t *rl = ctx;
    reject_t why = {0};
    uint8_t id[TX_ID_LEN];
    tx_t tx;
    int r = chain_precheck_tx(chain_genesis(rl->c), bytes, len, &tx, id, &why);

    (void)added_ms;
    if (r == 0 &&
        (r = chain_admit_tx(rl->c, rl->pool, &tx, id, bytes, len, rl->now_ms, &why)) == 0) {
        mempool_set_tag(rl->pool, id, seq);
        rl->kept++;
        return 0;
    }
    if (r == -EBUSY || (why.code && strcmp(why.code, "internal") == 0))
        return r; /* the ledger failed, not the transaction */
    if (rl->n_refused == rl->cap) {
        size_t cap = rl->cap ? 2 * rl->cap : 64;
        refused_t *m = realloc(rl->refused, cap * sizeof *m);
        if (m == NULL)
            return -ENOMEM;
        rl->refused = m;
        rl->cap = cap;
    }
    refused_t *f = &rl->refused[rl->n_refused++];
    f->seq = seq;
    tx_id(bytes, len, f->id);
    f->why = why;
    return 0;
}

/* Move the refused ones to tx_dropped, at the tip's height. */
static int reload_drop(reload_t *rl, chain_drop_fn drop, void *drop_ctx)
{
    sql_t *q = ledger_sql(chain_ledger(rl->c));
    ledger_tip_t tip;
    int r;

    if (rl->n_refused == 0)
        return 0;
    chain_tip(rl->c, &tip);
    if ((r = pool_txn_begin(q)) == 0) {
        for (size_t i = 0; r == 0 && i < rl->n_refused; i++) {
            const refused_t *f = &rl->refused[i];
            r = pooltab_drop(q, f->seq, f->id, tip.height, f->why.code ? f->why.code : "refused",
                             f->why.message);
        }
        r = pool_txn_end(q, r);
    }
    for (size_t i = 0; r == 0 && drop && i < rl->n_refused; i++)
        drop(drop_ctx, rl->refused[i].id, &rl->refused[i].why);
    return r;
}

int chain_pool_reload(chain_t *c, mempool_t *pool, uint64_t now_ms, chain_drop_fn drop,
                      void *drop_ctx, size_t *kept, size_t *dropped, char err[CHAIN_ERR_MAX])
{
    reload_t rl = {.c = c, .pool = pool, .now_ms = now_ms};
    sql_t *q = ledger_sql(chain_ledger(c));
    int r = 0;

    *kept = *dropped = 0;
    if (!chain_pool_kept(c))
        return 0;
    if ((r = chain_admit_begin(c)) == 0) {
        r = pooltab_foreach(q, reload_one, &rl);
        chain_admit_end(c);
    }
    if (r == 0)
        r = reload_drop(&rl, drop, drop_ctx);
    if (r < 0)
        snprintf(err, CHAIN_ERR_MAX, "reloading the mempool: %s",
                 r == -ENOMEM ? "out of memory" : sql_errmsg(q));
    *kept = rl.kept;
    *dropped = r == 0 ? rl.n_refused : 0;
    free(rl.refused);
    return r;
}
