/* Delta's state machine: accounts, transfers, the AMM and staking; see
 * delta_chain.h and docs/delta.md. Every amount is a u64 stored as a
 * SQLite INTEGER, so no stored amount exceeds INT64_MAX; every sum and
 * product is checked (products in 128 bits), and every rounding favours
 * the pool. */
#include "delta-worker/delta_chain.h"

#include <errno.h>
#include <inttypes.h>
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
#include "common/store/tree_bulk.h"

__extension__ typedef unsigned __int128 u128;
__extension__ typedef __int128 i128;

#define NONCE_WINDOW 64 /* admission accepts nonces in [nonce, nonce + NONCE_WINDOW) */
#define AMOUNT_MAX ((uint64_t)INT64_MAX)

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

static const char delta_sql_v3[] =
    "CREATE TABLE pools (\n"
    "  asset_a TEXT NOT NULL,              -- canonical order: asset_a < asset_b\n"
    "  asset_b TEXT NOT NULL,\n"
    "  reserve_a INTEGER NOT NULL CHECK (reserve_a >= 0),\n"
    "  reserve_b INTEGER NOT NULL CHECK (reserve_b >= 0),\n"
    "  shares INTEGER NOT NULL CHECK (shares >= 0), -- incl. 1000 locked forever\n"
    "  fee_bps INTEGER NOT NULL CHECK (fee_bps BETWEEN 0 AND 1000),\n"
    "  created_height INTEGER NOT NULL,\n"
    "  PRIMARY KEY (asset_a, asset_b)\n"
    ");\n"
    "CREATE TABLE lp_shares (\n"
    "  asset_a TEXT NOT NULL,\n"
    "  asset_b TEXT NOT NULL,\n"
    "  owner TEXT NOT NULL REFERENCES accounts(address), -- lowercase hex key\n"
    "  shares INTEGER NOT NULL CHECK (shares >= 0),\n"
    "  PRIMARY KEY (asset_a, asset_b, owner),\n"
    "  FOREIGN KEY (asset_a, asset_b) REFERENCES pools(asset_a, asset_b)\n"
    ");\n"
    "CREATE TABLE stakes (\n"
    "  address TEXT PRIMARY KEY REFERENCES accounts(address),\n"
    "  staked INTEGER NOT NULL CHECK (staked >= 0) -- in the fee asset\n"
    ");\n"
    "CREATE TABLE unbonding (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  address TEXT NOT NULL REFERENCES accounts(address),\n"
    "  amount INTEGER NOT NULL CHECK (amount > 0),\n"
    "  release_height INTEGER NOT NULL    -- back to the balance at the end of this block\n"
    ");\n"
    "CREATE INDEX unbonding_release ON unbonding(release_height);\n"
    "CREATE INDEX unbonding_address ON unbonding(address);\n";

/* Where each asset's supply sits, so that /supply reads a few rows, not
 * every balance: written at genesis and once per block (end_block) from
 * the changes the block's transactions noted in the state. Staking is in
 * the fee asset, a genesis param the SQL does not know: its totals have a
 * row of their own. Filled here from the tables for older ledgers. */
static const char delta_sql_v4[] =
    "CREATE TABLE supply (\n"
    "  asset TEXT PRIMARY KEY,\n"
    "  balances INTEGER NOT NULL CHECK (balances >= 0), -- sum of balances.amount\n"
    "  pools INTEGER NOT NULL CHECK (pools >= 0)        -- sum of the pools' reserves\n"
    ");\n"
    "CREATE TABLE supply_staking (\n"
    "  id INTEGER PRIMARY KEY CHECK (id = 1),            -- one row\n"
    "  staked INTEGER NOT NULL CHECK (staked >= 0),     -- sum of stakes.staked\n"
    "  unbonding INTEGER NOT NULL CHECK (unbonding >= 0) -- sum of unbonding.amount\n"
    ");\n"
    "INSERT INTO supply(asset, balances, pools)\n"
    "  SELECT asset, sum(b), sum(p) FROM (\n"
    "    SELECT asset, amount AS b, 0 AS p FROM balances\n"
    "    UNION ALL SELECT asset_a, 0, reserve_a FROM pools\n"
    "    UNION ALL SELECT asset_b, 0, reserve_b FROM pools)\n"
    "  GROUP BY asset;\n"
    "INSERT INTO supply_staking(id, staked, unbonding) VALUES (1,\n"
    "  (SELECT coalesce(sum(staked), 0) FROM stakes),\n"
    "  (SELECT coalesce(sum(amount), 0) FROM unbonding));\n";

/* Migration 7: an account's pool shares found by owner (each account a
 * block touches is read whole to make its leaf; without the index that
 * read scanned every pool share). */
static const char delta_sql_v7[] = "CREATE INDEX lp_shares_owner ON lp_shares(owner);\n";

/* Migration 11: the bridge. bridge_outs lists each bridge_out transaction
 * (coins burnt here for alpha), found by height for the attestations
 * (chain_ops_t.bridge_outs); supply counts per asset what left and what
 * arrived (minted from bridge_in), so that balances + pools + staked +
 * unbonding = genesis - bridged_out + bridged_in. */
static const char delta_sql_v11[] =
    "CREATE TABLE bridge_outs (\n"
    "  txid TEXT PRIMARY KEY,                -- hex id of the bridge_out transaction\n"
    "  height INTEGER NOT NULL,              -- its block\n"
    "  idx INTEGER NOT NULL,                 -- its position in the block\n"
    "  sender TEXT NOT NULL,                 -- hex key debited here\n"
    "  asset TEXT NOT NULL,\n"
    "  amount INTEGER NOT NULL CHECK (amount > 0),\n"
    "  recipient TEXT NOT NULL               -- hex key credited on alpha\n"
    ");\n"
    "CREATE INDEX bridge_outs_height ON bridge_outs(height, idx);\n"
    "ALTER TABLE supply ADD COLUMN bridged_out INTEGER NOT NULL DEFAULT 0\n"
    "  CHECK (bridged_out >= 0);             -- sum of bridge_outs.amount\n"
    "ALTER TABLE supply ADD COLUMN bridged_in INTEGER NOT NULL DEFAULT 0\n"
    "  CHECK (bridged_in >= 0);              -- sum minted from bridge_in\n";

/* Migration 5: the state tree kept in the ledger (common/store/tree.h);
 * delta_state_upgrade fills it from the tables at the first open.
 * Migration 6: its node table in its new key order; delta_state_upgrade
 * moves the rows (tree_upgrade). Migration 8: the mempool's copy
 * (common/store/pooltab.h). Migration 9: the verified headers of the
 * peer chain (common/store/peertab.h). Migration 10: bridge transfers
 * arriving from it (common/store/bridgetab.h). Migration 11: the bridge
 * out, and the bridge's supply columns (above). */
static const ledger_migration_t delta_migrations[] = {
    {1, LEDGER_SQL_BASE_V1},
    {2, delta_sql_v2},
    {3, delta_sql_v3},
    {4, delta_sql_v4},
    {5, TREE_SQL_V1},
    {6, TREE_SQL_V2},
    {7, delta_sql_v7},
    {8, POOLTAB_SQL_V1},
    {9, PEERTAB_SQL_V1},
    {10, BRIDGETAB_SQL_V1},
    {11, delta_sql_v11},
    {12, GOVTAB_SQL_V1},
};

static const ledger_schema_t delta_schema = {delta_migrations, 12};

/* One change to an asset's row of the supply table, noted while a block
 * is built and written in end_block. */
typedef struct {
    char asset[DELTA_ASSET_MAX + 1];
    int64_t balances;       /* change of the asset's total in balances */
    int64_t pools;          /* change of its total in pool reserves */
    int64_t bridged_out;    /* burnt by bridge_out (>= 0) */
    int64_t bridged_in;     /* minted by bridge_mint (>= 0) */
} delta_supply_change_t;

/* What delta_state_mark remembers. */
typedef struct {
    size_t tree;            /* tree_batch_mark of the pool updates */
    size_t n_supply;        /* delta_state_t.n_supply */
    int64_t staked, unbonding;
} delta_mark_t;

#define MARK_NONE UINT64_MAX

typedef struct {
    /* The block's pool updates of the persisted tree; state_root adds the
     * dirty accounts' leaves and writes it all at the block's height. */
    tree_batch_t tree;
    uint64_t version;          /* the tree's latest committed version: the tip's height */
    /* Accounts changed in the block being built: their leaves are
     * recomputed from the tables when the root is asked for, not at
     * every change. Recomputing is idempotent, so a rolled-back change
     * may stay listed; the list is emptied when the block commits. */
    uint8_t (*dirty)[DELTA_KEY_LEN];
    size_t n_dirty, cap_dirty;
    uint64_t unbonding_blocks; /* genesis params.unbonding_blocks */
    /* This block's supply changes (staking's in two sums), undone with the marks. */
    delta_supply_change_t *supply;
    size_t n_supply, cap_supply;
    int64_t staked, unbonding;
    delta_mark_t *marks;       /* index = the value state_mark returned */
    size_t n_marks, cap_marks;
    bool broken;               /* a mark could not be recorded: refuse changes until a rollback */
} delta_state_t;

/* Copy a TEXT column of at most DELTA_ASSET_MAX bytes; -EIO otherwise. */
static int col_asset(sqlite3_stmt *st, int col, char out[DELTA_ASSET_MAX + 1])
{
    const unsigned char *s = sqlite3_column_text(st, col);
    int n = sqlite3_column_bytes(st, col);
    if (!s || n <= 0 || n > DELTA_ASSET_MAX)
        return -EIO;
    memcpy(out, s, (size_t)n);
    out[n] = '\0';
    return 0;
}

static int col_u64(sqlite3_stmt *st, int col, uint64_t *out)
{
    sqlite3_int64 v = sqlite3_column_int64(st, col);
    if (v < 0)
        return -EIO;
    *out = (uint64_t)v;
    return 0;
}

/* ---- account and pool reads ---- */

