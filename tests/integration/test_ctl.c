/* Process-level tests of the control socket (supervisor/ctl.c): a real
 * supervisor on a temporary home, hostile peers on its socket (raw bytes,
 * ZeroMQ envelopes of every wrong shape, frames above ZMQ_MAXMSGSIZE, a
 * frame that declares 1 GiB), and after each the real `adnet status`. */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.h>

#include "supervisor/ctl.h"
#include "tests/integration/harness.h"
#include "tests/lib/suite.h"

Suite *test_suite(void);

#define ROUNDS 50

static node_t node;
static void *zctx;

static void setup(void)
{
    ck_assert_msg(node_init(&node) == 0, "adnet init failed (ADNET_BIN=%s)", getenv("ADNET_BIN"));
    ck_assert_ptr_nonnull(zctx = zmq_ctx_new());
}

static void teardown(void)
{
    zmq_ctx_term(zctx);
    node_cleanup(&node);
}

/* Start a node with only alpha (the control socket is the supervisor's). */
static void start_node(void)
{
    const char *args[] = { "--only", "alpha", NULL };
    ck_assert_int_eq(node_start(&node, args, NULL), 0);
    ck_assert_msg(node_wait_running(&node, "alpha", 15000), "alpha never ran; see %s", node.log);
}

static void sock_path(char out[PATH_MAX + 32])
{
    snprintf(out, PATH_MAX + 32, "%s/run/control.sock", node.home);
}

/* A raw unix stream connected to the socket file, sends bounded by 2 s. */
static int connect_unix(void)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    struct timeval tv = { 2, 0 };
    char path[PATH_MAX + 32];
    sock_path(path);
    ck_assert_uint_lt(strlen(path), sizeof(a.sun_path));
    memcpy(a.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static void endpoint(char out[CTL_ENDPOINT_MAX])
{
    ck_assert_int_eq(ctl_endpoint(node.home, out), 0);
}

/* The real CLI: `adnet status --home` must exit 0. */
static void assert_cli_status(int round)
{
    char out[8192];
    const char *args[] = { "status", "--home", node.home, NULL };
    int rc = node_cli(&node, out, sizeof(out), args);
    ck_assert_msg(rc == 0, "round %d: adnet status exited %d (%s); see %s", round, rc, out,
                  node.log);
    ck_assert_msg(strstr(out, "alpha") != NULL, "round %d: %s", round, out);
}

/* The supervisor's resident memory in KiB (VmRSS). */
static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    ck_assert_int_gt(kib, 0);
    return kib;
}

/* ---- hostile peers ---- */

/* A ZeroMQ socket of type on the control socket; send frames[n] (sizes in
 * lens), then close at once. */
static void zmq_peer(int type, const void *const *frames, const size_t *lens, size_t n)
{
    char ep[CTL_ENDPOINT_MAX];
    int ms = 1000;
    void *s = zmq_socket(zctx, type);
    ck_assert_ptr_nonnull(s);
    zmq_setsockopt(s, ZMQ_LINGER, &ms, sizeof(ms)); /* let the frames leave */
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &ms, sizeof(ms));
    endpoint(ep);
    ck_assert_int_eq(zmq_connect(s, ep), 0);
    for (size_t i = 0; i < n; i++)
        zmq_send(s, frames[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0);
    zmq_close(s);
}

/* A raw unix stream on the socket file: write len bytes of buf, close.
 * Return how many bytes went out before the supervisor hung up. */
static size_t raw_peer(const void *buf, size_t len, size_t repeat)
{
    size_t sent = 0;
    int fd = connect_unix();
    for (size_t r = 0; r < repeat; r++) {
        ssize_t k = send(fd, buf, len, MSG_NOSIGNAL);
        if (k <= 0)
            break;
        sent += (size_t)k;
    }
    close(fd);
    return sent;
}

/* A ZMTP 3.0 peer (NULL mechanism, socket type DEALER) whose first message
 * frame declares 1 GiB, followed by up to max bytes of it. Return the bytes
 * sent before the supervisor hung up. */
