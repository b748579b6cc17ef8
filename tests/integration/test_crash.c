/* Process-level crash tests of the persisted Merkle trees: SIGKILL a
 * worker at random instants while signed transactions flow (delta
 * transfers to fresh addresses; alpha mints and transfers), then stop the
 * node and check each ledger with `adnet verify-ledger`, SQLite's
 * integrity check, contiguous heights and every block's state_root against
 * the tree_roots rows. And a damaged tree row is refused, by verify-ledger
 * (exit 1) and by the worker at start-up (exit 101, file untouched).
 *
 * The kill instants come from a seeded stream; the seed is printed, and
 * ADNET_CRASH_SEED=N reruns one. */
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/base/bech32.h"
#include "common/base/exitcode.h"
#include "common/base/hex.h"
#include "common/base/keys.h"
#include "proto/alpha_tx.h"
#include "proto/delta_tx.h"
#include "proto/tx.h"
#include "tests/integration/harness.h"
#include "tests/lib/file.h"
#include "tests/lib/rng.h"

Suite *test_suite(void);

#define FAST "--set", "alpha.block_interval_ms=200", "--set", "delta.block_interval_ms=100"
/* The load generator, not the admission limits, sets the pace; the
 * supervisor restarts at once and tolerates the storm. */
#define STORM FAST, "--set", "supervisor.restart_burst=100", "--set",                   \
    "supervisor.backoff_initial_ms=0", "--set", "delta.api.rate_per_s=100000", "--set", \
    "delta.api.rate_burst=100000", "--set", "alpha.api.rate_per_s=100000", "--set",    \
    "alpha.api.rate_burst=100000"

enum { ALPHA = 0, DELTA = 1 };
static const char *const chain_name[2] = { "alpha", "delta" };

static node_t node;

/* ---- HTTP, one keep-alive handle per chain ---- */

typedef struct {
    char buf[8192];
    size_t len;
} body_t;

typedef struct {
    CURL *c;
    struct curl_slist *hdrs;
    body_t body;
    int port;
    char chain_id[BLOCK_CHAIN_ID_MAX + 1];
    uint64_t fee;          /* genesis params.min_fee */
    uint64_t expiry;       /* expiry height given to new transactions */
    long accepted, refused, transport;
} api_t;

static api_t api[2];

static size_t sink_cb(char *p, size_t size, size_t n, void *arg)
{
    body_t *b = arg;
    size_t k = size * n, room = sizeof(b->buf) - 1 - b->len;
    memcpy(b->buf + b->len, p, k < room ? k : room);
    b->len += k < room ? k : room;
    b->buf[b->len] = '\0';
    return k;
}

/* GET path (post NULL) or POST post; return the HTTP status, 0 when the
 * worker is unreachable (it is being restarted). The answer is in a->body. */
