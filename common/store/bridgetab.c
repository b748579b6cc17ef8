/* Bridge transfers arriving from the other chain; see bridgetab.h. */
#include "common/store/bridgetab.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/base/clock.h"

const char BRIDGETAB_SQL_V1[] =
    "CREATE TABLE bridge_in (\n"
    "  seq INTEGER PRIMARY KEY,            -- arrival order\n"
    "  id TEXT NOT NULL UNIQUE,            -- the burning transaction on the source chain, hex\n"
    "  chain TEXT NOT NULL,                -- the source chain's name\n"
    "  height INTEGER NOT NULL,            -- the source block that burnt it\n"
    "  asset TEXT NOT NULL,\n"
    "  amount INTEGER NOT NULL CHECK (amount > 0),\n"
    "  recipient TEXT NOT NULL,            -- hex public key credited here\n"
    "  signers INTEGER NOT NULL,           -- signatures in its attestation\n"
    "  attested_at TEXT NOT NULL,          -- when this worker verified the attestation\n"
    "  minted_height INTEGER,              -- the block here that credited it; NULL: pending\n"
    "  refused_height INTEGER,             -- or the block that could not (then code, message)\n"
    "  code TEXT,\n"
    "  message TEXT\n"
    ");\n"
    "CREATE INDEX bridge_in_pending ON bridge_in(seq)\n"
    "  WHERE minted_height IS NULL AND refused_height IS NULL;\n"
    "CREATE TABLE bridge_in_totals (\n"
    "  asset TEXT PRIMARY KEY,\n"
    "  minted INTEGER NOT NULL DEFAULT 0 CHECK (minted >= 0),\n"
    "  pending INTEGER NOT NULL DEFAULT 0 CHECK (pending >= 0)\n"
    ");\n";

static const char SQL_PRESENT[] =
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'bridge_in'";
static const char SQL_KNOWN[] = "SELECT 1 FROM bridge_in WHERE id = ?";
static const char SQL_PUT[] =
    "INSERT INTO bridge_in (id, chain, height, asset, amount, recipient, signers, attested_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_TOTAL_ADD[] =
    "INSERT INTO bridge_in_totals (asset, pending) VALUES (?, ?)"
    " ON CONFLICT (asset) DO UPDATE SET pending = pending + excluded.pending";
static const char SQL_PENDING[] =
    "SELECT seq, id, asset, amount, recipient FROM bridge_in"
    " WHERE minted_height IS NULL AND refused_height IS NULL ORDER BY seq LIMIT ?";
static const char SQL_ONE[] =
    "SELECT asset, amount FROM bridge_in"
    " WHERE seq = ? AND minted_height IS NULL AND refused_height IS NULL";
static const char SQL_MINTED[] = "UPDATE bridge_in SET minted_height = ? WHERE seq = ?";
static const char SQL_REFUSED[] =
    "UPDATE bridge_in SET refused_height = ?, code = ?, message = ? WHERE seq = ?";
static const char SQL_TOTAL_MINT[] =
    "UPDATE bridge_in_totals SET minted = minted + ?, pending = pending - ? WHERE asset = ?";
static const char SQL_TOTAL_DROP[] =
    "UPDATE bridge_in_totals SET pending = pending - ? WHERE asset = ?";
static const char SQL_TOTALS[] =
    "SELECT asset, minted, pending FROM bridge_in_totals ORDER BY asset";

int bridgetab_present(sql_t *q)
{
    return sql_exists(q, SQL_PRESENT, NULL);
}

int bridgetab_put(sql_t *q, const char *chain, uint64_t height, const bridge_transfer_t *t,
                  uint32_t n_signers, uint64_t now_ms)
{
    char at[CLOCK_ISO8601_MAX];
    int rc = sql_exists(q, SQL_KNOWN, "k", t->id);
    if (rc != 0)
        return rc > 0 ? -EEXIST : rc;
    clock_iso8601(at, now_ms);
    rc = sql_exec(q, SQL_PUT, "ktutukut", t->id, chain, height, t->asset, t->amount, t->recipient,
                  (uint64_t)n_signers, at);
    if (rc == 0)
        rc = sql_exec(q, SQL_TOTAL_ADD, "tu", t->asset, t->amount);
    return rc;
}

