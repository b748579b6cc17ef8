/* The peer chain's verified headers in the ledger; see peertab.h. */
#include "common/store/peertab.h"

#include <errno.h>
#include <string.h>

#include "common/base/clock.h"

const char PEERTAB_SQL_V1[] =
    "CREATE TABLE peer_headers (\n"
    "  chain TEXT NOT NULL,                -- the peer chain's name\n"
    "  height INTEGER NOT NULL,\n"
    "  hash TEXT NOT NULL,                 -- lowercase hex block hash\n"
    "  prev_hash TEXT NOT NULL,            -- lowercase hex\n"
    "  state_root TEXT NOT NULL,           -- lowercase hex: what state replies prove against\n"
    "  time TEXT NOT NULL,                 -- the block's time, ISO-8601 UTC\n"
    "  time_ms INTEGER NOT NULL,\n"
    "  chain_id TEXT NOT NULL,\n"
    "  signers INTEGER NOT NULL,           -- signatures in its certificate\n"
    "  verified_at TEXT NOT NULL,          -- when this worker verified it, ISO-8601 UTC\n"
    "  header BLOB NOT NULL,               -- canonical header encoding\n"
    "  cert BLOB NOT NULL,                 -- canonical commit certificate\n"
    "  PRIMARY KEY (chain, height)\n"
    ") WITHOUT ROWID;\n"
    "ALTER TABLE blocks ADD COLUMN peer_height INTEGER; -- the peer header this block names\n"
    "ALTER TABLE blocks ADD COLUMN peer_hash TEXT;      -- (lowercase hex), NULL for none\n";

static const char SQL_PRESENT[] =
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'peer_headers'";
static const char SQL_PUT[] =
    "INSERT INTO peer_headers (chain, height, hash, prev_hash, state_root, time, time_ms,"
    " chain_id, signers, verified_at, header, cert) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_TIP[] =
    "SELECT height, hash, time_ms FROM peer_headers WHERE chain = ? ORDER BY height DESC LIMIT 1";
static const char SQL_GET[] =
    "SELECT hash, state_root FROM peer_headers WHERE chain = ? AND height = ?";

int peertab_present(sql_t *q)
{
    return sql_exists(q, SQL_PRESENT, NULL);
}

int peertab_put(sql_t *q, const char *chain, const block_header_t *h,
                const uint8_t hash[BLOCK_HASH_LEN], const uint8_t *header, size_t header_len,
                const uint8_t *cert, size_t cert_len, uint32_t n_signers, uint64_t verified_ms)
{
    char when[CLOCK_ISO8601_MAX], at[CLOCK_ISO8601_MAX];
    clock_iso8601(when, h->time_ms);
    clock_iso8601(at, verified_ms);
    int rc = sql_exists(q, "SELECT 1 FROM peer_headers WHERE chain = ? AND height = ?", "tu",
                        chain, h->height);
    if (rc != 0)
        return rc > 0 ? -EEXIST : rc;
    return sql_exec(q, SQL_PUT, "tukkktututbb", chain, h->height, hash, h->prev_hash,
                    h->state_root, when, h->time_ms, h->chain_id, (uint64_t)n_signers, at,
                    header, header_len, cert, cert_len);
}

int peertab_tip(sql_t *q, const char *chain, uint64_t *height, uint8_t hash[BLOCK_HASH_LEN],
                uint64_t *time_ms)
{
    sqlite3_stmt *st = NULL;
    int rc = sql_query(q, &st, SQL_TIP, "t", chain), row;

    *height = 0;
    *time_ms = 0;
    memset(hash, 0, BLOCK_HASH_LEN);
    if (rc < 0)
        return rc;
    if ((row = sql_step(q, st)) == 1) {
        sqlite3_int64 hgt = sqlite3_column_int64(st, 0), t = sqlite3_column_int64(st, 2);
        if (hgt <= 0 || t < 0 || sql_column_hex(st, 1, hash, BLOCK_HASH_LEN) < 0)
            row = sql_fail(q, "peer_headers: a damaged row", SQLITE_CORRUPT);
        else {
            *height = (uint64_t)hgt;
            *time_ms = (uint64_t)t;
        }
    }
    sql_release(q, st);
    return row < 0 ? row : 0;
}

int peertab_get(sql_t *q, const char *chain, uint64_t height, uint8_t hash[BLOCK_HASH_LEN],
                uint8_t state_root[BLOCK_HASH_LEN])
{
    sqlite3_stmt *st = NULL;
    int rc = sql_query(q, &st, SQL_GET, "tu", chain, height), row;

    if (rc < 0)
        return rc;
    row = sql_step(q, st);
    if (row == 0)
        row = -ENOENT;
    else if (row == 1 && (sql_column_hex(st, 0, hash, BLOCK_HASH_LEN) < 0 ||
                          sql_column_hex(st, 1, state_root, BLOCK_HASH_LEN) < 0))
        row = sql_fail(q, "peer_headers: a damaged row", SQLITE_CORRUPT);
    sql_release(q, st);
    return row < 0 ? row : 0;
}
