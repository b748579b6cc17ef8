/* adnet: the operator's command line and the supervisor (`adnet run`). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adnet_build.h"
#include "common/base/config.h"
#include "common/base/exitcode.h"
#include "common/base/fsutil.h"
#include "common/base/log.h"
#include "proto/block.h"
#include "supervisor/cli.h"
#include "supervisor/node_chains.h"
#include "supervisor/supervisor.h"

#define MAX_SETS 64
#define PROTOCOL_VERSION_MIN 1
#define PROTOCOL_VERSION_MAX 1

static void usage(FILE *f)
{
    fprintf(f,
        "usage: adnet COMMAND [OPTIONS]\n"
        "\n"
        "Commands:\n"
        "  init     --home DIR [--force] [--balances FILE.jsonl]\n"
        "                                         create a node home (config, key, genesis);\n"
        "                                         --balances: genesis balances from FILE, one\n"
        "                                         {\"owner\",\"asset\",\"amount\"} a line\n"
        "  run      --home DIR [--only alpha|delta] [--log-level L] [--set KEY=VALUE]...\n"
        "                                         run the supervisor and the chain workers\n"
        "  status   --home DIR [--json]           show each worker's state and height\n"
        "  restart  alpha|delta --home DIR        restart one worker on purpose\n"
        "  stop     --home DIR [--no-wait]        stop a running node (delta, then alpha)\n"
        "  config   --home DIR [--json] [--set KEY=VALUE]...\n"
        "                                         print the effective configuration and sources\n"
        "  version  [--json]                      print version, commit, network, protocols\n"
        "  keys     new|show|list ...             manage keys (adnet keys --help)\n"
        "  tx       KIND ...                      sign and submit a transaction (adnet tx --help)\n"
        "  query    WHAT ...                      read balances, records, pools, blocks\n"
        "  verify-proof FILE|-                    check a Merkle proof offline\n"
        "  verify-ledger --home DIR --chain C     rebuild a chain's state and compare (O(state))\n"
        "\n"
        "--home defaults to $ADNET_HOME. Exit codes: 0 ok, 100 configuration or usage\n"
        "error, 101 ledger refused, 111 system error, 112 upgrade needed, 113 a worker\n"
        "failed (crash loop). See docs/operations.md.\n");
}

typedef struct {
    const char *home;
    char home_abs[PATH_MAX];
    const char *only;
    const char *log_level;
    const char *balances;     /* init --balances FILE */
    bool json, force, no_wait;
    config_flag_t sets[MAX_SETS];
    char *set_args[MAX_SETS]; /* the raw --set arguments, passed on to workers */
    size_t nsets;
    const char *positional;
} args_t;

static int parse_args(int argc, char **argv, args_t *a)
{
    static const struct option opts[] = {
        { "home", required_argument, NULL, 'H' },  { "only", required_argument, NULL, 'o' },
        { "log-level", required_argument, NULL, 'l' }, { "set", required_argument, NULL, 's' },
        { "json", no_argument, NULL, 'j' },        { "force", no_argument, NULL, 'f' },
        { "no-wait", no_argument, NULL, 'W' },     { "help", no_argument, NULL, 'h' },
        { "balances", required_argument, NULL, 'b' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'H': a->home = optarg; break;
        case 'o': a->only = optarg; break; /* checked against the chains in cmd_run */
        case 'b': a->balances = optarg; break;
        case 'l': {
            log_level_t lvl;
            if (log_level_parse(optarg, &lvl) < 0) {
                fprintf(stderr, "adnet: --log-level: expected debug, info, warn or error\n");
                return -EINVAL;
            }
            a->log_level = optarg;
            break;
        }
        case 's': {
            if (a->nsets == MAX_SETS) {
                fprintf(stderr, "adnet: --set: at most %d overrides\n", MAX_SETS);
                return -EINVAL;
            }
            char *copy = strdup(optarg);
            a->set_args[a->nsets] = strdup(optarg);
            if (!copy || !a->set_args[a->nsets] ||
                config_flag_parse(copy, &a->sets[a->nsets]) < 0) {
                fprintf(stderr, "adnet: --set: expected KEY=VALUE, got \"%s\"\n", optarg);
                return -EINVAL;
            }
            a->nsets++;
            break;
        }
        case 'j': a->json = true; break;
        case 'f': a->force = true; break;
        case 'W': a->no_wait = true; break;
        case 'h': usage(stdout); exit(0);
        default: return -EINVAL;
        }
    }
    if (optind < argc)
        a->positional = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "adnet: unexpected argument \"%s\"\n", argv[optind]);
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
        fprintf(stderr, "adnet: no node home: pass --home DIR or set ADNET_HOME\n");
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
    fprintf(stderr, "adnet: %s: %s%s\n", a->home, strerror(errno),
            errno == ENOENT ? " (create it with adnet init --home DIR)" : "");
    return -EINVAL;
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
        fprintf(stderr, "adnet: %s\n", err);
        return -EINVAL;
    }
    return 0;
}

