/* A tree's first version from unsorted leaves; see tree_bulk.h. */
#include "common/store/tree_bulk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROGRESS_EVERY 16384 /* leaves between progress calls */

struct tree_bulk_leaf {
    uint8_t key[SMT_KEY_LEN];
    uint8_t value[SMT_HASH_LEN];
    uint64_t seq;              /* order of the put */
};

static const char SQL_CREATE[] =
    "CREATE TEMP TABLE tree_bulk (run INTEGER NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL,"
    " PRIMARY KEY (run, key)) WITHOUT ROWID";
static const char SQL_PUT[] = "INSERT INTO temp.tree_bulk (run, key, value) VALUES (?, ?, ?)";
static const char SQL_READ[] = "SELECT key, value FROM temp.tree_bulk WHERE run = ? ORDER BY key";
static const char SQL_DROP[] = "DROP TABLE IF EXISTS temp.tree_bulk";

static int by_key_then_seq(const void *a, const void *b)
{
    const tree_bulk_leaf_t *x = a, *y = b;
    int c = memcmp(x->key, y->key, SMT_KEY_LEN);
    return c != 0 ? c : x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sort the gathered run and keep the last put of each key. */
static void run_sort(tree_bulk_t *b)
{
    size_t k = 0;
    qsort(b->run, b->in_run, sizeof *b->run, by_key_then_seq);
    for (size_t i = 0; i < b->in_run; i++)
        if (i + 1 == b->in_run || memcmp(b->run[i].key, b->run[i + 1].key, SMT_KEY_LEN) != 0)
            b->run[k++] = b->run[i];
    b->in_run = k;
}

/* Sort the gathered run and append it to the table as the next run. */
static int run_flush(tree_bulk_t *b)
{
    int rc = 0;
    if (!b->table && (rc = sql_exec(b->q, SQL_CREATE, NULL)) < 0)
        return rc;
    b->table = true;
    run_sort(b);
    for (size_t i = 0; rc == 0 && i < b->in_run; i++)
        rc = sql_exec(b->q, SQL_PUT, "ubb", b->runs, b->run[i].key, (size_t)SMT_KEY_LEN,
                      b->run[i].value, (size_t)SMT_HASH_LEN);
    if (rc == 0) {
        b->runs++;
        b->in_run = 0;
    }
    return rc;
}

int tree_bulk_begin(tree_bulk_t *b, sql_t *q, const char *tree)
{
    memset(b, 0, sizeof *b);
    b->q = q;
    b->tree = tree;
    if ((b->run = malloc(TREE_BULK_RUN * sizeof *b->run)) == NULL) {
        snprintf(q->err, sizeof q->err, "tree %s: bulk load: out of memory", tree);
        return -ENOMEM;
    }
    return 0;
}

int tree_bulk_put(tree_bulk_t *b, const uint8_t key[SMT_KEY_LEN], const uint8_t value[SMT_HASH_LEN])
{
    int rc;
    if (b->in_run == TREE_BULK_RUN && (rc = run_flush(b)) < 0)
        return rc;
    tree_bulk_leaf_t *l = &b->run[b->in_run++];
    memcpy(l->key, key, SMT_KEY_LEN);
    memcpy(l->value, value, SMT_HASH_LEN);
    l->seq = b->seq++;
    b->n++;
    return 0;
}

/* ---- merging ---- */

/* One run being read: its cursor and its current leaf. */
typedef struct {
    sqlite3_stmt *st;
    uint64_t run;
    uint8_t key[SMT_KEY_LEN], value[SMT_HASH_LEN];
} head_t;

typedef struct {
    tree_bulk_t *b;
    head_t *h;                 /* a min-heap by (key, newest run first) */
    size_t n;                  /* runs not yet exhausted */
    size_t mem_at;             /* the in-memory run, when there is no table */
    uint64_t done;
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *ctx;
} merge_t;

static bool head_less(const head_t *x, const head_t *y)
{
    int c = memcmp(x->key, y->key, SMT_KEY_LEN);
    return c < 0 || (c == 0 && x->run > y->run);
}

static void sift_down(merge_t *m, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, s = i;
        if (l < m->n && head_less(&m->h[l], &m->h[s]))
            s = l;
        if (r < m->n && head_less(&m->h[r], &m->h[s]))
            s = r;
        if (s == i)
            return;
        head_t t = m->h[i];
        m->h[i] = m->h[s];
        m->h[s] = t;
        i = s;
    }
}

