/* The mempool: admitted transactions waiting for a block, in admission
 * order, bounded by count, bytes and per-sender count, without
 * duplicates. Owned by the event loop thread; not thread-safe. */
#ifndef ADNET_MEMPOOL_H
#define ADNET_MEMPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/base/reject.h"
#include "proto/tx.h"

typedef struct {
    size_t max_txs;         /* transactions held at most */
    size_t max_bytes;       /* encoded bytes held at most */
    size_t max_per_sender;  /* transactions of one sender held at most */
} mempool_limits_t;

typedef struct mempool_entry {
    uint8_t id[TX_ID_LEN];
    uint8_t sender[BLOCK_KEY_LEN];
    uint8_t *bytes;         /* the encoded transaction (owned by the pool) */
    size_t len;
    uint64_t added_ms;      /* monotonic admission time, for latency metrics */
    uint64_t tag;           /* the owner's number for it (the ledger's copy: its seq), 0 */
    struct mempool_entry *prev, *next; /* admission order */
} mempool_entry_t;

typedef struct mempool mempool_t;

/* New empty pool, or NULL (out of memory / zero limits / libsodium cannot
 * start). Its hash tables are keyed with a fresh random key, so where an
 * id lands cannot be predicted from outside. Free with mempool_free
 * (NULL-safe). */
mempool_t *mempool_new(const mempool_limits_t *limits);
void mempool_free(mempool_t *p);

/* Copy the transaction in. Return 0, or refuse with why: -EEXIST
 * "duplicate" (same id pooled), -ENOSPC "mempool_full" (count or bytes),
 * -EDQUOT "sender_limit", -ENOMEM. */
int mempool_add(mempool_t *p, const uint8_t id[TX_ID_LEN], const uint8_t sender[BLOCK_KEY_LEN],
                const uint8_t *bytes, size_t len, uint64_t now_ms, reject_t *why);
bool mempool_contains(const mempool_t *p, const uint8_t id[TX_ID_LEN]);
/* Set the tag of the entry with id. Return 0 or -ENOENT. */
int mempool_set_tag(mempool_t *p, const uint8_t id[TX_ID_LEN], uint64_t tag);
/* Remove by id. Return 0 or -ENOENT. */
int mempool_remove(mempool_t *p, const uint8_t id[TX_ID_LEN]);

/* Oldest entry, and the one after e; NULL at the end. Entries stay valid
 * until removed. */
const mempool_entry_t *mempool_first(const mempool_t *p);
const mempool_entry_t *mempool_next(const mempool_entry_t *e);

size_t mempool_count(const mempool_t *p);
size_t mempool_bytes(const mempool_t *p);

#ifdef MEMPOOL_PRIVATE
/* For tests: the 64-bit hash that places key k (an id or a sender key) in
 * p's tables; the slot is its low bits. Keyed per pool. */
uint64_t mempool_key_hash(const mempool_t *p, const uint8_t k[32]);
/* For tests: slots visited by a lookup of the worst-placed key in either
 * of p's tables (1 when every key sits in its own slot). */
size_t mempool_probe_max(const mempool_t *p);
#endif

#endif
