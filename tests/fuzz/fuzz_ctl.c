/* libFuzzer target for the supervisor's control socket: the frames a peer
 * sends to <home>/run/control.sock, through the real server end
 * (supervisor/ctl.c: ZeroMQ ROUTER, envelope checks) and the real
 * dispatcher, on_ctl and ctl_handle in supervisor/supervisor.c, which is
 * included here because they are static there. No worker is started: the
 * children are put in states where no request can spawn one (while the
 * node runs: starting, running or stopping, with no process; while it
 * stops: any state, held), and a child without a process is never
 * signalled (child_kill skips pid 0).
 *
 * Input: byte 0 sets the node (bit 7: stopping) and each child (two bits
 * of state, one enabled bit); byte 1 the children's heights and whether
 * they report HALTED, with a reason taken from the input through
 * notify_reason_set as a worker's would be. Then up to 8 messages, each
 * from a DEALER socket, so that any envelope can be sent: a byte below
 * 0xc0 makes a REQ-style message (empty delimiter, one request frame of
 * the length in the next byte, 0xff: two more bytes), another byte a raw
 * message of (byte & 7) + 1 frames, each length-prefixed the same way.
 * A status request follows them as a sentinel.
 *
 * Promises: no crash, leak or sanitizer report; every message that has
 * the delimiter (a REQ peer waits for it) is answered, in order, with a
 * JSON object whose "ok" is a boolean (false with an "error" string); the
 * server still answers the sentinel with the workers' states. Checked
 * once at start: the socket file is 0600 in a 0700 run directory even
 * under umask 0 and a run directory that was 0777; a request of
 * CTL_MSG_MAX bytes is answered, and a peer that sends a larger frame does
 * not stop the server answering the others. */
#include "supervisor/supervisor.c"

#include <poll.h>
#include <sys/stat.h>
#include <zmq.h>

#include "supervisor/node_chains.h"
#include "tests/lib/fuzz.h"
#include "tests/lib/tmp.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MESSAGES 8
#define MAX_FRAMES 8
#define REPLY_WAIT_MS 5000
#define SENTINEL "{\"cmd\":\"status\"}"

static struct {
    char home[TMP_PATH_MAX];
    config_t cfg;
    sup_options_t opt;
    struct ev_loop *loop;
    ctl_server_t *srv;
    void *zctx, *peer;          /* the peer: a DEALER connected to the socket */
    sup_t sup;                  /* rebuilt for each input */
} F;

/* ---- reading the input --------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t n;
} in_t;

static uint8_t in_byte(in_t *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

/* A frame's bytes: a length byte (0xff: two more bytes of length), then
 * up to that many. */
static size_t in_frame(in_t *in, const uint8_t **out)
{
    size_t want = in_byte(in);
    if (want == 0xff) {
        want = (size_t)in_byte(in) << 8;
        want |= in_byte(in);
    }
    size_t k = want < in->n ? want : in->n;
    *out = in->p;
    in->p += k;
    in->n -= k;
    return k;
}

/* ---- the node as the input sets it --------------------------------------- */

/* States a child may be in when no request can make the supervisor spawn
 * it: with the node running, only ones with a (pretended) process. */
static const child_state_t running_states[] = {CHILD_STARTING, CHILD_RUNNING, CHILD_STOPPING,
                                               CHILD_RUNNING};
static const child_state_t stopping_states[] = {CHILD_STOPPED, CHILD_FAILED, CHILD_BACKOFF,
                                                CHILD_STOPPING};

/* Set up child i as child_io_init does, but without looking for its
 * executable (nothing is spawned). */