/* Step head h to its run's next leaf: 1, 0 (the run is done), or a code. */
static int head_step(tree_bulk_t *b, head_t *h)
{
    int rc = sql_step(b->q, h->st);
    if (rc <= 0)
        return rc;
    if (sqlite3_column_bytes(h->st, 0) != SMT_KEY_LEN ||
        sqlite3_column_bytes(h->st, 1) != SMT_HASH_LEN) {
        snprintf(b->q->err, sizeof b->q->err, "tree %s: a loaded leaf has the wrong size", b->tree);
        return -EIO;
    }
    memcpy(h->key, sqlite3_column_blob(h->st, 0), SMT_KEY_LEN);
    memcpy(h->value, sqlite3_column_blob(h->st, 1), SMT_HASH_LEN);
    return 1;
}

/* Move the top of the heap on, dropping its run when it ends. */
static int heap_advance(merge_t *m)
{
    int rc = head_step(m->b, &m->h[0]);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        sql_release(m->b->q, m->h[0].st);
        m->h[0] = m->h[--m->n];
    }
    sift_down(m, 0);
    return 0;
}

/* tree_build's source: the smallest key of all runs (the newest run's
 * value for a key in several), each key once. */
static int merge_next(void *ctx, uint8_t key[SMT_KEY_LEN], uint8_t value[SMT_HASH_LEN],
                      char *err, size_t errlen)
{
    merge_t *m = ctx;
    tree_bulk_t *b = m->b;
    int rc = 0;

    if (!b->table) { /* one run, in memory */
        if (m->mem_at == b->in_run)
            return 0;
        memcpy(key, b->run[m->mem_at].key, SMT_KEY_LEN);
        memcpy(value, b->run[m->mem_at].value, SMT_HASH_LEN);
        m->mem_at++;
    } else {
        if (m->n == 0)
            return 0;
        memcpy(key, m->h[0].key, SMT_KEY_LEN);
        memcpy(value, m->h[0].value, SMT_HASH_LEN);
        while (rc == 0 && m->n > 0 && memcmp(m->h[0].key, key, SMT_KEY_LEN) == 0)
            rc = heap_advance(m); /* this key in older runs: superseded */
        if (rc < 0) {
            snprintf(err, errlen, "%s", sql_errmsg(b->q));
            return rc;
        }
    }
    if (++m->done % PROGRESS_EVERY == 0 && m->progress)
        m->progress(m->ctx, m->done, b->n);
    return 1;
}

/* Open a cursor on every run and order the heap. */
static int merge_open(merge_t *m)
{
    tree_bulk_t *b = m->b;
    int rc = 0;

    if ((m->h = calloc(b->runs ? b->runs : 1, sizeof *m->h)) == NULL) {
        snprintf(b->q->err, sizeof b->q->err, "tree %s: bulk load: out of memory", b->tree);
        return -ENOMEM;
    }
    for (uint64_t r = 0; rc == 0 && r < b->runs; r++) {
        head_t *h = &m->h[m->n];
        h->run = r;
        if ((rc = sql_query(b->q, &h->st, SQL_READ, "u", r)) < 0)
            break;
        if ((rc = head_step(b, h)) <= 0)
            sql_release(b->q, h->st);
        else
            m->n++;
        rc = rc < 0 ? rc : 0;
    }
    for (size_t i = m->n / 2; i-- > 0;)
        sift_down(m, i);
    return rc;
}

int tree_bulk_finish(tree_bulk_t *b, uint64_t version,
                     void (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx,
                     uint8_t root[SMT_HASH_LEN])
{
    merge_t m = {.b = b, .progress = progress, .ctx = ctx};
    int rc = 0;

    if (b->table && b->in_run > 0)
        rc = run_flush(b);
    else if (!b->table)
        run_sort(b);
    if (rc == 0 && b->table)
        rc = merge_open(&m);
    if (rc == 0)
        rc = tree_build(b->q, b->tree, version, merge_next, &m, root);
    for (size_t i = 0; i < m.n; i++)
        sql_release(b->q, m.h[i].st);
    free(m.h);
    if (rc == 0 && progress)
        progress(ctx, m.done, b->n);
    return rc;
}

void tree_bulk_end(tree_bulk_t *b)
{
    if (b->q == NULL)
        return;
    free(b->run);
    b->run = NULL;
    if (b->table)
        sql_exec_quiet(b->q, SQL_DROP);
    b->q = NULL;
}
