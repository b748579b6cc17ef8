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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "adnet_chains.h"
#include "common/base/clock.h"
#include "common/base/exitcode.h"
#include "common/base/fsutil.h"
#include "common/base/log.h"
#include "common/base/workerstate.h"
#include "proto/notify.h"
#include "supervisor/child.h"
#include "supervisor/ctl.h"
#include "supervisor/homelock.h"
#include "supervisor/ipclinks.h"
#include "supervisor/sdnotify.h"

#define NOTIFY_FD 3 /* where a worker finds its notification socket */
#define IPC_FD 4    /* ... and its rings and their wake-ups, IPC_FD..+3 */

/* The node's chains in start order, as the build lists them. */
typedef struct {
    const char *name;
    const char *exe;   /* executable's file name */
    const char *after; /* the chain that must be ready first, or NULL */
} chain_entry_t;

#define CHAIN_ENTRY(name, exe, after, interval, listen) { name, exe, after },
static const chain_entry_t chain_list[] = { ADNET_NODE_CHAINS(CHAIN_ENTRY) };
#undef CHAIN_ENTRY
#define NCHILDREN (sizeof(chain_list) / sizeof(chain_list[0]))

typedef struct sup sup_t;

/* A child as the supervisor carries it out: its lifecycle (child.h, which
 * decides) and the process, socket and watchers (this file, which acts). */
typedef struct {
    child_t c;
    sup_t *sup;
    char exe[PATH_MAX];
    pid_t pid;                 /* 0 without a process */
    int sock;                  /* supervisor's end of the notification socket, -1 if none */
    ev_child child;
    ev_io io;
    ev_timer deadline;         /* ready timeout, back-off or stop timeout: */
    child_event_t deadline_ev; /* ... the event it reports when it fires */
    ev_timer hb;               /* heartbeat timeout while running */
    ev_tstamp spawned_at, ready_at;
    uint64_t height, block_time_ms;
    int last_status;           /* raw wait status of the last exit, -1 if none */
    char why[160];             /* while failed: why, for the log, status and STATUS= */
    ev_tstamp retry_at;        /* while failed by a crash loop: when it is tried again (0: never) */
    char halted[NOTIFY_REASON_MAX + 1]; /* while it reports HALTED: its reason; "" otherwise */
    const char *peer;          /* the chain it is linked to (ipclinks.h), or NULL */
    int ipc_fds[IPCLINK_NFDS]; /* its ends of that link's rings */
} child_io_t;

struct sup {
    const sup_options_t *opt;
    struct ev_loop *loop;
    child_io_t ch[NCHILDREN];  /* start order; stop order is the reverse */
    ipclink_t links[NCHILDREN]; /* links[i]: chain i and the chain it starts after */
    ev_signal sigterm, sigint, sighup;
    ev_timer status_timer;
    ev_timer watchdog;
    ev_io ctl_io;
    ctl_server_t *ctl;         /* the control socket, NULL until opened */
    bool stopping;
    bool stopped;              /* every child is down: the loop is ending */
    bool notified_ready;
    int exit_code;
    ev_tstamp started_at;
    int lock_fd;               /* <home>/run/adnet.lock, held while running; -1 if none */
    char workers_path[PATH_MAX]; /* <home>/run/workers.json, for the workers' /metrics */
};

static void child_feed(child_io_t *ci, child_event_t ev);
static void sup_begin_stop(sup_t *s, int exit_code);
static void sup_advance(sup_t *s);

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

static uint64_t mono_ms(void)
{
    return clock_mono_us() / 1000;
}

/* Write "<chain>=<what> <chain>=off ..." for the node's chains in start
 * order: for an enabled one "on", or with states its state; "off"
 * otherwise. */
static void format_chains(const sup_t *s, bool states, char *out, size_t cap)
{
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; i < NCHILDREN && off < cap; i++) {
        const child_t *c = &s->ch[i].c;
        off += (size_t)snprintf(out + off, cap - off, "%s%s=%s", i ? " " : "", c->name,
                                !c->enabled ? "off" : states ? child_state_name(c->state) : "on");
    }
}

/* Seconds until ci's retry, rounded up; 0 if none is due. */
static long retry_in_s(const child_io_t *ci, ev_tstamp now)
{
    double left = ci->retry_at - now;
    return ci->c.state == CHILD_FAILED && ci->retry_at > 0 && left > 0 ? (long)left + 1 : 0;
}

/* STATUS= for systemd: each enabled worker's state and height, and why a
 * failed one failed. */
static void sup_update_status(sup_t *s)
{
    char buf[768];
    ev_tstamp now = ev_now(s->loop);
    size_t off = (size_t)snprintf(buf, sizeof(buf), "STATUS=");
    for (size_t i = 0; i < NCHILDREN && off < sizeof(buf); i++) {
        const child_io_t *ci = &s->ch[i];
        const char *sep = off > 7 ? "; " : "";
        if (!ci->c.enabled)
            continue;
        if (ci->halted[0] != '\0')
            off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s halted (%.80s) height "
                                    "%llu", sep, ci->c.name, ci->halted,
                                    (unsigned long long)ci->height);
        else if (ci->c.state != CHILD_FAILED)
            off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s %s height %llu", sep,
                                    ci->c.name, child_state_name(ci->c.state),
                                    (unsigned long long)ci->height);
        else if (retry_in_s(ci, now) > 0)
            off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s failed (%s), retry in "
                                    "%ld s", sep, ci->c.name, ci->why, retry_in_s(ci, now));
        else
            off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s failed (%s)", sep,
                                    ci->c.name, ci->why);
    }
    sdn_notify(buf);
}

