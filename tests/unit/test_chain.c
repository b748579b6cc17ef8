/* common/chain.c: opening a chain's ledger from a genesis, producing,
 * signing and committing blocks, resuming, and refusing ledgers of other
 * chains and keys that cannot commit alone. The chain state machine is a
 * tiny kv table defined here. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "common/base/hex.h"
#include "common/base/keys.h"
#include "common/node/chain/chain.h"
#include "common/node/gov/gov.h"
#include "common/node/mempool/mempool.h"
#include "common/store/genesis.h"
#include "common/store/ledger.h"
#include "proto/block.h"
#include "tests/lib/db.h"
#include "tests/lib/file.h"
#include "tests/lib/gen.h"
#include "tests/lib/suite.h"
#include "common/store/pooltab.h"
#include "tests/lib/tmp.h"

Suite *test_suite(void);

static const ledger_migration_t KV_MIGRATIONS[] = {
    {1, LEDGER_SQL_BASE_V1},
    {2, "CREATE TABLE kv(k TEXT PRIMARY KEY, v INTEGER);"},
};
static const ledger_schema_t KV_SCHEMA = {KV_MIGRATIONS, 2};

static const char *const KV_QUERIES[] = {"SELECT k, v FROM kv ORDER BY k"};

/* One genesis balance as the kv row "<owner hex>:<asset>" = amount. */
static int kv_put_balance(void *ctx, uint64_t index, const genesis_balance_t *b, char *err,
                          size_t errlen)
{
    sqlite3_stmt *st = ctx;
    char key[2 * BLOCK_KEY_LEN + 2 + GENESIS_ASSET_MAX];
    (void)index;
    hex_encode(key, b->owner, BLOCK_KEY_LEN);
    strcat(key, ":");
    strcat(key, b->asset);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)b->amount);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "insert: %s", sqlite3_errmsg(sqlite3_db_handle(st)));
        return -EIO;
    }
    return 0;
}

static int kv_genesis_init(sql_t *sql, const genesis_t *g, const genesis_progress_t *progress,
                           char *err, size_t errlen)
{
    sqlite3 *db = sql->db;
    sqlite3_stmt *st = NULL;
    int r;
    if (sqlite3_prepare_v2(db, "INSERT INTO kv(k, v) VALUES (?, ?)", -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "prepare: %s", sqlite3_errmsg(db));
        return -EIO;
    }
    r = genesis_balances_foreach(g, kv_put_balance, st, progress, NULL, err, errlen);
    sqlite3_finalize(st);
    return r;
}

/* The kv chain: transaction kind 1 sets "key=value" (payload text).
 * Payload "fail" is refused at apply, "later" is deferred (-EAGAIN),
 * "bad" is refused at admission. */
static const char *kv_kind_name(uint16_t kind)
{
    return kind == 1 ? "set" : NULL;
}

static int kv_state_open(void **state, sql_t *sql, const genesis_t *g, char *err, size_t errlen)
{
    (void)sql, (void)g, (void)err, (void)errlen;
    static int token;
    *state = &token; /* all state is in SQL; savepoints undo it */
    return 0;
}

static void kv_state_close(void *state)
{
    (void)state;
}

static int kv_state_root(void *state, sql_t *sql, uint8_t out[BLOCK_HASH_LEN])
{
    sqlite3 *db = sql->db;
    (void)state;
    /* BLAKE2b over the rows in key order: enough to tell states apart. */
    sqlite3_stmt *st;
    crypto_generichash_state h;
    if (sqlite3_prepare_v2(db, KV_QUERIES[0], -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    crypto_generichash_init(&h, (const uint8_t *)"adnet-test/kv/v1", 16, BLOCK_HASH_LEN);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *k = sqlite3_column_text(st, 0);
        char v[32];
        snprintf(v, sizeof v, "=%lld;", (long long)sqlite3_column_int64(st, 1));
        crypto_generichash_update(&h, k, (size_t)sqlite3_column_bytes(st, 0));
        crypto_generichash_update(&h, (const uint8_t *)v, strlen(v));
    }
    sqlite3_finalize(st);
    crypto_generichash_final(&h, out, BLOCK_HASH_LEN);
    return 0;
}

static uint64_t kv_mark(void *state)
{
    (void)state;
    return 0;
}

static void kv_rollback(void *state, uint64_t mark)
{
    (void)state, (void)mark;
}

static void kv_commit(void *state)
{
    (void)state;
}

static int kv_payload(const tx_t *tx, char *k, char *v, reject_t *why)
{
    char text[128];
    if (tx->payload_len == 0 || tx->payload_len >= sizeof(text))
        return reject(why, -EINVAL, "malformed", "payload length %zu", tx->payload_len);
    memcpy(text, tx->payload, tx->payload_len);
    text[tx->payload_len] = '\0';
    if (strcmp(text, "bad") == 0)
        return reject(why, -EINVAL, "bad_amount", "payload refused at admission");
    char *eq = strchr(text, '=');
    strcpy(k, text);
    strcpy(v, "1");
    if (eq) {
        k[eq - text] = '\0';
        strcpy(v, eq + 1);
    }
    return 0;
}

static int kv_check_tx(void *state, const chain_exec_t *x, const tx_t *tx, reject_t *why)
{
    char k[128], v[128];
    (void)state, (void)x;
    return kv_payload(tx, k, v, why);
}

static int kv_apply_tx(void *state, const chain_exec_t *x, const tx_t *tx, reject_t *why)
{
    char k[128], v[128];
    sqlite3_stmt *st;
    (void)state;
    int r = kv_payload(tx, k, v, why);
    if (r < 0)
        return r;
    if (strcmp(k, "later") == 0)
        return -EAGAIN;
    /* Write first, then fail: the savepoint must undo the write. */
    ck_assert_int_eq(sqlite3_prepare_v2(x->sql->db, "INSERT OR REPLACE INTO kv(k, v) VALUES (?, ?)",
                                        -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, k, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, atoll(v));
    ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    if (strcmp(k, "fail") == 0)
        return reject(why, -EINVAL, "overspend", "refused at apply");
    return 0;
}

static const chain_ops_t KV_OPS = {
    .name = "alpha", .schema = &KV_SCHEMA, .tx_kind_name = kv_kind_name,
    .genesis_init = kv_genesis_init, .state_open = kv_state_open,
    .state_close = kv_state_close, .state_root = kv_state_root, .state_mark = kv_mark,
    .state_rollback = kv_rollback, .state_commit = kv_commit, .check_tx = kv_check_tx,
    .apply_tx = kv_apply_tx,
};

static int failing_genesis_init(sql_t *sql, const genesis_t *g,
                                const genesis_progress_t *progress, char *err, size_t errlen)
{
    (void)sql;
    (void)g;
    (void)progress;
    snprintf(err, errlen, "genesis state refused by test");
    return -EINVAL;
}

static const chain_ops_t FAILING_OPS = {
    .name = "alpha", .schema = &KV_SCHEMA, .tx_kind_name = kv_kind_name,
    .genesis_init = failing_genesis_init, .state_open = kv_state_open,
    .state_close = kv_state_close, .state_root = kv_state_root, .state_mark = kv_mark,
    .state_rollback = kv_rollback, .state_commit = kv_commit, .check_tx = kv_check_tx,
    .apply_tx = kv_apply_tx,
};

/* A genesis whose validators are key (first power) plus made-up keys with
 * the remaining powers; one balance. Saved to t->genesis, which computes
 * its hash. */
static genesis_t *make_genesis(const tmp_ledger_t *t, const keys_pair_t *key,
                               const uint64_t *powers, size_t n, const char *chain_id,
                               uint64_t time_ms)
{
    char name[16];
    uint8_t pk[BLOCK_KEY_LEN];
    genesis_t *g = gen_new("alpha", chain_id);
    g->genesis_time_ms = time_ms;
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "v%zu", i);
        if (i == 0)
            memcpy(pk, key->pk, BLOCK_KEY_LEN);
        else
            memset(pk, (int)(0x30 + i), BLOCK_KEY_LEN);
        gen_add_validator(g, name, pk, powers[i]);
    }
    gen_add_balance(g, key->pk, "ADN", 1000);
    gen_save(g, t->genesis);
    return g;
}