static void child_setup(sup_t *s, size_t i, bool enabled)
{
    const config_t *cfg = &F.cfg;
    child_io_t *ci = &s->ch[i];
    const child_policy_t policy = {cfg->supervisor.restart_burst,
                                   cfg->supervisor.restart_interval_s,
                                   cfg->supervisor.backoff_initial_ms,
                                   cfg->supervisor.backoff_max_ms, cfg->supervisor.failed_retry_s};
    ci->sup = s;
    ci->sock = -1;
    ci->last_status = -1;
    ev_io_init(&ci->io, on_child_io, -1, EV_READ);
    ci->io.data = ci;
    ev_timer_init(&ci->deadline, on_child_deadline, 0., 0.);
    ci->deadline.data = ci;
    ev_init(&ci->hb, on_child_hb);
    ci->hb.repeat = cfg->supervisor.heartbeat_timeout_ms / 1000.0;
    ci->hb.data = ci;
    snprintf(ci->exe, sizeof ci->exe, "/nonexistent/%s", chain_list[i].exe);
    CHECK(child_init(&ci->c, chain_list[i].name, chain_list[i].after, enabled, &policy) == 0);
}

/* Child i's state, numbers and HALTED reason from the input. */
static void child_state_set(sup_t *s, size_t i, unsigned sel, uint8_t more, in_t *in)
{
    child_io_t *ci = &s->ch[i];
    ev_tstamp now = ev_now(s->loop);
    ci->c.state = (s->stopping ? stopping_states : running_states)[sel & 3];
    ci->c.held = s->stopping;
    ci->c.restarts = more & 0x0f;
    ci->height = (uint64_t)more << 20;
    ci->block_time_ms = more ? 1795647001123ULL + more : 0;
    ci->ready_at = now - more;
    ci->last_status = more & 1 ? (111 << 8) : more & 2 ? 9 : -1;
    if (ci->c.state == CHILD_FAILED) {
        snprintf(ci->why, sizeof ci->why, "crash loop: 6 exits within 60 s, the last exit=111");
        ci->retry_at = more & 4 ? now + more : 0;
    }
    if (more & 0x80) {
        const uint8_t *p;
        char text[NOTIFY_REASON_MAX + 1];
        size_t n = in_frame(in, &p);
        snprintf(text, sizeof text, "%.*s", (int)n, (const char *)p);
        notify_reason_set(ci->halted, text[0] ? text : "disk full");
    }
}

/* A fresh supervisor with the control server, its children as byte 0 and
 * byte 1 say. */
static void node_setup(sup_t *s, in_t *in)
{
    uint8_t b0 = in_byte(in), b1 = in_byte(in);
    memset(s, 0, sizeof *s);
    s->opt = &F.opt;
    s->loop = F.loop;
    s->ctl = F.srv;
    s->lock_fd = -1;
    s->stopping = b0 & 0x80;
    s->started_at = ev_now(s->loop) - b1;
    ev_io_init(&s->ctl_io, on_ctl, ctl_server_fd(F.srv), EV_READ);
    s->ctl_io.data = s;
    CHECK(workerstate_path(s->workers_path, sizeof s->workers_path, F.home) == 0);
    child_t *cs[NCHILDREN];
    for (size_t i = 0; i < NCHILDREN; i++) {
        unsigned bits = (b0 >> (3 * (i % 2))) & 7;
        child_setup(s, i, i == 0 || (bits & 4));
        child_state_set(s, i, bits, (uint8_t)(b1 * (i + 1)), in);
        cs[i] = &s->ch[i].c;
    }
    CHECK(child_link(cs, NCHILDREN, NULL) == 0);
}

/* Stop what the input's requests armed and free the children, so that
 * the loop holds nothing of this input. */
static void node_teardown(sup_t *s)
{
    for (size_t i = 0; i < NCHILDREN; i++) {
        CHECK(s->ch[i].pid == 0); /* nothing was spawned */
        ev_timer_stop(s->loop, &s->ch[i].deadline);
        ev_timer_stop(s->loop, &s->ch[i].hb);
        ev_io_stop(s->loop, &s->ch[i].io);
        child_release(&s->ch[i].c);
    }
}

/* ---- sending and answering ----------------------------------------------- */

static void send_frame(const uint8_t *p, size_t n, bool more)
{
    CHECK(zmq_send(F.peer, n ? p : (const uint8_t *)"", n, more ? ZMQ_SNDMORE : 0) >= 0);
}

