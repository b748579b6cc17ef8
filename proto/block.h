/* Block headers and commit certificates: their canonical encoding, the
 * hash that names a block, and the bytes validators sign. One encoding for
 * one value; a domain tag per message kind keeps signatures from being
 * reused across kinds and chains. */
#ifndef ADNET_BLOCK_H
#define ADNET_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#define BLOCK_FORMAT_V1 1        /* header encoding without a peer anchor */
#define BLOCK_FORMAT_V2 2        /* ... with one (peer_height, peer_hash) */
#define BLOCK_FORMAT_VERSION BLOCK_FORMAT_V2 /* the newest this binary knows; others refused */
#define COMMIT_CERT_VERSION 1    /* certificate encoding version byte */
#define BLOCK_HASH_LEN 32
#define BLOCK_KEY_LEN 32         /* Ed25519 public key */
#define BLOCK_SIG_LEN 64         /* Ed25519 signature */
#define BLOCK_CHAIN_ID_MAX 48
#define BLOCK_MAX_SIGS 128
#define BLOCK_HEADER_MAX 512     /* encoded header never exceeds this */
#define COMMIT_CERT_MAX (16 + 4 + BLOCK_MAX_SIGS * (BLOCK_KEY_LEN + BLOCK_SIG_LEN) + 64)

typedef struct {
    uint32_t protocol_version;
    char chain_id[BLOCK_CHAIN_ID_MAX + 1];
    uint64_t height;             /* first block is 1 */
    uint64_t time_ms;            /* unix milliseconds, strictly rising */
    uint8_t prev_hash[BLOCK_HASH_LEN];  /* genesis hash for height 1 */
    uint8_t txs_root[BLOCK_HASH_LEN];
    uint8_t state_root[BLOCK_HASH_LEN];
    uint8_t proposer[BLOCK_KEY_LEN];
    uint32_t tx_count;
    /* The newest header of the peer chain on the node that this chain had
     * verified when the block was made (its anchor of the other chain);
     * 0 and zeros for none. */
    uint64_t peer_height;
    uint8_t peer_hash[BLOCK_HASH_LEN];
} block_header_t;

typedef struct {
    uint8_t validator[BLOCK_KEY_LEN];
    uint8_t sig[BLOCK_SIG_LEN];
} commit_sig_t;

typedef struct {
    uint64_t height;
    uint8_t block_hash[BLOCK_HASH_LEN];
    uint32_t n_sigs;
    commit_sig_t sigs[BLOCK_MAX_SIGS];
} commit_cert_t;

/* Encode h into buf[cap]; return 0 and set *len, or -ENOBUFS / -EINVAL.
 * A header without a peer anchor (peer_height 0) has the version 1
 * encoding: u8 1 || u32 protocol_version || str chain_id || u64 height ||
 * u64 time_ms || prev_hash || txs_root || state_root || proposer || u32
 * tx_count; one with an anchor, version 2: the same after u8 2, then u64
 * peer_height (>= 1) || peer_hash. So a block's hash never depends on a
 * field it does not use, and blocks made before anchors keep theirs. */
int block_header_encode(const block_header_t *h, uint8_t *buf, size_t cap, size_t *len);
/* Decode exactly len bytes (version 1 or 2; a version 2 header with
 * peer_height 0 is refused, as it has a version 1 encoding). On failure
 * return -EBADMSG / -EMSGSIZE / -EPROTONOSUPPORT (unknown format version),
 * set *what (if non-NULL) to the field at fault, and leave *h untouched. */
int block_header_decode(block_header_t *h, const uint8_t *buf, size_t len, const char **what);
/* Check semantic rules (non-empty chain id, height >= 1). Return 0 or -EINVAL with *what. */
int block_header_check(const block_header_t *h, const char **what);
/* BLAKE2b-256 over the domain tag "adnet/block/v1" (no NUL) and the
 * encoding. Return 0, or the encoder's error. */
int block_header_hash(const block_header_t *h, uint8_t out[BLOCK_HASH_LEN]);

/* The bytes a validator signs to commit a block:
 * "adnet/commit/v1" || str chain_id || u64 height || block_hash.
 * Return length written, or -ENOBUFS, or -EINVAL (chain id over BLOCK_CHAIN_ID_MAX). */
int commit_sign_bytes(const char *chain_id, uint64_t height, const uint8_t hash[BLOCK_HASH_LEN],
                      uint8_t *buf, size_t cap);

/* Certificate encoding: u8 COMMIT_CERT_VERSION || u64 height || block_hash
 * || u32 n_sigs || n_sigs * (validator || sig). n_sigs is 1..BLOCK_MAX_SIGS
 * and validators are strictly ascending by key bytes, so one certificate
 * has one encoding. Encode returns 0 and sets *len, -ENOBUFS, or -EINVAL
 * (bad count or order). Decode exactly len bytes; on failure return
 * -EBADMSG / -EMSGSIZE / -EPROTONOSUPPORT, set *what (if non-NULL), and
 * leave *c untouched. It checks no signature: that is the caller's job. */
int commit_cert_encode(const commit_cert_t *c, uint8_t *buf, size_t cap, size_t *len);
int commit_cert_decode(commit_cert_t *c, const uint8_t *buf, size_t len, const char **what);

#endif
