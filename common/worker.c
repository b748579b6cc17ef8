#include "common/worker.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "adnet_build.h"
#include "common/config.h"
#include "common/exitcode.h"
#include "common/fsutil.h"
#include "common/hex.h"
#include "common/log.h"
#include "proto/notify.h"

#define MAX_FLAGS 64

typedef struct {
    const chain_ops_t *ops;
    const config_chain_t *ccfg;
    config_t cfg;
    chain_t *chain;
    struct ev_loop *loop;
    ev_timer block_timer;
    ev_timer heartbeat_timer;
    ev_io notify_watcher;   /* EOF here means the supervisor is gone */
    ev_signal sigterm, sigint;
    int notify_fd;          /* -1 when run by hand without a supervisor */
    int exit_code;
} worker_t;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void worker_notify(worker_t *w, notify_kind_t kind)
{
    if (w->notify_fd < 0)
        return;
    ledger_tip_t tip;
    uint8_t buf[NOTIFY_MSG_LEN];
    chain_tip(w->chain, &tip);
    notify_msg_t m = { .kind = kind, .height = tip.height, .time_ms = tip.time_ms };
    int n = notify_encode(&m, buf, sizeof(buf));
    /* Non-blocking: a supervisor that stopped reading must not stall blocks. */
    if (n > 0 && send(w->notify_fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
        errno != EAGAIN)
        log_debug("notify_failed", "errno=%d", errno);
}

static void worker_stop(worker_t *w, int code)
{
    w->exit_code = code;
    ev_break(w->loop, EVBREAK_ALL);
}

static void schedule_next_block(worker_t *w)
{
    ledger_tip_t tip;
    chain_tip(w->chain, &tip);
    uint64_t now = now_ms(), due = tip.height ? tip.time_ms + w->ccfg->block_interval_ms : now;
    double delay = due > now ? (double)(due - now) / 1000.0 : 0.0;
    ev_timer_set(&w->block_timer, delay, 0.0);
    ev_timer_start(w->loop, &w->block_timer);
}

static void on_block_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    worker_t *w = t->data;
    block_header_t h;
    char err[CHAIN_ERR_MAX];
    ev_tstamp start = ev_time();
    int r = chain_produce_block(w->chain, now_ms(), &h, err);
    if (r < 0) {
        log_error("block_failed", "reason=\"%s\"", err);
        worker_stop(w, ADNET_EXIT_SYSTEM);
        return;
    }
    char hash[2 * BLOCK_HASH_LEN + 1];
    ledger_tip_t tip;
    chain_tip(w->chain, &tip);
    hex_encode(hash, tip.hash, BLOCK_HASH_LEN);
    log_info("block_committed", "height=%llu hash=%.16s txs=%u commit_us=%.0f",
             (unsigned long long)h.height, hash, h.tx_count, (ev_time() - start) * 1e6);
    worker_notify(w, NOTIFY_BLOCK);
    ev_now_update(loop);
    schedule_next_block(w);
}

static void on_heartbeat(struct ev_loop *loop, ev_timer *t, int revents)
{
    worker_t *w = t->data;
    /* The pipe check beside PR_SET_PDEATHSIG: a re-parented worker stops. */
    if (getppid() == 1) {
        log_warn("supervisor_gone", "action=stop");
        worker_stop(w, ADNET_EXIT_SYSTEM);
        return;
    }
    worker_notify(w, NOTIFY_HEARTBEAT);
}

static void on_notify_fd(struct ev_loop *loop, ev_io *io, int revents)
{
    worker_t *w = io->data;
    char buf[64];
    ssize_t n = recv(io->fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        log_warn("supervisor_gone", "action=stop");
        worker_stop(w, ADNET_EXIT_SYSTEM);
    }
}

static void on_signal(struct ev_loop *loop, ev_signal *s, int revents)
{
    worker_t *w = s->data;
    log_info("stopping", "signal=%s", s->signum == SIGTERM ? "TERM" : "INT");
    worker_stop(w, ADNET_EXIT_OK);
}

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s --home DIR [--notify-fd N] [--log-level LEVEL] [--set KEY=VALUE]...\n"
            "The %s chain worker. It is normally started by `adnet run`.\n",
            prog, prog);
}

