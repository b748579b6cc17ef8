#define MEMPOOL_PRIVATE
#include "common/node/mempool/mempool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* Open-addressing tables keyed by 32-byte ids and public keys. Those keys
 * come from outside (an id is the hash of bytes the sender chose, a key is
 * whatever the sender claims), so they are not trusted to be uniform: a
 * sender can grind ids that agree in any bits a fixed hash looks at and
 * turn every probe into a walk of the whole table. Slots are therefore
 * chosen by SipHash-2-4 (crypto_shorthash) under a random key drawn per
 * pool, as Redis keys its dicts: without the key no one can aim at a
 * slot, and two nodes place the same ids differently. Deleted slots become
 * tombstones; the tables are sized for twice the pool's capacity and
 * rebuilt when tombstones pile up. */
typedef struct {
    uint8_t key[32];
    void *val;          /* entry pointer (ids) or count (senders) */
    uint8_t state;      /* 0 empty, 1 used, 2 tombstone */
} slot_t;

typedef struct {
    slot_t *slots;
    size_t cap;         /* power of two */
    size_t used, tombs;
    const uint8_t *hash_key; /* the pool's SipHash key (crypto_shorthash_KEYBYTES) */
} table_t;

struct mempool {
    mempool_limits_t lim;
    mempool_entry_t *head, *tail;
    size_t count, bytes;
    table_t ids;        /* id -> entry */
    table_t senders;    /* sender -> (uintptr_t)count */
    uint8_t hash_key[crypto_shorthash_KEYBYTES]; /* random, secret: see table_t */
};

static uint64_t key_hash(const table_t *t, const uint8_t k[32])
{
    uint8_t out[crypto_shorthash_BYTES];
    uint64_t h;
    crypto_shorthash(out, k, 32, t->hash_key);
    memcpy(&h, out, sizeof(h));
    return h;
}

static int table_init(table_t *t, size_t want, const uint8_t *hash_key)
{
    size_t cap = 16;
    while (cap < want * 2 && cap < ((size_t)1 << 40))
        cap <<= 1;
    t->slots = calloc(cap, sizeof(slot_t));
    t->cap = cap;
    t->used = t->tombs = 0;
    t->hash_key = hash_key;
    return t->slots ? 0 : -ENOMEM;
}

static slot_t *table_find(const table_t *t, const uint8_t k[32])
{
    size_t mask = t->cap - 1;
    for (size_t i = key_hash(t, k) & mask, n = 0; n < t->cap; i = (i + 1) & mask, n++) {
        slot_t *s = &t->slots[i];
        if (s->state == 0)
            return NULL;
        if (s->state == 1 && memcmp(s->key, k, 32) == 0)
            return s;
    }
    return NULL;
}

static int table_rehash(table_t *t)
{
    table_t fresh;
    if (table_init(&fresh, t->cap / 2, t->hash_key) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
        slot_t *s = &t->slots[i];
        if (s->state != 1)
            continue;
        size_t mask = fresh.cap - 1, j = key_hash(&fresh, s->key) & mask;
        while (fresh.slots[j].state == 1)
            j = (j + 1) & mask;
        fresh.slots[j] = *s;
        fresh.used++;
    }
    free(t->slots);
    *t = fresh;
    return 0;
}

/* Insert a key known to be absent. */
static int table_put(table_t *t, const uint8_t k[32], void *val)
{
    if ((t->used + t->tombs + 1) * 4 > t->cap * 3 && table_rehash(t) < 0)
        return -ENOMEM;
    size_t mask = t->cap - 1, i = key_hash(t, k) & mask;
    while (t->slots[i].state == 1)
        i = (i + 1) & mask;
    if (t->slots[i].state == 2)
        t->tombs--;
    memcpy(t->slots[i].key, k, 32);
    t->slots[i].val = val;
    t->slots[i].state = 1;
    t->used++;
    return 0;
}

static void table_del(table_t *t, slot_t *s)
{
    s->state = 2;
    t->used--;
    t->tombs++;
}

mempool_t *mempool_new(const mempool_limits_t *limits)
{
    if (!limits->max_txs || !limits->max_bytes || !limits->max_per_sender)
        return NULL;
    /* randombytes_buf needs an initialised libsodium; sodium_init is
     * idempotent and thread-safe. */
    if (sodium_init() < 0)
        return NULL;
    mempool_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->lim = *limits;
    randombytes_buf(p->hash_key, sizeof(p->hash_key));
    if (table_init(&p->ids, limits->max_txs, p->hash_key) < 0 ||
        table_init(&p->senders, limits->max_txs, p->hash_key) < 0) {
        mempool_free(p);
        return NULL;
    }
    return p;
}

void mempool_free(mempool_t *p)
{
    if (!p)
        return;
    for (mempool_entry_t *e = p->head, *n; e; e = n) {
        n = e->next;
        free(e->bytes);
        free(e);
    }
    free(p->ids.slots);
    free(p->senders.slots);
    sodium_memzero(p->hash_key, sizeof(p->hash_key));
    free(p);
}

