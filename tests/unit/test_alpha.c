/* alpha-worker: payload codecs, mint/transfer/burn rules and their
 * rejection codes, fee records, conservation of supply, root determinism,
 * the undo journal in step with SQLite savepoints, the HTTP routes, and
 * Merkle proofs checked with smt_verify against the header's state root.
 * Tests drive chain_ops directly, building blocks the way the pipeline
 * does (ledger_begin, SAVEPOINT per tx, end_block, state_root, put_block). */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "alpha-worker/alpha_chain.h"
#include "common/base/bech32.h"
#include "common/base/hex.h"
#include "common/store/bridgetab.h"
#include "common/store/ledger.h"
#include "common/store/smt.h"
#include "proto/alpha_tx.h"
#include "proto/block.h"
#include "tests/lib/chainenv.h"
#include "tests/lib/db.h"
#include "tests/lib/gen.h"
#include "tests/lib/suite.h"
#include "tests/lib/tmp.h"

Suite *test_suite(void);

#define OPS (&alpha_chain_ops)

/* ---- fixture ------------------------------------------------------------ */

typedef struct {
    tmp_ledger_t tmp;         /* the ledger's directory */
    ledger_t *l;
    genesis_t *g;
    void *state;
    uint8_t prev[32];
    uint64_t tip;
    uint64_t block_mark;
    uint64_t fees;            /* fees of the txs applied in the open block */
    uint32_t index;
    uint8_t txid[32];
    unsigned counter;         /* makes txids unique */
} env_t;

static const uint8_t MINTER[32] = {0x11, 0x11, 0x11};
static const uint8_t ALICE[32] = {0xa1, 0x1c, 0xe0};
static const uint8_t BOB[32] = {0xb0, 0xb0, 0xb0};
static const uint8_t PROPOSER[32] = {0x50, 0x50, 0x50};
static const uint8_t RECIPIENT[32] = {0xde, 0x17, 0xa0};

static genesis_t *make_genesis(int with_minter)
{
    genesis_t *g = gen_new("alpha", "adnet-alpha-test");
    if (with_minter)
        ck_assert_int_eq(genesis_param_set_hex(g, "minter", MINTER, 32), 0);
    gen_add_validator(g, "", PROPOSER, 10);
    gen_add_balance(g, ALICE, "ADN", 100);
    gen_add_balance(g, BOB, "ADN", 50);
    memset(g->hash, 0x77, sizeof g->hash);
    return g;
}

static void env_open_g(env_t *e, genesis_t *g)
{
    memset(e, 0, sizeof *e);
    tmp_ledger_init(&e->tmp, "alpha");
    e->g = g;
    chainenv_open(OPS, e->tmp.db, g, &e->l, &e->state);
    ck_assert_int_eq(ledger_schema_version(e->l), (int)OPS->schema->n);
    memcpy(e->prev, g->hash, 32);
}

static void env_open(env_t *e)
{
    env_open_g(e, make_genesis(1));
}

static void env_close(env_t *e)
{
    chainenv_close(OPS, e->l, e->state);
    tmp_ledger_cleanup(&e->tmp);
    free(e->g);
}

static sqlite3 *DB(env_t *e)
{
    return ledger_db(e->l);
}

static sql_t *SQL(env_t *e)
{
    return ledger_sql(e->l);
}

static chain_exec_t exec_of(env_t *e)
{
    chain_exec_t x = {SQL(e), e->g, e->tip + 1, T0_MS + 1000 * (e->tip + 1), PROPOSER, e->txid,
                      e->index};
    return x;
}

static void root_of(env_t *e, uint8_t out[32])
{
    ck_assert_int_eq(OPS->state_root(e->state, SQL(e), out), 0);
}

/* ---- SQL helpers ---------------------------------------------------------- */

static long long q_int(env_t *e, const char *sql)
{
    sqlite3_stmt *st;
    long long v = -1;
    ck_assert_msg(sqlite3_prepare_v2(DB(e), sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(DB(e)));
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -2 : sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Unspent sum of owner's records in asset. */
static long long balance(env_t *e, const uint8_t owner[32], const char *asset)
{
    char hex[65], sql[300];
    hex_encode(hex, owner, 32);
    snprintf(sql, sizeof sql,
             "SELECT coalesce(sum(amount), 0) FROM records WHERE owner = '%s' AND asset = '%s' "
             "AND spent_height IS NULL",
             hex, asset);
    return q_int(e, sql);
}

static long long supply(env_t *e, const char *asset)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT coalesce(sum(amount), 0) FROM records WHERE asset = '%s' "
             "AND spent_height IS NULL",
             asset);
    return q_int(e, sql);
}

