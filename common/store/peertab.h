/* The headers of the other chain on the node that this chain's worker
 * has verified (finality proofs: a header and its commit certificate),
 * in the table peer_headers (PEERTAB_SQL_V1, a migration a chain appends
 * to its schema; docs/ledger.md describes it). One row per (peer chain,
 * height), readable columns beside the encoded header and certificate,
 * so an operator can see with sqlite3 how far each chain has seen the
 * other; and, in blocks, the columns peer_height and peer_hash: the peer
 * header each block names (its anchor). Functions take the ledger's sql_t and return 0 or a negative
 * errno with the message on it; writes run in the caller's transaction
 * (or autocommit). */
#ifndef ADNET_PEERTAB_H
#define ADNET_PEERTAB_H

#include <stddef.h>
#include <stdint.h>

#include "common/store/sql.h"
#include "proto/block.h"

extern const char PEERTAB_SQL_V1[];

/* Whether q's ledger has the table: 1, 0, or a negative code. */
int peertab_present(sql_t *q);

/* Store a verified header of chain (its decoded form h, its hash, its
 * encoding and its certificate's), with n_signers and their power, at
 * verified_ms (wall clock). -EEXIST if that height is stored already. */
int peertab_put(sql_t *q, const char *chain, const block_header_t *h,
                const uint8_t hash[BLOCK_HASH_LEN], const uint8_t *header, size_t header_len,
                const uint8_t *cert, size_t cert_len, uint32_t n_signers, uint64_t verified_ms);

/* The newest stored header of chain: its height, hash and time (0, zeros
 * and 0 when there is none). */
int peertab_tip(sql_t *q, const char *chain, uint64_t *height, uint8_t hash[BLOCK_HASH_LEN],
                uint64_t *time_ms);

/* The stored header of chain at height: its state root and hash.
 * -ENOENT if not stored. */
int peertab_get(sql_t *q, const char *chain, uint64_t height, uint8_t hash[BLOCK_HASH_LEN],
                uint8_t state_root[BLOCK_HASH_LEN]);

#endif
