#include "delta-worker/delta_chain.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/hex.h"
#include "common/statehash.h"

static const char delta_sql_v2[] =
    "CREATE TABLE accounts ("
    "  address TEXT PRIMARY KEY,"         /* hex public key */
    "  nonce INTEGER NOT NULL DEFAULT 0"  /* transactions sent so far */
    ");"
    "CREATE TABLE balances ("
    "  address TEXT NOT NULL REFERENCES accounts(address),"
    "  asset TEXT NOT NULL,"
    "  amount INTEGER NOT NULL CHECK (amount >= 0),"
    "  PRIMARY KEY (address, asset)"
    ");";

static const ledger_migration_t delta_migrations[] = {
    { 1, LEDGER_SQL_BASE_V1 },
    { 2, delta_sql_v2 },
};

static const ledger_schema_t delta_schema = { delta_migrations, 2 };

static int delta_genesis_init(sqlite3 *db, const genesis_t *g, char *err, size_t errlen)
{
    sqlite3_stmt *acct = NULL, *bal = NULL;
    int r = 0;
    if (sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO accounts(address, nonce) VALUES (?, 0)",
                           -1, &acct, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO balances(address, asset, amount) VALUES (?, ?, ?) "
                           "ON CONFLICT(address, asset) DO UPDATE SET amount = amount + "
                           "excluded.amount",
                           -1, &bal, NULL) != SQLITE_OK)
        goto sqlerr;
    for (size_t i = 0; i < g->n_balances; i++) {
        const genesis_balance_t *b = &g->balances[i];
        char addr[65];
        if (b->amount > INT64_MAX) {
            snprintf(err, errlen, "genesis balance %zu: amount exceeds 2^63-1", i);
            r = -EINVAL;
            goto out;
        }
        hex_encode(addr, b->owner, 32);
        sqlite3_bind_text(acct, 1, addr, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(acct) != SQLITE_DONE)
            goto sqlerr;
        sqlite3_reset(acct);
        sqlite3_bind_text(bal, 1, addr, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(bal, 2, b->asset, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(bal, 3, (sqlite3_int64)b->amount);
        if (sqlite3_step(bal) != SQLITE_DONE)
            goto sqlerr;
        sqlite3_reset(bal);
    }
    goto out;
sqlerr:
    snprintf(err, errlen, "writing genesis accounts: %s", sqlite3_errmsg(db));
    r = -EIO;
out:
    sqlite3_finalize(acct);
    sqlite3_finalize(bal);
    return r;
}

static int delta_state_root(sqlite3 *db, uint8_t out[32])
{
    static const char *const q[] = {
        "SELECT address, nonce FROM accounts ORDER BY address",
        "SELECT address, asset, amount FROM balances WHERE amount > 0 ORDER BY address, asset",
    };
    return statehash_queries(db, "adnet/delta/state/v1", q, 2, out);
}

const chain_ops_t delta_chain_ops = {
    .name = "delta",
    .schema = &delta_schema,
    .genesis_init = delta_genesis_init,
    .state_root = delta_state_root,
};
