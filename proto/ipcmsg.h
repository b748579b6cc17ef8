/* Messages between the workers of one node (over the shared-memory rings
 * and the ZeroMQ ipc:// sockets): one envelope, five kinds of body.
 *
 *   envelope: u8 IPC_MSG_VERSION || u8 kind || str source chain id
 *             || u64 seq (the sender's counter, rising) || u64 sent_ns
 *             (CLOCK_MONOTONIC of the sender, for latency) || body
 *
 * finality_proof: var header (block_header_encode) || var certificate
 *   (commit_cert_encode): a finalized header and its commit certificate.
 * catchup: u64 from_height || u32 max: "send me your finality proofs from
 *   from_height on, at most max" (the answer is a sequence of finality
 *   proofs, see docs/ipc.md).
 * state_query: u64 query_id || u64 height (a height of the asked chain
 *   whose header the asker has verified) || str tree || var key.
 * state_reply: u64 query_id || u64 height || u8 status || str tree ||
 *   var key || var value || var proof (the smt proof encoding) ||
 *   str root_tag || u8 n_roots || n_roots * 32-byte tree roots || u8
 *   root_index: the header's state root is the one tree root when
 *   n_roots == 1 and root_tag is empty, else BLAKE2b-256(root_tag ||
 *   roots...) (ipc_state_root), and the proof is against roots[root_index].
 * attestation: u8 statement kind || var statement || u64 height (of the
 *   source chain at which the statement holds) || u32 n_sigs ||
 *   n_sigs * (validator key || signature), validators strictly ascending;
 *   each signs ipc_attest_sign_bytes.
 *
 * Limits, the same for encoder (-EINVAL) and decoder (-EBADMSG): source
 * 1..BLOCK_CHAIN_ID_MAX bytes; header 1..BLOCK_HEADER_MAX and certificate
 * 1..COMMIT_CERT_MAX bytes (carried opaque: peerview decodes them); max
 * 1..IPC_CATCHUP_MAX; tree 1..IPC_TREE_NAME_MAX; key 0..IPC_KEY_MAX; status
 * an ipc_state_status_t; value 0..IPC_VALUE_MAX bytes, and empty unless the
 * status is IPC_STATE_PRESENT; proof 0..IPC_PROOF_MAX; root_tag
 * 0..IPC_ROOT_TAG_MAX; n_roots 1..IPC_ROOTS_MAX; root_index < n_roots;
 * statement kind an ipc_stmt_kind_t; statement 1..IPC_STATEMENT_MAX;
 * n_sigs 1..IPC_ATTEST_SIGS_MAX. Strings carry no NUL.
 *
 * One value has one encoding: decoders read exactly the bytes given,
 * refuse trailing bytes, an unknown version (-EPROTONOSUPPORT) or kind,
 * a truncated message (-EMSGSIZE), values out of the limits above,
 * unsorted or repeated signers (-EBADMSG); they check no signature
 * (common/node/ipc/peerview.h does). */
#ifndef ADNET_IPCMSG_H
#define ADNET_IPCMSG_H

#include <stddef.h>
#include <stdint.h>

#include "proto/block.h"

#define IPC_MSG_VERSION 1
#define IPC_TREE_NAME_MAX 31
#define IPC_KEY_MAX 64
#define IPC_VALUE_MAX 1024
#define IPC_PROOF_MAX 8448        /* 256 siblings of 32 bytes and a little framing */
#define IPC_ROOT_TAG_MAX 48
#define IPC_ROOTS_MAX 8
#define IPC_STATEMENT_MAX 256
#define IPC_ATTEST_SIGS_MAX BLOCK_MAX_SIGS
#define IPC_CATCHUP_MAX 1024      /* proofs one catch-up answer may ask for */
#define IPC_ENVELOPE_MAX (2 + 4 + BLOCK_CHAIN_ID_MAX + 16)
/* The longest message of any kind (ipcmsg.c asserts it covers each). */
#define IPC_MSG_MAX (IPC_ENVELOPE_MAX + 8 + BLOCK_HEADER_MAX + COMMIT_CERT_MAX + 64)
/* The longest ipc_attest_sign_bytes: tag, chain id, kind, statement, height. */
#define IPC_ATTEST_SIGN_MAX (15 + 4 + BLOCK_CHAIN_ID_MAX + 1 + 4 + IPC_STATEMENT_MAX + 8)

typedef enum {
    IPC_FINALITY = 1,
    IPC_CATCHUP = 2,
    IPC_STATE_QUERY = 3,
    IPC_STATE_REPLY = 4,
    IPC_ATTESTATION = 5,
} ipc_kind_t;

typedef enum {
    IPC_STATE_PRESENT = 0, /* value and an inclusion proof */
    IPC_STATE_ABSENT = 1,  /* an exclusion proof, no value */
    IPC_STATE_PRUNED = 2,  /* the height is below what the replier keeps */
    IPC_STATE_UNKNOWN_TREE = 3,
    IPC_STATE_UNKNOWN_HEIGHT = 4, /* above the replier's tip */
    IPC_STATE_BAD_KEY = 5,
} ipc_state_status_t;

typedef enum {
    IPC_STMT_BRIDGE_OUT_FINAL = 1, /* "bridge-out X is final at height h" */
} ipc_stmt_kind_t;