int bridgetab_pending(sql_t *q, size_t max,
                      int (*fn)(void *ctx, uint64_t seq, const bridge_transfer_t *t), void *ctx)
{
    sqlite3_stmt *st = NULL;
    int rc = sql_query(q, &st, SQL_PENDING, "u", (uint64_t)max), row = rc;
    while (rc == 0 && (row = sql_step(q, st)) == 1) {
        bridge_transfer_t t;
        const unsigned char *asset = sqlite3_column_text(st, 2);
        sqlite3_int64 seq = sqlite3_column_int64(st, 0), amount = sqlite3_column_int64(st, 3);
        memset(&t, 0, sizeof(t));
        if (seq <= 0 || amount <= 0 || !asset || strlen((const char *)asset) > GENESIS_ASSET_MAX ||
            sql_column_hex(st, 1, t.id, sizeof(t.id)) < 0 ||
            sql_column_hex(st, 4, t.recipient, sizeof(t.recipient)) < 0) {
            rc = sql_fail(q, "bridge_in: a damaged row", SQLITE_CORRUPT);
            break;
        }
        snprintf(t.asset, sizeof(t.asset), "%s", (const char *)asset);
        t.amount = (uint64_t)amount;
        rc = fn(ctx, (uint64_t)seq, &t);
    }
    sql_release(q, st);
    return rc != 0 ? rc : (row < 0 ? row : 0);
}

/* The asset and amount of pending transfer seq. */
static int pending_one(sql_t *q, uint64_t seq, char asset[GENESIS_ASSET_MAX + 1],
                       uint64_t *amount)
{
    sqlite3_stmt *st = NULL;
    int rc = sql_query(q, &st, SQL_ONE, "u", seq), row;
    if (rc < 0)
        return rc;
    row = sql_step(q, st);
    if (row == 1) {
        const unsigned char *a = sqlite3_column_text(st, 0);
        snprintf(asset, GENESIS_ASSET_MAX + 1, "%s", a ? (const char *)a : "");
        *amount = (uint64_t)sqlite3_column_int64(st, 1);
    }
    sql_release(q, st);
    return row == 1 ? 0 : row == 0 ? -ENOENT : row;
}

int bridgetab_minted(sql_t *q, uint64_t seq, uint64_t height)
{
    char asset[GENESIS_ASSET_MAX + 1];
    uint64_t amount = 0;
    int rc = pending_one(q, seq, asset, &amount);
    if (rc == 0)
        rc = sql_exec(q, SQL_MINTED, "uu", height, seq);
    if (rc == 0)
        rc = sql_exec(q, SQL_TOTAL_MINT, "uut", amount, amount, asset);
    return rc;
}

int bridgetab_refused(sql_t *q, uint64_t seq, uint64_t height, const char *code,
                      const char *message)
{
    char asset[GENESIS_ASSET_MAX + 1];
    uint64_t amount = 0;
    int rc = pending_one(q, seq, asset, &amount);
    if (rc == 0)
        rc = sql_exec(q, SQL_REFUSED, "uttu", height, code, message, seq);
    if (rc == 0)
        rc = sql_exec(q, SQL_TOTAL_DROP, "ut", amount, asset);
    return rc;
}

int bridgetab_totals(sql_t *q, int (*fn)(void *ctx, const char *asset, uint64_t minted,
                                         uint64_t pending), void *ctx)
{
    sqlite3_stmt *st = NULL;
    int rc = sql_query(q, &st, SQL_TOTALS, NULL), row = rc;
    while (rc == 0 && (row = sql_step(q, st)) == 1) {
        const unsigned char *a = sqlite3_column_text(st, 0);
        sqlite3_int64 m = sqlite3_column_int64(st, 1), p = sqlite3_column_int64(st, 2);
        rc = fn(ctx, a ? (const char *)a : "", m > 0 ? (uint64_t)m : 0, p > 0 ? (uint64_t)p : 0);
    }
    sql_release(q, st);
    return rc != 0 ? rc : (row < 0 ? row : 0);
}
