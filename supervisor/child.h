/* The lifecycle of one supervised child (one chain's worker process), as
 * one [state][event] table (s6-supervise keeps its lifecycle the same way)
 * and one step function. It is pure logic: no processes, no timers, no
 * system calls. The supervisor translates what it saw into an event, calls
 * child_step with the time, and carries out the action it gets back; so
 * the restart policy below is unit-tested without forking.
 *
 * Policy: an exit that nobody asked for is restarted unless its code says
 * restarting cannot help (adnet_exit_is_restartable); the first restart in
 * a restart_interval window is immediate, later ones wait backoff_initial,
 * doubling up to backoff_max; more than restart_burst such exits in the
 * window fail the child in a crash loop. A child failed by a crash loop is
 * tried again after failed_retry_s, with a fresh window; the other children
 * are not touched (the supervisor stops the node only once every child has
 * failed). A child failed by a fatal exit code asks for the node to stop.
 * Exits that were asked for (stop, restart) are neither counted nor failed.
 *
 * State names are what operators read in `adnet status`, in STATUS= and in
 * the adnet_worker_state metric, and in the docs; a new state keeps the
 * existing names and adds its own. */
#ifndef ADNET_CHILD_H
#define ADNET_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    CHILD_STOPPED = 0, /* no process: not started yet, or stopped */
    CHILD_STARTING,    /* spawned; waiting for READY */
    CHILD_RUNNING,     /* READY received; its heartbeats are watched */
    CHILD_BACKOFF,     /* died; waiting out its back-off delay */
    CHILD_FAILED,      /* not restarted: a fatal exit (the node stops), or a crash
                        * loop (retried after failed_retry_s) */
    CHILD_STOPPING,    /* SIGTERM sent; waiting for the exit */
    CHILD_NSTATES
} child_state_t;

/* What happened, as the supervisor saw it. Events that do not apply in
 * the current state (a timer that fired late, a message after a kill)
 * change nothing. */
typedef enum {
    CHILD_EV_START = 0,         /* the node wants it up; waits for its after to run (or fail) */
    CHILD_EV_SPAWN_FAILED,      /* the spawn action failed before exec (not counted as a crash) */
    CHILD_EV_READY,             /* a READY notification */
    CHILD_EV_ALIVE,             /* any other notification (BLOCK, HEARTBEAT; while starting: progress) */
    CHILD_EV_READY_TIMEOUT,     /* no READY within ready_timeout_ms of the spawn */
    CHILD_EV_HEARTBEAT_TIMEOUT, /* silent for heartbeat_timeout_ms while running */
    CHILD_EV_EXITED,            /* the process is gone; pass its wait status */
    CHILD_EV_BACKOFF_ELAPSED,   /* the delay of a BACKOFF action is over */
    CHILD_EV_RESTART,           /* `adnet restart NAME`: on purpose, not counted */
    CHILD_EV_RETRY,             /* the delay of a RETRY_LATER action is over */
    CHILD_EV_HOLD,              /* the node is stopping: from now on nothing starts it again */
    CHILD_EV_STOP,              /* its turn in the stop order: stop it (and hold it) */
    CHILD_EV_STOP_TIMEOUT,      /* still alive stop_timeout_s after the SIGTERM */
    CHILD_NEVENTS
} child_event_t;

/* What the supervisor must do after a step. */
typedef enum {
    CHILD_ACT_NONE = 0,
    CHILD_ACT_SPAWN,   /* fork+exec it, arm the ready timeout; report SPAWN_FAILED if it fails */
    CHILD_ACT_UP,      /* it is ready: disarm the ready timeout, watch heartbeats */
    CHILD_ACT_WATCH,   /* it spoke: re-arm the heartbeat timeout */
    CHILD_ACT_EXTEND,  /* still starting, but it reported progress: re-arm the ready timeout */
    CHILD_ACT_TERM,    /* send SIGTERM, stop watching heartbeats, arm the stop timeout */
    CHILD_ACT_KILL,    /* send SIGKILL; its exit follows as CHILD_EV_EXITED */
    CHILD_ACT_BACKOFF, /* arm a timer for delay_ms, then report BACKOFF_ELAPSED */
    CHILD_ACT_CANCEL,  /* disarm the back-off timer */
    CHILD_ACT_FAIL,    /* report it failed for good; stop the node with exit_code */
    CHILD_ACT_RETRY_LATER, /* report it failed in a crash loop; unless delay_ms is 0
                            * (no automatic retry), arm a timer for delay_ms, then
                            * report RETRY; stop the node with exit_code only if
                            * every child has failed */
} child_act_t;

