/* Alpha's transaction payloads (tx_t.payload for tx_t.kind 1..3) and the
 * hashes that name its records, nullifiers and state, so that clients and
 * the verify-proof command compute exactly what the chain computes.
 *
 * Encodings (proto/wire.h: big-endian, str = u32 length || bytes):
 *
 *   record  = owner[32] || str asset (1..ALPHA_ASSET_MAX) || u64 amount || salt[32]
 *   inputs  = u16 n_in (1..16) || n_in * commitment[32]
 *   MINT     (1): record                      (owner = the recipient)
 *   TRANSFER (2): inputs || u16 n_out (1..16) || n_out * record
 *   BURN     (3): inputs || u16 n_out (0..16) || n_out * record ||
 *                 u64 burn_amount || recipient[32]
 *
 * One value has one encoding: decode refuses trailing bytes, and
 * encode(decode(b)) == b for every b that decodes.
 *
 *   commitment = BLAKE2b-256("adnet/alpha/record/v1" || owner || str asset || u64 amount || salt)
 *   nullifier  = BLAKE2b-256("adnet/alpha/nullifier/v1" || commitment)
 *   spent value (nullifier tree) = BLAKE2b-256("adnet/alpha/spent/v1" || u64 height)
 *   fee salt   = BLAKE2b-256("adnet/alpha/fee-salt" || u64 height)
 *   state root = BLAKE2b-256("adnet/alpha/state/v2" || records_root || nullifiers_root)
 */
#ifndef ADNET_ALPHA_TX_H
#define ADNET_ALPHA_TX_H

#include <stddef.h>
#include <stdint.h>
#include "proto/tx.h"

#define ALPHA_TX_MINT 1
#define ALPHA_TX_TRANSFER 2
#define ALPHA_TX_BURN 3

#define ALPHA_MAX_INPUTS 16
#define ALPHA_MAX_OUTPUTS 16
#define ALPHA_ASSET_MAX 16       /* bytes of an asset symbol (GENESIS_ASSET_MAX) */
#define ALPHA_KEY_LEN 32
#define ALPHA_HASH_LEN 32
/* Largest encoded payload (a burn with 16 inputs and 16 outputs). */
#define ALPHA_PAYLOAD_MAX (2 + ALPHA_MAX_INPUTS * 32 + 2 + \
                           ALPHA_MAX_OUTPUTS * (32 + 4 + ALPHA_ASSET_MAX + 8 + 32) + 8 + 32)

typedef struct {
    uint8_t owner[ALPHA_KEY_LEN];     /* Ed25519 public key that may spend it */
    char asset[ALPHA_ASSET_MAX + 1];  /* NUL-terminated symbol */
    uint64_t amount;
    uint8_t salt[32];                 /* hides the record inside its commitment */
} alpha_record_t;

typedef struct {
    uint16_t kind;                    /* ALPHA_TX_MINT / _TRANSFER / _BURN */
    uint16_t n_in;                    /* 0 for a mint */
    uint8_t in[ALPHA_MAX_INPUTS][ALPHA_HASH_LEN]; /* commitments spent */
    uint16_t n_out;                   /* a mint has exactly 1: the minted record */
    alpha_record_t out[ALPHA_MAX_OUTPUTS];
    uint64_t burn_amount;             /* burn only */
    uint8_t recipient[ALPHA_KEY_LEN]; /* burn only: the account to credit on the other chain */
} alpha_payload_t;

/* Encode p (per p->kind) into buf[cap]. Return 0 and set *len, -EINVAL
 * (unknown kind, a count out of range, an asset longer than
 * ALPHA_ASSET_MAX or with a NUL inside) or -ENOBUFS. Amounts are not
 * checked here: see alpha_payload_check. */
int alpha_payload_encode(const alpha_payload_t *p, uint8_t *buf, size_t cap, size_t *len);

/* Decode exactly len bytes as a payload of the given kind. On failure
 * return -ENOTSUP (unknown kind), -EBADMSG (truncated, or trailing bytes),
 * or -EINVAL (a count out of range, an asset too long or with a NUL), set
 * *what (if non-NULL) to the field at fault, and leave *p untouched. */
int alpha_payload_decode(alpha_payload_t *p, uint16_t kind, const uint8_t *buf, size_t len,
                         const char **what);

/* Check the rules a decoded payload must meet apart from the ledger,
 * outputs in order and then the burn: every output amount and the burn
 * amount in 1..INT64_MAX, every output asset a valid symbol
 * (tx_asset_is_valid). Return 0, or -EINVAL with *what naming the first
 * field at fault ("amount", "asset" or "burn_amount") and, for an
 * output's field, *index that output's position. what and index may be
 * NULL; neither is written on success. */
int alpha_payload_check(const alpha_payload_t *p, const char **what, uint16_t *index);

/* The record's commitment. Return 0, or -EINVAL (asset too long). */
int alpha_record_commitment(const uint8_t owner[ALPHA_KEY_LEN], const char *asset,
                            uint64_t amount, const uint8_t salt[32],
                            uint8_t out[ALPHA_HASH_LEN]);
/* The nullifier that marks the record with this commitment spent. */
void alpha_record_nullifier(const uint8_t commitment[ALPHA_HASH_LEN], uint8_t out[ALPHA_HASH_LEN]);
/* The nullifier tree's value for a nullifier published at height. */
void alpha_spent_value(uint64_t height, uint8_t out[ALPHA_HASH_LEN]);
/* The salt of the fee record created for the proposer at height. */
void alpha_fee_salt(uint64_t height, uint8_t out[32]);
/* The salt of the record a bridge transfer id (the burning transaction's
 * id on the other chain) mints here: H("adnet/alpha/bridge-salt/v1" || id),
 * so its recipient can find and spend it. */
void alpha_bridge_salt(const uint8_t id[32], uint8_t out[32]);
/* The state root in alpha block headers, from the two tree roots. */
void alpha_state_root(const uint8_t records_root[ALPHA_HASH_LEN],
                      const uint8_t nullifiers_root[ALPHA_HASH_LEN], uint8_t out[ALPHA_HASH_LEN]);

#endif
