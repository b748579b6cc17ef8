/* `adnet status`, `adnet restart NAME`, `adnet stop`: the CLI side of the
 * supervisor's control socket (supervisor/ctl.h). */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/base/clock.h"
#include "common/base/exitcode.h"
#include "common/base/fsutil.h"
#include "common/store/peertab.h"
#include "supervisor/cli.h"
#include "supervisor/ctl.h"
#include "supervisor/homelock.h"

#define CTL_TIMEOUT_MS 5000
#define POLL_MS 50
#define STOP_WAIT_MS 60000      /* adnet stop waits this long for the exit */
#define RESTART_WAIT_MS 600000  /* a worker that makes progress is never killed: cap the wait */

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* True if no supervisor runs on home, seen from a failed call's code r:
 * no socket at all, or one left by a supervisor whose process is gone. */
static bool not_running(const char *home, int r)
{
    pid_t pid;
    if (r == -ECONNREFUSED)
        return true;
    return r == -ETIMEDOUT && homelock_holder(home, &pid) == 0;
}

/* True if home's lock file names a process that is gone: a supervisor that
 * was killed leaves its socket file behind, which would make a call wait
 * for its timeout. (A running supervisor writes its pid before it opens
 * its socket.) */
static bool supervisor_gone(const char *home)
{
    char path[PATH_MAX];
    pid_t pid;
    return fs_path(path, sizeof(path), "%s/run/%s", home, HOMELOCK_FILE) == 0 &&
           fs_exists(path) && homelock_holder(home, &pid) == 0;
}

/* Send request and parse the reply into *out. Return 0, or -ESRCH when no
 * supervisor runs on home (nothing printed), or an exit code once the
 * reason is printed with verb. */
static int ctl_json(const char *home, const char *verb, const char *request, json_t **out)
{
    char err[CTL_ERR_MAX], *text = NULL;
    json_error_t jerr;
    if (supervisor_gone(home))
        return -ESRCH;
    int r = ctl_call(home, request, &text, CTL_TIMEOUT_MS, err);
    if (r < 0 && not_running(home, r))
        return -ESRCH;
    if (r < 0) {
        fprintf(stderr, "adnet %s: %s\n", verb, err);
        return ADNET_EXIT_SYSTEM;
    }
    json_t *reply = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!reply) {
        fprintf(stderr, "adnet %s: malformed reply from the supervisor: %s\n", verb, jerr.text);
        return ADNET_EXIT_SYSTEM;
    }
    if (!json_is_true(json_object_get(reply, "ok"))) {
        const char *e = json_string_value(json_object_get(reply, "error"));
        fprintf(stderr, "adnet %s: %s\n", verb, e ? e : "request refused");
        json_decref(reply);
        return ADNET_EXIT_CONFIG;
    }
    *out = reply;
    return ADNET_EXIT_OK;
}

/* ctl_json for a verb that needs a running node: "not running" is an error. */
static int ctl_json_running(const char *home, const char *verb, const char *request,
                            json_t **out)
{
    int rc = ctl_json(home, verb, request, out);
    if (rc == -ESRCH) {
        fprintf(stderr, "adnet %s: the node on %s is not running (start it with adnet run "
                "--home %s)\n", verb, home, home);
        rc = ADNET_EXIT_SYSTEM;
    }
    return rc;
}

