/* Process-level tests: real supervisors and workers on temporary homes
 * with 100-200 ms blocks. */
#include <check.h>
#include <curl/curl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/base/exitcode.h"
#include "tests/integration/harness.h"

Suite *test_suite(void);

#define FAST "--set", "alpha.block_interval_ms=200", "--set", "delta.block_interval_ms=100"

static node_t node;

static void setup(void)
{
    ck_assert_msg(node_init(&node) == 0, "adnet init failed (ADNET_BIN=%s)", getenv("ADNET_BIN"));
}

static void teardown(void)
{
    node_cleanup(&node);
}

static void start_fast(const char *const *extra_env)
{
    const char *args[] = { FAST, NULL };
    ck_assert_int_eq(node_start(&node, args, extra_env), 0);
    ck_assert_msg(node_wait_running(&node, "alpha", 10000), "alpha never ran; see %s", node.log);
    ck_assert_msg(node_wait_running(&node, "delta", 10000), "delta never ran; see %s", node.log);
}

static char *read_log(void)
{
    static char buf[1 << 20];
    FILE *f = fopen(node.log, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    return buf;
}

/* Largest gap between consecutive block times in [from_ms, to_ms]. */
static long long max_block_gap(const char *chain, long long from_ms, long long to_ms)
{
    char path[PATH_MAX + 32];
    sqlite3 *db;
    sqlite3_stmt *st;
    long long prev = -1, gap = 0;
    snprintf(path, sizeof(path), "%s/%s/ledger.db", node.home, chain);
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT time_ms FROM blocks WHERE time_ms BETWEEN ? "
                                            "AND ? ORDER BY height", -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_int64(st, 1, from_ms);
    sqlite3_bind_int64(st, 2, to_ms);
    while (sqlite3_step(st) == SQLITE_ROW) {
        long long t = sqlite3_column_int64(st, 0);
        if (prev >= 0 && t - prev > gap)
            gap = t - prev;
        prev = t;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return gap;
}

static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

START_TEST(blocks_status_and_clean_stop)
{
    start_fast(NULL);
    ck_assert(node_wait_height(&node, "alpha", 5, 10000));
    ck_assert(node_wait_height(&node, "delta", 10, 10000));

    /* adnet status --json, through the real CLI */
    char out[8192];
    const char *args[] = { "status", "--home", node.home, "--json", NULL };
    ck_assert_int_eq(node_cli(&node, out, sizeof(out), args), 0);
    json_t *j = json_loads(out, 0, NULL);
    ck_assert_msg(j != NULL, "status --json is not JSON: %s", out);
    json_t *ws = json_object_get(j, "workers");
    ck_assert_int_eq(json_array_size(ws), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *w = json_array_get(ws, i);
        ck_assert_str_eq(json_string_value(json_object_get(w, "name")), i ? "delta" : "alpha");
        ck_assert_str_eq(json_string_value(json_object_get(w, "state")), "running");
        ck_assert(json_integer_value(json_object_get(w, "pid")) > 0);
        ck_assert_int_eq(json_integer_value(json_object_get(w, "restarts")), 0);
        ck_assert(json_integer_value(json_object_get(w, "height")) >= 1);
    }
    json_decref(j);

    /* The ledger is WAL, readable while the node writes, hashes as hex text. */
    char path[PATH_MAX + 32];
    sqlite3 *db;
    sqlite3_stmt *st;
    snprintf(path, sizeof(path), "%s/delta/ledger.db", node.home);
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT hash, time FROM blocks ORDER BY height DESC "
                                            "LIMIT 1", -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_int_eq(strlen((const char *)sqlite3_column_text(st, 0)), 64);
    ck_assert_int_eq(strlen((const char *)sqlite3_column_text(st, 1)), 24); /* ISO-8601 ms Z */
    sqlite3_finalize(st);
    sqlite3_close(db);

    pid_t a = node_worker_pid(&node, "alpha"), d = node_worker_pid(&node, "delta");
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
    ck_assert(!pid_alive(a));
    ck_assert(!pid_alive(d));
    char why[256] = "";
    ck_assert_msg(node_ledger_verify(&node, "alpha", why) >= 5, "%s", why);
    ck_assert_msg(node_ledger_verify(&node, "delta", why) >= 10, "%s", why);
    /* Stop order: delta first, then alpha. */
    char *log = read_log();
    char *ds = strstr(log, "event=worker_stopped worker=delta");
    char *as = strstr(log, "event=worker_stopped worker=alpha");
    ck_assert_msg(ds && as && ds < as, "expected delta to stop before alpha");
    ck_assert_ptr_null(strstr(log, "level=error"));
}
END_TEST

static void kill_one(const char *victim, const char *other)
{
    start_fast(NULL);
    ck_assert(node_wait_height(&node, victim, 3, 10000));
    uint64_t before = node_ledger_height(&node, victim);
    pid_t old = node_worker_pid(&node, victim);
    pid_t other_pid = node_worker_pid(&node, other);
    long long killed_at = wall_ms();
    ck_assert_int_eq(kill(old, SIGKILL), 0);

    /* A new process, running, counted as one restart. */
    double t0 = now_ms();
    pid_t fresh = 0;
    while (now_ms() - t0 < 5000) {
        fresh = node_worker_pid(&node, victim);
        if (fresh > 0 && fresh != old && node_worker_state_is(&node, victim, "running"))
            break;
    }
    ck_assert_msg(fresh > 0 && fresh != old, "%s was not restarted", victim);
    ck_assert_int_eq(node_worker_restarts(&node, victim), 1);
    ck_assert_int_eq(node_worker_restarts(&node, other), 0);
    ck_assert_int_eq(node_worker_pid(&node, other), other_pid);
    /* It resumes from its ledger and keeps going. */
    ck_assert(node_wait_height(&node, victim, before + 3, 10000));
    ck_assert(node_wait_height(&node, other, node_ledger_height(&node, other) + 3, 10000));
    long long until = wall_ms();
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);

    char why[256] = "";
    ck_assert_msg(node_ledger_verify(&node, victim, why) >= (int64_t)before + 3, "%s", why);
    ck_assert_msg(node_ledger_verify(&node, other, why) > 0, "%s", why);
    /* The other chain did not pause: no gap much beyond its interval. */
    long long interval = strcmp(other, "alpha") == 0 ? 200 : 100;
    long long gap = max_block_gap(other, killed_at - 1000, until);
    ck_assert_msg(gap <= 3 * interval, "%s paused %lld ms around the kill", other, gap);
    /* The first restart is immediate (no back-off). */
    char *log = read_log();
    char needle[96];
    snprintf(needle, sizeof(needle), "event=worker_died worker=%s", victim);
    char *died = strstr(log, needle);
    ck_assert_msg(died, "no worker_died line");
    ck_assert_msg(strstr(died, "signal=KILL(9)") && strstr(died, "restart_in_ms=0 "),
                  "unexpected died line");
}

START_TEST(kill_alpha_delta_keeps_going)
{
    kill_one("alpha", "delta");
}
END_TEST

START_TEST(kill_delta_alpha_keeps_going)
{
    kill_one("delta", "alpha");
}
END_TEST

/* Kill name's process kills times, each once it runs again (or while it
 * starts), waiting until the supervisor has seen each death. */
static void kill_repeatedly(const char *name, int kills)
{
    for (int i = 0; i < kills; i++) {
        pid_t p = 0;
        double t0 = now_ms();
        while ((p = node_worker_pid(&node, name)) <= 0 && now_ms() - t0 < 10000)
            usleep(5000);
        ck_assert_msg(p > 0, "%s has no process to kill (kill %d); see %s", name, i, node.log);
        ck_assert_int_eq(kill(p, SIGKILL), 0);
        t0 = now_ms();
        while (node_worker_pid(&node, name) == p && now_ms() - t0 < 5000)
            usleep(5000);
    }
}

static bool worker_failed(node_t *n, const void *name)
{
    return node_worker_state_is(n, name, "failed");
}

/* The whole text of GET path on chain's API (1: delta); caller frees. */
static size_t grow(char *p, size_t size, size_t nmemb, void *arg)
{
    char **buf = arg;
    size_t k = size * nmemb, len = *buf ? strlen(*buf) : 0;
    char *bigger = realloc(*buf, len + k + 1);
    ck_assert_ptr_nonnull(bigger);
    memcpy(bigger + len, p, k);
    bigger[len + k] = '\0';
    *buf = bigger;
    return k;
}

static char *http_text(int chain, const char *path)
{
    char url[128], *body = NULL;
    long status = 0;
    CURL *c = curl_easy_init();
    ck_assert_ptr_nonnull(c);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", node.api_port[chain], path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, grow);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    ck_assert_int_eq(status, 200);
    return body;
}

/* delta's /metrics has this exact sample line. */
static bool metric_is(const char *sample)
{
    char *m = http_text(1, "/metrics"), line[160];
    snprintf(line, sizeof(line), "\n%s\n", sample);
    bool r = strstr(m, line) != NULL;
    free(m);
    return r;
}

static int notify_listen(char *env_sock, size_t cap);
static void notify_collect(int fd, char *all, size_t cap, const char *until, int timeout_ms);

/* Everything that must say alpha failed in a crash loop and why: status
 * --json, status, the error line, STATUS= (collected from fd into got)
 * and delta's /metrics. */
static void assert_alpha_failure_reported(int fd, char *got, size_t cap)
{
    char out[8192];
    json_t *st = node_status(&node), *w = json_array_get(json_object_get(st, "workers"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(w, "name")), "alpha");
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(w, "failed_reason")),
                                 "crash loop: 3 exits within 60 s, the last signal=KILL(9)"));
    ck_assert(json_is_integer(json_object_get(w, "retry_in_s")));
    ck_assert_int_le(json_integer_value(json_object_get(w, "retry_in_s")), 5);
    ck_assert(json_is_null(json_object_get(w, "pid")));
    json_decref(st);
    const char *status[] = { "status", "--home", node.home, NULL };
    ck_assert_int_eq(node_cli(&node, out, sizeof(out), status), 0);
    ck_assert_msg(strstr(out, "alpha failed: crash loop") && strstr(out, "tried again in"),
                  "status does not say why alpha failed:\n%s", out);
    char *line = strstr(read_log(), "level=error comp=supervisor event=worker_failed worker=alpha");
    ck_assert_msg(line, "no error line for alpha's failure");
    ck_assert_msg(strstr(line, "reason=\"crash loop\" action=retry retry_in_s=5 "
                               "workers=\"alpha=failed delta=running\""), "unexpected line");
    notify_collect(fd, got, cap, "STATUS=alpha failed (crash loop", 3000);
    ck_assert_msg(strstr(got, "STATUS=alpha failed (crash loop: 3 exits") &&
                  strstr(got, "delta running height"), "no STATUS= naming the failure: %s", got);
    ck_assert(metric_is("adnet_worker_up{worker=\"alpha\"} 0"));
    ck_assert(metric_is("adnet_worker_state{worker=\"alpha\",state=\"failed\"} 1"));
    ck_assert(metric_is("adnet_worker_state{worker=\"alpha\",state=\"running\"} 0"));
    ck_assert(metric_is("adnet_worker_up{worker=\"delta\"} 1"));
}

