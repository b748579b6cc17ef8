#include "common/runtime/worker.h"

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
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
#include "adnet_chains.h"
#include "common/base/clock.h"
#include "common/base/config.h"
#include "common/base/exitcode.h"
#include "common/base/fsutil.h"
#include "common/base/hex.h"
#include "common/base/log.h"
#include "common/base/metrics.h"
#include "common/base/workerstate.h"
#include "common/node/api/api.h"
#include "common/node/api/api_routes.h"
#include "common/node/api/node.h"
#include "common/node/gov/gov_routes.h"
#include "common/node/mempool/mempool.h"
#include "common/runtime/peerlink.h"
#include "common/runtime/production.h"
#include "common/store/checkpoint.h"
#include "common/store/commitrec.h"
#include "common/store/genesis_sig.h"
#include "common/store/ledger_files.h"
#include "proto/notify.h"

#define MAX_FLAGS 64
#define BRIDGE_HELP "Bridge transfers from the peer chain: attested (recorded, to be minted), " \
                    "minted, refused."
/* What the kernel sends a worker when the supervisor dies (PR_SET_PDEATHSIG).
 * Not SIGTERM: the supervisor stops workers with SIGTERM, and a dying
 * supervisor with threads (ZeroMQ's) is still our parent for a moment
 * after its main thread died, so getppid() cannot tell the two apart. */
#define WORKER_PARENT_DEATH_SIGNAL SIGHUP

/* A transaction handed from an API thread to the loop: it lives on the
 * API thread's stack until the loop marks it done. */
typedef struct submission {
    /* Not a transaction but work for the loop thread (a governance shadow
     * run): call runs there instead of admission, and sets result. */
    int (*call)(void *w, struct submission *s);
    const uint8_t *gov_id;
    json_t *report;
    const uint8_t *const *blk_tx;  /* a block to check (check_call) */
    const size_t *blk_len;
    size_t blk_n;
    node_block_check_t *blk_out;
    const uint8_t *bytes;
    size_t len;
    tx_t tx;                 /* decoded, signature checked */
    uint8_t id[TX_ID_LEN];
    int result;
    reject_t why;
    bool done;
    struct submission *next;
} submission_t;

typedef struct {
    const chain_ops_t *ops;
    const config_chain_t *ccfg;
    config_t cfg;
    chain_t *chain;
    ledger_ckpt_t *ckpt;    /* the WAL checkpoints beside the loop, or NULL: SQLite's own */
    mempool_t *pool;
    metrics_t *metrics;
    api_server_t *api;
    node_api_t napi;
    char ledger_path[PATH_MAX];
    char genesis_path[PATH_MAX];
    char rec_path[PATH_MAX];  /* the commit record, <home>/<chain>/last_signed.json */
    bool rec_pending;       /* the last block's record could not be written yet */
    bool allow_resign;      /* --allow-resign: adopt a ledger behind the record (devnet) */
    ledger_files_t files;   /* which files the ledger's names held when it opened */
    production_t prod;      /* producing, delayed or halted, and why */
    pid_t parent;           /* the supervisor (our parent when we started) */
    char workers_path[PATH_MAX]; /* the supervisor's view of every worker; "" without one */
    struct ev_loop *loop;
    ev_timer block_timer;
    ev_timer heartbeat_timer;
    ev_io notify_watcher;   /* EOF here means the supervisor is gone */
    ev_signal sigterm, sigint, sighup; /* stop; sighup: the supervisor died */
    ev_async inbox_async;   /* API threads wake the loop for new submissions */
    pthread_mutex_t inbox_mu;
    pthread_cond_t inbox_cv;
    submission_t *inbox_head, *inbox_tail;
    bool closing;           /* no more submissions: the node is stopping */
    int notify_fd;          /* -1 when run by hand without a supervisor */
    int lock_fd;            /* holds <home>/<chain>/LOCK; -1 before */
    genesis_t *genesis;     /* as loaded (the chain keeps its own copy) */
    peerlink_t *link;       /* to the peer chain's worker, or NULL */
    int exit_code;
} worker_t;

/* The command line of a worker. */
typedef struct {
    const char *home;
    const char *level;      /* --log-level, or NULL */
    uint32_t restarts;      /* --restarts: how often the supervisor restarted it */
    bool verify;            /* --verify-ledger: check the ledger's state, then exit */
    const char *peer;       /* --peer: the chain this one links to, or NULL */
    int ipc_fd;             /* --ipc-fd: its rings and wake-ups at ipc_fd..+3; -1: none */
    config_flag_t flags[MAX_FLAGS];
    size_t nflags;
} worker_args_t;

/* The node's chains, for the configuration's sections (adnet_chains.h). */
#define NODE_CHAIN_SPEC(name, exe, after, interval, listen) { name, interval, listen },
static const config_chain_spec_t node_chains[] = { ADNET_NODE_CHAINS(NODE_CHAIN_SPEC) };
#define N_NODE_CHAINS (sizeof node_chains / sizeof node_chains[0])

/* Send m to the supervisor on fd (if any). Non-blocking: a supervisor
 * that stopped reading must not stall blocks. */
