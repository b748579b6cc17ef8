/* common/mempool: order, limits, duplicates, removal under churn, and
 * keyed hashing that ground ids cannot aim at one slot. */
#include <check.h>
#include <errno.h>
#include <string.h>

#define MEMPOOL_PRIVATE
#include "common/node/mempool/mempool.h"
#include "tests/lib/suite.h"

Suite *test_suite(void);

static void key(uint8_t out[32], unsigned n, unsigned salt)
{
    memset(out, 0, 32);
    /* Same first 8 bytes for many keys: probe chains must still work. */
    out[8] = (uint8_t)salt;
    out[28] = (uint8_t)(n >> 24);
    out[29] = (uint8_t)(n >> 16);
    out[30] = (uint8_t)(n >> 8);
    out[31] = (uint8_t)n;
}

static mempool_t *pool(size_t txs, size_t bytes, size_t per)
{
    mempool_limits_t l = { txs, bytes, per };
    mempool_t *p = mempool_new(&l);
    ck_assert_ptr_nonnull(p);
    return p;
}

START_TEST(fifo_order_and_contents)
{
    mempool_t *p = pool(100, 1 << 20, 100);
    uint8_t id[32], s[32], body[3] = { 1, 2, 3 };
    key(s, 1, 9);
    for (unsigned i = 0; i < 10; i++) {
        key(id, i, 0);
        body[0] = (uint8_t)i;
        ck_assert_int_eq(mempool_add(p, id, s, body, sizeof(body), 100 + i, NULL), 0);
    }
    ck_assert_uint_eq(mempool_count(p), 10);
    ck_assert_uint_eq(mempool_bytes(p), 30);
    unsigned i = 0;
    for (const mempool_entry_t *e = mempool_first(p); e; e = mempool_next(e), i++) {
        key(id, i, 0);
        ck_assert_mem_eq(e->id, id, 32);
        ck_assert_uint_eq(e->bytes[0], i);
        ck_assert_uint_eq(e->added_ms, 100 + i);
    }
    ck_assert_uint_eq(i, 10);
    /* Remove from the middle, the head and the tail. */
    key(id, 5, 0);
    ck_assert_int_eq(mempool_remove(p, id), 0);
    ck_assert_int_eq(mempool_remove(p, id), -ENOENT);
    ck_assert(!mempool_contains(p, id));
    key(id, 0, 0);
    ck_assert_int_eq(mempool_remove(p, id), 0);
    key(id, 9, 0);
    ck_assert_int_eq(mempool_remove(p, id), 0);
    unsigned expect[] = { 1, 2, 3, 4, 6, 7, 8 }, k = 0;
    for (const mempool_entry_t *e = mempool_first(p); e; e = mempool_next(e), k++)
        ck_assert_uint_eq(e->bytes[0], expect[k]);
    ck_assert_uint_eq(k, 7);
    ck_assert_uint_eq(mempool_bytes(p), 21);
    mempool_free(p);
}
END_TEST

START_TEST(limits_and_duplicates)
{
    mempool_t *p = pool(3, 100, 2);
    uint8_t id[32], a[32], b[32], body[40] = { 0 };
    reject_t why;
    key(a, 1, 1);
    key(b, 2, 2);
    key(id, 1, 0);
    ck_assert_int_eq(mempool_add(p, id, a, body, 10, 0, &why), 0);
    ck_assert_int_eq(mempool_add(p, id, b, body, 10, 0, &why), -EEXIST);
    ck_assert_str_eq(why.code, "duplicate");
    key(id, 2, 0);
    ck_assert_int_eq(mempool_add(p, id, a, body, 10, 0, &why), 0);
    key(id, 3, 0);
    ck_assert_int_eq(mempool_add(p, id, a, body, 10, 0, &why), -EDQUOT);
    ck_assert_str_eq(why.code, "sender_limit");
    ck_assert_ptr_nonnull(strstr(why.message, "limit 2"));
    /* Bytes: 20 held, 90 more would pass 100. */
    ck_assert_int_eq(mempool_add(p, id, b, body, 90, 0, &why), -ENOSPC);
    ck_assert_str_eq(why.code, "mempool_full");
    ck_assert_int_eq(mempool_add(p, id, b, body, 40, 0, &why), 0);
    key(id, 4, 0);
    ck_assert_int_eq(mempool_add(p, id, b, body, 1, 0, &why), -ENOSPC); /* count */
    ck_assert_uint_eq(mempool_count(p), 3);
    /* Removing frees the sender's quota. */
    key(id, 1, 0);
    ck_assert_int_eq(mempool_remove(p, id), 0);
    key(id, 5, 0);
    ck_assert_int_eq(mempool_add(p, id, a, body, 10, 0, &why), 0);
    mempool_free(p);
}
END_TEST

