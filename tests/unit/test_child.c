/* supervisor/child: the lifecycle, cell by cell, against a table written
 * here from docs/architecture.md ("Worker lifecycle"), then the restart
 * policy over time and the start order, without a single process. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>

#include "common/base/exitcode.h"
#include "supervisor/child.h"

Suite *test_suite(void);

#define NONE CHILD_ACT_NONE
#define BURST 3

/* Wait statuses as waitpid reports them. */
#define EXITED(code) (((code) & 0xff) << 8)
#define KILLED(sig) ((sig) & 0x7f)

static const child_policy_t policy = {
    .restart_burst = BURST,
    .restart_interval_s = 60,
    .backoff_initial_ms = 100,
    .backoff_max_ms = 1000,
    .failed_retry_s = 300,
};

static void fresh(child_t *c, const child_policy_t *p)
{
    ck_assert_int_eq(child_init(c, "toy", NULL, true, p), 0);
}

static child_action_t step(child_t *c, child_event_t ev, uint64_t now_ms, int status)
{
    child_action_t a;
    ck_assert_int_eq(child_step(c, ev, now_ms, status, &a), 0);
    return a;
}

/* A fresh child, spawned at time 0. */
static void fresh_started(child_t *c)
{
    fresh(c, &policy);
    ck_assert_int_eq(step(c, CHILD_EV_START, 0, 0).act, CHILD_ACT_SPAWN);
}

/* ... and ready at time 1. */
static void fresh_running(child_t *c)
{
    fresh_started(c);
    ck_assert_int_eq(step(c, CHILD_EV_READY, 1, 0).act, CHILD_ACT_UP);
}

/* What must happen, from the operator's documentation. Every pair not
 * listed keeps its state and does nothing. The exit of the plain rows is
 * a SIGKILL, the first in its window, of a child nobody stopped. */
typedef struct {
    child_state_t from;
    child_event_t ev;
    child_state_t to;
    child_act_t act;
} expect_t;

static const expect_t changes[] = {
    { CHILD_STOPPED, CHILD_EV_START, CHILD_STARTING, CHILD_ACT_SPAWN },
    { CHILD_STOPPED, CHILD_EV_RESTART, CHILD_STARTING, CHILD_ACT_SPAWN },

    { CHILD_STARTING, CHILD_EV_SPAWN_FAILED, CHILD_BACKOFF, CHILD_ACT_BACKOFF },
    { CHILD_STARTING, CHILD_EV_READY, CHILD_RUNNING, CHILD_ACT_UP },
    { CHILD_STARTING, CHILD_EV_ALIVE, CHILD_STARTING, CHILD_ACT_EXTEND },
    { CHILD_STARTING, CHILD_EV_READY_TIMEOUT, CHILD_STARTING, CHILD_ACT_KILL },
    { CHILD_STARTING, CHILD_EV_EXITED, CHILD_STARTING, CHILD_ACT_SPAWN },
    { CHILD_STARTING, CHILD_EV_RESTART, CHILD_STOPPING, CHILD_ACT_TERM },
    { CHILD_STARTING, CHILD_EV_STOP, CHILD_STOPPING, CHILD_ACT_TERM },

    { CHILD_RUNNING, CHILD_EV_READY, CHILD_RUNNING, CHILD_ACT_WATCH },
    { CHILD_RUNNING, CHILD_EV_ALIVE, CHILD_RUNNING, CHILD_ACT_WATCH },
    { CHILD_RUNNING, CHILD_EV_HEARTBEAT_TIMEOUT, CHILD_RUNNING, CHILD_ACT_KILL },
    { CHILD_RUNNING, CHILD_EV_EXITED, CHILD_STARTING, CHILD_ACT_SPAWN },
    { CHILD_RUNNING, CHILD_EV_RESTART, CHILD_STOPPING, CHILD_ACT_TERM },
    { CHILD_RUNNING, CHILD_EV_STOP, CHILD_STOPPING, CHILD_ACT_TERM },

    { CHILD_BACKOFF, CHILD_EV_BACKOFF_ELAPSED, CHILD_STARTING, CHILD_ACT_SPAWN },
    { CHILD_BACKOFF, CHILD_EV_RESTART, CHILD_STARTING, CHILD_ACT_SPAWN },
    { CHILD_BACKOFF, CHILD_EV_HOLD, CHILD_STOPPED, CHILD_ACT_CANCEL },
    { CHILD_BACKOFF, CHILD_EV_STOP, CHILD_STOPPED, CHILD_ACT_CANCEL },

    /* Failed (a crash loop's, or for good): only its retry timer or the operator
     * brings it back; a stop disarms the timer and leaves it shown as failed. */
    { CHILD_FAILED, CHILD_EV_RETRY, CHILD_STARTING, CHILD_ACT_SPAWN },
    { CHILD_FAILED, CHILD_EV_RESTART, CHILD_STARTING, CHILD_ACT_SPAWN },
    { CHILD_FAILED, CHILD_EV_HOLD, CHILD_FAILED, CHILD_ACT_CANCEL },
    { CHILD_FAILED, CHILD_EV_STOP, CHILD_FAILED, CHILD_ACT_CANCEL },

    /* Not held, so a requested restart is what it is stopping for. */
    { CHILD_STOPPING, CHILD_EV_EXITED, CHILD_STARTING, CHILD_ACT_SPAWN },
    { CHILD_STOPPING, CHILD_EV_STOP_TIMEOUT, CHILD_STOPPING, CHILD_ACT_KILL },
};

