/* Process-level tests of what an operator meets at the command line, with
 * the real adnet binary: every verb's --help, unknown options with the
 * closest known one, homes that are not node homes or not running,
 * `adnet restart` that returns once the worker runs, a listen address that
 * cannot be bound (the error names its key), port 0 refused, the
 * `scripts/dev` usage and benchmark list, the devnet recipe for a
 * second asset that the DEX examples of docs/cli.md follow, `adnet supply`
 * (the conservation check across the bridge) and `adnet tx bridge`. */
#include <check.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "common/base/exitcode.h"
#include "tests/integration/harness.h"
#include "tests/lib/file.h"
#include "tests/lib/suite.h"
#include "tests/lib/tmp.h"

Suite *test_suite(void);

#define FAST "--set", "alpha.block_interval_ms=200", "--set", "delta.block_interval_ms=100"

static node_t node;
static char scratch[PATH_MAX]; /* a directory that is no node home */

static void setup(void)
{
    ck_assert_msg(node_init(&node) == 0, "adnet init failed (ADNET_BIN=%s)", getenv("ADNET_BIN"));
    ck_assert_int_eq(tmp_make(scratch, sizeof(scratch), "test-cli"), 0);
}

static void teardown(void)
{
    node_cleanup(&node);
    if (!getenv("ADNET_KEEP_TEST_HOME"))
        tmp_remove(scratch);
}

/* Run a program (argv[0] a path) with stdout and stderr captured, each
 * into a buffer of cap bytes; return its exit code. */
