/* common/store/sql.c: the statement cache each ledger handle owns, the
 * format-string binding, the one-value helpers, and SQLite's codes mapped
 * to negative errno with SQLite's message kept on the sql_t. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "common/store/ledger.h"
#include "common/store/sql.h"
#include "tests/lib/blocks.h"
#include "tests/lib/db.h"
#include "tests/lib/suite.h"
#include "tests/lib/tmp.h"

Suite *test_suite(void);

static const ledger_migration_t BASE_ONLY[] = {{1, LEDGER_SQL_BASE_V1}};
static const ledger_schema_t SCHEMA1 = {BASE_ONLY, 1};

/* Each handle owns its statement cache: the same SQL run through two
 * ledgers in one process gets a statement on each one's connection, reused
 * from call to call; closing one handle leaves the other's statements
 * working. */
START_TEST(test_statement_cache_per_handle)
{
    static const char COUNT[] = "SELECT count(*) FROM blocks";
    tmp_ledger_t pa, pb;
    char err[LEDGER_ERR_MAX] = "";
    ledger_t *a = NULL, *b = NULL;
    sqlite3_stmt *sa = NULL, *sa2 = NULL, *sb = NULL, *sb2 = NULL, *nested = NULL;
    uint64_t n = 0;
    ledger_tip_t tip;

    tmp_ledger_init(&pa, "sql");
    tmp_ledger_init(&pb, "sql");
    ck_assert_msg(ledger_open(&a, pa.db, &SCHEMA1, err) == 0, "%s", err);
    ck_assert_msg(ledger_open(&b, pb.db, &SCHEMA1, err) == 0, "%s", err);
    blocks_put_chain(a, 2, NULL);
    blocks_put_chain(b, 3, NULL);

    ck_assert_int_eq(sql_prepare(ledger_sql(a), COUNT, &sa), 0);
    ck_assert_int_eq(sql_prepare(ledger_sql(b), COUNT, &sb), 0);
    ck_assert_ptr_ne(sa, sb);
    ck_assert_ptr_eq(sqlite3_db_handle(sa), ledger_db(a));
    ck_assert_ptr_eq(sqlite3_db_handle(sb), ledger_db(b));
    /* Handed out twice at once (a nested query): a second statement. */
    ck_assert_int_eq(sql_prepare(ledger_sql(a), COUNT, &nested), 0);
    ck_assert_ptr_ne(nested, sa);
    sql_release(ledger_sql(a), nested);
    ck_assert_int_eq(sql_step(ledger_sql(a), sa), 1);
    ck_assert_int_eq(sqlite3_column_int(sa, 0), 2);
    sql_release(ledger_sql(a), sa);
    sql_release(ledger_sql(b), sb);

    /* Given back and asked for again: the very same statement, reset. */
    ck_assert_int_eq(sql_prepare(ledger_sql(a), COUNT, &sa2), 0);
    ck_assert_ptr_eq(sa2, sa);
    ck_assert_int_eq(sql_step(ledger_sql(a), sa2), 1);
    ck_assert_int_eq(sqlite3_column_int(sa2, 0), 2);
    sql_release(ledger_sql(a), sa2);

    /* Closing a finalizes a's statements only. */
    ledger_close(a);
    ck_assert_int_eq(sql_prepare(ledger_sql(b), COUNT, &sb2), 0);
    ck_assert_ptr_eq(sb2, sb);
    ck_assert_int_eq(sql_step(ledger_sql(b), sb2), 1);
    ck_assert_int_eq(sqlite3_column_int(sb2, 0), 3);
    sql_release(ledger_sql(b), sb2);
    ck_assert_int_eq(sql_u64(ledger_sql(b), &n, COUNT, NULL), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(ledger_tip(b, &tip), 0);
    ck_assert_uint_eq(tip.height, 3);
    blocks_put_chain(b, 4, NULL);
    ck_assert_int_eq(sql_u64(ledger_sql(b), &n, COUNT, NULL), 0);
    ck_assert_uint_eq(n, 4);
    ledger_close(b);
    tmp_ledger_cleanup(&pa);
    tmp_ledger_cleanup(&pb);
}
END_TEST

/* The cache finds SQL by its address and checks the text, so a buffer
 * reused for other SQL never runs the old statement; a bare sql_t keeps
 * nothing. Errors come back as negative errno with SQLite's message. */
START_TEST(test_sql_helpers)
{
    tmp_ledger_t p;
    char err[LEDGER_ERR_MAX] = "";
    char buf[64];
    ledger_t *l = NULL;
    uint64_t v = 0;
    uint8_t key[32], back[32];
    sqlite3_stmt *st = NULL;

    tmp_ledger_init(&p, "sql");
    ck_assert_msg(ledger_open(&l, p.db, &SCHEMA1, err) == 0, "%s", err);
    sql_t *q = ledger_sql(l);
    strcpy(buf, "SELECT 1");
    ck_assert_int_eq(sql_u64(q, &v, buf, NULL), 0);
    ck_assert_uint_eq(v, 1);
    strcpy(buf, "SELECT 2");
    ck_assert_int_eq(sql_u64(q, &v, buf, NULL), 0);
    ck_assert_uint_eq(v, 2);

    /* Formats: text, integer, key as hex, blob; and the refusals. */
    memset(key, 0xa5, sizeof key);
    ck_assert_int_eq(ledger_begin(l), 0);
    ck_assert_int_eq(sql_exec(q, "INSERT INTO meta (key, value) VALUES (?, ?)", "tk", "k1", key),
                     0);
    ck_assert_int_eq(sql_exists(q, "SELECT 1 FROM meta WHERE key = ?", "t", "k1"), 1);
    ck_assert_int_eq(sql_exists(q, "SELECT 1 FROM meta WHERE key = ?", "t", "k2"), 0);
    ck_assert_int_eq(sql_query(q, &st, "SELECT value FROM meta WHERE key = ?", "t", "k1"), 0);
    ck_assert_int_eq(sql_step(q, st), 1);
    ck_assert_int_eq(sql_column_hex(st, 0, back, sizeof back), 0);
    ck_assert_mem_eq(back, key, sizeof key);
    ck_assert_int_eq(sql_column_hex(st, 0, back, 16), -EBADMSG);
    sql_release(q, st);
    ck_assert_int_eq(sql_exec(q, "INSERT INTO meta (key, value) VALUES (?, ?)", "tk", "k1", key),
                     -EEXIST);
    ck_assert_msg(strstr(sql_errmsg(q), "UNIQUE") != NULL, "%s", sql_errmsg(q));
    ck_assert_str_eq(ledger_errmsg(l), sql_errmsg(q));
    ck_assert_int_eq(sql_u64(q, &v, "SELECT ?", "u", (uint64_t)INT64_MAX + 1), -ERANGE);
    ck_assert_int_eq(sql_u64(q, &v, "SELECT ?", "z", 1), -EINVAL);
    ck_assert_int_eq(sql_u64(q, &v, "SELECT -1", NULL), -EIO);
    ck_assert_int_eq(sql_u64(q, &v, "SELECT NULL", NULL), -ENOENT);
    ck_assert_int_lt(sql_exec(q, "SELECT * FROM no_such_table", NULL), 0);
    ck_assert_msg(strstr(sql_errmsg(q), "no_such_table") != NULL, "%s", sql_errmsg(q));
    ledger_rollback(l);

    /* A bare connection: statements are finalized on release. */
    sqlite3 *db = db_open(p.db);
    sql_t bare = SQL_BARE(db);
    ck_assert_int_eq(sql_u64(&bare, &v, "SELECT count(*) FROM meta", NULL), 0);
    ck_assert_ptr_null(sqlite3_next_stmt(db, NULL));
    ck_assert_int_eq(sql_prepare(&bare, "SELECT 1", &st), 0);
    ck_assert_ptr_eq(sqlite3_next_stmt(db, NULL), st);
    sql_release(&bare, st);
    ck_assert_ptr_null(sqlite3_next_stmt(db, NULL));
    sql_cache_close(&bare); /* a no-op without a cache */
    sqlite3_close(db);
    ledger_close(l);
    tmp_ledger_cleanup(&p);
}
END_TEST

/* sql_fault tells a failure of the database (another process's lock)
 * from one of the data (a constraint), and clears. */
START_TEST(test_sql_fault)
{
    tmp_ledger_t p;
    char err[LEDGER_ERR_MAX] = "";
    ledger_t *l = NULL;
    tmp_ledger_init(&p, "sql-fault");
    ck_assert_msg(ledger_open(&l, p.db, &SCHEMA1, err) == 0, "%s", err);
    sql_t *q = ledger_sql(l);
    ledger_set_busy_timeout(l, 0);
    ck_assert_int_eq(sql_fault(q), 0);
    ck_assert_int_eq(sql_exec(q, "INSERT INTO meta (key, value) VALUES ('a', 'b')", NULL), 0);
    ck_assert_int_eq(sql_exec(q, "INSERT INTO meta (key, value) VALUES ('a', 'b')", NULL),
                     -EEXIST);
    ck_assert_int_eq(sql_fault(q), 0); /* the data's fault */
    sqlite3 *other = db_hold_write_lock(p.db);
    ck_assert_int_eq(sql_exec(q, "INSERT INTO meta (key, value) VALUES ('c', 'd')", NULL),
                     -EBUSY);
    ck_assert_int_eq(sql_fault(q), -EBUSY);
    sql_clear_fault(q);
    ck_assert_int_eq(sql_fault(q), 0);
    db_release_lock(other);
    ledger_close(l);
    tmp_ledger_cleanup(&p);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "sql", .tcase = "core", .timeout_s = 30};
    return suite_build(&spec, SUITE_TESTS(test_statement_cache_per_handle, test_sql_helpers,
                                          test_sql_fault));
}