/* The single unspent record of owner (asserts there is exactly one). */
static void only_record(env_t *e, const uint8_t owner[32], uint8_t cm[32])
{
    char hex[65], sql[200];
    sqlite3_stmt *st;
    hex_encode(hex, owner, 32);
    snprintf(sql, sizeof sql,
             "SELECT commitment FROM records WHERE owner = '%s' AND spent_height IS NULL", hex);
    ck_assert_int_eq(sqlite3_prepare_v2(DB(e), sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(hex_decode(cm, 32, (const char *)sqlite3_column_text(st, 0)), 0);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
}

/* ---- transactions ----------------------------------------------------------- */

typedef struct {
    tx_t tx;
    uint8_t buf[ALPHA_PAYLOAD_MAX];
} txb_t;

static void set_record(alpha_record_t *r, const uint8_t owner[32], const char *asset,
                       uint64_t amount, uint8_t salt_byte)
{
    memset(r, 0, sizeof *r);
    memcpy(r->owner, owner, 32);
    strcpy(r->asset, asset);
    r->amount = amount;
    memset(r->salt, salt_byte, 32);
}

static void build(txb_t *t, const alpha_payload_t *p, const uint8_t sender[32], uint64_t fee)
{
    size_t len = 0;
    memset(&t->tx, 0, sizeof t->tx);
    strcpy(t->tx.chain_id, "adnet-alpha-test");
    t->tx.kind = p->kind;
    memcpy(t->tx.sender, sender, 32);
    t->tx.fee = fee;
    t->tx.expiry_height = 1000;
    ck_assert_int_eq(alpha_payload_encode(p, t->buf, sizeof t->buf, &len), 0);
    t->tx.payload = t->buf;
    t->tx.payload_len = len;
}

static void mint_tx(txb_t *t, const uint8_t sender[32], const uint8_t to[32], const char *asset,
                    uint64_t amount, uint64_t fee, uint8_t salt_byte)
{
    alpha_payload_t p;
    memset(&p, 0, sizeof p);
    p.kind = ALPHA_TX_MINT;
    p.n_out = 1;
    set_record(&p.out[0], to, asset, amount, salt_byte);
    build(t, &p, sender, fee);
}

/* A transfer of one input to up to two outputs (amount 0 = no output). */
static void transfer_tx(txb_t *t, const uint8_t sender[32], const uint8_t in[32],
                        const uint8_t to1[32], uint64_t a1, const uint8_t to2[32], uint64_t a2,
                        uint64_t fee, uint8_t salt_byte)
{
    alpha_payload_t p;
    memset(&p, 0, sizeof p);
    p.kind = ALPHA_TX_TRANSFER;
    p.n_in = 1;
    memcpy(p.in[0], in, 32);
    set_record(&p.out[p.n_out++], to1, "ADN", a1, salt_byte);
    if (a2 > 0)
        set_record(&p.out[p.n_out++], to2, "ADN", a2, (uint8_t)(salt_byte + 1));
    build(t, &p, sender, fee);
}

/* ---- blocks -------------------------------------------------------------------- */

static void blk_begin(env_t *e)
{
    ck_assert_int_eq(ledger_begin(e->l), 0);
    e->block_mark = OPS->state_mark(e->state);
    e->fees = 0;
    e->index = 0;
}

/* Apply like the pipeline: SAVEPOINT, mark, apply, then release or undo. */
static int blk_apply(env_t *e, const tx_t *tx, reject_t *why)
{
    uint8_t seed[16] = {0};
    e->counter++;
    memcpy(seed, &e->counter, sizeof e->counter);
    memcpy(seed + 8, &e->tip, sizeof e->tip);
    crypto_generichash(e->txid, 32, seed, sizeof seed, NULL, 0);
    ck_assert_int_eq(sqlite3_exec(DB(e), "SAVEPOINT tx", NULL, NULL, NULL), SQLITE_OK);
    uint64_t m = OPS->state_mark(e->state);
    chain_exec_t x = exec_of(e);
    memset(why, 0, sizeof *why);
    int rc = OPS->apply_tx(e->state, &x, tx, why);
    if (rc != 0) {
        ck_assert_ptr_nonnull(why->code);
        ck_assert_int_eq(sqlite3_exec(DB(e), "ROLLBACK TO tx", NULL, NULL, NULL), SQLITE_OK);
        OPS->state_rollback(e->state, m);
    } else {
        e->fees += tx->fee;
        e->index++;
    }
    ck_assert_int_eq(sqlite3_exec(DB(e), "RELEASE tx", NULL, NULL, NULL), SQLITE_OK);
    return rc;
}

static void blk_end(env_t *e, block_header_t *out)
{
    char err[256] = "";
    chain_exec_t x = exec_of(e);
    x.txid = NULL;
    ck_assert_msg(OPS->end_block(e->state, &x, e->fees, err, sizeof err) == 0, "%s", err);

    block_header_t h;
    memset(&h, 0, sizeof h);
    h.protocol_version = 1;
    strcpy(h.chain_id, e->g->chain_id);
    h.height = e->tip + 1;
    h.time_ms = x.time_ms;
    memcpy(h.prev_hash, e->prev, 32);
    root_of(e, h.state_root);
    memcpy(h.proposer, PROPOSER, 32);
    h.tx_count = e->index;
    uint8_t hash[32];
    ck_assert_int_eq(block_header_hash(&h, hash), 0);
    commit_cert_t *cert = calloc(1, sizeof *cert);
    ck_assert_ptr_nonnull(cert);
    cert->height = h.height;
    memcpy(cert->block_hash, hash, 32);
    cert->n_sigs = 1;
    memcpy(cert->sigs[0].validator, PROPOSER, 32);
    ck_assert_msg(ledger_put_block(e->l, &h, hash, cert) == 0, "%s", ledger_errmsg(e->l));
    free(cert);
    ck_assert_int_eq(ledger_commit(e->l), 0);
    OPS->state_commit(e->state);
    memcpy(e->prev, hash, 32);
    e->tip++;
    if (out)
        *out = h;
}

/* One block holding one transaction that must apply. */
static void block_with(env_t *e, const tx_t *tx)
{
    reject_t why;
    blk_begin(e);
    int rc = blk_apply(e, tx, &why);
    ck_assert_msg(rc == 0, "%s: %s", why.code, why.message);
    blk_end(e, NULL);
}

static int check(env_t *e, const tx_t *tx, reject_t *why)
{
    chain_exec_t x = exec_of(e);
    memset(why, 0, sizeof *why);
    return OPS->check_tx(e->state, &x, tx, why);
}

/* check_tx and apply_tx (in a block of its own, then dropped) both refuse
 * tx with code, and the state does not move. */
static void assert_refused(env_t *e, const tx_t *tx, const char *code, const char *needle)
{
    reject_t why;
    uint8_t before[32], after[32];
    long long rows = q_int(e, "SELECT count(*) FROM records");
    root_of(e, before);
    ck_assert_int_lt(check(e, tx, &why), 0);
    ck_assert_ptr_nonnull(why.code);
    ck_assert_str_eq(why.code, code);
    if (needle)
        ck_assert_msg(strstr(why.message, needle) != NULL, "'%s' not in '%s'", needle,
                      why.message);
    blk_begin(e);
    ck_assert_int_lt(blk_apply(e, tx, &why), 0);
    ck_assert_str_eq(why.code, code);
    ledger_rollback(e->l);
    OPS->state_rollback(e->state, e->block_mark);
    root_of(e, after);
    ck_assert_mem_eq(before, after, 32);
    ck_assert_int_eq(q_int(e, "SELECT count(*) FROM records"), rows);
}

/* ---- codec tests ---------------------------------------------------------------- */

START_TEST(test_codec_layouts)
{
    alpha_payload_t p, d;
    uint8_t buf[ALPHA_PAYLOAD_MAX];
    size_t len = 0;
    const char *what = NULL;

    /* Mint: owner[32] || u32 3 || "GLD" || u64 amount || salt[32]. */
    memset(&p, 0, sizeof p);
    p.kind = ALPHA_TX_MINT;
    p.n_out = 1;
    set_record(&p.out[0], BOB, "GLD", 0x0102030405060708ULL, 0x5a);
    ck_assert_int_eq(alpha_payload_encode(&p, buf, sizeof buf, &len), 0);
    ck_assert_uint_eq(len, 32 + 4 + 3 + 8 + 32);
    ck_assert_mem_eq(buf, BOB, 32);
    ck_assert_mem_eq(buf + 32, "\0\0\0\3GLD\1\2\3\4\5\6\7\10", 15);
    ck_assert_uint_eq(buf[len - 1], 0x5a);
    memset(&d, 0xee, sizeof d);
    ck_assert_int_eq(alpha_payload_decode(&d, ALPHA_TX_MINT, buf, len, &what), 0);
    ck_assert_uint_eq(d.n_out, 1);
    ck_assert_uint_eq(d.n_in, 0);
    ck_assert_str_eq(d.out[0].asset, "GLD");
    ck_assert_uint_eq(d.out[0].amount, 0x0102030405060708ULL);
    ck_assert_int_eq(alpha_payload_check(&d, &what, NULL), 0);

    /* Trailing byte and truncation refused; *p untouched. */
    buf[len] = 0;
    memset(&d, 0xee, sizeof d);
    ck_assert_int_eq(alpha_payload_decode(&d, ALPHA_TX_MINT, buf, len + 1, &what), -EBADMSG);
    ck_assert_str_eq(what, "trailing bytes");
    ck_assert_uint_eq(d.n_out, 0xeeee);
    ck_assert_int_eq(alpha_payload_decode(&d, ALPHA_TX_MINT, buf, len - 1, &what), -EBADMSG);
    ck_assert_str_eq(what, "salt");
    ck_assert_int_eq(alpha_payload_decode(&d, 7, buf, len, &what), -ENOTSUP);
    ck_assert_str_eq(what, "kind");

    /* Burn: u16 1 || in || u16 0 || u64 burn || recipient. */
    memset(&p, 0, sizeof p);
    p.kind = ALPHA_TX_BURN;
    p.n_in = 1;
    memset(p.in[0], 0xc1, 32);
    p.n_out = 0;
    p.burn_amount = 9;
    memcpy(p.recipient, RECIPIENT, 32);
    ck_assert_int_eq(alpha_payload_encode(&p, buf, sizeof buf, &len), 0);
    ck_assert_uint_eq(len, 2 + 32 + 2 + 8 + 32);
    ck_assert_uint_eq(buf[1], 1);
    ck_assert_uint_eq(buf[34], 0);
    ck_assert_uint_eq(buf[35], 0);
    ck_assert_uint_eq(buf[43], 9);
    ck_assert_int_eq(alpha_payload_decode(&d, ALPHA_TX_BURN, buf, len, &what), 0);
    ck_assert_uint_eq(d.burn_amount, 9);
    ck_assert_mem_eq(d.recipient, RECIPIENT, 32);
    /* The same bytes are not a transfer: zero outputs are refused there. */
    ck_assert_int_eq(alpha_payload_decode(&d, ALPHA_TX_TRANSFER, buf, 36, &what), -EINVAL);
    ck_assert_str_eq(what, "n_out");

    /* Counts out of range. */
    uint8_t zero_in[2] = {0, 0};
    ck_assert_int_eq(alpha_payload_decode(&d, ALPHA_TX_TRANSFER, zero_in, 2, &what), -EINVAL);
    ck_assert_str_eq(what, "n_in");
    uint8_t many_in[2] = {0, 17};
    ck_assert_int_eq(alpha_payload_decode(&d, ALPHA_TX_BURN, many_in, 2, &what), -EINVAL);
    ck_assert_str_eq(what, "n_in");
    p.kind = ALPHA_TX_TRANSFER;
    ck_assert_int_eq(alpha_payload_encode(&p, buf, sizeof buf, &len), -EINVAL); /* n_out 0 */
    p.n_in = 17;
    ck_assert_int_eq(alpha_payload_encode(&p, buf, sizeof buf, &len), -EINVAL);
    p.n_in = 1;
    p.kind = ALPHA_TX_BURN;
    ck_assert_int_eq(alpha_payload_encode(&p, buf, 10, &len), -ENOBUFS);

    /* Check: zero amounts, amounts over 2^63-1, bad assets. */
    p.burn_amount = 0;
    ck_assert_int_eq(alpha_payload_check(&p, &what, NULL), -EINVAL);
    ck_assert_str_eq(what, "burn_amount");
    p.burn_amount = 1;
    p.n_out = 1;
    set_record(&p.out[0], BOB, "ADN", (uint64_t)INT64_MAX + 1, 1);
    ck_assert_int_eq(alpha_payload_check(&p, &what, NULL), -EINVAL);
    ck_assert_str_eq(what, "amount");
    p.out[0].amount = 5;
    strcpy(p.out[0].asset, "A B");
    ck_assert_int_eq(alpha_payload_check(&p, &what, NULL), -EINVAL);
    ck_assert_str_eq(what, "asset");
    ck_assert_int_eq(tx_asset_is_valid(""), 0);
    ck_assert_int_eq(tx_asset_is_valid("ABCDEFGHIJKLMNOPQ"), 0); /* 17 bytes */
    ck_assert_int_eq(tx_asset_is_valid("ABCDEFGHIJKLMNOP"), 1);
}
END_TEST

/* alpha_payload_check names the first output at fault, and its position;
 * the burn amount comes after every output. */
START_TEST(test_payload_check_names_the_output)
{
    alpha_payload_t p;
    const char *what = NULL;
    uint16_t at = 99;

    memset(&p, 0, sizeof p);
    p.kind = ALPHA_TX_BURN;
    p.n_in = 1;
    p.n_out = 3;
    set_record(&p.out[0], BOB, "ADN", 5, 1);
    set_record(&p.out[1], BOB, "ADN", 0, 2);
    set_record(&p.out[2], BOB, "A B", 5, 3);
    ck_assert_int_eq(alpha_payload_check(&p, &what, &at), -EINVAL);
    ck_assert_str_eq(what, "amount");
    ck_assert_uint_eq(at, 1);
    p.out[1].amount = 7;
    ck_assert_int_eq(alpha_payload_check(&p, &what, &at), -EINVAL);
    ck_assert_str_eq(what, "asset");
    ck_assert_uint_eq(at, 2);
    strcpy(p.out[2].asset, "ADN");
    at = 99;
    ck_assert_int_eq(alpha_payload_check(&p, &what, &at), -EINVAL);
    ck_assert_str_eq(what, "burn_amount");
    ck_assert_uint_eq(at, 99); /* no output at fault */
    p.burn_amount = 1;
    what = NULL;
    ck_assert_int_eq(alpha_payload_check(&p, &what, &at), 0);
    ck_assert_ptr_null(what);
    ck_assert_uint_eq(at, 99);
}
END_TEST

START_TEST(test_hashes)
{
    /* commitment = BLAKE2b-256(tag || owner || u32 len || asset || u64 || salt). */
    uint8_t salt[32], cm[32], want[32], msg[128];
    size_t n = 0;
    memset(salt, 0x33, 32);
    memcpy(msg, "adnet/alpha/record/v1", 21);
    n = 21;
    memcpy(msg + n, ALICE, 32);
    n += 32;
    memcpy(msg + n, "\0\0\0\3ADN\0\0\0\0\0\0\0\x2a", 15);
    n += 15;
    memcpy(msg + n, salt, 32);
    n += 32;
    crypto_generichash(want, 32, msg, n, NULL, 0);
    ck_assert_int_eq(alpha_record_commitment(ALICE, "ADN", 42, salt, cm), 0);
    ck_assert_mem_eq(cm, want, 32);
    ck_assert_int_eq(alpha_record_commitment(ALICE, "ABCDEFGHIJKLMNOPQ", 42, salt, cm), -EINVAL);

    uint8_t nf[32];
    memcpy(msg, "adnet/alpha/nullifier/v1", 24);
    memcpy(msg + 24, want, 32);
    crypto_generichash(cm, 32, msg, 56, NULL, 0);
    alpha_record_nullifier(want, nf);
    ck_assert_mem_eq(nf, cm, 32);

    uint8_t v[32];
    memcpy(msg, "adnet/alpha/spent/v1\0\0\0\0\0\0\1\2", 28);
    crypto_generichash(want, 32, msg, 28, NULL, 0);
    alpha_spent_value(258, v);
    ck_assert_mem_eq(v, want, 32);

    uint8_t a[32], b[32], r[32];
    memset(a, 1, 32);
    memset(b, 2, 32);
    memcpy(msg, "adnet/alpha/state/v2", 20);
    memcpy(msg + 20, a, 32);
    memcpy(msg + 52, b, 32);
    crypto_generichash(want, 32, msg, 84, NULL, 0);
    alpha_state_root(a, b, r);
    ck_assert_mem_eq(r, want, 32);
}
END_TEST

/* ---- state machine ------------------------------------------------------------------ */

START_TEST(test_schema_and_genesis)
{
    env_t e;
    env_open(&e);
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM records WHERE created_height = 0"), 2);
    ck_assert_int_eq(balance(&e, ALICE, "ADN"), 100);
    ck_assert_int_eq(balance(&e, BOB, "ADN"), 50);
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM burns"), 0);
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM mints"), 0);
    ck_assert_int_eq(q_int(&e, "SELECT count(spender_tx) FROM nullifiers"), 0);
    ck_assert_str_eq(OPS->tx_kind_name(ALPHA_TX_MINT), "mint");
    ck_assert_str_eq(OPS->tx_kind_name(ALPHA_TX_TRANSFER), "transfer");
    ck_assert_str_eq(OPS->tx_kind_name(ALPHA_TX_BURN), "burn");
    ck_assert_ptr_null(OPS->tx_kind_name(4));
    ck_assert_ptr_eq(OPS->routes, alpha_routes);
    ck_assert_uint_eq(OPS->n_routes, 8);

    /* The genesis root is the root of a tree holding the two commitments
     * and an empty nullifier tree. */
    uint8_t ca[32], cb[32], rr[32], zero[32] = {0}, want[32], got[32];
    only_record(&e, ALICE, ca);
    only_record(&e, BOB, cb);
    smt_t *t = smt_new();
    ck_assert_int_eq(smt_set(t, cb, cb), 0);
    ck_assert_int_eq(smt_set(t, ca, ca), 0);
    smt_root(t, rr);
    smt_free(t);
    alpha_state_root(rr, zero, want);
    root_of(&e, got);
    ck_assert_mem_eq(got, want, 32);
    env_close(&e);
}
END_TEST

START_TEST(test_migration_from_v2)
{
    char err[LEDGER_ERR_MAX];
    tmp_ledger_t t;
    ledger_t *l = NULL;
    tmp_ledger_init(&t, "alpha-mig");
    const char *path = t.db;
    ledger_schema_t v2 = {OPS->schema->migrations, 2};
    ck_assert_int_eq(ledger_open(&l, path, &v2, err), 0);
    ck_assert_int_eq(sqlite3_exec(ledger_db(l),
                                  "INSERT INTO nullifiers(nullifier, height) VALUES ('ab', 1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    ledger_close(l);
    ck_assert_msg(ledger_open(&l, path, OPS->schema, err) == 0, "%s", err);
    ck_assert_int_eq(ledger_schema_version(l), (int)OPS->schema->n);
    ck_assert_int_eq(sqlite3_exec(ledger_db(l),
                                  "SELECT spender_tx FROM nullifiers; SELECT * FROM burns; "
                                  "SELECT * FROM mints",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    ledger_close(l);
    tmp_ledger_cleanup(&t);
}
END_TEST

START_TEST(test_mint)
{
    env_t e;
    txb_t t;
    reject_t why;
    env_open(&e);
    mint_tx(&t, MINTER, BOB, "GLD", 500, 2, 0x01);
    ck_assert_int_eq(check(&e, &t.tx, &why), 0);
    block_with(&e, &t.tx);
    ck_assert_int_eq(balance(&e, BOB, "GLD"), 500);
    ck_assert_int_eq(balance(&e, BOB, "ADN"), 50);
    /* The fee is minted on top, for the proposer, in the fee asset. */
    ck_assert_int_eq(balance(&e, PROPOSER, "ADN"), 2);
    ck_assert_int_eq(supply(&e, "ADN"), 152);
    ck_assert_int_eq(q_int(&e, "SELECT amount FROM mints WHERE height = 1"), 500);
    ck_assert_int_eq(q_int(&e, "SELECT fee FROM mints WHERE height = 1"), 2);
    ck_assert_int_eq(q_int(&e, "SELECT created_height FROM records WHERE asset = 'GLD'"), 1);

    /* Another key may not mint; nor anyone when genesis names no minter. */
    mint_tx(&t, ALICE, ALICE, "GLD", 5, 1, 0x02);
    assert_refused(&e, &t.tx, "unauthorized", "minter");
    env_close(&e);

    env_open_g(&e, make_genesis(0));
    mint_tx(&t, MINTER, BOB, "GLD", 5, 1, 0x02);
    assert_refused(&e, &t.tx, "unauthorized", NULL);
    env_close(&e);
}
END_TEST

START_TEST(test_mint_overflow)
{
    env_t e;
    txb_t t;
    env_open(&e);
    /* 150 ADN exist: minting 2^63-1 more would pass 2^63-1. */
    mint_tx(&t, MINTER, BOB, "ADN", (uint64_t)INT64_MAX - 150, 1, 0x01);
    assert_refused(&e, &t.tx, "overflow", "150");
    mint_tx(&t, MINTER, BOB, "GLD", (uint64_t)INT64_MAX, 0, 0x01);
    block_with(&e, &t.tx);
    mint_tx(&t, MINTER, BOB, "GLD", 1, 0, 0x02);
    assert_refused(&e, &t.tx, "overflow", "GLD");
    mint_tx(&t, MINTER, BOB, "GLD", 0, 0, 0x03);
    assert_refused(&e, &t.tx, "bad_amount", "amount 0");
    env_close(&e);
}
END_TEST

START_TEST(test_transfer_accept)
{
    env_t e;
    txb_t t;
    reject_t why;
    uint8_t in[32], nf[32], salt[32], cm[32];
    char hex[65], sql[300];
    env_open(&e);
    only_record(&e, ALICE, in);
    transfer_tx(&t, ALICE, in, BOB, 60, ALICE, 39, 1, 0x10);
    ck_assert_int_eq(check(&e, &t.tx, &why), 0);
    block_with(&e, &t.tx);
    ck_assert_int_eq(balance(&e, ALICE, "ADN"), 39);
    ck_assert_int_eq(balance(&e, BOB, "ADN"), 110);
    ck_assert_int_eq(balance(&e, PROPOSER, "ADN"), 1);
    ck_assert_int_eq(supply(&e, "ADN"), 150);

    hex_encode(hex, in, 32);
    snprintf(sql, sizeof sql, "SELECT spent_height FROM records WHERE commitment = '%s'", hex);
    ck_assert_int_eq(q_int(&e, sql), 1);
    alpha_record_nullifier(in, nf);
    hex_encode(hex, nf, 32);
    snprintf(sql, sizeof sql,
             "SELECT height FROM nullifiers WHERE nullifier = '%s' AND length(spender_tx) = 64",
             hex);
    ck_assert_int_eq(q_int(&e, sql), 1);

    /* The fee record: proposer, fee asset, salt = fee salt of height 1. */
    alpha_fee_salt(1, salt);
    ck_assert_int_eq(alpha_record_commitment(PROPOSER, "ADN", 1, salt, cm), 0);
    hex_encode(hex, cm, 32);
    snprintf(sql, sizeof sql, "SELECT created_height FROM records WHERE commitment = '%s'", hex);
    ck_assert_int_eq(q_int(&e, sql), 1);
    env_close(&e);
}
END_TEST

START_TEST(test_transfer_rejects)
{
    env_t e;
    txb_t t;
    uint8_t in[32], bob_in[32], nowhere[32];
    alpha_payload_t p;
    env_open(&e);
    only_record(&e, ALICE, in);
    only_record(&e, BOB, bob_in);

    memset(nowhere, 0x99, 32);
    transfer_tx(&t, ALICE, nowhere, BOB, 99, NULL, 0, 1, 1);
    assert_refused(&e, &t.tx, "unknown_record", "input 0");

    transfer_tx(&t, BOB, in, BOB, 99, NULL, 0, 1, 1);
    assert_refused(&e, &t.tx, "not_owner", "input 0");

    transfer_tx(&t, ALICE, in, BOB, 100, NULL, 0, 1, 1);
    assert_refused(&e, &t.tx, "overspend", "inputs 100 ADN < outputs 100 + burn 0 + fee 1");

    transfer_tx(&t, ALICE, in, BOB, 50, NULL, 0, 1, 1);
    assert_refused(&e, &t.tx, "unbalanced", "inputs 100 ADN > outputs 50");

    /* Two outputs with one commitment. */
    memset(&p, 0, sizeof p);
    p.kind = ALPHA_TX_TRANSFER;
    p.n_in = 1;
    memcpy(p.in[0], in, 32);
    p.n_out = 2;
    set_record(&p.out[0], BOB, "ADN", 45, 7);
    set_record(&p.out[1], BOB, "ADN", 45, 7);
    build(&t, &p, ALICE, 10);
    assert_refused(&e, &t.tx, "duplicate_commitment", "output 1");

    /* An output equal to an existing record (bob's genesis record). */
    sqlite3_stmt *st;
    char hex[65];
    hex_encode(hex, bob_in, 32);
    ck_assert_int_eq(sqlite3_prepare_v2(DB(&e), "SELECT salt FROM records WHERE commitment = ?",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, hex, -1, SQLITE_TRANSIENT);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    set_record(&p.out[0], BOB, "ADN", 50, 0);
    ck_assert_int_eq(hex_decode(p.out[0].salt, 32, (const char *)sqlite3_column_text(st, 0)), 0);
    sqlite3_finalize(st);
    set_record(&p.out[1], ALICE, "ADN", 49, 3);
    build(&t, &p, ALICE, 1);
    assert_refused(&e, &t.tx, "duplicate_commitment", "already exists");

    /* Same input twice in one transaction. */
    memset(&p, 0, sizeof p);
    p.kind = ALPHA_TX_TRANSFER;
    p.n_in = 2;
    memcpy(p.in[0], in, 32);
    memcpy(p.in[1], in, 32);
    p.n_out = 1;
    set_record(&p.out[0], BOB, "ADN", 199, 7);
    build(&t, &p, ALICE, 1);
    assert_refused(&e, &t.tx, "double_spend", "input 1 repeats input 0");

    /* Outputs in another asset. */
    memset(&p, 0, sizeof p);
    p.kind = ALPHA_TX_TRANSFER;
    p.n_in = 1;
    memcpy(p.in[0], in, 32);
    p.n_out = 1;
    set_record(&p.out[0], BOB, "GLD", 99, 7);
    build(&t, &p, ALICE, 1);
    assert_refused(&e, &t.tx, "bad_asset", "GLD");

    /* Zero amount. */
    p.n_out = 2;
    set_record(&p.out[0], BOB, "ADN", 99, 7);
    set_record(&p.out[1], BOB, "ADN", 0, 8);
    build(&t, &p, ALICE, 1);
    assert_refused(&e, &t.tx, "bad_amount", "output 1 amount 0");

    /* Payload that does not decode, and an unknown kind. */
    transfer_tx(&t, ALICE, in, BOB, 99, NULL, 0, 1, 1);
    t.tx.payload_len--;
    assert_refused(&e, &t.tx, "malformed", "transfer");
    t.tx.payload_len++;
    t.tx.kind = 9;
    assert_refused(&e, &t.tx, "unknown_kind", "9");

    /* An input in another asset: bob's minted GLD. */
    txb_t m;
    uint8_t gld[32];
    mint_tx(&m, MINTER, BOB, "GLD", 10, 1, 0x44);
    block_with(&e, &m.tx);
    ck_assert_int_eq(alpha_record_commitment(BOB, "GLD", 10, m.tx.payload + 32 + 4 + 3 + 8, gld),
                     0);
    transfer_tx(&t, BOB, gld, BOB, 9, NULL, 0, 1, 1);
    assert_refused(&e, &t.tx, "bad_asset", "holds GLD");

    /* Nothing of it changed the ledger: only the mint's records are new. */
    ck_assert_int_eq(balance(&e, ALICE, "ADN"), 100);
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM nullifiers"), 0);
    env_close(&e);
}
END_TEST

START_TEST(test_double_spend_across_blocks)
{
    env_t e;
    txb_t t1, t2;
    uint8_t in[32];
    env_open(&e);
    only_record(&e, ALICE, in);
    transfer_tx(&t1, ALICE, in, BOB, 99, NULL, 0, 1, 1);
    transfer_tx(&t2, ALICE, in, ALICE, 98, NULL, 0, 2, 2);
    block_with(&e, &t1.tx);
    assert_refused(&e, &t2.tx, "double_spend", "already spent");
    ck_assert_int_eq(balance(&e, BOB, "ADN"), 149);
    env_close(&e);
}
END_TEST

START_TEST(test_double_spend_within_block)
{
    env_t e;
    txb_t t1, t2;
    reject_t why;
    uint8_t in[32];
    env_open(&e);
    only_record(&e, ALICE, in);
    transfer_tx(&t1, ALICE, in, BOB, 99, NULL, 0, 1, 1);
    transfer_tx(&t2, ALICE, in, ALICE, 98, NULL, 0, 2, 2);
    /* Both pass admission against the committed state... */
    ck_assert_int_eq(check(&e, &t1.tx, &why), 0);
    ck_assert_int_eq(check(&e, &t2.tx, &why), 0);
    /* ...but only the first applies. */
    blk_begin(&e);
    ck_assert_int_eq(blk_apply(&e, &t1.tx, &why), 0);
    ck_assert_int_lt(blk_apply(&e, &t2.tx, &why), 0);
    ck_assert_str_eq(why.code, "double_spend");
    blk_end(&e, NULL);
    ck_assert_int_eq(balance(&e, BOB, "ADN"), 149);
    ck_assert_int_eq(balance(&e, ALICE, "ADN"), 0);
    ck_assert_int_eq(balance(&e, PROPOSER, "ADN"), 1); /* only t1's fee */
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM nullifiers"), 1);
    env_close(&e);
}
END_TEST

START_TEST(test_burn_with_change)
{
    env_t e;
    txb_t t;
    reject_t why;
    alpha_payload_t p;
    uint8_t in[32];
    char hex[65], sql[300];
    env_open(&e);
    only_record(&e, ALICE, in);
    memset(&p, 0, sizeof p);
    p.kind = ALPHA_TX_BURN;
    p.n_in = 1;
    memcpy(p.in[0], in, 32);
    p.n_out = 1;
    set_record(&p.out[0], ALICE, "ADN", 69, 3);
    p.burn_amount = 30;
    memcpy(p.recipient, RECIPIENT, 32);
    build(&t, &p, ALICE, 2);
    /* 100 != 69 + 30 + 2: overspend. */
    assert_refused(&e, &t.tx, "overspend", "burn 30 + fee 2");
    build(&t, &p, ALICE, 1);
    ck_assert_int_eq(check(&e, &t.tx, &why), 0);
    block_with(&e, &t.tx);
    ck_assert_int_eq(balance(&e, ALICE, "ADN"), 69);
    ck_assert_int_eq(supply(&e, "ADN"), 120);
    hex_encode(hex, RECIPIENT, 32);
    snprintf(sql, sizeof sql,
             "SELECT amount FROM burns WHERE height = 1 AND asset = 'ADN' AND recipient = '%s' "
             "AND length(txid) = 64",
             hex);
    ck_assert_int_eq(q_int(&e, sql), 30);
    hex_encode(hex, ALICE, 32);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM burns WHERE owner = '%s'", hex);
    ck_assert_int_eq(q_int(&e, sql), 1);

    /* A burn of nothing is refused. */
    only_record(&e, ALICE, in);
    memcpy(p.in[0], in, 32);
    p.n_out = 0;
    p.burn_amount = 0;
    build(&t, &p, ALICE, 1);
    assert_refused(&e, &t.tx, "bad_amount", "burn amount 0");
    env_close(&e);
}
END_TEST

START_TEST(test_conservation)
{
    env_t e;
    txb_t t;
    reject_t why;
    uint8_t a[32], b[32];
    alpha_payload_t p;
    env_open(&e);
    only_record(&e, ALICE, a);
    only_record(&e, BOB, b);

    blk_begin(&e);
    mint_tx(&t, MINTER, ALICE, "ADN", 1000, 3, 0x21);
    ck_assert_int_eq(blk_apply(&e, &t.tx, &why), 0);
    transfer_tx(&t, ALICE, a, BOB, 90, ALICE, 5, 5, 0x22);
    ck_assert_int_eq(blk_apply(&e, &t.tx, &why), 0);
    blk_end(&e, NULL);

    memset(&p, 0, sizeof p);
    p.kind = ALPHA_TX_BURN;
    p.n_in = 1;
    memcpy(p.in[0], b, 32);
    p.n_out = 1;
    set_record(&p.out[0], BOB, "ADN", 10, 0x23);
    p.burn_amount = 36;
    build(&t, &p, BOB, 4);
    block_with(&e, &t.tx);

    long long genesis = 150;
    long long minted = q_int(&e, "SELECT sum(amount) + sum(fee) FROM mints WHERE asset = 'ADN'");
    long long burned = q_int(&e, "SELECT sum(amount) FROM burns WHERE asset = 'ADN'");
    ck_assert_int_eq(minted, 1003);
    ck_assert_int_eq(burned, 36);
    ck_assert_int_eq(supply(&e, "ADN"), genesis + minted - burned);
    ck_assert_int_eq(balance(&e, PROPOSER, "ADN"), 3 + 5 + 4);
    env_close(&e);
}
END_TEST

START_TEST(test_fee_salt_collision)
{
    env_t e;
    txb_t t;
    reject_t why;
    uint8_t in[32], salt[32], cm[32];
    alpha_payload_t p;
    env_open(&e);
    only_record(&e, ALICE, in);
    /* Alice gives the proposer a record that is exactly block 1's fee
     * record (fee 1, salt = fee salt of height 1). */
    alpha_fee_salt(1, salt);
    memset(&p, 0, sizeof p);
    p.kind = ALPHA_TX_TRANSFER;
    p.n_in = 1;
    memcpy(p.in[0], in, 32);
    p.n_out = 2;
    set_record(&p.out[0], PROPOSER, "ADN", 1, 0);
    memcpy(p.out[0].salt, salt, 32);
    set_record(&p.out[1], ALICE, "ADN", 98, 9);
    build(&t, &p, ALICE, 1);
    blk_begin(&e);
    ck_assert_int_eq(blk_apply(&e, &t.tx, &why), 0);
    blk_end(&e, NULL); /* does not fail: the fee record gets another salt */
    ck_assert_int_eq(balance(&e, PROPOSER, "ADN"), 2);
    ck_assert_int_eq(alpha_record_commitment(PROPOSER, "ADN", 1, salt, cm), 0);
    char hex[65], sql[200];
    hex_encode(hex, cm, 32);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM records WHERE commitment = '%s'", hex);
    ck_assert_int_eq(q_int(&e, sql), 1);
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM records WHERE created_height = 1"), 3);
    env_close(&e);
}
END_TEST

/* Two ledgers reach the same state in different orders: same root. */
START_TEST(test_root_determinism)
{
    env_t e1, e2;
    txb_t ta, tb;
    reject_t why;
    uint8_t a[32], b[32], r1[32], r2[32];
    env_open(&e1);
    env_open(&e2);
    only_record(&e1, ALICE, a);
    only_record(&e1, BOB, b);
    transfer_tx(&ta, ALICE, a, BOB, 99, NULL, 0, 1, 0x31);
    transfer_tx(&tb, BOB, b, ALICE, 20, BOB, 29, 1, 0x41);

    blk_begin(&e1);
    ck_assert_int_eq(blk_apply(&e1, &ta.tx, &why), 0);
    ck_assert_int_eq(blk_apply(&e1, &tb.tx, &why), 0);
    blk_end(&e1, NULL);
    blk_begin(&e2);
    ck_assert_int_eq(blk_apply(&e2, &tb.tx, &why), 0);
    ck_assert_int_eq(blk_apply(&e2, &ta.tx, &why), 0);
    blk_end(&e2, NULL);
    root_of(&e1, r1);
    root_of(&e2, r2);
    ck_assert_mem_eq(r1, r2, 32);

    /* A state rebuilt from the tables has the same root. */
    void *s = NULL;
    char err[256];
    ck_assert_int_eq(OPS->state_open(&s, SQL(&e1), e1.g, err, sizeof err), 0);
    ck_assert_int_eq(OPS->state_root(s, SQL(&e1), r2), 0);
    ck_assert_mem_eq(r1, r2, 32);
    OPS->state_close(s);
    OPS->state_close(NULL);

    /* And the root is not the genesis root. */
    env_t e3;
    env_open(&e3);
    root_of(&e3, r2);
    ck_assert_mem_ne(r1, r2, 32);
    env_close(&e3);
    env_close(&e1);
    env_close(&e2);
}
END_TEST

START_TEST(test_mark_rollback)
{
    env_t e;
    txb_t t1, t2;
    reject_t why;
    uint8_t a[32], b[32], r0[32], r1[32], r[32];
    env_open(&e);
    only_record(&e, ALICE, a);
    only_record(&e, BOB, b);
    root_of(&e, r0);

    blk_begin(&e);
    transfer_tx(&t1, ALICE, a, BOB, 99, NULL, 0, 1, 0x51);
    ck_assert_int_eq(blk_apply(&e, &t1.tx, &why), 0);
    root_of(&e, r1);
    ck_assert_mem_ne(r0, r1, 32);

    /* A savepoint around t2, applied then undone: root and rows as before. */
    ck_assert_int_eq(sqlite3_exec(DB(&e), "SAVEPOINT tx", NULL, NULL, NULL), SQLITE_OK);
    uint64_t m = OPS->state_mark(e.state);
    chain_exec_t x = exec_of(&e);
    x.txid = e.txid;
    transfer_tx(&t2, BOB, b, ALICE, 49, NULL, 0, 1, 0x52);
    ck_assert_int_eq(OPS->apply_tx(e.state, &x, &t2.tx, &why), 0);
    root_of(&e, r);
    ck_assert_mem_ne(r, r1, 32);
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM nullifiers"), 2);
    ck_assert_int_eq(sqlite3_exec(DB(&e), "ROLLBACK TO tx", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(DB(&e), "RELEASE tx", NULL, NULL, NULL), SQLITE_OK);
    OPS->state_rollback(e.state, m);
    root_of(&e, r);
    ck_assert_mem_eq(r, r1, 32);
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM nullifiers"), 1);
    ck_assert_int_eq(balance(&e, BOB, "ADN"), 149);
    /* The undone tx can apply again (its input is unspent in the tree too). */
    ck_assert_int_eq(blk_apply(&e, &t2.tx, &why), 0);

    /* Whole-block failure: SQL rollback plus rollback to the block mark. */
    ledger_rollback(e.l);
    OPS->state_rollback(e.state, e.block_mark);
    root_of(&e, r);
    ck_assert_mem_eq(r, r0, 32);
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM nullifiers"), 0);
    ck_assert_int_eq(balance(&e, ALICE, "ADN"), 100);

    /* The same block again commits. */
    blk_begin(&e);
    ck_assert_int_eq(blk_apply(&e, &t1.tx, &why), 0);
    blk_end(&e, NULL);
    root_of(&e, r);
    ck_assert_mem_ne(r, r0, 32);
    ck_assert_int_eq(balance(&e, BOB, "ADN"), 149);
    env_close(&e);
}
END_TEST

/* ---- proofs and routes --------------------------------------------------------------- */

/* Check a proof document against the header at its height: state root,
 * tree roots, and smt_verify. Return smt_verify's answer (1 or 0). */
static int verify_doc(env_t *e, json_t *doc, const char *tree, const uint8_t key[32],
                      uint64_t height)
{
    block_header_t h;
    uint8_t rr[32], nr[32], sr[32], troot[32], k[32], v[32];
    const char *what = NULL;
    smt_proof_t *p = malloc(sizeof *p);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(ledger_get_block(e->l, height, &h, NULL, NULL), 0);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "chain")), "alpha");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "tree")), tree);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "height")), (json_int_t)height);
    json_t *roots = json_object_get(doc, "tree_roots");
    ck_assert_int_eq(hex_decode(rr, 32, json_string_value(json_object_get(roots, "records"))), 0);
    ck_assert_int_eq(hex_decode(nr, 32, json_string_value(json_object_get(roots, "nullifiers"))),
                     0);
    alpha_state_root(rr, nr, sr);
    ck_assert_mem_eq(sr, h.state_root, 32);
    uint8_t doc_sr[32];
    ck_assert_int_eq(hex_decode(doc_sr, 32, json_string_value(json_object_get(doc, "state_root"))),
                     0);
    ck_assert_mem_eq(doc_sr, h.state_root, 32);
    ck_assert_int_eq(hex_decode(troot, 32, json_string_value(json_object_get(doc, "tree_root"))),
                     0);
    ck_assert_mem_eq(troot, strcmp(tree, "records") == 0 ? rr : nr, 32);
    ck_assert_msg(smt_proof_from_json(json_object_get(doc, "proof"), troot, k, p, &what) == 0,
                  "%s", what);
    ck_assert_mem_eq(k, key, 32);
    int rc = smt_verify(troot, key, p, v);
    ck_assert_int_ge(rc, 0);
    if (rc == 1) {
        uint8_t want[32];
        if (strcmp(tree, "records") == 0)
            memcpy(want, key, 32);
        else
            alpha_spent_value((uint64_t)json_integer_value(
                                  json_object_get(json_object_get(doc, "value"), "height")),
                              want);
        ck_assert_mem_eq(v, want, 32);
        ck_assert(json_is_object(json_object_get(doc, "value")));
    } else {
        ck_assert(json_is_null(json_object_get(doc, "value")));
    }
    free(p);
    return rc;
}