static genesis_t *solo_genesis(const tmp_ledger_t *t, const keys_pair_t *key)
{
    static const uint64_t p[] = {10};
    return make_genesis(t, key, p, 1, "adnet-test-1", T0_MS);
}

/* A test's node: a directory for its ledger, a fresh key "node", and the
 * genesis in which that key is the only validator. */
static genesis_t *solo_node(tmp_ledger_t *t, keys_pair_t *key)
{
    tmp_ledger_init(t, "chain");
    ck_assert_int_eq(keys_generate(key, "node"), 0);
    return solo_genesis(t, key);
}

/* Column 0 of the first row sql returns on c's ledger, with k (if not
 * NULL) bound to its parameter; -1 if there is no row. */
static long long kv_query(chain_t *c, const char *sql, const char *k)
{
    sqlite3_stmt *st;
    long long v = -1;
    ck_assert_int_eq(sqlite3_prepare_v2(ledger_db(chain_ledger(c)), sql, -1, &st, NULL),
                     SQLITE_OK);
    if (k != NULL)
        sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static long long kv_count(chain_t *c)
{
    return kv_query(c, "SELECT count(*) FROM kv", NULL);
}

START_TEST(test_open_creates_ledger)
{
    tmp_ledger_t t;
    keys_pair_t key;
    chain_t *c = NULL;
    char err[CHAIN_ERR_MAX] = "";
    genesis_t *g = solo_node(&t, &key);

    ck_assert_int_eq(access(t.db, F_OK), -1);
    ck_assert_msg(chain_open(&c, &KV_OPS, t.db, g, &key, NULL, err) == 0, "%s", err);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(access(t.db, F_OK), 0);

    ledger_tip_t tip;
    memset(&tip, 0xa5, sizeof tip);
    chain_tip(c, &tip);
    ck_assert_uint_eq(tip.height, 0);

    ledger_t *l = chain_ledger(c);
    ck_assert_int_eq(ledger_schema_version(l), 2);
    char v[128], hash[2 * BLOCK_HASH_LEN + 1];
    ck_assert_int_eq(ledger_meta_get(l, "chain_id", v, sizeof v), 0);
    ck_assert_str_eq(v, "adnet-test-1");
    ck_assert_int_eq(ledger_meta_get(l, "chain", v, sizeof v), 0);
    ck_assert_str_eq(v, "alpha");
    ck_assert_int_eq(ledger_meta_get(l, "genesis_hash", v, sizeof v), 0);
    hex_encode(hash, g->hash, BLOCK_HASH_LEN);
    ck_assert_str_eq(v, hash);
    ck_assert_int_eq(kv_count(c), 1); /* genesis_init ran, once */
    chain_close(c);

    /* Reopening does not run genesis_init again. */
    ck_assert_int_eq(chain_open(&c, &KV_OPS, t.db, g, &key, NULL, err), 0);
    ck_assert_int_eq(kv_count(c), 1);
    chain_close(c);
    chain_close(NULL);
    free(g);
    tmp_ledger_cleanup(&t);
}
END_TEST

START_TEST(test_produce_blocks)
{
    tmp_ledger_t t;
    keys_pair_t key;
    chain_t *c = NULL;
    char err[CHAIN_ERR_MAX] = "";
    genesis_t *g = solo_node(&t, &key);
    ck_assert_msg(chain_open(&c, &KV_OPS, t.db, g, &key, NULL, err) == 0, "%s", err);

    /* now_ms before genesis, rising, falling back, zero, rising again. */
    const uint64_t now[5] = {T0_MS - 1000, T0_MS + 5000, T0_MS + 100, 0, T0_MS + 10000};
    const uint64_t want_time[5] = {T0_MS + 1, T0_MS + 5000, T0_MS + 5001, T0_MS + 5002,
                                   T0_MS + 10000};
    block_header_t out[5];
    uint8_t roots[5][BLOCK_HASH_LEN];
    for (size_t i = 0; i < 5; i++) {
        /* Change the state between blocks so each root is distinct. */
        if (i > 0) {
            char sql[96];
            snprintf(sql, sizeof sql, "INSERT INTO kv(k, v) VALUES ('k%zu', %zu)", i, i);
            ck_assert_int_eq(sqlite3_exec(ledger_db(chain_ledger(c)), sql, NULL, NULL, NULL),
                             SQLITE_OK);
        }
        ck_assert_int_eq(kv_state_root(NULL, ledger_sql(chain_ledger(c)), roots[i]), 0);
        memset(&out[i], 0, sizeof out[i]);
        ck_assert_msg(chain_produce_block(c, now[i], NULL, 0, NULL, NULL, &out[i], NULL, err) == 0, "%s", err);
        ck_assert_uint_eq(out[i].height, i + 1);
        ck_assert_uint_eq(out[i].time_ms, want_time[i]);
    }
    ledger_tip_t tip;
    chain_tip(c, &tip);
    ck_assert_uint_eq(tip.height, 5);
    ck_assert_uint_eq(tip.time_ms, T0_MS + 10000);

    commit_cert_t *cert = malloc(sizeof *cert);
    ck_assert_ptr_nonnull(cert);
    uint8_t prev[BLOCK_HASH_LEN], txs_root[BLOCK_HASH_LEN];
    crypto_generichash(txs_root, BLOCK_HASH_LEN, (const unsigned char *)"adnet/txs/v1", 12, NULL, 0);
    memcpy(prev, g->hash, BLOCK_HASH_LEN);
    uint64_t last_time = g->genesis_time_ms;
    for (uint64_t height = 1; height <= 5; height++) {
        block_header_t h;
        uint8_t hash[BLOCK_HASH_LEN], rehash[BLOCK_HASH_LEN];
        ck_assert_int_eq(ledger_get_block(chain_ledger(c), height, &h, hash, cert), 0);
        ck_assert_mem_eq(&h, &out[height - 1], sizeof h); /* *out is what was stored */
        ck_assert_uint_eq(h.height, height);
        ck_assert_str_eq(h.chain_id, "adnet-test-1");
        ck_assert_uint_eq(h.protocol_version, 1);
        ck_assert_uint_gt(h.time_ms, last_time);
        last_time = h.time_ms;
        ck_assert_mem_eq(h.prev_hash, prev, BLOCK_HASH_LEN); /* block 1: the genesis hash */
        ck_assert_mem_eq(h.proposer, key.pk, BLOCK_KEY_LEN);
        ck_assert_mem_eq(h.txs_root, txs_root, BLOCK_HASH_LEN);
        ck_assert_uint_eq(h.tx_count, 0);
        ck_assert_mem_eq(h.state_root, roots[height - 1], BLOCK_HASH_LEN);
        ck_assert_int_eq(block_header_hash(&h, rehash), 0);
        ck_assert_mem_eq(rehash, hash, BLOCK_HASH_LEN);

        ck_assert_uint_eq(cert->height, height);
        ck_assert_mem_eq(cert->block_hash, hash, BLOCK_HASH_LEN);
        ck_assert_uint_eq(cert->n_sigs, 1);
        ck_assert_mem_eq(cert->sigs[0].validator, key.pk, BLOCK_KEY_LEN);
        uint8_t msg[128];
        int n = commit_sign_bytes(h.chain_id, h.height, hash, msg, sizeof msg);
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(crypto_sign_verify_detached(cert->sigs[0].sig, msg,
                                                     (unsigned long long)n, key.pk), 0);
        /* The signature is over this block only. */
        msg[n - 1] ^= 1;
        ck_assert_int_ne(crypto_sign_verify_detached(cert->sigs[0].sig, msg,
                                                     (unsigned long long)n, key.pk), 0);
        memcpy(prev, hash, BLOCK_HASH_LEN);
    }
    ck_assert_mem_eq(tip.hash, prev, BLOCK_HASH_LEN);
    for (size_t i = 1; i < 5; i++)
        ck_assert_int_ne(memcmp(roots[i], roots[i - 1], BLOCK_HASH_LEN), 0);
    ck_assert_int_eq(ledger_get_block(chain_ledger(c), 6, NULL, NULL, NULL), -ENOENT);

    /* out may be NULL. */
    ck_assert_int_eq(chain_produce_block(c, T0_MS + 20000, NULL, 0, NULL, NULL, NULL, NULL, err), 0);
    chain_tip(c, &tip);
    ck_assert_uint_eq(tip.height, 6);
    free(cert);
    chain_close(c);
    free(g);
    tmp_ledger_cleanup(&t);
}
END_TEST

START_TEST(test_reopen_resumes)
{
    tmp_ledger_t t;
    keys_pair_t key;
    chain_t *c = NULL;
    char err[CHAIN_ERR_MAX] = "";
    block_header_t h5, h6;
    genesis_t *g = solo_node(&t, &key);
    ck_assert_msg(chain_open(&c, &KV_OPS, t.db, g, &key, NULL, err) == 0, "%s", err);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(chain_produce_block(c, T0_MS + 1000 * (uint64_t)(i + 1), NULL, 0, NULL, NULL, &h5, NULL, err), 0);
    ledger_tip_t before, after;
    chain_tip(c, &before);
    chain_close(c);

    c = NULL;
    ck_assert_msg(chain_open(&c, &KV_OPS, t.db, g, &key, NULL, err) == 0, "%s", err);
    chain_tip(c, &after);
    ck_assert_uint_eq(after.height, 5);
    ck_assert_uint_eq(after.time_ms, T0_MS + 5000);
    ck_assert_mem_eq(after.hash, before.hash, BLOCK_HASH_LEN);

    /* The next block follows block 5, and its time still rises. */
    ck_assert_int_eq(chain_produce_block(c, T0_MS, NULL, 0, NULL, NULL, &h6, NULL, err), 0);
    ck_assert_uint_eq(h6.height, 6);
    ck_assert_uint_eq(h6.time_ms, T0_MS + 5001);
    ck_assert_mem_eq(h6.prev_hash, before.hash, BLOCK_HASH_LEN);
    chain_close(c);
    free(g);
    tmp_ledger_cleanup(&t);
}
END_TEST

static void assert_other_genesis_refused(const char *chain_id, uint64_t time_ms)
{
    tmp_ledger_t t;
    keys_pair_t key;
    chain_t *c = NULL, *c2 = (chain_t *)&t; /* must stay as it is on failure */
    char err[CHAIN_ERR_MAX] = "";
    static const uint64_t p[] = {10};
    genesis_t *g = solo_node(&t, &key);
    ck_assert_int_eq(chain_open(&c, &KV_OPS, t.db, g, &key, NULL, err), 0);
    ck_assert_int_eq(chain_produce_block(c, T0_MS + 1000, NULL, 0, NULL, NULL, NULL, NULL, err), 0);
    chain_close(c);

    genesis_t *other = make_genesis(&t, &key, p, 1, chain_id, time_ms);
    ck_assert_int_ne(memcmp(other->hash, g->hash, BLOCK_HASH_LEN), 0);
    err[0] = '\0';
    ck_assert_int_eq(chain_open(&c2, &KV_OPS, t.db, other, &key, NULL, err), -ENOTUNIQ);
    ck_assert(c2 == (chain_t *)&t);
    ck_assert_msg(strstr(err, "ledger belongs to chain adnet-test-1") != NULL, "%s", err);
    ck_assert_msg(strstr(err, other->chain_id) != NULL, "%s", err);

    /* The ledger is left as it was: the right genesis still opens at height 1. */
    ck_assert_int_eq(chain_open(&c, &KV_OPS, t.db, g, &key, NULL, err), 0);
    ledger_tip_t tip;
    chain_tip(c, &tip);
    ck_assert_uint_eq(tip.height, 1);
    chain_close(c);
    free(g);
    free(other);
    tmp_ledger_cleanup(&t);
}

START_TEST(test_refuses_other_chain_id)
{
    assert_other_genesis_refused("adnet-test-2", T0_MS);
}
END_TEST

START_TEST(test_refuses_other_genesis_time)
{
    /* Same chain_id, other genesis: still another chain. */
    assert_other_genesis_refused("adnet-test-1", T0_MS + 1);
}
END_TEST

START_TEST(test_refuses_non_validator)
{
    tmp_ledger_t t;
    keys_pair_t key, stranger;
    chain_t *c = (chain_t *)&t;
    char err[CHAIN_ERR_MAX] = "";
    ck_assert_int_eq(keys_generate(&stranger, "stranger"), 0);
    genesis_t *g = solo_node(&t, &key);
    ck_assert_int_eq(chain_open(&c, &KV_OPS, t.db, g, &stranger, NULL, err), -EPERM);
    ck_assert(c == (chain_t *)&t);
    ck_assert_msg(strstr(err, "holds 0 of 10 voting power") != NULL, "%s", err);
    ck_assert_msg(strstr(err, "2/3") != NULL, "%s", err);
    free(g);
    tmp_ledger_cleanup(&t);
}
END_TEST

/* Open with our key holding powers[0] of the listed powers. */
static int open_with_powers(const uint64_t *powers, size_t n, char err[CHAIN_ERR_MAX])
{
    tmp_ledger_t t;
    tmp_ledger_init(&t, "chain");
    keys_pair_t key;
    chain_t *c = NULL;
    ck_assert_int_eq(keys_generate(&key, "node"), 0);
    genesis_t *g = make_genesis(&t, &key, powers, n, "adnet-test-1", T0_MS);
    err[0] = '\0';
    int r = chain_open(&c, &KV_OPS, t.db, g, &key, NULL, err);
    if (r == 0) {
        /* It can commit alone. */
        ck_assert_int_eq(chain_produce_block(c, T0_MS + 1, NULL, 0, NULL, NULL, NULL, NULL, err), 0);
        chain_close(c);
    }
    free(g);
    tmp_ledger_cleanup(&t);
    return r;
}

START_TEST(test_two_thirds_rule)
{
    char err[CHAIN_ERR_MAX];
    static const uint64_t ten_five[] = {10, 5};        /* 10/15 = 2/3 exactly */
    static const uint64_t ten_ten[] = {10, 10};        /* 1/2 */
    static const uint64_t thirds[] = {10, 10, 10};     /* 1/3 */
    static const uint64_t two_of_3[] = {20, 10};       /* 2/3 exactly */
    static const uint64_t just_under[] = {199, 101};   /* 597 < 600 */
    static const uint64_t big[] = {GENESIS_MAX_POWER, GENESIS_MAX_POWER / 2};
    static const uint64_t big_under[] = {GENESIS_MAX_POWER - 1, GENESIS_MAX_POWER / 2};

    ck_assert_msg(open_with_powers(ten_five, 2, err) == 0, "%s", err);
    ck_assert_int_eq(open_with_powers(ten_ten, 2, err), -EPERM);
    ck_assert_msg(strstr(err, "holds 10 of 20 voting power") != NULL, "%s", err);
    ck_assert_int_eq(open_with_powers(thirds, 3, err), -EPERM);
    ck_assert_msg(strstr(err, "holds 10 of 30 voting power") != NULL, "%s", err);
    ck_assert_msg(open_with_powers(two_of_3, 2, err) == 0, "%s", err);
    ck_assert_int_eq(open_with_powers(just_under, 2, err), -EPERM);
    /* Near the power cap the arithmetic must not overflow. */
    ck_assert_msg(open_with_powers(big, 2, err) == 0, "%s", err);
    ck_assert_int_eq(open_with_powers(big_under, 2, err), -EPERM);
}
END_TEST

START_TEST(test_genesis_init_failure)
{
    tmp_ledger_t t;
    keys_pair_t key;
    chain_t *c = NULL;
    char err[CHAIN_ERR_MAX] = "";
    genesis_t *g = solo_node(&t, &key);
    ck_assert_int_eq(chain_open(&c, &FAILING_OPS, t.db, g, &key, NULL, err), -EINVAL);
    ck_assert_ptr_null(c);
    ck_assert_str_eq(err, "genesis state refused by test");

    /* Nothing of the failed genesis was committed: a good open starts fresh. */
    ck_assert_msg(chain_open(&c, &KV_OPS, t.db, g, &key, NULL, err) == 0, "%s", err);
    ck_assert_int_eq(kv_count(c), 1);
    ledger_tip_t tip;
    chain_tip(c, &tip);
    ck_assert_uint_eq(tip.height, 0);
    chain_close(c);
    free(g);
    tmp_ledger_cleanup(&t);
}
END_TEST

/* ---- the transaction pipeline ---- */

static size_t make_tx(uint8_t *buf, const keys_pair_t *k, const char *chain_id, uint16_t kind,
                      const char *payload, uint64_t nonce, uint64_t fee, uint64_t expiry)
{
    tx_t t;
    size_t len;
    memset(&t, 0, sizeof t);
    snprintf(t.chain_id, sizeof t.chain_id, "%s", chain_id);
    t.kind = kind;
    memcpy(t.sender, k->pk, 32);
    t.fee = fee;
    t.nonce = nonce;
    t.expiry_height = expiry;
    t.payload = (const uint8_t *)payload;
    t.payload_len = strlen(payload);
    ck_assert_int_eq(tx_sign_encode(&t, k->sk, buf, TX_MAX_BYTES, &len), 0);
    return len;
}

/* Precheck, then admit; return the result and the reason code. */
static int submit(chain_t *c, mempool_t *pool, const uint8_t *buf, size_t len, reject_t *why)
{
    tx_t tx;
    uint8_t id[TX_ID_LEN];
    memset(why, 0, sizeof *why);
    int r = chain_precheck_tx(chain_genesis(c), buf, len, &tx, id, why);
    if (r < 0)
        return r;
    return chain_admit_tx(c, pool, &tx, id, buf, len, 1000, why);
}

typedef struct {
    int n;
    char codes[8][32];
} drops_t;

static void record_drop(void *ctx, const uint8_t id[TX_ID_LEN], const reject_t *why)
{
    drops_t *d = ctx;
    (void)id;
    if (d->n < 8)
        snprintf(d->codes[d->n++], 32, "%s", why->code);
}

static long long kv_get(chain_t *c, const char *k)
{
    return kv_query(c, "SELECT v FROM kv WHERE k = ?", k);
}

START_TEST(test_transactions_pipeline)
{
    tmp_ledger_t t;
    keys_pair_t key, other;
    chain_t *c = NULL;
    char err[CHAIN_ERR_MAX] = "";
    ck_assert_int_eq(keys_generate(&other, "other"), 0);
    genesis_t *g = solo_node(&t, &key);
    ck_assert_msg(chain_open(&c, &KV_OPS, t.db, g, &key, NULL, err) == 0, "%s", err);
    mempool_limits_t lim = { 100, 1 << 20, 100 };
    mempool_t *pool = mempool_new(&lim);
    static uint8_t b[12][TX_MAX_BYTES];
    size_t n[12];
    reject_t why;

    /* First half: refusals that need no state. */
    n[0] = make_tx(b[0], &key, "adnet-other", 1, "a=1", 0, 5, 100);
    ck_assert_int_lt(submit(c, pool, b[0], n[0], &why), 0);
    ck_assert_str_eq(why.code, "wrong_chain");
    n[0] = make_tx(b[0], &key, "adnet-test-1", 1, "a=1", 0, 0, 100);
    ck_assert_int_lt(submit(c, pool, b[0], n[0], &why), 0);
    ck_assert_str_eq(why.code, "fee_too_low");
    n[0] = make_tx(b[0], &key, "adnet-test-1", 1, "a=1", 0, 5, 100);
    b[0][n[0] - 1] ^= 1;
    ck_assert_int_lt(submit(c, pool, b[0], n[0], &why), 0);
    ck_assert_str_eq(why.code, "bad_signature");
    ck_assert_int_lt(submit(c, pool, b[0], n[0] - 3, &why), 0);
    ck_assert_str_eq(why.code, "malformed");
    ck_assert_ptr_nonnull(strstr(why.message, "signature"));
    /* Second half: state, expiry, kinds, the chain's own check. */
    n[0] = make_tx(b[0], &key, "adnet-test-1", 9, "a=1", 0, 5, 100);
    ck_assert_int_lt(submit(c, pool, b[0], n[0], &why), 0);
    ck_assert_str_eq(why.code, "unknown_kind");
    n[0] = make_tx(b[0], &key, "adnet-test-1", 1, "a=1", 0, 5, 0);
    ck_assert_int_lt(submit(c, pool, b[0], n[0], &why), 0);
    ck_assert_str_eq(why.code, "expired");
    n[0] = make_tx(b[0], &key, "adnet-test-1", 1, "bad", 0, 5, 100);
    ck_assert_int_lt(submit(c, pool, b[0], n[0], &why), 0);
    ck_assert_str_eq(why.code, "bad_amount");
    ck_assert_uint_eq(mempool_count(pool), 0);

    /* Admitted: two good, one that fails at apply, one deferred, one that
     * expires before its block. */
    n[1] = make_tx(b[1], &key, "adnet-test-1", 1, "a=5", 1, 5, 100);
    n[2] = make_tx(b[2], &other, "adnet-test-1", 1, "fail=9", 1, 2, 100);
    n[3] = make_tx(b[3], &other, "adnet-test-1", 1, "later", 2, 2, 100);
    n[4] = make_tx(b[4], &key, "adnet-test-1", 1, "b=7", 2, 3, 100);
    n[5] = make_tx(b[5], &key, "adnet-test-1", 1, "old=1", 3, 3, 1);
    for (int i = 1; i <= 5; i++)
        ck_assert_msg(submit(c, pool, b[i], n[i], &why) == 0, "tx %d: %s", i, why.message);
    ck_assert_int_lt(submit(c, pool, b[1], n[1], &why), 0);
    ck_assert_str_eq(why.code, "duplicate");
    ck_assert_uint_eq(mempool_count(pool), 5);

    /* Block 1 without the pool, so that tx 5 (expiry 1) expires. */
    ck_assert_int_eq(chain_produce_block(c, T0_MS + 1000, NULL, 0, NULL, NULL, NULL, NULL, err), 0);
    drops_t drops = { 0 };
    block_header_t h;
    chain_block_stats_t st;
    ck_assert_msg(chain_produce_block(c, T0_MS + 2000, pool, 100, record_drop, &drops, &h, &st,
                                      err) == 0, "%s", err);
    ck_assert_uint_eq(st.included, 2);
    ck_assert_uint_eq(st.dropped, 2);
    ck_assert_uint_eq(st.deferred, 1);
    ck_assert_uint_eq(st.fees, 8);
    ck_assert_int_eq(drops.n, 2);
    ck_assert_str_eq(drops.codes[0], "overspend");
    ck_assert_str_eq(drops.codes[1], "expired");
    ck_assert_uint_eq(h.tx_count, 2);
    ck_assert_int_eq(kv_get(c, "a"), 5);
    ck_assert_int_eq(kv_get(c, "b"), 7);
    ck_assert_int_eq(kv_get(c, "fail"), -1); /* the savepoint undid its write */
    ck_assert_uint_eq(mempool_count(pool), 1); /* the deferred one */
    uint8_t later_id[TX_ID_LEN];
    tx_id(b[3], n[3], later_id);
    ck_assert_mem_eq(mempool_first(pool)->id, later_id, TX_ID_LEN);

    /* The txs rows, in block order, and the root over their ids. */
    uint8_t ids[2][TX_ID_LEN], root[32];
    tx_id(b[1], n[1], ids[0]);
    tx_id(b[4], n[4], ids[1]);
    ck_assert_int_eq(tx_root((const uint8_t(*)[TX_ID_LEN])ids, 2, root), 0);
    ck_assert_mem_eq(h.txs_root, root, 32);
    sqlite3_stmt *q;
    ck_assert_int_eq(sqlite3_prepare_v2(ledger_db(chain_ledger(c)),
                                        "SELECT id, height, idx, kind, sender FROM txs ORDER BY idx",
                                        -1, &q, NULL), SQLITE_OK);
    for (int i = 0; i < 2; i++) {
        char hex[65];
        ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
        hex_encode(hex, ids[i], 32);
        ck_assert_str_eq((const char *)sqlite3_column_text(q, 0), hex);
        ck_assert_int_eq(sqlite3_column_int(q, 1), 2);
        ck_assert_int_eq(sqlite3_column_int(q, 2), i);
        ck_assert_str_eq((const char *)sqlite3_column_text(q, 3), "set");
        hex_encode(hex, key.pk, 32);
        ck_assert_str_eq((const char *)sqlite3_column_text(q, 4), hex);
    }
    ck_assert_int_eq(sqlite3_step(q), SQLITE_DONE);
    sqlite3_finalize(q);

    /* A committed transaction cannot be replayed. */
    ck_assert_int_lt(submit(c, pool, b[1], n[1], &why), 0);
    ck_assert_str_eq(why.code, "replay");

    mempool_free(pool);
    chain_close(c);
    free(g);
    tmp_ledger_cleanup(&t);
}
END_TEST

/* A block whose sealing fails leaves the ledger, the state and the
 * included transactions as they were. */
static int broken_root(void *state, sql_t *sql, uint8_t out[BLOCK_HASH_LEN])
{
    (void)state, (void)sql, (void)out;
    return -EIO;
}

START_TEST(test_failed_block_changes_nothing)
{
    tmp_ledger_t t;
    keys_pair_t key;
    chain_t *c = NULL;
    char err[CHAIN_ERR_MAX] = "";
    genesis_t *g = solo_node(&t, &key);
    chain_ops_t ops = KV_OPS;
    ck_assert_msg(chain_open(&c, &ops, t.db, g, &key, NULL, err) == 0, "%s", err);
    mempool_limits_t lim = { 10, 1 << 20, 10 };
    mempool_t *pool = mempool_new(&lim);
    static uint8_t b[TX_MAX_BYTES];
    reject_t why;
    size_t n = make_tx(b, &key, "adnet-test-1", 1, "x=3", 0, 1, 100);
    ck_assert_int_eq(submit(c, pool, b, n, &why), 0);
    ops.state_root = broken_root; /* chain_t keeps a pointer to ops */
    ck_assert_int_lt(chain_produce_block(c, T0_MS + 10, pool, 10, NULL, NULL, NULL, NULL, err), 0);
    ck_assert_ptr_nonnull(strstr(err, "block 1"));
    ledger_tip_t tip;
    chain_tip(c, &tip);
    ck_assert_uint_eq(tip.height, 0);
    ck_assert_int_eq(kv_get(c, "x"), -1);
    ck_assert_uint_eq(mempool_count(pool), 1);
    ops.state_root = kv_state_root;
    ck_assert_msg(chain_produce_block(c, T0_MS + 20, pool, 10, NULL, NULL, NULL, NULL, err) == 0,
                  "%s", err);
    ck_assert_int_eq(kv_get(c, "x"), 3);
    ck_assert_uint_eq(mempool_count(pool), 0);
    mempool_free(pool);
    chain_close(c);
    free(g);
    tmp_ledger_cleanup(&t);
}
END_TEST

static void count_progress(void *ctx, uint64_t done, uint64_t total)
{
    uint64_t *p = ctx; /* calls, last done, its total */
    p[0]++;
    p[1] = done;
    p[2] = total;
}

/* g names n balances (owner i, ADN, i + 1) in a balances file beside t's
 * genesis, written there; save g. */
static void file_balances(const tmp_ledger_t *t, genesis_t *g, uint32_t n)
{
    char path[TMP_PATH_MAX];
    genesis_balance_t *b = calloc(n, sizeof *b);
    ck_assert_ptr_nonnull(b);
    for (uint32_t i = 0; i < n; i++) {
        b[i].owner[0] = (uint8_t)(i >> 24), b[i].owner[1] = (uint8_t)(i >> 16);
        b[i].owner[2] = (uint8_t)(i >> 8), b[i].owner[3] = (uint8_t)i;
        strcpy(b[i].asset, "ADN");
        b[i].amount = i + 1;
    }
    ck_assert_int_eq(tmp_join(path, sizeof path, t->dir, GENESIS_BALANCES_FILE), 0);
    unlink(path);
    ck_assert_int_eq(genesis_balances_write(path, b, n, 0, g->balances_hash), 0);
    free(b);
    g->balances = NULL;
    g->n_balances = n;
    strcpy(g->balances_file, GENESIS_BALANCES_FILE);
    gen_save(g, t->genesis);
}

/* A genesis of 20000 balances in a file: chain_open writes them in one
 * transaction and passes progress on; a reopen reads none of them. */
START_TEST(test_open_large_genesis)
{
    enum { N = 20000 };
    tmp_ledger_t t;
    keys_pair_t key;
    chain_t *c = NULL;
    char err[CHAIN_ERR_MAX] = "", path[TMP_PATH_MAX];
    uint64_t calls[3] = {0, 0, 0};
    genesis_progress_t progress = {count_progress, calls};
    genesis_t *g = solo_node(&t, &key);
    file_balances(&t, g, N);
    ck_assert_msg(chain_open(&c, &KV_OPS, t.db, g, &key, &progress, err) == 0, "%s", err);
    ck_assert_int_eq(kv_count(c), N);
    ck_assert_uint_eq(calls[0], 2); /* at GENESIS_PROGRESS_EVERY, and at the end */
    ck_assert_uint_eq(calls[1], N);
    ck_assert_uint_eq(calls[2], N);
    chain_close(c);
    ck_assert_int_eq(tmp_join(path, sizeof path, t.dir, GENESIS_BALANCES_FILE), 0);
    unlink(path);
    calls[0] = 0;
    ck_assert_msg(chain_open(&c, &KV_OPS, t.db, g, &key, &progress, err) == 0, "%s", err);
    ck_assert_uint_eq(calls[0], 0);
    ck_assert_int_eq(kv_count(c), N);
    chain_close(c);
    free(g);
    tmp_ledger_cleanup(&t);
}
END_TEST

/* A bad line refuses the genesis with its file and line, and leaves no
 * ledger that passes for made: the next open with a good genesis starts
 * afresh. */
START_TEST(test_open_refuses_bad_balances)
{
    tmp_ledger_t t;
    keys_pair_t key;
    chain_t *c = NULL;
    char err[CHAIN_ERR_MAX] = "", path[TMP_PATH_MAX], line[200], text[400];
    genesis_t *g = solo_node(&t, &key);
    snprintf(line, sizeof line, "{\"amount\":5,\"asset\":\"ADN\",\"owner\":\"%064d\"}\n", 0);
    snprintf(text, sizeof text, "%s%s", line, line);
    ck_assert_int_eq(tmp_join(path, sizeof path, t.dir, GENESIS_BALANCES_FILE), 0);
    file_write(path, text);
    crypto_generichash(g->balances_hash, BLOCK_HASH_LEN, (const unsigned char *)text,
                       strlen(text), NULL, 0);
    g->balances = NULL;
    g->n_balances = 2;
    strcpy(g->balances_file, GENESIS_BALANCES_FILE);
    gen_save(g, t.genesis);
    ck_assert_int_eq(chain_open(&c, &KV_OPS, t.db, g, &key, NULL, err), -EINVAL);
    ck_assert_ptr_null(c);
    ck_assert_msg(strstr(err, "balances.jsonl:2: duplicate owner and asset"), "%s", err);

    file_balances(&t, g, 3);
    ck_assert_msg(chain_open(&c, &KV_OPS, t.db, g, &key, NULL, err) == 0, "%s", err);
    ck_assert_int_eq(kv_count(c), 3);
    chain_close(c);
    free(g);
    tmp_ledger_cleanup(&t);
}
END_TEST

/* The signing guard of chain_set_signed: no block at or below the height
 * the commit record names, unless it is that very block; nothing is
 * written when it refuses, and each block moves the mark up. */
START_TEST(test_signed_height_is_never_signed_again)
{
    tmp_ledger_t t;
    keys_pair_t key;
    chain_t *c = NULL;
    char err[CHAIN_ERR_MAX] = "";
    block_header_t h;
    ledger_tip_t tip;
    commitrec_t rec;
    genesis_t *g = solo_node(&t, &key);
    ck_assert_msg(chain_open(&c, &KV_OPS, t.db, g, &key, NULL, err) == 0, "%s", err);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(chain_produce_block(c, T0_MS + 1000 * (uint64_t)(i + 1), NULL, 0, NULL,
                                             NULL, &h, NULL, err), 0);
    /* The record says this validator signed up to height 5 (a ledger
     * restored behind it): heights 4 and 5 are not signed again. */
    chain_tip(c, &tip);
    tip.height = 5;
    memset(tip.hash, 0x55, BLOCK_HASH_LEN);
    commitrec_from_tip(&rec, g->chain_id, g->hash, &tip);
    chain_set_signed(c, &rec);
    ck_assert_int_eq(chain_produce_block(c, T0_MS + 4000, NULL, 0, NULL, NULL, &h, NULL, err),
                     -EEXIST);
    ck_assert_msg(strstr(err, "refusing to sign block 4: this validator signed up to height 5")
                  != NULL, "%s", err);
    chain_tip(c, &tip);
    ck_assert_uint_eq(tip.height, 3);
    ck_assert_int_eq(ledger_tip(chain_ledger(c), &tip), 0);
    ck_assert_uint_eq(tip.height, 3);

    /* A record at the tip: the next height is signed, and the mark follows. */
    chain_tip(c, &tip);
    commitrec_from_tip(&rec, g->chain_id, g->hash, &tip);
    chain_set_signed(c, &rec);
    ck_assert_int_eq(chain_produce_block(c, T0_MS + 5000, NULL, 0, NULL, NULL, &h, NULL, err), 0);
    ck_assert_uint_eq(h.height, 4);
    ck_assert_int_eq(chain_produce_block(c, T0_MS + 6000, NULL, 0, NULL, NULL, &h, NULL, err), 0);
    ck_assert_uint_eq(h.height, 5);
    chain_close(c);
    free(g);
    tmp_ledger_cleanup(&t);
}
END_TEST

/* Admission against a ledger another process holds locked is "ledger_busy"
 * (-EBUSY), and a busy ledger delays the block without touching the pool. */
START_TEST(test_busy_ledger_delays)
{
    tmp_ledger_t t;
    keys_pair_t key;
    chain_t *c = NULL;
    char err[CHAIN_ERR_MAX] = "";
    genesis_t *g = solo_node(&t, &key);
    ck_assert_msg(chain_open(&c, &KV_OPS, t.db, g, &key, NULL, err) == 0, "%s", err);
    ledger_set_busy_timeout(chain_ledger(c), 0);
    ck_assert_int_eq(chain_produce_block(c, T0_MS + 1000, NULL, 0, NULL, NULL, NULL, NULL, err), 0);
    sqlite3 *other = db_hold_write_lock(t.db);
    ck_assert_int_eq(chain_produce_block(c, T0_MS + 2000, NULL, 0, NULL, NULL, NULL, NULL, err),
                     -EBUSY);
    ck_assert_msg(strstr(err, "database is locked") != NULL, "%s", err);
    ledger_tip_t tip;
    chain_tip(c, &tip);
    ck_assert_uint_eq(tip.height, 1);
    db_release_lock(other);
    ck_assert_int_eq(chain_produce_block(c, T0_MS + 3000, NULL, 0, NULL, NULL, NULL, NULL, err), 0);
    chain_tip(c, &tip);
    ck_assert_uint_eq(tip.height, 2);
    chain_close(c);
    free(g);
    tmp_ledger_cleanup(&t);
}
END_TEST

/* ---- the mempool's copy in the ledger ---- */

static const ledger_migration_t KV_POOL_MIGRATIONS[] = {
    {1, LEDGER_SQL_BASE_V1},
    {2, "CREATE TABLE kv(k TEXT PRIMARY KEY, v INTEGER);"},
    {3, POOLTAB_SQL_V1},
};
static const ledger_schema_t KV_POOL_SCHEMA = {KV_POOL_MIGRATIONS, 3};

/* Admit buf and save it as the worker does after an admission batch. */
static int submit_saved(chain_t *c, mempool_t *pool, const uint8_t *buf, size_t len,
                        reject_t *why)
{
    uint8_t id[TX_ID_LEN];
    const uint8_t *ids[1] = {id}, *bytes[1] = {buf};
    int r = submit(c, pool, buf, len, why);
    tx_id(buf, len, id);
    return r < 0 ? r : chain_pool_save(c, pool, 1, ids, bytes, &len, 1000, why);
}

static pooltab_status_t status_of(chain_t *c, const uint8_t *buf, size_t len)
{
    uint8_t id[TX_ID_LEN];
    pooltab_status_t st;
    tx_id(buf, len, id);
    ck_assert_int_eq(pooltab_status(ledger_sql(chain_ledger(c)), id, &st), 0);
    return st;
}

START_TEST(test_mempool_saved_and_reloaded)
{
    tmp_ledger_t t;
    keys_pair_t key;
    chain_t *c = NULL;
    char err[CHAIN_ERR_MAX] = "";
    chain_ops_t ops = KV_OPS;
    ops.schema = &KV_POOL_SCHEMA;
    genesis_t *g = solo_node(&t, &key);
    mempool_limits_t lim = {100, 1 << 20, 100};
    mempool_t *pool = mempool_new(&lim);
    static uint8_t b[5][TX_MAX_BYTES];
    size_t n[5], kept = 9, dropped = 9;
    reject_t why;
    drops_t drops = {0};

    ck_assert_msg(chain_open(&c, &ops, t.db, g, &key, NULL, err) == 0, "%s", err);
    ck_assert(chain_pool_kept(c));
    n[0] = make_tx(b[0], &key, "adnet-test-1", 1, "a=1", 0, 5, 100);
    n[1] = make_tx(b[1], &key, "adnet-test-1", 1, "fail=1", 1, 5, 100);
    n[2] = make_tx(b[2], &key, "adnet-test-1", 1, "later=1", 2, 5, 100);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(submit_saved(c, pool, b[i], n[i], &why), 0);
    ck_assert_int_eq(kv_query(c, "SELECT count(*) FROM mempool", NULL), 3);
    /* A block: the first committed (its copy gone), the second refused
     * (moved to tx_dropped), the third deferred (still pending). */
    ck_assert_int_eq(chain_produce_block(c, 5000, pool, 100, record_drop, &drops, NULL, NULL,
                                         err), 0);
    ck_assert_int_eq(status_of(c, b[0], n[0]).state, POOLTAB_UNKNOWN);
    pooltab_status_t st = status_of(c, b[1], n[1]);
    ck_assert_int_eq(st.state, POOLTAB_DROPPED);
    ck_assert_str_eq(st.code, "overspend");
    ck_assert_uint_eq(st.height, 1);
    ck_assert_int_eq(status_of(c, b[2], n[2]).state, POOLTAB_PENDING);
    /* A transaction saved that has expired by the next start. */
    uint8_t id3[TX_ID_LEN];
    n[3] = make_tx(b[3], &key, "adnet-test-1", 1, "x=1", 3, 5, 1);
    tx_id(b[3], n[3], id3);
    ck_assert_int_eq(pooltab_put(ledger_sql(chain_ledger(c)), chain_pool_take_seq(c, 1), id3, 1000,
                                 b[3], n[3]), 0);

    /* A crash: the pool in memory is gone; the next start admits again. */
    chain_close(c);
    mempool_free(pool);
    pool = mempool_new(&lim);
    ck_assert_msg(chain_open(&c, &ops, t.db, g, &key, NULL, err) == 0, "%s", err);
    drops.n = 0;
    ck_assert_msg(chain_pool_reload(c, pool, 6000, record_drop, &drops, &kept, &dropped, err) == 0,
                  "%s", err);
    ck_assert_uint_eq(kept, 1);
    ck_assert_uint_eq(dropped, 1);
    ck_assert_int_eq(drops.n, 1);
    ck_assert_str_eq(drops.codes[0], "expired");
    ck_assert_uint_eq(mempool_count(pool), 1);
    ck_assert_int_eq(status_of(c, b[3], n[3]).state, POOLTAB_DROPPED);
    ck_assert_int_eq(status_of(c, b[2], n[2]).state, POOLTAB_PENDING);

    /* A ledger another process holds: the save is refused, nothing kept. */
    sqlite3 *other = NULL;
    ck_assert_int_eq(sqlite3_open(t.db, &other), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    ledger_set_busy_timeout(chain_ledger(c), 0);
    n[4] = make_tx(b[4], &key, "adnet-test-1", 1, "y=1", 3, 5, 100);
    uint8_t id4[TX_ID_LEN];
    const uint8_t *ids[1] = {id4}, *bytes[1] = {b[4]};
    tx_id(b[4], n[4], id4);
    ck_assert_int_eq(chain_pool_save(c, pool, 1, ids, bytes, &n[4], 7000, &why), -EBUSY);
    ck_assert_str_eq(why.code, "ledger_busy");
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(other);
    ck_assert_int_eq(status_of(c, b[4], n[4]).state, POOLTAB_UNKNOWN);

    /* Without the tables (KV_OPS), nothing is saved and nothing fails. */
    chain_close(c);
    mempool_free(pool);
    free(g);
    tmp_ledger_cleanup(&t);
    g = solo_node(&t, &key);
    ck_assert_msg(chain_open(&c, &KV_OPS, t.db, g, &key, NULL, err) == 0, "%s", err);
    ck_assert(!chain_pool_kept(c));
    ck_assert_int_eq(chain_pool_save(c, NULL, 1, ids, bytes, &n[4], 7000, &why), 0);
    ck_assert_int_eq(chain_pool_reload(c, NULL, 7000, NULL, NULL, &kept, &dropped, err), 0);
    ck_assert_uint_eq(kept + dropped, 0);
    chain_close(c);
    free(g);
    tmp_ledger_cleanup(&t);
}
END_TEST


/* ---- checking a block another validator proposes ---- */

static const ledger_migration_t KV_GOV_MIGRATIONS[] = {
    {1, LEDGER_SQL_BASE_V1},
    {2, "CREATE TABLE kv(k TEXT PRIMARY KEY, v INTEGER);"},
    {3, GOVTAB_SQL_V1},
};
static const ledger_schema_t KV_GOV_SCHEMA = {KV_GOV_MIGRATIONS, 3};

/* A gov_attest for a proposal nobody made, signed by the one governor. */
static size_t forged_attest(uint8_t *buf, const keys_pair_t *k, const char *chain_id)
{
    static gov_payload_t pl;
    static uint8_t payload[TX_PAYLOAD_MAX];
    size_t plen = 0, len = 0;
    uint8_t action[8] = {1, 2, 3};
    tx_t t;
    memset(&pl, 0, sizeof pl);
    pl.kind = GOV_KIND_ATTEST;
    memset(pl.id, 0x77, sizeof pl.id);
    pl.attestation.n = 1;
    pl.attestation.expiry_height = 100;
    gov_attest_sign(chain_id, action, sizeof action, 0, 100, k->pk, k->sk,
                    &pl.attestation.sigs[0]);
    ck_assert_int_eq(gov_payload_encode(&pl, payload, sizeof payload, &plen), 0);
    memset(&t, 0, sizeof t);
    snprintf(t.chain_id, sizeof t.chain_id, "%s", chain_id);
    t.kind = GOV_KIND_ATTEST;
    memcpy(t.sender, k->pk, 32);
    t.expiry_height = 100;
    t.payload = payload;
    t.payload_len = plen;
    ck_assert_int_eq(tx_sign_encode(&t, k->sk, buf, TX_MAX_BYTES, &len), 0);
    return len;
}

/* A block checked before it is built has the roots the block then
 * commits with; a check commits nothing; a block with a refused
 * transaction (the chain's, or a governance step) is invalid and names it. */
START_TEST(test_check_block)
{
    tmp_ledger_t t;
    keys_pair_t key;
    chain_t *c = NULL;
    char err[CHAIN_ERR_MAX] = "";
    static uint8_t a[TX_MAX_BYTES], b[TX_MAX_BYTES], bad[TX_MAX_BYTES], gov[TX_MAX_BYTES];
    chain_ops_t ops = KV_OPS;
    chain_block_check_t out;
    block_header_t h;
    reject_t why;
    ops.schema = &KV_GOV_SCHEMA;
    tmp_ledger_init(&t, "chain");
    ck_assert_int_eq(keys_generate(&key, "node"), 0);
    genesis_t *g = solo_genesis(&t, &key);
    gen_add_governor(g, key.pk);
    ck_assert_msg(chain_open(&c, &ops, t.db, g, &key, NULL, err) == 0, "%s", err);
    mempool_limits_t lim = { 100, 1 << 20, 100 };
    mempool_t *pool = mempool_new(&lim);
    size_t na = make_tx(a, &key, g->chain_id, 1, "x=5", 1, 1, 50);
    size_t nb = make_tx(b, &key, g->chain_id, 1, "y=6", 2, 1, 50);
    size_t nbad = make_tx(bad, &key, g->chain_id, 1, "fail", 3, 1, 50);
    size_t ngov = forged_attest(gov, &key, g->chain_id);

    const uint8_t *txs[] = {a, b};
    size_t lens[] = {na, nb};
    ck_assert_msg(chain_check_block(c, txs, lens, 2, 2000, &out, &why) == 0, "%s", why.message);
    ck_assert_uint_eq(out.height, 1);
    ck_assert_int_eq(kv_count(c), 1); /* the genesis balance only: nothing committed */
    ck_assert_int_eq(submit(c, pool, a, na, &why), 0);
    ck_assert_int_eq(submit(c, pool, b, nb, &why), 0);
    ck_assert_msg(chain_produce_block(c, 2000, pool, 10, NULL, NULL, &h, NULL, err) == 0, "%s",
                  err);
    ck_assert_mem_eq(h.state_root, out.state_root, BLOCK_HASH_LEN);
    ck_assert_mem_eq(h.txs_root, out.txs_root, BLOCK_HASH_LEN);

    /* The same transactions again: replays. */
    ck_assert_int_eq(chain_check_block(c, txs, lens, 2, 3000, &out, &why), -EEXIST);
    ck_assert_str_eq(why.code, "invalid_block");
    ck_assert_str_eq(out.bad_code, "replay");
    const uint8_t *txs2[] = {bad};
    size_t lens2[] = {nbad};
    ck_assert_int_lt(chain_check_block(c, txs2, lens2, 1, 3000, &out, &why), 0);
    ck_assert_str_eq(out.bad_code, "overspend");
    ck_assert_int_eq(kv_get(c, "fail"), -1); /* its write was rolled back */
    const uint8_t *txs3[] = {gov};
    size_t lens3[] = {ngov};
    ck_assert_int_lt(chain_check_block(c, txs3, lens3, 1, 3000, &out, &why), 0);
    ck_assert_str_eq(out.bad_code, "unknown_proposal");
    ck_assert_msg(strstr(why.message, "gov_attest"), "%s", why.message);
    ledger_tip_t tip;
    chain_tip(c, &tip);
    ck_assert_uint_eq(tip.height, 1);
    mempool_free(pool);
    chain_close(c);
    free(g);
    tmp_ledger_cleanup(&t);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "chain", .tcase = "core", .timeout_s = 30};
    return suite_build(&spec, SUITE_TESTS(
        test_open_creates_ledger, test_produce_blocks, test_reopen_resumes,
        test_refuses_other_chain_id, test_refuses_other_genesis_time, test_refuses_non_validator,
        test_two_thirds_rule, test_genesis_init_failure, test_transactions_pipeline,
        test_failed_block_changes_nothing, test_open_large_genesis,
        test_open_refuses_bad_balances, test_signed_height_is_never_signed_again,
        test_busy_ledger_delays, test_mempool_saved_and_reloaded, test_check_block));
}
