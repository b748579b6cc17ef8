/* Tendermint consensus for one validator, as a pure state machine
 * (Buchman, Kwon, Milosevic, "The latest gossip on BFT consensus", 2018,
 * Algorithm 1). No I/O, no clock, no threads: the caller feeds it events
 * (tm_start, tm_on_proposal, tm_on_prevote, tm_on_precommit, tm_on_timeout,
 * tm_propose_value) and carries out the actions each one leaves in the
 * queue (tm_actions): broadcast, schedule a timeout, commit, report
 * evidence. The same events in the same order give the same actions on
 * every machine. Signatures are not checked here: the caller verifies
 * every message against the validator it names before feeding it.
 *
 * The machine delivers its own proposals and votes to itself; the caller
 * only broadcasts them (feeding one back is a harmless duplicate).
 * Not thread-safe: one owner calls everything. */
#ifndef ADNET_TM_H
#define ADNET_TM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/block.h"

#define TM_MAX_VALIDATORS BLOCK_MAX_SIGS
#define TM_ID_LEN BLOCK_HASH_LEN
#define TM_ROUND_MAX (1 << 30)   /* rounds are 0..TM_ROUND_MAX */
#define TM_POWER_MAX (UINT64_MAX / 4) /* total power at most, so 3 * power cannot wrap */
/* Votes and proposals are kept for at most TM_ROUNDS_KEPT rounds of the
 * current height: the current round, up to TM_ROUNDS_AHEAD rounds above
 * it, the locked and valid rounds, and the newest earlier rounds (when
 * the table is full the lowest other round is dropped, and a message for
 * a round lower than every kept one is refused). A message more than
 * TM_ROUNDS_AHEAD rounds ahead is not stored: only its round is noted,
 * per validator, for the round skip. */
#define TM_ROUNDS_KEPT 64
#define TM_ROUNDS_AHEAD 16

/* A value is the 32-byte id of a proposed block; nil is all zeros. */
extern const uint8_t tm_nil[TM_ID_LEN];
bool tm_id_is_nil(const uint8_t id[TM_ID_LEN]);

typedef struct {
    uint8_t key[BLOCK_KEY_LEN];  /* Ed25519 public key, for the caller's checks */
    uint64_t power;              /* voting power, >= 1 */
} tm_validator_t;

typedef enum {
    TM_STEP_PROPOSE = 1,
    TM_STEP_PREVOTE = 2,
    TM_STEP_PRECOMMIT = 3,
} tm_step_t;

typedef enum {
    TM_TIMEOUT_PROPOSE = 1,
    TM_TIMEOUT_PREVOTE = 2,
    TM_TIMEOUT_PRECOMMIT = 3,
} tm_timeout_kind_t;

typedef struct {
    uint64_t height;
    int32_t round;
    int32_t valid_round;         /* -1, or the round (< round) whose 2/3 prevotes carry value */
    uint8_t value[TM_ID_LEN];    /* never nil */
    uint16_t proposer;           /* the signer's validator index */
} tm_proposal_t;

typedef struct {
    uint64_t height;
    int32_t round;
    tm_step_t type;              /* TM_STEP_PREVOTE or TM_STEP_PRECOMMIT */
    uint8_t value[TM_ID_LEN];    /* tm_nil for a nil vote */
    uint16_t voter;              /* the signer's validator index */
} tm_vote_t;

/* The sign guard: asked before the machine emits any proposal or vote.
 * Return 0 to let it go: the caller must first have recorded (height,
 * round, step) as signed and fsynced that record, so that a restarted
 * node never signs a different value for the same step. Return < 0 to
 * refuse: nothing is emitted and the machine behaves as if the message
 * were lost (its step still advances, its own vote is not counted). */
typedef int (*tm_may_sign_fn)(void *ctx, uint64_t height, int32_t round, tm_step_t step,
                              const uint8_t value[TM_ID_LEN]);

typedef struct {
    const tm_validator_t *validators; /* copied by tm_new; fixed for the machine's life */
    size_t n_validators;         /* 1..TM_MAX_VALIDATORS */
    int32_t self;                /* our index in validators, or -1: follow without signing */
    /* Timeout for round r: base + r * per_round (saturating), in ms. */
    uint64_t propose_ms, propose_per_round_ms;
    uint64_t prevote_ms, prevote_per_round_ms;
    uint64_t precommit_ms, precommit_per_round_ms;
    tm_may_sign_fn may_sign;     /* NULL: always sign (tests and observers only) */
    void *may_sign_ctx;
} tm_config_t;

typedef enum {
    TM_ACT_PROPOSAL = 1,  /* broadcast .proposal (signed by us) */
    TM_ACT_PREVOTE,       /* broadcast .vote */
    TM_ACT_PRECOMMIT,     /* broadcast .vote */
    TM_ACT_NEED_VALUE,    /* we propose at (.need.height, .need.round): build a block, then tm_propose_value */
    TM_ACT_TIMEOUT,       /* after .timeout.after_ms call tm_on_timeout with its kind, height, round */
    TM_ACT_DECIDE,        /* commit .decide.value at .decide.height; then tm_start(height + 1) */
    TM_ACT_EVIDENCE,      /* a validator signed two different messages for one step */
} tm_action_kind_t;

typedef struct {
    uint64_t height;
    int32_t round;               /* the round whose precommits decided */
    uint8_t value[TM_ID_LEN];
    uint8_t signers[TM_MAX_VALIDATORS / 8]; /* bit i (byte i/8, bit i%8): validator i precommitted value */
    uint32_t n_signers;
    uint64_t power;              /* their power: 3 * power > 2 * total */
} tm_decision_t;