/* Alpha crash-loops (SIGKILLs): it alone goes to failed; delta keeps
 * committing at its cadence; status, STATUS=, /metrics and an error line
 * say which failed and why; after supervisor.failed_retry_s alpha runs
 * again, and the node never stopped. */
START_TEST(crash_loop_fails_one_worker_the_other_runs)
{
    char env_sock[PATH_MAX + 64];
    static char got[1 << 16];
    got[0] = '\0';
    int fd = notify_listen(env_sock, sizeof(env_sock));
    const char *env[] = { env_sock, NULL };
    const char *args[] = { FAST, "--set", "supervisor.restart_burst=2", "--set",
                           "supervisor.backoff_initial_ms=20", "--set",
                           "supervisor.failed_retry_s=5", NULL };
    ck_assert_int_eq(node_start(&node, args, env), 0);
    ck_assert(node_wait_running(&node, "alpha", 10000));
    ck_assert(node_wait_running(&node, "delta", 10000));
    pid_t delta = node_worker_pid(&node, "delta");
    long long from = wall_ms();

    /* Two restarts are allowed; the third death inside the window fails alpha. */
    kill_repeatedly("alpha", 3);
    ck_assert_msg(node_wait(&node, 5000, worker_failed, "alpha"), "alpha is not failed");
    double failed_at = now_ms();
    ck_assert_msg(pid_alive(node.pid), "the supervisor exited on one worker's crash loop");
    ck_assert_int_eq(node_worker_pid(&node, "delta"), delta);
    ck_assert(node_worker_state_is(&node, "delta", "running"));

    assert_alpha_failure_reported(fd, got, sizeof(got));

    /* delta keeps committing meanwhile. */
    uint64_t hd = node_ledger_height(&node, "delta");
    ck_assert(node_wait_height(&node, "delta", hd + 10, 5000));
    ck_assert_msg(node_worker_state_is(&node, "alpha", "failed"),
                  "alpha left failed within %.0f ms, before failed_retry_s", now_ms() - failed_at);

    /* The retry: alpha runs again, resumes its ledger; nothing stopped. */
    uint64_t ha = node_ledger_height(&node, "alpha");
    ck_assert_msg(node_wait_running(&node, "alpha", 10000), "alpha was not retried");
    ck_assert_msg(now_ms() - failed_at >= 4000, "retried %.0f ms after failing, before "
                  "failed_retry_s", now_ms() - failed_at);
    ck_assert(node_wait_height(&node, "alpha", ha + 3, 10000));
    ck_assert_ptr_nonnull(strstr(read_log(), "event=worker_retry worker=alpha"));
    ck_assert_int_eq(node_worker_restarts(&node, "alpha"), 3); /* the retry counts */
    ck_assert(metric_is("adnet_worker_up{worker=\"alpha\"} 1"));
    ck_assert(metric_is("adnet_worker_state{worker=\"alpha\",state=\"failed\"} 0"));
    ck_assert_int_eq(node_worker_pid(&node, "delta"), delta);
    long long until = wall_ms();
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
    close(fd);

    char why[256] = "";
    ck_assert_msg(node_ledger_verify(&node, "alpha", why) >= (int64_t)ha + 3, "%s", why);
    ck_assert_msg(node_ledger_verify(&node, "delta", why) > 0, "%s", why);
    long long gap = max_block_gap("delta", from, until);
    ck_assert_msg(gap <= 300, "delta paused %lld ms during alpha's crash loop", gap);
}
END_TEST

