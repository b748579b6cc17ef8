#include "supervisor/supervisor.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "common/base/exitcode.h"
#include "common/base/fsutil.h"
#include "common/base/log.h"
#include "proto/notify.h"
#include "supervisor/ctl.h"
#include "supervisor/sdnotify.h"

#define NWORKERS 2
#define NOTIFY_FD 3 /* where a worker finds its notification socket */

typedef enum {
    W_STOPPED = 0,
    W_STARTING,
    W_RUNNING,
    W_BACKOFF,
    W_FAILED,
    W_STOPPING,
} wstate_t;

static const char *const wstate_names[] = { "stopped", "starting", "running",
                                            "backoff", "failed",   "stopping" };

typedef struct sup sup_t;

typedef struct {
    sup_t *sup;
    const char *name;
    char exe[PATH_MAX];
    bool enabled;
    wstate_t state;
    pid_t pid;
    int sock;                /* supervisor's end of the notification socket */
    ev_child child;
    ev_io io;
    ev_timer timer;          /* ready timeout, back-off, or stop timeout, by state */
    ev_timer hb;             /* heartbeat timeout while running */
    ev_tstamp spawned_at, ready_at, died_at;
    uint32_t restarts;       /* restarts after unexpected exits, since start */
    ev_tstamp *deaths;       /* ring of recent unexpected exit times */
    uint32_t ndeaths, deaths_cap;
    uint64_t height, block_time_ms;
    int last_status;         /* raw wait status of the last exit, -1 if none */
    bool restart_requested;  /* `adnet restart`: respawn at once after the stop */
    bool ever_ready;
} worker_t;

struct sup {
    const sup_options_t *opt;
    struct ev_loop *loop;
    worker_t w[NWORKERS];    /* [0] alpha, [1] delta: start order; stop order is reversed */
    ev_signal sigterm, sigint, sighup;
    ev_timer status_timer;
    ev_timer watchdog;
    ev_io ctl_io;
    void *zctx, *zrep;
    bool stopping;
    bool notified_ready;
    int exit_code;
    ev_tstamp started_at;
};

static void worker_spawn(worker_t *w);
static void sup_begin_stop(sup_t *s, int exit_code);
static void sup_stop_next(sup_t *s);

static const char *signame(int sig)
{
    switch (sig) {
    case SIGKILL: return "KILL";
    case SIGTERM: return "TERM";
    case SIGINT: return "INT";
    case SIGSEGV: return "SEGV";
    case SIGABRT: return "ABRT";
    case SIGBUS: return "BUS";
    case SIGHUP: return "HUP";
    default: return "other";
    }
}

static void describe_status(int status, char *out, size_t cap)
{
    if (status < 0)
        snprintf(out, cap, "none");
    else if (WIFEXITED(status))
        snprintf(out, cap, "exit=%d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, cap, "signal=%s(%d)", signame(WTERMSIG(status)), WTERMSIG(status));
    else
        snprintf(out, cap, "status=%d", status);
}

static void worker_set_state(worker_t *w, wstate_t st)
{
    if (w->state != st)
        log_debug("worker_state", "worker=%s from=%s to=%s", w->name, wstate_names[w->state],
                  wstate_names[st]);
    w->state = st;
}

static bool worker_alive(const worker_t *w)
{
    return w->pid > 0;
}

static void sup_update_status(sup_t *s)
{
    char buf[256];
    size_t off = (size_t)snprintf(buf, sizeof(buf), "STATUS=");
    for (int i = 0; i < NWORKERS && off < sizeof(buf); i++) {
        const worker_t *w = &s->w[i];
        if (!w->enabled)
            continue;
        off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s %s height %llu",
                                off > 7 ? "; " : "", w->name, wstate_names[w->state],
                                (unsigned long long)w->height);
    }
    sdn_notify(buf);
}

static void sup_check_all_ready(sup_t *s)
{
    if (s->notified_ready || s->stopping)
        return;
    for (int i = 0; i < NWORKERS; i++)
        if (s->w[i].enabled && s->w[i].state != W_RUNNING)
            return;
    s->notified_ready = true;
    sdn_notify("READY=1");
    sup_update_status(s);
    log_info("node_ready", "alpha=%s delta=%s", s->w[0].enabled ? "running" : "off",
             s->w[1].enabled ? "running" : "off");
}

