/* delta-worker/delta_chain.c, delta_routes.c and proto/delta_tx.c: payload
 * codecs and leaves, every transaction kind's accept and reject paths (with
 * their codes and messages), AMM rounding and edge cases, staking and
 * unbonding maturity, nonces, fees, conservation, root determinism,
 * rollback, and the HTTP routes. The chain's functions are called directly,
 * the way the pipeline calls them (savepoint per transaction, end_block,
 * state_root, commit). */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "common/base/bech32.h"
#include "common/base/hex.h"
#include "common/node/api/api.h"
#include "common/node/api/node.h"
#include "common/node/chain/chain.h"
#include "common/store/genesis.h"
#include "common/store/ledger.h"
#include "common/store/smt.h"
#include "common/store/tree.h"
#include "delta-worker/delta_chain.h"
#include "proto/delta_tx.h"
#include "tests/lib/chainenv.h"
#include "tests/lib/db.h"
#include "tests/lib/gen.h"
#include "tests/lib/tmp.h"

Suite *test_suite(void);

__extension__ typedef unsigned __int128 u128;

#define I64MAX ((uint64_t)INT64_MAX)

static const chain_ops_t *OPS = &delta_chain_ops;

static uint8_t ALICE[32], BOB[32], CAROL[32], PROP[32];

static void keys_init(void)
{
    memset(ALICE, 0xa1, 32);
    memset(BOB, 0xb0, 32);
    memset(CAROL, 0xc4, 32);
    memset(PROP, 0xee, 32);
}

typedef struct {
    tmp_ledger_t tmp;     /* the ledger's directory */
    ledger_t *l;
    sqlite3 *db;
    sql_t *sql;           /* ledger_sql(l): what the chain code takes */
    genesis_t *g;
    void *st;
    uint64_t height;          /* last committed height */
    int in_block;
    chain_exec_t x;
} env_t;

static genesis_t *genesis_new(void)
{
    return gen_new("delta", "delta-test-1"); /* min_fee 1, fee asset ADN, unbonding 10 */
}

/* The default world: alice and bob hold ADN and USD, carol a little ADN. */
static genesis_t *genesis_default(void)
{
    genesis_t *g = genesis_new();
    gen_add_balance(g, ALICE, "ADN", 1000000);
    gen_add_balance(g, ALICE, "USD", 1000000);
    gen_add_balance(g, BOB, "ADN", 1000000);
    gen_add_balance(g, BOB, "USD", 1000000);
    gen_add_balance(g, CAROL, "ADN", 100);
    return g;
}

static void env_open_with(env_t *e, genesis_t *g)
{
    memset(e, 0, sizeof *e);
    keys_init();
    tmp_ledger_init(&e->tmp, "delta");
    e->g = g;
    chainenv_open(OPS, e->tmp.db, g, &e->l, &e->st);
    e->db = ledger_db(e->l);
    e->sql = ledger_sql(e->l);
}

static void env_open(env_t *e)
{
    keys_init();
    env_open_with(e, genesis_default());
}

static void env_close(env_t *e)
{
    chainenv_close(OPS, e->l, e->st);
    tmp_ledger_cleanup(&e->tmp);
    free(e->g);
}

static void block_begin(env_t *e)
{
    ck_assert(!e->in_block);
    ck_assert_int_eq(ledger_begin(e->l), 0);
    e->in_block = 1;
    memset(&e->x, 0, sizeof e->x);
    e->x.sql = e->sql;
    e->x.genesis = e->g;
    e->x.height = e->height + 1;
    e->x.time_ms = e->g->genesis_time_ms + 1000 * e->x.height;
    e->x.proposer = PROP;
}

/* Apply one transaction the way the pipeline does: savepoint + journal mark,
 * undone on failure. */
static int block_apply(env_t *e, const tx_t *tx, reject_t *why)
{
    static uint8_t txid[32];
    ck_assert(e->in_block);
    /* a distinct id per (height, index): bridge_outs is keyed by it */
    memset(txid, 0, sizeof txid);
    txid[0] = 1;
    for (int i = 0; i < 8; i++)
        txid[8 + i] = (uint8_t)(e->x.height >> (56 - 8 * i));
    txid[16] = (uint8_t)(e->x.index >> 8);
    txid[17] = (uint8_t)e->x.index;
    e->x.txid = txid;
    ck_assert_int_eq(sqlite3_exec(e->db, "SAVEPOINT tx", NULL, NULL, NULL), SQLITE_OK);
    uint64_t mark = OPS->state_mark(e->st);
    int r = OPS->apply_tx(e->st, &e->x, tx, why);
    if (r < 0) {
        ck_assert_int_eq(sqlite3_exec(e->db, "ROLLBACK TO tx", NULL, NULL, NULL), SQLITE_OK);
        OPS->state_rollback(e->st, mark);
    }
    ck_assert_int_eq(sqlite3_exec(e->db, "RELEASE tx", NULL, NULL, NULL), SQLITE_OK);
    e->x.index++;
    return r;
}

/* The block's row, as the pipeline writes it: the start-up check compares
 * the stored tree with the last header's state root. */
static void block_row(env_t *e, const uint8_t root[32])
{
    block_header_t h;
    uint8_t hash[32];
    commit_cert_t *cert = calloc(1, sizeof *cert);
    ck_assert_ptr_nonnull(cert);
    memset(&h, 0, sizeof h);
    h.protocol_version = 1;
    snprintf(h.chain_id, sizeof h.chain_id, "%s", e->g->chain_id);
    h.height = e->x.height;
    h.time_ms = e->x.time_ms;
    memcpy(h.state_root, root, 32);
    memcpy(h.proposer, PROP, 32);
    ledger_tip_t tip;
    ck_assert_int_eq(ledger_tip(e->l, &tip), 0);
    memcpy(h.prev_hash, tip.height ? tip.hash : e->g->hash, 32);
    ck_assert_int_eq(block_header_hash(&h, hash), 0);
    cert->height = h.height;
    memcpy(cert->block_hash, hash, 32);
    cert->n_sigs = 1;
    memcpy(cert->sigs[0].validator, PROP, 32);
    ck_assert_msg(ledger_put_block(e->l, &h, hash, cert) == 0, "%s", ledger_errmsg(e->l));
    free(cert);
}

