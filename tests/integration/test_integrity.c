/* Process-level tests of the ledger's integrity under an operator's bad
 * day, each on a real node (issue 12 items 1-4, issue 11 item 4):
 *
 *  - a ledger that lost blocks is refused (exit 101) and left
 *    byte-identical: emptied, deleted, a WAL frame damaged while the node
 *    was down, an older copy restored behind the commit record;
 *  - a ledger file deleted under the running node halts it (/health,
 *    /status, adnet status say why) and no block is claimed after;
 *  - a write lock another process holds for 10 s delays blocks without
 *    killing the worker, losing its mempool or making the API wait, and
 *    SIGTERM or the supervisor's death are acted on within 100 ms even so;
 *  - 20 SIGKILLs of the supervisor, while transactions flow: the workers
 *    are gone within 100 ms each time and a new supervisor starts at once;
 *  - a full disk halts the chain whose disk it is (the other keeps going)
 *    and production resumes once space is free, nothing lost. That one
 *    mounts a small tmpfs, so it needs root; it is built as its own
 *    program (INTEGRITY_DISK_FULL) that reports a TAP skip otherwise. */
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/base/bech32.h"
#include "common/base/exitcode.h"
#include "common/base/hex.h"
#include "common/base/keys.h"
#include "proto/delta_tx.h"
#include "proto/tx.h"
#include "tests/integration/harness.h"
#include "tests/lib/db.h"
#include "tests/lib/file.h"
#include "tests/lib/suite.h"

Suite *test_suite(void);

/* Fast blocks; the test, not the API's rate limit, sets the pace. */
#define FAST "--set", "alpha.block_interval_ms=200", "--set", "delta.block_interval_ms=100", \
    "--set", "delta.api.rate_per_s=100000", "--set", "delta.api.rate_burst=100000"
#define API_BOUND_MS 100.0 /* the API answers within this, even while the ledger is locked */
#define DEATH_BOUND_MS 100.0

enum { ALPHA = 0, DELTA = 1 };
static const char *const CHAIN[2] = { "alpha", "delta" };

static node_t node;

static void setup(void)
{
    ck_assert_msg(node_init(&node) == 0, "adnet init failed (ADNET_BIN=%s)", getenv("ADNET_BIN"));
    ck_assert_int_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    ck_assert_int_ge(sodium_init(), 0);
}

static const char *home_path(int chain, const char *name)
{
    static char buf[4][PATH_MAX + 64];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof(buf[0]), "%s/%s/%s", node.home, CHAIN[chain], name);
    return p;
}

static const char *jstr(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v != NULL ? v : "";
}

static bool log_has(const char *needle)
{
    char *log = file_read(node.log, NULL);
    bool r = strstr(log, needle) != NULL;
    free(log);
    return r;
}

