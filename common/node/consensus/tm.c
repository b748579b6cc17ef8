#include "common/node/consensus/tm.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Comments cite the lines of Algorithm 1 each rule implements. */

const uint8_t tm_nil[TM_ID_LEN] = { 0 };

/* One validator's vote of one type in one round. An equivocator's power
 * counts once in every tally: its first vote in the tallies of "any
 * value", and each of its first two values in that value's tally (as
 * Algorithm 1 counts the messages for a value). So a correct node that
 * saw the other vote first can still count the 2/3 that decided. */
typedef struct {
    uint8_t value[TM_ID_LEN];   /* the first vote */
    uint8_t other[TM_ID_LEN];   /* the conflicting one, once CELL_REPORTED */
    uint8_t state;              /* CELL_EMPTY, CELL_VOTED, CELL_REPORTED */
} cell_t;

enum { CELL_EMPTY = 0, CELL_VOTED = 1, CELL_REPORTED = 2 /* and a conflicting one reported */ };

/* What the current height holds for one round. */
typedef struct {
    int32_t round;              /* -1: slot free */
    /* Proposals from the round's proposer (checked on the way in): the
     * first, and a conflicting one (reported). Both were received, so the
     * rules may use either, as Algorithm 1 would; a third is ignored. */
    tm_proposal_t props[2];
    bool prop_valid[2];         /* the caller's valid(v) for each */
    uint8_t n_props;
    cell_t *votes[2];           /* [0] prevotes, [1] precommits: n cells each, in tm.cells */
} round_t;

/* A vote for the next height, held until tm_start replays it. */
typedef struct {
    bool has;
    tm_vote_t vote;
} held_t;

struct tm {
    tm_validator_t vals[TM_MAX_VALIDATORS];
    size_t n;
    uint64_t total;             /* sum of the powers */
    uint64_t stride;            /* proposer rotation step, coprime to total (tm_proposer) */
    int32_t self;
    tm_config_t cfg;            /* timeouts and the sign guard (validators pointer not kept) */

    uint64_t height;            /* 0 until tm_start */
    int32_t round;
    tm_step_t step;
    bool decided;
    uint8_t locked_value[TM_ID_LEN];
    int32_t locked_round;
    uint8_t valid_value[TM_ID_LEN];
    int32_t valid_round;

    /* Once-per-round guards of the current round. */
    bool awaiting_value;        /* NEED_VALUE emitted, tm_propose_value not yet called */
    bool prevote_timer;         /* line 34 has fired */
    bool precommit_timer;       /* line 47 has fired */
    bool locked_this_round;     /* line 36 has fired */

    round_t rounds[TM_ROUNDS_KEPT];
    cell_t *cells;              /* TM_ROUNDS_KEPT * 2 * n */
    int32_t *max_round;         /* [n] highest round of any message from each validator, -1 */
    held_t *next[2];            /* [n] each: buffered prevotes, precommits for height + 1 */

    tm_action_t *acts;
    size_t n_acts, cap_acts;
};

/* Actions one event can queue, at most: an evidence report (1), the
 * rules of the current round (prevote, prevote timer, precommit,
 * precommit timer, decide: 5), and a round start with the same again
 * (propose timer, proposal or NEED_VALUE, then 5); tm_start replays up to
 * 2n messages after its own round start. Every event starts on an empty
 * queue, so ACTS_PER_MSG * (2n + 2) is never exceeded. */
#define ACTS_PER_MSG 16

bool tm_id_is_nil(const uint8_t id[TM_ID_LEN])
{
    return memcmp(id, tm_nil, TM_ID_LEN) == 0;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t r = a % b;
        a = b;
        b = r;
    }
    return a;
}

/* a * b mod m for a, b < m <= TM_POWER_MAX, without a wider type. */
static uint64_t mulmod(uint64_t a, uint64_t b, uint64_t m)
{
    uint64_t r = 0;
    for (; b; b >>= 1) {
        if (b & 1)
            r = (r + a) % m;
        a = (a * 2) % m;
    }
    return r;
}

