/* The commit record: the last block this validator committed and signed
 * on one chain, kept outside the ledger in <home>/<chain>/last_signed.json
 * (as CometBFT keeps priv_validator_state.json), written after each
 * block's COMMIT is durable. It is the node's memory of its own history:
 *
 *  - at start, a ledger that is missing, empty, behind the record, or at
 *    its height with another hash has lost blocks (a restored backup, a
 *    deleted or truncated file, a WAL that lost frames) and is refused;
 *    a ledger ahead of it (a crash between COMMIT and the record's
 *    update) is fine and the record follows it;
 *  - no block at or below its height is signed unless it is the very
 *    block it names (the guard against signing a height twice, which
 *    backup and restore rely on).
 *
 * The file is small JSON an operator can read; this module formats,
 * parses (bounds-checked, strict: every key once, no other key, fixed
 * types and ranges) and writes it atomically (temporary file, fsync,
 * rename, fsync of the folder). docs/ledger.md describes it. */
#ifndef ADNET_COMMITREC_H
#define ADNET_COMMITREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/store/ledger.h"
#include "proto/block.h"

#define COMMITREC_FILE "last_signed.json" /* in the chain's data folder */
#define COMMITREC_VERSION 1
#define COMMITREC_MAX_BYTES 1024          /* a longer file is refused unread */
#define COMMITREC_ERR_MAX 1024

typedef struct {
    char chain_id[BLOCK_CHAIN_ID_MAX + 1];
    uint8_t genesis_hash[BLOCK_HASH_LEN];  /* the chain it is for */
    uint64_t height;                       /* 0: the genesis state, no block yet */
    uint8_t hash[BLOCK_HASH_LEN];          /* that block's hash; zero at height 0 */
    uint64_t time_ms;                      /* that block's time; 0 at height 0 */
} commitrec_t;

/* Format r as the file's text (one JSON object and a newline) into
 * out[cap]. Return its length, or -ENOBUFS / -EINVAL (height or time over
 * INT64_MAX, a chain id that does not fit). */
int commitrec_format(const commitrec_t *r, char *out, size_t cap);

/* Parse text[len] (need not be NUL-terminated) into *out. Refuse, with
 * what was wrong in err: more than COMMITREC_MAX_BYTES, JSON that is not
 * one object, a duplicate, missing or unknown key, a version other than
 * COMMITREC_VERSION (-EPROTONOSUPPORT), a height or time_ms that is not
 * an integer in 0..INT64_MAX, hashes that are not 64 lowercase hex
 * digits, an empty or too long chain id, a non-zero hash at height 0
 * (-EBADMSG for all but the version). *out is written only on success. */
int commitrec_parse(commitrec_t *out, const char *text, size_t len,
                    char err[COMMITREC_ERR_MAX]);

/* Read and parse the record at path. Return 0, -ENOENT (no record), the
 * refusal of commitrec_parse, or -errno, with a message naming the file. */
int commitrec_load(commitrec_t *out, const char *path, char err[COMMITREC_ERR_MAX]);

/* Write r to path atomically (mode 0600): after a crash the file holds
 * the old record or the new one, never a mix. Return 0 or -errno
 * (-ENOSPC for a full disk) with a message. */
int commitrec_store(const commitrec_t *r, const char *path, char err[COMMITREC_ERR_MAX]);

/* True if r is a record of the chain with this id and genesis hash. */
bool commitrec_is_for(const commitrec_t *r, const char *chain_id,
                      const uint8_t genesis_hash[BLOCK_HASH_LEN]);

/* The record of tip on the chain (chain_id, genesis_hash). */
void commitrec_from_tip(commitrec_t *out, const char *chain_id,
                        const uint8_t genesis_hash[BLOCK_HASH_LEN], const ledger_tip_t *tip);

/* Judge the ledger at ledger_path, described by peek (ledger_peek), against
 * the record r, where record_path names the record in messages. Return 0
 * when the ledger holds every block r names (at its height with its hash,
 * or ahead of it), or -ESTALE with one line for the operator in err: the
 * ledger is at height H but this node committed R (hash ...): the ledger
 * lost blocks, and what to do about it. */
int commitrec_check(const commitrec_t *r, const ledger_peek_t *peek, const char *ledger_path,
                    const char *record_path, char err[COMMITREC_ERR_MAX]);

/* Whether signing block (height, hash) is allowed after r: above r's
 * height, or r's very block. */
bool commitrec_allows(const commitrec_t *r, uint64_t height, const uint8_t hash[BLOCK_HASH_LEN]);

#endif