static expect_t expected(child_state_t st, child_event_t ev)
{
    for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++)
        if (changes[i].from == st && changes[i].ev == ev)
            return changes[i];
    return (expect_t){ st, ev, st, NONE };
}

START_TEST(every_state_and_event)
{
    for (int st = 0; st < CHILD_NSTATES; st++) {
        for (int ev = 0; ev < CHILD_NEVENTS; ev++) {
            child_t c;
            fresh(&c, &policy);
            c.state = (child_state_t)st;
            child_action_t a = step(&c, (child_event_t)ev, 1000, KILLED(SIGKILL));
            expect_t e = expected((child_state_t)st, (child_event_t)ev);
            ck_assert_msg(c.state == e.to && a.act == e.act,
                          "%s + event %d: got %s/action %d, expected %s/action %d",
                          child_state_name((child_state_t)st), ev, child_state_name(c.state),
                          (int)a.act, child_state_name(e.to), (int)e.act);
            child_release(&c);
        }
    }
}
END_TEST

/* Exits whose meaning depends on the code, on HOLD and on the count. */
typedef struct {
    child_state_t from;
    bool held;
    uint32_t earlier_crashes; /* inside the window, before this exit */
    int status;
    child_state_t to;
    child_act_t act;
    int code_or_delay;        /* FAIL: exit code; BACKOFF: delay_ms */
} exit_case_t;

