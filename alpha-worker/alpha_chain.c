/* Alpha's state machine: records, nullifiers, mint/transfer/burn, fee
 * records, and the two sparse Merkle trees behind the state root. The
 * tables are the truth; the trees are rebuilt from them at start-up and
 * kept in step with every write through the undo journal. See
 * docs/alpha.md for the rules. */
#include "alpha-worker/alpha_chain.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/hex.h"
#include "common/node/gov/gov.h"
#include "common/store/bridgetab.h"
#include "common/store/peertab.h"
#include "common/store/pooltab.h"
#include "common/store/tree_batch.h"
#include "proto/alpha_tx.h"

__extension__ typedef unsigned __int128 u128;

/* Migration 2 is frozen: ledgers made with it migrate forward through 3. */
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

static const char alpha_sql_v3[] =
    "ALTER TABLE nullifiers ADD COLUMN spender_tx TEXT;" /* hex id of the spending tx */
    "CREATE INDEX records_unspent_asset ON records(asset, amount) WHERE spent_height IS NULL;"
    "CREATE TABLE mints ("
    "  txid TEXT PRIMARY KEY,"            /* hex id of the mint transaction */
    "  height INTEGER NOT NULL,"
    "  minter TEXT NOT NULL,"             /* hex public key */
    "  commitment TEXT NOT NULL,"         /* the minted record */
    "  asset TEXT NOT NULL,"
    "  amount INTEGER NOT NULL CHECK (amount > 0),"
    "  fee INTEGER NOT NULL CHECK (fee >= 0)" /* minted on top, in the fee asset, for the proposer */
    ");"
    "CREATE TABLE burns ("
    "  txid TEXT PRIMARY KEY,"            /* hex id of the burn transaction */
    "  height INTEGER NOT NULL,"
    "  owner TEXT NOT NULL,"              /* hex public key of the burner */
    "  asset TEXT NOT NULL,"
    "  amount INTEGER NOT NULL CHECK (amount > 0),"
    "  recipient TEXT NOT NULL"           /* hex delta account the bridge credits */
    ");";

/* Per-asset totals, so that /supply and the mint rule read a few rows, not
 * every record: written at genesis and once per block (end_block) from
 * the changes the block's transactions noted in the state. Filled here
 * from the tables for ledgers made before it; the index that served the
 * sums goes. */
static const char alpha_sql_v4[] =
    "DROP INDEX records_unspent_asset;"
    "CREATE TABLE supply ("
    "  asset TEXT PRIMARY KEY,"
    "  unspent INTEGER NOT NULL CHECK (unspent >= 0)," /* sum of the unspent records */
    "  records INTEGER NOT NULL CHECK (records >= 0)," /* how many unspent records */
    "  burned INTEGER NOT NULL CHECK (burned >= 0)"    /* sum of the burns */
    ");"
    "INSERT INTO supply(asset, unspent, records, burned) "
    "  SELECT asset, sum(u), sum(n), sum(b) FROM ("
    "    SELECT asset, amount AS u, 1 AS n, 0 AS b FROM records WHERE spent_height IS NULL"
    "    UNION ALL SELECT asset, 0, 0, amount FROM burns)"
    "  GROUP BY asset;";

/* Migration 10, the bridge: supply also counts what mint transactions
 * issued (the amount in its asset, the fee in the fee asset) and what
 * bridge transfers credited; the records those transfers minted, by
 * transfer id; each burn's position in its block, so bridge_outs lists a
 * height's burns in block order from an index. For existing ledgers,
 * minted is filled from mints (the fee asset, which only the genesis
 * names, is the asset of any record a block made that no mint made: a
 * mint fee above 0 always made such a record, the block's fee record) and
 * each burn's position from txs (NULL where pruned: rowid order then). */
static const char alpha_sql_v10[] =
    "ALTER TABLE supply ADD COLUMN bridged_in INTEGER NOT NULL DEFAULT 0 CHECK (bridged_in >= 0);"
    "ALTER TABLE supply ADD COLUMN minted INTEGER NOT NULL DEFAULT 0 CHECK (minted >= 0);"
    "INSERT INTO supply(asset, unspent, records, burned, minted) "
    "  SELECT asset, 0, 0, 0, sum(m) FROM ("
    "    SELECT asset, amount AS m FROM mints"
    "    UNION ALL SELECT (SELECT asset FROM records WHERE created_height > 0 AND commitment"
    "      NOT IN (SELECT commitment FROM mints) LIMIT 1), fee FROM mints WHERE fee > 0)"
    "  WHERE asset IS NOT NULL GROUP BY asset"
    "  ON CONFLICT(asset) DO UPDATE SET minted = excluded.minted;"
    "CREATE TABLE bridge_mints ("
    "  id TEXT PRIMARY KEY,"              /* hex id of the bridge transfer (bridge_in.id) */
    "  commitment TEXT NOT NULL,"         /* the record it minted */
    "  height INTEGER NOT NULL"
    ");"
    "ALTER TABLE burns ADD COLUMN idx INTEGER;" /* position of the burn in its block */
    "UPDATE burns SET idx = (SELECT idx FROM txs WHERE txs.id = burns.txid);"
    "CREATE INDEX burns_height ON burns(height, idx);";

/* Migration 5: the two trees kept in the ledger (common/store/tree.h);
 * alpha_state_upgrade fills them from the tables at the first open.
 * Migration 6: their node table in its new key order; alpha_state_upgrade
 * moves the rows (tree_upgrade). Migration 7: the mempool's copy
 * (common/store/pooltab.h). Migration 8: the verified headers of the
 * peer chain (common/store/peertab.h). Migration 9: bridge transfers
 * arriving from it (common/store/bridgetab.h). */
static const ledger_migration_t alpha_migrations[] = {
    {1, LEDGER_SQL_BASE_V1},
    {2, alpha_sql_v2},
    {3, alpha_sql_v3},
    {4, alpha_sql_v4},
    {5, TREE_SQL_V1},
    {6, TREE_SQL_V2},
    {7, POOLTAB_SQL_V1},
    {8, PEERTAB_SQL_V1},
    {9, BRIDGETAB_SQL_V1},
    {10, alpha_sql_v10},
    {11, GOVTAB_SQL_V1},
};

static const ledger_schema_t alpha_schema = {alpha_migrations, 11};

#define TREE_RECORDS ALPHA_TREE_NAME_RECORDS
#define TREE_NULLIFIERS ALPHA_TREE_NAME_NULLIFIERS

/* ---- state: two trees and a stack of marks ---------------------------- */

typedef struct {
    size_t records;         /* tree_batch_mark of the records tree */
    size_t nullifiers;      /* tree_batch_mark of the nullifier tree */
    uint64_t pending_fees;  /* alpha_state_t.pending_fees at the mark */
    size_t n_supply;        /* alpha_state_t.n_supply at the mark */
} alpha_mark_t;

/* Changes of the columns of an asset's supply row. */
typedef struct {
    int64_t unspent;        /* of the unspent total */
    int64_t records;        /* of the number of unspent records */
    int64_t burned;         /* of the burned total */
    int64_t minted;         /* of what mint transactions issued (amounts, and fees) */
    int64_t bridged_in;     /* of what bridge transfers credited */
} alpha_supply_delta_t;

/* One change to an asset's row of the supply table, noted while a block
 * is built and written in end_block. */
typedef struct {
    char asset[ALPHA_ASSET_MAX + 1];
    alpha_supply_delta_t d;
} alpha_supply_change_t;

typedef struct {
    /* The block's updates of the two persisted trees, written at its
     * height by state_root: records (unspent commitments -> commitment)
     * and nullifiers (nullifier -> alpha_spent_value(height)). */
    tree_batch_t records, nullifiers;
    uint64_t version;       /* the trees' latest committed version: the tip's height */
    alpha_mark_t *marks;    /* index = the value state_mark returned */
    size_t n_marks, cap_marks;
    int broken;             /* a mark could not be recorded: refuse changes until a rollback/commit */
    uint64_t pending_fees;  /* fees of the transactions applied in the block being built */
    alpha_supply_change_t *supply; /* this block's supply changes, undone with the marks */
    size_t n_supply, cap_supply;
    int has_minter;         /* genesis params.minter: the one key that may mint */
    uint8_t minter[32];
} alpha_state_t;

#define MARK_NONE UINT64_MAX

static const char *alpha_tx_kind_name(uint16_t kind)
{
    switch (kind) {
    case ALPHA_TX_MINT:
        return "mint";
    case ALPHA_TX_TRANSFER:
        return "transfer";
    case ALPHA_TX_BURN:
        return "burn";
    default:
        return NULL;
    }
}