static int run_prog(const char *const *argv, char *out, char *err, size_t cap)
{
    int po[2], pe[2];
    ck_assert_int_eq(pipe(po), 0);
    ck_assert_int_eq(pipe(pe), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    /* Small outputs: read stderr after stdout is closed; neither fills a pipe. */
    int fds[2] = { po[0], pe[0] };
    char *bufs[2] = { out, err };
    for (int i = 0; i < 2; i++) {
        size_t len = 0;
        ssize_t n;
        while (len + 1 < cap && (n = read(fds[i], bufs[i] + len, cap - 1 - len)) > 0)
            len += (size_t)n;
        bufs[i][len] = '\0';
        close(fds[i]);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* adnet with args (NULL-terminated). */
static int adnet(char *out, char *err, size_t cap, const char *const *args)
{
    const char *argv[32] = { node.bin };
    int n = 1;
    for (; args[n - 1] && n < 31; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    return run_prog(argv, out, err, cap);
}

#define ADNET(out, err, ...) adnet(out, err, sizeof(out), (const char *const[]){ __VA_ARGS__, NULL })

START_TEST(every_verb_answers_help_with_its_own_usage)
{
    static const char *const verbs[] = { "init", "run", "status", "restart", "stop", "config",
                                         "version", "keys", "tx", "query", "verify-proof",
                                         "verify-ledger", "supply" };
    char out[8192], err[8192], want[64];
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        snprintf(want, sizeof(want), "usage: adnet %s", verbs[i]);
        ck_assert_msg(ADNET(out, err, verbs[i], "--help") == 0, "%s --help: %s", verbs[i], err);
        ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "%s --help printed:\n%s", verbs[i],
                      out);
        ck_assert_str_eq(err, "");
        /* adnet help VERB says the same. */
        char again[8192];
        ck_assert_int_eq(ADNET(again, err, "help", verbs[i]), 0);
        ck_assert_str_eq(again, out);
    }
    ck_assert_int_eq(ADNET(out, err, "--help"), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: adnet COMMAND"));
    ck_assert_int_eq(ADNET(out, err, "help", "nonsense"), ADNET_EXIT_CONFIG);
}
END_TEST

START_TEST(unknown_options_name_the_closest_known_one)
{
    static const struct {
        const char *verb, *extra, *bad, *msg;
    } cases[] = {
        { "status", NULL, "--x", "adnet status: unknown option --x (did you mean --home?)\n" },
        { "status", NULL, "--jsno", "adnet status: unknown option --jsno (did you mean --json?)\n" },
        { "init", NULL, "--forse", "adnet init: unknown option --forse (did you mean --force?)\n" },
        { "restart", "delta", "--no-wiat",
          "adnet restart: unknown option --no-wiat (did you mean --no-wait?)\n" },
        { "run", NULL, "--onyl", "adnet run: unknown option --onyl (did you mean --only?)\n" },
        { "keys", "list", "--hoem", "adnet keys: unknown option --hoem (did you mean --home?)\n" },
        { "tx", "transfer", "--amout", "adnet tx: unknown option --amout (did you mean --amount?)\n" },
        { "query", "balance", "--chian", "adnet query: unknown option --chian (did you mean --chain?)\n" },
        { "verify-ledger", NULL, "--chian",
          "adnet verify-ledger: unknown option --chian (did you mean --chain?)\n" },
        { "verify-proof", "p.json", "--jsn",
          "adnet verify-proof: unknown option --jsn (did you mean --json?)\n" },
        /* An option of another verb is unknown to this one. */
        { "status", NULL, "--force", "adnet status: unknown option --force (did you mean" },
        { "init", NULL, "--force=yes", "adnet init: --force takes no value (got --force=yes)\n" },
    };
    char out[4096], err[4096];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = cases[i].extra ? ADNET(out, err, cases[i].verb, cases[i].extra, cases[i].bad,
                                        "--home", node.home)
                                : ADNET(out, err, cases[i].verb, cases[i].bad, "--home", node.home);
        ck_assert_msg(rc == ADNET_EXIT_CONFIG, "%s %s exited %d", cases[i].verb, cases[i].bad, rc);
        ck_assert_msg(strncmp(err, cases[i].msg, strlen(cases[i].msg)) == 0,
                      "%s %s said: %s", cases[i].verb, cases[i].bad, err);
    }
    ck_assert_int_eq(ADNET(out, err, "status", "--home"), ADNET_EXIT_CONFIG);
    ck_assert_str_eq(err, "adnet status: --home needs a value (see adnet status --help)\n");
}
END_TEST

START_TEST(homes_that_are_not_node_homes_or_not_running)
{
    char out[4096], err[4096], file[PATH_MAX + 16];
    /* A directory without adnet.yaml, and a plain file. */
    ck_assert_int_eq(ADNET(out, err, "status", "--home", scratch), ADNET_EXIT_CONFIG);
    ck_assert_msg(strstr(err, "is not a node home (it has no adnet.yaml)") &&
                  strstr(err, "adnet init --home"), "%s", err);
    ck_assert_int_eq(ADNET(out, err, "stop", "--home", scratch), ADNET_EXIT_CONFIG);
    ck_assert_ptr_nonnull(strstr(err, "is not a node home"));
    snprintf(file, sizeof(file), "%s/f", scratch);
    file_write(file, "x");
    ck_assert_int_eq(ADNET(out, err, "status", "--home", file), ADNET_EXIT_CONFIG);
    ck_assert_ptr_nonnull(strstr(err, "is not a directory"));
    ck_assert_int_eq(ADNET(out, err, "status", "--home", "/nonexistent/home"), ADNET_EXIT_CONFIG);
    ck_assert_ptr_nonnull(strstr(err, "No such file or directory"));

    /* A node home whose node never ran: stop is no error, status and restart are. */
    ck_assert_int_eq(ADNET(out, err, "stop", "--home", node.home), 0);
    ck_assert_msg(strstr(out, "is not running"), "%s", out);
    ck_assert_int_eq(ADNET(out, err, "status", "--home", node.home), ADNET_EXIT_SYSTEM);
    ck_assert_msg(strstr(err, "is not running (start it with adnet run"), "%s", err);
    ck_assert_int_eq(ADNET(out, err, "restart", "alpha", "--home", node.home), ADNET_EXIT_SYSTEM);
    ck_assert_ptr_nonnull(strstr(err, "is not running"));

    /* A supervisor killed with SIGKILL leaves its socket: still "not running", at once. */
    const char *args[] = { FAST, NULL };
    ck_assert_int_eq(node_start(&node, args, NULL), 0);
    ck_assert(node_wait_running(&node, "alpha", 15000));
    ck_assert_int_eq(node_stop(&node, SIGKILL, 5000), 128 + SIGKILL);
    double t0 = now_ms();
    ck_assert_int_eq(ADNET(out, err, "stop", "--home", node.home), 0);
    ck_assert_msg(strstr(out, "is not running"), "%s%s", out, err);
    ck_assert_msg(now_ms() - t0 < 2000, "stop took %.0f ms on a dead node", now_ms() - t0);
}
END_TEST

START_TEST(restart_returns_once_the_worker_runs)
{
    char out[4096], err[4096];
    const char *args[] = { FAST, NULL };
    ck_assert_int_eq(node_start(&node, args, NULL), 0);
    ck_assert(node_wait_running(&node, "alpha", 15000));
    ck_assert(node_wait_running(&node, "delta", 15000));
    for (int i = 0; i < 2; i++) {
        const char *name = i ? "delta" : "alpha";
        pid_t old = node_worker_pid(&node, name);
        ck_assert_int_eq(ADNET(out, err, "restart", name, "--home", node.home), 0);
        /* Right after it returns: a new process, running. */
        pid_t now = node_worker_pid(&node, name);
        ck_assert_msg(now > 0 && now != old && node_worker_state_is(&node, name, "running"),
                      "restart %s returned before the new worker ran", name);
        char want[64];
        snprintf(want, sizeof(want), "%s is running (pid %ld, height ", name, (long)now);
        ck_assert_msg(strstr(out, want), "%s", out);
    }
    /* --no-wait: it returns with the request taken, not the worker up. */
    ck_assert_int_eq(ADNET(out, err, "restart", "delta", "--no-wait", "--home", node.home), 0);
    ck_assert_str_eq(out, "restarting delta\n");
    ck_assert(node_wait_running(&node, "delta", 15000));
    ck_assert_int_eq(ADNET(out, err, "restart", "gamma", "--home", node.home), ADNET_EXIT_CONFIG);
    ck_assert_ptr_nonnull(strstr(err, "unknown worker: expected alpha or delta"));
    ck_assert_int_eq(ADNET(out, err, "restart", "--home", node.home), ADNET_EXIT_CONFIG);
    ck_assert_ptr_nonnull(strstr(err, "name the worker"));
    /* stop waits for the end; a second stop finds nothing running. */
    ck_assert_int_eq(ADNET(out, err, "stop", "--home", node.home), 0);
    ck_assert_ptr_nonnull(strstr(out, "stopped"));
    ck_assert_int_eq(node_wait_exit(&node, 10000) >= 0, 1);
    ck_assert_int_eq(ADNET(out, err, "stop", "--home", node.home), 0);
    ck_assert_ptr_nonnull(strstr(out, "is not running"));
}
END_TEST

/* The node's log, kept until the next call. */
static char *read_log(void)
{
    static char *last;
    free(last);
    return last = file_read(node.log, NULL);
}

START_TEST(listen_errors_name_their_key)
{
    /* Someone else holds alpha's port. */
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)node.api_port[0]),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    ck_assert_int_ge(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(fd, 1), 0);
    const char *args[] = { FAST, NULL };
    ck_assert_int_eq(node_start(&node, args, NULL), 0);
    int st = node_wait_exit(&node, 20000);
    close(fd);
    ck_assert(st >= 0 && WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), ADNET_EXIT_CONFIG);
    char want[160];
    snprintf(want, sizeof(want), "event=api_failed key=alpha.api.listen listen=127.0.0.1:%d "
             "reason=\"listen on 127.0.0.1:%d: Address already in use\"", node.api_port[0],
             node.api_port[0]);
    ck_assert_msg(strstr(read_log(), want), "no `%s` in %s", want, node.log);

    /* Port 0 is refused before anything starts, naming the key (docs/api.md). */
    char out[4096], err[4096];
    ck_assert_int_eq(ADNET(out, err, "run", "--home", node.home, "--set",
                           "delta.api.listen=127.0.0.1:0"), ADNET_EXIT_CONFIG);
    ck_assert_msg(strstr(err, "--set delta.api.listen: expected host:port with a port from 1 to "
                              "65535, got \"127.0.0.1:0\""), "%s", err);
}
END_TEST

