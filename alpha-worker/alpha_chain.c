#include "alpha-worker/alpha_chain.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "common/hex.h"
#include "common/statehash.h"
#include "proto/wire.h"

static const char alpha_sql_v2[] =
    "CREATE TABLE records ("
    "  commitment TEXT PRIMARY KEY,"      /* hex BLAKE2b-256 of (owner, asset, amount, salt) */
    "  owner TEXT NOT NULL,"              /* hex public key */
    "  asset TEXT NOT NULL,"
    "  amount INTEGER NOT NULL CHECK (amount >= 0),"
    "  salt TEXT NOT NULL,"               /* hex, 32 bytes */
    "  created_height INTEGER NOT NULL,"  /* 0 for genesis records */
    "  spent_height INTEGER"              /* NULL while unspent */
    ");"
    "CREATE INDEX records_owner ON records(owner);"
    "CREATE TABLE nullifiers ("
    "  nullifier TEXT PRIMARY KEY,"       /* hex; its presence marks a record spent */
    "  height INTEGER NOT NULL"
    ");";

static const ledger_migration_t alpha_migrations[] = {
    { 1, LEDGER_SQL_BASE_V1 },
    { 2, alpha_sql_v2 },
};

static const ledger_schema_t alpha_schema = { alpha_migrations, 2 };

/* commitment = BLAKE2b-256("adnet/alpha/record/v1" || owner || str asset || u64 amount || salt) */
static void record_commitment(const uint8_t owner[32], const char *asset, uint64_t amount,
                              const uint8_t salt[32], uint8_t out[32])
{
    uint8_t buf[256];
    static const char tag[] = "adnet/alpha/record/v1";
    wire_writer_t w;
    wire_writer_init(&w, buf, sizeof(buf));
    wire_put_bytes(&w, tag, sizeof(tag) - 1);
    wire_put_bytes(&w, owner, 32);
    wire_put_str(&w, asset);
    wire_put_u64(&w, amount);
    wire_put_bytes(&w, salt, 32);
    crypto_generichash(out, 32, buf, w.len, NULL, 0);
}

static int alpha_genesis_init(sqlite3 *db, const genesis_t *g, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int r = 0;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO records(commitment, owner, asset, amount, salt, "
                           "created_height) VALUES (?, ?, ?, ?, ?, 0)",
                           -1, &st, NULL) != SQLITE_OK)
        goto sqlerr;
    for (size_t i = 0; i < g->n_balances; i++) {
        const genesis_balance_t *b = &g->balances[i];
        if (b->amount > INT64_MAX) {
            snprintf(err, errlen, "genesis balance %zu: amount exceeds 2^63-1", i);
            r = -EINVAL;
            goto out;
        }
        /* Genesis salts derive from the genesis hash, so every validator
         * builds the same records. */
        uint8_t salt[32], seed[40], cm[32];
        char cmhex[65], ownhex[65], salthex[65];
        memcpy(seed, g->hash, 32);
        for (int k = 0; k < 8; k++)
            seed[32 + k] = (uint8_t)((uint64_t)i >> (56 - 8 * k));
        crypto_generichash(salt, 32, seed, sizeof(seed), NULL, 0);
        record_commitment(b->owner, b->asset, b->amount, salt, cm);
        hex_encode(cmhex, cm, 32);
        hex_encode(ownhex, b->owner, 32);
        hex_encode(salthex, salt, 32);
        sqlite3_bind_text(st, 1, cmhex, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, ownhex, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, b->asset, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)b->amount);
        sqlite3_bind_text(st, 5, salthex, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE)
            goto sqlerr;
        sqlite3_reset(st);
    }
    goto out;
sqlerr:
    snprintf(err, errlen, "writing genesis records: %s", sqlite3_errmsg(db));
    r = -EIO;
out:
    sqlite3_finalize(st);
    return r;
}

static int alpha_state_root(sqlite3 *db, uint8_t out[32])
{
    static const char *const q[] = {
        "SELECT commitment FROM records WHERE spent_height IS NULL ORDER BY commitment",
        "SELECT nullifier FROM nullifiers ORDER BY nullifier",
    };
    return statehash_queries(db, "adnet/alpha/state/v1", q, 2, out);
}

const chain_ops_t alpha_chain_ops = {
    .name = "alpha",
    .schema = &alpha_schema,
    .genesis_init = alpha_genesis_init,
    .state_root = alpha_state_root,
};
