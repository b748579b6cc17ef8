/* ./scripts/dev bench ipc [--json] [--runs N] [--iters N] [--warmup N]
 *                         [--pause-us N] [--stream N] [--e2e-iters N]
 *
 * What one message between the two workers of a node costs. Two
 * PROCESSES (this one and a forked echo child; when the machine has two
 * or more CPUs they are pinned to different ones with sched_setaffinity,
 * and the output says so), 128-byte messages:
 *   - round-trip latency p50/p99/p99.9 of
 *       ring busy-poll: the shared-memory ring (common/node/ipc/ring.h),
 *         one ring each way, both sides spinning;
 *       ring eventfd wake: the same rings, but each side parks on its
 *         eventfd with poll() before every message (ring_spin of 0), and
 *         the sender pauses --pause-us (default 50) between pings so the
 *         echo side is really asleep: every round trip pays two wakes;
 *     and, as baselines measured in the same run,
 *       zmq ipc: ZeroMQ REQ/REP over ipc:// in a temporary directory;
 *       unix seqpacket: a SOCK_SEQPACKET socketpair;
 *       eventfd: two eventfds, blocking reads, the same pause as the ring
 *         wake case: the floor the wake path can reach (its runs and the
 *         ring wake runs alternate, so that drift on a shared machine
 *         falls on both);
 *     each --runs (default 5) runs of --iters (default 20,000) round trips
 *     after --warmup (default 1,000); the run with the best p99 reported;
 *   - stream throughput of one ring: --stream (default 5,000,000)
 *     messages pushed as fast as the producer can (spinning on -ENOBUFS),
 *     timed until the consumer acknowledges the last one; best run;
 *   - finality_e2e p50/p99 (--e2e-iters, default 2,000, per run): sign a
 *     block header's commit (Ed25519 over commit_sign_bytes), encode a
 *     finality message (ipc_msg_encode), push it through the ring; the
 *     child pops, decodes, verifies it (peer_verify_finality), stores it
 *     (INSERT of height, hash and header bytes into a WAL SQLite table in
 *     a temporary file, synchronous=NORMAL, one transaction per proof) and
 *     acknowledges: sign -> ack.
 * Ratios against targets: zmq ipc p99 / ring busy p99 (>= 20x), ring busy
 * p99 (< 2 us), ring wake p99 / eventfd p99 (<= 1.2x), finality e2e p99
 * (< 200 us), each marked PASS or MISS. --json prints one JSON object.
 * Nothing here grows with state: the rings are fixed-size and every
 * figure is per message; only the e2e's SQLite table grows, by one row per
 * proof (runs x e2e-iters rows at most, a few MB). */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "common/node/ipc/peerview.h"
#include "common/node/ipc/ring.h"
#include "proto/block.h"
#include "proto/ipcmsg.h"
#include "tests/lib/baseline.h"
#include "tests/lib/tmp.h"

#define MSG_BYTES 128
#define STOP_BYTE 0xff   /* a 1-byte message with this byte ends an echo child */
#define E2E_SLOT 2048    /* a finality message with one signature is ~400 bytes */
#define SPIN_FOREVER (1000000000ULL)

typedef struct {
    bool json;
    int runs, iters, warmup, pause_us, e2e_iters;
    long stream;
} opts_t;

typedef struct {
    double p50, p99, p999; /* microseconds */
    bool ok;
} lat_t;

static int g_cpu_parent = -1, g_cpu_child = -1;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void pause_us(int us)
{
    uint64_t until = now_ns() + (uint64_t)us * 1000u;
    while (now_ns() < until)
        ;
}

static void pin_to(int cpu)
{
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

/* Pick two distinct CPUs from those we may run on; pin this process to the
 * first. With one CPU nothing is pinned (and the output says so). */
static void choose_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0 || CPU_COUNT(&set) < 2)
        return;
    for (int c = 0; c < CPU_SETSIZE && g_cpu_child < 0; c++) {
        if (!CPU_ISSET(c, &set))
            continue;
        if (g_cpu_parent < 0)
            g_cpu_parent = c;
        else
            g_cpu_child = c;
    }
    pin_to(g_cpu_parent);
}

/* Fork the echo side: pinned, killed with us, exit status its fn's. */
static pid_t spawn(int (*fn)(void *), void *ctx)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        _exit(111);
    pin_to(g_cpu_child);
    _exit(fn(ctx));
}

static int reap(pid_t pid, const char *what)
{
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench ipc: %s echo child failed (status %#x)\n", what, st);
        return -1;
    }
    return 0;
}

/* One round trip of a case: return its nanoseconds, or 0 on failure. */
typedef uint64_t (*ping_fn)(void *ctx, uint64_t i);