/* scripts/dev with args; stdout and stderr into out/err. */
static int dev(char *out, char *err, size_t cap, const char *arg)
{
    const char *src = getenv("ADNET_SOURCE_DIR");
    char path[PATH_MAX];
    ck_assert_ptr_nonnull(src);
    snprintf(path, sizeof(path), "%s/scripts/dev", src);
    const char *argv[] = { path, arg, NULL };
    return run_prog(argv, out, err, cap);
}

START_TEST(scripts_dev_usage_and_benchmark_list)
{
    char out[4096], err[4096];
    /* No command: the usage, and nothing after it. */
    ck_assert_int_eq(dev(out, err, sizeof(out), NULL), 2);
    ck_assert_msg(strncmp(err, "Developer entry point.", 22) == 0, "%s", err);
    ck_assert_ptr_nonnull(strstr(err, "./scripts/dev bench NAME"));
    ck_assert_msg(!strstr(err, "set -e") && !strstr(err, "root="), "usage runs on:\n%s", err);
    size_t len = strlen(err);
    ck_assert_msg(len > 2 && strcmp(err + len - 2, ".\n") == 0, "usage ends oddly:\n%s", err);
    /* bench without a name: the benchmarks, from tests/bench. */
    ck_assert_int_eq(dev(out, err, sizeof(out), "bench"), 2);
    ck_assert_msg(strstr(err, "benchmarks: ipc restart state tx"), "%s", err);
}
END_TEST

