#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "adnet_build.h"
#include "common/base/clock.h"
#include "common/base/config.h"
#include "common/base/exitcode.h"
#include "common/base/fsutil.h"
#include "common/base/hex.h"
#include "common/base/keys.h"
#include "common/node/gov/program.h"
#include "common/store/genesis.h"
#include "proto/tx.h"
#include "supervisor/aside.h"
#include "supervisor/cli.h"
#include "supervisor/cliopt.h"
#include "supervisor/homelock.h"
#include "supervisor/node_chains.h"

#define GENESIS_SUPPLY 1000000000000ULL /* per chain, to the validator, on devnet */

/* The governors both geneses list: the validator alone, or --governors N
 * keys gov1..govN of the home. */
typedef struct {
    size_t n;
    uint8_t pk[GENESIS_MAX_GOVERNORS][BLOCK_KEY_LEN];
} init_governors_t;

static int fail(const char *what, const char *path, int r)
{
    fprintf(stderr, "adnet init: %s %s: %s\n", what, path, strerror(-r));
    return -r == EEXIST ? ADNET_EXIT_CONFIG : ADNET_EXIT_SYSTEM;
}

/* --force: move the old configuration, each chain's genesis, balances and
 * ledger (with its WAL) aside. Keys stay where they are. */
static int move_old_home(const char *home, const char *stamp)
{
    static const char *const one[] = { "" }, *const ledger[] = { "", "-wal", "-shm" };
    char dir[PATH_MAX];
    int r = aside_move(home, "adnet.yaml", one, 1, stamp);
    for (size_t i = 0; r == 0 && i < N_NODE_CHAINS; i++) {
        if (fs_path(dir, sizeof(dir), "%s/%s", home, node_chains[i].name) < 0)
            return -ENAMETOOLONG;
        if ((r = aside_move(dir, "genesis.json", one, 1, stamp)) == 0 &&
            (r = aside_move(dir, GENESIS_BALANCES_FILE, one, 1, stamp)) == 0)
            r = aside_move(dir, "ledger.db", ledger, 3, stamp);
    }
    return r;
}

/* The genesis balances: the validator's own (inline, when list is NULL:
 * its ADN on every chain, and on delta its --asset ones too), or n of them
 * in a balances file that write_balances writes. */
typedef struct {
    genesis_balance_t validator;                     /* its ADN */
    genesis_balance_t delta_own[1 + INIT_ASSETS_MAX]; /* its ADN and --asset ones, sorted */
    size_t n_delta_own;
    genesis_balance_t *list;   /* sorted, the validator's included; NULL: inline */
    size_t n;
} init_balances_t;

/* The built-in programs (common/node/gov/program.h) as g's genesis
 * programs, each program file as compact JSON. Return an exit code. */
static int genesis_programs(genesis_t *g)
{
    if (gov_n_builtins > GENESIS_MAX_PROGRAMS) {
        fprintf(stderr, "adnet init: %zu built-in programs, a genesis holds %d\n",
                gov_n_builtins, GENESIS_MAX_PROGRAMS);
        return ADNET_EXIT_SYSTEM;
    }
    for (size_t i = 0; i < gov_n_builtins; i++) {
        const gov_builtin_t *bi = &gov_builtins[i];
        genesis_program_t *gp = &g->programs[i];
        json_t *j = json_loads(bi->json, 0, NULL);
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        const char *policy = gov_policy_name(bi->policy);
        bool fits = text && policy && strlen(text) < sizeof(gp->json);
        if (fits) {
            snprintf(gp->json, sizeof(gp->json), "%s", text);
            snprintf(gp->policy, sizeof(gp->policy), "%s", policy);
        }
        free(text);
        json_decref(j);
        if (!fits) {
            fprintf(stderr, "adnet init: the built-in program %s cannot go in a genesis (not "
                    "JSON, no policy, or over %d bytes)\n", bi->name, GENESIS_PROGRAM_JSON_MAX);
            return ADNET_EXIT_SYSTEM;
        }
    }
    g->n_programs = gov_n_builtins;
    return ADNET_EXIT_OK;
}