/* --runs runs of --warmup + n pings; *out gets the best run's percentiles. */
static int measure(const opts_t *o, int n, ping_fn ping, void *ctx, lat_t *out)
{
    double *v = malloc((size_t)n * sizeof *v);
    if (v == NULL)
        return -ENOMEM;
    lat_t best = {0};
    uint64_t k = 0;
    int rc = 0;
    for (int run = 0; run < o->runs && rc == 0; run++) {
        for (int i = 0; i < o->warmup + n && rc == 0; i++) {
            uint64_t ns = ping(ctx, k++);
            if (ns == 0)
                rc = -EIO;
            else if (i >= o->warmup)
                v[i - o->warmup] = (double)ns / 1000.0;
        }
        if (rc != 0)
            break;
        lat_t l = {baseline_percentile(v, (size_t)n, 50), baseline_percentile(v, (size_t)n, 99),
                   baseline_percentile(v, (size_t)n, 99.9), true};
        if (!best.ok || l.p99 < best.p99)
            best = l;
    }
    free(v);
    *out = best;
    return rc;
}

/* ---- rings: one each way ---- */

typedef struct {
    int ping_fd, pong_fd;      /* memfds: parent -> child, child -> parent */
    int ping_wake, pong_wake;  /* eventfds each consumer parks on (-1: busy-poll) */
    uint32_t slots, slot_bytes;
    ring_t *out, *in;          /* the parent's ends */
    int pause_us;
    uint8_t msg[E2E_SLOT];
} rings_t;

static int rings_open(rings_t *p, uint32_t slots, uint32_t slot_bytes, bool wake)
{
    memset(p, 0, sizeof *p);
    p->slots = slots;
    p->slot_bytes = slot_bytes;
    p->ping_fd = ring_create("bench-ping", slots, slot_bytes);
    p->pong_fd = ring_create("bench-pong", slots, slot_bytes);
    p->ping_wake = wake ? ring_wake_create() : -1;
    p->pong_wake = wake ? ring_wake_create() : -1;
    if (p->ping_fd < 0 || p->pong_fd < 0 || (wake && (p->ping_wake < 0 || p->pong_wake < 0)))
        return -EIO;
    char err[256];
    int rc = ring_attach(&p->out, p->ping_fd, p->ping_wake, RING_PRODUCER, err, sizeof err);
    if (rc == 0)
        rc = ring_attach(&p->in, p->pong_fd, p->pong_wake, RING_CONSUMER, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "bench ipc: ring_attach: %s\n", err);
    return rc;
}

