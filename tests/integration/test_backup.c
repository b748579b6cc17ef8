/* Process-level tests of `adnet backup` and `adnet restore` (issue 11
 * item 5), with the real binaries on temporary homes:
 *
 *  - a backup taken while transactions flow holds each chain at a block
 *    boundary: its tip is a block of the live chain (same hash), with
 *    every transaction of the blocks up to it and none after; the key is
 *    left out unless --with-keys (then 0600, byte-identical);
 *  - a restored older backup can never make the validator sign a height
 *    again: restore keeps last_signed.json, the node refuses the ledger
 *    (exit 101) with a message naming adnet restore and --allow-resign,
 *    and only with --allow-resign starts, saying at warn level which
 *    heights it may sign again;
 *  - bad input is refused with a clear error and nothing overwritten: an
 *    existing --out, a full disk (a small tmpfs; skipped where it cannot
 *    be mounted), a restore while the node runs, a backup of another
 *    genesis, a damaged backup file, a folder without a manifest. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/base/exitcode.h"
#include "tests/integration/harness.h"
#include "tests/lib/db.h"
#include "tests/lib/file.h"
#include "tests/lib/suite.h"
#include "tests/lib/tmp.h"

Suite *test_suite(void);

#define FAST "--set", "alpha.block_interval_ms=200", "--set", "delta.block_interval_ms=100", \
    "--set", "delta.api.rate_per_s=100000", "--set", "delta.api.rate_burst=100000"
#define OUT_MAX (64 * 1024)

static node_t node;
static char scratch[PATH_MAX]; /* backups go here; removed at teardown */
static char mounted[PATH_MAX + 64]; /* a tmpfs to unmount at teardown, "" if none */

static void setup(void)
{
    ck_assert_msg(node_init(&node) == 0, "adnet init failed (ADNET_BIN=%s)", getenv("ADNET_BIN"));
    ck_assert_int_eq(tmp_make(scratch, sizeof(scratch), "backup"), 0);
    mounted[0] = '\0';
}

static void teardown(void)
{
    if (mounted[0] && umount2(mounted, MNT_DETACH) < 0)
        fprintf(stderr, "could not unmount %s: %s\n", mounted, strerror(errno));
    if (node.pid > 0)
        node_stop(&node, SIGTERM, 20000);
    node_cleanup(&node);
    if (!getenv("ADNET_KEEP_TEST_HOME"))
        tmp_remove(scratch);
}

/* dir/rel, in one of a few rotating buffers. */
static const char *at(const char *dir, const char *rel)
{
    static char buf[8][PATH_MAX + 128];
    static unsigned next;
    char *p = buf[next++ % 8];
    ck_assert_int_eq(tmp_join(p, sizeof(buf[0]), dir, rel), 0);
    return p;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static bool same_file(const char *a, const char *b)
{
    size_t la, lb;
    char *x = file_read(a, &la), *y = file_read(b, &lb);
    bool same = la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

/* Run the CLI; *err (may be NULL) gets what it wrote to stderr (the
 * harness sends it to the node's log; the caller frees). */
static int cli(char *out, char **err, const char *const *args)
{
    struct stat st;
    off_t from = stat(node.log, &st) == 0 ? st.st_size : 0;
    int rc = node_cli(&node, out, out ? OUT_MAX : 0, args);
    if (err) {
        size_t len;
        char *log = file_read(node.log, &len);
        *err = strdup((size_t)from <= len ? log + from : "");
        free(log);
    }
    return rc;
}

static void start_node(const char *extra)
{
    const char *args[] = { FAST, extra, NULL };
    ck_assert_int_eq(node_start(&node, args, NULL), 0);
    ck_assert_msg(node_wait_running(&node, "alpha", 15000), "alpha never ran; see %s", node.log);
    ck_assert_msg(node_wait_running(&node, "delta", 15000), "delta never ran; see %s", node.log);
}

/* Run the node until delta has at least `blocks` more blocks; stop it. */
static uint64_t run_blocks(uint64_t blocks)
{
    start_node(NULL);
    uint64_t h = node_ledger_height(&node, "delta");
    ck_assert(node_wait_height(&node, "delta", h + blocks, 15000));
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
    return node_ledger_height(&node, "delta");
}

static int backup(const char *out, const char *extra, char **err)
{
    const char *args[] = { "backup", "--home", node.home, "--out", out, extra, NULL };
    static char text[OUT_MAX];
    return cli(text, err, args);
}

static int restore(const char *from, char **err)
{
    const char *args[] = { "restore", "--home", node.home, from, NULL };
    static char text[OUT_MAX];
    return cli(text, err, args);
}

static json_t *manifest(const char *dir)
{
    json_error_t je;
    json_t *m = json_load_file(at(dir, "manifest.json"), 0, &je);
    ck_assert_msg(m != NULL, "%s/manifest.json: %s", dir, je.text);
    return m;
}

/* The manifest's entry of chain. */
static json_t *chain_entry(json_t *m, const char *chain)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(m, "chains"), i, c) {
        if (strcmp(json_string_value(json_object_get(c, "chain")), chain) == 0)
            return c;
    }
    ck_abort_msg("no %s in the manifest", chain);
    return NULL;
}

