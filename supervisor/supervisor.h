/* The supervisor (`adnet run`): forks and execs one worker per enabled
 * chain of the build (adnet_chains.h), in start order, each once the chain
 * it names as `after` is ready; watches them (child exits, readiness,
 * heartbeats); restarts a dead worker with exponential back-off under a
 * crash-loop limit without touching the others; serves the control
 * socket; speaks sd_notify; and on SIGTERM/SIGINT stops the workers one at
 * a time in reverse start order. What happens to a worker on each event
 * is decided by its lifecycle table (supervisor/child.h):
 *
 *   stopped -> starting -> running -> (exit) -> backoff -> starting ...
 *                                   -> (exit, limit or fatal code) -> failed
 *   any live state -> stopping -> stopped
 */
#ifndef ADNET_SUPERVISOR_H
#define ADNET_SUPERVISOR_H

#include <stddef.h>

#include "common/base/config.h"

typedef struct {
    const char *home;           /* absolute path of the node home */
    const char *only;           /* NULL, or the one chain to run */
    const config_t *cfg;        /* effective configuration */
    char *const *worker_args;   /* extra arguments for workers (--set k=v ...), NULL-terminated */
} sup_options_t;

/* Run until stopped. Return the process exit code (common/exitcode.h). */
int sup_run(const sup_options_t *opt);

#endif