typedef struct {
    const uint8_t *header; size_t header_len; /* point into the decoded buffer */
    const uint8_t *cert; size_t cert_len;
} ipc_finality_t;

typedef struct {
    uint64_t from_height;
    uint32_t max;
} ipc_catchup_t;

typedef struct {
    uint64_t query_id;
    uint64_t height;
    char tree[IPC_TREE_NAME_MAX + 1];
    const uint8_t *key; size_t key_len;
} ipc_state_query_t;

typedef struct {
    uint64_t query_id;
    uint64_t height;
    uint8_t status;  /* ipc_state_status_t */
    char tree[IPC_TREE_NAME_MAX + 1];
    const uint8_t *key; size_t key_len;
    const uint8_t *value; size_t value_len;
    const uint8_t *proof; size_t proof_len;
    char root_tag[IPC_ROOT_TAG_MAX + 1];
    uint8_t n_roots; /* 1..IPC_ROOTS_MAX */
    uint8_t roots[IPC_ROOTS_MAX][BLOCK_HASH_LEN];
    uint8_t root_index; /* < n_roots */
} ipc_state_reply_t;

typedef struct {
    uint8_t stmt_kind; /* ipc_stmt_kind_t */
    const uint8_t *stmt; size_t stmt_len; /* 1..IPC_STATEMENT_MAX */
    uint64_t height;
    uint32_t n_sigs;   /* 1..IPC_ATTEST_SIGS_MAX */
    commit_sig_t sigs[IPC_ATTEST_SIGS_MAX];
} ipc_attestation_t;

typedef struct {
    uint8_t kind; /* ipc_kind_t */
    char source[BLOCK_CHAIN_ID_MAX + 1]; /* chain id of the sender's chain */
    uint64_t seq;
    uint64_t sent_ns;
    union {
        ipc_finality_t finality;
        ipc_catchup_t catchup;
        ipc_state_query_t query;
        ipc_state_reply_t reply;
        ipc_attestation_t attest;
    } u;
} ipc_msg_t;

/* Encode m into buf[cap]; return 0 and *len, -ENOBUFS, or -EINVAL (a field
 * out of its limits, unknown kind, signers not ascending). */
int ipc_msg_encode(const ipc_msg_t *m, uint8_t *buf, size_t cap, size_t *len);
/* Decode exactly len bytes; the byte fields of *m point into buf. On
 * failure return -EBADMSG / -EMSGSIZE / -EPROTONOSUPPORT, set *what (if
 * non-NULL) to the field at fault, and leave *m untouched. */
int ipc_msg_decode(ipc_msg_t *m, const uint8_t *buf, size_t len, const char **what);
/* The kind's name ("finality_proof", "catchup", "state_query",
 * "state_reply", "attestation"), or "unknown". */
const char *ipc_kind_name(uint8_t kind);

/* Write the state root that a state reply's roots make (see above) and
 * return 0; -EINVAL if n_roots is 0 or over IPC_ROOTS_MAX or root_tag over
 * IPC_ROOT_TAG_MAX. A const reply's roots pass as they are; writable ones
 * need a cast to (const uint8_t (*)[BLOCK_HASH_LEN]), since C before C2X
 * does not add const to array elements (-Wpedantic warns). */
int ipc_state_root(const char *root_tag, const uint8_t roots[][BLOCK_HASH_LEN], size_t n_roots,
                   uint8_t out[BLOCK_HASH_LEN]);

/* The statement of IPC_STMT_BRIDGE_OUT_FINAL: "transfer id (the burning
 * transaction on the attesting chain) of amount of asset to recipient (a
 * key on the other chain) is final at the attestation's height":
 *   id[32] || str asset (1..IPC_ASSET_MAX) || u64 amount (1..2^63-1) ||
 *   recipient[32]
 * Encode returns 0 and *len, -EINVAL (a field out of range) or -ENOBUFS;
 * decode reads exactly len bytes: 0, or -EBADMSG / -EMSGSIZE with *what,
 * *s untouched. */
#define IPC_ASSET_MAX 16
#define IPC_BRIDGE_STMT_MAX (32 + 4 + IPC_ASSET_MAX + 8 + 32)
typedef struct {
    uint8_t id[32];
    char asset[IPC_ASSET_MAX + 1];
    uint64_t amount;
    uint8_t recipient[32];
} ipc_bridge_stmt_t;
int ipc_bridge_stmt_encode(const ipc_bridge_stmt_t *s, uint8_t *buf, size_t cap, size_t *len);
int ipc_bridge_stmt_decode(ipc_bridge_stmt_t *s, const uint8_t *buf, size_t len,
                           const char **what);

/* The bytes a validator signs to attest: "adnet/attest/v1" || str chain_id
 * || u8 stmt_kind || var stmt || u64 height (at most IPC_ATTEST_SIGN_MAX).
 * Return the length, -ENOBUFS, or -EINVAL (chain id empty or over
 * BLOCK_CHAIN_ID_MAX, unknown statement kind, statement out of limits). */
int ipc_attest_sign_bytes(const char *chain_id, uint8_t stmt_kind, const uint8_t *stmt,
                          size_t stmt_len, uint64_t height, uint8_t *buf, size_t cap);

#endif
