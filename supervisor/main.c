/* adnet: the operator's command line and the supervisor (`adnet run`). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adnet_build.h"
#include "common/base/config.h"
#include "common/base/exitcode.h"
#include "common/base/fsutil.h"
#include "common/base/log.h"
#include "common/store/genesis.h"
#include "proto/block.h"
#include "supervisor/cli.h"
#include "supervisor/cliopt.h"
#include "supervisor/node_chains.h"
#include "supervisor/supervisor.h"

#define MAX_SETS 64
#define PROTOCOL_VERSION_MIN 1
#define PROTOCOL_VERSION_MAX 1

static void usage(FILE *f)
{
    fprintf(f,
        "usage: adnet COMMAND [OPTIONS]      (adnet COMMAND --help: that command's usage)\n"
        "\n"
        "Commands:\n"
        "  init     --home DIR [--force] [--balances FILE.jsonl] [--asset SYMBOL=AMOUNT]...\n"
        "           [--governors N]               create a node home (config, key, genesis)\n"
        "  run      --home DIR [--only alpha|delta] [--log-level L] [--set KEY=VALUE]...\n"
        "           [--allow-resign]              run the supervisor and the chain workers\n"
        "  status   --home DIR [--json]           show each worker's state and height\n"
        "  restart  alpha|delta --home DIR [--no-wait]\n"
        "                                         restart one worker on purpose\n"
        "  stop     --home DIR [--no-wait]        stop a running node (delta, then alpha)\n"
        "  config   --home DIR [--json] [--set KEY=VALUE]...\n"
        "                                         print the effective configuration and sources\n"
        "  version  [--json]                      print version, commit, network, protocols\n"
        "  keys     new|show|list|export|import   manage keys (adnet keys --help)\n"
        "  tx       KIND ...                      sign and submit a transaction (adnet tx --help)\n"
        "  query    WHAT ...                      read balances, records, pools, blocks\n"
        "  supply   --home DIR [--json]           check supply is conserved across the bridge\n"
        "  gov      VERB ...                      governance: propose, sign, attest, vote,\n"
        "                                         shadow, show, list, apply (adnet gov --help)\n"
        "  genesis  sign|verify --home DIR --chain C [--key NAME]\n"
        "                                         governors sign a genesis; check the signatures\n"
        "  verify-proof FILE|-                    check a Merkle proof offline\n"
        "  verify-ledger --home DIR --chain C     rebuild a chain's state and compare (O(state))\n"
        "  backup   --home DIR --out PATH [--with-keys]\n"
        "                                         copy the ledgers while the node runs\n"
        "  restore  --home DIR PATH               put a backup's ledgers into a stopped home\n"
        "\n"
        "--home defaults to $ADNET_HOME. Exit codes: 0 ok, 100 configuration or usage\n"
        "error, 101 ledger refused, 111 system error, 112 upgrade needed, 113 every\n"
        "worker failed (crash loops). See docs/operations.md.\n");
}

/* The options of the verbs below; each verb takes those of its mask, and
 * --help. */
enum {
    OPT_HOME = 1u << 0, OPT_ONLY = 1u << 1, OPT_LOG = 1u << 2, OPT_SET = 1u << 3,
    OPT_JSON = 1u << 4, OPT_FORCE = 1u << 5, OPT_NO_WAIT = 1u << 6, OPT_BALANCES = 1u << 7,
    OPT_ASSET = 1u << 8, OPT_ALLOW_RESIGN = 1u << 9, OPT_GOVERNORS = 1u << 10,
};