START_TEST(test_proofs)
{
    env_t e;
    txb_t t;
    uint8_t a[32], b[32], nf[32], other[32];
    char msg[256];
    json_t *doc = NULL;
    env_open(&e);
    only_record(&e, ALICE, a);
    only_record(&e, BOB, b);
    alpha_record_nullifier(a, nf);

    /* Block 1: bob pays alice; block 2: alice's genesis record is spent. */
    transfer_tx(&t, BOB, b, ALICE, 49, NULL, 0, 1, 0x61);
    block_with(&e, &t.tx);
    transfer_tx(&t, ALICE, a, BOB, 99, NULL, 0, 1, 0x62);
    block_with(&e, &t.tx);

    /* Latest (0 = height 2): a is out of the records tree, its nullifier in. */
    ck_assert_msg(alpha_proof_build(DB(&e), ALPHA_TREE_RECORDS, a, 0, &doc, msg, sizeof msg) ==
                      0,
                  "%s", msg);
    ck_assert_int_eq(verify_doc(&e, doc, "records", a, 2), 0);
    json_decref(doc);
    ck_assert_int_eq(alpha_proof_build(DB(&e), ALPHA_TREE_NULLIFIERS, nf, 2, &doc, msg, sizeof msg),
                     0);
    ck_assert_int_eq(verify_doc(&e, doc, "nullifiers", nf, 2), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(doc, "value"), "height")),
                     2);
    json_decref(doc);

    /* At height 1 the record was unspent: included, nullifier absent. */
    ck_assert_int_eq(alpha_proof_build(DB(&e), ALPHA_TREE_RECORDS, a, 1, &doc, msg, sizeof msg), 0);
    ck_assert_int_eq(verify_doc(&e, doc, "records", a, 1), 1);
    json_t *v = json_object_get(doc, "value");
    ck_assert_int_eq(json_integer_value(json_object_get(v, "amount")), 100);
    ck_assert(json_is_null(json_object_get(v, "spent_height")));
    json_decref(doc);
    ck_assert_int_eq(alpha_proof_build(DB(&e), ALPHA_TREE_NULLIFIERS, nf, 1, &doc, msg, sizeof msg),
                     0);
    ck_assert_int_eq(verify_doc(&e, doc, "nullifiers", nf, 1), 0);
    json_decref(doc);

    /* An unspent record made in block 2 is included at 2, not at 1. */
    only_record(&e, BOB, other); /* bob's 99 from block 2 */
    ck_assert_int_eq(alpha_proof_build(DB(&e), ALPHA_TREE_RECORDS, other, 2, &doc, msg, sizeof msg),
                     0);
    ck_assert_int_eq(verify_doc(&e, doc, "records", other, 2), 1);
    json_decref(doc);
    ck_assert_int_eq(alpha_proof_build(DB(&e), ALPHA_TREE_RECORDS, other, 1, &doc, msg, sizeof msg),
                     0);
    ck_assert_int_eq(verify_doc(&e, doc, "records", other, 1), 0);
    json_decref(doc);

    /* Unknown heights. */
    doc = NULL;
    ck_assert_int_eq(alpha_proof_build(DB(&e), ALPHA_TREE_RECORDS, a, 3, &doc, msg, sizeof msg),
                     -ENOENT);
    ck_assert_ptr_null(doc);
    ck_assert_ptr_nonnull(strstr(msg, "height 3"));

    /* A header whose root disagrees with the tables is a state mismatch. */
    ck_assert_int_eq(sqlite3_exec(DB(&e),
                                  "UPDATE blocks SET state_root = '" "00000000000000000000000000000000"
                                  "00000000000000000000000000000000' WHERE height = 1",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(alpha_proof_build(DB(&e), ALPHA_TREE_RECORDS, a, 1, &doc, msg, sizeof msg),
                     -EPROTO);
    ck_assert_ptr_null(doc);
    env_close(&e);
}
END_TEST

static const api_route_t *route(const char *name)
{
    for (size_t i = 0; i < alpha_n_routes; i++)
        if (strcmp(alpha_routes[i].name, name) == 0)
            return &alpha_routes[i];
    ck_abort_msg("no route %s", name);
    return NULL;
}

/* Call a route's handler with one path parameter (or none). */
static int call(env_t *e, const char *name, const char *param, api_response_t *res)
{
    api_request_t req;
    memset(&req, 0, sizeof req);
    memset(res, 0, sizeof *res);
    req.method = "GET";
    req.path = name;
    if (param) {
        req.params[0] = param;
        req.n_params = 1;
    }
    req.db = DB(e);
    return route(name)->fn(&req, res);
}

static const char *err_code(const api_response_t *res)
{
    return json_string_value(json_object_get(json_object_get(res->json, "error"), "code"));
}

START_TEST(test_routes)
{
    env_t e;
    txb_t t;
    api_response_t res;
    uint8_t a[32], nf[32], b[32];
    char ahex[65], nfhex[65], addr[ADDRESS_MAX];
    env_open(&e);
    only_record(&e, ALICE, a);
    hex_encode(ahex, a, 32);
    alpha_record_nullifier(a, nf);
    hex_encode(nfhex, nf, 32);
    ck_assert_int_eq(address_encode(addr, ALICE), 0);

    /* Before any block: record unspent, nullifier unspent, no proofs. */
    call(&e, "/records/{commitment}", ahex, &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(res.json, "owner")), addr);
    ck_assert_str_eq(json_string_value(json_object_get(res.json, "asset")), "ADN");
    ck_assert_int_eq(json_integer_value(json_object_get(res.json, "amount")), 100);
    ck_assert_int_eq(json_integer_value(json_object_get(res.json, "created_height")), 0);
    ck_assert(json_is_null(json_object_get(res.json, "spent_height")));
    ck_assert_str_eq(json_string_value(json_object_get(res.json, "nullifier")), nfhex);
    ck_assert_uint_eq(strlen(json_string_value(json_object_get(res.json, "salt"))), 64);
    json_decref(res.json);
    call(&e, "/proofs/records/{commitment}", ahex, &res);
    ck_assert_int_eq(res.status, 404);
    ck_assert_str_eq(err_code(&res), "not_found");
    json_decref(res.json);

    transfer_tx(&t, ALICE, a, BOB, 60, ALICE, 38, 2, 0x71);
    block_with(&e, &t.tx);

    call(&e, "/records/{commitment}", ahex, &res);
    ck_assert_int_eq(json_integer_value(json_object_get(res.json, "spent_height")), 1);
    json_decref(res.json);
    call(&e, "/records/{commitment}", "zz", &res);
    ck_assert_int_eq(res.status, 400);
    ck_assert_str_eq(err_code(&res), "bad_commitment");
    json_decref(res.json);
    memset(b, 0x42, 32);
    hex_encode(ahex, b, 32);
    call(&e, "/records/{commitment}", ahex, &res);
    ck_assert_int_eq(res.status, 404);
    json_decref(res.json);

    call(&e, "/nullifiers/{nullifier}", nfhex, &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert(json_is_true(json_object_get(res.json, "spent")));
    ck_assert_int_eq(json_integer_value(json_object_get(res.json, "height")), 1);
    json_decref(res.json);
    call(&e, "/nullifiers/{nullifier}", ahex, &res);
    ck_assert(json_is_false(json_object_get(res.json, "spent")));
    ck_assert(json_is_null(json_object_get(res.json, "height")));
    json_decref(res.json);

    /* Alice: her spent genesis record and her change, balance 38. */
    call(&e, "/owners/{address}/records", addr, &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(res.json, "owner")), addr);
    ck_assert_uint_eq(json_array_size(json_object_get(res.json, "records")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(res.json, "balance"),
                                                        "ADN")),
                     38);
    json_decref(res.json);
    char bad[ADDRESS_MAX];
    strcpy(bad, addr);
    bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'q' ? 'p' : 'q';
    call(&e, "/owners/{address}/records", bad, &res);
    ck_assert_int_eq(res.status, 400);
    ck_assert_str_eq(err_code(&res), "bad_address");
    json_decref(res.json);

    call(&e, "/supply", NULL, &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(res.json, "height")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(res.json, "supply"),
                                                        "ADN")),
                     150);
    ck_assert_int_eq(json_object_size(json_object_get(res.json, "burned")), 0);
    json_decref(res.json);

    call(&e, "/proofs/nullifiers/{nullifier}", nfhex, &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_int_eq(verify_doc(&e, res.json, "nullifiers", nf, 1), 1);
    json_decref(res.json);
    call(&e, "/proofs/records/{commitment}", "0123", &res);
    ck_assert_int_eq(res.status, 400);
    ck_assert_str_eq(err_code(&res), "bad_commitment");
    json_decref(res.json);
    env_close(&e);
}
END_TEST