static int cmd_run(args_t *a)
{
    config_t cfg;
    char *worker_args[2 * MAX_SETS + 3];
    size_t n = 0;
    if (resolve_home(a, false) < 0 || load_config(a, &cfg, NULL) < 0)
        return ADNET_EXIT_CONFIG;
    if (a->only && !config_chain(&cfg, a->only)) {
        fprintf(stderr, "adnet: --only: expected one of");
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
    worker_args[n] = NULL;
    sup_options_t opt = { .home = a->home_abs, .only = a->only, .cfg = &cfg,
                          .worker_args = worker_args };
    return sup_run(&opt);
}

static int cmd_config(args_t *a)
{
    config_t cfg;
    config_sources_t *src = NULL;
    if (resolve_home(a, false) < 0 || load_config(a, &cfg, &src) < 0)
        return ADNET_EXIT_CONFIG;
    config_print(stdout, &cfg, src, a->json);
    config_sources_free(src);
    return ADNET_EXIT_OK;
}

static int cmd_version(const args_t *a)
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

int main(int argc, char **argv)
{
    args_t a;
    memset(&a, 0, sizeof(a));
    if (argc < 2) {
        usage(stderr);
        return ADNET_EXIT_CONFIG;
    }
    const char *verb = argv[1];
    if (strcmp(verb, "help") == 0 || strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(verb, "--version") == 0)
        verb = "version";
    static const struct {
        const char *verb;
        int (*fn)(int, char **);
    } own_args[] = {
        { "keys", cmd_keys }, { "tx", cmd_tx }, { "query", cmd_query },
        { "verify-proof", cmd_verify_proof }, { "verify-ledger", cmd_verify_ledger },
    };
    for (size_t i = 0; i < sizeof(own_args) / sizeof(own_args[0]); i++)
        if (strcmp(verb, own_args[i].verb) == 0)
            return own_args[i].fn(argc - 1, argv + 1);
    if (parse_args(argc - 1, argv + 1, &a) < 0)
        return ADNET_EXIT_CONFIG;
    int rc;
    if (a.balances && strcmp(verb, "init") != 0) {
        fprintf(stderr, "adnet: --balances: only adnet init takes it\n");
        rc = ADNET_EXIT_CONFIG;
    } else if (strcmp(verb, "version") == 0)
        rc = cmd_version(&a);
    else if (strcmp(verb, "init") == 0)
        rc = resolve_home(&a, true) < 0 ? ADNET_EXIT_CONFIG
                                         : cmd_init(a.home_abs, a.force, a.balances);
    else if (strcmp(verb, "run") == 0)
        rc = cmd_run(&a);
    else if (strcmp(verb, "config") == 0)
        rc = cmd_config(&a);
    else if (strcmp(verb, "status") == 0)
        rc = resolve_home(&a, false) < 0 ? ADNET_EXIT_CONFIG : cmd_status(a.home_abs, a.json);
    else if (strcmp(verb, "stop") == 0)
        rc = resolve_home(&a, false) < 0 ? ADNET_EXIT_CONFIG : cmd_stop(a.home_abs, !a.no_wait);
    else if (strcmp(verb, "restart") == 0) {
        if (!a.positional) {
            fprintf(stderr, "adnet restart: name the worker: alpha or delta\n");
            rc = ADNET_EXIT_CONFIG;
        } else {
            rc = resolve_home(&a, false) < 0 ? ADNET_EXIT_CONFIG
                                              : cmd_restart(a.home_abs, a.positional);
        }
    } else {
        fprintf(stderr, "adnet: unknown command \"%s\"\n\n", verb);
        usage(stderr);
        rc = ADNET_EXIT_CONFIG;
    }
    for (size_t i = 0; i < a.nsets; i++) {
        free(a.set_args[i]);
        free((char *)a.sets[i].key);
    }
    return rc;
}
