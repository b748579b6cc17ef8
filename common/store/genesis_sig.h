/* Genesis signatures: the governors listed in a genesis sign its hash, so
 * that a node can tell the network's genesis from any other file with the
 * same chain id. They are kept beside the genesis, in
 * <chain>/genesis.sigs.json (the genesis hash does not cover them):
 *
 *   {"chain_id": "...", "genesis_hash": "<64 hex>",
 *    "signatures": [{"public_key": "<64 hex>", "signature": "<128 hex>"}, ...]}
 *
 * Each signature is Ed25519 over "adnet/genesis-sign/v1" || chain_id || 0
 * || genesis hash (32 bytes). A genesis counts as signed when distinct
 * governors of that genesis with valid signatures reach its threshold:
 * count * 10000 >= threshold_bps * governors (6700 unless the genesis says
 * otherwise). docs/operations.md says how a network's governors sign. */
#ifndef ADNET_GENESIS_SIG_H
#define ADNET_GENESIS_SIG_H

#include <stddef.h>
#include <stdint.h>

#include "common/store/genesis.h"

#define GENESIS_SIGS_FILE "genesis.sigs.json" /* beside genesis.json */
#define GENESIS_SIGS_MAX_BYTES (64 * 1024)
#define GENESIS_SIG_ERR_MAX 512

typedef struct {
    uint8_t pk[BLOCK_KEY_LEN];
    uint8_t sig[BLOCK_SIG_LEN];
} genesis_sig_t;

typedef struct {
    char chain_id[BLOCK_CHAIN_ID_MAX + 1];
    uint8_t genesis_hash[BLOCK_HASH_LEN];
    size_t n;
    genesis_sig_t sigs[GENESIS_MAX_GOVERNORS];
} genesis_sigs_t;

/* Sign g (its hash computed) with the Ed25519 key pk/sk into s. */
void genesis_sig_make(const genesis_t *g, const uint8_t pk[BLOCK_KEY_LEN], const uint8_t sk[64],
                      genesis_sig_t *s);

/* Read and parse path strictly into *out: 0, -ENOENT (no file), -EBADMSG
 * (what was wrong in err), or -errno. */
int genesis_sigs_load(genesis_sigs_t *out, const char *path, char err[GENESIS_SIG_ERR_MAX]);

/* Add s to the file at path for g (creating it), atomically; a signature
 * of the same key already there is kept (-EEXIST unless it is the same
 * bytes: then 0, nothing written). A file for another genesis is refused
 * (-EXDEV). Return 0 or a negative code with err. */
int genesis_sigs_add(const char *path, const genesis_t *g, const genesis_sig_t *s,
                     char err[GENESIS_SIG_ERR_MAX]);

/* Check sigs against g: for g's chain and hash, each signer a governor of
 * g, no signer twice, every signature valid, and enough of them. Return 0
 * with the number of good signatures in *good, or -EXDEV (another
 * genesis), -EPERM (a stranger or a repeated signer), -EBADMSG (a bad
 * signature), -EACCES (too few), with one line in err. */
int genesis_sigs_verify(const genesis_t *g, const genesis_sigs_t *sigs, size_t *good,
                        char err[GENESIS_SIG_ERR_MAX]);

#endif