/* With every worker failed there is nothing left to serve: exit 113, so
 * that systemd acts. */
START_TEST(every_worker_failed_exits_113)
{
    const char *args[] = { FAST, "--set", "supervisor.restart_burst=1", "--set",
                           "supervisor.backoff_initial_ms=20", "--set",
                           "supervisor.failed_retry_s=0", NULL };
    ck_assert_int_eq(node_start(&node, args, NULL), 0);
    ck_assert(node_wait_running(&node, "delta", 10000));
    kill_repeatedly("alpha", 2);
    ck_assert(node_wait(&node, 5000, worker_failed, "alpha"));
    /* failed_retry_s=0: no retry; the node still runs delta. */
    ck_assert_msg(strstr(read_log(), "action=wait_for_restart"), "no wait_for_restart line");
    ck_assert(pid_alive(node.pid));
    kill_repeatedly("delta", 2);
    int st = node_wait_exit(&node, 20000);
    ck_assert_msg(st >= 0, "supervisor did not exit once every worker failed");
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), ADNET_EXIT_WORKER_FAILED);
    char *log = read_log();
    char *last = strstr(log, "event=worker_failed worker=delta");
    ck_assert_msg(last && strstr(last, "reason=\"crash loop\" action=stop_node"),
                  "delta's failure does not stop the node");
    ck_assert_ptr_nonnull(strstr(log, "event=node_stopped exit=113"));
}
END_TEST