/* True if every enabled child is failed. */
static bool sup_all_failed(const sup_t *s)
{
    for (size_t i = 0; i < NCHILDREN; i++)
        if (s->ch[i].c.enabled && s->ch[i].c.state != CHILD_FAILED)
            return false;
    return true;
}

/* READY=1 once every enabled worker is past its start: running, or failed
 * in a crash loop (the node serves the others; STATUS= says which failed). */
static void sup_check_all_ready(sup_t *s)
{
    char chains[256];
    if (s->notified_ready || s->stopping)
        return;
    for (size_t i = 0; i < NCHILDREN; i++)
        if (s->ch[i].c.enabled && s->ch[i].c.state != CHILD_RUNNING &&
            s->ch[i].c.state != CHILD_FAILED)
            return;
    s->notified_ready = true;
    sdn_notify("READY=1");
    sup_update_status(s);
    format_chains(s, true, chains, sizeof(chains));
    log_info("node_ready", "%s", chains);
}

/* Publish every child's state in <home>/run/workers.json, where the
 * workers' /metrics read it (common/base/workerstate.h). */
static void sup_publish_states(sup_t *s)
{
    const char *states[CHILD_NSTATES];
    workerstate_t ws[NCHILDREN];
    size_t n = 0;
    for (int st = 0; st < CHILD_NSTATES; st++)
        states[st] = child_state_name((child_state_t)st);
    for (size_t i = 0; i < NCHILDREN; i++)
        if (s->ch[i].c.enabled)
            ws[n++] = (workerstate_t){ s->ch[i].c.name, child_state_name(s->ch[i].c.state),
                                       s->ch[i].c.state == CHILD_RUNNING };
    int r = workerstate_write(s->workers_path, states, CHILD_NSTATES, ws, n);
    if (r < 0)
        log_warn("worker_states_unwritten", "path=%s reason=\"%s\"", s->workers_path,
                 strerror(-r));
}

/* ---- carrying out what child_step decided ---- */

static void child_kill(child_io_t *ci, int sig)
{
    if (ci->pid > 0 && kill(ci->pid, sig) < 0 && errno != ESRCH)
        log_warn("kill_failed", "worker=%s pid=%ld errno=%d", ci->c.name, (long)ci->pid, errno);
}

/* Arm ci's one deadline: when it fires, ev is fed to the child. */
static void child_arm_deadline(child_io_t *ci, double seconds, child_event_t ev)
{
    struct ev_loop *loop = ci->sup->loop;
    ev_timer_stop(loop, &ci->deadline);
    ev_timer_set(&ci->deadline, seconds, 0.);
    ci->deadline_ev = ev;
    ev_timer_start(loop, &ci->deadline);
}

/* The process is gone: stop watching it. */
static void child_forget_process(child_io_t *ci)
{
    struct ev_loop *loop = ci->sup->loop;
    ev_child_stop(loop, &ci->child);
    ev_io_stop(loop, &ci->io);
    ev_timer_stop(loop, &ci->deadline);
    ev_timer_stop(loop, &ci->hb);
    if (ci->sock >= 0)
        close(ci->sock);
    ci->sock = -1;
    ci->pid = 0;
    ci->halted[0] = '\0';
}

/* In the forked child: put the notification socket at NOTIFY_FD and the
 * link's descriptors at IPC_FD.. (without CLOEXEC, so they pass exec).
 * Each goes to a high number first, since a source may sit where another
 * one is due (dup2 onto itself would also keep its CLOEXEC).
 * Async-signal-safe. */
static int child_place_fds(const child_io_t *ci, int notify_sock)
{
    int src[1 + IPCLINK_NFDS], n = 1;
    src[0] = notify_sock;
    if (ci->peer)
        for (int i = 0; i < IPCLINK_NFDS; i++)
            src[n++] = ci->ipc_fds[i];
    for (int i = 0; i < n; i++)
        if ((src[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 64)) < 0)
            return -1;
    for (int i = 0; i < n; i++)
        if (dup2(src[i], i == 0 ? NOTIFY_FD : IPC_FD + i - 1) < 0)
            return -1;
    return 0;
}

/* Fork and exec ci's worker with its notification socket as fd 3, and arm
 * its ready timeout. Return 0, or -errno (logged) if nothing was started. */
