/* common/node/consensus/tm: Algorithm 1 driven by scripted messages (the
 * happy path, proposer weights, locking, timeouts, round skips,
 * equivocation, late precommits, the sign guard, refusals), then
 * simulated networks of machines under random delivery, losses before
 * GST and a silent or an equivocating validator: no two decide apart. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/node/consensus/tm.h"
#include "tests/lib/rng.h"
#include "tests/lib/suite.h"

Suite *test_suite(void);

#define ACTS_MAX 1024

typedef struct {
    tm_action_t a[ACTS_MAX];
    size_t n;
} acts_t;

static acts_t got; /* the actions of the last scripted event */

static const uint8_t A[TM_ID_LEN] = { 0xaa, 1 };
static const uint8_t B[TM_ID_LEN] = { 0xbb, 2 };
static const uint8_t C[TM_ID_LEN] = { 0xcc, 3 };

/* Timeouts of the machines make() builds: the scripted tests' (3 s, 1 s
 * and 1 s, +0.5 s a round), or shorter than the simulated networks'
 * latencies before GST, so that rounds fail there. */
static bool short_timeouts;

static tm_t *make(size_t n, const uint64_t *powers, int32_t self, tm_may_sign_fn guard, void *ctx)
{
    tm_validator_t v[TM_MAX_VALIDATORS];
    memset(v, 0, sizeof(v));
    for (size_t i = 0; i < n; i++) {
        v[i].key[0] = (uint8_t)(i + 1);
        v[i].power = powers ? powers[i] : 1;
    }
    tm_config_t cfg = {
        .validators = v, .n_validators = n, .self = self,
        .propose_ms = 3000, .propose_per_round_ms = 500,
        .prevote_ms = 1000, .prevote_per_round_ms = 500,
        .precommit_ms = 1000, .precommit_per_round_ms = 500,
        .may_sign = guard, .may_sign_ctx = ctx,
    };
    if (short_timeouts) {
        cfg.propose_ms = 400;
        cfg.prevote_ms = cfg.precommit_ms = 200;
        cfg.propose_per_round_ms = cfg.prevote_per_round_ms = cfg.precommit_per_round_ms = 100;
    }
    tm_t *t = tm_new(&cfg);
    ck_assert_ptr_nonnull(t);
    return t;
}

static void collect(tm_t *t)
{
    size_t n;
    const tm_action_t *a = tm_actions(t, &n);
    ck_assert_uint_le(n, ACTS_MAX);
    memcpy(got.a, a, n * sizeof(*a));
    got.n = n;
}

static size_t count(tm_action_kind_t kind)
{
    size_t k = 0;
    for (size_t i = 0; i < got.n; i++)
        k += got.a[i].kind == kind;
    return k;
}

/* The first action of kind in got, or fail. */
static const tm_action_t *find(tm_action_kind_t kind)
{
    for (size_t i = 0; i < got.n; i++)
        if (got.a[i].kind == kind)
            return &got.a[i];
    ck_abort_msg("no action of kind %d among %zu", (int)kind, got.n);
    return NULL;
}

static tm_vote_t vote(uint64_t h, int32_t r, tm_step_t type, const uint8_t *value, uint16_t who)
{
    tm_vote_t v = { .height = h, .round = r, .type = type, .voter = who };
    memcpy(v.value, value, TM_ID_LEN);
    return v;
}

static int start(tm_t *t, uint64_t h)
{
    int rc = tm_start(t, h);
    collect(t);
    return rc;
}

static int prevote(tm_t *t, uint64_t h, int32_t r, const uint8_t *value, uint16_t who)
{
    tm_vote_t v = vote(h, r, TM_STEP_PREVOTE, value, who);
    int rc = tm_on_prevote(t, &v);
    collect(t);
    return rc;
}

static int precommit(tm_t *t, uint64_t h, int32_t r, const uint8_t *value, uint16_t who)
{
    tm_vote_t v = vote(h, r, TM_STEP_PRECOMMIT, value, who);
    int rc = tm_on_precommit(t, &v);
    collect(t);
    return rc;
}

static int proposal(tm_t *t, uint64_t h, int32_t r, int32_t vr, const uint8_t *value, uint16_t who)
{
    tm_proposal_t p = { .height = h, .round = r, .valid_round = vr, .proposer = who };
    memcpy(p.value, value, TM_ID_LEN);
    int rc = tm_on_proposal(t, &p, true);
    collect(t);
    return rc;
}

static int timeout(tm_t *t, tm_timeout_kind_t kind, uint64_t h, int32_t r)
{
    int rc = tm_on_timeout(t, kind, h, r);
    collect(t);
    return rc;
}

static bool has_timeout(tm_timeout_kind_t kind, uint64_t h, int32_t r, uint64_t ms)
{
    for (size_t i = 0; i < got.n; i++)
        if (got.a[i].kind == TM_ACT_TIMEOUT && got.a[i].timeout.kind == kind &&
            got.a[i].timeout.height == h && got.a[i].timeout.round == r &&
            got.a[i].timeout.after_ms == ms)
            return true;
    return false;
}

static bool signer(const tm_decision_t *d, size_t i)
{
    return d->signers[i / 8] & (1u << (i % 8));
}

/* The validators of 0..3 other than a, b, c (the UINT16_MAX ones ignored). */
static uint16_t other(uint16_t a, uint16_t b, uint16_t c)
{
    for (uint16_t i = 0; i < 4; i++)
        if (i != a && i != b && i != c)
            return i;
    ck_abort_msg("no validator left");
    return 0;
}

/* ---- a simulated network of machines ---- */

#define SIM_NODES 4
#define SIM_HEIGHTS 3
#define SIM_EVENTS 4096

enum { EV_PROPOSAL, EV_VOTE, EV_TIMEOUT, EV_START };
enum { BYZ_NONE, BYZ_SILENT, BYZ_EQUIVOCATE };

typedef struct {
    uint64_t at, seq;
    int dest, kind;
    tm_proposal_t p;
    tm_vote_t v;
    tm_timeout_kind_t tk;
    uint64_t h;
    int32_t r;
} ev_t;

typedef struct {
    tm_t *node[SIM_NODES];
    int byz;                    /* validator 3 is byzantine as BYZ_* says */
    bool random;                /* random latencies and losses; else every message takes 1 ms */
    uint64_t now, seq, gst;
    ev_t evs[SIM_EVENTS];
    size_t n_evs;
    size_t steps;
    bool decided[SIM_NODES][SIM_HEIGHTS + 1];
    int32_t decided_round[SIM_NODES][SIM_HEIGHTS + 1];
    uint8_t value[SIM_NODES][SIM_HEIGHTS + 1][TM_ID_LEN];
    size_t evidence;
} sim_t;

static bool sim_honest(const sim_t *s, int i)
{
    return !(s->byz != BYZ_NONE && i == SIM_NODES - 1);
}

static void sim_push(sim_t *s, ev_t e, uint64_t after)
{
    ck_assert_uint_lt(s->n_evs, SIM_EVENTS);
    e.at = s->now + after;
    e.seq = s->seq++;
    s->evs[s->n_evs++] = e;
}

/* Before GST a message may take long or be held until just after GST (the
 * paper's partial synchrony: nothing between correct nodes is lost
 * forever); after GST it takes at most 20 ms. Some arrive twice. */