static const exit_case_t exits[] = {
    { CHILD_RUNNING, false, 0, EXITED(100), CHILD_FAILED, CHILD_ACT_FAIL, ADNET_EXIT_CONFIG },
    { CHILD_RUNNING, false, 0, EXITED(101), CHILD_FAILED, CHILD_ACT_FAIL, ADNET_EXIT_LEDGER },
    { CHILD_RUNNING, false, 0, EXITED(112), CHILD_FAILED, CHILD_ACT_FAIL, ADNET_EXIT_UPGRADE },
    { CHILD_STARTING, false, 0, EXITED(100), CHILD_FAILED, CHILD_ACT_FAIL, ADNET_EXIT_CONFIG },
    /* Nobody asked it to stop: a clean exit is a failure of its own. */
    { CHILD_RUNNING, false, 0, EXITED(0), CHILD_FAILED, CHILD_ACT_FAIL, ADNET_EXIT_WORKER_FAILED },
    { CHILD_RUNNING, false, 0, EXITED(111), CHILD_STARTING, CHILD_ACT_SPAWN, 0 },
    { CHILD_RUNNING, false, 0, EXITED(113), CHILD_STARTING, CHILD_ACT_SPAWN, 0 },
    { CHILD_RUNNING, false, 0, KILLED(SIGSEGV), CHILD_STARTING, CHILD_ACT_SPAWN, 0 },
    { CHILD_RUNNING, false, 1, KILLED(SIGKILL), CHILD_BACKOFF, CHILD_ACT_BACKOFF, 100 },
    { CHILD_STARTING, false, 2, EXITED(111), CHILD_BACKOFF, CHILD_ACT_BACKOFF, 200 },
    /* A crash loop: failed, tried again later; the others go on. */
    { CHILD_RUNNING, false, BURST, KILLED(SIGKILL), CHILD_FAILED, CHILD_ACT_RETRY_LATER,
      ADNET_EXIT_WORKER_FAILED },
    { CHILD_STARTING, false, BURST, EXITED(111), CHILD_FAILED, CHILD_ACT_RETRY_LATER,
      ADNET_EXIT_WORKER_FAILED },
    /* The node is going down: nothing is restarted, a fatal code still fails. */
    { CHILD_RUNNING, true, 0, KILLED(SIGKILL), CHILD_STOPPED, NONE, 0 },
    { CHILD_STARTING, true, 0, EXITED(111), CHILD_STOPPED, NONE, 0 },
    { CHILD_RUNNING, true, 0, EXITED(101), CHILD_FAILED, CHILD_ACT_FAIL, ADNET_EXIT_LEDGER },
    /* An exit that was asked for never fails, whatever its code. */
    { CHILD_STOPPING, true, 0, EXITED(0), CHILD_STOPPED, NONE, 0 },
    { CHILD_STOPPING, true, 0, EXITED(100), CHILD_STOPPED, NONE, 0 },
    { CHILD_STOPPING, true, BURST, KILLED(SIGKILL), CHILD_STOPPED, NONE, 0 },
    { CHILD_STOPPING, false, BURST, EXITED(0), CHILD_STARTING, CHILD_ACT_SPAWN, 0 },
    /* No process in these states: a late report changes nothing. */
    { CHILD_BACKOFF, false, 0, EXITED(100), CHILD_BACKOFF, NONE, 0 },
    { CHILD_FAILED, false, 0, KILLED(SIGKILL), CHILD_FAILED, NONE, 0 },
    { CHILD_STOPPED, false, 0, EXITED(0), CHILD_STOPPED, NONE, 0 },
};

START_TEST(exit_meaning)
{
    const exit_case_t *x = &exits[_i];
    child_t c;
    fresh(&c, &policy);
    for (uint32_t k = 0; k < x->earlier_crashes; k++) {
        c.state = CHILD_RUNNING;
        step(&c, CHILD_EV_EXITED, 1000 * k, KILLED(SIGKILL));
    }
    uint32_t restarts = c.restarts;
    c.state = x->from;
    c.held = x->held;
    child_action_t a = step(&c, CHILD_EV_EXITED, 1000 * x->earlier_crashes, x->status);
    ck_assert_msg(c.state == x->to && a.act == x->act, "case %d: got %s/action %d", _i,
                  child_state_name(c.state), (int)a.act);
    if (x->act == CHILD_ACT_FAIL || x->act == CHILD_ACT_RETRY_LATER)
        ck_assert_int_eq(a.exit_code, x->code_or_delay);
    if (x->act == CHILD_ACT_RETRY_LATER)
        ck_assert_uint_eq(a.delay_ms, policy.failed_retry_s * 1000);
    if (x->act == CHILD_ACT_BACKOFF)
        ck_assert_uint_eq(a.delay_ms, (uint32_t)x->code_or_delay);
    /* Only a crash that is restarted counts as a restart. */
    bool crash_restart = x->from != CHILD_STOPPING &&
                         (x->act == CHILD_ACT_SPAWN || x->act == CHILD_ACT_BACKOFF);
    ck_assert_uint_eq(c.restarts, restarts + (crash_restart ? 1 : 0));
    child_release(&c);
}
END_TEST