static void notify_send(int fd, const notify_msg_t *m)
{
    uint8_t buf[NOTIFY_MSG_MAX];
    int n = fd >= 0 ? notify_encode(m, buf, sizeof(buf)) : -1;
    if (n > 0 && send(fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN)
        log_debug("notify_failed", "errno=%d", errno);
}

/* Tell the supervisor kind with the tip; a halted worker's heartbeat is
 * a HALTED with the reason. */
static void worker_notify(worker_t *w, notify_kind_t kind)
{
    ledger_tip_t tip;
    node_state_t ns;
    chain_tip(w->chain, &tip);
    notify_msg_t m = { .kind = kind, .height = tip.height, .time_ms = tip.time_ms };
    production_get(&w->prod, &ns);
    if ((kind == NOTIFY_HEARTBEAT || kind == NOTIFY_HALTED) && ns.mode == NODE_HALTED) {
        m.kind = NOTIFY_HALTED;
        notify_reason_set(m.reason, ns.reason);
    }
    notify_send(w->notify_fd, &m);
}

static void worker_stop(worker_t *w, int code)
{
    w->exit_code = code;
    ev_break(w->loop, EVBREAK_ALL);
}

/* ---- metrics ---- */

static void count_reject(worker_t *w, const char *stage, const reject_t *why)
{
    char labels[160], code[64];
    if (metrics_label_escape(why->code ? why->code : "unknown", code, sizeof(code)) < 0)
        snprintf(code, sizeof(code), "other");
    snprintf(labels, sizeof(labels), "reason=\"%s\",stage=\"%s\"", code, stage);
    metrics_counter_add(w->metrics, "adnet_tx_rejected_total",
                        "Transactions refused, by reason and pipeline stage.", labels, 1);
}

static void update_pool_gauges(worker_t *w)
{
    metrics_gauge_set(w->metrics, "adnet_mempool_txs", "Transactions waiting in the mempool.",
                      NULL, (double)mempool_count(w->pool));
    metrics_gauge_set(w->metrics, "adnet_mempool_bytes",
                      "Bytes of transactions waiting in the mempool.", NULL,
                      (double)mempool_bytes(w->pool));
}

/* Runs on the API thread that renders /metrics. */
static void collect_files(metrics_t *m, void *ctx)
{
    worker_t *w = ctx;
    char wal[PATH_MAX + 8];
    struct stat st;
    metrics_gauge_set(m, "adnet_ledger_bytes", "Size of the ledger file.", NULL,
                      stat(w->ledger_path, &st) == 0 ? (double)st.st_size : 0);
    snprintf(wal, sizeof(wal), "%s-wal", w->ledger_path);
    metrics_gauge_set(m, "adnet_ledger_wal_bytes", "Size of the ledger's write-ahead log.", NULL,
                      stat(wal, &st) == 0 ? (double)st.st_size : 0);
    if (w->workers_path[0]) /* adnet_worker_up, adnet_worker_state of every worker */
        workerstate_export(m, w->workers_path);
}

/* ---- submissions from the API threads ---- */

/* The checks that need no state, here on the API thread (in parallel
 * with the others): decode, signature, chain id, and whether the node
 * takes transactions now. Return 0 or the refusal in s->why. */
static int submit_check(worker_t *w, node_api_t *n, submission_t *s)
{
    node_state_t ns;
    int r = chain_precheck_tx(n->genesis, s->bytes, s->len, &s->tx, s->id, &s->why);

    if (r == 0) {
        production_get(&w->prod, &ns);
        if (ns.mode == NODE_HALTED)
            r = reject(&s->why, -EAGAIN, "halted", "%s produces no blocks now: %s",
                       w->ops->name, ns.reason);
    }
    if (r < 0)
        count_reject(w, "admission", &s->why);
    s->result = r;
    return r;
}

/* Queue the chain first..last (linked by next) for the loop, which admits
 * them in one pass, and wait until it has said something of each. */
static void inbox_hand(worker_t *w, submission_t *first, submission_t *last)
{
    pthread_mutex_lock(&w->inbox_mu);
    if (w->closing) {
        for (submission_t *s = first; s; s = s == last ? NULL : s->next) {
            s->result = reject(&s->why, -ESHUTDOWN, "unavailable", "the node is stopping");
            s->done = true;
        }
        pthread_mutex_unlock(&w->inbox_mu);
        return;
    }
    last->next = NULL;
    if (w->inbox_tail)
        w->inbox_tail->next = first;
    else
        w->inbox_head = first;
    w->inbox_tail = last;
    pthread_mutex_unlock(&w->inbox_mu);
    ev_async_send(w->loop, &w->inbox_async);
    pthread_mutex_lock(&w->inbox_mu);
    for (submission_t *s = first; s; s = s == last ? NULL : s->next)
        while (!s->done)
            pthread_cond_wait(&w->inbox_cv, &w->inbox_mu);
    pthread_mutex_unlock(&w->inbox_mu);
}

static int worker_submit(node_api_t *n, const uint8_t *bytes, size_t len, uint8_t id[TX_ID_LEN],
                         reject_t *why)
{
    worker_t *w = n->loop_ctx;
    submission_t s;
    memset(&s, 0, sizeof(s));
    s.bytes = bytes;
    s.len = len;
    if (submit_check(w, n, &s) == 0)
        inbox_hand(w, &s, &s);
    if (s.result < 0)
        *why = s.why;
    else
        memcpy(id, s.id, TX_ID_LEN);
    return s.result;
}

/* On the loop: the shadow run of s->gov_id. */
static int shadow_call(void *ctx, submission_t *s)
{
    worker_t *w = ctx;
    int r = chain_gov_shadow(w->chain, s->gov_id, &s->report, &s->why);
    if (r < 0)
        count_reject(w, "shadow", &s->why);
    return r;
}

/* node_api_t.gov_shadow: a shadow run handed to the loop like a submission. */
static int worker_gov_shadow(node_api_t *n, const uint8_t id[32], json_t **report,
                             reject_t *why)
{
    worker_t *w = n->loop_ctx;
    submission_t s;
    memset(&s, 0, sizeof(s));
    s.call = shadow_call;
    s.gov_id = id;
    inbox_hand(w, &s, &s);
    if (s.result < 0) {
        *why = s.why;
        return s.result;
    }
    *report = s.report;
    return 0;
}

/* On the loop: chain_check_block of s->blk_*. */
static int check_call(void *ctx, submission_t *s)
{
    worker_t *w = ctx;
    chain_block_check_t c;
    int r = chain_check_block(w->chain, s->blk_tx, s->blk_len, s->blk_n, clock_wall_ms(), &c,
                              &s->why);
    s->blk_out->height = c.height;
    memcpy(s->blk_out->state_root, c.state_root, 32);
    memcpy(s->blk_out->txs_root, c.txs_root, 32);
    s->blk_out->bad_index = c.bad_index;
    snprintf(s->blk_out->bad_code, sizeof(s->blk_out->bad_code), "%s",
             c.bad_code ? c.bad_code : "");
    if (r < 0)
        count_reject(w, "block_check", &s->why);
    return r;
}

/* node_api_t.check_block: handed to the loop like a submission. */
static int worker_check_block(node_api_t *n, const uint8_t *const *tx, const size_t *len,
                              size_t count, node_block_check_t *out, reject_t *why)
{
    worker_t *w = n->loop_ctx;
    submission_t s;
    memset(&s, 0, sizeof(s));
    s.call = check_call;
    s.blk_tx = tx;
    s.blk_len = len;
    s.blk_n = count;
    s.blk_out = out;
    inbox_hand(w, &s, &s);
    if (s.result < 0)
        *why = s.why;
    return s.result;
}

/* node_api_t.submit_many: the checks here, then one hand-over for all. */
static void worker_submit_many(node_api_t *n, const uint8_t *const *tx, const size_t *len,
                               size_t count, uint8_t (*ids)[TX_ID_LEN], int *results,
                               reject_t *whys)
{
    worker_t *w = n->loop_ctx;
    submission_t *s = calloc(count ? count : 1, sizeof *s), *first = NULL, *last = NULL;

    for (size_t i = 0; !s && i < count; i++)
        results[i] = reject(&whys[i], -ENOMEM, "unavailable", "out of memory");
    for (size_t i = 0; s && i < count; i++) {
        s[i].bytes = tx[i];
        s[i].len = len[i];
        if (submit_check(w, n, &s[i]) < 0)
            continue;
        if (last)
            last->next = &s[i];
        else
            first = &s[i];
        last = &s[i];
    }
    if (first)
        inbox_hand(w, first, last);
    for (size_t i = 0; s && i < count; i++) {
        results[i] = s[i].result;
        if (s[i].result < 0)
            whys[i] = s[i].why;
        else
            memcpy(ids[i], s[i].id, TX_ID_LEN);
    }
    free(s);
}

/* Save the admitted ones of batch in the ledger (one commit for all), so
 * that what is answered 202 survives a crash; if that fails they are
 * refused after all and taken out of the pool. */
static void inbox_save(worker_t *w, submission_t *batch, uint64_t now)
{
    size_t n = 0, k = 0;
    reject_t why = {0};
    for (submission_t *s = batch; s; s = s->next)
        n += s->result == 0 && !s->call;
    if (n == 0 || !chain_pool_kept(w->chain))
        return;
    const uint8_t **ids = calloc(n, sizeof *ids), **bytes = calloc(n, sizeof *bytes);
    size_t *lens = calloc(n, sizeof *lens);
    int r = ids && bytes && lens ? 0 : reject(&why, -ENOMEM, "internal", "out of memory");
    for (submission_t *s = batch; r == 0 && s; s = s->next)
        if (s->result == 0 && !s->call) {
            ids[k] = s->id;
            bytes[k] = s->bytes;
            lens[k++] = s->len;
        }
    if (r == 0)
        r = chain_pool_save(w->chain, w->pool, n, ids, bytes, lens, now, &why);
    for (submission_t *s = batch; r < 0 && s; s = s->next)
        if (s->result == 0 && !s->call) {
            mempool_remove(w->pool, s->id);
            s->result = r;
            s->why = why;
            count_reject(w, "admission", &why);
        }
    free(ids);
    free(bytes);
    free(lens);
}

static void on_inbox(struct ev_loop *loop, ev_async *a, int revents)
{
    worker_t *w = a->data;
    pthread_mutex_lock(&w->inbox_mu);
    submission_t *batch = w->inbox_head;
    w->inbox_head = w->inbox_tail = NULL;
    pthread_mutex_unlock(&w->inbox_mu);
    uint64_t now = clock_wall_ms();
    size_t txs = 0;
    for (submission_t *s = batch; s; s = s->next) {
        if (s->call)
            s->result = s->call(w, s);
        else
            txs++;
    }
    /* One read transaction for the whole batch; if it cannot open, each
     * admission opens its own. */
    bool batch_txn = txs > 1 && chain_admit_begin(w->chain) == 0;
    for (submission_t *s = batch; s; s = s->next) {
        if (s->call)
            continue;
        s->result = chain_admit_tx(w->chain, w->pool, &s->tx, s->id, s->bytes, s->len, now,
                                   &s->why);
        if (s->result < 0)
            count_reject(w, "admission", &s->why);
    }
    if (batch_txn)
        chain_admit_end(w->chain);
    inbox_save(w, batch, now);
    update_pool_gauges(w);
    pthread_mutex_lock(&w->inbox_mu);
    for (submission_t *s = batch, *next; s; s = next) {
        next = s->next;
        s->done = true; /* after this the submission may vanish */
    }
    pthread_cond_broadcast(&w->inbox_cv);
    pthread_mutex_unlock(&w->inbox_mu);
}

/* Refuse whatever is queued and everything after: the loop is ending. */
static void inbox_close(worker_t *w)
{
    pthread_mutex_lock(&w->inbox_mu);
    w->closing = true;
    for (submission_t *s = w->inbox_head, *next; s; s = next) {
        next = s->next;
        s->result = reject(&s->why, -ESHUTDOWN, "unavailable", "the node is stopping");
        s->done = true;
    }
    w->inbox_head = w->inbox_tail = NULL;
    pthread_cond_broadcast(&w->inbox_cv);
    pthread_mutex_unlock(&w->inbox_mu);
}

static void on_drop(void *ctx, const uint8_t id[TX_ID_LEN], const reject_t *why)
{
    worker_t *w = ctx;
    char hex[2 * TX_ID_LEN + 1];
    hex_encode(hex, id, TX_ID_LEN);
    log_info("tx_dropped", "id=%.16s reason=%s msg=\"%s\"", hex, why->code, why->message);
    count_reject(w, "block", why);
}

static void schedule_next_block(worker_t *w)
{
    ledger_tip_t tip;
    chain_tip(w->chain, &tip);
    uint64_t now = clock_wall_ms(), due = tip.height ? tip.time_ms + w->ccfg->block_interval_ms : now;
    double delay = due > now ? (double)(due - now) / 1000.0 : 0.0;
    ev_timer_set(&w->block_timer, delay, 0.0);
    ev_timer_start(w->loop, &w->block_timer);
}

/* ---- the commit record and the ledger's files ---- */

/* Write the record of the chain's tip (atomically). If that fails the
 * block stays committed (a ledger ahead of its record loses nothing) and
 * rec_pending holds production until a retry succeeds. Return 0 or
 * -errno with err. */
static int worker_store_record(worker_t *w, char err[COMMITREC_ERR_MAX])
{
    commitrec_t r;
    ledger_tip_t tip;
    chain_tip(w->chain, &tip);
    commitrec_from_tip(&r, w->genesis->chain_id, w->genesis->hash, &tip);
    int rc = commitrec_store(&r, w->rec_path, err);
    w->rec_pending = rc < 0;
    return rc;
}

/* Stop producing for cause: tell the supervisor at once if this halts
 * the worker, and try the block again after the cause's delay (never,
 * for a cause that only a restart clears). */
static void worker_trouble(worker_t *w, prod_cause_t cause, uint64_t height, const char *reason)
{
    bool was_halted = production_is_halted(&w->prod);
    double retry = production_trouble(&w->prod, cause, height, reason);
    if (!was_halted && production_is_halted(&w->prod))
        worker_notify(w, NOTIFY_HALTED);
    ev_timer_stop(w->loop, &w->block_timer);
    if (retry < 0)
        return;
    ev_timer_set(&w->block_timer, retry, 0.0);
    ev_timer_start(w->loop, &w->block_timer);
}

/* Are the ledger's files still the ones it opened? If not, halt for good
 * (what SQLite writes now would not be found again). */
static bool worker_files_ok(worker_t *w, uint64_t height)
{
    char why[LEDGER_FILES_WHY_MAX];
    if (production_is_final(&w->prod))
        return false;
    if (ledger_files_check(&w->files, why) == 0)
        return true;
    worker_trouble(w, PROD_LEDGER_CHANGED, height, why);
    return false;
}

/* A record that could not be written: a full disk, or another failure. */
static void worker_record_trouble(worker_t *w, int rc, uint64_t height, const char *err)
{
    char reason[COMMITREC_ERR_MAX + 16];
    snprintf(reason, sizeof(reason), "%s%s", rc == -ENOSPC ? "disk full: " : "", err);
    worker_trouble(w, rc == -ENOSPC ? PROD_DISK_FULL : PROD_RECORD_FAILED, height, reason);
}

/* ---- blocks ---- */

/* A block that could not be made: a busy ledger delays it, a full disk
 * halts until space is free, a height signed before halts for good, and
 * anything else ends the worker (111: the supervisor restarts it). */
static void worker_block_failed(worker_t *w, int r, uint64_t height, const char *err)
{
    char reason[CHAIN_ERR_MAX + COMMITREC_ERR_MAX + 64]; /* err: either kind */
    if (r == -EBUSY) {
        snprintf(reason, sizeof(reason), "another process holds the ledger's write lock (%s)",
                 err);
        worker_trouble(w, PROD_LEDGER_BUSY, height, reason);
    } else if (r == -ENOSPC) {
        snprintf(reason, sizeof(reason), "disk full: %s", err);
        worker_trouble(w, PROD_DISK_FULL, height, reason);
    } else if (r == -EEXIST) {
        worker_trouble(w, PROD_SIGN_REFUSED, height, err);
    } else if (worker_files_ok(w, height)) {
        log_error("block_failed", "reason=\"%s\"", err);
        worker_stop(w, ADNET_EXIT_SYSTEM);
    }
}

/* The block h is committed and durable: record it, say so, and plan the next one. */
static void worker_block_committed(worker_t *w, const block_header_t *h,
                                   const chain_block_stats_t *st, double took)
{
    char hash[2 * BLOCK_HASH_LEN + 1], err[COMMITREC_ERR_MAX];
    ledger_tip_t tip;
    int rr = worker_store_record(w, err);
    chain_tip(w->chain, &tip);
    hex_encode(hash, tip.hash, BLOCK_HASH_LEN);
    log_info("block_committed", "height=%llu hash=%.16s txs=%u dropped=%u deferred=%u "
             "pool=%zu commit_us=%.0f", (unsigned long long)h->height, hash, h->tx_count,
             st->dropped, st->deferred, mempool_count(w->pool), took * 1e6);
    metrics_gauge_set(w->metrics, "adnet_chain_height", "Height of the last committed block.",
                      NULL, (double)h->height);
    metrics_counter_add(w->metrics, "adnet_blocks_committed_total", "Blocks committed.", NULL, 1);
    metrics_counter_add(w->metrics, "adnet_txs_committed_total",
                        "Transactions committed in blocks.", NULL, h->tx_count);
    metrics_observe(w->metrics, "adnet_block_commit_duration_seconds",
                    "Time to build, apply, sign and commit one block.", NULL,
                    METRICS_LATENCY_BUCKETS, METRICS_LATENCY_NBUCKETS, took);
    if (st->bridged_in)
        metrics_counter_add(w->metrics, "adnet_bridge_transfers_total", BRIDGE_HELP,
                            "state=\"minted\"", st->bridged_in);
    if (st->bridge_refused)
        metrics_counter_add(w->metrics, "adnet_bridge_transfers_total", BRIDGE_HELP,
                            "state=\"mint_refused\"", st->bridge_refused);
    update_pool_gauges(w);
    worker_notify(w, NOTIFY_BLOCK);
    peerlink_block_committed(w->link, h->height);
    if (rr < 0) {
        worker_record_trouble(w, rr, h->height + 1, err);
        return;
    }
    production_resume(&w->prod, h->height);
    ev_now_update(w->loop);
    schedule_next_block(w);
}

static void on_block_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    worker_t *w = t->data;
    block_header_t h;
    chain_block_stats_t st;
    char err[CHAIN_ERR_MAX > COMMITREC_ERR_MAX ? CHAIN_ERR_MAX : COMMITREC_ERR_MAX];
    ledger_tip_t tip;
    int r;

    chain_tip(w->chain, &tip);
    if (!worker_files_ok(w, tip.height + 1))
        return;
    if (w->rec_pending && (r = worker_store_record(w, err)) < 0) {
        worker_record_trouble(w, r, tip.height + 1, err);
        return;
    }
    ev_tstamp start = ev_time();
    r = chain_produce_block(w->chain, clock_wall_ms(), w->pool, w->ccfg->block_max_txs, on_drop,
                            w, &h, &st, err);
    if (r < 0) {
        worker_block_failed(w, r, tip.height + 1, err);
        return;
    }
    /* Committed into a file that is no longer the ledger's: claim nothing. */
    if (!worker_files_ok(w, h.height))
        return;
    worker_block_committed(w, &h, &st, ev_time() - start);
}