/* state_verify on the ledger (trees, header, supply): 0 and its summary. */
static int verify_state(env_t *e, char *msg, size_t msglen)
{
    msg[0] = '\0';
    return OPS->state_verify(SQL(e), e->g, NULL, msg, msglen);
}

static void assert_verifies(env_t *e)
{
    char msg[CHAIN_ERR_MAX];
    int rc = verify_state(e, msg, sizeof msg);
    ck_assert_msg(rc == 0, "state_verify %d: %s", rc, msg);
    ck_assert_ptr_nonnull(strstr(msg, "conserved"));
}

/* ---- supply totals ------------------------------------------------------------ */

/* Rows where the supply table differs from the sums over records and
 * burns (0 when they agree). */
static const char SUPPLY_MISMATCHES[] =
    "SELECT (SELECT count(*) FROM (SELECT asset, sum(u) AS u, sum(n) AS n, sum(b) AS b FROM ("
    "    SELECT asset, amount AS u, 1 AS n, 0 AS b FROM records WHERE spent_height IS NULL"
    "    UNION ALL SELECT asset, 0, 0, amount FROM burns) GROUP BY asset) AS w"
    "  LEFT JOIN supply AS s USING (asset)"
    "  WHERE s.asset IS NULL OR s.unspent != w.u OR s.records != w.n OR s.burned != w.b)"
    " + (SELECT count(*) FROM supply WHERE (unspent != 0 OR records != 0 OR burned != 0)"
    "    AND asset NOT IN (SELECT asset FROM records WHERE spent_height IS NULL"
    "    UNION SELECT asset FROM burns))";