/* The --json output of a CLI command, parsed; exit code in *rc. */
static json_t *cli_json(int *rc, const char *const *args)
{
    char out[16384], err[4096];
    *rc = adnet(out, err, sizeof(out), args);
    return json_loads(out, 0, NULL);
}

/* docs/cli.md "A second asset on a devnet": init --asset, then the DEX
 * examples as written there. */
START_TEST(second_asset_devnet_recipe)
{
    char out[8192], err[8192], fresh[PATH_MAX + 16];
    int rc;
    /* Bad --asset values are refused before anything is written. */
    static const char *const bad[] = { "usd=5", "USD", "USD=0", "USD=5x", "=5", "ADN=5",
                                       "ABCDEFGHIJKLMNOPQ=5", "USD=9223372036854775808" };
    snprintf(fresh, sizeof(fresh), "%s/new", scratch);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(ADNET(out, err, "init", "--home", fresh, "--asset", bad[i]),
                         ADNET_EXIT_CONFIG);
        ck_assert_msg(strstr(err, "--asset"), "%s: %s", bad[i], err);
        ck_assert_msg(access(fresh, F_OK) != 0, "--asset %s left %s behind", bad[i], fresh);
    }
    ck_assert_int_eq(ADNET(out, err, "init", "--home", fresh, "--asset", "USD=1", "--asset",
                           "USD=2"), ADNET_EXIT_CONFIG);
    ck_assert_ptr_nonnull(strstr(err, "already"));
    char list[PATH_MAX + 32];
    snprintf(list, sizeof(list), "%s/b.jsonl", scratch);
    file_write(list, "");
    ck_assert_int_eq(ADNET(out, err, "init", "--home", fresh, "--asset", "USD=1", "--balances",
                           list), ADNET_EXIT_CONFIG);
    ck_assert_ptr_nonnull(strstr(err, "do not mix"));
    ck_assert(access(fresh, F_OK) != 0);

    /* The recipe. */
    ck_assert_int_eq(ADNET(out, err, "init", "--home", node.home, "--force", "--asset",
                           "USD=1000000"), 0);
    const char *args[] = { FAST, NULL };
    ck_assert_int_eq(node_start(&node, args, NULL), 0);
    ck_assert(node_wait_running(&node, "delta", 15000));
    json_t *a = cli_json(&rc, (const char *const[]){ "query", "balance", "validator", "--home",
                                                     node.home, "--json", NULL });
    ck_assert_int_eq(rc, 0);
    json_t *bal = json_object_get(a, "balances");
    ck_assert_int_eq(json_integer_value(json_object_get(bal, "USD")), 1000000);
    ck_assert_int_eq(json_integer_value(json_object_get(bal, "ADN")), 1000000000000LL);
    json_decref(a);
    /* Alpha moves only its fee asset: no USD there. */
    a = cli_json(&rc, (const char *const[]){ "query", "supply", "--chain", "alpha", "--home",
                                             node.home, "--json", NULL });
    ck_assert_int_eq(rc, 0);
    char *text = json_dumps(a, 0);
    ck_assert_msg(!strstr(text, "USD"), "alpha has USD: %s", text);
    free(text);
    json_decref(a);
    ck_assert_int_eq(ADNET(out, err, "tx", "pool-create", "--asset-a", "ADN", "--amount-a",
                           "100000", "--asset-b", "USD", "--amount-b", "400000", "--home",
                           node.home), 0);
    ck_assert_msg(ADNET(out, err, "tx", "swap", "--pay", "ADN", "--amount", "1000", "--receive",
                        "USD", "--min-out", "3900", "--home", node.home) == 0, "swap: %s", err);
    a = cli_json(&rc, (const char *const[]){ "query", "pool", "ADN", "USD", "--home", node.home,
                                             "--json", NULL });
    ck_assert_int_eq(rc, 0);
    text = json_dumps(a, JSON_COMPACT);
    ck_assert_msg(strstr(text, "\"reserve_a\":101000") && strstr(text, "\"reserve_b\":396052"),
                  "pool after the swap (docs/cli.md says 101000 / 396052): %s", text);
    free(text);
    json_decref(a);
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
}
END_TEST