static size_t huge_frame_peer(size_t max)
{
    static uint8_t chunk[1 << 16];
    /* Greeting: signature, version 3.0, mechanism NULL, as-server 0, filler. */
    uint8_t hello[64 + 2 + 28 + 9] = { 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f,
                                       3,    0, 'N', 'U', 'L', 'L' };
    uint8_t *p = hello + 64;
    static const char ready[] = "\x05READY\x0bSocket-Type\x00\x00\x00\x06" "DEALER";
    *p++ = 0x04; /* command, short */
    *p++ = 28;
    memcpy(p, ready, 28);
    p += 28;
    *p++ = 0x02; /* message, long size */
    uint64_t size = (uint64_t)1 << 30;
    for (int i = 7; i >= 0; i--)
        *p++ = (uint8_t)(size >> (8 * i));
    size_t sent = 0;
    int fd = connect_unix();
    ck_assert_int_eq(send(fd, hello, sizeof(hello), MSG_NOSIGNAL), (ssize_t)sizeof(hello));
    memset(chunk, 'g', sizeof(chunk));
    while (sent < max) {
        ssize_t k = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL);
        if (k <= 0)
            break;
        sent += (size_t)k;
    }
    close(fd);
    return sent;
}

/* A REQ peer that sends text and returns the reply (malloc'd), or NULL if
 * none came within 3 s. */
static char *req_peer(const char *text)
{
    char ep[CTL_ENDPOINT_MAX];
    int zero = 0, ms = 3000;
    void *s = zmq_socket(zctx, ZMQ_REQ);
    ck_assert_ptr_nonnull(s);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &ms, sizeof(ms));
    endpoint(ep);
    ck_assert_int_eq(zmq_connect(s, ep), 0);
    ck_assert_int_ge(zmq_send(s, text, strlen(text), 0), 0);
    char buf[CTL_MSG_MAX + 1];
    int n = zmq_recv(s, buf, CTL_MSG_MAX, 0);
    zmq_close(s);
    if (n < 0)
        return NULL;
    buf[n < CTL_MSG_MAX ? n : CTL_MSG_MAX] = '\0';
    return strdup(buf);
}

/* One garbage peer of kind k (0..9). */
static void garbage(int k)
{
    static uint8_t bin[4096], big[1 << 20];
    for (size_t i = 0; i < sizeof(bin); i++)
        bin[i] = (uint8_t)(i * 131 + 7);
    const void *f[6];
    size_t l[6];
    switch (k) {
    case 0: /* one frame, no delimiter */
        f[0] = "{\"cmd\":\"status\"}", l[0] = 16;
        zmq_peer(ZMQ_DEALER, f, l, 1);
        break;
    case 1: /* delimiter and two request frames */
        f[0] = "", l[0] = 0, f[1] = "{\"cmd\":", l[1] = 7, f[2] = "\"status\"}", l[2] = 9;
        zmq_peer(ZMQ_DEALER, f, l, 3);
        break;
    case 2: /* five empty frames */
        for (int i = 0; i < 5; i++)
            f[i] = "", l[i] = 0;
        zmq_peer(ZMQ_DEALER, f, l, 5);
        break;
    case 3: /* binary behind a delimiter */
        f[0] = "", l[0] = 0, f[1] = bin, l[1] = sizeof(bin);
        zmq_peer(ZMQ_DEALER, f, l, 2);
        break;
    case 4: /* a frame above ZMQ_MAXMSGSIZE */
        memset(big, '{', sizeof(big));
        f[0] = "", l[0] = 0, f[1] = big, l[1] = sizeof(big);
        zmq_peer(ZMQ_DEALER, f, l, 2);
        break;
    case 5: /* raw bytes, no ZMTP at all */
        raw_peer(bin, sizeof(bin), 4);
        break;
    case 6: /* a REQ that never waits for its answer */
        f[0] = "{\"cmd\":\"status\"}", l[0] = 16;
        zmq_peer(ZMQ_REQ, f, l, 1);
        break;
    case 7: /* a socket type ROUTER does not talk to */
        f[0] = "hello", l[0] = 5;
        zmq_peer(ZMQ_PUB, f, l, 1);
        break;
    case 8: { /* not JSON, from a well-formed REQ: answered with an error */
        char *reply = req_peer("\x01\x02 not json");
        ck_assert_ptr_nonnull(reply);
        ck_assert_ptr_nonnull(strstr(reply, "\"ok\":false"));
        free(reply);
        break;
    }
    default: /* a frame that declares 1 GiB */
        ck_assert_uint_lt(huge_frame_peer(64u << 20), 64u << 20);
        break;
    }
}