/* Crash, restart, get ready again, at now_ms; return the exit's action. */
static child_action_t crash_at(child_t *c, uint64_t now_ms)
{
    c->state = CHILD_RUNNING;
    child_action_t a = step(c, CHILD_EV_EXITED, now_ms, KILLED(SIGKILL));
    if (a.act == CHILD_ACT_BACKOFF)
        step(c, CHILD_EV_BACKOFF_ELAPSED, now_ms + a.delay_ms, 0);
    if (c->state == CHILD_STARTING)
        step(c, CHILD_EV_READY, now_ms + a.delay_ms + 1, 0);
    return a;
}

START_TEST(crash_loop_fails_after_burst)
{
    child_t c;
    fresh(&c, &policy);
    c.state = CHILD_RUNNING;
    for (uint32_t i = 0; i < BURST; i++) {
        child_action_t a = crash_at(&c, 1000 * i);
        ck_assert_int_ne(a.act, CHILD_ACT_FAIL);
        ck_assert_int_eq(c.state, CHILD_RUNNING);
    }
    ck_assert_uint_eq(c.restarts, BURST);
    child_action_t a = step(&c, CHILD_EV_EXITED, 1000 * BURST, KILLED(SIGKILL));
    ck_assert_int_eq(c.state, CHILD_FAILED);
    ck_assert_int_eq(a.act, CHILD_ACT_RETRY_LATER);
    ck_assert_int_eq(a.exit_code, ADNET_EXIT_WORKER_FAILED);
    ck_assert_uint_eq(a.deaths, BURST + 1);
    ck_assert_uint_eq(a.delay_ms, 300000);
    ck_assert_uint_eq(c.restarts, BURST);
    /* Nothing but its retry, the operator or a stop moves it. */
    for (int ev = 0; ev < CHILD_NEVENTS; ev++) {
        if (ev == CHILD_EV_RETRY || ev == CHILD_EV_RESTART || ev == CHILD_EV_HOLD ||
            ev == CHILD_EV_STOP)
            continue;
        a = step(&c, (child_event_t)ev, 100000, KILLED(SIGKILL));
        ck_assert_int_eq(c.state, CHILD_FAILED);
        ck_assert_int_eq(a.act, NONE);
    }
    child_release(&c);
}
END_TEST

/* The retry after failed_retry_s: a fresh window (burst restarts again
 * before it fails anew), counted as a restart. */
START_TEST(failed_child_is_retried_with_a_fresh_window)
{
    child_t c;
    fresh(&c, &policy);
    c.state = CHILD_RUNNING;
    for (uint32_t i = 0; i < BURST; i++)
        crash_at(&c, 1000 * i);
    ck_assert_int_eq(step(&c, CHILD_EV_EXITED, 1000 * BURST, KILLED(SIGKILL)).act,
                     CHILD_ACT_RETRY_LATER);
    /* Retried well inside the old window: it must not fail at its first crash. */
    ck_assert_int_eq(step(&c, CHILD_EV_RETRY, 5000, 0).act, CHILD_ACT_SPAWN);
    ck_assert_int_eq(c.state, CHILD_STARTING);
    ck_assert_uint_eq(c.restarts, BURST + 1);
    step(&c, CHILD_EV_READY, 5001, 0);
    for (uint32_t i = 0; i < BURST; i++)
        ck_assert_int_ne(crash_at(&c, 6000 + i).act, CHILD_ACT_RETRY_LATER);
    ck_assert_int_eq(step(&c, CHILD_EV_EXITED, 6000 + BURST, KILLED(SIGKILL)).act,
                     CHILD_ACT_RETRY_LATER);
    /* The operator's restart of a failed child is not counted. */
    uint32_t restarts = c.restarts;
    ck_assert_int_eq(step(&c, CHILD_EV_RESTART, 7000, 0).act, CHILD_ACT_SPAWN);
    ck_assert_uint_eq(c.restarts, restarts);
    child_release(&c);
}
END_TEST