/* The ADN balances of <home>/<chain>/genesis.json, summed here, apart
 * from the code under test. */
static long long genesis_adn(const char *chain)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/%s/genesis.json", node.home, chain);
    json_t *g = json_load_file(path, 0, NULL);
    ck_assert_ptr_nonnull(g);
    long long sum = 0;
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(g, "balances"), i, b) {
        if (strcmp(json_string_value(json_object_get(b, "asset")), "ADN") == 0)
            sum += json_integer_value(json_object_get(b, "amount"));
    }
    json_decref(g);
    return sum;
}

/* Add one to the first genesis balance of <home>/alpha/genesis.json. */
static void alpha_genesis_add_one(void)
{
    char path[PATH_MAX + 32], tail[32];
    snprintf(path, sizeof(path), "%s/alpha/genesis.json", node.home);
    /* The first amount of the balances (the genesis programs name "amount" fields too). */
    char *text = file_read(path, NULL), *bal = strstr(text, "\"balances\": ");
    char *at = bal ? strstr(bal, "\"amount\": ") : NULL;
    ck_assert_ptr_nonnull(at);
    at += strlen("\"amount\": ");
    long long amount = atoll(at);
    snprintf(tail, sizeof(tail), "%lld", amount);
    size_t cap = strlen(text) + 32;
    char *fixed = malloc(cap);
    ck_assert_ptr_nonnull(fixed);
    snprintf(fixed, cap, "%.*s%lld%s", (int)(at - text), text, amount + 1, at + strlen(tail));
    file_write(path, fixed);
    free(fixed);
    free(text);
}