static void fmt_duration(double s, char *out, size_t cap)
{
    long t = (long)s;
    if (t >= 86400)
        snprintf(out, cap, "%ldd%02ldh", t / 86400, t % 86400 / 3600);
    else if (t >= 3600)
        snprintf(out, cap, "%ldh%02ldm", t / 3600, t % 3600 / 60);
    else if (t >= 60)
        snprintf(out, cap, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(out, cap, "%.1fs", s);
}

static const char *jstr(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

/* The worker named name in a status reply, or NULL. */
static json_t *find_worker(json_t *status, const char *name)
{
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(status, "workers"), i, w) {
        if (strcmp(jstr(w, "name"), name) == 0)
            return w;
    }
    return NULL;
}

/* "<peer> 1234 (0.2s)": the peer chain as w's ledger has seen it, or "-". */
static void fmt_peer(json_t *w, char *out, size_t cap)
{
    json_t *v = json_object_get(w, "peer_view"), *lag = json_object_get(v, "lag_ms");
    char d[32] = "-";
    if (!v) {
        snprintf(out, cap, "-");
        return;
    }
    if (json_is_integer(lag))
        fmt_duration((double)json_integer_value(lag) / 1e3, d, sizeof(d));
    snprintf(out, cap, "%s %lld (%s)", jstr(v, "chain"),
             (long long)json_integer_value(json_object_get(v, "height")), d);
}

static void print_worker(json_t *w)
{
    char up[32], pid[24] = "-";
    const char *when = jstr(w, "last_block_time");
    fmt_duration(json_real_value(json_object_get(w, "uptime_s")), up, sizeof(up));
    if (json_is_integer(json_object_get(w, "pid")))
        snprintf(pid, sizeof(pid), "%lld",
                 (long long)json_integer_value(json_object_get(w, "pid")));
    /* A running worker that produces no blocks says so. */
    const char *state = json_is_string(json_object_get(w, "halted")) ? "halted" : jstr(w, "state");
    char peer[64];
    fmt_peer(w, peer, sizeof(peer));
    printf("%-6s %-9s %8s %9lld %9s %10lld  %-24s %-10s %s\n", jstr(w, "name"), state, pid,
           (long long)json_integer_value(json_object_get(w, "restarts")), up,
           (long long)json_integer_value(json_object_get(w, "height")), *when ? when : "-",
           jstr(w, "last_exit"), peer);
}

/* Below the table: why each halted worker makes no blocks, and why each
 * failed worker failed and what comes next. */
static void print_failures(json_t *reply)
{
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(reply, "workers"), i, w) {
        if (json_is_string(json_object_get(w, "halted")))
            printf("\n%s halted (the worker runs, no blocks are made): %s\n", jstr(w, "name"),
                   jstr(w, "halted"));
        if (strcmp(jstr(w, "state"), "failed") != 0)
            continue;
        json_t *retry = json_object_get(w, "retry_in_s");
        char in[32];
        printf("\n%s failed: %s\n", jstr(w, "name"), jstr(w, "failed_reason"));
        if (json_is_integer(retry)) {
            fmt_duration((double)json_integer_value(retry), in, sizeof(in));
            printf("  tried again in %s (supervisor.failed_retry_s); now: adnet restart %s\n", in,
                   jstr(w, "name"));
        } else {
            printf("  not tried again automatically; fix the cause, then: adnet restart %s\n",
                   jstr(w, "name"));
        }
    }
}

/* What worker w's ledger says of its peer chain (peer_headers): its
 * newest verified height and that block's time, as "peer_view" in w.
 * Read-only, without waiting on locks; left out when the ledger cannot be
 * read (a fresh home) or has no such table. */
static void add_peer_view(const char *home, json_t *w)
{
    const char *peer = json_string_value(json_object_get(w, "peer"));
    char path[PATH_MAX];
    sqlite3 *db = NULL;
    uint64_t height = 0, time_ms = 0;
    uint8_t hash[BLOCK_HASH_LEN];
    if (!peer || fs_path(path, sizeof(path), "%s/%s/ledger.db", home, jstr(w, "name")) < 0)
        return;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sql_t q = SQL_BARE(db);
        sqlite3_busy_timeout(db, 100);
        if (peertab_present(&q) == 1 && peertab_tip(&q, peer, &height, hash, &time_ms) == 0) {
            uint64_t now = clock_wall_ms();
            json_object_set_new(w, "peer_view", json_pack("{s:s,s:I,s:o}", "chain", peer,
                                "height", (json_int_t)height, "lag_ms", height
                                ? json_integer((json_int_t)(now > time_ms ? now - time_ms : 0))
                                : json_null()));
        }
    }
    sqlite3_close(db);
}

int cmd_status(const char *home, bool json)
{
    json_t *reply = NULL;
    int rc = ctl_json_running(home, "status", "{\"cmd\":\"status\"}", &reply);
    if (rc)
        return rc;
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(reply, "workers"), i, w)
        add_peer_view(home, w);
    if (json) {
        json_object_del(reply, "ok");
        json_dumpf(reply, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(reply);
        return ADNET_EXIT_OK;
    }
    json_t *sup = json_object_get(reply, "supervisor");
    char up[32];
    fmt_duration(json_real_value(json_object_get(sup, "uptime_s")), up, sizeof(up));
    printf("supervisor  pid %lld, up %s%s\n",
           (long long)json_integer_value(json_object_get(sup, "pid")), up,
           json_is_true(json_object_get(sup, "stopping")) ? ", stopping" : "");
    printf("%-6s %-9s %8s %9s %9s %10s  %-24s %-10s %s\n", "WORKER", "STATE", "PID", "RESTARTS",
           "UPTIME", "HEIGHT", "LAST BLOCK", "LAST EXIT", "PEER SEEN (AGE)");
    json_array_foreach(json_object_get(reply, "workers"), i, w)
        print_worker(w);
    print_failures(reply);
    json_decref(reply);
    return ADNET_EXIT_OK;
}