/* How many transactions the ledger at path holds at heights op ("<=", ">") h. */
static int ledger_txs(const char *path, const char *op, uint64_t height)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM txs WHERE height %s %llu", op,
             (unsigned long long)height);
    sqlite3 *db = db_open(path);
    int v = db_int(db, sql);
    sqlite3_close(db);
    return v;
}

/* ---- 1. a backup while transactions flow ---- */

/* Send n delta transfers from the validator with nonces from *nonce on,
 * without waiting for them to commit. */
static void send_transfers(int n, int *nonce)
{
    for (int i = 0; i < n; i++, (*nonce)++) {
        char nn[16];
        snprintf(nn, sizeof(nn), "%d", *nonce);
        const char *args[] = { "tx", "transfer", "--home", node.home, "--to", "validator",
                               "--amount", "1", "--nonce", nn, "--no-wait", NULL };
        ck_assert_int_eq(node_cli(&node, NULL, 0, args), 0);
    }
}

/* The backup's chain is a prefix of the live one, cut at a block. */
static void check_snapshot(json_t *m, const char *dir, const char *chain)
{
    json_t *c = chain_entry(m, chain);
    uint64_t h = (uint64_t)json_integer_value(json_object_get(c, "height"));
    char copy[PATH_MAX + 128], live_db[PATH_MAX + 128];
    snprintf(copy, sizeof(copy), "%s/%s", dir, json_string_value(json_object_get(c, "ledger")));
    snprintf(live_db, sizeof(live_db), "%s/%s/ledger.db", node.home, chain);
    char sql[160], have[80], want[80];
    ck_assert_uint_gt(h, 0);
    sqlite3 *db = db_open(copy);
    ck_assert_int_eq(db_int(db, "SELECT max(height) FROM blocks"), (int)h);
    sqlite3_close(db);
    snprintf(sql, sizeof(sql), "SELECT hash FROM blocks WHERE height = %llu",
             (unsigned long long)h);
    db = db_open(copy);
    db_text(db, sql, have, sizeof(have));
    sqlite3_close(db);
    db = db_open(live_db);
    db_text(db, sql, want, sizeof(want));
    sqlite3_close(db);
    ck_assert_str_eq(have, want);
    ck_assert_str_eq(json_string_value(json_object_get(c, "block_hash")), want);
    ck_assert_int_eq(ledger_txs(copy, "<=", h), ledger_txs(live_db, "<=", h));
    ck_assert_int_eq(ledger_txs(copy, ">", h), 0);
    db = db_open(copy);
    db_text(db, "PRAGMA integrity_check", have, sizeof(have));
    sqlite3_close(db);
    ck_assert_str_eq(have, "ok");
}

static bool delta_has_txs(node_t *n, const void *arg)
{
    (void)arg;
    return ledger_txs(at(n->home, "delta/ledger.db"), ">", 0) > 0;
}

START_TEST(backup_while_transactions_flow)
{
    char b1[PATH_MAX + 128], b2[PATH_MAX + 128];
    snprintf(b1, sizeof(b1), "%s/b1", scratch);
    snprintf(b2, sizeof(b2), "%s/b2", scratch);
    char *err = NULL;
    int nonce = 0, st;
    start_node(NULL);
    send_transfers(10, &nonce);
    ck_assert_msg(node_wait(&node, 10000, delta_has_txs, NULL), "no transfer committed");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(backup(b1, NULL, NULL));
    send_transfers(30, &nonce);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "backup failed; see %s", node.log);
    json_t *m = manifest(b1);
    ck_assert_ptr_nonnull(json_string_value(json_object_get(m, "adnet_version")));
    ck_assert_msg(!exists(at(b1, "keys")), "a key was copied without --with-keys");

    /* An existing --out is refused and left as it was. */
    char *before = file_read(at(b1, "manifest.json"), NULL);
    ck_assert_int_eq(backup(b1, NULL, &err), ADNET_EXIT_CONFIG);
    ck_assert_ptr_nonnull(strstr(err, "File exists"));
    char *after = file_read(at(b1, "manifest.json"), NULL);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    free(err);

    /* --with-keys: the key, 0600, byte for byte. */
    ck_assert_int_eq(backup(b2, "--with-keys", NULL), 0);
    struct stat kst;
    ck_assert_int_eq(stat(at(b2, "keys/validator.json"), &kst), 0);
    ck_assert_int_eq(kst.st_mode & 0777, 0600);
    ck_assert(same_file(at(b2, "keys/validator.json"), at(node.home, "keys/validator.json")));

    /* A restore while the node runs is refused. */
    ck_assert_int_eq(restore(b1, &err), ADNET_EXIT_CONFIG);
    ck_assert_ptr_nonnull(strstr(err, "the node is running"));
    free(err);

    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
    check_snapshot(m, b1, "alpha");
    check_snapshot(m, b1, "delta");
    json_t *d = chain_entry(m, "delta");
    ck_assert_int_gt(ledger_txs(at(b1, "delta/ledger.db"), "<=",
                                (uint64_t)json_integer_value(json_object_get(d, "height"))), 0);
    json_decref(m);
}
END_TEST