static int child_spawn(child_io_t *ci)
{
    sup_t *s = ci->sup;
    int sv[2];
    char fdarg[16];
    char *argv[80];
    int argc = 0;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        int e = errno;
        log_error("spawn_failed", "worker=%s reason=\"socketpair: %s\"", ci->c.name, strerror(e));
        return -e;
    }
    char restarts[16];
    snprintf(fdarg, sizeof(fdarg), "%d", NOTIFY_FD);
    snprintf(restarts, sizeof(restarts), "%u", ci->c.restarts);
    argv[argc++] = ci->exe;
    argv[argc++] = "--home";
    argv[argc++] = (char *)s->opt->home;
    argv[argc++] = "--notify-fd";
    argv[argc++] = fdarg;
    argv[argc++] = "--restarts";
    argv[argc++] = restarts;
    char ipcarg[16];
    if (ci->peer) {
        snprintf(ipcarg, sizeof(ipcarg), "%d", IPC_FD);
        argv[argc++] = "--peer";
        argv[argc++] = (char *)ci->peer;
        argv[argc++] = "--ipc-fd";
        argv[argc++] = ipcarg;
    }
    for (char *const *a = s->opt->worker_args; a && *a && argc < 76; a++)
        argv[argc++] = *a;
    argv[argc] = NULL;

    ci->spawned_at = ev_time();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        log_error("spawn_failed", "worker=%s reason=\"fork: %s\"", ci->c.name, strerror(e));
        close(sv[0]);
        close(sv[1]);
        return -e;
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
        if (child_place_fds(ci, sv[1]) < 0)
            _exit(ADNET_EXIT_SYSTEM);
        execv(ci->exe, argv);
        _exit(ADNET_EXIT_SYSTEM);
    }
    close(sv[1]);
    ci->sock = sv[0];
    ci->pid = pid;
    ci->why[0] = '\0';
    ci->retry_at = 0;
    ev_child_set(&ci->child, pid, 0);
    ev_child_start(s->loop, &ci->child);
    ev_io_set(&ci->io, ci->sock, EV_READ);
    ev_io_start(s->loop, &ci->io);
    child_arm_deadline(ci, s->opt->cfg->supervisor.ready_timeout_ms / 1000.0,
                       CHILD_EV_READY_TIMEOUT);
    log_info("worker_spawned", "worker=%s pid=%ld exe=%s", ci->c.name, (long)pid, ci->exe);
    return 0;
}

static void child_up(child_io_t *ci)
{
    struct ev_loop *loop = ci->sup->loop;
    ev_timer_stop(loop, &ci->deadline);
    ci->ready_at = ev_now(loop);
    ev_timer_again(loop, &ci->hb);
    log_info("worker_ready", "worker=%s pid=%ld height=%llu startup_ms=%.1f", ci->c.name,
             (long)ci->pid, (unsigned long long)ci->height, (ev_time() - ci->spawned_at) * 1e3);
}

static void child_term(child_io_t *ci)
{
    child_kill(ci, SIGTERM);
    ev_timer_stop(ci->sup->loop, &ci->hb);
    child_arm_deadline(ci, ci->sup->opt->cfg->supervisor.stop_timeout_s, CHILD_EV_STOP_TIMEOUT);
    log_info("worker_stopping", "worker=%s pid=%ld", ci->c.name, (long)ci->pid);
}

/* SIGKILL, logged with the timeout (ev) that called for it. */
static void child_kill_for(child_io_t *ci, child_event_t ev)
{
    const config_t *cfg = ci->sup->opt->cfg;
    if (ev == CHILD_EV_READY_TIMEOUT)
        log_error("worker_ready_timeout", "worker=%s pid=%ld timeout_ms=%u action=kill",
                  ci->c.name, (long)ci->pid, cfg->supervisor.ready_timeout_ms);
    else if (ev == CHILD_EV_HEARTBEAT_TIMEOUT)
        log_error("worker_unresponsive", "worker=%s pid=%ld silent_ms=%u action=kill",
                  ci->c.name, (long)ci->pid, cfg->supervisor.heartbeat_timeout_ms);
    else
        log_warn("worker_stop_timeout", "worker=%s pid=%ld timeout_s=%u action=kill",
                 ci->c.name, (long)ci->pid, cfg->supervisor.stop_timeout_s);
    child_kill(ci, SIGKILL);
}

/* Do what child_step asked for after event ev. */
static void child_perform(child_io_t *ci, child_event_t ev, const child_action_t *a)
{
    switch (a->act) {
    case CHILD_ACT_NONE:
        break;
    case CHILD_ACT_SPAWN:
        if (child_spawn(ci) < 0) {
            ci->last_status = ADNET_EXIT_SYSTEM << 8; /* shown like a failed start */
            child_feed(ci, CHILD_EV_SPAWN_FAILED);
        }
        break;
    case CHILD_ACT_UP:
        child_up(ci);
        break;
    case CHILD_ACT_WATCH:
        ev_timer_again(ci->sup->loop, &ci->hb);
        break;
    case CHILD_ACT_EXTEND:
        child_arm_deadline(ci, ci->sup->opt->cfg->supervisor.ready_timeout_ms / 1000.0,
                           CHILD_EV_READY_TIMEOUT);
        break;
    case CHILD_ACT_TERM:
        child_term(ci);
        break;
    case CHILD_ACT_KILL:
        child_kill_for(ci, ev);
        break;
    case CHILD_ACT_BACKOFF:
        child_arm_deadline(ci, a->delay_ms / 1000.0, CHILD_EV_BACKOFF_ELAPSED);
        break;
    case CHILD_ACT_CANCEL:
        ev_timer_stop(ci->sup->loop, &ci->deadline);
        break;
    case CHILD_ACT_FAIL:
        sup_begin_stop(ci->sup, a->exit_code);
        break;
    case CHILD_ACT_RETRY_LATER:
        if (a->delay_ms > 0) {
            child_arm_deadline(ci, a->delay_ms / 1000.0, CHILD_EV_RETRY);
            ci->retry_at = ev_now(ci->sup->loop) + a->delay_ms / 1000.0;
        }
        /* The others keep running; only a node with nothing left stops. */
        if (sup_all_failed(ci->sup))
            sup_begin_stop(ci->sup, a->exit_code);
        break;
    }
}