static void rings_close(rings_t *p)
{
    ring_detach(p->out);
    ring_detach(p->in);
    int fds[] = {p->ping_fd, p->pong_fd, p->ping_wake, p->pong_wake};
    for (size_t i = 0; i < 4; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

/* Wait for a message on r: spin, or (wake) park on the eventfd at once. */
static void ring_wait(ring_t *r, bool wake)
{
    if (!wake) {
        while (!ring_spin(r, SPIN_FOREVER))
            ;
        return;
    }
    while (!ring_ready(r)) {
        if (ring_park(r)) {
            struct pollfd pfd = {.fd = ring_wake_fd(r), .events = POLLIN};
            poll(&pfd, 1, 1000);
            ring_unpark(r);
        }
    }
}

static void push_spin(ring_t *r, const void *msg, size_t len)
{
    while (ring_push(r, msg, len) == -ENOBUFS)
        ;
}

/* The child's ends, attached in the child (its own mappings). */
static int child_rings(const rings_t *p, ring_t **in, ring_t **out)
{
    char err[256];
    if (ring_attach(in, p->ping_fd, p->ping_wake, RING_CONSUMER, err, sizeof err) != 0 ||
        ring_attach(out, p->pong_fd, p->pong_wake, RING_PRODUCER, err, sizeof err) != 0) {
        fprintf(stderr, "bench ipc: child ring_attach: %s\n", err);
        return 1;
    }
    return 0;
}

static int echo_ring(void *ctx)
{
    const rings_t *p = ctx;
    ring_t *in, *out;
    if (child_rings(p, &in, &out) != 0)
        return 1;
    bool wake = p->ping_wake >= 0;
    uint8_t buf[E2E_SLOT];
    for (;;) {
        ring_wait(in, wake);
        size_t n;
        if (ring_pop(in, buf, sizeof buf, &n) != 0)
            return 2;
        if (n == 1 && buf[0] == STOP_BYTE)
            return 0;
        push_spin(out, buf, n);
    }
}

static uint64_t ping_ring(void *ctx, uint64_t i)
{
    rings_t *p = ctx;
    bool wake = p->ping_wake >= 0;
    if (wake)
        pause_us(p->pause_us); /* so that the echo side is asleep in poll() */
    memcpy(p->msg, &i, sizeof i);
    uint8_t back[MSG_BYTES];
    size_t n;
    uint64_t t0 = now_ns();
    if (ring_push(p->out, p->msg, MSG_BYTES) != 0)
        return 0;
    ring_wait(p->in, wake);
    if (ring_pop(p->in, back, sizeof back, &n) != 0)
        return 0;
    uint64_t t1 = now_ns();
    return n == MSG_BYTES && memcmp(back, &i, sizeof i) == 0 ? t1 - t0 : 0;
}

static void rings_stop(rings_t *p)
{
    uint8_t stop = STOP_BYTE;
    push_spin(p->out, &stop, 1);
}

static int case_ring(const opts_t *o, bool wake, lat_t *out)
{
    rings_t *p = calloc(1, sizeof *p);
    int rc = p == NULL ? -ENOMEM : rings_open(p, 64, MSG_BYTES, wake);
    if (rc != 0)
        goto out;
    p->pause_us = o->pause_us;
    memset(p->msg, 0x5a, sizeof p->msg);
    pid_t pid = spawn(echo_ring, p);
    rc = pid < 0 ? -errno : measure(o, o->iters, ping_ring, p, out);
    if (pid > 0) {
        rings_stop(p);
        if (reap(pid, wake ? "ring wake" : "ring busy") != 0)
            rc = -EIO;
    }
out:
    if (p != NULL)
        rings_close(p);
    free(p);
    return rc;
}

/* ---- ring stream throughput ---- */

static int sink_ring(void *ctx)
{
    const rings_t *p = ctx;
    ring_t *in, *out;
    if (child_rings(p, &in, &out) != 0)
        return 1;
    uint8_t buf[MSG_BYTES];
    for (uint64_t got = 0;;) {
        size_t n;
        int rc = ring_pop(in, buf, sizeof buf, &n);
        if (rc == -EAGAIN) {
            ring_spin(in, SPIN_FOREVER);
            continue;
        }
        if (rc != 0)
            return 2;
        if (n == 1 && buf[0] == STOP_BYTE)
            return 0;
        got++;
        if (n == 8) /* the last of a run: acknowledge with the count seen */
            push_spin(out, &got, sizeof got);
    }
}

static int case_stream(const opts_t *o, double *msgs_per_s)
{
    rings_t *p = calloc(1, sizeof *p);
    int rc = p == NULL ? -ENOMEM : rings_open(p, 1024, MSG_BYTES, false);
    if (rc != 0)
        goto out;
    pid_t pid = spawn(sink_ring, p);
    if (pid < 0) {
        rc = -errno;
        goto out;
    }
    uint64_t expect = 0;
    *msgs_per_s = 0;
    for (int run = 0; run < o->runs && rc == 0; run++) {
        uint64_t t0 = now_ns(), got = 0;
        size_t n;
        for (long i = 0; i < o->stream - 1; i++)
            push_spin(p->out, p->msg, MSG_BYTES);
        push_spin(p->out, p->msg, 8);
        expect += (uint64_t)o->stream;
        ring_wait(p->in, false);
        if (ring_pop(p->in, &got, sizeof got, &n) != 0 || got != expect)
            rc = -EIO;
        double rate = (double)o->stream / ((double)(now_ns() - t0) / 1e9);
        if (rate > *msgs_per_s)
            *msgs_per_s = rate;
    }
    rings_stop(p);
    if (reap(pid, "ring stream") != 0)
        rc = -EIO;
out:
    if (p != NULL)
        rings_close(p);
    free(p);
    return rc;
}

/* ---- ZeroMQ ipc:// REQ/REP ---- */

typedef struct {
    char endpoint[TMP_PATH_MAX + 16];
    void *zctx, *sock;
    uint8_t msg[MSG_BYTES];
} zmq_case_t;

static int echo_zmq(void *ctx)
{
    zmq_case_t *z = ctx;
    void *c = zmq_ctx_new(), *s = zmq_socket(c, ZMQ_REP);
    if (s == NULL || zmq_bind(s, z->endpoint) != 0)
        return 1;
    uint8_t buf[MSG_BYTES];
    for (;;) {
        int n = zmq_recv(s, buf, sizeof buf, 0);
        if (n < 0)
            return 2;
        if (zmq_send(s, buf, (size_t)n, 0) != n)
            return 3;
        if (n == 1 && buf[0] == STOP_BYTE)
            break;
    }
    zmq_close(s);
    zmq_ctx_term(c);
    return 0;
}

static uint64_t ping_zmq(void *ctx, uint64_t i)
{
    zmq_case_t *z = ctx;
    uint8_t back[MSG_BYTES];
    memcpy(z->msg, &i, sizeof i);
    uint64_t t0 = now_ns();
    if (zmq_send(z->sock, z->msg, sizeof z->msg, 0) != MSG_BYTES ||
        zmq_recv(z->sock, back, sizeof back, 0) != MSG_BYTES)
        return 0;
    uint64_t t1 = now_ns();
    return memcmp(back, &i, sizeof i) == 0 ? t1 - t0 : 0;
}

static int case_zmq(const opts_t *o, lat_t *out)
{
    char dir[TMP_PATH_MAX];
    zmq_case_t z = {0};
    int rc = tmp_make(dir, sizeof dir, "bench-ipc");
    if (rc != 0)
        return rc;
    snprintf(z.endpoint, sizeof z.endpoint, "ipc://%s/echo.sock", dir);
    /* The child makes its own context after the fork: ZeroMQ's threads
     * do not survive one. */
    pid_t pid = spawn(echo_zmq, &z);
    z.zctx = zmq_ctx_new();
    z.sock = zmq_socket(z.zctx, ZMQ_REQ);
    int linger = 0;
    zmq_setsockopt(z.sock, ZMQ_LINGER, &linger, sizeof linger);
    rc = pid < 0 || zmq_connect(z.sock, z.endpoint) != 0 ? -EIO
                                                          : measure(o, o->iters, ping_zmq, &z, out);
    uint8_t stop = STOP_BYTE;
    if (pid > 0) {
        if (rc == 0 && (zmq_send(z.sock, &stop, 1, 0) != 1 || zmq_recv(z.sock, &stop, 1, 0) != 1))
            rc = -EIO;
        if (rc != 0)
            kill(pid, SIGKILL);
        if (reap(pid, "zmq") != 0 && rc == 0)
            rc = -EIO;
    }
    zmq_close(z.sock);
    zmq_ctx_term(z.zctx);
    tmp_remove(dir);
    return rc;
}

/* ---- unix SOCK_SEQPACKET socketpair ---- */

typedef struct {
    int fd[2];
    uint8_t msg[MSG_BYTES];
} sock_case_t;

static int echo_sock(void *ctx)
{
    sock_case_t *s = ctx;
    close(s->fd[0]);
    uint8_t buf[MSG_BYTES];
    ssize_t n;
    while ((n = recv(s->fd[1], buf, sizeof buf, 0)) > 0)
        if (send(s->fd[1], buf, (size_t)n, 0) != n)
            return 1;
    return n == 0 ? 0 : 2;
}

static uint64_t ping_sock(void *ctx, uint64_t i)
{
    sock_case_t *s = ctx;
    uint8_t back[MSG_BYTES];
    memcpy(s->msg, &i, sizeof i);
    uint64_t t0 = now_ns();
    if (send(s->fd[0], s->msg, sizeof s->msg, 0) != MSG_BYTES ||
        recv(s->fd[0], back, sizeof back, 0) != MSG_BYTES)
        return 0;
    uint64_t t1 = now_ns();
    return memcmp(back, &i, sizeof i) == 0 ? t1 - t0 : 0;
}

static int case_unix(const opts_t *o, lat_t *out)
{
    sock_case_t s = {0};
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, s.fd) != 0)
        return -errno;
    pid_t pid = spawn(echo_sock, &s);
    close(s.fd[1]);
    int rc = pid < 0 ? -errno : measure(o, o->iters, ping_sock, &s, out);
    close(s.fd[0]); /* the child sees end of file and exits */
    if (pid > 0 && reap(pid, "unix") != 0)
        rc = -EIO;
    return rc;
}