/* ---- 2. a restored older backup is refused, and --allow-resign ---- */

/* How many ledger.db.*.bak files dir holds. */
static int count_bak(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        n += strncmp(e->d_name, "ledger.db.", 10) == 0 && len > 4 &&
             strcmp(e->d_name + len - 4, ".bak") == 0;
    }
    closedir(d);
    return n;
}

static const char *const CHAINS[2] = { "alpha", "delta" };

START_TEST(restored_older_backup_never_resigns)
{
    char b[PATH_MAX + 128];
    snprintf(b, sizeof(b), "%s/old", scratch);
    uint64_t h0[2], h1[2];
    char *rec[2], want[128];
    run_blocks(3);
    ck_assert_int_eq(backup(b, NULL, NULL), 0);
    run_blocks(5);
    json_t *m = manifest(b);
    for (int i = 0; i < 2; i++) {
        h0[i] = (uint64_t)json_integer_value(json_object_get(chain_entry(m, CHAINS[i]), "height"));
        h1[i] = node_ledger_height(&node, CHAINS[i]);
        ck_assert_uint_gt(h1[i], h0[i]);
        rec[i] = file_read(at(at(node.home, CHAINS[i]), "last_signed.json"), NULL);
    }
    json_decref(m);

    ck_assert_int_eq(restore(b, NULL), 0);
    for (int i = 0; i < 2; i++) {
        char dir[PATH_MAX + 128];
        snprintf(dir, sizeof(dir), "%s/%s", node.home, CHAINS[i]);
        char *now = file_read(at(dir, "last_signed.json"), NULL);
        ck_assert_str_eq(rec[i], now); /* the record is never touched */
        free(now);
        free(rec[i]);
        ck_assert(same_file(at(dir, "ledger.db"), at(b, at(CHAINS[i], "ledger.db"))));
        ck_assert_uint_eq(node_ledger_height(&node, CHAINS[i]), h0[i]);
        ck_assert_msg(count_bak(dir) == 1, "the old %s ledger was not moved aside", CHAINS[i]);
    }

    /* Started on it: refused, exit 101 (alpha, which starts first), saying
     * how to proceed; no block was signed. */
    const char *args[] = { FAST, NULL };
    ck_assert_int_eq(node_start(&node, args, NULL), 0);
    int st = node_wait_exit(&node, 20000);
    ck_assert_msg(st >= 0 && WIFEXITED(st), "the node did not exit; see %s", node.log);
    ck_assert_int_eq(WEXITSTATUS(st), ADNET_EXIT_LEDGER);
    char *log = file_read(node.log, NULL);
    const char *line = strstr(log, "comp=alpha event=ledger_refused");
    ck_assert_msg(line != NULL, "no ledger_refused line; see %s", node.log);
    snprintf(want, sizeof(want), "is at height %llu but this node committed %llu",
             (unsigned long long)h0[0], (unsigned long long)h1[0]);
    ck_assert_msg(strstr(line, want) && strstr(line, "adnet restore") &&
                  strstr(line, "adnet run --allow-resign"),
                  "want \"%s\", adnet restore, --allow-resign in %.700s", want, line);
    free(log);
    for (int i = 0; i < 2; i++)
        ck_assert_uint_eq(node_ledger_height(&node, CHAINS[i]), h0[i]);

    /* --allow-resign: it starts, warns which heights, the record follows. */
    start_node("--allow-resign");
    log = file_read(node.log, NULL);
    for (int i = 0; i < 2; i++) {
        snprintf(want, sizeof(want), "level=warn comp=%s event=commit_record_resign", CHAINS[i]);
        line = strstr(log, want);
        ck_assert_msg(line != NULL, "no %s resign warning; see %s", CHAINS[i], node.log);
        snprintf(want, sizeof(want), "may sign heights %llu to %llu again",
                 (unsigned long long)h0[i] + 1, (unsigned long long)h1[i]);
        ck_assert_msg(strstr(line, want), "want \"%s\" in %.400s", want, line);
    }
    free(log);
    ck_assert(node_wait_height(&node, "delta", h0[1] + 2, 10000));
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
    char why[256];
    ck_assert_msg(node_ledger_verify(&node, "delta", why) > (int64_t)h0[1], "%s", why);
}
END_TEST