/* True once the supervisor is gone: we were re-parented (to init or a
 * subreaper). */
static bool supervisor_gone(const worker_t *w)
{
    return w->notify_fd >= 0 && getppid() != w->parent;
}

/* The supervisor is gone: stop at once, leaving the WAL for the next
 * start to read (a new supervisor may be starting its worker already). */
static void worker_stop_now(worker_t *w)
{
    ledger_skip_close_checkpoint(chain_ledger(w->chain));
    worker_stop(w, ADNET_EXIT_SYSTEM);
}

static void on_heartbeat(struct ev_loop *loop, ev_timer *t, int revents)
{
    worker_t *w = t->data;
    ledger_tip_t tip;
    /* The pipe check beside PR_SET_PDEATHSIG: a re-parented worker stops. */
    if (supervisor_gone(w)) {
        log_warn("supervisor_gone", "action=stop");
        worker_stop_now(w);
        return;
    }
    chain_tip(w->chain, &tip);
    worker_files_ok(w, tip.height + 1);
    if (w->notify_fd >= 0)
        worker_notify(w, NOTIFY_HEARTBEAT);
}

static void on_notify_fd(struct ev_loop *loop, ev_io *io, int revents)
{
    worker_t *w = io->data;
    char buf[64];
    ssize_t n = recv(io->fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        log_warn("supervisor_gone", "action=stop");
        worker_stop_now(w);
    }
}

