/* common/store/ledger.c: open/refuse/migrate, WAL, block writes, crash
 * safety; common/store/sql.c: the statement cache each handle owns, and the
 * SQL helpers. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

#include "common/store/ledger.h"
#include "proto/block.h"

Suite *test_suite(void);

#define T0_MS 1795647001123ULL /* 2026-11-25T22:50:01.123Z */

static const ledger_migration_t BASE_ONLY[] = {{1, LEDGER_SQL_BASE_V1}};
static const ledger_schema_t SCHEMA1 = {BASE_ONLY, 1};

typedef struct {
    char dir[64];
    char db[96];
    char wal[100];
    char shm[100];
} paths_t;

static void paths_init(paths_t *p)
{
    strcpy(p->dir, "/tmp/adnet-test-ledger-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(p->dir));
    snprintf(p->db, sizeof p->db, "%s/ledger.db", p->dir);
    snprintf(p->wal, sizeof p->wal, "%s-wal", p->db);
    snprintf(p->shm, sizeof p->shm, "%s-shm", p->db);
}

static void paths_cleanup(const paths_t *p)
{
    unlink(p->db);
    unlink(p->wal);
    unlink(p->shm);
    rmdir(p->dir);
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* Read a whole file into a malloc'd buffer. */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    uint8_t *buf = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void make_block(uint64_t height, const uint8_t prev[BLOCK_HASH_LEN], block_header_t *h,
                       uint8_t hash[BLOCK_HASH_LEN], commit_cert_t *c)
{
    memset(h, 0, sizeof *h);
    h->protocol_version = 1;
    strcpy(h->chain_id, "adnet-test");
    h->height = height;
    h->time_ms = T0_MS + (height - 1) * 1000;
    memcpy(h->prev_hash, prev, BLOCK_HASH_LEN);
    memset(h->txs_root, (int)height, BLOCK_HASH_LEN);
    memset(h->state_root, (int)(0x80 + height), BLOCK_HASH_LEN);
    memset(h->proposer, 0xab, BLOCK_KEY_LEN);
    h->tx_count = (uint32_t)height * 2;
    ck_assert_int_eq(block_header_hash(h, hash), 0);

    memset(c, 0, sizeof *c);
    c->height = height;
    memcpy(c->block_hash, hash, BLOCK_HASH_LEN);
    c->n_sigs = 2;
    memset(c->sigs[0].validator, 0x01, BLOCK_KEY_LEN);
    memset(c->sigs[1].validator, 0x02, BLOCK_KEY_LEN);
    memset(c->sigs[0].sig, (int)height, BLOCK_SIG_LEN);
    memset(c->sigs[1].sig, (int)(height + 100), BLOCK_SIG_LEN);
}

/* Commit blocks from+1 .. to on top of the current tip; return the last hash. */
static void put_chain(ledger_t *l, uint64_t to, uint8_t last[BLOCK_HASH_LEN])
{
    static commit_cert_t c;
    block_header_t h;
    ledger_tip_t tip;
    uint8_t hash[BLOCK_HASH_LEN];
    uint8_t prev[BLOCK_HASH_LEN];

    ck_assert_int_eq(ledger_tip(l, &tip), 0);
    if (tip.height == 0)
        memset(prev, 0xee, sizeof prev); /* the genesis hash */
    else
        memcpy(prev, tip.hash, sizeof prev);
    for (uint64_t height = tip.height + 1; height <= to; height++) {
        make_block(height, prev, &h, hash, &c);
        ck_assert_int_eq(ledger_begin(l), 0);
        ck_assert_msg(ledger_put_block(l, &h, hash, &c) == 0, "put %llu: %s",
                      (unsigned long long)height, ledger_errmsg(l));
        ck_assert_int_eq(ledger_commit(l), 0);
        memcpy(prev, hash, sizeof prev);
    }
    if (last != NULL)
        memcpy(last, prev, BLOCK_HASH_LEN);
}

static int query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    int v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void query_text(sqlite3 *db, const char *sql, char *out, size_t cap)
{
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

static sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    return db;
}

/* A fresh ledger with n blocks, closed again. */
static void make_ledger(const paths_t *p, uint64_t n, uint8_t last[BLOCK_HASH_LEN])
{
    char err[LEDGER_ERR_MAX] = "";
    ledger_t *l = NULL;
    ck_assert_msg(ledger_open(&l, p->db, &SCHEMA1, err) == 0, "%s", err);
    put_chain(l, n, last);
    ledger_close(l);
    ck_assert(!exists(p->wal));
}

START_TEST(test_create_wal_version)
{
    paths_t p;
    char err[LEDGER_ERR_MAX] = "";
    char mode[16];
    ledger_t *l = NULL;

    paths_init(&p);
    ck_assert_msg(ledger_open(&l, p.db, &SCHEMA1, err) == 0, "%s", err);
    ck_assert_int_eq(ledger_schema_version(l), 1);
    ck_assert_int_eq(query_int(ledger_db(l), "PRAGMA synchronous"), 2); /* FULL */
    ck_assert_int_eq(query_int(ledger_db(l), "PRAGMA foreign_keys"), 1);

    /* A second connection sees WAL (it is a property of the file) and the version. */
    sqlite3 *db = raw_open(p.db);
    query_text(db, "PRAGMA journal_mode", mode, sizeof mode);
    ck_assert_str_eq(mode, "wal");
    ck_assert_int_eq(query_int(db, "PRAGMA user_version"), 1);
    ck_assert_int_eq(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
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
    paths_cleanup(&p);
}
END_TEST

START_TEST(test_put_reopen_tip)
{
    static commit_cert_t c, want_c;
    paths_t p;
    char err[LEDGER_ERR_MAX] = "";
    ledger_t *l = NULL;
    uint8_t last[BLOCK_HASH_LEN], hash[BLOCK_HASH_LEN], got_hash[BLOCK_HASH_LEN];
    block_header_t h, want_h;
    ledger_tip_t tip;

    paths_init(&p);
    make_ledger(&p, 3, last);

    ck_assert_msg(ledger_open(&l, p.db, &SCHEMA1, err) == 0, "%s", err);
    ck_assert_int_eq(ledger_tip(l, &tip), 0);
    ck_assert_uint_eq(tip.height, 3);
    ck_assert_mem_eq(tip.hash, last, BLOCK_HASH_LEN);
    ck_assert_uint_eq(tip.time_ms, T0_MS + 2000);

    /* Decoded blocks equal what went in. */
    ck_assert_int_eq(ledger_get_block(l, 3, &h, got_hash, &c), 0);
    ck_assert_mem_eq(got_hash, last, BLOCK_HASH_LEN);
    make_block(3, h.prev_hash, &want_h, hash, &want_c);
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
    query_text(db, "SELECT time FROM blocks WHERE height = 1", text, sizeof text);
    ck_assert_str_eq(text, "2026-11-25T22:50:01.123Z");
    query_text(db, "SELECT time FROM blocks WHERE height = 3", text, sizeof text);
    ck_assert_str_eq(text, "2026-11-25T22:50:03.123Z");
    query_text(db, "SELECT hash FROM blocks WHERE height = 3", text, sizeof text);
    sodium_bin2hex(hex, sizeof hex, last, BLOCK_HASH_LEN);
    ck_assert_str_eq(text, hex);
    query_text(db, "SELECT proposer FROM blocks WHERE height = 2", text, sizeof text);
    ck_assert_str_eq(text, "abababababababababababababababababababababababababababababababab");
    query_text(db, "SELECT prev_hash FROM blocks WHERE height = 1", text, sizeof text);
    ck_assert_str_eq(text, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
    query_text(db, "SELECT validator FROM commits WHERE height = 2 ORDER BY validator LIMIT 1",
               text, sizeof text);
    ck_assert_str_eq(text, "0101010101010101010101010101010101010101010101010101010101010101");
    query_text(db, "SELECT chain_id FROM blocks WHERE height = 2", text, sizeof text);
    ck_assert_str_eq(text, "adnet-test");
    ck_assert_int_eq(query_int(db, "SELECT count(*) FROM commits"), 6);
    ck_assert_int_eq(query_int(db, "SELECT tx_count FROM blocks WHERE height = 2"), 4);
    ck_assert_int_eq(query_int(db, "SELECT length(signature) FROM commits LIMIT 1"), 128);

    /* The chain continues after a reopen. */
    put_chain(l, 4, NULL);
    ck_assert_int_eq(ledger_tip(l, &tip), 0);
    ck_assert_uint_eq(tip.height, 4);
    ledger_close(l);
    paths_cleanup(&p);
}
END_TEST

START_TEST(test_gap_and_fork_refused)
{
    static commit_cert_t c;
    paths_t p;
    char err[LEDGER_ERR_MAX] = "";
    ledger_t *l = NULL;
    uint8_t last[BLOCK_HASH_LEN], hash[BLOCK_HASH_LEN], bad[BLOCK_HASH_LEN];
    block_header_t h;
    ledger_tip_t tip;

    paths_init(&p);
    ck_assert_msg(ledger_open(&l, p.db, &SCHEMA1, err) == 0, "%s", err);
    put_chain(l, 1, last);

    /* Outside a transaction. */
    make_block(2, last, &h, hash, &c);
    ck_assert_int_eq(ledger_put_block(l, &h, hash, &c), -EINVAL);

    ck_assert_int_eq(ledger_begin(l), 0);
    /* Nested begin is refused. */
    ck_assert_int_eq(ledger_begin(l), -EINVAL);
    /* Gap: height 3 on tip 1. */
    make_block(3, last, &h, hash, &c);
    ck_assert_int_eq(ledger_put_block(l, &h, hash, &c), -EINVAL);
    ck_assert_ptr_nonnull(strstr(ledger_errmsg(l), "tip"));
    /* Same height again. */
    make_block(1, last, &h, hash, &c);
    ck_assert_int_eq(ledger_put_block(l, &h, hash, &c), -EINVAL);
    /* Fork: right height, wrong prev_hash. */
    memcpy(bad, last, sizeof bad);
    bad[0] ^= 1;
    make_block(2, bad, &h, hash, &c);
    ck_assert_int_eq(ledger_put_block(l, &h, hash, &c), -EINVAL);
    ck_assert_ptr_nonnull(strstr(ledger_errmsg(l), "prev_hash"));
    /* Hash that is not the header's, and a certificate for another block. */
    make_block(2, last, &h, hash, &c);
    hash[5] ^= 1;
    ck_assert_int_eq(ledger_put_block(l, &h, hash, &c), -EINVAL);
    make_block(2, last, &h, hash, &c);
    c.block_hash[0] ^= 1;
    ck_assert_int_eq(ledger_put_block(l, &h, hash, &c), -EINVAL);
    /* A certificate with disordered validators does not get stored. */
    make_block(2, last, &h, hash, &c);
    commit_sig_t t = c.sigs[0];
    c.sigs[0] = c.sigs[1];
    c.sigs[1] = t;
    ck_assert_int_lt(ledger_put_block(l, &h, hash, &c), 0);
    /* The right block still goes in after the refusals. */
    make_block(2, last, &h, hash, &c);
    ck_assert_msg(ledger_put_block(l, &h, hash, &c) == 0, "%s", ledger_errmsg(l));
    ck_assert_int_eq(ledger_commit(l), 0);

    ck_assert_int_eq(ledger_tip(l, &tip), 0);
    ck_assert_uint_eq(tip.height, 2);
    ck_assert_mem_eq(tip.hash, hash, BLOCK_HASH_LEN);
    ck_assert_int_eq(query_int(ledger_db(l), "SELECT count(*) FROM blocks"), 2);
    ledger_close(l);
    paths_cleanup(&p);
}
END_TEST

START_TEST(test_rollback_leaves_no_row)
{
    static commit_cert_t c;
    paths_t p;
    char err[LEDGER_ERR_MAX] = "";
    ledger_t *l = NULL;
    uint8_t genesis[BLOCK_HASH_LEN], hash[BLOCK_HASH_LEN];
    block_header_t h;
    ledger_tip_t tip;

    paths_init(&p);
    ck_assert_msg(ledger_open(&l, p.db, &SCHEMA1, err) == 0, "%s", err);
    memset(genesis, 0xee, sizeof genesis);
    make_block(1, genesis, &h, hash, &c);
    ck_assert_int_eq(ledger_begin(l), 0);
    ck_assert_int_eq(ledger_put_block(l, &h, hash, &c), 0);
    ck_assert_int_eq(ledger_meta_set(l, "chain_id", "adnet-test"), 0);
    ck_assert_int_eq(ledger_tip(l, &tip), 0);
    ck_assert_uint_eq(tip.height, 1); /* visible inside the transaction */
    ledger_rollback(l);
    ledger_rollback(l); /* harmless with none open */

    ck_assert_int_eq(ledger_tip(l, &tip), 0);
    ck_assert_uint_eq(tip.height, 0);
    ck_assert_int_eq(query_int(ledger_db(l), "SELECT count(*) FROM blocks"), 0);
    ck_assert_int_eq(query_int(ledger_db(l), "SELECT count(*) FROM commits"), 0);
    char v[32];
    ck_assert_int_eq(ledger_meta_get(l, "chain_id", v, sizeof v), -ENOENT);

    /* Height 1 can be written after the rollback. */
    ck_assert_int_eq(ledger_begin(l), 0);
    ck_assert_int_eq(ledger_put_block(l, &h, hash, &c), 0);
    ck_assert_int_eq(ledger_commit(l), 0);
    ck_assert_int_eq(ledger_tip(l, &tip), 0);
    ck_assert_uint_eq(tip.height, 1);
    ledger_close(l);
    paths_cleanup(&p);
}
END_TEST

START_TEST(test_meta)
{
    paths_t p;
    char err[LEDGER_ERR_MAX] = "";
    ledger_t *l = NULL;
    char v[16];

    paths_init(&p);
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
    ck_assert_int_eq(query_int(ledger_db(l), "SELECT count(*) FROM meta"), 2);
    ledger_close(l);
    paths_cleanup(&p);
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
    paths_t p;
    char err[LEDGER_ERR_MAX] = "";
    ledger_t *l = NULL;
    uint8_t last[BLOCK_HASH_LEN];
    ledger_tip_t tip;
    char v[16];

    paths_init(&p);
    make_ledger(&p, 2, last);

    ck_assert_msg(ledger_open(&l, p.db, &schema2, err) == 0, "%s", err);
    ck_assert_int_eq(ledger_schema_version(l), 2);
    sqlite3 *db = ledger_db(l);
    ck_assert_int_eq(query_int(db, "PRAGMA user_version"), 2);
    ck_assert_int_eq(
        query_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'should_not_exist'"), 0);
    ck_assert_int_eq(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'records'"), 1);
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
    db = raw_open(p.db);
    ck_assert_int_eq(query_int(db, "PRAGMA user_version"), 2);
    ck_assert_int_eq(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 't3'"), 0);
    sqlite3_close(db);

    /* A schema whose versions are not 1..n is a programming error, refused. */
    const ledger_migration_t gap[] = {{1, LEDGER_SQL_BASE_V1}, {3, "SELECT 1;"}};
    const ledger_schema_t bad = {gap, 2};
    ck_assert_int_eq(ledger_open(&l, p.db, &bad, err), -EINVAL);
    paths_cleanup(&p);
}
END_TEST

START_TEST(test_readonly_refuses_old_schema)
{
    static const ledger_migration_t two[] = {{1, LEDGER_SQL_BASE_V1}, {2, "CREATE TABLE x (y);"}};
    const ledger_schema_t schema2 = {two, 2};
    paths_t p;
    char err[LEDGER_ERR_MAX] = "";
    ledger_t *l = NULL;

    paths_init(&p);
    ck_assert_int_eq(ledger_open_readonly(&l, p.db, &SCHEMA1, err), -ENOENT);
    ck_assert(!exists(p.db)); /* read-only open never creates */
    make_ledger(&p, 1, NULL);
    size_t n0, n1;
    uint8_t *before = slurp(p.db, &n0);
    ck_assert_int_eq(ledger_open_readonly(&l, p.db, &schema2, err), -EPROTO);
    ck_assert_ptr_null(l);
    ck_assert_ptr_nonnull(strstr(err, "needs migration"));
    uint8_t *after = slurp(p.db, &n1);
    ck_assert_uint_eq(n0, n1);
    ck_assert_mem_eq(before, after, n0);
    free(before);
    free(after);

    /* Read-only handles cannot write. */
    ck_assert_msg(ledger_open_readonly(&l, p.db, &SCHEMA1, err) == 0, "%s", err);
    ck_assert_int_lt(ledger_meta_set(l, "k", "v"), 0);
    ledger_close(l);
    paths_cleanup(&p);
}
END_TEST

/* Expect both opens to refuse the file with code, leave its bytes alone and
 * leave no -wal or -shm behind; err must contain needle. */
static void assert_refused_untouched(const paths_t *p, int code, const char *needle)
{
    char err[LEDGER_ERR_MAX] = "";
    ledger_t *l = NULL;
    size_t n0, n1;
    uint8_t *before = slurp(p->db, &n0);

    ck_assert_int_eq(ledger_open(&l, p->db, &SCHEMA1, err), code);
    ck_assert_ptr_null(l);
    ck_assert_msg(strstr(err, needle) != NULL, "message \"%s\" lacks \"%s\"", err, needle);
    ck_assert_msg(strstr(err, p->db) != NULL, "message \"%s\" does not name the file", err);
    err[0] = '\0';
    ck_assert_int_eq(ledger_open_readonly(&l, p->db, &SCHEMA1, err), code);
    ck_assert_ptr_null(l);
    ck_assert_msg(strstr(err, needle) != NULL, "message \"%s\" lacks \"%s\"", err, needle);

    uint8_t *after = slurp(p->db, &n1);
    ck_assert_uint_eq(n0, n1);
    ck_assert_msg(memcmp(before, after, n0) == 0, "refused file was modified");
    ck_assert_msg(!exists(p->wal), "refused open left a -wal file");
    ck_assert_msg(!exists(p->shm), "refused open left a -shm file");
    free(before);
    free(after);
}

START_TEST(test_newer_schema_refused_untouched)
{
    paths_t p;

    paths_init(&p);
    make_ledger(&p, 2, NULL);
    sqlite3 *db = raw_open(p.db);
    ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 7", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    ck_assert(!exists(p.wal));

    assert_refused_untouched(&p, -EPROTO, "schema version 7 is newer than this binary's 1");
    paths_cleanup(&p);
}
END_TEST

START_TEST(test_corrupt_page_refused_untouched)
{
    paths_t p;
    size_t n;

    paths_init(&p);
    make_ledger(&p, 40, NULL);
    uint8_t *img = slurp(p.db, &n);
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
    paths_cleanup(&p);
}
END_TEST

START_TEST(test_not_a_database_refused_untouched)
{
    paths_t p;
    char text[8192];

    paths_init(&p);
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = "this is not a database, it is a config file\n"[i % 45];
    FILE *f = fopen(p.db, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, sizeof text, f), sizeof text);
    fclose(f);

    assert_refused_untouched(&p, -EILSEQ, "not a usable SQLite database");
    paths_cleanup(&p);
}
END_TEST

START_TEST(test_foreign_database_refused_untouched)
{
    paths_t p;
    sqlite3 *db = NULL;

    paths_init(&p);
    ck_assert_int_eq(sqlite3_open(p.db, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "CREATE TABLE photos (id INTEGER PRIMARY KEY);",
                                  NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    assert_refused_untouched(&p, -EPROTO, "not an adnet ledger");
    paths_cleanup(&p);
}
END_TEST

START_TEST(test_readonly_reads_during_write)
{
    static commit_cert_t c;
    paths_t p;
    char err[LEDGER_ERR_MAX] = "";
    ledger_t *w = NULL, *r = NULL;
    uint8_t last[BLOCK_HASH_LEN], hash[BLOCK_HASH_LEN];
    block_header_t h;
    ledger_tip_t tip;

    paths_init(&p);
    ck_assert_msg(ledger_open(&w, p.db, &SCHEMA1, err) == 0, "%s", err);
    put_chain(w, 1, last);
    make_block(2, last, &h, hash, &c);
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
    paths_cleanup(&p);
}
END_TEST

START_TEST(test_killed_before_commit)
{
    paths_t p;
    uint8_t last[BLOCK_HASH_LEN];
    int sync[2];

    paths_init(&p);
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
        make_block(3, last, &h, hash, &c);
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
    ck_assert_int_eq(query_int(ledger_db(l), "SELECT count(*) FROM txs"), 0);
    ck_assert_int_eq(query_int(ledger_db(l), "SELECT count(*) FROM commits"), 4);
    /* The ledger carries on from there. */
    put_chain(l, 3, NULL);
    ck_assert_int_eq(ledger_tip(l, &tip), 0);
    ck_assert_uint_eq(tip.height, 3);
    ledger_close(l);
    paths_cleanup(&p);
}
END_TEST

/* Each handle owns its statement cache: the same SQL run through two
 * ledgers in one process gets a statement on each one's connection, reused
 * from call to call; closing one handle leaves the other's statements
 * working. */
START_TEST(test_statement_cache_per_handle)
{
    static const char COUNT[] = "SELECT count(*) FROM blocks";
    paths_t pa, pb;
    char err[LEDGER_ERR_MAX] = "";
    ledger_t *a = NULL, *b = NULL;
    sqlite3_stmt *sa = NULL, *sa2 = NULL, *sb = NULL, *sb2 = NULL, *nested = NULL;
    uint64_t n = 0;
    ledger_tip_t tip;

    paths_init(&pa);
    paths_init(&pb);
    ck_assert_msg(ledger_open(&a, pa.db, &SCHEMA1, err) == 0, "%s", err);
    ck_assert_msg(ledger_open(&b, pb.db, &SCHEMA1, err) == 0, "%s", err);
    put_chain(a, 2, NULL);
    put_chain(b, 3, NULL);

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
    put_chain(b, 4, NULL);
    ck_assert_int_eq(sql_u64(ledger_sql(b), &n, COUNT, NULL), 0);
    ck_assert_uint_eq(n, 4);
    ledger_close(b);
    paths_cleanup(&pa);
    paths_cleanup(&pb);
}
END_TEST

/* The cache finds SQL by its address and checks the text, so a buffer
 * reused for other SQL never runs the old statement; a bare sql_t keeps
 * nothing. Errors come back as negative errno with SQLite's message. */
START_TEST(test_sql_helpers)
{
    paths_t p;
    char err[LEDGER_ERR_MAX] = "";
    char buf[64];
    ledger_t *l = NULL;
    uint64_t v = 0;
    uint8_t key[32], back[32];
    sqlite3_stmt *st = NULL;

    paths_init(&p);
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
    sqlite3 *db = raw_open(p.db);
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
    paths_cleanup(&p);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("ledger");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_create_wal_version);
    tcase_add_test(tc, test_put_reopen_tip);
    tcase_add_test(tc, test_gap_and_fork_refused);
    tcase_add_test(tc, test_rollback_leaves_no_row);
    tcase_add_test(tc, test_meta);
    tcase_add_test(tc, test_migration_applies_only_new);
    tcase_add_test(tc, test_readonly_refuses_old_schema);
    tcase_add_test(tc, test_newer_schema_refused_untouched);
    tcase_add_test(tc, test_corrupt_page_refused_untouched);
    tcase_add_test(tc, test_not_a_database_refused_untouched);
    tcase_add_test(tc, test_foreign_database_refused_untouched);
    tcase_add_test(tc, test_readonly_reads_during_write);
    tcase_add_test(tc, test_killed_before_commit);
    tcase_add_test(tc, test_statement_cache_per_handle);
    tcase_add_test(tc, test_sql_helpers);
    suite_add_tcase(s, tc);
    return s;
}
