/* common/store/tree.c: the persisted tree against the in-memory one
 * (common/store/smt.c) as the reference: the same root after every batch
 * and byte-identical proofs, at the latest version and at every version
 * in the history; batch semantics; savepoints; pruning (what it keeps,
 * what it refuses, what it removes); versions never written; damaged rows;
 * the rows a change writes. */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/store/ledger.h"
#include "common/store/smt.h"
#include "common/store/tree.h"
#include "common/store/tree_bulk.h"
#include "proto/tree_node.h"
#include "tests/lib/db.h"
#include "tests/lib/rng.h"
#include "tests/lib/suite.h"
#include "tests/lib/tmp.h"

Suite *test_suite(void);

/* Check records every passing ck_assert with a write(2); inside loops of
 * thousands use REQUIRE, which calls into Check only on failure. */
#define REQUIRE(cond)                                                              \
    do {                                                                           \
        if (!(cond))                                                               \
            ck_abort_msg("%s:%d: requirement failed: %s", __FILE__, __LINE__, #cond); \
    } while (0)
/* A tree call that must succeed; on failure show the message it left. */
#define OK(f, call)                                                                  \
    do {                                                                             \
        int rc_ = (call);                                                            \
        if (rc_ < 0)                                                                 \
            ck_abort_msg("%s:%d: %s = %d: %s", __FILE__, __LINE__, #call, rc_,       \
                         sql_errmsg((f)->q));                                        \
    } while (0)

static const ledger_migration_t MIGRATIONS[] = {
    {1, LEDGER_SQL_BASE_V1}, {2, TREE_SQL_V1}, {3, TREE_SQL_V2}};
static const ledger_schema_t SCHEMA = {MIGRATIONS, 3};
/* A ledger made before TREE_SQL_V2, for the upgrade test. */
static const ledger_schema_t SCHEMA_V1 = {MIGRATIONS, 2};
static const uint8_t zero32[32];

/* ---- fixture: a temporary ledger with the tree tables ---- */

typedef struct {
    tmp_ledger_t dir;
    ledger_t *l;
    sql_t *q;
} fx_t;

static void fx_open_schema(fx_t *f, const ledger_schema_t *schema)
{
    char err[LEDGER_ERR_MAX];
    tmp_ledger_init(&f->dir, "tree");
    ck_assert_msg(ledger_open(&f->l, f->dir.db, schema, err) == 0, "%s", err);
    f->q = ledger_sql(f->l);
}

static void fx_open(fx_t *f)
{
    fx_open_schema(f, &SCHEMA);
}

static void fx_close(fx_t *f)
{
    ledger_close(f->l);
    tmp_ledger_cleanup(&f->dir);
}

/* Run a formatted one-integer query on the fixture's connection. */
static int count(fx_t *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int count(fx_t *f, const char *fmt, ...)
{
    char sql[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    return db_int(ledger_db(f->l), sql);
}

static void exec(fx_t *f, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(ledger_db(f->l), sql, NULL, NULL, &msg);
    ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, msg ? msg : "?");
}

/* ---- the reference: an smt_t, and every key the test has used ---- */

typedef struct {
    smt_t *smt;
    uint8_t (*keys)[32];       /* every key ever set or deleted, for probes */
    size_t n_keys, cap;
} model_t;

static void model_init(model_t *m)
{
    memset(m, 0, sizeof *m);
    m->smt = smt_new();
    ck_assert_ptr_nonnull(m->smt);
}

static void model_free(model_t *m)
{
    smt_free(m->smt);
    free(m->keys);
}

static void model_remember(model_t *m, const uint8_t key[32])
{
    if (m->n_keys == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 256;
        m->keys = realloc(m->keys, m->cap * sizeof *m->keys);
        REQUIRE(m->keys != NULL);
    }
    memcpy(m->keys[m->n_keys++], key, 32);
}

/* Apply u[0..n) to the reference one by one, so the last one per key wins. */
static void model_apply(model_t *m, const tree_update_t *u, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = u[i].remove ? smt_delete(m->smt, u[i].key) : smt_set(m->smt, u[i].key, u[i].value);
        REQUIRE(rc == 0 || (u[i].remove && rc == -ENOENT));
    }
}

static void set_upd(tree_update_t *u, const uint8_t key[32], int remove)
{
    memcpy(u->key, key, 32);
    rng_bytes(u->value, 32);
    u->remove = remove != 0;
}

/* Fill u[0..n) with a random batch over m's keys: new keys, keys sharing a
 * long prefix with a known one, replacements, deletions of present and
 * absent keys, and keys repeated within the batch. */
static void gen_batch(model_t *m, tree_update_t *u, size_t n)
{
    uint8_t k[32];
    for (size_t i = 0; i < n; i++) {
        unsigned r = (unsigned)(rng_next() % 100);
        const uint8_t *known = m->n_keys ? m->keys[rng_next() % m->n_keys] : NULL;
        if (known == NULL || r < 35) {
            rng_bytes(k, 32);
            set_upd(&u[i], k, 0);
        } else if (r < 50) { /* a neighbour: shares the first 192..255 bits */
            unsigned b = 192 + (unsigned)(rng_next() % 64);
            memcpy(k, known, 32);
            k[b / 8] ^= (uint8_t)(0x80u >> (b % 8));
            set_upd(&u[i], k, 0);
        } else if (r < 70) {
            set_upd(&u[i], known, 0);
        } else if (r < 88) {
            set_upd(&u[i], known, 1);
        } else if (r < 93) {
            rng_bytes(k, 32);
            set_upd(&u[i], k, 1); /* almost surely absent */
        } else {
            set_upd(&u[i], i > 0 ? u[rng_next() % i].key : known, (int)(rng_next() % 2));
        }
        model_remember(m, u[i].key);
    }
}

/* ---- comparing the persisted tree with the reference ---- */

/* tree's proof of key at v must be smt's, byte for byte, must verify, and
 * tree_get must agree. */
static void check_key(fx_t *f, const char *tree, uint64_t v, smt_t *s, const uint8_t key[32])
{
    static smt_proof_t want, got;
    uint8_t root[32], a[32], b[32];
    int present = smt_get(s, key, a) == 0;

    REQUIRE(smt_prove(s, key, &want) == 0);
    memset(&got, 0xa5, sizeof got);
    OK(f, tree_prove(f->q, tree, v, key, &got));
    REQUIRE(got.n_siblings == want.n_siblings);
    REQUIRE(memcmp(got.siblings, want.siblings, sizeof want.siblings[0] * want.n_siblings) == 0);
    REQUIRE(got.has_leaf == want.has_leaf);
    REQUIRE(memcmp(got.leaf_key, want.leaf_key, 32) == 0);
    REQUIRE(memcmp(got.leaf_value, want.leaf_value, 32) == 0);
    REQUIRE(memcmp(&got, &want, sizeof got) == 0);
    smt_root(s, root);
    REQUIRE(smt_verify(root, key, &got, b) == present);
    int rc = tree_get(f->q, tree, v, key, b);
    REQUIRE(rc == present);
    REQUIRE(!present || memcmp(a, b, 32) == 0);
}

/* The root and leaf count at v are smt's, and so are the proofs of probe
 * keys: a sample of m's keys (present and deleted) and fresh ones. */
static void check_version(fx_t *f, const char *tree, uint64_t v, model_t *m, smt_t *s,
                          size_t probes)
{
    uint8_t want[32], got[32], k[32];
    uint64_t leaves = UINT64_MAX;

    smt_root(s, want);
    OK(f, tree_root_at(f->q, tree, v, got, &leaves));
    REQUIRE(memcmp(want, got, 32) == 0);
    REQUIRE(leaves == smt_count(s));
    for (size_t i = 0; i < probes; i++) {
        if (m->n_keys > 0 && i % 4 != 3) {
            check_key(f, tree, v, s, m->keys[rng_next() % m->n_keys]);
        } else {
            rng_bytes(k, 32);
            check_key(f, tree, v, s, k);
        }
    }
}

/* Apply u to both trees as version v, in a transaction of its own; the
 * roots must agree. */
static void apply_both(fx_t *f, model_t *m, const char *tree, uint64_t v, const tree_update_t *u,
                       size_t n)
{
    uint8_t got[32], want[32];
    OK(f, ledger_begin(f->l));
    OK(f, tree_apply(f->q, tree, v, u, n, got));
    OK(f, ledger_commit(f->l));
    model_apply(m, u, n);
    smt_root(m->smt, want);
    REQUIRE(memcmp(got, want, 32) == 0);
}

/* A random history: batches[i] written as version first + i. */
typedef struct {
    tree_update_t *u;
    size_t n;
} batch_t;

static batch_t *run_history(fx_t *f, model_t *m, const char *tree, uint64_t first,
                            size_t n_batches, size_t max_batch, size_t probes)
{
    batch_t *b = calloc(n_batches, sizeof *b);
    REQUIRE(b != NULL);
    for (size_t i = 0; i < n_batches; i++) {
        b[i].n = i == 0 ? 0 : 1 + (size_t)(rng_next() % max_batch);
        b[i].u = malloc((b[i].n ? b[i].n : 1) * sizeof *b[i].u);
        REQUIRE(b[i].u != NULL);
        gen_batch(m, b[i].u, b[i].n);
        apply_both(f, m, tree, first + i, b[i].u, b[i].n);
        check_version(f, tree, first + i, m, m->smt, probes);
    }
    return b;
}

/* Replay the history into a fresh reference and check every version from
 * from_idx on again, now that later versions have been written. */
static void check_history(fx_t *f, model_t *m, const char *tree, uint64_t first, batch_t *b,
                          size_t n_batches, size_t from_idx, size_t probes)
{
    smt_t *s = smt_new();
    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < n_batches; i++) {
        model_t r = {.smt = s};
        model_apply(&r, b[i].u, b[i].n);
        if (i >= from_idx)
            check_version(f, tree, first + i, m, s, probes);
    }
    smt_free(s);
}

