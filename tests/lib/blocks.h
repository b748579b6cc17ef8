/* Fake blocks for ledger-level tests: headers and commit certificates with
 * recognisable bytes (no real signatures: the ledger stores them, it does
 * not verify them), and chains of them committed to a ledger. */
#ifndef ADNET_TEST_BLOCKS_H
#define ADNET_TEST_BLOCKS_H

#include <stdint.h>

#include "common/store/ledger.h"
#include "proto/block.h"

/* Block 1's prev_hash is BLOCK_HASH_LEN bytes of this: the fake genesis hash. */
#define BLOCKS_GENESIS_BYTE 0xee

/* Build block height on prev into *h, its hash into hash and a certificate
 * for it into *c: chain "adnet-test", protocol 1, the given time and
 * tx_count, txs_root all bytes height, state_root all 0x80 + height,
 * proposer all 0xab; two signatures by validators 0x01.. and 0x02..,
 * bytes height and height + 100. */
void blocks_fake(uint64_t height, const uint8_t prev[BLOCK_HASH_LEN], uint64_t time_ms,
                 uint32_t tx_count, block_header_t *h, uint8_t hash[BLOCK_HASH_LEN],
                 commit_cert_t *c);

/* blocks_fake with the time and count blocks_put_chain gives block
 * height: T0_MS + (height - 1) s, and a tx_count of 2 * height. */
void blocks_fake_std(uint64_t height, const uint8_t prev[BLOCK_HASH_LEN], block_header_t *h,
                     uint8_t hash[BLOCK_HASH_LEN], commit_cert_t *c);

/* Commit blocks_fake_std blocks tip+1 .. to on top of l's tip, each in a
 * ledger transaction of its own (none if to <= tip); write the last
 * block's hash (the tip's if none was added, the fake genesis hash on an
 * empty ledger) into last if it is non-NULL. */
void blocks_put_chain(ledger_t *l, uint64_t to, uint8_t last[BLOCK_HASH_LEN]);

#endif
