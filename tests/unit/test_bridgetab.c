/* The table of bridge transfers arriving (common/store/bridgetab.c), on
 * a real ledger: a recorded transfer reads back byte for byte (ids and
 * keys as hex columns an operator can read); the same id again is refused
 * whatever its state; pending ones come oldest first, at most max; minted
 * and refused ones leave the pending set; the per-asset totals follow. */
#include <check.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "common/base/hex.h"
#include "common/store/bridgetab.h"
#include "common/store/ledger.h"
#include "tests/lib/db.h"
#include "tests/lib/rng.h"
#include "tests/lib/suite.h"
#include "tests/lib/tmp.h"

Suite *test_suite(void);

static const ledger_migration_t MIGRATIONS[] = {{1, LEDGER_SQL_BASE_V1}, {2, BRIDGETAB_SQL_V1}};
static const ledger_schema_t SCHEMA = {MIGRATIONS, 2};

typedef struct {
    int n;
    uint64_t seq[8];
    bridge_transfer_t t[8];
} seen_t;

static int collect(void *ctx, uint64_t seq, const bridge_transfer_t *t)
{
    seen_t *s = ctx;
    ck_assert_int_lt(s->n, 8);
    s->seq[s->n] = seq;
    s->t[s->n++] = *t;
    return 0;
}

typedef struct {
    char asset[8][17];
    uint64_t minted[8], pending[8];
    int n;
} totals_t;

static int total(void *ctx, const char *asset, uint64_t minted, uint64_t pending)
{
    totals_t *t = ctx;
    snprintf(t->asset[t->n], sizeof t->asset[t->n], "%s", asset);
    t->minted[t->n] = minted;
    t->pending[t->n++] = pending;
    return 0;
}

static void transfer(bridge_transfer_t *t, const char *asset, uint64_t amount)
{
    memset(t, 0, sizeof *t);
    rng_bytes(t->id, sizeof t->id);
    rng_bytes(t->recipient, sizeof t->recipient);
    snprintf(t->asset, sizeof t->asset, "%s", asset);
    t->amount = amount;
}

START_TEST(test_record_mint_refuse)
{
    tmp_ledger_t p;
    ledger_t *l = NULL;
    char err[LEDGER_ERR_MAX];
    bridge_transfer_t a, b, c;
    seen_t s = {0};
    totals_t tt = {0};
    rng_seed(3);
    tmp_ledger_init(&p, "bridgetab");
    ck_assert_msg(ledger_open(&l, p.db, &SCHEMA, err) == 0, "%s", err);
    sql_t *q = ledger_sql(l);
    ck_assert_int_eq(bridgetab_present(q), 1);
    transfer(&a, "ADN", 100);
    transfer(&b, "ADN", 7);
    transfer(&c, "USD", 50);
    ck_assert_int_eq(bridgetab_put(q, "alpha", 4, &a, 1, 1000), 0);
    ck_assert_int_eq(bridgetab_put(q, "alpha", 5, &b, 1, 1000), 0);
    ck_assert_int_eq(bridgetab_put(q, "alpha", 5, &c, 3, 1000), 0);
    ck_assert_int_eq(bridgetab_put(q, "alpha", 9, &a, 1, 2000), -EEXIST); /* a replay */

    /* Readable columns, the same bytes back. */
    char hex[65], sql[200];
    hex_encode(hex, a.recipient, 32);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM bridge_in WHERE recipient = '%s' AND "
             "height = 4 AND chain = 'alpha' AND amount = 100 AND signers = 1", hex);
    ck_assert_int_eq(db_int(ledger_db(l), sql), 1);
    ck_assert_int_eq(bridgetab_pending(q, 2, collect, &s), 0);
    ck_assert_int_eq(s.n, 2); /* at most max, oldest first */
    ck_assert_mem_eq(&s.t[0], &a, sizeof a);
    ck_assert_mem_eq(&s.t[1], &b, sizeof b);

    ck_assert_int_eq(bridgetab_minted(q, s.seq[0], 11), 0);
    ck_assert_int_eq(bridgetab_refused(q, s.seq[1], 11, "overflow", "too much"), 0);
    ck_assert_int_eq(bridgetab_minted(q, s.seq[0], 12), -ENOENT); /* not pending any more */
    ck_assert_int_eq(bridgetab_put(q, "alpha", 9, &b, 1, 2000), -EEXIST); /* refused: still known */
    memset(&s, 0, sizeof s);
    ck_assert_int_eq(bridgetab_pending(q, 10, collect, &s), 0);
    ck_assert_int_eq(s.n, 1);
    ck_assert_mem_eq(&s.t[0], &c, sizeof c);

    ck_assert_int_eq(bridgetab_totals(q, total, &tt), 0);
    ck_assert_int_eq(tt.n, 2);
    ck_assert_str_eq(tt.asset[0], "ADN");
    ck_assert_uint_eq(tt.minted[0], 100);
    ck_assert_uint_eq(tt.pending[0], 0); /* the refused 7 left the pending sum */
    ck_assert_str_eq(tt.asset[1], "USD");
    ck_assert_uint_eq(tt.minted[1], 0);
    ck_assert_uint_eq(tt.pending[1], 50);
    ck_assert_int_eq(db_int(ledger_db(l), "SELECT count(*) FROM bridge_in WHERE code = 'overflow' "
                                          "AND refused_height = 11"), 1);
    ledger_close(l);
    tmp_ledger_cleanup(&p);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "bridgetab", .tcase = "core"};
    return suite_build(&spec, SUITE_TESTS(test_record_mint_refuse));
}