/* Grow *arr (elements of sz) so that it holds at least n + 1. */
static int grow(void **arr, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 4;
    void *p = realloc(*arr, ncap * sz);
    if (!p)
        return -ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

void delta_account_rows_free(delta_account_rows_t *a)
{
    if (!a)
        return;
    free(a->balances);
    free(a->unbonding);
    free(a->lp);
    a->balances = NULL;
    a->unbonding = NULL;
    a->lp = NULL;
    a->n_balances = a->n_unbonding = a->n_lp = 0;
}

void delta_account_view(const delta_account_rows_t *a, delta_account_t *out)
{
    memset(out, 0, sizeof *out);
    memcpy(out->pk, a->pk, DELTA_KEY_LEN);
    out->nonce = a->nonce;
    out->balances = a->balances;
    out->n_balances = a->n_balances;
    out->staked = a->staked;
    out->unbonding = a->unbonding;
    out->n_unbonding = a->n_unbonding;
    out->lp = a->lp;
    out->n_lp = a->n_lp;
}

/* SQL failures surface from these reads as -EIO (or -ENOMEM), as their
 * contracts say; the message stays on q. */
static int read_error(int r)
{
    return r == -ENOMEM ? r : -EIO;
}

/* Fill the element at out from the current row of st: 0 or -EIO. */
typedef int (*row_fn)(sqlite3_stmt *st, void *out);

static int balance_row(sqlite3_stmt *st, void *out)
{
    delta_balance_t *b = out;
    return col_asset(st, 0, b->asset) < 0 || col_u64(st, 1, &b->amount) < 0 ? -EIO : 0;
}

static int unbond_row(sqlite3_stmt *st, void *out)
{
    delta_unbond_t *u = out;
    return col_u64(st, 0, &u->amount) < 0 || col_u64(st, 1, &u->release_height) < 0 ? -EIO : 0;
}

static int lp_row(sqlite3_stmt *st, void *out)
{
    delta_lp_t *l = out;
    return col_asset(st, 0, l->asset_a) < 0 || col_asset(st, 1, l->asset_b) < 0 ||
                   col_u64(st, 2, &l->shares) < 0
               ? -EIO
               : 0;
}

/* Append the rows of sql (bound to pk) to the array *arr of *n elements of sz. */
static int load_rows(sql_t *q, const char *sql, const uint8_t pk[DELTA_KEY_LEN], void **arr,
                     size_t *n, size_t sz, row_fn fn)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int r = sql_query(q, &st, sql, "k", pk);
    int row = r; /* a query that cannot start fails as a step would */

    while (r == 0 && (row = sql_step(q, st)) == 1) {
        if ((r = grow(arr, &cap, *n, sz)) == 0 && (r = fn(st, (char *)*arr + *n * sz)) == 0)
            (*n)++;
    }
    sql_release(q, st);
    if (row < 0)
        return read_error(row);
    return r;
}

int delta_account_load(sql_t *q, const uint8_t pk[DELTA_KEY_LEN], delta_account_rows_t *out)
{
    delta_account_rows_t a;
    int r;

    memset(&a, 0, sizeof a);
    memcpy(a.pk, pk, DELTA_KEY_LEN);
    if ((r = sql_u64(q, &a.nonce, "SELECT nonce FROM accounts WHERE address = ?", "k", pk)) ==
        -ENOENT)
        r = 0;
    if (r == 0 &&
        (r = sql_u64(q, &a.staked, "SELECT staked FROM stakes WHERE address = ?", "k", pk)) ==
            -ENOENT)
        r = 0;
    if (r < 0) {
        r = read_error(r);
        goto out;
    }
    if ((r = load_rows(q, "SELECT asset, amount FROM balances WHERE address = ? AND amount > 0 "
                          "ORDER BY asset",
                       pk, (void **)&a.balances, &a.n_balances, sizeof *a.balances,
                       balance_row)) < 0 ||
        (r = load_rows(q, "SELECT amount, release_height FROM unbonding WHERE address = ? "
                          "ORDER BY release_height, amount",
                       pk, (void **)&a.unbonding, &a.n_unbonding, sizeof *a.unbonding,
                       unbond_row)) < 0 ||
        (r = load_rows(q, "SELECT asset_a, asset_b, shares FROM lp_shares WHERE owner = ? AND "
                          "shares > 0 ORDER BY asset_a, asset_b",
                       pk, (void **)&a.lp, &a.n_lp, sizeof *a.lp, lp_row)) < 0)
        goto out;
    *out = a;
    memset(&a, 0, sizeof a);
out:
    delta_account_rows_free(&a);
    return r;
}

static int pool_from_row(sqlite3_stmt *st, delta_pool_row_t *p)
{
    uint64_t fee = 0;
    if (col_asset(st, 0, p->asset_a) < 0 || col_asset(st, 1, p->asset_b) < 0 ||
        col_u64(st, 2, &p->reserve_a) < 0 || col_u64(st, 3, &p->reserve_b) < 0 ||
        col_u64(st, 4, &p->shares) < 0 || col_u64(st, 5, &fee) < 0 ||
        col_u64(st, 6, &p->created_height) < 0 || fee > DELTA_FEE_BPS_MAX)
        return -EIO;
    p->fee_bps = (uint16_t)fee;
    return 0;
}

#define POOL_COLUMNS "asset_a, asset_b, reserve_a, reserve_b, shares, fee_bps, created_height"

int delta_pool_load(sql_t *q, const char *asset_a, const char *asset_b, delta_pool_row_t *out)
{
    sqlite3_stmt *st = NULL;
    delta_pool_row_t p;
    int r = sql_query(q, &st, "SELECT " POOL_COLUMNS " FROM pools WHERE asset_a = ? AND asset_b = ?",
                      "tt", asset_a, asset_b);

    if (r == 0)
        r = sql_step(q, st);
    if (r == 1)
        r = pool_from_row(st, &p);
    else if (r == 0)
        r = -ENOENT;
    else
        r = read_error(r);
    sql_release(q, st);
    if (r == 0)
        *out = p;
    return r;
}

/* ---- the tree ---- */

/* Where leaves go: an in-memory tree (rebuilds), a batch of updates, or
 * a bulk load (a tree's first version). */
typedef struct {
    smt_t *smt;                        /* or NULL */
    tree_batch_t *batch;               /* or NULL */
    tree_bulk_t *bulk;                 /* when both are NULL */
    const genesis_progress_t *progress; /* may be NULL */
    uint64_t done, total;              /* rows put so far, of total, for progress */
} leaf_sink_t;

static int sink_set(leaf_sink_t *t, const uint8_t key[32], const uint8_t *val)
{
    int r;
    if (t->progress && t->progress->fn && ++t->done % GENESIS_PROGRESS_EVERY == 0)
        t->progress->fn(t->progress->ctx, t->done, t->total);
    if (t->bulk) /* a first version: an empty account is simply not there */
        return val ? tree_bulk_put(t->bulk, key, val) : 0;
    if (!t->smt)
        return val ? tree_batch_put(t->batch, key, val) : tree_batch_remove(t->batch, key);
    r = val ? smt_set(t->smt, key, val) : smt_delete(t->smt, key);
    return r == -ENOENT ? 0 : r;
}

/* Recompute pk's leaf from the tables and put it in (or, if empty, take it out of) t. */
static int tree_touch_account(leaf_sink_t *t, sql_t *q, const uint8_t pk[DELTA_KEY_LEN])
{
    delta_account_rows_t a;
    delta_account_t v;
    uint8_t key[DELTA_HASH_LEN], val[DELTA_HASH_LEN];
    int r;

    if ((r = delta_account_load(q, pk, &a)) < 0)
        return r;
    delta_account_view(&a, &v);
    delta_account_key(pk, key);
    if (delta_account_is_empty(&v)) {
        r = sink_set(t, key, NULL);
    } else if ((r = delta_account_leaf(&v, val)) == 0) {
        r = sink_set(t, key, val);
    } else if (r == -EINVAL) {
        r = -EIO; /* a stored asset name no transaction could have written */
    }
    delta_account_rows_free(&a);
    return r;
}

static int tree_set_pool(leaf_sink_t *t, const delta_pool_row_t *p)
{
    uint8_t key[DELTA_HASH_LEN], val[DELTA_HASH_LEN];
    delta_pool_key(p->asset_a, p->asset_b, key);
    if (delta_pool_leaf(p->asset_a, p->asset_b, p->reserve_a, p->reserve_b, p->shares,
                        p->fee_bps, val) < 0)
        return -EIO;
    return sink_set(t, key, val);
}

/* Put the account of the current row of st (its hex address) into t. */
static int tree_add_account(leaf_sink_t *t, sql_t *q, sqlite3_stmt *st)
{
    uint8_t pk[DELTA_KEY_LEN];
    const char *hx = (const char *)sqlite3_column_text(st, 0);
    if (!hx || hex_decode(pk, DELTA_KEY_LEN, hx) < 0)
        return -EIO;
    return tree_touch_account(t, q, pk);
}

/* Put the pool of the current row of st into t. */
static int tree_add_pool(leaf_sink_t *t, sql_t *q, sqlite3_stmt *st)
{
    delta_pool_row_t p;
    (void)q;
    return pool_from_row(st, &p) < 0 ? -EIO : tree_set_pool(t, &p);
}

/* Add each row of sql to t with add. */
static int tree_add_rows(leaf_sink_t *t, sql_t *q, const char *sql,
                         int (*add)(leaf_sink_t *, sql_t *, sqlite3_stmt *))
{
    sqlite3_stmt *st = NULL;
    int r = sql_prepare(q, sql, &st);
    int row = r; /* a query that cannot start fails as a step would */

    while (r == 0 && (row = sql_step(q, st)) == 1)
        r = add(t, q, st);
    sql_release(q, st);
    if (row < 0)
        return read_error(row);
    return r;
}

/* Put every account's and pool's leaf into sink. */
static int tree_add_all(leaf_sink_t *sink, sql_t *q)
{
    int r = sql_u64(q, &sink->total,
                    "SELECT (SELECT count(*) FROM accounts) + (SELECT count(*) FROM pools)", NULL);

    if (r < 0)
        return read_error(r);
    if ((r = tree_add_rows(sink, q, "SELECT address FROM accounts ORDER BY address",
                           tree_add_account)) < 0 ||
        (r = tree_add_rows(sink, q, "SELECT " POOL_COLUMNS " FROM pools ORDER BY asset_a, asset_b",
                           tree_add_pool)) < 0)
        return r;
    if (sink->progress && sink->progress->fn)
        sink->progress->fn(sink->progress->ctx, sink->done, sink->total);
    return 0;
}

/* delta_tree_build, telling progress. */
static int tree_build_progress(sql_t *q, const genesis_progress_t *progress, smt_t **out)
{
    leaf_sink_t sink = {.smt = smt_new(), .progress = progress};
    int r;

    if (!sink.smt)
        return -ENOMEM;
    if ((r = tree_add_all(&sink, q)) < 0) {
        smt_free(sink.smt);
        return r;
    }
    *out = sink.smt;
    return 0;
}

int delta_tree_build(sql_t *q, smt_t **out)
{
    return tree_build_progress(q, NULL, out);
}

/* ---- arithmetic ---- */

/* floor(sqrt(n)), bit by bit. */
static uint64_t isqrt128(u128 n)
{
    u128 x = 0, bit = (u128)1 << 126;
    while (bit > n)
        bit >>= 2;
    while (bit != 0) {
        if (n >= x + bit) {
            n -= x + bit;
            x = (x >> 1) + bit;
        } else {
            x >>= 1;
        }
        bit >>= 2;
    }
    return (uint64_t)x;
}

/* floor(a * x / d) for x < d < 2^126 (so the result is < a), without the
 * 192-bit product: binary long division keeping q*d + rem = prefix(a)*x. */
static uint64_t mul_div_lt(uint64_t a, u128 x, u128 d)
{
    u128 q = 0, rem = 0;
    for (int i = 63; i >= 0; i--) {
        q <<= 1;
        rem <<= 1;
        if (rem >= d) {
            q++;
            rem -= d;
        }
        if ((a >> i) & 1) {
            rem += x;
            if (rem >= d) {
                q++;
                rem -= d;
            }
        }
    }
    return (uint64_t)q;
}

/* ---- execution ---- */