/* Send the input's messages; return how many must be answered. */
static unsigned send_messages(in_t *in)
{
    unsigned owed = 0;
    for (unsigned m = 0; m < MAX_MESSAGES && in->n > 0; m++) {
        uint8_t kind = in_byte(in);
        const uint8_t *p;
        size_t n;
        if (kind < 0xc0) { /* as a REQ socket sends it */
            n = in_frame(in, &p);
            send_frame(NULL, 0, true);
            send_frame(p, n, false);
            owed++;
            continue;
        }
        unsigned frames = (kind & 7) + 1;
        for (unsigned f = 0; f < frames; f++) {
            n = in_frame(in, &p);
            owed += f == 0 && n == 0; /* the delimiter: its sender waits */
            send_frame(p, n, f + 1 < frames);
        }
    }
    send_frame(NULL, 0, true);
    send_frame((const uint8_t *)SENTINEL, strlen(SENTINEL), false);
    return owed + 1;
}

/* One answer as the peer reads it: ["", JSON]. Return whether it is the
 * sentinel's (an ok status with the workers). */
static bool check_reply(void)
{
    char *parts[2] = {NULL, NULL};
    size_t lens[2] = {0, 0};
    int more = 1;
    for (int i = 0; more; i++) {
        zmq_msg_t m;
        size_t sz = sizeof more;
        zmq_msg_init(&m);
        CHECK(zmq_msg_recv(&m, F.peer, 0) >= 0 && i < 2);
        lens[i] = zmq_msg_size(&m);
        CHECK((parts[i] = malloc(lens[i] + 1)) != NULL);
        memcpy(parts[i], zmq_msg_data(&m), lens[i]);
        parts[i][lens[i]] = '\0';
        zmq_getsockopt(F.peer, ZMQ_RCVMORE, &more, &sz);
        zmq_msg_close(&m);
    }
    CHECK(parts[1] != NULL && lens[0] == 0);
    if (getenv("FUZZ_CTL_SHOW") != NULL) /* for reading what a seed or a finding gets */
        fprintf(stderr, "fuzz_ctl: %s\n", parts[1]);
    json_error_t err;
    json_t *j = json_loadb(parts[1], lens[1], 0, &err);
    if (j == NULL || !json_is_boolean(json_object_get(j, "ok")) ||
        (!json_is_true(json_object_get(j, "ok")) &&
         !json_is_string(json_object_get(j, "error")))) {
        fprintf(stderr, "fuzz_ctl: bad reply: %s\n", parts[1]);
        abort();
    }
    bool sentinel = json_is_array(json_object_get(j, "workers"));
    json_decref(j);
    free(parts[0]);
    free(parts[1]);
    return sentinel;
}

/* Run the supervisor's handler until every owed answer (the sentinel's
 * last) is back. */
static void serve_until_answered(sup_t *s, unsigned owed)
{
    unsigned got = 0;
    bool sentinel = false;
    uint64_t deadline = clock_mono_us() + REPLY_WAIT_MS * 1000ULL;
    while (got < owed) {
        on_ctl(s->loop, &s->ctl_io, EV_READ);
        zmq_pollitem_t items[2] = {{F.peer, 0, ZMQ_POLLIN, 0},
                                   {NULL, ctl_server_fd(F.srv), ZMQ_POLLIN, 0}};
        int r = zmq_poll(items, 2, 2);
        CHECK(r >= 0);
        if (items[0].revents & ZMQ_POLLIN) {
            sentinel = check_reply();
            got++;
            continue;
        }
        if (clock_mono_us() > deadline) {
            fprintf(stderr, "fuzz_ctl: %u of %u answers after %d ms\n", got, owed, REPLY_WAIT_MS);
            abort();
        }
    }
    CHECK(sentinel); /* answers come in order: the sentinel's is last */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in_t in = {data, size};
    sup_t *s = &F.sup;
    node_setup(s, &in);
    unsigned owed = send_messages(&in);
    serve_until_answered(s, owed);
    node_teardown(s);
    return 0;
}

/* ---- set-up -------------------------------------------------------------- */

/* The control socket's promise: only this user can reach it. Open it with
 * the widest umask in a run directory left 0777, then look. */