/* ---- notifications from a worker ---- */

static void on_worker_io(struct ev_loop *loop, ev_io *io, int revents)
{
    worker_t *w = io->data;
    uint8_t buf[64];
    for (;;) {
        ssize_t n = recv(w->sock, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            /* EOF: the worker is gone or closing; its exit arrives as SIGCHLD. */
            ev_io_stop(loop, io);
            return;
        }
        notify_msg_t m;
        const char *what = NULL;
        int r = notify_decode(&m, buf, (size_t)n, &what);
        if (r < 0) {
            log_warn("notify_refused", "worker=%s reason=\"%s at %s\"", w->name,
                     r == -EPROTONOSUPPORT ? "unknown version" : "malformed message",
                     what ? what : "?");
            continue;
        }
        w->height = m.height;
        w->block_time_ms = m.time_ms;
        if (w->state == W_RUNNING)
            ev_timer_again(loop, &w->hb);
        if (m.kind == NOTIFY_READY && w->state == W_STARTING) {
            ev_timer_stop(loop, &w->timer);
            worker_set_state(w, W_RUNNING);
            w->ready_at = ev_now(loop);
            w->ever_ready = true;
            ev_timer_again(loop, &w->hb);
            log_info("worker_ready", "worker=%s pid=%ld height=%llu startup_ms=%.1f", w->name,
                     (long)w->pid, (unsigned long long)w->height,
                     (ev_time() - w->spawned_at) * 1e3);
            /* Delta's genesis names alpha's: start it once alpha is ready. */
            worker_t *delta = &w->sup->w[1];
            if (w == &w->sup->w[0] && delta->enabled && delta->state == W_STOPPED &&
                !delta->ever_ready && !w->sup->stopping)
                worker_spawn(delta);
            sup_check_all_ready(w->sup);
        }
    }
}

/* ---- lifecycle ---- */

static void worker_kill(worker_t *w, int sig)
{
    if (w->pid > 0 && kill(w->pid, sig) < 0 && errno != ESRCH)
        log_warn("kill_failed", "worker=%s pid=%ld errno=%d", w->name, (long)w->pid, errno);
}

static void on_worker_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    worker_t *w = t->data;
    switch (w->state) {
    case W_STARTING:
        log_error("worker_ready_timeout", "worker=%s pid=%ld timeout_ms=%u action=kill", w->name,
                  (long)w->pid, w->sup->opt->cfg->supervisor.ready_timeout_ms);
        worker_kill(w, SIGKILL);
        break;
    case W_BACKOFF:
        worker_spawn(w);
        break;
    case W_STOPPING:
        log_warn("worker_stop_timeout", "worker=%s pid=%ld timeout_s=%u action=kill", w->name,
                 (long)w->pid, w->sup->opt->cfg->supervisor.stop_timeout_s);
        worker_kill(w, SIGKILL);
        break;
    default:
        break;
    }
}

static void on_worker_hb(struct ev_loop *loop, ev_timer *t, int revents)
{
    worker_t *w = t->data;
    ev_timer_stop(loop, t);
    if (w->state != W_RUNNING)
        return;
    log_error("worker_unresponsive", "worker=%s pid=%ld silent_ms=%u action=kill", w->name,
              (long)w->pid, w->sup->opt->cfg->supervisor.heartbeat_timeout_ms);
    worker_kill(w, SIGKILL);
}

static void on_worker_exit(struct ev_loop *loop, ev_child *c, int revents);