static const struct {
    struct option o;
    unsigned bit; /* 0: every verb */
} all_opts[] = {
    { { "home", required_argument, NULL, 'H' }, OPT_HOME },
    { { "only", required_argument, NULL, 'o' }, OPT_ONLY },
    { { "log-level", required_argument, NULL, 'l' }, OPT_LOG },
    { { "set", required_argument, NULL, 's' }, OPT_SET },
    { { "json", no_argument, NULL, 'j' }, OPT_JSON },
    { { "force", no_argument, NULL, 'f' }, OPT_FORCE },
    { { "no-wait", no_argument, NULL, 'W' }, OPT_NO_WAIT },
    { { "balances", required_argument, NULL, 'b' }, OPT_BALANCES },
    { { "asset", required_argument, NULL, 'a' }, OPT_ASSET },
    { { "allow-resign", no_argument, NULL, 'R' }, OPT_ALLOW_RESIGN },
    { { "governors", required_argument, NULL, 'g' }, OPT_GOVERNORS },
    { { "help", no_argument, NULL, 'h' }, 0 },
};
#define N_OPTS (sizeof(all_opts) / sizeof(all_opts[0]))

typedef struct {
    const char *verb;
    const char *home;
    char home_abs[PATH_MAX];
    const char *only;
    const char *log_level;
    bool json, no_wait;
    bool allow_resign;   /* run: let workers adopt a ledger behind their record (devnet) */
    init_opts_t init;
    config_flag_t sets[MAX_SETS];
    char *set_args[MAX_SETS]; /* the raw --set arguments, passed on to workers */
    size_t nsets;
    const char *positional;
} args_t;

typedef struct {
    const char *name;
    unsigned opts;       /* OPT_* it takes */
    bool operand;        /* takes one operand (restart's worker) */
    int (*run)(args_t *a);
    const char *usage;   /* its own usage, printed by --help */
} verb_t;

static int parse_set(args_t *a, const char *arg)
{
    if (a->nsets == MAX_SETS) {
        fprintf(stderr, "adnet %s: --set: at most %d overrides\n", a->verb, MAX_SETS);
        return -EINVAL;
    }
    char *copy = strdup(arg);
    a->set_args[a->nsets] = strdup(arg);
    if (!copy || !a->set_args[a->nsets] || config_flag_parse(copy, &a->sets[a->nsets]) < 0) {
        free(copy);
        fprintf(stderr, "adnet %s: --set: expected KEY=VALUE, got \"%s\"\n", a->verb, arg);
        return -EINVAL;
    }
    a->nsets++;
    return 0;
}

/* Take option c with value optarg into a. Return 0, or -EINVAL once the
 * mistake is printed. */
static int take_option(args_t *a, int c)
{
    log_level_t lvl;
    uint64_t n;
    switch (c) {
    case 'H': a->home = optarg; return 0;
    case 'o': a->only = optarg; return 0; /* checked against the chains in cmd_run */
    case 'b': a->init.balances = optarg; return 0;
    case 'j': a->json = true; return 0;
    case 'f': a->init.force = true; return 0;
    case 'W': a->no_wait = true; return 0;
    case 'R': a->allow_resign = true; return 0;
    case 's': return parse_set(a, optarg);
    case 'l':
        if (log_level_parse(optarg, &lvl) < 0) {
            fprintf(stderr, "adnet %s: --log-level: expected debug, info, warn or error, got "
                    "\"%s\"\n", a->verb, optarg);
            return -EINVAL;
        }
        a->log_level = optarg;
        return 0;
    case 'g':
        if (cliopt_parse_u64(optarg, &n) < 0 || n < 1 || n > GENESIS_MAX_GOVERNORS) {
            fprintf(stderr, "adnet %s: --governors: expected 1..%d governor keys, got \"%s\"\n",
                    a->verb, GENESIS_MAX_GOVERNORS, optarg);
            return -EINVAL;
        }
        a->init.governors = (size_t)n;
        return 0;
    case 'a':
        if (a->init.nassets == INIT_ASSETS_MAX) {
            fprintf(stderr, "adnet %s: --asset: at most %d\n", a->verb, INIT_ASSETS_MAX);
            return -EINVAL;
        }
        a->init.assets[a->init.nassets++] = optarg;
        return 0;
    default:
        return -EINVAL;
    }
}