static void on_signal(struct ev_loop *loop, ev_signal *s, int revents)
{
    worker_t *w = s->data;
    /* The supervisor's death signal (PR_SET_PDEATHSIG): its own signal, so
     * that it is never taken for a stop it asked for. */
    if (s->signum == WORKER_PARENT_DEATH_SIGNAL) {
        log_warn("supervisor_gone", "signal=HUP action=stop");
        worker_stop_now(w);
        return;
    }
    log_info("stopping", "signal=%s", s->signum == SIGTERM ? "TERM" : "INT");
    worker_stop(w, ADNET_EXIT_OK);
}

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s --home DIR [--notify-fd N] [--restarts N] [--log-level LEVEL] [--set KEY=VALUE]...\n"
            "          [--allow-resign] [--peer CHAIN [--ipc-fd N]]\n"
            "       %s --home DIR --verify-ledger\n"
            "The %s chain worker. It is normally started by `adnet run`; with\n"
            "--verify-ledger it rebuilds the state from the ledger's tables, compares it\n"
            "with the stored trees and the last header, and exits 0 (they agree) or 1.\n"
            "--peer links it to the worker of chain CHAIN on this node (its finality\n"
            "proofs, over ZeroMQ ipc:// in DIR/run, and over the shared-memory rings the\n"
            "supervisor passes at descriptors N..N+3 with --ipc-fd).\n",
            prog, prog, prog);
}

/* The pid a LOCK file names (its holder writes it), or 0. */
static long lock_holder(int fd)
{
    char buf[24];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    return strtol(buf, NULL, 10);
}

/* Wait up to ms for the lock on fd; log once that we wait, and send a
 * HEARTBEAT every heartbeat interval meanwhile, which extends the
 * supervisor's ready deadline (the start is progressing: the holder is on
 * its way out). Return 0, -EWOULDBLOCK at the deadline, -ESRCH if the
 * supervisor went away, or -errno. */
static int lock_wait(worker_t *w, int fd, const char *path, uint64_t ms)
{
    const notify_msg_t beat = { .kind = NOTIFY_HEARTBEAT };
    uint64_t start = clock_mono_us(), last = start;
    uint64_t every = (uint64_t)w->cfg.supervisor.heartbeat_interval_ms * 1000;
    struct timespec pause = { 0, 5 * 1000000L };

    log_warn("ledger_locked", "path=%s holder_pid=%ld action=wait timeout_ms=%llu", path,
             lock_holder(fd), (unsigned long long)ms);
    while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        uint64_t now = clock_mono_us();
        if (errno != EWOULDBLOCK && errno != EINTR)
            return -errno;
        if (now - start >= ms * 1000)
            return -EWOULDBLOCK;
        if (supervisor_gone(w))
            return -ESRCH;
        if (now - last >= every) {
            notify_send(w->notify_fd, &beat);
            last = now;
        }
        nanosleep(&pause, NULL);
    }
    log_info("ledger_lock_taken", "path=%s waited_ms=%llu", path,
             (unsigned long long)((clock_mono_us() - start) / 1000));
    return 0;
}

/* Hold an exclusive lock on <home>/<chain>/LOCK for the life of the
 * process, so that two writers never share a ledger; the file names our
 * pid. A holder that is still there (the worker of a supervisor that was
 * just killed, exiting) is waited for up to supervisor.stop_timeout_s.
 * Return the fd or -errno (-EWOULDBLOCK: still held). */
static int worker_lock(worker_t *w, const char *path)
{
    char pid[24];
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600), r = 0;
    if (fd < 0)
        return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0)
        r = errno == EWOULDBLOCK
                ? lock_wait(w, fd, path, (uint64_t)w->cfg.supervisor.stop_timeout_s * 1000)
                : -errno;
    if (r < 0) {
        close(fd);
        return r;
    }
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n)
        log_debug("lock_pid_unwritten", "path=%s errno=%d", path, errno);
    return fd;
}

/* Parse argv into *a (and w->notify_fd). Return -1 to go on, or the exit
 * code to return now (0 for --help/--version). */
