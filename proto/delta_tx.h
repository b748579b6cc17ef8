/* Delta transaction payloads (the `payload` of a proto/tx.h envelope whose
 * kind is one of DELTA_TX_*) and the leaf encodings of Delta's state tree.
 * Built on proto/wire.h: integers big-endian, `str` = u32 length || bytes.
 *
 *   1 transfer          to[32] || str asset || u64 amount
 *   2 pool_create       str asset_a || str asset_b || u64 amount_a || u64 amount_b || u16 fee_bps
 *   3 liquidity_add     str asset_a || str asset_b || u64 max_a || u64 max_b || u64 min_shares
 *   4 liquidity_remove  str asset_a || str asset_b || u64 shares || u64 min_a || u64 min_b
 *   5 swap              str asset_in || str asset_out || u64 amount_in || u64 min_out
 *   6 stake             u64 amount
 *   7 unstake           u64 amount
 *   8 bridge_out        to[32] || str asset || u64 amount  (as transfer; to: the recipient's
 *                       public key on the other chain, credited there once attested)
 *
 * An asset is 1..16 bytes of [A-Z0-9-]. A pool is named by its two assets
 * in canonical order (asset_a < asset_b bytewise). Decoding checks only the
 * shape (exact length, string limits); delta_payload_check checks values.
 * Amount rules that depend on the state (zero, > 2^63-1, balances) belong
 * to the chain (delta-worker/delta_chain.c). */
#ifndef ADNET_DELTA_TX_H
#define ADNET_DELTA_TX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "proto/tx.h"

#define DELTA_ASSET_MAX 16
#define DELTA_KEY_LEN 32
#define DELTA_HASH_LEN 32
#define DELTA_FEE_BPS_MAX 1000
#define DELTA_BPS_DENOM 10000
#define DELTA_MINIMUM_LIQUIDITY 1000
/* No encoded payload is longer than this (pool_create: 2 * (4 + 16) + 8 + 8 + 2). */
#define DELTA_PAYLOAD_MAX 64

enum {
    DELTA_TX_TRANSFER = 1,
    DELTA_TX_POOL_CREATE = 2,
    DELTA_TX_LIQUIDITY_ADD = 3,
    DELTA_TX_LIQUIDITY_REMOVE = 4,
    DELTA_TX_SWAP = 5,
    DELTA_TX_STAKE = 6,
    DELTA_TX_UNSTAKE = 7,
    DELTA_TX_BRIDGE_OUT = 8,
};

typedef struct {
    uint8_t to[DELTA_KEY_LEN];
    char asset[DELTA_ASSET_MAX + 1];
    uint64_t amount;
} delta_transfer_t;

typedef struct {
    char asset_a[DELTA_ASSET_MAX + 1];
    char asset_b[DELTA_ASSET_MAX + 1];
    uint64_t amount_a;
    uint64_t amount_b;
    uint16_t fee_bps;        /* swap fee in basis points, 0..DELTA_FEE_BPS_MAX */
} delta_pool_create_t;

typedef struct {
    char asset_a[DELTA_ASSET_MAX + 1];
    char asset_b[DELTA_ASSET_MAX + 1];
    uint64_t max_a;          /* most of asset_a the sender will deposit */
    uint64_t max_b;
    uint64_t min_shares;     /* fewest shares the sender accepts */
} delta_liquidity_add_t;

typedef struct {
    char asset_a[DELTA_ASSET_MAX + 1];
    char asset_b[DELTA_ASSET_MAX + 1];
    uint64_t shares;         /* shares to burn */
    uint64_t min_a;          /* least of asset_a the sender accepts back */
    uint64_t min_b;
} delta_liquidity_remove_t;

typedef struct {
    char asset_in[DELTA_ASSET_MAX + 1];
    char asset_out[DELTA_ASSET_MAX + 1];
    uint64_t amount_in;
    uint64_t min_out;        /* fewest asset_out the sender accepts */
} delta_swap_t;

typedef struct {
    uint64_t amount;         /* of the chain's fee asset */
} delta_stake_t;

/* A decoded payload: kind selects the member of u. */
typedef struct {
    uint16_t kind;
    union {
        delta_transfer_t transfer; /* DELTA_TX_TRANSFER and DELTA_TX_BRIDGE_OUT (to: the
                                    * recipient's key on the other chain) */
        delta_pool_create_t pool_create;
        delta_liquidity_add_t liquidity_add;
        delta_liquidity_remove_t liquidity_remove;
        delta_swap_t swap;
        delta_stake_t stake;     /* DELTA_TX_STAKE and DELTA_TX_UNSTAKE */
    } u;
} delta_payload_t;