static void open_private_socket(void)
{
    char run[TMP_PATH_MAX + 8], sock[CTL_ENDPOINT_MAX], err[CTL_ERR_MAX] = "";
    struct stat st;
    snprintf(run, sizeof run, "%s/run", F.home);
    CHECK(mkdir(run, 0777) == 0 && chmod(run, 0777) == 0);
    mode_t old = umask(0);
    if (ctl_server_open(&F.srv, F.home, err) != 0) {
        fprintf(stderr, "fuzz_ctl: ctl_server_open: %s\n", err);
        abort();
    }
    umask(old);
    snprintf(sock, sizeof sock, "%s", ctl_server_endpoint(F.srv) + strlen("ipc://"));
    CHECK(stat(run, &st) == 0);
    if ((st.st_mode & 0777) != 0700) {
        fprintf(stderr, "fuzz_ctl: %s is %o, not 0700\n", run, (unsigned)(st.st_mode & 0777));
        abort();
    }
    CHECK(stat(sock, &st) == 0 && S_ISSOCK(st.st_mode));
    if ((st.st_mode & 0777) != 0600 || st.st_uid != geteuid()) {
        fprintf(stderr, "fuzz_ctl: %s is %o (uid %ld), not 0600 of uid %ld\n", sock,
                (unsigned)(st.st_mode & 0777), (long)st.st_uid, (long)geteuid());
        abort();
    }
}

static void peer_open(void)
{
    int zero = 0;
    CHECK((F.zctx = zmq_ctx_new()) != NULL);
    CHECK((F.peer = zmq_socket(F.zctx, ZMQ_DEALER)) != NULL);
    CHECK(zmq_setsockopt(F.peer, ZMQ_LINGER, &zero, sizeof zero) == 0);
    CHECK(zmq_connect(F.peer, ctl_server_endpoint(F.srv)) == 0);
}

/* Frames at and over the size limit, once: a request of CTL_MSG_MAX bytes
 * (a status padded with spaces) is answered; a peer that sends one byte
 * more is cut off by ZeroMQ (ZMQ_MAXMSGSIZE) and the server goes on
 * answering the others. */
static void probe_frame_limit(void)
{
    char *big = malloc(CTL_MSG_MAX + 1);
    void *other = zmq_socket(F.zctx, ZMQ_DEALER);
    int zero = 0;
    CHECK(big != NULL && other != NULL);
    memset(big, ' ', CTL_MSG_MAX + 1);
    memcpy(big, SENTINEL, strlen(SENTINEL));
    CHECK(zmq_setsockopt(other, ZMQ_LINGER, &zero, sizeof zero) == 0);
    CHECK(zmq_connect(other, ctl_server_endpoint(F.srv)) == 0);
    CHECK(zmq_send(other, "", 0, ZMQ_SNDMORE) == 0);
    CHECK(zmq_send(other, big, CTL_MSG_MAX + 1, 0) == CTL_MSG_MAX + 1);
    node_setup(&F.sup, &(in_t){NULL, 0});
    send_frame(NULL, 0, true);
    send_frame((const uint8_t *)big, CTL_MSG_MAX, false);
    serve_until_answered(&F.sup, send_messages(&(in_t){NULL, 0}) + 1);
    for (int i = 0; i < 20; i++) /* while the cut-off peer is dealt with */
        serve_until_answered(&F.sup, send_messages(&(in_t){NULL, 0}));
    node_teardown(&F.sup);
    zmq_close(other);
    free(big);
}

static void fuzz_ctl_down(void)
{
    zmq_close(F.peer);
    zmq_ctx_term(F.zctx);
    ctl_server_close(F.srv);
    ev_loop_destroy(F.loop);
    tmp_remove(F.home);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    log_init("fuzz_ctl", LOG_ERROR);
    unsetenv("NOTIFY_SOCKET");
    signal(SIGPIPE, SIG_IGN);
    CHECK(tmp_make(F.home, sizeof F.home, "fuzz-ctl") == 0);
    config_defaults(&F.cfg, node_chains, N_NODE_CHAINS);
    F.opt = (sup_options_t){.home = F.home, .cfg = &F.cfg};
    CHECK((F.loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV)) != NULL);
    open_private_socket();
    peer_open();
    probe_frame_limit();
    atexit(fuzz_ctl_down);
    return 0;
}