/* A balance as the running transaction sees it (see balance_get). */
typedef struct {
    uint8_t pk[DELTA_KEY_LEN];
    char asset[DELTA_ASSET_MAX + 1];
    uint64_t amount;         /* 0 when there is no row */
    bool row;                /* the row exists */
    bool pending;            /* amount is still to be written over the row's */
} bal_slot_t;

#define BAL_SLOTS 8          /* more than any one transaction touches */
#define KNOWN_ACCOUNTS 4

typedef struct {
    delta_state_t *st;
    const chain_exec_t *x;
    sql_t *sql;              /* x->sql */
    reject_t *why;
    const char *fee_asset;
    uint64_t fee;            /* this transaction's fee */
    const uint8_t *sender;
    bool admission;          /* a check only: the tree is left alone */
    /* What this execution has already read or written, so that it is not
     * asked of SQLite twice; forgotten with the exec_t. */
    bal_slot_t bal[BAL_SLOTS];
    size_t n_bal;
    uint8_t known[KNOWN_ACCOUNTS][DELTA_KEY_LEN]; /* accounts whose row exists */
    size_t n_known;
} exec_t;

static int internal(reject_t *why, sql_t *q, int r)
{
    if (r == -ENOMEM)
        return reject(why, -ENOMEM, "internal", "out of memory");
    return reject(why, -EIO, "internal", "ledger: %s", sql_errmsg(q));
}

/* Note one change of an asset's supply row; the notes are written at the
 * end of the block. Admission notes nothing: it undoes whatever it tries. */
static int supply_push(exec_t *e, const char *asset, delta_supply_change_t c)
{
    delta_state_t *st = e->st;

    if (e->admission)
        return 0;
    if (st->n_supply == st->cap_supply) {
        size_t cap = st->cap_supply ? 2 * st->cap_supply : 64;
        delta_supply_change_t *v = realloc(st->supply, cap * sizeof *v);
        if (!v)
            return internal(e->why, e->sql, -ENOMEM);
        st->supply = v;
        st->cap_supply = cap;
    }
    snprintf(c.asset, sizeof c.asset, "%s", asset);
    st->supply[st->n_supply++] = c;
    return 0;
}

/* Note that asset's total in balances and in pool reserves changed. */
static int supply_note(exec_t *e, const char *asset, int64_t balances, int64_t pools)
{
    return supply_push(e, asset, (delta_supply_change_t){.balances = balances, .pools = pools});
}

/* Note that amounts of asset left delta (out) or arrived (in) by the
 * bridge; their balances are noted by balance_sub and balance_add. */
static int bridge_note(exec_t *e, const char *asset, uint64_t out, uint64_t in)
{
    return supply_push(e, asset, (delta_supply_change_t){.bridged_out = (int64_t)out,
                                                         .bridged_in = (int64_t)in});
}

/* Note that the staked and unbonding totals (the fee asset) changed. */
static void stake_note(exec_t *e, int64_t staked, int64_t unbonding)
{
    if (e->admission)
        return;
    e->st->staked += staked;
    e->st->unbonding += unbonding;
}

static bool account_known(const exec_t *e, const uint8_t *pk)
{
    for (size_t i = 0; i < e->n_known; i++)
        if (memcmp(e->known[i], pk, DELTA_KEY_LEN) == 0)
            return true;
    return false;
}

static void account_note(exec_t *e, const uint8_t *pk)
{
    if (e->n_known < KNOWN_ACCOUNTS && !account_known(e, pk))
        memcpy(e->known[e->n_known++], pk, DELTA_KEY_LEN);
}

/* Make sure pk has an accounts row (nonce 0 if new). */
static int account_ensure(exec_t *e, const uint8_t *pk)
{
    int r;
    if (account_known(e, pk))
        return 0;
    r = sql_exec(e->sql, "INSERT OR IGNORE INTO accounts(address, nonce) VALUES (?, 0)", "k", pk);
    if (r == 0)
        account_note(e, pk);
    return r;
}

/* Remember pk's balance of asset as read (row: the row exists); NULL
 * when the slots are full. */
static bal_slot_t *balance_remember(exec_t *e, const uint8_t *pk, const char *asset,
                                    uint64_t amount, bool row)
{
    if (e->n_bal == BAL_SLOTS || strlen(asset) > DELTA_ASSET_MAX)
        return NULL;
    bal_slot_t *b = &e->bal[e->n_bal++];
    memcpy(b->pk, pk, DELTA_KEY_LEN);
    strcpy(b->asset, asset);
    b->amount = amount;
    b->row = row;
    b->pending = false;
    return b;
}

/* pk's balance of asset: the table is read once per execution, then the
 * slot follows every change made through balance_sub and balance_add (the
 * only code that touches balances while a transaction runs). A row read
 * also proves pk's accounts row exists (foreign key). *slot is NULL when
 * the slots are full; the caller then reads and writes the table as is. */
static int balance_get(exec_t *e, const uint8_t *pk, const char *asset, uint64_t *out,
                       bal_slot_t **slot)
{
    int r;
    for (size_t i = 0; i < e->n_bal; i++) {
        bal_slot_t *b = &e->bal[i];
        if (memcmp(b->pk, pk, DELTA_KEY_LEN) == 0 && strcmp(b->asset, asset) == 0) {
            *out = b->amount;
            *slot = b;
            return 0;
        }
    }
    r = sql_u64(e->sql, out, "SELECT amount FROM balances WHERE address = ? AND asset = ?", "kt",
                pk, asset);
    if (r == 0)
        account_note(e, pk);
    else if (r == -ENOENT)
        *out = 0;
    else
        return r;
    *slot = balance_remember(e, pk, asset, *out, r == 0);
    return 0;
}

/* The sender's nonce (0 without an account) and balance of the fee asset,
 * in one statement: without an accounts row there is no balances row. */
static int sender_load(exec_t *e, uint64_t *nonce, uint64_t *feebal)
{
    sqlite3_stmt *st = NULL;
    uint64_t n = 0, b = 0;
    bool row = false;
    int r = sql_query(e->sql, &st,
                      "SELECT a.nonce, b.amount FROM accounts AS a LEFT JOIN balances AS b "
                      "ON b.address = a.address AND b.asset = ?2 WHERE a.address = ?1",
                      "kt", e->sender, e->fee_asset);

    if (r == 0 && (r = sql_step(e->sql, st)) == 1) {
        row = sqlite3_column_type(st, 1) != SQLITE_NULL;
        if ((sqlite3_column_type(st, 0) != SQLITE_NULL && col_u64(st, 0, &n) < 0) ||
            (row && col_u64(st, 1, &b) < 0))
            r = -EIO;
        else
            account_note(e, e->sender);
    }
    sql_release(e->sql, st);
    if (r < 0)
        return r;
    balance_remember(e, e->sender, e->fee_asset, b, row);
    *nonce = n;
    *feebal = b;
    return 0;
}

/* Write the amounts balance_sub and balance_add left pending. Each is an
 * UPDATE of a row that exists and stays, so writing it late (and once)
 * moves no row and changes nothing another statement of the transaction
 * reads in between. */
static int balance_flush(exec_t *e)
{
    for (size_t i = 0; i < e->n_bal; i++) {
        bal_slot_t *b = &e->bal[i];
        if (!b->pending)
            continue;
        int r = sql_exec(e->sql, "UPDATE balances SET amount = ? WHERE address = ? AND asset = ?",
                         "ukt", b->amount, b->pk, b->asset);
        if (r < 0)
            return r;
        b->pending = false;
    }
    return 0;
}

/* Refuse an amount of 0 (unless allow_zero) or above INT64_MAX. */
static int amount_check(reject_t *why, const char *name, uint64_t v, bool allow_zero)
{
    if (v == 0 && !allow_zero)
        return reject(why, -EINVAL, "bad_amount", "%s must be positive", name);
    if (v > AMOUNT_MAX)
        return reject(why, -EINVAL, "bad_amount", "%s %" PRIu64 " exceeds 2^63-1", name, v);
    return 0;
}

/* Can the sender pay amount of asset, plus the fee when asset is the fee asset? */
static int afford(exec_t *e, const char *asset, uint64_t amount)
{
    uint64_t bal;
    bal_slot_t *slot;
    int r = balance_get(e, e->sender, asset, &bal, &slot);
    if (r < 0)
        return internal(e->why, e->sql, r);
    bool with_fee = strcmp(asset, e->fee_asset) == 0;
    u128 need = (u128)amount + (with_fee ? e->fee : 0);
    if ((u128)bal < need) {
        if (with_fee)
            return reject(e->why, -EINVAL, "overspend",
                          "balance %" PRIu64 " %s < amount %" PRIu64 " + fee %" PRIu64, bal,
                          asset, amount, e->fee);
        return reject(e->why, -EINVAL, "overspend", "balance %" PRIu64 " %s < amount %" PRIu64,
                      bal, asset, amount);
    }
    return 0;
}

/* A new amount for slot's row, written later by balance_flush: the row
 * exists and stays, so writing it late (and once) changes nothing another
 * statement of the transaction reads in between. */
static void slot_pending(bal_slot_t *slot, uint64_t amount)
{
    slot->amount = amount;
    slot->pending = true;
}

/* The amount just written to the table (row: the row still exists), if slot. */
static void slot_written(bal_slot_t *slot, uint64_t amount, bool row)
{
    if (!slot)
        return;
    slot->amount = amount;
    slot->row = row;
    slot->pending = false;
}

static int balance_sub(exec_t *e, const uint8_t *pk, const char *asset, uint64_t amount)
{
    uint64_t bal;
    bal_slot_t *slot;
    int r;
    if (amount == 0)
        return 0;
    if ((r = balance_get(e, pk, asset, &bal, &slot)) < 0)
        return internal(e->why, e->sql, r);
    if (bal < amount)
        return reject(e->why, -EINVAL, "overspend", "balance %" PRIu64 " %s < %" PRIu64, bal,
                      asset, amount);
    if ((r = supply_note(e, asset, -(int64_t)amount, 0)) < 0)
        return r;
    if (slot && bal > amount) {
        slot_pending(slot, bal - amount);
        return 0;
    }
    if (bal == amount)
        r = sql_exec(e->sql, "DELETE FROM balances WHERE address = ? AND asset = ?", "kt", pk,
                     asset);
    else
        r = sql_exec(e->sql, "UPDATE balances SET amount = ? WHERE address = ? AND asset = ?",
                     "ukt", bal - amount, pk, asset);
    if (r < 0)
        return internal(e->why, e->sql, r);
    slot_written(slot, bal - amount, bal > amount);
    return 0;
}

static int balance_add(exec_t *e, const uint8_t *pk, const char *asset, uint64_t amount)
{
    uint64_t bal;
    bal_slot_t *slot;
    int r;
    if (amount == 0)
        return 0;
    if ((r = balance_get(e, pk, asset, &bal, &slot)) < 0)
        return internal(e->why, e->sql, r);
    if (amount > AMOUNT_MAX - bal)
        return reject(e->why, -EINVAL, "overflow",
                      "balance %" PRIu64 " %s + %" PRIu64 " exceeds 2^63-1", bal, asset, amount);
    if ((r = supply_note(e, asset, (int64_t)amount, 0)) < 0)
        return r;
    if (slot && slot->row) {
        slot_pending(slot, bal + amount);
        return 0;
    }
    if ((r = account_ensure(e, pk)) < 0 ||
        (r = sql_exec(e->sql,
                      "INSERT INTO balances(address, asset, amount) VALUES (?, ?, ?) "
                      "ON CONFLICT(address, asset) DO UPDATE SET amount = excluded.amount",
                      "ktu", pk, asset, bal + amount)) < 0)
        return internal(e->why, e->sql, r);
    slot_written(slot, bal + amount, true);
    return 0;
}