/* The integer nearest total * 0.618034 (a golden-ratio step spreads
 * consecutive rounds over the power line) that is coprime to total, so
 * that the step visits every point of the line once per total steps. */
static uint64_t pick_stride(uint64_t total)
{
    uint64_t s0 = (total / 1000000) * 618034 + ((total % 1000000) * 618034 + 500000) / 1000000;
    if (s0 < 1)
        s0 = 1;
    for (uint64_t d = 0; d <= total; d++) {
        if (s0 + d <= total && gcd(s0 + d, total) == 1)
            return (s0 + d) % total;
        if (d && d < s0 && gcd(s0 - d, total) == 1)
            return (s0 - d) % total;
    }
    return 1 % total;
}

tm_t *tm_new(const tm_config_t *cfg)
{
    if (!cfg || !cfg->validators || cfg->n_validators < 1 ||
        cfg->n_validators > TM_MAX_VALIDATORS || cfg->self < -1 ||
        cfg->self >= (int32_t)cfg->n_validators)
        return NULL;
    uint64_t total = 0;
    for (size_t i = 0; i < cfg->n_validators; i++) {
        uint64_t p = cfg->validators[i].power;
        if (p < 1 || p > TM_POWER_MAX - total)
            return NULL;
        total += p;
    }
    tm_t *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    size_t n = cfg->n_validators;
    memcpy(t->vals, cfg->validators, n * sizeof(tm_validator_t));
    t->n = n;
    t->total = total;
    t->stride = pick_stride(total);
    t->self = cfg->self;
    t->cfg = *cfg;
    t->cfg.validators = NULL;
    t->locked_round = t->valid_round = -1;
    t->cells = calloc(TM_ROUNDS_KEPT * 2 * n, sizeof(cell_t));
    t->max_round = calloc(n, sizeof(int32_t));
    t->next[0] = calloc(n, sizeof(held_t));
    t->next[1] = calloc(n, sizeof(held_t));
    t->cap_acts = ACTS_PER_MSG * (2 * n + 2);
    t->acts = calloc(t->cap_acts, sizeof(tm_action_t));
    if (!t->cells || !t->max_round || !t->next[0] || !t->next[1] || !t->acts) {
        tm_free(t);
        return NULL;
    }
    for (size_t i = 0; i < TM_ROUNDS_KEPT; i++) {
        t->rounds[i].round = -1;
        t->rounds[i].votes[0] = t->cells + (2 * i) * n;
        t->rounds[i].votes[1] = t->cells + (2 * i + 1) * n;
    }
    for (size_t i = 0; i < n; i++)
        t->max_round[i] = -1;
    return t;
}

void tm_free(tm_t *t)
{
    if (!t)
        return;
    free(t->cells);
    free(t->max_round);
    free(t->next[0]);
    free(t->next[1]);
    free(t->acts);
    free(t);
}

uint16_t tm_proposer(const tm_t *t, uint64_t height, int32_t round)
{
    uint64_t k = (height % t->total + (uint64_t)round % t->total) % t->total;
    uint64_t x = mulmod(k, t->stride, t->total), acc = 0;
    for (size_t i = 0; i < t->n; i++) {
        acc += t->vals[i].power;
        if (x < acc)
            return (uint16_t)i;
    }
    return (uint16_t)(t->n - 1);
}

/* ---- the action queue ---- */

static tm_action_t *emit(tm_t *t, tm_action_kind_t kind)
{
    assert(t->n_acts < t->cap_acts); /* ACTS_PER_MSG bounds every event */
    tm_action_t *a = &t->acts[t->n_acts++];
    memset(a, 0, sizeof(*a));
    a->kind = kind;
    return a;
}

static uint64_t timeout_ms(uint64_t base, uint64_t per_round, int32_t round)
{
    uint64_t r = (uint64_t)round;
    if (per_round && r > (UINT64_MAX - base) / per_round)
        return UINT64_MAX;
    return base + r * per_round;
}

