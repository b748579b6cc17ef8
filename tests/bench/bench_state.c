/* ./scripts/dev bench state [--json] [--sizes N,N,...] [--block B] [--tx-seconds S]
 *                           [--batch N] [--fill-budget SECONDS]
 *
 * How the delta worker scales with the size of its state. One temporary
 * home made by the real `adnet init` is filled, size after size (default
 * 1,000, 100,000 and 1,000,000 accounts; ADNET_BENCH_STATE_SIZES or
 * --sizes choose others), through the real block path: this process links
 * the delta chain library, opens the home's delta ledger with chain_open
 * (genesis and validator key from the home), and feeds blocks of B
 * (default 2000) transfers to fresh addresses through chain_precheck_tx +
 * chain_admit_tx + chain_produce_block. A helper thread signs and
 * prechecks block k+1 while block k is admitted and committed; HTTP is
 * skipped for filling. 256 senders, funded by the validator, send them.
 *
 * At each size (the chain closed, so the real worker can take the ledger):
 *   - commit time of a 1,000-transfer block (to fresh addresses): the
 *     median of 3 timed chain_produce_block calls, before closing;
 *   - ledger bytes per account: ledger.db + -wal + -shm over the rows of
 *     the accounts table;
 *   - worker spawn-to-ready: adnet-delta fork+exec'd the way the
 *     supervisor does (notification socketpair on fd 3), time to its READY
 *     message and to GET /health answering 200; best of 3;
 *   - proof latency p50/p99 of GET /accounts/{a}/proof (keep-alive, one
 *     client, 300 random accounts existing at that height) at the tip and
 *     at ?height=tip-1000 (or the oldest height if there are fewer blocks);
 *   - VmRSS / VmHWM of the worker after the proofs (its defaults, except
 *     the API rate limit, raised so the client is not refused);
 *   - at the smallest and largest size, `bench tx` figures with the same
 *     load generator (tests/lib/txload): the worker restarted with
 *     delta.block_interval_ms=200, 4 API threads and high limits
 *     (delta.api.max_body_bytes=1048576); transfers to fresh addresses,
 *     all signed before the window (enough for it at the node's best
 *     rate), posted from 4 threads to POST /txs/batch in binary batches of
 *     --batch (default 64; 1: POST /txs one at a time), each sender at
 *     most 60 nonces ahead of what the ledger shows committed, for S
 *     seconds (default 5); committed tx/s = transactions in blocks whose
 *     time lies in the window. Ed25519 verify/s (best of 3 x 0.5 s samples
 *     before and after the window) is the baseline.
 * Baselines in the same run: fork+exec+wait of /bin/true (spawn), a bare
 * SQLite point read of the same accounts on the same ledger file and
 * GET /health on the same connection (proofs). The growth column gives
 * largest/smallest and the exponent k of n^k between them.
 * ADNET_BENCH_KEEP_HOME=1 keeps the filled home (its path on stderr), to
 * look at the ledger or profile the worker on it afterwards. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/base/bech32.h"
#include "common/base/hex.h"
#include "common/base/keys.h"
#include "common/node/chain/chain.h"
#include "common/node/mempool/mempool.h"
#include "common/store/checkpoint.h"
#include "delta-worker/delta_chain.h"
#include "proto/delta_tx.h"
#include "proto/notify.h"
#include "proto/tx.h"
#include "tests/integration/harness.h"
#include "tests/lib/baseline.h"
#include "tests/lib/httpbuf.h"
#include "tests/lib/txbatch.h"
#include "tests/lib/txload.h"

#define MAX_SIZES 8
#define NSENDERS 256
#define SENDER_FUND 100000000ULL
#define TXBUF 320            /* an encoded delta transfer is ~200 bytes */
#define NPROOFS 300
#define SPAWNS 3
#define COMMIT_BLOCKS 3
#define COMMIT_TXS 1000
#define AHEAD TXLOAD_AHEAD  /* the validator's funding transfers a block */
#define TX_THREADS 4
#define TX_BLOCK_MS 200

typedef struct {
    keys_pair_t kp;
    char hex[65];
    uint64_t nonce;          /* next nonce to sign */
    uint64_t funded_at;      /* height of the block that funded it */
} sender_t;

/* One pre-signed transaction. */
typedef struct {
    uint8_t bytes[TXBUF];
    size_t len;
    tx_t tx;                 /* decoded; payload points into bytes */
    uint8_t id[TX_ID_LEN];
} stx_t;

/* A block's worth of transfers: who sends what to whom, then signed. */
typedef struct {
    stx_t *tx;
    size_t n;
    int *sender;             /* index into S.senders, or -1: the validator */
    uint64_t *nonce;
    uint8_t (*to)[32];       /* recipient */
    uint64_t *amount;
    int failed;
} batch_t;

/* Results per size. */
typedef struct {
    uint64_t target, accounts, tip, back_height;
    double fill_s, fill_tps;
    double commit_ms, commit_ms_min, commit_ms_max;
    double bytes_per_account, ledger_mib;
    double ready_ms, health_ms, ready_all[SPAWNS], health_all[SPAWNS];
    double proof_p50_us, proof_p99_us, back_p50_us, back_p99_us;
    double sqlite_p50_us, sqlite_p99_us, health_p50_us, health_p99_us;
    double rss_mib, hwm_mib;
    int proof_errors;
    bool tx_done;
    double tx_per_s, verify_best, verify_samples[6];
    uint64_t tx_in_window, tx_submitted, tx_rejected;
    bool tx_exhausted;
    bool done;
    bool skipped;            /* not filled within the time budget */
    uint64_t reached;        /* accounts when it was given up */
    double projected_s;      /* fill time it would have needed, at the measured rate */
} size_res_t;

static struct {
    node_t node;
    char delta_exe[PATH_MAX + 64];
    char ledger[PATH_MAX + 32];
    genesis_t *genesis;
    keys_pair_t val;
    uint64_t val_nonce;
    sender_t senders[NSENDERS];
    uint8_t salt[2][16];
    uint64_t next_idx[2];    /* next fresh recipient per address space */
    /* fill recipients (space 0) created up to each height: ranges */
    uint64_t *range_height, *range_end;
    size_t nranges, capranges;
    chain_t *chain;
    ledger_ckpt_t *ckpt;     /* its checkpointer, as in the worker */
    mempool_t *pool;
    int block;
    int batch;               /* transactions a request in the tx window (1: POST /txs) */
    int json;
    double deadline;         /* now_ms() by which every fill must be done */
    double last_fill_tps;    /* rate of the last fill, for the projection */
    int drops;
    char drop_why[300];
} S;

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void addr_of(uint8_t out[32], int space, uint64_t idx)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, S.salt[space], sizeof(S.salt[space]));
    crypto_generichash_update(&st, (const uint8_t *)&idx, sizeof(idx));
    crypto_generichash_final(&st, out, 32);
}

/* ---- signing ---- */

