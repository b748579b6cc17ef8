/* Sparse Merkle tree over 256-bit keys, held in memory and rebuilt from
 * the ledger at start-up. Compact form (as in Diem's Jellyfish tree): a
 * subtree holding one leaf is represented by that leaf's hash, an empty
 * subtree by 32 zero bytes, and an internal node by
 * BLAKE2b-256("adnet/smt/node" || left || right). A leaf hashes as
 * BLAKE2b-256("adnet/smt/leaf" || key || value). The root is independent
 * of insertion order. Proofs show inclusion (the key's leaf) or
 * non-inclusion (an empty subtree, or another leaf, where the key's path
 * ends). Changes are journaled so that a failed transaction or block can
 * be undone: smt_mark / smt_rollback / smt_commit. Not thread-safe. */
#ifndef ADNET_SMT_H
#define ADNET_SMT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define SMT_KEY_LEN 32
#define SMT_HASH_LEN 32
#define SMT_DEPTH 256

typedef struct smt smt_t;

typedef struct {
    uint16_t n_siblings;     /* siblings from the root down, one per level walked */
    uint8_t siblings[SMT_DEPTH][SMT_HASH_LEN];
    int has_leaf;            /* 1: the path ends at a leaf (leaf_key, leaf_value); 0: at an empty subtree */
    uint8_t leaf_key[SMT_KEY_LEN];
    uint8_t leaf_value[SMT_HASH_LEN];
} smt_proof_t;

/* The two hashes the tree is made of, for other stores of the same tree
 * (common/store/tree.c). smt_hash_leaf writes BLAKE2b-256("adnet/smt/leaf"
 * || key || value); smt_hash_node writes BLAKE2b-256("adnet/smt/node" ||
 * left || right), a subtree with two or more leaves. out may be one of
 * the inputs. */
void smt_hash_leaf(const uint8_t key[SMT_KEY_LEN], const uint8_t value[SMT_HASH_LEN],
                   uint8_t out[SMT_HASH_LEN]);
void smt_hash_node(const uint8_t left[SMT_HASH_LEN], const uint8_t right[SMT_HASH_LEN],
                   uint8_t out[SMT_HASH_LEN]);

/* New empty tree, or NULL. Free with smt_free (NULL-safe). */
smt_t *smt_new(void);
void smt_free(smt_t *t);

/* Insert or replace key -> value. Return 0 or -ENOMEM. */
int smt_set(smt_t *t, const uint8_t key[SMT_KEY_LEN], const uint8_t value[SMT_HASH_LEN]);
/* Remove key. Return 0, or -ENOENT if absent. */
int smt_delete(smt_t *t, const uint8_t key[SMT_KEY_LEN]);
/* Look key up. Return 0 and write value, or -ENOENT. */
int smt_get(const smt_t *t, const uint8_t key[SMT_KEY_LEN], uint8_t value[SMT_HASH_LEN]);
size_t smt_count(const smt_t *t);
/* The root (32 zero bytes for an empty tree). */
void smt_root(smt_t *t, uint8_t out[SMT_HASH_LEN]);

/* Journal: smt_mark returns a position; smt_rollback undoes every change
 * made after it; smt_commit forgets the journal (changes become final). */
uint64_t smt_mark(const smt_t *t);
void smt_rollback(smt_t *t, uint64_t mark);
void smt_commit(smt_t *t);

/* Prove key's presence or absence. Return 0 or -ENOMEM. */
int smt_prove(smt_t *t, const uint8_t key[SMT_KEY_LEN], smt_proof_t *out);
/* Check p for key against root. Return 1 (inclusion; value written if
 * non-NULL), 0 (non-inclusion), or -EINVAL (the proof does not hold). */
int smt_verify(const uint8_t root[SMT_HASH_LEN], const uint8_t key[SMT_KEY_LEN],
               const smt_proof_t *p, uint8_t value[SMT_HASH_LEN]);

/* Proofs as bytes (between the workers of a node, proto/ipcmsg.h):
 *   u16 n_siblings (<= SMT_DEPTH) || n_siblings * 32 bytes ||
 *   u8 has_leaf (0 or 1) || [leaf_key 32 || leaf_value 32 if has_leaf]
 * At most SMT_PROOF_MAX bytes. Encode returns 0 and *len, -ENOBUFS or
 * -EINVAL (n_siblings over SMT_DEPTH); decode reads exactly len bytes and
 * returns 0, -EBADMSG or -EMSGSIZE with the field in *what (may be NULL),
 * leaving *p untouched on failure. */
#define SMT_PROOF_MAX (2 + SMT_DEPTH * SMT_HASH_LEN + 1 + SMT_KEY_LEN + SMT_HASH_LEN)
int smt_proof_encode(const smt_proof_t *p, uint8_t *buf, size_t cap, size_t *len);
int smt_proof_decode(smt_proof_t *p, const uint8_t *buf, size_t len, const char **what);

/* Proofs as JSON: {"key":hex,"root":hex,"siblings":[hex,...],"leaf":{"key":hex,"value":hex}|null}.
 * smt_proof_to_json returns a new object (NULL on out of memory, or if
 * p->n_siblings > SMT_DEPTH);
 * smt_proof_from_json returns 0 or -EINVAL with the field in *what. */
json_t *smt_proof_to_json(const uint8_t root[SMT_HASH_LEN], const uint8_t key[SMT_KEY_LEN],
                          const smt_proof_t *p);
int smt_proof_from_json(const json_t *j, uint8_t root[SMT_HASH_LEN], uint8_t key[SMT_KEY_LEN],
                        smt_proof_t *p, const char **what);

#endif