START_TEST(supply_holds_on_a_fresh_devnet)
{
    char out[8192], err[8192];
    int rc;
    /* Not a node home, and a node home whose node is not running. */
    ck_assert_int_eq(ADNET(out, err, "supply", "--home", scratch), ADNET_EXIT_CONFIG);
    ck_assert_msg(strstr(err, "is not a node home"), "%s", err);
    ck_assert_int_eq(ADNET(out, err, "supply", "--home", node.home), ADNET_EXIT_SYSTEM);
    ck_assert_msg(strstr(err, "adnet supply: alpha unreachable"), "%s", err);
    ck_assert_int_eq(ADNET(out, err, "supply", "--jsno", "--home", node.home), ADNET_EXIT_CONFIG);
    ck_assert_str_eq(err, "adnet supply: unknown option --jsno (did you mean --json?)\n");

    const char *args[] = { FAST, NULL };
    ck_assert_int_eq(node_start(&node, args, NULL), 0);
    ck_assert(node_wait_running(&node, "alpha", 15000));
    ck_assert(node_wait_running(&node, "delta", 15000));
    ck_assert_msg(ADNET(out, err, "supply", "--home", node.home) == 0, "%s%s", out, err);
    ck_assert_msg(strstr(out, "\nADN\n") && strstr(out, "\n  OK\n") &&
                  strstr(out, "holds for every asset"), "%s", out);
    json_t *j = cli_json(&rc, (const char *const[]){ "supply", "--home", node.home, "--json",
                                                     NULL });
    ck_assert_int_eq(rc, 0);
    ck_assert_ptr_nonnull(j);
    ck_assert(json_is_true(json_object_get(j, "holds")));
    ck_assert(json_is_integer(json_object_get(j, "alpha_height")));
    ck_assert(json_is_integer(json_object_get(j, "delta_height")));
    json_t *adn = json_object_get(json_object_get(j, "assets"), "ADN");
    long long want = genesis_adn("alpha") + genesis_adn("delta");
    ck_assert_int_gt(want, 0);
    ck_assert(json_is_true(json_object_get(adn, "holds")));
    ck_assert_int_eq(json_integer_value(json_object_get(adn, "genesis_total")), want);
    ck_assert_int_eq(json_integer_value(json_object_get(adn, "alpha_supply")) +
                     json_integer_value(json_object_get(adn, "delta_supply")), want);
    ck_assert_int_eq(json_integer_value(json_object_get(adn, "in_flight_alpha_to_delta")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(adn, "in_flight_delta_to_alpha")), 0);
    json_decref(j);

    /* A genesis that says one ADN more than the chains hold: a mismatch, exit 1. */
    alpha_genesis_add_one();
    ck_assert_int_eq(ADNET(out, err, "supply", "--home", node.home), 1);
    ck_assert_msg(strstr(out, "MISMATCH: sum - genesis total = -1") &&
                  strstr(out, "DOES NOT HOLD"), "%s", out);
    j = cli_json(&rc, (const char *const[]){ "supply", "--home", node.home, "--json", NULL });
    ck_assert_int_eq(rc, 1);
    ck_assert(json_is_false(json_object_get(j, "holds")));
    json_decref(j);
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
}
END_TEST

START_TEST(bridge_option_errors)
{
    static const struct {
        const char *from, *to, *msg;
    } cases[] = {
        { "alpha", "alpha", "adnet tx: --from-chain and --to-chain are both alpha: a bridge "
                            "moves value to the other chain\n" },
        { "delta", "delta", "adnet tx: --from-chain and --to-chain are both delta" },
        { "alpah", "delta", "adnet tx: --from-chain: unknown chain \"alpah\" (did you mean "
                            "alpha?)\n" },
        { "alpha", "gamma", "adnet tx: --to-chain: unknown chain \"gamma\" (expected alpha or "
                            "delta)\n" },
    };
    char out[4096], err[4096];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = ADNET(out, err, "tx", "bridge", "--from-chain", cases[i].from, "--to-chain",
                       cases[i].to, "--to", "validator", "--amount", "5", "--home", node.home);
        ck_assert_msg(rc == ADNET_EXIT_CONFIG, "%s -> %s exited %d", cases[i].from, cases[i].to,
                      rc);
        ck_assert_msg(strncmp(err, cases[i].msg, strlen(cases[i].msg)) == 0, "%s", err);
    }
    ck_assert_int_eq(ADNET(out, err, "tx", "bridge", "--from-chain", "alpha", "--to-chain",
                           "delta", "--amount", "5", "--home", node.home), ADNET_EXIT_CONFIG);
    ck_assert_str_eq(err, "adnet tx: bridge needs --to\n");
    ck_assert_int_eq(ADNET(out, err, "tx", "bridge", "--from-chain", "delta", "--to-chain",
                           "alpha", "--to", "validator", "--home", node.home), ADNET_EXIT_CONFIG);
    ck_assert_str_eq(err, "adnet tx: bridge needs --amount\n");
    ck_assert_int_eq(ADNET(out, err, "tx", "bridge", "--to-chain", "alpha", "--to", "validator",
                           "--amount", "5", "--home", node.home), ADNET_EXIT_CONFIG);
    ck_assert_str_eq(err, "adnet tx: bridge needs --from-chain\n");
    ck_assert_int_eq(ADNET(out, err, "tx", "bridge", "--from-chian", "alpha", "--home",
                           node.home), ADNET_EXIT_CONFIG);
    ck_assert_msg(strstr(err, "unknown option --from-chian (did you mean --from-chain?)"), "%s",
                  err);
    ck_assert_int_eq(ADNET(out, err, "tx", "--help"), 0);
    ck_assert_msg(strstr(out, "  bridge   --from-chain alpha|delta --to-chain delta|alpha"),
                  "%s", out);
}
END_TEST

