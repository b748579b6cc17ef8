/* Transactions: one canonical encoding for every chain.
 *
 *   u8 format version (TX_FORMAT_VERSION) || str chain_id || u16 kind ||
 *   sender[32] || u64 fee || u64 nonce || u64 expiry_height ||
 *   var payload (<= TX_PAYLOAD_MAX) || sig[64]
 *
 * The signature is Ed25519 by `sender` over "adnet/tx/v1" followed by every
 * byte before the signature. The chain id is inside the signed bytes, so a
 * transaction signed for one chain never verifies on another. A
 * transaction's id is the BLAKE2b-256 of all its bytes. The payload's
 * layout belongs to the chain and its kind (proto/<chain>_tx.h). */
#ifndef ADNET_TX_H
#define ADNET_TX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/block.h"

#define TX_FORMAT_VERSION 1
#define TX_ID_LEN 32
#define TX_PAYLOAD_MAX 8192
#define TX_MAX_BYTES (1 + 4 + BLOCK_CHAIN_ID_MAX + 2 + 32 + 8 + 8 + 8 + 4 + TX_PAYLOAD_MAX + 64)

typedef struct {
    char chain_id[BLOCK_CHAIN_ID_MAX + 1];
    uint16_t kind;            /* chain-specific kind number */
    uint8_t sender[BLOCK_KEY_LEN];
    uint64_t fee;             /* in the chain's fee asset */
    uint64_t nonce;           /* account chains: the sender's account nonce; record chains: any value */
    uint64_t expiry_height;   /* last height that may include it */
    const uint8_t *payload;   /* points into the decoded buffer (not owned) */
    size_t payload_len;
    uint8_t sig[BLOCK_SIG_LEN];
} tx_t;

/* Encode tx (ignoring tx->sig) and sign it with the Ed25519 secret key sk
 * (64 bytes, libsodium layout), writing the full transaction to buf[cap].
 * Return 0 and set *len, or -EINVAL (field out of range) / -ENOBUFS. */
int tx_sign_encode(const tx_t *tx, const uint8_t sk[64], uint8_t *buf, size_t cap, size_t *len);

/* Decode exactly len bytes (the payload pointer points into buf). Refuse
 * unknown versions (-EPROTONOSUPPORT), truncation or trailing bytes
 * (-EBADMSG), fields out of range (-EINVAL); set *what to the field at
 * fault. *tx is written only on success. Does not check the signature. */
int tx_decode(tx_t *tx, const uint8_t *buf, size_t len, const char **what);

/* Check the signature of an encoded transaction buf[len] whose decoded
 * form is tx. Return 0 or -EBADMSG. */
int tx_verify(const tx_t *tx, const uint8_t *buf, size_t len);

#define TX_ASSET_MAX 16

/* True if s is an asset symbol: 1 to TX_ASSET_MAX characters of
 * [A-Z0-9-]. One rule for both chains, genesis files and the CLI. */
bool tx_asset_is_valid(const char *s);

/* id = BLAKE2b-256(buf[len]). */
void tx_id(const uint8_t *buf, size_t len, uint8_t out[TX_ID_LEN]);

/* Root of a block's transactions: BLAKE2b-256 Merkle root over their ids
 * (domain-tagged leaves and nodes; an odd node is promoted). The root of
 * no transactions is BLAKE2b-256("adnet/txs/v1"). Return 0 or -ENOMEM. */
int tx_root(const uint8_t (*ids)[TX_ID_LEN], size_t n, uint8_t out[TX_ID_LEN]);

#endif