/* Parse argv (argv[0] is the verb) with v's options into a. Return 0, 1
 * if --help was answered, or -EINVAL once the mistake is printed. */
static int parse_args(const verb_t *v, int argc, char **argv, args_t *a)
{
    struct option opts[N_OPTS + 1];
    size_t n = 0;
    int c;
    for (size_t i = 0; i < N_OPTS; i++)
        if (!all_opts[i].bit || (v->opts & all_opts[i].bit))
            opts[n++] = all_opts[i].o;
    memset(&opts[n], 0, sizeof(opts[n]));
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(v->usage, stdout);
            return 1;
        }
        if (c == '?' || c == ':') {
            cliopt_fail(v->name, opts, c, argv);
            return -EINVAL;
        }
        if (take_option(a, c) < 0)
            return -EINVAL;
    }
    if (optind < argc && v->operand)
        a->positional = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "adnet %s: unexpected argument \"%s\" (see adnet %s --help)\n", v->name,
                argv[optind], v->name);
        return -EINVAL;
    }
    if (!a->home)
        a->home = getenv("ADNET_HOME");
    return 0;
}

/* Resolve home to an absolute path (it must exist unless may_be_new). */
static int resolve_home(args_t *a, bool may_be_new)
{
    if (!a->home || !*a->home) {
        fprintf(stderr, "adnet %s: no node home: pass --home DIR or set ADNET_HOME\n", a->verb);
        return -EINVAL;
    }
    if (realpath(a->home, a->home_abs))
        return 0;
    if (may_be_new && errno == ENOENT) {
        if (a->home[0] == '/')
            return fs_path(a->home_abs, sizeof(a->home_abs), "%s", a->home);
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof(cwd)) &&
            fs_path(a->home_abs, sizeof(a->home_abs), "%s/%s", cwd, a->home) == 0)
            return 0;
    }
    fprintf(stderr, "adnet %s: %s: %s%s\n", a->verb, a->home, strerror(errno),
            errno == ENOENT ? " (create it with adnet init --home DIR)" : "");
    return -EINVAL;
}

/* Resolve home, which must be a node home: a directory with adnet.yaml. */
static int resolve_node_home(args_t *a)
{
    char path[PATH_MAX];
    struct stat st;
    if (resolve_home(a, false) < 0)
        return -EINVAL;
    if (stat(a->home_abs, &st) == 0 && !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "adnet %s: %s is not a directory, so not a node home\n", a->verb,
                a->home_abs);
        return -EINVAL;
    }
    if (fs_path(path, sizeof(path), "%s/adnet.yaml", a->home_abs) < 0 || !fs_exists(path)) {
        fprintf(stderr, "adnet %s: %s is not a node home (it has no adnet.yaml); make one with "
                "adnet init --home %s\n", a->verb, a->home_abs, a->home);
        return -EINVAL;
    }
    return 0;
}

/* Load the effective configuration of home with the given overrides. */
static int load_config(args_t *a, config_t *cfg, config_sources_t **src)
{
    char path[PATH_MAX], err[CONFIG_ERR_MAX];
    config_flag_t flags[MAX_SETS + 1];
    size_t n = a->nsets;
    memcpy(flags, a->sets, n * sizeof(flags[0]));
    if (a->log_level) {
        flags[n].key = "log.level";
        flags[n++].value = a->log_level;
    }
    if (fs_path(path, sizeof(path), "%s/adnet.yaml", a->home_abs) < 0)
        return -ENAMETOOLONG;
    if (config_load(cfg, src, node_chains, N_NODE_CHAINS, path, true, environ, flags, n,
                    err) < 0) {
        fprintf(stderr, "adnet %s: %s\n", a->verb, err);
        return -EINVAL;
    }
    return 0;
}