int mempool_add(mempool_t *p, const uint8_t id[TX_ID_LEN], const uint8_t sender[BLOCK_KEY_LEN],
                const uint8_t *bytes, size_t len, uint64_t now_ms, reject_t *why)
{
    if (table_find(&p->ids, id))
        return reject(why, -EEXIST, "duplicate", "the transaction is already in the mempool");
    if (p->count >= p->lim.max_txs || p->bytes + len > p->lim.max_bytes)
        return reject(why, -ENOSPC, "mempool_full",
                      "the mempool is full (%zu transactions, %zu bytes); retry later",
                      p->count, p->bytes);
    slot_t *ss = table_find(&p->senders, sender);
    uintptr_t n = ss ? (uintptr_t)ss->val : 0;
    if (n >= p->lim.max_per_sender)
        return reject(why, -EDQUOT, "sender_limit",
                      "the sender already has %zu transactions pending (limit %zu)", (size_t)n,
                      p->lim.max_per_sender);
    int rc = -ENOMEM;
    mempool_entry_t *e = calloc(1, sizeof(*e));
    uint8_t *copy = malloc(len ? len : 1);
    if (!e || !copy)
        goto out;
    memcpy(copy, bytes, len);
    memcpy(e->id, id, TX_ID_LEN);
    memcpy(e->sender, sender, BLOCK_KEY_LEN);
    e->bytes = copy;
    e->len = len;
    e->added_ms = now_ms;
    if (table_put(&p->ids, id, e) < 0)
        goto out;
    if (ss) {
        ss->val = (void *)(n + 1);
    } else if (table_put(&p->senders, sender, (void *)(uintptr_t)1) < 0) {
        table_del(&p->ids, table_find(&p->ids, id));
        goto out;
    }
    e->prev = p->tail;
    if (p->tail)
        p->tail->next = e;
    else
        p->head = e;
    p->tail = e;
    p->count++;
    p->bytes += len;
    e = NULL; /* the pool owns it now */
    copy = NULL;
    rc = 0;
out:
    free(copy);
    free(e);
    return rc == 0 ? 0 : reject(why, rc, "mempool_full", "out of memory");
}

bool mempool_contains(const mempool_t *p, const uint8_t id[TX_ID_LEN])
{
    return table_find(&p->ids, id) != NULL;
}

int mempool_set_tag(mempool_t *p, const uint8_t id[TX_ID_LEN], uint64_t tag)
{
    slot_t *s = table_find(&p->ids, id);
    if (!s)
        return -ENOENT;
    ((mempool_entry_t *)s->val)->tag = tag;
    return 0;
}

int mempool_remove(mempool_t *p, const uint8_t id[TX_ID_LEN])
{
    slot_t *s = table_find(&p->ids, id);
    if (!s)
        return -ENOENT;
    mempool_entry_t *e = s->val;
    table_del(&p->ids, s);
    slot_t *ss = table_find(&p->senders, e->sender);
    if (ss) {
        uintptr_t n = (uintptr_t)ss->val;
        if (n <= 1)
            table_del(&p->senders, ss);
        else
            ss->val = (void *)(n - 1);
    }
    if (e->prev)
        e->prev->next = e->next;
    else
        p->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        p->tail = e->prev;
    p->count--;
    p->bytes -= e->len;
    free(e->bytes);
    free(e);
    /* Keep probe chains short under churn. */
    if (p->ids.tombs > p->ids.cap / 4)
        table_rehash(&p->ids);
    if (p->senders.tombs > p->senders.cap / 4)
        table_rehash(&p->senders);
    return 0;
}

const mempool_entry_t *mempool_first(const mempool_t *p)
{
    return p->head;
}

const mempool_entry_t *mempool_next(const mempool_entry_t *e)
{
    return e->next;
}

size_t mempool_count(const mempool_t *p)
{
    return p->count;
}

size_t mempool_bytes(const mempool_t *p)
{
    return p->bytes;
}

uint64_t mempool_key_hash(const mempool_t *p, const uint8_t k[32])
{
    return key_hash(&p->ids, k);
}

/* Slots a lookup of the worst-placed key of t visits. */
static size_t table_probe_max(const table_t *t)
{
    size_t mask = t->cap - 1, worst = 0;
    for (size_t i = 0; i < t->cap; i++) {
        if (t->slots[i].state != 1)
            continue;
        size_t visits = ((i - (key_hash(t, t->slots[i].key) & mask)) & mask) + 1;
        if (visits > worst)
            worst = visits;
    }
    return worst;
}

size_t mempool_probe_max(const mempool_t *p)
{
    size_t ids = table_probe_max(&p->ids), senders = table_probe_max(&p->senders);
    return ids > senders ? ids : senders;
}