/* ---- bare eventfd ping-pong ---- */

typedef struct {
    int ping, pong; /* blocking eventfds */
    int pause_us;
} efd_case_t;

static int echo_efd(void *ctx)
{
    efd_case_t *e = ctx;
    uint64_t v;
    for (;;) {
        if (read(e->ping, &v, sizeof v) != sizeof v)
            return 1;
        if (v != 1) /* 2: stop */
            return 0;
        if (write(e->pong, &v, sizeof v) != sizeof v)
            return 2;
    }
}

static uint64_t ping_efd(void *ctx, uint64_t i)
{
    efd_case_t *e = ctx;
    uint64_t one = 1, v;
    pause_us(e->pause_us);
    uint64_t t0 = now_ns();
    if (write(e->ping, &one, sizeof one) != sizeof one || read(e->pong, &v, sizeof v) != sizeof v)
        return 0;
    return now_ns() - t0;
}

static int case_eventfd(const opts_t *o, lat_t *out)
{
    efd_case_t e = {eventfd(0, EFD_CLOEXEC), eventfd(0, EFD_CLOEXEC), o->pause_us};
    int rc = -EIO;
    if (e.ping < 0 || e.pong < 0)
        goto out;
    pid_t pid = spawn(echo_efd, &e);
    rc = pid < 0 ? -errno : measure(o, o->iters, ping_efd, &e, out);
    if (pid > 0) {
        uint64_t two = 2;
        if (write(e.ping, &two, sizeof two) != sizeof two)
            kill(pid, SIGKILL);
        if (reap(pid, "eventfd") != 0)
            rc = -EIO;
    }
out:
    if (e.ping >= 0)
        close(e.ping);
    if (e.pong >= 0)
        close(e.pong);
    return rc;
}

