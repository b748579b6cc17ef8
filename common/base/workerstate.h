/* The supervisor's view of its workers, shared with the workers for their
 * /metrics. The supervisor writes <home>/run/workers.json whenever a
 * worker changes state (atomically, mode 0600); a worker reads it each time
 * /metrics is rendered and exports, for every worker listed,
 *
 *   adnet_worker_up{worker="NAME"}                    1 running, 0 otherwise
 *   adnet_worker_state{worker="NAME",state="failed"}  1 for its state, 0 for
 *                                                     every other state listed
 *
 * so the worker that still runs reports the one that failed, and a state
 * series never keeps a stale 1. The file is JSON an operator can read:
 * {"states":["stopped","starting",...],
 *  "workers":[{"name":"NAME","state":"failed","up":false},...]}
 * Names and states are what `adnet status` shows; this module knows none
 * of them. */
#ifndef ADNET_WORKERSTATE_H
#define ADNET_WORKERSTATE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/base/metrics.h"

#define WORKERSTATE_FILE "workers.json"
#define WORKERSTATE_MAX 32     /* workers, and states, a file may list */
#define WORKERSTATE_NAME_MAX 31 /* longest worker or state name */

typedef struct {
    const char *name;  /* the worker (a chain's name) */
    const char *state; /* one of the states listed beside it */
    bool up;           /* running: it has said READY and is watched */
} workerstate_t;

/* Write "<home>/run/workers.json" into out[cap]. Return 0 or -ENAMETOOLONG. */
int workerstate_path(char *out, size_t cap, const char *home);

/* Write the n workers of w, and the nstates state names every worker may
 * be in, to path (atomically, mode 0600, replacing the old file). Return
 * 0, -EINVAL (n or nstates above WORKERSTATE_MAX, a name too long or a
 * worker's state not among states), -ENOMEM or -errno. */
int workerstate_write(const char *path, const char *const *states, size_t nstates,
                      const workerstate_t *w, size_t n);

/* Read path and set the gauges above in m. Return 0, -ENOENT (no file: no
 * supervisor has written one), -EINVAL (not such a file: nothing is set),
 * or -errno. */
int workerstate_export(metrics_t *m, const char *path);

#endif
