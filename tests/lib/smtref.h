/* The sparse Merkle tree's hashes written out from their definition
 * (docs/proofs.md), without common/store/smt.c: the oracle its unit suite
 * and its fuzz target check it against. Never uses Check (the fuzz target
 * links it too): a misuse aborts. */
#ifndef ADNET_TEST_SMTREF_H
#define ADNET_TEST_SMTREF_H

#include <stddef.h>
#include <stdint.h>

#include "common/store/smt.h"

/* A key and the value the tree holds for it. */
typedef struct {
    uint8_t key[SMT_KEY_LEN];
    uint8_t value[SMT_HASH_LEN];
} smtref_kv_t;

/* A leaf's hash: BLAKE2b-256("adnet/smt/leaf" || key || value). */
void smtref_leaf(const uint8_t key[SMT_KEY_LEN], const uint8_t value[SMT_HASH_LEN],
                 uint8_t out[SMT_HASH_LEN]);
/* An inner node's hash: BLAKE2b-256("adnet/smt/node" || left || right). */
void smtref_node(const uint8_t left[SMT_HASH_LEN], const uint8_t right[SMT_HASH_LEN],
                 uint8_t out[SMT_HASH_LEN]);

/* The root of the tree holding kv[0..n): zeros when empty, the leaf hash
 * for one entry, else the node hash of the roots of the entries whose next
 * key bit (most significant first) is 0 and of those where it is 1. The
 * order of kv does not matter; its keys must differ (abort if two are the
 * same, or if out of memory). */
void smtref_root(const smtref_kv_t *kv, size_t n, uint8_t out[SMT_HASH_LEN]);

#endif
