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

__extension__ typedef unsigned __int128 u128;

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

static const ledger_migration_t delta_migrations[] = {
    {1, LEDGER_SQL_BASE_V1},
    {2, delta_sql_v2},
    {3, delta_sql_v3},
};

static const ledger_schema_t delta_schema = {delta_migrations, 3};

typedef struct {
    smt_t *tree;
    /* Accounts changed since the tree last saw them: their leaves are
     * recomputed from the tables once, when the root is asked for, not at
     * every change. Recomputing is idempotent, so a rolled-back change
     * may stay listed. */
    uint8_t (*dirty)[DELTA_KEY_LEN];
    size_t n_dirty, cap_dirty;
    uint64_t unbonding_blocks; /* genesis params.unbonding_blocks */
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

/* Recompute pk's leaf from the tables and put it in (or, if empty, take it out of) t. */
static int tree_touch_account(smt_t *t, sql_t *q, const uint8_t pk[DELTA_KEY_LEN])
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
        r = smt_delete(t, key);
        if (r == -ENOENT)
            r = 0;
    } else if ((r = delta_account_leaf(&v, val)) == 0) {
        r = smt_set(t, key, val);
    } else if (r == -EINVAL) {
        r = -EIO; /* a stored asset name no transaction could have written */
    }
    delta_account_rows_free(&a);
    return r;
}

static int tree_set_pool(smt_t *t, const delta_pool_row_t *p)
{
    uint8_t key[DELTA_HASH_LEN], val[DELTA_HASH_LEN];
    delta_pool_key(p->asset_a, p->asset_b, key);
    if (delta_pool_leaf(p->asset_a, p->asset_b, p->reserve_a, p->reserve_b, p->shares,
                        p->fee_bps, val) < 0)
        return -EIO;
    return smt_set(t, key, val);
}

/* Put the account of the current row of st (its hex address) into t. */
static int tree_add_account(smt_t *t, sql_t *q, sqlite3_stmt *st)
{
    uint8_t pk[DELTA_KEY_LEN];
    const char *hx = (const char *)sqlite3_column_text(st, 0);
    if (!hx || hex_decode(pk, DELTA_KEY_LEN, hx) < 0)
        return -EIO;
    return tree_touch_account(t, q, pk);
}

/* Put the pool of the current row of st into t. */
static int tree_add_pool(smt_t *t, sql_t *q, sqlite3_stmt *st)
{
    delta_pool_row_t p;
    (void)q;
    return pool_from_row(st, &p) < 0 ? -EIO : tree_set_pool(t, &p);
}

/* Add each row of sql to t with add. */
static int tree_add_rows(smt_t *t, sql_t *q, const char *sql,
                         int (*add)(smt_t *, sql_t *, sqlite3_stmt *))
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

int delta_tree_build(sql_t *q, smt_t **out)
{
    smt_t *t = smt_new();
    int r;

    if (!t)
        return -ENOMEM;
    if ((r = tree_add_rows(t, q, "SELECT address FROM accounts ORDER BY address",
                           tree_add_account)) < 0 ||
        (r = tree_add_rows(t, q, "SELECT " POOL_COLUMNS " FROM pools ORDER BY asset_a, asset_b",
                           tree_add_pool)) < 0) {
        smt_free(t);
        return r;
    }
    *out = t;
    return 0;
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
        r = tree_set_pool(e->st->tree, p);
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
        (r = balance_sub(e, e->sender, c->asset_b, c->amount_b)) < 0)
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
        (r = account_ensure(e, e->sender)) < 0 || (r = tree_set_pool(e->st->tree, &p)) < 0)
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
        (r = balance_sub(e, e->sender, p.asset_b, amt_b)) < 0)
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
        (r = balance_add(e, e->sender, p.asset_b, out_b)) < 0)
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
        (r = balance_sub(e, e->sender, s->asset_in, s->amount_in)) < 0)
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
    return r < 0 ? internal(e->why, e->sql, r) : 0;
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

/* Refuse genesis balances of an invalid asset, or whose per-asset total
 * passes 2^63-1 (keeping every later sum in range). */
static int genesis_balances_check(const genesis_t *g, char *err, size_t errlen)
{
    for (size_t i = 0; i < g->n_balances; i++) {
        const genesis_balance_t *b = &g->balances[i];
        u128 total = 0;
        if (!tx_asset_is_valid(b->asset)) {
            snprintf(err, errlen, "genesis balance %zu: asset \"%s\" is not 1 to 16 of A-Z 0-9 -",
                     i, b->asset);
            return -EINVAL;
        }
        for (size_t j = 0; j < g->n_balances; j++)
            if (strcmp(g->balances[j].asset, b->asset) == 0)
                total += g->balances[j].amount;
        if (total > AMOUNT_MAX) {
            snprintf(err, errlen, "genesis balances of %s add up to more than 2^63-1", b->asset);
            return -EINVAL;
        }
    }
    return 0;
}