/* `adnet restart` brings a failed worker back at once. */
START_TEST(restart_command_revives_a_failed_worker)
{
    const char *args[] = { FAST, "--set", "supervisor.restart_burst=1", "--set",
                           "supervisor.backoff_initial_ms=20", "--set",
                           "supervisor.failed_retry_s=0", NULL };
    char out[1024];
    ck_assert_int_eq(node_start(&node, args, NULL), 0);
    ck_assert(node_wait_running(&node, "delta", 10000));
    kill_repeatedly("delta", 2);
    ck_assert(node_wait(&node, 5000, worker_failed, "delta"));
    const char *restart[] = { "restart", "delta", "--home", node.home, NULL };
    ck_assert_int_eq(node_cli(&node, out, sizeof(out), restart), 0);
    /* It returned once delta runs: no polling needed here. */
    ck_assert_msg(node_worker_state_is(&node, "delta", "running"), "restart returned early");
    ck_assert_msg(strstr(out, "delta is running (pid "), "%s", out);
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
}
END_TEST

START_TEST(supervisor_killed_leaves_no_orphans)
{
    start_fast(NULL);
    pid_t a = node_worker_pid(&node, "alpha"), d = node_worker_pid(&node, "delta");
    ck_assert(a > 0 && d > 0);
    ck_assert_int_eq(node_stop(&node, SIGKILL, 5000), 128 + SIGKILL);
    double t0 = now_ms();
    while ((pid_alive(a) || pid_alive(d)) && now_ms() - t0 < 5000)
        usleep(10000);
    ck_assert_msg(!pid_alive(a) && !pid_alive(d), "workers outlived the supervisor");
    char why[256] = "";
    ck_assert_msg(node_ledger_verify(&node, "alpha", why) >= 0, "%s", why);
    ck_assert_msg(node_ledger_verify(&node, "delta", why) >= 0, "%s", why);
    /* A new supervisor takes over the same home and resumes. */
    uint64_t h = node_ledger_height(&node, "delta");
    start_fast(NULL);
    ck_assert(node_wait_height(&node, "delta", h + 2, 10000));
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
    ck_assert_msg(node_ledger_verify(&node, "delta", why) >= (int64_t)h + 2, "%s", why);
}
END_TEST