/* Step ci's lifecycle with ev (status: for CHILD_EV_EXITED) and write the
 * action to *a. Return 0, or -EINVAL if the step refused (a bug here). */
static int child_step_now(child_io_t *ci, child_event_t ev, int status, child_action_t *a)
{
    child_state_t was = ci->c.state;
    int r = child_step(&ci->c, ev, mono_ms(), status, a);
    if (r < 0)
        log_error("child_step_failed", "worker=%s event=%d state=%d", ci->c.name, (int)ev,
                  (int)was);
    else if (ci->c.state != was) {
        log_debug("worker_state", "worker=%s from=%s to=%s", ci->c.name, child_state_name(was),
                  child_state_name(ci->c.state));
        sup_publish_states(ci->sup);
    }
    return r;
}

static void child_feed(child_io_t *ci, child_event_t ev)
{
    child_action_t a;
    if (child_step_now(ci, ev, 0, &a) == 0)
        child_perform(ci, ev, &a);
}

/* ---- what the loop reports ---- */

/* A worker that reports HALTED is alive but produces no blocks: keep its
 * reason for status until it reports anything else. */
static void child_note_halted(child_io_t *ci, const notify_msg_t *m)
{
    if (m->kind == NOTIFY_HALTED && strcmp(ci->halted, m->reason) != 0)
        log_error("worker_halted", "worker=%s height=%llu reason=\"%s\"", ci->c.name,
                  (unsigned long long)m->height, m->reason);
    else if (m->kind != NOTIFY_HALTED && ci->halted[0] != '\0')
        log_info("worker_resumed", "worker=%s height=%llu", ci->c.name,
                 (unsigned long long)m->height);
    snprintf(ci->halted, sizeof(ci->halted), "%s", m->kind == NOTIFY_HALTED ? m->reason : "");
}

static void on_child_io(struct ev_loop *loop, ev_io *io, int revents)
{
    child_io_t *ci = io->data;
    uint8_t buf[512]; /* above the longest notification: a packet is never cut */
    for (;;) {
        ssize_t n = recv(ci->sock, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            /* EOF: the worker is gone or closing; its exit arrives as SIGCHLD. */
            ev_io_stop(loop, io);
            break;
        }
        notify_msg_t m;
        const char *what = NULL;
        int r = notify_decode(&m, buf, (size_t)n, &what);
        if (r < 0) {
            log_warn("notify_refused", "worker=%s reason=\"%s at %s\"", ci->c.name,
                     r == -EPROTONOSUPPORT ? "unknown version" : "malformed message",
                     what ? what : "?");
            continue;
        }
        ci->height = m.height;
        ci->block_time_ms = m.time_ms;
        child_note_halted(ci, &m);
        child_feed(ci, m.kind == NOTIFY_READY ? CHILD_EV_READY : CHILD_EV_ALIVE);
    }
    sup_advance(ci->sup);
}

static void on_child_deadline(struct ev_loop *loop, ev_timer *t, int revents)
{
    child_io_t *ci = t->data;
    if (ci->deadline_ev == CHILD_EV_RETRY)
        log_info("worker_retry", "worker=%s after=\"%s\"", ci->c.name, ci->why);
    child_feed(ci, ci->deadline_ev);
    sup_advance(ci->sup);
}

static void on_child_hb(struct ev_loop *loop, ev_timer *t, int revents)
{
    child_io_t *ci = t->data;
    ev_timer_stop(loop, t);
    child_feed(ci, CHILD_EV_HEARTBEAT_TIMEOUT);
    sup_advance(ci->sup);
}

static const char *fatal_reason(int code)
{
    switch (code) {
    case ADNET_EXIT_OK: return "exited without being asked";
    case ADNET_EXIT_CONFIG: return "configuration error; fix it, then start again";
    case ADNET_EXIT_LEDGER: return "ledger refused; see the worker's log line";
    default: return "upgrade needed at this height";
    }
}

/* A crash loop failed ci: note why and log it at error level, with what
 * follows (a retry, the operator's restart, or the node's stop). */