/* The ring's wake path and its floor, the bare eventfd, run by run in
 * turn: on a shared or virtual machine the wake-up tail drifts over
 * seconds, and alternating keeps that drift out of their ratio. */
static int case_wake_pair(const opts_t *o, lat_t *wake, lat_t *efd, int *efd_rc)
{
    opts_t one = *o;
    one.runs = 1;
    int rc = 0;
    *efd_rc = 0;
    *wake = *efd = (lat_t){0};
    for (int run = 0; run < o->runs && rc == 0 && *efd_rc == 0; run++) {
        lat_t w, e;
        rc = case_ring(&one, true, &w);
        *efd_rc = case_eventfd(&one, &e);
        if (rc == 0 && (!wake->ok || w.p99 < wake->p99))
            *wake = w;
        if (*efd_rc == 0 && (!efd->ok || e.p99 < efd->p99))
            *efd = e;
    }
    return rc;
}

/* ---- finality end to end ---- */

#define E2E_CHAIN_ID "bench-peer-1"

typedef struct {
    rings_t rings;
    char db[TMP_PATH_MAX];
    peer_set_t set;
    uint8_t pk[BLOCK_KEY_LEN], sk[64];
    block_header_t h;             /* the next header the parent finalizes */
    uint8_t prev[BLOCK_HASH_LEN]; /* hash of the last one */
    commit_cert_t cert;
    uint8_t hdr[BLOCK_HEADER_MAX], cb[COMMIT_CERT_MAX];
} e2e_t;

typedef struct {
    uint64_t height;
    int32_t rc; /* 0, or the child's error */
    int32_t pad;
} e2e_ack_t;

/* The child's store: one table, one prepared INSERT. */
typedef struct {
    sqlite3 *db;
    sqlite3_stmt *ins, *begin, *commit;
} e2e_store_t;

static int store_open(e2e_store_t *st, const char *path)
{
    if (sqlite3_open(path, &st->db) != SQLITE_OK ||
        sqlite3_exec(st->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                     "CREATE TABLE IF NOT EXISTS peer_headers (height INTEGER PRIMARY KEY,"
                     " hash BLOB NOT NULL, header BLOB NOT NULL)", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, "INSERT INTO peer_headers VALUES (?, ?, ?)", -1, &st->ins,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, "BEGIN", -1, &st->begin, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->db, "COMMIT", -1, &st->commit, NULL) != SQLITE_OK) {
        fprintf(stderr, "bench ipc: sqlite: %s\n", sqlite3_errmsg(st->db));
        return -EIO;
    }
    return 0;
}