static uint64_t sim_latency(sim_t *s)
{
    if (!s->random)
        return 1;
    if (s->now < s->gst) {
        if (rng_next() % 8 == 0)
            return s->gst - s->now + rng_next() % 20;
        return rng_next() % 800;
    }
    return rng_next() % 20;
}

static void sim_send(sim_t *s, int from, ev_t e)
{
    if (s->byz == BYZ_SILENT && from == SIM_NODES - 1)
        return;
    for (int j = 0; j < SIM_NODES; j++) {
        if (j == from)
            continue;
        ev_t m = e;
        m.dest = j;
        /* The equivocator tells nodes 0 and 1 one thing, and node 2 that
         * and another, in either order. */
        if (s->byz == BYZ_EQUIVOCATE && from == SIM_NODES - 1 && j == 2) {
            ev_t alt = m;
            if (alt.kind == EV_PROPOSAL)
                alt.p.value[31] ^= 0x5a;
            else
                alt.v.value[31] ^= 0x5a;
            sim_push(s, alt, sim_latency(s));
        }
        sim_push(s, m, sim_latency(s));
        if (s->random && rng_next() % 16 == 0)
            sim_push(s, m, sim_latency(s));
    }
}

/* The block a proposer builds: distinct per (height, round, proposer). */
static void sim_value(uint8_t out[TM_ID_LEN], uint64_t h, int32_t r, int who)
{
    memset(out, 0, TM_ID_LEN);
    out[0] = 0x42;
    out[1] = (uint8_t)h;
    out[2] = (uint8_t)r;
    out[3] = (uint8_t)(r >> 8);
    out[4] = (uint8_t)who;
}

/* Carry out node i's pending actions, and what they lead to. */
static void sim_run_actions(sim_t *s, int i)
{
    tm_t *t = s->node[i];
    for (;;) {
        size_t n;
        const tm_action_t *q = tm_actions(t, &n);
        if (n == 0)
            return;
        tm_action_t batch[512];
        ck_assert_uint_le(n, 512);
        memcpy(batch, q, n * sizeof(*q));
        bool need = false;
        uint64_t need_h = 0;
        int32_t need_r = 0;
        for (size_t k = 0; k < n; k++) {
            const tm_action_t *a = &batch[k];
            ev_t e = { 0 };
            switch (a->kind) {
            case TM_ACT_PROPOSAL:
                e.kind = EV_PROPOSAL;
                e.p = a->proposal;
                sim_send(s, i, e);
                break;
            case TM_ACT_PREVOTE:
            case TM_ACT_PRECOMMIT:
                e.kind = EV_VOTE;
                e.v = a->vote;
                sim_send(s, i, e);
                break;
            case TM_ACT_NEED_VALUE:
                need = true;
                need_h = a->need.height;
                need_r = a->need.round;
                break;
            case TM_ACT_TIMEOUT:
                e.kind = EV_TIMEOUT;
                e.dest = i;
                e.tk = a->timeout.kind;
                e.h = a->timeout.height;
                e.r = a->timeout.round;
                sim_push(s, e, a->timeout.after_ms);
                break;
            case TM_ACT_DECIDE: {
                uint64_t h = a->decide.height;
                ck_assert_uint_le(h, SIM_HEIGHTS);
                ck_assert(!s->decided[i][h]);
                ck_assert(3 * a->decide.power > 2 * tm_total_power(t));
                s->decided[i][h] = true;
                s->decided_round[i][h] = a->decide.round;
                memcpy(s->value[i][h], a->decide.value, TM_ID_LEN);
                for (int j = 0; j < SIM_NODES; j++)
                    if (j != i && s->decided[j][h] && sim_honest(s, j) && sim_honest(s, i))
                        ck_assert_msg(memcmp(s->value[j][h], a->decide.value, TM_ID_LEN) == 0,
                                      "nodes %d and %d decided apart at height %llu", i, j,
                                      (unsigned long long)h);
                if (h < SIM_HEIGHTS) {
                    e.kind = EV_START;
                    e.dest = i;
                    e.h = h + 1;
                    sim_push(s, e, 0);
                }
                break;
            }
            case TM_ACT_EVIDENCE:
                s->evidence++;
                break;
            }
        }
        if (need) {
            uint8_t v[TM_ID_LEN];
            sim_value(v, need_h, need_r, i);
            /* -ESTALE: the same event moved the round on (a skip) first. */
            int rc = tm_propose_value(t, need_h, need_r, v);
            ck_assert(rc == 0 || rc == -ESTALE);
        }
    }
}

static void sim_init(sim_t *s, int byz, bool random)
{
    memset(s, 0, sizeof(*s));
    s->byz = byz;
    s->random = random;
    s->gst = random ? rng_next() % 3000 : 0;
    for (int i = 0; i < SIM_NODES; i++) {
        if (byz == BYZ_SILENT && i == SIM_NODES - 1)
            continue;
        s->node[i] = make(SIM_NODES, NULL, i, NULL, NULL);
        ev_t e = { .kind = EV_START, .dest = i, .h = 1 };
        sim_push(s, e, 0);
    }
}

static bool sim_done(const sim_t *s)
{
    for (int i = 0; i < SIM_NODES; i++)
        if (sim_honest(s, i) && !s->decided[i][SIM_HEIGHTS])
            return false;
    return true;
}

/* Deliver events in time order until every correct node has decided
 * every height; fail after max_steps. Random order among events due at
 * the same time comes from the latencies. */
/* Where each node is, for a failure message. */
static const char *sim_state(const sim_t *s)
{
    static char buf[256];
    size_t off = 0;
    for (int i = 0; i < SIM_NODES && off < sizeof(buf); i++)
        if (s->node[i])
            off += (size_t)snprintf(buf + off, sizeof(buf) - off, " [%d: h%llu r%d s%d%s]", i,
                                    (unsigned long long)tm_height(s->node[i]),
                                    tm_round(s->node[i]), (int)tm_step(s->node[i]),
                                    tm_is_decided(s->node[i]) ? " decided" : "");
    return buf;
}

static void sim_run(sim_t *s, size_t max_steps)
{
    while (!sim_done(s)) {
        ck_assert_msg(s->steps < max_steps, "no decision after %zu steps:%s", s->steps,
                      sim_state(s));
        ck_assert_msg(s->n_evs > 0, "nothing left to happen:%s", sim_state(s));
        size_t best = 0;
        for (size_t k = 1; k < s->n_evs; k++)
            if (s->evs[k].at < s->evs[best].at ||
                (s->evs[k].at == s->evs[best].at && s->evs[k].seq < s->evs[best].seq))
                best = k;
        ev_t e = s->evs[best];
        s->evs[best] = s->evs[--s->n_evs];
        s->now = e.at;
        s->steps++;
        tm_t *t = s->node[e.dest];
        if (!t)
            continue;
        int rc = 0;
        switch (e.kind) {
        case EV_PROPOSAL:
            rc = tm_on_proposal(t, &e.p, true);
            /* For a later height: the gossip layer hands it again later. */
            if ((rc == -EAGAIN || rc == -ERANGE) && e.p.height > tm_height(t))
                sim_push(s, e, 50);
            break;
        case EV_VOTE:
            rc = e.v.type == TM_STEP_PREVOTE ? tm_on_prevote(t, &e.v) : tm_on_precommit(t, &e.v);
            /* Too far ahead for the machine: the gossip layer sends it again later. */
            if ((rc == -ERANGE || rc == -ENOSPC) && e.v.height > tm_height(t))
                sim_push(s, e, 50);
            break;
        case EV_TIMEOUT:
            rc = tm_on_timeout(t, e.tk, e.h, e.r);
            break;
        case EV_START:
            rc = tm_start(t, e.h);
            break;
        }
        ck_assert_int_ne(rc, -EBUSY);
        ck_assert_int_ne(rc, -EINVAL);
        sim_run_actions(s, e.dest);
    }
}

