/* A chain as the shared pipeline sees it: a ledger, a genesis, the node's
 * validator key, and the chain's state machine plugged in through
 * chain_ops_t (the only chain-specific code; common/ never asks which
 * chain it runs). chain_produce_block builds, signs and commits one block
 * in one SQLite transaction. */
#ifndef ADNET_CHAIN_H
#define ADNET_CHAIN_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "common/genesis.h"
#include "common/keys.h"
#include "common/ledger.h"
#include "proto/block.h"

#define CHAIN_ERR_MAX 512

typedef struct chain_ops {
    const char *name;              /* "alpha" or "delta": names logs, paths, genesis.chain */
    const ledger_schema_t *schema; /* base migration first, then the chain's tables */
    /* Write the genesis state (inside the ledger's open transaction) into a
     * new ledger. Return 0 or a negative code with a message in err. */
    int (*genesis_init)(sqlite3 *db, const genesis_t *g, char *err, size_t errlen);
    /* Compute the root of the current state into out. Return 0 or -EIO. */
    int (*state_root)(sqlite3 *db, uint8_t out[BLOCK_HASH_LEN]);
} chain_ops_t;

typedef struct chain chain_t;

/* Open the chain's ledger at ledger_path (creating it from genesis g if
 * new), check it belongs to g, and check that key can commit blocks alone
 * (it holds >= 2/3 of the voting power). g and key are copied. On failure
 * return -EPROTO/-EILSEQ/-ENOTUNIQ (ledger refused: newer schema, corrupt,
 * other chain), -EPERM (key cannot commit), -EIO (SQLite), with a message in err. */
int chain_open(chain_t **out, const chain_ops_t *ops, const char *ledger_path,
               const genesis_t *g, const keys_pair_t *key, char err[CHAIN_ERR_MAX]);
void chain_close(chain_t *c);

/* Current tip (height 0 before the first block). */
void chain_tip(const chain_t *c, ledger_tip_t *out);

/* Build, sign and commit the next block with time max(now_ms, tip+1).
 * All or nothing: on failure the ledger keeps its tip. Return 0 and write
 * *out (if non-NULL), or -EIO with the reason in err. */
int chain_produce_block(chain_t *c, uint64_t now_ms, block_header_t *out, char err[CHAIN_ERR_MAX]);

ledger_t *chain_ledger(chain_t *c);

#endif