static void schedule(tm_t *t, tm_timeout_kind_t kind)
{
    tm_action_t *a = emit(t, TM_ACT_TIMEOUT);
    a->timeout.kind = kind;
    a->timeout.height = t->height;
    a->timeout.round = t->round;
    switch (kind) {
    case TM_TIMEOUT_PROPOSE:
        a->timeout.after_ms = timeout_ms(t->cfg.propose_ms, t->cfg.propose_per_round_ms, t->round);
        break;
    case TM_TIMEOUT_PREVOTE:
        a->timeout.after_ms = timeout_ms(t->cfg.prevote_ms, t->cfg.prevote_per_round_ms, t->round);
        break;
    case TM_TIMEOUT_PRECOMMIT:
        a->timeout.after_ms = timeout_ms(t->cfg.precommit_ms, t->cfg.precommit_per_round_ms,
                                         t->round);
        break;
    }
}

/* ---- the round table ---- */

static bool is_two_thirds(const tm_t *t, uint64_t power)
{
    return 3 * power > 2 * t->total;
}

static bool is_one_third(const tm_t *t, uint64_t power)
{
    return 3 * power > t->total;
}

static round_t *find_round(tm_t *t, int32_t round)
{
    for (size_t i = 0; i < TM_ROUNDS_KEPT; i++)
        if (t->rounds[i].round == round)
            return &t->rounds[i];
    return NULL;
}

static bool is_pinned(const tm_t *t, int32_t round)
{
    return round == t->round || round == t->locked_round || round == t->valid_round;
}

/* The slot of round, made if need be: a free one, else the lowest round
 * below it that the rules do not pin. NULL when every slot holds a
 * pinned round or one at least as high. */
static round_t *get_round(tm_t *t, int32_t round)
{
    round_t *free_slot = NULL, *victim = NULL;
    for (size_t i = 0; i < TM_ROUNDS_KEPT; i++) {
        round_t *s = &t->rounds[i];
        if (s->round == round)
            return s;
        if (s->round < 0) {
            if (!free_slot)
                free_slot = s;
        } else if (s->round < round && !is_pinned(t, s->round) &&
                   (!victim || s->round < victim->round)) {
            victim = s;
        }
    }
    round_t *s = free_slot ? free_slot : victim;
    if (!s)
        return NULL;
    s->round = round;
    s->n_props = 0;
    memset(s->votes[0], 0, t->n * sizeof(cell_t));
    memset(s->votes[1], 0, t->n * sizeof(cell_t));
    return s;
}

static bool cell_has(const cell_t *c, const uint8_t *value)
{
    if (c->state == CELL_EMPTY)
        return false;
    return !value || memcmp(c->value, value, TM_ID_LEN) == 0 ||
           (c->state == CELL_REPORTED && memcmp(c->other, value, TM_ID_LEN) == 0);
}

/* Power of the votes in cells for value (NULL: any), each voter once. */
static uint64_t tally(const tm_t *t, const cell_t *cells, const uint8_t *value)
{
    uint64_t p = 0;
    for (size_t i = 0; i < t->n; i++)
        if (cell_has(&cells[i], value))
            p += t->vals[i].power;
    return p;
}

static int store_vote(tm_t *t, const tm_vote_t *v)
{
    round_t *s = get_round(t, v->round);
    if (!s)
        return -ERANGE;
    cell_t *c = &s->votes[v->type == TM_STEP_PRECOMMIT][v->voter];
    if (c->state == CELL_EMPTY) {
        memcpy(c->value, v->value, TM_ID_LEN);
        c->state = CELL_VOTED;
        return 0;
    }
    if (memcmp(c->value, v->value, TM_ID_LEN) == 0 || c->state == CELL_REPORTED)
        return -EALREADY;
    c->state = CELL_REPORTED;
    memcpy(c->other, v->value, TM_ID_LEN);
    tm_action_t *a = emit(t, TM_ACT_EVIDENCE);
    a->evidence.type = v->type;
    a->evidence.vote[0] = *v;
    memcpy(a->evidence.vote[0].value, c->value, TM_ID_LEN);
    a->evidence.vote[1] = *v;
    return 0;
}