/* Lines of the log holding needle. */
static int log_count(const char *needle)
{
    char *log = file_read(node.log, NULL);
    int n = 0;
    for (const char *p = log; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    free(log);
    return n;
}

static void start_node(const char *const *extra)
{
    static const char *const fast[] = { FAST };
    const char *args[32];
    size_t n = 0;
    for (; n < sizeof(fast) / sizeof(fast[0]); n++)
        args[n] = fast[n];
    for (; extra && *extra && n < 31; extra++)
        args[n++] = *extra;
    args[n] = NULL;
    ck_assert_int_eq(node_start(&node, args, NULL), 0);
    ck_assert_msg(node_wait_running(&node, "alpha", 15000), "alpha never ran; see %s", node.log);
    ck_assert_msg(node_wait_running(&node, "delta", 15000), "delta never ran; see %s", node.log);
}

/* Run the node until delta has at least `blocks` more blocks, then stop it cleanly. */
static bool delta_halted(node_t *n, const void *arg)
{
    long st = 0;
    json_t *h = node_http_json(n, DELTA, "/health", &st);
    bool r = st == 503 && strcmp(jstr(h, "status"), "halted") == 0;
    json_decref(h);
    return r;
}

/* ---- delta transfers from the validator, signed here ---- */

static struct {
    keys_pair_t key;
    char chain_id[BLOCK_CHAIN_ID_MAX + 1];
    uint64_t fee, nonce;
} V;

static void validator_load(void)
{
    char err[KEYS_ERR_MAX];
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/keys/validator.json", node.home);
    ck_assert_msg(keys_load(&V.key, path, err) == 0, "%s", err);
    json_t *g = json_load_file(home_path(DELTA, "genesis.json"), 0, NULL);
    ck_assert_ptr_nonnull(g);
    snprintf(V.chain_id, sizeof(V.chain_id), "%s",
             json_string_value(json_object_get(g, "chain_id")));
    json_t *fee = json_object_get(json_object_get(g, "params"), "min_fee");
    V.fee = json_is_integer(fee) && json_integer_value(fee) > 0 ? (uint64_t)json_integer_value(fee)
                                                                : 1;
    json_decref(g);
    V.nonce = 0;
}

/* The JSON body of the validator's next transfer (nonce V.nonce) and its id. */
static void transfer_body(char *json, size_t cap, char id[65])
{
    delta_payload_t p;
    uint8_t pl[DELTA_PAYLOAD_MAX], buf[1024], txid[TX_ID_LEN];
    size_t plen, len;
    tx_t tx;
    memset(&p, 0, sizeof(p));
    p.kind = DELTA_TX_TRANSFER;
    randombytes_buf(p.u.transfer.to, 32);
    memcpy(p.u.transfer.asset, "ADN", 4);
    p.u.transfer.amount = 1;
    ck_assert_int_eq(delta_payload_encode(&p, pl, sizeof(pl), &plen), 0);
    memset(&tx, 0, sizeof(tx));
    snprintf(tx.chain_id, sizeof(tx.chain_id), "%s", V.chain_id);
    tx.kind = DELTA_TX_TRANSFER;
    memcpy(tx.sender, V.key.pk, 32);
    tx.fee = V.fee;
    tx.nonce = V.nonce;
    tx.expiry_height = 1000000;
    tx.payload = pl;
    tx.payload_len = plen;
    ck_assert_int_eq(tx_sign_encode(&tx, V.key.sk, buf, sizeof(buf), &len), 0);
    ck_assert_uint_lt(2 * len + 16, cap);
    memcpy(json, "{\"tx\":\"", 7);
    hex_encode(json + 7, buf, len);
    memcpy(json + 7 + 2 * len, "\"}", 3);
    tx_id(buf, len, txid);
    hex_encode(id, txid, TX_ID_LEN);
}

static bool wait_committed(const char *id, int timeout_ms)
{
    char path[96];
    node_resp_t r;
    snprintf(path, sizeof(path), "/txs/%s", id);
    for (double end = now_ms() + timeout_ms; now_ms() < end; usleep(50000))
        if (node_http(&node, DELTA, path, NULL, 2000, &r) == 200)
            return true;
    return false;
}

/* The validator's committed delta nonce, from the API (a killed worker's
 * pool is gone, so the next nonce starts there again). */
#ifndef INTEGRITY_DISK_FULL

static void teardown(void)
{
    node_cleanup(&node);
}

/* <home>/<chain>/<name> */
static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* BLAKE2b of the file's bytes as hex, or "absent". */
static void file_digest(const char *path, char out[65])
{
    uint8_t h[32];
    size_t len = 0;
    if (!exists(path)) {
        snprintf(out, 65, "absent");
        return;
    }
    uint8_t *data = file_read(path, &len);
    crypto_generichash(h, sizeof(h), data, len, NULL, 0);
    hex_encode(out, h, sizeof(h));
    free(data);
}

/* o's string at key, or "". */
static uint64_t run_blocks(uint64_t blocks)
{
    uint64_t h = node_ledger_height(&node, "delta");
    start_node(NULL);
    ck_assert(node_wait_height(&node, "delta", h + blocks, 15000));
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
    return node_ledger_height(&node, "delta");
}

/* The height the commit record of chain names. */
static uint64_t record_height(int chain)
{
    json_t *r = json_load_file(home_path(chain, "last_signed.json"), 0, NULL);
    ck_assert_ptr_nonnull(r);
    uint64_t h = (uint64_t)json_integer_value(json_object_get(r, "height"));
    json_decref(r);
    return h;
}

/* Start the node on a ledger that lost blocks and expect delta to be
 * refused: the node exits 101 with a line holding want, and every file in
 * files (NULL-terminated) is byte-identical afterwards. */
static void expect_refused(const char *want, const char *const *files)
{
    char before[4][65], after[65];
    size_t n = 0;
    for (; files[n] != NULL; n++)
        file_digest(files[n], before[n]);
    const char *args[] = { FAST, NULL };
    ck_assert_int_eq(node_start(&node, args, NULL), 0);
    int st = node_wait_exit(&node, 20000);
    ck_assert_msg(st >= 0 && WIFEXITED(st), "the node did not exit; see %s", node.log);
    ck_assert_int_eq(WEXITSTATUS(st), ADNET_EXIT_LEDGER);
    char *log = file_read(node.log, NULL);
    const char *line = strstr(log, "comp=delta event=ledger_refused");
    ck_assert_msg(line != NULL, "no ledger_refused line; see %s", node.log);
    ck_assert_msg(strstr(line, want) != NULL && strstr(line, "the ledger lost blocks") != NULL,
                  "want \"%s\" in %.400s", want, line);
    free(log);
    for (size_t i = 0; i < n; i++) {
        file_digest(files[i], after);
        ck_assert_msg(strcmp(before[i], after) == 0, "%s changed", files[i]);
    }
}

/* expect_refused for a ledger at height `at` behind a record at `rec`. */
static void expect_behind(uint64_t at, uint64_t rec, const char *const *files)
{
    char want[128];
    snprintf(want, sizeof(want), "is at height %llu but this node committed %llu",
             (unsigned long long)at, (unsigned long long)rec);
    expect_refused(want, files);
}

/* ---- 1. a ledger that lost blocks is refused, untouched ---- */

START_TEST(empty_ledger_is_refused)
{
    uint64_t h = run_blocks(5);
    ck_assert_uint_eq(record_height(DELTA), h);
    ck_assert_int_eq(truncate(home_path(DELTA, "ledger.db"), 0), 0);
    const char *files[] = { home_path(DELTA, "ledger.db"), home_path(DELTA, "last_signed.json"),
                            NULL };
    char want[96];
    snprintf(want, sizeof(want), "is empty (0 bytes) but this node committed %llu",
             (unsigned long long)h);
    expect_refused(want, files);
}
END_TEST

START_TEST(deleted_ledger_is_refused)
{
    uint64_t h = run_blocks(5);
    ck_assert_int_eq(unlink(home_path(DELTA, "ledger.db")), 0);
    const char *files[] = { home_path(DELTA, "last_signed.json"), NULL };
    char want[96];
    snprintf(want, sizeof(want), "is missing but this node committed %llu", (unsigned long long)h);
    expect_refused(want, files);
    ck_assert_msg(!exists(home_path(DELTA, "ledger.db")), "a new ledger was made");
}
END_TEST

START_TEST(restored_older_ledger_is_refused)
{
    uint64_t h0 = run_blocks(3); /* a clean stop leaves everything in ledger.db */
    size_t len;
    char *old = file_read(home_path(DELTA, "ledger.db"), &len);
    uint64_t h1 = run_blocks(5);
    ck_assert_uint_gt(h1, h0);
    FILE *f = fopen(home_path(DELTA, "ledger.db"), "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(old, 1, len, f), len);
    fclose(f);
    free(old);
    const char *files[] = { home_path(DELTA, "ledger.db"), home_path(DELTA, "last_signed.json"),
                            NULL };
    expect_behind(h0, h1, files);
}
END_TEST

/* A home from before commit records: its ledger's tip is adopted, with a
 * log line, and guarded from then on. */
START_TEST(home_without_record_adopts_its_ledger)
{
    uint64_t h = run_blocks(4);
    ck_assert_int_eq(unlink(home_path(DELTA, "last_signed.json")), 0);
    start_node(NULL);
    char want[160];
    snprintf(want, sizeof(want), "comp=delta event=commit_record_created path=%s height=%llu "
             "reason=\"a ledger from before commit records", home_path(DELTA, "last_signed.json"),
             (unsigned long long)h);
    ck_assert_msg(log_has(want), "no adoption line; see %s", node.log);
    ck_assert_uint_ge(record_height(DELTA), h);
    ck_assert(node_wait_height(&node, "delta", h + 2, 10000));
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
    ck_assert_uint_gt(record_height(DELTA), h); /* and it follows the blocks after */
}
END_TEST

/* A home made again (`adnet init --force`: new geneses, the old ledgers
 * kept as .bak) starts: the old chains' records are moved aside, not
 * taken for the new chains' lost blocks. */
START_TEST(init_force_sets_old_records_aside)
{
    run_blocks(3);
    const char *args[] = { "init", "--home", node.home, "--force", NULL };
    ck_assert_int_eq(node_cli(&node, NULL, 0, args), 0);
    uint64_t h = run_blocks(3);
    ck_assert_uint_eq(record_height(DELTA), h);
    ck_assert(log_has("comp=delta event=commit_record_set_aside"));
    ck_assert(log_has("comp=alpha event=commit_record_set_aside"));
}
END_TEST

/* Delta's tip as ledger.db alone holds it, without the WAL. */
static uint64_t main_file_height(void)
{
    char uri[PATH_MAX + 96];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    uint64_t h = 0;
    snprintf(uri, sizeof(uri), "file:%s?immutable=1", home_path(DELTA, "ledger.db"));
    if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT max(height) FROM blocks", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        h = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return h;
}

/* Leave delta's WAL as a crash does: stop the supervisor (so that it
 * restarts nothing), SIGKILL delta, then the supervisor (alpha follows). */
static void crash_delta(void)
{
    pid_t d = node_worker_pid(&node, "delta"), a = node_worker_pid(&node, "alpha");
    ck_assert(d > 0 && a > 0);
    ck_assert_int_eq(kill(node.pid, SIGSTOP), 0);
    ck_assert_int_eq(kill(d, SIGKILL), 0);
    ck_assert_int_eq(kill(node.pid, SIGKILL), 0);
    node_wait_exit(&node, 5000);
    for (double t0 = now_ms(); (pid_alive(a) || pid_alive(d)) && now_ms() - t0 < 5000;)
        usleep(2000);
}

START_TEST(corrupted_wal_frame_is_refused)
{
    /* The WAL must hold committed frames past ledger.db's own tip (a
     * checkpoint may just have copied them all). */
    for (int attempt = 0; attempt < 5; attempt++) {
        start_node(NULL);
        ck_assert(node_wait_height(&node, "delta", node_ledger_height(&node, "delta") + 8, 15000));
        crash_delta();
        if (main_file_height() < record_height(DELTA))
            break;
    }
    uint64_t rec = record_height(DELTA), main_h = main_file_height();
    ck_assert_uint_lt(main_h, rec);
    /* One byte of the first frame's page: its checksum fails, and SQLite
     * drops that frame and every one after it. */
    int fd = open(home_path(DELTA, "ledger.db-wal"), O_RDWR);
    uint8_t b;
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, &b, 1, 32 + 24 + 100), 1);
    b ^= 0xff;
    ck_assert_int_eq(pwrite(fd, &b, 1, 32 + 24 + 100), 1);
    close(fd);
    const char *files[] = { home_path(DELTA, "ledger.db"), home_path(DELTA, "ledger.db-wal"),
                            home_path(DELTA, "last_signed.json"), NULL };
    expect_behind(main_h, rec, files);
}
END_TEST

