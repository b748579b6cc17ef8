#include "supervisor/ctl.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
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
    int64_t max = CTL_MSG_MAX;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof(max));
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

/* ---- the supervisor's end ---- */

struct ctl_server {
    void *ctx, *sock;
    int fd;                   /* ZMQ_FD of sock */
    char endpoint[CTL_ENDPOINT_MAX];
    zmq_msg_t id;             /* routing id of the request last taken */
    size_t len;               /* bytes in req */
    char req[CTL_MSG_MAX];    /* the request last taken */
};

/* Make <home>/run a private directory of this user (0700), creating it if
 * needed. Return 0 or -errno with the reason in err. */
static int run_dir_private(const char *home, char err[CTL_ERR_MAX])
{
    char dir[CTL_ENDPOINT_MAX];
    struct stat st;
    if (fs_path(dir, sizeof(dir), "%s/run", home) < 0) {
        snprintf(err, CTL_ERR_MAX, "%s: path too long for a control socket", home);
        return -ENAMETOOLONG;
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        int e = errno;
        snprintf(err, CTL_ERR_MAX, "%s: %s", dir, strerror(e));
        return -e;
    }
    if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, CTL_ERR_MAX, "%s: not a directory", dir);
        return -ENOTDIR;
    }
    if (st.st_uid != geteuid()) {
        snprintf(err, CTL_ERR_MAX, "%s belongs to uid %ld, not to this user (%ld)", dir,
                 (long)st.st_uid, (long)geteuid());
        return -EPERM;
    }
    if ((st.st_mode & 077) != 0 && chmod(dir, 0700) < 0) {
        int e = errno;
        snprintf(err, CTL_ERR_MAX, "chmod 0700 %s: %s", dir, strerror(e));
        return -e;
    }
    return 0;
}

/* Bind s->sock on s->endpoint, frames bounded, the file 0600. The run
 * directory is 0700, so no one else reaches the file before the chmod. */
static int server_bind(ctl_server_t *s, char err[CTL_ERR_MAX])
{
    const char *path = s->endpoint + strlen("ipc://");
    int64_t max = CTL_MSG_MAX;
    int zero = 0;
    size_t sz = sizeof(s->fd);
    unlink(path); /* left by a killed supervisor */
    if (!(s->ctx = zmq_ctx_new()) || !(s->sock = zmq_socket(s->ctx, ZMQ_ROUTER)) ||
        zmq_setsockopt(s->sock, ZMQ_LINGER, &zero, sizeof(zero)) < 0 ||
        zmq_setsockopt(s->sock, ZMQ_MAXMSGSIZE, &max, sizeof(max)) < 0 ||
        zmq_bind(s->sock, s->endpoint) < 0 || zmq_getsockopt(s->sock, ZMQ_FD, &s->fd, &sz) < 0) {
        int e = errno;
        snprintf(err, CTL_ERR_MAX, "%s: %s", s->endpoint, zmq_strerror(e));
        return -e;
    }
    if (chmod(path, 0600) < 0) {
        int e = errno;
        snprintf(err, CTL_ERR_MAX, "chmod 0600 %s: %s", path, strerror(e));
        return -e;
    }
    return 0;
}

int ctl_server_open(ctl_server_t **out, const char *home, char err[CTL_ERR_MAX])
{
    ctl_server_t *s = calloc(1, sizeof(*s));
    int r = -ENOMEM;
    if (!s) {
        snprintf(err, CTL_ERR_MAX, "out of memory");
        goto out;
    }
    zmq_msg_init(&s->id);
    if ((r = ctl_endpoint(home, s->endpoint)) < 0) {
        snprintf(err, CTL_ERR_MAX, "%s: path too long for a control socket", home);
        goto out;
    }
    if ((r = run_dir_private(home, err)) < 0 || (r = server_bind(s, err)) < 0)
        goto out;
    *out = s;
    s = NULL;
out:
    ctl_server_close(s);
    return r;
}

int ctl_server_fd(const ctl_server_t *s)
{
    return s->fd;
}

const char *ctl_server_endpoint(const ctl_server_t *s)
{
    return s->endpoint;
}

/* Read one whole message (ZeroMQ delivers all its frames or none): frame 0
 * is the peer's routing id, which ROUTER puts first, frame 1 the empty
 * delimiter of a REQ peer, frame 2 the request. Keep the id and the
 * request, read and drop any further frames. Return the number of frames
 * and in *delimited whether frame 1 was empty, or -errno (-EAGAIN: none). */
static int recv_envelope(ctl_server_t *s, bool *delimited)
{
    int frames = 0, more = 1;
    *delimited = false;
    s->len = 0;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, s->sock, ZMQ_DONTWAIT) < 0) {
            int e = errno;
            zmq_msg_close(&part);
            return frames > 0 ? frames : -e;
        }
        more = zmq_msg_more(&part);
        size_t n = zmq_msg_size(&part);
        if (frames == 0)
            zmq_msg_copy(&s->id, &part);
        else if (frames == 1)
            *delimited = n == 0;
        else if (frames == 2 && n <= sizeof(s->req)) { /* ZMQ_MAXMSGSIZE bounds it */
            memcpy(s->req, zmq_msg_data(&part), n);
            s->len = n;
        }
        zmq_msg_close(&part);
        frames++;
    }
    return frames;
}

int ctl_server_next(ctl_server_t *s, const char **req, size_t *len)
{
    for (;;) {
        int events = 0;
        size_t sz = sizeof(events);
        bool delimited;
        if (zmq_getsockopt(s->sock, ZMQ_EVENTS, &events, &sz) < 0)
            return -errno;
        if (!(events & ZMQ_POLLIN))
            return 0;
        int frames = recv_envelope(s, &delimited);
        if (frames == -EAGAIN)
            return 0;
        if (frames < 0)
            return frames;
        if (delimited && frames == 3) {
            *req = s->req;
            *len = s->len;
            return 1;
        }
        if (delimited)
            ctl_server_reply(s, "{\"ok\":false,\"error\":\"expected one JSON request frame\"}");
    }
}

int ctl_server_reply(ctl_server_t *s, const char *reply)
{
    zmq_msg_t id;
    int r = 0;
    zmq_msg_init(&id);
    if (zmq_msg_copy(&id, &s->id) < 0 ||
        zmq_msg_send(&id, s->sock, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(s->sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(s->sock, reply, strlen(reply), ZMQ_DONTWAIT) < 0)
        r = -errno;
    zmq_msg_close(&id);
    return r;
}

void ctl_server_close(ctl_server_t *s)
{
    if (!s)
        return;
    zmq_msg_close(&s->id);
    if (s->sock) {
        zmq_close(s->sock);
        unlink(s->endpoint + strlen("ipc://"));
    }
    if (s->ctx)
        zmq_ctx_term(s->ctx);
    free(s);
}