static int store_proposal(tm_t *t, const tm_proposal_t *p, bool valid)
{
    round_t *s = get_round(t, p->round);
    if (!s)
        return -ERANGE;
    for (size_t k = 0; k < s->n_props; k++)
        if (memcmp(s->props[k].value, p->value, TM_ID_LEN) == 0 &&
            s->props[k].valid_round == p->valid_round)
            return -EALREADY;
    if (s->n_props == 2)
        return -EALREADY;
    s->props[s->n_props] = *p;
    s->prop_valid[s->n_props] = valid;
    if (s->n_props++ == 0)
        return 0;
    tm_action_t *a = emit(t, TM_ACT_EVIDENCE);
    a->evidence.type = TM_STEP_PROPOSE;
    a->evidence.proposal[0] = s->props[0];
    a->evidence.proposal[1] = *p;
    return 0;
}

/* ---- signing our own messages ---- */

static bool may_sign(tm_t *t, tm_step_t step, const uint8_t value[TM_ID_LEN])
{
    if (t->self < 0)
        return false;
    if (!t->cfg.may_sign)
        return true;
    return t->cfg.may_sign(t->cfg.may_sign_ctx, t->height, t->round, step, value) == 0;
}

static void propose(tm_t *t, const uint8_t value[TM_ID_LEN], int32_t valid_round)
{
    if (!may_sign(t, TM_STEP_PROPOSE, value))
        return;
    tm_action_t *a = emit(t, TM_ACT_PROPOSAL);
    a->proposal.height = t->height;
    a->proposal.round = t->round;
    a->proposal.valid_round = valid_round;
    memcpy(a->proposal.value, value, TM_ID_LEN);
    a->proposal.proposer = (uint16_t)t->self;
    tm_proposal_t p = a->proposal;
    /* Our own value, or the valid value that 2/3 prevoted: valid. */
    store_proposal(t, &p, true);
}

static void cast(tm_t *t, tm_step_t type, const uint8_t value[TM_ID_LEN])
{
    if (!may_sign(t, type, value))
        return;
    tm_action_t *a = emit(t, type == TM_STEP_PREVOTE ? TM_ACT_PREVOTE : TM_ACT_PRECOMMIT);
    a->vote.height = t->height;
    a->vote.round = t->round;
    a->vote.type = type;
    memcpy(a->vote.value, value, TM_ID_LEN);
    a->vote.voter = (uint16_t)t->self;
    tm_vote_t v = a->vote;
    store_vote(t, &v);
}

/* ---- the rules ---- */

/* StartRound (lines 10-21). The propose timer is armed on the proposer
 * too (as CometBFT does), so a caller that never supplies a value cannot
 * stall the round. */
static void start_round(tm_t *t, int32_t round)
{
    t->round = round;
    t->step = TM_STEP_PROPOSE;
    t->awaiting_value = t->prevote_timer = t->precommit_timer = t->locked_this_round = false;
    schedule(t, TM_TIMEOUT_PROPOSE);
    if (t->self < 0 || tm_proposer(t, t->height, round) != (uint16_t)t->self)
        return;
    if (t->valid_round >= 0) {
        propose(t, t->valid_value, t->valid_round);
    } else {
        tm_action_t *a = emit(t, TM_ACT_NEED_VALUE);
        a->need.height = t->height;
        a->need.round = round;
        t->awaiting_value = true;
    }
}

/* Lines 49-54, for any kept round; the lowest deciding round wins, so
 * that the same messages give the same certificate. */