/* ---- records and nullifiers in the tables ------------------------------ */

typedef struct {
    uint8_t owner[32];
    char asset[ALPHA_ASSET_MAX + 1];
    uint64_t amount;
    int spent;
} record_row_t;

/* Look a record up by commitment: 0 and *out, -ENOENT, -EIO (a row no
 * record can hold), or the ledger's code. */
static int record_get(sql_t *q, const uint8_t cm[32], record_row_t *out)
{
    sqlite3_stmt *st = NULL;
    record_row_t row;
    int rc = sql_query(q, &st,
                       "SELECT owner, asset, amount, spent_height IS NOT NULL FROM records "
                       "WHERE commitment = ?",
                       "k", cm);
    if (rc < 0)
        return rc;
    if ((rc = sql_step(q, st)) == 0)
        rc = -ENOENT;
    if (rc < 0)
        goto out;
    memset(&row, 0, sizeof row);
    const char *asset = (const char *)sqlite3_column_text(st, 1);
    sqlite3_int64 amount = sqlite3_column_int64(st, 2);
    if (sql_column_hex(st, 0, row.owner, 32) != 0 || asset == NULL ||
        strlen(asset) > ALPHA_ASSET_MAX || amount < 0) {
        rc = -EIO;
        goto out;
    }
    strcpy(row.asset, asset);
    row.amount = (uint64_t)amount;
    row.spent = sqlite3_column_int(st, 3);
    *out = row;
    rc = 0;
out:
    sql_release(q, st);
    return rc;
}

/* 1 if a record (spent or not) has this commitment, 0 if not, or the ledger's code. */
static int commitment_exists(sql_t *q, const uint8_t cm[32])
{
    return sql_exists(q, "SELECT 1 FROM records WHERE commitment = ?", "k", cm);
}

static int nullifier_exists(sql_t *q, const uint8_t nf[32])
{
    return sql_exists(q, "SELECT 1 FROM nullifiers WHERE nullifier = ?", "k", nf);
}

/* Note a change of asset's supply row, written at the end of the block. */
static int supply_note(alpha_state_t *s, const char *asset, alpha_supply_delta_t d)
{
    if (s->n_supply == s->cap_supply) {
        size_t cap = s->cap_supply ? 2 * s->cap_supply : 64;
        alpha_supply_change_t *v = realloc(s->supply, cap * sizeof *v);
        if (v == NULL)
            return -ENOMEM;
        s->supply = v;
        s->cap_supply = cap;
    }
    alpha_supply_change_t *c = &s->supply[s->n_supply++];
    snprintf(c->asset, sizeof c->asset, "%s", asset);
    c->d = d;
    return 0;
}

/* Sum of the unspent records of asset into *out, as the block so far sees
 * it: its supply row and the changes noted since. 0, or a negative code. */
static int asset_supply(const alpha_state_t *s, sql_t *q, const char *asset, uint64_t *out)
{
    uint64_t row = 0;
    int rc = sql_u64(q, &row, "SELECT unspent FROM supply WHERE asset = ?", "t", asset);
    if (rc < 0 && rc != -ENOENT)
        return rc;
    __extension__ __int128 sum = row;
    for (size_t i = 0; i < s->n_supply; i++)
        if (strcmp(s->supply[i].asset, asset) == 0)
            sum += s->supply[i].d.unspent;
    if (sum < 0 || sum > INT64_MAX)
        return -EIO;
    *out = (uint64_t)sum;
    return 0;
}

static int insert_record(sql_t *q, const uint8_t cm[32], const uint8_t owner[32],
                         const char *asset, uint64_t amount, const uint8_t salt[32],
                         uint64_t height)
{
    return sql_exec(q,
                    "INSERT INTO records(commitment, owner, asset, amount, salt, created_height) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    "kktuku", cm, owner, asset, amount, salt, height);
}

/* Add a new record made at height to the records table and the records
 * tree (journalled by the state's marks, the row by the caller's
 * savepoint). 0, -ENOMEM (the tree) or the ledger's code (message on q). */
static int record_add(alpha_state_t *s, sql_t *q, const uint8_t cm[32], const uint8_t owner[32],
                      const char *asset, uint64_t amount, const uint8_t salt[32], uint64_t height)
{
    int rc = insert_record(q, cm, owner, asset, amount, salt, height);

    if (rc < 0)
        return rc == -ENOMEM ? -EIO : rc;
    return tree_batch_put(&s->records, cm, cm);
}

/* A record the chain makes itself (a fee record, a bridge transfer's)
 * has a salt anyone can compute. Someone could create a record with that
 * very commitment ahead of time; then hash the salt again (salt = H(salt))
 * until the commitment is new, so nobody can block it. Update salt, write
 * the commitment into cm. 0, -EINVAL (asset too long) or the ledger's code. */
static int record_fresh_salt(sql_t *q, const uint8_t owner[32], const char *asset,
                             uint64_t amount, uint8_t salt[32], uint8_t cm[32])
{
    int rc;

    for (;;) {
        if (alpha_record_commitment(owner, asset, amount, salt, cm) != 0)
            return -EINVAL;
        if ((rc = commitment_exists(q, cm)) <= 0)
            return rc;
        crypto_generichash(salt, 32, salt, 32, NULL, 0);
    }
}

/* ---- genesis and trees -------------------------------------------------- */

/* What the genesis balances are written with. */
typedef struct {
    sql_t *q;
    const genesis_t *g;
} alpha_genesis_ctx_t;

/* The record of genesis balance i (genesis_balance_fn); its salt derives
 * from the genesis hash, so every validator builds the same records. */
static int genesis_record(void *ctx, uint64_t i, const genesis_balance_t *b, char *err,
                          size_t errlen)
{
    const alpha_genesis_ctx_t *gc = ctx;
    uint8_t salt[32], seed[40], cm[32];
    int rc;

    memcpy(seed, gc->g->hash, 32);
    for (int k = 0; k < 8; k++)
        seed[32 + k] = (uint8_t)(i >> (56 - 8 * k));
    crypto_generichash(salt, 32, seed, sizeof(seed), NULL, 0);
    if (alpha_record_commitment(b->owner, b->asset, b->amount, salt, cm) != 0) {
        snprintf(err, errlen, "asset longer than %d bytes", ALPHA_ASSET_MAX);
        return -EINVAL;
    }
    if ((rc = insert_record(gc->q, cm, b->owner, b->asset, b->amount, salt, 0)) < 0) {
        snprintf(err, errlen, "writing genesis records: %s", sql_errmsg(gc->q));
        return rc == -ENOMEM ? rc : -EIO;
    }
    return 0;
}

/* The records of the genesis balances, then one supply row per asset
 * (the iterator has checked that no total passes 2^63-1, so no later sum
 * does either). */
static int alpha_genesis_init(sql_t *q, const genesis_t *g, const genesis_progress_t *progress,
                              char *err, size_t errlen)
{
    alpha_genesis_ctx_t gc = {q, g};
    genesis_totals_t totals = {0};
    int rc = genesis_balances_foreach(g, genesis_record, &gc, progress, &totals, err, errlen);

    for (size_t i = 0; rc == 0 && i < totals.n; i++)
        if (sql_exec(q, "INSERT INTO supply(asset, unspent, records, burned) VALUES (?, ?, ?, 0)",
                     "tuu", totals.v[i].asset, totals.v[i].amount, totals.v[i].count) < 0) {
            snprintf(err, errlen, "writing the genesis supply: %s", sql_errmsg(q));
            rc = -EIO;
        }
    genesis_totals_free(&totals);
    return rc;
}

/* What alpha_trees_at reads into each tree. */
typedef struct {
    const char *sql;     /* rows (key[, height]) as of height ?1 */
    const char *table;   /* for messages: the table, its key column, the tree */
    const char *key;
    const char *tree;
    bool spent;          /* value alpha_spent_value(height), else the key itself */
} tree_source_t;

/* In key order (lowercase hex sorts as the bytes do), for tree_build. */
static const tree_source_t RECORDS_SOURCE = {
    "SELECT commitment FROM records WHERE created_height <= ?1 "
    "AND (spent_height IS NULL OR spent_height > ?1) ORDER BY commitment",
    "records", "commitment", "records tree", false,
};
static const tree_source_t NULLIFIERS_SOURCE = {
    "SELECT nullifier, height FROM nullifiers WHERE height <= ?1 ORDER BY nullifier",
    "nullifiers", "nullifier", "nullifier tree", true,
};

/* Where tree_load puts each leaf: an in-memory tree or a batch. */
typedef struct {
    smt_t *smt;                        /* or NULL */
    tree_batch_t *batch;               /* when smt is NULL */
    const genesis_progress_t *progress; /* may be NULL */
    uint64_t done, total;              /* rows read so far, of total, for progress */
} tree_sink_t;

static int sink_put(tree_sink_t *t, const uint8_t key[32], const uint8_t v[32])
{
    if (t->progress && t->progress->fn && ++t->done % GENESIS_PROGRESS_EVERY == 0)
        t->progress->fn(t->progress->ctx, t->done, t->total);
    return t->smt ? smt_set(t->smt, key, v) : tree_batch_put(t->batch, key, v);
}

/* The leaf of the current row of st (a query of src). */
static int row_leaf(sqlite3_stmt *st, const tree_source_t *src, uint8_t key[32], uint8_t v[32],
                    char *err, size_t errlen)
{
    sqlite3_int64 at = src->spent ? sqlite3_column_int64(st, 1) : 0;

    if (sql_column_hex(st, 0, key, 32) != 0 || at < 0) {
        snprintf(err, errlen, "%s: %s '%s' is not 64 hex digits", src->table, src->key,
                 (const char *)sqlite3_column_text(st, 0));
        return -EBADMSG;
    }
    if (src->spent)
        alpha_spent_value((uint64_t)at, v);
    else
        memcpy(v, key, 32);
    return 0;
}

/* Put the current row of st (a query of src) into t. */
static int tree_put(sqlite3_stmt *st, const tree_source_t *src, tree_sink_t *t, char *err,
                    size_t errlen)
{
    uint8_t key[32], v[32];
    int rc = row_leaf(st, src, key, v, err, errlen);

    if (rc == 0 && (rc = sink_put(t, key, v)) != 0)
        snprintf(err, errlen, "%s: out of memory", src->tree);
    return rc;
}

/* Put every row of src as of height into t. */
static int tree_load(sql_t *q, const tree_source_t *src, uint64_t height, tree_sink_t *t,
                     char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sql_query(q, &st, src->sql, "u", height);
    int row = rc; /* a query that cannot start fails as a step would */

    while (rc == 0 && (row = sql_step(q, st)) == 1)
        rc = tree_put(st, src, t, err, errlen);
    if (row < 0) {
        snprintf(err, errlen, "reading records and nullifiers: %s", sql_errmsg(q));
        rc = -EIO;
    }
    sql_release(q, st);
    return rc;
}

int alpha_trees_at(sql_t *q, uint64_t height, smt_t **records, smt_t **nullifiers, char *err,
                   size_t errlen)
{
    smt_t *rec = smt_new(), *nul = smt_new();
    int rc = 0;

    if (height > INT64_MAX)
        height = INT64_MAX;
    if (rec == NULL || nul == NULL) {
        snprintf(err, errlen, "out of memory");
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = tree_load(q, &RECORDS_SOURCE, height, &(tree_sink_t){.smt = rec}, err, errlen)) != 0 ||
        (rc = tree_load(q, &NULLIFIERS_SOURCE, height, &(tree_sink_t){.smt = nul}, err, errlen)) != 0)
        goto out;
    smt_commit(rec);
    smt_commit(nul);
    *records = rec;
    *nullifiers = nul;
    rec = nul = NULL;
out:
    smt_free(rec);
    smt_free(nul);
    return rc;
}