START_TEST(failed_retry_off_and_stopping)
{
    const child_policy_t never = { .restart_burst = 1, .restart_interval_s = 60,
                                   .backoff_initial_ms = 0, .backoff_max_ms = 0,
                                   .failed_retry_s = 0 };
    child_t c;
    fresh(&c, &never);
    c.state = CHILD_RUNNING;
    crash_at(&c, 0);
    child_action_t a = step(&c, CHILD_EV_EXITED, 1, KILLED(SIGKILL));
    ck_assert_int_eq(a.act, CHILD_ACT_RETRY_LATER);
    ck_assert_uint_eq(a.delay_ms, 0); /* no timer: only adnet restart */
    /* The node goes down: the timer is disarmed, a late retry changes nothing. */
    ck_assert_int_eq(step(&c, CHILD_EV_HOLD, 2, 0).act, CHILD_ACT_CANCEL);
    ck_assert_int_eq(step(&c, CHILD_EV_RETRY, 3, 0).act, NONE);
    ck_assert_int_eq(step(&c, CHILD_EV_RESTART, 4, 0).act, NONE);
    ck_assert_int_eq(c.state, CHILD_FAILED);
    child_release(&c);
    /* A retry delay that does not fit in 32-bit milliseconds is refused. */
    const child_policy_t huge = { .restart_burst = 1, .restart_interval_s = 60,
                                  .failed_retry_s = UINT32_MAX / 1000 + 1 };
    ck_assert_int_eq(child_init(&c, "toy", NULL, true, &huge), -EINVAL);
}
END_TEST

START_TEST(crashes_spread_out_never_fail)
{
    child_t c;
    fresh(&c, &policy);
    /* One crash a minute, many more than the burst: each is the first in its window. */
    for (uint64_t i = 0; i < 4 * BURST; i++) {
        child_action_t a = crash_at(&c, i * 60000);
        ck_assert_int_eq(a.act, CHILD_ACT_SPAWN);
    }
    /* Two inside the window: the older one still counts until it has aged out. */
    ck_assert_int_eq(crash_at(&c, (4 * BURST - 1) * 60000 + 59999).act, CHILD_ACT_BACKOFF);
    child_release(&c);
}
END_TEST

START_TEST(backoff_doubles_up_to_the_cap)
{
    const child_policy_t wide = { .restart_burst = 100, .restart_interval_s = 3600,
                                  .backoff_initial_ms = 100, .backoff_max_ms = 1000 };
    static const uint32_t delays[] = { 0, 100, 200, 400, 800, 1000, 1000, 1000 };
    child_t c;
    fresh(&c, &wide);
    uint64_t t = 0;
    for (size_t i = 0; i < sizeof(delays) / sizeof(delays[0]); i++, t += 5000) {
        child_action_t a = crash_at(&c, t);
        ck_assert_uint_eq(a.delay_ms, delays[i]);
        ck_assert_int_eq(a.act, delays[i] ? CHILD_ACT_BACKOFF : CHILD_ACT_SPAWN);
    }
    child_release(&c);

    /* No back-off at all: every restart is immediate, still under the burst limit. */
    const child_policy_t none = { .restart_burst = 2, .restart_interval_s = 60,
                                  .backoff_initial_ms = 0, .backoff_max_ms = 1000 };
    fresh(&c, &none);
    ck_assert_int_eq(crash_at(&c, 0).act, CHILD_ACT_SPAWN);
    ck_assert_int_eq(crash_at(&c, 1).act, CHILD_ACT_SPAWN);
    ck_assert_int_eq(crash_at(&c, 2).act, CHILD_ACT_RETRY_LATER);
    child_release(&c);
}
END_TEST