START_TEST(garbage_never_wedges_the_socket)
{
    start_node();
    for (int round = 0; round < ROUNDS; round++) {
        garbage(round % 10);
        garbage((round * 7 + 3) % 10);
        assert_cli_status(round);
    }
    ck_assert(pid_alive(node.pid));
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
}
END_TEST

START_TEST(huge_frames_keep_memory_flat)
{
    start_node();
    long before = rss_kib(node.pid);
    for (int i = 0; i < 8; i++) {
        size_t sent = huge_frame_peer(256u << 20);
        ck_assert_msg(sent < (256u << 20), "the supervisor read %zu bytes of a 1 GiB frame", sent);
    }
    long after = rss_kib(node.pid);
    ck_assert_msg(after < before + 16 * 1024, "VmRSS %ld kB -> %ld kB", before, after);
    assert_cli_status(0);
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
}
END_TEST

START_TEST(duplicate_keys_refused)
{
    start_node();
    char *reply = req_peer("{\"cmd\":\"status\",\"cmd\":\"stop\"}");
    ck_assert_ptr_nonnull(reply);
    json_t *j = json_loads(reply, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert(json_is_false(json_object_get(j, "ok")));
    const char *why = json_string_value(json_object_get(j, "error"));
    ck_assert_msg(why && strstr(why, "duplicate object key"), "%s", reply);
    json_decref(j);
    free(reply);
    reply = req_peer("{\"cmd\":\"stop\",\"cmd\":\"status\"}");
    ck_assert_ptr_nonnull(reply);
    ck_assert_ptr_nonnull(strstr(reply, "duplicate"));
    free(reply);
    /* Nothing was stopped: the node still runs and answers. */
    ck_assert(pid_alive(node.pid));
    assert_cli_status(0);
    ck_assert(node_worker_state_is(&node, "alpha", "running"));
    /* An envelope with two request frames is answered, not dropped. */
    char ep[CTL_ENDPOINT_MAX], buf[256];
    int ms = 3000, zero = 0;
    void *s = zmq_socket(zctx, ZMQ_REQ);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &ms, sizeof(ms));
    endpoint(ep);
    ck_assert_int_eq(zmq_connect(s, ep), 0);
    zmq_send(s, "{\"cmd\":", 7, ZMQ_SNDMORE);
    zmq_send(s, "\"stop\"}", 7, 0);
    int n = zmq_recv(s, buf, sizeof(buf) - 1, 0);
    zmq_close(s);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_ptr_nonnull(strstr(buf, "expected one JSON request frame"));
    ck_assert(pid_alive(node.pid));
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
}
END_TEST

START_TEST(socket_only_for_the_node_user)
{
    char run[PATH_MAX + 8], path[PATH_MAX + 32];
    struct stat st;
    /* A run directory left open to everyone, and a permissive umask. */
    snprintf(run, sizeof(run), "%s/run", node.home);
    mkdir(run, 0777);
    ck_assert_int_eq(chmod(run, 0777), 0);
    mode_t old = umask(0);
    start_node();
    umask(old);
    ck_assert_int_eq(stat(run, &st), 0);
    ck_assert_msg((st.st_mode & 0777) == 0700, "run dir mode %o", st.st_mode & 0777);
    sock_path(path);
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode));
    ck_assert_msg((st.st_mode & 0777) == 0600, "socket mode %o", st.st_mode & 0777);
    ck_assert_uint_eq(st.st_uid, geteuid());
    assert_cli_status(0);
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
    ck_assert_int_eq(lstat(path, &st), -1); /* removed at exit */
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = { .name = "ctl", .tcase = "process", .timeout_s = 120,
                                       .setup = setup, .teardown = teardown };
    return suite_build(&spec, SUITE_TESTS(garbage_never_wedges_the_socket,
                                          huge_frames_keep_memory_flat, duplicate_keys_refused,
                                          socket_only_for_the_node_user));
}
