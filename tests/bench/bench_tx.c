/* ./scripts/dev bench tx [--json] [--seconds N] [--senders K] [--threads T]
 *
 * End-to-end transaction throughput of the delta chain on a one-node
 * devnet: signed delta transfers pushed through POST /txs from T threads
 * (keep-alive libcurl handles), each thread owning K/T pre-funded senders
 * whose nonces it uses in sequence, for N seconds (default 30).
 *
 * The node runs with delta.block_interval_ms=200 and, so that the load
 * generator rather than the admission limits sets the pace:
 *   delta.api.rate_per_s=1000000, delta.api.rate_burst=1000000,
 *   delta.api.threads=4, delta.mempool.max_txs=1000000,
 *   delta.mempool.max_per_sender=1000000  (alpha.block_interval_ms=1000).
 * A sender never runs more than 60 nonces ahead of what the ledger shows
 * committed (the chain admits nonces up to 64 ahead).
 *
 * Measured from the ledger (read-only, as the transactions commit):
 * committed transactions per second over the load window (transactions in
 * blocks whose timestamp falls inside it), and inclusion latency =
 * the including block's time_ms minus the wall-clock time the transaction
 * was sent (every committed transaction is a sample; the block becomes
 * visible through GET /txs a commit later, a few ms).
 * Baselines in the same run, before the node starts: Ed25519
 * crypto_sign_verify_detached on one core for 2 s, and batched SQLite
 * inserts into a temporary WAL database (synchronous=FULL, 1000 rows per
 * transaction, rows shaped like the txs table) for 2 s.
 * All traffic goes to 127.0.0.1; the run stops by itself. */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/base/bech32.h"
#include "common/base/hex.h"
#include "common/base/keys.h"
#include "proto/delta_tx.h"
#include "proto/tx.h"
#include "tests/integration/harness.h"
#include "tests/lib/baseline.h"
#include "tests/lib/tmp.h"

#define RING 64          /* submit times kept per sender, by nonce % RING */
#define AHEAD 60         /* nonces a sender may run ahead of its committed count */
#define FUND 1000000000ULL
#define MAX_SENDERS 1024
#define MAX_THREADS 64
#define MAX_CODES 16

typedef struct {
    keys_pair_t kp;
    char hex[65];                  /* public key as the txs table stores it */
    uint64_t next_nonce;           /* owned by the submitting thread */
    _Atomic uint64_t committed;    /* written by the poller */
    _Atomic uint64_t sent_us[RING]; /* wall-clock µs each nonce was sent */
} sender_t;

static struct {
    int port;
    char chain_id[BLOCK_CHAIN_ID_MAX + 1];
    uint64_t expiry;
    uint8_t sink[32];
    sender_t *senders;
    int nsenders, nthreads;
    atomic_bool stop_submit, stop_poll;
    _Atomic uint64_t submitted, rejected;
    pthread_mutex_t codes_lock;
    char codes[MAX_CODES][32];
    uint64_t code_counts[MAX_CODES];
    /* poller results */
    char ledger[PATH_MAX + 32];
    int64_t last_rowid;
    _Atomic uint64_t t0_ms, t1_ms; /* load window, wall clock ms (0: not yet) */
    uint64_t in_window, committed;
    double *lat;                   /* latency samples, ms */
    size_t nlat, caplat;
    int poll_error;
} B;

static uint64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- baselines ---- */

static double bench_sqlite(double secs)
{
    char dir[TMP_PATH_MAX], path[TMP_PATH_MAX];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    double rate = -1;
    if (tmp_make(dir, sizeof(dir), "bench-sqlite") < 0)
        return -1;
    if (tmp_join(path, sizeof(path), dir, "t.db") < 0)
        goto out;
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE txs (id TEXT PRIMARY KEY, height INTEGER NOT NULL,"
                     " idx INTEGER NOT NULL, kind TEXT NOT NULL, sender TEXT,"
                     " body BLOB NOT NULL, UNIQUE (height, idx));", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO txs VALUES (?, ?, ?, 'transfer', ?, ?)", -1, &st,
                           NULL) != SQLITE_OK)
        goto out;
    uint8_t body[180], id[32];
    char idhex[65], sender[65];
    randombytes_buf(body, sizeof(body));
    memset(sender, 'a', 64);
    sender[64] = '\0';
    uint64_t rows = 0, height = 0;
    double t0 = now_ms(), el;
    do {
        height++;
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        for (int i = 0; i < 1000; i++) {
            randombytes_buf(id, sizeof(id));
            hex_encode(idhex, id, sizeof(id));
            sqlite3_bind_text(st, 1, idhex, 64, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, (sqlite3_int64)height);
            sqlite3_bind_int(st, 3, i);
            sqlite3_bind_text(st, 4, sender, 64, SQLITE_STATIC);
            sqlite3_bind_blob(st, 5, body, sizeof(body), SQLITE_STATIC);
            if (sqlite3_step(st) != SQLITE_DONE)
                goto out;
            sqlite3_reset(st);
        }
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            goto out;
        rows += 1000;
        el = now_ms() - t0;
    } while (el < secs * 1000);
    rate = (double)rows / (el / 1000);
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (tmp_remove(dir) < 0)
        fprintf(stderr, "bench_tx: could not remove %s\n", dir);
    return rate;
}