static void assert_supply_matches(env_t *e)
{
    ck_assert_int_eq(q_int(e, SUPPLY_MISMATCHES), 0);
}

/* An unspent ADN record, the r-th by commitment: its commitment, owner and
 * amount. */
static void pick_record(env_t *e, uint64_t r, uint8_t cm[32], uint8_t owner[32], uint64_t *amount)
{
    sqlite3_stmt *st;
    long long n = q_int(e, "SELECT count(*) FROM records WHERE spent_height IS NULL "
                           "AND asset = 'ADN'");
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(sqlite3_prepare_v2(DB(e),
                                        "SELECT commitment, owner, amount FROM records WHERE "
                                        "spent_height IS NULL AND asset = 'ADN' "
                                        "ORDER BY commitment LIMIT 1 OFFSET ?",
                                        -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)(r % (uint64_t)n));
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(hex_decode(cm, 32, (const char *)sqlite3_column_text(st, 0)), 0);
    ck_assert_int_eq(hex_decode(owner, 32, (const char *)sqlite3_column_text(st, 1)), 0);
    *amount = (uint64_t)sqlite3_column_int64(st, 2);
    sqlite3_finalize(st);
}

static uint64_t supply_rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Transaction k of the supply workload: a mint of ADN or GLD, a transfer
 * or burn of an unspent record, or a transfer that does not balance
 * (refused). */