static void worker_spawn(worker_t *w)
{
    sup_t *s = w->sup;
    int sv[2];
    char fdarg[16];
    char *argv[80];
    int argc = 0;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        log_error("spawn_failed", "worker=%s reason=\"socketpair: %s\"", w->name, strerror(errno));
        goto fail;
    }
    char restarts[16];
    snprintf(fdarg, sizeof(fdarg), "%d", NOTIFY_FD);
    snprintf(restarts, sizeof(restarts), "%u", w->restarts);
    argv[argc++] = w->exe;
    argv[argc++] = "--home";
    argv[argc++] = (char *)s->opt->home;
    argv[argc++] = "--notify-fd";
    argv[argc++] = fdarg;
    argv[argc++] = "--restarts";
    argv[argc++] = restarts;
    for (char *const *a = s->opt->worker_args; a && *a && argc < 76; a++)
        argv[argc++] = *a;
    argv[argc] = NULL;

    w->spawned_at = ev_time();
    pid_t pid = fork();
    if (pid < 0) {
        log_error("spawn_failed", "worker=%s reason=\"fork: %s\"", w->name, strerror(errno));
        close(sv[0]);
        close(sv[1]);
        goto fail;
    }
    if (pid == 0) {
        /* Child: only async-signal-safe calls until exec. Its own process
         * group keeps a terminal's Ctrl-C for the supervisor, which stops
         * workers in order. The notification socket becomes fd 3, the only
         * descriptor passed on besides stdio (all others are CLOEXEC). */
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        setpgid(0, 0);
        if (dup2(sv[1], NOTIFY_FD) < 0)
            _exit(ADNET_EXIT_SYSTEM);
        execv(w->exe, argv);
        _exit(ADNET_EXIT_SYSTEM);
    }
    close(sv[1]);
    w->sock = sv[0];
    w->pid = pid;
    worker_set_state(w, W_STARTING);
    ev_child_set(&w->child, pid, 0);
    ev_child_start(s->loop, &w->child);
    ev_io_set(&w->io, w->sock, EV_READ);
    ev_io_start(s->loop, &w->io);
    ev_timer_stop(s->loop, &w->timer);
    ev_timer_set(&w->timer, s->opt->cfg->supervisor.ready_timeout_ms / 1000.0, 0.);
    ev_timer_start(s->loop, &w->timer);
    log_info("worker_spawned", "worker=%s pid=%ld exe=%s", w->name, (long)pid, w->exe);
    return;
fail:
    /* Treated like a crash: back off and try again under the same limit. */
    w->last_status = ADNET_EXIT_SYSTEM << 8;
    worker_set_state(w, W_BACKOFF);
    ev_timer_stop(s->loop, &w->timer);
    ev_timer_set(&w->timer, 1.0, 0.);
    ev_timer_start(s->loop, &w->timer);
}

/* Record an unexpected exit at now; return how many fall inside the
 * crash-loop window. */
static uint32_t worker_count_deaths(worker_t *w, ev_tstamp now)
{
    double window = w->sup->opt->cfg->supervisor.restart_interval_s;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < w->ndeaths; i++)
        if (now - w->deaths[i] < window)
            w->deaths[kept++] = w->deaths[i];
    w->ndeaths = kept;
    if (w->ndeaths == w->deaths_cap) {
        /* Only the newest `restart_burst + 1` deaths matter. */
        memmove(w->deaths, w->deaths + 1, (w->deaths_cap - 1) * sizeof(*w->deaths));
        w->ndeaths--;
    }
    w->deaths[w->ndeaths++] = now;
    return w->ndeaths;
}

static double backoff_delay(const config_t *cfg, uint32_t deaths_in_window)
{
    /* The first restart in a window is immediate; then initial, 2x, 4x ... */
    if (deaths_in_window <= 1)
        return 0.;
    double ms = cfg->supervisor.backoff_initial_ms;
    for (uint32_t i = 2; i < deaths_in_window && ms < cfg->supervisor.backoff_max_ms; i++)
        ms *= 2;
    if (ms > cfg->supervisor.backoff_max_ms)
        ms = cfg->supervisor.backoff_max_ms;
    return ms / 1000.;
}