static void free_history(batch_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(b[i].u);
    free(b);
}

/* ---- tests ---- */

START_TEST(test_empty_one_two_leaves)
{
    fx_t f;
    model_t m;
    tree_update_t u[2];
    uint8_t k1[32] = {0x12}, k2[32] = {0x13}, root[32];
    uint64_t v = 99, leaves = 99;

    fx_open(&f);
    model_init(&m);
    apply_both(&f, &m, "accounts", 0, NULL, 0);
    OK(&f, tree_root_at(f.q, "accounts", 0, root, &leaves));
    ck_assert_mem_eq(root, zero32, 32);
    ck_assert_uint_eq(leaves, 0);
    OK(&f, tree_latest(f.q, "accounts", &v));
    ck_assert_uint_eq(v, 0);
    check_key(&f, "accounts", 0, m.smt, k1);
    ck_assert_int_eq(count(&f, "SELECT count(*) FROM tree_roots WHERE node_version IS NULL"), 1);

    set_upd(&u[0], k1, 0);
    apply_both(&f, &m, "accounts", 1, u, 1); /* one leaf: the root is its hash */
    check_key(&f, "accounts", 1, m.smt, k1);
    check_key(&f, "accounts", 1, m.smt, k2);
    set_upd(&u[0], k2, 0);
    apply_both(&f, &m, "accounts", 2, u, 1); /* two leaves sharing 7 bits */
    check_key(&f, "accounts", 2, m.smt, k1);
    check_key(&f, "accounts", 2, m.smt, k2);
    set_upd(&u[0], k1, 1);
    apply_both(&f, &m, "accounts", 3, u, 1); /* back to one: k2 moves up to the root */
    check_key(&f, "accounts", 3, m.smt, k1);
    check_key(&f, "accounts", 3, m.smt, k2);
    set_upd(&u[0], k2, 1);
    apply_both(&f, &m, "accounts", 4, u, 1);
    OK(&f, tree_root_at(f.q, "accounts", 4, root, &leaves));
    ck_assert_mem_eq(root, zero32, 32);
    ck_assert_uint_eq(leaves, 0);
    /* Every version is still as it was. */
    for (uint64_t i = 0; i <= 4; i++)
        OK(&f, tree_root_at(f.q, "accounts", i, root, NULL));
    model_free(&m);
    fx_close(&f);
}
END_TEST

START_TEST(test_long_shared_prefixes)
{
    /* Keys parting at bits 255, 252 (the last nibble), 251, 248, 130, 4
     * and 0 of a base key: paths through up to 64 node levels. */
    static const unsigned part[] = {255, 252, 251, 248, 130, 4, 0};
    enum { N = sizeof part / sizeof part[0] };
    uint8_t base[32], keys[N + 1][32], probe[32];
    tree_update_t u[N + 1];
    fx_t f;
    model_t m;
    uint64_t v = 0;

    fx_open(&f);
    model_init(&m);
    memset(base, 0x5c, sizeof base);
    memcpy(keys[0], base, 32);
    for (size_t i = 0; i < N; i++) {
        memcpy(keys[i + 1], base, 32);
        keys[i + 1][part[i] / 8] ^= (uint8_t)(0x80u >> (part[i] % 8));
    }
    for (size_t i = 0; i <= N; i++) /* one at a time, then all at once below */
        set_upd(&u[i], keys[i], 0);
    for (size_t i = 0; i <= N; i++) {
        apply_both(&f, &m, "records", v, &u[i], 1);
        for (size_t j = 0; j <= N; j++)
            check_key(&f, "records", v, m.smt, keys[j]);
        memcpy(probe, base, 32);
        probe[31] ^= 0x02; /* absent, on the deepest path */
        check_key(&f, "records", v, m.smt, probe);
        v++;
    }
    for (size_t i = 0; i <= N; i++) /* delete from the deepest out */
        set_upd(&u[i], keys[i], 1);
    for (size_t i = 0; i <= N; i++) {
        apply_both(&f, &m, "records", v, &u[i], 1);
        for (size_t j = 0; j <= N; j++)
            check_key(&f, "records", v, m.smt, keys[j]);
        v++;
    }
    ck_assert_uint_eq(smt_count(m.smt), 0);
    for (size_t i = 0; i <= N; i++)
        set_upd(&u[i], keys[N - i], 0);
    apply_both(&f, &m, "records", v, u, N + 1); /* all in one batch */
    for (size_t j = 0; j <= N; j++)
        check_key(&f, "records", v, m.smt, keys[j]);
    ck_assert_int_eq(count(&f, "SELECT max(length(path)) FROM tree_nodes"), 63);
    model_free(&m);
    fx_close(&f);
}
END_TEST