/* ---- HTTP ---- */

typedef struct {
    char buf[4096];
    size_t len;
} body_t;

static size_t sink_cb(char *p, size_t size, size_t n, void *arg)
{
    body_t *b = arg;
    size_t k = size * n, room = sizeof(b->buf) - 1 - b->len;
    memcpy(b->buf + b->len, p, k < room ? k : room);
    b->len += k < room ? k : room;
    b->buf[b->len] = '\0';
    return k;
}

static CURL *client(body_t *body, struct curl_slist **hdrs)
{
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    *hdrs = curl_slist_append(*hdrs, "Expect:");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    return c;
}

/* POST one signed transfer; return the HTTP status (0: transport error). */
static long post_transfer(CURL *c, body_t *body, const keys_pair_t *kp, uint64_t nonce,
                          const uint8_t to[32], uint64_t amount)
{
    static __thread uint8_t buf[512];
    static __thread char json[1200];
    delta_payload_t p;
    uint8_t pl[DELTA_PAYLOAD_MAX];
    size_t plen, len;
    char url[64];
    memset(&p, 0, sizeof(p));
    p.kind = DELTA_TX_TRANSFER;
    memcpy(p.u.transfer.to, to, 32);
    memcpy(p.u.transfer.asset, "ADN", 4);
    p.u.transfer.amount = amount;
    if (delta_payload_encode(&p, pl, sizeof(pl), &plen) < 0)
        return 0;
    tx_t tx;
    memset(&tx, 0, sizeof(tx));
    snprintf(tx.chain_id, sizeof(tx.chain_id), "%s", B.chain_id);
    tx.kind = DELTA_TX_TRANSFER;
    memcpy(tx.sender, kp->pk, 32);
    tx.fee = 1;
    tx.nonce = nonce;
    tx.expiry_height = B.expiry;
    tx.payload = pl;
    tx.payload_len = plen;
    if (tx_sign_encode(&tx, kp->sk, buf, sizeof(buf), &len) < 0 || 2 * len + 12 > sizeof(json))
        return 0;
    memcpy(json, "{\"tx\":\"", 7);
    hex_encode(json + 7, buf, len);
    memcpy(json + 7 + 2 * len, "\"}", 3);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/txs", B.port);
    body->len = 0;
    body->buf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(7 + 2 * len + 2));
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static void count_code(const char *body)
{
    json_t *j = json_loads(body, 0, NULL);
    const char *code = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    if (!code)
        code = "other";
    pthread_mutex_lock(&B.codes_lock);
    int i;
    for (i = 0; i < MAX_CODES && B.codes[i][0]; i++)
        if (strcmp(B.codes[i], code) == 0)
            break;
    if (i == MAX_CODES)
        i = MAX_CODES - 1;
    if (!B.codes[i][0])
        snprintf(B.codes[i], sizeof(B.codes[i]), "%s", code);
    B.code_counts[i]++;
    pthread_mutex_unlock(&B.codes_lock);
    json_decref(j);
}