static void block_end(env_t *e, uint64_t fees)
{
    char err[CHAIN_ERR_MAX];
    uint8_t root[32];
    e->x.txid = NULL;
    ck_assert_msg(OPS->end_block(e->st, &e->x, fees, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(OPS->state_root(e->st, e->sql, root), 0);
    block_row(e, root);
    ck_assert_int_eq(ledger_commit(e->l), 0);
    OPS->state_commit(e->st);
    e->in_block = 0;
    e->height++;
}

/* One transaction in a block of its own; fees are paid if it applied. */
static int run1(env_t *e, const tx_t *tx, reject_t *why)
{
    block_begin(e);
    int r = block_apply(e, tx, why);
    block_end(e, r == 0 ? tx->fee : 0);
    return r;
}

static void empty_block(env_t *e)
{
    block_begin(e);
    block_end(e, 0);
}

static int check(env_t *e, const tx_t *tx, reject_t *why)
{
    chain_exec_t x = {0};
    x.sql = e->sql;
    x.genesis = e->g;
    x.height = e->height + 1;
    x.proposer = PROP;
    return OPS->check_tx(e->st, &x, tx, why);
}

typedef struct {
    tx_t tx;
    uint8_t buf[DELTA_PAYLOAD_MAX];
} txb_t;

static const tx_t *mk(txb_t *t, const uint8_t *sender, uint64_t nonce, uint64_t fee,
                      const delta_payload_t *p)
{
    size_t len = 0;
    memset(t, 0, sizeof *t);
    ck_assert_int_eq(delta_payload_encode(p, t->buf, sizeof t->buf, &len), 0);
    strcpy(t->tx.chain_id, "delta-test-1");
    t->tx.kind = p->kind;
    memcpy(t->tx.sender, sender, 32);
    t->tx.fee = fee;
    t->tx.nonce = nonce;
    t->tx.expiry_height = 1000000;
    t->tx.payload = t->buf;
    t->tx.payload_len = len;
    return &t->tx;
}

static const tx_t *transfer(txb_t *t, const uint8_t *from, uint64_t nonce, const uint8_t *to,
                            const char *asset, uint64_t amount)
{
    delta_payload_t p = {.kind = DELTA_TX_TRANSFER};
    memcpy(p.u.transfer.to, to, 32);
    strcpy(p.u.transfer.asset, asset);
    p.u.transfer.amount = amount;
    return mk(t, from, nonce, 1, &p);
}

static const tx_t *pool_create(txb_t *t, const uint8_t *from, uint64_t nonce, const char *a,
                               const char *b, uint64_t amount_a, uint64_t amount_b, uint16_t fee)
{
    delta_payload_t p = {.kind = DELTA_TX_POOL_CREATE};
    strcpy(p.u.pool_create.asset_a, a);
    strcpy(p.u.pool_create.asset_b, b);
    p.u.pool_create.amount_a = amount_a;
    p.u.pool_create.amount_b = amount_b;
    p.u.pool_create.fee_bps = fee;
    return mk(t, from, nonce, 1, &p);
}

static const tx_t *liq_add(txb_t *t, const uint8_t *from, uint64_t nonce, const char *a,
                           const char *b, uint64_t max_a, uint64_t max_b, uint64_t min_shares)
{
    delta_payload_t p = {.kind = DELTA_TX_LIQUIDITY_ADD};
    strcpy(p.u.liquidity_add.asset_a, a);
    strcpy(p.u.liquidity_add.asset_b, b);
    p.u.liquidity_add.max_a = max_a;
    p.u.liquidity_add.max_b = max_b;
    p.u.liquidity_add.min_shares = min_shares;
    return mk(t, from, nonce, 1, &p);
}

static const tx_t *liq_remove(txb_t *t, const uint8_t *from, uint64_t nonce, const char *a,
                              const char *b, uint64_t shares, uint64_t min_a, uint64_t min_b)
{
    delta_payload_t p = {.kind = DELTA_TX_LIQUIDITY_REMOVE};
    strcpy(p.u.liquidity_remove.asset_a, a);
    strcpy(p.u.liquidity_remove.asset_b, b);
    p.u.liquidity_remove.shares = shares;
    p.u.liquidity_remove.min_a = min_a;
    p.u.liquidity_remove.min_b = min_b;
    return mk(t, from, nonce, 1, &p);
}

static const tx_t *swap(txb_t *t, const uint8_t *from, uint64_t nonce, const char *in,
                        const char *out, uint64_t amount_in, uint64_t min_out)
{
    delta_payload_t p = {.kind = DELTA_TX_SWAP};
    strcpy(p.u.swap.asset_in, in);
    strcpy(p.u.swap.asset_out, out);
    p.u.swap.amount_in = amount_in;
    p.u.swap.min_out = min_out;
    return mk(t, from, nonce, 1, &p);
}

static const tx_t *stake(txb_t *t, const uint8_t *from, uint64_t nonce, uint16_t kind,
                         uint64_t amount)
{
    delta_payload_t p = {.kind = kind};
    p.u.stake.amount = amount;
    return mk(t, from, nonce, 1, &p);
}

/* ---- SQL probes ---- */

static int64_t q_int(env_t *e, const char *sql, const char *text1, const char *text2)
{
    sqlite3_stmt *st;
    int64_t v = -1;
    ck_assert_int_eq(sqlite3_prepare_v2(e->db, sql, -1, &st, NULL), SQLITE_OK);
    if (text1)
        sqlite3_bind_text(st, 1, text1, -1, SQLITE_TRANSIENT);
    if (text2)
        sqlite3_bind_text(st, 2, text2, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        v = sqlite3_column_type(st, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 0);
    else
        v = 0;
    sqlite3_finalize(st);
    return v;
}

static int64_t bal(env_t *e, const uint8_t *pk, const char *asset)
{
    char hx[65];
    hex_encode(hx, pk, 32);
    return q_int(e, "SELECT amount FROM balances WHERE address = ? AND asset = ?", hx, asset);
}

static int64_t nonce_of(env_t *e, const uint8_t *pk)
{
    char hx[65];
    hex_encode(hx, pk, 32);
    return q_int(e, "SELECT nonce FROM accounts WHERE address = ?", hx, NULL);
}

static int64_t staked_of(env_t *e, const uint8_t *pk)
{
    char hx[65];
    hex_encode(hx, pk, 32);
    return q_int(e, "SELECT staked FROM stakes WHERE address = ?", hx, NULL);
}

static int64_t lp_of(env_t *e, const uint8_t *pk, const char *a)
{
    char hx[65];
    hex_encode(hx, pk, 32);
    return q_int(e, "SELECT shares FROM lp_shares WHERE owner = ? AND asset_a = ?", hx, a);
}

static delta_pool_row_t pool_of(env_t *e, const char *a, const char *b)
{
    delta_pool_row_t p;
    ck_assert_int_eq(delta_pool_load(e->sql, a, b, &p), 0);
    return p;
}

/* balances + pools + stakes + unbonding of asset, as 128 bits. */
static u128 total_of(env_t *e, const char *asset)
{
    u128 t = (u128)q_int(e, "SELECT sum(amount) FROM balances WHERE asset = ?", asset, NULL);
    t += (u128)q_int(e, "SELECT sum(reserve_a) FROM pools WHERE asset_a = ?", asset, NULL);
    t += (u128)q_int(e, "SELECT sum(reserve_b) FROM pools WHERE asset_b = ?", asset, NULL);
    if (strcmp(asset, e->g->fee_asset) == 0) {
        t += (u128)q_int(e, "SELECT sum(staked) FROM stakes", NULL, NULL);
        t += (u128)q_int(e, "SELECT sum(amount) FROM unbonding", NULL, NULL);
    }
    return t;
}

static void root_of(env_t *e, uint8_t out[32])
{
    ck_assert_int_eq(OPS->state_root(e->st, e->sql, out), 0);
}

/* The incremental tree equals one rebuilt from the tables. */
static void assert_tree_matches_tables(env_t *e)
{
    smt_t *t = NULL;
    uint8_t a[32], b[32];
    ck_assert_int_eq(delta_tree_build(e->sql, &t), 0);
    smt_root(t, a);
    root_of(e, b);
    ck_assert_mem_eq(a, b, 32);
    smt_free(t);
}

/* Run r = expr with a reject_t named why in scope, then check rc, code and
 * that the message contains substr. */
#define EXPECT_REJECT(why, r, rc, code_, substr)                                            \
    do {                                                                                    \
        ck_assert_int_eq((r), (rc));                                                        \
        ck_assert_ptr_nonnull((why).code);                                                  \
        ck_assert_str_eq((why).code, (code_));                                              \
        ck_assert_msg(strstr((why).message, (substr)) != NULL, "message \"%s\" lacks \"%s\"", \
                      (why).message, (substr));                                             \
    } while (0)

/* ================= codecs ================= */

START_TEST(codec_transfer_layout)
{
    delta_payload_t p = {.kind = DELTA_TX_TRANSFER}, q;
    uint8_t buf[DELTA_PAYLOAD_MAX], want[32 + 4 + 3 + 8];
    size_t len = 0;
    const char *what = NULL;
    memset(p.u.transfer.to, 0x42, 32);
    strcpy(p.u.transfer.asset, "ADN");
    p.u.transfer.amount = 0x0102030405060708ULL;
    ck_assert_int_eq(delta_payload_encode(&p, buf, sizeof buf, &len), 0);
    memset(want, 0x42, 32);
    memcpy(want + 32, "\0\0\0\3ADN\1\2\3\4\5\6\7\10", 15);
    ck_assert_uint_eq(len, sizeof want);
    ck_assert_mem_eq(buf, want, sizeof want);
    ck_assert_int_eq(delta_payload_decode(&q, DELTA_TX_TRANSFER, buf, len, &what), 0);
    ck_assert_str_eq(q.u.transfer.asset, "ADN");
    ck_assert_uint_eq(q.u.transfer.amount, 0x0102030405060708ULL);
    ck_assert_mem_eq(q.u.transfer.to, p.u.transfer.to, 32);
}
END_TEST

static const char *const KIND_NAMES[8] = {"transfer", "pool_create", "liquidity_add",
                                          "liquidity_remove", "swap", "stake", "unstake",
                                          "bridge_out"};

START_TEST(codec_roundtrip_all_kinds)
{
    delta_payload_t ps[8];
    memset(ps, 0, sizeof ps);
    ps[0].kind = DELTA_TX_TRANSFER;
    strcpy(ps[0].u.transfer.asset, "USD-C");
    ps[0].u.transfer.amount = 5;
    ps[1].kind = DELTA_TX_POOL_CREATE;
    strcpy(ps[1].u.pool_create.asset_a, "ADN");
    strcpy(ps[1].u.pool_create.asset_b, "USD");
    ps[1].u.pool_create.amount_a = 1;
    ps[1].u.pool_create.amount_b = 2;
    ps[1].u.pool_create.fee_bps = 30;
    ps[2].kind = DELTA_TX_LIQUIDITY_ADD;
    strcpy(ps[2].u.liquidity_add.asset_a, "A");
    strcpy(ps[2].u.liquidity_add.asset_b, "B");
    ps[2].u.liquidity_add.max_a = 7;
    ps[2].u.liquidity_add.max_b = 8;
    ps[2].u.liquidity_add.min_shares = 9;
    ps[3].kind = DELTA_TX_LIQUIDITY_REMOVE;
    strcpy(ps[3].u.liquidity_remove.asset_a, "A");
    strcpy(ps[3].u.liquidity_remove.asset_b, "B");
    ps[3].u.liquidity_remove.shares = 10;
    ps[4].kind = DELTA_TX_SWAP;
    strcpy(ps[4].u.swap.asset_in, "B");
    strcpy(ps[4].u.swap.asset_out, "A");
    ps[4].u.swap.amount_in = UINT64_MAX;
    ps[5].kind = DELTA_TX_STAKE;
    ps[5].u.stake.amount = 3;
    ps[6].kind = DELTA_TX_UNSTAKE;
    ps[6].u.stake.amount = 4;
    ps[7].kind = DELTA_TX_BRIDGE_OUT;
    memset(ps[7].u.transfer.to, 0x5a, 32);
    strcpy(ps[7].u.transfer.asset, "ADN");
    ps[7].u.transfer.amount = 6;
    static const size_t lens[8] = {32 + 4 + 5 + 8, 4 + 3 + 4 + 3 + 8 + 8 + 2, 5 + 5 + 24, 5 + 5 + 24,
                                   5 + 5 + 16, 8, 8, 32 + 4 + 3 + 8};
    for (int i = 0; i < 8; i++) {
        uint8_t buf[DELTA_PAYLOAD_MAX], buf2[DELTA_PAYLOAD_MAX];
        size_t len = 0, len2 = 0;
        delta_payload_t q;
        const char *what = NULL, *why = NULL;
        ck_assert_int_eq(delta_payload_encode(&ps[i], buf, sizeof buf, &len), 0);
        ck_assert_uint_eq(len, lens[i]);
        ck_assert_int_eq(delta_payload_decode(&q, ps[i].kind, buf, len, &what), 0);
        ck_assert_int_eq(delta_payload_check(&q, &what, &why), 0);
        ck_assert_int_eq(delta_payload_encode(&q, buf2, sizeof buf2, &len2), 0);
        ck_assert_uint_eq(len2, len);
        ck_assert_mem_eq(buf, buf2, len);
        /* one byte more is trailing; one byte less is truncated */
        buf[len] = 0;
        what = NULL;
        ck_assert_int_eq(delta_payload_decode(&q, ps[i].kind, buf, len + 1, &what), -EBADMSG);
        ck_assert_str_eq(what, "trailing bytes");
        what = NULL;
        ck_assert_int_eq(delta_payload_decode(&q, ps[i].kind, buf, len - 1, &what), -EMSGSIZE);
        ck_assert_ptr_nonnull(what);
        ck_assert_str_eq(delta_kind_name(ps[i].kind), KIND_NAMES[i]);
    }
    ck_assert_ptr_null(delta_kind_name(0));
    ck_assert_ptr_null(delta_kind_name(9));
}
END_TEST

START_TEST(codec_refusals)
{
    uint8_t buf[DELTA_PAYLOAD_MAX] = {0};
    size_t len = 0;
    const char *what = NULL, *why = NULL;
    delta_payload_t p = {.kind = DELTA_TX_STAKE}, q;

    /* unknown kind */
    ck_assert_int_eq(delta_payload_decode(&q, 99, buf, 8, &what), -EPROTONOSUPPORT);
    ck_assert_str_eq(what, "kind");
    p.kind = 0;
    ck_assert_int_eq(delta_payload_encode(&p, buf, sizeof buf, &len), -EPROTONOSUPPORT);
    /* a 17-byte asset */
    static const uint8_t long_asset[] = {0, 0, 0, 17, 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A',
                                         'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 0, 0, 0, 0, 0,
                                         0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
    ck_assert_int_eq(delta_payload_decode(&q, DELTA_TX_SWAP, long_asset, sizeof long_asset, &what),
                     -EBADMSG);
    ck_assert_str_eq(what, "asset_in");
    /* a NUL inside an asset */
    static const uint8_t nul_asset[] = {0, 0, 0, 2, 'A', 0, 0, 0, 0, 1, 'B', 0, 0, 0, 0,
                                        0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
    ck_assert_int_eq(delta_payload_decode(&q, DELTA_TX_SWAP, nul_asset, sizeof nul_asset, &what),
                     -EBADMSG);
    /* encoder refuses an over-long asset and a too-small buffer */
    p.kind = DELTA_TX_TRANSFER;
    memset(p.u.transfer.asset, 'A', sizeof p.u.transfer.asset); /* no NUL within 16 */
    p.u.transfer.asset[DELTA_ASSET_MAX] = '\0';
    ck_assert_int_eq(delta_payload_encode(&p, buf, 10, &len), -ENOBUFS);

    /* check: names, order, fee */
    memset(&p, 0, sizeof p);
    p.kind = DELTA_TX_TRANSFER;
    strcpy(p.u.transfer.asset, "adn");
    ck_assert_int_eq(delta_payload_check(&p, &what, &why), -EINVAL);
    ck_assert_str_eq(what, "asset");
    p.u.transfer.asset[0] = '\0';
    ck_assert_int_eq(delta_payload_check(&p, &what, &why), -EINVAL);
    p.kind = DELTA_TX_POOL_CREATE;
    strcpy(p.u.pool_create.asset_a, "USD");
    strcpy(p.u.pool_create.asset_b, "ADN");
    ck_assert_int_eq(delta_payload_check(&p, &what, &why), -EINVAL);
    ck_assert_str_eq(what, "pair order");
    strcpy(p.u.pool_create.asset_b, "USD");
    ck_assert_int_eq(delta_payload_check(&p, &what, &why), -EINVAL);
    strcpy(p.u.pool_create.asset_a, "ADN");
    p.u.pool_create.fee_bps = 1000;
    ck_assert_int_eq(delta_payload_check(&p, &what, &why), 0);
    p.u.pool_create.fee_bps = 1001;
    ck_assert_int_eq(delta_payload_check(&p, &what, &why), -EINVAL);
    ck_assert_str_eq(what, "fee_bps");
    memset(&p, 0, sizeof p);
    p.kind = DELTA_TX_SWAP;
    strcpy(p.u.swap.asset_in, "ADN");
    strcpy(p.u.swap.asset_out, "ADN");
    ck_assert_int_eq(delta_payload_check(&p, &what, &why), -EINVAL);
    ck_assert_str_eq(what, "asset_out");
    ck_assert(tx_asset_is_valid("A-1"));
    ck_assert(tx_asset_is_valid("ABCDEFGHIJKLMNOP"));
    ck_assert(!tx_asset_is_valid("ABCDEFGHIJKLMNOPQ"));
    ck_assert(!tx_asset_is_valid("A B"));
}
END_TEST

static void put_u32(crypto_generichash_state *st, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    crypto_generichash_update(st, b, 4);
}

static void put_u64(crypto_generichash_state *st, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    crypto_generichash_update(st, b, 8);
}

static void put_str(crypto_generichash_state *st, const char *s)
{
    put_u32(st, (uint32_t)strlen(s));
    crypto_generichash_update(st, (const uint8_t *)s, strlen(s));
}

START_TEST(account_leaf_encoding)
{
    keys_init();
    delta_balance_t b[3] = {{"USD", 7}, {"ZERO", 0}, {"ADN", 5}};
    delta_unbond_t u[2] = {{9, 30}, {4, 20}};
    delta_lp_t l[1] = {{"ADN", "USD", 11}};
    delta_account_t a = {.nonce = 3, .balances = b, .n_balances = 3, .staked = 6,
                         .unbonding = u, .n_unbonding = 2, .lp = l, .n_lp = 1};
    memcpy(a.pk, ALICE, 32);
    uint8_t got[32], want[32];
    ck_assert_int_eq(delta_account_leaf(&a, got), 0);

    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)"adnet/delta/account/v1", 22);
    crypto_generichash_update(&st, ALICE, 32);
    put_u64(&st, 3);
    put_u32(&st, 2);
    put_str(&st, "ADN");
    put_u64(&st, 5);
    put_str(&st, "USD");
    put_u64(&st, 7);
    put_u64(&st, 6);
    put_u32(&st, 2);
    put_u64(&st, 4);
    put_u64(&st, 20);
    put_u64(&st, 9);
    put_u64(&st, 30);
    put_u32(&st, 1);
    put_str(&st, "ADN");
    put_str(&st, "USD");
    put_u64(&st, 11);
    crypto_generichash_final(&st, want, 32);
    ck_assert_mem_eq(got, want, 32);

    /* the same account with its arrays in another order, zero entries dropped */
    delta_balance_t b2[2] = {{"ADN", 5}, {"USD", 7}};
    delta_unbond_t u2[2] = {{4, 20}, {9, 30}};
    a.balances = b2;
    a.n_balances = 2;
    a.unbonding = u2;
    uint8_t got2[32];
    ck_assert_int_eq(delta_account_leaf(&a, got2), 0);
    ck_assert_mem_eq(got, got2, 32);
    /* a duplicate asset or a bad name is refused */
    delta_balance_t dup[2] = {{"ADN", 5}, {"ADN", 1}};
    a.balances = dup;
    ck_assert_int_eq(delta_account_leaf(&a, got2), -EINVAL);
    delta_balance_t bad[1] = {{"adn", 5}};
    a.balances = bad;
    a.n_balances = 1;
    ck_assert_int_eq(delta_account_leaf(&a, got2), -EINVAL);

    delta_account_t empty = {0};
    ck_assert(delta_account_is_empty(&empty));
    empty.staked = 1;
    ck_assert(!delta_account_is_empty(&empty));
    /* pool leaf refuses an unordered pair */
    ck_assert_int_eq(delta_pool_leaf("USD", "ADN", 1, 1, 1, 0, got), -EINVAL);
    ck_assert_int_eq(delta_pool_leaf("ADN", "USD", 1, 1, 1, 0, got), 0);
}
END_TEST

/* ================= genesis, schema ================= */

START_TEST(genesis_state_and_tree)
{
    env_t e;
    env_open(&e);
    ck_assert_int_eq(bal(&e, ALICE, "ADN"), 1000000);
    ck_assert_int_eq(bal(&e, CAROL, "ADN"), 100);
    ck_assert_int_eq(ledger_schema_version(e.l), (int)OPS->schema->n);
    /* three accounts in the tree, with the documented key and leaf */
    delta_account_rows_t a;
    delta_account_t v;
    uint8_t key[32], leaf[32], proof_leaf[32];
    ck_assert_int_eq(delta_account_load(e.sql, ALICE, &a), 0);
    ck_assert_uint_eq(a.n_balances, 2);
    delta_account_view(&a, &v);
    ck_assert_int_eq(delta_account_leaf(&v, leaf), 0);
    delta_account_rows_free(&a);
    delta_account_key(ALICE, key);
    smt_t *t = NULL;
    ck_assert_int_eq(delta_tree_build(e.sql, &t), 0);
    ck_assert_uint_eq(smt_count(t), 3);
    ck_assert_int_eq(smt_get(t, key, proof_leaf), 0);
    ck_assert_mem_eq(leaf, proof_leaf, 32);
    smt_free(t);
    assert_tree_matches_tables(&e);
    env_close(&e);
}
END_TEST

START_TEST(genesis_refuses_bad_assets_and_totals)
{
    char err[LEDGER_ERR_MAX];
    env_t e;
    keys_init();
    genesis_t *g = genesis_new();
    gen_add_balance(g, ALICE, "ADN", I64MAX);
    gen_add_balance(g, BOB, "ADN", 1);
    memset(&e, 0, sizeof e);
    tmp_ledger_init(&e.tmp, "delta");
    ck_assert_int_eq(ledger_open(&e.l, e.tmp.db, OPS->schema, err), 0);
    ck_assert_int_eq(ledger_begin(e.l), 0);
    ck_assert_int_eq(OPS->genesis_init(ledger_sql(e.l), g, NULL, err, sizeof err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "ADN add up to more than 2^63-1"));
    g->n_balances = 1;
    strcpy(g->balances[0].asset, "adn");
    ck_assert_int_eq(OPS->genesis_init(ledger_sql(e.l), g, NULL, err, sizeof err), -EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "\"adn\""));
    ledger_rollback(e.l);
    e.g = g;
    e.st = NULL;
    env_close(&e);
}
END_TEST

START_TEST(schema_migrates_v2_ledger)
{
    char err[LEDGER_ERR_MAX];
    tmp_ledger_t t;
    ledger_t *l = NULL;
    tmp_ledger_init(&t, "delta");
    const char *path = t.db;
    ledger_schema_t v2 = {OPS->schema->migrations, 2};
    ck_assert_int_eq(ledger_open(&l, path, &v2, err), 0);
    ck_assert_int_eq(sqlite3_exec(ledger_db(l),
                                  "INSERT INTO accounts VALUES ('aa', 4);"
                                  "INSERT INTO balances VALUES ('aa', 'ADN', 9);",
                                  NULL, NULL, NULL), SQLITE_OK);
    ledger_close(l);
    ck_assert_int_eq(ledger_open(&l, path, OPS->schema, err), 0);
    ck_assert_int_eq(ledger_schema_version(l), (int)OPS->schema->n);
    ck_assert_int_eq(sqlite3_exec(ledger_db(l), "SELECT * FROM pools, lp_shares, stakes, unbonding",
                                  NULL, NULL, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(ledger_db(l), "SELECT amount FROM balances", -1, &st, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int64(st, 0), 9);
    sqlite3_finalize(st);
    ledger_close(l);
    tmp_ledger_cleanup(&t);
}
END_TEST

/* ================= transfer, nonces, fees ================= */

START_TEST(transfer_accept)
{
    env_t e;
    txb_t t;
    reject_t why = {0};
    env_open(&e);
    ck_assert_int_eq(run1(&e, transfer(&t, ALICE, 0, BOB, "USD", 250), &why), 0);
    ck_assert_int_eq(bal(&e, ALICE, "USD"), 1000000 - 250);
    ck_assert_int_eq(bal(&e, BOB, "USD"), 1000000 + 250);
    ck_assert_int_eq(bal(&e, ALICE, "ADN"), 1000000 - 1); /* the fee */
    ck_assert_int_eq(bal(&e, PROP, "ADN"), 1);            /* paid to the proposer */
    ck_assert_int_eq(nonce_of(&e, ALICE), 1);
    ck_assert_int_eq(nonce_of(&e, BOB), 0);
    /* to a new account, in the fee asset: amount and fee both leave */
    uint8_t dave[32];
    memset(dave, 0xd0, 32);
    ck_assert_int_eq(run1(&e, transfer(&t, ALICE, 1, dave, "ADN", 10), &why), 0);
    ck_assert_int_eq(bal(&e, dave, "ADN"), 10);
    ck_assert_int_eq(bal(&e, ALICE, "ADN"), 1000000 - 1 - 11);
    ck_assert_int_eq(bal(&e, PROP, "ADN"), 2);
    /* carol sends everything she has but the fee: her balance row goes */
    ck_assert_int_eq(run1(&e, transfer(&t, CAROL, 0, BOB, "ADN", 99), &why), 0);
    ck_assert_int_eq(bal(&e, CAROL, "ADN"), 0);
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM balances WHERE amount = 0", NULL, NULL), 0);
    assert_tree_matches_tables(&e);
    env_close(&e);
}
END_TEST

START_TEST(transfer_rejects)
{
    env_t e;
    txb_t t;
    reject_t why = {0};
    uint8_t root0[32], root1[32];
    env_open(&e);
    root_of(&e, root0);
    EXPECT_REJECT(why, run1(&e, transfer(&t, CAROL, 0, BOB, "ADN", 100), &why), -EINVAL,
                  "overspend", "balance 100 ADN < amount 100 + fee 1");
    EXPECT_REJECT(why, run1(&e, transfer(&t, CAROL, 0, BOB, "USD", 5), &why), -EINVAL, "overspend",
                  "balance 0 USD < amount 5");
    EXPECT_REJECT(why, run1(&e, transfer(&t, ALICE, 0, BOB, "USD", 0), &why), -EINVAL,
                  "bad_amount", "amount must be positive");
    EXPECT_REJECT(why, run1(&e, transfer(&t, ALICE, 0, BOB, "USD", I64MAX + 1), &why), -EINVAL,
                  "bad_amount", "exceeds 2^63-1");
    EXPECT_REJECT(why, run1(&e, transfer(&t, ALICE, 0, BOB, "usd", 1), &why), -EINVAL,
                  "bad_asset", "asset");
    /* no fee money at all */
    uint8_t dave[32];
    memset(dave, 0xd0, 32);
    EXPECT_REJECT(why, run1(&e, transfer(&t, dave, 0, BOB, "USD", 1), &why), -EINVAL, "overspend",
                  "balance 0 ADN < fee 1");
    /* a truncated payload, an unknown kind */
    transfer(&t, ALICE, 0, BOB, "USD", 1);
    t.tx.payload_len -= 1;
    EXPECT_REJECT(why, run1(&e, &t.tx, &why), -EINVAL, "malformed", "amount truncated");
    transfer(&t, ALICE, 0, BOB, "USD", 1);
    t.tx.kind = 42;
    EXPECT_REJECT(why, run1(&e, &t.tx, &why), -EINVAL, "unknown_kind", "42");
    /* a credit that would pass 2^63-1 */
    genesis_t *g = genesis_new();
    env_t e2;
    keys_init();
    gen_add_balance(g, ALICE, "ADN", 1000);
    gen_add_balance(g, ALICE, "BIG", 10);
    gen_add_balance(g, BOB, "BIG", I64MAX - 10);
    env_open_with(&e2, g);
    ck_assert_int_eq(run1(&e2, transfer(&t, ALICE, 0, BOB, "BIG", 10), &why), 0);
    ck_assert_int_eq(bal(&e2, BOB, "BIG"), (int64_t)I64MAX);
    env_close(&e2);

    /* nothing changed by the refusals */
    root_of(&e, root1);
    ck_assert_mem_eq(root0, root1, 32);
    ck_assert_int_eq(nonce_of(&e, ALICE), 0);
    ck_assert_int_eq(bal(&e, PROP, "ADN"), 0);
    env_close(&e);
}
END_TEST

START_TEST(nonce_rules)
{
    env_t e;
    txb_t t;
    reject_t why = {0};
    env_open(&e);
    /* ahead: -EAGAIN at apply (stays pooled), accepted at admission within 64 */
    EXPECT_REJECT(why, run1(&e, transfer(&t, ALICE, 1, BOB, "USD", 1), &why), -EAGAIN, "bad_nonce",
                  "nonce 1 is ahead of account nonce 0");
    memset(&why, 0, sizeof why);
    ck_assert_int_eq(check(&e, transfer(&t, ALICE, 63, BOB, "USD", 1), &why), 0);
    EXPECT_REJECT(why, check(&e, transfer(&t, ALICE, 64, BOB, "USD", 1), &why), -EINVAL,
                  "bad_nonce", "64 or more ahead");
    ck_assert_int_eq(run1(&e, transfer(&t, ALICE, 0, BOB, "USD", 1), &why), 0);
    /* used: bad_nonce at both */
    EXPECT_REJECT(why, run1(&e, transfer(&t, ALICE, 0, BOB, "USD", 1), &why), -EINVAL, "bad_nonce",
                  "nonce 0 already used (account nonce 1)");
    EXPECT_REJECT(why, check(&e, transfer(&t, ALICE, 0, BOB, "USD", 1), &why), -EINVAL,
                  "bad_nonce", "already used");
    /* in order within one block */
    block_begin(&e);
    ck_assert_int_eq(block_apply(&e, transfer(&t, ALICE, 2, BOB, "USD", 1), &why), -EAGAIN);
    ck_assert_int_eq(block_apply(&e, transfer(&t, ALICE, 1, BOB, "USD", 1), &why), 0);
    ck_assert_int_eq(block_apply(&e, transfer(&t, ALICE, 2, BOB, "USD", 1), &why), 0);
    block_end(&e, 2);
    ck_assert_int_eq(nonce_of(&e, ALICE), 3);
    ck_assert_int_eq(bal(&e, BOB, "USD"), 1000003);
    ck_assert_int_eq(bal(&e, PROP, "ADN"), 3);
    env_close(&e);
}
END_TEST

START_TEST(check_tx_changes_nothing)
{
    env_t e;
    txb_t t;
    reject_t why = {0};
    uint8_t r0[32], r1[32];
    env_open(&e);
    root_of(&e, r0);
    ck_assert_int_eq(check(&e, transfer(&t, ALICE, 0, BOB, "USD", 5), &why), 0);
    ck_assert_int_eq(check(&e, pool_create(&t, ALICE, 0, "ADN", "USD", 5000, 5000, 30), &why), 0);
    ck_assert_int_eq(check(&e, stake(&t, ALICE, 0, DELTA_TX_STAKE, 500), &why), 0);
    EXPECT_REJECT(why, check(&e, transfer(&t, CAROL, 0, BOB, "ADN", 100), &why), -EINVAL,
                  "overspend", "balance 100 ADN < amount 100 + fee 1");
    root_of(&e, r1);
    ck_assert_mem_eq(r0, r1, 32);
    ck_assert_int_eq(bal(&e, ALICE, "USD"), 1000000);
    ck_assert_int_eq(nonce_of(&e, ALICE), 0);
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM pools", NULL, NULL), 0);
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM stakes", NULL, NULL), 0);
    ck_assert(sqlite3_get_autocommit(e.db)); /* no transaction left open */
    env_close(&e);
}
END_TEST

START_TEST(fees_to_proposer)
{
    env_t e;
    txb_t t;
    reject_t why = {0};
    env_open(&e);
    block_begin(&e);
    delta_payload_t p = {.kind = DELTA_TX_TRANSFER};
    memcpy(p.u.transfer.to, CAROL, 32);
    strcpy(p.u.transfer.asset, "USD");
    p.u.transfer.amount = 3;
    ck_assert_int_eq(block_apply(&e, mk(&t, ALICE, 0, 7, &p), &why), 0);
    ck_assert_int_eq(block_apply(&e, mk(&t, BOB, 0, 5, &p), &why), 0);
    block_end(&e, 12);
    ck_assert_int_eq(bal(&e, PROP, "ADN"), 12);
    ck_assert_int_eq(bal(&e, ALICE, "ADN"), 1000000 - 7);
    ck_assert_int_eq(bal(&e, BOB, "ADN"), 1000000 - 5);
    ck_assert_int_eq(bal(&e, CAROL, "USD"), 6);
    /* a fee above 2^63-1 is refused */
    EXPECT_REJECT(why, run1(&e, mk(&t, ALICE, 1, I64MAX + 1, &p), &why), -EINVAL, "bad_amount",
                  "fee");
    assert_tree_matches_tables(&e);
    env_close(&e);
}
END_TEST

/* ================= AMM ================= */

START_TEST(pool_create_accept_and_reject)
{
    env_t e;
    txb_t t;
    reject_t why = {0};
    env_open(&e);
    ck_assert_int_eq(run1(&e, pool_create(&t, ALICE, 0, "ADN", "USD", 10000, 40000, 30), &why), 0);
    delta_pool_row_t p = pool_of(&e, "ADN", "USD");
    ck_assert_uint_eq(p.reserve_a, 10000);
    ck_assert_uint_eq(p.reserve_b, 40000);
    ck_assert_uint_eq(p.shares, 20000); /* sqrt(4e8) */
    ck_assert_uint_eq(p.fee_bps, 30);
    ck_assert_uint_eq(p.created_height, 1);
    ck_assert_int_eq(lp_of(&e, ALICE, "ADN"), 19000); /* 1000 locked */
    ck_assert_int_eq(bal(&e, ALICE, "ADN"), 1000000 - 10000 - 1);
    ck_assert_int_eq(bal(&e, ALICE, "USD"), 1000000 - 40000);

    EXPECT_REJECT(why, run1(&e, pool_create(&t, BOB, 0, "ADN", "USD", 5000, 5000, 30), &why),
                  -EINVAL, "pool_exists", "pool ADN/USD exists");
    EXPECT_REJECT(why, run1(&e, pool_create(&t, BOB, 0, "USD", "ZZZ", 1000, 1000, 30), &why),
                  -EINVAL, "bad_amount", "= 1000 must exceed the 1000 locked shares");
    EXPECT_REJECT(why, run1(&e, pool_create(&t, BOB, 0, "USD", "ADN", 5000, 5000, 30), &why),
                  -EINVAL, "bad_asset", "pair order");
    EXPECT_REJECT(why, run1(&e, pool_create(&t, BOB, 0, "ADN", "EUR", 5000, 5000, 1001), &why),
                  -EINVAL, "bad_amount", "fee_bps");
    EXPECT_REJECT(why, run1(&e, pool_create(&t, BOB, 0, "ADN", "EUR", 0, 5000, 30), &why), -EINVAL,
                  "bad_amount", "amount_a must be positive");
    EXPECT_REJECT(why, run1(&e, pool_create(&t, BOB, 0, "ADN", "EUR", 5000, 5000, 30), &why),
                  -EINVAL, "overspend", "balance 0 EUR < amount 5000");
    EXPECT_REJECT(why, run1(&e, pool_create(&t, BOB, 0, "ADN", "USD", 1000000, 5000, 30), &why),
                  -EINVAL, "pool_exists", "exists");
    EXPECT_REJECT(why, run1(&e, pool_create(&t, BOB, 0, "ADN", "EUR2", 1000000, 5000, 30), &why),
                  -EINVAL, "overspend", "balance 1000000 ADN < amount 1000000 + fee 1");
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM pools", NULL, NULL), 1);
    assert_tree_matches_tables(&e);
    env_close(&e);
}
END_TEST

START_TEST(liquidity_add_rounds_for_the_pool)
{
    env_t e;
    txb_t t;
    reject_t why = {0};
    env_open(&e);
    ck_assert_int_eq(run1(&e, pool_create(&t, ALICE, 0, "ADN", "USD", 3000, 7001, 0), &why), 0);
    ck_assert_uint_eq(pool_of(&e, "ADN", "USD").shares, 4582);
    /* shares = min(10*4582/3000 = 15, 1000*4582/7001 = 654) = 15;
     * deposit ceil(15*3000/4582) = 10 ADN, ceil(15*7001/4582) = 23 USD */
    EXPECT_REJECT(why, run1(&e, liq_add(&t, BOB, 0, "ADN", "USD", 10, 1000, 16), &why), -EINVAL,
                  "slippage", "deposit mints 15 shares < min_shares 16");
    ck_assert_int_eq(run1(&e, liq_add(&t, BOB, 0, "ADN", "USD", 10, 1000, 15), &why), 0);
    delta_pool_row_t p = pool_of(&e, "ADN", "USD");
    ck_assert_uint_eq(p.reserve_a, 3010);
    ck_assert_uint_eq(p.reserve_b, 7024);
    ck_assert_uint_eq(p.shares, 4597);
    ck_assert_int_eq(lp_of(&e, BOB, "ADN"), 15);
    ck_assert_int_eq(bal(&e, BOB, "ADN"), 1000000 - 10 - 1);
    ck_assert_int_eq(bal(&e, BOB, "USD"), 1000000 - 23);
    /* value per share never fell: r_new / S_new >= r_old / S_old */
    ck_assert((u128)3010 * 4582 >= (u128)3000 * 4597);
    ck_assert((u128)7024 * 4582 >= (u128)7001 * 4597);

    EXPECT_REJECT(why, run1(&e, liq_add(&t, BOB, 1, "ADN", "USD", 0, 1000, 0), &why), -EINVAL,
                  "bad_amount", "buys 0 of 4597 shares");
    EXPECT_REJECT(why, run1(&e, liq_add(&t, BOB, 1, "ADN", "EUR", 10, 10, 0), &why), -EINVAL,
                  "no_pool", "no pool ADN/EUR");
    EXPECT_REJECT(why, run1(&e, liq_add(&t, CAROL, 0, "ADN", "USD", 99, 1000, 0), &why), -EINVAL,
                  "overspend", "USD");
    assert_tree_matches_tables(&e);
    env_close(&e);
}
END_TEST

START_TEST(liquidity_remove_to_the_locked_minimum)
{
    env_t e;
    txb_t t;
    reject_t why = {0};
    env_open(&e);
    ck_assert_int_eq(run1(&e, pool_create(&t, ALICE, 0, "ADN", "USD", 10000, 40000, 30), &why), 0);
    EXPECT_REJECT(why, run1(&e, liq_remove(&t, ALICE, 1, "ADN", "USD", 19001, 0, 0), &why),
                  -EINVAL, "overspend", "lp shares 19000 in ADN/USD < 19001");
    EXPECT_REJECT(why, run1(&e, liq_remove(&t, ALICE, 1, "ADN", "USD", 19000, 9501, 0), &why),
                  -EINVAL, "slippage", "returns 9500 ADN < min_a 9501");
    EXPECT_REJECT(why, run1(&e, liq_remove(&t, ALICE, 1, "ADN", "USD", 19000, 0, 38001), &why),
                  -EINVAL, "slippage", "returns 38000 USD < min_b 38001");
    EXPECT_REJECT(why, run1(&e, liq_remove(&t, ALICE, 1, "ADN", "USD", 0, 0, 0), &why), -EINVAL,
                  "bad_amount", "shares must be positive");
    EXPECT_REJECT(why, run1(&e, liq_remove(&t, BOB, 0, "ADN", "USD", 1, 0, 0), &why), -EINVAL,
                  "overspend", "lp shares 0");
    ck_assert_int_eq(run1(&e, liq_remove(&t, ALICE, 1, "ADN", "USD", 19000, 9500, 38000), &why),
                     0);
    delta_pool_row_t p = pool_of(&e, "ADN", "USD");
    ck_assert_uint_eq(p.shares, 1000);
    ck_assert_uint_eq(p.reserve_a, 500);
    ck_assert_uint_eq(p.reserve_b, 2000);
    ck_assert_int_eq(lp_of(&e, ALICE, "ADN"), 0);
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM lp_shares", NULL, NULL), 0);
    ck_assert_int_eq(bal(&e, ALICE, "ADN"), 1000000 - 500 - 2);
    ck_assert_int_eq(bal(&e, ALICE, "USD"), 1000000 - 2000);
    /* the pool still works at its minimum: add, then remove with floor rounding */
    ck_assert_int_eq(run1(&e, liq_add(&t, BOB, 0, "ADN", "USD", 3, 3, 1), &why), 0);
    p = pool_of(&e, "ADN", "USD");
    /* shares = min(3*1000/500, 3*1000/2000) = 1; deposit ceil(0.5) = 1, ceil(2) = 2 */
    ck_assert_uint_eq(p.shares, 1001);
    ck_assert_uint_eq(p.reserve_a, 501);
    ck_assert_uint_eq(p.reserve_b, 2002);
    /* burning 1 of 1001 returns floor(501/1001) = 0 ADN, floor(2002/1001) = 2 USD */
    ck_assert_int_eq(run1(&e, liq_remove(&t, BOB, 1, "ADN", "USD", 1, 0, 2), &why), 0);
    p = pool_of(&e, "ADN", "USD");
    ck_assert_uint_eq(p.reserve_a, 501);
    ck_assert_uint_eq(p.reserve_b, 2000);
    assert_tree_matches_tables(&e);
    env_close(&e);
}
END_TEST

START_TEST(swap_amounts_and_fees)
{
    env_t e;
    txb_t t;
    reject_t why = {0};
    env_open(&e);
    /* three pools of 1e6/1e6 at 30, 0 and 1000 bps; bob swaps 1000 in each */
    genesis_t *g = genesis_new();
    keys_init();
    const char *quote[3] = {"Q30", "Q0", "Q1000"};
    const uint16_t fees[3] = {30, 0, 1000};
    const uint64_t want[3] = {996, 999, 899};
    gen_add_balance(g, ALICE, "ADN", 10000000);
    gen_add_balance(g, BOB, "ADN", 10000000);
    for (int i = 0; i < 3; i++) {
        gen_add_balance(g, ALICE, quote[i], 1000000);
        gen_add_balance(g, BOB, quote[i], 10000);
    }
    env_close(&e);
    env_open_with(&e, g);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(run1(&e, pool_create(&t, ALICE, (uint64_t)i, "ADN", quote[i], 1000000,
                                              1000000, fees[i]), &why), 0);
    for (int i = 0; i < 3; i++) {
        char msg[64];
        snprintf(msg, sizeof msg, "buys %" PRIu64 " ADN < min_out %" PRIu64, want[i], want[i] + 1);
        EXPECT_REJECT(why, run1(&e, swap(&t, BOB, (uint64_t)i, quote[i], "ADN", 1000, want[i] + 1),
                                &why), -EINVAL, "slippage", msg);
        int64_t before = bal(&e, BOB, "ADN");
        ck_assert_int_eq(run1(&e, swap(&t, BOB, (uint64_t)i, quote[i], "ADN", 1000, want[i]), &why),
                         0);
        ck_assert_int_eq(bal(&e, BOB, "ADN"), before + (int64_t)want[i] - 1);
        ck_assert_int_eq(bal(&e, BOB, quote[i]), 10000 - 1000);
        delta_pool_row_t p = pool_of(&e, "ADN", quote[i]);
        ck_assert_uint_eq(p.reserve_a, 1000000 - want[i]);
        ck_assert_uint_eq(p.reserve_b, 1000000 + 1000);
    }
    /* the other direction (asset_in sorts first) */
    int64_t q0 = bal(&e, BOB, "Q0");
    ck_assert_int_eq(run1(&e, swap(&t, BOB, 3, "ADN", "Q0", 500, 1), &why), 0);
    ck_assert_int_gt(bal(&e, BOB, "Q0"), q0);
    /* 1 in a 1e6 pool at 30 bps buys nothing */
    EXPECT_REJECT(why, run1(&e, swap(&t, BOB, 4, "Q30", "ADN", 1, 0), &why), -EINVAL, "slippage",
                  "buys 0 ADN");
    EXPECT_REJECT(why, run1(&e, swap(&t, BOB, 4, "Q30", "XYZ", 1, 0), &why), -EINVAL, "no_pool",
                  "no pool Q30/XYZ");
    EXPECT_REJECT(why, run1(&e, swap(&t, BOB, 4, "Q30", "ADN", 0, 0), &why), -EINVAL, "bad_amount",
                  "amount_in must be positive");
    EXPECT_REJECT(why, run1(&e, swap(&t, BOB, 4, "Q30", "ADN", 9001, 0), &why), -EINVAL,
                  "overspend", "balance 9000 Q30 < amount 9001");
    EXPECT_REJECT(why, run1(&e, swap(&t, BOB, 4, "ADN", "ADN", 5, 0), &why), -EINVAL, "bad_asset",
                  "asset_out");
    assert_tree_matches_tables(&e);
    env_close(&e);
}
END_TEST

START_TEST(swap_tiny_reserves)
{
    env_t e;
    txb_t t;
    reject_t why = {0};
    env_open(&e);
    ck_assert_int_eq(run1(&e, pool_create(&t, ALICE, 0, "ADN", "USD", 1001, 1001, 0), &why), 0);
    ck_assert_uint_eq(pool_of(&e, "ADN", "USD").shares, 1001);
    ck_assert_int_eq(lp_of(&e, ALICE, "ADN"), 1);
    /* 1 in buys floor(1001/1002) = 0 */
    EXPECT_REJECT(why, run1(&e, swap(&t, BOB, 0, "USD", "ADN", 1, 0), &why), -EINVAL, "slippage",
                  "buys 0 ADN");
    /* 1001 in buys floor(1001*1001/2002) = 500 */
    ck_assert_int_eq(run1(&e, swap(&t, BOB, 0, "USD", "ADN", 1001, 500), &why), 0);
    delta_pool_row_t p = pool_of(&e, "ADN", "USD");
    ck_assert_uint_eq(p.reserve_a, 501);
    ck_assert_uint_eq(p.reserve_b, 2002);
    ck_assert((u128)p.reserve_a * p.reserve_b >= (u128)1001 * 1001);
    /* a huge swap never drains the pool: out < reserve */
    ck_assert_int_eq(run1(&e, swap(&t, BOB, 1, "USD", "ADN", 900000, 1), &why), 0);
    p = pool_of(&e, "ADN", "USD");
    ck_assert_uint_ge(p.reserve_a, 1);
    env_close(&e);
}
END_TEST

START_TEST(swap_huge_reserves)
{
    env_t e;
    txb_t t;
    reject_t why = {0};
    genesis_t *g = genesis_new();
    keys_init();
    gen_add_balance(g, ALICE, "ADN", 1000);
    gen_add_balance(g, ALICE, "BIG", I64MAX);
    gen_add_balance(g, ALICE, "HUGE", (uint64_t)1 << 62);
    gen_add_balance(g, BOB, "HUGE", ((uint64_t)1 << 62) - 1);
    gen_add_balance(g, BOB, "ADN", 1000);
    env_open_with(&e, g);
    const uint64_t r = (uint64_t)1 << 62;
    ck_assert_int_eq(run1(&e, pool_create(&t, ALICE, 0, "BIG", "HUGE", r, r, 30), &why), 0);
    ck_assert_uint_eq(pool_of(&e, "BIG", "HUGE").shares, r); /* isqrt(2^124) */
    /* 2^61 in at 30 bps: floor(2^61*9970*2^62 / (2^62*10000 + 2^61*9970)), the
     * numerator needing 140 bits */
    ck_assert_int_eq(run1(&e, swap(&t, ALICE, 1, "BIG", "HUGE", (uint64_t)1 << 61, 1), &why), 0);
    ck_assert_int_eq(bal(&e, ALICE, "HUGE"), 1534151137928630543LL);
    delta_pool_row_t p = pool_of(&e, "BIG", "HUGE");
    ck_assert_uint_eq(p.reserve_a, r + ((uint64_t)1 << 61));
    ck_assert_uint_eq(p.reserve_b, r - 1534151137928630543ULL);
    ck_assert((u128)p.reserve_a * p.reserve_b >= (u128)r * r);
    /* bob's 2^62-1 HUGE in the other direction */
    ck_assert_int_eq(run1(&e, swap(&t, BOB, 0, "HUGE", "BIG", r - 1, 1), &why), 0);
    delta_pool_row_t q = pool_of(&e, "BIG", "HUGE");
    ck_assert_uint_eq(q.reserve_b, p.reserve_b + r - 1);
    ck_assert((u128)q.reserve_a * q.reserve_b >= (u128)p.reserve_a * p.reserve_b);
    /* conservation at the edge */
    ck_assert(total_of(&e, "BIG") == I64MAX);
    ck_assert(total_of(&e, "HUGE") == (u128)r + r - 1);
    env_close(&e);
}
END_TEST

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

START_TEST(swap_product_never_decreases)
{
    env_t e;
    txb_t t;
    reject_t why = {0};
    uint64_t seed = 0x9e3779b97f4a7c15ULL, nonce_a = 0;
    genesis_t *g = genesis_new();
    keys_init();
    gen_add_balance(g, ALICE, "ADN", 100000000);
    gen_add_balance(g, ALICE, "USD", 100000000);
    env_open_with(&e, g);
    const u128 adn0 = total_of(&e, "ADN"), usd0 = total_of(&e, "USD");
    ck_assert_int_eq(run1(&e, pool_create(&t, ALICE, nonce_a++, "ADN", "USD", 5000000, 7000000,
                                          (uint16_t)(_i * 500)), &why), 0);
    delta_pool_row_t p = pool_of(&e, "ADN", "USD");
    u128 k = (u128)p.reserve_a * p.reserve_b;
    int ok = 0;
    for (int i = 0; i < 1000; i++) {
        int dir = (int)(rng_next(&seed) & 1);
        uint64_t range = (rng_next(&seed) % 4 == 0) ? 3000000 : 5000;
        uint64_t amount = 1 + rng_next(&seed) % range;
        block_begin(&e);
        int r = block_apply(&e, swap(&t, ALICE, nonce_a, dir ? "ADN" : "USD", dir ? "USD" : "ADN",
                                     amount, 0), &why);
        block_end(&e, r == 0 ? 1 : 0);
        if (r == 0) {
            nonce_a++;
            ok++;
        } else {
            ck_assert_str_eq(why.code, "slippage"); /* only tiny amounts may fail */
        }
        p = pool_of(&e, "ADN", "USD");
        u128 k2 = (u128)p.reserve_a * p.reserve_b;
        ck_assert(k2 >= k);
        k = k2;
    }
    ck_assert_int_gt(ok, 900);
    ck_assert(total_of(&e, "ADN") == adn0);
    ck_assert(total_of(&e, "USD") == usd0);
    assert_tree_matches_tables(&e);
    env_close(&e);
}
END_TEST

/* ================= staking ================= */

START_TEST(staking_and_unbonding_maturity)
{
    env_t e;
    txb_t t;
    reject_t why = {0};
    env_open(&e);
    ck_assert_int_eq(run1(&e, stake(&t, ALICE, 0, DELTA_TX_STAKE, 500), &why), 0); /* height 1 */
    ck_assert_int_eq(staked_of(&e, ALICE), 500);
    ck_assert_int_eq(bal(&e, ALICE, "ADN"), 1000000 - 501);
    EXPECT_REJECT(why, run1(&e, stake(&t, CAROL, 0, DELTA_TX_STAKE, 100), &why), -EINVAL,
                  "overspend", "balance 100 ADN < amount 100 + fee 1");
    EXPECT_REJECT(why, run1(&e, stake(&t, ALICE, 1, DELTA_TX_UNSTAKE, 501), &why), -EINVAL,
                  "overspend", "staked 500 ADN < amount 501");
    EXPECT_REJECT(why, run1(&e, stake(&t, ALICE, 1, DELTA_TX_STAKE, 0), &why), -EINVAL,
                  "bad_amount", "amount must be positive");
    ck_assert_uint_eq(e.height, 4);
    ck_assert_int_eq(run1(&e, stake(&t, ALICE, 1, DELTA_TX_UNSTAKE, 200), &why), 0); /* height 5 */
    ck_assert_int_eq(staked_of(&e, ALICE), 300);
    ck_assert_int_eq(q_int(&e, "SELECT release_height FROM unbonding", NULL, NULL), 15);
    int64_t before = bal(&e, ALICE, "ADN");
    while (e.height < 14) {
        empty_block(&e);
        ck_assert_int_eq(bal(&e, ALICE, "ADN"), before);
    }
    empty_block(&e); /* height 15: released at the end of exactly this block */
    ck_assert_uint_eq(e.height, 15);
    ck_assert_int_eq(bal(&e, ALICE, "ADN"), before + 200);
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM unbonding", NULL, NULL), 0);
    /* unstake everything: the stakes row goes, two entries mature together */
    ck_assert_int_eq(run1(&e, stake(&t, ALICE, 2, DELTA_TX_UNSTAKE, 100), &why), 0);
    ck_assert_int_eq(run1(&e, stake(&t, ALICE, 3, DELTA_TX_UNSTAKE, 200), &why), 0);
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM stakes", NULL, NULL), 0);
    assert_tree_matches_tables(&e);
    while (e.height < 26)
        empty_block(&e);
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM unbonding", NULL, NULL), 1);
    empty_block(&e); /* 27 */
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM unbonding", NULL, NULL), 0);
    ck_assert_int_eq(bal(&e, ALICE, "ADN"), 1000000 - 501 - 1 - 1 - 1 + 500);
    assert_tree_matches_tables(&e);
    env_close(&e);
}
END_TEST

/* ================= whole-state properties ================= */

START_TEST(conservation_over_mixed_sequence)
{
    env_t e;
    txb_t t;
    reject_t why = {0};
    uint64_t seed = 12345, nonce[3] = {0, 0, 0};
    const uint8_t *who[3];
    env_open(&e);
    who[0] = ALICE;
    who[1] = BOB;
    who[2] = CAROL;
    const u128 adn0 = total_of(&e, "ADN"), usd0 = total_of(&e, "USD");
    ck_assert_int_eq(run1(&e, pool_create(&t, ALICE, nonce[0]++, "ADN", "USD", 100000, 300000, 30),
                          &why), 0);
    int applied = 0;
    for (int i = 0; i < 300; i++) {
        int s = (int)(rng_next(&seed) % 3), k = (int)(rng_next(&seed) % 7);
        uint64_t amt = 1 + rng_next(&seed) % 20000;
        const tx_t *tx;
        switch (k) {
        case 0: tx = transfer(&t, who[s], nonce[s], who[(s + 1) % 3], "USD", amt); break;
        case 1: tx = swap(&t, who[s], nonce[s], "ADN", "USD", amt, 0); break;
        case 2: tx = swap(&t, who[s], nonce[s], "USD", "ADN", amt, 0); break;
        case 3: tx = liq_add(&t, who[s], nonce[s], "ADN", "USD", amt, amt * 3, 0); break;
        case 4: tx = liq_remove(&t, who[s], nonce[s], "ADN", "USD", amt / 4 + 1, 0, 0); break;
        case 5: tx = stake(&t, who[s], nonce[s], DELTA_TX_STAKE, amt / 10 + 1); break;
        default: tx = stake(&t, who[s], nonce[s], DELTA_TX_UNSTAKE, amt / 20 + 1); break;
        }
        block_begin(&e);
        int r = block_apply(&e, tx, &why);
        block_end(&e, r == 0 ? 1 : 0);
        if (r == 0) {
            nonce[s]++;
            applied++;
        } else {
            ck_assert_msg(r == -EINVAL && strcmp(why.code, "internal") != 0, "%d %s: %s", r,
                          why.code, why.message);
        }
        ck_assert(total_of(&e, "ADN") == adn0);
        ck_assert(total_of(&e, "USD") == usd0);
    }
    ck_assert_int_gt(applied, 100);
    assert_tree_matches_tables(&e);
    env_close(&e);
}
END_TEST

START_TEST(root_determinism)
{
    env_t e1, e2;
    txb_t t;
    reject_t why = {0};
    uint8_t r1[32], r2[32];
    env_open(&e1);
    env_open(&e2);
    root_of(&e1, r1);
    root_of(&e2, r2);
    ck_assert_mem_eq(r1, r2, 32);
    /* ledger 1: one block, alice then bob */
    block_begin(&e1);
    ck_assert_int_eq(block_apply(&e1, transfer(&t, ALICE, 0, CAROL, "USD", 10), &why), 0);
    ck_assert_int_eq(block_apply(&e1, pool_create(&t, BOB, 0, "ADN", "USD", 4000, 9000, 5), &why),
                     0);
    ck_assert_int_eq(block_apply(&e1, stake(&t, CAROL, 0, DELTA_TX_STAKE, 7), &why), 0);
    block_end(&e1, 3);
    /* ledger 2: the same transactions in the other order, over three blocks */
    ck_assert_int_eq(run1(&e2, stake(&t, CAROL, 0, DELTA_TX_STAKE, 7), &why), 0);
    ck_assert_int_eq(run1(&e2, pool_create(&t, BOB, 0, "ADN", "USD", 4000, 9000, 5), &why), 0);
    root_of(&e2, r2);
    ck_assert_mem_ne(r1, r2, 32);
    ck_assert_int_eq(run1(&e2, transfer(&t, ALICE, 0, CAROL, "USD", 10), &why), 0);
    root_of(&e1, r1);
    root_of(&e2, r2);
    ck_assert_mem_eq(r1, r2, 32);
    /* and a tree rebuilt by state_open from the tables agrees */
    char err[256];
    void *st = NULL;
    uint8_t r3[32];
    ck_assert_int_eq(OPS->state_open(&st, e2.sql, e2.g, err, sizeof err), 0);
    ck_assert_int_eq(OPS->state_root(st, e2.sql, r3), 0);
    ck_assert_mem_eq(r2, r3, 32);
    OPS->state_close(st);
    env_close(&e1);
    env_close(&e2);
}
END_TEST

START_TEST(rollback_restores_sql_and_root)
{
    env_t e;
    txb_t t;
    reject_t why = {0};
    uint8_t r0[32], r1[32], r2[32];
    env_open(&e);
    ck_assert_int_eq(run1(&e, pool_create(&t, ALICE, 0, "ADN", "USD", 10000, 10000, 30), &why), 0);
    root_of(&e, r0);
    block_begin(&e);
    ck_assert_int_eq(sqlite3_exec(e.db, "SAVEPOINT tx", NULL, NULL, NULL), SQLITE_OK);
    uint64_t mark = OPS->state_mark(e.st);
    ck_assert_int_eq(OPS->apply_tx(e.st, &e.x, swap(&t, BOB, 0, "USD", "ADN", 500, 1), &why), 0);
    ck_assert_int_eq(OPS->apply_tx(e.st, &e.x, stake(&t, BOB, 1, DELTA_TX_STAKE, 50), &why), 0);
    root_of(&e, r1);
    ck_assert_mem_ne(r0, r1, 32);
    ck_assert_int_eq(sqlite3_exec(e.db, "ROLLBACK TO tx; RELEASE tx", NULL, NULL, NULL), SQLITE_OK);
    OPS->state_rollback(e.st, mark);
    root_of(&e, r2);
    ck_assert_mem_eq(r0, r2, 32);
    ck_assert_int_eq(bal(&e, BOB, "USD"), 1000000);
    ck_assert_int_eq(nonce_of(&e, BOB), 0);
    ck_assert_uint_eq(pool_of(&e, "ADN", "USD").reserve_b, 10000);
    ck_assert_int_eq(staked_of(&e, BOB), 0);
    assert_tree_matches_tables(&e);
    /* a whole block undone: SQL rollback + journal back to the block mark */
    uint64_t bmark = OPS->state_mark(e.st);
    ck_assert_int_eq(block_apply(&e, transfer(&t, BOB, 0, CAROL, "USD", 5), &why), 0);
    ledger_rollback(e.l);
    OPS->state_rollback(e.st, bmark);
    e.in_block = 0;
    root_of(&e, r2);
    ck_assert_mem_eq(r0, r2, 32);
    ck_assert_int_eq(bal(&e, CAROL, "USD"), 0);
    env_close(&e);
}
END_TEST

/* ================= routes ================= */

static json_t *call(env_t *e, const char *pattern, const char *p0, const char *p1, int want_status)
{
    sqlite3 *ro = NULL;
    node_api_t n;
    api_request_t req;
    api_response_t res;
    const api_route_t *route = NULL;
    memset(&n, 0, sizeof n);
    memset(&req, 0, sizeof req);
    memset(&res, 0, sizeof res);
    for (size_t i = 0; i < delta_n_routes; i++)
        if (strcmp(delta_routes[i].pattern, pattern) == 0)
            route = &delta_routes[i];
    ck_assert_ptr_nonnull(route);
    ck_assert_ptr_eq(delta_chain_ops.routes, delta_routes);
    ck_assert_uint_eq(delta_chain_ops.n_routes, delta_n_routes);
    ck_assert_int_eq(sqlite3_open_v2(e->tmp.db, &ro, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    n.chain = "delta";
    n.genesis = e->g;
    req.method = "GET";
    req.params[0] = p0;
    req.params[1] = p1;
    req.n_params = p1 ? 2 : p0 ? 1 : 0;
    req.db = ro;
    req.ctx = &n;
    ck_assert_int_eq(route->fn(&req, &res), 0);
    ck_assert_ptr_nonnull(res.json);
    ck_assert_msg(res.status == want_status, "status %d: %s", res.status,
                  json_dumps(res.json, JSON_COMPACT));
    ck_assert(sqlite3_get_autocommit(ro));
    sqlite3_close(ro);
    return res.json;
}

static int64_t jget(const json_t *o, const char *path1, const char *path2)
{
    const json_t *v = json_object_get(o, path1);
    if (path2)
        v = json_object_get(v, path2);
    ck_assert_msg(json_is_integer(v), "%s.%s is not an integer", path1, path2 ? path2 : "");
    return json_integer_value(v);
}

START_TEST(routes_account_pools_supply)
{
    env_t e;
    txb_t t;
    reject_t why = {0};
    char addr[ADDRESS_MAX];
    env_open(&e);
    ck_assert_int_eq(run1(&e, pool_create(&t, ALICE, 0, "ADN", "USD", 10000, 25000, 30), &why), 0);
    ck_assert_int_eq(run1(&e, stake(&t, ALICE, 1, DELTA_TX_STAKE, 40), &why), 0);
    ck_assert_int_eq(run1(&e, stake(&t, ALICE, 2, DELTA_TX_UNSTAKE, 15), &why), 0);

    ck_assert_int_eq(address_encode(addr, ALICE), 0);
    json_t *j = call(&e, "/accounts/{}", addr, NULL, 200);
    ck_assert_str_eq(json_string_value(json_object_get(j, "address")), addr);
    ck_assert_int_eq(jget(j, "nonce", NULL), 3);
    ck_assert_int_eq(jget(j, "balances", "ADN"), 1000000 - 10000 - 40 - 3);
    ck_assert_int_eq(jget(j, "balances", "USD"), 1000000 - 25000);
    ck_assert_int_eq(jget(j, "staked", NULL), 25);
    json_t *u = json_array_get(json_object_get(j, "unbonding"), 0);
    ck_assert_int_eq(jget(u, "amount", NULL), 15);
    ck_assert_int_eq(jget(u, "release_height", NULL), 13);
    json_t *l = json_array_get(json_object_get(j, "lp_shares"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(l, "pool")), "ADN/USD");
    ck_assert_int_eq(jget(l, "shares", NULL), 15811 - 1000); /* isqrt(2.5e8) */
    json_decref(j);

    uint8_t nobody[32];
    memset(nobody, 0x77, 32);
    ck_assert_int_eq(address_encode(addr, nobody), 0);
    j = call(&e, "/accounts/{}", addr, NULL, 200);
    ck_assert_int_eq(jget(j, "nonce", NULL), 0);
    ck_assert_uint_eq(json_object_size(json_object_get(j, "balances")), 0);
    json_decref(j);
    j = call(&e, "/accounts/{}", "ad1notanaddress", NULL, 400);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                     "bad_address");
    json_decref(j);
    addr[strlen(addr) - 1] ^= 1; /* a mistyped address fails its checksum */
    j = call(&e, "/accounts/{}/proof", addr, NULL, 400);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                     "bad_address");
    json_decref(j);

    j = call(&e, "/pools/{}/{}", "USD", "ADN", 200); /* either order */
    ck_assert_str_eq(json_string_value(json_object_get(j, "asset_a")), "ADN");
    ck_assert_int_eq(jget(j, "reserve_a", NULL), 10000);
    ck_assert_int_eq(jget(j, "reserve_b", NULL), 25000);
    ck_assert_int_eq(jget(j, "shares", NULL), 15811);
    ck_assert_int_eq(jget(j, "fee_bps", NULL), 30);
    ck_assert_str_eq(json_string_value(json_object_get(j, "price_a_in_b")), "2.5");
    json_decref(j);
    j = call(&e, "/pools/{}/{}", "ADN", "EUR", 404);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                     "no_pool");
    json_decref(j);
    j = call(&e, "/pools/{}/{}", "adn", "EUR", 400);
    json_decref(j);
    j = call(&e, "/pools", NULL, NULL, 200);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "pools")), 1);
    json_decref(j);

    j = call(&e, "/supply", NULL, NULL, 200);
    ck_assert_int_eq(jget(j, "height", NULL), (json_int_t)e.height); /* block_end writes block rows */
    json_t *adn = json_object_get(json_object_get(j, "supply"), "ADN");
    ck_assert_int_eq(jget(adn, "pools", NULL), 10000);
    ck_assert_int_eq(jget(adn, "staked", NULL), 25);
    ck_assert_int_eq(jget(adn, "unbonding", NULL), 15);
    ck_assert_int_eq(jget(adn, "total", NULL), 2000100);
    ck_assert_int_eq(jget(adn, "balances", NULL), 2000100 - 10000 - 40);
    json_t *usd = json_object_get(json_object_get(j, "supply"), "USD");
    ck_assert_int_eq(jget(usd, "total", NULL), 2000000);
    ck_assert_int_eq(jget(usd, "pools", NULL), 25000);
    json_decref(j);
    env_close(&e);
}
END_TEST

