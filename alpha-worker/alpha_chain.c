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

static const ledger_migration_t alpha_migrations[] = {
    {1, LEDGER_SQL_BASE_V1},
    {2, alpha_sql_v2},
    {3, alpha_sql_v3},
};

static const ledger_schema_t alpha_schema = {alpha_migrations, 3};

/* ---- state: two trees and a stack of marks ---------------------------- */

typedef struct {
    uint64_t records;       /* smt_mark of the records tree */
    uint64_t nullifiers;    /* smt_mark of the nullifier tree */
    uint64_t pending_fees;  /* alpha_state_t.pending_fees at the mark */
} alpha_mark_t;

typedef struct {
    smt_t *records;         /* unspent commitments -> commitment */
    smt_t *nullifiers;      /* nullifiers -> alpha_spent_value(height) */
    alpha_mark_t *marks;    /* index = the value state_mark returned */
    size_t n_marks, cap_marks;
    int broken;             /* a mark could not be recorded: refuse changes until a rollback/commit */
    uint64_t pending_fees;  /* fees of the transactions applied in the block being built */
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

/* Sum of the unspent records of asset into *out: 0, or a negative code
 * (also when SQLite's integer sum overflows, which the mint rule prevents). */
static int asset_supply(sql_t *q, const char *asset, uint64_t *out)
{
    return sql_u64(q, out,
                   "SELECT coalesce(sum(amount), 0) FROM records "
                   "WHERE asset = ? AND spent_height IS NULL",
                   "t", asset);
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

/* ---- genesis and trees -------------------------------------------------- */

/* The record of genesis balance i; its salt derives from the genesis hash,
 * so every validator builds the same records. */
static int genesis_record(sql_t *q, const genesis_t *g, size_t i, char *err, size_t errlen)
{
    const genesis_balance_t *b = &g->balances[i];
    uint8_t salt[32], seed[40], cm[32];

    if (b->amount > INT64_MAX) {
        snprintf(err, errlen, "genesis balance %zu: amount exceeds 2^63-1", i);
        return -EINVAL;
    }
    memcpy(seed, g->hash, 32);
    for (int k = 0; k < 8; k++)
        seed[32 + k] = (uint8_t)((uint64_t)i >> (56 - 8 * k));
    crypto_generichash(salt, 32, seed, sizeof(seed), NULL, 0);
    if (alpha_record_commitment(b->owner, b->asset, b->amount, salt, cm) != 0) {
        snprintf(err, errlen, "genesis balance %zu: asset longer than %d bytes", i,
                 ALPHA_ASSET_MAX);
        return -EINVAL;
    }
    if (insert_record(q, cm, b->owner, b->asset, b->amount, salt, 0) < 0) {
        snprintf(err, errlen, "writing genesis records: %s", sql_errmsg(q));
        return -EIO;
    }
    return 0;
}

static int alpha_genesis_init(sql_t *q, const genesis_t *g, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < g->n_balances; i++)
        rc = genesis_record(q, g, i, err, errlen);
    if (rc < 0)
        return rc;
    /* Every later sum (supply, balances, JSON integers) must fit in 2^63-1;
     * SQLite's sum() fails on integer overflow. */
    if (sql_prepare(q, "SELECT asset, sum(amount) FROM records GROUP BY asset", &st) < 0) {
        snprintf(err, errlen, "writing genesis records: %s", sql_errmsg(q));
        return -EIO;
    }
    while ((rc = sql_step(q, st)) == 1)
        ;
    if (rc < 0) {
        snprintf(err, errlen, "genesis supply of an asset exceeds 2^63-1 (%s)", sql_errmsg(q));
        rc = -EINVAL;
    }
    sql_release(q, st);
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

static const tree_source_t RECORDS_SOURCE = {
    "SELECT commitment FROM records WHERE created_height <= ?1 "
    "AND (spent_height IS NULL OR spent_height > ?1)",
    "records", "commitment", "records tree", false,
};
static const tree_source_t NULLIFIERS_SOURCE = {
    "SELECT nullifier, height FROM nullifiers WHERE height <= ?1",
    "nullifiers", "nullifier", "nullifier tree", true,
};

/* Put the current row of st (a query of src) into t. */
static int tree_put(sqlite3_stmt *st, const tree_source_t *src, smt_t *t, char *err,
                    size_t errlen)
{
    uint8_t key[32], v[32];
    sqlite3_int64 at = src->spent ? sqlite3_column_int64(st, 1) : 0;
    int rc;

    if (sql_column_hex(st, 0, key, 32) != 0 || at < 0) {
        snprintf(err, errlen, "%s: %s '%s' is not 64 hex digits", src->table, src->key,
                 (const char *)sqlite3_column_text(st, 0));
        return -EBADMSG;
    }
    if (src->spent)
        alpha_spent_value((uint64_t)at, v);
    if ((rc = smt_set(t, key, src->spent ? v : key)) != 0)
        snprintf(err, errlen, "%s: out of memory", src->tree);
    return rc;
}

/* Put every row of src as of height into t. */
static int tree_load(sql_t *q, const tree_source_t *src, uint64_t height, smt_t *t, char *err,
                     size_t errlen)
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
    if ((rc = tree_load(q, &RECORDS_SOURCE, height, rec, err, errlen)) != 0 ||
        (rc = tree_load(q, &NULLIFIERS_SOURCE, height, nul, err, errlen)) != 0)
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

static void alpha_state_close(void *state)
{
    alpha_state_t *s = state;
    if (s == NULL)
        return;
    smt_free(s->records);
    smt_free(s->nullifiers);
    free(s->marks);
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
    rc = alpha_trees_at(q, ALPHA_HEIGHT_LATEST, &s->records, &s->nullifiers, err, errlen);
    if (rc != 0)
        goto out;
    *state = s;
    s = NULL;
out:
    alpha_state_close(s);
    return rc;
}

static int alpha_state_root_fn(void *state, sql_t *q, uint8_t out[BLOCK_HASH_LEN])
{
    alpha_state_t *s = state;
    uint8_t r[SMT_HASH_LEN], n[SMT_HASH_LEN];
    (void)q;
    smt_root(s->records, r);
    smt_root(s->nullifiers, n);
    alpha_state_root(r, n, out);
    return 0;
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
    s->marks[s->n_marks] = (alpha_mark_t){smt_mark(s->records), smt_mark(s->nullifiers),
                                          s->pending_fees};
    return s->n_marks++;
}

static void alpha_state_rollback(void *state, uint64_t mark)
{
    alpha_state_t *s = state;
    if (mark >= s->n_marks)
        return;
    smt_rollback(s->records, s->marks[mark].records);
    smt_rollback(s->nullifiers, s->marks[mark].nullifiers);
    s->pending_fees = s->marks[mark].pending_fees;
    s->n_marks = (size_t)mark + 1; /* the mark stays valid, like a SQLite savepoint */
    s->broken = 0;
}

static void alpha_state_commit(void *state)
{
    alpha_state_t *s = state;
    smt_commit(s->records);
    smt_commit(s->nullifiers);
    s->n_marks = 0;
    s->pending_fees = 0;
    s->broken = 0;
}

/* ---- transaction rules ---------------------------------------------------- */

/* What validation learned, for apply to write. */
typedef struct {
    alpha_payload_t p;
    uint8_t in_nf[ALPHA_MAX_INPUTS][32];   /* nullifiers of the inputs */
    uint8_t out_cm[ALPHA_MAX_OUTPUTS][32]; /* commitments of the outputs */
    const char *asset;                     /* the inputs' asset (transfer, burn) */
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

    if (asset_supply(x->sql, o->asset, &supply) != 0)
        return sql_reject(why, x->sql, "summing supply");
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
    if (asset_supply(x->sql, fa, &fee_supply) != 0)
        return sql_reject(why, x->sql, "summing supply");
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

    if ((rc = alpha_check_shape(s, tx, &plan->p, why)) != 0 ||
        (rc = alpha_check_outputs(x, tx, plan, why)) != 0)
        return rc;
    if (tx->kind == ALPHA_TX_MINT)
        return alpha_check_mint(s, x, tx, in_block, &plan->p.out[0], why);
    for (uint16_t i = 0; i < plan->p.n_in; i++)
        if ((rc = alpha_check_input(x, tx, i, plan, &sum_in, why)) != 0)
            return rc;
    plan->asset = x->genesis->fee_asset;
    return alpha_check_balance(x, tx, plan, sum_in, why);
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
        if (smt_delete(s->records, p->in[i]) != 0)
            return reject(why, -EIO, "internal", "input %u is missing from the records tree",
                          (unsigned)i);
        if ((rc = smt_set(s->nullifiers, plan->in_nf[i], spent)) != 0)
            return reject(why, rc, "internal", "nullifier tree: out of memory");
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
        if (insert_record(x->sql, plan->out_cm[i], o->owner, o->asset, o->amount, o->salt,
                          x->height) < 0)
            return sql_reject(why, x->sql, "writing the transaction's effects");
        if ((rc = smt_set(s->records, plan->out_cm[i], plan->out_cm[i])) != 0)
            return reject(why, rc, "internal", "records tree: out of memory");
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
                      "INSERT INTO burns(txid, height, owner, asset, amount, recipient) "
                      "VALUES (?, ?, ?, ?, ?, ?)",
                      "kuktuk", x->txid, x->height, tx->sender, plan->asset, p->burn_amount,
                      p->recipient);
    return rc < 0 ? sql_reject(why, x->sql, "writing the transaction's effects") : 0;
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
        (rc = alpha_log_tx(x, tx, plan, why)) != 0)
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

/* Pay the block's fees to the proposer as one new record. */
static int alpha_end_block(void *state, const chain_exec_t *x, uint64_t fees, char *err,
                           size_t errlen)
{
    alpha_state_t *s = state;
    const char *fa = x->genesis->fee_asset;
    uint8_t salt[32], cm[32];
    int rc;

    if (s->broken) {
        snprintf(err, errlen, "out of memory (state journal)");
        return -ENOMEM;
    }
    if (fees == 0)
        return 0;
    if (fees > INT64_MAX) {
        snprintf(err, errlen, "block fees %" PRIu64 " exceed 2^63-1", fees);
        return -EOVERFLOW;
    }
    /* The salt is alpha_fee_salt(height). Someone could create a record
     * with that very commitment ahead of time (by giving the proposer
     * exactly `fees`); then hash the salt again until the commitment is
     * new, so nobody can block a height. */
    alpha_fee_salt(x->height, salt);
    for (;;) {
        if (alpha_record_commitment(x->proposer, fa, fees, salt, cm) != 0) {
            snprintf(err, errlen, "fee asset '%s' is too long", fa);
            return -EINVAL;
        }
        rc = commitment_exists(x->sql, cm);
        if (rc < 0) {
            snprintf(err, errlen, "looking up the fee record: %s", sql_errmsg(x->sql));
            return -EIO;
        }
        if (rc == 0)
            break;
        crypto_generichash(salt, 32, salt, 32, NULL, 0);
    }
    if (insert_record(x->sql, cm, x->proposer, fa, fees, salt, x->height) != 0) {
        snprintf(err, errlen, "writing the fee record: %s", sql_errmsg(x->sql));
        return -EIO;
    }
    rc = smt_set(s->records, cm, cm);
    if (rc != 0) {
        snprintf(err, errlen, "records tree: out of memory");
        return rc;
    }
    return 0;
}

const chain_ops_t alpha_chain_ops = {
    .name = "alpha",
    .schema = &alpha_schema,
    .tx_kind_name = alpha_tx_kind_name,
    .genesis_check = alpha_genesis_check,
    .genesis_init = alpha_genesis_init,
    .state_open = alpha_state_open,
    .state_close = alpha_state_close,
    .state_root = alpha_state_root_fn,
    .state_mark = alpha_state_mark,
    .state_rollback = alpha_state_rollback,
    .state_commit = alpha_state_commit,
    .check_tx = alpha_check_tx,
    .apply_tx = alpha_apply_tx,
    .end_block = alpha_end_block,
    .routes = alpha_routes,
    .n_routes = ALPHA_N_ROUTES,
};