static bool rule_decide(tm_t *t)
{
    round_t *best = NULL;
    const uint8_t *value = NULL;
    for (size_t i = 0; i < TM_ROUNDS_KEPT; i++) {
        round_t *s = &t->rounds[i];
        if (s->round < 0 || (best && best->round < s->round))
            continue;
        for (size_t k = 0; k < s->n_props; k++) {
            if (s->prop_valid[k] && is_two_thirds(t, tally(t, s->votes[1], s->props[k].value))) {
                best = s;
                value = s->props[k].value;
                break;
            }
        }
    }
    if (!best)
        return false;
    tm_action_t *a = emit(t, TM_ACT_DECIDE);
    tm_decision_t *d = &a->decide;
    d->height = t->height;
    d->round = best->round;
    memcpy(d->value, value, TM_ID_LEN);
    for (size_t i = 0; i < t->n; i++) {
        if (cell_has(&best->votes[1][i], d->value)) {
            d->signers[i / 8] |= (uint8_t)(1u << (i % 8));
            d->n_signers++;
            d->power += t->vals[i].power;
        }
    }
    t->decided = true;
    return true;
}

/* Lines 55-56, generalized to count a validator at its highest round:
 * move to the highest round r above ours such that validators of more
 * than 1/3 of the power have sent a message of round r or above. Some
 * correct validator has then reached r, as line 55 ensures; round skips
 * never affect safety. This needs one number per validator instead of
 * the messages of every future round. */
static bool rule_skip(tm_t *t)
{
    int32_t target = -1;
    for (size_t i = 0; i < t->n; i++) {
        int32_t r = t->max_round[i];
        if (r <= t->round || r <= target)
            continue;
        uint64_t p = 0;
        for (size_t j = 0; j < t->n; j++)
            if (t->max_round[j] >= r)
                p += t->vals[j].power;
        if (is_one_third(t, p))
            target = r;
    }
    if (target < 0)
        return false;
    start_round(t, target);
    return true;
}

/* Lines 22-27 (valid_round -1) and 28-33 (a valid_round with 2/3 prevotes). */
static bool rule_prevote(tm_t *t, round_t *s)
{
    if (t->step != TM_STEP_PROPOSE || !s)
        return false;
    for (size_t k = 0; k < s->n_props; k++) {
        const tm_proposal_t *p = &s->props[k];
        bool ok;
        if (p->valid_round < 0) {
            ok = t->locked_round < 0 || memcmp(t->locked_value, p->value, TM_ID_LEN) == 0;
        } else {
            round_t *vr = find_round(t, p->valid_round);
            if (!vr || !is_two_thirds(t, tally(t, vr->votes[0], p->value)))
                continue;
            ok = t->locked_round <= p->valid_round ||
                 memcmp(t->locked_value, p->value, TM_ID_LEN) == 0;
        }
        t->step = TM_STEP_PREVOTE;
        t->awaiting_value = false;
        cast(t, TM_STEP_PREVOTE, ok && s->prop_valid[k] ? p->value : tm_nil);
        return true;
    }
    return false;
}

/* Lines 34-35. */
static bool rule_prevote_timer(tm_t *t, round_t *s)
{
    if (t->step != TM_STEP_PREVOTE || t->prevote_timer || !s ||
        !is_two_thirds(t, tally(t, s->votes[0], NULL)))
        return false;
    t->prevote_timer = true;
    schedule(t, TM_TIMEOUT_PREVOTE);
    return true;
}

/* Lines 36-43. */
static bool rule_lock(tm_t *t, round_t *s)
{
    if (t->locked_this_round || t->step < TM_STEP_PREVOTE || !s)
        return false;
    const uint8_t *v = NULL;
    for (size_t k = 0; k < s->n_props && !v; k++)
        if (s->prop_valid[k] && is_two_thirds(t, tally(t, s->votes[0], s->props[k].value)))
            v = s->props[k].value;
    if (!v)
        return false;
    t->locked_this_round = true;
    if (t->step == TM_STEP_PREVOTE) {
        memcpy(t->locked_value, v, TM_ID_LEN);
        t->locked_round = t->round;
        t->step = TM_STEP_PRECOMMIT;
        cast(t, TM_STEP_PRECOMMIT, v);
    }
    memcpy(t->valid_value, v, TM_ID_LEN);
    t->valid_round = t->round;
    return true;
}