static txload_terms_t terms(void)
{
    return (txload_terms_t){ S.genesis->chain_id, S.genesis->fee_asset, S.genesis->min_fee,
                             100000000 };
}

static int sign_one(stx_t *s, const keys_pair_t *kp, uint64_t nonce, const uint8_t to[32],
                    uint64_t amount)
{
    txload_terms_t t = terms();
    return txload_sign_transfer(&t, kp, nonce, to, amount, s->bytes, sizeof(s->bytes), &s->len);
}

/* Sign and precheck (decode, signature: the API threads' half of
 * admission) every transaction of b. */
static void *batch_sign(void *arg)
{
    batch_t *b = arg;
    for (size_t i = 0; i < b->n; i++) {
        reject_t why = {0};
        const keys_pair_t *kp = b->sender[i] < 0 ? &S.val : &S.senders[b->sender[i]].kp;
        if (sign_one(&b->tx[i], kp, b->nonce[i], b->to[i], b->amount[i]) < 0 ||
            chain_precheck_tx(S.genesis, b->tx[i].bytes, b->tx[i].len, &b->tx[i].tx,
                              b->tx[i].id, &why) < 0) {
            fprintf(stderr, "bench_state: signing failed: %s\n", why.message);
            b->failed = 1;
            return NULL;
        }
    }
    return NULL;
}

static int batch_alloc(batch_t *b, size_t cap)
{
    memset(b, 0, sizeof(*b));
    b->tx = calloc(cap, sizeof(*b->tx));
    b->sender = calloc(cap, sizeof(*b->sender));
    b->nonce = calloc(cap, sizeof(*b->nonce));
    b->to = calloc(cap, sizeof(*b->to));
    b->amount = calloc(cap, sizeof(*b->amount));
    return b->tx && b->sender && b->nonce && b->to && b->amount ? 0 : -1;
}

static void batch_free(batch_t *b)
{
    free(b->tx);
    free(b->sender);
    free(b->nonce);
    free(b->to);
    free(b->amount);
}

static uint64_t rand_below(uint64_t n)
{
    return ((uint64_t)randombytes_random() << 32 | randombytes_random()) % n;
}

/* Plan n transfers of 1 from the senders, round robin (a block of B takes
 * B/256 nonces of each), to fresh space-0 recipients or, if existing, to
 * random recipients made before (or senders, if there are none yet). */
static void batch_plan(batch_t *b, size_t n, bool existing)
{
    static size_t rr;
    b->n = n;
    b->failed = 0;
    for (size_t i = 0; i < n; i++) {
        int s = (int)(rr++ % NSENDERS);
        b->sender[i] = s;
        b->nonce[i] = S.senders[s].nonce++;
        if (!existing)
            addr_of(b->to[i], 0, S.next_idx[0]++);
        else if (S.next_idx[0] > 0)
            addr_of(b->to[i], 0, rand_below(S.next_idx[0]));
        else
            memcpy(b->to[i], S.senders[rand_below(NSENDERS)].kp.pk, 32);
        b->amount[i] = 1;
    }
}

/* ---- the chain, in process ---- */

static void on_drop(void *ctx, const uint8_t id[TX_ID_LEN], const reject_t *why)
{
    (void)ctx;
    (void)id;
    if (S.drops++ == 0)
        snprintf(S.drop_why, sizeof(S.drop_why), "%s: %s", why->code ? why->code : "?",
                 why->message);
}

static int chain_up(void)
{
    char err[CHAIN_ERR_MAX];
    int r = chain_open(&S.chain, &delta_chain_ops, S.ledger, S.genesis, &S.val, NULL, err);
    if (r < 0) {
        fprintf(stderr, "bench_state: chain_open: %s\n", err);
        return -1;
    }
    mempool_limits_t lim = { 100000, 256u << 20, 100000 };
    if (!(S.pool = mempool_new(&lim)))
        return -1;
    /* as the worker does: the WAL copied back beside the block loop */
    if (ckpt_start(&S.ckpt, ledger_db(chain_ledger(S.chain)), S.ledger, CKPT_THRESHOLD_PAGES,
                   err, sizeof err) < 0)
        fprintf(stderr, "bench_state: %s (the commits checkpoint themselves)\n", err);
    return 0;
}

static void chain_down(void)
{
    ckpt_stop(S.ckpt);
    S.ckpt = NULL;
    chain_close(S.chain);
    S.chain = NULL;
    mempool_free(S.pool);
    S.pool = NULL;
}

/* Admit b and commit it as one block; *commit_ms is the time of
 * chain_produce_block alone. Return 0 or -1. */
static int batch_commit(batch_t *b, double *commit_ms, uint64_t *height)
{
    reject_t why = {0};
    char err[CHAIN_ERR_MAX];
    if (chain_admit_begin(S.chain) < 0)
        return -1;
    for (size_t i = 0; i < b->n; i++) {
        stx_t *s = &b->tx[i];
        if (chain_admit_tx(S.chain, S.pool, &s->tx, s->id, s->bytes, s->len, (uint64_t)now_ms(),
                           &why) < 0) {
            chain_admit_end(S.chain);
            fprintf(stderr, "bench_state: admission refused: %s: %s\n",
                    why.code ? why.code : "?", why.message);
            return -1;
        }
    }
    chain_admit_end(S.chain);
    block_header_t h;
    chain_block_stats_t st;
    double t0 = now_ms();
    if (chain_produce_block(S.chain, wall_ms(), S.pool, b->n + 16, on_drop, NULL, &h, &st,
                            err) < 0) {
        fprintf(stderr, "bench_state: chain_produce_block: %s\n", err);
        return -1;
    }
    if (commit_ms)
        *commit_ms = now_ms() - t0;
    if (st.included != b->n || mempool_count(S.pool) != 0) {
        fprintf(stderr, "bench_state: block %" PRIu64 " took %u of %zu (dropped %u: %s)\n",
                h.height, st.included, b->n, st.dropped, S.drop_why);
        return -1;
    }
    if (height)
        *height = h.height;
    return 0;
}

static void range_add(uint64_t height)
{
    if (S.nranges == S.capranges) {
        size_t cap = S.capranges ? 2 * S.capranges : 1024;
        S.range_height = realloc(S.range_height, cap * sizeof(uint64_t));
        S.range_end = realloc(S.range_end, cap * sizeof(uint64_t));
        S.capranges = cap;
    }
    S.range_height[S.nranges] = height;
    S.range_end[S.nranges++] = S.next_idx[0];
}

/* Space-0 recipients that exist at height h. */
static uint64_t recipients_at(uint64_t h)
{
    uint64_t n = 0;
    for (size_t i = 0; i < S.nranges && S.range_height[i] <= h; i++)
        n = S.range_end[i];
    return n;
}