static void supply_tx(env_t *e, txb_t *t, int k, uint64_t r, uint8_t salt)
{
    static const uint8_t *const to[] = {ALICE, BOB, PROPOSER};
    uint8_t cm[32], owner[32];
    uint64_t a = 0;
    alpha_payload_t p;

    if (k <= 1) {
        mint_tx(t, MINTER, to[r % 3], k ? "GLD" : "ADN", 1 + r % 1000000, 1, salt);
        return;
    }
    pick_record(e, r, cm, owner, &a);
    if (k == 2 || a < 3) { /* too small to split: refused as overspend */
        uint64_t a1 = a < 3 ? a : 1 + (r >> 8) % (a - 2);
        transfer_tx(t, owner, cm, to[(r >> 4) % 3], a1, owner, a < 3 ? 0 : a - a1 - 1, 1, salt);
        return;
    }
    memset(&p, 0, sizeof p);
    p.kind = ALPHA_TX_BURN;
    p.n_in = 1;
    memcpy(p.in[0], cm, 32);
    p.burn_amount = 1 + (r >> 8) % (a - 2);
    if (k == 3)
        set_record(&p.out[p.n_out++], owner, "ADN", a - p.burn_amount - 1, salt);
    else /* outputs + burn + fee != inputs: unbalanced */
        set_record(&p.out[p.n_out++], owner, "ADN", a - p.burn_amount, salt);
    memcpy(p.recipient, RECIPIENT, 32);
    build(t, &p, owner, 1);
}

/* Hundreds of mints, transfers and burns in blocks of 1 to 6, some
 * refused and rolled back to their savepoint, admission checks between
 * them: after every block the supply table equals the sums over records
 * and burns. A block rolled back whole leaves it as it was. */
START_TEST(test_supply_table_tracks_state)
{
    env_t e;
    txb_t t;
    reject_t why;
    char err[256];
    uint64_t seed = 4242;
    int applied = 0, refused = 0;
    uint8_t salt = 0;
    env_open(&e);
    assert_supply_matches(&e);
    ck_assert_int_eq(q_int(&e, "SELECT unspent FROM supply WHERE asset = 'ADN'"), 150);
    ck_assert_int_eq(q_int(&e, "SELECT records FROM supply WHERE asset = 'ADN'"), 2);
    for (int b = 0; b < 80; b++) {
        int n = 1 + (int)(supply_rng(&seed) % 6);
        blk_begin(&e);
        for (int i = 0; i < n; i++) {
            uint64_t r = supply_rng(&seed);
            supply_tx(&e, &t, (int)(r % 5), r >> 3, ++salt);
            if (blk_apply(&e, &t.tx, &why) == 0)
                applied++;
            else
                refused++;
        }
        mint_tx(&t, MINTER, ALICE, "ADN", 5, 1, ++salt);
        ck_assert_int_eq(check(&e, &t.tx, &why), 0);
        blk_end(&e, NULL);
        assert_supply_matches(&e);
    }
    ck_assert_int_gt(applied, 150);
    ck_assert_int_gt(refused, 10);
    ck_assert_int_gt(q_int(&e, "SELECT burned FROM supply WHERE asset = 'ADN'"), 0);
    ck_assert_int_gt(q_int(&e, "SELECT unspent FROM supply WHERE asset = 'GLD'"), 0);

    /* A block whose end was written, then rolled back whole. */
    long long before = q_int(&e, "SELECT unspent FROM supply WHERE asset = 'GLD'");
    blk_begin(&e);
    mint_tx(&t, MINTER, BOB, "GLD", 1000, 1, ++salt);
    ck_assert_int_eq(blk_apply(&e, &t.tx, &why), 0);
    chain_exec_t x = exec_of(&e);
    x.txid = NULL;
    ck_assert_msg(OPS->end_block(e.state, &x, e.fees, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(q_int(&e, "SELECT unspent FROM supply WHERE asset = 'GLD'"), before + 1000);
    ledger_rollback(e.l);
    OPS->state_rollback(e.state, e.block_mark);
    ck_assert_int_eq(q_int(&e, "SELECT unspent FROM supply WHERE asset = 'GLD'"), before);
    assert_supply_matches(&e);
    mint_tx(&t, MINTER, BOB, "GLD", 7, 1, ++salt);
    block_with(&e, &t.tx);
    ck_assert_int_eq(q_int(&e, "SELECT unspent FROM supply WHERE asset = 'GLD'"), before + 7);
    assert_supply_matches(&e);
    assert_verifies(&e); /* minted too, and conservation */
    env_close(&e);
}
END_TEST

/* A ledger made before the supply table gets it filled from its tables,
 * and loses the index that served the sums. */
START_TEST(test_supply_migrates_v3_ledger)
{
    char err[LEDGER_ERR_MAX];
    tmp_ledger_t t;
    ledger_t *l = NULL;
    char rows[200];
    tmp_ledger_init(&t, "alpha-mig");
    ledger_schema_t v3 = {OPS->schema->migrations, 3};
    ck_assert_int_eq(ledger_open(&l, t.db, &v3, err), 0);
    ck_assert_int_eq(sqlite3_exec(ledger_db(l),
                                  "INSERT INTO records VALUES ('c1', 'aa', 'ADN', 100, 's', 0, NULL),"
                                  " ('c2', 'bb', 'ADN', 50, 's', 0, 3), ('c3', 'bb', 'ADN', 20, 's', 3,"
                                  " NULL), ('c4', 'aa', 'GLD', 0, 's', 0, NULL),"
                                  " ('c5', 'aa', 'GLD', 9, 's', 4, 5);"
                                  "INSERT INTO burns VALUES ('t1', 3, 'bb', 'ADN', 29, 'dd'),"
                                  " ('t2', 5, 'aa', 'GLD', 9, 'dd');",
                                  NULL, NULL, NULL), SQLITE_OK);
    ledger_close(l);
    ck_assert_msg(ledger_open(&l, t.db, OPS->schema, err) == 0, "%s", err);
    ck_assert_int_eq(ledger_schema_version(l), (int)OPS->schema->n);
    ck_assert_int_eq(db_int(ledger_db(l), SUPPLY_MISMATCHES), 0);
    db_text(ledger_db(l), "SELECT group_concat(asset || ':' || unspent || ':' || records || ':' "
                          "|| burned, ' ') FROM (SELECT * FROM supply ORDER BY asset)",
            rows, sizeof rows);
    ck_assert_str_eq(rows, "ADN:120:2:29 GLD:0:1:9");
    ck_assert_int_eq(db_int(ledger_db(l), "SELECT count(*) FROM sqlite_master WHERE name = "
                                          "'records_unspent_asset'"), 0);
    ledger_close(l);
    tmp_ledger_cleanup(&t);
}
END_TEST

/* ---- the bridge ---------------------------------------------------------------- */

/* A burn of one input: change to the sender (0: none), burn, fee. */
static void burn_tx(txb_t *t, const uint8_t sender[32], const uint8_t in[32], uint64_t change,
                    uint64_t burn, uint64_t fee, uint8_t salt_byte)
{
    alpha_payload_t p;
    memset(&p, 0, sizeof p);
    p.kind = ALPHA_TX_BURN;
    p.n_in = 1;
    memcpy(p.in[0], in, 32);
    if (change > 0)
        set_record(&p.out[p.n_out++], sender, "ADN", change, salt_byte);
    p.burn_amount = burn;
    memcpy(p.recipient, RECIPIENT, 32);
    build(t, &p, sender, fee);
}

static void transfer_of(bridge_transfer_t *b, uint8_t id_byte, const uint8_t to[32],
                        const char *asset, uint64_t amount)
{
    memset(b, 0, sizeof *b);
    memset(b->id, id_byte, 32);
    snprintf(b->asset, sizeof b->asset, "%s", asset);
    b->amount = amount;
    memcpy(b->recipient, to, 32);
}

/* Credit b in the open block as the pipeline does: in a savepoint and a
 * state mark, both undone if it is refused. */
static int blk_bridge_mint(env_t *e, const bridge_transfer_t *b, reject_t *why)
{
    ck_assert_int_eq(sqlite3_exec(DB(e), "SAVEPOINT mint", NULL, NULL, NULL), SQLITE_OK);
    uint64_t m = OPS->state_mark(e->state);
    chain_exec_t x = exec_of(e);
    x.txid = NULL;
    memset(why, 0, sizeof *why);
    int rc = OPS->bridge_mint(e->state, &x, b, why);
    if (rc != 0) {
        ck_assert_ptr_nonnull(why->code);
        ck_assert_int_eq(sqlite3_exec(DB(e), "ROLLBACK TO mint", NULL, NULL, NULL), SQLITE_OK);
        OPS->state_rollback(e->state, m);
    }
    ck_assert_int_eq(sqlite3_exec(DB(e), "RELEASE mint", NULL, NULL, NULL), SQLITE_OK);
    return rc;
}

/* The record bridge_mint makes for b with salt (recomputed here). */
static void bridge_record(const bridge_transfer_t *b, const uint8_t salt[32], uint8_t cm[32])
{
    ck_assert_int_eq(alpha_record_commitment(b->recipient, b->asset, b->amount, salt, cm), 0);
}

static long long supply_col(env_t *e, const char *col, const char *asset)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT coalesce((SELECT %s FROM supply WHERE asset = '%s'), 0)",
             col, asset);
    return q_int(e, sql);
}