static int store_step(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

static int store_put(e2e_store_t *st, uint64_t height, const uint8_t *hash, const uint8_t *hdr,
                     size_t hdr_len)
{
    if (store_step(st->begin) != 0)
        return -EIO;
    sqlite3_bind_int64(st->ins, 1, (sqlite3_int64)height);
    sqlite3_bind_blob(st->ins, 2, hash, BLOCK_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(st->ins, 3, hdr, (int)hdr_len, SQLITE_STATIC);
    int rc = store_step(st->ins);
    if (store_step(st->commit) != 0)
        rc = -EIO;
    return rc;
}

/* Child: one proof, from popped bytes to a stored header. */
static int e2e_take(const e2e_t *e, e2e_store_t *st, peer_tip_t *tip, const uint8_t *buf,
                    size_t n)
{
    ipc_msg_t m;
    block_header_t h;
    uint8_t hash[BLOCK_HASH_LEN];
    reject_t why;
    int rc = ipc_msg_decode(&m, buf, n, NULL);
    if (rc != 0)
        return rc;
    if (m.kind != IPC_FINALITY)
        return -EBADMSG;
    rc = peer_verify_finality(&e->set, tip, m.u.finality.header, m.u.finality.header_len,
                              m.u.finality.cert, m.u.finality.cert_len, &h, hash, &why);
    if (rc != 0) {
        fprintf(stderr, "bench ipc: finality refused: %s: %s\n", why.code, why.message);
        return rc;
    }
    rc = store_put(st, h.height, hash, m.u.finality.header, m.u.finality.header_len);
    if (rc == 0) {
        tip->height = h.height;
        memcpy(tip->hash, hash, BLOCK_HASH_LEN);
    }
    return rc;
}

static int echo_e2e(void *ctx)
{
    const e2e_t *e = ctx;
    ring_t *in, *out;
    e2e_store_t st = {0};
    if (child_rings(&e->rings, &in, &out) != 0 || store_open(&st, e->db) != 0)
        return 1;
    peer_tip_t tip = {0};
    static uint8_t buf[E2E_SLOT];
    for (;;) {
        ring_wait(in, false);
        size_t n;
        if (ring_pop(in, buf, sizeof buf, &n) != 0)
            return 2;
        if (n == 1 && buf[0] == STOP_BYTE)
            break;
        e2e_ack_t ack = {tip.height + 1, 0, 0};
        ack.rc = e2e_take(e, &st, &tip, buf, n);
        push_spin(out, &ack, sizeof ack);
    }
    sqlite3_finalize(st.ins);
    sqlite3_finalize(st.begin);
    sqlite3_finalize(st.commit);
    sqlite3_close(st.db);
    return 0;
}

/* Parent: the finality message of e->h, signed now, into buf. */
static int e2e_encode(e2e_t *e, uint8_t *buf, size_t cap, size_t *len)
{
    uint8_t hash[BLOCK_HASH_LEN], sb[128];
    size_t hlen, clen;
    memcpy(e->h.prev_hash, e->prev, BLOCK_HASH_LEN);
    if (block_header_encode(&e->h, e->hdr, sizeof e->hdr, &hlen) != 0 ||
        block_header_hash(&e->h, hash) != 0)
        return -EINVAL;
    int n = commit_sign_bytes(E2E_CHAIN_ID, e->h.height, hash, sb, sizeof sb);
    if (n < 0)
        return n;
    e->cert.height = e->h.height;
    memcpy(e->cert.block_hash, hash, BLOCK_HASH_LEN);
    crypto_sign_detached(e->cert.sigs[0].sig, NULL, sb, (unsigned long long)n, e->sk);
    if (commit_cert_encode(&e->cert, e->cb, sizeof e->cb, &clen) != 0)
        return -EINVAL;
    ipc_msg_t m = {.kind = IPC_FINALITY, .seq = e->h.height, .sent_ns = now_ns()};
    strcpy(m.source, E2E_CHAIN_ID);
    m.u.finality = (ipc_finality_t){e->hdr, hlen, e->cb, clen};
    memcpy(e->prev, hash, BLOCK_HASH_LEN);
    return ipc_msg_encode(&m, buf, cap, len);
}

static uint64_t ping_e2e(void *ctx, uint64_t i)
{
    e2e_t *e = ctx;
    size_t len, n;
    e2e_ack_t ack;
    uint64_t t0 = now_ns();
    if (e2e_encode(e, e->rings.msg, sizeof e->rings.msg, &len) != 0 ||
        ring_push(e->rings.out, e->rings.msg, len) != 0)
        return 0;
    ring_wait(e->rings.in, false);
    if (ring_pop(e->rings.in, &ack, sizeof ack, &n) != 0)
        return 0;
    uint64_t t1 = now_ns();
    if (n != sizeof ack || ack.rc != 0 || ack.height != e->h.height) {
        fprintf(stderr, "bench ipc: e2e ack for %" PRIu64 ": rc %d\n", ack.height, ack.rc);
        return 0;
    }
    e->h.height++;
    e->h.time_ms++;
    return t1 - t0;
}

/* One validator, its key made here; the peer set the child verifies with. */
static int e2e_setup(e2e_t *e, const char *dir)
{
    static genesis_t g;
    memset(&g, 0, sizeof g);
    strcpy(g.chain_id, E2E_CHAIN_ID);
    strcpy(g.chain, "peer");
    g.n_validators = 1;
    crypto_sign_keypair(e->pk, e->sk);
    memcpy(g.validators[0].pk, e->pk, BLOCK_KEY_LEN);
    g.validators[0].power = 10;
    randombytes_buf(g.hash, sizeof g.hash);
    int rc = peer_set_from_genesis(&e->set, &g);
    if (rc != 0)
        return rc;
    memcpy(e->prev, g.hash, BLOCK_HASH_LEN);
    e->h = (block_header_t){.protocol_version = 1, .height = 1, .time_ms = 1795647001000ULL,
                            .tx_count = 100};
    strcpy(e->h.chain_id, E2E_CHAIN_ID);
    memcpy(e->h.proposer, e->pk, BLOCK_KEY_LEN);
    randombytes_buf(e->h.txs_root, sizeof e->h.txs_root);
    randombytes_buf(e->h.state_root, sizeof e->h.state_root);
    e->cert.n_sigs = 1;
    memcpy(e->cert.sigs[0].validator, e->pk, BLOCK_KEY_LEN);
    return tmp_join(e->db, sizeof e->db, dir, "peer.db");
}

static int case_e2e(const opts_t *o, lat_t *out)
{
    char dir[TMP_PATH_MAX];
    e2e_t *e = calloc(1, sizeof *e);
    if (e == NULL)
        return -ENOMEM;
    int rc = tmp_make(dir, sizeof dir, "bench-ipc");
    if (rc != 0)
        goto out;
    rc = e2e_setup(e, dir);
    if (rc == 0)
        rc = rings_open(&e->rings, 64, E2E_SLOT, false);
    if (rc == 0) {
        pid_t pid = spawn(echo_e2e, e);
        rc = pid < 0 ? -errno : measure(o, o->e2e_iters, ping_e2e, e, out);
        if (pid > 0) {
            rings_stop(&e->rings);
            if (reap(pid, "finality e2e") != 0)
                rc = -EIO;
        }
    }
    rings_close(&e->rings);
    tmp_remove(dir);
out:
    free(e);
    return rc;
}

/* ---- report ---- */

typedef struct {
    lat_t busy, wake, zmq, unix_, efd, e2e;
    double msgs_per_s;
} results_t;

static double ratio(double a, double b)
{
    return b > 0 ? a / b : 0;
}

static void print_row(const char *name, const lat_t *l)
{
    if (l->ok)
        printf("  %-26s %9.2f %9.2f %9.2f\n", name, l->p50, l->p99, l->p999);
    else
        printf("  %-26s %9s\n", name, "failed");
}

static const char *mark(bool pass)
{
    return pass ? "PASS" : "MISS";
}

static void print_table(const opts_t *o, const results_t *r)
{
    printf("bench ipc: %d-byte messages between two processes, %d runs x %d round trips "
           "(%d warm-up), best run's p99\n", MSG_BYTES, o->runs, o->iters, o->warmup);
    if (g_cpu_child >= 0)
        printf("pinned: this process to CPU %d, the echo child to CPU %d\n", g_cpu_parent,
               g_cpu_child);
    else
        printf("not pinned: fewer than 2 CPUs available\n");
    printf("  %-26s %9s %9s %9s\n", "round trip (us)", "p50", "p99", "p99.9");
    print_row("ring busy-poll", &r->busy);
    print_row("ring eventfd wake", &r->wake);
    print_row("zmq ipc:// REQ/REP", &r->zmq);
    print_row("unix SOCK_SEQPACKET", &r->unix_);
    print_row("eventfd ping-pong", &r->efd);
    print_row("finality e2e (sign->ack)", &r->e2e);
    printf("  ring stream: %.0f msgs/s (%.1f M/s)\n", r->msgs_per_s, r->msgs_per_s / 1e6);
    printf("  (wake and eventfd cases pause %d us between pings; e2e: %d per run)\n", o->pause_us,
           o->e2e_iters);
    double zr = ratio(r->zmq.p99, r->busy.p99), wr = ratio(r->wake.p99, r->efd.p99);
    printf("targets:\n");
    printf("  zmq ipc p99 / ring busy p99   %8.1fx  (>= 20x)    %s\n", zr, mark(zr >= 20));
    printf("  ring busy p99                 %8.2f us (< 2 us)   %s\n", r->busy.p99,
           mark(r->busy.ok && r->busy.p99 < 2));
    printf("  ring wake p99 / eventfd p99   %8.2fx  (<= 1.2x)   %s\n", wr,
           mark(r->wake.ok && wr <= 1.2));
    printf("  finality e2e p99              %8.1f us (< 200 us) %s\n", r->e2e.p99,
           mark(r->e2e.ok && r->e2e.p99 < 200));
}

static void json_num(const char *key, double v, bool ok, bool last)
{
    if (ok)
        printf("\"%s\":%.3f%s", key, v, last ? "" : ",");
    else
        printf("\"%s\":null%s", key, last ? "" : ",");
}

static void print_json(const opts_t *o, const results_t *r)
{
    double zr = ratio(r->zmq.p99, r->busy.p99), wr = ratio(r->wake.p99, r->efd.p99);
    printf("{\"msg_bytes\":%d,\"runs\":%d,\"iters\":%d,\"pause_us\":%d,\"pinned\":%s,",
           MSG_BYTES, o->runs, o->iters, o->pause_us, g_cpu_child >= 0 ? "true" : "false");
    const struct { const char *name; const lat_t *l; } rows[] = {
        {"ring_busy", &r->busy}, {"ring_wake", &r->wake}, {"zmq_ipc", &r->zmq},
        {"unix", &r->unix_}, {"eventfd", &r->efd}};
    char key[64];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *pc[] = {"p50", "p99", "p999"};
        double v[] = {rows[i].l->p50, rows[i].l->p99, rows[i].l->p999};
        for (size_t j = 0; j < 3; j++) {
            snprintf(key, sizeof key, "%s_rtt_%s_us", rows[i].name, pc[j]);
            json_num(key, v[j], rows[i].l->ok, false);
        }
    }
    json_num("ring_msgs_per_s", r->msgs_per_s, r->msgs_per_s > 0, false);
    json_num("finality_e2e_p50_us", r->e2e.p50, r->e2e.ok, false);
    json_num("finality_e2e_p99_us", r->e2e.p99, r->e2e.ok, false);
    json_num("finality_e2e_p999_us", r->e2e.p999, r->e2e.ok, false);
    json_num("zmq_over_ring_busy_p99_ratio", zr, r->zmq.ok && r->busy.ok, false);
    json_num("ring_wake_over_eventfd_p99_ratio", wr, r->wake.ok && r->efd.ok, false);
    printf("\"pass_ring_vs_zmq\":%s,\"pass_ring_busy_p99\":%s,\"pass_ring_wake\":%s,"
           "\"pass_finality_e2e\":%s}\n", zr >= 20 ? "true" : "false",
           r->busy.ok && r->busy.p99 < 2 ? "true" : "false",
           r->wake.ok && wr <= 1.2 ? "true" : "false",
           r->e2e.ok && r->e2e.p99 < 200 ? "true" : "false");
}

static int parse_opts(int argc, char **argv, opts_t *o)
{
    *o = (opts_t){false, 5, 20000, 1000, 50, 2000, 5000000};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int *ip = !strcmp(a, "--runs") ? &o->runs : !strcmp(a, "--iters") ? &o->iters
                : !strcmp(a, "--warmup") ? &o->warmup : !strcmp(a, "--pause-us") ? &o->pause_us
                : !strcmp(a, "--e2e-iters") ? &o->e2e_iters : NULL;
        if (!strcmp(a, "--json")) {
            o->json = true;
        } else if ((ip != NULL || !strcmp(a, "--stream")) && v != NULL && atol(v) > 0) {
            if (ip != NULL)
                *ip = atoi(v);
            else
                o->stream = atol(v);
            i++;
        } else {
            fprintf(stderr, "usage: bench_ipc [--json] [--runs N] [--iters N] [--warmup N] "
                    "[--pause-us N] [--stream N] [--e2e-iters N]\n");
            return -1;
        }
    }
    o->warmup = o->warmup < 1 ? 1 : o->warmup;
    return 0;
}