static int delta_genesis_init(sql_t *q, const genesis_t *g, char *err, size_t errlen)
{
    int r = genesis_balances_check(g, err, errlen);

    for (size_t i = 0; r == 0 && i < g->n_balances; i++) {
        const genesis_balance_t *b = &g->balances[i];
        if (b->amount == 0)
            continue;
        if (sql_exec(q, "INSERT OR IGNORE INTO accounts(address, nonce) VALUES (?, 0)", "k",
                     b->owner) < 0 ||
            sql_exec(q, "INSERT INTO balances(address, asset, amount) VALUES (?, ?, ?) "
                        "ON CONFLICT(address, asset) DO UPDATE SET amount = amount + "
                        "excluded.amount",
                     "ktu", b->owner, b->asset, b->amount) < 0) {
            snprintf(err, errlen, "writing genesis accounts: %s", sql_errmsg(q));
            r = -EIO;
        }
    }
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
    if ((r = delta_tree_build(q, &st->tree)) < 0) {
        snprintf(err, errlen, "building the delta state tree: %s",
                 r == -ENOMEM ? "out of memory" : sql_errmsg(q));
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
    smt_free(st->tree);
    free(st->dirty);
    free(st);
}

static int key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, DELTA_KEY_LEN);
}

static int delta_state_root(void *state, sql_t *q, uint8_t out[BLOCK_HASH_LEN])
{
    delta_state_t *st = state;
    if (!st || !st->tree)
        return -EIO;
    /* Each account once: the root does not depend on the order. */
    if (st->n_dirty > 1)
        qsort(st->dirty, st->n_dirty, sizeof *st->dirty, key_cmp);
    for (size_t i = 0; i < st->n_dirty; i++) {
        if (i > 0 && memcmp(st->dirty[i], st->dirty[i - 1], DELTA_KEY_LEN) == 0)
            continue;
        int r = tree_touch_account(st->tree, q, st->dirty[i]);
        if (r < 0)
            return r == -ENOMEM ? r : -EIO;
    }
    st->n_dirty = 0;
    smt_root(st->tree, out);
    return 0;
}

static uint64_t delta_state_mark(void *state)
{
    return smt_mark(((delta_state_t *)state)->tree);
}

static void delta_state_rollback(void *state, uint64_t mark)
{
    smt_rollback(((delta_state_t *)state)->tree, mark);
}

static void delta_state_commit(void *state)
{
    smt_commit(((delta_state_t *)state)->tree);
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
    uint64_t mark = smt_mark(st->tree);
    r = execute(st, x, tx, why, true);
    smt_rollback(st->tree, mark);
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
    }
    return r < 0 ? internal(e->why, e->sql, r) : 0;
}

static int delta_end_block(void *state, const chain_exec_t *x, uint64_t fees, char *err,
                           size_t errlen)
{
    reject_t why = {0};
    exec_t e = {.st = state, .x = x, .sql = x->sql, .why = &why,
                .fee_asset = x->genesis->fee_asset, .sender = x->proposer};
    int r = 0;

    if (fees > 0 && !x->proposer)
        r = reject(&why, -EINVAL, "internal", "fees of %" PRIu64 " but no proposer", fees);
    if (r == 0 && fees > 0 && (r = balance_add(&e, x->proposer, e.fee_asset, fees)) == 0)
        r = touch_account(&e, x->proposer);
    if (r == 0)
        r = unbond_release(&e);
    if (r == 0 && (r = balance_flush(&e)) < 0)
        r = internal(&why, x->sql, r);
    if (r < 0)
        snprintf(err, errlen, "end of block %" PRIu64 ": %s (%s)", x->height, why.message,
                 why.code ? why.code : "internal");
    return r;
}

const chain_ops_t delta_chain_ops = {
    .name = "delta",
    .schema = &delta_schema,
    .tx_kind_name = delta_tx_kind_name,
    .genesis_check = delta_genesis_check,
    .genesis_init = delta_genesis_init,
    .state_open = delta_state_open,
    .state_close = delta_state_close,
    .state_root = delta_state_root,
    .state_mark = delta_state_mark,
    .state_rollback = delta_state_rollback,
    .state_commit = delta_state_commit,
    .check_tx = delta_check_tx,
    .apply_tx = delta_apply_tx,
    .end_block = delta_end_block,
    .routes = delta_routes,
    .n_routes = DELTA_N_ROUTES,
};