START_TEST(restart_command_and_second_supervisor)
{
    start_fast(NULL);
    pid_t old = node_worker_pid(&node, "delta");
    char out[1024];
    const char *args[] = { "restart", "delta", "--home", node.home, NULL };
    ck_assert_int_eq(node_cli(&node, out, sizeof(out), args), 0);
    double t0 = now_ms();
    while (now_ms() - t0 < 5000 &&
           !(node_worker_pid(&node, "delta") != old && node_worker_state_is(&node, "delta", "running")))
        usleep(10000);
    ck_assert(node_worker_pid(&node, "delta") != old);
    ck_assert_int_eq(node_worker_restarts(&node, "delta"), 0); /* on purpose, not a crash */
    const char *bad[] = { "restart", "gamma", "--home", node.home, NULL };
    ck_assert_int_eq(node_cli(&node, out, sizeof(out), bad), ADNET_EXIT_CONFIG);

    /* A second supervisor on the same home is refused. */
    const char *run[] = { "run", "--home", node.home, NULL };
    ck_assert_int_eq(node_cli(&node, NULL, 0, run), ADNET_EXIT_CONFIG);
    /* One line: the pid read back from the lock file keeps no newline. */
    char *busy = strstr(read_log(), "event=already_running");
    ck_assert_ptr_nonnull(busy);
    char *eol = strchr(busy, '\n');
    ck_assert_ptr_nonnull(eol);
    *eol = '\0';
    char pid_field[48];
    snprintf(pid_field, sizeof(pid_field), " pid=%ld reason=\"another process holds ",
             (long)node.pid);
    ck_assert_msg(strstr(busy, pid_field), "already_running is not one line: %s", busy);
    ck_assert_int_eq(node_stop(&node, SIGINT, 15000), 0);
}
END_TEST

START_TEST(only_one_chain)
{
    const char *args[] = { FAST, "--only", "delta", NULL };
    ck_assert_int_eq(node_start(&node, args, NULL), 0);
    ck_assert(node_wait_running(&node, "delta", 10000));
    ck_assert(node_wait_height(&node, "delta", 5, 10000));
    json_t *s = node_status(&node);
    ck_assert_int_eq(json_array_size(json_object_get(s, "workers")), 1);
    json_decref(s);
    ck_assert_int_eq(node_ledger_height(&node, "alpha"), 0);
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
}
END_TEST