/* ---- 2. a file deleted under the running node halts it ---- */

START_TEST(wal_deleted_while_running_halts)
{
    start_node(NULL);
    ck_assert(node_wait_height(&node, "delta", 3, 10000));
    pid_t pid = node_worker_pid(&node, "delta");
    ck_assert_int_eq(unlink(home_path(DELTA, "ledger.db-wal")), 0);
    ck_assert_msg(node_wait(&node, 5000, delta_halted, NULL), "delta did not halt; see %s",
                  node.log);
    uint64_t halted_at = record_height(DELTA);
    int claimed = log_count("comp=delta event=block_committed");

    /* /health and /status say why; so does the supervisor. */
    long st;
    json_t *j = node_http_json(&node, DELTA, "/health", &st);
    ck_assert_msg(strstr(jstr(j, "reason"), "ledger.db-wal") != NULL, "reason: %s",
                  jstr(j, "reason"));
    json_decref(j);
    j = node_http_json(&node, DELTA, "/status", &st);
    ck_assert_str_eq(jstr(j, "state"), "halted");
    json_decref(j);
    json_t *s = node_status(&node);
    json_t *w = json_array_get(json_object_get(s, "workers"), 1);
    ck_assert_str_eq(jstr(w, "name"), "delta");
    ck_assert_ptr_nonnull(strstr(jstr(w, "halted"), "ledger.db-wal"));
    json_decref(s);
    char out[4096];
    const char *args[] = { "status", "--home", node.home, NULL };
    ck_assert_int_eq(node_cli(&node, out, sizeof(out), args), 0);
    ck_assert_msg(strstr(out, "delta halted") != NULL, "%s", out);
    ck_assert(log_has("level=error comp=delta event=halted cause=ledger_changed"));

    /* Nothing is claimed after: no block, no record, no transaction
     * accepted; the worker stays (not a crash) and alpha goes on. */
    char body[4096], id[65];
    node_resp_t r;
    validator_load();
    transfer_body(body, sizeof(body), id);
    ck_assert_int_eq(node_http(&node, DELTA, "/txs", body, 2000, &r), 503);
    ck_assert_ptr_nonnull(strstr(r.body, "\"halted\""));
    uint64_t ha = node_ledger_height(&node, "alpha");
    ck_assert(node_wait_height(&node, "alpha", ha + 5, 10000));
    ck_assert_int_eq(log_count("comp=delta event=block_committed"), claimed);
    ck_assert_uint_eq(record_height(DELTA), halted_at);
    ck_assert_int_eq(node_worker_pid(&node, "delta"), pid);
    ck_assert_int_eq(node_worker_restarts(&node, "delta"), 0);

    /* A clean stop lets SQLite copy the deleted WAL's frames into
     * ledger.db: the blocks claimed before the halt are all there, and the
     * node starts again. */
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
    ck_assert_uint_eq(node_ledger_height(&node, "delta"), halted_at);
    start_node(NULL);
    ck_assert(node_wait_height(&node, "delta", halted_at + 3, 10000));
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
}
END_TEST