static void log_crash_loop(child_io_t *ci, pid_t pid, const char *how, const child_action_t *a)
{
    const config_t *cfg = ci->sup->opt->cfg;
    char others[256];
    snprintf(ci->why, sizeof(ci->why), "crash loop: %u exits within %u s, the last %s",
             a->deaths, cfg->supervisor.restart_interval_s, how);
    format_chains(ci->sup, true, others, sizeof(others));
    if (sup_all_failed(ci->sup))
        log_error("worker_failed", "worker=%s pid=%ld %s restarts_in_window=%u window_s=%u "
                  "reason=\"crash loop\" action=stop_node workers=\"%s\"", ci->c.name,
                  (long)pid, how, a->deaths - 1, cfg->supervisor.restart_interval_s, others);
    else
        log_error("worker_failed", "worker=%s pid=%ld %s restarts_in_window=%u window_s=%u "
                  "reason=\"crash loop\" action=%s retry_in_s=%u workers=\"%s\"", ci->c.name,
                  (long)pid, how, a->deaths - 1, cfg->supervisor.restart_interval_s,
                  a->delay_ms ? "retry" : "wait_for_restart", a->delay_ms / 1000, others);
}

/* Log an exit of pid, which was in state was, once child_step has said
 * what follows from it. */
static void log_exit(child_io_t *ci, pid_t pid, child_state_t was, const child_action_t *a)
{
    char how[48];
    describe_status(ci->last_status, how, sizeof(how));
    if (was == CHILD_STOPPING) {
        log_info("worker_stopped", "worker=%s pid=%ld %s", ci->c.name, (long)pid, how);
    } else if (a->act == CHILD_ACT_RETRY_LATER) {
        log_crash_loop(ci, pid, how, a);
    } else if (a->act == CHILD_ACT_FAIL) {
        snprintf(ci->why, sizeof(ci->why), "%s: %s", how,
                 fatal_reason(WEXITSTATUS(ci->last_status)));
        log_error("worker_failed", "worker=%s pid=%ld %s reason=\"%s\" action=stop_node",
                  ci->c.name, (long)pid, how, fatal_reason(WEXITSTATUS(ci->last_status)));
    } else if (a->act == CHILD_ACT_SPAWN || a->act == CHILD_ACT_BACKOFF) {
        log_warn("worker_died", "worker=%s pid=%ld %s height=%llu restart_in_ms=%u restarts=%u",
                 ci->c.name, (long)pid, how, (unsigned long long)ci->height, a->delay_ms,
                 ci->c.restarts);
    }
}

static void on_child_exit(struct ev_loop *loop, ev_child *c, int revents)
{
    child_io_t *ci = c->data;
    child_state_t was = ci->c.state;
    pid_t pid = ci->pid;
    child_action_t a;
    child_forget_process(ci);
    ci->last_status = c->rstatus;
    if (child_step_now(ci, CHILD_EV_EXITED, c->rstatus, &a) == 0) {
        log_exit(ci, pid, was, &a);
        child_perform(ci, CHILD_EV_EXITED, &a);
    }
    sup_update_status(ci->sup);
    sup_advance(ci->sup);
}

/* ---- the node ---- */

/* Stop the children one at a time in reverse start order. */
static void sup_stop_next(sup_t *s)
{
    if (s->stopped)
        return;
    for (size_t i = NCHILDREN; i-- > 0;) {
        child_io_t *ci = &s->ch[i];
        child_feed(ci, CHILD_EV_STOP);
        if (ci->c.state == CHILD_STOPPING)
            return; /* wait for its exit */
    }
    s->stopped = true;
    log_info("node_stopped", "exit=%d", s->exit_code);
    ev_break(s->loop, EVBREAK_ALL);
}

/* Move the node on after anything happened: while stopping, stop the
 * next child; otherwise start every child whose after is ready, and tell
 * systemd once all run. */
static void sup_advance(sup_t *s)
{
    if (s->stopping) {
        sup_stop_next(s);
        return;
    }
    for (size_t i = 0; i < NCHILDREN; i++)
        if (s->ch[i].c.enabled)
            child_feed(&s->ch[i], CHILD_EV_START);
    sup_check_all_ready(s);
}

/* Begin stopping the node with exit_code (the first reason wins); the
 * next sup_advance stops the first child. */