static void on_worker_exit(struct ev_loop *loop, ev_child *c, int revents)
{
    worker_t *w = c->data;
    sup_t *s = w->sup;
    const config_t *cfg = s->opt->cfg;
    char how[48];
    ev_child_stop(loop, c);
    ev_io_stop(loop, &w->io);
    ev_timer_stop(loop, &w->timer);
    ev_timer_stop(loop, &w->hb);
    if (w->sock >= 0)
        close(w->sock);
    w->sock = -1;
    w->died_at = ev_time();
    w->last_status = c->rstatus;
    pid_t pid = w->pid;
    w->pid = 0;
    describe_status(c->rstatus, how, sizeof(how));

    if (w->state == W_STOPPING) {
        log_info("worker_stopped", "worker=%s pid=%ld %s", w->name, (long)pid, how);
        worker_set_state(w, W_STOPPED);
        if (w->restart_requested && !s->stopping) {
            w->restart_requested = false;
            worker_spawn(w);
        } else if (s->stopping) {
            sup_stop_next(s);
        }
        return;
    }

    int code = WIFEXITED(c->rstatus) ? WEXITSTATUS(c->rstatus) : -1;
    if (code >= 0 && !adnet_exit_is_restartable(code)) {
        log_error("worker_failed", "worker=%s pid=%ld %s reason=\"%s\" action=stop_node", w->name,
                  (long)pid, how,
                  code == ADNET_EXIT_OK ? "exited without being asked"
                  : code == ADNET_EXIT_CONFIG ? "configuration error; fix it, then start again"
                  : code == ADNET_EXIT_LEDGER ? "ledger refused; see the worker's log line"
                                              : "upgrade needed at this height");
        worker_set_state(w, W_FAILED);
        if (!s->stopping)
            sup_begin_stop(s, code == ADNET_EXIT_OK ? ADNET_EXIT_WORKER_FAILED : code);
        else
            sup_stop_next(s);
        return;
    }
    if (s->stopping) {
        worker_set_state(w, W_STOPPED);
        sup_stop_next(s);
        return;
    }
    uint32_t deaths = worker_count_deaths(w, w->died_at);
    if (deaths > cfg->supervisor.restart_burst) {
        log_error("worker_failed", "worker=%s pid=%ld %s restarts_in_window=%u window_s=%u "
                  "reason=\"crash loop\" action=stop_node", w->name, (long)pid, how, deaths - 1,
                  cfg->supervisor.restart_interval_s);
        worker_set_state(w, W_FAILED);
        sup_begin_stop(s, ADNET_EXIT_WORKER_FAILED);
        return;
    }
    double delay = backoff_delay(cfg, deaths);
    w->restarts++;
    log_warn("worker_died", "worker=%s pid=%ld %s height=%llu restart_in_ms=%.0f restarts=%u",
             w->name, (long)pid, how, (unsigned long long)w->height, delay * 1e3, w->restarts);
    if (delay <= 0.) {
        worker_spawn(w);
    } else {
        worker_set_state(w, W_BACKOFF);
        ev_timer_set(&w->timer, delay, 0.);
        ev_timer_start(loop, &w->timer);
    }
    sup_update_status(s);
}

/* ---- stopping ---- */

static void worker_begin_stop(worker_t *w)
{
    sup_t *s = w->sup;
    worker_set_state(w, W_STOPPING);
    worker_kill(w, SIGTERM);
    ev_timer_stop(s->loop, &w->timer);
    ev_timer_stop(s->loop, &w->hb);
    ev_timer_set(&w->timer, s->opt->cfg->supervisor.stop_timeout_s, 0.);
    ev_timer_start(s->loop, &w->timer);
    log_info("worker_stopping", "worker=%s pid=%ld", w->name, (long)w->pid);
}

/* Stop workers one at a time in reverse start order: delta, then alpha. */
static void sup_stop_next(sup_t *s)
{
    for (int i = NWORKERS - 1; i >= 0; i--) {
        worker_t *w = &s->w[i];
        if (w->state == W_BACKOFF) {
            ev_timer_stop(s->loop, &w->timer);
            worker_set_state(w, W_STOPPED);
        }
        if (w->state == W_STOPPING)
            return; /* wait for it */
        if (worker_alive(w)) {
            worker_begin_stop(w);
            return;
        }
    }
    log_info("node_stopped", "exit=%d", s->exit_code);
    ev_break(s->loop, EVBREAK_ALL);
}

static void sup_begin_stop(sup_t *s, int exit_code)
{
    if (s->stopping)
        return;
    s->stopping = true;
    s->exit_code = exit_code;
    sdn_notify("STOPPING=1");
    log_info("node_stopping", "exit=%d", exit_code);
    sup_stop_next(s);
}

static void on_signal(struct ev_loop *loop, ev_signal *sig, int revents)
{
    sup_t *s = sig->data;
    if (sig->signum == SIGHUP) {
        log_info("signal_ignored", "signal=HUP reason=\"configuration reload is not supported; "
                 "restart a worker with adnet restart\"");
        return;
    }
    log_info("signal", "signal=%s", signame(sig->signum));
    sup_begin_stop(s, ADNET_EXIT_OK);
}