/* Submit `adnet tx bridge` from chain `from` without waiting, then wait
 * for it to commit there; return the source chain's /supply afterwards. */
static json_t *bridge_and_commit(const char *from, const char *to, const char *amount)
{
    char out[8192], err[8192], id[65];
    int rc;
    json_t *j = cli_json(&rc, (const char *const[]){ "tx", "bridge", "--from-chain", from,
                                                     "--to-chain", to, "--to", "validator",
                                                     "--amount", amount, "--no-wait", "--json",
                                                     "--home", node.home, NULL });
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "pending");
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(j, "id")));
    ck_assert_int_eq(strlen(id), 64);
    json_decref(j);
    double t0 = now_ms();
    while (ADNET(out, err, "query", "tx", id, "--chain", from, "--home", node.home) != 0) {
        ck_assert_msg(now_ms() - t0 < 15000, "%s not committed on %s: %s", id, from, err);
        usleep(50 * 1000);
    }
    ck_assert_msg(strstr(out, "status: committed"), "%s", out);
    ck_assert_msg(strstr(out, strcmp(from, "alpha") == 0 ? "kind: burn" : "kind: bridge_out"),
                  "%s", out);
    j = cli_json(&rc, (const char *const[]){ "query", "supply", "--chain", from, "--home",
                                             node.home, "--json", NULL });
    ck_assert_int_eq(rc, 0);
    return j;
}

static void start_both(void)
{
    const char *args[] = { FAST, NULL };
    ck_assert_int_eq(node_start(&node, args, NULL), 0);
    ck_assert(node_wait_running(&node, "alpha", 15000));
    ck_assert(node_wait_running(&node, "delta", 15000));
}

/* Alpha -> delta is a burn committed on alpha; that delta credits it is
 * the bridge's end-to-end test (test_bridge.c), not asserted here. */
START_TEST(bridge_alpha_to_delta_is_a_burn_on_alpha)
{
    start_both();
    json_t *a = bridge_and_commit("alpha", "delta", "1000");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(a, "burned"), "ADN")),
                     1000);
    json_decref(a);
}
END_TEST

/* Delta -> alpha is a bridge_out committed on delta. */
START_TEST(bridge_delta_to_alpha_is_a_bridge_out_on_delta)
{
    start_both();
    json_t *d = bridge_and_commit("delta", "alpha", "700");
    json_t *adn = json_object_get(json_object_get(d, "supply"), "ADN");
    ck_assert_int_eq(json_integer_value(json_object_get(adn, "bridged_out")), 700);
    json_decref(d);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = { "cli", "operator", 120, setup, teardown };
    return suite_build(&spec, SUITE_TESTS(every_verb_answers_help_with_its_own_usage,
                                          unknown_options_name_the_closest_known_one,
                                          homes_that_are_not_node_homes_or_not_running,
                                          restart_returns_once_the_worker_runs,
                                          listen_errors_name_their_key,
                                          scripts_dev_usage_and_benchmark_list,
                                          second_asset_devnet_recipe,
                                          supply_holds_on_a_fresh_devnet,
                                          bridge_option_errors,
                                          bridge_alpha_to_delta_is_a_burn_on_alpha,
                                          bridge_delta_to_alpha_is_a_bridge_out_on_delta));
}