static int worker_args(worker_t *w, worker_args_t *a, int argc, char **argv)
{
    static const struct option opts[] = {
        { "home", required_argument, NULL, 'H' },
        { "notify-fd", required_argument, NULL, 'n' },
        { "log-level", required_argument, NULL, 'l' },
        { "set", required_argument, NULL, 's' },
        { "restarts", required_argument, NULL, 'r' },
        { "verify-ledger", no_argument, NULL, 'y' },
        { "allow-resign", no_argument, NULL, 'A' },
        { "peer", required_argument, NULL, 'p' },
        { "ipc-fd", required_argument, NULL, 'i' },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    char *end;
    long fd;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'H': a->home = optarg; break;
        case 'n':
            fd = strtol(optarg, &end, 10);
            if (*end || fd < 3 || fd > INT_MAX) {
                fprintf(stderr, "%s: --notify-fd: expected a descriptor number >= 3\n", argv[0]);
                return ADNET_EXIT_CONFIG;
            }
            w->notify_fd = (int)fd;
            break;
        case 'l': a->level = optarg; break;
        case 'p': a->peer = optarg; break;
        case 'i':
            fd = strtol(optarg, &end, 10);
            if (*end || fd < 3 || fd > INT_MAX - 4) {
                fprintf(stderr, "%s: --ipc-fd: expected a descriptor number >= 3\n", argv[0]);
                return ADNET_EXIT_CONFIG;
            }
            a->ipc_fd = (int)fd;
            break;
        case 'y': a->verify = true; break;
        case 'A': w->allow_resign = true; break;
        case 'r': a->restarts = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 's':
            if (a->nflags == MAX_FLAGS - 1 || config_flag_parse(optarg, &a->flags[a->nflags]) < 0) {
                fprintf(stderr, "%s: --set: expected KEY=VALUE (at most %d)\n", argv[0],
                        MAX_FLAGS - 1);
                return ADNET_EXIT_CONFIG;
            }
            a->nflags++;
            break;
        case 'V': printf("%s %s (%s)\n", argv[0], ADNET_VERSION, ADNET_GIT_COMMIT); return 0;
        case 'h': usage(stdout, argv[0]); return 0;
        default: usage(stderr, argv[0]); return ADNET_EXIT_CONFIG;
        }
    }
    if (!a->home || optind != argc) {
        usage(stderr, argv[0]);
        return ADNET_EXIT_CONFIG;
    }
    if (a->level) { /* --log-level is the strongest override of log.level */
        a->flags[a->nflags].key = "log.level";
        a->flags[a->nflags++].value = a->level;
    }
    return -1;
}

/* Load the configuration and this chain's section. Return 0 or an exit code. */
static int worker_configure(worker_t *w, const worker_args_t *a)
{
    char path[PATH_MAX], err[CONFIG_ERR_MAX];
    log_level_t lvl;
    if (fs_path(path, sizeof(path), "%s/adnet.yaml", a->home) < 0 ||
        config_load(&w->cfg, NULL, node_chains, N_NODE_CHAINS, path, true, environ, a->flags,
                    a->nflags, err) < 0) {
        log_error("config_invalid", "reason=\"%s\"", err);
        return ADNET_EXIT_CONFIG;
    }
    if (log_level_parse(w->cfg.log_level, &lvl) == 0)
        log_set_level(lvl);
    if (!(w->ccfg = config_chain(&w->cfg, w->ops->name))) {
        log_error("config_invalid", "reason=\"no configuration section for chain %s\"",
                  w->ops->name);
        return ADNET_EXIT_CONFIG;
    }
    return 0;
}

/* Opening a chain can take long: a new ledger reads and commits its
 * genesis balances, and the chain may build its state from the tables. A
 * thread logs how far it is once a second (from the second second on),
 * since COMMIT and some steps report nothing of their own. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;              /* chain_open returned */
    bool fresh;             /* no ledger yet: chain_open creates it from the genesis */
    uint64_t start_us;
    uint64_t step_done, step_total; /* the last progress report (genesis balances, rows) */
    uint64_t beat_done;     /* step_done when the supervisor last heard of it */
    int notify_fd;          /* the supervisor's socket, or -1 */
} open_watch_t;

/* Tell the supervisor a long open is progressing (a HEARTBEAT before
 * READY extends its ready deadline); only when the count moved, so a hung
 * open still times out. Called with ow->mu held. */
static void open_watch_beat(open_watch_t *ow)
{
    const notify_msg_t m = { .kind = NOTIFY_HEARTBEAT };
    if (ow->step_done == ow->beat_done)
        return;
    notify_send(ow->notify_fd, &m);
    ow->beat_done = ow->step_done;
}

static void on_open_progress(void *ctx, uint64_t done, uint64_t total)
{
    open_watch_t *ow = ctx;
    pthread_mutex_lock(&ow->mu);
    ow->step_done = done;
    ow->step_total = total;
    pthread_mutex_unlock(&ow->mu);
}

static void *open_watch_run(void *arg)
{
    open_watch_t *ow = arg;
    struct timespec at;
    pthread_mutex_lock(&ow->mu);
    clock_gettime(CLOCK_MONOTONIC, &at);
    while (!ow->done) {
        at.tv_sec++;
        if (pthread_cond_timedwait(&ow->cv, &ow->mu, &at) != ETIMEDOUT || ow->done)
            continue;
        log_info(ow->fresh ? "genesis_loading" : "ledger_opening",
                 "done=%llu total=%llu elapsed_ms=%llu", (unsigned long long)ow->step_done,
                 (unsigned long long)ow->step_total,
                 (unsigned long long)((clock_mono_us() - ow->start_us) / 1000));
        open_watch_beat(ow);
    }
    pthread_mutex_unlock(&ow->mu);
    return NULL;
}

/* chain_open with the watch thread running beside it (if it can start). */
static int worker_chain_open(worker_t *w, const keys_pair_t *key, char err[CHAIN_ERR_MAX])
{
    struct stat st;
    open_watch_t ow = { .start_us = clock_mono_us(), .notify_fd = w->notify_fd };
    genesis_progress_t progress = { on_open_progress, &ow };
    pthread_condattr_t ca;
    pthread_t tid;
    int r, watching;

    ow.fresh = stat(w->ledger_path, &st) < 0 || st.st_size == 0;
    pthread_mutex_init(&ow.mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ow.cv, &ca);
    pthread_condattr_destroy(&ca);
    watching = pthread_create(&tid, NULL, open_watch_run, &ow) == 0;
    r = chain_open(&w->chain, w->ops, w->ledger_path, w->genesis, key, &progress, err);
    pthread_mutex_lock(&ow.mu);
    ow.done = true;
    pthread_cond_signal(&ow.cv);
    pthread_mutex_unlock(&ow.mu);
    if (watching)
        pthread_join(tid, NULL);
    if (r == 0 && ow.fresh)
        log_info("ledger_created", "path=%s balances=%llu elapsed_ms=%llu", w->ledger_path,
                 (unsigned long long)w->genesis->n_balances,
                 (unsigned long long)((clock_mono_us() - ow.start_us) / 1000));
    pthread_cond_destroy(&ow.cv);
    pthread_mutex_destroy(&ow.mu);
    return r;
}

/* A commit record of another genesis (the home was made again, as
 * `adnet init --force` does) says nothing about this chain: move it aside
 * as <record>.<its genesis hash>.old. Return 0 or an exit code. */
static int worker_record_set_aside(worker_t *w, const commitrec_t *rec)
{
    char to[PATH_MAX + 32], gh[2 * BLOCK_HASH_LEN + 1], mine[2 * BLOCK_HASH_LEN + 1];
    hex_encode(gh, rec->genesis_hash, BLOCK_HASH_LEN);
    hex_encode(mine, w->genesis->hash, BLOCK_HASH_LEN);
    if (fs_path(to, sizeof(to), "%s.%.16s.old", w->rec_path, gh) < 0 ||
        rename(w->rec_path, to) < 0 || fs_sync_parent(to) < 0) {
        log_error("ledger_refused", "path=%s reason=\"the commit record is for chain %s genesis "
                  "%.16s..., not this one (%.16s...), and cannot be moved aside: %s\"",
                  w->rec_path, rec->chain_id, gh, mine, strerror(errno));
        return ADNET_EXIT_SYSTEM;
    }
    log_warn("commit_record_set_aside", "path=%s to=%s reason=\"it is for chain %s genesis "
             "%.16s..., this node runs %s genesis %.16s...\"", w->rec_path, to, rec->chain_id, gh,
             w->genesis->chain_id, mine);
    return 0;
}