static int cmd_run(args_t *a)
{
    config_t cfg;
    char *worker_args[2 * MAX_SETS + 4];
    size_t n = 0;
    if (resolve_node_home(a) < 0 || load_config(a, &cfg, NULL) < 0)
        return ADNET_EXIT_CONFIG;
    if (a->only && !config_chain(&cfg, a->only)) {
        fprintf(stderr, "adnet run: --only: expected one of");
        for (size_t i = 0; i < cfg.n_chains; i++)
            fprintf(stderr, "%s %s", i ? "," : "", cfg.chains[i].name);
        fprintf(stderr, ", got \"%s\"\n", a->only);
        return ADNET_EXIT_CONFIG;
    }
    log_level_t lvl;
    if (log_level_parse(cfg.log_level, &lvl) == 0)
        log_init("supervisor", lvl);
    for (size_t i = 0; i < a->nsets; i++) {
        worker_args[n++] = "--set";
        worker_args[n++] = a->set_args[i];
    }
    if (a->log_level) {
        worker_args[n++] = "--log-level";
        worker_args[n++] = (char *)a->log_level;
    }
    if (a->allow_resign)
        worker_args[n++] = "--allow-resign";
    worker_args[n] = NULL;
    sup_options_t opt = { .home = a->home_abs, .only = a->only, .cfg = &cfg,
                          .worker_args = worker_args };
    return sup_run(&opt);
}

static int cmd_config(args_t *a)
{
    config_t cfg;
    config_sources_t *src = NULL;
    if (resolve_node_home(a) < 0 || load_config(a, &cfg, &src) < 0)
        return ADNET_EXIT_CONFIG;
    config_print(stdout, &cfg, src, a->json);
    config_sources_free(src);
    return ADNET_EXIT_OK;
}

static int cmd_version(args_t *a)
{
    if (a->json) {
        printf("{\"version\":\"%s\",\"commit\":\"%s\",\"network\":\"%s\","
               "\"protocol_versions\":[", ADNET_VERSION, ADNET_GIT_COMMIT, ADNET_NETWORK);
        for (int v = PROTOCOL_VERSION_MIN; v <= PROTOCOL_VERSION_MAX; v++)
            printf("%s%d", v > PROTOCOL_VERSION_MIN ? "," : "", v);
        printf("],\"block_format\":%d}\n", BLOCK_FORMAT_VERSION);
        return 0;
    }
    printf("adnet %s\ncommit:            %s\nnetwork:           %s\n", ADNET_VERSION,
           ADNET_GIT_COMMIT, ADNET_NETWORK);
    printf("protocol versions: %d..%d\nblock format:      %d\n", PROTOCOL_VERSION_MIN,
           PROTOCOL_VERSION_MAX, BLOCK_FORMAT_VERSION);
    return 0;
}

static int run_init(args_t *a)
{
    return resolve_home(a, true) < 0 ? ADNET_EXIT_CONFIG : cmd_init(a->home_abs, &a->init);
}

static int run_status(args_t *a)
{
    return resolve_node_home(a) < 0 ? ADNET_EXIT_CONFIG : cmd_status(a->home_abs, a->json);
}

static int run_stop(args_t *a)
{
    return resolve_node_home(a) < 0 ? ADNET_EXIT_CONFIG : cmd_stop(a->home_abs, !a->no_wait);
}

static int run_restart(args_t *a)
{
    if (!a->positional) {
        fprintf(stderr, "adnet restart: name the worker: alpha or delta (see adnet restart "
                "--help)\n");
        return ADNET_EXIT_CONFIG;
    }
    return resolve_node_home(a) < 0 ? ADNET_EXIT_CONFIG
                                     : cmd_restart(a->home_abs, a->positional, !a->no_wait);
}