static void sup_begin_stop(sup_t *s, int exit_code)
{
    if (s->stopping)
        return;
    s->stopping = true;
    s->exit_code = exit_code;
    sdn_notify("STOPPING=1");
    log_info("node_stopping", "exit=%d", exit_code);
    for (size_t i = 0; i < NCHILDREN; i++)
        child_feed(&s->ch[i], CHILD_EV_HOLD);
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
    sup_advance(s);
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

static json_t *child_json(const child_io_t *ci, ev_tstamp now)
{
    char how[48], when[CLOCK_ISO8601_MAX] = "";
    describe_status(ci->last_status, how, sizeof(how));
    if (ci->block_time_ms)
        clock_iso8601(when, ci->block_time_ms);
    double uptime = ci->c.state == CHILD_RUNNING ? now - ci->ready_at : 0.;
    bool failed = ci->c.state == CHILD_FAILED;
    long retry = retry_in_s(ci, now);
    /* pid is null, not 0, without a process: `kill -9 0` would hit a whole group. */
    json_t *o = json_pack("{s:s, s:b, s:o, s:s, s:I, s:f, s:I, s:I, s:s, s:s, s:o, s:o, s:o}", "name",
                     ci->c.name, "enabled", ci->c.enabled, "pid",
                     ci->pid > 0 ? json_integer((json_int_t)ci->pid) : json_null(), "state",
                     child_state_name(ci->c.state), "restarts", (json_int_t)ci->c.restarts,
                     "uptime_s", uptime, "height", (json_int_t)ci->height, "last_block_time_ms",
                     (json_int_t)ci->block_time_ms, "last_block_time", when, "last_exit", how,
                     "failed_reason", failed ? json_string(ci->why) : json_null(), "retry_in_s",
                     retry > 0 ? json_integer(retry) : json_null(), "halted",
                     ci->halted[0] ? json_string(ci->halted) : json_null());
    if (o)
        json_object_set_new(o, "peer", ci->peer ? json_string(ci->peer) : json_null());
    return o;
}

static json_t *ctl_error(const char *why)
{
    return json_pack("{s:b, s:s}", "ok", 0, "error", why);
}

static json_t *ctl_status(const sup_t *s)
{
    json_t *arr = json_array();
    ev_tstamp now = ev_time();
    for (size_t i = 0; i < NCHILDREN; i++)
        if (s->ch[i].c.enabled)
            json_array_append_new(arr, child_json(&s->ch[i], now));
    return json_pack("{s:b, s:o, s:{s:I, s:f, s:b}}", "ok", 1, "workers", arr, "supervisor",
                     "pid", (json_int_t)getpid(), "uptime_s", now - s->started_at, "stopping",
                     s->stopping);
}

static json_t *ctl_restart(sup_t *s, const char *name)
{
    child_io_t *ci = NULL;
    for (size_t i = 0; i < NCHILDREN; i++)
        if (name && strcmp(name, s->ch[i].c.name) == 0)
            ci = &s->ch[i];
    if (!ci) {
        char why[160];
        size_t off = (size_t)snprintf(why, sizeof(why), "unknown worker: expected ");
        for (size_t i = 0; i < NCHILDREN && off < sizeof(why); i++)
            off += (size_t)snprintf(why + off, sizeof(why) - off, "%s%s",
                                    i == 0 ? "" : i + 1 < NCHILDREN ? ", " : " or ",
                                    s->ch[i].c.name);
        return ctl_error(why);
    }
    if (!ci->c.enabled)
        return ctl_error("that worker is not enabled in this node");
    if (s->stopping)
        return ctl_error("the node is stopping");
    log_info("worker_restart_requested", "worker=%s state=%s", ci->c.name,
             child_state_name(ci->c.state));
    child_feed(ci, CHILD_EV_RESTART);
    return json_pack("{s:b, s:s}", "ok", 1, "worker", ci->c.name);
}

/* Carry out one control request; return the reply (NULL if out of memory).
 * A key given twice is refused: which one would count is not obvious
 * ({"cmd":"status","cmd":"stop"}). */
static json_t *ctl_handle(sup_t *s, const char *req_text, size_t len)
{
    json_error_t jerr;
    json_t *req = json_loadb(req_text, len, JSON_REJECT_DUPLICATES, &jerr), *reply = NULL;
    const char *cmd = NULL, *name = NULL;
    if (!req) {
        char why[CTL_ERR_MAX];
        snprintf(why, sizeof(why), "the request is not valid JSON: %s", jerr.text);
        reply = ctl_error(why);
        goto out;
    }
    if (json_unpack(req, "{s:s, s?:s}", "cmd", &cmd, "worker", &name) < 0) {
        reply = ctl_error("expected {\"cmd\": \"status\" | \"restart\" | \"stop\"}");
        goto out;
    }
    if (strcmp(cmd, "status") == 0) {
        reply = ctl_status(s);
    } else if (strcmp(cmd, "restart") == 0) {
        reply = ctl_restart(s, name);
    } else if (strcmp(cmd, "stop") == 0) {
        reply = json_pack("{s:b}", "ok", 1);
        sup_begin_stop(s, ADNET_EXIT_OK);
    } else {
        reply = ctl_error("unknown command");
    }
out:
    json_decref(req);
    return reply;
}

static void on_ctl(struct ev_loop *loop, ev_io *io, int revents)
{
    sup_t *s = io->data;
    const char *req;
    size_t len;
    /* Edge-triggered: take requests until none is left. */
    while (ctl_server_next(s->ctl, &req, &len) == 1) {
        json_t *reply = ctl_handle(s, req, len);
        char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
        ctl_server_reply(s->ctl, text ? text : "{\"ok\":false,\"error\":\"out of memory\"}");
        free(text);
        json_decref(reply);
    }
    sup_advance(s);
}

static int ctl_open(sup_t *s)
{
    char err[CTL_ERR_MAX];
    int r = ctl_server_open(&s->ctl, s->opt->home, err);
    if (r < 0) {
        log_error("control_socket_failed", "reason=\"%s\"", err);
        return r;
    }
    ev_io_init(&s->ctl_io, on_ctl, ctl_server_fd(s->ctl), EV_READ);
    s->ctl_io.data = s;
    ev_io_start(s->loop, &s->ctl_io);
    log_info("control_socket", "endpoint=%s", ctl_server_endpoint(s->ctl));
    return 0;
}

/* ---- set-up ---- */

/* Find chain e's worker: beside this executable when installed, or in the
 * build tree's <name>-worker/ directory. */
static int find_worker_exe(const chain_entry_t *e, char out[PATH_MAX])
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
    if (fs_path(out, PATH_MAX, "%s/%s", self, e->exe) == 0 && access(out, X_OK) == 0)
        return 0;
    if (fs_path(out, PATH_MAX, "%s/../%s-worker/%s", self, e->name, e->exe) == 0 &&
        access(out, X_OK) == 0)
        return 0;
    return -ENOENT;
}