static void on_status_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    sup_update_status(t->data);
}

static void on_watchdog(struct ev_loop *loop, ev_timer *t, int revents)
{
    sdn_notify("WATCHDOG=1");
}

/* ---- control socket ---- */

static json_t *worker_json(const sup_t *s, const worker_t *w, ev_tstamp now)
{
    char how[48], when[48] = "";
    describe_status(w->last_status, how, sizeof(how));
    if (w->block_time_ms) {
        time_t sec = (time_t)(w->block_time_ms / 1000);
        struct tm tm;
        gmtime_r(&sec, &tm);
        snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (unsigned)(w->block_time_ms % 1000));
    }
    double uptime = w->state == W_RUNNING ? now - w->ready_at : 0.;
    /* pid is null, not 0, without a process: `kill -9 0` would hit a whole group. */
    return json_pack("{s:s, s:b, s:o, s:s, s:I, s:f, s:I, s:I, s:s, s:s}", "name", w->name,
                     "enabled", w->enabled, "pid",
                     w->pid > 0 ? json_integer((json_int_t)w->pid) : json_null(), "state",
                     wstate_names[w->state], "restarts", (json_int_t)w->restarts, "uptime_s",
                     uptime, "height", (json_int_t)w->height, "last_block_time_ms",
                     (json_int_t)w->block_time_ms, "last_block_time", when, "last_exit", how);
}

static json_t *ctl_handle(sup_t *s, const char *req_text, size_t len)
{
    json_error_t jerr;
    json_t *req = json_loadb(req_text, len, 0, &jerr), *reply = NULL;
    const char *cmd = NULL, *name = NULL;
    if (!req || json_unpack(req, "{s:s, s?:s}", "cmd", &cmd, "worker", &name) < 0) {
        reply = json_pack("{s:b, s:s}", "ok", 0, "error",
                          "expected {\"cmd\": \"status\" | \"restart\" | \"stop\"}");
        goto out;
    }
    if (strcmp(cmd, "status") == 0) {
        json_t *arr = json_array();
        ev_tstamp now = ev_time();
        for (int i = 0; i < NWORKERS; i++)
            if (s->w[i].enabled)
                json_array_append_new(arr, worker_json(s, &s->w[i], now));
        reply = json_pack("{s:b, s:o, s:{s:I, s:f, s:b}}", "ok", 1, "workers", arr,
                          "supervisor", "pid", (json_int_t)getpid(), "uptime_s",
                          now - s->started_at, "stopping", s->stopping);
    } else if (strcmp(cmd, "restart") == 0) {
        worker_t *w = NULL;
        for (int i = 0; i < NWORKERS; i++)
            if (name && strcmp(name, s->w[i].name) == 0)
                w = &s->w[i];
        if (!w || !w->enabled) {
            reply = json_pack("{s:b, s:s}", "ok", 0, "error",
                              !w ? "unknown worker: expected alpha or delta"
                                 : "that worker is not enabled in this node");
        } else if (s->stopping) {
            reply = json_pack("{s:b, s:s}", "ok", 0, "error", "the node is stopping");
        } else {
            log_info("worker_restart_requested", "worker=%s state=%s", w->name,
                     wstate_names[w->state]);
            if (w->state == W_RUNNING || w->state == W_STARTING) {
                w->restart_requested = true;
                worker_begin_stop(w);
            } else if (w->state == W_BACKOFF || w->state == W_STOPPED) {
                ev_timer_stop(s->loop, &w->timer);
                worker_spawn(w);
            } else if (w->state == W_STOPPING) {
                w->restart_requested = true;
            }
            reply = json_pack("{s:b, s:s}", "ok", 1, "worker", w->name);
        }
    } else if (strcmp(cmd, "stop") == 0) {
        reply = json_pack("{s:b}", "ok", 1);
        sup_begin_stop(s, ADNET_EXIT_OK);
    } else {
        reply = json_pack("{s:b, s:s}", "ok", 0, "error", "unknown command");
    }
out:
    json_decref(req);
    return reply;
}

