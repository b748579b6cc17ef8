/* Process-level test harness: real `adnet` processes on a temporary home,
 * driven through the CLI binary, the control socket and the ledgers
 * (read-only SQLite). Waits are bounded polls, never fixed sleeps. */
#ifndef ADNET_TEST_HARNESS_H
#define ADNET_TEST_HARNESS_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct {
    char home[PATH_MAX];   /* temporary node home (removed by node_cleanup) */
    char log[PATH_MAX + 8];    /* supervisor's and workers' stderr */
    pid_t pid;             /* supervisor, 0 when not running */
    const char *bin;       /* adnet binary ($ADNET_BIN) */
    int api_port[2];       /* alpha's and delta's HTTP ports, free when chosen */
} node_t;

/* Make a temporary home and run `adnet init` in it. Choose free loopback
 * ports for both APIs and export them as ADNET_ALPHA_API_LISTEN and
 * ADNET_DELTA_API_LISTEN, so that this process's children (the node and
 * the CLI) agree on them. Return 0 or -1. */
int node_init(node_t *n);
/* Start `adnet run --home` with extra arguments (NULL-terminated, may be
 * NULL) and extra environment "K=V" entries (NULL-terminated, may be NULL). */
int node_start(node_t *n, const char *const *args, const char *const *env);
/* Run the adnet CLI with args; return its exit status, capture stdout into
 * out[cap] if out is non-NULL. */
int node_cli(node_t *n, char *out, size_t cap, const char *const *args);
/* `status --json` through the control socket; caller frees. NULL on failure. */
json_t *node_status(node_t *n);
/* A worker's pid / state / restarts from status (0, NULL, -1 if unknown). */
pid_t node_worker_pid(node_t *n, const char *name);
int node_worker_restarts(node_t *n, const char *name);
bool node_worker_state_is(node_t *n, const char *name, const char *state);
/* Highest height in <home>/<chain>/ledger.db (0 if none or unreadable). */
uint64_t node_ledger_height(node_t *n, const char *chain);
/* Check heights 1..tip are contiguous and each prev_hash is the previous
 * block's hash. Return the tip, or -1 (message in why[256]). */
int64_t node_ledger_verify(node_t *n, const char *chain, char why[256]);
/* Poll until cond(n, arg) or timeout_ms; return true if it held. */
bool node_wait(node_t *n, int timeout_ms, bool (*cond)(node_t *, const void *), const void *arg);
bool node_wait_height(node_t *n, const char *chain, uint64_t height, int timeout_ms);
bool node_wait_running(node_t *n, const char *name, int timeout_ms);
/* Wait for the supervisor to exit; return its wait status or -1 on timeout. */
int node_wait_exit(node_t *n, int timeout_ms);
/* Send sig to the supervisor and wait; return its exit code (or 128+signal), -1 on timeout. */
int node_stop(node_t *n, int sig, int timeout_ms);
bool pid_alive(pid_t pid);
/* Kill what is left, remove the home (kept if ADNET_KEEP_TEST_HOME is set). */
void node_cleanup(node_t *n);
/* Monotonic milliseconds. */
double now_ms(void);

/* One HTTP answer of a node's API. */
typedef struct {
    long status;             /* 0: no answer within the timeout */
    char body[128 * 1024];   /* cut to fit, NUL-terminated */
    char retry_after[24];    /* the Retry-After header, "" if none */
    double ms;               /* how long the request took */
} node_resp_t;

/* GET path (body NULL) or POST body (as application/json) on the API of
 * chain 0 (alpha) or 1 (delta), waiting at most timeout_ms. Return the
 * status (0: no answer); *out gets the whole answer. */
long node_http(node_t *n, int chain, const char *path, const char *body, int timeout_ms,
               node_resp_t *out);
/* GET path and parse the body as JSON (any status); caller frees. NULL
 * without an answer or with a body that is not JSON; *status (may be NULL)
 * gets the status. */
json_t *node_http_json(node_t *n, int chain, const char *path, long *status);

/* The value of the first sample on chain's /metrics whose name and labels
 * are exactly prefix (e.g. "adnet_peer_height" or
 * "adnet_ipc_refused_total{reason=\"malformed\"}"), or -1 if none. */
double node_metric(node_t *n, int chain, const char *prefix);

#endif
