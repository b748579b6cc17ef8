/* systemd notification (sd_notify): READY=1, STATUS=, WATCHDOG=1,
 * STOPPING=1. Through libsystemd when the build has it, otherwise by the
 * same datagram protocol on $NOTIFY_SOCKET. Without NOTIFY_SOCKET (not
 * under systemd) every call is a no-op that returns 0. */
#ifndef ADNET_SDNOTIFY_H
#define ADNET_SDNOTIFY_H

#include <stdint.h>

/* Send state (e.g. "READY=1\nSTATUS=..."). Return >= 0 or -errno. */
int sdn_notify(const char *state);
/* Watchdog interval in microseconds from WATCHDOG_USEC (for this pid), or 0. */
uint64_t sdn_watchdog_usec(void);

#endif