START_TEST(test_random_histories)
{
    /* Batches of up to 300 over a few thousand leaves; each version is
     * checked when written and again once the whole history is. */
    for (uint64_t seed = 1; seed <= 3; seed++) {
        fx_t f;
        model_t m;
        size_t n = 24;

        rng_seed(seed * 7919);
        fx_open(&f);
        model_init(&m);
        batch_t *b = run_history(&f, &m, "accounts", 0, n, seed == 3 ? 500 : 60, 12);
        check_history(&f, &m, "accounts", 0, b, n, 0, 8);
        if (seed == 3)
            ck_assert_uint_gt(smt_count(m.smt), 1500);
        free_history(b, n);
        model_free(&m);
        fx_close(&f);
    }
}
END_TEST

START_TEST(test_batch_semantics)
{
    fx_t f;
    model_t m;
    tree_update_t u[6];
    uint8_t a[32] = {1}, b[32] = {2}, c[32] = {3}, d[32] = {4}, before[32], after[32], val[32];
    uint8_t a10[32];

    fx_open(&f);
    model_init(&m);
    set_upd(&u[0], a, 0);
    set_upd(&u[1], b, 0);
    apply_both(&f, &m, "records", 10, u, 2);
    memcpy(a10, u[0].value, 32);
    /* In one batch: a set then deleted, b deleted then set, c set twice
     * (the second value stays), d (absent) deleted. */
    set_upd(&u[0], a, 0);
    set_upd(&u[1], b, 1);
    set_upd(&u[2], c, 0);
    set_upd(&u[3], a, 1);
    set_upd(&u[4], b, 0);
    set_upd(&u[5], c, 0);
    apply_both(&f, &m, "records", 11, u, 6);
    ck_assert_int_eq(tree_get(f.q, "records", 11, a, val), 0);
    ck_assert_int_eq(tree_get(f.q, "records", 11, b, val), 1);
    ck_assert_mem_eq(val, u[4].value, 32);
    ck_assert_int_eq(tree_get(f.q, "records", 11, c, val), 1);
    ck_assert_mem_eq(val, u[5].value, 32);
    ck_assert_int_eq(tree_get(f.q, "records", 10, a, val), 1); /* the old version keeps a */
    ck_assert_mem_eq(val, a10, 32);
    /* A batch that changes nothing writes a root row and no node. */
    OK(&f, tree_root_at(f.q, "records", 11, before, NULL));
    set_upd(&u[0], d, 1);
    memcpy(&u[1], &u[5], sizeof u[1]); /* c to the value it has */
    apply_both(&f, &m, "records", 12, u, 2);
    OK(&f, tree_root_at(f.q, "records", 12, after, NULL));
    ck_assert_mem_eq(before, after, 32);
    ck_assert_int_eq(count(&f, "SELECT count(*) FROM tree_nodes WHERE version = 12"), 0);
    ck_assert_int_eq(count(&f, "SELECT count(*) FROM tree_stale WHERE since = 12"), 0);
    ck_assert_int_eq(count(&f, "SELECT count(*) FROM tree_roots WHERE version = 12"), 1);
    /* The input is left as given. */
    ck_assert_mem_eq(u[0].key, d, 32);
    model_free(&m);
    fx_close(&f);
}
END_TEST

START_TEST(test_versions_refused)
{
    fx_t f;
    tree_update_t u;
    uint8_t root[32], k[32] = {7}, val[32];
    uint64_t v;
    smt_proof_t p;

    fx_open(&f);
    ck_assert_int_eq(tree_latest(f.q, "accounts", &v), -ENOENT);
    ck_assert_int_eq(tree_oldest(f.q, "accounts", &v), -ENOENT);
    ck_assert_int_eq(tree_root_at(f.q, "accounts", 0, root, NULL), -ENOENT);
    ck_assert_int_eq(tree_prove(f.q, "accounts", 0, k, &p), -ENOENT);
    set_upd(&u, k, 0);
    OK(&f, tree_apply(f.q, "accounts", 5, &u, 1, root));
    ck_assert_int_eq(tree_apply(f.q, "accounts", 5, &u, 1, root), -EINVAL);
    ck_assert_int_eq(tree_apply(f.q, "accounts", 4, &u, 1, root), -EINVAL);
    ck_assert_int_eq(tree_apply(f.q, "accounts", (uint64_t)INT64_MAX + 1, &u, 1, root), -EINVAL);
    ck_assert_int_eq(tree_apply(f.q, "", 6, &u, 1, root), -EINVAL);
    ck_assert_int_eq(tree_apply(f.q, NULL, 6, &u, 1, root), -EINVAL);
    ck_assert_ptr_nonnull(strstr(sql_errmsg(f.q), "tree name"));
    /* A future version, and one before the first. */
    ck_assert_int_eq(tree_root_at(f.q, "accounts", 6, root, NULL), -ENOENT);
    ck_assert_int_eq(tree_get(f.q, "accounts", 6, k, val), -ENOENT);
    ck_assert_int_eq(tree_prove(f.q, "accounts", 6, k, &p), -ENOENT);
    ck_assert_int_eq(tree_root_at(f.q, "accounts", 4, root, NULL), -ESTALE);
    /* Versions may skip: a skipped one is the state before it. */
    OK(&f, tree_apply(f.q, "accounts", 9, NULL, 0, root));
    OK(&f, tree_root_at(f.q, "accounts", 7, root, NULL));
    ck_assert_int_eq(tree_get(f.q, "accounts", 7, k, val), 1);
    ck_assert_mem_eq(val, u.value, 32);
    OK(&f, tree_latest(f.q, "accounts", &v));
    ck_assert_uint_eq(v, 9);
    OK(&f, tree_oldest(f.q, "accounts", &v));
    ck_assert_uint_eq(v, 5);
    /* Another tree in the same tables is its own. */
    ck_assert_int_eq(tree_latest(f.q, "records", &v), -ENOENT);
    OK(&f, tree_apply(f.q, "records", 1, NULL, 0, root));
    ck_assert_mem_eq(root, zero32, 32);
    fx_close(&f);
}
END_TEST