static int touch_account(exec_t *e, const uint8_t *pk)
{
    delta_state_t *st = e->st;
    if (e->admission)
        return 0;
    /* A transaction touches the same few accounts again and again; a
     * duplicate further back is dropped by delta_state_root. */
    for (size_t i = st->n_dirty, seen = 0; i-- > 0 && seen < 8; seen++)
        if (memcmp(st->dirty[i], pk, DELTA_KEY_LEN) == 0)
            return 0;
    if (st->n_dirty == st->cap_dirty) {
        size_t cap = st->cap_dirty ? 2 * st->cap_dirty : 256;
        void *d = realloc(st->dirty, cap * DELTA_KEY_LEN);
        if (!d)
            return internal(e->why, e->sql, -ENOMEM);
        st->dirty = d;
        st->cap_dirty = cap;
    }
    memcpy(st->dirty[st->n_dirty++], pk, DELTA_KEY_LEN);
    return 0;
}

static int pool_get(exec_t *e, const char *a, const char *b, delta_pool_row_t *p)
{
    int r = delta_pool_load(e->sql, a, b, p);
    if (r == -ENOENT)
        return reject(e->why, -EINVAL, "no_pool", "no pool %s/%s", a, b);
    if (r < 0)
        return internal(e->why, e->sql, r);
    if (p->reserve_a == 0 || p->reserve_b == 0 || p->shares == 0)
        return reject(e->why, -EINVAL, "internal", "pool %s/%s is empty", a, b);
    return 0;
}

static int pool_put(exec_t *e, const delta_pool_row_t *p)
{
    int r = sql_exec(e->sql,
                     "UPDATE pools SET reserve_a = ?, reserve_b = ?, shares = ? "
                     "WHERE asset_a = ? AND asset_b = ?",
                     "uuutt", p->reserve_a, p->reserve_b, p->shares, p->asset_a, p->asset_b);
    if (r == 0)
        r = tree_set_pool(&(leaf_sink_t){.batch = &e->st->tree}, p);
    return r < 0 ? internal(e->why, e->sql, r) : 0;
}

static int lp_get(exec_t *e, const char *a, const char *b, const uint8_t *pk, uint64_t *out)
{
    int r = sql_u64(e->sql, out,
                    "SELECT shares FROM lp_shares WHERE asset_a = ? AND asset_b = ? AND owner = ?",
                    "ttk", a, b, pk);
    if (r == -ENOENT) {
        *out = 0;
        r = 0;
    }
    return r < 0 ? internal(e->why, e->sql, r) : 0;
}

static int lp_set(exec_t *e, const char *a, const char *b, const uint8_t *pk, uint64_t shares)
{
    int r;
    if (shares == 0)
        r = sql_exec(e->sql, "DELETE FROM lp_shares WHERE asset_a = ? AND asset_b = ? AND owner = ?",
                     "ttk", a, b, pk);
    else
        r = sql_exec(e->sql,
                     "INSERT INTO lp_shares(asset_a, asset_b, owner, shares) VALUES (?, ?, ?, ?) "
                     "ON CONFLICT(asset_a, asset_b, owner) DO UPDATE SET shares = excluded.shares",
                     "ttku", a, b, pk, shares);
    return r < 0 ? internal(e->why, e->sql, r) : 0;
}

static int do_transfer(exec_t *e, const delta_transfer_t *t)
{
    int r;
    if ((r = amount_check(e->why, "amount", t->amount, false)) < 0 ||
        (r = afford(e, t->asset, t->amount)) < 0 ||
        (r = balance_sub(e, e->sender, t->asset, t->amount)) < 0 ||
        (r = balance_add(e, t->to, t->asset, t->amount)) < 0)
        return r;
    return touch_account(e, t->to);
}

/* Burn amount of asset from the sender for t->to on alpha: the debit of a
 * transfer without its credit, and a bridge_outs row that the attestation
 * of this block reads (chain_ops_t.bridge_outs). Admission without a
 * transaction id (a check only) writes no row. */
static int do_bridge_out(exec_t *e, const delta_transfer_t *t)
{
    int r;
    if ((r = amount_check(e->why, "amount", t->amount, false)) < 0 ||
        (r = afford(e, t->asset, t->amount)) < 0 ||
        (r = balance_sub(e, e->sender, t->asset, t->amount)) < 0 ||
        (r = bridge_note(e, t->asset, t->amount, 0)) < 0)
        return r;
    if (!e->x->txid && e->admission)
        return 0;
    if (!e->x->txid)
        return reject(e->why, -EINVAL, "internal", "bridge_out without a transaction id");
    r = sql_exec(e->sql,
                 "INSERT INTO bridge_outs(txid, height, idx, sender, asset, amount, recipient) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?)",
                 "kuuktuk", e->x->txid, e->x->height, (uint64_t)e->x->index, e->sender,
                 t->asset, t->amount, t->to);
    return r < 0 ? internal(e->why, e->sql, r) : 0;
}

static int do_pool_create(exec_t *e, const delta_pool_create_t *c)
{
    delta_pool_row_t p;
    int r;
    if ((r = amount_check(e->why, "amount_a", c->amount_a, false)) < 0 ||
        (r = amount_check(e->why, "amount_b", c->amount_b, false)) < 0)
        return r;
    r = delta_pool_load(e->sql, c->asset_a, c->asset_b, &p);
    if (r == 0)
        return reject(e->why, -EINVAL, "pool_exists", "pool %s/%s exists", c->asset_a,
                      c->asset_b);
    if (r != -ENOENT)
        return internal(e->why, e->sql, r);
    uint64_t shares = isqrt128((u128)c->amount_a * c->amount_b);
    if (shares <= DELTA_MINIMUM_LIQUIDITY)
        return reject(e->why, -EINVAL, "bad_amount",
                      "initial shares floor(sqrt(%" PRIu64 " * %" PRIu64 ")) = %" PRIu64
                      " must exceed the %d locked shares",
                      c->amount_a, c->amount_b, shares, DELTA_MINIMUM_LIQUIDITY);
    if ((r = afford(e, c->asset_a, c->amount_a)) < 0 ||
        (r = afford(e, c->asset_b, c->amount_b)) < 0 ||
        (r = balance_sub(e, e->sender, c->asset_a, c->amount_a)) < 0 ||
        (r = balance_sub(e, e->sender, c->asset_b, c->amount_b)) < 0 ||
        (r = supply_note(e, c->asset_a, 0, (int64_t)c->amount_a)) < 0 ||
        (r = supply_note(e, c->asset_b, 0, (int64_t)c->amount_b)) < 0)
        return r;
    memset(&p, 0, sizeof p);
    snprintf(p.asset_a, sizeof p.asset_a, "%s", c->asset_a);
    snprintf(p.asset_b, sizeof p.asset_b, "%s", c->asset_b);
    p.reserve_a = c->amount_a;
    p.reserve_b = c->amount_b;
    p.shares = shares;
    p.fee_bps = c->fee_bps;
    p.created_height = e->x->height;
    if ((r = sql_exec(e->sql,
                      "INSERT INTO pools(asset_a, asset_b, reserve_a, reserve_b, shares, fee_bps, "
                      "created_height) VALUES (?, ?, ?, ?, ?, ?, ?)",
                      "ttuuuuu", p.asset_a, p.asset_b, p.reserve_a, p.reserve_b, p.shares,
                      (uint64_t)p.fee_bps, p.created_height)) < 0 ||
        (r = account_ensure(e, e->sender)) < 0 || (r = tree_set_pool(&(leaf_sink_t){.batch = &e->st->tree}, &p)) < 0)
        return internal(e->why, e->sql, r);
    return lp_set(e, p.asset_a, p.asset_b, e->sender, shares - DELTA_MINIMUM_LIQUIDITY);
}

static int do_liquidity_add(exec_t *e, const delta_liquidity_add_t *a)
{
    delta_pool_row_t p;
    uint64_t owned;
    int r;
    if ((r = amount_check(e->why, "max_a", a->max_a, true)) < 0 ||
        (r = amount_check(e->why, "max_b", a->max_b, true)) < 0 ||
        (r = pool_get(e, a->asset_a, a->asset_b, &p)) < 0)
        return r;
    u128 sa = (u128)a->max_a * p.shares / p.reserve_a;
    u128 sb = (u128)a->max_b * p.shares / p.reserve_b;
    u128 s = sa < sb ? sa : sb;
    if (s == 0)
        return reject(e->why, -EINVAL, "bad_amount",
                      "deposit of at most %" PRIu64 " %s and %" PRIu64 " %s buys 0 of %" PRIu64
                      " shares (reserves %" PRIu64 " / %" PRIu64 ")",
                      a->max_a, p.asset_a, a->max_b, p.asset_b, p.shares, p.reserve_a,
                      p.reserve_b);
    if (s > AMOUNT_MAX - p.shares)
        return reject(e->why, -EINVAL, "overflow", "pool shares %" PRIu64 " would exceed 2^63-1",
                      p.shares);
    uint64_t shares = (uint64_t)s;
    if (shares < a->min_shares)
        return reject(e->why, -EINVAL, "slippage",
                      "deposit mints %" PRIu64 " shares < min_shares %" PRIu64, shares,
                      a->min_shares);
    /* ceil(shares * r / S): the depositor rounds up, the pool never loses. */
    uint64_t amt_a = (uint64_t)(((u128)shares * p.reserve_a + p.shares - 1) / p.shares);
    uint64_t amt_b = (uint64_t)(((u128)shares * p.reserve_b + p.shares - 1) / p.shares);
    if (amt_a > a->max_a || amt_b > a->max_b)
        return reject(e->why, -EINVAL, "internal",
                      "deposit %" PRIu64 "/%" PRIu64 " exceeds max %" PRIu64 "/%" PRIu64, amt_a,
                      amt_b, a->max_a, a->max_b);
    if (amt_a > AMOUNT_MAX - p.reserve_a || amt_b > AMOUNT_MAX - p.reserve_b)
        return reject(e->why, -EINVAL, "overflow", "pool reserves would exceed 2^63-1");
    if ((r = afford(e, p.asset_a, amt_a)) < 0 || (r = afford(e, p.asset_b, amt_b)) < 0 ||
        (r = lp_get(e, p.asset_a, p.asset_b, e->sender, &owned)) < 0)
        return r;
    if (shares > AMOUNT_MAX - owned)
        return reject(e->why, -EINVAL, "overflow", "lp shares would exceed 2^63-1");
    if ((r = balance_sub(e, e->sender, p.asset_a, amt_a)) < 0 ||
        (r = balance_sub(e, e->sender, p.asset_b, amt_b)) < 0 ||
        (r = supply_note(e, p.asset_a, 0, (int64_t)amt_a)) < 0 ||
        (r = supply_note(e, p.asset_b, 0, (int64_t)amt_b)) < 0)
        return r;
    p.reserve_a += amt_a;
    p.reserve_b += amt_b;
    p.shares += shares;
    if ((r = pool_put(e, &p)) < 0)
        return r;
    if ((r = account_ensure(e, e->sender)) < 0)
        return internal(e->why, e->sql, r);
    return lp_set(e, p.asset_a, p.asset_b, e->sender, owned + shares);
}