/* Name of a kind ("transfer", "pool_create", "liquidity_add",
 * "liquidity_remove", "swap", "stake", "unstake", "bridge_out"), or NULL if
 * unknown. */
const char *delta_kind_name(uint16_t kind);

/* Encode p into buf[cap] and set *len. Return 0, -EPROTONOSUPPORT (unknown
 * kind), -EINVAL (a string longer than DELTA_ASSET_MAX) or -ENOBUFS.
 * Values are not checked (see delta_payload_check). */
int delta_payload_encode(const delta_payload_t *p, uint8_t *buf, size_t cap, size_t *len);

/* Decode exactly len bytes of a payload of the given kind into *p
 * (written only on success). Return 0, -EPROTONOSUPPORT (unknown kind,
 * *what = "kind"), -EMSGSIZE (truncated) or -EBADMSG (a string too long or
 * holding a NUL, or trailing bytes), with *what naming the field. */
int delta_payload_decode(delta_payload_t *p, uint16_t kind, const uint8_t *buf, size_t len,
                         const char **what);

/* Check the values of a decoded payload: asset names valid, pool pairs in
 * canonical order (asset_a < asset_b), swap assets distinct, fee_bps <=
 * DELTA_FEE_BPS_MAX. Return 0 or -EINVAL with *what naming the field
 * ("asset", "asset_a", "asset_b", "asset_in", "asset_out", "pair order",
 * "fee_bps") and *why a short reason; -EPROTONOSUPPORT for an unknown kind. */
int delta_payload_check(const delta_payload_t *p, const char **what, const char **why);

/* ---- State tree leaves ---- */

typedef struct {
    char asset[DELTA_ASSET_MAX + 1];
    uint64_t amount;
} delta_balance_t;

typedef struct {
    uint64_t amount;
    uint64_t release_height;
} delta_unbond_t;

typedef struct {
    char asset_a[DELTA_ASSET_MAX + 1];
    char asset_b[DELTA_ASSET_MAX + 1];
    uint64_t shares;
} delta_lp_t;

/* One account as the state tree sees it; the arrays are borrowed and may
 * be in any order. */
typedef struct {
    uint8_t pk[DELTA_KEY_LEN];
    uint64_t nonce;
    const delta_balance_t *balances;
    size_t n_balances;
    uint64_t staked;
    const delta_unbond_t *unbonding;
    size_t n_unbonding;
    const delta_lp_t *lp;
    size_t n_lp;
} delta_account_t;

/* True if the account holds nothing (nonce 0, no non-zero balance, stake,
 * unbonding entry or share): such an account is absent from the tree. */
bool delta_account_is_empty(const delta_account_t *a);

/* Tree key of an account: BLAKE2b-256("adnet/delta/account" || pk). */
void delta_account_key(const uint8_t pk[DELTA_KEY_LEN], uint8_t out[DELTA_HASH_LEN]);

/* Leaf value of an account: BLAKE2b-256 of
 *   "adnet/delta/account/v1" || pk[32] || u64 nonce ||
 *   u32 n || n * (str asset || u64 amount)            balances, by asset, non-zero only
 *   u64 staked ||
 *   u32 n || n * (u64 amount || u64 release_height)   unbonding, by (release_height, amount), non-zero only
 *   u32 n || n * (str asset_a || str asset_b || u64 shares)  LP shares, by (asset_a, asset_b), non-zero only
 * Sorts copies of the arrays, so any input order gives the same value.
 * Return 0, -EINVAL (an invalid asset name, a pair out of order, or the
 * same asset or pair twice among the non-zero entries) or -ENOMEM. */
int delta_account_leaf(const delta_account_t *a, uint8_t out[DELTA_HASH_LEN]);

/* Tree key of a pool: BLAKE2b-256("adnet/delta/pool" || str asset_a || str asset_b). */
void delta_pool_key(const char *asset_a, const char *asset_b, uint8_t out[DELTA_HASH_LEN]);

/* Leaf value of a pool: BLAKE2b-256("adnet/delta/pool/v1" || str asset_a ||
 * str asset_b || u64 reserve_a || u64 reserve_b || u64 shares || u16 fee_bps).
 * Return 0 or -EINVAL (an invalid asset name or the pair out of order). */
int delta_pool_leaf(const char *asset_a, const char *asset_b, uint64_t reserve_a,
                    uint64_t reserve_b, uint64_t shares, uint16_t fee_bps,
                    uint8_t out[DELTA_HASH_LEN]);

#endif