static void on_ctl(struct ev_loop *loop, ev_io *io, int revents)
{
    sup_t *s = io->data;
    /* ZMQ_FD is edge-triggered: drain while ZMQ_EVENTS says readable. */
    for (;;) {
        int events = 0;
        size_t sz = sizeof(events);
        if (zmq_getsockopt(s->zrep, ZMQ_EVENTS, &events, &sz) < 0 || !(events & ZMQ_POLLIN))
            return;
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, s->zrep, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            return;
        }
        json_t *reply = zmq_msg_size(&msg) > CTL_MSG_MAX
                            ? json_pack("{s:b, s:s}", "ok", 0, "error", "request too large")
                            : ctl_handle(s, zmq_msg_data(&msg), zmq_msg_size(&msg));
        zmq_msg_close(&msg);
        char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
        const char *out = text ? text : "{\"ok\":false,\"error\":\"out of memory\"}";
        zmq_send(s->zrep, out, strlen(out), ZMQ_DONTWAIT);
        free(text);
        json_decref(reply);
    }
}

static int ctl_open(sup_t *s)
{
    char ep[CTL_ENDPOINT_MAX];
    int zero = 0, fd;
    size_t sz = sizeof(fd);
    if (ctl_endpoint(s->opt->home, ep) < 0) {
        log_error("control_socket_failed", "reason=\"home path too long for a unix socket\"");
        return -ENAMETOOLONG;
    }
    unlink(ep + strlen("ipc://")); /* left by a killed supervisor; we hold the lock */
    if (!(s->zctx = zmq_ctx_new()) || !(s->zrep = zmq_socket(s->zctx, ZMQ_REP)) ||
        zmq_setsockopt(s->zrep, ZMQ_LINGER, &zero, sizeof(zero)) < 0 ||
        zmq_bind(s->zrep, ep) < 0 || zmq_getsockopt(s->zrep, ZMQ_FD, &fd, &sz) < 0) {
        log_error("control_socket_failed", "endpoint=%s reason=\"%s\"", ep, zmq_strerror(errno));
        return -EIO;
    }
    ev_io_init(&s->ctl_io, on_ctl, fd, EV_READ);
    s->ctl_io.data = s;
    ev_io_start(s->loop, &s->ctl_io);
    log_info("control_socket", "endpoint=%s", ep);
    return 0;
}

/* ---- set-up ---- */

/* Find adnet-<name>: beside this executable when installed, or in the
 * build tree's <name>-worker/ directory. */
static int find_worker_exe(const char *name, char out[PATH_MAX])
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n < 0)
        return -errno;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return -ENOENT;
    *slash = '\0';
    if (fs_path(out, PATH_MAX, "%s/adnet-%s", self, name) == 0 && access(out, X_OK) == 0)
        return 0;
    if (fs_path(out, PATH_MAX, "%s/../%s-worker/adnet-%s", self, name, name) == 0 &&
        access(out, X_OK) == 0)
        return 0;
    return -ENOENT;
}

static int take_lock(const char *home, int *fd_out)
{
    char path[PATH_MAX], pid[32];
    if (fs_path(path, sizeof(path), "%s/run/adnet.lock", home) < 0)
        return -ENAMETOOLONG;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        ssize_t n = read(fd, pid, sizeof(pid) - 1);
        pid[n > 0 ? n : 0] = '\0';
        log_error("already_running", "home=%s pid=%s reason=\"another supervisor holds %s\"",
                  home, n > 0 ? pid : "?", path);
        close(fd);
        return -EBUSY;
    }
    if (ftruncate(fd, 0) == 0) {
        int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
        if (write(fd, pid, (size_t)len) < 0)
            log_debug("lock_pid_write_failed", "errno=%d", errno);
    }
    *fd_out = fd;
    return 0;
}