static int do_liquidity_remove(exec_t *e, const delta_liquidity_remove_t *rm)
{
    delta_pool_row_t p;
    uint64_t owned;
    int r;
    if ((r = amount_check(e->why, "shares", rm->shares, false)) < 0 ||
        (r = pool_get(e, rm->asset_a, rm->asset_b, &p)) < 0 ||
        (r = lp_get(e, p.asset_a, p.asset_b, e->sender, &owned)) < 0)
        return r;
    if (owned < rm->shares)
        return reject(e->why, -EINVAL, "overspend",
                      "lp shares %" PRIu64 " in %s/%s < %" PRIu64, owned, p.asset_a, p.asset_b,
                      rm->shares);
    if (rm->shares >= p.shares) /* the locked minimum keeps S above any owner's shares */
        return reject(e->why, -EINVAL, "internal", "shares %" PRIu64 " >= pool shares %" PRIu64,
                      rm->shares, p.shares);
    /* floor(shares * r / S): the withdrawer rounds down. */
    uint64_t out_a = (uint64_t)((u128)rm->shares * p.reserve_a / p.shares);
    uint64_t out_b = (uint64_t)((u128)rm->shares * p.reserve_b / p.shares);
    if (out_a == 0 && out_b == 0)
        return reject(e->why, -EINVAL, "bad_amount",
                      "burning %" PRIu64 " of %" PRIu64 " shares returns nothing", rm->shares,
                      p.shares);
    if (out_a < rm->min_a)
        return reject(e->why, -EINVAL, "slippage",
                      "withdrawal returns %" PRIu64 " %s < min_a %" PRIu64, out_a, p.asset_a,
                      rm->min_a);
    if (out_b < rm->min_b)
        return reject(e->why, -EINVAL, "slippage",
                      "withdrawal returns %" PRIu64 " %s < min_b %" PRIu64, out_b, p.asset_b,
                      rm->min_b);
    p.reserve_a -= out_a;
    p.reserve_b -= out_b;
    p.shares -= rm->shares;
    if ((r = pool_put(e, &p)) < 0 ||
        (r = lp_set(e, p.asset_a, p.asset_b, e->sender, owned - rm->shares)) < 0 ||
        (r = balance_add(e, e->sender, p.asset_a, out_a)) < 0 ||
        (r = balance_add(e, e->sender, p.asset_b, out_b)) < 0 ||
        (r = supply_note(e, p.asset_a, 0, -(int64_t)out_a)) < 0 ||
        (r = supply_note(e, p.asset_b, 0, -(int64_t)out_b)) < 0)
        return r;
    return 0;
}

static int do_swap(exec_t *e, const delta_swap_t *s)
{
    delta_pool_row_t p;
    int r;
    bool in_is_a = strcmp(s->asset_in, s->asset_out) < 0;
    const char *a = in_is_a ? s->asset_in : s->asset_out;
    const char *b = in_is_a ? s->asset_out : s->asset_in;
    if ((r = amount_check(e->why, "amount_in", s->amount_in, false)) < 0 ||
        (r = pool_get(e, a, b, &p)) < 0)
        return r;
    uint64_t r_in = in_is_a ? p.reserve_a : p.reserve_b;
    uint64_t r_out = in_is_a ? p.reserve_b : p.reserve_a;
    u128 in_after_fee = (u128)s->amount_in * (uint64_t)(DELTA_BPS_DENOM - p.fee_bps);
    u128 denom = (u128)r_in * DELTA_BPS_DENOM + in_after_fee;
    uint64_t out = mul_div_lt(r_out, in_after_fee, denom);
    if (out == 0)
        return reject(e->why, -EINVAL, "slippage",
                      "%" PRIu64 " %s buys 0 %s (reserves %" PRIu64 " / %" PRIu64 ")",
                      s->amount_in, s->asset_in, s->asset_out, r_in, r_out);
    if (out < s->min_out)
        return reject(e->why, -EINVAL, "slippage",
                      "%" PRIu64 " %s buys %" PRIu64 " %s < min_out %" PRIu64, s->amount_in,
                      s->asset_in, out, s->asset_out, s->min_out);
    if (s->amount_in > AMOUNT_MAX - r_in)
        return reject(e->why, -EINVAL, "overflow",
                      "reserve %" PRIu64 " %s + %" PRIu64 " exceeds 2^63-1", r_in, s->asset_in,
                      s->amount_in);
    if (out >= r_out ||
        (u128)(r_in + s->amount_in) * (r_out - out) < (u128)r_in * r_out)
        return reject(e->why, -EINVAL, "internal",
                      "swap would lower the constant product of %s/%s", a, b);
    if ((r = afford(e, s->asset_in, s->amount_in)) < 0 ||
        (r = balance_sub(e, e->sender, s->asset_in, s->amount_in)) < 0 ||
        (r = supply_note(e, s->asset_in, 0, (int64_t)s->amount_in)) < 0 ||
        (r = supply_note(e, s->asset_out, 0, -(int64_t)out)) < 0)
        return r;
    if (in_is_a) {
        p.reserve_a += s->amount_in;
        p.reserve_b -= out;
    } else {
        p.reserve_b += s->amount_in;
        p.reserve_a -= out;
    }
    if ((r = pool_put(e, &p)) < 0)
        return r;
    return balance_add(e, e->sender, s->asset_out, out);
}

static int do_stake(exec_t *e, uint64_t amount)
{
    uint64_t staked = 0;
    int r;
    if ((r = amount_check(e->why, "amount", amount, false)) < 0 ||
        (r = afford(e, e->fee_asset, amount)) < 0)
        return r;
    r = sql_u64(e->sql, &staked, "SELECT staked FROM stakes WHERE address = ?", "k", e->sender);
    if (r < 0 && r != -ENOENT)
        return internal(e->why, e->sql, r);
    if (amount > AMOUNT_MAX - staked)
        return reject(e->why, -EINVAL, "overflow",
                      "stake %" PRIu64 " + %" PRIu64 " exceeds 2^63-1", staked, amount);
    if ((r = balance_sub(e, e->sender, e->fee_asset, amount)) < 0)
        return r;
    if ((r = sql_exec(e->sql,
                      "INSERT INTO stakes(address, staked) VALUES (?, ?) "
                      "ON CONFLICT(address) DO UPDATE SET staked = excluded.staked",
                      "ku", e->sender, staked + amount)) < 0)
        return internal(e->why, e->sql, r);
    stake_note(e, (int64_t)amount, 0);
    return 0;
}

static int do_unstake(exec_t *e, uint64_t amount)
{
    uint64_t staked = 0, ub = e->st->unbonding_blocks;
    int r;
    if ((r = amount_check(e->why, "amount", amount, false)) < 0)
        return r;
    r = sql_u64(e->sql, &staked, "SELECT staked FROM stakes WHERE address = ?", "k", e->sender);
    if (r < 0 && r != -ENOENT)
        return internal(e->why, e->sql, r);
    if (staked < amount)
        return reject(e->why, -EINVAL, "overspend",
                      "staked %" PRIu64 " %s < amount %" PRIu64, staked, e->fee_asset, amount);
    if (ub > AMOUNT_MAX - e->x->height)
        return reject(e->why, -EINVAL, "overflow",
                      "release height %" PRIu64 " + %" PRIu64 " exceeds 2^63-1", e->x->height,
                      ub);
    if (staked == amount)
        r = sql_exec(e->sql, "DELETE FROM stakes WHERE address = ?", "k", e->sender);
    else
        r = sql_exec(e->sql, "UPDATE stakes SET staked = ? WHERE address = ?", "uk",
                     staked - amount, e->sender);
    if (r == 0)
        r = sql_exec(e->sql,
                     "INSERT INTO unbonding(address, amount, release_height) VALUES (?, ?, ?)",
                     "kuu", e->sender, amount, e->x->height + ub);
    if (r < 0)
        return internal(e->why, e->sql, r);
    stake_note(e, -(int64_t)amount, (int64_t)amount);
    return 0;
}

/* Decode tx's payload into *p and check what needs no ledger: the payload's
 * own rules and the fee. */
static int tx_shape(const tx_t *tx, delta_payload_t *p, reject_t *why)
{
    const char *what = "payload", *reason = "";
    int r = delta_payload_decode(p, tx->kind, tx->payload, tx->payload_len, &what);

    if (r == -EPROTONOSUPPORT)
        return reject(why, -EINVAL, "unknown_kind", "unknown delta transaction kind %u",
                      (unsigned)tx->kind);
    if (r < 0)
        return reject(why, -EINVAL, "malformed", "%s payload does not decode: %s %s",
                      delta_kind_name(tx->kind), what ? what : "payload",
                      r == -EMSGSIZE ? "truncated" : "invalid");
    if (delta_payload_check(p, &what, &reason) < 0)
        return reject(why, -EINVAL, strcmp(what, "fee_bps") == 0 ? "bad_amount" : "bad_asset",
                      "%s: %s", what, reason);
    return amount_check(why, "fee", tx->fee, true);
}

/* The sender's nonce and fee: a block takes exactly the next nonce
 * (-EAGAIN for one ahead), admission any within the window. */
static int tx_nonce_and_fee(exec_t *e, const tx_t *tx, uint64_t nonce, uint64_t feebal)
{
    if (tx->nonce < nonce)
        return reject(e->why, -EINVAL, "bad_nonce",
                      "nonce %" PRIu64 " already used (account nonce %" PRIu64 ")", tx->nonce,
                      nonce);
    if (e->admission && tx->nonce - nonce >= NONCE_WINDOW)
        return reject(e->why, -EINVAL, "bad_nonce",
                      "nonce %" PRIu64 " is %d or more ahead of account nonce %" PRIu64,
                      tx->nonce, NONCE_WINDOW, nonce);
    if (!e->admission && tx->nonce > nonce)
        return reject(e->why, -EAGAIN, "bad_nonce",
                      "nonce %" PRIu64 " is ahead of account nonce %" PRIu64 ", not yet",
                      tx->nonce, nonce);
    if (nonce >= AMOUNT_MAX)
        return reject(e->why, -EINVAL, "overflow", "account nonce %" PRIu64 " exhausted", nonce);
    if (feebal < tx->fee)
        return reject(e->why, -EINVAL, "overspend", "balance %" PRIu64 " %s < fee %" PRIu64,
                      feebal, e->fee_asset, tx->fee);
    return 0;
}

