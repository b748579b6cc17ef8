/* Checking a state reply against a verified state root; see peerstate.h. */
#include "common/node/ipc/peerstate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/store/smt.h"

/* The peer's own refusals, passed on with their meaning. */
static int status_refusal(const ipc_state_reply_t *r, reject_t *why)
{
    switch (r->status) {
    case IPC_STATE_PRUNED:
        return reject(why, -ESTALE, "pruned", "the peer no longer keeps the state of height %llu",
                      (unsigned long long)r->height);
    case IPC_STATE_UNKNOWN_TREE:
        return reject(why, -ENOENT, "unknown_tree", "the peer has no tree \"%s\"", r->tree);
    case IPC_STATE_UNKNOWN_HEIGHT:
        return reject(why, -ERANGE, "unknown_height", "the peer has no state at height %llu yet",
                      (unsigned long long)r->height);
    case IPC_STATE_BAD_KEY:
        return reject(why, -EINVAL, "bad_key", "the peer refused the key (its trees take %d-byte "
                      "keys)", SMT_KEY_LEN);
    default:
        return reject(why, -EPROTO, "wrong_answer", "unknown state status %u", r->status);
    }
}

/* The proof in r for key against the queried tree's root: 0 with out
 * filled, or -EPROTO. */
static int check_proof(const ipc_state_reply_t *r, const uint8_t *key, peer_state_t *out,
                       reject_t *why)
{
    smt_proof_t *p = malloc(sizeof(*p));
    const char *what = "proof";
    int rc;
    if (!p)
        return reject(why, -ENOMEM, "internal", "out of memory");
    rc = smt_proof_decode(p, r->proof, r->proof_len, &what);
    if (rc < 0) {
        free(p);
        return reject(why, -EPROTO, "bad_proof", "the proof does not decode (%s)", what);
    }
    rc = smt_verify(r->roots[r->root_index], key, p, out->value);
    free(p);
    if (rc < 0)
        return reject(why, -EPROTO, "bad_proof", "the proof does not hold against the tree root");
    out->present = rc == 1;
    if ((r->status == IPC_STATE_PRESENT) != out->present)
        return reject(why, -EPROTO, "bad_proof", "the reply says %s, its proof the opposite",
                      r->status == IPC_STATE_PRESENT ? "present" : "absent");
    if (out->present && (r->value_len != BLOCK_HASH_LEN ||
                         memcmp(r->value, out->value, BLOCK_HASH_LEN) != 0))
        return reject(why, -EPROTO, "bad_proof", "the reply's value is not the proven one");
    memcpy(out->tree_root, r->roots[r->root_index], BLOCK_HASH_LEN);
    return 0;
}

int peer_check_state_reply(const ipc_state_reply_t *r, const char *tree, const uint8_t *key,
                           size_t key_len, uint64_t height,
                           const uint8_t state_root[BLOCK_HASH_LEN], peer_state_t *out,
                           reject_t *why)
{
    uint8_t root[BLOCK_HASH_LEN];
    memset(out, 0, sizeof(*out));
    if (key_len != SMT_KEY_LEN)
        return reject(why, -EINVAL, "bad_key", "a key of %zu bytes (the trees take %d)", key_len,
                      SMT_KEY_LEN);
    if (strcmp(r->tree, tree) != 0 || r->height != height || r->key_len != key_len ||
        memcmp(r->key, key, key_len) != 0)
        return reject(why, -EPROTO, "wrong_answer", "the reply is for another question");
    if (r->status != IPC_STATE_PRESENT && r->status != IPC_STATE_ABSENT)
        return status_refusal(r, why);
    if (r->n_roots == 0 || r->root_index >= r->n_roots ||
        ipc_state_root(r->root_tag, (const uint8_t(*)[BLOCK_HASH_LEN])r->roots, r->n_roots,
                       root) < 0 ||
        memcmp(root, state_root, BLOCK_HASH_LEN) != 0)
        return reject(why, -EPROTO, "bad_roots",
                      "the reply's tree roots do not make the state root of height %llu",
                      (unsigned long long)height);
    return check_proof(r, key, out, why);
}