START_TEST(churn_keeps_tables_consistent)
{
    mempool_t *p = pool(64, 1 << 20, 1000);
    uint8_t id[32], s[32], body[1] = { 0 };
    key(s, 7, 7);
    /* Many more adds and removes than capacity: tombstones must be reclaimed. */
    for (unsigned round = 0; round < 200; round++) {
        for (unsigned i = 0; i < 50; i++) {
            key(id, round * 50 + i, 3);
            ck_assert_int_eq(mempool_add(p, id, s, body, 1, 0, NULL), 0);
        }
        for (unsigned i = 0; i < 50; i++) {
            key(id, round * 50 + i, 3);
            ck_assert(mempool_contains(p, id));
            ck_assert_int_eq(mempool_remove(p, id), 0);
        }
        ck_assert_uint_eq(mempool_count(p), 0);
        ck_assert_ptr_null(mempool_first(p));
    }
    mempool_free(p);
}
END_TEST

/* An id as an attacker grinds them: the first 16 bytes fixed, the rest
 * counting, so any hash of a prefix puts them all in one slot. */
static void ground_id(uint8_t out[32], unsigned n)
{
    memset(out, 0xa5, 16);
    memset(out + 16, 0, 16);
    out[28] = (uint8_t)(n >> 24);
    out[29] = (uint8_t)(n >> 16);
    out[30] = (uint8_t)(n >> 8);
    out[31] = (uint8_t)n;
}

START_TEST(shared_prefix_spreads_over_slots)
{
    enum { N = 4096, SLOTS = 1024 };
    static unsigned char hit[SLOTS];
    mempool_t *p = pool(N, 1 << 20, N);
    uint8_t id[32];
    size_t distinct = 0;
    memset(hit, 0, sizeof hit);
    for (unsigned i = 0; i < N; i++) {
        ground_id(id, i);
        uint64_t h = mempool_key_hash(p, id);
        ck_assert_uint_eq(h, mempool_key_hash(p, id)); /* stable within a pool */
        if (!hit[h % SLOTS]) {
            hit[h % SLOTS] = 1;
            distinct++;
        }
    }
    /* 4096 uniform draws leave about 1024 * e^-4 = 19 of 1024 slots empty;
     * a hash of the first 8 or 16 bytes fills exactly one. */
    ck_assert_msg(distinct > 900, "%zu of %d slots used", distinct, SLOTS);
    mempool_free(p);
}
END_TEST

START_TEST(each_pool_has_its_own_key)
{
    mempool_t *a = pool(16, 1 << 20, 16), *b = pool(16, 1 << 20, 16);
    uint8_t id[32];
    int same = 0;
    for (unsigned i = 0; i < 64; i++) {
        ground_id(id, i);
        same += mempool_key_hash(a, id) == mempool_key_hash(b, id);
    }
    /* Two random SipHash keys agree on an input with probability 2^-64. */
    ck_assert_int_eq(same, 0);
    mempool_free(a);
    mempool_free(b);
}
END_TEST

START_TEST(many_colliding_ids_add_find_remove)
{
    enum { N = 20000 };
    mempool_t *p = pool(N, 1 << 20, 1);
    uint8_t id[32], body[1] = { 0 };
    /* The ids double as sender keys (one transaction each), so both tables
     * hold ground keys. */
    for (unsigned i = 0; i < N; i++) {
        ground_id(id, i);
        ck_assert_int_eq(mempool_add(p, id, id, body, 1, 0, NULL), 0);
    }
    ck_assert_uint_eq(mempool_count(p), N);
    /* Linear probing at load 0.3: the worst chain is a few dozen slots at
     * most. A prefix hash makes it N. */
    ck_assert_msg(mempool_probe_max(p) < 64, "probe chain of %zu slots", mempool_probe_max(p));
    ground_id(id, N);
    ck_assert(!mempool_contains(p, id));
    ck_assert_int_eq(mempool_remove(p, id), -ENOENT);
    for (unsigned i = 0; i < N; i++) {
        ground_id(id, i);
        ck_assert(mempool_contains(p, id));
        ck_assert_int_eq(mempool_add(p, id, id, body, 1, 0, NULL), -EEXIST);
    }
    /* Remove the even ones: the odd ones stay reachable past the tombstones. */
    for (unsigned i = 0; i < N; i += 2) {
        ground_id(id, i);
        ck_assert_int_eq(mempool_remove(p, id), 0);
    }
    ck_assert_uint_eq(mempool_count(p), N / 2);
    for (unsigned i = 0; i < N; i++) {
        ground_id(id, i);
        ck_assert(mempool_contains(p, id) == (i % 2 == 1));
    }
    for (unsigned i = 1; i < N; i += 2) {
        ground_id(id, i);
        ck_assert_int_eq(mempool_remove(p, id), 0);
    }
    ck_assert_uint_eq(mempool_count(p), 0);
    ck_assert_ptr_null(mempool_first(p));
    /* A sender's count went with its transaction: it may send again. */
    ground_id(id, 7);
    ck_assert_int_eq(mempool_add(p, id, id, body, 1, 0, NULL), 0);
    mempool_free(p);
}
END_TEST

START_TEST(zero_limits_refused)
{
    mempool_limits_t l = { 0, 10, 10 };
    ck_assert_ptr_null(mempool_new(&l));
    mempool_free(NULL);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "mempool", .tcase = "core"};
    return suite_build(&spec, SUITE_TESTS(
        fifo_order_and_contents, limits_and_duplicates, churn_keeps_tables_consistent,
        zero_limits_refused, shared_prefix_spreads_over_slots, each_pool_has_its_own_key,
        many_colliding_ids_add_find_remove));
}