/* tree_build's leaves: the rows of one source, in key order. */
typedef struct {
    sql_t *q;
    sqlite3_stmt *st;
    const tree_source_t *src;
    tree_sink_t *sink;       /* for progress only */
} source_cursor_t;

static int source_next(void *ctx, uint8_t key[32], uint8_t value[32], char *err, size_t errlen)
{
    source_cursor_t *c = ctx;
    tree_sink_t *t = c->sink;
    int row = sql_step(c->q, c->st);

    if (row < 0) {
        snprintf(err, errlen, "reading %s: %s", c->src->table, sql_errmsg(c->q));
        return -EIO;
    }
    if (row == 0)
        return 0;
    if (t->progress && t->progress->fn && ++t->done % GENESIS_PROGRESS_EVERY == 0)
        t->progress->fn(t->progress->ctx, t->done, t->total);
    return row_leaf(c->st, c->src, key, value, err, errlen) < 0 ? -EBADMSG : 1;
}

/* Write src's tree as of height, as that version, streaming its rows. */
static int source_write(sql_t *q, const tree_source_t *src, uint64_t height, tree_sink_t *sink,
                        char *err, size_t errlen)
{
    source_cursor_t c = {q, NULL, src, sink};
    uint8_t root[SMT_HASH_LEN];
    int rc = sql_query(q, &c.st, src->sql, "u", height);

    if (rc == 0)
        rc = tree_build(q, src == &RECORDS_SOURCE ? TREE_RECORDS : TREE_NULLIFIERS, height,
                        source_next, &c, root);
    if (rc < 0 && rc != -EBADMSG)
        snprintf(err, errlen, "writing the %s: %s", src->tree, sql_errmsg(q));
    else if (rc == -EBADMSG)
        snprintf(err, errlen, "%s", sql_errmsg(q));
    sql_release(q, c.st);
    return rc;
}

/* Build both trees from the tables as of the tip (height) and write them
 * as that version, inside the caller's transaction: the first open of a
 * ledger made before the trees were kept in it, and a genesis. One pass
 * over each table in key order; memory does not grow with the rows. */
static int alpha_trees_write(sql_t *q, uint64_t height, const genesis_progress_t *progress,
                             char *err, size_t errlen)
{
    tree_sink_t sink = {.progress = progress};
    int rc = sql_u64(q, &sink.total,
                     "SELECT (SELECT count(*) FROM records WHERE spent_height IS NULL) + "
                     "(SELECT count(*) FROM nullifiers)", NULL);

    if (rc < 0) {
        snprintf(err, errlen, "counting records and nullifiers: %s", sql_errmsg(q));
        return rc;
    }
    if ((rc = source_write(q, &RECORDS_SOURCE, height, &sink, err, errlen)) < 0 ||
        (rc = source_write(q, &NULLIFIERS_SOURCE, height, &sink, err, errlen)) < 0)
        return rc;
    if (progress && progress->fn)
        progress->fn(progress->ctx, sink.done, sink.total);
    return 0;
}

/* chain_ops_t.state_upgrade: write the trees once if the ledger has none. */
static int alpha_state_upgrade(sql_t *q, const genesis_t *g, const genesis_progress_t *progress,
                               char *err, size_t errlen)
{
    uint64_t latest = 0, tip = 0;
    uint8_t hroot[SMT_HASH_LEN];
    int rc = tree_upgrade(q, progress ? progress->fn : NULL, progress ? progress->ctx : NULL);

    (void)g;
    if (rc < 0) {
        snprintf(err, errlen, "moving the tree nodes to their new layout: %s", sql_errmsg(q));
        return rc;
    }
    if ((rc = tree_latest(q, TREE_RECORDS, &latest)) != -ENOENT) {
        if (rc < 0)
            snprintf(err, errlen, "reading the records tree: %s", sql_errmsg(q));
        return rc;
    }
    if ((rc = sql_exec(q, "BEGIN IMMEDIATE", NULL)) < 0) {
        snprintf(err, errlen, "ledger: %s", sql_errmsg(q));
        return rc;
    }
    if ((rc = tree_batch_header(q, &tip, hroot)) < 0)
        snprintf(err, errlen, "reading the tip: %s", sql_errmsg(q));
    if (rc == 0)
        rc = alpha_trees_write(q, tip, progress, err, errlen);
    if (rc == 0 && (rc = sql_exec(q, "COMMIT", NULL)) < 0)
        snprintf(err, errlen, "ledger: %s", sql_errmsg(q));
    if (rc < 0)
        sql_exec(q, "ROLLBACK", NULL);
    return rc;
}

static void alpha_state_close(void *state)
{
    alpha_state_t *s = state;
    if (s == NULL)
        return;
    tree_batch_free(&s->records);
    tree_batch_free(&s->nullifiers);
    free(s->marks);
    free(s->supply);
    free(s);
}

int alpha_genesis_check(const genesis_t *g, char *err, size_t errlen)
{
    uint8_t pk[32];
    if (genesis_param_hex(g, ALPHA_PARAM_MINTER, pk, sizeof pk) == -EINVAL) {
        snprintf(err, errlen, "genesis params.%s: expected 64 hex digits", ALPHA_PARAM_MINTER);
        return -EINVAL;
    }
    return 0;
}