/* Read every sender's nonce from the ledger (after the worker ran). */
static int reload_nonces(void)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_open_v2(S.ledger, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT nonce FROM accounts WHERE address = ?", -1, &st, NULL) !=
            SQLITE_OK)
        goto out;
    for (int i = 0; i < NSENDERS; i++) {
        sqlite3_bind_text(st, 1, S.senders[i].hex, 64, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_ROW)
            goto out;
        S.senders[i].nonce = (uint64_t)sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    rc = 0;
out:
    if (rc < 0)
        fprintf(stderr, "bench_state: reading nonces: %s\n", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

/* Fund the senders from the validator: 60 per block (its nonce window). */
static int fund_senders(void)
{
    batch_t b;
    if (batch_alloc(&b, AHEAD) < 0)
        return -1;
    int rc = -1;
    for (int i = 0; i < NSENDERS; i += AHEAD) {
        b.n = 0;
        b.failed = 0;
        for (int k = i; k < NSENDERS && k < i + AHEAD; k++, b.n++) {
            b.sender[b.n] = -1;
            b.nonce[b.n] = S.val_nonce++;
            memcpy(b.to[b.n], S.senders[k].kp.pk, 32);
            b.amount[b.n] = SENDER_FUND;
        }
        uint64_t h;
        batch_sign(&b);
        if (b.failed || batch_commit(&b, NULL, &h) < 0)
            goto out;
        for (int k = i; k < NSENDERS && k < i + AHEAD; k++)
            S.senders[k].funded_at = h;
    }
    rc = 0;
out:
    batch_free(&b);
    return rc;
}

/* Fill until the accounts table holds at least target rows. */
static int fill_to(uint64_t target, size_res_t *r)
{
    int64_t have = txload_accounts(S.ledger);
    if (have < 0)
        return -1;
    uint64_t need = (uint64_t)have >= target ? 0 : target - (uint64_t)have;
    /* Give a size up at once if the last rate says it cannot be filled in
     * time: rates fall as the state grows (measured: 2,500 tx/s at 100k,
     * 1,800 at 120k), so project at 60% of the last one. */
    if (need > 0 && S.last_fill_tps > 0 &&
        now_ms() + (double)need / (0.6 * S.last_fill_tps) * 1000 > S.deadline) {
        r->skipped = true;
        r->reached = (uint64_t)have;
        r->fill_tps = S.last_fill_tps;
        r->projected_s = (double)need / (0.6 * S.last_fill_tps);
        fprintf(stderr, "bench_state: %" PRIu64 " accounts would take >= %.0f s to fill at "
                "%.0f tx/s: beyond the time budget, skipped\n", target, r->projected_s,
                S.last_fill_tps);
        return -2;
    }
    batch_t b[2];
    if (batch_alloc(&b[0], (size_t)S.block) < 0 || batch_alloc(&b[1], (size_t)S.block) < 0)
        return -1;
    int rc = -1, cur = 0;
    uint64_t done = 0;
    double t0 = now_ms(), last_note = t0;
    pthread_t th;
    bool running = false;
    if (need > 0) {
        batch_plan(&b[0], need < (uint64_t)S.block ? (size_t)need : (size_t)S.block, false);
        batch_sign(&b[0]);
    }
    while (done < need) {
        batch_t *now = &b[cur], *next = &b[cur ^ 1];
        uint64_t after = done + now->n;
        if (now->failed)
            goto out;
        if (after < need) {
            uint64_t left = need - after;
            batch_plan(next, left < (uint64_t)S.block ? (size_t)left : (size_t)S.block, false);
            if (pthread_create(&th, NULL, batch_sign, next) != 0)
                goto out;
            running = true;
        }
        uint64_t h;
        if (batch_commit(now, NULL, &h) < 0)
            goto out;
        range_add(h);
        done = after;
        if (running) {
            pthread_join(th, NULL);
            running = false;
        }
        cur ^= 1;
        if (now_ms() > S.deadline && done < need) {
            r->skipped = true;
            r->reached = (uint64_t)have + done;
            double rate = (double)done / ((now_ms() - t0) / 1000);
            r->projected_s = (now_ms() - t0) / 1000 + (double)(need - done) / rate;
            fprintf(stderr, "bench_state: time budget spent at %" PRIu64 " of %" PRIu64
                    " accounts (%.0f tx/s)\n", r->reached, target, rate);
            goto out;
        }
        if (!S.json && now_ms() - last_note > 10000) {
            last_note = now_ms();
            fprintf(stderr, "bench_state:   %" PRIu64 " of %" PRIu64 " accounts, %.0f tx/s\n",
                    (uint64_t)have + done, target, (double)done / ((last_note - t0) / 1000));
        }
    }
    rc = 0;
out:
    if (running)
        pthread_join(th, NULL);
    r->fill_s = (now_ms() - t0) / 1000;
    r->fill_tps = r->fill_s > 0 ? (double)done / r->fill_s : 0;
    if (done >= 2 * (uint64_t)S.block)
        S.last_fill_tps = r->fill_tps;
    if (r->skipped)
        rc = -2;
    batch_free(&b[0]);
    batch_free(&b[1]);
    return rc;
}

/* Three blocks of 1,000 transfers to random existing accounts (so the
 * size stays what it is: each changes 1,000 leaves spread over the tree
 * and the senders'), timed. */
static int measure_commit(size_res_t *r)
{
    batch_t b;
    double ms[COMMIT_BLOCKS];
    if (batch_alloc(&b, COMMIT_TXS) < 0)
        return -1;
    int rc = -1;
    for (int i = 0; i < COMMIT_BLOCKS; i++) {
        uint64_t h;
        batch_plan(&b, COMMIT_TXS, true);
        batch_sign(&b);
        if (b.failed || batch_commit(&b, &ms[i], &h) < 0)
            goto out;
    }
    r->commit_ms = baseline_percentile(ms, COMMIT_BLOCKS, 50);
    r->commit_ms_min = ms[0];
    r->commit_ms_max = ms[COMMIT_BLOCKS - 1];
    rc = 0;
out:
    batch_free(&b);
    return rc;
}

/* ---- files ---- */

static double file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (double)st.st_size : 0;
}

static double ledger_bytes(void)
{
    char p[PATH_MAX + 64];
    double n = file_size(S.ledger);
    snprintf(p, sizeof(p), "%s-wal", S.ledger);
    n += file_size(p);
    snprintf(p, sizeof(p), "%s-shm", S.ledger);
    return n + file_size(p);
}

/* ---- the worker ---- */

typedef struct {
    pid_t pid;
    int sock;
} worker_t;

static int worker_spawn(worker_t *w, const char *const *sets)
{
    int sv[2];
    const char *argv[40] = { S.delta_exe, "--home", S.node.home, "--notify-fd", "3" };
    int argc = 5;
    for (; sets && *sets && argc < 38; sets++)
        argv[argc++] = *sets;
    argv[argc] = NULL;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int log = open(S.node.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (log >= 0) {
            dup2(log, 1);
            dup2(log, 2);
        }
        setpgid(0, 0);
        if (dup2(sv[1], 3) < 0)
            _exit(111);
        execv(S.delta_exe, (char *const *)argv);
        _exit(111);
    }
    close(sv[1]);
    w->pid = pid;
    w->sock = sv[0];
    return 0;
}

/* Wait for READY; return 0 or -1 (exited, or 60 s passed). */
static int worker_wait_ready(worker_t *w)
{
    struct timeval tv = { 60, 0 };
    setsockopt(w->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    for (;;) {
        uint8_t buf[64];
        ssize_t n = recv(w->sock, buf, sizeof(buf), 0);
        if (n <= 0)
            return -1;
        notify_msg_t m;
        const char *what;
        if (notify_decode(&m, buf, (size_t)n, &what) == 0 && m.kind == NOTIFY_READY)
            return 0;
    }
}

static int worker_stop(worker_t *w)
{
    int st = 0;
    if (w->pid <= 0)
        return 0;
    kill(w->pid, SIGTERM);
    for (int i = 0; i < 3000; i++) {
        pid_t r = waitpid(w->pid, &st, WNOHANG);
        if (r == w->pid)
            break;
        if (i == 2999) {
            kill(w->pid, SIGKILL);
            waitpid(w->pid, &st, 0);
        }
        usleep(10000);
    }
    close(w->sock);
    w->pid = 0;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void read_rss(pid_t pid, double *rss, double *hwm)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    *rss = *hwm = -1;
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        long kb;
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            *rss = kb / 1024.0;
        else if (sscanf(line, "VmHWM: %ld", &kb) == 1)
            *hwm = kb / 1024.0;
    }
    fclose(f);
}

/* ---- HTTP ---- */

static CURL *client(httpbuf_t *body)
{
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, httpbuf_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    return c;
}

static long http_get(CURL *c, httpbuf_t *b, const char *path)
{
    char url[512];
    long st = 0;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", S.node.api_port[1], path);
    b->len = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    return st;
}

/* Start the worker and time READY and /health; return 0 or -1. */
static int worker_start_timed(worker_t *w, const char *const *sets, double *ready,
                              double *health)
{
    httpbuf_t b = {0};
    CURL *c = client(&b);
    int rc = -1;
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 1000L);
    double t0 = now_ms();
    if (worker_spawn(w, sets) < 0 || worker_wait_ready(w) < 0) {
        fprintf(stderr, "bench_state: adnet-delta did not become ready; log: %s\n", S.node.log);
        goto out;
    }
    *ready = now_ms() - t0;
    while (http_get(c, &b, "/health") != 200) {
        if (now_ms() - t0 > 60000) {
            fprintf(stderr, "bench_state: /health did not answer; log: %s\n", S.node.log);
            goto out;
        }
        usleep(200);
    }
    *health = now_ms() - t0;
    rc = 0;
out:
    curl_easy_cleanup(c);
    free(b.buf);
    return rc;
}

