#include "tests/lib/blocks.h"

#include <check.h>
#include <string.h>

#include "tests/lib/gen.h"

void blocks_fake(uint64_t height, const uint8_t prev[BLOCK_HASH_LEN], uint64_t time_ms,
                 uint32_t tx_count, block_header_t *h, uint8_t hash[BLOCK_HASH_LEN],
                 commit_cert_t *c)
{
    memset(h, 0, sizeof *h);
    h->protocol_version = 1;
    strcpy(h->chain_id, "adnet-test");
    h->height = height;
    h->time_ms = time_ms;
    memcpy(h->prev_hash, prev, BLOCK_HASH_LEN);
    memset(h->txs_root, (int)height, BLOCK_HASH_LEN);
    memset(h->state_root, (int)(0x80 + height), BLOCK_HASH_LEN);
    memset(h->proposer, 0xab, BLOCK_KEY_LEN);
    h->tx_count = tx_count;
    ck_assert_int_eq(block_header_hash(h, hash), 0);

    memset(c, 0, sizeof *c);
    c->height = height;
    memcpy(c->block_hash, hash, BLOCK_HASH_LEN);
    c->n_sigs = 2;
    memset(c->sigs[0].validator, 0x01, BLOCK_KEY_LEN);
    memset(c->sigs[1].validator, 0x02, BLOCK_KEY_LEN);
    memset(c->sigs[0].sig, (int)height, BLOCK_SIG_LEN);
    memset(c->sigs[1].sig, (int)(height + 100), BLOCK_SIG_LEN);
}

void blocks_fake_std(uint64_t height, const uint8_t prev[BLOCK_HASH_LEN], block_header_t *h,
                     uint8_t hash[BLOCK_HASH_LEN], commit_cert_t *c)
{
    blocks_fake(height, prev, T0_MS + (height - 1) * 1000, (uint32_t)height * 2, h, hash, c);
}

void blocks_put_chain(ledger_t *l, uint64_t to, uint8_t last[BLOCK_HASH_LEN])
{
    static commit_cert_t c; /* large: kept off the stack */
    block_header_t h;
    ledger_tip_t tip;
    uint8_t hash[BLOCK_HASH_LEN];
    uint8_t prev[BLOCK_HASH_LEN];

    ck_assert_int_eq(ledger_tip(l, &tip), 0);
    if (tip.height == 0)
        memset(prev, BLOCKS_GENESIS_BYTE, sizeof prev);
    else
        memcpy(prev, tip.hash, sizeof prev);
    for (uint64_t height = tip.height + 1; height <= to; height++) {
        blocks_fake_std(height, prev, &h, hash, &c);
        ck_assert_int_eq(ledger_begin(l), 0);
        ck_assert_msg(ledger_put_block(l, &h, hash, &c) == 0, "put %llu: %s",
                      (unsigned long long)height, ledger_errmsg(l));
        ck_assert_int_eq(ledger_commit(l), 0);
        memcpy(prev, hash, sizeof prev);
    }
    if (last != NULL)
        memcpy(last, prev, BLOCK_HASH_LEN);
}
