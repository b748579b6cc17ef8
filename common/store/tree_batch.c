/* A block's pending updates of one persisted tree; see tree_batch.h. */
#include "common/store/tree_batch.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/hex.h"

void tree_batch_init(tree_batch_t *b, const char *tree)
{
    memset(b, 0, sizeof *b);
    b->tree = tree;
}

void tree_batch_free(tree_batch_t *b)
{
    if (b == NULL)
        return;
    free(b->u);
    b->u = NULL;
    b->n = b->cap = 0;
}

static int batch_push(tree_batch_t *b, const uint8_t key[SMT_KEY_LEN],
                      const uint8_t value[SMT_HASH_LEN])
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        tree_update_t *u = realloc(b->u, cap * sizeof *u);
        if (u == NULL)
            return -ENOMEM;
        b->u = u;
        b->cap = cap;
    }
    tree_update_t *e = &b->u[b->n++];
    memcpy(e->key, key, SMT_KEY_LEN);
    if (value != NULL)
        memcpy(e->value, value, SMT_HASH_LEN);
    else
        memset(e->value, 0, SMT_HASH_LEN);
    e->remove = value == NULL;
    return 0;
}

int tree_batch_put(tree_batch_t *b, const uint8_t key[SMT_KEY_LEN],
                   const uint8_t value[SMT_HASH_LEN])
{
    return batch_push(b, key, value);
}

int tree_batch_remove(tree_batch_t *b, const uint8_t key[SMT_KEY_LEN])
{
    return batch_push(b, key, NULL);
}

size_t tree_batch_mark(const tree_batch_t *b)
{
    return b->n;
}

void tree_batch_truncate(tree_batch_t *b, size_t mark)
{
    if (mark < b->n)
        b->n = mark;
}

/* Outside a transaction: the root the batch would give, written inside a
 * savepoint that is then rolled back, so nothing stays. */
static int batch_peek(tree_batch_t *b, sql_t *q, uint64_t version, uint8_t root[SMT_HASH_LEN])
{
    int r = sql_exec(q, "SAVEPOINT tree_batch_peek", NULL);

    if (r < 0)
        return r;
    r = tree_apply(q, b->tree, version, b->u, b->n, root);
    sql_exec(q, "ROLLBACK TO tree_batch_peek", NULL);
    sql_exec(q, "RELEASE tree_batch_peek", NULL);
    return r;
}

int tree_batch_apply(tree_batch_t *b, sql_t *q, uint64_t version, uint8_t root[SMT_HASH_LEN])
{
    int r = 0;

    if (sqlite3_get_autocommit(q->db))
        return batch_peek(b, q, version, root);
    if (b->written && (r = tree_unapply(q, b->tree, b->version)) < 0)
        return r;
    if ((r = tree_apply(q, b->tree, version, b->u, b->n, root)) < 0)
        return r;
    b->written = true;
    b->version = version;
    return 0;
}

void tree_batch_clear(tree_batch_t *b)
{
    b->n = 0;
    b->written = false;
}

int tree_batch_check_tip(sql_t *q, const char *tree, uint64_t tip, uint8_t root[SMT_HASH_LEN],
                         char *err, size_t errlen)
{
    uint64_t latest = 0;
    int r = tree_latest(q, tree, &latest);

    if (r == -ENOENT) {
        snprintf(err, errlen, "the %s tree was never written", tree);
        return r;
    }
    if (r == 0 && latest != tip) {
        snprintf(err, errlen, "the %s tree stands at height %" PRIu64 " but the last block is %"
                 PRIu64, tree, latest, tip);
        return -EILSEQ;
    }
    if (r == 0)
        r = tree_root_at(q, tree, tip, root, NULL);
    if (r == 0) { /* read the root node too: its hash must be the root row's */
        uint8_t zero[SMT_KEY_LEN] = {0}, v[SMT_HASH_LEN];
        r = tree_get(q, tree, tip, zero, v);
        r = r > 0 ? 0 : r;
    }
    if (r < 0)
        snprintf(err, errlen, "reading the %s tree at height %" PRIu64 ": %s", tree, tip,
                 r == -EBADMSG || r == -ESTALE ? "a damaged node or root row" : sql_errmsg(q));
    if (r == -EBADMSG || r == -ESTALE)
        r = -EILSEQ;
    return r;
}

int tree_batch_header(sql_t *q, uint64_t *height, uint8_t root[SMT_HASH_LEN])
{
    sqlite3_stmt *st = NULL;
    int r = sql_query(q, &st, "SELECT height, state_root FROM blocks ORDER BY height DESC LIMIT 1",
                      NULL);
    int row = r == 0 ? sql_step(q, st) : r;

    if (row == 0) {
        *height = 0;
        r = 0;
    } else if (row == 1) {
        sqlite3_int64 h = sqlite3_column_int64(st, 0);
        r = h > 0 && sql_column_hex(st, 1, root, SMT_HASH_LEN) == 0 ? 0 : -EILSEQ;
        if (r == 0)
            *height = (uint64_t)h;
        else
            snprintf(q->err, sizeof q->err, "the last block's state_root is not 64 hex digits");
    } else {
        r = row;
    }
    sql_release(q, st);
    return r;
}

static int count_leaf(void *ctx, const uint8_t key[SMT_KEY_LEN], const uint8_t value[SMT_HASH_LEN])
{
    (void)key;
    (void)value;
    (*(uint64_t *)ctx)++;
    return 0;
}

int tree_batch_walk(sql_t *q, const char *tree, uint64_t version, uint64_t *leaves, char *msg,
                    size_t msglen)
{
    uint64_t n = 0, want = 0;
    uint8_t root[SMT_HASH_LEN];
    int r = tree_root_at(q, tree, version, root, &want);

    if (r == 0)
        r = tree_foreach(q, tree, version, count_leaf, &n);
    if (r == 0 && n != want) {
        snprintf(msg, msglen, "the %s tree at height %" PRIu64 " holds %" PRIu64
                 " leaves but its root row says %" PRIu64, tree, version, n, want);
        return -EILSEQ;
    }
    if (r < 0) {
        snprintf(msg, msglen, "walking the %s tree at height %" PRIu64 ": %s", tree, version,
                 r == -EBADMSG || r == -EIO ? "a damaged or missing node row" : sql_errmsg(q));
        return r == -EBADMSG || r == -EIO ? -EILSEQ : r;
    }
    *leaves = n;
    return 0;
}

int tree_batch_verdict(uint64_t tip, const uint8_t rebuilt[SMT_HASH_LEN],
                       const uint8_t stored[SMT_HASH_LEN], const uint8_t header[SMT_HASH_LEN],
                       char *msg, size_t msglen)
{
    char hx[2 * SMT_HASH_LEN + 1], tx[2 * SMT_HASH_LEN + 1], rx[2 * SMT_HASH_LEN + 1];

    hex_encode(hx, header, SMT_HASH_LEN);
    hex_encode(tx, stored, SMT_HASH_LEN);
    hex_encode(rx, rebuilt, SMT_HASH_LEN);
    if (memcmp(stored, rebuilt, SMT_HASH_LEN) != 0 ||
        (tip > 0 && memcmp(header, rebuilt, SMT_HASH_LEN) != 0)) {
        snprintf(msg, msglen, "height %" PRIu64 ": state root rebuilt from the tables %s, "
                 "stored in the trees %s, in the header %s", tip, rx, tx,
                 tip > 0 ? hx : "(none: genesis)");
        return -EILSEQ;
    }
    snprintf(msg, msglen, "height %" PRIu64 ": state root %s (tables, trees and header agree)",
             tip, rx);
    return 0;
}