/* The pid of worker in a fresh status (0 without a process). Return 0, or
 * an exit code once the reason is printed. */
static int worker_pid(const char *home, const char *worker, json_int_t *pid)
{
    json_t *reply = NULL;
    int rc = ctl_json_running(home, "restart", "{\"cmd\":\"status\"}", &reply);
    if (rc)
        return rc;
    json_t *w = find_worker(reply, worker);
    *pid = w ? json_integer_value(json_object_get(w, "pid")) : 0;
    json_decref(reply);
    return ADNET_EXIT_OK;
}

/* Poll until worker runs as a process other than old, or has failed.
 * Return an exit code, the outcome printed. */
static int wait_running(const char *home, const char *worker, json_int_t old)
{
    for (long waited = 0; waited < RESTART_WAIT_MS; waited += POLL_MS) {
        json_t *reply = NULL;
        int rc = ctl_json(home, "restart", "{\"cmd\":\"status\"}", &reply);
        if (rc == -ESRCH) {
            fprintf(stderr, "adnet restart: the node stopped while %s restarted\n", worker);
            return ADNET_EXIT_SYSTEM;
        }
        if (rc)
            return rc;
        json_t *w = find_worker(reply, worker);
        const char *st = w ? jstr(w, "state") : "";
        json_int_t pid = w ? json_integer_value(json_object_get(w, "pid")) : 0;
        bool up = strcmp(st, "running") == 0 && pid != old, failed = strcmp(st, "failed") == 0;
        if (up)
            printf("%s is running (pid %lld, height %lld)\n", worker, (long long)pid,
                   (long long)json_integer_value(json_object_get(w, "height")));
        else if (failed)
            fprintf(stderr, "adnet restart: %s failed: %s\n", worker, jstr(w, "failed_reason"));
        json_decref(reply);
        if (up || failed)
            return up ? ADNET_EXIT_OK : ADNET_EXIT_SYSTEM;
        sleep_ms(POLL_MS);
    }
    fprintf(stderr, "adnet restart: %s was not running after %d s; see the node's log\n", worker,
            RESTART_WAIT_MS / 1000);
    return ADNET_EXIT_SYSTEM;
}

int cmd_restart(const char *home, const char *worker, bool wait)
{
    json_int_t old = 0;
    int rc = wait ? worker_pid(home, worker, &old) : ADNET_EXIT_OK;
    if (rc)
        return rc;
    json_t *req = json_pack("{s:s, s:s}", "cmd", "restart", "worker", worker), *reply = NULL;
    char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    rc = text ? ctl_json_running(home, "restart", text, &reply) : ADNET_EXIT_SYSTEM;
    free(text);
    json_decref(reply);
    if (rc != ADNET_EXIT_OK)
        return rc;
    printf("restarting %s\n", worker);
    fflush(stdout);
    return wait ? wait_running(home, worker, old) : ADNET_EXIT_OK;
}

int cmd_stop(const char *home, bool wait)
{
    json_t *reply = NULL;
    int rc = ctl_json(home, "stop", "{\"cmd\":\"stop\"}", &reply);
    json_decref(reply);
    if (rc == -ESRCH) {
        printf("the node on %s is not running\n", home);
        return ADNET_EXIT_OK;
    }
    if (rc != ADNET_EXIT_OK)
        return rc;
    printf("stopping the node on %s\n", home);
    if (!wait)
        return rc;
    fflush(stdout);
    /* The control socket disappears when the supervisor has finished. */
    char err[CTL_ERR_MAX], *text = NULL;
    for (long waited = 0; waited < STOP_WAIT_MS; waited += POLL_MS) {
        sleep_ms(POLL_MS);
        int r = supervisor_gone(home) ? -ECONNREFUSED
                                      : ctl_call(home, "{\"cmd\":\"status\"}", &text, 1000, err);
        free(text);
        text = NULL;
        if (r < 0 && not_running(home, r)) {
            printf("stopped\n");
            return ADNET_EXIT_OK;
        }
    }
    fprintf(stderr, "adnet stop: the node did not stop within %d s\n", STOP_WAIT_MS / 1000);
    return ADNET_EXIT_SYSTEM;
}