/* The trees' roots at version, combined into alpha's state root. */
static int alpha_tree_state_root(sql_t *q, uint64_t version, uint8_t out[32], char *err,
                                 size_t errlen)
{
    uint8_t r[SMT_HASH_LEN], n[SMT_HASH_LEN];
    int rc;

    if ((rc = tree_batch_check_tip(q, TREE_RECORDS, version, r, err, errlen)) < 0 ||
        (rc = tree_batch_check_tip(q, TREE_NULLIFIERS, version, n, err, errlen)) < 0)
        return rc;
    alpha_state_root(r, n, out);
    return 0;
}

/* Start-up check, O(1) rows: both trees stand at the tip, and their
 * combined root is the last header's. -EILSEQ otherwise (the ledger is
 * refused, untouched). */
static int alpha_state_check(sql_t *q, uint64_t *tip, char *err, size_t errlen)
{
    uint8_t hroot[32], troot[32];
    char hx[65], tx[65];
    int rc = tree_batch_header(q, tip, hroot);

    if (rc < 0) {
        snprintf(err, errlen, "ledger: reading the tip: %s", sql_errmsg(q));
        return rc == -EILSEQ ? rc : -EIO;
    }
    if ((rc = alpha_tree_state_root(q, *tip, troot, err, errlen)) < 0)
        return rc == -ENOENT ? -EILSEQ : rc;
    if (*tip == 0 || memcmp(hroot, troot, 32) == 0)
        return 0;
    hex_encode(hx, hroot, 32);
    hex_encode(tx, troot, 32);
    snprintf(err, errlen,
             "ledger: the state root stored in the trees at height %" PRIu64 " is %s but the "
             "block header says %s; run adnet verify-ledger, or restore a backup", *tip, tx, hx);
    return -EILSEQ;
}

static int alpha_state_open(void **state, sql_t *q, const genesis_t *g, char *err,
                            size_t errlen)
{
    alpha_state_t *s = calloc(1, sizeof *s);
    int rc;
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if ((rc = alpha_genesis_check(g, err, errlen)) < 0)
        goto out;
    s->has_minter = genesis_param_hex(g, ALPHA_PARAM_MINTER, s->minter, sizeof s->minter) == 0;
    tree_batch_init(&s->records, TREE_RECORDS);
    tree_batch_init(&s->nullifiers, TREE_NULLIFIERS);
    /* a ledger whose trees were never written (made by tests without
     * chain_open) gets them here, without progress */
    if ((rc = alpha_state_upgrade(q, g, NULL, err, errlen)) < 0 ||
        (rc = alpha_state_check(q, &s->version, err, errlen)) < 0)
        goto out;
    *state = s;
    s = NULL;
out:
    alpha_state_close(s);
    return rc;
}

/* The block's updates written at its height (the tip's + 1), and the
 * combined root of the two trees. */
static int alpha_state_root_fn(void *state, sql_t *q, uint8_t out[BLOCK_HASH_LEN])
{
    alpha_state_t *s = state;
    uint8_t r[SMT_HASH_LEN], n[SMT_HASH_LEN];
    int rc;

    if ((rc = tree_batch_apply(&s->records, q, s->version + 1, r)) < 0 ||
        (rc = tree_batch_apply(&s->nullifiers, q, s->version + 1, n)) < 0)
        return rc == -ENOMEM ? rc : -EIO;
    alpha_state_root(r, n, out);
    return 0;
}

/* chain_ops_t.state_prune: the heights below keep_from, both trees. */
static int alpha_state_prune(void *state, sql_t *q, uint64_t keep_from, size_t budget)
{
    size_t done = 0;
    int rc = tree_prune(q, TREE_RECORDS, keep_from, budget / 2, &done);
    (void)state;
    if (rc == 0)
        rc = tree_prune(q, TREE_NULLIFIERS, keep_from, budget - budget / 2, &done);
    return rc;
}

static uint64_t alpha_state_mark(void *state)
{
    alpha_state_t *s = state;
    if (s->n_marks == s->cap_marks) {
        size_t cap = s->cap_marks ? 2 * s->cap_marks : 64;
        alpha_mark_t *m = realloc(s->marks, cap * sizeof *m);
        if (m == NULL) {
            /* apply_tx and end_block refuse to change anything while
             * broken, so rolling back to MARK_NONE (a no-op) is exact. */
            s->broken = 1;
            return MARK_NONE;
        }
        s->marks = m;
        s->cap_marks = cap;
    }
    s->marks[s->n_marks] = (alpha_mark_t){tree_batch_mark(&s->records),
                                          tree_batch_mark(&s->nullifiers),
                                          s->pending_fees, s->n_supply};
    return s->n_marks++;
}

static void alpha_state_rollback(void *state, uint64_t mark)
{
    alpha_state_t *s = state;
    if (mark >= s->n_marks)
        return;
    tree_batch_truncate(&s->records, s->marks[mark].records);
    tree_batch_truncate(&s->nullifiers, s->marks[mark].nullifiers);
    s->pending_fees = s->marks[mark].pending_fees;
    s->n_supply = s->marks[mark].n_supply;
    s->n_marks = (size_t)mark + 1; /* the mark stays valid, like a SQLite savepoint */
    s->broken = 0;
}

static void alpha_state_commit(void *state)
{
    alpha_state_t *s = state;
    if (s->records.written) { /* else the updates wait for the next written version */
        s->version = s->records.version;
        tree_batch_clear(&s->records);
        tree_batch_clear(&s->nullifiers);
    }
    s->n_marks = 0;
    s->pending_fees = 0;
    s->n_supply = 0;
    s->broken = 0;
}

/* ---- transaction rules ---------------------------------------------------- */

/* What validation learned, for apply to write. */
typedef struct {
    alpha_payload_t p;
    uint8_t in_nf[ALPHA_MAX_INPUTS][32];   /* nullifiers of the inputs */
    uint8_t out_cm[ALPHA_MAX_OUTPUTS][32]; /* commitments of the outputs */
    const char *asset;                     /* the inputs' asset (transfer, burn) */
    uint64_t in_total;                     /* the inputs' amounts (they are one asset's) */
} alpha_plan_t;

