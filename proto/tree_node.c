/* The Merkle tree node codec; see tree_node.h and docs/proofs.md. */
#include "proto/tree_node.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "proto/wire.h"

#define COUNT_MAX ((uint64_t)INT64_MAX) /* counts and versions live in SQLite integers */

unsigned tree_key_nibble(const uint8_t key[TREE_NODE_KEY_LEN], unsigned depth)
{
    uint8_t b = key[depth / 2];
    return depth % 2 == 0 ? (unsigned)(b >> 4) : (unsigned)(b & 0x0f);
}

uint64_t tree_node_leaves(const tree_node_t *n)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < TREE_NODE_SLOTS; i++) {
        if (n->child[i].kind == TREE_CHILD_LEAF)
            sum++;
        else if (n->child[i].kind == TREE_CHILD_NODE)
            sum += n->child[i].leaves;
    }
    return sum;
}

/* The shape rules encode and decode share: NULL if n may be encoded, else
 * the field at fault. */
static const char *shape_error(const tree_node_t *n)
{
    uint64_t sum = 0;
    unsigned used = 0;

    for (unsigned i = 0; i < TREE_NODE_SLOTS; i++) {
        const tree_child_t *c = &n->child[i];
        if (c->kind == TREE_CHILD_EMPTY)
            continue;
        used++;
        if (c->kind == TREE_CHILD_LEAF) {
            sum++;
        } else if (c->kind == TREE_CHILD_NODE) {
            if (c->leaves < 2 || c->leaves > COUNT_MAX)
                return "child leaves";
            if (c->version > COUNT_MAX)
                return "child version";
            sum += c->leaves; /* both below 2^63: cannot wrap */
        } else {
            return "child kind";
        }
        if (sum > COUNT_MAX)
            return "leaves";
    }
    return used == 0 ? "child count" : NULL;
}

int tree_node_encode(const tree_node_t *n, uint8_t *buf, size_t cap, size_t *len)
{
    wire_writer_t w;
    uint8_t used = 0;

    if (shape_error(n) != NULL)
        return -EINVAL;
    for (unsigned i = 0; i < TREE_NODE_SLOTS; i++)
        used += n->child[i].kind != TREE_CHILD_EMPTY;
    wire_writer_init(&w, buf, cap);
    wire_put_u8(&w, TREE_NODE_FORMAT);
    wire_put_u8(&w, used);
    for (unsigned i = 0; i < TREE_NODE_SLOTS; i++) {
        const tree_child_t *c = &n->child[i];
        if (c->kind == TREE_CHILD_EMPTY)
            continue;
        wire_put_u8(&w, (uint8_t)i);
        wire_put_u8(&w, c->kind);
        if (c->kind == TREE_CHILD_LEAF) {
            wire_put_bytes(&w, c->key, TREE_NODE_KEY_LEN);
            wire_put_bytes(&w, c->value, TREE_NODE_HASH_LEN);
        } else {
            wire_put_bytes(&w, c->hash, TREE_NODE_HASH_LEN);
            wire_put_u64(&w, c->version);
            wire_put_u64(&w, c->leaves);
        }
    }
    if (w.err != 0)
        return w.err;
    *len = w.len;
    return 0;
}

/* Read one child entry into c (its slot and kind already read). */
static void get_child(wire_reader_t *r, uint8_t kind, tree_child_t *c)
{
    c->kind = kind;
    if (kind == TREE_CHILD_LEAF) {
        wire_get_bytes(r, "leaf key", c->key, TREE_NODE_KEY_LEN);
        wire_get_bytes(r, "leaf value", c->value, TREE_NODE_HASH_LEN);
    } else {
        wire_get_bytes(r, "child hash", c->hash, TREE_NODE_HASH_LEN);
        wire_get_u64(r, "child version", &c->version);
        wire_get_u64(r, "child leaves", &c->leaves);
    }
}

/* Stop the reader with -EBADMSG at what. */
static void refuse(wire_reader_t *r, const char *what)
{
    if (r->err == 0) {
        r->err = -EBADMSG;
        r->what = what;
    }
}

int tree_node_decode(tree_node_t *n, const uint8_t *buf, size_t len, const char **what)
{
    tree_node_t t;
    wire_reader_t r;
    uint8_t format = 0, used = 0, slot = 0, kind = 0;
    int next = 0; /* the lowest slot the next entry may use */
    int rc;

    memset(&t, 0, sizeof t);
    wire_reader_init(&r, buf, len);
    if (wire_get_u8(&r, "format version", &format) == 0 && format != TREE_NODE_FORMAT) {
        rc = -EPROTONOSUPPORT;
        r.what = "format version";
        goto out;
    }
    if (wire_get_u8(&r, "child count", &used) == 0 && (used < 1 || used > TREE_NODE_SLOTS))
        refuse(&r, "child count");
    for (unsigned i = 0; r.err == 0 && i < used; i++) {
        wire_get_u8(&r, "slot", &slot);
        wire_get_u8(&r, "child kind", &kind);
        if (r.err == 0 && (slot >= TREE_NODE_SLOTS || slot < next))
            refuse(&r, "slot order");
        else if (r.err == 0 && kind != TREE_CHILD_LEAF && kind != TREE_CHILD_NODE)
            refuse(&r, "child kind");
        else if (r.err == 0)
            get_child(&r, kind, &t.child[slot]);
        next = slot + 1;
    }
    rc = wire_reader_finish(&r);
    if (rc == 0 && (r.what = shape_error(&t)) != NULL)
        rc = -EBADMSG;
    if (rc == -EINVAL)
        rc = -EBADMSG;
    if (rc == 0)
        *n = t;
out:
    if (rc != 0 && what != NULL)
        *what = r.what;
    return rc;
}

/* Return true if a and b agree on their first n nibbles. */
static bool nibbles_equal(const uint8_t *a, const uint8_t *b, unsigned n)
{
    if (memcmp(a, b, n / 2) != 0)
        return false;
    return n % 2 == 0 || (a[n / 2] >> 4) == (b[n / 2] >> 4);
}

int tree_node_check(const tree_node_t *n, const uint8_t prefix[TREE_NODE_KEY_LEN], unsigned depth,
                    uint64_t version, const char **what)
{
    const char *bad = NULL;

    if (depth >= TREE_NODE_DEPTH)
        bad = "depth";
    else if (depth > 0 && tree_node_leaves(n) < 2)
        bad = "a single leaf stored as a node";
    for (unsigned i = 0; bad == NULL && i < TREE_NODE_SLOTS; i++) {
        const tree_child_t *c = &n->child[i];
        if (c->kind == TREE_CHILD_LEAF &&
            (!nibbles_equal(c->key, prefix, depth) || tree_key_nibble(c->key, depth) != i))
            bad = "leaf off the node's path";
        else if (c->kind == TREE_CHILD_NODE && depth + 1 >= TREE_NODE_DEPTH)
            bad = "node child below the last nibble";
        else if (c->kind == TREE_CHILD_NODE && c->version > version)
            bad = "child newer than its parent";
    }
    if (bad != NULL && what != NULL)
        *what = bad;
    return bad != NULL ? -EINVAL : 0;
}