static void genesis_fill(genesis_t *g, const char *chain, const keys_pair_t *key, uint64_t now,
                         const init_governors_t *gov, init_balances_t *b)
{
    memset(g, 0, sizeof(*g));
    snprintf(g->chain_id, sizeof(g->chain_id), "adnet-%s-%s", ADNET_NETWORK, chain);
    snprintf(g->chain, sizeof(g->chain), "%s", chain);
    snprintf(g->network, sizeof(g->network), "%s", ADNET_NETWORK);
    g->genesis_time_ms = now;
    g->protocol_version = 1;
    genesis_params_default(g);
    /* Each chain's own params (alpha-worker/alpha_chain.h, delta-worker/delta_chain.h):
     * on a devnet the node's own key mints on alpha; delta unbonds in 10 blocks. */
    if (strcmp(chain, "alpha") == 0)
        genesis_param_set_hex(g, "minter", key->pk, BLOCK_KEY_LEN);
    else
        genesis_param_set_u64(g, "unbonding_blocks", 10);
    g->n_validators = 1;
    snprintf(g->validators[0].name, sizeof(g->validators[0].name), "validator");
    memcpy(g->validators[0].pk, key->pk, BLOCK_KEY_LEN);
    g->validators[0].power = 10;
    /* A devnet's one node governs too, unless init made governor keys;
     * testnets list their governors. */
    g->n_governors = gov->n;
    memcpy(g->governors, gov->pk, gov->n * sizeof(gov->pk[0]));
    if (b->list)
        return;
    /* Delta's accounts hold and trade any asset; alpha moves only its fee asset. */
    bool delta = strcmp(chain, "delta") == 0;
    g->n_balances = delta ? b->n_delta_own : 1;
    g->balances = delta ? b->delta_own : &b->validator;
}

/* Write b's list as <home>/<chain>/balances.jsonl and name it in g. */
static int write_balances(const char *home, genesis_t *g, const init_balances_t *b)
{
    char path[PATH_MAX], hex[2 * BLOCK_HASH_LEN + 1];
    int r;
    if (fs_path(path, sizeof(path), "%s/%s/%s", home, g->chain, GENESIS_BALANCES_FILE) < 0)
        return ADNET_EXIT_CONFIG;
    if ((r = genesis_balances_write(path, b->list, b->n, 0, g->balances_hash)) < 0)
        return fail("cannot write", path, r);
    snprintf(g->balances_file, sizeof(g->balances_file), "%s", GENESIS_BALANCES_FILE);
    g->n_balances = b->n;
    hex_encode(hex, g->balances_hash, BLOCK_HASH_LEN);
    printf("wrote balances    %s (%zu balances, BLAKE2b-256 %s)\n", path, b->n, hex);
    return ADNET_EXIT_OK;
}

/* Write g as <home>/<chain>/genesis.json (after its balances file, if
 * any) and say so. Return an exit code. */
static int write_genesis(const char *home, genesis_t *g, const init_balances_t *b)
{
    char path[PATH_MAX], hex[2 * BLOCK_HASH_LEN + 1];
    int r, rc;
    if (b->list && (rc = write_balances(home, g, b)) != ADNET_EXIT_OK)
        return rc;
    if (fs_path(path, sizeof(path), "%s/%s/genesis.json", home, g->chain) < 0)
        return ADNET_EXIT_CONFIG;
    if ((r = genesis_save(g, path, 0)) < 0)
        return fail("cannot write", path, r);
    hex_encode(hex, g->hash, BLOCK_HASH_LEN);
    printf("wrote genesis     %s (chain %s, hash %s)\n", path, g->chain_id, hex);
    return ADNET_EXIT_OK;
}

/* Both genesis files; delta's names alpha's. Return an exit code. */
static int write_genesis_files(const char *home, const keys_pair_t *key, uint64_t now,
                               const init_governors_t *gov, init_balances_t *b)
{
    genesis_t *alpha = malloc(sizeof(*alpha)), *delta = malloc(sizeof(*delta));
    int rc = ADNET_EXIT_SYSTEM;

    if (!alpha || !delta)
        goto out;
    genesis_fill(alpha, "alpha", key, now, gov, b);
    if ((rc = genesis_programs(alpha)) != ADNET_EXIT_OK ||
        (rc = write_genesis(home, alpha, b)) != ADNET_EXIT_OK)
        goto out;
    genesis_fill(delta, "delta", key, now, gov, b);
    if ((rc = genesis_programs(delta)) != ADNET_EXIT_OK)
        goto out;
    delta->has_peer_genesis = 1;
    snprintf(delta->peer_chain, sizeof(delta->peer_chain), "alpha");
    memcpy(delta->peer_genesis_hash, alpha->hash, BLOCK_HASH_LEN);
    rc = write_genesis(home, delta, b);
out:
    free(alpha);
    free(delta);
    return rc;
}