static void *submitter(void *arg)
{
    int t = (int)(intptr_t)arg;
    body_t body;
    struct curl_slist *hdrs = NULL;
    CURL *c = client(&body, &hdrs);
    if (!c)
        return NULL;
    while (!atomic_load(&B.stop_submit)) {
        bool sent = false;
        for (int s = t; s < B.nsenders && !atomic_load(&B.stop_submit); s += B.nthreads) {
            sender_t *sd = &B.senders[s];
            if (sd->next_nonce >= atomic_load(&sd->committed) + AHEAD)
                continue;
            atomic_store(&sd->sent_us[sd->next_nonce % RING], wall_us());
            long st = post_transfer(c, &body, &sd->kp, sd->next_nonce, B.sink, 1);
            if (st == 202) {
                sd->next_nonce++;
                atomic_fetch_add(&B.submitted, 1);
                sent = true;
            } else {
                atomic_fetch_add(&B.rejected, 1);
                count_code(st ? body.buf : "{\"error\":{\"code\":\"transport\"}}");
                if (st == 503 || st == 0 || st == 429)
                    usleep(2000);
            }
        }
        if (!sent)
            usleep(1000);
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return NULL;
}

/* ---- the ledger poller ---- */

static sender_t *find_sender(const char *hex)
{
    for (int i = 0; i < B.nsenders; i++)
        if (memcmp(B.senders[i].hex, hex, 64) == 0)
            return &B.senders[i];
    return NULL;
}

static int poll_once(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT t.rowid, t.sender, b.time_ms FROM txs t "
                                    "JOIN blocks b ON b.height = t.height WHERE t.rowid > ? "
                                    "ORDER BY t.rowid", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, B.last_rowid);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        B.last_rowid = sqlite3_column_int64(st, 0);
        const char *hex = (const char *)sqlite3_column_text(st, 1);
        uint64_t tms = (uint64_t)sqlite3_column_int64(st, 2);
        sender_t *s = hex && strlen(hex) == 64 ? find_sender(hex) : NULL;
        if (!s)
            continue;
        uint64_t n = atomic_load(&s->committed);
        uint64_t sent = atomic_load(&s->sent_us[n % RING]);
        atomic_store(&s->committed, n + 1);
        uint64_t t0 = atomic_load(&B.t0_ms), t1 = atomic_load(&B.t1_ms);
        if (t0 == 0)
            continue; /* funding phase */
        B.committed++;
        if (tms >= t0 && (t1 == 0 || tms <= t1))
            B.in_window++;
        if (B.nlat == B.caplat) {
            size_t cap = B.caplat ? 2 * B.caplat : 65536;
            double *l = realloc(B.lat, cap * sizeof(*l));
            if (!l)
                continue;
            B.lat = l;
            B.caplat = cap;
        }
        double lat = ((double)tms * 1000.0 - (double)sent) / 1000.0;
        B.lat[B.nlat++] = lat < 0 ? 0 : lat;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static void *poller(void *arg)
{
    (void)arg;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(B.ledger, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        B.poll_error = 1;
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 2000);
    while (!atomic_load(&B.stop_poll)) {
        if (poll_once(db) < 0)
            B.poll_error++;
        usleep(20000);
    }
    poll_once(db);
    sqlite3_close(db);
    return NULL;
}

/* ---- set-up ---- */

static json_t *get_json(const char *path)
{
    body_t body;
    struct curl_slist *h = NULL;
    CURL *c = client(&body, &h);
    char url[256];
    json_t *j = NULL;
    long st = 0;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", B.port, path);
    body.len = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    if (st == 200)
        j = json_loads(body.buf, 0, NULL);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return j;
}

static bool api_up(node_t *n, const void *arg)
{
    (void)n;
    (void)arg;
    json_t *j = get_json("/status");
    bool ok = j && json_integer_value(json_object_get(j, "height")) >= 1;
    json_decref(j);
    return ok;
}

/* Poll the account at path until its nonce reaches target. */
static bool wait_nonce(const char *path, uint64_t target, int timeout_ms)
{
    double end = now_ms() + timeout_ms;
    do {
        json_t *a = get_json(path);
        uint64_t n = (uint64_t)json_integer_value(json_object_get(a, "nonce"));
        json_decref(a);
        if (n >= target)
            return true;
        usleep(20000);
    } while (now_ms() < end);
    return false;
}

static bool all_committed(void)
{
    for (int i = 0; i < B.nsenders; i++)
        if (atomic_load(&B.senders[i].committed) < B.senders[i].next_nonce)
            return false;
    return true;
}

int main(int argc, char **argv)
{
    int json = 0, seconds = 30;
    B.nsenders = 64;
    B.nthreads = 4;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--senders") == 0 && i + 1 < argc)
            B.nsenders = atoi(argv[++i]);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            B.nthreads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_tx [--json] [--seconds N] [--senders K] "
                    "[--threads T]\n");
            return 2;
        }
    }
    if (seconds < 1 || seconds > 3600 || B.nsenders < 1 || B.nsenders > MAX_SENDERS ||
        B.nthreads < 1 || B.nthreads > MAX_THREADS || B.nthreads > B.nsenders) {
        fprintf(stderr, "bench_tx: --seconds 1..3600, --senders 1..%d, --threads 1..%d "
                "and at most --senders\n", MAX_SENDERS, MAX_THREADS);
        return 2;
    }
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    pthread_mutex_init(&B.codes_lock, NULL);

    if (!json)
        fprintf(stderr, "bench_tx: baselines (2 s each) ...\n");
    double verify = baseline_verify_per_s(2.0), sqlite_rows = bench_sqlite(2.0);

    node_t node;
    pthread_t poll_thread, threads[MAX_THREADS];
    int rc = 1, npolling = 0, nstarted = 0;
    if (node_init(&node) < 0) {
        fprintf(stderr, "bench_tx: adnet init failed (ADNET_BIN=%s)\n", getenv("ADNET_BIN"));
        return 1;
    }
    static const char *const args[] = {
        "--set", "delta.block_interval_ms=200", "--set", "alpha.block_interval_ms=1000",
        "--set", "delta.api.rate_per_s=1000000", "--set", "delta.api.rate_burst=1000000",
        "--set", "delta.api.threads=4", "--set", "delta.mempool.max_txs=1000000",
        "--set", "delta.mempool.max_per_sender=1000000", NULL,
    };
    B.port = node.api_port[1];
    snprintf(B.ledger, sizeof(B.ledger), "%s/delta/ledger.db", node.home);
    if (node_start(&node, args, NULL) < 0 || !node_wait_running(&node, "delta", 30000) ||
        !node_wait(&node, 30000, api_up, NULL)) {
        fprintf(stderr, "bench_tx: node did not start; log: %s\n", node.log);
        goto out;
    }
    json_t *st = get_json("/status");
    snprintf(B.chain_id, sizeof(B.chain_id), "%s",
             json_string_value(json_object_get(st, "chain_id")));
    B.expiry = (uint64_t)json_integer_value(json_object_get(st, "height")) + 1000000;
    json_decref(st);

    /* Senders, funded by the validator (nonces n..n+K-1 in one burst). */
    keys_pair_t val, sinkkey;
    char path[PATH_MAX + 32], err[KEYS_ERR_MAX];
    snprintf(path, sizeof(path), "%s/keys/validator.json", node.home);
    if (keys_load(&val, path, err) < 0 || keys_generate(&sinkkey, "sink") < 0 ||
        !(B.senders = calloc((size_t)B.nsenders, sizeof(*B.senders)))) {
        fprintf(stderr, "bench_tx: keys: %s\n", err);
        goto out;
    }
    memcpy(B.sink, sinkkey.pk, 32);
    for (int i = 0; i < B.nsenders; i++) {
        keys_generate(&B.senders[i].kp, "sender");
        hex_encode(B.senders[i].hex, B.senders[i].kp.pk, 32);
    }
    char addr[ADDRESS_MAX], vpath[160];
    address_encode(addr, val.pk);
    snprintf(vpath, sizeof(vpath), "/accounts/%s", addr);
    json_t *acct = get_json(vpath);
    uint64_t vnonce0 = (uint64_t)json_integer_value(json_object_get(acct, "nonce"));
    json_decref(acct);
    if (pthread_create(&poll_thread, NULL, poller, NULL) != 0)
        goto out;
    npolling = 1;
    if (!json)
        fprintf(stderr, "bench_tx: funding %d senders ...\n", B.nsenders);
    {
        body_t body;
        struct curl_slist *h = NULL;
        CURL *c = client(&body, &h);
        bool ok = c != NULL;
        for (int i = 0; ok && i < B.nsenders; i++) {
            /* The chain admits nonces up to 64 ahead: let every 60 commit first. */
            if (i > 0 && i % AHEAD == 0 && !wait_nonce(vpath, vnonce0 + (uint64_t)i, 20000))
                ok = false;
            long s = ok ? post_transfer(c, &body, &val, vnonce0 + (uint64_t)i,
                                        B.senders[i].kp.pk, FUND) : 0;
            if (ok && s != 202) {
                fprintf(stderr, "bench_tx: funding sender %d: HTTP %ld %s\n", i, s, body.buf);
                ok = false;
            }
        }
        curl_slist_free_all(h);
        if (c)
            curl_easy_cleanup(c);
        if (!ok || !wait_nonce(vpath, vnonce0 + (uint64_t)B.nsenders, 30000)) {
            fprintf(stderr, "bench_tx: funding did not commit; log: %s\n", node.log);
            goto out;
        }
    }

    if (!json)
        fprintf(stderr, "bench_tx: %d threads push transfers for %d s ...\n", B.nthreads,
                seconds);
    atomic_store(&B.t0_ms, wall_us() / 1000);
    for (; nstarted < B.nthreads; nstarted++)
        if (pthread_create(&threads[nstarted], NULL, submitter, (void *)(intptr_t)nstarted) != 0)
            break;
    double end = now_ms() + seconds * 1000.0;
    while (now_ms() < end)
        usleep(50000);
    atomic_store(&B.t1_ms, wall_us() / 1000);
    atomic_store(&B.stop_submit, true);
    for (int i = 0; i < nstarted; i++)
        pthread_join(threads[i], NULL);
    nstarted = 0;
    /* Let what was accepted commit (bounded). */
    double drain_end = now_ms() + 15000;
    while (!all_committed() && now_ms() < drain_end)
        usleep(50000);
    atomic_store(&B.stop_poll, true);
    pthread_join(poll_thread, NULL);
    npolling = 0;

    uint64_t t0 = atomic_load(&B.t0_ms), t1 = atomic_load(&B.t1_ms);
    double window_s = (double)(t1 - t0) / 1000.0;
    double tps = (double)B.in_window / window_s;
    double p50 = baseline_percentile(B.lat, B.nlat, 50);
    double p99 = baseline_percentile(B.lat, B.nlat, 99);
    uint64_t submitted = atomic_load(&B.submitted), rejected = atomic_load(&B.rejected);
    double ratio = verify > 0 ? tps / verify : 0;
    if (json) {
        printf("{\"seconds\":%d,\"senders\":%d,\"threads\":%d,\"block_interval_ms\":200,"
               "\"tx_per_s\":%.1f,\"inclusion_p50_ms\":%.1f,\"inclusion_p99_ms\":%.1f,"
               "\"verify_per_s_1core\":%.0f,\"sqlite_rows_per_s\":%.0f,"
               "\"e2e_to_verify_ratio\":%.4f,\"submitted\":%" PRIu64 ",\"committed\":%" PRIu64
               ",\"committed_in_window\":%" PRIu64 ",\"rejected\":%" PRIu64 ",\"rejected_by_code\":{",
               seconds, B.nsenders, B.nthreads, tps, p50, p99, verify, sqlite_rows, ratio,
               submitted, B.committed, B.in_window, rejected);
        for (int i = 0; i < MAX_CODES && B.codes[i][0]; i++)
            printf("%s\"%s\":%" PRIu64, i ? "," : "", B.codes[i], B.code_counts[i]);
        printf("}}\n");
    } else {
        printf("tx: delta transfers through POST /txs, %d senders, %d threads, %d s; "
               "delta.block_interval_ms=200\n\n", B.nsenders, B.nthreads, seconds);
        printf("%-48s %14s\n", "measure", "value");
        printf("%-48s %14.1f\n", "end-to-end committed tx/s (load window)", tps);
        printf("%-48s %14.1f\n", "inclusion latency p50 ms (block time - send)", p50);
        printf("%-48s %14.1f\n", "inclusion latency p99 ms", p99);
        printf("%-48s %14.0f\n", "baseline: Ed25519 verify/s, 1 core", verify);
        printf("%-48s %14.0f\n", "baseline: SQLite rows/s (WAL, FULL, 1000/txn)", sqlite_rows);
        printf("%-48s %14.4f\n", "ratio end-to-end / verify", ratio);
        printf("%-48s %14" PRIu64 "\n", "submitted (202)", submitted);
        printf("%-48s %14" PRIu64 "\n", "committed (incl. drain after the window)", B.committed);
        printf("%-48s %14" PRIu64 "\n", "refused at POST /txs", rejected);
        for (int i = 0; i < MAX_CODES && B.codes[i][0]; i++)
            printf("  %-46s %14" PRIu64 "\n", B.codes[i], B.code_counts[i]);
    }
    rc = B.in_window > 0 && B.poll_error == 0 ? 0 : 1;
    if (B.poll_error)
        fprintf(stderr, "bench_tx: reading the ledger failed %d times\n", B.poll_error);
    if (node_stop(&node, SIGTERM, 30000) != 0)
        rc = 1;
out:
    atomic_store(&B.stop_submit, true);
    for (int i = 0; i < nstarted; i++)
        pthread_join(threads[i], NULL);
    if (npolling) {
        atomic_store(&B.stop_poll, true);
        pthread_join(poll_thread, NULL);
    }
    node_cleanup(&node);
    free(B.senders);
    free(B.lat);
    return rc;
}