/* ---- 3. bad backups are refused, nothing touched ---- */

/* restore from must fail with exit 100 and a message holding want, and
 * leave delta's ledger and record as they were, with nothing moved aside. */
static void expect_restore_refused(const char *from, const char *want)
{
    char delta[PATH_MAX + 128];
    size_t len, len2;
    snprintf(delta, sizeof(delta), "%s/delta", node.home);
    char *err = NULL, *rec = file_read(at(delta, "last_signed.json"), NULL);
    char *ledger = file_read(at(delta, "ledger.db"), &len);
    ck_assert_int_eq(restore(from, &err), ADNET_EXIT_CONFIG);
    ck_assert_msg(strstr(err, want) != NULL, "want \"%s\" in %s", want, err);
    char *now = file_read(at(delta, "last_signed.json"), NULL);
    char *ledger2 = file_read(at(delta, "ledger.db"), &len2);
    ck_assert_str_eq(rec, now);
    ck_assert_msg(len == len2 && memcmp(ledger, ledger2, len) == 0 && count_bak(delta) == 0,
                  "the ledger was touched");
    free(rec);
    free(now);
    free(ledger);
    free(ledger2);
    free(err);
}

START_TEST(bad_backups_are_refused)
{
    char good[PATH_MAX + 128], bad[PATH_MAX + 128], foreign[PATH_MAX + 128];
    snprintf(good, sizeof(good), "%s/good", scratch);
    snprintf(bad, sizeof(bad), "%s/bad", scratch);
    snprintf(foreign, sizeof(foreign), "%s/foreign", scratch);
    run_blocks(3);
    ck_assert_int_eq(backup(good, NULL, NULL), 0);

    /* A damaged file: one byte flipped in the middle of delta's copy. */
    char cmd[PATH_MAX * 3];
    snprintf(cmd, sizeof(cmd), "cp -a %s %s", good, bad);
    ck_assert_int_eq(system(cmd), 0);
    size_t len;
    char *bytes = file_read(at(bad, "delta/ledger.db"), &len);
    bytes[len / 2] ^= 0x01;
    FILE *f = fopen(at(bad, "delta/ledger.db"), "wb");
    ck_assert_uint_eq(fwrite(bytes, 1, len, f), len);
    fclose(f);
    free(bytes);
    expect_restore_refused(bad, "delta/ledger.db is damaged");

    /* No manifest: not a backup. */
    ck_assert_int_eq(unlink(at(bad, "manifest.json")), 0);
    expect_restore_refused(bad, "manifest.json: No such file");

    /* A backup of another genesis: another home's ledgers. */
    node_t other = node;
    ck_assert_int_eq(node_init(&node), 0);
    run_blocks(2);
    ck_assert_int_eq(backup(foreign, NULL, NULL), 0);
    node_cleanup(&node);
    node = other;
    expect_restore_refused(foreign, "a backup of another chain or genesis is never restored");

    /* And the good one still restores. */
    ck_assert_int_eq(restore(good, NULL), 0);
}
END_TEST

/* ---- 4. a full disk ---- */

START_TEST(backup_onto_a_full_disk)
{
    run_blocks(3);
    snprintf(mounted, sizeof(mounted), "%s/small", scratch);
    ck_assert_int_eq(mkdir(mounted, 0700), 0);
    if (mount("tmpfs", mounted, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k") < 0) {
        fprintf(stderr, "# skipping the full-disk case: cannot mount a tmpfs (%s)\n",
                strerror(errno));
        mounted[0] = '\0';
        return;
    }
    char *err = NULL;
    char out[PATH_MAX + 128];
    snprintf(out, sizeof(out), "%s/b", mounted);
    ck_assert_int_eq(backup(out, NULL, &err), ADNET_EXIT_SYSTEM);
    ck_assert_msg(strstr(err, "disk full") && strstr(err, "was removed"), "%s", err);
    ck_assert_msg(!exists(out), "the partial backup is still there");
    free(err);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = { "backup", "backup", 180, setup, teardown };
    return suite_build(&spec, SUITE_TESTS(backup_while_transactions_flow,
                                          restored_older_backup_never_resigns,
                                          bad_backups_are_refused, backup_onto_a_full_disk));
}