/* Lines 44-46. */
static bool rule_precommit_nil(tm_t *t, round_t *s)
{
    if (t->step != TM_STEP_PREVOTE || !s || !is_two_thirds(t, tally(t, s->votes[0], tm_nil)))
        return false;
    t->step = TM_STEP_PRECOMMIT;
    cast(t, TM_STEP_PRECOMMIT, tm_nil);
    return true;
}

/* Lines 47-48. */
static bool rule_precommit_timer(tm_t *t, round_t *s)
{
    if (t->precommit_timer || !s || !is_two_thirds(t, tally(t, s->votes[1], NULL)))
        return false;
    t->precommit_timer = true;
    schedule(t, TM_TIMEOUT_PRECOMMIT);
    return true;
}

/* Apply the upon-rules until none fires. Each fires at most once per
 * round (its guard or the step changes), so this ends. */
static void progress(tm_t *t)
{
    for (;;) {
        if (t->decided || rule_decide(t))
            return;
        if (rule_skip(t))
            continue;
        round_t *s = find_round(t, t->round);
        if (rule_prevote(t, s) || rule_prevote_timer(t, s) || rule_lock(t, s) ||
            rule_precommit_nil(t, s) || rule_precommit_timer(t, s))
            continue;
        return;
    }
}

static void note_round(tm_t *t, uint16_t who, int32_t round)
{
    if (round > t->max_round[who])
        t->max_round[who] = round;
}

/* ---- events ---- */

static int vote_in(tm_t *t, const tm_vote_t *v)
{
    if ((v->type != TM_STEP_PREVOTE && v->type != TM_STEP_PRECOMMIT) || v->round < 0 ||
        v->round > TM_ROUND_MAX)
        return -EINVAL;
    if (v->voter >= t->n)
        return -ENOENT;
    if (v->height == t->height + 1) {
        held_t *h = &t->next[v->type == TM_STEP_PRECOMMIT][v->voter];
        if (!h->has || v->round < h->vote.round) {
            h->has = true;
            h->vote = *v;
            return 0;
        }
        if (v->round == h->vote.round && memcmp(v->value, h->vote.value, TM_ID_LEN) == 0)
            return -EALREADY;
        return -ENOSPC;
    }
    if (t->height == 0 || v->height != t->height)
        return -ERANGE;
    if (t->decided)
        return -EALREADY;
    note_round(t, v->voter, v->round);
    int rc = 0;
    if (v->round <= t->round + TM_ROUNDS_AHEAD)
        rc = store_vote(t, v);
    progress(t);
    return rc;
}

int tm_on_prevote(tm_t *t, const tm_vote_t *v)
{
    if (t->n_acts)
        return -EBUSY;
    if (v->type != TM_STEP_PREVOTE)
        return -EINVAL;
    return vote_in(t, v);
}

int tm_on_precommit(tm_t *t, const tm_vote_t *v)
{
    if (t->n_acts)
        return -EBUSY;
    if (v->type != TM_STEP_PRECOMMIT)
        return -EINVAL;
    return vote_in(t, v);
}

int tm_on_proposal(tm_t *t, const tm_proposal_t *p, bool valid)
{
    if (t->n_acts)
        return -EBUSY;
    if (p->round < 0 || p->round > TM_ROUND_MAX || p->valid_round < -1 ||
        p->valid_round >= p->round || tm_id_is_nil(p->value))
        return -EINVAL;
    if (p->proposer >= t->n)
        return -ENOENT;
    if (p->height == t->height + 1)
        return -EAGAIN;
    if (t->height == 0 || p->height != t->height)
        return -ERANGE;
    if (p->proposer != tm_proposer(t, p->height, p->round))
        return -EPERM;
    if (t->decided)
        return -EALREADY;
    note_round(t, p->proposer, p->round);
    int rc = 0;
    if (p->round <= t->round + TM_ROUNDS_AHEAD)
        rc = store_proposal(t, p, valid);
    progress(t);
    return rc;
}