typedef struct {
    child_act_t act;
    uint32_t delay_ms; /* CHILD_ACT_BACKOFF, CHILD_ACT_RETRY_LATER: how long to wait */
    int exit_code;     /* CHILD_ACT_FAIL, _RETRY_LATER: what the node exits with
                        * (common/base/exitcode.h) */
    uint32_t deaths;   /* CHILD_ACT_FAIL, _RETRY_LATER: counted exits in the window; 0
                        * for a fatal code */
} child_action_t;

/* The restart policy, from the supervisor.* configuration. */
typedef struct {
    uint32_t restart_burst;      /* counted exits allowed in the window (>= 1) */
    uint32_t restart_interval_s; /* the window */
    uint32_t backoff_initial_ms; /* delay of the second restart in a window */
    uint32_t backoff_max_ms;     /* cap of the doubling delay */
    uint32_t failed_retry_s;     /* a crash-looped child is tried again after this; 0: never */
} child_policy_t;

typedef struct child child_t;

struct child {
    const char *name;     /* chain name, not owned (static, from adnet_chains.h) */
    const char *after;    /* the chain that must be running before this one starts, or NULL */
    const child_t *dep;   /* that chain's child, once child_link has run */
    bool enabled;         /* run in this node (configuration and --only) */
    child_state_t state;
    bool held;            /* HOLD or STOP seen: never started or restarted again (s6's
                           * "want down"); an exit while not held is restarted */
    uint32_t restarts;    /* restarts after unexpected exits since the node started
                           * (automatic retries of a failed child included) */
    child_policy_t policy;
    uint64_t *deaths_ms;  /* ring of the newest counted exits, restart_burst + 1 slots */
    uint32_t deaths_head; /* index of the oldest entry */
    uint32_t ndeaths;
};

/* Initialise *c as a stopped child named name (not copied; must outlive
 * c) that starts after the chain named after (NULL for none), under
 * policy. Return 0, -EINVAL if policy->restart_burst is 0 or UINT32_MAX or
 * policy->failed_retry_s does not fit in 32 bits as milliseconds, or
 * -ENOMEM. Release with child_release. */
int child_init(child_t *c, const char *name, const char *after, bool enabled,
               const child_policy_t *policy);

/* Free what child_init allocated. c may be NULL or zero-filled. */
void child_release(child_t *c);

/* Resolve each child's after to the child of that name among *cs[0..n),
 * which lists the children in start order. Return 0, or -EINVAL (and
 * write *bad, the offending child's index, if bad is non-NULL; no link is
 * changed then) if an after names no child, the child itself or one later
 * in the order: stop order is the reverse of start order, so a child must
 * come after what it needs. */
int child_link(child_t *const *cs, size_t n, size_t *bad);

/* Feed event ev, seen at now_ms (a monotonic clock), to c: move c to its
 * next state and write what the caller must do to *out. status is the
 * wait status for CHILD_EV_EXITED and ignored otherwise. Return 0, or
 * -EINVAL if ev or c's state is out of range (then c and *out are
 * untouched). */
int child_step(child_t *c, child_event_t ev, uint64_t now_ms, int status, child_action_t *out);

/* The operator-visible name of state st ("stopped", "starting", ...), or
 * "?" if st is out of range. */
const char *child_state_name(child_state_t st);

/* Return true if c's after, if any, is running, failed or not enabled in
 * this node, so that a START would spawn c: a chain that has failed does
 * not keep the ones after it from starting. */
bool child_after_is_ready(const child_t *c);

#endif
