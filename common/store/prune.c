/* Block pruning in bounded steps; see prune.h. */
#include "common/store/prune.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "proto/tx.h"

static const char SQL_MIN_BLOCK[] = "SELECT min(height) FROM blocks";
static const char SQL_GET_BELOW[] =
    "SELECT CAST(value AS INTEGER) FROM meta WHERE key = '" PRUNE_META_LOWEST "'";
static const char SQL_SET_BELOW[] =
    "INSERT INTO meta(key, value) VALUES ('" PRUNE_META_LOWEST "', CAST(?1 AS TEXT))"
    " ON CONFLICT(key) DO UPDATE SET value = excluded.value";
static const char SQL_TX_BODIES[] = "SELECT body FROM txs WHERE height = ?1";
/* Each deletes at most ?2 rows of block ?1 (the txs and commits lookups
 * use their (height, ...) indexes). */
static const char SQL_DEL_TXS[] =
    "DELETE FROM txs WHERE rowid IN (SELECT rowid FROM txs WHERE height = ?1 LIMIT ?2)";
static const char SQL_DEL_COMMITS[] =
    "DELETE FROM commits WHERE rowid IN (SELECT rowid FROM commits WHERE height = ?1 LIMIT ?2)";
static const char SQL_DEL_BLOCK[] = "DELETE FROM blocks WHERE height = ?1 AND ?2 > 0";

uint64_t prune_floor(uint64_t tip, uint64_t retain, uint64_t state_oldest)
{
    if (retain == 0 || tip <= retain)
        return 0;
    uint64_t keep = tip + 1 - retain;
    if (keep > state_oldest)
        keep = state_oldest;
    return keep > tip ? tip : keep;
}

int prune_below(sql_t *q, uint64_t *out)
{
    uint64_t v = 0;
    int rc = sql_u64(q, &v, SQL_GET_BELOW, NULL);
    if (rc < 0 && rc != -ENOENT)
        return rc;
    *out = rc == -ENOENT ? 0 : v;
    return 0;
}

int prune_lowest_height(sql_t *q, uint64_t *out)
{
    uint64_t v = 0;
    int rc = prune_below(q, &v);
    if (rc == 0 && v == 0 && (rc = sql_u64(q, &v, SQL_MIN_BLOCK, NULL)) == -ENOENT) {
        v = 0;
        rc = 0;
    }
    if (rc == 0)
        *out = v;
    return rc;
}

/* 1 if a transaction of block h could still be included at next_height
 * or later (its row is then what refuses a replay), 0 if none can, or a
 * negative code. */
static int block_replayable(sql_t *q, uint64_t h, uint64_t next_height)
{
    sqlite3_stmt *st = NULL;
    const char *what = NULL;
    tx_t tx;
    int rc = sql_query(q, &st, SQL_TX_BODIES, "u", h);
    bool more = rc == 0;

    while (more && (rc = sql_step(q, st)) == 1) {
        const uint8_t *body = sqlite3_column_blob(st, 0);
        size_t len = (size_t)sqlite3_column_bytes(st, 0);
        if (body == NULL || tx_decode(&tx, body, len, &what) != 0) {
            snprintf(q->err, sizeof q->err, "pruning block %llu: a stored transaction does "
                     "not decode (%s)", (unsigned long long)h, what ? what : "empty");
            rc = -EBADMSG;
        }
        more = rc == 1 && tx.expiry_height < next_height;
    }
    if (st != NULL)
        sql_release(q, st);
    return rc;
}

/* Delete what budget allows of block h: its txs, then its commits, then
 * its row, adding the rows deleted to *done. */
static int block_delete(sql_t *q, uint64_t h, size_t budget, size_t *done)
{
    static const char *const steps[] = { SQL_DEL_TXS, SQL_DEL_COMMITS, SQL_DEL_BLOCK };

    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        size_t left = budget - *done;
        int rc;
        if (left == 0)
            return 0;
        if ((rc = sql_exec(q, steps[i], "uu", h, (uint64_t)left)) < 0)
            return rc;
        size_t n = (size_t)sqlite3_changes(q->db);
        *done += n;
        if (n == left) /* more rows of this table may be left */
            return 0;
    }
    return 0;
}

int prune_step(sql_t *q, uint64_t keep_from, uint64_t next_height, size_t budget,
               size_t *deleted)
{
    size_t done = 0;
    uint64_t h = 0, below = 0;
    int rc = 0;

    while (done < budget) {
        if ((rc = sql_u64(q, &h, SQL_MIN_BLOCK, NULL)) < 0 || h >= keep_from ||
            (rc = prune_below(q, &below)) < 0)
            break;
        /* A block not started yet: first make sure it may go, then mark
         * it pruned, so that readers never see it half deleted. */
        if (below <= h) {
            if ((rc = block_replayable(q, h, next_height)) != 0 ||
                (rc = sql_exec(q, SQL_SET_BELOW, "u", h + 1)) < 0)
                break;
        }
        if ((rc = block_delete(q, h, budget, &done)) < 0)
            break;
    }
    if (rc == -ENOENT || rc == 1) /* no blocks; a block that must wait */
        rc = 0;
    if (rc == 0 && deleted != NULL)
        *deleted = done;
    return rc;
}