static long http(api_t *a, const char *path, const char *post)
{
    char url[256];
    long status = 0;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", a->port, path);
    a->body.len = 0;
    a->body.buf[0] = '\0';
    curl_easy_setopt(a->c, CURLOPT_URL, url);
    if (post) {
        curl_easy_setopt(a->c, CURLOPT_POSTFIELDS, post);
        curl_easy_setopt(a->c, CURLOPT_POSTFIELDSIZE, (long)strlen(post));
    } else {
        curl_easy_setopt(a->c, CURLOPT_HTTPGET, 1L);
    }
    if (curl_easy_perform(a->c) == CURLE_OK)
        curl_easy_getinfo(a->c, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static json_t *get_json(api_t *a, const char *path)
{
    return http(a, path, NULL) == 200 ? json_loads(a->body.buf, 0, NULL) : NULL;
}

static void api_open(int chain)
{
    api_t *a = &api[chain];
    char path[PATH_MAX + 32];
    memset(a, 0, sizeof(*a));
    a->port = node.api_port[chain];
    ck_assert_ptr_nonnull(a->c = curl_easy_init());
    a->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    a->hdrs = curl_slist_append(a->hdrs, "Expect:");
    curl_easy_setopt(a->c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(a->c, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
    curl_easy_setopt(a->c, CURLOPT_TIMEOUT_MS, 3000L);
    curl_easy_setopt(a->c, CURLOPT_WRITEFUNCTION, sink_cb);
    curl_easy_setopt(a->c, CURLOPT_WRITEDATA, &a->body);
    curl_easy_setopt(a->c, CURLOPT_HTTPHEADER, a->hdrs);
    /* The chain id and minimum fee from the genesis file the node uses. */
    snprintf(path, sizeof(path), "%s/%s/genesis.json", node.home, chain_name[chain]);
    json_t *g = json_load_file(path, 0, NULL);
    ck_assert_msg(g != NULL, "cannot read %s", path);
    snprintf(a->chain_id, sizeof(a->chain_id), "%s",
             json_string_value(json_object_get(g, "chain_id")));
    json_t *fee = json_object_get(json_object_get(g, "params"), "min_fee");
    a->fee = json_is_integer(fee) && json_integer_value(fee) > 0
                 ? (uint64_t)json_integer_value(fee) : 1;
    json_decref(g);
    ck_assert_msg(a->chain_id[0], "no chain_id in %s", path);
}

static void api_close(api_t *a)
{
    if (a->c)
        curl_easy_cleanup(a->c);
    curl_slist_free_all(a->hdrs);
    a->c = NULL;
    a->hdrs = NULL;
}

/* Wait until the chain's API answers GET /status, and take the expiry
 * height for new transactions from it. */
static bool api_ready(int chain, int timeout_ms)
{
    double end = now_ms() + timeout_ms;
    do {
        json_t *s = get_json(&api[chain], "/status");
        json_t *h = json_object_get(s, "height");
        if (json_is_integer(h)) {
            api[chain].expiry = (uint64_t)json_integer_value(h) + 10000;
            json_decref(s);
            return true;
        }
        json_decref(s);
        usleep(5000);
    } while (now_ms() < end);
    return false;
}

/* Sign and POST one transaction; return the HTTP status (0: unreachable). */
static long submit(int chain, uint16_t kind, const keys_pair_t *kp, uint64_t nonce,
                   const uint8_t *payload, size_t plen)
{
    api_t *a = &api[chain];
    uint8_t buf[2048];
    char json[2 * sizeof(buf) + 16];
    size_t len;
    tx_t tx;
    memset(&tx, 0, sizeof(tx));
    snprintf(tx.chain_id, sizeof(tx.chain_id), "%s", a->chain_id);
    tx.kind = kind;
    memcpy(tx.sender, kp->pk, 32);
    tx.fee = a->fee;
    tx.nonce = nonce;
    tx.expiry_height = a->expiry;
    tx.payload = payload;
    tx.payload_len = plen;
    ck_assert_int_eq(tx_sign_encode(&tx, kp->sk, buf, sizeof(buf), &len), 0);
    memcpy(json, "{\"tx\":\"", 7);
    hex_encode(json + 7, buf, len);
    memcpy(json + 7 + 2 * len, "\"}", 3);
    long st = http(a, "/txs", json);
    if (st == 202)
        a->accepted++;
    else if (st == 0)
        a->transport++;
    else
        a->refused++;
    return st;
}

/* ---- the transaction flows ---- */

static keys_pair_t validator, holder; /* holder owns the alpha records it mints */
static char validator_addr[ADDRESS_MAX];
static uint64_t delta_nonce;        /* the validator's next delta nonce */
static bool delta_nonce_known;

#define MINTED_MAX 4096
static struct {
    uint8_t c[32];   /* commitment of a record minted to holder */
    uint64_t amount;
    bool spent;      /* a transfer of it was accepted */
} minted[MINTED_MAX];
static int nminted, next_spend;

static void flows_init(void)
{
    char path[PATH_MAX + 32], err[KEYS_ERR_MAX];
    snprintf(path, sizeof(path), "%s/keys/validator.json", node.home);
    ck_assert_msg(keys_load(&validator, path, err) == 0, "%s", err);
    ck_assert_int_eq(keys_generate(&holder, "holder"), 0);
    address_encode(validator_addr, validator.pk);
    delta_nonce_known = false;
    nminted = next_spend = 0;
}

/* The validator's committed delta nonce, from the API: the mempool of a
 * killed worker is gone, so the next nonce starts again from there. */
static bool delta_resync(void)
{
    char path[160];
    snprintf(path, sizeof(path), "/accounts/%s", validator_addr);
    json_t *acct = get_json(&api[DELTA], path);
    json_t *n = json_object_get(acct, "nonce");
    bool ok = json_is_integer(n);
    if (ok)
        delta_nonce = (uint64_t)json_integer_value(n);
    json_decref(acct);
    delta_nonce_known = ok;
    return ok;
}

/* One delta transfer from the validator to a fresh address. */
static void delta_send(void)
{
    if (!delta_nonce_known && !delta_resync()) {
        usleep(2000);
        return;
    }
    delta_payload_t p;
    uint8_t pl[DELTA_PAYLOAD_MAX];
    size_t plen;
    memset(&p, 0, sizeof(p));
    p.kind = DELTA_TX_TRANSFER;
    rng_bytes(p.u.transfer.to, 32);
    memcpy(p.u.transfer.asset, "ADN", 4);
    p.u.transfer.amount = 1 + rng_next() % 100;
    ck_assert_int_eq(delta_payload_encode(&p, pl, sizeof(pl), &plen), 0);
    long st = submit(DELTA, DELTA_TX_TRANSFER, &validator, delta_nonce, pl, plen);
    if (st == 202) {
        /* Admission takes nonces up to 64 ahead of the account's. */
        if (++delta_nonce % 48 == 0)
            delta_nonce_known = false;
    } else {
        delta_nonce_known = false; /* refused (nonce) or restarting: ask again */
        if (st == 0)
            usleep(2000);
    }
}

/* Is the record committed and unspent? (read-only look at the ledger) */
static bool record_unspent(const uint8_t c[32])
{
    char path[PATH_MAX + 32], hex[65];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    bool yes = false;
    snprintf(path, sizeof(path), "%s/alpha/ledger.db", node.home);
    hex_encode(hex, c, 32);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_busy_timeout(db, 1000) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT 1 FROM records WHERE commitment = ? AND spent_height "
                               "IS NULL", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, hex, 64, SQLITE_STATIC) == SQLITE_OK)
        yes = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return yes;
}

/* One alpha transaction: a mint to holder, or (every other time, when a
 * minted record has committed) a transfer of it to a fresh address with
 * exact change, which writes the nullifier tree too. */
static void alpha_send(void)
{
    alpha_payload_t p;
    uint8_t pl[ALPHA_PAYLOAD_MAX];
    size_t plen;
    long st;
    memset(&p, 0, sizeof(p));
    if (next_spend < nminted && rng_next() % 2 == 0) {
        int i = next_spend;
        if (!record_unspent(minted[i].c)) {
            /* Not committed yet, or lost with a killed mempool: move on once
             * the chain is well past it. */
            if (nminted - i > 8)
                next_spend++;
            return;
        }
        p.kind = ALPHA_TX_TRANSFER;
        p.n_in = 1;
        memcpy(p.in[0], minted[i].c, 32);
        p.n_out = 2;
        uint64_t give = 1 + rng_next() % (minted[i].amount - api[ALPHA].fee - 1);
        rng_bytes(p.out[0].owner, 32);
        snprintf(p.out[0].asset, sizeof(p.out[0].asset), "ADN");
        p.out[0].amount = give;
        rng_bytes(p.out[0].salt, 32);
        memcpy(p.out[1].owner, holder.pk, 32);
        snprintf(p.out[1].asset, sizeof(p.out[1].asset), "ADN");
        p.out[1].amount = minted[i].amount - api[ALPHA].fee - give;
        rng_bytes(p.out[1].salt, 32);
        ck_assert_int_eq(alpha_payload_encode(&p, pl, sizeof(pl), &plen), 0);
        st = submit(ALPHA, ALPHA_TX_TRANSFER, &holder, 0, pl, plen);
        if (st == 202 || st >= 400)
            next_spend++;
        else
            usleep(2000);
        return;
    }
    if (nminted == MINTED_MAX)
        return;
    p.kind = ALPHA_TX_MINT;
    p.n_out = 1;
    memcpy(p.out[0].owner, holder.pk, 32);
    snprintf(p.out[0].asset, sizeof(p.out[0].asset), "ADN");
    p.out[0].amount = 1000 + rng_next() % 1000;
    rng_bytes(p.out[0].salt, 32);
    ck_assert_int_eq(alpha_payload_encode(&p, pl, sizeof(pl), &plen), 0);
    st = submit(ALPHA, ALPHA_TX_MINT, &validator, 0, pl, plen);
    if (st == 202) {
        ck_assert_int_eq(alpha_record_commitment(holder.pk, "ADN", p.out[0].amount,
                                                 p.out[0].salt, minted[nminted].c), 0);
        minted[nminted].amount = p.out[0].amount;
        nminted++;
    } else if (st == 0) {
        usleep(2000);
    }
}

/* Keep both flows going for ms milliseconds (at least one round). */
static void pump(double ms)
{
    double end = now_ms() + ms;
    do {
        delta_send();
        alpha_send();
    } while (now_ms() < end);
}

/* ---- ledgers ---- */

static sqlite3 *ledger_open(const char *chain, bool rw)
{
    char path[PATH_MAX + 32];
    sqlite3 *db = NULL;
    snprintf(path, sizeof(path), "%s/%s/ledger.db", node.home, chain);
    ck_assert_int_eq(sqlite3_open_v2(path, &db, rw ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY,
                                     NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 2000);
    return db;
}

static long long sql_ll(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    long long v = -1;
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(db));
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static long long chain_ll(const char *chain, const char *sql)
{
    sqlite3 *db = ledger_open(chain, false);
    long long v = sql_ll(db, sql);
    sqlite3_close(db);
    return v;
}

/* The tree's root at height h: its tree_roots row of the highest version
 * at or below h. False if there is none. */
static bool tree_root_at(sqlite3 *db, const char *tree, long long h, uint8_t root[32])
{
    sqlite3_stmt *st;
    bool ok = false;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT root FROM tree_roots WHERE tree = ? AND "
                                            "version <= ? ORDER BY version DESC LIMIT 1", -1,
                                        &st, NULL), SQLITE_OK);
    sqlite3_bind_text(st, 1, tree, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, h);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *hx = (const char *)sqlite3_column_text(st, 0);
        ok = hx && strlen(hx) == 64 && hex_decode(root, 32, hx) == 0;
    }
    sqlite3_finalize(st);
    return ok;
}