static const verb_t verbs[] = {
    { "init", OPT_HOME | OPT_FORCE | OPT_BALANCES | OPT_ASSET | OPT_GOVERNORS, false, run_init,
      "usage: adnet init --home DIR [--force] [--balances FILE.jsonl] [--asset SYMBOL=AMOUNT]...\n"
      "                  [--governors N]\n"
      "\n"
      "Create a node home: adnet.yaml, the validator key (keys/validator.json, mode\n"
      "0600) and both chains' genesis files (delta's names alpha's genesis hash).\n"
      "A key that is there already (adnet keys import validator FILE) is kept; init\n"
      "never writes over a key.\n"
      "  --force           re-initialize a home that has adnet.yaml: the validator key is\n"
      "                    kept byte for byte; the old adnet.yaml, genesis and balances\n"
      "                    files and ledgers are moved aside as NAME.<UTC time>.bak\n"
      "  --balances FILE   both chains' genesis balances from a JSON-lines file, one\n"
      "                    {\"owner\",\"asset\",\"amount\"} a line (the validator's\n"
      "                    10^12 ADN are added)\n"
      "  --asset SYM=N     also give the validator key N of asset SYM on delta, where\n"
      "                    accounts hold and trade any asset (alpha moves only ADN);\n"
      "                    repeatable, e.g. --asset USD=1000000; not with --balances\n"
      "                    (put such lines in the file)\n"
      "  --governors N     make N governor keys, keys/gov1.json .. govN.json (one that\n"
      "                    is there already is kept and used), and list them as both\n"
      "                    chains' governors instead of the validator key (N: 1..128;\n"
      "                    adnet gov --help)\n"
      "Both geneses register the built-in programs (credits, registry, governance).\n"
      "The home must not be in use by a running node. Exit 0, 100 (usage, an existing\n"
      "home without --force, a bad key or balance), 111 (system error).\n" },
    { "run", OPT_HOME | OPT_ONLY | OPT_LOG | OPT_SET | OPT_ALLOW_RESIGN, false, cmd_run,
      "usage: adnet run --home DIR [--only alpha|delta] [--log-level L] [--set KEY=VALUE]...\n"
      "                 [--allow-resign]\n"
      "\n"
      "Run the supervisor and the chain workers in the foreground (under systemd:\n"
      "Type=notify) until SIGTERM, SIGINT or adnet stop. --only runs one chain;\n"
      "--log-level and --set override adnet.yaml and the environment (adnet config)\n"
      "and are passed on to the workers.\n"
      "  --allow-resign    single-validator devnets only: a worker whose ledger is\n"
      "                    behind its last_signed.json (a restored older backup)\n"
      "                    adopts it instead of refusing it (exit 101), logs at warn\n"
      "                    level which heights it may sign again, and rewrites the\n"
      "                    record to the ledger's tip. Never on a shared chain: it\n"
      "                    signs those heights again with other blocks.\n"
      "Exit codes: docs/operations.md.\n" },
    { "status", OPT_HOME | OPT_JSON, false, run_status,
      "usage: adnet status --home DIR [--json]\n"
      "\n"
      "Each worker's state (starting, running, backoff, failed, stopping, stopped),\n"
      "pid, restarts, uptime, height, last block time and last exit; for a failed\n"
      "worker, why and when it is tried again. Exit 0; 100 if DIR is not a node\n"
      "home; 111 if the node is not running.\n" },
    { "restart", OPT_HOME | OPT_NO_WAIT, true, run_restart,
      "usage: adnet restart alpha|delta --home DIR [--no-wait]\n"
      "\n"
      "Restart one worker on purpose (not counted as a crash); a failed one too.\n"
      "Waits until the new worker is running and prints its pid and height;\n"
      "--no-wait returns once the supervisor has taken the request. Exit 0, 100\n"
      "(usage, unknown worker), 111 (node not running, or the worker did not come up).\n" },
    { "stop", OPT_HOME | OPT_NO_WAIT, false, run_stop,
      "usage: adnet stop --home DIR [--no-wait]\n"
      "\n"
      "Stop a running node: delta, then alpha, each SIGTERM then SIGKILL after\n"
      "supervisor.stop_timeout_s. Waits until the supervisor has exited unless\n"
      "--no-wait. A node that is not running is not an error: exit 0, \"not running\".\n" },
    { "config", OPT_HOME | OPT_JSON | OPT_SET | OPT_LOG, false, cmd_config,
      "usage: adnet config --home DIR [--json] [--set KEY=VALUE]... [--log-level L]\n"
      "\n"
      "Print every configuration key's effective value and where it came from\n"
      "(default, file:line, env variable, flag). Keys: docs/configuration.md.\n" },
    { "version", OPT_JSON, false, cmd_version,
      "usage: adnet version [--json]\n"
      "\n"
      "Print the version, git commit, network of the build, protocol versions and\n"
      "block format.\n" },
};

