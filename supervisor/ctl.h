/* The supervisor's control socket: ZeroMQ over ipc:// in the run directory
 * (<home>/run/control.sock), one JSON object per message. The CLI is a REQ
 * socket; the supervisor a ROUTER, which answers each request envelope on
 * its own, so a peer that sends garbage or never reads its answer cannot
 * leave the socket waiting (a REP socket can be wedged that way).
 * Requests: {"cmd":"status"}, {"cmd":"restart","worker":"alpha"},
 * {"cmd":"stop"}, at most CTL_MSG_MAX bytes. Replies: {"ok":true,...} or
 * {"ok":false,"error":".."}. */
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

/* The supervisor's end of the control socket. */
typedef struct ctl_server ctl_server_t;

/* Bind the control socket of home. <home>/run must be a directory of this
 * user; it is made 0700 if it is wider. A socket file left by a killed
 * supervisor is replaced (the caller holds the home's lock). Inbound frames
 * are limited to CTL_MSG_MAX bytes (ZMQ_MAXMSGSIZE: a peer that announces a
 * larger one is disconnected before it is read), and the socket file is
 * made 0600. Return 0 and *out (free with ctl_server_close), or -errno with
 * the reason in err: -ENAMETOOLONG, -ENOTDIR, -EPERM (run directory of
 * another user), or ZeroMQ's error. */
int ctl_server_open(ctl_server_t **out, const char *home, char err[CTL_ERR_MAX]);
/* The descriptor to watch for reading: ZeroMQ's ZMQ_FD, edge-triggered, so
 * each time it fires call ctl_server_next until it returns 0. */
int ctl_server_fd(const ctl_server_t *s);
/* The endpoint bound, "ipc://...". */
const char *ctl_server_endpoint(const ctl_server_t *s);
/* Take the next request without blocking. Return 1 with its text in
 * *req[*len] (not NUL-terminated; owned by s and valid until the next call),
 * 0 if none is waiting, or -errno. A message that is not a REQ envelope
 * (routing id, empty delimiter) with exactly one request frame is never
 * returned: it is answered with an error when it has the delimiter (its
 * sender waits for an answer) and dropped otherwise. */
int ctl_server_next(ctl_server_t *s, const char **req, size_t *len);
/* Answer the request last returned by ctl_server_next with reply (JSON
 * text). Never blocks: a peer that has gone, or does not read its answers,
 * loses them. Return 0 or -errno. */
int ctl_server_reply(ctl_server_t *s, const char *reply);
/* Close the socket and remove its file. NULL-safe. */
void ctl_server_close(ctl_server_t *s);

#endif