/* A commit record that cannot be written halts production (the block
 * already committed stays, the ledger being ahead of its record is fine)
 * and is retried until it can be. */
START_TEST(record_write_failure_halts_until_it_works)
{
    start_node(NULL);
    ck_assert(node_wait_height(&node, "delta", 3, 10000));
    pid_t pid = node_worker_pid(&node, "delta");
    char tmp[PATH_MAX + 96];
    /* The record's temporary file is a folder: it cannot be written. */
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", home_path(DELTA, "last_signed.json"), (long)pid);
    ck_assert_int_eq(mkdir(tmp, 0700), 0);
    ck_assert_msg(node_wait(&node, 5000, delta_halted, NULL), "delta did not halt; see %s",
                  node.log);
    uint64_t rec = record_height(DELTA), h = node_ledger_height(&node, "delta");
    ck_assert_uint_eq(h, rec + 1); /* the block that could not be recorded is kept */
    ck_assert(log_has("comp=delta event=halted cause=record_failed"));
    usleep(1500 * 1000); /* retried, still failing: no block meanwhile */
    ck_assert_uint_eq(node_ledger_height(&node, "delta"), h);
    ck_assert_int_eq(rmdir(tmp), 0);
    ck_assert(node_wait_height(&node, "delta", h + 3, 10000));
    ck_assert_uint_ge(record_height(DELTA), h + 2);
    ck_assert(log_has("comp=delta event=resumed cause=record_failed"));
    ck_assert_int_eq(node_worker_pid(&node, "delta"), pid);
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
}
END_TEST