/* Decimal digits of v into out[40]. */
static void u128_str(u128 v, char out[40])
{
    char tmp[40];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

static int sql_reject(reject_t *why, sql_t *q, const char *what)
{
    return reject(why, -EIO, "internal", "%s: %s", what, sql_errmsg(q));
}

/* What needs no ledger: the kind, the payload's encoding and its own rules
 * (alpha_payload_check), the minter, the fee. Decode into *p. */
static int alpha_check_shape(const alpha_state_t *s, const tx_t *tx, alpha_payload_t *p,
                             reject_t *why)
{
    const char *kind = alpha_tx_kind_name(tx->kind), *what = NULL;
    uint16_t i = 0;
    int rc;

    if (kind == NULL)
        return reject(why, -EINVAL, "unknown_kind", "alpha has no transaction kind %u",
                      (unsigned)tx->kind);
    if ((rc = alpha_payload_decode(p, tx->kind, tx->payload, tx->payload_len, &what)) != 0)
        return reject(why, -EINVAL, "malformed", "%s payload does not decode: %s (%s)", kind,
                      what, rc == -EBADMSG ? "truncated or trailing bytes" : "out of range");
    if (tx->kind == ALPHA_TX_MINT &&
        (!s->has_minter || sodium_memcmp(tx->sender, s->minter, 32) != 0))
        return reject(why, -EPERM, "unauthorized", "only the genesis minter may mint");
    if (tx->fee > INT64_MAX)
        return reject(why, -EINVAL, "bad_amount", "fee %" PRIu64 " exceeds 2^63-1", tx->fee);
    if (alpha_payload_check(p, &what, &i) == 0)
        return 0;
    if (strcmp(what, "burn_amount") == 0)
        return reject(why, -EINVAL, "bad_amount", "burn amount %" PRIu64 " is not in 1..2^63-1",
                      p->burn_amount);
    if (strcmp(what, "amount") == 0)
        return reject(why, -EINVAL, "bad_amount",
                      "output %u amount %" PRIu64 " is not in 1..2^63-1", (unsigned)i,
                      p->out[i].amount);
    return reject(why, -EINVAL, "bad_asset",
                  "output %u asset '%s' is not 1-%d printable characters", (unsigned)i,
                  p->out[i].asset, ALPHA_ASSET_MAX);
}

/* Each output: in the fee asset unless minted, and a commitment that is
 * new, in this transaction and in the ledger. Fill plan->out_cm. */
static int alpha_check_outputs(const chain_exec_t *x, const tx_t *tx, alpha_plan_t *plan,
                               reject_t *why)
{
    const char *fa = x->genesis->fee_asset;
    const alpha_payload_t *p = &plan->p;
    char hex[65];
    int rc;

    for (uint16_t i = 0; i < p->n_out; i++) {
        const alpha_record_t *o = &p->out[i];
        if (tx->kind != ALPHA_TX_MINT && strcmp(o->asset, fa) != 0)
            return reject(why, -EINVAL, "bad_asset",
                          "output %u asset %s: alpha transfers and burns move only %s",
                          (unsigned)i, o->asset, fa);
        if (alpha_record_commitment(o->owner, o->asset, o->amount, o->salt, plan->out_cm[i]) != 0)
            return reject(why, -EINVAL, "malformed", "output %u asset too long", (unsigned)i);
        for (uint16_t j = 0; j < i; j++)
            if (memcmp(plan->out_cm[j], plan->out_cm[i], 32) == 0)
                return reject(why, -EINVAL, "duplicate_commitment",
                              "output %u has the same commitment as output %u", (unsigned)i,
                              (unsigned)j);
        if ((rc = commitment_exists(x->sql, plan->out_cm[i])) < 0)
            return sql_reject(why, x->sql, "looking up an output commitment");
        if (rc == 1) {
            hex_encode(hex, plan->out_cm[i], 32);
            return reject(why, -EINVAL, "duplicate_commitment",
                          "output %u commitment %s already exists (choose another salt)",
                          (unsigned)i, hex);
        }
    }
    return 0;
}

/* A mint keeps its asset's supply, and the fee asset's (with this block's
 * unpaid fees), within 2^63-1 so that sums never overflow. */
static int alpha_check_mint(const alpha_state_t *s, const chain_exec_t *x, const tx_t *tx,
                            int in_block, const alpha_record_t *o, reject_t *why)
{
    const char *fa = x->genesis->fee_asset;
    uint64_t supply = 0, fee_supply = 0, pending = in_block ? s->pending_fees : 0;

    if (asset_supply(s, x->sql, o->asset, &supply) != 0)
        return sql_reject(why, x->sql, "reading the supply");
    if (strcmp(o->asset, fa) == 0) {
        if ((u128)supply + pending + o->amount + tx->fee > INT64_MAX)
            return reject(why, -EOVERFLOW, "overflow",
                          "supply %" PRIu64 " %s + amount %" PRIu64 " + fee %" PRIu64
                          " would exceed 2^63-1",
                          supply + pending, fa, o->amount, tx->fee);
        return 0;
    }
    if ((u128)supply + o->amount > INT64_MAX)
        return reject(why, -EOVERFLOW, "overflow",
                      "supply %" PRIu64 " %s + amount %" PRIu64 " would exceed 2^63-1", supply,
                      o->asset, o->amount);
    if (asset_supply(s, x->sql, fa, &fee_supply) != 0)
        return sql_reject(why, x->sql, "reading the supply");
    if ((u128)fee_supply + pending + tx->fee > INT64_MAX)
        return reject(why, -EOVERFLOW, "overflow",
                      "supply %" PRIu64 " %s + fee %" PRIu64 " would exceed 2^63-1",
                      fee_supply + pending, fa, tx->fee);
    return 0;
}

/* Input i of a transfer or burn: listed once, a record of the sender's,
 * unspent, in the fee asset. Fill plan->in_nf[i]; add its amount to *sum. */
static int alpha_check_input(const chain_exec_t *x, const tx_t *tx, uint16_t i,
                             alpha_plan_t *plan, u128 *sum, reject_t *why)
{
    const char *fa = x->genesis->fee_asset;
    const alpha_payload_t *p = &plan->p;
    record_row_t row;
    char hex[65];
    int rc;

    hex_encode(hex, p->in[i], 32);
    for (uint16_t j = 0; j < i; j++)
        if (memcmp(p->in[j], p->in[i], 32) == 0)
            return reject(why, -EINVAL, "double_spend", "input %u repeats input %u (%s)",
                          (unsigned)i, (unsigned)j, hex);
    rc = record_get(x->sql, p->in[i], &row);
    if (rc == -ENOENT)
        return reject(why, -EINVAL, "unknown_record", "input %u: no record %s", (unsigned)i, hex);
    if (rc != 0)
        return sql_reject(why, x->sql, "looking up an input record");
    if (sodium_memcmp(row.owner, tx->sender, 32) != 0)
        return reject(why, -EPERM, "not_owner", "input %u: record %s is not the sender's",
                      (unsigned)i, hex);
    alpha_record_nullifier(p->in[i], plan->in_nf[i]);
    if ((rc = row.spent ? 1 : nullifier_exists(x->sql, plan->in_nf[i])) < 0)
        return sql_reject(why, x->sql, "looking up a nullifier");
    if (rc == 1)
        return reject(why, -EINVAL, "double_spend", "input %u: record %s is already spent",
                      (unsigned)i, hex);
    if (strcmp(row.asset, fa) != 0)
        return reject(why, -EINVAL, "bad_asset",
                      "input %u: record %s holds %s; alpha transfers and burns move only %s",
                      (unsigned)i, hex, row.asset, fa);
    *sum += row.amount;
    return 0;
}

/* A transfer or burn moves exactly its inputs: outputs + burn + fee. */
static int alpha_check_balance(const chain_exec_t *x, const tx_t *tx, const alpha_plan_t *plan,
                               u128 sum_in, reject_t *why)
{
    const char *fa = x->genesis->fee_asset;
    const alpha_payload_t *p = &plan->p;
    u128 sum_out = 0;
    char in[40], out[40];

    /* Each term is below 2^63 and there are at most 34 of them, so the
     * 128-bit sums cannot overflow. */
    for (uint16_t i = 0; i < p->n_out; i++)
        sum_out += p->out[i].amount;
    u128 burn = tx->kind == ALPHA_TX_BURN ? p->burn_amount : 0;
    u128 need = sum_out + burn + tx->fee;
    if (sum_in == need)
        return 0;
    u128_str(sum_in, in);
    u128_str(sum_out, out);
    if (sum_in < need)
        return reject(why, -EINVAL, "overspend",
                      "inputs %s %s < outputs %s + burn %" PRIu64 " + fee %" PRIu64, in, fa, out,
                      (uint64_t)burn, tx->fee);
    return reject(why, -EINVAL, "unbalanced",
                  "inputs %s %s > outputs %s + burn %" PRIu64 " + fee %" PRIu64
                  ": inputs must equal outputs + burn + fee exactly",
                  in, fa, out, (uint64_t)burn, tx->fee);
}

/* Check tx against the state visible through x->sql (committed state at
 * admission; the block so far when in_block) and fill *plan. Changes nothing. */
static int alpha_validate(const alpha_state_t *s, const chain_exec_t *x, const tx_t *tx,
                          int in_block, alpha_plan_t *plan, reject_t *why)
{
    u128 sum_in = 0;
    int rc;

    plan->in_total = 0;
    if ((rc = alpha_check_shape(s, tx, &plan->p, why)) != 0 ||
        (rc = alpha_check_outputs(x, tx, plan, why)) != 0)
        return rc;
    if (tx->kind == ALPHA_TX_MINT)
        return alpha_check_mint(s, x, tx, in_block, &plan->p.out[0], why);
    for (uint16_t i = 0; i < plan->p.n_in; i++)
        if ((rc = alpha_check_input(x, tx, i, plan, &sum_in, why)) != 0)
            return rc;
    plan->asset = x->genesis->fee_asset;
    if ((rc = alpha_check_balance(x, tx, plan, sum_in, why)) != 0)
        return rc;
    plan->in_total = (uint64_t)sum_in; /* unspent records of one asset: within 2^63-1 */
    return 0;
}

static int alpha_check_tx(void *state, const chain_exec_t *x, const tx_t *tx, reject_t *why)
{
    alpha_plan_t *plan = malloc(sizeof *plan);
    int rc;
    if (plan == NULL)
        return reject(why, -ENOMEM, "internal", "out of memory");
    rc = alpha_validate(state, x, tx, 0, plan, why);
    free(plan);
    return rc;
}

/* Spend the inputs: mark their rows, publish their nullifiers, in the
 * tables and the trees. */
static int alpha_spend_inputs(alpha_state_t *s, const chain_exec_t *x, const alpha_plan_t *plan,
                              reject_t *why)
{
    const alpha_payload_t *p = &plan->p;
    uint8_t spent[32];
    int rc;

    alpha_spent_value(x->height, spent);
    for (uint16_t i = 0; i < p->n_in; i++) {
        if (sql_exec(x->sql,
                     "UPDATE records SET spent_height = ? WHERE commitment = ? "
                     "AND spent_height IS NULL",
                     "uk", x->height, p->in[i]) < 0)
            return sql_reject(why, x->sql, "writing the transaction's effects");
        if (sqlite3_changes(x->sql->db) != 1)
            return reject(why, -EIO, "internal", "input %u vanished while spending it",
                          (unsigned)i);
        if (sql_exec(x->sql,
                     "INSERT INTO nullifiers(nullifier, height, spender_tx) VALUES (?, ?, ?)",
                     "kuk", plan->in_nf[i], x->height, x->txid) < 0)
            return sql_reject(why, x->sql, "writing the transaction's effects");
        if ((rc = tree_batch_remove(&s->records, p->in[i])) != 0 ||
            (rc = tree_batch_put(&s->nullifiers, plan->in_nf[i], spent)) != 0)
            return reject(why, rc, "internal", "tree updates: out of memory");
    }
    return 0;
}

/* Create the outputs, in the table and the records tree. */
static int alpha_create_outputs(alpha_state_t *s, const chain_exec_t *x,
                                const alpha_plan_t *plan, reject_t *why)
{
    int rc;

    for (uint16_t i = 0; i < plan->p.n_out; i++) {
        const alpha_record_t *o = &plan->p.out[i];
        rc = record_add(s, x->sql, plan->out_cm[i], o->owner, o->asset, o->amount, o->salt,
                        x->height);
        if (rc == -ENOMEM)
            return reject(why, rc, "internal", "records tree: out of memory");
        if (rc < 0)
            return sql_reject(why, x->sql, "writing the transaction's effects");
    }
    return 0;
}

/* The mints or burns row of a mint or a burn. */
static int alpha_log_tx(const chain_exec_t *x, const tx_t *tx, const alpha_plan_t *plan,
                        reject_t *why)
{
    const alpha_payload_t *p = &plan->p;
    int rc = 0;

    if (tx->kind == ALPHA_TX_MINT)
        rc = sql_exec(x->sql,
                      "INSERT INTO mints(txid, height, minter, commitment, asset, amount, fee) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?)",
                      "kukktuu", x->txid, x->height, tx->sender, plan->out_cm[0],
                      p->out[0].asset, p->out[0].amount, tx->fee);
    else if (tx->kind == ALPHA_TX_BURN)
        rc = sql_exec(x->sql,
                      "INSERT INTO burns(txid, height, owner, asset, amount, recipient, idx) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?)",
                      "kuktuku", x->txid, x->height, tx->sender, plan->asset, p->burn_amount,
                      p->recipient, (uint64_t)x->index);
    return rc < 0 ? sql_reject(why, x->sql, "writing the transaction's effects") : 0;
}

/* Note what tx did to the supply: inputs spent, outputs created, a burn,
 * a mint (fee_asset: the genesis fee asset). */
static int alpha_note_supply(alpha_state_t *s, const tx_t *tx, const alpha_plan_t *plan,
                             const char *fee_asset, reject_t *why)
{
    typedef alpha_supply_delta_t delta_t;
    const alpha_payload_t *p = &plan->p;
    int rc = 0;

    if (p->n_in > 0)
        rc = supply_note(s, plan->asset, (delta_t){.unspent = -(int64_t)plan->in_total,
                                                   .records = -(int64_t)p->n_in});
    for (uint16_t i = 0; rc == 0 && i < p->n_out; i++)
        rc = supply_note(s, p->out[i].asset,
                         (delta_t){.unspent = (int64_t)p->out[i].amount, .records = 1});
    if (rc == 0 && tx->kind == ALPHA_TX_BURN)
        rc = supply_note(s, plan->asset, (delta_t){.burned = (int64_t)p->burn_amount});
    /* a mint issues its record, and its fee on top in the fee asset (paid
     * to the proposer by end_block, which notes that record) */
    if (rc == 0 && tx->kind == ALPHA_TX_MINT)
        rc = supply_note(s, p->out[0].asset, (delta_t){.minted = (int64_t)p->out[0].amount});
    if (rc == 0 && tx->kind == ALPHA_TX_MINT && tx->fee > 0)
        rc = supply_note(s, fee_asset, (delta_t){.minted = (int64_t)tx->fee});
    return rc < 0 ? reject(why, rc, "internal", "out of memory (supply changes)") : 0;
}

static int alpha_apply_tx(void *state, const chain_exec_t *x, const tx_t *tx, reject_t *why)
{
    alpha_state_t *s = state;
    alpha_plan_t *plan = NULL;
    int rc;

    if (s->broken)
        return reject(why, -ENOMEM, "internal", "out of memory (state journal)");
    if ((tx->kind == ALPHA_TX_MINT || tx->kind == ALPHA_TX_BURN) && x->txid == NULL)
        return reject(why, -EINVAL, "internal", "apply_tx needs the transaction id");
    if ((plan = malloc(sizeof *plan)) == NULL)
        return reject(why, -ENOMEM, "internal", "out of memory");
    if ((rc = alpha_validate(s, x, tx, 1, plan, why)) != 0 ||
        (rc = alpha_spend_inputs(s, x, plan, why)) != 0 ||
        (rc = alpha_create_outputs(s, x, plan, why)) != 0 ||
        (rc = alpha_log_tx(x, tx, plan, why)) != 0 ||
        (rc = alpha_note_supply(s, tx, plan, x->genesis->fee_asset, why)) != 0)
        goto out;
    if (s->pending_fees > UINT64_MAX - tx->fee) {
        rc = reject(why, -EOVERFLOW, "overflow", "block fees overflow");
        goto out;
    }
    s->pending_fees += tx->fee;
out:
    free(plan);
    return rc;
}

/* ---- the bridge ------------------------------------------------------------- */

/* The bridge transfer a row (txid, asset, amount, recipient) of burns is. */
static int burn_transfer(sqlite3_stmt *st, bridge_transfer_t *b)
{
    const char *asset = (const char *)sqlite3_column_text(st, 1);
    sqlite3_int64 amount = sqlite3_column_int64(st, 2);

    memset(b, 0, sizeof *b);
    if (sql_column_hex(st, 0, b->id, 32) != 0 || sql_column_hex(st, 3, b->recipient, 32) != 0 ||
        asset == NULL || strlen(asset) > GENESIS_ASSET_MAX || amount <= 0)
        return -EIO;
    strcpy(b->asset, asset);
    b->amount = (uint64_t)amount;
    return 0;
}

/* chain_ops_t.bridge_outs: the burns of the block at height, in block
 * order (burns_height index; rows burnt before migration 10 whose txs row
 * was pruned have no position and come first, in insertion order). */
static int alpha_bridge_outs(sql_t *q, uint64_t height,
                             int (*fn)(void *ctx, const bridge_transfer_t *b), void *ctx)
{
    sqlite3_stmt *st = NULL;
    bridge_transfer_t b;
    int rc = sql_query(q, &st,
                       "SELECT txid, asset, amount, recipient FROM burns WHERE height = ? "
                       "ORDER BY idx, rowid", "u", height);

    while (rc == 0 && (rc = sql_step(q, st)) == 1)
        if ((rc = burn_transfer(st, &b)) == 0)
            rc = fn(ctx, &b);
    sql_release(q, st);
    return rc;
}

/* A transfer alpha can credit: a valid asset, an amount in 1..2^63-1,
 * not credited before, and the asset's supply (with the block's unpaid
 * fees, in the fee asset) staying within 2^63-1. */
static int bridge_mint_check(const alpha_state_t *s, const chain_exec_t *x,
                             const bridge_transfer_t *b, reject_t *why)
{
    const char *fa = x->genesis->fee_asset;
    uint64_t supply = 0, pending = 0;
    char id[65];
    int rc;

    hex_encode(id, b->id, 32);
    if (memchr(b->asset, '\0', sizeof b->asset) == NULL || !tx_asset_is_valid(b->asset))
        return reject(why, -EINVAL, "bad_asset",
                      "bridge transfer %s: its asset is not 1-%d printable characters", id,
                      ALPHA_ASSET_MAX);
    if (b->amount == 0 || b->amount > INT64_MAX)
        return reject(why, -EINVAL, "bad_amount",
                      "bridge transfer %s: amount %" PRIu64 " is not in 1..2^63-1", id, b->amount);
    if ((rc = sql_exists(x->sql, "SELECT 1 FROM bridge_mints WHERE id = ?", "k", b->id)) < 0)
        return sql_reject(why, x->sql, "looking up the bridge transfer");
    if (rc == 1)
        return reject(why, -EEXIST, "duplicate_transfer",
                      "bridge transfer %s was credited already", id);
    if (asset_supply(s, x->sql, b->asset, &supply) != 0)
        return sql_reject(why, x->sql, "reading the supply");
    if (strcmp(b->asset, fa) == 0)
        pending = s->pending_fees;
    if ((u128)supply + pending + b->amount > INT64_MAX)
        return reject(why, -EOVERFLOW, "overflow",
                      "bridge transfer %s: supply %" PRIu64 " %s + amount %" PRIu64
                      " would exceed 2^63-1",
                      id, supply + pending, b->asset, b->amount);
    return 0;
}

/* chain_ops_t.bridge_mint: a new record of b->recipient holding b's
 * amount, salt alpha_bridge_salt(b->id) (hashed again while taken), made
 * at x->height, linked to the transfer in bridge_mints. */
static int alpha_bridge_mint(void *state, const chain_exec_t *x, const bridge_transfer_t *b,
                             reject_t *why)
{
    alpha_state_t *s = state;
    uint8_t salt[32], cm[32];
    int rc;

    if (s->broken)
        return reject(why, -ENOMEM, "internal", "out of memory (state journal)");
    if ((rc = bridge_mint_check(s, x, b, why)) != 0)
        return rc;
    alpha_bridge_salt(b->id, salt);
    if ((rc = record_fresh_salt(x->sql, b->recipient, b->asset, b->amount, salt, cm)) == 0)
        rc = record_add(s, x->sql, cm, b->recipient, b->asset, b->amount, salt, x->height);
    if (rc == -ENOMEM)
        return reject(why, rc, "internal", "records tree: out of memory");
    if (rc == 0)
        rc = sql_exec(x->sql, "INSERT INTO bridge_mints(id, commitment, height) VALUES (?, ?, ?)",
                      "kku", b->id, cm, x->height);
    if (rc < 0)
        return sql_reject(why, x->sql, "writing the bridge transfer's record");
    rc = supply_note(s, b->asset,
                     (alpha_supply_delta_t){.unspent = (int64_t)b->amount, .records = 1,
                                            .bridged_in = (int64_t)b->amount});
    return rc != 0 ? reject(why, rc, "internal", "out of memory (supply changes)") : 0;
}

/* Pay the block's fees to the proposer as one new record. */
static int alpha_pay_fees(alpha_state_t *s, const chain_exec_t *x, uint64_t fees, char *err,
                          size_t errlen)
{
    const char *fa = x->genesis->fee_asset;
    uint8_t salt[32], cm[32];
    int rc;

    if (fees == 0)
        return 0;
    if (fees > INT64_MAX) {
        snprintf(err, errlen, "block fees %" PRIu64 " exceed 2^63-1", fees);
        return -EOVERFLOW;
    }
    /* The salt is alpha_fee_salt(height), hashed again while taken (by
     * someone who gave the proposer exactly `fees` with it). */
    alpha_fee_salt(x->height, salt);
    if ((rc = record_fresh_salt(x->sql, x->proposer, fa, fees, salt, cm)) == -EINVAL) {
        snprintf(err, errlen, "fee asset '%s' is too long", fa);
        return rc;
    }
    if (rc == 0)
        rc = record_add(s, x->sql, cm, x->proposer, fa, fees, salt, x->height);
    if (rc < 0 && rc != -ENOMEM) {
        snprintf(err, errlen, "writing the fee record: %s", sql_errmsg(x->sql));
        return -EIO;
    }
    if (rc == 0)
        rc = supply_note(s, fa, (alpha_supply_delta_t){.unspent = (int64_t)fees, .records = 1});
    if (rc != 0) {
        snprintf(err, errlen, "records tree: out of memory");
        return rc;
    }
    return 0;
}

static int supply_change_cmp(const void *a, const void *b)
{
    return strcmp(((const alpha_supply_change_t *)a)->asset,
                  ((const alpha_supply_change_t *)b)->asset);
}

/* Add the n changes c (all of one asset) to the asset's supply row. 0,
 * -ERANGE (a total would leave 0..2^63-1: a bug), or the ledger's code. */
static int supply_write(sql_t *q, const alpha_supply_change_t *c, size_t n)
{
    enum { N_COLS = 5 };
    sqlite3_stmt *st = NULL;
    __extension__ __int128 v[N_COLS] = {0};
    int rc = sql_query(q, &st,
                       "SELECT unspent, records, burned, minted, bridged_in FROM supply "
                       "WHERE asset = ?", "t", c->asset);

    if (rc == 0 && (rc = sql_step(q, st)) == 1) {
        for (int k = 0; k < N_COLS; k++)
            v[k] = sqlite3_column_int64(st, k);
        rc = 0;
    }
    sql_release(q, st);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const alpha_supply_delta_t *d = &c[i].d;
        v[0] += d->unspent;
        v[1] += d->records;
        v[2] += d->burned;
        v[3] += d->minted;
        v[4] += d->bridged_in;
    }
    for (int k = 0; rc == 0 && k < N_COLS; k++)
        if (v[k] < 0 || v[k] > INT64_MAX)
            rc = -ERANGE;
    if (rc == 0)
        rc = sql_exec(q,
                      "INSERT INTO supply(asset, unspent, records, burned, minted, bridged_in) "
                      "VALUES (?, ?, ?, ?, ?, ?) "
                      "ON CONFLICT(asset) DO UPDATE SET unspent = excluded.unspent, "
                      "records = excluded.records, burned = excluded.burned, "
                      "minted = excluded.minted, bridged_in = excluded.bridged_in",
                      "tuuuuu", c->asset, (uint64_t)v[0], (uint64_t)v[1], (uint64_t)v[2],
                      (uint64_t)v[3], (uint64_t)v[4]);
    return rc;
}