START_TEST(test_savepoint_rollback)
{
    fx_t f;
    model_t m;
    tree_update_t u[50];
    uint8_t root[32], want[32];
    uint64_t v;

    rng_seed(42);
    fx_open(&f);
    model_init(&m);
    gen_batch(&m, u, 50);
    apply_both(&f, &m, "accounts", 1, u, 50);
    int nodes = count(&f, "SELECT count(*) FROM tree_nodes");
    int stale = count(&f, "SELECT count(*) FROM tree_stale");

    /* A block whose transaction is rolled back to a savepoint. */
    OK(&f, ledger_begin(f.l));
    exec(&f, "SAVEPOINT tx");
    gen_batch(&m, u, 50);
    OK(&f, tree_apply(f.q, "accounts", 2, u, 50, root));
    exec(&f, "ROLLBACK TO tx");
    exec(&f, "RELEASE tx");
    OK(&f, tree_latest(f.q, "accounts", &v));
    ck_assert_uint_eq(v, 1);
    ck_assert_int_eq(tree_root_at(f.q, "accounts", 2, root, NULL), -ENOENT);
    ck_assert_int_eq(count(&f, "SELECT count(*) FROM tree_nodes"), nodes);
    ck_assert_int_eq(count(&f, "SELECT count(*) FROM tree_stale"), stale);
    /* The same version is written again, differently, and commits. */
    gen_batch(&m, u, 20);
    OK(&f, tree_apply(f.q, "accounts", 2, u, 20, root));
    OK(&f, ledger_commit(f.l));
    model_apply(&m, u, 20);
    smt_root(m.smt, want);
    ck_assert_mem_eq(root, want, 32);
    check_version(&f, "accounts", 2, &m, m.smt, 20);

    /* A whole block rolled back leaves nothing either. */
    nodes = count(&f, "SELECT count(*) FROM tree_nodes");
    OK(&f, ledger_begin(f.l));
    OK(&f, tree_apply(f.q, "accounts", 3, u, 20, root));
    ledger_rollback(f.l);
    ck_assert_int_eq(count(&f, "SELECT count(*) FROM tree_nodes"), nodes);
    ck_assert_int_eq(tree_root_at(f.q, "accounts", 3, root, NULL), -ENOENT);
    model_free(&m);
    fx_close(&f);
}
END_TEST

/* Mark, in the temporary table reach, every node row reachable from the
 * node at path, version. */
static void reach_from(fx_t *f, const char *tree, const char *path, uint64_t version)
{
    sqlite3 *db = ledger_db(f->l);
    sqlite3_stmt *st = NULL;
    tree_node_t node;
    char sql[256], child[70];

    snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO reach VALUES ('%s', %" PRIu64 ")", path,
             version);
    exec(f, sql);
    if (sqlite3_changes(db) == 0)
        return; /* shared with a version already walked */
    snprintf(sql, sizeof sql,
             "SELECT node FROM tree_nodes WHERE tree = '%s' AND path = '%s' AND version = %" PRIu64,
             tree, path, version);
    REQUIRE(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW); /* a kept version's node is there */
    REQUIRE(tree_node_decode(&node, sqlite3_column_blob(st, 0),
                             (size_t)sqlite3_column_bytes(st, 0), NULL) == 0);
    sqlite3_finalize(st);
    for (unsigned s = 0; s < TREE_NODE_SLOTS; s++) {
        if (node.child[s].kind != TREE_CHILD_NODE)
            continue;
        snprintf(child, sizeof child, "%s%x", path, s);
        reach_from(f, tree, child, node.child[s].version);
    }
}