START_TEST(fatal_codes_are_not_restarted)
{
    static const int codes[] = { ADNET_EXIT_CONFIG, ADNET_EXIT_LEDGER, ADNET_EXIT_UPGRADE };
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        child_t c;
        fresh_running(&c);
        child_action_t a = step(&c, CHILD_EV_EXITED, 10, EXITED(codes[i]));
        ck_assert_int_eq(c.state, CHILD_FAILED);
        ck_assert_int_eq(a.act, CHILD_ACT_FAIL);
        ck_assert_int_eq(a.exit_code, codes[i]);
        ck_assert_uint_eq(a.deaths, 0);
        ck_assert_uint_eq(c.restarts, 0);
        child_release(&c);
    }
}
END_TEST

START_TEST(clean_exit_on_stop)
{
    child_t c;
    fresh_running(&c);
    ck_assert_int_eq(step(&c, CHILD_EV_HOLD, 10, 0).act, NONE);
    ck_assert_int_eq(c.state, CHILD_RUNNING);
    ck_assert_int_eq(step(&c, CHILD_EV_STOP, 11, 0).act, CHILD_ACT_TERM);
    ck_assert_int_eq(c.state, CHILD_STOPPING);
    ck_assert_int_eq(step(&c, CHILD_EV_EXITED, 20, EXITED(ADNET_EXIT_OK)).act, NONE);
    ck_assert_int_eq(c.state, CHILD_STOPPED);
    ck_assert_uint_eq(c.restarts, 0);
    /* Held: nothing brings it back while the node goes down. */
    ck_assert_int_eq(step(&c, CHILD_EV_START, 30, 0).act, NONE);
    ck_assert_int_eq(step(&c, CHILD_EV_RESTART, 31, 0).act, NONE);
    ck_assert_int_eq(c.state, CHILD_STOPPED);
    child_release(&c);
}
END_TEST

START_TEST(stop_timeout_kills)
{
    child_t c;
    fresh_running(&c);
    ck_assert_int_eq(step(&c, CHILD_EV_STOP, 2, 0).act, CHILD_ACT_TERM);
    ck_assert_int_eq(step(&c, CHILD_EV_STOP_TIMEOUT, 10002, 0).act, CHILD_ACT_KILL);
    ck_assert_int_eq(c.state, CHILD_STOPPING);
    ck_assert_int_eq(step(&c, CHILD_EV_EXITED, 10003, KILLED(SIGKILL)).act, NONE);
    ck_assert_int_eq(c.state, CHILD_STOPPED);
    ck_assert_uint_eq(c.restarts, 0);
    child_release(&c);
}
END_TEST

START_TEST(requested_restarts_are_not_counted)
{
    child_t c;
    fresh_started(&c);
    for (uint64_t i = 0; i < 3 * BURST; i++) {
        step(&c, CHILD_EV_READY, i * 10 + 1, 0);
        ck_assert_int_eq(step(&c, CHILD_EV_RESTART, i * 10 + 2, 0).act, CHILD_ACT_TERM);
        /* A RESTART while it is stopping changes nothing more. */
        ck_assert_int_eq(step(&c, CHILD_EV_RESTART, i * 10 + 3, 0).act, NONE);
        ck_assert_int_eq(step(&c, CHILD_EV_EXITED, i * 10 + 4, EXITED(0)).act, CHILD_ACT_SPAWN);
        ck_assert_int_eq(c.state, CHILD_STARTING);
    }
    ck_assert_uint_eq(c.restarts, 0);
    /* ... and they leave the window empty: the next crash restarts at once. */
    step(&c, CHILD_EV_READY, 1000, 0);
    ck_assert_int_eq(step(&c, CHILD_EV_EXITED, 1001, KILLED(SIGKILL)).act, CHILD_ACT_SPAWN);
    child_release(&c);
}
END_TEST

