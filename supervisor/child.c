#include "supervisor/child.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/base/exitcode.h"

/* A fork that failed says nothing about the worker: retry after this long,
 * outside the crash count. */
#define SPAWN_RETRY_MS 1000

/* The table's columns: the events, with START and EXITED split by what
 * they mean here so that every cell has one fixed outcome. The plain
 * CHILD_EV_EXITED column is an exit that leaves the child down: asked for
 * by a stop, or while the node is going down. */
enum {
    IN_IGNORED = CHILD_NEVENTS, /* a START before its after runs; a START or RESTART once held */
    IN_EXIT_FATAL,              /* unasked, with a code that restarting cannot fix */
    IN_EXIT_RESPAWN,            /* restart now: a requested restart, or a crash without delay */
    IN_EXIT_BACKOFF,            /* a later crash in the window: restart after a delay */
    IN_EXIT_CRASH_LOOP,         /* more than restart_burst crashes in the window */
    NINPUTS
};

typedef struct {
    bool moves;         /* false: the state stays as it is */
    child_state_t next; /* when it moves */
    child_act_t act;
} rule_t;

#define GO(st, a) { true, CHILD_##st, CHILD_ACT_##a }
#define DO(a) { false, CHILD_STOPPED, CHILD_ACT_##a }

/* A live process reacts to an exit, a restart or a stop the same way
 * whether or not it has said READY yet. */
#define LIVE_PROCESS_CELLS                        \
    [CHILD_EV_EXITED] = GO(STOPPED, NONE),        \
    [IN_EXIT_FATAL] = GO(FAILED, FAIL),           \
    [IN_EXIT_RESPAWN] = GO(STARTING, SPAWN),      \
    [IN_EXIT_BACKOFF] = GO(BACKOFF, BACKOFF),     \
    [IN_EXIT_CRASH_LOOP] = GO(FAILED, RETRY_LATER), \
    [CHILD_EV_RESTART] = GO(STOPPING, TERM),      \
    [CHILD_EV_STOP] = GO(STOPPING, TERM)

/* A cell not listed keeps the state and does nothing: an event that does
 * not apply (a late timer, a message from a process being killed). A
 * failed child has no process: its retry timer (a crash loop's) or the
 * operator's restart spawns it again; a stop only disarms the timer, so it
 * still shows as failed while the node goes down. */
static const rule_t rules[CHILD_NSTATES][NINPUTS] = {
    [CHILD_STOPPED] = {
        [CHILD_EV_START] = GO(STARTING, SPAWN),
        [CHILD_EV_RESTART] = GO(STARTING, SPAWN),
    },
    [CHILD_STARTING] = {
        [CHILD_EV_SPAWN_FAILED] = GO(BACKOFF, BACKOFF),
        [CHILD_EV_READY] = GO(RUNNING, UP),
        /* A first start that loads a large genesis or builds its trees
         * reports progress; only silence for ready_timeout_ms kills it. */
        [CHILD_EV_ALIVE] = DO(EXTEND),
        [CHILD_EV_READY_TIMEOUT] = DO(KILL),
        LIVE_PROCESS_CELLS,
    },
    [CHILD_RUNNING] = {
        [CHILD_EV_READY] = DO(WATCH),
        [CHILD_EV_ALIVE] = DO(WATCH),
        [CHILD_EV_HEARTBEAT_TIMEOUT] = DO(KILL),
        LIVE_PROCESS_CELLS,
    },
    [CHILD_BACKOFF] = {
        [CHILD_EV_BACKOFF_ELAPSED] = GO(STARTING, SPAWN),
        [CHILD_EV_RESTART] = GO(STARTING, SPAWN),
        [CHILD_EV_HOLD] = GO(STOPPED, CANCEL),
        [CHILD_EV_STOP] = GO(STOPPED, CANCEL),
    },
    [CHILD_FAILED] = {
        [CHILD_EV_RETRY] = GO(STARTING, SPAWN),
        [CHILD_EV_RESTART] = GO(STARTING, SPAWN),
        [CHILD_EV_HOLD] = DO(CANCEL),
        [CHILD_EV_STOP] = DO(CANCEL),
    },
    [CHILD_STOPPING] = {
        [CHILD_EV_STOP_TIMEOUT] = DO(KILL),
        [CHILD_EV_EXITED] = GO(STOPPED, NONE),
        [IN_EXIT_RESPAWN] = GO(STARTING, SPAWN),
    },
};

static const char *const state_names[CHILD_NSTATES] = {
    [CHILD_STOPPED] = "stopped",   [CHILD_STARTING] = "starting", [CHILD_RUNNING] = "running",
    [CHILD_BACKOFF] = "backoff",   [CHILD_FAILED] = "failed",     [CHILD_STOPPING] = "stopping",
};

int child_init(child_t *c, const char *name, const char *after, bool enabled,
               const child_policy_t *policy)
{
    child_t tmp = { .name = name, .after = after, .enabled = enabled, .state = CHILD_STOPPED,
                    .policy = *policy };
    int rc = -EINVAL;
    if (policy->restart_burst == 0 || policy->restart_burst == UINT32_MAX ||
        policy->failed_retry_s > UINT32_MAX / 1000)
        goto out;
    rc = -ENOMEM;
    /* Only the newest restart_burst + 1 exits can decide a crash loop. */
    if (!(tmp.deaths_ms = calloc((size_t)policy->restart_burst + 1, sizeof(*tmp.deaths_ms))))
        goto out;
    *c = tmp;
    rc = 0;
out:
    return rc;
}

void child_release(child_t *c)
{
    if (!c)
        return;
    free(c->deaths_ms);
    c->deaths_ms = NULL;
    c->ndeaths = 0;
}

