/* common/store/ledger.c: open/refuse/migrate, WAL, block writes, crash
 * safety. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "common/store/ledger.h"
#include "proto/block.h"
#include "tests/lib/blocks.h"
#include "tests/lib/db.h"
#include "tests/lib/file.h"
#include "tests/lib/gen.h"
#include "tests/lib/suite.h"
#include "tests/lib/tmp.h"

Suite *test_suite(void);

static const ledger_migration_t BASE_ONLY[] = {{1, LEDGER_SQL_BASE_V1}};
static const ledger_schema_t SCHEMA1 = {BASE_ONLY, 1};

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* A fresh ledger with n blocks, closed again. */
static void make_ledger(const tmp_ledger_t *p, uint64_t n, uint8_t last[BLOCK_HASH_LEN])
{
    char err[LEDGER_ERR_MAX] = "";
    ledger_t *l = NULL;
    ck_assert_msg(ledger_open(&l, p->db, &SCHEMA1, err) == 0, "%s", err);
    blocks_put_chain(l, n, last);
    ledger_close(l);
    ck_assert(!exists(p->wal));
}

START_TEST(test_create_wal_version)
{
    tmp_ledger_t p;
    char err[LEDGER_ERR_MAX] = "";
    char mode[16];
    ledger_t *l = NULL;

    tmp_ledger_init(&p, "ledger");
    ck_assert_msg(ledger_open(&l, p.db, &SCHEMA1, err) == 0, "%s", err);
    ck_assert_int_eq(ledger_schema_version(l), 1);
    ck_assert_int_eq(db_int(ledger_db(l), "PRAGMA synchronous"), 2); /* FULL */
    ck_assert_int_eq(db_int(ledger_db(l), "PRAGMA foreign_keys"), 1);

    /* A second connection sees WAL (it is a property of the file) and the version. */
    sqlite3 *db = db_open(p.db);
    db_text(db, "PRAGMA journal_mode", mode, sizeof mode);
    ck_assert_str_eq(mode, "wal");
    ck_assert_int_eq(db_int(db, "PRAGMA user_version"), 1);
    ck_assert_int_eq(db_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
                                   "name IN ('meta', 'blocks', 'commits', 'txs')"),
                     4);
    sqlite3_close(db);

    ledger_tip_t tip;
    memset(&tip, 0x5a, sizeof tip);
    ck_assert_int_eq(ledger_tip(l, &tip), 0);
    ck_assert_uint_eq(tip.height, 0);
    ck_assert_uint_eq(tip.time_ms, 0);
    ledger_close(l);

    /* Reopening an up-to-date ledger changes nothing. */
    ck_assert_msg(ledger_open(&l, p.db, &SCHEMA1, err) == 0, "%s", err);
    ck_assert_int_eq(ledger_schema_version(l), 1);
    ledger_close(l);
    ledger_close(NULL);
    tmp_ledger_cleanup(&p);
}
END_TEST