/* Create <home>/run and take the node's lock in it. Return 0, -EBUSY if
 * another process holds it, or -errno; logged either way. */
static int sup_lock_home(sup_t *s)
{
    const char *home = s->opt->home;
    pid_t holder = 0;
    int r = homelock_take(home, &s->lock_fd, &holder);
    if (r == -EBUSY && holder > 0)
        log_error("already_running", "home=%s pid=%ld reason=\"another process holds "
                  "%s/run/%s\"", home, (long)holder, home, HOMELOCK_FILE);
    else if (r == -EBUSY)
        log_error("already_running", "home=%s pid=? reason=\"another process holds "
                  "%s/run/%s\"", home, home, HOMELOCK_FILE);
    else if (r < 0)
        log_error("lock_failed", "home=%s reason=\"%s/run/%s: %s\"", home, home, HOMELOCK_FILE,
                  strerror(-r));
    if (r == 0 && workerstate_path(s->workers_path, sizeof(s->workers_path), home) < 0)
        r = -ENAMETOOLONG;
    return r;
}

/* Set up ci as the child of chain e. Return 0, -ENOENT (logged) if e is
 * enabled but has no configuration section or no executable, or -ENOMEM. */
static int child_io_init(sup_t *s, child_io_t *ci, const chain_entry_t *e)
{
    const config_t *cfg = s->opt->cfg;
    const config_chain_t *cc = config_chain(cfg, e->name);
    const child_policy_t policy = { cfg->supervisor.restart_burst,
                                    cfg->supervisor.restart_interval_s,
                                    cfg->supervisor.backoff_initial_ms,
                                    cfg->supervisor.backoff_max_ms,
                                    cfg->supervisor.failed_retry_s };
    bool wanted = !s->opt->only || strcmp(s->opt->only, e->name) == 0;
    ev_child_init(&ci->child, on_child_exit, 0, 0);
    ci->child.data = ci;
    ev_io_init(&ci->io, on_child_io, -1, EV_READ);
    ci->io.data = ci;
    ev_timer_init(&ci->deadline, on_child_deadline, 0., 0.);
    ci->deadline.data = ci;
    ev_init(&ci->hb, on_child_hb);
    ci->hb.repeat = cfg->supervisor.heartbeat_timeout_ms / 1000.0;
    ci->hb.data = ci;
    if (wanted && !cc) {
        log_error("worker_missing", "worker=%s reason=\"the configuration has no section %s\"",
                  e->name, e->name);
        return -ENOENT;
    }
    int r = child_init(&ci->c, e->name, e->after, wanted && cc->enabled, &policy);
    if (r < 0)
        return r;
    if (ci->c.enabled && find_worker_exe(e, ci->exe) < 0) {
        log_error("worker_missing", "worker=%s reason=\"%s not found beside adnet\"", e->name,
                  e->exe);
        return -ENOENT;
    }
    return 0;
}

/* The rings between each chain and the one it starts after, when both
 * are enabled in the configuration (one link per worker: a chain already
 * linked is not linked again). Return 0 or -errno (logged). */
static int sup_links_init(sup_t *s)
{
    for (size_t i = 0; i < NCHILDREN; i++) {
        const config_chain_t *ca, *cb = config_chain(s->opt->cfg, chain_list[i].name);
        size_t j = 0;
        char err[160];
        if (!chain_list[i].after)
            continue;
        while (j < i && strcmp(chain_list[j].name, chain_list[i].after) != 0)
            j++;
        ca = config_chain(s->opt->cfg, chain_list[j].name);
        if (j == i || !ca || !cb || !ca->enabled || !cb->enabled || s->ch[i].peer ||
            s->ch[j].peer)
            continue;
        int r = ipclink_create(&s->links[i], chain_list[j].name, chain_list[i].name, err,
                               sizeof(err));
        if (r < 0) {
            log_error("ipc_rings_failed", "link=%s-%s reason=\"%s\"", chain_list[j].name,
                      chain_list[i].name, err);
            return r;
        }
        s->ch[j].peer = chain_list[i].name;
        s->ch[i].peer = chain_list[j].name;
        ipclink_fds(&s->links[i], 0, s->ch[j].ipc_fds);
        ipclink_fds(&s->links[i], 1, s->ch[i].ipc_fds);
        log_info("ipc_rings", "link=%s-%s slots=%d slot_bytes=%d", chain_list[j].name,
                 chain_list[i].name, IPCLINK_SLOTS, IPCLINK_SLOT_BYTES);
    }
    return 0;
}