/* What the payload's kind does. */
static int tx_effect(exec_t *e, const delta_payload_t *p)
{
    switch (p->kind) {
    case DELTA_TX_TRANSFER:
        return do_transfer(e, &p->u.transfer);
    case DELTA_TX_POOL_CREATE:
        return do_pool_create(e, &p->u.pool_create);
    case DELTA_TX_LIQUIDITY_ADD:
        return do_liquidity_add(e, &p->u.liquidity_add);
    case DELTA_TX_LIQUIDITY_REMOVE:
        return do_liquidity_remove(e, &p->u.liquidity_remove);
    case DELTA_TX_SWAP:
        return do_swap(e, &p->u.swap);
    case DELTA_TX_STAKE:
        return do_stake(e, p->u.stake.amount);
    case DELTA_TX_UNSTAKE:
        return do_unstake(e, p->u.stake.amount);
    case DELTA_TX_BRIDGE_OUT:
        return do_bridge_out(e, &p->u.transfer);
    default:
        return reject(e->why, -EINVAL, "unknown_kind", "unknown delta transaction kind %u",
                      (unsigned)p->kind);
    }
}

/* Charge the fee, write the pending balances, bump the sender's nonce. */
static int tx_finish(exec_t *e, const tx_t *tx, uint64_t nonce)
{
    int r;

    if ((r = balance_sub(e, tx->sender, e->fee_asset, tx->fee)) < 0)
        return r;
    if ((r = balance_flush(e)) < 0)
        return internal(e->why, e->sql, r);
    /* The account now exists whatever the kind did (it paid, or at least
     * bumped its nonce): the upsert is INSERT OR IGNORE then UPDATE. */
    if (account_known(e, tx->sender))
        r = sql_exec(e->sql, "UPDATE accounts SET nonce = ? WHERE address = ?", "uk", nonce + 1,
                     tx->sender);
    else
        r = sql_exec(e->sql,
                     "INSERT INTO accounts(address, nonce) VALUES (?, ?) "
                     "ON CONFLICT(address) DO UPDATE SET nonce = excluded.nonce",
                     "ku", tx->sender, nonce + 1);
    if (r < 0)
        return internal(e->why, e->sql, r);
    return touch_account(e, tx->sender);
}

/* Decode, check and apply tx. At admission (admission = true) a nonce
 * ahead of the account's (within the window) is accepted and checked
 * against the current balances; the caller undoes every change. */
static int execute(delta_state_t *st, const chain_exec_t *x, const tx_t *tx, reject_t *why,
                   bool admission)
{
    delta_payload_t p;
    exec_t e = {.st = st, .x = x, .sql = x->sql, .why = why, .fee_asset = x->genesis->fee_asset,
                .fee = tx->fee, .sender = tx->sender, .admission = admission};
    uint64_t nonce = 0, feebal = 0;
    int r;

    if (!admission && st->broken)
        return reject(why, -ENOMEM, "internal", "out of memory (state journal)");
    if ((r = tx_shape(tx, &p, why)) < 0)
        return r;
    if ((r = sender_load(&e, &nonce, &feebal)) < 0)
        return internal(why, x->sql, r);
    if ((r = tx_nonce_and_fee(&e, tx, nonce, feebal)) < 0 || (r = tx_effect(&e, &p)) < 0)
        return r;
    return tx_finish(&e, tx, nonce);
}

/* ---- chain_ops ---- */

static const char *delta_tx_kind_name(uint16_t kind)
{
    return delta_kind_name(kind);
}

/* What the genesis balances are written with. */
typedef struct {
    sql_t *q;
    uint8_t last[DELTA_KEY_LEN];  /* the owner written last: a file lists an owner's assets together */
    bool has_last;
} delta_genesis_ctx_t;

/* One genesis balance (genesis_balance_fn): the account and its balance.
 * A second balance of the same owner and asset hits the primary key. */
static int genesis_balance(void *ctx, uint64_t index, const genesis_balance_t *b, char *err,
                           size_t errlen)
{
    delta_genesis_ctx_t *gc = ctx;
    int r = 0;

    (void)index;
    if (b->amount == 0)
        return 0; /* zero balances are not kept */
    if (!gc->has_last || memcmp(gc->last, b->owner, DELTA_KEY_LEN) != 0)
        r = sql_exec(gc->q, "INSERT OR IGNORE INTO accounts(address, nonce) VALUES (?, 0)", "k",
                     b->owner);
    if (r == 0) {
        memcpy(gc->last, b->owner, DELTA_KEY_LEN);
        gc->has_last = true;
        r = sql_exec(gc->q, "INSERT INTO balances(address, asset, amount) VALUES (?, ?, ?)", "ktu",
                     b->owner, b->asset, b->amount);
    }
    if (r == -EEXIST)
        return r;
    if (r < 0)
        snprintf(err, errlen, "writing genesis accounts: %s", sql_errmsg(gc->q));
    return r < 0 ? (r == -ENOMEM ? r : -EIO) : 0;
}

/* The accounts and balances of the genesis, then one supply row per asset
 * (the iterator refuses an asset whose balances add up to more than
 * 2^63-1, keeping every later sum in range). */
static int delta_genesis_init(sql_t *q, const genesis_t *g, const genesis_progress_t *progress,
                              char *err, size_t errlen)
{
    delta_genesis_ctx_t gc = {.q = q};
    genesis_totals_t totals = {0};
    int r = genesis_balances_foreach(g, genesis_balance, &gc, progress, &totals, err, errlen);

    for (size_t i = 0; r == 0 && i < totals.n; i++)
        if (totals.v[i].amount > 0 &&
            sql_exec(q, "INSERT INTO supply(asset, balances, pools) VALUES (?, ?, 0)", "tu",
                     totals.v[i].asset, totals.v[i].amount) < 0) {
            snprintf(err, errlen, "writing the genesis supply: %s", sql_errmsg(q));
            r = -EIO;
        }
    genesis_totals_free(&totals);
    return r;
}

int delta_genesis_check(const genesis_t *g, char *err, size_t errlen)
{
    uint64_t v;
    if (genesis_param_u64(g, DELTA_PARAM_UNBONDING_BLOCKS, &v) == -EINVAL) {
        snprintf(err, errlen, "genesis params.%s: expected a non-negative integer",
                 DELTA_PARAM_UNBONDING_BLOCKS);
        return -EINVAL;
    }
    return 0;
}

/* Build the tree from the tables as of the tip and write it as the
 * tip's version, in one transaction of its own, if the ledger has none
 * (chain_ops_t.state_upgrade). The leaves are sorted in a temporary
 * table (tree_bulk.h), so memory does not grow with the accounts. */
static int delta_state_upgrade(sql_t *q, const genesis_t *g, const genesis_progress_t *progress,
                               char *err, size_t errlen)
{
    uint64_t latest = 0, tip = 0;
    uint8_t root[DELTA_HASH_LEN];
    tree_bulk_t b = {0};
    leaf_sink_t sink = {.bulk = &b, .progress = progress};
    int r = tree_upgrade(q, progress ? progress->fn : NULL, progress ? progress->ctx : NULL);

    (void)g;
    if (r < 0) {
        snprintf(err, errlen, "moving the tree nodes to their new layout: %s", sql_errmsg(q));
        return r;
    }
    if ((r = tree_latest(q, DELTA_TREE_NAME, &latest)) != -ENOENT) {
        if (r < 0)
            snprintf(err, errlen, "reading the accounts tree: %s", sql_errmsg(q));
        return r;
    }
    if ((r = sql_exec(q, "BEGIN IMMEDIATE", NULL)) < 0) {
        snprintf(err, errlen, "ledger: %s", sql_errmsg(q));
        return r;
    }
    if ((r = tree_batch_header(q, &tip, root)) < 0 ||
        (r = tree_bulk_begin(&b, q, DELTA_TREE_NAME)) < 0 || (r = tree_add_all(&sink, q)) < 0 ||
        (r = tree_bulk_finish(&b, tip, progress ? progress->fn : NULL,
                              progress ? progress->ctx : NULL, root)) < 0 ||
        (r = sql_exec(q, "COMMIT", NULL)) < 0) {
        snprintf(err, errlen, "writing the accounts tree from the tables: %s",
                 r == -ENOMEM ? "out of memory" : sql_errmsg(q));
        sql_exec(q, "ROLLBACK", NULL);
    }
    tree_bulk_end(&b);
    return r;
}

/* Start-up check, O(1) rows: the tree stands at the tip and its root is
 * the last header's. -EILSEQ otherwise (the ledger is refused, untouched). */
static int delta_state_check(sql_t *q, uint64_t *tip, char *err, size_t errlen)
{
    uint8_t hroot[DELTA_HASH_LEN], troot[DELTA_HASH_LEN];
    char hx[2 * DELTA_HASH_LEN + 1], tx[2 * DELTA_HASH_LEN + 1];
    int r = tree_batch_header(q, tip, hroot);

    if (r < 0) {
        snprintf(err, errlen, "ledger: reading the tip: %s", sql_errmsg(q));
        return r == -EILSEQ ? r : -EIO;
    }
    if ((r = tree_batch_check_tip(q, DELTA_TREE_NAME, *tip, troot, err, errlen)) < 0)
        return r == -ENOENT ? -EILSEQ : r;
    if (*tip == 0 || memcmp(hroot, troot, DELTA_HASH_LEN) == 0)
        return 0;
    hex_encode(hx, hroot, DELTA_HASH_LEN);
    hex_encode(tx, troot, DELTA_HASH_LEN);
    snprintf(err, errlen,
             "ledger: the accounts tree's root at height %" PRIu64 " is %s but the block header "
             "says %s; run adnet verify-ledger, or restore a backup", *tip, tx, hx);
    return -EILSEQ;
}

static int delta_state_open(void **state, sql_t *q, const genesis_t *g, char *err,
                            size_t errlen)
{
    delta_state_t *st = calloc(1, sizeof *st);
    int r;
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if ((r = delta_genesis_check(g, err, errlen)) < 0) {
        free(st);
        return r;
    }
    st->unbonding_blocks = DELTA_DEFAULT_UNBONDING_BLOCKS;
    genesis_param_u64(g, DELTA_PARAM_UNBONDING_BLOCKS, &st->unbonding_blocks);
    tree_batch_init(&st->tree, DELTA_TREE_NAME);
    /* a ledger whose tree was never written (made by tests without
     * chain_open) gets it here, without progress */
    if ((r = delta_state_upgrade(q, g, NULL, err, errlen)) < 0 ||
        (r = delta_state_check(q, &st->version, err, errlen)) < 0) {
        free(st);
        return r;
    }
    *state = st;
    return 0;
}

static void delta_state_close(void *state)
{
    delta_state_t *st = state;
    if (!st)
        return;
    tree_batch_free(&st->tree);
    free(st->dirty);
    free(st->supply);
    free(st->marks);
    free(st);
}

static int key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, DELTA_KEY_LEN);
}

/* The dirty accounts' leaves, recomputed from the tables, join the
 * block's pool updates for as long as the batch is written at the
 * block's height (the tip's + 1); the root is the tree's. */
