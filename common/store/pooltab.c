/* The mempool's copy in the ledger; see pooltab.h. */
#include "common/store/pooltab.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const char POOLTAB_SQL_V1[] =
    "CREATE TABLE mempool (\n"
    "  seq INTEGER PRIMARY KEY,            -- admission order: new rows go at the end\n"
    "  id TEXT NOT NULL,                   -- lowercase hex transaction id (not indexed)\n"
    "  added_ms INTEGER NOT NULL,          -- wall clock at admission, ms since 1970\n"
    "  tx BLOB NOT NULL                    -- the encoded transaction\n"
    ");\n"
    "CREATE TABLE tx_dropped (\n"
    "  seq INTEGER PRIMARY KEY,            -- order of the drops; the oldest are forgotten\n"
    "  id TEXT NOT NULL UNIQUE,            -- lowercase hex transaction id\n"
    "  height INTEGER NOT NULL,            -- the block that refused it (or the tip at a reload)\n"
    "  code TEXT NOT NULL,                 -- the reason code, e.g. overspend, expired\n"
    "  message TEXT NOT NULL\n"
    ");\n";

static const char SQL_PRESENT[] =
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'mempool'";
static const char SQL_PUT[] = "INSERT INTO mempool (seq, id, added_ms, tx) VALUES (?, ?, ?, ?)";
static const char SQL_LAST_SEQ[] = "SELECT coalesce(max(seq), 0) FROM mempool";
static const char SQL_REMOVE[] = "DELETE FROM mempool WHERE seq = ?";
static const char SQL_DROP[] =
    "INSERT OR REPLACE INTO tx_dropped (id, height, code, message) VALUES (?, ?, ?, ?)";
static const char SQL_FORGET[] =
    "DELETE FROM tx_dropped WHERE seq <= (SELECT max(seq) FROM tx_dropped) - ?";
static const char SQL_ALL[] = "SELECT tx, added_ms, seq FROM mempool ORDER BY seq";
/* A scan: the pending rows are bounded by the mempool's limits, and an
 * index on id would cost a random page write per admission. */
static const char SQL_PENDING[] = "SELECT added_ms FROM mempool WHERE id = ?";
static const char SQL_DROPPED[] = "SELECT height, code, message FROM tx_dropped WHERE id = ?";

int pooltab_present(sql_t *q)
{
    return sql_exists(q, SQL_PRESENT, NULL);
}

int pooltab_put(sql_t *q, uint64_t seq, const uint8_t id[32], uint64_t added_ms,
                const uint8_t *bytes, size_t len)
{
    return sql_exec(q, SQL_PUT, "ukub", seq, id, added_ms, bytes, len);
}

int pooltab_last_seq(sql_t *q, uint64_t *seq)
{
    return sql_u64(q, seq, SQL_LAST_SEQ, NULL);
}

int pooltab_remove(sql_t *q, uint64_t seq)
{
    return sql_exec(q, SQL_REMOVE, "u", seq);
}

int pooltab_drop(sql_t *q, uint64_t seq, const uint8_t id[32], uint64_t height, const char *code,
                 const char *message)
{
    int rc = sql_exec(q, SQL_REMOVE, "u", seq);
    if (rc == 0)
        rc = sql_exec(q, SQL_DROP, "kutt", id, height, code, message);
    if (rc == 0)
        rc = sql_exec(q, SQL_FORGET, "u", (uint64_t)POOLTAB_DROPPED_KEPT);
    return rc;
}

int pooltab_foreach(sql_t *q, int (*fn)(void *ctx, uint64_t seq, const uint8_t *bytes,
                                        size_t len, uint64_t added_ms), void *ctx)
{
    sqlite3_stmt *st = NULL;
    int rc = sql_prepare(q, SQL_ALL, &st), row = rc;

    while (rc == 0 && (row = sql_step(q, st)) == 1) {
        sqlite3_int64 added = sqlite3_column_int64(st, 1), seq = sqlite3_column_int64(st, 2);
        rc = fn(ctx, seq > 0 ? (uint64_t)seq : 0, sqlite3_column_blob(st, 0),
                (size_t)sqlite3_column_bytes(st, 0), added > 0 ? (uint64_t)added : 0);
    }
    sql_release(q, st);
    return row < 0 ? row : rc;
}

/* Copy text column i of st into out[cap] ("" for NULL), cut to fit. */
static void column_text(sqlite3_stmt *st, int i, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(out, cap, "%s", t ? (const char *)t : "");
}

int pooltab_status(sql_t *q, const uint8_t id[32], pooltab_status_t *out)
{
    sqlite3_stmt *st = NULL;
    pooltab_status_t s = {.state = POOLTAB_UNKNOWN};
    int rc = sql_query(q, &st, SQL_PENDING, "k", id);

    if (rc == 0 && (rc = sql_step(q, st)) == 1) {
        s.state = POOLTAB_PENDING;
        s.added_ms = (uint64_t)sqlite3_column_int64(st, 0);
    }
    sql_release(q, st);
    st = NULL;
    if (rc == 0 && (rc = sql_query(q, &st, SQL_DROPPED, "k", id)) == 0 &&
        (rc = sql_step(q, st)) == 1) {
        s.state = POOLTAB_DROPPED;
        s.height = (uint64_t)sqlite3_column_int64(st, 0);
        column_text(st, 1, s.code, sizeof s.code);
        column_text(st, 2, s.message, sizeof s.message);
    }
    sql_release(q, st);
    if (rc < 0)
        return rc;
    *out = s;
    return 0;
}