/* A random account existing at height h (validator, senders, recipients). */
static void pick_account(uint64_t h, uint8_t out[32])
{
    uint64_t nrec = recipients_at(h);
    int nsend = 0;
    for (int i = 0; i < NSENDERS; i++)
        nsend += S.senders[i].funded_at <= h;
    uint64_t k = rand_below(nrec + (uint64_t)nsend);
    if (k < nrec) {
        addr_of(out, 0, k);
        return;
    }
    k -= nrec;
    for (int i = 0; i < NSENDERS; i++)
        if (S.senders[i].funded_at <= h && k-- == 0) {
            memcpy(out, S.senders[i].kp.pk, 32);
            return;
        }
    memcpy(out, S.val.pk, 32);
}

static int measure_proofs(size_res_t *r)
{
    httpbuf_t b = {0};
    CURL *c = client(&b);
    double lat[NPROOFS], back[NPROOFS], hl[NPROOFS], sq[NPROOFS];
    uint8_t picks[NPROOFS][32];
    char path[256], addr[ADDRESS_MAX];
    int rc = -1;
    r->back_height = r->tip > 1000 ? r->tip - 1000 : 1;
    for (int pass = 0; pass < 2; pass++) {
        uint64_t h = pass ? r->back_height : r->tip;
        double *out = pass ? back : lat;
        for (int i = 0; i < NPROOFS; i++) {
            pick_account(h, picks[i]);
            address_encode(addr, picks[i]);
            if (pass)
                snprintf(path, sizeof(path), "/accounts/%s/proof?height=%" PRIu64, addr, h);
            else
                snprintf(path, sizeof(path), "/accounts/%s/proof", addr);
            double t0 = now_ms();
            long st = http_get(c, &b, path);
            out[i] = (now_ms() - t0) * 1000;
            if (st != 200 || !strstr(b.buf ? b.buf : "", "\"proof\"")) {
                if (r->proof_errors++ == 0)
                    fprintf(stderr, "bench_state: GET %s: HTTP %ld %.200s\n", path, st,
                            b.buf ? b.buf : "");
            }
        }
    }
    for (int i = 0; i < NPROOFS; i++) {
        double t0 = now_ms();
        http_get(c, &b, "/health");
        hl[i] = (now_ms() - t0) * 1000;
    }
    /* Baseline: the same point reads, bare SQLite, same file. */
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open_v2(S.ledger, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT nonce FROM accounts WHERE address = ?", -1, &st, NULL) !=
            SQLITE_OK)
        goto out;
    for (int i = 0; i < NPROOFS; i++) {
        char hex[65];
        pick_account(r->tip, picks[i]);
        double t0 = now_ms();
        hex_encode(hex, picks[i], 32);
        sqlite3_bind_text(st, 1, hex, 64, SQLITE_STATIC);
        int s = sqlite3_step(st);
        sqlite3_reset(st);
        sq[i] = (now_ms() - t0) * 1000;
        if (s != SQLITE_ROW && r->proof_errors++ == 0)
            fprintf(stderr, "bench_state: sqlite point read found no row\n");
    }
    r->proof_p50_us = baseline_percentile(lat, NPROOFS, 50);
    r->proof_p99_us = baseline_percentile(lat, NPROOFS, 99);
    r->back_p50_us = baseline_percentile(back, NPROOFS, 50);
    r->back_p99_us = baseline_percentile(back, NPROOFS, 99);
    r->health_p50_us = baseline_percentile(hl, NPROOFS, 50);
    r->health_p99_us = baseline_percentile(hl, NPROOFS, 99);
    r->sqlite_p50_us = baseline_percentile(sq, NPROOFS, 50);
    r->sqlite_p99_us = baseline_percentile(sq, NPROOFS, 99);
    rc = 0;
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    curl_easy_cleanup(c);
    free(b.buf);
    return rc;
}

/* ---- the tx window (bench tx, shortened) ---- */

/* Recipient of the tx window: fresh space-1 addresses, *per a sender. */
static void tx_to(void *ctx, int s, size_t k, uint8_t to[32])
{
    size_t per = *(const size_t *)ctx;
    addr_of(to, 1, S.next_idx[1] + (uint64_t)s * per + k);
}

