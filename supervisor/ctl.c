#include "supervisor/ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "common/base/fsutil.h"

int ctl_endpoint(const char *home, char out[CTL_ENDPOINT_MAX])
{
    char path[CTL_ENDPOINT_MAX];
    if (fs_path(path, sizeof(path), "%s/run/control.sock", home) < 0 || strlen(path) > 107)
        return -ENAMETOOLONG;
    return fs_path(out, CTL_ENDPOINT_MAX, "ipc://%s", path);
}

int ctl_call(const char *home, const char *request, char **reply, int timeout_ms,
             char err[CTL_ERR_MAX])
{
    char ep[CTL_ENDPOINT_MAX], sock_path[CTL_ENDPOINT_MAX];
    void *ctx = NULL, *s = NULL;
    char *buf = NULL;
    int r = 0, zero = 0;
    struct stat st;

    if (ctl_endpoint(home, ep) < 0) {
        snprintf(err, CTL_ERR_MAX, "%s: path too long for a control socket", home);
        return -ENAMETOOLONG;
    }
    /* ZeroMQ connects lazily and would wait for a listener forever. */
    snprintf(sock_path, sizeof(sock_path), "%s", ep + strlen("ipc://"));
    if (stat(sock_path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
        snprintf(err, CTL_ERR_MAX, "no supervisor is running on %s (no %s)", home, sock_path);
        return -ECONNREFUSED;
    }
    if (!(ctx = zmq_ctx_new()) || !(s = zmq_socket(ctx, ZMQ_REQ))) {
        r = -errno;
        snprintf(err, CTL_ERR_MAX, "zmq: %s", zmq_strerror(errno));
        goto out;
    }
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout_ms, sizeof(timeout_ms));
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout_ms, sizeof(timeout_ms));
    if (zmq_connect(s, ep) < 0 || zmq_send(s, request, strlen(request), 0) < 0) {
        r = -errno;
        snprintf(err, CTL_ERR_MAX, "%s: %s", ep, zmq_strerror(errno));
        goto out;
    }
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, s, 0) < 0) {
        r = errno == EAGAIN ? -ETIMEDOUT : -errno;
        snprintf(err, CTL_ERR_MAX, "%s: %s", ep,
                 r == -ETIMEDOUT ? "no reply from the supervisor (is it running?)"
                                 : zmq_strerror(errno));
        zmq_msg_close(&msg);
        goto out;
    }
    size_t n = zmq_msg_size(&msg);
    if (n > CTL_MSG_MAX || !(buf = malloc(n + 1))) {
        r = -EMSGSIZE;
        snprintf(err, CTL_ERR_MAX, "reply too large (%zu bytes)", n);
        zmq_msg_close(&msg);
        goto out;
    }
    memcpy(buf, zmq_msg_data(&msg), n);
    buf[n] = '\0';
    zmq_msg_close(&msg);
    *reply = buf;
out:
    if (s)
        zmq_close(s);
    if (ctx)
        zmq_ctx_term(ctx);
    return r;
}
