/* One node of the ledger's sparse Merkle tree (common/store/tree.c): the
 * 16 child slots below one nibble of the key, as stored in the node column
 * of tree_nodes. A slot is empty, a leaf (its key and value, stored inline)
 * or another node (its hash, the version of its row and the leaves below
 * it). The hashes themselves are the store's business; this codec only
 * knows the shape.
 *
 * Encoding (big-endian, see proto/wire.h):
 *   u8 TREE_NODE_FORMAT  u8 n (1..16, the slots in use)
 *   n times, slots strictly ascending:
 *     u8 slot (0..15)  u8 kind (1 leaf, 2 node)
 *     leaf: key[32] value[32]
 *     node: hash[32] u64 version u64 leaves (2 .. 2^63-1)
 * The leaves of all children together are at most 2^63-1. One node has
 * one encoding: encode refuses what decode refuses. */
#ifndef ADNET_TREE_NODE_H
#define ADNET_TREE_NODE_H

#include <stddef.h>
#include <stdint.h>

#define TREE_NODE_FORMAT 1   /* format version byte; others are refused */
#define TREE_NODE_SLOTS 16   /* one per nibble value */
#define TREE_NODE_DEPTH 64   /* nibbles in a 32-byte key */
#define TREE_NODE_KEY_LEN 32
#define TREE_NODE_HASH_LEN 32
#define TREE_NODE_MAX (2 + TREE_NODE_SLOTS * (2 + 2 * TREE_NODE_KEY_LEN))

typedef enum {
    TREE_CHILD_EMPTY = 0,
    TREE_CHILD_LEAF = 1,
    TREE_CHILD_NODE = 2,
} tree_child_kind_t;

typedef struct {
    uint8_t kind;                        /* a tree_child_kind_t */
    uint8_t key[TREE_NODE_KEY_LEN];      /* leaf: its key */
    uint8_t value[TREE_NODE_HASH_LEN];   /* leaf: its value */
    uint8_t hash[TREE_NODE_HASH_LEN];    /* node: the child node's hash */
    uint64_t version;                    /* node: the version of the child's row */
    uint64_t leaves;                     /* node: leaves below the child, >= 2 */
} tree_child_t;

typedef struct {
    tree_child_t child[TREE_NODE_SLOTS]; /* by nibble; decode zeroes fields a kind leaves unused */
} tree_node_t;

/* Encode n into buf[cap]: return 0 and set *len, -ENOBUFS, or -EINVAL
 * (no child, an unknown kind, a node child with fewer than 2 leaves or a
 * count or version above 2^63-1). */
int tree_node_encode(const tree_node_t *n, uint8_t *buf, size_t cap, size_t *len);
/* Decode exactly len bytes into *n. On failure return -EBADMSG /
 * -EMSGSIZE (truncated) / -EPROTONOSUPPORT (unknown format), set *what
 * (if non-NULL) to the field at fault, and leave *n untouched. */
int tree_node_decode(tree_node_t *n, const uint8_t *buf, size_t len, const char **what);
/* The leaves below n: one per leaf child plus each node child's count. */
uint64_t tree_node_leaves(const tree_node_t *n);
/* Check n against where it sits: at depth nibbles (0 = the root) along
 * prefix (only its first depth nibbles count), in a row written at
 * version. A node other than the root holds at least 2 leaves (a single
 * leaf is stored in its parent instead); every leaf's key starts with the
 * node's path and then its slot's nibble; no node child sits at the last
 * nibble; no child row is newer than version. Return 0 or -EINVAL with
 * *what. */
int tree_node_check(const tree_node_t *n, const uint8_t prefix[TREE_NODE_KEY_LEN], unsigned depth,
                    uint64_t version, const char **what);
/* Nibble depth (0..63) of key: the high half of byte depth/2 first. */
unsigned tree_key_nibble(const uint8_t key[TREE_NODE_KEY_LEN], unsigned depth);

#endif