typedef struct {
    tm_step_t type;              /* TM_STEP_PROPOSE: .proposal[]; otherwise .vote[] */
    union {
        tm_proposal_t proposal[2]; /* the first one seen (kept), and the other */
        tm_vote_t vote[2];         /* the first one seen (counted), and the other (not counted) */
    };
} tm_evidence_t;

typedef struct {
    tm_action_kind_t kind;
    union {
        tm_proposal_t proposal;
        tm_vote_t vote;
        struct { uint64_t height; int32_t round; } need;
        struct {
            tm_timeout_kind_t kind;
            uint64_t height;
            int32_t round;
            uint64_t after_ms;
        } timeout;
        tm_decision_t decide;
        tm_evidence_t evidence;
    };
} tm_action_t;

typedef struct tm tm_t;

/* New machine for cfg (the validators are copied), not started: call
 * tm_start. Return NULL on bad configuration (no validators or more than
 * TM_MAX_VALIDATORS, a power of 0, total power over TM_POWER_MAX, self
 * out of range) or out of memory. Free with tm_free (NULL-safe). */
tm_t *tm_new(const tm_config_t *cfg);
void tm_free(tm_t *t);

/* Every event function below first requires the action queue to be
 * empty (drained with tm_actions since the last event) and returns
 * -EBUSY, changing nothing, if it is not. */

/* Start height (>= 1, above the current one) at round 0 (StartRound(0)),
 * forgetting the previous height's votes and lock. If height is the
 * current one + 1, the votes buffered for it are replayed first.
 * Return 0, -EINVAL, -EBUSY. */
int tm_start(tm_t *t, uint64_t height);

/* A proposal, its signature already checked. valid: the caller holds the
 * block named by p->value and finds it valid on the state it extends
 * (Algorithm 1's valid(v)); feed it once that is known. Return 0 (taken;
 * a second different proposal for the same round is reported as
 * evidence, and kept: the rules may use either, as both were received;
 * a third is ignored), -EALREADY (duplicate, or the height
 * is decided), -EAGAIN (for the next height: feed it again after
 * tm_start, when the block can be judged), -ERANGE (another height, or a
 * round below every kept one), -EPERM (not from the round's proposer),
 * -ENOENT (unknown proposer index), -EINVAL (nil value, bad rounds),
 * -EBUSY. */
int tm_on_proposal(tm_t *t, const tm_proposal_t *p, bool valid);

/* A prevote or precommit (v->type says which; tm_on_prevote and
 * tm_on_precommit refuse the other type with -EINVAL), its signature
 * already checked. Return 0 (counted; or buffered, for the next height:
 * one prevote and one precommit per validator, the lowest round; or,
 * beyond TM_ROUNDS_AHEAD, noted for the round skip; or, a second
 * different vote of the validator for the same round and type: reported
 * as evidence, counted only in its own value's tally, never twice in
 * "any value"; a third is ignored), -EALREADY (duplicate, or the height is
 * decided), -ENOSPC (for the next height, whose buffer already holds a
 * lower round of this validator and type), -ERANGE (another height, or a round below every kept one),
 * -ENOENT (unknown voter), -EINVAL, -EBUSY. */
int tm_on_prevote(tm_t *t, const tm_vote_t *v);
int tm_on_precommit(tm_t *t, const tm_vote_t *v);

/* A timeout scheduled by a TM_ACT_TIMEOUT action has expired. One for
 * another height, round or step is ignored. Return 0, -EINVAL, -EBUSY. */
int tm_on_timeout(tm_t *t, tm_timeout_kind_t kind, uint64_t height, int32_t round);

/* The value to propose, answering TM_ACT_NEED_VALUE for (height, round).
 * Return 0 (proposed, unless the sign guard refused), -ESTALE (the
 * machine has moved on, or asked for nothing), -EINVAL (nil), -EBUSY. */
int tm_propose_value(tm_t *t, uint64_t height, int32_t round, const uint8_t value[TM_ID_LEN]);

/* The actions queued by the last event, in order; *n their count. The
 * queue is then empty; the array stays valid until the next event. */
const tm_action_t *tm_actions(tm_t *t, size_t *n);

/* The proposer of (height, round): the validator whose interval of
 * cumulative power (in index order) holds ((height + round) * s) mod
 * total, s being the integer nearest total * 0.618034 that is coprime to
 * total. Over any total consecutive (height + round) each validator
 * proposes exactly its power's share; equal powers take turns in order.
 * A function of the validator set only, so every node agrees. */
uint16_t tm_proposer(const tm_t *t, uint64_t height, int32_t round);

/* The state, for callers and tests. */
uint64_t tm_height(const tm_t *t);
int32_t tm_round(const tm_t *t);
tm_step_t tm_step(const tm_t *t);
bool tm_is_decided(const tm_t *t);
/* The locked and valid rounds (-1: none); value written when >= 0. */
int32_t tm_locked(const tm_t *t, uint8_t value[TM_ID_LEN]);
int32_t tm_valid(const tm_t *t, uint8_t value[TM_ID_LEN]);
/* Power of the votes of type counted in round at the current height for
 * value (NULL: for any value, nil included); 0 if the round is not kept. */
uint64_t tm_vote_power(const tm_t *t, int32_t round, tm_step_t type, const uint8_t *value);
uint64_t tm_total_power(const tm_t *t);

#endif
