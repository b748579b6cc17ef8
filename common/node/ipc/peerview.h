/* What one chain's worker knows of the other chain on the node, and the
 * checks that let anything of it in: the peer's validator set (from the
 * peer's genesis; later validator changes come with the multi-validator
 * network), finality proofs verified against it, and attestations signed
 * by it. Pure functions over bytes: no I/O, no clock. Every refusal fills a
 * reject_t whose code is a stable metrics label:
 *   malformed, wrong_chain, cert_mismatch, unknown_signer,
 *   repeated_signer, bad_signature, low_power, height_backwards,
 *   conflict (another block at a height already verified), duplicate
 *   (that very block again: harmless, not an error to log loudly).
 * Their return codes: malformed -EBADMSG (or the decoder's -EMSGSIZE /
 * -EPROTONOSUPPORT); wrong_chain, cert_mismatch, repeated_signer -EINVAL;
 * unknown_signer, low_power, bad_signature -EPERM; height_backwards
 * -ERANGE; conflict -EEXIST; duplicate -EALREADY. Messages name heights
 * and keys or hashes by their first 16 hex digits. */
#ifndef ADNET_PEERVIEW_H
#define ADNET_PEERVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "common/base/reject.h"
#include "common/store/genesis.h"
#include "proto/block.h"
#include "proto/ipcmsg.h"

typedef struct {
    char chain[GENESIS_CHAIN_MAX + 1];        /* the peer chain's name */
    char chain_id[BLOCK_CHAIN_ID_MAX + 1];
    uint8_t genesis_hash[BLOCK_HASH_LEN];
    size_t n_validators;
    genesis_validator_t validators[GENESIS_MAX_VALIDATORS]; /* ascending by key */
    uint64_t total_power;
} peer_set_t;

/* Fill *s with the validator set of the chain whose genesis g is (its
 * name, chain id, hash and validators, sorted). Return 0, or -EINVAL (no
 * validators, a key twice, total power zero or over GENESIS_MAX_POWER)
 * leaving *s untouched. */
int peer_set_from_genesis(peer_set_t *s, const genesis_t *g);

/* Power of pk in s, 0 if it is not a validator (binary search). */
uint64_t peer_set_power(const peer_set_t *s, const uint8_t pk[BLOCK_KEY_LEN]);

/* Is signed power enough to finalize: more than 2/3 of the total. */
int peer_set_quorum(const peer_set_t *s, uint64_t signed_power);

/* The newest peer header a worker has verified (height 0: none yet; then
 * hash is ignored and block 1 must name s's genesis hash). */
typedef struct {
    uint64_t height;
    uint8_t hash[BLOCK_HASH_LEN];
} peer_tip_t;

/* Check a finality proof (header and certificate bytes, as carried by
 * ipc_finality_t) against s, given the newest verified tip: the header
 * decodes and is of s's chain id; the certificate decodes, is for that
 * height and the header's hash; every signer is a validator of s, none
 * twice, every signature valid over commit_sign_bytes; their power is a
 * quorum; the height is above tip->height (equal: "duplicate" if the
 * same hash, -EALREADY; "conflict" otherwise, -EEXIST; lower:
 * "height_backwards", -ERANGE). A header at tip->height + 1 must name
 * tip->hash as prev_hash ("conflict" otherwise); a higher one may skip
 * heights (its certificate is what makes it final). On success write the
 * decoded header and its hash; return 0 or a negative code with why.
 *
 * Cheap checks come first: header, chain id, height_backwards, duplicate
 * (the tip again is dropped before any signature is checked), then the
 * certificate, signers and power, and the signatures last. A conflict is
 * reported only for a block that passed them all, so that it is evidence
 * of a fork and not noise. A certificate naming a signer twice does not
 * decode (commit_cert_decode wants ascending signers): "malformed". */
int peer_verify_finality(const peer_set_t *s, const peer_tip_t *tip, const uint8_t *header,
                         size_t header_len, const uint8_t *cert, size_t cert_len,
                         block_header_t *out, uint8_t out_hash[BLOCK_HASH_LEN], reject_t *why);

/* Check an attestation of s's chain: its signers are validators of s,
 * none twice, each signature valid over ipc_attest_sign_bytes(s->chain_id,
 * ...), and their power a quorum. Return 0 or a negative code with why
 * (codes as above; "malformed" for a statement out of limits, an unknown
 * statement kind, no or too many signatures, or signers out of order;
 * "repeated_signer" for a key twice in a row; a statement signed for
 * another chain id fails as "bad_signature"). */
int peer_verify_attestation(const peer_set_t *s, const ipc_attestation_t *a, reject_t *why);

/* Sign an attestation statement with one validator key (sk: the 64-byte
 * libsodium secret key, pk its public key), appending the signature to a
 * in ascending signer order (a->n_sigs grows by one). Return 0, -EEXIST
 * (pk signed already), -ENOSPC (full) or -EINVAL (a statement the codec
 * refuses, sk not pk's, a->sigs not ascending); a is untouched on failure. */
int peer_attest_sign(ipc_attestation_t *a, const char *chain_id, const uint8_t pk[BLOCK_KEY_LEN],
                     const uint8_t sk[64]);

#endif
