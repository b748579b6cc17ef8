/* common/store/prune.c: the floor, bounded steps, the replay guard, the
 * lowest kept height. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include "common/store/ledger.h"
#include "common/store/prune.h"
#include "proto/tx.h"
#include "tests/lib/blocks.h"
#include "tests/lib/db.h"
#include "tests/lib/suite.h"
#include "tests/lib/tmp.h"

Suite *test_suite(void);

static const ledger_migration_t BASE_ONLY[] = {{1, LEDGER_SQL_BASE_V1}};
static const ledger_schema_t SCHEMA1 = {BASE_ONLY, 1};

#define TXS_PER_BLOCK 3
/* Rows of one block: its txs, its two commit signatures, its row. */
#define ROWS_PER_BLOCK (TXS_PER_BLOCK + 2 + 1)

/* Commit blocks 1..n, each with TXS_PER_BLOCK signed transactions that
 * expire at expiry, except block late_at whose last one expires at late. */
static void put_blocks(ledger_t *l, uint64_t n, uint64_t expiry, uint64_t late_at, uint64_t late)
{
    uint8_t pk[32], sk[64], prev[BLOCK_HASH_LEN], hash[BLOCK_HASH_LEN];
    uint8_t buf[TX_MAX_BYTES], id[32];
    block_header_t h;
    commit_cert_t c;
    size_t len;

    crypto_sign_keypair(pk, sk);
    memset(prev, BLOCKS_GENESIS_BYTE, sizeof prev);
    for (uint64_t height = 1; height <= n; height++) {
        blocks_fake(height, prev, 1000 * height, TXS_PER_BLOCK, &h, hash, &c);
        ck_assert_int_eq(ledger_begin(l), 0);
        ck_assert_msg(ledger_put_block(l, &h, hash, &c) == 0, "%s", ledger_errmsg(l));
        for (uint32_t i = 0; i < TXS_PER_BLOCK; i++) {
            tx_t tx = {.kind = 1, .fee = 1, .nonce = height * 10 + i, .expiry_height = expiry};
            snprintf(tx.chain_id, sizeof tx.chain_id, "adnet-test");
            memcpy(tx.sender, pk, sizeof pk);
            if (height == late_at && i == TXS_PER_BLOCK - 1)
                tx.expiry_height = late;
            ck_assert_int_eq(tx_sign_encode(&tx, sk, buf, sizeof buf, &len), 0);
            crypto_generichash(id, sizeof id, buf, len, NULL, 0);
            ck_assert_msg(ledger_put_tx(l, id, height, i, "transfer", pk, buf, len) == 0, "%s",
                          ledger_errmsg(l));
        }
        ck_assert_int_eq(ledger_commit(l), 0);
        memcpy(prev, hash, sizeof prev);
    }
}

static ledger_t *open_ledger(tmp_ledger_t *p)
{
    char err[LEDGER_ERR_MAX] = "";
    ledger_t *l = NULL;
    tmp_ledger_init(p, "prune");
    ck_assert_msg(ledger_open(&l, p->db, &SCHEMA1, err) == 0, "%s", err);
    return l;
}

static void close_ledger(ledger_t *l, const tmp_ledger_t *p)
{
    ledger_close(l);
    tmp_ledger_cleanup(p);
}

/* One prune_step in a transaction of its own; the rows it deleted. */
static size_t step(ledger_t *l, uint64_t keep_from, uint64_t next, size_t budget)
{
    size_t n = 12345;
    ck_assert_int_eq(ledger_begin(l), 0);
    ck_assert_msg(prune_step(ledger_sql(l), keep_from, next, budget, &n) == 0, "%s",
                  ledger_errmsg(l));
    ck_assert_int_eq(ledger_commit(l), 0);
    ck_assert_uint_le(n, budget);
    return n;
}

static uint64_t lowest(ledger_t *l)
{
    uint64_t v = 0;
    ck_assert_int_eq(prune_lowest_height(ledger_sql(l), &v), 0);
    return v;
}

static int rows(ledger_t *l, const char *table, uint64_t below)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s WHERE height < %llu", table,
             (unsigned long long)below);
    return db_int(ledger_db(l), sql);
}

START_TEST(test_floor)
{
    ck_assert_uint_eq(prune_floor(500, 0, 1000), 0);    /* retain 0 keeps all */
    ck_assert_uint_eq(prune_floor(100, 100, 1000), 0);  /* not above retain yet */
    ck_assert_uint_eq(prune_floor(500, 100, 1000), 401); /* the last 100: 401..500 */
    ck_assert_uint_eq(prune_floor(500, 100, 300), 300); /* the trees still serve 300.. */
    ck_assert_uint_eq(prune_floor(500, 100, 0), 0);     /* trees keep all: blocks too */
    ck_assert_uint_eq(prune_floor(500, 1, 1000), 500);  /* never the tip */
}
END_TEST