/* Sign the window's load (the senders' nonces just read from the ledger). */
static int tx_load_new(txload_t **load, int seconds, double verify)
{
    const keys_pair_t *kps[NSENDERS];
    uint64_t nonce[NSENDERS];
    char err[TXLOAD_ERR_MAX];
    size_t per = txload_per_sender(seconds, NSENDERS, verify, TX_BLOCK_MS, TXLOAD_AHEAD);
    for (int i = 0; i < NSENDERS; i++) {
        kps[i] = &S.senders[i].kp;
        nonce[i] = S.senders[i].nonce;
    }
    txload_cfg_t cfg = {
        .port = S.node.api_port[1], .ledger = S.ledger, .terms = terms(), .keys = kps,
        .nonce = nonce, .nsenders = NSENDERS, .per_sender = per, .to = tx_to, .to_ctx = &per,
        .amount = 1, .batch = S.batch, .threads = TX_THREADS, .ahead = TXLOAD_AHEAD,
    };
    if (txload_new(load, &cfg, err) < 0) {
        fprintf(stderr, "bench_state: %s\n", err);
        return -1;
    }
    S.next_idx[1] += (uint64_t)NSENDERS * per;
    return 0;
}

static void tx_result(size_res_t *r, const txload_result_t *res)
{
    r->tx_in_window = res->in_window;
    r->tx_per_s = res->window_s > 0 ? (double)res->in_window / res->window_s : 0;
    r->tx_submitted = res->submitted;
    r->tx_rejected = res->refused;
    r->tx_exhausted = res->exhausted;
    r->verify_best = 0;
    for (int i = 0; i < 6; i++)
        if (r->verify_samples[i] > r->verify_best)
            r->verify_best = r->verify_samples[i];
    r->tx_done = res->poll_errors == 0;
    if (res->poll_errors)
        fprintf(stderr, "bench_state: reading the ledger failed %d times\n", res->poll_errors);
}

static int measure_tx(size_res_t *r, int seconds)
{
    static const char *const sets[] = {
        "--set", "delta.block_interval_ms=200", "--set", "delta.api.rate_per_s=1000000",
        "--set", "delta.api.rate_burst=1000000", "--set", "delta.api.threads=4",
        "--set", "delta.api.max_body_bytes=1048576", "--set", "delta.mempool.max_txs=1000000",
        "--set", "delta.mempool.max_per_sender=1000000", NULL,
    };
    worker_t w = {0};
    txload_t *load = NULL;
    txload_result_t res;
    char err[TXLOAD_ERR_MAX];
    double ready, health, before = 0;
    int rc = -1;
    if (reload_nonces() < 0)
        return -1;
    for (int i = 0; i < 3; i++) {
        r->verify_samples[i] = baseline_verify_per_s(0.5);
        before = r->verify_samples[i] > before ? r->verify_samples[i] : before;
    }
    if (tx_load_new(&load, seconds, before) < 0 ||
        worker_start_timed(&w, sets, &ready, &health) < 0)
        goto out;
    if (txload_run(load, seconds, 2.0, &res, err) < 0) {
        fprintf(stderr, "bench_state: %s\n", err);
        goto out;
    }
    for (int i = 3; i < 6; i++)
        r->verify_samples[i] = baseline_verify_per_s(0.5);
    tx_result(r, &res);
    rc = r->tx_done ? 0 : -1;
out:
    if (worker_stop(&w) < 0) {
        fprintf(stderr, "bench_state: the worker did not stop cleanly; log: %s\n", S.node.log);
        rc = -1;
    }
    txload_free(load);
    return rc;
}

/* ---- one size ---- */

static const char *const proof_sets[] = {
    "--set", "delta.api.rate_per_s=1000000", "--set", "delta.api.rate_burst=1000000", NULL,
};