/* Rows in tree_nodes for tree that no kept version reaches. */
static int unreachable_rows(fx_t *f, const char *tree)
{
    sqlite3_stmt *st = NULL;
    char sql[256];

    exec(f, "DROP TABLE IF EXISTS temp.reach");
    exec(f, "CREATE TEMP TABLE reach (path TEXT, version INTEGER, PRIMARY KEY (path, version))");
    snprintf(sql, sizeof sql,
             "SELECT node_version FROM tree_roots WHERE tree = '%s' AND node_version IS NOT NULL",
             tree);
    REQUIRE(sqlite3_prepare_v2(ledger_db(f->l), sql, -1, &st, NULL) == SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW)
        reach_from(f, tree, "", (uint64_t)sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
    return count(f,
                 "SELECT count(*) FROM tree_nodes n WHERE tree = '%s' AND NOT EXISTS"
                 " (SELECT 1 FROM reach r WHERE r.path = n.path AND r.version = n.version)",
                 tree);
}

/* tree_unapply takes back the open transaction's newest version, rows and
 * all, so that version can be written again; nothing of it remains. */
START_TEST(test_unapply)
{
    fx_t f;
    model_t m;
    tree_update_t u[40];
    uint8_t root[32], want[32];
    uint64_t v;

    rng_seed(7);
    fx_open(&f);
    model_init(&m);
    gen_batch(&m, u, 40);
    apply_both(&f, &m, "accounts", 1, u, 40);
    int nodes = count(&f, "SELECT count(*) FROM tree_nodes");
    int stale = count(&f, "SELECT count(*) FROM tree_stale");
    OK(&f, ledger_begin(f.l));
    gen_batch(&m, u, 40);
    OK(&f, tree_apply(f.q, "accounts", 2, u, 40, root));
    OK(&f, tree_unapply(f.q, "accounts", 2));
    OK(&f, tree_latest(f.q, "accounts", &v));
    ck_assert_uint_eq(v, 1);
    ck_assert_int_eq(count(&f, "SELECT count(*) FROM tree_nodes"), nodes);
    ck_assert_int_eq(count(&f, "SELECT count(*) FROM tree_stale"), stale);
    OK(&f, tree_unapply(f.q, "accounts", 2)); /* nothing left: a no-op */
    OK(&f, tree_apply(f.q, "accounts", 2, u, 40, root));
    OK(&f, ledger_commit(f.l));
    model_apply(&m, u, 40);
    smt_root(m.smt, want);
    ck_assert_mem_eq(root, want, 32);
    check_version(&f, "accounts", 2, &m, m.smt, 40);
    model_free(&m);
    fx_close(&f);
}
END_TEST

START_TEST(test_prune)
{
    enum { N = 30, KEEP = 20, BUDGET = 7 };
    fx_t f;
    model_t m, m2;
    uint8_t root[32];
    uint64_t v;
    size_t deleted = 0, total = 0, calls = 0;

    rng_seed(2024);
    fx_open(&f);
    model_init(&m);
    model_init(&m2);
    batch_t *b = run_history(&f, &m, "accounts", 0, N, 80, 2);
    batch_t *other = run_history(&f, &m2, "records", 0, 5, 40, 2);
    int other_rows = count(&f, "SELECT count(*) FROM tree_nodes WHERE tree = 'records'");
    ck_assert_int_eq(unreachable_rows(&f, "accounts"), 0);
    int before = count(&f, "SELECT count(*) FROM tree_nodes WHERE tree = 'accounts'");
#define STALE_SQL "SELECT count(*) FROM tree_stale WHERE tree = 'accounts' AND since <= %d"
    int stale = count(&f, STALE_SQL, KEEP);
    ck_assert_int_gt(stale, 3 * BUDGET);

    OK(&f, ledger_begin(f.l));
    do {
        OK(&f, tree_prune(f.q, "accounts", KEEP, BUDGET, &deleted));
        ck_assert_uint_le(deleted, BUDGET);
        total += deleted;
        calls++;
    } while (deleted == BUDGET);
    OK(&f, ledger_commit(f.l));
    ck_assert_uint_eq(total, (size_t)stale);
    ck_assert_uint_ge(calls, 4);
    ck_assert_int_eq(count(&f, "SELECT count(*) FROM tree_nodes WHERE tree = 'accounts'"),
                     before - stale);
    ck_assert_int_eq(count(&f, STALE_SQL, KEEP), 0);
    ck_assert_int_eq(unreachable_rows(&f, "accounts"), 0);
    OK(&f, tree_oldest(f.q, "accounts", &v));
    ck_assert_uint_eq(v, KEEP);
    ck_assert_int_eq(tree_root_at(f.q, "accounts", KEEP - 1, root, NULL), -ESTALE);
    ck_assert_int_eq(tree_prove(f.q, "accounts", 0, root, &(smt_proof_t){0}), -ESTALE);
    check_history(&f, &m, "accounts", 0, b, N, KEEP, 10);
    /* The other tree in the same tables is untouched. */
    ck_assert_int_eq(count(&f, "SELECT count(*) FROM tree_nodes WHERE tree = 'records'"),
                     other_rows);
    check_history(&f, &m2, "records", 0, other, 5, 0, 4);

    /* Keeping from beyond the latest keeps the latest only. */
    OK(&f, tree_prune(f.q, "accounts", 1000, SIZE_MAX, &deleted));
    OK(&f, tree_oldest(f.q, "accounts", &v));
    ck_assert_uint_eq(v, N - 1);
    ck_assert_int_eq(count(&f, "SELECT count(*) FROM tree_stale WHERE tree = 'accounts'"), 0);
    ck_assert_int_eq(unreachable_rows(&f, "accounts"), 0);
    check_history(&f, &m, "accounts", 0, b, N, N - 1, 20);
    free_history(b, N);
    free_history(other, 5);
    model_free(&m2);
    model_free(&m);
    fx_close(&f);
}
END_TEST

START_TEST(test_prune_skipped_versions)
{
    fx_t f;
    tree_update_t u[3];
    uint8_t k[3][32] = {{1}, {2}, {3}}, root5[32], root[32];
    uint64_t v;
    size_t deleted;

    fx_open(&f);
    set_upd(&u[0], k[0], 0);
    set_upd(&u[1], k[1], 0);
    OK(&f, tree_apply(f.q, "accounts", 0, u, 2, root));
    set_upd(&u[2], k[2], 0);
    OK(&f, tree_apply(f.q, "accounts", 5, &u[2], 1, root5));
    set_upd(&u[0], k[0], 1);
    OK(&f, tree_apply(f.q, "accounts", 10, u, 1, root));
    /* Keeping from 7 keeps 5, whose state 7 is. */
    OK(&f, tree_prune(f.q, "accounts", 7, 100, &deleted));
    ck_assert_uint_eq(deleted, 2); /* version 0's root and its node "0" (keys 01.. and 02..) */
    OK(&f, tree_oldest(f.q, "accounts", &v));
    ck_assert_uint_eq(v, 5);
    OK(&f, tree_root_at(f.q, "accounts", 7, root, NULL));
    ck_assert_mem_eq(root, root5, 32);
    ck_assert_int_eq(tree_get(f.q, "accounts", 7, k[0], root), 1);
    ck_assert_int_eq(tree_root_at(f.q, "accounts", 4, root, NULL), -ESTALE);
    fx_close(&f);
}
END_TEST

/* What tree_foreach's callback has seen. */
typedef struct {
    smt_t *ref;          /* the leaves it must see */
    uint8_t last[32];
    size_t seen;
    size_t stop_at;      /* answer 77 at this many leaves (0: never) */
} walk_ctx_t;

static int collect(void *ctx, const uint8_t key[32], const uint8_t value[32])
{
    walk_ctx_t *c = ctx;
    uint8_t want[32];
    REQUIRE(smt_get(c->ref, key, want) == 0);
    REQUIRE(memcmp(want, value, 32) == 0);
    REQUIRE(c->seen == 0 || memcmp(c->last, key, 32) < 0); /* ascending */
    memcpy(c->last, key, 32);
    return ++c->seen == c->stop_at ? 77 : 0;
}

START_TEST(test_foreach)
{
    fx_t f;
    model_t m;
    tree_update_t u[400];

    rng_seed(5);
    fx_open(&f);
    model_init(&m);
    gen_batch(&m, u, 400);
    apply_both(&f, &m, "accounts", 0, u, 400);
    walk_ctx_t all = {.ref = m.smt}, some = {.ref = m.smt, .stop_at = 100};
    OK(&f, tree_foreach(f.q, "accounts", 0, collect, &all));
    ck_assert_uint_gt(smt_count(m.smt), 100);
    ck_assert_uint_eq(all.seen, smt_count(m.smt));
    /* fn's nonzero answer stops the walk and comes back. */
    ck_assert_int_eq(tree_foreach(f.q, "accounts", 0, collect, &some), 77);
    ck_assert_uint_eq(some.seen, 100);
    /* An empty tree calls nothing. */
    walk_ctx_t none = {.ref = m.smt};
    OK(&f, tree_apply(f.q, "records", 0, NULL, 0, (uint8_t[32]){0}));
    OK(&f, tree_foreach(f.q, "records", 0, collect, &none));
    ck_assert_uint_eq(none.seen, 0);
    model_free(&m);
    fx_close(&f);
}
END_TEST

/* A tree of 600 leaves at version 0 and 700 at 1, and the depth-1 node
 * on the path of one key, whose row at version 1 the test damages. */
typedef struct {
    fx_t f;
    model_t m;
    smt_t *v0;              /* the reference at version 0 */
    const uint8_t *key;     /* a key whose first nibble is 8 or more: other subtrees come first */
    char path[2];           /* its first nibble: the node to damage */
} damage_t;

static void damage_open(damage_t *d)
{
    tree_update_t u[600];

    rng_seed(77);
    fx_open(&d->f);
    model_init(&d->m);
    gen_batch(&d->m, u, 600);
    apply_both(&d->f, &d->m, "accounts", 0, u, 600);
    d->v0 = smt_new();
    ck_assert_ptr_nonnull(d->v0);
    model_apply(&(model_t){.smt = d->v0}, u, 600);
    gen_batch(&d->m, u, 100);
    apply_both(&d->f, &d->m, "accounts", 1, u, 100);
    d->key = d->m.keys[0];
    for (size_t j = 0; d->key[0] < 0x80; j++)
        d->key = d->m.keys[j];
    snprintf(d->path, sizeof d->path, "%x", d->key[0] >> 4);
    ck_assert_int_eq(count(&d->f, "SELECT count(*) FROM tree_nodes WHERE path = '%s'", d->path), 2);
}

static void damage_close(damage_t *d)
{
    smt_free(d->v0);
    model_free(&d->m);
    fx_close(&d->f);
}

/* Run sql (an UPDATE or DELETE of tree_nodes without its WHERE) on the
 * damaged node's row at version 1. */
static void damage_row(damage_t *d, const char *sql)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s WHERE path = '%s' AND version = 1", sql, d->path);
    exec(&d->f, buf);
}

