/* Genesis files: the first state of a chain, as JSON an operator can read.
 * A genesis is named by its hash: BLAKE2b-256 over its canonical JSON
 * (compact, keys sorted), so whitespace and key order in the file do not
 * change it.
 *
 * Its balances are either inline (a "balances" array of at most
 * GENESIS_MAX_INLINE_BALANCES) or in a balances file beside it, named by
 * "balances_file": {"path", "count", "hash"}: one canonical line
 * {"amount":N,"asset":"A","owner":"<64 hex>"} per balance, sorted by owner
 * then asset, hashed with plain BLAKE2b-256 (b2sum -l 256), so that the
 * genesis hash covers them through that hash. genesis_t holds only the
 * header: balances are read one at a time, when a ledger is created, with
 * genesis_balances_foreach. */
#ifndef ADNET_GENESIS_H
#define ADNET_GENESIS_H

#include <stddef.h>
#include <stdint.h>

#include "proto/block.h"

#define GENESIS_MAX_VALIDATORS BLOCK_MAX_SIGS
#define GENESIS_MAX_GOVERNORS 128
#define GENESIS_MAX_INLINE_BALANCES 1024 /* in "balances"; more go in a balances file */
#define GENESIS_MAX_ASSETS 1024           /* distinct assets among the balances */
#define GENESIS_FILE_NAME_MAX 64          /* balances_file.path: a plain name beside genesis.json */
#define GENESIS_PATH_MAX 4096
#define GENESIS_BALANCES_FILE "balances.jsonl" /* the name adnet init gives it */
#define GENESIS_PROGRESS_EVERY 16384      /* balances between two progress calls */
#define GENESIS_ASSET_MAX 16
#define GENESIS_ERR_MAX 512
#define GENESIS_DEFAULT_MIN_FEE 1
#define GENESIS_DEFAULT_FEE_ASSET "ADN"
#define GENESIS_MAX_PARAMS 16
#define GENESIS_PARAM_KEY_MAX 32
#define GENESIS_PARAM_VALUE_MAX 128
#define GENESIS_CHAIN_MAX 15
#define GENESIS_MAX_POWER (1ULL << 53) /* so total power * 3 never overflows */
#define GENESIS_MAX_PROGRAMS 8            /* in "programs" */
#define GENESIS_PROGRAM_JSON_MAX 16384    /* one program file, as compact JSON */
#define GENESIS_POLICY_MAX 15
#define GENESIS_THRESHOLD_BPS_DEFAULT 6700 /* of the governors that must approve */
#define GENESIS_VOTING_PERIOD_DEFAULT 1200 /* blocks a proposal is open for */

typedef struct {
    char name[65];
    uint8_t pk[BLOCK_KEY_LEN];
    uint64_t power;
} genesis_validator_t;

typedef struct {
    uint8_t owner[BLOCK_KEY_LEN];
    char asset[GENESIS_ASSET_MAX + 1];
    uint64_t amount;
} genesis_balance_t;

/* A chain-specific parameter of "params": its key and its value as
 * compact JSON (a non-negative integer or a string). Common code reads only
 * min_fee and fee_asset; each chain reads and checks its own keys
 * (chain_ops_t.genesis_check) and leaves the others alone. */
typedef struct {
    char key[GENESIS_PARAM_KEY_MAX + 1];     /* 1..32 of [a-z0-9_] */
    char value[GENESIS_PARAM_VALUE_MAX + 1]; /* e.g. "10" or "\"abcd...\"" */
} genesis_param_t;

/* A program registered at genesis with edition 0: its upgrade policy and
 * its program file, kept as compact JSON text. genesis_load checks only
 * the shape ({"policy": string, "program": object}); the governance stage
 * (common/node/gov) parses the program when the chain opens, and a
 * program that does not load stops the node. */
typedef struct {
    char policy[GENESIS_POLICY_MAX + 1];
    char json[GENESIS_PROGRAM_JSON_MAX];
} genesis_program_t;