static int measure_size(size_res_t *r, bool tx, int tx_seconds)
{
    worker_t w = {0};
    int rc = -1;
    if (chain_up() < 0)
        return -1;
    if (!S.json)
        fprintf(stderr, "bench_state: filling to %" PRIu64 " accounts (blocks of %d) ...\n",
                r->target, S.block);
    int fr = fill_to(r->target, r);
    if (fr < 0 || measure_commit(r) < 0) {
        chain_down();
        return fr == -2 ? -2 : -1;
    }
    ledger_tip_t tip;
    chain_tip(S.chain, &tip);
    r->tip = tip.height;
    chain_down();
    int64_t n = txload_accounts(S.ledger);
    if (n <= 0)
        return -1;
    r->accounts = (uint64_t)n;
    if (!S.json)
        fprintf(stderr, "bench_state: %" PRIu64 " accounts at height %" PRIu64
                " (fill %.1f s, %.0f tx/s); measuring ...\n",
                r->accounts, r->tip, r->fill_s, r->fill_tps);
    r->ready_ms = r->health_ms = 1e18;
    for (int i = 0; i < SPAWNS; i++) {
        if (worker_start_timed(&w, proof_sets, &r->ready_all[i], &r->health_all[i]) < 0)
            goto out;
        if (r->ready_all[i] < r->ready_ms)
            r->ready_ms = r->ready_all[i];
        if (r->health_all[i] < r->health_ms)
            r->health_ms = r->health_all[i];
        if (i + 1 < SPAWNS && worker_stop(&w) < 0)
            goto out;
    }
    /* The worker may have added an empty block since. */
    {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        if (sqlite3_open_v2(S.ledger, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
            sqlite3_prepare_v2(db, "SELECT max(height) FROM blocks", -1, &st, NULL) ==
                SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            r->tip = (uint64_t)sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
    if (measure_proofs(r) < 0)
        goto out;
    read_rss(w.pid, &r->rss_mib, &r->hwm_mib);
    if (worker_stop(&w) < 0) {
        fprintf(stderr, "bench_state: the worker did not stop cleanly; log: %s\n", S.node.log);
        goto out;
    }
    r->ledger_mib = ledger_bytes() / (1024.0 * 1024.0);
    r->bytes_per_account = ledger_bytes() / (double)r->accounts;
    if (tx && measure_tx(r, tx_seconds) < 0)
        goto out;
    if (reload_nonces() < 0)
        goto out;
    r->done = true;
    rc = 0;
out:
    worker_stop(&w);
    return rc;
}

/* ---- output ---- */

static void size_label(char *out, size_t cap, uint64_t n)
{
    if (n >= 1000000 && n % 1000000 == 0)
        snprintf(out, cap, "%" PRIu64 "m", n / 1000000);
    else if (n >= 1000 && n % 1000 == 0)
        snprintf(out, cap, "%" PRIu64 "k", n / 1000);
    else
        snprintf(out, cap, "%" PRIu64, n);
}

/* "x1.23 n^0.03" between the first and last done sizes. */
static void growth(char *out, size_t cap, const size_res_t *r, int n, size_t off)
{
    int a = -1, b = -1;
    for (int i = 0; i < n; i++)
        if (r[i].done) {
            if (a < 0)
                a = i;
            b = i;
        }
    if (a < 0 || a == b) {
        snprintf(out, cap, "-");
        return;
    }
    double va = *(const double *)((const char *)&r[a] + off);
    double vb = *(const double *)((const char *)&r[b] + off);
    double na = (double)r[a].accounts, nb = (double)r[b].accounts;
    if (va <= 0 || vb <= 0) {
        snprintf(out, cap, "-");
        return;
    }
    snprintf(out, cap, "x%.2f n^%.2f", vb / va, log(vb / va) / log(nb / na));
}

#define F(field) offsetof(size_res_t, field)

static void print_row(const char *name, const size_res_t *r, int n, size_t off, int decimals)
{
    char g[48];
    printf("%-44s", name);
    for (int i = 0; i < n; i++) {
        if (!r[i].done) {
            printf(" %12s", "-");
            continue;
        }
        char v[32];
        snprintf(v, sizeof(v), "%.*f", decimals, *(const double *)((const char *)&r[i] + off));
        printf(" %12s", v);
    }
    growth(g, sizeof(g), r, n, off);
    printf("  %s\n", g);
}

static const size_res_t *find_size(const size_res_t *r, const uint64_t *sizes, int n, uint64_t s)
{
    for (int i = 0; i < n; i++)
        if (sizes[i] == s && r[i].done)
            return &r[i];
    return NULL;
}

/* ---- the run ---- */

typedef struct {
    uint64_t sizes[MAX_SIZES];
    int nsizes, tx_seconds;
    double budget_s;
    size_res_t res[MAX_SIZES];
    double fe_best, fe_p50;  /* fork+exec+wait of /bin/true, ms */
    double wall_s;
} run_t;

static int parse_sizes(const char *spec, run_t *R)
{
    R->nsizes = 0;
    for (const char *p = spec; *p && R->nsizes < MAX_SIZES;) {
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p || v < 300 || v > 100000000 || (*end && *end != ',') ||
            (R->nsizes > 0 && v <= R->sizes[R->nsizes - 1])) {
            fprintf(stderr, "bench_state: --sizes: expected rising counts >= 300, "
                    "comma-separated, got \"%s\"\n", spec);
            return 2;
        }
        R->sizes[R->nsizes++] = v;
        p = *end ? end + 1 : end;
    }
    return 0;
}

/* Return 0, or 2 (usage) with the reason on stderr. */
static int parse_args(int argc, char **argv, run_t *R)
{
    const char *spec = getenv("ADNET_BENCH_STATE_SIZES");
    *R = (run_t){ .sizes = { 1000, 100000, 1000000 }, .nsizes = 3, .tx_seconds = 5,
                  .budget_s = 480 };
    S.block = 2000;
    S.batch = 64;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            S.json = 1;
        else if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc)
            spec = argv[++i];
        else if (strcmp(argv[i], "--block") == 0 && i + 1 < argc)
            S.block = atoi(argv[++i]);
        else if (strcmp(argv[i], "--tx-seconds") == 0 && i + 1 < argc)
            R->tx_seconds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--fill-budget") == 0 && i + 1 < argc)
            R->budget_s = atof(argv[++i]);
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
            S.batch = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_state [--json] [--sizes N,N,...] [--block B] "
                    "[--tx-seconds S] [--fill-budget SECONDS] [--batch N]\n");
            return 2;
        }
    }
    if (spec && *spec && parse_sizes(spec, R) != 0)
        return 2;
    if (S.block < 100 || S.block > 20000 || R->tx_seconds < 1 || R->tx_seconds > 600 ||
        S.batch < 1 || S.batch > TXBATCH_MAX) {
        fprintf(stderr, "bench_state: --block 100..20000, --tx-seconds 1..600, --batch 1..%d\n",
                TXBATCH_MAX);
        return 2;
    }
    return 0;
}

/* adnet-delta beside the adnet binary (or in the build tree's
 * delta-worker/). Return 0 or -1. */
static int find_delta_exe(void)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", S.node.bin);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    snprintf(S.delta_exe, sizeof(S.delta_exe), "%s/adnet-delta", dir);
    if (access(S.delta_exe, X_OK) < 0)
        snprintf(S.delta_exe, sizeof(S.delta_exe), "%s/../delta-worker/adnet-delta", dir);
    if (access(S.delta_exe, X_OK) < 0) {
        fprintf(stderr, "bench_state: no adnet-delta beside %s\n", S.node.bin);
        return -1;
    }
    return 0;
}

/* Load the home's genesis and validator key, make the senders and fund
 * them. Return 0 or -1. */
static int load_home(void)
{
    char gpath[PATH_MAX + 32], kpath[PATH_MAX + 32], gerr[GENESIS_ERR_MAX], kerr[KEYS_ERR_MAX];
    int rc = -1;
    snprintf(S.ledger, sizeof(S.ledger), "%s/delta/ledger.db", S.node.home);
    snprintf(gpath, sizeof(gpath), "%s/delta/genesis.json", S.node.home);
    snprintf(kpath, sizeof(kpath), "%s/keys/validator.json", S.node.home);
    if (!(S.genesis = calloc(1, sizeof(*S.genesis))) ||
        genesis_load(S.genesis, gpath, "delta", gerr) < 0) {
        fprintf(stderr, "bench_state: genesis: %s\n", gerr);
        goto out;
    }
    if (keys_load(&S.val, kpath, kerr) < 0) {
        fprintf(stderr, "bench_state: key: %s\n", kerr);
        goto out;
    }
    randombytes_buf(S.salt, sizeof(S.salt));
    for (int i = 0; i < NSENDERS; i++) {
        keys_generate(&S.senders[i].kp, "sender");
        hex_encode(S.senders[i].hex, S.senders[i].kp.pk, 32);
        S.senders[i].funded_at = UINT64_MAX;
    }
    if (chain_up() == 0 && fund_senders() == 0)
        rc = 0;
    chain_down();
out:
    return rc;
}

/* Fill and measure each size in turn, within the fill budget. */
static void run_sizes(run_t *R)
{
    size_res_t *res = R->res;
    S.deadline = now_ms() + R->budget_s * 1000;
    for (int i = 0; i < R->nsizes; i++) {
        res[i].target = R->sizes[i];
        bool tx = i == 0 || i == R->nsizes - 1;
        int mr = measure_size(&res[i], tx, R->tx_seconds);
        if (mr == -2) {
            /* The largest size measured gets the tx window instead, if the
             * skip left its ledger as it was. */
            if (i > 1 && res[i - 1].done && !res[i - 1].tx_done)
                measure_tx(&res[i - 1], R->tx_seconds);
            for (int k = i + 1; k < R->nsizes; k++) {
                res[k].target = R->sizes[k];
                res[k].skipped = true;
                res[k].fill_tps = res[i].fill_tps;
                res[k].reached = res[i].reached;
                res[k].projected_s = res[i].fill_tps > 0
                    ? (double)(R->sizes[k] - res[i].reached) / res[i].fill_tps : 0;
            }
            break;
        }
        if (mr < 0) {
            fprintf(stderr, "bench_state: size %" PRIu64 " failed; log: %s\n", R->sizes[i],
                    S.node.log);
            break;
        }
    }
}