/* Write the block's supply changes: one row per asset it touched. */
static int supply_flush(const alpha_state_t *s, sql_t *q, char *err, size_t errlen)
{
    alpha_supply_change_t *c;
    int rc = 0;

    if (s->n_supply == 0)
        return 0;
    if ((c = malloc(s->n_supply * sizeof *c)) == NULL) {
        snprintf(err, errlen, "supply: out of memory");
        return -ENOMEM;
    }
    memcpy(c, s->supply, s->n_supply * sizeof *c);
    qsort(c, s->n_supply, sizeof *c, supply_change_cmp);
    for (size_t i = 0, j; rc == 0 && i < s->n_supply; i = j) {
        for (j = i + 1; j < s->n_supply && strcmp(c[j].asset, c[i].asset) == 0; j++)
            ;
        if ((rc = supply_write(q, &c[i], j - i)) == -ERANGE)
            snprintf(err, errlen, "supply of %s would leave 0..2^63-1", c[i].asset);
        else if (rc < 0)
            snprintf(err, errlen, "writing the supply: %s", sql_errmsg(q));
    }
    free(c);
    return rc < 0 ? (rc == -ENOMEM ? rc : -EIO) : 0;
}

/* Pay the fees, then write what the block did to the supply. */
static int alpha_end_block(void *state, const chain_exec_t *x, uint64_t fees, char *err,
                           size_t errlen)
{
    alpha_state_t *s = state;
    int rc;

    if (s->broken) {
        snprintf(err, errlen, "out of memory (state journal)");
        return -ENOMEM;
    }
    if ((rc = alpha_pay_fees(s, x, fees, err, errlen)) != 0)
        return rc;
    return supply_flush(s, x->sql, err, errlen);
}