typedef struct {
    bridge_transfer_t b[8];
    size_t n;
    int stop_after;             /* return 7 after this many (0: never) */
} outs_t;

static int collect_out(void *ctx, const bridge_transfer_t *b)
{
    outs_t *o = ctx;
    ck_assert_uint_lt(o->n, 8);
    o->b[o->n++] = *b;
    return o->stop_after != 0 && (int)o->n >= o->stop_after ? 7 : 0;
}

START_TEST(test_bridge_outs_lists_burns)
{
    env_t e;
    txb_t t;
    reject_t why;
    uint8_t a[32], b[32], ids[2][32];
    outs_t o = {0};
    char plan[400];
    env_open(&e);
    only_record(&e, ALICE, a);
    only_record(&e, BOB, b);
    /* Block 1: bob burns 20, a transfer, alice burns 30: in that order. */
    blk_begin(&e);
    burn_tx(&t, BOB, b, 29, 20, 1, 0x81);
    ck_assert_int_eq(blk_apply(&e, &t.tx, &why), 0);
    memcpy(ids[0], e.txid, 32);
    mint_tx(&t, MINTER, BOB, "ADN", 3, 1, 0x82);
    ck_assert_int_eq(blk_apply(&e, &t.tx, &why), 0);
    burn_tx(&t, ALICE, a, 0, 99, 1, 0x83);
    ck_assert_int_eq(blk_apply(&e, &t.tx, &why), 0);
    memcpy(ids[1], e.txid, 32);
    blk_end(&e, NULL);
    mint_tx(&t, MINTER, BOB, "ADN", 3, 1, 0x84);
    block_with(&e, &t.tx);

    ck_assert_int_eq(OPS->bridge_outs(SQL(&e), 1, collect_out, &o), 0);
    ck_assert_uint_eq(o.n, 2);
    ck_assert_mem_eq(o.b[0].id, ids[0], 32);
    ck_assert_str_eq(o.b[0].asset, "ADN");
    ck_assert_uint_eq(o.b[0].amount, 20);
    ck_assert_mem_eq(o.b[0].recipient, RECIPIENT, 32);
    ck_assert_mem_eq(o.b[1].id, ids[1], 32);
    ck_assert_uint_eq(o.b[1].amount, 99);
    /* None at a height without burns, nor at one not yet made. */
    o.n = 0;
    ck_assert_int_eq(OPS->bridge_outs(SQL(&e), 2, collect_out, &o), 0);
    ck_assert_int_eq(OPS->bridge_outs(SQL(&e), 9, collect_out, &o), 0);
    ck_assert_uint_eq(o.n, 0);
    /* fn's nonzero value stops the walk and is returned. */
    o.stop_after = 1;
    ck_assert_int_eq(OPS->bridge_outs(SQL(&e), 1, collect_out, &o), 7);
    ck_assert_uint_eq(o.n, 1);
    /* The height is looked up in an index, not by scanning burns. */
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(DB(&e), "EXPLAIN QUERY PLAN SELECT txid FROM burns "
                                        "WHERE height = 1 ORDER BY idx, rowid", -1, &st, NULL),
                     SQLITE_OK);
    plan[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW)
        snprintf(plan + strlen(plan), sizeof plan - strlen(plan), "%s | ",
                 (const char *)sqlite3_column_text(st, 3));
    sqlite3_finalize(st);
    ck_assert_msg(strstr(plan, "USING INDEX burns_height") != NULL, "%s", plan);
    ck_assert_msg(strstr(plan, "TEMP B-TREE") == NULL, "%s", plan);
    env_close(&e);
}
END_TEST

/* A credited transfer is a record of its recipient with the bridge salt:
 * in the records tree and the supply, found by GET /bridge/{id}, and
 * spendable by its owner, who can compute its salt. */