/* ---- 3. a lock held elsewhere delays blocks; nothing waits ---- */

/* Wait until GET /txs/{id} finds the transaction committed. */
static void validator_resync(void)
{
    char addr[ADDRESS_MAX], path[160];
    address_encode(addr, V.key.pk);
    snprintf(path, sizeof(path), "/accounts/%s", addr);
    json_t *a = node_http_json(&node, DELTA, path, NULL);
    if (json_is_integer(json_object_get(a, "nonce")))
        V.nonce = (uint64_t)json_integer_value(json_object_get(a, "nonce"));
    json_decref(a);
}

/* A second SQLite connection of this process that holds delta's write
 * lock, as an operator's `sqlite3 ledger.db 'BEGIN IMMEDIATE; ...'` does. */
static sqlite3 *lock_ledger(void)
{
    sqlite3 *db = db_hold_write_lock(home_path(DELTA, "ledger.db"));
    ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO meta VALUES ('operator', 'x')", NULL, NULL,
                                  NULL), SQLITE_OK);
    return db;
}

static const char *delta_state(void)
{
    static char buf[32];
    json_t *s = node_http_json(&node, DELTA, "/status", NULL);
    snprintf(buf, sizeof(buf), "%s", jstr(s, "state"));
    json_decref(s);
    return buf;
}

static bool delta_delayed(node_t *n, const void *arg)
{
    return strcmp(delta_state(), "delayed") == 0;
}

/* What the API answered while the ledger was locked. */
typedef struct {
    double worst_ms;
    int accepted, deferred;      /* 202, 503 with Retry-After */
    char ids[64][65];
} answers_t;

/* Query and submit for ms, checking each answer comes within API_BOUND_MS. */
static void talk_during_lock(double ms, answers_t *a)
{
    char body[4096], id[65];
    node_resp_t r;
    for (double end = now_ms() + ms; now_ms() < end;) {
        long st = node_http(&node, DELTA, "/health", NULL, 2000, &r);
        ck_assert_msg(st == 200 || st == 503, "/health answered %ld", st);
        a->worst_ms = r.ms > a->worst_ms ? r.ms : a->worst_ms;
        transfer_body(body, sizeof(body), id);
        st = node_http(&node, DELTA, "/txs", body, 2000, &r);
        a->worst_ms = r.ms > a->worst_ms ? r.ms : a->worst_ms;
        ck_assert_msg(st == 202 || (st == 503 && r.retry_after[0]), "POST /txs: %ld %s", st,
                      r.body);
        if (st == 202) {
            V.nonce++;
            if (a->accepted < 64)
                snprintf(a->ids[a->accepted++], 65, "%s", id);
        } else if (st == 503) {
            a->deferred++;
        }
        usleep(150000);
    }
}

/* Post n transfers right after a block, so that the next one (2 s away)
 * finds them pooled; their ids into a. */
static void fill_pool(int n, answers_t *a)
{
    char body[4096];
    node_resp_t r;
    uint64_t h = node_ledger_height(&node, "delta");
    ck_assert(node_wait_height(&node, "delta", h + 1, 10000));
    for (int i = 0; i < n; i++) {
        transfer_body(body, sizeof(body), a->ids[a->accepted]);
        ck_assert_int_eq(node_http(&node, DELTA, "/txs", body, 2000, &r), 202);
        a->accepted++;
        V.nonce++;
    }
}

/* Delta's adnet_mempool_txs gauge. */
static long pooled(void)
{
    node_resp_t m;
    node_http(&node, DELTA, "/metrics", NULL, 2000, &m);
    const char *p = strstr(m.body, "\nadnet_mempool_txs ");
    return p != NULL ? strtol(p + strlen("\nadnet_mempool_txs "), NULL, 10) : -1;
}