START_TEST(bad_configuration_stops_start_up)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/adnet.yaml", node.home);
    FILE *f = fopen(path, "w");
    fputs("alpha:\n  block_intervl_ms: 200\n", f);
    fclose(f);
    const char *run[] = { "run", "--home", node.home, NULL };
    ck_assert_int_eq(node_cli(&node, NULL, 0, run), ADNET_EXIT_CONFIG);
    char *log = read_log();
    ck_assert_ptr_nonnull(strstr(log, "adnet.yaml:2:3"));
    ck_assert_ptr_nonnull(strstr(log, "alpha.block_interval_ms"));

    /* Environment beats file, and is checked the same way. */
    f = fopen(path, "w");
    fputs("delta:\n  block_interval_ms: 200\n", f);
    fclose(f);
    char out[8192];
    const char *cfg[] = { "config", "--home", node.home, NULL };
    setenv("ADNET_DELTA_BLOCK_INTERVAL_MS", "150", 1);
    ck_assert_int_eq(node_cli(&node, out, sizeof(out), cfg), 0);
    ck_assert_ptr_nonnull(strstr(out, "ADNET_DELTA_BLOCK_INTERVAL_MS"));
    ck_assert_ptr_nonnull(strstr(out, "150"));
    setenv("ADNET_DELTA_BLOCK_INTERVAL_MS", "fast", 1);
    ck_assert_int_eq(node_cli(&node, NULL, 0, run), ADNET_EXIT_CONFIG);
    unsetenv("ADNET_DELTA_BLOCK_INTERVAL_MS");
}
END_TEST

START_TEST(newer_ledger_is_refused_untouched)
{
    start_fast(NULL);
    ck_assert(node_wait_height(&node, "alpha", 2, 10000));
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
    char path[PATH_MAX + 32];
    sqlite3 *db;
    snprintf(path, sizeof(path), "%s/alpha/ledger.db", node.home);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "PRAGMA journal_mode=DELETE; PRAGMA user_version=99",
                                  NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    struct stat before, after;
    ck_assert_int_eq(stat(path, &before), 0);

    const char *args[] = { FAST, NULL };
    ck_assert_int_eq(node_start(&node, args, NULL), 0);
    int st = node_wait_exit(&node, 15000);
    ck_assert(st >= 0 && WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), ADNET_EXIT_LEDGER);
    ck_assert_int_eq(stat(path, &after), 0);
    ck_assert_int_eq(before.st_size, after.st_size);
    ck_assert(before.st_mtim.tv_sec == after.st_mtim.tv_sec &&
              before.st_mtim.tv_nsec == after.st_mtim.tv_nsec);
    ck_assert_ptr_nonnull(strstr(read_log(), "event=ledger_refused"));
}
END_TEST

START_TEST(unresponsive_worker_is_killed_and_restarted)
{
    const char *args[] = { FAST, "--set", "supervisor.heartbeat_interval_ms=50", "--set",
                           "supervisor.heartbeat_timeout_ms=400", NULL };
    ck_assert_int_eq(node_start(&node, args, NULL), 0);
    ck_assert(node_wait_running(&node, "delta", 10000));
    pid_t hung = node_worker_pid(&node, "alpha");
    ck_assert_int_eq(kill(hung, SIGSTOP), 0);
    double t0 = now_ms();
    pid_t fresh = hung;
    while (now_ms() - t0 < 10000 &&
           !((fresh = node_worker_pid(&node, "alpha")) != hung && fresh > 0 &&
             node_worker_state_is(&node, "alpha", "running")))
        usleep(10000);
    ck_assert_msg(fresh != hung && fresh > 0, "a stopped worker was not replaced");
    ck_assert(!pid_alive(hung));
    ck_assert_ptr_nonnull(strstr(read_log(), "event=worker_unresponsive worker=alpha"));
    uint64_t h = node_ledger_height(&node, "alpha");
    ck_assert(node_wait_height(&node, "alpha", h + 2, 10000));
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
}
END_TEST

/* Kill workers at random instants, many times: every ledger must stay at
 * a block boundary with contiguous, hash-chained heights. */
