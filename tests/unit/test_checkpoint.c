/* common/store/checkpoint.c: with a checkpointer attached, the writer's
 * commits leave the WAL to the checkpointer's thread, which copies it into
 * the database file; stopping it (also in the middle of a checkpoint)
 * hands the writer back SQLite's own checkpoints, and nothing written is
 * lost. */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/store/checkpoint.h"
#include "common/store/ledger.h"
#include "tests/lib/db.h"
#include "tests/lib/suite.h"
#include "tests/lib/tmp.h"

Suite *test_suite(void);

static const char EXTRA[] = "CREATE TABLE blobs (id INTEGER PRIMARY KEY, b BLOB NOT NULL);";
static const ledger_migration_t MIGRATIONS[] = {{1, LEDGER_SQL_BASE_V1}, {2, EXTRA}};
static const ledger_schema_t SCHEMA = {MIGRATIONS, 2};

/* n transactions of 8 rows of 4 KiB each on l's connection. */
static void write_rows(ledger_t *l, int n)
{
    sqlite3 *db = ledger_db(l);
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(ledger_begin(l), 0);
        ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO blobs(b) SELECT randomblob(4096) FROM "
                                          "(SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 "
                                          "UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL "
                                          "SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8)",
                                      NULL, NULL, NULL), SQLITE_OK);
        ck_assert_int_eq(ledger_commit(l), 0);
    }
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

START_TEST(test_checkpoints_beside_the_writer)
{
    tmp_ledger_t t;
    ledger_t *l = NULL;
    ledger_ckpt_t *c = NULL;
    char err[LEDGER_ERR_MAX];
    ckpt_stats_t s = {0};
    tmp_ledger_init(&t, "ckpt");
    ck_assert_msg(ledger_open(&l, t.db, &SCHEMA, err) == 0, "%s", err);
    off_t before = file_size(t.db);
    ck_assert_int_eq(ckpt_start(&c, ledger_db(l), t.db, 50, err, sizeof err), 0);
    write_rows(l, 40); /* 320 pages of rows: several wake-ups */
    for (int i = 0; i < 200 && (s.frames == 0 || s.runs < 2); i++) {
        usleep(10000);
        ckpt_stats(c, &s);
    }
    ck_assert_uint_ge(s.runs, 2);
    ck_assert_uint_gt(s.frames, 300);
    ck_assert_int_eq(s.last_rc, SQLITE_OK);
    ck_assert_int_gt(file_size(t.db), before + 300 * 4096); /* the rows reached the file */
    ckpt_stop(c);
    write_rows(l, 5); /* the writer's own checkpoints are back */
    ck_assert_int_eq(db_int(ledger_db(l), "SELECT count(*) FROM blobs"), 45 * 8);
    ledger_close(l);
    tmp_ledger_cleanup(&t);
}
END_TEST

START_TEST(test_stop_cuts_a_checkpoint_short)
{
    tmp_ledger_t t;
    ledger_t *l = NULL;
    ledger_ckpt_t *c = NULL;
    char err[LEDGER_ERR_MAX];
    tmp_ledger_init(&t, "ckpt");
    ck_assert_msg(ledger_open(&l, t.db, &SCHEMA, err) == 0, "%s", err);
    ck_assert_int_eq(ckpt_start(&c, ledger_db(l), t.db, 1, err, sizeof err), 0);
    write_rows(l, 60);
    ckpt_stop(c); /* maybe in the middle of one: nothing may be lost */
    ckpt_stop(NULL);
    ledger_close(l);
    ck_assert_msg(ledger_open(&l, t.db, &SCHEMA, err) == 0, "%s", err);
    ck_assert_int_eq(db_int(ledger_db(l), "SELECT count(*) FROM blobs"), 60 * 8);
    char ok[64];
    db_text(ledger_db(l), "PRAGMA integrity_check", ok, sizeof ok);
    ck_assert_str_eq(ok, "ok");
    ledger_close(l);
    tmp_ledger_cleanup(&t);
}
END_TEST

START_TEST(test_refusals)
{
    ledger_ckpt_t *c = NULL;
    char err[256] = "";
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
    ck_assert_int_lt(ckpt_start(&c, db, "/nonexistent/dir/ledger.db", 10, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "checkpoint connection") != NULL, "%s", err);
    ck_assert_ptr_null(c);
    sqlite3_close(db);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "checkpoint", .tcase = "core", .timeout_s = 60};
    return suite_build(&spec, SUITE_TESTS(test_checkpoints_beside_the_writer,
                                          test_stop_cuts_a_checkpoint_short, test_refusals));
}
