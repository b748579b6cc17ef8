/* libFuzzer target for the Merkle tree node codec (proto/tree_node.c): no
 * input may crash the decoder or make it read out of bounds; any input
 * that decodes must re-encode to the very same bytes (one encoding per
 * node) and hold the shape the decoder promises; tree_node_check must
 * answer for it at every depth without crashing.
 *
 *   clang -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_tree_node.c \
 *       tests/lib/fuzz.c proto/wire.c proto/tree_node.c
 *   ./a.out -max_total_time=60
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/tree_node.h"
#include "tests/lib/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a decoded node must be: at least one child, node children with 2
 * or more leaves, counts and versions that fit SQLite's integers. */
static void check_shape(const tree_node_t *n)
{
    unsigned used = 0;
    for (unsigned i = 0; i < TREE_NODE_SLOTS; i++) {
        const tree_child_t *c = &n->child[i];
        CHECK(c->kind <= TREE_CHILD_NODE);
        used += c->kind != TREE_CHILD_EMPTY;
        if (c->kind == TREE_CHILD_NODE)
            CHECK(c->leaves >= 2 && c->leaves <= INT64_MAX && c->version <= INT64_MAX);
    }
    CHECK(used >= 1);
    CHECK(tree_node_leaves(n) >= 1 && tree_node_leaves(n) <= INT64_MAX);
}

static void fuzz_node(const uint8_t *data, size_t size)
{
    tree_node_t n;
    uint8_t out[TREE_NODE_MAX], prefix[TREE_NODE_KEY_LEN] = {0};
    size_t len = 0;
    const char *what = NULL;
    int rc;

    memset(&n, 0xa5, sizeof n);
    rc = tree_node_decode(&n, data, size, &what);
    if (rc != 0) {
        CHECK(rc == -EBADMSG || rc == -EMSGSIZE || rc == -EPROTONOSUPPORT);
        CHECK(what != NULL);
        return;
    }
    check_shape(&n);
    rc = tree_node_encode(&n, out, sizeof out, &len);
    CHECK(rc == 0);
    CHECK(len == size);
    CHECK(memcmp(out, data, size) == 0);
    /* Place it along its first leaf's key (a node that passes must have its
     * leaves there), and along zeros, at every depth. */
    for (unsigned i = 0; i < TREE_NODE_SLOTS; i++) {
        if (n.child[i].kind == TREE_CHILD_LEAF) {
            memcpy(prefix, n.child[i].key, sizeof prefix);
            break;
        }
    }
    for (unsigned depth = 0; depth <= TREE_NODE_DEPTH; depth++) {
        what = NULL;
        rc = tree_node_check(&n, prefix, depth, UINT64_MAX, &what);
        CHECK(rc == 0 || (rc == -EINVAL && what != NULL));
        CHECK(depth < TREE_NODE_DEPTH || rc == -EINVAL);
        rc = tree_node_check(&n, (const uint8_t[TREE_NODE_KEY_LEN]){0}, depth, 0, &what);
        CHECK(rc == 0 || rc == -EINVAL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *msg = fuzz_copy(data, size);
    if (msg == NULL)
        return 0;
    fuzz_node(msg, size);
    free(msg);
    return 0;
}