/* Verbs that parse their own arguments (argv[0] is the verb). */
static const struct {
    const char *verb;
    int (*fn)(int, char **);
} own_args[] = {
    { "keys", cmd_keys }, { "tx", cmd_tx }, { "query", cmd_query },
    { "verify-proof", cmd_verify_proof }, { "verify-ledger", cmd_verify_ledger },
    { "backup", cmd_backup }, { "restore", cmd_restore }, { "supply", cmd_supply },
    { "gov", cmd_gov }, { "genesis", cmd_genesis },
};

static const verb_t *find_verb(const char *name)
{
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (strcmp(verbs[i].name, name) == 0)
            return &verbs[i];
    return NULL;
}

/* Run one of own_args if verb names it; with help, its --help. Return its
 * exit code, or -1 if verb is none of them. */
static int run_own_args(const char *verb, int argc, char **argv, bool help)
{
    for (size_t i = 0; i < sizeof(own_args) / sizeof(own_args[0]); i++) {
        if (strcmp(verb, own_args[i].verb) != 0)
            continue;
        char *help_argv[] = { (char *)verb, "--help", NULL };
        return help ? own_args[i].fn(2, help_argv) : own_args[i].fn(argc, argv);
    }
    return -1;
}

/* `adnet help [VERB]`. */
static int cmd_help(int argc, char **argv)
{
    const verb_t *v = argc > 1 ? find_verb(argv[1]) : NULL;
    int rc = argc > 1 && !v ? run_own_args(argv[1], 0, NULL, true) : -1;
    if (rc >= 0)
        return rc;
    if (argc > 1 && !v) {
        fprintf(stderr, "adnet help: unknown command \"%s\"\n\n", argv[1]);
        usage(stderr);
        return ADNET_EXIT_CONFIG;
    }
    if (v)
        fputs(v->usage, stdout);
    else
        usage(stdout);
    return ADNET_EXIT_OK;
}

int main(int argc, char **argv)
{
    args_t a;
    memset(&a, 0, sizeof(a));
    if (argc < 2) {
        usage(stderr);
        return ADNET_EXIT_CONFIG;
    }
    const char *verb = argv[1];
    if (strcmp(verb, "help") == 0 || strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0)
        return cmd_help(argc - 1, argv + 1);
    if (strcmp(verb, "--version") == 0)
        verb = "version";
    int rc = run_own_args(verb, argc - 1, argv + 1, false);
    if (rc >= 0)
        return rc;
    const verb_t *v = find_verb(verb);
    if (!v) {
        fprintf(stderr, "adnet: unknown command \"%s\"\n\n", verb);
        usage(stderr);
        return ADNET_EXIT_CONFIG;
    }
    a.verb = v->name;
    int r = parse_args(v, argc - 1, argv + 1, &a);
    rc = r < 0 ? ADNET_EXIT_CONFIG : r > 0 ? ADNET_EXIT_OK : v->run(&a);
    for (size_t i = 0; i < a.nsets; i++) {
        free(a.set_args[i]);
        free((char *)a.sets[i].key);
    }
    return rc;
}