/* The home's folders, with --force its old files moved aside, and
 * adnet.yaml. */
static int init_home(const char *home, bool force, uint64_t now)
{
    static const char *const dirs[] = { "", "/keys", "/alpha", "/delta", "/run" };
    char path[PATH_MAX], stamp[32];
    time_t t = (time_t)(now / 1000);
    struct tm tm;
    int r;

    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        if (fs_path(path, sizeof(path), "%s%s", home, dirs[i]) < 0)
            return ADNET_EXIT_CONFIG;
        if ((r = fs_mkdir_p(path, 0700)) < 0)
            return fail("cannot create", path, r);
    }
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", gmtime_r(&t, &tm));
    if (force && (r = move_old_home(home, stamp)) < 0)
        return fail("cannot move the old files aside in", home, r);
    fs_path(path, sizeof(path), "%s/adnet.yaml", home);
    if ((r = config_write_default(path, node_chains, N_NODE_CHAINS)) < 0)
        return fail("cannot write", path, r);
    printf("wrote config      %s\n", path);
    return ADNET_EXIT_OK;
}

/* Read and check the operator's balances (with the validator's own) before
 * anything is written. Return an exit code. */
static int read_balances(const char *file, init_balances_t *b)
{
    char err[GENESIS_ERR_MAX];
    int r = genesis_balances_import(file, &b->validator, 1, &b->list, &b->n, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "adnet init: --balances %s\n", err);
        return r == -EINVAL || r == -ENOENT ? ADNET_EXIT_CONFIG : ADNET_EXIT_SYSTEM;
    }
    return ADNET_EXIT_OK;
}

/* Add the --asset SYMBOL=AMOUNT entries of o to the validator's delta
 * balances in b, checked. Return an exit code. */
static int read_assets(const init_opts_t *o, init_balances_t *b)
{
    b->delta_own[0] = b->validator;
    b->n_delta_own = 1;
    if (o->nassets > 0 && o->balances) {
        fprintf(stderr, "adnet init: --asset and --balances do not mix: put the validator's "
                "other assets in the balances file\n");
        return ADNET_EXIT_CONFIG;
    }
    for (size_t i = 0; i < o->nassets; i++) {
        const char *arg = o->assets[i], *eq = strchr(arg, '=');
        genesis_balance_t *nb = &b->delta_own[b->n_delta_own];
        size_t len = eq ? (size_t)(eq - arg) : 0;
        memcpy(nb->owner, b->validator.owner, sizeof(nb->owner));
        snprintf(nb->asset, sizeof(nb->asset), "%.*s", (int)(len <= TX_ASSET_MAX ? len : 0), arg);
        if (!eq || len > TX_ASSET_MAX || !tx_asset_is_valid(nb->asset) ||
            cliopt_parse_u64(eq + 1, &nb->amount) < 0 || nb->amount == 0 ||
            nb->amount > INT64_MAX) {
            fprintf(stderr, "adnet init: --asset \"%s\": expected SYMBOL=AMOUNT, SYMBOL 1 to %d "
                    "of A-Z 0-9 - and AMOUNT 1 to 2^63-1, e.g. USD=1000000\n", arg, TX_ASSET_MAX);
            return ADNET_EXIT_CONFIG;
        }
        for (size_t j = 0; j < b->n_delta_own; j++) {
            if (strcmp(b->delta_own[j].asset, nb->asset) == 0) {
                fprintf(stderr, "adnet init: --asset %s: the validator %s %s already\n", arg,
                        j == 0 ? "is given 10^12 of the fee asset" : "was given", nb->asset);
                return ADNET_EXIT_CONFIG;
            }
        }
        b->n_delta_own++;
    }
    qsort(b->delta_own, b->n_delta_own, sizeof(b->delta_own[0]),
          (int (*)(const void *, const void *))genesis_balance_cmp);
    return ADNET_EXIT_OK;
}