/* The index of the child named name among *cs[0..before), or -1. */
static long find_before(child_t *const *cs, size_t before, const char *name)
{
    for (size_t j = 0; j < before; j++)
        if (strcmp(cs[j]->name, name) == 0)
            return (long)j;
    return -1;
}

int child_link(child_t *const *cs, size_t n, size_t *bad)
{
    int rc = -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (cs[i]->after && find_before(cs, i, cs[i]->after) < 0) {
            if (bad)
                *bad = i;
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++)
        cs[i]->dep = cs[i]->after ? cs[find_before(cs, i, cs[i]->after)] : NULL;
    rc = 0;
out:
    return rc;
}

bool child_after_is_ready(const child_t *c)
{
    return !c->dep || !c->dep->enabled || c->dep->state == CHILD_RUNNING ||
           c->dep->state == CHILD_FAILED;
}

const char *child_state_name(child_state_t st)
{
    return (unsigned)st < CHILD_NSTATES ? state_names[st] : "?";
}

/* Record a counted exit at now_ms; return how many fall inside the window,
 * this one included. The ring holds them oldest first. */
static uint32_t record_death(child_t *c, uint64_t now_ms)
{
    uint64_t window = (uint64_t)c->policy.restart_interval_s * 1000;
    uint32_t cap = c->policy.restart_burst + 1;
    while (c->ndeaths > 0) {
        uint64_t t = c->deaths_ms[c->deaths_head];
        if (now_ms < t || now_ms - t < window)
            break;
        c->deaths_head = (c->deaths_head + 1) % cap;
        c->ndeaths--;
    }
    if (c->ndeaths == cap) {
        c->deaths_head = (c->deaths_head + 1) % cap;
        c->ndeaths--;
    }
    c->deaths_ms[(c->deaths_head + c->ndeaths) % cap] = now_ms;
    return ++c->ndeaths;
}

/* The delay before restarting after the deaths-th counted exit in the
 * window: the first is immediate, then initial, 2x, 4x ... up to the cap. */
static uint32_t backoff_ms(const child_policy_t *p, uint32_t deaths)
{
    uint64_t ms = p->backoff_initial_ms;
    if (deaths <= 1)
        return 0;
    for (uint32_t i = 2; i < deaths && ms < p->backoff_max_ms; i++)
        ms *= 2;
    return ms > p->backoff_max_ms ? p->backoff_max_ms : (uint32_t)ms;
}

/* Which column an exit with wait status `status` falls in, counting it
 * (and writing the action's details to *a) if it is a crash to restart. */
static int classify_exit(child_t *c, int status, uint64_t now_ms, child_action_t *a)
{
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (c->state == CHILD_STOPPING) /* asked for: a stop, or a requested restart */
        return c->held ? CHILD_EV_EXITED : IN_EXIT_RESPAWN;
    if (c->state != CHILD_STARTING && c->state != CHILD_RUNNING)
        return CHILD_EV_EXITED; /* no process in this state: a stale report */
    if (code >= 0 && !adnet_exit_is_restartable(code)) {
        /* An unrequested clean exit is a bug in the worker, not a stop. */
        a->exit_code = code == ADNET_EXIT_OK ? ADNET_EXIT_WORKER_FAILED : code;
        return IN_EXIT_FATAL;
    }
    if (c->held)
        return CHILD_EV_EXITED;
    uint32_t deaths = record_death(c, now_ms);
    if (deaths > c->policy.restart_burst) {
        a->exit_code = ADNET_EXIT_WORKER_FAILED;
        a->deaths = deaths;
        a->delay_ms = c->policy.failed_retry_s * 1000u;
        return IN_EXIT_CRASH_LOOP;
    }
    c->restarts++;
    a->delay_ms = backoff_ms(&c->policy, deaths);
    return a->delay_ms > 0 ? IN_EXIT_BACKOFF : IN_EXIT_RESPAWN;
}

/* Which column ev falls in for c, with its details in *a. */
static int column_of(child_t *c, child_event_t ev, uint64_t now_ms, int status,
                     child_action_t *a)
{
    switch (ev) {
    case CHILD_EV_START:
        return c->held || !child_after_is_ready(c) ? IN_IGNORED : (int)ev;
    case CHILD_EV_RESTART:
    case CHILD_EV_RETRY:
        return c->held ? IN_IGNORED : (int)ev;
    case CHILD_EV_EXITED:
        return classify_exit(c, status, now_ms, a);
    case CHILD_EV_SPAWN_FAILED:
        a->delay_ms = SPAWN_RETRY_MS;
        return (int)ev;
    default:
        return (int)ev;
    }
}

int child_step(child_t *c, child_event_t ev, uint64_t now_ms, int status, child_action_t *out)
{
    child_action_t a = { .act = CHILD_ACT_NONE };
    int rc = -EINVAL;
    if ((unsigned)ev >= CHILD_NEVENTS || (unsigned)c->state >= CHILD_NSTATES)
        goto out;
    const rule_t *r = &rules[c->state][column_of(c, ev, now_ms, status, &a)];
    if (ev == CHILD_EV_HOLD || ev == CHILD_EV_STOP)
        c->held = true;
    if (c->state == CHILD_FAILED && r->moves && r->next == CHILD_STARTING) {
        /* Out of a crash loop: a fresh window; the automatic retry counts
         * as a restart, the operator's does not. */
        c->ndeaths = 0;
        c->restarts += ev == CHILD_EV_RETRY;
    }
    if (r->moves)
        c->state = r->next;
    a.act = r->act;
    *out = a;
    rc = 0;
out:
    return rc;
}