/* Rebuild both trees in memory from the tables as of height, telling
 * progress, and write the combined root into out. */
static int alpha_rebuild_root(sql_t *q, uint64_t height, const genesis_progress_t *progress,
                              uint8_t out[32], char *msg, size_t msglen)
{
    smt_t *rec = smt_new(), *nul = smt_new();
    tree_sink_t sink = {.progress = progress};
    uint8_t r[SMT_HASH_LEN], n[SMT_HASH_LEN];
    int rc = rec && nul ? 0 : -ENOMEM;

    if (rc == 0 && (rc = sql_u64(q, &sink.total,
                                 "SELECT (SELECT count(*) FROM records WHERE spent_height IS "
                                 "NULL) + (SELECT count(*) FROM nullifiers)", NULL)) < 0)
        snprintf(msg, msglen, "counting records: %s", sql_errmsg(q));
    if (rc == 0 && (sink.smt = rec, rc = tree_load(q, &RECORDS_SOURCE, height, &sink, msg,
                                                   msglen)) == 0)
        sink.smt = nul, rc = tree_load(q, &NULLIFIERS_SOURCE, height, &sink, msg, msglen);
    if (rc == 0) {
        smt_root(rec, r);
        smt_root(nul, n);
        alpha_state_root(r, n, out);
        if (progress && progress->fn)
            progress->fn(progress->ctx, sink.done, sink.total);
    } else if (rc == -ENOMEM) {
        snprintf(msg, msglen, "out of memory");
    }
    smt_free(rec);
    smt_free(nul);
    return rc;
}