/* ---- printing the results ---- */

static void json_size(const size_res_t *r, double fe_best)
{
    char l[32];
    size_label(l, sizeof(l), r->target);
    printf(",\"accounts_%s\":%" PRIu64 ",\"height_%s\":%" PRIu64
           ",\"fill_s_%s\":%.1f,\"fill_tx_per_s_%s\":%.0f"
           ",\"restart_ms_%s\":%.2f,\"health_ms_%s\":%.2f"
           ",\"restart_to_forkexec_ratio_%s\":%.1f"
           ",\"proof_p50_us_%s\":%.0f,\"proof_p99_us_%s\":%.0f"
           ",\"proof_back_height_%s\":%" PRIu64
           ",\"proof_back_p50_us_%s\":%.0f,\"proof_back_p99_us_%s\":%.0f"
           ",\"sqlite_read_p50_us_%s\":%.1f,\"sqlite_read_p99_us_%s\":%.1f"
           ",\"health_p50_us_%s\":%.0f,\"health_p99_us_%s\":%.0f"
           ",\"proof_to_sqlite_p99_ratio_%s\":%.1f,\"proof_errors_%s\":%d"
           ",\"rss_mib_%s\":%.1f,\"hwm_mib_%s\":%.1f"
           ",\"block_commit_ms_%s\":%.2f,\"bytes_per_account_%s\":%.0f"
           ",\"ledger_mib_%s\":%.1f",
           l, r->accounts, l, r->tip, l, r->fill_s, l, r->fill_tps, l, r->ready_ms, l,
           r->health_ms, l, r->ready_ms / fe_best, l, r->proof_p50_us, l,
           r->proof_p99_us, l, r->back_height, l, r->back_p50_us, l, r->back_p99_us, l,
           r->sqlite_p50_us, l, r->sqlite_p99_us, l, r->health_p50_us, l,
           r->health_p99_us, l,
           r->sqlite_p99_us > 0 ? r->proof_p99_us / r->sqlite_p99_us : 0, l,
           r->proof_errors, l, r->rss_mib, l, r->hwm_mib, l, r->commit_ms, l,
           r->bytes_per_account, l, r->ledger_mib);
    if (r->tx_done)
        printf(",\"tx_per_s_%s\":%.1f,\"verify_per_s_1core_%s\":%.0f"
               ",\"e2e_to_verify_ratio_%s\":%.4f,\"tx_submitted_%s\":%" PRIu64
               ",\"tx_rejected_%s\":%" PRIu64 ",\"tx_load_exhausted_%s\":%s",
               l, r->tx_per_s, l, r->verify_best, l, r->tx_per_s / r->verify_best, l,
               r->tx_submitted, l, r->tx_rejected, l, r->tx_exhausted ? "true" : "false");
}

static const char *judge(bool pass)
{
    return pass ? "PASS" : "MISS";
}

static void print_json(const run_t *R)
{
    const size_res_t *res = R->res, *k1 = find_size(res, R->sizes, R->nsizes, 1000),
                     *m1 = find_size(res, R->sizes, R->nsizes, 1000000);
    printf("{\"wall_s\":%.1f,\"block_txs\":%d,\"tx_batch_txs\":%d,"
           "\"forkexec_best_ms\":%.3f,\"forkexec_p50_ms\":%.3f", R->wall_s, S.block, S.batch,
           R->fe_best, R->fe_p50);
    for (int i = 0; i < R->nsizes; i++)
        if (res[i].done)
            json_size(&res[i], R->fe_best);
    if (k1 && m1)
        printf(",\"target_restart_1m_le_2x_1k\":\"%s\"", judge(m1->ready_ms <= 2 * k1->ready_ms));
    if (m1)
        printf(",\"target_proof_p99_us_1m_lt_1000\":\"%s\",\"target_rss_mib_1m_lt_96\":\"%s\"",
               judge(m1->proof_p99_us < 1000), judge(m1->rss_mib < 96));
    if (k1 && m1)
        printf(",\"target_block_commit_1m_le_2x_1k\":\"%s\"",
               judge(m1->commit_ms <= 2 * k1->commit_ms));
    if (k1 && m1 && k1->tx_done && m1->tx_done)
        printf(",\"target_tx_per_s_1m_ge_90pct_1k\":\"%s\"",
               judge(m1->tx_per_s >= 0.9 * k1->tx_per_s));
    for (int i = 0; i < R->nsizes; i++)
        if (res[i].skipped) {
            char l[32];
            size_label(l, sizeof(l), res[i].target);
            printf(",\"skipped_%s\":true,\"fill_tx_per_s_%s\":%.0f,\"fill_reached_%s\":%"
                   PRIu64 ",\"fill_projected_s_%s\":%.0f", l, l, res[i].fill_tps, l,
                   res[i].reached, l, res[i].projected_s);
        }
    if (!m1)
        printf(",\"note\":\"1,000,000 accounts not measured in this run\"");
    printf("}\n");
}

static void print_measures(const run_t *R)
{
    const size_res_t *res = R->res;
    int n = R->nsizes;
    printf("%-44s", "measure");
    for (int i = 0; i < n; i++) {
        char l[32];
        size_label(l, sizeof(l), res[i].target);
        printf(" %12s", l);
    }
    printf("  growth (last/first, n^k)\n");
    printf("%-44s", "accounts (rows in accounts)");
    for (int i = 0; i < n; i++)
        res[i].done ? printf(" %12" PRIu64, res[i].accounts) : printf(" %12s", "-");
    printf("\n%-44s", "blocks (tip height)");
    for (int i = 0; i < n; i++)
        res[i].done ? printf(" %12" PRIu64, res[i].tip) : printf(" %12s", "-");
    printf("\n");
    print_row("fill rate tx/s (sign+precheck || admit+commit)", res, n, F(fill_tps), 0);
    print_row("spawn -> READY ms (best of 3)", res, n, F(ready_ms), 2);
    print_row("spawn -> GET /health 200 ms (best of 3)", res, n, F(health_ms), 2);
    print_row("proof p50 us (tip)", res, n, F(proof_p50_us), 0);
    print_row("proof p99 us (tip)", res, n, F(proof_p99_us), 0);
    print_row("proof p50 us (?height=tip-1000 or oldest)", res, n, F(back_p50_us), 0);
    print_row("proof p99 us (?height=tip-1000 or oldest)", res, n, F(back_p99_us), 0);
    print_row("delta worker VmRSS MiB after the proofs", res, n, F(rss_mib), 1);
    print_row("delta worker VmHWM MiB", res, n, F(hwm_mib), 1);
    print_row("ledger bytes per account", res, n, F(bytes_per_account), 0);
    print_row("ledger MiB (db+wal+shm)", res, n, F(ledger_mib), 1);
    print_row("commit of a 1,000-transfer block ms (med of 3)", res, n, F(commit_ms), 2);
    printf("%-44s", S.batch == 1 ? "committed tx/s, POST /txs, 200 ms blocks"
                                 : "committed tx/s, /txs/batch, 200 ms blocks");
    for (int i = 0; i < n; i++)
        res[i].tx_done ? printf(" %12.0f", res[i].tx_per_s) : printf(" %12s", "-");
    printf("\n%-44s", "  ratio to Ed25519 verify/s (1 core, best)");
    for (int i = 0; i < n; i++)
        res[i].tx_done ? printf(" %12.3f", res[i].tx_per_s / res[i].verify_best)
                       : printf(" %12s", "-");
    printf("\n");
}

