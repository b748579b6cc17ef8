/* The node home's lock: <home>/run/adnet.lock, held with flock by the one
 * process that may change the home (the supervisor while it runs, `adnet
 * init` while it writes), with that process's pid inside for operators
 * and for the CLI's "is it running?". */
#ifndef ADNET_HOMELOCK_H
#define ADNET_HOMELOCK_H

#include <sys/types.h>

#define HOMELOCK_FILE "adnet.lock"

/* Create <home>/run (0700) if needed, take the lock without waiting and
 * write this process's pid into it. Return 0 and the descriptor in *fd
 * (O_CLOEXEC; the lock lasts until it is closed), -EBUSY if another
 * process holds it (its pid in *holder, or 0 if unreadable), or -errno. */
int homelock_take(const char *home, int *fd, pid_t *holder);

/* Read the pid last written to home's lock file. Return 1 and *pid if
 * that process is alive, 0 if there is no lock file, no pid in it, or the
 * process is gone (a supervisor that was killed), or -errno. It does not
 * touch the lock, so it never gets in the way of a supervisor starting. */
int homelock_holder(const char *home, pid_t *pid);

#endif