/* Per asset: the supply row's five columns, then the same totals summed
 * over the tables, then what the genesis gave (its records, height 0).
 * ?1 is the fee asset, in which mint fees were issued. */
static const char SUPPLY_AUDIT[] =
    "WITH t(asset, u, n, b, m, bi, g) AS (SELECT asset, sum(u), sum(n), sum(b), sum(m), sum(bi),"
    "   sum(g) FROM ("
    "     SELECT asset, amount AS u, 1 AS n, 0 AS b, 0 AS m, 0 AS bi, 0 AS g FROM records"
    "       WHERE spent_height IS NULL"
    "     UNION ALL SELECT asset, 0, 0, amount, 0, 0, 0 FROM burns"
    "     UNION ALL SELECT asset, 0, 0, 0, amount, 0, 0 FROM mints"
    "     UNION ALL SELECT ?1, 0, 0, 0, fee, 0, 0 FROM mints WHERE fee > 0"
    "     UNION ALL SELECT r.asset, 0, 0, 0, 0, r.amount, 0 FROM bridge_mints"
    "       JOIN records AS r USING (commitment)"
    "     UNION ALL SELECT asset, 0, 0, 0, 0, 0, amount FROM records WHERE created_height = 0)"
    "   GROUP BY asset),"
    " a(asset) AS (SELECT asset FROM t UNION SELECT asset FROM supply)"
    " SELECT a.asset, coalesce(s.unspent, 0), coalesce(s.records, 0), coalesce(s.burned, 0),"
    "   coalesce(s.minted, 0), coalesce(s.bridged_in, 0), coalesce(t.u, 0), coalesce(t.n, 0),"
    "   coalesce(t.b, 0), coalesce(t.m, 0), coalesce(t.bi, 0), coalesce(t.g, 0)"
    " FROM a LEFT JOIN supply AS s USING (asset) LEFT JOIN t USING (asset) ORDER BY a.asset";

/* Check one row of SUPPLY_AUDIT: the table agrees with the sums, and
 * unspent = genesis + minted - burned + bridged_in. 0 or -EILSEQ with msg. */
static int supply_audit_row(sqlite3_stmt *st, char *msg, size_t msglen)
{
    static const char *const col[] = {"unspent", "records", "burned", "minted", "bridged_in"};
    const char *asset = (const char *)sqlite3_column_text(st, 0);
    sqlite3_int64 v[11];

    for (int k = 0; k < 11; k++)
        v[k] = sqlite3_column_int64(st, k + 1);
    for (int k = 0; k < 5; k++)
        if (v[k] != v[k + 5]) {
            snprintf(msg, msglen, "supply of %s: %s is %lld in the supply table but %lld in "
                     "the tables", asset, col[k], (long long)v[k], (long long)v[k + 5]);
            return -EILSEQ;
        }
    __extension__ __int128 want = (__int128)v[10] + v[3] - v[2] + v[4];
    if (want != v[0]) {
        snprintf(msg, msglen, "supply of %s: unspent %lld != genesis %lld + minted %lld - "
                 "burned %lld + bridged_in %lld", asset, (long long)v[0], (long long)v[10],
                 (long long)v[3], (long long)v[2], (long long)v[4]);
        return -EILSEQ;
    }
    return 0;
}

/* The supply table against the tables and the conservation rule
 * (docs/alpha.md), O(records). 0 (with the number of assets in *n),
 * -EILSEQ or -EIO, with msg. */
static int alpha_supply_verify(sql_t *q, const char *fee_asset, uint64_t *n, char *msg,
                               size_t msglen)
{
    sqlite3_stmt *st = NULL;
    int rc = sql_query(q, &st, SUPPLY_AUDIT, "t", fee_asset);

    *n = 0;
    while (rc == 0 && (rc = sql_step(q, st)) == 1 && (rc = supply_audit_row(st, msg, msglen)) == 0)
        (*n)++;
    if (rc < 0 && rc != -EILSEQ) {
        snprintf(msg, msglen, "ledger: reading the supply: %s", sql_errmsg(q));
        rc = -EIO;
    }
    sql_release(q, st);
    return rc;
}

/* chain_ops_t.state_verify: the trees rebuilt from the tables, the
 * persisted trees and the last header must give one state root, and the
 * supply table must agree with the tables and conserve value. */
static int alpha_state_verify(sql_t *q, const genesis_t *g, const genesis_progress_t *progress,
                              char *msg, size_t msglen)
{
    uint8_t hroot[32] = {0}, troot[32], rroot[32];
    uint64_t tip = 0;
    int rc;

    if (sql_exec(q, "BEGIN", NULL) < 0) {
        snprintf(msg, msglen, "ledger: %s", sql_errmsg(q));
        return -EIO;
    }
    if ((rc = tree_batch_header(q, &tip, hroot)) < 0)
        snprintf(msg, msglen, "ledger: reading the tip: %s", sql_errmsg(q));
    else if ((rc = alpha_tree_state_root(q, tip, troot, msg, msglen)) == 0 &&
             (rc = alpha_rebuild_root(q, tip, progress, rroot, msg, msglen)) == 0) {
        rc = tree_batch_verdict(tip, rroot, troot, hroot, msg, msglen);
    }
    uint64_t nrec = 0, nnul = 0;
    char walk[256];
    if (rc == 0 && ((rc = tree_batch_walk(q, ALPHA_TREE_NAME_RECORDS, tip, &nrec, walk, sizeof walk)) < 0 ||
                    (rc = tree_batch_walk(q, ALPHA_TREE_NAME_NULLIFIERS, tip, &nnul, walk, sizeof walk)) < 0))
        snprintf(msg, msglen, "%s", walk);
    if (rc == 0) { /* msg holds the trees' verdict: add the supply's */
        uint64_t nassets = 0;
        char verdict[CHAIN_ERR_MAX];
        snprintf(verdict, sizeof verdict, "%s", msg);
        if ((rc = alpha_supply_verify(q, g->fee_asset, &nassets, msg, msglen)) == 0)
            snprintf(msg, msglen, "%s; supply of %" PRIu64 " assets conserved", verdict, nassets);
    }
    sql_exec(q, "COMMIT", NULL);
    return rc == -ENOENT ? -EILSEQ : rc;
}

/* The header's state root is alpha_state_root(records, nullifiers). */
static const char *const alpha_state_trees[] = { ALPHA_TREE_NAME_RECORDS,
                                                 ALPHA_TREE_NAME_NULLIFIERS };

const chain_ops_t alpha_chain_ops = {
    .name = "alpha",
    .schema = &alpha_schema,
    .tx_kind_name = alpha_tx_kind_name,
    .genesis_check = alpha_genesis_check,
    .genesis_init = alpha_genesis_init,
    .state_open = alpha_state_open,
    .state_upgrade = alpha_state_upgrade,
    .state_prune = alpha_state_prune,
    .state_verify = alpha_state_verify,
    .state_close = alpha_state_close,
    .state_trees = alpha_state_trees,
    .n_state_trees = 2,
    .state_root_tag = "adnet/alpha/state/v2", /* alpha_state_root (proto/alpha_tx.c) */
    .state_root = alpha_state_root_fn,
    .state_mark = alpha_state_mark,
    .state_rollback = alpha_state_rollback,
    .state_commit = alpha_state_commit,
    .check_tx = alpha_check_tx,
    .apply_tx = alpha_apply_tx,
    .end_block = alpha_end_block,
    .bridge_outs = alpha_bridge_outs,
    .bridge_mint = alpha_bridge_mint,
    .routes = alpha_routes,
    .n_routes = ALPHA_N_ROUTES,
};