/* Hold an exclusive lock on <home>/<chain>/LOCK for the life of the
 * process, so that two writers never share a ledger. */
static int worker_lock(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int worker_main(int argc, char **argv, const chain_ops_t *ops)
{
    static const struct option opts[] = {
        { "home", required_argument, NULL, 'H' },
        { "notify-fd", required_argument, NULL, 'n' },
        { "log-level", required_argument, NULL, 'l' },
        { "set", required_argument, NULL, 's' },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    worker_t w;
    config_flag_t flags[MAX_FLAGS];
    size_t nflags = 0;
    const char *home = NULL, *level_flag = NULL;
    char path[PATH_MAX], err[CONFIG_ERR_MAX > CHAIN_ERR_MAX ? CONFIG_ERR_MAX : CHAIN_ERR_MAX];
    genesis_t *g = NULL;
    keys_pair_t key;
    int lock_fd = -1, c;

    memset(&w, 0, sizeof(w));
    memset(&key, 0, sizeof(key));
    w.ops = ops;
    w.notify_fd = -1;
    w.exit_code = ADNET_EXIT_SYSTEM;
    log_init(ops->name, LOG_INFO);

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'H': home = optarg; break;
        case 'n': {
            char *end;
            long fd = strtol(optarg, &end, 10);
            if (*end || fd < 3 || fd > INT_MAX) {
                fprintf(stderr, "%s: --notify-fd: expected a descriptor number >= 3\n", argv[0]);
                return ADNET_EXIT_CONFIG;
            }
            w.notify_fd = (int)fd;
            break;
        }
        case 'l': level_flag = optarg; break;
        case 's':
            if (nflags == MAX_FLAGS || config_flag_parse(optarg, &flags[nflags]) < 0) {
                fprintf(stderr, "%s: --set: expected KEY=VALUE (at most %d)\n", argv[0], MAX_FLAGS);
                return ADNET_EXIT_CONFIG;
            }
            nflags++;
            break;
        case 'V': printf("%s %s (%s)\n", argv[0], ADNET_VERSION, ADNET_GIT_COMMIT); return 0;
        case 'h': usage(stdout, argv[0]); return 0;
        default: usage(stderr, argv[0]); return ADNET_EXIT_CONFIG;
        }
    }
    if (!home || optind != argc) {
        usage(stderr, argv[0]);
        return ADNET_EXIT_CONFIG;
    }
    if (w.notify_fd >= 0) {
        /* Die with the supervisor; then make sure it did not die already. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() == 1) {
            log_error("supervisor_gone", "phase=start");
            return ADNET_EXIT_SYSTEM;
        }
        fcntl(w.notify_fd, F_SETFD, FD_CLOEXEC);
    }
    if (level_flag) {
        if (nflags == MAX_FLAGS) {
            fprintf(stderr, "%s: too many overrides\n", argv[0]);
            return ADNET_EXIT_CONFIG;
        }
        flags[nflags].key = "log.level";
        flags[nflags++].value = level_flag;
    }

    if (fs_path(path, sizeof(path), "%s/adnet.yaml", home) < 0 ||
        config_load(&w.cfg, NULL, path, true, environ, flags, nflags, err) < 0) {
        log_error("config_invalid", "reason=\"%s\"", err);
        return ADNET_EXIT_CONFIG;
    }
    log_level_t lvl;
    if (log_level_parse(w.cfg.log_level, &lvl) == 0)
        log_set_level(lvl);
    if (!(w.ccfg = config_chain(&w.cfg, ops->name))) {
        log_error("config_invalid", "reason=\"no configuration section for chain %s\"", ops->name);
        return ADNET_EXIT_CONFIG;
    }

    if (!(g = malloc(sizeof(*g)))) {
        w.exit_code = ADNET_EXIT_SYSTEM;
        goto out;
    }
    if (fs_path(path, sizeof(path), "%s/%s/genesis.json", home, ops->name) < 0 ||
        genesis_load(g, path, err) < 0) {
        log_error("genesis_invalid", "reason=\"%s\"", err);
        w.exit_code = ADNET_EXIT_CONFIG;
        goto out;
    }
    if (strcmp(g->chain, ops->name) != 0) {
        log_error("genesis_invalid", "reason=\"%s is a %s genesis, not %s\"", path, g->chain,
                  ops->name);
        w.exit_code = ADNET_EXIT_CONFIG;
        goto out;
    }
    char kerr[KEYS_ERR_MAX];
    if (fs_path(path, sizeof(path), "%s/keys/validator.json", home) < 0 ||
        keys_load(&key, path, kerr) < 0) {
        log_error("key_invalid", "reason=\"%s\"", kerr);
        w.exit_code = ADNET_EXIT_CONFIG;
        goto out;
    }
    if (fs_path(path, sizeof(path), "%s/%s/LOCK", home, ops->name) < 0 ||
        (lock_fd = worker_lock(path)) < 0) {
        log_error("ledger_locked", "path=%s reason=\"%s\"", path,
                  lock_fd == -EWOULDBLOCK ? "another process holds the ledger" : strerror(-lock_fd));
        w.exit_code = ADNET_EXIT_SYSTEM;
        goto out;
    }
    if (fs_path(path, sizeof(path), "%s/%s/ledger.db", home, ops->name) < 0) {
        w.exit_code = ADNET_EXIT_CONFIG;
        goto out;
    }
    int r = chain_open(&w.chain, ops, path, g, &key, err);
    if (r < 0) {
        log_error("ledger_refused", "path=%s reason=\"%s\"", path, err);
        w.exit_code = (r == -EPROTO || r == -EILSEQ || r == -ENOTUNIQ) ? ADNET_EXIT_LEDGER
                    : r == -EPERM ? ADNET_EXIT_CONFIG : ADNET_EXIT_SYSTEM;
        goto out;
    }
    keys_wipe(&key);

    w.loop = ev_default_loop(EVFLAG_AUTO | EVFLAG_NOENV);
    ev_timer_init(&w.block_timer, on_block_timer, 0., 0.);
    w.block_timer.data = &w;
    ev_signal_init(&w.sigterm, on_signal, SIGTERM);
    ev_signal_init(&w.sigint, on_signal, SIGINT);
    w.sigterm.data = w.sigint.data = &w;
    ev_signal_start(w.loop, &w.sigterm);
    ev_signal_start(w.loop, &w.sigint);
    signal(SIGPIPE, SIG_IGN);
    if (w.notify_fd >= 0) {
        double hb = w.cfg.supervisor.heartbeat_interval_ms / 1000.0;
        ev_timer_init(&w.heartbeat_timer, on_heartbeat, hb, hb);
        w.heartbeat_timer.data = &w;
        ev_timer_start(w.loop, &w.heartbeat_timer);
        ev_io_init(&w.notify_watcher, on_notify_fd, w.notify_fd, EV_READ);
        w.notify_watcher.data = &w;
        ev_io_start(w.loop, &w.notify_watcher);
    }

    ledger_tip_t tip;
    chain_tip(w.chain, &tip);
    char hash[2 * BLOCK_HASH_LEN + 1];
    hex_encode(hash, tip.hash, BLOCK_HASH_LEN);
    log_info("ready", "chain_id=%s height=%llu hash=%.16s interval_ms=%u pid=%ld", g->chain_id,
             (unsigned long long)tip.height, hash, w.ccfg->block_interval_ms, (long)getpid());
    worker_notify(&w, NOTIFY_READY);
    schedule_next_block(&w);

    w.exit_code = ADNET_EXIT_SYSTEM;
    ev_run(w.loop, 0);
    log_info("stopped", "height=%llu exit=%d",
             (unsigned long long)(chain_tip(w.chain, &tip), tip.height), w.exit_code);
out:
    keys_wipe(&key);
    chain_close(w.chain);
    if (w.loop)
        ev_loop_destroy(w.loop);
    if (lock_fd >= 0)
        close(lock_fd);
    free(g);
    return w.exit_code;
}