START_TEST(kill_storm_leaves_ledgers_at_block_boundaries)
{
    const char *args[] = { "--set", "alpha.block_interval_ms=50", "--set",
                           "delta.block_interval_ms=50", "--set", "supervisor.backoff_initial_ms=0",
                           "--set", "supervisor.restart_burst=1000", NULL };
    ck_assert_int_eq(node_start(&node, args, NULL), 0);
    ck_assert(node_wait_running(&node, "alpha", 10000));
    ck_assert(node_wait_running(&node, "delta", 10000));
    srand(42);
    int kills = 0;
    for (int i = 0; i < 30; i++) {
        const char *victim = rand() % 2 ? "alpha" : "delta";
        if (!node_wait_running(&node, victim, 10000))
            ck_abort_msg("%s did not come back (kill %d)", victim, i);
        usleep((useconds_t)(rand() % 60000));
        pid_t p = node_worker_pid(&node, victim);
        if (p > 0 && kill(p, SIGKILL) == 0)
            kills++;
    }
    ck_assert_int_ge(kills, 25);
    ck_assert(node_wait_running(&node, "alpha", 10000));
    ck_assert(node_wait_running(&node, "delta", 10000));
    uint64_t ha = node_ledger_height(&node, "alpha"), hd = node_ledger_height(&node, "delta");
    ck_assert(node_wait_height(&node, "alpha", ha + 2, 10000));
    ck_assert(node_wait_height(&node, "delta", hd + 2, 10000));
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
    char why[256] = "";
    ck_assert_msg(node_ledger_verify(&node, "alpha", why) >= (int64_t)ha + 2, "%s", why);
    ck_assert_msg(node_ledger_verify(&node, "delta", why) >= (int64_t)hd + 2, "%s", why);
    for (int c = 0; c < 2; c++) {
        char path[PATH_MAX + 32];
        sqlite3 *db;
        sqlite3_stmt *st;
        snprintf(path, sizeof(path), "%s/%s/ledger.db", node.home, c ? "delta" : "alpha");
        ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL),
                         SQLITE_OK);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
        ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "ok");
        sqlite3_finalize(st);
        /* Every block has its commit signature row: no half-written block. */
        ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM blocks b WHERE NOT EXISTS "
                                                "(SELECT 1 FROM commits c WHERE c.height = "
                                                "b.height)", -1, &st, NULL), SQLITE_OK);
        ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
        ck_assert_int_eq(sqlite3_column_int(st, 0), 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
}
END_TEST

/* Collect sd_notify datagrams the way systemd would receive them. */
static int notify_sock_open(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* A socket at <home>/notify.sock for the supervisor's notifications, and
 * "NOTIFY_SOCKET=<it>" for its environment into env_sock[cap]. */
static int notify_listen(char *env_sock, size_t cap)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/notify.sock", node.home);
    snprintf(env_sock, cap, "NOTIFY_SOCKET=%s", path);
    return notify_sock_open(path);
}

static void notify_collect(int fd, char *all, size_t cap, const char *until, int timeout_ms)
{
    double t0 = now_ms();
    while (!strstr(all, until) && now_ms() - t0 < timeout_ms) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 50) <= 0)
            continue;
        char buf[512];
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        size_t len = strlen(all);
        snprintf(all + len, cap - len, "%s\n", buf);
    }
}

START_TEST(systemd_notifications)
{
    char env_sock[PATH_MAX + 64];
    static char got[1 << 16];
    got[0] = '\0';
    int fd = notify_listen(env_sock, sizeof(env_sock));
    const char *env[] = { env_sock, "WATCHDOG_USEC=200000", NULL };
    const char *args[] = { FAST, NULL };
    ck_assert_int_eq(node_start(&node, args, env), 0);
    notify_collect(fd, got, sizeof(got), "READY=1", 10000);
    ck_assert_msg(strstr(got, "READY=1"), "no READY=1; got: %s", got);
    /* Both workers are running by the time READY=1 is sent. */
    ck_assert(node_worker_state_is(&node, "alpha", "running"));
    ck_assert(node_worker_state_is(&node, "delta", "running"));
    notify_collect(fd, got, sizeof(got), "WATCHDOG=1", 5000);
    ck_assert_msg(strstr(got, "WATCHDOG=1"), "no WATCHDOG=1; got: %s", got);
    notify_collect(fd, got, sizeof(got), "STATUS=alpha running height", 5000);
    ck_assert_msg(strstr(got, "STATUS=alpha running height") && strstr(got, "delta running height"),
                  "no STATUS with both heights; got: %s", got);
    kill(node.pid, SIGTERM);
    notify_collect(fd, got, sizeof(got), "STOPPING=1", 10000);
    ck_assert_msg(strstr(got, "STOPPING=1"), "no STOPPING=1; got: %s", got);
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
    close(fd);
}
END_TEST