START_TEST(test_budget_and_idempotence)
{
    tmp_ledger_t p;
    ledger_t *l = open_ledger(&p);

    ck_assert_uint_eq(lowest(l), 0); /* no blocks */
    put_blocks(l, 50, 10, 0, 0);
    ck_assert_uint_eq(lowest(l), 1); /* nothing pruned: the first block */

    /* 10 rows: block 1 whole, then block 2's txs and one signature. */
    ck_assert_uint_eq(step(l, 40, 51, 10), 10);
    ck_assert_int_eq(db_int(ledger_db(l), "SELECT min(height) FROM blocks"), 2);
    ck_assert_uint_eq(lowest(l), 3); /* block 2 is half gone: it reads as pruned */

    size_t total = 10, n;
    while ((n = step(l, 40, 51, 10)) > 0)
        total += n;
    ck_assert_uint_eq(total, 39 * ROWS_PER_BLOCK);
    ck_assert_uint_eq(lowest(l), 40);
    ck_assert_int_eq(rows(l, "blocks", 40) + rows(l, "txs", 40) + rows(l, "commits", 40), 0);
    ck_assert_int_eq(db_int(ledger_db(l), "SELECT count(*) FROM blocks"), 11); /* 40..50 */
    ck_assert_int_eq(db_int(ledger_db(l), "SELECT count(*) FROM txs"), 11 * TXS_PER_BLOCK);

    /* Again, or with a lower floor: nothing changes. */
    ck_assert_uint_eq(step(l, 40, 51, 1000), 0);
    ck_assert_uint_eq(step(l, 10, 51, 1000), 0);
    ck_assert_uint_eq(lowest(l), 40);

    ledger_tip_t tip;
    ck_assert_int_eq(ledger_tip(l, &tip), 0);
    ck_assert_uint_eq(tip.height, 50);
    close_ledger(l, &p);
}
END_TEST

/* Through prune_floor, as a block commit does: never the trees' oldest
 * height or above, never the tip. */
START_TEST(test_floor_bounds_the_step)
{
    tmp_ledger_t p;
    ledger_t *l = open_ledger(&p);

    put_blocks(l, 50, 10, 0, 0);
    step(l, prune_floor(50, 10, 30), 51, 100000); /* the trees serve 30.. */
    ck_assert_uint_eq(lowest(l), 30);
    step(l, prune_floor(50, 1, 100), 51, 100000); /* retain 1: the tip alone */
    ck_assert_uint_eq(lowest(l), 50);
    ck_assert_int_eq(db_int(ledger_db(l), "SELECT count(*) FROM blocks"), 1);
    ck_assert_int_eq(db_int(ledger_db(l), "SELECT count(*) FROM commits"), 2);
    close_ledger(l, &p);
}
END_TEST

/* A block with a transaction that could still be included again waits:
 * its txs row is what refuses the replay. */
START_TEST(test_replayable_block_waits)
{
    tmp_ledger_t p;
    ledger_t *l = open_ledger(&p);

    put_blocks(l, 30, 10, 5, 200);
    step(l, 20, 100, 100000);
    ck_assert_uint_eq(lowest(l), 5);
    ck_assert_int_eq(db_int(ledger_db(l), "SELECT count(*) FROM txs WHERE height = 5"),
                     TXS_PER_BLOCK);
    step(l, 20, 200, 100000); /* still includable at 200 */
    ck_assert_uint_eq(lowest(l), 5);
    step(l, 20, 201, 100000); /* expired: it goes */
    ck_assert_uint_eq(lowest(l), 20);
    close_ledger(l, &p);
}
END_TEST

/* A stored transaction that does not decode stops pruning with a message. */
START_TEST(test_bad_body_is_an_error)
{
    tmp_ledger_t p;
    ledger_t *l = open_ledger(&p);
    size_t n = 0;

    put_blocks(l, 5, 10, 0, 0);
    ck_assert_int_eq(sqlite3_exec(ledger_db(l), "UPDATE txs SET body = x'00' WHERE height = 1",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    ck_assert_int_eq(ledger_begin(l), 0);
    ck_assert_int_eq(prune_step(ledger_sql(l), 4, 100, 100, &n), -EBADMSG);
    ck_assert_msg(strstr(ledger_errmsg(l), "pruning block 1") != NULL, "%s", ledger_errmsg(l));
    ledger_rollback(l);
    ck_assert_uint_eq(lowest(l), 1);
    close_ledger(l, &p);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "prune", .tcase = "core", .timeout_s = 60};
    return suite_build(&spec, SUITE_TESTS(test_floor, test_budget_and_idempotence,
                                          test_floor_bounds_the_step,
                                          test_replayable_block_waits,
                                          test_bad_body_is_an_error));
}