int sup_run(const sup_options_t *opt)
{
    sup_t *s = calloc(1, sizeof(*s));
    const config_t *cfg = opt->cfg;
    int lock_fd = -1, rc = ADNET_EXIT_SYSTEM;
    char run_dir[PATH_MAX];
    if (!s)
        return ADNET_EXIT_SYSTEM;
    s->opt = opt;
    s->exit_code = ADNET_EXIT_OK;

    if (fs_path(run_dir, sizeof(run_dir), "%s/run", opt->home) < 0 ||
        fs_mkdir_p(run_dir, 0700) < 0) {
        log_error("run_dir_failed", "path=%s reason=\"%s\"", run_dir, strerror(errno));
        goto out;
    }
    int r = take_lock(opt->home, &lock_fd);
    if (r < 0) {
        if (r != -EBUSY)
            log_error("lock_failed", "home=%s reason=\"%s\"", opt->home, strerror(-r));
        rc = r == -EBUSY ? ADNET_EXIT_CONFIG : ADNET_EXIT_SYSTEM;
        goto out;
    }

    s->loop = ev_default_loop(EVFLAG_AUTO | EVFLAG_NOENV);
    s->started_at = ev_time();
    static const char *const names[NWORKERS] = { "alpha", "delta" };
    for (int i = 0; i < NWORKERS; i++) {
        worker_t *w = &s->w[i];
        w->sup = s;
        w->name = names[i];
        w->sock = -1;
        w->last_status = -1;
        w->enabled = (i == 0 ? cfg->alpha.enabled : cfg->delta.enabled) &&
                     (!opt->only || strcmp(opt->only, names[i]) == 0);
        w->deaths_cap = cfg->supervisor.restart_burst + 1;
        if (!(w->deaths = calloc(w->deaths_cap, sizeof(*w->deaths))))
            goto out;
        if (w->enabled && find_worker_exe(w->name, w->exe) < 0) {
            log_error("worker_missing", "worker=%s reason=\"adnet-%s not found beside adnet\"",
                      w->name, w->name);
            rc = ADNET_EXIT_CONFIG;
            goto out;
        }
        ev_child_init(&w->child, on_worker_exit, 0, 0);
        w->child.data = w;
        ev_io_init(&w->io, on_worker_io, -1, EV_READ);
        w->io.data = w;
        ev_timer_init(&w->timer, on_worker_timer, 0., 0.);
        w->timer.data = w;
        ev_init(&w->hb, on_worker_hb);
        w->hb.repeat = cfg->supervisor.heartbeat_timeout_ms / 1000.0;
        w->hb.data = w;
    }
    if (!s->w[0].enabled && !s->w[1].enabled) {
        log_error("nothing_to_run", "reason=\"both chains are disabled\"");
        rc = ADNET_EXIT_CONFIG;
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    ev_signal_init(&s->sigterm, on_signal, SIGTERM);
    ev_signal_init(&s->sigint, on_signal, SIGINT);
    ev_signal_init(&s->sighup, on_signal, SIGHUP);
    s->sigterm.data = s->sigint.data = s->sighup.data = s;
    ev_signal_start(s->loop, &s->sigterm);
    ev_signal_start(s->loop, &s->sigint);
    ev_signal_start(s->loop, &s->sighup);
    if (ctl_open(s) < 0)
        goto out;
    ev_timer_init(&s->status_timer, on_status_timer, 1., 1.);
    s->status_timer.data = s;
    ev_timer_start(s->loop, &s->status_timer);
    uint64_t wd = sdn_watchdog_usec();
    if (wd) {
        ev_timer_init(&s->watchdog, on_watchdog, 0., wd / 2e6);
        ev_timer_start(s->loop, &s->watchdog);
        log_info("watchdog", "interval_ms=%.0f", wd / 2e3);
    }

    log_info("node_starting", "home=%s alpha=%s delta=%s pid=%ld", opt->home,
             s->w[0].enabled ? "on" : "off", s->w[1].enabled ? "on" : "off", (long)getpid());
    worker_spawn(s->w[0].enabled ? &s->w[0] : &s->w[1]);
    ev_run(s->loop, 0);
    rc = s->exit_code;
out:
    if (s->zrep) {
        char ep[CTL_ENDPOINT_MAX];
        zmq_close(s->zrep);
        if (ctl_endpoint(opt->home, ep) == 0)
            unlink(ep + strlen("ipc://"));
    }
    if (s->zctx)
        zmq_ctx_term(s->zctx);
    for (int i = 0; i < NWORKERS; i++) {
        if (s->w[i].pid > 0) /* only on a set-up failure path */
            kill(s->w[i].pid, SIGKILL);
        if (s->w[i].sock >= 0)
            close(s->w[i].sock);
        free(s->w[i].deaths);
    }
    if (s->loop)
        ev_loop_destroy(s->loop);
    if (lock_fd >= 0)
        close(lock_fd);
    free(s);
    return rc;
}