typedef struct {
    char chain_id[BLOCK_CHAIN_ID_MAX + 1];
    char chain[GENESIS_CHAIN_MAX + 1]; /* the chain's name: 1..15 of [a-z] */
    char network[16];              /* devnet | testnet | mainnet */
    uint64_t genesis_time_ms;
    uint32_t protocol_version;
    uint64_t min_fee;              /* smallest fee a transaction may pay */
    char fee_asset[GENESIS_ASSET_MAX + 1]; /* asset fees are paid in */
    size_t n_params;               /* the chain's own params, read with genesis_param_* */
    genesis_param_t params[GENESIS_MAX_PARAMS];
    size_t n_validators;
    genesis_validator_t validators[GENESIS_MAX_VALIDATORS];
    size_t n_governors;
    uint8_t governors[GENESIS_MAX_GOVERNORS][BLOCK_KEY_LEN];
    /* "governance": {"threshold_bps", "voting_period"}; absent means the
     * defaults and is left out of the canonical form (so older genesis
     * files keep their hash). */
    int has_governance;
    uint32_t gov_threshold_bps;    /* 1..10000 */
    uint64_t gov_voting_period;    /* 1..10^7 blocks */
    /* "programs": absent (n_programs 0) means the node's built-in ones. */
    size_t n_programs;
    genesis_program_t programs[GENESIS_MAX_PROGRAMS];
    uint64_t n_balances;           /* balances: inline, or the lines of balances_file */
    /* A genesis built in memory (adnet init, tests) points here at its
     * caller's n_balances inline balances: not owned, and they must outlive
     * every use of g. NULL after genesis_load: the balances stay on disk. */
    genesis_balance_t *balances;
    char balances_file[GENESIS_FILE_NAME_MAX + 1]; /* "" inline; else a file beside genesis.json */
    uint8_t balances_hash[BLOCK_HASH_LEN];         /* BLAKE2b-256 of that file's bytes */
    char path[GENESIS_PATH_MAX];   /* the genesis.json last loaded or saved ("" if none) */
    int has_peer_genesis;          /* names the genesis of a chain it depends on: */
    char peer_chain[GENESIS_CHAIN_MAX + 1];    /* JSON key "<peer_chain>_genesis_hash" */
    uint8_t peer_genesis_hash[BLOCK_HASH_LEN];
    uint8_t hash[BLOCK_HASH_LEN];  /* computed on load/save */
} genesis_t;

/* Fill the common parameters (min_fee, fee_asset, the governance
 * threshold and voting period) with their defaults and drop every
 * chain-specific one. */
void genesis_params_default(genesis_t *g);

/* Load and check a genesis file; with chain non-NULL, refuse a genesis of
 * another chain. A missing "params" object means the defaults. Inline
 * balances are checked here (their count kept, g->balances NULL); a
 * balances file is only named (its name, count and hash kept), not read.
 * On failure return -EINVAL/-errno with a message naming the file and
 * field; *g is written only on success. */
int genesis_load(genesis_t *g, const char *path, const char *chain, char err[GENESIS_ERR_MAX]);
/* Compute g->hash and write the file (0644, atomically, never replacing
 * an existing file unless overwrite); set g->path. The inline balances
 * come from g->balances or, for a loaded genesis, from g->path again; a
 * genesis naming balances_file writes the name, count and hash only (write
 * the file with genesis_balances_write). Return 0, -EINVAL (a value JSON
 * cannot carry: amount or time above 2^63-1; a bad balances_file name;
 * inline balances it cannot find), -ENAMETOOLONG, or -errno. */
int genesis_save(genesis_t *g, const char *path, int overwrite);

/* ---- balances, one at a time ---- */

/* Per-asset totals of a genesis' balances. */
typedef struct {
    char asset[GENESIS_ASSET_MAX + 1];
    uint64_t amount;   /* sum of the balances, at most 2^63-1 */
    uint64_t count;    /* how many balances, zero amounts included */
} genesis_total_t;

typedef struct {
    genesis_total_t *v; /* sorted by asset; owned, freed by genesis_totals_free */
    size_t n;
} genesis_totals_t;

/* Free t->v and zero t; NULL-safe. */
void genesis_totals_free(genesis_totals_t *t);

/* What genesis_balances_foreach hands over: balance number index (from 0:
 * its place in the list, or the file's line index + 1). Return 0 to go on,
 * or a negative code to stop with it and a message in err (errlen bytes);
 * or -EEXIST with err left empty for "a duplicate owner and asset" (a
 * PRIMARY KEY conflict), which the iterator reports as -EINVAL. The
 * iterator puts where the balance is in front of the message. */