/* The validator key: the one in path if there is one (never replaced;
 * refused if it cannot be read as a key), else a new one, saved once the
 * home is made (*fresh). Return an exit code. */
static int get_key(const char *path, keys_pair_t *key, bool *fresh)
{
    char err[KEYS_ERR_MAX];
    int r;
    *fresh = !fs_exists(path);
    if (*fresh && (r = keys_generate(key, "validator")) < 0)
        return fail("cannot generate", "the validator key", r);
    if (!*fresh && (r = keys_load(key, path, err)) < 0) {
        fprintf(stderr, "adnet init: the existing validator key cannot be used: %s. init never "
                "replaces a key: fix it, or move it away yourself\n", err);
        return r == -EPERM || r == -EINVAL ? ADNET_EXIT_CONFIG : ADNET_EXIT_SYSTEM;
    }
    return ADNET_EXIT_OK;
}

/* --governors n: keys gov1..govN of home, each the one in its file if
 * there is one (never replaced; refused if it cannot be read as a key),
 * else a new one, saved once the home is made (fresh[i]). Return an exit
 * code. */
static int get_governor_keys(const char *home, size_t n, keys_pair_t *keys, bool *fresh)
{
    char path[PATH_MAX], name[32], err[KEYS_ERR_MAX];
    int r;
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "gov%zu", i + 1);
        if (fs_path(path, sizeof(path), "%s/keys/%s.json", home, name) < 0) {
            fprintf(stderr, "adnet init: home path too long\n");
            return ADNET_EXIT_CONFIG;
        }
        fresh[i] = !fs_exists(path);
        if (fresh[i] && (r = keys_generate(&keys[i], name)) < 0)
            return fail("cannot generate", path, r);
        if (!fresh[i] && (r = keys_load(&keys[i], path, err)) < 0) {
            fprintf(stderr, "adnet init: the existing governor key %s cannot be used: %s. init "
                    "never replaces a key: fix it, or move it away yourself\n", path, err);
            return r == -EPERM || r == -EINVAL ? ADNET_EXIT_CONFIG : ADNET_EXIT_SYSTEM;
        }
        for (size_t k = 0; k < i; k++)
            if (memcmp(keys[k].pk, keys[i].pk, BLOCK_KEY_LEN) == 0) {
                fprintf(stderr, "adnet init: %s is the same key as gov%zu: a governor is "
                        "listed once\n", path, k + 1);
                return ADNET_EXIT_CONFIG;
            }
    }
    return ADNET_EXIT_OK;
}

/* Save the fresh governor keys (saying so) and list every one in *gov. */
static int save_governor_keys(const char *home, size_t n, const keys_pair_t *keys,
                              const bool *fresh, init_governors_t *gov)
{
    char path[PATH_MAX], hex[2 * BLOCK_KEY_LEN + 1];
    int r;
    for (size_t i = 0; i < n; i++) {
        fs_path(path, sizeof(path), "%s/keys/%s.json", home, keys[i].name);
        if (fresh[i] && (r = keys_save(&keys[i], path, 0)) < 0)
            return fail("cannot write", path, r);
        hex_encode(hex, keys[i].pk, BLOCK_KEY_LEN);
        printf(fresh[i] ? "wrote governor    %s (mode 0600, public key %s)\n"
                        : "kept governor     %s (unchanged, public key %s)\n", path, hex);
        memcpy(gov->pk[i], keys[i].pk, BLOCK_KEY_LEN);
    }
    gov->n = n;
    return ADNET_EXIT_OK;
}

/* Refuse a home in use: take its lock for as long as init writes (a
 * supervisor started meanwhile finds it held). Return an exit code. */
static int lock_home(const char *home, int *fd)
{
    pid_t holder = 0;
    int r = homelock_take(home, fd, &holder);
    if (r == -EBUSY) {
        fprintf(stderr, "adnet init: %s is in use (pid %ld holds %s/run/%s): stop the node "
                "first\n", home, (long)holder, home, HOMELOCK_FILE);
        return ADNET_EXIT_CONFIG;
    }
    return r < 0 ? fail("cannot lock", home, r) : ADNET_EXIT_OK;
}

