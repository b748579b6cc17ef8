#include "tests/integration/harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "supervisor/ctl.h"
#include "supervisor/httpc.h"
#include "tests/lib/tmp.h"

double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

bool pid_alive(pid_t pid)
{
    if (pid <= 0)
        return false;
    /* A zombie still answers kill(0); look at its state. */
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static const char *adnet_bin(void)
{
    const char *b = getenv("ADNET_BIN");
    return b && *b ? b : "adnet";
}

static pid_t spawn(node_t *n, const char *const *args, const char *const *env, int out_fd)
{
    const char *argv[64];
    int argc = 0;
    argv[argc++] = n->bin;
    for (; args && *args && argc < 62; args++)
        argv[argc++] = *args;
    argv[argc] = NULL;
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int log = open(n->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log >= 0)
        dup2(log, 2);
    if (out_fd >= 0)
        dup2(out_fd, 1);
    else if (log >= 0)
        dup2(log, 1);
    for (; env && *env; env++)
        putenv((char *)*env);
    execv(n->bin, (char *const *)argv);
    _exit(127);
}

int node_cli(node_t *n, char *out, size_t cap, const char *const *args)
{
    int pfd[2] = { -1, -1 };
    if (out && pipe(pfd) < 0)
        return -1;
    pid_t pid = spawn(n, args, NULL, out ? pfd[1] : -1);
    if (out) {
        close(pfd[1]);
        size_t len = 0;
        ssize_t r;
        while (len + 1 < cap && (r = read(pfd[0], out + len, cap - 1 - len)) > 0)
            len += (size_t)r;
        out[len] = '\0';
        close(pfd[0]);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* A port the kernel just handed out and released: free for a while. */
static int free_port(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

int node_init(node_t *n)
{
    memset(n, 0, sizeof(*n));
    static const char *const vars[2] = { "ADNET_ALPHA_API_LISTEN", "ADNET_DELTA_API_LISTEN" };
    for (int i = 0; i < 2; i++) {
        char listen[32];
        if ((n->api_port[i] = free_port()) < 0)
            return -1;
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", n->api_port[i]);
        setenv(vars[i], listen, 1);
    }
    n->bin = adnet_bin();
    if (tmp_make(n->home, sizeof(n->home), "test") < 0)
        return -1;
    snprintf(n->log, sizeof(n->log), "%s.log", n->home);
    const char *args[] = { "init", "--home", n->home, "--force", NULL };
    return node_cli(n, NULL, 0, args) == 0 ? 0 : -1;
}

int node_start(node_t *n, const char *const *args, const char *const *env)
{
    const char *argv[48] = { "run", "--home", n->home };
    int argc = 3;
    for (; args && *args && argc < 47; args++)
        argv[argc++] = *args;
    argv[argc] = NULL;
    n->pid = spawn(n, argv, env, -1);
    return n->pid > 0 ? 0 : -1;
}

json_t *node_status(node_t *n)
{
    char err[CTL_ERR_MAX], *text = NULL;
    if (ctl_call(n->home, "{\"cmd\":\"status\"}", &text, 2000, err) < 0)
        return NULL;
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    return j;
}

static json_t *find_worker(json_t *status, const char *name)
{
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(status, "workers"), i, w) {
        if (strcmp(json_string_value(json_object_get(w, "name")), name) == 0)
            return w;
    }
    return NULL;
}

pid_t node_worker_pid(node_t *n, const char *name)
{
    json_t *s = node_status(n);
    json_t *w = s ? find_worker(s, name) : NULL;
    pid_t pid = w && json_is_integer(json_object_get(w, "pid"))
                    ? (pid_t)json_integer_value(json_object_get(w, "pid")) : 0;
    json_decref(s);
    return pid;
}

int node_worker_restarts(node_t *n, const char *name)
{
    json_t *s = node_status(n);
    json_t *w = s ? find_worker(s, name) : NULL;
    int r = w ? (int)json_integer_value(json_object_get(w, "restarts")) : -1;
    json_decref(s);
    return r;
}

bool node_worker_state_is(node_t *n, const char *name, const char *state)
{
    json_t *s = node_status(n);
    json_t *w = s ? find_worker(s, name) : NULL;
    bool r = w && strcmp(json_string_value(json_object_get(w, "state")), state) == 0;
    json_decref(s);
    return r;
}

static sqlite3 *open_ledger(node_t *n, const char *chain)
{
    char path[PATH_MAX + 32];
    sqlite3 *db = NULL;
    snprintf(path, sizeof(path), "%s/%s/ledger.db", n->home, chain);
    if (access(path, F_OK) < 0 ||
        sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 2000);
    return db;
}

uint64_t node_ledger_height(node_t *n, const char *chain)
{
    sqlite3 *db = open_ledger(n, chain);
    sqlite3_stmt *st = NULL;
    uint64_t h = 0;
    if (db && sqlite3_prepare_v2(db, "SELECT max(height) FROM blocks", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        h = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return h;
}

int64_t node_ledger_verify(node_t *n, const char *chain, char why[256])
{
    sqlite3 *db = open_ledger(n, chain);
    sqlite3_stmt *st = NULL;
    int64_t expect = 1, tip = -1;
    char prev[65] = "";
    if (!db) {
        snprintf(why, 256, "%s: cannot open ledger", chain);
        return -1;
    }
    if (sqlite3_prepare_v2(db, "SELECT height, hash, prev_hash FROM blocks ORDER BY height",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(why, 256, "%s: %s", chain, sqlite3_errmsg(db));
        goto out;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t h = sqlite3_column_int64(st, 0);
        const char *hash = (const char *)sqlite3_column_text(st, 1);
        const char *ph = (const char *)sqlite3_column_text(st, 2);
        if (h != expect) {
            snprintf(why, 256, "%s: height %lld follows %lld", chain, (long long)h,
                     (long long)expect - 1);
            goto out;
        }
        if (h > 1 && strcmp(ph, prev) != 0) {
            snprintf(why, 256, "%s: block %lld prev_hash does not match block %lld", chain,
                     (long long)h, (long long)h - 1);
            goto out;
        }
        snprintf(prev, sizeof(prev), "%s", hash);
        expect++;
    }
    tip = expect - 1;
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    return tip;
}

bool node_wait(node_t *n, int timeout_ms, bool (*cond)(node_t *, const void *), const void *arg)
{
    double end = now_ms() + timeout_ms;
    do {
        if (cond(n, arg))
            return true;
        sleep_ms(10);
    } while (now_ms() < end);
    return cond(n, arg);
}

struct height_arg {
    const char *chain;
    uint64_t height;
};

static bool height_reached(node_t *n, const void *arg)
{
    const struct height_arg *a = arg;
    return node_ledger_height(n, a->chain) >= a->height;
}

bool node_wait_height(node_t *n, const char *chain, uint64_t height, int timeout_ms)
{
    struct height_arg a = { chain, height };
    return node_wait(n, timeout_ms, height_reached, &a);
}

static bool is_running(node_t *n, const void *name)
{
    return node_worker_state_is(n, name, "running");
}

bool node_wait_running(node_t *n, const char *name, int timeout_ms)
{
    return node_wait(n, timeout_ms, is_running, name);
}

int node_wait_exit(node_t *n, int timeout_ms)
{
    double end = now_ms() + timeout_ms;
    int st;
    while (n->pid > 0) {
        pid_t r = waitpid(n->pid, &st, WNOHANG);
        if (r == n->pid) {
            n->pid = 0;
            return st;
        }
        if (r < 0 || now_ms() > end)
            return -1;
        sleep_ms(5);
    }
    return -1;
}

int node_stop(node_t *n, int sig, int timeout_ms)
{
    if (n->pid <= 0)
        return -1;
    kill(n->pid, sig);
    int st = node_wait_exit(n, timeout_ms);
    if (st < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void node_cleanup(node_t *n)
{
    if (n->pid > 0) {
        pid_t a = node_worker_pid(n, "alpha"), d = node_worker_pid(n, "delta");
        kill(n->pid, SIGKILL);
        node_wait_exit(n, 5000);
        if (a > 0)
            kill(a, SIGKILL);
        if (d > 0)
            kill(d, SIGKILL);
    }
    if (getenv("ADNET_KEEP_TEST_HOME") || !n->home[0])
        return;
    int r = tmp_remove(n->home);
    if (tmp_remove(n->log) < 0 || r < 0)
        fprintf(stderr, "could not remove %s\n", n->home);
}

long node_http(node_t *n, int chain, const char *path, const char *body, int timeout_ms,
               node_resp_t *out)
{
    char base[64];
    httpc_t *c = NULL;
    httpc_response_t res = { 0 };
    double t0 = now_ms();
    memset(out, 0, sizeof(*out));
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", n->api_port[chain]);
    if (httpc_new(&c, base, timeout_ms) == 0 &&
        httpc_request(c, body ? "POST" : "GET", path, body, body ? strlen(body) : 0,
                      "application/json", &res) == 0) {
        out->status = res.status;
        snprintf(out->body, sizeof(out->body), "%s", res.body ? res.body : "");
        if (res.retry_after >= 0)
            snprintf(out->retry_after, sizeof(out->retry_after), "%ld", res.retry_after);
        httpc_response_clear(&res);
    }
    httpc_free(c);
    out->ms = now_ms() - t0;
    return out->status;
}

json_t *node_http_json(node_t *n, int chain, const char *path, long *status)
{
    static __thread node_resp_t r;
    long st = node_http(n, chain, path, NULL, 5000, &r);
    if (status != NULL)
        *status = st;
    return st != 0 ? json_loads(r.body, 0, NULL) : NULL;
}

double node_metric(node_t *n, int chain, const char *prefix)
{
    static node_resp_t r;
    size_t k = strlen(prefix);
    if (node_http(n, chain, "/metrics", NULL, 5000, &r) != 200)
        return -1;
    for (const char *p = r.body; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, prefix, k) == 0 && p[k] == ' ')
            return strtod(p + k + 1, NULL);
    return -1;
}