START_TEST(spawn_failure_retries_uncounted)
{
    child_t c;
    fresh_started(&c);
    child_action_t a = step(&c, CHILD_EV_SPAWN_FAILED, 0, 0);
    ck_assert_int_eq(c.state, CHILD_BACKOFF);
    ck_assert_int_eq(a.act, CHILD_ACT_BACKOFF);
    ck_assert_uint_eq(a.delay_ms, 1000);
    ck_assert_int_eq(step(&c, CHILD_EV_BACKOFF_ELAPSED, 1000, 0).act, CHILD_ACT_SPAWN);
    ck_assert_uint_eq(c.restarts, 0);
    child_release(&c);
}
END_TEST

START_TEST(start_waits_for_after)
{
    child_t a, b, x;
    ck_assert_int_eq(child_init(&a, "first", NULL, true, &policy), 0);
    ck_assert_int_eq(child_init(&b, "second", "first", true, &policy), 0);
    ck_assert_int_eq(child_init(&x, "third", "second", true, &policy), 0);
    child_t *cs[] = { &a, &b, &x };
    ck_assert_int_eq(child_link(cs, 3, NULL), 0);
    ck_assert_ptr_eq(b.dep, &a);
    ck_assert_ptr_eq(x.dep, &b);

    ck_assert(!child_after_is_ready(&b));
    ck_assert_int_eq(step(&b, CHILD_EV_START, 0, 0).act, NONE);
    ck_assert_int_eq(b.state, CHILD_STOPPED);
    ck_assert_int_eq(step(&a, CHILD_EV_START, 0, 0).act, CHILD_ACT_SPAWN);
    /* Started is not ready. */
    ck_assert_int_eq(step(&b, CHILD_EV_START, 1, 0).act, NONE);
    step(&a, CHILD_EV_READY, 2, 0);
    ck_assert(child_after_is_ready(&b));
    ck_assert_int_eq(step(&x, CHILD_EV_START, 3, 0).act, NONE);
    ck_assert_int_eq(step(&b, CHILD_EV_START, 3, 0).act, CHILD_ACT_SPAWN);
    step(&b, CHILD_EV_READY, 4, 0);
    ck_assert_int_eq(step(&x, CHILD_EV_START, 5, 0).act, CHILD_ACT_SPAWN);
    child_release(&a);
    child_release(&b);
    child_release(&x);
}
END_TEST

/* "first" (enabled or not) and "second", which starts after it, linked. */
static void linked_pair(child_t *a, child_t *b, bool a_enabled)
{
    ck_assert_int_eq(child_init(a, "first", NULL, a_enabled, &policy), 0);
    ck_assert_int_eq(child_init(b, "second", "first", true, &policy), 0);
    child_t *cs[] = { a, b };
    ck_assert_int_eq(child_link(cs, 2, NULL), 0);
}

START_TEST(disabled_after_does_not_hold_back)
{
    child_t a, b;
    linked_pair(&a, &b, false);
    ck_assert_int_eq(step(&b, CHILD_EV_START, 0, 0).act, CHILD_ACT_SPAWN);
    child_release(&a);
    child_release(&b);
}
END_TEST

/* A chain that failed does not keep the one after it from starting. */
START_TEST(failed_after_does_not_hold_back)
{
    child_t a, b;
    linked_pair(&a, &b, true);
    ck_assert_int_eq(step(&a, CHILD_EV_START, 0, 0).act, CHILD_ACT_SPAWN);
    for (uint32_t i = 0; i < BURST; i++) { /* dies while starting, again and again */
        step(&a, CHILD_EV_EXITED, i, EXITED(111));
        ck_assert_int_eq(step(&b, CHILD_EV_START, i, 0).act, NONE);
        if (a.state == CHILD_BACKOFF)
            step(&a, CHILD_EV_BACKOFF_ELAPSED, i, 0);
    }
    ck_assert_int_eq(step(&a, CHILD_EV_EXITED, 11, EXITED(111)).act, CHILD_ACT_RETRY_LATER);
    ck_assert(child_after_is_ready(&b));
    ck_assert_int_eq(step(&b, CHILD_EV_START, 12, 0).act, CHILD_ACT_SPAWN);
    child_release(&a);
    child_release(&b);
}
END_TEST