/* `adnet verify-ledger`; its stdout into out[cap]; return its exit code. */
static int verify_ledger(const char *chain, char *out, size_t cap)
{
    const char *args[] = { "verify-ledger", "--home", node.home, "--chain", chain, NULL };
    return node_cli(&node, out, cap, args);
}

/* Everything a crash must not break, on a stopped node. Return the tip. */
static int64_t check_ledger(const char *chain)
{
    char out[8192], why[256] = "", root_hex[65] = "";
    unsigned long long vh = 0;

    /* verify-ledger: exit 0 and a verdict naming the tip and its root. */
    int rc = verify_ledger(chain, out, sizeof(out));
    ck_assert_msg(rc == 0, "verify-ledger --chain %s exited %d:\n%s(log %s)", chain, rc, out,
                  node.log);
    const char *ok = strstr(out, ": ok: height ");
    ck_assert_msg(ok && sscanf(ok, ": ok: height %llu: state root %64[0-9a-f]", &vh, root_hex) == 2,
                  "verify-ledger --chain %s: unexpected verdict:\n%s", chain, out);

    /* Heights 1..tip, hash-chained. */
    int64_t tip = node_ledger_verify(&node, chain, why);
    ck_assert_msg(tip > 0, "%s", why);
    ck_assert_msg((int64_t)vh == tip, "%s: verify-ledger checked height %llu, the tip is %lld",
                  chain, vh, (long long)tip);

    sqlite3 *db = ledger_open(chain, false);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    /* No half-written block: every block has its commit signatures. */
    ck_assert_int_eq(sql_ll(db, "SELECT count(*) FROM blocks b WHERE NOT EXISTS (SELECT 1 FROM "
                                "commits c WHERE c.height = b.height)"), 0);

    /* The root verify-ledger reports is the tip header's. */
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM blocks WHERE height = %lld AND state_root "
             "= '%s'", (long long)tip, root_hex);
    ck_assert_msg(sql_ll(db, sql) == 1, "%s: verify-ledger's root %s is not block %lld's "
                  "state_root", chain, root_hex, (long long)tip);

    /* Each tree stands at the tip, and every block's state_root is the
     * root the trees had at its height (nothing is pruned: keep_heights
     * is far above these heights, and genesis is version 0). */
    bool alpha = strcmp(chain, "alpha") == 0;
    const char *trees[2] = { alpha ? "records" : "accounts", alpha ? "nullifiers" : NULL };
    for (int t = 0; t < 2 && trees[t]; t++) {
        snprintf(sql, sizeof(sql), "SELECT max(version) FROM tree_roots WHERE tree = '%s'",
                 trees[t]);
        ck_assert_msg(sql_ll(db, sql) == tip, "%s: the %s tree stands at %lld, the tip is %lld",
                      chain, trees[t], sql_ll(db, sql), (long long)tip);
        snprintf(sql, sizeof(sql), "SELECT min(version) FROM tree_roots WHERE tree = '%s'",
                 trees[t]);
        ck_assert_int_eq(sql_ll(db, sql), 0);
    }
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT height, state_root FROM blocks ORDER BY "
                                            "height", -1, &st, NULL), SQLITE_OK);
    int64_t checked = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        long long h = sqlite3_column_int64(st, 0);
        const char *hdr = (const char *)sqlite3_column_text(st, 1);
        uint8_t r0[32], r1[32], want[32];
        char want_hex[65];
        ck_assert_msg(tree_root_at(db, trees[0], h, r0), "%s: no %s root at %lld", chain,
                      trees[0], h);
        if (alpha) {
            ck_assert_msg(tree_root_at(db, trees[1], h, r1), "alpha: no nullifiers root at %lld",
                          h);
            alpha_state_root(r0, r1, want);
        } else {
            memcpy(want, r0, 32);
        }
        hex_encode(want_hex, want, 32);
        ck_assert_msg(hdr && strcmp(hdr, want_hex) == 0,
                      "%s: block %lld's state_root %s, the trees at that height give %s", chain,
                      h, hdr ? hdr : "(null)", want_hex);
        checked++;
    }
    sqlite3_finalize(st);
    ck_assert_int_eq(checked, tip);
    sqlite3_close(db);
    return tip;
}