/* --allow-resign (a single-validator devnet): adopt a ledger that falls
 * short of the record *rec (a restored older backup) by rewriting the
 * record to the ledger's tip, saying at warn level which heights this
 * validator may now sign again. *rec and *have are the new record on
 * success. Return 0 or an exit code (the reason logged). */
static int worker_record_resign(worker_t *w, commitrec_t *rec, const ledger_peek_t *peek,
                                bool *have)
{
    char err[COMMITREC_ERR_MAX];
    commitrec_t now;
    uint64_t from = peek->tip.height < rec->height ? peek->tip.height + 1 : rec->height;

    commitrec_from_tip(&now, w->genesis->chain_id, w->genesis->hash, &peek->tip);
    log_warn("commit_record_resign", "path=%s record=%llu ledger=%llu resign_from=%llu "
             "resign_to=%llu reason=\"--allow-resign: the ledger falls short of the record; "
             "this validator may sign heights %llu to %llu again, with other hashes "
             "(a fork: devnets only)\"", w->rec_path, (unsigned long long)rec->height,
             (unsigned long long)peek->tip.height, (unsigned long long)from,
             (unsigned long long)rec->height, (unsigned long long)from,
             (unsigned long long)rec->height);
    if (commitrec_store(&now, w->rec_path, err) < 0) {
        log_error("ledger_refused", "path=%s reason=\"%s\"", w->rec_path, err);
        return ADNET_EXIT_SYSTEM;
    }
    *rec = now;
    *have = true;
    return 0;
}

/* Before the ledger is opened for writing: a commit record of this
 * genesis must find every block it names in the ledger, which is refused
 * (and left exactly as it is) if not. *have says whether there is such a
 * record (then in *rec). Return 0 or an exit code (the reason logged). */
static int worker_record_check(worker_t *w, commitrec_t *rec, bool *have)
{
    char err[COMMITREC_ERR_MAX], lerr[LEDGER_ERR_MAX];
    ledger_peek_t peek;
    int r = commitrec_load(rec, w->rec_path, err);

    *have = false;
    if (r == -ENOENT)
        return 0;
    if (r < 0) {
        log_error("ledger_refused", "path=%s reason=\"%s\"", w->rec_path, err);
        return r == -EBADMSG || r == -EPROTONOSUPPORT ? ADNET_EXIT_LEDGER : ADNET_EXIT_SYSTEM;
    }
    if (!commitrec_is_for(rec, w->genesis->chain_id, w->genesis->hash))
        return worker_record_set_aside(w, rec);
    if ((r = ledger_peek(w->ledger_path, rec->height, &peek, lerr)) < 0) {
        log_error("ledger_refused", "path=%s reason=\"%s\"", w->ledger_path, lerr);
        return r == -EILSEQ || r == -EPROTO ? ADNET_EXIT_LEDGER : ADNET_EXIT_SYSTEM;
    }
    if (commitrec_check(rec, &peek, w->ledger_path, w->rec_path, err) < 0) {
        if (w->allow_resign && peek.exists && peek.has_genesis)
            return worker_record_resign(w, rec, &peek, have);
        log_error("ledger_refused", "path=%s reason=\"%s\"", w->ledger_path, err);
        return ADNET_EXIT_LEDGER;
    }
    *have = true;
    return 0;
}

/* Once the ledger is open: arm the chain's signing guard with the record
 * (or, without one, a new or older home, with the ledger's tip, which
 * becomes the first record), bring the record up to the tip (a ledger
 * ahead of it lost nothing: a crash came between a COMMIT and the
 * record), remember which files the ledger's names hold, and stop waiting
 * for other processes' locks on the loop. A record that cannot be written
 * halts production until it can. Return 0 or an exit code. */
static int worker_ledger_ready(worker_t *w, const commitrec_t *rec, bool have)
{
    char err[COMMITREC_ERR_MAX], why[LEDGER_FILES_WHY_MAX];
    ledger_tip_t tip;
    commitrec_t now;

    chain_tip(w->chain, &tip);
    commitrec_from_tip(&now, w->genesis->chain_id, w->genesis->hash, &tip);
    chain_set_signed(w->chain, have ? rec : &now);
    if (!have)
        log_info("commit_record_created", "path=%s height=%llu%s", w->rec_path,
                 (unsigned long long)tip.height,
                 tip.height > 0 ? " reason=\"a ledger from before commit records: its tip is "
                                  "taken as the last block signed\"" : "");
    else if (tip.height > rec->height)
        log_info("commit_record_behind", "path=%s record=%llu ledger=%llu action=update",
                 w->rec_path, (unsigned long long)rec->height, (unsigned long long)tip.height);
    if ((!have || tip.height > rec->height) && worker_store_record(w, err) < 0)
        log_error("commit_record_failed", "reason=\"%s\" action=\"no block until it is "
                  "written\"", err);
    if (ledger_files_init(&w->files, w->ledger_path, why) < 0) {
        log_error("ledger_refused", "path=%s reason=\"%s\"", w->ledger_path, why);
        return ADNET_EXIT_SYSTEM;
    }
    ledger_set_busy_timeout(chain_ledger(w->chain), 0);
    return 0;
}

/* The genesis' signatures, when the home has them (genesis_sig.h): checked
 * at every start, so a genesis file changed after its governors signed it
 * is refused. A home without them runs unsigned (a devnet). Return 0, or
 * -1 with the refusal logged. */
static int worker_genesis_sigs(worker_t *w, const char *home)
{
    char path[PATH_MAX], err[GENESIS_SIG_ERR_MAX];
    genesis_sigs_t *sigs = malloc(sizeof(*sigs));
    size_t good = 0;
    int r;
    if (!sigs)
        return -1;
    if (fs_path(path, sizeof(path), "%s/%s/%s", home, w->ops->name, GENESIS_SIGS_FILE) < 0 ||
        (r = genesis_sigs_load(sigs, path, err)) == -ENOENT) {
        free(sigs);
        return 0;
    }
    if (r == 0)
        r = genesis_sigs_verify(w->genesis, sigs, &good, err);
    free(sigs);
    if (r < 0) {
        log_error("genesis_unsigned", "path=%s reason=\"%s\"", path, err);
        return -1;
    }
    log_info("genesis_signed", "governors=%zu of=%zu", good, w->genesis->n_governors);
    return 0;
}

/* Load genesis and the validator key, lock the ledger and open the chain.
 * Return 0 or an exit code (the reason logged). */
