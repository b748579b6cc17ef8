/* Process exit codes: a contract between the workers, the supervisor and
 * systemd. The supervisor's restart policy keys on them; docs/operations.md
 * lists them for operators. */
#ifndef ADNET_EXITCODE_H
#define ADNET_EXITCODE_H

enum {
    ADNET_EXIT_OK = 0,           /* clean stop on request */
    ADNET_EXIT_CONFIG = 100,     /* configuration or usage error: do not restart */
    ADNET_EXIT_LEDGER = 101,     /* ledger refused (newer schema, corrupt, wrong chain): do not restart */
    ADNET_EXIT_SYSTEM = 111,     /* system error (I/O, out of memory, lost parent): restart */
    ADNET_EXIT_UPGRADE = 112,    /* halted at an upgrade height this binary cannot follow: do not restart */
    ADNET_EXIT_WORKER_FAILED = 113, /* supervisor: every worker failed (crash loops) */
};

/* Return true if a worker that exited with code `code` may be restarted. */
static inline int adnet_exit_is_restartable(int code)
{
    return code != ADNET_EXIT_OK && code != ADNET_EXIT_CONFIG &&
           code != ADNET_EXIT_LEDGER && code != ADNET_EXIT_UPGRADE;
}

#endif