START_TEST(operator_lock_delays_blocks)
{
    /* Blocks every 2 s: transactions posted just before the lock are
     * still pooled when it is taken. */
    const char *slow[] = { "--set", "delta.block_interval_ms=2000", NULL };
    answers_t a = { 0 };
    start_node(slow);
    validator_load();
    pid_t pid = node_worker_pid(&node, "delta");
    fill_pool(8, &a);
    sqlite3 *db = lock_ledger();
    double t0 = now_ms();
    uint64_t h = node_ledger_height(&node, "delta");
    ck_assert_int_eq(pooled(), 8);
    ck_assert_msg(node_wait(&node, 3000, delta_delayed, NULL), "delta never said delayed");
    talk_during_lock(10000 - (now_ms() - t0), &a);
    ck_assert_uint_eq(node_ledger_height(&node, "delta"), h); /* no block while locked */
    ck_assert_str_eq(delta_state(), "delayed");
    ck_assert_int_eq(pooled(), a.accepted); /* the pool is kept */
    db_release_lock(db);
    fprintf(stderr, "test_integrity: lock held %.0f ms; %d accepted, %d deferred, slowest "
            "answer %.1f ms\n", now_ms() - t0, a.accepted, a.deferred, a.worst_ms);
    ck_assert_msg(a.worst_ms < API_BOUND_MS, "an answer took %.1f ms", a.worst_ms);
    ck_assert_int_gt(a.deferred + a.accepted - 8, 20); /* the API kept answering */

    /* Blocks resume, with every transaction accepted meanwhile: the same
     * worker, its mempool kept, no crash counted. */
    ck_assert(node_wait_height(&node, "delta", h + 1, 10000));
    for (int i = 0; i < a.accepted; i++)
        ck_assert_msg(wait_committed(a.ids[i], 10000),
                      "transaction %s accepted during the lock never committed", a.ids[i]);
    ck_assert_int_eq(node_worker_pid(&node, "delta"), pid);
    ck_assert_int_eq(node_worker_restarts(&node, "delta"), 0);
    ck_assert_str_eq(delta_state(), "producing");
    ck_assert_int_eq(log_count("comp=delta event=block_delayed"), 1); /* logged once */
    ck_assert(log_has("comp=delta event=block_delay_over cause=ledger_busy"));
    node_resp_t m;
    node_http(&node, DELTA, "/metrics", NULL, 2000, &m);
    ck_assert_ptr_nonnull(strstr(m.body, "adnet_block_retries_total{cause=\"ledger_busy\"}"));
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
}
END_TEST

/* Poll until pid is gone; return how long it took (ms), or -1. */
static double time_to_death(pid_t pid, double t0, double timeout_ms)
{
    while (pid_alive(pid)) {
        if (now_ms() - t0 > timeout_ms)
            return -1;
        usleep(500);
    }
    return now_ms() - t0;
}

START_TEST(stop_and_supervisor_death_during_lock)
{
    /* SIGTERM to the node while delta waits for the lock: delta, stopped
     * first, is gone within the bound. */
    start_node(NULL);
    sqlite3 *db = lock_ledger();
    ck_assert(node_wait(&node, 2000, delta_delayed, NULL));
    pid_t d = node_worker_pid(&node, "delta");
    double t0 = now_ms();
    ck_assert_int_eq(kill(node.pid, SIGTERM), 0);
    double dt = time_to_death(d, t0, 5000);
    fprintf(stderr, "test_integrity: delta gone %.1f ms after SIGTERM during the lock\n", dt);
    ck_assert_msg(dt >= 0 && dt < DEATH_BOUND_MS, "delta took %.1f ms to stop", dt);
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);

    /* The supervisor SIGKILLed while delta waits: both workers gone within
     * the bound, and a new supervisor starts at once, the lock still held. */
    start_node(NULL);
    ck_assert(node_wait(&node, 2000, delta_delayed, NULL));
    pid_t a = node_worker_pid(&node, "alpha");
    d = node_worker_pid(&node, "delta");
    t0 = now_ms();
    ck_assert_int_eq(kill(node.pid, SIGKILL), 0);
    double da = time_to_death(a, t0, 5000), dd = time_to_death(d, t0, 5000);
    fprintf(stderr, "test_integrity: alpha gone %.1f ms, delta %.1f ms after the supervisor's "
            "SIGKILL during the lock\n", da, dd);
    ck_assert_msg(da >= 0 && da < DEATH_BOUND_MS && dd >= 0 && dd < DEATH_BOUND_MS,
                  "workers outlived the supervisor: alpha %.1f ms, delta %.1f ms", da, dd);
    node_wait_exit(&node, 5000);
    start_node(NULL);
    ck_assert(node_wait(&node, 2000, delta_delayed, NULL));
    uint64_t h = node_ledger_height(&node, "delta");
    db_release_lock(db);
    ck_assert(node_wait_height(&node, "delta", h + 3, 10000));
    ck_assert_int_eq(node_worker_restarts(&node, "delta"), 0);
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
}
END_TEST

/* A worker that finds LOCK held (by a killed supervisor's worker on its
 * way out) waits for it instead of crash-looping, and its progress
 * heartbeats keep the supervisor's ready deadline from killing it. */
START_TEST(held_lock_is_waited_for)
{
    int fd = open(home_path(DELTA, "LOCK"), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX), 0);
    const char *args[] = { FAST, "--set", "supervisor.ready_timeout_ms=500", "--set",
                           "supervisor.heartbeat_interval_ms=100", NULL };
    ck_assert_int_eq(node_start(&node, args, NULL), 0);
    for (double end = now_ms() + 10000; !log_has("comp=delta event=ledger_locked") &&
                                        now_ms() < end;)
        usleep(10000);
    ck_assert_msg(log_has("comp=delta event=ledger_locked"), "delta did not wait; see %s",
                  node.log);
    usleep(1500 * 1000); /* three ready deadlines */
    ck_assert(node_worker_state_is(&node, "delta", "starting"));
    ck_assert_int_eq(node_worker_restarts(&node, "delta"), 0);
    close(fd);
    ck_assert(node_wait_running(&node, "delta", 5000));
    ck_assert_int_eq(node_worker_restarts(&node, "delta"), 0);
    ck_assert(log_has("comp=delta event=ledger_lock_taken"));
    ck_assert(node_wait_height(&node, "delta", 3, 10000));
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
}
END_TEST