static void sim_free(sim_t *s)
{
    for (int i = 0; i < SIM_NODES; i++)
        tm_free(s->node[i]);
}

/* ---- the tests ---- */

START_TEST(happy_path_four_equal)
{
    /* One node, scripted: it proposes, counts 2/3 prevotes, 2/3 precommits. */
    tm_t *t = make(4, NULL, 0, NULL, NULL);
    ck_assert_int_eq(start(t, 1), 0);
    uint16_t p0 = tm_proposer(t, 1, 0);
    tm_free(t);
    t = make(4, NULL, p0, NULL, NULL);
    ck_assert_int_eq(start(t, 1), 0);
    ck_assert(has_timeout(TM_TIMEOUT_PROPOSE, 1, 0, 3000));
    ck_assert_uint_eq(find(TM_ACT_NEED_VALUE)->need.round, 0);
    ck_assert_int_eq(tm_propose_value(t, 1, 0, A), 0);
    collect(t);
    const tm_action_t *a = find(TM_ACT_PROPOSAL);
    ck_assert_mem_eq(a->proposal.value, A, TM_ID_LEN);
    ck_assert_int_eq(a->proposal.valid_round, -1);
    ck_assert_uint_eq(a->proposal.proposer, p0);
    ck_assert_mem_eq(find(TM_ACT_PREVOTE)->vote.value, A, TM_ID_LEN);
    ck_assert_uint_eq(tm_step(t), TM_STEP_PREVOTE);
    uint16_t o1 = other(p0, UINT16_MAX, UINT16_MAX), o2 = other(p0, o1, UINT16_MAX);
    uint16_t o3 = other(p0, o1, o2);
    ck_assert_int_eq(prevote(t, 1, 0, A, o1), 0);
    ck_assert_uint_eq(got.n, 0); /* 2 of 4: not yet 2/3 */
    ck_assert_int_eq(prevote(t, 1, 0, A, o2), 0);
    ck_assert(has_timeout(TM_TIMEOUT_PREVOTE, 1, 0, 1000));
    ck_assert_mem_eq(find(TM_ACT_PRECOMMIT)->vote.value, A, TM_ID_LEN);
    uint8_t lv[TM_ID_LEN];
    ck_assert_int_eq(tm_locked(t, lv), 0);
    ck_assert_mem_eq(lv, A, TM_ID_LEN);
    ck_assert_int_eq(precommit(t, 1, 0, A, o1), 0);
    ck_assert_uint_eq(count(TM_ACT_DECIDE), 0);
    ck_assert_int_eq(precommit(t, 1, 0, A, o3), 0);
    const tm_decision_t *d = &find(TM_ACT_DECIDE)->decide;
    ck_assert_uint_eq(d->height, 1);
    ck_assert_int_eq(d->round, 0);
    ck_assert_mem_eq(d->value, A, TM_ID_LEN);
    ck_assert_uint_eq(d->n_signers, 3);
    ck_assert_uint_eq(d->power, 3);
    ck_assert(signer(d, p0) && signer(d, o1) && signer(d, o3) && !signer(d, o2));
    ck_assert(tm_is_decided(t));
    ck_assert_int_eq(precommit(t, 1, 0, A, o2), -EALREADY);
    tm_free(t);

    /* Four machines on a network that delivers everything in 1 ms. */
    static sim_t s;
    sim_init(&s, BYZ_NONE, false);
    sim_run(&s, 100000);
    for (int i = 0; i < SIM_NODES; i++)
        for (int h = 1; h <= SIM_HEIGHTS; h++) {
            uint8_t v[TM_ID_LEN];
            sim_value(v, (uint64_t)h, 0, tm_proposer(s.node[0], (uint64_t)h, 0));
            ck_assert_int_eq(s.decided_round[i][h], 0);
            ck_assert_mem_eq(s.value[i][h], v, TM_ID_LEN);
        }
    ck_assert_uint_eq(s.evidence, 0);
    sim_free(&s);
}
END_TEST

START_TEST(proposer_weighted_by_power)
{
    uint64_t w[4] = { 3, 1, 1, 1 };
    tm_t *nodes[4];
    for (int i = 0; i < 4; i++)
        nodes[i] = make(4, w, i, NULL, NULL);
    size_t by[4] = { 0 };
    for (uint64_t h = 1; h <= 600; h++)
        for (int32_t r = 0; r < 10; r++) {
            uint16_t p = tm_proposer(nodes[0], h, r);
            ck_assert_uint_lt(p, 4);
            for (int i = 1; i < 4; i++)
                ck_assert_uint_eq(tm_proposer(nodes[i], h, r), p);
            by[p]++;
        }
    /* Any 6 consecutive (height + round) give validator 0 exactly 3 turns. */
    ck_assert_uint_eq(by[0], 3000);
    ck_assert_uint_eq(by[1], 1000);
    ck_assert_uint_eq(by[2], 1000);
    ck_assert_uint_eq(by[3], 1000);
    /* Within one height, the heavy validator never has every round. */
    size_t heavy = 0;
    for (int32_t r = 0; r < 6; r++)
        heavy += tm_proposer(nodes[0], 77, r) == 0;
    ck_assert_uint_eq(heavy, 3);
    for (int i = 0; i < 4; i++)
        tm_free(nodes[i]);

    /* Equal powers take turns: each once in any 4 consecutive rounds. */
    tm_t *t = make(4, NULL, -1, NULL, NULL);
    for (uint64_t h = 1; h < 50; h++) {
        unsigned seen = 0;
        for (int32_t r = 0; r < 4; r++)
            seen |= 1u << tm_proposer(t, h, r);
        ck_assert_uint_eq(seen, 0xf);
    }
    tm_free(t);
    /* A skewed set of 7: shares follow the powers over a full cycle. */
    uint64_t w7[7] = { 10, 1, 2, 3, 4, 5, 6 };
    t = make(7, w7, -1, NULL, NULL);
    size_t by7[7] = { 0 };
    for (int32_t r = 0; r < 31 * 20; r++)
        by7[tm_proposer(t, 1, r)]++;
    for (int i = 0; i < 7; i++)
        ck_assert_uint_eq(by7[i], w7[i] * 20);
    tm_free(t);
}
END_TEST