static int worker_open_chain(worker_t *w, const char *home)
{
    const chain_ops_t *ops = w->ops;
    char path[PATH_MAX], err[CHAIN_ERR_MAX > GENESIS_ERR_MAX ? CHAIN_ERR_MAX : GENESIS_ERR_MAX];
    char kerr[KEYS_ERR_MAX];
    keys_pair_t key;
    commitrec_t rec;
    bool have_rec = false;
    int rc = ADNET_EXIT_CONFIG, r;

    memset(&key, 0, sizeof(key));
    if (!(w->genesis = malloc(sizeof(*w->genesis)))) {
        rc = ADNET_EXIT_SYSTEM;
        goto out;
    }
    if (fs_path(w->genesis_path, sizeof(w->genesis_path), "%s/%s/genesis.json", home,
                ops->name) < 0 ||
        genesis_load(w->genesis, w->genesis_path, ops->name, err) < 0 ||
        (ops->genesis_check && ops->genesis_check(w->genesis, err, sizeof(err)) < 0)) {
        log_error("genesis_invalid", "reason=\"%s\"", err);
        goto out;
    }
    if (worker_genesis_sigs(w, home) < 0)
        goto out;
    if (fs_path(path, sizeof(path), "%s/keys/validator.json", home) < 0 ||
        keys_load(&key, path, kerr) < 0) {
        log_error("key_invalid", "reason=\"%s\"", kerr);
        goto out;
    }
    if (fs_path(path, sizeof(path), "%s/%s/LOCK", home, ops->name) < 0 ||
        (w->lock_fd = worker_lock(w, path)) < 0) {
        log_error("ledger_locked", "path=%s reason=\"%s\"", path, w->lock_fd == -EWOULDBLOCK
                  ? "another process still holds the ledger after supervisor.stop_timeout_s"
                  : strerror(-w->lock_fd));
        w->lock_fd = -1;
        rc = ADNET_EXIT_SYSTEM;
        goto out;
    }
    if (fs_path(w->ledger_path, sizeof(w->ledger_path), "%s/%s/ledger.db", home, ops->name) < 0 ||
        fs_path(w->rec_path, sizeof(w->rec_path), "%s/%s/%s", home, ops->name,
                COMMITREC_FILE) < 0)
        goto out;
    if ((rc = worker_record_check(w, &rec, &have_rec)) != 0)
        goto out;
    if ((r = worker_chain_open(w, &key, err)) < 0) {
        log_error("ledger_refused", "path=%s reason=\"%s\"", w->ledger_path, err);
        rc = (r == -EPROTO || r == -EILSEQ || r == -ENOTUNIQ) ? ADNET_EXIT_LEDGER
             : (r == -EPERM || r == -EINVAL) ? ADNET_EXIT_CONFIG : ADNET_EXIT_SYSTEM;
        goto out;
    }
    chain_set_keep_heights(w->chain, w->ccfg->state_keep_heights);
    chain_set_retain_blocks(w->chain, w->ccfg->retain_blocks);
    if (ckpt_start(&w->ckpt, ledger_db(chain_ledger(w->chain)), w->ledger_path,
                   CKPT_THRESHOLD_PAGES, err, CHAIN_ERR_MAX) < 0)
        log_warn("checkpointer_off", "reason=\"%s\" (commits checkpoint the WAL themselves)",
                 err);
    rc = worker_ledger_ready(w, &rec, have_rec);
out:
    keys_wipe(&key);
    return rc;
}

/* node_api_t.state: the production state, for the API threads. */
static void worker_state(node_api_t *n, node_state_t *out)
{
    worker_t *w = n->loop_ctx;
    production_get(&w->prod, out);
}

/* node_api_t.peer_state: through the link, on the API thread. */
static int worker_peer_state(node_api_t *n, const char *tree, const uint8_t *key, size_t key_len,
                             uint64_t height, const uint8_t state_root[32],
                             node_peer_state_t *out, reject_t *why)
{
    worker_t *w = n->loop_ctx;
    peer_state_t ps;
    int rc;
    if (!w->link)
        return reject(why, -ENOTCONN, "peer_unavailable", "the link to the peer did not start");
    rc = peerlink_state(w->link, tree, key, key_len, height, state_root, &ps, why);
    if (rc == 0) {
        out->present = ps.present;
        memcpy(out->value, ps.value, sizeof(out->value));
        memcpy(out->tree_root, ps.tree_root, sizeof(out->tree_root));
    }
    return rc;
}

/* Start the HTTP API on its threads. Return 0 or an exit code. */
static int worker_serve_api(worker_t *w, uint32_t restarts, const char *peer)
{
    const chain_ops_t *ops = w->ops;
    w->napi = (node_api_t){ .chain = ops->name, .ops = ops, .genesis = chain_genesis(w->chain),
                            .genesis_path = w->genesis_path, .ledger_path = w->ledger_path,
                            .metrics = w->metrics, .restarts = restarts, .peer = peer,
                            .block_interval_ms = w->ccfg->block_interval_ms,
                            .submit = worker_submit, .submit_many = worker_submit_many,
                            .state = worker_state, .gov_shadow = worker_gov_shadow,
                            .check_block = worker_check_block,
                            .peer_state = peer ? worker_peer_state : NULL, .loop_ctx = w };
    const api_route_t *tables[] = { api_common_routes, gov_routes, ops->routes, NULL };
    const size_t counts[] = { api_common_nroutes, gov_n_routes, ops->n_routes };
    const config_chain_t *cc = w->ccfg;
    api_config_t acfg = {
        .listen = cc->api_listen, .ledger_path = w->ledger_path, .schema = ops->schema,
        .route_tables = tables,
        .route_counts = counts, .ctx = &w->napi, .metrics = w->metrics,
        .max_body = cc->api_max_body_bytes, .max_header = cc->api_max_header_bytes,
        .timeout_s = cc->api_timeout_s, .threads = cc->api_threads,
        .rate_per_s = cc->api_rate_per_s, .rate_burst = cc->api_rate_burst,
        .no_ledger = api_common_no_ledger,
    };
    char aerr[API_ERR_MAX];
    int r = api_start(&w->api, &acfg, aerr);
    if (r < 0) {
        log_error("api_failed", "key=%s.api.listen listen=%s reason=\"%s\"", ops->name,
                  cc->api_listen, aerr);
        return (r == -EADDRINUSE || r == -EACCES || r == -EADDRNOTAVAIL || r == -EINVAL)
                   ? ADNET_EXIT_CONFIG : ADNET_EXIT_SYSTEM;
    }
    log_info("api_listening", "listen=%s port=%d", cc->api_listen, api_port(w->api));
    return 0;
}

/* The loop's watchers: blocks, signals, the heartbeat (which also looks
 * at the ledger's files), and (under a supervisor) the notification
 * socket's EOF. */
static void worker_watch(worker_t *w)
{
    ev_timer_init(&w->block_timer, on_block_timer, 0., 0.);
    w->block_timer.data = w;
    ev_signal_init(&w->sigterm, on_signal, SIGTERM);
    ev_signal_init(&w->sigint, on_signal, SIGINT);
    ev_signal_init(&w->sighup, on_signal, WORKER_PARENT_DEATH_SIGNAL);
    w->sigterm.data = w->sigint.data = w->sighup.data = w;
    ev_signal_start(w->loop, &w->sigterm);
    ev_signal_start(w->loop, &w->sigint);
    ev_signal_start(w->loop, &w->sighup);
    signal(SIGPIPE, SIG_IGN);
    double hb = w->cfg.supervisor.heartbeat_interval_ms / 1000.0;
    ev_timer_init(&w->heartbeat_timer, on_heartbeat, hb, hb);
    w->heartbeat_timer.data = w;
    ev_timer_start(w->loop, &w->heartbeat_timer);
    if (w->notify_fd < 0)
        return;
    ev_io_init(&w->notify_watcher, on_notify_fd, w->notify_fd, EV_READ);
    w->notify_watcher.data = w;
    ev_io_start(w->loop, &w->notify_watcher);
}

static void on_reload_drop(void *ctx, const uint8_t id[TX_ID_LEN], const reject_t *why)
{
    worker_t *w = ctx;
    char hex[2 * TX_ID_LEN + 1];
    hex_encode(hex, id, TX_ID_LEN);
    log_info("tx_dropped", "id=%.16s stage=reload reason=%s msg=\"%s\"", hex, why->code,
             why->message);
    count_reject(w, "reload", why);
}

/* Admit again what the ledger kept of the mempool. Return 0 or an exit code. */
static int worker_reload_pool(worker_t *w)
{
    char err[CHAIN_ERR_MAX];
    size_t kept = 0, dropped = 0;
    if (chain_pool_reload(w->chain, w->pool, clock_wall_ms(), on_reload_drop, w, &kept, &dropped,
                          err) < 0) {
        log_error("mempool_reload_failed", "reason=\"%s\"", err);
        return ADNET_EXIT_SYSTEM;
    }
    if (kept || dropped)
        log_info("mempool_reloaded", "kept=%zu dropped=%zu", kept, dropped);
    return 0;
}

