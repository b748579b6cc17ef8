/* The vote sign-state: the last consensus step this validator signed on
 * one chain (height, round, step and the block id it named), kept outside
 * the ledger in <home>/<chain>/vote_state.json as CometBFT keeps
 * priv_validator_state.json. It is what makes a validator that crashes and
 * restarts, or whose ledger is restored from an old backup, never sign two
 * different things for one (height, round, step):
 *
 *  - a step after the recorded one (in height, then round, then step
 *    order: propose < prevote < precommit) may be signed;
 *  - the recorded step itself only again with the same block id (a resend
 *    after a crash between writing the record and sending the vote);
 *  - anything before it never.
 *
 * votestate_sign checks, then writes the new record durably (temporary
 * file, fsync, rename, fsync of the folder) before it returns 0: the
 * caller sends the vote only after that. The file is small JSON an
 * operator can read; the parser is strict (every key once, no other key,
 * fixed types and ranges). docs/consensus.md describes it. */
#ifndef ADNET_VOTESTATE_H
#define ADNET_VOTESTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/block.h"

#define VOTESTATE_FILE "vote_state.json" /* in the chain's data folder */
#define VOTESTATE_VERSION 1
#define VOTESTATE_MAX_BYTES 1024
#define VOTESTATE_ERR_MAX 512

/* The steps, in their order within a round (tm.h's TM_STEP_* values). */
enum { VOTESTATE_PROPOSE = 1, VOTESTATE_PREVOTE = 2, VOTESTATE_PRECOMMIT = 3 };

typedef struct {
    char chain_id[BLOCK_CHAIN_ID_MAX + 1];
    bool signed_any;                 /* false: nothing signed yet (no file) */
    uint64_t height;
    uint32_t round;                  /* 0 .. 2^31-1 */
    uint8_t step;                    /* VOTESTATE_* */
    uint8_t value[BLOCK_HASH_LEN];   /* the block id signed; zero for nil */
} votestate_t;

/* A state for chain_id with nothing signed. */
void votestate_init(votestate_t *s, const char *chain_id);

/* Read the record at path into *s (for chain_id). No file is a state with
 * nothing signed (0, signed_any false). Refuse a file that does not parse
 * (-EBADMSG), of another version (-EPROTONOSUPPORT) or another chain
 * (-EXDEV), with what was wrong in err: a validator must not sign with a
 * record it cannot read. *s is written only on success. */
int votestate_load(votestate_t *s, const char *path, const char *chain_id,
                   char err[VOTESTATE_ERR_MAX]);

/* Whether s allows signing (height, round, step, value): 0, -EEXIST (the
 * same step with another block id: a double sign) or -ESTALE (a step
 * before the recorded one), with one line in err. */
int votestate_check(const votestate_t *s, uint64_t height, uint32_t round, uint8_t step,
                    const uint8_t value[BLOCK_HASH_LEN], char err[VOTESTATE_ERR_MAX]);

/* votestate_check, then record the step at path durably and in *s. Return
 * 0 (sign and send), the refusal of votestate_check, -EINVAL (a round
 * above 2^31-1, a step out of range), or -errno of the write (-ENOSPC),
 * with err. On any failure the file and *s are as they were. */
int votestate_sign(votestate_t *s, const char *path, uint64_t height, uint32_t round,
                   uint8_t step, const uint8_t value[BLOCK_HASH_LEN],
                   char err[VOTESTATE_ERR_MAX]);

/* Format s as the file's text into out[cap]: its length, or -ENOBUFS. */
int votestate_format(const votestate_t *s, char *out, size_t cap);
/* Parse text[len] strictly into *s; -EBADMSG / -EPROTONOSUPPORT with err. */
int votestate_parse(votestate_t *s, const char *text, size_t len, char err[VOTESTATE_ERR_MAX]);

#endif