/* ---- 4. the supervisor's death stops the workers at once ---- */

/* Delta transfers posted from a thread while `on` is set. */
static struct {
    atomic_bool on, quit;
    atomic_int posted;
} FLOW;

static void *flow_run(void *arg)
{
    char body[4096], id[65];
    node_resp_t r;
    while (!atomic_load(&FLOW.quit)) {
        if (!atomic_load(&FLOW.on)) {
            usleep(2000);
            continue;
        }
        transfer_body(body, sizeof(body), id);
        if (node_http(&node, DELTA, "/txs", body, 1000, &r) == 202) {
            V.nonce++;
            atomic_fetch_add(&FLOW.posted, 1);
        } else if (r.status == 400) {
            validator_resync();
        }
    }
    return NULL;
}

START_TEST(supervisor_killed_20_times)
{
    pthread_t flow;
    double worst = 0;
    validator_load();
    ck_assert_int_eq(pthread_create(&flow, NULL, flow_run, NULL), 0);
    for (int i = 0; i < 20; i++) {
        start_node(NULL);
        ck_assert_int_eq(node_worker_restarts(&node, "alpha"), 0);
        ck_assert_int_eq(node_worker_restarts(&node, "delta"), 0);
        pid_t a = node_worker_pid(&node, "alpha"), d = node_worker_pid(&node, "delta");
        if (i % 2 == 1) { /* every other kill lands while transactions flow */
            atomic_store(&FLOW.on, true);
            usleep(300000);
        }
        double t0 = now_ms();
        ck_assert_int_eq(kill(node.pid, SIGKILL), 0);
        double da = time_to_death(a, t0, 5000), dd = time_to_death(d, t0, 5000);
        atomic_store(&FLOW.on, false);
        ck_assert_msg(da >= 0 && dd >= 0, "kill %d: a worker outlived the supervisor", i);
        worst = da > worst ? da : worst;
        worst = dd > worst ? dd : worst;
        ck_assert_msg(da < DEATH_BOUND_MS && dd < DEATH_BOUND_MS,
                      "kill %d: alpha gone after %.1f ms, delta after %.1f ms", i, da, dd);
        node_wait_exit(&node, 5000);
    }
    atomic_store(&FLOW.quit, true);
    pthread_join(flow, NULL);
    fprintf(stderr, "test_integrity: 20 supervisor kills, %d transactions accepted, workers "
            "gone within %.1f ms at worst\n", atomic_load(&FLOW.posted), worst);
    ck_assert_int_gt(atomic_load(&FLOW.posted), 0);
    ck_assert(!log_has("still holds the ledger after")); /* no worker gave up on the lock */
    char why[256] = "";
    start_node(NULL);
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
    ck_assert_msg(node_ledger_verify(&node, "alpha", why) >= 0, "%s", why);
    ck_assert_msg(node_ledger_verify(&node, "delta", why) >= 0, "%s", why);
}
END_TEST


Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "integrity", .tcase = "integrity",
                                      .timeout_s = 240, .setup = setup, .teardown = teardown};
    return suite_build(&spec, SUITE_TESTS(
        empty_ledger_is_refused, deleted_ledger_is_refused, restored_older_ledger_is_refused,
        home_without_record_adopts_its_ledger, init_force_sets_old_records_aside,
        corrupted_wal_frame_is_refused, wal_deleted_while_running_halts,
        record_write_failure_halts_until_it_works,
        operator_lock_delays_blocks, stop_and_supervisor_death_during_lock,
        held_lock_is_waited_for, supervisor_killed_20_times));
}

#else

/* ---- 5. a full disk is a state, not a crash ---- */

#define TMPFS_SIZE "size=24m"

/* Put delta's folder on a small tmpfs of its own (genesis and all), so
 * that its disk fills while alpha's does not. Return 0 or -errno. */
static int delta_on_tmpfs(const char *dir)
{
    size_t len;
    char saved[PATH_MAX + 128];
    snprintf(saved, sizeof(saved), "%s/genesis.json", dir);
    char *genesis = file_read(saved, &len);
    int r = mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, TMPFS_SIZE ",mode=0700") < 0
                ? -errno : 0;
    if (r == 0)
        file_write(saved, genesis);
    free(genesis);
    return r;
}

/* Write a filler file until the disk is full. */
static void fill_disk(const char *path)
{
    static char chunk[64 * 1024];
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    memset(chunk, 0xaa, sizeof(chunk));
    for (;;) {
        ssize_t n = write(fd, chunk, sizeof(chunk));
        if (n < 0) {
            ck_assert_int_eq(errno, ENOSPC);
            break;
        }
    }
    /* Fill the last part-chunk too. */
    while (write(fd, chunk, 512) > 0)
        ;
    close(fd);
}

static char mounted[PATH_MAX + 64];

static void disk_teardown(void)
{
    if (node.pid > 0)
        node_stop(&node, SIGKILL, 5000);
    if (mounted[0] && umount2(mounted, MNT_DETACH) < 0)
        fprintf(stderr, "could not unmount %s: %s\n", mounted, strerror(errno));
    mounted[0] = '\0';
    node_cleanup(&node);
}