typedef int (*genesis_balance_fn)(void *ctx, uint64_t index, const genesis_balance_t *b,
                                  char *err, size_t errlen);

/* Progress of a long read: called about every GENESIS_PROGRESS_EVERY
 * balances and once at the end, with how many of total were read, on the
 * reading thread. Other long steps of opening a ledger may report
 * through the same callback with their own done and total. */
typedef struct {
    void (*fn)(void *ctx, uint64_t done, uint64_t total);
    void *ctx;
} genesis_progress_t;

/* Read g's balances in order, one at a time, and hand each to fn: from
 * g->balances, from g->path's "balances" (which must still hash to
 * g->hash), or from the balances file beside g->path, holding one line in
 * memory. Check each balance (owner; asset 1..16 of A-Z 0-9 -; amount
 * 0..2^63-1 inline, 1..2^63-1 in a file, whose lines must be canonical and
 * sorted by owner then asset, so a duplicate is refused at once), the
 * per-asset totals (at most 2^63-1, at most GENESIS_MAX_ASSETS assets),
 * and, for a file, its line count and hash at the end: fn has seen every
 * balance by then, so write what it is given inside a transaction and
 * roll that back on failure. progress may be NULL. Return 0 and, if totals
 * is non-NULL, *totals (free with genesis_totals_free); or -EINVAL with
 * "<where>: <what was expected>" in err (where is file:line, or the
 * genesis path and balances[i]; also a duplicate fn reports), -EIO /
 * -ENOMEM / -errno (the file), or fn's code. */
int genesis_balances_foreach(const genesis_t *g, genesis_balance_fn fn, void *ctx,
                             const genesis_progress_t *progress, genesis_totals_t *totals,
                             char *err, size_t errlen);

/* Canonical order of balances: by owner (bytes), then asset (bytes). */
int genesis_balance_cmp(const genesis_balance_t *a, const genesis_balance_t *b);

/* Read a balances list as an operator writes it: one JSON object with
 * exactly "owner" (64 hex digits), "asset" and "amount" (1..2^63-1) a
 * line, in any key order and spacing; blank lines are skipped. The n_extra
 * balances of extra (e.g. the validator's own) are added first. Refuse a
 * bad line, a duplicate owner and asset, and per-asset totals over 2^63-1
 * or more than GENESIS_MAX_ASSETS assets. Return 0 with *out (malloc'd,
 * the caller frees it) and *n, sorted in canonical order; or -EINVAL with
 * "path:line: ..." in err, -ENOMEM, or -errno with the path in err. Holds
 * the whole list in memory (about 72 bytes a balance). */
int genesis_balances_import(const char *path, const genesis_balance_t *extra, size_t n_extra,
                            genesis_balance_t **out, size_t *n, char *err, size_t errlen);

/* Write the n balances of b (canonical order, no duplicates, amounts
 * 1..2^63-1: what genesis_balances_import returns) to path as canonical
 * lines, atomically (temporary file, fsync, rename), mode 0644, never
 * replacing a file unless overwrite, and their hash into hash. Return 0,
 * -EINVAL (out of order or a bad balance), -EEXIST, -ENAMETOOLONG, or
 * -errno. */
int genesis_balances_write(const char *path, const genesis_balance_t *b, size_t n, int overwrite,
                           uint8_t hash[BLOCK_HASH_LEN]);
/* Chain-specific params. The getters return 0 and write *out, -ENOENT
 * (no such key), or -EINVAL (the value is not of that type: a non-negative
 * integer; a string of exactly 2*n hex digits); out is untouched on
 * failure. The setters add or replace key; they return 0, -EINVAL (bad key
 * or value too long) or -ENOSPC (GENESIS_MAX_PARAMS reached). */
int genesis_param_u64(const genesis_t *g, const char *key, uint64_t *out);
int genesis_param_hex(const genesis_t *g, const char *key, uint8_t *out, size_t n);
int genesis_param_set_u64(genesis_t *g, const char *key, uint64_t v);
int genesis_param_set_hex(genesis_t *g, const char *key, const uint8_t *bytes, size_t n);

/* Total voting power. */
uint64_t genesis_total_power(const genesis_t *g);
/* Voting power of pk, 0 if not a validator. */
uint64_t genesis_power_of(const genesis_t *g, const uint8_t pk[BLOCK_KEY_LEN]);

#endif