static int delta_state_root(void *state, sql_t *q, uint8_t out[BLOCK_HASH_LEN])
{
    delta_state_t *st = state;
    leaf_sink_t sink = {.batch = st ? &st->tree : NULL};
    size_t mark;
    int r = 0;

    if (!st)
        return -EIO;
    mark = tree_batch_mark(&st->tree);
    /* Each account once: the root does not depend on the order. */
    if (st->n_dirty > 1)
        qsort(st->dirty, st->n_dirty, sizeof *st->dirty, key_cmp);
    for (size_t i = 0; r == 0 && i < st->n_dirty; i++)
        if (i == 0 || memcmp(st->dirty[i], st->dirty[i - 1], DELTA_KEY_LEN) != 0)
            r = tree_touch_account(&sink, q, st->dirty[i]);
    if (r == 0)
        r = tree_batch_apply(&st->tree, q, st->version + 1, out);
    tree_batch_truncate(&st->tree, mark); /* the accounts are recomputed at each call */
    return r < 0 ? (r == -ENOMEM ? r : -EIO) : 0;
}

/* chain_ops_t.state_prune: the heights below keep_from. */
static int delta_state_prune(void *state, sql_t *q, uint64_t keep_from, size_t budget)
{
    size_t done = 0;
    (void)state;
    return tree_prune(q, DELTA_TREE_NAME, keep_from, budget, &done);
}

static uint64_t delta_state_mark(void *state)
{
    delta_state_t *st = state;
    if (st->n_marks == st->cap_marks) {
        size_t cap = st->cap_marks ? 2 * st->cap_marks : 64;
        delta_mark_t *m = realloc(st->marks, cap * sizeof *m);
        if (!m) {
            /* execute and end_block refuse to change anything while
             * broken, so rolling back to MARK_NONE (a no-op) is exact. */
            st->broken = true;
            return MARK_NONE;
        }
        st->marks = m;
        st->cap_marks = cap;
    }
    st->marks[st->n_marks] = (delta_mark_t){tree_batch_mark(&st->tree), st->n_supply, st->staked,
                                            st->unbonding};
    return st->n_marks++;
}

static void delta_state_rollback(void *state, uint64_t mark)
{
    delta_state_t *st = state;
    if (mark >= st->n_marks)
        return;
    const delta_mark_t *m = &st->marks[mark];
    tree_batch_truncate(&st->tree, m->tree);
    st->n_supply = m->n_supply;
    st->staked = m->staked;
    st->unbonding = m->unbonding;
    st->n_marks = (size_t)mark + 1; /* the mark stays valid, like a SQLite savepoint */
    st->broken = false;
}

static void delta_state_commit(void *state)
{
    delta_state_t *st = state;
    if (st->tree.written) { /* else the updates wait for the next written version */
        st->version = st->tree.version;
        tree_batch_clear(&st->tree);
        st->n_dirty = 0;
    }
    st->n_marks = 0;
    st->n_supply = 0;
    st->staked = st->unbonding = 0;
    st->broken = false;
}

/* Admission runs the very code of apply inside a savepoint that it always
 * rolls back (and the tree journal with it), so that what admission
 * accepts and what a block applies cannot drift apart. */
static int delta_check_tx(void *state, const chain_exec_t *x, const tx_t *tx, reject_t *why)
{
    delta_state_t *st = state;
    int r;
    if (sql_exec(x->sql, "SAVEPOINT delta_check", NULL) < 0)
        return internal(why, x->sql, -EIO);
    size_t mark = tree_batch_mark(&st->tree);
    r = execute(st, x, tx, why, true);
    tree_batch_truncate(&st->tree, mark);
    if ((sql_exec(x->sql, "ROLLBACK TO delta_check", NULL) < 0 ||
         sql_exec(x->sql, "RELEASE delta_check", NULL) < 0) &&
        r == 0)
        r = internal(why, x->sql, -EIO);
    return r;
}

static int delta_apply_tx(void *state, const chain_exec_t *x, const tx_t *tx, reject_t *why)
{
    return execute(state, x, tx, why, false);
}

/* The oldest unbonding entry released by this block, if any: 1 and its
 * owner, id and amount, 0 if none, or a negative code. */
static int unbond_next(exec_t *e, uint8_t pk[DELTA_KEY_LEN], uint64_t *id, uint64_t *amount)
{
    sqlite3_stmt *st = NULL;
    int r = sql_query(e->sql, &st,
                      "SELECT id, address, amount FROM unbonding WHERE release_height <= ? "
                      "ORDER BY id LIMIT 1",
                      "u", e->x->height);

    if (r == 0 && (r = sql_step(e->sql, st)) == 1) {
        const char *hx = (const char *)sqlite3_column_text(st, 1);
        if (!hx || hex_decode(pk, DELTA_KEY_LEN, hx) < 0 || col_u64(st, 0, id) < 0 ||
            col_u64(st, 2, amount) < 0)
            r = -EIO;
    }
    sql_release(e->sql, st);
    return r;
}

/* Matured unbonding entries go back to their owners' balances. */
static int unbond_release(exec_t *e)
{
    uint8_t pk[DELTA_KEY_LEN];
    uint64_t id = 0, amount = 0;
    int r;

    while ((r = unbond_next(e, pk, &id, &amount)) == 1) {
        if ((r = sql_exec(e->sql, "DELETE FROM unbonding WHERE id = ?", "u", id)) < 0)
            return internal(e->why, e->sql, r);
        if ((r = balance_add(e, pk, e->fee_asset, amount)) < 0 || (r = touch_account(e, pk)) < 0)
            return r;
        stake_note(e, 0, -(int64_t)amount);
    }
    return r < 0 ? internal(e->why, e->sql, r) : 0;
}

/* The net change of one asset's supply row over a block. */
typedef struct {
    const char *asset;
    i128 balances, pools, bridged_out, bridged_in;
} supply_net_t;

/* Add the net change v (|v| <= 2^63-1) as *add - *sub, both in range. */
static int net_split(i128 v, uint64_t *add, uint64_t *sub)
{
    if (v > AMOUNT_MAX || -v > AMOUNT_MAX)
        return -ERANGE;
    *add = v > 0 ? (uint64_t)v : 0;
    *sub = v < 0 ? (uint64_t)-v : 0;
    return 0;
}

/* Add n's change to its asset's supply row, or make the row; the CHECKs
 * refuse a total below 0. */
static int supply_apply(exec_t *e, const supply_net_t *n)
{
    uint64_t b_add, b_sub, p_add, p_sub, o_add, o_sub, i_add, i_sub;
    int r;
    if (n->balances == 0 && n->pools == 0 && n->bridged_out == 0 && n->bridged_in == 0)
        return 0;
    if (net_split(n->balances, &b_add, &b_sub) < 0 || net_split(n->pools, &p_add, &p_sub) < 0 ||
        net_split(n->bridged_out, &o_add, &o_sub) < 0 ||
        net_split(n->bridged_in, &i_add, &i_sub) < 0)
        return reject(e->why, -EIO, "internal", "supply change of %s out of range", n->asset);
    r = sql_exec(e->sql,
                 "UPDATE supply SET balances = balances + ?2 - ?3, pools = pools + ?4 - ?5, "
                 "bridged_out = bridged_out + ?6 - ?7, bridged_in = bridged_in + ?8 - ?9 "
                 "WHERE asset = ?1",
                 "tuuuuuuuu", n->asset, b_add, b_sub, p_add, p_sub, o_add, o_sub, i_add, i_sub);
    if (r == 0 && sqlite3_changes(e->sql->db) == 0)
        r = sql_exec(e->sql,
                     "INSERT INTO supply(asset, balances, pools, bridged_out, bridged_in) "
                     "VALUES (?1, ?2 - ?3, ?4 - ?5, ?6 - ?7, ?8 - ?9)",
                     "tuuuuuuuu", n->asset, b_add, b_sub, p_add, p_sub, o_add, o_sub, i_add,
                     i_sub);
    return r < 0 ? internal(e->why, e->sql, r) : 0;
}

/* Write the block's supply notes: a statement per asset touched, and one
 * for the staking totals if they moved. */
static int supply_flush(exec_t *e)
{
    delta_state_t *st = e->st;
    supply_net_t *net = NULL;
    uint64_t s_add, s_sub, u_add, u_sub;
    size_t n = 0;
    int r = 0;

    if (st->n_supply && !(net = calloc(st->n_supply, sizeof *net)))
        return internal(e->why, e->sql, -ENOMEM);
    for (size_t i = 0; i < st->n_supply; i++) {
        const delta_supply_change_t *c = &st->supply[i];
        size_t k = 0;
        while (k < n && strcmp(net[k].asset, c->asset) != 0)
            k++;
        if (k == n)
            net[n++].asset = c->asset; /* a block touches few assets */
        net[k].balances += c->balances;
        net[k].pools += c->pools;
        net[k].bridged_out += c->bridged_out;
        net[k].bridged_in += c->bridged_in;
    }
    for (size_t k = 0; r == 0 && k < n; k++)
        r = supply_apply(e, &net[k]);
    free(net);
    if (r < 0 || (st->staked == 0 && st->unbonding == 0))
        return r;
    if (net_split(st->staked, &s_add, &s_sub) < 0 || net_split(st->unbonding, &u_add, &u_sub) < 0)
        return reject(e->why, -EIO, "internal", "staking supply change out of range");
    r = sql_exec(e->sql,
                 "UPDATE supply_staking SET staked = staked + ?1 - ?2, "
                 "unbonding = unbonding + ?3 - ?4 WHERE id = 1",
                 "uuuu", s_add, s_sub, u_add, u_sub);
    if (r == 0 && sqlite3_changes(e->sql->db) != 1)
        return reject(e->why, -EIO, "internal", "the supply_staking row is missing");
    return r < 0 ? internal(e->why, e->sql, r) : 0;
}

static int delta_end_block(void *state, const chain_exec_t *x, uint64_t fees, char *err,
                           size_t errlen)
{
    reject_t why = {0};
    exec_t e = {.st = state, .x = x, .sql = x->sql, .why = &why,
                .fee_asset = x->genesis->fee_asset, .sender = x->proposer};
    int r = 0;

    if (((delta_state_t *)state)->broken)
        r = reject(&why, -ENOMEM, "internal", "out of memory (state journal)");
    if (r == 0 && fees > 0 && !x->proposer)
        r = reject(&why, -EINVAL, "internal", "fees of %" PRIu64 " but no proposer", fees);
    if (r == 0 && fees > 0 && (r = balance_add(&e, x->proposer, e.fee_asset, fees)) == 0)
        r = touch_account(&e, x->proposer);
    if (r == 0)
        r = unbond_release(&e);
    if (r == 0 && (r = balance_flush(&e)) < 0)
        r = internal(&why, x->sql, r);
    if (r == 0)
        r = supply_flush(&e);
    if (r < 0)
        snprintf(err, errlen, "end of block %" PRIu64 ": %s (%s)", x->height, why.message,
                 why.code ? why.code : "internal");
    return r;
}

/* ---- the bridge ---- */

_Static_assert(GENESIS_ASSET_MAX == DELTA_ASSET_MAX, "bridge assets are delta assets");

/* chain_ops_t.bridge_outs: the bridge_outs rows of the block at height, by
 * position, through the index on (height, idx). */