static bool delta_healthy(node_t *n, const void *arg)
{
    long st = 0;
    json_t *h = node_http_json(n, DELTA, "/health", &st);
    json_decref(h);
    return st == 200;
}

START_TEST(disk_full_halts_and_resumes)
{
    snprintf(mounted, sizeof(mounted), "%s/delta", node.home);
    ck_assert_int_eq(delta_on_tmpfs(mounted), 0);
    start_node(NULL);
    validator_load();
    ck_assert(node_wait_height(&node, "delta", 3, 10000));
    pid_t pid = node_worker_pid(&node, "delta");

    /* A transaction in the pool, then the disk fills. */
    char body[4096], id[65], filler[PATH_MAX + 128];
    node_resp_t r;
    transfer_body(body, sizeof(body), id);
    ck_assert_int_eq(node_http(&node, DELTA, "/txs", body, 2000, &r), 202);
    snprintf(filler, sizeof(filler), "%s/filler", mounted);
    fill_disk(filler);
    ck_assert_msg(node_wait(&node, 10000, delta_halted, NULL), "delta did not halt; see %s",
                  node.log);
    json_t *h = node_http_json(&node, DELTA, "/health", NULL);
    ck_assert_ptr_nonnull(strstr(jstr(h, "reason"), "disk full"));
    json_decref(h);
    uint64_t halted_at = node_ledger_height(&node, "delta");

    /* Halted, not crashed: the same worker, the supervisor says halted,
     * new transactions get a JSON 503, metrics and one log line say so;
     * alpha, on another disk, keeps committing. */
    char other[65];
    transfer_body(body, sizeof(body), other);
    ck_assert_int_eq(node_http(&node, DELTA, "/txs", body, 2000, &r), 503);
    ck_assert_ptr_nonnull(strstr(r.body, "\"halted\""));
    ck_assert(r.retry_after[0] != '\0');
    uint64_t ha = node_ledger_height(&node, "alpha");
    ck_assert(node_wait_height(&node, "alpha", ha + 5, 10000));
    ck_assert_uint_eq(node_ledger_height(&node, "delta"), halted_at);
    ck_assert_int_eq(node_worker_pid(&node, "delta"), pid);
    ck_assert_int_eq(node_worker_restarts(&node, "delta"), 0);
    json_t *s = node_status(&node);
    json_t *w = json_array_get(json_object_get(s, "workers"), 1);
    ck_assert_ptr_nonnull(strstr(jstr(w, "halted"), "disk full"));
    json_decref(s);
    node_http(&node, DELTA, "/metrics", NULL, 2000, &r);
    ck_assert_ptr_nonnull(strstr(r.body, "adnet_block_production_halted{cause=\"disk_full\"} 1"));
    ck_assert_int_eq(log_count("comp=delta event=halted cause=disk_full"), 1);

    /* Space comes back: production resumes by itself, the pooled
     * transaction included. */
    ck_assert_int_eq(unlink(filler), 0);
    ck_assert_msg(node_wait(&node, 10000, delta_healthy, NULL), "delta did not resume; see %s",
                  node.log);
    ck_assert(node_wait_height(&node, "delta", halted_at + 3, 10000));
    ck_assert_msg(wait_committed(id, 5000), "the pooled transaction %s was lost", id);
    ck_assert(log_has("comp=delta event=resumed cause=disk_full"));
    ck_assert_int_eq(node_worker_pid(&node, "delta"), pid);
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
    char why[256] = "";
    ck_assert_msg(node_ledger_verify(&node, "delta", why) >= (int64_t)halted_at + 3, "%s", why);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "integrity_disk_full", .tcase = "disk_full",
                                      .timeout_s = 120, .setup = setup,
                                      .teardown = disk_teardown};
    return suite_build(&spec, SUITE_TESTS(disk_full_halts_and_resumes));
}

/* Whether this process may mount a tmpfs (root, or CAP_SYS_ADMIN); why not in why. */
static bool can_mount_tmpfs(char *why, size_t cap)
{
    char dir[] = "/tmp/adnet-mount-probe-XXXXXX";
    bool ok = false;
    if (mkdtemp(dir) == NULL) {
        snprintf(why, cap, "cannot make a probe folder: %s", strerror(errno));
        return false;
    }
    if (mount("tmpfs", dir, "tmpfs", 0, "size=64k") == 0) {
        ok = true;
        umount(dir);
    } else {
        snprintf(why, cap, "mount -t tmpfs is not allowed here (%s); the disk-full test needs "
                 "root or CAP_SYS_ADMIN", strerror(errno));
    }
    rmdir(dir);
    return ok;
}

/* This variant's own main: a TAP skip where no tmpfs can be mounted. */
int main(void)
{
    char why[256];
    if (!can_mount_tmpfs(why, sizeof(why))) {
        printf("1..0 # SKIP %s\n", why);
        return 0;
    }
    return suite_run(test_suite());
}

#endif