/* Every read through the damaged node fails with want, and so does a
 * write through it, which leaves nothing behind though its batch changes
 * other subtrees first. Version 0, whose row of that node is another,
 * still proves. */
static void expect_damage(damage_t *d, int want, const char *msg)
{
    fx_t *f = &d->f;
    smt_proof_t p;
    tree_update_t u[101];
    uint8_t val[32];
    int rows = count(f, "SELECT count(*) FROM tree_nodes");

    ck_assert_int_eq(tree_prove(f->q, "accounts", 1, d->key, &p), want);
    ck_assert_ptr_nonnull(strstr(sql_errmsg(f->q), "tree accounts: node"));
    ck_assert_ptr_nonnull(strstr(sql_errmsg(f->q), msg));
    ck_assert_int_eq(tree_get(f->q, "accounts", 1, d->key, val), want);
    walk_ctx_t c = {.ref = d->m.smt};
    ck_assert_int_eq(tree_foreach(f->q, "accounts", 1, collect, &c), want);
    for (size_t i = 0; i < 100; i++)
        set_upd(&u[i], d->m.keys[i], 0);
    set_upd(&u[100], d->key, 0);
    ck_assert_int_eq(tree_apply(f->q, "accounts", 2, u, 101, val), want);
    ck_assert_int_eq(count(f, "SELECT count(*) FROM tree_nodes"), rows);
    ck_assert_int_eq(count(f, "SELECT count(*) FROM tree_roots WHERE version = 2"), 0);
    check_key(f, "accounts", 0, d->v0, d->key);
}

/* Damage the row with sql (see damage_row) and expect want, msg. */
static void damage_by(const char *sql, int want, const char *msg)
{
    damage_t d;
    damage_open(&d);
    damage_row(&d, sql);
    expect_damage(&d, want, msg);
    damage_close(&d);
}

START_TEST(test_damaged_blob)
{
    damage_by("UPDATE tree_nodes SET node = x'01ff'", -EBADMSG, "child count");
}
END_TEST

START_TEST(test_damaged_hash_column)
{
    damage_by("UPDATE tree_nodes SET hash = substr(hash, 2) || substr(hash, 1, 1)", -EBADMSG,
              "does not match its contents");
}
END_TEST