/* The persisted tree (common/store/tree.c) against the in-memory one
 * rebuilt from the tables (the computation before the trees were kept in
 * the ledger) over a random workload: same root every block, same proofs
 * byte for byte, refused transactions and a rolled-back block leaving
 * nothing behind. */
START_TEST(persisted_tree_matches_in_memory)
{
    env_t e;
    txb_t t;
    reject_t why = {0};
    uint8_t to[32], root[32], mem[32], key[32];
    uint64_t nonce = 0, fees;
    smt_proof_t *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    ck_assert(a && b);
    env_open(&e);
    srand(7);
    for (int blk = 0; blk < 12; blk++) {
        block_begin(&e);
        fees = 0;
        for (int i = 0; i < 8; i++) {
            memset(to, 0x11, 32);
            to[0] = (uint8_t)(rand() & 0xf0); /* shared prefixes: deep paths */
            to[1] = (uint8_t)(rand() & 0xff);
            if (block_apply(&e, transfer(&t, ALICE, nonce, to, "USD", 1 + (uint64_t)(rand() % 5)),
                            &why) == 0)
                nonce++, fees++;
            ck_assert_int_lt(block_apply(&e, transfer(&t, CAROL, 0, to, "ADN", 1000), &why), 0);
        }
        if (blk == 5) { /* a block that fails: SQL and batch back to its start */
            ledger_rollback(e.l);
            OPS->state_rollback(e.st, 0);
            e.in_block = 0;
            nonce -= fees;
            continue;
        }
        block_end(&e, fees);
        smt_t *m = NULL;
        ck_assert_int_eq(delta_tree_build(e.sql, &m), 0);
        smt_root(m, mem);
        root_of(&e, root);
        ck_assert_mem_eq(root, mem, 32);
        ck_assert_int_eq(tree_root_at(e.sql, DELTA_TREE_NAME, e.height, root, NULL), 0);
        ck_assert_mem_eq(root, mem, 32);
        for (int k = 0; k < 16; k++) {
            if (k < 3)
                delta_account_key(k == 0 ? ALICE : k == 1 ? BOB : CAROL, key);
            else
                for (int j = 0; j < 32; j++)
                    key[j] = (uint8_t)rand();
            memset(a, 0x5a, sizeof *a);
            memset(b, 0x5a, sizeof *b);
            ck_assert_int_eq(smt_prove(m, key, a), 0);
            ck_assert_int_eq(tree_prove(e.sql, DELTA_TREE_NAME, e.height, key, b), 0);
            ck_assert(memcmp(a, b, sizeof *a) == 0);
        }
        smt_free(m);
    }
    ck_assert_uint_eq(e.height, 11);
    /* a past height still proves; a future one is -ENOENT; pruned is -ESTALE */
    ck_assert_int_eq(tree_prove(e.sql, DELTA_TREE_NAME, 3, key, b), 0);
    ck_assert_int_eq(tree_prove(e.sql, DELTA_TREE_NAME, 12, key, b), -ENOENT);
    ck_assert_int_eq(OPS->state_prune(e.st, e.sql, 8, 100000), 0);
    ck_assert_int_eq(tree_prove(e.sql, DELTA_TREE_NAME, 3, key, b), -ESTALE);
    ck_assert_int_eq(tree_prove(e.sql, DELTA_TREE_NAME, 8, key, b), 0);
    free(a);
    free(b);
    env_close(&e);
}
END_TEST

