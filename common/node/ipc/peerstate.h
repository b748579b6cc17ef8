/* Checking an answer about the peer chain's state: a state_reply
 * (proto/ipcmsg.h) must answer the very question asked (tree, key,
 * height) and prove it against a state root the asker verified (a header
 * in its peer_headers): the reply's tree roots make that state root
 * (ipc_state_root), and its Merkle proof (common/store/smt.h) holds against
 * the queried tree's root. Only then is "present, with this value" or
 * "absent" believed. Pure: no I/O. */
#ifndef ADNET_PEERSTATE_H
#define ADNET_PEERSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/base/reject.h"
#include "proto/block.h"
#include "proto/ipcmsg.h"

typedef struct {
    bool present;
    uint8_t value[BLOCK_HASH_LEN];     /* the leaf's value hash, when present */
    uint8_t tree_root[BLOCK_HASH_LEN]; /* the queried tree's root at that height */
} peer_state_t;

/* Check r against the question and state_root. Return 0 and *out; or,
 * with why: -ESTALE ("pruned": the peer no longer keeps that height),
 * -ENOENT ("unknown_tree"), -ERANGE ("unknown_height"), -EINVAL
 * ("bad_key"), as the peer said; -EPROTO for an answer that does not hold
 * ("wrong_answer": another question's; "bad_roots": its roots do not make
 * the state root; "bad_proof": the proof does not hold or is malformed). */
int peer_check_state_reply(const ipc_state_reply_t *r, const char *tree, const uint8_t *key,
                           size_t key_len, uint64_t height,
                           const uint8_t state_root[BLOCK_HASH_LEN], peer_state_t *out,
                           reject_t *why);

#endif