static int delta_bridge_outs(sql_t *q, uint64_t height,
                             int (*fn)(void *ctx, const bridge_transfer_t *b), void *ctx)
{
    sqlite3_stmt *st = NULL;
    int r = sql_query(q, &st,
                      "SELECT txid, asset, amount, recipient FROM bridge_outs WHERE height = ? "
                      "ORDER BY idx",
                      "u", height);
    int row = r;

    while (r == 0 && (row = sql_step(q, st)) == 1) {
        bridge_transfer_t b;
        memset(&b, 0, sizeof b);
        if (sql_column_hex(st, 0, b.id, sizeof b.id) < 0 || col_asset(st, 1, b.asset) < 0 ||
            col_u64(st, 2, &b.amount) < 0 || b.amount == 0 ||
            sql_column_hex(st, 3, b.recipient, sizeof b.recipient) < 0) {
            r = sql_fail(q, "bridge_outs: a damaged row", SQLITE_CORRUPT);
            break;
        }
        r = fn(ctx, &b);
    }
    sql_release(q, st);
    return r != 0 ? r : (row < 0 ? row : 0);
}

/* Refuse to mint amount of asset if its total on delta (balances, pools
 * and, for the fee asset, stakes and unbonding), as committed plus this
 * block's notes, would pass 2^63-1: every later sum of the asset (the
 * supply rows, /supply) then stays in range, as the genesis makes sure
 * for its own assets. O(the block's notes). */
static int supply_room(exec_t *e, const char *asset, uint64_t amount)
{
    const delta_state_t *st = e->st;
    uint64_t held = 0, staking = 0;
    i128 total;
    int r = sql_u64(e->sql, &held, "SELECT balances + pools FROM supply WHERE asset = ?", "t",
                    asset);

    if (r < 0 && r != -ENOENT)
        return internal(e->why, e->sql, r);
    total = held;
    if (strcmp(asset, e->fee_asset) == 0) {
        r = sql_u64(e->sql, &staking,
                    "SELECT staked + unbonding FROM supply_staking WHERE id = 1", NULL);
        if (r < 0 && r != -ENOENT)
            return internal(e->why, e->sql, r);
        total += (i128)staking + st->staked + st->unbonding;
    }
    for (size_t i = 0; i < st->n_supply; i++)
        if (strcmp(st->supply[i].asset, asset) == 0)
            total += (i128)st->supply[i].balances + st->supply[i].pools;
    if (total + amount > AMOUNT_MAX)
        return reject(e->why, -EINVAL, "overflow",
                      "minting %" PRIu64 " %s would take its supply past 2^63-1", amount, asset);
    return 0;
}

/* chain_ops_t.bridge_mint: credit b to its recipient as a transfer credits
 * its receiver (the account made if new, its leaf recomputed at the root),
 * and note the supply's balances and bridged_in. No sender, no fee, no
 * nonce. The caller's savepoint and state_mark undo it on failure. */
static int delta_bridge_mint(void *state, const chain_exec_t *x, const bridge_transfer_t *b,
                             reject_t *why)
{
    exec_t e = {.st = state, .x = x, .sql = x->sql, .why = why,
                .fee_asset = x->genesis->fee_asset};
    int r;

    if (e.st->broken)
        return reject(why, -ENOMEM, "internal", "out of memory (state journal)");
    if (!tx_asset_is_valid(b->asset))
        return reject(why, -EINVAL, "bad_asset", "asset: not 1 to 16 characters of A-Z, 0-9, -");
    if ((r = amount_check(why, "amount", b->amount, false)) < 0 ||
        (r = supply_room(&e, b->asset, b->amount)) < 0 ||
        (r = balance_add(&e, b->recipient, b->asset, b->amount)) < 0 ||
        (r = bridge_note(&e, b->asset, 0, b->amount)) < 0)
        return r;
    if ((r = balance_flush(&e)) < 0)
        return internal(why, x->sql, r);
    return touch_account(&e, b->recipient);
}

/* Supply rows that disagree with the tables: balances and pools against
 * their sums, bridged_out against bridge_outs, an asset held but without
 * a row, the staking row against stakes and unbonding. */
static const char SUPPLY_DIFFS[] =
    "WITH held AS (SELECT asset, sum(b) AS b, sum(p) AS p FROM ("
    "    SELECT asset, amount AS b, 0 AS p FROM balances"
    "    UNION ALL SELECT asset_a, 0, reserve_a FROM pools"
    "    UNION ALL SELECT asset_b, 0, reserve_b FROM pools) GROUP BY asset),"
    "  outs AS (SELECT asset, sum(amount) AS o FROM bridge_outs GROUP BY asset)"
    "SELECT (SELECT count(*) FROM supply AS s LEFT JOIN held AS h USING (asset)"
    "    LEFT JOIN outs AS o USING (asset)"
    "    WHERE s.balances != coalesce(h.b, 0) OR s.pools != coalesce(h.p, 0)"
    "    OR s.bridged_out != coalesce(o.o, 0))"
    " + (SELECT count(*) FROM held WHERE asset NOT IN (SELECT asset FROM supply))"
    " + (SELECT count(*) FROM outs WHERE asset NOT IN (SELECT asset FROM supply))"
    " + (SELECT count(*) FROM supply_staking WHERE id != 1"
    "    OR staked != (SELECT coalesce(sum(staked), 0) FROM stakes)"
    "    OR unbonding != (SELECT coalesce(sum(amount), 0) FROM unbonding))"
    " + (SELECT count(*) != 1 FROM supply_staking)";

/* The asset's genesis total (0 if the genesis has none). */
static uint64_t genesis_total_of(const genesis_totals_t *t, const char *asset)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].asset, asset) == 0)
            return t->v[i].amount;
    return 0;
}

static int genesis_total_only(void *ctx, uint64_t index, const genesis_balance_t *b, char *err,
                              size_t errlen)
{
    (void)ctx, (void)index, (void)b, (void)err, (void)errlen;
    return 0;
}

/* The supply rows agree with the tables, and per asset what is held is
 * genesis - bridged_out + bridged_in. Return 0 or -EILSEQ / another code
 * with msg. */
static int supply_verify(sql_t *q, const genesis_t *g, char *msg, size_t msglen)
{
    genesis_totals_t gt = {0};
    sqlite3_stmt *st = NULL;
    uint64_t diffs = 0;
    int r = sql_u64(q, &diffs, SUPPLY_DIFFS, NULL), row = 0;

    if (r < 0) {
        snprintf(msg, msglen, "ledger: checking the supply: %s", sql_errmsg(q));
        return r;
    }
    if (diffs > 0) {
        snprintf(msg, msglen, "the supply tables disagree with the balances, pools, stakes or "
                              "bridge_outs in %" PRIu64 " rows", diffs);
        return -EILSEQ;
    }
    if ((r = genesis_balances_foreach(g, genesis_total_only, NULL, NULL, &gt, msg, msglen)) < 0)
        return r;
    r = sql_query(q, &st,
                  "SELECT s.asset, s.balances + s.pools + CASE WHEN s.asset = ? "
                  "THEN k.staked + k.unbonding ELSE 0 END, s.bridged_out, s.bridged_in "
                  "FROM supply AS s, supply_staking AS k ORDER BY s.asset",
                  "t", g->fee_asset);
    while (r == 0 && (row = sql_step(q, st)) == 1) {
        char asset[DELTA_ASSET_MAX + 1];
        uint64_t held, out, in;
        if (col_asset(st, 0, asset) < 0 || col_u64(st, 1, &held) < 0 ||
            col_u64(st, 2, &out) < 0 || col_u64(st, 3, &in) < 0) {
            r = sql_fail(q, "supply: a damaged row", SQLITE_CORRUPT);
        } else if ((i128)held != (i128)genesis_total_of(&gt, asset) - out + in) {
            snprintf(msg, msglen, "supply of %s: %" PRIu64 " held, but genesis %" PRIu64
                     " - bridged out %" PRIu64 " + bridged in %" PRIu64 " differs", asset,
                     held, genesis_total_of(&gt, asset), out, in);
            r = -EILSEQ;
        }
    }
    sql_release(q, st);
    genesis_totals_free(&gt);
    if (r == 0 && row < 0)
        r = row;
    if (r < 0 && r != -EILSEQ)
        snprintf(msg, msglen, "ledger: checking the supply: %s", sql_errmsg(q));
    return r;
}

/* chain_ops_t.state_verify: the tree rebuilt from the tables, the
 * persisted tree and the last header must give one root. */
static int delta_state_verify(sql_t *q, const genesis_t *g, const genesis_progress_t *progress,
                              char *msg, size_t msglen)
{
    uint8_t hroot[32] = {0}, troot[32], rroot[32];
    uint64_t tip = 0;
    smt_t *t = NULL;
    int r;

    if (sql_exec(q, "BEGIN", NULL) < 0) {
        snprintf(msg, msglen, "ledger: %s", sql_errmsg(q));
        return -EIO;
    }
    if ((r = tree_batch_header(q, &tip, hroot)) < 0)
        snprintf(msg, msglen, "ledger: reading the tip: %s", sql_errmsg(q));
    else if ((r = tree_batch_check_tip(q, DELTA_TREE_NAME, tip, troot, msg, msglen)) == 0 &&
             (r = tree_build_progress(q, progress, &t)) < 0)
        snprintf(msg, msglen, "rebuilding the tree from the tables: %s",
                 r == -ENOMEM ? "out of memory" : sql_errmsg(q));
    if (r == 0) {
        smt_root(t, rroot);
        r = tree_batch_verdict(tip, rroot, troot, hroot, msg, msglen);
    }
    uint64_t leaves = 0;
    char walk[256];
    if (r == 0 && (r = tree_batch_walk(q, DELTA_TREE_NAME, tip, &leaves, walk, sizeof walk)) < 0)
        snprintf(msg, msglen, "%s", walk);
    if (r == 0 && (r = supply_verify(q, g, walk, sizeof walk)) < 0)
        snprintf(msg, msglen, "%s", walk);
    smt_free(t);
    sql_exec(q, "COMMIT", NULL);
    return r == -ENOENT ? -EILSEQ : r;
}

/* The header's state root is the accounts tree's root. */
static const char *const delta_state_trees[] = { DELTA_TREE_NAME };

const chain_ops_t delta_chain_ops = {
    .name = "delta",
    .schema = &delta_schema,
    .tx_kind_name = delta_tx_kind_name,
    .genesis_check = delta_genesis_check,
    .genesis_init = delta_genesis_init,
    .state_open = delta_state_open,
    .state_upgrade = delta_state_upgrade,
    .state_prune = delta_state_prune,
    .state_verify = delta_state_verify,
    .state_close = delta_state_close,
    .state_root = delta_state_root,
    .state_trees = delta_state_trees,
    .n_state_trees = 1,
    .state_root_tag = NULL,
    .state_mark = delta_state_mark,
    .state_rollback = delta_state_rollback,
    .state_commit = delta_state_commit,
    .check_tx = delta_check_tx,
    .apply_tx = delta_apply_tx,
    .end_block = delta_end_block,
    .bridge_outs = delta_bridge_outs,
    .bridge_mint = delta_bridge_mint,
    .routes = delta_routes,
    .n_routes = DELTA_N_ROUTES,
};