/* Reopen the state of e's ledger: the code state_open returns. */
static int reopen(env_t *e, char *err, size_t errlen)
{
    void *st = NULL;
    int r = OPS->state_open(&st, e->sql, e->g, err, errlen);
    OPS->state_close(st);
    return r;
}

/* A damaged or mismatched tree is refused at open (-EILSEQ: exit 101),
 * reading no leaves; a ledger without tree rows (made before them) is
 * brought forward once and serves the same root. */
START_TEST(tree_refusals_and_migration)
{
    env_t e;
    txb_t t;
    reject_t why = {0};
    char err[512] = "";
    uint8_t r0[32], r1[32];
    env_open(&e);
    ck_assert_int_eq(run1(&e, transfer(&t, ALICE, 0, BOB, "USD", 3), &why), 0);
    ck_assert_int_eq(run1(&e, transfer(&t, ALICE, 1, CAROL, "USD", 3), &why), 0);
    root_of(&e, r0);
    ck_assert_int_eq(reopen(&e, err, sizeof err), 0);
    /* the tree one height behind the tip */
    ck_assert_int_eq(sqlite3_exec(e.db, "SAVEPOINT d; DELETE FROM tree_roots WHERE version = 2",
                                  NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(reopen(&e, err, sizeof err), -EILSEQ);
    ck_assert_msg(strstr(err, "height 1 but the last block is 2") != NULL, "%s", err);
    ck_assert_int_eq(sqlite3_exec(e.db, "ROLLBACK TO d; RELEASE d", NULL, NULL, NULL), SQLITE_OK);
    /* a damaged root node */
    ck_assert_int_eq(sqlite3_exec(e.db, "SAVEPOINT d; UPDATE tree_nodes SET node = x'01ff' "
                                  "WHERE path = '' AND version = 2", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(reopen(&e, err, sizeof err), -EILSEQ);
    ck_assert_msg(strstr(err, "damaged") != NULL, "%s", err);
    ck_assert_int_eq(sqlite3_exec(e.db, "ROLLBACK TO d; RELEASE d", NULL, NULL, NULL), SQLITE_OK);
    /* a tree whose root row disagrees with its node */
    ck_assert_int_eq(sqlite3_exec(e.db, "SAVEPOINT d; UPDATE tree_roots SET root = "
                                  "'1111111111111111111111111111111111111111111111111111111111111111'"
                                  " WHERE version = 2", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(reopen(&e, err, sizeof err), -EILSEQ);
    ck_assert_int_eq(sqlite3_exec(e.db, "ROLLBACK TO d; RELEASE d", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(OPS->state_verify(e.sql, e.g, NULL, err, sizeof err), 0);
    /* a ledger from before the trees: no tree rows; migrated at open */
    ck_assert_int_eq(sqlite3_exec(e.db, "DELETE FROM tree_nodes; DELETE FROM tree_roots; "
                                  "DELETE FROM tree_stale", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(reopen(&e, err, sizeof err), 0);
    ck_assert_int_eq(tree_root_at(e.sql, DELTA_TREE_NAME, 2, r1, NULL), 0);
    ck_assert_mem_eq(r0, r1, 32);
    env_close(&e);
}
END_TEST

START_TEST(routes_account_proof)
{
    env_t e;
    txb_t t;
    reject_t why = {0};
    char addr[ADDRESS_MAX];
    uint8_t root[32], key[32], leaf[32], want_key[32], state_root[32];
    const char *what = NULL;
    smt_proof_t *p = malloc(sizeof *p);
    ck_assert_ptr_nonnull(p);
    env_open(&e);
    ck_assert_int_eq(run1(&e, transfer(&t, ALICE, 0, BOB, "USD", 3), &why), 0);
    root_of(&e, state_root);

    ck_assert_int_eq(address_encode(addr, ALICE), 0);
    json_t *j = call(&e, "/accounts/{}/proof", addr, NULL, 200);
    ck_assert_str_eq(json_string_value(json_object_get(j, "chain")), "delta");
    ck_assert_str_eq(json_string_value(json_object_get(j, "tree")), "accounts");
    ck_assert_int_eq(smt_proof_from_json(json_object_get(j, "proof"), root, key, p, &what), 0);
    ck_assert_mem_eq(root, state_root, 32);
    char hx[65];
    hex_encode(hx, state_root, 32);
    ck_assert_str_eq(json_string_value(json_object_get(j, "tree_root")), hx);
    ck_assert_str_eq(json_string_value(json_object_get(j, "state_root")), hx);
    delta_account_key(ALICE, want_key);
    ck_assert_mem_eq(key, want_key, 32);
    ck_assert_int_eq(smt_verify(root, key, p, leaf), 1);
    json_t *v = json_object_get(j, "value");
    ck_assert_int_eq(jget(v, "nonce", NULL), 1);
    hex_encode(hx, leaf, 32);
    ck_assert_str_eq(json_string_value(json_object_get(v, "leaf_value")), hx);
    /* the leaf recomputed from the JSON alone */
    delta_balance_t b[2];
    size_t nb = 0;
    const char *asset;
    json_t *amt;
    json_object_foreach(json_object_get(v, "balances"), asset, amt) {
        snprintf(b[nb].asset, sizeof b[nb].asset, "%s", asset);
        b[nb++].amount = (uint64_t)json_integer_value(amt);
    }
    delta_account_t acc = {.nonce = 1, .balances = b, .n_balances = nb};
    memcpy(acc.pk, ALICE, 32);
    uint8_t leaf2[32];
    ck_assert_int_eq(delta_account_leaf(&acc, leaf2), 0);
    ck_assert_mem_eq(leaf, leaf2, 32);
    json_decref(j);

    /* an account that does not exist: a non-inclusion proof and a null value */
    uint8_t nobody[32];
    memset(nobody, 0x77, 32);
    ck_assert_int_eq(address_encode(addr, nobody), 0);
    j = call(&e, "/accounts/{}/proof", addr, NULL, 200);
    ck_assert(json_is_null(json_object_get(j, "value")));
    ck_assert_int_eq(smt_proof_from_json(json_object_get(j, "proof"), root, key, p, &what), 0);
    ck_assert_int_eq(smt_verify(root, key, p, NULL), 0);
    json_decref(j);
    free(p);
    env_close(&e);
}
END_TEST

/* ================= supply totals ================= */

/* Rows where the supply tables differ from the sums over the state tables
 * (0 when they agree). */
static const char SUPPLY_MISMATCHES[] =
    "SELECT (SELECT count(*) FROM (SELECT asset, sum(b) AS b, sum(p) AS p FROM ("
    "    SELECT asset, amount AS b, 0 AS p FROM balances"
    "    UNION ALL SELECT asset_a, 0, reserve_a FROM pools"
    "    UNION ALL SELECT asset_b, 0, reserve_b FROM pools) GROUP BY asset) AS w"
    "  LEFT JOIN supply AS s USING (asset)"
    "  WHERE s.asset IS NULL OR s.balances != w.b OR s.pools != w.p)"
    " + (SELECT count(*) FROM supply WHERE (balances != 0 OR pools != 0) AND asset NOT IN ("
    "    SELECT asset FROM balances UNION SELECT asset_a FROM pools"
    "    UNION SELECT asset_b FROM pools))"
    " + (SELECT count(*) FROM supply_staking WHERE id != 1"
    "    OR staked != (SELECT coalesce(sum(staked), 0) FROM stakes)"
    "    OR unbonding != (SELECT coalesce(sum(amount), 0) FROM unbonding))"
    " + (SELECT count(*) != 1 FROM supply_staking)";

static void assert_supply_matches(env_t *e)
{
    ck_assert_int_eq(q_int(e, SUPPLY_MISMATCHES, NULL, NULL), 0);
}

/* Transaction kind k of the supply workload, from sender to other. */
static const tx_t *supply_tx(txb_t *t, const uint8_t *sender, uint64_t nonce, int k, uint64_t amt,
                             const uint8_t *other)
{
    switch (k) {
    case 0: return transfer(t, sender, nonce, other, "ADN", amt);
    case 1: return transfer(t, sender, nonce, other, "USD", amt * 50); /* often overspends */
    case 2: return swap(t, sender, nonce, "ADN", "USD", amt, 0);
    case 3: return swap(t, sender, nonce, "USD", "ADN", amt, 0);
    case 4: return liq_add(t, sender, nonce, "ADN", "USD", amt, amt * 3, 0);
    case 5: return liq_remove(t, sender, nonce, "ADN", "USD", amt / 4 + 1, 0, 0);
    case 6: return stake(t, sender, nonce, DELTA_TX_STAKE, amt / 10 + 1);
    default: return stake(t, sender, nonce, DELTA_TX_UNSTAKE, amt / 20 + 1);
    }
}

/* Hundreds of mixed transactions in blocks of 1 to 6, some refused (and
 * rolled back to their savepoint), admission checks between them, and
 * unbonding that matures: after every block the supply tables equal the
 * sums over the state tables. A block rolled back whole leaves them as
 * they were. */
START_TEST(supply_table_tracks_state)
{
    env_t e;
    txb_t t;
    reject_t why = {0};
    char err[CHAIN_ERR_MAX];
    uint64_t seed = 777, nonce[3] = {0, 0, 0};
    const uint8_t *who[3];
    int applied = 0, refused = 0;
    env_open(&e);
    who[0] = ALICE, who[1] = BOB, who[2] = CAROL;
    assert_supply_matches(&e);
    ck_assert_int_eq(q_int(&e, "SELECT balances FROM supply WHERE asset = 'ADN'", NULL, NULL),
                     2000100);
    ck_assert_int_eq(run1(&e, pool_create(&t, ALICE, nonce[0]++, "ADN", "USD", 100000, 300000, 30),
                          &why), 0);
    assert_supply_matches(&e);
    for (int b = 0; b < 90; b++) {
        int n = 1 + (int)(rng_next(&seed) % 6);
        uint64_t fees = 0;
        block_begin(&e);
        for (int i = 0; i < n; i++) {
            int s = (int)(rng_next(&seed) % 3), k = (int)(rng_next(&seed) % 8);
            uint64_t amt = 1 + rng_next(&seed) % 20000;
            const tx_t *tx = supply_tx(&t, who[s], nonce[s], k, amt, who[(s + 1) % 3]);
            if (block_apply(&e, tx, &why) == 0) {
                nonce[s]++, applied++;
                fees += tx->fee;
            } else {
                refused++;
            }
        }
        check(&e, transfer(&t, ALICE, nonce[0], BOB, "ADN", 5), &why);
        block_end(&e, fees);
        assert_supply_matches(&e);
    }
    ck_assert_int_gt(applied, 150);
    ck_assert_int_gt(refused, 10);
    ck_assert_int_gt(q_int(&e, "SELECT unbonding FROM supply_staking", NULL, NULL) +
                     q_int(&e, "SELECT staked FROM supply_staking", NULL, NULL), 0);

    /* A block whose end was written, then rolled back whole. */
    int64_t before = q_int(&e, "SELECT balances FROM supply WHERE asset = 'USD'", NULL, NULL);
    block_begin(&e);
    uint64_t mark = OPS->state_mark(e.st);
    ck_assert_int_eq(block_apply(&e, swap(&t, BOB, nonce[1], "ADN", "USD", 500, 0), &why), 0);
    e.x.txid = NULL;
    ck_assert_msg(OPS->end_block(e.st, &e.x, 1, err, sizeof err) == 0, "%s", err);
    ck_assert_int_ne(q_int(&e, "SELECT balances FROM supply WHERE asset = 'USD'", NULL, NULL),
                     before);
    ledger_rollback(e.l);
    OPS->state_rollback(e.st, mark);
    e.in_block = 0;
    ck_assert_int_eq(q_int(&e, "SELECT balances FROM supply WHERE asset = 'USD'", NULL, NULL),
                     before);
    assert_supply_matches(&e);
    /* and its notes are gone: the next block writes only its own */
    ck_assert_int_eq(run1(&e, transfer(&t, BOB, nonce[1], ALICE, "ADN", 5), &why), 0);
    assert_supply_matches(&e);
    env_close(&e);
}
END_TEST

/* A ledger made before the supply tables gets them filled from its tables. */
START_TEST(supply_migrates_v3_ledger)
{
    char err[LEDGER_ERR_MAX];
    tmp_ledger_t t;
    ledger_t *l = NULL;
    char rows[200];
    tmp_ledger_init(&t, "delta");
    ledger_schema_t v3 = {OPS->schema->migrations, 3};
    ck_assert_int_eq(ledger_open(&l, t.db, &v3, err), 0);
    ck_assert_int_eq(sqlite3_exec(ledger_db(l),
                                  "INSERT INTO accounts VALUES ('aa', 1), ('bb', 0);"
                                  "INSERT INTO balances VALUES ('aa', 'ADN', 90), ('aa', 'USD', 7),"
                                  " ('bb', 'ADN', 10);"
                                  "INSERT INTO pools VALUES ('ADN', 'USD', 1000, 3000, 1732, 30, 1),"
                                  " ('GLD', 'USD', 2000, 500, 1000, 0, 2);"
                                  "INSERT INTO lp_shares VALUES ('ADN', 'USD', 'aa', 732);"
                                  "INSERT INTO stakes VALUES ('aa', 25);"
                                  "INSERT INTO unbonding(address, amount, release_height)"
                                  " VALUES ('bb', 5, 9), ('bb', 6, 10);",
                                  NULL, NULL, NULL), SQLITE_OK);
    ledger_close(l);
    ck_assert_msg(ledger_open(&l, t.db, OPS->schema, err) == 0, "%s", err);
    ck_assert_int_eq(ledger_schema_version(l), (int)OPS->schema->n);
    ck_assert_int_eq(db_int(ledger_db(l), SUPPLY_MISMATCHES), 0);
    db_text(ledger_db(l), "SELECT group_concat(asset || ':' || balances || ':' || pools, ' ') "
                          "FROM (SELECT * FROM supply ORDER BY asset)", rows, sizeof rows);
    ck_assert_str_eq(rows, "ADN:100:1000 GLD:0:2000 USD:7:3500");
    db_text(ledger_db(l), "SELECT staked || ':' || unbonding FROM supply_staking", rows,
            sizeof rows);
    ck_assert_str_eq(rows, "25:11");
    ledger_close(l);
    tmp_ledger_cleanup(&t);
}
END_TEST

/* A ledger of schema 5 (tree rows keyed (tree, path, version), no
 * lp_shares_owner index, no mempool or peer tables) is brought forward at
 * open: migrations 6 to 11, then the rows moved by the state's upgrade, the same root served. */
START_TEST(tree_layout_migrates_v5_ledger)
{
    env_t e;
    txb_t t;
    reject_t why = {0};
    char err[512] = "";
    uint8_t r0[32], r1[32];
    ledger_t *l = NULL;
    void *st = NULL;
    env_open(&e);
    ck_assert_int_eq(run1(&e, transfer(&t, ALICE, 0, BOB, "USD", 3), &why), 0);
    ck_assert_int_eq(run1(&e, transfer(&t, ALICE, 1, CAROL, "USD", 3), &why), 0);
    root_of(&e, r0);
    int nodes = db_int(e.db, "SELECT count(*) FROM tree_nodes");
    ck_assert_int_gt(nodes, 0);
    ck_assert_int_eq(sqlite3_exec(e.db,
        "ALTER TABLE tree_nodes RENAME TO t6;"
        "CREATE TABLE tree_nodes (tree TEXT NOT NULL, path TEXT NOT NULL,"
        " version INTEGER NOT NULL, hash TEXT NOT NULL, leaves INTEGER NOT NULL,"
        " node BLOB NOT NULL, PRIMARY KEY (tree, path, version)) WITHOUT ROWID;"
        "INSERT INTO tree_nodes SELECT * FROM t6; DROP TABLE t6;"
        "DROP INDEX lp_shares_owner; DROP TABLE mempool; DROP TABLE tx_dropped;"
        "DROP TABLE peer_headers; ALTER TABLE blocks DROP COLUMN peer_height;"
        "ALTER TABLE blocks DROP COLUMN peer_hash; DROP TABLE bridge_in; DROP TABLE bridge_in_totals;"
        "DROP TABLE bridge_outs; ALTER TABLE supply DROP COLUMN bridged_out;"
        "ALTER TABLE supply DROP COLUMN bridged_in;"
        "DROP TABLE gov_governors; DROP TABLE gov_params; DROP TABLE gov_proposals;"
        "DROP TABLE gov_journal; DROP TABLE gov_votes; DROP TABLE gov_nonces;"
        "DROP TABLE registry; DROP TABLE programs;"
        "PRAGMA user_version = 5", NULL, NULL, NULL), SQLITE_OK);
    chainenv_close(OPS, e.l, e.st);
    ck_assert_msg(ledger_open(&l, e.tmp.db, OPS->schema, err) == 0, "%s", err);
    ck_assert_int_eq(ledger_schema_version(l), (int)OPS->schema->n);
    ck_assert_int_eq(db_int(ledger_db(l), "SELECT count(*) FROM tree_nodes_v1"), nodes);
    ck_assert_msg(OPS->state_open(&st, ledger_sql(l), e.g, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(db_int(ledger_db(l), "SELECT count(*) FROM tree_nodes"), nodes);
    ck_assert_int_eq(db_int(ledger_db(l), "SELECT count(*) FROM sqlite_master WHERE name IN "
                                          "('tree_nodes_v1', 'lp_shares_owner')"), 1);
    ck_assert_int_eq(tree_root_at(ledger_sql(l), DELTA_TREE_NAME, 2, r1, NULL), 0);
    ck_assert_mem_eq(r0, r1, 32);
    ck_assert_int_eq(OPS->state_verify(ledger_sql(l), e.g, NULL, err, sizeof err), 0);
    chainenv_close(OPS, l, st);
    tmp_ledger_cleanup(&e.tmp);
    free(e.g);
}
END_TEST

/* ================= the bridge ================= */

static const uint8_t ALPHA_KEY[32] = {0x0a, 0x1f, 0xa0, 0x77}; /* a recipient on alpha */

static const tx_t *bridge_out(txb_t *t, const uint8_t *from, uint64_t nonce, const uint8_t *to,
                              const char *asset, uint64_t amount)
{
    delta_payload_t p = {.kind = DELTA_TX_BRIDGE_OUT};
    memcpy(p.u.transfer.to, to, 32);
    snprintf(p.u.transfer.asset, sizeof p.u.transfer.asset, "%s", asset);
    p.u.transfer.amount = amount;
    return mk(t, from, nonce, 1, &p);
}

/* A supply column of asset (0 without a row). */
static int64_t supply_of(env_t *e, const char *column, const char *asset)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT %s FROM supply WHERE asset = ?", column);
    return q_int(e, sql, asset, NULL);
}

/* What genesis gave of asset, less what left by the bridge, plus what came
 * in, equals what is held (balances, pools, staking); and bridged_out is
 * the sum of bridge_outs. */
static void assert_bridge_conserves(env_t *e, const char *asset, int64_t genesis)
{
    u128 held = total_of(e, asset);
    int64_t out = supply_of(e, "bridged_out", asset), in = supply_of(e, "bridged_in", asset);
    ck_assert_msg(held == (u128)(genesis - out + in), "%s: held %" PRId64 " != %" PRId64
                  " - %" PRId64 " + %" PRId64, asset, (int64_t)held, genesis, out, in);
    ck_assert_int_eq(q_int(e, "SELECT coalesce(sum(amount), 0) FROM bridge_outs WHERE asset = ?",
                           asset, NULL), out);
    assert_supply_matches(e);
}

static void assert_state_verifies(env_t *e)
{
    char msg[CHAIN_ERR_MAX] = "";
    ck_assert_msg(OPS->state_verify(e->sql, e->g, NULL, msg, sizeof msg) == 0, "%s", msg);
}

START_TEST(codec_bridge_out_layout)
{
    delta_payload_t p = {.kind = DELTA_TX_BRIDGE_OUT}, q, tr = {.kind = DELTA_TX_TRANSFER};
    uint8_t buf[DELTA_PAYLOAD_MAX], want[DELTA_PAYLOAD_MAX];
    size_t len = 0, wlen = 0;
    const char *what = NULL, *why = NULL;
    memcpy(p.u.transfer.to, ALPHA_KEY, 32);
    strcpy(p.u.transfer.asset, "USD-C");
    p.u.transfer.amount = 0x0102030405060708ULL;
    tr.u.transfer = p.u.transfer;
    /* the very bytes of a transfer: only the envelope's kind differs */
    ck_assert_int_eq(delta_payload_encode(&p, buf, sizeof buf, &len), 0);
    ck_assert_int_eq(delta_payload_encode(&tr, want, sizeof want, &wlen), 0);
    ck_assert_uint_eq(len, 32 + 4 + 5 + 8);
    ck_assert_uint_eq(len, wlen);
    ck_assert_mem_eq(buf, want, len);
    ck_assert_int_eq(delta_payload_decode(&q, DELTA_TX_BRIDGE_OUT, buf, len, &what), 0);
    ck_assert_uint_eq(q.kind, DELTA_TX_BRIDGE_OUT);
    ck_assert_mem_eq(q.u.transfer.to, ALPHA_KEY, 32);
    ck_assert_str_eq(q.u.transfer.asset, "USD-C");
    ck_assert_uint_eq(q.u.transfer.amount, 0x0102030405060708ULL);
    ck_assert_int_eq(delta_payload_check(&q, &what, &why), 0);
    ck_assert_str_eq(delta_kind_name(DELTA_TX_BRIDGE_OUT), "bridge_out");
    strcpy(q.u.transfer.asset, "usd");
    ck_assert_int_eq(delta_payload_check(&q, &what, &why), -EINVAL);
    ck_assert_str_eq(what, "asset");
}
END_TEST

/* A bridge_out debits the sender (amount and fee), credits nobody on
 * delta, leaves its row, and moves the supply from balances to
 * bridged_out; the state root changes and verify-ledger agrees. */
START_TEST(bridge_out_applied)
{
    env_t e;
    txb_t t;
    reject_t why = {0};
    uint8_t r0[32], r1[32];
    char hx[65], want[65];
    env_open(&e);
    root_of(&e, r0);
    ck_assert_int_eq(run1(&e, bridge_out(&t, ALICE, 0, ALPHA_KEY, "USD", 250), &why), 0);
    root_of(&e, r1);
    ck_assert_mem_ne(r0, r1, 32);
    ck_assert_int_eq(bal(&e, ALICE, "USD"), 1000000 - 250);
    ck_assert_int_eq(bal(&e, ALICE, "ADN"), 1000000 - 1);
    ck_assert_int_eq(nonce_of(&e, ALICE), 1);
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM accounts WHERE address = ?",
                           (hex_encode(hx, ALPHA_KEY, 32), hx), NULL), 0);
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM bridge_outs", NULL, NULL), 1);
    ck_assert_int_eq(q_int(&e, "SELECT height FROM bridge_outs", NULL, NULL), 1);
    ck_assert_int_eq(q_int(&e, "SELECT idx FROM bridge_outs", NULL, NULL), 0);
    ck_assert_int_eq(q_int(&e, "SELECT amount FROM bridge_outs WHERE asset = 'USD'", NULL, NULL),
                     250);
    hex_encode(want, ALICE, 32);
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM bridge_outs WHERE sender = ? AND "
                               "recipient = ?", want, hx), 1);
    ck_assert_int_eq(q_int(&e, "SELECT length(txid) FROM bridge_outs", NULL, NULL), 64);
    ck_assert_int_eq(supply_of(&e, "bridged_out", "USD"), 250);
    ck_assert_int_eq(supply_of(&e, "balances", "USD"), 2000000 - 250);
    ck_assert_int_eq(supply_of(&e, "bridged_out", "ADN"), 0);
    /* in the fee asset: amount and fee both leave the sender, the fee to the proposer */
    ck_assert_int_eq(run1(&e, bridge_out(&t, ALICE, 1, ALPHA_KEY, "ADN", 10), &why), 0);
    ck_assert_int_eq(bal(&e, ALICE, "ADN"), 1000000 - 1 - 11);
    ck_assert_int_eq(bal(&e, PROP, "ADN"), 2);
    ck_assert_int_eq(supply_of(&e, "bridged_out", "ADN"), 10);
    assert_bridge_conserves(&e, "USD", 2000000);
    assert_bridge_conserves(&e, "ADN", 2000100);
    assert_tree_matches_tables(&e);
    assert_state_verifies(&e);
    env_close(&e);
}
END_TEST

START_TEST(bridge_out_rejects)
{
    env_t e;
    txb_t t;
    reject_t why = {0};
    uint8_t r0[32], r1[32];
    env_open(&e);
    root_of(&e, r0);
    EXPECT_REJECT(why, run1(&e, bridge_out(&t, CAROL, 0, ALPHA_KEY, "ADN", 100), &why), -EINVAL,
                  "overspend", "balance 100 ADN < amount 100 + fee 1");
    EXPECT_REJECT(why, run1(&e, bridge_out(&t, BOB, 0, ALPHA_KEY, "USD", 1000001), &why), -EINVAL,
                  "overspend", "balance 1000000 USD < amount 1000001");
    EXPECT_REJECT(why, run1(&e, bridge_out(&t, BOB, 0, ALPHA_KEY, "USD", 0), &why), -EINVAL,
                  "bad_amount", "must be positive");
    EXPECT_REJECT(why, run1(&e, bridge_out(&t, BOB, 0, ALPHA_KEY, "USD", I64MAX + 1), &why),
                  -EINVAL, "bad_amount", "exceeds 2^63-1");
    EXPECT_REJECT(why, run1(&e, bridge_out(&t, BOB, 0, ALPHA_KEY, "usd", 5), &why), -EINVAL,
                  "bad_asset", "asset");
    EXPECT_REJECT(why, run1(&e, bridge_out(&t, BOB, 0, ALPHA_KEY, "EUR", 5), &why), -EINVAL,
                  "overspend", "balance 0 EUR < amount 5");
    EXPECT_REJECT(why, run1(&e, bridge_out(&t, BOB, 1, ALPHA_KEY, "USD", 5), &why), -EAGAIN,
                  "bad_nonce", "not yet");
    /* admission accepts a good one and leaves nothing behind */
    ck_assert_int_eq(check(&e, bridge_out(&t, BOB, 0, ALPHA_KEY, "USD", 5), &why), 0);
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM bridge_outs", NULL, NULL), 0);
    ck_assert_int_eq(supply_of(&e, "bridged_out", "USD"), 0);
    ck_assert_int_eq(supply_of(&e, "bridged_out", "ADN"), 0);
    ck_assert_int_eq(bal(&e, CAROL, "ADN"), 100);
    ck_assert_int_eq(nonce_of(&e, BOB), 0);
    root_of(&e, r1);
    ck_assert_mem_eq(r0, r1, 32);
    assert_bridge_conserves(&e, "USD", 2000000);
    /* a nonce used once is used: the same bridge_out again is refused */
    ck_assert_int_eq(run1(&e, bridge_out(&t, BOB, 0, ALPHA_KEY, "USD", 5), &why), 0);
    EXPECT_REJECT(why, run1(&e, bridge_out(&t, BOB, 0, ALPHA_KEY, "USD", 5), &why), -EINVAL,
                  "bad_nonce", "already used");
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM bridge_outs", NULL, NULL), 1);
    env_close(&e);
}
END_TEST

#define MAX_OUTS 8

typedef struct {
    bridge_transfer_t b[MAX_OUTS];
    size_t n;
    int stop_at;              /* return 7 on this call (0: never) */
} outs_t;

static int outs_collect(void *ctx, const bridge_transfer_t *b)
{
    outs_t *o = ctx;
    ck_assert_uint_lt(o->n, MAX_OUTS);
    o->b[o->n++] = *b;
    return (int)o->n == o->stop_at ? 7 : 0;
}

/* The bridge_outs hook lists a block's bridge-outs in block order, with
 * their transaction ids, and nothing of other blocks. */
START_TEST(bridge_outs_hook_lists_block)
{
    env_t e;
    txb_t t;
    reject_t why = {0};
    uint8_t other[32], ids[3][32];
    outs_t o = {0};
    memset(other, 0x3c, 32);
    env_open(&e);
    ck_assert_int_eq(run1(&e, bridge_out(&t, BOB, 0, ALPHA_KEY, "ADN", 1), &why), 0);
    block_begin(&e);
    ck_assert_int_eq(block_apply(&e, bridge_out(&t, ALICE, 0, ALPHA_KEY, "USD", 30), &why), 0);
    memcpy(ids[0], e.x.txid, 32);
    ck_assert_int_eq(block_apply(&e, transfer(&t, ALICE, 1, BOB, "USD", 5), &why), 0);
    ck_assert_int_ne(block_apply(&e, bridge_out(&t, CAROL, 0, other, "ADN", 500), &why), 0);
    ck_assert_int_eq(block_apply(&e, bridge_out(&t, BOB, 1, other, "ADN", 40), &why), 0);
    memcpy(ids[1], e.x.txid, 32);
    ck_assert_int_eq(block_apply(&e, bridge_out(&t, ALICE, 2, ALPHA_KEY, "ADN", 2), &why), 0);
    memcpy(ids[2], e.x.txid, 32);
    block_end(&e, 4);
    ck_assert_int_eq(OPS->bridge_outs(e.sql, 2, outs_collect, &o), 0);
    ck_assert_uint_eq(o.n, 3);
    ck_assert_mem_eq(o.b[0].id, ids[0], 32);
    ck_assert_str_eq(o.b[0].asset, "USD");
    ck_assert_uint_eq(o.b[0].amount, 30);
    ck_assert_mem_eq(o.b[0].recipient, ALPHA_KEY, 32);
    ck_assert_mem_eq(o.b[1].id, ids[1], 32);
    ck_assert_str_eq(o.b[1].asset, "ADN");
    ck_assert_uint_eq(o.b[1].amount, 40);
    ck_assert_mem_eq(o.b[1].recipient, other, 32);
    ck_assert_mem_eq(o.b[2].id, ids[2], 32);
    ck_assert_uint_eq(o.b[2].amount, 2);
    memset(&o, 0, sizeof o);
    ck_assert_int_eq(OPS->bridge_outs(e.sql, 1, outs_collect, &o), 0);
    ck_assert_uint_eq(o.n, 1);
    ck_assert_uint_eq(o.b[0].amount, 1);
    memset(&o, 0, sizeof o);
    ck_assert_int_eq(OPS->bridge_outs(e.sql, 3, outs_collect, &o), 0);
    ck_assert_uint_eq(o.n, 0);
    /* fn's nonzero value stops the walk and is returned */
    memset(&o, 0, sizeof o);
    o.stop_at = 2;
    ck_assert_int_eq(OPS->bridge_outs(e.sql, 2, outs_collect, &o), 7);
    ck_assert_uint_eq(o.n, 2);
    /* the index serves the lookup */
    char plan[512] = "";
    sqlite3_stmt *qp;
    ck_assert_int_eq(sqlite3_prepare_v2(e.db, "EXPLAIN QUERY PLAN SELECT txid FROM bridge_outs "
                                              "WHERE height = 2 ORDER BY idx", -1, &qp, NULL),
                     SQLITE_OK);
    while (sqlite3_step(qp) == SQLITE_ROW)
        snprintf(plan + strlen(plan), sizeof plan - strlen(plan), "%s;",
                 (const char *)sqlite3_column_text(qp, 3));
    sqlite3_finalize(qp);
    ck_assert_msg(strstr(plan, "bridge_outs_height") && !strstr(plan, "TEMP B-TREE"), "%s", plan);
    assert_bridge_conserves(&e, "ADN", 2000100);
    env_close(&e);
}
END_TEST

static bridge_transfer_t mint_of(const uint8_t *to, const char *asset, uint64_t amount)
{
    bridge_transfer_t b;
    memset(&b, 0, sizeof b);
    memset(b.id, 0x99, 32);
    b.id[0] = (uint8_t)amount;
    memcpy(b.recipient, to, 32);
    snprintf(b.asset, sizeof b.asset, "%s", asset);
    b.amount = amount;
    return b;
}

/* One mint the way the pipeline does it: savepoint + journal mark, undone on failure. */
static int mint1(env_t *e, const bridge_transfer_t *b, reject_t *why)
{
    ck_assert(e->in_block);
    e->x.txid = b->id;
    ck_assert_int_eq(sqlite3_exec(e->db, "SAVEPOINT bridge", NULL, NULL, NULL), SQLITE_OK);
    uint64_t mark = OPS->state_mark(e->st);
    int r = OPS->bridge_mint(e->st, &e->x, b, why);
    if (r < 0) {
        ck_assert_int_eq(sqlite3_exec(e->db, "ROLLBACK TO bridge", NULL, NULL, NULL), SQLITE_OK);
        OPS->state_rollback(e->st, mark);
    }
    ck_assert_int_eq(sqlite3_exec(e->db, "RELEASE bridge", NULL, NULL, NULL), SQLITE_OK);
    e->x.txid = NULL;
    return r;
}

/* Mints credit a new account (made as a transfer makes it) and an
 * existing one, before the block's transactions, which may spend them;
 * the root is the tables', the supply counts them as bridged in. */
START_TEST(bridge_mint_credits)
{
    env_t e;
    txb_t t;
    reject_t why = {0};
    uint8_t dave[32], r0[32], r1[32];
    char hx[65];
    memset(dave, 0xd0, 32);
    env_open(&e);
    root_of(&e, r0);
    block_begin(&e);
    bridge_transfer_t b1 = mint_of(dave, "USD", 500), b2 = mint_of(BOB, "ADN", 7),
                      b3 = mint_of(dave, "GLD", 3), b4 = mint_of(dave, "ADN", 2);
    ck_assert_int_eq(mint1(&e, &b1, &why), 0);
    ck_assert_int_eq(mint1(&e, &b2, &why), 0);
    ck_assert_int_eq(mint1(&e, &b3, &why), 0); /* an asset delta never had */
    ck_assert_int_eq(mint1(&e, &b4, &why), 0);
    ck_assert_int_eq(block_apply(&e, transfer(&t, dave, 0, CAROL, "USD", 100), &why), 0);
    block_end(&e, 1);
    root_of(&e, r1);
    ck_assert_mem_ne(r0, r1, 32);
    ck_assert_int_eq(bal(&e, dave, "USD"), 400);
    ck_assert_int_eq(bal(&e, dave, "GLD"), 3);
    ck_assert_int_eq(bal(&e, dave, "ADN"), 1);
    ck_assert_int_eq(bal(&e, CAROL, "USD"), 100);
    ck_assert_int_eq(bal(&e, BOB, "ADN"), 1000007);
    ck_assert_int_eq(nonce_of(&e, dave), 1);
    hex_encode(hx, BOB, 32);
    ck_assert_int_eq(q_int(&e, "SELECT nonce FROM accounts WHERE address = ?", hx, NULL), 0);
    ck_assert_int_eq(supply_of(&e, "bridged_in", "USD"), 500);
    ck_assert_int_eq(supply_of(&e, "bridged_in", "ADN"), 9);
    ck_assert_int_eq(supply_of(&e, "bridged_in", "GLD"), 3);
    ck_assert_int_eq(supply_of(&e, "balances", "GLD"), 3);
    ck_assert_int_eq(supply_of(&e, "balances", "USD"), 2000500);
    assert_bridge_conserves(&e, "USD", 2000000);
    assert_bridge_conserves(&e, "ADN", 2000100);
    assert_bridge_conserves(&e, "GLD", 0);
    assert_tree_matches_tables(&e);
    assert_state_verifies(&e);
    /* verify-ledger sees a bridged_in that does not add up, and a lost bridge_outs row */
    char msg[CHAIN_ERR_MAX] = "";
    ck_assert_int_eq(sqlite3_exec(e.db, "UPDATE supply SET bridged_in = 499 WHERE asset = 'USD'",
                                  NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(OPS->state_verify(e.sql, e.g, NULL, msg, sizeof msg), -EILSEQ);
    ck_assert_msg(strstr(msg, "supply of USD") != NULL, "%s", msg);
    ck_assert_int_eq(sqlite3_exec(e.db, "UPDATE supply SET bridged_in = 500 WHERE asset = 'USD'",
                                  NULL, NULL, NULL), SQLITE_OK);
    assert_state_verifies(&e);
    ck_assert_int_eq(run1(&e, bridge_out(&t, BOB, 0, ALPHA_KEY, "ADN", 3), &why), 0);
    assert_state_verifies(&e);
    ck_assert_int_eq(sqlite3_exec(e.db, "DELETE FROM bridge_outs", NULL, NULL, NULL), SQLITE_OK);
    ck_assert_int_eq(OPS->state_verify(e.sql, e.g, NULL, msg, sizeof msg), -EILSEQ);
    ck_assert_msg(strstr(msg, "bridge_outs") != NULL, "%s", msg);
    env_close(&e);
}
END_TEST

/* A mint undone by its savepoint and the journal leaves no balance, no
 * account, no supply note and the old root; a refused transaction after
 * a mint takes only its own notes with it. */
START_TEST(bridge_mint_rolled_back)
{
    env_t e;
    txb_t t;
    reject_t why = {0};
    uint8_t dave[32], r0[32], r1[32], r2[32];
    char hx[65];
    memset(dave, 0xd0, 32);
    hex_encode(hx, dave, 32);
    env_open(&e);
    root_of(&e, r0);
    block_begin(&e);
    bridge_transfer_t b = mint_of(dave, "USD", 500);
    e.x.txid = b.id;
    ck_assert_int_eq(sqlite3_exec(e.db, "SAVEPOINT bridge", NULL, NULL, NULL), SQLITE_OK);
    uint64_t mark = OPS->state_mark(e.st);
    ck_assert_int_eq(OPS->bridge_mint(e.st, &e.x, &b, &why), 0);
    root_of(&e, r1);
    ck_assert_mem_ne(r0, r1, 32);
    ck_assert_int_eq(sqlite3_exec(e.db, "ROLLBACK TO bridge; RELEASE bridge", NULL, NULL, NULL),
                     SQLITE_OK);
    OPS->state_rollback(e.st, mark);
    root_of(&e, r2);
    ck_assert_mem_eq(r0, r2, 32);
    ck_assert_int_eq(bal(&e, dave, "USD"), 0);
    ck_assert_int_eq(q_int(&e, "SELECT count(*) FROM accounts WHERE address = ?", hx, NULL), 0);
    /* a kept mint, then a refused transaction: the mint's notes stay */
    bridge_transfer_t b2 = mint_of(BOB, "USD", 20);
    ck_assert_int_eq(mint1(&e, &b2, &why), 0);
    ck_assert_int_ne(block_apply(&e, transfer(&t, CAROL, 0, BOB, "ADN", 500), &why), 0);
    block_end(&e, 0);
    ck_assert_int_eq(supply_of(&e, "bridged_in", "USD"), 20);
    ck_assert_int_eq(supply_of(&e, "balances", "USD"), 2000020);
    assert_bridge_conserves(&e, "USD", 2000000);
    assert_tree_matches_tables(&e);
    assert_state_verifies(&e);
    /* a whole block with a mint, rolled back: nothing */
    block_begin(&e);
    uint64_t bmark = OPS->state_mark(e.st);
    ck_assert_int_eq(mint1(&e, &b, &why), 0);
    ledger_rollback(e.l);
    OPS->state_rollback(e.st, bmark);
    e.in_block = 0;
    empty_block(&e);
    ck_assert_int_eq(bal(&e, dave, "USD"), 0);
    ck_assert_int_eq(supply_of(&e, "bridged_in", "USD"), 20);
    assert_bridge_conserves(&e, "USD", 2000000);
    env_close(&e);
}
END_TEST

/* Refusals: a supply or a balance past 2^63-1 (counting this block's
 * earlier mints), a zero or too large amount, a bad asset; each leaves
 * nothing. */
START_TEST(bridge_mint_refusals)
{
    env_t e;
    reject_t why = {0};
    genesis_t *g = genesis_new();
    keys_init();
    gen_add_balance(g, ALICE, "ADN", 1000);
    gen_add_balance(g, ALICE, "BIG", I64MAX - 100);
    env_open_with(&e, g);
    block_begin(&e);
    bridge_transfer_t b = mint_of(BOB, "BIG", 101);
    EXPECT_REJECT(why, mint1(&e, &b, &why), -EINVAL, "overflow", "past 2^63-1");
    b = mint_of(BOB, "BIG", 60);
    ck_assert_int_eq(mint1(&e, &b, &why), 0);
    b = mint_of(CAROL, "BIG", 41); /* 60 minted before in this block */
    EXPECT_REJECT(why, mint1(&e, &b, &why), -EINVAL, "overflow", "past 2^63-1");
    b = mint_of(CAROL, "BIG", 40);
    ck_assert_int_eq(mint1(&e, &b, &why), 0);
    b = mint_of(BOB, "ADN", 0);
    EXPECT_REJECT(why, mint1(&e, &b, &why), -EINVAL, "bad_amount", "must be positive");
    b = mint_of(BOB, "ADN", I64MAX + 1);
    EXPECT_REJECT(why, mint1(&e, &b, &why), -EINVAL, "bad_amount", "exceeds 2^63-1");
    b = mint_of(BOB, "adn", 5);
    EXPECT_REJECT(why, mint1(&e, &b, &why), -EINVAL, "bad_asset", "asset");
    b = mint_of(BOB, "", 5);
    EXPECT_REJECT(why, mint1(&e, &b, &why), -EINVAL, "bad_asset", "asset");
    block_end(&e, 0);
    ck_assert_int_eq(bal(&e, BOB, "BIG"), 60);
    ck_assert_int_eq(bal(&e, CAROL, "BIG"), 40);
    ck_assert_int_eq(bal(&e, BOB, "ADN"), 0);
    ck_assert_int_eq(supply_of(&e, "balances", "BIG"), (int64_t)I64MAX);
    ck_assert_int_eq(supply_of(&e, "bridged_in", "BIG"), 100);
    ck_assert_int_eq(supply_of(&e, "bridged_in", "ADN"), 0);
    assert_bridge_conserves(&e, "BIG", (int64_t)(I64MAX - 100));
    /* full: not one more, not even in another block */
    block_begin(&e);
    b = mint_of(ALICE, "BIG", 1);
    EXPECT_REJECT(why, mint1(&e, &b, &why), -EINVAL, "overflow", "past 2^63-1");
    block_end(&e, 0);
    assert_tree_matches_tables(&e);
    assert_state_verifies(&e);
    env_close(&e);
}
END_TEST

/* GET /supply shows what left and arrived by the bridge per asset, the
 * total (what is held) unchanged in meaning, and bridge_in's totals. */
START_TEST(routes_supply_bridge)
{
    env_t e;
    txb_t t;
    reject_t why = {0};
    env_open(&e);
    ck_assert_int_eq(run1(&e, bridge_out(&t, ALICE, 0, ALPHA_KEY, "USD", 250), &why), 0);
    block_begin(&e);
    bridge_transfer_t b = mint_of(BOB, "GLD", 9);
    ck_assert_int_eq(mint1(&e, &b, &why), 0);
    block_end(&e, 0);
    ck_assert_int_eq(sqlite3_exec(e.db, "INSERT INTO bridge_in_totals(asset, minted, pending) "
                                        "VALUES ('GLD', 9, 4)", NULL, NULL, NULL), SQLITE_OK);
    json_t *j = call(&e, "/supply", NULL, NULL, 200);
    json_t *s = json_object_get(j, "supply");
    json_t *usd = json_object_get(s, "USD"), *gld = json_object_get(s, "GLD");
    ck_assert_int_eq(jget(usd, "bridged_out", NULL), 250);
    ck_assert_int_eq(jget(usd, "bridged_in", NULL), 0);
    ck_assert_int_eq(jget(usd, "balances", NULL), 2000000 - 250);
    ck_assert_int_eq(jget(usd, "total", NULL), 2000000 - 250);
    ck_assert_int_eq(jget(gld, "bridged_in", NULL), 9);
    ck_assert_int_eq(jget(gld, "total", NULL), 9);
    ck_assert_int_eq(jget(json_object_get(s, "ADN"), "bridged_out", NULL), 0);
    json_t *bi = json_object_get(json_object_get(j, "bridge_in"), "GLD");
    ck_assert_int_eq(jget(bi, "minted", NULL), 9);
    ck_assert_int_eq(jget(bi, "pending", NULL), 4);
    ck_assert_uint_eq(json_object_size(json_object_get(j, "bridge_in")), 1);
    json_decref(j);
    env_close(&e);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("delta");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, codec_transfer_layout);
    tcase_add_test(tc, codec_roundtrip_all_kinds);
    tcase_add_test(tc, codec_refusals);
    tcase_add_test(tc, account_leaf_encoding);
    suite_add_tcase(s, tc);

    tc = tcase_create("chain");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, genesis_state_and_tree);
    tcase_add_test(tc, genesis_refuses_bad_assets_and_totals);
    tcase_add_test(tc, schema_migrates_v2_ledger);
    tcase_add_test(tc, transfer_accept);
    tcase_add_test(tc, transfer_rejects);
    tcase_add_test(tc, nonce_rules);
    tcase_add_test(tc, check_tx_changes_nothing);
    tcase_add_test(tc, fees_to_proposer);
    suite_add_tcase(s, tc);

    tc = tcase_create("amm");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, pool_create_accept_and_reject);
    tcase_add_test(tc, liquidity_add_rounds_for_the_pool);
    tcase_add_test(tc, liquidity_remove_to_the_locked_minimum);
    tcase_add_test(tc, swap_amounts_and_fees);
    tcase_add_test(tc, swap_tiny_reserves);
    tcase_add_test(tc, swap_huge_reserves);
    tcase_add_loop_test(tc, swap_product_never_decreases, 0, 3); /* fee 0, 500, 1000 bps */
    suite_add_tcase(s, tc);

    tc = tcase_create("state");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, staking_and_unbonding_maturity);
    tcase_add_test(tc, conservation_over_mixed_sequence);
    tcase_add_test(tc, root_determinism);
    tcase_add_test(tc, rollback_restores_sql_and_root);
    tcase_add_test(tc, persisted_tree_matches_in_memory);
    tcase_add_test(tc, tree_refusals_and_migration);
    tcase_add_test(tc, tree_layout_migrates_v5_ledger);
    suite_add_tcase(s, tc);

    tc = tcase_create("supply");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, supply_table_tracks_state);
    tcase_add_test(tc, supply_migrates_v3_ledger);
    suite_add_tcase(s, tc);

    tc = tcase_create("bridge");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, codec_bridge_out_layout);
    tcase_add_test(tc, bridge_out_applied);
    tcase_add_test(tc, bridge_out_rejects);
    tcase_add_test(tc, bridge_outs_hook_lists_block);
    tcase_add_test(tc, bridge_mint_credits);
    tcase_add_test(tc, bridge_mint_rolled_back);
    tcase_add_test(tc, bridge_mint_refusals);
    tcase_add_test(tc, routes_supply_bridge);
    suite_add_tcase(s, tc);

    tc = tcase_create("routes");
    tcase_add_test(tc, routes_account_pools_supply);
    tcase_add_test(tc, routes_account_proof);
    suite_add_tcase(s, tc);
    return s;
}