int tm_on_timeout(tm_t *t, tm_timeout_kind_t kind, uint64_t height, int32_t round)
{
    if (t->n_acts)
        return -EBUSY;
    if (kind != TM_TIMEOUT_PROPOSE && kind != TM_TIMEOUT_PREVOTE && kind != TM_TIMEOUT_PRECOMMIT)
        return -EINVAL;
    if (height != t->height || round != t->round || t->height == 0 || t->decided)
        return 0;
    switch (kind) {
    case TM_TIMEOUT_PROPOSE:    /* lines 57-60 */
        if (t->step == TM_STEP_PROPOSE) {
            t->step = TM_STEP_PREVOTE;
            t->awaiting_value = false;
            cast(t, TM_STEP_PREVOTE, tm_nil);
        }
        break;
    case TM_TIMEOUT_PREVOTE:    /* lines 61-64 */
        if (t->step == TM_STEP_PREVOTE) {
            t->step = TM_STEP_PRECOMMIT;
            cast(t, TM_STEP_PRECOMMIT, tm_nil);
        }
        break;
    case TM_TIMEOUT_PRECOMMIT:  /* lines 65-67 */
        if (round < TM_ROUND_MAX)
            start_round(t, round + 1);
        break;
    }
    progress(t);
    return 0;
}

int tm_propose_value(tm_t *t, uint64_t height, int32_t round, const uint8_t value[TM_ID_LEN])
{
    if (t->n_acts)
        return -EBUSY;
    if (tm_id_is_nil(value))
        return -EINVAL;
    if (!t->awaiting_value || height != t->height || round != t->round || t->decided ||
        t->step != TM_STEP_PROPOSE)
        return -ESTALE;
    t->awaiting_value = false;
    propose(t, value, -1);
    progress(t);
    return 0;
}

int tm_start(tm_t *t, uint64_t height)
{
    if (t->n_acts)
        return -EBUSY;
    if (height == 0 || height <= t->height)
        return -EINVAL;
    bool replay = height == t->height + 1;
    t->height = height;
    t->decided = false;
    t->locked_round = t->valid_round = -1;
    memset(t->locked_value, 0, TM_ID_LEN);
    memset(t->valid_value, 0, TM_ID_LEN);
    for (size_t i = 0; i < TM_ROUNDS_KEPT; i++)
        t->rounds[i].round = -1;
    for (size_t i = 0; i < t->n; i++)
        t->max_round[i] = -1;
    start_round(t, 0);
    progress(t);
    for (size_t k = 0; k < 2; k++) {
        for (size_t i = 0; i < t->n; i++) {
            held_t h = t->next[k][i];
            t->next[k][i].has = false;
            if (replay && h.has)
                vote_in(t, &h.vote);
        }
    }
    return 0;
}

const tm_action_t *tm_actions(tm_t *t, size_t *n)
{
    *n = t->n_acts;
    t->n_acts = 0;
    return t->acts;
}

uint64_t tm_height(const tm_t *t)
{
    return t->height;
}

int32_t tm_round(const tm_t *t)
{
    return t->round;
}

tm_step_t tm_step(const tm_t *t)
{
    return t->step;
}

bool tm_is_decided(const tm_t *t)
{
    return t->decided;
}

int32_t tm_locked(const tm_t *t, uint8_t value[TM_ID_LEN])
{
    if (t->locked_round >= 0 && value)
        memcpy(value, t->locked_value, TM_ID_LEN);
    return t->locked_round;
}

int32_t tm_valid(const tm_t *t, uint8_t value[TM_ID_LEN])
{
    if (t->valid_round >= 0 && value)
        memcpy(value, t->valid_value, TM_ID_LEN);
    return t->valid_round;
}

uint64_t tm_vote_power(const tm_t *t, int32_t round, tm_step_t type, const uint8_t *value)
{
    if (type != TM_STEP_PREVOTE && type != TM_STEP_PRECOMMIT)
        return 0;
    for (size_t i = 0; i < TM_ROUNDS_KEPT; i++)
        if (t->rounds[i].round == round && round >= 0)
            return tally(t, t->rounds[i].votes[type == TM_STEP_PRECOMMIT], value);
    return 0;
}

uint64_t tm_total_power(const tm_t *t)
{
    return t->total;
}