START_TEST(test_put_reopen_tip)
{
    static commit_cert_t c, want_c;
    tmp_ledger_t p;
    char err[LEDGER_ERR_MAX] = "";
    ledger_t *l = NULL;
    uint8_t last[BLOCK_HASH_LEN], hash[BLOCK_HASH_LEN], got_hash[BLOCK_HASH_LEN];
    block_header_t h, want_h;
    ledger_tip_t tip;

    tmp_ledger_init(&p, "ledger");
    make_ledger(&p, 3, last);

    ck_assert_msg(ledger_open(&l, p.db, &SCHEMA1, err) == 0, "%s", err);
    ck_assert_int_eq(ledger_tip(l, &tip), 0);
    ck_assert_uint_eq(tip.height, 3);
    ck_assert_mem_eq(tip.hash, last, BLOCK_HASH_LEN);
    ck_assert_uint_eq(tip.time_ms, T0_MS + 2000);

    /* Decoded blocks equal what went in. */
    ck_assert_int_eq(ledger_get_block(l, 3, &h, got_hash, &c), 0);
    ck_assert_mem_eq(got_hash, last, BLOCK_HASH_LEN);
    blocks_fake_std(3, h.prev_hash, &want_h, hash, &want_c);
    ck_assert_mem_eq(hash, last, BLOCK_HASH_LEN);
    ck_assert_uint_eq(h.height, 3);
    ck_assert_str_eq(h.chain_id, "adnet-test");
    ck_assert_uint_eq(h.time_ms, want_h.time_ms);
    ck_assert_uint_eq(h.tx_count, 6);
    ck_assert_mem_eq(h.state_root, want_h.state_root, BLOCK_HASH_LEN);
    ck_assert_uint_eq(c.n_sigs, 2);
    ck_assert_mem_eq(c.sigs, want_c.sigs, 2 * sizeof c.sigs[0]);
    ck_assert_int_eq(ledger_get_block(l, 1, NULL, NULL, NULL), 0);

    memset(&h, 0x5a, sizeof h);
    ck_assert_int_eq(ledger_get_block(l, 4, &h, NULL, NULL), -ENOENT);
    ck_assert_uint_eq(h.height, 0x5a5a5a5a5a5a5a5aULL);
    ck_assert_int_eq(ledger_get_block(l, 0, NULL, NULL, NULL), -ENOENT);
    ck_assert_int_eq(ledger_get_block(l, UINT64_MAX, NULL, NULL, NULL), -ENOENT);

    /* Readable columns for operators. */
    char text[200], hex[2 * BLOCK_HASH_LEN + 1];
    sqlite3 *db = ledger_db(l);
    db_text(db, "SELECT time FROM blocks WHERE height = 1", text, sizeof text);
    ck_assert_str_eq(text, "2026-11-25T22:50:01.123Z");
    db_text(db, "SELECT time FROM blocks WHERE height = 3", text, sizeof text);
    ck_assert_str_eq(text, "2026-11-25T22:50:03.123Z");
    db_text(db, "SELECT hash FROM blocks WHERE height = 3", text, sizeof text);
    sodium_bin2hex(hex, sizeof hex, last, BLOCK_HASH_LEN);
    ck_assert_str_eq(text, hex);
    db_text(db, "SELECT proposer FROM blocks WHERE height = 2", text, sizeof text);
    ck_assert_str_eq(text, "abababababababababababababababababababababababababababababababab");
    db_text(db, "SELECT prev_hash FROM blocks WHERE height = 1", text, sizeof text);
    ck_assert_str_eq(text, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
    db_text(db, "SELECT validator FROM commits WHERE height = 2 ORDER BY validator LIMIT 1",
               text, sizeof text);
    ck_assert_str_eq(text, "0101010101010101010101010101010101010101010101010101010101010101");
    db_text(db, "SELECT chain_id FROM blocks WHERE height = 2", text, sizeof text);
    ck_assert_str_eq(text, "adnet-test");
    ck_assert_int_eq(db_int(db, "SELECT count(*) FROM commits"), 6);
    ck_assert_int_eq(db_int(db, "SELECT tx_count FROM blocks WHERE height = 2"), 4);
    ck_assert_int_eq(db_int(db, "SELECT length(signature) FROM commits LIMIT 1"), 128);

    /* The chain continues after a reopen. */
    blocks_put_chain(l, 4, NULL);
    ck_assert_int_eq(ledger_tip(l, &tip), 0);
    ck_assert_uint_eq(tip.height, 4);
    ledger_close(l);
    tmp_ledger_cleanup(&p);
}
END_TEST

START_TEST(test_gap_and_fork_refused)
{
    static commit_cert_t c;
    tmp_ledger_t p;
    char err[LEDGER_ERR_MAX] = "";
    ledger_t *l = NULL;
    uint8_t last[BLOCK_HASH_LEN], hash[BLOCK_HASH_LEN], bad[BLOCK_HASH_LEN];
    block_header_t h;
    ledger_tip_t tip;

    tmp_ledger_init(&p, "ledger");
    ck_assert_msg(ledger_open(&l, p.db, &SCHEMA1, err) == 0, "%s", err);
    blocks_put_chain(l, 1, last);

    /* Outside a transaction. */
    blocks_fake_std(2, last, &h, hash, &c);
    ck_assert_int_eq(ledger_put_block(l, &h, hash, &c), -EINVAL);

    ck_assert_int_eq(ledger_begin(l), 0);
    /* Nested begin is refused. */
    ck_assert_int_eq(ledger_begin(l), -EINVAL);
    /* Gap: height 3 on tip 1. */
    blocks_fake_std(3, last, &h, hash, &c);
    ck_assert_int_eq(ledger_put_block(l, &h, hash, &c), -EINVAL);
    ck_assert_ptr_nonnull(strstr(ledger_errmsg(l), "tip"));
    /* Same height again. */
    blocks_fake_std(1, last, &h, hash, &c);
    ck_assert_int_eq(ledger_put_block(l, &h, hash, &c), -EINVAL);
    /* Fork: right height, wrong prev_hash. */
    memcpy(bad, last, sizeof bad);
    bad[0] ^= 1;
    blocks_fake_std(2, bad, &h, hash, &c);
    ck_assert_int_eq(ledger_put_block(l, &h, hash, &c), -EINVAL);
    ck_assert_ptr_nonnull(strstr(ledger_errmsg(l), "prev_hash"));
    /* Hash that is not the header's, and a certificate for another block. */
    blocks_fake_std(2, last, &h, hash, &c);
    hash[5] ^= 1;
    ck_assert_int_eq(ledger_put_block(l, &h, hash, &c), -EINVAL);
    blocks_fake_std(2, last, &h, hash, &c);
    c.block_hash[0] ^= 1;
    ck_assert_int_eq(ledger_put_block(l, &h, hash, &c), -EINVAL);
    /* A certificate with disordered validators does not get stored. */
    blocks_fake_std(2, last, &h, hash, &c);
    commit_sig_t t = c.sigs[0];
    c.sigs[0] = c.sigs[1];
    c.sigs[1] = t;
    ck_assert_int_lt(ledger_put_block(l, &h, hash, &c), 0);
    /* The right block still goes in after the refusals. */
    blocks_fake_std(2, last, &h, hash, &c);
    ck_assert_msg(ledger_put_block(l, &h, hash, &c) == 0, "%s", ledger_errmsg(l));
    ck_assert_int_eq(ledger_commit(l), 0);

    ck_assert_int_eq(ledger_tip(l, &tip), 0);
    ck_assert_uint_eq(tip.height, 2);
    ck_assert_mem_eq(tip.hash, hash, BLOCK_HASH_LEN);
    ck_assert_int_eq(db_int(ledger_db(l), "SELECT count(*) FROM blocks"), 2);
    ledger_close(l);
    tmp_ledger_cleanup(&p);
}
END_TEST

START_TEST(test_rollback_leaves_no_row)
{
    static commit_cert_t c;
    tmp_ledger_t p;
    char err[LEDGER_ERR_MAX] = "";
    ledger_t *l = NULL;
    uint8_t genesis[BLOCK_HASH_LEN], hash[BLOCK_HASH_LEN];
    block_header_t h;
    ledger_tip_t tip;

    tmp_ledger_init(&p, "ledger");
    ck_assert_msg(ledger_open(&l, p.db, &SCHEMA1, err) == 0, "%s", err);
    memset(genesis, 0xee, sizeof genesis);
    blocks_fake_std(1, genesis, &h, hash, &c);
    ck_assert_int_eq(ledger_begin(l), 0);
    ck_assert_int_eq(ledger_put_block(l, &h, hash, &c), 0);
    ck_assert_int_eq(ledger_meta_set(l, "chain_id", "adnet-test"), 0);
    ck_assert_int_eq(ledger_tip(l, &tip), 0);
    ck_assert_uint_eq(tip.height, 1); /* visible inside the transaction */
    ledger_rollback(l);
    ledger_rollback(l); /* harmless with none open */

    ck_assert_int_eq(ledger_tip(l, &tip), 0);
    ck_assert_uint_eq(tip.height, 0);
    ck_assert_int_eq(db_int(ledger_db(l), "SELECT count(*) FROM blocks"), 0);
    ck_assert_int_eq(db_int(ledger_db(l), "SELECT count(*) FROM commits"), 0);
    char v[32];
    ck_assert_int_eq(ledger_meta_get(l, "chain_id", v, sizeof v), -ENOENT);

    /* Height 1 can be written after the rollback. */
    ck_assert_int_eq(ledger_begin(l), 0);
    ck_assert_int_eq(ledger_put_block(l, &h, hash, &c), 0);
    ck_assert_int_eq(ledger_commit(l), 0);
    ck_assert_int_eq(ledger_tip(l, &tip), 0);
    ck_assert_uint_eq(tip.height, 1);
    ledger_close(l);
    tmp_ledger_cleanup(&p);
}
END_TEST

START_TEST(test_meta)
{
    tmp_ledger_t p;
    char err[LEDGER_ERR_MAX] = "";
    ledger_t *l = NULL;
    char v[16];

    tmp_ledger_init(&p, "ledger");
    ck_assert_msg(ledger_open(&l, p.db, &SCHEMA1, err) == 0, "%s", err);
    strcpy(v, "untouched");
    ck_assert_int_eq(ledger_meta_get(l, "chain_id", v, sizeof v), -ENOENT);
    ck_assert_str_eq(v, "untouched");
    ck_assert_int_eq(ledger_meta_set(l, "chain_id", "adnet-alpha"), 0);
    ck_assert_int_eq(ledger_meta_get(l, "chain_id", v, sizeof v), 0);
    ck_assert_str_eq(v, "adnet-alpha");
    ck_assert_int_eq(ledger_meta_set(l, "chain_id", "adnet-delta"), 0);
    ck_assert_int_eq(ledger_meta_get(l, "chain_id", v, sizeof v), 0);
    ck_assert_str_eq(v, "adnet-delta");
    ck_assert_int_eq(ledger_meta_set(l, "long", "0123456789abcdef"), 0);
    strcpy(v, "untouched");
    ck_assert_int_eq(ledger_meta_get(l, "long", v, sizeof v), -ENOBUFS);
    ck_assert_str_eq(v, "untouched");
    ck_assert_int_eq(db_int(ledger_db(l), "SELECT count(*) FROM meta"), 2);
    ledger_close(l);
    tmp_ledger_cleanup(&p);
}
END_TEST

START_TEST(test_migration_applies_only_new)
{
    static const ledger_migration_t two[] = {
        /* If migration 1 ran again this table would appear. */
        {1, "CREATE TABLE should_not_exist (x);"},
        {2, "CREATE TABLE records (id TEXT PRIMARY KEY,"
            " height INTEGER NOT NULL REFERENCES blocks(height));"
            "INSERT INTO meta (key, value) VALUES ('m2', 'applied');"},
    };
    static const ledger_migration_t three_bad[] = {
        {1, "CREATE TABLE should_not_exist (x);"},
        {2, "CREATE TABLE should_not_exist2 (x);"},
        /* Fails half-way: the first statement must roll back with it. */
        {3, "CREATE TABLE t3 (x); CREATE TABLE records (x);"},
    };
    const ledger_schema_t schema2 = {two, 2};
    const ledger_schema_t schema3 = {three_bad, 3};
    tmp_ledger_t p;
    char err[LEDGER_ERR_MAX] = "";
    ledger_t *l = NULL;
    uint8_t last[BLOCK_HASH_LEN];
    ledger_tip_t tip;
    char v[16];

    tmp_ledger_init(&p, "ledger");
    make_ledger(&p, 2, last);

    ck_assert_msg(ledger_open(&l, p.db, &schema2, err) == 0, "%s", err);
    ck_assert_int_eq(ledger_schema_version(l), 2);
    sqlite3 *db = ledger_db(l);
    ck_assert_int_eq(db_int(db, "PRAGMA user_version"), 2);
    ck_assert_int_eq(
        db_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'should_not_exist'"), 0);
    ck_assert_int_eq(db_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'records'"), 1);
    ck_assert_int_eq(ledger_meta_get(l, "m2", v, sizeof v), 0);
    ck_assert_str_eq(v, "applied");
    ck_assert_int_eq(ledger_tip(l, &tip), 0);
    ck_assert_uint_eq(tip.height, 2);
    ck_assert_mem_eq(tip.hash, last, BLOCK_HASH_LEN);
    ledger_close(l);

    /* Reopening at version 2 applies nothing (the INSERT would fail on a rerun). */
    ck_assert_msg(ledger_open(&l, p.db, &schema2, err) == 0, "%s", err);
    ledger_close(l);

    /* A failing migration is refused and leaves version and tables as they were. */
    l = NULL;
    ck_assert_int_lt(ledger_open(&l, p.db, &schema3, err), 0);
    ck_assert_ptr_null(l);
    ck_assert_ptr_nonnull(strstr(err, "migration 3"));
    db = db_open(p.db);
    ck_assert_int_eq(db_int(db, "PRAGMA user_version"), 2);
    ck_assert_int_eq(db_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 't3'"), 0);
    sqlite3_close(db);

    /* A schema whose versions are not 1..n is a programming error, refused. */
    const ledger_migration_t gap[] = {{1, LEDGER_SQL_BASE_V1}, {3, "SELECT 1;"}};
    const ledger_schema_t bad = {gap, 2};
    ck_assert_int_eq(ledger_open(&l, p.db, &bad, err), -EINVAL);
    tmp_ledger_cleanup(&p);
}
END_TEST

START_TEST(test_readonly_refuses_old_schema)
{
    static const ledger_migration_t two[] = {{1, LEDGER_SQL_BASE_V1}, {2, "CREATE TABLE x (y);"}};
    const ledger_schema_t schema2 = {two, 2};
    tmp_ledger_t p;
    char err[LEDGER_ERR_MAX] = "";
    ledger_t *l = NULL;

    tmp_ledger_init(&p, "ledger");
    ck_assert_int_eq(ledger_open_readonly(&l, p.db, &SCHEMA1, err), -ENOENT);
    ck_assert(!exists(p.db)); /* read-only open never creates */
    make_ledger(&p, 1, NULL);
    size_t n0, n1;
    uint8_t *before = file_read(p.db, &n0);
    ck_assert_int_eq(ledger_open_readonly(&l, p.db, &schema2, err), -EPROTO);
    ck_assert_ptr_null(l);
    ck_assert_ptr_nonnull(strstr(err, "needs migration"));
    uint8_t *after = file_read(p.db, &n1);
    ck_assert_uint_eq(n0, n1);
    ck_assert_mem_eq(before, after, n0);
    free(before);
    free(after);

    /* Read-only handles cannot write. */
    ck_assert_msg(ledger_open_readonly(&l, p.db, &SCHEMA1, err) == 0, "%s", err);
    ck_assert_int_lt(ledger_meta_set(l, "k", "v"), 0);
    ledger_close(l);
    tmp_ledger_cleanup(&p);
}
END_TEST

/* Expect both opens to refuse the file with code, leave its bytes alone and
 * leave no -wal or -shm behind; err must contain needle. */
static void assert_refused_untouched(const tmp_ledger_t *p, int code, const char *needle)
{
    char err[LEDGER_ERR_MAX] = "";
    ledger_t *l = NULL;
    size_t n0, n1;
    uint8_t *before = file_read(p->db, &n0);

    ck_assert_int_eq(ledger_open(&l, p->db, &SCHEMA1, err), code);
    ck_assert_ptr_null(l);
    ck_assert_msg(strstr(err, needle) != NULL, "message \"%s\" lacks \"%s\"", err, needle);
    ck_assert_msg(strstr(err, p->db) != NULL, "message \"%s\" does not name the file", err);
    err[0] = '\0';
    ck_assert_int_eq(ledger_open_readonly(&l, p->db, &SCHEMA1, err), code);
    ck_assert_ptr_null(l);
    ck_assert_msg(strstr(err, needle) != NULL, "message \"%s\" lacks \"%s\"", err, needle);

    uint8_t *after = file_read(p->db, &n1);
    ck_assert_uint_eq(n0, n1);
    ck_assert_msg(memcmp(before, after, n0) == 0, "refused file was modified");
    ck_assert_msg(!exists(p->wal), "refused open left a -wal file");
    ck_assert_msg(!exists(p->shm), "refused open left a -shm file");
    free(before);
    free(after);
}

START_TEST(test_newer_schema_refused_untouched)
{
    tmp_ledger_t p;

    tmp_ledger_init(&p, "ledger");
    make_ledger(&p, 2, NULL);
    sqlite3 *db = db_open(p.db);
    ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 7", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    ck_assert(!exists(p.wal));

    assert_refused_untouched(&p, -EPROTO, "schema version 7 is newer than this binary's 1");
    tmp_ledger_cleanup(&p);
}
END_TEST

START_TEST(test_corrupt_page_refused_untouched)
{
    tmp_ledger_t p;
    size_t n;

    tmp_ledger_init(&p, "ledger");
    make_ledger(&p, 40, NULL);
    uint8_t *img = file_read(p.db, &n);
    free(img);
    ck_assert_uint_ge(n, 4 * 4096);

    /* Garbage across a page boundary in the middle of the file: the end of
     * one page and the header of the next. */
    size_t page = 4096;
    size_t mid = (n / page / 2) * page;
    uint8_t junk[1024];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 37 + 11);
    int fd = open(p.db, O_WRONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, junk, sizeof junk, (off_t)(mid - 512)), (ssize_t)sizeof junk);
    close(fd);

    assert_refused_untouched(&p, -EILSEQ, "restore a backup");
    tmp_ledger_cleanup(&p);
}
END_TEST

START_TEST(test_not_a_database_refused_untouched)
{
    tmp_ledger_t p;
    char text[8192];

    tmp_ledger_init(&p, "ledger");
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = "this is not a database, it is a config file\n"[i % 45];
    FILE *f = fopen(p.db, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, sizeof text, f), sizeof text);
    fclose(f);

    assert_refused_untouched(&p, -EILSEQ, "not a usable SQLite database");
    tmp_ledger_cleanup(&p);
}
END_TEST

START_TEST(test_foreign_database_refused_untouched)
{
    tmp_ledger_t p;
    sqlite3 *db = NULL;

    tmp_ledger_init(&p, "ledger");
    ck_assert_int_eq(sqlite3_open(p.db, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE photos (id INTEGER PRIMARY KEY);",
                                  NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    assert_refused_untouched(&p, -EPROTO, "not an adnet ledger");
    tmp_ledger_cleanup(&p);
}
END_TEST

START_TEST(test_readonly_reads_during_write)
{
    static commit_cert_t c;
    tmp_ledger_t p;
    char err[LEDGER_ERR_MAX] = "";
    ledger_t *w = NULL, *r = NULL;
    uint8_t last[BLOCK_HASH_LEN], hash[BLOCK_HASH_LEN];
    block_header_t h;
    ledger_tip_t tip;

    tmp_ledger_init(&p, "ledger");
    ck_assert_msg(ledger_open(&w, p.db, &SCHEMA1, err) == 0, "%s", err);
    blocks_put_chain(w, 1, last);
    blocks_fake_std(2, last, &h, hash, &c);
    ck_assert_int_eq(ledger_begin(w), 0);
    ck_assert_int_eq(ledger_put_block(w, &h, hash, &c), 0);

    /* The writer holds its transaction open; a reader opens and reads the
     * last committed state without waiting for it. */
    ck_assert_msg(ledger_open_readonly(&r, p.db, &SCHEMA1, err) == 0, "%s", err);
    ck_assert_int_eq(ledger_tip(r, &tip), 0);
    ck_assert_uint_eq(tip.height, 1);
    ck_assert_mem_eq(tip.hash, last, BLOCK_HASH_LEN);
    ck_assert_int_eq(ledger_get_block(r, 2, NULL, NULL, NULL), -ENOENT);
    ck_assert_int_eq(ledger_get_block(r, 1, NULL, NULL, NULL), 0);
    /* And cannot start a write of its own. */
    ck_assert_int_lt(ledger_begin(r), 0);

    ck_assert_int_eq(ledger_commit(w), 0);
    ck_assert_int_eq(ledger_tip(r, &tip), 0);
    ck_assert_uint_eq(tip.height, 2);
    ck_assert_mem_eq(tip.hash, hash, BLOCK_HASH_LEN);
    ledger_close(r);
    ledger_close(w);
    tmp_ledger_cleanup(&p);
}
END_TEST

START_TEST(test_killed_before_commit)
{
    tmp_ledger_t p;
    uint8_t last[BLOCK_HASH_LEN];
    int sync[2];

    tmp_ledger_init(&p, "ledger");
    make_ledger(&p, 2, last);
    ck_assert_int_eq(pipe(sync), 0);

    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        static commit_cert_t c;
        char err[LEDGER_ERR_MAX];
        ledger_t *l = NULL;
        block_header_t h;
        uint8_t hash[BLOCK_HASH_LEN];

        close(sync[0]);
        if (ledger_open(&l, p.db, &SCHEMA1, err) != 0)
            _exit(2);
        /* A tiny page cache makes SQLite spill uncommitted pages into the
         * WAL, so the crash leaves frames without a commit record. */
        sqlite3_exec(ledger_db(l), "PRAGMA cache_size = 10", NULL, NULL, NULL);
        blocks_fake_std(3, last, &h, hash, &c);
        if (ledger_begin(l) != 0 || ledger_put_block(l, &h, hash, &c) != 0)
            _exit(3);
        for (int i = 0; i < 300; i++) {
            char sql[256];
            snprintf(sql, sizeof sql,
                     "INSERT INTO txs (id, height, idx, kind, body) VALUES "
                     "('%064x', 3, %d, 'transfer', zeroblob(2048))", (unsigned)i, i);
            if (sqlite3_exec(ledger_db(l), sql, NULL, NULL, NULL) != SQLITE_OK)
                _exit(4);
        }
        if (write(sync[1], "x", 1) != 1)
            _exit(5);
        for (;;)
            pause();
    }
    close(sync[1]);
    char x;
    ck_assert_int_eq(read(sync[0], &x, 1), 1);
    struct stat sb;
    ck_assert_int_eq(stat(p.wal, &sb), 0);
    ck_assert_msg(sb.st_size > 0, "the uncommitted transaction never reached the WAL");
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    close(sync[0]);

    char err[LEDGER_ERR_MAX] = "";
    ledger_t *l = NULL;
    ledger_tip_t tip;
    ck_assert_msg(ledger_open(&l, p.db, &SCHEMA1, err) == 0, "%s", err);
    ck_assert_int_eq(ledger_tip(l, &tip), 0);
    ck_assert_uint_eq(tip.height, 2);
    ck_assert_mem_eq(tip.hash, last, BLOCK_HASH_LEN);
    ck_assert_int_eq(db_int(ledger_db(l), "SELECT count(*) FROM txs"), 0);
    ck_assert_int_eq(db_int(ledger_db(l), "SELECT count(*) FROM commits"), 4);
    /* The ledger carries on from there. */
    blocks_put_chain(l, 3, NULL);
    ck_assert_int_eq(ledger_tip(l, &tip), 0);
    ck_assert_uint_eq(tip.height, 3);
    ledger_close(l);
    tmp_ledger_cleanup(&p);
}
END_TEST

/* The ledger and its -wal and -shm are the node's alone (0600), even under
 * a umask that would leave them readable by everyone. */
START_TEST(test_files_private)
{
    tmp_ledger_t p;
    char err[LEDGER_ERR_MAX] = "";
    ledger_t *l = NULL;
    struct stat st;

    tmp_ledger_init(&p, "ledger");
    mode_t old = umask(0);
    int rc = ledger_open(&l, p.db, &SCHEMA1, err);
    umask(old);
    ck_assert_msg(rc == 0, "%s", err);
    blocks_put_chain(l, 1, NULL); /* a write: -wal and -shm exist now */
    const char *files[] = {p.db, p.wal, p.shm};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        ck_assert_msg(stat(files[i], &st) == 0, "%s missing", files[i]);
        ck_assert_msg((st.st_mode & 0777) == 0600, "%s has mode %o", files[i], st.st_mode & 0777);
    }
    ledger_close(l);
    tmp_ledger_cleanup(&p);
}
END_TEST

static void digest(const char *path, uint8_t out[32])
{
    size_t len = 0;
    uint8_t *data = file_read(path, &len);
    crypto_generichash(out, 32, data, len, NULL, 0);
    free(data);
}

/* ledger_peek reads a ledger as it is, its WAL frames included, and
 * writes neither ledger.db nor ledger.db-wal. */
START_TEST(test_peek)
{
    tmp_ledger_t p;
    char err[LEDGER_ERR_MAX] = "";
    uint8_t last[BLOCK_HASH_LEN], h1[BLOCK_HASH_LEN], db0[32], wal0[32], db1[32], wal1[32];
    ledger_peek_t pk;
    ledger_t *l = NULL;

    tmp_ledger_init(&p, "peek");
    ck_assert_int_eq(ledger_peek(p.db, 0, &pk, err), 0);
    ck_assert(!pk.exists);
    file_write(p.db, "");
    ck_assert_int_eq(ledger_peek(p.db, 0, &pk, err), 0);
    ck_assert(pk.exists);
    ck_assert_uint_eq(pk.size, 0);
    unlink(p.db);

    /* Blocks in the WAL only: the writer is still open. */
    ck_assert_msg(ledger_open(&l, p.db, &SCHEMA1, err) == 0, "%s", err);
    ck_assert_int_eq(ledger_meta_set(l, "chain_id", "adnet-test"), 0);
    blocks_put_chain(l, 3, last);
    ck_assert_int_eq(ledger_get_block(l, 1, NULL, h1, NULL), 0);
    digest(p.db, db0);
    digest(p.wal, wal0);
    ck_assert_int_eq(ledger_peek(p.db, 1, &pk, err), 0);
    ck_assert(pk.exists && pk.has_genesis);
    ck_assert_uint_eq(pk.tip.height, 3);
    ck_assert_mem_eq(pk.tip.hash, last, BLOCK_HASH_LEN);
    ck_assert_mem_eq(pk.at_hash, h1, BLOCK_HASH_LEN);
    ck_assert_int_eq(ledger_peek(p.db, 3, &pk, err), 0);
    ck_assert_mem_eq(pk.at_hash, last, BLOCK_HASH_LEN);
    digest(p.db, db1);
    digest(p.wal, wal1);
    ck_assert_mem_eq(db0, db1, 32);
    ck_assert_mem_eq(wal0, wal1, 32);
    ledger_close(l);

    /* Closed (all in ledger.db, no -wal): nothing is made beside it. */
    ck_assert(!exists(p.wal));
    ck_assert_int_eq(ledger_peek(p.db, 9, &pk, err), 0);
    ck_assert_uint_eq(pk.tip.height, 3);
    ck_assert(!exists(p.wal) && !exists(p.shm));

    /* Tables but no meta: no genesis. Not a database: refused. */
    tmp_ledger_cleanup(&p);
    tmp_ledger_init(&p, "peek");
    ck_assert_msg(ledger_open(&l, p.db, &SCHEMA1, err) == 0, "%s", err);
    ledger_close(l);
    ck_assert_int_eq(ledger_peek(p.db, 0, &pk, err), 0);
    ck_assert(!pk.has_genesis);
    ck_assert_uint_eq(pk.tip.height, 0);
    file_write(p.db, "this is not a database, it is text that is long enough to matter");
    ck_assert_int_eq(ledger_peek(p.db, 0, &pk, err), -EILSEQ);
    ck_assert_ptr_nonnull(strstr(err, "not a usable SQLite database"));
    tmp_ledger_cleanup(&p);
}
END_TEST

/* With a busy timeout of 0 a lock held elsewhere is -EBUSY at once. */
START_TEST(test_busy_is_immediate)
{
    tmp_ledger_t p;
    char err[LEDGER_ERR_MAX] = "";
    ledger_t *l = NULL;
    struct timespec t0, t1;
    tmp_ledger_init(&p, "busy");
    ck_assert_msg(ledger_open(&l, p.db, &SCHEMA1, err) == 0, "%s", err);
    ledger_set_busy_timeout(l, 0);
    sqlite3 *other = db_hold_write_lock(p.db);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(ledger_begin(l), -EBUSY);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_int_lt((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000, 50);
    ck_assert_ptr_nonnull(strstr(ledger_errmsg(l), "locked"));
    db_release_lock(other);
    ck_assert_int_eq(ledger_begin(l), 0);
    ledger_rollback(l);
    ledger_close(l);
    tmp_ledger_cleanup(&p);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "ledger", .tcase = "core", .timeout_s = 30};
    return suite_build(&spec, SUITE_TESTS(
        test_create_wal_version, test_put_reopen_tip, test_gap_and_fork_refused,
        test_rollback_leaves_no_row, test_meta, test_migration_applies_only_new,
        test_readonly_refuses_old_schema, test_newer_schema_refused_untouched,
        test_corrupt_page_refused_untouched, test_not_a_database_refused_untouched,
        test_foreign_database_refused_untouched, test_readonly_reads_during_write,
        test_killed_before_commit, test_files_private, test_peek, test_busy_is_immediate));
}