static long long sql_ll(const char *chain, const char *sql)
{
    char path[PATH_MAX + 32];
    sqlite3 *db;
    sqlite3_stmt *st;
    long long v = -1;
    snprintf(path, sizeof(path), "%s/%s/ledger.db", node.home, chain);
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(db));
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Transactions keep flowing while the delta worker is killed again and
 * again: whatever committed, committed whole. Supply is conserved, every
 * committed transaction is in a block that counts it, and the sender's
 * nonce equals the number of its committed transactions. */
START_TEST(kills_during_transactions_keep_invariants)
{
    const char *args[] = { FAST, "--set", "supervisor.backoff_initial_ms=0", "--set",
                           "supervisor.restart_burst=1000", NULL };
    ck_assert_int_eq(node_start(&node, args, NULL), 0);
    ck_assert(node_wait_running(&node, "delta", 10000));
    char alice[128];
    const char *keys[] = { "keys", "new", "alice", "--home", node.home, NULL };
    ck_assert_int_eq(node_cli(&node, alice, sizeof(alice), keys), 0);
    alice[strcspn(alice, "\n")] = '\0';
    const char *supply_sql = "SELECT sum(amount) FROM balances WHERE asset = 'ADN'";
    long long supply = sql_ll("delta", supply_sql);
    ck_assert_int_gt(supply, 0);

    int kills = 0, accepted = 0;
    for (int i = 0; i < 48; i++) {
        char amount[16];
        snprintf(amount, sizeof(amount), "%d", 1 + i);
        const char *tx[] = { "tx", "transfer", "--chain", "delta", "--to", alice, "--amount",
                             amount, "--no-wait", "--home", node.home, NULL };
        /* Refusals and an unreachable node (mid-restart) are expected here. */
        if (node_cli(&node, NULL, 0, tx) == 0)
            accepted++;
        if (i % 6 == 5) {
            pid_t p = node_worker_pid(&node, "delta");
            if (p > 0 && kill(p, SIGKILL) == 0)
                kills++;
            node_wait_running(&node, "delta", 10000);
        }
    }
    ck_assert_int_ge(kills, 6);
    ck_assert_int_gt(accepted, 10);
    uint64_t h = node_ledger_height(&node, "delta");
    ck_assert(node_wait_height(&node, "delta", h + 3, 10000));
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);

    char why[256] = "";
    ck_assert_msg(node_ledger_verify(&node, "delta", why) > 0, "%s", why);
    ck_assert_int_eq(sql_ll("delta", supply_sql), supply);
    long long committed = sql_ll("delta", "SELECT count(*) FROM txs");
    ck_assert_int_gt(committed, 0);
    ck_assert_int_eq(sql_ll("delta", "SELECT sum(tx_count) FROM blocks"), committed);
    ck_assert_int_eq(sql_ll("delta", "SELECT count(*) FROM txs t LEFT JOIN blocks b "
                                     "ON b.height = t.height WHERE b.height IS NULL"), 0);
    /* All transfers came from the validator: its nonce counts them. */
    ck_assert_int_eq(sql_ll("delta", "SELECT max(nonce) FROM accounts"), committed);
    ck_assert_int_gt(sql_ll("delta", "SELECT count(*) FROM balances WHERE amount > 0"), 1);
}
END_TEST

Suite *test_suite(void)
{
    Suite *s = suite_create("devnet");
    TCase *tc = tcase_create("process");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, blocks_status_and_clean_stop);
    tcase_add_test(tc, kill_alpha_delta_keeps_going);
    tcase_add_test(tc, kill_delta_alpha_keeps_going);
    tcase_add_test(tc, crash_loop_fails_one_worker_the_other_runs);
    tcase_add_test(tc, every_worker_failed_exits_113);
    tcase_add_test(tc, restart_command_revives_a_failed_worker);
    tcase_add_test(tc, supervisor_killed_leaves_no_orphans);
    tcase_add_test(tc, restart_command_and_second_supervisor);
    tcase_add_test(tc, only_one_chain);
    tcase_add_test(tc, bad_configuration_stops_start_up);
    tcase_add_test(tc, newer_ledger_is_refused_untouched);
    tcase_add_test(tc, unresponsive_worker_is_killed_and_restarted);
    tcase_add_test(tc, kill_storm_leaves_ledgers_at_block_boundaries);
    tcase_add_test(tc, systemd_notifications);
    tcase_add_test(tc, kills_during_transactions_keep_invariants);
    suite_add_tcase(s, tc);
    return s;
}