int main(int argc, char **argv)
{
    opts_t o;
    if (parse_opts(argc, argv, &o) != 0)
        return 100;
    if (sodium_init() < 0)
        return 111;
    choose_cpus();
    results_t r = {0};
    struct { const char *name; int rc; } step[7] = {
        {"ring busy", 0}, {"ring wake", 0}, {"zmq ipc", 0}, {"unix", 0}, {"eventfd", 0},
        {"ring stream", 0}, {"finality e2e", 0}};
    /* One after the other (an initializer's calls would be unsequenced). */
    step[0].rc = case_ring(&o, false, &r.busy);
    step[1].rc = case_wake_pair(&o, &r.wake, &r.efd, &step[4].rc);
    step[2].rc = case_zmq(&o, &r.zmq);
    step[3].rc = case_unix(&o, &r.unix_);
    step[5].rc = case_stream(&o, &r.msgs_per_s);
    step[6].rc = case_e2e(&o, &r.e2e);
    int failed = 0;
    for (size_t i = 0; i < sizeof step / sizeof step[0]; i++)
        if (step[i].rc != 0) {
            fprintf(stderr, "bench ipc: %s: %s\n", step[i].name, strerror(-step[i].rc));
            failed = 1;
        }
    if (o.json)
        print_json(&o, &r);
    else
        print_table(&o, &r);
    return failed ? 111 : 0;
}