START_TEST(link_refuses_bad_order)
{
    child_t a, b;
    size_t bad = 99;
    /* After a chain that comes later, itself, or none at all. */
    static const char *const afters[][2] = {
        { "second", NULL }, { "first", "second" }, { NULL, "nowhere" },
    };
    static const size_t culprit[] = { 0, 0, 1 };
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(child_init(&a, "first", afters[i][0], true, &policy), 0);
        ck_assert_int_eq(child_init(&b, "second", afters[i][1], true, &policy), 0);
        child_t *cs[] = { &a, &b };
        ck_assert_int_eq(child_link(cs, 2, &bad), -EINVAL);
        ck_assert_uint_eq(bad, culprit[i]);
        ck_assert_ptr_null(a.dep);
        ck_assert_ptr_null(b.dep);
        child_release(&a);
        child_release(&b);
    }
}
END_TEST

START_TEST(refuses_bad_input)
{
    child_t c;
    child_action_t a = { .act = CHILD_ACT_KILL };
    const child_policy_t zero = { .restart_burst = 0, .restart_interval_s = 60 };
    ck_assert_int_eq(child_init(&c, "toy", NULL, true, &zero), -EINVAL);
    fresh(&c, &policy);
    ck_assert_int_eq(child_step(&c, CHILD_NEVENTS, 0, 0, &a), -EINVAL);
    ck_assert_int_eq(child_step(&c, (child_event_t)-1, 0, 0, &a), -EINVAL);
    ck_assert_int_eq(a.act, CHILD_ACT_KILL);
    ck_assert_int_eq(c.state, CHILD_STOPPED);
    child_release(&c);
    child_release(&c);
    child_release(NULL);
}
END_TEST

START_TEST(state_names_are_the_documented_ones)
{
    static const char *const names[CHILD_NSTATES] = {
        [CHILD_STOPPED] = "stopped", [CHILD_STARTING] = "starting", [CHILD_RUNNING] = "running",
        [CHILD_BACKOFF] = "backoff", [CHILD_FAILED] = "failed",     [CHILD_STOPPING] = "stopping",
    };
    for (int st = 0; st < CHILD_NSTATES; st++)
        ck_assert_str_eq(child_state_name((child_state_t)st), names[st]);
    ck_assert_str_eq(child_state_name(CHILD_NSTATES), "?");
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("child");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, every_state_and_event);
    tcase_add_loop_test(tc, exit_meaning, 0, (int)(sizeof(exits) / sizeof(exits[0])));
    tcase_add_test(tc, state_names_are_the_documented_ones);
    tcase_add_test(tc, refuses_bad_input);
    suite_add_tcase(s, tc);
    tc = tcase_create("policy");
    tcase_add_test(tc, crash_loop_fails_after_burst);
    tcase_add_test(tc, failed_child_is_retried_with_a_fresh_window);
    tcase_add_test(tc, failed_retry_off_and_stopping);
    tcase_add_test(tc, crashes_spread_out_never_fail);
    tcase_add_test(tc, backoff_doubles_up_to_the_cap);
    tcase_add_test(tc, fatal_codes_are_not_restarted);
    tcase_add_test(tc, clean_exit_on_stop);
    tcase_add_test(tc, stop_timeout_kills);
    tcase_add_test(tc, requested_restarts_are_not_counted);
    tcase_add_test(tc, spawn_failure_retries_uncounted);
    suite_add_tcase(s, tc);
    tc = tcase_create("order");
    tcase_add_test(tc, start_waits_for_after);
    tcase_add_test(tc, disabled_after_does_not_hold_back);
    tcase_add_test(tc, failed_after_does_not_hold_back);
    tcase_add_test(tc, link_refuses_bad_order);
    suite_add_tcase(s, tc);
    return s;
}