/* ---- fixtures ---- */

static void setup(void)
{
    ck_assert_msg(node_init(&node) == 0, "adnet init failed (ADNET_BIN=%s)", getenv("ADNET_BIN"));
    ck_assert_int_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    ck_assert_int_ge(sodium_init(), 0);
}

static void teardown(void)
{
    api_close(&api[ALPHA]);
    api_close(&api[DELTA]);
    node_cleanup(&node);
}

static uint64_t test_seed(void)
{
    const char *s = getenv("ADNET_CRASH_SEED");
    uint64_t seed = s && *s ? strtoull(s, NULL, 0)
                            : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    rng_seed(seed);
    return seed;
}

static char *read_log(void)
{
    static char buf[1 << 21];
    FILE *f = fopen(node.log, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

static void start_node(const char *const *args)
{
    ck_assert_int_eq(node_start(&node, args, NULL), 0);
    ck_assert_msg(node_wait_running(&node, "alpha", 15000), "alpha never ran; see %s", node.log);
    ck_assert_msg(node_wait_running(&node, "delta", 15000), "delta never ran; see %s", node.log);
    api_open(ALPHA);
    api_open(DELTA);
    ck_assert_msg(api_ready(ALPHA, 10000), "alpha's API never answered; see %s", node.log);
    ck_assert_msg(api_ready(DELTA, 10000), "delta's API never answered; see %s", node.log);
    flows_init();
}

/* Wait for a fresh worker (pid != old) in state running, pumping the
 * flows meanwhile (the other chain keeps taking transactions). */
static pid_t wait_replaced(const char *victim, pid_t old, int timeout_ms)
{
    double end = now_ms() + timeout_ms;
    pid_t fresh = 0;
    do {
        fresh = node_worker_pid(&node, victim);
        if (fresh > 0 && fresh != old && node_worker_state_is(&node, victim, "running"))
            return fresh;
        if (!pid_alive(node.pid))
            return 0; /* the supervisor gave up (a refused ledger stops the node) */
        pump(5);
    } while (now_ms() < end);
    return 0;
}

/* ---- 1. kills during block commits ---- */

static void kill_storm(int victim, int kills, int max_delay_ms)
{
    const char *name = chain_name[victim];
    const char *args[] = { STORM, NULL };
    uint64_t seed = test_seed();
    fprintf(stderr, "test_crash: %s storm, %d kills, seed %" PRIu64
            " (rerun with ADNET_CRASH_SEED=%" PRIu64 ")\n", name, kills, seed, seed);
    /* The kill delays first, so that they alone follow from the seed (the
     * transactions draw from the stream at a pace set by timing). */
    uint64_t delay[64];
    ck_assert_int_le(kills, 64);
    for (int i = 0; i < kills; i++)
        delay[i] = rng_next() % (uint64_t)(max_delay_ms + 1);
    start_node(args);
    long long supply0 = chain_ll("delta", "SELECT sum(amount) FROM balances WHERE asset = 'ADN'");
    pump(300); /* transactions in flight before the first kill */

    int done = 0;
    for (int i = 0; i < kills; i++) {
        pump((double)delay[i]);
        pid_t p = node_worker_pid(&node, name);
        ck_assert_msg(p > 0, "%s has no pid before kill %d; see %s", name, i, node.log);
        ck_assert_int_eq(kill(p, SIGKILL), 0);
        done++;
        if (wait_replaced(name, p, 15000) <= 0) {
            const char *why = strstr(read_log(), "event=ledger_refused");
            ck_abort_msg("%s was not restarted after kill %d (seed %" PRIu64 "): %.300s; see %s",
                         name, i, seed, why ? why : "no ledger_refused line", node.log);
        }
        if (victim == DELTA)
            delta_nonce_known = false;
        ck_assert_msg(api_ready(victim, 10000), "%s's API did not come back after kill %d",
                      name, i);
    }
    ck_assert_int_eq(node_worker_restarts(&node, name), done);
    ck_assert_int_eq(node_worker_restarts(&node, chain_name[!victim]), 0);

    /* It resumes and keeps committing what it is sent. */
    uint64_t h = node_ledger_height(&node, name);
    double end = now_ms() + 15000;
    while (node_ledger_height(&node, name) < h + 3 && now_ms() < end)
        pump(20);
    ck_assert_msg(node_ledger_height(&node, name) >= h + 3, "%s stalled after the storm", name);
    fprintf(stderr, "test_crash: %s storm: %d kills; delta accepted %ld refused %ld unreachable "
            "%ld; alpha accepted %ld refused %ld unreachable %ld\n", name, done,
            api[DELTA].accepted, api[DELTA].refused, api[DELTA].transport, api[ALPHA].accepted,
            api[ALPHA].refused, api[ALPHA].transport);
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);

    int64_t ta = check_ledger("alpha"), td = check_ledger("delta");
    fprintf(stderr, "test_crash: %s storm: ledgers ok at alpha %" PRId64 ", delta %" PRId64 "\n",
            name, ta, td);
    /* Transactions did commit, to many fresh addresses, and nothing was
     * created or lost on delta (fees go to the proposer). */
    long long dtx = chain_ll("delta", "SELECT count(*) FROM txs");
    ck_assert_int_gt(dtx, 20);
    ck_assert_int_eq(chain_ll("delta", "SELECT sum(tx_count) FROM blocks"), dtx);
    ck_assert_int_gt(chain_ll("delta", "SELECT count(*) FROM accounts"), 20);
    ck_assert_int_eq(chain_ll("delta", "SELECT sum(amount) FROM balances WHERE asset = 'ADN'"),
                     supply0);
    ck_assert_int_gt(chain_ll("alpha", "SELECT count(*) FROM mints"), 5);
    ck_assert_int_gt(chain_ll("alpha", "SELECT count(*) FROM nullifiers"), 0);
}

START_TEST(delta_killed_during_commits_verifies)
{
    kill_storm(DELTA, 15, 300);
}
END_TEST

START_TEST(alpha_killed_during_commits_verifies)
{
    kill_storm(ALPHA, 6, 300);
}
END_TEST

/* ---- 2. a damaged tree is refused ---- */

static void file_hash(const char *path, char out[65])
{
    size_t len;
    uint8_t h[32];
    void *b = file_read(path, &len);
    crypto_generichash(h, sizeof(h), b, len, NULL, 0);
    free(b);
    hex_encode(out, h, 32);
}

static bool exists(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0;
}

/* Build a little state, stop, run the corruption (one row must change),
 * then: verify-ledger exits 1, and the worker refuses the ledger at
 * start-up (exit 101) without changing a byte of it. */
static void damaged_tree_refused(int chain, const char *corrupt_sql, const char *what)
{
    const char *name = chain_name[chain];
    const char *args[] = { STORM, NULL };
    char path[PATH_MAX + 32], wal[PATH_MAX + 40], before[65], after[65], out[8192];
    test_seed();
    start_node(args);
    double end = now_ms() + 15000;
    while ((chain_ll(name, "SELECT count(*) FROM txs") < 5 || node_ledger_height(&node, name) < 5)
           && now_ms() < end)
        pump(20);
    ck_assert_int_ge(chain_ll(name, "SELECT count(*) FROM txs"), 5);
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
    ck_assert_int_eq(verify_ledger(name, out, sizeof(out)), 0);

    snprintf(path, sizeof(path), "%s/%s/ledger.db", node.home, name);
    snprintf(wal, sizeof(wal), "%s-wal", path);
    sqlite3 *db = ledger_open(name, true);
    char *err = NULL;
    ck_assert_msg(sqlite3_exec(db, corrupt_sql, NULL, NULL, &err) == SQLITE_OK, "%s: %s",
                  corrupt_sql, err ? err : "");
    ck_assert_msg(sqlite3_changes(db) == 1, "%s changed %d rows", corrupt_sql,
                  sqlite3_changes(db));
    ck_assert_int_eq(sqlite3_close(db), SQLITE_OK); /* last connection: checkpoints the WAL */
    ck_assert_msg(!exists(wal), "%s is left after the edit", wal);
    file_hash(path, before);

    /* The full check refuses it, with a message, and changes nothing. */
    int rc = verify_ledger(name, out, sizeof(out));
    ck_assert_msg(rc == 1, "verify-ledger on a damaged %s (%s) exited %d:\n%s", name, what, rc,
                  out);
    ck_assert_msg(strstr(out, "MISMATCH"), "verify-ledger printed no MISMATCH:\n%s", out);
    fprintf(stderr, "test_crash: damaged %s (%s): verify-ledger: %s", name, what,
            strstr(out, path) ? strstr(out, path) : out);
    file_hash(path, after);
    ck_assert_str_eq(before, after);

    /* The worker refuses it at start-up: exit 101, the node stops. */
    const char *run[] = { FAST, NULL };
    size_t log_from = strlen(read_log());
    ck_assert_int_eq(node_start(&node, run, NULL), 0);
    int st = node_wait_exit(&node, 20000);
    ck_assert_msg(st >= 0 && WIFEXITED(st), "the node did not stop on a damaged %s ledger", name);
    ck_assert_int_eq(WEXITSTATUS(st), ADNET_EXIT_LEDGER);
    const char *log = read_log() + log_from;
    char needle[sizeof(path) + 64];
    snprintf(needle, sizeof(needle), "event=ledger_refused path=%s reason=\"", path);
    const char *refused = strstr(log, needle);
    ck_assert_msg(refused, "no `%s` line in the log:\n%s", needle, log);
    const char *eol = strchr(refused, '\n');
    fprintf(stderr, "test_crash: damaged %s (%s): start-up: %.*s\n", name, what,
            eol ? (int)(eol - refused) : (int)strlen(refused), refused);
    snprintf(needle, sizeof(needle), "event=worker_failed worker=%s ", name);
    const char *failed = strstr(log, needle);
    ck_assert_msg(failed && strstr(failed, "exit=101"), "no worker_failed exit=101 line for %s",
                  name);
    file_hash(path, after);
    ck_assert_msg(strcmp(before, after) == 0, "the refused %s ledger changed: %s -> %s", name,
                  before, after);
    /* Nothing waits in a WAL either (a refused open writes none). */
    if (exists(wal)) {
        size_t len;
        free(file_read(wal, &len));
        ck_assert_msg(len == 0, "a refused open left %zu bytes in %s", len, wal);
    }
}

#define FLIP(col) "(CASE substr(" col ", 1, 1) WHEN '0' THEN '1' ELSE '0' END) || substr(" col ", 2)"

START_TEST(damaged_root_row_is_refused)
{
    damaged_tree_refused(DELTA,
                         "UPDATE tree_roots SET root = " FLIP("root") " WHERE tree = 'accounts' "
                         "AND version = (SELECT max(version) FROM tree_roots WHERE tree = "
                         "'accounts')", "tree_roots.root of the accounts tree at the tip");
}
END_TEST

START_TEST(damaged_node_hash_is_refused)
{
    damaged_tree_refused(ALPHA,
                         "UPDATE tree_nodes SET hash = " FLIP("hash") " WHERE tree = 'records' "
                         "AND path = '' AND version = (SELECT node_version FROM tree_roots WHERE "
                         "tree = 'records' ORDER BY version DESC LIMIT 1)",
                         "tree_nodes.hash of the records tree's root node at the tip");
}
END_TEST

/* Damage below the root: start-up checks only the root (O(1)), so the
 * full check must find it by walking every node. */
START_TEST(damaged_inner_node_found_by_verify)
{
    const char *args[] = { STORM, NULL };
    char out[8192];
    test_seed();
    start_node(args);
    double end = now_ms() + 20000;
    while (chain_ll("delta", "SELECT count(*) FROM tree_nodes WHERE tree = 'accounts' AND "
                             "path <> ''") < 1 && now_ms() < end)
        pump(20);
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
    ck_assert_int_eq(verify_ledger("delta", out, sizeof(out)), 0);
    sqlite3 *db = ledger_open("delta", true);
    /* tree_nodes is WITHOUT ROWID: pick the newest inner row by its key. */
    char *err = NULL;
    ck_assert_msg(sqlite3_exec(db,
                               "UPDATE tree_nodes SET hash = " FLIP("hash") " WHERE (tree, path, "
                               "version) = (SELECT tree, path, version FROM tree_nodes WHERE "
                               "tree = 'accounts' AND path <> '' ORDER BY version DESC, path "
                               "LIMIT 1)",
                               NULL, NULL, &err) == SQLITE_OK, "%s", err ? err : "");
    ck_assert_int_eq(sqlite3_changes(db), 1);
    ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);
    int rc = verify_ledger("delta", out, sizeof(out));
    ck_assert_msg(rc == 1, "verify-ledger on a damaged inner node exited %d:\n%s", rc, out);
    ck_assert_msg(strstr(out, "MISMATCH") && strstr(out, "damaged"),
                  "verify-ledger did not name the damage:\n%s", out);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("crash");
    TCase *tc = tcase_create("process");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, delta_killed_during_commits_verifies);
    tcase_add_test(tc, alpha_killed_during_commits_verifies);
    tcase_add_test(tc, damaged_root_row_is_refused);
    tcase_add_test(tc, damaged_node_hash_is_refused);
    tcase_add_test(tc, damaged_inner_node_found_by_verify);
    suite_add_tcase(s, tc);
    return s;
}