START_TEST(locking_and_valid_round)
{
    tm_t *probe = make(4, NULL, -1, NULL, NULL);
    uint16_t p0 = tm_proposer(probe, 1, 0), p1 = tm_proposer(probe, 1, 1);
    uint16_t p2 = tm_proposer(probe, 1, 2);
    tm_free(probe);
    ck_assert(p0 != p1 && p1 != p2 && p0 != p2);
    uint16_t x = other(p0, p1, p2);
    uint16_t o[3] = { p0, p1, p2 };
    tm_t *t = make(4, NULL, x, NULL, NULL);
    ck_assert_int_eq(start(t, 1), 0);

    /* Round 0: A, 2/3 prevote it: x precommits A and is locked on it. */
    ck_assert_int_eq(proposal(t, 1, 0, -1, A, p0), 0);
    ck_assert_mem_eq(find(TM_ACT_PREVOTE)->vote.value, A, TM_ID_LEN);
    ck_assert_int_eq(prevote(t, 1, 0, A, o[0]), 0);
    ck_assert_int_eq(prevote(t, 1, 0, A, o[1]), 0);
    ck_assert_mem_eq(find(TM_ACT_PRECOMMIT)->vote.value, A, TM_ID_LEN);
    uint8_t v[TM_ID_LEN];
    ck_assert_int_eq(tm_locked(t, v), 0);
    ck_assert_mem_eq(v, A, TM_ID_LEN);
    ck_assert_int_eq(precommit(t, 1, 0, tm_nil, o[0]), 0);
    ck_assert_int_eq(precommit(t, 1, 0, tm_nil, o[1]), 0);
    ck_assert(has_timeout(TM_TIMEOUT_PRECOMMIT, 1, 0, 1000));
    ck_assert_int_eq(timeout(t, TM_TIMEOUT_PRECOMMIT, 1, 0), 0);
    ck_assert_int_eq(tm_round(t), 1);

    /* Round 1: B without a valid round: locked on A, x prevotes nil. */
    ck_assert_int_eq(proposal(t, 1, 1, -1, B, p1), 0);
    ck_assert_mem_eq(find(TM_ACT_PREVOTE)->vote.value, tm_nil, TM_ID_LEN);
    ck_assert_int_eq(prevote(t, 1, 1, B, o[0]), 0);
    ck_assert_int_eq(prevote(t, 1, 1, B, o[1]), 0);
    ck_assert(has_timeout(TM_TIMEOUT_PREVOTE, 1, 1, 1500));
    ck_assert_int_eq(timeout(t, TM_TIMEOUT_PREVOTE, 1, 1), 0);
    ck_assert_mem_eq(find(TM_ACT_PRECOMMIT)->vote.value, tm_nil, TM_ID_LEN);
    /* The third prevote for B: 2/3 in round 1, so B is valid, but x has
     * precommitted already and stays locked on A from round 0. */
    ck_assert_int_eq(prevote(t, 1, 1, B, o[2]), 0);
    ck_assert_uint_eq(count(TM_ACT_PRECOMMIT), 0);
    ck_assert_int_eq(tm_valid(t, v), 1);
    ck_assert_mem_eq(v, B, TM_ID_LEN);
    ck_assert_int_eq(tm_locked(t, v), 0);
    ck_assert_mem_eq(v, A, TM_ID_LEN);
    ck_assert_int_eq(precommit(t, 1, 1, tm_nil, o[0]), 0);
    ck_assert_int_eq(precommit(t, 1, 1, tm_nil, o[1]), 0);
    ck_assert_int_eq(timeout(t, TM_TIMEOUT_PRECOMMIT, 1, 1), 0);
    ck_assert_int_eq(tm_round(t), 2);

    /* Round 2: B with valid_round 1 (>= the lock's round 0, and 2/3
     * prevoted B there): x prevotes B. */
    ck_assert_int_eq(proposal(t, 1, 2, 1, B, p2), 0);
    ck_assert_uint_eq(count(TM_ACT_PREVOTE), 1);
    ck_assert_mem_eq(find(TM_ACT_PREVOTE)->vote.value, B, TM_ID_LEN);
    tm_free(t);

    /* Locked on B in round 1, x refuses A carried by valid_round 0, though
     * 2/3 prevoted A there: that round is older than its lock. */
    t = make(4, NULL, x, NULL, NULL);
    ck_assert_int_eq(start(t, 1), 0);
    ck_assert_int_eq(timeout(t, TM_TIMEOUT_PROPOSE, 1, 0), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(prevote(t, 1, 0, A, o[i]), 0);
    ck_assert_int_eq(tm_locked(t, NULL), -1); /* no proposal seen: no lock */
    ck_assert_int_eq(timeout(t, TM_TIMEOUT_PREVOTE, 1, 0), 0);
    ck_assert_int_eq(precommit(t, 1, 0, tm_nil, o[0]), 0);
    ck_assert_int_eq(precommit(t, 1, 0, tm_nil, o[1]), 0);
    ck_assert_int_eq(timeout(t, TM_TIMEOUT_PRECOMMIT, 1, 0), 0);
    ck_assert_int_eq(proposal(t, 1, 1, -1, B, p1), 0);
    ck_assert_mem_eq(find(TM_ACT_PREVOTE)->vote.value, B, TM_ID_LEN);
    ck_assert_int_eq(prevote(t, 1, 1, B, o[0]), 0);
    ck_assert_int_eq(prevote(t, 1, 1, B, o[1]), 0);
    ck_assert_int_eq(tm_locked(t, v), 1);
    ck_assert_mem_eq(v, B, TM_ID_LEN);
    ck_assert_int_eq(precommit(t, 1, 1, tm_nil, o[0]), 0);
    ck_assert_int_eq(precommit(t, 1, 1, tm_nil, o[1]), 0);
    ck_assert_int_eq(timeout(t, TM_TIMEOUT_PRECOMMIT, 1, 1), 0);
    ck_assert_int_eq(proposal(t, 1, 2, 0, A, p2), 0);
    ck_assert_mem_eq(find(TM_ACT_PREVOTE)->vote.value, tm_nil, TM_ID_LEN);
    tm_free(t);

    /* A valid_round below the lock, or one without 2/3 prevotes known. */
    t = make(4, NULL, x, NULL, NULL);
    ck_assert_int_eq(start(t, 1), 0);
    ck_assert_int_eq(proposal(t, 1, 0, -1, A, p0), 0);
    ck_assert_int_eq(prevote(t, 1, 0, A, o[0]), 0);
    ck_assert_int_eq(prevote(t, 1, 0, A, o[1]), 0);
    ck_assert_int_eq(precommit(t, 1, 0, tm_nil, o[0]), 0);
    ck_assert_int_eq(precommit(t, 1, 0, tm_nil, o[1]), 0);
    ck_assert_int_eq(timeout(t, TM_TIMEOUT_PRECOMMIT, 1, 0), 0);
    /* Round 1 goes by without x seeing its prevotes. */
    ck_assert_int_eq(timeout(t, TM_TIMEOUT_PROPOSE, 1, 1), 0);
    ck_assert_int_eq(prevote(t, 1, 1, C, o[0]), 0);
    ck_assert_int_eq(prevote(t, 1, 1, C, o[1]), 0);
    ck_assert_int_eq(timeout(t, TM_TIMEOUT_PREVOTE, 1, 1), 0);
    ck_assert_int_eq(precommit(t, 1, 1, tm_nil, o[0]), 0);
    ck_assert_int_eq(precommit(t, 1, 1, tm_nil, o[1]), 0);
    ck_assert_int_eq(timeout(t, TM_TIMEOUT_PRECOMMIT, 1, 1), 0);
    /* C claims valid_round 1 but only 2 of 4 prevoted it there: wait. */
    ck_assert_int_eq(proposal(t, 1, 2, 1, C, p2), 0);
    ck_assert_uint_eq(count(TM_ACT_PREVOTE), 0);
    ck_assert_uint_eq(tm_step(t), TM_STEP_PROPOSE);
    /* The third prevote arrives: 2/3 for C in round 1 >= lock 0: prevote C. */
    ck_assert_int_eq(prevote(t, 1, 1, C, o[2]), 0);
    ck_assert_mem_eq(find(TM_ACT_PREVOTE)->vote.value, C, TM_ID_LEN);
    tm_free(t);
}
END_TEST

START_TEST(round_change_by_timeouts)
{
    tm_t *probe = make(4, NULL, -1, NULL, NULL);
    uint16_t p0 = tm_proposer(probe, 1, 0), p1 = tm_proposer(probe, 1, 1);
    tm_free(probe);
    uint16_t o = other(p0, p1, UINT16_MAX);
    /* p1's view while p0 is silent. */
    tm_t *t = make(4, NULL, p1, NULL, NULL);
    ck_assert_int_eq(start(t, 1), 0);
    ck_assert_uint_eq(count(TM_ACT_NEED_VALUE), 0);
    ck_assert(has_timeout(TM_TIMEOUT_PROPOSE, 1, 0, 3000));
    ck_assert_int_eq(timeout(t, TM_TIMEOUT_PROPOSE, 1, 0), 0);
    ck_assert_mem_eq(find(TM_ACT_PREVOTE)->vote.value, tm_nil, TM_ID_LEN);
    /* A stale or repeated timeout does nothing. */
    ck_assert_int_eq(timeout(t, TM_TIMEOUT_PROPOSE, 1, 0), 0);
    ck_assert_uint_eq(got.n, 0);
    ck_assert_int_eq(prevote(t, 1, 0, tm_nil, o), 0);
    ck_assert_int_eq(prevote(t, 1, 0, tm_nil, p0), 0);
    ck_assert(has_timeout(TM_TIMEOUT_PREVOTE, 1, 0, 1000));
    ck_assert_mem_eq(find(TM_ACT_PRECOMMIT)->vote.value, tm_nil, TM_ID_LEN);
    ck_assert_int_eq(precommit(t, 1, 0, tm_nil, o), 0);
    ck_assert_int_eq(precommit(t, 1, 0, tm_nil, p0), 0);
    ck_assert(has_timeout(TM_TIMEOUT_PRECOMMIT, 1, 0, 1000));
    ck_assert_int_eq(timeout(t, TM_TIMEOUT_PRECOMMIT, 1, 0), 0);
    ck_assert_int_eq(tm_round(t), 1);
    ck_assert(has_timeout(TM_TIMEOUT_PROPOSE, 1, 1, 3500));
    ck_assert_int_eq(find(TM_ACT_NEED_VALUE)->need.round, 1);
    ck_assert_int_eq(timeout(t, TM_TIMEOUT_PRECOMMIT, 1, 0), 0); /* stale */
    ck_assert_uint_eq(got.n, 0);
    ck_assert_int_eq(tm_round(t), 1);
    ck_assert_int_eq(tm_propose_value(t, 1, 0, B), -ESTALE);
    ck_assert_int_eq(tm_propose_value(t, 1, 1, B), 0);
    collect(t);
    ck_assert_int_eq(find(TM_ACT_PROPOSAL)->proposal.round, 1);
    tm_free(t);

    /* The network, with round 0's proposer silent: all decide round 1's value. */
    static sim_t s;
    sim_init(&s, BYZ_SILENT, false);
    ck_assert_uint_eq(tm_proposer(s.node[0], 1, 0), SIM_NODES - 1);
    sim_run(&s, 100000);
    uint8_t v[TM_ID_LEN];
    sim_value(v, 1, 1, tm_proposer(s.node[0], 1, 1));
    for (int i = 0; i < SIM_NODES - 1; i++) {
        ck_assert_int_eq(s.decided_round[i][1], 1);
        ck_assert_mem_eq(s.value[i][1], v, TM_ID_LEN);
    }
    sim_free(&s);
}
END_TEST

START_TEST(round_skip_on_one_third)
{
    tm_t *t = make(4, NULL, 0, NULL, NULL);
    ck_assert_int_eq(start(t, 1), 0);
    ck_assert_int_eq(prevote(t, 1, 5, A, 1), 0);
    ck_assert_int_eq(tm_round(t), 0); /* power 1 of 4: not more than 1/3 */
    ck_assert_int_eq(precommit(t, 1, 5, A, 1), 0);
    ck_assert_int_eq(tm_round(t), 0); /* the same validator again */
    ck_assert_int_eq(prevote(t, 1, 5, tm_nil, 2), 0);
    ck_assert_int_eq(tm_round(t), 5);
    ck_assert(has_timeout(TM_TIMEOUT_PROPOSE, 1, 5, 3000 + 5 * 500));
    ck_assert_uint_eq(tm_vote_power(t, 5, TM_STEP_PREVOTE, NULL), 2);
    /* Far ahead (beyond TM_ROUNDS_AHEAD): only the rounds count. */
    ck_assert_int_eq(precommit(t, 1, 40, B, 3), 0);
    ck_assert_int_eq(tm_round(t), 5);
    ck_assert_int_eq(prevote(t, 1, 41, B, 1), 0);
    ck_assert_int_eq(tm_round(t), 40); /* 1 and 3 have reached round 40 or more */
    ck_assert_uint_eq(tm_vote_power(t, 40, TM_STEP_PRECOMMIT, NULL), 0);
    tm_free(t);

    /* Weighted: one validator of power 2 of 5 is more than 1/3 on its own. */
    uint64_t w[4] = { 1, 2, 1, 1 };
    t = make(4, w, 0, NULL, NULL);
    ck_assert_int_eq(start(t, 1), 0);
    ck_assert_int_eq(prevote(t, 1, 3, A, 2), 0);
    ck_assert_int_eq(tm_round(t), 0);
    ck_assert_int_eq(prevote(t, 1, 2, A, 1), 0);
    ck_assert_int_eq(tm_round(t), 2);
    tm_free(t);
}
END_TEST

START_TEST(thresholds_are_strict)
{
    /* Three of power 1: two are exactly 2/3, not more: no precommit, no decision. */
    tm_t *t = make(3, NULL, -1, NULL, NULL);
    ck_assert_int_eq(start(t, 1), 0);
    uint16_t p0 = tm_proposer(t, 1, 0);
    ck_assert_int_eq(proposal(t, 1, 0, -1, A, p0), 0);
    ck_assert_int_eq(precommit(t, 1, 0, A, 0), 0);
    ck_assert_int_eq(precommit(t, 1, 0, A, 1), 0);
    ck_assert_uint_eq(count(TM_ACT_DECIDE), 0);
    ck_assert_uint_eq(count(TM_ACT_TIMEOUT), 0);
    ck_assert_int_eq(precommit(t, 1, 0, A, 2), 0);
    ck_assert_uint_eq(count(TM_ACT_DECIDE), 1);
    tm_free(t);
    /* Five equal: a majority of three is not enough, four is. */
    t = make(5, NULL, 4, NULL, NULL);
    ck_assert_int_eq(start(t, 1), 0);
    p0 = tm_proposer(t, 1, 0);
    ck_assert_uint_ne(p0, 4);
    ck_assert_int_eq(proposal(t, 1, 0, -1, A, p0), 0);
    for (uint16_t i = 0; i < 2; i++)
        ck_assert_int_eq(prevote(t, 1, 0, A, i), 0);
    ck_assert_uint_eq(count(TM_ACT_PRECOMMIT), 0); /* 3 of 5 with its own */
    ck_assert_int_eq(prevote(t, 1, 0, A, 2), 0);
    ck_assert_uint_eq(count(TM_ACT_PRECOMMIT), 1);
    for (uint16_t i = 0; i < 2; i++)
        ck_assert_int_eq(precommit(t, 1, 0, A, i), 0);
    ck_assert_uint_eq(count(TM_ACT_DECIDE), 0);
    ck_assert_int_eq(precommit(t, 1, 0, A, 2), 0);
    ck_assert_uint_eq(count(TM_ACT_DECIDE), 1);
    tm_free(t);
    /* Round skip: exactly 1/3 is not more than 1/3. */
    t = make(3, NULL, -1, NULL, NULL);
    ck_assert_int_eq(start(t, 1), 0);
    ck_assert_int_eq(prevote(t, 1, 4, A, 0), 0);
    ck_assert_int_eq(tm_round(t), 0);
    ck_assert_int_eq(prevote(t, 1, 4, A, 1), 0);
    ck_assert_int_eq(tm_round(t), 4);
    tm_free(t);
}
END_TEST

START_TEST(equivocation_reported_counted_once)
{
    tm_t *probe = make(4, NULL, -1, NULL, NULL);
    uint16_t p0 = tm_proposer(probe, 1, 0);
    tm_free(probe);
    uint16_t x = other(p0, UINT16_MAX, UINT16_MAX), y = other(p0, x, UINT16_MAX);
    tm_t *t = make(4, NULL, x, NULL, NULL);
    ck_assert_int_eq(start(t, 1), 0);
    ck_assert_int_eq(proposal(t, 1, 0, -1, A, p0), 0);
    ck_assert_mem_eq(find(TM_ACT_PREVOTE)->vote.value, A, TM_ID_LEN);
    ck_assert_int_eq(proposal(t, 1, 0, -1, B, p0), 0);
    const tm_evidence_t *e = &find(TM_ACT_EVIDENCE)->evidence;
    ck_assert_int_eq(e->type, TM_STEP_PROPOSE);
    ck_assert_mem_eq(e->proposal[0].value, A, TM_ID_LEN);
    ck_assert_mem_eq(e->proposal[1].value, B, TM_ID_LEN);
    ck_assert_uint_eq(e->proposal[1].proposer, p0);
    ck_assert_uint_eq(got.n, 1);
    ck_assert_int_eq(proposal(t, 1, 0, -1, C, p0), -EALREADY); /* reported once */
    ck_assert_uint_eq(got.n, 0);
    ck_assert_int_eq(proposal(t, 1, 0, -1, C, y), -EPERM);

    /* y prevotes A, then B: evidence with both, y's power counted once. */
    ck_assert_int_eq(prevote(t, 1, 0, A, y), 0);
    ck_assert_uint_eq(tm_vote_power(t, 0, TM_STEP_PREVOTE, A), 2);
    ck_assert_int_eq(prevote(t, 1, 0, B, y), 0);
    e = &find(TM_ACT_EVIDENCE)->evidence;
    ck_assert_int_eq(e->type, TM_STEP_PREVOTE);
    ck_assert_uint_eq(e->vote[0].voter, y);
    ck_assert_uint_eq(e->vote[1].voter, y);
    ck_assert_mem_eq(e->vote[0].value, A, TM_ID_LEN);
    ck_assert_mem_eq(e->vote[1].value, B, TM_ID_LEN);
    ck_assert_uint_eq(e->vote[0].round, 0);
    /* Once in "any value" (x and y), once in each of its values' tallies. */
    ck_assert_uint_eq(tm_vote_power(t, 0, TM_STEP_PREVOTE, NULL), 2);
    ck_assert_uint_eq(tm_vote_power(t, 0, TM_STEP_PREVOTE, A), 2);
    ck_assert_uint_eq(tm_vote_power(t, 0, TM_STEP_PREVOTE, B), 1);
    ck_assert_int_eq(prevote(t, 1, 0, tm_nil, y), -EALREADY);
    ck_assert_uint_eq(got.n, 0);
    ck_assert_uint_eq(tm_vote_power(t, 0, TM_STEP_PREVOTE, NULL), 2);
    ck_assert_uint_eq(tm_vote_power(t, 0, TM_STEP_PREVOTE, tm_nil), 0);
    /* y's double vote does not make 2/3: x has not precommitted. */
    ck_assert_uint_eq(tm_step(t), TM_STEP_PREVOTE);
    /* The same from a precommit, and a prevote of y in another round is no conflict. */
    ck_assert_int_eq(precommit(t, 1, 0, A, y), 0);
    ck_assert_int_eq(precommit(t, 1, 0, tm_nil, y), 0);
    ck_assert_int_eq(find(TM_ACT_EVIDENCE)->evidence.type, TM_STEP_PRECOMMIT);
    ck_assert_uint_eq(tm_vote_power(t, 0, TM_STEP_PRECOMMIT, NULL), 1);
    ck_assert_int_eq(prevote(t, 1, 1, B, y), 0);
    ck_assert_uint_eq(count(TM_ACT_EVIDENCE), 0);
    tm_free(t);

    /* A network with an equivocating validator: evidence, no split. */
    static sim_t s;
    rng_seed(7);
    sim_init(&s, BYZ_EQUIVOCATE, false);
    sim_run(&s, 100000);
    ck_assert_uint_gt(s.evidence, 0);
    sim_free(&s);
}
END_TEST

START_TEST(late_precommits_decide)
{
    tm_t *probe = make(4, NULL, -1, NULL, NULL);
    uint16_t p0 = tm_proposer(probe, 1, 0), p1 = tm_proposer(probe, 1, 1);
    tm_free(probe);
    uint16_t x = other(p0, p1, UINT16_MAX), z = other(p0, p1, x);
    tm_t *t = make(4, NULL, x, NULL, NULL);
    ck_assert_int_eq(start(t, 1), 0);
    ck_assert_int_eq(proposal(t, 1, 0, -1, A, p0), 0);
    ck_assert_int_eq(prevote(t, 1, 0, A, p0), 0);
    ck_assert_int_eq(prevote(t, 1, 0, tm_nil, p1), 0);
    ck_assert_int_eq(timeout(t, TM_TIMEOUT_PREVOTE, 1, 0), 0);
    ck_assert_mem_eq(find(TM_ACT_PRECOMMIT)->vote.value, tm_nil, TM_ID_LEN);
    ck_assert_int_eq(precommit(t, 1, 0, A, p0), 0);
    ck_assert_int_eq(precommit(t, 1, 0, A, p1), 0);
    ck_assert_int_eq(timeout(t, TM_TIMEOUT_PRECOMMIT, 1, 0), 0);
    ck_assert_int_eq(tm_round(t), 1);
    ck_assert(!tm_is_decided(t));
    /* z's precommit for A in round 0 arrives late: 3 of 4 for A, decided. */
    ck_assert_int_eq(precommit(t, 1, 0, A, z), 0);
    const tm_decision_t *d = &find(TM_ACT_DECIDE)->decide;
    ck_assert_int_eq(d->round, 0);
    ck_assert_mem_eq(d->value, A, TM_ID_LEN);
    ck_assert_uint_eq(d->n_signers, 3);
    ck_assert(signer(d, p0) && signer(d, p1) && signer(d, z) && !signer(d, x));
    ck_assert_int_eq(timeout(t, TM_TIMEOUT_PROPOSE, 1, 1), 0);
    ck_assert_uint_eq(got.n, 0); /* decided: nothing more at this height */
    tm_free(t);
}
END_TEST

typedef struct {
    int refuse_from;            /* refuse steps >= this */
    size_t calls;
    uint64_t h;
    int32_t r;
    tm_step_t step;
    uint8_t value[TM_ID_LEN];
} guard_t;

static int guard(void *ctx, uint64_t h, int32_t r, tm_step_t step, const uint8_t value[TM_ID_LEN])
{
    guard_t *g = ctx;
    g->calls++;
    g->h = h;
    g->r = r;
    g->step = step;
    memcpy(g->value, value, TM_ID_LEN);
    return (int)step >= g->refuse_from ? -EPERM : 0;
}

START_TEST(sign_guard_refusal)
{
    tm_t *probe = make(4, NULL, -1, NULL, NULL);
    uint16_t p0 = tm_proposer(probe, 1, 0);
    tm_free(probe);
    /* Refusing everything: no proposal, no vote. */
    guard_t g = { .refuse_from = TM_STEP_PROPOSE };
    tm_t *t = make(4, NULL, p0, guard, &g);
    ck_assert_int_eq(start(t, 1), 0);
    ck_assert_int_eq(tm_propose_value(t, 1, 0, A), 0);
    collect(t);
    ck_assert_uint_eq(got.n, 0);
    ck_assert_uint_eq(g.calls, 1);
    ck_assert_int_eq(g.step, TM_STEP_PROPOSE);
    ck_assert_int_eq(timeout(t, TM_TIMEOUT_PROPOSE, 1, 0), 0);
    ck_assert_uint_eq(count(TM_ACT_PREVOTE), 0);
    ck_assert_uint_eq(g.calls, 2);
    ck_assert_int_eq(g.step, TM_STEP_PREVOTE);
    ck_assert_uint_eq(tm_step(t), TM_STEP_PREVOTE);
    ck_assert_uint_eq(tm_vote_power(t, 0, TM_STEP_PREVOTE, NULL), 0);
    tm_free(t);

    /* Refusing precommits only: the prevote goes out, the precommit not. */
    uint16_t x = other(p0, UINT16_MAX, UINT16_MAX), y = other(p0, x, UINT16_MAX);
    guard_t g2 = { .refuse_from = TM_STEP_PRECOMMIT };
    t = make(4, NULL, x, guard, &g2);
    ck_assert_int_eq(start(t, 1), 0);
    ck_assert_int_eq(proposal(t, 1, 0, -1, A, p0), 0);
    ck_assert_uint_eq(count(TM_ACT_PREVOTE), 1);
    ck_assert_uint_eq(g2.calls, 1);
    ck_assert_uint_eq(g2.h, 1);
    ck_assert_int_eq(g2.r, 0);
    ck_assert_int_eq(g2.step, TM_STEP_PREVOTE);
    ck_assert_mem_eq(g2.value, A, TM_ID_LEN);
    ck_assert_int_eq(prevote(t, 1, 0, A, p0), 0);
    ck_assert_int_eq(prevote(t, 1, 0, A, y), 0);
    ck_assert_uint_eq(count(TM_ACT_PRECOMMIT), 0);
    ck_assert_uint_eq(g2.calls, 2);
    ck_assert_int_eq(g2.step, TM_STEP_PRECOMMIT);
    ck_assert_uint_eq(tm_vote_power(t, 0, TM_STEP_PRECOMMIT, NULL), 0);
    ck_assert_uint_eq(tm_step(t), TM_STEP_PRECOMMIT);
    tm_free(t);

    /* An observer (self -1) never signs. */
    guard_t g3 = { .refuse_from = 99 };
    t = make(4, NULL, -1, guard, &g3);
    ck_assert_int_eq(start(t, 1), 0);
    ck_assert_int_eq(timeout(t, TM_TIMEOUT_PROPOSE, 1, 0), 0);
    ck_assert_uint_eq(got.n, 0);
    ck_assert_uint_eq(g3.calls, 0);
    tm_free(t);
}
END_TEST

START_TEST(refusals_and_duplicates)
{
    tm_t *t = make(4, NULL, 0, NULL, NULL);
    /* Before tm_start, votes for height 1 are held for it. */
    ck_assert_int_eq(prevote(t, 1, 0, A, 2), 0);
    ck_assert_int_eq(start(t, 1), 0);
    ck_assert_uint_eq(tm_vote_power(t, 0, TM_STEP_PREVOTE, A), 1);
    size_t n;
    ck_assert_int_eq(prevote(t, 1, 0, A, 3), 0);
    ck_assert_int_eq(prevote(t, 1, 0, A, 3), -EALREADY);
    ck_assert_uint_eq(got.n, 0);
    ck_assert_uint_eq(tm_vote_power(t, 0, TM_STEP_PREVOTE, A), 2);
    ck_assert_int_eq(prevote(t, 1, 0, A, 4), -ENOENT);
    ck_assert_int_eq(prevote(t, 1, 0, A, 1000), -ENOENT);
    ck_assert_int_eq(proposal(t, 1, 0, -1, A, 9), -ENOENT);
    ck_assert_int_eq(prevote(t, 3, 0, A, 1), -ERANGE);  /* height + 2 */
    ck_assert_int_eq(prevote(t, 0, 0, A, 1), -ERANGE);  /* past */
    ck_assert_int_eq(precommit(t, 1000, 0, A, 1), -ERANGE);
    ck_assert_int_eq(prevote(t, 1, -1, A, 1), -EINVAL);
    ck_assert_int_eq(prevote(t, 1, TM_ROUND_MAX + 1, A, 1), -EINVAL);
    tm_vote_t pc = vote(1, 0, TM_STEP_PRECOMMIT, A, 1);
    ck_assert_int_eq(tm_on_prevote(t, &pc), -EINVAL);
    uint16_t p0 = tm_proposer(t, 1, 0), p1 = tm_proposer(t, 1, 1);
    ck_assert_int_eq(proposal(t, 1, 0, -1, tm_nil, p0), -EINVAL);
    ck_assert_int_eq(proposal(t, 1, 0, 0, A, p0), -EINVAL);
    ck_assert_int_eq(proposal(t, 1, 1, -2, A, p1), -EINVAL);
    ck_assert_int_eq(proposal(t, 2, 0, -1, A, p0), -EAGAIN);
    ck_assert_int_eq(proposal(t, 3, 0, -1, A, p0), -ERANGE);
    ck_assert_uint_eq(tm_round(t), 0);
    ck_assert_uint_eq(tm_height(t), 1);

    /* Height 2's votes are held (one per validator and type, lowest round). */
    ck_assert_int_eq(prevote(t, 2, 3, B, 1), 0);
    ck_assert_int_eq(prevote(t, 2, 3, B, 1), -EALREADY);
    ck_assert_int_eq(prevote(t, 2, 0, B, 1), 0);
    ck_assert_int_eq(prevote(t, 2, 5, B, 1), -ENOSPC);
    ck_assert_int_eq(precommit(t, 2, 0, B, 2), 0);
    ck_assert_uint_eq(tm_vote_power(t, 0, TM_STEP_PREVOTE, B), 0);

    /* Not drained: every event is refused and changes nothing. */
    ck_assert_int_eq(tm_on_timeout(t, TM_TIMEOUT_PROPOSE, 1, 0), 0);
    tm_vote_t pv = vote(1, 0, TM_STEP_PREVOTE, A, 1);
    ck_assert_int_eq(tm_on_prevote(t, &pv), -EBUSY);
    ck_assert_int_eq(tm_start(t, 2), -EBUSY);
    ck_assert_int_eq(tm_on_timeout(t, TM_TIMEOUT_PREVOTE, 1, 0), -EBUSY);
    tm_actions(t, &n);
    ck_assert_uint_gt(n, 0);
    ck_assert_int_eq(tm_start(t, 1), -EINVAL);
    ck_assert_int_eq(tm_start(t, 0), -EINVAL);
    ck_assert_int_eq(tm_on_timeout(t, (tm_timeout_kind_t)9, 1, 0), -EINVAL);

    /* At height 2 the held votes count, round 0's at once. */
    ck_assert_int_eq(start(t, 2), 0);
    ck_assert_uint_eq(tm_vote_power(t, 0, TM_STEP_PREVOTE, B), 1);
    ck_assert_uint_eq(tm_vote_power(t, 0, TM_STEP_PRECOMMIT, B), 1);
    ck_assert_uint_eq(tm_vote_power(t, 0, TM_STEP_PREVOTE, A), 0);
    ck_assert_uint_eq(tm_vote_power(t, 3, TM_STEP_PREVOTE, NULL), 0);
    /* Jumping heights (state sync) drops what was held. */
    ck_assert_int_eq(prevote(t, 3, 0, B, 1), 0);
    ck_assert_int_eq(start(t, 5), 0);
    ck_assert_uint_eq(tm_vote_power(t, 0, TM_STEP_PREVOTE, NULL), 0);
    tm_free(t);

    /* Bad configurations. */
    tm_validator_t v[2] = { { .power = 1 }, { .power = 0 } };
    tm_config_t cfg = { .validators = v, .n_validators = 2, .self = 0 };
    ck_assert_ptr_null(tm_new(&cfg));
    v[1].power = TM_POWER_MAX;
    ck_assert_ptr_null(tm_new(&cfg));
    v[1].power = 1;
    cfg.self = 2;
    ck_assert_ptr_null(tm_new(&cfg));
    cfg.self = -1;
    cfg.n_validators = 0;
    ck_assert_ptr_null(tm_new(&cfg));
    cfg.n_validators = TM_MAX_VALIDATORS + 1;
    ck_assert_ptr_null(tm_new(&cfg));
    cfg.n_validators = 2;
    t = tm_new(&cfg);
    ck_assert_ptr_nonnull(t);
    tm_free(t);
    tm_free(NULL);
}
END_TEST

START_TEST(rounds_kept_bounded)
{
    /* Walk to round 100 by skips; every round leaves votes behind. */
    tm_t *t = make(4, NULL, -1, NULL, NULL);
    ck_assert_int_eq(start(t, 1), 0);
    for (int32_t r = 1; r <= 100; r++) {
        ck_assert_int_eq(prevote(t, 1, r, A, 1), 0);
        ck_assert_int_eq(prevote(t, 1, r, A, 2), 0);
        ck_assert_int_eq(tm_round(t), r);
    }
    /* The table holds TM_ROUNDS_KEPT rounds: the newest; round 1 is gone,
     * and a vote for it is refused rather than evicting a newer round. */
    ck_assert_uint_eq(tm_vote_power(t, 100, TM_STEP_PREVOTE, A), 2);
    ck_assert_uint_eq(tm_vote_power(t, 100 - TM_ROUNDS_KEPT + 1, TM_STEP_PREVOTE, A), 2);
    ck_assert_uint_eq(tm_vote_power(t, 100 - TM_ROUNDS_KEPT, TM_STEP_PREVOTE, A), 0);
    ck_assert_int_eq(prevote(t, 1, 1, A, 3), -ERANGE);
    /* A newer round still finds room. */
    ck_assert_int_eq(prevote(t, 1, 101, A, 3), 0);
    ck_assert_uint_eq(tm_vote_power(t, 101, TM_STEP_PREVOTE, A), 1);
    tm_free(t);
}
END_TEST

static void safety_runs(int byz, unsigned runs)
{
    static sim_t s;
    size_t max_steps = 0, evidence = 0, later_rounds = 0;
    short_timeouts = true;
    for (unsigned run = 0; run < runs; run++) {
        rng_seed(0x5eed0000u + run + (unsigned)byz * 100000u);
        sim_init(&s, byz, true);
        sim_run(&s, 40000);
        for (int i = 0; i < SIM_NODES; i++)
            for (int h = 1; h <= SIM_HEIGHTS; h++)
                if (sim_honest(&s, i))
                    later_rounds += s.decided_round[i][h] > 0;
        if (s.steps > max_steps)
            max_steps = s.steps;
        evidence += s.evidence;
        sim_free(&s);
    }
    /* The runs did reach the interesting paths. */
    ck_assert_uint_gt(later_rounds, 0);
    if (byz == BYZ_EQUIVOCATE)
        ck_assert_uint_gt(evidence, 0);
    else
        ck_assert_uint_eq(evidence, 0);
    ck_assert_uint_lt(max_steps, 40000);
}

START_TEST(safety_random_silent)
{
    safety_runs(BYZ_SILENT, 300);
}
END_TEST

START_TEST(safety_random_equivocating)
{
    safety_runs(BYZ_EQUIVOCATE, 300);
}
END_TEST

START_TEST(safety_random_all_correct)
{
    safety_runs(BYZ_NONE, 100);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = { .name = "consensus", .tcase = "tm", .timeout_s = 60 };
    return suite_build(&spec, SUITE_TESTS(happy_path_four_equal, proposer_weighted_by_power,
                                          locking_and_valid_round, round_change_by_timeouts,
                                          round_skip_on_one_third, thresholds_are_strict,
                                          equivocation_reported_counted_once,
                                          late_precommits_decide, sign_guard_refusal,
                                          refusals_and_duplicates, rounds_kept_bounded,
                                          safety_random_silent, safety_random_equivocating,
                                          safety_random_all_correct));
}
