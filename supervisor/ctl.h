/* The supervisor's control socket: ZeroMQ REQ/REP over ipc:// in the run
 * directory (<home>/run/control.sock), one JSON object per message.
 * Requests: {"cmd":"status"}, {"cmd":"restart","worker":"alpha"},
 * {"cmd":"stop"}. Replies: {"ok":true,...} or {"ok":false,"error":".."}. */
#ifndef ADNET_CTL_H
#define ADNET_CTL_H

#include <stddef.h>

#define CTL_ENDPOINT_MAX 160
#define CTL_ERR_MAX 256
#define CTL_MSG_MAX (64 * 1024)

/* Write "ipc://<home>/run/control.sock" (home should be absolute).
 * Return 0, or -ENAMETOOLONG if the socket path passes the 107 bytes a
 * unix socket allows. */
int ctl_endpoint(const char *home, char out[CTL_ENDPOINT_MAX]);

/* Send request (JSON text) to the supervisor of home and wait up to
 * timeout_ms for the reply. On success return 0 and set *reply to a
 * malloc'd NUL-terminated string owned by the caller. Return -ECONNREFUSED
 * if no supervisor listens, -ETIMEDOUT, or -errno, with a message in err. */
int ctl_call(const char *home, const char *request, char **reply, int timeout_ms,
             char err[CTL_ERR_MAX]);

#endif