/* Prepare sql (?1: the damaged node's path) on the fixture's connection. */
static sqlite3_stmt *damage_stmt(damage_t *d, const char *sql)
{
    sqlite3_stmt *st = NULL;
    ck_assert_int_eq(sqlite3_prepare_v2(ledger_db(d->f.l), sql, -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, d->path, -1, SQLITE_STATIC);
    return st;
}

START_TEST(test_damaged_leaf_in_blob)
{
    /* A leaf's value changed inside an otherwise sound blob. */
    damage_t d;
    tree_node_t node;
    uint8_t buf[TREE_NODE_MAX];
    size_t len;
    unsigned leaves = 0;

    damage_open(&d);
    sqlite3_stmt *st =
        damage_stmt(&d, "SELECT node FROM tree_nodes WHERE path = ?1 AND version = 1");
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(tree_node_decode(&node, sqlite3_column_blob(st, 0),
                                      (size_t)sqlite3_column_bytes(st, 0), NULL), 0);
    sqlite3_finalize(st);
    for (unsigned s = 0; s < TREE_NODE_SLOTS; s++) {
        leaves += node.child[s].kind == TREE_CHILD_LEAF;
        node.child[s].value[0] ^= 1; /* read in the leaves only */
    }
    ck_assert_uint_gt(leaves, 0);
    ck_assert_int_eq(tree_node_encode(&node, buf, sizeof buf, &len), 0);
    st = damage_stmt(&d, "UPDATE tree_nodes SET node = ?2 WHERE path = ?1 AND version = 1");
    sqlite3_bind_blob(st, 2, buf, (int)len, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    expect_damage(&d, -EBADMSG, "does not match its contents");
    damage_close(&d);
}
END_TEST

START_TEST(test_damaged_row_from_other_version)
{
    /* A row sound in itself (version 0's contents) but not the one its
     * parent names. */
    damage_t d;
    char sql[256];
    damage_open(&d);
    snprintf(sql, sizeof sql,
             "UPDATE tree_nodes SET (hash, leaves, node) = (SELECT hash, leaves, node FROM"
             " tree_nodes WHERE path = '%s' AND version = 0)", d.path);
    damage_row(&d, sql);
    expect_damage(&d, -EBADMSG, "parent");
    damage_close(&d);
}
END_TEST

START_TEST(test_damaged_missing_row)
{
    damage_by("DELETE FROM tree_nodes", -EIO, "missing");
}
END_TEST

START_TEST(test_damaged_root_row)
{
    damage_t d;
    uint8_t root[32];
    damage_open(&d);
    exec(&d.f, "UPDATE tree_roots SET root = 'zz' WHERE version = 1");
    ck_assert_int_eq(tree_root_at(d.f.q, "accounts", 1, root, NULL), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(sql_errmsg(d.f.q), "root row"));
    ck_assert_int_eq(tree_prove(d.f.q, "accounts", 1, d.key, &(smt_proof_t){0}), -EBADMSG);
    ck_assert_int_eq(tree_apply(d.f.q, "accounts", 2, NULL, 0, root), -EBADMSG);
    exec(&d.f, "UPDATE tree_roots SET node_version = NULL WHERE version = 0");
    ck_assert_int_eq(tree_root_at(d.f.q, "accounts", 0, root, NULL), -EBADMSG);
    damage_close(&d);
}
END_TEST

START_TEST(test_one_change_rewrites_its_path)
{
    /* In a tree of about 3000 leaves, changing one leaf writes one row per
     * node on its path, marks as many stale, and nothing else. */
    fx_t f;
    model_t m;
    tree_update_t u[1000];
    smt_proof_t p;

    rng_seed(31337);
    fx_open(&f);
    model_init(&m);
    for (uint64_t v = 0; v < 5; v++) {
        gen_batch(&m, u, 1000);
        apply_both(&f, &m, "accounts", v, u, 1000);
    }
    ck_assert_uint_gt(smt_count(m.smt), 1500);
    for (uint64_t v = 5; v < 15; v++) {
        const uint8_t *k = m.keys[rng_next() % m.n_keys];
        if (smt_prove(m.smt, k, &p) != 0 || !p.has_leaf || memcmp(p.leaf_key, k, 32) != 0) {
            v--;
            continue; /* only keys that are present */
        }
        set_upd(&u[0], k, 0);
        apply_both(&f, &m, "accounts", v, u, 1);
        int nodes = (int)(p.n_siblings == 0 ? 1 : (p.n_siblings - 1) / 4 + 1);
        ck_assert_int_eq(count(&f, "SELECT count(*) FROM tree_nodes WHERE version = %" PRIu64, v),
                         nodes);
        ck_assert_int_eq(count(&f, "SELECT count(*) FROM tree_stale WHERE since = %" PRIu64, v),
                         nodes);
        check_key(&f, "accounts", v, m.smt, k);
    }
    model_free(&m);
    fx_close(&f);
}
END_TEST

START_TEST(test_reader_connection)
{
    /* A bare sql_t on a read-only connection serves the same proofs. */
    fx_t f;
    model_t m;
    tree_update_t u[200];
    ledger_t *r = NULL;
    char err[LEDGER_ERR_MAX];

    rng_seed(9);
    fx_open(&f);
    model_init(&m);
    gen_batch(&m, u, 200);
    apply_both(&f, &m, "accounts", 0, u, 200);
    ck_assert_msg(ledger_open_reader(&r, f.dir.db, &SCHEMA, err) == 0, "%s", err);
    sql_t bare = SQL_BARE(ledger_db(r));
    fx_t rf = f;
    rf.q = &bare;
    check_version(&rf, "accounts", 0, &m, m.smt, 30);
    ledger_close(r);
    model_free(&m);
    fx_close(&f);
}
END_TEST

/* What tree_upgrade reported, for the upgrade test. */
typedef struct {
    uint64_t calls, done, total;
} upgrade_seen_t;

static void upgrade_progress(void *ctx, uint64_t done, uint64_t total)
{
    upgrade_seen_t *p = ctx;
    REQUIRE(done > p->done && done <= total);
    p->calls++;
    p->done = done;
    p->total = total;
}

START_TEST(test_upgrade_moves_rows)
{
    /* A history written in the old layout, then the new schema and the
     * move: every version keeps its root and its proofs, no row is lost,
     * the old table is gone, and a second call has nothing to do. */
    fx_t f;
    model_t m;
    size_t n = 30;
    char err[LEDGER_ERR_MAX];
    upgrade_seen_t seen = {0};

    rng_seed(4242);
    fx_open_schema(&f, &SCHEMA_V1);
    model_init(&m);
    batch_t *b = run_history(&f, &m, "accounts", 0, n, 1500, 0);
    int rows = count(&f, "SELECT count(*) FROM tree_nodes");
    ck_assert_int_gt(rows, 20000); /* more than one step of the move */
    ledger_close(f.l);
    ck_assert_msg(ledger_open(&f.l, f.dir.db, &SCHEMA, err) == 0, "%s", err);
    f.q = ledger_sql(f.l);
    ck_assert_int_eq(count(&f, "SELECT count(*) FROM tree_nodes"), 0);
    ck_assert_int_eq(count(&f, "SELECT count(*) FROM tree_nodes_v1"), rows);
    OK(&f, tree_upgrade(f.q, upgrade_progress, &seen));
    ck_assert_uint_ge(seen.calls, 2);
    ck_assert_uint_eq(seen.done, (uint64_t)rows);
    ck_assert_uint_eq(seen.total, (uint64_t)rows);
    ck_assert_int_eq(count(&f, "SELECT count(*) FROM tree_nodes"), rows);
    ck_assert_int_eq(count(&f, "SELECT count(*) FROM sqlite_master WHERE name = 'tree_nodes_v1'"),
                     0);
    check_history(&f, &m, "accounts", 0, b, n, 0, 6);
    seen.calls = 0;
    OK(&f, tree_upgrade(f.q, upgrade_progress, &seen));
    ck_assert_uint_eq(seen.calls, 0);
    /* and the tree goes on growing in the new layout */
    batch_t *more = run_history(&f, &m, "accounts", n, 4, 200, 6);
    free_history(more, 4);
    free_history(b, n);
    model_free(&m);
    fx_close(&f);
}
END_TEST

/* ---- tree_build ---- */

typedef struct {
    const tree_update_t *u;
    size_t n, at;
    int fail_at;            /* return -EIO at this leaf (-1: never) */
} leaves_t;

static int leaves_next(void *ctx, uint8_t key[32], uint8_t value[32], char *err, size_t errlen)
{
    leaves_t *l = ctx;
    if (l->fail_at >= 0 && l->at == (size_t)l->fail_at) {
        snprintf(err, errlen, "the source failed");
        return -EIO;
    }
    /* like sqlite3_step, a source asked again after its end would start
     * over: tree_build must not ask */
    REQUIRE(l->at <= l->n);
    if (l->at == l->n) {
        l->at++;
        return 0;
    }
    memcpy(key, l->u[l->at].key, 32);
    memcpy(value, l->u[l->at].value, 32);
    l->at++;
    return 1;
}

static int by_key(const void *a, const void *b)
{
    return memcmp(((const tree_update_t *)a)->key, ((const tree_update_t *)b)->key, 32);
}

/* Every node and root row of tree, as text, for comparing two ledgers. */
static void rows_text(fx_t *f, char *out, size_t cap)
{
    db_text(ledger_db(f->l),
            "SELECT (SELECT coalesce(group_concat(r, ';'), '') FROM (SELECT path || ',' ||"
            " version || ',' || hash || ',' || leaves || ',' || hex(node) AS r FROM tree_nodes"
            " ORDER BY tree, version, path)) || '|' || (SELECT group_concat(version || ',' ||"
            " root || ',' || coalesce(node_version, '-') || ',' || leaves) FROM tree_roots)",
            out, cap);
}

START_TEST(test_build_matches_apply)
{
    /* Sets of 0, 1, 2, 3 leaves, neighbours sharing up to 255 bits, and a
     * few thousand: the same rows as one tree_apply batch, byte for byte. */
    static const size_t sizes[] = {0, 1, 2, 3, 40, 3000};
    size_t cap = 1 << 22;
    char *a = malloc(cap), *b = malloc(cap);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    rng_seed(99);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        tree_update_t *u = calloc(n ? n : 1, sizeof *u);
        ck_assert_ptr_nonnull(u);
        for (size_t k = 0; k < n; k++) {
            rng_bytes(u[k].key, 32);
            rng_bytes(u[k].value, 32);
            if (k > 0 && k % 5 == 0) { /* a neighbour of the one before */
                unsigned bit = (unsigned)(rng_next() % 256);
                memcpy(u[k].key, u[k - 1].key, 32);
                u[k].key[bit / 8] ^= (uint8_t)(0x80u >> (bit % 8));
            }
        }
        qsort(u, n, sizeof *u, by_key);
        for (size_t k = 1; k < n; k++)
            REQUIRE(memcmp(u[k - 1].key, u[k].key, 32) != 0);
        fx_t fa, fb;
        uint8_t ra[32], rb[32];
        leaves_t src = {u, n, 0, -1};
        fx_open(&fa);
        fx_open(&fb);
        OK(&fa, tree_apply(fa.q, "accounts", 7, u, n, ra));
        OK(&fb, tree_build(fb.q, "accounts", 7, leaves_next, &src, rb));
        ck_assert_mem_eq(ra, rb, 32);
        rows_text(&fa, a, cap);
        rows_text(&fb, b, cap);
        ck_assert_str_eq(a, b);
        fx_close(&fa);
        fx_close(&fb);
        free(u);
    }
    free(a);
    free(b);
}
END_TEST

START_TEST(test_build_refusals)
{
    fx_t f;
    uint8_t root[32];
    tree_update_t u[3];
    memset(u, 0, sizeof u);
    u[0].key[0] = 1;
    u[1].key[0] = 3;
    u[2].key[0] = 2; /* out of order */
    fx_open(&f);
    leaves_t bad = {u, 3, 0, -1};
    ck_assert_int_eq(tree_build(f.q, "accounts", 1, leaves_next, &bad, root), -EINVAL);
    ck_assert_msg(strstr(sql_errmsg(f.q), "ascending") != NULL, "%s", sql_errmsg(f.q));
    leaves_t dup = {u, 3, 0, -1};
    u[2].key[0] = 3; /* a repeated key */
    ck_assert_int_eq(tree_build(f.q, "accounts", 1, leaves_next, &dup, root), -EINVAL);
    leaves_t failing = {u, 2, 0, 1};
    ck_assert_int_eq(tree_build(f.q, "accounts", 1, leaves_next, &failing, root), -EIO);
    ck_assert_str_eq(sql_errmsg(f.q), "the source failed");
    /* nothing of the failed builds stayed */
    ck_assert_int_eq(count(&f, "SELECT count(*) FROM tree_nodes"), 0);
    ck_assert_int_eq(count(&f, "SELECT count(*) FROM tree_roots"), 0);
    leaves_t good = {u, 2, 0, -1};
    OK(&f, tree_build(f.q, "accounts", 1, leaves_next, &good, root));
    ck_assert_uint_eq(good.at, 3); /* asked once past the end, and no more */
    good.at = 0;
    ck_assert_int_eq(tree_build(f.q, "accounts", 2, leaves_next, &good, root), -EEXIST);
    fx_close(&f);
}
END_TEST

static void bulk_progress(void *ctx, uint64_t done, uint64_t total)
{
    upgrade_seen_t *p = ctx;
    REQUIRE(done >= p->done && done <= total);
    p->calls++;
    p->done = done;
    p->total = total;
}

/* Bulk-load n random leaves (every seventh put again later with another
 * value) and compare with tree_apply of the same puts in one batch. */
static void bulk_against_apply(size_t n)
{
    tree_update_t *u = calloc(n, sizeof *u);
    size_t cap = 1 << 26;
    char *a = malloc(cap), *b = malloc(cap);
    uint8_t ra[32], rb[32];
    fx_t fa, fb;
    tree_bulk_t bulk;
    ck_assert(u != NULL && a != NULL && b != NULL);
    for (size_t k = 0; k < n; k++) {
        if (k % 7 == 6)
            memcpy(u[k].key, u[k / 2].key, 32); /* a key put before, maybe in another run */
        else
            rng_bytes(u[k].key, 32);
        rng_bytes(u[k].value, 32);
    }
    fx_open(&fa);
    fx_open(&fb);
    OK(&fa, ledger_begin(fa.l));
    OK(&fa, tree_apply(fa.q, "accounts", 3, u, n, ra));
    OK(&fa, ledger_commit(fa.l));
    OK(&fb, ledger_begin(fb.l));
    OK(&fb, tree_bulk_begin(&bulk, fb.q, "accounts"));
    for (size_t k = 0; k < n; k++)
        OK(&fb, tree_bulk_put(&bulk, u[k].key, u[k].value));
    ck_assert_uint_eq(bulk.runs, n / TREE_BULK_RUN);
    upgrade_seen_t seen = {0};
    OK(&fb, tree_bulk_finish(&bulk, 3, bulk_progress, &seen, rb));
    tree_bulk_end(&bulk);
    tree_bulk_end(&bulk); /* idempotent */
    OK(&fb, ledger_commit(fb.l));
    ck_assert_uint_eq(seen.total, n);
    ck_assert_mem_eq(ra, rb, 32);
    rows_text(&fa, a, cap);
    rows_text(&fb, b, cap);
    ck_assert(strcmp(a, b) == 0);
    ck_assert_int_eq(count(&fb, "SELECT count(*) FROM temp.sqlite_master"), 0);
    fx_close(&fa);
    fx_close(&fb);
    free(u);
    free(a);
    free(b);
}

START_TEST(test_bulk_in_memory)
{
    rng_seed(5);
    bulk_against_apply(0);
    bulk_against_apply(1);
    bulk_against_apply(2000);
}
END_TEST

START_TEST(test_bulk_merges_runs)
{
    rng_seed(6);
    bulk_against_apply(2 * TREE_BULK_RUN + 5000); /* three runs, duplicates across them */
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "tree", .tcase = "core", .timeout_s = 60};
    return suite_build(&spec, SUITE_TESTS(
        test_empty_one_two_leaves, test_long_shared_prefixes, test_random_histories,
        test_batch_semantics, test_versions_refused, test_savepoint_rollback, test_unapply, test_prune,
        test_prune_skipped_versions, test_foreach, test_damaged_blob, test_damaged_hash_column,
        test_damaged_leaf_in_blob, test_damaged_row_from_other_version, test_damaged_missing_row,
        test_damaged_root_row, test_one_change_rewrites_its_path, test_reader_connection,
        test_upgrade_moves_rows, test_build_matches_apply, test_build_refusals,
        test_bulk_in_memory, test_bulk_merges_runs));
}