START_TEST(test_bridge_mint_record)
{
    env_t e;
    txb_t t;
    reject_t why;
    bridge_transfer_t b;
    api_response_t res;
    uint8_t salt[32], cm[32];
    char cmhex[65], idhex[65], salthex[65], msg[256], sql[300];
    json_t *doc = NULL;
    env_open(&e);
    transfer_of(&b, 0xb1, ALICE, "ADN", 40);
    alpha_bridge_salt(b.id, salt);
    bridge_record(&b, salt, cm);
    hex_encode(cmhex, cm, 32);
    hex_encode(idhex, b.id, 32);
    hex_encode(salthex, salt, 32);
    blk_begin(&e);
    ck_assert_msg(blk_bridge_mint(&e, &b, &why) == 0, "%s: %s", why.code, why.message);
    blk_end(&e, NULL);

    snprintf(sql, sizeof sql, "SELECT count(*) FROM records WHERE commitment = '%s' AND salt = "
             "'%s' AND amount = 40 AND asset = 'ADN' AND created_height = 1 AND spent_height IS "
             "NULL", cmhex, salthex);
    ck_assert_int_eq(q_int(&e, sql), 1);
    snprintf(sql, sizeof sql, "SELECT height FROM bridge_mints WHERE id = '%s' AND "
             "commitment = '%s'", idhex, cmhex);
    ck_assert_int_eq(q_int(&e, sql), 1);
    ck_assert_int_eq(balance(&e, ALICE, "ADN"), 140);
    ck_assert_int_eq(supply_col(&e, "unspent", "ADN"), 190);
    ck_assert_int_eq(supply_col(&e, "records", "ADN"), 3);
    ck_assert_int_eq(supply_col(&e, "bridged_in", "ADN"), 40);
    ck_assert_int_eq(supply_col(&e, "minted", "ADN"), 0);
    assert_verifies(&e);
    ck_assert_int_eq(alpha_proof_build(DB(&e), ALPHA_TREE_RECORDS, cm, 1, &doc, msg, sizeof msg),
                     0);
    ck_assert_int_eq(verify_doc(&e, doc, "records", cm, 1), 1);
    json_decref(doc);

    call(&e, "/bridge/{id}", idhex, &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(res.json, "record"),
                                                       "commitment")), cmhex);
    json_decref(res.json);
    memset(salt, 0x99, 32);
    hex_encode(idhex, salt, 32);
    call(&e, "/bridge/{id}", idhex, &res);
    ck_assert_int_eq(res.status, 404);
    json_decref(res.json);

    /* Alice spends it: 39 to bob, fee 1. */
    transfer_tx(&t, ALICE, cm, BOB, 39, NULL, 0, 1, 0x91);
    block_with(&e, &t.tx);
    ck_assert_int_eq(balance(&e, BOB, "ADN"), 89);
    ck_assert_int_eq(balance(&e, ALICE, "ADN"), 100);
    assert_verifies(&e);

    /* /supply: the totals, and the bridge's pending transfers. */
    transfer_of(&b, 0xb2, BOB, "GLD", 8);
    ck_assert_int_eq(bridgetab_put(SQL(&e), "delta", 4, &b, 1, T0_MS), 0);
    call(&e, "/supply", NULL, &res);
    ck_assert_int_eq(res.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(res.json, "supply"),
                                                        "ADN")), 190);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(res.json, "bridged_in"),
                                                        "ADN")), 40);
    ck_assert_int_eq(json_object_size(json_object_get(res.json, "minted")), 0);
    json_t *gld = json_object_get(json_object_get(res.json, "bridge_in"), "GLD");
    ck_assert_int_eq(json_integer_value(json_object_get(gld, "pending")), 8);
    ck_assert_int_eq(json_integer_value(json_object_get(gld, "minted")), 0);
    json_decref(res.json);

    /* A supply table that disagrees with the tables fails the check. */
    ck_assert_int_eq(sqlite3_exec(DB(&e), "UPDATE supply SET bridged_in = 41 WHERE asset = 'ADN'",
                                  NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(verify_state(&e, msg, sizeof msg), -EILSEQ);
    ck_assert_msg(strstr(msg, "bridged_in is 41") != NULL, "%s", msg);
    env_close(&e);
}
END_TEST

/* Undone by its savepoint and the state journal, or with its block, a
 * credit leaves nothing: no row, no tree leaf, no supply. */
START_TEST(test_bridge_mint_rollback)
{
    env_t e;
    reject_t why;
    bridge_transfer_t b;
    uint8_t r0[32], r[32];
    env_open(&e);
    long long rows = q_int(&e, "SELECT count(*) FROM records");
    transfer_of(&b, 0xc1, BOB, "ADN", 25);
    root_of(&e, r0);

    blk_begin(&e);
    ck_assert_int_eq(sqlite3_exec(DB(&e), "SAVEPOINT mint", NULL, NULL, NULL), SQLITE_OK);
    uint64_t m = OPS->state_mark(e.state);
    chain_exec_t x = exec_of(&e);
    ck_assert_int_eq(OPS->bridge_mint(e.state, &x, &b, &why), 0);
    root_of(&e, r);
    ck_assert_mem_ne(r, r0, 32);
    ck_assert_int_eq(sqlite3_exec(DB(&e), "ROLLBACK TO mint", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(DB(&e), "RELEASE mint", NULL, NULL, NULL), SQLITE_OK);
    OPS->state_rollback(e.state, m);
    root_of(&e, r);
    ck_assert_mem_eq(r, r0, 32);
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM records"), rows);
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM bridge_mints"), 0);
    blk_end(&e, NULL);
    ck_assert_int_eq(supply_col(&e, "bridged_in", "ADN"), 0);
    ck_assert_int_eq(supply_col(&e, "unspent", "ADN"), 150);
    ck_assert_int_eq(supply_col(&e, "records", "ADN"), 2);

    /* The whole block rolled back after its end was written. */
    char err[256];
    blk_begin(&e);
    ck_assert_int_eq(blk_bridge_mint(&e, &b, &why), 0);
    x = exec_of(&e);
    x.txid = NULL;
    ck_assert_msg(OPS->end_block(e.state, &x, 0, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(supply_col(&e, "bridged_in", "ADN"), 25);
    ledger_rollback(e.l);
    OPS->state_rollback(e.state, e.block_mark);
    root_of(&e, r);
    ck_assert_mem_eq(r, r0, 32);
    ck_assert_int_eq(supply_col(&e, "bridged_in", "ADN"), 0);
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM bridge_mints"), 0);
    /* And it can be credited afterwards. */
    blk_begin(&e);
    ck_assert_int_eq(blk_bridge_mint(&e, &b, &why), 0);
    blk_end(&e, NULL);
    ck_assert_int_eq(balance(&e, BOB, "ADN"), 75);
    assert_verifies(&e);
    env_close(&e);
}
END_TEST

/* The bridge salt already taken (someone gave the recipient that very
 * record): the salt is hashed again. The same transfer id a second time
 * is refused (bridge_mints holds one row per id). */
START_TEST(test_bridge_mint_salt_taken_and_replay)
{
    env_t e;
    txb_t t;
    reject_t why;
    bridge_transfer_t b;
    alpha_payload_t p;
    uint8_t in[32], salt[32], cm[32], cm2[32];
    char hex[65], sql[300];
    env_open(&e);
    only_record(&e, ALICE, in);
    transfer_of(&b, 0xd1, BOB, "ADN", 40);
    alpha_bridge_salt(b.id, salt);
    bridge_record(&b, salt, cm);
    memset(&p, 0, sizeof p);
    p.kind = ALPHA_TX_TRANSFER;
    p.n_in = 1;
    memcpy(p.in[0], in, 32);
    p.n_out = 2;
    set_record(&p.out[0], BOB, "ADN", 40, 0);
    memcpy(p.out[0].salt, salt, 32);
    set_record(&p.out[1], ALICE, "ADN", 59, 9);
    build(&t, &p, ALICE, 1);
    block_with(&e, &t.tx);

    blk_begin(&e);
    ck_assert_msg(blk_bridge_mint(&e, &b, &why) == 0, "%s: %s", why.code, why.message);
    blk_end(&e, NULL);
    crypto_generichash(salt, 32, salt, 32, NULL, 0);
    bridge_record(&b, salt, cm2);
    ck_assert_mem_ne(cm, cm2, 32);
    hex_encode(hex, cm2, 32);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM bridge_mints JOIN records USING (commitment) "
             "WHERE commitment = '%s' AND created_height = 2", hex);
    ck_assert_int_eq(q_int(&e, sql), 1);
    ck_assert_int_eq(balance(&e, BOB, "ADN"), 130);

    uint8_t r0[32], r[32];
    root_of(&e, r0);
    blk_begin(&e);
    ck_assert_int_eq(blk_bridge_mint(&e, &b, &why), -EEXIST);
    ck_assert_str_eq(why.code, "duplicate_transfer");
    blk_end(&e, NULL);
    root_of(&e, r);
    ck_assert_mem_eq(r, r0, 32);
    ck_assert_int_eq(balance(&e, BOB, "ADN"), 130);
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM bridge_mints"), 1);
    assert_verifies(&e);
    env_close(&e);
}
END_TEST

/* Refused, with nothing changed: assets that are not symbols, amounts out
 * of 1..2^63-1, a supply that would pass 2^63-1. */
START_TEST(test_bridge_mint_refusals)
{
    env_t e;
    reject_t why;
    bridge_transfer_t b;
    uint8_t r0[32], r[32];
    env_open(&e);
    root_of(&e, r0);
    blk_begin(&e);
    transfer_of(&b, 0xe1, ALICE, "ADN", (uint64_t)INT64_MAX - 149);
    ck_assert_int_eq(blk_bridge_mint(&e, &b, &why), -EOVERFLOW);
    ck_assert_str_eq(why.code, "overflow");
    transfer_of(&b, 0xe1, ALICE, "ADN", 0);
    ck_assert_int_eq(blk_bridge_mint(&e, &b, &why), -EINVAL);
    ck_assert_str_eq(why.code, "bad_amount");
    transfer_of(&b, 0xe1, ALICE, "ADN", (uint64_t)INT64_MAX + 1);
    ck_assert_int_eq(blk_bridge_mint(&e, &b, &why), -EINVAL);
    ck_assert_str_eq(why.code, "bad_amount");
    transfer_of(&b, 0xe1, ALICE, "A B", 5);
    ck_assert_int_eq(blk_bridge_mint(&e, &b, &why), -EINVAL);
    ck_assert_str_eq(why.code, "bad_asset");
    transfer_of(&b, 0xe1, ALICE, "", 5);
    ck_assert_int_eq(blk_bridge_mint(&e, &b, &why), -EINVAL);
    memset(b.asset, 'A', sizeof b.asset); /* no NUL */
    ck_assert_int_eq(blk_bridge_mint(&e, &b, &why), -EINVAL);
    ck_assert_str_eq(why.code, "bad_asset");
    root_of(&e, r);
    ck_assert_mem_eq(r, r0, 32);
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM bridge_mints"), 0);

    /* Up to 2^63-1 exactly, counting the block's credits so far. */
    transfer_of(&b, 0xe2, ALICE, "GLD", (uint64_t)INT64_MAX - 1);
    ck_assert_int_eq(blk_bridge_mint(&e, &b, &why), 0);
    transfer_of(&b, 0xe3, ALICE, "GLD", 2);
    ck_assert_int_eq(blk_bridge_mint(&e, &b, &why), -EOVERFLOW);
    transfer_of(&b, 0xe3, ALICE, "GLD", 1);
    ck_assert_int_eq(blk_bridge_mint(&e, &b, &why), 0);
    blk_end(&e, NULL);
    ck_assert_int_eq(supply_col(&e, "bridged_in", "GLD"), INT64_MAX);
    transfer_of(&b, 0xe4, ALICE, "GLD", 1);
    blk_begin(&e);
    ck_assert_int_eq(blk_bridge_mint(&e, &b, &why), -EOVERFLOW);
    blk_end(&e, NULL);
    assert_verifies(&e);
    env_close(&e);
}
END_TEST

/* A ledger of schema 9 gets supply.minted from its mints (amounts, and
 * fees in the fee asset), bridged_in 0, and each burn's block position. */
START_TEST(test_migration_10_fills_minted)
{
    char err[LEDGER_ERR_MAX], rows[200];
    tmp_ledger_t t;
    ledger_t *l = NULL;
    tmp_ledger_init(&t, "alpha-mig");
    ledger_schema_t v9 = {OPS->schema->migrations, 9};
    ck_assert_int_eq(ledger_open(&l, t.db, &v9, err), 0);
    ck_assert_msg(sqlite3_exec(ledger_db(l),
                                  "INSERT INTO records VALUES ('c1', 'aa', 'ADN', 100, 's', 0, NULL),"
                                  " ('m1', 'bb', 'GLD', 10, 's', 1, NULL), ('f1', 'pp', 'ADN', 2, 's', 1,"
                                  " NULL), ('m2', 'bb', 'ADN', 5, 's', 2, NULL);"
                                  "INSERT INTO mints VALUES ('t1', 1, 'mm', 'm1', 'GLD', 10, 2),"
                                  " ('t2', 2, 'mm', 'm2', 'ADN', 5, 0), ('t3', 2, 'mm', 'm3', 'SLV', 4, 0);"
                                  "INSERT INTO supply VALUES ('ADN', 107, 3, 0), ('GLD', 10, 1, 0);"
                                  "INSERT INTO blocks VALUES (3, 'h3', 'p', 't', 0, 'c', 1, 'pr', 'tr',"
                                  " 'sr', 2, x'', x'', NULL, NULL);"
                                  "INSERT INTO txs VALUES ('b1', 3, 4, 'burn', NULL, x'');"
                                  "INSERT INTO burns VALUES ('b1', 3, 'aa', 'ADN', 1, 'dd'),"
                                  " ('b2', 3, 'aa', 'ADN', 1, 'dd');",
                                  NULL, NULL, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(ledger_db(l)));
    ledger_close(l);
    ck_assert_msg(ledger_open(&l, t.db, OPS->schema, err) == 0, "%s", err);
    ck_assert_int_eq(ledger_schema_version(l), 11);
    db_text(ledger_db(l), "SELECT group_concat(asset || ':' || unspent || ':' || minted || ':' "
                          "|| bridged_in, ' ') FROM (SELECT * FROM supply ORDER BY asset)",
            rows, sizeof rows);
    ck_assert_str_eq(rows, "ADN:107:7:0 GLD:10:10:0 SLV:0:4:0");
    db_text(ledger_db(l), "SELECT group_concat(txid || ':' || coalesce(idx, '-'), ' ') FROM "
                          "(SELECT * FROM burns ORDER BY txid)", rows, sizeof rows);
    ck_assert_str_eq(rows, "b1:4 b2:-");
    ck_assert_int_eq(db_int(ledger_db(l), "SELECT count(*) FROM bridge_mints"), 0);
    ledger_close(l);
    tmp_ledger_cleanup(&t);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "alpha", .tcase = "alpha", .timeout_s = 30};
    return suite_build(&spec, SUITE_TESTS(
        test_codec_layouts, test_payload_check_names_the_output, test_hashes,
        test_schema_and_genesis, test_migration_from_v2, test_mint, test_mint_overflow,
        test_transfer_accept, test_transfer_rejects, test_double_spend_across_blocks,
        test_double_spend_within_block, test_burn_with_change, test_conservation,
        test_fee_salt_collision, test_root_determinism, test_mark_rollback, test_proofs,
        test_routes, test_supply_table_tracks_state, test_supply_migrates_v3_ledger,
        test_bridge_outs_lists_burns, test_bridge_mint_record, test_bridge_mint_rollback,
        test_bridge_mint_salt_taken_and_replay, test_bridge_mint_refusals,
        test_migration_10_fills_minted));
}