/* Link to the peer chain's worker (--peer). A link that cannot start is
 * logged and left out: this chain runs on without it. */
static void worker_link(worker_t *w, const worker_args_t *a)
{
    char err[256];
    peerlink_config_t lc = { .home = a->home, .peer = a->peer, .fd_base = a->ipc_fd,
                             .loop = w->loop, .chain = w->chain, .ops = w->ops,
                             .metrics = w->metrics };
    if (!a->peer)
        return;
    chain_set_peer(w->chain, a->peer);
    if (peerlink_start(&w->link, &lc, err, sizeof(err)) < 0) {
        log_error("peer_link_failed", "peer=%s reason=\"%s\" (this chain runs on without it)",
                  a->peer, err);
        w->link = NULL;
    }
}

/* Open everything the loop needs, in order. Return 0 or an exit code. */
static int worker_start(worker_t *w, const worker_args_t *a)
{
    int rc;
    if (w->notify_fd >= 0) {
        /* Die with the supervisor; then make sure it did not die already
         * (its end of the socket closes when it dies). */
        char peek;
        w->parent = getppid();
        prctl(PR_SET_PDEATHSIG, WORKER_PARENT_DEATH_SIGNAL);
        if (w->parent == 1 || recv(w->notify_fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {
            log_error("supervisor_gone", "phase=start");
            return ADNET_EXIT_SYSTEM;
        }
        fcntl(w->notify_fd, F_SETFD, FD_CLOEXEC);
    }
    if ((rc = worker_configure(w, a)) != 0 || (rc = worker_open_chain(w, a->home)) != 0)
        return rc;
    mempool_limits_t lim = { w->ccfg->mempool_max_txs, w->ccfg->mempool_max_bytes,
                             w->ccfg->mempool_max_per_sender };
    if (!(w->pool = mempool_new(&lim)) || !(w->metrics = metrics_new())) {
        log_error("out_of_memory", "what=mempool");
        return ADNET_EXIT_SYSTEM;
    }
    w->prod.metrics = w->metrics; /* production_t reports there from now on */
    chain_set_metrics(w->chain, w->metrics);
    if ((rc = worker_reload_pool(w)) != 0)
        return rc;
    metrics_set_collector(w->metrics, collect_files, w);
    metrics_gauge_set(w->metrics, "adnet_worker_restarts",
                      "Times the supervisor restarted this worker after a crash.", NULL,
                      a->restarts);
    if (w->notify_fd >= 0 && workerstate_path(w->workers_path, sizeof(w->workers_path),
                                              a->home) < 0)
        w->workers_path[0] = '\0';
    update_pool_gauges(w);
    w->loop = ev_default_loop(EVFLAG_AUTO | EVFLAG_NOENV);
    /* Before the API threads start: they wake the loop through it. */
    ev_async_init(&w->inbox_async, on_inbox);
    w->inbox_async.data = w;
    ev_async_start(w->loop, &w->inbox_async);
    worker_link(w, a); /* before the API threads, which reach it */
    if ((rc = worker_serve_api(w, a->restarts, a->peer)) != 0)
        return rc;
    worker_watch(w);
    return 0;
}

/* Run the loop until a stop; return the exit code. */
static int worker_run(worker_t *w)
{
    ledger_tip_t tip;
    char hash[2 * BLOCK_HASH_LEN + 1];
    chain_tip(w->chain, &tip);
    hex_encode(hash, tip.hash, BLOCK_HASH_LEN);
    log_info("ready", "chain_id=%s height=%llu hash=%.16s interval_ms=%u pid=%ld",
             w->genesis->chain_id, (unsigned long long)tip.height, hash,
             w->ccfg->block_interval_ms, (long)getpid());
    worker_notify(w, NOTIFY_READY);
    schedule_next_block(w);
    w->exit_code = ADNET_EXIT_SYSTEM;
    ev_run(w->loop, 0);
    chain_tip(w->chain, &tip);
    log_info("stopped", "height=%llu exit=%d", (unsigned long long)tip.height, w->exit_code);
    return w->exit_code;
}

static void on_verify_progress(void *ctx, uint64_t done, uint64_t total)
{
    const char *path = ctx;
    printf("verifying %s: %llu of %llu leaves rebuilt from the tables\n", path,
           (unsigned long long)done, (unsigned long long)total);
    fflush(stdout);
}

/* --verify-ledger: rebuild the state from the tables of <home>/<chain>/
 * ledger.db (read-only, no lock: the node may run) and compare it with the
 * stored trees and the last header. Print progress and a verdict; return
 * 0 (they agree), 1 (they do not), or an exit code. */
static int worker_verify(worker_t *w, const worker_args_t *a)
{
    char err[CHAIN_ERR_MAX > GENESIS_ERR_MAX ? CHAIN_ERR_MAX : GENESIS_ERR_MAX];
    genesis_progress_t progress = { on_verify_progress, w->ledger_path };
    int r;

    if (!(w->genesis = malloc(sizeof(*w->genesis))))
        return ADNET_EXIT_SYSTEM;
    if (fs_path(w->genesis_path, sizeof(w->genesis_path), "%s/%s/genesis.json", a->home,
                w->ops->name) < 0 ||
        fs_path(w->ledger_path, sizeof(w->ledger_path), "%s/%s/ledger.db", a->home,
                w->ops->name) < 0 ||
        genesis_load(w->genesis, w->genesis_path, w->ops->name, err) < 0) {
        fprintf(stderr, "%s: %s\n", w->ops->name, err);
        return ADNET_EXIT_CONFIG;
    }
    r = chain_verify_ledger(w->ops, w->ledger_path, w->genesis, &progress, err);
    if (r == 0) {
        printf("%s: ok: %s\n", w->ledger_path, err);
        return 0;
    }
    printf("%s: %s: %s\n", w->ledger_path, r == -EILSEQ ? "MISMATCH" : "cannot verify", err);
    return r == -EILSEQ ? 1 : (r == -EPROTO || r == -ENOENT) ? ADNET_EXIT_LEDGER
                                                           : ADNET_EXIT_SYSTEM;
}

int worker_main(int argc, char **argv, const chain_ops_t *ops)
{
    worker_t w;
    worker_args_t a;
    memset(&w, 0, sizeof(w));
    memset(&a, 0, sizeof(a));
    a.ipc_fd = -1;
    pthread_mutex_init(&w.inbox_mu, NULL);
    pthread_cond_init(&w.inbox_cv, NULL);
    production_init(&w.prod, NULL);
    w.ops = ops;
    w.notify_fd = -1;
    w.lock_fd = -1;
    log_init(ops->name, LOG_INFO);

    int rc = worker_args(&w, &a, argc, argv);
    if (rc < 0 && a.verify)
        rc = worker_verify(&w, &a);
    else if (rc < 0 && (rc = worker_start(&w, &a)) == 0)
        rc = worker_run(&w);
    /* Order matters: no new submissions, then the API threads end (they
     * may hold pointers into this worker), then the rest. */
    inbox_close(&w);
    api_stop(w.api);
    peerlink_stop(w.link);
    ckpt_stop(w.ckpt);
    chain_close(w.chain);
    mempool_free(w.pool);
    metrics_free(w.metrics);
    if (w.loop)
        ev_loop_destroy(w.loop);
    if (w.lock_fd >= 0)
        close(w.lock_fd);
    free(w.genesis);
    pthread_mutex_destroy(&w.inbox_mu);
    pthread_cond_destroy(&w.inbox_cv);
    production_destroy(&w.prod);
    return rc;
}