/* The baselines, and one line of detail per size. */
static void print_baselines(const run_t *R)
{
    const size_res_t *res = R->res;
    int n = R->nsizes;
    printf("\nbaselines measured in this run\n");
    printf("%-44s %12.3f (p50 %.3f)\n", "fork+exec+wait /bin/true ms (best of 21)", R->fe_best,
           R->fe_p50);
    print_row("bare SQLite point read p50 us (same file)", res, n, F(sqlite_p50_us), 1);
    print_row("bare SQLite point read p99 us (same file)", res, n, F(sqlite_p99_us), 1);
    print_row("GET /health p50 us (same connection)", res, n, F(health_p50_us), 0);
    print_row("GET /health p99 us (same connection)", res, n, F(health_p99_us), 0);
    for (int i = 0; i < n; i++) {
        const size_res_t *r = &res[i];
        char l[32];
        size_label(l, sizeof(l), r->target);
        if (r->skipped)
            printf("%s: NOT FILLED within the %.0f s fill budget: fill rate %.0f tx/s "
                   "(reached %" PRIu64 " accounts; would need ~%.0f s)\n", l, R->budget_s,
                   r->fill_tps, r->reached, r->projected_s);
        if (!r->done)
            continue;
        printf("%s: spawn->READY %.1fx fork+exec; proof p99 %.1fx SQLite read p99; "
               "proof-height %" PRIu64 " (tip %" PRIu64 "); spawns ms %.1f %.1f %.1f\n",
               l, r->ready_ms / R->fe_best, r->proof_p99_us / r->sqlite_p99_us, r->back_height,
               r->tip, r->ready_all[0], r->ready_all[1], r->ready_all[2]);
        if (r->proof_errors)
            printf("%s: %d proof requests failed\n", l, r->proof_errors);
        if (r->tx_done)
            printf("%s: tx window %d s: %" PRIu64 " committed in window, %" PRIu64
                   " submitted, %" PRIu64 " refused%s; verify/s samples %.0f %.0f %.0f | "
                   "%.0f %.0f %.0f\n", l, R->tx_seconds, r->tx_in_window, r->tx_submitted,
                   r->tx_rejected, r->tx_exhausted ? ", pre-signed load ran out" : "",
                   r->verify_samples[0], r->verify_samples[1], r->verify_samples[2],
                   r->verify_samples[3], r->verify_samples[4], r->verify_samples[5]);
    }
}

static void print_targets(const run_t *R)
{
    const size_res_t *k1 = find_size(R->res, R->sizes, R->nsizes, 1000),
                     *m1 = find_size(R->res, R->sizes, R->nsizes, 1000000);
    printf("\ntargets (issue 13)\n");
    if (k1 && m1) {
        printf("  restart_ms_1m <= 2 * restart_ms_1k      %8.2f <= %8.2f   %s\n",
               m1->ready_ms, 2 * k1->ready_ms, judge(m1->ready_ms <= 2 * k1->ready_ms));
        printf("  block_commit_ms_1m <= 2 * ..._1k        %8.2f <= %8.2f   %s\n",
               m1->commit_ms, 2 * k1->commit_ms, judge(m1->commit_ms <= 2 * k1->commit_ms));
    }
    if (k1 && m1 && k1->tx_done && m1->tx_done)
        printf("  tx_per_s_1m >= 0.9 * tx_per_s_1k        %8.0f >= %8.0f   %s\n",
               m1->tx_per_s, 0.9 * k1->tx_per_s, judge(m1->tx_per_s >= 0.9 * k1->tx_per_s));
    if (m1) {
        printf("  proof_p99_us_1m < 1000                  %8.0f            %s\n",
               m1->proof_p99_us, judge(m1->proof_p99_us < 1000));
        printf("  rss_mib_1m < 96                         %8.1f            %s\n",
               m1->rss_mib, judge(m1->rss_mib < 96));
    } else {
        printf("  1,000,000 accounts not measured in this run: targets not judged\n");
    }
}

static void print_table(const run_t *R)
{
    printf("state: delta ledgers filled through chain_admit_tx + chain_produce_block "
           "(blocks of %d transfers to fresh addresses), real adnet-delta measured;\n"
           "the tx window at the first size adds accounts before the next fill\n\n",
           S.block);
    print_measures(R);
    print_baselines(R);
    print_targets(R);
    printf("\nwall time %.1f s\n", R->wall_s);
}

int main(int argc, char **argv)
{
    static run_t R;
    int rc = parse_args(argc, argv, &R);
    if (rc != 0)
        return rc;
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    double t_start = now_ms();
    rc = 1;
    /* Baseline for spawn: fork+exec+wait of /bin/true, best and median of 21. */
    double fe[21];
    for (int i = 0; i < 21; i++)
        fe[i] = baseline_forkexec_ms();
    R.fe_best = baseline_percentile(fe, 21, 0);
    R.fe_p50 = baseline_percentile(fe, 21, 50);
    if (node_init(&S.node) < 0) {
        fprintf(stderr, "bench_state: adnet init failed (ADNET_BIN=%s)\n", getenv("ADNET_BIN"));
        return 1;
    }
    if (find_delta_exe() < 0 || load_home() < 0)
        goto out;
    run_sizes(&R);
    R.wall_s = (now_ms() - t_start) / 1000;
    if (S.json)
        print_json(&R);
    else
        print_table(&R);
    rc = 0;
    for (int i = 0; i < R.nsizes; i++)
        if (!R.res[i].done && !R.res[i].skipped)
            rc = 1;
out:
    if (S.chain)
        chain_down();
    if (getenv("ADNET_BENCH_KEEP_HOME"))
        fprintf(stderr, "bench_state: home kept (ADNET_BENCH_KEEP_HOME): %s\n", S.node.home);
    else
        node_cleanup(&S.node);
    free(S.genesis);
    free(S.range_height);
    free(S.range_end);
    keys_wipe(&S.val);
    return rc;
}
