/* common/store/backup.c: an online copy of a WAL database that another
 * connection keeps writing is a consistent snapshot of one transaction,
 * a rollback-journal file with nothing beside it; the copy refuses an
 * existing destination and a missing source; a file's digest is BLAKE2b
 * of its bytes; a file that is not a ledger has no ledger info. */
#include <check.h>
#include <errno.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/store/backup.h"
#include "tests/lib/file.h"
#include "tests/lib/suite.h"
#include "tests/lib/tmp.h"

Suite *test_suite(void);

static tmp_dir_t dir;

static void setup(void)
{
    tmp_dir_init(&dir, "backup");
}

static void teardown(void)
{
    tmp_dir_cleanup(&dir);
}

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK, "%s: %s", sql, msg);
}

static sqlite3 *open_wal(const char *path)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    exec_ok(db, "PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS t(x INTEGER);");
    return db;
}

/* Each step's callback commits another row on the source: the copy must
 * still hold exactly the rows committed before it began. */
typedef struct {
    sqlite3 *writer;
    int steps;
} writer_t;

static void write_more(void *arg, uint64_t done, uint64_t total)
{
    writer_t *w = arg;
    ck_assert_uint_le(done, total);
    w->steps++;
    exec_ok(w->writer, "INSERT INTO t VALUES (-1);");
}

START_TEST(copy_is_a_snapshot_while_the_source_is_written)
{
    char src[TMP_PATH_MAX], dst[TMP_PATH_MAX], side[TMP_PATH_MAX + 16], err[BACKUP_ERR_MAX];
    tmp_dir_path(&dir, "src.db", src);
    tmp_dir_path(&dir, "dst.db", dst);
    sqlite3 *db = open_wal(src);
    exec_ok(db, "BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                "WHERE i < 20000) INSERT INTO t SELECT randomblob(100) FROM n; COMMIT;");
    writer_t w = { db, 0 };
    ck_assert_int_eq(backup_ledger(src, dst, write_more, &w, err), 0);
    ck_assert_int_gt(w.steps, 1); /* several small steps, each with a commit between */
    snprintf(side, sizeof side, "%s-wal", dst);
    ck_assert_int_ne(access(side, F_OK), 0);
    snprintf(side, sizeof side, "%s-journal", dst);
    ck_assert_int_ne(access(side, F_OK), 0);
    sqlite3 *copy = NULL;
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_open_v2(dst, &copy, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(copy, "SELECT count(*), sum(typeof(x) = 'integer') "
                                              "FROM t", -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(sqlite3_column_int(st, 0), 20000);
    ck_assert_int_eq(sqlite3_column_int(st, 1), 0);
    sqlite3_finalize(st);
    sqlite3_close(copy);
    sqlite3_close(db);

    /* An existing destination is refused and kept. */
    ck_assert_int_eq(backup_ledger(src, dst, NULL, NULL, err), -EEXIST);
    ck_assert_int_eq(access(dst, F_OK), 0);
    tmp_dir_path(&dir, "none.db", src);
    tmp_dir_path(&dir, "dst2.db", dst);
    ck_assert_int_eq(backup_ledger(src, dst, NULL, NULL, err), -ENOENT);
    ck_assert_ptr_nonnull(strstr(err, "no ledger there"));
    ck_assert_int_ne(access(dst, F_OK), 0);
}
END_TEST

START_TEST(digest_is_blake2b_of_the_bytes)
{
    char path[TMP_PATH_MAX], err[BACKUP_ERR_MAX];
    uint8_t got[BACKUP_DIGEST_LEN], want[BACKUP_DIGEST_LEN];
    uint64_t size = 0;
    ck_assert_int_ge(sodium_init(), 0);
    tmp_dir_path(&dir, "f", path);
    file_write(path, "adnet backup");
    ck_assert_int_eq(backup_file_digest(path, got, &size, err), 0);
    crypto_generichash(want, sizeof want, (const unsigned char *)"adnet backup", 12, NULL, 0);
    ck_assert_mem_eq(got, want, sizeof want);
    ck_assert_uint_eq(size, 12);
    tmp_dir_path(&dir, "missing", path);
    ck_assert_int_eq(backup_file_digest(path, got, &size, err), -ENOENT);
    ck_assert_ptr_nonnull(strstr(err, "missing"));
}
END_TEST

START_TEST(info_refuses_what_is_not_a_ledger)
{
    char path[TMP_PATH_MAX], err[BACKUP_ERR_MAX];
    backup_ledger_info_t info;
    tmp_dir_path(&dir, "plain.db", path);
    sqlite3_close(open_wal(path));
    ck_assert_int_eq(backup_ledger_info(path, &info, err), -EILSEQ);
    ck_assert_ptr_nonnull(strstr(err, "not a ledger"));
    tmp_dir_path(&dir, "missing.db", path);
    ck_assert_int_eq(backup_ledger_info(path, &info, err), -ENOENT);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = { "backup", "backup", 30, setup, teardown };
    return suite_build(&spec, SUITE_TESTS(copy_is_a_snapshot_while_the_source_is_written,
                                          digest_is_blake2b_of_the_bytes,
                                          info_refuses_what_is_not_a_ledger));
}