/* Build the children from the build's chain list. Return 0, -ENOENT or
 * -EINVAL (logged: missing worker, bad chain list, nothing enabled), or
 * -ENOMEM. */
static int sup_children_init(sup_t *s)
{
    size_t bad = 0, enabled = 0;
    for (size_t i = 0; i < NCHILDREN; i++) {
        s->ch[i].sup = s;
        s->ch[i].last_status = -1;
    }
    for (size_t i = 0; i < NCHILDREN; i++) {
        int r = child_io_init(s, &s->ch[i], &chain_list[i]);
        if (r < 0)
            return r;
        enabled += s->ch[i].c.enabled;
    }
    child_t *cs[NCHILDREN];
    for (size_t i = 0; i < NCHILDREN; i++)
        cs[i] = &s->ch[i].c;
    if (child_link(cs, NCHILDREN, &bad) < 0) {
        log_error("chain_order_invalid", "worker=%s after=%s reason=\"it must name a chain "
                  "listed before it\"", chain_list[bad].name, chain_list[bad].after);
        return -EINVAL;
    }
    if (enabled == 0) {
        log_error("nothing_to_run", "reason=\"every chain is disabled\"");
        return -EINVAL;
    }
    return sup_links_init(s);
}

/* Watch signals, open the control socket, start the status and watchdog
 * timers. Return 0, or -errno (logged) if the control socket failed. */
static int sup_watch(sup_t *s)
{
    signal(SIGPIPE, SIG_IGN);
    ev_signal_init(&s->sigterm, on_signal, SIGTERM);
    ev_signal_init(&s->sigint, on_signal, SIGINT);
    ev_signal_init(&s->sighup, on_signal, SIGHUP);
    s->sigterm.data = s->sigint.data = s->sighup.data = s;
    ev_signal_start(s->loop, &s->sigterm);
    ev_signal_start(s->loop, &s->sigint);
    ev_signal_start(s->loop, &s->sighup);
    int r = ctl_open(s);
    if (r < 0)
        return r;
    ev_timer_init(&s->status_timer, on_status_timer, 1., 1.);
    s->status_timer.data = s;
    ev_timer_start(s->loop, &s->status_timer);
    uint64_t wd = sdn_watchdog_usec();
    if (wd) {
        ev_timer_init(&s->watchdog, on_watchdog, 0., wd / 2e6);
        ev_timer_start(s->loop, &s->watchdog);
        log_info("watchdog", "interval_ms=%.0f", wd / 2e3);
    }
    return 0;
}

static void sup_free(sup_t *s)
{
    ctl_server_close(s->ctl); /* removes the socket file */
    if (s->lock_fd >= 0 && s->workers_path[0])
        unlink(s->workers_path); /* no worker is left to read it */
    for (size_t i = 0; i < NCHILDREN; i++) {
        if (s->ch[i].pid > 0) /* only on a set-up failure path */
            kill(s->ch[i].pid, SIGKILL);
        if (s->ch[i].sock >= 0)
            close(s->ch[i].sock);
        child_release(&s->ch[i].c);
        ipclink_close(&s->links[i]);
    }
    if (s->loop)
        ev_loop_destroy(s->loop);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    free(s);
}

int sup_run(const sup_options_t *opt)
{
    sup_t *s = calloc(1, sizeof(*s));
    char chains[256];
    int rc = ADNET_EXIT_SYSTEM, r;
    if (!s)
        return ADNET_EXIT_SYSTEM;
    s->opt = opt;
    s->exit_code = ADNET_EXIT_OK;
    s->lock_fd = -1;
    for (size_t i = 0; i < NCHILDREN; i++) {
        s->ch[i].sock = -1;
        for (int k = 0; k < 2; k++)
            s->links[i].ring[k] = s->links[i].wake[k] = -1;
    }
    if ((r = sup_lock_home(s)) < 0) {
        rc = r == -EBUSY ? ADNET_EXIT_CONFIG : ADNET_EXIT_SYSTEM;
        goto out;
    }
    s->loop = ev_default_loop(EVFLAG_AUTO | EVFLAG_NOENV);
    s->started_at = ev_time();
    if ((r = sup_children_init(s)) < 0) {
        rc = r == -ENOMEM ? ADNET_EXIT_SYSTEM : ADNET_EXIT_CONFIG;
        goto out;
    }
    if (sup_watch(s) < 0)
        goto out;
    sup_publish_states(s);
    format_chains(s, false, chains, sizeof(chains));
    log_info("node_starting", "home=%s %s pid=%ld", opt->home, chains, (long)getpid());
    sup_advance(s);
    ev_run(s->loop, 0);
    rc = s->exit_code;
out:
    sup_free(s);
    return rc;
}