/* Say what the operator must do now, the key's backup first. */
static void print_next_steps(const char *home, const char *key_path)
{
    printf("\nBack up your key now: %s is this validator's identity,\n"
           "and nothing can make it again. Keep a copy offline, never share it:\n"
           "  adnet keys export validator FILE --home %s\n"
           "(docs/operations.md, \"Back up the validator key\").\n", key_path, home);
    printf("\nStart the node with:  adnet run --home %s\n", home);
}

int cmd_init(const char *home, const init_opts_t *o)
{
    char path[PATH_MAX], key_path[PATH_MAX], hex[2 * BLOCK_HASH_LEN + 1];
    init_balances_t b;
    init_governors_t *gov = calloc(1, sizeof(*gov));
    keys_pair_t key, *gkeys = calloc(o->governors ? o->governors : 1, sizeof(*gkeys));
    bool fresh = false, *gfresh = calloc(o->governors ? o->governors : 1, sizeof(*gfresh));
    int r, rc, lock_fd = -1;

    memset(&b, 0, sizeof(b));
    memset(&key, 0, sizeof(key));
    if (!gov || !gkeys || !gfresh) {
        rc = ADNET_EXIT_SYSTEM;
        goto out;
    }
    if (o->governors > GENESIS_MAX_GOVERNORS) {
        fprintf(stderr, "adnet init: --governors: at most %d\n", GENESIS_MAX_GOVERNORS);
        rc = ADNET_EXIT_CONFIG;
        goto out;
    }
    if (fs_path(path, sizeof(path), "%s/adnet.yaml", home) < 0 ||
        fs_path(key_path, sizeof(key_path), "%s/keys/validator.json", home) < 0) {
        fprintf(stderr, "adnet init: home path too long\n");
        rc = ADNET_EXIT_CONFIG;
        goto out;
    }
    if (fs_exists(path) && !o->force) {
        fprintf(stderr, "adnet init: %s already holds a node (%s exists); use --force to "
                "re-initialize it (the key is kept; old files are moved aside)\n", home, path);
        rc = ADNET_EXIT_CONFIG;
        goto out;
    }
    if ((rc = get_key(key_path, &key, &fresh)) != ADNET_EXIT_OK ||
        (rc = get_governor_keys(home, o->governors, gkeys, gfresh)) != ADNET_EXIT_OK)
        goto out;
    memcpy(b.validator.owner, key.pk, BLOCK_KEY_LEN);
    snprintf(b.validator.asset, sizeof(b.validator.asset), "%s", GENESIS_DEFAULT_FEE_ASSET);
    b.validator.amount = GENESIS_SUPPLY;
    uint64_t now = clock_wall_ms();
    if ((rc = read_assets(o, &b)) != ADNET_EXIT_OK ||
        (o->balances && (rc = read_balances(o->balances, &b)) != ADNET_EXIT_OK) ||
        (rc = lock_home(home, &lock_fd)) != ADNET_EXIT_OK ||
        (rc = init_home(home, o->force, now)) != ADNET_EXIT_OK)
        goto out;
    hex_encode(hex, key.pk, BLOCK_KEY_LEN);
    if (fresh && (r = keys_save(&key, key_path, 0)) < 0) {
        rc = fail("cannot write", key_path, r);
        goto out;
    }
    printf(fresh ? "wrote key         %s (mode 0600, public key %s)\n"
                 : "kept key          %s (unchanged, public key %s)\n", key_path, hex);
    if (o->governors) {
        if ((rc = save_governor_keys(home, o->governors, gkeys, gfresh, gov)) != ADNET_EXIT_OK)
            goto out;
    } else {
        gov->n = 1;
        memcpy(gov->pk[0], key.pk, BLOCK_KEY_LEN);
    }
    if ((rc = write_genesis_files(home, &key, now, gov, &b)) == ADNET_EXIT_OK)
        print_next_steps(home, key_path);
out:
    if (lock_fd >= 0)
        close(lock_fd);
    keys_wipe(&key);
    for (size_t i = 0; gkeys && i < (o->governors ? o->governors : 1); i++)
        keys_wipe(&gkeys[i]);
    free(gkeys);
    free(gfresh);
    free(gov);
    free(b.list);
    return rc;
}
